//! The Windows backend: no `fork`, processes through std; the few calls std
//! lacks are declared here by hand (no extra dependency for two functions).

use std::ffi::c_void;

use crate::Pid;

pub(crate) mod holders;
pub(crate) mod pipe;
pub(crate) mod process;
pub(crate) mod signal;

/// `PROCESS_BASIC_INFORMATION`, as `NtQueryInformationProcess` fills it for
/// `ProcessBasicInformation` (class 0).
#[repr(C)]
struct ProcessBasicInformation {
    exit_status: i32,
    peb_base_address: *mut c_void,
    affinity_mask: usize,
    base_priority: i32,
    unique_process_id: usize,
    inherited_from_unique_process_id: usize,
}

#[link(name = "ntdll")]
unsafe extern "system" {
    fn NtQueryInformationProcess(
        process: *mut c_void,
        class: u32,
        info: *mut c_void,
        len: u32,
        ret_len: *mut u32,
    ) -> i32;
}

/// `GetCurrentProcess()`: a pseudo-handle that needs no closing.
const CURRENT_PROCESS: *mut c_void = -1isize as *mut c_void;

/// The id of the process that created this one, `None` if Windows does not
/// know it (a process started from outside Windows, under Wine for
/// example).
///
/// Like CPython's `os.getppid()` on Windows: `NtQueryInformationProcess`
/// with `ProcessBasicInformation`. Windows records the creator's id at
/// creation and never updates it: after the parent exits, the id may have
/// been reused by an unrelated process.
pub(crate) fn parent_pid_of_current() -> Option<Pid> {
    let mut info = ProcessBasicInformation {
        exit_status: 0,
        peb_base_address: std::ptr::null_mut(),
        affinity_mask: 0,
        base_priority: 0,
        unique_process_id: 0,
        inherited_from_unique_process_id: 0,
    };
    let len = std::mem::size_of::<ProcessBasicInformation>() as u32;
    // SAFETY: CURRENT_PROCESS is always a valid handle for the calling
    // process; `info` is a writable PROCESS_BASIC_INFORMATION of `len` bytes;
    // the returned-length pointer may be null.
    let status = unsafe {
        NtQueryInformationProcess(
            CURRENT_PROCESS,
            0, // ProcessBasicInformation
            (&mut info as *mut ProcessBasicInformation).cast(),
            len,
            std::ptr::null_mut(),
        )
    };
    if status < 0 {
        return None; // an NTSTATUS error
    }
    i32::try_from(info.inherited_from_unique_process_id)
        .ok()
        .and_then(Pid::from_raw)
}

/// `getppid()` on Windows: the creator's id (see [`parent_pid_of_current`]),
/// or the current pid when Windows does not know one.
pub(crate) fn parent_pid() -> Pid {
    parent_pid_of_current().unwrap_or_else(Pid::current)
}

/// Windows has no `fork`: the thread count is never needed.
pub(crate) fn thread_count() -> Option<usize> {
    None
}

/// `_exit(code)` of the C runtime: ends the process without running
/// `atexit` handlers or flushing stdio buffers (std's included), unlike
/// [`std::process::exit`].
pub(crate) fn exit(code: i32) -> ! {
    // SAFETY: _exit takes a plain integer and never returns.
    unsafe { libc::_exit(code) }
}
