//! [`Error`] and [`Result`]: one error type for the whole crate.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::time::Duration;

use crate::{Pid, Signal};

/// `std::result::Result` with procctl's [`Error`].
///
/// ```
/// fn status() -> procctl::Result<procctl::ExitStatus> {
///     Ok(procctl::ExitStatus::Exited(0))
/// }
/// assert!(status()?.success());
/// # Ok::<(), procctl::Error>(())
/// ```
pub type Result<T> = std::result::Result<T, Error>;

/// The step of starting a program that failed, carried by [`Error::Spawn`].
///
/// ```
/// use procctl::error::SpawnStep;
/// assert_eq!(SpawnStep::Chdir.to_string(), "chdir");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpawnStep {
    /// Creating the pipe that reports errors from the child.
    Pipe,
    /// Creating the process (`fork`, `vfork`, `clone`, `posix_spawn`).
    Fork,
    /// `chdir` to the requested working directory.
    Chdir,
    /// Moving a descriptor into place (`dup2`) for stdio or a mapped fd.
    Dup2,
    /// Closing the descriptors that are not passed to the child.
    CloseFds,
    /// `setsid`.
    Setsid,
    /// `setpgid`.
    Setpgid,
    /// Setting the child's signal mask or dispositions.
    Signals,
    /// Opening `/dev/null` or another file for stdio.
    Open,
    /// The `execve` call itself.
    Exec,
    /// Entering the requested cgroup (Linux): `clone3`'s
    /// `CLONE_INTO_CGROUP`, or on the `clone` fallback the child's write
    /// of itself to `cgroup.procs`.
    Cgroup,
    /// Making a terminal the child's controlling terminal
    /// (`ioctl(TIOCSCTTY)`, after `setsid`): `Command::pty`,
    /// `Command::controlling_terminal`. `ENOTTY`: the descriptor is not a
    /// terminal (checked before the child is made).
    Terminal,
    /// Making the child's process group the terminal's foreground group
    /// (`tcsetpgrp`, with `SIGTTOU` blocked): `Command::foreground`.
    Foreground,
    // ---- spawn attributes (Command::rlimit, uid, unshare, ...) ----
    /// `unshare(flags)` for [`Command::unshare`](crate::proc::Command::unshare)
    /// (Linux).
    Unshare,
    /// Writing `/proc/<pid>/setgroups`, `gid_map` or `uid_map` for a new
    /// user namespace; done by the parent while the child waits (Linux).
    IdMap,
    /// `chroot(path)`.
    Chroot,
    /// `setrlimit(resource, limit)`.
    Rlimit,
    /// `setpriority(PRIO_PROCESS, 0, nice)`.
    Nice,
    /// `sched_setaffinity(0, set)` (Linux).
    CpuAffinity,
    /// `setgroups(n, list)`: the supplementary groups.
    Setgroups,
    /// `setgid(gid)`.
    Setgid,
    /// `setuid(uid)`.
    Setuid,
    /// `prctl(PR_SET_NO_NEW_PRIVS)` (Linux), `procctl(PROC_NO_NEW_PRIVS_CTL)`
    /// (FreeBSD).
    NoNewPrivs,
    /// `prctl(PR_SET_PDEATHSIG)` (Linux), `procctl(PROC_PDEATHSIG_CTL)`
    /// (FreeBSD).
    ParentDeathSignal,
    // ---- end spawn attributes ----
}

impl fmt::Display for SpawnStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpawnStep::Pipe => "pipe",
            SpawnStep::Fork => "fork",
            SpawnStep::Chdir => "chdir",
            SpawnStep::Dup2 => "dup2",
            SpawnStep::CloseFds => "close fds",
            SpawnStep::Setsid => "setsid",
            SpawnStep::Setpgid => "setpgid",
            SpawnStep::Signals => "signal setup",
            SpawnStep::Open => "open",
            SpawnStep::Exec => "exec",
            SpawnStep::Cgroup => "join cgroup",
            SpawnStep::Terminal => "set controlling terminal",
            SpawnStep::Foreground => "set foreground process group",
            SpawnStep::Unshare => "unshare",
            SpawnStep::IdMap => "write id map",
            SpawnStep::Chroot => "chroot",
            SpawnStep::Rlimit => "setrlimit",
            SpawnStep::Nice => "setpriority",
            SpawnStep::CpuAffinity => "sched_setaffinity",
            SpawnStep::Setgroups => "setgroups",
            SpawnStep::Setgid => "setgid",
            SpawnStep::Setuid => "setuid",
            SpawnStep::NoNewPrivs => "no_new_privs",
            SpawnStep::ParentDeathSignal => "parent death signal",
        })
    }
}

