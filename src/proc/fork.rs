//! `fork` and `_exit`.

// The public `unsafe fn fork_unchecked` lives here (see its `# Safety`).
#![allow(unsafe_code)]

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::child::{Child, Shared};
use crate::error::{Error, Result};
use crate::{reap, sys};

/// `fork()`: runs `child` in a new process and returns its [`Child`] handle.
///
/// This is the safe `fork`. Before forking it flushes std's `stdout` and
/// `stderr` (so nothing buffered is printed twice) and checks that the
/// calling process has exactly one thread: after `fork` only the calling
/// thread exists in the child, and a lock another thread held (in the
/// allocator, in stdio) would stay locked forever. In the child it runs
/// `child`, flushes what the closure printed, and ends the process with
/// [`_exit`] and the returned code: no destructors of the parent's objects,
/// no `atexit` handlers, no buffer flushed twice. A panic in `child` prints
/// its message and becomes exit code 101, as it would in a `main`; the
/// parent carries on. The child never returns from `fork`.
///
/// The returned [`Child`] owns the process: wait for it, or drop it and
/// procctl reaps it later (see [`crate::reap`]); no zombie is left behind.
/// On Linux the handle holds a pidfd, so it never signals a recycled pid.
///
/// Tests run by libtest are always multi-threaded: call `fork` from a
/// `harness = false` test binary, or use [`fork_unchecked`] knowingly.
///
/// # Errors
///
/// - [`Error::MultiThreaded`] when the process has more than one thread (or
///   the platform cannot tell), naming the count;
/// - [`Error::ResourceLimit`] when the process limit is reached (`EAGAIN`) or
///   memory is short (`ENOMEM`).
///
/// # Platform notes
///
/// Unix only. On Windows use `spawn_task` (a later issue), which runs
/// the closure on a thread.
///
/// # Examples
///
/// ```
/// use procctl::proc::fork;
///
/// # if procctl::proc::thread_count() == Some(1) {
/// let child = fork(|| {
///     println!("hello from {}", procctl::Pid::current());
///     7
/// })?;
/// assert_eq!(child.wait()?.code(), Some(7));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[cfg(unix)]
pub fn fork<F: FnOnce() -> i32>(child: F) -> Result<Child> {
    match sys::thread_count() {
        Some(1) => {}
        threads => return Err(Error::MultiThreaded { threads }),
    }
    // SAFETY: the process has a single thread, so no lock can be held by a
    // thread that does not exist in the child.
    unsafe { fork_unchecked(child) }
}

/// How many threads the calling process has, `None` where the platform
/// cannot tell. [`fork`] refuses unless this is `Some(1)`.
///
/// ```
/// let n = procctl::proc::thread_count();
/// assert!(n.is_none() || n >= Some(1));
/// ```
pub fn thread_count() -> Option<usize> {
    sys::thread_count()
}

/// `fork()` without the single-thread check.
///
/// Same behaviour as [`fork`] otherwise: flushes stdio first, runs `child`,
/// turns a panic into exit code 101, leaves with [`_exit`].
///
/// # Safety
///
/// The caller promises that, in a process with several threads, `child`
/// only does what is safe after a multi-threaded `fork`:
///
/// - it takes no lock that another thread may have held at the moment of the
///   fork (the allocator's, stdio's, any `Mutex` of the program), so in
///   practice it does not allocate or print, and calls only
///   async-signal-safe functions;
/// - it does not rely on other threads, which do not exist in the child.
///
/// # Errors
///
/// As [`fork`], without [`Error::MultiThreaded`].
///
/// # Examples
///
/// ```
/// // Safe here: the closure only calls _exit.
/// let child = unsafe { procctl::proc::fork_unchecked(|| procctl::proc::_exit(5)) }?;
/// assert_eq!(child.wait()?.code(), Some(5));
/// # Ok::<(), procctl::Error>(())
/// ```
#[cfg(unix)]
pub unsafe fn fork_unchecked<F: FnOnce() -> i32>(child: F) -> Result<Child> {
    flush_stdio();
    // Hold the reap lock across the fork: no other thread can reap the new
    // pid before its pidfd is open and it is registered.
    let mut locked = reap::lock();
    locked.drain_orphans();
    // SAFETY: the caller upholds the post-fork rules; in the child we only
    // release our own lock copy, then run the caller's closure.
    match unsafe { sys::fork() } {
        Err(e) => Err(Error::os("fork", e)),
        Ok(None) => {
            locked.reset_after_fork();
            drop(locked);
            let code = catch_unwind(AssertUnwindSafe(child)).unwrap_or(101);
            flush_stdio();
            sys::exit(code)
        }
        Ok(Some(pid)) => {
            // The child cannot be reaped while we hold the lock, so the
            // pidfd refers to it and not to a recycled pid.
            let pidfd = sys::pidfd::open(pid.as_raw()).ok().flatten();
            let shared = Arc::new(Shared::new(pid, pidfd));
            locked.register(pid.as_raw(), &shared);
            drop(locked);
            Ok(Child::from_shared(shared))
        }
    }
}

fn flush_stdio() {
    // Errors are ignored: a closed stdout must not stop a fork.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

/// `_exit(code)`: ends the calling process at once.
///
/// No destructors run, no `atexit` handlers, no stdio buffers are flushed
/// (std's `stdout` is line-buffered: text printed without a newline is
/// lost; flush it first). The parent sees `code & 0xff` on Unix:
/// `_exit(256)` reads as exit code 0.
///
/// This is what a forked child should end with; in a normal program prefer
/// [`std::process::exit`], which flushes and runs handlers.
///
/// # Examples
///
/// ```
/// # if procctl::proc::thread_count() == Some(1) {
/// let child = procctl::proc::fork(|| procctl::proc::_exit(3))?;
/// assert_eq!(child.wait()?.code(), Some(3));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn _exit(code: i32) -> ! {
    sys::exit(code)
}
