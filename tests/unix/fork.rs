//! The safe `fork`, `wait`/`waitpid`, the exec family, `_exit` and `Child`,
//! with real processes (Unix only; `tests/fork.rs` includes this file).

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{self, arm_alarm, eventually, until_single_threaded, wait10, zombies};
use procctl::proc::{
    _exit, DropPolicy, WaitOptions, WaitTarget, execv, execve, execvp, execvpe, fork, wait, waitpid,
};
use procctl::{Error, ExitStatus, Pid, Signal, WaitStatus};

pub fn main() {
    support::run(&[
        ("exit_codes", exit_codes),
        ("exit_code_keeps_low_8_bits", exit_code_keeps_low_8_bits),
        (
            "panic_is_101_and_parent_carries_on",
            panic_is_101_and_parent_carries_on,
        ),
        ("killed_by_signals", killed_by_signals),
        ("stop_and_continue", stop_and_continue),
        ("nohang_on_running_child", nohang_on_running_child),
        ("wait_without_children", wait_without_children),
        ("waitpid_not_our_child", waitpid_not_our_child),
        (
            "wait_twice_returns_saved_status",
            wait_twice_returns_saved_status,
        ),
        (
            "wait_any_hands_status_to_handle",
            wait_any_hands_status_to_handle,
        ),
        ("waitpid_group", waitpid_group),
        ("groups_and_sessions", groups_and_sessions),
        (
            "leaders_outside_pid_namespace_are_none",
            leaders_outside_pid_namespace_are_none,
        ),
        ("wait_timeout_and_try_wait", wait_timeout_and_try_wait),
        ("wait_with_rusage", wait_with_rusage),
        ("signal_after_reap_is_noop", signal_after_reap_is_noop),
        ("kill_never_hits_recycled_pid", kill_never_hits_recycled_pid),
        (
            "one_thread_waits_another_signals",
            one_thread_waits_another_signals,
        ),
        ("stdout_not_flushed_twice", stdout_not_flushed_twice),
        ("exec_missing_program", exec_missing_program),
        ("exec_bad_input", exec_bad_input),
        ("execve_exact_environment", execve_exact_environment),
        ("execvp_searches_path", execvp_searches_path),
        (
            "execvp_runs_script_without_shebang",
            execvp_runs_script_without_shebang,
        ),
        ("dropped_children_are_reaped", dropped_children_are_reaped),
        ("drop_policies", drop_policies),
        (
            "fork_refuses_when_multithreaded",
            fork_refuses_when_multithreaded,
        ),
        ("thread_count_is_exact", thread_count_is_exact),
        (
            "fork_unchecked_child_takes_no_stdout_lock",
            fork_unchecked_child_takes_no_stdout_lock,
        ),
        (
            "fork_unchecked_panic_takes_no_lock",
            fork_unchecked_panic_takes_no_lock,
        ),
        (
            "fork_unchecked_panic_message_reaches_stderr",
            fork_unchecked_panic_message_reaches_stderr,
        ),
    ]);
}

/// A child that sleeps until killed (bounded by its alarm).
fn sleeper() -> procctl::proc::Child {
    fork(|| {
        arm_alarm();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    })
    .unwrap()
}

fn exit_codes() {
    for code in [0, 1, 3, 255] {
        let child = fork(move || code).unwrap();
        let status = wait10(&child);
        assert_eq!(status, ExitStatus::Exited(code));
        assert_eq!(status.code(), Some(code));
        assert_eq!(status.success(), code == 0);
        assert_eq!(status.to_string(), format!("exit status: {code}"));
    }
}

fn exit_code_keeps_low_8_bits() {
    let child = fork(|| _exit(256)).unwrap();
    assert_eq!(wait10(&child), ExitStatus::Exited(0));
    let child = fork(|| 257).unwrap();
    assert_eq!(wait10(&child), ExitStatus::Exited(1));
}

