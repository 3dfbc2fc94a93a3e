//! Registering an owned descriptor with tokio's reactor.

use std::io;
use std::os::fd::OwnedFd;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// `fd` in tokio's reactor, for readability (`epoll_ctl(EPOLL_CTL_ADD)`
/// or `kevent(EV_ADD)`). Panics outside a tokio runtime with I/O enabled.
pub(crate) fn register_readable(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: an OwnedFd owns its descriptor: it stays open, on the same
    // open file description, and `as_raw_fd` returns the same number until
    // the AsyncFd (which owns the OwnedFd) is dropped or gives it back.
    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(|e| e.into_parts().1)
}
