//! Shared helpers for procctl's integration tests: a tiny runner for
//! `harness = false` binaries (which must stay single-threaded so the safe
//! `fork` works), and process-table probes.

#![allow(dead_code)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

#[cfg(unix)]
use procctl::ExitStatus;
#[cfg(unix)]
use procctl::proc::Child;

/// One test: a name and a function that panics on failure.
pub type Test = (&'static str, fn());

/// Runs `tests` one after another on the main thread, prints libtest-like
/// lines and a closing `N passed, N failed` line, and exits non-zero if any
/// failed. An argument filters tests by substring, as with libtest.
pub fn run(tests: &[Test]) {
    let filter = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let selected: Vec<_> = tests
        .iter()
        .filter(|(name, _)| filter.as_deref().is_none_or(|f| name.contains(f)))
        .collect();
    println!("\nrunning {} tests", selected.len());
    let (mut passed, mut failed) = (0, Vec::new());
    for (name, test) in selected {
        let start = Instant::now();
        let ok = catch_unwind(AssertUnwindSafe(test)).is_ok();
        // A test must leave no child behind for the next one.
        let leftovers = procctl::reap::reap_zombies().unwrap_or_default();
        let status = if ok && leftovers.is_empty() {
            "ok"
        } else {
            "FAILED"
        };
        println!("test {name} ... {status} ({:.2?})", start.elapsed());
        if !leftovers.is_empty() {
            println!("    left unreaped children: {leftovers:?}");
        }
        if ok && leftovers.is_empty() {
            passed += 1;
        } else {
            failed.push(*name);
        }
    }
    println!();
    if !failed.is_empty() {
        println!("failures:\n    {}\n", failed.join("\n    "));
    }
    let verdict = if failed.is_empty() { "ok" } else { "FAILED" };
    println!(
        "test result: {verdict}. {passed} passed; {} failed; 0 ignored; 0 measured; 0 filtered out",
        failed.len()
    );
    std::process::exit(if failed.is_empty() { 0 } else { 101 });
}

/// Waits for `child` at most 10 s; on timeout kills it and fails the test.
#[cfg(unix)]
pub fn wait10(child: &Child) -> ExitStatus {
    match child
        .wait_timeout(Duration::from_secs(10))
        .expect("wait_timeout")
    {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child {} did not finish within 10 s", child.pid());
        }
    }
}

/// Arms `alarm(10)` in a forked child so nothing outlives a broken test.
#[cfg(unix)]
pub fn arm_alarm() {
    // SAFETY: alarm only sets a timer.
    unsafe { libc::alarm(10) };
}

/// Our children that are zombies right now (Linux, from /proc; the
/// scan is `reap::zombie_children`, itself checked against forked zombies
/// in `tests/reap.rs`). Elsewhere it fails the calling test.
pub fn zombies() -> Vec<procctl::Pid> {
    procctl::reap::zombie_children().expect("read /proc")
}

/// How many descriptors this process has open.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Waits until the process is single-threaded again (a joined thread can
/// linger in /proc for a moment), failing after 5 s.
pub fn until_single_threaded() {
    let deadline = Instant::now() + Duration::from_secs(5);
    while procctl::proc::thread_count() != Some(1) {
        assert!(
            Instant::now() < deadline,
            "still {:?} threads",
            procctl::proc::thread_count()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Polls `cond` every millisecond for at most 10 s.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}
