//! Model-checked concurrency: loom explores every interleaving of the
//! protocols threads share, on the very code the library runs.
//!
//! - `sleeper_*`: the futex wake-up word of `Signals` and the signal
//!   dispatcher (procctl's src/sys/unix/signal/sleeper.rs, included here as is),
//!   with the futex modelled by a mutex and a condition variable (the
//!   kernel compares the word and queues the sleeper under its bucket
//!   lock, and `FUTEX_WAKE` takes that lock). A lost wake-up leaves the
//!   sleeper blocked forever, which loom reports as a deadlock.
//!
//! Run with `cd loom && RUSTFLAGS="--cfg loom" cargo test --release`;
//! without `--cfg loom` this binary is empty.

#![cfg(loom)]

#[cfg(any(target_os = "linux", target_os = "android"))]
#[path = "../../src/sys/unix/signal/sleeper.rs"]
mod sleeper;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod sleeper_models {
    use std::sync::atomic::Ordering::SeqCst;
    use std::time::Duration;

    use loom::sync::atomic::{AtomicU32, AtomicU64};
    use loom::sync::{Arc, Condvar, Mutex};
    use loom::thread;

    use super::sleeper::{Futex, Sleeper};

    /// A futex: `wait` compares and queues under the bucket lock, `wake`
    /// takes it. No spurious wake-ups (the real one may have some; the
    /// protocol tolerates them, and without them a lost wake-up cannot
    /// hide).
    struct ModelFutex {
        bucket: Mutex<()>,
        queue: Condvar,
    }

    impl ModelFutex {
        fn new() -> ModelFutex {
            ModelFutex {
                bucket: Mutex::new(()),
                queue: Condvar::new(),
            }
        }
    }

    impl Futex for ModelFutex {
        fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
            assert!(timeout.is_none(), "the models sleep without a timeout");
            let guard = self.bucket.lock().unwrap();
            if word.load(SeqCst) != expected {
                return;
            }
            drop(self.queue.wait(guard).unwrap());
        }

        fn wake_one(&self, _word: &AtomicU32) {
            let _guard = self.bucket.lock().unwrap();
            self.queue.notify_one();
        }
    }

    /// A queue as `Signals` has one: the tally's pending word (what the
    /// sleeper looks at) and the sleeper.
    struct Queue {
        pending: AtomicU64,
        sleeper: Sleeper<ModelFutex>,
    }

    impl Queue {
        fn new() -> Arc<Queue> {
            Arc::new(Queue {
                pending: AtomicU64::new(0),
                sleeper: Sleeper::new(ModelFutex::new()),
            })
        }

        /// The low-level handler: count (`Tally::note`), then wake.
        fn deliver(&self, bit: u32) {
            self.pending.fetch_or(1 << bit, SeqCst);
            self.sleeper.wake();
        }

        /// The iterator: take what was counted (`Tally::take`) into
        /// `seen`, sleeping while there is nothing, until `seen` holds
        /// every bit of `want`.
        fn receive(&self, seen: &mut u64, want: u64) {
            loop {
                *seen |= self.pending.swap(0, SeqCst);
                if *seen & want == want {
                    break;
                }
                self.sleeper
                    .sleep_unless_noted(|| self.pending.load(SeqCst) != 0, None);
            }
        }
    }

    #[test]
    fn sleeper_one_delivery_is_never_lost() {
        loom::model(|| {
            let q = Queue::new();
            let h = {
                let q = q.clone();
                thread::spawn(move || q.deliver(0))
            };
            q.receive(&mut 0, 0b1);
            h.join().unwrap();
        });
    }

    #[test]
    fn sleeper_two_handlers_on_two_threads() {
        loom::model(|| {
            let q = Queue::new();
            let hs: Vec<_> = (0..2)
                .map(|bit| {
                    let q = q.clone();
                    thread::spawn(move || q.deliver(bit))
                })
                .collect();
            q.receive(&mut 0, 0b11);
            for h in hs {
                h.join().unwrap();
            }
        });
    }

    #[test]
    fn sleeper_sleeps_twice_across_two_deliveries() {
        // One handler thread delivering twice: the sleeper's second sleep
        // must not swallow the second wake-up in the first's leftovers.
        loom::model(|| {
            let q = Queue::new();
            let h = {
                let q = q.clone();
                thread::spawn(move || {
                    q.deliver(0);
                    q.deliver(1);
                })
            };
            let mut seen = 0;
            q.receive(&mut seen, 0b1);
            q.receive(&mut seen, 0b10);
            h.join().unwrap();
        });
    }
}
