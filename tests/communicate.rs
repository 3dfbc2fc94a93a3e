//! `communicate` with a wait delay (pipes that outlive the child because a
//! grandchild holds them) and `communicate_timeout` keeping its partial
//! output: real `/bin/sh`, real background grandchildren.
//!
//! Every command runs in its own process group watched by a [`Group`]: a
//! watchdog thread kills the whole group if the test is still waiting
//! after `DEADLINE` (so a broken cut fails instead of hanging), and
//! dropping the guard kills the group, so no grandchild outlives its
//! test. The grandchildren a test learns about (the holders) are also
//! killed by their reported pid.

#![cfg(unix)]

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use procctl::proc::{Child, Command, Output, StdStream, Stdio};
use procctl::{Error, Pid, Signal, signal};

const DEADLINE: Duration = Duration::from_secs(10);
/// What the cut may take beyond the delay (the brief's bound).
const SLACK: Duration = Duration::from_millis(200);

/// A spawned child in its own process group, killed (with every process
/// of the group) when the guard drops or the watchdog fires.
struct Group {
    child: Child,
    pgid: Pid,
    disarm: Option<mpsc::Sender<()>>,
}

impl Group {
    fn spawn(cmd: &mut Command) -> Group {
        let child = cmd.process_group(0).spawn().expect("spawn");
        let pgid = child.pid();
        let (disarm, armed) = mpsc::channel::<()>();
        thread::spawn(move || {
            if armed.recv_timeout(DEADLINE) == Err(mpsc::RecvTimeoutError::Timeout) {
                eprintln!("process group {pgid} still running after {DEADLINE:?}: killed");
                let _ = signal::killpg(pgid, Signal::KILL);
            }
        });
        Group {
            child,
            pgid,
            disarm: Some(disarm),
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = signal::killpg(self.pgid, Signal::KILL);
        drop(self.disarm.take());
        let _ = self.child.wait_timeout(DEADLINE);
    }
}

fn sh(script: &str) -> Command {
    let mut c = Command::new("/bin/sh");
    c.args(["-c", script]);
    c
}

fn piped(cmd: &mut Command) -> &mut Command {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped())
}

/// Waits (with the deadline) until the child has exited: it is reaped,
/// and whatever `communicate` does next is only about the pipes.
fn exited(child: &Child) {
    let status = child.wait_timeout(DEADLINE).expect("wait");
    assert!(status.is_some(), "child {} still running", child.pid());
}

/// `communicate`, timed.
fn timed(child: &Child) -> (Output, Duration) {
    timed_with(child, b"")
}

fn timed_with(child: &Child, input: &[u8]) -> (Output, Duration) {
    let started = Instant::now();
    let out = child
        .communicate_timeout(input, DEADLINE)
        .expect("communicate");
    (out, started.elapsed())
}

/// Kills every holder the output names, by its reported pid.
fn kill_holders(out: &Output) {
    if let Some(held) = out.pipes_held_open() {
        for h in held.all_holders() {
            let _ = signal::kill(h.pid(), Signal::KILL);
        }
    }
}

/// The command name of a live process (Linux).
#[cfg(target_os = "linux")]
fn comm(pid: Pid) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}

/// The holders of `stream` are exactly the one background `sleep`: alive,
/// named `sleep`, not the (reaped) child.
fn check_sleep_holds(out: &Output, stream: StdStream, child: Pid) {
    let held = out.pipes_held_open().expect("cut");
    let holders = held.holders(stream);
    if cfg!(target_os = "linux") {
        assert_eq!(holders.len(), 1, "{held}");
        let h = &holders[0];
        assert_ne!(h.pid(), child);
        assert_eq!(h.name(), "sleep", "{held}");
        #[cfg(target_os = "linux")]
        assert_eq!(comm(h.pid()), "sleep", "pid {} is no live sleep", h.pid());
    } else {
        assert!(holders.is_empty());
    }
}

fn held_by_grandchild(script: &str, cut: &[StdStream]) {
    let delay = Duration::from_millis(300);
    let g = Group::spawn(piped(&mut sh(script)).wait_delay(delay));
    exited(&g.child);
    let (out, took) = timed(&g.child);
    kill_holders(&out);
    assert!(
        took >= delay,
        "cut after {took:?}, before the {delay:?} delay"
    );
    assert!(took < delay + SLACK, "cut after {took:?}");
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert!(out.status.success());
    let held = out.pipes_held_open().expect("a grandchild holds a pipe");
    assert_eq!(held.streams().collect::<Vec<_>>(), cut, "{held}");
    for &s in cut {
        check_sleep_holds(&out, s, g.child.pid());
    }
}

