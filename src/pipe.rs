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
//! `F_SETNOSIGPIPE` on the descriptor. A `SIGPIPE` the caller already had
//! pending (with `SIGPIPE` blocked), for the thread or for the process, is
//! left alone, with its `siginfo`; on Linux only the write's own is
//! taken, even then (elsewhere, with one already pending, the write's may
//! stay pending too).
//!
//! # Buffers
//!
//! [`copy`] and [`splice`] work on descriptors, below std's buffers, and
//! take care of them the way [`io::copy`] does: the writer is flushed
//! first and the bytes the reader read ahead are written out first, so
//! that nothing is lost or reordered (`Stdin` after a `read_line`,
//! `Stdout` after a `print!`). The types they accept, [`Source`] and
//! [`Sink`], are the ones whose buffering is known.

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
    #[cfg(unix)]
    use std::io;
    #[cfg(unix)]
    use std::os::fd::AsFd;

    pub trait Sealed {
        fn handle(&self) -> crate::sys::pipe::Handle<'_>;
    }

    /// The inside of [`Source`](super::Source).
    #[cfg(unix)]
    pub trait Source {
        /// The reader, locked for the call where it has a lock.
        fn source(&mut self) -> impl Ahead + '_;
    }

    /// The inside of [`Sink`](super::Sink).
    #[cfg(unix)]
    pub trait Sink {
        /// The writer, locked for the call where it has a lock.
        fn sink(&mut self) -> impl Behind + '_;
    }

    /// A descriptor with, maybe, bytes read ahead of it.
    #[cfg(unix)]
    pub trait Ahead: AsFd {
        /// The bytes read from the descriptor and not handed out yet:
        /// `Some` non-empty; `Some` empty at end of input (found while
        /// filling a buffer); `None` when there are none, and the
        /// descriptor is next.
        fn ahead(&mut self) -> io::Result<Option<&[u8]>>;
        /// `n` bytes of [`Ahead::ahead`] were written out.
        fn consume(&mut self, n: usize);
    }

    /// A descriptor with, maybe, a buffer in front of it.
    #[cfg(unix)]
    pub trait Behind: AsFd {
        /// Writes what is buffered to the descriptor.
        fn flush(&mut self) -> io::Result<()>;
    }

    /// A descriptor type with no buffer of its own.
    #[cfg(unix)]
    pub trait Unbuffered: AsFd {}
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

/// A reader that [`copy`] and [`splice`] read below std's buffering, at
/// its descriptor: first the bytes it has already read ahead into memory,
/// then the descriptor, so that nothing is lost or reordered.
///
/// Sealed. Implemented for:
///
/// - descriptors without a buffer in front: [`File`](std::fs::File),
///   [`PipeReader`], [`ChildStdout`](std::process::ChildStdout),
///   [`ChildStderr`](std::process::ChildStderr),
///   [`TcpStream`](std::net::TcpStream),
///   [`UnixStream`](std::os::unix::net::UnixStream) (and shared
///   references to those that have them), [`OwnedFd`](std::os::fd::OwnedFd),
///   [`BorrowedFd`](std::os::fd::BorrowedFd);
/// - std's buffered readers, whose buffer is handed out first:
///   [`Stdin`](std::io::Stdin) and `&Stdin` (locked for the whole call, so
///   no other thread's read lands in the middle),
///   [`StdinLock`](std::io::StdinLock), and
///   [`BufReader`](std::io::BufReader) over an owned type of the first
///   list;
/// - `&mut R` for each of these.
///
/// A type of your own that reads ahead, or transforms what it reads,
/// cannot be spliced past: use [`io::copy`], or hand [`copy`] its inner
/// reader once its buffer is empty.
///
/// # Platform notes
///
/// Unix only.
///
/// # Examples
///
/// ```
/// use std::io::{BufRead, BufReader, Read, Write};
/// use procctl::pipe;
///
/// let (r, mut w) = pipe::pipe()?;
/// w.write_all(b"first line\nthe rest\n")?;
/// drop(w);
/// let mut reader = BufReader::new(r); // reads ahead: the whole input
/// let mut line = String::new();
/// reader.read_line(&mut line)?;
/// let (mut out_r, mut out_w) = pipe::pipe()?;
/// assert_eq!(pipe::copy(&mut reader, &mut out_w)?, 9); // the buffer, then the pipe
/// drop(out_w);
/// let mut rest = String::new();
/// out_r.read_to_string(&mut rest)?;
/// assert_eq!(rest, "the rest\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(unix)]
pub trait Source: sealed::Source {}

