//! A seccomp filter that makes chosen system calls fail with a chosen
//! errno, as an old kernel (ENOSYS) or a container profile (EPERM) would:
//! how the test binaries reach procctl's fallback and error paths on any
//! recent kernel. Shared by the test binaries that declare `mod seccomp;`.

#![allow(dead_code)]

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump_eq(k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    }
}

/// Installs, on the calling thread (no TSYNC: other threads keep their
/// filters), a filter that makes each `(nr, errno)` of `calls` fail with
/// its errno and allows every other call, including every call of another
/// architecture (x32, ia32). `Err` if this kernel or sandbox allows no
/// filter. Call it in a forked child: a filter cannot be removed.
pub fn deny(calls: &[(libc::c_long, i32)]) -> std::io::Result<()> {
    let rules: Vec<Rule> = calls
        .iter()
        .map(|&(nr, errno)| Rule::new(nr, errno))
        .collect();
    deny_rules(&rules)
}

/// One call to fail: `nr` with `errno`, always or only where an argument
/// has one of some bits set (a flag: `clone` with `CLONE_PIDFD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub nr: libc::c_long,
    pub errno: i32,
    /// `(argument index, bits)`: fail only where the argument's low 32
    /// bits share one of `bits`.
    pub when: Option<(u32, u32)>,
}

impl Rule {
    /// `nr` fails with `errno`, whatever its arguments.
    pub const fn new(nr: libc::c_long, errno: i32) -> Rule {
        Rule {
            nr,
            errno,
            when: None,
        }
    }

    /// `nr` fails with `errno` where argument `arg` has one of `bits` set.
    pub const fn with_bits(nr: libc::c_long, arg: u32, bits: u32, errno: i32) -> Rule {
        Rule {
            nr,
            errno,
            when: Some((arg, bits)),
        }
    }
}

/// [`deny`] with rules that may look at an argument's bits.
pub fn deny_rules(rules: &[Rule]) -> std::io::Result<()> {
    let ret = libc::BPF_RET | libc::BPF_K;
    let ld = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let mut prog = prologue();
    for r in rules {
        let fail = stmt(
            ret,
            libc::SECCOMP_RET_ERRNO | (r.errno as u32 & libc::SECCOMP_RET_DATA),
        );
        match r.when {
            None => {
                prog.push(jump_eq(r.nr as u32, 0, 1));
                prog.push(fail);
            }
            Some((arg, bits)) => {
                // nr?  no: past the four below, the call number still
                // loaded. Yes: load the argument's low half (struct
                // seccomp_data: args[] from offset 16, little-endian),
                // fail if a bit is set, else load the number again.
                prog.push(jump_eq(r.nr as u32, 0, 4));
                prog.push(stmt(ld, 16 + 8 * arg));
                prog.push(libc::sock_filter {
                    code: (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16,
                    jt: 0,
                    jf: 1,
                    k: bits,
                });
                prog.push(fail);
                prog.push(stmt(ld, 0));
            }
        }
    }
    prog.push(stmt(ret, libc::SECCOMP_RET_ALLOW));
    install(&mut prog, 0).map(drop)
}

/// Installs, on the calling thread only (no TSYNC), a filter that hands
/// each call of `calls` to a supervisor (`SECCOMP_RET_USER_NOTIF`, Linux
/// 5.0; the supervisor needs `SECCOMP_USER_NOTIF_FLAG_CONTINUE`, 5.5, to
/// let a call through) and allows every other call. Returns the listener
/// (close-on-exec): until a supervisor answers on it, each such call of
/// this thread, of the threads it creates and of the processes it forks
/// (filters are inherited, and kept across `execve`) waits; once every
/// copy of it is closed they fail with `ENOSYS`.
pub fn notify(calls: &[libc::c_long]) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let ret = libc::BPF_RET | libc::BPF_K;
    let mut prog = prologue();
    for &nr in calls {
        prog.push(jump_eq(nr as u32, 0, 1));
        prog.push(stmt(ret, libc::SECCOMP_RET_USER_NOTIF));
    }
    prog.push(stmt(ret, libc::SECCOMP_RET_ALLOW));
    let fd = install(&mut prog, libc::SECCOMP_FILTER_FLAG_NEW_LISTENER)?;
    // SAFETY: with NEW_LISTENER the kernel returns a new descriptor.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Loads the architecture (anything but ours is allowed) and the call
/// number (`struct seccomp_data`: `int nr; __u32 arch; ...`).
fn prologue() -> Vec<libc::sock_filter> {
    let ld = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret = libc::BPF_RET | libc::BPF_K;
    vec![
        stmt(ld, 4),
        jump_eq(AUDIT_ARCH, 1, 0),
        stmt(ret, libc::SECCOMP_RET_ALLOW),
        stmt(ld, 0),
    ]
}

/// `PR_SET_NO_NEW_PRIVS`, then `seccomp(SECCOMP_SET_MODE_FILTER, flags,
/// prog)` for the calling thread: the call's return value.
fn install(prog: &mut [libc::sock_filter], flags: libc::c_ulong) -> std::io::Result<i32> {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: prctl and seccomp with a valid filter program that lives
    // across the call; without TSYNC it binds the calling thread only.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let ret = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const libc::sock_fprog,
        );
        if ret < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(ret as i32)
    }
}
