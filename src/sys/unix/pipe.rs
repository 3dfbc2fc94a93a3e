//! Pipes: flags, capacity, and `splice`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
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

/// `read(fd, buf)`, retried on `EINTR`: the count, 0 at end of input.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    super::retry_eintr(|| {
        // SAFETY: the kernel writes at most buf.len() bytes into buf.
        let ret = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(ret as usize)
        }
    })
}

/// `write(fd, buf)`, retried on `EINTR`: the count written.
pub(crate) fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    super::retry_eintr(|| {
        // SAFETY: the kernel reads at most buf.len() bytes from buf.
        let ret = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
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

// ---------------------------------------------------------------------------
// Writing without SIGPIPE
// ---------------------------------------------------------------------------

/// Runs `f(writer)`, which writes to `writer`, so that a broken pipe is
/// only an `EPIPE` error, never a `SIGPIPE` for the process: inside a
/// [`SigpipeBlock`], finished with whether `f` failed with `EPIPE`.
#[cfg(not(target_vendor = "apple"))]
pub(crate) fn without_sigpipe<W: AsFd + ?Sized, T>(
    writer: &mut W,
    f: impl FnOnce(&mut W) -> io::Result<T>,
) -> io::Result<T> {
    let block = SigpipeBlock::new()?;
    let result = f(writer);
    block.finish(matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EPIPE)));
    result
}

/// Runs `f(writer)`, which writes to `writer`, so that a broken pipe is
/// only an `EPIPE` error: macOS sends a pipe's SIGPIPE to the whole
/// process, so the descriptor is marked `F_SETNOSIGPIPE` (a property of
/// the open pipe, shared by its duplicates) instead.
#[cfg(target_vendor = "apple")]
pub(crate) fn without_sigpipe<W: AsFd + ?Sized, T>(
    writer: &mut W,
    f: impl FnOnce(&mut W) -> io::Result<T>,
) -> io::Result<T> {
    let fd = writer.as_fd().as_raw_fd();
    // SAFETY: fcntl on a valid descriptor with an integer argument.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETNOSIGPIPE, 1) })?;
    f(writer)
}

/// While alive, `SIGPIPE` is blocked in the calling thread, so a write to
/// a pipe (or socket) whose reader is gone fails with `EPIPE` instead of
/// raising a `SIGPIPE` that would be delivered. [`SigpipeBlock::finish`]
/// takes back the one our writes raised; dropping it unblocks `SIGPIPE`
/// again if it was not blocked before.
///
/// Which `SIGPIPE` is ours: Linux (and FreeBSD) send the `SIGPIPE` of a
/// write to the writing thread, into the thread's own pending set, which
/// is separate from the process's (where `kill(getpid(), SIGPIPE)` puts
/// one); `sigpending` shows the union. A standard signal is pending at
/// most once per set, so a write's `SIGPIPE` merges into one the thread
/// already had and is a separate one otherwise. `sigtimedwait` takes from
/// the thread's set first. So: if the thread had none of its own when the
/// guard started, the write's is the thread's only one and a zero-timeout
/// `sigtimedwait` takes exactly it, leaving a process-directed one alone;
/// if the thread had one, there is nothing of ours to take. Telling the
/// two apart is needed only when `SIGPIPE` was already blocked and
/// `sigpending` shows one ([`own_sigpipe_pending`], exact on Linux only;
/// elsewhere a pending one counts as the thread's own, and nothing is
/// taken).
pub(crate) struct SigpipeBlock {
    /// `SIGPIPE` was blocked before (by the caller): leave it blocked.
    was_blocked: bool,
    /// The thread had a `SIGPIPE` of its own pending when the guard
    /// started: a write's merged into it, take nothing.
    own_pending: bool,
}

impl SigpipeBlock {
    /// Blocks `SIGPIPE` in this thread.
    pub(crate) fn new() -> io::Result<SigpipeBlock> {
        let pipe = super::sigset(&[libc::SIGPIPE]);
        let mut old = super::sigset(&[]);
        // SAFETY: valid sigset_t pointers; only this thread's mask changes.
        let err = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &pipe, &mut old) };
        if err != 0 {
            return Err(io::Error::from_raw_os_error(err));
        }
        // SAFETY: old is an initialised sigset_t.
        let was_blocked = unsafe { libc::sigismember(&old, libc::SIGPIPE) } == 1;
        // Unblocked until now, nothing can be pending: it would have been
        // delivered (or, ignored, discarded when sent).
        let own_pending = was_blocked && sigpipe_pending() && own_sigpipe_pending();
        Ok(SigpipeBlock {
            was_blocked,
            own_pending,
        })
    }

    /// Ends the guard. `raised`: a write inside failed with `EPIPE`, so
    /// the thread has a `SIGPIPE` pending; unless it merged into one the
    /// thread already had, it is ours and is taken now, so that it is
    /// never delivered.
    pub(crate) fn finish(self, raised: bool) {
        if raised && !self.own_pending {
            take_own_sigpipe();
        }
        // Drop unblocks.
    }
}

impl Drop for SigpipeBlock {
    fn drop(&mut self) {
        if !self.was_blocked {
            let pipe = super::sigset(&[libc::SIGPIPE]);
            // SAFETY: a valid set; only this thread's mask changes, and
            // only the bit that `new` set.
            unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &pipe, std::ptr::null_mut()) };
        }
    }
}

