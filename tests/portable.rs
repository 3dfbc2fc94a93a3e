//! The tests that run on every platform, Windows (under Wine in CI)
//! included: the typed core (`Pid`, `ExitStatus`, `Signal`, `Error`),
//! `_exit`, `reap_zombies` and `spawn_task`.
//!
//! `harness = false`: on Unix `spawn_task` forks, and the safe `fork`
//! refuses to run in a multi-threaded process (libtest adds threads). Real
//! child programs are this test binary itself, re-run with
//! `PROCCTL_PORTABLE_CHILD` set, so no shell or helper has to exist on the
//! machine.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use procctl::proc::{self, PopenMode, Task, TaskId, spawn_task, spawn_thread_task};
use procctl::{Error, ExitStatus, Pid, Signal};
use support::eventually;

const CHILD_ENV: &str = "PROCCTL_PORTABLE_CHILD";

fn main() {
    if let Ok(mode) = std::env::var(CHILD_ENV) {
        child_main(&mode);
    }
    support::run(&[
        ("pid_basics", pid_basics),
        ("parent_pid_of_a_child", parent_pid_of_a_child),
        ("exit_status_basics", exit_status_basics),
        ("exit_status_from_std_child", exit_status_from_std_child),
        ("underscore_exit_skips_flush", underscore_exit_skips_flush),
        ("signal_names", signal_names),
        ("error_conversions", error_conversions),
        ("thread_count_per_platform", thread_count_per_platform),
        (
            "reap_zombies_without_children",
            reap_zombies_without_children,
        ),
        ("spawn_task_exit_codes", spawn_task_exit_codes),
        ("spawn_task_panic_is_101", spawn_task_panic_is_101),
        ("spawn_task_memory", spawn_task_memory),
        (
            "spawn_task_try_wait_and_timeout",
            spawn_task_try_wait_and_timeout,
        ),
        (
            "spawn_task_wait_is_idempotent",
            spawn_task_wait_is_idempotent,
        ),
        ("spawn_task_dropped_is_reaped", spawn_task_dropped_is_reaped),
        ("spawn_thread_task_everywhere", spawn_thread_task_everywhere),
        ("thread_task_waiters_agree", thread_task_waiters_agree),
        ("command_exit_codes", command_exit_codes),
        ("command_output_capture", command_output_capture),
        ("command_env_and_dir", command_env_and_dir),
        (
            "env_clear_drops_what_was_set_before",
            env_clear_drops_what_was_set_before,
        ),
        ("communicate_pipes_stdin", communicate_pipes_stdin),
        ("communicate_large_both_ways", communicate_large_both_ways),
        ("kill_long_running_child", kill_long_running_child),
        ("resource_usage", resource_usage),
        ("stdio_debug_names_the_call", stdio_debug_names_the_call),
        ("terminate_with_signal", terminate_with_signal),
        ("communicate_timeout_kills", communicate_timeout_kills),
        (
            "communicate_timeout_keeps_partial_output",
            communicate_timeout_keeps_partial_output,
        ),
        (
            "wait_delay_cuts_a_pipe_a_grandchild_holds",
            wait_delay_cuts_a_pipe_a_grandchild_holds,
        ),
        (
            "pipeline_communicate_timeout_keeps_partial_output",
            pipeline_communicate_timeout_keeps_partial_output,
        ),
        (
            "pipeline_wait_delay_cuts_a_pipe_a_grandchild_holds",
            pipeline_wait_delay_cuts_a_pipe_a_grandchild_holds,
        ),
        ("missing_program_is_not_found", missing_program_is_not_found),
        ("adopt_std_child", adopt_std_child),
        ("drop_policy_kill", drop_policy_kill),
        ("system_exit_codes", system_exit_codes),
        ("popen_read_and_write", popen_read_and_write),
        ("popen2_communicate", popen2_communicate),
        (
            "spawn_task_when_multithreaded",
            spawn_task_when_multithreaded,
        ),
        // Last: `register` starts procctl's dispatcher thread for good, and
        // the spawn_task tests above need a single-threaded process on Unix.
        ("sigint_flag_and_watcher", sigint_flag_and_watcher),
        ("sigint_iterator", sigint_iterator),
        ("sigint_ignore_and_default", sigint_ignore_and_default),
        ("sigint_closure_handler", sigint_closure_handler),
    ]);
}

