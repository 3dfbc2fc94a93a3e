//! Killing a whole process tree: a process group is not enough, a cgroup
//! is.
//!
//! The child starts a daemon the classic way (a background `setsid`, which
//! leaves the child's process group and session) and a sleep of its own.
//! `Child::signal_group` ends the child and its group, but the daemon is
//! in neither and lives on: it is still listed by `Scope::pids`. Then
//! `Scope::kill` (`cgroup.kill`) gets it, and `Scope::wait` returns once
//! the cgroup is empty.
//!
//! Run with `cargo run --example tree_kill` (Linux with a writable cgroup
//! v2: root, or a delegated subtree; elsewhere it says why and exits 0).

#[cfg(target_os = "linux")]
fn main() -> procctl::Result<()> {
    use std::time::{Duration, Instant};

    use procctl::Signal;
    use procctl::proc::{Command, Scope, getpgid, getsid};

    let scope = match Scope::new() {
        Ok(scope) => scope,
        Err(e) => {
            println!("tree_kill: no writable cgroup v2 here ({e}); nothing to show");
            return Ok(());
        }
    };
    println!("scope: {}", scope.path().display());

    let show = |what: &str| -> procctl::Result<Vec<procctl::Pid>> {
        let pids = scope.pids()?;
        println!("{what}: {} process(es) in the scope", pids.len());
        for &pid in &pids {
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let pgid = getpgid(Some(pid)).ok().flatten();
            let sid = getsid(Some(pid)).ok().flatten();
            println!(
                "  pid {pid:>7}  pgid {:>7}  sid {:>7}  {}",
                pgid.map_or("?".into(), |p| p.to_string()),
                sid.map_or("?".into(), |p| p.to_string()),
                name.trim()
            );
        }
        Ok(pids)
    };
    // Polls the scope until `cond` holds (at most 5 s): this is only to
    // print a settled picture; Scope::wait below needs no polling.
    let settle = |cond: &dyn Fn(&[procctl::Pid]) -> bool| -> procctl::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !cond(&scope.pids()?) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    };

    let child = Command::new("sh")
        .args(["-c", "setsid sh -c 'sleep 600; true' & sleep 600"])
        .process_group(0)
        .scope(&scope)
        .spawn()?;
    println!("child: pid {} leads its own process group", child.pid());
    // The daemon is the process that leads its own session.
    let is_daemon = |p: &procctl::Pid| getsid(Some(*p)).ok().flatten() == Some(*p);
    settle(&|pids| pids.len() >= 4 && pids.iter().any(is_daemon))?;
    show("started")?;

    child.signal_group(Signal::TERM)?;
    let status = child.wait()?;
    println!("signal_group(SIGTERM): the child ended with {status}");
    let group = child.pid();
    settle(&|pids| {
        pids.iter()
            .all(|&p| getpgid(Some(p)).ok().flatten() != Some(group))
    })?;
    let left = show("after signal_group")?;
    println!(
        "  the daemon left the group with setsid, so the signal missed it and its sleep ({} left)",
        left.len()
    );

    scope.kill()?;
    let emptied = scope.wait_timeout(Duration::from_secs(5))?;
    println!("Scope::kill, then Scope::wait: empty = {emptied}");
    show("after Scope::kill")?;
    let path = scope.path().to_owned();
    drop(scope);
    println!("dropped: {} removed = {}", path.display(), !path.exists());
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("tree_kill: Scope needs Linux cgroup v2; nothing to show on this platform");
}
