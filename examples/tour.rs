//! A few-second tour of procctl: the process chapter, section by section.
//!
//! Run: `cargo run --example tour`

#[cfg(unix)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use procctl::proc::{WaitOptions, execvp, fork, wait, waitpid};
    use procctl::{Error, Pid, Signal};
    use std::time::Duration;

    section("1. fork: two processes, separate memory");
    let mut value = 1;
    let child = fork(|| {
        value = 2;
        println!("   child {}: value = {value}", Pid::current());
        0
    })?;
    println!(
        "   parent {}: child {} -> {}",
        Pid::current(),
        child.pid(),
        child.wait()?
    );
    println!("   parent still sees value = {value}");

    section("2. wait: collect children as they end");
    let kids: Vec<_> = (1..=3)
        .map(|code| fork(move || code))
        .collect::<Result<_, _>>()?;
    for _ in &kids {
        let (pid, status) = wait()?;
        println!("   wait() -> {pid}: {status}");
    }
    println!("   and once more -> {}", wait().unwrap_err());

    section("3. waitpid: one child, without blocking");
    let sleeper = fork(|| {
        std::thread::sleep(Duration::from_secs(30));
        0
    })?;
    println!(
        "   NOHANG while it runs -> {:?}",
        waitpid(sleeper.pid(), WaitOptions::NOHANG)?
    );
    sleeper.signal(Signal::TERM)?;
    println!(
        "   after SIGTERM -> {}",
        sleeper
            .wait_timeout(Duration::from_secs(5))?
            .expect("ended")
    );
    println!(
        "   kill() after reaping sends nothing -> {:?}",
        sleeper.kill()
    );

    section("4. exec: replace the child's program");
    let child = fork(|| {
        let err = execvp("sh", &["sh", "-c", "echo '   hello from' $0"]);
        eprintln!("   {err}");
        127
    })?;
    println!("   -> {}", child.wait()?);
    let child = fork(|| {
        let err = execvp("no-such-program", &["no-such-program"]);
        println!("   the child's exec failed: {err}");
        127
    })?;
    println!("   -> {}", child.wait()?);

    section("4b. Command: spawn without forking, capture output, talk over pipes");
    use procctl::proc::{Command, PopenMode, Stdio, popen, popen2, system};
    let out = Command::new("sh")
        .args(["-c", "echo out; echo err >&2; exit 2"])
        .output()?;
    println!(
        "   output(): {} stdout={:?} stderr={:?}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let child = Command::new("tr")
        .args(["a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let out = child.communicate(b"piped through tr")?;
    println!(
        "   communicate(): {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    println!("   system(\"exit 3\") -> {}", system("exit 3")?);
    let mut ls = popen("echo one; echo two", PopenMode::Read)?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut ls, &mut text)?;
    println!("   popen(read) -> {:?}, {}", text, ls.close()?);
    let mut sort = popen2("sort")?;
    let sorted = sort.communicate(b"b\na\nc\n")?;
    println!(
        "   popen2(\"sort\").communicate -> {:?}",
        String::from_utf8_lossy(&sorted)
    );

    section("5. exit statuses, typed");
    let crash = fork(|| panic!("boom (a panicking child exits with 101)"))?;
    let status = crash.wait()?;
    println!("   panic -> {status}; exit_code() = {}", status.exit_code());
    let killed = fork(|| {
        std::thread::sleep(Duration::from_secs(30));
        0
    })?;
    killed.kill()?;
    let (status, usage) = killed.wait_with_rusage()?;
    println!(
        "   SIGKILL -> {status}; exit_code() = {}; max RSS {} KiB",
        status.exit_code(),
        usage.max_rss_bytes() / 1024
    );

    section("6. zombies: dropped children are reaped for you");
    for _ in 0..3 {
        let _ = fork(|| 0)?; // dropped without waiting
    }
    std::thread::sleep(Duration::from_millis(50));
    #[cfg(target_os = "linux")]
    println!(
        "   zombies after dropping 3 handles: {:?}",
        procctl::reap::zombie_children()?
    );
    let reaped = procctl::reap::reap_zombies()?;
    println!("   reap_zombies() -> {} reaped", reaped.len());
    #[cfg(target_os = "linux")]
    println!("   zombies now: {:?}", procctl::reap::zombie_children()?);

    section("7. a tiny init: subreaper, signal forwarding, the main child's status");
    let status = procctl::reap::Init::new()
        .on_reap(|pid, status| println!("   init reaped orphan {pid}: {status}"))
        .run(|| {
            fork(|| {
                procctl::reap::Init::prepare_child();
                let err = execvp("sh", &["sh", "-c", "(sleep 0.05 &); sleep 0.1; exit 3"]);
                eprintln!("{err}");
                127
            })
        })?;
    println!("   main child -> {status}");

    section("8. one task, two platforms: spawn_task");
    let task = procctl::proc::spawn_task(|| 5)?;
    println!(
        "   task {:?} (a process: {}) -> {}",
        task.id(),
        task.is_process(),
        task.wait()?
    );

    section("9. a pipe between parent and child");
    let (r, w) = procctl::pipe::pipe()?;
    // After fork both processes hold both ends: each closes the one it
    // does not use.
    let (mut r, mut w) = (Some(r), Some(w));
    let reader = fork(|| {
        drop(w.take());
        let mut text = String::new();
        std::io::Read::read_to_string(&mut r.take().expect("read end"), &mut text).expect("read");
        println!("   child read {text:?}, then EOF");
        0
    })?;
    drop(r.take());
    let mut w = w.take().expect("write end");
    procctl::pipe::write_all_nosigpipe(&mut w, b"hello through a pipe").expect("write");
    drop(w); // EOF for the child
    println!("   -> {}", reader.wait()?);

    section("10. the safe fork refuses a multi-threaded process");
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || rx.recv());
    match fork(|| 0) {
        Err(e @ Error::MultiThreaded { .. }) => println!("   fork() -> {e}"),
        other => panic!("unexpected {other:?}"),
    }
    drop(tx);
    let _ = t.join();

    section("11. signal handlers: closures, outside signal context");
    let (stx, srx) = std::sync::mpsc::channel();
    let id = procctl::signal::register(Signal::USR1, move |sig| {
        let _ = stx.send(sig);
    })?;
    procctl::signal::raise(Signal::USR1)?;
    let got = srx
        .recv_timeout(Duration::from_secs(5))
        .expect("handler ran");
    println!("   raise(SIGUSR1) -> the handler ran on procctl's dispatcher with {got}");
    procctl::signal::unregister(id);

    section("12. groups: a pipeline with every member's status");
    let out = Command::new("printf")
        .arg("b\\na\\nc\\n")
        .pipe(Command::new("sort"))
        .pipe(Command::new("head").arg("-2"))
        .output()?; // one process group; no byte passes through us
    println!(
        "   printf | sort | head -2 -> {:?}, PIPESTATUS {}",
        String::from_utf8_lossy(&out.stdout),
        out.status
    );
    let st = Command::new("yes")
        .pipe(Command::new("head").arg("-1"))
        .stdout(Stdio::null())
        .status()?;
    println!(
        "   yes | head -1 -> {st}: pipefail {}, ignoring SIGPIPE {}",
        st.pipefail(),
        st.pipefail_ignoring_sigpipe()
    );

    section("13. bounded waits: a background job holding stdout cannot hang output()");
    let out = Command::new("sh")
        .args(["-c", "echo hi; sleep 600 &"])
        .wait_delay(Duration::from_millis(200))
        .output()?;
    println!("   output() -> {:?}", String::from_utf8_lossy(&out.stdout));
    if let Some(held) = out.pipes_held_open() {
        println!("   cut after 200 ms: {held}");
        for h in held.all_holders() {
            let _ = procctl::signal::kill(h.pid(), Signal::KILL);
        }
    }
    let child = Command::new("sh")
        .args(["-c", "echo early; exec sleep 60"])
        .stdout(Stdio::piped())
        .spawn()?;
    let err = child
        .communicate_timeout(b"", Duration::from_millis(300))
        .unwrap_err();
    let early = err
        .partial_output()
        .map(|(o, _)| o.to_vec())
        .unwrap_or_default();
    println!(
        "   communicate_timeout -> {err}; kept {:?}",
        String::from_utf8_lossy(&early)
    );

    #[cfg(target_os = "linux")]
    {
        section("14. trees that cannot escape a kill: Scope (cgroup v2)");
        match procctl::proc::Scope::new() {
            Ok(scope) => {
                let child = Command::new("sh")
                    .args(["-c", "setsid sleep 600 & sleep 600"])
                    .process_group(0)
                    .scope(&scope)
                    .spawn()?;
                // Until the daemon has its own session, signal_group would still reach it.
                let is_daemon =
                    |p: &procctl::Pid| procctl::proc::getsid(Some(*p)).ok().flatten() == Some(*p);
                let deadline = std::time::Instant::now() + Duration::from_secs(5);
                while !scope.pids()?.iter().any(is_daemon) && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                child.signal_group(Signal::TERM)?;
                println!("   signal_group(TERM) -> {}", child.wait()?);
                let left: Vec<String> = scope.pids()?.iter().map(|p| p.to_string()).collect();
                println!(
                    "   still in the scope: {} (the setsid daemon)",
                    left.join(", ")
                );
                scope.kill()?;
                let empty = scope.wait_timeout(Duration::from_secs(5))?;
                println!("   Scope::kill + wait -> empty: {empty}");
            }
            Err(e) => println!("   no writable cgroup v2 here: {e}"),
        }
    }

    section("15. a pseudo-terminal: the child's controlling terminal, as spawn data");
    {
        use std::io::Write;
        let (mut master, slave) = procctl::pty::open()?;
        master.resize(24, 80)?;
        let child = Command::new("sh")
            .args(["-c", "read x; echo \"got $x\"; stty size"])
            .pty(&slave)
            .spawn()?;
        drop(slave); // else the master never reaches the end
        master.write_all(b"hi\n")?;
        let (mut out, mut buf) = (Vec::new(), [0u8; 512]);
        while let Some(n) = master.read_timeout(&mut buf, Duration::from_secs(5))? {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        println!(
            "   {} on a pty -> {:?}",
            child.wait()?,
            String::from_utf8_lossy(&out)
        );
    }

    println!("\ntour done.");
    Ok(())
}

#[cfg(unix)]
fn section(title: &str) {
    println!("\n{title}");
}

#[cfg(not(unix))]
fn main() {
    println!("the tour's fork sections need Unix; see threads_vs_processes");
}
