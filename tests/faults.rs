//! Fault injection: every system call on the paths of `fork`,
//! `Command::spawn` (and its clone3 → clone fallbacks, with and without
//! pidfds, and its fork path for a user namespace), `wait`, `waitpid`,
//! `wait_timeout`, `pipe`, `system`, `popen`/`popen2`, `communicate`,
//! `signal::register`, `reap::start_reaper`, `pty`, `proc::Scope` and
//! the async waits (tokio, async-io: behind their features) is made to
//! fail with each errno it can really return, and the error, the
//! descriptors, the children, the cgroups and the locks are checked
//! afterwards.
//!
//! Two ways to make a call fail:
//!
//! - a seccomp filter returning the errno for one system call (or a few),
//!   installed on ONE thread of a forked test child (a filter without
//!   `SECCOMP_FILTER_FLAG_TSYNC` binds only the calling thread). The path
//!   runs on that thread; the main thread, unfiltered, then drops what the
//!   path left, checks, and makes the next call of the same kind, which
//!   must work: nothing was left locked or half set up.
//! - `RLIMIT_NOFILE` set to (lowest free descriptor + k) for k = 0, 1, 2,
//!   ...: the k-th descriptor the path makes fails with `EMFILE`, in turn,
//!   until the path needs no more than k.
//! - `RLIMIT_NPROC` for real, as a fresh unprivileged user whose limit is
//!   the tasks it has: the kernel's own `EAGAIN` at the next `clone`,
//!   `clone3` or `fork` (faults/nproc.rs).
//! - The N-th call fails: a supervisor process answers the path's calls
//!   (`SECCOMP_RET_USER_NOTIF`), counts them, and fails call N with each
//!   errno it can really return, for every N (faults/nth.rs). `EINTR`
//!   is injected there, one call at a time.
//!
//! `EINTR` is not injected by the errno filter: it fails every call, and
//! every procctl loop retries `EINTR`, so it would spin. The N-th call
//! table fails one call with it; tests/eintr.rs drives every blocking
//! call through a 10 kHz `SIGALRM`.
//!
//! Each case: a named error with the errno kept (`raw_os_error`): a limit
//! (`EAGAIN`, `ENOMEM`, `EMFILE`, `ENFILE`) is `ResourceLimit` naming the
//! call (`clone`, `pipe`, `fork`, `poll`, ...), also inside a spawn; a
//! failure in the child is `Spawn` with its step (`spawn_step`). Then: no
//! descriptor leaked (/proc/self/fd before
//! and after), no zombie (`reap::zombie_children`), no child left running
//! (/proc), and the next call works. A table of every case is printed.
//!
//! `harness = false`: each case forks. Linux only (seccomp, /proc).

mod support;

#[cfg(target_os = "linux")]
mod seccomp;

#[cfg(target_os = "linux")]
#[path = "faults/nproc.rs"]
mod nproc;

#[cfg(target_os = "linux")]
#[path = "faults/nth.rs"]
mod nth;

#[cfg(target_os = "linux")]
#[path = "faults/more.rs"]
mod more;

#[cfg(target_os = "linux")]
pub(crate) mod linux {
    use std::any::Any;
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    use procctl::error::SpawnStep;
    use procctl::proc::{Command, PopenMode, Stdio};
    use procctl::{Error, Signal};

    use super::support;

    /// Installs, on the calling thread only, a filter that makes each
    /// `(nr, errno)` of `deny` fail with its errno.
    fn install(deny: &[(libc::c_long, i32)]) -> std::io::Result<()> {
        crate::seccomp::deny(deny)
    }

    /// What a path leaves for the main thread to drop (children to kill
    /// and reap, readers to close).
    pub(crate) type Left = Vec<Box<dyn Any + Send>>;

