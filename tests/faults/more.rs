//! The paths the N-th call table (faults/nth.rs) took in for issue 11:
//! the `clone` fallback without a pidfd, the fork path of a spawn with a
//! user namespace and id maps, a pty, `proc::Scope` (cgroup v2), and the
//! async waits on tokio and async-io (behind their features). Each path
//! has the shape of those in faults.rs: set-up, `arm()` right before the
//! calls under test, its own checks, what it leaves for the main thread
//! in `left`. A path the machine refuses (no user namespaces, no
//! writable cgroup v2, no ptys) has a probe that says why; the table
//! then prints that and skips it.

use std::io::Write;
use std::time::{Duration, Instant};

use procctl::Signal;
use procctl::proc::{Command, DropPolicy, Namespaces, Scope};

use crate::linux::{Left, keep_child};

const TEN_SECONDS: Duration = Duration::from_secs(10);

// ---- the clone fallback without a pidfd ----

/// `spawn` + `wait` (no deadline: `waitid(P_PID, WNOWAIT)` without a
/// pidfd), then `spawn` + `kill` (`kill(2)` under the reap lock) +
/// `wait_timeout` (a sleep loop without a pidfd).
pub(crate) fn path_spawn_no_pidfd(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
    arm();
    let child = Command::new("/bin/sh").args(["-c", "exit 3"]).spawn()?;
    let status = child.wait();
    keep_child(child, left);
    assert_eq!(status?.code(), Some(3));
    let child = Command::new("/bin/sleep").arg("10").spawn()?;
    child.set_drop_policy(DropPolicy::KillAndReap);
    child.kill()?;
    let status = child.wait_timeout(TEN_SECONDS)?;
    keep_child(child, left);
    assert_eq!(status.and_then(|s| s.signal()), Some(Signal::KILL));
    Ok(())
}

// ---- a user namespace with id maps (the fork path) ----

fn userns_command(program: &str) -> Command {
    // SAFETY: geteuid/getegid have no preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let mut cmd = Command::new(program);
    cmd.unshare(Namespaces::USER)
        .uid_map(&[(0, uid, 1)])
        .gid_map(&[(0, gid, 1)]);
    cmd
}

/// Whether this machine lets us make a user namespace and write its
/// maps (a container may refuse: `EPERM`, `ENOSPC`, a map refused).
pub(crate) fn probe_userns() -> Option<String> {
    match userns_command("/bin/true").status() {
        Ok(s) if s.success() => None,
        Ok(s) => Some(format!("/bin/true in a user namespace: {s}")),
        Err(e) => Some(format!("no user namespace with id maps: {e}")),
    }
}

/// `Command::unshare(USER)` with a uid and gid map: `clone(CLONE_NEWUSER)`
/// without `CLONE_VFORK`, the maps written while the child waits on the
/// handshake pipe, the report pipe; then `wait_timeout`.
pub(crate) fn path_userns(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
    let mut cmd = userns_command("/bin/sh");
    cmd.args(["-c", "exit 3"]);
    arm();
    let child = cmd.spawn()?;
    let status = child.wait_timeout(TEN_SECONDS);
    keep_child(child, left);
    assert_eq!(status?.and_then(|s| s.code()), Some(3));
    Ok(())
}

// ---- a pty ----

/// Whether this machine has ptys for us.
pub(crate) fn probe_pty() -> Option<String> {
    procctl::pty::open().err().map(|e| format!("no pty: {e}"))
}

/// `pty::open` (`/dev/ptmx`, `grantpt`, `unlockpt`, `ptsname_r`,
/// `TIOCGPTPEER`), a child on the slave (`setsid`, `TIOCSCTTY`, the slave
/// on 0-2), a line typed into the master, the master read to its end,
/// `wait_timeout`.
pub(crate) fn path_pty(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
    arm();
    let (mut master, slave) = procctl::pty::open()?;
    let child = Command::new("/bin/sh")
        .args(["-c", "read x; echo \"got $x\""])
        .pty(&slave)
        .spawn()?;
    child.set_drop_policy(DropPolicy::KillAndReap);
    // The Command (a temporary) and this were the last other copies of
    // the slave: the master reads to the end once the child is done.
    drop(slave);
    master.write_all(b"hi\n").expect("write the master");
    let deadline = Instant::now() + TEN_SECONDS;
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        let rest = deadline.saturating_duration_since(Instant::now());
        match master.read_timeout(&mut buf, rest)? {
            Some(0) => break,
            Some(n) => seen.extend_from_slice(&buf[..n]),
            None => panic!("no end within 10 s: {:?}", String::from_utf8_lossy(&seen)),
        }
    }
    let status = child.wait_timeout(TEN_SECONDS);
    keep_child(child, left);
    assert!(status?.is_some_and(|s| s.success()));
    // The terminal's echo of the line, then the program's.
    assert_eq!(String::from_utf8_lossy(&seen), "hi\r\ngot hi\r\n");
    Ok(())
}

