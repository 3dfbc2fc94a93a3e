//! The shell helpers on Windows: [`system`], [`popen`], [`popen2`], through
//! `cmd.exe /S /C "cmd"` (as CPython's `subprocess` with `shell=True`).

use std::fmt;
use std::io::{self, PipeReader, PipeWriter, Read, Write};

use super::child::Child;
use super::command::{Command, Stdio};
use super::common::PopenMode;
use super::communicate::pump;
use crate::error::{Error, Result};
use crate::{ExitStatus, Pid};

/// `%COMSPEC% /S /C "cmd"`: `/S` makes `cmd.exe` strip exactly the outer
/// quotes and run the rest as typed.
fn shell(cmd: &str) -> Result<Command> {
    if cmd.contains('\0') {
        return Err(Error::NulByte {
            what: "command",
            value: cmd.into(),
        });
    }
    let comspec = std::env::var_os("COMSPEC").unwrap_or_else(|| "cmd.exe".into());
    let mut c = Command::new(comspec);
    c.args(["/S", "/C"]).raw_arg(format!("\"{cmd}\""));
    Ok(c)
}

/// `system(cmd)`: runs `cmd` with `cmd.exe /C` and waits for it.
///
/// The command inherits our stdin, stdout and stderr. Its status is
/// `cmd.exe`'s exit code (`ExitStatus::Exited(code)`).
///
/// # Errors
///
/// [`Error::NulByte`] if `cmd` holds a NUL byte; otherwise as
/// [`Command::spawn`] and [`Child::wait`]. A command `cmd.exe` cannot find
/// is not an error: it is exit code 9009.
///
/// # Examples
///
/// ```
/// use procctl::proc::system;
///
/// assert_eq!(system("exit 3")?.code(), Some(3));
/// assert!(system("exit 0")?.success());
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn system(cmd: &str) -> Result<ExitStatus> {
    shell(cmd)?.status()
}

/// A command started by [`popen`] or [`popen2`]: read its stdout, write
/// its stdin, then [`close`](Popen::close) it for its exit status.
///
/// `Read` reads the command's stdout and `Write` writes its stdin; using
/// the side that is not connected fails with
/// [`io::ErrorKind::Unsupported`]. Dropping a `Popen` does what `close`
/// does (closes the pipes, then waits for the command), ignoring errors.
///
/// # Examples
///
/// ```
/// use std::io::Read;
///
/// let mut p = procctl::proc::popen("echo hello", procctl::proc::PopenMode::Read)?;
/// let mut text = String::new();
/// p.read_to_string(&mut text)?;
/// assert_eq!(text, "hello\r\n");
/// assert!(p.close()?.success());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Popen {
    child: Child,
    stdin: Option<PipeWriter>,
    stdout: Option<PipeReader>,
    closed: bool,
}

impl fmt::Debug for Popen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Popen")
            .field("pid", &self.child.pid())
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .finish()
    }
}

/// `popen(cmd, mode)`: runs `cmd` with `cmd.exe /C`, connecting either its
/// stdout ([`PopenMode::Read`]) or its stdin ([`PopenMode::Write`]) to the
/// returned [`Popen`].
///
/// # Errors
///
/// As [`system`].
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use procctl::proc::{popen, PopenMode};
///
/// let mut p = popen("more > NUL", PopenMode::Write)?;
/// p.write_all(b"into the void\r\n")?;
/// assert!(p.close()?.success());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn popen(cmd: &str, mode: PopenMode) -> Result<Popen> {
    let mut c = shell(cmd)?;
    match mode {
        PopenMode::Read => c.stdout(Stdio::piped()),
        PopenMode::Write => c.stdin(Stdio::piped()),
    };
    Popen::start(&mut c)
}

/// `popen2(cmd)`: runs `cmd` with `cmd.exe /C` with both its stdin and its
/// stdout connected to the returned [`Popen`].
///
/// # Errors
///
/// As [`system`].
///
/// # Examples
///
/// ```
/// let mut p = procctl::proc::popen2("more")?; // copies stdin to stdout
/// let out = p.communicate(b"pear\r\napple\r\n")?;
/// assert_eq!(String::from_utf8_lossy(&out).trim_end(), "pear\r\napple");
/// assert!(p.close()?.success());
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn popen2(cmd: &str) -> Result<Popen> {
    let mut c = shell(cmd)?;
    c.stdin(Stdio::piped()).stdout(Stdio::piped());
    Popen::start(&mut c)
}

impl Popen {
    fn start(command: &mut Command) -> Result<Popen> {
        let child = command.spawn()?;
        Ok(Popen {
            stdin: child.take_stdin(),
            stdout: child.take_stdout(),
            child,
            closed: false,
        })
    }

    /// The command's process id (`cmd.exe`'s).
    ///
    /// ```
    /// let p = procctl::proc::popen("exit 0", procctl::proc::PopenMode::Read)?;
    /// assert_ne!(p.pid(), procctl::Pid::current());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn pid(&self) -> Pid {
        self.child.pid()
    }

    /// Writes `input` to the command's stdin while reading its stdout,
    /// closes stdin, and returns the rest of stdout (to end-of-file).
    /// Does not wait: [`close`](Popen::close) gives the status.
    ///
    /// Deadlock-free however much flows each way (a writer and a reader
    /// thread, see [`Child::communicate`]). A command that stops reading is
    /// not an error: the rest of `input` is dropped.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `input` is not empty but stdin is not
    /// connected (a [`PopenMode::Read`] `popen`); [`Error::Os`] if a read
    /// or write fails for another reason.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut p = procctl::proc::popen2("more")?;
    /// let out = p.communicate(b"loud\r\n")?;
    /// assert_eq!(String::from_utf8_lossy(&out).trim_end(), "loud");
    /// p.close()?;
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn communicate(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        if self.stdin.is_none() && !input.is_empty() {
            return Err(Error::InvalidArgument {
                what: "communicate input",
                value: format!("{} bytes for a popen without stdin", input.len()),
            });
        }
        let [out, _] =
            pump(self.stdin.take(), input, [self.stdout.take(), None], None)?.expect("no deadline");
        Ok(out)
    }

    /// `_pclose`: closes the pipes (so a command reading stdin sees
    /// end-of-file), then waits for the command and returns its status.
    ///
    /// # Errors
    ///
    /// As [`Child::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// let p = procctl::proc::popen("exit 5", procctl::proc::PopenMode::Read)?;
    /// assert_eq!(p.close()?.code(), Some(5));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "pclose")]
    pub fn close(mut self) -> Result<ExitStatus> {
        self.close_and_wait()
    }

    fn close_and_wait(&mut self) -> Result<ExitStatus> {
        self.stdin = None;
        self.stdout = None;
        self.closed = true;
        self.child.wait()
    }

    fn unconnected(what: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            format!("popen: the command's {what} is not connected to this handle"),
        )
    }
}

impl Read for Popen {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.stdout {
            Some(r) => r.read(buf),
            None => Err(Popen::unconnected("stdout")),
        }
    }
}

impl Write for Popen {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.stdin {
            Some(w) => w.write(buf),
            None => Err(Popen::unconnected("stdin")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.stdin {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Popen {
    fn drop(&mut self) {
        if !self.closed {
            let _ = self.close_and_wait();
        }
    }
}
