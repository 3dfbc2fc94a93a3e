//! The Windows backend: processes through std, no fork.

use crate::Pid;

pub(crate) mod pipe;
pub(crate) mod signal;

/// The parent process id is not tracked on Windows: the current pid.
pub(crate) fn parent_pid() -> Pid {
    Pid::current()
}

/// Windows has no `fork`: the thread count is never needed.
pub(crate) fn thread_count() -> Option<usize> {
    None
}

/// `ExitProcess(code)`.
pub(crate) fn exit(code: i32) -> ! {
    std::process::exit(code)
}
