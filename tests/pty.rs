//! `procctl::pty` and `Command::pty` / `controlling_terminal` /
//! `foreground`, with real processes on real pseudo-terminals: what the
//! child sees (a terminal, its own session, the pty as its controlling
//! terminal, `SIGWINCH` on resize), that its output is read to the end,
//! the foreground group, the errors, and the same on the `clone`
//! fallback (a seccomp filter makes `clone3` fail).
//!
//! `harness = false`: the foreground and fallback tests fork (the safe
//! `fork` needs a single-threaded process), and a seccomp filter or a
//! new session is process-wide state that must stay in a forked child.
//! Every read and wait has a deadline.

mod support;

#[cfg(target_os = "linux")]
mod seccomp;

#[cfg(unix)]
mod unix {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    use procctl::error::SpawnStep;
    use procctl::proc::{Command, Stdio};
    use procctl::pty::{self, PtyMaster};

    use super::support;

    /// Reads the master until end of input (`Ok(0)`), at most 10 s.
    /// Returns what came and whether the end was seen.
    pub fn read_to_end(master: &PtyMaster, limit: Duration) -> (Vec<u8>, bool) {
        let deadline = Instant::now() + limit;
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match master.read_timeout(&mut buf, left).expect("read master") {
                Some(0) => return (out, true),
                Some(n) => out.extend_from_slice(&buf[..n]),
                None => return (out, false),
            }
        }
    }

    /// Reads the master until what came holds `needle`; fails after 10 s.
    pub fn read_until(master: &PtyMaster, seen: &mut Vec<u8>, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(seen).contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match master.read_timeout(&mut buf, left).expect("read master") {
                Some(0) => panic!(
                    "end of input before {needle:?}: {:?}",
                    String::from_utf8_lossy(seen)
                ),
                Some(n) => seen.extend_from_slice(&buf[..n]),
                None => panic!(
                    "no {needle:?} within 10 s: {:?}",
                    String::from_utf8_lossy(seen)
                ),
            }
        }
    }

    /// Runs `script` under `sh -c` on a new pty; returns its output (to
    /// the end) and its status.
    pub fn run_on_pty(script: &str) -> (String, procctl::ExitStatus, std::path::PathBuf) {
        let (master, slave) = pty::open().expect("open pty");
        let path = slave.path().to_owned();
        let child = Command::new("/bin/sh")
            .args(["-c", script])
            .pty(&slave)
            .spawn()
            .expect("spawn on pty");
        drop(slave);
        let (out, eof) = read_to_end(&master, Duration::from_secs(10));
        let status = support::wait10(&child);
        let out = String::from_utf8(out).expect("utf-8");
        assert!(eof, "no end of input: {out:?}");
        (out, status, path)
    }

    pub fn a_pty_child_sees_a_terminal() {
        let (out, status, path) = run_on_pty(
            "tty; test -t 0 && test -t 1 && test -t 2 && echo all three; \
             exec 3<>/dev/tty && echo controlling",
        );
        assert!(status.success(), "{status}: {out}");
        let path = path.to_str().unwrap();
        // A terminal's output processing turns \n into \r\n.
        assert_eq!(out, format!("{path}\r\nall three\r\ncontrolling\r\n"));
    }

    /// The command's own copy of the slave (and our PtySlave) is not
    /// passed to the program: it has 0-2 only.
    #[cfg(target_os = "linux")]
    pub fn a_pty_child_gets_only_stdio() {
        let (out, status, _) = run_on_pty("ls -1 /proc/$$/fd");
        assert!(status.success(), "{status}: {out}");
        assert_eq!(out, "0\r\n1\r\n2\r\n");
    }

    /// Its session id and group are its pid; its controlling terminal is
    /// the pty (tty_nr in /proc/self/stat) and its group the terminal's
    /// foreground group (tpgid, and tcgetpgrp on the master).
    pub fn the_child_leads_a_session_on_the_pty() {
        let (master, slave) = pty::open().unwrap();
        // SAFETY: a zeroed stat is a valid out-parameter for fstat.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat on our open slave.
        assert_eq!(unsafe { libc::fstat(slave.as_raw_fd(), &mut st) }, 0);
        let child = Command::new("/bin/sh")
            .args(["-c", "cat /proc/$$/stat 2>/dev/null; echo; read x"])
            .pty(&slave)
            .spawn()
            .unwrap();
        drop(slave);
        let pid = child.pid();
        let mut seen = Vec::new();
        read_until(&master, &mut seen, "\n");
        assert_eq!(procctl::proc::getsid(Some(pid)).unwrap(), Some(pid));
        assert_eq!(procctl::proc::getpgid(Some(pid)).unwrap(), Some(pid));
        #[cfg(target_os = "linux")]
        {
            assert_eq!(master.foreground_group().unwrap(), Some(pid));
            let text = String::from_utf8_lossy(&seen).into_owned();
            let after = &text[text.rfind(')').expect("stat line") + 2..];
            let fields: Vec<i64> = after
                .split_whitespace()
                .skip(1)
                .take(5)
                .map(|f| f.parse().unwrap())
                .collect();
            // ppid pgrp session tty_nr tpgid
            let (major, minor) = (
                libc::major(st.st_rdev) as i64,
                libc::minor(st.st_rdev) as i64,
            );
            let tty_nr = (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12);
            let me = i64::from(pid.as_raw());
            assert_eq!(fields[1], me, "pgrp: {text}");
            assert_eq!(fields[2], me, "session: {text}");
            assert_eq!(fields[3], tty_nr, "tty_nr: {text}");
            assert_eq!(fields[4], me, "tpgid: {text}");
        }
        (&master).write_all(b"\n").unwrap();
        let (_, eof) = read_to_end(&master, Duration::from_secs(10));
        assert!(eof);
        assert!(support::wait10(&child).success());
    }

    pub fn resize_sends_sigwinch_and_the_child_sees_the_size() {
        let (master, slave) = pty::open().unwrap();
        master.resize(24, 80).unwrap();
        let child = Command::new("/bin/sh")
            .args([
                "-c",
                "trap 'echo winch; stty size; exit 0' WINCH; stty size; echo ready; \
                 while :; do sleep 0.05; done",
            ])
            .pty(&slave)
            .spawn()
            .unwrap();
        drop(slave);
        let mut seen = Vec::new();
        read_until(&master, &mut seen, "ready\r\n");
        assert_eq!(String::from_utf8_lossy(&seen), "24 80\r\nready\r\n");
        master.resize(33, 101).unwrap();
        assert_eq!(master.size().unwrap(), (33, 101));
        let (rest, eof) = read_to_end(&master, Duration::from_secs(10));
        let status = support::wait10(&child);
        assert!(eof);
        assert_eq!(String::from_utf8_lossy(&rest), "winch\r\n33 101\r\n");
        assert!(status.success(), "{status}");
    }

    pub fn size_after_resize() {
        let (master, slave) = pty::open().unwrap();
        assert_eq!(master.size().unwrap(), (0, 0));
        for (rows, cols) in [(1, 1), (24, 80), (500, 1000), (u16::MAX, u16::MAX)] {
            master.resize(rows, cols).unwrap();
            assert_eq!(master.size().unwrap(), (rows, cols));
        }
        drop(slave);
    }

    /// A child that prints 100 KiB and exits: every byte arrives, then
    /// the end, with no error. Repeated: the end must never come before
    /// the last byte.
    pub fn all_output_is_read_to_the_end() {
        for _ in 0..20 {
            let (out, status, _) =
                run_on_pty("dd if=/dev/zero bs=1024 count=100 2>/dev/null | tr '\\0' x");
            assert!(status.success(), "{status}");
            assert_eq!(out.len(), 100 * 1024);
            assert!(out.bytes().all(|b| b == b'x'));
        }
    }

    /// What the child wrote before it exited stays in the pty until the
    /// master reads it, even though no slave descriptor is left.
    pub fn output_waits_in_the_pty_after_the_child_exits() {
        for _ in 0..20 {
            let (master, slave) = pty::open().unwrap();
            let child = Command::new("/bin/sh")
                .args([
                    "-c",
                    "i=0; while [ $i -lt 100 ]; do echo line$i; i=$((i+1)); done",
                ])
                .pty(&slave)
                .spawn()
                .unwrap();
            drop(slave);
            assert!(support::wait10(&child).success());
            let (out, eof) = read_to_end(&master, Duration::from_secs(10));
            assert!(eof);
            let want: String = (0..100).map(|i| format!("line{i}\r\n")).collect();
            assert_eq!(String::from_utf8_lossy(&out), want);
        }
    }

    /// The end comes only once every slave descriptor is closed: ours,
    /// then the `Command`'s copy.
    pub fn the_end_waits_for_every_slave_descriptor() {
        let (master, slave) = pty::open().unwrap();
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "echo done"]).pty(&slave);
        let child = cmd.spawn().unwrap();
        assert!(support::wait10(&child).success());
        let (out, eof) = read_to_end(&master, Duration::from_millis(300));
        assert_eq!(out, b"done\r\n");
        assert!(!eof, "end of input while our slave is open");
        drop(slave);
        let (out, eof) = read_to_end(&master, Duration::from_millis(300));
        assert!(
            out.is_empty() && !eof,
            "end while the Command's copy is open"
        );
        drop(cmd);
        let (out, eof) = read_to_end(&master, Duration::from_secs(10));
        assert!(out.is_empty() && eof);
    }

    /// Typed input reaches the child; an explicit stdio wins over the
    /// pty for its stream.
    pub fn input_and_explicit_stdio() {
        let (master, slave) = pty::open().unwrap();
        let child = Command::new("/bin/sh")
            .args(["-c", "read x; echo \"got $x\"; echo oops >&2"])
            .stderr(Stdio::piped())
            .pty(&slave)
            .spawn()
            .unwrap();
        drop(slave);
        let mut stderr = child.take_stderr().unwrap();
        (&master).write_all(b"hello\n").unwrap();
        let (out, eof) = read_to_end(&master, Duration::from_secs(10));
        assert!(eof);
        assert_eq!(String::from_utf8_lossy(&out), "hello\r\ngot hello\r\n");
        let mut err = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut err).unwrap();
        assert_eq!(err, "oops\n");
        assert!(support::wait10(&child).success());
    }

    /// A descriptor that is not a terminal: refused before any process
    /// exists, named, errno kept; no child and no descriptor left.
    pub fn controlling_terminal_on_a_non_terminal() {
        #[cfg(target_os = "linux")]
        let fds = support::fd_count();
        let (r, _w) = std::io::pipe().unwrap();
        for fd in [
            std::fs::File::open("/dev/null").unwrap().into(),
            std::os::fd::OwnedFd::from(r),
        ] {
            let mut cmd = Command::new("/bin/sh");
            cmd.args(["-c", "exit 0"]).controlling_terminal(&fd);
            let err = cmd.spawn().unwrap_err();
            assert_eq!(err.spawn_step(), Some(SpawnStep::Terminal), "{err}");
            assert_eq!(err.raw_os_error(), Some(libc::ENOTTY), "{err}");
            assert!(err.to_string().contains("/bin/sh"), "{err}");
            let err = cmd.foreground(&fd).spawn().unwrap_err();
            assert_eq!(err.spawn_step(), Some(SpawnStep::Terminal), "{err}");
            let err = Command::new("true").foreground(&fd).spawn().unwrap_err();
            assert_eq!(err.spawn_step(), Some(SpawnStep::Foreground), "{err}");
            assert_eq!(err.raw_os_error(), Some(libc::ENOTTY), "{err}");
        }
        drop(_w);
        #[cfg(target_os = "linux")]
        {
            assert_eq!(support::zombies(), []);
            assert_eq!(support::fd_count(), fds);
        }
    }

    /// A terminal that is already another session's: the child's
    /// TIOCSCTTY fails, reported with its step and errno; the failed
    /// child is reaped. A process group with a controlling terminal is
    /// refused up front.
    pub fn a_terminal_of_another_session_is_refused_in_the_child() {
        let (master, slave) = pty::open().unwrap();
        let owner = Command::new("/bin/sh")
            .args(["-c", "echo up; read x"])
            .pty(&slave)
            .spawn()
            .unwrap();
        let mut seen = Vec::new();
        read_until(&master, &mut seen, "up");
        let err = Command::new("true")
            .controlling_terminal(&slave)
            .spawn()
            .unwrap_err();
        assert_eq!(err.spawn_step(), Some(SpawnStep::Terminal), "{err}");
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
        #[cfg(target_os = "linux")]
        assert_eq!(support::zombies(), []);
        let err = Command::new("true")
            .pty(&slave)
            .process_group(1)
            .spawn()
            .unwrap_err();
        assert!(
            matches!(err, procctl::Error::InvalidArgument { .. }),
            "{err}"
        );
        (&master).write_all(b"\n").unwrap();
        assert!(support::wait10(&owner).success());
    }

    /// In a forked child that leads a session on a pty: a job started in
    /// its own group with `foreground` becomes the terminal's foreground
    /// group (without it, the session leader's group stays foreground).
    /// Without SIGTTOU blocked the job would stop in tcsetpgrp and the
    /// spawn would never return (the alarm ends the forked child).
    pub fn foreground_makes_the_childs_group_the_terminals() {
        for with_foreground in [true, false] {
            let child = procctl::proc::fork(move || {
                support::arm_alarm();
                let code = std::panic::catch_unwind(|| foreground_in_session(with_foreground));
                i32::from(code.is_err())
            })
            .unwrap();
            let status = support::wait10(&child);
            assert!(
                status.success(),
                "with_foreground={with_foreground}: {status}"
            );
        }
    }

    fn foreground_in_session(with_foreground: bool) {
        let (master, slave) = pty::open().unwrap();
        let me = procctl::proc::setsid().unwrap();
        // SAFETY: TIOCSCTTY on our slave: we lead a session with no
        // terminal, so it becomes ours.
        let ret = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY as _, 0) };
        assert_eq!(ret, 0, "{}", std::io::Error::last_os_error());
        let before = foreground_group(&master, &slave);
        assert_eq!(before, me.as_raw());
        let mut cmd = Command::new("sleep");
        cmd.arg("10").process_group(0);
        if with_foreground {
            cmd.foreground(&slave);
        }
        let job = cmd.spawn().unwrap();
        let after = foreground_group(&master, &slave);
        let _ = job.kill();
        let _ = job.wait();
        if with_foreground {
            assert_eq!(after, job.pid().as_raw());
        } else {
            assert_eq!(after, me.as_raw());
        }
        // Closing the master hangs the terminal up, which sends SIGHUP to
        // us, its session's leader: keep it open until we exit.
        std::mem::forget(master);
    }

    /// tcgetpgrp, on the master where the kernel answers there (Linux),
    /// else on the slave.
    fn foreground_group(master: &PtyMaster, slave: &pty::PtySlave) -> i32 {
        if cfg!(target_os = "linux") {
            master.foreground_group().unwrap().unwrap().as_raw()
        } else {
            // SAFETY: tcgetpgrp only looks at the descriptor.
            unsafe { libc::tcgetpgrp(slave.as_raw_fd()) }
        }
    }

    pub fn tests() -> Vec<support::Test> {
        #[cfg_attr(not(target_os = "linux"), allow(unused_mut))]
        let mut tests: Vec<support::Test> = vec![
            ("a_pty_child_sees_a_terminal", a_pty_child_sees_a_terminal),
            (
                "the_child_leads_a_session_on_the_pty",
                the_child_leads_a_session_on_the_pty,
            ),
            (
                "resize_sends_sigwinch_and_the_child_sees_the_size",
                resize_sends_sigwinch_and_the_child_sees_the_size,
            ),
            ("size_after_resize", size_after_resize),
            (
                "all_output_is_read_to_the_end",
                all_output_is_read_to_the_end,
            ),
            (
                "output_waits_in_the_pty_after_the_child_exits",
                output_waits_in_the_pty_after_the_child_exits,
            ),
            (
                "the_end_waits_for_every_slave_descriptor",
                the_end_waits_for_every_slave_descriptor,
            ),
            ("input_and_explicit_stdio", input_and_explicit_stdio),
            (
                "controlling_terminal_on_a_non_terminal",
                controlling_terminal_on_a_non_terminal,
            ),
            (
                "a_terminal_of_another_session_is_refused_in_the_child",
                a_terminal_of_another_session_is_refused_in_the_child,
            ),
            (
                "foreground_makes_the_childs_group_the_terminals",
                foreground_makes_the_childs_group_the_terminals,
            ),
        ];
        #[cfg(target_os = "linux")]
        tests.push(("a_pty_child_gets_only_stdio", a_pty_child_gets_only_stdio));
        tests
    }
}

