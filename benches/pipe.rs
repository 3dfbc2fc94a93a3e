//! Pipe throughput and `pipe::copy`.
//!
//! - `pipe_1GiB/std_default`: 1 GiB in 64 KiB writes from a writer thread
//!   through std's pipe at its default capacity (64 KiB on Linux), read
//!   into a 1 MiB buffer;
//! - `pipe_1GiB/procctl_1MiB`: the same after `set_capacity(1 MiB)`;
//! - `copy_256MiB/splice`: a file (in the page cache) into a pipe with
//!   `pipe::copy`, drained by a thread doing `pipe::copy` into `/dev/null`:
//!   `splice` on Linux, both hops;
//! - `copy_256MiB/read_write`: the same with read/write loops through a
//!   64 KiB buffer.
//!
//! Both copy cases use a pipe of 1 MiB (`set_capacity`), so that neither is
//! bound by thread wake-ups on a 64 KiB pipe.

#[cfg(unix)]
mod imp {
    use std::fs::File;
    use std::io::{Read, Write};
    use std::path::PathBuf;
    use std::thread;
    use std::time::Duration;

    use criterion::{Criterion, SamplingMode, Throughput, criterion_group};
    use procctl::pipe::{self, PipeExt, PipeReader, PipeWriter};

    const GIB: usize = 1 << 30;
    const WRITE: usize = 64 << 10;

    /// Sends `total` bytes in `WRITE`-sized writes from a thread; reads them
    /// here into a 1 MiB buffer until EOF.
    fn transfer(mut reader: PipeReader, mut writer: PipeWriter, total: usize) -> usize {
        let sender = thread::spawn(move || {
            let chunk = vec![0x5au8; WRITE];
            for _ in 0..total / WRITE {
                writer.write_all(&chunk).unwrap();
            }
        });
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0;
        loop {
            match reader.read(&mut buf).unwrap() {
                0 => break,
                n => got += n,
            }
        }
        sender.join().unwrap();
        assert_eq!(got, total);
        got
    }

    fn throughput(c: &mut Criterion) {
        let mut group = c.benchmark_group("pipe_1GiB");
        group
            .throughput(Throughput::Bytes(GIB as u64))
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(8));
        group.bench_function("std_default", |b| {
            b.iter(|| {
                let (r, w) = std::io::pipe().unwrap();
                transfer(r, w, GIB)
            })
        });
        group.bench_function("procctl_1MiB", |b| {
            b.iter(|| {
                let (r, w) = pipe::pipe().unwrap();
                w.set_capacity(1 << 20).unwrap();
                transfer(r, w, GIB)
            })
        });
        group.finish();
    }

    const FILE_SIZE: usize = 256 << 20;

    fn source_file() -> PathBuf {
        let path = std::env::temp_dir().join(format!("procctl-bench-{}", std::process::id()));
        let chunk: Vec<u8> = (0..WRITE).map(|i| i as u8).collect();
        let mut f = File::create(&path).unwrap();
        for _ in 0..FILE_SIZE / WRITE {
            f.write_all(&chunk).unwrap();
        }
        path
    }

    fn read_write_loop(mut from: impl Read, mut to: impl Write) -> u64 {
        let mut buf = vec![0u8; WRITE];
        let mut total = 0;
        loop {
            match from.read(&mut buf).unwrap() {
                0 => return total,
                n => {
                    to.write_all(&buf[..n]).unwrap();
                    total += n as u64;
                }
            }
        }
    }

    fn big_pipe() -> (PipeReader, PipeWriter) {
        let (r, w) = pipe::pipe().unwrap();
        w.set_capacity(1 << 20).unwrap();
        (r, w)
    }

    fn copy(c: &mut Criterion) {
        let path = source_file();
        let mut group = c.benchmark_group("copy_256MiB");
        group
            .throughput(Throughput::Bytes(FILE_SIZE as u64))
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5));
        group.bench_function("splice", |b| {
            b.iter(|| {
                let (mut r, mut w) = big_pipe();
                let drain = thread::spawn(move || {
                    let mut null = File::create("/dev/null").unwrap();
                    pipe::copy(&mut r, &mut null).unwrap()
                });
                let mut file = File::open(&path).unwrap();
                let sent = pipe::copy(&mut file, &mut w).unwrap();
                drop(w);
                assert_eq!(drain.join().unwrap(), sent);
                sent
            })
        });
        group.bench_function("read_write", |b| {
            b.iter(|| {
                let (r, w) = pipe::pipe().unwrap();
                let drain =
                    thread::spawn(move || read_write_loop(r, File::create("/dev/null").unwrap()));
                let sent = read_write_loop(File::open(&path).unwrap(), w);
                assert_eq!(drain.join().unwrap(), sent);
                sent
            })
        });
        group.finish();
        std::fs::remove_file(&path).unwrap();
    }

    criterion_group!(benches, throughput, copy);
}

#[cfg(unix)]
criterion::criterion_main!(imp::benches);

#[cfg(not(unix))]
fn main() {
    println!("this benchmark is Unix only");
}
