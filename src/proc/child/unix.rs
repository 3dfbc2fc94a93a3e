//! [`Child`] on Unix: the state procctl's reaping paths share (pid, pidfd,
//! status slot, owned by the reap registry), reaped and signalled under
//! the reap lock of [`crate::reap`].

use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Child, DropPolicy, take_std_pipes};
use crate::error::{Error, Result};
use crate::sys::wait;
pub(super) use crate::sys::wait::Rusage;
use crate::sys::{self, pidfd};
use crate::{ExitStatus, Pid, Signal, reap};

use crate::reap::End;
pub(crate) use crate::reap::Shared;

/// A [`Child`]'s platform state: what it shares with the reap registry.
pub(super) type Inner = Arc<Shared>;

impl Child {
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Child {
        Child::new(shared)
    }

    /// `From<std::process::Child>`: takes over the pipes and, under the reap
    /// lock, the reaping. std's own status comes first: once std has
    /// reaped the child its pid may name another process, which must be
    /// neither registered nor signalled.
    pub(super) fn from_std(mut child: std::process::Child) -> Child {
        use std::os::unix::process::ExitStatusExt;
        let pid = Pid::from_raw(child.id() as i32).expect("a child's pid is positive");
        let (stdin, stdout, stderr) = take_std_pipes(&mut child);
        let shared = {
            let mut locked = reap::lock();
            // Opened before std looks: until std reaps it (below, or in
            // an earlier `try_wait`, which is then reported again) the pid
            // is our child's, so a pidfd we keep names it.
            let pidfd = sys::pidfd::open(pid.as_raw()).ok().flatten();
            match child.try_wait() {
                Ok(Some(status)) => {
                    drop(pidfd);
                    let end = match reap::exit_status(status.into_raw()) {
                        Some(exit) => End::Reaped((exit, Rusage::default())),
                        None => End::Lost,
                    };
                    Arc::new(Shared::ended(pid, end))
                }
                Ok(None) => {
                    let shared = Arc::new(Shared::new(pid, pidfd));
                    locked.register(&shared);
                    shared
                }
                // Reaped by code outside std and procctl: nothing to wait
                // for, nothing to signal.
                Err(_) => {
                    drop(pidfd);
                    Arc::new(Shared::ended(pid, End::Lost))
                }
            }
        };
        Child::from_shared(shared).with_stdio(stdin, stdout, stderr)
    }

    /// The status, if the child was already reaped.
    pub(super) fn done(&self) -> Option<ExitStatus> {
        self.inner.status()
    }

    /// The resource usage of the reaped child.
    pub(super) fn usage(&self) -> Result<Rusage> {
        Ok(self.inner.usage().expect("wait stored the status"))
    }

    /// How the child ended, if procctl knows: its status, or
    /// [`Error::NotChild`] if code outside procctl reaped it.
    fn ended(&self) -> Result<Option<ExitStatus>> {
        match self.inner.end() {
            Some(End::Reaped((status, _))) => Ok(Some(status)),
            Some(End::Lost) => Err(Error::NotChild { pid: self.pid() }),
            None => Ok(None),
        }
    }

    /// Reaps the child if it has exited: under the reap lock, through its
    /// pidfd where it has one, recording the status and dropping the
    /// registry entry in one critical section.
    pub(super) fn poll_exit(&self) -> Result<Option<ExitStatus>> {
        if let ended @ (Ok(Some(_)) | Err(_)) = self.ended() {
            return ended;
        }
        reap::lock()
            .reap_child(&self.inner)
            .map_err(|e| Error::os("waitid", e))?;
        self.ended()
    }