/// A writer that [`copy`] and [`splice`] write below std's buffering, at
/// its descriptor: whatever the writer buffers is flushed first, so that
/// what was written before comes out before the copied bytes.
///
/// Sealed. Implemented for:
///
/// - descriptors without a buffer in front: [`File`](std::fs::File),
///   [`PipeWriter`], [`ChildStdin`](std::process::ChildStdin),
///   [`TcpStream`](std::net::TcpStream),
///   [`UnixStream`](std::os::unix::net::UnixStream) (and shared
///   references to those that have them), [`Stderr`](std::io::Stderr) and
///   [`StderrLock`](std::io::StderrLock) (std does not buffer them),
///   [`OwnedFd`](std::os::fd::OwnedFd), [`BorrowedFd`](std::os::fd::BorrowedFd);
/// - std's buffered writers, flushed first: [`Stdout`](std::io::Stdout)
///   and `&Stdout` (locked for the whole call, so no other thread's print
///   lands in the middle), [`StdoutLock`](std::io::StdoutLock),
///   [`BufWriter`](std::io::BufWriter) and
///   [`LineWriter`](std::io::LineWriter) over an owned type of the first
///   list;
/// - `&mut W` for each of these.
///
/// # Platform notes
///
/// Unix only.
///
/// # Examples
///
/// ```
/// use std::io::{BufWriter, Read, Write};
/// use procctl::pipe;
///
/// let (mut out_r, out_w) = pipe::pipe()?;
/// let mut out = BufWriter::new(out_w);
/// write!(out, "header, ")?; // still in the BufWriter
/// let (mut r, mut w) = pipe::pipe()?;
/// w.write_all(b"body")?;
/// drop(w);
/// pipe::copy(&mut r, &mut out)?; // flushes "header, " first
/// drop(out);
/// let mut text = String::new();
/// out_r.read_to_string(&mut text)?;
/// assert_eq!(text, "header, body");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(unix)]
pub trait Sink: sealed::Sink {}

#[cfg(unix)]
mod parts {
    //! What `copy` and `splice` see of a [`Source`](super::Source) or
    //! [`Sink`](super::Sink).

    use std::io::{self, BufRead, BufReader, BufWriter, LineWriter, Write};
    use std::os::fd::{AsFd, BorrowedFd};

    use super::sealed::{Ahead, Behind, Unbuffered};

