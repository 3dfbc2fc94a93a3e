//! `RLIMIT_NPROC` for real: the kernel itself refuses the next process
//! (or thread) with `EAGAIN`, no filter involved.
//!
//! Root is exempt from `RLIMIT_NPROC`, so each case runs in a forked
//! child that first becomes an unprivileged user of its own: no
//! supplementary groups, a uid and gid that no process on the machine
//! has (checked in `/proc`), dumpable again so that it may still read its
//! own `/proc/self/fd`. Right before the call the soft limit is set to
//! the number of tasks that uid has (counted in `/proc`, threads and
//! zombies included, as the kernel counts them), plus the processes the
//! call may start before the one that must fail (one, for the second
//! member of a pipeline): the next `clone`, `clone3` or `fork` fails with
//! `EAGAIN` from the kernel. Then: the named error with `EAGAIN` kept, no
//! descriptor leaked, no zombie, no child left, and with the limit
//! raised again the same call works.
//!
//! Where the machine refuses the change of user (no `CAP_SETUID`), the
//! table is skipped and says why.

use std::io::{Read, Write};

use procctl::Error;

use crate::linux::{self, Left, Path};
use crate::support;

/// The first uid tried; the next ones up to [`UID_TRIES`] if taken.
const UID_BASE: u32 = 0x3a6b_0000;
const UID_TRIES: u32 = 64;

/// How many tasks (threads, zombies included) have `uid` as their real
/// user id: the kernel's `RLIMIT_NPROC` count.
fn tasks_of(uid: u32) -> usize {
    let mut n = 0;
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0;
    };
    for p in procs.flatten() {
        if p.file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
            .is_none()
        {
            continue;
        }
        let Ok(tasks) = std::fs::read_dir(p.path().join("task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let Ok(status) = std::fs::read_to_string(t.path().join("status")) else {
                continue;
            };
            let real = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|u| u.parse::<u32>().ok());
            if real == Some(uid) {
                n += 1;
            }
        }
    }
    n
}

fn set_nproc(soft: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct; lowering the soft
    // limit, or raising it up to the hard one, needs no privilege.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NPROC, &mut lim);
        lim.rlim_cur = soft.min(lim.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NPROC, &lim), 0);
    }
}

/// Becomes `uid`/`gid` with no supplementary groups, and dumpable.
/// `Err` with the reason where the machine refuses.
fn become_user(uid: u32) -> Result<(), String> {
    // SAFETY: plain credential calls on this (single-threaded) process.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(format!("setgroups: {}", std::io::Error::last_os_error()));
        }
        if libc::setgid(uid) != 0 {
            return Err(format!("setgid: {}", std::io::Error::last_os_error()));
        }
        if libc::setuid(uid) != 0 {
            return Err(format!("setuid: {}", std::io::Error::last_os_error()));
        }
        // A change of user makes the process non-dumpable: its /proc/self
        // would be root's, and the descriptor check could not read it.
        libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0);
    }
    Ok(())
}

/// How a case ends, written by the case child to its parent.
enum Verdict {
    Held(String),
    Failed(String),
    Skipped(String),
}

/// One case in a forked child: become a fresh user, limit the tasks to
/// what exists + `extra`, run `path`, check.
fn case(path: Path, extra: usize, no_clone3: bool, want: fn(&Error) -> bool) -> Verdict {
    let (mut reader, writer) = procctl::pipe::pipe().unwrap();
    let child = procctl::proc::fork(move || {
        support::arm_alarm();
        let mut writer = writer;
        let mut say = |tag: &str, text: &str| {
            let _ = writeln!(writer, "{tag}\t{text}");
        };
        let Some(uid) = (UID_BASE..UID_BASE + UID_TRIES).find(|&u| tasks_of(u) == 0) else {
            say("fail", "no free uid in the range");
            return 1;
        };
        if let Err(why) = become_user(uid) {
            say("skip", &why);
            return 0;
        }
        if no_clone3 {
            // The clone fallback: clone3 as an old kernel answers it.
            if let Err(e) = crate::seccomp::deny(&[(libc::SYS_clone3, libc::ENOSYS)]) {
                say("skip", &format!("seccomp refused: {e}"));
                return 0;
            }
        }
        let before = linux::fds();
        let mut left = Left::new();
        let arm = || set_nproc((tasks_of(uid) + extra) as u64);
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| path(&arm, &mut left)));
        set_nproc(libc::RLIM_INFINITY);
        linux::drop_left(left);
        let got = match got {
            Ok(got) => got,
            Err(_) => {
                say("fail", "panicked");
                return 1;
            }
        };
        let row = linux::short(&got);
        let mut verdict = match &got {
            Ok(()) => Err("succeeded under the limit".to_owned()),
            Err(e) if want(e) && e.raw_os_error() == Some(libc::EAGAIN) => Ok(()),
            Err(e) => Err(format!("{e:?}")),
        };
        if verdict.is_ok() {
            verdict = linux::clean(&before, "after EAGAIN");
        }
        if verdict.is_ok() {
            // The limit is raised: the same call works.
            let mut left = Left::new();
            let again =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| path(&|| {}, &mut left)));
            linux::drop_left(left);
            verdict = match again {
                Ok(Ok(())) => linux::clean(&before, "after the next call"),
                Ok(Err(e)) => Err(format!("next call failed: {e:?}")),
                Err(_) => Err("next call panicked".into()),
            };
        }
        match verdict {
            Ok(()) => {
                say("held", &row);
                0
            }
            Err(e) => {
                say("fail", &format!("{row}: {e}"));
                1
            }
        }
    })
    .expect("fork");
    let status = support::wait10(&child);
    let mut text = String::new();
    reader.read_to_string(&mut text).unwrap();
    let (tag, rest) = text.trim_end().split_once('\t').unwrap_or(("fail", &text));
    match (tag, status.success()) {
        ("held", true) => Verdict::Held(rest.to_owned()),
        ("skip", true) => Verdict::Skipped(rest.to_owned()),
        _ => Verdict::Failed(format!("{rest} ({status})")),
    }
}

