//! What the safe `fork` costs beside a raw one: procctl's `fork(|| 0)`
//! and `Child::wait`, against libc `fork`, `_exit` and `waitpid`, nix's
//! `fork` and `waitpid`, and the raw fork plus `pidfd_open` and `close`
//! (the pidfd every procctl `Child` holds); also `thread_count()` alone
//! (the check the safe `fork` makes every time).
//!
//! Criterion times each case; then an interleaved pass runs the cases in
//! short alternating slices and prints, per case, the median over rounds
//! of (case / raw fork), so drift on a busy machine hits all alike.
//! `PROCCTL_BENCH_FAST=1` runs each case very briefly (a smoke test),
//! `PROCCTL_BENCH_CRITERION=0` runs only the interleaved pass.

#[cfg(target_os = "linux")]
mod imp {
    use std::collections::HashMap;
    use std::hint::black_box;
    use std::io::Write;
    use std::sync::{Arc, Mutex, Weak};
    use std::time::{Duration, Instant};

    use criterion::Criterion;
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::ForkResult;

    fn procctl_fork() {
        let child = procctl::proc::fork(|| 0).expect("fork");
        assert_eq!(child.wait().expect("wait").code(), Some(0));
    }

    fn raw_wait(pid: libc::pid_t) {
        let mut status = 0;
        // SAFETY: waiting for our own child.
        let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(ret, pid);
        assert_eq!(status, 0, "child failed");
    }

