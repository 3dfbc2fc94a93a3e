//! Signal sets and the calling thread's signal mask: [`SigSet`], [`block`]
//! with its [`MaskGuard`], [`current_mask`], [`pending`] and [`wait_for`].

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use super::os_error;
use crate::{Result, Signal, sys};

/// A set of signals (`sigset_t`), cheap to copy and platform-independent.
///
/// Built with [`SigSet::empty`], [`SigSet::all`], [`add`](SigSet::add), or
/// collected from an iterator of [`Signal`]s; iterating yields the members
/// in numeric order. Used for the thread's mask ([`block`]), for
/// [`wait_for`], and for a child's mask in `Command::signal_mask`.
///
/// # Examples
///
/// ```
/// use procctl::Signal;
/// use procctl::signal::SigSet;
///
/// let mut set: SigSet = [Signal::INT, Signal::TERM].into_iter().collect();
/// set.add(Signal::USR1);
/// set.remove(Signal::INT);
/// assert!(set.contains(Signal::TERM) && !set.contains(Signal::INT));
/// assert_eq!(set.iter().collect::<Vec<_>>(), [Signal::USR1, Signal::TERM]);
/// assert_eq!(format!("{set:?}"), "{SIGUSR1, SIGTERM}");
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SigSet {
    /// Bit `n - 1` is signal `n`; signal numbers go up to 128 (FreeBSD).
    bits: [u64; 2],
}

impl SigSet {
    /// `sigemptyset`: the set with no signal.
    ///
    /// ```
    /// assert!(procctl::signal::SigSet::empty().is_empty());
    /// ```
    #[doc(alias = "sigemptyset")]
    pub const fn empty() -> SigSet {
        SigSet { bits: [0; 2] }
    }

    /// `sigfillset`: every signal of this platform, real-time ones included
    /// (not those the C library keeps for itself, such as glibc's 32 and
    /// 33). Blocking it leaves `SIGKILL` and `SIGSTOP` unblocked: the kernel
    /// ignores them in a mask.
    ///
    /// ```
    /// use procctl::{Signal, signal::SigSet};
    /// assert!(SigSet::all().contains(Signal::TERM));
    /// ```
    #[doc(alias = "sigfillset")]
    pub fn all() -> SigSet {
        Signal::all().collect()
    }

    fn bit(sig: Signal) -> (usize, u64) {
        let n = (sig.as_raw() - 1) as usize;
        (n / 64, 1 << (n % 64))
    }

    /// `sigaddset`: adds `sig`.
    ///
    /// ```
    /// use procctl::{Signal, signal::SigSet};
    /// let mut set = SigSet::empty();
    /// set.add(Signal::HUP);
    /// assert!(set.contains(Signal::HUP));
    /// ```
    #[doc(alias = "sigaddset")]
    pub fn add(&mut self, sig: Signal) {
        let (word, bit) = Self::bit(sig);
        self.bits[word] |= bit;
    }

    /// The set with `sig` added, for building sets in one expression.
    ///
    /// ```
    /// use procctl::{Signal, signal::SigSet};
    /// let set = SigSet::empty().with(Signal::INT).with(Signal::TERM);
    /// assert_eq!(set.len(), 2);
    /// ```
    #[must_use]
    pub fn with(mut self, sig: Signal) -> SigSet {
        self.add(sig);
        self
    }

    /// `sigdelset`: removes `sig`.
    ///
    /// ```
    /// use procctl::{Signal, signal::SigSet};
    /// let mut set = SigSet::all();
    /// set.remove(Signal::INT);
    /// assert!(!set.contains(Signal::INT));
    /// ```
    #[doc(alias = "sigdelset")]
    pub fn remove(&mut self, sig: Signal) {
        let (word, bit) = Self::bit(sig);
        self.bits[word] &= !bit;
    }

