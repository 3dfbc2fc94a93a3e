//! "The N-th call fails": every system call a path makes, in turn, with
//! each errno it can really return.
//!
//! A seccomp filter cannot count, so the calls go to a supervisor
//! (`SECCOMP_RET_USER_NOTIF`, Linux 5.0; `SECCOMP_USER_NOTIF_FLAG_CONTINUE`,
//! 5.5), which counts them and answers each one: carry on, or fail with
//! this errno.
//!
//! - Each run is a forked case child. The path runs on a thread of its
//!   own that installs the filter for itself only (no TSYNC), so the
//!   case child's main thread, unfiltered, checks afterwards and makes
//!   the next call. The safe `fork` refuses a second thread: that path
//!   runs on the case child's only thread, filter and all.
//! - The supervisor is the test's main process (another process, as the
//!   `fork` path needs): the case child sends it the listener over a
//!   socket (`SCM_RIGHTS`) and closes its own copy, and the parent
//!   answers until the case child has exited.
//! - The path marks its start (right before the call under test, the
//!   `arm` of the other tables) and its end with `getppid` calls that
//!   carry a magic argument: the supervisor counts the calls between
//!   them made by that thread, and by the processes it creates until
//!   they `execve` (a `clone(CLONE_VM | CLONE_VFORK)` child's set-up,
//!   `fork`'s child). Threads the path starts (the signal dispatcher,
//!   the reaper) and the programs the path runs inherit the filter: the
//!   supervisor lets their calls through, uncounted, as long as they
//!   live.
//! - A first run with nothing failing counts the K calls. Then for each
//!   N in 1..=K and each errno that call can really return (see
//!   [`facts`]: it reads what the arguments point to, the path opened,
//!   the file a descriptor names, `clone3`'s flags, through `/proc`),
//!   a run fails the N-th call with it. A call with no such errno (a
//!   `close`, which frees the descriptor even when it reports an error;
//!   `rt_sigprocmask` and `rt_sigaction` with valid arguments; a
//!   terminal's `TIOCGPTN`) is counted and listed but not failed.
//! - A path may need what the machine may refuse (a user namespace, a
//!   writable cgroup v2, a pty): its probe says so, and the path is
//!   skipped with the reason. A path on a runtime first warms it up in
//!   the case child (its reactor, its thread, its globals: made once per
//!   process, not by the path).
//!
//! After each run: the path worked (an `EINTR` retried, an `EAGAIN` on a
//! non-blocking descriptor waited for, an `ENOSYS` fallen back from,
//! ...: see [`must_recover`]) or gave a named error (variant, the call
//! or step, the errno kept; a limit as `ResourceLimit`); no descriptor
//! leaked, no zombie, no child left, no scope's cgroup left, and the
//! next call of the same kind works.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use libc::c_long;
use procctl::Error;

use crate::linux::{self, Left, Path};
use crate::more;
use crate::seccomp::Rule;
use crate::support;

const MAGIC: u64 = 0x6e74_685f_6361_6c6c;
const START: u64 = 1;
const STOP: u64 = 2;

/// Tells the supervisor where the path starts or ends: `getppid` ignores
/// its arguments, the filter hands it over with them.
fn marker(which: u64) {
    // SAFETY: getppid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_getppid, MAGIC, which) };
}

/// The calls handed to the supervisor.
#[rustfmt::skip]
const NOTIFIED: &[c_long] = &[
    libc::SYS_getppid,
    libc::SYS_clone3, libc::SYS_clone,
    #[cfg(target_arch = "x86_64")] libc::SYS_fork,
    #[cfg(target_arch = "x86_64")] libc::SYS_vfork,
    libc::SYS_execve, libc::SYS_execveat,
    libc::SYS_pipe2,
    #[cfg(target_arch = "x86_64")] libc::SYS_pipe,
    libc::SYS_pidfd_open, libc::SYS_pidfd_send_signal, libc::SYS_kill,
    libc::SYS_openat,
    #[cfg(target_arch = "x86_64")] libc::SYS_open,
    libc::SYS_close, libc::SYS_close_range,
    libc::SYS_read, libc::SYS_write,
    libc::SYS_fcntl, libc::SYS_dup3,
    #[cfg(target_arch = "x86_64")] libc::SYS_dup2,
    libc::SYS_ppoll,
    #[cfg(target_arch = "x86_64")] libc::SYS_poll,
    libc::SYS_epoll_create1, libc::SYS_epoll_ctl, libc::SYS_epoll_pwait,
    #[cfg(target_arch = "x86_64")] libc::SYS_epoll_wait,
    libc::SYS_waitid, libc::SYS_wait4,
    libc::SYS_mmap,
    libc::SYS_rt_sigprocmask, libc::SYS_rt_sigaction,
    libc::SYS_setpgid,
    libc::SYS_newfstatat, libc::SYS_statx,
    // pty
    libc::SYS_ioctl,
    // Scope (cgroup v2)
    #[cfg(target_arch = "x86_64")] libc::SYS_mkdir,
    libc::SYS_mkdirat,
    #[cfg(target_arch = "x86_64")] libc::SYS_rmdir,
    libc::SYS_unlinkat,
    libc::SYS_inotify_init1, libc::SYS_inotify_add_watch,
];

#[allow(non_upper_case_globals)]
fn syscall_name(nr: c_long) -> &'static str {
    use libc::*;
    match nr {
        SYS_clone3 => "clone3",
        SYS_clone => "clone",
        #[cfg(target_arch = "x86_64")]
        SYS_fork => "fork",
        #[cfg(target_arch = "x86_64")]
        SYS_vfork => "vfork",
        SYS_execve => "execve",
        SYS_execveat => "execveat",
        SYS_pipe2 => "pipe2",
        #[cfg(target_arch = "x86_64")]
        SYS_pipe => "pipe",
        SYS_pidfd_open => "pidfd_open",
        SYS_pidfd_send_signal => "pidfd_send_signal",
        SYS_kill => "kill",
        SYS_openat => "openat",
        #[cfg(target_arch = "x86_64")]
        SYS_open => "open",
        SYS_close => "close",
        SYS_close_range => "close_range",
        SYS_read => "read",
        SYS_write => "write",
        SYS_fcntl => "fcntl",
        SYS_dup3 => "dup3",
        #[cfg(target_arch = "x86_64")]
        SYS_dup2 => "dup2",
        SYS_ppoll => "ppoll",
        #[cfg(target_arch = "x86_64")]
        SYS_poll => "poll",
        SYS_epoll_create1 => "epoll_create1",
        SYS_epoll_ctl => "epoll_ctl",
        SYS_epoll_pwait => "epoll_pwait",
        #[cfg(target_arch = "x86_64")]
        SYS_epoll_wait => "epoll_wait",
        SYS_waitid => "waitid",
        SYS_wait4 => "wait4",
        SYS_mmap => "mmap",
        SYS_rt_sigprocmask => "rt_sigprocmask",
        SYS_rt_sigaction => "rt_sigaction",
        SYS_setpgid => "setpgid",
        SYS_newfstatat => "newfstatat",
        SYS_statx => "statx",
        SYS_getppid => "getppid",
        SYS_ioctl => "ioctl",
        #[cfg(target_arch = "x86_64")]
        SYS_mkdir => "mkdir",
        SYS_mkdirat => "mkdirat",
        #[cfg(target_arch = "x86_64")]
        SYS_rmdir => "rmdir",
        SYS_unlinkat => "unlinkat",
        SYS_inotify_init1 => "inotify_init1",
        SYS_inotify_add_watch => "inotify_add_watch",
        _ => "?",
    }
}