    /// Waits until the child ends or `deadline` passes.
    ///
    /// It sleeps without the reap lock (on the pidfd, or in
    /// `waitid(WNOWAIT)`, neither of which reaps) and reaps under it, so
    /// other spawns and waits go on meanwhile and the status reaches this
    /// handle in the same critical section as the reap.
    pub(super) fn wait_deadline(&self, deadline: Option<Instant>) -> Result<Option<ExitStatus>> {
        reap::drain_orphans();
        // Without a deadline: sleep in `waitid(P_PIDFD, WNOWAIT)` until the
        // child has exited (it reaps nothing), then reap below. A copy of
        // this handle in a forked process gets ECHILD here at once: the
        // child is not its own.
        if let (None, Some(fd), None) = (deadline, &self.inner.pidfd, self.inner.end()) {
            match wait::await_exit_pidfd(fd.as_fd()) {
                // Exited; or reaped by another path: try_wait sorts it out.
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {}
                // No P_PIDFD (Linux 5.3) or filtered: poll below.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EINVAL | libc::ENOSYS | libc::EPERM)
                    ) => {}
                Err(e) => return Err(Error::os("waitid", e)),
            }
        }
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
            // itself happens under the lock in try_wait. A pidfd is
            // readable once the process has exited, reaped or not.
            match (&self.inner.pidfd, left) {
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

    /// `kill(2)`, or `pidfd_send_signal` where the child has a pidfd.
    pub(super) fn send(&self, signal: Signal) -> Result<()> {
        // Reaped (here, by std, or by code outside procctl): the pid may
        // name another process by now.
        if self.inner.end().is_some() {
            return Ok(());
        }
        let sig = signal.as_raw();
        let sent = match &self.inner.pidfd {
            // A pidfd names this process and no other, reaped or not.
            Some(fd) => pidfd::send_signal(fd.as_fd(), sig),
            None => {
                // Without a pidfd, reaping only happens under this lock,
                // so while we hold it the pid is still our (possibly
                // zombie) child.
                let _locked = reap::lock();
                if self.inner.end().is_some() {
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

    /// What `drop` does: applies `policy` to an unwaited child.
    pub(super) fn release(&mut self, policy: DropPolicy) {
        if self.inner.end().is_some() {
            return;
        }
        let killed =
            matches!(policy, DropPolicy::Kill | DropPolicy::KillAndReap) && self.kill().is_ok();
        match policy {
            // Only a child that was sent SIGKILL is waited for: one we may
            // not signal could run for ever, and drop must not block.
            DropPolicy::KillAndReap if killed => {
                let _ = self.wait();
            }
            DropPolicy::Detach => reap::lock().detach(&self.inner),
            // Parked as an orphan (unless reaped meanwhile by another
            // path), and reaped now if it has already exited.
            DropPolicy::Reap | DropPolicy::Kill | DropPolicy::KillAndReap => {
                reap::lock().abandon(&mut self.inner);
            }
        }
    }
}

// ---- Child::signal_group (process group of a child that leads one) ----

impl Child {
    /// [`Child::signal_group`]: the group this child leads, while it is
    /// unreaped; see there for the rules.
    pub(super) fn send_group(&self, signal: Signal) -> Result<()> {
        use std::sync::atomic::{AtomicU8, Ordering};
        /// Whether `pidfd_send_signal(PIDFD_SIGNAL_PROCESS_GROUP)` works
        /// here (Linux 6.9+): unknown, no.
        static PGRP_FLAG: AtomicU8 = AtomicU8::new(0);
        const NO: u8 = 2;

        let pid = self.pid();
        let sig = signal.as_raw();
        let denied = |e| Error::PermissionDenied {
            subject: format!("signal {signal} to the process group of {pid}"),
            source: e,
        };
        if self.done().is_some() {
            return Err(Error::GroupLeaderReaped { pid });
        }
        // The kernel names the group by the pidfd's process, never by a
        // number: nothing recycled can be reached, reaped or not.
        if let Some(fd) = &self.inner.pidfd {
            if PGRP_FLAG.load(Ordering::Relaxed) != NO {
                match pidfd::send_signal_group(fd.as_fd(), sig) {
                    Ok(()) => return Ok(()),
                    // No process in a group numbered like the child.
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                        return Err(if self.done().is_some() {
                            Error::GroupLeaderReaped { pid }
                        } else {
                            Error::NotGroupLeader { pid }
                        });
                    }
                    // Before Linux 6.9 the flag is unknown; ENOSYS/EPERM:
                    // no pidfd_send_signal, or a filter.
                    Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {
                        PGRP_FLAG.store(NO, Ordering::Relaxed);
                    }
                    Err(e) if e.raw_os_error() == Some(libc::EPERM) => return Err(denied(e)),
                    Err(e) => return Err(Error::os("pidfd_send_signal", e)),
                }
            }
        }
        // killpg by number: only while the pid is certainly still ours.
        // Every reap procctl does happens under the reap lock and records
        // the child's end in the same critical section, so while we hold
        // it an unended child is unreaped (a zombie at worst), and its pid
        // and group id cannot be recycled.
        let _locked = reap::lock();
        if self.inner.end().is_some() {
            return Err(Error::GroupLeaderReaped { pid });
        }
        match nix::unistd::getpgid(Some(pid.into())) {
            Ok(pg) if pg.as_raw() == pid.as_raw() => {}
            Ok(_) => return Err(Error::NotGroupLeader { pid }),
            // Not visible any more: reaped by code outside procctl.
            Err(nix::errno::Errno::ESRCH) => return Err(Error::GroupLeaderReaped { pid }),
            Err(e) => return Err(Error::os("getpgid", e.into())),
        }
        match sys::kill(-pid.as_raw(), sig) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => Err(denied(e)),
            Err(e) => Err(Error::os("killpg", e)),
        }
    }
}
/// Linux: the child's pidfd, to poll for its exit (readable once it has
/// exited); never reap through it.
///
/// Hand it to a reactor (epoll, tokio's `AsyncFd`, async-io's `Async`),
/// or to `poll(2)`; when it is readable, call [`Child::try_wait`], which
/// reaps under procctl's lock and stores the status for every other
/// handle path. Reaping through it yourself (`waitid(P_PIDFD)`) would steal
/// the status from procctl: [`Child::wait`] would then fail with
/// [`Error::NotChild`]. Do not close it or change its flags. To register
/// it twice in one epoll instance, register a duplicate
/// (`try_clone_to_owned`).
///
/// A child without a pidfd ([`Child::pidfd`] is `None`: a kernel before
/// 5.3, or a pidfd refused by a seccomp profile, or a child adopted from
/// std after it had ended) lends a descriptor that is always readable
/// (the read end of a pipe whose writer is closed, one for the whole
/// process): "readable" means "look with `try_wait`", so a loop over it
/// spins on such kernels. Check [`Child::pidfd`] to tell.
///
/// # Panics
///
/// Only for a child without a pidfd, and only if the process has no
/// descriptor left for that one shared pipe the first time it is needed.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// use procctl::proc::Command;
///
/// let child = Command::new("true").spawn()?;
/// let mut pfd = [nix::poll::PollFd::new(child.as_fd(), nix::poll::PollFlags::POLLIN)];
/// nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(10_000u16)).unwrap();
/// assert!(child.try_wait()?.expect("readable: it has exited").success());
/// # Ok::<(), procctl::Error>(())
/// ```
#[cfg(any(target_os = "linux", target_os = "android"))]
impl AsFd for Child {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        static ALWAYS_READABLE: std::sync::OnceLock<std::io::PipeReader> =
            std::sync::OnceLock::new();
        match &self.inner.pidfd {
            Some(fd) => fd.as_fd(),
            None => ALWAYS_READABLE
                .get_or_init(|| {
                    let (reader, _writer) = std::io::pipe().expect("a pipe for Child::as_fd");
                    reader
                })
                .as_fd(),
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Child {
    /// Linux: the child's pidfd (`pidfd_open`, or `clone3`'s
    /// `CLONE_PIDFD`), if it has one: poll it, never reap through it (see
    /// [`AsFd for Child`](#impl-AsFd-for-Child)).
    ///
    /// `None` on a kernel before 5.3, where a seccomp profile refuses
    /// pidfds, and for a child adopted from std after it had ended.
    ///
    /// ```
    /// let child = procctl::proc::Command::new("true").spawn()?;
    /// assert!(child.pidfd().is_some()); // Linux 5.3 and later
    /// child.wait()?;
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn pidfd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.inner.pidfd.as_ref().map(|fd| fd.as_fd())
    }
}
