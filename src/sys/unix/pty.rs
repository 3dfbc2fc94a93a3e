//! Pseudo-terminals: the raw calls behind `procctl::pty`.
//!
//! `posix_openpt` + `grantpt` + `unlockpt` make the master; the slave is
//! opened through `ioctl(TIOCGPTPEER)` on Linux (no path lookup, so no
//! race with another `/dev/pts` mounted over ours) and by the name
//! `ptsname_r` gives elsewhere. Both ends are close-on-exec and opened
//! with `O_NOCTTY`, so opening them never makes the pty our own
//! controlling terminal.

use std::ffi::{CStr, OsStr, c_char};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::cvt;

/// A new pty: the master, the slave, and the slave's path; on failure the
/// name of the call that failed and its error.
pub(crate) fn open() -> Result<(File, File, PathBuf), (&'static str, io::Error)> {
    let master = open_master().map_err(|e| ("posix_openpt", e))?;
    let fd = master.as_raw_fd();
    // SAFETY: grantpt and unlockpt take a master descriptor we own.
    cvt(unsafe { libc::grantpt(fd) }).map_err(|e| ("grantpt", e))?;
    // SAFETY: as above.
    cvt(unsafe { libc::unlockpt(fd) }).map_err(|e| ("unlockpt", e))?;
    let path = slave_name(fd).map_err(|e| ("ptsname", e))?;
    let slave = open_slave(fd, &path).map_err(|e| ("open pty slave", e))?;
    Ok((master, slave, path))
}

fn open_master() -> io::Result<File> {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // macOS' posix_openpt refuses O_CLOEXEC: set right after (a fork in
    // another thread in between would inherit it).
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    let flags = libc::O_RDWR | libc::O_NOCTTY;
    // SAFETY: posix_openpt takes flags and returns a new descriptor or -1.
    let fd = cvt(unsafe { libc::posix_openpt(flags) })?;
    // SAFETY: fd is a new descriptor that nothing else owns.
    let master = unsafe { File::from_raw_fd(fd) };
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    set_cloexec(fd)?;
    Ok(master)
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_SETFD on a descriptor we own.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) }).map(drop)
}

/// The slave's path (`/dev/pts/N`, `/dev/ttysNNN`).
fn slave_name(fd: RawFd) -> io::Result<PathBuf> {
    let mut buf = [0 as c_char; 128];
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    {
        // SAFETY: ptsname_r writes a NUL-terminated name of at most
        // buf.len() bytes into buf.
        let err = unsafe { libc::ptsname_r(fd, buf.as_mut_ptr(), buf.len()) };
        if err != 0 {
            // glibc returns the errno; others return -1 and set it.
            return Err(if err > 0 {
                io::Error::from_raw_os_error(err)
            } else {
                io::Error::last_os_error()
            });
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        // No ptsname_r here: ptsname's static buffer, copied under a lock
        // of ours (calls from outside procctl are not covered).
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: ptsname returns NULL or a NUL-terminated static string,
        // valid until the next ptsname call, which our lock holds off.
        let name = unsafe { libc::ptsname(fd) };
        if name.is_null() {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above; copied before the lock is released.
        let bytes = unsafe { CStr::from_ptr(name) }.to_bytes_with_nul();
        if bytes.len() > buf.len() {
            return Err(io::Error::from_raw_os_error(libc::ERANGE));
        }
        for (dst, &src) in buf.iter_mut().zip(bytes) {
            *dst = src as c_char;
        }
    }
    // SAFETY: buf holds a NUL-terminated string (written above).
    let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
    Ok(PathBuf::from(OsStr::from_bytes(name.to_bytes())))
}

fn open_slave(master: RawFd, path: &std::path::Path) -> io::Result<File> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: TIOCGPTPEER takes open flags and returns a new
        // descriptor for the master's own slave (Linux 4.13+).
        let fd = unsafe { libc::ioctl(master, libc::TIOCGPTPEER, flags) };
        if fd >= 0 {
            // SAFETY: a new descriptor that nothing else owns.
            return Ok(unsafe { File::from_raw_fd(fd) });
        }
        let e = io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOTTY)) {
            return Err(e);
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = master;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: open with a NUL-terminated path.
    let fd = cvt(unsafe { libc::open(path.as_ptr(), flags) })?;
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// `ioctl(fd, TIOCSWINSZ)`: sets the window size (the kernel sends
/// SIGWINCH to the foreground process group when it changes).
pub(crate) fn set_size(fd: RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize that lives across the call.
    cvt(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws as *const libc::winsize) }).map(drop)
}

/// `ioctl(fd, TIOCGWINSZ)`: rows and columns.
pub(crate) fn size(fd: RawFd) -> io::Result<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize into ws.
    cvt(unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws as *mut libc::winsize) })?;
    Ok((ws.ws_row, ws.ws_col))
}

/// `tcgetpgrp(fd)`: the foreground process group of the terminal.
pub(crate) fn foreground_group(fd: RawFd) -> io::Result<i32> {
    // SAFETY: tcgetpgrp only looks at the descriptor.
    let pgrp = unsafe { libc::tcgetpgrp(fd) };
    if pgrp < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(pgrp)
    }
}
