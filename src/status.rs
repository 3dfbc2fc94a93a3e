//! [`ExitStatus`] and [`WaitStatus`]: what `wait` reports, decoded once.

use std::fmt;

use crate::Signal;
use crate::signal::number::std_suffix;

/// How a process ended: it exited with a code, or a signal killed it.
///
/// Decoded from the raw `wait` status by [`ExitStatus::from_raw`], which
/// agrees with the C macros `WIFEXITED`, `WEXITSTATUS`, `WIFSIGNALED`,
/// `WTERMSIG` and `WCOREDUMP`. `Display` prints exactly what
/// [`std::process::ExitStatus`] prints for the same status.
///
/// # Examples
///
/// ```
/// use procctl::{ExitStatus, Signal};
///
/// let ok = ExitStatus::Exited(0);
/// assert!(ok.success());
/// # #[cfg(unix)]
/// assert_eq!(ExitStatus::Exited(3).to_string(), "exit status: 3");
/// # #[cfg(windows)]
/// # assert_eq!(ExitStatus::Exited(3).to_string(), "exit code: 3");
///
/// let killed = ExitStatus::Signaled { signal: Signal::KILL, core_dumped: false };
/// assert_eq!(killed.code(), None);
/// assert_eq!(killed.exit_code(), -9);
/// # #[cfg(target_os = "linux")]
/// assert_eq!(killed.to_string(), "signal: 9 (SIGKILL)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// The process called `exit` or `_exit`, or returned from `main`, with
    /// this code (on Unix the low 8 bits, `0..=255`).
    Exited(i32),
    /// A signal ended the process.
    Signaled {
        /// The signal.
        signal: Signal,
        /// Whether the kernel wrote a core dump (`WCOREDUMP`).
        core_dumped: bool,
    },
}

impl ExitStatus {
    /// Whether the process exited with code 0.
    ///
    /// ```
    /// assert!(procctl::ExitStatus::Exited(0).success());
    /// assert!(!procctl::ExitStatus::Exited(1).success());
    /// ```
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }

    /// The exit code, `None` if a signal ended the process.
    ///
    /// ```
    /// assert_eq!(procctl::ExitStatus::Exited(7).code(), Some(7));
    /// ```
    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Exited(code) => Some(code),
            ExitStatus::Signaled { .. } => None,
        }
    }

    /// The signal that ended the process, `None` if it exited.
    ///
    /// ```
    /// use procctl::{ExitStatus, Signal};
    /// let s = ExitStatus::Signaled { signal: Signal::TERM, core_dumped: false };
    /// assert_eq!(s.signal(), Some(Signal::TERM));
    /// ```
    pub fn signal(self) -> Option<Signal> {
        match self {
            ExitStatus::Signaled { signal, .. } => Some(signal),
            ExitStatus::Exited(_) => None,
        }
    }

    /// Whether a signal ended the process and a core was dumped.
    ///
    /// ```
    /// assert!(!procctl::ExitStatus::Exited(0).core_dumped());
    /// ```
    pub fn core_dumped(self) -> bool {
        matches!(
            self,
            ExitStatus::Signaled {
                core_dumped: true,
                ..
            }
        )
    }

    /// One number for both cases, like Python's `os.waitstatus_to_exitcode`
    /// and `subprocess.Popen.returncode`: the exit code, or minus the
    /// signal number.
    ///
    /// ```
    /// use procctl::{ExitStatus, Signal};
    /// assert_eq!(ExitStatus::Exited(3).exit_code(), 3);
    /// let s = ExitStatus::Signaled { signal: Signal::TERM, core_dumped: false };
    /// assert_eq!(s.exit_code(), -Signal::TERM.as_raw());
    /// ```
    #[doc(alias = "waitstatus_to_exitcode")]
    pub fn exit_code(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled { signal, .. } => -signal.as_raw(),
        }
    }

    /// Decodes a raw status as returned by `waitpid`; `None` for a stopped
    /// or continued status (see [`WaitStatus`]) or a signal number this
    /// platform does not know.
    ///
    /// # Platform notes
    ///
    /// On Windows the raw value is the process exit code, always `Exited`.
    ///
    /// ```
    /// use procctl::ExitStatus;
    /// # #[cfg(unix)] {
    /// assert_eq!(ExitStatus::from_raw(3 << 8), Some(ExitStatus::Exited(3)));
    /// assert_eq!(ExitStatus::from_raw(9).unwrap().signal(), Some(procctl::Signal::KILL));
    /// assert_eq!(ExitStatus::from_raw(0xffff), None); // continued
    /// # }
    /// ```
    pub fn from_raw(raw: i32) -> Option<ExitStatus> {
        match WaitStatus::from_raw(raw)? {
            WaitStatus::Exited(status) => Some(status),
            _ => None,
        }
    }

    /// The raw `wait` status this decodes from: `code << 8`, or the signal
    /// number with `0x80` for a core dump. On Windows, the exit code.
    ///
    /// ```
    /// use procctl::ExitStatus;
    /// for raw in [0, 1 << 8, 255 << 8] {
    ///     assert_eq!(ExitStatus::from_raw(raw).unwrap().into_raw(), raw);
    /// }
    /// ```
    pub fn into_raw(self) -> i32 {
        #[cfg(unix)]
        match self {
            ExitStatus::Exited(code) => (code & 0xff) << 8,
            ExitStatus::Signaled {
                signal,
                core_dumped,
            } => signal.as_raw() | if core_dumped { 0x80 } else { 0 },
        }
        #[cfg(not(unix))]
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled { signal, .. } => signal.as_raw(),
        }
    }
}

