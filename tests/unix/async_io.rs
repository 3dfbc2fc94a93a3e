//! The scenarios of `tests/async_common/scenarios.rs` on async-io, and
//! procctl beside `async-process`.

use crate::support::{self, Test};

mod rt {
    use std::future::Future;
    use std::time::Duration;

    use futures_lite::FutureExt;

    #[cfg(target_os = "linux")]
    pub use procctl::async_io::ScopeExt;
    pub use procctl::async_io::{
        ChildExt, CommandExt, PipelineChildExt, PipelineExt, ctrl_c, signals,
    };

    pub async fn timeout<T>(d: Duration, f: impl Future<Output = T>) -> Option<T> {
        async { Some(f.await) }
            .or(async {
                async_io::Timer::after(d).await;
                None
            })
            .await
    }

    pub async fn sleep(d: Duration) {
        async_io::Timer::after(d).await;
    }

    /// No executor here: the future itself, run concurrently by the
    /// scenario's `join_all`.
    pub fn spawn<F: Future>(f: F) -> F {
        f
    }
}

include!("../async_common/scenarios.rs");

fn block_on(f: impl Future<Output = ()>) {
    async_io::block_on(f)
}

/// An `async-process` child and a procctl child run together: each side
/// gets its own status, nothing is stolen either way.
async fn beside_async_process() {
    for round in 0..20 {
        let mut theirs = async_process::Command::new("sh")
            .args(["-c", "exit 7"])
            .spawn()
            .unwrap();
        let ours = Command::new("sh").args(["-c", "exit 9"]).spawn().unwrap();
        let (t, o) = within(
            DEADLINE,
            "both",
            futures_lite::future::zip(theirs.status(), ours.wait_async()),
        )
        .await;
        assert_eq!(
            t.unwrap().code(),
            Some(7),
            "round {round}: async-process's status"
        );
        assert_eq!(
            o.unwrap().code(),
            Some(9),
            "round {round}: procctl's status"
        );
    }
}

pub fn main() {
    // A library must not rely on it; the SIGPIPE test sets it to default.
    procctl::signal::ignore(Signal::PIPE).unwrap();
    let tests: &[Test] = &[
        ("thousand_children", || block_on(thousand_children())),
        ("cancel_then_wait", || block_on(cancel_then_wait())),
        ("exit_between_waits", || block_on(exit_between_waits())),
        (
            "sync_wait_after_async",
            || block_on(sync_wait_after_async()),
        ),
        (
            "timer_kills_on_expiry",
            || block_on(timer_kills_on_expiry()),
        ),
        (
            "two_waiters_one_child",
            || block_on(two_waiters_one_child()),
        ),
        ("signal_while_waiting", || block_on(signal_while_waiting())),
        ("communicate_64mib", || block_on(communicate_64mib())),
        ("communicate_timeout_partial", || {
            block_on(communicate_timeout_partial())
        }),
        ("child_never_reads_stdin", || {
            block_on(child_never_reads_stdin())
        }),
        ("output_and_status", || block_on(output_and_status())),
        (
            "dropped_status_and_output_futures_kill_their_children",
            || block_on(dropped_status_and_output_futures_kill_their_children()),
        ),
        ("adopted_std_child", || block_on(adopted_std_child())),
        ("signals_stream", || block_on(signals_stream())),
        ("ctrl_c_future", || block_on(ctrl_c_future())),
        ("beside_async_process", || block_on(beside_async_process())),
        ("pipeline_statuses_in_order", || {
            block_on(pipeline_statuses_in_order())
        }),
        ("two_waiters_one_pipeline", || {
            block_on(two_waiters_one_pipeline())
        }),
        ("pipeline_cancel_then_wait", || {
            block_on(pipeline_cancel_then_wait())
        }),
        ("pipeline_communicate_1mib", || {
            block_on(pipeline_communicate_1mib())
        }),
        ("wait_delay_cuts_held_stdout", || {
            block_on(wait_delay_cuts_held_stdout())
        }),
        ("wait_delay_without_holder", || {
            block_on(wait_delay_without_holder())
        }),
        ("pipeline_wait_delay_cuts_held_stdout", || {
            block_on(pipeline_wait_delay_cuts_held_stdout())
        }),
        #[cfg(target_os = "linux")]
        ("scope_wait_async_after_kill", || {
            block_on(scope_wait_async_after_kill())
        }),
        #[cfg(target_os = "linux")]
        ("scope_wait_async_empty", || {
            block_on(scope_wait_async_empty())
        }),
        #[cfg(target_os = "linux")]
        ("scope_wait_async_races_an_exit", || {
            block_on(scope_wait_async_races_an_exit())
        }),
    ];
    let _ = support::wait10;
    support::run(tests);
}