/// What this binary does when re-run as a child by a test.
fn child_main(mode: &str) -> ! {
    let (what, arg) = mode.split_once(':').unwrap_or((mode, ""));
    match what {
        "ppid" => {
            println!("{}", Pid::parent());
            std::process::exit(0)
        }
        "exit" => std::process::exit(arg.parse().unwrap()),
        "_exit" => {
            // Buffered by std's line-buffered stdout: `_exit` must drop it.
            print!("this text is never flushed");
            procctl::proc::_exit(arg.parse().unwrap())
        }
        "sleep" => {
            std::thread::sleep(Duration::from_secs(arg.parse().unwrap()));
            std::process::exit(0)
        }
        "print_then_sleep" => {
            println!("early");
            eprintln!("err");
            std::thread::sleep(Duration::from_secs(arg.parse().unwrap()));
            std::process::exit(0)
        }
        "leave_holder" => {
            // A grandchild inherits our stdout and stderr and outlives us.
            Command::new(std::env::current_exe().unwrap())
                .env(CHILD_ENV, format!("sleep:{arg}"))
                .stdin(Stdio::null())
                .spawn()
                .unwrap();
            println!("parent done");
            std::process::exit(0)
        }
        "cat" => {
            // Copies stdin to stdout, then `arg` bytes of its own to stderr.
            let mut all = Vec::new();
            std::io::stdin().read_to_end(&mut all).unwrap();
            std::io::stdout().write_all(&all).unwrap();
            let n: usize = arg.parse().unwrap_or(0);
            std::io::stderr().write_all(&vec![b'e'; n]).unwrap();
            std::process::exit(0)
        }
        _ => panic!("unknown child mode {mode:?}"),
    }
}

/// Runs this binary as a child in `mode`; waits at most 10 s.
fn run_self(mode: &str) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, mode)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child in mode {mode:?} did not finish within 10 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    (status, out)
}

/// Waits for `task` at most 10 s and fails the test otherwise.
fn wait10(task: &Task) -> ExitStatus {
    match task.wait_timeout(Duration::from_secs(10)).unwrap() {
        Some(status) => status,
        None => {
            #[cfg(unix)]
            if let Some(child) = task.as_child() {
                let _ = child.kill();
                let _ = child.wait();
            }
            panic!("{} did not finish within 10 s", task.id());
        }
    }
}

fn pid_basics() {
    let me = Pid::current();
    assert_eq!(me.as_raw() as u32, std::process::id());
    assert_eq!(u32::from(me), std::process::id());
    assert_eq!(Pid::from_raw(me.as_raw()), Some(me));
    assert_eq!(me.to_string(), std::process::id().to_string());
    assert_eq!(Pid::from_raw(0), None);
    assert_eq!(Pid::from_raw(-4), None);
    assert_eq!(std::mem::size_of::<Option<Pid>>(), 4);
}

fn parent_pid_of_a_child() {
    // The child's parent is us, on every platform.
    let (status, out) = run_self("ppid");
    assert!(status.success(), "{status}");
    assert_eq!(out.trim(), Pid::current().to_string());
}

fn exit_status_basics() {
    let ok = ExitStatus::Exited(0);
    assert!(ok.success());
    assert_eq!(ok.code(), Some(0));
    assert_eq!(ok.signal(), None);
    assert!(!ok.core_dumped());
    let three = ExitStatus::Exited(3);
    assert!(!three.success());
    assert_eq!(three.exit_code(), 3);
    let std_three: std::process::ExitStatus = three.into();
    assert_eq!(std_three.code(), Some(3));
    assert_eq!(ExitStatus::try_from(std_three).unwrap(), three);
    assert_eq!(three.to_string(), std_three.to_string());
    assert_eq!(
        three.to_string(),
        if cfg!(unix) {
            "exit status: 3"
        } else {
            "exit code: 3"
        }
    );
    let killed = ExitStatus::Signaled {
        signal: Signal::KILL,
        core_dumped: false,
    };
    assert_eq!(killed.code(), None);
    assert_eq!(killed.signal(), Some(Signal::KILL));
    assert_eq!(killed.exit_code(), -Signal::KILL.as_raw());
}

fn exit_status_from_std_child() {
    for code in [0, 1, 42, 255] {
        let (std_status, _) = run_self(&format!("exit:{code}"));
        let ours = ExitStatus::try_from(std_status).unwrap();
        assert_eq!(ours, ExitStatus::Exited(code));
        assert_eq!(ours.to_string(), std_status.to_string());
        assert_eq!(ours.success(), std_status.success());
    }
}

