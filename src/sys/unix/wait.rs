//! `waitid` (to look without reaping) and `wait4` (to reap, with rusage).

use std::io;
use std::mem::MaybeUninit;
use std::time::Duration;

use super::{cvt, retry_eintr};

/// Which children to wait for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Id {
    /// One child.
    Pid(i32),
    /// Any child in this process group.
    Group(i32),
    /// Any child.
    All,
}

/// What to report, as `waitpid` flags: `WNOHANG`, `WUNTRACED`,
/// `WCONTINUED` (only these bits are read).
pub(crate) type Flags = libc::c_int;

/// Looks for a child in a reportable state without reaping it
/// (`waitid(..., WNOWAIT)`), retrying on `EINTR`. Returns its pid, `None`
/// under `WNOHANG` when nothing is ready.
pub(crate) fn peek(id: Id, flags: Flags) -> io::Result<Option<i32>> {
    let (idtype, raw_id) = match id {
        Id::Pid(p) => (libc::P_PID, p as libc::id_t),
        Id::Group(g) => (libc::P_PGID, g as libc::id_t),
        Id::All => (libc::P_ALL, 0),
    };
    let mut wflags = libc::WEXITED | libc::WNOWAIT;
    if flags & libc::WNOHANG != 0 {
        wflags |= libc::WNOHANG;
    }
    if flags & libc::WUNTRACED != 0 {
        wflags |= libc::WSTOPPED;
    }
    if flags & libc::WCONTINUED != 0 {
        wflags |= libc::WCONTINUED;
    }
    retry_eintr(|| {
        let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
        // SAFETY: info is a writable siginfo_t; waitid fills it or leaves
        // it zeroed (WNOHANG with nothing to report).
        cvt(unsafe { libc::waitid(idtype, raw_id, info.as_mut_ptr(), wflags) })?;
        // SAFETY: zero-initialised, then possibly filled by the kernel.
        let info = unsafe { info.assume_init() };
        // SAFETY: for SIGCHLD-class siginfo, si_pid is the child's pid; a
        // zeroed struct gives 0.
        let pid = unsafe { info.si_pid() };
        Ok((pid > 0).then_some(pid))
    })
}

/// Resource usage of a reaped child, as `wait4` reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Rusage {
    pub(crate) user: Duration,
    pub(crate) system: Duration,
    /// Maximum resident set size in bytes.
    pub(crate) max_rss: u64,
}

/// `wait4(pid, flags)`, retrying on `EINTR`: `Some((pid, raw status,
/// rusage))`, or `None` under `WNOHANG` when nothing is ready.
pub(crate) fn wait4(pid: i32, flags: Flags) -> io::Result<Option<(i32, i32, Rusage)>> {
    retry_eintr(|| {
        let mut status = 0;
        let mut ru = MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: status and ru are writable and of the right types.
        let ret = cvt(unsafe { libc::wait4(pid, &mut status, flags, ru.as_mut_ptr()) })?;
        if ret == 0 {
            return Ok(None);
        }
        // SAFETY: zero-initialised, then filled by the kernel.
        let ru = unsafe { ru.assume_init() };
        Ok(Some((ret, status, Rusage::from_raw(&ru))))
    })
}

impl Rusage {
    fn from_raw(ru: &libc::rusage) -> Rusage {
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        // ru_maxrss is in kilobytes on Linux and the BSDs, bytes on macOS.
        #[cfg(target_vendor = "apple")]
        let max_rss = ru.ru_maxrss as u64;
        #[cfg(not(target_vendor = "apple"))]
        let max_rss = ru.ru_maxrss as u64 * 1024;
        Rusage {
            user: tv(ru.ru_utime),
            system: tv(ru.ru_stime),
            max_rss,
        }
    }
}

/// `waitid(P_PIDFD, fd, ...)` on the process behind the pidfd `fd`, with
/// `waitpid`-style `flags` (`WNOHANG`, `WUNTRACED`, `WCONTINUED`; exits
/// are always reported and reaped). Uses the raw system call, which also fills in the
/// resource usage (Linux 5.4+; `EINVAL` before). Returns the status
/// encoded as `waitpid` encodes it and the rusage, or `None` under
/// `WNOHANG` when nothing is ready. Retries on `EINTR`. Only this process
/// can be reaped, whatever happens to its pid meanwhile; `ECHILD` once
/// something reaped it (or if it is not our child).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn waitid_pidfd(
    fd: std::os::fd::BorrowedFd<'_>,
    flags: Flags,
) -> io::Result<Option<(i32, Rusage)>> {
    use std::os::fd::AsRawFd;
    let mut options = libc::WEXITED;
    if flags & libc::WNOHANG != 0 {
        options |= libc::WNOHANG;
    }
    if flags & libc::WUNTRACED != 0 {
        options |= libc::WSTOPPED;
    }
    if flags & libc::WCONTINUED != 0 {
        options |= libc::WCONTINUED;
    }
    retry_eintr(|| {
        let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
        let mut ru = MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: the raw system call takes (idtype, id, siginfo*, options,
        // rusage*); both out-pointers are writable and of the right types.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_waitid,
                libc::P_PIDFD,
                fd.as_raw_fd(),
                info.as_mut_ptr(),
                options,
                ru.as_mut_ptr(),
            )
        };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: zero-initialised, then possibly filled by the kernel.
        let (info, ru) = unsafe { (info.assume_init(), ru.assume_init()) };
        // SAFETY: a SIGCHLD-class siginfo (or all zero under WNOHANG with
        // nothing to report): si_pid and si_status are plain integers.
        let (pid, n) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            return Ok(None);
        }
        let raw = match info.si_code {
            libc::CLD_EXITED => (n & 0xff) << 8,
            libc::CLD_KILLED => n & 0x7f,
            libc::CLD_DUMPED => (n & 0x7f) | 0x80,
            libc::CLD_CONTINUED => 0xffff,
            // CLD_STOPPED, CLD_TRAPPED: a stop, as waitpid encodes it.
            _ => ((n & 0xff) << 8) | 0x7f,
        };
        Ok(Some((raw, Rusage::from_raw(&ru))))
    })
}

/// Blocks until the process behind the pidfd `fd` has exited, without
/// reaping it: `waitid(P_PIDFD, fd, WEXITED | WNOWAIT)` (Linux 5.4+;
/// `EINVAL` before). Retries on `EINTR`. `ECHILD` at once if the process
/// was reaped already or is not our child (a copy of the pidfd in a
/// forked process).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn await_exit_pidfd(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    retry_eintr(|| {
        let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
        // SAFETY: waitid with a writable siginfo_t and a pidfd.
        cvt(unsafe {
            libc::waitid(
                libc::P_PIDFD,
                fd.as_raw_fd() as libc::id_t,
                info.as_mut_ptr(),
                libc::WEXITED | libc::WNOWAIT,
            )
        })
        .map(drop)
    })
}

/// No pidfds on this platform.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn await_exit_pidfd(_fd: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// No pidfds on this platform.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn waitid_pidfd(
    _fd: std::os::fd::BorrowedFd<'_>,
    _flags: Flags,
) -> io::Result<Option<(i32, Rusage)>> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}
