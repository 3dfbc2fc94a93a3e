//! [`PipeStatus`] and [`PipelineOutput`]: how every member of a pipeline
//! ended, and the rules (bash's `PIPESTATUS`, `pipefail`) that make one
//! status of them. Pure data, no system calls.

use std::fmt;

use crate::proc::PipesHeldOpen;
use crate::{ExitStatus, Signal};

/// How every member of a [`Pipeline`](super::Pipeline) ended, in pipeline
/// order: bash's `PIPESTATUS` array.
///
/// One status for the whole pipeline, three ways:
///
/// - [`last`](PipeStatus::last): the last member's, what a POSIX shell
///   reports by default (`$?` of `a | b` is `b`'s);
/// - [`pipefail`](PipeStatus::pipefail): the rightmost failure, else
///   success (`set -o pipefail`, in POSIX since 2024);
///   [`success`](PipeStatus::success) goes by this one;
/// - [`pipefail_ignoring_sigpipe`](PipeStatus::pipefail_ignoring_sigpipe):
///   the same, except that a writer killed by `SIGPIPE` because a member
///   to its right stopped reading is not a failure (`yes | head -1`).
///
/// `Display` prints the statuses as bash's `echo ${PIPESTATUS[@]}` numbers
/// joined by `" | "`: an exit code as is, a death by signal `n` as `128 + n`
/// (`"0 | 141 | 0"`).
///
/// ```
/// use procctl::{ExitStatus, Signal, proc::PipeStatus};
///
/// # #[cfg(unix)] {
/// let status = procctl::proc::Command::new("yes")
///     .pipe(procctl::proc::Command::new("head").arg("-1"))
///     .stdout(procctl::proc::Stdio::null())
///     .status()?;
/// assert_eq!(status.statuses()[0].signal(), Some(Signal::PIPE));
/// assert_eq!(status.to_string(), "141 | 0");
/// assert!(status.last().success());
/// assert!(!status.pipefail().success());
/// assert!(status.pipefail_ignoring_sigpipe().success());
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PipeStatus {
    statuses: Vec<ExitStatus>,
}

impl PipeStatus {
    /// The statuses of a pipeline's members, in order. Not empty: a
    /// pipeline has at least one member.
    pub(crate) fn new(statuses: Vec<ExitStatus>) -> PipeStatus {
        debug_assert!(!statuses.is_empty());
        PipeStatus { statuses }
    }

