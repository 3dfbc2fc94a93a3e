//! A tiny test runner for `harness = false` binaries whose tests change
//! process-wide state (signal dispositions, masks, threads): each test runs
//! in its own forked child, which arms `alarm(10)`, while the parent stays
//! single-threaded and waits with a deadline, killing a child that hangs.
//!
//! Arguments that do not start with `-` filter tests by substring, as
//! libtest does; `--list` lists them. The closing line has libtest's shape.

use std::time::{Duration, Instant};

use procctl::{ExitStatus, proc, signal};

/// One test: its name and body (a panic fails it).
pub type Test = (&'static str, fn());

/// How long the parent waits for one test before killing it.
const DEADLINE: Duration = Duration::from_secs(20);

pub fn run(tests: &[Test]) -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in tests {
            println!("{name}: test");
        }
        std::process::exit(0);
    }
    let filters: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let selected: Vec<&Test> = tests
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f)))
        .collect();
    let started = Instant::now();
    println!("\nrunning {} tests", selected.len());
    let mut failed = Vec::new();
    for (name, body) in &selected {
        let outcome = run_one(*body);
        match &outcome {
            Ok(()) => println!("test {name} ... ok"),
            Err(why) => {
                println!("test {name} ... FAILED ({why})");
                failed.push(*name);
            }
        }
    }
    if !failed.is_empty() {
        println!("\nfailures:");
        for name in &failed {
            println!("    {name}");
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out; finished in {:.2}s\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        selected.len() - failed.len(),
        failed.len(),
        tests.len() - selected.len(),
        started.elapsed().as_secs_f64()
    );
    std::process::exit(if failed.is_empty() { 0 } else { 101 })
}

fn run_one(body: fn()) -> Result<(), String> {
    let child = proc::fork(|| {
        signal::alarm(10);
        body();
        0
    })
    .map_err(|e| format!("fork: {e}"))?;
    match child.wait_timeout(DEADLINE) {
        Ok(Some(ExitStatus::Exited(0))) => Ok(()),
        Ok(Some(status)) => Err(status.to_string()),
        Ok(None) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("still running after {DEADLINE:?}: killed"))
        }
        Err(e) => Err(format!("wait: {e}")),
    }
}
