//! Signal handlers, masks and sending. Dispositions are process-wide, so
//! every test runs in its own forked child (see `forked_runner`).
//! (Unix only; `tests/signal.rs` includes this file.)

use crate::forked_runner;

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use procctl::signal::{self, Disposition, SaFlags, SigHandler, SigSet, Signals};
use procctl::{Error, Pid, Signal, proc};

const WAIT: Duration = Duration::from_secs(5);

pub fn main() {
    forked_runner::run(&[
        (
            "handler_runs_on_kill_and_raise",
            handler_runs_on_kill_and_raise,
        ),
        (
            "two_handlers_on_one_signal_both_run",
            two_handlers_on_one_signal_both_run,
        ),
        (
            "every_round_trip_wakes_the_dispatcher",
            every_round_trip_wakes_the_dispatcher,
        ),
        (
            "every_round_trip_wakes_a_signals_iterator",
            every_round_trip_wakes_a_signals_iterator,
        ),
        (
            "a_forked_child_gets_its_own_dispatcher",
            a_forked_child_gets_its_own_dispatcher,
        ),
        (
            "unregistering_the_last_handler_restores_the_old_disposition",
            unregistering_the_last_handler_restores_the_old_disposition,
        ),
        (
            "chains_to_a_previously_installed_raw_handler",
            chains_to_a_previously_installed_raw_handler,
        ),
        (
            "chains_to_a_previous_siginfo_handler",
            chains_to_a_previous_siginfo_handler,
        ),
        (
            "refuses_kill_stop_and_fault_signals",
            refuses_kill_stop_and_fault_signals,
        ),
        (
            "blocked_signal_is_delivered_when_the_guard_drops",
            blocked_signal_is_delivered_when_the_guard_drops,
        ),
        ("alarm_delivers_sigalrm", alarm_delivers_sigalrm),
        (
            "ignore_survives_exec_and_handlers_reset",
            ignore_survives_exec_and_handlers_reset,
        ),
        (
            "kill_of_a_nonexistent_pid_is_a_named_error",
            kill_of_a_nonexistent_pid_is_a_named_error,
        ),
        (
            "errno_is_unchanged_across_a_handled_signal",
            errno_is_unchanged_across_a_handled_signal,
        ),
        ("burst_of_standard_signals", burst_of_standard_signals),
        (
            "burst_of_realtime_signals_is_counted_exactly",
            burst_of_realtime_signals_is_counted_exactly,
        ),
        (
            "register_flag_is_set_in_signal_context_without_a_thread",
            register_flag_is_set_in_signal_context_without_a_thread,
        ),
        ("signals_iterator", signals_iterator),
        (
            "interrupt_watcher_reports_ctrl_c_once",
            interrupt_watcher_reports_ctrl_c_once,
        ),
        (
            "wait_for_takes_a_blocked_signal",
            wait_for_takes_a_blocked_signal,
        ),
        (
            "a_panicking_handler_does_not_stop_the_others",
            a_panicking_handler_does_not_stop_the_others,
        ),
        ("registration_is_thread_safe", registration_is_thread_safe),
        (
            "ignore_and_default_replace_procctl_until_the_next_register",
            ignore_and_default_replace_procctl_until_the_next_register,
        ),
        (
            "a_later_handler_chaining_to_procctl_is_not_taken_over",
            a_later_handler_chaining_to_procctl_is_not_taken_over,
        ),
        (
            "unregister_waits_for_the_running_call_and_drops_queued_ones",
            unregister_waits_for_the_running_call_and_drops_queued_ones,
        ),
        (
            "a_handler_can_unregister_itself",
            a_handler_can_unregister_itself,
        ),
        (
            "a_chained_resethand_handler_runs_once",
            a_chained_resethand_handler_runs_once,
        ),
        (
            "a_chained_handler_runs_with_its_mask_and_nodefer",
            a_chained_handler_runs_with_its_mask_and_nodefer,
        ),
        (
            "a_chained_onstack_handler_runs_on_the_alternate_stack",
            a_chained_onstack_handler_runs_on_the_alternate_stack,
        ),
        (
            "a_chained_handler_without_restart_interrupts_a_read",
            a_chained_handler_without_restart_interrupts_a_read,
        ),
        (
            "closure_signals_get_their_old_disposition_in_a_forked_child",
            closure_signals_get_their_old_disposition_in_a_forked_child,
        ),
        (
            "a_child_forked_while_another_thread_registers_can_register",
            a_child_forked_while_another_thread_registers_can_register,
        ),
        (
            "a_child_forked_during_the_first_registration_can_register",
            a_child_forked_during_the_first_registration_can_register,
        ),
    ]);
}

/// Returns once the dispatcher has handled every delivery counted before
/// this call: it handles signals in numeric order within a wake-up, and a
/// pass that sees the fence also sees every earlier, lower-numbered
/// delivery. `fence` must be numerically above the signals being waited
/// for.
fn dispatch_fence(fence: Signal) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let id = signal::register(fence, move |_| {
        let _ = tx.lock().unwrap().send(());
    })
    .unwrap();
    signal::raise(fence).unwrap();
    rx.recv_timeout(WAIT).expect("fence signal handled");
    signal::unregister(id);
}

fn handler_runs_on_kill_and_raise() {
    let (tx, rx) = mpsc::channel();
    signal::register(Signal::USR1, move |sig| {
        let thread = std::thread::current().name().map(str::to_owned);
        tx.send((sig, thread)).unwrap();
    })
    .unwrap();
    let on_dispatcher = (Signal::USR1, Some("procctl-signal".to_owned()));

    signal::kill(Pid::current(), Signal::USR1).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), on_dispatcher);

    signal::raise(Signal::USR1).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), on_dispatcher);
    assert!(rx.try_recv().is_err(), "one run per signal");
}

/// Ping-pong: each delivery must wake a dispatcher that went back to sleep
/// after the previous one (a lost wake-up fails the timeout), from this
/// thread and from another one.
fn every_round_trip_wakes_the_dispatcher() {
    let (tx, rx) = mpsc::channel();
    signal::register(Signal::USR1, move |_| tx.send(()).unwrap()).unwrap();
    for i in 0..2000 {
        signal::kill(Pid::current(), Signal::USR1).unwrap();
        rx.recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("round trip {i}: {e}"));
    }
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let sender = std::thread::spawn(move || {
        while go_rx.recv().is_ok() {
            signal::kill(Pid::current(), Signal::USR1).unwrap();
        }
    });
    for i in 0..2000 {
        go_tx.send(()).unwrap();
        rx.recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("round trip {i} from a thread: {e}"));
    }
    drop(go_tx);
    sender.join().unwrap();
}

