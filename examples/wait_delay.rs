//! `Command::wait_delay`: a grandchild that keeps the stdout pipe open
//! cannot make us wait for it.
//!
//! `sh -c 'echo hi; sleep 600 &'` exits at once, but the background
//! `sleep` inherited its stdout: reading that pipe to end-of-file (std's
//! `output()`, Python's `communicate()`) would take ten minutes. With a
//! wait delay procctl stops reading half a second after the shell has
//! ended, returns `hi`, and says who held the pipe (Linux: pid and name,
//! from `/proc`). Then we kill that `sleep` by its pid, so nothing
//! outlives the example.
//!
//! Run with `cargo run --example wait_delay`.

#[cfg(unix)]
fn main() -> procctl::Result<()> {
    use std::time::{Duration, Instant};

    use procctl::Signal;
    use procctl::proc::{Command, Stdio};
    use procctl::signal::{kill, killpg};

    let delay = Duration::from_millis(500);
    let started = Instant::now();
    let child = Command::new("sh")
        .args(["-c", "echo hi; sleep 600 &"])
        .stdout(Stdio::piped())
        .process_group(0) // a group of its own: see the end
        .wait_delay(delay)
        .spawn()?;
    let out = child.communicate(b"")?;
    println!(
        "{} printed {:?} and {}; communicate returned after {:.2?} (delay {delay:?})",
        child.pid(),
        String::from_utf8_lossy(&out.stdout),
        out.status,
        started.elapsed(),
    );
    match out.pipes_held_open() {
        Some(held) => {
            println!("cut: {held}");
            for holder in held.all_holders() {
                println!(
                    "killing {} ({}), which held the pipe",
                    holder.pid(),
                    holder.name().to_string_lossy()
                );
                kill(holder.pid(), Signal::KILL)?;
            }
        }
        None => println!("nothing held the pipe"),
    }
    // Where no holder can be named (not Linux), the sleep is still in the
    // shell's process group: end it there. A no-op on Linux by now.
    let _ = killpg(child.pid(), Signal::KILL);
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    println!(
        "wait_delay: this example runs `sh -c 'echo hi; sleep 600 &'` and names the \
         holder through /proc; it needs a Unix shell (on Windows wait_delay works, \
         but names no holder)."
    );
}