/// The pty spawn on the `clone` fallback: a forked child installs a
/// seccomp filter that makes `clone3` fail (ENOSYS: an old kernel;
/// EPERM: a container profile) and runs the pty checks there.
#[cfg(target_os = "linux")]
mod fallback {
    use super::support;

    // The seccomp helper, as in tests/spawn_fallbacks.rs.
    /// Makes `nr` fail with `errno`; every other call is allowed.
    fn install(nr: libc::c_long, errno: i32) -> Result<(), std::io::Error> {
        crate::seccomp::deny(&[(nr, errno)])
    }

    fn under_filter(errno: i32) {
        let child = procctl::proc::fork(move || {
            support::arm_alarm();
            if let Err(e) = install(libc::SYS_clone3, errno) {
                eprintln!("seccomp filter refused ({e}): this test checks nothing here");
                return 77;
            }
            // SAFETY: clone3 with no arguments, answered by the filter.
            let ret = unsafe { libc::syscall(libc::SYS_clone3, 0, 0) };
            if ret != -1 || std::io::Error::last_os_error().raw_os_error() != Some(errno) {
                eprintln!("clone3 was not filtered");
                return 2;
            }
            let checks = || {
                super::unix::a_pty_child_sees_a_terminal();
                super::unix::a_pty_child_gets_only_stdio();
                super::unix::the_child_leads_a_session_on_the_pty();
                super::unix::resize_sends_sigwinch_and_the_child_sees_the_size();
                super::unix::output_waits_in_the_pty_after_the_child_exits();
                super::unix::controlling_terminal_on_a_non_terminal();
                super::unix::a_terminal_of_another_session_is_refused_in_the_child();
                super::unix::foreground_makes_the_childs_group_the_terminals();
            };
            match std::panic::catch_unwind(checks) {
                Ok(()) => 0,
                Err(_) => 1,
            }
        })
        .expect("fork");
        let status = support::wait10(&child);
        match status.code() {
            Some(0) => {}
            Some(77) => println!("    (skipped: no seccomp filter allowed here)"),
            _ => panic!("pty checks without clone3 failed: {status:?}"),
        }
    }

    pub fn without_clone3() {
        under_filter(libc::ENOSYS);
    }

    pub fn clone3_refused_by_a_container_profile() {
        under_filter(libc::EPERM);
    }
}

fn main() {
    #[cfg(unix)]
    {
        #[cfg_attr(not(target_os = "linux"), allow(unused_mut))]
        let mut tests = unix::tests();
        #[cfg(target_os = "linux")]
        {
            tests.push(("without_clone3", fallback::without_clone3));
            tests.push((
                "clone3_refused_by_a_container_profile",
                fallback::clone3_refused_by_a_container_profile,
            ));
        }
        support::run(&tests);
    }
    #[cfg(not(unix))]
    support::run(&[]);
}
