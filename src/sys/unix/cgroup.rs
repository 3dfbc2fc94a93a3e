//! cgroup v2 (Linux): finding the caller's cgroup, checking that a
//! directory is one, creating, watching and removing a child cgroup.
//!
//! The file work uses `std::fs`; the raw calls are `fstatfs` (is this a
//! cgroup v2 directory), `openat` relative to the cgroup's directory
//! descriptor, and `poll(POLLPRI)` on `cgroup.events`, which the kernel
//! wakes whenever the file's content changes (kernfs notify); for the
//! async waits an inotify watch of the same file (`IN_MODIFY`, raised by
//! the same notify).

use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::cvt;

/// `CGROUP2_SUPER_MAGIC` from `linux/magic.h`.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// What a spawn needs to start its child inside a cgroup: the directory
/// descriptor for `clone3(CLONE_INTO_CGROUP)` and the path of
/// `cgroup.procs` for the child to write itself into on the `clone`
/// fallback. Both prepared before any process is made.
#[derive(Debug)]
pub(crate) struct Target {
    /// The cgroup directory, opened `O_RDONLY | O_DIRECTORY` (what
    /// `CLONE_INTO_CGROUP` asks for; an `O_PATH` descriptor is refused).
    pub(crate) dir: OwnedFd,
    /// `<dir>/cgroup.procs`, NUL-terminated.
    pub(crate) procs: CString,
    /// The directory.
    pub(crate) path: PathBuf,
    /// `cgroup.kill` was written. Linux (seen on 6.18) then kills at
    /// birth every child that `clone3(CLONE_INTO_CGROUP)` creates in the
    /// cgroup, while a process that joins through `cgroup.procs` (and
    /// whatever it forks) lives: from then on spawns join that way.
    pub(crate) killed: AtomicBool,
}

impl Target {
    /// The pair `sys::spawn::Request::cgroup` takes: the directory
    /// descriptor, or -1 for "join through `cgroup.procs`".
    pub(crate) fn request(&self) -> (RawFd, &CStr) {
        let fd = if self.killed.load(Ordering::Relaxed) {
            -1
        } else {
            self.dir.as_raw_fd()
        };
        (fd, &self.procs)
    }
}

/// `open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)`.
pub(crate) fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a NUL-terminated path and flags; returns a new fd or -1.
    let fd = cvt(unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: open just returned this descriptor; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `openat(dir, name, flags | O_CLOEXEC)`.
pub(crate) fn open_at(dir: BorrowedFd<'_>, name: &CStr, flags: libc::c_int) -> io::Result<File> {
    // SAFETY: a directory fd of ours, a NUL-terminated name and flags.
    let fd = cvt(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC) })?;
    // SAFETY: openat just returned this descriptor; nobody else owns it.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// `fstatfs(fd)`: whether `fd` lies on a cgroup v2 file system.
pub(crate) fn is_cgroup2(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: a valid descriptor and a writable statfs buffer.
    cvt(unsafe { libc::fstatfs(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstatfs succeeded, so it filled the buffer.
    let st = unsafe { st.assume_init() };
    // f_type is i64 or u32 depending on the target.
    #[allow(clippy::unnecessary_cast)]
    Ok(st.f_type as i64 == CGROUP2_SUPER_MAGIC)
}

/// The caller's own cgroup v2 directory: the `0::/path` line of
/// `/proc/self/cgroup` below the `cgroup2` mount that
/// `/proc/self/mountinfo` lists. `Ok(None)`: no cgroup v2 here (no `0::`
/// line, no `cgroup2` mount, or the mount does not reach our cgroup).
pub(crate) fn own_dir() -> io::Result<Option<PathBuf>> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup")?;
    let Some(own) = parse_own_cgroup(&cgroup) else {
        return Ok(None);
    };
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(parse_v2_mounts(&mountinfo)
        .into_iter()
        .find_map(|(root, mount)| join_below(&mount, &root, own)))
}

/// The path of the `0::` (cgroup v2) line of `/proc/self/cgroup`.
pub(crate) fn parse_own_cgroup(text: &str) -> Option<&str> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.strip_suffix(" (deleted)").unwrap_or(p))
        .filter(|p| p.starts_with('/'))
}