    /// `sigismember`: whether `sig` is in the set.
    ///
    /// ```
    /// use procctl::{Signal, signal::SigSet};
    /// assert!(!SigSet::empty().contains(Signal::INT));
    /// ```
    #[doc(alias = "sigismember")]
    pub fn contains(&self, sig: Signal) -> bool {
        let (word, bit) = Self::bit(sig);
        self.bits[word] & bit != 0
    }

    /// Whether the set has no signal.
    ///
    /// ```
    /// assert!(procctl::signal::SigSet::empty().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.bits == [0; 2]
    }

    /// How many signals the set has.
    ///
    /// ```
    /// use procctl::{Signal, signal::SigSet};
    /// assert_eq!(SigSet::empty().with(Signal::INT).len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The members, in numeric order.
    ///
    /// ```
    /// use procctl::{Signal, signal::SigSet};
    /// let set = SigSet::empty().with(Signal::TERM).with(Signal::HUP);
    /// assert_eq!(set.iter().collect::<Vec<_>>(), [Signal::HUP, Signal::TERM]);
    /// ```
    pub fn iter(&self) -> Iter {
        Iter {
            bits: self.bits,
            word: 0,
        }
    }
}

impl fmt::Debug for SigSet {
    /// The members' names: `{SIGINT, SIGTERM}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(DisplayAsDebug))
            .finish()
    }
}

struct DisplayAsDebug(Signal);

impl fmt::Debug for DisplayAsDebug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromIterator<Signal> for SigSet {
    fn from_iter<I: IntoIterator<Item = Signal>>(iter: I) -> SigSet {
        let mut set = SigSet::empty();
        set.extend(iter);
        set
    }
}

impl Extend<Signal> for SigSet {
    fn extend<I: IntoIterator<Item = Signal>>(&mut self, iter: I) {
        for sig in iter {
            self.add(sig);
        }
    }
}

impl From<Signal> for SigSet {
    fn from(sig: Signal) -> SigSet {
        SigSet::empty().with(sig)
    }
}

impl IntoIterator for SigSet {
    type Item = Signal;
    type IntoIter = Iter;
    fn into_iter(self) -> Iter {
        self.iter()
    }
}

impl IntoIterator for &SigSet {
    type Item = Signal;
    type IntoIter = Iter;
    fn into_iter(self) -> Iter {
        self.iter()
    }
}

/// The members of a [`SigSet`], in numeric order (see [`SigSet::iter`]).
///
/// ```
/// use procctl::{Signal, signal::SigSet};
/// let set: SigSet = [Signal::TERM, Signal::INT].into_iter().collect();
/// let mut it = set.iter();
/// assert_eq!(it.next(), Some(Signal::INT));
/// ```
#[derive(Clone, Debug)]
pub struct Iter {
    bits: [u64; 2],
    word: usize,
}

impl Iterator for Iter {
    type Item = Signal;
    fn next(&mut self) -> Option<Signal> {
        while self.word < self.bits.len() {
            let w = &mut self.bits[self.word];
            if *w == 0 {
                self.word += 1;
                continue;
            }
            let bit = w.trailing_zeros();
            *w &= *w - 1;
            let raw = (self.word * 64) as i32 + bit as i32 + 1;
            return Signal::from_raw(raw);
        }
        None
    }
}

