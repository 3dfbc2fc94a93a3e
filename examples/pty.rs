//! A program on a pseudo-terminal: what `pty.spawn` and `expect` do.
//!
//! `sh` runs on a pty made with `procctl::pty::open`: it sees a terminal
//! (`tty` names it, `stty size` reads its window size), reads a line we
//! type into the master, and after we resize the window it sees the new
//! size. Every read has a deadline, so the example cannot hang.
//!
//! Run with `cargo run --example pty`.

#[cfg(unix)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::io::Write;
    use std::time::{Duration, Instant};

    use procctl::proc::Command;
    use procctl::pty;

    /// Reads until `needle` has come (or the end), at most 5 s.
    fn read_until(master: &pty::PtyMaster, seen: &mut Vec<u8>, needle: Option<&str>) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 1024];
        while needle.is_none_or(|n| !String::from_utf8_lossy(seen).contains(n)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match master.read_timeout(&mut buf, left) {
                Ok(Some(0)) => return, // every slave descriptor closed
                Ok(Some(n)) => seen.extend_from_slice(&buf[..n]),
                Ok(None) => panic!("nothing within 5 s: {:?}", String::from_utf8_lossy(seen)),
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    fn show(bytes: &[u8]) {
        // The terminal ends lines with \r\n.
        for line in String::from_utf8_lossy(bytes).lines() {
            println!("  | {}", line.trim_end_matches('\r'));
        }
    }

    let (mut master, slave) = pty::open()?;
    master.resize(24, 80)?;
    println!("opened {} (24 x 80)", slave.path().display());
    let child = Command::new("sh")
        .args(["-c", "tty; stty size; read x; echo \"got $x\"; stty size"])
        .pty(&slave)
        .spawn()?;
    // The child has its own copies: ours would keep the master from
    // ever seeing the end.
    drop(slave);

    let mut seen = Vec::new();
    read_until(&master, &mut seen, Some("24 80"));
    show(&seen);

    println!("resize to 30 x 100, then type \"hello\"");
    master.resize(30, 100)?;
    master.write_all(b"hello\n")?;
    let mut rest = Vec::new();
    read_until(&master, &mut rest, None);
    show(&rest); // the terminal's echo of "hello", then the shell's lines

    let status = match child.wait_timeout(Duration::from_secs(5))? {
        Some(status) => status,
        None => {
            child.kill()?;
            child.wait()?
        }
    };
    println!("sh: {status}");
    assert!(status.success());
    assert!(String::from_utf8_lossy(&rest).contains("got hello\r\n30 100\r\n"));
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    println!("procctl::pty is Unix-only (Windows has ConPTY, not wrapped here)");
}
