//! `wait` and `waitpid`.

use std::io;

use bitflags::bitflags;

use crate::error::{Error, Result};
use crate::sys::wait::{self, Id};
use crate::{ExitStatus, Pid, WaitStatus, reap};

/// Which children [`waitpid`] waits for.
///
/// ```
/// use procctl::{Pid, proc::WaitTarget};
/// let pid = Pid::from_raw(1234).unwrap();
/// assert_eq!(WaitTarget::from(pid), WaitTarget::Pid(pid));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaitTarget {
    /// This child (`waitpid(pid, ...)`).
    Pid(Pid),
    /// Any child (`waitpid(-1, ...)`).
    AnyChild,
    /// Any child in this process group (`waitpid(-pgid, ...)`).
    Group(Pid),
}

impl From<Pid> for WaitTarget {
    fn from(pid: Pid) -> WaitTarget {
        WaitTarget::Pid(pid)
    }
}

bitflags! {
    /// Options of [`waitpid`].
    ///
    /// ```
    /// use procctl::proc::WaitOptions;
    /// let o = WaitOptions::NOHANG | WaitOptions::UNTRACED;
    /// assert!(o.contains(WaitOptions::NOHANG));
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct WaitOptions: u8 {
        /// `WNOHANG`: return `None` at once when no child has changed state.
        const NOHANG = 1;
        /// `WUNTRACED`: also report children stopped by a signal.
        const UNTRACED = 1 << 1;
        /// `WCONTINUED`: also report stopped children resumed by `SIGCONT`.
        const CONTINUED = 1 << 2;
    }
}

impl WaitOptions {
    fn to_flags(self) -> wait::Flags {
        let mut f = 0;
        if self.contains(WaitOptions::NOHANG) {
            f |= libc::WNOHANG;
        }
        if self.contains(WaitOptions::UNTRACED) {
            f |= libc::WUNTRACED;
        }
        if self.contains(WaitOptions::CONTINUED) {
            f |= libc::WCONTINUED;
        }
        f
    }
}

/// `wait()`: waits for any child to end and reaps it.
///
/// Blocks until a child exits or is killed; returns its pid and status.
/// Interrupted system calls (`EINTR`) are retried. A child owned by a live
/// [`Child`](super::Child) handle counts too: its status is returned here
/// *and* handed to the handle, whose `wait()` then returns the same status.
///
/// # Errors
///
/// [`Error::NoChildren`] when the process has no child to wait for.
///
/// # Examples
///
/// ```
/// assert!(matches!(procctl::proc::wait(), Err(procctl::Error::NoChildren)));
///
/// # if procctl::proc::thread_count() == Some(1) {
/// let child = procctl::proc::fork(|| 3)?;
/// let (pid, status) = procctl::proc::wait()?;
/// assert_eq!((pid, status.code()), (child.pid(), Some(3)));
/// assert_eq!(child.wait()?.code(), Some(3)); // the handle got it too
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn wait() -> Result<(Pid, ExitStatus)> {
    loop {
        match waitpid(WaitTarget::AnyChild, WaitOptions::empty())? {
            Some((pid, WaitStatus::Exited(status))) => return Ok((pid, status)),
            // Only a traced child can report a stop without UNTRACED.
            Some(_) => continue,
            None => unreachable!("waitpid without NOHANG returned nothing"),
        }
    }
}

/// `waitpid(target, options)`: waits for a child to change state.
///
/// With no options it blocks until a child in `target` ends, reaps it and
/// returns `Some((pid, WaitStatus::Exited(..)))`. [`WaitOptions::UNTRACED`]
/// also reports stops, [`WaitOptions::CONTINUED`] resumptions (neither
/// reaps). Under [`WaitOptions::NOHANG`] it returns `Ok(None)` at once when
/// nothing has changed; that is the only case of `None`. Interrupted system
/// calls are retried.
///
/// A status that ends a child owned by a live [`Child`](super::Child) is
/// also handed to that handle. [`WaitTarget::AnyChild`] and
/// [`WaitTarget::Group`] reap *any* child, other libraries' too (a
/// `std::process::Child` then loses its status).
///
/// # Errors
///
/// - [`Error::NotChild`] when `target` is a pid that is not a child of this
///   process (or was already reaped);
/// - [`Error::NoChildren`] for [`WaitTarget::AnyChild`] or
///   [`WaitTarget::Group`] when there is no such child, also under `NOHANG`.
///
/// # Platform notes
///
/// Unix only.
///
/// # Examples
///
/// ```
/// use procctl::proc::{waitpid, WaitOptions, WaitTarget};
///
/// # if procctl::proc::thread_count() == Some(1) {
/// let child = procctl::proc::fork(|| 0)?;
/// let (pid, status) = waitpid(child.pid(), WaitOptions::empty())?.unwrap();
/// assert_eq!(pid, child.pid());
/// assert!(status.exit_status().unwrap().success());
/// # }
/// assert!(matches!(
///     waitpid(WaitTarget::AnyChild, WaitOptions::NOHANG),
///     Err(procctl::Error::NoChildren)
/// ));
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn waitpid(
    target: impl Into<WaitTarget>,
    options: WaitOptions,
) -> Result<Option<(Pid, WaitStatus)>> {
    let target = target.into();
    let id = match target {
        WaitTarget::Pid(p) => Id::Pid(p.as_raw()),
        WaitTarget::AnyChild => Id::All,
        WaitTarget::Group(g) => Id::Group(g.as_raw()),
    };
    let flags = options.to_flags();
    let echild = |e: io::Error| -> Error {
        if e.raw_os_error() != Some(libc::ECHILD) {
            return Error::os("waitpid", e);
        }
        match target {
            WaitTarget::Pid(pid) => Error::NotChild { pid },
            _ => Error::NoChildren,
        }
    };
    // Look first without reaping, then reap that one child under the reap
    // lock (through its pidfd if procctl started it), so the status reaches
    // its `Child` handle (if any) and no handle can signal a pid that was
    // just freed.
    match reap::wait_for(id, flags) {
        Ok(Some((pid, status, _))) => Ok(Some((pid, status))),
        Ok(None) => Ok(None),
        Err(e) => Err(echild(e)),
    }
}
