//! The shell helpers: [`system`], [`popen`], [`popen2`], through
//! `/bin/sh -c cmd` on Unix and `%COMSPEC% /S /C "cmd"` (`cmd.exe`) on
//! Windows (as CPython's `subprocess` with `shell=True`).
//!
//! One public layer for both platforms; what differs stays in small
//! private functions: the shell command line (`shell_command`), the POSIX
//! signal handling of `system` (`posix_system`), the `SIGPIPE` guard around
//! writes (`write_stdin`).

use std::fmt;
use std::io::{self, PipeReader, PipeWriter, Read, Write};

use super::child::Child;
use super::command::{Command, Stdio};
use super::common::PopenMode;
use super::communicate::pump_owned;
#[cfg(unix)]
use crate::Signal;
use crate::error::{Error, Result};
#[cfg(unix)]
use crate::sys::poll::SigpipeBlock;
#[cfg(unix)]
use crate::sys::system as sys_system;
use crate::{ExitStatus, Pid};

/// The command that runs `cmd` in the platform's shell; refuses a NUL byte.
fn shell(cmd: &str) -> Result<Command> {
    if cmd.contains('\0') {
        return Err(Error::NulByte {
            what: "command",
            value: cmd.into(),
        });
    }
    Ok(shell_command(cmd))
}

/// `/bin/sh -c -- cmd` (named `sh`), the shell POSIX `system` and `popen`
/// use.
#[cfg(unix)]
fn shell_command(cmd: &str) -> Command {
    let mut c = Command::new("/bin/sh");
    c.arg0("sh").args(["-c", "--", cmd]);
    c
}

/// `%COMSPEC% /S /C "cmd"` (`cmd.exe` when `COMSPEC` is unset): `/S` makes
/// `cmd.exe` strip exactly the outer quotes and run the rest as typed, so
/// `cmd` goes as one raw argument, not quoted again.
#[cfg(windows)]
fn shell_command(cmd: &str) -> Command {
    let comspec = std::env::var_os("COMSPEC").unwrap_or_else(|| "cmd.exe".into());
    let mut c = Command::new(comspec);
    c.args(["/S", "/C"]).raw_arg(format!("\"{cmd}\""));
    c
}

/// `system(cmd)`: runs `cmd` with `/bin/sh -c` and waits for it, with
/// POSIX `system()` semantics.
///
/// While the command runs, `SIGINT` and `SIGQUIT` are ignored in the
/// calling process (Ctrl+C stops the command, not us) and `SIGCHLD` is
/// blocked in the calling thread; all three are restored afterwards, also
/// when several threads call `system` at once (the last one out restores).
/// The shell starts with the dispositions and mask the caller had before
/// (an ignored signal stays ignored, a handled one is at its default) and,
/// unlike [`Command`]'s default, inherits every descriptor that is not
/// close-on-exec, as C's `system` does.
///
/// **When `SIGCHLD` is ignored** (or has `SA_NOCLDWAIT`), the kernel would
/// discard the shell's exit status. `system` then sets `SIGCHLD` to its
/// default for as long as it runs, so it can still report the status, and
/// puts the old disposition back afterwards. Another child that exits in
/// that window stays a zombie until it is reaped (for example by
/// [`reap_zombies`](crate::reap::reap_zombies)).
///
/// # Errors
///
/// [`Error::NulByte`] if `cmd` holds a NUL byte; [`Error::Os`] if a
/// disposition or the mask cannot be changed; otherwise as
/// [`Command::spawn`] and [`Child::wait`]. A command the shell cannot find
/// is not an error: it is exit status 127, as with C's `system`.
///
/// # Platform notes
///
/// On Windows the command runs with `%COMSPEC% /S /C "cmd"` (`cmd.exe`)
/// and inherits our stdin, stdout and stderr; there are no signal
/// dispositions to juggle. The status is `cmd.exe`'s exit code
/// (`ExitStatus::Exited(code)`), and a command `cmd.exe` cannot find is
/// exit code 9009.
///
/// # Examples
///
/// ```
/// use procctl::proc::system;
///
/// assert_eq!(system("exit 3")?.code(), Some(3));
/// assert!(system("exit 0")?.success());
/// # #[cfg(unix)] {
/// use procctl::Signal;
/// assert_eq!(system("kill -9 $$")?.signal(), Some(Signal::KILL));
/// assert_eq!(system("no-such-command-here 2>/dev/null")?.code(), Some(127));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn system(cmd: &str) -> Result<ExitStatus> {
    let mut command = shell(cmd)?;
    #[cfg(unix)]
    let _restore = posix_system(&mut command)?;
    command.status()
}

