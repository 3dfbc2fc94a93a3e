//! The plain data of the process API, the same on every platform:
//! [`DropPolicy`], [`Output`] (and [`PipesHeldOpen`]), [`PopenMode`].

use std::ffi::{OsStr, OsString};
use std::fmt;

use crate::{ExitStatus, Pid};

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
/// Besides its public fields, an `Output` records whether procctl stopped
/// reading a pipe that outlived the child
/// ([`Command::wait_delay`](super::Command::wait_delay)): see
/// [`Output::pipes_held_open`]. Because of that private part an `Output`
/// is made by procctl only, never with a struct literal; its fields are
/// still public to read and to move out.
///
/// ```
/// # #[cfg(unix)]
/// let out = procctl::proc::Command::new("echo").arg("hi").output()?;
/// # #[cfg(windows)]
/// # let out = procctl::proc::Command::new("cmd.exe").args(["/C", "echo hi"]).output()?;
/// assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "hi");
/// assert!(out.stderr.is_empty());
/// assert!(out.status.success());
/// assert!(out.pipes_held_open().is_none());
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
    /// The pipes cut after the wait delay, if any.
    held: Option<PipesHeldOpen>,
}

impl Output {
    pub(crate) fn new(
        status: ExitStatus,
        [stdout, stderr]: [Vec<u8>; 2],
        held: Option<PipesHeldOpen>,
    ) -> Output {
        Output {
            status,
            stdout,
            stderr,
            held,
        }
    }

    /// Which captured pipes were still open when the
    /// [wait delay](super::Command::wait_delay) after the child's exit ran
    /// out, so procctl stopped reading them and closed its ends; `None`
    /// when every pipe reached end-of-file (always, without a wait delay).
    ///
    /// When it is `Some`, `stdout` and `stderr` hold everything read up to
    /// the cut; whatever the holders write afterwards is lost to us (they
    /// get `EPIPE` or `SIGPIPE`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::proc::Command;
    ///
    /// # #[cfg(unix)] {
    /// // The shell exits at once; the background sleep keeps stdout open.
    /// let out = Command::new("sh")
    ///     .args(["-c", "echo hi; sleep 5 &"])
    ///     .wait_delay(Duration::from_millis(100))
    ///     .output()?;
    /// assert_eq!(out.stdout, b"hi\n");
    /// let held = out.pipes_held_open().expect("the sleep holds stdout");
    /// assert!(held.stdout() && held.stderr());
    /// # for h in held.all_holders() { let _ = procctl::signal::kill(h.pid(), procctl::Signal::KILL); }
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn pipes_held_open(&self) -> Option<&PipesHeldOpen> {
        self.held.as_ref()
    }
}

/// One of a child's three standard streams.
///
/// ```
/// use procctl::proc::StdStream;
/// assert_eq!(StdStream::Stdout.to_string(), "stdout");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StdStream {
    /// Standard input (descriptor 0).
    Stdin,
    /// Standard output (descriptor 1).
    Stdout,
    /// Standard error (descriptor 2).
    Stderr,
}

impl fmt::Display for StdStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StdStream::Stdin => "stdin",
            StdStream::Stdout => "stdout",
            StdStream::Stderr => "stderr",
        })
    }
}

/// A live process that held the other end of a pipe procctl cut (see
/// [`PipesHeldOpen`]).
///
/// ```
/// use std::time::Duration;
/// use procctl::proc::Command;
///
/// # #[cfg(target_os = "linux")] {
/// let out = Command::new("sh")
///     .args(["-c", "sleep 5 &"])
///     .wait_delay(Duration::from_millis(200))
///     .output()?;
/// let held = out.pipes_held_open().expect("the sleep holds the pipes");
/// let sleep = held.all_holders()[0];
/// assert_eq!(sleep.name(), "sleep");
/// procctl::signal::kill(sleep.pid(), procctl::Signal::KILL)?;
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PipeHolder {
    pid: Pid,
    name: OsString,
}

impl PipeHolder {
    // Unused on Windows, which names no holder.
    #[cfg_attr(windows, allow(dead_code))]
    pub(crate) fn new(pid: Pid, name: OsString) -> PipeHolder {
        PipeHolder { pid, name }
    }

