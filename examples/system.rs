//! `os.system`: run shell commands and look at how they ended.
//!
//! `cargo run --example system`

#[cfg(unix)]
use procctl::proc::{Command, system};

#[cfg(unix)]
fn main() -> procctl::Result<()> {
    println!("system(cmd) runs `/bin/sh -c cmd` and waits, like Python's os.system.\n");

    for cmd in [
        "echo hello from the shell",
        "exit 3",
        "kill -9 $$",
        "no-such-command-anywhere 2>/dev/null",
    ] {
        let status = system(cmd)?;
        // `exit_code` is Python's os.waitstatus_to_exitcode: the code, or
        // minus the signal number.
        println!(
            "  system({cmd:?})\n    -> {status} (exit_code() = {})",
            status.exit_code()
        );
    }

    println!("\nWhile the command runs we ignore SIGINT (Ctrl+C stops the command, not us):");
    let status =
        system("kill -INT $PPID; echo '  the command sent SIGINT to its parent, which lives on'")?;
    println!("    -> {status}");

    println!("\nWhen no shell is needed, run the program directly with Command:");
    let status = Command::new("false").status()?;
    println!("  Command::new(\"false\").status() -> {status}");
    Ok(())
}

/// Windows: the same calls, through `cmd.exe /C`. There are no signals, so
/// a status is always an exit code.
#[cfg(not(unix))]
fn main() -> procctl::Result<()> {
    use procctl::proc::{Command, system};

    println!("system(cmd) runs `cmd.exe /C cmd` and waits, like Python's os.system.\n");
    for cmd in [
        "echo hello from the shell",
        "exit 3",
        "no-such-command-anywhere 2>NUL",
    ] {
        let status = system(cmd)?;
        println!(
            "  system({cmd:?})\n    -> {status} (exit_code() = {})",
            status.exit_code()
        );
    }

    println!("\nWhen no shell is needed, run the program directly with Command:");
    let status = Command::new("cmd.exe").args(["/C", "exit 1"]).status()?;
    println!("  Command::new(\"cmd.exe\").args([\"/C\", \"exit 1\"]).status() -> {status}");
    Ok(())
}
