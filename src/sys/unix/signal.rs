//! Signals: dispositions, thread masks, waiting, and the one low-level
//! handler behind procctl's safe handlers.
//!
//! The low-level handler is the only code of procctl that runs in signal
//! context. It saves `errno`; sets the registered flags; counts the delivery
//! for each `Signals` queue and for the dispatcher thread, and wakes them
//! (one byte to a queue's wake pipe; a futex wake for the dispatcher on
//! Linux, a byte to its pipe elsewhere); chains to the handler that was
//! installed before procctl's; and restores `errno`. Closures run later on
//! the dispatcher thread (`crate::signal::handler`), iterators drain their own queue.
//!
//! What the handler reads lives in one immutable [`Slot`] per signal behind
//! an `AtomicPtr`. Writers (under `HOOK_LOCK`) swap in a new slot, then wait
//! until no handler is between `READERS += 1` and `READERS -= 1` before
//! freeing the old one: a handler that incremented after the swap can only
//! have loaded the new pointer.
//!
//! procctl's handler is installed with the mask and the flags of the
//! function it chains to ([`our_action`]), so that function runs as its
//! owner installed it; a `SA_RESETHAND` one is chained to once (the slot's
//! `prev_spent`). Around every `fork`, `pthread_atfork` handlers hold
//! `HOOK_LOCK` and reset in the child what only made sense in the parent
//! ([`reset_in_child`]).

use std::ffi::c_int;
use std::io;
use std::mem::MaybeUninit;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::ptr;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nix::errno::Errno;

use super::cvt;
pub(crate) use super::kill;
use crate::Signal;
use crate::signal::{SigHandler, SigSet};

/// One more than the highest signal number of any supported platform
/// (FreeBSD goes up to 128).
const NSIG: usize = 129;

/// Handlers can be registered on this platform.
pub(crate) const HANDLERS_SUPPORTED: bool = true;

// ---------------------------------------------------------------------------
// Signal sets and thread masks
// ---------------------------------------------------------------------------

/// A thread's signal mask as the kernel gave it, restored bit for bit.
pub(crate) struct SavedMask(libc::sigset_t);

fn empty_raw() -> libc::sigset_t {
    let mut raw = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the whole set it is given.
    unsafe { libc::sigemptyset(raw.as_mut_ptr()) };
    // SAFETY: initialised just above.
    unsafe { raw.assume_init() }
}

/// The kernel's form of `set`.
pub(crate) fn raw_set(set: &SigSet) -> libc::sigset_t {
    let mut raw = empty_raw();
    for sig in set {
        // SAFETY: raw is an initialised set and sig a valid signal number.
        unsafe { libc::sigaddset(&mut raw, sig.as_raw()) };
    }
    raw
}

/// The signals of `raw` that procctl can name (every valid one).
pub(crate) fn from_raw_set(raw: &libc::sigset_t) -> SigSet {
    Signal::all()
        // SAFETY: raw is an initialised set and s a valid signal number.
        .filter(|s| unsafe { libc::sigismember(raw, s.as_raw()) } == 1)
        .collect()
}

fn sigmask(how: c_int, set: Option<&libc::sigset_t>) -> io::Result<libc::sigset_t> {
    let mut old = empty_raw();
    let set = set.map_or(ptr::null(), |s| s as *const libc::sigset_t);
    // SAFETY: set is null or a valid set; old is a valid, writable set.
    let ret = unsafe { libc::pthread_sigmask(how, set, &mut old) };
    if ret != 0 {
        return Err(io::Error::from_raw_os_error(ret));
    }
    Ok(old)
}

/// `pthread_sigmask(SIG_BLOCK, set)`: the previous mask.
pub(crate) fn block(set: &SigSet) -> io::Result<SavedMask> {
    sigmask(libc::SIG_BLOCK, Some(&raw_set(set))).map(SavedMask)
}

/// Blocks every signal in the calling thread: the previous mask.
pub(crate) fn block_all() -> io::Result<SavedMask> {
    let mut all = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initialises the whole set it is given.
    unsafe { libc::sigfillset(all.as_mut_ptr()) };
    // SAFETY: initialised just above.
    let all = unsafe { all.assume_init() };
    sigmask(libc::SIG_BLOCK, Some(&all)).map(SavedMask)
}

impl SavedMask {
    /// The signals of the saved mask that procctl can name.
    pub(crate) fn to_set(&self) -> SigSet {
        from_raw_set(&self.0)
    }
}

/// `pthread_sigmask(SIG_UNBLOCK, set)`.
pub(crate) fn unblock(set: &SigSet) -> io::Result<()> {
    sigmask(libc::SIG_UNBLOCK, Some(&raw_set(set))).map(drop)
}