fn underscore_exit_skips_flush() {
    let (status, out) = run_self("_exit:7");
    assert_eq!(ExitStatus::try_from(status).unwrap(), ExitStatus::Exited(7));
    assert_eq!(out, "", "_exit flushed std's stdout buffer");
}

fn signal_names() {
    for (sig, name) in [
        (Signal::INT, "SIGINT"),
        (Signal::TERM, "SIGTERM"),
        (Signal::KILL, "SIGKILL"),
        (Signal::ABRT, "SIGABRT"),
    ] {
        assert_eq!(sig.to_string(), name);
        assert_eq!(name.parse::<Signal>().unwrap(), sig);
        assert_eq!(name[3..].parse::<Signal>().unwrap(), sig);
        assert_eq!(Signal::from_raw(sig.as_raw()), Some(sig));
        assert!(Signal::all().any(|s| s == sig));
    }
    for bad in ["", "SIG", "SIGINT ", "sigint", "2"] {
        assert!(bad.parse::<Signal>().is_err(), "{bad:?}");
    }
    assert_eq!(Signal::from_raw(0), None);
    assert!(Signal::try_from(1000).is_err());
}

fn error_conversions() {
    let kind = |e: Error| std::io::Error::from(e).kind();
    assert_eq!(
        kind(Error::Unsupported { what: "fork" }),
        std::io::ErrorKind::Unsupported
    );
    assert_eq!(
        kind(Error::NulByte {
            what: "argument",
            value: "a\0b".into()
        }),
        std::io::ErrorKind::InvalidInput
    );
    let mt = Error::MultiThreaded { threads: Some(3) };
    assert!(mt.to_string().contains("3 threads"), "{mt}");
    assert!(Error::NoChildren.raw_os_error().is_some());
}

fn thread_count_per_platform() {
    let n = procctl::proc::thread_count();
    if cfg!(any(
        target_os = "linux",
        target_os = "android",
        target_vendor = "apple",
        target_os = "freebsd"
    )) {
        // harness = false: only the main thread runs the tests.
        assert_eq!(n, Some(1));
    } else if cfg!(windows) {
        assert_eq!(n, None);
    }
}

fn reap_zombies_without_children() {
    assert_eq!(procctl::reap::reap_zombies().unwrap(), vec![]);
}

fn spawn_task_exit_codes() {
    for code in [0, 1, 3, 255] {
        let task = spawn_task(move || code).unwrap();
        assert_eq!(task.is_process(), cfg!(unix));
        match task.id() {
            TaskId::Process(pid) => {
                assert!(task.is_process());
                assert_ne!(pid, Pid::current());
            }
            TaskId::Thread(id) => {
                assert!(!task.is_process());
                assert_ne!(id, std::thread::current().id());
            }
        }
        let status = wait10(&task);
        assert_eq!(status, ExitStatus::Exited(code));
        assert_eq!(status.success(), code == 0);
    }
}