    /// A call path: runs its setup, calls `arm` right before the call
    /// under test, and returns the call's result.
    pub(crate) type Path = fn(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()>;

    pub(crate) fn keep_child(child: procctl::proc::Child, left: &mut Left) {
        child.set_drop_policy(procctl::proc::DropPolicy::KillAndReap);
        left.push(Box::new(child));
    }

    pub(crate) fn path_fork(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        arm();
        // The filtered thread is not the only one, so the checked fork
        // would refuse; the child only leaves.
        // SAFETY: the child calls _exit at once: no lock, no allocation.
        let child = unsafe { procctl::proc::fork_unchecked(|| procctl::proc::_exit(0)) }?;
        let status = child.wait()?;
        keep_child(child, left);
        assert!(status.success());
        Ok(())
    }

    pub(crate) fn path_spawn(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        arm();
        let child = Command::new("/bin/sh").args(["-c", "exit 3"]).spawn()?;
        let status = child.wait_timeout(Duration::from_secs(10))?;
        keep_child(child, left);
        assert_eq!(status.and_then(|s| s.code()), Some(3));
        Ok(())
    }

    pub(crate) fn path_spawn_piped(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        arm();
        let child = Command::new("/bin/sh")
            .args(["-c", "cat; echo err >&2"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let out = child.communicate_timeout(b"in", Duration::from_secs(10));
        keep_child(child, left);
        let out = out?;
        assert_eq!(
            (&out.stdout[..], &out.stderr[..]),
            (&b"in"[..], &b"err\n"[..])
        );
        Ok(())
    }

    pub(crate) fn spawn_cat(left: &mut Left) -> procctl::proc::Child {
        let child = Command::new("/bin/cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn cat");
        child.set_drop_policy(procctl::proc::DropPolicy::KillAndReap);
        let _ = left;
        child
    }

    pub(crate) fn path_wait(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        let child = Command::new("/bin/true").spawn().expect("spawn");
        arm();
        let status = child.wait();
        keep_child(child, left);
        assert!(status?.success());
        Ok(())
    }

    pub(crate) fn path_wait_timeout(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        let child = Command::new("/bin/sleep")
            .arg("0.05")
            .spawn()
            .expect("spawn");
        arm();
        let status = child.wait_timeout(Duration::from_secs(10));
        keep_child(child, left);
        assert!(status?.expect("exited in time").success());
        Ok(())
    }

    pub(crate) fn path_waitpid(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        // A child procctl does not hold: a plain std child, waited for by pid.
        let child = std::process::Command::new("/bin/true")
            .spawn()
            .expect("spawn");
        let pid = procctl::Pid::from_raw(child.id() as i32).expect("pid");
        arm();
        let deadline = Instant::now() + Duration::from_secs(10);
        let got = loop {
            match procctl::proc::waitpid(pid, procctl::proc::WaitOptions::NOHANG) {
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                other => break other,
            }
        };
        left.push(Box::new(child));
        match got? {
            Some((p, procctl::WaitStatus::Exited(s))) if p == pid && s.success() => Ok(()),
            other => panic!("waitpid: {other:?}"),
        }
    }

    /// `waitpid(pid, 0)`, blocking, for a child procctl does not hold.
    pub(crate) fn path_waitpid_blocking(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        let child = std::process::Command::new("/bin/true")
            .spawn()
            .expect("spawn");
        let pid = procctl::Pid::from_raw(child.id() as i32).expect("pid");
        arm();
        let got = procctl::proc::waitpid(pid, procctl::proc::WaitOptions::empty());
        left.push(Box::new(child));
        match got? {
            Some((p, procctl::WaitStatus::Exited(s))) if p == pid && s.success() => Ok(()),
            other => panic!("waitpid: {other:?}"),
        }
    }

    /// `wait()`: any child, blocking.
    pub(crate) fn path_wait_any(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        let child = std::process::Command::new("/bin/true")
            .spawn()
            .expect("spawn");
        let pid = procctl::Pid::from_raw(child.id() as i32).expect("pid");
        arm();
        let got = procctl::proc::wait();
        left.push(Box::new(child));
        let (p, status) = got?;
        assert_eq!((p, status.success()), (pid, true));
        Ok(())
    }

    /// A `Child` dropped while it runs is parked as an orphan (its pidfd
    /// in the orphan set, an epoll instance made for it); once it has
    /// exited, the next spawn or wait drains the set and reaps it.
    pub(crate) fn path_orphan(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        // Should the path fail with the orphan parked, procctl reaps it
        // at its next spawn, fork or wait (that is the contract): be that
        // next call when the path's leftovers are dropped.
        left.push(Box::new(NextCall));
        arm();
        let child = Command::new("/bin/sh")
            .args(["-c", "read x"])
            .stdin(Stdio::piped())
            .spawn()?;
        let stdin = child.take_stdin();
        drop(child);
        // End of input: the shell exits, still unreaped.
        drop(stdin);
        let deadline = Instant::now() + Duration::from_secs(10);
        while procctl::reap::pending_orphans() > 0 {
            assert!(Instant::now() < deadline, "the orphan was never reaped");
            // A spawn drains the orphan set first, the wait after it too.
            let status = Command::new("/bin/true").status()?;
            assert!(status.success());
        }
        let _ = left;
        Ok(())
    }

    /// Makes spawns until no orphan is left (at most 10 s).
    pub(crate) struct NextCall;

    impl Drop for NextCall {
        fn drop(&mut self) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while procctl::reap::pending_orphans() > 0 && Instant::now() < deadline {
                let _ = Command::new("/bin/true").status();
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    pub(crate) fn path_pipe(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        arm();
        let (mut r, mut w) = procctl::pipe::pipe()?;
        w.write_all(b"x").unwrap();
        drop(w);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "x");
        let _ = left;
        Ok(())
    }

    pub(crate) fn path_system(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        arm();
        let status = procctl::proc::system("exit 4")?;
        assert_eq!(status.code(), Some(4));
        let _ = left;
        Ok(())
    }

    pub(crate) fn path_popen(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        arm();
        let mut p = procctl::proc::popen("echo hi", PopenMode::Read)?;
        let mut s = String::new();
        p.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hi\n");
        assert!(p.close()?.success());
        let _ = left;
        Ok(())
    }

    pub(crate) fn path_popen2(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        arm();
        let mut p = procctl::proc::popen2("tr a-z A-Z")?;
        let out = p.communicate(b"abc")?;
        assert_eq!(out, b"ABC");
        assert!(p.close()?.success());
        let _ = left;
        Ok(())
    }

    pub(crate) fn path_communicate(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        let child = spawn_cat(left);
        arm();
        let out = child.communicate(b"data");
        left.push(Box::new(child));
        assert_eq!(out?.stdout, b"data");
        Ok(())
    }

    pub(crate) fn path_register(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        arm();
        let id = procctl::signal::register(Signal::USR2, |_| {})?;
        assert!(procctl::signal::unregister(id));
        let _ = left;
        Ok(())
    }

    pub(crate) fn path_reaper(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        arm();
        procctl::reap::start_reaper(procctl::reap::ReapMode::Owned)?;
        let _ = left;
        Ok(())
    }

    /// The safe `fork`, then `wait`: only where the calling thread is the
    /// process's only one.
    pub(crate) fn path_fork_safe(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        arm();
        let child = procctl::proc::fork(|| 7)?;
        let status = child.wait();
        keep_child(child, left);
        assert_eq!(status?.code(), Some(7));
        Ok(())
    }

    /// `spawn`, then `wait` (no deadline: `waitid(P_PIDFD, WNOWAIT)`).
    pub(crate) fn path_spawn_wait(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        arm();
        let child = Command::new("/bin/sh").args(["-c", "exit 3"]).spawn()?;
        let status = child.wait();
        keep_child(child, left);
        assert_eq!(status?.code(), Some(3));
        Ok(())
    }

    pub(crate) fn path_output(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        arm();
        let out = Command::new("/bin/sh")
            .args(["-c", "echo out; echo err >&2; exit 2"])
            .output()?;
        assert_eq!(
            (&out.stdout[..], &out.stderr[..], out.status.code()),
            (&b"out\n"[..], &b"err\n"[..], Some(2))
        );
        let _ = left;
        Ok(())
    }

    /// Two `cat`s: the first one blocks on its stdin until `communicate`
    /// closes it, so it is still running when the second one is started.
    pub(crate) fn path_pipeline(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        arm();
        let child = Command::new("/bin/cat")
            .pipe(Command::new("/bin/cat"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let out = child.communicate(b"through two");
        for m in child.members() {
            m.set_drop_policy(procctl::proc::DropPolicy::KillAndReap);
        }
        left.push(Box::new(child));
        let out = out?;
        assert_eq!(out.stdout, b"through two");
        assert!(out.status.success(), "{}", out.status);
        Ok(())
    }

    /// `pty::open`: `/dev/ptmx`, then the slave.
    pub(crate) fn path_pty_open(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        arm();
        let (master, slave) = procctl::pty::open()?;
        drop((master, slave));
        let _ = left;
        Ok(())
    }

    pub(crate) fn path_signals(arm: &dyn Fn(), left: &mut Left) -> procctl::Result<()> {
        arm();
        let mut sigs = procctl::signal::Signals::new([Signal::USR1])?;
        procctl::signal::raise(Signal::USR1)?;
        let got = sigs.wait_timeout(Duration::from_secs(10))?;
        assert_eq!(got, Some(Signal::USR1));
        let _ = left;
        Ok(())
    }

    /// What a case must come to.
    #[derive(Clone, Copy, Debug)]
    enum Want {
        /// The path works anyway (a fallback took over).
        Ok,
        /// `ResourceLimit { call }` with the errno.
        Limit(&'static str),
        /// `NotChild` (`ECHILD`).
        NotChild,
        /// A spawn error at this step, with the errno.
        Step(SpawnStep),
    }

    fn check(want: Want, errno: i32, got: &procctl::Result<()>) -> Result<(), String> {
        let err = match (want, got) {
            (Want::Ok, Ok(())) => return Ok(()),
            (_, Ok(())) => return Err("succeeded".into()),
            (_, Err(e)) => e,
        };
        let ok = match want {
            Want::Ok => false,
            Want::Limit(c) => matches!(err, Error::ResourceLimit { call, .. } if *call == c),
            Want::NotChild => matches!(err, Error::NotChild { .. } | Error::NoChildren),
            Want::Step(step) => err.spawn_step() == Some(step),
        };
        // Out of ptys is EAGAIN for POSIX's posix_openpt: musl says so
        // for the kernel's ENOSPC (glibc passes ENOSPC on).
        let pty_eagain = matches!(want, Want::Limit("posix_openpt"))
            && errno == libc::ENOSPC
            && err.raw_os_error() == Some(libc::EAGAIN);
        if ok && (err.raw_os_error() == Some(errno) || pty_eagain) {
            Ok(())
        } else {
            Err(format!("{err:?}"))
        }
    }

    pub(crate) fn short(got: &procctl::Result<()>) -> String {
        match got {
            Ok(()) => "ok (fallback)".into(),
            Err(e) => describe(e),
        }
    }

    /// The variant, the call or step, and the errno of `e`; a pipeline
    /// member's error as the member's own error behind the index.
    pub(crate) fn describe(e: &Error) -> String {
        if let Error::PipelineMember { index, source, .. } = e {
            return format!("PipelineMember index={index} <- {}", describe(source));
        }
        let variant = format!("{e:?}");
        let variant = variant
            .split([' ', '{', '('])
            .next()
            .unwrap_or("")
            .to_owned();
        let step = e
            .spawn_step()
            .map(|s| format!(" step={s}"))
            .unwrap_or_default();
        let call = match e {
            Error::ResourceLimit { call, .. }
            | Error::Os { call, .. }
            | Error::Cgroup { call, .. } => {
                format!(" call={call}")
            }
            _ => String::new(),
        };
        format!("{variant}{call}{step} errno={:?}", e.raw_os_error())
    }

    pub(crate) fn fds() -> Vec<i32> {
        let mut v: Vec<i32> = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        v.sort();
        // The read_dir's own descriptor is the highest new one: drop any
        // descriptor that no longer exists.
        v.retain(|&fd| {
            // SAFETY: F_GETFD only asks about a descriptor number.
            let open = unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 };
            // The reaper's epoll set (the orphan set) is made once and
            // kept for the process: not a descriptor a call leaked.
            let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap_or_default();
            open && link.to_str() != Some("anon_inode:[eventpoll]")
        });
        v
    }

    /// Children of this process still in the process table (running or
    /// zombie).
    pub(crate) fn children() -> Vec<i32> {
        let me = std::process::id() as i32;
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let after = &stat[stat.rfind(')').unwrap_or(0) + 1..];
            let ppid = after.split_whitespace().nth(1).and_then(|s| s.parse().ok());
            if ppid == Some(me) {
                out.push(pid);
            }
        }
        out
    }

    /// The checks after a path: descriptors as before, no zombie, no child.
    pub(crate) fn clean(before: &[i32], what: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let (after, zombies, kids) = (fds(), support::zombies(), children());
            if after == before && zombies.is_empty() && kids.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let new: Vec<String> = after
                    .iter()
                    .filter(|fd| !before.contains(fd))
                    .map(|fd| {
                        let link =
                            std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap_or_default();
                        format!("{fd}: {}", link.display())
                    })
                    .collect();
                return Err(format!(
                    "{what}: fds {before:?} -> {after:?} (new: {new:?}), zombies {zombies:?}, children {kids:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub(crate) fn drop_left(left: Left) {
        drop(left);
    }

    /// Whether a scope can be made here (a writable cgroup v2).
    pub(crate) fn probe_scope() -> Option<String> {
        procctl::proc::Scope::new()
            .err()
            .map(|e| format!("no writable cgroup v2: {e}"))
    }

    /// This process's cgroup v2 directory (the `0::` line of
    /// `/proc/self/cgroup` below the `cgroup2` mount of `mountinfo`), where
    /// `Scope::new` makes its cgroups.
    fn own_cgroup2() -> Option<std::path::PathBuf> {
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let own = own.lines().find_map(|l| l.strip_prefix("0::"))?.to_owned();
        let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        info.lines().find_map(|line| {
            let (fields, rest) = line.split_once(" - ")?;
            if rest.split(' ').next()? != "cgroup2" {
                return None;
            }
            let mut f = fields.split(' ');
            let (root, mount) = (f.nth(3)?, f.next()?);
            let below = if root == "/" {
                own.as_str()
            } else {
                own.strip_prefix(root)?
            };
            Some(std::path::Path::new(mount).join(below.trim_start_matches('/')))
        })
    }

    /// The scopes' cgroups this process left (`procctl-<pid>-<n>` in its own
    /// cgroup): each is killed, waited for (2 s at most) and removed; their
    /// names are returned.
    pub(crate) fn cgroups_left() -> Vec<String> {
        let Some(dir) = own_cgroup2() else {
            return Vec::new();
        };
        let prefix = format!("procctl-{}-", std::process::id());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut names = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with(&prefix) {
                continue;
            }
            let path = e.path();
            let _ = std::fs::write(path.join("cgroup.kill"), "1");
            let deadline = Instant::now() + Duration::from_secs(2);
            while std::fs::remove_dir(&path).is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            names.push(name);
        }
        names.sort();
        names
    }

    /// One seccomp case, in a forked child. Returns the table row.
    fn seccomp_case(
        name: &str,
        path: Path,
        deny: &'static [(libc::c_long, i32)],
        want: Want,
    ) -> (String, bool) {
        let errno = deny.last().expect("a call to deny").1;
        let (mut reader, writer) = procctl::pipe::pipe().unwrap();
        let child = procctl::proc::fork(move || {
            support::arm_alarm();
            let mut writer = writer;
            let before = fds();
            let (got, left) = std::thread::scope(|s| {
                s.spawn(|| {
                    let mut left = Left::new();
                    let installed = std::cell::Cell::new(None);
                    let arm = || installed.set(Some(install(deny)));
                    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        path(&arm, &mut left)
                    }));
                    if let Some(Err(e)) = installed.take() {
                        return (Err(format!("seccomp refused: {e}")), left);
                    }
                    (got.map_err(|_| "panicked".to_owned()), left)
                })
                .join()
                .unwrap()
            });
            drop_left(left);
            if matches!(want, Want::NotChild) {
                // ECHILD says another reaper took the child: be that
                // reaper, as the kernel's answer was made up.
                std::thread::sleep(Duration::from_millis(20));
                let _ = procctl::reap::reap_zombies();
            }
            let got = match got {
                Ok(g) => g,
                Err(e) => {
                    let _ = writeln!(writer, "{e}");
                    return 1;
                }
            };
            let mut verdict = check(want, errno, &got);
            let row = short(&got);
            if verdict.is_ok() {
                verdict = clean(&before, "after the fault");
            }
            if verdict.is_ok() {
                // The next call of the same kind, unfiltered, works.
                let mut left = Left::new();
                let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    path(&|| {}, &mut left)
                }));
                drop_left(left);
                verdict = match again {
                    Ok(Ok(())) => clean(&before, "after the next call"),
                    Ok(Err(e)) => Err(format!("next call failed: {e:?}")),
                    Err(_) => Err("next call panicked".into()),
                };
            }
            let _ = match &verdict {
                Ok(()) => writeln!(writer, "{row}"),
                Err(e) => writeln!(writer, "{row}  FAILED: {e}"),
            };
            i32::from(verdict.is_err())
        })
        .expect("fork");
        let status = support::wait10(&child);
        let mut line = String::new();
        reader.read_to_string(&mut line).unwrap();
        let ok = status.success();
        let _ = name;
        (line.trim_end().to_owned(), ok)
    }

