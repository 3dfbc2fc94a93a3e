use procctl::proc::Command;
use std::time::Instant;
unsafe extern "C" {
    static environ: *const *const libc::c_char;
}
struct A {
    p: *const libc::c_char,
    argv: [*const libc::c_char; 2],
    env: *const *const libc::c_char,
    mode: u32,
}
extern "C" fn child(a: *mut libc::c_void) -> i32 {
    unsafe {
        let a = &*(a as *const A);
        if a.mode & 4 != 0 {
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0);
        }
        if a.mode & 8 != 0 {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(libc::SIGPIPE, &sa, std::ptr::null_mut());
        }
        if a.mode & 2 != 0 {
            let set: libc::sigset_t = std::mem::zeroed();
            libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &set, 0usize, 8);
        }
        libc::execve(a.p, a.argv.as_ptr(), a.env);
        libc::_exit(127)
    }
}
thread_local!(static S: std::cell::RefCell<Vec<u128>> = std::cell::RefCell::new(vec![0; 4096]));
fn raw(path: &std::ffi::CStr, mode: u32) {
    let mut a = A {
        p: path.as_ptr(),
        argv: [path.as_ptr(), std::ptr::null()],
        env: unsafe { environ },
        mode,
    };
    let mut full: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old = full;
    if mode & 2 != 0 {
        unsafe {
            std::ptr::write_bytes(&mut full, 0xff, 1);
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &full,
                &mut old,
                8,
            );
        }
    }
    let mut pidfd: i32 = -1;
    let flags = libc::CLONE_VM
        | libc::CLONE_VFORK
        | libc::SIGCHLD
        | if mode & 1 != 0 { libc::CLONE_PIDFD } else { 0 };
    let pid = S.with_borrow_mut(|s| unsafe {
        libc::clone(
            child,
            s.as_mut_ptr_range().end.cast(),
            flags,
            (&mut a as *mut A).cast(),
            &mut pidfd as *mut i32,
        )
    });
    if mode & 2 != 0 {
        unsafe {
            libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &old, 0usize, 8);
        }
    }
    if mode & 16 != 0 && pidfd >= 0 {
        let mut p = libc::pollfd {
            fd: pidfd,
            events: libc::POLLIN,
            revents: 0,
        };
        unsafe { libc::poll(&mut p, 1, -1) };
    }
    let mut st = 0;
    unsafe { libc::waitpid(pid, &mut st, 0) };
    if pidfd >= 0 {
        unsafe { libc::close(pidfd) };
    }
}
fn main() {
    let path = c"/tmp/exp/tiny";
    let n = 200;
    let modes = [0u32, 1, 2, 4, 8, 17, 31, 0, 99];
    let mut res = vec![vec![]; modes.len()];
    for _round in 0..15 {
        for (i, &m) in modes.iter().enumerate() {
            let t = Instant::now();
            for _ in 0..n {
                if m == 99 {
                    Command::new("/tmp/exp/tiny").status().unwrap();
                } else {
                    raw(path, m)
                }
            }
            res[i].push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
        }
    }
    for (i, m) in modes.iter().enumerate() {
        let mut v = res[i].clone();
        v.sort_by(|a, b| a.total_cmp(b));
        println!(
            "mode {m:3} median {:.1} µs  min {:.1}  q1 {:.1}",
            v[v.len() / 2],
            v[0],
            v[v.len() / 4]
        );
    }
}