fn spawn_task_panic_is_101() {
    let task = spawn_task(|| panic!("deliberate panic in a task")).unwrap();
    assert_eq!(wait10(&task), ExitStatus::Exited(101));
    // The caller carries on and can start another task.
    let task = spawn_task(|| 0).unwrap();
    assert!(wait10(&task).success());
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn spawn_task_memory() {
    COUNTER.store(10, Ordering::SeqCst);
    let task = spawn_task(|| {
        let seen = COUNTER.fetch_add(1, Ordering::SeqCst);
        // The task starts from the caller's value on both platforms.
        if seen == 10 { 0 } else { 1 }
    })
    .unwrap();
    assert_eq!(wait10(&task), ExitStatus::Exited(0));
    let after = COUNTER.load(Ordering::SeqCst);
    if task.is_process() {
        assert_eq!(after, 10, "a process task's write reached the parent");
    } else {
        assert_eq!(after, 11, "a thread task's write was lost");
    }
}

fn spawn_task_try_wait_and_timeout() {
    // The task blocks until the test writes a byte: a pipe works for both a
    // forked process and a thread.
    let (mut reader, mut writer) = std::io::pipe().unwrap();
    let task = spawn_task(move || {
        // In a forked child: nothing outlives a broken test.
        #[cfg(unix)]
        support::arm_alarm();
        let mut byte = [0u8; 1];
        match reader.read_exact(&mut byte) {
            Ok(()) => i32::from(byte[0]),
            Err(_) => 99,
        }
    })
    .unwrap();
    assert_eq!(task.try_wait().unwrap(), None);
    let start = Instant::now();
    assert_eq!(task.wait_timeout(Duration::from_millis(50)).unwrap(), None);
    assert!(start.elapsed() >= Duration::from_millis(50));
    writer.write_all(&[6]).unwrap();
    assert_eq!(wait10(&task), ExitStatus::Exited(6));
    assert_eq!(task.try_wait().unwrap(), Some(ExitStatus::Exited(6)));
}

fn spawn_task_wait_is_idempotent() {
    let task = spawn_task(|| 9).unwrap();
    let first = wait10(&task);
    assert_eq!(first, ExitStatus::Exited(9));
    assert_eq!(task.wait().unwrap(), first);
    assert_eq!(task.try_wait().unwrap(), Some(first));
    assert_eq!(
        task.wait_timeout(Duration::ZERO).unwrap(),
        Some(first),
        "an ended task reports at once"
    );
}

fn spawn_task_dropped_is_reaped() {
    let task = spawn_task(|| 0).unwrap();
    let pid = task.id().pid();
    drop(task);
    if let Some(pid) = pid {
        // Not waited for: procctl reaps it, in `drop` if it has exited
        // already, else at its next reaping call. Once reaped the pid is
        // gone (a zombie would still accept signal 0).
        eventually("the dropped task to be reaped", || {
            procctl::reap::reap_zombies().unwrap();
            !pid_exists(pid)
        });
    }
}

/// `kill(pid, 0)`: whether a process (a zombie included) has this pid.
#[cfg(unix)]
fn pid_exists(pid: Pid) -> bool {
    // SAFETY: kill with signal 0 sends nothing; it takes plain integers.
    unsafe { libc::kill(pid.as_raw(), 0) == 0 }
}

#[cfg(not(unix))]
fn pid_exists(_: Pid) -> bool {
    unreachable!("a task is a process only on Unix")
}

fn spawn_thread_task_everywhere() {
    let hits = Arc::new(AtomicU32::new(0));
    let task = spawn_thread_task({
        let hits = Arc::clone(&hits);
        move || {
            hits.fetch_add(1, Ordering::SeqCst);
            300
        }
    })
    .unwrap();
    assert!(!task.is_process());
    assert_eq!(task.id().pid(), None);
    assert!(task.id().to_string().starts_with("thread "));
    // Threads keep the whole code; a process would keep 300 & 0xff.
    assert_eq!(wait10(&task), ExitStatus::Exited(300));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let task = spawn_thread_task(|| panic!("deliberate panic in a thread task")).unwrap();
    assert_eq!(wait10(&task), ExitStatus::Exited(101));
    #[cfg(unix)]
    assert!(task.as_child().is_none());
    drop(task);
    support_until_single_threaded();
}

fn thread_task_waiters_agree() {
    // Several threads wait on one task; all see the same status.
    let (tx, rx) = mpsc::channel::<u8>();
    let task = Arc::new(spawn_thread_task(move || rx.recv().map(i32::from).unwrap_or(99)).unwrap());
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let task = Arc::clone(&task);
            std::thread::spawn(move || task.wait().unwrap())
        })
        .collect();
    assert_eq!(task.try_wait().unwrap(), None);
    tx.send(12).unwrap();
    for w in waiters {
        assert_eq!(w.join().unwrap(), ExitStatus::Exited(12));
    }
    assert_eq!(task.wait().unwrap(), ExitStatus::Exited(12));
    drop(task);
    support_until_single_threaded();
}

fn spawn_task_when_multithreaded() {
    // Another thread is running while spawn_task is called.
    let (tx, rx) = mpsc::channel::<()>();
    let other = std::thread::spawn(move || rx.recv());
    let result = spawn_task(|| 5);
    if cfg!(unix) {
        // Refused, exactly like fork: no silent switch to shared memory.
        let err = result.unwrap_err();
        assert!(matches!(err, Error::MultiThreaded { .. }), "{err:?}");
        #[cfg(target_os = "linux")]
        assert!(
            matches!(err, Error::MultiThreaded { threads: Some(2) }),
            "{err:?}"
        );
        // The explicit thread task works regardless.
        let task = spawn_thread_task(|| 5).unwrap();
        assert_eq!(wait10(&task), ExitStatus::Exited(5));
    } else {
        // Windows: always a thread, whatever else runs.
        let task = result.unwrap();
        assert!(!task.is_process());
        assert_eq!(wait10(&task), ExitStatus::Exited(5));
    }
    drop(tx);
    other.join().unwrap().unwrap_err();
    support_until_single_threaded();
}

