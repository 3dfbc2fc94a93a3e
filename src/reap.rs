//! Reaping zombies: no zombies by construction, without stealing anyone
//! else's children.
//!
//! A child that has exited stays in the process table as a *zombie* until its
//! parent collects its status with `wait`/`waitpid`; a program that starts
//! many children and never collects them fills the table. procctl makes the
//! cure automatic:
//!
//! - **One registry.** Every path that reaps
//!   ([`Child::wait`](crate::proc::Child::wait), [`wait`](crate::proc::wait),
//!   [`waitpid`](crate::proc::waitpid), [`reap_zombies`], the background
//!   reaper) reaps under one lock and hands a status that belongs to a live
//!   [`Child`](crate::proc::Child) to that handle, so its `wait()` still
//!   returns the real status.
//! - **Orphans are reaped without a thread.** A `Child` dropped before it
//!   was waited for (with the default [`DropPolicy::Reap`](crate::proc::DropPolicy))
//!   is parked on an orphan list. procctl drains it, without blocking, at its
//!   next fork, spawn or `Child` wait, and in [`reap_zombies`]. No thread is
//!   started behind the program's back, so a single-threaded program stays
//!   single-threaded and can still use the safe [`fork`](crate::proc::fork).
//! - **Opt-in background reaping.** [`start_reaper`] starts one thread:
//!   [`ReapMode::Owned`] reaps only the children procctl was handed (dropped
//!   `Child` handles), never another library's; [`ReapMode::All`] is init
//!   mode and reaps every child.
//! - **Init.** [`Init`] runs a command as the main child of a PID-1-like
//!   supervisor: child subreaper, signal forwarding, reaping of adopted
//!   orphans, and the main child's status at the end.

use crate::{ExitStatus, Pid, Result};

#[cfg(unix)]
pub(crate) use registry::*;

#[cfg(unix)]
mod init;
#[cfg(unix)]
pub use init::{Init, init};

/// Reaps every child that has exited, without blocking
/// (`waitpid(-1, WNOHANG)` in a loop).
///
/// Returns the reaped pids with their statuses; `Ok(vec![])` when no child
/// has exited, including when there are no children at all. Statuses of
/// children owned by a live [`Child`](crate::proc::Child) are also handed to
/// that handle. This reaps *every* exited child, including those of other
/// libraries (a `std::process::Child` would then lose its status): call it
/// in programs that own all their children.
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
/// # #[cfg(unix)]
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

/// How many dropped [`Child`](crate::proc::Child) handles wait for their
/// process to be reaped (their process may still be running). For
/// diagnostics, tests and benchmarks.
///
/// ```
/// assert_eq!(procctl::reap::pending_orphans(), 0);
/// ```
pub fn pending_orphans() -> usize {
    #[cfg(unix)]
    {
        registry::orphan_count()
    }
    #[cfg(not(unix))]
    {
        0
    }
}

/// Which children the background reaper of [`start_reaper`] collects.
///
/// ```
/// use procctl::reap::ReapMode;
/// assert_ne!(ReapMode::Owned, ReapMode::All);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReapMode {
    /// Only children procctl was handed: `Child` handles dropped unwaited.
    /// Children of other libraries (a `std::process::Child`) keep their
    /// statuses. On Linux: one pidfd per child in one epoll set, no
    /// `SIGCHLD` handler, nothing process-global.
    Owned,
    /// Every child, like an init process (`waitpid(-1)` in a loop). A child
    /// owned by a live `Child` still reports its real status to that handle;
    /// other libraries' children are reaped too.
    All,
}