/// The same for a `Signals` iterator blocked in another thread, and its
/// timeout: each `wait_timeout` that gets nothing waits its time out.
fn every_round_trip_wakes_a_signals_iterator() {
    let mut signals = Signals::new([Signal::USR2]).unwrap();
    let t = Instant::now();
    assert_eq!(
        signals.wait_timeout(Duration::from_millis(30)).unwrap(),
        None
    );
    assert!(
        t.elapsed() >= Duration::from_millis(30),
        "{:?}",
        t.elapsed()
    );
    signal::raise(Signal::USR2).unwrap();
    assert_eq!(
        signals.wait_timeout(Duration::MAX).unwrap(),
        Some(Signal::USR2)
    );
    let (tx, rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let waiter = std::thread::spawn(move || {
        while go_rx.recv().is_ok() {
            let got = signals.wait_timeout(WAIT).unwrap();
            tx.send(got).unwrap();
        }
    });
    for i in 0..2000 {
        go_tx.send(()).unwrap();
        if i % 2 == 0 {
            // Sometimes before the iterator sleeps, sometimes after.
            std::thread::yield_now();
        }
        signal::kill(Pid::current(), Signal::USR2).unwrap();
        let got = rx
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("round trip {i}: {e}"));
        assert_eq!(got, Some(Signal::USR2), "round trip {i}");
    }
    drop(go_tx);
    waiter.join().unwrap();
}

/// A child forked while the parent's dispatcher sleeps has no dispatcher
/// thread: its first `register` starts its own, and the parent's keeps
/// working.
fn a_forked_child_gets_its_own_dispatcher() {
    let (tx, rx) = mpsc::channel();
    signal::register(Signal::USR1, move |_| tx.send(()).unwrap()).unwrap();
    signal::raise(Signal::USR1).unwrap();
    rx.recv_timeout(WAIT).unwrap();
    // SAFETY: the child only registers a handler (allocating, which glibc
    // and musl make safe after fork), raises, and exits.
    let child = unsafe {
        proc::fork_unchecked(|| {
            let hits = Arc::new(AtomicUsize::new(0));
            let h = Arc::clone(&hits);
            signal::register(Signal::USR2, move |_| {
                h.fetch_add(1, SeqCst);
            })
            .unwrap();
            for _ in 0..3 {
                signal::raise(Signal::USR2).unwrap();
            }
            let deadline = Instant::now() + WAIT;
            while hits.load(SeqCst) < 3 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            hits.load(SeqCst) as i32
        })
    }
    .unwrap();
    assert_eq!(child.wait_timeout(WAIT).unwrap().unwrap().code(), Some(3));
    signal::raise(Signal::USR1).unwrap();
    rx.recv_timeout(WAIT).unwrap();
}

fn two_handlers_on_one_signal_both_run() {
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    signal::register(Signal::USR2, move |_| tx.send("first").unwrap()).unwrap();
    signal::register(Signal::USR2, move |_| tx2.send("second").unwrap()).unwrap();
    signal::raise(Signal::USR2).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "first");
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "second");
}

fn unregistering_the_last_handler_restores_the_old_disposition() {
    // From the default action.
    assert_eq!(
        signal::disposition(Signal::USR1).unwrap(),
        Disposition::Default
    );
    let a = signal::register(Signal::USR1, |_| {}).unwrap();
    let b = signal::register(Signal::USR1, |_| {}).unwrap();
    assert_eq!(
        signal::disposition(Signal::USR1).unwrap(),
        Disposition::Procctl
    );
    assert!(signal::unregister(a));
    assert!(!signal::unregister(a), "true only once");
    assert_eq!(
        signal::disposition(Signal::USR1).unwrap(),
        Disposition::Procctl
    );
    assert!(signal::unregister(b));
    assert_eq!(
        signal::disposition(Signal::USR1).unwrap(),
        Disposition::Default
    );

    // From "ignore": afterwards the signal is ignored again (we live).
    signal::ignore(Signal::USR2).unwrap();
    let c = signal::register_flag(Signal::USR2, Arc::new(AtomicBool::new(false))).unwrap();
    assert_eq!(
        signal::disposition(Signal::USR2).unwrap(),
        Disposition::Procctl
    );
    assert!(signal::unregister(c));
    assert_eq!(
        signal::disposition(Signal::USR2).unwrap(),
        Disposition::Ignore
    );
    signal::raise(Signal::USR2).unwrap();
}

static RAW_HITS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn raw_handler(_: c_int) {
    RAW_HITS.fetch_add(1, SeqCst);
}

fn chains_to_a_previously_installed_raw_handler() {
    // SAFETY: the handler only touches an atomic.
    unsafe {
        signal::sigaction(
            Signal::USR1,
            SigHandler::Handler(raw_handler),
            SaFlags::RESTART,
        )
    }
    .unwrap();
    let (tx, rx) = mpsc::channel();
    let id = signal::register(Signal::USR1, move |_| tx.send(()).unwrap()).unwrap();

    signal::raise(Signal::USR1).unwrap();
    rx.recv_timeout(WAIT).expect("procctl handler ran");
    assert_eq!(RAW_HITS.load(SeqCst), 1, "the raw handler ran too");

    // The last unregister puts the raw handler back, exactly.
    assert!(signal::unregister(id));
    assert_eq!(
        signal::disposition(Signal::USR1).unwrap(),
        Disposition::Other
    );
    // SAFETY: re-installing the same handler; we only read the previous one.
    let (current, flags) = unsafe {
        signal::sigaction(
            Signal::USR1,
            SigHandler::Handler(raw_handler),
            SaFlags::RESTART,
        )
    }
    .unwrap();
    assert_eq!(current.address(), raw_handler as *const () as usize);
    assert_eq!(flags & SaFlags::RESTART, SaFlags::RESTART);
    signal::raise(Signal::USR1).unwrap();
    assert_eq!(RAW_HITS.load(SeqCst), 2);
}

static SIGINFO_SEEN: AtomicUsize = AtomicUsize::new(0);

