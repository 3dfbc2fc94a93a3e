//! Safe handlers: [`register`], [`register_flag`], [`unregister`], and the
//! plain dispositions [`ignore`], [`default`], [`disposition`].
//!
//! One registry (a `Mutex`) holds every registration. For each hooked
//! signal it tells the low-level handler in `sys` which flags to set, which
//! [`Signals`](super::Signals) queues to count into and wake, and whether
//! to wake the dispatcher: a thread, started on the first [`register`],
//! that sleeps (on a futex on Linux, a pipe elsewhere) and runs the closures registered for the signals
//! that arrived. Flags and queues need no thread.
//!
//! Whether a closure may start is decided under the registry lock: the
//! dispatcher checks the registration's `live` bit and records it as
//! `running` in one critical section, [`unregister`] clears the bit in
//! another, then waits (on a condition variable) while its registration
//! is the running one. A `pthread_atfork` handler takes the registry lock
//! around every `fork` and, in the child, marks it `forked`: the child has
//! no dispatcher, so the parent's closures are dropped there.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;

use super::{os_error, refuse_uncatchable, refuse_unhandleable};
use crate::{Error, Result, Signal, sys};

/// Identifies one registration made by [`register`] or [`register_flag`];
/// pass it to [`unregister`].
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::{Signal, signal};
/// let id = signal::register(Signal::USR1, |_| {})?;
/// assert_eq!(id.signal(), Signal::USR1);
/// assert!(signal::unregister(id));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SigId {
    sig: Signal,
    id: u64,
}

impl SigId {
    /// The signal this registration is for.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use procctl::{Signal, signal};
    /// let id = signal::register(Signal::USR2, |_| {})?;
    /// assert_eq!(id.signal(), Signal::USR2);
    /// signal::unregister(id);
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn signal(&self) -> Signal {
        self.sig
    }
}

/// A closure from [`register`].
type Callback = Arc<dyn Fn(Signal) + Send + Sync>;

/// A registered closure, as the dispatcher holds it.
struct Call {
    id: u64,
    f: Callback,
    /// Cleared by [`unregister`]; read and written only with the registry
    /// locked, so that "still registered" and "now running" are decided
    /// together.
    live: AtomicBool,
}

/// One registration.
pub(crate) enum Kind {
    /// A closure, run by the dispatcher thread.
    Call(Callback),
    /// A flag, set in signal context.
    Flag(Arc<AtomicBool>),
    /// The queue of a [`Signals`](super::Signals) iterator, counted into
    /// and woken in signal context.
    Queue(Arc<sys::signal::Queue>),
}

/// The registrations of one signal.
#[derive(Default)]
struct Entries {
    calls: Vec<Arc<Call>>,
    flags: Vec<(u64, Arc<AtomicBool>)>,
    queues: Vec<(u64, Arc<sys::signal::Queue>)>,
    /// `calls` as the dispatcher reads it: cloned out of the lock.
    snapshot: Arc<[Arc<Call>]>,
}

impl Entries {
    fn is_empty(&self) -> bool {
        self.calls.is_empty() && self.flags.is_empty() && self.queues.is_empty()
    }

    fn len(&self) -> usize {
        self.calls.len() + self.flags.len() + self.queues.len()
    }

    fn add(&mut self, id: u64, kind: Kind) {
        match kind {
            Kind::Call(f) => self.calls.push(Arc::new(Call {
                id,
                f,
                live: AtomicBool::new(true),
            })),
            Kind::Flag(flag) => self.flags.push((id, flag)),
            Kind::Queue(queue) => self.queues.push((id, queue)),
        }
        self.refresh();
    }

    fn remove(&mut self, id: u64) -> bool {
        let before = self.len();
        self.calls.retain(|call| {
            let keep = call.id != id;
            if !keep {
                call.live.store(false, SeqCst);
            }
            keep
        });
        self.flags.retain(|(i, _)| *i != id);
        self.queues.retain(|(i, _)| *i != id);
        self.refresh();
        self.len() != before
    }

    fn refresh(&mut self) {
        self.snapshot = self.calls.iter().map(Arc::clone).collect();
    }

    /// What the low-level handler must do for this signal.
    fn actions(&self) -> sys::signal::Actions {
        sys::signal::Actions {
            flags: self.flags.iter().map(|(_, f)| Arc::clone(f)).collect(),
            queues: self.queues.iter().map(|(_, q)| Arc::clone(q)).collect(),
            dispatch: !self.calls.is_empty(),
        }
    }
}

