//! Reaping zombies: [`reap_zombies`], and the bookkeeping that makes every
//! reaping path in procctl agree.
//!
//! A child that has exited stays in the process table as a *zombie* until its
//! parent collects its status with `wait`/`waitpid`. procctl keeps one
//! registry of the children it started:
//!
//! - every path that reaps ([`Child::wait`](crate::proc::Child::wait),
//!   [`wait`](crate::proc::wait), [`waitpid`](crate::proc::waitpid),
//!   [`reap_zombies`]) reaps under one lock and hands a status that belongs
//!   to a live [`Child`](crate::proc::Child) to that handle, so its `wait()`
//!   still returns the real status;
//! - a `Child` dropped before it was waited for is parked on an orphan list
//!   that procctl drains (without blocking) at its next fork, spawn or
//!   `Child` wait, and that [`reap_zombies`] drains too. No thread is
//!   started, so a single-threaded program stays single-threaded.

use crate::{ExitStatus, Pid, Result};

#[cfg(unix)]
pub(crate) use registry::*;

/// Reaps every child that has exited, without blocking
/// (`waitpid(-1, WNOHANG)` in a loop).
///
/// Returns the reaped pids with their statuses; `Ok(vec![])` when no child
/// has exited, including when there are no children at all. Statuses of
/// children owned by a live [`Child`](crate::proc::Child) are also handed to
/// that handle.
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

