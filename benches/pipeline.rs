//! Pipelines, side by side with what they replace.
//!
//! (a) Throughput: `head -c SIZE /dev/zero | cat | cat | cat`, wired by
//!     procctl's `Pipeline` against the same line wired by `/bin/sh` itself
//!     (`sh -c '...'`, started by procctl). Both sides do the same work:
//!     the same four programs, the same four pipe hops, and this process
//!     drains the last member's stdout the same way (1 MiB reads, bytes
//!     counted). Target: procctl at least 0.97× the shell's speed.
//! (b) Start-up: spawning and waiting an N-member pipeline of `true`
//!     (N = 3, 10) against N single `Command::status` calls of `true`.
//!     Target: at most 1.05× the single spawns' time.
//!
//! Each part runs criterion rows and then an interleaved pass: every round
//! times both sides back to back, and the ratio reported is the median
//! over rounds of (procctl / other in the same round), so load that comes
//! and goes on a shared machine cancels out.
//!
//! `cargo bench --bench pipeline`. Environment:
//!
//! - `PROCCTL_BENCH_MIB`: the size pushed through the pipeline in the
//!   interleaved pass (default 1024); the criterion rows push at most
//!   128 MiB per iteration, so they stay a few seconds long;
//! - `PROCCTL_BENCH_ROUNDS`: interleaved rounds (default 5; the spawn rows
//!   run three times as many, 300 ms a side each);
//! - `PROCCTL_BENCH_CRITERION=0`: only the interleaved pass;
//! - `PROCCTL_BENCH_ONLY=cat` or `=spawn`: one part of the interleaved pass;
//! - `PROCCTL_BENCH_VERBOSE=1`: every round's times;
//! - `PROCCTL_BENCH_FAST=1`: a smoke test (16 MiB, 3 rounds, very short
//!   criterion rows).
//!
//! Besides wall time, each interleaved row reports the ratio of the CPU
//! time the children used (`getrusage(RUSAGE_CHILDREN)`; a reaped `sh`
//! brings its own children's): on a loaded machine wall time swings with
//! the load, the work done does not.

#[cfg(unix)]
mod imp {
    use std::hint::black_box;
    use std::io::Read;
    use std::time::{Duration, Instant};

    use criterion::Criterion;
    use procctl::proc::{Command, Pipeline, Stdio};

    struct Config {
        mib: usize,
        rounds: usize,
        criterion: bool,
        fast: bool,
    }

    fn env_usize(name: &str) -> Option<usize> {
        std::env::var(name).ok()?.parse().ok()
    }