/// Starts the background reaper thread (opt-in: it is a thread, and the
/// safe [`fork`](crate::proc::fork) refuses multi-threaded processes).
///
/// Idempotent per mode: calling it again with a running mode does nothing.
/// Starting [`ReapMode::All`] after [`ReapMode::Owned`] adds the init-mode
/// thread. Orphans parked before the call are handed to the reaper.
///
/// # Errors
///
/// [`Error::ResourceLimit`](crate::Error::ResourceLimit) or
/// [`Error::Os`](crate::Error::Os) if the thread or its epoll set cannot be
/// created.
///
/// # Platform notes
///
/// Linux: `Owned` waits on pidfds with epoll (on kernels without pidfds it
/// also checks the orphan list with `WNOHANG` every 10 ms). Other Unix
/// systems: a `SIGCHLD` handler registered with
/// [`signal::register`](crate::signal::register) (chaining to any handler
/// installed before) drains the orphan list on procctl's signal dispatcher
/// thread. Windows: nothing to reap; returns `Ok(())`.
///
/// # Examples
///
/// ```
/// use procctl::reap::{start_reaper, ReapMode};
/// use std::time::{Duration, Instant};
///
/// # #[cfg(target_os = "linux")]
/// # if procctl::proc::thread_count() == Some(1) {
/// let child = procctl::proc::fork(|| 0)?;
/// let pid = child.pid();
/// start_reaper(ReapMode::Owned)?;
/// drop(child); // the reaper takes it
/// let deadline = Instant::now() + Duration::from_secs(10);
/// while std::path::Path::new(&format!("/proc/{pid}")).exists() {
///     assert!(Instant::now() < deadline);
///     std::thread::sleep(Duration::from_millis(5));
/// }
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn start_reaper(mode: ReapMode) -> Result<()> {
    #[cfg(unix)]
    {
        registry::start(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        Ok(())
    }
}

/// `prctl(PR_SET_CHILD_SUBREAPER, on)`: makes this process adopt its
/// orphaned descendants (instead of PID 1), so it can reap them.
///
/// # Errors
///
/// [`Error::Unsupported`](crate::Error::Unsupported) outside Linux.
///
/// # Platform notes
///
/// Linux only (FreeBSD's `procctl(PROC_REAP_ACQUIRE)` is not wrapped yet).
///
/// # Examples
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// procctl::reap::set_child_subreaper(true)?;
/// assert!(procctl::reap::is_child_subreaper()?);
/// procctl::reap::set_child_subreaper(false)?;
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[doc(alias = "PR_SET_CHILD_SUBREAPER")]
pub fn set_child_subreaper(on: bool) -> Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        crate::sys::reaper::set_child_subreaper(on).map_err(|e| crate::Error::os("prctl", e))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = on;
        Err(crate::Error::Unsupported {
            what: "set_child_subreaper",
        })
    }
}

/// `prctl(PR_GET_CHILD_SUBREAPER)`: whether this process is a child
/// subreaper.
///
/// # Errors
///
/// [`Error::Unsupported`](crate::Error::Unsupported) outside Linux.
///
/// # Examples
///
/// ```
/// # #[cfg(target_os = "linux")]
/// assert!(!procctl::reap::is_child_subreaper()?);
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn is_child_subreaper() -> Result<bool> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        crate::sys::reaper::is_child_subreaper().map_err(|e| crate::Error::os("prctl", e))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        Err(crate::Error::Unsupported {
            what: "is_child_subreaper",
        })
    }
}

/// The pids of this process's children that are zombies right now (state
/// `Z` in `/proc`), sorted. For diagnostics and tests.
///
/// # Errors
///
/// [`Error::Os`](crate::Error::Os) if `/proc` cannot be read;
/// [`Error::Unsupported`](crate::Error::Unsupported) outside Linux.
///
/// # Examples
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// # if procctl::proc::thread_count() == Some(1) {
/// let child = procctl::proc::fork(|| 0)?;
/// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
/// while procctl::reap::zombie_children()? != vec![child.pid()] {
///     assert!(std::time::Instant::now() < deadline);
///     std::thread::sleep(std::time::Duration::from_millis(1));
/// }
/// child.wait()?;
/// assert!(procctl::reap::zombie_children()?.is_empty());
/// # }}
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn zombie_children() -> Result<Vec<Pid>> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let pids =
            crate::sys::reaper::zombie_children().map_err(|e| crate::Error::os("read /proc", e))?;
        Ok(pids.into_iter().filter_map(Pid::from_raw).collect())
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        Err(crate::Error::Unsupported {
            what: "zombie_children",
        })
    }
}