fn errno_name(e: i32) -> &'static str {
    use libc::*;
    match e {
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EMFILE => "EMFILE",
        ENFILE => "ENFILE",
        EINTR => "EINTR",
        EPERM => "EPERM",
        ENOSYS => "ENOSYS",
        EBUSY => "EBUSY",
        E2BIG => "E2BIG",
        ETXTBSY => "ETXTBSY",
        ENOSPC => "ENOSPC",
        EACCES => "EACCES",
        ESRCH => "ESRCH",
        EEXIST => "EEXIST",
        ENOTTY => "ENOTTY",
        ENODEV => "ENODEV",
        EINVAL => "EINVAL",
        _ => "?",
    }
}

/// A descriptor of thread `tid`: its `/proc` link (`pipe:[...]`, a
/// path), and whether it is non-blocking.
fn fd_info(tid: i32, fd: u64) -> (String, bool) {
    let link = std::fs::read_link(format!("/proc/{tid}/fd/{fd}")).unwrap_or_default();
    let flags = std::fs::read_to_string(format!("/proc/{tid}/fdinfo/{fd}"))
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        })
        .unwrap_or(0);
    (
        link.to_string_lossy().into_owned(),
        flags & libc::O_NONBLOCK as u32 != 0,
    )
}

/// Whether a read or write there can wait (and so be interrupted) or,
/// non-blocking, find nothing to do: a pipe, a socket, a terminal.
fn is_stream(link: &str) -> bool {
    link.starts_with("pipe:")
        || link.starts_with("socket:")
        || link == "/dev/ptmx"
        || link.starts_with("/dev/pts/")
}

/// Whether a non-blocking write of `len` bytes to the pipe `fd` of task
/// `tid` would find no room (`EAGAIN`): less free space than `len` (up
/// to `PIPE_BUF`, which is written whole or not at all), or none. The
/// pipe is looked at through a copy of the descriptor (`pidfd_getfd`,
/// Linux 5.6: it changes no count of readers or writers); where that
/// cannot be had, false.
fn pipe_full(tid: i32, fd: u64, len: u64) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).unwrap_or_default();
    let Some(tgid) = status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse::<i32>().ok())
    else {
        return false;
    };
    // SAFETY: pidfd_open and pidfd_getfd take plain numbers and return a
    // new descriptor of ours or -1; FIONREAD writes an int;
    // F_GETPIPE_SZ takes no argument; the descriptors are closed once.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, tgid, 0) as i32;
        if pidfd < 0 {
            return false;
        }
        let copy = libc::syscall(libc::SYS_pidfd_getfd, pidfd, fd as i32, 0) as i32;
        libc::close(pidfd);
        if copy < 0 {
            return false;
        }
        let mut queued: libc::c_int = 0;
        let ok = libc::ioctl(copy, libc::FIONREAD, &mut queued) == 0;
        let size = libc::fcntl(copy, libc::F_GETPIPE_SZ);
        libc::close(copy);
        if !ok || size < 0 {
            return false;
        }
        let room = (size - queued).max(0) as u64;
        room == 0 || (len <= libc::PIPE_BUF as u64 && room < len)
    }
}

/// `len` bytes of task `tid`'s memory at `addr` (`/proc/<tid>/mem`: it
/// is the case child, or a process it made, so we may read it).
fn read_mem(tid: i32, addr: u64, len: usize) -> Option<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mem = std::fs::File::open(format!("/proc/{tid}/mem")).ok()?;
    let mut buf = vec![0u8; len];
    let n = mem.read_at(&mut buf, addr).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// The NUL-terminated path at `addr` in task `tid`'s memory.
