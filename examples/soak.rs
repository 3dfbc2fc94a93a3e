//! Soak: `PROCCTL_SOAK=N` operations (default 2000) from 8 threads, mixing
//! spawns with every drop policy (`Reap`, `Kill`, `KillAndReap`, `Detach`,
//! whose children this program reaps itself), `wait`, `wait_timeout`,
//! `kill`, `communicate`, and safe `fork`s. The safe `fork` refuses a
//! multi-threaded process, so the forks come from a fork server: a child
//! forked before any thread starts, single-threaded for its whole life,
//! that the threads drive over a pipe (one request byte, one reply byte).
//!
//! After a warm-up (a tenth of the operations, at least 400) it records
//! the descriptor count (`/proc/self/fd`) and `VmRSS`; after the rest and
//! a bounded settle it prints both again and checks: the same descriptor
//! count, no zombie child (`procctl::reap::zombie_children`), RSS grown
//! by less than 1 MiB. The fork server checks the same for itself (its
//! descriptors, its zombies) and reports at the end.
//!
//! `PROCCTL_SOAK=5000 cargo run --release --example soak` (CI);
//! exits non-zero on any failed check. Linux only (it reads /proc).

#[cfg(target_os = "linux")]
mod imp {
    use std::io::{Read, Write};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use procctl::proc::{Command, DropPolicy, Stdio, WaitOptions, fork, waitpid};
    use procctl::{ExitStatus, Pid};

    const THREADS: usize = 8;
    /// Operations per cycle; operation `i` is kind `i % KINDS`.
    const KINDS: usize = 9;

    fn fd_count() -> usize {
        // The directory's own descriptor is counted every time alike.
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    }

    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Waits with a 10 s deadline; a child still running then is killed and
    /// the soak fails.
    fn wait10(child: &procctl::proc::Child) -> ExitStatus {
        match child.wait_timeout(Duration::from_secs(10)).unwrap() {
            Some(status) => status,
            None => {
                let _ = child.kill();
                panic!("child {} still running after 10 s", child.pid());
            }
        }
    }

    /// Reaps `pid` (a detached child) with `waitpid(WNOHANG)` polls for at
    /// most 10 s.
    fn reap_detached(pid: Pid) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some((got, status)) = waitpid(pid, WaitOptions::NOHANG).unwrap() {
                assert_eq!(got, pid);
                match status {
                    procctl::WaitStatus::Exited(s) => return s,
                    other => panic!("detached child {pid}: {other:?}"),
                }
            }
            assert!(Instant::now() < deadline, "detached child {pid} not done");
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    fn sleeper(policy: DropPolicy) -> procctl::proc::Child {
        Command::new("/bin/sleep")
            .arg("10")
            .drop_policy(policy)
            .spawn()
            .unwrap()
    }

