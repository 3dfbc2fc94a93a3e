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
    let tests: Vec<support::Test> = vec![
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
            "a_child_of_the_safe_fork_leaves_the_parents_orphans_alone",
            a_child_of_the_safe_fork_leaves_the_parents_orphans_alone,
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
    ];
    // Linux: pidfds, and ns_last_pid to recycle a pid on purpose.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let tests = [tests, recycled::TESTS.to_vec()].concat();
    support::run(&tests);
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
    parents_orphans_left_alone_by_a_child(|body, then| {
        // SAFETY: single-threaded process; the child only uses procctl
        // and _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = body();
            // SAFETY: ends the forked child at once.
            unsafe { libc::_exit(code) };
        }
        assert!(pid > 0);
        then();
        // Raw waitpid, no procctl call here meanwhile: the parent's orphan
        // must stay parked until the child is done.
        let mut raw = 0;
        eventually("the libc::fork child ended", || {
            // SAFETY: polling our own child.
            unsafe { libc::waitpid(pid, &mut raw, libc::WNOHANG) == pid }
        });
        ExitStatus::from_raw(raw).expect("an exit status")
    });
}

/// The same through procctl's safe `fork`, which leaves the copied
/// registry to the same mark (it does not hold the reap lock across the
/// fork, nor reset the registry in the child itself). The parent's
/// orphan is still running when the child is forked (the fork reaps the
/// exited ones first), and exits while the child runs.
fn a_child_of_the_safe_fork_leaves_the_parents_orphans_alone() {
    parents_orphans_left_alone_by_a_child(|body, then| {
        let child = fork(body).unwrap();
        then();
        wait10(&child)
    });
}

