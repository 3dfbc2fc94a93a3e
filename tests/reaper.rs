//! The background reaper threads. Their own binary (`harness = false`, run
//! in order): once a reaper runs the process is multi-threaded for good,
//! and `ReapMode::All` reaps every child of the process.
//!
//! Unix only: the tests live in `tests/unix/reaper.rs`. On other platforms
//! this binary runs no test.

mod support;

#[cfg(unix)]
#[path = "unix/reaper.rs"]
mod unix;

fn main() {
    #[cfg(unix)]
    unix::main();
    #[cfg(not(unix))]
    support::run(&[]);
}