/// Every `cgroup2` mount in `/proc/self/mountinfo`: (root inside the
/// hierarchy, mount point), with the `\040`-style escapes undone.
pub(crate) fn parse_v2_mounts(text: &str) -> Vec<(String, PathBuf)> {
    text.lines()
        .filter_map(|line| {
            // id parent major:minor root mount-point options [optional...] - fstype source
            let (left, right) = line.split_once(" - ")?;
            if right.split(' ').next()? != "cgroup2" {
                return None;
            }
            let mut f = left.split(' ');
            let root = unescape(f.nth(3)?);
            let mount = unescape(f.next()?);
            Some((
                String::from_utf8_lossy(&root).into_owned(),
                PathBuf::from(OsStr::from_bytes(&mount)),
            ))
        })
        .collect()
}

/// `mount` + the part of `own` below `root`, if `own` is at or below it.
fn join_below(mount: &Path, root: &str, own: &str) -> Option<PathBuf> {
    let rest = if root == "/" {
        own
    } else {
        let r = own.strip_prefix(root)?;
        if !r.is_empty() && !r.starts_with('/') {
            return None;
        }
        r
    };
    let rest = rest.trim_start_matches('/');
    Some(if rest.is_empty() {
        mount.to_path_buf()
    } else {
        mount.join(rest)
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Reads a whole small kernfs file from its start.
fn read_from_start(file: &mut File) -> io::Result<String> {
    file.seek(SeekFrom::Start(0))?;
    let mut s = String::new();
    file.read_to_string(&mut s)?;
    Ok(s)
}

/// Whether `cgroup.events` (open in `events`) says `populated 1`. Reading
/// also re-arms the file's poll notification for this open file.
pub(crate) fn populated(events: &mut File) -> io::Result<bool> {
    let text = read_from_start(events)?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("populated "))
        .is_some_and(|v| v.trim() != "0"))
}

/// Waits until `cgroup.events` (open in `events`, read since the last
/// change) changes or `deadline` passes: `poll(POLLPRI)`, which the
/// kernel wakes on every change of the file. Returns whether it changed
/// (a spurious wake-up also counts: the caller reads again).
pub(crate) fn wait_change(events: &File, deadline: Option<Instant>) -> io::Result<bool> {
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32
            }
        };
        // POLLPRI only: kernfs reports POLLIN at all times, so asking for
        // it would turn this wait into a busy loop.
        let mut pfd = libc::pollfd {
            fd: events.as_fd().as_raw_fd(),
            events: libc::POLLPRI,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        match cvt(unsafe { libc::poll(&mut pfd, 1, ms) }) {
            Ok(0) if ms == 0 => return Ok(false),
            Ok(0) => continue, // rounding: look at the deadline again
            Ok(_) => return Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `inotify_init1(IN_NONBLOCK | IN_CLOEXEC)` and
/// `inotify_add_watch(file, IN_MODIFY)`: a descriptor that turns readable
/// when `file` changes. For `cgroup.events` the kernel raises a "file
/// modified" event on every change of its content (kernfs notify), so an
/// async waiter can put this descriptor in any reactor (async-io has no
/// `POLLPRI` interest). Non-blocking; drain it with [`drain_watch`].
/// On failure, the call that failed (`inotify_init1`,
/// `inotify_add_watch`) and its error.
#[cfg(any(feature = "tokio", feature = "async-io"))]
pub(crate) fn watch_modify(file: &Path) -> Result<OwnedFd, (&'static str, io::Error)> {
    let c = CString::new(file.as_os_str().as_bytes()).map_err(|_| {
        (
            "inotify_add_watch",
            io::Error::from_raw_os_error(libc::EINVAL),
        )
    })?;
    // SAFETY: flags only; returns a new descriptor or -1.
    let fd = cvt(unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) })
        .map_err(|e| ("inotify_init1", e))?;
    // SAFETY: `fd` was just returned by inotify_init1 and nothing else
    // owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: an inotify descriptor we own, a NUL-terminated path and a
    // mask; returns a watch descriptor (not a file descriptor) or -1.
    cvt(unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), libc::IN_MODIFY) })
        .map_err(|e| ("inotify_add_watch", e))?;
    Ok(fd)
}

