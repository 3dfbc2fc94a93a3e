//! `Command`, `Stdio`, `communicate`, `popen`: real processes, real
//! `/bin/sh`. Every wait has a deadline that kills the child and fails.
//!
//! Tests that count zombies or descriptors take `SERIAL` for writing;
//! every other test takes it for reading, so nothing of theirs is in
//! flight while the counting ones look.

#![cfg(unix)]

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard, mpsc};
use std::time::Duration;

use procctl::error::SpawnStep;
use procctl::proc::{Child, Command, DropPolicy, PopenMode, Stdio, popen, popen2};
use procctl::{Error, ExitStatus, Pid, Signal};

const DEADLINE: Duration = Duration::from_secs(10);

static SERIAL: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    SERIAL.read().unwrap_or_else(|p| p.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    SERIAL.write().unwrap_or_else(|p| p.into_inner())
}

/// Waits with a deadline; on timeout kills the child and fails.
fn wait(child: &Child) -> ExitStatus {
    match child.wait_timeout(DEADLINE).expect("wait") {
        Some(status) => status,
        None => {
            let _ = child.kill();
            panic!("child {} still running after {DEADLINE:?}", child.pid());
        }
    }
}

/// Runs the command with piped stdout/stderr and a deadline.
fn run(cmd: &mut Command) -> procctl::proc::Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .communicate_timeout(b"", DEADLINE)
        .expect("communicate")
}