    /// The lowest descriptor number not in use.
    fn lowest_free() -> u64 {
        // SAFETY: F_GETFD only asks about a descriptor number.
        (0..)
            .find(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1)
            .unwrap() as u64
    }

    fn set_nofile(soft: u64) {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit with a valid struct.
        unsafe {
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
            lim.rlim_cur = soft;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
    }

    /// `RLIMIT_NOFILE` stepping, in a forked child: the k-th descriptor
    /// the path makes fails with EMFILE, for each k until the path works.
    fn nofile_case(path: Path, want_call: &'static str) -> (String, bool) {
        let (mut reader, writer) = procctl::pipe::pipe().unwrap();
        let child = procctl::proc::fork(move || {
            support::arm_alarm();
            let mut writer = writer;
            // SAFETY: only reads the limit.
            let mut orig = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit with a valid struct.
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut orig) };
            let before = fds();
            let mut rows = Vec::new();
            let mut failed = false;
            for k in 0..16 {
                let mut left = Left::new();
                let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    path(&|| set_nofile(lowest_free() + k), &mut left)
                }));
                set_nofile(orig.rlim_cur);
                drop_left(left);
                let got = match got {
                    Ok(g) => g,
                    Err(_) => {
                        rows.push(format!("fd #{k}: panicked"));
                        failed = true;
                        break;
                    }
                };
                let done = got.is_ok();
                let mut verdict = if done {
                    Ok(())
                } else {
                    let err = got.as_ref().unwrap_err();
                    let named = match err {
                        Error::ResourceLimit { .. } => true,
                        e => e.spawn_step().is_some(),
                    };
                    if named && err.raw_os_error() == Some(libc::EMFILE) {
                        Ok(())
                    } else {
                        Err(format!("{err:?}"))
                    }
                };
                if verdict.is_ok() {
                    verdict = clean(&before, "after EMFILE");
                }
                match verdict {
                    Ok(()) if done => {
                        rows.push(format!("ok with {k} new fds"));
                        break;
                    }
                    Ok(()) => rows.push(format!("fd #{k}: {}", short(&got))),
                    Err(e) => {
                        rows.push(format!("fd #{k}: {}  FAILED: {e}", short(&got)));
                        failed = true;
                    }
                }
                if k == 15 {
                    rows.push("never worked with 15 new fds  FAILED".into());
                    failed = true;
                }
            }
            let _ = want_call;
            let _ = writeln!(writer, "{}", rows.join("; "));
            i32::from(failed)
        })
        .expect("fork");
        let status = support::wait10(&child);
        let mut line = String::new();
        reader.read_to_string(&mut line).unwrap();
        (line.trim_end().to_owned(), status.success())
    }

    use libc::{
        E2BIG, EAGAIN, ECHILD, EMFILE, ENFILE, ENOMEM, ENOSPC, ENOSYS, EPERM, SYS_clone,
        SYS_clone3, SYS_epoll_create1, SYS_execve, SYS_pidfd_open, SYS_pipe2, SYS_poll, SYS_wait4,
        SYS_waitid,
    };

    /// glibc forks with `clone`; musl with `fork` where the architecture
    /// has it.
    #[cfg(target_arch = "x86_64")]
    const FORK_EAGAIN: &[(libc::c_long, i32)] = &[(libc::SYS_fork, EAGAIN), (SYS_clone, EAGAIN)];
    #[cfg(target_arch = "x86_64")]
    const FORK_ENOMEM: &[(libc::c_long, i32)] = &[(libc::SYS_fork, ENOMEM), (SYS_clone, ENOMEM)];
    #[cfg(not(target_arch = "x86_64"))]
    const FORK_EAGAIN: &[(libc::c_long, i32)] = &[(SYS_clone, EAGAIN)];
    #[cfg(not(target_arch = "x86_64"))]
    const FORK_ENOMEM: &[(libc::c_long, i32)] = &[(SYS_clone, ENOMEM)];
    /// glibc makes threads with `clone3` (falling back to `clone` only on
    /// `ENOSYS`), musl with `clone`.
    const THREAD_EAGAIN: &[(libc::c_long, i32)] = &[(SYS_clone3, EAGAIN), (SYS_clone, EAGAIN)];

    /// No pty left: Linux's `/dev/ptmx` says `ENOSPC` (kernel.pty.max);
    /// glibc opens it with `openat`, musl with `open`.
    #[cfg(target_arch = "x86_64")]
    const PTMX_ENOSPC: &[(libc::c_long, i32)] =
        &[(libc::SYS_openat, ENOSPC), (libc::SYS_open, ENOSPC)];
    #[cfg(not(target_arch = "x86_64"))]
    const PTMX_ENOSPC: &[(libc::c_long, i32)] = &[(libc::SYS_openat, ENOSPC)];

    type Case = (&'static str, Path, &'static [(libc::c_long, i32)], Want);

    const STEP_EXEC: Want = Want::Step(SpawnStep::Exec);

    const CASES: &[Case] = &[
        ("fork", path_fork, FORK_EAGAIN, Want::Limit("fork")),
        ("fork", path_fork, FORK_ENOMEM, Want::Limit("fork")),
        ("fork", path_fork, &[(SYS_pidfd_open, ENOSYS)], Want::Ok),
        ("fork", path_fork, &[(SYS_pidfd_open, EMFILE)], Want::Ok),
        (
            "spawn",
            path_spawn,
            &[(SYS_clone3, EAGAIN)],
            Want::Limit("clone"),
        ),
        (
            "spawn",
            path_spawn,
            &[(SYS_clone3, ENOMEM)],
            Want::Limit("clone"),
        ),
        ("spawn", path_spawn, &[(SYS_clone3, EPERM)], Want::Ok),
        ("spawn", path_spawn, &[(SYS_clone3, ENOSYS)], Want::Ok),
        (
            "spawn",
            path_spawn,
            &[(SYS_clone3, ENOSYS), (SYS_clone, EAGAIN)],
            Want::Limit("clone"),
        ),
        (
            "spawn",
            path_spawn,
            &[(SYS_clone3, ENOSYS), (SYS_clone, ENOMEM)],
            Want::Limit("clone"),
        ),
        (
            "spawn",
            path_spawn,
            &[(SYS_clone3, ENOSYS), (SYS_pidfd_open, ENOSYS)],
            Want::Ok,
        ),
        (
            "spawn",
            path_spawn,
            &[(SYS_clone3, ENOSYS), (SYS_pidfd_open, EMFILE)],
            Want::Ok,
        ),
        ("spawn", path_spawn, &[(SYS_execve, E2BIG)], STEP_EXEC),
        ("spawn", path_spawn, &[(SYS_execve, ENOMEM)], STEP_EXEC),
        (
            "spawn piped",
            path_spawn_piped,
            &[(SYS_pipe2, EMFILE)],
            Want::Limit("pipe"),
        ),
        (
            "spawn piped",
            path_spawn_piped,
            &[(SYS_pipe2, ENFILE)],
            Want::Limit("pipe"),
        ),
        (
            "spawn piped",
            path_spawn_piped,
            &[(SYS_clone3, EAGAIN)],
            Want::Limit("clone"),
        ),
        ("wait", path_wait, &[(SYS_waitid, ECHILD)], Want::NotChild),
        (
            "wait_timeout",
            path_wait_timeout,
            &[(SYS_poll, ENOMEM)],
            Want::Limit("poll"),
        ),
        (
            "waitpid",
            path_waitpid,
            &[(SYS_wait4, ECHILD)],
            Want::NotChild,
        ),
        (
            "waitpid",
            path_waitpid,
            &[(SYS_waitid, ECHILD)],
            Want::NotChild,
        ),
        (
            "pipe",
            path_pipe,
            &[(SYS_pipe2, EMFILE)],
            Want::Limit("pipe"),
        ),
        (
            "pipe",
            path_pipe,
            &[(SYS_pipe2, ENFILE)],
            Want::Limit("pipe"),
        ),
        (
            "system",
            path_system,
            &[(SYS_clone3, EAGAIN)],
            Want::Limit("clone"),
        ),
        (
            "system",
            path_system,
            &[(SYS_clone3, ENOMEM)],
            Want::Limit("clone"),
        ),
        (
            "system",
            path_system,
            &[(SYS_clone3, ENOSYS), (SYS_clone, EAGAIN)],
            Want::Limit("clone"),
        ),
        (
            "popen",
            path_popen,
            &[(SYS_pipe2, EMFILE)],
            Want::Limit("pipe"),
        ),
        (
            "popen",
            path_popen,
            &[(SYS_pipe2, ENFILE)],
            Want::Limit("pipe"),
        ),
        (
            "popen",
            path_popen,
            &[(SYS_clone3, EAGAIN)],
            Want::Limit("clone"),
        ),
        (
            "popen2",
            path_popen2,
            &[(SYS_pipe2, EMFILE)],
            Want::Limit("pipe"),
        ),
        (
            "popen2",
            path_popen2,
            &[(SYS_clone3, ENOMEM)],
            Want::Limit("clone"),
        ),
        (
            "communicate",
            path_communicate,
            &[(SYS_poll, ENOMEM)],
            Want::Limit("poll"),
        ),
        (
            "signal::register",
            path_register,
            THREAD_EAGAIN,
            Want::Limit("pthread_create"),
        ),
        (
            "start_reaper",
            path_reaper,
            THREAD_EAGAIN,
            Want::Limit("pthread_create"),
        ),
        (
            "start_reaper",
            path_reaper,
            &[(SYS_epoll_create1, EMFILE)],
            Want::Limit("epoll_create1"),
        ),
        (
            "start_reaper",
            path_reaper,
            &[(SYS_epoll_create1, ENOMEM)],
            Want::Limit("epoll_create1"),
        ),
        (
            "pty::open",
            path_pty_open,
            PTMX_ENOSPC,
            Want::Limit("posix_openpt"),
        ),
    ];

    const NOFILE: &[(&str, Path, &str)] = &[
        ("pipe", path_pipe, "pipe"),
        ("fork", path_fork, "fork"),
        ("spawn", path_spawn, "spawn"),
        ("spawn piped", path_spawn_piped, "spawn"),
        ("system", path_system, "system"),
        ("popen", path_popen, "popen"),
        ("popen2", path_popen2, "popen2"),
        ("communicate", path_communicate, "communicate"),
        ("start_reaper", path_reaper, "start_reaper"),
    ];

    fn errno_name(e: i32) -> &'static str {
        match e {
            EAGAIN => "EAGAIN",
            ENOMEM => "ENOMEM",
            EMFILE => "EMFILE",
            ENFILE => "ENFILE",
            EPERM => "EPERM",
            ENOSYS => "ENOSYS",
            ECHILD => "ECHILD",
            E2BIG => "E2BIG",
            ENOSPC => "ENOSPC",
            _ => "?",
        }
    }

    #[allow(non_upper_case_globals)]
    fn syscall_name(nr: libc::c_long) -> &'static str {
        match nr {
            SYS_clone => "clone",
            #[cfg(target_arch = "x86_64")]
            libc::SYS_fork => "fork",
            SYS_clone3 => "clone3",
            SYS_pidfd_open => "pidfd_open",
            SYS_pipe2 => "pipe2",
            SYS_execve => "execve",
            SYS_waitid => "waitid",
            SYS_wait4 => "wait4",
            SYS_poll => "poll",
            SYS_epoll_create1 => "epoll_create1",
            libc::SYS_openat => "openat",
            #[cfg(target_arch = "x86_64")]
            libc::SYS_open => "open",
            _ => "?",
        }
    }

    fn seccomp_table() {
        println!();
        println!("| path | injected | result |");
        println!("|---|---|---|");
        let mut failed = Vec::new();
        for &(name, path, deny, want) in CASES {
            let injected = deny
                .iter()
                .map(|&(nr, e)| format!("{} {}", syscall_name(nr), errno_name(e)))
                .collect::<Vec<_>>()
                .join(" + ");
            let (row, ok) = seccomp_case(name, path, deny, want);
            println!("| {name} | {injected} | {row} |");
            if !ok {
                failed.push(format!("{name} / {injected}: {row} (wanted {want:?})"));
            }
        }
        assert!(failed.is_empty(), "failed cases:\n{}", failed.join("\n"));
    }

    fn nofile_table() {
        println!();
        println!("| path | RLIMIT_NOFILE = lowest free fd + k | result |");
        println!("|---|---|---|");
        let mut failed = Vec::new();
        for &(name, path, call) in NOFILE {
            let (row, ok) = nofile_case(path, call);
            println!("| {name} | k = 0.. | {row} |");
            if !ok {
                failed.push(format!("{name}: {row}"));
            }
        }
        assert!(failed.is_empty(), "failed cases:\n{}", failed.join("\n"));
    }

    /// `output` that fails after its child started (here: `poll` ENOMEM)
    /// leaves no process behind: the caller has no handle to kill or wait
    /// for. The child runs for 10 s unless it is killed, so one that was
    /// left running (the old behaviour: parked as an orphan, reaped only
    /// once it exited) shows in the process table long after the 1 s the
    /// check allows.
    fn failed_output_leaves_no_process() {
        type Output = fn() -> procctl::Result<()>;
        let command: Output = || {
            Command::new("/bin/sh")
                .args(["-c", "echo started; exec sleep 10"])
                .output()
                .map(drop)
        };
        let pipeline: Output = || {
            Command::new("/bin/sleep")
                .arg("10")
                .pipe(Command::new("/bin/sleep").arg("10"))
                .output()
                .map(drop)
        };
        let mut failed = Vec::new();
        for (name, output) in [("Command::output", command), ("Pipeline::output", pipeline)] {
            let (mut reader, writer) = procctl::pipe::pipe().unwrap();
            let child = procctl::proc::fork(move || {
                support::arm_alarm();
                let mut writer = writer;
                let before = fds();
                let got = std::thread::scope(|s| {
                    s.spawn(|| {
                        install(&[(libc::SYS_poll, libc::ENOMEM), (libc::SYS_ppoll, libc::ENOMEM)])
                            .map(|()| output())
                    })
                    .join()
                    .unwrap()
                });
                let got = match got {
                    Ok(got) => got,
                    Err(e) => {
                        let _ = writeln!(writer, "skipped: seccomp refused: {e}");
                        return 0;
                    }
                };
                let mut verdict = check(Want::Limit("poll"), libc::ENOMEM, &got);
                if verdict.is_ok() {
                    // Killed and reaped before `output` returned: at once,
                    // not after the program's 10 s.
                    let deadline = Instant::now() + Duration::from_secs(1);
                    verdict = loop {
                        let (after, zombies, kids) = (fds(), support::zombies(), children());
                        if after == before && zombies.is_empty() && kids.is_empty() {
                            break Ok(());
                        }
                        if Instant::now() > deadline {
                            break Err(format!(
                                "fds {before:?} -> {after:?}, zombies {zombies:?}, children {kids:?}"
                            ));
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    };
                }
                let _ = match &verdict {
                    Ok(()) => writeln!(writer, "{}", short(&got)),
                    Err(e) => writeln!(writer, "{}  FAILED: {e}", short(&got)),
                };
                // What a failure left running dies with the case.
                for pid in children() {
                    // SAFETY: kill takes plain numbers; these are our
                    // own unreaped children, so the pids are theirs.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                i32::from(verdict.is_err())
            })
            .expect("fork");
            let status = support::wait10(&child);
            let mut line = String::new();
            reader.read_to_string(&mut line).unwrap();
            println!("{name}, poll ENOMEM: {}", line.trim_end());
            if !status.success() {
                failed.push(format!("{name}: {}", line.trim_end()));
            }
        }
        assert!(failed.is_empty(), "failed:\n{}", failed.join("\n"));
    }

    /// A `Scope` dropped with processes inside (`KillAndRemove`) while
    /// every call of one kind fails on the dropping thread: the drop must
    /// still kill them and remove the cgroup. `poll` ENOMEM: the wait
    /// for the killed processes cannot watch `cgroup.events` (before: the
    /// `rmdir` came at once, while they were still on their way out, and
    /// failed with EBUSY: the cgroup stayed). `fstat` ENOMEM: the listing
    /// of the cgroups below it fails (glibc's `opendir` checks the
    /// descriptor with `fstat`; musl's does not, so there the case only
    /// checks the drop; before: no `rmdir` was tried).
    fn scope_drop_when_a_call_fails() {
        if let Some(why) = probe_scope() {
            println!("    (skipped: {why})");
            return;
        }
        #[cfg(target_arch = "x86_64")]
        const POLL: &[(libc::c_long, i32)] = &[(libc::SYS_poll, ENOMEM), (libc::SYS_ppoll, ENOMEM)];
        #[cfg(not(target_arch = "x86_64"))]
        const POLL: &[(libc::c_long, i32)] = &[(libc::SYS_ppoll, ENOMEM)];
        #[cfg(target_arch = "x86_64")]
        const FSTAT: &[(libc::c_long, i32)] =
            &[(libc::SYS_fstat, ENOMEM), (libc::SYS_newfstatat, ENOMEM)];
        #[cfg(not(target_arch = "x86_64"))]
        const FSTAT: &[(libc::c_long, i32)] = &[(libc::SYS_newfstatat, ENOMEM)];
        let cases: &[(&str, &'static [(libc::c_long, i32)])] = &[
            ("poll ENOMEM (the wait)", POLL),
            ("fstat ENOMEM (the listing)", FSTAT),
        ];
        let mut failed = Vec::new();
        for &(name, deny) in cases {
            let (mut reader, writer) = procctl::pipe::pipe().unwrap();
            let child = procctl::proc::fork(move || {
                support::arm_alarm();
                let mut writer = writer;
                let scope = procctl::proc::Scope::new().expect("a scope");
                // A shell and 32 sleeps: killing them all takes longer
                // than a removal tried at once.
                let sleeper = Command::new("/bin/sh")
                    .args(["-c", "for i in $(seq 32); do sleep 10 & done; wait"])
                    .scope(&scope)
                    .spawn()
                    .expect("spawn into the scope");
                sleeper.set_drop_policy(procctl::proc::DropPolicy::KillAndReap);
                support::eventually("33 processes in the scope", || {
                    scope.pids().is_ok_and(|p| p.len() == 33)
                });
                let dir = scope.path().to_owned();
                let installed = std::thread::scope(|s| {
                    s.spawn(move || {
                        let installed = install(deny);
                        drop(scope);
                        installed
                    })
                    .join()
                    .unwrap()
                });
                if let Err(e) = installed {
                    let _ = writeln!(writer, "skipped: seccomp refused: {e}");
                    return 0;
                }
                let removed = !dir.exists();
                let status = sleeper
                    .wait_timeout(Duration::from_secs(2))
                    .expect("wait_timeout");
                let killed = status.and_then(|s| s.signal()) == Some(Signal::KILL);
                // What the drop left dies with the case.
                drop(sleeper);
                let left = cgroups_left();
                let _ = writeln!(
                    writer,
                    "removed: {removed}, the shell killed: {killed}, left: {left:?}"
                );
                i32::from(!(removed && killed))
            })
            .expect("fork");
            let status = support::wait10(&child);
            let mut line = String::new();
            reader.read_to_string(&mut line).unwrap();
            println!("Scope drop, {name}: {}", line.trim_end());
            if !status.success() {
                failed.push(format!("{name}: {}", line.trim_end()));
            }
        }
        assert!(failed.is_empty(), "failed:\n{}", failed.join("\n"));
    }

    pub fn main() {
        support::run(&[
            ("seccomp_errno_per_call", seccomp_table),
            (
                "failed_output_leaves_no_process",
                failed_output_leaves_no_process,
            ),
            ("rlimit_nofile_each_descriptor", nofile_table),
            ("scope_drop_when_a_call_fails", scope_drop_when_a_call_fails),
            ("rlimit_nproc_for_real", crate::nproc::table),
            ("nth_call_fails", crate::nth::table),
        ]);
    }
}

fn main() {
    #[cfg(target_os = "linux")]
    linux::main();
}
