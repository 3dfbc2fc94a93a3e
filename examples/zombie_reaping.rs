//! Zombies, and how they go away.
//!
//! A child that has exited stays in the process table as a zombie (state
//! `Z`) until its parent collects its status. This example makes a few,
//! shows them in the table, reaps them, and shows the table clean; then it
//! drops children without waiting and lets procctl reap them.
//!
//! Run: `cargo run --example zombie_reaping`

#[cfg(target_os = "linux")]
fn main() -> procctl::Result<()> {
    use procctl::reap::{reap_zombies, zombie_children};
    use std::time::{Duration, Instant};

    let wait_for_zombies = |n: usize| -> procctl::Result<Vec<procctl::Pid>> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let z = zombie_children()?;
            if z.len() >= n || Instant::now() > deadline {
                return Ok(z);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    };

    println!("1. five children exit at once; nobody waits for them yet");
    let children: Vec<_> = (0..5)
        .map(|i| procctl::proc::fork(move || i))
        .collect::<Result<_, _>>()?;
    let zombies = wait_for_zombies(5)?;
    println!("   zombies in the process table: {zombies:?}");
    for pid in &zombies {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        println!(
            "   /proc/{pid}/stat: {}",
            stat.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }

    println!("2. reap_zombies() collects them (waitpid(-1, WNOHANG) in a loop)");
    for (pid, status) in reap_zombies()? {
        println!("   reaped {pid}: {status}");
    }
    println!("   zombies now: {:?}", zombie_children()?);
    for child in &children {
        // The handles were told: their wait() returns at once.
        assert!(child.try_wait()?.is_some());
    }
    drop(children);

    println!("3. handles dropped without waiting: procctl parks them and reaps them");
    for _ in 0..5 {
        let _ = procctl::proc::fork(|| 0)?; // dropped at once
    }
    // Each fork drained the children dropped before it: at most the last
    // one is still a zombie.
    let zombies = wait_for_zombies(1)?;
    println!(
        "   zombies right after the drops: {zombies:?} (each fork reaped those that had exited by then)"
    );
    // The next procctl call (here a fork) drains the orphan list first.
    let child = procctl::proc::fork(|| 0)?;
    child.wait()?;
    println!(
        "   after the next fork + wait: {:?} (no thread was started: {:?} thread)",
        zombie_children()?,
        procctl::proc::thread_count()
    );
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("this example reads /proc, which is Linux's");
}