fn sh(script: &str) -> Command {
    let mut c = Command::new("/bin/sh");
    c.args(["-c", script]);
    c
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Runs `f` on another thread; if it does not finish in time, kills `pid`
/// and fails.
fn within<T: Send + 'static>(pid: Pid, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(v) => v,
        Err(_) => {
            // SAFETY: kill takes plain integers.
            unsafe { libc::kill(pid.as_raw(), libc::SIGKILL) };
            panic!("process {pid} did not finish in {DEADLINE:?}");
        }
    }
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("procctl-command-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Our children that are zombies right now (`reap::zombie_children`).
fn zombies() -> Vec<procctl::Pid> {
    procctl::reap::zombie_children().expect("read /proc")
}

fn fd_count() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

// --- errors --------------------------------------------------------------

#[test]
fn missing_program_is_not_found() {
    let _g = shared();
    for program in ["procctl-no-such-program", "/no/such/dir/prog"] {
        let err = Command::new(program).spawn().unwrap_err();
        match &err {
            Error::NotFound { program: p, .. } => assert_eq!(p, program),
            other => panic!("{program}: {other:?}"),
        }
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        assert!(err.to_string().contains(program), "{err}");
        assert_eq!(
            std::io::Error::from(err).kind(),
            std::io::ErrorKind::NotFound
        );
    }
}

#[test]
fn directory_as_program_is_permission_denied() {
    let _g = shared();
    let dir = tmp("a-directory");
    fs::create_dir_all(&dir).unwrap();
    let err = Command::new(&dir).spawn().unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    assert_eq!(err.raw_os_error(), Some(libc::EACCES));
    assert!(err.to_string().contains(dir.to_str().unwrap()), "{err}");
}

#[test]
fn non_executable_file_is_permission_denied() {
    let _g = shared();
    let file = tmp("not-executable");
    fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let err = Command::new(&file).spawn().unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    assert_eq!(err.raw_os_error(), Some(libc::EACCES));
    assert!(err.to_string().contains("not-executable"), "{err}");
}

#[test]
fn bad_current_dir_is_a_chdir_failure() {
    let _g = shared();
    let err = Command::new("true")
        .current_dir("/no/such/directory")
        .spawn()
        .unwrap_err();
    match &err {
        Error::Spawn { program, step, .. } => {
            assert_eq!(program, "true");
            assert_eq!(*step, SpawnStep::Chdir);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.spawn_step(), Some(SpawnStep::Chdir));
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    assert_eq!(
        err.to_string(),
        "failed to start true: chdir /no/such/directory failed"
    );
}

/// Issue 14, item 19: the most common exec failures carry the step too.
#[test]
fn exec_failures_report_the_exec_step() {
    let _g = shared();
    let file = tmp("not-executable-step");
    fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let cases = [
        (PathBuf::from("procctl-no-such-program"), libc::ENOENT),
        (PathBuf::from("/no/such/dir/prog"), libc::ENOENT),
        (file, libc::EACCES),
        (PathBuf::from("/"), libc::EACCES),
    ];
    for (program, errno) in cases {
        let err = Command::new(&program).spawn().unwrap_err();
        assert_eq!(
            err.spawn_step(),
            Some(SpawnStep::Exec),
            "{program:?}: {err:?}"
        );
        assert_eq!(err.raw_os_error(), Some(errno), "{program:?}");
        let kind = std::io::Error::from(err).kind();
        let want = if errno == libc::ENOENT {
            std::io::ErrorKind::NotFound
        } else {
            std::io::ErrorKind::PermissionDenied
        };
        assert_eq!(kind, want, "{program:?}");
    }
}

#[test]
fn keeping_a_closed_fd_is_a_dup2_failure() {
    let _g = shared();
    let err = Command::new("true").keep_fd(987).spawn().unwrap_err();
    assert_eq!(err.spawn_step(), Some(SpawnStep::Dup2), "{err:?}");
    assert_eq!(err.raw_os_error(), Some(libc::EBADF));
}

/// Issue 14, item 10: a kept number that is closed must not be filled by
/// the spawn's own pipe (the child would silently keep that pipe end).
#[test]
fn keeping_a_closed_fd_is_refused_even_where_a_pipe_would_land() {
    // Nothing else may open or close descriptors while we pick the number.
    let _g = exclusive();
    for _ in 0..20 {
        // The lowest free number: where the next pipe lands.
        let probe = fs::File::open("/dev/null").unwrap();
        let free = probe.as_raw_fd();
        drop(probe);
        let res = Command::new("cat")
            .keep_fd(free)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn();
        match res {
            Ok(child) => {
                let _ = child.kill();
                let _ = child.wait_timeout(DEADLINE);
                panic!("fd {free} was closed, yet the spawn kept something there");
            }
            Err(err) => {
                assert_eq!(err.spawn_step(), Some(SpawnStep::Dup2), "{err:?}");
                assert_eq!(err.raw_os_error(), Some(libc::EBADF));
            }
        }
    }
}

#[test]
fn bad_arguments_are_refused_before_anything_runs() {
    let _g = shared();
    let err = Command::new("echo").arg("a\0b").spawn().unwrap_err();
    assert!(
        matches!(
            err,
            Error::NulByte {
                what: "argument",
                ..
            }
        ),
        "{err:?}"
    );
    let err = Command::new("true").env("A=B", "c").spawn().unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    let err = Command::new("true")
        .ignore_signal(Signal::KILL)
        .spawn()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    let err = Command::new("true").process_group(-2).spawn().unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    let err = Command::new("").spawn().unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
}

#[test]
fn failed_spawns_leave_no_zombie_and_no_fd() {
    let _g = exclusive();
    let fds = fd_count();
    for i in 0..100 {
        let err = match i % 4 {
            0 => Command::new("procctl-no-such-program").spawn(),
            1 => Command::new("/").spawn(),
            2 => Command::new("true").current_dir("/no/such").spawn(),
            _ => Command::new("procctl-no-such-program")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn(),
        }
        .unwrap_err();
        assert!(err.raw_os_error().is_some(), "{err:?}");
    }
    assert_eq!(zombies(), vec![]);
    assert_eq!(fd_count(), fds);
}

// --- descriptors -------------------------------------------------------

/// The descriptors the shell sees, from inside it.
fn child_fds(cmd: &mut Command) -> Vec<i32> {
    let out = stdout_of(cmd.args(["-c", "ls /proc/$$/fd"]));
    let mut fds: Vec<i32> = out.split_whitespace().map(|s| s.parse().unwrap()).collect();
    fds.sort();
    fds
}

/// Issue 14, item 9: the spawn's own pipe and `/dev/null` ends land above
/// the parent's descriptors; the child must still not copy the parent's
/// whole table. A table's size shows in the child's `FDSize` (Linux).
#[cfg(target_os = "linux")]
#[test]
fn pipes_above_many_descriptors_do_not_copy_the_table() {
    let _g = exclusive();
    let held: Vec<fs::File> = (0..3000)
        .map(|_| fs::File::open("/dev/null").unwrap())
        .collect();
    let out = run(sh("grep FDSize /proc/$$/status; read x || echo eof").stdin(Stdio::null()));
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let size: usize = text
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(text.ends_with("eof\n"), "{text}");
    assert!(
        size < 1000,
        "the child's table has room for {size} descriptors with {} held here",
        held.len()
    );
    // The same through output() (stdin /dev/null, stdout and stderr piped).
    let out = sh("echo out; echo err >&2; grep FDSize /proc/$$/status")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let text = String::from_utf8_lossy(&out.stdout);
    let size: usize = text.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(size < 1000, "{text}");
}

/// Issue 14, item 7: with the environment unchanged the child got the
/// live `environ`, which a concurrent `set_var` reallocates (EFAULT).
#[test]
fn spawning_while_another_thread_sets_variables() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let _g = exclusive();
    let stop = Arc::new(AtomicBool::new(false));
    let setter = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut round = 0usize;
            while !stop.load(Ordering::Relaxed) {
                for k in 0..64 {
                    // SAFETY: std serialises set_var/remove_var with its
                    // own readers; procctl must snapshot under that lock.
                    unsafe {
                        std::env::set_var(format!("PROCCTL_ENV_RACE_{k}"), "x".repeat(round % 40))
                    };
                }
                for k in 0..64 {
                    // SAFETY: as above.
                    unsafe { std::env::remove_var(format!("PROCCTL_ENV_RACE_{k}")) };
                }
                round += 1;
            }
        })
    };
    let start = std::time::Instant::now();
    let mut failures = Vec::new();
    let mut n = 0;
    while n < 600 && start.elapsed() < Duration::from_secs(8) {
        match Command::new("true").spawn() {
            Ok(child) => {
                let status = wait(&child);
                if !status.success() {
                    failures.push(status.to_string());
                }
            }
            Err(e) => failures.push(format!("{e:?}")),
        }
        n += 1;
    }
    stop.store(true, Ordering::Relaxed);
    setter.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {n} spawns failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
}