fn panic_is_101_and_parent_carries_on() {
    let child = fork(|| panic!("deliberate panic in a forked child")).unwrap();
    assert_eq!(wait10(&child), ExitStatus::Exited(101));
    // The parent is fine and can fork again.
    let child = fork(|| 0).unwrap();
    assert!(wait10(&child).success());
}

fn killed_by_signals() {
    for sig in [Signal::KILL, Signal::TERM] {
        let child = sleeper();
        child.signal(sig).unwrap();
        let status = wait10(&child);
        assert_eq!(
            status,
            ExitStatus::Signaled {
                signal: sig,
                core_dumped: false
            }
        );
        assert_eq!(status.signal(), Some(sig));
        assert!(!status.core_dumped());
        assert_eq!(status.exit_code(), -sig.as_raw());
        assert_eq!(status.code(), None);
    }
}

fn stop_and_continue() {
    let child = sleeper();
    let pid = child.pid();
    child.signal(Signal::STOP).unwrap();
    let got = waitpid(pid, WaitOptions::UNTRACED).unwrap();
    assert_eq!(got, Some((pid, WaitStatus::Stopped(Signal::STOP))));
    child.signal(Signal::CONT).unwrap();
    let got = waitpid(pid, WaitOptions::CONTINUED).unwrap();
    assert_eq!(got, Some((pid, WaitStatus::Continued)));
    // Stopping and continuing did not reap it.
    assert_eq!(child.try_wait().unwrap(), None);
    child.kill().unwrap();
    assert_eq!(wait10(&child).signal(), Some(Signal::KILL));
}

fn nohang_on_running_child() {
    let child = sleeper();
    assert_eq!(waitpid(child.pid(), WaitOptions::NOHANG).unwrap(), None);
    assert_eq!(
        waitpid(WaitTarget::AnyChild, WaitOptions::NOHANG).unwrap(),
        None
    );
    child.kill().unwrap();
    wait10(&child);
}

fn wait_without_children() {
    let err = wait().unwrap_err();
    assert!(matches!(err, Error::NoChildren), "{err:?}");
    assert_eq!(err.raw_os_error(), Some(libc::ECHILD));
    let err = waitpid(WaitTarget::AnyChild, WaitOptions::NOHANG).unwrap_err();
    assert!(matches!(err, Error::NoChildren), "{err:?}");
}

fn waitpid_not_our_child() {
    let init = Pid::from_raw(1).unwrap();
    let err = waitpid(init, WaitOptions::empty()).unwrap_err();
    assert!(
        matches!(err, Error::NotChild { pid } if pid == init),
        "{err:?}"
    );
    assert!(err.to_string().contains("process 1 "), "{err}");
}

fn wait_twice_returns_saved_status() {
    let child = fork(|| 42).unwrap();
    let first = wait10(&child);
    assert_eq!(first, ExitStatus::Exited(42));
    assert_eq!(child.wait().unwrap(), first);
    assert_eq!(child.try_wait().unwrap(), Some(first));
    assert_eq!(child.wait_timeout(Duration::ZERO).unwrap(), Some(first));
}

fn wait_any_hands_status_to_handle() {
    let a = fork(|| 5).unwrap();
    let b = fork(|| 6).unwrap();
    let mut got = vec![wait().unwrap(), wait().unwrap()];
    got.sort_by_key(|(pid, _)| *pid == b.pid());
    assert_eq!(
        got,
        vec![
            (a.pid(), ExitStatus::Exited(5)),
            (b.pid(), ExitStatus::Exited(6))
        ]
    );
    // The handles still know their real statuses.
    assert_eq!(a.wait().unwrap(), ExitStatus::Exited(5));
    assert_eq!(b.wait().unwrap(), ExitStatus::Exited(6));
    assert!(matches!(wait(), Err(Error::NoChildren)));
}

fn waitpid_group() {
    let leader = fork(|| {
        procctl::proc::setpgid(None, None).unwrap();
        9
    })
    .unwrap();
    // Make the group exist from the parent's side too (no race with the child).
    let _ = procctl::proc::setpgid(Some(leader.pid()), Some(leader.pid()));
    let got = waitpid(WaitTarget::Group(leader.pid()), WaitOptions::empty()).unwrap();
    assert_eq!(
        got,
        Some((leader.pid(), WaitStatus::Exited(ExitStatus::Exited(9))))
    );
    let err = waitpid(WaitTarget::Group(leader.pid()), WaitOptions::NOHANG).unwrap_err();
    assert!(matches!(err, Error::NoChildren), "{err:?}");
}