/// `pthread_sigmask(SIG_BLOCK, set)`: blocks `set` in the calling thread
/// until the returned guard is dropped.
///
/// A blocked signal sent to the process or the thread stays pending; it is
/// delivered when it is unblocked again, or taken with [`wait_for`]. The
/// guard belongs to the thread (it is not `Send`).
///
/// # What a guard undoes
///
/// Guards undo only what they changed, so they compose in any order:
///
/// - a signal of `set` that was *not* blocked when `block` was called is
///   unblocked again when the last live guard of this thread whose set
///   contains it is dropped (`g1 = block(USR1); g2 = block(USR2);
///   drop(g1)` unblocks USR1 and leaves USR2 blocked until `g2` drops;
///   with `g2 = block({USR1, USR2})` instead, USR1 stays blocked until
///   both are gone);
/// - a signal that was already blocked by other means (a raw
///   `pthread_sigmask`, an inherited mask) stays blocked;
/// - signals outside `set` are never touched.
///
/// Guards know only about each other: a raw `pthread_sigmask` call that
/// blocks or unblocks a signal while a guard holds it is not seen. A
/// leaked guard ([`std::mem::forget`]) leaves its signals blocked.
///
/// A signal sent to the *process* goes to any thread that does not block
/// it. procctl's own dispatcher thread blocks every signal, so in a program
/// whose other threads block a signal, it stays pending for the process.
///
/// # Errors
///
/// [`Error::Os`](crate::Error::Os) if `pthread_sigmask` fails (it does not
/// for a valid set); [`Error::Unsupported`](crate::Error::Unsupported) on
/// Windows.
///
/// # Platform notes
///
/// Windows has no signal masks.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::{Signal, signal};
///
/// let set = signal::SigSet::empty().with(Signal::USR1);
/// {
///     let _guard = signal::block(&set)?;
///     signal::raise(Signal::USR1)?; // pending, not delivered
///     assert!(signal::pending()?.contains(Signal::USR1));
///     // Take it instead of letting it kill us when the guard drops.
///     let got = signal::wait_for(&set, Some(std::time::Duration::ZERO))?;
///     assert_eq!(got, Some(Signal::USR1));
/// }
/// assert!(!signal::current_mask()?.contains(Signal::USR1));
///
/// // Guards may end in any order: each undoes only its own.
/// let usr1 = signal::block(&Signal::USR1.into())?;
/// let usr2 = signal::block(&Signal::USR2.into())?;
/// drop(usr1);
/// let mask = signal::current_mask()?;
/// assert!(!mask.contains(Signal::USR1) && mask.contains(Signal::USR2));
/// drop(usr2);
/// assert!(!signal::current_mask()?.contains(Signal::USR2));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[doc(alias = "pthread_sigmask")]
#[doc(alias = "sigprocmask")]
pub fn block(set: &SigSet) -> Result<MaskGuard> {
    let saved = sys::signal::block(set).map_err(|e| os_error("pthread_sigmask", e))?;
    let before = saved.to_set();
    HOLDS.with(|h| h.borrow_mut().take(set, &before));
    Ok(MaskGuard {
        set: *set,
        _thread: PhantomData,
    })
}

/// Unblocks, when dropped, the signals of its [`block`] call that nobody
/// else holds: those that were not blocked before and that no other live
/// guard of this thread blocks (see [`block`] for the exact rule). Pending
/// signals it unblocks are delivered at that point.
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::{Signal, signal::{self, SigSet}};
/// let guard = signal::block(&SigSet::from(Signal::USR1))?;
/// assert!(signal::current_mask()?.contains(Signal::USR1));
/// drop(guard);
/// assert!(!signal::current_mask()?.contains(Signal::USR1));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[must_use = "dropping the guard unblocks the signals at once"]
pub struct MaskGuard {
    /// The set given to `block`.
    set: SigSet,
    /// The mask belongs to one thread: not `Send`, not `Sync`.
    _thread: PhantomData<*const ()>,
}

impl fmt::Debug for MaskGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaskGuard")
            .field("set", &self.set)
            .finish_non_exhaustive()
    }
}

impl Drop for MaskGuard {
    fn drop(&mut self) {
        // No destructor runs for HOLDS, so it is there until the thread is
        // gone; `try_with` only in case.
        let free = HOLDS
            .try_with(|h| h.borrow_mut().release(&self.set))
            .unwrap_or_default();
        if !free.is_empty() {
            // Cannot fail for a valid set.
            let _ = sys::signal::unblock(&free);
        }
    }
}