    /// Reads `r` to the end in 1 MiB reads; the number of bytes.
    fn drain(mut r: impl Read, buf: &mut [u8]) -> usize {
        let mut total = 0;
        loop {
            match r.read(buf) {
                Ok(0) => return total,
                Ok(n) => total += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    fn procctl_cats(bytes: usize, buf: &mut [u8]) {
        let child = Command::new("head")
            .args(["-c", &bytes.to_string(), "/dev/zero"])
            .pipe(Command::new("cat"))
            .pipe(Command::new("cat"))
            .pipe(Command::new("cat"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the pipeline");
        let got = drain(child.take_stdout().unwrap(), buf);
        assert!(child.wait().unwrap().success());
        assert_eq!(got, bytes);
    }

    fn shell_cats(bytes: usize, buf: &mut [u8]) {
        let child = Command::new("/bin/sh")
            .args([
                "-c",
                &format!("head -c {bytes} /dev/zero | cat | cat | cat"),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let got = drain(child.take_stdout().unwrap(), buf);
        assert!(child.wait().unwrap().success());
        assert_eq!(got, bytes);
    }

    fn procctl_pipeline_of_true(n: usize) {
        let status = Pipeline::new((0..n).map(|_| Command::new("true")))
            .status()
            .unwrap();
        assert!(status.success());
        black_box(status);
    }

    fn single_spawns_of_true(n: usize) {
        for _ in 0..n {
            assert!(Command::new("true").status().unwrap().success());
        }
    }

    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    }

    /// User + system CPU time of our reaped children so far (a reaped
    /// `sh` brings its own reaped children's along), in seconds.
    fn children_cpu() -> f64 {
        // SAFETY: getrusage fills the struct it is given.
        let ru = unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
            ru
        };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        secs(ru.ru_utime) + secs(ru.ru_stime)
    }

    /// Medians over rounds: wall time of `a`, of `b`, of the per-round
    /// ratio a / b, and of the per-round ratio of the CPU time `a`'s and
    /// `b`'s children used.
    struct Interleaved {
        a: f64,
        b: f64,
        ratio: f64,
        cpu_ratio: f64,
    }

    /// Times `a` and `b` back to back for `rounds` rounds, each at least
    /// `slice` long (and at least one call).
    fn interleave(
        rounds: usize,
        slice: Duration,
        mut a: impl FnMut(),
        mut b: impl FnMut(),
    ) -> Interleaved {
        let time = |f: &mut dyn FnMut()| {
            let cpu = children_cpu();
            let start = Instant::now();
            let mut n = 0u32;
            while n == 0 || start.elapsed() < slice {
                f();
                n += 1;
            }
            let wall = start.elapsed().as_secs_f64() / f64::from(n);
            (wall, (children_cpu() - cpu) / f64::from(n))
        };
        let (mut ta, mut tb, mut ratios, mut cpu) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            // Alternate which side goes first, so neither always runs on a
            // machine the other has just warmed (or loaded).
            let (x, y) = if round % 2 == 0 {
                let x = time(&mut a);
                (x, time(&mut b))
            } else {
                let y = time(&mut b);
                (time(&mut a), y)
            };
            if std::env::var_os("PROCCTL_BENCH_VERBOSE").is_some() {
                eprintln!(
                    "round {round}: {:.4} s / {:.4} s = {:.3} (cpu {:.3} s / {:.3} s)",
                    x.0,
                    y.0,
                    x.0 / y.0,
                    x.1,
                    y.1
                );
            }
            ta.push(x.0);
            tb.push(y.0);
            ratios.push(x.0 / y.0);
            cpu.push(x.1 / y.1);
        }
        Interleaved {
            a: median(&mut ta),
            b: median(&mut tb),
            ratio: median(&mut ratios),
            cpu_ratio: median(&mut cpu),
        }
    }

    fn criterion_rows(c: &mut Criterion, cfg: &Config) {
        let mib = cfg.mib.min(128);
        let bytes = mib << 20;
        let mut buf = vec![0u8; 1 << 20];
        let mut g = c.benchmark_group(format!("cat3_{mib}MiB"));
        g.sample_size(10);
        let (warm, measure) = if cfg.fast {
            (Duration::from_millis(50), Duration::from_millis(200))
        } else {
            (Duration::from_millis(500), Duration::from_secs(3))
        };
        g.warm_up_time(warm).measurement_time(measure);
        g.throughput(criterion::Throughput::Bytes(bytes as u64));
        g.bench_function("procctl_pipeline", |b| {
            b.iter(|| procctl_cats(bytes, &mut buf))
        });
        g.bench_function("sh_c_pipeline", |b| b.iter(|| shell_cats(bytes, &mut buf)));
        g.finish();

        for n in [3usize, 10] {
            let mut g = c.benchmark_group(format!("spawn_wait_{n}_true"));
            g.sample_size(10)
                .warm_up_time(warm)
                .measurement_time(measure);
            g.bench_function("procctl_pipeline", |b| {
                b.iter(|| procctl_pipeline_of_true(n))
            });
            g.bench_function("single_spawns", |b| b.iter(|| single_spawns_of_true(n)));
            g.finish();
        }
    }

    pub fn main() {
        let fast = std::env::var("PROCCTL_BENCH_FAST").as_deref() == Ok("1");
        let cfg = Config {
            mib: env_usize("PROCCTL_BENCH_MIB").unwrap_or(if fast { 16 } else { 1024 }),
            rounds: env_usize("PROCCTL_BENCH_ROUNDS").unwrap_or(if fast { 3 } else { 5 }),
            criterion: std::env::var("PROCCTL_BENCH_CRITERION").as_deref() != Ok("0"),
            fast,
        };
        if cfg.criterion {
            let mut c = Criterion::default().configure_from_args();
            criterion_rows(&mut c, &cfg);
            c.final_summary();
        }
        let only = std::env::var("PROCCTL_BENCH_ONLY").unwrap_or_default();
        println!(
            "\nInterleaved, {} rounds (medians; ratios are medians of per-round ratios)\n",
            cfg.rounds
        );
        println!(
            "| case | procctl | other | procctl / other, wall | procctl / other, children's CPU time |"
        );
        println!("|---|---|---|---|---|");
        if only != "spawn" {
            cats_row(&cfg);
        }
        if only != "cat" {
            spawn_rows(&cfg);
        }
    }

    fn cats_row(cfg: &Config) {
        let bytes = cfg.mib << 20;
        let mut buf_a = vec![0u8; 1 << 20];
        let mut buf_b = vec![0u8; 1 << 20];
        let r = interleave(
            cfg.rounds,
            Duration::ZERO,
            || procctl_cats(bytes, &mut buf_a),
            || shell_cats(bytes, &mut buf_b),
        );
        let mib = cfg.mib as f64;
        println!(
            "| {} MiB through head \\| cat \\| cat \\| cat, vs sh -c | {:.0} MiB/s | {:.0} MiB/s | speed {:.3}× (target ≥ 0.97×) | {:.3}× |",
            cfg.mib,
            mib / r.a,
            mib / r.b,
            1.0 / r.ratio,
            r.cpu_ratio
        );
    }

    fn spawn_rows(cfg: &Config) {
        let slice = Duration::from_millis(if cfg.fast { 20 } else { 300 });
        for n in [3usize, 10] {
            let r = interleave(
                cfg.rounds * 3,
                slice,
                || procctl_pipeline_of_true(n),
                || single_spawns_of_true(n),
            );
            println!(
                "| spawn + wait {n} × true: pipeline vs {n} single spawns | {:.0} µs | {:.0} µs | time {:.3}× (target ≤ 1.05×) | {:.3}× |",
                r.a * 1e6,
                r.b * 1e6,
                r.ratio,
                r.cpu_ratio
            );
        }
    }
}

fn main() {
    #[cfg(unix)]
    imp::main();
    #[cfg(not(unix))]
    println!("this benchmark pipes Unix programs (head, cat, true, sh): Unix only");
}