#[cfg(unix)]
mod registry {
    use std::collections::HashMap;
    use std::io;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    use std::os::fd::AsFd;
    use std::os::fd::OwnedFd;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{
        Arc, Condvar, Mutex, MutexGuard, Once, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak,
    };
    use std::time::Duration;

    use super::ReapMode;
    use crate::error::{Error, Result};
    use crate::proc::child::Shared;
    use crate::sys::wait::{self, Rusage};
    use crate::{ExitStatus, WaitStatus};

    #[cfg(any(target_os = "linux", target_os = "android"))]
    use crate::sys::reaper::PidfdSet;

    /// What procctl knows about one of its children.
    pub(crate) enum Entry {
        /// Owned by a live `Child`.
        Live(Weak<Shared>),
        /// Its `Child` was dropped unwaited; reap it when it exits.
        Orphan {
            /// Kept so the orphan can be waited on and no recycled pid is
            /// ever confused with it.
            pidfd: Option<OwnedFd>,
            /// The pidfd is in the registry's orphan set (Linux), which
            /// reports the orphan once it has exited. Unwatched orphans
            /// are checked one by one.
            watched: bool,
        },
    }

    /// The children procctl started and has not reaped yet.
    #[derive(Default)]
    pub(crate) struct Registry {
        children: HashMap<i32, Entry>,
        /// Linux: the pidfds of the orphans in one epoll set, so that
        /// draining costs one `epoll_wait` plus one reap per exited orphan,
        /// however many are still running. Made at the first orphan; the
        /// background reaper sleeps on the same set.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        set: Option<Arc<PidfdSet>>,
    }

