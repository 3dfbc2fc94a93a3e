//! Pipes: [`pipe()`] with std's pipe ends, and what std lacks: non-blocking
//! mode, capacity, `splice`, and writes that never raise `SIGPIPE`.
//!
//! | Python / C                        | procctl                                     |
//! |-----------------------------------|---------------------------------------------|
//! | `os.pipe()`                       | [`pipe()`] → ([`PipeReader`], [`PipeWriter`]) |
//! | `os.set_blocking(fd, False)`      | [`PipeExt::set_nonblocking`]                |
//! | `fcntl(F_GETPIPE_SZ/F_SETPIPE_SZ)`| [`PipeExt::capacity`], [`PipeExt::set_capacity`] |
//! | `os.splice`                       | [`splice`], [`copy`]                        |
//! | `send(..., MSG_NOSIGNAL)` for pipes | [`write_all_nosigpipe`], [`NoSigPipe`]    |
//!
//! # When `SIGPIPE` can arrive
//!
//! Writing to a pipe whose read ends are all closed fails with `EPIPE`
//! ([`io::ErrorKind::BrokenPipe`]) *and* sends `SIGPIPE`, whose default
//! action ends the process. Rust's runtime sets `SIGPIPE` to "ignore"
//! before `main`, so in an ordinary Rust program a plain
//! [`Write::write`] on a [`PipeWriter`] just returns the error. A plain
//! write can still kill the process when the disposition is the default
//! again: in a program whose `main` is not Rust's (a C program calling a
//! Rust library), one built with `-Zon-broken-pipe=kill` or `inherit`, one
//! that called [`signal::default`](crate::signal::default)`(Signal::PIPE)`,
//! or a child that inherited the default. With a handler installed, a
//! plain write runs it.
//!
//! The procctl write paths — [`write_all_nosigpipe`], [`NoSigPipe`],
//! [`copy`] and [`splice`] — never let a `SIGPIPE` of theirs through,
//! whatever the disposition: on Linux and FreeBSD they block `SIGPIPE` in
//! the writing thread for the write (the kernel sends it to the writing
//! thread) and take the one the write raised with a zero-timeout
//! `sigtimedwait`; on macOS, which sends it to the whole process, they set
//! `F_SETNOSIGPIPE` on the descriptor. A `SIGPIPE` that was already pending
//! before the write is left alone.

#[cfg(unix)]
use std::io::Read;
use std::io::{self, Write};

use crate::{Error, Result, sys};

pub use std::io::{PipeReader, PipeWriter};

#[cfg(unix)]
use std::os::fd::AsFd;

/// `pipe2(O_CLOEXEC)`: a one-way pipe, as std's [`PipeReader`] and
/// [`PipeWriter`].
///
/// Both ends are close-on-exec: a program started with `exec` does not
/// inherit them unless they are passed on purpose (as a child's stdio, or
/// with `Command::keep_fd`). Bytes written to the writer are read from the
/// reader; the reader sees end of file once *every* copy of the writer
/// (including ones inherited by forked children) is closed. Each end
/// converts into [`std::process::Stdio`] and procctl's `Stdio`.
///
/// # Errors
///
/// [`Error::ResourceLimit`] when the process or system is out of
/// descriptors (`EMFILE`, `ENFILE`); [`Error::Os`] otherwise.
///
/// # Platform notes
///
/// Everywhere std has pipes: on Windows an anonymous pipe whose handles are
/// not inheritable. macOS has no `pipe2`: std sets close-on-exec right after
/// `pipe`.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
///
/// let (mut reader, mut writer) = procctl::pipe::pipe()?;
/// writer.write_all(b"hello")?;
/// drop(writer); // the only writer: the reader sees EOF after the data
/// let mut text = String::new();
/// reader.read_to_string(&mut text)?;
/// assert_eq!(text, "hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "pipe2")]
pub fn pipe() -> Result<(PipeReader, PipeWriter)> {
    std::io::pipe().map_err(|e| Error::os("pipe", e))
}

pub(crate) mod sealed {
    pub trait Sealed {
        fn handle(&self) -> crate::sys::pipe::Handle<'_>;
    }
}