struct Registry {
    next_id: u64,
    by_signal: BTreeMap<i32, Entries>,
    /// The process whose dispatcher thread is running (a forked child has
    /// the parent's registry but not its threads).
    dispatcher_pid: Option<u32>,
    /// The dispatcher thread, so that [`unregister`] called from a handler
    /// does not wait for itself.
    dispatcher: Option<ThreadId>,
    /// The registration whose closure the dispatcher is running.
    running: Option<u64>,
    /// Threads in [`unregister`] waiting for `running` to change.
    waiting: usize,
    /// Set in the child of a `fork`: the closures belong to the parent's
    /// dispatcher and are dropped (leaked) on the next use.
    forked: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next_id: 0,
    by_signal: BTreeMap::new(),
    dispatcher_pid: None,
    dispatcher: None,
    running: None,
    waiting: 0,
    forked: false,
});

/// Signalled when the dispatcher finishes a call and someone waits.
static CALL_DONE: Condvar = Condvar::new();

fn registry() -> MutexGuard<'static, Registry> {
    // No user code runs under the lock, so it is never poisoned in a way
    // that leaves the registry inconsistent.
    let mut reg = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    if reg.forked {
        reg.forget_closures();
    }
    reg
}

#[cfg(unix)]
thread_local! {
    /// The registry, locked by the forking thread from the `pthread_atfork`
    /// prepare handler until the parent or child handler.
    static HELD_FOR_FORK: std::cell::RefCell<Option<MutexGuard<'static, Registry>>> =
        const { std::cell::RefCell::new(None) };
}

/// `pthread_atfork` prepare: no other thread may hold the registry, half
/// way through a change, when the process is copied.
#[cfg(unix)]
fn before_fork() {
    let reg = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    HELD_FOR_FORK.with(|h| *h.borrow_mut() = Some(reg));
}

/// `pthread_atfork` parent: releases the registry.
#[cfg(unix)]
fn after_fork_in_parent() {
    HELD_FOR_FORK.with(|h| h.borrow_mut().take());
}

/// `pthread_atfork` child: the dispatcher thread does not exist here, nor
/// does any call it was running or any thread waiting for one. Only plain
/// stores (no allocation); the closures are dropped on the next use of the
/// registry ([`Registry::forget_closures`]). Then releases the registry.
#[cfg(unix)]
fn after_fork_in_child() {
    HELD_FOR_FORK.with(|h| {
        if let Some(reg) = h.borrow_mut().as_mut() {
            reg.dispatcher_pid = None;
            reg.dispatcher = None;
            reg.running = None;
            reg.waiting = 0;
            reg.forked = true;
        }
        h.borrow_mut().take();
    });
}

impl Registry {
    /// The child of a `fork`: closures registered in the parent do not
    /// survive (see [`register`]). They are leaked, not dropped: their
    /// destructors belong to the parent's objects. The low-level handler
    /// stops counting for them, and a signal left with no registration
    /// gets back its old disposition (the `pthread_atfork` child handler
    /// already restored it where closures were its only registrations).
    fn forget_closures(&mut self) {
        self.forked = false;
        let mut emptied = Vec::new();
        for (&raw, entries) in self.by_signal.iter_mut() {
            if entries.calls.is_empty() {
                continue;
            }
            std::mem::forget(std::mem::take(&mut entries.calls));
            std::mem::forget(std::mem::replace(&mut entries.snapshot, Arc::from([])));
            if entries.is_empty() {
                emptied.push(raw);
            } else {
                let _ = sys::signal::update(raw, entries.actions());
            }
        }
        for raw in emptied {
            self.by_signal.remove(&raw);
            let _ = sys::signal::unhook(raw);
        }
    }

    fn ensure_dispatcher(&mut self) -> Result<()> {
        let me = std::process::id();
        if self.dispatcher_pid == Some(me) {
            return Ok(());
        }
        let wake = sys::signal::new_dispatch_wait().map_err(|e| os_error("pipe", e))?;
        // The dispatcher blocks every signal, so that it never runs the
        // low-level handler itself and never takes a signal that the other
        // threads block (to wait for it, or to have it delivered later).
        let saved = sys::signal::block_all().map_err(|e| os_error("pthread_sigmask", e))?;
        let spawned = std::thread::Builder::new()
            .name("procctl-signal".into())
            .spawn(move || dispatch(wake));
        let _ = sys::signal::restore_mask(&saved);
        let handle = spawned.map_err(|e| os_error("pthread_create", e))?;
        self.dispatcher = Some(handle.thread().id());
        self.dispatcher_pid = Some(me);
        Ok(())
    }

