//! The scenarios of `tests/async_common/scenarios.rs` on tokio, and
//! procctl beside `tokio::process`.

use crate::support::{self, Test};

mod rt {
    use std::future::Future;
    use std::time::Duration;

    #[cfg(target_os = "linux")]
    pub use procctl::tokio::ScopeExt;
    pub use procctl::tokio::{
        ChildExt, CommandExt, PipelineChildExt, PipelineExt, ctrl_c, signals,
    };

    pub async fn timeout<T>(d: Duration, f: impl Future<Output = T>) -> Option<T> {
        tokio::time::timeout(d, f).await.ok()
    }

    pub async fn sleep(d: Duration) {
        tokio::time::sleep(d).await
    }

    /// A task on the runtime; its output (a panic in it fails the test).
    pub fn spawn<F>(f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = tokio::spawn(f);
        async move { task.await.expect("task panicked") }
    }
}

include!("../async_common/scenarios.rs");

fn current_thread(f: impl Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn multi_thread(f: impl Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A `tokio::process` child and a procctl child run together: each side
/// gets its own status, nothing is stolen either way.
async fn beside_tokio_process() {
    for round in 0..20 {
        let mut theirs = tokio::process::Command::new("sh")
            .args(["-c", "exit 7"])
            .spawn()
            .unwrap();
        let ours = Command::new("sh").args(["-c", "exit 9"]).spawn().unwrap();
        let ours_dropped = Command::new("sh").args(["-c", "exit 11"]).spawn().unwrap();
        drop(ours_dropped); // left to procctl's orphan list (or its reaper)
        let ours_killed = Command::new("sleep").arg("30").spawn().unwrap();
        ours_killed.set_drop_policy(DropPolicy::Kill);
        drop(ours_killed); // killed now, reaped later by procctl (tokio #2685)
        let (t, o) = within(DEADLINE, "both", async {
            tokio::join!(theirs.wait(), ours.wait_async())
        })
        .await;
        assert_eq!(t.unwrap().code(), Some(7), "round {round}: tokio's status");
        assert_eq!(
            o.unwrap().code(),
            Some(9),
            "round {round}: procctl's status"
        );
        // And tokio's orphan reaper or try_wait never took ours.
        assert_eq!(ours.wait().unwrap().code(), Some(9));
    }
    // The dropped ones are reaped by procctl (its reaper, or the orphan
    // list its next spawn drains): none is left as a zombie.
    let t = std::time::Instant::now();
    // (A killed child may still be on its way out: not a zombie yet, but
    // still in the orphan list.)
    while procctl::reap::pending_orphans() > 0
        || !procctl::reap::zombie_children().unwrap().is_empty()
    {
        Command::new("true").status_async().await.unwrap();
        assert!(t.elapsed() < Duration::from_secs(10), "zombies left");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The same in a fresh process that started `reap::start_reaper(Owned)`.
fn beside_tokio_process_owned_reaper() {
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe).arg("__owned_reaper").spawn().unwrap();
    let status = support::wait10(&child);
    assert!(
        status.success(),
        "the scenario in its own process: {status}"
    );
}

fn owned_reaper_child() {
    procctl::reap::start_reaper(procctl::reap::ReapMode::Owned).unwrap();
    multi_thread(beside_tokio_process());
    current_thread(beside_tokio_process());
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        &[
            $(
                (concat!("current_thread::", stringify!($name)), || current_thread($name())),
                (concat!("multi_thread::", stringify!($name)), || multi_thread($name())),
            )*
        ]
    };
}

pub fn main() {
    if std::env::args().nth(1).as_deref() == Some("__owned_reaper") {
        // Nothing outlives a broken run.
        support::arm_alarm();
        owned_reaper_child();
        std::process::exit(0);
    }
    // A library must not rely on it; the SIGPIPE test sets it to default.
    procctl::signal::ignore(Signal::PIPE).unwrap();
    let both: &[Test] = on_both!(
        thousand_children,
        cancel_then_wait,
        exit_between_waits,
        sync_wait_after_async,
        timer_kills_on_expiry,
        two_waiters_one_child,
        signal_while_waiting,
        communicate_64mib,
        communicate_timeout_partial,
        child_never_reads_stdin,
        output_and_status,
        dropped_status_and_output_futures_kill_their_children,
        adopted_std_child,
        signals_stream,
        ctrl_c_future,
        beside_tokio_process,
        pipeline_statuses_in_order,
        two_waiters_one_pipeline,
        pipeline_cancel_then_wait,
        pipeline_communicate_1mib,
        wait_delay_cuts_held_stdout,
        wait_delay_without_holder,
        pipeline_wait_delay_cuts_held_stdout,
    );
    let mut tests: Vec<Test> = both.to_vec();
    #[cfg(target_os = "linux")]
    tests.extend_from_slice(on_both!(
        scope_wait_async_after_kill,
        scope_wait_async_empty,
        scope_wait_async_races_an_exit
    ));
    tests.push((
        "beside_tokio_process_owned_reaper",
        beside_tokio_process_owned_reaper,
    ));
    support::run(&tests);
}
