//! EINTR storm: a `SIGALRM` every 100 µs (`setitimer(ITIMER_REAL)`, 10
//! kHz) whose handler is installed WITHOUT `SA_RESTART`, so every blocking
//! system call the library makes is interrupted over and over. Every
//! blocking call must still complete with the right result, and every
//! deadline must still be kept within 50 ms.
//!
//! `harness = false`: the storm is process-wide state (a disposition, a
//! timer) and must not reach libtest's threads. Unix only (Linux for
//! `Scope`).

mod support;

#[cfg(unix)]
mod storm {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::time::{Duration, Instant};

    use procctl::Signal;

    use super::support;
    use procctl::proc::{Command, PopenMode, Stdio};

    static TICKS: AtomicU64 = AtomicU64::new(0);

    extern "C" fn on_alarm(_: libc::c_int) {
        TICKS.fetch_add(1, Relaxed);
    }

    /// How late a deadline may be kept.
    const SLACK: Duration = Duration::from_millis(50);

    /// The storm, for as long as this lives.
    struct Storm {
        start_ticks: u64,
        started: Instant,
    }

    fn itimer(us: libc::suseconds_t) {
        let t = libc::itimerval {
            it_interval: libc::timeval {
                tv_sec: 0,
                tv_usec: us,
            },
            it_value: libc::timeval {
                tv_sec: 0,
                tv_usec: us,
            },
        };
        // SAFETY: setitimer with a valid itimerval.
        assert_eq!(
            unsafe { libc::setitimer(libc::ITIMER_REAL, &t, std::ptr::null_mut()) },
            0
        );
    }

