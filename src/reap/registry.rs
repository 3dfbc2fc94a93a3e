//! The reap registry: the children procctl started and has not reaped,
//! the one lock every reap happens under, the orphan list, and the
//! background reaper.
//!
//! A child procctl holds a pidfd for is reaped through that pidfd on
//! every path (`waitid(P_PIDFD)`), never by pid: a pid is a name the
//! kernel hands out again once the child is reaped, possibly to a process
//! procctl did not start. The per-child state the `Child` handle shares
//! with the registry lives in [`shared`], which the registry owns; the
//! registry knows nothing of `Child` itself.

use std::collections::HashMap;
use std::io;
use std::os::fd::AsFd;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{
    Arc, Condvar, Mutex, MutexGuard, Once, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak,
};
use std::time::Duration;

use super::ReapMode;
use crate::error::{Error, Result};
use crate::sys::wait::{self, Rusage};
use crate::{ExitStatus, WaitStatus};

#[cfg(any(target_os = "linux", target_os = "android"))]
use crate::sys::reaper::PidfdSet;

mod shared;
pub(crate) use shared::{End, Shared};

/// What procctl knows about one of its children.
pub(crate) enum Entry {
    /// Owned by a live `Child`.
    Live(Weak<Shared>),
    /// Its `Child` was dropped unwaited; reap it when it exits.
    Orphan {
        /// Kept so the orphan is reaped through it: a process that takes
        /// its pid after code outside procctl reaped it is never touched.
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

/// The reap lock. Every reap procctl does happens while it is held, and
/// the reaped child's status and registry entry are updated in the
/// same critical section, so no path ever finds the entry of a child
/// that is already reaped. The lock is only ever held for
/// non-blocking calls; [`Child::wait`](crate::proc::Child::wait)
/// sleeps without it until the child has exited.
pub(crate) struct Locked<'a>(MutexGuard<'a, Option<Registry>>);

pub(crate) fn lock() -> Locked<'static> {
    let mut locked = Locked(REGISTRY.lock().unwrap_or_else(|p| p.into_inner()));
    if FORKED.load(Ordering::Relaxed) && FORKED.swap(false, Ordering::Relaxed) {
        // The child of a fork (procctl's or any other code's): forget
        // the parent's children, and above all its orphan set, an epoll
        // instance this process shares with the parent.
        locked.reset_after_fork();
    }
    locked
}