fn groups_and_sessions() {
    use procctl::proc::{getpgid, getpgrp, getsid, setsid};
    let (mut ready_r, ready_w) = procctl::pipe::pipe().unwrap();
    let (go_r, mut go_w) = procctl::pipe::pipe().unwrap();
    let child = fork(move || {
        arm_alarm();
        let me = Pid::current();
        let sid = setsid().unwrap();
        let ok = sid == me
            && getsid(None).unwrap() == Some(me)
            && getpgrp() == Some(me)
            && getpgid(None).unwrap() == Some(me);
        (&ready_w).write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        let _ = (&go_r).read(&mut b);
        if ok { 0 } else { 1 }
    })
    .unwrap();
    let mut b = [0u8; 1];
    ready_r.read_exact(&mut b).unwrap();
    // Seen from the parent: the child leads its own session and group.
    assert_eq!(getsid(Some(child.pid())).unwrap(), Some(child.pid()));
    assert_eq!(getpgid(Some(child.pid())).unwrap(), Some(child.pid()));
    go_w.write_all(b"x").unwrap();
    assert_eq!(wait10(&child), ExitStatus::Exited(0));
    let err = getsid(Some(child.pid())).unwrap_err();
    assert!(matches!(err, Error::NoSuchProcess { .. }), "{err:?}");
}

/// In a new PID namespace our session and group leaders have no number: the
/// kernel reports 0 and procctl says `None` (CI containers look like this).
fn leaders_outside_pid_namespace_are_none() {
    #[cfg(target_os = "linux")]
    {
        use procctl::proc::{getpgid, getpgrp, getsid, setsid};
        let child = fork(|| {
            arm_alarm();
            if unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
                return 77; // not allowed here (no CAP_SYS_ADMIN)
            }
            let init = fork(|| {
                let outside = getsid(None).unwrap().is_none()
                    && getpgrp().is_none()
                    && getpgid(None).unwrap().is_none()
                    && Pid::current().as_raw() == 1;
                let sid = setsid().unwrap();
                let inside = getsid(None).unwrap() == Some(sid) && getpgrp() == Some(sid);
                if outside && inside { 0 } else { 1 }
            })
            .unwrap();
            init.wait().unwrap().code().unwrap_or(2)
        })
        .unwrap();
        match wait10(&child).code() {
            Some(77) => eprintln!("    (skipped: unshare(CLONE_NEWPID) not permitted)"),
            code => assert_eq!(code, Some(0)),
        }
    }
}

fn wait_timeout_and_try_wait() {
    let child = sleeper();
    assert_eq!(child.try_wait().unwrap(), None);
    let t = std::time::Instant::now();
    assert_eq!(
        child.wait_timeout(Duration::from_millis(100)).unwrap(),
        None
    );
    assert!(t.elapsed() >= Duration::from_millis(100));
    child.kill().unwrap();
    assert!(
        child
            .wait_timeout(Duration::from_secs(10))
            .unwrap()
            .is_some()
    );
}

fn wait_with_rusage() {
    let child = fork(|| {
        // Burn a little CPU and touch 64 MiB.
        let v = vec![7u8; 64 << 20];
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        (std::hint::black_box(x) as usize + v.iter().filter(|&&b| b == 7).count() > 0) as i32
    })
    .unwrap();
    wait10(&child);
    let (status, usage) = child.wait_with_rusage().unwrap();
    assert_eq!(status, ExitStatus::Exited(1));
    assert!(usage.max_rss_bytes() >= 64 << 20, "{usage:?}");
    assert!(
        usage.user_time() + usage.system_time() > Duration::ZERO,
        "{usage:?}"
    );
}