    impl Storm {
        fn start() -> Storm {
            // SAFETY: a zeroed sigaction is valid (empty mask); the handler
            // only touches an atomic; no SA_RESTART on purpose.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_alarm as extern "C" fn(libc::c_int) as usize;
                sa.sa_flags = 0;
                assert_eq!(libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut()), 0);
            }
            itimer(100);
            Storm {
                start_ticks: TICKS.load(Relaxed),
                started: Instant::now(),
            }
        }
    }

    impl Drop for Storm {
        fn drop(&mut self) {
            itimer(0);
            let ticks = TICKS.load(Relaxed) - self.start_ticks;
            let ms = self.started.elapsed().as_millis() as u64;
            println!("    ({ticks} SIGALRM in {ms} ms)");
            // The storm was real: at least one signal per 2 ms on this
            // noisy machine (the timer asks for 10 per ms).
            if !std::thread::panicking() {
                assert!(ticks >= ms / 2, "only {ticks} signals in {ms} ms");
            }
        }
    }

    /// `elapsed` kept `deadline`: not before it, at most `SLACK` after.
    fn kept(what: &str, elapsed: Duration, deadline: Duration) {
        assert!(
            elapsed >= deadline && elapsed <= deadline + SLACK,
            "{what}: deadline {deadline:?}, returned after {elapsed:?}"
        );
    }

    fn child_wait() {
        let _storm = Storm::start();
        let child = Command::new("/bin/sh")
            .args(["-c", "sleep 0.2; exit 5"])
            .spawn()
            .unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(5));
    }

    fn child_wait_timeout() {
        let _storm = Storm::start();
        let child = Command::new("/bin/sleep").arg("5").spawn().unwrap();
        let t = Instant::now();
        let got = child.wait_timeout(Duration::from_millis(300)).unwrap();
        kept("wait_timeout", t.elapsed(), Duration::from_millis(300));
        assert_eq!(got, None);
        child.kill().unwrap();
        let got = child.wait_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(got.and_then(|s| s.signal()), Some(Signal::KILL));
    }

    fn communicate() {
        let _storm = Storm::start();
        let input: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        let child = Command::new("/bin/sh")
            .args(["-c", "sleep 0.1; cat; echo done >&2"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.communicate(&input).unwrap();
        assert!(out.status.success());
        assert!(out.stdout == input, "stdout differs");
        assert_eq!(out.stderr, b"done\n");
    }

    fn communicate_timeout() {
        let _storm = Storm::start();
        let child = Command::new("/bin/sh")
            .args(["-c", "echo early; exec sleep 5"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let t = Instant::now();
        let err = child
            .communicate_timeout(b"", Duration::from_millis(300))
            .unwrap_err();
        kept(
            "communicate_timeout",
            t.elapsed(),
            Duration::from_millis(300),
        );
        assert!(matches!(err, procctl::Error::Timeout { .. }), "{err:?}");
        assert_eq!(err.partial_output().unwrap().0, b"early\n");
        // The child was killed: reap it.
        let status = child.wait_timeout(Duration::from_secs(5)).unwrap();
        assert!(status.is_some());
    }

    fn signals() {
        let _storm = Storm::start();
        let mut sigs = procctl::signal::Signals::new([Signal::USR1]).unwrap();
        let t = Instant::now();
        assert_eq!(sigs.wait_timeout(Duration::from_millis(200)).unwrap(), None);
        kept(
            "Signals::wait_timeout",
            t.elapsed(),
            Duration::from_millis(200),
        );
        let child = Command::new("/bin/sh")
            .args(["-c", "sleep 0.1; kill -USR1 $PPID"])
            .spawn()
            .unwrap();
        assert_eq!(sigs.next(), Some(Signal::USR1));
        assert!(child.wait().unwrap().success());
        let child = Command::new("/bin/sh")
            .args(["-c", "sleep 0.1; kill -USR1 $PPID"])
            .spawn()
            .unwrap();
        assert_eq!(
            sigs.wait_timeout(Duration::from_secs(5)).unwrap(),
            Some(Signal::USR1)
        );
        assert!(child.wait().unwrap().success());
    }

    fn pipe_copy() {
        let _storm = Storm::start();
        let child = Command::new("/bin/sh")
            .args(["-c", "sleep 0.05; head -c 4000000 /dev/zero"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut from = child.take_stdout().unwrap();
        let path = std::env::temp_dir().join(format!("procctl-eintr-{}", std::process::id()));
        let mut file = std::fs::File::create(&path).unwrap();
        let n = procctl::pipe::copy(&mut from, &mut file).unwrap();
        drop(file);
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::remove_file(&path).unwrap();
        assert_eq!((n, len), (4_000_000, 4_000_000));
        assert!(child.wait().unwrap().success());

        // Pipe to pipe, through a reader child.
        let (r, mut w) = procctl::pipe::pipe().unwrap();
        let wc = Command::new("/bin/sh")
            .args(["-c", "sleep 0.05; wc -c"])
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(r)))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let src = Command::new("/bin/sh")
            .args(["-c", "head -c 3000000 /dev/zero"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut from = src.take_stdout().unwrap();
        let n = procctl::pipe::copy(&mut from, &mut w).unwrap();
        drop(w);
        assert_eq!(n, 3_000_000);
        let out = wc.communicate(b"").unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3000000");
        assert!(src.wait().unwrap().success());
    }

    fn system() {
        let _storm = Storm::start();
        let status = procctl::proc::system("sleep 0.1; exit 3").unwrap();
        assert_eq!(status.code(), Some(3));
    }

    fn popen_read() {
        let _storm = Storm::start();
        let mut p = procctl::proc::popen(
            "sleep 0.1; echo hi; sleep 0.05; echo there",
            PopenMode::Read,
        )
        .unwrap();
        let mut s = String::new();
        p.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hi\nthere\n");
        assert!(p.close().unwrap().success());
        let mut p = procctl::proc::popen("sleep 0.05; cat >/dev/null", PopenMode::Write).unwrap();
        p.write_all(&vec![7u8; 1 << 20]).unwrap();
        assert!(p.close().unwrap().success());
    }

    fn output_wait_delay() {
        let _storm = Storm::start();
        let t = Instant::now();
        let out = Command::new("/bin/sh")
            .args(["-c", "echo hi; sleep 30 &"])
            .wait_delay(Duration::from_millis(200))
            .output()
            .unwrap();
        let elapsed = t.elapsed();
        assert_eq!(out.stdout, b"hi\n");
        assert!(out.status.success());
        // The shell ends at once; the pipe is cut 200 ms later.
        assert!(
            elapsed >= Duration::from_millis(200) && elapsed <= Duration::from_millis(200) + SLACK,
            "output with wait_delay 200 ms took {elapsed:?}"
        );
        // The grandchild still holds the pipe: it is not ours to reap.
    }

    #[cfg(target_os = "linux")]
    fn scope_wait() {
        let scope = match procctl::proc::Scope::new() {
            Ok(s) => s,
            Err(e) => {
                println!("    (skipped: no writable cgroup v2 here: {e})");
                return;
            }
        };
        let _storm = Storm::start();
        let child = Command::new("/bin/sh")
            .args(["-c", "sleep 0.1"])
            .scope(&scope)
            .spawn()
            .unwrap();
        scope.wait().unwrap();
        assert!(scope.is_empty().unwrap());
        assert!(child.wait().unwrap().success());
        let child = Command::new("/bin/sleep")
            .arg("5")
            .scope(&scope)
            .spawn()
            .unwrap();
        let t = Instant::now();
        assert!(!scope.wait_timeout(Duration::from_millis(300)).unwrap());
        kept(
            "Scope::wait_timeout",
            t.elapsed(),
            Duration::from_millis(300),
        );
        scope.kill().unwrap();
        assert!(scope.wait_timeout(Duration::from_secs(5)).unwrap());
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(Signal::KILL));
    }

    pub fn main() {
        let tests: &[support::Test] = &[
            ("child_wait", child_wait),
            ("child_wait_timeout", child_wait_timeout),
            ("communicate", communicate),
            ("communicate_timeout", communicate_timeout),
            ("signals_iteration_and_wait_timeout", signals),
            ("pipe_copy", pipe_copy),
            ("system", system),
            ("popen_read_and_write", popen_read),
            ("output_with_wait_delay", output_wait_delay),
            #[cfg(target_os = "linux")]
            ("scope_wait", scope_wait),
        ];
        support::run(tests);
    }
}

fn main() {
    #[cfg(unix)]
    storm::main();
}