thread_local! {
    /// What this thread's live guards hold.
    static HOLDS: RefCell<Holds> = const { RefCell::new(Holds::new()) };
}

/// The bookkeeping behind [`MaskGuard`], per thread: how many live guards
/// block each signal, and which signals the guards blocked (rather than
/// found blocked). Pure data, no system calls.
#[derive(Clone, Debug)]
struct Holds {
    /// Live guards whose set contains signal `n` (index `n - 1`).
    count: [u32; 128],
    /// Signals blocked by the guards: unblock when their count drops to 0.
    ours: SigSet,
}

impl Holds {
    const fn new() -> Holds {
        Holds {
            count: [0; 128],
            ours: SigSet::empty(),
        }
    }

    /// A guard blocked `set`; `before` was the thread's mask just before.
    fn take(&mut self, set: &SigSet, before: &SigSet) {
        for sig in set {
            let n = &mut self.count[(sig.as_raw() - 1) as usize];
            if *n == 0 {
                if before.contains(sig) {
                    self.ours.remove(sig);
                } else {
                    self.ours.add(sig);
                }
            }
            *n += 1;
        }
    }

    /// A guard of `set` is dropped: the signals to unblock now.
    fn release(&mut self, set: &SigSet) -> SigSet {
        let mut free = SigSet::empty();
        for sig in set {
            let n = &mut self.count[(sig.as_raw() - 1) as usize];
            *n = n.saturating_sub(1);
            if *n == 0 && self.ours.contains(sig) {
                self.ours.remove(sig);
                free.add(sig);
            }
        }
        free
    }
}

/// `pthread_sigmask(SIG_BLOCK, NULL)`: the calling thread's signal mask.
///
/// # Errors
///
/// [`Error::Os`](crate::Error::Os) if the call fails;
/// [`Error::Unsupported`](crate::Error::Unsupported) on Windows.
///
/// # Platform notes
///
/// Windows has no signal masks.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::{Signal, signal};
/// let _guard = signal::block(&Signal::USR2.into())?;
/// assert!(signal::current_mask()?.contains(Signal::USR2));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn current_mask() -> Result<SigSet> {
    sys::signal::current_mask().map_err(|e| os_error("pthread_sigmask", e))
}

/// `sigpending()`: the blocked signals waiting for delivery, to this thread
/// or to the process.
///
/// # Errors
///
/// [`Error::Os`](crate::Error::Os) if the call fails;
/// [`Error::Unsupported`](crate::Error::Unsupported) on Windows.
///
/// # Platform notes
///
/// Windows has no pending signals.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// assert!(procctl::signal::pending()?.is_empty());
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[doc(alias = "sigpending")]
pub fn pending() -> Result<SigSet> {
    sys::signal::pending().map_err(|e| os_error("sigpending", e))
}