fn signal_after_reap_is_noop() {
    let child = fork(|| 0).unwrap();
    wait10(&child);
    child.kill().unwrap();
    child.signal(Signal::TERM).unwrap();
}

/// Reaps a child, makes the kernel hand its pid to a new child (Linux,
/// as root: `ns_last_pid`), and checks that the old handle's `kill` does
/// not reach the new process.
fn kill_never_hits_recycled_pid() {
    let path = "/proc/sys/kernel/ns_last_pid";
    let old = fork(|| 0).unwrap();
    wait10(&old);
    let pid = old.pid().as_raw();
    if std::fs::write(path, (pid - 1).to_string()).is_err() {
        println!("    (skipped the recycling part: {path} is not writable here)");
        old.kill().unwrap();
        return;
    }
    let new = sleeper();
    if new.pid().as_raw() != pid {
        println!(
            "    (skipped: the kernel gave pid {} instead of {pid})",
            new.pid()
        );
    }
    old.kill().unwrap();
    old.signal(Signal::TERM).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        new.try_wait().unwrap(),
        None,
        "the recycled pid was signalled"
    );
    new.kill().unwrap();
    assert_eq!(wait10(&new).signal(), Some(Signal::KILL));
}

fn one_thread_waits_another_signals() {
    let child = sleeper();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| child.wait().unwrap());
        std::thread::sleep(Duration::from_millis(20));
        child.signal(Signal::TERM).unwrap();
        assert_eq!(waiter.join().unwrap().signal(), Some(Signal::TERM));
    });
    until_single_threaded();
}

/// Text printed before the fork appears once; text the child prints
/// without a newline is not lost.
fn stdout_not_flushed_twice() {
    let (mut r, w) = std::io::pipe().unwrap();
    let child = fork(|| {
        // SAFETY: dup2 on valid descriptors.
        unsafe { libc::dup2(w.as_raw_fd(), 1) };
        print!("before;");
        let inner = fork(|| {
            print!("child");
            0
        })
        .unwrap();
        inner.wait().unwrap();
        print!(";after");
        0
    })
    .unwrap();
    drop(w);
    let mut out = String::new();
    r.read_to_string(&mut out).unwrap();
    assert!(wait10(&child).success());
    assert_eq!(out, "before;child;after");
}

fn exec_missing_program() {
    // In this process: exec fails, returns an error naming the program.
    let err = execv("/no/such/dir/prog", &["prog"]);
    assert!(matches!(&err, Error::NotFound { program, .. } if program == "/no/such/dir/prog"));
    assert!(err.to_string().contains("/no/such/dir/prog"), "{err}");
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::NotFound
    );
    let err = execvp("no-such-program-procctl", &["x"]);
    assert!(err.to_string().contains("no-such-program-procctl"), "{err}");
    // In a child that then exits: no zombie once waited.
    let child = fork(|| {
        let err = execvp("no-such-program-procctl", &["x"]);
        if matches!(err, Error::NotFound { .. }) {
            127
        } else {
            1
        }
    })
    .unwrap();
    assert_eq!(wait10(&child), ExitStatus::Exited(127));
    assert!(zombies().is_empty(), "{:?}", zombies());
    // Not executable: permission denied, naming the program.
    let err = execv("/etc/passwd", &["passwd"]);
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    assert!(err.to_string().contains("/etc/passwd"), "{err}");
    let err = execv("/", &["/"]);
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
}

fn exec_bad_input() {
    let err = execv("/bin/sh", &["sh", "-c", "a\0b"]);
    assert!(
        matches!(
            &err,
            Error::NulByte {
                what: "argument",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("a\\0b"), "{err}");
    let err = execv("/bin/s\0h", &["sh"]);
    assert!(
        matches!(
            err,
            Error::NulByte {
                what: "program",
                ..
            }
        ),
        "{err:?}"
    );
    let err = execv("", &["sh"]);
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                what: "program",
                ..
            }
        ),
        "{err:?}"
    );
    let err = execv::<_, &str>("/bin/sh", &[]);
    assert!(
        matches!(err, Error::InvalidArgument { what: "argv", .. }),
        "{err:?}"
    );
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::InvalidInput
    );
    let err = execve("/bin/sh", &["sh"], &["NOEQUALS"]);
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    let err = execve("/bin/sh", &["sh"], &["=value"]);
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    let err = execve("/bin/sh", &["sh"], &["A=b\0c"]);
    assert!(matches!(err, Error::NulByte { .. }), "{err:?}");
    // Out-of-range signal numbers are refused by the type.
    let err = Signal::try_from(99_999).unwrap_err();
    assert!(err.to_string().contains("99999"), "{err}");
}