/// `pthread_sigmask(SIG_SETMASK, saved)`.
pub(crate) fn restore_mask(saved: &SavedMask) -> io::Result<()> {
    sigmask(libc::SIG_SETMASK, Some(&saved.0)).map(drop)
}

/// The calling thread's mask.
pub(crate) fn current_mask() -> io::Result<SigSet> {
    sigmask(libc::SIG_BLOCK, None).map(|raw| from_raw_set(&raw))
}

fn pending_raw() -> io::Result<libc::sigset_t> {
    let mut raw = empty_raw();
    // SAFETY: raw is a valid, writable set.
    cvt(unsafe { libc::sigpending(&mut raw) })?;
    Ok(raw)
}

/// `sigpending()`: signals pending for the thread or the process.
pub(crate) fn pending() -> io::Result<SigSet> {
    pending_raw().map(|raw| from_raw_set(&raw))
}

/// `sigtimedwait(set, timeout)`: takes one pending signal of `set`; `None`
/// when the time ran out. `None` timeout waits for ever.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
pub(crate) fn wait_for(set: &SigSet, timeout: Option<Duration>) -> io::Result<Option<i32>> {
    let raw = raw_set(set);
    let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
    loop {
        let ts = deadline.map(|d| timespec(d.saturating_duration_since(std::time::Instant::now())));
        let ts_ptr = ts
            .as_ref()
            .map_or(ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: raw is a valid set, the info pointer may be null, and
        // ts_ptr is null (wait for ever) or a valid timespec.
        let ret = unsafe { libc::sigtimedwait(&raw, ptr::null_mut(), ts_ptr) };
        if ret > 0 {
            return Ok(Some(ret));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EAGAIN) => return Ok(None),
            Some(libc::EINTR) => continue,
            _ => return Err(err),
        }
    }
}

/// `d` as a relative `timespec` (seconds capped where `time_t` is 32 bits).
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().try_into().unwrap_or(i32::MAX as _),
        tv_nsec: d.subsec_nanos() as _,
    }
}

