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
    let ld = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret = libc::BPF_RET | libc::BPF_K;
    // struct seccomp_data: int nr; __u32 arch; ...
    let mut prog = vec![
        stmt(ld, 4),
        jump_eq(AUDIT_ARCH, 1, 0),
        stmt(ret, libc::SECCOMP_RET_ALLOW),
        stmt(ld, 0),
    ];
    for &(nr, errno) in calls {
        prog.push(jump_eq(nr as u32, 0, 1));
        prog.push(stmt(
            ret,
            libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA),
        ));
    }
    prog.push(stmt(ret, libc::SECCOMP_RET_ALLOW));
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
        if libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
