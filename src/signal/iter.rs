//! [`Signals`]: the signals that arrive, as an iterator.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::handler::{Kind, add};
use super::{SigId, SigSet, os_error, refuse_unhandleable, unregister};
use crate::sys::signal::{Queue, QueueWait};
use crate::{Result, Signal, sys};

/// The chosen signals, as they arrive: a blocking [`Iterator`], with
/// [`pending`](Signals::pending) (non-blocking) and
/// [`wait_timeout`](Signals::wait_timeout).
///
/// Each `Signals` has its own queue: procctl's low-level handler counts the
/// signal into it and wakes it directly (a futex on Linux, its own pipe
/// elsewhere), so no thread is
/// started and the signal reaches a thread blocked in [`next`](Self::next)
/// directly. One item per delivery: real-time signals are counted exactly;
/// standard ones may merge while pending, as POSIX allows. Signals that
/// arrive together come out in numeric order. Several `Signals` (and
/// [`register`](super::register) handlers) may watch the same signal: each
/// gets every delivery. Dropping it removes its registrations, restoring
/// the old dispositions when it was the last user.
///
/// `Signals` is `Send`: make it in one thread, iterate in another.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use std::time::Duration;
/// use procctl::{Signal, signal::{self, Signals}};
///
/// let mut signals = Signals::new([Signal::USR1, Signal::USR2])?;
/// signal::raise(Signal::USR2)?;
/// assert_eq!(signals.wait_timeout(Duration::from_secs(5))?, Some(Signal::USR2));
/// assert_eq!(signals.pending().next(), None);
/// signal::raise(Signal::USR1)?;
/// assert_eq!(signals.next(), Some(Signal::USR1)); // blocks until one arrives
/// assert_eq!(procctl::proc::thread_count(), Some(1)); // no thread started
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub struct Signals {
    queue: Arc<Queue>,
    wake: QueueWait,
    /// Deliveries taken from the queue, not yet returned.
    ready: VecDeque<Signal>,
    ids: Vec<SigId>,
}

impl fmt::Debug for Signals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signals")
            .field("signals", &self.signals())
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}

impl Signals {
    /// Starts catching `signals` (duplicates are watched once).
    ///
    /// An empty list makes an iterator that ends at once.
    ///
    /// # Errors
    ///
    /// - As [`register`](super::register): refuses `SIGKILL`, `SIGSTOP` and
    ///   the synchronous fault signals with
    ///   [`Error::InvalidArgument`](crate::Error::InvalidArgument) naming the
    ///   signal (nothing is registered then);
    /// - [`Error::ResourceLimit`](crate::Error::ResourceLimit) when no pipe
    ///   can be made (out of descriptors).
    ///
    /// # Platform notes
    ///
    /// Windows: `SIGINT` and `SIGBREAK` (Ctrl+C, Ctrl+Break, through the
    /// console control handler); any other signal is
    /// [`Error::Unsupported`](crate::Error::Unsupported). Waiting checks
    /// the wake pipe with `PeekNamedPipe` at intervals of 1 to 20 ms.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use procctl::{Signal, signal::Signals};
    /// assert!(Signals::new([Signal::KILL]).is_err());
    /// assert_eq!(Signals::new([])?.next(), None);
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn new(signals: impl IntoIterator<Item = Signal>) -> Result<Signals> {
        let set: SigSet = signals.into_iter().collect();
        for sig in &set {
            refuse_unhandleable(sig)?;
        }
        if !sys::signal::HANDLERS_SUPPORTED {
            return Err(crate::Error::Unsupported { what: "Signals" });
        }
        let (queue, wake) = Queue::new().map_err(|e| os_error("pipe", e))?;
        let mut me = Signals {
            queue,
            wake,
            ready: VecDeque::new(),
            ids: Vec::with_capacity(set.len()),
        };
        for sig in &set {
            // On error, `me` is dropped and unregisters what was added.
            me.ids.push(add(sig, Kind::Queue(Arc::clone(&me.queue)))?);
        }
        Ok(me)
    }

    /// Moves the counted deliveries into `ready`.
    fn collect(&mut self) {
        let ready = &mut self.ready;
        self.queue.take(|raw, count| {
            if let Some(sig) = Signal::from_raw(raw) {
                ready.extend(std::iter::repeat_n(sig, count as usize));
            }
        });
    }

    /// Waits at most `timeout` (`None`: for ever) for a delivery.
    fn wait(&mut self, timeout: Option<Duration>) -> Result<Option<Signal>> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            self.collect();
            if let Some(sig) = self.ready.pop_front() {
                return Ok(Some(sig));
            }
            if self.ids.is_empty() {
                return Ok(None);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                return Ok(None);
            }
            self.wake
                .wait(&self.queue, left)
                .map_err(|e| os_error("poll", e))?;
        }
    }

    /// The signals that arrived and were not taken yet, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use procctl::{Signal, signal::{self, Signals}};
    /// let mut signals = Signals::new([Signal::USR1])?;
    /// assert_eq!(signals.pending().count(), 0);
    /// signal::raise(Signal::USR1)?;
    /// signal::raise(Signal::USR1)?;
    /// assert_eq!(signals.pending().collect::<Vec<_>>(), [Signal::USR1, Signal::USR1]);
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn pending(&mut self) -> Pending<'_> {
        Pending { signals: self }
    }

    /// Waits at most `timeout` for the next signal; `Ok(None)` when the time
    /// ran out (at once for a `Signals` that watches nothing).
    ///
    /// # Errors
    ///
    /// [`Error::Os`](crate::Error::Os) if `poll` or `read` on the wake pipe
    /// fails (they do not in practice).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use std::time::Duration;
    /// use procctl::{Signal, signal::Signals};
    /// let mut signals = Signals::new([Signal::USR1])?;
    /// assert_eq!(signals.wait_timeout(Duration::from_millis(10))?, None);
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<Signal>> {
        self.wait(Some(timeout))
    }

    /// The signals this iterator watches.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use procctl::{Signal, signal::Signals};
    /// let signals = Signals::new([Signal::USR1, Signal::USR1])?;
    /// assert_eq!(signals.signals().len(), 1);
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn signals(&self) -> SigSet {
        self.ids.iter().map(SigId::signal).collect()
    }
}

impl Iterator for Signals {
    type Item = Signal;

    /// Blocks until a watched signal arrives. `None` only for a `Signals`
    /// that watches nothing (or if waiting on its pipe fails).
    fn next(&mut self) -> Option<Signal> {
        self.wait(None).ok().flatten()
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
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::{Signal, signal::Signals};
/// let mut signals = Signals::new([Signal::USR2])?;
/// procctl::signal::raise(Signal::USR2)?;
/// let got: Vec<Signal> = signals.pending().collect();
/// assert_eq!(got, [Signal::USR2]);
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[derive(Debug)]
pub struct Pending<'a> {
    signals: &'a mut Signals,
}

impl Iterator for Pending<'_> {
    type Item = Signal;
    fn next(&mut self) -> Option<Signal> {
        if self.signals.ready.is_empty() {
            self.signals.collect();
        }
        self.signals.ready.pop_front()
    }
}
