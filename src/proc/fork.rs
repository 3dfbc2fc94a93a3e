//! `fork` and `_exit`.

// The public `unsafe fn fork_unchecked` lives here (see its `# Safety`).
#![allow(unsafe_code)]

#[cfg(unix)]
use std::io::Write;
#[cfg(unix)]
use std::panic::{AssertUnwindSafe, catch_unwind};
#[cfg(unix)]
use std::sync::Arc;
#[cfg(unix)]
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

#[cfg(unix)]
use super::child::{Child, Shared};
#[cfg(unix)]
use crate::error::{Error, Result};
#[cfg(unix)]
use crate::reap;
use crate::sys;

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
/// Signal handlers: closures registered with
/// [`signal::register`](crate::signal::register) do not run in the child
/// (their dispatcher thread is not there); a signal that only closures
/// handled gets back the disposition procctl replaced, while flags and
/// [`Signals`](crate::signal::Signals) iterators keep working. This holds
/// for every `fork` of the process, procctl's or not (see
/// [`register`](crate::signal::register#fork)).
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
/// Unix only. On Windows, `proc::spawn_task` (the portability layer) runs
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
    unsafe { fork_inner(child, Side::Safe) }
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
/// As [`fork`] otherwise (stdio flushed before the fork, `child` run, the
/// child ended with [`_exit`] and the returned code, signal handlers as
/// [`fork`] says), except for what the child does around `child`, where
/// it takes no lock, since another thread of the parent may have held any
/// of them at the moment of the fork:
///
/// - it does not flush stdio after `child` returns: what `child` leaves in
///   std's `stdout` buffer is lost (it should not print anyway; write to a
///   descriptor with plain `write` calls instead);
/// - a panic in `child` still becomes exit code 101, but not through the
///   program's panic hook (std's default hook takes a lock to print):
///   procctl wraps the panic hook, once per process, from the parent side
///   of the first `fork_unchecked`, so that in such a child it writes
///   `panicked in a fork_unchecked child at FILE:LINE: MESSAGE` to
///   descriptor 2 with plain `write` calls and calls `_exit(101)` at once,
///   without unwinding (no destructor of the closure's locals runs).
///   Everywhere else the wrapper calls the hook it wrapped. What remains
///   before any hook runs is std's: a formatted message (`panic!("{x}")`)
///   is formatted into a `String`, so it allocates (glibc's and musl's
///   `malloc` are safe after `fork`, a custom allocator may not be), and
///   std reads its hook under a lock that only a thread inside
///   `std::panic::set_hook` or `take_hook` at the moment of the fork would
///   hold. A hook the program sets after the first `fork_unchecked`
///   replaces procctl's wrapper, and a panicking child then runs it. So:
///   do not panic in `child`; if it might, prefer a literal message.
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
    install_child_panic_hook();
    // SAFETY: the caller upholds the post-fork rules.
    unsafe { fork_inner(child, Side::Unchecked) }
}

/// Which of the two forks: what the child may do after the closure.
#[cfg(unix)]
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Single-threaded: the child may flush stdio and run the panic hook.
    Safe,
    /// Possibly multi-threaded: the child takes no lock.
    Unchecked,
}

/// Set in the child of [`fork_unchecked`]: a panic there ends the process
/// from procctl's panic hook (see [`install_child_panic_hook`]).
#[cfg(unix)]
static UNCHECKED_CHILD: AtomicBool = AtomicBool::new(false);

