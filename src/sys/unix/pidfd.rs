//! Process file descriptors (Linux 5.3+): a handle on one process that can
//! never refer to a recycled pid. Elsewhere these report `None`/ENOSYS and
//! callers fall back to pid-based calls under procctl's reap lock.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use super::cvt;

/// `pidfd_open(pid, 0)`: `Ok(None)` where the kernel or platform has no
/// pidfds.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn open(pid: i32) -> io::Result<Option<OwnedFd>> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::ENOSYS) => Ok(None),
            _ => Err(err),
        };
    }
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as i32) }))
}

/// No pidfds on this platform.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn open(_pid: i32) -> io::Result<Option<OwnedFd>> {
    Ok(None)
}

/// `pidfd_send_signal(fd, sig, NULL, 0)`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn send_signal(fd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: a valid pidfd, a signal number, a NULL siginfo and no flags.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<u8>(),
            0,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// No pidfds on this platform.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn send_signal(_fd: BorrowedFd<'_>, _sig: i32) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// Waits until `fd` is readable (for a pidfd: the process has exited) or
/// the timeout passes (`None`: forever). Returns whether it is readable.
/// Retries on `EINTR` with the time that is left.
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                // Round up so a 0.5 ms timeout does not become a busy poll.
                left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32
            }
        };
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        match cvt(unsafe { libc::poll(&mut pfd, 1, ms) }) {
            Ok(0) if ms == 0 => return Ok(false),
            Ok(0) => continue, // rounding: re-check the deadline
            Ok(_) => return Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `PIDFD_SIGNAL_PROCESS_GROUP` from `linux/pidfd.h` (Linux 6.9).
#[cfg(any(target_os = "linux", target_os = "android"))]
const PIDFD_SIGNAL_PROCESS_GROUP: libc::c_uint = 1 << 2;

/// `pidfd_send_signal(fd, sig, NULL, PIDFD_SIGNAL_PROCESS_GROUP)`: signals
/// the process group whose id is the pidfd's process (the group it leads).
/// The kernel names the group by the pidfd's `struct pid`, never by a
/// number, so a recycled pid cannot be reached. `EINVAL` before Linux 6.9;
/// `ESRCH` when no process is in that group (the process leads none).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn send_signal_group(fd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: a valid pidfd, a signal number, a NULL siginfo and a flag.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<u8>(),
            PIDFD_SIGNAL_PROCESS_GROUP,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// No pidfds on this platform.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn send_signal_group(_fd: BorrowedFd<'_>, _sig: i32) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}