#[test]
fn wait_delay_cuts_a_stdout_held_by_a_grandchild() {
    held_by_grandchild(
        "echo out; echo err >&2; sleep 20 2>/dev/null &",
        &[StdStream::Stdout],
    );
}

#[test]
fn wait_delay_cuts_a_stderr_held_by_a_grandchild() {
    held_by_grandchild(
        "echo out; echo err >&2; sleep 20 >/dev/null &",
        &[StdStream::Stderr],
    );
}

#[test]
fn wait_delay_cuts_both_when_a_grandchild_holds_both() {
    held_by_grandchild(
        "echo out; echo err >&2; sleep 20 &",
        &[StdStream::Stdout, StdStream::Stderr],
    );
}

/// The child is still running when `communicate` starts: the pidfd (or
/// the polling elsewhere) must notice its exit, then cut after the delay.
#[test]
fn wait_delay_starts_when_the_child_exits() {
    let delay = Duration::from_millis(200);
    let g = Group::spawn(piped(&mut sh("sleep 0.3; echo late; sleep 20 &")).wait_delay(delay));
    let (out, took) = timed(&g.child);
    kill_holders(&out);
    assert_eq!(out.stdout, b"late\n");
    assert!(out.pipes_held_open().is_some());
    assert!(
        took >= Duration::from_millis(300) + delay
            && took < Duration::from_millis(300) + delay + SLACK + SLACK,
        "took {took:?}"
    );
}

/// `Command::output` itself: bounded by the delay, not by the sleep.
#[test]
fn output_with_wait_delay_returns_what_was_written() {
    let started = Instant::now();
    let out = sh("echo hi; sleep 20 &")
        .wait_delay(Duration::from_millis(100))
        .output()
        .expect("output");
    kill_holders(&out);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.stdout, b"hi\n");
    let held = out.pipes_held_open().expect("the sleep holds both");
    assert!(held.stdout() && held.stderr() && !held.stdin());
    #[cfg(target_os = "linux")]
    assert_eq!(held.all_holders().len(), 1, "{held}");
}

#[test]
fn nothing_held_means_the_whole_output_and_no_marker() {
    // 1 MiB on stdout: most of it is still in flight when the child
    // exits, and zero delay must still read it to the end.
    let g = Group::spawn(
        piped(&mut sh("head -c 1048576 /dev/zero; echo err >&2")).wait_delay(Duration::ZERO),
    );
    let (out, _) = timed(&g.child);
    assert_eq!(out.stdout.len(), 1 << 20);
    assert_eq!(out.stderr, b"err\n");
    assert!(out.status.success());
    assert_eq!(out.pipes_held_open(), None);
}

#[test]
fn zero_delay_cuts_at_once_after_the_exit() {
    for _ in 0..5 {
        let g = Group::spawn(
            piped(&mut sh("echo out; echo err >&2; sleep 20 &")).wait_delay(Duration::ZERO),
        );
        exited(&g.child);
        let (out, took) = timed(&g.child);
        kill_holders(&out);
        assert!(took < SLACK, "zero delay took {took:?}");
        // What the child wrote before it exited is all there.
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        let held = out.pipes_held_open().expect("cut");
        assert!(held.stdout() && held.stderr());
    }
}

#[test]
fn wait_delay_is_a_no_op_on_streams_that_are_not_piped() {
    // The grandchild holds stdout and stderr, but they are /dev/null and
    // the inherited stderr: nothing to read, nothing to cut.
    let g = Group::spawn(
        sh("sleep 20 &")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .wait_delay(Duration::ZERO),
    );
    let (out, took) = timed(&g.child);
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(out.status.success());
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    assert_eq!(out.pipes_held_open(), None);

    // Only stderr piped, the grandchild holds just stdout (/dev/null).
    let g = Group::spawn(
        sh("echo err >&2; sleep 20 2>&- &")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .wait_delay(Duration::from_secs(5)),
    );
    let (out, took) = timed(&g.child);
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.pipes_held_open(), None);
}

/// Without a wait delay nothing changes: the pipe is read to its end,
/// which comes when the grandchild exits.
#[test]
fn without_wait_delay_reads_to_the_end() {
    let g = Group::spawn(piped(&mut sh("echo one; (sleep 0.4; echo two) &")));
    exited(&g.child);
    let (out, took) = timed(&g.child);
    assert_eq!(out.stdout, b"one\ntwo\n");
    assert_eq!(out.pipes_held_open(), None);
    assert!(took >= Duration::from_millis(300), "{took:?}");
}

