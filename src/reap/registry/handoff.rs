//! The reap handoff: the table of children procctl has not reaped, the
//! state each child shares between its [`Child`](crate::proc::Child)
//! handle and that table (its pid, its pidfd, and the slot its end is
//! written to, once), and every decision a reap makes with them.
//!
//! The protocol, with no system call of its own (the calls come in
//! through [`Os`], so that `loom/tests/loom_models.rs` runs this very
//! file under loom with a modelled process table):
//!
//! - a [`Table`] is only ever reached through the reap lock (`&mut`),
//!   and every reap procctl does happens under it;
//! - a child with a pidfd is reaped through that pidfd on every path,
//!   never by pid: a pid is a name the kernel hands out again once the
//!   child is reaped;
//! - the reaping path writes the child's end (its status, or
//!   [`End::Lost`] when the pidfd says code outside procctl reaped it) and
//!   drops its table entry in the same critical section, so no other
//!   reaping path ever finds the entry of a child that is already reaped
//!   and hands it the status of a process that took the freed pid;
//! - the first end written wins and never changes; readers need no lock;
//! - an entry is dropped by pid only by the path that just looked it up
//!   under the same lock; anything else drops it by identity
//!   ([`Table::forget_if`]): by then the pid may name a newer child.

use std::collections::HashMap;
use std::hash::Hash;
use std::io;
use std::sync::{Arc, Weak};

/// The non-blocking system calls the handoff makes, and the orphan set's
/// bookkeeping: the seam a model replaces.
pub(crate) trait Os {
    /// A process id.
    type Pid: Copy + Eq + Hash;
    /// A descriptor that names one process for good, whatever happens to
    /// its pid (a pidfd).
    type Pidfd;
    /// What one reap reports: a wait status (an exit; or a stop or a
    /// continue, if the flags ask for them) and the resource usage.
    type Report: Copy;
    /// How a reaped child ended, as its handle keeps it.
    type Exit: Copy;

    /// The end to record if `report` is an exit.
    fn exit(report: &Self::Report) -> Option<Self::Exit>;

    /// Reaps the process behind `pidfd` if it has something to report
    /// (`waitid(P_PIDFD, WEXITED | flags | WNOHANG)`, where `flags` are
    /// `waitpid` flags): `Ok(None)` if it has not; `ECHILD` once it was
    /// reaped, by anyone. `None` where the kernel cannot wait on a pidfd:
    /// reap by pid instead.
    fn reap_pidfd(
        &self,
        pidfd: &Self::Pidfd,
        flags: i32,
    ) -> Option<io::Result<Option<Self::Report>>>;

    /// Reaps the child `pid` if it has something to report
    /// (`wait4(pid, flags | WNOHANG)`): whichever process holds that pid.
    fn reap_pid(&self, pid: Self::Pid, flags: i32) -> io::Result<Option<Self::Report>>;

    /// An orphan was parked: watch its pidfd if there is one. Returns
    /// whether it is watched (reported once it exits); unwatched orphans
    /// are checked one by one.
    fn park(&mut self, pid: Self::Pid, pidfd: Option<&Self::Pidfd>) -> bool;

    /// An orphan's entry left the table (its pidfd is closed after this).
    fn unpark(&mut self, pidfd: Option<&Self::Pidfd>, watched: bool);
}

/// `ECHILD`: the child is not ours (any more).
fn is_echild(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ECHILD)
}

/// How a child's story ended, as far as procctl knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End<X> {
    /// Reaped by procctl (or by std before the handle took over): how.
    Reaped(X),
    /// Reaped by code outside procctl: the status is lost.
    Lost,
}

/// The part of a child's state that procctl's reaping paths share.
pub(crate) struct Shared<O: Os> {
    pub(crate) pid: O::Pid,
    /// Linux: the child's pidfd, opened while it could not have been
    /// reaped yet; every reap of this child goes through it.
    pub(crate) pidfd: Option<O::Pidfd>,
    end: Slot<End<O::Exit>>,
}

impl<O: Os> Shared<O> {
    /// A running child.
    pub(crate) fn new(pid: O::Pid, pidfd: Option<O::Pidfd>) -> Shared<O> {
        Shared {
            pid,
            pidfd,
            end: Slot::new(None),
        }
    }

