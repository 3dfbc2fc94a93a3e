//! [`Child`]: the handle on a process procctl started.
//!
//! One public handle for both platforms. What a child is made of, and how
//! it is waited for, signalled and let go, is per platform: `child/unix.rs`
//! keeps the state the reaping paths share (pid, pidfd, status) and goes
//! through procctl's reap registry; `child/windows.rs` holds a process
//! handle over a [`std::process::Child`].

use std::io::{PipeReader, PipeWriter};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

pub(crate) use super::common::DropPolicy;
use crate::error::Result;
use crate::{ExitStatus, Pid, Signal};

#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

#[cfg(unix)]
use unix as imp;
#[cfg(unix)]
pub(crate) use unix::Shared;
#[cfg(windows)]
use windows as imp;

/// What a child used, as `wait4` reports it.
///
/// # Platform notes
///
/// On Windows the CPU times come from `GetProcessTimes` and the peak
/// working set from `GetProcessMemoryInfo`.
///
/// ```
/// # #[cfg(unix)]
/// # if procctl::proc::thread_count() == Some(1) {
/// let child = procctl::proc::fork(|| 0)?;
/// let (status, usage) = child.wait_with_rusage()?;
/// assert!(status.success());
/// assert!(usage.max_rss_bytes() > 0);
/// # }
/// # #[cfg(windows)] {
/// # let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 0"]).spawn()?;
/// # let (status, usage) = child.wait_with_rusage()?;
/// # assert!(status.success());
/// # println!("{:?} {:?}", usage.user_time(), usage.max_rss_bytes());
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceUsage {
    ru: imp::Rusage,
}

impl std::fmt::Debug for ResourceUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceUsage")
            .field("user", &self.ru.user)
            .field("system", &self.ru.system)
            .field("max_rss", &self.ru.max_rss)
            .finish()
    }
}

