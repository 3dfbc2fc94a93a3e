//! Spawn attributes as data: resource limits, credentials, namespaces and
//! the other process attributes a [`Command`](crate::proc::Command) sets in
//! its child between clone and exec (Unix; Linux first).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::Signal;
use crate::error::{Error, Result};
use crate::sys::spawn::attrs as sys;

/// A resource for `setrlimit(resource, limit)`:
/// [`Command::rlimit`](crate::proc::Command::rlimit).
///
/// An enum, so an unknown resource number cannot be asked for. Each
/// variant names the C macro.
///
/// # Platform notes
///
/// Unix only. The variants marked "Linux" exist only there.
///
/// # Examples
///
/// ```
/// use procctl::proc::Resource;
/// assert_eq!(format!("{:?}", Resource::Nofile), "Nofile");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    /// `RLIMIT_NOFILE`: one above the highest descriptor number.
    Nofile,
    /// `RLIMIT_NPROC`: processes (threads on Linux) of the real user id.
    Nproc,
    /// `RLIMIT_CORE`: bytes of a core dump.
    Core,
    /// `RLIMIT_AS`: bytes of virtual address space.
    As,
    /// `RLIMIT_CPU`: seconds of CPU time (`SIGXCPU`, then `SIGKILL`).
    Cpu,
    /// `RLIMIT_FSIZE`: bytes of a file written (`SIGXFSZ`).
    Fsize,
    /// `RLIMIT_STACK`: bytes of the main thread's stack.
    Stack,
    /// `RLIMIT_DATA`: bytes of the data segment (and, on Linux, private
    /// mappings).
    Data,
    /// `RLIMIT_MEMLOCK`: bytes locked into memory.
    Memlock,
    /// `RLIMIT_MSGQUEUE`: bytes of POSIX message queues (Linux).
    #[cfg(target_os = "linux")]
    Msgqueue,
    /// `RLIMIT_NICE`: the ceiling of the nice value, as `20 - nice` (Linux).
    #[cfg(target_os = "linux")]
    Nice,
    /// `RLIMIT_RTPRIO`: the ceiling of the real-time priority (Linux).
    #[cfg(target_os = "linux")]
    Rtprio,
    /// `RLIMIT_RTTIME`: microseconds of real-time CPU without a blocking
    /// call (Linux).
    #[cfg(target_os = "linux")]
    Rttime,
    /// `RLIMIT_SIGPENDING`: queued signals of the real user id (Linux).
    #[cfg(target_os = "linux")]
    Sigpending,
}

impl Resource {
    /// The `RLIMIT_*` number.
    #[allow(clippy::unnecessary_cast)] // c_uint on glibc, c_int elsewhere
    fn as_raw(self) -> i32 {
        (match self {
            Resource::Nofile => libc::RLIMIT_NOFILE,
            Resource::Nproc => libc::RLIMIT_NPROC,
            Resource::Core => libc::RLIMIT_CORE,
            Resource::As => libc::RLIMIT_AS,
            Resource::Cpu => libc::RLIMIT_CPU,
            Resource::Fsize => libc::RLIMIT_FSIZE,
            Resource::Stack => libc::RLIMIT_STACK,
            Resource::Data => libc::RLIMIT_DATA,
            Resource::Memlock => libc::RLIMIT_MEMLOCK,
            #[cfg(target_os = "linux")]
            Resource::Msgqueue => libc::RLIMIT_MSGQUEUE,
            #[cfg(target_os = "linux")]
            Resource::Nice => libc::RLIMIT_NICE,
            #[cfg(target_os = "linux")]
            Resource::Rtprio => libc::RLIMIT_RTPRIO,
            #[cfg(target_os = "linux")]
            Resource::Rttime => libc::RLIMIT_RTTIME,
            #[cfg(target_os = "linux")]
            Resource::Sigpending => libc::RLIMIT_SIGPENDING,
        }) as i32
    }
}

/// The value of an unlimited resource for
/// [`Command::rlimit`](crate::proc::Command::rlimit): `RLIM_INFINITY`
/// (translated to the platform's own value, which on macOS and FreeBSD is
/// `2^63 - 1`).
///
/// ```
/// assert_eq!(procctl::proc::RLIM_INFINITY, u64::MAX);
/// ```
pub const RLIM_INFINITY: u64 = u64::MAX;