#[cfg(unix)]
mod registry {
    use std::collections::HashMap;
    use std::io;
    use std::os::fd::OwnedFd;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};

    use crate::proc::child::Shared;
    use crate::sys::wait::{self, Rusage};
    use crate::{ExitStatus, WaitStatus};

    /// What procctl knows about one of its children.
    pub(crate) enum Entry {
        /// Owned by a live `Child`.
        Live(Weak<Shared>),
        /// Its `Child` was dropped unwaited; reap it when it exits.
        Orphan {
            /// Kept so the process cannot be confused with a recycled pid.
            #[allow(dead_code)]
            pidfd: Option<OwnedFd>,
        },
    }

    /// The children procctl started and has not reaped yet.
    #[derive(Default)]
    pub(crate) struct Registry {
        children: HashMap<i32, Entry>,
    }

    static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);
    static ORPHANS: AtomicUsize = AtomicUsize::new(0);

    /// Held shared by every spawn from just before its process exists until
    /// it is registered, and exclusively by every reap of "any child" (or a
    /// group). A spawn does not hold the reap lock while the new program is
    /// being loaded (that would serialise concurrent spawns), so without
    /// this gate a `wait()` on another thread could reap a new child before
    /// its `Child` handle is registered, and the handle would lose the
    /// status.
    static SPAWN_GATE: RwLock<()> = RwLock::new(());

    /// Taken by a spawn before it creates the process; dropped after
    /// [`Locked::register`].
    pub(crate) fn spawn_in_flight() -> RwLockReadGuard<'static, ()> {
        SPAWN_GATE.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Taken around a reap of a pid found by a "look at any child" call:
    /// waits until no spawn is between creating a process and registering
    /// it, so a child procctl started is always known before it is reaped.
    pub(crate) fn no_spawn_in_flight() -> RwLockWriteGuard<'static, ()> {
        SPAWN_GATE.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The reap lock. Every reap procctl does happens while it is held, and
    /// it is only ever held for non-blocking calls.
    pub(crate) struct Locked<'a>(MutexGuard<'a, Option<Registry>>);

    pub(crate) fn lock() -> Locked<'static> {
        Locked(REGISTRY.lock().unwrap_or_else(|p| p.into_inner()))
    }

    impl Locked<'_> {
        fn reg(&mut self) -> &mut Registry {
            self.0.get_or_insert_with(Registry::default)
        }

        /// Records a new child owned by `shared`.
        pub(crate) fn register(&mut self, pid: i32, shared: &Arc<Shared>) {
            self.reg()
                .children
                .insert(pid, Entry::Live(Arc::downgrade(shared)));
        }

        /// Forgets a child (detached, or reaped elsewhere).
        pub(crate) fn forget(&mut self, pid: i32) {
            if let Some(Entry::Orphan { .. }) = self.reg().children.remove(&pid) {
                ORPHANS.fetch_sub(1, Ordering::Relaxed);
            }
        }

        /// Parks a child whose handle was dropped unwaited.
        pub(crate) fn orphan(&mut self, pid: i32, pidfd: Option<OwnedFd>) {
            let old = self.reg().children.insert(pid, Entry::Orphan { pidfd });
            if !matches!(old, Some(Entry::Orphan { .. })) {
                ORPHANS.fetch_add(1, Ordering::Relaxed);
            }
        }

        /// `wait4(pid, flags | WNOHANG)` under the lock. A status that ends a
        /// registered child is recorded in its handle and the entry removed.
        pub(crate) fn reap(
            &mut self,
            pid: i32,
            flags: wait::Flags,
        ) -> io::Result<Option<(i32, WaitStatus, Rusage)>> {
            let Some((pid, raw, ru)) = wait::wait4(pid, flags | libc::WNOHANG)? else {
                return Ok(None);
            };
            let status = WaitStatus::from_raw(raw).unwrap_or_else(|| {
                // A status naming no known signal: only ptrace stops with
                // event bits produce these. Report the signal part.
                unknown_status(raw)
            });
            if let WaitStatus::Exited(exit) = status {
                self.finished(pid, exit, ru);
            }
            Ok(Some((pid, status, ru)))
        }

        fn finished(&mut self, pid: i32, exit: ExitStatus, ru: Rusage) {
            match self.reg().children.remove(&pid) {
                Some(Entry::Live(weak)) => {
                    if let Some(shared) = weak.upgrade() {
                        shared.record(exit, ru);
                    }
                }
                Some(Entry::Orphan { .. }) => {
                    ORPHANS.fetch_sub(1, Ordering::Relaxed);
                }
                None => {}
            }
        }

        /// Reaps every orphan that has exited.
        pub(crate) fn drain_orphans(&mut self) {
            let orphans: Vec<i32> = self
                .reg()
                .children
                .iter()
                .filter(|(_, e)| matches!(e, Entry::Orphan { .. }))
                .map(|(p, _)| *p)
                .collect();
            for pid in orphans {
                match self.reap(pid, 0) {
                    Ok(_) => {}
                    // Reaped by code outside procctl: nothing left to do.
                    Err(_) => self.forget(pid),
                }
            }
        }

        /// In the child of `fork`: the parent's children are not ours.
        /// Leaks the old table rather than freeing it, so no allocator call
        /// happens in a child that may have been forked from many threads.
        pub(crate) fn reset_after_fork(&mut self) {
            if let Some(old) = self.0.take() {
                std::mem::forget(old);
            }
            ORPHANS.store(0, Ordering::Relaxed);
        }
    }

    /// Reaps exited orphans if there are any; cheap when there are none.
    pub(crate) fn drain_orphans() {
        if ORPHANS.load(Ordering::Relaxed) > 0 {
            lock().drain_orphans();
        }
    }

    /// How many dropped children wait to be reaped.
    #[allow(dead_code)]
    pub(crate) fn orphan_count() -> usize {
        ORPHANS.load(Ordering::Relaxed)
    }

    fn unknown_status(raw: i32) -> WaitStatus {
        let sig = |n: i32| crate::Signal::from_raw(n).unwrap_or(crate::Signal::TRAP);
        if raw & 0xff == 0x7f {
            WaitStatus::Stopped(sig((raw >> 8) & 0x7f))
        } else {
            WaitStatus::Exited(ExitStatus::Signaled {
                signal: sig(raw & 0x7f),
                core_dumped: raw & 0x80 != 0,
            })
        }
    }
}
