//! `proc::Scope` (cgroup v2) and `Child::signal_group`, with real
//! processes: daemons that leave their session, trees of a hundred
//! processes, the `clone` fallback paths under a seccomp filter, read-only
//! and foreign cgroup directories, and a process group whose number is
//! recycled inside a PID namespace.
//!
//! `harness = false`: the safe `fork` needs a single-threaded process, and
//! the seccomp filters and namespaces live in forked children. Every wait
//! has a deadline. Where this machine has no writable cgroup v2 the scope
//! tests print why and check nothing.

mod support;

#[cfg(target_os = "linux")]
mod seccomp;

#[cfg(target_os = "linux")]
mod linux {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use procctl::error::SpawnStep;
    use procctl::proc::{Child, Command, Scope, ScopeDropPolicy, Stdio};
    use procctl::{Error, Pid, Signal};

    use super::support;

    const TEN_SECONDS: Duration = Duration::from_secs(10);

    /// A fresh scope, or `None` with the reason printed.
    fn scope_or_skip() -> Option<Scope> {
        match Scope::new() {
            Ok(s) => Some(s),
            Err(e) => {
                println!("    (skipped: no writable cgroup v2 here: {e})");
                None
            }
        }
    }

    /// Waits (10 s at most) until `scope` holds at least `n` processes.
    fn until_pids(scope: &Scope, n: usize) -> Vec<Pid> {
        let mut pids = Vec::new();
        support::eventually(&format!("{n} processes in the scope"), || {
            pids = scope.pids().unwrap();
            pids.len() >= n
        });
        pids
    }

    /// Kills what is left, waits with a deadline, and fails if that fails.
    fn kill_and_wait(scope: &Scope) {
        scope.kill().unwrap();
        assert!(
            scope.wait_timeout(TEN_SECONDS).unwrap(),
            "the scope did not empty within 10 s after kill: {:?}",
            scope.pids()
        );
    }