fn read_path(tid: i32, addr: u64) -> String {
    let bytes = read_mem(tid, addr, 512).unwrap_or_default();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// `CLONE_INTO_CGROUP` (Linux 5.7), in `struct clone_args`' flags.
const INTO_CGROUP: u64 = 0x2_0000_0000;

/// The name of an `ioctl` request the paths make.
fn ioctl_name(request: u64) -> &'static str {
    let r = request as u32;
    let known: &[(u32, &'static str)] = &[
        (libc::TCGETS as u32, "TCGETS"),
        (libc::TIOCGPTN as u32, "TIOCGPTN"),
        (libc::TIOCSPTLCK as u32, "TIOCSPTLCK"),
        (libc::TIOCGPTPEER as u32, "TIOCGPTPEER"),
        (libc::TIOCSCTTY as u32, "TIOCSCTTY"),
        (libc::TIOCSWINSZ as u32, "TIOCSWINSZ"),
        (libc::TIOCGWINSZ as u32, "TIOCGWINSZ"),
        (libc::TIOCGPGRP as u32, "TIOCGPGRP"),
        (libc::TIOCSPGRP as u32, "TIOCSPGRP"),
        (libc::FIONBIO as u32, "FIONBIO"),
        (libc::FIOCLEX as u32, "FIOCLEX"),
    ];
    known
        .iter()
        .find(|&&(k, _)| k == r)
        .map_or("?", |&(_, name)| name)
}

/// What the supervisor makes of one call: the errnos it can really
/// return, its name in the sequences (`ioctl TIOCGPTPEER`), and what it
/// was about (the path opened, the file written, `clone3`'s cgroup flag).
struct Facts {
    errnos: Vec<i32>,
    label: String,
    about: String,
}

/// The errnos this call can really return, as the kernel would: for a
/// process or thread, the limits; for a descriptor-making call, the
/// descriptor limits; for a call that sleeps, `EINTR` (a call that does
/// not sleep, such as a `WNOHANG` wait or a zero-timeout poll, cannot be
/// interrupted); for a non-blocking pipe or terminal, `EAGAIN`; `ENOSYS`
/// (`ENOTTY` for an `ioctl`, `E2BIG` for a larger `struct clone_args`)
/// where an old kernel lacks the call; and where the arguments name it,
/// what that object answers: `/dev/ptmx` out of ptys (`ENOSPC`), a
/// cgroup that refuses a process (`EBUSY`) or was removed (`ENODEV`), an
/// id map the kernel refuses (`EPERM`), a terminal that is another
/// session's (`EPERM`). Empty: nothing the kernel would return with these
/// arguments (a failed `close` still frees the descriptor on Linux, so
/// failing one would leak in a way no kernel does).
#[allow(non_upper_case_globals)]
fn facts(nr: c_long, args: &[u64; 6], tid: i32) -> Facts {
    use libc::*;
    let mut about = String::new();
    let mut label = syscall_name(nr).to_owned();
    let errnos = match nr {
        SYS_clone3 => {
            let flags = read_mem(tid, args[0], 8)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u64::from_ne_bytes);
            if flags & INTO_CGROUP != 0 {
                about = "CLONE_INTO_CGROUP".into();
                label = "clone3 INTO_CGROUP".into();
                vec![EAGAIN, ENOMEM, ENOSYS, E2BIG, EBUSY, ENODEV]
            } else {
                vec![EAGAIN, ENOMEM, ENOSYS]
            }
        }
        // A new user namespace: also refused (a chroot, a seccomp
        // profile: EPERM) or over user.max_user_namespaces (ENOSPC).
        SYS_clone if args[0] & CLONE_NEWUSER as u64 != 0 => {
            about = "CLONE_NEWUSER".into();
            label = "clone NEWUSER".into();
            vec![EAGAIN, ENOMEM, EPERM, ENOSPC]
        }
        SYS_clone => vec![EAGAIN, ENOMEM],
        #[cfg(target_arch = "x86_64")]
        SYS_fork | SYS_vfork => vec![EAGAIN, ENOMEM],
        SYS_execve | SYS_execveat => vec![ENOMEM, E2BIG, ETXTBSY],
        SYS_pipe2 => vec![EMFILE, ENFILE],
        #[cfg(target_arch = "x86_64")]
        SYS_pipe => vec![EMFILE, ENFILE],
        SYS_pidfd_open => vec![EMFILE, ENOMEM, ENOSYS],
        SYS_openat => {
            about = read_path(tid, args[1]);
            if about == "/dev/ptmx" {
                label = "openat /dev/ptmx".into();
            }
            open_errnos(&about)
        }
        #[cfg(target_arch = "x86_64")]
        SYS_open => {
            about = read_path(tid, args[0]);
            if about == "/dev/ptmx" {
                label = "open /dev/ptmx".into();
            }
            open_errnos(&about)
        }
        // Unsharing the descriptor table allocates a new one.
        SYS_close_range if args[2] & 2 != 0 => vec![ENOMEM],
        SYS_read | SYS_write => {
            let (link, nonblocking) = fd_info(tid, args[0]);
            let file = link.rsplit('/').next().unwrap_or("").to_owned();
            about = link.clone();
            if ["uid_map", "gid_map", "cgroup.kill", "cgroup.procs"].contains(&file.as_str()) {
                label = format!("{label} {file}");
            }
            match () {
                // A read that finds nothing: another reader of the pipe
                // (a descendant holding a copy) took it first.
                _ if is_stream(&link) && nonblocking && nr == SYS_read => vec![EAGAIN],
                // A write: only into a full pipe. A reactor that waits
                // for an edge (tokio's) rightly waits for the one the
                // reader's drain of a full pipe brings; an EAGAIN from an
                // empty pipe is a state no kernel produces.
                _ if is_stream(&link) && nonblocking => {
                    if pipe_full(tid, args[0], args[2]) {
                        vec![EAGAIN]
                    } else {
                        vec![]
                    }
                }
                _ if is_stream(&link) => vec![EINTR],
                _ if nr == SYS_read => vec![],
                // An id map the kernel refuses; the map's copy.
                _ if link.starts_with("/proc/") && (file == "uid_map" || file == "gid_map") => {
                    vec![ENOMEM, EPERM]
                }
                // The cgroup removed behind our back.
                _ if file == "cgroup.kill" => vec![ENODEV],
                // A domain cgroup with controllers enabled for its
                // children refuses processes (no internal processes);
                // removed.
                _ if file == "cgroup.procs" => vec![EBUSY, ENODEV],
                _ => vec![],
            }
        }
        SYS_ioctl => {
            let name = ioctl_name(args[1]);
            label = format!("ioctl {name}");
            match name {
                // A new descriptor; ENOTTY: before Linux 4.13.
                "TIOCGPTPEER" => vec![EMFILE, ENFILE, ENOMEM, ENOTTY],
                // The terminal is another session's already.
                "TIOCSCTTY" => vec![EPERM],
                _ => vec![],
            }
        }
        // cgroupfs: not delegated, cgroup.max.descendants reached, the
        // name taken meanwhile (another process).
        #[cfg(target_arch = "x86_64")]
        SYS_mkdir => vec![EACCES, EAGAIN, ENOMEM, EEXIST],
        SYS_mkdirat => vec![EACCES, EAGAIN, ENOMEM, EEXIST],
        // A cgroup that still holds a process.
        #[cfg(target_arch = "x86_64")]
        SYS_rmdir => vec![EBUSY],
        SYS_unlinkat if args[2] as i32 & AT_REMOVEDIR != 0 => vec![EBUSY],
        SYS_inotify_init1 => vec![EMFILE, ENFILE, ENOMEM],
        // fs.inotify.max_user_watches reached.
        SYS_inotify_add_watch => vec![ENOMEM, ENOSPC],
        SYS_fcntl if matches!(args[1] as i32, F_DUPFD | F_DUPFD_CLOEXEC) => vec![EMFILE],
        SYS_fcntl if args[1] as i32 == F_SETPIPE_SZ => vec![EPERM, EBUSY],
        // Linux's dup2 onto a descriptor being opened: EBUSY.
        SYS_dup3 => vec![EBUSY, EINTR],
        #[cfg(target_arch = "x86_64")]
        SYS_dup2 => vec![EBUSY, EINTR],
        #[cfg(target_arch = "x86_64")]
        SYS_poll if args[2] as i32 == 0 => vec![ENOMEM],
        #[cfg(target_arch = "x86_64")]
        SYS_poll => vec![EINTR, ENOMEM],
        SYS_ppoll => vec![EINTR, ENOMEM],
        SYS_epoll_create1 => vec![EMFILE, ENFILE, ENOMEM],
        SYS_epoll_ctl if args[1] as i32 == EPOLL_CTL_ADD => vec![ENOMEM, ENOSPC],
        SYS_epoll_pwait if args[3] as i32 != 0 => vec![EINTR],
        #[cfg(target_arch = "x86_64")]
        SYS_epoll_wait if args[3] as i32 != 0 => vec![EINTR],
        SYS_waitid if args[3] as i32 & WNOHANG == 0 => vec![EINTR],
        SYS_wait4 if args[2] as i32 & WNOHANG == 0 => vec![EINTR],
        // A stack (procctl's spawn stack, a thread's): the allocator's
        // own mappings are not the path's.
        SYS_mmap if args[3] as i32 & MAP_STACK != 0 => vec![ENOMEM],
        // In the child, joining a group that has gone; from the parent,
        // a child that has exec'd, left or gone.
        SYS_setpgid if args[0] == 0 => vec![EPERM],
        SYS_setpgid => vec![EACCES, EPERM, ESRCH],
        SYS_newfstatat | SYS_statx => vec![ENOMEM],
        _ => vec![],
    };
    Facts {
        errnos,
        label,
        about,
    }
}

/// What an `open` of `path` can really return: the descriptor limits,
/// memory; for `/dev/ptmx`, no pty left (`kernel.pty.max`, or the devpts
/// instance's `max=`: `ENOSPC`).
fn open_errnos(path: &str) -> Vec<i32> {
    use libc::*;
    if path == "/dev/ptmx" {
        vec![EMFILE, ENFILE, ENOMEM, ENOSPC]
    } else {
        vec![EMFILE, ENFILE, ENOMEM]
    }
}