    /// A descriptor with nothing in front of it.
    pub struct Plain<'a>(pub BorrowedFd<'a>);

    impl AsFd for Plain<'_> {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.0
        }
    }

    impl Ahead for Plain<'_> {
        fn ahead(&mut self) -> io::Result<Option<&[u8]>> {
            Ok(None)
        }
        fn consume(&mut self, _n: usize) {}
    }

    impl Behind for Plain<'_> {
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// std's `StdinLock` (owned or borrowed). It cannot show its buffer
    /// without filling an empty one, so: one `fill_buf` (which reads once
    /// if the buffer is empty, the next bytes of the input either way),
    /// handed out until consumed; after that the buffer is empty and the
    /// descriptor is next.
    pub struct Filled<L> {
        lock: L,
        filled: bool,
        left: usize,
    }

    impl<L> Filled<L> {
        pub fn new(lock: L) -> Filled<L> {
            Filled {
                lock,
                filled: false,
                left: 0,
            }
        }
    }

    impl<L: AsFd> AsFd for Filled<L> {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.lock.as_fd()
        }
    }

    impl<L: BufRead + AsFd> Ahead for Filled<L> {
        fn ahead(&mut self) -> io::Result<Option<&[u8]>> {
            if self.filled && self.left == 0 {
                return Ok(None);
            }
            // `fill_buf` returns the whole buffer, and reads only when it
            // is empty, which it is only the first time here.
            let buf = self.lock.fill_buf()?;
            self.filled = true;
            self.left = buf.len();
            Ok(Some(buf))
        }
        fn consume(&mut self, n: usize) {
            self.lock.consume(n);
            self.left -= n;
        }
    }

    /// A `BufReader` over an unbuffered descriptor: its buffer, shown
    /// without filling it, then the descriptor.
    pub struct Buffered<'a, R>(pub &'a mut BufReader<R>);

    impl<R: Unbuffered> AsFd for Buffered<'_, R> {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.0.get_ref().as_fd()
        }
    }

    impl<R: Unbuffered + io::Read> Ahead for Buffered<'_, R> {
        fn ahead(&mut self) -> io::Result<Option<&[u8]>> {
            let buf = self.0.buffer();
            Ok((!buf.is_empty()).then_some(buf))
        }
        fn consume(&mut self, n: usize) {
            self.0.consume(n);
        }
    }

    /// A writer whose `flush` writes what it buffers to its descriptor.
    pub struct Flushed<W>(pub W);

    impl<W: AsFd> AsFd for Flushed<W> {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.0.as_fd()
        }
    }

    impl<W: Write + AsFd> Behind for Flushed<W> {
        fn flush(&mut self) -> io::Result<()> {
            self.0.flush()
        }
    }

    /// A `BufWriter` over an unbuffered descriptor.
    pub struct BufFlushed<'a, W: Write>(pub &'a mut BufWriter<W>);

    impl<W: Write + Unbuffered> AsFd for BufFlushed<'_, W> {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.0.get_ref().as_fd()
        }
    }

    impl<W: Write + Unbuffered> Behind for BufFlushed<'_, W> {
        fn flush(&mut self) -> io::Result<()> {
            self.0.flush()
        }
    }

    /// A `LineWriter` over an unbuffered descriptor.
    pub struct LineFlushed<'a, W: Write>(pub &'a mut LineWriter<W>);

    impl<W: Write + Unbuffered> AsFd for LineFlushed<'_, W> {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.0.get_ref().as_fd()
        }
    }

    impl<W: Write + Unbuffered> Behind for LineFlushed<'_, W> {
        fn flush(&mut self) -> io::Result<()> {
            self.0.flush()
        }
    }
}

#[cfg(unix)]
macro_rules! unbuffered {
    (sources: $($src:ty),*; sinks: $($dst:ty),*; both: $($both:ty),*) => {
        unbuffered!(@source $($src,)* $($both,)*);
        unbuffered!(@sink $($dst,)* $($both,)*);
    };
    (@source $($ty:ty,)*) => {$(
        impl sealed::Source for $ty {
            fn source(&mut self) -> impl sealed::Ahead + '_ {
                parts::Plain(AsFd::as_fd(&*self))
            }
        }
        impl Source for $ty {}
        impl sealed::Unbuffered for $ty {}
    )*};
    (@sink $($ty:ty,)*) => {$(
        impl sealed::Sink for $ty {
            fn sink(&mut self) -> impl sealed::Behind + '_ {
                parts::Plain(AsFd::as_fd(&*self))
            }
        }
        impl Sink for $ty {}
    )*};
}

#[cfg(unix)]
unbuffered!(
    sources: PipeReader, &PipeReader, std::process::ChildStdout, std::process::ChildStderr;
    sinks: PipeWriter, &PipeWriter, std::process::ChildStdin, std::io::Stderr,
        std::io::StderrLock<'_>;
    both: std::fs::File, &std::fs::File, std::net::TcpStream, &std::net::TcpStream,
        std::os::unix::net::UnixStream, &std::os::unix::net::UnixStream,
        std::os::fd::OwnedFd, std::os::fd::BorrowedFd<'_>
);

#[cfg(unix)]
impl sealed::Unbuffered for PipeWriter {}
#[cfg(unix)]
impl sealed::Unbuffered for std::process::ChildStdin {}