/// `sigpending` (the thread's and the process's) has `SIGPIPE`.
fn sigpipe_pending() -> bool {
    let mut set = super::sigset(&[]);
    // SAFETY: set is a writable sigset_t; sigismember reads it.
    unsafe { libc::sigpending(&mut set) == 0 && libc::sigismember(&set, libc::SIGPIPE) == 1 }
}

/// `sigtimedwait({SIGPIPE}, info, 0)`, resumed after `EINTR`: the signal
/// taken (the thread's own first, then the process's), or `None`.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn take_sigpipe(info: &mut libc::siginfo_t) -> Option<()> {
    let pipe = super::sigset(&[libc::SIGPIPE]);
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        // The system call itself on Linux: glibc's wrapper rewrites an
        // si_code of SI_TKILL as SI_USER, and own_sigpipe_pending needs the
        // siginfo exactly as the kernel has it.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        // SAFETY: a valid set (the kernel reads its first KERNEL_SIGSET
        // bytes), a writable siginfo_t and a valid timespec.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_rt_sigtimedwait,
                &pipe as *const libc::sigset_t,
                info as *mut libc::siginfo_t,
                &zero as *const libc::timespec,
                KERNEL_SIGSET,
            )
        };
        #[cfg(target_os = "freebsd")]
        // SAFETY: a valid set, a writable siginfo_t and a valid timespec.
        let ret = libc::c_long::from(unsafe { libc::sigtimedwait(&pipe, info, &zero) });
        if ret == libc::c_long::from(libc::SIGPIPE) {
            return Some(());
        }
        if ret == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return None;
    }
}

/// The kernel's `sigset_t` size, which `rt_sigtimedwait` wants.
#[cfg(any(target_os = "linux", target_os = "android"))]
const KERNEL_SIGSET: usize = if cfg!(any(target_arch = "mips", target_arch = "mips64")) {
    16
} else {
    8
};

/// Takes the thread's pending `SIGPIPE` (see [`SigpipeBlock`]).
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn take_own_sigpipe() {
    // SAFETY: all-zero is a valid siginfo_t.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let _ = take_sigpipe(&mut info);
}

/// Without `sigtimedwait` (macOS, OpenBSD...): `sigwait` once `sigpending`
/// shows it, so it returns at once.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn take_own_sigpipe() {
    if sigpipe_pending() {
        let pipe = super::sigset(&[libc::SIGPIPE]);
        let mut sig = 0;
        // SAFETY: a valid set holding SIGPIPE, which is pending: returns at
        // once.
        unsafe { libc::sigwait(&pipe, &mut sig) };
    }
}

/// With `SIGPIPE` blocked and pending: whether the thread has one of its
/// own (rather than only the process).
///
/// Linux: a marker `SIGPIPE` is queued to this thread with
/// `rt_tgsigqueueinfo` (it joins the thread's set only if no `SIGPIPE` is
/// there), then one is taken with `sigtimedwait`, which takes the
/// thread's first. The marker back: the thread had none, and all is as
/// before. Anything else is the thread's own: it is queued back to the
/// thread with the `siginfo` it came with, so its handler sees the same.
/// (Only when `RLIMIT_SIGPENDING` is exhausted does the kernel queue the
/// marker without its `siginfo`; it is then taken for the thread's own,
/// and the write's `SIGPIPE` is left pending, as before this check.)
#[cfg(any(target_os = "linux", target_os = "android"))]
fn own_sigpipe_pending() -> bool {
    /// In `si_errno` of the marker.
    const MARKER: libc::c_int = 0x7072_6f63;
    // SAFETY: all-zero is a valid siginfo_t.
    let mut marker: libc::siginfo_t = unsafe { std::mem::zeroed() };
    marker.si_signo = libc::SIGPIPE;
    marker.si_code = libc::SI_QUEUE;
    marker.si_errno = MARKER;
    if queue_to_this_thread(&marker).is_err() {
        return true;
    }
    // SAFETY: all-zero is a valid siginfo_t.
    let mut got: libc::siginfo_t = unsafe { std::mem::zeroed() };
    if take_sigpipe(&mut got).is_none() {
        return true;
    }
    if got.si_code == libc::SI_QUEUE && got.si_errno == MARKER {
        return false;
    }
    let _ = queue_to_this_thread(&got);
    true
}

/// Elsewhere, a pending `SIGPIPE` counts as the thread's own (nothing is
/// taken after the write): a process-directed one pending before may then
/// leave the write's pending too.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn own_sigpipe_pending() -> bool {
    true
}

/// `rt_tgsigqueueinfo(getpid(), gettid(), SIGPIPE, info)`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn queue_to_this_thread(info: &libc::siginfo_t) -> io::Result<()> {
    // SAFETY: getpid and gettid take no argument and cannot fail.
    let (pid, tid) = unsafe { (libc::getpid(), libc::syscall(libc::SYS_gettid)) };
    // SAFETY: the kernel reads one siginfo_t; a process may queue any
    // si_code to its own thread.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_rt_tgsigqueueinfo,
            pid,
            tid,
            libc::SIGPIPE,
            info as *const libc::siginfo_t,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