    /// Every member's status, in pipeline order (bash's `PIPESTATUS`).
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use procctl::proc::Command;
    /// let status = Command::new("sh").args(["-c", "exit 3"])
    ///     .pipe(Command::new("true"))
    ///     .status()?;
    /// let codes: Vec<_> = status.statuses().iter().map(|s| s.code()).collect();
    /// assert_eq!(codes, [Some(3), Some(0)]);
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "PIPESTATUS")]
    pub fn statuses(&self) -> &[ExitStatus] {
        &self.statuses
    }

    /// The last member's status: what `$?` of a pipeline is in a POSIX
    /// shell without `pipefail`.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use procctl::proc::Command;
    /// let status = Command::new("false").pipe(Command::new("true")).status()?;
    /// assert!(status.last().success());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn last(&self) -> ExitStatus {
        *self.statuses.last().expect("a pipeline has a member")
    }

    /// The rightmost member's status that is not a success, else success
    /// (the last status): bash's `set -o pipefail`.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use procctl::proc::Command;
    /// let status = Command::new("sh").args(["-c", "exit 2"])
    ///     .pipe(Command::new("sh").args(["-c", "exit 3"]))
    ///     .pipe(Command::new("true"))
    ///     .status()?;
    /// assert_eq!(status.pipefail().code(), Some(3));
    /// assert!(!status.success());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn pipefail(&self) -> ExitStatus {
        self.rightmost_failure(|_| true)
    }

    /// [`pipefail`](PipeStatus::pipefail), except that a member killed by
    /// `SIGPIPE` after a member to its right stopped reading is not a
    /// failure: `yes | head -1` succeeds.
    ///
    /// The rule: a member killed by `SIGPIPE` is forgiven when it is not
    /// the last member. Its stdout is a pipe procctl made whose only
    /// reader is the next member (a member other than the last cannot set
    /// its own stdout), so the signal says that reader had closed its end,
    /// by exiting or by closing its stdin, before the writer was done. The
    /// last member's `SIGPIPE` (its stdout is the pipeline's) still counts,
    /// as does any other signal or exit code. A `SIGPIPE` a member takes
    /// from a pipe other than its stdout (its stderr, say, when whoever
    /// reads that has gone) cannot be told apart and is forgiven too.
    ///
    /// On Windows there is no `SIGPIPE`: this is `pipefail`.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use procctl::proc::{Command, Stdio};
    /// let status = Command::new("yes")
    ///     .pipe(Command::new("head").arg("-1"))
    ///     .stdout(Stdio::null())
    ///     .status()?;
    /// assert_eq!(status.pipefail().signal(), Some(procctl::Signal::PIPE));
    /// assert!(status.pipefail_ignoring_sigpipe().success());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn pipefail_ignoring_sigpipe(&self) -> ExitStatus {
        let last = self.statuses.len() - 1;
        self.rightmost_failure(|(k, s)| !(k < last && s.signal() == Some(Signal::PIPE)))
    }

    /// Whether the pipeline succeeded by [`pipefail`](PipeStatus::pipefail):
    /// every member did.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use procctl::proc::Command;
    /// assert!(Command::new("true").pipe(Command::new("true")).status()?.success());
    /// assert!(!Command::new("false").pipe(Command::new("true")).status()?.success());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn success(&self) -> bool {
        self.pipefail().success()
    }

    /// The rightmost status that failed and that `counts` keeps, else the
    /// success of the last member (or, if the last member failed but does
    /// not count, a plain exit 0).
    fn rightmost_failure(&self, counts: impl Fn((usize, &ExitStatus)) -> bool) -> ExitStatus {
        self.statuses
            .iter()
            .enumerate()
            .rev()
            .find(|&(k, s)| !s.success() && counts((k, s)))
            .map_or(ExitStatus::Exited(0), |(_, s)| *s)
    }
}

/// A status as bash's `$?` prints it: the code, or 128 + the signal.
fn shell_number(status: &ExitStatus) -> i64 {
    match status {
        ExitStatus::Exited(code) => i64::from(*code),
        ExitStatus::Signaled { signal, .. } => 128 + i64::from(signal.as_raw()),
    }
}

impl fmt::Display for PipeStatus {
    /// `"0 | 0 | 141"`: bash's `PIPESTATUS` numbers (128 + n for signal
    /// n), joined by `" | "`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, s) in self.statuses.iter().enumerate() {
            if k > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{}", shell_number(s))?;
        }
        Ok(())
    }
}

/// What a finished pipeline left: every member's status, what the last
/// member wrote to stdout and what the members wrote to the pipeline's
/// stderr (empty for a stream that was not piped).
///
/// Returned by [`Pipeline::output`](super::Pipeline::output) and
/// [`PipelineChild::communicate`](super::PipelineChild::communicate).
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::proc::Command;
/// let out = Command::new("sh").args(["-c", "echo hi; echo one >&2"])
///     .pipe(Command::new("sh").args(["-c", "tr a-z A-Z; echo two >&2"]))
///     .output()?;
/// assert_eq!(out.stdout, b"HI\n");
/// assert_eq!(out.stderr.len(), 8); // "one\n" and "two\n", in either order
/// assert!(out.status.success());
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineOutput {
    /// How every member ended.
    pub status: PipeStatus,
    /// What the last member wrote to stdout.
    pub stdout: Vec<u8>,
    /// What the members wrote to the shared stderr.
    pub stderr: Vec<u8>,
    /// The pipes cut after the wait delay, if any.
    held: Option<PipesHeldOpen>,
}

impl PipelineOutput {
    pub(crate) fn new(
        status: PipeStatus,
        [stdout, stderr]: [Vec<u8>; 2],
        held: Option<PipesHeldOpen>,
    ) -> PipelineOutput {
        PipelineOutput {
            status,
            stdout,
            stderr,
            held,
        }
    }