#[test]
fn timeout_keeps_the_partial_output_and_communicate_returns_the_rest() {
    // The child prints, then sleeps; a grandchild prints more later.
    let g = Group::spawn(piped(&mut sh(
        "echo one; echo err1 >&2; (sleep 0.6; echo two; echo err2 >&2) & exec sleep 20",
    )));
    let err = g
        .child
        .communicate_timeout(b"", Duration::from_millis(300))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    let (stdout, stderr) = err.partial_output().expect("partial output");
    assert_eq!((stdout, stderr), (&b"one\n"[..], &b"err1\n"[..]));
    let (first_out, first_err) = err.into_partial_output().unwrap();
    // Killed and reaped at the deadline; the Python idiom still works.
    assert_eq!(
        g.child.try_wait().unwrap().and_then(|s| s.signal()),
        Some(Signal::KILL)
    );
    g.child.kill().unwrap();
    let rest = g
        .child
        .communicate_timeout(b"", DEADLINE)
        .expect("the rest");
    assert_eq!(rest.stdout, b"two\n");
    assert_eq!(rest.stderr, b"err2\n");
    assert_eq!([first_out, rest.stdout].concat(), b"one\ntwo\n");
    assert_eq!([first_err, rest.stderr].concat(), b"err1\nerr2\n");
    assert_eq!(rest.status.signal(), Some(Signal::KILL));
}

/// The input not written at the deadline stays too: a grandchild that
/// starts reading later gets all of it, in order, exactly once.
#[test]
fn timeout_keeps_the_unwritten_input() {
    let input: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    let g = Group::spawn(
        piped(&mut sh(
            "exec 3<&0; (sleep 0.6; cat <&3) & exec sleep 20 3<&-",
        ))
        .stdin(Stdio::piped()),
    );
    let err = g
        .child
        .communicate_timeout(&input, Duration::from_millis(300))
        .unwrap_err();
    let (first, _) = err.into_partial_output().expect("partial output");
    assert!(first.is_empty(), "cat has not started yet");
    // More input now is refused: the rest of the first is still pending.
    let refused = g.child.communicate_timeout(b"x", DEADLINE).unwrap_err();
    assert!(
        matches!(refused, Error::InvalidArgument { .. }),
        "{refused:?}"
    );
    let rest = g
        .child
        .communicate_timeout(b"", DEADLINE)
        .expect("the rest");
    assert_eq!(rest.stdout.len(), input.len());
    assert!(rest.stdout == input, "the bytes differ");
}

#[test]
fn after_timeout_and_kill_the_wait_delay_cuts_a_held_pipe() {
    let delay = Duration::from_millis(200);
    let g = Group::spawn(piped(&mut sh("echo one; sleep 20 & exec sleep 20")).wait_delay(delay));
    let err = g
        .child
        .communicate_timeout(b"", Duration::from_millis(300))
        .unwrap_err();
    assert_eq!(err.partial_output().unwrap().0, b"one\n");
    g.child.kill().unwrap();
    let (rest, took) = timed(&g.child);
    kill_holders(&rest);
    assert!(took < delay + SLACK, "took {took:?}");
    assert!(rest.stdout.is_empty() && rest.stderr.is_empty());
    assert_eq!(rest.status.signal(), Some(Signal::KILL));
    let held = rest
        .pipes_held_open()
        .expect("the background sleep holds both");
    assert!(held.stdout() && held.stderr());
    check_sleep_holds(&rest, StdStream::Stdout, g.child.pid());
}

/// A grandchild that holds stdin without reading: the input is cut too.
#[test]
fn wait_delay_cuts_a_stdin_nobody_reads() {
    let input = vec![b'x'; 4 << 20];
    let g = Group::spawn(
        piped(&mut sh("exec 3<&0; sleep 20 <&3 >/dev/null 2>&1 & exit 0"))
            .stdin(Stdio::piped())
            .wait_delay(Duration::from_millis(100)),
    );
    let (out, took) = timed_with(&g.child, &input);
    kill_holders(&out);
    assert!(took < Duration::from_secs(5), "{took:?}");
    let held = out.pipes_held_open().expect("the sleep holds stdin");
    assert_eq!(held.streams().collect::<Vec<_>>(), [StdStream::Stdin]);
    check_sleep_holds(&out, StdStream::Stdin, g.child.pid());
}
