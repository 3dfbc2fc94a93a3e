// The scenarios that tests/async_tokio.rs and tests/async_io.rs run on
// each runtime. Included (`include!`) after the including file defined a
// module `rt` with: `ChildExt`, `CommandExt`, `PipelineChildExt`,
// `PipelineExt`, `ScopeExt` (Linux), `signals`, `ctrl_c` (the runtime's
// procctl module), `block_on`, `timeout`, `sleep`, `spawn`
// (a task on tokio; the future itself on async-io, which has no spawn).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use procctl::proc::{Child, Command, DropPolicy, PipeStatus, PipelineChild, Stdio};
use procctl::{ExitStatus, Signal};
use rt::{ChildExt, CommandExt, PipelineChildExt, PipelineExt};

/// The deadline of every scenario: past it the scenario fails (and the
/// children it holds are killed when dropped: `DropPolicy::Kill`).
const DEADLINE: Duration = Duration::from_secs(60);

/// Awaits `fut` at most `d`, failing the test with `what` past it.
async fn within<T>(d: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match rt::timeout(d, fut).await {
        Some(v) => v,
        None => panic!("{what}: not done within {d:?}"),
    }
}

/// Polls every future until all are done, in one task: the runtime-free
/// `join_all`.
struct JoinAll<F: Future> {
    futs: Vec<Option<Pin<Box<F>>>>,
    out: Vec<Option<F::Output>>,
}

fn join_all<F: Future>(futs: impl IntoIterator<Item = F>) -> JoinAll<F> {
    let futs: Vec<_> = futs.into_iter().map(|f| Some(Box::pin(f))).collect();
    let out = futs.iter().map(|_| None).collect();
    JoinAll { futs, out }
}

impl<F: Future> Future for JoinAll<F>
where
    F::Output: Unpin,
{
    type Output = Vec<F::Output>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<F::Output>> {
        let this = self.get_mut();
        let mut pending = false;
        for (slot, out) in this.futs.iter_mut().zip(this.out.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(this.out.iter_mut().map(|o| o.take().unwrap()).collect())
        }
    }
}

/// Open descriptors of this process.
fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (1 000 children hold
/// 1 000 pidfds, and their waiters 1 000 duplicates).
fn raise_nofile() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
}

fn sleeper() -> Child {
    let child = Command::new("sleep").arg("30").spawn().unwrap();
    child.set_drop_policy(DropPolicy::KillAndReap);
    child
}

/// 1 000 children awaited at once: every status right, no zombie, no
/// descriptor left behind.
async fn thousand_children() {
    raise_nofile();
    // Warm up: the reactor and the runtime make their descriptors once.
    Command::new("true").status_async().await.unwrap();
    let fds = fd_count();
    let mut children = Vec::new();
    for i in 0..1000 {
        let prog = if i % 3 == 0 { "false" } else { "true" };
        let child = Command::new(prog).spawn().unwrap();
        child.set_drop_policy(DropPolicy::KillAndReap);
        children.push(Arc::new(child));
    }
    let waits = children.iter().map(|c| {
        let c = Arc::clone(c);
        rt::spawn(async move { c.wait_async().await.unwrap() })
    });
    let statuses: Vec<ExitStatus> = within(DEADLINE, "1000 waits", join_all(waits)).await;
    for (i, s) in statuses.iter().enumerate() {
        assert_eq!(s.code(), Some(i32::from(i % 3 == 0)), "child {i}: {s}");
    }
    drop(children);
    assert!(procctl::reap::zombie_children().unwrap().is_empty());
    // A waiter's descriptor is closed when its task is dropped, which a
    // worker thread may do just after the join returned: give it a moment.
    let settle = std::time::Instant::now() + Duration::from_secs(5);
    while fd_count() != fds && std::time::Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(fd_count(), fds, "descriptors left behind");
}