// ---- proc::Scope ----

/// `Scope::new` (`/proc/self/cgroup`, `mountinfo`, `fstatfs`, `mkdir`,
/// `cgroup.type`), a child spawned into it (`clone3(CLONE_INTO_CGROUP)`,
/// or on the `clone` fallback the child writing `cgroup.procs`), `pids`,
/// `kill` (`cgroup.kill`), the child's `wait_timeout`, the scope's
/// `wait_timeout` (`poll(POLLPRI)` on `cgroup.events`), and the drop
/// (`rmdir`).
pub(crate) fn path_scope(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
    arm();
    let scope = Scope::new()?;
    let child = Command::new("/bin/sleep").arg("10").scope(&scope).spawn()?;
    child.set_drop_policy(DropPolicy::KillAndReap);
    assert_eq!(scope.pids()?, [child.pid()]);
    scope.kill()?;
    let status = child.wait_timeout(TEN_SECONDS)?;
    assert_eq!(status.and_then(|s| s.signal()), Some(Signal::KILL));
    keep_child(child, left);
    assert!(scope.wait_timeout(TEN_SECONDS)?, "the scope did not empty");
    // The drop removes the cgroup: the case child looks for what it left.
    drop(scope);
    Ok(())
}

/// A scope dropped with a process inside (`KillAndRemove`: is it empty,
/// `cgroup.kill`, a wait of at most 1 s, `rmdir`): the drop kills the
/// child and removes the cgroup (the case child looks for what it left).
pub(crate) fn path_scope_drop(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
    arm();
    let scope = Scope::new()?;
    let child = Command::new("/bin/sleep").arg("10").scope(&scope).spawn()?;
    child.set_drop_policy(DropPolicy::KillAndReap);
    drop(scope);
    // Killed by the drop, not by a policy (the wait reaps it).
    let status = child.wait_timeout(Duration::from_secs(2));
    keep_child(child, left);
    assert_eq!(status?.and_then(|s| s.signal()), Some(Signal::KILL));
    Ok(())
}

// ---- the async paths: the calls of the thread that polls ----

/// tokio's one-time set-up: its signal driver's global socket pair is
/// made with the first runtime and kept for the process.
#[cfg(feature = "tokio")]
pub(crate) fn warm_tokio() {
    drop(runtime());
}

/// A current-thread runtime: the thread that runs the path polls the
/// future and drives the reactor (`epoll_wait`), so its calls are the
/// ones counted.
#[cfg(feature = "tokio")]
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// `wait_async` of a child that is still running: the pidfd's duplicate
/// in the reactor, woken at its exit, then reaped.
#[cfg(feature = "tokio")]
pub(crate) fn path_tokio_wait(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
    use procctl::tokio::ChildExt;
    let rt = runtime();
    let child = Command::new("/bin/sleep")
        .arg("0.05")
        .spawn()
        .expect("spawn");
    arm();
    let status = rt.block_on(child.wait_async());
    keep_child(child, left);
    assert!(status?.success());
    Ok(())
}

/// `communicate_async` with `cat`: both pipes non-blocking in the
/// reactor, written and read as they are ready, then the wait.
#[cfg(feature = "tokio")]
pub(crate) fn path_tokio_communicate(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
    use procctl::tokio::ChildExt;
    let rt = runtime();
    let child = crate::linux::spawn_cat(left);
    arm();
    let out = rt.block_on(child.communicate_async(b"data"));
    left.push(Box::new(child));
    assert_eq!(out?.stdout, b"data");
    Ok(())
}

