//! Reaping a burst of 2000 exited children: procctl's background reaper
//! (`ReapMode::Owned`, pidfds in one epoll set) against a raw
//! `waitpid(-1)` loop.
//!
//! Each iteration forks 2000 children that block on a pipe (not timed),
//! then closes the pipe so they all exit at once and times until every
//! one is reaped.
//!
//! A floor row per group reaps the same kind of children the way the
//! issue requires a reaper to (each child's pidfd in one epoll set;
//! `waitpid`, `EPOLL_CTL_DEL` and `close` per exited child) with raw calls
//! on the timing thread: no registry, no thread hop. What procctl's reaper
//! adds is its distance to that row.
//!
//! A third case splits the cost: procctl's children (each with a pidfd in
//! the parent) reaped by the raw loop. A forked child inherits every
//! descriptor of its parent, so with one pidfd per live child the k-th
//! child closes k descriptors when it exits: that, not the reaper, is most
//! of the difference to the raw baseline (whose parent holds no pidfd).

#[cfg(unix)]
mod imp {
    use std::io::Read;
    use std::os::fd::{AsRawFd, RawFd};
    use std::time::{Duration, Instant};

    use criterion::{Criterion, criterion_group};

    const N: usize = 2000;

    /// In a child: closes its copy of the write end, then blocks until every
    /// write end is closed.
    fn wait_for_go(r: &std::io::PipeReader, w: RawFd) {
        // SAFETY: closing the child's own copy of an inherited descriptor.
        unsafe { libc::close(w) };
        let _ = (&*r).read(&mut [0]);
    }

    /// Forks `N` raw children that exit when the pipe reaches EOF.
    fn raw_children(r: &std::io::PipeReader, w: RawFd) {
        raw_children_then(r, w, |_| {});
    }

