//! [`Command`]: start a program, its set-up described as data.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{PipeReader, PipeWriter};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::child::{Child, DropPolicy, Shared};
use super::communicate::Output;
use crate::error::{Error, Result, SpawnStep};
use crate::sys::ExecPlan;
use crate::sys::exec::to_cstring;
use crate::sys::spawn::{self, FdMove, Request};
use crate::{ExitStatus, Pid, Signal, reap, sys};

/// What a child's stdin, stdout or stderr is connected to.
///
/// Given to [`Command::stdin`], [`Command::stdout`] and
/// [`Command::stderr`]. Made with [`Stdio::inherit`], [`Stdio::null`],
/// [`Stdio::piped`], or from anything that owns a descriptor: an
/// [`OwnedFd`], a [`File`], a pipe end.
///
/// # Examples
///
/// ```
/// use procctl::proc::{Command, Stdio};
///
/// let log = std::fs::File::create(std::env::temp_dir().join("procctl-stdio-doc.log"))?;
/// let status = Command::new("sh")
///     .args(["-c", "echo to the log"])
///     .stdin(Stdio::null())
///     .stdout(log)
///     .status()?;
/// assert!(status.success());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Stdio(Kind);

enum Kind {
    Inherit,
    Null,
    Piped,
    Fd(OwnedFd),
}

impl Stdio {
    /// The child uses the parent's descriptor (the default for
    /// [`Command::spawn`] and [`Command::status`]).
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// let status = Command::new("true").stdout(Stdio::inherit()).status()?;
    /// assert!(status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn inherit() -> Stdio {
        Stdio(Kind::Inherit)
    }

    /// `/dev/null`: reading gives end-of-file, writing discards.
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// let out = Command::new("cat").stdin(Stdio::null()).output()?;
    /// assert!(out.stdout.is_empty());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn null() -> Stdio {
        Stdio(Kind::Null)
    }

    /// A new pipe; the parent's end is in the [`Child`]
    /// ([`Child::take_stdin`], [`Child::take_stdout`],
    /// [`Child::take_stderr`], [`Child::communicate`]).
    ///
    /// ```
    /// use std::io::Read;
    /// use procctl::proc::{Command, Stdio};
    ///
    /// let child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
    /// let mut text = String::new();
    /// child.take_stdout().unwrap().read_to_string(&mut text)?;
    /// assert_eq!(text, "hi\n");
    /// child.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn piped() -> Stdio {
        Stdio(Kind::Piped)
    }
}

impl fmt::Debug for Stdio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Inherit => f.write_str("Stdio::inherit()"),
            Kind::Null => f.write_str("Stdio::null()"),
            Kind::Piped => f.write_str("Stdio::piped()"),
            Kind::Fd(fd) => write!(f, "Stdio::from(fd {})", fd.as_raw_fd()),
        }
    }
}

impl From<OwnedFd> for Stdio {
    /// The child gets this descriptor (a copy of it: the parent keeps its
    /// own until the `Command` is dropped).
    fn from(fd: OwnedFd) -> Stdio {
        Stdio(Kind::Fd(fd))
    }
}

impl From<File> for Stdio {
    /// The child reads or writes this file.
    fn from(file: File) -> Stdio {
        Stdio(Kind::Fd(file.into()))
    }
}

impl From<PipeReader> for Stdio {
    /// The child reads from this pipe (use it for stdin).
    fn from(pipe: PipeReader) -> Stdio {
        Stdio(Kind::Fd(pipe.into()))
    }
}

impl From<PipeWriter> for Stdio {
    /// The child writes into this pipe (use it for stdout or stderr).
    fn from(pipe: PipeWriter) -> Stdio {
        Stdio(Kind::Fd(pipe.into()))
    }
}

