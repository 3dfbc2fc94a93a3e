//! The raw spawn: create a process, set it up from plain data, exec.
//!
//! Everything the child needs is prepared here, before the process exists:
//! the [`ExecPlan`] (candidates, argv, envp), the descriptor moves, the
//! ranges of descriptors to close, the signal mask. The child then runs
//! [`child_main`], which only makes async-signal-safe system calls, never
//! allocates, never takes a lock, and ends in `execve` or `_exit(127)`.
//!
//! - **Linux**: `clone3(CLONE_VM | CLONE_VFORK | CLONE_PIDFD |
//!   CLONE_CLEAR_SIGHAND)` on a small stack that each thread keeps for its
//!   next spawn. The child shares our memory until it execs: no page tables
//!   are copied, so the cost does not grow with the parent's size, and the
//!   kernel hands us a pidfd for the child. Without `clone3` (kernel < 5.3,
//!   or a seccomp filter that refuses it) or without `CLONE_CLEAR_SIGHAND`
//!   (< 5.5) it falls back to `clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD)`
//!   and resets the signal handlers by hand in the child; without
//!   `CLONE_PIDFD` (< 5.2) it opens the pidfd after the fact.
//!   With the fd allowlist on (the default) the child is also made with
//!   `CLONE_FILES`, sharing our descriptor table instead of receiving a
//!   copy of all of it, and its first system call is
//!   `close_range(n, ~0, CLOSE_RANGE_UNSHARE)`: a private table holding
//!   only the descriptors below `n`, the lowest number above every
//!   descriptor it uses. A spawn then costs the same whether we hold 5
//!   descriptors or 50,000. The spawn's own pipe and `/dev/null` ends
//!   land above every descriptor we hold, so where leaving them out of
//!   `n` spares copying many slots the child opens them afresh instead
//!   ([`Reopen`]: `/dev/null`, and the pipe through `/proc/<pid>/fd`).
//!   Without `CLOSE_RANGE_UNSHARE` (< 5.9) the
//!   child exits before touching anything and is made again without
//!   sharing. Without `close_range` at all (< 5.9, or a seccomp profile
//!   that refuses it) the child closes what `/proc/self/fd` lists, and only
//!   without `/proc` every number up to the descriptor limit.
//!   A failure in the child is written into memory that the parent reads
//!   once `CLONE_VFORK` lets it run again (after the child's `execve` or
//!   `_exit`), the way glibc's `posix_spawn` reports it: no pipe needed.
//! - **Other Unix**: `fork`, the same child code, and a close-on-exec pipe
//!   that carries a failure back.
//!
//! Every signal is blocked in the calling thread around the process
//! creation, so no handler of ours can run in the child (which, on Linux,
//! shares our memory) and no signal finds the child half set up; the
//! child restores the mask it should have just before `execve`, after
//! every handler was put back to the default and its own dispositions
//! were set. On Linux, once `clone3` with `CLONE_CLEAR_SIGHAND` is known
//! to work, the block is left out where nothing depends on it: when the
//! child neither ignores nor blocks a signal (see `Ctx::block_signals`).

use std::ffi::CStr;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use libc::{c_int, c_void};

use super::exec::errno;
use super::{ExecPlan, SIG_MAX, sigset};
use crate::error::SpawnStep;

// ---- spawn attributes (Command::rlimit, uid, unshare, ...) ----
pub(crate) mod attrs;
// ---- end spawn attributes ----

/// `dup2(src, dst)` in the child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FdMove {
    /// The descriptor in the parent.
    pub(crate) src: RawFd,
    /// Its number in the child.
    pub(crate) dst: RawFd,
    /// How the child may open `src` afresh instead of finding it in our
    /// descriptor table (see [`Reopen`]).
    pub(crate) reopen: Reopen,
}

impl FdMove {
    /// A move of a descriptor the child can only get from our table.
    pub(crate) fn fd(src: RawFd, dst: RawFd) -> FdMove {
        FdMove {
            src,
            dst,
            reopen: Reopen::No,
        }
    }
}

/// How the child can get a move's source without copying our descriptor
/// table up to its number: for the ends that the spawn itself made, which
/// land above every descriptor we hold. With the source opened afresh the
/// child's private table needs only its low descriptors, so the spawn
/// costs the same with 50 or 50,000 descriptors open (Linux).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reopen {
    /// Only through our descriptor (a file or pipe end of the caller's:
    /// opening it again would not share its offset and status flags).
    No,
    /// `/dev/null`, read-write: the child opens it itself.
    DevNull,
    /// A pipe end we made and nobody else holds: the child opens the same
    /// pipe through `/proc/<our pid>/fd/<src>`, for writing or reading.
    Pipe {
        /// The write end.
        write: bool,
    },
}

/// What the child should look like, as plain data.
pub(crate) struct Request<'a> {
    /// The program, argv and envp.
    pub(crate) exec: &'a mut ExecPlan,
    /// Descriptors to put in place; each `dst` appears once.
    pub(crate) moves: Vec<FdMove>,
    /// Descriptors that reach the child at the same number (close-on-exec
    /// is cleared in the child only).
    pub(crate) keep: Vec<RawFd>,
    /// Close every descriptor that is not 0-2, kept, or a move's `dst`.
    pub(crate) close_others: bool,
    /// `chdir` to this directory.
    pub(crate) chdir: Option<&'a CStr>,
    /// Call `setsid`.
    pub(crate) setsid: bool,
    /// `setpgid(0, pgid)`.
    pub(crate) pgroup: Option<i32>,
    /// The child's signal mask; `None`: empty (nothing blocked), as std does.
    pub(crate) mask: Option<Vec<i32>>,
    /// Signals set to `SIG_IGN` in the child.
    pub(crate) ignore: Vec<i32>,
    /// Signals set to `SIG_DFL` in the child (SIGPIPE always is).
    pub(crate) default: Vec<i32>,
    // ---- cgroup (proc::Scope) ----
    /// Start the child in this cgroup: its directory descriptor (opened
    /// `O_RDONLY | O_DIRECTORY`) for `clone3(CLONE_INTO_CGROUP)`, and the
    /// path of its `cgroup.procs`, which the child writes itself into on
    /// the `clone` fallback (or when the descriptor is -1) before
    /// anything else.
    #[cfg(target_os = "linux")]
    pub(crate) cgroup: Option<(RawFd, &'a CStr)>,
    // ---- end cgroup ----
    // ---- terminal (pty, controlling_terminal, foreground) ----
    /// `ioctl(fd, TIOCSCTTY, 0)` right after `setsid` (which the caller
    /// also asks for): the child's controlling terminal. A descriptor of
    /// ours (close-on-exec), used before any move.
    pub(crate) ctty: Option<RawFd>,
    /// `tcsetpgrp(fd, getpgrp())` after the session, group and controlling
    /// terminal are set, with every signal blocked around it (a background
    /// group's `tcsetpgrp` raises `SIGTTOU`). A descriptor of ours.
    pub(crate) foreground: Option<RawFd>,
    // ---- end terminal ----
    // ---- spawn attributes (Command::rlimit, uid, unshare, ...) ----
    /// Resource limits, credentials, namespaces, ... (see [`attrs`]).
    pub(crate) attrs: attrs::Attrs,
    // ---- end spawn attributes ----
}

/// A started child.
#[derive(Debug)]
pub(crate) struct Spawned {
    /// Its pid.
    pub(crate) pid: i32,
    /// Its pidfd, where the platform has them.
    pub(crate) pidfd: Option<OwnedFd>,
}

/// Why a spawn failed: the step, and the errno.
pub(crate) type Failure = (SpawnStep, io::Error);

/// The steps the child reports, by index (0 means "no failure").
const STEPS: [SpawnStep; 22] = [
    SpawnStep::Fork,
    SpawnStep::Chdir,
    SpawnStep::Dup2,
    SpawnStep::CloseFds,
    SpawnStep::Setsid,
    SpawnStep::Setpgid,
    SpawnStep::Signals,
    SpawnStep::Exec,
    SpawnStep::Cgroup,
    SpawnStep::Terminal,
    SpawnStep::Foreground,
    SpawnStep::Unshare,
    SpawnStep::IdMap,
    SpawnStep::Chroot,
    SpawnStep::Rlimit,
    SpawnStep::Nice,
    SpawnStep::CpuAffinity,
    SpawnStep::Setgroups,
    SpawnStep::Setgid,
    SpawnStep::Setuid,
    SpawnStep::NoNewPrivs,
    SpawnStep::ParentDeathSignal,
];

fn step_code(step: SpawnStep) -> u64 {
    STEPS.iter().position(|s| *s == step).unwrap_or(0) as u64 + 1
}

/// The step code of "`close_range(CLOSE_RANGE_UNSHARE)` failed": the
/// child shared our descriptor table and could not make its own, so it
/// changed nothing and exited; the parent spawns again without sharing.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const UNSHARE_FAILED: u64 = 0xff;

