//! The only place with raw system calls and `unsafe`: one backend per
//! platform behind one crate-private interface.

#![allow(unsafe_code)]

#[cfg(unix)]
#[path = "unix/mod.rs"]
mod imp;

#[cfg(windows)]
#[path = "windows/mod.rs"]
mod imp;

pub(crate) use imp::*;

/// Blocks until a wake pipe has bytes and empties what it can in one read:
/// the wait of a dispatcher thread woken by pipe. An error (or the pipe's
/// end) means the thread should stop.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn read_wake_pipe(pipe: &mut std::io::PipeReader) -> std::io::Result<()> {
    use std::io::{ErrorKind, Read};
    let mut buf = [0u8; 256];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Sleeps until a wake pipe has bytes or `timeout` passes (`None`: no
/// limit), then empties what one read gets: the wait of a `Signals`
/// iterator woken by pipe.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn wait_wake_pipe(
    pipe: &mut std::io::PipeReader,
    timeout: Option<std::time::Duration>,
) -> std::io::Result<()> {
    use crate::pipe::sealed::Sealed as _;
    use std::io::{ErrorKind, Read};
    if pipe::poll_readable(pipe.handle(), timeout)? {
        match pipe.read(&mut [0u8; 256]) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
