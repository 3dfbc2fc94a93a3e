//! [`Command`] on Windows: the portable part of the builder, started with
//! [`std::process::Command`] (`CreateProcessW`).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{PipeReader, PipeWriter};
use std::os::windows::io::OwnedHandle;
use std::os::windows::process::CommandExt;
use std::path::{Path, PathBuf};

use super::child::Child;
use super::common::{DropPolicy, Output};
use crate::ExitStatus;
use crate::error::{Error, Result, SpawnStep};

/// What a child's stdin, stdout or stderr is connected to.
///
/// Given to [`Command::stdin`], [`Command::stdout`] and
/// [`Command::stderr`]. Made with [`Stdio::inherit`], [`Stdio::null`],
/// [`Stdio::piped`], or from anything that owns a handle: an
/// [`OwnedHandle`], a [`File`], a pipe end.
///
/// # Examples
///
/// ```
/// use procctl::proc::{Command, Stdio};
///
/// let log = std::fs::File::create(std::env::temp_dir().join("procctl-stdio-doc.log"))?;
/// let status = Command::new("cmd.exe")
///     .args(["/C", "echo to the log"])
///     .stdin(Stdio::null())
///     .stdout(log)
///     .status()?;
/// assert!(status.success());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Stdio(Kind);

#[derive(Debug)]
enum Kind {
    Inherit,
    Null,
    Piped,
    Handle(OwnedHandle),
}

impl Stdio {
    /// The child uses the parent's handle (the default for
    /// [`Command::spawn`] and [`Command::status`]).
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// let status = Command::new("cmd.exe").args(["/C", "exit 0"]).stdout(Stdio::inherit()).status()?;
    /// assert!(status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn inherit() -> Stdio {
        Stdio(Kind::Inherit)
    }

    /// The child gets the `NUL` device.
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// let out = Command::new("cmd.exe").args(["/C", "echo hidden"]).stdout(Stdio::null()).output()?;
    /// assert!(out.stdout.is_empty());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn null() -> Stdio {
        Stdio(Kind::Null)
    }

    /// A new pipe; the parent's end is in the [`Child`]
    /// ([`Child::take_stdin`] and friends, or [`Child::communicate`]).
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// let child = Command::new("cmd.exe").args(["/C", "echo piped"]).stdout(Stdio::piped()).spawn()?;
    /// let out = child.communicate(b"")?;
    /// assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "piped");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn piped() -> Stdio {
        Stdio(Kind::Piped)
    }

    fn to_std(&self) -> Result<std::process::Stdio> {
        Ok(match &self.0 {
            Kind::Inherit => std::process::Stdio::inherit(),
            Kind::Null => std::process::Stdio::null(),
            Kind::Piped => std::process::Stdio::piped(),
            Kind::Handle(h) => h
                .try_clone()
                .map_err(|e| Error::os("DuplicateHandle", e))?
                .into(),
        })
    }
}

impl fmt::Debug for Stdio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Inherit => f.write_str("Inherit"),
            Kind::Null => f.write_str("Null"),
            Kind::Piped => f.write_str("Piped"),
            Kind::Handle(h) => f.debug_tuple("Handle").field(h).finish(),
        }
    }
}

impl From<OwnedHandle> for Stdio {
    /// The child gets this handle (a duplicate of it).
    fn from(handle: OwnedHandle) -> Stdio {
        Stdio(Kind::Handle(handle))
    }
}

impl From<File> for Stdio {
    /// The child reads or writes this file.
    fn from(file: File) -> Stdio {
        Stdio(Kind::Handle(file.into()))
    }
}

impl From<PipeReader> for Stdio {
    /// The child reads from this pipe (for its stdin).
    fn from(pipe: PipeReader) -> Stdio {
        Stdio(Kind::Handle(pipe.into()))
    }
}

impl From<PipeWriter> for Stdio {
    /// The child writes into this pipe (for its stdout or stderr).
    fn from(pipe: PipeWriter) -> Stdio {
        Stdio(Kind::Handle(pipe.into()))
    }
}

#[derive(Debug)]
enum Arg {
    /// Quoted for `CommandLineToArgvW` by std.
    Quoted(OsString),
    /// Appended as is (for `cmd.exe /C`, which has its own rules).
    Raw(OsString),
}