extern "C" fn siginfo_handler(sig: c_int, info: *mut libc::siginfo_t, _ctx: *mut std::ffi::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler and
    // procctl passes it on unchanged.
    let signo = unsafe { (*info).si_signo };
    if signo == sig {
        SIGINFO_SEEN.fetch_add(1, SeqCst);
    }
}

fn chains_to_a_previous_siginfo_handler() {
    // SAFETY: the handler only reads its siginfo and touches an atomic.
    unsafe {
        signal::sigaction(
            Signal::USR2,
            SigHandler::SigAction(siginfo_handler),
            SaFlags::empty(),
        )
    }
    .unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    signal::register_flag(Signal::USR2, Arc::clone(&flag)).unwrap();
    signal::raise(Signal::USR2).unwrap();
    assert!(flag.load(SeqCst));
    assert_eq!(
        SIGINFO_SEEN.load(SeqCst),
        1,
        "siginfo handler got its siginfo"
    );
}

fn refuses_kill_stop_and_fault_signals() {
    for sig in [
        Signal::KILL,
        Signal::STOP,
        Signal::SEGV,
        Signal::BUS,
        Signal::ILL,
        Signal::FPE,
    ] {
        let before = signal::disposition(sig).unwrap();
        let err = signal::register(sig, |_| {}).unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { .. }),
            "{sig}: {err:?}"
        );
        assert!(
            err.to_string().contains(&sig.to_string()),
            "names the signal: {err}"
        );
        let flag = Arc::new(AtomicBool::new(false));
        assert!(signal::register_flag(sig, flag).is_err(), "{sig}");
        assert!(Signals::new([Signal::USR1, sig]).is_err(), "{sig}");
        assert_eq!(signal::disposition(sig).unwrap(), before, "{sig} untouched");
    }
    // Signals::new registered nothing for USR1 when it refused.
    assert_eq!(
        signal::disposition(Signal::USR1).unwrap(),
        Disposition::Default
    );
    assert_eq!(
        signal::register(Signal::KILL, |_| {})
            .unwrap_err()
            .to_string(),
        "invalid signal: SIGKILL cannot be caught, blocked or ignored"
    );
    for sig in [Signal::KILL, Signal::STOP] {
        assert!(matches!(
            signal::ignore(sig),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            signal::default(sig),
            Err(Error::InvalidArgument { .. })
        ));
    }
}

fn blocked_signal_is_delivered_when_the_guard_drops() {
    let (tx, rx) = mpsc::channel();
    signal::register(Signal::USR1, move |sig| tx.send(sig).unwrap()).unwrap();
    let before = signal::current_mask().unwrap();
    let guard = signal::block(&SigSet::from(Signal::USR1)).unwrap();
    assert!(signal::current_mask().unwrap().contains(Signal::USR1));

    // Sent to the process: the dispatcher thread blocks everything and this
    // thread blocks USR1, so it stays pending.
    signal::kill(Pid::current(), Signal::USR1).unwrap();
    assert!(signal::pending().unwrap().contains(Signal::USR1));
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "delivered while blocked"
    );

    drop(guard);
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Signal::USR1);
    assert_eq!(
        signal::current_mask().unwrap(),
        before,
        "exact previous mask"
    );
    assert!(!signal::pending().unwrap().contains(Signal::USR1));
}

fn alarm_delivers_sigalrm() {
    let (tx, rx) = mpsc::channel();
    signal::register(Signal::ALRM, move |sig| tx.send(sig).unwrap()).unwrap();
    let start = Instant::now();
    let left = signal::alarm(1);
    assert!(
        (1..=10).contains(&left),
        "the runner's 10 s alarm was replaced: {left}"
    );
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Signal::ALRM);
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(signal::alarm(0), 0, "the alarm fired");
}

fn ignore_survives_exec_and_handlers_reset() {
    signal::ignore(Signal::INT).unwrap();
    signal::register(Signal::USR1, |_| {}).unwrap();
    assert_eq!(
        signal::disposition(Signal::USR1).unwrap(),
        Disposition::Procctl
    );

    // The kernel's view of the exec'd child (Linux).
    if cfg!(target_os = "linux") {
        let out = std::process::Command::new("sh")
            .args(["-c", "grep -E '^Sig(Ign|Cgt):' /proc/self/status"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let mask = |field: &str| {
            let line = text.lines().find(|l| l.starts_with(field)).unwrap();
            u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
        };
        let bit = |sig: Signal| 1u64 << (sig.as_raw() - 1);
        assert_ne!(
            mask("SigIgn:") & bit(Signal::INT),
            0,
            "INT stays ignored: {text}"
        );
        assert_eq!(
            mask("SigIgn:") & bit(Signal::USR1),
            0,
            "USR1 not ignored: {text}"
        );
        assert_eq!(
            mask("SigCgt:") & bit(Signal::USR1),
            0,
            "USR1 reset to default: {text}"
        );
    }

    // Behaviour, on every Unix: the child survives SIGINT, dies of SIGUSR1.
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            "kill -INT $$; echo alive; kill -USR1 $$; echo unreachable",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "alive\n");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(Signal::USR1.as_raw()));
}

fn kill_of_a_nonexistent_pid_is_a_named_error() {
    // A pid that existed a moment ago and was reaped.
    let child = proc::fork(|| 0).unwrap();
    let gone = child.pid();
    child.wait().unwrap();
    for pid in [gone, Pid::from_raw(i32::MAX).unwrap()] {
        let err = signal::kill(pid, Signal::TERM).unwrap_err();
        match &err {
            Error::NoSuchProcess { pid: p, .. } => assert_eq!(*p, pid),
            other => panic!("expected NoSuchProcess, got {other:?}"),
        }
        assert_eq!(err.to_string(), format!("no such process: {pid}"));
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
        assert!(matches!(
            signal::probe(pid),
            Err(Error::NoSuchProcess { .. })
        ));
        assert!(matches!(
            signal::killpg(pid, Signal::TERM),
            Err(Error::NoSuchProcess { .. })
        ));
    }
    signal::probe(Pid::current()).unwrap();
}

static CLOBBERS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn errno_clobbering_handler(_: c_int) {
    CLOBBERS.fetch_add(1, SeqCst);
    Errno::set_raw(libc::EIO);
}

