//! Process groups and sessions of the calling process.

use crate::Pid;
use crate::error::{Error, Result};

fn nixpid(p: Option<Pid>) -> nix::unistd::Pid {
    nix::unistd::Pid::from_raw(p.map_or(0, Pid::as_raw))
}

fn to_pid(call: &'static str, p: nix::unistd::Pid) -> Result<Pid> {
    Pid::from_raw(p.as_raw()).ok_or_else(|| {
        Error::os(
            call,
            std::io::Error::other(format!("{call} returned {}", p.as_raw())),
        )
    })
}

/// A group or session id as the kernel reports it: 0 means the leader lives
/// in an ancestor PID namespace and has no number in ours.
fn leader(p: nix::unistd::Pid) -> Option<Pid> {
    Pid::from_raw(p.as_raw())
}

fn map_err(call: &'static str, pid: Option<Pid>, e: nix::Error) -> Error {
    let source = std::io::Error::from(e);
    match (e, pid) {
        (nix::Error::ESRCH, Some(pid)) => Error::NoSuchProcess { pid, source },
        (nix::Error::EPERM, _) => Error::PermissionDenied {
            subject: match pid {
                Some(pid) => format!("{call} on process {pid}"),
                None => call.to_owned(),
            },
            source,
        },
        _ => Error::os(call, source),
    }
}

/// `setpgid(pid, pgid)`: moves process `pid` (`None`: the caller) into
/// process group `pgid` (`None`: a new group led by that process).
///
/// # Errors
///
/// [`Error::NoSuchProcess`] if `pid` is neither the caller nor one of its
/// children; [`Error::PermissionDenied`] if the child already ran `exec` or
/// is in another session; [`Error::Os`] otherwise (`EINVAL`).
///
/// # Platform notes
///
/// Unix only.
///
/// # Examples
///
/// ```
/// use procctl::proc::{getpgid, setpgid};
/// # if procctl::proc::thread_count() == Some(1) {
/// let child = procctl::proc::fork(|| {
///     procctl::proc::setpgid(None, None).unwrap(); // lead a new group
///     (procctl::proc::getpgrp() == Some(procctl::Pid::current())) as i32
/// })?;
/// assert_eq!(child.wait()?.code(), Some(1));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn setpgid(pid: Option<Pid>, pgid: Option<Pid>) -> Result<()> {
    nix::unistd::setpgid(nixpid(pid), nixpid(pgid)).map_err(|e| map_err("setpgid", pid, e))
}

/// `getpgid(pid)`: the process group of `pid` (`None`: the caller).
///
/// `Ok(None)` when the group's leader lives outside the caller's PID
/// namespace (the kernel reports 0: a container whose init joined a group
/// made by the host, say). Python's `os.getpgid` returns that 0 as is.
///
/// # Errors
///
/// [`Error::NoSuchProcess`] if there is no such process.
///
/// # Examples
///
/// ```
/// assert_eq!(procctl::proc::getpgid(None)?, procctl::proc::getpgrp());
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn getpgid(pid: Option<Pid>) -> Result<Option<Pid>> {
    let g = nix::unistd::getpgid(Some(nixpid(pid))).map_err(|e| map_err("getpgid", pid, e))?;
    Ok(leader(g))
}

/// `getpgrp()`: the process group of the calling process.
///
/// `None` when the group's leader lives outside the caller's PID namespace
/// (see [`getpgid`]).
///
/// ```
/// use procctl::proc::{fork, getpgrp, setpgid, thread_count};
/// # if thread_count() == Some(1) {
/// let child = fork(|| {
///     setpgid(None, None).unwrap();
///     (getpgrp() == Some(procctl::Pid::current())) as i32
/// })?;
/// assert_eq!(child.wait()?.code(), Some(1));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn getpgrp() -> Option<Pid> {
    leader(nix::unistd::getpgrp())
}

/// `setsid()`: makes the caller the leader of a new session and process
/// group, with no controlling terminal. Returns the new session id (the
/// caller's pid).
///
/// # Errors
///
/// [`Error::PermissionDenied`] if the caller already leads a process group
/// (fork first: a new child never does).
///
/// # Examples
///
/// ```
/// # if procctl::proc::thread_count() == Some(1) {
/// let child = procctl::proc::fork(|| {
///     let sid = procctl::proc::setsid().unwrap();
///     (sid == procctl::Pid::current()) as i32
/// })?;
/// assert_eq!(child.wait()?.code(), Some(1));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn setsid() -> Result<Pid> {
    let s = nix::unistd::setsid().map_err(|e| map_err("setsid", None, e))?;
    to_pid("setsid", s)
}

/// `getsid(pid)`: the session id of `pid` (`None`: the caller).
///
/// `Ok(None)` when the session's leader lives outside the caller's PID
/// namespace (the kernel reports 0). That is common: a container or CI job
/// started without a new session runs in a session the host created.
///
/// # Errors
///
/// [`Error::NoSuchProcess`] if there is no such process;
/// [`Error::PermissionDenied`] where the system hides other sessions.
///
/// # Examples
///
/// ```
/// use procctl::proc::{fork, getsid, setsid, thread_count};
/// let _ours = getsid(None)?; // Some(leader), or None in a container
/// # if thread_count() == Some(1) {
/// let child = fork(|| {
///     let sid = setsid().unwrap();
///     (getsid(None).unwrap() == Some(sid)) as i32
/// })?;
/// assert_eq!(child.wait()?.code(), Some(1));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn getsid(pid: Option<Pid>) -> Result<Option<Pid>> {
    let s = nix::unistd::getsid(pid.map(Into::into)).map_err(|e| map_err("getsid", pid, e))?;
    Ok(leader(s))
}
