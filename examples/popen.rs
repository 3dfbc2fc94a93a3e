//! `os.popen` and `popen2`: talk to a shell command through pipes.
//!
//! `cargo run --example popen`

#[cfg(unix)]
use std::io::{Read, Write};

#[cfg(unix)]
use procctl::proc::{Command, PopenMode, Stdio, popen, popen2};

#[cfg(unix)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("popen(cmd, Read): read what the command prints.");
    let mut p = popen("printf 'line %s\\n' one two three", PopenMode::Read)?;
    let mut text = String::new();
    p.read_to_string(&mut text)?;
    let status = p.close()?;
    print!("{text}");
    println!("  -> {status}\n");

    println!("popen(cmd, Write): feed the command's stdin; close() sends EOF, then waits.");
    let mut p = popen(
        "wc -l | sed 's/^ */  wc counted /; s/$/ lines/'",
        PopenMode::Write,
    )?;
    for i in 0..1000 {
        writeln!(p, "line {i}")?;
    }
    let status = p.close()?;
    println!("  -> {status}\n");

    println!("popen2(cmd) + communicate: both ends at once, no deadlock however large.");
    let input = "banana\napple\ncherry\n".repeat(50_000); // ~1 MiB
    let mut p = popen2("sort | uniq -c")?;
    let out = p.communicate(input.as_bytes())?;
    print!("{}", String::from_utf8_lossy(&out));
    println!("  -> {}\n", p.close()?);

    println!("Command + communicate: stdout and stderr separately, with the status.");
    let child = Command::new("sh")
        .args(["-c", "tr a-z A-Z; echo 'a note on stderr' >&2; exit 2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = child.communicate(b"quiet words\n")?;
    print!("  stdout: {}", String::from_utf8_lossy(&out.stdout));
    print!("  stderr: {}", String::from_utf8_lossy(&out.stderr));
    println!("  -> {}", out.status);
    Ok(())
}

/// Windows: the same calls through `cmd.exe /C`. `more` stands in for
/// `cat` (Windows has no `cat`); Wine's `more` adds a "-- More... --" line
/// per page even into a pipe, so more comes back than went in there.
#[cfg(not(unix))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::io::{Read, Write};

    use procctl::proc::{Command, PopenMode, Stdio, popen, popen2};

    println!("popen(cmd, Read): read what the command prints.");
    let mut p = popen(
        "echo line one& echo line two& echo line three",
        PopenMode::Read,
    )?;
    let mut text = String::new();
    p.read_to_string(&mut text)?;
    let status = p.close()?;
    print!("{text}");
    println!("  -> {status}\n");

    println!("popen(cmd, Write): feed the command's stdin; close() sends EOF, then waits.");
    let mut p = popen("more > NUL", PopenMode::Write)?;
    for i in 0..1000 {
        writeln!(p, "line {i}")?;
    }
    let status = p.close()?;
    println!("  -> {status}\n");

    println!("popen2(cmd) + communicate: both ends at once, no deadlock however large.");
    let input = "banana\r\napple\r\ncherry\r\n".repeat(50_000); // ~1 MiB
    let mut p = popen2("more")?;
    let out = p.communicate(input.as_bytes())?;
    println!(
        "  {} bytes in, {} bytes back (with more's page prompts)",
        input.len(),
        out.len()
    );
    println!("  -> {}\n", p.close()?);

    println!("Command + communicate: stdout and stderr separately, with the status.");
    let child = Command::new("cmd.exe")
        .args(["/C", "more& echo a note on stderr 1>&2& exit 2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = child.communicate(b"quiet words\r\n")?;
    print!("  stdout: {}", String::from_utf8_lossy(&out.stdout));
    print!("  stderr: {}", String::from_utf8_lossy(&out.stderr));
    println!("  -> {}", out.status);
    Ok(())
}
