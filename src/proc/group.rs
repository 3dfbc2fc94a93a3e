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
///     (procctl::proc::getpgrp() == procctl::Pid::current()) as i32
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
pub fn getpgid(pid: Option<Pid>) -> Result<Pid> {
    let g = nix::unistd::getpgid(Some(nixpid(pid))).map_err(|e| map_err("getpgid", pid, e))?;
    to_pid("getpgid", g)
}

/// `getpgrp()`: the process group of the calling process.
///
/// ```
/// assert!(procctl::proc::getpgrp().as_raw() > 0);
/// ```
pub fn getpgrp() -> Pid {
    Pid::from_raw(nix::unistd::getpgrp().as_raw()).expect("a process group id is positive")
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
/// # Errors
///
/// [`Error::NoSuchProcess`] if there is no such process;
/// [`Error::PermissionDenied`] where the system hides other sessions.
///
/// # Examples
///
/// ```
/// assert!(procctl::proc::getsid(None)?.as_raw() > 0);
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn getsid(pid: Option<Pid>) -> Result<Pid> {
    let s = nix::unistd::getsid(pid.map(Into::into)).map_err(|e| map_err("getsid", pid, e))?;
    to_pid("getsid", s)
}
