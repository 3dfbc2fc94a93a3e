//! [`Child`] on Windows: the handle on a process procctl started, built on
//! [`std::process::Child`].
//!
//! Windows has no zombies and no signals: a process handle stays valid
//! until it is closed, waiting never "reaps", and ending a process is
//! `TerminateProcess`.

use std::io::{PipeReader, PipeWriter};
use std::os::windows::io::{AsHandle, OwnedHandle};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::common::DropPolicy;
use crate::error::{Error, Result};
use crate::sys::process as sys_process;
use crate::{ExitStatus, Pid, Signal};

/// What a child used: CPU times (`GetProcessTimes`) and its peak working
/// set (`GetProcessMemoryInfo`).
///
/// ```
/// let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 0"]).spawn()?;
/// let (status, usage) = child.wait_with_rusage()?;
/// assert!(status.success());
/// println!("{:?} {:?}", usage.user_time(), usage.max_rss_bytes());
/// # Ok::<(), procctl::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResourceUsage {
    user: Duration,
    system: Duration,
    max_rss: u64,
}

impl ResourceUsage {
    /// CPU time spent in user mode.
    ///
    /// ```
    /// let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 0"]).spawn()?;
    /// println!("{:?}", child.wait_with_rusage()?.1.user_time());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn user_time(&self) -> Duration {
        self.user
    }

    /// CPU time spent in the kernel on the process's behalf.
    ///
    /// ```
    /// let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 0"]).spawn()?;
    /// println!("{:?}", child.wait_with_rusage()?.1.system_time());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn system_time(&self) -> Duration {
        self.system
    }

    /// The peak working set of the process, in bytes; 0 where Windows does
    /// not report it.
    ///
    /// ```
    /// let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 0"]).spawn()?;
    /// println!("{}", child.wait_with_rusage()?.1.max_rss_bytes());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn max_rss_bytes(&self) -> u64 {
        self.max_rss
    }
}