/// Runs `f` in a child whose stdout goes to a pipe; returns the output.
fn capture(f: impl FnOnce() -> i32) -> (ExitStatus, String) {
    let (mut r, w) = std::io::pipe().unwrap();
    let child = fork(|| {
        arm_alarm();
        // SAFETY: dup2 on valid descriptors.
        unsafe { libc::dup2(w.as_raw_fd(), 1) };
        f()
    })
    .unwrap();
    drop(w);
    let mut out = String::new();
    r.read_to_string(&mut out).unwrap();
    (wait10(&child), out)
}

fn execve_exact_environment() {
    let (status, out) = capture(|| {
        let err = execve("/usr/bin/env", &["env"], &["A=1", "B=two words", "EMPTY="]);
        eprintln!("{err}");
        126
    });
    assert!(status.success(), "{status}");
    assert_eq!(out, "A=1\nB=two words\nEMPTY=\n");
    let (status, out) = capture(|| {
        execvpe("env", &["env"], &["ONLY=this"]);
        126
    });
    assert!(status.success(), "{status}");
    assert_eq!(out, "ONLY=this\n");
}

fn execvp_searches_path() {
    let (status, out) = capture(|| {
        execvp("sh", &["my-argv0", "-c", "echo $0 $1", "zero", "one"]);
        126
    });
    assert!(status.success(), "{status}");
    assert_eq!(out, "zero one\n");
}

fn execvp_runs_script_without_shebang() {
    let dir = std::env::temp_dir().join(format!("procctl-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("noshebang");
    std::fs::write(&script, "echo from-script \"$1\"\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (status, out) = capture(|| {
        execvp(&script, &["noshebang", "hello"]);
        126
    });
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(out, "from-script hello\n");
}

fn dropped_children_are_reaped() {
    let pids: Vec<Pid> = (0..50).map(|_| fork(|| 0).unwrap().pid()).collect();
    // All 50 handles are dropped; the children exit at once.
    eventually("all dropped children exited", || {
        pids.iter().all(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true)
        })
    });
    assert!(!zombies().is_empty());
    // The next procctl call reaps them, without any thread.
    let child = fork(|| 0).unwrap();
    assert_eq!(procctl::proc::thread_count(), Some(1));
    wait10(&child);
    assert!(zombies().is_empty(), "zombies left: {:?}", zombies());
}

