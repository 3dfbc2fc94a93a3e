//! Who holds the other end of a pipe: Windows keeps no per-process table
//! that maps a pipe to its holders cheaply, so nobody is found (the twin
//! of `sys/unix/holders.rs`).

use std::ffi::OsString;
use std::os::windows::io::BorrowedHandle;

/// A live process with a handle on a pipe (never found on Windows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Holder {
    /// Its process id.
    pub(crate) pid: i32,
    /// Its name.
    pub(crate) name: OsString,
}

/// Pipes have no inode number here.
#[allow(dead_code)]
pub(crate) fn pipe_inode(_handle: BorrowedHandle<'_>) -> Option<u64> {
    None
}

/// Nobody is found.
#[allow(dead_code)]
pub(crate) fn holders(targets: &[(u64, bool)]) -> Vec<Vec<Holder>> {
    vec![Vec::new(); targets.len()]
}