/// Parks a running orphan, forks a child through `forker` (which runs
/// the body in the child, calls `then` in the parent, waits for the
/// child and returns its status, with no other procctl call; `then` lets
/// the orphan exit), and checks that the child
/// neither counted nor reaped the parent's orphan (nor took it out of the
/// orphan set it shares with the parent), and that the parent's set
/// still reports it afterwards.
fn parents_orphans_left_alone_by_a_child(
    forker: impl FnOnce(Box<dyn FnOnce() -> i32>, Box<dyn FnOnce()>) -> ExitStatus,
) {
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
    let status = forker(
        Box::new(move || {
            arm_alarm();
            // The first call here already forgets the parent's parked
            // orphan.
            if procctl::reap::pending_orphans() != 0 {
                return 2;
            }
            // SAFETY: closes this child's copy of the write end, so the
            // orphan ends once the parent closes its own.
            unsafe { libc::close(wfd) };
            // The parent's orphan exits while this child runs: its pidfd in
            // the shared orphan set reports it here too.
            eventually("the parent's orphan exited", || exited(orphan));
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
            if ok == Some(true) { 0 } else { 1 }
        }),
        Box::new(move || drop(w)),
    );
    assert_eq!(
        status,
        ExitStatus::Exited(0),
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

/// Pids recycled on purpose (issue 14): Linux only (pidfds,
/// `/proc/sys/kernel/ns_last_pid`).
#[cfg(any(target_os = "linux", target_os = "android"))]
mod recycled {
    use super::*;

    pub const TESTS: &[support::Test] = &[
        (
            "child_wait_never_takes_a_recycled_pids_status",
            child_wait_never_takes_a_recycled_pids_status,
        ),
        (
            "orphans_are_reaped_through_their_pidfds",
            orphans_are_reaped_through_their_pidfds,
        ),
        (
            "from_std_keeps_a_status_with_no_signal_name",
            from_std_keeps_a_status_with_no_signal_name,
        ),
        (
            "a_fork_during_child_wait_leaves_a_handle_that_returns",
            a_fork_during_child_wait_leaves_a_handle_that_returns,
        ),
        (
            "reap_zombies_takes_any_child_owned_paths_do_not",
            reap_zombies_takes_any_child_owned_paths_do_not,
        ),
        (
            "init_never_forwards_to_a_recycled_pid",
            init_never_forwards_to_a_recycled_pid,
        ),
        (
            "a_dropped_handle_leaves_the_entry_of_the_child_that_took_its_pid",
            a_dropped_handle_leaves_the_entry_of_the_child_that_took_its_pid,
        ),
        (
            "an_orphan_whose_pid_a_new_child_takes_is_no_longer_counted",
            an_orphan_whose_pid_a_new_child_takes_is_no_longer_counted,
        ),
    ];

    /// Runs `f` in a forked child with `alarm(10)`, so the threads it starts
    /// and the scheduling it changes die with that child; fails the test
    /// unless `f` returns normally.
    fn isolated(f: fn()) {
        let child = fork(move || {
            arm_alarm();
            f();
            0
        })
        .unwrap();
        assert_eq!(wait10(&child), ExitStatus::Exited(0));
    }

    /// Whether `pid` names no process at all (reaped, not merely exited).
    fn gone(pid: Pid) -> bool {
        // SAFETY: kill with signal 0 only checks for existence.
        let rc = unsafe { libc::kill(pid.as_raw(), 0) };
        rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }

    /// Makes the kernel hand out `pid` next: writes `pid - 1` to
    /// `/proc/sys/kernel/ns_last_pid` (root; this process's pid namespace).
    fn next_pid_is(pid: Pid) {
        std::fs::write(
            "/proc/sys/kernel/ns_last_pid",
            (pid.as_raw() - 1).to_string(),
        )
        .expect("write ns_last_pid (needs root)");
    }

    /// Starts `command` with `std::process` as the process `pid`, a pid
    /// procctl handed out before and that is free again. Other processes
    /// on the machine may take the pid first: retries a few times.
    fn command_at(pid: Pid, command: &mut std::process::Command) -> std::process::Child {
        try_command_at(pid, command)
            .unwrap_or_else(|| panic!("could not start a process as pid {pid}"))
    }

    /// [`command_at`], or `None` if another process on the machine took
    /// the pid first (it forked between our `ns_last_pid` write and our
    /// fork): the caller's round is then inconclusive.
    fn try_command_at(
        pid: Pid,
        command: &mut std::process::Command,
    ) -> Option<std::process::Child> {
        for _ in 0..50 {
            if !gone(pid) {
                return None;
            }
            next_pid_is(pid);
            let mut c = command.spawn().unwrap();
            if c.id() as i32 == pid.as_raw() {
                return Some(c);
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        None
    }

    /// State `Z` in /proc: exited, not reaped.
    fn is_zombie(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
            .unwrap_or(false)
    }

    /// A `Child::wait` that has reaped its child but not yet recorded the
    /// status must never let the freed pid, recycled for a process procctl
    /// did not start, hand that process's status to the `Child`. The waiter
    /// is starved (`SCHED_IDLE`, another thread hammering the reap lock);
    /// the pid goes to a raw `fork` child exiting 77 through `ns_last_pid`,
    /// and `reap_zombies` collects it; or (odd rounds) to a
    /// `std::process::Child`, while this thread calls the handle's
    /// `try_wait`. Repeated: the window is a race.
    fn child_wait_never_takes_a_recycled_pids_status() {
        isolated(|| {
            use std::io::Write;
            use std::sync::atomic::{AtomicBool, Ordering};
            use std::sync::{Arc, mpsc};
            // All on one CPU, so the starved waiter is preempted between
            // any two steps even on an idle machine.
            // SAFETY: sets this thread's affinity (inherited by the threads
            // and children started below); the set is a local.
            unsafe {
                let mut cpus: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(0, &mut cpus);
                assert_eq!(libc::sched_setaffinity(0, size_of_val(&cpus), &cpus), 0);
            }
            let stop = Arc::new(AtomicBool::new(false));
            // A running child whose try_wait takes the reap lock each time.
            let other = Arc::new(
                procctl::proc::Command::new("sleep")
                    .arg("30")
                    .spawn()
                    .unwrap(),
            );
            let hammer = {
                let (stop, other) = (Arc::clone(&stop), Arc::clone(&other));
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        assert_eq!(other.try_wait().unwrap(), None);
                    }
                })
            };
            let start = Instant::now();
            let mut caught = 0;
            let mut rounds = 0;
            'rounds: for round in 0..20 {
                if start.elapsed() > Duration::from_secs(5) {
                    break;
                }
                rounds += 1;
                let child = Arc::new(
                    procctl::proc::Command::new("sh")
                        .args(["-c", "read x; exit 3"])
                        .stdin(procctl::proc::Stdio::piped())
                        .spawn()
                        .unwrap(),
                );
                let pid = child.pid();
                let (tx, rx) = mpsc::channel();
                let waiter = {
                    let child = Arc::clone(&child);
                    std::thread::spawn(move || {
                        // Zeroed: musl's sched_param has more fields than glibc's.
                        // SAFETY: sched_param is plain integers.
                        let param: libc::sched_param = unsafe { std::mem::zeroed() };
                        // The raw system call: musl's wrapper always fails
                        // with ENOSYS. SAFETY: changes the calling thread's
                        // policy only; param is a valid sched_param.
                        let rc = unsafe {
                            libc::syscall(libc::SYS_sched_setscheduler, 0, libc::SCHED_IDLE, &param)
                        };
                        assert_eq!(rc, 0, "SCHED_IDLE");
                        // SAFETY: gettid has no preconditions.
                        tx.send(unsafe { libc::gettid() }).unwrap();
                        child.wait()
                    })
                };
                let tid = rx.recv().unwrap();
                std::thread::sleep(Duration::from_millis(2));
                child.take_stdin().unwrap().write_all(b"\n").unwrap();
                // Wait until the waiter has reaped the child, then give the
                // pid to a stranger at once.
                let deadline = Instant::now() + Duration::from_secs(1);
                while !gone(pid) {
                    if Instant::now() > deadline {
                        // Starved too long on a busy machine: this round
                        // proves nothing. Let the waiter run and finish.
                        // SAFETY: sched_param is plain integers.
                        let param: libc::sched_param = unsafe { std::mem::zeroed() };
                        // SAFETY: changes the policy of our own thread (raw
                        // call, as above).
                        unsafe {
                            libc::syscall(
                                libc::SYS_sched_setscheduler,
                                tid,
                                libc::SCHED_OTHER,
                                &param,
                            )
                        };
                        let status = waiter.join().unwrap().unwrap();
                        assert_eq!(status, ExitStatus::Exited(3), "round {round}");
                        rounds -= 1;
                        continue 'rounds;
                    }
                    std::thread::sleep(Duration::from_micros(50));
                }
                if round % 2 == 1 {
                    // A `std::process::Child` takes the pid; our handle's
                    // `try_wait` (from a second thread) must not reap it.
                    let mut cmd = std::process::Command::new("sh");
                    cmd.args(["-c", "exit 77"]);
                    let Some(mut theirs) = try_command_at(pid, &mut cmd) else {
                        // Another process took the pid: inconclusive.
                        assert_eq!(waiter.join().unwrap().unwrap(), ExitStatus::Exited(3));
                        rounds -= 1;
                        continue;
                    };
                    let deadline = Instant::now() + Duration::from_secs(3);
                    while !is_zombie(pid.as_raw()) {
                        assert!(Instant::now() < deadline, "round {round}: sh never exited");
                        std::thread::sleep(Duration::from_micros(50));
                    }
                    let mine = child.try_wait();
                    let their_status = theirs.try_wait();
                    let status = waiter.join().unwrap().unwrap();
                    let ok = matches!(mine, Ok(None) | Ok(Some(ExitStatus::Exited(3))))
                        && matches!(&their_status, Ok(Some(s)) if s.code() == Some(77))
                        && status == ExitStatus::Exited(3);
                    if !ok {
                        caught += 1;
                        eprintln!(
                            "round {round}: try_wait -> {mine:?}, std's try_wait -> \
                             {their_status:?}, Child::wait -> {status}"
                        );
                    }
                    continue;
                }
                let mut stranger = None;
                for _ in 0..50 {
                    if !gone(pid) {
                        break; // another process took the pid
                    }
                    next_pid_is(pid);
                    // SAFETY: the child only calls _exit.
                    let p = unsafe { libc::fork() };
                    if p == 0 {
                        // SAFETY: async-signal-safe exit of the forked child.
                        unsafe { libc::_exit(77) };
                    }
                    assert!(p > 0);
                    if p == pid.as_raw() {
                        stranger = Some(p);
                        break;
                    }
                    let mut raw = 0;
                    // SAFETY: reaping our own raw child.
                    unsafe { libc::waitpid(p, &mut raw, 0) };
                }
                if stranger.is_none() {
                    // Another process took the pid: inconclusive.
                    assert_eq!(waiter.join().unwrap().unwrap(), ExitStatus::Exited(3));
                    rounds -= 1;
                    continue;
                }
                // The stranger is collected by "any child": its status is its
                // own, never the Child's.
                let deadline = Instant::now() + Duration::from_secs(3);
                let mut got = Vec::new();
                while got.is_empty() {
                    assert!(
                        Instant::now() < deadline,
                        "round {round}: stranger not reaped"
                    );
                    got = reap_zombies().unwrap();
                }
                assert_eq!(got, vec![(pid, ExitStatus::Exited(77))]);
                let status = waiter.join().unwrap().unwrap();
                if status != ExitStatus::Exited(3) {
                    caught += 1;
                    eprintln!("round {round}: Child::wait -> {status} for a child that exited 3");
                }
            }
            stop.store(true, Ordering::Relaxed);
            hammer.join().unwrap();
            other.kill().unwrap();
            wait10(&other);
            eprintln!("{rounds} rounds in {:?}", start.elapsed());
            assert!(rounds >= 3, "only {rounds} rounds were conclusive");
            assert_eq!(caught, 0, "a Child took a recycled pid's status");
        });
    }

    /// An orphan that code outside procctl reaped, whose pid then went to a
    /// `std::process::Child`: procctl's next drain must leave that child's
    /// status to std (it reaps orphans through their pidfds, never by pid).
    fn orphans_are_reaped_through_their_pidfds() {
        isolated(|| {
            use std::io::Read;
            let mut conclusive = 0;
            for _ in 0..3 {
                let (r, w) = procctl::pipe::pipe().unwrap();
                let wfd = std::os::fd::AsRawFd::as_raw_fd(&w);
                let orphan = fork(move || {
                    // SAFETY: closes this child's copy of the write end.
                    unsafe { libc::close(wfd) };
                    let _ = (&r).read(&mut [0]);
                    0
                })
                .unwrap();
                let pid = orphan.pid();
                drop(orphan); // running: parked with its pidfd
                assert_eq!(procctl::reap::pending_orphans(), 1);
                drop(w);
                eventually("the orphan exited", || is_zombie(pid.as_raw()));
                // Outside code reaps it behind procctl's back.
                let mut raw = 0;
                // SAFETY: reaping our own child.
                assert_eq!(
                    unsafe { libc::waitpid(pid.as_raw(), &mut raw, 0) },
                    pid.as_raw()
                );
                let mut cmd = std::process::Command::new("sh");
                cmd.args(["-c", "exit 5"]);
                let stranger = try_command_at(pid, &mut cmd);
                if let Some(stranger) = &stranger {
                    eventually("the std child exited", || is_zombie(stranger.id() as i32));
                }
                // procctl drains its orphans here.
                let probe = fork(|| 0).unwrap();
                wait10(&probe);
                assert_eq!(procctl::reap::pending_orphans(), 0);
                // None: another process took the pid, inconclusive.
                if let Some(mut stranger) = stranger {
                    let status = stranger.try_wait().expect("std's child kept its status");
                    assert_eq!(status.and_then(|s| s.code()), Some(5));
                    conclusive += 1;
                }
            }
            assert!(conclusive > 0, "no pid could be recycled");
        });
    }

    /// Reaps `pid` as code outside procctl would: a plain `waitpid`.
    fn outside_reap(pid: Pid) {
        let mut raw = 0;
        // SAFETY: reaping our own child; `raw` is writable.
        assert_eq!(
            unsafe { libc::waitpid(pid.as_raw(), &mut raw, 0) },
            pid.as_raw()
        );
    }

    /// A std child adopted by procctl as the process `pid`, running until
    /// its stdin closes, then exiting 7; `None` if another process on the
    /// machine took the pid first.
    fn adopted_at(pid: Pid) -> Option<procctl::proc::Child> {
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "read x; exit 7"])
            .stdin(std::process::Stdio::piped());
        try_command_at(pid, &mut cmd).map(procctl::proc::Child::from)
    }

    /// Code outside procctl reaps child A, and child B takes A's pid and is
    /// registered under it; then A's handle is dropped unwaited. The drop
    /// must leave B's entry alone (it once removed whatever was filed
    /// under A's pid), so B's status, reaped by `reap_zombies`, reaches
    /// B's handle.
    fn a_dropped_handle_leaves_the_entry_of_the_child_that_took_its_pid() {
        isolated(|| {
            let mut conclusive = 0;
            for _ in 0..3 {
                let a = sh("exit 3");
                let pid = a.pid();
                eventually("A exited", || is_zombie(pid.as_raw()));
                outside_reap(pid);
                let Some(b) = adopted_at(pid) else {
                    drop(a);
                    continue;
                };
                drop(a);
                drop(b.take_stdin());
                eventually("B exited", || is_zombie(pid.as_raw()));
                assert_eq!(reap_zombies().unwrap(), vec![(pid, ExitStatus::Exited(7))]);
                assert_eq!(b.try_wait().unwrap(), Some(ExitStatus::Exited(7)));
                assert_eq!(procctl::reap::pending_orphans(), 0);
                conclusive += 1;
            }
            assert!(conclusive > 0, "no pid could be recycled");
        });
    }

    /// An orphan (a dropped running child) that code outside procctl reaps,
    /// whose pid then goes to a child procctl registers: the orphan's
    /// entry is gone, and so must its count be (it once stayed counted, for
    /// ever).
    fn an_orphan_whose_pid_a_new_child_takes_is_no_longer_counted() {
        isolated(|| {
            let mut conclusive = 0;
            for _ in 0..3 {
                let orphan = procctl::proc::Command::new("sh")
                    .args(["-c", "read x"])
                    .stdin(procctl::proc::Stdio::piped())
                    .spawn()
                    .unwrap();
                let stdin = orphan.take_stdin();
                let pid = orphan.pid();
                drop(orphan); // running: parked with its pidfd
                assert_eq!(procctl::reap::pending_orphans(), 1);
                drop(stdin);
                eventually("the orphan exited", || is_zombie(pid.as_raw()));
                outside_reap(pid);
                // Adopting a std child drains no orphan: the registration
                // alone must drop the stale entry.
                let Some(b) = adopted_at(pid) else {
                    reap_zombies().unwrap();
                    continue;
                };
                assert_eq!(procctl::reap::pending_orphans(), 0);
                drop(b.take_stdin());
                assert_eq!(b.wait().unwrap(), ExitStatus::Exited(7));
                assert_eq!(procctl::reap::pending_orphans(), 0);
                conclusive += 1;
            }
            assert!(conclusive > 0, "no pid could be recycled");
        });
    }

    /// `Child::from(std::process::Child)` for a child std already reaped,
    /// killed by a signal without a `Signal` name (glibc's 32): the status
    /// is kept, and nothing is registered or signalled by pid, so a process
    /// that later takes the pid is left alone.
    fn from_std_keeps_a_status_with_no_signal_name() {
        isolated(|| {
            use std::os::unix::process::{CommandExt, ExitStatusExt};
            let mut cmd = std::process::Command::new("sleep");
            cmd.arg("10");
            // glibc's posix_spawn leaves its own signals 32 and 33 ignored in
            // what it starts (cargo's test runs included), and its sigaction
            // refuses them: reset 32 with the raw system call.
            // SAFETY: rt_sigaction is async-signal-safe; the kernel's
            // sigaction is {handler = SIG_DFL, flags, restorer, mask}, all
            // zero, with an 8-byte mask.
            unsafe {
                cmd.pre_exec(|| {
                    let act = [0u64; 4];
                    libc::syscall(libc::SYS_rt_sigaction, 32, act.as_ptr(), 0usize, 8usize);
                    Ok(())
                })
            };
            for _ in 0..3 {
                let mut std_child = cmd.spawn().unwrap();
                let pid = Pid::from_raw(std_child.id() as i32).unwrap();
                // SAFETY: kill takes plain integers; 32 ends `sleep`.
                assert_eq!(unsafe { libc::kill(pid.as_raw(), 32) }, 0);
                eventually("sleep ended", || is_zombie(pid.as_raw()));
                // std reaps it (here, or in the conversion).
                let std_status = std_child.try_wait().unwrap().expect("ended");
                let child = procctl::proc::Child::from(std_child);
                let mut sleep5 = std::process::Command::new("sleep");
                sleep5.arg("5");
                let Some(mut stranger) = try_command_at(pid, &mut sleep5) else {
                    // Another process took the pid: inconclusive, again.
                    assert!(child.wait().is_ok());
                    continue;
                };
                child.signal(Signal::TERM).unwrap();
                child.kill().unwrap();
                // The status std reaped, an exit by signal (procctl has no name for
                // 32, and reports what it can of it, as for every reap).
                let status = child.wait().expect("the status std reaped");
                assert_eq!(std_status.signal(), Some(32));
                assert!(
                    status.signal().is_some() && status.code().is_none(),
                    "{status}"
                );
                assert_eq!(child.try_wait().unwrap(), Some(status));
                // The stranger was not signalled.
                std::thread::sleep(Duration::from_millis(100));
                assert_eq!(
                    stranger.try_wait().unwrap(),
                    None,
                    "the stranger was killed"
                );
                stranger.kill().unwrap();
                stranger.wait().unwrap();
                assert_eq!(reap_zombies().unwrap(), vec![]);
                return;
            }
            panic!("no pid could be recycled");
        });
    }

    /// A process forked (by code other than the safe `fork`) while another
    /// thread sits in `Child::wait` holds a copy of the handle; using it
    /// there must return (an error is fine), not spin on state copied from
    /// the parent.
    fn a_fork_during_child_wait_leaves_a_handle_that_returns() {
        isolated(|| {
            use std::sync::Arc;
            let child = Arc::new(
                procctl::proc::Command::new("sleep")
                    .arg("30")
                    .spawn()
                    .unwrap(),
            );
            let waiter = {
                let child = Arc::clone(&child);
                std::thread::spawn(move || child.wait())
            };
            for round in 0..6 {
                // Let the waiter get into its wait (it never returns before
                // the kill below, so whenever we fork it is in there or on its
                // way).
                std::thread::sleep(Duration::from_millis(20));
                let copy = Arc::clone(&child);
                // SAFETY: the forked child arms an alarm, uses the copied
                // handle (the reap lock is reset in the child) and leaves with
                // _exit; the waiter thread is blocked in the kernel, not in
                // the allocator.
                let forked = unsafe {
                    procctl::proc::fork_unchecked(move || {
                        libc::alarm(2);
                        // Either call first: neither may spin or sleep.
                        let not_child = |r: procctl::Result<Option<ExitStatus>>| {
                            matches!(r, Err(procctl::Error::NotChild { .. }))
                        };
                        let calls: [&dyn Fn() -> procctl::Result<Option<ExitStatus>>; 2] =
                            [&|| copy.try_wait(), &|| copy.wait().map(Some)];
                        let ok = (0..2).all(|i| not_child(calls[(i + round) % 2]()));
                        procctl::proc::_exit(if ok { 0 } else { 1 })
                    })
                }
                .unwrap();
                assert_eq!(
                    wait10(&forked),
                    ExitStatus::Exited(0),
                    "the copied handle spun or did not say NotChild"
                );
            }
            child.kill().unwrap();
            let status = waiter.join().unwrap().unwrap();
            assert_eq!(status.signal(), Some(Signal::KILL));
        });
    }

    /// What the README says: `reap_zombies` reaps *any* exited child (a
    /// `std::process::Child` loses its status), while `Child::wait`, the
    /// orphan drain and `ReapMode::Owned` take only procctl's children.
    fn reap_zombies_takes_any_child_owned_paths_do_not() {
        isolated(|| {
            let mut kept = std::process::Command::new("true").spawn().unwrap();
            let kept_pid = kept.id() as i32;
            eventually("true exited", || is_zombie(kept_pid));
            let orphan = fork(|| 0).unwrap();
            drop(orphan);
            let probe = fork(|| 0).unwrap();
            wait10(&probe);
            procctl::reap::start_reaper(procctl::reap::ReapMode::Owned).unwrap();
            let probe = procctl::proc::Command::new("true").spawn().unwrap();
            drop(probe);
            eventually("the owned reaper took the dropped child", || {
                procctl::reap::pending_orphans() == 0
            });
            assert!(is_zombie(kept_pid), "a procctl path took std's child");
            assert!(kept.try_wait().unwrap().unwrap().success());

            let mut lost = std::process::Command::new("true").spawn().unwrap();
            let lost_pid = lost.id() as i32;
            eventually("true exited", || is_zombie(lost_pid));
            let got = reap_zombies().unwrap();
            assert!(got.iter().any(|(p, _)| p.as_raw() == lost_pid), "{got:?}");
            let err = lost.try_wait().unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ECHILD));
        });
    }

    /// `Init` forwards a signal to its main child through the handle (a pidfd
    /// on Linux), never with `kill(pid)`: if other code in the process reaped
    /// the main child and its pid went to another process, that process gets
    /// nothing. Deterministic: `Init`'s `on_reap` callback (for a helper
    /// child) holds the supervisor while another thread reaps the main child
    /// behind procctl's back, gives its pid to a stranger and sends the
    /// process the forwarded signal.
    fn init_never_forwards_to_a_recycled_pid() {
        isolated(|| {
            use std::os::unix::process::CommandExt;
            use std::sync::mpsc;
            // Ignored, but blocked while `Init` runs: `sigwait` still gets it,
            // and one left over does no harm.
            // SAFETY: sets a disposition to SIG_IGN.
            unsafe { libc::signal(libc::SIGUSR1, libc::SIG_IGN) };
            let (main_tx, main_rx) = mpsc::channel::<Pid>();
            let (done_tx, done_rx) = mpsc::channel::<()>();
            let other = std::thread::spawn(move || {
                // SAFETY: blocks every signal in this thread only.
                unsafe {
                    let mut all: libc::sigset_t = std::mem::zeroed();
                    libc::sigfillset(&mut all);
                    libc::pthread_sigmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
                }
                let main = main_rx.recv().unwrap();
                // Kill the main child and reap it behind procctl's back.
                let mut raw = 0;
                // SAFETY: kill and waitpid on our own child.
                unsafe {
                    assert_eq!(libc::kill(main.as_raw(), libc::SIGKILL), 0);
                    assert_eq!(libc::waitpid(main.as_raw(), &mut raw, 0), main.as_raw());
                }
                // Its pid goes to a stranger (SIGUSR1 at its default, not
                // blocked: this thread's mask and ignored signals are inherited).
                let mut cmd = std::process::Command::new("sleep");
                cmd.arg("5");
                // SAFETY: signal() and sigprocmask() are async-signal-safe; the
                // set is a local.
                unsafe {
                    cmd.pre_exec(|| {
                        libc::signal(libc::SIGUSR1, libc::SIG_DFL);
                        let mut none: libc::sigset_t = std::mem::zeroed();
                        libc::sigemptyset(&mut none);
                        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                        Ok(())
                    })
                };
                let mut stranger = command_at(main, &mut cmd);
                // SAFETY: a signal to this process; only Init's thread takes it.
                unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
                done_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(200));
                let alive = matches!(stranger.try_wait(), Ok(None));
                let _ = stranger.kill();
                let _ = stranger.wait();
                alive
            });
            let main_pid = std::rc::Rc::new(std::cell::Cell::new(None::<Pid>));
            let result = {
                let seen = std::rc::Rc::clone(&main_pid);
                let mut held = false;
                Init::new()
                    .forward([Signal::USR1])
                    .on_reap(move |_, _| {
                        // The helper child was reaped: hold the supervisor
                        // while the other thread does its work.
                        if !held {
                            held = true;
                            main_tx.send(seen.get().unwrap()).unwrap();
                            done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
                        }
                    })
                    .run(|| {
                        let main = procctl::proc::Command::new("sleep").arg("30").spawn()?;
                        main_pid.set(Some(main.pid()));
                        // Exits at once: Init reaps it and calls on_reap.
                        let helper = procctl::proc::Command::new("true").spawn()?;
                        helper.set_drop_policy(procctl::proc::DropPolicy::Detach);
                        Ok(main)
                    })
            };
            assert!(
                other.join().unwrap(),
                "Init forwarded SIGUSR1 to a recycled pid"
            );
            // The main child was reaped by other code: its status is lost.
            assert!(
                matches!(result, Err(procctl::Error::NotChild { .. })),
                "{result:?}"
            );
        });
    }
}
