//! Reaping without a background thread, and init mode. `harness = false`:
//! the safe `fork` needs a single-threaded process, and these tests change
//! process-wide state (the subreaper bit, the signal mask).
//! (Unix only; `tests/reap.rs` includes this file.)

use std::time::{Duration, Instant};

use crate::support::{self, arm_alarm, eventually, fd_count, wait10};
use procctl::proc::{DropPolicy, execvp, fork};
use procctl::reap::{Init, reap_zombies, zombie_children};
use procctl::{ExitStatus, Pid, Signal};

pub fn main() {
    support::run(&[
        ("reap_zombies_empty", reap_zombies_empty),
        (
            "reap_zombies_collects_and_tells_handles",
            reap_zombies_collects_and_tells_handles,
        ),
        (
            "thousand_dropped_children_no_zombies_no_thread",
            thousand_dropped_children_no_zombies_no_thread,
        ),
        (
            "exited_orphans_among_many_running_are_reaped",
            exited_orphans_among_many_running_are_reaped,
        ),
        (
            "a_child_forked_by_other_code_leaves_the_parents_orphans_alone",
            a_child_forked_by_other_code_leaves_the_parents_orphans_alone,
        ),
        (
            "drop_policy_kill_and_detach_with_exec",
            drop_policy_kill_and_detach_with_exec,
        ),
        (
            "zombie_children_lists_zombies",
            zombie_children_lists_zombies,
        ),
        ("subreaper_bit", subreaper_bit),
        (
            "init_reaps_orphaned_grandchild",
            init_reaps_orphaned_grandchild,
        ),
        ("init_forwards_sigterm", init_forwards_sigterm),
        ("init_kills_group_on_exit", init_kills_group_on_exit),
        ("mini_init_exit_codes", mini_init_exit_codes),
    ]);
}

/// A child that runs `sh -c script`.
fn sh(script: &'static str) -> procctl::proc::Child {
    fork(move || {
        Init::prepare_child();
        let err = execvp("sh", &["sh", "-c", script]);
        eprintln!("{err}");
        127
    })
    .unwrap()
}

fn reap_zombies_empty() {
    assert_eq!(reap_zombies().unwrap(), vec![]);
}

fn reap_zombies_collects_and_tells_handles() {
    let kids: Vec<_> = (0..5).map(|i| fork(move || i).unwrap()).collect();
    let mut got = Vec::new();
    eventually("five children reaped", || {
        got.extend(reap_zombies().unwrap());
        got.len() == 5
    });
    got.sort_by_key(|(pid, _)| pid.as_raw());
    for (i, kid) in kids.iter().enumerate() {
        assert!(
            got.contains(&(kid.pid(), ExitStatus::Exited(i as i32))),
            "{got:?}"
        );
        // The handle received the status.
        assert_eq!(kid.try_wait().unwrap(), Some(ExitStatus::Exited(i as i32)));
    }
    assert_eq!(reap_zombies().unwrap(), vec![]);
}

