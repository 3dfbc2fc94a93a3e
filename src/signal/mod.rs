//! Signals: the [`Signal`] type, sending signals, and safe handlers.

pub(crate) mod number;

pub use number::{ParseSignalError, Signal};
