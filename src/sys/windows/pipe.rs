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

#[link(name = "kernel32")]
unsafe extern "system" {
    fn PeekNamedPipe(
        pipe: *mut std::ffi::c_void,
        buf: *mut std::ffi::c_void,
        size: u32,
        read: *mut u32,
        avail: *mut u32,
        left: *mut u32,
    ) -> i32;
}

/// `true` once `h` (a pipe's read end) has data or its writers are gone,
/// `false` when `timeout` passes first. Windows cannot wait on an anonymous
/// pipe, so this checks with `PeekNamedPipe` at growing intervals (1 ms up
/// to 20 ms).
pub(crate) fn poll_readable(h: Handle<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    use std::os::windows::io::AsRawHandle;
    use std::time::Instant;

    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut backoff = Duration::from_millis(1);
    loop {
        let mut avail = 0u32;
        // SAFETY: the handle is borrowed for the call; no buffer is read
        // into (null, size 0); `avail` is a live u32.
        let ok = unsafe {
            PeekNamedPipe(
                h.as_raw_handle(),
                std::ptr::null_mut(),
                0,
                std::ptr::null_mut(),
                &mut avail,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            let e = io::Error::last_os_error();
            // ERROR_BROKEN_PIPE: no writer left, a read returns 0 at once.
            return if e.raw_os_error() == Some(109) {
                Ok(true)
            } else {
                Err(e)
            };
        }
        if avail > 0 {
            return Ok(true);
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Ok(false);
        }
        std::thread::sleep(left.map_or(backoff, |l| l.min(backoff)));
        backoff = (backoff * 2).min(Duration::from_millis(20));
    }
}