bitflags::bitflags! {
    /// Namespaces for `unshare(flags)`:
    /// [`Command::unshare`](crate::proc::Command::unshare) (Linux).
    ///
    /// # Platform notes
    ///
    /// The type exists on every Unix; a spawn that asks for any flag
    /// outside Linux fails with [`Error::Unsupported`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::Namespaces;
    /// let ns = Namespaces::UTS | Namespaces::MOUNT;
    /// assert!(ns.contains(Namespaces::UTS));
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Namespaces: u32 {
        /// `CLONE_NEWNS`: a private copy of the mount table.
        const MOUNT = 0x0002_0000;
        /// `CLONE_NEWUTS`: its own host and domain name.
        const UTS = 0x0400_0000;
        /// `CLONE_NEWIPC`: its own System V IPC and POSIX message queues.
        const IPC = 0x0800_0000;
        /// `CLONE_NEWNET`: its own network stack (only a loopback, down).
        const NET = 0x4000_0000;
        /// `CLONE_NEWPID`: the program's *children* start a new PID
        /// namespace (its first child is pid 1 there); the program itself
        /// keeps its pid, as `unshare(2)` does.
        const PID = 0x2000_0000;
        /// `CLONE_NEWUSER`: a new user namespace; needs
        /// [`uid_map`](crate::proc::Command::uid_map) or
        /// [`gid_map`](crate::proc::Command::gid_map).
        const USER = 0x1000_0000;
        /// `CLONE_NEWCGROUP`: its current cgroup becomes its cgroup root.
        const CGROUP = 0x0200_0000;
        /// `CLONE_NEWTIME`: the program's children get their own
        /// monotonic and boot-time clocks (Linux 5.6).
        const TIME = 0x0000_0080;
    }
}

/// One line of a user namespace's id map: ids `inside..inside + count`
/// in the namespace are `outside..outside + count` outside it.
pub(crate) type IdRange = (u32, u32, u32);

/// What `Command`'s attribute methods recorded.
#[derive(Clone, Debug, Default)]
pub(crate) struct Attrs {
    pub(crate) rlimits: Vec<(Resource, u64, u64)>,
    pub(crate) umask: Option<u32>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) groups: Option<Vec<u32>>,
    pub(crate) chroot: Option<PathBuf>,
    pub(crate) pdeathsig: Option<Signal>,
    pub(crate) no_new_privs: bool,
    pub(crate) nice: Option<i32>,
    pub(crate) affinity: Option<Vec<usize>>,
    pub(crate) unshare: Namespaces,
    pub(crate) uid_map: Option<Vec<IdRange>>,
    pub(crate) gid_map: Option<Vec<IdRange>>,
}

fn invalid(what: &'static str, value: String) -> Error {
    Error::InvalidArgument { what, value }
}

fn unsupported(what: &'static str) -> Error {
    Error::Unsupported { what }
}

impl Attrs {
    /// Whether nothing was set (the spawn skips the whole block).
    pub(crate) fn is_empty(&self) -> bool {
        self.rlimits.is_empty()
            && self.umask.is_none()
            && self.uid.is_none()
            && self.gid.is_none()
            && self.groups.is_none()
            && self.chroot.is_none()
            && self.pdeathsig.is_none()
            && !self.no_new_privs
            && self.nice.is_none()
            && self.affinity.is_none()
            && self.unshare.is_empty()
            && self.uid_map.is_none()
            && self.gid_map.is_none()
    }