    fn calls(&self, sig: i32) -> Arc<[Arc<Call>]> {
        self.by_signal
            .get(&sig)
            .map_or_else(|| Arc::from([]), |e| Arc::clone(&e.snapshot))
    }
}

/// The dispatcher thread: waits for the low-level handler's wake-up,
/// then runs the closures of each counted signal, once per delivery.
fn dispatch(mut wake: sys::signal::DispatchWait) {
    loop {
        if wake.wait().is_err() {
            return;
        }
        sys::signal::take_deliveries(|raw, count| {
            let Some(sig) = Signal::from_raw(raw) else {
                return;
            };
            let calls = registry().calls(raw);
            for _ in 0..count {
                for call in calls.iter() {
                    if !start(call) {
                        continue;
                    }
                    // A panicking handler has its message printed by the
                    // panic hook and must not take the dispatcher (and
                    // every other handler) down with it.
                    let _ = catch_unwind(AssertUnwindSafe(|| (call.f)(sig)));
                    finish();
                }
            }
        });
    }
}

/// Marks `call` as running, unless it was unregistered: decided under the
/// registry lock, so that once [`unregister`] has cleared `live` (under the
/// same lock) the call never starts again.
fn start(call: &Call) -> bool {
    let mut reg = registry();
    if !call.live.load(SeqCst) {
        return false;
    }
    reg.running = Some(call.id);
    true
}

/// The running call returned: wakes an [`unregister`] waiting for it.
fn finish() {
    let mut reg = registry();
    reg.running = None;
    if reg.waiting > 0 {
        CALL_DONE.notify_all();
    }
}

/// Adds a registration for `sig` and (re)installs procctl's hook.
pub(crate) fn add(sig: Signal, kind: Kind) -> Result<SigId> {
    if !sys::signal::HANDLERS_SUPPORTED {
        return Err(Error::Unsupported {
            what: "signal handlers",
        });
    }
    #[cfg(unix)]
    sys::signal::install_fork_handlers(before_fork, after_fork_in_parent, after_fork_in_child)
        .map_err(|e| os_error("pthread_atfork", e))?;
    let mut reg = registry();
    if matches!(kind, Kind::Call(_)) {
        reg.ensure_dispatcher()?;
    }
    let id = reg.next_id;
    reg.next_id += 1;
    let raw = sig.as_raw();
    let entries = reg.by_signal.entry(raw).or_default();
    entries.add(id, kind);
    let hooked = sys::signal::hook(raw, entries.actions());
    if let Err(e) = hooked {
        entries.remove(id);
        if entries.is_empty() {
            reg.by_signal.remove(&raw);
        }
        return Err(os_error("sigaction", e));
    }
    Ok(SigId { sig, id })
}