#[test]
fn only_stdio_reaches_the_child_by_default() {
    let _g = shared();
    // An fd without close-on-exec: POSIX would pass it on.
    // SAFETY: dup returns a new fd that we own.
    let leaky = unsafe { OwnedFd::from_raw_fd(libc::dup(1)) };
    assert!(leaky.as_raw_fd() > 2);
    assert_eq!(child_fds(&mut Command::new("/bin/sh")), [0, 1, 2]);
    // With the allowlist off it does reach the child.
    let fds = child_fds(Command::new("/bin/sh").inherit_fds(true));
    assert!(fds.contains(&leaky.as_raw_fd()), "{fds:?}");
}

#[test]
fn keep_fd_passes_that_fd_only() {
    let _g = shared();
    let file = fs::File::open("/dev/null").unwrap(); // close-on-exec
    let fd = file.as_raw_fd();
    assert_eq!(
        child_fds(Command::new("/bin/sh").keep_fd(fd)),
        [0, 1, 2, fd]
    );
}

#[test]
fn map_fd_delivers_the_right_file_at_the_right_number() {
    let _g = shared();
    let a = tmp("map-a");
    let b = tmp("map-b");
    fs::write(&a, "file a\n").unwrap();
    fs::write(&b, "file b\n").unwrap();
    let out = stdout_of(
        // A simple command, not a pipeline: while a pipeline starts, the
        // shell itself holds the pipe's ends, and `ls` could list them.
        sh("cat <&3; cat <&7; ls /proc/$$/fd")
            .map_fd(fs::File::open(&a).unwrap().into(), 3)
            .map_fd(fs::File::open(&b).unwrap().into(), 7),
    );
    assert_eq!(out, "file a\nfile b\n0\n1\n2\n3\n7\n");
}

#[test]
fn map_fd_handles_sources_sitting_on_targets() {
    let _g = shared();
    let a = tmp("swap-a");
    let b = tmp("swap-b");
    fs::write(&a, "A\n").unwrap();
    fs::write(&b, "B\n").unwrap();
    let fa: OwnedFd = fs::File::open(&a).unwrap().into();
    let fb: OwnedFd = fs::File::open(&b).unwrap().into();
    let (na, nb) = (fa.as_raw_fd(), fb.as_raw_fd());
    // Swap: a goes where b is and b where a is. (Read through /dev/fd:
    // dash cannot redirect from a descriptor above 9.)
    let out = stdout_of(
        sh(&format!("cat /dev/fd/{na} /dev/fd/{nb}"))
            .map_fd(fa, nb)
            .map_fd(fb, na),
    );
    assert_eq!(out, "B\nA\n");
}