/// The POSIX part of [`system`]: ignores `SIGINT` and `SIGQUIT`, blocks
/// `SIGCHLD` (and sets it to its default if it was ignored) until the
/// returned guard drops, and has the shell start with the caller's original
/// dispositions, mask and descriptors.
#[cfg(unix)]
fn posix_system(command: &mut Command) -> Result<sys_system::Guard> {
    let (guard, original) = sys_system::enter().map_err(|e| Error::os("sigaction", e))?;
    for (sig, ignored) in [
        (Signal::INT, original.int_ignored),
        (Signal::QUIT, original.quit_ignored),
        (Signal::CHLD, original.chld_ignored),
    ] {
        if ignored {
            command.ignore_signal(sig);
        } else {
            command.default_signal(sig);
        }
    }
    command
        .signal_mask(original.mask.iter().filter_map(|&s| Signal::from_raw(s)))
        .inherit_fds(true);
    Ok(guard)
}

/// A command started by [`popen`] or [`popen2`]: read its stdout, write
/// its stdin, then [`close`](Popen::close) it for its exit status.
///
/// `Read` reads the command's stdout and `Write` writes its stdin; using
/// the side that is not connected fails with
/// [`io::ErrorKind::Unsupported`]. Dropping a `Popen` does what `close`
/// does (closes the pipes, then waits for the command), ignoring errors:
/// like C's `pclose`, it blocks until the command ends.
///
/// # Platform notes
///
/// On Windows the command is `cmd.exe`, whose `echo` ends lines with
/// `\r\n`.
///
/// # Examples
///
/// ```
/// use std::io::Read;
///
/// let mut p = procctl::proc::popen("echo hello", procctl::proc::PopenMode::Read)?;
/// let mut text = String::new();
/// p.read_to_string(&mut text)?;
/// # #[cfg(unix)]
/// assert_eq!(text, "hello\n");
/// # #[cfg(windows)]
/// # assert_eq!(text, "hello\r\n");
/// assert!(p.close()?.success());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Popen {
    child: Child,
    stdin: Option<PipeWriter>,
    stdout: Option<PipeReader>,
    /// `communicate` read stdout to its end (and closed it).
    stdout_drained: bool,
    /// Set once `close` has closed the pipes and waited.
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

/// `popen(cmd, mode)`: starts `/bin/sh -c cmd` with a pipe to its stdout
/// ([`PopenMode::Read`]) or from its stdin ([`PopenMode::Write`]); the
/// other stdio streams are ours.
///
/// The command gets only descriptors 0-2 (see [`Command`]); it starts
/// running at once. Python's `os.popen`.
///
/// # Errors
///
/// [`Error::NulByte`] if `cmd` holds a NUL byte; otherwise as
/// [`Command::spawn`]. A command the shell cannot find is not an error
/// here: [`Popen::close`] reports exit status 127.
///
/// # Platform notes
///
/// On Windows the command runs with `%COMSPEC% /S /C "cmd"` (`cmd.exe`),
/// and a command `cmd.exe` cannot find is exit code 9009.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use procctl::proc::{popen, PopenMode};
///
/// # #[cfg(unix)]
/// let mut p = popen("cat > /dev/null", PopenMode::Write)?;
/// # #[cfg(windows)]
/// # let mut p = popen("more > NUL", PopenMode::Write)?;
/// p.write_all(b"into the void\n")?;
/// assert!(p.close()?.success()); // closes stdin first: cat sees EOF
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

