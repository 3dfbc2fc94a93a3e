//! `os.fork()`: one program becomes two processes.
//!
//! The parent gets a `Child` handle; the child runs the closure and its
//! return value becomes its exit code. Memory is copied, not shared: the
//! child's change to `counter` never reaches the parent.
//!
//! Run: `cargo run --example fork_basic`

#[cfg(unix)]
fn main() -> procctl::Result<()> {
    use procctl::Pid;

    let mut counter = 10;
    println!(
        "parent {}: before fork, counter = {counter}",
        Pid::current()
    );

    let child = procctl::proc::fork(|| {
        counter += 1;
        println!(
            "child  {} (parent {}): counter = {counter}",
            Pid::current(),
            Pid::parent()
        );
        0
    })?;

    let status = child.wait()?;
    println!("parent: child {} ended with {status}", child.pid());
    println!("parent: counter is still {counter} (separate memory)");
    assert_eq!(counter, 10);
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    println!("fork does not exist on this platform; see the threads_vs_processes example");
}