#[test]
fn high_fds_are_passed_or_closed_and_the_parents_table_is_untouched() {
    let _g = shared();
    let fd_target = |fd: i32| fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
    let stdio_before: Vec<PathBuf> = (0..3).map(fd_target).collect();
    let a = tmp("high-a");
    fs::write(&a, "high a\n").unwrap();
    let file = fs::File::open(&a).unwrap();
    // Two descriptors far above the rest, near the top of what the
    // process may open: one without close-on-exec that the allowlist must
    // still close, one to pass at its own number.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: limit is a writable rlimit.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    let top = limit.rlim_cur.min(1 << 16) as i32;
    assert!(top >= 64, "RLIMIT_NOFILE {top} is too low for this test");
    let dup_at = |cmd: i32, min: i32| {
        // SAFETY: F_DUPFD* returns a new descriptor that we own.
        let fd = unsafe { libc::fcntl(file.as_raw_fd(), cmd, min) };
        assert!(
            fd >= min,
            "F_DUPFD at {min}: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: as above.
        unsafe { OwnedFd::from_raw_fd(fd) }
    };
    let leaky = dup_at(libc::F_DUPFD, top / 2);
    let kept = dup_at(libc::F_DUPFD_CLOEXEC, top - 8);
    let (kept_fd, leaky_fd) = (kept.as_raw_fd(), leaky.as_raw_fd());
    let mut cmd = sh(&format!("cat /dev/fd/{kept_fd}; cat <&3; ls /proc/$$/fd"));
    cmd.keep_fd(kept_fd)
        .map_fd(fs::File::open(&a).unwrap().into(), 3)
        .stdin(Stdio::null());
    let out = stdout_of(&mut cmd);
    let fds = out
        .strip_prefix("high a\nhigh a\n")
        .unwrap_or_else(|| panic!("{out:?}"));
    let mut fds: Vec<i32> = fds.split_whitespace().map(|s| s.parse().unwrap()).collect();
    fds.sort();
    assert_eq!(fds, [0, 1, 2, 3, kept_fd]);
    // The child rearranged its own descriptors only: ours are where they
    // were, and the high ones are still open.
    let stdio_after: Vec<PathBuf> = (0..3).map(fd_target).collect();
    assert_eq!(stdio_before, stdio_after);
    assert_eq!(fd_target(leaky_fd), fd_target(kept_fd));
}

#[test]
fn stdio_from_files_and_pipes() {
    let _g = shared();
    let input = tmp("stdin-file");
    fs::write(&input, "from a file\n").unwrap();
    let output = tmp("stdout-file");
    let status = Command::new("cat")
        .stdin(fs::File::open(&input).unwrap())
        .stdout(fs::File::create(&output).unwrap())
        .spawn()
        .map(|c| wait(&c))
        .unwrap();
    assert!(status.success());
    assert_eq!(fs::read_to_string(&output).unwrap(), "from a file\n");

    let (r, mut w) = std::io::pipe().unwrap();
    let (mut r2, w2) = std::io::pipe().unwrap();
    let mut cmd = Command::new("cat");
    let child = cmd.stdin(r).stdout(w2).spawn().unwrap();
    drop(cmd); // the Command held our copies of the pipe ends
    w.write_all(b"through pipes").unwrap();
    drop(w);
    let mut got = String::new();
    r2.read_to_string(&mut got).unwrap();
    assert_eq!(got, "through pipes");
    assert!(wait(&child).success());
}

// --- the rest of the builder --------------------------------------------

#[test]
fn env_arg0_and_current_dir() {
    let _g = shared();
    assert_eq!(
        stdout_of(sh("echo $PROCCTL_X").env("PROCCTL_X", "set")),
        "set\n"
    );
    assert_eq!(
        stdout_of(sh("echo ${HOME-none}").env_remove("HOME")),
        "none\n"
    );
    let env = stdout_of(Command::new("/usr/bin/env").env_clear().env("ONLY", "1"));
    assert_eq!(env, "ONLY=1\n");
    assert_eq!(
        stdout_of(sh("echo $0").arg0("custom-name")),
        "custom-name\n"
    );
    assert_eq!(stdout_of(Command::new("pwd").current_dir("/tmp")), "/tmp\n");
    // A PATH set for the child is where the program is looked up.
    let err = Command::new("sh")
        .env("PATH", "/nowhere")
        .spawn()
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[test]
fn script_without_shebang_runs_under_sh() {
    let _g = shared();
    let script = tmp("no-shebang");
    fs::write(&script, "echo ran by sh \"$1\"\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(stdout_of(Command::new(&script).arg("x")), "ran by sh x\n");
}

fn stat_field(pid: &str, n: usize) -> String {
    // fields after the ")" start at 3; pgrp is 5, session 6.
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split_whitespace().nth(n - 3).unwrap().to_owned()
}

#[test]
fn process_group_and_setsid() {
    let _g = shared();
    let me = std::process::id().to_string();
    let out = stdout_of(sh("cat /proc/$$/stat").process_group(0));
    let pid = out.split_whitespace().next().unwrap();
    let fields: Vec<&str> = out[out.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    assert_eq!(fields[2], pid, "pgrp is the child's pid");
    assert_eq!(fields[3], stat_field(&me, 6), "same session as us");

    let out = stdout_of(sh("cat /proc/$$/stat").setsid(true));
    let pid = out.split_whitespace().next().unwrap();
    let fields: Vec<&str> = out[out.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    assert_eq!(fields[2], pid, "pgrp is the child's pid");
    assert_eq!(fields[3], pid, "session is the child's pid");

    // Issue 14, item 8: a new session is a new group led by the child,
    // so naming that group (0) is already satisfied...
    let out = stdout_of(sh("cat /proc/$$/stat").setsid(true).process_group(0));
    let pid = out.split_whitespace().next().unwrap();
    let fields: Vec<&str> = out[out.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    assert_eq!(fields[2], pid, "pgrp is the child's pid");
    assert_eq!(fields[3], pid, "session is the child's pid");
    // ...and any other group cannot be: refused before a process exists.
    let err = Command::new("true")
        .setsid(true)
        .process_group(std::process::id() as i32)
        .spawn()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");

    // Joining a group that does not exist.
    let err = Command::new("true")
        .process_group(i32::MAX - 1)
        .spawn()
        .unwrap_err();
    assert_eq!(err.spawn_step(), Some(SpawnStep::Setpgid), "{err:?}");
}

#[test]
fn drop_policy_is_applied() {
    let _g = shared();
    let child = Command::new("sleep")
        .arg("60")
        .drop_policy(DropPolicy::KillAndReap)
        .spawn()
        .unwrap();
    assert_eq!(child.drop_policy(), DropPolicy::KillAndReap);
    let pid = child.pid();
    drop(child);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

// --- concurrency ---------------------------------------------------------

#[test]
fn four_threads_250_spawns_each() {
    let _g = exclusive();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..250 {
                    let child = Command::new("/bin/true").spawn().expect("spawn");
                    assert!(wait(&child).success());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(zombies(), vec![]);
}

#[test]
fn any_child_wait_never_steals_a_new_childs_status() {
    let _g = exclusive();
    // One thread spawns, another reaps "any child" at the same time: each
    // Child must still see its own status.
    beside_an_any_child_reaper(|| {
        for i in 0..200 {
            let child = sh(&format!("exit {}", i % 50)).spawn().unwrap();
            assert_eq!(wait(&child).code(), Some(i % 50));
        }
    });
}

/// Runs `f` while another thread reaps "any child" in a loop.
fn beside_an_any_child_reaper(f: impl FnOnce()) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reaper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = procctl::reap::reap_zombies();
            }
        })
    };
    f();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    reaper.join().unwrap();
}

#[test]
fn waits_from_several_threads_and_try_wait_agree() {
    let _g = shared();
    // `wait` reaps through the pidfd without the reap lock on Linux; every
    // other waiter (a second `wait`, `try_wait`, `wait_timeout`) must
    // still get the same status, never `NotChild`.
    for i in 0..100 {
        let child = std::sync::Arc::new(sh(&format!("exit {}", i % 40)).spawn().unwrap());
        let pid = child.pid();
        let waiters: Vec<_> = (0..3)
            .map(|k| {
                let child = child.clone();
                std::thread::spawn(move || match k {
                    0 | 1 => child.wait().unwrap(),
                    _ => child.wait_timeout(DEADLINE).unwrap().expect("exited"),
                })
            })
            .collect();
        let polled = within(pid, {
            let child = child.clone();
            move || loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break s;
                }
                std::thread::yield_now();
            }
        });
        assert_eq!(polled.code(), Some(i % 40));
        for w in waiters {
            assert_eq!(w.join().unwrap(), polled);
        }
        assert_eq!(child.wait().unwrap(), polled);
    }
}

#[test]
fn wait_beside_an_any_child_reaper_gets_its_status() {
    let _g = exclusive();
    // `Child::wait` (pidfd reap, no lock while blocked) racing a thread
    // that reaps any child in a loop: whoever reaps, the handle gets the
    // status, and the registry forgets only its own entry even when the
    // pid comes back for the next child.
    beside_an_any_child_reaper(|| {
        for i in 0..200 {
            let child = sh(&format!("exit {}", i % 50)).spawn().unwrap();
            let pid = child.pid();
            let status = within(pid, move || child.wait().unwrap());
            assert_eq!(status.code(), Some(i % 50));
        }
    });
    assert_eq!(zombies(), vec![]);
}

// --- communicate -------------------------------------------------------

#[test]
fn communicate_4_mib_each_way() {
    let _g = shared();
    let input: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
    let child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.communicate_timeout(&input, DEADLINE).unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input);
    assert!(out.stderr.is_empty());
}