/// A program to start, with its arguments, environment, directory and
/// stdio (Windows).
///
/// The portable subset of the Unix builder, started with
/// [`std::process::Command`]. The Unix-only methods (`arg0`,
/// `process_group`, `setsid`, `keep_fd`, `map_fd`, `inherit_fds`,
/// `signal_mask`, `ignore_signal`, `default_signal`) do not exist here:
/// Windows has no descriptors to map, no process groups in that sense
/// and no signal dispositions to pass on. `spawn`, `status` and `output`
/// may be called any number of times.
///
/// A program name without a path is looked up the way `CreateProcessW`
/// and std do (the application's directory, the current directory, the
/// system directories, then `PATH`; `.exe` is appended).
///
/// # Examples
///
/// ```
/// use procctl::proc::Command;
///
/// let out = Command::new("cmd.exe")
///     .args(["/C", "echo %GREETING%"])
///     .env("GREETING", "hello")
///     .output()?;
/// assert!(out.status.success());
/// assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "hello");
/// # Ok::<(), procctl::Error>(())
/// ```
pub struct Command {
    program: OsString,
    args: Vec<Arg>,
    env_clear: bool,
    env: BTreeMap<OsString, Option<OsString>>,
    cwd: Option<PathBuf>,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    drop_policy: DropPolicy,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env_clear", &self.env_clear)
            .field("env", &self.env)
            .field("current_dir", &self.cwd)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
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
    /// ```
    /// let status = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 0"]).status()?;
    /// assert!(status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env_clear: false,
            env: BTreeMap::new(),
            cwd: None,
            stdin: None,
            stdout: None,
            stderr: None,
            drop_policy: DropPolicy::default(),
        }
    }

    /// Adds one argument (quoted for the child's `CommandLineToArgvW`).
    ///
    /// ```
    /// let status = procctl::proc::Command::new("cmd.exe").arg("/C").arg("exit 4").status()?;
    /// assert_eq!(status.code(), Some(4));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(Arg::Quoted(arg.as_ref().to_owned()));
        self
    }

    /// Adds several arguments.
    ///
    /// ```
    /// let status = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 5"]).status()?;
    /// assert_eq!(status.code(), Some(5));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self.arg(a);
        }
        self
    }

    /// Appends `arg` to the command line without quoting (`cmd.exe`).
    pub(crate) fn raw_arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(Arg::Raw(arg.as_ref().to_owned()));
        self
    }

    /// Sets one environment variable for the child.
    ///
    /// ```
    /// let out = procctl::proc::Command::new("cmd.exe")
    ///     .args(["/C", "echo %ANSWER%"])
    ///     .env("ANSWER", "42")
    ///     .output()?;
    /// assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "42");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.env
            .insert(key.as_ref().to_owned(), Some(value.as_ref().to_owned()));
        self
    }

    /// Sets several environment variables for the child.
    ///
    /// ```
    /// let out = procctl::proc::Command::new("cmd.exe")
    ///     .args(["/C", "echo %A%%B%"])
    ///     .envs([("A", "1"), ("B", "2")])
    ///     .output()?;
    /// assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "12");
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

    /// Removes one variable from the child's environment.
    ///
    /// ```
    /// let status = procctl::proc::Command::new("cmd.exe")
    ///     .args(["/C", "if defined GONE (exit 1) else (exit 0)"])
    ///     .env("GONE", "x")
    ///     .env_remove("GONE")
    ///     .status()?;
    /// assert!(status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.env.insert(key.as_ref().to_owned(), None);
        self
    }

    /// Starts the child with an empty environment plus what
    /// [`env`](Command::env) adds.
    ///
    /// ```
    /// let status = procctl::proc::Command::new("cmd.exe")
    ///     .args(["/C", "exit 0"])
    ///     .env_clear()
    ///     .status()?;
    /// assert!(status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.env_clear = true;
        self.env.retain(|_, v| v.is_some());
        self
    }

    /// The child's working directory.
    ///
    /// ```
    /// let dir = std::env::temp_dir();
    /// let status = procctl::proc::Command::new("cmd.exe")
    ///     .args(["/C", "exit 0"])
    ///     .current_dir(&dir)
    ///     .status()?;
    /// assert!(status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// The child's stdin.
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// let status = Command::new("cmd.exe").args(["/C", "exit 0"]).stdin(Stdio::null()).status()?;
    /// assert!(status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn stdin(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.stdin = Some(stdio.into());
        self
    }

    /// The child's stdout.
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// let status = Command::new("cmd.exe").args(["/C", "echo x"]).stdout(Stdio::null()).status()?;
    /// assert!(status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn stdout(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.stdout = Some(stdio.into());
        self
    }

    /// The child's stderr.
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// let status = Command::new("cmd.exe").args(["/C", "echo x 1>&2"]).stderr(Stdio::null()).status()?;
    /// assert!(status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn stderr(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.stderr = Some(stdio.into());
        self
    }

    /// What dropping the [`Child`] of a later `spawn` does to a process
    /// still running (see [`DropPolicy`]).
    ///
    /// ```
    /// use procctl::proc::{Command, DropPolicy};
    /// let child = Command::new("ping")
    ///     .args(["-n", "30", "127.0.0.1"])
    ///     .stdout(procctl::proc::Stdio::null())
    ///     .drop_policy(DropPolicy::KillAndReap)
    ///     .spawn()?;
    /// assert_eq!(child.drop_policy(), DropPolicy::KillAndReap);
    /// drop(child); // terminated and waited for
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn drop_policy(&mut self, policy: DropPolicy) -> &mut Command {
        self.drop_policy = policy;
        self
    }

    /// Starts the program and returns its [`Child`] without waiting.
    ///
    /// Stdio not set is inherited.
    ///
    /// # Errors
    ///
    /// Before anything runs: [`Error::NulByte`] for a NUL byte in the
    /// program, an argument or the environment; [`Error::InvalidArgument`]
    /// for an empty program or an environment name that is empty or holds
    /// `=`. From `CreateProcessW`: [`Error::NotFound`] naming the program
    /// when it does not exist, [`Error::PermissionDenied`] when it may not
    /// be run, [`Error::Spawn`] with [`SpawnStep::Chdir`] when the working
    /// directory does not exist, else [`Error::Spawn`] with
    /// [`SpawnStep::Exec`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::{Error, proc::Command};
    ///
    /// let child = Command::new("cmd.exe").args(["/C", "exit 0"]).spawn()?;
    /// assert!(child.wait()?.success());
    ///
    /// let err = Command::new("no-such-program-here").spawn().unwrap_err();
    /// assert!(matches!(err, Error::NotFound { .. }));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "CreateProcessW")]
    pub fn spawn(&mut self) -> Result<Child> {
        self.spawn_with([StdioDefault::Inherit; 3])
    }

    /// Starts the program and waits for it. Stdio not set is inherited.
    ///
    /// # Errors
    ///
    /// As [`Command::spawn`] and [`Child::wait`].
    ///
    /// ```
    /// let status = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 3"]).status()?;
    /// assert_eq!(status.code(), Some(3));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn status(&mut self) -> Result<ExitStatus> {
        self.spawn_with([StdioDefault::Inherit; 3])?.wait()
    }

    /// Starts the program, collects its stdout and stderr, waits for it.
    ///
    /// Unless set otherwise, stdin is `NUL` and stdout and stderr are pipes
    /// (as std's `output`), read by two threads at once, so no amount of
    /// output can deadlock.
    ///
    /// # Errors
    ///
    /// As [`Command::spawn`] and [`Child::communicate`].
    ///
    /// ```
    /// let out = procctl::proc::Command::new("cmd.exe")
    ///     .args(["/C", "echo out& echo err 1>&2& exit 2"])
    ///     .output()?;
    /// assert_eq!(out.status.code(), Some(2));
    /// assert_eq!(out.stdout, b"out\r\n");
    /// assert!(String::from_utf8_lossy(&out.stderr).starts_with("err"));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn output(&mut self) -> Result<Output> {
        self.spawn_with([StdioDefault::Null, StdioDefault::Piped, StdioDefault::Piped])?
            .communicate(b"")
    }

    fn check(&self) -> Result<()> {
        let nul = |what: &'static str, s: &OsStr| {
            if s.as_encoded_bytes().contains(&0) {
                Err(Error::NulByte {
                    what,
                    value: s.to_owned(),
                })
            } else {
                Ok(())
            }
        };
        if self.program.is_empty() {
            return Err(Error::InvalidArgument {
                what: "program",
                value: "an empty name".into(),
            });
        }
        nul("program", &self.program)?;
        for a in &self.args {
            let (Arg::Quoted(a) | Arg::Raw(a)) = a;
            nul("argument", a)?;
        }
        for (k, v) in &self.env {
            if k.is_empty() || k.as_encoded_bytes().contains(&b'=') {
                return Err(Error::InvalidArgument {
                    what: "environment variable name",
                    value: format!("{k:?}"),
                });
            }
            nul("environment", k)?;
            if let Some(v) = v {
                nul("environment", v)?;
            }
        }
        Ok(())
    }

    fn spawn_with(&self, defaults: [StdioDefault; 3]) -> Result<Child> {
        self.check()?;
        let mut cmd = std::process::Command::new(&self.program);
        for a in &self.args {
            match a {
                Arg::Quoted(a) => cmd.arg(a),
                Arg::Raw(a) => cmd.raw_arg(a),
            };
        }
        if self.env_clear {
            cmd.env_clear();
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        let stdio = |set: &Option<Stdio>, default| -> Result<std::process::Stdio> {
            match (set, default) {
                (Some(s), _) => s.to_std(),
                (None, StdioDefault::Inherit) => Ok(std::process::Stdio::inherit()),
                (None, StdioDefault::Null) => Ok(std::process::Stdio::null()),
                (None, StdioDefault::Piped) => Ok(std::process::Stdio::piped()),
            }
        };
        cmd.stdin(stdio(&self.stdin, defaults[0])?);
        cmd.stdout(stdio(&self.stdout, defaults[1])?);
        cmd.stderr(stdio(&self.stderr, defaults[2])?);
        let child = cmd.spawn().map_err(|e| {
            let bad_dir = self.cwd.as_ref().is_some_and(|d| !d.is_dir());
            let step = if bad_dir {
                SpawnStep::Chdir
            } else {
                SpawnStep::Exec
            };
            Error::spawn(&self.program, step, e)
        })?;
        Child::adopt(child, self.drop_policy)
    }
}
