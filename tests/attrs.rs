//! Spawn attributes (`Command::rlimit`, `umask`, `uid`, `gid`, `groups`,
//! `chroot`, `parent_death_signal`, `no_new_privs`, `nice`,
//! `cpu_affinity`, `unshare` with id maps): each child reports what it
//! sees (`/proc/self/status`, `/proc/self/stat`, `ulimit`, `umask`, `id`,
//! `hostname`) and the parent asserts it, on the `clone3` path and on the
//! `clone` fallbacks (a seccomp filter in a forked child makes `clone3`
//! fail with `ENOSYS` or `EPERM`); the fork path is the one a user
//! namespace takes. Failing steps report their `SpawnStep` and errno and
//! leave no zombie or descriptor behind.
//!
//! `harness = false`: the checks fork, drop privileges and install seccomp
//! filters, all process-wide state. Linux only.

mod support;

#[cfg(target_os = "linux")]
mod seccomp;

#[cfg(target_os = "linux")]
mod linux {
    use std::io::Read;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use procctl::Signal;
    use procctl::error::{Error, SpawnStep};
    use procctl::proc::{Command, Namespaces, Resource, Stdio};

    use super::support;

    // ---- seccomp (copied from tests/spawn_fallbacks.rs) ----
    #[derive(Clone, Copy)]
    struct Deny {
        nr: libc::c_long,
        errno: i32,
    }

    fn install(deny: &[Deny]) -> Result<(), std::io::Error> {
        let calls: Vec<_> = deny.iter().map(|d| (d.nr, d.errno)).collect();
        crate::seccomp::deny(&calls)
    }
    // ---- end seccomp ----

