//! Raw parts of the background reaper: an epoll set of pidfds (Linux), the
//! child-subreaper bit, and the process-table scan for zombies.

use std::io;
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

#[cfg(any(target_os = "linux", target_os = "android"))]
use super::cvt;

/// An epoll instance watching pidfds; each event carries the child's pid.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) struct PidfdSet {
    epoll: OwnedFd,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl PidfdSet {
    pub(crate) fn new() -> io::Result<PidfdSet> {
        // SAFETY: epoll_create1 takes flags and returns a new fd or -1.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: the fd was just returned to us and is owned by nobody else.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(PidfdSet { epoll })
    }

    /// Watches `pidfd` (readable once the process exits) under `pid`.
    pub(crate) fn add(&self, pidfd: BorrowedFd<'_>, pid: i32) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: pid as u32 as u64,
        };
        // SAFETY: valid epoll fd, valid pidfd, a valid event struct.
        cvt(unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                pidfd.as_raw_fd(),
                &mut ev,
            )
        })
        .map(drop)
    }

    /// Stops watching `pidfd`. Must happen before the pidfd is closed: a
    /// child between clone and exec may share our descriptor table, and
    /// epoll would keep reporting an entry whose fd we closed.
    pub(crate) fn remove(&self, pidfd: BorrowedFd<'_>) {
        // SAFETY: valid fds; a NULL event is allowed for EPOLL_CTL_DEL.
        unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                pidfd.as_raw_fd(),
                std::ptr::null_mut(),
            )
        };
    }

    /// Blocks until at least one watched process has exited (or `timeout_ms`
    /// passes; -1: no limit); fills `pids` with their pids. Retries on
    /// `EINTR`.
    pub(crate) fn wait(&self, pids: &mut Vec<i32>, timeout_ms: i32) -> io::Result<()> {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
        let n = super::retry_eintr(|| {
            // SAFETY: events is a writable array of 64 epoll_event.
            cvt(unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    events.len() as i32,
                    timeout_ms,
                )
            })
        })?;
        pids.clear();
        pids.extend(events[..n as usize].iter().map(|e| e.u64 as u32 as i32));
        Ok(())
    }
}

/// `prctl(PR_SET_CHILD_SUBREAPER, on)`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn set_child_subreaper(on: bool) -> io::Result<()> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer flag.
    cvt(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, on as libc::c_ulong, 0, 0, 0) })
        .map(drop)
}

/// `prctl(PR_GET_CHILD_SUBREAPER)`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn is_child_subreaper() -> io::Result<bool> {
    let mut flag: libc::c_int = 0;
    // SAFETY: PR_GET_CHILD_SUBREAPER writes an int through the pointer.
    cvt(unsafe {
        libc::prctl(
            libc::PR_GET_CHILD_SUBREAPER,
            &mut flag as *mut libc::c_int,
            0,
            0,
            0,
        )
    })?;
    Ok(flag != 0)
}

/// The pids of the calling process's children in state Z, from `/proc`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn zombie_children() -> io::Result<Vec<i32>> {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        // The process may be gone by now: skip it.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command name (which may hold spaces and ')').
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let ppid = fields.next().and_then(|p| p.parse::<i32>().ok());
        if state == Some("Z") && ppid == Some(me) {
            out.push(pid);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Builds a `sigset_t` holding `signals`.
fn sigset(signals: &[i32]) -> libc::sigset_t {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset only reads valid
    // signal numbers (the callers pass `Signal::as_raw` values).
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for &s in signals {
            libc::sigaddset(set.as_mut_ptr(), s);
        }
        set.assume_init()
    }
}

/// Blocks `signals` in the calling thread; returns the previous mask.
pub(crate) fn block_signals(signals: &[i32]) -> io::Result<libc::sigset_t> {
    let set = sigset(signals);
    let mut old = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: valid set pointers; pthread_sigmask fills `old`.
    let ret = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, old.as_mut_ptr()) };
    if ret != 0 {
        return Err(io::Error::from_raw_os_error(ret));
    }
    // SAFETY: filled by pthread_sigmask on success.
    Ok(unsafe { old.assume_init() })
}

/// Restores a mask returned by [`block_signals`].
pub(crate) fn restore_mask(old: &libc::sigset_t) {
    // SAFETY: `old` is a valid, initialised sigset_t.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
}

/// Sets every signal's mask bit to unblocked in the calling thread.
pub(crate) fn unblock_all() {
    let set = sigset(&[]);
    // SAFETY: a valid empty set.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) };
}

/// `sigwait`: waits for one of `signals` (which must be blocked) and
/// returns its number.
pub(crate) fn sigwait(signals: &[i32]) -> io::Result<i32> {
    let set = sigset(signals);
    let mut sig = 0;
    loop {
        // SAFETY: a valid set and a writable int.
        match unsafe { libc::sigwait(&set, &mut sig) } {
            0 => return Ok(sig),
            libc::EINTR => continue,
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
}

/// Sets `sig`'s disposition to `SIG_DFL`; returns whether it was `SIG_IGN`.
pub(crate) fn set_default_disposition(sig: i32) -> io::Result<bool> {
    // SAFETY: SIG_DFL is always a valid disposition; `old` is writable.
    let old = unsafe { libc::signal(sig, libc::SIG_DFL) };
    if old == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(old == libc::SIG_IGN)
}

/// Sets `sig`'s disposition back to `SIG_IGN`.
pub(crate) fn set_ignored(sig: i32) {
    // SAFETY: SIG_IGN is a valid disposition for the signals we pass.
    unsafe { libc::signal(sig, libc::SIG_IGN) };
}
