//! Pipes: close-on-exec ends, EOF, broken pipes without SIGPIPE deaths,
//! non-blocking mode, capacity, splice. Tests that fork or change the
//! SIGPIPE disposition run in their own forked child (see `forked_runner`).
//!
//! Unix only: the tests live in `tests/unix/pipe.rs`. On other platforms
//! this binary runs no test.

#[cfg(unix)]
mod forked_runner;
#[cfg(not(unix))]
mod support;

#[cfg(unix)]
#[path = "unix/pipe.rs"]
mod unix;

fn main() {
    #[cfg(unix)]
    unix::main();
    #[cfg(not(unix))]
    support::run(&[]);
}
