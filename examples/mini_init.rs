//! A small init, like tini: runs a command as its child, forwards SIGTERM,
//! SIGINT and friends to it, reaps orphaned grandchildren (it is a child
//! subreaper on Linux), and exits with the child's code, or 128+n if a
//! signal n killed it.
//!
//! Run: `cargo run --example mini_init -- sh -c 'sleep 0.2 & echo main done'`
//! (with no command it runs a small demo tree).

#[cfg(unix)]
fn main() {
    use procctl::ExitStatus;
    use procctl::proc::Command;
    use procctl::reap::Init;

    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        // Demo: a subshell starts a sleep and exits at once, so the sleep is
        // orphaned; we adopt it (subreaper) and reap it when it ends.
        args = [
            "sh",
            "-c",
            "(sleep 0.1 &); sleep 0.3; echo '[child] done, exiting 0'",
        ]
        .map(String::from)
        .to_vec();
    }
    eprintln!("[mini_init {}] running {:?}", procctl::Pid::current(), args);

    let status = Init::new()
        .on_reap(|pid, status| eprintln!("[mini_init] reaped orphan {pid}: {status}"))
        .run(|| Command::new(&args[0]).args(&args[1..]).spawn());
    let code = match status {
        Ok(ExitStatus::Exited(code)) => code,
        Ok(ExitStatus::Signaled { signal, .. }) => 128 + signal.as_raw(),
        Err(e @ (procctl::Error::NotFound { .. } | procctl::Error::PermissionDenied { .. })) => {
            eprintln!("[mini_init] {e}");
            127
        }
        Err(e) => {
            eprintln!("[mini_init] error: {e}");
            1
        }
    };
    eprintln!("[mini_init] main child ended; exiting with {code}");
    std::process::exit(code);
}

#[cfg(not(unix))]
fn main() {
    println!("mini_init needs Unix (fork, signals, subreaper)");
}
