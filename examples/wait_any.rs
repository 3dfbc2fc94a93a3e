//! `os.wait()`: start several children, collect them in the order they end.
//!
//! Run: `cargo run --example wait_any`

#[cfg(unix)]
fn main() -> procctl::Result<()> {
    use std::time::Duration;

    let mut handles = Vec::new();
    for (i, delay_ms) in [(1, 150u64), (2, 50), (3, 100)] {
        let child = procctl::proc::fork(move || {
            std::thread::sleep(Duration::from_millis(delay_ms));
            println!(
                "  child {i} (pid {}) exits with {i} after {delay_ms} ms",
                procctl::Pid::current()
            );
            i
        })?;
        handles.push(child);
    }
    println!(
        "started {} children; wait() returns whichever ends first:",
        handles.len()
    );
    for _ in 0..handles.len() {
        let (pid, status) = procctl::proc::wait()?;
        println!("wait() -> pid {pid}, {status}");
    }
    // No children left: a typed error, not -1.
    match procctl::proc::wait() {
        Err(e @ procctl::Error::NoChildren) => println!("wait() again -> error: {e}"),
        other => panic!("unexpected: {other:?}"),
    }
    // The handles still hold their statuses.
    for child in &handles {
        println!("handle {} remembers {}", child.pid(), child.wait()?);
    }
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    println!("wait() for any child is Unix only");
}