/// `sigaction(sig, handler)` done safely: runs `handler` on procctl's
/// dispatcher thread each time `sig` arrives, never in signal context.
///
/// The handler is any closure: it may allocate, lock, print, send on a
/// channel. Several handlers may be registered for one signal; each runs,
/// in the order registered, once per delivery. The dispatcher is one thread
/// for the whole process, started by the first `register` (so
/// [`proc::fork`](crate::proc::fork) refuses from then on: the process is
/// multi-threaded); a slow handler delays the others.
///
/// How many times it runs:
///
/// - real-time signals ([`Signal::rt`]) are queued by the kernel and
///   counted here: a burst of N of them runs the handler N times;
/// - standard signals that arrive while one of the same kind is still
///   pending in the kernel merge into one (POSIX); each one the kernel
///   delivers runs the handler once.
///
/// On the first registration for `sig`, procctl installs its low-level
/// handler, remembering the disposition it replaces. If that was a function
/// (another library's handler), procctl's low-level handler calls it too,
/// after noting the signal, so nobody's handler is silently stolen, and it
/// keeps what that function was installed with, as far as one handler for
/// the whole process can:
///
/// - procctl's handler is installed with the old one's `sa_mask` and its
///   `SA_RESTART`, `SA_NODEFER` and `SA_ONSTACK` (and, for `SIGCHLD`,
///   `SA_NOCLDSTOP`, `SA_NOCLDWAIT`), so the old function runs with the
///   signals it asked to have blocked, on the stack it asked for, and a
///   system call the signal interrupts fails with `EINTR` or restarts as
///   it chose. Those flags then apply to the whole delivery, procctl's part
///   included: registering on top of a handler without `SA_RESTART` makes
///   that signal interrupt system calls in every thread, as it did before;
/// - `SA_RESETHAND`: the old function is called for the first delivery
///   only; from then on procctl acts as if it had found `SIG_DFL` (it stops
///   chaining, and the last [`unregister`] restores `SIG_DFL`, as the kernel
///   would have). What cannot be kept: the kernel's reset is what makes the
///   *next* delivery take the default action (end the process, for most
///   signals); with procctl's handler installed the next delivery runs the
///   registered handlers instead;
/// - the old handler is called with the `siginfo_t` and context the kernel
///   gave procctl's (a one-argument handler with the signal number only).
///
/// With no function to chain to, procctl's handler is installed with
/// `SA_RESTART` and an empty mask. A previous `SIG_IGN` or `SIG_DFL` is
/// replaced, not imitated: registering a handler for `SIGTERM` stops
/// `SIGTERM` from ending the process, as in Python. When the last
/// registration for `sig` is removed, the old disposition comes back
/// (exactly as it was, flags and mask included).
/// The low-level handler preserves `errno`.
///
/// If other code installs its own handler over procctl's later (another
/// library, a raw [`sigaction`](super::sigaction)), procctl leaves it in
/// place, even on the next `register`: that code may be chaining to
/// procctl's handler, and taking the signal back would make the two call
/// each other. [`ignore`] and [`default`] are different: after them the
/// next `register` installs procctl's handler again.
///
/// Registration is thread-safe; handlers may call `register` and
/// [`unregister`] themselves. Handlers do not survive `exec`: the kernel
/// resets caught signals to their default action (ignored ones stay
/// ignored).
///
/// # Fork
///
/// Closures do not survive a `fork` (procctl's [`fork`](crate::proc::fork)
/// and [`fork_unchecked`](crate::proc::fork_unchecked), `std`'s, or a raw
/// `libc::fork`): the dispatcher thread does not exist in the child, and a
/// signal caught for a closure nobody runs would simply vanish. So in the
/// child, from a `pthread_atfork` handler that runs before `fork` returns
/// there:
///
/// - a signal whose only registrations are closures gets back the
///   disposition procctl replaced (`SIGTERM` ends the child again);
/// - a signal that also has a [`register_flag`] flag or a
///   [`Signals`](super::Signals) iterator keeps procctl's handler: those
///   need no thread and keep working in the child;
/// - deliveries counted in the parent and not yet handled are not the
///   child's (as the kernel's pending signals are not), and are dropped;
/// - the parent's closures are forgotten (leaked, never dropped in the
///   child: their captures belong to the parent); [`unregister`] of their
///   ids returns `false` there. A `register` in the child starts the
///   child's own dispatcher.
///
/// procctl's locks are taken around every `fork` (in the `pthread_atfork`
/// prepare handler) so that the child never inherits them held by a thread
/// that does not exist there.
///
/// # Errors
///
/// - [`Error::InvalidArgument`], naming the signal, for `SIGKILL` and
///   `SIGSTOP` (they cannot be caught) and for the synchronous fault
///   signals `SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE` (a handler that runs
///   later cannot fix the faulting instruction, which would fault again);
/// - [`Error::Os`] or [`Error::ResourceLimit`] if the pipe, the thread or
///   `sigaction` cannot be made;
/// - [`Error::Unsupported`] on Windows for any signal but `SIGINT` and
///   `SIGBREAK`.
///
/// # Platform notes
///
/// Windows: `SIGINT` and `SIGBREAK` (Ctrl+C, Ctrl+Break) through the console
/// control handler (`SetConsoleCtrlHandler`); other signals
/// `Error::Unsupported`. The control handler runs on a thread Windows
/// starts, not in signal context.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use procctl::{Signal, signal};
///
/// let (tx, rx) = mpsc::channel();
/// let id = signal::register(Signal::USR1, move |sig| {
///     println!("got {sig}"); // not in signal context: printing is fine
///     tx.send(sig).unwrap();
/// })?;
/// signal::raise(Signal::USR1)?;
/// assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(Signal::USR1));
/// assert!(signal::unregister(id));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[doc(alias = "signal")]
#[doc(alias = "sigaction")]
pub fn register<F>(sig: Signal, handler: F) -> Result<SigId>
where
    F: Fn(Signal) + Send + Sync + 'static,
{
    refuse_unhandleable(sig)?;
    add(sig, Kind::Call(Arc::new(handler)))
}