fn drop_policies() {
    // Kill: the sleeper dies at drop and is reaped at the next call.
    let child = sleeper();
    let pid = child.pid();
    child.set_drop_policy(DropPolicy::Kill);
    drop(child);
    eventually("killed child reaped", || {
        procctl::reap::reap_zombies().unwrap();
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
    // KillAndReap: gone when drop returns.
    let child = sleeper();
    let pid = child.pid();
    child.set_drop_policy(DropPolicy::KillAndReap);
    drop(child);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    // Detach: still running after drop; we clean up by hand.
    let child = sleeper();
    let pid = child.pid();
    child.set_drop_policy(DropPolicy::Detach);
    drop(child);
    std::thread::sleep(Duration::from_millis(20));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert!(!stat.contains(") Z "), "{stat}");
    // SAFETY: kill takes plain integers.
    unsafe { libc::kill(pid.as_raw(), libc::SIGKILL) };
    let got = waitpid(pid, WaitOptions::empty()).unwrap();
    assert_eq!(got.map(|g| g.0), Some(pid));
}

fn fork_refuses_when_multithreaded() {
    let (tx, rx) = mpsc::channel::<()>();
    let t = std::thread::spawn(move || rx.recv());
    let err = fork(|| 0).unwrap_err();
    assert!(
        matches!(err, Error::MultiThreaded { threads: Some(2) }),
        "{err:?}"
    );
    assert!(err.to_string().contains("2 threads"), "{err}");
    drop(tx);
    t.join().unwrap().unwrap_err();
    until_single_threaded();
    let child = fork(|| 0).unwrap();
    assert!(wait10(&child).success());
}

/// `num_threads` of /proc/self/stat (field 20), the reference count.
fn stat_threads() -> usize {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    rest.split_whitespace().nth(17).unwrap().parse().unwrap()
}

/// `thread_count` agrees with /proc/self/stat with 1 to 9 threads, and in
/// the child of a multi-threaded `fork_unchecked` it names the child (one
/// thread), not the parent.
fn thread_count_is_exact() {
    assert_eq!(procctl::proc::thread_count(), Some(1));
    let (tx, rx) = mpsc::channel::<()>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let mut threads = Vec::new();
    for n in 2..=9 {
        let rx = rx.clone();
        let (started, ready) = mpsc::channel();
        threads.push(std::thread::spawn(move || {
            started.send(()).unwrap();
            let _ = rx.lock().unwrap().recv();
        }));
        ready.recv().unwrap();
        assert_eq!(procctl::proc::thread_count(), Some(n));
        assert_eq!(stat_threads(), n);
    }
    // SAFETY: the child only calls thread_count (one stat, no lock, no
    // allocation) and _exit.
    let child = unsafe {
        procctl::proc::fork_unchecked(|| match procctl::proc::thread_count() {
            Some(1) => 0,
            Some(n) => n.min(100) as i32,
            None => 101,
        })
    }
    .unwrap();
    assert_eq!(wait10(&child).code(), Some(0));
    drop(tx);
    for t in threads {
        t.join().unwrap();
    }
    until_single_threaded();
}

/// Runs `scenario` in a forked child whose stdout and stderr go to
/// /dev/null (it starts a noisy thread) and expects it to exit with 0.
fn in_quiet_child(scenario: fn() -> i32) {
    let child = fork(|| {
        arm_alarm();
        let null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        // SAFETY: dup2 on valid descriptors.
        unsafe {
            libc::dup2(null.as_raw_fd(), 1);
            libc::dup2(null.as_raw_fd(), 2);
        }
        scenario()
    })
    .unwrap();
    let status = wait10(&child);
    assert_eq!(
        status,
        ExitStatus::Exited(0),
        "1 = a child hung, 2 = wrong status"
    );
}

/// Forks 40 `fork_unchecked` children, each running `body`, while
/// `noise` runs in a loop on another thread; each must end with
/// `expected` within 2 s. 0 if all did, 1 at the first that hung, 2 for a
/// wrong status.
fn children_beside(noise: fn(), body: fn() -> i32, expected: ExitStatus) -> i32 {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    let stop = Arc::new(AtomicBool::new(false));
    let noisy: Vec<_> = (0..1)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(SeqCst) {
                    noise();
                }
            })
        })
        .collect();
    let mut verdict = 0;
    for _ in 0..40 {
        // SAFETY: `body` only returns or panics: the closure follows the
        // rules of a multi-threaded fork; what procctl does around it is
        // what the test checks.
        let child = unsafe { procctl::proc::fork_unchecked(body) }.unwrap();
        match child.wait_timeout(Duration::from_secs(2)).unwrap() {
            Some(status) if status == expected => {}
            Some(_) => {
                verdict = 2;
                break;
            }
            None => {
                let _ = child.kill();
                let _ = child.wait();
                verdict = 1;
                break;
            }
        }
    }
    stop.store(true, SeqCst);
    for thread in noisy {
        thread.join().unwrap();
    }
    verdict
}

