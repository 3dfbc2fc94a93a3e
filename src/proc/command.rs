//! [`Command`]: start a program, its set-up described as data.
//!
//! One public builder for both platforms. Starting the program is per
//! platform, in a private `spawn_imp`: `command/unix.rs` runs an
//! `ExecPlan` through `sys::spawn`, `command/windows.rs` goes through
//! `std::process::Command`.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{PipeReader, PipeWriter};
#[cfg(unix)]
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
#[cfg(windows)]
use std::os::windows::io::OwnedHandle;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::child::Child;
use super::common::{DropPolicy, Output};
use crate::ExitStatus;
#[cfg(unix)]
use crate::Signal;
use crate::error::Result;

#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

/// What a child's stdin, stdout or stderr is connected to.
///
/// Given to [`Command::stdin`], [`Command::stdout`] and
/// [`Command::stderr`]. Made with [`Stdio::inherit`], [`Stdio::null`],
/// [`Stdio::piped`], or from anything that owns a descriptor (a handle,
/// on Windows): an `OwnedFd` (`OwnedHandle`), a [`File`], a pipe end.
///
/// # Examples
///
/// ```
/// use procctl::proc::{Command, Stdio};
///
/// let log = std::fs::File::create(std::env::temp_dir().join("procctl-stdio-doc.log"))?;
/// # #[cfg(unix)]
/// let status = Command::new("sh")
///     .args(["-c", "echo to the log"])
///     .stdin(Stdio::null())
///     .stdout(log)
///     .status()?;
/// # #[cfg(windows)]
/// # let status = Command::new("cmd.exe")
/// #     .args(["/C", "echo to the log"])
/// #     .stdin(Stdio::null())
/// #     .stdout(log)
/// #     .status()?;
/// assert!(status.success());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Stdio(Kind);

enum Kind {
    Inherit,
    Null,
    Piped,
    Owned(Owned),
}

/// What [`Stdio`] takes over: a descriptor on Unix, a handle on Windows.
#[cfg(unix)]
type Owned = OwnedFd;
#[cfg(windows)]
type Owned = OwnedHandle;

impl Stdio {
    /// The child uses the parent's descriptor (handle, on Windows): the
    /// default for [`Command::spawn`] and [`Command::status`].
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// # #[cfg(unix)]
    /// let status = Command::new("true").stdout(Stdio::inherit()).status()?;
    /// # #[cfg(windows)]
    /// # let status = Command::new("cmd.exe").args(["/C", "exit 0"]).stdout(Stdio::inherit()).status()?;
    /// assert!(status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn inherit() -> Stdio {
        Stdio(Kind::Inherit)
    }

    /// `/dev/null` (the `NUL` device on Windows): reading gives
    /// end-of-file, writing discards.
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// # #[cfg(unix)]
    /// let out = Command::new("cat").stdin(Stdio::null()).output()?;
    /// # #[cfg(windows)]
    /// # let out = Command::new("cmd.exe").args(["/C", "echo hidden"]).stdout(Stdio::null()).output()?;
    /// assert!(out.stdout.is_empty());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn null() -> Stdio {
        Stdio(Kind::Null)
    }

    /// A new pipe; the parent's end is in the [`Child`](super::Child)
    /// ([`Child::take_stdin`](super::Child::take_stdin), [`Child::take_stdout`](super::Child::take_stdout),
    /// [`Child::take_stderr`](super::Child::take_stderr), [`Child::communicate`](super::Child::communicate)).
    ///
    /// ```
    /// use std::io::Read;
    /// use procctl::proc::{Command, Stdio};
    ///
    /// # #[cfg(unix)] {
    /// let child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
    /// let mut text = String::new();
    /// child.take_stdout().unwrap().read_to_string(&mut text)?;
    /// assert_eq!(text, "hi\n");
    /// child.wait()?;
    /// # }
    /// # #[cfg(windows)] {
    /// # let child = Command::new("cmd.exe").args(["/C", "echo piped"]).stdout(Stdio::piped()).spawn()?;
    /// # let out = child.communicate(b"")?;
    /// # assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "piped");
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn piped() -> Stdio {
        Stdio(Kind::Piped)
    }
}

impl fmt::Debug for Stdio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written as the call that makes it, on every platform.
        match &self.0 {
            Kind::Inherit => f.write_str("Stdio::inherit()"),
            Kind::Null => f.write_str("Stdio::null()"),
            Kind::Piped => f.write_str("Stdio::piped()"),
            #[cfg(unix)]
            Kind::Owned(fd) => write!(f, "Stdio::from(fd {})", fd.as_raw_fd()),
            #[cfg(windows)]
            Kind::Owned(h) => {
                use std::os::windows::io::AsRawHandle;
                write!(f, "Stdio::from(handle {:?})", h.as_raw_handle())
            }
        }
    }
}

#[cfg(unix)]
impl From<OwnedFd> for Stdio {
    /// The child gets this descriptor (a copy of it: the parent keeps its
    /// own until the `Command` is dropped).
    fn from(fd: OwnedFd) -> Stdio {
        Stdio(Kind::Owned(fd))
    }
}

