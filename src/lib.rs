//! procctl
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod error;
mod pid;
pub mod pipe;
pub mod proc;
pub mod reap;
pub mod signal;
mod status;
mod sys;

pub use error::{Error, Result};
pub use pid::Pid;
pub use signal::Signal;
pub use status::{ExitStatus, WaitStatus};
