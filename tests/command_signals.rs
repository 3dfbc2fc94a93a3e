//! Spawning and `system` against process-wide signal state: handlers,
//! ignored signals, masks, `SIGPIPE` at its default. Its own test binary
//! because dispositions are process-wide; inside it the tests take one
//! lock so they never see each other's changes.

#![cfg(unix)]

use std::io::Write;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use procctl::proc::{Command, PopenMode, Stdio, popen, system};
use procctl::{Error, Signal};

static LOCK: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

const DEADLINE: Duration = Duration::from_secs(10);

extern "C" fn handler(_: libc::c_int) {}

/// A disposition changed by [`set`]; dropping it (also when a test
/// fails) puts the old one back, so one failure does not spoil the rest.
struct Restore(Signal, libc::sigaction);

impl Drop for Restore {
    fn drop(&mut self) {
        // SAFETY: restoring an action that sigaction gave us.
        unsafe { libc::sigaction(self.0.as_raw(), &self.1, std::ptr::null_mut()) };
    }
}

/// Sets `sig`'s handler to `h` (`SIG_DFL`, `SIG_IGN` or a function) with
/// `flags` until the returned guard is dropped.
#[must_use]
fn set(sig: Signal, h: libc::sighandler_t, flags: libc::c_int) -> Restore {
    // SAFETY: zeroed sigactions are valid; the handler does nothing.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = h;
        sa.sa_flags = flags;
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(sig.as_raw(), &sa, &mut old), 0);
        Restore(sig, old)
    }
}

/// `sig`'s handler and flags (without the C library's `SA_RESTORER`).
fn current(sig: Signal) -> (libc::sighandler_t, libc::c_int) {
    const SA_RESTORER: libc::c_int = 0x0400_0000;
    // SAFETY: querying only.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(sig.as_raw(), std::ptr::null(), &mut old), 0);
        (old.sa_sigaction, old.sa_flags & !SA_RESTORER)
    }
}

fn handler_ptr() -> libc::sighandler_t {
    handler as extern "C" fn(libc::c_int) as libc::sighandler_t
}

/// The child's `/proc/self/status` line `field` as a bit set.
fn child_sigs(cmd: &mut Command, field: &str) -> u64 {
    let child = cmd
        .arg("/proc/self/status")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.communicate_timeout(b"", DEADLINE).unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:\t")))
        .unwrap_or_else(|| panic!("no {field} in {text}"));
    u64::from_str_radix(line.trim(), 16).unwrap()
}

fn bit(sig: Signal) -> u64 {
    1 << (sig.as_raw() - 1)
}

#[test]
fn handled_signals_are_default_in_the_child() {
    let _g = lock();
    let _usr1 = set(Signal::USR1, handler_ptr(), 0);
    let _term = set(Signal::TERM, handler_ptr(), libc::SA_RESTART);
    let _usr2 = set(Signal::USR2, libc::SIG_IGN, 0);

    let caught = child_sigs(&mut Command::new("cat"), "SigCgt");
    assert_eq!(caught, 0, "cat catches nothing");
    let ignored = child_sigs(&mut Command::new("cat"), "SigIgn");
    assert_eq!(ignored & bit(Signal::USR1), 0);
    assert_eq!(ignored & bit(Signal::TERM), 0);
    // Rust ignores SIGPIPE; the child must not inherit that.
    assert_eq!(current(Signal::PIPE).0, libc::SIG_IGN);
    assert_eq!(ignored & bit(Signal::PIPE), 0);
    // An ignored signal stays ignored (POSIX), unless asked otherwise.
    assert_ne!(ignored & bit(Signal::USR2), 0);
    let ignored = child_sigs(
        Command::new("cat")
            .default_signal(Signal::USR2)
            .ignore_signal(Signal::HUP),
        "SigIgn",
    );
    assert_eq!(ignored & bit(Signal::USR2), 0);
    assert_ne!(ignored & bit(Signal::HUP), 0);
}