    /// [`raw_children`], calling `forked(pid)` in the parent after each
    /// fork.
    fn raw_children_then(r: &std::io::PipeReader, w: RawFd, mut forked: impl FnMut(libc::pid_t)) {
        for _ in 0..N {
            // SAFETY: the child only closes a descriptor, reads from a pipe
            // and calls _exit.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                wait_for_go(r, w);
                // SAFETY: _exit is always safe to call.
                unsafe { libc::_exit(0) };
            }
            assert!(pid > 0, "fork failed");
            forked(pid);
        }
    }

    /// Reaps `N` children with a plain `waitpid(-1)` loop.
    fn raw_reap_all() {
        for _ in 0..N {
            let mut st = 0;
            // SAFETY: plain waitpid on our own children.
            let pid = unsafe { libc::waitpid(-1, &mut st, 0) };
            assert!(pid > 0);
        }
    }

    /// Waits until procctl's reaper has taken every dropped child. Sleeps,
    /// not spins: a spinning thread would take a core from the exiting
    /// children (the raw loop blocks in waitpid).
    fn reaper_done() {
        while procctl::reap::pending_orphans() > 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// One timed burst per iteration: `start` makes `N` children blocked
    /// on a pipe (not timed; what it returns lives until the burst ends),
    /// then the pipe closes and `reap` runs until all are reaped (timed).
    fn bursts<K>(
        iters: u64,
        mut start: impl FnMut(&std::io::PipeReader, RawFd) -> K,
        mut reap: impl FnMut(),
    ) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let (r, w) = std::io::pipe().unwrap();
            let keep = start(&r, w.as_raw_fd());
            drop(r);
            let t = Instant::now();
            drop(w);
            reap();
            total += t.elapsed();
            drop(keep);
        }
        total
    }

    /// `N` children forked by procctl; `keep` decides whether the handles
    /// are returned (kept) or dropped at once (handed to the reaper).
    fn procctl_children(
        r: &std::io::PipeReader,
        wfd: RawFd,
        keep: bool,
    ) -> Vec<procctl::proc::Child> {
        let mut kids = Vec::new();
        for _ in 0..N {
            // SAFETY: the child only closes a descriptor, reads from a pipe
            // and calls _exit.
            let child = unsafe {
                procctl::proc::fork_unchecked(|| {
                    wait_for_go(r, wfd);
                    procctl::proc::_exit(0)
                })
            }
            .unwrap();
            if keep {
                kids.push(child);
            }
        }
        kids
    }

    /// The floor of the design the reaper must have, written with raw
    /// calls: every child's pidfd in one epoll set, and per exited child
    /// `waitpid` + `EPOLL_CTL_DEL` + `close`. Lower than any real reaper:
    /// it reaps on the timing thread itself (no wake-up of another thread)
    /// and keeps no registry. Linux only (pidfds).
    #[cfg(target_os = "linux")]
    struct PidfdSet {
        epoll: RawFd,
        n: usize,
    }

    #[cfg(target_os = "linux")]
    impl PidfdSet {
        fn new() -> PidfdSet {
            // SAFETY: creates a new epoll descriptor, owned by the set.
            let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            assert!(epoll >= 0, "epoll_create1");
            PidfdSet { epoll, n: 0 }
        }

        /// Opens `pid`'s pidfd and adds it, with the pid, to the set.
        fn watch(&mut self, pid: libc::pid_t) {
            // SAFETY: pidfd_open of our own child; returns a new fd or -1.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
            assert!(fd >= 0, "pidfd_open");
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: (pid as u64) << 32 | fd as u32 as u64,
            };
            // SAFETY: a valid epoll fd, a valid pidfd and event.
            let ret = unsafe { libc::epoll_ctl(self.epoll, libc::EPOLL_CTL_ADD, fd, &mut ev) };
            assert_eq!(ret, 0, "epoll_ctl");
            self.n += 1;
        }

        /// Reaps every watched child as the set reports it.
        fn reap_all(&mut self) {
            let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
            while self.n > 0 {
                // SAFETY: events is a writable array of 64 entries.
                let k = unsafe { libc::epoll_wait(self.epoll, events.as_mut_ptr(), 64, -1) };
                for ev in &events[..k.max(0) as usize] {
                    let (pid, fd) = ((ev.u64 >> 32) as libc::pid_t, ev.u64 as u32 as RawFd);
                    let mut st = 0;
                    // SAFETY: reaping our own exited child, then removing
                    // and closing its pidfd.
                    unsafe {
                        assert_eq!(libc::waitpid(pid, &mut st, 0), pid);
                        libc::epoll_ctl(self.epoll, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut());
                        libc::close(fd);
                    }
                    self.n -= 1;
                }
            }
        }
    }

    #[cfg(target_os = "linux")]
    impl Drop for PidfdSet {
        fn drop(&mut self) {
            // SAFETY: closing the epoll fd the set owns.
            unsafe { libc::close(self.epoll) };
        }
    }

    fn bench(c: &mut Criterion) {
        let mut g = c.benchmark_group("reap_2000_children");
        g.sample_size(10)
            .measurement_time(Duration::from_secs(20))
            .warm_up_time(Duration::from_secs(1));
        g.bench_function("raw waitpid(-1) loop", |b| {
            b.iter_custom(|iters| bursts(iters, raw_children, raw_reap_all))
        });
        g.bench_function("procctl children, raw waitpid loop", |b| {
            b.iter_custom(|iters| bursts(iters, |r, w| procctl_children(r, w, true), raw_reap_all))
        });
        #[cfg(target_os = "linux")]
        {
            let set = std::cell::RefCell::new(PidfdSet::new());
            g.bench_function("floor: raw pidfds in epoll, waitpid + DEL + close", |b| {
                b.iter_custom(|iters| {
                    bursts(
                        iters,
                        |r, w| raw_children_then(r, w, |pid| set.borrow_mut().watch(pid)),
                        || set.borrow_mut().reap_all(),
                    )
                })
            });
        }
        procctl::reap::start_reaper(procctl::reap::ReapMode::Owned).unwrap();
        g.bench_function("procctl start_reaper(Owned)", |b| {
            b.iter_custom(|iters| bursts(iters, |r, w| procctl_children(r, w, false), reaper_done))
        });
        g.finish();

        // The same burst with exec'd children (the usual case: Command, not
        // fork): a tiny static program that exits at EOF on stdin. The
        // children hold no pidfd of ours, so only the reaping differs.
        let Some(prog) = build_waiter() else { return };
        let mut g = c.benchmark_group("reap_2000_spawned_children");
        g.sample_size(10)
            .measurement_time(Duration::from_secs(10))
            .warm_up_time(Duration::from_secs(1));
        g.bench_function("std spawn, raw waitpid(-1) loop", |b| {
            let start = |r: &std::io::PipeReader, _: RawFd| {
                for _ in 0..N {
                    let child = std::process::Command::new(&prog)
                        .stdin(r.try_clone().unwrap())
                        .spawn()
                        .unwrap();
                    std::mem::forget(child); // reaped by the raw loop
                }
            };
            b.iter_custom(|iters| bursts(iters, start, raw_reap_all))
        });
        #[cfg(target_os = "linux")]
        {
            let set = std::cell::RefCell::new(PidfdSet::new());
            g.bench_function("floor: std spawn, raw pidfds in epoll", |b| {
                let start = |r: &std::io::PipeReader, _: RawFd| {
                    for _ in 0..N {
                        let child = std::process::Command::new(&prog)
                            .stdin(r.try_clone().unwrap())
                            .spawn()
                            .unwrap();
                        set.borrow_mut().watch(child.id() as libc::pid_t);
                        std::mem::forget(child); // reaped through the set
                    }
                };
                b.iter_custom(|iters| bursts(iters, start, || set.borrow_mut().reap_all()))
            });
        }
        g.bench_function("procctl spawn, kept, raw waitpid(-1) loop", |b| {
            let start = |r: &std::io::PipeReader, _: RawFd| {
                (0..N)
                    .map(|_| {
                        procctl::proc::Command::new(&prog)
                            .stdin(r.try_clone().unwrap())
                            .spawn()
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            };
            b.iter_custom(|iters| bursts(iters, start, raw_reap_all))
        });
        g.bench_function("procctl spawn, dropped, start_reaper(Owned)", |b| {
            let start = |r: &std::io::PipeReader, _: RawFd| {
                for _ in 0..N {
                    let child = procctl::proc::Command::new(&prog)
                        .stdin(r.try_clone().unwrap())
                        .spawn()
                        .unwrap();
                    drop(child); // handed to the reaper
                }
            };
            b.iter_custom(|iters| bursts(iters, start, reaper_done))
        });
        g.finish();
    }

    /// Builds a static program that reads one byte from stdin and exits:
    /// `None` (and the group is skipped) where `gcc -static` is missing.
    fn build_waiter() -> Option<std::path::PathBuf> {
        let dir = std::env::temp_dir().join(format!("procctl-bench-reap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let (src, bin) = (dir.join("waiter.c"), dir.join("waiter"));
        std::fs::write(
            &src,
            "#include <unistd.h>\nint main(void) { char c; return (int)read(0, &c, 1); }\n",
        )
        .ok()?;
        let ok = std::process::Command::new("gcc")
            .args(["-static", "-O2", "-o"])
            .arg(&bin)
            .arg(&src)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipping the spawned-children group: `gcc -static` failed or is missing");
        }
        ok.then_some(bin)
    }

    criterion_group!(benches, bench);
}

#[cfg(unix)]
criterion::criterion_main!(imp::benches);

#[cfg(not(unix))]
fn main() {
    println!("this benchmark forks: Unix only");
}
