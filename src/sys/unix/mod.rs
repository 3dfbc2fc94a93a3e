//! The Unix backend.

pub(crate) mod atfork;
#[cfg(target_os = "linux")]
pub(crate) mod cgroup;
pub(crate) mod exec;
#[cfg(any(feature = "tokio", feature = "async-io"))]
pub(crate) mod exit_fd;
pub(crate) mod holders;
pub(crate) mod pidfd;
pub(crate) mod pipe;
pub(crate) mod poll;
pub(crate) mod process;
pub(crate) mod pty;
pub(crate) mod reaper;
pub(crate) mod signal;
pub(crate) mod spawn;
pub(crate) mod system;
#[cfg(feature = "tokio")]
pub(crate) mod tokio_fd;
pub(crate) mod wait;

pub(crate) use exec::ExecPlan;
pub(crate) use process::{exit, fork, parent_pid, thread_count};

use std::io;

/// Retries `f` while it fails with `EINTR`.
pub(crate) fn retry_eintr<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            other => return other,
        }
    }
}

/// `-1` from a libc call becomes the thread's `errno`.
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A signal set holding `signals`; a number the C library refuses (out of
/// range, or one of its internal signals) is left out.
pub(crate) fn sigset(signals: &[i32]) -> libc::sigset_t {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::zeroed();
    // SAFETY: sigemptyset initialises the writable set; sigaddset only
    // sets bits in it (or fails with EINVAL, ignored).
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for &sig in signals {
            libc::sigaddset(set.as_mut_ptr(), sig);
        }
        set.assume_init()
    }
}

/// The highest signal number to look at in a loop over every signal.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) const SIG_MAX: i32 = 64;
/// The highest signal number to look at in a loop over every signal.
#[cfg(target_os = "freebsd")]
pub(crate) const SIG_MAX: i32 = 128;
/// The highest signal number to look at in a loop over every signal.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
pub(crate) const SIG_MAX: i32 = 31;

/// `kill(pid, sig)`, where `pid` may be negative (a process group) or 0.
pub(crate) fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill takes plain integers and touches no memory of ours.
    cvt(unsafe { libc::kill(pid, sig) }).map(drop)
}