    fn root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    /// Runs `cmd` (a shell script) and returns its stdout; it must succeed.
    fn report(cmd: &mut Command) -> String {
        let child = cmd.stdout(Stdio::piped()).spawn().expect("spawn");
        let out = child
            .communicate_timeout(b"", Duration::from_secs(10))
            .expect("communicate");
        assert!(out.status.success(), "{:?}", out.status);
        String::from_utf8(out.stdout).expect("utf-8")
    }

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", script]);
        cmd
    }

    /// A line of `/proc/$$/status` as the shell sees it.
    fn status_line(key: &str) -> String {
        format!("grep '^{key}:' /proc/$$/status | cut -f2-")
    }

    /// A static program that exits 42 (`_start` is one `exit` system call),
    /// written to `dir/prog`; `false` where it cannot be built.
    fn static_exit42(dir: &Path) -> bool {
        let src = dir.join("exit42.c");
        std::fs::write(
            &src,
            "void _start(void) { __asm__ volatile(\"mov $60, %eax\\n mov $42, %edi\\n syscall\"); }\n",
        )
        .unwrap();
        let ok = cfg!(target_arch = "x86_64")
            && std::process::Command::new("cc")
                .args(["-nostdlib", "-static", "-o"])
                .arg(dir.join("prog"))
                .arg(&src)
                .status()
                .is_ok_and(|s| s.success());
        let _ = std::fs::remove_file(src);
        ok
    }

    /// Every attribute, as the child sees it. Runs in a forked child
    /// (it changes our supplementary groups), on whatever spawn path the
    /// process is forced onto.
    fn attribute_checks(dir: &Path) {
        // rlimits, as ulimit and /proc/self/limits report them.
        let out = report(
            sh("ulimit -Sn; ulimit -Hn; ulimit -t; grep 'Max address space' /proc/$$/limits")
                .rlimit(Resource::Nofile, 33, 77)
                .rlimit(Resource::Cpu, 5, 6)
                .rlimit(Resource::As, 1 << 30, procctl::proc::RLIM_INFINITY),
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[..3], ["33", "77", "5"], "{out}");
        assert!(
            lines[3].split_whitespace().collect::<Vec<_>>()[3..5] == ["1073741824", "unlimited"],
            "{out}"
        );
        // umask.
        assert_eq!(report(sh("umask").umask(0o027)), "0027\n");
        assert_eq!(report(sh("umask").umask(0)), "0000\n");
        // nice: field 19 of /proc/self/stat.
        let out = report(sh("cut -d' ' -f19 /proc/$$/stat").nice(7));
        assert_eq!(out, "7\n");
        // CPU affinity.
        let out = report(sh(&status_line("Cpus_allowed_list")).cpu_affinity(&[0]));
        assert_eq!(out, "0\n");
        // no_new_privs, on and off.
        let nnp = status_line("NoNewPrivs");
        assert_eq!(report(sh(&nnp).no_new_privs(true)), "1\n");
        // (the seccomp filter set it in this process already where one is
        // installed; without one it is 0)
        // The parent-death signal as /proc shows no field for it: see
        // the parent-death tests; here it must not disturb a child whose
        // parent lives.
        assert_eq!(
            report(sh("echo alive").parent_death_signal(Signal::KILL)),
            "alive\n"
        );

        if root() {
            // Credentials: uid, gid, groups; uid/gid without groups drops
            // ours (set to 4 and 5 here first).
            let groups = [4 as libc::gid_t, 5];
            // SAFETY: setgroups with a valid list, in this forked child.
            assert_eq!(unsafe { libc::setgroups(2, groups.as_ptr()) }, 0);
            let g = status_line("Groups");
            assert_eq!(report(&mut sh(&g)).trim(), "4 5");
            let script = format!("id -u; id -g; {g}");
            let out = report(sh(&script).uid(12345).gid(23456).groups(&[1, 2, 3]));
            assert_eq!(out.trim(), "12345\n23456\n1 2 3", "{out}");
            let out = report(sh(&script).uid(12345).gid(23456));
            assert_eq!(out.trim(), "12345\n23456", "groups kept: {out}");
            let out = report(sh(&script).uid(12345));
            assert_eq!(out.trim(), "12345\n0", "groups kept: {out}");
            // An empty list with a uid: allowed, drops them.
            let out = report(sh(&script).uid(12345).groups(&[]));
            assert_eq!(out.trim(), "12345\n0", "{out}");

            // chroot: a program that exists only inside the new root.
            if dir.join("prog").exists() {
                let st = Command::new("/prog").chroot(dir).status().unwrap();
                assert_eq!(st.code(), Some(42));
                let err = Command::new("/prog").status().unwrap_err();
                assert!(matches!(err, Error::NotFound { .. }), "{err}");
            } else {
                println!("    (chroot: no static program could be built here)");
            }

            // Namespaces on the fast path: a hostname of its own.
            let out = report(
                sh("hostname attrs-test; hostname").unshare(Namespaces::UTS | Namespaces::MOUNT),
            );
            assert_eq!(out, "attrs-test\n");
            assert_ne!(
                std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
                "attrs-test\n"
            );
        } else {
            println!("    (uid/gid/groups/chroot/unshare: not root here)");
        }

        // A user namespace with maps (the fork path): root inside.
        // SAFETY: geteuid/getegid have no preconditions.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let r = sh("id -u; id -g; cat /proc/$$/uid_map; hostname userns-test; hostname")
            .unshare(Namespaces::USER | Namespaces::UTS)
            .uid_map(&[(0, uid, 1)])
            .gid_map(&[(0, gid, 1)])
            .stdout(Stdio::piped())
            .output();
        match r {
            Ok(out) => {
                assert!(out.status.success(), "{:?}", out.status);
                let text = String::from_utf8(out.stdout).unwrap();
                let lines: Vec<Vec<&str>> = text
                    .lines()
                    .map(|l| l.split_whitespace().collect())
                    .collect();
                assert_eq!(lines[0], ["0"], "{text}");
                assert_eq!(lines[1], ["0"], "{text}");
                assert_eq!(lines[2], ["0", &uid.to_string(), "1"], "{text}");
                assert_eq!(lines[3], ["userns-test"], "{text}");
            }
            Err(e) if e.spawn_step() == Some(SpawnStep::IdMap) => {
                println!("    (user namespaces refused here: {e})")
            }
            Err(e) => panic!("{e}"),
        }
        assert_eq!(procctl::reap::reap_zombies().unwrap(), []);
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("procctl-attrs-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Runs `attribute_checks` in a forked child under a filter.
    fn under_filter(deny: &'static [Deny]) {
        let dir = temp_dir("checks");
        static_exit42(&dir);
        let in_child = dir.clone();
        let child = procctl::proc::fork(move || {
            support::arm_alarm();
            if !deny.is_empty() {
                if let Err(e) = install(deny) {
                    eprintln!("seccomp filter refused ({e}): this test checks nothing here");
                    return 77;
                }
            }
            match std::panic::catch_unwind(|| attribute_checks(&in_child)) {
                Ok(()) => 0,
                Err(_) => 1,
            }
        })
        .expect("fork");
        let status = support::wait10(&child);
        std::fs::remove_dir_all(&dir).unwrap();
        match status.code() {
            Some(0) => {}
            Some(77) => println!("    (skipped: no seccomp filter allowed here)"),
            _ => panic!("checks failed: {status:?}"),
        }
    }

    fn attributes_on_the_clone3_path() {
        under_filter(&[]);
    }

    fn attributes_without_clone3() {
        under_filter(&[Deny {
            nr: libc::SYS_clone3,
            errno: libc::ENOSYS,
        }]);
    }

    fn attributes_with_clone3_refused() {
        under_filter(&[Deny {
            nr: libc::SYS_clone3,
            errno: libc::EPERM,
        }]);
    }

    /// The step and errno of a spawn that must fail in the child.
    fn failed_step(cmd: &mut Command) -> (SpawnStep, Option<i32>) {
        let fds = support::fd_count();
        let err = cmd.spawn().expect_err(&format!("spawn must fail: {cmd:?}"));
        let errno = std::error::Error::source(&err)
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .and_then(|e| e.raw_os_error());
        assert_eq!(support::fd_count(), fds, "a descriptor leaked: {err}");
        assert_eq!(procctl::reap::reap_zombies().unwrap(), [], "{err}");
        (err.spawn_step().expect("a spawn step"), errno)
    }

    fn failing_steps_report_step_and_errno() {
        // As anyone: a chroot to a missing directory, a CPU we do not have,
        // a hard limit above the kernel's ceiling.
        let t = || Command::new("true");
        // (the kernel looks the path up before it checks the privilege)
        assert_eq!(
            failed_step(t().chroot("/no/such/dir")),
            (SpawnStep::Chroot, Some(libc::ENOENT))
        );
        assert_eq!(
            failed_step(t().cpu_affinity(&[1023])),
            (SpawnStep::CpuAffinity, Some(libc::EINVAL))
        );
        assert_eq!(
            failed_step(t().rlimit(Resource::Nofile, 1 << 40, 1 << 40)),
            (SpawnStep::Rlimit, Some(libc::EPERM))
        );
        // An id map the kernel refuses (count 0).
        let (step, errno) = failed_step(t().unshare(Namespaces::USER).uid_map(&[(0, 0, 0)]));
        assert_eq!(step, SpawnStep::IdMap);
        assert!(
            matches!(errno, Some(libc::EINVAL | libc::EPERM)),
            "{errno:?}"
        );

        // Ids that the child's new user namespace does not map: setgid
        // and setuid refuse them (EINVAL) after setgroups went through.
        // SAFETY: geteuid/getegid have no preconditions.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let userns = || {
            let mut cmd = Command::new("true");
            cmd.unshare(Namespaces::USER)
                .uid_map(&[(0, uid, 1)])
                .gid_map(&[(0, gid, 1)]);
            cmd
        };
        if root() {
            assert_eq!(
                failed_step(userns().gid(5)),
                (SpawnStep::Setgid, Some(libc::EINVAL))
            );
        }
        let (step, errno) = failed_step(userns().uid(5).groups(&[]));
        if step != SpawnStep::IdMap {
            // Unprivileged: setgroups is denied in the namespace (EPERM).
            let want = if root() {
                SpawnStep::Setuid
            } else {
                SpawnStep::Setgroups
            };
            assert_eq!(step, want);
            assert!(
                matches!(errno, Some(libc::EINVAL | libc::EPERM)),
                "{errno:?}"
            );
            let (step, errno) = failed_step(userns().uid(5));
            assert_eq!(
                (step, errno),
                (
                    want,
                    if root() {
                        Some(libc::EINVAL)
                    } else {
                        Some(libc::EPERM)
                    }
                )
            );
        }

        // Without privileges (a forked child that drops them): each step
        // that needs one.
        if !root() {
            println!("    (privileged steps: not root here)");
            return;
        }
        let child = procctl::proc::fork(|| {
            support::arm_alarm();
            // SAFETY: dropping our own credentials in this forked child.
            unsafe {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(65534) != 0
                    || libc::setuid(65534) != 0
                {
                    return 2;
                }
            }
            let check = || {
                let t = || Command::new("true");
                assert_eq!(
                    failed_step(t().uid(0)),
                    (SpawnStep::Setgroups, Some(libc::EPERM))
                );
                assert_eq!(
                    failed_step(t().groups(&[65534]).gid(0)),
                    (SpawnStep::Setgroups, Some(libc::EPERM))
                );
                assert_eq!(
                    failed_step(t().nice(-5)),
                    (SpawnStep::Nice, Some(libc::EACCES))
                );
                assert_eq!(
                    failed_step(t().unshare(Namespaces::UTS)),
                    (SpawnStep::Unshare, Some(libc::EPERM))
                );
                assert_eq!(
                    failed_step(t().chroot("/")),
                    (SpawnStep::Chroot, Some(libc::EPERM))
                );
                // Raising our own hard limit by one needs CAP_SYS_RESOURCE.
                let mut rl = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                // SAFETY: rl is a writable rlimit.
                assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) }, 0);
                assert_eq!(
                    failed_step(t().rlimit(Resource::Nofile, 0, rl.rlim_max + 1)),
                    (SpawnStep::Rlimit, Some(libc::EPERM))
                );
            };
            match std::panic::catch_unwind(check) {
                Ok(()) => 0,
                Err(_) => 1,
            }
        })
        .expect("fork");
        assert_eq!(support::wait10(&child).code(), Some(0));
    }

    /// groups, then gid, then uid: as root the whole chain goes through
    /// (uid first would leave no privilege for the other two).
    fn credentials_apply_groups_then_gid_then_uid() {
        if !root() {
            println!("    (not root here)");
            return;
        }
        let out = report(sh("id -u; id -g; id -G").gid(5).uid(6).groups(&[7, 8]));
        assert_eq!(out, "6\n5\n5 7 8\n");
    }

    fn bad_input_is_refused_before_any_process_exists() {
        let t = || Command::new("true");
        let invalid = |cmd: &mut Command, what: &str| {
            let err = cmd.spawn().expect_err("must be refused");
            match &err {
                Error::InvalidArgument { what: w, .. } => assert_eq!(*w, what, "{err}"),
                _ => panic!("{err}"),
            }
            assert_eq!(err.spawn_step(), None);
            assert_eq!(procctl::reap::reap_zombies().unwrap(), []);
        };
        invalid(t().rlimit(Resource::Nofile, 10, 9), "rlimit");
        invalid(t().umask(0o1000), "umask");
        let many: Vec<u32> = (0..=65536u32).collect();
        invalid(t().groups(&many), "groups");
        invalid(t().unshare(Namespaces::USER), "unshare");
        invalid(t().uid_map(&[(0, 0, 1)]), "uid_map/gid_map");
        invalid(t().cpu_affinity(&[]), "cpu_affinity");
        invalid(t().cpu_affinity(&[4096]), "cpu_affinity");
    }

    /// In a forked subreaper: an intermediate process spawns `sleep` with
    /// a parent-death signal and exits; the signal must reach the sleep.
    fn parent_death_signal_arrives_when_the_spawner_exits() {
        let child = procctl::proc::fork(|| {
            support::arm_alarm();
            // SAFETY: prctl with integer arguments, in this forked child.
            unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
            let (mut r, w) = std::io::pipe().unwrap();
            // SAFETY: the forked child spawns (allocates): this process is
            // single-threaded (harness = false, forked from the main thread).
            let mid = unsafe { libc::fork() };
            if mid == 0 {
                drop(r);
                let g = Command::new("sleep")
                    .arg("5")
                    .parent_death_signal(Signal::TERM)
                    .spawn()
                    .unwrap();
                std::io::Write::write_all(&mut &w, &g.pid().as_raw().to_ne_bytes()).unwrap();
                std::mem::forget(g);
                // SAFETY: leaving the intermediate at once.
                unsafe { libc::_exit(0) };
            }
            drop(w);
            let mut buf = [0u8; 4];
            r.read_exact(&mut buf).unwrap();
            let g = i32::from_ne_bytes(buf);
            let mut st = 0;
            // SAFETY: waiting for our own children.
            unsafe {
                libc::waitpid(mid, &mut st, 0);
                let start = std::time::Instant::now();
                if libc::waitpid(g, &mut st, 0) != g {
                    return 3;
                }
                if start.elapsed() > Duration::from_secs(3) {
                    return 4;
                }
            }
            if libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGTERM {
                0
            } else {
                1
            }
        })
        .expect("fork");
        assert_eq!(support::wait10(&child).code(), Some(0));
    }

    pub fn main() {
        support::run(&[
            (
                "attributes_on_the_clone3_path",
                attributes_on_the_clone3_path,
            ),
            ("attributes_without_clone3", attributes_without_clone3),
            (
                "attributes_with_clone3_refused",
                attributes_with_clone3_refused,
            ),
            (
                "failing_steps_report_step_and_errno",
                failing_steps_report_step_and_errno,
            ),
            (
                "credentials_apply_groups_then_gid_then_uid",
                credentials_apply_groups_then_gid_then_uid,
            ),
            (
                "bad_input_is_refused_before_any_process_exists",
                bad_input_is_refused_before_any_process_exists,
            ),
            (
                "parent_death_signal_arrives_when_the_spawner_exits",
                parent_death_signal_arrives_when_the_spawner_exits,
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
