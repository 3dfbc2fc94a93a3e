//! `os.waitpid(pid, options)`: wait for one particular child, poll with
//! `NOHANG`, and see stops and continues with `UNTRACED` / `CONTINUED`.
//!
//! Run: `cargo run --example waitpid_specific`

#[cfg(unix)]
fn main() -> procctl::Result<()> {
    use procctl::Signal;
    use procctl::proc::{WaitOptions, waitpid};
    use std::time::Duration;

    let fast = procctl::proc::fork(|| 1)?;
    let slow = procctl::proc::fork(|| {
        std::thread::sleep(Duration::from_secs(30));
        2
    })?;

    // Polling: the slow child is still running.
    println!(
        "waitpid(slow, NOHANG) -> {:?}",
        waitpid(slow.pid(), WaitOptions::NOHANG)?
    );

    // Waiting for one pid ignores the others.
    let got = waitpid(fast.pid(), WaitOptions::empty())?;
    println!("waitpid(fast) -> {got:?}");

    // Stop and continue the slow one, watching each change.
    slow.signal(Signal::STOP)?;
    println!(
        "after SIGSTOP: {:?}",
        waitpid(slow.pid(), WaitOptions::UNTRACED)?
    );
    slow.signal(Signal::CONT)?;
    println!(
        "after SIGCONT: {:?}",
        waitpid(slow.pid(), WaitOptions::CONTINUED)?
    );

    // Then end it, with a deadline instead of a blind wait.
    slow.signal(Signal::TERM)?;
    match slow.wait_timeout(Duration::from_secs(5))? {
        Some(status) => println!("slow child ended: {status}"),
        None => println!("slow child still running after 5 s"),
    }
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    println!("waitpid is Unix only");
}