/// Whether the path must work in spite of this failure: a retry, a
/// fallback, or a failure procctl may ignore.
#[allow(non_upper_case_globals)]
fn must_recover(nr: c_long, args: &[u64; 6], errno: i32) -> bool {
    use libc::*;
    match (nr, errno) {
        (_, EINTR) => true,
        (SYS_read | SYS_write, EAGAIN) => true,
        (SYS_clone3, ENOSYS) => true,
        // A kernel that knows a smaller `struct clone_args` (5.3 to
        // 5.6): the `clone` fallback, the child joining the cgroup.
        (SYS_clone3, E2BIG) => true,
        // The pid fallback.
        (SYS_pidfd_open, _) => true,
        // No TIOCGPTPEER (before 4.13): the slave opened by its name.
        (SYS_ioctl, ENOTTY) => true,
        // The scope's name taken: the next one.
        (SYS_mkdirat, EEXIST) => true,
        #[cfg(target_arch = "x86_64")]
        (SYS_mkdir, EEXIST) => true,
        // Linux's dup2 EBUSY is retried.
        (SYS_dup3, EBUSY) => true,
        #[cfg(target_arch = "x86_64")]
        (SYS_dup2, EBUSY) => true,
        // A child that cannot take its own table is made again with a
        // copy of ours.
        (SYS_close_range, _) => true,
        // A larger pipe buffer is only asked for.
        (SYS_fcntl, _) if args[1] as i32 == F_SETPIPE_SZ => true,
        // The parent's setpgid after the child's own.
        (SYS_setpgid, _) if args[0] != 0 => true,
        _ => false,
    }
}

fn is_stat(nr: c_long) -> bool {
    nr == libc::SYS_newfstatat || nr == libc::SYS_statx
}

/// The call names a `ResourceLimit` or `Os` error may give for a
/// failure of `nr` (`None`: not checked).
#[allow(non_upper_case_globals)]
fn call_names(nr: c_long) -> Option<&'static [&'static str]> {
    use libc::*;
    Some(match nr {
        SYS_clone3 | SYS_clone => &["clone", "fork", "pthread_create"],
        #[cfg(target_arch = "x86_64")]
        SYS_fork | SYS_vfork => &["fork"],
        SYS_pipe2 => &["pipe"],
        #[cfg(target_arch = "x86_64")]
        SYS_pipe => &["pipe"],
        #[cfg(target_arch = "x86_64")]
        SYS_poll => &["poll"],
        SYS_ppoll => &["poll"],
        SYS_epoll_create1 => &["epoll_create1"],
        SYS_epoll_ctl => &["epoll_ctl"],
        SYS_openat => &["open /dev/null", "posix_openpt", "open pty slave"],
        #[cfg(target_arch = "x86_64")]
        SYS_open => &["open /dev/null", "posix_openpt", "open pty slave"],
        SYS_ioctl => &["open pty slave"],
        SYS_mmap => &["clone", "pthread_create"],
        _ => return None,
    })
}

/// The call names an `Error::Cgroup` may give for a failure of `nr`
/// (`None`: not checked; an `open` is named by the file it opens).
#[allow(non_upper_case_globals)]
fn cgroup_call_names(nr: c_long) -> Option<&'static [&'static str]> {
    use libc::*;
    Some(match nr {
        #[cfg(target_arch = "x86_64")]
        SYS_mkdir => &["mkdir"],
        SYS_mkdirat => &["mkdir"],
        SYS_inotify_init1 => &["inotify_init1"],
        SYS_inotify_add_watch => &["inotify_add_watch cgroup.events"],
        _ => return None,
    })
}

/// Who made a call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    /// The thread that runs the path.
    Target,
    /// A process the case child made, before its `execve`.
    Child,
    /// Anyone else: another thread, a program, the program's children.
    Other,
}

struct Call {
    class: Class,
    nr: c_long,
    errnos: Vec<i32>,
    /// Its name in the sequences ([`Facts::label`]).
    label: String,
}

/// What was failed in a run.
#[derive(Clone)]
struct Injected {
    nr: c_long,
    args: [u64; 6],
    errno: i32,
    class: Class,
    /// What the call was about ([`Facts::about`]).
    about: String,
    label: String,
}

/// Which call a run fails: the `nth` call of `nr` with these `errnos`
/// the path makes (a position of the count run, named so that a varying
/// number of other calls before it, such as the allocator's `mmap`s or
/// one more round of a poll loop, does not move it), with its errno
/// number `which`.
#[derive(Clone)]
struct Plan {
    nr: c_long,
    errnos: Vec<i32>,
    nth: usize,
    which: usize,
}

/// The supervisor's state for one run.
struct Supervisor {
    case_pid: i32,
    target: Option<i32>,
    counting: bool,
    calls: Vec<Call>,
    /// The call to fail, if any.
    plan: Option<Plan>,
    injected: Option<Injected>,
    classes: HashMap<i32, Class>,
    /// An answer the kernel refused.
    send_error: Option<std::io::Error>,
}

impl Supervisor {
    fn new(case_pid: i32, plan: Option<Plan>) -> Supervisor {
        Supervisor {
            case_pid,
            target: None,
            counting: false,
            calls: Vec::new(),
            plan,
            injected: None,
            classes: HashMap::new(),
            send_error: None,
        }
    }

    fn classify(&mut self, tid: i32) -> Class {
        if Some(tid) == self.target {
            return Class::Target;
        }
        if let Some(&c) = self.classes.get(&tid) {
            return c;
        }
        let status = std::fs::read_to_string(format!("/proc/{tid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse::<i32>().ok())
        };
        let (tgid, ppid) = (field("Tgid:"), field("PPid:"));
        let class = if tgid == Some(tid) && ppid == Some(self.case_pid) {
            Class::Child
        } else {
            Class::Other
        };
        self.classes.insert(tid, class);
        class
    }

    /// The answer to one call: `Some(errno)` to fail it.
    fn decide(&mut self, tid: i32, nr: c_long, args: [u64; 6]) -> Option<i32> {
        if nr == libc::SYS_getppid && args[0] == MAGIC {
            match args[1] {
                START => {
                    self.target = Some(tid);
                    self.counting = true;
                }
                STOP if self.target == Some(tid) => self.counting = false,
                _ => {}
            }
            return None;
        }
        let class = self.classify(tid);
        let mut answer = None;
        if self.counting && class != Class::Other {
            let Facts {
                errnos: list,
                label,
                about,
            } = facts(nr, &args, tid);
            if let Some(plan) = &self.plan {
                let same = |c: &&Call| c.nr == nr && c.errnos == list;
                let nth = 1 + self.calls.iter().filter(same).count();
                if plan.nr == nr && plan.errnos == list && plan.nth == nth {
                    let errno = list[plan.which];
                    answer = Some(errno);
                    self.injected = Some(Injected {
                        nr,
                        args,
                        errno,
                        class,
                        about,
                        label: label.clone(),
                    });
                }
            }
            self.calls.push(Call {
                class,
                nr,
                errnos: list,
                label,
            });
        }
        if class == Class::Child
            && answer.is_none()
            && (nr == libc::SYS_execve || nr == libc::SYS_execveat)
        {
            // From here on it is the program's.
            self.classes.insert(tid, Class::Other);
        }
        answer
    }

    /// Receives one notification and answers it.
    fn serve_one(&mut self, listener: RawFd) {
        // SAFETY: a zeroed seccomp_notif (the kernel requires it zeroed)
        // and response are valid; the ioctls fill or read them.
        unsafe {
            let mut req: libc::seccomp_notif = std::mem::zeroed();
            if libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) != 0 {
                // ENOENT: the caller was killed meanwhile; EINTR.
                return;
            }
            let answer = self.decide(req.pid as i32, req.data.nr as c_long, req.data.args);
            let mut resp: libc::seccomp_notif_resp = std::mem::zeroed();
            resp.id = req.id;
            match answer {
                Some(errno) => resp.error = -errno,
                None => resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
            }
            if libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) != 0 {
                let err = std::io::Error::last_os_error();
                // ENOENT: the caller was killed while we decided. Else
                // (CONTINUE unknown, before 5.5) fail the call rather
                // than leave it waiting, and say so.
                if err.raw_os_error() != Some(libc::ENOENT) {
                    self.send_error.get_or_insert(err);
                    resp.flags = 0;
                    resp.error = -libc::ENOSYS;
                    libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp);
                }
            }
        }
    }
}