/// Reads every event queued on an inotify descriptor from
/// [`watch_modify`] (their content does not matter: the caller reads the
/// watched file again), until it would block: always ends with an error,
/// `WouldBlock` once the queue is empty.
#[cfg(any(feature = "tokio", feature = "async-io"))]
pub(crate) fn drain_watch(fd: BorrowedFd<'_>) -> io::Result<()> {
    // Room for several events of the largest size (a header and a name).
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(fd, &mut buf) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// The pids listed in `<dir>/cgroup.procs` and in every cgroup below it.
pub(crate) fn pids_recursive(dir: &Path, out: &mut Vec<i32>) -> io::Result<()> {
    fn walk(dir: &Path, out: &mut Vec<i32>, top: bool) -> io::Result<()> {
        match std::fs::read_to_string(dir.join("cgroup.procs")) {
            Ok(text) => out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            ),
            // A sub-cgroup removed while we walk.
            Err(e) if !top && e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
            Err(e) => return Err(e),
        }
        for sub in subdirs(dir)? {
            walk(&sub, out, false)?;
        }
        Ok(())
    }
    walk(dir, out, true)
}

/// The sub-cgroups (directories) of a cgroup directory; none if it is gone.
fn subdirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut v = Vec::new();
    for e in entries {
        let e = e?;
        if e.file_type()?.is_dir() {
            v.push(e.path());
        }
    }
    Ok(v)
}

/// Removes `dir` and the cgroups below it, deepest first (`rmdir`: a
/// cgroup with live processes or sub-cgroups is `EBUSY`). `dir` itself
/// is removed even where listing or removing what is below it failed
/// (usually nothing is below it); the first error is returned.
pub(crate) fn remove_tree(dir: &Path) -> io::Result<()> {
    let below = subdirs(dir).and_then(|subs| subs.iter().try_for_each(|sub| remove_tree(sub)));
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        Err(e) => Err(below.err().unwrap_or(e)),
    }
}

/// A deadline `timeout` from now; `None` if it does not fit.
pub(crate) fn deadline(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cgroup_line() {
        let hybrid = "9:name=systemd:/\n4:memory:/x/y\n0::/\n";
        assert_eq!(parse_own_cgroup(hybrid), Some("/"));
        let v2 = "0::/user.slice/user-1000.slice/session-2.scope\n";
        assert_eq!(
            parse_own_cgroup(v2),
            Some("/user.slice/user-1000.slice/session-2.scope")
        );
        assert_eq!(parse_own_cgroup("4:memory:/x\n"), None);
        assert_eq!(parse_own_cgroup("0::/gone (deleted)\n"), Some("/gone"));
    }

    #[test]
    fn v2_mounts_and_joining() {
        let info = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
50 31 0:38 /sub /mnt/with\\040space rw - cgroup2 cgroup2 rw
";
        let m = parse_v2_mounts(info);
        assert_eq!(
            m,
            [
                ("/".to_owned(), PathBuf::from("/sys/fs/cgroup/unified")),
                ("/sub".to_owned(), PathBuf::from("/mnt/with space")),
            ]
        );
        let unified = Path::new("/sys/fs/cgroup/unified");
        assert_eq!(join_below(unified, "/", "/"), Some(unified.to_path_buf()));
        assert_eq!(join_below(unified, "/", "/a/b"), Some(unified.join("a/b")));
        let m = Path::new("/mnt");
        assert_eq!(join_below(m, "/sub", "/sub/x"), Some(m.join("x")));
        assert_eq!(join_below(m, "/sub", "/sub"), Some(m.to_path_buf()));
        assert_eq!(join_below(m, "/sub", "/subway"), None);
        assert_eq!(join_below(m, "/sub", "/other"), None);
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape(r"a\040b\011c\\"), b"a b\tc\\\\");
        assert_eq!(unescape(r"end\04"), br"end\04");
    }
}