/// `output_async`: the spawn, then `communicate_async` of all of it.
/// Where it fails, its child is killed and parked, to be reaped by
/// procctl's next call (the async forms' contract: no blocking in a
/// drop): be that next call when the leftovers are dropped.
#[cfg(feature = "tokio")]
pub(crate) fn path_tokio_output(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
    use procctl::tokio::CommandExt;
    left.push(Box::new(crate::linux::NextCall));
    let rt = runtime();
    arm();
    let out = rt.block_on(
        Command::new("/bin/sh")
            .args(["-c", "echo out; echo err >&2; exit 2"])
            .output_async(),
    )?;
    assert_eq!(
        (&out.stdout[..], &out.stderr[..], out.status.code()),
        (&b"out\n"[..], &b"err\n"[..], Some(2))
    );
    Ok(())
}

/// A scope with a short-lived child, then `ScopeExt::wait_async`:
/// `cgroup.events` read, an inotify watch of it in the reactor.
#[cfg(feature = "tokio")]
pub(crate) fn path_tokio_scope(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
    use procctl::tokio::ScopeExt;
    let rt = runtime();
    let (scope, child) = scope_with_child();
    arm();
    let got = rt.block_on(scope.wait_async());
    left.push(Box::new(child));
    left.push(Box::new(scope));
    got
}

/// A scope and a child in it that exits by itself in 50 ms.
#[cfg(any(feature = "tokio", feature = "async-io"))]
fn scope_with_child() -> (Scope, procctl::proc::Child) {
    let scope = Scope::new().expect("a scope");
    let child = Command::new("/bin/sleep")
        .arg("0.05")
        .scope(&scope)
        .stdin(procctl::proc::Stdio::null())
        .spawn()
        .expect("spawn into the scope");
    child.set_drop_policy(DropPolicy::KillAndReap);
    (scope, child)
}

/// async-io's one-time set-up: its reactor (epoll, eventfd, timerfd)
/// and its "async-io" thread, made once per process, here by the
/// unfiltered main thread. A registration makes the reactor at once (a
/// timer that is due by its first poll would not, and the thread would
/// make it later, beside the path).
#[cfg(feature = "async-io")]
pub(crate) fn warm_async_io() {
    let (r, w) = procctl::pipe::pipe().expect("a pipe");
    drop(async_io::Async::new(r).expect("async-io's reactor"));
    drop(w);
    async_io::block_on(async_io::Timer::after(Duration::from_millis(1)));
}

/// As [`path_tokio_wait`], under `async_io::block_on` on the path's
/// thread.
#[cfg(feature = "async-io")]
pub(crate) fn path_async_io_wait(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
    use procctl::async_io::ChildExt;
    let child = Command::new("/bin/sleep")
        .arg("0.05")
        .spawn()
        .expect("spawn");
    arm();
    let status = async_io::block_on(child.wait_async());
    keep_child(child, left);
    assert!(status?.success());
    Ok(())
}

/// As [`path_tokio_communicate`], on async-io.
#[cfg(feature = "async-io")]
pub(crate) fn path_async_io_communicate(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
    use procctl::async_io::ChildExt;
    let child = crate::linux::spawn_cat(left);
    arm();
    let out = async_io::block_on(child.communicate_async(b"data"));
    left.push(Box::new(child));
    assert_eq!(out?.stdout, b"data");
    Ok(())
}

/// As [`path_tokio_output`], on async-io.
#[cfg(feature = "async-io")]
pub(crate) fn path_async_io_output(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
    use procctl::async_io::CommandExt;
    left.push(Box::new(crate::linux::NextCall));
    arm();
    let out = async_io::block_on(
        Command::new("/bin/sh")
            .args(["-c", "echo out; echo err >&2; exit 2"])
            .output_async(),
    )?;
    assert_eq!(
        (&out.stdout[..], &out.stderr[..], out.status.code()),
        (&b"out\n"[..], &b"err\n"[..], Some(2))
    );
    Ok(())
}

/// As [`path_tokio_scope`], on async-io.
#[cfg(feature = "async-io")]
pub(crate) fn path_async_io_scope(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
    use procctl::async_io::ScopeExt;
    let (scope, child) = scope_with_child();
    arm();
    let got = async_io::block_on(scope.wait_async());
    left.push(Box::new(child));
    left.push(Box::new(scope));
    got
}