/// Joined threads can linger for a moment on Linux; the next test forks.
fn support_until_single_threaded() {
    #[cfg(unix)]
    support::until_single_threaded();
}

/// `Task` can be shared between threads and moved to another.
#[allow(dead_code)]
fn task_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Task>();
    check::<TaskId>();
}

/// A command run by the platform's shell: `sh -c` on Unix, `cmd.exe /C`
/// on Windows.
fn shell(unix: &str, windows: &str) -> proc::Command {
    if cfg!(windows) {
        let mut c = proc::Command::new("cmd.exe");
        c.args(["/C", windows]);
        c
    } else {
        let mut c = proc::Command::new("sh");
        c.args(["-c", unix]);
        c
    }
}

/// This test binary, re-run as a child in `mode`.
fn this_binary(mode: &str) -> proc::Command {
    let mut c = proc::Command::new(std::env::current_exe().unwrap());
    c.env(CHILD_ENV, mode);
    c
}

/// Waits for `child` at most 10 s; kills it and fails the test otherwise.
fn child_wait10(child: &proc::Child) -> ExitStatus {
    match child.wait_timeout(Duration::from_secs(10)).unwrap() {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait_timeout(Duration::from_secs(10));
            panic!("child {} did not finish within 10 s", child.pid());
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim_end().to_owned()
}

fn command_exit_codes() {
    for code in [0, 1, 7, 42] {
        let child = shell(&format!("exit {code}"), &format!("exit {code}"))
            .spawn()
            .unwrap();
        assert_eq!(child_wait10(&child), ExitStatus::Exited(code));
        // Idempotent.
        assert_eq!(child.wait().unwrap(), ExitStatus::Exited(code));
        assert_eq!(child.try_wait().unwrap(), Some(ExitStatus::Exited(code)));
    }
    let status = this_binary("exit:3").status().unwrap();
    assert_eq!(status.code(), Some(3));
}

fn command_output_capture() {
    let out = shell(
        "echo out; echo err >&2; exit 2",
        "echo out& echo err 1>&2& exit 2",
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "out");
    assert_eq!(text(&out.stderr), "err");
}

fn command_env_and_dir() {
    let dir = std::env::temp_dir().canonicalize().unwrap();
    let out = shell("echo $PROCCTL_X", "echo %PROCCTL_X%")
        .env("PROCCTL_X", "forty-two")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "forty-two");
    let err = shell("exit 0", "exit 0")
        .current_dir(dir.join("procctl-no-such-dir"))
        .spawn()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Spawn {
                step: procctl::error::SpawnStep::Chdir,
                ..
            }
        ),
        "{err:?}"
    );
}

/// `env_clear` forgets variables set before it (as std does), keeps those
/// set after it, and the program is still found in our `PATH`.
fn env_clear_drops_what_was_set_before() {
    let out = shell(
        "echo \"${BEFORE-unset}-${AFTER-unset}\"",
        "echo %BEFORE%-%AFTER%",
    )
    .env("BEFORE", "b")
    .env_clear()
    .env("AFTER", "a")
    .output()
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let unset = if cfg!(windows) { "%BEFORE%" } else { "unset" };
    assert_eq!(text(&out.stdout), format!("{unset}-a"));
}