impl ResourceUsage {
    /// CPU time spent in user mode.
    ///
    /// ```
    /// # #[cfg(unix)]
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| 0)?;
    /// let (_, usage) = child.wait_with_rusage()?;
    /// println!("{:?}", usage.user_time());
    /// # }
    /// # #[cfg(windows)] {
    /// # let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 0"]).spawn()?;
    /// # println!("{:?}", child.wait_with_rusage()?.1.user_time());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn user_time(&self) -> Duration {
        self.ru.user
    }

    /// CPU time spent in the kernel on the process's behalf.
    ///
    /// ```
    /// # #[cfg(unix)]
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| 0)?;
    /// let (_, usage) = child.wait_with_rusage()?;
    /// println!("{:?}", usage.system_time());
    /// # }
    /// # #[cfg(windows)] {
    /// # let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 0"]).spawn()?;
    /// # println!("{:?}", child.wait_with_rusage()?.1.system_time());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn system_time(&self) -> Duration {
        self.ru.system
    }

    /// The largest resident set size the process reached, in bytes.
    ///
    /// # Platform notes
    ///
    /// On Windows: the peak working set; 0 where Windows does not report
    /// it.
    ///
    /// ```
    /// # #[cfg(unix)]
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| 0)?;
    /// let (_, usage) = child.wait_with_rusage()?;
    /// println!("{:?}", usage.max_rss_bytes());
    /// # }
    /// # #[cfg(windows)] {
    /// # let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 0"]).spawn()?;
    /// # println!("{}", child.wait_with_rusage()?.1.max_rss_bytes());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn max_rss_bytes(&self) -> u64 {
        self.ru.max_rss
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
/// # Platform notes
///
/// Windows has no zombies and no signals. The handle holds the process
/// handle, which stays valid until it is closed, so the pid is never
/// recycled under it; waiting never "reaps", and dropping the handle only
/// closes it (see [`DropPolicy`]). `kill` and `signal(Signal::KILL |
/// Signal::TERM)` call `TerminateProcess`, after which the process's exit
/// code is 1.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use procctl::Signal;
///
/// # #[cfg(unix)]
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
/// # #[cfg(windows)] {
/// # use procctl::proc::{Command, Stdio};
/// # let child = Command::new("ping").args(["-n", "30", "127.0.0.1"]).stdout(Stdio::null()).spawn()?;
/// # assert_eq!(child.try_wait()?, None);
/// # child.signal(Signal::TERM)?;
/// # let status = child.wait_timeout(Duration::from_secs(10))?.expect("TerminateProcess ends it");
/// # assert!(!status.success());
/// # assert_eq!(child.wait()?, status);
/// # child.kill()?; // ended already: nothing happens
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[cfg_attr(
    unix,
    must_use = "a dropped Child keeps running; procctl reaps it after it exits"
)]
#[cfg_attr(windows, must_use = "a dropped Child keeps running")]
pub struct Child {
    /// The platform's state: the shared reaping state on Unix, the process
    /// handle on Windows.
    inner: imp::Inner,
    policy: AtomicU8,
    stdin: Mutex<Option<PipeWriter>>,
    stdout: Mutex<Option<PipeReader>>,
    stderr: Mutex<Option<PipeReader>>,
    /// `communicate`'s state between calls: the wait delay, and what an
    /// expired `communicate_timeout` left.
    pub(super) comm: Mutex<super::communicate::CommState>,
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Child");
        d.field("pid", &self.pid());
        #[cfg(unix)]
        d.field("pidfd", &self.inner.pidfd.is_some());
        d.field("status", &self.done())
            .field("drop_policy", &self.drop_policy())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a std pipe end owns: a descriptor on Unix, a handle on Windows.
#[cfg(unix)]
type Owned = std::os::fd::OwnedFd;
#[cfg(windows)]
type Owned = std::os::windows::io::OwnedHandle;

/// Takes the piped stdin, stdout and stderr of a std child over.
fn take_std_pipes(
    child: &mut std::process::Child,
) -> (Option<PipeWriter>, Option<PipeReader>, Option<PipeReader>) {
    let stdin = child.stdin.take().map(|s| PipeWriter::from(Owned::from(s)));
    let stdout = child
        .stdout
        .take()
        .map(|s| PipeReader::from(Owned::from(s)));
    let stderr = child
        .stderr
        .take()
        .map(|s| PipeReader::from(Owned::from(s)));
    (stdin, stdout, stderr)
}

impl Child {
    /// A handle on `inner`, with no pipes and the default drop policy.
    fn new(inner: imp::Inner) -> Child {
        Child {
            inner,
            policy: AtomicU8::new(DropPolicy::Reap.to_u8()),
            stdin: Mutex::new(None),
            stdout: Mutex::new(None),
            stderr: Mutex::new(None),
            comm: Mutex::default(),
        }
    }

    /// The pidfd that polls readable once the child has exited (Linux);
    /// `None` without one.
    #[cfg(unix)]
    pub(crate) fn exit_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.inner.pidfd.as_ref().map(|fd| fd.as_fd())
    }

    /// Attaches the parent's ends of the child's stdio pipes.
    pub(crate) fn with_stdio(
        self,
        stdin: Option<PipeWriter>,
        stdout: Option<PipeReader>,
        stderr: Option<PipeReader>,
    ) -> Child {
        *lock(&self.stdin) = stdin;
        *lock(&self.stdout) = stdout;
        *lock(&self.stderr) = stderr;
        self
    }