/// What std's pipe ends lack: `set_nonblocking`, `capacity`,
/// `set_capacity`. In scope with `use procctl::pipe::*`.
///
/// Implemented for [`PipeReader`], [`PipeWriter`], and the pipes of a std
/// child ([`ChildStdin`](std::process::ChildStdin),
/// [`ChildStdout`](std::process::ChildStdout),
/// [`ChildStderr`](std::process::ChildStderr)). Sealed.
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::pipe::*;
/// let (r, w) = pipe()?;
/// r.set_nonblocking(true)?;
/// # #[cfg(target_os = "linux")]
/// assert!(w.capacity()? >= 4096);
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub trait PipeExt: sealed::Sealed {
    /// `fcntl(F_SETFL, O_NONBLOCK)`: in non-blocking mode a read with no
    /// data and a write to a full pipe fail with
    /// [`io::ErrorKind::WouldBlock`] instead of waiting.
    ///
    /// The flag belongs to the open pipe end, so it is shared with every
    /// duplicate of it (clones, a forked child's copy).
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if `fcntl` fails; [`Error::Unsupported`] on Windows.
    ///
    /// # Platform notes
    ///
    /// Windows: `Error::Unsupported`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use std::io::{ErrorKind, Read};
    /// use procctl::pipe::*;
    ///
    /// let (mut reader, _writer) = pipe()?;
    /// reader.set_nonblocking(true)?;
    /// let err = reader.read(&mut [0; 8]).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::WouldBlock);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        sys::pipe::set_nonblocking(self.handle(), nonblocking).map_err(|e| pipe_error("fcntl", e))
    }

    /// `fcntl(F_GETPIPE_SZ)`: how many bytes the pipe holds before a writer
    /// waits (64 KiB by default on Linux).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] outside Linux; [`Error::Os`] if `fcntl`
    /// fails.
    ///
    /// # Platform notes
    ///
    /// Linux only; elsewhere `Error::Unsupported`.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::pipe::*;
    /// let (reader, _writer) = pipe()?;
    /// # #[cfg(target_os = "linux")]
    /// assert!(reader.capacity()? >= 4096);
    /// # Ok::<(), procctl::Error>(())
    /// ```
    fn capacity(&self) -> Result<usize> {
        sys::pipe::capacity(self.handle()).map_err(|e| pipe_error("fcntl(F_GETPIPE_SZ)", e))
    }

    /// `fcntl(F_SETPIPE_SZ, bytes)`: resizes the pipe; returns the new
    /// capacity, which the kernel rounds up to a power-of-two number of
    /// pages.
    ///
    /// A larger pipe means fewer context switches between a fast writer and
    /// its reader. Unprivileged processes may go up to
    /// `/proc/sys/fs/pipe-max-size` (1 MiB by default).
    ///
    /// # Errors
    ///
    /// - [`Error::PermissionDenied`] above `pipe-max-size` without
    ///   `CAP_SYS_RESOURCE`, or past the user's total pipe budget;
    /// - [`Error::Os`] with `EBUSY` when shrinking below the bytes the pipe
    ///   holds, `EINVAL` for a size too large;
    /// - [`Error::Unsupported`] outside Linux.
    ///
    /// # Platform notes
    ///
    /// Linux only; elsewhere `Error::Unsupported`.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::pipe::*;
    /// let (_reader, writer) = pipe()?;
    /// # #[cfg(target_os = "linux")]
    /// # {
    /// let got = writer.set_capacity(1 << 20)?;
    /// assert_eq!(got, 1 << 20);
    /// assert_eq!(writer.capacity()?, 1 << 20);
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    fn set_capacity(&self, bytes: usize) -> Result<usize> {
        sys::pipe::set_capacity(self.handle(), bytes).map_err(|e| {
            if e.kind() == io::ErrorKind::PermissionDenied {
                Error::PermissionDenied {
                    subject: format!("resize a pipe to {bytes} bytes"),
                    source: e,
                }
            } else {
                pipe_error("fcntl(F_SETPIPE_SZ)", e)
            }
        })
    }
}

fn pipe_error(call: &'static str, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::Unsupported {
        return Error::Unsupported { what: call };
    }
    Error::os(call, e)
}

macro_rules! pipe_ext {
    ($($ty:ty),*) => {$(
        impl sealed::Sealed for $ty {
            #[cfg(unix)]
            fn handle(&self) -> sys::pipe::Handle<'_> {
                self.as_fd()
            }
            #[cfg(windows)]
            fn handle(&self) -> sys::pipe::Handle<'_> {
                std::os::windows::io::AsHandle::as_handle(self)
            }
        }
        impl PipeExt for $ty {}
    )*};
}

pipe_ext!(
    PipeReader,
    PipeWriter,
    std::process::ChildStdin,
    std::process::ChildStdout,
    std::process::ChildStderr
);