fn communicate_pipes_stdin() {
    let child = this_binary("cat")
        .stdin(proc::Stdio::piped())
        .stdout(proc::Stdio::piped())
        .stderr(proc::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.communicate(b"through the pipe").unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"through the pipe");
    assert!(out.stderr.is_empty());

    // Input for a child without a stdin pipe: an error that takes nothing,
    // on every platform; and a timeout too large for a deadline is none.
    let child = this_binary("cat")
        .stdin(proc::Stdio::null())
        .stdout(proc::Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.communicate(b"lost").unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    let stdout = child.take_stdout().expect("stdout still in the handle");
    drop(stdout);
    let out = child.communicate_timeout(b"", Duration::MAX).unwrap();
    assert!(out.status.success());
}

/// More than any pipe buffer, both ways at once: no deadlock.
fn communicate_large_both_ways() {
    let input: Vec<u8> = (0..4 << 20).map(|i| (i % 251) as u8).collect();
    let child = this_binary("cat:1000000")
        .stdin(proc::Stdio::piped())
        .stdout(proc::Stdio::piped())
        .stderr(proc::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child
        .communicate_timeout(&input, Duration::from_secs(60))
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout == input, "stdout differs from the input");
    assert_eq!(out.stderr.len(), 1_000_000);
}

/// `wait_with_rusage` on every platform: the status, CPU times that add
/// up, and one `Debug` form.
fn resource_usage() {
    let child = this_binary("cat")
        .stdin(proc::Stdio::null())
        .spawn()
        .unwrap();
    let (status, usage) = child.wait_with_rusage().unwrap();
    assert!(status.success());
    assert!(usage.user_time() + usage.system_time() < Duration::from_secs(60));
    let shown = format!("{usage:?}");
    assert!(
        shown.starts_with("ResourceUsage { user: ") && shown.contains(", max_rss: "),
        "{shown}"
    );
    // Waiting again gives the same status and usage.
    assert_eq!(child.wait_with_rusage().unwrap(), (status, usage));
}

/// `Stdio`'s `Debug` reads as the call that made it, on every platform.
fn stdio_debug_names_the_call() {
    use proc::Stdio;
    assert_eq!(format!("{:?}", Stdio::inherit()), "Stdio::inherit()");
    assert_eq!(format!("{:?}", Stdio::null()), "Stdio::null()");
    assert_eq!(format!("{:?}", Stdio::piped()), "Stdio::piped()");
    let (r, _w) = procctl::pipe::pipe().unwrap();
    let shown = format!("{:?}", Stdio::from(r));
    assert!(shown.starts_with("Stdio::from("), "{shown}");
}

fn kill_long_running_child() {
    let child = this_binary("sleep:60").spawn().unwrap();
    assert_eq!(child.try_wait().unwrap(), None);
    assert_eq!(child.wait_timeout(Duration::from_millis(50)).unwrap(), None);
    child.kill().unwrap();
    let status = child_wait10(&child);
    assert!(!status.success());
    if cfg!(unix) {
        assert_eq!(status.signal(), Some(Signal::KILL));
    }
    // A timeout too large for a deadline is no deadline (it used to
    // overflow an Instant and panic on Unix).
    assert_eq!(child.wait_timeout(Duration::MAX).unwrap(), Some(status));
    // Ended already: nothing to do, and waiting still gives the status.
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap(), status);
}

fn terminate_with_signal() {
    let child = this_binary("sleep:60").spawn().unwrap();
    if cfg!(windows) {
        let err = child.signal(Signal::USR1).unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    }
    child.signal(Signal::TERM).unwrap();
    let status = child_wait10(&child);
    assert!(!status.success());
    if cfg!(unix) {
        assert_eq!(status.signal(), Some(Signal::TERM));
    }
}

fn communicate_timeout_kills() {
    let child = this_binary("sleep:60")
        .stdout(proc::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let err = child
        .communicate_timeout(b"", Duration::from_millis(200))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let status = child
        .wait_timeout(Duration::from_secs(10))
        .unwrap()
        .expect("killed at the deadline");
    assert!(!status.success());
}

/// The bytes read before the deadline come with the error; a later
/// `communicate` returns the rest, and together they are what was printed.
fn communicate_timeout_keeps_partial_output() {
    let child = this_binary("print_then_sleep:60")
        .stdout(proc::Stdio::piped())
        .stderr(proc::Stdio::piped())
        .spawn()
        .unwrap();
    let err = child
        .communicate_timeout(b"", Duration::from_millis(1500))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    let (out, errs) = err.into_partial_output().expect("partial output");
    child.kill().unwrap();
    let rest = child
        .communicate_timeout(b"", Duration::from_secs(10))
        .unwrap();
    assert!(!rest.status.success());
    assert_eq!([out, rest.stdout].concat(), b"early\n");
    assert_eq!([errs, rest.stderr].concat(), b"err\n");
}

/// A grandchild keeps stdout and stderr open after the child exits: with
/// a wait delay `communicate` returns soon after the exit, says which
/// pipes it cut, and has everything the child wrote.
fn wait_delay_cuts_a_pipe_a_grandchild_holds() {
    let child = this_binary("leave_holder:5")
        .stdout(proc::Stdio::piped())
        .stderr(proc::Stdio::piped())
        .wait_delay(Duration::from_millis(200))
        .spawn()
        .unwrap();
    let started = Instant::now();
    let out = child
        .communicate_timeout(b"", Duration::from_secs(10))
        .unwrap();
    let took = started.elapsed();
    let held = out
        .pipes_held_open()
        .expect("the grandchild holds the pipes");
    #[cfg(unix)]
    for h in held.all_holders() {
        let _ = procctl::signal::kill(h.pid(), Signal::KILL);
    }
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        "parent done"
    );
    assert!(held.stdout() && held.stderr(), "{held}");
    #[cfg(target_os = "linux")]
    assert_eq!(held.all_holders().len(), 1, "{held}");
}