/// Everything that can go wrong in procctl.
///
/// Each variant names what failed (the call, the program, the pid) and keeps
/// the operating system's error code: it is the [`source`](std::error::Error::source)
/// of the variants that carry one, [`Error::raw_os_error`] returns it, and the
/// [`io::Error`] made by `From<Error>` has the matching [`io::ErrorKind`].
///
/// # Examples
///
/// ```
/// use procctl::Error;
///
/// # #[cfg(unix)] {
/// let err = procctl::proc::execv("/no/such/program", &["x"]);
/// assert!(matches!(err, Error::NotFound { .. }));
/// assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
/// assert!(err.to_string().contains("/no/such/program"));
/// let io: std::io::Error = err.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// There is no child to wait for (`ECHILD`), also under `NOHANG`.
    #[error("no child processes to wait for")]
    NoChildren,

    /// The pid is not a child of this process, or was reaped by code outside
    /// procctl (`ECHILD` for a specific pid).
    #[error("process {pid} is not a child of this process (or was already reaped elsewhere)")]
    NotChild {
        /// The pid that was waited for.
        pid: Pid,
    },

    /// No process has this pid (`ESRCH`).
    #[error("no such process: {pid}")]
    NoSuchProcess {
        /// The pid that was signalled or probed.
        pid: Pid,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The safe `fork` refuses to run in a process with more than one thread.
    #[error("{}", multi_threaded_message(*.threads))]
    MultiThreaded {
        /// The number of threads seen, `None` where the platform cannot tell.
        threads: Option<usize>,
    },

    /// A program name, argument or environment entry holds a NUL byte, which
    /// cannot be passed to the kernel.
    #[error("{what} contains a NUL byte: {value:?}")]
    NulByte {
        /// What held the byte: `"program"`, `"argument"`, `"environment"`, ...
        what: &'static str,
        /// The offending value.
        value: OsString,
    },

    /// An argument that no call could accept: an empty program name, an empty
    /// argv, a signal number out of range, an environment entry without `=`.
    #[error("invalid {what}: {value}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// The offending value, as text.
        value: String,
    },

    /// The program to run does not exist (`ENOENT`, or not found in `PATH`).
    #[error("program not found: {}", .program.to_string_lossy())]
    NotFound {
        /// The program as given.
        program: OsString,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The operating system refused (`EACCES`, `EPERM`).
    #[error("permission denied: {subject}")]
    PermissionDenied {
        /// What was refused: `"execute /etc/passwd"`, `"kill 1"`, ...
        subject: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// A limit was hit: too many processes (`EAGAIN`) or descriptors
    /// (`EMFILE`, `ENFILE`), or not enough memory (`ENOMEM`).
    #[error("{call}: resource limit reached")]
    ResourceLimit {
        /// The call that failed.
        call: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// Starting a program failed at `step`.
    #[error(
        "failed to start {}: {step}{} failed",
        .program.to_string_lossy(),
        .path.as_ref().map(|p| format!(" {}", p.to_string_lossy())).unwrap_or_default()
    )]
    Spawn {
        /// The program as given.
        program: OsString,
        /// The step that failed.
        step: SpawnStep,
        /// What the step was about, where it names a file: the directory
        /// of a failed `chdir`.
        path: Option<OsString>,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// A signal arrived that the caller asked to be told about (the SIGINT
    /// watcher's `check()`), like Python's `KeyboardInterrupt`.
    #[error("interrupted by {0}")]
    Interrupted(Signal),

    /// The operation does not exist on this platform.
    #[error("{what} is not supported on this platform")]
    Unsupported {
        /// The operation.
        what: &'static str,
    },

    /// Any other failure of a system call.
    #[error("{call} failed")]
    Os {
        /// The call that failed (`"waitpid"`, `"pidfd_open"`, ...).
        call: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// An operation with a deadline did not finish in time (for example
    /// `Child::communicate_timeout`, which kills the child first).
    ///
    /// For `communicate_timeout` it carries what was read before the
    /// deadline: see [`Error::partial_output`].
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// What timed out: `"communicate"`, ...
        what: &'static str,
        /// The time it was given.
        after: Duration,
        /// What was read from stdout and stderr before the deadline, for
        /// an operation that reads output; `None` for one that does not.
        partial: Option<Box<(Vec<u8>, Vec<u8>)>>,
    },

    /// A cgroup file-system operation failed (Linux): creating, opening,
    /// reading, writing or removing a cgroup of a
    /// [`Scope`](crate::proc::Scope). `EACCES`/`EPERM`/`EROFS` mean the
    /// cgroup is not writable here (not delegated to us, or mounted
    /// read-only); `EBUSY`/`EOPNOTSUPP` that the cgroup tree's rules
    /// refuse it.
    #[error("cgroup {}: {call} failed", .path.display())]
    Cgroup {
        /// The cgroup directory (or file) concerned.
        path: std::path::PathBuf,
        /// The call or file: `"mkdir"`, `"write cgroup.kill"`, ...
        call: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// A directory given as a cgroup is not on a cgroup v2 file system
    /// (Linux).
    #[error("{} is not a cgroup v2 directory", .path.display())]
    NotCgroup2 {
        /// The directory.
        path: std::path::PathBuf,
    },

    /// [`Child::signal_group`](crate::proc::Child::signal_group) after the
    /// child was reaped: the group's number can no longer be named safely.
    #[error("process {pid} was already reaped: its process group can no longer be named safely")]
    GroupLeaderReaped {
        /// The reaped child.
        pid: Pid,
    },

    /// [`Child::signal_group`](crate::proc::Child::signal_group) on a child
    /// that does not lead a process group.
    #[error("process {pid} does not lead a process group")]
    NotGroupLeader {
        /// The child.
        pid: Pid,
    },

    /// A member of a [`Pipeline`](crate::proc::Pipeline) could not start: its
    /// spawn failed, or the pipe to the next member could not be made. The
    /// members started before it were killed and reaped. The member's own
    /// error is the [`source`](std::error::Error::source);
    /// [`Error::raw_os_error`] and [`Error::spawn_step`] look through to it.
    #[error("pipeline member {index} ({}) could not start", .program.to_string_lossy())]
    PipelineMember {
        /// The member's position in the pipeline, from 0.
        index: usize,
        /// Its program, as given.
        program: OsString,
        /// Why it could not start.
        #[source]
        source: Box<Error>,
    },
}

fn multi_threaded_message(threads: Option<usize>) -> String {
    match threads {
        Some(n) => format!(
            "refusing to fork: the process has {n} threads (only the calling one would survive in the child)"
        ),
        None => "refusing to fork: cannot tell how many threads this process has".to_owned(),
    }
}

impl Error {
    /// The operating system's error code behind this error, if there is one.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// let err = procctl::proc::wait().unwrap_err();
    /// assert_eq!(err.raw_os_error(), Some(libc::ECHILD));
    /// # }
    /// ```
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::NoChildren | Error::NotChild { .. } => Some(errno_echild()),
            Error::Interrupted(_) => Some(errno_eintr()),
            Error::PipelineMember { source, .. } => source.raw_os_error(),
            _ => self.io_source().and_then(io::Error::raw_os_error),
        }
    }

    /// The step that failed, for a failure to start a program: the step of
    /// [`Error::Spawn`], and [`SpawnStep::Exec`] for the
    /// [`Error::NotFound`] and [`Error::PermissionDenied`] that an `exec`
    /// reports (`ENOENT`, `EACCES`); `None` for other errors.
    ///
    /// ```
    /// use procctl::error::SpawnStep;
    ///
    /// # #[cfg(unix)] {
    /// // A directory cannot be executed: the exec step fails with EACCES.
    /// let err = procctl::proc::execv("/", &["/"]);
    /// assert!(matches!(err, procctl::Error::PermissionDenied { .. }));
    /// assert_eq!(err.spawn_step(), Some(SpawnStep::Exec));
    /// let err = procctl::proc::execv("/no/such/program", &["x"]);
    /// assert!(matches!(err, procctl::Error::NotFound { .. }));
    /// assert_eq!(err.spawn_step(), Some(SpawnStep::Exec));
    /// assert_eq!(procctl::proc::wait().unwrap_err().spawn_step(), None);
    /// # }
    /// ```
    pub fn spawn_step(&self) -> Option<SpawnStep> {
        match self {
            Error::Spawn { step, .. } => Some(*step),
            Error::PipelineMember { source, .. } => source.spawn_step(),
            // Only an exec makes NotFound (see `Error::spawn`).
            Error::NotFound { .. } => Some(SpawnStep::Exec),
            Error::PermissionDenied { subject, .. } if subject.starts_with(EXECUTE) => {
                Some(SpawnStep::Exec)
            }
            _ => None,
        }
    }

    /// What a timed-out `communicate` had read from stdout and stderr
    /// before its deadline ([`Error::Timeout`]); `None` for other errors.
    ///
    /// Those bytes are not read again: a later `communicate` on the same
    /// child returns what comes after them (like the `output` and `stderr`
    /// of Python's `TimeoutExpired`, except that Python's next
    /// `communicate` repeats them).
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::proc::{Command, Stdio};
    ///
    /// # #[cfg(unix)] {
    /// let child = Command::new("sh")
    ///     .args(["-c", "echo early; exec sleep 60"])
    ///     .stdout(Stdio::piped())
    ///     .spawn()?;
    /// let err = child.communicate_timeout(b"", Duration::from_millis(300)).unwrap_err();
    /// let (stdout, stderr) = err.partial_output().expect("communicate reads output");
    /// assert_eq!(stdout, b"early\n");
    /// assert!(stderr.is_empty());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn partial_output(&self) -> Option<(&[u8], &[u8])> {
        match self {
            Error::Timeout {
                partial: Some(p), ..
            } => Some((&p.0, &p.1)),
            _ => None,
        }
    }

    /// [`Error::partial_output`], by value (no copy).
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::proc::{Command, Stdio};
    ///
    /// # #[cfg(unix)] {
    /// let child = Command::new("sh")
    ///     .args(["-c", "echo early >&2; exec sleep 60"])
    ///     .stderr(Stdio::piped())
    ///     .spawn()?;
    /// let err = child.communicate_timeout(b"", Duration::from_millis(300)).unwrap_err();
    /// let (_, stderr) = err.into_partial_output().unwrap();
    /// assert_eq!(stderr, b"early\n");
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn into_partial_output(self) -> Option<(Vec<u8>, Vec<u8>)> {
        match self {
            Error::Timeout {
                partial: Some(p), ..
            } => Some(*p),
            _ => None,
        }
    }

    fn io_source(&self) -> Option<&io::Error> {
        match self {
            Error::NoSuchProcess { source, .. }
            | Error::NotFound { source, .. }
            | Error::PermissionDenied { source, .. }
            | Error::ResourceLimit { source, .. }
            | Error::Spawn { source, .. }
            | Error::Cgroup { source, .. }
            | Error::Os { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The [`io::ErrorKind`] this error converts to.
    pub(crate) fn kind(&self) -> io::ErrorKind {
        match self {
            Error::NotFound { .. } => io::ErrorKind::NotFound,
            Error::PermissionDenied { .. } => io::ErrorKind::PermissionDenied,
            Error::NulByte { .. } | Error::InvalidArgument { .. } => io::ErrorKind::InvalidInput,
            Error::Interrupted(_) => io::ErrorKind::Interrupted,
            Error::Unsupported { .. } => io::ErrorKind::Unsupported,
            Error::MultiThreaded { .. } => io::ErrorKind::Other,
            Error::NoChildren | Error::NotChild { .. } => io::ErrorKind::Other,
            Error::NoSuchProcess { .. } => io::ErrorKind::NotFound,
            Error::Timeout { .. } => io::ErrorKind::TimedOut,
            Error::NotCgroup2 { .. } => io::ErrorKind::InvalidInput,
            Error::GroupLeaderReaped { .. } | Error::NotGroupLeader { .. } => io::ErrorKind::Other,
            Error::PipelineMember { source, .. } => source.kind(),
            Error::ResourceLimit { source, .. }
            | Error::Spawn { source, .. }
            | Error::Cgroup { source, .. }
            | Error::Os { source, .. } => source.kind(),
        }
    }

    /// Builds the error for a failed call from an `io::Error`, choosing the
    /// variant from the errno: limits become [`Error::ResourceLimit`], the
    /// rest [`Error::Os`].
    pub(crate) fn os(call: &'static str, source: io::Error) -> Error {
        if is_resource_limit(&source) {
            Error::ResourceLimit { call, source }
        } else {
            Error::Os { call, source }
        }
    }

    /// The error for a failed exec or spawn step of `program`.
    pub(crate) fn spawn(program: &std::ffi::OsStr, step: SpawnStep, source: io::Error) -> Error {
        let program = program.to_owned();
        if step == SpawnStep::Exec {
            match source.kind() {
                io::ErrorKind::NotFound => return Error::NotFound { program, source },
                io::ErrorKind::PermissionDenied => {
                    return Error::PermissionDenied {
                        subject: format!("{EXECUTE}{}", program.to_string_lossy()),
                        source,
                    };
                }
                _ => {}
            }
        }
        Error::Spawn {
            program,
            step,
            path: None,
            source,
        }
    }

    /// Names the file or directory an [`Error::Spawn`] was about (the
    /// directory of a failed `chdir`); other errors are returned as they are.
    pub(crate) fn with_path(mut self, file: &std::ffi::OsStr) -> Error {
        if let Error::Spawn { path, .. } = &mut self {
            *path = Some(file.to_owned());
        }
        self
    }
}

/// How the subject of an exec's [`Error::PermissionDenied`] starts: what
/// [`Error::spawn_step`] recognises it by.
const EXECUTE: &str = "execute ";

fn is_resource_limit(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(
            e.raw_os_error(),
            Some(libc::EAGAIN | libc::EMFILE | libc::ENFILE | libc::ENOMEM)
        )
    }
    #[cfg(not(unix))]
    {
        matches!(e.kind(), io::ErrorKind::OutOfMemory)
    }
}

#[cfg(unix)]
fn errno_echild() -> i32 {
    libc::ECHILD
}
#[cfg(not(unix))]
fn errno_echild() -> i32 {
    10 // ECHILD in the C runtime
}
#[cfg(unix)]
fn errno_eintr() -> i32 {
    libc::EINTR
}
#[cfg(not(unix))]
fn errno_eintr() -> i32 {
    4 // EINTR in the C runtime
}

impl From<Error> for io::Error {
    /// Keeps the kind (see [`Error`]) and the whole procctl error as the inner
    /// error, so `get_ref()` and `source()` still reach the errno.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// let err = procctl::proc::wait().unwrap_err();
    /// let io: std::io::Error = err.into();
    /// let inner = io.get_ref().unwrap().downcast_ref::<procctl::Error>().unwrap();
    /// assert!(matches!(inner, procctl::Error::NoChildren));
    /// # }
    /// ```
    fn from(err: Error) -> io::Error {
        io::Error::new(err.kind(), err)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn kinds_and_sources() {
        let nf = Error::spawn(
            "prog".as_ref(),
            SpawnStep::Exec,
            io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert!(matches!(nf, Error::NotFound { .. }));
        assert_eq!(nf.raw_os_error(), Some(libc::ENOENT));
        assert_eq!(nf.spawn_step(), Some(SpawnStep::Exec));
        assert_eq!(io::Error::from(nf).kind(), io::ErrorKind::NotFound);

        let pd = Error::spawn(
            "prog".as_ref(),
            SpawnStep::Exec,
            io::Error::from_raw_os_error(libc::EACCES),
        );
        assert_eq!(pd.to_string(), "permission denied: execute prog");
        assert_eq!(pd.spawn_step(), Some(SpawnStep::Exec));
        let kill = Error::PermissionDenied {
            subject: "kill 1".into(),
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert_eq!(kill.spawn_step(), None);
        assert_eq!(io::Error::from(pd).kind(), io::ErrorKind::PermissionDenied);

        let chdir = Error::spawn(
            "prog".as_ref(),
            SpawnStep::Chdir,
            io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert_eq!(chdir.spawn_step(), Some(SpawnStep::Chdir));
        assert_eq!(chdir.to_string(), "failed to start prog: chdir failed");
        let chdir = chdir.with_path("/no/dir".as_ref());
        assert_eq!(
            chdir.to_string(),
            "failed to start prog: chdir /no/dir failed"
        );
        assert_eq!(chdir.spawn_step(), Some(SpawnStep::Chdir));
        assert_eq!(
            chdir
                .source()
                .unwrap()
                .downcast_ref::<io::Error>()
                .unwrap()
                .raw_os_error(),
            Some(libc::ENOENT)
        );

        let nul = Error::NulByte {
            what: "argument",
            value: "a\0b".into(),
        };
        assert_eq!(io::Error::from(nul).kind(), io::ErrorKind::InvalidInput);

        let lim = Error::os("fork", io::Error::from_raw_os_error(libc::EAGAIN));
        assert!(matches!(lim, Error::ResourceLimit { call: "fork", .. }));
        assert_eq!(lim.raw_os_error(), Some(libc::EAGAIN));

        let mt = Error::MultiThreaded { threads: Some(3) };
        assert!(mt.to_string().contains("3 threads"));
    }
}
