//! Pipes on Windows: std's anonymous pipes work; the extras report
//! `Unsupported`. Same crate-private interface as `unix/pipe.rs`.

use std::io;
use std::os::windows::io::BorrowedHandle;
use std::time::Duration;

/// The handle type the pipe helpers take.
pub(crate) type Handle<'a> = BorrowedHandle<'a>;

pub(crate) fn set_nonblocking(_h: Handle<'_>, _on: bool) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

pub(crate) fn capacity(_h: Handle<'_>) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

pub(crate) fn set_capacity(_h: Handle<'_>, _bytes: usize) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

pub(crate) fn poll_readable(_h: Handle<'_>, _timeout: Option<Duration>) -> io::Result<bool> {
    Err(io::ErrorKind::Unsupported.into())
}
