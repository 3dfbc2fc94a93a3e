//! Pipes: flags, capacity, and `splice`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
#[cfg(not(any(target_os = "linux", target_os = "android")))]
use std::time::{Duration, Instant};

use super::cvt;

/// The descriptor type the pipe helpers take.
pub(crate) type Handle<'a> = BorrowedFd<'a>;

/// `fcntl(fd, F_SETFL, flags | O_NONBLOCK)` (or without it).
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: fcntl on a valid descriptor, no pointer argument.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let new = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if new != flags {
        // SAFETY: as above, with an integer argument.
        cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, new) })?;
    }
    Ok(())
}

/// `fcntl(fd, F_GETPIPE_SZ)`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn capacity(fd: BorrowedFd<'_>) -> io::Result<usize> {
    // SAFETY: fcntl on a valid descriptor, no pointer argument.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ) }).map(|n| n as usize)
}

/// `fcntl(fd, F_SETPIPE_SZ, bytes)`: the capacity the kernel chose (at
/// least `bytes`, rounded up to a power-of-two number of pages).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn set_capacity(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<usize> {
    let bytes =
        libc::c_int::try_from(bytes).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: fcntl on a valid descriptor with an integer argument.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, bytes) }).map(|n| n as usize)
}

/// No pipe capacity control outside Linux.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn capacity(_fd: BorrowedFd<'_>) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

/// No pipe capacity control outside Linux.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn set_capacity(_fd: BorrowedFd<'_>, _bytes: usize) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

/// `splice(from, NULL, to, NULL, len, SPLICE_F_MOVE)`, retried on `EINTR`:
/// the bytes moved, 0 at end of input. `EINVAL` when neither end is a pipe
/// or an end cannot be spliced.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
    super::retry_eintr(|| {
        // SAFETY: two valid descriptors, null offsets (use and advance the
        // file positions), plain flags.
        let ret = unsafe {
            libc::splice(
                from.as_raw_fd(),
                std::ptr::null_mut(),
                to.as_raw_fd(),
                std::ptr::null_mut(),
                len,
                libc::SPLICE_F_MOVE,
            )
        };
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(ret as usize)
        }
    })
}

/// No `splice` outside Linux: callers fall back to read and write.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn splice(_from: BorrowedFd<'_>, _to: BorrowedFd<'_>, _len: usize) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

/// `poll(fd, POLLIN, timeout)`: whether `fd` is readable (data or end of
/// file) within `timeout` (`None`: wait for ever). Interrupted polls resume
/// with the time that is left. (Linux's `Signals` sleep on a futex.)
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn poll_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Round up, so a short wait does not become a busy loop.
                left.as_nanos()
                    .div_ceil(1_000_000)
                    .min(libc::c_int::MAX as u128) as libc::c_int
            }
        };
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid, writable pollfd.
        match cvt(unsafe { libc::poll(&mut pfd, 1, ms) }) {
            Ok(0) if deadline.is_some_and(|d| Instant::now() < d) => continue,
            Ok(n) => return Ok(n > 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

pub(crate) use super::signal::without_sigpipe;
