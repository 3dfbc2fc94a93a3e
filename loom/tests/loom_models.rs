//! Model-checked concurrency: loom explores every interleaving of the
//! protocols threads share, on the very code the library runs.
//!
//! - `sleeper_*`: the futex wake-up word of `Signals` and the signal
//!   dispatcher (procctl's src/sys/unix/signal/sleeper.rs, included here as is),
//!   with the futex modelled by a mutex and a condition variable (the
//!   kernel compares the word and queues the sleeper under its bucket
//!   lock, and `FUTEX_WAKE` takes that lock). A lost wake-up leaves the
//!   sleeper blocked forever, which loom reports as a deadlock.
//! - `handoff_*`: the reap registry handoff (procctl's
//!   src/reap/registry/handoff.rs, included here as is: the table of
//!   children, the shared end slot, `reap_child`, the any-child `reap`,
//!   `abandon`, `reap_orphan`, and `wait_any`'s look-then-reap loop), on a
//!   modelled kernel: a process table (running, zombie, reaped) where a
//!   pidfd names one process for good and a pid is handed out again once
//!   its process is reaped. procctl's paths around it (`Child::wait`,
//!   `wait_for` with the spawn gate, spawn, drop, the orphan drain) are
//!   written as registry.rs and child/unix.rs write them, with the reap
//!   lock and the gate as loom locks, and code outside procctl reaps by
//!   pid. Checked, in every interleaving: a status reaped by any path
//!   reaches the live `Child` exactly once, a `Child` ends `Lost` (never
//!   with a stranger's status) when its process was reaped behind
//!   procctl's back, no reap is reported twice, and no entry or orphan
//!   count stays behind.
//!
//! Run with `cd loom && RUSTFLAGS="--cfg loom" cargo test --release`;
//! without `--cfg loom` this binary is empty.

#![cfg(loom)]

#[cfg(any(target_os = "linux", target_os = "android"))]
#[path = "../../src/sys/unix/signal/sleeper.rs"]
mod sleeper;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod sleeper_models {
    use std::sync::atomic::Ordering::SeqCst;
    use std::time::Duration;

    use loom::sync::atomic::{AtomicU32, AtomicU64};
    use loom::sync::{Arc, Condvar, Mutex};
    use loom::thread;

    use super::sleeper::{Futex, Sleeper};

    /// A futex: `wait` compares and queues under the bucket lock, `wake`
    /// takes it. No spurious wake-ups (the real one may have some; the
    /// protocol tolerates them, and without them a lost wake-up cannot
    /// hide).
    struct ModelFutex {
        bucket: Mutex<()>,
        queue: Condvar,
    }

    impl ModelFutex {
        fn new() -> ModelFutex {
            ModelFutex {
                bucket: Mutex::new(()),
                queue: Condvar::new(),
            }
        }
    }

    impl Futex for ModelFutex {
        fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
            assert!(timeout.is_none(), "the models sleep without a timeout");
            let guard = self.bucket.lock().unwrap();
            if word.load(SeqCst) != expected {
                return;
            }
            drop(self.queue.wait(guard).unwrap());
        }