/// The portable fallback where `sigtimedwait` is missing (macOS, OpenBSD):
/// `sigpending` at growing intervals (1 ms up to 10 ms), then `sigwait` for
/// a signal known to be pending, so it returns at once.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
pub(crate) fn wait_for(set: &SigSet, timeout: Option<Duration>) -> io::Result<Option<i32>> {
    let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
    let mut nap = Duration::from_millis(1);
    loop {
        if let Some(sig) = pending()?.iter().find(|s| set.contains(*s)) {
            let one = raw_set(&SigSet::from_iter([sig]));
            let mut got: c_int = 0;
            // SAFETY: one is a valid set and got a writable int.
            let ret = unsafe { libc::sigwait(&one, &mut got) };
            if ret != 0 {
                return Err(io::Error::from_raw_os_error(ret));
            }
            return Ok(Some(got));
        }
        let now = std::time::Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Ok(None);
        }
        let left = deadline.map_or(nap, |d| d - now);
        std::thread::sleep(nap.min(left));
        nap = (nap * 2).min(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------

/// `raise(sig)`: the calling thread, before `raise` returns if unblocked.
pub(crate) fn raise(sig: i32) -> io::Result<()> {
    // SAFETY: raise takes a plain signal number.
    let ret = unsafe { libc::raise(sig) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `alarm(secs)`.
pub(crate) fn alarm(secs: u32) -> u32 {
    // SAFETY: alarm takes a plain integer and cannot fail.
    unsafe { libc::alarm(secs) }
}

// ---------------------------------------------------------------------------
// Dispositions
// ---------------------------------------------------------------------------

/// What the kernel does with a signal now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Current {
    Default,
    Ignore,
    /// procctl's low-level handler.
    Ours,
    /// Somebody else's function.
    Other,
}

fn query(sig: c_int) -> io::Result<libc::sigaction> {
    let mut old = MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only reads the current one into `old`.
    cvt(unsafe { libc::sigaction(sig, ptr::null(), old.as_mut_ptr()) })?;
    // SAFETY: sigaction filled it in (and all-zero is valid anyway).
    Ok(unsafe { old.assume_init() })
}

fn ours() -> libc::sighandler_t {
    low_level_handler as extern "C" fn(c_int, *mut libc::siginfo_t, *mut libc::c_void) as usize
        as libc::sighandler_t
}

/// The current disposition of `sig`.
pub(crate) fn disposition(sig: i32) -> io::Result<Current> {
    let act = query(sig)?;
    Ok(match act.sa_sigaction {
        libc::SIG_DFL => Current::Default,
        libc::SIG_IGN => Current::Ignore,
        h if h == ours() => Current::Ours,
        _ => Current::Other,
    })
}

fn set_simple(sig: c_int, handler: libc::sighandler_t) -> io::Result<()> {
    // SAFETY: all-zero is a valid sigaction (empty mask, no flags).
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = handler;
    // SAFETY: act is a valid action for SIG_IGN / SIG_DFL, which run no code
    // of ours.
    cvt(unsafe { libc::sigaction(sig, &act, ptr::null_mut()) }).map(drop)
}

/// `sigaction(sig, SIG_IGN)`.
pub(crate) fn ignore(sig: i32) -> io::Result<()> {
    set_simple(sig, libc::SIG_IGN)
}

/// `sigaction(sig, SIG_DFL)`.
pub(crate) fn default(sig: i32) -> io::Result<()> {
    set_simple(sig, libc::SIG_DFL)
}

/// Raw `sigaction`: installs `handler` with `flags` (`SA_SIGINFO` added for
/// [`SigHandler::SigAction`]); returns the previous handler and flags.
///
/// # Safety
///
/// - As the public `procctl::signal::sigaction`: the handler only does
///   what is async-signal-safe.
pub(crate) unsafe fn sigaction(
    sig: i32,
    handler: SigHandler,
    flags: c_int,
) -> io::Result<(SigHandler, c_int)> {
    // SAFETY: all-zero is a valid sigaction (empty mask, no flags).
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_flags = flags & !libc::SA_SIGINFO;
    act.sa_sigaction = match handler {
        SigHandler::Default => libc::SIG_DFL,
        SigHandler::Ignore => libc::SIG_IGN,
        SigHandler::Handler(f) => f as usize as libc::sighandler_t,
        SigHandler::SigAction(f) => {
            act.sa_flags |= libc::SA_SIGINFO;
            f as usize as libc::sighandler_t
        }
    };
    let mut old = MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: act is a valid action; the caller vouches for the handler.
    cvt(unsafe { libc::sigaction(sig, &act, old.as_mut_ptr()) })?;
    // SAFETY: sigaction filled it in (and all-zero is valid anyway).
    let old = unsafe { old.assume_init() };
    // SAFETY: the kernel only hands back what was installed, which is
    // SIG_DFL, SIG_IGN or a function of the matching kind.
    Ok((
        unsafe { to_handler(old.sa_sigaction, old.sa_flags) },
        old.sa_flags,
    ))
}

/// # Safety
///
/// - `h` is SIG_DFL, SIG_IGN, or the address of a handler of the kind that
///   `flags` says (`SA_SIGINFO`: three arguments).
unsafe fn to_handler(h: libc::sighandler_t, flags: c_int) -> SigHandler {
    match h {
        libc::SIG_DFL => SigHandler::Default,
        libc::SIG_IGN => SigHandler::Ignore,
        // SAFETY: the caller promises h is a three-argument handler.
        _ if flags & libc::SA_SIGINFO != 0 => SigHandler::SigAction(unsafe {
            std::mem::transmute::<
                libc::sighandler_t,
                extern "C" fn(c_int, *mut libc::siginfo_t, *mut libc::c_void),
            >(h)
        }),
        // SAFETY: the caller promises h is a one-argument handler.
        _ => SigHandler::Handler(unsafe {
            std::mem::transmute::<libc::sighandler_t, extern "C" fn(c_int)>(h)
        }),
    }
}

// ---------------------------------------------------------------------------
// The low-level handler and what it reads
// ---------------------------------------------------------------------------

/// Deliveries counted in signal context and taken later, per signal.
struct Tally {
    counts: [AtomicU32; NSIG],
    /// Bit `n` set: `counts[n]` may be non-zero.
    pending: [AtomicU64; NSIG.div_ceil(64)],
}

impl Tally {
    const fn new() -> Tally {
        Tally {
            counts: [const { AtomicU32::new(0) }; NSIG],
            pending: [const { AtomicU64::new(0) }; NSIG.div_ceil(64)],
        }
    }

    /// Signal context: atomics only.
    fn note(&self, idx: usize) {
        self.counts[idx].fetch_add(1, SeqCst);
        self.pending[idx / 64].fetch_or(1 << (idx % 64), SeqCst);
    }

    /// Forgets every count (the child of a `fork`: pending deliveries are
    /// the parent's, as the kernel's pending signals are). Atomics only.
    fn clear(&self) {
        for word in &self.pending {
            word.store(0, SeqCst);
        }
        for count in &self.counts {
            count.store(0, SeqCst);
        }
    }

    /// Nothing noted since the last [`Tally::take`].
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn is_empty(&self) -> bool {
        self.pending.iter().all(|w| w.load(SeqCst) == 0)
    }

    /// `f(signal, count)` for each signal noted since the last call, in
    /// numeric order.
    fn take(&self, mut f: impl FnMut(i32, u32)) {
        for (word, bits) in self.pending.iter().enumerate() {
            let mut bits = bits.swap(0, SeqCst);
            while bits != 0 {
                let bit = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let sig = word * 64 + bit;
                let n = self.counts[sig].swap(0, SeqCst);
                if n > 0 {
                    f(sig as i32, n);
                }
            }
        }
    }
}

/// Signal context: one byte to a non-blocking wake pipe. A full pipe
/// (`EAGAIN`) already guarantees a wake-up.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn wake(fd: c_int, sig: c_int) {
    let byte = sig as u8;
    // SAFETY: write is async-signal-safe; fd is the write end of a wake
    // pipe that outlives every slot that refers to it.
    unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
}

/// The queue of one `Signals` iterator: the low-level handler counts into
/// it and wakes the iterator directly (a futex on Linux, a byte to its pipe
/// elsewhere).
pub(crate) struct Queue {
    tally: Tally,
    /// Linux: where the iterator sleeps.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    sleeper: Sleeper,
    /// The write end of the iterator's pipe, non-blocking. Closed only when
    /// the last slot referring to this queue is freed.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    wake: OwnedFd,
}

/// What a `Signals` iterator sleeps on until its queue is woken.
pub(crate) struct QueueWait {
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pipe: std::io::PipeReader,
}

impl Queue {
    /// A queue, and what its iterator waits on.
    pub(crate) fn new() -> io::Result<(Arc<Queue>, QueueWait)> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let queue = Queue {
                tally: Tally::new(),
                sleeper: Sleeper::new(SysFutex),
            };
            Ok((Arc::new(queue), QueueWait {}))
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let (reader, writer) = std::io::pipe()?;
            super::pipe::set_nonblocking(writer.as_fd(), true)?;
            let queue = Queue {
                tally: Tally::new(),
                wake: OwnedFd::from(writer),
            };
            Ok((Arc::new(queue), QueueWait { pipe: reader }))
        }
    }

    /// `f(signal, count)` for each signal delivered since the last call.
    pub(crate) fn take(&self, f: impl FnMut(i32, u32)) {
        self.tally.take(f)
    }

    /// Signal context: counts a delivery and wakes the iterator.
    fn deliver(&self, idx: usize) {
        self.tally.note(idx);
        #[cfg(any(target_os = "linux", target_os = "android"))]
        self.sleeper.wake();
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        wake(self.wake.as_raw_fd(), idx as c_int);
    }
}