fn errno_is_unchanged_across_a_handled_signal() {
    // Control: a raw handler that clobbers errno does clobber it.
    // SAFETY: the handler only touches an atomic and errno.
    unsafe {
        signal::sigaction(
            Signal::USR1,
            SigHandler::Handler(errno_clobbering_handler),
            SaFlags::empty(),
        )
    }
    .unwrap();
    Errno::set_raw(libc::E2BIG);
    // SAFETY: raise takes a plain signal number.
    assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
    assert_eq!(
        Errno::last_raw(),
        libc::EIO,
        "control: the raw handler clobbers errno"
    );

    // procctl's handler, chaining to the clobbering one, restores errno.
    let (tx, rx) = mpsc::channel();
    signal::register(Signal::USR1, move |_| tx.send(()).unwrap()).unwrap();
    for _ in 0..100 {
        Errno::set_raw(libc::E2BIG);
        // SAFETY: as above.
        assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
        assert_eq!(Errno::last_raw(), libc::E2BIG);
        rx.recv_timeout(WAIT).unwrap();
    }
    assert_eq!(CLOBBERS.load(SeqCst), 101);
}

const BURST: usize = 10_000;

fn counting(sig: Signal) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    signal::register(sig, move |_| {
        c.fetch_add(1, SeqCst);
    })
    .unwrap();
    count
}

fn burst_of_standard_signals() {
    // Unblocked: POSIX delivers a signal a thread sends to its own process
    // before kill returns when no other thread can take it (the dispatcher
    // blocks everything), so none merge here.
    let count = counting(Signal::USR1);
    for _ in 0..BURST {
        signal::kill(Pid::current(), Signal::USR1).unwrap();
    }
    dispatch_fence(Signal::USR2);
    assert_eq!(count.load(SeqCst), BURST);

    // Blocked: pending standard signals merge into one.
    let guard = signal::block(&SigSet::from(Signal::USR1)).unwrap();
    for _ in 0..BURST {
        signal::kill(Pid::current(), Signal::USR1).unwrap();
    }
    drop(guard);
    dispatch_fence(Signal::USR2);
    assert_eq!(count.load(SeqCst), BURST + 1);
}

fn burst_of_realtime_signals_is_counted_exactly() {
    if Signal::rt(3).is_none() {
        return; // no real-time signals here (macOS)
    }
    let (rt0, rt1, rt2) = (
        Signal::rt(0).unwrap(),
        Signal::rt(1).unwrap(),
        Signal::rt(2).unwrap(),
    );
    let fence = Signal::rt(3).unwrap();

    // Blocked while sent: every one is queued, then all are delivered when
    // the mask drops. EAGAIN (queue limit) means "not sent".
    let count = counting(rt0);
    let guard = signal::block(&SigSet::from(rt0)).unwrap();
    let mut sent = 0;
    for _ in 0..BURST {
        match signal::kill(Pid::current(), rt0) {
            Ok(()) => sent += 1,
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(sent >= 1000, "the kernel queued only {sent}");
    drop(guard);
    dispatch_fence(fence);
    assert_eq!(count.load(SeqCst), sent);

    // Four threads sending at once, unblocked.
    let count = counting(rt1);
    let senders: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                for _ in 0..BURST / 4 {
                    signal::kill(Pid::current(), rt1).unwrap();
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    dispatch_fence(fence);
    assert_eq!(count.load(SeqCst), BURST);

    // Through the iterator.
    let mut signals = Signals::new([rt2]).unwrap();
    let guard = signal::block(&SigSet::from(rt2)).unwrap();
    for _ in 0..1000 {
        signal::kill(Pid::current(), rt2).unwrap();
    }
    drop(guard);
    let mut got = 0;
    while got < 1000 {
        assert_eq!(
            signals.wait_timeout(WAIT).unwrap(),
            Some(rt2),
            "after {got}"
        );
        got += 1;
    }
    dispatch_fence(fence);
    assert_eq!(signals.pending().count(), 0);
}

fn register_flag_is_set_in_signal_context_without_a_thread() {
    let flag = Arc::new(AtomicBool::new(false));
    let id = signal::register_flag(Signal::USR1, Arc::clone(&flag)).unwrap();
    signal::raise(Signal::USR1).unwrap();
    assert!(flag.swap(false, SeqCst), "set before raise returned");
    signal::kill(Pid::current(), Signal::USR1).unwrap();
    assert!(flag.load(SeqCst), "set before kill returned");
    assert_eq!(proc::thread_count(), Some(1), "no dispatcher for flags");
    assert!(signal::unregister(id));
    assert_eq!(
        signal::disposition(Signal::USR1).unwrap(),
        Disposition::Default
    );
}

fn signals_iterator() {
    let mut signals = Signals::new([Signal::USR1, Signal::USR2, Signal::USR1]).unwrap();
    assert_eq!(
        signals.signals(),
        SigSet::from_iter([Signal::USR1, Signal::USR2])
    );
    assert_eq!(
        signals.wait_timeout(Duration::from_millis(20)).unwrap(),
        None
    );
    assert_eq!(signals.pending().next(), None);

    signal::raise(Signal::USR2).unwrap();
    assert_eq!(signals.wait_timeout(WAIT).unwrap(), Some(Signal::USR2));
    signal::raise(Signal::USR1).unwrap();
    assert_eq!(signals.next(), Some(Signal::USR1));
    assert_eq!(proc::thread_count(), Some(1), "Signals starts no thread");

    // pending(): drained without waiting once delivered.
    signal::raise(Signal::USR1).unwrap();
    signal::raise(Signal::USR2).unwrap();
    dispatch_fence(Signal::ALRM);
    let mut got: Vec<_> = signals.pending().collect();
    got.sort();
    assert_eq!(got, [Signal::USR1, Signal::USR2]);

    // A second iterator on the same signal sees it too.
    let mut other = Signals::new([Signal::USR1]).unwrap();
    signal::raise(Signal::USR1).unwrap();
    assert_eq!(signals.wait_timeout(WAIT).unwrap(), Some(Signal::USR1));
    assert_eq!(other.wait_timeout(WAIT).unwrap(), Some(Signal::USR1));

    // Iterated on another thread, woken directly by the handler.
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for sig in other.by_ref().take(3) {
            tx.send(sig).unwrap();
        }
        other
    });
    for _ in 0..3 {
        signal::raise(Signal::USR1).unwrap();
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), Signal::USR1);
    }
    let other = reader.join().unwrap();

    drop(signals);
    drop(other);
    assert_eq!(
        signal::disposition(Signal::USR1).unwrap(),
        Disposition::Default
    );
    assert_eq!(
        signal::disposition(Signal::USR2).unwrap(),
        Disposition::Default
    );
}

