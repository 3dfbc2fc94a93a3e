//! [`Signals`]: the signals that arrive, as an iterator.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use super::handler::{Kind, Sink, add};
use super::{SigId, SigSet, refuse_unhandleable, unregister};
use crate::{Result, Signal};

/// The chosen signals, as they arrive: a blocking [`Iterator`], with
/// [`pending`](Signals::pending) (non-blocking) and
/// [`wait_timeout`](Signals::wait_timeout).
///
/// Built on [`register`](super::register): the signals are caught by
/// procctl's handler and queued for this iterator by the dispatcher thread,
/// one item per delivery (real-time signals are counted exactly; standard
/// ones may merge while pending, as POSIX allows). Several `Signals` may
/// watch the same signal: each gets every delivery. Dropping it removes its
/// registrations (restoring the old dispositions when it was the last
/// user).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use procctl::{Signal, signal::{self, Signals}};
///
/// let mut signals = Signals::new([Signal::USR1, Signal::USR2])?;
/// signal::raise(Signal::USR2)?;
/// assert_eq!(signals.wait_timeout(Duration::from_secs(5))?, Some(Signal::USR2));
/// assert_eq!(signals.pending().next(), None);
/// signal::raise(Signal::USR1)?;
/// assert_eq!(signals.next(), Some(Signal::USR1)); // blocks until one arrives
/// # Ok::<(), procctl::Error>(())
/// ```
#[derive(Debug)]
pub struct Signals {
    rx: Receiver<Signal>,
    ids: Vec<SigId>,
}

impl Signals {
    /// Starts catching `signals` (duplicates are watched once).
    ///
    /// An empty list makes an iterator that ends at once.
    ///
    /// # Errors
    ///
    /// As [`register`](super::register): refuses `SIGKILL`, `SIGSTOP` and the
    /// synchronous fault signals with
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) naming the
    /// signal (nothing is registered then).
    ///
    /// # Platform notes
    ///
    /// Windows: [`Error::Unsupported`](crate::Error::Unsupported).
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::{Signal, signal::Signals};
    /// assert!(Signals::new([Signal::KILL]).is_err());
    /// assert_eq!(Signals::new([])?.next(), None);
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn new(signals: impl IntoIterator<Item = Signal>) -> Result<Signals> {
        let set: SigSet = signals.into_iter().collect();
        for sig in &set {
            refuse_unhandleable(sig)?;
        }
        let (tx, rx) = mpsc::channel();
        let mut me = Signals {
            rx,
            ids: Vec::with_capacity(set.len()),
        };
        for sig in &set {
            // On error, `me` is dropped and unregisters what was added.
            me.ids.push(add(sig, Kind::Sink(Sink::Queue(tx.clone())))?);
        }
        Ok(me)
    }

    /// The signals that arrived and were not taken yet, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::{Signal, signal::{self, Signals}};
    /// let signals = Signals::new([Signal::USR1])?;
    /// assert_eq!(signals.pending().count(), 0);
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn pending(&self) -> Pending<'_> {
        Pending { rx: &self.rx }
    }

    /// Waits at most `timeout` for the next signal; `Ok(None)` when the time
    /// ran out.
    ///
    /// # Errors
    ///
    /// None at present; the `Result` leaves room for backends that can fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::{Signal, signal::Signals};
    /// let signals = Signals::new([Signal::USR1])?;
    /// assert_eq!(signals.wait_timeout(Duration::from_millis(10))?, None);
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<Signal>> {
        match self.rx.recv_timeout(timeout) {
            Ok(sig) => Ok(Some(sig)),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => Ok(None),
        }
    }

    /// The signals this iterator watches.
    ///
    /// ```
    /// use procctl::{Signal, signal::Signals};
    /// let signals = Signals::new([Signal::USR1, Signal::USR1])?;
    /// assert_eq!(signals.signals().len(), 1);
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn signals(&self) -> SigSet {
        self.ids.iter().map(SigId::signal).collect()
    }
}

impl Iterator for Signals {
    type Item = Signal;

    /// Blocks until a watched signal arrives. `None` only for a `Signals`
    /// that watches nothing.
    fn next(&mut self) -> Option<Signal> {
        self.rx.recv().ok()
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            unregister(id);
        }
    }
}

/// The signals already delivered to a [`Signals`], without waiting (see
/// [`Signals::pending`]).
#[derive(Debug)]
pub struct Pending<'a> {
    rx: &'a Receiver<Signal>,
}

impl Iterator for Pending<'_> {
    type Item = Signal;
    fn next(&mut self) -> Option<Signal> {
        self.rx.try_recv().ok()
    }
}