    /// The child's process id.
    ///
    /// ```
    /// # #[cfg(unix)]
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| 0)?;
    /// assert_ne!(child.pid(), procctl::Pid::current());
    /// # child.wait()?;
    /// # }
    /// # #[cfg(windows)] {
    /// # let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 0"]).spawn()?;
    /// # assert_ne!(child.pid(), procctl::Pid::current());
    /// # child.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn pid(&self) -> Pid {
        self.inner.pid
    }

    /// Takes the parent's end of the child's stdin pipe, if it was piped and
    /// not taken yet. Dropping it closes the pipe (the child reads EOF).
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// use std::io::{Read, Write};
    /// # #[cfg(unix)] {
    /// let child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    /// let mut stdin = child.take_stdin().unwrap();
    /// stdin.write_all(b"hi").unwrap();
    /// drop(stdin); // EOF for cat
    /// let mut out = String::new();
    /// child.take_stdout().unwrap().read_to_string(&mut out).unwrap();
    /// assert_eq!(out, "hi");
    /// assert!(child.wait()?.success());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn take_stdin(&self) -> Option<PipeWriter> {
        lock(&self.stdin).take()
    }

    /// Takes the parent's end of the child's stdout pipe, if it was piped
    /// and not taken yet.
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// use std::io::Read;
    /// # #[cfg(unix)] {
    /// let child = Command::new("echo").arg("out").stdout(Stdio::piped()).spawn()?;
    /// let mut out = String::new();
    /// child.take_stdout().unwrap().read_to_string(&mut out).unwrap();
    /// assert_eq!(out, "out\n");
    /// assert!(child.take_stdout().is_none()); // taken once
    /// child.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn take_stdout(&self) -> Option<PipeReader> {
        lock(&self.stdout).take()
    }

    /// Takes the parent's end of the child's stderr pipe, if it was piped
    /// and not taken yet.
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// use std::io::Read;
    /// # #[cfg(unix)] {
    /// let child = Command::new("sh").args(["-c", "echo err >&2"]).stderr(Stdio::piped()).spawn()?;
    /// let mut err = String::new();
    /// child.take_stderr().unwrap().read_to_string(&mut err).unwrap();
    /// assert_eq!(err, "err\n");
    /// child.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn take_stderr(&self) -> Option<PipeReader> {
        lock(&self.stderr).take()
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
    /// [`Error::NotChild`](crate::Error::NotChild) if code outside procctl reaped the child (for
    /// example a raw `libc::wait`), so its status is lost; every later
    /// call says so again.
    ///
    /// # Platform notes
    ///
    /// On Linux (5.4 and later): it sleeps in `waitid(P_PIDFD, WNOWAIT)`
    /// on the child's pidfd, which reaps nothing, without any lock (so
    /// other spawns and waits go on), then reaps with
    /// `waitid(P_PIDFD, WNOHANG)` under procctl's reap lock, recording the
    /// status in the same critical section. The pidfd names this process
    /// and no other, so a recycled pid is never reaped or reported here.
    /// Elsewhere, and on older kernels, it sleeps in `waitid(WNOWAIT)`
    /// (which reaps nothing) and then reaps with `wait4` under the reap
    /// lock.
    ///
    /// On Windows: `WaitForSingleObject(process, INFINITE)`, then
    /// `GetExitCodeProcess`; nothing is reaped. [`Error::Os`](crate::Error::Os) if Windows
    /// fails the wait.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(unix)]
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| 3)?;
    /// assert_eq!(child.wait()?.code(), Some(3));
    /// assert_eq!(child.wait()?.code(), Some(3));
    /// # }
    /// # #[cfg(windows)] {
    /// # let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 3"]).spawn()?;
    /// # assert_eq!(child.wait()?.code(), Some(3));
    /// # assert_eq!(child.wait()?.code(), Some(3));
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait(&self) -> Result<ExitStatus> {
        loop {
            // Without a deadline there is no timeout: `None` only if the
            // process ended but its status could not be read yet.
            if let Some(s) = self.wait_deadline(None)? {
                return Ok(s);
            }
        }
    }

    /// `waitpid(pid, WNOHANG)`: the status if the child has ended (reaping
    /// it), `None` if it is still running. Never blocks.
    ///
    /// # Errors
    ///
    /// As [`Child::wait`].
    ///
    /// # Platform notes
    ///
    /// On Windows: `GetExitCodeProcess`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(unix)]
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
    /// # #[cfg(windows)] {
    /// # let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 0"]).spawn()?;
    /// # child.wait()?;
    /// # assert!(child.try_wait()?.is_some());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn try_wait(&self) -> Result<Option<ExitStatus>> {
        if let Some(s) = self.done() {
            return Ok(Some(s));
        }
        self.poll_exit()
    }

    /// Waits at most `timeout` for the child to end: `Some(status)`, or
    /// `None` if it is still running when the time is up (it is left
    /// running). A `timeout` too large to make a deadline (such as
    /// `Duration::MAX`) waits as [`Child::wait`] does.
    ///
    /// On Linux the kernel wakes the waiter (`poll` on the pidfd): no busy
    /// loop, no `SIGCHLD` handler. Elsewhere it checks with `WNOHANG` at
    /// growing intervals (1 ms up to 20 ms).
    ///
    /// # Errors
    ///
    /// As [`Child::wait`].
    ///
    /// # Platform notes
    ///
    /// On Windows the kernel wakes the waiter (`WaitForSingleObject`): no
    /// polling loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # #[cfg(unix)]
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| {
    ///     std::thread::sleep(Duration::from_secs(30));
    ///     0
    /// })?;
    /// assert_eq!(child.wait_timeout(Duration::from_millis(50))?, None);
    /// child.kill()?;
    /// assert!(child.wait_timeout(Duration::from_secs(10))?.is_some());
    /// # }
    /// # #[cfg(windows)] {
    /// # let child = procctl::proc::Command::new("ping")
    /// #     .args(["-n", "30", "127.0.0.1"])
    /// #     .stdout(procctl::proc::Stdio::null())
    /// #     .spawn()?;
    /// # assert_eq!(child.wait_timeout(Duration::from_millis(50))?, None);
    /// # child.kill()?;
    /// # assert!(child.wait_timeout(Duration::from_secs(10))?.is_some());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<ExitStatus>> {
        // A timeout too large for an `Instant` is no deadline at all.
        match std::time::Instant::now().checked_add(timeout) {
            Some(deadline) => self.wait_deadline(Some(deadline)),
            None => self.wait().map(Some),
        }
    }

    /// [`Child::wait`], plus the resources the child used (`wait4`).
    ///
    /// # Errors
    ///
    /// As [`Child::wait`].
    ///
    /// # Platform notes
    ///
    /// On Windows the CPU times and the peak working set come from
    /// `GetProcessTimes` and `GetProcessMemoryInfo`; [`Error::Os`](crate::Error::Os) if
    /// Windows does not report the times.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(unix)]
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| {
    ///     let v = vec![1u8; 32 << 20]; // touch 32 MiB
    ///     (v.iter().map(|&b| b as usize).sum::<usize>() == 32 << 20) as i32
    /// })?;
    /// let (status, usage) = child.wait_with_rusage()?;
    /// assert_eq!(status.code(), Some(1));
    /// assert!(usage.max_rss_bytes() >= 32 << 20);
    /// # }
    /// # #[cfg(windows)] {
    /// # let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 1"]).spawn()?;
    /// # let (status, _usage) = child.wait_with_rusage()?;
    /// # assert_eq!(status.code(), Some(1));
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "wait4")]
    #[doc(alias = "GetProcessTimes")]
    pub fn wait_with_rusage(&self) -> Result<(ExitStatus, ResourceUsage)> {
        let status = self.wait()?;
        let ru = self.usage()?;
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
    /// [`Error::PermissionDenied`](crate::Error::PermissionDenied) if the child changed its credentials (a
    /// setuid program) and may not be signalled by us.
    ///
    /// # Platform notes
    ///
    /// Windows ends the child for [`Signal::KILL`] and [`Signal::TERM`]
    /// (`TerminateProcess`, exit code 1), and `Ok(())` if it has ended
    /// already. Any other signal is [`Error::Unsupported`](crate::Error::Unsupported), whether the
    /// child still runs or not: Windows cannot deliver them to another
    /// process. [`Error::Os`](crate::Error::Os) if `TerminateProcess` fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::Signal;
    /// # #[cfg(unix)]
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| {
    ///     std::thread::sleep(std::time::Duration::from_secs(30));
    ///     0
    /// })?;
    /// child.signal(Signal::USR1)?; // default action: terminate
    /// assert_eq!(child.wait()?.signal(), Some(Signal::USR1));
    /// # }
    /// # #[cfg(windows)] {
    /// # let child = procctl::proc::Command::new("ping")
    /// #     .args(["-n", "30", "127.0.0.1"])
    /// #     .stdout(procctl::proc::Stdio::null())
    /// #     .spawn()?;
    /// # assert!(child.signal(Signal::USR1).is_err());
    /// # child.signal(Signal::TERM)?;
    /// # assert_eq!(child.wait()?.code(), Some(1));
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "kill")]
    #[doc(alias = "TerminateProcess")]
    pub fn signal(&self, signal: Signal) -> Result<()> {
        self.send(signal)
    }

    /// Sends `SIGKILL` (see [`Child::signal`]); `Ok(())` if the child was
    /// already reaped.
    ///
    /// # Errors
    ///
    /// As [`Child::signal`].
    ///
    /// # Platform notes
    ///
    /// On Windows: `TerminateProcess`; `Ok(())` if the child has ended
    /// already.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(unix)]
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| {
    ///     std::thread::sleep(std::time::Duration::from_secs(30));
    ///     0
    /// })?;
    /// child.kill()?;
    /// assert_eq!(child.wait()?.signal(), Some(procctl::Signal::KILL));
    /// child.kill()?; // no-op
    /// # }
    /// # #[cfg(windows)] {
    /// # let child = procctl::proc::Command::new("ping")
    /// #     .args(["-n", "30", "127.0.0.1"])
    /// #     .stdout(procctl::proc::Stdio::null())
    /// #     .spawn()?;
    /// # child.kill()?;
    /// # assert!(!child.wait()?.success());
    /// # child.kill()?; // no-op
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn kill(&self) -> Result<()> {
        self.signal(Signal::KILL)
    }

    /// Chooses what dropping this handle does to an unwaited child.
    ///
    /// # Platform notes
    ///
    /// On Windows there is nothing to reap: see [`DropPolicy`].
    ///
    /// ```
    /// use procctl::proc::DropPolicy;
    /// # #[cfg(unix)]
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| {
    ///     std::thread::sleep(std::time::Duration::from_secs(30));
    ///     0
    /// })?;
    /// child.set_drop_policy(DropPolicy::KillAndReap);
    /// drop(child); // killed and reaped here
    /// # }
    /// # #[cfg(windows)] {
    /// # let child = procctl::proc::Command::new("ping")
    /// #     .args(["-n", "30", "127.0.0.1"])
    /// #     .stdout(procctl::proc::Stdio::null())
    /// #     .spawn()?;
    /// # child.set_drop_policy(DropPolicy::KillAndReap);
    /// # drop(child); // terminated and waited for here
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn set_drop_policy(&self, policy: DropPolicy) {
        self.policy.store(policy.to_u8(), Ordering::Relaxed);
    }

    /// The current [`DropPolicy`].
    ///
    /// ```
    /// # #[cfg(unix)]
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| 0)?;
    /// assert_eq!(child.drop_policy(), procctl::proc::DropPolicy::Reap);
    /// # }
    /// # #[cfg(windows)] {
    /// # let child = procctl::proc::Command::new("cmd.exe").args(["/C", "exit 0"]).spawn()?;
    /// # assert_eq!(child.drop_policy(), procctl::proc::DropPolicy::Reap);
    /// # child.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn drop_policy(&self) -> DropPolicy {
        DropPolicy::from_u8(self.policy.load(Ordering::Relaxed))
    }
}