/// In the child of a fork, applies the reset [`lock`] makes, for the
/// counters read without the lock: until then they are the parent's.
fn settle_after_fork() {
    if FORKED.load(Ordering::Relaxed) {
        drop(lock());
    }
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
    fn forget_if(&mut self, pid: i32, shared: &Arc<Shared>) {
        let ours = matches!(
            self.reg().children.get(&pid),
            Some(Entry::Live(weak)) if std::ptr::eq(weak.as_ptr(), Arc::as_ptr(shared))
        );
        if ours {
            self.remove(pid);
        }
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

    /// Reaps `shared`'s child if it has exited (`WNOHANG`), through its
    /// pidfd where it has one, and records how it ended in the same
    /// critical section that drops its registry entry: its status, or
    /// [`End::Lost`] if code outside procctl reaped it (`ECHILD`).
    pub(crate) fn reap_child(&mut self, shared: &Arc<Shared>) -> io::Result<()> {
        if shared.end().is_some() {
            return Ok(());
        }
        let pid = shared.pid.as_raw();
        match wait_child(pid, shared.pidfd.as_ref().map(|fd| fd.as_fd()), 0) {
            Ok(Some((raw, ru))) => {
                if let WaitStatus::Exited(exit) = decode(raw) {
                    shared.finish(End::Reaped(exit, ru));
                    self.forget_if(pid, shared);
                }
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {
                shared.finish(End::Lost);
                self.forget_if(pid, shared);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Reaps `pid`, a child some "any child" (or group) look reported
    /// (`flags | WNOHANG`). A registered child, or orphan, with a pidfd
    /// is reaped through its pidfd and its status recorded and entry
    /// dropped in this critical section; if the pidfd says that
    /// process was reaped by code outside procctl, `pid` now names a
    /// stranger, reaped by pid and never reported to the handle. `None`:
    /// the report went elsewhere meanwhile; look again.
    pub(crate) fn reap(
        &mut self,
        pid: i32,
        flags: wait::Flags,
    ) -> io::Result<Option<(i32, WaitStatus, Rusage)>> {
        let live = match self.reg().children.get(&pid) {
            Some(Entry::Live(weak)) => weak.upgrade(),
            _ => None,
        };
        let through_pidfd = match (&live, self.reg().children.get(&pid)) {
            (Some(shared), _) => shared
                .pidfd
                .as_ref()
                .and_then(|fd| pidfd_wait(fd.as_fd(), flags)),
            (
                None,
                Some(Entry::Orphan {
                    pidfd: Some(fd), ..
                }),
            ) => pidfd_wait(fd.as_fd(), flags),
            _ => None,
        };
        match through_pidfd {
            Some(Ok(Some((raw, ru)))) => {
                let status = decode(raw);
                if let WaitStatus::Exited(exit) = status {
                    self.finished(pid, exit, ru);
                }
                return Ok(Some((pid, status, ru)));
            }
            Some(Ok(None)) => return Ok(None),
            Some(Err(e)) if e.raw_os_error() == Some(libc::ECHILD) => {
                // Ours was reaped behind procctl's back: its status is
                // lost, and `pid` is a stranger's now.
                if let Some(shared) = &live {
                    shared.finish(End::Lost);
                }
                self.remove(pid);
            }
            Some(Err(e)) => return Err(e),
            None => {}
        }
        // No pidfd (another platform, or an old kernel), or a stranger.
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
                shared.finish(End::Reaped(exit, ru));
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

    /// Before a `fork`: reaps the orphans that have exited (the child
    /// would copy their entries for nothing), and makes sure the
    /// `pthread_atfork` child handler that marks the registry stale in
    /// every child is registered.
    pub(crate) fn prepare_fork(&mut self) {
        self.reg();
        self.drain_orphans();
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

    /// Reaps `pid` if it is still an orphan and has exited, through
    /// its pidfd where it has one: if code outside procctl reaped it
    /// and its pid went to another process, that process is left
    /// alone. No handle wants the status.
    pub(crate) fn reap_orphan(&mut self, pid: i32) {
        let reaped = match self.reg().children.get(&pid) {
            Some(Entry::Orphan {
                pidfd: Some(fd), ..
            }) => pidfd_wait(fd.as_fd(), 0),
            Some(Entry::Orphan { pidfd: None, .. }) => None,
            // Reaped meanwhile; the pid may even belong to a new child.
            _ => return,
        };
        // Without a pidfd: only where procctl reaps under this lock
        // alone (other Unix systems, Linux before 5.4).
        let reaped = reaped.unwrap_or_else(|| {
            wait::waitpid(pid, libc::WNOHANG).map(|r| r.map(|(_, raw)| (raw, Rusage::default())))
        });
        match reaped {
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

/// Waits for a child in `id` to change state as `flags` say (`waitpid`
/// flags) and reaps it if it ended: looks first without reaping
/// (`waitid(WNOWAIT)`), then reaps that one child under the reap lock
/// ([`Locked::reap`]), so its status reaches its `Child` handle, if any,
/// in the same critical section. `None` only under `WNOHANG`.
pub(crate) fn wait_for(
    id: wait::Id,
    flags: wait::Flags,
) -> io::Result<Option<(i32, WaitStatus, Rusage)>> {
    // The pid whose reap last failed with ECHILD.
    let mut gone = None;
    loop {
        let Some(pid) = wait::peek(id, flags)? else {
            return Ok(None);
        };
        // A child found by looking at "any child" may be one that a spawn
        // on another thread has just created: let it register first.
        let _gate = (!matches!(id, wait::Id::Pid(_))).then(no_spawn_in_flight);
        match lock().reap(pid, flags) {
            Ok(Some(reaped)) => return Ok(Some(reaped)),
            // Another thread took this report between the look and the
            // reap: look again.
            Ok(None) => continue,
            // Once: another thread reaped it between the look and the
            // reap. The same pid again means the look sees a child that
            // the reap cannot (a filter that refuses `wait4`): an error,
            // not a spin.
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) && gone != Some(pid) => {
                gone = Some(pid);
                continue;
            }
            Err(e) => return Err(e),
        }
    }
}

/// How many orphans are parked.
pub(crate) fn orphan_count() -> usize {
    settle_after_fork();
    ORPHANS.load(Ordering::Relaxed)
}

/// Reaps exited orphans if there are any; cheap when there are none,
/// and one `epoll_wait` on Linux when none has exited.
pub(crate) fn drain_orphans() {
    settle_after_fork();
    if ORPHANS.load(Ordering::Relaxed) > 0 {
        lock().drain_orphans();
    }
}

/// Whether `waitid(P_PIDFD)` works here: unknown (0), or no.
static PIDFD_WAIT: AtomicU8 = AtomicU8::new(0);
const NO: u8 = 2;

/// `waitid(P_PIDFD, fd, WEXITED | flags | WNOHANG)`, reaping, with the
/// resource usage. `None` where the kernel has pidfds but no
/// `P_PIDFD` (Linux 5.3) or a filter refuses it: the caller reaps by
/// pid, under this lock, as on systems without pidfds.
fn pidfd_wait(fd: BorrowedFd<'_>, flags: wait::Flags) -> Option<io::Result<Option<(i32, Rusage)>>> {
    if PIDFD_WAIT.load(Ordering::Relaxed) == NO {
        return None;
    }
    match wait::waitid_pidfd(fd, flags | libc::WNOHANG) {
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EINVAL | libc::ENOSYS | libc::EPERM)
            ) =>
        {
            PIDFD_WAIT.store(NO, Ordering::Relaxed);
            None
        }
        r => Some(r),
    }
}

/// Reaps one child (`WNOHANG`): through `pidfd` if it has one, else
/// by pid.
fn wait_child(
    pid: i32,
    pidfd: Option<BorrowedFd<'_>>,
    flags: wait::Flags,
) -> io::Result<Option<(i32, Rusage)>> {
    if let Some(reaped) = pidfd.and_then(|fd| pidfd_wait(fd, flags)) {
        return reaped;
    }
    Ok(wait::wait4(pid, flags | libc::WNOHANG)?.map(|(_, raw, ru)| (raw, ru)))
}

/// The exit status behind a raw `wait` status known to report an exit
/// (such as std's `ExitStatusExt::into_raw`), decoded as every reap of
/// procctl decodes it.
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
    settle_after_fork();
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
        loop {
            match wait_for(wait::Id::All, 0) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {
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

#[cfg(test)]
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