#[test]
fn communicate_both_outputs_at_once() {
    let _g = shared();
    // 1 MiB to each of stdout and stderr, interleaved: a reader of one
    // stream at a time would deadlock.
    let child = sh("i=0; while [ $i -lt 16 ]; do head -c 65536 /dev/zero; head -c 65536 /dev/zero >&2; i=$((i+1)); done")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.communicate_timeout(b"", DEADLINE).unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), 1 << 20);
    assert_eq!(out.stderr.len(), 1 << 20);
}

#[test]
fn a_child_that_stops_reading_is_not_an_error() {
    let _g = shared();
    let child = sh("head -c 10 >/dev/null; echo read ten")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child
        .communicate_timeout(&vec![b'x'; 4 << 20], DEADLINE)
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"read ten\n");
}

#[test]
fn communicate_timeout_kills_the_child() {
    let _g = shared();
    let child = Command::new("sleep")
        .arg("60")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child
        .communicate_timeout(b"", Duration::from_millis(200))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                what: "communicate",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::TimedOut
    );
    assert_eq!(
        child.try_wait().unwrap().and_then(|s| s.signal()),
        Some(Signal::KILL)
    );
}

#[test]
fn communicate_input_needs_a_piped_stdin() {
    let _g = shared();
    let child = Command::new("true").stdin(Stdio::null()).spawn().unwrap();
    let err = child.communicate(b"x").unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    assert!(wait(&child).success());
}