impl QueueWait {
    /// Sleeps until `queue` is woken or `timeout` passes (`None`: no
    /// limit). Returns early, spuriously, at times: the caller looks at the
    /// queue and decides.
    pub(crate) fn wait(&mut self, queue: &Queue, timeout: Option<Duration>) -> io::Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            queue
                .sleeper
                .sleep_unless_noted(|| !queue.tally.is_empty(), timeout);
            Ok(())
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = queue;
            crate::sys::wait_wake_pipe(&mut self.pipe, timeout)
        }
    }
}

/// Linux: the wake-up protocol (in [`sleeper`], modelled under loom)
/// on the real futex.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod sleeper;

/// Linux: `FUTEX_WAIT`/`FUTEX_WAKE` on a private futex word.
#[cfg(any(target_os = "linux", target_os = "android"))]
struct SysFutex;

#[cfg(any(target_os = "linux", target_os = "android"))]
impl sleeper::Futex for SysFutex {
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        let ts = timeout.map(timespec);
        let ts_ptr = ts
            .as_ref()
            .map_or(ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: FUTEX_WAIT on a live, aligned 32-bit word, with a
        // relative timeout that outlives the call (or none).
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                ts_ptr,
            )
        };
    }

    fn wake_one(&self, word: &AtomicU32) {
        // SAFETY: FUTEX_WAKE on a live, aligned 32-bit word; a raw system
        // call, so async-signal-safe.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                1,
            )
        };
    }
}

/// Where a thread sleeps until the low-level handler counts a delivery
/// for it.
#[cfg(any(target_os = "linux", target_os = "android"))]
type Sleeper = sleeper::Sleeper<SysFutex>;