/// Sends `text`, and `fd` if there is one, over the socket `sock`.
fn send_fd(sock: RawFd, fd: Option<RawFd>, text: &str) -> std::io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: text.as_ptr() as *mut libc::c_void,
        iov_len: text.len(),
    };
    let mut cbuf = [0u64; 8];
    // SAFETY: a zeroed msghdr is valid; the control buffer is 64 bytes,
    // more than CMSG_SPACE(4), and aligned for cmsghdr; sendmsg reads
    // what the header points to.
    unsafe {
        let mut hdr: libc::msghdr = std::mem::zeroed();
        hdr.msg_iov = &mut iov;
        hdr.msg_iovlen = 1;
        if let Some(fd) = fd {
            let space = libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32);
            hdr.msg_control = cbuf.as_mut_ptr().cast();
            hdr.msg_controllen = space as _;
            let c = libc::CMSG_FIRSTHDR(&hdr);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>(), fd);
        }
        if libc::sendmsg(sock, &hdr, libc::MSG_NOSIGNAL) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Receives what [`send_fd`] sent, waiting until `deadline`.
fn recv_fd(sock: RawFd, deadline: Instant) -> Result<(String, Option<OwnedFd>), String> {
    let mut pfd = libc::pollfd {
        fd: sock,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        let ms = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as i32;
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            break;
        }
        if n == 0 {
            return Err("no listener within the deadline".into());
        }
    }
    let mut buf = [0u8; 512];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut cbuf = [0u64; 8];
    // SAFETY: as in send_fd; recvmsg writes into buf and cbuf, and a
    // descriptor it passes is new and ours.
    unsafe {
        let mut hdr: libc::msghdr = std::mem::zeroed();
        hdr.msg_iov = &mut iov;
        hdr.msg_iovlen = 1;
        hdr.msg_control = cbuf.as_mut_ptr().cast();
        hdr.msg_controllen = std::mem::size_of_val(&cbuf) as _;
        let n = libc::recvmsg(sock, &mut hdr, libc::MSG_CMSG_CLOEXEC);
        if n <= 0 {
            return Err(format!(
                "no listener: the case child ended first ({})",
                std::io::Error::last_os_error()
            ));
        }
        let text = String::from_utf8_lossy(&buf[..n as usize]).into_owned();
        let c = libc::CMSG_FIRSTHDR(&hdr);
        let fd = (!c.is_null()
            && (*c).cmsg_level == libc::SOL_SOCKET
            && (*c).cmsg_type == libc::SCM_RIGHTS)
            .then(|| {
                OwnedFd::from_raw_fd(std::ptr::read_unaligned(
                    libc::CMSG_DATA(c).cast::<libc::c_int>(),
                ))
            });
        Ok((text, fd))
    }
}

fn socketpair() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two new descriptors, ours.
    unsafe {
        assert_eq!(
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr()
            ),
            0
        );
        (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
    }
}

/// Where the path runs in the case child.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// On a thread of its own; the main thread checks, unfiltered.
    Thread,
    /// On the only thread (the safe `fork`).
    Main,
}

/// What the case child reports, one field per tab.
struct Report {
    /// `ok`, `err`, `panic`.
    kind: String,
    errno: Option<i32>,
    /// The error's variant (a pipeline member's own error behind it).
    variant: String,
    call: String,
    step: String,
    row: String,
    /// A leaked descriptor, a zombie, a child, a next call that failed.
    problem: String,
    /// The scopes' cgroups the path left (removed since by the case
    /// child), if any.
    cgroups: String,
}

impl Report {
    fn parse(text: &str) -> Option<Report> {
        let mut f = text.trim_end_matches('\n').split('\t');
        let mut next = || f.next().map(str::to_owned);
        Some(Report {
            kind: next()?,
            errno: next()?.parse().ok(),
            variant: next()?,
            call: next()?,
            step: next()?,
            row: next()?,
            problem: next()?,
            cgroups: next()?,
        })
    }
}

/// The variant, call and step of `e`, looking through a pipeline
/// member's error.
fn parts(e: &Error) -> (String, String, String) {
    if let Error::PipelineMember { source, .. } = e {
        let (v, c, s) = parts(source);
        return (format!("PipelineMember>{v}"), c, s);
    }
    let variant = format!("{e:?}");
    let variant = variant
        .split([' ', '{', '('])
        .next()
        .unwrap_or("")
        .to_owned();
    let call = match e {
        Error::ResourceLimit { call, .. } | Error::Os { call, .. } | Error::Cgroup { call, .. } => {
            (*call).to_owned()
        }
        _ => String::new(),
    };
    let step = e.spawn_step().map(|s| s.to_string()).unwrap_or_default();
    (variant, call, step)
}

/// Why a case could not run its path: the machine refuses the filter
/// (a skip), or something else (a failure).
enum NotRun {
    Refused(String),
    Failed(String),
}

/// Installs the filters on this thread (`deny`'s errnos, which take
/// precedence, then the supervisor's), hands the listener to the
/// supervisor, runs the path between the markers.
fn run_filtered(
    path: Path,
    deny: Deny,
    sock: RawFd,
) -> Result<(std::thread::Result<procctl::Result<()>>, Left), NotRun> {
    let denied = if deny.is_empty() {
        Ok(())
    } else {
        crate::seccomp::deny_rules(deny)
    };
    let listener = match denied.and_then(|()| crate::seccomp::notify(NOTIFIED)) {
        Ok(l) => l,
        Err(e) => {
            let why = format!("seccomp user notification refused: {e}");
            let _ = send_fd(sock, None, &why);
            return Err(NotRun::Refused(why));
        }
    };
    send_fd(sock, Some(listener.as_raw_fd()), "listener")
        .map_err(|e| NotRun::Failed(format!("sendmsg: {e}")))?;
    drop(listener);
    let mut left = Left::new();
    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        path(&|| marker(START), &mut left)
    }));
    marker(STOP);
    Ok((got, left))
}