/// Sets `flag` to `true` each time `sig` arrives.
///
/// The flag is set in signal context by procctl's low-level handler, before
/// the signal-sending call returns when the signal is for the calling
/// thread, and no thread is started: a single-threaded program stays
/// single-threaded. Reset the flag yourself (`swap(false)`) to notice the
/// next signal. Everything else is as for [`register`]: chaining,
/// restoring on the last [`unregister`], the signals refused.
///
/// # Errors
///
/// As [`register`].
///
/// # Platform notes
///
/// As [`register`].
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use procctl::{Signal, signal};
///
/// let term = Arc::new(AtomicBool::new(false));
/// let id = signal::register_flag(Signal::TERM, Arc::clone(&term))?;
/// signal::raise(Signal::TERM)?;
/// assert!(term.load(Ordering::SeqCst)); // set before raise returned
/// assert_eq!(procctl::proc::thread_count(), Some(1));
/// signal::unregister(id);
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn register_flag(sig: Signal, flag: Arc<AtomicBool>) -> Result<SigId> {
    refuse_unhandleable(sig)?;
    add(sig, Kind::Flag(flag))
}

/// Removes the registration `id`; `true` the first time, `false` after
/// (or for an id that was never registered).
///
/// When the last registration for its signal goes, the disposition procctl
/// replaced is restored, if procctl's handler is still the installed one
/// (if somebody installed another disposition since, it is left alone).
///
/// Once `unregister` returns, the closure never starts again, even for
/// deliveries that were counted before and not yet handled. If it is
/// running on the dispatcher thread at that moment, `unregister` waits
/// until that call returns, so the caller may then free what the closure
/// uses. Two exceptions, where waiting would never end:
///
/// - called from a handler (on the dispatcher thread, for itself or any
///   other registration), it returns at once: the only running call is
///   the caller's own, which goes on until it returns;
/// - a closure that waits for the thread calling `unregister` (a lock that
///   thread holds, a message it would send afterwards) deadlocks with it,
///   as a thread joining a thread that waits for it does.
///
/// A flag or a [`Signals`](super::Signals) queue is no longer touched by
/// the low-level handler once this returns.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::{Signal, signal};
/// let before = signal::disposition(Signal::USR2)?;
/// let id = signal::register(Signal::USR2, |_| {})?;
/// assert!(signal::unregister(id));
/// assert!(!signal::unregister(id));
/// assert_eq!(signal::disposition(Signal::USR2)?, before);
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn unregister(id: SigId) -> bool {
    let mut reg = registry();
    let raw = id.sig.as_raw();
    let Some(entries) = reg.by_signal.get_mut(&raw) else {
        return false;
    };
    if !entries.remove(id.id) {
        return false;
    }
    if entries.is_empty() {
        reg.by_signal.remove(&raw);
        // Restoring can only fail for a signal the kernel accepted before.
        let _ = sys::signal::unhook(raw);
    } else {
        let _ = sys::signal::update(raw, entries.actions());
    }
    // A handler unregistering itself runs on the dispatcher thread: its
    // own call is the running one, and waiting for it would never end.
    if reg.running == Some(id.id) && reg.dispatcher != Some(std::thread::current().id()) {
        reg.waiting += 1;
        while reg.running == Some(id.id) {
            reg = CALL_DONE.wait(reg).unwrap_or_else(PoisonError::into_inner);
        }
        reg.waiting -= 1;
    }
    true
}

/// What the kernel does with a signal now, as told by [`disposition`].
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::{Signal, signal::{self, Disposition}};
/// signal::ignore(Signal::USR2)?;
/// assert_eq!(signal::disposition(Signal::USR2)?, Disposition::Ignore);
/// signal::default(Signal::USR2)?;
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Disposition {
    /// `SIG_DFL`: the default action (terminate, stop, ignore, core dump:
    /// it depends on the signal).
    Default,
    /// `SIG_IGN`: discarded.
    Ignore,
    /// procctl's handler: registered closures, flags or iterators.
    Procctl,
    /// A handler installed by other code (another library, a raw
    /// [`sigaction`](super::sigaction)).
    Other,
}