/// `write(2)` until all of `buf` is written, without `SIGPIPE`: a pipe with
/// no reader is an [`io::ErrorKind::BrokenPipe`] error, never a dead
/// process, whatever the `SIGPIPE` disposition.
///
/// See the module docs for how (and for when a plain `write` can still
/// raise `SIGPIPE`). Interrupted writes are retried.
///
/// # Errors
///
/// The write's [`io::Error`]: `BrokenPipe` without a reader, `WouldBlock`
/// on a full non-blocking pipe, `WriteZero` if a write made no progress.
///
/// # Platform notes
///
/// Windows has no `SIGPIPE`: a plain `write_all`.
///
/// # Examples
///
/// ```
/// use std::io::ErrorKind;
/// use procctl::{Signal, pipe, signal};
///
/// signal::default(Signal::PIPE)?; // a plain write would now kill us
/// let (reader, mut writer) = pipe::pipe()?;
/// drop(reader);
/// let err = pipe::write_all_nosigpipe(&mut writer, b"lost").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::BrokenPipe);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(unix)]
pub fn write_all_nosigpipe<W: Write + AsFd>(writer: &mut W, buf: &[u8]) -> io::Result<()> {
    sys::pipe::without_sigpipe(writer, |w| w.write_all(buf))
}

/// `write(2)` until all of `buf` is written (Windows has no `SIGPIPE`).
///
/// # Errors
///
/// The write's [`io::Error`].
///
/// # Examples
///
/// ```
/// let (_reader, mut writer) = procctl::pipe::pipe()?;
/// procctl::pipe::write_all_nosigpipe(&mut writer, b"x")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(not(unix))]
pub fn write_all_nosigpipe<W: Write>(writer: &mut W, buf: &[u8]) -> io::Result<()> {
    writer.write_all(buf)
}

/// A writer whose every write goes through the `SIGPIPE`-free path of
/// [`write_all_nosigpipe`]: use it with `write!`, [`io::copy`] or a
/// [`BufWriter`](std::io::BufWriter).
///
/// # Platform notes
///
/// Windows has no `SIGPIPE`: the writes are plain ones.
///
/// # Examples
///
/// ```
/// use std::io::{ErrorKind, Write};
/// use procctl::pipe::{NoSigPipe, pipe};
///
/// let (reader, writer) = pipe()?;
/// let mut out = NoSigPipe::new(writer);
/// writeln!(out, "to a reader")?;
/// drop(reader);
/// assert_eq!(writeln!(out, "to nobody").unwrap_err().kind(), ErrorKind::BrokenPipe);
/// let _writer = out.into_inner();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct NoSigPipe<W> {
    inner: W,
}

impl<W> NoSigPipe<W> {
    /// Wraps `inner`.
    ///
    /// ```
    /// let (_r, w) = procctl::pipe::pipe()?;
    /// let w = procctl::pipe::NoSigPipe::new(w);
    /// let _w: std::io::PipeWriter = w.into_inner();
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn new(inner: W) -> NoSigPipe<W> {
        NoSigPipe { inner }
    }

    /// The wrapped writer.
    ///
    /// ```
    /// let w = procctl::pipe::NoSigPipe::new(Vec::<u8>::new());
    /// assert!(w.get_ref().is_empty());
    /// ```
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Unwraps the writer.
    ///
    /// ```
    /// let w = procctl::pipe::NoSigPipe::new(vec![1u8]);
    /// assert_eq!(w.into_inner(), vec![1]);
    /// ```
    pub fn into_inner(self) -> W {
        self.inner
    }
}