/// The case child: run, check, report.
fn case_child(how: &NthPath, sock: OwnedFd, mut out: std::io::PipeWriter) -> i32 {
    let NthPath {
        path, mode, deny, ..
    } = *how;
    support::arm_alarm();
    // The runtime's own one-time set-up (its reactor, its thread, its
    // global descriptors), before anything is counted or compared.
    if let Some(warm) = how.warm {
        warm();
    }
    let before = linux::fds();
    let ran = match mode {
        Mode::Thread => std::thread::scope(|s| {
            s.spawn(|| run_filtered(path, deny, sock.as_raw_fd()))
                .join()
                .unwrap_or_else(|_| Err(NotRun::Failed("the path's thread panicked".into())))
        }),
        Mode::Main => run_filtered(path, deny, sock.as_raw_fd()),
    };
    let (got, left) = match ran {
        Ok(r) => r,
        Err(NotRun::Refused(why)) => {
            let _ = writeln!(out, "refused\t\t\t\t\t{why}\t\t");
            return 0;
        }
        Err(NotRun::Failed(why)) => {
            let _ = writeln!(out, "panic\t\t\t\t\t{why}\t{why}\t");
            return 1;
        }
    };
    linux::drop_left(left);
    let (kind, errno, (variant, call, step), row) = match &got {
        Ok(Ok(())) => ("ok", None, Default::default(), "ok".to_owned()),
        Ok(Err(e)) => ("err", e.raw_os_error(), parts(e), linux::describe(e)),
        Err(_) => ("panic", None, Default::default(), "panicked".to_owned()),
    };
    // A scope's cgroup left behind: the supervisor judges whether that
    // was the fault's documented outcome; removed here either way.
    let cgroups = linux::cgroups_left().join(" ");
    let mut problem = linux::clean(&before, "after the fault").err();
    if problem.is_none() {
        let mut left = Left::new();
        let again =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| path(&|| {}, &mut left)));
        linux::drop_left(left);
        problem = match again {
            Ok(Ok(())) => linux::clean(&before, "after the next call").err(),
            Ok(Err(e)) => Some(format!("next call failed: {e:?}")),
            Err(_) => Some("next call panicked".into()),
        };
        let after = linux::cgroups_left();
        if problem.is_none() && !after.is_empty() {
            problem = Some(format!("the next call left cgroups {after:?}"));
        }
    }
    let errno = errno.map(|e| e.to_string()).unwrap_or_default();
    let problem = problem.unwrap_or_default().replace(['\t', '\n'], " ");
    let _ = writeln!(
        out,
        "{kind}\t{errno}\t{variant}\t{call}\t{step}\t{row}\t{problem}\t{cgroups}"
    );
    0
}