    /// A child that was reaped before procctl got it (by std): it is not
    /// registered, has no pidfd, and is never signalled.
    pub(crate) fn ended(pid: O::Pid, end: End<O::Exit>) -> Shared<O> {
        Shared {
            pid,
            pidfd: None,
            end: Slot::new(Some(end)),
        }
    }

    /// How it ended; `None` while procctl has not reaped it.
    pub(crate) fn end(&self) -> Option<End<O::Exit>> {
        self.end.get()
    }

    /// Records the end (the first one written wins). Only the path that
    /// reaped the child calls this, under the reap lock.
    fn finish(&self, end: End<O::Exit>) {
        self.end.set(end);
    }
}

/// What procctl knows about one of its children.
enum Entry<O: Os> {
    /// Owned by a live `Child`.
    Live(Weak<Shared<O>>),
    /// Its `Child` was dropped unwaited; reap it when it exits.
    Orphan {
        /// Kept so the orphan is reaped through it: a process that takes
        /// its pid after code outside procctl reaped it is never touched.
        pidfd: Option<O::Pidfd>,
        /// [`Os::park`] watches it.
        watched: bool,
    },
}

/// The children procctl started and has not reaped yet. Reached only
/// through the reap lock.
pub(crate) struct Table<O: Os> {
    children: HashMap<O::Pid, Entry<O>>,
    /// The system calls, and the orphan set.
    pub(crate) os: O,
}

impl<O: Os> Table<O> {
    pub(crate) fn new(os: O) -> Table<O> {
        Table {
            children: HashMap::new(),
            os,
        }
    }

    /// Records a new child owned by `shared`.
    pub(crate) fn register(&mut self, shared: &Arc<Shared<O>>) {
        // An entry still filed under this pid is stale: its process was
        // reaped by code outside procctl, or the kernel could not hand
        // the pid out again. Removed as any entry is (an orphan's count
        // and watch go with it), not merely overwritten.
        self.remove(shared.pid);
        self.children
            .insert(shared.pid, Entry::Live(Arc::downgrade(shared)));
    }

    /// Removes the entry filed under `pid`, whoever's it is; an orphan's
    /// pidfd is unwatched before it is closed.
    fn remove(&mut self, pid: O::Pid) -> Option<Entry<O>> {
        let entry = self.children.remove(&pid);
        if let Some(Entry::Orphan { pidfd, watched }) = &entry {
            self.os.unpark(pidfd.as_ref(), *watched);
        }
        entry
    }

    /// Forgets `shared`'s child if its pid is still registered to it:
    /// once a child is reaped its pid may already name a newer child.
    /// Returns whether it was.
    pub(crate) fn forget_if(&mut self, shared: &Arc<Shared<O>>) -> bool {
        let ours = matches!(
            self.children.get(&shared.pid),
            Some(Entry::Live(weak)) if std::ptr::eq(weak.as_ptr(), Arc::as_ptr(shared))
        );
        if ours {
            self.remove(shared.pid);
        }
        ours
    }

    /// Forgets a detached child: procctl will not reap it.
    pub(crate) fn detach(&mut self, shared: &Arc<Shared<O>>) {
        self.forget_if(shared);
    }

    /// The handle of an unreaped child is being dropped: park the child
    /// as an orphan, its pidfd moved out of `shared` (if no other
    /// reference to `shared` is left), and reap it now if it has exited.
    pub(crate) fn abandon(&mut self, shared: &mut Arc<Shared<O>>) {
        // Reaped meanwhile by another path: nothing to park. Nor if its
        // pid is no longer filed under it: code outside procctl reaped
        // it, and the pid may name a newer child, whose entry stays.
        // Else the table's weak reference goes first, so the pidfd can be
        // moved out of the now unshared state.
        if shared.end().is_some() || !self.forget_if(shared) {
            return;
        }
        let pid = shared.pid;
        let pidfd = Arc::get_mut(shared).and_then(|s| s.pidfd.take());
        let watched = self.os.park(pid, pidfd.as_ref());
        self.children.insert(pid, Entry::Orphan { pidfd, watched });
        self.reap_orphan(pid);
    }