/// A `wait_async` dropped before the child exits loses nothing: the
/// status comes later, to `wait_async` and to `wait`.
async fn cancel_then_wait() {
    let child = Command::new("sh")
        .args(["-c", "read x; exit 5"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.set_drop_policy(DropPolicy::KillAndReap);
    for _ in 0..3 {
        // Polled (registered with the reactor), then dropped.
        assert!(rt::timeout(Duration::from_millis(20), child.wait_async()).await.is_none());
    }
    drop(child.take_stdin()); // EOF: `read` fails, the shell exits 5
    let s = within(DEADLINE, "wait after cancel", child.wait_async()).await.unwrap();
    assert_eq!(s.code(), Some(5));
    assert_eq!(child.wait().unwrap(), s);
    assert_eq!(
        within(DEADLINE, "again", child.wait_async()).await.unwrap(),
        s
    );
}

/// The child exits while no one awaits it (a polled future was dropped
/// before): the next `wait_async` still gets its status.
async fn exit_between_waits() {
    use std::io::Read;
    let child = Command::new("sh")
        .args(["-c", "read x; exit 6"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.set_drop_policy(DropPolicy::KillAndReap);
    let mut first = Box::pin(child.wait_async());
    let waker = std::task::Waker::noop();
    assert!(first.as_mut().poll(&mut Context::from_waker(waker)).is_pending());
    drop(first);
    drop(child.take_stdin());
    // End of its stdout: the shell is exiting, and nobody waits for it.
    let mut rest = Vec::new();
    child.take_stdout().unwrap().read_to_end(&mut rest).unwrap();
    let s = within(DEADLINE, "wait", child.wait_async()).await.unwrap();
    assert_eq!(s.code(), Some(6));
}

/// A select between `wait_async` and a timer that kills on expiry.
async fn timer_kills_on_expiry() {
    let child = sleeper();
    let status = match rt::timeout(Duration::from_millis(100), child.wait_async()).await {
        Some(s) => panic!("sleep 30 ended early: {s:?}"),
        None => {
            child.kill().unwrap();
            within(DEADLINE, "wait after kill", child.wait_async()).await.unwrap()
        }
    };
    assert_eq!(status.signal(), Some(Signal::KILL));
}

/// Two tasks await one `Child`, a third kills it: both get the status.
async fn two_waiters_one_child() {
    let child = Arc::new(sleeper());
    let waiters = (0..2).map(|_| {
        let c = Arc::clone(&child);
        rt::spawn(async move { c.wait_async().await.unwrap() })
    });
    let killer = {
        let c = Arc::clone(&child);
        async move {
            rt::sleep(Duration::from_millis(50)).await;
            c.kill().unwrap();
            c.wait_async().await.unwrap()
        }
    };
    type Boxed = Pin<Box<dyn Future<Output = ExitStatus> + Send>>;
    let joined = join_all(
        waiters
            .map(|w| Box::pin(w) as Boxed)
            .chain([Box::pin(killer) as Boxed]),
    );
    let statuses: Vec<ExitStatus> = within(DEADLINE, "three waits", joined).await;
    assert_eq!(statuses.len(), 3);
    for s in statuses {
        assert_eq!(s.signal(), Some(Signal::KILL));
    }
}

/// One task awaits while another sends `SIGTERM` through `&Child`.
async fn signal_while_waiting() {
    let child = Arc::new(sleeper());
    let waiter = {
        let c = Arc::clone(&child);
        rt::spawn(async move { Some(c.wait_async().await.unwrap()) })
    };
    let signaller = {
        let c = Arc::clone(&child);
        rt::spawn(async move {
            rt::sleep(Duration::from_millis(30)).await;
            c.signal(Signal::TERM).unwrap();
            None
        })
    };
    type Boxed = Pin<Box<dyn Future<Output = Option<ExitStatus>> + Send>>;
    let both: [Boxed; 2] = [Box::pin(waiter), Box::pin(signaller)];
    let got = within(DEADLINE, "wait while signalled", join_all(both)).await;
    assert_eq!(got[0].unwrap().signal(), Some(Signal::TERM));
}

/// 64 MiB each way through `cat`: no deadlock, every byte back in order.
async fn communicate_64mib() {
    let input: Vec<u8> = (0..64u32 << 20).map(|i| (i % 251) as u8).collect();
    let child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.set_drop_policy(DropPolicy::KillAndReap);
    let out = within(DEADLINE, "communicate 64 MiB", child.communicate_async(&input))
        .await
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input, "the bytes came back changed");
    assert!(out.stderr.is_empty());
}

/// A child that never reads its stdin and exits: the rest of the input is
/// dropped (EPIPE is not an error, and SIGPIPE does not kill us even at
/// its default disposition).
async fn child_never_reads_stdin() {
    procctl::signal::default(Signal::PIPE).unwrap();
    let input = vec![7u8; 8 << 20];
    let child = Command::new("sh")
        .args(["-c", "echo bye; exec 0<&-; exit 3"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = within(DEADLINE, "communicate", child.communicate_async(&input))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stdout, b"bye\n");
    procctl::signal::ignore(Signal::PIPE).unwrap();
}

/// `output_async` and `status_async`, and input refused for an unpiped
/// stdin.
async fn output_and_status() {
    let out = within(
        DEADLINE,
        "output",
        Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 2"])
            .output_async(),
    )
    .await
    .unwrap();
    assert_eq!(
        (out.status.code(), &out.stdout[..], &out.stderr[..]),
        (Some(2), &b"out\n"[..], &b"err\n"[..])
    );
    let s = within(DEADLINE, "status", Command::new("false").status_async())
        .await
        .unwrap();
    assert_eq!(s.code(), Some(1));
    let child = Command::new("true").spawn().unwrap();
    let err = child.communicate_async(b"x").await.unwrap_err();
    assert!(matches!(err, procctl::Error::InvalidArgument { .. }), "{err}");
    child.wait().unwrap();
}

/// Polls `fut` until every file in `files` holds a pid (the future still
/// pending), then drops it: a cancellation, as a timeout around it makes.
async fn drop_once_started<F: Future>(fut: F, files: &[&HolderFile]) {
    let mut fut = std::pin::pin!(fut);
    within(DEADLINE, "the children wrote their pids", async {
        while !files.iter().all(|f| {
            std::fs::read_to_string(&f.0).is_ok_and(|s| s.ends_with('\n'))
        }) {
            let step = rt::timeout(Duration::from_millis(5), fut.as_mut()).await;
            assert!(step.is_none(), "the call ended before it was dropped");
        }
    })
    .await;
}

/// Whether `pid` has ended (a zombie, or gone).
fn ended(pid: procctl::Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(')').next().is_some_and(|rest| rest.starts_with(" Z")))
        .unwrap_or(true)
}

/// A `status_async` or `output_async` future dropped before the end (a
/// timeout around it, a `select!`) kills the children it started and
/// they are reaped: nothing the call started outlives it.
async fn dropped_status_and_output_futures_kill_their_children() {
    let script = |file: &HolderFile| format!("echo $$ > {}; exec sleep 60", file.path());
    let one = |file: &HolderFile| {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &script(file)]).process_group(0);
        cmd
    };
    for round in 0..4 {
        let files = [HolderFile::new("cancel-a"), HolderFile::new("cancel-b")];
        let watched: &[&HolderFile] = match round {
            0 => {
                let first = [&files[0]];
                drop_once_started(one(&files[0]).status_async(), &first).await;
                &[&files[0]]
            }
            1 => {
                let first = [&files[0]];
                drop_once_started(one(&files[0]).output_async(), &first).await;
                &[&files[0]]
            }
            _ => {
                let mut pipeline = Command::new("sh")
                    .args(["-c", &script(&files[0])])
                    .pipe(Command::new("sh").args(["-c", &script(&files[1])]));
                let both = [&files[0], &files[1]];
                if round == 2 {
                    drop_once_started(pipeline.status_async(), &both).await;
                } else {
                    drop_once_started(pipeline.output_async(), &both).await;
                }
                &[&files[0], &files[1]]
            }
        };
        for file in watched {
            let pid = file.pid();
            support::eventually("the dropped call's child was killed", || ended(pid));
        }
        // Reaped by procctl's next call (or its reaper).
        let probe = Command::new("true").spawn().unwrap();
        within(DEADLINE, "probe", probe.wait_async()).await.unwrap();
        for file in watched {
            let pid = file.pid();
            support::eventually("the killed child was reaped", || {
                !std::path::Path::new(&format!("/proc/{pid}")).exists()
            });
        }
    }
}

/// 1 000 raised signals are 1 000 items; a burst merged by the kernel
/// while blocked is one item (a count), and a signal after that is
/// another item (the last one is never lost).
async fn signals_stream() {
    let mut sigs = rt::signals([Signal::USR1]).unwrap();
    for _ in 0..1000 {
        procctl::signal::raise(Signal::USR1).unwrap();
    }
    let mut got = 0;
    while got < 1000 {
        let s = within(DEADLINE, "1000 signals", sigs.recv()).await;
        assert_eq!(s, Some(Signal::USR1));
        got += 1;
    }
    assert!(rt::timeout(Duration::from_millis(100), sigs.recv()).await.is_none(), "an extra item");

    // Blocked: five raises merge into one pending signal in the kernel.
    {
        let set: procctl::signal::SigSet = [Signal::USR1].into_iter().collect();
        let _blocked = procctl::signal::block(&set).unwrap();
        for _ in 0..5 {
            procctl::signal::raise(Signal::USR1).unwrap();
        }
    }
    assert_eq!(within(DEADLINE, "merged", sigs.recv()).await, Some(Signal::USR1));
    assert!(rt::timeout(Duration::from_millis(100), sigs.recv()).await.is_none(), "merged burst gave more than one item");
    procctl::signal::raise(Signal::USR1).unwrap();
    assert_eq!(within(DEADLINE, "the last one", sigs.recv()).await, Some(Signal::USR1));
}

/// `ctrl_c` completes on `SIGINT`.
async fn ctrl_c_future() {
    let mut waiter = Box::pin(rt::ctrl_c());
    // One poll installs the handler.
    let waker = std::task::Waker::noop();
    assert!(waiter.as_mut().poll(&mut Context::from_waker(waker)).is_pending());
    procctl::signal::raise(Signal::INT).unwrap();
    within(DEADLINE, "ctrl_c", waiter).await.unwrap();
}

/// A blocking `Child::wait` after a cancelled `wait_async`: the waiter's
/// registration must leave the child's pidfd as it was (an `O_NONBLOCK`
/// set on the shared open file description would turn procctl's blocking
/// `waitid(P_PIDFD)` into `EAGAIN`).
async fn sync_wait_after_async() {
    let child = Command::new("sh")
        .args(["-c", "read x; exit 4"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.set_drop_policy(DropPolicy::KillAndReap);
    assert!(
        rt::timeout(Duration::from_millis(20), child.wait_async())
            .await
            .is_none()
    );
    let status = std::thread::scope(|s| {
        let waiter = s.spawn(|| child.wait());
        // Give the waiter time to block in waitid first (if it has not,
        // the test still holds, it just exercises less). The child exits
        // once its stdin closes, so the join below cannot hang.
        std::thread::sleep(Duration::from_millis(50));
        drop(child.take_stdin());
        waiter.join().unwrap()
    });
    assert_eq!(status.unwrap().code(), Some(4));
}

/// `communicate_async_timeout`: in time, the whole output; past the
/// limit, what was read so far and how much input the child took, with
/// the child left running until killed.
async fn communicate_timeout_partial() {
    let child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = within(
        DEADLINE,
        "in time",
        child.communicate_async_timeout(b"all of it", DEADLINE),
    )
    .await
    .unwrap()
    .expect("cat ends in time");
    assert_eq!((out.status.code(), &out.stdout[..]), (Some(0), &b"all of it"[..]));

    // Reads one line, echoes it, then stops reading and sleeps: 1 MiB of
    // input cannot all go in, and the echo is the partial output.
    let child = Command::new("sh")
        .args(["-c", "read line; echo \"got $line\"; exec sleep 30"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.set_drop_policy(DropPolicy::KillAndReap);
    let mut input = b"first\n".to_vec();
    input.resize(1 << 20, b'x');
    let partial = within(
        DEADLINE,
        "timeout",
        child.communicate_async_timeout(&input, Duration::from_millis(300)),
    )
    .await
    .unwrap()
    .expect_err("sleep 30 does not end in 300 ms");
    assert_eq!(partial.stdout, b"got first\n");
    assert!(partial.written >= 6 && partial.written < input.len(), "{}", partial.written);
    assert_eq!(child.try_wait().unwrap(), None, "left running");
    child.kill().unwrap();
    let s = within(DEADLINE, "wait", child.wait_async()).await.unwrap();
    assert_eq!(s.signal(), Some(Signal::KILL));
}

/// A child spawned by std and adopted (`Child::from`) is awaited like
/// any other, and its pipes work with `communicate_async`.
async fn adopted_std_child() {
    let std_child = std::process::Command::new("sh")
        .args(["-c", "read x; echo \"$x\"; exit 8"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let child = Child::from(std_child);
    child.set_drop_policy(DropPolicy::KillAndReap);
    let out = within(DEADLINE, "adopted", child.communicate_async(b"adopted\n"))
        .await
        .unwrap();
    assert_eq!((out.status.code(), &out.stdout[..]), (Some(8), &b"adopted\n"[..]));
}

// ---- pipelines ----

/// Every member of `p` killed and reaped if the test fails and drops it.
fn kill_on_drop(p: &PipelineChild) {
    for m in p.members() {
        m.set_drop_policy(DropPolicy::KillAndReap);
    }
}

/// Three members awaited at once: every status, in pipeline order, one of
/// them a signal death.
async fn pipeline_statuses_in_order() {
    let p = Command::new("sh")
        .args(["-c", "read x; exit 2"])
        .pipe(Command::new("sh").args(["-c", "read x; kill -KILL $$"]))
        .pipe(Command::new("sh").args(["-c", "cat; exit 5"]))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    kill_on_drop(&p);
    // Nobody has exited: the wait is pending.
    assert!(rt::timeout(Duration::from_millis(50), p.wait_async()).await.is_none());
    drop(p.take_stdin()); // EOF down the chain: 2, then SIGKILL, then 5
    let s = within(DEADLINE, "pipeline wait", p.wait_async()).await.unwrap();
    let st = s.statuses();
    assert_eq!(st.len(), 3, "{s}");
    assert_eq!(st[0].code(), Some(2), "{s}");
    assert_eq!(st[1].signal(), Some(Signal::KILL), "{s}");
    assert_eq!(st[2].code(), Some(5), "{s}");
    assert_eq!(p.wait().unwrap(), s);
}

/// Two tasks await one pipeline, a third kills it: both get every status.
async fn two_waiters_one_pipeline() {
    let p = Arc::new(
        Command::new("sleep")
            .arg("30")
            .pipe(Command::new("sleep").arg("30"))
            .spawn()
            .unwrap(),
    );
    kill_on_drop(&p);
    let waiters = (0..2).map(|_| {
        let p = Arc::clone(&p);
        rt::spawn(async move { p.wait_async().await.unwrap() })
    });
    let killer = {
        let p = Arc::clone(&p);
        async move {
            rt::sleep(Duration::from_millis(50)).await;
            p.kill().unwrap();
            p.wait_async().await.unwrap()
        }
    };
    type Boxed = Pin<Box<dyn Future<Output = PipeStatus> + Send>>;
    let joined = join_all(
        waiters
            .map(|w| Box::pin(w) as Boxed)
            .chain([Box::pin(killer) as Boxed]),
    );
    let all: Vec<PipeStatus> = within(DEADLINE, "three pipeline waits", joined).await;
    assert_eq!(all.len(), 3);
    for s in &all {
        assert_eq!(s.statuses().len(), 2, "{s}");
        assert!(s.statuses().iter().all(|m| m.signal() == Some(Signal::KILL)), "{s}");
        assert_eq!(s, &all[0]);
    }
}

/// A pipeline `wait_async` dropped after some members ended (and were
/// reaped by it) loses nothing: a later wait gets every status.
async fn pipeline_cancel_then_wait() {
    let p = Command::new("sh")
        .args(["-c", "exit 3"])
        .pipe(Command::new("sleep").arg("30"))
        .pipe(Command::new("cat"))
        .spawn()
        .unwrap();
    kill_on_drop(&p);
    for _ in 0..3 {
        // Polled (the first member reaped once it exits), then dropped
        // while the sleep runs.
        assert!(rt::timeout(Duration::from_millis(50), p.wait_async()).await.is_none());
    }
    p.members()[1].kill().unwrap(); // cat then reads EOF and ends
    let s = within(DEADLINE, "pipeline wait after cancel", p.wait_async()).await.unwrap();
    let st = s.statuses();
    assert_eq!(
        (st[0].code(), st[1].signal(), st[2].code()),
        (Some(3), Some(Signal::KILL), Some(0)),
        "{s}"
    );
    assert_eq!(p.wait().unwrap(), s);
    assert_eq!(within(DEADLINE, "again", p.wait_async()).await.unwrap(), s);
}

/// 1 MiB through `cat | tr a-z A-Z`: every byte back, upper-cased, in
/// order; then the pipeline's `output_async` and `status_async`, and input
/// refused for a pipeline whose stdin is not piped.
async fn pipeline_communicate_1mib() {
    let input: Vec<u8> = (0..1u32 << 20).map(|i| b'a' + (i % 26) as u8).collect();
    let p = Command::new("cat")
        .pipe(Command::new("tr").args(["a-z", "A-Z"]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    kill_on_drop(&p);
    let out = within(DEADLINE, "communicate 1 MiB", p.communicate_async(&input))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", out.status);
    assert_eq!(out.stdout.len(), input.len());
    assert!(
        out.stdout == input.to_ascii_uppercase(),
        "the bytes came back changed"
    );
    assert!(out.stderr.is_empty());

    let out = within(
        DEADLINE,
        "pipeline output",
        Command::new("sh")
            .args(["-c", "echo hi; echo one >&2; exit 4"])
            .pipe(Command::new("tr").args(["a-z", "A-Z"]))
            .output_async(),
    )
    .await
    .unwrap();
    assert_eq!(
        (out.status.to_string(), &out.stdout[..], &out.stderr[..]),
        ("4 | 0".to_string(), &b"HI\n"[..], &b"one\n"[..])
    );
    let s = within(
        DEADLINE,
        "pipeline status",
        Command::new("false").pipe(Command::new("true")).status_async(),
    )
    .await
    .unwrap();
    assert_eq!(s.to_string(), "1 | 0");
    let p = Command::new("true").pipe(Command::new("true")).spawn().unwrap();
    let err = p.communicate_async(b"x").await.unwrap_err();
    assert!(matches!(err, procctl::Error::InvalidArgument { .. }), "{err}");
    within(DEADLINE, "pipeline wait", p.wait_async()).await.unwrap();
}

// ---- scopes (Linux) ----

/// A fresh scope, or `None` with the reason printed (as tests/scope.rs).
#[cfg(target_os = "linux")]
fn scope_or_skip() -> Option<procctl::proc::Scope> {
    match procctl::proc::Scope::new() {
        Ok(s) => Some(s),
        Err(e) => {
            println!("    (skipped: no writable cgroup v2 here: {e})");
            None
        }
    }
}

/// Counts the polls of the future it wraps.
#[cfg(target_os = "linux")]
struct Counted<'a, F> {
    fut: Pin<Box<F>>,
    polls: &'a std::sync::atomic::AtomicUsize,
}

#[cfg(target_os = "linux")]
impl<F: Future> Future for Counted<'_, F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.fut.as_mut().poll(cx)
    }
}

/// A scope whose shell left a `setsid` daemon: `wait_async` stays pending
/// (and is not polled over and over meanwhile), and resolves once
/// `kill` emptied the scope.
#[cfg(target_os = "linux")]
async fn scope_wait_async_after_kill() {
    use rt::ScopeExt;
    let Some(scope) = scope_or_skip() else { return };
    let child = Command::new("sh")
        .args(["-c", "setsid sh -c 'exec sleep 600' & exec sleep 600"])
        .scope(&scope)
        .spawn()
        .unwrap();
    child.set_drop_policy(DropPolicy::KillAndReap);
    let t = std::time::Instant::now();
    while scope.pids().unwrap().len() < 2 {
        assert!(t.elapsed() < Duration::from_secs(10), "no daemon within 10 s");
        rt::sleep(Duration::from_millis(5)).await;
    }
    // Pending, and woken at most a few times in 300 ms: no busy loop.
    let polls = std::sync::atomic::AtomicUsize::new(0);
    let counted = Counted {
        fut: Box::pin(scope.wait_async()),
        polls: &polls,
    };
    assert!(rt::timeout(Duration::from_millis(300), counted).await.is_none());
    let polls = polls.into_inner();
    assert!(polls <= 3, "polled {polls} times in 300 ms while the scope was populated");

    let killer = async {
        rt::sleep(Duration::from_millis(50)).await;
        scope.kill().unwrap();
        Ok(())
    };
    type Boxed<'a> = Pin<Box<dyn Future<Output = procctl::Result<()>> + Send + 'a>>;
    let both: [Boxed<'_>; 2] = [Box::pin(scope.wait_async()), Box::pin(killer)];
    for r in within(Duration::from_secs(10), "scope wait after kill", join_all(both)).await {
        r.unwrap();
    }
    assert!(scope.is_empty().unwrap());
    assert!(scope.pids().unwrap().is_empty());
    let s = within(DEADLINE, "the shell", child.wait_async()).await.unwrap();
    assert_eq!(s.signal(), Some(Signal::KILL));
}

/// An empty scope (never used, then after its only process ended):
/// `wait_async` is ready at its first poll.
#[cfg(target_os = "linux")]
async fn scope_wait_async_empty() {
    use rt::ScopeExt;
    let Some(scope) = scope_or_skip() else { return };
    let noop = std::task::Waker::noop();
    let mut cx = Context::from_waker(noop);
    let mut first = Box::pin(scope.wait_async());
    assert!(matches!(first.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
    let s = within(
        DEADLINE,
        "a process in the scope",
        Command::new("true").scope(&scope).status_async(),
    )
    .await
    .unwrap();
    assert!(s.success());
    within(Duration::from_secs(10), "scope wait after its process", scope.wait_async())
        .await
        .unwrap();
    assert!(scope.is_empty().unwrap());
}

/// A short-lived process in the scope, its end racing the start of
/// `wait_async` (before or after the watch is armed), 50 times: every
/// wait resolves. (The window between the first read and the arming is a
/// few microseconds: this does not reliably catch a wait that skips the
/// read after arming; it checks both paths end.)
#[cfg(target_os = "linux")]
async fn scope_wait_async_races_an_exit() {
    use rt::ScopeExt;
    let Some(scope) = scope_or_skip() else { return };
    for round in 0..50 {
        let child = Command::new("true").scope(&scope).spawn().unwrap();
        child.set_drop_policy(DropPolicy::KillAndReap);
        if round % 2 == 1 {
            // Half the rounds: let the wait start a little later.
            std::thread::sleep(Duration::from_micros(round * 20));
        }
        within(
            Duration::from_secs(10),
            &format!("round {round}: scope wait"),
            scope.wait_async(),
        )
        .await
        .unwrap();
        assert!(scope.is_empty().unwrap(), "round {round}");
        assert!(child.wait().unwrap().success());
    }
}

/// The wait delay of the tests below.
const WAIT_DELAY: Duration = Duration::from_millis(200);

/// A file where a scenario's script writes the pid of the background job
/// that holds its pipes; dropping it kills that job and its process group
/// (a scenario that fails leaves no `sleep 600` behind).
struct HolderFile(std::path::PathBuf);

impl HolderFile {
    fn new(what: &str) -> HolderFile {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("procctl-holder-{}-{what}-{n}", std::process::id());
        HolderFile(std::env::temp_dir().join(name))
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// The pid the script wrote.
    fn pid(&self) -> procctl::Pid {
        let s = std::fs::read_to_string(&self.0).expect("the script wrote the holder's pid");
        procctl::Pid::from_raw(s.trim().parse().unwrap()).unwrap()
    }

    /// Kills `pid` and its process group.
    fn kill(pid: procctl::Pid) {
        let raw = nix::unistd::Pid::from_raw(pid.as_raw());
        if let Ok(pg) = nix::unistd::getpgid(Some(raw)) {
            let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGKILL);
        }
        let _ = procctl::signal::kill(pid, Signal::KILL);
    }
}

impl Drop for HolderFile {
    fn drop(&mut self) {
        if let Ok(s) = std::fs::read_to_string(&self.0) {
            if let Some(pid) = s.trim().parse().ok().and_then(procctl::Pid::from_raw) {
                HolderFile::kill(pid);
            }
        }
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Checks that `held` cut stdout and (Linux) names the live `sleep` of
/// `file` among its holders; then kills it by that pid and by its group.
fn check_held(held: Option<&procctl::proc::PipesHeldOpen>, file: &HolderFile) {
    let held = held.expect("the background sleep holds stdout: cut");
    assert!(held.stdout(), "{held}");
    // The background sleep outlived the cut (it was cut, not ended).
    let pid = file.pid();
    let raw = nix::unistd::Pid::from_raw(pid.as_raw());
    assert!(nix::sys::signal::kill(raw, None).is_ok(), "{pid} is alive");
    #[cfg(target_os = "linux")]
    {
        let h = held
            .holders(procctl::proc::StdStream::Stdout)
            .iter()
            .find(|h| h.pid() == pid)
            .unwrap_or_else(|| panic!("{pid} not named: {held}"));
        assert_eq!(h.name(), "sleep", "{held}");
    }
    // Killed by the reported pid and its process group (elsewhere, where
    // nobody is named, by the pid the script wrote when `file` is dropped).
    for h in held.all_holders() {
        HolderFile::kill(h.pid());
    }
}

/// `output_async` of `sh -c 'echo hi; sleep 600 &'` with a wait delay:
/// the background sleep holds stdout (and stderr) for ten minutes, yet
/// the call returns `hi` within the delay (+ 500 ms), naming the sleep.
async fn wait_delay_cuts_held_stdout() {
    for round in 0..3 {
        let file = HolderFile::new("child");
        let script = format!("echo hi; sleep 600 & echo $! > {}", file.path());
        let started = std::time::Instant::now();
        let out = within(
            Duration::from_secs(10),
            "output_async with a held stdout",
            Command::new("sh")
                .args(["-c", &script])
                .process_group(0)
                .wait_delay(WAIT_DELAY)
                .output_async(),
        )
        .await
        .unwrap();
        let took = started.elapsed();
        assert_eq!(out.stdout, b"hi\n", "round {round}");
        assert!(out.status.success(), "round {round}: {}", out.status);
        assert!(
            took < WAIT_DELAY + Duration::from_millis(500),
            "round {round}: took {took:?}"
        );
        check_held(out.pipes_held_open(), &file);
    }
    // And `communicate_async` on a spawned child, with input.
    let file = HolderFile::new("communicate");
    let script = format!("cat; sleep 600 & echo $! > {}", file.path());
    let child = Command::new("sh")
        .args(["-c", &script])
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .wait_delay(WAIT_DELAY)
        .spawn()
        .unwrap();
    child.set_drop_policy(DropPolicy::KillAndReap);
    let out = within(
        Duration::from_secs(10),
        "communicate_async with a held stdout",
        child.communicate_async(b"echoed"),
    )
    .await
    .unwrap();
    assert_eq!(out.stdout, b"echoed");
    check_held(out.pipes_held_open(), &file);
}

/// With a wait delay but no holder the pipes are read to their end, even
/// when the child writes after a pause longer than the delay: the delay
/// starts when the child has ended, not before.
async fn wait_delay_without_holder() {
    let out = within(
        Duration::from_secs(10),
        "output_async",
        Command::new("sh")
            .args(["-c", "echo hi; sleep 0.4; echo bye >&2; echo bye"])
            .wait_delay(WAIT_DELAY)
            .output_async(),
    )
    .await
    .unwrap();
    assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"hi\nbye\n"[..], &b"bye\n"[..]));
    assert!(out.pipes_held_open().is_none());
    // A stream that reaches its end during the delay is not cut.
    let out = within(
        Duration::from_secs(10),
        "output_async",
        Command::new("sh")
            .args(["-c", "echo hi; (sleep 0.05; echo late) &"])
            .wait_delay(Duration::from_secs(5))
            .output_async(),
    )
    .await
    .unwrap();
    assert_eq!(out.stdout, b"hi\nlate\n");
    assert!(out.pipes_held_open().is_none());
}

/// A pipeline whose last member backgrounds a holder: cut once every
/// member has ended (the first one ends last, after 0.4 s, and its line
/// is not lost), the sleep named.
async fn pipeline_wait_delay_cuts_held_stdout() {
    let file = HolderFile::new("pipeline");
    let last = format!("cat; sleep 600 & echo $! > {}", file.path());
    let started = std::time::Instant::now();
    let out = within(
        Duration::from_secs(10),
        "pipeline output_async with a held stdout",
        Command::new("sh")
            .args(["-c", "sleep 0.4; echo first"])
            .pipe(Command::new("sh").args(["-c", &last]))
            .wait_delay(WAIT_DELAY)
            .output_async(),
    )
    .await
    .unwrap();
    let took = started.elapsed();
    assert_eq!(out.stdout, b"first\n");
    assert!(out.status.success(), "{}", out.status);
    assert!(
        took < Duration::from_millis(400) + WAIT_DELAY + Duration::from_millis(500),
        "took {took:?}"
    );
    check_held(out.pipes_held_open(), &file);
}