/// `sigtimedwait(set, timeout)`: takes one pending signal of `set`, waiting
/// at most `timeout` (`None`: for ever). `Ok(None)` when the time ran out.
///
/// The signal is consumed: no handler runs for it. The signals of `set`
/// must be blocked in the calling thread (see [`block`]), and for signals
/// sent to the process, in every other thread too, or a thread that does
/// not block them receives them instead. An interrupted wait is resumed.
///
/// # Errors
///
/// [`Error::Os`](crate::Error::Os) if the call fails;
/// [`Error::Unsupported`](crate::Error::Unsupported) on Windows.
///
/// # Platform notes
///
/// macOS (and other systems without `sigtimedwait`) use a portable
/// fallback: `sigpending` checked at growing intervals (1 ms up to 10 ms),
/// then `sigwait` for the pending signal. Windows has no signal sets.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use std::time::Duration;
/// use procctl::{Signal, signal};
///
/// let set = signal::SigSet::empty().with(Signal::USR1);
/// let _guard = signal::block(&set)?;
/// assert_eq!(signal::wait_for(&set, Some(Duration::from_millis(10)))?, None);
/// signal::kill(procctl::Pid::current(), Signal::USR1)?;
/// assert_eq!(signal::wait_for(&set, Some(Duration::from_secs(5)))?, Some(Signal::USR1));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[doc(alias = "sigtimedwait")]
#[doc(alias = "sigwait")]
pub fn wait_for(set: &SigSet, timeout: Option<Duration>) -> Result<Option<Signal>> {
    let got = sys::signal::wait_for(set, timeout).map_err(|e| os_error("sigtimedwait", e))?;
    Ok(got.and_then(Signal::from_raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `SigSet` against a `BTreeSet` model: any sequence of adds and
        /// removes over every signal of the platform leaves the same
        /// members, in numeric order, with the same count.
        #[test]
        fn behaves_like_a_set(ops in proptest::collection::vec((any::<bool>(), any::<prop::sample::Index>()), 0..200)) {
            let all: Vec<Signal> = Signal::all().collect();
            let mut set = SigSet::empty();
            let mut model = std::collections::BTreeSet::new();
            for (add, idx) in ops {
                let sig = all[idx.index(all.len())];
                if add {
                    set.add(sig);
                    model.insert(sig);
                } else {
                    set.remove(sig);
                    model.remove(&sig);
                }
                prop_assert_eq!(set.contains(sig), add);
            }
            prop_assert_eq!(set.len(), model.len());
            prop_assert_eq!(set.is_empty(), model.is_empty());
            let members: Vec<Signal> = set.iter().collect();
            let expected: Vec<Signal> = model.iter().copied().collect();
            prop_assert_eq!(&members, &expected);
            let rebuilt: SigSet = expected.into_iter().collect();
            prop_assert_eq!(rebuilt, set);
        }
    }

    #[test]
    fn set_operations() {
        let mut set = SigSet::empty();
        assert!(set.is_empty());
        for sig in Signal::all() {
            assert!(!set.contains(sig));
            set.add(sig);
            assert!(set.contains(sig));
        }
        assert_eq!(set, SigSet::all());
        assert_eq!(set.len(), Signal::all().count());
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            Signal::all().collect::<Vec<_>>()
        );
        for sig in Signal::all() {
            set.remove(sig);
        }
        assert!(set.is_empty());
        let copy = SigSet::from(Signal::INT);
        assert_eq!(copy.into_iter().collect::<Vec<_>>(), [Signal::INT]);
    }

    /// The guard bookkeeping alone: guards of overlapping sets, dropped in
    /// every order, unblock each signal once, when its last holder goes,
    /// and never one that was blocked before the first guard.
    #[test]
    fn holds_free_a_signal_with_its_last_guard() {
        let (usr1, usr2, hup) = (Signal::USR1, Signal::USR2, Signal::HUP);
        let sets = [
            SigSet::from_iter([usr1, hup]),
            SigSet::from_iter([usr2]),
            SigSet::from_iter([usr1, usr2]),
        ];
        let before = SigSet::from(hup);
        for order in [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ] {
            let mut holds = Holds::new();
            let mut mask = before;
            for set in &sets {
                holds.take(set, &mask);
                mask.extend(set);
            }
            for (k, &i) in order.iter().enumerate() {
                for sig in holds.release(&sets[i]) {
                    mask.remove(sig);
                }
                let live: SigSet = order[k + 1..].iter().flat_map(|&j| sets[j]).collect();
                let expected: SigSet = live.iter().chain(before).collect();
                assert_eq!(mask, expected, "order {order:?}, after {} drops", k + 1);
            }
        }
    }

    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    #[test]
    fn realtime_signals_fit() {
        let last = Signal::rt(0).and_then(|min| {
            Signal::all()
                .filter(|s| s.is_realtime())
                .last()
                .filter(|l| *l > min)
        });
        let last = last.expect("real-time signals");
        let set = SigSet::empty().with(last);
        assert_eq!(set.iter().next(), Some(last));
    }
}