/// What procctl does for one signal, in signal context.
#[derive(Default)]
pub(crate) struct Actions {
    /// Set to `true`.
    pub(crate) flags: Vec<Arc<AtomicBool>>,
    /// Counted into, and woken.
    pub(crate) queues: Vec<Arc<Queue>>,
    /// Counted for the dispatcher thread, which is woken.
    pub(crate) dispatch: bool,
}

/// Everything the low-level handler needs for one signal. Immutable once
/// published.
struct Slot {
    /// The action to chain to (installed before procctl's).
    prev: libc::sigaction,
    /// `prev` had `SA_RESETHAND` and has run: the kernel would have reset
    /// it to `SIG_DFL`, so it is not chained to again.
    prev_spent: AtomicBool,
    flags: Box<[Arc<AtomicBool>]>,
    queues: Box<[Arc<Queue>]>,
    dispatch: bool,
}

impl Slot {
    fn new(prev: libc::sigaction, actions: Actions) -> *mut Slot {
        Box::into_raw(Box::new(Slot {
            prev,
            prev_spent: AtomicBool::new(false),
            flags: actions.flags.into_boxed_slice(),
            queues: actions.queues.into_boxed_slice(),
            dispatch: actions.dispatch,
        }))
    }

    /// The action procctl stands for now: `prev`, or `SIG_DFL` once a
    /// `SA_RESETHAND` handler has run.
    fn current_prev(&self) -> libc::sigaction {
        if self.prev_spent.load(SeqCst) {
            // SAFETY: all-zero is a valid sigaction (empty mask, no flags),
            // and SIG_DFL is 0.
            let mut dfl: libc::sigaction = unsafe { std::mem::zeroed() };
            dfl.sa_sigaction = libc::SIG_DFL;
            return dfl;
        }
        self.prev
    }

    /// Signal context: the handler to chain to for this delivery, if any.
    /// A `SA_RESETHAND` one is handed out once.
    fn take_chain(&self) -> Option<(libc::sighandler_t, c_int)> {
        let prev = &self.prev;
        if prev.sa_sigaction == libc::SIG_DFL || prev.sa_sigaction == libc::SIG_IGN {
            return None;
        }
        if prev.sa_flags & libc::SA_RESETHAND != 0 && self.prev_spent.swap(true, SeqCst) {
            return None;
        }
        Some((prev.sa_sigaction, prev.sa_flags))
    }
}

static SLOTS: [AtomicPtr<Slot>; NSIG] = [const { AtomicPtr::new(ptr::null_mut()) }; NSIG];
/// Handlers between loading a slot and being done with it.
static READERS: AtomicUsize = AtomicUsize::new(0);
/// Deliveries for the dispatcher thread.
static DISPATCH: Tally = Tally::new();
/// The write end of the dispatcher's wake pipe (non-blocking), or -1.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
static DISPATCH_WAKE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);
/// Linux: where the dispatcher sleeps.
#[cfg(any(target_os = "linux", target_os = "android"))]
static DISPATCH_SLEEPER: Sleeper = Sleeper::new(SysFutex);
/// Serialises every change to `SLOTS` and to the installed handlers.
static HOOK_LOCK: Mutex<()> = Mutex::new(());

extern "C" fn low_level_handler(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // Only async-signal-safe work here: atomics, write(2), and the chained
    // handler, which its installer vouched for.
    let saved_errno = Errno::last_raw();
    let idx = sig as usize;
    if idx < NSIG {
        READERS.fetch_add(1, SeqCst);
        let slot = SLOTS[idx].load(SeqCst);
        let prev = if slot.is_null() {
            None
        } else {
            // SAFETY: a published slot is freed only after READERS dropped
            // to zero, and we counted ourselves in before loading it.
            let slot = unsafe { &*slot };
            for flag in slot.flags.iter() {
                flag.store(true, SeqCst);
            }
            for queue in slot.queues.iter() {
                queue.deliver(idx);
            }
            if slot.dispatch {
                DISPATCH.note(idx);
                wake_dispatcher(sig);
            }
            slot.take_chain()
        };
        READERS.fetch_sub(1, SeqCst);
        if let Some((handler, flags)) = prev {
            chain(sig, info, ctx, handler, flags);
        }
    }
    Errno::set_raw(saved_errno);
}

/// Calls the handler that was installed before procctl's. `SIG_DFL` and
/// `SIG_IGN` are not chained: registering a handler replaces the default
/// action, as Python's `signal.signal` does.
fn chain(
    sig: c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
    handler: libc::sighandler_t,
    flags: c_int,
) {
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN || handler == ours() {
        return;
    }
    // SAFETY: the previous action was installed by its owner with these
    // flags, so the address is a handler of the kind SA_SIGINFO says; we
    // call it as the kernel would have, in signal context.
    match unsafe { to_handler(handler, flags) } {
        SigHandler::SigAction(f) => f(sig, info, ctx),
        SigHandler::Handler(f) => f(sig),
        SigHandler::Default | SigHandler::Ignore => {}
    }
}