/// A program to start, with everything about its start described as data:
/// arguments, environment, working directory, stdio, process group and
/// session, the descriptors it gets, its signal mask and dispositions.
///
/// Shaped like [`std::process::Command`], so it reads familiar; the child
/// set-up that std only offers through an `unsafe` `pre_exec` closure is
/// here as builder methods. The builder methods return `&mut Self`;
/// [`spawn`](Command::spawn), [`status`](Command::status) and
/// [`output`](Command::output) may be called any number of times.
///
/// What the child gets, unless told otherwise:
///
/// - **Descriptors**: only 0, 1 and 2. Every other descriptor is closed
///   in the child, whether or not it is close-on-exec; name the ones to
///   pass with [`keep_fd`](Command::keep_fd) or
///   [`map_fd`](Command::map_fd), or turn the allowlist off with
///   [`inherit_fds`](Command::inherit_fds).
/// - **Signals**: every signal with a handler in the parent is at its
///   default (as `execve` does), `SIGPIPE` too (Rust programs ignore it;
///   the programs they start should not); other ignored signals stay
///   ignored (POSIX inheritance); the signal mask is empty, as with std
///   (a signal blocked by the spawning thread must not stay blocked in the
///   program: set one with [`signal_mask`](Command::signal_mask)).
/// - **Program lookup**: a name without a slash is searched in `PATH` like
///   `execvp` (the child's `PATH` if [`env`](Command::env) sets it, else
///   ours), and a file without a `#!` line that the kernel refuses
///   (`ENOEXEC`) runs under `/bin/sh`.
///
/// # How it starts the program
///
/// Nothing is forked to be exec'd. On Linux the child is made with
/// `clone3(CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_CLEAR_SIGHAND)`:
/// it borrows our memory until its `execve`, so the cost does not grow
/// with the size of the parent, and the kernel hands us a pidfd for it.
/// Every string, argv, envp and `PATH` candidate is built before; the
/// child only makes async-signal-safe system calls until `execve` or
/// `_exit`. It is safe to spawn from any number of threads at once.
///
/// # Errors
///
/// See [`Command::spawn`].
///
/// # Platform notes
///
/// On Windows, `Command` is built on `std::process::Command`
/// (`CreateProcessW`) and offers the portable methods only: `arg0`,
/// `process_group`, `setsid`, `keep_fd`, `map_fd`, `inherit_fds`,
/// `signal_mask`, `ignore_signal` and `default_signal` are `cfg(unix)`.
/// On Linux older than 5.5 (or where seccomp refuses
/// `clone3`) it falls back to `clone(CLONE_VM | CLONE_VFORK)`, resetting
/// handlers by hand; on macOS and the BSDs it uses `fork` + `execve`.
///
/// # Examples
///
/// ```
/// use procctl::proc::Command;
///
/// let out = Command::new("sh")
///     .args(["-c", "echo $GREETING from $(pwd)"])
///     .env("GREETING", "hello")
///     .current_dir("/")
///     .output()?;
/// assert!(out.status.success());
/// assert_eq!(out.stdout, b"hello from /\n");
/// # Ok::<(), procctl::Error>(())
/// ```
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    arg0: Option<OsString>,
    env_clear: bool,
    env: BTreeMap<OsString, Option<OsString>>,
    cwd: Option<PathBuf>,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    pgroup: Option<i32>,
    setsid: bool,
    keep: Vec<RawFd>,
    maps: Vec<(OwnedFd, RawFd)>,
    inherit_fds: bool,
    mask: Option<Vec<Signal>>,
    ignore: Vec<Signal>,
    default: Vec<Signal>,
    drop_policy: DropPolicy,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("arg0", &self.arg0)
            .field("env_clear", &self.env_clear)
            .field("env", &self.env)
            .field("current_dir", &self.cwd)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .field("process_group", &self.pgroup)
            .field("setsid", &self.setsid)
            .field("keep_fds", &self.keep)
            .field(
                "map_fds",
                &self
                    .maps
                    .iter()
                    .map(|(fd, to)| (fd.as_raw_fd(), *to))
                    .collect::<Vec<_>>(),
            )
            .field("inherit_fds", &self.inherit_fds)
            .field("signal_mask", &self.mask)
            .field("ignore_signals", &self.ignore)
            .field("default_signals", &self.default)
            .field("drop_policy", &self.drop_policy)
            .finish()
    }
}

/// Which stdio a `spawn` defaults to where none was set.
#[derive(Clone, Copy)]
enum StdioDefault {
    Inherit,
    Null,
    Piped,
}

