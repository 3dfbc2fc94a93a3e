//! A one-way pipe between a parent and a child: Python's
//! `r, w = os.pipe(); pid = os.fork()` done with procctl.
//!
//! The parent opens the pipe and forks. The child reads lines and prints
//! them; the parent writes them. Each side closes the end it does not use:
//! the child must close its copy of the write end, or it would wait for ever
//! for an EOF that its own open write end prevents. The child sees EOF when
//! the parent closes the last write end.
//!
//! Run with `cargo run --example pipe_ipc`.

#![cfg_attr(not(unix), allow(unused_imports))]

use std::io::{BufRead, BufReader, Write};

use procctl::{Pid, pipe, proc};

#[cfg(unix)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (reader, writer) = pipe::pipe()?;
    // After fork both processes have both ends; each takes out the one it
    // uses and drops (closes) the other.
    let (mut reader, mut writer) = (Some(reader), Some(writer));

    let child = proc::fork(|| {
        drop(writer.take()); // the child only reads
        let reader = BufReader::new(reader.take().expect("read end"));
        let mut count = 0;
        for line in reader.lines() {
            let line = line.expect("read from the pipe");
            println!("child  {}: read {line:?}", Pid::current());
            count += 1;
        }
        println!(
            "child  {}: EOF after {count} lines: every write end is closed",
            Pid::current()
        );
        0
    })?;

    drop(reader.take()); // the parent only writes
    let mut writer = writer.take().expect("write end");
    for i in 1..=3 {
        writeln!(writer, "message {i} from parent {}", Pid::current())?;
    }
    println!(
        "parent {}: wrote 3 lines, closing the write end",
        Pid::current()
    );
    drop(writer); // the child's read loop ends here

    let status = child.wait()?;
    println!(
        "parent {}: child {} ended with {status}",
        Pid::current(),
        child.pid()
    );
    assert!(status.success());
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    println!("this example forks: Unix only");
}
