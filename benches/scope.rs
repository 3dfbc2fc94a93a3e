//! What starting a child inside a `proc::Scope` costs: `/bin/true` spawned
//! and waited for with procctl's `Command`, plain and with
//! `.scope(&scope)` (`clone3(CLONE_INTO_CGROUP)`), and with the scope once
//! killed (the child joins through `cgroup.procs`, the `clone` fallback's
//! way); plus `Scope::new` + drop (mkdir, open, rmdir).
//!
//! Criterion times each case; then an interleaved pass runs the three
//! spawns in short alternating slices and prints the median over rounds
//! of (scope / plain), so drift on a busy machine hits both alike.
//! `PROCCTL_BENCH_FAST=1` runs each case very briefly (a smoke test).

#[cfg(target_os = "linux")]
mod imp {
    use std::time::{Duration, Instant};

    use criterion::Criterion;
    use procctl::proc::{Command, Scope};

    fn spawn_wait(scope: Option<&Scope>) {
        let mut cmd = Command::new("/bin/true");
        if let Some(s) = scope {
            cmd.scope(s);
        }
        let status = cmd.spawn().unwrap().wait().unwrap();
        assert!(status.success());
    }

    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    }

    pub fn main() {
        let fast = std::env::var_os("PROCCTL_BENCH_FAST").is_some_and(|v| v == "1");
        let scope = match Scope::new() {
            Ok(s) => s,
            Err(e) => {
                println!("scope bench: no writable cgroup v2 here ({e}); nothing measured");
                return;
            }
        };
        let killed = Scope::new().unwrap();
        killed.kill().unwrap();

        let mut c = Criterion::default().configure_from_args();
        {
            let mut g = c.benchmark_group("scope");
            if fast {
                g.warm_up_time(Duration::from_millis(50))
                    .measurement_time(Duration::from_millis(200));
            }
            g.bench_function("spawn_wait/plain", |b| b.iter(|| spawn_wait(None)));
            g.bench_function("spawn_wait/scope", |b| b.iter(|| spawn_wait(Some(&scope))));
            g.bench_function("spawn_wait/scope_after_kill", |b| {
                b.iter(|| spawn_wait(Some(&killed)))
            });
            g.bench_function("new_and_drop", |b| b.iter(|| drop(Scope::new().unwrap())));
            g.finish();
        }
        c.final_summary();

        // Interleaved: per round, a slice of each; ratio per round.
        let rounds = if fast { 5 } else { 41 };
        let slice = Duration::from_millis(if fast { 5 } else { 40 });
        let cases: [Option<&Scope>; 3] = [None, Some(&scope), Some(&killed)];
        let mut per_round: [Vec<f64>; 3] = Default::default();
        for _ in 0..rounds {
            for (i, case) in cases.iter().enumerate() {
                let start = Instant::now();
                let mut n = 0u32;
                while start.elapsed() < slice {
                    spawn_wait(*case);
                    n += 1;
                }
                per_round[i].push(start.elapsed().as_secs_f64() / f64::from(n));
            }
        }
        let plain = per_round[0].clone();
        let ratio = |i: usize| {
            let mut r: Vec<f64> = per_round[i]
                .iter()
                .zip(&plain)
                .map(|(x, p)| x / p)
                .collect();
            median(&mut r)
        };
        println!(
            "\nInterleaved /bin/true spawn+wait ({rounds} rounds; median of per-round ratios)\n"
        );
        println!("| case | median time | vs plain |");
        println!("|---|---|---|");
        for (i, name) in [
            "plain",
            "scope (CLONE_INTO_CGROUP)",
            "scope after kill (cgroup.procs)",
        ]
        .iter()
        .enumerate()
        {
            let t = median(&mut per_round[i].clone());
            println!("| {name} | {:.1} µs | {:.3}× |", t * 1e6, ratio(i));
        }
    }
}

#[cfg(target_os = "linux")]
fn main() {
    imp::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("scope bench: Linux only");
}