fn thousand_dropped_children_no_zombies_no_thread() {
    let fds = fd_count();
    let mut last = None;
    for _ in 0..1000 {
        last = Some(fork(|| 0).unwrap().pid()); // dropped at once
    }
    let last = last.unwrap();
    eventually("the last dropped child exited", || {
        std::fs::read_to_string(format!("/proc/{last}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
    });
    std::thread::sleep(Duration::from_millis(50));
    // The next procctl call reaps every orphan, without starting a thread.
    let child = fork(|| 0).unwrap();
    wait10(&child);
    drop(child); // its pidfd
    assert_eq!(zombie_children().unwrap(), vec![]);
    assert_eq!(
        procctl::proc::thread_count(),
        Some(1),
        "a thread was started"
    );
    assert_eq!(fd_count(), fds, "descriptors leaked");
}

/// Whether `pid` is a zombie (or already gone).
fn exited(pid: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.contains(") Z "))
        .unwrap_or(true)
}

/// The next procctl call (here a fork) reaps the orphans that exited and
/// leaves the running ones parked, however many there are.
fn exited_orphans_among_many_running_are_reaped() {
    use std::io::Read;
    let fds = fd_count();
    let (r, w) = procctl::pipe::pipe().unwrap();
    let wfd = std::os::fd::AsRawFd::as_raw_fd(&w);
    for _ in 0..300 {
        let r = r.try_clone().unwrap();
        // Dropped at once: parked, running until the pipe closes.
        let _ = fork(move || {
            arm_alarm();
            // SAFETY: closes this child's copy of the write end.
            unsafe { libc::close(wfd) };
            let _ = (&r).read(&mut [0]);
            0
        })
        .unwrap();
    }
    drop(r);
    let quick: Vec<Pid> = (0..5).map(|_| fork(|| 0).unwrap().pid()).collect(); // parked
    eventually("the five quick orphans exited", || {
        quick.iter().all(|&p| exited(p))
    });
    let probe = fork(|| 0).unwrap();
    wait10(&probe);
    drop(probe);
    assert_eq!(procctl::reap::pending_orphans(), 300);
    assert_eq!(zombie_children().unwrap(), vec![]);
    drop(w); // the 300 exit
    eventually("all orphans reaped", || {
        let probe = fork(|| 0).unwrap();
        wait10(&probe);
        procctl::reap::pending_orphans() == 0
    });
    assert_eq!(zombie_children().unwrap(), vec![]);
    assert_eq!(fd_count(), fds, "descriptors leaked");
}

/// A child made by `libc::fork` (not procctl's) inherits a copy of
/// procctl's bookkeeping and shares the parent's orphan set: procctl must
/// forget both there, so that the child neither counts the parent's
/// orphans nor unregisters them from the parent's set.
fn a_child_forked_by_other_code_leaves_the_parents_orphans_alone() {
    use std::io::Read;
    let (r, w) = procctl::pipe::pipe().unwrap();
    let wfd = std::os::fd::AsRawFd::as_raw_fd(&w);
    // Running when its handle drops, so it is parked, not reaped at once.
    let orphan = fork(move || {
        arm_alarm();
        // SAFETY: closes this child's copy of the write end.
        unsafe { libc::close(wfd) };
        let _ = (&r).read(&mut [0]);
        0
    })
    .unwrap()
    .pid();
    drop(w);
    eventually("the orphan exited", || exited(orphan));
    // Not reaped yet: no procctl call since. Now fork behind procctl's back.
    // SAFETY: single-threaded process; the child only uses procctl and
    // _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let ok = (|| {
            let mine = fork(|| 0).ok()?.pid(); // dropped: the child's orphan
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                let probe = fork(|| 0).ok()?;
                probe.wait().ok()?;
                drop(probe);
                if exited(mine) && procctl::reap::pending_orphans() == 0 {
                    // Its own orphan reaped, the parent's never counted.
                    return Some(zombie_children().ok()?.is_empty());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            None
        })();
        // SAFETY: ends the forked child at once.
        unsafe { libc::_exit(if ok == Some(true) { 0 } else { 1 }) };
    }
    assert!(pid > 0);
    // Raw waitpid, no procctl call here meanwhile: the parent's orphan must
    // stay parked until the child is done.
    let mut raw = 0;
    eventually("the libc::fork child ended", || {
        // SAFETY: polling our own child.
        unsafe { libc::waitpid(pid, &mut raw, libc::WNOHANG) == pid }
    });
    assert_eq!(
        ExitStatus::from_raw(raw),
        Some(ExitStatus::Exited(0)),
        "the child counted the parent's orphans or kept a zombie"
    );
    // The parent's orphan is still parked, and its set still reports it.
    assert_eq!(procctl::reap::pending_orphans(), 1);
    let probe = fork(|| 0).unwrap();
    wait10(&probe);
    drop(probe);
    assert_eq!(procctl::reap::pending_orphans(), 0);
    assert_eq!(zombie_children().unwrap(), vec![]);
}

fn drop_policy_kill_and_detach_with_exec() {
    let child = sh("exec sleep 1000");
    let pid = child.pid();
    child.set_drop_policy(DropPolicy::Kill);
    drop(child);
    eventually("killed sleep reaped", || {
        let _ = reap_zombies();
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });

    let child = sh("exec sleep 1000");
    let pid = child.pid();
    child.set_drop_policy(DropPolicy::Detach);
    drop(child);
    std::thread::sleep(Duration::from_millis(50));
    let _ = reap_zombies();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("detached child runs");
    assert!(!stat.contains(") Z "), "{stat}");
    // Clean up by hand: a detached child is ours to reap.
    // SAFETY: kill takes plain integers.
    unsafe { libc::kill(pid.as_raw(), libc::SIGKILL) };
    let got = procctl::proc::waitpid(pid, procctl::proc::WaitOptions::empty()).unwrap();
    assert_eq!(got.map(|g| g.0), Some(pid));
}

fn zombie_children_lists_zombies() {
    let kids: Vec<_> = (0..3).map(|_| fork(|| 0).unwrap()).collect();
    let mut expected: Vec<Pid> = kids.iter().map(|k| k.pid()).collect();
    expected.sort();
    eventually("three zombies", || zombie_children().unwrap() == expected);
    for k in &kids {
        wait10(k);
    }
    assert_eq!(zombie_children().unwrap(), vec![]);
}

