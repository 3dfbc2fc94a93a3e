//! The raw escape hatch: [`sigaction`] with [`SigHandler`] and [`SaFlags`].

// The public `unsafe fn sigaction` lives here (see its `# Safety`).
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void};
use std::fmt;

use super::{os_error, refuse_uncatchable};
use crate::{Result, Signal, sys};

/// What [`sigaction`] installs: a disposition or a C function.
///
/// ```
/// use procctl::signal::SigHandler;
/// let h = SigHandler::Default;
/// assert!(matches!(h, SigHandler::Default));
/// ```
#[derive(Clone, Copy)]
pub enum SigHandler {
    /// `SIG_DFL`: the default action.
    Default,
    /// `SIG_IGN`: the signal is discarded.
    Ignore,
    /// `sa_handler`: `fn(signal_number)`.
    Handler(extern "C" fn(c_int)),
    /// `sa_sigaction` (`SA_SIGINFO`): `fn(signal_number, info, context)`.
    SigAction(extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void)),
}

impl SigHandler {
    /// The handler's address (0 for `SIG_DFL`, 1 for `SIG_IGN`), to compare
    /// two handlers.
    ///
    /// ```
    /// use procctl::signal::SigHandler;
    /// assert_eq!(SigHandler::Default.address(), libc::SIG_DFL as usize);
    /// assert_eq!(SigHandler::Ignore.address(), libc::SIG_IGN as usize);
    /// ```
    pub fn address(&self) -> usize {
        match *self {
            SigHandler::Default => libc::SIG_DFL,
            SigHandler::Ignore => libc::SIG_IGN,
            SigHandler::Handler(f) => f as usize,
            SigHandler::SigAction(f) => f as usize,
        }
    }
}

impl fmt::Debug for SigHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigHandler::Default => f.write_str("Default"),
            SigHandler::Ignore => f.write_str("Ignore"),
            SigHandler::Handler(_) => write!(f, "Handler({:#x})", self.address()),
            SigHandler::SigAction(_) => write!(f, "SigAction({:#x})", self.address()),
        }
    }
}

bitflags::bitflags! {
    /// `sa_flags` for [`sigaction`]. `SA_SIGINFO` is implied by
    /// [`SigHandler::SigAction`] and not listed.
    ///
    /// ```
    /// use procctl::signal::SaFlags;
    /// let f = SaFlags::RESTART | SaFlags::NOCLDSTOP;
    /// assert!(f.contains(SaFlags::RESTART));
    /// ```
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct SaFlags: c_int {
        /// `SA_ONSTACK`: run the handler on the alternate signal stack.
        const ONSTACK = libc::SA_ONSTACK;
        /// `SA_RESTART`: restart system calls the signal interrupted.
        const RESTART = libc::SA_RESTART;
        /// `SA_NOCLDSTOP`: no `SIGCHLD` when a child stops or continues.
        const NOCLDSTOP = libc::SA_NOCLDSTOP;
        /// `SA_NOCLDWAIT`: children do not become zombies.
        const NOCLDWAIT = libc::SA_NOCLDWAIT;
        /// `SA_NODEFER`: do not block the signal while its handler runs.
        const NODEFER = libc::SA_NODEFER;
        /// `SA_RESETHAND`: restore the default action on entry to the
        /// handler.
        const RESETHAND = libc::SA_RESETHAND;
    }
}

/// `sigaction(sig, handler, flags)`: installs a raw handler, returning the
/// previous handler and its flags.
///
/// This bypasses procctl's safe handlers: `handler` runs in signal context,
/// on whatever thread the signal interrupts, with an empty extra mask. If
/// procctl had hooked `sig` (with [`register`](super::register)), its
/// handlers run from then on only if `handler` calls the previous handler
/// returned here, as a well-behaved library does; procctl does not take
/// the signal back from a function installed over its own.
///
/// # Safety
///
/// The caller promises that `handler`, if it is a function:
///
/// - calls only async-signal-safe functions (no allocation, no locks, no
///   `println!`), and touches only atomics or `static`s meant for it;
/// - saves and restores `errno` if it calls anything that may change it;
/// - stays valid as long as it is installed (a function of a library that
///   is unloaded later is not).
///
/// # Errors
///
/// - [`Error::InvalidArgument`](crate::Error::InvalidArgument) for
///   `SIGKILL` and `SIGSTOP`, which cannot be caught or ignored;
/// - [`Error::Os`](crate::Error::Os) if the kernel refuses.
///
/// # Platform notes
///
/// Unix only.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use procctl::{Signal, signal::{self, SaFlags, SigHandler}};
///
/// static HITS: AtomicUsize = AtomicUsize::new(0);
/// extern "C" fn on_usr2(_: std::ffi::c_int) {
///     HITS.fetch_add(1, Ordering::SeqCst); // async-signal-safe
/// }
///
/// // SAFETY: the handler only touches an atomic.
/// let (old, _) = unsafe { signal::sigaction(Signal::USR2, SigHandler::Handler(on_usr2), SaFlags::RESTART) }?;
/// assert_eq!(old.address(), SigHandler::Default.address());
/// signal::raise(Signal::USR2)?;
/// assert_eq!(HITS.load(Ordering::SeqCst), 1);
/// // SAFETY: restoring the default action runs no code.
/// unsafe { signal::sigaction(Signal::USR2, old, SaFlags::empty()) }?;
/// # Ok::<(), procctl::Error>(())
/// ```
pub unsafe fn sigaction(
    sig: Signal,
    handler: SigHandler,
    flags: SaFlags,
) -> Result<(SigHandler, SaFlags)> {
    refuse_uncatchable(sig)?;
    // SAFETY: the caller upholds this function's contract for `handler`.
    let (old, old_flags) = unsafe { sys::signal::sigaction(sig.as_raw(), handler, flags.bits()) }
        .map_err(|e| os_error("sigaction", e))?;
    Ok((old, SaFlags::from_bits_truncate(old_flags)))
}
