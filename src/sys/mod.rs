//! The only place with raw system calls and `unsafe`: one backend per
//! platform behind one crate-private interface.

#![allow(unsafe_code)]

#[cfg(unix)]
#[path = "unix/mod.rs"]
mod imp;

#[cfg(windows)]
#[path = "windows/mod.rs"]
mod imp;

pub(crate) use imp::*;