fn subreaper_bit() {
    let child = fork(|| {
        arm_alarm();
        procctl::reap::set_child_subreaper(true).unwrap();
        procctl::reap::is_child_subreaper().unwrap() as i32
    })
    .unwrap();
    assert_eq!(wait10(&child).code(), Some(1));
    assert!(!procctl::reap::is_child_subreaper().unwrap());
}

/// Runs `Init` in a forked child (it changes the mask and the subreaper
/// bit) and reports through the exit code.
fn in_child(f: fn() -> i32) -> ExitStatus {
    let child = fork(move || {
        arm_alarm();
        f()
    })
    .unwrap();
    wait10(&child)
}

fn init_reaps_orphaned_grandchild() {
    let status = in_child(|| {
        let reaped = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let log = reaped.clone();
        // The subshell starts a sleep and exits at once: the sleep is
        // orphaned and adopted by us (subreaper), and ends before the main
        // child does.
        let status = Init::new()
            .on_reap(move |pid, status| log.borrow_mut().push((pid, status)))
            .run(|| Ok(sh("(sleep 0.1 &); sleep 0.4; exit 5")))
            .unwrap();
        let reaped = reaped.borrow();
        let ok = status == ExitStatus::Exited(5)
            && reaped.iter().any(|(_, s)| s.success())
            && zombie_children().unwrap().is_empty();
        if !ok {
            eprintln!("status {status:?}, reaped {reaped:?}");
        }
        ok as i32
    });
    assert_eq!(status.code(), Some(1), "{status}");
}

fn init_forwards_sigterm() {
    let status = in_child(|| {
        let start = Instant::now();
        // Send ourselves SIGTERM once the main child runs; Init forwards it.
        let me = Pid::current();
        let status = Init::new()
            .run(|| {
                let main = sh("trap 'exit 42' TERM; while :; do sleep 0.01; done");
                let _killer = fork(move || {
                    std::thread::sleep(Duration::from_millis(200));
                    // SAFETY: kill takes plain integers.
                    unsafe { libc::kill(me.as_raw(), libc::SIGTERM) };
                    0
                });
                Ok(main)
            })
            .unwrap();
        // The init itself survived SIGTERM; the child got it.
        let ok = status == ExitStatus::Exited(42) && start.elapsed() < Duration::from_secs(5);
        if !ok {
            eprintln!("status {status:?}");
        }
        ok as i32
    });
    assert_eq!(status.code(), Some(1), "{status}");
}

fn init_kills_group_on_exit() {
    let status = in_child(|| {
        let dir = std::env::temp_dir().join(format!("procctl-init-{}", std::process::id()));
        let pidfile = dir.join("pid");
        std::fs::create_dir_all(&dir).unwrap();
        let script: &'static str = Box::leak(
            format!("sleep 1000 & echo $! > {}; exit 0", pidfile.display()).into_boxed_str(),
        );
        let status = Init::new()
            .kill_group_on_exit(true)
            .run(|| {
                Ok(fork(move || {
                    Init::prepare_child();
                    procctl::proc::setpgid(None, None).unwrap();
                    execvp("sh", &["sh", "-c", script]);
                    127
                })
                .unwrap())
            })
            .unwrap();
        let bg: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        // The background sleep was in the group: killed, then reaped (it is
        // our adopted child) or about to be.
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::path::Path::new(&format!("/proc/{bg}")).exists() {
            let _ = reap_zombies();
            if Instant::now() > deadline {
                eprintln!("background sleep {bg} still alive");
                return 0;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        (status == ExitStatus::Exited(0)) as i32
    });
    assert_eq!(status.code(), Some(1), "{status}");
}

/// The `mini_init` example, built by `cargo test` next to this binary.
fn mini_init_exit_codes() {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("mini_init");
    assert!(
        path.exists(),
        "{} not built (cargo test builds examples)",
        path.display()
    );
    let run = |script: &str| {
        std::process::Command::new(&path)
            .args(["sh", "-c", script])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .code()
    };
    assert_eq!(run("exit 0"), Some(0));
    assert_eq!(run("exit 3"), Some(3));
    assert_eq!(run("kill -9 $$"), Some(128 + 9));
    assert_eq!(run("kill -TERM $$"), Some(128 + Signal::TERM.as_raw()));
    // A missing program: the exec failure is reported as 127.
    let status = std::process::Command::new(&path)
        .arg("no-such-program-procctl")
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(127));
}
