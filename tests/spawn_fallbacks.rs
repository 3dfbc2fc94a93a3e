//! `Command` on a kernel that lacks what the fast spawn path uses: each
//! test runs in a forked child that installs a seccomp filter making
//! `clone3` and/or `close_range` fail the way an old kernel (`ENOSYS`) or
//! a container's seccomp profile (`EPERM`) makes them fail (and, last,
//! `getdents64` too, so `/proc/self/fd` cannot be listed), then spawns
//! for real. The descriptor allowlist, `map_fd`, exit statuses and spawn
//! errors must all come out the same as on the fast path.
//!
//! `harness = false`: the safe `fork` needs a single-threaded process, and
//! a seccomp filter is process-wide state that must not reach other tests.
//! Linux only (seccomp); elsewhere this binary runs no test.

mod support;

#[cfg(target_os = "linux")]
mod seccomp;

#[cfg(target_os = "linux")]
mod linux {
    use std::fs;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::path::Path;

    use procctl::error::SpawnStep;
    use procctl::proc::{Command, Stdio};

    use super::support;

    /// How a filtered system call fails.
    #[derive(Clone, Copy)]
    struct Deny {
        nr: libc::c_long,
        errno: i32,
    }

    /// Installs a filter that makes each of `deny` fail with its errno and
    /// allows every other call. `Err` if this kernel or sandbox allows no
    /// filter.
    fn install(deny: &[Deny]) -> Result<(), std::io::Error> {
        let calls: Vec<_> = deny.iter().map(|d| (d.nr, d.errno)).collect();
        crate::seccomp::deny(&calls)
    }

    /// What a shell sees: its stdout, which lists `/proc/$$/fd` last.
    fn shell_output(cmd: &mut Command) -> String {
        let child = cmd.stdout(Stdio::piped()).spawn().expect("spawn");
        let out = child
            .communicate_timeout(b"", std::time::Duration::from_secs(10))
            .expect("communicate");
        assert!(out.status.success(), "{:?}", out.status);
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// How the shell lists its descriptors: `ls` where the filter leaves
    /// `getdents64` alone, else a test of each number that matters.
    const LIST_FDS: &str = "ls /proc/$$/fd";
    const PROBE_FDS: &str =
        "for fd in 0 1 2 3 4 5 6 7 8 9 200; do [ -e /proc/$$/fd/$fd ] && echo $fd; done; true";

    /// Everything the fast path guarantees, checked from inside children.
    fn spawn_checks(list: &str, dir: &Path) {
        let file = dir.join("mapped");
        fs::write(&file, "mapped file\n").unwrap();

        // A descriptor without close-on-exec, far above the rest: the
        // allowlist must close it whichever way it closes descriptors.
        let null = fs::File::open("/dev/null").unwrap();
        // SAFETY: F_DUPFD returns a new descriptor that we own.
        let leaky =
            unsafe { OwnedFd::from_raw_fd(libc::fcntl(null.as_raw_fd(), libc::F_DUPFD, 200)) };
        assert!(leaky.as_raw_fd() >= 200);

        for _ in 0..20 {
            let out = shell_output(
                Command::new("/bin/sh")
                    .args(["-c", &format!("cat <&5; {list}")])
                    .map_fd(fs::File::open(&file).unwrap().into(), 5),
            );
            assert_eq!(out, "mapped file\n0\n1\n2\n5\n");
        }
        let status = Command::new("/bin/sh")
            .args(["-c", "exit 7"])
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(7));
        let err = Command::new("true")
            .current_dir("/no/such/dir")
            .spawn()
            .unwrap_err();
        assert_eq!(err.spawn_step(), Some(SpawnStep::Chdir), "{err}");
        let err = Command::new("/no/such/program").spawn().unwrap_err();
        assert!(matches!(err, procctl::Error::NotFound { .. }), "{err}");
        // The failed spawns were reaped: nothing is left for an any-child
        // reap (which, unlike a /proc scan, needs no directory listing).
        assert_eq!(procctl::reap::reap_zombies().unwrap(), []);
    }