#[cfg(unix)]
impl sealed::Source for std::io::Stdin {
    fn source(&mut self) -> impl sealed::Ahead + '_ {
        parts::Filled::new(self.lock())
    }
}
#[cfg(unix)]
impl Source for std::io::Stdin {}

#[cfg(unix)]
impl sealed::Source for &std::io::Stdin {
    fn source(&mut self) -> impl sealed::Ahead + '_ {
        parts::Filled::new(self.lock())
    }
}
#[cfg(unix)]
impl Source for &std::io::Stdin {}

#[cfg(unix)]
impl sealed::Source for std::io::StdinLock<'_> {
    fn source(&mut self) -> impl sealed::Ahead + '_ {
        parts::Filled::new(self)
    }
}
#[cfg(unix)]
impl Source for std::io::StdinLock<'_> {}

#[cfg(unix)]
impl<R: sealed::Unbuffered + Read> sealed::Source for std::io::BufReader<R> {
    fn source(&mut self) -> impl sealed::Ahead + '_ {
        parts::Buffered(self)
    }
}
#[cfg(unix)]
impl<R: sealed::Unbuffered + Read> Source for std::io::BufReader<R> {}

#[cfg(unix)]
impl<R: sealed::Source + ?Sized> sealed::Source for &mut R {
    fn source(&mut self) -> impl sealed::Ahead + '_ {
        (**self).source()
    }
}
#[cfg(unix)]
impl<R: Source + ?Sized> Source for &mut R {}

#[cfg(unix)]
impl sealed::Sink for std::io::Stdout {
    fn sink(&mut self) -> impl sealed::Behind + '_ {
        parts::Flushed(self.lock())
    }
}
#[cfg(unix)]
impl Sink for std::io::Stdout {}

#[cfg(unix)]
impl sealed::Sink for &std::io::Stdout {
    fn sink(&mut self) -> impl sealed::Behind + '_ {
        parts::Flushed(self.lock())
    }
}
#[cfg(unix)]
impl Sink for &std::io::Stdout {}

#[cfg(unix)]
impl sealed::Sink for std::io::StdoutLock<'_> {
    fn sink(&mut self) -> impl sealed::Behind + '_ {
        parts::Flushed(self)
    }
}
#[cfg(unix)]
impl Sink for std::io::StdoutLock<'_> {}

#[cfg(unix)]
impl<W: sealed::Unbuffered + Write> sealed::Sink for std::io::BufWriter<W> {
    fn sink(&mut self) -> impl sealed::Behind + '_ {
        parts::BufFlushed(self)
    }
}
#[cfg(unix)]
impl<W: sealed::Unbuffered + Write> Sink for std::io::BufWriter<W> {}

#[cfg(unix)]
impl<W: sealed::Unbuffered + Write> sealed::Sink for std::io::LineWriter<W> {
    fn sink(&mut self) -> impl sealed::Behind + '_ {
        parts::LineFlushed(self)
    }
}
#[cfg(unix)]
impl<W: sealed::Unbuffered + Write> Sink for std::io::LineWriter<W> {}

#[cfg(unix)]
impl<W: sealed::Sink + ?Sized> sealed::Sink for &mut W {
    fn sink(&mut self) -> impl sealed::Behind + '_ {
        (**self).sink()
    }
}
#[cfg(unix)]
impl<W: Sink + ?Sized> Sink for &mut W {}

