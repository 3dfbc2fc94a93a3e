//! The child's attribute steps (`Command::rlimit`, `uid`, `unshare`, ...):
//! plain data prepared before the clone, applied by raw system calls in
//! the child between clone and exec. No allocation, no lock.
//!
//! The order, and why (the `Command` docs carry the same table):
//!
//! 1. `unshare` (namespaces): first, while we still hold every privilege
//!    we started with; a new mount namespace must exist before `chroot`.
//! 2. `chroot`: before `chdir`, which then resolves inside the new root,
//!    and while we may still call it (`CAP_SYS_CHROOT`).
//! 3. `setrlimit`: before the credentials change (raising a hard limit
//!    needs `CAP_SYS_RESOURCE`).
//! 4. `umask`: cannot fail; anywhere before exec.
//! 5. `setpriority` (nice), `sched_setaffinity`: lowering the nice value
//!    needs `CAP_SYS_NICE`, so before the credentials change.
//! 6. `setgroups`, `setgid`, `setuid`: groups and gid first, as they need
//!    the privilege that `setuid` gives up.
//! 7. `no_new_privs`: after the credentials change, which it would not
//!    stop, but before exec, which it governs.
//! 8. the parent-death signal: last, so that the check "is my parent
//!    still the process that spawned me" runs as late as possible; and
//!    after `setuid`, which clears it.

use std::ffi::CString;

use libc::c_int;

use super::super::exec::errno;
use crate::error::SpawnStep;

/// The id maps of a new user namespace, as the text the parent writes to
/// `/proc/<pid>/uid_map` and `gid_map`.
#[derive(Debug)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) struct IdMaps {
    pub(crate) uid_map: Option<Vec<u8>>,
    pub(crate) gid_map: Option<Vec<u8>>,
}

/// Everything the attribute steps read, as plain data.
#[derive(Debug, Default)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) struct Attrs {
    /// `(RLIMIT_*, soft, hard)`.
    pub(crate) rlimits: Vec<(i32, u64, u64)>,
    pub(crate) umask: Option<u32>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    /// The supplementary groups; `Some(empty)` drops them all.
    pub(crate) groups: Option<Vec<u32>>,
    pub(crate) chroot: Option<CString>,
    /// 0: none.
    pub(crate) pdeathsig: c_int,
    pub(crate) no_new_privs: bool,
    pub(crate) nice: Option<i32>,
    #[cfg(target_os = "linux")]
    pub(crate) affinity: Option<Box<libc::cpu_set_t>>,
    /// `CLONE_NEW*` flags for `unshare` in the child, without
    /// `CLONE_NEWUSER` (made by the clone itself, see `user_ns`).
    pub(crate) unshare: c_int,
    /// A new user namespace with these maps: the spawn takes the path
    /// without `CLONE_VFORK` so the parent can write them.
    pub(crate) user_ns: Option<IdMaps>,
    /// The spawning process's pid, for the parent-death check (set by the
    /// spawn just before the clone).
    pub(crate) parent: libc::pid_t,
}

/// The empty CPU set.
#[cfg(target_os = "linux")]
pub(crate) fn empty_cpu_set() -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is a plain bit array; all zeros is the empty set.
    unsafe { std::mem::zeroed() }
}

/// Adds `cpu` (below the set's size) to `set`.
#[cfg(target_os = "linux")]
pub(crate) fn cpu_set(set: &mut libc::cpu_set_t, cpu: usize) {
    // SAFETY: the caller keeps cpu below the set's size in bits.
    unsafe { libc::CPU_SET(cpu, set) };
}

/// `sysconf(_SC_NGROUPS_MAX)`, or 16 (the POSIX minimum) if unknown.
pub(crate) fn ngroups_max() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NGROUPS_MAX) };
    if n > 0 { n as usize } else { 16 }
}