    /// The fork server's side: one request byte, one reply byte, until the
    /// request pipe closes; then a summary line (`fds zombies`).
    fn serve(mut requests: std::io::PipeReader, mut replies: std::io::PipeWriter) -> i32 {
        let fds_before = fd_count();
        let mut op = [0u8];
        while requests.read(&mut op).unwrap() == 1 {
            let reply = match op[0] {
                // fork + wait: the child's exit code.
                b'w' => {
                    let child = fork(|| 7).unwrap();
                    wait10(&child).code().unwrap_or(-1) as u8
                }
                // fork, kill the blocked child, wait: 9 for SIGKILL.
                b'k' => {
                    let child = fork(|| {
                        // Nothing forked outlives the run.
                        procctl::signal::alarm(10);
                        loop {
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    })
                    .unwrap();
                    child.kill().unwrap();
                    match wait10(&child) {
                        ExitStatus::Signaled { signal, .. } => signal.as_raw() as u8,
                        other => panic!("{other}"),
                    }
                }
                // fork and drop (Reap): reaped at a later fork or wait.
                b'd' => {
                    drop(fork(|| 0).unwrap());
                    0
                }
                other => panic!("fork server: unknown request {other}"),
            };
            replies.write_all(&[reply]).unwrap();
        }
        let zombies = settle(fork_zero);
        let line = format!("{} {}\n", fd_count() as i64 - fds_before as i64, zombies);
        replies.write_all(line.as_bytes()).unwrap();
        0
    }

    /// Lets dropped children end and be reaped (at most 10 s); returns how
    /// many zombie children remain. It calls no `reap_zombies` (which
    /// would reap any child, hiding a detached one nobody waited for):
    /// procctl reaps the dropped children it owns at its next spawn or
    /// fork, so each round starts (and waits for) one.
    fn settle(spawn: fn()) -> usize {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            spawn();
            let left = procctl::reap::zombie_children().unwrap().len();
            if left == 0 && procctl::reap::pending_orphans() == 0 {
                return 0;
            }
            if Instant::now() > deadline {
                return left.max(procctl::reap::pending_orphans());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn spawn_true() {
        assert!(Command::new("/bin/true").status().unwrap().success());
    }

    fn fork_zero() {
        assert_eq!(wait10(&fork(|| 0).unwrap()).code(), Some(0));
    }

    struct Server {
        pipes: Mutex<(std::io::PipeWriter, std::io::PipeReader)>,
    }

    impl Server {
        fn ask(&self, op: u8) -> u8 {
            let mut pipes = self.pipes.lock().unwrap();
            pipes.0.write_all(&[op]).unwrap();
            let mut reply = [0u8];
            pipes.1.read_exact(&mut reply).unwrap();
            reply[0]
        }
    }

    fn one(i: usize, server: &Server) {
        match i % KINDS {
            0 => assert!(Command::new("/bin/true").status().unwrap().success()),
            1 => assert_eq!(server.ask(b'w'), 7),
            2 => drop(sleeper(DropPolicy::Kill)),
            3 => drop(sleeper(DropPolicy::KillAndReap)),
            4 => {
                let child = Command::new("/bin/true")
                    .drop_policy(DropPolicy::Detach)
                    .spawn()
                    .unwrap();
                let pid = child.pid();
                drop(child);
                assert!(reap_detached(pid).success());
            }
            5 => {
                let child = sleeper(DropPolicy::Reap);
                assert_eq!(child.wait_timeout(Duration::from_millis(1)).unwrap(), None);
                child.kill().unwrap();
                assert!(matches!(wait10(&child), ExitStatus::Signaled { .. }));
            }
            6 => {
                let child = Command::new("/bin/cat")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                let out = child.communicate(b"soak\n").unwrap();
                assert_eq!(out.stdout, b"soak\n");
                assert!(out.status.success());
            }
            7 => {
                assert_eq!(server.ask(b'k'), libc::SIGKILL as u8);
                assert_eq!(server.ask(b'd'), 0);
            }
            _ => drop(Command::new("/bin/true").spawn().unwrap()), // Reap
        }
    }

    /// Runs operations `from..to` on `THREADS` threads.
    fn run(from: usize, to: usize, server: &Server) {
        let next = AtomicUsize::new(from);
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= to {
                            break;
                        }
                        one(i, server);
                    }
                });
            }
        });
    }

    pub fn main() {
        let n: usize = std::env::var("PROCCTL_SOAK")
            .ok()
            .map_or(2000, |v| v.parse().expect("PROCCTL_SOAK=N"));
        let warm = (n / 10).max(400).min(n);
        let start = Instant::now();

        // The fork server, forked while this process has one thread.
        let (req_r, req_w) = std::io::pipe().unwrap();
        let (rep_r, rep_w) = std::io::pipe().unwrap();
        // The child closes our ends (so it sees the end of the requests);
        // its own ends, moved into the closure, close here when the
        // closure is dropped after the fork.
        let ours = std::cell::RefCell::new(Some((req_w, rep_r)));
        let server_child = fork(|| {
            drop(ours.borrow_mut().take());
            serve(req_r, rep_w)
        })
        .unwrap();
        let (req_w, rep_r) = ours.into_inner().unwrap();
        let server = Server {
            pipes: Mutex::new((req_w, rep_r)),
        };

        run(0, warm, &server);
        assert_eq!(settle(spawn_true), 0, "zombies after the warm-up");
        let (fds0, rss0) = (fd_count(), rss_kib());
        run(warm, n, &server);
        let zombies = settle(spawn_true);
        let (fds1, rss1) = (fd_count(), rss_kib());

        // Close the request pipe: the server settles and reports.
        let (req_w, mut rep_r) = server.pipes.into_inner().unwrap();
        drop(req_w);
        let mut summary = String::new();
        rep_r.read_to_string(&mut summary).unwrap();
        assert!(wait10(&server_child).success(), "fork server failed");
        let mut fields = summary
            .split_whitespace()
            .map(|f| f.parse::<i64>().unwrap());
        let (server_fd_delta, server_zombies) = (fields.next().unwrap(), fields.next().unwrap());

        let elapsed = start.elapsed();
        println!(
            "soak: {n} operations ({warm} warm-up) on {THREADS} threads in {:.1} s ({:.0} ops/s)",
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64()
        );
        println!("  descriptors: {fds0} after warm-up, {fds1} at the end");
        println!("  zombie children after settle: {zombies}");
        println!(
            "  VmRSS: {rss0} KiB after warm-up, {rss1} KiB at the end ({:+} KiB)",
            rss1 as i64 - rss0 as i64
        );
        println!(
            "  fork server: descriptors {server_fd_delta:+}, zombie children {server_zombies}"
        );
        assert_eq!(fds1, fds0, "descriptor count changed");
        assert_eq!(zombies, 0, "zombie children left");
        assert!(rss1 < rss0 + 1024, "RSS grew by 1 MiB or more");
        assert_eq!(server_fd_delta, 0, "fork server's descriptor count changed");
        assert_eq!(server_zombies, 0, "fork server left zombie children");
        println!("soak: ok");
    }
}

#[cfg(target_os = "linux")]
fn main() {
    imp::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("soak: Linux only (it reads /proc)");
}