/// The step code of "a [`Reopen`] source could not be opened" (no `/proc`,
/// or it may not look at our descriptors): the child changed nothing
/// outside its private table and exited; the parent spawns again with
/// the table copied up to those sources.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const REOPEN_FAILED: u64 = 0xfe;

/// Reopen the spawn's own ends only when that spares copying at least this
/// many descriptor slots: below it, copying them costs less than the
/// `open` calls (a `/proc` lookup each).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const REOPEN_MIN_GAIN: RawFd = 64;

fn decode(report: u64) -> Option<Failure> {
    if report == 0 {
        return None;
    }
    let step = STEPS
        .get(((report >> 32) as usize).wrapping_sub(1))
        .copied()
        .unwrap_or(SpawnStep::Exec);
    let errno = (report & 0xffff_ffff) as i32;
    Some((step, io::Error::from_raw_os_error(errno)))
}

/// Whether `close_range` works here: unknown, yes, no.
static CLOSE_RANGE: AtomicU8 = AtomicU8::new(UNKNOWN);
const UNKNOWN: u8 = 0;
const YES: u8 = 1;
#[cfg_attr(not(any(target_os = "linux", target_os = "freebsd")), allow(dead_code))]
const NO: u8 = 2;

/// Everything the child reads, prepared before it exists.
struct Ctx<'r, 'a> {
    req: &'r mut Request<'a>,
    /// The current source of each move (rewritten by the child when it
    /// moves a source out of another move's way).
    srcs: Vec<RawFd>,
    /// Whether each move's source must first be moved out of the way.
    relocate: Vec<bool>,
    /// The lowest number a relocated source may take: above every `dst`.
    reloc_min: RawFd,
    /// Sorted descriptors >= 3 that survive closing (and, on the fork path,
    /// the report pipe).
    allowed: Vec<RawFd>,
    /// Upper bound for closing one by one where `close_range` is missing.
    fd_limit: RawFd,
    /// One above every descriptor the child uses (at least 3): the only
    /// ones it needs from our table.
    needed_below: RawFd,
    /// `needed_below` with every source found in our table.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    needed_below_all: RawFd,
    /// `needed_below` with the sources it can reopen ([`Reopen`]) opened
    /// afresh instead.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    needed_below_fixed: RawFd,
    /// The child opens the [`Reopen`] sources afresh, right after taking
    /// its private table, which then stops at `needed_below_fixed`.
    reopen: bool,
    /// `/proc/<our pid>/fd/<src>` for each [`Reopen::Pipe`] move (`None`
    /// for the others); made only when `reopen` is chosen.
    reopen_paths: Vec<Option<std::ffi::CString>>,
    /// The device and inode of each [`Reopen::Pipe`] source, which what
    /// the child opens must match: a `/proc` of another PID namespace
    /// would show another process under our pid.
    reopen_ids: Vec<(u64, u64)>,
    /// The child was created sharing our descriptor table
    /// (`CLONE_FILES`, Linux): its first act is
    /// `close_range(needed_below, ~0, CLOSE_RANGE_UNSHARE)`, which gives it
    /// a private table holding only the descriptors below `needed_below`.
    unshare: bool,
    /// The child's signal mask.
    mask: libc::sigset_t,
    /// Block every signal around the process creation even where the
    /// kernel clears the handlers (see [`Ctx::new`]). The fork path
    /// always blocks.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    block_signals: bool,
    /// Reset every handled signal by hand (no `CLONE_CLEAR_SIGHAND`).
    reset_handlers: bool,
    /// Where the child reports a failure when it shares our memory.
    report: AtomicU64,
    /// Where the child reports a failure when it does not (fork): the write
    /// end of a close-on-exec pipe, or -1.
    report_fd: RawFd,
    // ---- cgroup (proc::Scope) ----
    /// The child writes itself into `req.cgroup`'s `cgroup.procs` (the
    /// `clone` fallback; `clone3` placed it there already).
    #[cfg(target_os = "linux")]
    join_cgroup: bool,
    /// The process creation failed because `clone3` refused the cgroup.
    #[cfg(target_os = "linux")]
    cgroup_refused: bool,
    // ---- end cgroup ----
}

impl<'r, 'a> Ctx<'r, 'a> {
    fn new(req: &'r mut Request<'a>) -> Ctx<'r, 'a> {
        let (srcs, relocate) = plan_sources(&req.moves);
        let reloc_min = req
            .moves
            .iter()
            .map(|m| m.dst.saturating_add(1))
            .max()
            .unwrap_or(3)
            .max(3);
        let mut allowed: Vec<RawFd> = req
            .keep
            .iter()
            .copied()
            .chain(req.moves.iter().map(|m| m.dst))
            .filter(|&fd| fd >= 3)
            .collect();
        allowed.sort_unstable();
        allowed.dedup();
        let needed = |reopened: bool| {
            req.moves
                .iter()
                .flat_map(|m| {
                    let src = (!reopened || m.reopen == Reopen::No).then_some(m.src);
                    src.into_iter().chain([m.dst])
                })
                .chain(req.keep.iter().copied())
                // The terminal descriptors (used before any move).
                .chain(req.ctty)
                .chain(req.foreground)
                .max()
                .unwrap_or(0)
                .saturating_add(1)
                .max(3)
        };
        let needed_below = needed(false);
        let needed_below_fixed = needed(true);
        let fd_limit = if req.close_others && CLOSE_RANGE.load(Ordering::Relaxed) != YES {
            fd_limit()
        } else {
            0
        };
        // The child's mask: the requested one, or an empty one (a signal
        // blocked in the spawning thread must not silently stay blocked in
        // the program, as std also decides).
        let mask = sigset(req.mask.as_deref().unwrap_or(&[]));
        // Until the child's last step sets its mask, a signal finds it
        // with the spawning thread's mask and, once `CLONE_CLEAR_SIGHAND`
        // reset our handlers, with default dispositions. That is already
        // the program's state, or differs only by a signal that is
        // discarded rather than delivered (ignored in the window, `SIG_DFL`
        // after: `default_signal` of a signal we ignore, SIGPIPE), unless
        // the child is to ignore or block a signal: one that arrives before
        // that set-up would run its default action (usually: kill it).
        // Then every signal stays blocked from the child's first
        // instruction until its mask is set just before `execve`, as
        // glibc's `posix_spawn` does; the common spawn saves two system
        // calls.
        let block_signals =
            !req.ignore.is_empty() || req.mask.as_ref().is_some_and(|m| !m.is_empty());
        // spawn attributes: the parent-death check compares with our pid.
        if req.attrs.pdeathsig != 0 {
            req.attrs.parent = std::process::id() as libc::pid_t;
        }
        Ctx {
            req,
            srcs,
            relocate,
            reloc_min,
            allowed,
            fd_limit,
            needed_below,
            needed_below_all: needed_below,
            needed_below_fixed,
            reopen: false,
            reopen_paths: Vec::new(),
            reopen_ids: Vec::new(),
            unshare: false,
            mask,
            block_signals,
            reset_handlers: true,
            report: AtomicU64::new(0),
            report_fd: -1,
            #[cfg(target_os = "linux")]
            join_cgroup: false,
            #[cfg(target_os = "linux")]
            cgroup_refused: false,
        }
    }
}

/// Each move's source as the child starts with it, and whether it must
/// first be moved out of the way because it sits on another move's target.
fn plan_sources(moves: &[FdMove]) -> (Vec<RawFd>, Vec<bool>) {
    let srcs = moves.iter().map(|m| m.src).collect();
    let relocate = moves
        .iter()
        .enumerate()
        .map(|(i, m)| {
            moves
                .iter()
                .enumerate()
                .any(|(j, o)| j != i && o.dst == m.src)
        })
        .collect();
    (srcs, relocate)
}

/// The highest descriptor number to close one by one when `close_range`
/// is missing: the soft `RLIMIT_NOFILE`, at most 2^20.
fn fd_limit() -> RawFd {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: rl is a writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        return 1 << 16;
    }
    rl.rlim_cur.min(1 << 20) as RawFd
}

fn full_sigset() -> libc::sigset_t {
    // Every bit set: on Linux this also blocks the C library's internal
    // signals, which `sigfillset` leaves out.
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigset_t is plain data; all-ones is a valid (full) set.
    unsafe {
        std::ptr::write_bytes(set.as_mut_ptr(), 0xff, 1);
        set.assume_init()
    }
}