    /// Runs `spawn_checks` in a forked child under a filter denying `deny`.
    fn under_filter(deny: &'static [Deny]) {
        let list = if deny.iter().any(|d| d.nr == libc::SYS_getdents64) {
            PROBE_FDS
        } else {
            LIST_FDS
        };
        // Made and removed out here: removing a directory needs a listing.
        let dir = std::env::temp_dir().join(format!("procctl-fallbacks-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let in_child = dir.clone();
        let child = procctl::proc::fork(move || {
            support::arm_alarm();
            if let Err(e) = install(deny) {
                eprintln!("seccomp filter refused ({e}): this test checks nothing here");
                return 77;
            }
            // The filter is in force: each denied call fails as asked.
            for d in deny {
                // SAFETY: calls with invalid arguments that the filter
                // answers before the kernel looks at them.
                let ret = unsafe { libc::syscall(d.nr, 0, 0, 0) };
                let got = std::io::Error::last_os_error().raw_os_error();
                if ret != -1 || got != Some(d.errno) {
                    eprintln!("call {} was not filtered: {ret}, {got:?}", d.nr);
                    return 2;
                }
            }
            match std::panic::catch_unwind(|| spawn_checks(list, &in_child)) {
                Ok(()) => 0,
                Err(_) => 1,
            }
        })
        .expect("fork");
        let status = support::wait10(&child);
        fs::remove_dir_all(&dir).unwrap();
        match status.code() {
            Some(0) => {}
            Some(77) => println!("    (skipped: no seccomp filter allowed here)"),
            _ => panic!("checks under the filter failed: {status:?}"),
        }
    }

    const NO_CLONE3: Deny = Deny {
        nr: libc::SYS_clone3,
        errno: libc::ENOSYS,
    };
    const NO_CLOSE_RANGE: Deny = Deny {
        nr: libc::SYS_close_range,
        errno: libc::ENOSYS,
    };
    const CLOSE_RANGE_REFUSED: Deny = Deny {
        nr: libc::SYS_close_range,
        errno: libc::EPERM,
    };
    /// Without a directory listing, `/proc/self/fd` cannot be read.
    const NO_GETDENTS: Deny = Deny {
        nr: libc::SYS_getdents64,
        errno: libc::ENOSYS,
    };
    const CLONE3_REFUSED: Deny = Deny {
        nr: libc::SYS_clone3,
        errno: libc::EPERM,
    };

    fn without_clone3() {
        under_filter(&[NO_CLONE3]);
    }

    fn clone3_refused_by_a_container_profile() {
        under_filter(&[CLONE3_REFUSED]);
    }

    fn without_close_range() {
        under_filter(&[NO_CLOSE_RANGE]);
    }

    fn close_range_refused_by_a_container_profile() {
        under_filter(&[CLOSE_RANGE_REFUSED]);
    }

    fn without_clone3_or_close_range() {
        under_filter(&[NO_CLONE3, NO_CLOSE_RANGE]);
    }

    fn without_close_range_or_a_descriptor_listing() {
        under_filter(&[NO_CLOSE_RANGE, NO_GETDENTS]);
    }

    fn unfiltered() {
        under_filter(&[]);
    }

    pub fn main() {
        support::run(&[
            ("unfiltered", unfiltered),
            ("without_clone3", without_clone3),
            (
                "clone3_refused_by_a_container_profile",
                clone3_refused_by_a_container_profile,
            ),
            ("without_close_range", without_close_range),
            (
                "close_range_refused_by_a_container_profile",
                close_range_refused_by_a_container_profile,
            ),
            (
                "without_clone3_or_close_range",
                without_clone3_or_close_range,
            ),
            (
                "without_close_range_or_a_descriptor_listing",
                without_close_range_or_a_descriptor_listing,
            ),
        ]);
    }
}

fn main() {
    #[cfg(target_os = "linux")]
    linux::main();
    #[cfg(not(target_os = "linux"))]
    support::run(&[]);
}