    /// How many children are filed (tests: nothing left behind).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.children.len()
    }

    /// The orphans [`Os::park`] does not watch.
    pub(crate) fn unwatched(&self) -> Vec<O::Pid> {
        self.children
            .iter()
            .filter(|(_, e)| matches!(e, Entry::Orphan { watched: false, .. }))
            .map(|(pid, _)| *pid)
            .collect()
    }

    /// Reaps `shared`'s child if it has exited, through its pidfd where
    /// it has one, and records how it ended in the same critical section
    /// that drops its entry: its status, or [`End::Lost`] if code outside
    /// procctl reaped it (`ECHILD`).
    pub(crate) fn reap_child(&mut self, shared: &Arc<Shared<O>>) -> io::Result<()> {
        if shared.end().is_some() {
            return Ok(());
        }
        let reaped = match shared
            .pidfd
            .as_ref()
            .and_then(|fd| self.os.reap_pidfd(fd, 0))
        {
            Some(reaped) => reaped,
            None => self.os.reap_pid(shared.pid, 0),
        };
        match reaped {
            Ok(Some(report)) => {
                if let Some(exit) = O::exit(&report) {
                    shared.finish(End::Reaped(exit));
                    self.forget_if(shared);
                }
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) if is_echild(&e) => {
                shared.finish(End::Lost);
                self.forget_if(shared);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Reaps `pid`, a child some "any child" (or group) look reported
    /// (`flags` as `waitpid`'s). A registered child, or orphan, with a
    /// pidfd is reaped through its pidfd and its status recorded and
    /// entry dropped in this critical section; if the pidfd says that
    /// process was reaped by code outside procctl, `pid` now names a
    /// stranger, reaped by pid and never reported to the handle. `None`:
    /// the report went elsewhere meanwhile; look again.
    pub(crate) fn reap(
        &mut self,
        pid: O::Pid,
        flags: i32,
    ) -> io::Result<Option<(O::Pid, O::Report)>> {
        let live = match self.children.get(&pid) {
            Some(Entry::Live(weak)) => weak.upgrade(),
            _ => None,
        };
        let through_pidfd = match (&live, self.children.get(&pid)) {
            (Some(shared), _) => shared
                .pidfd
                .as_ref()
                .and_then(|fd| self.os.reap_pidfd(fd, flags)),
            (
                None,
                Some(Entry::Orphan {
                    pidfd: Some(fd), ..
                }),
            ) => self.os.reap_pidfd(fd, flags),
            _ => None,
        };
        match through_pidfd {
            Some(Ok(Some(report))) => {
                if let Some(exit) = O::exit(&report) {
                    self.finished(pid, exit);
                }
                return Ok(Some((pid, report)));
            }
            Some(Ok(None)) => return Ok(None),
            Some(Err(e)) if is_echild(&e) => {
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
        let Some(report) = self.os.reap_pid(pid, flags)? else {
            return Ok(None);
        };
        if let Some(exit) = O::exit(&report) {
            self.finished(pid, exit);
        }
        Ok(Some((pid, report)))
    }

    /// `pid` was reaped by pid, or through the pidfd of the entry filed
    /// under it, in this critical section: hand the end to its handle.
    fn finished(&mut self, pid: O::Pid, exit: O::Exit) {
        if let Some(Entry::Live(weak)) = self.remove(pid) {
            if let Some(shared) = weak.upgrade() {
                shared.finish(End::Reaped(exit));
            }
        }
    }

    /// Reaps `pid` if it is still an orphan and has exited, through its
    /// pidfd where it has one: if code outside procctl reaped it and its
    /// pid went to another process, that process is left alone. No
    /// handle wants the status.
    pub(crate) fn reap_orphan(&mut self, pid: O::Pid) {
        let reaped = match self.children.get(&pid) {
            Some(Entry::Orphan {
                pidfd: Some(fd), ..
            }) => self.os.reap_pidfd(fd, 0),
            Some(Entry::Orphan { pidfd: None, .. }) => None,
            // Reaped meanwhile; the pid may even belong to a new child.
            _ => return,
        };
        // Without a pidfd: only where procctl reaps under this lock
        // alone (other Unix systems, Linux before 5.4).
        let reaped = match reaped {
            Some(reaped) => reaped,
            None => self.os.reap_pid(pid, 0),
        };
        match reaped {
            Ok(None) => {}
            // Exited; or ECHILD: reaped by code outside procctl.
            Ok(Some(_)) | Err(_) => {
                self.remove(pid);
            }
        }
    }
}

/// Waits for a child as `peek` finds them (it looks without reaping,
/// `waitid(WNOWAIT)`, and sleeps unless told not to) and reaps the one
/// it found with `reap` (under the reap lock: [`Table::reap`]). `None`
/// from `peek` means nothing to report (`WNOHANG`).
pub(crate) fn wait_any<P: Copy + Eq, R>(
    mut peek: impl FnMut() -> io::Result<Option<P>>,
    mut reap: impl FnMut(P) -> io::Result<Option<R>>,
) -> io::Result<Option<R>> {
    // The pid whose reap last failed with ECHILD.
    let mut gone = None;
    loop {
        let Some(pid) = peek()? else {
            return Ok(None);
        };
        match reap(pid) {
            Ok(Some(reaped)) => return Ok(Some(reaped)),
            // Another thread took this report between the look and the
            // reap: look again.
            Ok(None) => continue,
            // Once: another thread reaped it between the look and the
            // reap. The same pid again means the look sees a child that
            // the reap cannot (a filter that refuses `wait4`): an error,
            // not a spin.
            Err(e) if is_echild(&e) && gone != Some(pid) => {
                gone = Some(pid);
                continue;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The end slot: written once, read without a lock.
#[cfg(not(all(loom, test)))]
struct Slot<T>(std::sync::OnceLock<T>);

#[cfg(not(all(loom, test)))]
impl<T: Copy> Slot<T> {
    fn new(value: Option<T>) -> Slot<T> {
        Slot(value.map_or_else(std::sync::OnceLock::new, std::sync::OnceLock::from))
    }

    fn get(&self) -> Option<T> {
        self.0.get().copied()
    }

    fn set(&self, value: T) {
        let _ = self.0.set(value);
    }
}

/// loom has no `OnceLock`: a mutex orders the write before every read
/// that sees it, as `OnceLock`'s release and acquire do, and makes each
/// look at the slot a point where loom switches threads.
#[cfg(all(loom, test))]
struct Slot<T>(loom::sync::Mutex<Option<T>>);

#[cfg(all(loom, test))]
impl<T: Copy> Slot<T> {
    fn new(value: Option<T>) -> Slot<T> {
        Slot(loom::sync::Mutex::new(value))
    }

    fn get(&self) -> Option<T> {
        *self.0.lock().unwrap()
    }

    fn set(&self, value: T) {
        self.0.lock().unwrap().get_or_insert(value);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A process table: processes by serial number, which is also their
    /// pidfd; each with its pid, its exit code once it exits, and whether
    /// it was reaped.
    #[derive(Default)]
    struct Fake {
        procs: RefCell<Vec<(i32, Option<i32>, bool)>>,
        parked: usize,
    }

    impl Fake {
        fn start(&self, pid: i32) -> usize {
            let mut procs = self.procs.borrow_mut();
            assert!(procs.iter().all(|p| p.0 != pid || p.2), "pid {pid} in use");
            procs.push((pid, None, false));
            procs.len() - 1
        }

        fn exit(&self, serial: usize, code: i32) {
            self.procs.borrow_mut()[serial].1 = Some(code);
        }

        fn reap(&self, serial: usize) -> io::Result<Option<i32>> {
            match &mut self.procs.borrow_mut()[serial] {
                (_, _, true) => Err(io::Error::from_raw_os_error(libc::ECHILD)),
                (_, None, false) => Ok(None),
                (_, Some(code), reaped) => {
                    *reaped = true;
                    Ok(Some(*code))
                }
            }
        }
    }

    impl Os for Fake {
        type Pid = i32;
        type Pidfd = usize;
        type Report = i32;
        type Exit = i32;

        fn exit(code: &i32) -> Option<i32> {
            Some(*code)
        }

        fn reap_pidfd(&self, serial: &usize, _: i32) -> Option<io::Result<Option<i32>>> {
            Some(self.reap(*serial))
        }

        fn reap_pid(&self, pid: i32, _: i32) -> io::Result<Option<i32>> {
            let serial = self.procs.borrow().iter().position(|p| p.0 == pid && !p.2);
            match serial {
                Some(serial) => self.reap(serial),
                None => Err(io::Error::from_raw_os_error(libc::ECHILD)),
            }
        }

        fn park(&mut self, _: i32, _: Option<&usize>) -> bool {
            self.parked += 1;
            true
        }

        fn unpark(&mut self, _: Option<&usize>, _: bool) {
            self.parked -= 1;
        }
    }

    #[test]
    fn the_first_end_wins_and_never_changes() {
        let shared = Shared::<Fake>::new(4242, None);
        assert_eq!(shared.end(), None);
        shared.finish(End::Reaped(3));
        shared.finish(End::Reaped(77));
        shared.finish(End::Lost);
        assert_eq!(shared.end(), Some(End::Reaped(3)));

        let lost = Shared::<Fake>::new(4242, None);
        lost.finish(End::Lost);
        lost.finish(End::Reaped(0));
        assert_eq!(lost.end(), Some(End::Lost));

        let ended = Shared::<Fake>::ended(4242, End::Reaped(1));
        assert_eq!(ended.end(), Some(End::Reaped(1)));
        assert!(ended.pidfd.is_none());
    }

    #[test]
    fn any_child_reap_hands_the_status_to_the_handle() {
        let mut table = Table::new(Fake::default());
        let a = table.os.start(10);
        let shared = Arc::new(Shared::new(10, Some(a)));
        table.register(&shared);
        assert_eq!(table.reap(10, 0).unwrap(), None, "still running");
        table.os.exit(a, 3);
        assert_eq!(table.reap(10, 0).unwrap(), Some((10, 3)));
        assert_eq!(shared.end(), Some(End::Reaped(3)));
        assert_eq!(table.len(), 0);
        // The handle's own reap finds its end and reaps nothing.
        table.reap_child(&shared).unwrap();
        assert_eq!(shared.end(), Some(End::Reaped(3)));
    }

    #[test]
    fn a_dropped_handle_leaves_a_newer_childs_entry_alone() {
        // A is reaped by code outside procctl, B takes its pid, then A's
        // handle goes (dropped, or detached): B's entry stays, and B's
        // status reaches B's handle.
        for detach in [false, true] {
            let mut table = Table::new(Fake::default());
            let a_serial = table.os.start(10);
            let mut a = Arc::new(Shared::new(10, Some(a_serial)));
            table.register(&a);
            table.os.exit(a_serial, 3);
            assert_eq!(table.os.reap_pid(10, 0).unwrap(), Some(3));
            let b_serial = table.os.start(10);
            let b = Arc::new(Shared::new(10, Some(b_serial)));
            table.register(&b);
            if detach {
                table.detach(&a);
            } else {
                table.abandon(&mut a);
            }
            assert_eq!(table.os.parked, 0);
            table.os.exit(b_serial, 7);
            assert_eq!(table.reap(10, 0).unwrap(), Some((10, 7)));
            assert_eq!(b.end(), Some(End::Reaped(7)));
            assert_eq!(a.end(), None);
        }
    }

    #[test]
    fn a_registration_drops_a_stale_orphan_with_its_count() {
        let mut table = Table::new(Fake::default());
        let a_serial = table.os.start(10);
        let mut a = Arc::new(Shared::new(10, Some(a_serial)));
        table.register(&a);
        table.abandon(&mut a);
        assert_eq!(table.os.parked, 1);
        table.os.exit(a_serial, 3);
        assert_eq!(table.os.reap_pid(10, 0).unwrap(), Some(3));
        let b = Arc::new(Shared::new(10, Some(table.os.start(10))));
        table.register(&b);
        assert_eq!(table.os.parked, 0);
        assert_eq!(table.len(), 1);
    }
}