/// `popen2(cmd)`: starts `/bin/sh -c cmd` with pipes to both its stdin
/// and its stdout. Use [`Popen::communicate`] to write and read without
/// deadlock.
///
/// # Errors
///
/// As [`popen`].
///
/// # Platform notes
///
/// On Windows the command runs with `%COMSPEC% /S /C "cmd"` (`cmd.exe`).
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// let mut p = procctl::proc::popen2("sort")?;
/// let out = p.communicate(b"pear\napple\n")?;
/// assert_eq!(out, b"apple\npear\n");
/// assert!(p.close()?.success());
/// # }
/// # #[cfg(windows)] {
/// # let mut p = procctl::proc::popen2("more")?; // copies stdin to stdout
/// # let out = p.communicate(b"pear\r\napple\r\n")?;
/// # assert_eq!(String::from_utf8_lossy(&out).trim_end(), "pear\r\napple");
/// # assert!(p.close()?.success());
/// # }
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
            stdout_drained: false,
            closed: false,
        })
    }

    /// The command's process id: the shell's (`cmd.exe`'s on Windows).
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
    /// Deadlock-free however much flows each way (see
    /// [`Child::communicate`]). A command that stops reading is not an
    /// error: the rest of `input` is dropped.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `input` is not empty but stdin is not
    /// connected (a [`PopenMode::Read`] `popen`); [`Error::Os`] if a read
    /// or write fails for another reason.
    ///
    /// # Platform notes
    ///
    /// On Unix one `poll` loop moves the data; on Windows a writer and a
    /// reader thread do. On both, stdout is then exhausted: a later `read`
    /// returns 0.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// let mut p = procctl::proc::popen2("tr a-z A-Z")?;
    /// assert_eq!(p.communicate(b"loud")?, b"LOUD");
    /// p.close()?;
    /// # }
    /// # #[cfg(windows)] {
    /// # let mut p = procctl::proc::popen2("more")?;
    /// # let out = p.communicate(b"loud\r\n")?;
    /// # assert_eq!(String::from_utf8_lossy(&out).trim_end(), "loud");
    /// # p.close()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn communicate(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        if self.stdin.is_none() && !input.is_empty() {
            return Err(Error::InvalidArgument {
                what: "communicate input",
                value: format!("{} bytes for a popen without stdin", input.len()),
            });
        }
        let drains = self.stdout.is_some();
        let [out, _] = pump_owned(self.stdin.take(), input, [self.stdout.take(), None], None)?
            .expect("no deadline");
        self.stdout_drained |= drains;
        Ok(out)
    }

    /// `pclose` (`_pclose` on Windows): closes the pipes (so a command
    /// reading stdin sees end-of-file), then waits for the command and
    /// returns its status.
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
    /// Reads the command's stdout.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.stdout {
            Some(r) => r.read(buf),
            None if self.stdout_drained => Ok(0),
            None => Err(Popen::unconnected("stdout")),
        }
    }
}

impl Write for Popen {
    /// Writes the command's stdin. A command that stopped reading gives
    /// [`io::ErrorKind::BrokenPipe`], never a `SIGPIPE` that would kill
    /// us (on Unix it is blocked in this thread around the write).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.stdin {
            Some(w) => write_stdin(w, buf),
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

/// One write to the command's stdin with `SIGPIPE` blocked in this thread;
/// a `SIGPIPE` the write itself raised is taken back.
#[cfg(unix)]
fn write_stdin(w: &mut PipeWriter, buf: &[u8]) -> io::Result<usize> {
    let block = SigpipeBlock::new()?;
    let ret = w.write(buf);
    block.finish(matches!(&ret, Err(e) if e.kind() == io::ErrorKind::BrokenPipe));
    ret
}

/// One write to the command's stdin (Windows has no `SIGPIPE`).
#[cfg(windows)]
fn write_stdin(w: &mut PipeWriter, buf: &[u8]) -> io::Result<usize> {
    w.write(buf)
}

impl Drop for Popen {
    fn drop(&mut self) {
        if !self.closed {
            let _ = self.close_and_wait();
        }
    }
}