/// Sets the calling thread's signal mask to `set`, storing the old one in
/// `old`. Returns 0 or an errno. Async-signal-safe.
///
/// On Linux this is the raw `rt_sigprocmask` system call, so the C
/// library's internal signals are blocked too; elsewhere
/// `pthread_sigmask` (`sigprocmask` in a single-threaded child is the same).
fn set_sigmask(set: &libc::sigset_t, old: Option<&mut libc::sigset_t>) -> c_int {
    let old = old.map_or(std::ptr::null_mut(), |o| o as *mut libc::sigset_t);
    #[cfg(target_os = "linux")]
    {
        // The kernel's sigset is _NSIG / 8 bytes and a prefix of glibc's
        // and musl's sigset_t.
        const KSIGSET_BYTES: usize = if cfg!(any(target_arch = "mips", target_arch = "mips64")) {
            16
        } else {
            8
        };
        // SAFETY: set and old (or NULL) point to sigset_t values at least
        // KSIGSET_BYTES long.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                set as *const libc::sigset_t,
                old,
                KSIGSET_BYTES,
            )
        };
        if ret < 0 { errno() } else { 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        // SAFETY: set and old (or NULL) are valid sigset_t pointers.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, set, old) }
    }
}

/// Whether this process has a single thread, where the C library tells
/// it for the price of a load (glibc 2.32+: `__libc_single_threaded`,
/// cleared before a second thread is created); `false` when it cannot
/// tell. While it holds, nothing but the calling thread can change the
/// environment, so a child may read our live `environ`.
pub(crate) fn single_threaded() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static FLAG: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let flag = *FLAG.get_or_init(|| {
            // SAFETY: dlsym with a NUL-terminated name; it returns the
            // variable's address or NULL (an older glibc).
            let sym =
                unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__libc_single_threaded".as_ptr()) };
            sym as usize
        });
        if flag == 0 {
            return false;
        }
        // SAFETY: glibc's `char __libc_single_threaded`, live for the whole
        // process; read as an atomic byte (glibc writes it once, from the
        // thread that creates a second thread).
        let flag = unsafe { &*(flag as *const AtomicU8) };
        flag.load(Ordering::Relaxed) != 0
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// `fcntl(fd, F_GETFD)`: whether `fd` is an open descriptor of ours.
pub(crate) fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    fd >= 0 && unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0
}

/// Starts the program described by `req`.
///
/// On success the child has exec'd (Linux) or is about to (elsewhere: the
/// report pipe told us exec succeeded). On a failure in the child, the
/// child has been reaped and its pidfd closed before this returns.
///
/// The caller holds `reap::spawn_in_flight()`, so nobody else can reap the
/// new process before it is registered (or, on failure, reaped here).
pub(crate) fn spawn(req: &mut Request<'_>) -> Result<Spawned, Failure> {
    let mut ctx = Ctx::new(req);
    imp::spawn(&mut ctx)
}

/// Reaps a child that failed before exec (it has exited or is exiting).
fn reap_failed(pid: i32) {
    // Errors are ignored: ECHILD means code outside procctl reaped it.
    let _ = super::wait::wait4(pid, 0);
}

/// The child: set up, exec, or report and `_exit(127)`.
///
/// # Safety
///
/// `arg` is a `*mut Ctx` that stays valid until the child execs or exits
/// (the parent is suspended or the memory is the child's own copy). Runs
/// in a child process: only async-signal-safe calls, no allocation.
unsafe extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: see the function's contract.
    let ctx = unsafe { &mut *arg.cast::<Ctx<'_, '_>>() };
    let report = match unshare_fds(ctx) {
        0 => match reopen_sources(ctx) {
            0 => {
                let (step, err) = child_setup_and_exec(ctx);
                (step_code(step) << 32) | (err as u32 as u64)
            }
            err => (REOPEN_FAILED << 32) | (err as u32 as u64),
        },
        err => (UNSHARE_FAILED << 32) | (err as u32 as u64),
    };
    if ctx.report_fd >= 0 {
        let bytes = report.to_ne_bytes();
        // SAFETY: writing 8 bytes from a local buffer to our pipe. A short
        // or failed write leaves the parent with "no report", and it still
        // sees the exit status 127.
        unsafe { libc::write(ctx.report_fd, bytes.as_ptr().cast(), bytes.len()) };
    } else {
        ctx.report.store(report, Ordering::Release);
    }
    // SAFETY: _exit is async-signal-safe and never returns.
    unsafe { libc::_exit(127) }
}

/// In a child that shares our descriptor table (`ctx.unshare`), gives it
/// its own, holding only the descriptors below `ctx.needed_below`: one
/// system call, and a copy whose cost does not depend on how many
/// descriptors we hold. Returns 0 or an errno; on failure nothing has
/// changed in the table we share. Must run before anything touches a
/// descriptor.
fn unshare_fds(ctx: &Ctx<'_, '_>) -> c_int {
    if !ctx.unshare {
        return 0;
    }
    #[cfg(target_os = "linux")]
    {
        #[cfg(test)]
        {
            let fake = imp::FAKE_UNSHARE_ERRNO.load(Ordering::Relaxed);
            if fake != 0 {
                return fake;
            }
        }
        const CLOSE_RANGE_UNSHARE: libc::c_uint = 1 << 1;
        // SAFETY: close_range takes two numbers and flags; with
        // CLOSE_RANGE_UNSHARE the closing happens on the child's new
        // private table, never on the one it shared with us.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                ctx.needed_below as libc::c_uint,
                libc::c_uint::MAX,
                CLOSE_RANGE_UNSHARE,
            )
        };
        if ret != 0 {
            return errno();
        }
        CLOSE_RANGE.store(YES, Ordering::Relaxed);
    }
    0
}

/// In a child that took a private table stopping below the sources it
/// can reopen (`ctx.reopen`), opens each of them afresh (close-on-exec,
/// above every move's target, so no `dup2` lands on it). Returns 0 or an
/// errno; on failure only the child's private table has changed.
fn reopen_sources(ctx: &mut Ctx<'_, '_>) -> c_int {
    if !ctx.reopen {
        return 0;
    }
    #[cfg(all(test, target_os = "linux"))]
    {
        let fake = imp::FAKE_REOPEN_ERRNO.load(Ordering::Relaxed);
        if fake != 0 {
            return fake;
        }
    }
    for (i, m) in ctx.req.moves.iter().enumerate() {
        let (path, flags) = match (m.reopen, &ctx.reopen_paths[i]) {
            (Reopen::No, _) => continue,
            (Reopen::DevNull, _) => (c"/dev/null", libc::O_RDWR),
            (Reopen::Pipe { write }, Some(path)) => (
                path.as_c_str(),
                if write {
                    libc::O_WRONLY
                } else {
                    libc::O_RDONLY
                },
            ),
            (Reopen::Pipe { .. }, None) => return libc::EINVAL,
        };
        // SAFETY: a NUL-terminated path prepared by the parent. Opening a
        // pipe never waits here: the parent holds its other end.
        let mut fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
        if fd < 0 {
            return errno();
        }
        if fd < ctx.reloc_min {
            // SAFETY: duplicating our new descriptor above every target;
            // the original is ours to close.
            let high = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, ctx.reloc_min) };
            let err = errno();
            // SAFETY: as above.
            unsafe { libc::close(fd) };
            if high < 0 {
                return err;
            }
            fd = high;
        }
        ctx.srcs[i] = fd;
        ctx.relocate[i] = false;
        if let Reopen::Pipe { .. } = m.reopen {
            if file_id(fd) != Some(ctx.reopen_ids[i]) {
                return libc::ESTALE;
            }
        }
    }
    0
}

/// The device and inode of an open descriptor. Async-signal-safe.
fn file_id(fd: RawFd) -> Option<(u64, u64)> {
    // SAFETY: a zeroed stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes into st.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return None;
    }
    Some((st.st_dev as u64, st.st_ino as u64))
}