fn interrupt_watcher_reports_ctrl_c_once() {
    let ctrl_c = signal::watch_interrupt().unwrap();
    assert!(ctrl_c.check().is_ok());
    signal::kill(Pid::current(), Signal::INT).unwrap(); // we live
    assert!(ctrl_c.is_interrupted());
    assert!(matches!(
        ctrl_c.check(),
        Err(Error::Interrupted(Signal::INT))
    ));
    assert!(ctrl_c.check().is_ok(), "reported once");
    drop(ctrl_c);
    assert_eq!(
        signal::disposition(Signal::INT).unwrap(),
        Disposition::Default
    );
}

fn wait_for_takes_a_blocked_signal() {
    let set = SigSet::from(Signal::USR2);
    let _guard = signal::block(&set).unwrap();
    assert_eq!(
        signal::wait_for(&set, Some(Duration::from_millis(10))).unwrap(),
        None
    );
    signal::kill(Pid::current(), Signal::USR2).unwrap();
    assert_eq!(
        signal::wait_for(&set, Some(WAIT)).unwrap(),
        Some(Signal::USR2)
    );
    assert!(
        !signal::pending().unwrap().contains(Signal::USR2),
        "consumed"
    );
    // A timeout too large for a deadline is none (it used to overflow).
    signal::kill(Pid::current(), Signal::USR2).unwrap();
    assert_eq!(
        signal::wait_for(&set, Some(Duration::MAX)).unwrap(),
        Some(Signal::USR2)
    );
    signal::raise(Signal::USR2).unwrap();
    assert_eq!(signal::wait_for(&set, None).unwrap(), Some(Signal::USR2));
}

fn a_panicking_handler_does_not_stop_the_others() {
    std::panic::set_hook(Box::new(|info| eprintln!("(expected) {info}")));
    let (tx, rx) = mpsc::channel();
    signal::register(Signal::USR1, |_| panic!("handler panic")).unwrap();
    signal::register(Signal::USR1, move |_| tx.send(()).unwrap()).unwrap();
    for _ in 0..2 {
        signal::raise(Signal::USR1).unwrap();
        rx.recv_timeout(WAIT).expect("second handler still runs");
    }
}

fn registration_is_thread_safe() {
    let hits = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // Keep one registration so that the signals never hit the default action.
    let keep: Vec<_> = [Signal::USR1, Signal::USR2]
        .into_iter()
        .map(|s| signal::register(s, |_| {}).unwrap())
        .collect();
    let sent = Arc::new(AtomicUsize::new(0));
    let sender = {
        let stop = Arc::clone(&stop);
        let sent = Arc::clone(&sent);
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(SeqCst) {
                sent.store(n, SeqCst);
                signal::kill(
                    Pid::current(),
                    if n % 2 == 0 {
                        Signal::USR1
                    } else {
                        Signal::USR2
                    },
                )
                .unwrap();
                n += 1;
            }
            n
        })
    };
    // On a loaded machine the sender may not run at all before the workers
    // are done: let it start first (it then keeps sending meanwhile).
    let deadline = Instant::now() + Duration::from_secs(5);
    while sent.load(SeqCst) < 2 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    let workers: Vec<_> = (0..6)
        .map(|i| {
            let hits = Arc::clone(&hits);
            std::thread::spawn(move || {
                let sig = if i % 2 == 0 {
                    Signal::USR1
                } else {
                    Signal::USR2
                };
                for _ in 0..200 {
                    let h = Arc::clone(&hits);
                    let id = signal::register(sig, move |_| {
                        h.fetch_add(1, SeqCst);
                    })
                    .unwrap();
                    let flag =
                        signal::register_flag(sig, Arc::new(AtomicBool::new(false))).unwrap();
                    assert!(signal::unregister(flag));
                    assert!(signal::unregister(id));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, SeqCst);
    assert!(sender.join().unwrap() > 0);
    for id in keep {
        assert!(signal::unregister(id));
    }
    assert_eq!(
        signal::disposition(Signal::USR1).unwrap(),
        Disposition::Default
    );
    assert_eq!(
        signal::disposition(Signal::USR2).unwrap(),
        Disposition::Default
    );
}

fn ignore_and_default_replace_procctl_until_the_next_register() {
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let first = signal::register(Signal::USR1, move |_| tx.send("first").unwrap()).unwrap();
    signal::ignore(Signal::USR1).unwrap();
    signal::raise(Signal::USR1).unwrap();
    assert!(
        rx.recv_timeout(Duration::from_millis(100)).is_err(),
        "ignored"
    );

    // The next register hooks again: both handlers run.
    let second = signal::register(Signal::USR1, move |_| tx2.send("second").unwrap()).unwrap();
    signal::raise(Signal::USR1).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "first");
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "second");
    signal::unregister(first);
    signal::unregister(second);
    assert_eq!(
        signal::disposition(Signal::USR1).unwrap(),
        Disposition::Ignore
    );

    // default() while hooked: the last unregister leaves the default alone.
    let id = signal::register(Signal::USR2, |_| {}).unwrap();
    signal::default(Signal::USR2).unwrap();
    assert!(signal::unregister(id));
    assert_eq!(
        signal::disposition(Signal::USR2).unwrap(),
        Disposition::Default
    );
}

/// The handler that `later_handler` chains to (procctl's), as an address.
static CHAINED_TO: AtomicUsize = AtomicUsize::new(0);
static LATER_HITS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn later_handler(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut std::ffi::c_void) {
    LATER_HITS.fetch_add(1, SeqCst);
    let prev = CHAINED_TO.load(SeqCst);
    if prev != 0 {
        // SAFETY: CHAINED_TO holds the SA_SIGINFO handler that sigaction
        // returned as the previous one (procctl's).
        let f: extern "C" fn(c_int, *mut libc::siginfo_t, *mut std::ffi::c_void) =
            unsafe { std::mem::transmute(prev) };
        f(sig, info, ctx);
    }
}

fn a_later_handler_chaining_to_procctl_is_not_taken_over() {
    // procctl first, then another library installs its handler on top and
    // chains to procctl's (as signal-hook does).
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let first = signal::register(Signal::USR1, move |_| tx.send("first").unwrap()).unwrap();
    // SAFETY: the handler only touches atomics and calls the previous
    // handler, which is async-signal-safe.
    let (prev, _) = unsafe {
        signal::sigaction(
            Signal::USR1,
            SigHandler::SigAction(later_handler),
            SaFlags::empty(),
        )
    }
    .unwrap();
    assert!(matches!(prev, SigHandler::SigAction(_)));
    CHAINED_TO.store(prev.address(), SeqCst);

    // Registering again must not install procctl's handler over the other
    // one: it would chain to it, and it to procctl's, for ever.
    let second = signal::register(Signal::USR1, move |_| tx2.send("second").unwrap()).unwrap();
    assert_eq!(
        signal::disposition(Signal::USR1).unwrap(),
        Disposition::Other
    );
    signal::raise(Signal::USR1).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "first");
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "second");
    assert_eq!(LATER_HITS.load(SeqCst), 1);

    // Unregistering leaves the other handler in place.
    signal::unregister(first);
    signal::unregister(second);
    assert_eq!(
        signal::disposition(Signal::USR1).unwrap(),
        Disposition::Other
    );
    signal::raise(Signal::USR1).unwrap();
    assert_eq!(LATER_HITS.load(SeqCst), 2);
}

