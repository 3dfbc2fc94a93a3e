//! `procctl::tokio` on tokio's current-thread and multi-thread runtimes,
//! beside `tokio::process`. Its own binary (`harness = false`, tests run
//! in order) because it counts descriptors and zombies of the whole
//! process and changes signal dispositions.
//!
//! Unix with the `tokio` feature only; elsewhere this binary runs no test.

mod support;

#[cfg(all(unix, feature = "tokio"))]
#[path = "unix/async_tokio.rs"]
mod unix;

fn main() {
    #[cfg(all(unix, feature = "tokio"))]
    unix::main();
    #[cfg(not(all(unix, feature = "tokio")))]
    support::run(&[]);
}