#[cfg(unix)]
impl<W: Write + AsFd> Write for NoSigPipe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        sys::pipe::without_sigpipe(&mut self.inner, |w| w.write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        write_all_nosigpipe(&mut self.inner, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(not(unix))]
impl<W: Write> Write for NoSigPipe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// How much one `splice` call of [`copy`] asks for.
#[cfg(unix)]
const CHUNK: usize = 1 << 20;

/// `splice(from, to, len)`: moves up to `len` bytes from `from` to `to` in
/// the kernel, without copying them through user memory; returns the
/// number moved, 0 at end of input.
///
/// One end must be a pipe; the other may be a pipe, a file or a socket.
/// Both must be in blocking mode. Never raises `SIGPIPE` (see the module
/// docs).
///
/// # Errors
///
/// [`Error::Os`] naming `"splice"`, with the errno as its source:
/// `EINVAL` when neither end is a pipe or an end cannot be spliced (a file
/// opened with `O_APPEND`, a terminal...; [`copy`] falls back to read and
/// write then), `EPIPE` (kind `BrokenPipe`) for a pipe without reader.
///
/// # Platform notes
///
/// Linux only. Elsewhere one `read` of up to `len` (at most 64 KiB)
/// followed by a `write_all`, so bytes pass through user memory.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use procctl::pipe;
///
/// let (mut r1, mut w1) = pipe::pipe()?;
/// let (mut r2, w2) = pipe::pipe()?;
/// w1.write_all(b"moved")?;
/// assert_eq!(pipe::splice(&r1, &w2, 1024)?, 5);
/// drop(w2);
/// let mut out = String::new();
/// r2.read_to_string(&mut out)?;
/// assert_eq!(out, "moved");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(unix)]
pub fn splice(from: impl AsFd, to: impl AsFd, len: usize) -> Result<usize> {
    let (from, mut to) = (from.as_fd(), to.as_fd());
    let moved = sys::pipe::without_sigpipe(&mut to, |to| match sys::pipe::splice(from, *to, len) {
        Err(e) if e.kind() == io::ErrorKind::Unsupported => fallback_once(from, *to, len),
        other => other,
    });
    moved.map_err(|e| Error::os("splice", e))
}

#[cfg(unix)]
fn is_einval(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINVAL)
}

/// One read of up to `len` bytes (at most 64 KiB), written out in full.
#[cfg(unix)]
fn fallback_once(
    from: std::os::fd::BorrowedFd<'_>,
    to: std::os::fd::BorrowedFd<'_>,
    len: usize,
) -> io::Result<usize> {
    let mut buf = vec![0u8; len.min(64 << 10)];
    let mut reader = std::fs::File::from(from.try_clone_to_owned()?);
    let mut writer = std::fs::File::from(to.try_clone_to_owned()?);
    let n = loop {
        match reader.read(&mut buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other?,
        }
    };
    writer.write_all(&buf[..n])?;
    Ok(n)
}

/// Copies everything from `reader` to `writer` until end of input; returns
/// the number of bytes copied. `splice(2)` on Linux when one end is a pipe
/// (zero-copy), read and write otherwise.
///
/// For moving data between a pipe and a file or socket: a child's output to
/// a file, a file into a child's input, a socket into a pipe. Both ends
/// must be in blocking mode. Never raises `SIGPIPE`: a writer whose reader
/// is gone gives a broken-pipe error.
///
/// # Errors
///
/// [`Error::Os`] carrying the failing call (`"splice"`, `"read"`,
/// `"write"`) and its [`io::Error`] (kind `BrokenPipe` for a pipe without
/// reader).
///
/// # Platform notes
///
/// Linux uses `splice`; other Unix systems copy through a 64 KiB buffer.
/// Windows: use [`io::copy`].
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use procctl::pipe;
///
/// let (mut reader, mut writer) = pipe::pipe()?;
/// let path = std::env::temp_dir().join(format!("procctl-copy-{}", std::process::id()));
/// std::fs::write(&path, b"file contents")?;
/// let mut file = std::fs::File::open(&path)?;
/// let copied = pipe::copy(&mut file, &mut writer)?; // file -> pipe
/// drop(writer);
/// let mut out = String::new();
/// reader.read_to_string(&mut out)?;
/// assert_eq!((copied, out.as_str()), (13, "file contents"));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(unix)]
pub fn copy<R, W>(reader: &mut R, writer: &mut W) -> Result<u64>
where
    R: Read + AsFd,
    W: Write + AsFd,
{
    let mut total = 0u64;
    let spliced = sys::pipe::without_sigpipe(writer, |writer| {
        loop {
            match sys::pipe::splice(reader.as_fd(), writer.as_fd(), CHUNK) {
                Ok(0) => return Ok(true),
                Ok(n) => total += n as u64,
                // Not spliceable (first call) or no splice here: fall back.
                Err(e)
                    if total == 0 && (is_einval(&e) || e.kind() == io::ErrorKind::Unsupported) =>
                {
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
    });
    if spliced.map_err(|e| Error::os("splice", e))? {
        return Ok(total);
    }
    copy_buffered(reader, writer)
}

/// The read and write loop of [`copy`], through a 64 KiB buffer.
#[cfg(unix)]
fn copy_buffered<R: Read, W: Write + AsFd>(reader: &mut R, writer: &mut W) -> Result<u64> {
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    let mut call = "read";
    sys::pipe::without_sigpipe(writer, |writer| {
        loop {
            call = "read";
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            call = "write";
            writer.write_all(&buf[..n])?;
            total += n as u64;
        }
    })
    .map_err(|e| Error::os(call, e))
}