#[test]
fn signal_mask_default_and_explicit() {
    let _g = lock();
    let blocked = child_sigs(
        Command::new("cat").signal_mask([Signal::USR1, Signal::TERM]),
        "SigBlk",
    );
    assert_eq!(blocked, bit(Signal::USR1) | bit(Signal::TERM));

    // By default the child's mask is empty, whatever the spawning thread
    // blocks (as with std).
    let blocked = std::thread::spawn(|| {
        // SAFETY: a valid set; only this thread's mask changes.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR2);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        }
        child_sigs(&mut Command::new("cat"), "SigBlk")
    })
    .join()
    .unwrap();
    assert_eq!(
        blocked, 0,
        "the spawning thread's SIGUSR2 block leaked into the child"
    );
    // An explicit empty SigSet is the same.
    let blocked = child_sigs(
        Command::new("cat").signal_mask(procctl::signal::SigSet::empty()),
        "SigBlk",
    );
    assert_eq!(blocked, 0);
}

#[test]
fn system_exit_codes_and_signals() {
    let _g = lock();
    assert_eq!(system("exit 3").unwrap().code(), Some(3));
    let status = system("kill -9 $$").unwrap();
    assert_eq!(status.signal(), Some(Signal::KILL));
    assert_eq!(system("true").unwrap().code(), Some(0));
    let err = system("echo a\0b").unwrap_err();
    assert!(
        matches!(
            err,
            Error::NulByte {
                what: "command",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn system_leaves_sigint_as_it_was() {
    let _g = lock();
    for (h, flags) in [
        (libc::SIG_DFL, 0),
        (libc::SIG_IGN, 0),
        (handler_ptr(), libc::SA_RESTART),
    ] {
        let _old = set(Signal::INT, h, flags);
        let quit_before = current(Signal::QUIT);
        // While it runs we ignore SIGINT: the shell sends us one and we
        // live. The shell sees SIGINT ignored only if we had ignored it.
        // The test below exits 0 when SIGINT is not ignored in the shell.
        let expected = if h == libc::SIG_IGN { 1 } else { 0 };
        let script = format!(
            "kill -INT $PPID; ign=$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status); \
             [ $(( 0x$ign & 2 )) -eq 0 ]; exit $(( $? == {expected} ? 0 : 1 ))"
        );
        let status = system(&script).unwrap();
        assert_eq!(status.code(), Some(0), "handler {h:#x}");
        assert_eq!(current(Signal::INT), (h, flags), "SIGINT after system");
        assert_eq!(current(Signal::QUIT), quit_before, "SIGQUIT after system");
    }
}

#[test]
fn system_blocks_sigchld_only_while_it_runs() {
    let _g = lock();
    let chld_blocked = || {
        // SAFETY: querying this thread's mask.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set);
            libc::sigismember(&set, libc::SIGCHLD) == 1
        }
    };
    assert!(!chld_blocked());
    // The shell's mask is ours from before: SIGCHLD not blocked.
    let status = system(
        "blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' /proc/$$/status); [ $(( 0x$blk & 0x10000 )) -eq 0 ]",
    )
    .unwrap();
    assert!(status.success());
    assert!(!chld_blocked());
}

#[test]
fn system_reports_the_status_when_sigchld_is_ignored() {
    let _g = lock();
    for flags in [0, libc::SA_NOCLDWAIT] {
        let h = if flags == 0 {
            libc::SIG_IGN
        } else {
            libc::SIG_DFL
        };
        let _old = set(Signal::CHLD, h, flags);
        assert_eq!(system("exit 5").unwrap().code(), Some(5));
        assert_eq!(current(Signal::CHLD), (h, flags));
    }
}

#[test]
fn concurrent_system_calls_restore_sigint() {
    let _g = lock();
    let before = current(Signal::INT);
    let threads: Vec<_> = (0..4)
        .map(|i| std::thread::spawn(move || system(&format!("sleep 0.0{i}; exit {i}")).unwrap()))
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        assert_eq!(t.join().unwrap().code(), Some(i as i32));
    }
    assert_eq!(current(Signal::INT), before);
}

#[test]
fn writes_survive_sigpipe_at_its_default() {
    let _g = lock();
    let _old = set(Signal::PIPE, libc::SIG_DFL, 0);

    let child = Command::new("sh")
        .args(["-c", "head -c 10 >/dev/null"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child
        .communicate_timeout(&vec![0u8; 4 << 20], DEADLINE)
        .unwrap();
    assert!(out.status.success());

    let mut p = popen("exit 0", PopenMode::Write).unwrap();
    // Wait until the shell is gone so the write has no reader.
    let pid = p.pid();
    let deadline = std::time::Instant::now() + DEADLINE;
    while std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z"))
        .unwrap_or(false)
    {
        assert!(std::time::Instant::now() < deadline, "shell did not exit");
        std::thread::sleep(Duration::from_millis(5));
    }
    let err = p.write(b"nobody reads this").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    assert!(p.close().unwrap().success());
}

#[test]
fn out_of_descriptors_is_a_resource_limit() {
    // RLIMIT_NOFILE is process-wide too: this binary's lock keeps the
    // other tests out while it is low.
    let _g = lock();
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a writable rlimit.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) }, 0);
    // The lowest free descriptor: with the limit just above it, exactly
    // one descriptor can still be opened, and a pipe needs two.
    let lowest_free = {
        use std::os::fd::AsRawFd;
        std::fs::File::open("/dev/null").unwrap().as_raw_fd() as libc::rlim_t
    };
    let low = libc::rlimit {
        rlim_cur: lowest_free + 1,
        rlim_max: old.rlim_max,
    };
    // SAFETY: lowering our own soft limit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &low) }, 0);
    let err = Command::new("true")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_err();
    // SAFETY: restoring the limit read above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &old) }, 0);
    assert!(
        matches!(err, Error::ResourceLimit { call: "pipe", .. }),
        "{err:?}"
    );
    assert_eq!(err.raw_os_error(), Some(libc::EMFILE));
}

/// Issue 14, item 6: a signal that reaches the child between its creation
/// and its own set-up must find the set-up already in force. A parent with
/// a SIGUSR1 handler, a thread sending SIGUSR1 to the process group, and
/// spawns whose child ignores (or blocks) SIGUSR1: none may die of it.
///
/// Runs in a forked child that leads its own process group (so the flood
/// reaches nobody else) and arms `alarm(10)`; its exit code is the number
/// of children killed by SIGUSR1 (capped), or 200 + a failure code.
#[test]
fn signals_sent_during_spawn_find_the_childs_set_up_in_force() {
    let _g = lock();
    for how in ["ignore_signal", "signal_mask"] {
        let body = move || -> i32 {
            use std::sync::Arc;
            use std::sync::atomic::{AtomicBool, Ordering};
            // SAFETY: plain calls on this (forked, single-threaded) process.
            unsafe {
                libc::alarm(10);
                if libc::setpgid(0, 0) != 0 {
                    return 201;
                }
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = handler_ptr();
                sa.sa_flags = libc::SA_RESTART;
                if libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()) != 0 {
                    return 202;
                }
            }
            let stop = Arc::new(AtomicBool::new(false));
            let sender = {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        // SAFETY: signalling our own process group.
                        unsafe { libc::kill(0, libc::SIGUSR1) };
                    }
                })
            };
            let start = std::time::Instant::now();
            let mut killed = 0;
            let mut failed = 0;
            for _ in 0..1000 {
                if start.elapsed() > Duration::from_secs(6) {
                    break;
                }
                let mut cmd = Command::new("true");
                if how == "ignore_signal" {
                    cmd.ignore_signal(Signal::USR1);
                } else {
                    cmd.signal_mask([Signal::USR1]);
                }
                match cmd.spawn() {
                    Ok(child) => match child.wait_timeout(Duration::from_secs(5)) {
                        Ok(Some(s)) if s.signal() == Some(Signal::USR1) => killed += 1,
                        Ok(Some(s)) if s.success() => {}
                        _ => failed += 1,
                    },
                    Err(_) => failed += 1,
                }
            }
            stop.store(true, Ordering::Relaxed);
            let _ = sender.join();
            if failed > 0 {
                return 203;
            }
            killed.min(199)
        };
        // SAFETY: the tests of this binary hold LOCK, so no other thread of
        // ours is inside procctl or holds a lock the child needs; the child
        // arms alarm(10), so it cannot outlive the run.
        let child = unsafe { procctl::proc::fork_unchecked(body) }.unwrap();
        let status = match child.wait_timeout(Duration::from_secs(20)).unwrap() {
            Some(s) => s,
            None => {
                let _ = child.kill();
                panic!("{how}: the forked test child hung");
            }
        };
        assert_eq!(
            status.code(),
            Some(0),
            "{how}: {status} (exit code = children killed by SIGUSR1, 200+ = failure)"
        );
    }
}