impl Command {
    /// A command that runs `program` with no arguments.
    ///
    /// A `program` without a slash is searched in `PATH` when the command
    /// is started.
    ///
    /// ```
    /// let status = procctl::proc::Command::new("true").status()?;
    /// assert!(status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            arg0: None,
            env_clear: false,
            env: BTreeMap::new(),
            cwd: None,
            stdin: None,
            stdout: None,
            stderr: None,
            pgroup: None,
            setsid: false,
            keep: Vec::new(),
            maps: Vec::new(),
            inherit_fds: false,
            mask: None,
            ignore: Vec::new(),
            default: Vec::new(),
            drop_policy: DropPolicy::Reap,
        }
    }

    /// Adds one argument.
    ///
    /// ```
    /// let out = procctl::proc::Command::new("echo").arg("a b").output()?;
    /// assert_eq!(out.stdout, b"a b\n");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds several arguments.
    ///
    /// ```
    /// let out = procctl::proc::Command::new("echo").args(["a", "b"]).output()?;
    /// assert_eq!(out.stdout, b"a b\n");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets `argv[0]`, the name the program sees for itself (default: the
    /// program as given to [`Command::new`]).
    ///
    /// ```
    /// let out = procctl::proc::Command::new("sh")
    ///     .arg0("my-shell")
    ///     .args(["-c", "echo $0"])
    ///     .output()?;
    /// assert_eq!(out.stdout, b"my-shell\n");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn arg0(&mut self, arg0: impl AsRef<OsStr>) -> &mut Command {
        self.arg0 = Some(arg0.as_ref().to_owned());
        self
    }

    /// Sets an environment variable in the child.
    ///
    /// Setting `PATH` also changes where the program is looked up.
    ///
    /// ```
    /// let out = procctl::proc::Command::new("sh")
    ///     .args(["-c", "echo $COLOUR"])
    ///     .env("COLOUR", "green")
    ///     .output()?;
    /// assert_eq!(out.stdout, b"green\n");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.env
            .insert(key.as_ref().to_owned(), Some(value.as_ref().to_owned()));
        self
    }

    /// Sets several environment variables.
    ///
    /// ```
    /// let out = procctl::proc::Command::new("sh")
    ///     .args(["-c", "echo $A$B"])
    ///     .envs([("A", "1"), ("B", "2")])
    ///     .output()?;
    /// assert_eq!(out.stdout, b"12\n");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// Removes an environment variable from the child's environment.
    ///
    /// ```
    /// let out = procctl::proc::Command::new("sh")
    ///     .args(["-c", "echo ${HOME-unset}"])
    ///     .env_remove("HOME")
    ///     .output()?;
    /// assert_eq!(out.stdout, b"unset\n");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.env.insert(key.as_ref().to_owned(), None);
        self
    }

    /// Starts the child with an empty environment, plus what
    /// [`env`](Command::env) adds afterwards. The program is still looked
    /// up in our `PATH` unless `PATH` is set for the child.
    ///
    /// ```
    /// let out = procctl::proc::Command::new("/usr/bin/env")
    ///     .env_clear()
    ///     .env("ONLY", "me")
    ///     .output()?;
    /// assert_eq!(out.stdout, b"ONLY=me\n");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// `chdir(dir)` in the child before it execs. A relative program path
    /// and relative `PATH` entries are then relative to `dir`.
    ///
    /// ```
    /// let out = procctl::proc::Command::new("pwd").current_dir("/").output()?;
    /// assert_eq!(out.stdout, b"/\n");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// The child's stdin (default: inherited; `/dev/null` for
    /// [`output`](Command::output)).
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// let child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    /// let out = child.communicate(b"fed in")?;
    /// assert_eq!(out.stdout, b"fed in");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn stdin(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.stdin = Some(stdio.into());
        self
    }

    /// The child's stdout (default: inherited; a pipe for
    /// [`output`](Command::output)).
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// let status = Command::new("echo").arg("quiet").stdout(Stdio::null()).status()?;
    /// assert!(status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn stdout(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.stdout = Some(stdio.into());
        self
    }

    /// The child's stderr (default: inherited; a pipe for
    /// [`output`](Command::output)).
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// let out = Command::new("sh").args(["-c", "echo oops >&2"]).stdout(Stdio::null()).output()?;
    /// assert_eq!(out.stderr, b"oops\n");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn stderr(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.stderr = Some(stdio.into());
        self
    }

    /// `setpgid(0, pgid)` in the child: `0` puts it in a new process group
    /// that it leads (pgid = its pid), another value joins that group.
    ///
    /// # Errors
    ///
    /// At spawn: [`Error::InvalidArgument`] for a negative `pgid`;
    /// [`Error::Spawn`] with step [`SpawnStep::Setpgid`] if the kernel
    /// refuses (no such group in our session: `EPERM`).
    ///
    /// ```
    /// use procctl::proc::{Command, getpgid};
    ///
    /// let child = Command::new("sleep").arg("10").process_group(0).spawn()?;
    /// // spawn returns once the child runs the program: its set-up is done.
    /// assert_eq!(getpgid(Some(child.pid()))?, Some(child.pid()));
    /// child.kill()?;
    /// child.wait()?;
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "setpgid")]
    pub fn process_group(&mut self, pgid: i32) -> &mut Command {
        self.pgroup = Some(pgid);
        self
    }

    /// `setsid()` in the child: it starts a new session (and process
    /// group) that it leads, with no controlling terminal.
    ///
    /// # Errors
    ///
    /// At spawn: [`Error::Spawn`] with step [`SpawnStep::Setsid`] if the
    /// kernel refuses; combined with [`process_group`](Command::process_group),
    /// `setpgid` runs after `setsid` and fails with `EPERM` unless it names
    /// the new session's group.
    ///
    /// ```
    /// use procctl::proc::{Command, getsid};
    ///
    /// let child = Command::new("sleep").arg("10").setsid(true).spawn()?;
    /// assert_eq!(getsid(Some(child.pid()))?, Some(child.pid()));
    /// child.kill()?;
    /// child.wait()?;
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn setsid(&mut self, on: bool) -> &mut Command {
        self.setsid = on;
        self
    }

    /// Passes descriptor `fd` to the child at the same number, even if it
    /// is close-on-exec in the parent (the flag is cleared in the child
    /// only). The caller keeps ownership: `fd` must stay open until the
    /// child is started.
    ///
    /// # Errors
    ///
    /// At spawn: [`Error::Spawn`] with step [`SpawnStep::Dup2`] and
    /// `EBADF` if `fd` is not open.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use procctl::proc::Command;
    ///
    /// let file = std::fs::File::open("/etc/hostname").or_else(|_| std::fs::File::open("/dev/null"))?;
    /// let fd = file.as_raw_fd();
    /// let status = Command::new("sh")
    ///     .args(["-c", &format!("test -e /dev/fd/{fd}")])
    ///     .keep_fd(fd)
    ///     .status()?;
    /// assert!(status.success());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keep_fd(&mut self, fd: RawFd) -> &mut Command {
        self.keep.push(fd);
        self
    }

    /// Passes `fd` to the child as descriptor number `child_fd` (socket
    /// activation passes its socket as 3, for example). The `Command`
    /// owns `fd` and closes it when dropped. Mapping onto 0, 1 or 2
    /// replaces that stdio setting. Mapping two descriptors to one number:
    /// the last wins.
    ///
    /// # Errors
    ///
    /// At spawn: [`Error::InvalidArgument`] for a negative `child_fd`.
    ///
    /// ```
    /// use procctl::proc::Command;
    ///
    /// let path = std::env::temp_dir().join("procctl-map-fd-doc.txt");
    /// std::fs::write(&path, "on fd 3\n")?;
    /// let out = Command::new("sh")
    ///     .args(["-c", "cat <&3"])
    ///     .map_fd(std::fs::File::open(&path)?.into(), 3)
    ///     .output()?;
    /// assert_eq!(out.stdout, b"on fd 3\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map_fd(&mut self, fd: OwnedFd, child_fd: RawFd) -> &mut Command {
        self.maps.retain(|(_, to)| *to != child_fd);
        self.maps.push((fd, child_fd));
        self
    }

    /// `true` turns the descriptor allowlist off: the child inherits every
    /// descriptor that is not close-on-exec (POSIX behaviour, what C's
    /// `system` does). Default `false`: only 0-2 and the kept and mapped
    /// ones.
    ///
    /// ```
    /// let status = procctl::proc::Command::new("true").inherit_fds(true).status()?;
    /// assert!(status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn inherit_fds(&mut self, on: bool) -> &mut Command {
        self.inherit_fds = on;
        self
    }

    /// The child's signal mask: exactly these signals are blocked when the
    /// program starts (default: none, whatever the calling thread blocks).
    ///
    /// Takes a [`SigSet`](crate::signal::SigSet) or any other collection of
    /// signals.
    ///
    /// ```
    /// use procctl::{Signal, proc::Command};
    ///
    /// # if cfg!(target_os = "linux") {
    /// let out = Command::new("cat")
    ///     .arg("/proc/self/status")
    ///     .signal_mask([Signal::USR1])
    ///     .output()?;
    /// let status = String::from_utf8_lossy(&out.stdout);
    /// // SIGUSR1 is signal 10: bit 9.
    /// assert!(status.contains("SigBlk:\t0000000000000200"));
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "sigprocmask")]
    pub fn signal_mask(&mut self, signals: impl IntoIterator<Item = Signal>) -> &mut Command {
        self.mask = Some(signals.into_iter().collect());
        self
    }

    /// Starts the child with `signal` ignored (`SIG_IGN`, which survives
    /// `execve`), as `nohup` does for `SIGHUP`.
    ///
    /// # Errors
    ///
    /// At spawn: [`Error::InvalidArgument`] for `SIGKILL` and `SIGSTOP`.
    ///
    /// ```
    /// use procctl::{Signal, proc::Command};
    /// let out = Command::new("sh")
    ///     .args(["-c", "kill -HUP $$; echo survived"])
    ///     .ignore_signal(Signal::HUP)
    ///     .output()?;
    /// assert_eq!(out.stdout, b"survived\n");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn ignore_signal(&mut self, signal: Signal) -> &mut Command {
        self.default.retain(|s| *s != signal);
        self.ignore.push(signal);
        self
    }

    /// Starts the child with `signal` at its default action (`SIG_DFL`),
    /// even if it is ignored in the parent.
    ///
    /// # Errors
    ///
    /// At spawn: [`Error::InvalidArgument`] for `SIGKILL` and `SIGSTOP`.
    ///
    /// ```
    /// use procctl::{Signal, proc::Command};
    /// let status = Command::new("sh")
    ///     .args(["-c", "kill -TERM $$; exit 0"])
    ///     .default_signal(Signal::TERM)
    ///     .status()?;
    /// assert_eq!(status.signal(), Some(Signal::TERM));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn default_signal(&mut self, signal: Signal) -> &mut Command {
        self.ignore.retain(|s| *s != signal);
        self.default.push(signal);
        self
    }

    /// The [`DropPolicy`] of the [`Child`] that [`spawn`](Command::spawn)
    /// returns (default [`DropPolicy::Reap`]).
    ///
    /// ```
    /// use procctl::proc::{Command, DropPolicy};
    /// let child = Command::new("sleep").arg("60").drop_policy(DropPolicy::KillAndReap).spawn()?;
    /// assert_eq!(child.drop_policy(), DropPolicy::KillAndReap);
    /// drop(child); // killed and reaped
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn drop_policy(&mut self, policy: DropPolicy) -> &mut Command {
        self.drop_policy = policy;
        self
    }

    /// Starts the program and returns its [`Child`] without waiting.
    ///
    /// Stdio not set is inherited. The `Child` holds the parent's end of
    /// every piped stdio and, on Linux, a pidfd; dropping it does not kill
    /// the program (see [`DropPolicy`]), and procctl reaps it once it exits.
    ///
    /// # Errors
    ///
    /// Before anything runs: [`Error::NulByte`] for a NUL byte in the
    /// program, an argument, an environment entry or the directory;
    /// [`Error::InvalidArgument`] for an empty program, an environment
    /// name that is empty or holds `=`, a negative process group or
    /// mapped fd, or `SIGKILL`/`SIGSTOP` in the dispositions.
    ///
    /// From the child, each naming the program and the step that failed:
    /// [`Error::NotFound`] (exec `ENOENT`: no such program, or not in
    /// `PATH`), [`Error::PermissionDenied`] (exec `EACCES`: not executable,
    /// a directory), else [`Error::Spawn`] with the [`SpawnStep`] (`chdir`,
    /// `dup2`, `setsid`, `setpgid`, signal set-up, close fds, exec) and the
    /// errno. In the parent: [`Error::ResourceLimit`] when the process,
    /// descriptor or memory limit stops it from creating the process, a
    /// pipe or opening `/dev/null` (`EAGAIN`, `EMFILE`, `ENFILE`,
    /// `ENOMEM`), else [`Error::Spawn`] with [`SpawnStep::Fork`],
    /// [`SpawnStep::Pipe`] or [`SpawnStep::Open`].
    /// [`Error::spawn_step`] and [`Error::raw_os_error`] give both without
    /// parsing text.
    ///
    /// A failed spawn leaves no zombie and no descriptor behind.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::{Error, error::SpawnStep, proc::Command};
    ///
    /// let child = Command::new("sleep").arg("0").spawn()?;
    /// assert!(child.wait()?.success());
    ///
    /// let err = Command::new("no-such-program-here").spawn().unwrap_err();
    /// assert!(matches!(err, Error::NotFound { .. }));
    ///
    /// let err = Command::new("true").current_dir("/no/such/dir").spawn().unwrap_err();
    /// assert_eq!(err.spawn_step(), Some(SpawnStep::Chdir));
    /// assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "posix_spawn")]
    #[doc(alias = "vfork")]
    #[doc(alias = "clone3")]
    pub fn spawn(&mut self) -> Result<Child> {
        self.spawn_with([StdioDefault::Inherit; 3])
    }

    /// Starts the program and waits for it: [`spawn`](Command::spawn) then
    /// [`Child::wait`]. Stdio not set is inherited.
    ///
    /// # Errors
    ///
    /// As [`Command::spawn`] and [`Child::wait`].
    ///
    /// ```
    /// let status = procctl::proc::Command::new("sh").args(["-c", "exit 3"]).status()?;
    /// assert_eq!(status.code(), Some(3));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn status(&mut self) -> Result<ExitStatus> {
        self.spawn_with([StdioDefault::Inherit; 3])?.wait()
    }

    /// Starts the program, collects its stdout and stderr, waits for it.
    ///
    /// Unless set otherwise, stdin is `/dev/null` and stdout and stderr are
    /// pipes (as std's `output`). Both are read at once with `poll`, so a
    /// program that fills one while we read the other cannot deadlock.
    ///
    /// # Errors
    ///
    /// As [`Command::spawn`] and [`Child::communicate`].
    ///
    /// ```
    /// let out = procctl::proc::Command::new("sh")
    ///     .args(["-c", "echo out; echo err >&2; exit 2"])
    ///     .output()?;
    /// assert_eq!(out.status.code(), Some(2));
    /// assert_eq!(out.stdout, b"out\n");
    /// assert_eq!(out.stderr, b"err\n");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn output(&mut self) -> Result<Output> {
        self.spawn_with([StdioDefault::Null, StdioDefault::Piped, StdioDefault::Piped])?
            .communicate(b"")
    }

    /// The environment for the child: `None` when it is ours unchanged.
    fn envp(&self) -> Result<Option<Vec<CString>>> {
        for key in self.env.keys() {
            if key.is_empty() || key.as_bytes().contains(&b'=') {
                return Err(Error::InvalidArgument {
                    what: "environment variable name",
                    value: format!("{key:?}"),
                });
            }
        }
        if !self.env_clear && self.env.is_empty() {
            return Ok(None);
        }
        let mut vars: BTreeMap<OsString, OsString> = if self.env_clear {
            BTreeMap::new()
        } else {
            std::env::vars_os().collect()
        };
        for (k, v) in &self.env {
            match v {
                Some(v) => vars.insert(k.clone(), v.clone()),
                None => vars.remove(k),
            };
        }
        vars.into_iter()
            .map(|(k, v)| {
                let mut kv = k;
                kv.push("=");
                kv.push(v);
                to_cstring("environment", &kv)
            })
            .collect::<Result<_>>()
            .map(Some)
    }

    /// Where to look for the program: the child's `PATH` if it was set or
    /// removed here, else ours.
    fn search_path(&self) -> Option<OsString> {
        match self.env.get(OsStr::new("PATH")) {
            Some(set) => set.clone(),
            None => std::env::var_os("PATH"),
        }
    }

    fn check_signals(&self) -> Result<()> {
        for &sig in self.ignore.iter().chain(&self.default) {
            if sig == Signal::KILL || sig == Signal::STOP {
                return Err(Error::InvalidArgument {
                    what: "signal disposition",
                    value: format!("{sig} cannot be ignored or reset"),
                });
            }
        }
        if let Some(pg) = self.pgroup.filter(|&pg| pg < 0) {
            return Err(Error::InvalidArgument {
                what: "process group",
                value: pg.to_string(),
            });
        }
        if let Some((_, to)) = self.maps.iter().find(|(_, to)| *to < 0) {
            return Err(Error::InvalidArgument {
                what: "mapped fd",
                value: to.to_string(),
            });
        }
        Ok(())
    }

    fn spawn_with(&self, defaults: [StdioDefault; 3]) -> Result<Child> {
        reap::drain_orphans();
        self.check_signals()?;
        let program = self.program.as_os_str();
        let argv: Vec<&OsStr> = std::iter::once(self.arg0.as_deref().unwrap_or(program))
            .chain(self.args.iter().map(OsString::as_os_str))
            .collect();
        let path = self.search_path();
        let mut plan = ExecPlan::new(program, &argv, self.envp()?, true, path.as_deref())?;
        let chdir = self
            .cwd
            .as_ref()
            .map(|d| to_cstring("current directory", d.as_os_str()))
            .transpose()?;

        // Stdio: the parent's pipe ends go to the Child; the child's ends
        // and /dev/null are closed here once the child has its copies.
        let spawn_err = |step, e: std::io::Error| {
            // Out of processes, descriptors or memory in the parent: the
            // limit error of DESIGN's contract, naming the call.
            let limit = matches!(
                e.raw_os_error(),
                Some(libc::EAGAIN | libc::EMFILE | libc::ENFILE | libc::ENOMEM)
            );
            match step {
                SpawnStep::Fork if limit => Error::os("clone", e),
                SpawnStep::Pipe if limit => Error::os("pipe", e),
                SpawnStep::Open if limit => Error::os("open /dev/null", e),
                _ => Error::spawn(program, step, e),
            }
        };
        let mut child_ends: Vec<OwnedFd> = Vec::new();
        let mut null: Option<OwnedFd> = None;
        let mut moves: Vec<FdMove> = Vec::new();
        let mut parent_stdin: Option<PipeWriter> = None;
        let mut parent_out: [Option<PipeReader>; 2] = [None, None];
        let stdio = [&self.stdin, &self.stdout, &self.stderr];
        for (dst, (set, default)) in stdio.into_iter().zip(defaults).enumerate() {
            let dst = dst as RawFd;
            if self.maps.iter().any(|(_, to)| *to == dst) {
                continue;
            }
            let src = match (set.as_ref().map(|s| &s.0), default) {
                (Some(Kind::Inherit), _) | (None, StdioDefault::Inherit) => continue,
                (Some(Kind::Null), _) | (None, StdioDefault::Null) => match &null {
                    Some(fd) => fd.as_raw_fd(),
                    None => {
                        let file = File::options()
                            .read(true)
                            .write(true)
                            .open("/dev/null")
                            .map_err(|e| spawn_err(SpawnStep::Open, e))?;
                        null.insert(file.into()).as_raw_fd()
                    }
                },
                (Some(Kind::Piped), _) | (None, StdioDefault::Piped) => {
                    let (r, w) = std::io::pipe().map_err(|e| spawn_err(SpawnStep::Pipe, e))?;
                    let child_end: OwnedFd = if dst == 0 {
                        parent_stdin = Some(w);
                        r.into()
                    } else {
                        parent_out[dst as usize - 1] = Some(r);
                        w.into()
                    };
                    let fd = child_end.as_raw_fd();
                    child_ends.push(child_end);
                    fd
                }
                (Some(Kind::Fd(fd)), _) => fd.as_raw_fd(),
            };
            moves.push(FdMove { src, dst });
        }
        moves.extend(self.maps.iter().map(|(fd, to)| FdMove {
            src: fd.as_raw_fd(),
            dst: *to,
        }));
        let keep: Vec<RawFd> = self
            .keep
            .iter()
            .copied()
            .filter(|fd| !moves.iter().any(|m| m.dst == *fd))
            .collect();

        let mut req = Request {
            exec: &mut plan,
            moves,
            keep,
            close_others: !self.inherit_fds,
            chdir: chdir.as_deref(),
            setsid: self.setsid,
            pgroup: self.pgroup,
            mask: self
                .mask
                .as_ref()
                .map(|m| m.iter().map(|s| s.as_raw()).collect()),
            ignore: self.ignore.iter().map(|s| s.as_raw()).collect(),
            default: self.default.iter().map(|s| s.as_raw()).collect(),
        };

        // Until the new child is registered, no "wait for any child" may
        // reap it (its status would not reach the handle).
        let in_flight = reap::spawn_in_flight();
        let spawned = spawn::spawn(&mut req).map_err(|(step, e)| spawn_err(step, e))?;
        let pid = Pid::from_raw(spawned.pid).expect("spawn returned a positive pid");
        let shared = Arc::new(Shared::new(pid, spawned.pidfd));
        reap::lock().register(spawned.pid, &shared);
        drop(in_flight);
        drop(child_ends);
        drop(null);

        let [stdout, stderr] = parent_out;
        let child = Child::from_shared(shared).with_stdio(parent_stdin, stdout, stderr);
        child.set_drop_policy(self.drop_policy);
        Ok(child)
    }
}

