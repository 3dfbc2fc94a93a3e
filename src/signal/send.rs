//! Sending signals: [`kill`], [`killpg`], [`raise`], [`probe`], [`alarm`].

use std::io;

use super::os_error;
use crate::{Error, Pid, Result, Signal, sys};

/// Turns a failed `kill`-like call on `pid` into a named error.
fn send_error(call: &'static str, pid: Pid, what: String, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::PermissionDenied => Error::PermissionDenied {
            subject: what,
            source: e,
        },
        _ if is_esrch(&e) => Error::NoSuchProcess { pid, source: e },
        _ => os_error(call, e),
    }
}

#[cfg(unix)]
fn is_esrch(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ESRCH)
}

#[cfg(not(unix))]
fn is_esrch(_e: &io::Error) -> bool {
    false
}

/// `kill(pid, sig)`: sends `sig` to the process `pid`.
///
/// The signal goes to the process as a whole: any of its threads that does
/// not block it receives it. Sending to ourselves delivers before `kill`
/// returns when the calling thread does not block the signal.
///
/// To signal a child started by procctl, prefer
/// [`Child::signal`](crate::proc::Child::signal): it cannot hit a recycled
/// pid.
///
/// # Errors
///
/// - [`Error::NoSuchProcess`] naming `pid` when no such process exists
///   (`ESRCH`);
/// - [`Error::PermissionDenied`] when we may not signal it (`EPERM`);
/// - [`Error::Unsupported`] on Windows.
///
/// # Platform notes
///
/// Windows has no signals to send; this returns `Error::Unsupported`.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::{Error, Pid, Signal, signal};
///
/// // SIGCHLD is ignored by default: safe to send to ourselves.
/// signal::kill(Pid::current(), Signal::CHLD)?;
///
/// let nobody = Pid::from_raw(i32::MAX).unwrap();
/// let err = signal::kill(nobody, Signal::TERM).unwrap_err();
/// assert!(matches!(err, Error::NoSuchProcess { pid, .. } if pid == nobody));
/// assert_eq!(err.to_string(), format!("no such process: {nobody}"));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn kill(pid: Pid, sig: Signal) -> Result<()> {
    sys::signal::kill(pid.as_raw(), sig.as_raw())
        .map_err(|e| send_error("kill", pid, format!("send {sig} to process {pid}"), e))
}

/// `killpg(pgrp, sig)`: sends `sig` to every process of the process group
/// `pgrp`.
///
/// # Errors
///
/// - [`Error::NoSuchProcess`] naming the group id when the group does not
///   exist (`ESRCH`);
/// - [`Error::PermissionDenied`] when we may signal none of its members;
/// - [`Error::Unsupported`] on Windows.
///
/// # Platform notes
///
/// Windows has no process groups to signal; this returns
/// `Error::Unsupported`.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::{Signal, signal};
/// // Our own group (if its leader is in our PID namespace); SIGCHLD is
/// // ignored by default.
/// if let Some(group) = procctl::proc::getpgrp() {
///     signal::killpg(group, Signal::CHLD)?;
/// }
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn killpg(pgrp: Pid, sig: Signal) -> Result<()> {
    sys::signal::kill(-pgrp.as_raw(), sig.as_raw()).map_err(|e| {
        send_error(
            "killpg",
            pgrp,
            format!("send {sig} to process group {pgrp}"),
            e,
        )
    })
}

/// `raise(sig)`: sends `sig` to the calling thread.
///
/// If the thread does not block `sig`, it is delivered before `raise`
/// returns: a default action happens at once, a procctl handler is
/// scheduled on the dispatcher thread.
///
/// # Errors
///
/// [`Error::Os`] if the call fails (it does not for a valid signal);
/// [`Error::Unsupported`] on Windows for any signal but `SIGINT` and
/// `SIGBREAK`.
///
/// # Platform notes
///
/// Windows: `SIGINT` and `SIGBREAK` are delivered in this process the way
/// a Ctrl+C or Ctrl+Break is, to procctl's handlers; with none registered
/// (and the signal not ignored) the C runtime's `raise` runs its default,
/// which ends the process with exit code 3. Other processes on the console
/// see nothing.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::{Signal, signal};
/// signal::ignore(Signal::USR1)?;
/// signal::raise(Signal::USR1)?; // ignored: nothing happens
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn raise(sig: Signal) -> Result<()> {
    sys::signal::raise(sig.as_raw()).map_err(|e| os_error("raise", e))
}

/// `kill(pid, 0)`: checks that the process `pid` exists and that we may
/// signal it, without sending anything.
///
/// A zombie (exited, not yet reaped) still exists. The answer can be stale
/// as soon as it is given: the process may exit, and its pid be reused.
///
/// # Errors
///
/// - [`Error::NoSuchProcess`] naming `pid` when it does not exist;
/// - [`Error::PermissionDenied`] when it exists but we may not signal it;
/// - [`Error::Unsupported`] on Windows.
///
/// # Platform notes
///
/// Windows: `Error::Unsupported`.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::{Error, Pid, signal};
/// signal::probe(Pid::current())?;
/// let nobody = Pid::from_raw(i32::MAX).unwrap();
/// assert!(matches!(signal::probe(nobody), Err(Error::NoSuchProcess { .. })));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn probe(pid: Pid) -> Result<()> {
    sys::signal::kill(pid.as_raw(), 0)
        .map_err(|e| send_error("kill", pid, format!("signal process {pid}"), e))
}

/// `alarm(secs)`: delivers `SIGALRM` to the process after `secs` seconds;
/// returns the seconds that were left on the previous alarm (0 if none).
///
/// There is one alarm per process: a new one replaces the old, and
/// `alarm(0)` cancels it. Without a handler, `SIGALRM` ends the process.
///
/// # Platform notes
///
/// Unix only: Windows has no `alarm`.
///
/// # Examples
///
/// ```
/// use procctl::signal;
/// assert_eq!(signal::alarm(30), 0);
/// assert!(signal::alarm(0) > 0); // cancelled; about 30 s were left
/// ```
#[cfg(unix)]
pub fn alarm(secs: u32) -> u32 {
    sys::signal::alarm(secs)
}
