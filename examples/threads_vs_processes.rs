//! Processes have their own memory, threads share one: the same task, run
//! with `spawn_task`, changes a global counter. On Unix the task is a forked
//! process and the parent's counter stays as it was; on Windows, which has
//! no `fork`, it is a thread and the parent sees the change. Either way the
//! task's result comes back as an exit status, and a panic is exit code 101.
//!
//! Run: `cargo run --example threads_vs_processes`
//! (for Windows under Wine, see `.ci/wine-env.sh`)

use std::sync::atomic::{AtomicU32, Ordering};

use procctl::Pid;
use procctl::proc::spawn_task;

/// The counter every task increments.
static COUNTER: AtomicU32 = AtomicU32::new(10);

/// The task: bump the counter and report what it saw, as its exit code.
fn bump() -> i32 {
    let now = COUNTER.fetch_add(1, Ordering::SeqCst) + 1;
    println!("  task ({}): counter is now {now}", Pid::current());
    now as i32
}

fn main() -> procctl::Result<()> {
    println!(
        "parent ({}): counter = {}",
        Pid::current(),
        COUNTER.load(Ordering::SeqCst)
    );

    let task = spawn_task(bump)?;
    let kind = if task.is_process() {
        "a child process (separate memory)"
    } else {
        "a thread (shared memory)"
    };
    println!("started {} as {kind}", task.id());
    let status = task.wait()?;
    let after = COUNTER.load(Ordering::SeqCst);
    println!("task ended: {status}");
    println!("parent: counter = {after}");
    assert_eq!(status.code(), Some(11), "the task saw the parent's value");
    if task.is_process() {
        assert_eq!(after, 10, "a process cannot change its parent's memory");
        println!("-> unchanged: the task wrote to its own copy");
    } else {
        assert_eq!(after, 11, "a thread shares the program's memory");
        println!("-> changed: the task wrote to the program's memory");
    }

    // A panic is exit code 101 on both platforms; the parent carries on.
    println!("a task that panics (its message follows):");
    let crash = spawn_task(|| panic!("this task panics on purpose"))?;
    let status = crash.wait()?;
    println!("panicking task ended: {status}");
    assert_eq!(status, procctl::ExitStatus::Exited(101));
    Ok(())
}