/// Makes the dispatcher count `n` deliveries of `sig` before it runs any of
/// them, so that they are handled as one batch: a gate closure on SIGUSR1
/// holds the dispatcher while `sig` is sent `n` times.
fn deliver_as_one_batch(sig: Signal, n: usize) {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = std::sync::Mutex::new(go_rx);
    let entered_tx = std::sync::Mutex::new(entered_tx);
    let gate = signal::register(Signal::USR1, move |_| {
        let _ = entered_tx.lock().unwrap().send(());
        let _ = go_rx.lock().unwrap().recv_timeout(WAIT);
    })
    .unwrap();
    signal::raise(Signal::USR1).unwrap();
    entered_rx.recv_timeout(WAIT).expect("gate entered");
    for _ in 0..n {
        signal::kill(Pid::current(), sig).unwrap();
    }
    // Unregistering the gate from here while it runs: it must not start
    // again, and (in the fixed code) this waits until it returned, so
    // release it first.
    go_tx.send(()).unwrap();
    assert!(signal::unregister(gate));
}

/// Issue 14, item 11: with five real-time signals counted in one batch
/// and a 100 ms closure, `unregister` during the first call must wait for
/// that call and no further call may start.
fn unregister_waits_for_the_running_call_and_drops_queued_ones() {
    let (Some(rt), Some(fence)) = (Signal::rt(0), Signal::rt(1)) else {
        return; // no real-time signals here (macOS)
    };
    for round in 0..3 {
        let started = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let (s, f) = (Arc::clone(&started), Arc::clone(&finished));
        let id = signal::register(rt, move |_| {
            s.fetch_add(1, SeqCst);
            std::thread::sleep(Duration::from_millis(100));
            f.fetch_add(1, SeqCst);
        })
        .unwrap();
        deliver_as_one_batch(rt, 5);
        let deadline = Instant::now() + WAIT;
        while started.load(SeqCst) == 0 {
            assert!(Instant::now() < deadline, "round {round}: no call started");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(signal::unregister(id));
        let (s_at, f_at) = (started.load(SeqCst), finished.load(SeqCst));
        assert_eq!(
            s_at, f_at,
            "round {round}: unregister returned during a call"
        );
        dispatch_fence(fence);
        assert_eq!(
            started.load(SeqCst),
            s_at,
            "round {round}: calls started after unregister returned"
        );
        assert_eq!(s_at, 1, "round {round}");
    }
}

/// A handler that unregisters itself (on the dispatcher thread) does not
/// deadlock, and the rest of its batch does not run.
fn a_handler_can_unregister_itself() {
    let (Some(rt), Some(fence)) = (Signal::rt(0), Signal::rt(1)) else {
        return;
    };
    let me = Arc::new(std::sync::OnceLock::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(std::sync::Mutex::new(Vec::new()));
    let id = {
        let (me, runs, results) = (Arc::clone(&me), Arc::clone(&runs), Arc::clone(&results));
        signal::register(rt, move |_| {
            runs.fetch_add(1, SeqCst);
            if let Some(id) = me.get() {
                results.lock().unwrap().push(signal::unregister(*id));
            }
        })
        .unwrap()
    };
    me.set(id).unwrap();
    deliver_as_one_batch(rt, 5);
    dispatch_fence(fence);
    assert_eq!(runs.load(SeqCst), 1);
    assert_eq!(*results.lock().unwrap(), [true]);
    assert!(!signal::unregister(id));
    assert_eq!(signal::disposition(rt).unwrap(), Disposition::Default);
}

static RESETHAND_HITS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn resethand_handler(_: c_int) {
    RESETHAND_HITS.fetch_add(1, SeqCst);
}

/// Issue 14, item 12: a chained `SA_RESETHAND` handler runs once, and the
/// disposition restored afterwards is the default the kernel would have
/// reset it to.
fn a_chained_resethand_handler_runs_once() {
    // SAFETY: the handler only touches an atomic.
    unsafe {
        signal::sigaction(
            Signal::USR1,
            SigHandler::Handler(resethand_handler),
            SaFlags::RESETHAND,
        )
    }
    .unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    let id = signal::register_flag(Signal::USR1, Arc::clone(&flag)).unwrap();
    for i in 0..3 {
        signal::raise(Signal::USR1).unwrap();
        assert!(flag.swap(false, SeqCst), "delivery {i} reached procctl");
    }
    assert_eq!(RESETHAND_HITS.load(SeqCst), 1);
    assert!(signal::unregister(id));
    assert_eq!(
        signal::disposition(Signal::USR1).unwrap(),
        Disposition::Default
    );
}

/// Bit 0: SIGUSR2 was blocked in the handler; bit 1: its own signal was.
static MASK_SEEN: AtomicUsize = AtomicUsize::new(usize::MAX);

extern "C" fn mask_probe(sig: c_int) {
    // SAFETY: all-zero is a valid sigset_t to be filled in.
    let mut cur: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: pthread_sigmask is async-signal-safe; a null new set only
    // reads the mask.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut cur) };
    // SAFETY: cur is an initialised set.
    let usr2 = unsafe { libc::sigismember(&cur, libc::SIGUSR2) } == 1;
    // SAFETY: as above.
    let own = unsafe { libc::sigismember(&cur, sig) } == 1;
    MASK_SEEN.store(usize::from(usr2) | usize::from(own) << 1, SeqCst);
}

/// Issue 14, item 12: the chained handler runs with its own `sa_mask`
/// (SIGUSR2 blocked) and `SA_NODEFER` (its signal not blocked).
fn a_chained_handler_runs_with_its_mask_and_nodefer() {
    // SAFETY: all-zero is a valid sigaction; the handler only calls
    // async-signal-safe functions.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = mask_probe as extern "C" fn(c_int) as usize;
        act.sa_flags = libc::SA_NODEFER;
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaddset(&mut act.sa_mask, libc::SIGUSR2);
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &act, std::ptr::null_mut()),
            0
        );
    }
    let flag = Arc::new(AtomicBool::new(false));
    signal::register_flag(Signal::USR1, Arc::clone(&flag)).unwrap();
    signal::raise(Signal::USR1).unwrap();
    assert!(flag.load(SeqCst));
    assert_eq!(
        MASK_SEEN.load(SeqCst),
        0b01,
        "bit 0: SIGUSR2 blocked (sa_mask), bit 1: SIGUSR1 blocked (no SA_NODEFER)"
    );
}