/// # Safety
///
/// - As [`fork_unchecked`]; with [`Side::Safe`], the process has one
///   thread.
#[cfg(unix)]
unsafe fn fork_inner<F: FnOnce() -> i32>(child: F, side: Side) -> Result<Child> {
    flush_stdio();
    let mut locked = reap::lock();
    // Reaps exited orphans, and registers the registry's `pthread_atfork`
    // child handler, which marks the copied registry stale in the child.
    locked.prepare_fork();
    // The safe fork runs alone in its process: no other thread can reap
    // the new pid before it is registered, so the lock need not be held
    // across the fork, and the child has no copy of it to release. That
    // spares the child a write to the lock's page (a copy-on-write fault,
    // part of what a fork costs). `fork_unchecked` may have other threads:
    // it holds the lock across the fork, and its child releases its copy.
    let held = match side {
        Side::Safe => {
            drop(locked);
            None
        }
        Side::Unchecked => Some(locked),
    };
    // SAFETY: the caller upholds the post-fork rules; in the child we only
    // release our own lock copy, then run the caller's closure.
    match unsafe { sys::fork() } {
        Err(e) => Err(Error::os("fork", e)),
        Ok(None) => {
            // The registry copied from the parent lists the parent's
            // children: the atfork handler marked it (and so do we, should
            // registering the handler have failed), and the child's first
            // use of the registry forgets it.
            drop(held);
            reap::mark_forked();
            // Stored only when it changes: a store copies the page (a
            // copy-on-write fault) in every child, for nothing.
            let unchecked = side == Side::Unchecked;
            if UNCHECKED_CHILD.load(SeqCst) != unchecked {
                UNCHECKED_CHILD.store(unchecked, SeqCst);
            }
            let code = catch_unwind(AssertUnwindSafe(child)).unwrap_or(101);
            if side == Side::Safe {
                // Alone in the process: stdout's lock is free. Only stdout:
                // std's stderr is unbuffered, and its lock would cost the
                // child a page copy for nothing.
                let _ = std::io::stdout().flush();
            }
            sys::exit(code)
        }
        Ok(Some(pid)) => {
            let mut locked = held.unwrap_or_else(reap::lock);
            // The child cannot be reaped by procctl before it is
            // registered (nothing else runs, or we hold the lock), so the
            // pidfd refers to it and not to a recycled pid.
            let pidfd = sys::pidfd::open(pid.as_raw()).ok().flatten();
            let shared = Arc::new(Shared::new(pid, pidfd));
            locked.register(&shared);
            drop(locked);
            Ok(Child::from_shared(shared))
        }
    }
}

/// Wraps the panic hook, once per process, in one that ends a
/// [`fork_unchecked`] child at once: it writes `panicked in a
/// fork_unchecked child at FILE:LINE: MESSAGE` to descriptor 2 with plain
/// `write` calls and calls `_exit(101)`. It runs no other hook (std's
/// default hook takes a lock to print, a program's hook may do anything)
/// and nothing unwinds (unwinding allocates the panic's box). Elsewhere it
/// calls the hook it wraps. Installed from the parent, before the fork: a
/// child may not take the hook's lock to change it.
#[cfg(unix)]
fn install_child_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if std::thread::panicking() {
        return; // set_hook would panic; the child keeps the current hook
    }
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if UNCHECKED_CHILD.load(SeqCst) {
                unchecked_child_panicked(info)
            }
            prev(info)
        }));
    });
}

/// The panic of a [`fork_unchecked`] child: no lock, no allocation.
#[cfg(unix)]
fn unchecked_child_panicked(info: &std::panic::PanicHookInfo<'_>) -> ! {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>");
    let (file, line) = info.location().map_or(("?", 0), |l| (l.file(), l.line()));
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut n = line;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for part in [
        b"panicked in a fork_unchecked child at ".as_slice(),
        file.as_bytes(),
        b":",
        &digits[at..],
        b": ",
        message.as_bytes(),
        b"\n",
    ] {
        sys::process::write_stderr(part);
    }
    sys::exit(101)
}

/// Flushes stdout before a fork, so the child's own flush never writes
/// the parent's pending output a second time. Only stdout: std's stderr
/// is unbuffered, and taking its lock would write its page for nothing
/// (after a fork, every page the parent writes first is a copy-on-write
/// fault). Errors are ignored: a closed stdout must not stop a fork.
#[cfg(unix)]
fn flush_stdio() {
    let _ = std::io::stdout().flush();
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
/// # #[cfg(unix)]
/// # if procctl::proc::thread_count() == Some(1) {
/// let child = procctl::proc::fork(|| procctl::proc::_exit(3))?;
/// assert_eq!(child.wait()?.code(), Some(3));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn _exit(code: i32) -> ! {
    sys::exit(code)
}
