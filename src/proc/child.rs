//! [`Child`]: the handle on a process procctl started.

use std::io::{PipeReader, PipeWriter};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::sys::wait::{self, Rusage};
use crate::sys::{self, pidfd};
use crate::{ExitStatus, Pid, Signal, reap};

pub(crate) use super::common::DropPolicy;

/// What a child used, as `wait4` reports it.
///
/// ```
/// # if procctl::proc::thread_count() == Some(1) {
/// let child = procctl::proc::fork(|| 0)?;
/// let (status, usage) = child.wait_with_rusage()?;
/// assert!(status.success());
/// assert!(usage.max_rss_bytes() > 0);
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResourceUsage {
    ru: Rusage,
}

impl ResourceUsage {
    /// CPU time spent in user mode.
    ///
    /// ```
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| 0)?;
    /// let (_, usage) = child.wait_with_rusage()?;
    /// println!("{:?}", usage.user_time());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn user_time(&self) -> Duration {
        self.ru.user
    }

    /// CPU time spent in the kernel on the process's behalf.
    ///
    /// ```
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| 0)?;
    /// let (_, usage) = child.wait_with_rusage()?;
    /// println!("{:?}", usage.system_time());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn system_time(&self) -> Duration {
        self.ru.system
    }

    /// The largest resident set size the process reached, in bytes.
    ///
    /// ```
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| 0)?;
    /// let (_, usage) = child.wait_with_rusage()?;
    /// println!("{:?}", usage.max_rss_bytes());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn max_rss_bytes(&self) -> u64 {
        self.ru.max_rss
    }
}

/// The part of a child's state that procctl's reaping paths share.
pub(crate) struct Shared {
    pid: Pid,
    pidfd: Option<OwnedFd>,
    done: OnceLock<(ExitStatus, Rusage)>,
}

impl Shared {
    pub(crate) fn new(pid: Pid, pidfd: Option<OwnedFd>) -> Shared {
        Shared {
            pid,
            pidfd,
            done: OnceLock::new(),
        }
    }

    /// Called under the reap lock by whoever reaped this child.
    pub(crate) fn record(&self, status: ExitStatus, ru: Rusage) {
        let _ = self.done.set((status, ru));
    }
}

/// A child process: wait for it, signal it, read its pipes.
///
/// Returned by [`fork`](super::fork) and by `Command::spawn`. Every
/// method takes `&self` and `Child` is `Send + Sync`, so one thread can wait
/// while another signals.
///
/// - **No recycled pids.** On Linux the handle holds a pidfd opened before
///   the child could be reaped; signals go through it, and after the child
///   was reaped [`signal`](Child::signal) and [`kill`](Child::kill) send
///   nothing and succeed. Elsewhere procctl reaps and signals under one
///   lock, with the same guarantee.
/// - **The status is kept.** Once reaped (by this handle, or by
///   [`wait`](super::wait), [`waitpid`](super::waitpid) or
///   [`reap_zombies`](crate::reap::reap_zombies)), the status is stored:
///   every later `wait` returns it again.
/// - **No zombies.** Dropping an unwaited `Child` never blocks and, by
///   default, never kills: procctl reaps the process once it exits. See
///   [`DropPolicy`] for the other choices.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use procctl::Signal;
///
/// # if procctl::proc::thread_count() == Some(1) {
/// let child = procctl::proc::fork(|| {
///     std::thread::sleep(Duration::from_secs(60));
///     0
/// })?;
/// assert_eq!(child.try_wait()?, None);
/// child.signal(Signal::TERM)?;
/// let status = child.wait_timeout(Duration::from_secs(10))?.expect("SIGTERM ends it");
/// assert_eq!(status.signal(), Some(Signal::TERM));
/// assert_eq!(child.wait()?, status); // the same status again
/// child.kill()?; // reaped already: nothing is sent
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[must_use = "a dropped Child keeps running; procctl reaps it after it exits"]
pub struct Child {
    shared: Arc<Shared>,
    policy: AtomicU8,
    stdin: Mutex<Option<PipeWriter>>,
    stdout: Mutex<Option<PipeReader>>,
    stderr: Mutex<Option<PipeReader>>,
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.shared.pid)
            .field("pidfd", &self.shared.pidfd.is_some())
            .field("status", &self.shared.done.get().map(|d| d.0))
            .field("drop_policy", &self.drop_policy())
            .finish()
    }
}

