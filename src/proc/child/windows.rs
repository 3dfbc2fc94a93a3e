//! [`Child`] on Windows: a process handle over a [`std::process::Child`].
//!
//! Windows has no zombies and no signals: a process handle stays valid
//! until it is closed, waiting never "reaps", and ending a process is
//! `TerminateProcess`.

use std::os::windows::io::{AsHandle, OwnedHandle};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{Child, DropPolicy, lock, take_std_pipes};
use crate::error::{Error, Result};
use crate::sys::process as sys_process;
use crate::{ExitStatus, Pid, Signal};

/// A [`Child`]'s platform state: the process and its status.
pub(super) struct Inner {
    pub(super) pid: Pid,
    /// A second handle on the process, so waiting needs no lock.
    handle: OwnedHandle,
    process: Mutex<std::process::Child>,
    done: OnceLock<ExitStatus>,
}

/// What a child used: CPU times (`GetProcessTimes`) and its peak working
/// set (`GetProcessMemoryInfo`).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Rusage {
    pub(super) user: Duration,
    pub(super) system: Duration,
    /// The peak working set in bytes; 0 if Windows does not report it.
    pub(super) max_rss: u64,
}

impl Child {
    /// Wraps a std child, taking its stdio pipes over.
    pub(crate) fn adopt(mut child: std::process::Child, policy: DropPolicy) -> Result<Child> {
        let pid = Pid::from_raw(child.id() as i32).ok_or_else(|| Error::InvalidArgument {
            what: "process id",
            value: child.id().to_string(),
        })?;
        let handle = child
            .as_handle()
            .try_clone_to_owned()
            .map_err(|e| Error::os("DuplicateHandle", e))?;
        let (stdin, stdout, stderr) = take_std_pipes(&mut child);
        let child = Child::new(Inner {
            pid,
            handle,
            process: Mutex::new(child),
            done: OnceLock::new(),
        })
        .with_stdio(stdin, stdout, stderr);
        child.set_drop_policy(policy);
        Ok(child)
    }

    /// `From<std::process::Child>`.
    pub(super) fn from_std(child: std::process::Child) -> Child {
        Child::adopt(child, DropPolicy::Reap).expect("DuplicateHandle of a child's process handle")
    }

    /// The status, if the child has ended and we have read it.
    pub(super) fn done(&self) -> Option<ExitStatus> {
        self.inner.done.get().copied()
    }

    /// `GetProcessTimes` and `GetProcessMemoryInfo` of the ended child.
    pub(super) fn usage(&self) -> Result<Rusage> {
        let (user, system, max_rss) = sys_process::usage(self.inner.handle.as_handle())
            .map_err(|e| Error::os("GetProcessTimes", e))?;
        Ok(Rusage {
            user,
            system,
            max_rss,
        })
    }

    /// `GetExitCodeProcess`: the status if the child has ended.
    pub(super) fn poll_exit(&self) -> Result<Option<ExitStatus>> {
        let status = lock(&self.inner.process)
            .try_wait()
            .map_err(|e| Error::os("GetExitCodeProcess", e))?;
        match status {
            Some(s) => {
                let s = ExitStatus::try_from(s)?;
                Ok(Some(*self.inner.done.get_or_init(|| s)))
            }
            None => Ok(None),
        }
    }

    /// `WaitForSingleObject` until the child ends or `deadline` passes.
    pub(super) fn wait_deadline(&self, deadline: Option<Instant>) -> Result<Option<ExitStatus>> {
        if let Some(s) = self.done() {
            return Ok(Some(s));
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let ended = sys_process::wait_handle(self.inner.handle.as_handle(), left)
            .map_err(|e| Error::os("WaitForSingleObject", e))?;
        if ended { self.try_wait() } else { Ok(None) }
    }

    /// `TerminateProcess` for `KILL` and `TERM`; any other signal is
    /// unsupported.
    pub(super) fn send(&self, signal: Signal) -> Result<()> {
        if signal != Signal::KILL && signal != Signal::TERM {
            return Err(Error::Unsupported {
                what: "sending a signal other than KILL or TERM to a process",
            });
        }
        if self.try_wait()?.is_some() {
            return Ok(());
        }
        let mut process = lock(&self.inner.process);
        match process.kill() {
            Ok(()) => Ok(()),
            // It ended between the check and the call.
            Err(_) if matches!(process.try_wait(), Ok(Some(_))) => Ok(()),
            Err(e) => Err(Error::os("TerminateProcess", e)),
        }
    }

    /// What `drop` does: applies `policy` to a child still running.
    pub(super) fn release(&mut self, policy: DropPolicy) {
        match policy {
            DropPolicy::Kill => {
                let _ = self.kill();
            }
            // Wait only if the kill worked, or `drop` could block forever.
            DropPolicy::KillAndReap if self.kill().is_ok() => {
                let _ = self.wait();
            }
            // No zombies on Windows: closing the handles is all there is.
            _ => {}
        }
    }
}