/// Runs every attribute step in the child, in the documented order.
/// Returns the failed step and its errno. Async-signal-safe, no
/// allocation: every value was prepared before the clone.
pub(super) fn apply(a: &Attrs) -> Result<(), (SpawnStep, c_int)> {
    let fail = |step| Err((step, errno()));

    // 1. Namespaces (the user namespace, if any, came with the clone).
    #[cfg(target_os = "linux")]
    // SAFETY: unshare takes flags and changes only the calling process.
    if a.unshare != 0 && unsafe { libc::unshare(a.unshare) } < 0 {
        return fail(SpawnStep::Unshare);
    }

    // 2. The root directory.
    if let Some(dir) = &a.chroot {
        // SAFETY: a NUL-terminated path prepared before the clone.
        if unsafe { libc::chroot(dir.as_ptr()) } < 0 {
            return fail(SpawnStep::Chroot);
        }
        // The working directory is left outside the new root otherwise;
        // `Command::current_dir` (applied later) may move it again.
        // SAFETY: a static NUL-terminated path.
        if unsafe { libc::chdir(c"/".as_ptr()) } < 0 {
            return fail(SpawnStep::Chroot);
        }
    }

    // 3. Resource limits.
    for &(res, soft, hard) in &a.rlimits {
        let lim = libc::rlimit {
            rlim_cur: soft as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: lim is a valid rlimit; setrlimit is a plain system call
        // (prlimit64 in glibc and musl).
        if unsafe { libc::setrlimit(res as _, &lim) } < 0 {
            return fail(SpawnStep::Rlimit);
        }
    }

    // 4. The file mode creation mask (cannot fail).
    if let Some(mask) = a.umask {
        // SAFETY: umask only sets the calling process's mask.
        unsafe { libc::umask(mask as libc::mode_t) };
    }

    // 5. Scheduling: the nice value, the CPUs.
    if let Some(nice) = a.nice {
        // SAFETY: a plain system call on the calling process.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) } < 0 {
            return fail(SpawnStep::Nice);
        }
    }
    #[cfg(target_os = "linux")]
    if let Some(set) = &a.affinity {
        // SAFETY: the raw system call (glibc's wrapper is one too) with a
        // set prepared before the clone.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_sched_setaffinity,
                0,
                std::mem::size_of::<libc::cpu_set_t>(),
                &**set as *const libc::cpu_set_t,
            )
        };
        if ret < 0 {
            return fail(SpawnStep::CpuAffinity);
        }
    }

    // 6. Credentials: groups and gid while we may, then uid.
    if let Some(groups) = &a.groups {
        if setgroups(groups) < 0 {
            return fail(SpawnStep::Setgroups);
        }
    }
    if let Some(gid) = a.gid {
        if setid(true, gid) < 0 {
            return fail(SpawnStep::Setgid);
        }
    }
    if let Some(uid) = a.uid {
        if setid(false, uid) < 0 {
            return fail(SpawnStep::Setuid);
        }
    }

    // 7. No new privileges for what exec runs.
    if a.no_new_privs {
        #[cfg(target_os = "linux")]
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
            return fail(SpawnStep::NoNewPrivs);
        }
        #[cfg(target_os = "freebsd")]
        {
            let mut on: c_int = libc::PROC_NO_NEW_PRIVS_ENABLE;
            // SAFETY: procctl on ourselves with an int argument.
            let ret = unsafe {
                libc::procctl(
                    libc::P_PID,
                    0,
                    libc::PROC_NO_NEW_PRIVS_CTL,
                    (&mut on as *mut c_int).cast(),
                )
            };
            if ret < 0 {
                return fail(SpawnStep::NoNewPrivs);
            }
        }
    }

    // 8. The parent-death signal, then the check for a parent that died
    //    before it was set: the child was reparented (to init or a
    //    subreaper) and no signal will ever come, so send it now.
    if a.pdeathsig != 0 {
        #[cfg(test)]
        test_seam::before_prctl();
        #[cfg(target_os = "linux")]
        // SAFETY: prctl with integer arguments.
        let ret = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, a.pdeathsig as libc::c_ulong) };
        #[cfg(target_os = "freebsd")]
        let ret = {
            let mut sig: c_int = a.pdeathsig;
            // SAFETY: procctl on ourselves with an int argument.
            unsafe {
                libc::procctl(
                    libc::P_PID,
                    0,
                    libc::PROC_PDEATHSIG_CTL,
                    (&mut sig as *mut c_int).cast(),
                )
            }
        };
        #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
        // Refused at `Command::spawn` before any process exists.
        return Err((SpawnStep::ParentDeathSignal, libc::ENOSYS));
        #[cfg(any(target_os = "linux", target_os = "freebsd"))]
        {
            if ret < 0 {
                return fail(SpawnStep::ParentDeathSignal);
            }
            // SAFETY: getppid and kill on ourselves are async-signal-safe.
            // A blocked signal stays pending until the mask is set before
            // exec.
            if unsafe { libc::getppid() } != a.parent {
                // SAFETY: as above.
                unsafe { libc::kill(libc::getpid(), a.pdeathsig) };
            }
        }
    }
    Ok(())
}

/// `setgroups(len, list)`: the raw system call on Linux, since glibc's
/// wrapper would try to signal every thread of a process it believes it
/// shares memory with (the `setxid` broadcast), in a child that is not
/// one of them.
fn setgroups(groups: &[u32]) -> libc::c_long {
    let ptr = if groups.is_empty() {
        std::ptr::null()
    } else {
        groups.as_ptr()
    };
    #[cfg(target_os = "linux")]
    // SAFETY: ptr and len describe a list prepared before the clone (or
    // NULL with 0).
    unsafe {
        libc::syscall(libc::SYS_setgroups, groups.len(), ptr)
    }
    #[cfg(not(target_os = "linux"))]
    // SAFETY: as above; on the fork path this process is our own copy.
    unsafe {
        libc::setgroups(groups.len() as _, ptr.cast()) as libc::c_long
    }
}

