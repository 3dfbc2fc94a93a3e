//! Signals: the [`Signal`] type, sending signals, and safe handlers.
//!
//! A handler registered here is an ordinary closure that runs later, on a
//! dispatcher thread, never in signal context: it may allocate, lock and
//! print. procctl's one low-level handler only counts the signal, sets
//! flags and wakes the dispatcher (a futex on Linux, a pipe elsewhere),
//! chaining to a handler installed before procctl's and keeping `errno`
//! intact.
//!
//! | Python                          | procctl                                        |
//! |---------------------------------|------------------------------------------------|
//! | `signal.signal(sig, handler)`   | [`register`]`(sig, closure) -> SigId`, [`unregister`] |
//! | `signal.signal(sig, SIG_IGN)`   | [`ignore`]                                      |
//! | `signal.signal(sig, SIG_DFL)`   | [`default`]                                     |
//! | `signal.getsignal(sig)`         | [`disposition`]                                 |
//! | `os.kill`, `os.killpg`          | [`kill`], [`killpg`], [`probe`] (`kill(pid, 0)`) |
//! | `signal.raise_signal`           | [`raise`]                                       |
//! | `signal.alarm`                  | [`alarm`]                                       |
//! | `signal.pthread_sigmask`        | [`block`] (a guard), [`current_mask`]           |
//! | `signal.sigpending`             | [`pending`]                                     |
//! | `signal.sigtimedwait`           | [`wait_for`]                                    |
//! | `KeyboardInterrupt`             | [`Interrupt::check`]                            |
//! | `signal.set_wakeup_fd` loops    | [`Signals`] (an iterator), [`register_flag`]    |
//!
//! Signals that cannot be handled this way are refused with
//! [`Error::InvalidArgument`] naming the signal: `SIGKILL` and `SIGSTOP`
//! (never caught), and the synchronous fault signals `SIGSEGV`, `SIGBUS`,
//! `SIGILL`, `SIGFPE` (the faulting instruction runs again as soon as the
//! low-level handler returns). The raw [`sigaction`] is there for those who
//! need signal context.
//!
//! # Platform notes
//!
//! Everything here is Unix, except that on Windows [`register`],
//! [`register_flag`], [`Signals`], [`watch_interrupt`], [`raise`],
//! [`ignore`], [`default`] and [`disposition`] work for `SIGINT` and
//! `SIGBREAK` (Ctrl+C and Ctrl+Break, through the console control
//! handler; `raise` delivers in this process only). Otherwise the
//! functions that return a `Result` report [`Error::Unsupported`] there; [`alarm`], [`sigaction`],
//! [`SaFlags`] and [`SigHandler`] do not exist there. [`SigSet`] is plain
//! data and exists everywhere.

use std::io;

use crate::{Error, Result};

mod handler;
mod interrupt;
mod iter;
mod mask;
pub(crate) mod number;
#[cfg(unix)]
mod raw;
mod send;

pub use handler::{
    Disposition, SigId, default, disposition, ignore, register, register_flag, unregister,
};
pub use interrupt::{Interrupt, watch_interrupt};
pub use iter::{Pending, Signals};
pub use mask::{Iter, MaskGuard, SigSet, block, current_mask, pending, wait_for};
pub use number::{ParseSignalError, Signal};
#[cfg(unix)]
pub use raw::{SaFlags, SigHandler, sigaction};
#[cfg(unix)]
pub use send::alarm;
pub use send::{kill, killpg, probe, raise};

/// The error for a failed signal call: unsupported platforms report
/// [`Error::Unsupported`] naming the call.
pub(crate) fn os_error(call: &'static str, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::Unsupported {
        return Error::Unsupported { what: call };
    }
    Error::os(call, e)
}

fn refused(sig: Signal, why: &str) -> Error {
    Error::InvalidArgument {
        what: "signal",
        value: format!("{sig} {why}"),
    }
}

/// Refuses `SIGKILL` and `SIGSTOP`, whose action cannot change.
pub(crate) fn refuse_uncatchable(sig: Signal) -> Result<()> {
    if sig == Signal::KILL || sig == Signal::STOP {
        return Err(refused(sig, "cannot be caught, blocked or ignored"));
    }
    Ok(())
}

/// Refuses what [`register`] cannot handle: `SIGKILL`, `SIGSTOP`, and the
/// synchronous fault signals.
pub(crate) fn refuse_unhandleable(sig: Signal) -> Result<()> {
    refuse_uncatchable(sig)?;
    #[cfg(unix)]
    let faults = [Signal::SEGV, Signal::BUS, Signal::ILL, Signal::FPE];
    #[cfg(not(unix))]
    let faults = [Signal::SEGV, Signal::ILL, Signal::FPE];
    if faults.contains(&sig) {
        return Err(refused(
            sig,
            "is a synchronous fault signal: a handler that runs later cannot fix the faulting instruction",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_signal() {
        let err = refuse_unhandleable(Signal::KILL).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid signal: SIGKILL cannot be caught, blocked or ignored"
        );
        assert!(
            refuse_unhandleable(Signal::SEGV)
                .unwrap_err()
                .to_string()
                .contains("SIGSEGV is a synchronous fault signal")
        );
        assert!(refuse_uncatchable(Signal::SEGV).is_ok());
        assert!(refuse_unhandleable(Signal::USR1).is_ok());
        assert!(refuse_unhandleable(Signal::STOP).is_err());
    }
}