    /// Checks every value and builds the plain data the child reads;
    /// every error here comes before any process exists.
    pub(crate) fn prepare(&self) -> Result<sys::Attrs> {
        let linux = cfg!(target_os = "linux");
        let freebsd = cfg!(target_os = "freebsd");
        for &(res, soft, hard) in &self.rlimits {
            if soft > hard {
                return Err(invalid(
                    "rlimit",
                    format!("{res:?}: soft limit {soft} above hard limit {hard}"),
                ));
            }
        }
        if let Some(mask) = self.umask.filter(|&m| m > 0o777) {
            return Err(invalid("umask", format!("{mask:#o} (above 0o777)")));
        }
        if let Some(groups) = &self.groups {
            let max = ngroups_max();
            if groups.len() > max {
                return Err(invalid(
                    "groups",
                    format!("{} groups, more than NGROUPS_MAX ({max})", groups.len()),
                ));
            }
        }
        if self.pdeathsig.is_some() && !(linux || freebsd) {
            return Err(unsupported("Command::parent_death_signal"));
        }
        if self.no_new_privs && !(linux || freebsd) {
            return Err(unsupported("Command::no_new_privs"));
        }
        if self.affinity.is_some() && !linux {
            return Err(unsupported("Command::cpu_affinity"));
        }
        if (!self.unshare.is_empty() || self.uid_map.is_some() || self.gid_map.is_some()) && !linux
        {
            return Err(unsupported("Command::unshare"));
        }
        let user = self.unshare.contains(Namespaces::USER);
        let maps = self.uid_map.is_some() || self.gid_map.is_some();
        if user && !maps {
            return Err(invalid(
                "unshare",
                "USER without uid_map or gid_map (every id would be the overflow id 65534)".into(),
            ));
        }
        if maps && !user {
            return Err(invalid(
                "uid_map/gid_map",
                "without unshare(Namespaces::USER)".into(),
            ));
        }
        let chroot = self
            .chroot
            .as_ref()
            .map(|p| {
                CString::new(p.as_os_str().as_bytes())
                    .map_err(|_| invalid("chroot", format!("{p:?} contains a NUL byte")))
            })
            .transpose()?;
        #[cfg(target_os = "linux")]
        let affinity = match &self.affinity {
            Some(cpus) => {
                let max = std::mem::size_of::<libc::cpu_set_t>() * 8;
                // SAFETY-free: a zeroed cpu_set_t is the empty set.
                let mut set = Box::new(sys::empty_cpu_set());
                for &cpu in cpus {
                    if cpu >= max {
                        return Err(invalid(
                            "cpu_affinity",
                            format!("CPU {cpu} (at most {})", max - 1),
                        ));
                    }
                    sys::cpu_set(&mut set, cpu);
                }
                if cpus.is_empty() {
                    return Err(invalid("cpu_affinity", "an empty CPU list".into()));
                }
                Some(set)
            }
            None => None,
        };
        let map_text = |map: &Option<Vec<IdRange>>| {
            map.as_ref().map(|lines| {
                let mut s = String::new();
                for (inside, outside, count) in lines {
                    s.push_str(&format!("{inside} {outside} {count}\n"));
                }
                s.into_bytes()
            })
        };
        Ok(sys::Attrs {
            rlimits: self
                .rlimits
                .iter()
                .map(|&(r, soft, hard)| (r.as_raw(), raw_limit(soft), raw_limit(hard)))
                .collect(),
            umask: self.umask,
            uid: self.uid,
            gid: self.gid,
            // uid or gid without groups: drop every supplementary group.
            groups: self
                .groups
                .clone()
                .or_else(|| (self.uid.is_some() || self.gid.is_some()).then(Vec::new)),
            chroot,
            pdeathsig: self.pdeathsig.map_or(0, |s| s.as_raw()),
            no_new_privs: self.no_new_privs,
            nice: self.nice,
            #[cfg(target_os = "linux")]
            affinity,
            unshare: (self.unshare - Namespaces::USER).bits() as i32,
            user_ns: user.then(|| sys::IdMaps {
                uid_map: map_text(&self.uid_map),
                gid_map: map_text(&self.gid_map),
            }),
            parent: 0,
        })
    }
}

/// A limit as the C library spells it: [`RLIM_INFINITY`] is `u64::MAX`
/// here and `2^63 - 1` on macOS and FreeBSD.
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 everywhere we build
fn raw_limit(v: u64) -> u64 {
    if v == RLIM_INFINITY {
        libc::RLIM_INFINITY as u64
    } else {
        v
    }
}

/// `sysconf(_SC_NGROUPS_MAX)`, or 16 (the POSIX minimum) if unknown.
fn ngroups_max() -> usize {
    crate::sys::spawn::attrs::ngroups_max()
}
