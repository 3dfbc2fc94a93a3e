//! Pipelines: `cmd1 | cmd2 | cmd3` without a shell, every member's status
//! (bash's `PIPESTATUS`) and the `pipefail` rules.
//!
//! `cargo run --example pipeline`

use procctl::proc::{Command, Pipeline};

#[cfg(unix)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use procctl::proc::Stdio;

    println!("printf 'b\\na\\nc\\n' | sort | head -2: three programs, two pipes procctl made.");
    let mut p = Command::new("printf")
        .arg("b\\na\\nc\\n")
        .pipe(Command::new("sort"))
        .pipe(Command::new("head").arg("-2"));
    let out = p.output()?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    println!("  PIPESTATUS: {}\n", out.status);
    assert_eq!(out.stdout, b"a\nb\n");

    println!("The members share one new process group, led by the first:");
    let child = Pipeline::new([
        Command::from(Command::new("sleep").arg("5")),
        Command::new("cat"),
    ])
    .stdout(Stdio::null())
    .spawn()?;
    for (k, m) in child.members().iter().enumerate() {
        println!(
            "  member {k}: pid {}, group {:?}",
            m.pid(),
            procctl::proc::getpgid(Some(m.pid()))?.map(|g| g.as_raw())
        );
    }
    child.kill()?; // one killpg for the whole group
    println!("  killed: PIPESTATUS {}\n", child.wait()?);

    println!("yes | head -1: head exits after one line, yes dies of SIGPIPE.");
    let status = Command::new("yes")
        .pipe(Command::new("head").arg("-1"))
        .stdout(Stdio::null())
        .status()?;
    println!("  PIPESTATUS: {status}");
    println!("  last (a shell's $?):           {}", status.last());
    println!("  pipefail:                      {}", status.pipefail());
    println!(
        "  pipefail_ignoring_sigpipe:     {}",
        status.pipefail_ignoring_sigpipe()
    );
    assert!(!status.pipefail().success());
    assert!(status.pipefail_ignoring_sigpipe().success());

    println!("\nA member's background job holds stdout: wait_delay bounds the wait for EOF.");
    let child = Command::new("echo")
        .arg("done")
        .pipe(Command::new("sh").args(["-c", "cat; sleep 30 &"]))
        .stdout(Stdio::piped())
        .wait_delay(std::time::Duration::from_millis(100))
        .spawn()?;
    let out = child.communicate(b"")?;
    print!("  {}", String::from_utf8_lossy(&out.stdout));
    if let Some(held) = out.pipes_held_open() {
        println!("  cut after 100 ms: {held}");
    }
    child.kill()?; // members reaped; the group's sleep still gets it (Linux 6.9+)

    println!("\nA member that cannot start: the error names it; the others are killed and reaped.");
    let err = Command::new("yes")
        .pipe(Command::new("no-such-program"))
        .spawn()
        .unwrap_err();
    println!("  {err}: {}", std::error::Error::source(&err).unwrap());
    Ok(())
}

#[cfg(windows)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    // No printf, sort or yes to count on: cmd.exe builtins and `more`.
    println!("cmd /C echo ... | more | more: two pipes procctl made.");
    let out = Pipeline::new([
        Command::from(Command::new("cmd.exe").args(["/C", "echo b& echo a& echo c"])),
        Command::from(Command::new("cmd.exe").args(["/C", "more"])),
        Command::from(Command::new("cmd.exe").args(["/C", "more"])),
    ])
    .output()?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    println!("  PIPESTATUS: {}", out.status);
    println!("(No SIGPIPE on Windows: pipefail_ignoring_sigpipe is pipefail there.)");
    Ok(())
}
