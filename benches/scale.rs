//! Scale: 10,000 live children at once, then all reaped. Each child is a
//! tiny static program (C, written and built here with `cc -static -O2`;
//! `/bin/cat` where that fails, with a note) blocked reading one pipe that
//! every child shares as stdin. The parent spawns them all, closes the
//! pipe's write end (every read returns end of file, every child exits
//! with 0) and waits for each: with procctl (`Command::spawn`, whose
//! `Child` holds a pidfd, and `Child::wait`) and with std
//! (`std::process::Command`, `Child::wait`). Printed: spawn time, reap
//! time, and the parent's peak memory (`VmHWM`) for each, and procctl /
//! std as medians of per-round ratios.
//!
//! Each side runs in a fresh process (this program again, with
//! `PROCCTL_SCALE_SIDE` set), so each has its own `VmHWM`; rounds
//! alternate which side goes first. Before that the bench raises
//! `RLIMIT_NOFILE` (procctl holds one pidfd per child) and `RLIMIT_NPROC`
//! from soft to hard where needed, and says so; where the hard limit is too
//! low it says so and runs fewer children.
//!
//! Not criterion: one iteration is 20,000 process lifetimes. Environment:
//! `PROCCTL_SCALE_N` (children, default 10000), `PROCCTL_SCALE_ROUNDS`
//! (default 3).

#[cfg(target_os = "linux")]
mod imp {
    use std::os::fd::OwnedFd;
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    const PROGRAM: &str = r#"#include <unistd.h>
/* Blocks until its stdin reaches end of file; alarm: never outlives the bench. */
int main(void) {
    char c;
    alarm(120);
    return read(0, &c, 1) == 0 ? 0 : 1;
}
"#;

    /// Builds the blocked-reader program; `/bin/cat` where `cc` fails.
    fn program(dir: &Path) -> PathBuf {
        let src = dir.join("blocked.c");
        let exe = dir.join("blocked");
        std::fs::write(&src, PROGRAM).unwrap();
        let built = std::process::Command::new("cc")
            .args(["-static", "-O2", "-o"])
            .arg(&exe)
            .arg(&src)
            .status();
        match built {
            Ok(s) if s.success() => exe,
            other => {
                println!(
                    "note: `cc -static -O2` failed ({other:?}); the children are /bin/cat \
                     (dynamically linked: slower to start, same for both sides)"
                );
                PathBuf::from("/bin/cat")
            }
        }
    }

    /// Raises the soft limit of `resource` to at least `need` (at most the
    /// hard limit); returns the soft limit in force.
    fn raise(resource: libc::__rlimit_resource_t, name: &str, need: u64) -> u64 {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one rlimit.
        assert_eq!(unsafe { libc::getrlimit(resource, &mut lim) }, 0);
        if lim.rlim_cur >= need {
            return lim.rlim_cur;
        }
        let old = lim.rlim_cur;
        lim.rlim_cur = need.min(lim.rlim_max);
        // SAFETY: setrlimit reads one rlimit.
        if unsafe { libc::setrlimit(resource, &lim) } != 0 {
            println!(
                "note: cannot raise {name} from {old} ({}); continuing with {old}",
                std::io::Error::last_os_error()
            );
            return old;
        }
        println!(
            "note: {name} soft limit raised from {old} to {}",
            lim.rlim_cur
        );
        if lim.rlim_cur < need {
            println!(
                "note: {name} hard limit is {}, below the {need} wanted",
                lim.rlim_max
            );
        }
        lim.rlim_cur
    }