    static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);
    static ORPHANS: AtomicUsize = AtomicUsize::new(0);
    /// Orphans not in the orphan set (no pidfd, no set, or not Linux).
    static UNWATCHED: AtomicUsize = AtomicUsize::new(0);
    /// Set in the child of any `fork` (a `pthread_atfork` handler): the
    /// registry copied from the parent describes the parent's children.
    static FORKED: AtomicBool = AtomicBool::new(false);
    static ATFORK: Once = Once::new();

    extern "C" fn after_fork_in_child() {
        FORKED.store(true, Ordering::Relaxed);
    }

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

    /// The reap lock. Every reap procctl does happens while it is held,
    /// except one: [`Child::wait`](crate::proc::Child::wait) on Linux reaps
    /// through the child's pidfd (which names that process only, so no
    /// recycled pid can be hit) and records the status under the lock
    /// afterwards. The lock is only ever held for non-blocking calls.
    pub(crate) struct Locked<'a>(MutexGuard<'a, Option<Registry>>);

    pub(crate) fn lock() -> Locked<'static> {
        let mut locked = Locked(REGISTRY.lock().unwrap_or_else(|p| p.into_inner()));
        if FORKED.load(Ordering::Relaxed) && FORKED.swap(false, Ordering::Relaxed) {
            // A child forked by code other than procctl's `fork` (which
            // resets the registry itself): forget the parent's children,
            // and above all its orphan set, an epoll instance this process
            // shares with the parent.
            locked.reset_after_fork();
        }
        locked
    }

    impl Locked<'_> {
        fn reg(&mut self) -> &mut Registry {
            self.0.get_or_insert_with(|| {
                // The handler only stores to an atomic.
                ATFORK.call_once(|| crate::sys::reaper::at_fork_in_child(after_fork_in_child));
                Registry::default()
            })
        }

        /// Records a new child owned by `shared`.
        pub(crate) fn register(&mut self, pid: i32, shared: &Arc<Shared>) {
            self.reg()
                .children
                .insert(pid, Entry::Live(Arc::downgrade(shared)));
            if ALL_RUNNING.load(Ordering::Relaxed) {
                NEW_CHILD.1.notify_all();
            }
        }

        /// The orphan set, made on first use.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        fn orphan_set(&mut self) -> io::Result<Arc<PidfdSet>> {
            let reg = self.reg();
            if let Some(set) = &reg.set {
                return Ok(Arc::clone(set));
            }
            let set = Arc::new(PidfdSet::new()?);
            reg.set = Some(Arc::clone(&set));
            Ok(set)
        }

        /// Removes a child's entry; an orphan's pidfd leaves the orphan set
        /// before it is closed (a child forked meanwhile holds a copy of
        /// the pidfd, and epoll would keep reporting it).
        fn remove(&mut self, pid: i32) -> Option<Entry> {
            let entry = self.reg().children.remove(&pid);
            if let Some(Entry::Orphan { pidfd, watched }) = &entry {
                let last = ORPHANS.fetch_sub(1, Ordering::Relaxed) == 1;
                if !watched {
                    UNWATCHED.fetch_sub(1, Ordering::Relaxed);
                }
                #[cfg(any(target_os = "linux", target_os = "android"))]
                {
                    let reg = self.reg();
                    if let (Some(fd), true, Some(set)) = (pidfd, *watched, &reg.set) {
                        set.remove(fd.as_fd());
                    }
                    // Without the background reaper, the set lives only
                    // while there are orphans: no descriptor stays behind.
                    if last && !OWNED_RUNNING.load(Ordering::Relaxed) {
                        reg.set = None;
                    }
                }
                #[cfg(not(any(target_os = "linux", target_os = "android")))]
                let _ = (pidfd, last);
            }
            entry
        }

        /// Forgets a child (detached, or reaped elsewhere).
        pub(crate) fn forget(&mut self, pid: i32) {
            self.remove(pid);
        }

        /// Forgets `pid` only if it is still registered to `shared`: once
        /// a child is reaped its pid may already name a newer child.
        pub(crate) fn forget_if(&mut self, pid: i32, shared: &Arc<Shared>) {
            let ours = matches!(
                self.reg().children.get(&pid),
                Some(Entry::Live(weak)) if std::ptr::eq(weak.as_ptr(), Arc::as_ptr(shared))
            );
            if ours {
                self.remove(pid);
            }
        }

        /// Records the status of a child its own handle reaped through its
        /// pidfd, outside the lock.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        pub(crate) fn reaped(
            &mut self,
            pid: i32,
            shared: &Arc<Shared>,
            exit: ExitStatus,
            ru: Rusage,
        ) {
            shared.record(exit, ru);
            self.forget_if(pid, shared);
        }

        fn is_orphan(&mut self, pid: i32) -> bool {
            matches!(self.reg().children.get(&pid), Some(Entry::Orphan { .. }))
        }

        /// Parks a child whose handle was dropped unwaited; its pidfd joins
        /// the orphan set.
        pub(crate) fn orphan(&mut self, pid: i32, pidfd: Option<OwnedFd>) {
            self.remove(pid);
            #[cfg(any(target_os = "linux", target_os = "android"))]
            // Without a set (epoll failed) the orphan is checked one by one.
            let watched = match &pidfd {
                Some(fd) => self
                    .orphan_set()
                    .is_ok_and(|set| set.add(fd.as_fd(), pid).is_ok()),
                None => false,
            };
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            let watched = false;
            if !watched {
                UNWATCHED.fetch_add(1, Ordering::Relaxed);
            }
            self.reg()
                .children
                .insert(pid, Entry::Orphan { pidfd, watched });
            ORPHANS.fetch_add(1, Ordering::Relaxed);
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
            let status = decode(raw);
            if let WaitStatus::Exited(exit) = status {
                self.finished(pid, exit, ru);
            }
            Ok(Some((pid, status, ru)))
        }

        fn finished(&mut self, pid: i32, exit: ExitStatus, ru: Rusage) {
            if let Some(Entry::Live(weak)) = self.remove(pid) {
                if let Some(shared) = weak.upgrade() {
                    shared.record(exit, ru);
                }
            }
        }

        /// Reaps every orphan that has exited: those the orphan set reports
        /// (one `epoll_wait`, however many orphans still run), and the
        /// unwatched ones, checked one by one.
        pub(crate) fn drain_orphans(&mut self) {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            if let Some(set) = self.reg().set.clone() {
                let mut ready = [0i32; 64];
                while let Ok(n) = set.wait(&mut ready, 0) {
                    for &pid in &ready[..n] {
                        self.reap_orphan(pid);
                    }
                    if n < ready.len() {
                        break;
                    }
                }
            }
            if UNWATCHED.load(Ordering::Relaxed) > 0 {
                self.drain_unwatched();
            }
        }

        /// Reaps the unwatched orphans that have exited.
        fn drain_unwatched(&mut self) {
            let orphans: Vec<i32> = self
                .reg()
                .children
                .iter()
                .filter(|(_, e)| matches!(e, Entry::Orphan { watched: false, .. }))
                .map(|(p, _)| *p)
                .collect();
            for pid in orphans {
                self.reap_orphan(pid);
            }
        }

        /// Reaps `pid` if it is still an orphan and has exited. No handle
        /// wants its status or resource usage, so neither is collected.
        pub(crate) fn reap_orphan(&mut self, pid: i32) {
            if !self.is_orphan(pid) {
                // Reaped meanwhile; the pid may even belong to a new child.
                return;
            }
            match wait::waitpid(pid, libc::WNOHANG) {
                Ok(None) => {}
                // Exited; or ECHILD: reaped by code outside procctl.
                Ok(Some(_)) | Err(_) => self.forget(pid),
            }
        }

        /// In the child of `fork`: the parent's children are not ours, nor
        /// is its background reaper. Leaks the old table (its pidfds, and
        /// the orphan set shared with the parent, stay open until `exec`,
        /// which closes them) rather than freeing it, so no allocator call
        /// happens in a child that may have been forked from many threads.
        pub(crate) fn reset_after_fork(&mut self) {
            if let Some(old) = self.0.take() {
                std::mem::forget(old);
            }
            ORPHANS.store(0, Ordering::Relaxed);
            UNWATCHED.store(0, Ordering::Relaxed);
            OWNED_RUNNING.store(false, Ordering::Relaxed);
            ALL_RUNNING.store(false, Ordering::Relaxed);
            FORKED.store(false, Ordering::Relaxed);
        }
    }

    /// How many orphans are parked.
    pub(crate) fn orphan_count() -> usize {
        ORPHANS.load(Ordering::Relaxed)
    }

    /// Reaps exited orphans if there are any; cheap when there are none,
    /// and one `epoll_wait` on Linux when none has exited.
    pub(crate) fn drain_orphans() {
        if ORPHANS.load(Ordering::Relaxed) > 0 {
            lock().drain_orphans();
        }
    }

    /// The exit status behind a raw `wait` status known to report an exit
    /// (from `waitid(WEXITED)`), decoded as every other reap decodes it.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn exit_status(raw: i32) -> Option<ExitStatus> {
        match decode(raw) {
            WaitStatus::Exited(exit) => Some(exit),
            _ => None,
        }
    }

    /// A raw `wait` status as every reap of procctl decodes it. A status
    /// naming no known signal (a ptrace stop with event bits, or glibc's
    /// own signals 32 and 33) reports what it can of the signal part.
    fn decode(raw: i32) -> WaitStatus {
        WaitStatus::from_raw(raw).unwrap_or_else(|| unknown_status(raw))
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

    // ---- the background reaper ----

    static OWNED_RUNNING: AtomicBool = AtomicBool::new(false);
    static ALL_RUNNING: AtomicBool = AtomicBool::new(false);
    static NEW_CHILD: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());
    static START: Mutex<()> = Mutex::new(());

    pub(crate) fn start(mode: ReapMode) -> Result<()> {
        let _serial = START.lock().unwrap_or_else(|p| p.into_inner());
        match mode {
            ReapMode::Owned if !OWNED_RUNNING.load(Ordering::Relaxed) => {
                // Set first: from here on the orphan set outlives its last
                // orphan, so the set the reaper sleeps on stays the one new
                // orphans join.
                OWNED_RUNNING.store(true, Ordering::Relaxed);
                start_owned().inspect_err(|_| OWNED_RUNNING.store(false, Ordering::Relaxed))
            }
            ReapMode::All if !ALL_RUNNING.load(Ordering::Relaxed) => start_all(),
            _ => Ok(()),
        }
    }

    fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) -> Result<()> {
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(f)
            .map(drop)
            .map_err(|e| Error::os("pthread_create", e))
    }

    /// One thread asleep in `epoll_wait` on the orphan set; it reaps each
    /// orphan the set reports.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn start_owned() -> Result<()> {
        let set = lock()
            .orphan_set()
            .map_err(|e| Error::os("epoll_create1", e))?;
        spawn_thread("procctl-reaper", move || {
            let mut ready = [0i32; 64];
            loop {
                // Unwatched orphans (only where pidfd_open failed) are not
                // in the set: check them every 10 ms.
                let unwatched = UNWATCHED.load(Ordering::Relaxed) > 0;
                let n = match set.wait(&mut ready, if unwatched { 10 } else { -1 }) {
                    Ok(n) => n,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                };
                let mut locked = lock();
                for &pid in &ready[..n] {
                    locked.reap_orphan(pid);
                }
                if unwatched {
                    locked.drain_unwatched();
                }
            }
        })
    }

    /// Without pidfds: a `SIGCHLD` handler (procctl's, which chains to one
    /// installed before it) drains the orphan list, reaping only procctl's
    /// own pids with `waitpid(pid, WNOHANG)`. The handler runs on the
    /// signal dispatcher thread, never in signal context.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn start_owned() -> Result<()> {
        crate::signal::register(crate::Signal::CHLD, |_| drain_orphans())?;
        // Orphans that exited before the handler was there.
        drain_orphans();
        Ok(())
    }

    fn start_all() -> Result<()> {
        ALL_RUNNING.store(true, Ordering::Relaxed);
        spawn_thread("procctl-init-reaper", || {
            use crate::proc::{WaitOptions, WaitTarget, waitpid};
            loop {
                match waitpid(WaitTarget::AnyChild, WaitOptions::empty()) {
                    Ok(_) => {}
                    Err(Error::NoChildren) => {
                        // Sleep until procctl starts a child, or 100 ms for
                        // children started by other code.
                        let guard = NEW_CHILD.0.lock().unwrap_or_else(|p| p.into_inner());
                        let _ = NEW_CHILD.1.wait_timeout(guard, Duration::from_millis(100));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        })
        .inspect_err(|_| ALL_RUNNING.store(false, Ordering::Relaxed))
    }

    #[cfg(all(test, any(target_os = "linux", target_os = "android")))]
    mod tests {
        use super::exit_status;
        use crate::{ExitStatus, Signal};

        #[test]
        fn every_exit_that_waitid_reports_decodes() {
            assert_eq!(exit_status(3 << 8), Some(ExitStatus::Exited(3)));
            let killed = exit_status(Signal::KILL.as_raw());
            assert_eq!(killed.and_then(|s| s.signal()), Some(Signal::KILL));
            // glibc's own signals 32 and 33 have no `Signal`: still an
            // exit by signal, never "nothing to record".
            for raw in [32, 33, 32 | 0x80] {
                let status = exit_status(raw).expect("an exit");
                assert!(status.code().is_none() && !status.success());
            }
        }
    }
}
