//! `Pipeline` and `PipelineChild` on Unix: real programs wired by real
//! pipes. Every wait has a deadline that kills the pipeline and fails.
//!
//! Tests that count zombies, descriptors or our children, or that reap
//! "any child", take `SERIAL` for writing; every other test takes it for
//! reading, so nothing of theirs is in flight while those look.

use std::fs;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard, mpsc};
use std::time::{Duration, Instant};

use procctl::proc::{Command, PipeStatus, Pipeline, PipelineChild, Stdio, getpgrp};
use procctl::{Error, ExitStatus, Pid, Signal};

const DEADLINE: Duration = Duration::from_secs(20);

static SERIAL: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    SERIAL.read().unwrap_or_else(|p| p.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    SERIAL.write().unwrap_or_else(|p| p.into_inner())
}

fn sh(script: &str) -> Command {
    let mut c = Command::new("/bin/sh");
    c.args(["-c", script]);
    c
}

/// Waits with a deadline; on timeout kills every member and fails.
fn wait(child: &PipelineChild) -> PipeStatus {
    match child.wait_timeout(DEADLINE).expect("wait") {
        Some(status) => status,
        None => {
            for m in child.members() {
                let _ = m.kill();
            }
            panic!("pipeline still running after {DEADLINE:?}");
        }
    }
}

/// Runs `f` on another thread; if it does not finish within `limit`,
/// kills every member of `child` and fails.
fn within<T: Send + 'static>(
    child: &Arc<PipelineChild>,
    limit: Duration,
    f: impl FnOnce(Arc<PipelineChild>) -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let c = child.clone();
    std::thread::spawn(move || {
        let _ = tx.send(f(c));
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(_) => {
            for m in child.members() {
                let _ = m.kill();
            }
            panic!("pipeline did not finish in {limit:?}");
        }
    }
}