/// Publishes `new` for `sig` and frees the slot it replaces once no handler
/// can still be reading it.
fn publish(sig: usize, new: *mut Slot) {
    let old = SLOTS[sig].swap(new, SeqCst);
    if old.is_null() {
        return;
    }
    while READERS.load(SeqCst) != 0 {
        std::thread::yield_now();
    }
    // SAFETY: `old` came from Box::into_raw, is no longer published, and no
    // handler that could have loaded it is still running.
    drop(unsafe { Box::from_raw(old) });
}

fn check_index(sig: i32) -> io::Result<usize> {
    usize::try_from(sig)
        .ok()
        .filter(|&i| i > 0 && i < NSIG)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    HOOK_LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The action procctl chains to for signal `idx`, if procctl hooked it.
/// Only call with `HOOK_LOCK` held.
fn hooked_prev(idx: usize) -> Option<libc::sigaction> {
    let slot = SLOTS[idx].load(SeqCst);
    // SAFETY: slots only change (and are freed) under HOOK_LOCK, which the
    // caller holds, so a non-null slot is alive.
    (!slot.is_null()).then(|| unsafe { (*slot).current_prev() })
}

/// The flags of the previous handler that procctl's takes over when it
/// chains to a function: how the kernel runs the handler (`SA_RESTART`,
/// `SA_NODEFER`, `SA_ONSTACK`) and, for `SIGCHLD`, when it sends the
/// signal (`SA_NOCLDSTOP`, `SA_NOCLDWAIT`). `SA_RESETHAND` is emulated by
/// chaining once; `SA_SIGINFO` is procctl's own.
const KEPT_FLAGS: c_int = libc::SA_RESTART
    | libc::SA_NODEFER
    | libc::SA_ONSTACK
    | libc::SA_NOCLDSTOP
    | libc::SA_NOCLDWAIT;

/// The action that installs procctl's low-level handler in place of
/// `prev`: with `prev`'s mask and flags (see [`KEPT_FLAGS`]) when `prev` is
/// a function it chains to, so that function runs as its owner asked;
/// `SA_RESTART` and an empty mask otherwise.
fn our_action(prev: &libc::sigaction) -> libc::sigaction {
    // SAFETY: all-zero is a valid sigaction (empty mask, no flags).
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = ours();
    if prev.sa_sigaction == libc::SIG_DFL || prev.sa_sigaction == libc::SIG_IGN {
        act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        act.sa_mask = empty_raw();
    } else {
        act.sa_flags = libc::SA_SIGINFO | (prev.sa_flags & KEPT_FLAGS);
        act.sa_mask = prev.sa_mask;
    }
    act
}

/// Makes procctl's low-level handler do `actions` for `sig`, installing it
/// as the disposition if needed.
///
/// - First use: the current disposition becomes the one to chain to and to
///   restore in [`unhook`].
/// - procctl's handler is installed: only the actions change.
/// - Someone set `SIG_DFL` or `SIG_IGN` since (`ignore`, `default`): procctl
///   installs its handler again, with that as the one to restore.
/// - Someone installed another function since: it is left in place, as it
///   may be chaining to procctl's handler (installing ours over it would
///   then make the two call each other for ever). Only the actions change.
pub(crate) fn hook(sig: i32, actions: Actions) -> io::Result<()> {
    let idx = check_index(sig)?;
    let _lock = lock();
    let current = query(sig)?;
    let ours_installed = current.sa_sigaction == ours();
    let simple = current.sa_sigaction == libc::SIG_DFL || current.sa_sigaction == libc::SIG_IGN;
    let (prev, install) = match hooked_prev(idx) {
        None => (current, !ours_installed),
        Some(prev) if ours_installed || !simple => (prev, false),
        Some(_) => (current, true),
    };
    publish(idx, Slot::new(prev, actions));
    if !install {
        return Ok(());
    }
    let act = our_action(&prev);
    // SAFETY: low_level_handler is async-signal-safe and its slot is
    // published.
    if let Err(e) = cvt(unsafe { libc::sigaction(sig, &act, ptr::null_mut()) }) {
        publish(idx, ptr::null_mut());
        return Err(e);
    }
    Ok(())
}

/// Changes what the low-level handler does for `sig`, without touching the
/// disposition. Nothing happens if `sig` was never hooked. Once this
/// returns, no handler uses the old actions any more.
pub(crate) fn update(sig: i32, actions: Actions) -> io::Result<()> {
    let idx = check_index(sig)?;
    let _lock = lock();
    if let Some(prev) = hooked_prev(idx) {
        publish(idx, Slot::new(prev, actions));
    }
    Ok(())
}

/// procctl no longer needs `sig`: restores the disposition it replaced, if
/// procctl's handler is still the one installed. If someone installed
/// another disposition since, it is left alone, and procctl's handler (if
/// that someone chains to it) keeps chaining to the old one.
pub(crate) fn unhook(sig: i32) -> io::Result<()> {
    let idx = check_index(sig)?;
    let _lock = lock();
    let Some(prev) = hooked_prev(idx) else {
        return Ok(());
    };
    if query(sig)?.sa_sigaction == ours() {
        // SAFETY: prev is the action the kernel gave us for this signal.
        cvt(unsafe { libc::sigaction(sig, &prev, ptr::null_mut()) })?;
        publish(idx, ptr::null_mut());
    } else {
        publish(idx, Slot::new(prev, Actions::default()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// fork
// ---------------------------------------------------------------------------

thread_local! {
    /// `HOOK_LOCK`, held by the forking thread from the `pthread_atfork`
    /// prepare handler until the parent or child handler.
    static HOOK_HELD: std::cell::RefCell<Option<std::sync::MutexGuard<'static, ()>>> =
        const { std::cell::RefCell::new(None) };
}

/// Registers procctl's `pthread_atfork` handlers, once per process (they
/// then run for every `fork`: procctl's, std's, a raw `libc::fork`).
///
/// - prepare (parent, before the fork): takes procctl's registry lock
///   (`before`) and `HOOK_LOCK`, so that no other thread holds them, half
///   way through a change, when the process is copied;
/// - parent: releases both;
/// - child: see [`reset_in_child`]; then releases `HOOK_LOCK` and calls
///   `child` (which releases the registry lock).
///
/// A raw `fork` called from a signal handler that interrupted procctl while
/// it held one of these locks would wait for ever in the prepare handler;
/// `fork` in a signal handler is not something POSIX still promises to work
/// once `pthread_atfork` handlers exist.
pub(crate) fn install_fork_handlers(before: fn(), parent: fn(), child: fn()) -> io::Result<()> {
    use std::sync::atomic::Ordering;
    /// The registry's parts (prepare, parent, child), as addresses: plain
    /// atomics, which a fork can never copy half written (a `OnceLock`
    /// being set by another thread at the fork would make the child's
    /// first `set` wait for ever).
    static HOOKS: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];
    static REGISTERED: super::atfork::AtforkOnce = super::atfork::AtforkOnce::new();

    fn hook(i: usize) -> Option<fn()> {
        match HOOKS[i].load(Ordering::Acquire) {
            0 => None,
            // SAFETY: a non-zero value was stored from a `fn()` below.
            addr => Some(unsafe { std::mem::transmute::<usize, fn()>(addr) }),
        }
    }
    extern "C" fn prepare() {
        if let Some(before) = hook(0) {
            before();
        }
        let held = lock();
        HOOK_HELD.with(|h| *h.borrow_mut() = Some(held));
    }
    extern "C" fn in_parent() {
        HOOK_HELD.with(|h| h.borrow_mut().take());
        if let Some(parent) = hook(1) {
            parent();
        }
    }
    extern "C" fn in_child() {
        REGISTERED.in_child();
        reset_in_child();
        HOOK_HELD.with(|h| h.borrow_mut().take());
        if let Some(child) = hook(2) {
            child();
        }
    }

    // The same three functions every time: storing them again is harmless.
    for (slot, f) in HOOKS.iter().zip([before, parent, child]) {
        slot.store(f as usize, Ordering::Release);
    }
    // The child handler only makes async-signal-safe calls (atomics,
    // sigaction) and releases locks its own thread took in prepare.
    REGISTERED.register(prepare, in_parent, in_child)
}

/// The child of a `fork`, in the `pthread_atfork` child handler, with
/// `HOOK_LOCK` held: async-signal-safe work only (atomics, `sigaction`),
/// no allocation, no free.
///
/// - No handler of another thread is between `READERS += 1` and `-= 1`
///   here (those threads do not exist): `READERS` is 0.
/// - Deliveries counted for the dispatcher or a queue are the parent's
///   (the kernel does not hand a child its parent's pending signals
///   either): forgotten. Nobody sleeps on a futex word; the dispatcher's
///   wake pipe (elsewhere than Linux) is the parent's: no longer written.
/// - The dispatcher thread does not exist in the child, so closures would
///   never run: a signal whose only registrations are closures gets back
///   the disposition procctl replaced (if procctl's handler is the one
///   installed), and procctl forgets it had hooked it (its slot is leaked:
///   freeing is not allowed here). A signal that also has flags or
///   iterators keeps procctl's handler, which needs no thread for them.
///   The registry drops the closures the next time it is used.
fn reset_in_child() {
    READERS.store(0, SeqCst);
    DISPATCH.clear();
    #[cfg(any(target_os = "linux", target_os = "android"))]
    DISPATCH_SLEEPER.reset();
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    DISPATCH_WAKE.store(-1, SeqCst);
    for (idx, slot_ptr) in SLOTS.iter().enumerate() {
        let raw = slot_ptr.load(SeqCst);
        if raw.is_null() {
            continue;
        }
        // SAFETY: slots are freed only under HOOK_LOCK, which this thread
        // holds (taken in the prepare handler), so a published slot is
        // alive.
        let slot = unsafe { &*raw };
        for queue in slot.queues.iter() {
            queue.tally.clear();
            #[cfg(any(target_os = "linux", target_os = "android"))]
            queue.sleeper.reset();
        }
        if !slot.dispatch || !slot.flags.is_empty() || !slot.queues.is_empty() {
            continue;
        }
        let sig = idx as c_int;
        if query(sig).is_ok_and(|now| now.sa_sigaction == ours()) {
            let prev = slot.current_prev();
            // SAFETY: prev is an action the kernel gave us for this
            // signal (or SIG_DFL); sigaction is async-signal-safe.
            if unsafe { libc::sigaction(sig, &prev, ptr::null_mut()) } == 0 {
                slot_ptr.store(ptr::null_mut(), SeqCst);
            }
        }
    }
}

/// Signal context: wakes the dispatcher thread after a delivery was
/// counted for it. On Linux a futex: one `FUTEX_WAKE`, and only while the
/// dispatcher sleeps (a pipe costs a write here and a read there, and the
/// kernel's pipe locking on both sides).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn wake_dispatcher(_sig: c_int) {
    DISPATCH_SLEEPER.wake();
}

/// Signal context: wakes the dispatcher thread after a delivery was
/// counted for it, with one byte to its pipe.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn wake_dispatcher(sig: c_int) {
    let fd = DISPATCH_WAKE.load(SeqCst);
    if fd >= 0 {
        wake(fd, sig);
    }
}

/// What the dispatcher thread sleeps on until the low-level handler counts
/// a delivery for it: a futex on Linux, a pipe elsewhere.
pub(crate) struct DispatchWait {
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pipe: std::io::PipeReader,
}

impl DispatchWait {
    /// Blocks until a delivery may have been counted since the last
    /// [`take_deliveries`]. Wake-ups may be spurious; an error means the
    /// dispatcher should stop.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn wait(&mut self) -> io::Result<()> {
        DISPATCH_SLEEPER.sleep_unless_noted(|| !DISPATCH.is_empty(), None);
        Ok(())
    }

    /// Blocks until a delivery may have been counted since the last
    /// [`take_deliveries`]. Wake-ups may be spurious; an error means the
    /// dispatcher should stop.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn wait(&mut self) -> io::Result<()> {
        crate::sys::read_wake_pipe(&mut self.pipe)
    }
}