/// [`communicate_timeout_keeps_partial_output`] through a pipeline: the
/// last member prints and sleeps; the error has what it printed, every
/// member is killed, and a later `communicate` returns the rest.
fn pipeline_communicate_timeout_keeps_partial_output() {
    let child = this_binary("exit:0")
        .pipe(this_binary("print_then_sleep:60"))
        .stdout(proc::Stdio::piped())
        .stderr(proc::Stdio::piped())
        .spawn()
        .unwrap();
    let err = child
        .communicate_timeout(b"", Duration::from_millis(1500))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    let (out, errs) = err.into_partial_output().expect("partial output");
    child.kill().unwrap();
    let rest = child
        .communicate_timeout(b"", Duration::from_secs(10))
        .unwrap();
    assert!(rest.status.statuses()[0].success());
    assert!(!rest.status.statuses()[1].success());
    assert_eq!([out, rest.stdout].concat(), b"early\n");
    assert_eq!([errs, rest.stderr].concat(), b"err\n");
}

/// [`wait_delay_cuts_a_pipe_a_grandchild_holds`] through a pipeline: the
/// last member's child holds the pipeline's stdout and stderr.
fn pipeline_wait_delay_cuts_a_pipe_a_grandchild_holds() {
    let child = this_binary("exit:0")
        .pipe(this_binary("leave_holder:5"))
        .stdout(proc::Stdio::piped())
        .stderr(proc::Stdio::piped())
        .wait_delay(Duration::from_millis(200))
        .spawn()
        .unwrap();
    let started = Instant::now();
    let out = child
        .communicate_timeout(b"", Duration::from_secs(10))
        .unwrap();
    let took = started.elapsed();
    let held = out
        .pipes_held_open()
        .expect("the grandchild holds the pipes");
    #[cfg(unix)]
    for h in held.all_holders() {
        let _ = procctl::signal::kill(h.pid(), Signal::KILL);
    }
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert!(out.status.success(), "{}", out.status);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        "parent done"
    );
    assert!(held.stdout() && held.stderr(), "{held}");
    #[cfg(target_os = "linux")]
    assert_eq!(held.all_holders().len(), 1, "{held}");
}