/// `setgid(id)` or `setuid(id)`: the raw system calls on Linux (see
/// [`setgroups`]). They set the real, effective and saved ids (we are
/// privileged, or `id` is one of ours).
fn setid(gid: bool, id: u32) -> libc::c_long {
    #[cfg(target_os = "linux")]
    {
        let nr = if gid {
            libc::SYS_setgid
        } else {
            libc::SYS_setuid
        };
        // SAFETY: a system call that takes one integer.
        unsafe { libc::syscall(nr, id) }
    }
    #[cfg(not(target_os = "linux"))]
    // SAFETY: plain calls on our own (forked) process.
    unsafe {
        (if gid {
            libc::setgid(id as libc::gid_t)
        } else {
            libc::setuid(id as libc::uid_t)
        }) as libc::c_long
    }
}

/// Writes a new user namespace's maps for the waiting child `pid`:
/// `setgroups` "deny" (required before an unprivileged `gid_map`), then
/// `gid_map`, then `uid_map`. Runs in the parent.
#[cfg(target_os = "linux")]
pub(super) fn write_id_maps(pid: libc::pid_t, maps: &IdMaps) -> std::io::Result<()> {
    use std::io::Write;
    let write = |name: &str, text: &[u8]| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/{pid}/{name}"))?;
        // One write: the kernel takes the whole map in one call only.
        f.write_all(text)
    };
    if let Some(gid_map) = &maps.gid_map {
        // "deny" is needed without CAP_SETGID in the parent namespace;
        // where we are privileged it stays allowed (the child may then
        // call setgroups).
        if !privileged() {
            write("setgroups", b"deny")?;
        }
        write("gid_map", gid_map)?;
    }
    if let Some(uid_map) = &maps.uid_map {
        write("uid_map", uid_map)?;
    }
    Ok(())
}

/// Whether we hold `CAP_SETGID` in our user namespace (a rough, cheap
/// test: effective uid 0).
#[cfg(target_os = "linux")]
fn privileged() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A test seam: a hook run just before the child's `PR_SET_PDEATHSIG`, to
/// make its parent die before the call on purpose.
#[cfg(test)]
pub(crate) mod test_seam {
    use std::sync::atomic::{AtomicBool, Ordering};

    /// When set, the child sleeps 200 ms between the two.
    pub(crate) static DELAY: AtomicBool = AtomicBool::new(false);

    pub(super) fn before_prctl() {
        if DELAY.load(Ordering::Relaxed) {
            let ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 200_000_000,
            };
            // SAFETY: nanosleep is async-signal-safe.
            unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use crate::Signal;
    use crate::proc::Command;

    /// The race Go and bst fixed: the spawning process dies before the
    /// child's `PR_SET_PDEATHSIG`, so the kernel never sends the signal.
    /// The seam holds the child 200 ms before the call; the spawner's
    /// other thread ends the spawner 50 ms in. The child must see that its
    /// parent changed and send itself the signal.
    #[test]
    fn parent_death_signal_when_the_parent_died_before_the_prctl() {
        let scenario = || {
            // SAFETY: plain calls in this forked child: a timer, a prctl,
            // fork, and waits for our own children.
            unsafe {
                libc::alarm(10);
                libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
                let mid = libc::fork();
                if mid == 0 {
                    super::test_seam::DELAY.store(true, Ordering::Relaxed);
                    std::thread::spawn(|| {
                        std::thread::sleep(Duration::from_millis(50));
                        libc::_exit(0);
                    });
                    let _ = Command::new("sleep")
                        .arg("5")
                        .parent_death_signal(Signal::KILL)
                        .spawn();
                    // The spawn returns only after the child's exec, by
                    // which time this process is gone.
                    libc::_exit(3);
                }
                let mut st = 0;
                if libc::waitpid(mid, &mut st, 0) != mid || libc::WEXITSTATUS(st) != 0 {
                    return 4;
                }
                // The grandchild, reparented to us.
                let g = libc::waitpid(-1, &mut st, 0);
                if g <= 0 {
                    return 5;
                }
                if libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL {
                    0
                } else {
                    1
                }
            }
        };
        // SAFETY: the closure forks and spawns in a process forked from a
        // multi-threaded one; glibc makes malloc usable after fork, and
        // nothing else it uses is held by another thread of libtest.
        let child = unsafe { crate::proc::fork_unchecked(scenario) }.unwrap();
        let status = child.wait_timeout(Duration::from_secs(15)).unwrap();
        assert_eq!(status.and_then(|s| s.code()), Some(0), "{status:?}");
    }
}