        fn wake_one(&self, _word: &AtomicU32) {
            let _guard = self.bucket.lock().unwrap();
            self.queue.notify_one();
        }
    }

    /// A queue as `Signals` has one: the tally's pending word (what the
    /// sleeper looks at) and the sleeper.
    struct Queue {
        pending: AtomicU64,
        sleeper: Sleeper<ModelFutex>,
    }

    impl Queue {
        fn new() -> Arc<Queue> {
            Arc::new(Queue {
                pending: AtomicU64::new(0),
                sleeper: Sleeper::new(ModelFutex::new()),
            })
        }

        /// The low-level handler: count (`Tally::note`), then wake.
        fn deliver(&self, bit: u32) {
            self.pending.fetch_or(1 << bit, SeqCst);
            self.sleeper.wake();
        }

        /// The iterator: take what was counted (`Tally::take`) into
        /// `seen`, sleeping while there is nothing, until `seen` holds
        /// every bit of `want`.
        fn receive(&self, seen: &mut u64, want: u64) {
            loop {
                *seen |= self.pending.swap(0, SeqCst);
                if *seen & want == want {
                    break;
                }
                self.sleeper
                    .sleep_unless_noted(|| self.pending.load(SeqCst) != 0, None);
            }
        }
    }

    #[test]
    fn sleeper_one_delivery_is_never_lost() {
        loom::model(|| {
            let q = Queue::new();
            let h = {
                let q = q.clone();
                thread::spawn(move || q.deliver(0))
            };
            q.receive(&mut 0, 0b1);
            h.join().unwrap();
        });
    }

    #[test]
    fn sleeper_two_handlers_on_two_threads() {
        loom::model(|| {
            let q = Queue::new();
            let hs: Vec<_> = (0..2)
                .map(|bit| {
                    let q = q.clone();
                    thread::spawn(move || q.deliver(bit))
                })
                .collect();
            q.receive(&mut 0, 0b11);
            for h in hs {
                h.join().unwrap();
            }
        });
    }

    #[test]
    fn sleeper_sleeps_twice_across_two_deliveries() {
        // One handler thread delivering twice: the sleeper's second sleep
        // must not swallow the second wake-up in the first's leftovers.
        loom::model(|| {
            let q = Queue::new();
            let h = {
                let q = q.clone();
                thread::spawn(move || {
                    q.deliver(0);
                    q.deliver(1);
                })
            };
            let mut seen = 0;
            q.receive(&mut seen, 0b1);
            q.receive(&mut seen, 0b10);
            h.join().unwrap();
        });
    }
}

#[path = "../../src/reap/registry/handoff.rs"]
#[allow(dead_code)]
mod handoff;

mod handoff_models {
    use std::io;
    use std::sync::Arc;

    use loom::sync::{Condvar, Mutex, RwLock};
    use loom::thread;

    use super::handoff::{End, Os, Shared, Table, wait_any};

    fn echild() -> io::Error {
        io::Error::from_raw_os_error(libc::ECHILD)
    }

    fn is_echild<T>(r: &io::Result<T>) -> bool {
        matches!(r, Err(e) if e.raw_os_error() == Some(libc::ECHILD))
    }

