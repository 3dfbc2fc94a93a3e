//! Raw parts of the background reaper: an epoll set of pidfds (Linux), the
//! child-subreaper bit, and the process-table scan for zombies.

#[cfg(any(target_os = "linux", target_os = "android"))]
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

    /// Waits until at least one watched process has exited (or
    /// `timeout_ms` passes; 0: do not block, -1: no limit) and writes
    /// their pids to the front of `ready`; returns how many. Retries on
    /// `EINTR`.
    pub(crate) fn wait(&self, ready: &mut [i32; 64], timeout_ms: i32) -> io::Result<usize> {
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
        })? as usize;
        for (pid, ev) in ready.iter_mut().zip(&events[..n]) {
            *pid = ev.u64 as u32 as i32;
        }
        Ok(n)
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

/// Unblocks every signal in the calling thread.
pub(crate) fn unblock_all() {
    let set = super::sigset(&[]);
    // SAFETY: a valid empty set.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) };
}

/// Registers `handler` to run in the child of every `fork` (any caller's),
/// before `fork` returns there. It must be async-signal-safe.
pub(crate) fn at_fork_in_child(handler: extern "C" fn()) {
    // SAFETY: registers a plain function pointer; the caller promises it is
    // async-signal-safe (it runs in a child forked from many threads).
    unsafe { libc::pthread_atfork(None, None, Some(handler)) };
}