#[test]
fn adopting_a_std_child() {
    let _g = shared();
    let std_child = std::process::Command::new("cat")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let child = Child::from(std_child);
    let out = child.communicate_timeout(b"adopted", DEADLINE).unwrap();
    assert_eq!(out.stdout, b"adopted");
    assert!(out.status.success());

    // Already reaped by std: the status is kept.
    let mut std_child = std::process::Command::new("sh")
        .args(["-c", "exit 4"])
        .spawn()
        .unwrap();
    let std_status = std_child.wait().unwrap();
    let child = Child::from(std_child);
    assert_eq!(wait(&child).code(), Some(4));
    assert_eq!(std_status.code(), Some(4));
}

// --- popen ---------------------------------------------------------------

#[test]
fn popen_write_into_cat_returns_after_close() {
    let _g = shared();
    let out = tmp("popen-cat");
    let mut p = popen(&format!("cat > '{}'", out.display()), PopenMode::Write).unwrap();
    let pid = p.pid();
    let status = within(pid, move || {
        p.write_all(&vec![b'y'; 1 << 20]).unwrap();
        p.close().unwrap()
    });
    assert!(status.success());
    assert_eq!(fs::metadata(&out).unwrap().len(), 1 << 20);
}

#[test]
fn popen_read_and_popen2() {
    let _g = shared();
    let mut p = popen("echo one; echo two", PopenMode::Read).unwrap();
    let pid = p.pid();
    let (text, status) = within(pid, move || {
        let mut text = String::new();
        p.read_to_string(&mut text).unwrap();
        let err = p.write(b"x").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
        (text, p.close().unwrap())
    });
    assert_eq!(text, "one\ntwo\n");
    assert!(status.success());

    let mut p = popen2("tr a-z A-Z; exit 6").unwrap();
    let pid = p.pid();
    let (out, status) = within(pid, move || {
        let out = p.communicate(&vec![b'q'; 3 << 20]).unwrap();
        (out, p.close().unwrap())
    });
    assert_eq!(out.len(), 3 << 20);
    assert!(out.iter().all(|&b| b == b'Q'));
    assert_eq!(status.code(), Some(6));
}

#[test]
fn popen_drop_closes_and_waits() {
    let _g = shared();
    let p = popen("cat >/dev/null", PopenMode::Write).unwrap();
    let pid = p.pid();
    within(pid, move || drop(p));
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn popen_refuses_nul() {
    let _g = shared();
    let err = popen("echo a\0b", PopenMode::Read).unwrap_err();
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