    /// Where a process is in its life.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum State {
        Running,
        /// Exited, not reaped: its status waits.
        Zombie,
        Reaped,
    }

    /// The kernel's process table: the processes this process started,
    /// by serial number (what a pidfd names, for good), each with its
    /// pid (handed out again once the process is reaped) and its state.
    /// Process `n` exits with status `100 + n`, so a status tells whose
    /// it is. No spurious wake-ups.
    struct Kernel {
        procs: Mutex<Vec<(i32, State)>>,
        /// A process exited.
        exited: Condvar,
    }

    fn status_of(serial: usize) -> u32 {
        100 + serial as u32
    }

    impl Kernel {
        fn new() -> Kernel {
            Kernel {
                procs: Mutex::new(Vec::new()),
                exited: Condvar::new(),
            }
        }

        /// `fork`: a new running process, with the first of `pids` that
        /// no unreaped process holds.
        fn start(&self, pids: &[i32]) -> (i32, usize) {
            let mut procs = self.procs.lock().unwrap();
            let pid = *pids
                .iter()
                .find(|&&pid| procs.iter().all(|&(p, s)| p != pid || s == State::Reaped))
                .expect("a free pid");
            procs.push((pid, State::Running));
            (pid, procs.len() - 1)
        }

        /// The process exits.
        fn exit(&self, serial: usize) {
            let mut procs = self.procs.lock().unwrap();
            assert_eq!(procs[serial].1, State::Running);
            procs[serial].1 = State::Zombie;
            self.exited.notify_all();
        }

        fn state(&self, serial: usize) -> State {
            self.procs.lock().unwrap()[serial].1
        }

        /// The unreaped process that holds `pid`.
        fn holder(procs: &[(i32, State)], pid: i32) -> Option<usize> {
            procs
                .iter()
                .position(|&(p, s)| p == pid && s != State::Reaped)
        }

        /// `waitid(P_PIDFD, WNOHANG)`.
        fn reap(&self, serial: usize) -> io::Result<Option<u32>> {
            let mut procs = self.procs.lock().unwrap();
            match procs[serial].1 {
                State::Running => Ok(None),
                State::Zombie => {
                    procs[serial].1 = State::Reaped;
                    Ok(Some(status_of(serial)))
                }
                State::Reaped => Err(echild()),
            }
        }

        /// `wait4(pid, WNOHANG)`: whichever process holds `pid` now.
        fn reap_pid(&self, pid: i32) -> io::Result<Option<u32>> {
            let mut procs = self.procs.lock().unwrap();
            let serial = Self::holder(&procs, pid).ok_or_else(echild)?;
            if procs[serial].1 == State::Running {
                return Ok(None);
            }
            procs[serial].1 = State::Reaped;
            Ok(Some(status_of(serial)))
        }

        /// `waitid(P_ALL, WEXITED | WNOWAIT)`: the pid of an exited
        /// child (the lowest), sleeping until there is one unless
        /// `nohang`; `ECHILD` if there is no unreaped child at all.
        fn peek(&self, nohang: bool) -> io::Result<Option<i32>> {
            let mut procs = self.procs.lock().unwrap();
            loop {
                let zombie = procs
                    .iter()
                    .filter(|&&(_, s)| s == State::Zombie)
                    .map(|&(pid, _)| pid)
                    .min();
                if zombie.is_some() {
                    return Ok(zombie);
                }
                if procs.iter().all(|&(_, s)| s == State::Reaped) {
                    return Err(echild());
                }
                if nohang {
                    return Ok(None);
                }
                procs = self.exited.wait(procs).unwrap();
            }
        }

        /// `waitid(P_PIDFD, WEXITED | WNOWAIT)`: sleeps until the process
        /// has exited (or was reaped).
        fn await_exit(&self, serial: usize) {
            let mut procs = self.procs.lock().unwrap();
            while procs[serial].1 == State::Running {
                procs = self.exited.wait(procs).unwrap();
            }
        }

        /// `waitid(P_PID, WEXITED | WNOWAIT)`: sleeps until the process
        /// holding `pid` has exited; at once if none does (`ECHILD`).
        fn await_exit_pid(&self, pid: i32) {
            let mut procs = self.procs.lock().unwrap();
            while Self::holder(&procs, pid).is_some_and(|s| procs[s].1 == State::Running) {
                procs = self.exited.wait(procs).unwrap();
            }
        }
    }

    /// The handoff's system calls, on the modelled kernel; orphans are
    /// counted as registry.rs counts them, and those with a pidfd
    /// watched as its epoll set watches them.
    struct ModelOs {
        kernel: Arc<Kernel>,
        parked: usize,
        /// The watched orphans: pid and pidfd.
        watching: Vec<(i32, usize)>,
    }

    impl Os for ModelOs {
        type Pid = i32;
        type Pidfd = usize;
        type Report = u32;
        type Exit = u32;

        fn exit(status: &u32) -> Option<u32> {
            Some(*status)
        }

        fn reap_pidfd(&self, serial: &usize, _flags: i32) -> Option<io::Result<Option<u32>>> {
            Some(self.kernel.reap(*serial))
        }

        fn reap_pid(&self, pid: i32, _flags: i32) -> io::Result<Option<u32>> {
            self.kernel.reap_pid(pid)
        }

        fn park(&mut self, pid: i32, pidfd: Option<&usize>) -> bool {
            self.parked += 1;
            self.watching.extend(pidfd.map(|&serial| (pid, serial)));
            pidfd.is_some()
        }

        fn unpark(&mut self, pidfd: Option<&usize>, watched: bool) {
            self.parked -= 1;
            if let (Some(&serial), true) = (pidfd, watched) {
                self.watching.retain(|&(_, s)| s != serial);
            }
        }
    }

    type Handle = Arc<Shared<ModelOs>>;

    /// One process as procctl sees it: the kernel, the reap lock around
    /// the table, and the spawn gate (registry.rs's statics), with
    /// procctl's paths written as the library writes them.
    struct Proc {
        kernel: Arc<Kernel>,
        table: Mutex<Table<ModelOs>>,
        gate: RwLock<()>,
    }

    impl Proc {
        fn new() -> Arc<Proc> {
            let kernel = Arc::new(Kernel::new());
            Arc::new(Proc {
                table: Mutex::new(Table::new(ModelOs {
                    kernel: kernel.clone(),
                    parked: 0,
                    watching: Vec::new(),
                })),
                kernel,
                gate: RwLock::new(()),
            })
        }

        /// `Command::spawn`: the gate held shared from before the
        /// process exists until it is registered. `quick`: the program
        /// exits before the spawn registers it.
        fn spawn_with(&self, pids: &[i32], pidfd: bool, quick: bool) -> Handle {
            let _in_flight = self.gate.read().unwrap();
            let (pid, serial) = self.kernel.start(pids);
            if quick {
                self.kernel.exit(serial);
            }
            let shared = Arc::new(Shared::new(pid, pidfd.then_some(serial)));
            self.table.lock().unwrap().register(&shared);
            shared
        }

        fn spawn(&self, pids: &[i32]) -> Handle {
            self.spawn_with(pids, true, false)
        }

        /// `Child::wait` (`wait_deadline` without a deadline, and
        /// `poll_exit`): sleep without the lock until the process has
        /// exited, then reap under it.
        fn child_wait(&self, child: &Handle) -> End<u32> {
            loop {
                if let Some(end) = child.end() {
                    return end;
                }
                match child.pidfd {
                    Some(serial) => self.kernel.await_exit(serial),
                    None => self.kernel.await_exit_pid(child.pid),
                }
                self.table.lock().unwrap().reap_child(child).unwrap();
            }
        }

        /// `registry::wait_for(Id::All, flags)`: look without the lock,
        /// reap under the gate and the lock.
        fn wait_any_child(&self, nohang: bool) -> io::Result<Option<(i32, u32)>> {
            wait_any(
                || self.kernel.peek(nohang),
                |pid| {
                    let _gate = self.gate.write().unwrap();
                    self.table.lock().unwrap().reap(pid, 0)
                },
            )
        }

        /// `Drop for Child` with `DropPolicy::Reap`.
        fn drop_child(&self, mut child: Handle) {
            self.table.lock().unwrap().abandon(&mut child);
        }

        /// `drain_orphans` (at every spawn, fork and wait): reaps the
        /// orphans the set reports, those whose pidfd is readable
        /// (exited, or reaped elsewhere), and the unwatched ones.
        fn drain_orphans(&self) {
            let mut table = self.table.lock().unwrap();
            let mut ready: Vec<i32> = (table.os.watching.iter())
                .filter(|&&(_, serial)| self.kernel.state(serial) != State::Running)
                .map(|&(pid, _)| pid)
                .collect();
            ready.extend(table.unwatched());
            for pid in ready {
                table.reap_orphan(pid);
            }
        }

        /// Code outside procctl: `waitpid(pid)` on its own.
        fn outside_reap(&self, pid: i32) -> io::Result<Option<u32>> {
            self.kernel.reap_pid(pid)
        }

        /// No entry left, no orphan counted or watched.
        fn assert_nothing_left(&self) {
            let table = self.table.lock().unwrap();
            assert_eq!(table.len(), 0, "an entry stays behind");
            assert_eq!(table.os.parked, 0, "an orphan stays counted");
            assert!(table.os.watching.is_empty(), "an orphan stays watched");
        }
    }

    /// Explores every interleaving (no preemption bound unless
    /// `LOOM_MAX_PREEMPTIONS` sets one) and says how many it ran.
    fn model(f: impl Fn() + Sync + Send + 'static) {
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        loom::model::Builder::new().check(move || {
            counted.fetch_add(1, Relaxed);
            f()
        });
        eprintln!("{} interleavings", runs.load(Relaxed));
    }

    /// A's handle waits while another thread waits for any child; A and
    /// B exit meanwhile. A's status reaches A's handle, always; the
    /// other waiter gets A's (handed to A's handle in the same critical
    /// section) or B's (handed to B's), never one twice, never none.
    fn child_wait_races_any_child_wait(pidfd: bool) {
        model(move || {
            let p = Proc::new();
            let a = p.spawn_with(&[10], pidfd, false);
            let b = p.spawn_with(&[11], pidfd, false);
            let (sa, sb) = (status_of(0), status_of(1));
            let waiter = {
                let (p, a) = (p.clone(), a.clone());
                thread::spawn(move || p.child_wait(&a))
            };
            let any = {
                let p = p.clone();
                thread::spawn(move || p.wait_any_child(false).unwrap())
            };
            p.kernel.exit(0);
            p.kernel.exit(1);
            assert_eq!(waiter.join().unwrap(), End::Reaped(sa));
            match any.join().unwrap() {
                Some((10, s)) => assert_eq!(s, sa),
                Some((11, s)) => {
                    assert_eq!(s, sb);
                    assert_eq!(b.end(), Some(End::Reaped(sb)));
                }
                other => panic!("any-child wait got {other:?}"),
            }
            assert_eq!(a.end(), Some(End::Reaped(sa)));
            // B: reaped once, by whoever got it; its handle has it.
            assert_eq!(p.child_wait(&b), End::Reaped(sb));
            assert!(is_echild(&p.wait_any_child(true)));
            p.assert_nothing_left();
        });
    }

    #[test]
    fn handoff_child_wait_races_any_child_wait() {
        child_wait_races_any_child_wait(true);
    }

    /// The same without pidfds (Linux before 5.3, other Unix systems):
    /// every reap is by pid, and the lock alone keeps the handoff right.
    #[test]
    fn handoff_child_wait_races_any_child_wait_without_pidfds() {
        child_wait_races_any_child_wait(false);
    }

    #[test]
    fn handoff_two_any_child_waits_and_a_child_wait() {
        // A and B have exited; A's handle and two any-child waits race.
        // Each reap is reported once: the two waits never get the same
        // child, and each handle ends with its own status.
        model(|| {
            let p = Proc::new();
            let a = p.spawn(&[10]);
            let b = p.spawn(&[11]);
            p.kernel.exit(0);
            p.kernel.exit(1);
            let anys: Vec<_> = (0..2)
                .map(|_| {
                    let p = p.clone();
                    thread::spawn(move || p.wait_any_child(false))
                })
                .collect();
            assert_eq!(p.child_wait(&a), End::Reaped(status_of(0)));
            let got: Vec<_> = anys
                .into_iter()
                .filter_map(|h| match h.join().unwrap() {
                    Ok(got) => Some(got.expect("blocking")),
                    // Both children taken by the others.
                    Err(e) => {
                        assert_eq!(e.raw_os_error(), Some(libc::ECHILD));
                        None
                    }
                })
                .collect();
            assert!(
                got.contains(&(11, status_of(1))),
                "B reaped by neither: {got:?}"
            );
            if let [x, y] = got[..] {
                assert_ne!(x, y, "one reap reported twice");
                assert!(got.contains(&(10, status_of(0))));
            }
            assert_eq!(b.end(), Some(End::Reaped(status_of(1))));
            p.assert_nothing_left();
        });
    }

    #[test]
    fn handoff_any_child_wait_never_takes_a_child_being_spawned() {
        // A spawn whose program exits before it is registered, while
        // another thread waits for any child: the wait reaps it only once
        // it is registered (the spawn gate), so its status reaches its
        // handle.
        model(|| {
            let p = Proc::new();
            let any = {
                let p = p.clone();
                thread::spawn(move || p.wait_any_child(false))
            };
            let b = p.spawn_with(&[10], true, true);
            match any.join().unwrap() {
                Ok(got) => assert_eq!(got, Some((10, status_of(0)))),
                // It looked before the process existed: no child at all.
                Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ECHILD)),
            }
            assert_eq!(p.child_wait(&b), End::Reaped(status_of(0)));
            p.assert_nothing_left();
        });
    }

    #[test]
    fn handoff_pid_reuse_never_crosses_handles() {
        // Code outside procctl reaps A (pid 10) while a spawn takes the
        // first free pid, 10 once A is reaped, and A's handle waits. A's
        // handle ends `Lost` (or with A's own status if it reaped first),
        // never with B's; its cleanup leaves B's entry alone, so B's
        // status still reaches B's handle through an any-child wait.
        model(|| {
            let p = Proc::new();
            let a = p.spawn(&[10]);
            p.kernel.exit(0);
            let outside = {
                let p = p.clone();
                thread::spawn(move || p.outside_reap(10))
            };
            let spawner = {
                let p = p.clone();
                thread::spawn(move || p.spawn(&[10, 11]))
            };
            let end = p.child_wait(&a);
            let outside = outside.join().unwrap();
            let b = spawner.join().unwrap();
            match end {
                // Then the outside reap found no pid 10, or B running.
                End::Reaped(s) => {
                    assert_eq!(s, status_of(0));
                    assert!(!matches!(outside, Ok(Some(_))), "{outside:?}");
                }
                End::Lost => assert_eq!(outside.unwrap(), Some(status_of(0))),
            }
            p.kernel.exit(1);
            let got = p.wait_any_child(false).unwrap();
            assert_eq!(got, Some((b.pid, status_of(1))));
            assert_eq!(b.end(), Some(End::Reaped(status_of(1))));
            p.assert_nothing_left();
        });
    }

    /// A's handle waits while an any-child wait reaps A (or B) and a
    /// spawn takes pid 10 again for B, whose program exits at once.
    /// Each handle ends with its own status: A's late reap never takes
    /// B's, with pidfds or (reaping by pid) without.
    fn pid_reuse_after_a_procctl_reap(pidfd: bool) {
        model(move || {
            let p = Proc::new();
            let a = p.spawn_with(&[10], pidfd, false);
            p.kernel.exit(0);
            let any = {
                let p = p.clone();
                thread::spawn(move || p.wait_any_child(false))
            };
            let spawner = {
                let p = p.clone();
                thread::spawn(move || p.spawn_with(&[10, 11], pidfd, true))
            };
            assert_eq!(p.child_wait(&a), End::Reaped(status_of(0)));
            let b = spawner.join().unwrap();
            match any.join().unwrap() {
                Ok(Some((10, s))) if s == status_of(0) => {}
                Ok(got) => assert_eq!(got, Some((b.pid, status_of(1)))),
                // It looked at A, lost it to A's handle, and looked again
                // before B existed.
                Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ECHILD)),
            }
            assert_eq!(p.child_wait(&b), End::Reaped(status_of(1)));
            p.assert_nothing_left();
        });
    }

    #[test]
    fn handoff_pid_reuse_after_a_procctl_reap() {
        pid_reuse_after_a_procctl_reap(true);
    }

    #[test]
    fn handoff_pid_reuse_after_a_procctl_reap_without_pidfds() {
        pid_reuse_after_a_procctl_reap(false);
    }

    #[test]
    fn handoff_outside_reap_never_hands_a_strangers_status() {
        // Code outside procctl reaps A (pid 10), starts a process of its
        // own, which takes pid 10 and exits, and reaps it, while A's
        // handle and an any-child wait run. A's handle ends with A's
        // status or `Lost`, never the stranger's; the any-child wait
        // gets A's status (then A's handle has it too) or the
        // stranger's (which any-child waits may take), and leaves no
        // entry behind.
        model(|| {
            let p = Proc::new();
            let a = p.spawn(&[10]);
            p.kernel.exit(0);
            let outside = {
                let p = p.clone();
                thread::spawn(move || {
                    let got = p.outside_reap(10);
                    let (pid, stranger) = p.kernel.start(&[10, 11]);
                    p.kernel.exit(stranger);
                    (got, p.outside_reap(pid))
                })
            };
            let any = {
                let p = p.clone();
                thread::spawn(move || p.wait_any_child(false))
            };
            let end = p.child_wait(&a);
            let (outside, stranger) = outside.join().unwrap();
            let any = any.join().unwrap();
            // A's status went to exactly one reaper: the outside code, or
            // procctl (and then to A's handle).
            match end {
                End::Reaped(s) => {
                    assert_eq!(s, status_of(0));
                    assert!(is_echild(&outside));
                }
                End::Lost => assert_eq!(outside.unwrap(), Some(status_of(0))),
            }
            match any {
                Ok(Some((10, s))) if s == status_of(0) => assert_eq!(end, End::Reaped(s)),
                Ok(Some((_, s))) => {
                    assert_eq!(s, status_of(1));
                    assert!(is_echild(&stranger));
                }
                Ok(None) => panic!("no exited child, with one still running"),
                // No child at that moment: A reaped, the stranger not
                // started yet, or reaped by the outside code.
                Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ECHILD)),
            }
            if !is_echild(&stranger) {
                assert_eq!(stranger.unwrap(), Some(status_of(1)));
            }
            assert_eq!(a.end(), Some(end));
            assert_eq!(p.kernel.state(1), State::Reaped);
            p.assert_nothing_left();
        });
    }

    #[test]
    fn handoff_orphan_is_reaped_once_and_forgotten() {
        // A's handle is dropped unwaited while A exits and an any-child
        // wait runs: A is reaped once (by the drop, or by the wait, as a
        // live child or as an orphan), and leaves no entry behind.
        model(|| {
            let p = Proc::new();
            let a = p.spawn(&[10]);
            let dropper = {
                let p = p.clone();
                thread::spawn(move || p.drop_child(a))
            };
            let any = {
                let p = p.clone();
                thread::spawn(move || p.wait_any_child(false))
            };
            p.kernel.exit(0);
            dropper.join().unwrap();
            match any.join().unwrap() {
                Ok(got) => assert_eq!(got, Some((10, status_of(0)))),
                // The drop reaped it between the wait's look and its reap.
                Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ECHILD)),
            }
            assert_eq!(p.kernel.state(0), State::Reaped);
            p.assert_nothing_left();
        });
    }

    #[test]
    fn handoff_orphan_drain_leaves_a_strangers_status() {
        // A is parked as an orphan; code outside procctl reaps it once it
        // exits, and starts a process of its own, which takes pid 10 and
        // exits, while procctl drains its orphans. The drain forgets A
        // and leaves the stranger's status to the code that started it.
        model(|| {
            let p = Proc::new();
            let a = p.spawn(&[10]);
            p.drop_child(a);
            let outside = {
                let p = p.clone();
                thread::spawn(move || {
                    p.kernel.exit(0);
                    let _ = p.outside_reap(10);
                    let (pid, stranger) = p.kernel.start(&[10, 11]);
                    p.kernel.exit(stranger);
                    (pid, stranger)
                })
            };
            p.drain_orphans();
            let (pid, stranger) = outside.join().unwrap();
            p.drain_orphans();
            assert_eq!(p.outside_reap(pid).unwrap(), Some(status_of(stranger)));
            p.assert_nothing_left();
        });
    }

    #[test]
    fn handoff_drop_after_outside_reap_and_pid_reuse() {
        // A runs when its handle is dropped; meanwhile code outside
        // procctl reaps it once it exits, and procctl spawns B, which
        // takes pid 10 again. The drop neither removes B's entry nor
        // parks A over it, B's registration removes A's orphan entry
        // with its count, and B's status reaches B's handle.
        model(|| {
            let p = Proc::new();
            let a = p.spawn(&[10]);
            let other = {
                let p = p.clone();
                thread::spawn(move || {
                    p.kernel.exit(0);
                    let _ = p.outside_reap(10);
                    p.spawn(&[10, 11])
                })
            };
            p.drop_child(a);
            let b = other.join().unwrap();
            assert_eq!(b.pid, 10);
            p.kernel.exit(1);
            assert_eq!(p.wait_any_child(false).unwrap(), Some((10, status_of(1))));
            assert_eq!(b.end(), Some(End::Reaped(status_of(1))));
            p.assert_nothing_left();
        });
    }
}