#[cfg(windows)]
impl From<OwnedHandle> for Stdio {
    /// The child gets this handle (a duplicate of it).
    fn from(handle: OwnedHandle) -> Stdio {
        Stdio(Kind::Owned(handle))
    }
}

impl From<File> for Stdio {
    /// The child reads or writes this file.
    fn from(file: File) -> Stdio {
        Stdio(Kind::Owned(file.into()))
    }
}

impl From<PipeReader> for Stdio {
    /// The child reads from this pipe (use it for stdin).
    fn from(pipe: PipeReader) -> Stdio {
        Stdio(Kind::Owned(pipe.into()))
    }
}

impl From<PipeWriter> for Stdio {
    /// The child writes into this pipe (use it for stdout or stderr).
    fn from(pipe: PipeWriter) -> Stdio {
        Stdio(Kind::Owned(pipe.into()))
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
///   pass with `keep_fd` or `map_fd`, or turn the allowlist off with
///   `inherit_fds`. On Linux the allowlist also makes the spawn cheaper:
///   the child shares the parent's descriptor table until its first
///   system call takes a private copy of only the low descriptors it uses
///   (`CLONE_FILES`, then `close_range` with `CLOSE_RANGE_UNSHARE`), so a
///   spawn costs the same with 5 or 50,000 descriptors open. That holds
///   with piped stdio and `/dev/null` too: those ends land above every
///   descriptor the parent holds, so where that would make the copy
///   bigger the child opens them afresh (`/dev/null`, and the pipe
///   through `/proc/<pid>/fd`; where `/proc` cannot show it, the copy is
///   made as before). Descriptors you pass yourself (`Stdio::from`,
///   `keep_fd`, `map_fd`) are taken from the parent's table: the copy
///   reaches up to the highest of them.
/// - **Signals**: every signal with a handler in the parent is at its
///   default (as `execve` does), `SIGPIPE` too (Rust programs ignore it;
///   the programs they start should not); other ignored signals stay
///   ignored (POSIX inheritance); the signal mask is empty, as with std
///   (a signal blocked by the spawning thread must not stay blocked in the
///   program: set one with `signal_mask`). What `ignore_signal` and
///   `signal_mask` ask for holds from the child's first instruction: a
///   signal sent while the child sets itself up waits, blocked, until its
///   mask is set just before `execve`, as with glibc's `posix_spawn`.
/// - **Environment**: ours, as [`std::env::vars_os`] reads it when the
///   program is started (under std's environment lock, so a
///   [`std::env::set_var`] in another thread cannot tear it), changed by
///   [`env`](Command::env), [`env_remove`](Command::env_remove) and
///   [`env_clear`](Command::env_clear). A change made through the C
///   library directly (`setenv`, `putenv`) by other code bypasses that
///   lock and is outside this promise, as for std.
/// - **Program lookup**: a name without a slash is searched in `PATH` like
///   `execvp` (the child's `PATH` if [`env`](Command::env) sets it, else
///   ours), and a file without a `#!` line that the kernel refuses
///   (`ENOEXEC`) runs under `/bin/sh`.
///
/// - **Process attributes** (Unix): resource limits
///   ([`rlimit`](Command::rlimit)), [`umask`](Command::umask),
///   credentials ([`uid`](Command::uid), [`gid`](Command::gid),
///   [`groups`](Command::groups)), [`chroot`](Command::chroot),
///   [`parent_death_signal`](Command::parent_death_signal),
///   [`no_new_privs`](Command::no_new_privs), [`nice`](Command::nice),
///   [`cpu_affinity`](Command::cpu_affinity) and namespaces
///   ([`unshare`](Command::unshare), [`uid_map`](Command::uid_map),
///   [`gid_map`](Command::gid_map)): ours unless set. Each is applied in
///   the child by a raw system call, in this order:
///
///   | # | step | why here |
///   |---|------|----------|
///   | 1 | cgroup ([`scope`](Command::scope), on the `clone` fallback) | before anything runs |
///   | 2 | signal dispositions | no handler of ours may run in the child |
///   | 3 | `setsid` / `setpgid` | the session exists before anything depends on it |
///   | 4 | controlling terminal (`TIOCSCTTY`: [`pty`](Command::pty), [`controlling_terminal`](Command::controlling_terminal)), then `tcsetpgrp` ([`foreground`](Command::foreground), `SIGTTOU` blocked) | needs the new session, and our own descriptors before any move |
///   | 5 | `unshare` (namespaces) | while every privilege is still held; a new mount namespace before `chroot` |
///   | 6 | `chroot`, then `chdir("/")` | before the working directory, which then resolves in the new root |
///   | 7 | `setrlimit` | raising a hard limit needs the privilege `setuid` gives up |
///   | 8 | `umask` | cannot fail |
///   | 9 | `setpriority` (nice), `sched_setaffinity` | lowering nice needs `CAP_SYS_NICE`: before `setuid` |
///   | 10 | `setgroups` → `setgid` → `setuid` | groups and gid need the privilege the uid change drops |
///   | 11 | `no_new_privs` | it governs the exec to come |
///   | 12 | parent-death signal, then the check that the parent lives | after `setuid` (which clears it), as late as possible |
///   | 13 | descriptors (`dup2`, closing the rest; the pty slave on 0-2) | |
///   | 14 | `chdir` ([`current_dir`](Command::current_dir)) | as the new user, inside the new root |
///   | 15 | signal mask | last: no signal is delivered half set up |
///   | 16 | `execve` | the program is looked up inside the new root |
///
///   A step that fails is [`Error::Spawn`](crate::Error::Spawn) naming
///   its [`SpawnStep`](crate::error::SpawnStep) with the errno; a value
///   that is wrong whatever the kernel says (`soft > hard`, a `umask`
///   above `0o777`, more than `NGROUPS_MAX` groups, a user namespace
///   without maps) is [`Error::InvalidArgument`](crate::Error::InvalidArgument)
///   and an attribute this platform lacks is
///   [`Error::Unsupported`](crate::Error::Unsupported), both at `spawn`
///   before any process exists. Linux has them all; macOS has `rlimit`,
///   `umask`, `uid`, `gid`, `groups`, `chroot` and `nice`; FreeBSD also
///   `parent_death_signal` and `no_new_privs` (through `procctl`).
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
/// `signal_mask`, `ignore_signal`, `default_signal` and the process
/// attributes (`rlimit` to `gid_map`) are `cfg(unix)`
/// (Windows has no descriptors to map, no process groups in that sense
/// and no signal dispositions to pass on). A program name without a path
/// is looked up the way `CreateProcessW` and std do (the application's
/// directory, the current directory, the system directories, then
/// `PATH`; `.exe` is appended).
///
/// On Linux older than 5.5 (or where seccomp refuses `clone3`) it falls
/// back to `clone(CLONE_VM | CLONE_VFORK)`, resetting handlers by hand; on
/// macOS and the BSDs it uses `fork` + `execve`.
///
/// # Examples
///
/// ```
/// use procctl::proc::Command;
///
/// # #[cfg(unix)] {
/// let out = Command::new("sh")
///     .args(["-c", "echo $GREETING from $(pwd)"])
///     .env("GREETING", "hello")
///     .current_dir("/")
///     .output()?;
/// assert!(out.status.success());
/// assert_eq!(out.stdout, b"hello from /\n");
/// # }
/// # #[cfg(windows)] {
/// # let out = Command::new("cmd.exe")
/// #     .args(["/C", "echo %GREETING%"])
/// #     .env("GREETING", "hello")
/// #     .output()?;
/// # assert!(out.status.success());
/// # assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "hello");
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub struct Command {
    program: OsString,
    #[cfg(unix)]
    args: Vec<OsString>,
    #[cfg(windows)]
    args: Vec<windows::Arg>,
    #[cfg(unix)]
    arg0: Option<OsString>,
    env_clear: bool,
    env: BTreeMap<OsString, Option<OsString>>,
    cwd: Option<PathBuf>,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    #[cfg(unix)]
    pgroup: Option<i32>,
    #[cfg(unix)]
    setsid: bool,
    #[cfg(unix)]
    keep: Vec<RawFd>,
    #[cfg(unix)]
    maps: Vec<(OwnedFd, RawFd)>,
    #[cfg(unix)]
    inherit_fds: bool,
    #[cfg(unix)]
    mask: Option<Vec<Signal>>,
    #[cfg(unix)]
    ignore: Vec<Signal>,
    #[cfg(unix)]
    default: Vec<Signal>,
    drop_policy: DropPolicy,
    /// The cgroup to start in (`Command::scope`, Linux).
    #[cfg(target_os = "linux")]
    scope: Option<std::sync::Arc<crate::sys::cgroup::Target>>,
    /// Spawn attributes: rlimits, credentials, namespaces, ... (Unix).
    #[cfg(unix)]
    attrs: super::attrs::Attrs,
    wait_delay: Option<Duration>,
    /// `pty`, `controlling_terminal`, `foreground` (Unix).
    #[cfg(unix)]
    terminal: unix::Terminal,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Command");
        d.field("program", &self.program).field("args", &self.args);
        #[cfg(unix)]
        d.field("arg0", &self.arg0);
        d.field("env_clear", &self.env_clear)
            .field("env", &self.env)
            .field("current_dir", &self.cwd)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr);
        #[cfg(unix)]
        d.field("process_group", &self.pgroup)
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
            .field("terminal", &self.terminal);
        #[cfg(target_os = "linux")]
        d.field("scope", &self.scope.as_ref().map(|t| &t.path));
        #[cfg(unix)]
        d.field("attrs", &self.attrs);
        d.field("drop_policy", &self.drop_policy)
            .field("wait_delay", &self.wait_delay)
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
    /// is started (on Windows, see [`Command`]'s platform notes).
    ///
    /// ```
    /// # #[cfg(unix)]
    /// let status = procctl::proc::Command::new("true").status()?;
    /// # #[cfg(windows)]
    /// # let status = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 0"]).status()?;
    /// assert!(status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            #[cfg(unix)]
            arg0: None,
            env_clear: false,
            env: BTreeMap::new(),
            cwd: None,
            stdin: None,
            stdout: None,
            stderr: None,
            #[cfg(unix)]
            pgroup: None,
            #[cfg(unix)]
            setsid: false,
            #[cfg(unix)]
            keep: Vec::new(),
            #[cfg(unix)]
            maps: Vec::new(),
            #[cfg(unix)]
            inherit_fds: false,
            #[cfg(unix)]
            mask: None,
            #[cfg(unix)]
            ignore: Vec::new(),
            #[cfg(unix)]
            default: Vec::new(),
            drop_policy: DropPolicy::Reap,
            #[cfg(target_os = "linux")]
            scope: None,
            #[cfg(unix)]
            attrs: Default::default(),
            wait_delay: None,
            #[cfg(unix)]
            terminal: unix::Terminal::default(),
        }
    }

    /// Adds one argument (on Windows, quoted for the child's
    /// `CommandLineToArgvW`).
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// let out = procctl::proc::Command::new("echo").arg("a b").output()?;
    /// assert_eq!(out.stdout, b"a b\n");
    /// # }
    /// # #[cfg(windows)] {
    /// # let status = procctl::proc::Command::new("cmd.exe").arg("/C").arg("exit 4").status()?;
    /// # assert_eq!(status.code(), Some(4));
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        let arg = arg.as_ref().to_owned();
        #[cfg(windows)]
        let arg = windows::Arg::Quoted(arg);
        self.args.push(arg);
        self
    }

    /// Adds several arguments.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// let out = procctl::proc::Command::new("echo").args(["a", "b"]).output()?;
    /// assert_eq!(out.stdout, b"a b\n");
    /// # }
    /// # #[cfg(windows)] {
    /// # let status = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 5"]).status()?;
    /// # assert_eq!(status.code(), Some(5));
    /// # }
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
    #[cfg(unix)]
    pub fn arg0(&mut self, arg0: impl AsRef<OsStr>) -> &mut Command {
        self.arg0 = Some(arg0.as_ref().to_owned());
        self
    }

    /// Sets an environment variable in the child.
    ///
    /// Setting `PATH` also changes where the program is looked up.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// let out = procctl::proc::Command::new("sh")
    ///     .args(["-c", "echo $COLOUR"])
    ///     .env("COLOUR", "green")
    ///     .output()?;
    /// assert_eq!(out.stdout, b"green\n");
    /// # }
    /// # #[cfg(windows)] {
    /// # let out = procctl::proc::Command::new("cmd.exe")
    /// #     .args(["/C", "echo %ANSWER%"])
    /// #     .env("ANSWER", "42")
    /// #     .output()?;
    /// # assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "42");
    /// # }
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
    /// # #[cfg(unix)] {
    /// let out = procctl::proc::Command::new("sh")
    ///     .args(["-c", "echo $A$B"])
    ///     .envs([("A", "1"), ("B", "2")])
    ///     .output()?;
    /// assert_eq!(out.stdout, b"12\n");
    /// # }
    /// # #[cfg(windows)] {
    /// # let out = procctl::proc::Command::new("cmd.exe")
    /// #     .args(["/C", "echo %A%%B%"])
    /// #     .envs([("A", "1"), ("B", "2")])
    /// #     .output()?;
    /// # assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "12");
    /// # }
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
    /// # #[cfg(unix)] {
    /// let out = procctl::proc::Command::new("sh")
    ///     .args(["-c", "echo ${HOME-unset}"])
    ///     .env_remove("HOME")
    ///     .output()?;
    /// assert_eq!(out.stdout, b"unset\n");
    /// # }
    /// # #[cfg(windows)] {
    /// # let status = procctl::proc::Command::new("cmd.exe")
    /// #     .args(["/C", "if defined GONE (exit 1) else (exit 0)"])
    /// #     .env("GONE", "x")
    /// #     .env_remove("GONE")
    /// #     .status()?;
    /// # assert!(status.success());
    /// # }
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
    /// # #[cfg(unix)] {
    /// let out = procctl::proc::Command::new("/usr/bin/env")
    ///     .env_clear()
    ///     .env("ONLY", "me")
    ///     .output()?;
    /// assert_eq!(out.stdout, b"ONLY=me\n");
    /// # }
    /// # #[cfg(windows)] {
    /// # let status = procctl::proc::Command::new("cmd.exe")
    /// #     .args(["/C", "exit 0"])
    /// #     .env_clear()
    /// #     .status()?;
    /// # assert!(status.success());
    /// # }
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
    /// # Platform notes
    ///
    /// On Windows `dir` is the working directory given to
    /// `CreateProcessW`; how a relative program path is then resolved is
    /// std's (see [`std::process::Command::current_dir`]).
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// let out = procctl::proc::Command::new("pwd").current_dir("/").output()?;
    /// assert_eq!(out.stdout, b"/\n");
    /// # }
    /// # #[cfg(windows)] {
    /// # let dir = std::env::temp_dir();
    /// # let status = procctl::proc::Command::new("cmd.exe")
    /// #     .args(["/C", "exit 0"])
    /// #     .current_dir(&dir)
    /// #     .status()?;
    /// # assert!(status.success());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// The child's stdin (default: inherited; `/dev/null`, or `NUL` on
    /// Windows, for [`output`](Command::output)).
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// # #[cfg(unix)] {
    /// let child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    /// let out = child.communicate(b"fed in")?;
    /// assert_eq!(out.stdout, b"fed in");
    /// # }
    /// # #[cfg(windows)] {
    /// # let status = Command::new("cmd.exe").args(["/C", "exit 0"]).stdin(Stdio::null()).status()?;
    /// # assert!(status.success());
    /// # }
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
    /// # #[cfg(unix)]
    /// let status = Command::new("echo").arg("quiet").stdout(Stdio::null()).status()?;
    /// # #[cfg(windows)]
    /// # let status = Command::new("cmd.exe").args(["/C", "echo x"]).stdout(Stdio::null()).status()?;
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
    /// # #[cfg(unix)] {
    /// let out = Command::new("sh").args(["-c", "echo oops >&2"]).stdout(Stdio::null()).output()?;
    /// assert_eq!(out.stderr, b"oops\n");
    /// # }
    /// # #[cfg(windows)] {
    /// # let status = Command::new("cmd.exe").args(["/C", "echo x 1>&2"]).stderr(Stdio::null()).status()?;
    /// # assert!(status.success());
    /// # }
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
    /// At spawn, before any process exists:
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a
    /// negative `pgid`, or a `pgid` other than `0` together with
    /// [`setsid`](Command::setsid) (see there). From the child:
    /// [`Error::Spawn`](crate::Error::Spawn) with step [`SpawnStep::Setpgid`](crate::error::SpawnStep::Setpgid) if the kernel
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
    #[cfg(unix)]
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
    /// At spawn: [`Error::Spawn`](crate::Error::Spawn) with step [`SpawnStep::Setsid`](crate::error::SpawnStep::Setsid) if the
    /// kernel refuses.
    ///
    /// The new session comes with a new process group that the child
    /// leads, so [`process_group(0)`](Command::process_group) is already
    /// satisfied and adds nothing, while any other group cannot be joined
    /// (Linux refuses `setpgid` for a session leader): `setsid(true)` with
    /// `process_group(pgid)`, `pgid != 0`, is
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) before
    /// any process exists.
    ///
    /// ```
    /// use procctl::proc::{Command, getpgid, getsid};
    ///
    /// let child = Command::new("sleep").arg("10").setsid(true).process_group(0).spawn()?;
    /// assert_eq!(getsid(Some(child.pid()))?, Some(child.pid()));
    /// assert_eq!(getpgid(Some(child.pid()))?, Some(child.pid()));
    /// child.kill()?;
    /// child.wait()?;
    ///
    /// let err = Command::new("true").setsid(true).process_group(1).spawn().unwrap_err();
    /// assert!(matches!(err, procctl::Error::InvalidArgument { .. }));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[cfg(unix)]
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
    /// At spawn: [`Error::Spawn`](crate::Error::Spawn) with step [`SpawnStep::Dup2`](crate::error::SpawnStep::Dup2) and
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
    #[cfg(unix)]
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
    /// At spawn: [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a negative `child_fd`.
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
    #[cfg(unix)]
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
    #[cfg(unix)]
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
    #[cfg(unix)]
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
    /// At spawn: [`Error::InvalidArgument`](crate::Error::InvalidArgument) for `SIGKILL` and `SIGSTOP`.
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
    #[cfg(unix)]
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
    /// At spawn: [`Error::InvalidArgument`](crate::Error::InvalidArgument) for `SIGKILL` and `SIGSTOP`.
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
    #[cfg(unix)]
    pub fn default_signal(&mut self, signal: Signal) -> &mut Command {
        self.ignore.retain(|s| *s != signal);
        self.default.push(signal);
        self
    }
    /// The [`DropPolicy`] of the [`Child`](super::Child) that [`spawn`](Command::spawn)
    /// returns (default [`DropPolicy::Reap`]).
    ///
    /// ```
    /// use procctl::proc::{Command, DropPolicy};
    /// # #[cfg(unix)]
    /// let child = Command::new("sleep").arg("60").drop_policy(DropPolicy::KillAndReap).spawn()?;
    /// # #[cfg(windows)]
    /// # let child = Command::new("ping")
    /// #     .args(["-n", "30", "127.0.0.1"])
    /// #     .stdout(procctl::proc::Stdio::null())
    /// #     .drop_policy(DropPolicy::KillAndReap)
    /// #     .spawn()?;
    /// assert_eq!(child.drop_policy(), DropPolicy::KillAndReap);
    /// drop(child); // killed and reaped
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn drop_policy(&mut self, policy: DropPolicy) -> &mut Command {
        self.drop_policy = policy;
        self
    }

    /// Bounds how long [`output`](Command::output) and the spawned child's
    /// [`communicate`](super::Child::communicate) (and
    /// `communicate_timeout`) wait for the captured pipes to reach
    /// end-of-file once the child has ended (Go's `Cmd.WaitDelay`).
    ///
    /// A pipe reaches end-of-file when every process holding its write
    /// end has closed it, and a child's children inherit it: after
    /// `sh -c 'echo hi; server &'` the shell is gone but `server` still
    /// holds stdout, and reading to the end would wait for `server` too.
    /// With a wait delay, once the child has ended its pipes get at most
    /// `delay` more (`Duration::ZERO`: none, what is already in them is
    /// still read); then procctl stops reading, closes its ends and
    /// returns everything it read, with
    /// [`Output::pipes_held_open`](super::Output::pipes_held_open) naming
    /// the streams it cut and, on Linux, the processes that held them. A
    /// piped stdin that a grandchild holds without reading is cut the same
    /// way. The holders are not signalled: whatever they write to a cut
    /// pipe later fails (`EPIPE`, or `SIGPIPE`).
    ///
    /// Without a wait delay (the default) the pipes are read to
    /// end-of-file, however long that takes, as std and Python do. With
    /// no piped stream the delay changes nothing.
    ///
    /// # Platform notes
    ///
    /// On Linux the child's pidfd tells when it has ended (no timer, no
    /// busy loop); elsewhere the child is checked at intervals growing
    /// from 1 to 20 ms. On Windows the reading threads still blocked on a
    /// cut pipe are left to end with its holder, and no holder is named.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use procctl::proc::Command;
    ///
    /// # #[cfg(unix)] {
    /// let started = Instant::now();
    /// let out = Command::new("sh")
    ///     .args(["-c", "echo hi; sleep 30 &"])
    ///     .wait_delay(Duration::from_millis(200))
    ///     .output()?;
    /// assert!(started.elapsed() < Duration::from_secs(5)); // not 30 s
    /// assert_eq!(out.stdout, b"hi\n");
    /// let held = out.pipes_held_open().expect("the sleep holds stdout");
    /// for sleep in held.all_holders() {
    ///     # #[cfg(target_os = "linux")]
    ///     assert_eq!(sleep.name(), "sleep");
    ///     procctl::signal::kill(sleep.pid(), procctl::Signal::KILL)?;
    /// }
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait_delay(&mut self, delay: Duration) -> &mut Command {
        self.wait_delay = Some(delay);
        self
    }

    /// Starts the program and returns its [`Child`](super::Child) without waiting.
    ///
    /// Stdio not set is inherited. The `Child` holds the parent's end of
    /// every piped stdio and, on Linux, a pidfd; dropping it does not kill
    /// the program (see [`DropPolicy`]), and procctl reaps it once it exits.
    ///
    /// # Errors
    ///
    /// Before anything runs: [`Error::NulByte`](crate::Error::NulByte) for a NUL byte in the
    /// program, an argument, an environment entry or the directory;
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for an empty program, an environment
    /// name that is empty or holds `=`, a negative process group or
    /// mapped fd, a process group other than `0` with `setsid`, or
    /// `SIGKILL`/`SIGSTOP` in the dispositions; [`Error::Spawn`](crate::Error::Spawn) with
    /// [`SpawnStep::Dup2`](crate::error::SpawnStep::Dup2) and `EBADF` for a kept fd that is not open.
    ///
    /// From the child, each naming the program and the step that failed:
    /// [`Error::NotFound`](crate::Error::NotFound) (exec `ENOENT`: no such program, or not in
    /// `PATH`), [`Error::PermissionDenied`](crate::Error::PermissionDenied) (exec `EACCES`: not executable,
    /// a directory), both with [`spawn_step`](crate::Error::spawn_step) `Some(SpawnStep::Exec)`,
    /// else [`Error::Spawn`](crate::Error::Spawn) with the [`SpawnStep`](crate::error::SpawnStep) (`chdir`, naming
    /// the directory, `dup2`, `setsid`, `setpgid`, signal set-up, close
    /// fds, exec) and the errno. In the parent: [`Error::ResourceLimit`](crate::Error::ResourceLimit) when the process,
    /// descriptor or memory limit stops it from creating the process, a
    /// pipe or opening `/dev/null` (`EAGAIN`, `EMFILE`, `ENFILE`,
    /// `ENOMEM`), else [`Error::Spawn`](crate::Error::Spawn) with [`SpawnStep::Fork`](crate::error::SpawnStep::Fork),
    /// [`SpawnStep::Pipe`](crate::error::SpawnStep::Pipe) or [`SpawnStep::Open`](crate::error::SpawnStep::Open).
    /// [`Error::spawn_step`](crate::Error::spawn_step) and [`Error::raw_os_error`](crate::Error::raw_os_error) give both without
    /// parsing text.
    ///
    /// A failed spawn leaves no zombie and no descriptor behind.
    ///
    /// # Platform notes
    ///
    /// On Windows, before anything runs: [`Error::NulByte`](crate::Error::NulByte) for a NUL byte
    /// in the program, an argument or the environment;
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for an empty program or an environment
    /// name that is empty or holds `=`. From `CreateProcessW`:
    /// [`Error::NotFound`](crate::Error::NotFound) naming the program when it does not exist,
    /// [`Error::PermissionDenied`](crate::Error::PermissionDenied) when it may not be run, [`Error::Spawn`](crate::Error::Spawn)
    /// with [`SpawnStep::Chdir`](crate::error::SpawnStep::Chdir) when the working directory does not exist,
    /// else [`Error::Spawn`](crate::Error::Spawn) with [`SpawnStep::Exec`](crate::error::SpawnStep::Exec).
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::{Error, error::SpawnStep, proc::Command};
    ///
    /// # #[cfg(unix)] {
    /// let child = Command::new("sleep").arg("0").spawn()?;
    /// assert!(child.wait()?.success());
    /// # }
    /// # #[cfg(windows)] {
    /// # let child = Command::new("cmd.exe").args(["/C", "exit 0"]).spawn()?;
    /// # assert!(child.wait()?.success());
    /// # }
    ///
    /// let err = Command::new("no-such-program-here").spawn().unwrap_err();
    /// assert!(matches!(err, Error::NotFound { .. }));
    /// # #[cfg(unix)]
    /// assert_eq!(err.spawn_step(), Some(SpawnStep::Exec));
    ///
    /// # #[cfg(unix)] {
    /// let err = Command::new("true").current_dir("/no/such/dir").spawn().unwrap_err();
    /// assert_eq!(err.spawn_step(), Some(SpawnStep::Chdir));
    /// assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    /// assert_eq!(err.to_string(), "failed to start true: chdir /no/such/dir failed");
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "posix_spawn")]
    #[doc(alias = "vfork")]
    #[doc(alias = "clone3")]
    #[doc(alias = "CreateProcessW")]
    pub fn spawn(&mut self) -> Result<Child> {
        let child = self.spawn_imp([StdioDefault::Inherit; 3])?;
        child.set_wait_delay(self.wait_delay);
        Ok(child)
    }

    /// Starts the program and waits for it: [`spawn`](Command::spawn) then
    /// [`Child::wait`](super::Child::wait). Stdio not set is inherited.
    ///
    /// # Errors
    ///
    /// As [`Command::spawn`] and [`Child::wait`](super::Child::wait). A
    /// wait that fails kills and reaps the child before `status` returns,
    /// as [`Command::output`] does.
    ///
    /// ```
    /// # #[cfg(unix)]
    /// let status = procctl::proc::Command::new("sh").args(["-c", "exit 3"]).status()?;
    /// # #[cfg(windows)]
    /// # let status = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 3"]).status()?;
    /// assert_eq!(status.code(), Some(3));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn status(&mut self) -> Result<ExitStatus> {
        self.spawn_held(false, DropPolicy::KillAndReap)?.wait()
    }

    /// Starts the program, collects its stdout and stderr, waits for it.
    ///
    /// Unless set otherwise, stdin is `/dev/null` (`NUL` on Windows) and
    /// stdout and stderr are pipes (as std's `output`). Both are read at
    /// once (with `poll` on Unix, by two threads on Windows), so a program
    /// that fills one while we read the other cannot deadlock.
    ///
    /// Both are read to end-of-file: a background process the program
    /// leaves behind with stdout or stderr inherited (`sh -c 'daemon &'`)
    /// keeps `output` waiting until it ends too (CPython gh-81605, Go
    /// #23019). [`wait_delay`](Command::wait_delay) bounds that wait.
    ///
    /// # Errors
    ///
    /// As [`Command::spawn`] and [`Child::communicate`](super::Child::communicate).
    /// A failure after the child started (a `poll` or `read` that fails)
    /// kills and reaps the child before `output` returns: the caller has
    /// no handle to it, so nothing is left running (as Python's
    /// `subprocess.run` does).
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// let out = procctl::proc::Command::new("sh")
    ///     .args(["-c", "echo out; echo err >&2; exit 2"])
    ///     .output()?;
    /// assert_eq!(out.status.code(), Some(2));
    /// assert_eq!(out.stdout, b"out\n");
    /// assert_eq!(out.stderr, b"err\n");
    /// # }
    /// # #[cfg(windows)] {
    /// # let out = procctl::proc::Command::new("cmd.exe")
    /// #     .args(["/C", "echo out& echo err 1>&2& exit 2"])
    /// #     .output()?;
    /// # assert_eq!(out.status.code(), Some(2));
    /// # assert_eq!(out.stdout, b"out\r\n");
    /// # assert!(String::from_utf8_lossy(&out.stderr).starts_with("err"));
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn output(&mut self) -> Result<Output> {
        self.spawn_held(true, DropPolicy::KillAndReap)?
            .communicate(b"")
    }

    /// The spawn of `status` (`output` false: stdio not set is inherited)
    /// and `output` (stdin `/dev/null`, stdout and stderr piped, unless
    /// set), sync and async. Nobody but the call holds the child, so it
    /// must not outlive the call: `policy` is what becomes of it if the
    /// call fails, or (async) if its future is dropped before the end.
    /// After a success it is reaped, and dropping it does nothing.
    pub(crate) fn spawn_held(&mut self, output: bool, policy: DropPolicy) -> Result<Child> {
        let defaults = if output {
            [StdioDefault::Null, StdioDefault::Piped, StdioDefault::Piped]
        } else {
            [StdioDefault::Inherit; 3]
        };
        let child = self.spawn_imp(defaults)?;
        child.set_wait_delay(self.wait_delay);
        child.set_drop_policy(policy);
        Ok(child)
    }
}

