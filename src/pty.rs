//! Pseudo-terminals: run a program on a terminal that this process drives.
//!
//! [`open`] makes a pty pair. The **slave** is the terminal the program
//! sees: give it to a [`Command`](crate::proc::Command) with
//! [`Command::pty`](crate::proc::Command::pty), which starts the child in a
//! new session with the slave on its stdin, stdout and stderr and as its
//! controlling terminal (`isatty` is true, `tty` prints the slave's name,
//! job control and `SIGWINCH` work). The **master** is this side: what the
//! program writes is read from it, what is written to it is what the
//! program reads (as typed: the terminal's line discipline echoes it and
//! turns `\n` into `\r\n` on the way out unless the program changes the
//! modes), and [`PtyMaster::resize`] changes the window size.
//!
//! # The end of the output
//!
//! Reading the master returns what the program wrote, then end of input
//! (`Ok(0)`) once **every** descriptor of the slave is closed: the
//! program's and its children's, the [`PtySlave`] you hold, and the copy a
//! [`Command`](crate::proc::Command) holds after
//! [`pty`](crate::proc::Command::pty) (until the `Command` is dropped).
//! So drop the `PtySlave` right after spawning, and let the `Command` be a
//! temporary (or drop it) before reading to the end; while another copy is
//! open, a read after the program's exit waits for more input instead of
//! ending. Output the program wrote before it exited stays readable:
//! the kernel keeps it in the pty's buffer until the master reads it.
//!
//! On Linux a read of the master after the last slave descriptor closed
//! fails with `EIO`; [`PtyMaster`]'s `read` turns that into `Ok(0)`, the
//! way a pipe ends.
//!
//! # Python
//!
//! `os.openpty()` is [`open`]; `pty.fork()` and `pty.spawn(argv)` are
//! [`open`] plus a [`Command`](crate::proc::Command) with
//! [`pty`](crate::proc::Command::pty), the master read (and written) by
//! the caller.
//!
//! # Platform notes
//!
//! Unix only (`cfg(unix)`): Linux, macOS and FreeBSD. Windows has
//! ConPTY instead, which this crate does not wrap.
//!
//! # Examples
//!
//! ```
//! use std::io::Write;
//! use std::time::Duration;
//! use procctl::proc::Command;
//!
//! let (mut master, slave) = procctl::pty::open()?;
//! let child = Command::new("sh")
//!     .args(["-c", "test -t 0 && read line && echo \"got $line\""])
//!     .pty(&slave)
//!     .spawn()?;
//! drop(slave); // else the master never sees the end
//! master.write_all(b"hi\n")?;
//! let mut seen = Vec::new();
//! let mut buf = [0; 1024];
//! while let Some(n) = master.read_timeout(&mut buf, Duration::from_secs(10))? {
//!     if n == 0 {
//!         break; // every slave descriptor is closed: the end
//!     }
//!     seen.extend_from_slice(&buf[..n]);
//! }
//! assert!(child.wait()?.success());
//! // The echo of what we typed, then the program's line (\r\n: the
//! // terminal's output processing).
//! assert_eq!(String::from_utf8_lossy(&seen), "hi\r\ngot hi\r\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Pid;
use crate::error::{Error, Result};
use crate::sys::poll::{self, Watch};
use crate::sys::pty as sys;

/// `openpty()`: a new pseudo-terminal pair, both ends close-on-exec.
///
/// The master is opened with `posix_openpt(O_RDWR | O_NOCTTY)` and
/// unlocked (`grantpt`, `unlockpt`); the slave with
/// `ioctl(TIOCGPTPEER)` on Linux, else by its name (`ptsname_r`), also
/// `O_NOCTTY`: opening either end never makes the pty the caller's
/// controlling terminal. The window size starts at 0 × 0 (set it with
/// [`PtyMaster::resize`]).
///
/// # Errors
///
/// [`Error::ResourceLimit`] when no pty or descriptor is left (`EAGAIN`,
/// `EMFILE`, `ENFILE`; on Linux, `ENOSPC` from `posix_openpt` once
/// `kernel.pty.max` ptys exist); [`Error::Os`] naming the call otherwise
/// (`posix_openpt`, `grantpt`, `unlockpt`, `ptsname`, `open pty slave`).
///
/// # Platform notes
///
/// On macOS `posix_openpt` takes no `O_CLOEXEC`: the master is made
/// close-on-exec right after, and `ptsname` (no `ptsname_r` there) is
/// called under a lock of procctl's.
///
/// # Examples
///
/// ```
/// let (master, slave) = procctl::pty::open()?;
/// assert!(slave.path().starts_with("/dev"));
/// master.resize(24, 80)?;
/// assert_eq!(master.size()?, (24, 80));
/// # Ok::<(), procctl::Error>(())
/// ```
#[doc(alias = "openpty")]
#[doc(alias = "posix_openpt")]
pub fn open() -> Result<(PtyMaster, PtySlave)> {
    let (master, slave, path) = sys::open().map_err(|(call, source)| {
        match source.raw_os_error() {
            // Linux's answer when every pty is taken (the BSDs' is EAGAIN,
            // a limit already).
            Some(libc::ENOSPC) if call == "posix_openpt" => Error::ResourceLimit { call, source },
            _ => Error::os(call, source),
        }
    })?;
    Ok((PtyMaster { file: master }, PtySlave { file: slave, path }))
}

/// The master side of a pty: read what the program writes, write what it
/// reads, set the window size.
///
/// `Read` returns `Ok(0)` at the end (see the [module docs](self)):
/// `EIO` from the kernel once every slave descriptor is closed is turned
/// into end of input. `Read` and `Write` are implemented for `&PtyMaster`
/// too, so one thread can write while another reads.
pub struct PtyMaster {
    file: File,
}

