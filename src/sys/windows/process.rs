//! Waiting on a process handle and reading its CPU times: the two kernel32
//! calls std does not expose, declared by hand.

use std::ffi::c_void;
use std::io;
use std::os::windows::io::{AsRawHandle, BorrowedHandle};
use std::time::Duration;

/// `FILETIME`: 100 ns units, split in two halves.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct FileTime {
    low: u32,
    high: u32,
}

impl FileTime {
    fn duration(self) -> Duration {
        let ticks = (u64::from(self.high) << 32) | u64::from(self.low);
        Duration::from_nanos(ticks.saturating_mul(100))
    }
}

/// `PROCESS_MEMORY_COUNTERS`.
#[repr(C)]
#[derive(Default)]
struct MemoryCounters {
    cb: u32,
    page_fault_count: u32,
    peak_working_set_size: usize,
    working_set_size: usize,
    quota_peak_paged_pool_usage: usize,
    quota_paged_pool_usage: usize,
    quota_peak_non_paged_pool_usage: usize,
    quota_non_paged_pool_usage: usize,
    pagefile_usage: usize,
    peak_pagefile_usage: usize,
}

#[link(name = "kernel32")]
unsafe extern "system" {
    fn WaitForSingleObject(handle: *mut c_void, milliseconds: u32) -> u32;
    fn GetProcessTimes(
        process: *mut c_void,
        creation: *mut FileTime,
        exit: *mut FileTime,
        kernel: *mut FileTime,
        user: *mut FileTime,
    ) -> i32;
    fn K32GetProcessMemoryInfo(process: *mut c_void, counters: *mut MemoryCounters, cb: u32)
    -> i32;
}

const WAIT_OBJECT_0: u32 = 0;
const WAIT_TIMEOUT: u32 = 0x102;
const INFINITE: u32 = u32::MAX;

/// `WaitForSingleObject(process, timeout)`: `true` once the process has
/// ended, `false` if `timeout` passed first. Does not reap anything (there
/// is nothing to reap on Windows).
pub(crate) fn wait_handle(
    process: BorrowedHandle<'_>,
    timeout: Option<Duration>,
) -> io::Result<bool> {
    let ms = match timeout {
        None => INFINITE,
        // Round up, so a short timeout never becomes a busy poll; stay
        // below INFINITE.
        Some(t) => t
            .as_nanos()
            .div_ceil(1_000_000)
            .min(u128::from(INFINITE - 1)) as u32,
    };
    // SAFETY: the handle is borrowed, so it stays open for the whole call.
    match unsafe { WaitForSingleObject(process.as_raw_handle(), ms) } {
        WAIT_OBJECT_0 => Ok(true),
        WAIT_TIMEOUT => Ok(false),
        _ => Err(io::Error::last_os_error()),
    }
}

/// `GetProcessTimes` and `GetProcessMemoryInfo`: user time, kernel time,
/// peak working set in bytes (0 if Windows does not report it).
pub(crate) fn usage(process: BorrowedHandle<'_>) -> io::Result<(Duration, Duration, u64)> {
    let mut t = [FileTime::default(); 4];
    let [creation, exit, kernel, user] = &mut t;
    // SAFETY: the handle is borrowed (open for the call); the four out
    // pointers point at distinct live FILETIMEs.
    let ok = unsafe { GetProcessTimes(process.as_raw_handle(), creation, exit, kernel, user) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    let mut mem = MemoryCounters {
        cb: size_of::<MemoryCounters>() as u32,
        ..MemoryCounters::default()
    };
    // SAFETY: as above; `mem` is a live PROCESS_MEMORY_COUNTERS of `cb` bytes.
    let ok = unsafe { K32GetProcessMemoryInfo(process.as_raw_handle(), &mut mem, mem.cb) };
    let peak = if ok == 0 {
        0
    } else {
        mem.peak_working_set_size as u64
    };
    Ok((t[3].duration(), t[2].duration(), peak))
}
