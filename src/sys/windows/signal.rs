//! Signals on Windows. Windows has no kernel signals; what it has is the
//! console control handler, which Windows runs on a new thread of ours
//! when Ctrl+C or Ctrl+Break is pressed. procctl's handlers, flags and
//! `Signals` iterators for `SIGINT` and `SIGBREAK` hang off one such
//! handler (`SetConsoleCtrlHandler`, declared by hand from kernel32).
//! Masks, sending to other processes and every other signal report
//! `Unsupported`. Same crate-private interface as `unix/signal.rs`.
//!
//! The control handler is an ordinary thread, not signal context: it may
//! lock and write to pipes, and it does.

use std::collections::BTreeMap;
use std::io::{self, PipeWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::time::Duration;

use crate::signal::SigSet;

/// Handlers can be registered, for `SIGINT` and `SIGBREAK`.
pub(crate) const HANDLERS_SUPPORTED: bool = true;

/// The C runtime's numbers (`Signal::INT`, `Signal::BREAK`).
const SIGINT: i32 = 2;
const SIGBREAK: i32 = 21;

/// `CTRL_C_EVENT`, `CTRL_BREAK_EVENT`.
const CTRL_C_EVENT: u32 = 0;
const CTRL_BREAK_EVENT: u32 = 1;

#[link(name = "kernel32")]
unsafe extern "system" {
    fn SetConsoleCtrlHandler(
        handler: Option<unsafe extern "system" fn(u32) -> i32>,
        add: i32,
    ) -> i32;
}

unsafe extern "C" {
    /// The C runtime's `raise`: runs the CRT's disposition (for `SIGINT`
    /// and `SIGBREAK` by default: exit with code 3).
    #[link_name = "raise"]
    fn crt_raise(sig: i32) -> i32;
}

fn unsupported<T>() -> io::Result<T> {
    Err(io::ErrorKind::Unsupported.into())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Index of a signal the console control handler can deliver.
fn index(sig: i32) -> io::Result<usize> {
    match sig {
        SIGINT => Ok(0),
        SIGBREAK => Ok(1),
        _ => unsupported(),
    }
}

/// A thread's signal mask (Windows has none).
pub(crate) struct SavedMask;

/// What happens to a signal now.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Current {
    Default,
    Ignore,
    Ours,
    Other,
}

pub(crate) fn block(_set: &SigSet) -> io::Result<SavedMask> {
    unsupported()
}

/// The dispatcher thread blocks nothing on Windows: there is nothing to
/// block, and the control handler runs on a thread of its own anyway.
pub(crate) fn block_all() -> io::Result<SavedMask> {
    Ok(SavedMask)
}

impl SavedMask {
    /// Nothing is ever blocked.
    pub(crate) fn to_set(&self) -> SigSet {
        SigSet::empty()
    }
}

pub(crate) fn unblock(_set: &SigSet) -> io::Result<()> {
    unsupported()
}

pub(crate) fn restore_mask(_saved: &SavedMask) -> io::Result<()> {
    Ok(())
}

pub(crate) fn current_mask() -> io::Result<SigSet> {
    unsupported()
}

pub(crate) fn pending() -> io::Result<SigSet> {
    unsupported()
}

pub(crate) fn wait_for(_set: &SigSet, _timeout: Option<Duration>) -> io::Result<Option<i32>> {
    unsupported()
}

/// `raise(sig)` for `SIGINT`/`SIGBREAK`: delivered in this process as a
/// Ctrl+C or Ctrl+Break would be, to procctl's handlers if there are any,
/// else to the C runtime's `raise` (whose default ends the process with
/// code 3, as C's `raise` does). Nothing reaches other processes on the
/// console. Other signals: `Unsupported`.
pub(crate) fn raise(sig: i32) -> io::Result<()> {
    index(sig)?;
    if deliver(sig) {
        return Ok(());
    }
    // SAFETY: the C runtime's raise with a signal number it knows.
    if unsafe { crt_raise(sig) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub(crate) fn kill(_pid: i32, _sig: i32) -> io::Result<()> {
    unsupported()
}

pub(crate) fn disposition(sig: i32) -> io::Result<Current> {
    let i = index(sig)?;
    let state = lock(&STATE);
    Ok(if state.slots[i].is_some() {
        Current::Ours
    } else if state.ignored[i] {
        Current::Ignore
    } else {
        Current::Default
    })
}

pub(crate) fn ignore(sig: i32) -> io::Result<()> {
    let i = index(sig)?;
    install()?;
    lock(&STATE).ignored[i] = true;
    Ok(())
}

pub(crate) fn default(sig: i32) -> io::Result<()> {
    let i = index(sig)?;
    let mut state = lock(&STATE);
    state.ignored[i] = false;
    state.slots[i] = None;
    Ok(())
}

/// Counts of deliveries per signal, and whether a wake-up is due.
#[derive(Default)]
struct Tally(Mutex<BTreeMap<i32, u32>>);

impl Tally {
    /// Counts one delivery; `true` if it is the first since the last take
    /// (a wake-up byte is needed; later ones would only fill the pipe).
    fn add(&self, sig: i32) -> bool {
        let mut t = lock(&self.0);
        let first = t.is_empty();
        *t.entry(sig).or_insert(0) += 1;
        first
    }

    fn take(&self, mut f: impl FnMut(i32, u32)) {
        let taken = std::mem::take(&mut *lock(&self.0));
        for (sig, count) in taken {
            f(sig, count);
        }
    }
}

/// The queue of one `Signals` iterator: counts, and a pipe to wake it.
pub(crate) struct Queue {
    tally: Tally,
    wake: Mutex<PipeWriter>,
}

/// What a `Signals` iterator sleeps on: the read end of its wake pipe.
pub(crate) struct QueueWait {
    pipe: std::io::PipeReader,
}

impl QueueWait {
    /// Sleeps until the queue is woken or `timeout` passes (`None`: no
    /// limit); may return early.
    pub(crate) fn wait(&mut self, _queue: &Queue, timeout: Option<Duration>) -> io::Result<()> {
        crate::sys::wait_wake_pipe(&mut self.pipe, timeout)
    }
}

impl Queue {
    /// A queue, and what its iterator waits on.
    pub(crate) fn new() -> io::Result<(Arc<Queue>, QueueWait)> {
        let (reader, writer) = std::io::pipe()?;
        let queue = Queue {
            tally: Tally::default(),
            wake: Mutex::new(writer),
        };
        Ok((Arc::new(queue), QueueWait { pipe: reader }))
    }

    /// `f(signal, count)` for each signal delivered since the last call.
    pub(crate) fn take(&self, f: impl FnMut(i32, u32)) {
        self.tally.take(f)
    }

    fn deliver(&self, sig: i32) {
        if self.tally.add(sig) {
            let _ = lock(&self.wake).write_all(&[0]);
        }
    }
}

/// What procctl does for one signal.
#[derive(Default)]
pub(crate) struct Actions {
    /// Set to `true`.
    pub(crate) flags: Vec<Arc<AtomicBool>>,
    /// Counted into, and woken.
    pub(crate) queues: Vec<Arc<Queue>>,
    /// Counted for the dispatcher thread, which is woken.
    pub(crate) dispatch: bool,
}

struct State {
    slots: [Option<Arc<Actions>>; 2],
    ignored: [bool; 2],
    dispatch_wake: Option<PipeWriter>,
}

static STATE: Mutex<State> = Mutex::new(State {
    slots: [None, None],
    ignored: [false, false],
    dispatch_wake: None,
});

static DISPATCH: Mutex<BTreeMap<i32, u32>> = Mutex::new(BTreeMap::new());

/// Runs procctl's actions for `sig`; `false` if it has none (and is not
/// ignored), so the default applies.
fn deliver(sig: i32) -> bool {
    let Ok(i) = index(sig) else { return false };
    let (actions, ignored) = {
        let state = lock(&STATE);
        (state.slots[i].clone(), state.ignored[i])
    };
    let Some(actions) = actions else {
        return ignored;
    };
    for flag in &actions.flags {
        flag.store(true, Ordering::SeqCst);
    }
    for queue in &actions.queues {
        queue.deliver(sig);
    }
    if actions.dispatch {
        let first = {
            let mut d = lock(&DISPATCH);
            let first = d.is_empty();
            *d.entry(sig).or_insert(0) += 1;
            first
        };
        if first && let Some(w) = lock(&STATE).dispatch_wake.as_mut() {
            let _ = w.write_all(&[0]);
        }
    }
    true
}

/// The console control handler: Windows calls it on a new thread.
unsafe extern "system" fn on_ctrl(event: u32) -> i32 {
    let sig = match event {
        CTRL_C_EVENT => SIGINT,
        CTRL_BREAK_EVENT => SIGBREAK,
        // Close, logoff, shutdown: not ours, the next handler decides.
        _ => return 0,
    };
    i32::from(deliver(sig))
}

/// Adds procctl's console control handler, once per process. It stays: with
/// nothing registered it returns FALSE, so the next handler (by default,
/// ending the process) runs as if it were not there.
fn install() -> io::Result<()> {
    static ONCE: Once = Once::new();
    static FAILED: AtomicBool = AtomicBool::new(false);
    ONCE.call_once(|| {
        // SAFETY: on_ctrl has the PHANDLER_ROUTINE signature and lives for
        // the whole program.
        if unsafe { SetConsoleCtrlHandler(Some(on_ctrl), 1) } == 0 {
            FAILED.store(true, Ordering::SeqCst);
        }
    });
    if FAILED.load(Ordering::SeqCst) {
        return Err(io::Error::other("SetConsoleCtrlHandler failed"));
    }
    Ok(())
}

pub(crate) fn hook(sig: i32, actions: Actions) -> io::Result<()> {
    let i = index(sig)?;
    install()?;
    lock(&STATE).slots[i] = Some(Arc::new(actions));
    Ok(())
}

pub(crate) fn update(sig: i32, actions: Actions) -> io::Result<()> {
    let i = index(sig)?;
    let mut state = lock(&STATE);
    if state.slots[i].is_some() {
        state.slots[i] = Some(Arc::new(actions));
    }
    Ok(())
}

pub(crate) fn unhook(sig: i32) -> io::Result<()> {
    let i = index(sig)?;
    lock(&STATE).slots[i] = None;
    Ok(())
}

/// What the dispatcher thread sleeps on: the read end of its wake pipe.
pub(crate) struct DispatchWait {
    pipe: std::io::PipeReader,
}

impl DispatchWait {
    /// Blocks until a delivery may have been counted; an error means the
    /// dispatcher should stop.
    pub(crate) fn wait(&mut self) -> io::Result<()> {
        crate::sys::read_wake_pipe(&mut self.pipe)
    }
}

/// Creates the dispatcher's wake pipe.
pub(crate) fn new_dispatch_wait() -> io::Result<DispatchWait> {
    let (reader, writer) = std::io::pipe()?;
    lock(&STATE).dispatch_wake = Some(writer);
    Ok(DispatchWait { pipe: reader })
}

/// Takes the dispatcher's deliveries counted since the last call.
pub(crate) fn take_deliveries(mut f: impl FnMut(i32, u32)) {
    let taken = std::mem::take(&mut *lock(&DISPATCH));
    for (sig, count) in taken {
        f(sig, count);
    }
}
