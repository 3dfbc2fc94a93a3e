//! # procctl: safe, typed POSIX process control
//!
//! Rust programs that need real process control (fork a worker, exec a
//! program, wait for any child or a specific one, run a shell command, talk
//! to a child over a pipe, handle signals, and never leave zombies behind)
//! usually juggle `std::process`, raw `libc`/`nix` calls with `unsafe`, and a
//! signal crate. procctl is one coherent, safe API for all of it, modelled on
//! the classic process chapter of Python's `os` module, with types instead of
//! integers and errors instead of `-1`.
//!
//! - **Typed core.** [`Pid`] is never 0 or negative; [`ExitStatus`] is
//!   "exited with a code" or "killed by a [`Signal`]", printed exactly like
//!   std prints it; [`WaitStatus`] adds stopped and continued; every failure
//!   is an [`Error`] naming the call, the program or the pid, with the errno
//!   kept as its source.
//! - **A safe `fork`.** [`proc::fork`] refuses a multi-threaded process,
//!   flushes stdio first, turns a panic in the child into exit code 101 and
//!   always ends the child with `_exit`.
//! - **No zombies, no recycled pids.** A [`proc::Child`] holds a pidfd on
//!   Linux; every reaping path hands the status to its owner; a dropped
//!   `Child` is reaped later without a background thread ([`reap`]).
//! - **Groups of processes.** [`proc::Pipeline`] runs `a | b | c` with
//!   procctl's own pipes, in one process group, and reports every member's
//!   status ([`proc::PipeStatus`], bash's `PIPESTATUS` and `pipefail`);
//!   [`proc::Command::wait_delay`] bounds the wait for pipes a grandchild
//!   keeps open; [`proc::Child::signal_group`] signals a child's group
//!   without racing its reaping; on Linux [`proc::Scope`] (a cgroup v2) holds
//!   a whole tree, `setsid` daemons included, for one kill and one wait.
//!
//! ## Python's `os` → procctl
//!
//! | Python                          | procctl                                              |
//! |---------------------------------|------------------------------------------------------|
//! | `os.fork()`                     | [`proc::fork`]`(closure) -> Child`                   |
//! | `os.wait()`                     | [`proc::wait`]`() -> (Pid, ExitStatus)`              |
//! | `os.waitpid(pid, os.WNOHANG)`   | [`proc::waitpid`]`(pid, WaitOptions::NOHANG)`, [`proc::Child::try_wait`] |
//! | `os.wait4(pid, 0)`              | [`proc::Child::wait_with_rusage`]                    |
//! | `os.execv`/`execvp`/`execve`/`execvpe` | [`proc::execv`], [`proc::execvp`], [`proc::execve`], [`proc::execvpe`] |
//! | `os._exit(n)`                   | [`proc::_exit`]                                      |
//! | `os.kill(pid, sig)`             | [`proc::Child::signal`]                              |
//! | `os.waitstatus_to_exitcode(s)`  | [`ExitStatus::exit_code`]                            |
//! | `os.setpgid`, `os.setsid`, `os.getpgid`, `os.getsid` | [`proc::setpgid`], [`proc::setsid`], [`proc::getpgid`], [`proc::getsid`] |
//! | reaping zombies                 | [`reap::reap_zombies`], dropped `Child` handles      |
//! | `Popen(a, stdout=PIPE)` + `Popen(b, stdin=p.stdout)`, a shell's `a \| b` | [`proc::Command::pipe`], [`proc::Pipeline`] -> [`proc::PipelineChild`] |
//! | bash's `PIPESTATUS`, `set -o pipefail` | [`proc::PipeStatus::statuses`], [`proc::PipeStatus::pipefail`], [`proc::PipeStatus::pipefail_ignoring_sigpipe`] |
//! | `communicate(timeout=t)`, `TimeoutExpired.output` | [`proc::Child::communicate_timeout`], [`Error::partial_output`] |
//! | Go's `cmd.WaitDelay`            | [`proc::Command::wait_delay`], [`proc::Output::pipes_held_open`] |
//! | `os.killpg(os.getpgid(p.pid), sig)` | [`proc::Child::signal_group`]                    |
//! | `os.openpty()`, `pty.fork()`, `pty.spawn(argv)` | [`pty::open`], [`proc::Command::pty`] (Unix) |
//! | `systemd-run --scope`, `cgroup.kill` | `proc::Scope` (Linux): `Command::scope`, `Scope::kill`, `Scope::wait` |
//! | `Popen(user=, group=, extra_groups=, umask=)` | `Command::uid`, `gid`, `groups`, `umask` (Unix) |
//! | `preexec_fn=lambda: resource.setrlimit(..)`, `os.chroot`, `os.nice`, `os.sched_setaffinity`, `os.unshare`, `prctl(PR_SET_PDEATHSIG)` | `Command::rlimit`, `chroot`, `nice`, `cpu_affinity`, `unshare` (+ `uid_map`/`gid_map`), `parent_death_signal`, `no_new_privs`: data, no `pre_exec` |
//!
//! ## A tour in twenty lines
//!
//! ```
//! # #[cfg(unix)] {
//! use procctl::proc::{fork, wait, WaitOptions, waitpid};
//! use procctl::{ExitStatus, Signal};
//! use std::time::Duration;
//!
//! # if procctl::proc::thread_count() == Some(1) {
//! // Fork a worker; its closure's return value is its exit code.
//! let worker = fork(|| 3)?;
//! let (pid, status) = wait()?;
//! assert_eq!((pid, status), (worker.pid(), ExitStatus::Exited(3)));
//!
//! // A long-running child: poll it, signal it, wait with a deadline.
//! let sleeper = fork(|| { std::thread::sleep(Duration::from_secs(60)); 0 })?;
//! assert_eq!(waitpid(sleeper.pid(), WaitOptions::NOHANG)?, None);
//! sleeper.signal(Signal::TERM)?;
//! let status = sleeper.wait_timeout(Duration::from_secs(10))?.unwrap();
//! assert_eq!(status.signal(), Some(Signal::TERM));
//! assert_eq!(status.to_string(), format!("signal: {} (SIGTERM)", Signal::TERM.as_raw()));
//! # }
//! # }
//! # Ok::<(), procctl::Error>(())
//! ```
//!
//! ## Platforms
//!
//! | Feature                                   | Linux            | macOS, FreeBSD            | Windows            |
//! |-------------------------------------------|------------------|---------------------------|--------------------|
//! | typed core (`Pid`, statuses, `Signal`)    | yes              | yes                       | yes                |
//! | `fork`, `exec*`, `waitpid`, groups        | yes              | yes                       | no (`cfg(unix)`)   |
//! | `Command`, `Child`, `system`, `popen`     | yes              | yes                       | portable subset, through `std::process` and `cmd.exe /C` |
//! | `Child` never signals a recycled pid      | pidfd            | reap lock                 | process handle     |
//! | `Child::wait_timeout`                     | pidfd + `poll`   | `WNOHANG` at intervals    | `WaitForSingleObject` |
//! | `Child::signal`                           | any signal       | any signal                | `KILL`/`TERM`: `TerminateProcess`; others unsupported |
//! | `signal::register`, `Signals`, `watch_interrupt` | any catchable signal | any catchable signal | `INT`, `BREAK` (console control handler) |
//! | safe `fork`'s thread check                | `/proc/self/task`| `proc_pidinfo` / `sysctl` | n/a                |
//! | [`proc::spawn_task`]                      | forked process   | forked process            | thread             |
//! | [`reap::reap_zombies`]                    | `waitpid` loop   | `waitpid` loop            | `Ok(vec![])`       |
//! | [`proc::Pipeline`]                        | own process group | own process group        | members and pipes through `std::process`; no group |
//! | `wait_delay`, holders of a cut pipe       | pidfd + `poll`; holders named from `/proc` | `WNOHANG` at intervals; no holder named | reader threads; no holder named |
//! | [`proc::Child::signal_group`]             | pidfd (6.9+), else `killpg` under the reap lock | `killpg` under the reap lock | no (`cfg(unix)`) |
//! | `proc::Scope` (cgroup v2)                 | yes (root or a delegated subtree) | no               | no                 |
//!
//! ## Limitations
//!
//! - The safe [`proc::fork`] needs a single-threaded process. Tests run by
//!   libtest are always multi-threaded: put tests that fork in a
//!   `harness = false` test binary.
//! - A status reaped by code outside procctl (a raw `libc::wait`) cannot
//!   reach its `Child`; that handle's `wait` then fails with
//!   [`Error::NotChild`].

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]
// The docs link Unix-only items (`fork`, `Child`, `waitpid`, ...) from
// portable pages; in a Windows build of the docs those items do not exist.
#![cfg_attr(
    not(unix),
    allow(rustdoc::broken_intra_doc_links, rustdoc::private_intra_doc_links)
)]

#[cfg(all(unix, any(feature = "tokio", feature = "async-io")))]
mod async_common;
#[cfg(all(unix, feature = "async-io"))]
pub mod async_io;
pub mod error;
mod pid;
pub mod pipe;
pub mod proc;
#[cfg(unix)]
pub mod pty;
pub mod reap;
pub mod signal;
mod status;
mod sys;
#[cfg(all(unix, feature = "tokio"))]
pub mod tokio;

pub use error::{Error, Result};
pub use pid::Pid;
pub use signal::Signal;
pub use status::{ExitStatus, WaitStatus};