    fn raw_fork() -> libc::pid_t {
        // SAFETY: the bench is single-threaded; the child only calls _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: _exit is async-signal-safe.
            unsafe { libc::_exit(0) }
        }
        assert!(pid > 0, "fork failed");
        pid
    }

    fn raw() {
        raw_wait(raw_fork());
    }

    /// The raw fork plus what holding a pidfd costs: `pidfd_open` after
    /// the fork, `close` after the wait.
    fn raw_pidfd() {
        let pid = raw_fork();
        // SAFETY: pidfd_open of our own unreaped child.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        assert!(fd >= 0, "pidfd_open failed");
        raw_wait(pid);
        // SAFETY: closing the descriptor pidfd_open just gave us.
        unsafe { libc::close(fd as i32) };
    }

    /// What the design requires of any safe fork, written raw: a flush of
    /// stdout before the fork (or the child's flush would print the
    /// parent's pending output twice), the pidfd (so a recycled pid is
    /// never waited for or signalled), a per-child record on the heap
    /// that other reaping paths can reach, entered in and removed from a
    /// map under a lock, and, in the child, a flush of stdout after the
    /// closure (returning from it is like returning from `main`). In a
    /// process that forks, the first write to a page after a fork is a
    /// copy-on-write fault (in the child, and in the parent, where the
    /// previous fork left the page write-protected), and each of these
    /// touches its own page: this row is the floor the safe `fork` is
    /// measured against.
    fn raw_floor() {
        floor_parts(true, true);
    }

    /// The floor's stdout flushes alone (before the fork, and in the
    /// child after the closure).
    fn raw_flushes() {
        floor_parts(true, false);
    }

    /// The floor's pidfd and registered record alone.
    fn raw_record() {
        floor_parts(false, true);
    }

    /// The raw fork with the floor's flushes and/or its pidfd and record.
    fn floor_parts(flush: bool, record: bool) {
        type Records = Mutex<Option<HashMap<i32, Weak<(i32, i64)>>>>;
        static RECORDS: Records = Mutex::new(None);
        if flush {
            let _ = std::io::stdout().flush();
        }
        // SAFETY: the bench is single-threaded; the child flushes stdout
        // (its lock is free: no other thread exists) and calls _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            if flush {
                let _ = std::io::stdout().flush();
            }
            // SAFETY: _exit is async-signal-safe.
            unsafe { libc::_exit(0) }
        }
        assert!(pid > 0, "fork failed");
        if !record {
            raw_wait(pid);
            return;
        }
        // SAFETY: pidfd_open of our own unreaped child.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        assert!(fd >= 0, "pidfd_open failed");
        let record = Arc::new((pid, fd));
        RECORDS
            .lock()
            .unwrap()
            .get_or_insert_with(HashMap::new)
            .insert(pid, Arc::downgrade(&record));
        raw_wait(pid);
        RECORDS.lock().unwrap().as_mut().unwrap().remove(&pid);
        // SAFETY: closing the descriptor pidfd_open just gave us.
        unsafe { libc::close(fd as i32) };
        drop(record);
    }

    fn nix_fork() {
        // SAFETY: the bench is single-threaded; the child only calls _exit.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            // SAFETY: _exit is async-signal-safe.
            ForkResult::Child => unsafe { libc::_exit(0) },
            ForkResult::Parent { child } => {
                assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 0));
            }
        }
    }

    /// CPU time so far of this process and its waited-for children, in
    /// seconds: less disturbed than wall time by other load on the machine.
    fn cpu_time() -> f64 {
        let mut total = 0.0;
        for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
            // SAFETY: all-zero bytes is a valid rusage (plain integers).
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: getrusage writes one rusage.
            unsafe { libc::getrusage(who, &mut ru) };
            for t in [ru.ru_utime, ru.ru_stime] {
                total += t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
            }
        }
        total
    }

    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    }

    pub fn main() {
        let fast = std::env::var_os("PROCCTL_BENCH_FAST").is_some_and(|v| v == "1");
        let run_criterion = std::env::var_os("PROCCTL_BENCH_CRITERION").is_none_or(|v| v != "0");
        assert_eq!(
            procctl::proc::thread_count(),
            Some(1),
            "the safe fork needs a single-threaded bench"
        );

        if run_criterion {
            let mut c = Criterion::default().configure_from_args();
            {
                let mut g = c.benchmark_group("fork");
                if fast {
                    g.warm_up_time(Duration::from_millis(50))
                        .measurement_time(Duration::from_millis(200));
                }
                g.bench_function("procctl_fork_wait", |b| b.iter(procctl_fork));
                g.bench_function("raw_fork_exit_waitpid", |b| b.iter(raw));
                g.bench_function("raw_fork_pidfd_open", |b| b.iter(raw_pidfd));
                g.bench_function("nix_fork_waitpid", |b| b.iter(nix_fork));
                g.bench_function("raw_floor", |b| b.iter(raw_floor));
                g.bench_function("thread_count", |b| {
                    b.iter(|| black_box(procctl::proc::thread_count()))
                });
                g.finish();
            }
            c.final_summary();
        }

        // Interleaved: per round, a slice of each case; ratio per round.
        let rounds = if fast { 5 } else { 41 };
        let slice = Duration::from_millis(if fast { 5 } else { 40 });
        let cases: [(&str, fn()); 7] = [
            ("raw fork + _exit + waitpid", raw),
            ("raw fork + pidfd_open + close", raw_pidfd),
            ("nix fork + waitpid", nix_fork),
            ("raw + the two stdout flushes", raw_flushes),
            ("raw + pidfd + a registered record", raw_record),
            (
                "the floor: raw + the flushes + pidfd + a registered record",
                raw_floor,
            ),
            ("procctl fork(|| 0) + wait", procctl_fork),
        ];
        let mut per_round: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
        let mut cpu_round: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
        for _ in 0..rounds {
            for (i, (_, case)) in cases.iter().enumerate() {
                let cpu = cpu_time();
                let start = Instant::now();
                let mut n = 0u32;
                while start.elapsed() < slice {
                    case();
                    n += 1;
                }
                per_round[i].push(start.elapsed().as_secs_f64() / f64::from(n));
                cpu_round[i].push((cpu_time() - cpu) / f64::from(n));
            }
        }
        let ratio_to = |v: &[Vec<f64>], i: usize, base: usize| {
            median(
                &mut v[i]
                    .iter()
                    .zip(&v[base])
                    .map(|(x, b)| x / b)
                    .collect::<Vec<_>>(),
            )
        };
        let ratio = |v: &[Vec<f64>], i: usize| ratio_to(v, i, 0);
        println!(
            "\nInterleaved fork + wait ({rounds} rounds; medians; ratios are medians of \
             per-round ratios; CPU time is this process's and its children's)\n"
        );
        println!("| case | wall | vs raw fork | CPU | vs raw fork |");
        println!("|---|---|---|---|---|");
        for (i, (name, _)) in cases.iter().enumerate() {
            println!(
                "| {name} | {:.1} µs | {:.3}× | {:.1} µs | {:.3}× |",
                median(&mut per_round[i].clone()) * 1e6,
                ratio(&per_round, i),
                median(&mut cpu_round[i].clone()) * 1e6,
                ratio(&cpu_round, i),
            );
        }
        let (floor, ours) = (cases.len() - 2, cases.len() - 1);
        println!(
            "\nprocctl ÷ the floor: {:.3}× wall, {:.3}× CPU",
            ratio_to(&per_round, ours, floor),
            ratio_to(&cpu_round, ours, floor),
        );
        let n = 100_000;
        let start = Instant::now();
        for _ in 0..n {
            black_box(procctl::proc::thread_count());
        }
        println!(
            "\nthread_count(): {:.0} ns per call",
            start.elapsed().as_secs_f64() * 1e9 / f64::from(n)
        );
    }
}

#[cfg(target_os = "linux")]
fn main() {
    imp::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("fork bench: Linux only");
}