/// Runs every set-up step in the child; returns only on failure.
fn child_setup_and_exec(ctx: &mut Ctx<'_, '_>) -> (SpawnStep, c_int) {
    let fail = |step| (step, errno());

    // 0. The cgroup, on the `clone` fallback (cgroup: proc::Scope).
    #[cfg(target_os = "linux")]
    if ctx.join_cgroup {
        if let Some((_, procs)) = ctx.req.cgroup {
            // Writing "0" to cgroup.procs moves the writer itself.
            // SAFETY: open/write/close of a NUL-terminated path prepared
            // before the clone: async-signal-safe, no allocation.
            let err = unsafe {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                let err = if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    errno()
                } else {
                    0
                };
                if fd >= 0 {
                    libc::close(fd);
                }
                err
            };
            if err != 0 {
                return (SpawnStep::Cgroup, err);
            }
        }
    }

    // 1. Signal dispositions. Handlers were cleared by the kernel
    //    (CLONE_CLEAR_SIGHAND) or are reset here; SIGPIPE goes back to the
    //    default (Rust ignores it); then the explicit lists.
    if ctx.reset_handlers {
        reset_handlers();
    }
    if set_disposition(libc::SIGPIPE, libc::SIG_DFL) != 0 {
        return fail(SpawnStep::Signals);
    }
    for &sig in &ctx.req.default {
        if set_disposition(sig, libc::SIG_DFL) != 0 {
            return fail(SpawnStep::Signals);
        }
    }
    for &sig in &ctx.req.ignore {
        if set_disposition(sig, libc::SIG_IGN) != 0 {
            return fail(SpawnStep::Signals);
        }
    }

    // 2. Session and process group.
    // SAFETY: plain system calls on the calling process.
    if ctx.req.setsid && unsafe { libc::setsid() } < 0 {
        return fail(SpawnStep::Setsid);
    }
    if let Some(pgid) = ctx.req.pgroup {
        // SAFETY: as above.
        if unsafe { libc::setpgid(0, pgid) } < 0 {
            return fail(SpawnStep::Setpgid);
        }
    }

    // ---- terminal (pty, controlling_terminal, foreground) ----
    // 2b. The controlling terminal, right after the new session, and the
    //     foreground group. Both descriptors are ours, still at their
    //     numbers (no move has run yet).
    if let Some(fd) = ctx.req.ctty {
        // SAFETY: TIOCSCTTY takes an int (0: do not steal a terminal that
        // is another session's); async-signal-safe.
        if unsafe { libc::ioctl(fd, libc::TIOCSCTTY as _, 0) } < 0 {
            return fail(SpawnStep::Terminal);
        }
    }
    if let Some(fd) = ctx.req.foreground {
        // A process outside the terminal's foreground group that calls
        // tcsetpgrp gets SIGTTOU (default: stop) unless it blocks or
        // ignores it: block every signal for the call (handlers are the
        // defaults here), then put the mask back.
        // SAFETY: a zeroed sigset_t is a valid out-parameter.
        let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
        let err = set_sigmask(&full_sigset(), Some(&mut old));
        if err != 0 {
            return (SpawnStep::Signals, err);
        }
        // SAFETY: plain calls on our own descriptor and process.
        let ret = unsafe { libc::tcsetpgrp(fd, libc::getpgrp()) };
        let err = errno();
        let restored = set_sigmask(&old, None);
        if ret < 0 {
            return (SpawnStep::Foreground, err);
        }
        if restored != 0 {
            return (SpawnStep::Signals, restored);
        }
    }
    // ---- end terminal ----
    // ---- spawn attributes: namespaces, chroot, rlimits, umask, nice,
    //      affinity, groups/gid/uid, no_new_privs, parent-death signal
    //      (order and reasons in `attrs`) ----
    if let Err(failed) = attrs::apply(&ctx.req.attrs) {
        return failed;
    }
    // ---- end spawn attributes ----

    // 3. Descriptors: move the sources that sit on another move's target
    //    out of the way, then put each in place, then clear close-on-exec
    //    on the kept ones, then close everything else.
    for (src, relocate) in ctx.srcs.iter_mut().zip(&ctx.relocate) {
        if *relocate {
            // SAFETY: duplicating an fd we own; the copy is close-on-exec.
            let fd = unsafe { libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, ctx.reloc_min) };
            if fd < 0 {
                return fail(SpawnStep::Dup2);
            }
            *src = fd;
        }
    }
    for (&src, m) in ctx.srcs.iter().zip(&ctx.req.moves) {
        let ok = if src == m.dst {
            // dup2 onto itself keeps close-on-exec: clear it instead.
            // SAFETY: F_SETFD on an fd of ours.
            unsafe { libc::fcntl(src, libc::F_SETFD, 0) >= 0 }
        } else {
            dup2_retry(src, m.dst)
        };
        if !ok {
            return fail(SpawnStep::Dup2);
        }
    }
    for &fd in &ctx.req.keep {
        // SAFETY: F_SETFD on an fd the caller named; EBADF is reported.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } < 0 {
            return fail(SpawnStep::Dup2);
        }
    }
    if ctx.req.close_others {
        // After the unshare nothing at or above `needed_below` is open
        // except relocated sources, which are close-on-exec.
        let end = if ctx.unshare {
            ctx.needed_below - 1
        } else {
            RawFd::MAX
        };
        let err = close_all_but(&ctx.allowed, end, ctx.fd_limit);
        if err != 0 {
            return (SpawnStep::CloseFds, err);
        }
    }

    // 4. Working directory.
    if let Some(dir) = ctx.req.chdir {
        // SAFETY: dir is a NUL-terminated string prepared by the parent.
        if unsafe { libc::chdir(dir.as_ptr()) } < 0 {
            return fail(SpawnStep::Chdir);
        }
    }

    // 5. The mask the program starts with. From here on a pending signal
    //    is delivered with its default action: no handler is left.
    let err = set_sigmask(&ctx.mask, None);
    if err != 0 {
        return (SpawnStep::Signals, err);
    }

    // 6. Exec.
    (SpawnStep::Exec, ctx.req.exec.exec())
}

fn dup2_retry(src: RawFd, dst: RawFd) -> bool {
    loop {
        // SAFETY: dup2 between fds of ours.
        if unsafe { libc::dup2(src, dst) } >= 0 {
            return true;
        }
        let e = errno();
        if e != libc::EINTR && e != libc::EBUSY {
            return false;
        }
    }
}

/// Sets `sig` to `SIG_DFL` or `SIG_IGN`. Returns 0 or an errno.
fn set_disposition(sig: c_int, handler: libc::sighandler_t) -> c_int {
    // SAFETY: a zeroed sigaction is valid (empty mask, no flags).
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = handler;
    // SAFETY: sa is valid; the old action is not asked for.
    if unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) } < 0 {
        errno()
    } else {
        0
    }
}

/// Puts every signal that has a handler back to `SIG_DFL`; ignored ones
/// stay ignored (as `execve` and `CLONE_CLEAR_SIGHAND` do).
fn reset_handlers() {
    for sig in 1..=SIG_MAX {
        // SAFETY: a zeroed sigaction is a valid out-parameter.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: querying; an invalid or reserved signal gives EINVAL.
        if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } < 0 {
            continue;
        }
        if old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN {
            set_disposition(sig, libc::SIG_DFL);
        }
    }
}

/// Closes every descriptor from 3 to `end` that is not in `allowed`
/// (sorted). Returns 0 or an errno. Async-signal-safe.
///
/// `close_range` on each gap where the kernel has it; else, on Linux, the
/// descriptors `/proc/self/fd` lists (a handful of system calls where
/// closing every number up to the descriptor limit could take a million);
/// else every number up to `fd_limit`, one by one.
fn close_all_but(allowed: &[RawFd], end: RawFd, fd_limit: RawFd) -> c_int {
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    if CLOSE_RANGE.load(Ordering::Relaxed) != NO {
        let err = for_each_gap(allowed, end, |lo, hi| {
            #[cfg(target_os = "linux")]
            // SAFETY: close_range takes two numbers and flags; closing fds
            // in the child affects only the child's descriptor table.
            let ret = unsafe { libc::syscall(libc::SYS_close_range, lo as u32, hi as u32, 0) };
            #[cfg(target_os = "freebsd")]
            // SAFETY: as above.
            let ret = unsafe { libc::close_range(lo as u32, hi as u32, 0) } as libc::c_long;
            if ret == 0 { 0 } else { errno() }
        });
        match err {
            0 => {
                CLOSE_RANGE.store(YES, Ordering::Relaxed);
                return 0;
            }
            // ENOSYS: an old kernel; EPERM: a seccomp filter that does not
            // know the call (close_range itself never refuses with EPERM).
            // The store reaches the parent's memory on the CLONE_VM path:
            // later spawns prepare `fd_limit` up front.
            libc::ENOSYS | libc::EPERM => CLOSE_RANGE.store(NO, Ordering::Relaxed),
            e => return e,
        }
    }
    #[cfg(target_os = "linux")]
    if close_listed(allowed, end) {
        return 0;
    }
    let limit = if fd_limit > 0 { fd_limit - 1 } else { 1 << 16 };
    for_each_gap(allowed, end.min(limit), |lo, hi| {
        for fd in lo..=hi {
            // SAFETY: closing an fd number in the child; EBADF is expected
            // for numbers that are not open.
            unsafe { libc::close(fd) };
        }
        0
    })
}

/// Calls `close(lo, hi)` for each range of `3..=end` between the sorted
/// `allowed` descriptors; stops at the first non-zero (errno) result.
fn for_each_gap(
    allowed: &[RawFd],
    end: RawFd,
    mut close: impl FnMut(RawFd, RawFd) -> c_int,
) -> c_int {
    let mut lo: RawFd = 3;
    for &fd in allowed {
        if fd > end {
            break;
        }
        if fd > lo {
            let err = close(lo, fd - 1);
            if err != 0 {
                return err;
            }
        }
        if fd >= lo {
            lo = fd.saturating_add(1);
        }
    }
    if lo <= end { close(lo, end) } else { 0 }
}