static ALT_STACK: AtomicUsize = AtomicUsize::new(0);
static ALT_STACK_LEN: usize = 256 * 1024;
/// 1: the handler ran on the alternate stack, 2: it did not.
static ON_ALT_STACK: AtomicUsize = AtomicUsize::new(0);

extern "C" fn onstack_probe(_: c_int) {
    let local = 0u8;
    let at = std::hint::black_box(&local) as *const u8 as usize;
    let lo = ALT_STACK.load(SeqCst);
    let on = at >= lo && at < lo + ALT_STACK_LEN;
    ON_ALT_STACK.store(if on { 1 } else { 2 }, SeqCst);
}

/// Issue 14, item 12: a chained `SA_ONSTACK` handler runs on the thread's
/// alternate signal stack.
fn a_chained_onstack_handler_runs_on_the_alternate_stack() {
    let stack: &'static mut [u8] = vec![0u8; ALT_STACK_LEN].leak();
    ALT_STACK.store(stack.as_mut_ptr() as usize, SeqCst);
    // SAFETY: all-zero is a valid stack_t; the new stack is leaked, so it
    // outlives its use; sigaltstack only records it.
    unsafe {
        let mut ss: libc::stack_t = std::mem::zeroed();
        ss.ss_sp = stack.as_mut_ptr().cast();
        ss.ss_size = ALT_STACK_LEN;
        assert_eq!(libc::sigaltstack(&ss, std::ptr::null_mut()), 0);
    }
    // SAFETY: the handler only touches atomics.
    unsafe {
        signal::sigaction(
            Signal::USR2,
            SigHandler::Handler(onstack_probe),
            SaFlags::ONSTACK,
        )
    }
    .unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    signal::register_flag(Signal::USR2, Arc::clone(&flag)).unwrap();
    signal::raise(Signal::USR2).unwrap();
    assert!(flag.load(SeqCst));
    assert_eq!(ON_ALT_STACK.load(SeqCst), 1, "1: on the alternate stack");
}

extern "C" fn noop_handler(_: c_int) {}

