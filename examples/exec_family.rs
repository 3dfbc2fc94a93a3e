//! The `os.exec*` family: replace a (forked) process's program.
//!
//! `execv` takes a path, `execvp` searches `PATH`, `execve`/`execvpe` set
//! the environment exactly. They return only on failure, with an error that
//! names the program.
//!
//! Run: `cargo run --example exec_family`

#[cfg(unix)]
fn main() -> procctl::Result<()> {
    use procctl::proc::{execv, execve, execvp, fork};

    // Each exec runs in a forked child, so this program carries on.
    let run = |label: &str, f: fn() -> procctl::Error| -> procctl::Result<()> {
        println!("--- {label}");
        let child = fork(move || {
            let err = f();
            eprintln!("exec failed: {err}");
            127
        })?;
        println!("    -> {}", child.wait()?);
        Ok(())
    };

    run(
        "execv(\"/bin/echo\", [\"echo\", \"hello from execv\"])",
        || execv("/bin/echo", &["echo", "hello from execv"]),
    )?;
    run("execvp(\"sh\", ...) searches PATH", || {
        execvp("sh", &["sh", "-c", "echo hello from $0 via PATH"])
    })?;
    run("execve with exactly two variables", || {
        execve("/usr/bin/env", &["env"], &["GREETING=hi", "LANG=C"])
    })?;
    run("execvp of a program that does not exist", || {
        execvp("no-such-program", &["no-such-program"])
    })?;

    // Most programs want fork + exec + wait in one step: Command does it
    // without forking (clone3/vfork on Linux), with the same PATH rules.
    println!("--- the same with Command: no fork by hand, output captured");
    let out = procctl::proc::Command::new("sh")
        .args(["-c", "echo hello from $0 via Command"])
        .output()?;
    print!("    {}", String::from_utf8_lossy(&out.stdout));
    println!("    -> {}", out.status);
    let err = procctl::proc::Command::new("no-such-program")
        .status()
        .unwrap_err();
    println!(
        "    missing program -> {err} (step: {:?})",
        err.spawn_step()
    );

    // Errors come back before anything is forked when the input is bad.
    let err = execv("/bin/echo", &["echo", "nul\0byte"]);
    println!("--- bad input, caught in this process: {err}");
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    println!("the exec family is Unix only");
}
