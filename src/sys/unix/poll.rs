//! What `communicate` needs from the kernel: non-blocking descriptors,
//! `poll`, and writing to a pipe without being killed by `SIGPIPE`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Instant;

use super::cvt;

pub(crate) use super::pipe::set_nonblocking;

/// One descriptor to watch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Watch {
    /// The descriptor (borrowed by the caller for the call).
    pub(crate) fd: i32,
    /// Watch for writability instead of readability.
    pub(crate) write: bool,
    /// Set by [`poll`]: readable, writable, hung up or in error.
    pub(crate) ready: bool,
}

/// `poll(fds, timeout)`: waits until one of `fds` is ready or `deadline`
/// passes (`None`: no deadline). Sets `ready` on each; returns whether any
/// is. `EINTR` is retried with the time that is left.
///
/// Up to 8 descriptors (three pipes and a few pidfds) live on the stack;
/// more (a long pipeline's pidfds) in one allocation per call.
pub(crate) fn poll(fds: &mut [Watch], deadline: Option<Instant>) -> io::Result<bool> {
    const ON_STACK: usize = 8;
    let empty = libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    };
    let mut stack = [empty; ON_STACK];
    let mut heap = Vec::new();
    let pfds: &mut [libc::pollfd] = if fds.len() <= ON_STACK {
        &mut stack[..fds.len()]
    } else {
        heap.resize(fds.len(), empty);
        &mut heap
    };
    for (p, w) in pfds.iter_mut().zip(fds.iter()) {
        p.fd = w.fd;
        p.events = if w.write { libc::POLLOUT } else { libc::POLLIN };
    }
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Round up so that a sub-millisecond rest does not spin.
                left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32
            }
        };
        // SAFETY: pfds holds pfds.len() initialised pollfd entries.
        let ret = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        match cvt(ret) {
            Ok(0) if ms == 0 => {
                fds.iter_mut().for_each(|w| w.ready = false);
                return Ok(false);
            }
            Ok(0) => continue,
            Ok(_) => {
                for (w, p) in fds.iter_mut().zip(pfds.iter()) {
                    w.ready = p.revents != 0;
                }
                return Ok(true);
            }
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The `SIGPIPE`-free guard of `communicate` and `Popen::write`: one with
/// `pipe::copy` and the other SIGPIPE-free writes.
pub(crate) use super::pipe::SigpipeBlock;

/// `read(fd)` of at most `chunk` bytes into the spare capacity of `buf`
/// (first making room for them), appending what was read. Returns the
/// count; 0 is end-of-file.
///
/// With `prefault`, the pages about to be filled are touched first. A pipe
/// `read` copies while holding the pipe's lock, and a page fault on fresh
/// buffer memory inside that copy keeps the writer (spinning on the lock)
/// waiting; faulting the pages in beforehand keeps the lock short. Only
/// worth it for a buffer that is known to be filling up: for a short
/// output it would fault pages that are never used.
pub(crate) fn read_append(
    fd: BorrowedFd<'_>,
    buf: &mut Vec<u8>,
    chunk: usize,
    prefault: bool,
) -> io::Result<usize> {
    buf.reserve(chunk);
    let spare = buf.spare_capacity_mut();
    let len = spare.len().min(chunk);
    if prefault {
        for page in spare[..len].iter_mut().step_by(4096) {
            page.write(0);
        }
    }
    // SAFETY: the kernel writes at most len <= spare.len() bytes into
    // memory that buf owns and does not use.
    let n = unsafe { libc::read(fd.as_raw_fd(), spare.as_mut_ptr().cast(), len) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    // SAFETY: the first n spare bytes were just initialised by read.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// Asks the kernel for a larger pipe buffer (Linux `F_SETPIPE_SZ`); a
/// refusal (over `/proc/sys/fs/pipe-max-size`) is ignored.
pub(crate) fn grow_pipe(fd: BorrowedFd<'_>, bytes: usize) {
    #[cfg(target_os = "linux")]
    // SAFETY: F_SETPIPE_SZ on a valid pipe fd; failure changes nothing.
    unsafe {
        libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, bytes as libc::c_int);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (fd, bytes);
}
