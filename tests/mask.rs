//! Signal-mask guards (`signal::block`, `MaskGuard`): each test runs in
//! its own forked child (see `forked_runner`), as they change the thread's
//! mask and install handlers.
//!
//! Unix only: on other platforms this binary runs no test.

#[cfg(unix)]
mod forked_runner;
#[cfg(not(unix))]
mod support;

fn main() {
    #[cfg(unix)]
    imp::main();
    #[cfg(not(unix))]
    support::run(&[]);
}

#[cfg(unix)]
mod imp {
    use std::sync::atomic::AtomicUsize;
    use std::sync::atomic::Ordering::SeqCst;

    use procctl::Signal;
    use procctl::signal::{self, SigSet};

    use crate::forked_runner;

    pub fn main() {
        forked_runner::run(&[
            (
                "guards_dropped_in_creation_order_undo_only_their_own",
                guards_dropped_in_creation_order_undo_only_their_own,
            ),
            (
                "guards_dropped_in_reverse_order_undo_only_their_own",
                guards_dropped_in_reverse_order_undo_only_their_own,
            ),
            (
                "a_signal_two_guards_block_stays_blocked_until_the_last_drops",
                a_signal_two_guards_block_stays_blocked_until_the_last_drops,
            ),
            (
                "a_signal_blocked_before_the_guard_stays_blocked",
                a_signal_blocked_before_the_guard_stays_blocked,
            ),
            (
                "pending_signals_arrive_when_their_own_guard_drops",
                pending_signals_arrive_when_their_own_guard_drops,
            ),
            (
                "guards_of_two_threads_do_not_meet",
                guards_of_two_threads_do_not_meet,
            ),
        ]);
    }

    fn set(signals: &[Signal]) -> SigSet {
        signals.iter().copied().collect()
    }

    /// The calling thread's mask, restricted to the signals of interest.
    fn blocked() -> SigSet {
        let mask = signal::current_mask().unwrap();
        set(&[Signal::USR1, Signal::USR2, Signal::HUP])
            .iter()
            .filter(|s| mask.contains(*s))
            .collect()
    }

    fn guards_dropped_in_creation_order_undo_only_their_own() {
        assert_eq!(blocked(), SigSet::empty());
        let g1 = signal::block(&set(&[Signal::USR1])).unwrap();
        let g2 = signal::block(&set(&[Signal::USR2])).unwrap();
        assert_eq!(blocked(), set(&[Signal::USR1, Signal::USR2]));
        drop(g1);
        assert_eq!(blocked(), set(&[Signal::USR2]), "g2 still holds USR2");
        drop(g2);
        assert_eq!(blocked(), SigSet::empty(), "nothing left blocked");
    }

    fn guards_dropped_in_reverse_order_undo_only_their_own() {
        let g1 = signal::block(&set(&[Signal::USR1])).unwrap();
        let g2 = signal::block(&set(&[Signal::USR2])).unwrap();
        drop(g2);
        assert_eq!(blocked(), set(&[Signal::USR1]));
        drop(g1);
        assert_eq!(blocked(), SigSet::empty());
    }

    fn a_signal_two_guards_block_stays_blocked_until_the_last_drops() {
        for first_dropped_first in [true, false] {
            let g1 = signal::block(&set(&[Signal::USR1])).unwrap();
            let g2 = signal::block(&set(&[Signal::USR1, Signal::USR2])).unwrap();
            let (a, b) = if first_dropped_first {
                (g1, g2)
            } else {
                (g2, g1)
            };
            drop(a);
            assert!(blocked().contains(Signal::USR1), "a live guard holds USR1");
            drop(b);
            assert_eq!(blocked(), SigSet::empty());
        }
    }

    fn raw_block(sig: Signal) {
        let mut raw = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the set; pthread_sigmask only
        // changes this thread's mask.
        unsafe {
            libc::sigemptyset(raw.as_mut_ptr());
            libc::sigaddset(raw.as_mut_ptr(), sig.as_raw());
            let raw = raw.assume_init();
            assert_eq!(
                libc::pthread_sigmask(libc::SIG_BLOCK, &raw, std::ptr::null_mut()),
                0
            );
        }
    }

    fn a_signal_blocked_before_the_guard_stays_blocked() {
        raw_block(Signal::HUP);
        let g1 = signal::block(&set(&[Signal::HUP, Signal::USR1])).unwrap();
        let g2 = signal::block(&set(&[Signal::HUP])).unwrap();
        drop(g1);
        drop(g2);
        assert_eq!(blocked(), set(&[Signal::HUP]), "not the guards' to unblock");
    }

    static RUNS: [AtomicUsize; 2] = [const { AtomicUsize::new(0) }; 2];

    extern "C" fn count(sig: libc::c_int) {
        let i = (sig == libc::SIGUSR2) as usize;
        RUNS[i].fetch_add(1, SeqCst);
    }

    fn runs() -> [usize; 2] {
        [RUNS[0].load(SeqCst), RUNS[1].load(SeqCst)]
    }

    fn pending_signals_arrive_when_their_own_guard_drops() {
        for sig in [libc::SIGUSR1, libc::SIGUSR2] {
            // SAFETY: all-zero is a valid sigaction; the handler only
            // touches atomics.
            unsafe {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = count as extern "C" fn(libc::c_int) as usize;
                assert_eq!(libc::sigaction(sig, &act, std::ptr::null_mut()), 0);
            }
        }
        let g1 = signal::block(&set(&[Signal::USR1])).unwrap();
        let g2 = signal::block(&set(&[Signal::USR2])).unwrap();
        signal::raise(Signal::USR1).unwrap();
        signal::raise(Signal::USR2).unwrap();
        assert_eq!(runs(), [0, 0]);
        drop(g1);
        assert_eq!(runs(), [1, 0], "USR1 arrives, USR2 stays held by g2");
        drop(g2);
        assert_eq!(runs(), [1, 1]);
    }

    fn guards_of_two_threads_do_not_meet() {
        let g = signal::block(&set(&[Signal::USR1])).unwrap();
        std::thread::spawn(|| {
            assert_eq!(
                blocked(),
                set(&[Signal::USR1]),
                "a new thread inherits the mask"
            );
            let g = signal::block(&set(&[Signal::USR1, Signal::USR2])).unwrap();
            drop(g);
            // USR1 was blocked when this thread's guard came: it stays.
            assert_eq!(blocked(), set(&[Signal::USR1]));
        })
        .join()
        .unwrap();
        assert_eq!(blocked(), set(&[Signal::USR1]));
        drop(g);
        assert_eq!(blocked(), SigSet::empty());
    }
}
