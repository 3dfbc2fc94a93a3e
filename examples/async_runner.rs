//! Run 200 commands on tokio, at most 16 at once, each with a timeout;
//! collect their outputs and statuses; on Ctrl+C, kill what runs and
//! cancel the rest.
//!
//! ```text
//! cargo run --example async_runner --features tokio
//! cargo run --example async_runner --features tokio -- --interrupt-after-ms 300
//! ```
//!
//! The second form raises `SIGINT` itself after 300 ms, to show the
//! cancellation without a terminal. Every job is `sh -c ...`: most echo
//! after 50 ms and exit with a code of their own, every 40th sleeps past
//! its timeout and is killed.

#[cfg(unix)]
mod imp {
    use std::sync::Arc;
    use std::time::Duration;

    use procctl::proc::{Command, DropPolicy, Output, Stdio};
    use procctl::tokio::{ChildExt, signals};
    use procctl::{ExitStatus, Signal};
    use tokio::sync::Semaphore;
    use tokio::task::JoinSet;

    const JOBS: usize = 200;
    const AT_ONCE: usize = 16;
    const TIMEOUT: Duration = Duration::from_millis(500);

    /// How one job ended.
    enum Outcome {
        Done(Output),
        TimedOut(ExitStatus),
    }

    async fn run_job(i: usize) -> procctl::Result<Outcome> {
        let script = if i % 40 == 39 {
            "sleep 10".to_string()
        } else {
            format!("sleep 0.05; echo job {i}; exit {}", i % 3)
        };
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        // A cancelled task drops its Child: kill it then (procctl reaps it).
        child.set_drop_policy(DropPolicy::Kill);
        match tokio::time::timeout(TIMEOUT, child.communicate_async(b"")).await {
            Ok(out) => Ok(Outcome::Done(out?)),
            Err(_elapsed) => {
                child.kill()?;
                Ok(Outcome::TimedOut(child.wait_async().await?))
            }
        }
    }

    pub fn main() -> procctl::Result<()> {
        let interrupt_after = std::env::args()
            .skip_while(|a| a != "--interrupt-after-ms")
            .nth(1)
            .and_then(|ms| ms.parse().ok())
            .map(Duration::from_millis);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async move {
            // Catch Ctrl+C from the start (before any job runs).
            let mut sigint = signals([Signal::INT])?;
            if let Some(after) = interrupt_after {
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    procctl::signal::raise(Signal::INT).expect("raise SIGINT");
                });
            }
            let permits = Arc::new(Semaphore::new(AT_ONCE));
            let mut jobs = JoinSet::new();
            for i in 0..JOBS {
                let permits = Arc::clone(&permits);
                jobs.spawn(async move {
                    let _permit = permits.acquire_owned().await.expect("never closed");
                    (i, run_job(i).await)
                });
            }
            let (mut ok, mut failed, mut timed_out, mut errors) = (0, 0, 0, 0);
            let mut first_outputs = Vec::new();
            let mut interrupted = false;
            while !jobs.is_empty() {
                tokio::select! {
                    done = jobs.join_next() => match done {
                        Some(Ok((i, Ok(Outcome::Done(out))))) => {
                            if out.status.success() { ok += 1 } else { failed += 1 }
                            if i < 3 {
                                first_outputs.push((i, out.status, String::from_utf8_lossy(&out.stdout).into_owned()));
                            }
                        }
                        Some(Ok((_, Ok(Outcome::TimedOut(status))))) => {
                            assert_eq!(status.signal(), Some(Signal::KILL));
                            timed_out += 1;
                        }
                        Some(Ok((i, Err(e)))) => {
                            eprintln!("job {i}: {e}");
                            errors += 1;
                        }
                        Some(Err(e)) => panic!("a job panicked: {e}"),
                        None => break,
                    },
                    _ = sigint.recv() => {
                        eprintln!("Ctrl+C: cancelling {} jobs", jobs.len());
                        interrupted = true;
                        // Dropping each task drops its Child, which kills it
                        // (DropPolicy::Kill); procctl reaps it.
                        jobs.shutdown().await;
                    }
                }
            }
            first_outputs.sort_by_key(|o| o.0);
            for (i, status, out) in first_outputs {
                println!("job {i}: {status}: {}", out.trim_end());
            }
            println!(
                "{ok} succeeded, {failed} failed, {timed_out} timed out, {errors} errors{}",
                if interrupted { ", the rest cancelled" } else { "" }
            );
            Ok::<(), procctl::Error>(())
        })?;
        // The cancelled children were killed; give them a moment and check
        // that procctl reaped them all.
        drop(rt);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while procctl::reap::pending_orphans() > 0 && std::time::Instant::now() < deadline {
            procctl::reap::reap_zombies()?;
            std::thread::sleep(Duration::from_millis(10));
        }
        #[cfg(target_os = "linux")]
        assert!(procctl::reap::zombie_children()?.is_empty(), "zombies left");
        Ok(())
    }
}

fn main() -> procctl::Result<()> {
    #[cfg(unix)]
    return imp::main();
    #[cfg(not(unix))]
    {
        eprintln!("procctl::tokio is Unix only");
        Ok(())
    }
}