/// A running or finished child process (Windows).
///
/// The same methods as on Unix. Waiting is idempotent and works from
/// several threads at once; there are no zombies, so nothing needs
/// reaping, and dropping the handle only closes it (see [`DropPolicy`]).
/// `kill` and `signal(Signal::KILL | Signal::TERM)` call `TerminateProcess`,
/// after which the process's exit code is 1.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use procctl::proc::{Command, Stdio};
///
/// let child = Command::new("ping").args(["-n", "30", "127.0.0.1"]).stdout(Stdio::null()).spawn()?;
/// assert_eq!(child.try_wait()?, None);
/// child.kill()?;
/// let status = child.wait_timeout(Duration::from_secs(10))?.expect("killed");
/// assert!(!status.success());
/// assert_eq!(child.wait()?, status);
/// child.kill()?; // ended already: nothing happens
/// # Ok::<(), procctl::Error>(())
/// ```
#[must_use = "a dropped Child keeps running"]
pub struct Child {
    pid: Pid,
    /// A second handle on the process, so waiting needs no lock.
    handle: OwnedHandle,
    process: Mutex<std::process::Child>,
    done: OnceLock<ExitStatus>,
    policy: AtomicU8,
    stdin: Mutex<Option<PipeWriter>>,
    stdout: Mutex<Option<PipeReader>>,
    stderr: Mutex<Option<PipeReader>>,
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.pid)
            .field("status", &self.done.get())
            .field("drop_policy", &self.drop_policy())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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
        let stdin = child
            .stdin
            .take()
            .map(|s| PipeWriter::from(OwnedHandle::from(s)));
        let stdout = child
            .stdout
            .take()
            .map(|s| PipeReader::from(OwnedHandle::from(s)));
        let stderr = child
            .stderr
            .take()
            .map(|s| PipeReader::from(OwnedHandle::from(s)));
        Ok(Child {
            pid,
            handle,
            process: Mutex::new(child),
            done: OnceLock::new(),
            policy: AtomicU8::new(policy.to_u8()),
            stdin: Mutex::new(stdin),
            stdout: Mutex::new(stdout),
            stderr: Mutex::new(stderr),
        })
    }

    /// The child's process id.
    ///
    /// ```
    /// let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 0"]).spawn()?;
    /// assert_ne!(child.pid(), procctl::Pid::current());
    /// # child.wait()?;
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Takes the parent's end of the child's stdin pipe, if it was piped and
    /// not taken yet. Dropping it closes the pipe (the child reads EOF).
    pub fn take_stdin(&self) -> Option<PipeWriter> {
        lock(&self.stdin).take()
    }

    /// Takes the parent's end of the child's stdout pipe, if it was piped
    /// and not taken yet.
    pub fn take_stdout(&self) -> Option<PipeReader> {
        lock(&self.stdout).take()
    }

    /// Takes the parent's end of the child's stderr pipe, if it was piped
    /// and not taken yet.
    pub fn take_stderr(&self) -> Option<PipeReader> {
        lock(&self.stderr).take()
    }

    /// `WaitForSingleObject(process, INFINITE)`: waits for the child to end
    /// and returns its status. Idempotent; several threads may wait at
    /// once.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if Windows fails the wait.
    ///
    /// ```
    /// let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 3"]).spawn()?;
    /// assert_eq!(child.wait()?.code(), Some(3));
    /// assert_eq!(child.wait()?.code(), Some(3));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait(&self) -> Result<ExitStatus> {
        loop {
            if let Some(s) = self.wait_deadline(None)? {
                return Ok(s);
            }
        }
    }

    /// The status if the child has ended, `None` if it is still running.
    /// Never blocks.
    ///
    /// # Errors
    ///
    /// As [`Child::wait`].
    ///
    /// ```
    /// let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 0"]).spawn()?;
    /// child.wait()?;
    /// assert!(child.try_wait()?.is_some());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn try_wait(&self) -> Result<Option<ExitStatus>> {
        if let Some(s) = self.done.get() {
            return Ok(Some(*s));
        }
        let status = lock(&self.process)
            .try_wait()
            .map_err(|e| Error::os("GetExitCodeProcess", e))?;
        match status {
            Some(s) => {
                let s = ExitStatus::try_from(s)?;
                Ok(Some(*self.done.get_or_init(|| s)))
            }
            None => Ok(None),
        }
    }

    /// Waits at most `timeout` for the child to end: `Some(status)`, or
    /// `None` if it is still running when the time is up (it is left
    /// running). The kernel wakes the waiter (`WaitForSingleObject`): no
    /// polling loop.
    ///
    /// # Errors
    ///
    /// As [`Child::wait`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let child = procctl::proc::Command::new("ping")
    ///     .args(["-n", "30", "127.0.0.1"])
    ///     .stdout(procctl::proc::Stdio::null())
    ///     .spawn()?;
    /// assert_eq!(child.wait_timeout(Duration::from_millis(50))?, None);
    /// child.kill()?;
    /// assert!(child.wait_timeout(Duration::from_secs(10))?.is_some());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now().checked_add(timeout);
        match deadline {
            Some(d) => self.wait_deadline(Some(d)),
            None => self.wait().map(Some),
        }
    }

    fn wait_deadline(&self, deadline: Option<Instant>) -> Result<Option<ExitStatus>> {
        if let Some(s) = self.done.get() {
            return Ok(Some(*s));
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let ended = sys_process::wait_handle(self.handle.as_handle(), left)
            .map_err(|e| Error::os("WaitForSingleObject", e))?;
        if ended { self.try_wait() } else { Ok(None) }
    }

    /// [`Child::wait`], plus the CPU time and memory the child used
    /// (`GetProcessTimes`, `GetProcessMemoryInfo`).
    ///
    /// # Errors
    ///
    /// As [`Child::wait`]; [`Error::Os`] if Windows does not report the
    /// times.
    ///
    /// ```
    /// let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 1"]).spawn()?;
    /// let (status, _usage) = child.wait_with_rusage()?;
    /// assert_eq!(status.code(), Some(1));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "GetProcessTimes")]
    pub fn wait_with_rusage(&self) -> Result<(ExitStatus, ResourceUsage)> {
        let status = self.wait()?;
        let (user, system, max_rss) = sys_process::usage(self.handle.as_handle())
            .map_err(|e| Error::os("GetProcessTimes", e))?;
        Ok((
            status,
            ResourceUsage {
                user,
                system,
                max_rss,
            },
        ))
    }

    /// Ends the child for [`Signal::KILL`] and [`Signal::TERM`]
    /// (`TerminateProcess`, exit code 1); `Ok(())` if it has ended already.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] for any other signal: Windows cannot deliver
    /// them to another process. [`Error::Os`] if `TerminateProcess` fails.
    ///
    /// ```
    /// use procctl::Signal;
    /// let child = procctl::proc::Command::new("ping")
    ///     .args(["-n", "30", "127.0.0.1"])
    ///     .stdout(procctl::proc::Stdio::null())
    ///     .spawn()?;
    /// assert!(child.signal(Signal::USR1).is_err());
    /// child.signal(Signal::TERM)?;
    /// assert_eq!(child.wait()?.code(), Some(1));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "TerminateProcess")]
    pub fn signal(&self, signal: Signal) -> Result<()> {
        if signal != Signal::KILL && signal != Signal::TERM {
            return Err(Error::Unsupported {
                what: "sending a signal other than KILL or TERM to a process",
            });
        }
        if self.try_wait()?.is_some() {
            return Ok(());
        }
        let mut process = lock(&self.process);
        match process.kill() {
            Ok(()) => Ok(()),
            // It ended between the check and the call.
            Err(_) if matches!(process.try_wait(), Ok(Some(_))) => Ok(()),
            Err(e) => Err(Error::os("TerminateProcess", e)),
        }
    }

    /// `TerminateProcess` (see [`Child::signal`]); `Ok(())` if the child
    /// has ended already.
    ///
    /// # Errors
    ///
    /// As [`Child::signal`].
    ///
    /// ```
    /// let child = procctl::proc::Command::new("ping")
    ///     .args(["-n", "30", "127.0.0.1"])
    ///     .stdout(procctl::proc::Stdio::null())
    ///     .spawn()?;
    /// child.kill()?;
    /// assert!(!child.wait()?.success());
    /// child.kill()?; // no-op
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn kill(&self) -> Result<()> {
        self.signal(Signal::KILL)
    }

    /// Chooses what dropping this handle does to a child still running.
    ///
    /// ```
    /// use procctl::proc::DropPolicy;
    /// let child = procctl::proc::Command::new("ping")
    ///     .args(["-n", "30", "127.0.0.1"])
    ///     .stdout(procctl::proc::Stdio::null())
    ///     .spawn()?;
    /// child.set_drop_policy(DropPolicy::KillAndReap);
    /// drop(child); // terminated and waited for here
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn set_drop_policy(&self, policy: DropPolicy) {
        self.policy.store(policy.to_u8(), Ordering::Relaxed);
    }

    /// The current [`DropPolicy`].
    ///
    /// ```
    /// let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 0"]).spawn()?;
    /// assert_eq!(child.drop_policy(), procctl::proc::DropPolicy::Reap);
    /// # child.wait()?;
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn drop_policy(&self) -> DropPolicy {
        DropPolicy::from_u8(self.policy.load(Ordering::Relaxed))
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        match self.drop_policy() {
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

impl From<std::process::Child> for Child {
    /// Adopts a child started by [`std::process::Command`], with its piped
    /// stdin/stdout/stderr.
    ///
    /// # Panics
    ///
    /// If Windows cannot duplicate the process handle (out of handles).
    ///
    /// ```
    /// let std_child = std::process::Command::new("cmd.exe")
    ///     .args(["/C", "echo adopted"])
    ///     .stdout(std::process::Stdio::piped())
    ///     .spawn()?;
    /// let child = procctl::proc::Child::from(std_child);
    /// let out = child.communicate(b"")?;
    /// assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "adopted");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn from(child: std::process::Child) -> Child {
        Child::adopt(child, DropPolicy::Reap).expect("DuplicateHandle of a child's process handle")
    }
}
