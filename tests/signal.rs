//! Signal handlers, masks and sending. Dispositions are process-wide, so
//! every test runs in its own forked child (see `forked_runner`).
//!
//! Unix only: the tests live in `tests/unix/signal.rs`. On other platforms
//! this binary runs no test.

#[cfg(unix)]
mod forked_runner;
#[cfg(not(unix))]
mod support;

#[cfg(unix)]
#[path = "unix/signal.rs"]
mod unix;

fn main() {
    #[cfg(unix)]
    unix::main();
    #[cfg(not(unix))]
    support::run(&[]);
}
