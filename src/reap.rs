//! Reaping zombies: no zombies by construction; the owned paths never
//! steal anyone else's children.
//!
//! A child that has exited stays in the process table as a *zombie* until its
//! parent collects its status with `wait`/`waitpid`; a program that starts
//! many children and never collects them fills the table. procctl makes the
//! cure automatic:
//!
//! - **One registry.** Every path that reaps
//!   ([`Child::wait`](crate::proc::Child::wait), [`wait`](crate::proc::wait),
//!   [`waitpid`](crate::proc::waitpid), [`reap_zombies`], the background
//!   reaper) reaps under one lock and hands a status that belongs to a live
//!   [`Child`](crate::proc::Child) to that handle in the same critical
//!   section, so its `wait()` still returns the real status.
//! - **Pidfds, not pids.** On Linux a child procctl started (or an orphan
//!   it parked) is reaped through its pidfd on every path: if code outside
//!   procctl reaped it and its pid went to another process, procctl never
//!   reaps that process for it, nor reports its status to the handle.
//! - **Whose children.** [`Child::wait`](crate::proc::Child::wait),
//!   `try_wait`, `wait_timeout`, the orphan drain and
//!   [`ReapMode::Owned`] reap only children procctl started.
//!   [`reap_zombies`], [`wait`](crate::proc::wait),
//!   [`waitpid`](crate::proc::waitpid) with `AnyChild` or `Group`,
//!   [`ReapMode::All`] and [`Init`] reap *any* child, other libraries'
//!   too (a `std::process::Child` then loses its status).
//! - **Orphans are reaped without a thread.** A `Child` dropped before it
//!   was waited for (with the default [`DropPolicy::Reap`](crate::proc::DropPolicy))
//!   is parked on an orphan list. procctl drains it, without blocking, at its
//!   next fork, spawn or `Child` wait, and in [`reap_zombies`]. No thread is
//!   started behind the program's back, so a single-threaded program stays
//!   single-threaded and can still use the safe [`fork`](crate::proc::fork).
//! - **Opt-in background reaping.** [`start_reaper`] starts one thread:
//!   [`ReapMode::Owned`] reaps only the children procctl was handed (dropped
//!   `Child` handles), never another library's; [`ReapMode::All`] is init
//!   mode and reaps every child.
//! - **Init.** [`Init`] runs a command as the main child of a PID-1-like
//!   supervisor: child subreaper, signal forwarding, reaping of adopted
//!   orphans, and the main child's status at the end.

use crate::{ExitStatus, Pid, Result};

#[cfg(unix)]
pub(crate) use registry::*;

#[cfg(unix)]
mod init;
#[cfg(unix)]
mod registry;
#[cfg(unix)]
pub use init::{Init, init};

/// Reaps every child that has exited, without blocking
/// (`waitpid(-1, WNOHANG)` in a loop).
///
/// Returns the reaped pids with their statuses; `Ok(vec![])` when no child
/// has exited, including when there are no children at all. Statuses of
/// children owned by a live [`Child`](crate::proc::Child) are also handed to
/// that handle. This reaps *every* exited child, including those of other
/// libraries (a `std::process::Child` would then lose its status): call it
/// in programs that own all their children.
///
/// # Errors
///
/// [`Error::Os`](crate::Error::Os) for an unexpected failure of `waitpid`.
///
/// # Platform notes
///
/// Windows has no zombies: this returns `Ok(vec![])`.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)]
/// # if procctl::proc::thread_count() == Some(1) {
/// let child = procctl::proc::fork(|| {
///     std::thread::sleep(std::time::Duration::from_millis(50));
///     0
/// })?;
/// let pid = child.pid();
/// drop(child); // not waited for: parked for reaping
/// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
/// let mut reaped = Vec::new();
/// while reaped.is_empty() && std::time::Instant::now() < deadline {
///     std::thread::sleep(std::time::Duration::from_millis(10));
///     reaped = procctl::reap::reap_zombies()?;
/// }
/// assert_eq!(reaped, vec![(pid, procctl::ExitStatus::Exited(0))]);
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn reap_zombies() -> Result<Vec<(Pid, ExitStatus)>> {
    #[cfg(unix)]
    {
        use crate::proc::{WaitOptions, WaitTarget, waitpid};
        let mut out = Vec::new();
        loop {
            match waitpid(WaitTarget::AnyChild, WaitOptions::NOHANG) {
                Ok(Some((pid, crate::WaitStatus::Exited(status)))) => out.push((pid, status)),
                Ok(Some(_)) => {} // not asked for; cannot happen without UNTRACED
                Ok(None) | Err(crate::Error::NoChildren) => return Ok(out),
                Err(e) => return Err(e),
            }
        }
    }
    #[cfg(not(unix))]
    {
        Ok(Vec::new())
    }
}

/// How many dropped [`Child`](crate::proc::Child) handles wait for their
/// process to be reaped (their process may still be running). For
/// diagnostics, tests and benchmarks.
///
/// ```
/// assert_eq!(procctl::reap::pending_orphans(), 0);
/// ```
pub fn pending_orphans() -> usize {
    #[cfg(unix)]
    {
        registry::orphan_count()
    }
    #[cfg(not(unix))]
    {
        0
    }
}