fn limit(call: &'static str) -> impl Fn(&Error) -> bool {
    move |e| matches!(e, Error::ResourceLimit { call: c, .. } if *c == call)
}

fn want_fork(e: &Error) -> bool {
    limit("fork")(e)
}

fn want_clone(e: &Error) -> bool {
    limit("clone")(e)
}

fn want_thread(e: &Error) -> bool {
    limit("pthread_create")(e)
}

/// The second member could not start; the first was killed and reaped
/// (the case's checks find no child and no zombie).
fn want_member(e: &Error) -> bool {
    match e {
        Error::PipelineMember { index, source, .. } => *index == 1 && want_clone(source),
        _ => false,
    }
}

type Case = (
    &'static str,
    Path,
    usize,
    bool,
    fn(&Error) -> bool,
    &'static str,
);

const CASES: &[Case] = &[
    (
        "fork",
        linux::path_fork_safe,
        0,
        false,
        want_fork,
        "ResourceLimit { call: \"fork\" }",
    ),
    (
        "spawn (clone3)",
        linux::path_spawn,
        0,
        false,
        want_clone,
        "ResourceLimit { call: \"clone\" }",
    ),
    (
        "spawn (clone, clone3 ENOSYS)",
        linux::path_spawn,
        0,
        true,
        want_clone,
        "ResourceLimit { call: \"clone\" }",
    ),
    (
        "output",
        linux::path_output,
        0,
        false,
        want_clone,
        "ResourceLimit { call: \"clone\" }",
    ),
    (
        "system",
        linux::path_system,
        0,
        false,
        want_clone,
        "ResourceLimit { call: \"clone\" }",
    ),
    (
        "popen",
        linux::path_popen,
        0,
        false,
        want_clone,
        "ResourceLimit { call: \"clone\" }",
    ),
    (
        "Pipeline::spawn, 2nd member",
        linux::path_pipeline,
        1,
        false,
        want_member,
        "PipelineMember { index: 1 } <- ResourceLimit { call: \"clone\" }",
    ),
    (
        "signal::register (thread)",
        linux::path_register,
        0,
        false,
        want_thread,
        "ResourceLimit { call: \"pthread_create\" }",
    ),
    (
        "start_reaper (thread)",
        linux::path_reaper,
        0,
        false,
        want_thread,
        "ResourceLimit { call: \"pthread_create\" }",
    ),
];

pub(crate) fn table() {
    println!();
    println!("| path (RLIMIT_NPROC = tasks of a fresh uid) | wanted, errno EAGAIN | result |");
    println!("|---|---|---|");
    let mut failed = Vec::new();
    for &(name, path, extra, no_clone3, want, wanted) in CASES {
        match case(path, extra, no_clone3, want) {
            Verdict::Held(row) => println!("| {name} | {wanted} | {row} |"),
            Verdict::Skipped(why) => {
                // Every case needs the same change of user.
                println!("rlimit_nproc_for_real SKIPPED: the machine refuses: {why}");
                break;
            }
            Verdict::Failed(why) => {
                println!("| {name} | {wanted} | FAILED: {why} |");
                failed.push(format!("{name}: {why}"));
            }
        }
    }
    assert!(failed.is_empty(), "failed cases:\n{}", failed.join("\n"));
}
