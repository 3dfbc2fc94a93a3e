//! `os._exit(n)` versus returning: how a child ends and what the parent
//! sees. `_exit` skips destructors, `atexit` handlers and stdio flushing,
//! which is exactly right in a forked child; the parent reads `n & 0xff`.
//!
//! Run: `cargo run --example exit_child`

#[cfg(unix)]
fn main() -> procctl::Result<()> {
    use procctl::proc::{_exit, fork};

    struct Noisy;
    impl Drop for Noisy {
        fn drop(&mut self) {
            println!("    (a destructor ran)");
        }
    }

    println!("child returns 3 from the closure:");
    let child = fork(|| 3)?;
    println!("    -> {}", child.wait()?);

    println!("child calls _exit(4) with a value that has a destructor:");
    let child = fork(|| {
        let _noisy = Noisy;
        _exit(4)
    })?;
    println!("    -> {} (no destructor output above)", child.wait()?);

    println!("child calls _exit(256): only the low 8 bits reach the parent:");
    let child = fork(|| _exit(256))?;
    println!("    -> {}", child.wait()?);

    println!("child panics: exit code 101, the parent carries on:");
    let child = fork(|| panic!("something went wrong in the child"))?;
    let status = child.wait()?;
    println!("    -> {status}, exit_code() = {}", status.exit_code());

    println!("child is killed by a signal: exit_code() is minus the signal");
    let child = fork(|| {
        std::thread::sleep(std::time::Duration::from_secs(30));
        0
    })?;
    child.kill()?;
    let status = child.wait()?;
    println!("    -> {status}, exit_code() = {}", status.exit_code());
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    println!("fork and _exit are Unix only");
}