/// `sigaction(sig, NULL, &old)`: the current disposition of `sig`, like
/// Python's `signal.getsignal`.
///
/// # Errors
///
/// [`Error::Os`] if the kernel refuses (it does not for a valid signal);
/// [`Error::Unsupported`] on Windows for any signal but `SIGINT` and
/// `SIGBREAK`.
///
/// # Platform notes
///
/// Windows: what procctl set for `SIGINT`/`SIGBREAK` (`Procctl`, `Ignore`
/// or `Default`); other signals `Error::Unsupported`.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::{Signal, signal::{self, Disposition}};
/// assert_eq!(signal::disposition(Signal::TERM)?, Disposition::Default);
/// // Rust's runtime ignores SIGPIPE before `main`.
/// assert_eq!(signal::disposition(Signal::PIPE)?, Disposition::Ignore);
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[doc(alias = "getsignal")]
pub fn disposition(sig: Signal) -> Result<Disposition> {
    use sys::signal::Current;
    let current = sys::signal::disposition(sig.as_raw()).map_err(|e| os_error("sigaction", e))?;
    Ok(match current {
        Current::Default => Disposition::Default,
        Current::Ignore => Disposition::Ignore,
        Current::Ours => Disposition::Procctl,
        Current::Other => Disposition::Other,
    })
}

/// `sigaction(sig, SIG_IGN)`: discards `sig` from now on.
///
/// An ignored signal stays ignored in a program started with `exec`
/// (children inherit it). Ignoring `SIGCHLD` makes the kernel reap
/// children itself, so waiting for them fails with
/// [`Error::NoChildren`]. procctl handlers registered for `sig` stop
/// running; the next [`register`] for `sig` installs procctl's handler
/// again (and the last [`unregister`] then brings back `SIG_IGN`).
///
/// # Errors
///
/// - [`Error::InvalidArgument`], naming the signal, for `SIGKILL` and
///   `SIGSTOP`;
/// - [`Error::Os`] if the kernel refuses;
/// - [`Error::Unsupported`] on Windows for any signal but `SIGINT` and
///   `SIGBREAK`.
///
/// # Platform notes
///
/// Windows: `SIGINT` and `SIGBREAK` (Ctrl+C, Ctrl+Break) through the console
/// control handler (`SetConsoleCtrlHandler`); other signals
/// `Error::Unsupported`.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::{Error, Signal, signal};
/// signal::ignore(Signal::HUP)?;
/// signal::raise(Signal::HUP)?; // still alive
/// assert!(matches!(signal::ignore(Signal::KILL), Err(Error::InvalidArgument { .. })));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[doc(alias = "SIG_IGN")]
pub fn ignore(sig: Signal) -> Result<()> {
    refuse_uncatchable(sig)?;
    sys::signal::ignore(sig.as_raw()).map_err(|e| os_error("sigaction", e))
}

/// `sigaction(sig, SIG_DFL)`: the default action for `sig` from now on.
///
/// procctl handlers registered for `sig` stop running, as for [`ignore`].
///
/// # Errors
///
/// - [`Error::InvalidArgument`], naming the signal, for `SIGKILL` and
///   `SIGSTOP` (their action cannot be changed);
/// - [`Error::Os`] if the kernel refuses;
/// - [`Error::Unsupported`] on Windows for any signal but `SIGINT` and
///   `SIGBREAK`.
///
/// # Platform notes
///
/// Windows: `SIGINT` and `SIGBREAK` (Ctrl+C, Ctrl+Break) through the console
/// control handler (`SetConsoleCtrlHandler`); other signals
/// `Error::Unsupported`.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::{Signal, signal::{self, Disposition}};
/// signal::ignore(Signal::USR1)?;
/// signal::default(Signal::USR1)?;
/// assert_eq!(signal::disposition(Signal::USR1)?, Disposition::Default);
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[doc(alias = "SIG_DFL")]
pub fn default(sig: Signal) -> Result<()> {
    refuse_uncatchable(sig)?;
    sys::signal::default(sig.as_raw()).map_err(|e| os_error("sigaction", e))
}
