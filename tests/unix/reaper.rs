//! The background reaper threads. Their own binary (`harness = false`, run
//! in order): once a reaper runs the process is multi-threaded for good,
//! and `ReapMode::All` reaps every child of the process.
//! (Unix only; `tests/reaper.rs` includes this file.)

use std::time::{Duration, Instant};

use crate::support::{self, eventually, fd_count};
use procctl::ExitStatus;
use procctl::proc::{Child, fork_unchecked};
use procctl::reap::{ReapMode, start_reaper, zombie_children};

pub fn main() {
    support::run(&[
        (
            "orphans_parked_before_the_reaper_starts_are_reaped_by_it",
            orphans_parked_before_the_reaper_starts_are_reaped_by_it,
        ),
        (
            "owned_reaps_dropped_children_within_1s",
            owned_reaps_dropped_children_within_1s,
        ),
        (
            "a_forked_child_starts_its_own_reaper",
            a_forked_child_starts_its_own_reaper,
        ),
        (
            "owned_leaves_std_children_alone",
            owned_leaves_std_children_alone,
        ),
        (
            "owned_fd_and_memory_stable_over_bursts",
            owned_fd_and_memory_stable_over_bursts,
        ),
        (
            "stress_4_threads_2500_spawns_each",
            stress_4_threads_2500_spawns_each,
        ),
        (
            "all_mode_keeps_handle_statuses",
            all_mode_keeps_handle_statuses,
        ),
        (
            "all_mode_reaps_foreign_children",
            all_mode_reaps_foreign_children,
        ),
    ]);
}

/// A child that exits at once with `code`.
fn quick(code: i32) -> Child {
    // SAFETY: the closure only calls `_exit`, which is async-signal-safe,
    // so forking from this multi-threaded process is fine.
    unsafe { fork_unchecked(move || procctl::proc::_exit(code)) }.unwrap()
}

fn burst(n: usize) -> Vec<procctl::Pid> {
    (0..n).map(|_| quick(0).pid()).collect() // each handle dropped at once
}

fn gone(pid: procctl::Pid) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Orphans dropped while no reaper ran are handed over: once the reaper
/// runs they are reaped when they exit, with no further procctl call.
fn orphans_parked_before_the_reaper_starts_are_reaped_by_it() {
    use std::os::fd::AsRawFd;
    let (r, w) = std::io::pipe().unwrap();
    let (rfd, wfd) = (r.as_raw_fd(), w.as_raw_fd());
    let pids: Vec<procctl::Pid> = (0..20)
        .map(|_| {
            // SAFETY: the child only closes, reads and calls _exit.
            unsafe {
                fork_unchecked(move || {
                    libc::close(wfd);
                    let mut b = 0u8;
                    libc::read(rfd, (&mut b as *mut u8).cast(), 1);
                    procctl::proc::_exit(0)
                })
            }
            .unwrap()
            .pid() // dropped while running: parked
        })
        .collect();
    assert_eq!(procctl::reap::pending_orphans(), 20);
    start_reaper(ReapMode::Owned).unwrap();
    drop((r, w)); // they all exit now
    let t = Instant::now();
    eventually("the 20 parked orphans reaped", || {
        pids.iter().all(|&p| gone(p))
    });
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(procctl::reap::pending_orphans(), 0);
}

fn owned_reaps_dropped_children_within_1s() {
    start_reaper(ReapMode::Owned).unwrap();
    start_reaper(ReapMode::Owned).unwrap(); // idempotent
    let fds = fd_count();
    let pids = burst(1000);
    let t = Instant::now();
    eventually("all 1000 children reaped", || pids.iter().all(|&p| gone(p)));
    // Exit is immediate; reaping must follow within a second.
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(zombie_children().unwrap(), vec![]);
    assert_eq!(fd_count(), fds, "pidfds leaked");
}

