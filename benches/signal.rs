//! Signal delivery to a handler that runs outside signal context, against
//! the plain thread wake-up it is built on.
//!
//! Every case is one round trip: the bench thread triggers, another thread
//! wakes and answers by writing one byte to a `done` pipe, and the bench
//! thread reads it.
//!
//! - `pipe_thread_wakeup`: the baseline, a byte through a pipe to an echo
//!   thread;
//! - `procctl_register`: `kill(self, SIGUSR1)`, procctl's low-level handler
//!   wakes the dispatcher (a futex on Linux), the registered closure
//!   answers;
//! - `procctl_signals_iter`: `kill(self, SIGUSR2)`, a thread blocked in
//!   procctl's `Signals` iterator answers;
//! - `signal_hook_iter`: the same with signal-hook's iterator (`SIGURG`);
//! - `signalfd` (Linux): `SIGWINCH` blocked everywhere, a thread reading a
//!   signalfd answers.
//!
//! On a VM whose idle vCPUs wake slowly, the cross-CPU wake-up dominates
//! every case; `taskset -c 0 cargo bench --bench signal` runs all threads
//! on one CPU and shows the CPU cost of each path instead.
//!
//! Two floors in `signal_cost`, to read the ratios against: `kill_blocked`
//! (`kill(self, SIGHUP)` with SIGHUP blocked: the system call, no delivery)
//! and `kill_raw_handler` (`kill(self, SIGTTIN)` delivered to a raw no-op
//! handler: system call, signal frame, `sigreturn`). Every handler-based
//! design (procctl's, signal-hook's) pays the second on top of a thread
//! wake-up; signalfd pays only the first.

#[cfg(unix)]
mod imp {
    use std::io::{Read, Write};
    use std::thread;

    use criterion::{Criterion, criterion_group};
    use procctl::signal::{self, SaFlags, SigHandler, SigSet, Signals};
    use procctl::{Pid, Signal, pipe};

    fn bench(c: &mut Criterion) {
        // Blocked in this thread before any other thread starts, so every
        // thread inherits it: SIGWINCH stays pending for the signalfd, SIGHUP
        // for `kill_blocked`.
        let _blocked = signal::block(&SigSet::from_iter([Signal::WINCH, Signal::HUP])).unwrap();
        let me = Pid::current();
        let mut group = c.benchmark_group("signal_wakeup");
        let mut byte = [0u8; 1];

        {
            let (mut req_r, mut req_w) = pipe::pipe().unwrap();
            let (mut done_r, mut done_w) = pipe::pipe().unwrap();
            let echo = thread::spawn(move || {
                let mut b = [0u8; 1];
                while req_r.read_exact(&mut b).is_ok() {
                    done_w.write_all(&b).unwrap();
                }
            });
            group.bench_function("pipe_thread_wakeup", |b| {
                b.iter(|| {
                    req_w.write_all(&[1]).unwrap();
                    done_r.read_exact(&mut byte).unwrap();
                })
            });
            drop(req_w);
            echo.join().unwrap();
        }

        {
            let (mut done_r, done_w) = pipe::pipe().unwrap();
            let id = signal::register(Signal::USR1, move |_| {
                (&done_w).write_all(&[1]).unwrap();
            })
            .unwrap();
            group.bench_function("procctl_register", |b| {
                b.iter(|| {
                    signal::kill(me, Signal::USR1).unwrap();
                    done_r.read_exact(&mut byte).unwrap();
                })
            });
            signal::unregister(id);
        }

        {
            let (mut done_r, mut done_w) = pipe::pipe().unwrap();
            let signals = Signals::new([Signal::USR2]).unwrap();
            // The thread stays blocked in the iterator until the process ends.
            thread::spawn(move || {
                for _ in signals {
                    done_w.write_all(&[1]).unwrap();
                }
            });
            group.bench_function("procctl_signals_iter", |b| {
                b.iter(|| {
                    signal::kill(me, Signal::USR2).unwrap();
                    done_r.read_exact(&mut byte).unwrap();
                })
            });
        }

        {
            let (mut done_r, mut done_w) = pipe::pipe().unwrap();
            let mut signals = signal_hook::iterator::Signals::new([libc::SIGURG]).unwrap();
            thread::spawn(move || {
                for _ in signals.forever() {
                    done_w.write_all(&[1]).unwrap();
                }
            });
            group.bench_function("signal_hook_iter", |b| {
                b.iter(|| {
                    signal::kill(me, Signal::URG).unwrap();
                    done_r.read_exact(&mut byte).unwrap();
                })
            });
        }

        #[cfg(target_os = "linux")]
        {
            let (mut done_r, mut done_w) = pipe::pipe().unwrap();
            thread::spawn(move || {
                let mut fd = signalfd(libc::SIGWINCH);
                let mut info = [0u8; std::mem::size_of::<libc::signalfd_siginfo>()];
                while fd.read(&mut info).is_ok() {
                    done_w.write_all(&[1]).unwrap();
                }
            });
            group.bench_function("signalfd", |b| {
                b.iter(|| {
                    signal::kill(me, Signal::WINCH).unwrap();
                    done_r.read_exact(&mut byte).unwrap();
                })
            });
        }
        group.finish();

        let mut group = c.benchmark_group("signal_cost");
        group.bench_function("kill_blocked", |b| {
            b.iter(|| signal::kill(me, Signal::HUP).unwrap())
        });
        // Leave nothing pending behind.
        signal::wait_for(&SigSet::from(Signal::HUP), Some(std::time::Duration::ZERO)).unwrap();
        // SAFETY: the handler does nothing.
        unsafe { signal::sigaction(Signal::TTIN, SigHandler::Handler(nop), SaFlags::empty()) }
            .unwrap();
        group.bench_function("kill_raw_handler", |b| {
            b.iter(|| signal::kill(me, Signal::TTIN).unwrap())
        });
        group.finish();
    }

    extern "C" fn nop(_: std::ffi::c_int) {}

    /// `signalfd(-1, {sig}, SFD_CLOEXEC)` as a `File`.
    #[cfg(target_os = "linux")]
    fn signalfd(sig: i32) -> std::fs::File {
        use std::os::fd::FromRawFd;
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the set; sigaddset adds a valid signal;
        // signalfd returns a new descriptor that we own.
        let fd = unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            libc::sigaddset(set.as_mut_ptr(), sig);
            libc::signalfd(-1, set.as_ptr(), libc::SFD_CLOEXEC)
        };
        assert!(fd >= 0, "signalfd failed");
        // SAFETY: fd is a fresh descriptor owned by nobody else.
        unsafe { std::fs::File::from_raw_fd(fd) }
    }

    criterion_group! {
        name = benches;
        config = Criterion::default()
            .warm_up_time(std::time::Duration::from_secs(1))
            .measurement_time(std::time::Duration::from_secs(4));
        targets = bench
    }
}

#[cfg(unix)]
criterion::criterion_main!(imp::benches);

#[cfg(not(unix))]
fn main() {
    println!("this benchmark is Unix only");
}
