//! The reap registry: the children procctl started and has not reaped,
//! the one lock every reap happens under, the orphan list, and the
//! background reaper.
//!
//! A child procctl holds a pidfd for is reaped through that pidfd on
//! every path (`waitid(P_PIDFD)`), never by pid: a pid is a name the
//! kernel hands out again once the child is reaped, possibly to a process
//! procctl did not start. The per-child state the `Child` handle shares
//! with the registry, the table of children and every decision a reap
//! makes live in [`handoff`], with no system call of their own (so that
//! loom can model them); this file brings the system calls ([`Sys`]), the
//! locks and the background reaper. The registry knows nothing of
//! `Child` itself.

use std::io;
use std::os::fd::AsFd;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use super::ReapMode;
use crate::error::{Error, Result};
use crate::sys::wait::{self, Rusage};
use crate::{ExitStatus, Pid, WaitStatus};

#[cfg(any(target_os = "linux", target_os = "android"))]
use crate::sys::reaper::PidfdSet;

mod handoff;
use handoff::Table;

/// The state one child shares between its `Child` handle and the
/// registry: its pid, its pidfd, and its end, written once.
pub(crate) type Shared = handoff::Shared<Sys>;
/// How a child's story ended: its status and resource usage, or lost.
pub(crate) type End = handoff::End<(ExitStatus, Rusage)>;

/// The children procctl started and has not reaped yet.
type Registry = Table<Sys>;

/// The system calls of the handoff, and the orphan set.
#[derive(Default)]
pub(crate) struct Sys {
    /// Linux: the pidfds of the orphans in one epoll set, so that
    /// draining costs one `epoll_wait` plus one reap per exited orphan,
    /// however many are still running. Made at the first orphan; the
    /// background reaper sleeps on the same set.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    set: Option<Arc<PidfdSet>>,
}

impl handoff::Os for Sys {
    type Pid = Pid;
    type Pidfd = OwnedFd;
    type Report = (WaitStatus, Rusage);
    type Exit = (ExitStatus, Rusage);

    fn exit(&(status, ru): &(WaitStatus, Rusage)) -> Option<(ExitStatus, Rusage)> {
        match status {
            WaitStatus::Exited(exit) => Some((exit, ru)),
            _ => None,
        }
    }

    fn reap_pidfd(
        &self,
        pidfd: &OwnedFd,
        flags: wait::Flags,
    ) -> Option<io::Result<Option<(WaitStatus, Rusage)>>> {
        pidfd_wait(pidfd.as_fd(), flags).map(|r| r.map(|r| r.map(|(raw, ru)| (decode(raw), ru))))
    }

    fn reap_pid(&self, pid: Pid, flags: wait::Flags) -> io::Result<Option<(WaitStatus, Rusage)>> {
        Ok(wait::wait4(pid.as_raw(), flags | libc::WNOHANG)?.map(|(_, raw, ru)| (decode(raw), ru)))
    }

    fn park(&mut self, pid: Pid, pidfd: Option<&OwnedFd>) -> bool {
        // Without a set (epoll failed) the orphan is checked one by one.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let watched = pidfd.is_some_and(|fd| {
            self.orphan_set()
                .is_ok_and(|set| set.add(fd.as_fd(), pid.as_raw()).is_ok())
        });
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let watched = {
            let _ = (pid, pidfd);
            false
        };
        if !watched {
            UNWATCHED.fetch_add(1, Ordering::Relaxed);
        }
        ORPHANS.fetch_add(1, Ordering::Relaxed);
        watched
    }

    fn unpark(&mut self, pidfd: Option<&OwnedFd>, watched: bool) {
        let last = ORPHANS.fetch_sub(1, Ordering::Relaxed) == 1;
        if !watched {
            UNWATCHED.fetch_sub(1, Ordering::Relaxed);
        }
        // The pidfd leaves the set before it is closed: a child forked
        // meanwhile holds a copy of it, and epoll would keep reporting it.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            if let (Some(fd), true, Some(set)) = (pidfd, watched, &self.set) {
                set.remove(fd.as_fd());
            }
            // Without the background reaper, the set lives only while
            // there are orphans: no descriptor stays behind.
            if last && !OWNED_RUNNING.load(Ordering::Relaxed) {
                self.set = None;
            }
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = (pidfd, last);
    }
}

impl Sys {
    /// The orphan set, made on first use.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn orphan_set(&mut self) -> io::Result<Arc<PidfdSet>> {
        if let Some(set) = &self.set {
            return Ok(Arc::clone(set));
        }
        let set = Arc::new(PidfdSet::new()?);
        self.set = Some(Arc::clone(&set));
        Ok(set)
    }
}