/// The reaper thread does not exist in a forked child, whatever the
/// copied bookkeeping says: `start_reaper` there starts one, and it
/// reaps the child's own dropped children.
fn a_forked_child_starts_its_own_reaper() {
    start_reaper(ReapMode::Owned).unwrap();
    // SAFETY: the child starts a thread and forks; glibc resets its
    // allocator and thread bookkeeping in the child of a fork, and the
    // reaper thread holds none of procctl's locks while asleep.
    let child = unsafe {
        fork_unchecked(|| {
            support::arm_alarm();
            if start_reaper(ReapMode::Owned).is_err() || procctl::proc::thread_count() != Some(2) {
                return 2;
            }
            let pid = quick(0).pid();
            let deadline = Instant::now() + Duration::from_secs(5);
            while !gone(pid) {
                if Instant::now() > deadline {
                    return 3;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            0
        })
    }
    .unwrap();
    assert_eq!(support::wait10(&child), ExitStatus::Exited(0));
}

fn owned_leaves_std_children_alone() {
    let mut std_child = std::process::Command::new("sh")
        .args(["-c", "exit 7"])
        .spawn()
        .unwrap();
    // Dropped procctl children at the same time, so the reaper is busy.
    let pids = burst(50);
    eventually("procctl children reaped", || pids.iter().all(|&p| gone(p)));
    let status = std_child.wait().unwrap();
    assert_eq!(status.code(), Some(7), "the std child lost its status");
}

fn vm_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn owned_fd_and_memory_stable_over_bursts() {
    // One warm-up burst so allocator pools reach their steady size.
    let pids = burst(200);
    eventually("warm-up reaped", || pids.iter().all(|&p| gone(p)));
    let fds = fd_count();
    let rss = vm_rss_kib();
    for _ in 0..10 {
        let pids = burst(200);
        eventually("burst reaped", || pids.iter().all(|&p| gone(p)));
        assert_eq!(fd_count(), fds, "fd count grew");
    }
    let grown = vm_rss_kib().saturating_sub(rss);
    assert!(grown < 1024, "RSS grew by {grown} KiB over 10 bursts");
}

/// 4 threads × 2 500 spawns, each handle waited for or dropped at a
/// random point (at once, after a little work, after a try_wait): at the
/// end no zombie and no descriptor is left.
fn stress_4_threads_2500_spawns_each() {
    let fds = fd_count();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            s.spawn(move || {
                let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ t;
                let mut next = || {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed % 4
                };
                let mut kept = Vec::new();
                for _ in 0..2500 {
                    let child = procctl::proc::Command::new("true").spawn().unwrap();
                    match next() {
                        0 => drop(child),
                        1 => {
                            let _ = child.try_wait().unwrap();
                            drop(child);
                        }
                        2 => assert!(child.wait().unwrap().success()),
                        _ => kept.push(child), // dropped later, in a batch
                    }
                    if kept.len() > 16 {
                        kept.clear();
                    }
                }
            });
        }
    });
    eventually("every dropped child reaped", || {
        procctl::reap::pending_orphans() == 0
    });
    assert_eq!(zombie_children().unwrap(), vec![]);
    assert_eq!(fd_count(), fds, "descriptors leaked");
}

fn all_mode_keeps_handle_statuses() {
    start_reaper(ReapMode::All).unwrap();
    let kids: Vec<Child> = (0..20).map(quick).collect();
    // Let the init-mode reaper collect them first.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(zombie_children().unwrap(), vec![]);
    for (i, kid) in kids.iter().enumerate() {
        let status = kid.wait_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(
            status,
            Some(ExitStatus::Exited(i as i32)),
            "handle {i} lost its status"
        );
    }
}

fn all_mode_reaps_foreign_children() {
    // A child started by std, never waited by anyone but the init reaper.
    let child = std::process::Command::new("true").spawn().unwrap();
    let pid = procctl::Pid::from_raw(child.id() as i32).unwrap();
    std::mem::forget(child);
    eventually("foreign child reaped by init mode", || gone(pid));
}
