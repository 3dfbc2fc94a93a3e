//! Linux: the wake-up word a thread sleeps on until the low-level signal
//! handler counts a delivery for it (one per `Signals` queue, one for the
//! dispatcher).
//!
//! The protocol, with no system call of its own (the futex comes in
//! through [`Futex`], so that `tests/loom_models.rs` runs this very file
//! under loom with a modelled futex):
//!
//! - the sleeper swaps the word to 1, then looks for a delivery, then
//!   sleeps only while the word is still 1 (`FUTEX_WAIT` compares and
//!   sleeps atomically), then swaps the word back to 0;
//! - the waker counts its delivery first, then swaps the word to 0 and
//!   makes the `FUTEX_WAKE` call only if it was 1.
//!
//! Both sides change the word with a read-modify-write, so one of the two
//! swaps reads the other's: if the waker's swap reads the sleeper's 1, it
//! wakes the sleeper (or the sleep does not begin: the word is 0 again);
//! if the sleeper's swap reads the waker's 0, it synchronises with it and
//! its look sees the delivery counted before. No wake-up is lost, under
//! acquire/release alone (which is what loom checks).

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

#[cfg(all(loom, test))]
use loom::sync::atomic::AtomicU32;
#[cfg(not(all(loom, test)))]
use std::sync::atomic::AtomicU32;

/// The two futex operations the protocol needs.
pub(crate) trait Futex {
    /// Sleeps while `*word == expected` until woken or `timeout` passes
    /// (`None`: no limit); the comparison and the sleep are atomic
    /// against [`Futex::wake_one`]. May return early, spuriously.
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>);
    /// Wakes one thread asleep on `word`, if any. Async-signal-safe.
    fn wake_one(&self, word: &AtomicU32);
}

/// A wake-up word and the futex it is used with.
pub(crate) struct Sleeper<F> {
    word: AtomicU32,
    futex: F,
}

impl<F: Futex> Sleeper<F> {
    #[cfg(not(all(loom, test)))]
    pub(crate) const fn new(futex: F) -> Sleeper<F> {
        Sleeper {
            word: AtomicU32::new(0),
            futex,
        }
    }

    /// loom's atomics cannot be made in a `const fn`.
    #[cfg(all(loom, test))]
    pub(crate) fn new(futex: F) -> Sleeper<F> {
        Sleeper {
            word: AtomicU32::new(0),
            futex,
        }
    }

    /// The child of a `fork`: no thread sleeps here (only the forking
    /// thread exists, and it was not asleep).
    #[cfg_attr(all(loom, test), allow(dead_code))]
    pub(crate) fn reset(&self) {
        self.word.store(0, SeqCst);
    }

    /// Signal context (after the delivery was counted): wakes the
    /// sleeping thread, if any. Atomics and [`Futex::wake_one`] only.
    pub(crate) fn wake(&self) {
        if self.word.swap(0, SeqCst) == 1 {
            self.futex.wake_one(&self.word);
        }
    }

    /// Sleeps until woken or `timeout` passes (`None`: no limit), unless
    /// `noted()` already sees a delivery. May return early (a signal, a
    /// stale wake-up): the caller looks at its tally and decides.
    pub(crate) fn sleep_unless_noted(
        &self,
        noted: impl FnOnce() -> bool,
        timeout: Option<Duration>,
    ) {
        // A swap, not a store: an atomic read-modify-write reads the
        // waker's swap to 0 if that came first, and so also sees the
        // delivery the waker counted before it. A plain store would rely
        // on `SeqCst`'s single total order alone, which loom does not
        // model (it treats `SeqCst` as acquire/release) and which the
        // protocol then need not lean on.
        let _ = self.word.swap(1, SeqCst);
        if !noted() {
            self.futex.wait(&self.word, 1, timeout);
        }
        // A swap too: it reads (and synchronises with) a waker's swap
        // that came first, so the caller's next look at the tally sees
        // that waker's delivery, and the next sleep's swap to 1 stays in
        // the chain of read-modify-writes.
        let _ = self.word.swap(0, SeqCst);
    }
}