/// `EIO` from a master whose slave is closed everywhere: end of input.
fn end_of_input(r: io::Result<usize>) -> io::Result<usize> {
    match r {
        Err(e) if e.raw_os_error() == Some(libc::EIO) => Ok(0),
        other => other,
    }
}

impl PtyMaster {
    /// `ioctl(TIOCSWINSZ)`: sets the window size to `rows` × `cols`.
    ///
    /// When the size changes, the kernel sends `SIGWINCH` to the
    /// terminal's foreground process group (the program started with
    /// [`Command::pty`](crate::proc::Command::pty)).
    ///
    /// # Errors
    ///
    /// [`Error::Os`] naming `ioctl TIOCSWINSZ`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (master, _slave) = procctl::pty::open()?;
    /// master.resize(50, 132)?;
    /// assert_eq!(master.size()?, (50, 132));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "TIOCSWINSZ")]
    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        sys::set_size(self.file.as_raw_fd(), rows, cols)
            .map_err(|e| Error::os("ioctl TIOCSWINSZ", e))
    }

    /// `ioctl(TIOCGWINSZ)`: the window size, as `(rows, cols)`.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] naming `ioctl TIOCGWINSZ`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (master, _slave) = procctl::pty::open()?;
    /// assert_eq!(master.size()?, (0, 0));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "TIOCGWINSZ")]
    pub fn size(&self) -> Result<(u16, u16)> {
        sys::size(self.file.as_raw_fd()).map_err(|e| Error::os("ioctl TIOCGWINSZ", e))
    }

    /// `tcgetpgrp(master)`: the terminal's foreground process group, the
    /// one that gets the signals of Ctrl+C and of a resize. `None` when
    /// no process has the pty as its controlling terminal (or the group
    /// is outside our PID namespace).
    ///
    /// # Errors
    ///
    /// [`Error::Os`] naming `tcgetpgrp`.
    ///
    /// # Platform notes
    ///
    /// Linux answers for the slave's session on the master; where the
    /// kernel refuses `tcgetpgrp` on a master, ask on the slave
    /// (`libc::tcgetpgrp(slave.as_raw_fd())`).
    ///
    /// # Examples
    ///
    /// ```
    /// let (master, _slave) = procctl::pty::open()?;
    /// # #[cfg(target_os = "linux")]
    /// assert_eq!(master.foreground_group()?, None); // nobody's terminal yet
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "tcgetpgrp")]
    pub fn foreground_group(&self) -> Result<Option<Pid>> {
        match sys::foreground_group(self.file.as_raw_fd()) {
            Ok(pgrp) => Ok(Pid::from_raw(pgrp)),
            // No session has this terminal (Linux: ENOTTY on the master).
            Err(e) if e.raw_os_error() == Some(libc::ENOTTY) => Ok(None),
            Err(e) => Err(Error::os("tcgetpgrp", e)),
        }
    }

    /// `poll` then `read`: reads what is there, waiting at most `timeout`
    /// for something to arrive.
    ///
    /// `Ok(Some(0))` is the end (every slave descriptor closed),
    /// `Ok(Some(n))` bytes were read, `Ok(None)` nothing came in time.
    /// Interrupted waits (`EINTR`) are retried with the time that is
    /// left.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] naming `poll` or `read`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (master, _slave) = procctl::pty::open()?;
    /// let mut buf = [0; 64];
    /// // Nobody writes: the wait ends empty-handed.
    /// assert_eq!(master.read_timeout(&mut buf, Duration::from_millis(20))?, None);
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn read_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<Option<usize>> {
        let deadline = Instant::now().checked_add(timeout);
        let mut watch = [Watch {
            fd: self.file.as_raw_fd(),
            write: false,
            ready: false,
        }];
        if !poll::poll(&mut watch, deadline).map_err(|e| Error::os("poll", e))? {
            return Ok(None);
        }
        loop {
            match (&*self).read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::os("read", e)),
                Ok(n) => return Ok(Some(n)),
            }
        }
    }
}

impl Read for PtyMaster {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Read for &PtyMaster {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        end_of_input((&self.file).read(buf))
    }
}

impl Write for PtyMaster {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.file).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &PtyMaster {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.file).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for PtyMaster {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for PtyMaster {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl From<PtyMaster> for OwnedFd {
    fn from(master: PtyMaster) -> OwnedFd {
        master.file.into()
    }
}

impl fmt::Debug for PtyMaster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PtyMaster")
            .field("fd", &self.file.as_raw_fd())
            .finish()
    }
}

/// The slave side of a pty: the terminal a program runs on.
///
/// Give it to [`Command::pty`](crate::proc::Command::pty), then drop it:
/// the master reads to the end only once every slave descriptor is closed
/// (see the [module docs](self)).
pub struct PtySlave {
    file: File,
    path: PathBuf,
}

impl PtySlave {
    /// `ptsname(master)`: the slave's device path (`/dev/pts/3` on Linux,
    /// `/dev/ttys003` on macOS, `/dev/pts/3` on FreeBSD), what `tty`
    /// prints in the program.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_master, slave) = procctl::pty::open()?;
    /// assert!(slave.path().to_string_lossy().starts_with("/dev/"));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "ptsname")]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AsFd for PtySlave {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for PtySlave {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl From<PtySlave> for OwnedFd {
    fn from(slave: PtySlave) -> OwnedFd {
        slave.file.into()
    }
}

impl fmt::Debug for PtySlave {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PtySlave")
            .field("fd", &self.file.as_raw_fd())
            .field("path", &self.path)
            .finish()
    }
}