impl fmt::Display for ExitStatus {
    /// Worded like [`std::process::ExitStatus`]: `"exit status: 3"`,
    /// `"signal: 9 (SIGKILL)"`, `"signal: 6 (SIGABRT) (core dumped)"`; on
    /// Windows `"exit code: 3"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            #[cfg(unix)]
            ExitStatus::Exited(code) => write!(f, "exit status: {code}"),
            #[cfg(not(unix))]
            ExitStatus::Exited(code) => write!(f, "exit code: {code}"),
            ExitStatus::Signaled {
                signal,
                core_dumped,
            } => {
                write!(f, "signal: {}{}", signal.as_raw(), std_suffix(signal))?;
                if core_dumped {
                    f.write_str(" (core dumped)")?;
                }
                Ok(())
            }
        }
    }
}

impl From<ExitStatus> for std::process::ExitStatus {
    /// ```
    /// let std_status: std::process::ExitStatus = procctl::ExitStatus::Exited(3).into();
    /// assert_eq!(std_status.code(), Some(3));
    /// ```
    fn from(status: ExitStatus) -> std::process::ExitStatus {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            std::process::ExitStatus::from_raw(status.into_raw())
        }
        #[cfg(windows)]
        {
            use std::os::windows::process::ExitStatusExt;
            std::process::ExitStatus::from_raw(status.into_raw() as u32)
        }
    }
}

impl TryFrom<std::process::ExitStatus> for ExitStatus {
    type Error = crate::Error;

    /// Fails only for a std status that holds a stopped or continued state
    /// (possible only through `ExitStatusExt::from_raw`): every status that
    /// `std::process` returns from a wait converts.
    ///
    /// ```
    /// # #[cfg(unix)]
    /// let std_status = std::process::Command::new("true").status().unwrap();
    /// # #[cfg(windows)]
    /// # let std_status = std::process::Command::new("cmd").args(["/C", "exit 0"]).status().unwrap();
    /// let status = procctl::ExitStatus::try_from(std_status).unwrap();
    /// assert!(status.success());
    /// ```
    fn try_from(status: std::process::ExitStatus) -> crate::Result<ExitStatus> {
        #[cfg(unix)]
        let raw = {
            use std::os::unix::process::ExitStatusExt;
            status.into_raw()
        };
        #[cfg(windows)]
        let raw = status.code().unwrap_or(0);
        ExitStatus::from_raw(raw).ok_or(crate::Error::InvalidArgument {
            what: "exit status",
            value: format!("{status} (raw {raw:#x})"),
        })
    }
}

/// What `waitpid` reports: the process ended, stopped, or continued.
///
/// [`WaitStatus::from_raw`] agrees with the C `W*` macros for every raw
/// value: `WIFEXITED`/`WIFSIGNALED` give [`WaitStatus::Exited`],
/// `WIFSTOPPED` gives [`WaitStatus::Stopped`] (reported with
/// `WaitOptions::UNTRACED`), `WIFCONTINUED` gives [`WaitStatus::Continued`]
/// (reported with `WaitOptions::CONTINUED`).
///
/// # Examples
///
/// ```
/// use procctl::{ExitStatus, Signal, WaitStatus};
/// # #[cfg(target_os = "linux")] {
/// assert_eq!(WaitStatus::from_raw(0x137f), Some(WaitStatus::Stopped(Signal::STOP)));
/// assert_eq!(WaitStatus::from_raw(0xffff), Some(WaitStatus::Continued));
/// assert_eq!(WaitStatus::from_raw(0x0100), Some(WaitStatus::Exited(ExitStatus::Exited(1))));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaitStatus {
    /// The process ended; it has been reaped.
    Exited(ExitStatus),
    /// The process was stopped by this signal.
    Stopped(Signal),
    /// The process was resumed by `SIGCONT`.
    Continued,
}

impl WaitStatus {
    /// Decodes a raw `waitpid` status; `None` where it names a signal this
    /// platform does not know (for example a ptrace stop with event bits).
    ///
    /// ```
    /// # #[cfg(unix)]
    /// assert_eq!(procctl::WaitStatus::from_raw(0), Some(procctl::WaitStatus::Exited(procctl::ExitStatus::Exited(0))));
    /// ```
    pub fn from_raw(raw: i32) -> Option<WaitStatus> {
        #[cfg(unix)]
        {
            let low = raw & 0x7f;
            if low == 0 {
                // WIFEXITED
                Some(WaitStatus::Exited(ExitStatus::Exited((raw >> 8) & 0xff)))
            } else if raw & 0xffff == 0xffff {
                // WIFCONTINUED (Linux, BSD: 0xffff; macOS: 0x13 << 8 | 0x7f)
                Some(WaitStatus::Continued)
            } else if raw & 0xff == 0x7f {
                let sig = (raw >> 8) & 0xff;
                #[cfg(target_vendor = "apple")]
                if sig == libc::SIGCONT {
                    return Some(WaitStatus::Continued);
                }
                Signal::from_raw(sig).map(WaitStatus::Stopped)
            } else {
                Signal::from_raw(low).map(|signal| {
                    WaitStatus::Exited(ExitStatus::Signaled {
                        signal,
                        core_dumped: raw & 0x80 != 0,
                    })
                })
            }
        }
        #[cfg(not(unix))]
        {
            Some(WaitStatus::Exited(ExitStatus::Exited(raw)))
        }
    }