impl Shared {
    /// The status, if procctl reaped it.
    pub(crate) fn status(&self) -> Option<ExitStatus> {
        match self.end() {
            Some(End::Reaped((status, _))) => Some(status),
            _ => None,
        }
    }

    /// The resource usage, if procctl reaped it.
    pub(crate) fn usage(&self) -> Option<Rusage> {
        match self.end() {
            Some(End::Reaped((_, ru))) => Some(ru),
            _ => None,
        }
    }
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

/// In the child of procctl's own `fork`: marks the copied registry stale
/// as the `pthread_atfork` handler does, in case registering the handler
/// failed. The handler has already written this page in the child, so
/// the store costs no copy-on-write fault.
pub(crate) fn mark_forked() {
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
/// that is already reaped ([`handoff`] has the rules). The lock is only
/// ever held for non-blocking calls;
/// [`Child::wait`](crate::proc::Child::wait) sleeps without it until
/// the child has exited.
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

/// A pid the kernel reported: always positive.
fn reported(pid: i32) -> Pid {
    Pid::from_raw(pid).expect("the kernel reports positive pids")
}

impl Locked<'_> {
    fn reg(&mut self) -> &mut Registry {
        self.0.get_or_insert_with(|| {
            // The handler only stores to an atomic.
            ATFORK.call_once(|| crate::sys::reaper::at_fork_in_child(after_fork_in_child));
            Registry::new(Sys::default())
        })
    }

    /// Records a new child owned by `shared`.
    pub(crate) fn register(&mut self, shared: &Arc<Shared>) {
        self.reg().register(shared);
        if ALL_RUNNING.load(Ordering::Relaxed) {
            NEW_CHILD.1.notify_all();
        }
    }

    /// Forgets a detached child: procctl will not reap it.
    pub(crate) fn detach(&mut self, shared: &Arc<Shared>) {
        self.reg().detach(shared);
    }

    /// Parks the child of a handle dropped unwaited as an orphan (its
    /// pidfd joins the orphan set), and reaps it now if it has exited.
    pub(crate) fn abandon(&mut self, shared: &mut Arc<Shared>) {
        self.reg().abandon(shared);
    }

    /// Reaps `shared`'s child if it has exited (`WNOHANG`), through its
    /// pidfd where it has one, and records how it ended in the same
    /// critical section that drops its registry entry: its status, or
    /// [`End::Lost`] if code outside procctl reaped it (`ECHILD`).
    pub(crate) fn reap_child(&mut self, shared: &Arc<Shared>) -> io::Result<()> {
        self.reg().reap_child(shared)
    }

    /// Reaps `pid`, a child some "any child" (or group) look reported
    /// (`flags | WNOHANG`), as [`Table::reap`] does.
    fn reap(
        &mut self,
        pid: Pid,
        flags: wait::Flags,
    ) -> io::Result<Option<(Pid, WaitStatus, Rusage)>> {
        let reaped = self.reg().reap(pid, flags)?;
        Ok(reaped.map(|(pid, (status, ru))| (pid, status, ru)))
    }

    /// Reaps every orphan that has exited: those the orphan set reports
    /// (one `epoll_wait`, however many orphans still run), and the
    /// unwatched ones, checked one by one.
    pub(crate) fn drain_orphans(&mut self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(set) = self.reg().os.set.clone() {
            let mut ready = [0i32; 64];
            while let Ok(n) = set.wait(&mut ready, 0) {
                for &pid in &ready[..n] {
                    self.reg().reap_orphan(reported(pid));
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
        for pid in self.reg().unwatched() {
            self.reg().reap_orphan(pid);
        }
    }

    /// In the child of `fork`: the parent's children are not ours, nor
    /// is its background reaper. Leaks the old table (its pidfds, and
    /// the orphan set shared with the parent, stay open until `exec`,
    /// which closes them) rather than freeing it, so no allocator call
    /// happens in a child that may have been forked from many threads.
    fn reset_after_fork(&mut self) {
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
/// ([`Table::reap`]), so its status reaches its `Child` handle, if any,
/// in the same critical section. `None` only under `WNOHANG`.
pub(crate) fn wait_for(
    id: wait::Id,
    flags: wait::Flags,
) -> io::Result<Option<(Pid, WaitStatus, Rusage)>> {
    handoff::wait_any(
        || Ok(wait::peek(id, flags)?.map(reported)),
        |pid| {
            // A child found by looking at "any child" may be one that a
            // spawn on another thread has just created: let it register
            // first.
            let _gate = (!matches!(id, wait::Id::Pid(_))).then(no_spawn_in_flight);
            lock().reap(pid, flags)
        },
    )
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
        .reg()
        .os
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
                locked.reg().reap_orphan(reported(pid));
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