impl Child {
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Child {
        Child {
            shared,
            policy: AtomicU8::new(DropPolicy::Reap.to_u8()),
            stdin: Mutex::new(None),
            stdout: Mutex::new(None),
            stderr: Mutex::new(None),
        }
    }

    /// Attaches the parent's ends of the child's stdio pipes.
    pub(crate) fn with_stdio(
        self,
        stdin: Option<PipeWriter>,
        stdout: Option<PipeReader>,
        stderr: Option<PipeReader>,
    ) -> Child {
        *self.stdin.lock().unwrap_or_else(|p| p.into_inner()) = stdin;
        *self.stdout.lock().unwrap_or_else(|p| p.into_inner()) = stdout;
        *self.stderr.lock().unwrap_or_else(|p| p.into_inner()) = stderr;
        self
    }

    /// The child's process id.
    ///
    /// ```
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| 0)?;
    /// assert_ne!(child.pid(), procctl::Pid::current());
    /// # child.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn pid(&self) -> Pid {
        self.shared.pid
    }

    /// Takes the parent's end of the child's stdin pipe, if it was piped and
    /// not taken yet. Dropping it closes the pipe (the child reads EOF).
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// use std::io::{Read, Write};
    /// let child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    /// let mut stdin = child.take_stdin().unwrap();
    /// stdin.write_all(b"hi").unwrap();
    /// drop(stdin); // EOF for cat
    /// let mut out = String::new();
    /// child.take_stdout().unwrap().read_to_string(&mut out).unwrap();
    /// assert_eq!(out, "hi");
    /// assert!(child.wait()?.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn take_stdin(&self) -> Option<PipeWriter> {
        self.stdin.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Takes the parent's end of the child's stdout pipe, if it was piped
    /// and not taken yet.
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// use std::io::Read;
    /// let child = Command::new("echo").arg("out").stdout(Stdio::piped()).spawn()?;
    /// let mut out = String::new();
    /// child.take_stdout().unwrap().read_to_string(&mut out).unwrap();
    /// assert_eq!(out, "out\n");
    /// assert!(child.take_stdout().is_none()); // taken once
    /// child.wait()?;
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn take_stdout(&self) -> Option<PipeReader> {
        self.stdout.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Takes the parent's end of the child's stderr pipe, if it was piped
    /// and not taken yet.
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// use std::io::Read;
    /// let child = Command::new("sh").args(["-c", "echo err >&2"]).stderr(Stdio::piped()).spawn()?;
    /// let mut err = String::new();
    /// child.take_stderr().unwrap().read_to_string(&mut err).unwrap();
    /// assert_eq!(err, "err\n");
    /// child.wait()?;
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn take_stderr(&self) -> Option<PipeReader> {
        self.stderr.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The status, if the child was already reaped.
    fn done(&self) -> Option<ExitStatus> {
        self.shared.done.get().map(|d| d.0)
    }

    /// `waitpid(pid, 0)`: waits for the child to end and returns its status.
    ///
    /// Idempotent: once the child was reaped (here or by any other reaping
    /// call of procctl) every call returns the same status at once. Several
    /// threads may wait at the same time. The parent's stdin pipe end is not
    /// closed for you: drop it (or use `communicate`) if the child reads
    /// until EOF.
    ///
    /// # Errors
    ///
    /// [`Error::NotChild`] if code outside procctl reaped the child (for
    /// example a raw `libc::wait`), so its status is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| 3)?;
    /// assert_eq!(child.wait()?.code(), Some(3));
    /// assert_eq!(child.wait()?.code(), Some(3));
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait(&self) -> Result<ExitStatus> {
        self.wait_deadline(None)?
            .ok_or_else(|| unreachable!("no deadline, no timeout"))
    }

    /// `waitpid(pid, WNOHANG)`: the status if the child has ended (reaping
    /// it), `None` if it is still running. Never blocks.
    ///
    /// # Errors
    ///
    /// As [`Child::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| {
    ///     std::thread::sleep(std::time::Duration::from_secs(30));
    ///     0
    /// })?;
    /// assert_eq!(child.try_wait()?, None);
    /// child.kill()?;
    /// child.wait()?;
    /// assert!(child.try_wait()?.is_some());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn try_wait(&self) -> Result<Option<ExitStatus>> {
        if let Some(s) = self.done() {
            return Ok(Some(s));
        }
        self.reap_now()
    }

    /// Waits at most `timeout` for the child to end: `Some(status)`, or
    /// `None` if it is still running when the time is up (it is left
    /// running).
    ///
    /// On Linux the kernel wakes the waiter (`poll` on the pidfd): no busy
    /// loop, no `SIGCHLD` handler. Elsewhere it checks with `WNOHANG` at
    /// growing intervals (1 ms up to 20 ms).
    ///
    /// # Errors
    ///
    /// As [`Child::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| {
    ///     std::thread::sleep(Duration::from_secs(30));
    ///     0
    /// })?;
    /// assert_eq!(child.wait_timeout(Duration::from_millis(50))?, None);
    /// child.kill()?;
    /// assert!(child.wait_timeout(Duration::from_secs(10))?.is_some());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<ExitStatus>> {
        self.wait_deadline(Some(Instant::now() + timeout))
    }

    /// [`Child::wait`], plus the resources the child used (`wait4`).
    ///
    /// # Errors
    ///
    /// As [`Child::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| {
    ///     let v = vec![1u8; 32 << 20]; // touch 32 MiB
    ///     (v.iter().map(|&b| b as usize).sum::<usize>() == 32 << 20) as i32
    /// })?;
    /// let (status, usage) = child.wait_with_rusage()?;
    /// assert_eq!(status.code(), Some(1));
    /// assert!(usage.max_rss_bytes() >= 32 << 20);
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "wait4")]
    pub fn wait_with_rusage(&self) -> Result<(ExitStatus, ResourceUsage)> {
        self.wait()?;
        let (status, ru) = *self.shared.done.get().expect("wait stored the status");
        Ok((status, ResourceUsage { ru }))
    }

    /// `kill(pid, signal)`: sends `signal` to the child.
    ///
    /// After the child was reaped this sends nothing and returns `Ok(())`:
    /// the pid may already belong to another process. A child that has
    /// exited but was not reaped yet ignores the signal.
    ///
    /// # Errors
    ///
    /// [`Error::PermissionDenied`] if the child changed its credentials (a
    /// setuid program) and may not be signalled by us.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::Signal;
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| {
    ///     std::thread::sleep(std::time::Duration::from_secs(30));
    ///     0
    /// })?;
    /// child.signal(Signal::USR1)?; // default action: terminate
    /// assert_eq!(child.wait()?.signal(), Some(Signal::USR1));
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "kill")]
    pub fn signal(&self, signal: Signal) -> Result<()> {
        if self.done().is_some() {
            return Ok(());
        }
        let sig = signal.as_raw();
        let sent = match &self.shared.pidfd {
            // A pidfd names this process and no other, reaped or not.
            Some(fd) => pidfd::send_signal(fd.as_fd(), sig),
            None => {
                // Reaping only happens under this lock, so while we hold it
                // the pid is still our (possibly zombie) child.
                let _locked = reap::lock();
                if self.done().is_some() {
                    return Ok(());
                }
                sys::kill(self.pid().as_raw(), sig)
            }
        };
        match sent {
            Ok(()) => Ok(()),
            // Exited (zombie, or reaped elsewhere): nothing to signal.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => Err(Error::PermissionDenied {
                subject: format!("signal {} to process {}", signal, self.pid()),
                source: e,
            }),
            Err(e) => Err(Error::os("kill", e)),
        }
    }

    /// Sends `SIGKILL` (see [`Child::signal`]); `Ok(())` if the child was
    /// already reaped.
    ///
    /// # Errors
    ///
    /// As [`Child::signal`].
    ///
    /// # Examples
    ///
    /// ```
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| {
    ///     std::thread::sleep(std::time::Duration::from_secs(30));
    ///     0
    /// })?;
    /// child.kill()?;
    /// assert_eq!(child.wait()?.signal(), Some(procctl::Signal::KILL));
    /// child.kill()?; // no-op
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn kill(&self) -> Result<()> {
        self.signal(Signal::KILL)
    }

    /// Chooses what dropping this handle does to an unwaited child.
    ///
    /// ```
    /// use procctl::proc::DropPolicy;
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| {
    ///     std::thread::sleep(std::time::Duration::from_secs(30));
    ///     0
    /// })?;
    /// child.set_drop_policy(DropPolicy::KillAndReap);
    /// drop(child); // killed and reaped here
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn set_drop_policy(&self, policy: DropPolicy) {
        self.policy.store(policy.to_u8(), Ordering::Relaxed);
    }

    /// The current [`DropPolicy`].
    ///
    /// ```
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| 0)?;
    /// assert_eq!(child.drop_policy(), procctl::proc::DropPolicy::Reap);
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn drop_policy(&self) -> DropPolicy {
        DropPolicy::from_u8(self.policy.load(Ordering::Relaxed))
    }

    /// Reaps the child if it has exited, under the reap lock.
    fn reap_now(&self) -> Result<Option<ExitStatus>> {
        let pid = self.pid().as_raw();
        let mut locked = reap::lock();
        if let Some(s) = self.done() {
            return Ok(Some(s));
        }
        match locked.reap(pid, 0) {
            Ok(_) => Ok(self.done()),
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => match self.done() {
                Some(s) => Ok(Some(s)),
                None => {
                    locked.forget(pid);
                    Err(Error::NotChild { pid: self.pid() })
                }
            },
            Err(e) => Err(Error::os("waitpid", e)),
        }
    }

    /// Waits until the child ends or `deadline` passes.
    fn wait_deadline(&self, deadline: Option<Instant>) -> Result<Option<ExitStatus>> {
        reap::drain_orphans();
        let mut backoff = Duration::from_millis(1);
        loop {
            if let Some(s) = self.try_wait()? {
                return Ok(Some(s));
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Ok(None);
            }
            // Block until the child has exited, without reaping it: the reap
            // itself happens under the lock in try_wait.
            match (&self.shared.pidfd, left) {
                (Some(fd), left) => {
                    pidfd::wait_readable(fd.as_fd(), left).map_err(|e| Error::os("poll", e))?;
                }
                (None, None) => match wait::peek(wait::Id::Pid(self.pid().as_raw()), 0) {
                    Ok(_) => {}
                    // Reaped by another path meanwhile: try_wait sorts it out.
                    Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {}
                    Err(e) => return Err(Error::os("waitid", e)),
                },
                (None, Some(left)) => {
                    std::thread::sleep(backoff.min(left));
                    backoff = (backoff * 2).min(Duration::from_millis(20));
                }
            }
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.done().is_some() {
            return;
        }
        let policy = self.drop_policy();
        if matches!(policy, DropPolicy::Kill | DropPolicy::KillAndReap) {
            let _ = self.kill();
        }
        match policy {
            DropPolicy::KillAndReap => {
                let _ = self.wait();
            }
            DropPolicy::Detach => reap::lock().forget(self.pid().as_raw()),
            DropPolicy::Reap | DropPolicy::Kill => {
                let mut locked = reap::lock();
                // Reaped meanwhile by another path: nothing to park.
                if self.done().is_none() {
                    // Drop the registry's weak reference first, so the pidfd
                    // can be moved out of the now unshared state.
                    locked.forget(self.pid().as_raw());
                    let pidfd = Arc::get_mut(&mut self.shared).and_then(|s| s.pidfd.take());
                    locked.orphan(self.pid().as_raw(), pidfd);
                    // Already exited? Reap it now rather than later.
                    locked.reap_orphan(self.pid().as_raw());
                }
            }
        }
    }
}
