//! The opt-in SIGINT watcher: Python's `KeyboardInterrupt`, checked where
//! the program chooses.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{SigId, register_flag, unregister};
use crate::{Error, Result, Signal};

/// Watches for Ctrl+C (`SIGINT`): while it lives, Ctrl+C no longer ends the
/// process; [`check`](Interrupt::check) reports it instead, as an
/// [`Error::Interrupted`]`(Signal::INT)` to propagate with `?`.
///
/// Made by [`Interrupt::install`] (or [`watch_interrupt`]). It is a
/// [`register_flag`] underneath: the flag is set in signal context and no
/// thread is started. Each Ctrl+C is reported once, by the first `check`
/// after it. Dropping the watcher unregisters it; when it was the last
/// registration for `SIGINT`, Ctrl+C ends the process again.
///
/// Blocking calls that were waiting when Ctrl+C came are restarted
/// (`SA_RESTART`): check between pieces of work, not around one long
/// `read`.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use procctl::{Error, Signal, signal::Interrupt};
///
/// fn long_job(ctrl_c: &Interrupt) -> procctl::Result<u64> {
///     let mut sum = 0;
///     for i in 0..1_000_000u64 {
///         ctrl_c.check()?; // Err(Interrupted(SIGINT)) after Ctrl+C
///         if i == 10 {
///             procctl::signal::raise(Signal::INT)?; // as if Ctrl+C was pressed
///         }
///         sum += i;
///     }
///     Ok(sum)
/// }
///
/// let ctrl_c = Interrupt::install()?;
/// let err = long_job(&ctrl_c).unwrap_err();
/// assert!(matches!(err, Error::Interrupted(Signal::INT)));
/// assert_eq!(err.to_string(), "interrupted by SIGINT");
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[derive(Debug)]
pub struct Interrupt {
    flag: Arc<AtomicBool>,
    id: SigId,
}

impl Interrupt {
    /// Starts watching for `SIGINT`.
    ///
    /// # Errors
    ///
    /// As [`register_flag`]: [`Error::Os`] if `sigaction` fails.
    ///
    /// # Platform notes
    ///
    /// On Windows Ctrl+C reaches it through the console control handler
    /// (`SetConsoleCtrlHandler`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// let ctrl_c = procctl::signal::Interrupt::install()?;
    /// assert!(ctrl_c.check().is_ok());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn install() -> Result<Interrupt> {
        let flag = Arc::new(AtomicBool::new(false));
        let id = register_flag(Signal::INT, Arc::clone(&flag))?;
        Ok(Interrupt { flag, id })
    }

    /// `Err(Error::Interrupted(Signal::INT))` if Ctrl+C was pressed since
    /// the last `check` that reported it; `Ok(())` otherwise.
    ///
    /// # Errors
    ///
    /// [`Error::Interrupted`]`(Signal::INT)`, once per Ctrl+C.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use procctl::{Signal, signal::{self, Interrupt}};
    /// let ctrl_c = Interrupt::install()?;
    /// signal::raise(Signal::INT)?;
    /// assert!(ctrl_c.check().is_err());
    /// assert!(ctrl_c.check().is_ok()); // reported once
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn check(&self) -> Result<()> {
        if self.flag.swap(false, Ordering::SeqCst) {
            return Err(Error::Interrupted(Signal::INT));
        }
        Ok(())
    }

    /// Whether a Ctrl+C is waiting to be reported by [`check`](Self::check),
    /// without consuming it.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// let ctrl_c = procctl::signal::Interrupt::install()?;
    /// assert!(!ctrl_c.is_interrupted());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn is_interrupted(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        unregister(self.id);
    }
}

/// Starts watching for Ctrl+C: [`Interrupt::install`].
///
/// # Errors
///
/// As [`Interrupt::install`].
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// let ctrl_c = procctl::signal::watch_interrupt()?;
/// ctrl_c.check()?;
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn watch_interrupt() -> Result<Interrupt> {
    Interrupt::install()
}