/// `output()` through `spawn` + `communicate` with a deadline.
fn output(p: &mut Pipeline) -> procctl::proc::PipelineOutput {
    let child = Arc::new(
        p.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    within(&child, DEADLINE, |c| {
        c.communicate(b"").expect("communicate")
    })
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("procctl-pipeline-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn fd_count() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Field `n` of `/proc/PID/stat` (1-based as in proc(5): 4 ppid, 5 pgrp).
fn stat_field(pid: i32, n: usize) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(n - 3)?.parse().ok()
}

/// Every process whose parent is us, live or zombie.
fn our_children() -> Vec<i32> {
    let me = std::process::id() as i32;
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| stat_field(pid, 4) == Some(me))
        .collect()
}

fn exited(code: i32) -> ExitStatus {
    ExitStatus::Exited(code)
}

fn signaled(signal: Signal) -> ExitStatus {
    ExitStatus::Signaled {
        signal,
        core_dumped: false,
    }
}

// --- sizes -----------------------------------------------------------------

#[test]
fn two_three_and_fifty_members() {
    let _g = shared();
    let out = output(&mut Command::new("echo").arg("hello").pipe(Command::new("cat")));
    assert_eq!(out.stdout, b"hello\n");
    assert_eq!(out.status.statuses(), [exited(0), exited(0)]);

    let out = output(
        &mut Command::new("printf")
            .arg("b\\na\\nc\\n")
            .pipe(Command::new("sort"))
            .pipe(Command::new("head").arg("-2")),
    );
    assert_eq!(out.stdout, b"a\nb\n");
    assert_eq!(out.status.to_string(), "0 | 0 | 0");

    // 50 members: 49 `sed` each adding one character, the input fed
    // through the first member's stdin.
    let mut members = vec![Command::new("cat")];
    for _ in 1..50 {
        members.push(Command::from(Command::new("sed").arg("s/$/+/")));
    }
    let child = Arc::new(
        Pipeline::new(members)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn 50"),
    );
    assert_eq!(child.members().len(), 50);
    let out = within(&child, DEADLINE, |c| {
        c.communicate(b"x\n").expect("communicate")
    });
    assert_eq!(out.stdout, format!("x{}\n", "+".repeat(49)).as_bytes());
    assert_eq!(out.status.statuses(), vec![exited(0); 50].as_slice());
    assert!(out.status.success());
}

/// 256 MiB through `cat | cat | cat`: written by a thread into the first
/// member's stdin, read from the last member's stdout here, compared by
/// length and a position-dependent checksum.
#[test]
fn many_mebibytes_through_three_cats_arrive_intact() {
    let _g = shared();
    const TOTAL: usize = 256 << 20;
    fn block(i: usize) -> Vec<u8> {
        // Each 64 KiB block differs (its index mixed in), so a lost or
        // repeated block changes the sum.
        (0..65536u32)
            .map(|j| (j.wrapping_mul(31) ^ (i as u32).wrapping_mul(2654435761)) as u8)
            .collect()
    }
    fn mix(sum: u64, bytes: &[u8]) -> u64 {
        bytes
            .iter()
            .fold(sum, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
    }
    let child = Arc::new(
        Command::new("cat")
            .pipe(Command::new("cat"))
            .pipe(Command::new("cat"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let mut stdin = child.take_stdin().expect("stdin piped");
    let mut stdout = child.take_stdout().expect("stdout piped");
    let (len, sum, sent) = within(&child, Duration::from_secs(120), move |c| {
        let writer = std::thread::spawn(move || {
            let mut sum = 0xcbf29ce484222325u64;
            for i in 0..TOTAL / 65536 {
                let b = block(i);
                sum = mix(sum, &b);
                stdin.write_all(&b).expect("write");
            }
            sum // stdin dropped here: EOF for the first cat
        });
        let mut sum = 0xcbf29ce484222325u64;
        let mut len = 0usize;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = stdout.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            sum = mix(sum, &buf[..n]);
            len += n;
        }
        let sent = writer.join().unwrap();
        assert!(c.wait().unwrap().success());
        (len, sum, sent)
    });
    assert_eq!(len, TOTAL);
    assert_eq!(sum, sent, "the bytes differ");
}

// --- statuses ----------------------------------------------------------------

#[test]
fn statuses_in_order_with_exit_codes_and_signals() {
    let _g = shared();
    let child = sh("exit 3")
        .pipe(sh("kill -TERM $$"))
        .pipe(sh("exec cat >/dev/null"))
        .pipe(sh("kill -KILL $$"))
        .pipe(sh("exit 7"))
        .spawn()
        .expect("spawn");
    let status = wait(&child);
    assert_eq!(
        status.statuses(),
        [
            exited(3),
            signaled(Signal::TERM),
            exited(0),
            signaled(Signal::KILL),
            exited(7)
        ]
    );
    assert_eq!(status.to_string(), "3 | 143 | 0 | 137 | 7");
    assert_eq!(status.last(), exited(7));
    assert_eq!(status.pipefail(), exited(7));
    assert!(!status.success());
    // wait is idempotent
    assert_eq!(child.wait().unwrap(), status);

    let status = wait(
        &sh("exit 2")
            .pipe(sh("kill -TERM $$"))
            .pipe(sh("exit 0"))
            .spawn()
            .unwrap(),
    );
    assert_eq!(status.last(), exited(0));
    assert_eq!(status.pipefail(), signaled(Signal::TERM));
    assert_eq!(status.pipefail_ignoring_sigpipe(), signaled(Signal::TERM));

    let status = wait(
        &Command::new("true")
            .pipe(Command::new("true"))
            .spawn()
            .unwrap(),
    );
    assert!(status.success());
    assert_eq!(status.pipefail(), exited(0));
}

#[test]
fn pipefail_and_sigpipe() {
    let _g = shared();
    // yes | head -1: head exits, yes dies of SIGPIPE.
    let out = output(&mut Command::new("yes").pipe(Command::new("head").arg("-1")));
    assert_eq!(out.stdout, b"y\n");
    assert_eq!(out.status.statuses(), [signaled(Signal::PIPE), exited(0)]);
    assert_eq!(out.status.to_string(), "141 | 0");
    assert!(out.status.last().success());
    assert_eq!(out.status.pipefail(), signaled(Signal::PIPE));
    assert!(!out.status.success());
    assert!(out.status.pipefail_ignoring_sigpipe().success());

    // The same in the middle: yes | head -c 1000000 | head -1.
    let out = output(
        &mut Command::new("yes")
            .pipe(Command::new("head").args(["-c", "1000000"]))
            .pipe(Command::new("head").arg("-1")),
    );
    assert_eq!(out.stdout, b"y\n");
    assert_eq!(out.status.statuses()[2], exited(0));
    assert!(
        out.status.pipefail_ignoring_sigpipe().success(),
        "{}",
        out.status
    );

    // A forgiven SIGPIPE does not hide a real failure on its left.
    let out = output(
        &mut sh("exit 5")
            .pipe(Command::new("yes"))
            .pipe(Command::new("head").arg("-1")),
    );
    assert_eq!(out.status.pipefail_ignoring_sigpipe(), exited(5));

    // The last member's SIGPIPE is the pipeline's own: it counts. Its
    // stdout is our pipe, closed before it writes.
    let child = Command::new("true")
        .pipe(sh("sleep 0.2; exec yes"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.take_stdout());
    let status = wait(&child);
    assert_eq!(status.statuses()[1], signaled(Signal::PIPE));
    assert_eq!(status.pipefail_ignoring_sigpipe(), signaled(Signal::PIPE));
}

// --- failures ----------------------------------------------------------------

#[test]
fn a_missing_middle_program_names_its_index_and_leaves_nothing() {
    let _g = exclusive();
    // Warm up what procctl opens once (the reap machinery).
    let _ = Command::new("true").status().unwrap();
    let fds = fd_count();
    assert_eq!(our_children(), Vec::<i32>::new());
    for _ in 0..20 {
        let err = Command::new("sleep")
            .arg("10")
            .pipe(Command::new("no-such-program-procctl-pipeline"))
            .pipe(Command::new("cat"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_err();
        match &err {
            Error::PipelineMember {
                index,
                program,
                source,
            } => {
                assert_eq!(*index, 1);
                assert_eq!(program, "no-such-program-procctl-pipeline");
                assert!(matches!(**source, Error::NotFound { .. }), "{source:?}");
            }
            other => panic!("wrong error: {other:?}"),
        }
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        assert!(err.to_string().contains("member 1"), "{err}");
        assert!(err.to_string().contains("no-such-program-procctl-pipeline"));
        let io = std::io::Error::from(err);
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        // Member 0 was killed and reaped before spawn returned.
        assert_eq!(our_children(), Vec::<i32>::new());
        assert_eq!(procctl::reap::zombie_children().unwrap(), vec![]);
        assert_eq!(fd_count(), fds);
    }
    // A failing step other than exec keeps its step.
    let err = Command::new("true")
        .pipe(Command::new("true"))
        .pipe(Command::from(
            Command::new("true").current_dir("/no/such/dir"),
        ))
        .spawn()
        .unwrap_err();
    assert!(
        matches!(err, Error::PipelineMember { index: 2, .. }),
        "{err:?}"
    );
    assert_eq!(err.spawn_step(), Some(procctl::error::SpawnStep::Chdir));
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    assert_eq!(our_children(), Vec::<i32>::new());
    assert_eq!(fd_count(), fds);
}

#[test]
fn bad_pipelines_are_refused_before_anything_runs() {
    let _g = exclusive();
    let _ = Command::new("true").status().unwrap();
    let fds = fd_count();
    let invalid = |r: procctl::Result<PipelineChild>, needle: &str| match r {
        Err(Error::InvalidArgument { value, .. }) => {
            assert!(value.contains(needle), "{value:?} lacks {needle:?}")
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    };
    invalid(Pipeline::new([]).spawn(), "no commands");
    assert!(matches!(
        Pipeline::new([]).status(),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        Pipeline::new([]).output(),
        Err(Error::InvalidArgument { .. })
    ));
    // Member 1 sets the stdin the pipeline wires.
    invalid(
        Command::new("true")
            .pipe(Command::new("cat").stdin(Stdio::null()))
            .spawn(),
        "member 1 (cat)",
    );
    // Member 0 of 2 sets the stdout the pipeline wires, with map_fd.
    let null = fs::File::open("/dev/null").unwrap();
    invalid(
        Command::new("echo")
            .map_fd(null.into(), 1)
            .pipe(Command::new("cat"))
            .spawn(),
        "member 0 (echo)",
    );
    invalid(
        Command::new("true")
            .pipe(Command::new("true").stdout(Stdio::null()))
            .pipe(Command::new("true"))
            .spawn(),
        "member 1",
    );
    // A member with its own group, while the pipeline makes one.
    invalid(
        Command::new("true")
            .pipe(Command::new("true").process_group(0))
            .spawn(),
        "member 1",
    );
    invalid(
        Command::new("true")
            .setsid(true)
            .pipe(Command::new("true"))
            .spawn(),
        "member 0",
    );
    assert_eq!(our_children(), Vec::<i32>::new());
    assert_eq!(fd_count(), fds);
    // Without the pipeline's group, the member's own group is honoured.
    let child = Command::new("sleep")
        .arg("10")
        .pipe(Command::new("sleep").arg("10").process_group(0))
        .process_group(false)
        .spawn()
        .unwrap();
    let second = child.members()[1].pid().as_raw();
    assert_eq!(stat_field(second, 5), Some(second));
    child.kill().unwrap();
    wait(&child);
}

// --- process groups and signals --------------------------------------------------

#[test]
fn every_member_is_in_the_first_members_group() {
    let _g = shared();
    let child = Command::new("sleep")
        .arg("10")
        .pipe(Command::new("sleep").arg("10"))
        .pipe(Command::new("sleep").arg("10"))
        .spawn()
        .unwrap();
    let leader = child.members()[0].pid();
    assert_eq!(child.pgid(), Some(leader));
    for m in child.members() {
        assert_eq!(
            stat_field(m.pid().as_raw(), 5),
            Some(leader.as_raw()),
            "{m:?}"
        );
    }
    assert_ne!(Some(leader), getpgrp());
    assert_eq!(child.try_wait().unwrap(), None);
    child.kill().unwrap();
    assert_eq!(wait(&child).to_string(), "137 | 137 | 137");
}

/// A member that leaves the group by itself at once (`setsid`) may do so
/// before the parent's own `setpgid` for it, which then fails with
/// `EPERM` (another session): the member's `setpgid` before `execve` did
/// the work, so the spawn succeeds.
#[test]
fn a_member_that_calls_setsid_at_once_still_starts() {
    let _g = shared();
    for round in 0..300 {
        let child = Command::new("true")
            .pipe(Command::new("setsid").arg("true"))
            .spawn()
            .unwrap_or_else(|e| panic!("round {round}: {e:?}"));
        let status = wait(&child);
        assert!(status.success(), "round {round}: {status}");
    }
}

#[test]
fn process_group_false_keeps_the_callers_group() {
    let _g = shared();
    let ours = getpgrp().unwrap().as_raw();
    let child = Command::new("sleep")
        .arg("10")
        .pipe(Command::new("sleep").arg("10"))
        .process_group(false)
        .spawn()
        .unwrap();
    assert_eq!(child.pgid(), None);
    for m in child.members() {
        assert_eq!(stat_field(m.pid().as_raw(), 5), Some(ours));
    }
    child.signal(Signal::TERM).unwrap();
    let status = wait(&child);
    assert_eq!(status.statuses(), [signaled(Signal::TERM); 2]);
}

#[test]
fn signal_reaches_every_member_and_what_they_started() {
    let _g = shared();
    // Each member is a shell waiting for a `sleep` it started in the same
    // group; the group signal ends the shells and the sleeps.
    let dir = tmp("grandchildren");
    fs::create_dir_all(&dir).unwrap();
    let script = |name: &str| format!("sleep 10 & echo $! > {}/{name}; wait", dir.display());
    let child = sh(&script("a"))
        .pipe(sh(&script("b")))
        .pipe(sh(&script("c")))
        .spawn()
        .unwrap();
    let start = Instant::now();
    let grandchildren: Vec<i32> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            loop {
                if let Some(pid) = fs::read_to_string(dir.join(n))
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                {
                    break pid;
                }
                if start.elapsed() > DEADLINE {
                    child.kill().unwrap();
                    panic!("member {n} did not start its sleep");
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
        .collect();
    child.signal(Signal::USR1).unwrap();
    let status = wait(&child);
    assert_eq!(status.statuses(), [signaled(Signal::USR1); 3]);
    // The sleeps got it too (reparented to init, which reaps them).
    for pid in grandchildren {
        let start = Instant::now();
        while stat_field(pid, 5) == Some(child.pgid().unwrap().as_raw()) {
            assert!(start.elapsed() < DEADLINE, "sleep {pid} survived");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // After every member was reaped nothing is sent, and no error.
    child.signal(Signal::TERM).unwrap();
    child.kill().unwrap();
}

// --- stdio ---------------------------------------------------------------------

#[test]
fn stdio_goes_to_the_ends_and_stderr_to_every_member() {
    let _g = shared();
    let input = tmp("input");
    fs::write(&input, "from the file\n").unwrap();
    let output = tmp("output");
    let mut p = sh("cat; echo zero >&2")
        .pipe(sh("tr a-z A-Z; echo one >&2"))
        .pipe(sh("cat; echo two >&2"));
    let child = p
        .stdin(fs::File::open(&input).unwrap())
        .stdout(fs::File::create(&output).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(child.take_stdin().is_none());
    assert!(child.take_stdout().is_none());
    let mut err = String::new();
    child
        .take_stderr()
        .expect("shared stderr")
        .read_to_string(&mut err)
        .unwrap();
    assert!(wait(&child).success());
    assert_eq!(fs::read_to_string(&output).unwrap(), "FROM THE FILE\n");
    let mut lines: Vec<&str> = err.lines().collect();
    lines.sort();
    assert_eq!(lines, ["one", "two", "zero"]);

    // The same pipeline again, with a new stdin: the stdout setting is
    // still there (the file was lent for the spawn, not given away).
    p.stdin(fs::File::open(&input).unwrap());
    let child = p.spawn().unwrap();
    drop(child.take_stderr());
    wait(&child);
    assert_eq!(
        fs::read_to_string(&output).unwrap(),
        "FROM THE FILE\nFROM THE FILE\n"
    );
}

#[test]
fn a_members_own_settings_win() {
    let _g = shared();
    let own_err = tmp("own-stderr");
    let own_out = tmp("own-stdout");
    let out = output(
        &mut sh("echo in; echo zero >&2")
            .pipe(Command::from(
                sh("cat; echo one >&2").stderr(fs::File::create(&own_err).unwrap()),
            ))
            .pipe(Command::from(
                sh("cat; echo two >&2").stdout(fs::File::create(&own_out).unwrap()),
            )),
    );
    assert!(out.status.success());
    assert_eq!(out.stdout, b"", "the last member's own stdout wins");
    assert_eq!(fs::read_to_string(&own_out).unwrap(), "in\n");
    assert_eq!(fs::read_to_string(&own_err).unwrap(), "one\n");
    let mut lines: Vec<&str> = std::str::from_utf8(&out.stderr).unwrap().lines().collect();
    lines.sort();
    assert_eq!(lines, ["two", "zero"]);

    // The first member's own stdin wins over the pipeline's.
    let input = tmp("own-stdin");
    fs::write(&input, "own\n").unwrap();
    let child = Arc::new(
        Command::from(Command::new("cat").stdin(fs::File::open(&input).unwrap()))
            .pipe(Command::new("cat"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert!(child.take_stdin().is_none());
    let out = within(&child, DEADLINE, |c| c.communicate(b"").unwrap());
    assert_eq!(out.stdout, b"own\n");
}

#[test]
fn communicate_feeds_the_first_and_reads_the_last() {
    let _g = shared();
    let input: Vec<u8> = (0..200_000)
        .flat_map(|i: u32| format!("{i}\n").into_bytes())
        .collect();
    let child = Arc::new(
        Command::new("sort")
            .arg("-n")
            .pipe(Command::new("tail").arg("-1"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let out = within(&child, DEADLINE, move |c| c.communicate(&input).unwrap());
    assert_eq!(out.stdout, b"199999\n");
    assert!(out.stderr.is_empty());
    assert!(out.status.success());

    // Input for a stdin that is not piped.
    let child = Command::new("true")
        .pipe(Command::new("true"))
        .spawn()
        .unwrap();
    assert!(matches!(
        child.communicate(b"x"),
        Err(Error::InvalidArgument { .. })
    ));
    wait(&child);
}

// --- reaping -----------------------------------------------------------------------

#[test]
fn a_dropped_pipeline_is_reaped() {
    let _g = exclusive();
    let child = Command::new("true")
        .pipe(Command::new("sleep").arg("0.5"))
        .spawn()
        .unwrap();
    let pids: Vec<Pid> = child.members().iter().map(|m| m.pid()).collect();
    drop(child);
    // The sleep is still running: it was parked, not reaped.
    assert!(procctl::reap::pending_orphans() >= 1);
    // procctl reaps orphans on its next call; spawn something until they
    // are gone.
    let start = Instant::now();
    loop {
        Command::new("true").status().unwrap();
        let zombies = procctl::reap::zombie_children().unwrap();
        if procctl::reap::pending_orphans() == 0 && !pids.iter().any(|p| zombies.contains(p)) {
            break;
        }
        assert!(start.elapsed() < DEADLINE, "members {pids:?} not reaped");
        std::thread::sleep(Duration::from_millis(10));
    }
    let children = our_children();
    assert!(!pids.iter().any(|p| children.contains(&p.as_raw())));
}

/// A "wait for any child" elsewhere may reap the group's leader before the
/// next member joins its group: that member then leads a new group rather
/// than failing.
#[test]
fn an_any_child_reaper_cannot_break_the_group() {
    let _g = exclusive();
    let stop = Arc::new(AtomicBool::new(false));
    let reaper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = procctl::reap::reap_zombies();
            }
        })
    };
    let mut regrouped = 0;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for _ in 0..300 {
            let child = Command::new("true")
                .pipe(Command::new("true"))
                .pipe(Command::new("true"))
                .spawn()
                .expect("spawn beside an any-child reaper");
            let status = wait(&child);
            assert!(status.success(), "{status}");
            let pgid = child.pgid().unwrap();
            assert!(child.members().iter().any(|m| m.pid() == pgid));
            if pgid != child.members()[0].pid() {
                regrouped += 1;
            }
        }
    }));
    stop.store(true, Ordering::Relaxed);
    reaper.join().unwrap();
    result.unwrap();
    eprintln!("{regrouped} of 300 pipelines started a new group");
}

// --- wait delay, communicate_timeout ---------------------------------------------

/// Waits (with the deadline) until `path` holds a pid, then returns it;
/// on timeout kills every member and fails.
fn read_pid(child: &PipelineChild, path: &std::path::Path) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(pid) = fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("no pid in {}", path.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills a background process this test started, by its group (it leads
/// one, or is in the pipeline's, `pgid`) and by its pid.
fn kill_background(pid: i32, pgid: Option<Pid>) {
    if let Some(pg) = pgid {
        let _ = procctl::signal::killpg(pg, Signal::KILL);
    }
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = procctl::signal::kill(pid, Signal::KILL);
    }
}

/// Linux 6.9+: `pidfd_send_signal` can signal a process group.
fn pidfd_groups() -> bool {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut v = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    (v.next().unwrap_or(0), v.next().unwrap_or(0)) >= (6, 9)
}

#[test]
fn wait_delay_cuts_a_pipe_a_background_job_holds_and_names_it() {
    let _g = shared();
    let pidfile = tmp("holder");
    let _ = fs::remove_file(&pidfile);
    let delay = Duration::from_millis(300);
    // The last member exits at once, leaving a sleep that holds its stdout
    // (and the shared stderr).
    let child = Arc::new(
        Command::new("printf")
            .arg("a\\nb\\n")
            .pipe(sh(&format!(
                "cat; sleep 600 & echo $! > {}",
                pidfile.display()
            )))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .wait_delay(delay)
            .spawn()
            .unwrap(),
    );
    let holder = read_pid(&child, &pidfile);
    let pgid = child.pgid();
    let status = wait(&child);
    let started = Instant::now();
    let out = within(&child, DEADLINE, |c| c.communicate(b""));
    let took = started.elapsed();
    kill_background(holder, pgid);
    let out = out.unwrap();
    assert!(
        took < delay + Duration::from_millis(200),
        "communicate took {took:?} after every member had ended (delay {delay:?})"
    );
    assert_eq!(out.status, status);
    assert!(out.status.success(), "{}", out.status);
    assert_eq!(out.stdout, b"a\nb\n");
    let held = out.pipes_held_open().expect("the sleep holds stdout");
    assert!(held.stdout() && held.stderr(), "{held:?}");
    assert_eq!(
        held.holders(procctl::proc::StdStream::Stdout)
            .iter()
            .map(|h| (h.pid().as_raw(), h.name().to_owned()))
            .collect::<Vec<_>>(),
        [(holder, "sleep".into())]
    );
}

#[test]
fn pipeline_output_with_a_wait_delay_returns_while_the_holder_runs() {
    let _g = shared();
    let started = Instant::now();
    let mut p = sh("echo out; echo err >&2").pipe(sh("cat; sleep 600 &"));
    p.wait_delay(Duration::from_millis(100));
    // `output` itself has no deadline: run it on a thread that fails the
    // test after DEADLINE (the holder is then found below and killed).
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(p.output());
    });
    let out = rx.recv_timeout(DEADLINE);
    let out = out.expect("output did not return").unwrap();
    let took = started.elapsed();
    let held = out.pipes_held_open().expect("the sleep holds stdout");
    let holders = held.all_holders();
    for h in &holders {
        kill_background(h.pid().as_raw(), None);
    }
    assert_eq!(holders.len(), 1, "{held:?}");
    assert_eq!(holders[0].name(), "sleep");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(
        (out.stdout.as_slice(), out.stderr.as_slice()),
        (&b"out\n"[..], &b"err\n"[..])
    );
    assert!(out.status.success(), "{}", out.status);
}

#[test]
fn wait_delay_without_a_holder_gives_everything_and_no_marker() {
    let _g = shared();
    for delay in [Duration::ZERO, Duration::from_millis(100)] {
        // 4 MiB through two members, and a member that writes to stderr
        // after its stdin ends, while another is still running.
        let child = Arc::new(
            Command::new("head")
                .args(["-c", "4194304", "/dev/zero"])
                .pipe(sh("cat; echo tail >&2"))
                .pipe(sh("cat; sleep 0.2; echo last >&2"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .wait_delay(delay)
                .spawn()
                .unwrap(),
        );
        let out = within(&child, DEADLINE, |c| c.communicate(b"")).unwrap();
        assert_eq!(out.stdout.len(), 4 << 20, "delay {delay:?}");
        assert!(out.stdout.iter().all(|&b| b == 0));
        assert_eq!(out.stderr, b"tail\nlast\n", "delay {delay:?}");
        assert_eq!(out.pipes_held_open(), None, "delay {delay:?}");
        assert!(out.status.success(), "{}", out.status);
    }
}

/// The delay starts when the LAST member has ended, not the last in
/// pipeline order: the first member closes its stdout (so the second ends
/// at once) and writes to the shared stderr 300 ms later.
#[test]
fn wait_delay_starts_when_every_member_has_ended() {
    let _g = shared();
    let child = Arc::new(
        sh("exec 1>&-; sleep 0.3; echo late >&2")
            .pipe(Command::new("cat"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .wait_delay(Duration::ZERO)
            .spawn()
            .unwrap(),
    );
    let out = within(&child, DEADLINE, |c| c.communicate(b"")).unwrap();
    assert_eq!(out.stderr, b"late\n");
    assert_eq!(out.pipes_held_open(), None);
    assert!(out.status.success(), "{}", out.status);
}

#[test]
fn set_wait_delay_on_a_running_pipeline() {
    let _g = shared();
    let pidfile = tmp("set-holder");
    let _ = fs::remove_file(&pidfile);
    let child = Arc::new(
        Command::new("true")
            .pipe(sh(&format!("sleep 600 & echo $! > {}", pidfile.display())))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert_eq!(child.wait_delay(), None);
    child.set_wait_delay(Some(Duration::from_millis(50)));
    let holder = read_pid(&child, &pidfile);
    let pgid = child.pgid();
    let out = within(&child, DEADLINE, |c| c.communicate(b""));
    kill_background(holder, pgid);
    let out = out.unwrap();
    assert!(out.stdout.is_empty());
    assert!(out.pipes_held_open().unwrap().stdout());
}

#[test]
fn communicate_timeout_keeps_partial_output_and_communicate_gives_the_rest() {
    let _g = shared();
    let pidfile = tmp("resume-holder");
    let go = tmp("resume-go");
    let _ = fs::remove_file(&pidfile);
    let _ = fs::remove_file(&go);
    // The last member starts a writer in a session of its own (out of
    // the pipeline's group, so the kill at the deadline spares it) that
    // holds stdout: 20000 lines, then, once the test says go (after the
    // deadline), 20000 more, more than a pipe holds. The member copies
    // its stdin and says "first" once the writer runs, then sleeps past
    // the deadline.
    let writer = format!(
        "echo $$ > {}; seq 1 20000; while [ ! -e {} ]; do sleep 0.01; done; seq 20001 40000",
        pidfile.display(),
        go.display()
    );
    let child = Arc::new(
        sh("cat")
            .pipe(sh(&format!(
                "setsid sh -c '{writer}' & while [ ! -s {} ]; do sleep 0.01; done; cat; echo first; exec sleep 600",
                pidfile.display()
            )))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let err = within(&child, DEADLINE, |c| {
        c.communicate_timeout(b"in\n", Duration::from_secs(2))
    })
    .unwrap_err();
    let writer_pid = read_pid(&child, &pidfile);
    let seq = |from: u32, to: u32| (from..=to).map(|i| format!("{i}\n")).collect::<String>();
    let check = || {
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        let partial = err.partial_output().expect("partial output").0;
        // Every member was killed and reaped at the deadline.
        let status = child.try_wait().unwrap().expect("reaped at the deadline");
        assert_eq!(status.statuses()[1], signaled(Signal::KILL));
        // An input now is refused: the timed-out call keeps its own.
        assert!(matches!(
            child.communicate(b"more"),
            Err(Error::InvalidArgument { .. })
        ));
        child.kill().unwrap(); // all reaped: sends nothing
        // "in" and "first" went through the member, in some order with
        // the writer's first lines.
        let text = String::from_utf8(partial.to_vec()).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.iter().filter(|l| **l == "in").count(), 1, "{text:?}");
        assert_eq!(lines.iter().filter(|l| **l == "first").count(), 1);
        lines.retain(|l| *l != "in" && *l != "first");
        assert!(lines.join("\n") + "\n" == seq(1, 20000), "first half");
        fs::write(&go, "").unwrap();
        let rest = within(&child, DEADLINE, |c| c.communicate(b"")).unwrap();
        assert_eq!(rest.status, status);
        // Not one byte lost or repeated.
        assert!(rest.stdout == seq(20001, 40000).as_bytes(), "second half");
        assert_eq!(rest.pipes_held_open(), None);
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check));
    kill_background(writer_pid, Pid::from_raw(writer_pid));
    result.unwrap();
}

// --- signal, leader reaped ---------------------------------------------------------

#[test]
fn signal_reaches_the_group_after_its_leader_was_reaped() {
    let _g = shared();
    let pidfile = tmp("leader-gone");
    let _ = fs::remove_file(&pidfile);
    let child = Command::new("true")
        .pipe(sh(&format!(
            "sleep 600 & echo $! > {}; wait",
            pidfile.display()
        )))
        .pipe(Command::new("cat"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let grandchild = read_pid(&child, &pidfile);
    let pgid = child.pgid().unwrap();
    assert_eq!(pgid, child.members()[0].pid());
    // The leader exits and is reaped; the group lives on.
    let leader = child.members()[0].wait_timeout(DEADLINE).unwrap();
    if leader.is_none() {
        let _ = child.kill();
        kill_background(grandchild, None);
        panic!("true did not exit");
    }
    assert_eq!(stat_field(grandchild, 5), Some(pgid.as_raw()));
    child.signal(Signal::TERM).unwrap();
    let status = wait(&child);
    // Linux 6.9+: through the reaped leader's pidfd, the whole group
    // (the sleep too); elsewhere each live member's own handle.
    let sleep_reached = pidfd_groups();
    if sleep_reached {
        let start = Instant::now();
        while stat_field(grandchild, 5) == Some(pgid.as_raw()) {
            if start.elapsed() > DEADLINE {
                kill_background(grandchild, None);
                panic!("sleep {grandchild} did not get the signal");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    kill_background(grandchild, None);
    assert_eq!(
        status.statuses(),
        [exited(0), signaled(Signal::TERM), signaled(Signal::TERM)]
    );
    // All reaped, nobody left in the group: Ok, nothing sent.
    child.signal(Signal::TERM).unwrap();
    child.kill().unwrap();
    assert_eq!(wait(&child), status);
}

#[test]
fn signal_after_every_member_was_reaped_is_ok() {
    let _g = shared();
    for _ in 0..20 {
        let child = Command::new("true")
            .pipe(Command::new("true"))
            .spawn()
            .unwrap();
        let status = wait(&child);
        child.signal(Signal::KILL).unwrap();
        child.kill().unwrap();
        assert_eq!(wait(&child), status);
        assert!(status.success());
    }
}

/// One thread signals while another reaps the members: every `signal`
/// is `Ok` whether it comes before, between or after the reaps, and the
/// members end by the signal or by themselves, never otherwise.
#[test]
fn signal_while_another_thread_reaps() {
    let _g = shared();
    for round in 0..100 {
        let child = Arc::new(
            Command::new("true")
                .pipe(Command::new("true"))
                .pipe(Command::new("true"))
                .spawn()
                .unwrap(),
        );
        let waiter = {
            let c = child.clone();
            std::thread::spawn(move || wait(&c))
        };
        let mut sent = 0;
        while !waiter.is_finished() {
            child
                .signal(Signal::CONT)
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            sent += 1;
            if sent > 1_000_000 {
                break;
            }
        }
        let status = waiter.join().unwrap();
        assert!(status.success(), "round {round}: {status}");
        child.signal(Signal::CONT).unwrap();
    }
}

/// The number of a process group is only a name: once the group is empty
/// the kernel may give it to a new process. Here the leader is reaped and
/// the other member leaves the group (`setsid`), so the group is empty
/// while a member lives; a new process then takes the number and leads a
/// group of its own. `signal` must reach the member and spare the
/// newcomer (a liveness check plus `killpg(pgid)` hit the newcomer).
/// Pids are chosen with `ns_last_pid`, so this runs in a PID namespace of
/// its own: the test binary re-runs itself as that namespace's init.
#[test]
fn signal_spares_a_new_group_that_took_the_number() {
    let _g = shared();
    let unshare = ["/usr/bin/unshare", "/bin/unshare"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(unshare) = unshare else {
        eprintln!("skipped: no unshare(1)");
        return;
    };
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(unshare)
        // --kill-child: the namespace's init (and so all in it) dies
        // with unshare, should the deadline kill it.
        .args(["--pid", "--fork", "--kill-child", "--mount-proc"])
        .arg(&exe)
        .args([
            "--exact",
            "unix::pid_namespace_part_of_signal_spares_a_new_group",
            "--ignored",
            "--nocapture",
        ])
        .env("PROCCTL_PIPELINE_PIDNS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.communicate_timeout(b"", DEADLINE);
    let out = match out {
        Ok(out) => out,
        Err(e) => panic!("the namespace part did not finish: {e}"),
    };
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if text.contains("unshare failed") || text.contains("unshare:") {
        eprintln!("skipped: no PID namespace here: {text}");
        return;
    }
    assert!(out.status.success(), "{}\n{text}", out.status);
    assert!(text.contains("1 passed"), "{text}");
    assert!(text.contains("ran as init of a PID namespace"), "{text}");
}

/// The part of [`signal_spares_a_new_group_that_took_the_number`] that
/// runs as init of a new PID namespace.
#[test]
#[ignore = "run by signal_spares_a_new_group_that_took_the_number in a PID namespace"]
fn pid_namespace_part_of_signal_spares_a_new_group() {
    if std::env::var_os("PROCCTL_PIPELINE_PIDNS").is_none() || std::process::id() != 1 {
        return;
    }
    let child = Command::new("true")
        .pipe(Command::new("setsid").args(["sleep", "600"]))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pgid = child.pgid().unwrap();
    let member = child.members()[1].pid().as_raw();
    // Shorter than the deadline of the test that runs this one.
    let deadline = DEADLINE / 4;
    assert!(child.members()[0].wait_timeout(deadline).unwrap().is_some());
    // Wait until the second member has left the group: it is empty now.
    let start = Instant::now();
    while stat_field(member, 5) == Some(pgid.as_raw()) {
        assert!(start.elapsed() < deadline, "setsid did not run");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The next pid is the group's old number; the newcomer leads a group.
    fs::write(
        "/proc/sys/kernel/ns_last_pid",
        (pgid.as_raw() - 1).to_string(),
    )
    .unwrap();
    let newcomer = Command::new("sleep")
        .arg("600")
        .process_group(0)
        .spawn()
        .unwrap();
    assert_eq!(newcomer.pid(), pgid, "the number was not reused");
    child.signal(Signal::TERM).unwrap();
    // A signal sent to the newcomer's group would be pending already and
    // (TERM is fatal) decide its status; ours comes second.
    newcomer.kill().unwrap();
    let newcomer_status = newcomer.wait_timeout(deadline).unwrap();
    let member_status = child.members()[1].wait_timeout(deadline).unwrap();
    // (Leaving this process, init of the namespace, kills what is left.)
    assert_eq!(
        newcomer_status,
        Some(signaled(Signal::KILL)),
        "the newcomer got our signal"
    );
    assert_eq!(
        member_status,
        Some(signaled(Signal::TERM)),
        "the member did not get it"
    );
    eprintln!("ran as init of a PID namespace");
}