/// Which children the background reaper of [`start_reaper`] collects.
///
/// ```
/// use procctl::reap::ReapMode;
/// assert_ne!(ReapMode::Owned, ReapMode::All);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReapMode {
    /// Only children procctl was handed: `Child` handles dropped unwaited.
    /// Children of other libraries (a `std::process::Child`) keep their
    /// statuses. On Linux: one pidfd per child in one epoll set, no
    /// `SIGCHLD` handler, nothing process-global.
    Owned,
    /// Every child, like an init process (`waitpid(-1)` in a loop). A child
    /// owned by a live `Child` still reports its real status to that handle;
    /// other libraries' children are reaped too.
    All,
}

/// Starts the background reaper thread (opt-in: it is a thread, and the
/// safe [`fork`](crate::proc::fork) refuses multi-threaded processes).
///
/// Idempotent per mode: calling it again with a running mode does nothing.
/// Starting [`ReapMode::All`] after [`ReapMode::Owned`] adds the init-mode
/// thread. Orphans parked before the call are handed to the reaper.
///
/// # Errors
///
/// [`Error::ResourceLimit`](crate::Error::ResourceLimit) or
/// [`Error::Os`](crate::Error::Os) if the thread or its epoll set cannot be
/// created.
///
/// # Platform notes
///
/// Linux: `Owned` waits on pidfds with epoll (on kernels without pidfds it
/// also checks the orphan list with `WNOHANG` every 10 ms). Other Unix
/// systems: a `SIGCHLD` handler registered with
/// [`signal::register`](crate::signal::register) (chaining to any handler
/// installed before) drains the orphan list on procctl's signal dispatcher
/// thread. Windows: nothing to reap; returns `Ok(())`.
///
/// # Examples
///
/// ```
/// use procctl::reap::{start_reaper, ReapMode};
/// use std::time::{Duration, Instant};
///
/// # #[cfg(target_os = "linux")]
/// # if procctl::proc::thread_count() == Some(1) {
/// let child = procctl::proc::fork(|| 0)?;
/// let pid = child.pid();
/// start_reaper(ReapMode::Owned)?;
/// drop(child); // the reaper takes it
/// let deadline = Instant::now() + Duration::from_secs(10);
/// while std::path::Path::new(&format!("/proc/{pid}")).exists() {
///     assert!(Instant::now() < deadline);
///     std::thread::sleep(Duration::from_millis(5));
/// }
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn start_reaper(mode: ReapMode) -> Result<()> {
    #[cfg(unix)]
    {
        registry::start(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        Ok(())
    }
}

/// `prctl(PR_SET_CHILD_SUBREAPER, on)`: makes this process adopt its
/// orphaned descendants (instead of PID 1), so it can reap them.
///
/// # Errors
///
/// [`Error::Unsupported`](crate::Error::Unsupported) outside Linux.
///
/// # Platform notes
///
/// Linux only (FreeBSD's `procctl(PROC_REAP_ACQUIRE)` is not wrapped yet).
///
/// # Examples
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// procctl::reap::set_child_subreaper(true)?;
/// assert!(procctl::reap::is_child_subreaper()?);
/// procctl::reap::set_child_subreaper(false)?;
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[doc(alias = "PR_SET_CHILD_SUBREAPER")]
pub fn set_child_subreaper(on: bool) -> Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        crate::sys::reaper::set_child_subreaper(on).map_err(|e| crate::Error::os("prctl", e))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = on;
        Err(crate::Error::Unsupported {
            what: "set_child_subreaper",
        })
    }
}

/// `prctl(PR_GET_CHILD_SUBREAPER)`: whether this process is a child
/// subreaper.
///
/// # Errors
///
/// [`Error::Unsupported`](crate::Error::Unsupported) outside Linux.
///
/// # Examples
///
/// ```
/// # #[cfg(target_os = "linux")]
/// assert!(!procctl::reap::is_child_subreaper()?);
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn is_child_subreaper() -> Result<bool> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        crate::sys::reaper::is_child_subreaper().map_err(|e| crate::Error::os("prctl", e))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        Err(crate::Error::Unsupported {
            what: "is_child_subreaper",
        })
    }
}

/// The pids of this process's children that are zombies right now (state
/// `Z` in `/proc`), sorted. For diagnostics and tests.
///
/// # Errors
///
/// [`Error::Os`](crate::Error::Os) if `/proc` cannot be read;
/// [`Error::Unsupported`](crate::Error::Unsupported) outside Linux.
///
/// # Examples
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// # if procctl::proc::thread_count() == Some(1) {
/// let child = procctl::proc::fork(|| 0)?;
/// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
/// while procctl::reap::zombie_children()? != vec![child.pid()] {
///     assert!(std::time::Instant::now() < deadline);
///     std::thread::sleep(std::time::Duration::from_millis(1));
/// }
/// child.wait()?;
/// assert!(procctl::reap::zombie_children()?.is_empty());
/// # }}
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn zombie_children() -> Result<Vec<Pid>> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let pids =
            crate::sys::reaper::zombie_children().map_err(|e| crate::Error::os("read /proc", e))?;
        Ok(pids.into_iter().filter_map(Pid::from_raw).collect())
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        Err(crate::Error::Unsupported {
            what: "zombie_children",
        })
    }
}