/// Closes what `/proc/self/fd` lists from 3 to `end`, except `allowed`
/// (sorted). `false` if the listing cannot be read (no `/proc`); what was
/// closed by then stays closed. Async-signal-safe: a stack buffer and raw
/// `getdents64`, no allocation.
#[cfg(target_os = "linux")]
fn close_listed(allowed: &[RawFd], end: RawFd) -> bool {
    // SAFETY: opening a directory by a static NUL-terminated path.
    let dir = unsafe {
        libc::open(
            c"/proc/self/fd".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir < 0 {
        return false;
    }
    let mut buf = [0u8; 2048];
    let ok = loop {
        // SAFETY: getdents64 writes at most buf.len() bytes into buf.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, dir, buf.as_mut_ptr(), buf.len()) };
        if n <= 0 {
            break n == 0;
        }
        let mut closed = false;
        // struct linux_dirent64: u64 d_ino, i64 d_off, u16 d_reclen,
        // u8 d_type, then the NUL-terminated name.
        let mut entries = &buf[..n as usize];
        while entries.len() >= 19 {
            let reclen = u16::from_ne_bytes([entries[16], entries[17]]) as usize;
            if reclen < 19 || reclen > entries.len() {
                break;
            }
            if let Some(fd) = parse_fd(&entries[19..reclen]) {
                if fd >= 3 && fd <= end && fd != dir && allowed.binary_search(&fd).is_err() {
                    // SAFETY: closing a descriptor of the child's own.
                    unsafe { libc::close(fd) };
                    closed = true;
                }
            }
            entries = &entries[reclen..];
        }
        // Closing changes the listing under the read position: start
        // over until a pass over the listing closes nothing.
        // SAFETY: rewinding our own directory descriptor.
        if closed && unsafe { libc::lseek(dir, 0, libc::SEEK_SET) } < 0 {
            break false;
        }
    };
    // SAFETY: our own directory descriptor.
    unsafe { libc::close(dir) };
    ok
}

/// A descriptor number from a NUL-terminated directory entry name.
#[cfg(target_os = "linux")]
fn parse_fd(name: &[u8]) -> Option<RawFd> {
    let digits = name.split(|&b| b == 0).next()?;
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0 as RawFd, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(RawFd::from(b - b'0'))
    })
}

#[cfg(target_os = "linux")]
mod imp {
    //! `clone3`/`clone` with `CLONE_VM | CLONE_VFORK` on a per-thread stack.

    use std::cell::Cell;

    use super::*;

    const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
    /// `CLONE_INTO_CGROUP` (Linux 5.7), from `linux/sched.h`.
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

    /// Whether `clone3` with `CLONE_CLEAR_SIGHAND` works; `clone` with
    /// `CLONE_PIDFD` works.
    static CLONE3: AtomicU8 = AtomicU8::new(UNKNOWN);
    static CLONE_PIDFD: AtomicU8 = AtomicU8::new(UNKNOWN);

    /// The child's stack: mmap'd once per thread and reused, with a guard
    /// page at the bottom. The child only runs `child_main`, which needs a
    /// few KiB; the rest is never touched, so never backed by memory.
    struct Stack {
        base: *mut c_void,
        len: usize,
    }

    const STACK_LEN: usize = 256 << 10;