    /// Which captured pipes were still open when the
    /// [wait delay](super::Pipeline::wait_delay) after the last member's
    /// end ran out, so procctl stopped reading them and closed its ends;
    /// `None` when every pipe reached end-of-file (always, without a wait
    /// delay). As [`Output::pipes_held_open`](crate::proc::Output::pipes_held_open):
    /// `stdout` and `stderr` hold everything read up to the cut, and on
    /// Linux the holders are named.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::proc::Command;
    ///
    /// # #[cfg(unix)] {
    /// // The last member exits at once; its background sleep keeps stdout open.
    /// let out = Command::new("echo").arg("hi")
    ///     .pipe(Command::new("sh").args(["-c", "cat; sleep 5 &"]))
    ///     .wait_delay(Duration::from_millis(100))
    ///     .output()?;
    /// assert_eq!(out.stdout, b"hi\n");
    /// let held = out.pipes_held_open().expect("the sleep holds stdout");
    /// assert!(held.stdout());
    /// # for h in held.all_holders() { let _ = procctl::signal::kill(h.pid(), procctl::Signal::KILL); }
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn pipes_held_open(&self) -> Option<&PipesHeldOpen> {
        self.held.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(s: Signal) -> ExitStatus {
        ExitStatus::Signaled {
            signal: s,
            core_dumped: false,
        }
    }

    fn ps(s: &[ExitStatus]) -> PipeStatus {
        PipeStatus::new(s.to_vec())
    }

    const OK: ExitStatus = ExitStatus::Exited(0);

    #[test]
    fn display_uses_bash_numbers() {
        assert_eq!(ps(&[OK, OK, sig(Signal::PIPE)]).to_string(), "0 | 0 | 141");
        assert_eq!(ps(&[ExitStatus::Exited(3)]).to_string(), "3");
        assert_eq!(
            ps(&[sig(Signal::KILL), ExitStatus::Exited(255)]).to_string(),
            "137 | 255"
        );
    }

    #[test]
    fn last_and_pipefail() {
        let s = ps(&[ExitStatus::Exited(2), ExitStatus::Exited(3), OK]);
        assert_eq!(s.last(), OK);
        assert_eq!(s.pipefail(), ExitStatus::Exited(3));
        assert!(!s.success());
        let s = ps(&[OK, OK]);
        assert_eq!(s.pipefail(), OK);
        assert!(s.success());
        let s = ps(&[sig(Signal::TERM), OK]);
        assert_eq!(s.pipefail(), sig(Signal::TERM));
    }

    #[test]
    fn sigpipe_is_forgiven_left_of_the_last_member_only() {
        // yes | head -1
        let s = ps(&[sig(Signal::PIPE), OK]);
        assert_eq!(s.pipefail(), sig(Signal::PIPE));
        assert_eq!(s.pipefail_ignoring_sigpipe(), OK);
        // The last member's SIGPIPE is the pipeline's own: it counts.
        let s = ps(&[OK, sig(Signal::PIPE)]);
        assert_eq!(s.pipefail_ignoring_sigpipe(), sig(Signal::PIPE));
        // A forgiven SIGPIPE does not hide a real failure to its left.
        let s = ps(&[ExitStatus::Exited(4), sig(Signal::PIPE), OK]);
        assert_eq!(s.pipefail_ignoring_sigpipe(), ExitStatus::Exited(4));
        // Nor one to its right.
        let s = ps(&[sig(Signal::PIPE), ExitStatus::Exited(1)]);
        assert_eq!(s.pipefail_ignoring_sigpipe(), ExitStatus::Exited(1));
        // Another signal is not forgiven; nor is exit code 141.
        let s = ps(&[sig(Signal::TERM), OK]);
        assert_eq!(s.pipefail_ignoring_sigpipe(), sig(Signal::TERM));
        let s = ps(&[ExitStatus::Exited(141), OK]);
        assert_eq!(s.pipefail_ignoring_sigpipe(), ExitStatus::Exited(141));
    }
}