impl Drop for Child {
    /// What the [`DropPolicy`] says; never blocks except for
    /// [`DropPolicy::KillAndReap`].
    fn drop(&mut self) {
        let policy = self.drop_policy();
        self.release(policy);
    }
}

impl From<std::process::Child> for Child {
    /// Adopts a child started by [`std::process::Command`]: its pid, its
    /// piped stdin/stdout/stderr, and from now on its reaping.
    ///
    /// std's status comes first: if std had already reaped the child
    /// (`try_wait`), that status is kept (also for a signal procctl has no
    /// name for) and the handle is neither registered nor signalled again,
    /// since its pid may name another process by now. Otherwise, on Linux,
    /// the pidfd opened under procctl's reap lock before std looked is
    /// kept, so the handle never signals or reaps a recycled pid. A child
    /// that code outside std and procctl reaped reports
    /// [`Error::NotChild`](crate::Error::NotChild) from `wait`.
    ///
    /// # Panics
    ///
    /// On Windows, if Windows cannot duplicate the process handle (out of
    /// handles).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// let std_child = std::process::Command::new("cat")
    ///     .stdin(std::process::Stdio::piped())
    ///     .stdout(std::process::Stdio::piped())
    ///     .spawn()?;
    /// let child = procctl::proc::Child::from(std_child);
    /// let out = child.communicate(b"adopted")?;
    /// assert_eq!(out.stdout, b"adopted");
    /// assert!(out.status.success());
    /// # }
    /// # #[cfg(windows)] {
    /// # let std_child = std::process::Command::new("cmd.exe")
    /// #     .args(["/C", "echo adopted"])
    /// #     .stdout(std::process::Stdio::piped())
    /// #     .spawn()?;
    /// # let child = procctl::proc::Child::from(std_child);
    /// # let out = child.communicate(b"")?;
    /// # assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "adopted");
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn from(child: std::process::Child) -> Child {
        Child::from_std(child)
    }
}