    impl Stack {
        fn new() -> io::Result<Stack> {
            // SAFETY: a fresh private anonymous mapping; no existing memory
            // is affected.
            let base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    STACK_LEN,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                    -1,
                    0,
                )
            };
            if base == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            let stack = Stack {
                base,
                len: STACK_LEN,
            };
            // SAFETY: the first page of our own mapping becomes the guard.
            if unsafe { libc::mprotect(base, page_size(), libc::PROT_NONE) } != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(stack)
        }

        /// The initial stack pointer (stacks grow down): page aligned, so
        /// 16-byte aligned as both ABIs require.
        fn top(&self) -> *mut c_void {
            // SAFETY: one past the end of our mapping.
            unsafe { self.base.cast::<u8>().add(self.len).cast() }
        }
    }

    impl Drop for Stack {
        fn drop(&mut self) {
            // SAFETY: our own mapping, no child runs on it any more
            // (CLONE_VFORK returns after the child exec'd or exited).
            unsafe { libc::munmap(self.base, self.len) };
        }
    }

    fn page_size() -> usize {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if n > 0 { n as usize } else { 4096 }
    }

    thread_local! {
        static STACK: Cell<Option<Stack>> = const { Cell::new(None) };
    }

    /// Runs `f` with this thread's spawn stack (made on first use). A
    /// nested or late (thread teardown) call gets a fresh one.
    fn with_stack<R>(f: impl FnOnce(&Stack) -> R) -> io::Result<R> {
        let stack = match STACK.try_with(Cell::take).ok().flatten() {
            Some(s) => s,
            None => Stack::new()?,
        };
        let r = f(&stack);
        // If the thread-local is gone the stack is dropped (unmapped).
        let _ = STACK.try_with(move |s| s.set(Some(stack)));
        Ok(r)
    }

    /// Whether a child made with `CLONE_FILES` can unshare its descriptor
    /// table with `close_range(CLOSE_RANGE_UNSHARE)` (Linux 5.9).
    static UNSHARE: AtomicU8 = AtomicU8::new(UNKNOWN);

    /// Makes the child's unshare fail with this errno (tests only).
    #[cfg(test)]
    pub(super) static FAKE_UNSHARE_ERRNO: std::sync::atomic::AtomicI32 =
        std::sync::atomic::AtomicI32::new(0);

    pub(super) fn spawn(ctx: &mut Ctx<'_, '_>) -> Result<Spawned, Failure> {
        // spawn attributes: a new user namespace needs us to write its
        // maps while the child waits, which CLONE_VFORK does not allow.
        if ctx.req.attrs.user_ns.is_some() {
            return super::forked::spawn(ctx);
        }
        // With the allowlist the child needs only a few low descriptors:
        // rather than have the kernel copy our whole table into it and then
        // close nearly all of it, share the table (CLONE_FILES) and let the
        // child take a private copy of just the low part.
        ctx.unshare = ctx.req.close_others
            && UNSHARE.load(Ordering::Relaxed) != NO
            && CLOSE_RANGE.load(Ordering::Relaxed) != NO;
        // The spawn's own ends sit above every descriptor we hold: rather
        // than copy the table up to them, the child opens them afresh.
        if ctx.unshare
            && ctx.needed_below_all - ctx.needed_below_fixed >= REOPEN_MIN_GAIN
            && REOPEN.load(Ordering::Relaxed) != NO
        {
            let pid = std::process::id();
            ctx.reopen_paths = ctx
                .req
                .moves
                .iter()
                .map(|m| match m.reopen {
                    Reopen::Pipe { .. } => {
                        std::ffi::CString::new(format!("/proc/{pid}/fd/{}", m.src)).ok()
                    }
                    _ => None,
                })
                .collect();
            ctx.reopen_ids = ctx
                .req
                .moves
                .iter()
                .map(|m| match m.reopen {
                    Reopen::Pipe { .. } => file_id(m.src).unwrap_or((u64::MAX, u64::MAX)),
                    _ => (0, 0),
                })
                .collect();
            ctx.reopen = true;
            ctx.needed_below = ctx.needed_below_fixed;
        }
        loop {
            let spawned = spawn_once(ctx)?;
            let report = ctx.report.load(Ordering::Acquire);
            let retry = match report >> 32 {
                UNSHARE_FAILED if ctx.unshare => Some(UNSHARE_FAILED),
                REOPEN_FAILED if ctx.reopen => Some(REOPEN_FAILED),
                _ => None,
            };
            let Some(retry) = retry else {
                if ctx.unshare {
                    UNSHARE.store(YES, Ordering::Relaxed);
                }
                if ctx.reopen {
                    REOPEN.store(YES, Ordering::Relaxed);
                }
                return match decode(report) {
                    Some(failure) => {
                        reap_failed(spawned.pid);
                        Err(failure)
                    }
                    None => Ok(spawned),
                };
            };
            // The child changed nothing of ours and exited: spawn again,
            // copying the table up to the spawn's own ends (reopen failed)
            // or all of it, as the kernel does by default (unshare failed).
            reap_failed(spawned.pid);
            let errno = (report & 0xffff_ffff) as c_int;
            if retry == UNSHARE_FAILED {
                if matches!(errno, libc::ENOSYS | libc::EINVAL | libc::EPERM) {
                    UNSHARE.store(NO, Ordering::Relaxed);
                }
                ctx.unshare = false;
            } else if !matches!(
                errno,
                libc::ENOMEM | libc::EMFILE | libc::ENFILE | libc::EINTR
            ) {
                // No /proc, or it may not show our descriptors (a
                // non-dumpable process, an LSM): it will not work later.
                REOPEN.store(NO, Ordering::Relaxed);
            }
            ctx.reopen = false;
            ctx.needed_below = ctx.needed_below_all;
            (ctx.srcs, ctx.relocate) = plan_sources(&ctx.req.moves);
            ctx.report.store(0, Ordering::Relaxed);
        }
    }

    /// Whether the child can open the spawn's own pipe ends through
    /// `/proc/<pid>/fd` (see [`Reopen`]).
    static REOPEN: AtomicU8 = AtomicU8::new(UNKNOWN);

    /// Makes the child's reopening fail with this errno (tests only).
    #[cfg(test)]
    pub(super) static FAKE_REOPEN_ERRNO: std::sync::atomic::AtomicI32 =
        std::sync::atomic::AtomicI32::new(0);

    #[cfg(test)]
    pub(super) fn force_reopen(state: u8) {
        REOPEN.store(state, Ordering::Relaxed);
    }

    #[cfg(test)]
    pub(super) fn reopen_state() -> u8 {
        REOPEN.load(Ordering::Relaxed)
    }

    /// One process creation; the caller reads the child's report.
    fn spawn_once(ctx: &mut Ctx<'_, '_>) -> Result<Spawned, Failure> {
        let fork_err = |e| (SpawnStep::Fork, e);
        ctx.cgroup_refused = false;
        let (pid, pidfd) = with_stack(|stack| {
            // No handler of ours may run on the child, which shares our
            // memory until it execs. `clone3` with CLONE_CLEAR_SIGHAND
            // resets every handler in the child as it is made, so once it
            // is known to work nothing needs blocking for that (two system
            // calls saved per spawn); until then, and on the `clone`
            // fallback, everything is blocked around the clone. A child
            // that is to ignore or block a signal needs the block anyway
            // (see `Ctx::block_signals`).
            let block = ctx.block_signals || CLONE3.load(Ordering::Relaxed) != YES;
            let mut old = sigset(&[]);
            if block {
                let err = set_sigmask(&full_sigset(), Some(&mut old));
                if err != 0 {
                    return Err(io::Error::from_raw_os_error(err));
                }
            }
            let r = clone_vfork(ctx, stack);
            if block {
                set_sigmask(&old, None);
            }
            r
        })
        .map_err(fork_err)?
        .map_err(|e| {
            if ctx.cgroup_refused {
                (SpawnStep::Cgroup, e)
            } else {
                (SpawnStep::Fork, e)
            }
        })?;
        // CLONE_VFORK: the child has exec'd or exited by now, and the
        // kernel's wake-up orders its store before this load.
        let pidfd = match pidfd {
            Some(fd) => Some(fd),
            None => super::super::pidfd::open(pid).ok().flatten(),
        };
        Ok(Spawned { pid, pidfd })
    }

    /// Creates the child running `child_main(ctx)`: `Ok((pid, pidfd))`.
    fn clone_vfork(ctx: &mut Ctx<'_, '_>, stack: &Stack) -> io::Result<(i32, Option<OwnedFd>)> {
        let arg = (ctx as *mut Ctx<'_, '_>).cast::<c_void>();
        let mut pidfd: c_int = -1;
        let files = if ctx.unshare { libc::CLONE_FILES } else { 0 };

        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        if CLONE3.load(Ordering::Relaxed) != NO {
            ctx.reset_handlers = false;
            // cgroup (proc::Scope): born in it, no window outside.
            ctx.join_cgroup = false;
            let (into_cgroup, cgroup) = match ctx.req.cgroup {
                Some((fd, _)) if fd >= 0 => (CLONE_INTO_CGROUP, fd as u64),
                // -1: the child joins through cgroup.procs.
                Some(_) => {
                    ctx.join_cgroup = true;
                    (0, 0)
                }
                None => (0, 0),
            };
            let args = CloneArgs {
                flags: (libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | files) as u64
                    | CLONE_CLEAR_SIGHAND
                    | into_cgroup,
                pidfd: (&mut pidfd as *mut c_int) as u64,
                child_tid: 0,
                parent_tid: 0,
                exit_signal: libc::SIGCHLD as u64,
                stack: stack.base as u64,
                stack_size: stack.len as u64,
                tls: 0,
                set_tid: 0,
                set_tid_size: 0,
                cgroup,
            };
            // SAFETY: args describes a fresh stack of ours; the child runs
            // child_main(arg) on it and never returns into our frames; arg
            // stays valid while we are suspended (CLONE_VFORK).
            let ret = unsafe { clone3(&args, child_main, arg) };
            if ret > 0 {
                CLONE3.store(YES, Ordering::Relaxed);
                return Ok((ret as i32, owned(pidfd)));
            }
            let err = io::Error::from_raw_os_error(-ret as i32);
            match -ret as c_int {
                // cgroup: EINVAL/E2BIG may be the flag or the larger
                // struct unknown (< 5.7): the `clone` fallback, this time
                // only. Any other failure but the process limits is the
                // cgroup refusing the child.
                libc::EINVAL | libc::E2BIG if into_cgroup != 0 => {}
                e if into_cgroup != 0
                    && !matches!(e, libc::ENOSYS | libc::EPERM | libc::EAGAIN | libc::ENOMEM) =>
                {
                    ctx.cgroup_refused = true;
                    return Err(err);
                }
                // No clone3 (or filtered), no CLONE_CLEAR_SIGHAND, or an
                // old seccomp profile: use clone.
                libc::ENOSYS | libc::EINVAL | libc::EPERM => CLONE3.store(NO, Ordering::Relaxed),
                _ => return Err(err),
            }
        }

        ctx.reset_handlers = true;
        // cgroup (proc::Scope): the child joins before it runs anything.
        ctx.join_cgroup = ctx.req.cgroup.is_some();
        let with_pidfd = CLONE_PIDFD.load(Ordering::Relaxed) != NO;
        let mut flags = libc::CLONE_VM | libc::CLONE_VFORK | files | libc::SIGCHLD;
        if with_pidfd {
            flags |= libc::CLONE_PIDFD;
        }
        // SAFETY: as for clone3: a stack of ours, a child that only runs
        // child_main; with CLONE_PIDFD the kernel writes the pidfd through
        // the parent_tid pointer.
        let ret = unsafe {
            libc::clone(
                child_main_clone,
                stack.top(),
                flags,
                arg,
                &mut pidfd as *mut c_int,
            )
        };
        if ret > 0 {
            return Ok((ret, if with_pidfd { owned(pidfd) } else { None }));
        }
        let err = io::Error::last_os_error();
        if with_pidfd && err.raw_os_error() == Some(libc::EINVAL) {
            CLONE_PIDFD.store(NO, Ordering::Relaxed);
            return clone_vfork(ctx, stack);
        }
        Err(err)
    }

    /// Forces the fallbacks (tests only).
    #[cfg(test)]
    pub(super) fn force(clone3: u8, clone_pidfd: u8) {
        CLONE3.store(clone3, Ordering::Relaxed);
        CLONE_PIDFD.store(clone_pidfd, Ordering::Relaxed);
    }

    #[cfg(test)]
    pub(super) fn clone3_state() -> u8 {
        CLONE3.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    pub(super) fn unshare_state() -> u8 {
        UNSHARE.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    pub(super) fn force_unshare(state: u8) {
        UNSHARE.store(state, Ordering::Relaxed);
    }

    extern "C" fn child_main_clone(arg: *mut c_void) -> c_int {
        // SAFETY: called by clone with the Ctx pointer from clone_vfork.
        unsafe { child_main(arg) }
    }

    fn owned(fd: c_int) -> Option<OwnedFd> {
        // SAFETY: the kernel just created this fd for us.
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// `struct clone_args`, version 2 (88 bytes, Linux 5.7; older kernels
    /// accept it while the fields they do not know are zero).
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[repr(C)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }

    /// `clone3(args)`: in the parent returns the pid or `-errno`; the
    /// child calls `f(arg)` on the new stack and `_exit`s with its result.
    ///
    /// glibc has no `clone3` wrapper, and a raw `syscall()` cannot be used:
    /// the child would return into the parent's frames on a stack that
    /// holds none of them.
    ///
    /// # Safety
    ///
    /// - `args` describes a valid stack for the child;
    /// - `f` never returns into Rust code of the parent (it `_exit`s or
    ///   execs; the `exit` after the call is a backstop).
    #[cfg(target_arch = "x86_64")]
    unsafe fn clone3(
        args: &CloneArgs,
        f: unsafe extern "C" fn(*mut c_void) -> c_int,
        arg: *mut c_void,
    ) -> i64 {
        let ret: i64;
        // SAFETY: see the function's contract. The parent path only
        // clobbers rax, rcx and r11 (the syscall instruction); the child
        // path never comes back.
        unsafe {
            std::arch::asm!(
                "syscall",
                "test rax, rax",
                "jnz 2f",
                // Child: fresh stack, no frame to return to.
                "xor ebp, ebp",
                "mov rdi, r12",
                "call r13",
                "mov edi, eax",
                "mov eax, {exit}",
                "syscall",
                "ud2",
                "2:",
                exit = const libc::SYS_exit,
                inlateout("rax") libc::SYS_clone3 => ret,
                in("rdi") args as *const CloneArgs,
                in("rsi") std::mem::size_of::<CloneArgs>(),
                in("r12") arg,
                in("r13") f,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret
    }

    /// `clone3(args)` for aarch64; see the x86_64 version.
    ///
    /// # Safety
    ///
    /// As the x86_64 version.
    #[cfg(target_arch = "aarch64")]
    unsafe fn clone3(
        args: &CloneArgs,
        f: unsafe extern "C" fn(*mut c_void) -> c_int,
        arg: *mut c_void,
    ) -> i64 {
        let ret: i64;
        // SAFETY: see the function's contract. The parent path only
        // changes x0; the child path never comes back.
        unsafe {
            std::arch::asm!(
                "svc #0",
                "cbnz x0, 2f",
                "mov x29, xzr",
                "mov x30, xzr",
                "mov x0, x20",
                "blr x21",
                "mov x8, {exit}",
                "svc #0",
                "brk #1",
                "2:",
                exit = const libc::SYS_exit,
                inlateout("x0") args as *const CloneArgs => ret,
                in("x1") std::mem::size_of::<CloneArgs>(),
                in("x8") libc::SYS_clone3,
                in("x20") arg,
                in("x21") f,
                options(nostack),
            );
        }
        ret
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    //! `fork`, with a close-on-exec pipe for the child's report.

    use super::*;

    pub(super) fn spawn(ctx: &mut Ctx<'_, '_>) -> Result<Spawned, Failure> {
        super::forked::spawn(ctx)
    }
}

mod forked {
    //! A child with memory of its own, and a close-on-exec pipe for its
    //! report: `fork` outside Linux; on Linux the path of a spawn with a
    //! new user namespace, `clone(CLONE_NEWUSER)` without `CLONE_VFORK`,
    //! so that we can write its id maps while it waits (a vfork parent is
    //! suspended until the exec).

    use std::io::Read;
    use std::os::fd::AsRawFd;

    use super::*;

    pub(in super::super) fn spawn(ctx: &mut Ctx<'_, '_>) -> Result<Spawned, Failure> {
        let (mut reader, writer) = std::io::pipe().map_err(|e| (SpawnStep::Pipe, e))?;
        // Keep the report pipe above every target so no dup2 lands on it.
        let writer = above(writer.into(), ctx.reloc_min)?;
        ctx.report_fd = writer.as_raw_fd();
        // The report pipe must survive the closing of descriptors.
        ctx.allowed.push(ctx.report_fd);
        ctx.allowed.sort_unstable();
        ctx.reset_handlers = true;
        ctx.unshare = false;
        ctx.reopen = false;
        // cgroup (proc::Scope): no clone3 here, the child joins itself.
        #[cfg(target_os = "linux")]
        {
            ctx.join_cgroup = ctx.req.cgroup.is_some();
        }
        // The user namespace handshake: the child waits for one byte (the
        // maps are written) or EOF (they could not be: it exits).
        #[cfg(target_os = "linux")]
        let go = match ctx.req.attrs.user_ns {
            Some(_) => {
                let (r, w) = std::io::pipe().map_err(|e| (SpawnStep::Pipe, e))?;
                Some((above(r.into(), ctx.reloc_min)?, w))
            }
            None => None,
        };

        let mut old = sigset(&[]);
        let err = set_sigmask(&full_sigset(), Some(&mut old));
        if err != 0 {
            return Err((SpawnStep::Fork, io::Error::from_raw_os_error(err)));
        }
        #[cfg(not(target_os = "linux"))]
        // SAFETY: the child only runs child_main (async-signal-safe calls)
        // and ends in execve or _exit.
        let pid = unsafe { libc::fork() };
        #[cfg(target_os = "linux")]
        let pid = match &go {
            // SAFETY: clone without CLONE_VM and without a stack is fork
            // with a new user namespace: the child returns here on its own
            // copy of our memory and stack, and only makes async-signal-
            // safe calls until execve or _exit.
            Some(_) => unsafe {
                libc::syscall(
                    libc::SYS_clone,
                    libc::CLONE_NEWUSER | libc::SIGCHLD,
                    0,
                    0,
                    0,
                    0,
                ) as libc::pid_t
            },
            // SAFETY: as for fork above.
            None => unsafe { libc::fork() },
        };
        if pid == 0 {
            #[cfg(target_os = "linux")]
            if let Some((r, w)) = &go {
                // SAFETY: our copies of the handshake pipe; a byte on the
                // stack. Without the byte the parent failed: leave.
                unsafe {
                    libc::close(w.as_raw_fd());
                    let mut byte = 0u8;
                    let n = loop {
                        let n = libc::read(r.as_raw_fd(), (&mut byte as *mut u8).cast(), 1);
                        if n >= 0 || errno() != libc::EINTR {
                            break n;
                        }
                    };
                    libc::close(r.as_raw_fd());
                    if n != 1 {
                        libc::_exit(127);
                    }
                }
            }
            // SAFETY: ctx is this process's own copy, valid until exec.
            unsafe { child_main((ctx as *mut Ctx<'_, '_>).cast()) };
        }
        let fork_errno = io::Error::last_os_error();
        set_sigmask(&old, None);
        drop(writer);
        if pid < 0 {
            return Err((SpawnStep::Fork, fork_errno));
        }
        #[cfg(target_os = "linux")]
        if let (Some((r, w)), Some(maps)) = (go, &ctx.req.attrs.user_ns) {
            drop(r);
            if let Err(e) = attrs::write_id_maps(pid, maps) {
                drop(w);
                reap_failed(pid);
                return Err((SpawnStep::IdMap, e));
            }
            let mut w = w;
            if let Err(e) = std::io::Write::write_all(&mut w, b"g") {
                drop(w);
                reap_failed(pid);
                return Err((SpawnStep::IdMap, e));
            }
        }
        let mut buf = [0u8; 8];
        let mut got = 0;
        while got < buf.len() {
            match reader.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        if got == buf.len() {
            if let Some(failure) = decode(u64::from_ne_bytes(buf)) {
                reap_failed(pid);
                return Err(failure);
            }
        }
        #[cfg(target_os = "linux")]
        // The child has exec'd (the report pipe closed): its pidfd names
        // it, since only we can reap it.
        let pidfd = super::super::pidfd::open(pid).ok().flatten();
        #[cfg(not(target_os = "linux"))]
        let pidfd = None;
        Ok(Spawned { pid, pidfd })
    }

    /// `fd` itself, or a close-on-exec copy of it at `min` or above.
    fn above(fd: OwnedFd, min: RawFd) -> Result<OwnedFd, Failure> {
        if fd.as_raw_fd() >= min {
            return Ok(fd);
        }
        // SAFETY: duplicating an fd we own; the copy is ours too.
        let high = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
        if high < 0 {
            return Err((SpawnStep::Pipe, io::Error::last_os_error()));
        }
        // SAFETY: fcntl just created it.
        Ok(unsafe { OwnedFd::from_raw_fd(high) })
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::proc::{Command, Stdio};

    extern "C" fn handler(_: c_int) {}

    #[test]
    fn reset_handlers_defaults_handled_signals_and_keeps_ignored_ones() {
        // Dispositions are process-wide: check in a forked child, which
        // only makes sigaction calls (async-signal-safe).
        let check = || {
            // SAFETY: zeroed sigactions are valid; the handler does nothing.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = handler as extern "C" fn(c_int) as libc::sighandler_t;
                libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
                sa.sa_sigaction = libc::SIG_IGN;
                libc::sigaction(libc::SIGUSR2, &sa, std::ptr::null_mut());
                reset_handlers();
                let mut old: libc::sigaction = std::mem::zeroed();
                libc::sigaction(libc::SIGUSR1, std::ptr::null(), &mut old);
                if old.sa_sigaction != libc::SIG_DFL {
                    return 1;
                }
                libc::sigaction(libc::SIGUSR2, std::ptr::null(), &mut old);
                if old.sa_sigaction != libc::SIG_IGN {
                    return 2;
                }
                0
            }
        };
        // SAFETY: the closure only calls sigaction.
        let child = unsafe { crate::proc::fork_unchecked(check) }.unwrap();
        let status = child.wait_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(status.and_then(|s| s.code()), Some(0));
    }

    /// Every test here that spawns takes this: they force fallbacks and
    /// fake failures through process-wide state, which must not reach a
    /// spawn of another test.
    static FORCING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// What a shell started by `cmd` sees in `/proc/self/fd`, sorted.
    fn child_fds(cmd: &mut Command) -> Vec<i32> {
        let child = cmd
            .args(["-c", "ls /proc/$$/fd"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child
            .communicate_timeout(b"", Duration::from_secs(10))
            .unwrap();
        assert!(out.status.success(), "{:?}", out.status);
        let mut fds: Vec<i32> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(|s| s.parse().unwrap())
            .collect();
        fds.sort();
        fds
    }

    #[test]
    fn a_child_that_cannot_unshare_is_made_again_with_a_copied_table() {
        let _g = FORCING.lock().unwrap_or_else(|p| p.into_inner());
        let file = std::fs::File::open("/dev/null").unwrap();
        // ENOMEM: a passing failure, tried again and shared again next time
        // (so never NO; a spawn of another test may have made it YES since);
        // EINVAL (no CLOSE_RANGE_UNSHARE): never shared again.
        for (errno, disabled) in [(libc::ENOMEM, false), (libc::EINVAL, true)] {
            imp::force_unshare(UNKNOWN);
            imp::FAKE_UNSHARE_ERRNO.store(errno, Ordering::Relaxed);
            let fds =
                child_fds(Command::new("/bin/sh").map_fd(file.try_clone().unwrap().into(), 5));
            imp::FAKE_UNSHARE_ERRNO.store(0, Ordering::Relaxed);
            assert_eq!(fds, [0, 1, 2, 5]);
            assert_eq!(imp::unshare_state() == NO, disabled, "after {errno}");
        }
        // With sharing on again, the same spawn shares and unshares.
        imp::force_unshare(UNKNOWN);
        let fds = child_fds(Command::new("/bin/sh").map_fd(file.into(), 5));
        assert_eq!(fds, [0, 1, 2, 5]);
        assert_eq!(imp::unshare_state(), YES);
    }

    /// `cat` fed through a piped stdin, its stdout piped, stderr
    /// `/dev/null`, with 300 descriptors held below those ends: what
    /// reaches the child, and the fds it ends up with.
    fn cat_above_many_fds() -> (Vec<u8>, Vec<i32>) {
        let held: Vec<std::fs::File> = (0..300)
            .map(|_| std::fs::File::open("/dev/null").unwrap())
            .collect();
        let child = Command::new("/bin/sh")
            .args(["-c", "cat; ls /proc/$$/fd"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        drop(held);
        let out = child
            .communicate_timeout(b"through the pipe\n", Duration::from_secs(10))
            .unwrap();
        assert!(out.status.success(), "{:?}", out.status);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (data, fds) = text.split_at(text.find('\n').map_or(0, |i| i + 1));
        let mut fds: Vec<i32> = fds.split_whitespace().map(|s| s.parse().unwrap()).collect();
        fds.sort();
        (data.as_bytes().to_vec(), fds)
    }

    #[test]
    fn the_spawns_own_ends_are_reopened_above_many_descriptors() {
        let _g = FORCING.lock().unwrap_or_else(|p| p.into_inner());
        imp::force_reopen(UNKNOWN);
        let (data, fds) = cat_above_many_fds();
        assert_eq!(data, b"through the pipe\n");
        assert_eq!(fds, [0, 1, 2]);
        assert_eq!(imp::reopen_state(), YES);
    }

    #[test]
    fn a_child_that_cannot_reopen_is_made_again_with_the_table_copied() {
        let _g = FORCING.lock().unwrap_or_else(|p| p.into_inner());
        // ENOMEM: a passing failure; EACCES (no /proc, not dumpable):
        // never tried again.
        for (errno, disabled) in [(libc::ENOMEM, false), (libc::EACCES, true)] {
            imp::force_reopen(UNKNOWN);
            imp::FAKE_REOPEN_ERRNO.store(errno, Ordering::Relaxed);
            let (data, fds) = cat_above_many_fds();
            imp::FAKE_REOPEN_ERRNO.store(0, Ordering::Relaxed);
            assert_eq!(data, b"through the pipe\n", "after {errno}");
            assert_eq!(fds, [0, 1, 2], "after {errno}");
            assert_eq!(imp::reopen_state() == NO, disabled, "after {errno}");
        }
        imp::force_reopen(UNKNOWN);
    }

    #[test]
    fn single_threaded_is_false_beside_another_thread() {
        // libtest runs this on a thread of its own: the environment may
        // change under a child that reads the live one.
        assert!(!single_threaded());
    }

    #[test]
    fn only_the_spawns_own_ends_may_be_reopened() {
        let mut plan = ExecPlan::new("true".as_ref(), &["true"], None, true, None).expect("plan");
        let mut req = Request {
            exec: &mut plan,
            moves: vec![
                FdMove {
                    src: 500,
                    dst: 0,
                    reopen: Reopen::Pipe { write: false },
                },
                FdMove {
                    src: 501,
                    dst: 1,
                    reopen: Reopen::DevNull,
                },
                FdMove::fd(40, 2),
            ],
            keep: vec![7],
            close_others: true,
            chdir: None,
            setsid: false,
            pgroup: None,
            mask: None,
            ignore: vec![],
            default: vec![],
            cgroup: None,
            ctty: None,
            foreground: None,
            attrs: Default::default(),
        };
        let ctx = Ctx::new(&mut req);
        assert_eq!(ctx.needed_below_all, 502);
        assert_eq!(ctx.needed_below_fixed, 41);
    }

    #[test]
    fn clone_fallbacks_spawn_and_report_failures() {
        let _g = FORCING.lock().unwrap_or_else(|p| p.into_inner());
        for (clone3, clone_pidfd) in [(NO, UNKNOWN), (NO, NO)] {
            imp::force(clone3, clone_pidfd);
            let child = Command::new("sh")
                .args(["-c", "echo $$; exit 7"])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let out = child
                .communicate_timeout(b"", Duration::from_secs(10))
                .unwrap();
            assert_eq!(out.status.code(), Some(7));
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                child.pid().to_string()
            );
            let err = Command::new("true")
                .current_dir("/no/such/dir")
                .spawn()
                .unwrap_err();
            assert_eq!(err.spawn_step(), Some(SpawnStep::Chdir));
            // The clone3 path was not taken (it would have set YES).
            assert_eq!(imp::clone3_state(), NO);
        }
        imp::force(UNKNOWN, UNKNOWN);
    }

    #[test]
    fn moves_that_sit_on_targets_are_relocated() {
        let mut plan = ExecPlan::new("true".as_ref(), &["true"], None, true, None).expect("plan");
        let mut req = Request {
            exec: &mut plan,
            moves: vec![
                FdMove::fd(4, 3),
                FdMove::fd(3, 4),
                FdMove::fd(9, 9),
                FdMove::fd(10, 1),
            ],
            keep: vec![12],
            close_others: true,
            chdir: None,
            setsid: false,
            pgroup: None,
            mask: None,
            ignore: vec![],
            default: vec![],
            cgroup: None,
            ctty: None,
            foreground: None,
            attrs: Default::default(),
        };
        let ctx = Ctx::new(&mut req);
        assert_eq!(ctx.relocate, [true, true, false, false]);
        assert_eq!(ctx.reloc_min, 10);
        assert_eq!(ctx.allowed, [3, 4, 9, 12]);
        // Every source, target and kept descriptor is below it.
        assert_eq!(ctx.needed_below, 13);
    }

    #[test]
    fn gaps_between_allowed_descriptors() {
        let gaps = |allowed: &[RawFd], end| {
            let mut v = Vec::new();
            for_each_gap(allowed, end, |lo, hi| {
                v.push((lo, hi));
                0
            });
            v
        };
        assert_eq!(gaps(&[3, 5, 9], 20), [(4, 4), (6, 8), (10, 20)]);
        assert_eq!(gaps(&[4, 30], 10), [(3, 3), (5, 10)]);
        assert_eq!(gaps(&[], RawFd::MAX), [(3, RawFd::MAX)]);
        assert_eq!(gaps(&[], 2), []);
        assert_eq!(gaps(&[3, 4], 4), []);
        // The first failure stops the walk and is returned.
        assert_eq!(for_each_gap(&[5], 9, |_, _| libc::EBADF), libc::EBADF);
    }

    #[test]
    fn descriptor_names_parse() {
        assert_eq!(parse_fd(b"12\0\0\0"), Some(12));
        assert_eq!(parse_fd(b"0\0"), Some(0));
        assert_eq!(parse_fd(b".\0"), None);
        assert_eq!(parse_fd(b"..\0"), None);
        assert_eq!(parse_fd(b"\0"), None);
        assert_eq!(parse_fd(b"99999999999\0"), None);
    }

    #[test]
    fn reports_round_trip() {
        for step in STEPS {
            let report = (step_code(step) << 32) | libc::ENOENT as u64;
            let (got, err) = decode(report).unwrap();
            assert_eq!(got, step);
            assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        }
        assert!(decode(0).is_none());
    }
}