impl Command {
    /// `cmd1 | cmd2`: a [`Pipeline`](super::Pipeline) whose first member is
    /// this command and whose second is `next`.
    ///
    /// The builder's settings move into the pipeline: what stays behind in
    /// `self` is an empty command (`Command::new("")`), which fails to
    /// spawn with [`Error::InvalidArgument`](crate::Error::InvalidArgument).
    /// Taking `&mut self` lets a builder chain end in `pipe`, and `next`
    /// may be a `Command` or a builder chain (`&mut Command`, moved out
    /// the same way through `From<&mut Command>`).
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    ///
    /// # #[cfg(unix)] {
    /// let out = Command::new("printf")
    ///     .arg("b\\na\\nc\\n")
    ///     .pipe(Command::new("sort"))
    ///     .pipe(Command::new("head").arg("-2"))
    ///     .output()?;
    /// assert_eq!(out.stdout, b"a\nb\n");
    /// assert_eq!(out.status.to_string(), "0 | 0 | 0");
    /// # }
    /// # #[cfg(windows)] {
    /// # let out = Command::new("cmd.exe").args(["/C", "echo piped"])
    /// #     .pipe(Command::new("cmd.exe").args(["/C", "more"]))
    /// #     .output()?;
    /// # assert!(out.status.success());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn pipe(&mut self, next: impl Into<Command>) -> super::Pipeline {
        super::Pipeline::new([Command::from(self), next.into()])
    }

    /// For `Pipeline`: the program as given to [`Command::new`].
    pub(super) fn program_name(&self) -> &OsStr {
        &self.program
    }

    /// For `Pipeline`: the stdio setting of descriptor `fd` (0, 1 or 2),
    /// which the pipeline fills for the time of a spawn and then restores.
    pub(super) fn stdio_slot(&mut self, fd: usize) -> &mut Option<Stdio> {
        match fd {
            0 => &mut self.stdin,
            1 => &mut self.stdout,
            _ => &mut self.stderr,
        }
    }

    /// For `Pipeline`: whether the user chose descriptor `fd` (0, 1 or 2)
    /// for this command, with a stdio method or (on Unix) `map_fd`.
    pub(super) fn sets_stdio(&self, fd: usize) -> bool {
        let set = match fd {
            0 => self.stdin.is_some(),
            1 => self.stdout.is_some(),
            _ => self.stderr.is_some(),
        };
        #[cfg(unix)]
        let set = set || self.maps.iter().any(|(_, to)| *to as usize == fd);
        set
    }

    /// For `Pipeline`: the process group setting, which the pipeline fills
    /// for the time of a spawn and then restores.
    #[cfg(unix)]
    pub(super) fn group_slot(&mut self) -> &mut Option<i32> {
        &mut self.pgroup
    }

    /// For `Pipeline`: whether the user chose a process group or a session
    /// for this command.
    #[cfg(unix)]
    pub(super) fn sets_group(&self) -> bool {
        self.pgroup.is_some() || self.setsid
    }
}

impl Stdio {
    /// For `Pipeline`: whether this is [`Stdio::piped`].
    pub(super) fn is_piped(&self) -> bool {
        matches!(self.0, Kind::Piped)
    }
}

impl From<&mut Command> for Command {
    /// Moves a builder's settings out, leaving an empty command
    /// (`Command::new("")`, which fails to spawn) in its place. This is
    /// what lets a builder chain go where a `Command` is taken:
    /// [`Command::pipe`], [`Pipeline::pipe`](super::Pipeline::pipe).
    ///
    /// ```
    /// use procctl::proc::Command;
    ///
    /// let mut builder = Command::new("sort");
    /// let moved = Command::from(builder.arg("-r"));
    /// assert!(format!("{moved:?}").contains("\"-r\""));
    /// assert!(builder.spawn().is_err()); // nothing left to run
    /// ```
    fn from(cmd: &mut Command) -> Command {
        std::mem::replace(cmd, Command::new(""))
    }
}

impl Command {}
