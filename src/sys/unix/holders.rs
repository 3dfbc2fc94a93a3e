//! Who holds the other end of a pipe: the processes whose descriptor
//! table (`/proc/PID/fd`) links to the same pipe inode, with the access
//! mode of that descriptor from `/proc/PID/fdinfo/N` (Linux). Elsewhere
//! nothing is found.
//!
//! Used when `communicate` cuts a pipe that outlived the child (a
//! grandchild kept it): the caller is told who kept it.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, BorrowedFd};

/// A live process with a descriptor on a pipe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Holder {
    /// Its process id.
    pub(crate) pid: i32,
    /// Its command name (`/proc/PID/comm`: at most 15 bytes).
    pub(crate) name: OsString,
}

/// The inode of the pipe behind `fd`: `readlink("/proc/self/fd/N")` reads
/// `pipe:[INODE]`. `None` if `fd` is not a pipe or there is no `/proc`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn pipe_inode(fd: BorrowedFd<'_>) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
    parse_pipe_link(link.to_str()?)
}

/// No `/proc` with descriptor links here.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn pipe_inode(fd: BorrowedFd<'_>) -> Option<u64> {
    let _ = fd.as_raw_fd();
    None
}

/// For each `(inode, writers)` target, the live processes holding that
/// pipe open for writing (`writers`) or for reading (`!writers`); a
/// descriptor open for both counts as either. Processes we may not
/// inspect (another user's, without privilege) and processes that end
/// during the scan are left out. One pass over `/proc`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn holders(targets: &[(u64, bool)]) -> Vec<Vec<Holder>> {
    let mut found: Vec<Vec<Holder>> = vec![Vec::new(); targets.len()];
    if targets.is_empty() {
        return found;
    }
    let links: Vec<String> = targets
        .iter()
        .map(|(ino, _)| format!("pipe:[{ino}]"))
        .collect();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let Some(link) = link.to_str() else { continue };
            for (i, want) in links.iter().enumerate() {
                if link != want || found[i].iter().any(|h| h.pid == pid) {
                    continue;
                }
                let info = format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_string_lossy());
                let Some(mode) = std::fs::read_to_string(info)
                    .ok()
                    .and_then(|s| access_mode(&s))
                else {
                    continue;
                };
                let wanted = match mode {
                    libc::O_RDWR => true,
                    libc::O_WRONLY => targets[i].1,
                    _ => !targets[i].1,
                };
                if wanted {
                    let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                        .map(|s| s.trim_end_matches('\n').to_owned())
                        .unwrap_or_default();
                    found[i].push(Holder {
                        pid,
                        name: name.into(),
                    });
                }
            }
        }
    }
    found
}

/// No `/proc` with descriptor links here: nobody is found.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn holders(targets: &[(u64, bool)]) -> Vec<Vec<Holder>> {
    vec![Vec::new(); targets.len()]
}

/// `pipe:[1234]` -> 1234.
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
fn parse_pipe_link(link: &str) -> Option<u64> {
    link.strip_prefix("pipe:[")?.strip_suffix(']')?.parse().ok()
}

/// The `O_ACCMODE` bits of the `flags:` line (octal) of an fdinfo file.
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
fn access_mode(fdinfo: &str) -> Option<i32> {
    let flags = fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))?
        .trim();
    i32::from_str_radix(flags, 8)
        .ok()
        .map(|f| f & libc::O_ACCMODE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_links_and_fdinfo() {
        assert_eq!(parse_pipe_link("pipe:[81623]"), Some(81623));
        assert_eq!(parse_pipe_link("socket:[81623]"), None);
        assert_eq!(parse_pipe_link("pipe:[x]"), None);
        assert_eq!(parse_pipe_link("/dev/null"), None);
        let info = "pos:\t0\nflags:\t02000001\nmnt_id:\t15\nino:\t81623\n";
        assert_eq!(access_mode(info), Some(libc::O_WRONLY));
        assert_eq!(access_mode("flags:\t0100002\n"), Some(libc::O_RDWR));
        assert_eq!(access_mode("flags:\t00\n"), Some(libc::O_RDONLY));
        assert_eq!(access_mode("pos:\t0\n"), None);
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn finds_this_process_on_both_ends() {
        use std::os::fd::AsFd;
        let (r, w) = std::io::pipe().unwrap();
        let ino = pipe_inode(r.as_fd()).expect("a pipe inode");
        assert_eq!(pipe_inode(w.as_fd()), Some(ino));
        let me = std::process::id() as i32;
        let found = holders(&[(ino, true), (ino, false)]);
        assert_eq!(found[0].iter().filter(|h| h.pid == me).count(), 1);
        assert_eq!(found[1].iter().filter(|h| h.pid == me).count(), 1);
        drop(w);
        // Only this process is looked at: a child that another test of this
        // binary spawns meanwhile may hold copies of the pipe for a moment.
        let found = holders(&[(ino, true), (ino, false)]);
        assert!(!found[0].iter().any(|h| h.pid == me), "{found:?}");
        let mine: Vec<_> = found[1].iter().filter(|h| h.pid == me).collect();
        assert_eq!(mine.len(), 1, "{found:?}");
        assert!(!mine[0].name.is_empty());
    }
}