impl From<std::process::Child> for Child {
    /// Adopts a child started by [`std::process::Command`]: its pid, its
    /// piped stdin/stdout/stderr, and from now on its reaping.
    ///
    /// On Linux a pidfd is opened at once, under procctl's reap lock, so
    /// the handle never signals a recycled pid. If std had already reaped
    /// the child (`try_wait`), its status is kept. A child that code
    /// outside procctl reaps before the conversion reports
    /// [`Error::NotChild`] from `wait`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let mut std_child = std::process::Command::new("cat")
    ///     .stdin(std::process::Stdio::piped())
    ///     .stdout(std::process::Stdio::piped())
    ///     .spawn()?;
    /// let child = procctl::proc::Child::from(std_child);
    /// let out = child.communicate(b"adopted")?;
    /// assert_eq!(out.stdout, b"adopted");
    /// assert!(out.status.success());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn from(mut child: std::process::Child) -> Child {
        let pid = Pid::from_raw(child.id() as i32).expect("a child's pid is positive");
        let stdin = child
            .stdin
            .take()
            .map(|s| PipeWriter::from(OwnedFd::from(s)));
        let stdout = child
            .stdout
            .take()
            .map(|s| PipeReader::from(OwnedFd::from(s)));
        let stderr = child
            .stderr
            .take()
            .map(|s| PipeReader::from(OwnedFd::from(s)));
        let shared = {
            let mut locked = reap::lock();
            // Reaping under the reap lock, like every reap in procctl.
            let done = child
                .try_wait()
                .ok()
                .flatten()
                .and_then(|s| ExitStatus::try_from(s).ok());
            match done {
                Some(status) => {
                    let shared = Arc::new(Shared::new(pid, None));
                    shared.record(status, crate::sys::wait::Rusage::default());
                    shared
                }
                None => {
                    let pidfd = sys::pidfd::open(pid.as_raw()).ok().flatten();
                    let shared = Arc::new(Shared::new(pid, pidfd));
                    locked.register(pid.as_raw(), &shared);
                    shared
                }
            }
        };
        Child::from_shared(shared).with_stdio(stdin, stdout, stderr)
    }
}