/// One run: fork the case child, supervise it, read its report.
fn run(how: &'static NthPath, plan: Option<Plan>) -> Result<(Supervisor, Report), String> {
    let (ours, theirs) = socketpair();
    let (mut reader, writer) = procctl::pipe::pipe().unwrap();
    let child = procctl::proc::fork(move || case_child(how, theirs, writer))
        .map_err(|e| format!("fork: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    let give_up = |why: String| {
        let _ = child.kill();
        let _ = child.wait();
        why
    };
    let mut sup = Supervisor::new(child.pid().as_raw(), plan);
    // No descriptor: the case child could not install the filter; its
    // report says why.
    let (_, listener) = recv_fd(ours.as_raw_fd(), deadline).map_err(give_up)?;
    if let Some(listener) = listener {
        let mut listening = true;
        loop {
            let pidfd = child.pidfd().map_or(-1, |fd| fd.as_raw_fd());
            let mut pfds = [
                libc::pollfd {
                    fd: if listening { listener.as_raw_fd() } else { -1 },
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: pidfd,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(give_up(format!(
                    "the case did not finish within 15 s ({} calls counted)",
                    sup.calls.len()
                )));
            }
            let ms = if pidfd < 0 {
                left.min(Duration::from_millis(5))
            } else {
                left
            };
            // SAFETY: two valid pollfds (a negative fd is ignored).
            let n = unsafe { libc::poll(pfds.as_mut_ptr(), 2, ms.as_millis() as i32 + 1) };
            if n < 0 {
                continue;
            }
            if pfds[0].revents & libc::POLLIN != 0 {
                sup.serve_one(listener.as_raw_fd());
            } else if pfds[0].revents != 0 {
                // No task uses the filter any more.
                listening = false;
            }
            let exited =
                pfds[1].revents != 0 || (pidfd < 0 && matches!(child.try_wait(), Ok(Some(_))));
            if exited {
                break;
            }
        }
    }
    let status = support::wait10(&child);
    if let Some(e) = &sup.send_error {
        return Err(format!("the kernel refused an answer: {e}"));
    }
    let mut out = String::new();
    reader.read_to_string(&mut out).unwrap();
    let report = Report::parse(&out)
        .ok_or_else(|| format!("no report from the case child ({status}): {out:?}"))?;
    if !status.success() {
        return Err(format!("case child: {status}: {out}"));
    }
    Ok((sup, report))
}

/// How one injection came out.
enum Outcome {
    /// The path worked (retry, fallback).
    Recovered,
    /// A named error, with what it named.
    Named(String),
}

fn judge(inj: &Injected, rep: &Report) -> Result<Outcome, String> {
    if !rep.problem.is_empty() {
        return Err(format!("{}: {}", rep.row, rep.problem));
    }
    if !rep.cgroups.is_empty() {
        // `Scope`'s drop ignores errors, but within its second it tries a
        // failed step again: one failed call must not leave the cgroup.
        return Err(format!("{}: left the cgroup {}", rep.row, rep.cgroups));
    }
    match rep.kind.as_str() {
        "ok" => return Ok(Outcome::Recovered),
        "panic" => return Err("panicked".into()),
        _ => {}
    }
    if must_recover(inj.nr, &inj.args, inj.errno) {
        return Err(format!("must work, got {}", rep.row));
    }
    if is_stat(inj.nr) && rep.variant == "MultiThreaded" {
        // The safe fork counts threads with one stat of /proc/self/task;
        // when that fails it cannot tell, and refuses, as documented
        // (`MultiThreaded { threads: None }`, a variant without errno).
        return Ok(Outcome::Named("MultiThreaded threads=None".into()));
    }
    // A thread's stack or clone failing for lack of memory is EAGAIN
    // from pthread_create (POSIX: "insufficient resources"), whichever
    // errno the kernel gave the C library.
    let thread_eagain = rep.call == "pthread_create"
        && matches!(inj.errno, libc::ENOMEM | libc::EAGAIN)
        && rep.errno == Some(libc::EAGAIN);
    // Out of ptys is EAGAIN for POSIX's posix_openpt: musl says so for
    // the kernel's ENOSPC (glibc passes ENOSPC on).
    let pty_eagain =
        rep.call == "posix_openpt" && inj.errno == libc::ENOSPC && rep.errno == Some(libc::EAGAIN);
    if rep.errno != Some(inj.errno) && !thread_eagain && !pty_eagain {
        return Err(format!("errno not kept: {}", rep.row));
    }
    let inner = rep.variant.trim_start_matches("PipelineMember>");
    // A limit is `ResourceLimit` (the docs' contract), also `/dev/ptmx`
    // out of ptys (Linux's ENOSPC; the docs of `pty::open`).
    let limit = matches!(
        inj.errno,
        libc::EAGAIN | libc::EMFILE | libc::ENFILE | libc::ENOMEM
    ) || (inj.about == "/dev/ptmx" && inj.errno == libc::ENOSPC);
    if limit && inner == "Os" {
        return Err(format!("a limit, not named as one: {}", rep.row));
    }
    if inj.about == "/dev/ptmx" && inner != "ResourceLimit" {
        return Err(format!("no pty left, not ResourceLimit: {}", rep.row));
    }
    let named = match inner {
        "ResourceLimit" | "Os" => {
            !rep.call.is_empty()
                && call_names(inj.nr).is_none_or(|names| names.contains(&rep.call.as_str()))
        }
        // The cgroup's own error names the call or file.
        "Cgroup" => {
            !rep.call.is_empty()
                && cgroup_call_names(inj.nr).is_none_or(|names| names.contains(&rep.call.as_str()))
        }
        "Spawn" | "NotFound" | "PermissionDenied" => !rep.step.is_empty(),
        _ => false,
    };
    if !named {
        return Err(format!("not named as expected: {}", rep.row));
    }
    let mut what = if rep.call.is_empty() {
        format!("{} step={}", rep.variant, rep.step)
    } else {
        format!("{} call={}", rep.variant, rep.call)
    };
    if (thread_eagain && inj.errno != libc::EAGAIN) || pty_eagain {
        what.push_str(" (EAGAIN)");
    }
    Ok(Outcome::Named(what))
}

/// The count run's calls, in order, a child's in brackets, a call
/// repeated in a row once with its count.
fn sequence(calls: &[Call]) -> String {
    let mut out = String::new();
    let mut in_child = false;
    let mut i = 0;
    while i < calls.len() {
        let c = &calls[i];
        let child = c.class == Class::Child;
        if child != in_child {
            out.push_str(if child { " [" } else { " ]" });
            in_child = child;
        }
        let same = calls[i..]
            .iter()
            .take_while(|d| d.label == c.label && d.class == c.class)
            .count();
        out.push(' ');
        out.push_str(&c.label);
        if same > 2 {
            out.push_str(&format!(" ×{same}"));
        } else {
            for _ in 1..same {
                out.push(' ');
                out.push_str(&c.label);
            }
        }
        i += same;
    }
    if in_child {
        out.push_str(" ]");
    }
    out.trim_start().to_owned()
}

/// Calls failed for the whole run (a fallback's path), beside the
/// supervisor's.
type Deny = &'static [Rule];

/// `clone3` as a kernel before 5.3 answers it: spawns take the `clone`
/// fallback (glibc's threads too).
const NO_CLONE3: Deny = &[Rule::new(libc::SYS_clone3, libc::ENOSYS)];

/// No pidfd at all: no `clone3`, `clone` refusing `CLONE_PIDFD`
/// (`EINVAL`), no `pidfd_open` (`ENOSYS`, before 5.3). The spawn falls
/// back to a `clone` without the flag and the child is waited for by
/// its pid.
const NO_PIDFD: Deny = &[
    Rule::new(libc::SYS_clone3, libc::ENOSYS),
    Rule::with_bits(libc::SYS_clone, 0, libc::CLONE_PIDFD as u32, libc::EINVAL),
    Rule::new(libc::SYS_pidfd_open, libc::ENOSYS),
];

/// One path of the table.
pub(crate) struct NthPath {
    name: &'static str,
    path: Path,
    mode: Mode,
    deny: Deny,
    /// Whether this machine can run the path at all: `Some(why)` where it
    /// refuses (no user namespaces, no writable cgroup v2, no ptys). Run
    /// in the test's main process, which must stay single-threaded.
    probe: Option<fn() -> Option<String>>,
    /// Run in the case child before anything is counted or compared: a
    /// runtime's own one-time set-up (its reactor, thread, globals).
    warm: Option<fn()>,
}

impl NthPath {
    const fn new(name: &'static str, path: Path, mode: Mode, deny: Deny) -> NthPath {
        NthPath {
            name,
            path,
            mode,
            deny,
            probe: None,
            warm: None,
        }
    }

    const fn probe(mut self, probe: fn() -> Option<String>) -> NthPath {
        self.probe = Some(probe);
        self
    }

    #[cfg_attr(not(any(feature = "tokio", feature = "async-io")), allow(dead_code))]
    const fn warm(mut self, warm: fn()) -> NthPath {
        self.warm = Some(warm);
        self
    }
}

const fn on_thread(name: &'static str, path: Path) -> NthPath {
    NthPath::new(name, path, Mode::Thread, &[])
}

#[rustfmt::skip]
const PATHS: &[NthPath] = &[
    NthPath::new("fork + wait", linux::path_fork_safe, Mode::Main, &[]),
    on_thread("spawn + wait", linux::path_spawn_wait),
    NthPath::new("spawn + wait (clone fallback)", linux::path_spawn_wait, Mode::Thread, NO_CLONE3),
    on_thread("spawn piped + communicate_timeout", linux::path_spawn_piped),
    on_thread("output", linux::path_output),
    NthPath::new("output (clone fallback)", linux::path_output, Mode::Thread, NO_CLONE3),
    on_thread("communicate", linux::path_communicate),
    on_thread("wait_timeout", linux::path_wait_timeout),
    on_thread("wait (any child)", linux::path_wait_any),
    on_thread("waitpid", linux::path_waitpid_blocking),
    on_thread("waitpid NOHANG", linux::path_waitpid),
    on_thread("pipe", linux::path_pipe),
    on_thread("system", linux::path_system),
    on_thread("popen", linux::path_popen),
    on_thread("popen2", linux::path_popen2),
    on_thread("Pipeline spawn + communicate", linux::path_pipeline),
    on_thread("signal::register", linux::path_register),
    on_thread("Signals", linux::path_signals),
    on_thread("start_reaper", linux::path_reaper),
    on_thread("drop unwaited + orphan drain", linux::path_orphan),
    // Issue 11, the paths not covered before.
    NthPath::new("spawn + wait + kill (clone fallback, no pidfd)", more::path_spawn_no_pidfd, Mode::Thread, NO_PIDFD),
    on_thread("spawn with a user namespace + id maps (fork path)", more::path_userns)
        .probe(more::probe_userns),
    on_thread("pty::open + spawn on the pty + read the master", more::path_pty)
        .probe(more::probe_pty),
    on_thread("Scope::new + spawn into it + kill + wait_timeout + drop", more::path_scope)
        .probe(linux::probe_scope),
    NthPath::new("Scope spawn (clone fallback: the child joins cgroup.procs)", more::path_scope, Mode::Thread, NO_CLONE3)
        .probe(linux::probe_scope),
    on_thread("Scope dropped with a process inside", more::path_scope_drop)
        .probe(linux::probe_scope),
    #[cfg(feature = "tokio")]
    on_thread("tokio: wait_async", more::path_tokio_wait).warm(more::warm_tokio),
    #[cfg(feature = "tokio")]
    on_thread("tokio: communicate_async", more::path_tokio_communicate).warm(more::warm_tokio),
    #[cfg(feature = "tokio")]
    on_thread("tokio: output_async", more::path_tokio_output).warm(more::warm_tokio),
    #[cfg(feature = "tokio")]
    on_thread("tokio: Scope wait_async", more::path_tokio_scope)
        .warm(more::warm_tokio)
        .probe(linux::probe_scope),
    #[cfg(feature = "async-io")]
    on_thread("async-io: wait_async", more::path_async_io_wait).warm(more::warm_async_io),
    #[cfg(feature = "async-io")]
    on_thread("async-io: communicate_async", more::path_async_io_communicate)
        .warm(more::warm_async_io),
    #[cfg(feature = "async-io")]
    on_thread("async-io: output_async", more::path_async_io_output).warm(more::warm_async_io),
    #[cfg(feature = "async-io")]
    on_thread("async-io: Scope wait_async", more::path_async_io_scope)
        .warm(more::warm_async_io)
        .probe(linux::probe_scope),
];

/// Why this kernel cannot run the table, if it cannot: user
/// notification (5.0) and its CONTINUE answer (5.5).
fn unsupported() -> Option<String> {
    let actions =
        std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    if !actions.split_whitespace().any(|a| a == "user_notif") {
        return Some(format!(
            "no SECCOMP_RET_USER_NOTIF here (actions_avail: {:?})",
            actions.trim()
        ));
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut v = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (v.next().unwrap_or(0), v.next().unwrap_or(0));
    ((major, minor) < (5, 5))
        .then(|| format!("Linux {major}.{minor}: SECCOMP_USER_NOTIF_FLAG_CONTINUE needs 5.5"))
}

pub(crate) fn table() {
    if let Some(why) = unsupported() {
        println!("nth_call_fails SKIPPED: the machine refuses: {why}");
        return;
    }
    let started = Instant::now();
    let mut failed = Vec::new();
    // (syscall, errno) -> outcome -> runs
    let mut matrix: BTreeMap<(String, &str), BTreeMap<String, usize>> = BTreeMap::new();
    println!();
    println!(
        "| path | calls K (path thread + child before exec) | injectable | runs | worked | named error | held |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut sequences = Vec::new();
    let mut totals = [0usize; 6];
    for how in PATHS {
        let name = how.name;
        if let Some(why) = how.probe.and_then(|probe| probe()) {
            println!("| {name} | SKIPPED: the machine refuses: {why} | | | | | |");
            continue;
        }
        let (count, report) = match run(how, None) {
            Ok(r) => r,
            Err(e) => {
                failed.push(format!("{name}: count run: {e}"));
                continue;
            }
        };
        if report.kind == "refused" {
            // Every path needs the same filter.
            println!(
                "nth_call_fails SKIPPED: the machine refuses: {}",
                report.row
            );
            return;
        }
        if report.kind != "ok" || !report.problem.is_empty() || !report.cgroups.is_empty() {
            failed.push(format!(
                "{name}: count run: {} {} {}",
                report.row, report.problem, report.cgroups
            ));
            continue;
        }
        let k = count.calls.len();
        let in_child = count
            .calls
            .iter()
            .filter(|c| c.class == Class::Child)
            .count();
        let injectable = count.calls.iter().filter(|c| !c.errnos.is_empty()).count();
        sequences.push(format!("{name}: {}", sequence(&count.calls)));
        let (mut runs, mut worked, mut named, mut held) = (0, 0, 0, 0);
        for (i, call) in count.calls.iter().enumerate() {
            for which in 0..call.errnos.len() {
                let n = i + 1;
                let tag = format!(
                    "{name}: call {n} ({}) {}",
                    call.label,
                    errno_name(call.errnos[which])
                );
                let plan = Plan {
                    nr: call.nr,
                    errnos: call.errnos.clone(),
                    nth: 1 + count.calls[..i]
                        .iter()
                        .filter(|c| c.nr == call.nr && c.errnos == call.errnos)
                        .count(),
                    which,
                };
                let (sup, report) = match run(how, Some(plan)) {
                    Ok(r) => r,
                    Err(e) => {
                        runs += 1;
                        failed.push(format!("{tag}: {e}"));
                        continue;
                    }
                };
                let Some(inj) = sup.injected else {
                    // That call did not come this time (a poll loop that
                    // went round once less): not a fault injected, but
                    // the run must still have worked.
                    let why = format!("fewer {} calls", call.label);
                    matrix
                        .entry(("(shifted)".into(), "-"))
                        .or_default()
                        .entry(why)
                        .and_modify(|n| *n += 1)
                        .or_insert(1);
                    if report.kind != "ok"
                        || !report.problem.is_empty()
                        || !report.cgroups.is_empty()
                    {
                        failed.push(format!(
                            "{tag}: not injected, yet {} {} {}",
                            report.row, report.problem, report.cgroups
                        ));
                    }
                    continue;
                };
                runs += 1;
                let key = (inj.label.clone(), errno_name(inj.errno));
                let by = if inj.class == Class::Child {
                    " (child)"
                } else {
                    ""
                };
                match judge(&inj, &report) {
                    Ok(outcome) => {
                        held += 1;
                        let what = match outcome {
                            Outcome::Recovered => {
                                worked += 1;
                                format!("works{by}")
                            }
                            Outcome::Named(what) => {
                                named += 1;
                                format!("{what}{by}")
                            }
                        };
                        *matrix.entry(key).or_default().entry(what).or_insert(0) += 1;
                    }
                    Err(e) => {
                        failed.push(format!("{name}: call {n} ({} {}){by}: {e}", key.0, key.1));
                        *matrix
                            .entry(key)
                            .or_default()
                            .entry(format!("FAILED{by}"))
                            .or_insert(0) += 1;
                    }
                }
            }
        }
        println!(
            "| {name} | {k} ({in_child} in a child) | {injectable} | {runs} | {worked} | {named} | {held} |"
        );
        for (t, v) in totals
            .iter_mut()
            .zip([k, injectable, runs, worked, named, held])
        {
            *t += v;
        }
    }
    println!(
        "| all | {} | {} | {} | {} | {} | {} |",
        totals[0], totals[1], totals[2], totals[3], totals[4], totals[5]
    );
    println!();
    println!("| call | errno | runs: outcome |");
    println!("|---|---|---|");
    for ((call, errno), outcomes) in &matrix {
        let text = outcomes
            .iter()
            .map(|(what, n)| format!("{what} ×{n}"))
            .collect::<Vec<_>>()
            .join("; ");
        println!("| {call} | {errno} | {text} |");
    }
    println!();
    println!("The calls of each path, as the count run saw them:");
    for s in &sequences {
        println!("  {s}");
    }
    println!("({:.1?})", started.elapsed());
    assert!(failed.is_empty(), "failed cases:\n{}", failed.join("\n"));
}