    fn status_kib(field: &str) -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// One side, in this (fresh) process: prints `spawn_s reap_s hwm_kib`.
    fn run_side(side: &str, n: usize, prog: &Path) {
        let (r, w) = std::io::pipe().unwrap();
        let stdin = || OwnedFd::from(r.try_clone().unwrap());
        let start = Instant::now();
        let (spawn, reap) = match side {
            "procctl" => {
                use procctl::proc::{Command, Stdio};
                let mut children = Vec::with_capacity(n);
                for _ in 0..n {
                    let child = Command::new(prog)
                        .stdin(Stdio::from(stdin()))
                        .stdout(Stdio::null())
                        .spawn()
                        .unwrap();
                    children.push(child);
                }
                let spawn = start.elapsed();
                drop(w);
                let start = Instant::now();
                for child in children {
                    assert!(child.wait().unwrap().success());
                }
                (spawn, start.elapsed())
            }
            "std" => {
                use std::process::{Command, Stdio};
                let mut children = Vec::with_capacity(n);
                for _ in 0..n {
                    let child = Command::new(prog)
                        .stdin(Stdio::from(stdin()))
                        .stdout(Stdio::null())
                        .spawn()
                        .unwrap();
                    children.push(child);
                }
                let spawn = start.elapsed();
                drop(w);
                let start = Instant::now();
                for mut child in children {
                    assert!(child.wait().unwrap().success());
                }
                (spawn, start.elapsed())
            }
            other => panic!("PROCCTL_SCALE_SIDE={other}"),
        };
        println!(
            "{} {} {}",
            spawn.as_secs_f64(),
            reap.as_secs_f64(),
            status_kib("VmHWM:")
        );
    }

    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    }

    pub fn main() {
        let env = |k: &str, d: usize| std::env::var(k).map_or(d, |v| v.parse().expect(k));
        let mut n = env("PROCCTL_SCALE_N", 10_000);
        let rounds = env("PROCCTL_SCALE_ROUNDS", 3);
        if let Ok(side) = std::env::var("PROCCTL_SCALE_SIDE") {
            let prog = PathBuf::from(std::env::var("PROCCTL_SCALE_PROGRAM").unwrap());
            return run_side(&side, n, &prog);
        }
        if std::env::args().any(|a| a == "--list") {
            return; // cargo bench -- --list: nothing to list
        }

        // procctl: one pidfd per child, plus a margin for the rest.
        let nofile = raise(libc::RLIMIT_NOFILE, "RLIMIT_NOFILE", n as u64 + 256);
        if nofile < n as u64 + 256 {
            n = (nofile as usize).saturating_sub(256);
            println!("note: running {n} children (one descriptor each, and a margin)");
        }
        raise(libc::RLIMIT_NPROC, "RLIMIT_NPROC", n as u64 + 1024);
        let pid_max: usize = std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .map_or(usize::MAX, |s| s.trim().parse().unwrap());
        if pid_max < n + 4096 {
            println!("note: kernel.pid_max is {pid_max}: {n} children may not fit");
        }

        let dir = std::env::temp_dir().join(format!("procctl-scale-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let prog = program(&dir);
        let exe = std::env::current_exe().unwrap();

        let sides = ["std", "procctl"];
        // [side][round] = (spawn, reap, hwm)
        let mut got: [Vec<(f64, f64, f64)>; 2] = Default::default();
        for round in 0..rounds {
            for k in 0..2 {
                let i = (k + round) % 2;
                let out = std::process::Command::new(&exe)
                    .env("PROCCTL_SCALE_SIDE", sides[i])
                    .env("PROCCTL_SCALE_N", n.to_string())
                    .env("PROCCTL_SCALE_PROGRAM", &prog)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{} side failed: {}\n{}",
                    sides[i],
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
                let text = String::from_utf8(out.stdout).unwrap();
                let f: Vec<f64> = text
                    .split_whitespace()
                    .map(|x| x.parse().unwrap())
                    .collect();
                got[i].push((f[0], f[1], f[2]));
            }
        }
        let _ = std::fs::remove_dir_all(&dir);

        println!(
            "\n{n} live children ({}), then all reaped: {rounds} rounds, medians; \
             ratios are medians of per-round ratios\n",
            prog.display()
        );
        println!("| | spawn {n} | reap {n} | parent peak RSS (VmHWM) |");
        println!("|---|---|---|---|");
        let col = |i: usize, f: fn(&(f64, f64, f64)) -> f64| {
            median(&mut got[i].iter().map(f).collect::<Vec<_>>())
        };
        let ratio = |f: fn(&(f64, f64, f64)) -> f64| {
            median(
                &mut got[1]
                    .iter()
                    .zip(&got[0])
                    .map(|(p, s)| f(p) / f(s))
                    .collect::<Vec<_>>(),
            )
        };
        for (i, name) in sides.iter().enumerate() {
            println!(
                "| {name} | {:.3} s | {:.3} s | {:.1} MiB |",
                col(i, |r| r.0),
                col(i, |r| r.1),
                col(i, |r| r.2) / 1024.0
            );
        }
        println!(
            "| procctl / std | {:.2}× | {:.2}× | {:.2}× |",
            ratio(|r| r.0),
            ratio(|r| r.1),
            ratio(|r| r.2)
        );
    }
}

#[cfg(target_os = "linux")]
fn main() {
    imp::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("scale bench: Linux only");
}
