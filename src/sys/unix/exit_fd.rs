//! A descriptor that turns readable once a child has exited, for a
//! runtime's reactor (`procctl::tokio`, `procctl::async_io`). It never
//! reaps: the caller then reaps with `Child::try_wait`, under procctl's
//! lock.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

/// Linux: a duplicate of the child's pidfd (`F_DUPFD_CLOEXEC`), so each
/// waiter registers its own descriptor (one epoll instance refuses the
/// same one twice with `EEXIST`) and can deregister and close it without
/// touching the child's. `Ok(None)` without a pidfd (Linux before 5.3).
/// The descriptor's flags are left alone: `O_NONBLOCK` lives in the open
/// file description that the duplicate shares, and would turn procctl's
/// blocking `waitid(P_PIDFD)` into `EAGAIN`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn exit_fd(_pid: i32, pidfd: Option<BorrowedFd<'_>>) -> io::Result<Option<OwnedFd>> {
    pidfd.map(|fd| fd.try_clone_to_owned()).transpose()
}

/// The system call an [`exit_fd`] failure names: the duplication of
/// the pidfd on Linux, the kqueue elsewhere.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) const CALL: &str = "fcntl F_DUPFD_CLOEXEC";
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) const CALL: &str = "kqueue";

/// The BSDs and macOS: a new kqueue watching `EVFILT_PROC`/`NOTE_EXIT`
/// for `pid` (a kqueue descriptor is readable while it holds an event,
/// and a runtime's own epoll/kqueue can watch it). The caller checks
/// `try_wait` after this returns, so a child reaped (and its pid reused)
/// before the registration is seen there. `ESRCH`: the process is gone.
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
pub(crate) fn exit_fd(pid: i32, _pidfd: Option<BorrowedFd<'_>>) -> io::Result<Option<OwnedFd>> {
    use nix::sys::event::{EvFlags, EventFilter, FilterFlag, KEvent, Kqueue};
    let kq = Kqueue::new()?;
    let ev = KEvent::new(
        pid as usize,
        EventFilter::EVFILT_PROC,
        EvFlags::EV_ADD,
        FilterFlag::NOTE_EXIT,
        0,
        0,
    );
    kq.kevent(&[ev], &mut [], None)?;
    Ok(Some(OwnedFd::from(kq)))
}

/// Elsewhere no descriptor tells of a child's exit: the caller polls.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)))]
pub(crate) fn exit_fd(_pid: i32, _pidfd: Option<BorrowedFd<'_>>) -> io::Result<Option<OwnedFd>> {
    Ok(None)
}