/// Set by `print_holding_the_lock` while it holds stdout's lock.
static PRINTER_HOLDS_STDOUT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Prints a line and keeps stdout's lock for 1 ms, then leaves it free for
/// 100 µs (for the forking thread's pre-fork flush).
fn print_holding_the_lock() {
    use std::sync::atomic::Ordering::SeqCst;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "noise from another thread").unwrap();
        PRINTER_HOLDS_STDOUT.store(true, SeqCst);
        spin(Duration::from_millis(1));
        PRINTER_HOLDS_STDOUT.store(false, SeqCst);
    }
    spin(Duration::from_micros(100));
}

/// A `pthread_atfork` prepare handler: runs after procctl's pre-fork
/// flush, just before the process is copied, and waits (at most 100 ms)
/// until the printer holds stdout's lock again, so that every child is
/// made while another thread holds it (left to chance, the forking thread
/// usually wins: it has just released the lock).
extern "C" fn fork_while_the_printer_holds_stdout() {
    use std::sync::atomic::Ordering::SeqCst;
    let start = std::time::Instant::now();
    while !PRINTER_HOLDS_STDOUT.load(SeqCst) && start.elapsed() < Duration::from_millis(100) {
        std::hint::spin_loop();
    }
}

/// Busy-waits for `d` (a sleeping thread would not take the lock back in
/// time).
fn spin(d: Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Issue 14, item 13: with another thread printing in a loop (so holding
/// std's stdout lock most of the time), a `fork_unchecked` child whose
/// closure only returns must not touch that lock: each of 40 exits.
fn fork_unchecked_child_takes_no_stdout_lock() {
    in_quiet_child(|| {
        // SAFETY: registers a plain function (in this forked test process
        // only) that reads an atomic and the clock.
        unsafe { libc::pthread_atfork(Some(fork_while_the_printer_holds_stdout), None, None) };
        children_beside(print_holding_the_lock, || 7, ExitStatus::Exited(7))
    });
}

/// Issue 14, item 13: a panic in a `fork_unchecked` child becomes exit
/// code 101 without the panic machinery's locks (the default hook's
/// backtrace lock, held here by a thread that keeps panicking).
fn fork_unchecked_panic_takes_no_lock() {
    in_quiet_child(|| {
        children_beside(
            || {
                let _ = std::panic::catch_unwind(|| panic!("noise: a panic in another thread"));
            },
            || panic!("a panic in a fork_unchecked child"),
            ExitStatus::Exited(101),
        )
    });
}

/// The panic of a `fork_unchecked` child is still reported: its location
/// and message on descriptor 2, written without std's stderr, and exit
/// code 101. A later safe `fork` still runs the program's hook.
fn fork_unchecked_panic_message_reaches_stderr() {
    let (mut r, w) = std::io::pipe().unwrap();
    let fd = w.as_raw_fd();
    // SAFETY: single-threaded here; the child only calls dup2 (on valid
    // descriptors) and panics.
    let child = unsafe {
        procctl::proc::fork_unchecked(|| {
            libc::dup2(fd, 2);
            let n = std::hint::black_box(42);
            panic!("deliberate panic number {n}")
        })
    }
    .unwrap();
    drop(w);
    let mut err = String::new();
    r.read_to_string(&mut err).unwrap();
    assert_eq!(wait10(&child), ExitStatus::Exited(101));
    assert!(
        err.starts_with("panicked in a fork_unchecked child at tests/unix/fork.rs:")
            && err.ends_with(": deliberate panic number 42\n"),
        "{err:?}"
    );

    let (mut r, w) = std::io::pipe().unwrap();
    let fd = w.as_raw_fd();
    let child = fork(|| {
        // SAFETY: dup2 on valid descriptors.
        unsafe { libc::dup2(fd, 2) };
        panic!("a panic in a safe fork")
    })
    .unwrap();
    drop(w);
    let mut err = String::new();
    r.read_to_string(&mut err).unwrap();
    assert_eq!(wait10(&child), ExitStatus::Exited(101));
    assert!(err.contains("a panic in a safe fork"), "{err:?}");
    assert!(
        !err.contains("panicked in a fork_unchecked child"),
        "{err:?}"
    );
}
