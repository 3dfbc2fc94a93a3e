//! Signals on Windows: there are none to mask, wait for or send, so every
//! call reports `Unsupported`. Same crate-private interface as
//! `unix/signal.rs`.

use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::signal::SigSet;

/// Handlers cannot be registered on this platform.
pub(crate) const HANDLERS_SUPPORTED: bool = false;

fn unsupported<T>() -> io::Result<T> {
    Err(io::ErrorKind::Unsupported.into())
}

/// A thread's signal mask (Windows has none).
pub(crate) struct SavedMask;

/// What the kernel does with a signal now.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Current {
    Default,
    Ignore,
    Ours,
    Other,
}

pub(crate) fn block(_set: &SigSet) -> io::Result<SavedMask> {
    unsupported()
}

pub(crate) fn block_all() -> io::Result<SavedMask> {
    unsupported()
}

pub(crate) fn restore_mask(_saved: &SavedMask) -> io::Result<()> {
    unsupported()
}

pub(crate) fn current_mask() -> io::Result<SigSet> {
    unsupported()
}

pub(crate) fn pending() -> io::Result<SigSet> {
    unsupported()
}

pub(crate) fn wait_for(_set: &SigSet, _timeout: Option<Duration>) -> io::Result<Option<i32>> {
    unsupported()
}

pub(crate) fn raise(_sig: i32) -> io::Result<()> {
    unsupported()
}

pub(crate) fn kill(_pid: i32, _sig: i32) -> io::Result<()> {
    unsupported()
}

pub(crate) fn disposition(_sig: i32) -> io::Result<Current> {
    unsupported()
}

pub(crate) fn ignore(_sig: i32) -> io::Result<()> {
    unsupported()
}

pub(crate) fn default(_sig: i32) -> io::Result<()> {
    unsupported()
}

/// The queue of one `Signals` iterator (never made on Windows).
pub(crate) struct Queue;

impl Queue {
    pub(crate) fn new() -> io::Result<(Arc<Queue>, std::io::PipeReader)> {
        unsupported()
    }

    pub(crate) fn take(&self, _f: impl FnMut(i32, u32)) {}
}

/// What procctl does for one signal (built, never used, on Windows).
#[allow(dead_code)]
#[derive(Default)]
pub(crate) struct Actions {
    pub(crate) flags: Vec<Arc<AtomicBool>>,
    pub(crate) queues: Vec<Arc<Queue>>,
    pub(crate) dispatch: bool,
}

pub(crate) fn hook(_sig: i32, _actions: Actions) -> io::Result<()> {
    unsupported()
}

pub(crate) fn update(_sig: i32, _actions: Actions) -> io::Result<()> {
    unsupported()
}

pub(crate) fn unhook(_sig: i32) -> io::Result<()> {
    unsupported()
}

pub(crate) fn new_wake_pipe() -> io::Result<std::io::PipeReader> {
    unsupported()
}

pub(crate) fn take_deliveries(_f: impl FnMut(i32, u32)) {}
