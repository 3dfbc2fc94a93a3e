//! The plain data of the process API, the same on every platform:
//! [`DropPolicy`], [`Output`], [`PopenMode`].

use crate::ExitStatus;

/// What dropping an unwaited [`Child`](super::Child) does to its process.
///
/// # Platform notes
///
/// Windows has no zombies: there `Reap` and `Detach` leave the process
/// running and do nothing else, `Kill` and `KillAndReap` end it with
/// `TerminateProcess` (`KillAndReap` also waits for it).
///
/// ```
/// use procctl::proc::DropPolicy;
/// assert_eq!(DropPolicy::default(), DropPolicy::Reap);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DropPolicy {
    /// Leave it running; procctl reaps it after it exits (at its next fork,
    /// spawn or wait, or in [`reap_zombies`](crate::reap::reap_zombies)).
    /// Never blocks. The default.
    #[default]
    Reap,
    /// Send `SIGKILL`, then reap it like [`DropPolicy::Reap`]. Never blocks.
    Kill,
    /// Send `SIGKILL` and wait for it in `drop`. Blocks only as long as the
    /// kernel takes to end a killed process; if the kill fails (we may not
    /// signal it), the child is parked as with `Reap` instead.
    KillAndReap,
    /// Forget it: it keeps running and procctl will not reap it. When it
    /// exits it stays a zombie until someone waits for it (or this process
    /// exits).
    Detach,
}

impl DropPolicy {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            DropPolicy::Reap => 0,
            DropPolicy::Kill => 1,
            DropPolicy::KillAndReap => 2,
            DropPolicy::Detach => 3,
        }
    }

    pub(crate) fn from_u8(v: u8) -> DropPolicy {
        match v {
            1 => DropPolicy::Kill,
            2 => DropPolicy::KillAndReap,
            3 => DropPolicy::Detach,
            _ => DropPolicy::Reap,
        }
    }
}

/// What a finished child left: its status and everything it wrote to its
/// piped stdout and stderr (empty for a stream that was not piped).
///
/// Returned by [`Child::communicate`](super::Child::communicate) and
/// [`Command::output`](super::Command::output).
///
/// ```
/// # #[cfg(unix)]
/// let out = procctl::proc::Command::new("echo").arg("hi").output()?;
/// # #[cfg(windows)]
/// # let out = procctl::proc::Command::new("cmd.exe").args(["/C", "echo hi"]).output()?;
/// assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "hi");
/// assert!(out.stderr.is_empty());
/// assert!(out.status.success());
/// # Ok::<(), procctl::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// How the child ended.
    pub status: ExitStatus,
    /// What it wrote to stdout.
    pub stdout: Vec<u8>,
    /// What it wrote to stderr.
    pub stderr: Vec<u8>,
}

/// Which end of the command [`popen`](super::popen) connects to us.
///
/// ```
/// use procctl::proc::PopenMode;
/// assert_ne!(PopenMode::Read, PopenMode::Write);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PopenMode {
    /// We read the command's stdout (`"r"`).
    Read,
    /// We write the command's stdin (`"w"`).
    Write,
}
