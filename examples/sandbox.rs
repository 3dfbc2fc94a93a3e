//! Runs a shell in a small sandbox: a 64 MiB address-space limit, a
//! CPU-second limit, a umask, new UTS and mount namespaces with a
//! hostname of its own, and a parent-death signal; prints what it sees.
//!
//! `cargo run --example sandbox`. The namespaces need root or user
//! namespaces; where the machine refuses them the example says why and
//! runs the rest without them.

#[cfg(target_os = "linux")]
fn main() -> Result<(), procctl::Error> {
    use procctl::Signal;
    use procctl::proc::{Command, Namespaces, Resource};

    const SCRIPT: &str = "hostname sandbox 2>/dev/null; echo \"hostname: $(hostname)\"; \
                          echo \"ulimit -v: $(ulimit -v) KiB\"; echo \"ulimit -t: $(ulimit -t) s\"; \
                          echo \"umask: $(umask)\"";
    let sandbox = |ns: bool| {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", SCRIPT])
            .rlimit(Resource::As, 64 << 20, 64 << 20)
            .rlimit(Resource::Cpu, 2, 2)
            .umask(0o077)
            .parent_death_signal(Signal::KILL);
        if ns {
            // SAFETY: geteuid and getegid have no preconditions.
            let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
            cmd.unshare(Namespaces::UTS | Namespaces::MOUNT);
            if uid != 0 {
                // Unprivileged: a user namespace in which we are root.
                cmd.unshare(Namespaces::USER | Namespaces::UTS | Namespaces::MOUNT)
                    .uid_map(&[(0, uid, 1)])
                    .gid_map(&[(0, gid, 1)]);
            }
        }
        cmd.output()
    };
    let out = match sandbox(true) {
        Ok(out) => out,
        Err(e) => {
            println!("new namespaces refused here ({e}); running without them");
            sandbox(false)?
        }
    };
    print!("{}", String::from_utf8_lossy(&out.stdout));
    println!("our hostname is unchanged: {}", hostname());
    println!("child: {}", out.status);
    Ok(())
}

#[cfg(target_os = "linux")]
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!(
        "sandbox: namespaces and the parent-death signal are Linux features; nothing to show here"
    );
}