/// Sets up what the dispatcher thread of this process sleeps on. Elsewhere
/// than Linux: a new wake pipe, its non-blocking write end given to the
/// low-level handler (the previous one, if any, made before a `fork`, is
/// left open).
pub(crate) fn new_dispatch_wait() -> io::Result<DispatchWait> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        Ok(DispatchWait {})
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        use std::os::fd::IntoRawFd;
        let (reader, writer) = std::io::pipe()?;
        super::pipe::set_nonblocking(writer.as_fd(), true)?;
        DISPATCH_WAKE.store(writer.into_raw_fd(), SeqCst);
        Ok(DispatchWait { pipe: reader })
    }
}

/// Takes the dispatcher's deliveries counted since the last call:
/// `f(signal, count)` for each signal delivered at least once.
pub(crate) fn take_deliveries(f: impl FnMut(i32, u32)) {
    DISPATCH.take(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_round_trip_through_the_kernel_form() {
        let set: SigSet = [Signal::INT, Signal::USR1, Signal::TERM]
            .into_iter()
            .collect();
        assert_eq!(from_raw_set(&raw_set(&set)), set);
        assert_eq!(from_raw_set(&raw_set(&SigSet::all())), SigSet::all());
        assert_eq!(from_raw_set(&empty_raw()), SigSet::empty());
    }
}
