//! `pthread_atfork` registration, once per process, that a `fork` from
//! another thread cannot leave half done.
//!
//! A `std::sync::Once` (or `OnceLock`) would not do: if another thread
//! forks while the registering thread is inside `call_once`, the child
//! inherits a `Once` marked "running" by a thread that does not exist
//! there, and the child's first call waits for ever. Here the state is one
//! atomic word holding the pid of the process whose thread is registering,
//! so a child can tell a registration under way in its own process from
//! one copied from its parent. glibc and musl take the same lock in
//! `pthread_atfork` and in `fork`, so a registration is either wholly in
//! the child's list of handlers or not at all; the child handler, when it
//! is in the list, marks the registration done before any other code runs
//! in the child.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

/// Registered (in this process, or inherited with the handlers' list).
const DONE: i32 = -1;
/// Not registered.
const NONE: i32 = 0;

/// One set of `pthread_atfork` handlers, registered at most once per
/// process.
pub(crate) struct AtforkOnce(AtomicI32);

impl AtforkOnce {
    pub(crate) const fn new() -> AtforkOnce {
        AtforkOnce(AtomicI32::new(NONE))
    }

    /// To be called by the registered child handler: its being run proves
    /// the registration is in this process's list.
    pub(crate) fn in_child(&self) {
        self.0.store(DONE, Ordering::Release);
    }

    /// Registers the three handlers unless that was done already. Another
    /// thread of this process registering at the same time is waited for.
    pub(crate) fn register(
        &self,
        prepare: extern "C" fn(),
        parent: extern "C" fn(),
        child: extern "C" fn(),
    ) -> io::Result<()> {
        // SAFETY: getpid takes no argument and cannot fail.
        let me = unsafe { libc::getpid() };
        loop {
            match self.0.load(Ordering::Acquire) {
                DONE => return Ok(()),
                // Another thread of ours is registering: wait for it.
                p if p == me => std::thread::yield_now(),
                // Nobody, or a thread of the process we were forked from
                // that had not registered when it forked (our child
                // handler would have said DONE): ours to do.
                p => {
                    if self
                        .0
                        .compare_exchange(p, me, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        break;
                    }
                }
            }
        }
        // SAFETY: three plain functions; the caller promises the child one
        // is async-signal-safe and calls `in_child`.
        let ret = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        if ret != 0 {
            self.0.store(NONE, Ordering::Release);
            return Err(io::Error::from_raw_os_error(ret));
        }
        self.0.store(DONE, Ordering::Release);
        Ok(())
    }
}