/// Issue 14, item 12: an `alarm` handler installed without `SA_RESTART`,
/// to break a blocking `read`, still breaks it once procctl chains to it.
fn a_chained_handler_without_restart_interrupts_a_read() {
    use std::io::{Read, Write};
    // SAFETY: the handler does nothing.
    unsafe {
        signal::sigaction(
            Signal::ALRM,
            SigHandler::Handler(noop_handler),
            SaFlags::empty(),
        )
    }
    .unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    signal::register_flag(Signal::ALRM, Arc::clone(&flag)).unwrap();
    let (mut r, w) = std::io::pipe().unwrap();
    // If the read restarts (the defect), this thread ends it after 3 s.
    // SIGALRM is blocked here, so the alarm goes to the reading thread.
    let (ready_tx, ready_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let unblocker = std::thread::spawn(move || {
        let _blocked = signal::block(&SigSet::from(Signal::ALRM)).unwrap();
        ready_tx.send(()).unwrap();
        let _ = done_rx.recv_timeout(Duration::from_secs(3));
        (&w).write_all(b"x").unwrap();
    });
    ready_rx.recv_timeout(WAIT).unwrap();
    let start = Instant::now();
    signal::alarm(1);
    let got = r.read(&mut [0u8; 1]);
    let took = start.elapsed();
    let _ = done_tx.send(());
    unblocker.join().unwrap();
    assert!(
        matches!(&got, Err(e) if e.kind() == std::io::ErrorKind::Interrupted),
        "read gave {got:?} after {took:?}"
    );
    assert!(took < Duration::from_millis(2500), "{took:?}");
    assert!(flag.load(SeqCst));
}

/// Waits at most `WAIT` for `pid` (a raw child), killing it on timeout.
fn wait_raw(pid: Pid) -> procctl::WaitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        match proc::waitpid(pid, proc::WaitOptions::NOHANG).unwrap() {
            Some((_, status)) => return status,
            None if Instant::now() > deadline => {
                let _ = signal::kill(pid, Signal::KILL);
                let _ = proc::waitpid(pid, proc::WaitOptions::empty());
                panic!("child {pid} still running after {WAIT:?}");
            }
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// The body of a forked child for the test below, async-signal-safe only:
/// arms its alarm, checks that SIGUSR2's flag still works (it needs no
/// thread), reports over `w`, and waits to be killed.
fn forked_child_body(w: c_int, usr2: &AtomicBool) -> ! {
    // SAFETY: alarm, raise, write and pause are async-signal-safe.
    unsafe {
        libc::alarm(10);
        libc::raise(libc::SIGUSR2);
        let byte = if usr2.load(SeqCst) { b'1' } else { b'0' };
        libc::write(w, (&byte as *const u8).cast(), 1);
        loop {
            libc::pause();
        }
    }
}

/// Issue 14, item 14: in a child forked while the dispatcher runs, a
/// signal that had a closure gets back the disposition procctl replaced
/// (SIGTERM ends the child again), while a flag keeps working; after
/// `fork_unchecked`, a raw `fork`, and the safe `fork` (in a
/// single-threaded child).
fn closure_signals_get_their_old_disposition_in_a_forked_child() {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let (tx, rx) = mpsc::channel();
    signal::register(Signal::TERM, move |_| tx.send(()).unwrap()).unwrap();
    signal::raise(Signal::TERM).unwrap();
    rx.recv_timeout(WAIT).expect("the dispatcher runs");
    let usr2 = Arc::new(AtomicBool::new(false));
    signal::register_flag(Signal::USR2, Arc::clone(&usr2)).unwrap();

    for how in ["fork_unchecked", "raw fork", "fork in a child"] {
        let (mut r, w) = std::io::pipe().unwrap();
        let wfd = w.as_raw_fd();
        let flag: &AtomicBool = &usr2;
        let pid = match how {
            // SAFETY: the child only makes async-signal-safe calls.
            "fork_unchecked" => unsafe { proc::fork_unchecked(|| forked_child_body(wfd, flag)) }
                .unwrap()
                .pid(),
            "raw fork" => {
                // SAFETY: the child only makes async-signal-safe calls.
                match unsafe { libc::fork() } {
                    0 => forked_child_body(wfd, flag),
                    -1 => panic!("fork: {}", std::io::Error::last_os_error()),
                    pid => Pid::from_raw(pid).unwrap(),
                }
            }
            _ => {
                // A single-threaded child forks its own child with the
                // safe fork, signals it, and reports how that one ended.
                // SAFETY: the child is alone, so it may use the safe fork;
                // it allocates, which glibc and musl allow after fork.
                let child = unsafe {
                    proc::fork_unchecked(|| {
                        signal::alarm(10);
                        let inner = proc::fork(|| forked_child_body(wfd, flag)).unwrap();
                        let mut byte = [0u8; 1];
                        if (&r).read_exact(&mut byte).is_err() || byte != *b"1" {
                            return 2;
                        }
                        inner.signal(Signal::TERM).unwrap();
                        match inner.wait_timeout(WAIT).unwrap() {
                            Some(s) if s.signal() == Some(Signal::TERM) => 0,
                            Some(_) => 3,
                            None => 4,
                        }
                    })
                }
                .unwrap();
                drop(w);
                let status = child.wait_timeout(WAIT).unwrap().unwrap_or_else(|| {
                    let _ = child.kill();
                    panic!("{how}: still running after {WAIT:?}")
                });
                assert_eq!(
                    status.code(),
                    Some(0),
                    "{how}: 2 = no flag, 3 = not ended by SIGTERM, 4 = hung"
                );
                continue;
            }
        };
        drop(w);
        let mut byte = [0u8; 1];
        r.read_exact(&mut byte).unwrap();
        assert_eq!(&byte, b"1", "{how}: the flag works in the child");
        signal::kill(pid, Signal::TERM).unwrap();
        let status = wait_raw(pid);
        assert_eq!(
            status,
            procctl::WaitStatus::Exited(procctl::ExitStatus::Signaled {
                signal: Signal::TERM,
                core_dumped: false
            }),
            "{how}"
        );
    }
}

/// Issue 14, item 14 (the locks a fork copies): a child forked while
/// another thread is registering and unregistering can register itself
/// (the registry and hook locks are not left held in the child).
fn a_child_forked_while_another_thread_registers_can_register() {
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let flag = Arc::new(AtomicBool::new(false));
            while !stop.load(SeqCst) {
                let id = signal::register_flag(Signal::USR1, Arc::clone(&flag)).unwrap();
                assert!(signal::unregister(id));
            }
        })
    };
    for i in 0..100 {
        // SAFETY: the child registers a flag (allocating, which glibc and
        // musl allow after fork) and exits; it takes procctl's locks, which
        // is what this test checks.
        let child = unsafe {
            proc::fork_unchecked(|| {
                signal::alarm(10);
                let flag = Arc::new(AtomicBool::new(false));
                let id = signal::register_flag(Signal::USR2, Arc::clone(&flag)).unwrap();
                signal::raise(Signal::USR2).unwrap();
                i32::from(!(flag.load(SeqCst) && signal::unregister(id)))
            })
        }
        .unwrap();
        match child.wait_timeout(Duration::from_secs(3)).unwrap() {
            Some(status) => assert_eq!(status.code(), Some(0), "child {i}"),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                stop.store(true, SeqCst);
                panic!("child {i} hung in register_flag");
            }
        }
    }
    stop.store(true, SeqCst);
    churn.join().unwrap();
}

/// A fork while another thread makes the process's very first registration
/// (which registers procctl's `pthread_atfork` handlers) leaves a child that
/// can still register: the "registering" state it copies belongs to a
/// thread that does not exist there. With a `OnceLock` for that state the
/// child waited for ever (caught 1 run in about 10 of the test above).
/// Every round is a fresh process, so its first registration is raced.
fn a_child_forked_during_the_first_registration_can_register() {
    for round in 0..150 {
        // SAFETY: this child starts a thread and forks; its own child only
        // registers a flag (allocating, which glibc and musl allow after
        // fork) and exits.
        let racer = unsafe {
            proc::fork_unchecked(|| {
                signal::alarm(10);
                let go = Arc::new(AtomicBool::new(false));
                let t = {
                    let go = Arc::clone(&go);
                    std::thread::spawn(move || {
                        go.store(true, SeqCst);
                        let flag = Arc::new(AtomicBool::new(false));
                        let _ = signal::register_flag(Signal::USR1, flag);
                    })
                };
                while !go.load(SeqCst) {
                    std::hint::spin_loop();
                }
                let child = proc::fork_unchecked(|| {
                    signal::alarm(3);
                    let flag = Arc::new(AtomicBool::new(false));
                    let id = signal::register_flag(Signal::USR2, Arc::clone(&flag)).unwrap();
                    signal::raise(Signal::USR2).unwrap();
                    i32::from(!(flag.load(SeqCst) && signal::unregister(id)))
                })
                .unwrap();
                let _ = t.join();
                match child.wait_timeout(Duration::from_secs(5)).unwrap() {
                    Some(status) => status.code().unwrap_or(9),
                    None => {
                        let _ = child.kill();
                        let _ = child.wait();
                        8
                    }
                }
            })
        }
        .unwrap();
        let status = racer.wait_timeout(Duration::from_secs(15)).unwrap();
        let status = status.unwrap_or_else(|| {
            let _ = racer.kill();
            panic!("round {round}: the racing process hung")
        });
        assert_eq!(
            status.code(),
            Some(0),
            "round {round}: {status} (8: the forked child hung registering, 9: it was killed, probably by its alarm)"
        );
    }
}