    /// Whether a process with this pid exists and is not a zombie.
    fn alive(pid: Pid) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => {
                let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
                state != Some('Z') && state != Some('X')
            }
            Err(_) => false,
        }
    }

    /// One line from a pipe, waiting at most 10 s.
    fn read_line(child: &Child) -> String {
        let mut out = child.take_stdout().expect("piped stdout");
        let deadline = Instant::now() + TEN_SECONDS;
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no line within 10 s");
            let mut pfd = libc::pollfd {
                fd: out.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
            if pfd.revents == 0 {
                continue;
            }
            match out.read(&mut byte).unwrap() {
                0 => break,
                _ if byte[0] == b'\n' => break,
                _ => line.push(byte[0]),
            }
        }
        String::from_utf8(line).unwrap()
    }

    /// CPU time (user + system) this process has used.
    fn cpu_time() -> Duration {
        // SAFETY: a zeroed rusage is a valid out-parameter.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage fills the struct.
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        tv(ru.ru_utime) + tv(ru.ru_stime)
    }

    fn cgroup_of(pid: Pid) -> String {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default()
    }

    /// The path of `scope` as `/proc/PID/cgroup` writes it (`0::/...`).
    fn cgroup_line(scope: &Scope) -> String {
        let name = scope.path().file_name().unwrap().to_str().unwrap();
        format!("/{name}\n")
    }

    // ---- Scope ----

    fn a_setsid_daemon_is_listed_killed_and_waited_for() {
        let Some(scope) = scope_or_skip() else { return };
        // sh starts a daemon in its own session (it leaves sh's group and
        // session), and a sleep of its own.
        let child = Command::new("sh")
            .args(["-c", "setsid sh -c 'exec sleep 600' & exec sleep 600"])
            .scope(&scope)
            .spawn()
            .unwrap();
        let pids = until_pids(&scope, 2);
        assert_eq!(pids.len(), 2, "{pids:?}");
        assert!(pids.contains(&child.pid()));
        let daemon = *pids.iter().find(|&&p| p != child.pid()).unwrap();
        // It is really outside the child's session and group.
        support::eventually("the daemon's setsid", || {
            procctl::proc::getsid(Some(daemon)).unwrap() == Some(daemon)
        });
        assert!(cgroup_of(daemon).ends_with(&cgroup_line(&scope)));
        assert!(!scope.is_empty().unwrap());
        assert!(!scope.wait_timeout(Duration::from_millis(30)).unwrap());

        kill_and_wait(&scope);
        assert_eq!(
            support::wait10(&child).signal(),
            Some(Signal::KILL),
            "the child died by the scope's SIGKILL"
        );
        assert!(scope.pids().unwrap().is_empty());
        assert!(scope.is_empty().unwrap());
        support::eventually("the daemon is gone", || !alive(daemon));
    }

    fn a_hundred_processes_in_a_tree_all_die() {
        let Some(scope) = scope_or_skip() else { return };
        // 1 shell, 10 subshells, 100 sleeps: 111 processes over 3 levels.
        let script = "for i in 0 1 2 3 4 5 6 7 8 9; do \
                        (for j in 0 1 2 3 4 5 6 7 8 9; do sleep 600 & done; wait) & \
                      done; wait";
        let child = Command::new("sh")
            .args(["-c", script])
            .scope(&scope)
            .spawn()
            .unwrap();
        let pids = until_pids(&scope, 111);
        assert_eq!(pids.len(), 111);
        kill_and_wait(&scope);
        assert_eq!(support::wait10(&child).signal(), Some(Signal::KILL));
        assert!(scope.pids().unwrap().is_empty());
        for pid in pids {
            support::eventually("every process is gone", || !alive(pid));
        }
    }

    fn wait_is_woken_when_the_last_process_ends() {
        let Some(scope) = scope_or_skip() else { return };
        // The shell exits at once; its background sleep is the last one.
        let status = Command::new("sh")
            .args(["-c", "sleep 0.3 &"])
            .scope(&scope)
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(scope.pids().unwrap().len(), 1);
        let start = Instant::now();
        let cpu = cpu_time();
        assert!(scope.wait_timeout(TEN_SECONDS).unwrap());
        let took = start.elapsed();
        let spent = cpu_time() - cpu;
        assert!(took < Duration::from_secs(5), "{took:?}");
        // Asleep in poll, not spinning: the wait uses about 0.1 ms of CPU
        // here; a spinning one used 60 ms of these 300 even on this
        // crowded machine (it burns whatever CPU it gets).
        assert!(
            spent < took / 30,
            "waited {took:?}, used {spent:?} of CPU: a busy loop?"
        );
        assert!(scope.is_empty().unwrap());
        // And wait() on an empty scope returns at once.
        scope.wait().unwrap();
    }

    /// A process leaves the cgroup when it exits, before it is reaped:
    /// `wait` returns while our child is still a zombie, which its `Child`
    /// then reaps with the real status; the empty cgroup can be removed.
    fn an_unreaped_zombie_is_not_in_the_scope() {
        let Some(scope) = scope_or_skip() else { return };
        let child = Command::new("sh")
            .args(["-c", "exit 3"])
            .scope(&scope)
            .spawn()
            .unwrap();
        assert!(scope.wait_timeout(TEN_SECONDS).unwrap());
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.pid())).unwrap();
        assert_eq!(stat.rsplit(") ").next().unwrap().chars().next(), Some('Z'));
        assert!(scope.pids().unwrap().is_empty());
        assert!(scope.is_empty().unwrap());
        let path = scope.path().to_owned();
        scope.set_drop_policy(ScopeDropPolicy::Remove);
        drop(scope);
        assert!(!path.exists(), "an empty cgroup is removed, zombie or not");
        assert_eq!(support::wait10(&child).code(), Some(3));
    }

    fn the_cgroup_is_gone_after_drop() {
        let Some(scope) = scope_or_skip() else { return };
        let path = scope.path().to_owned();
        assert!(path.join("cgroup.procs").exists());
        // Default policy: a live process in it (and a sub-cgroup) is
        // killed, the cgroup removed.
        std::fs::create_dir(path.join("sub")).unwrap();
        let child = Command::new("sleep")
            .arg("600")
            .scope(&scope)
            .spawn()
            .unwrap();
        assert_eq!(scope.drop_policy(), ScopeDropPolicy::KillAndRemove);
        let start = Instant::now();
        drop(scope);
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(!path.exists(), "{path:?} is still there");
        assert_eq!(support::wait10(&child).signal(), Some(Signal::KILL));

        // Remove: an empty scope goes, one with a live process stays.
        let scope = Scope::new().unwrap();
        scope.set_drop_policy(ScopeDropPolicy::Remove);
        let path = scope.path().to_owned();
        drop(scope);
        assert!(!path.exists());
        let scope = Scope::new().unwrap();
        scope.set_drop_policy(ScopeDropPolicy::Remove);
        let path = scope.path().to_owned();
        let child = Command::new("sleep")
            .arg("600")
            .scope(&scope)
            .spawn()
            .unwrap();
        drop(scope);
        assert!(path.exists(), "a populated cgroup cannot be removed");
        assert!(child.try_wait().unwrap().is_none(), "Remove kills nothing");
        // Clean up: by hand, as a caller would.
        std::fs::write(path.join("cgroup.kill"), "1").unwrap();
        support::wait10(&child);
        support::eventually("the left cgroup empties", || {
            std::fs::remove_dir(&path).is_ok()
        });

        // Leave: nothing happens to the directory.
        let scope = Scope::new().unwrap();
        scope.set_drop_policy(ScopeDropPolicy::Leave);
        let path = scope.path().to_owned();
        drop(scope);
        assert!(path.exists());
        std::fs::remove_dir(&path).unwrap();
    }

    fn a_scope_is_usable_after_kill() {
        let Some(scope) = scope_or_skip() else { return };
        let first = Command::new("sleep")
            .arg("600")
            .scope(&scope)
            .spawn()
            .unwrap();
        kill_and_wait(&scope);
        assert_eq!(support::wait10(&first).signal(), Some(Signal::KILL));
        // Spawned again into it: runs, and is inside (with its children).
        for _ in 0..3 {
            let out = Command::new("sh")
                .args(["-c", "cat /proc/self/cgroup; sh -c 'cat /proc/self/cgroup'"])
                .scope(&scope)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
                .communicate_timeout(b"", TEN_SECONDS)
                .unwrap();
            assert!(out.status.success(), "{:?}", out.status);
            let text = String::from_utf8(out.stdout).unwrap();
            assert_eq!(text.matches(&cgroup_line(&scope)).count(), 2, "{text}");
        }
        let second = Command::new("sleep")
            .arg("600")
            .scope(&scope)
            .spawn()
            .unwrap();
        assert_eq!(scope.pids().unwrap(), [second.pid()]);
        kill_and_wait(&scope);
        assert_eq!(support::wait10(&second).signal(), Some(Signal::KILL));
    }

    fn spawning_into_a_removed_scope_is_a_cgroup_error() {
        let Some(scope) = scope_or_skip() else { return };
        let mut cmd = Command::new("true");
        cmd.scope(&scope);
        drop(scope);
        let err = cmd.spawn().unwrap_err();
        assert_eq!(err.spawn_step(), Some(SpawnStep::Cgroup), "{err}");
        assert!(err.raw_os_error().is_some(), "{err:?}");
        assert!(err.to_string().contains("join cgroup"), "{err}");
    }

    // ---- errors: no cgroup v2, not writable ----

    fn a_directory_that_is_no_cgroup_v2_is_refused() {
        for dir in ["/tmp", "/proc"] {
            let err = Scope::under(dir).unwrap_err();
            assert!(matches!(&err, Error::NotCgroup2 { path } if path == Path::new(dir)));
            assert!(err.to_string().contains(dir), "{err}");
            let io: std::io::Error = err.into();
            assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
        }
        // A cgroup v1 hierarchy, where the machine has one.
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        if let Some(v1) = mountinfo.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            (right.split(' ').next()? == "cgroup").then(|| left.split(' ').nth(4).unwrap())
        }) {
            let err = Scope::under(v1).unwrap_err();
            assert!(matches!(err, Error::NotCgroup2 { .. }), "{v1}: {err}");
        }
        let err = Scope::under("/no/such/cgroup").unwrap_err();
        assert!(matches!(err, Error::Cgroup { call: "open", .. }), "{err:?}");
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        assert!(err.to_string().contains("/no/such/cgroup"), "{err}");
    }

    /// The v2 mount point, from mountinfo.
    fn v2_mount() -> Option<PathBuf> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        mountinfo.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            (right.split(' ').next()? == "cgroup2")
                .then(|| PathBuf::from(left.split(' ').nth(4).unwrap()))
        })
    }

    /// Runs `body` in a forked child (alarm armed) and checks it exits 0;
    /// 77 means "skipped", with the reason printed by the child.
    fn in_child(body: fn() -> i32) {
        let child = procctl::proc::fork(move || {
            support::arm_alarm();
            std::panic::catch_unwind(body).unwrap_or(1)
        })
        .unwrap();
        match support::wait10(&child).code() {
            Some(0) => {}
            Some(77) => println!("    (skipped in the child, see above)"),
            other => panic!("the forked check failed: {other:?}"),
        }
    }

    fn a_read_only_cgroup_v2_mount_is_a_clear_error() {
        in_child(|| {
            let dir = std::env::temp_dir().join(format!("procctl-ro-cg-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: unshare/mount with valid NUL-terminated strings, in
            // a forked child whose mount namespace dies with it.
            let mounted = unsafe {
                libc::unshare(libc::CLONE_NEWNS) == 0
                    && libc::mount(
                        c"none".as_ptr(),
                        c"/".as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    ) == 0
                    && libc::mount(
                        c"none".as_ptr(),
                        c.as_ptr(),
                        c"cgroup2".as_ptr(),
                        libc::MS_RDONLY,
                        std::ptr::null(),
                    ) == 0
            };
            if !mounted {
                eprintln!(
                    "    cannot mount cgroup2 read-only here: {}",
                    std::io::Error::last_os_error()
                );
                let _ = std::fs::remove_dir(&dir);
                return 77;
            }
            let err = Scope::under(&dir).unwrap_err();
            let ok = matches!(&err, Error::Cgroup { call: "mkdir", path, .. } if *path == dir)
                && err.raw_os_error() == Some(libc::EROFS);
            // SAFETY: unmounting what we mounted above.
            unsafe { libc::umount(c.as_ptr()) };
            let _ = std::fs::remove_dir(&dir);
            assert!(ok, "{err:?}");
            0
        });
    }

    fn a_cgroup_not_delegated_to_us_is_a_clear_error() {
        in_child(|| {
            let Some(mount) = v2_mount() else {
                eprintln!("    no cgroup v2 mount");
                return 77;
            };
            // As an unprivileged user (nobody), like a desktop session
            // without Delegate=yes.
            // SAFETY: setgid/setuid in a forked child.
            if unsafe { libc::setgid(65534) != 0 || libc::setuid(65534) != 0 } {
                eprintln!(
                    "    cannot become nobody: {}",
                    std::io::Error::last_os_error()
                );
                return 77;
            }
            let err = Scope::under(&mount).unwrap_err();
            assert!(
                matches!(err, Error::Cgroup { call: "mkdir", .. }),
                "{err:?}"
            );
            assert!(
                matches!(err.raw_os_error(), Some(libc::EACCES | libc::EPERM)),
                "{err:?}"
            );
            let io: std::io::Error = err.into();
            assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
            0
        });
    }

    // ---- the clone fallback paths (seccomp) ----

    /// Installs a seccomp filter failing each `(nr, errno)` (as in
    /// tests/spawn_fallbacks.rs).
    fn deny(calls: &[(libc::c_long, i32)]) -> std::io::Result<()> {
        crate::seccomp::deny(calls)
    }

    /// In a forked child without `clone3` (failing with `errno`): spawns
    /// into a scope and checks the child and its own child are inside,
    /// then that a removed scope is a `Cgroup` spawn error.
    fn spawn_into_scope_without_clone3(errno: i32) {
        let child = procctl::proc::fork(move || {
            support::arm_alarm();
            if let Err(e) = deny(&[(libc::SYS_clone3, errno)]) {
                eprintln!("    seccomp refused ({e}): nothing checked");
                return 77;
            }
            let Some(scope) = scope_or_skip() else {
                return 77;
            };
            let line = cgroup_line(&scope);
            let check = std::panic::catch_unwind(move || {
                for _ in 0..5 {
                    let out = Command::new("sh")
                        .args(["-c", "cat /proc/self/cgroup; cat /proc/$$/cgroup"])
                        .scope(&scope)
                        .stdout(Stdio::piped())
                        .spawn()
                        .unwrap()
                        .communicate_timeout(b"", TEN_SECONDS)
                        .unwrap();
                    assert!(out.status.success(), "{:?}", out.status);
                    let text = String::from_utf8(out.stdout).unwrap();
                    assert_eq!(text.matches(&line).count(), 2, "{text}");
                }
                // A child that is told to stay: listed, killed, waited for.
                let c = Command::new("sleep")
                    .arg("600")
                    .scope(&scope)
                    .spawn()
                    .unwrap();
                assert_eq!(scope.pids().unwrap(), [c.pid()]);
                kill_and_wait(&scope);
                assert_eq!(support::wait10(&c).signal(), Some(Signal::KILL));
                let mut cmd = Command::new("true");
                cmd.scope(&scope);
                drop(scope);
                let err = cmd.spawn().unwrap_err();
                assert_eq!(err.spawn_step(), Some(SpawnStep::Cgroup), "{err}");
                assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
            });
            i32::from(check.is_err())
        })
        .unwrap();
        match support::wait10(&child).code() {
            Some(0) => {}
            Some(77) => {}
            other => panic!("checks without clone3 failed: {other:?}"),
        }
    }

    fn spawn_into_a_scope_without_clone3() {
        spawn_into_scope_without_clone3(libc::ENOSYS);
    }

    fn spawn_into_a_scope_with_clone3_refused_by_a_container_profile() {
        spawn_into_scope_without_clone3(libc::EPERM);
    }

    // ---- Child::signal_group ----

    /// `sh` leading its own group, with a background sleep in it; the
    /// sleep's pid is read from sh's stdout.
    fn leader_with_grandchild(script: &str) -> (Child, Pid) {
        let child = Command::new("sh")
            .args(["-c", script])
            .process_group(0)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let grandchild = Pid::from_raw(read_line(&child).trim().parse().unwrap()).unwrap();
        assert_eq!(
            procctl::proc::getpgid(Some(grandchild)).unwrap(),
            Some(child.pid())
        );
        (child, grandchild)
    }

    fn signal_group_reaches_a_grandchild_in_the_group() {
        let (child, grandchild) = leader_with_grandchild("sleep 600 & echo $!; wait");
        child.signal_group(Signal::TERM).unwrap();
        assert_eq!(support::wait10(&child).signal(), Some(Signal::TERM));
        support::eventually("the grandchild got SIGTERM too", || !alive(grandchild));
    }

    fn signal_group_refuses_after_the_leader_is_reaped() {
        // The leader exits; its group lives on in the sleep.
        let (child, grandchild) = leader_with_grandchild("sleep 600 & echo $!");
        assert!(support::wait10(&child).success());
        let err = child.signal_group(Signal::KILL).unwrap_err();
        assert!(
            matches!(err, Error::GroupLeaderReaped { pid } if pid == child.pid()),
            "{err:?}"
        );
        assert!(err.to_string().contains(&child.pid().to_string()), "{err}");
        // Nothing was sent.
        std::thread::sleep(Duration::from_millis(50));
        assert!(alive(grandchild));
        // The group still exists (the sleep holds its number): clean up.
        procctl::signal::killpg(child.pid(), Signal::KILL).unwrap();
        support::eventually("the grandchild is gone", || !alive(grandchild));
    }

    fn signal_group_refuses_a_child_that_leads_no_group() {
        // In our own group: signalling "its group" would hit this test.
        let child = Command::new("sleep").arg("600").spawn().unwrap();
        let err = child.signal_group(Signal::KILL).unwrap_err();
        assert!(
            matches!(err, Error::NotGroupLeader { pid } if pid == child.pid()),
            "{err:?}"
        );
        assert!(child.try_wait().unwrap().is_none());
        child.kill().unwrap();
        support::wait10(&child);
    }

    fn signal_group_without_the_pidfd_flag_takes_the_killpg_path() {
        // pidfd_send_signal refused as on a kernel that lacks it: the same
        // three behaviours, through killpg under the reap lock.
        in_child(|| {
            if let Err(e) = deny(&[(libc::SYS_pidfd_send_signal, libc::ENOSYS)]) {
                eprintln!("    seccomp refused ({e})");
                return 77;
            }
            let (child, grandchild) = leader_with_grandchild("sleep 600 & echo $!; wait");
            child.signal_group(Signal::TERM).unwrap();
            assert_eq!(support::wait10(&child).signal(), Some(Signal::TERM));
            support::eventually("the grandchild got SIGTERM", || !alive(grandchild));
            let err = child.signal_group(Signal::TERM).unwrap_err();
            assert!(matches!(err, Error::GroupLeaderReaped { .. }), "{err:?}");
            let loner = Command::new("sleep").arg("600").spawn().unwrap();
            let err = loner.signal_group(Signal::KILL).unwrap_err();
            assert!(matches!(err, Error::NotGroupLeader { .. }), "{err:?}");
            // Child::kill goes through pidfd_send_signal too: use the pid.
            procctl::signal::kill(loner.pid(), Signal::KILL).unwrap();
            support::wait10(&loner);
            0
        });
    }

    /// The race that "after the leader was reaped" guards against, made
    /// to happen: in a new PID namespace, `ns_last_pid` makes the next
    /// process take the reaped leader's pid and lead a group of that
    /// number. A `killpg` by number kills that stranger; `signal_group`
    /// refuses.
    fn signal_group_never_reaches_a_recycled_group() {
        in_child(recycled_group_check);
    }

    /// The same on the `killpg` path (no `pidfd_send_signal`, as before
    /// Linux 6.9 for groups).
    fn signal_group_never_reaches_a_recycled_group_through_killpg() {
        in_child(|| {
            if let Err(e) = deny(&[(libc::SYS_pidfd_send_signal, libc::ENOSYS)]) {
                eprintln!("    seccomp refused ({e})");
                return 77;
            }
            recycled_group_check()
        });
    }

    fn recycled_group_check() -> i32 {
        {
            // SAFETY: unshare in a forked, single-threaded child; the next
            // fork is init of the new namespace.
            if unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
                eprintln!(
                    "    no PID namespace here: {}",
                    std::io::Error::last_os_error()
                );
                return 77;
            }
            let init = procctl::proc::fork(|| {
                let check = std::panic::catch_unwind(|| {
                    for sig in [Signal::TERM, Signal::KILL] {
                        let leader = Command::new("true").process_group(0).spawn().unwrap();
                        assert!(support::wait10(&leader).success());
                        let p = leader.pid().as_raw();
                        std::fs::write("/proc/sys/kernel/ns_last_pid", (p - 1).to_string())
                            .unwrap();
                        let stranger = Command::new("sleep")
                            .arg("600")
                            .process_group(0)
                            .spawn()
                            .unwrap();
                        assert_eq!(stranger.pid(), leader.pid(), "the pid was recycled");
                        let err = leader.signal_group(sig).unwrap_err();
                        assert!(matches!(err, Error::GroupLeaderReaped { .. }), "{err:?}");
                        assert!(
                            stranger
                                .wait_timeout(Duration::from_millis(50))
                                .unwrap()
                                .is_none(),
                            "the stranger was signalled"
                        );
                        // What a killpg by number would have done.
                        procctl::signal::killpg(leader.pid(), sig).unwrap();
                        assert_eq!(support::wait10(&stranger).signal(), Some(sig));
                    }
                });
                i32::from(check.is_err())
            })
            .unwrap();
            support::wait10(&init).code().unwrap_or(1)
        }
    }

    pub fn main() {
        support::run(&[
            (
                "a_setsid_daemon_is_listed_killed_and_waited_for",
                a_setsid_daemon_is_listed_killed_and_waited_for,
            ),
            (
                "a_hundred_processes_in_a_tree_all_die",
                a_hundred_processes_in_a_tree_all_die,
            ),
            (
                "wait_is_woken_when_the_last_process_ends",
                wait_is_woken_when_the_last_process_ends,
            ),
            (
                "an_unreaped_zombie_is_not_in_the_scope",
                an_unreaped_zombie_is_not_in_the_scope,
            ),
            (
                "the_cgroup_is_gone_after_drop",
                the_cgroup_is_gone_after_drop,
            ),
            ("a_scope_is_usable_after_kill", a_scope_is_usable_after_kill),
            (
                "spawning_into_a_removed_scope_is_a_cgroup_error",
                spawning_into_a_removed_scope_is_a_cgroup_error,
            ),
            (
                "a_directory_that_is_no_cgroup_v2_is_refused",
                a_directory_that_is_no_cgroup_v2_is_refused,
            ),
            (
                "a_read_only_cgroup_v2_mount_is_a_clear_error",
                a_read_only_cgroup_v2_mount_is_a_clear_error,
            ),
            (
                "a_cgroup_not_delegated_to_us_is_a_clear_error",
                a_cgroup_not_delegated_to_us_is_a_clear_error,
            ),
            (
                "spawn_into_a_scope_without_clone3",
                spawn_into_a_scope_without_clone3,
            ),
            (
                "spawn_into_a_scope_with_clone3_refused_by_a_container_profile",
                spawn_into_a_scope_with_clone3_refused_by_a_container_profile,
            ),
            (
                "signal_group_reaches_a_grandchild_in_the_group",
                signal_group_reaches_a_grandchild_in_the_group,
            ),
            (
                "signal_group_refuses_after_the_leader_is_reaped",
                signal_group_refuses_after_the_leader_is_reaped,
            ),
            (
                "signal_group_refuses_a_child_that_leads_no_group",
                signal_group_refuses_a_child_that_leads_no_group,
            ),
            (
                "signal_group_without_the_pidfd_flag_takes_the_killpg_path",
                signal_group_without_the_pidfd_flag_takes_the_killpg_path,
            ),
            (
                "signal_group_never_reaches_a_recycled_group",
                signal_group_never_reaches_a_recycled_group,
            ),
            (
                "signal_group_never_reaches_a_recycled_group_through_killpg",
                signal_group_never_reaches_a_recycled_group_through_killpg,
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
