//! Signal handlers the Python way: ordinary closures that run later, on
//! procctl's dispatcher thread, never in signal context.
//!
//! Installs handlers for SIGINT and SIGUSR1 and sends them with `kill` and
//! `raise`, lets an `alarm` fire, and blocks SIGUSR1 to show that a masked
//! signal waits until the mask guard drops. Ends with the Ctrl+C watcher.
//!
//! Run with `cargo run --example signal_handler` (about one second, for the
//! alarm).

#![cfg_attr(not(unix), allow(unused_imports))]

use std::sync::mpsc;
use std::time::{Duration, Instant};

use procctl::signal::{self, SigSet};
use procctl::{Error, Pid, Signal};

#[cfg(unix)]
fn main() -> procctl::Result<()> {
    let (tx, rx) = mpsc::channel::<Signal>();
    let me = Pid::current();
    println!("process {me}");

    let mut ids = Vec::new();
    for sig in [Signal::INT, Signal::USR1, Signal::ALRM] {
        let tx = tx.clone();
        ids.push(signal::register(sig, move |sig| {
            // Not signal context: printing, allocating, locking are fine.
            let thread = std::thread::current();
            println!(
                "  handler: caught {sig} on thread {:?}",
                thread.name().unwrap_or("?")
            );
            tx.send(sig).expect("main is listening");
        })?);
    }
    let expect = |want: Signal| {
        let got = rx.recv_timeout(Duration::from_secs(5));
        assert_eq!(got, Ok(want), "handler for {want} did not run");
    };

    println!("kill({me}, SIGINT): what Ctrl+C sends; our handler replaces the default exit");
    signal::kill(me, Signal::INT)?;
    expect(Signal::INT);

    println!("raise(SIGUSR1): to the calling thread");
    signal::raise(Signal::USR1)?;
    expect(Signal::USR1);

    println!("alarm(1): SIGALRM in one second");
    let start = Instant::now();
    signal::alarm(1);
    expect(Signal::ALRM);
    println!("  ... after {:.2} s", start.elapsed().as_secs_f64());

    println!("block SIGUSR1, then kill({me}, SIGUSR1)");
    let guard = signal::block(&SigSet::from(Signal::USR1))?;
    signal::kill(me, Signal::USR1)?;
    assert!(signal::pending()?.contains(Signal::USR1));
    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
    println!("  SIGUSR1 is pending, no handler ran; dropping the guard");
    drop(guard);
    expect(Signal::USR1);
    println!("  delivered as soon as the mask was restored");

    for id in ids {
        signal::unregister(id);
    }
    println!(
        "handlers unregistered: SIGINT is {:?} again",
        signal::disposition(Signal::INT)?
    );

    // Python's KeyboardInterrupt: check for Ctrl+C in a long loop.
    let ctrl_c = signal::watch_interrupt()?;
    let mut done = 0;
    let result: procctl::Result<()> = (|| {
        for step in 0..1_000_000 {
            ctrl_c.check()?;
            if step == 1000 {
                signal::raise(Signal::INT)?; // as if the user pressed Ctrl+C
            }
            done = step;
        }
        Ok(())
    })();
    assert!(matches!(result, Err(Error::Interrupted(Signal::INT))));
    println!(
        "watcher: long loop stopped after step {done}: {}",
        result.unwrap_err()
    );
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    println!("signals beyond Ctrl+C are Unix only");
}