/// `splice(from, to, len)`: moves up to `len` bytes from `from` to `to` in
/// the kernel, without copying them through user memory; returns the
/// number moved, 0 at end of input.
///
/// One end must be a pipe; the other may be a pipe, a file or a socket.
/// Both must be in blocking mode. Never raises `SIGPIPE` (see the module
/// docs).
///
/// std's buffers are respected (see [`Source`] and [`Sink`]): `to` is
/// flushed first, and if `from` holds bytes it has read ahead (a
/// `BufReader`, `Stdin` after a `read_line`), this call moves those, with
/// one `write`, instead of splicing. For [`Stdin`](std::io::Stdin), which
/// cannot show an empty buffer without filling it, every call moves the
/// next bytes through std's buffer; use [`copy`] to splice from it.
///
/// # Errors
///
/// [`Error::Os`] naming the failed call (`"splice"`, or `"read"` or
/// `"write"` for the buffered bytes), with the errno as its source:
/// `EINVAL` from `splice` when neither end is a pipe or an end cannot be
/// spliced (a file opened with `O_APPEND`, a terminal...; [`copy`] falls
/// back to read and write then), `EPIPE` (kind `BrokenPipe`) for a pipe
/// without reader.
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
pub fn splice(mut from: impl Source, mut to: impl Sink, len: usize) -> Result<usize> {
    use sealed::{Ahead, Behind};
    let mut src = from.source();
    let mut dst = to.sink();
    let mut call = "write";
    sys::pipe::without_sigpipe(&mut dst, |dst| {
        call = "write";
        dst.flush()?;
        call = "read";
        if let Some(bytes) = src.ahead()? {
            if bytes.is_empty() || len == 0 {
                return Ok(0);
            }
            call = "write";
            let n = sys::pipe::write(dst.as_fd(), &bytes[..len.min(bytes.len())])?;
            src.consume(n);
            return Ok(n);
        }
        call = "splice";
        match sys::pipe::splice(src.as_fd(), dst.as_fd(), len) {
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                fallback_once(src.as_fd(), dst.as_fd(), len)
            }
            other => other,
        }
    })
    .map_err(|e| Error::os(call, e))
}

#[cfg(unix)]
fn is_einval(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINVAL)
}

/// `write` until all of `buf` is written.
#[cfg(unix)]
fn write_all_fd(fd: std::os::fd::BorrowedFd<'_>, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match sys::pipe::write(fd, buf)? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

/// One read of up to `len` bytes (at most 64 KiB), written out in full.
#[cfg(unix)]
fn fallback_once(
    from: std::os::fd::BorrowedFd<'_>,
    to: std::os::fd::BorrowedFd<'_>,
    len: usize,
) -> io::Result<usize> {
    let mut buf = vec![0u8; len.min(64 << 10)];
    let n = sys::pipe::read(from, &mut buf)?;
    write_all_fd(to, &buf[..n])?;
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
/// std's buffers are respected, as [`io::copy`] does: `writer` is flushed
/// first (what was printed before comes out before the copied bytes), and
/// the bytes `reader` has already read ahead (a `BufReader`, `Stdin` after
/// a `read_line`) are written out before the descriptor is spliced. See
/// [`Source`] and [`Sink`] for the types accepted. `Stdin` and `Stdout`
/// stay locked for the whole copy.
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
    R: Source + ?Sized,
    W: Sink + ?Sized,
{
    use sealed::{Ahead, Behind};
    let mut src = reader.source();
    let mut dst = writer.sink();
    let mut total = 0u64;
    let mut call = "write";
    sys::pipe::without_sigpipe(&mut dst, |dst| {
        call = "write";
        dst.flush()?;
        // What the reader read ahead, first.
        loop {
            call = "read";
            let n = match src.ahead()? {
                None => break,
                Some([]) => return Ok(total),
                Some(bytes) => {
                    call = "write";
                    sys::pipe::write(dst.as_fd(), bytes)?
                }
            };
            src.consume(n);
            total += n as u64;
        }
        call = "splice";
        let mut spliced = false;
        loop {
            match sys::pipe::splice(src.as_fd(), dst.as_fd(), CHUNK) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    total += n as u64;
                    spliced = true;
                }
                // Not spliceable (first call) or no splice here: fall back.
                Err(e) if !spliced && (is_einval(&e) || e.kind() == io::ErrorKind::Unsupported) => {
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        // The read and write loop, through a 64 KiB buffer.
        let mut buf = vec![0u8; 64 << 10];
        loop {
            call = "read";
            let n = sys::pipe::read(src.as_fd(), &mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            call = "write";
            write_all_fd(dst.as_fd(), &buf[..n])?;
            total += n as u64;
        }
    })
    .map_err(|e| Error::os(call, e))
}