fn missing_program_is_not_found() {
    let err = proc::Command::new("procctl-no-such-program")
        .spawn()
        .unwrap_err();
    match &err {
        Error::NotFound { program, .. } => assert_eq!(program, "procctl-no-such-program"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(err.to_string().contains("procctl-no-such-program"), "{err}");
    let err = proc::Command::new("procctl-no-such-program")
        .output()
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

fn adopt_std_child() {
    let std_child = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, "cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let child = proc::Child::from(std_child);
    let out = child.communicate(b"adopted").unwrap();
    assert_eq!(out.stdout, b"adopted");
    assert!(out.status.success());
}

fn drop_policy_kill() {
    // The child's stdout is a pipe we keep: it reads EOF only once the
    // child is gone, so the read proves the kill.
    let (mut reader, writer) = std::io::pipe().unwrap();
    let child = this_binary("sleep:60")
        .stdout(writer)
        .drop_policy(proc::DropPolicy::KillAndReap)
        .spawn()
        .unwrap();
    assert_eq!(child.drop_policy(), proc::DropPolicy::KillAndReap);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = reader.read_to_end(&mut buf);
        let _ = tx.send(());
    });
    drop(child);
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the dropped child was killed");
    support_until_single_threaded();
}

fn system_exit_codes() {
    assert_eq!(proc::system("exit 0").unwrap(), ExitStatus::Exited(0));
    assert_eq!(proc::system("exit 3").unwrap(), ExitStatus::Exited(3));
    assert!(!proc::system("procctl-no-such-command").unwrap().success());
}

fn popen_read_and_write() {
    let mut p = proc::popen("echo hello", PopenMode::Read).unwrap();
    let mut got = String::new();
    p.read_to_string(&mut got).unwrap();
    assert_eq!(got.trim_end(), "hello");
    assert!(p.write(b"x").is_err());
    assert!(p.close().unwrap().success());

    let sink = if cfg!(windows) {
        "more > NUL"
    } else {
        "cat > /dev/null"
    };
    let mut p = proc::popen(sink, PopenMode::Write).unwrap();
    assert_ne!(p.pid(), Pid::current());
    p.write_all(b"into the void\n").unwrap();
    assert!(p.close().unwrap().success());

    let p = proc::popen("exit 5", PopenMode::Read).unwrap();
    assert_eq!(p.close().unwrap().code(), Some(5));
}

fn popen2_communicate() {
    let copy = if cfg!(windows) { "more" } else { "cat" };
    let mut p = proc::popen2(copy).unwrap();
    let out = p.communicate(b"both ways\n").unwrap();
    assert_eq!(text(&out), "both ways");
    // Stdout was read to its end: a later read says so, on every platform;
    // stdin went with communicate.
    assert_eq!(p.read(&mut [0u8; 8]).unwrap(), 0);
    let err = p.write(b"late").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
    assert!(p.close().unwrap().success());
}

/// `raise(INT)` reaches procctl's flag and the `KeyboardInterrupt`-style
/// watcher (on Windows through the same path a Ctrl+C takes).
fn sigint_flag_and_watcher() {
    use std::sync::atomic::AtomicBool;

    use procctl::signal;

    let flag = Arc::new(AtomicBool::new(false));
    let id = signal::register_flag(Signal::INT, Arc::clone(&flag)).unwrap();
    signal::raise(Signal::INT).unwrap();
    eventually("the flag is set", || flag.load(Ordering::SeqCst));
    assert!(signal::unregister(id));

    let ctrl_c = signal::watch_interrupt().unwrap();
    ctrl_c.check().unwrap();
    signal::raise(Signal::INT).unwrap();
    eventually("the watcher saw it", || ctrl_c.is_interrupted());
    let err = ctrl_c.check().unwrap_err();
    assert!(matches!(err, Error::Interrupted(Signal::INT)), "{err:?}");
    drop(ctrl_c);

    if cfg!(windows) {
        // Nothing else can be caught on Windows.
        let err = signal::register_flag(Signal::USR1, flag).unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    }
}

fn sigint_iterator() {
    use procctl::signal::{self, Signals};

    // Ctrl+Break on Windows; any other catchable signal on Unix.
    let other = if cfg!(windows) {
        "BREAK".parse::<Signal>().unwrap()
    } else {
        Signal::USR1
    };
    let mut signals = Signals::new([Signal::INT, other]).unwrap();
    assert_eq!(signals.pending().count(), 0);
    assert_eq!(
        signals.wait_timeout(Duration::from_millis(20)).unwrap(),
        None
    );
    signal::raise(Signal::INT).unwrap();
    signal::raise(other).unwrap();
    signal::raise(Signal::INT).unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        match signals.wait_timeout(Duration::from_secs(10)).unwrap() {
            Some(sig) => got.push(sig),
            None => panic!("only {got:?} arrived within 10 s"),
        }
    }
    got.sort_by_key(|s| s.as_raw());
    let mut want = vec![Signal::INT, Signal::INT, other];
    want.sort_by_key(|s| s.as_raw());
    assert_eq!(got, want);
}

fn sigint_ignore_and_default() {
    use procctl::signal::{self, Disposition};

    signal::ignore(Signal::INT).unwrap();
    assert_eq!(
        signal::disposition(Signal::INT).unwrap(),
        Disposition::Ignore
    );
    signal::raise(Signal::INT).unwrap(); // ignored: we live on
    signal::default(Signal::INT).unwrap();
    assert_eq!(
        signal::disposition(Signal::INT).unwrap(),
        Disposition::Default
    );
}

fn sigint_closure_handler() {
    use procctl::signal;

    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let id = signal::register(Signal::INT, move |sig| {
        let _ = tx.lock().unwrap().send(sig);
    })
    .unwrap();
    signal::raise(Signal::INT).unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        Signal::INT
    );
    assert!(signal::unregister(id));
}