    /// Its process id, as it was when the pipe was cut (the process may
    /// have ended since, and its pid been reused).
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Its command name when the pipe was cut (Linux: `/proc/PID/comm`,
    /// at most 15 bytes). A process forked but not yet through `exec`
    /// still has its parent's name (`sh` for a background job cut a
    /// moment after it started).
    pub fn name(&self) -> &OsStr {
        &self.name
    }
}

/// The pipes procctl stopped reading (or writing) because they were still
/// open when the wait delay after the child's exit ran out, and who held
/// them: [`Output::pipes_held_open`].
///
/// # Platform notes
///
/// The holders are found on Linux only (each process's `/proc/PID/fd`,
/// with the descriptor's access mode from `/proc/PID/fdinfo`): the live
/// processes we may inspect that held the write end of a cut stdout or
/// stderr, or the read end of a cut stdin. Elsewhere the list is empty.
///
/// ```
/// use std::time::Duration;
/// use procctl::proc::{Command, StdStream};
///
/// # #[cfg(unix)] {
/// let out = Command::new("sh")
///     .args(["-c", "echo out; echo err >&2; sleep 5 >&- &"])
///     .wait_delay(Duration::from_millis(50))
///     .output()?;
/// let held = out.pipes_held_open().expect("the sleep holds stderr");
/// assert!(held.stderr() && !held.stdout());
/// assert_eq!(held.streams().collect::<Vec<_>>(), [StdStream::Stderr]);
/// println!("{held}"); // stderr held open by 1234 (sleep)
/// # for h in held.all_holders() { let _ = procctl::signal::kill(h.pid(), procctl::Signal::KILL); }
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipesHeldOpen {
    cut: Vec<(StdStream, Vec<PipeHolder>)>,
}

impl PipesHeldOpen {
    pub(crate) fn new(cut: Vec<(StdStream, Vec<PipeHolder>)>) -> PipesHeldOpen {
        PipesHeldOpen { cut }
    }

    /// Whether stdout was cut.
    pub fn stdout(&self) -> bool {
        self.is_cut(StdStream::Stdout)
    }

    /// Whether stderr was cut.
    pub fn stderr(&self) -> bool {
        self.is_cut(StdStream::Stderr)
    }

    /// Whether stdin was cut: part of the input was never written, because
    /// a process that does not read held the pipe after the child ended.
    pub fn stdin(&self) -> bool {
        self.is_cut(StdStream::Stdin)
    }

    fn is_cut(&self, stream: StdStream) -> bool {
        self.cut.iter().any(|(s, _)| *s == stream)
    }

    /// The streams that were cut, in the order stdin, stdout, stderr.
    pub fn streams(&self) -> impl Iterator<Item = StdStream> + '_ {
        self.cut.iter().map(|(s, _)| *s)
    }

    /// Who held `stream` open (empty if it was not cut, or nobody was
    /// found: see the platform notes).
    pub fn holders(&self, stream: StdStream) -> &[PipeHolder] {
        self.cut
            .iter()
            .find(|(s, _)| *s == stream)
            .map_or(&[], |(_, h)| h.as_slice())
    }

    /// Every holder of any cut stream, each process once.
    pub fn all_holders(&self) -> Vec<&PipeHolder> {
        let mut all: Vec<&PipeHolder> = Vec::new();
        for h in self.cut.iter().flat_map(|(_, h)| h) {
            if !all.iter().any(|a| a.pid == h.pid) {
                all.push(h);
            }
        }
        all
    }
}

impl fmt::Display for PipesHeldOpen {
    /// `stdout held open by 1234 (sleep); stderr held open by 1234 (sleep)`,
    /// or `stdout held open` where no holder was found.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (stream, holders)) in self.cut.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{stream} held open")?;
            for (j, h) in holders.iter().enumerate() {
                let sep = if j == 0 { " by" } else { "," };
                write!(f, "{sep} {} ({})", h.pid, h.name.to_string_lossy())?;
            }
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_open_queries_and_display() {
        let sleep = |pid| PipeHolder::new(Pid::from_raw(pid).unwrap(), "sleep".into());
        let held = PipesHeldOpen::new(vec![
            (StdStream::Stdout, vec![sleep(7), sleep(9)]),
            (StdStream::Stderr, vec![sleep(7)]),
        ]);
        assert!(held.stdout() && held.stderr() && !held.stdin());
        assert_eq!(held.holders(StdStream::Stdout).len(), 2);
        assert!(held.holders(StdStream::Stdin).is_empty());
        let pids: Vec<i32> = held
            .all_holders()
            .iter()
            .map(|h| h.pid().as_raw())
            .collect();
        assert_eq!(pids, [7, 9]);
        assert_eq!(
            held.to_string(),
            "stdout held open by 7 (sleep), 9 (sleep); stderr held open by 7 (sleep)"
        );
        let nobody = PipesHeldOpen::new(vec![(StdStream::Stdin, vec![])]);
        assert_eq!(nobody.to_string(), "stdin held open");
    }
}