    /// The exit status, if the process ended.
    ///
    /// ```
    /// use procctl::{ExitStatus, WaitStatus};
    /// assert_eq!(WaitStatus::Continued.exit_status(), None);
    /// assert_eq!(WaitStatus::Exited(ExitStatus::Exited(0)).exit_status(), Some(ExitStatus::Exited(0)));
    /// ```
    pub fn exit_status(self) -> Option<ExitStatus> {
        match self {
            WaitStatus::Exited(status) => Some(status),
            _ => None,
        }
    }
}

impl fmt::Display for WaitStatus {
    /// The [`ExitStatus`] text, or the words std uses for stopped and
    /// continued statuses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WaitStatus::Exited(status) => status.fmt(f),
            WaitStatus::Stopped(signal) => write!(
                f,
                "stopped (not terminated) by signal: {}{}",
                signal.as_raw(),
                std_suffix(signal)
            ),
            WaitStatus::Continued => f.write_str("continued (WIFCONTINUED)"),
        }
    }
}

impl From<ExitStatus> for WaitStatus {
    fn from(status: ExitStatus) -> WaitStatus {
        WaitStatus::Exited(status)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    /// Every 16-bit raw status: our decoding against libc's macros, and our
    /// `Display` against std's.
    #[test]
    fn decoding_agrees_with_libc_and_std() {
        for raw in 0..=0xffff_i32 {
            let ours = WaitStatus::from_raw(raw);
            let std_status = std::process::ExitStatus::from_raw(raw);
            if libc::WIFEXITED(raw) {
                let code = libc::WEXITSTATUS(raw);
                assert_eq!(
                    ours,
                    Some(WaitStatus::Exited(ExitStatus::Exited(code))),
                    "{raw:#x}"
                );
                // into_raw gives the canonical form: the code byte alone.
                assert_eq!(ExitStatus::from_raw(raw).unwrap().into_raw(), raw & 0xff00);
                assert_eq!(std_status.code(), Some(code));
            } else if libc::WIFSIGNALED(raw) {
                let sig = libc::WTERMSIG(raw);
                let core = libc::WCOREDUMP(raw);
                match Signal::from_raw(sig) {
                    Some(signal) => {
                        let st = ExitStatus::Signaled {
                            signal,
                            core_dumped: core,
                        };
                        assert_eq!(ours, Some(WaitStatus::Exited(st)), "{raw:#x}");
                        assert_eq!(ExitStatus::from_raw(raw), Some(st));
                        assert_eq!(st.into_raw(), raw & 0xff);
                        assert_eq!(st.exit_code(), -sig);
                        assert_eq!(std_status.signal(), Some(sig));
                    }
                    None => assert_eq!(ours, None, "{raw:#x}"),
                }
            } else if libc::WIFCONTINUED(raw) {
                assert_eq!(ours, Some(WaitStatus::Continued), "{raw:#x}");
                assert_eq!(ExitStatus::from_raw(raw), None);
            } else if libc::WIFSTOPPED(raw) {
                let sig = libc::WSTOPSIG(raw);
                assert_eq!(
                    ours,
                    Signal::from_raw(sig).map(WaitStatus::Stopped),
                    "{raw:#x}"
                );
                assert_eq!(ExitStatus::from_raw(raw), None);
            } else {
                assert_eq!(ours, None, "{raw:#x}");
            }
            if let Some(ours) = ours {
                assert_eq!(ours.to_string(), std_status.to_string(), "{raw:#x}");
            }
        }
    }

    #[test]
    fn std_round_trip() {
        for raw in (0..=255).map(|c| c << 8).chain([1, 2, 6 | 0x80, 9, 15]) {
            let ours = ExitStatus::from_raw(raw).unwrap();
            let std_status: std::process::ExitStatus = ours.into();
            assert_eq!(std_status.into_raw(), raw);
            assert_eq!(ExitStatus::try_from(std_status).unwrap(), ours);
        }
        assert!(ExitStatus::try_from(std::process::ExitStatus::from_raw(0xffff)).is_err());
    }

    #[test]
    fn display_examples() {
        assert_eq!(ExitStatus::Exited(3).to_string(), "exit status: 3");
        let s = ExitStatus::Signaled {
            signal: Signal::ABRT,
            core_dumped: true,
        };
        assert_eq!(
            s.to_string(),
            format!("signal: {} (SIGABRT) (core dumped)", libc::SIGABRT)
        );
    }
}
