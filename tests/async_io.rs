//! `procctl::async_io` under `async_io::block_on`, beside
//! `async-process`. Its own binary (`harness = false`, tests run in
//! order) because it counts descriptors and zombies of the whole process
//! and changes signal dispositions.
//!
//! Unix with the `async-io` feature only; elsewhere this binary runs no
//! test.

mod support;

#[cfg(all(unix, feature = "async-io"))]
#[path = "unix/async_io.rs"]
mod unix;

fn main() {
    #[cfg(all(unix, feature = "async-io"))]
    unix::main();
    #[cfg(not(all(unix, feature = "async-io")))]
    support::run(&[]);
}
