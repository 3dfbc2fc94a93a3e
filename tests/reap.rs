//! Reaping without a background thread, and init mode. `harness = false`:
//! the safe `fork` needs a single-threaded process, and these tests change
//! process-wide state (the subreaper bit, the signal mask).
//!
//! Unix only: the tests live in `tests/unix/reap.rs`. On other platforms
//! this binary runs no test.

mod support;

#[cfg(unix)]
#[path = "unix/reap.rs"]
mod unix;

fn main() {
    #[cfg(unix)]
    unix::main();
    #[cfg(not(unix))]
    support::run(&[]);
}