#[cfg(unix)]
impl Child {
    /// `killpg(pid, signal)`: signals the process group this child leads,
    /// reaching its descendants that stayed in the group.
    ///
    /// The child must lead a group: start it with
    /// [`Command::process_group(0)`](crate::proc::Command::process_group)
    /// or [`Command::setsid(true)`](crate::proc::Command::setsid) (or it
    /// calls `setpgid(0, 0)`/`setsid()` itself). A process that left the
    /// group (`setsid`, `setpgid`, a shell's job control) is not reached:
    /// for a whole tree use a [`Scope`](crate::proc::Scope) on Linux.
    ///
    /// Race-free: on Linux 6.9+ the signal goes through the child's pidfd
    /// (`pidfd_send_signal` with `PIDFD_SIGNAL_PROCESS_GROUP`), which names
    /// the group by the process, not by a number. Elsewhere it is
    /// `killpg` under procctl's reap lock after checking that the child is
    /// not reaped: while a process is an unreaped child its pid, and so its
    /// group id, cannot be given to anyone else.
    ///
    /// Once the child has been reaped, this refuses with
    /// [`Error::GroupLeaderReaped`](crate::Error::GroupLeaderReaped): the
    /// group may still have members, but its number is no longer ours to
    /// name safely (once the group is empty the kernel may hand it to a
    /// new process). Signal the group before waiting, or use a `Scope`.
    ///
    /// # Errors
    ///
    /// [`Error::GroupLeaderReaped`](crate::Error::GroupLeaderReaped) after
    /// the child was reaped; [`Error::NotGroupLeader`](crate::Error::NotGroupLeader)
    /// when the child does not lead a process group (it is in ours, for
    /// example); [`Error::PermissionDenied`](crate::Error::PermissionDenied)
    /// (`EPERM`) when no member may be signalled; else
    /// [`Error::Os`](crate::Error::Os) naming the call.
    ///
    /// # Platform notes
    ///
    /// Unix only. Before Linux 6.9 (and on other Unix systems) the
    /// `killpg` path is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::{Signal, proc::Command};
    ///
    /// // sh and its sleep share the group that sh leads.
    /// let child = Command::new("sh")
    ///     .args(["-c", "sleep 30; echo never"])
    ///     .process_group(0)
    ///     .spawn()?;
    /// child.signal_group(Signal::TERM)?;
    /// assert_eq!(child.wait()?.signal(), Some(Signal::TERM));
    /// // Reaped: the group can no longer be named safely.
    /// assert!(matches!(
    ///     child.signal_group(Signal::TERM),
    ///     Err(procctl::Error::GroupLeaderReaped { .. })
    /// ));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "killpg")]
    #[doc(alias = "pidfd_send_signal")]
    pub fn signal_group(&self, signal: Signal) -> Result<()> {
        self.send_group(signal)
    }
}
