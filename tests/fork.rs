//! The safe `fork`, `wait`/`waitpid`, the exec family, `_exit` and `Child`,
//! with real processes. `harness = false`: libtest would add a thread, and
//! the safe `fork` refuses to run in a multi-threaded process.
//!
//! Unix only: the tests live in `tests/unix/fork.rs`. On other platforms
//! this binary runs no test (`fork` and the exec family do not exist there);
//! `tests/portable.rs` holds what runs everywhere.

mod support;

#[cfg(unix)]
#[path = "unix/fork.rs"]
mod unix;

fn main() {
    #[cfg(unix)]
    unix::main();
    #[cfg(not(unix))]
    support::run(&[]);
}
