//! [`Child::communicate`]: feed a child's stdin while draining its stdout
//! and stderr at once, so no amount of data either way can deadlock.
//!
//! One public layer (the argument check, the deadline, the kill at the
//! deadline, the wait delay, the [`Output`]) over one pump per platform,
//! both behind the same crate-private entry point, [`pump`]: on Unix a
//! `poll` loop and no thread, on Windows a writer thread and one reader
//! thread per output pipe (Windows pipes cannot be polled).
//! `Popen::communicate` and pipelines call the same pump.
//!
//! The pump watches any number of processes ("have all of these ended?")
//! so that a pipeline's members can share one pair of output pipes: the
//! wait delay starts once the last of them has ended.

use std::io::{PipeReader, PipeWriter};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::child::Child;
pub(crate) use super::common::Output;
use super::common::PipesHeldOpen;
use crate::error::{Error, Result};

#[cfg(unix)]
use poll_pump as backend;
#[cfg(windows)]
use thread_pump as backend;

/// What a [`pump`] that ran out of time leaves: the pipes still open and
/// the input not yet written, to go on with later through
/// [`Resume::pump`].
pub(crate) use backend::Resume;
/// The crate-private naming of the cut streams and their holders, for
/// the async pumps.
#[cfg(all(unix, any(feature = "tokio", feature = "async-io")))]
pub(crate) use poll_pump::held_open;

/// How a [`pump`] ended.
pub(crate) enum Pumped {
    /// Every pipe reached end-of-file (`held: None`), or the wait delay
    /// after the last watched process ended ran out and the pipes still
    /// open were closed (`held` says which, and who held them). `out` is
    /// everything read from stdout and stderr.
    Done {
        out: [Vec<u8>; 2],
        held: Option<PipesHeldOpen>,
    },
    /// The deadline passed first. `out` is what was read so far; `resume`
    /// keeps the rest.
    TimedOut { out: [Vec<u8>; 2], resume: Resume },
}

/// The crate-private entry point of every `communicate`: writes `input`
/// into `stdin` (then closes it) while reading both `outputs` (stdout,
/// stderr) to end-of-file, until `deadline` (`None`: none).
///
/// `children` are the processes at the other ends (one child, or every
/// member of a pipeline). They matter only with a `wait_delay`: once all
/// of them have ended (Linux: their pidfds poll readable; elsewhere
/// `try_wait`, checked at 1 to 20 ms intervals, which reaps), the pipes
/// get at most `wait_delay` more to reach end-of-file; then the pump stops,
/// closes the pipes still open and reports them (`Pumped::Done` with
/// `held`). Without a `wait_delay` the children are not looked at and the
/// pump reads to end-of-file, however long that takes.
///
/// A stdin whose reader has gone (`EPIPE`) is not an error: the rest of
/// the input is dropped.
///
/// # Errors
///
/// [`Error::Os`] naming `poll`, `read`, `write`, `fcntl` (Windows:
/// `ReadFile`, `WriteFile`, `CreateThread`); as `Child::try_wait` where a
/// child is polled.
pub(crate) fn pump(
    stdin: Option<PipeWriter>,
    input: &[u8],
    outputs: [Option<PipeReader>; 2],
    children: &[&Child],
    deadline: Option<Instant>,
    wait_delay: Option<Duration>,
) -> Result<Pumped> {
    backend::pump(stdin, input, outputs, children, deadline, wait_delay)
}

/// [`pump`] with no process to watch and no wait delay, the pipes closed
/// if `deadline` passes first (`None` then): what `Popen::communicate`
/// calls, and the signature callers had before the wait delay.
pub(crate) fn pump_owned(
    stdin: Option<PipeWriter>,
    input: &[u8],
    outputs: [Option<PipeReader>; 2],
    deadline: Option<Instant>,
) -> Result<Option<[Vec<u8>; 2]>> {
    Ok(match pump(stdin, input, outputs, &[], deadline, None)? {
        Pumped::Done { out, .. } => Some(out),
        Pumped::TimedOut { .. } => None,
    })
}

/// What a [`Child`] or a pipeline keeps for `communicate` between calls.
#[derive(Default)]
pub(crate) struct CommState {
    /// [`Command::wait_delay`](super::Command::wait_delay),
    /// [`Pipeline::wait_delay`](super::Pipeline::wait_delay).
    pub(crate) wait_delay: Option<Duration>,
    /// The pipes and input left by a `communicate_timeout` that expired.
    resume: Option<Resume>,
}

impl CommState {
    /// No expired `communicate_timeout` yet, and this wait delay.
    pub(crate) fn with_wait_delay(wait_delay: Option<Duration>) -> CommState {
        CommState {
            wait_delay,
            resume: None,
        }
    }
}

impl std::fmt::Debug for CommState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommState")
            .field("wait_delay", &self.wait_delay)
            .field("resume", &self.resume.is_some())
            .finish()
    }
}

/// A child or a pipeline, as `communicate` drives it: what
/// [`communicate_until`] needs to run the one protocol both share (the
/// refusals, the resume after an expired deadline, the wait, the kill at
/// the deadline).
pub(crate) trait Communicant {
    /// An [`ExitStatus`](crate::ExitStatus), or every member's.
    type Status;
    /// What `communicate` returns.
    type Output;
    /// What the refusal of input without a piped stdin names.
    const WHAT: &'static str;
    /// The state kept between calls.
    fn comm(&self) -> &Mutex<CommState>;
    /// The processes at the other ends of the pipes.
    fn processes(&self) -> Vec<&Child>;
    /// Takes the stdin pipe, if piped and not taken.
    fn stdin_pipe(&self) -> Option<PipeWriter>;
    /// Takes the stdout and stderr pipes, if piped and not taken.
    fn output_pipes(&self) -> [Option<PipeReader>; 2];
    /// Waits for the end.
    fn wait_end(&self) -> Result<Self::Status>;
    /// Waits for the end at most `timeout`.
    fn wait_end_timeout(&self, timeout: Duration) -> Result<Option<Self::Status>>;
    /// The deadline passed: kills every process and reaps it.
    fn kill_and_reap(&self) -> Result<()>;
    /// The output of a call that ended.
    fn output(status: Self::Status, out: [Vec<u8>; 2], held: Option<PipesHeldOpen>)
    -> Self::Output;
}

/// `communicate` and `communicate_timeout` of a child or a pipeline.
pub(crate) fn communicate_until<C: Communicant>(
    party: &C,
    input: &[u8],
    deadline: Option<(Instant, Duration)>,
) -> Result<C::Output> {
    let at = deadline.map(|(at, _)| at);
    let (delay, resume) = {
        let mut state = lock(party.comm());
        (state.wait_delay, state.resume.take())
    };
    let processes = party.processes();
    let pumped = match resume {
        Some(resume) if !input.is_empty() => {
            lock(party.comm()).resume = Some(resume);
            return Err(Error::InvalidArgument {
                what: "communicate input",
                value: format!(
                    "{} bytes after a timed-out communicate, which keeps the rest of its own input",
                    input.len()
                ),
            });
        }
        Some(resume) => resume.pump(&processes, at, delay)?,
        None => {
            let stdin = party.stdin_pipe();
            if stdin.is_none() && !input.is_empty() {
                // Nothing taken but nothing to give back either: there
                // was no stdin. The output pipes stay in the handle.
                return Err(Error::InvalidArgument {
                    what: "communicate input",
                    value: format!(
                        "{} bytes for a {} whose stdin is not piped",
                        input.len(),
                        C::WHAT
                    ),
                });
            }
            pump(stdin, input, party.output_pipes(), &processes, at, delay)?
        }
    };
    let (out, held) = match pumped {
        Pumped::Done { out, held } => (out, held),
        Pumped::TimedOut { out, resume } => {
            lock(party.comm()).resume = Some(resume);
            return Err(time_out(party, out, deadline));
        }
    };
    let status = match at {
        None => Some(party.wait_end()?),
        Some(at) => party.wait_end_timeout(at.saturating_duration_since(Instant::now()))?,
    };
    match status {
        Some(status) => Ok(C::output(status, out, held)),
        None => Err(time_out(party, out, deadline)),
    }
}

/// The deadline passed: kill and reap, return the error that carries
/// `out`.
fn time_out<C: Communicant>(
    party: &C,
    out: [Vec<u8>; 2],
    deadline: Option<(Instant, Duration)>,
) -> Error {
    if let Err(e) = party.kill_and_reap() {
        return e;
    }
    let [stdout, stderr] = out;
    Error::Timeout {
        what: "communicate",
        after: deadline.map_or(Duration::ZERO, |(_, t)| t),
        partial: Some(Box::new((stdout, stderr))),
    }
}

impl Communicant for Child {
    type Status = crate::ExitStatus;
    type Output = Output;
    const WHAT: &'static str = "child";

    fn comm(&self) -> &Mutex<CommState> {
        &self.comm
    }

    fn processes(&self) -> Vec<&Child> {
        vec![self]
    }

    fn stdin_pipe(&self) -> Option<PipeWriter> {
        self.take_stdin()
    }

    fn output_pipes(&self) -> [Option<PipeReader>; 2] {
        [self.take_stdout(), self.take_stderr()]
    }

    fn wait_end(&self) -> Result<crate::ExitStatus> {
        self.wait()
    }

    fn wait_end_timeout(&self, timeout: Duration) -> Result<Option<crate::ExitStatus>> {
        self.wait_timeout(timeout)
    }

    fn kill_and_reap(&self) -> Result<()> {
        self.kill().and_then(|()| backend::reap_killed(self))
    }

    fn output(status: crate::ExitStatus, out: [Vec<u8>; 2], held: Option<PipesHeldOpen>) -> Output {
        Output::new(status, out, held)
    }
}

fn lock(m: &Mutex<CommState>) -> MutexGuard<'_, CommState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Child {
    /// Writes `input` to the child's stdin, closes it, reads its stdout and
    /// stderr to the end, and waits for it.
    ///
    /// Works on the pipes of a child spawned with
    /// [`Stdio::piped`](super::Stdio::piped) (those not taken with
    /// `take_stdin`/`take_stdout`/`take_stderr`). The three pipes are
    /// served at once, so it cannot deadlock however much flows each way.
    /// A child that exits or closes its stdin before reading all of
    /// `input` is not an error: the rest is dropped.
    ///
    /// **A pipe read to the end can outlive the child.** A grandchild that
    /// inherited stdout or stderr (`sh -c 'server &'`, a daemon that does
    /// not close its descriptors) keeps the pipe open after the child has
    /// exited, and reading to end-of-file then waits for the grandchild
    /// too: `communicate` and [`Command::output`](super::Command::output)
    /// hang as long as it runs (std and Python behave the same:
    /// CPython gh-81605, Go #23019). Set a
    /// [wait delay](Child::set_wait_delay) (or
    /// [`Command::wait_delay`](super::Command::wait_delay)) to bound that
    /// wait: once the child has ended, the pipes get at most that long to
    /// reach end-of-file, then procctl closes them and returns what it
    /// read, with [`Output::pipes_held_open`] naming the streams cut and
    /// who held them.
    ///
    /// After a [`communicate_timeout`](Child::communicate_timeout) that
    /// expired, `communicate` goes on where it stopped: it writes what was
    /// left of that call's input (its own `input` must then be empty) and
    /// returns the output read after the bytes the timeout error carried.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `input` is not empty but stdin is not
    /// piped (the output pipes are then left in the handle), or after an
    /// expired `communicate_timeout` (which keeps its own input);
    /// [`Error::Os`] if `poll` (Unix), a read or a write fails for
    /// another reason; as [`Child::wait`].
    ///
    /// # Platform notes
    ///
    /// On Unix one `poll` loop does all three at once, and no thread is
    /// started. Writing to a pipe whose reader has gone raises `SIGPIPE`,
    /// which kills a process that did not ignore it. While this runs
    /// `SIGPIPE` is blocked in the calling thread, and a `SIGPIPE` raised
    /// by our own write is taken back before the mask is restored: the
    /// write just fails with `EPIPE`. With a wait delay, on Linux the
    /// child's pidfd is polled with the pipes (no timer, no busy loop);
    /// elsewhere the child is checked with `WNOHANG` at intervals growing
    /// from 1 to 20 ms.
    ///
    /// On Windows pipes cannot be polled: a writer thread and one reader
    /// thread per output pipe do the same job. After a wait delay the
    /// threads still blocked on a pipe that a grandchild holds are left to
    /// end with it (the pipe is closed then, not at the cut), and no holder
    /// is named.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    ///
    /// # #[cfg(unix)] {
    /// let child = Command::new("sh")
    ///     .args(["-c", "tr a-z A-Z; echo done >&2"])
    ///     .stdin(Stdio::piped())
    ///     .stdout(Stdio::piped())
    ///     .stderr(Stdio::piped())
    ///     .spawn()?;
    /// let out = child.communicate(b"shout")?;
    /// assert_eq!(out.stdout, b"SHOUT");
    /// assert_eq!(out.stderr, b"done\n");
    /// assert!(out.status.success());
    /// # }
    /// # #[cfg(windows)] {
    /// # let child = Command::new("cmd.exe")
    /// #     .args(["/C", "more"]) // copies stdin to stdout when piped
    /// #     .stdin(Stdio::piped())
    /// #     .stdout(Stdio::piped())
    /// #     .spawn()?;
    /// # let out = child.communicate(b"xyz\r\n")?;
    /// # assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "xyz");
    /// # assert!(out.status.success());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn communicate(&self, input: &[u8]) -> Result<Output> {
        communicate_until(self, input, None)
    }

    /// [`Child::communicate`] with a deadline: if the child has not closed
    /// its output and exited within `timeout`, it is killed and the call
    /// fails with what was read so far.
    ///
    /// At the deadline the child is killed (`SIGKILL`) and reaped, as
    /// before; its pipes and the part of `input` not yet written stay with
    /// this handle. The error carries the output read before the deadline
    /// ([`Error::partial_output`]), and a later
    /// [`communicate`](Child::communicate) (its `input` empty) continues
    /// from there without losing or repeating a byte: it returns what was
    /// still buffered in the pipes and what grandchildren that hold them
    /// still write. Python's idiom `proc.kill(); outs, errs =
    /// proc.communicate()` after `TimeoutExpired` thus works as is (the
    /// `kill` of a reaped child sends nothing); unlike Python, the child
    /// is not left running at the deadline.
    ///
    /// A [wait delay](Child::set_wait_delay) applies to that later call
    /// too (the child has ended: the pipes get at most the delay), so a
    /// grandchild that holds a pipe cannot make it hang.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] (`io::ErrorKind::TimedOut`) when the time is up,
    /// with [`Error::partial_output`]. Otherwise as
    /// [`Child::communicate`].
    ///
    /// # Platform notes
    ///
    /// On Unix the child is killed with `SIGKILL` and reaped before the
    /// call returns. On Windows it is terminated (`TerminateProcess`) and
    /// waited for at most 10 seconds; the threads reading its pipes go on,
    /// and the next `communicate` collects what they read.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::proc::{Command, Stdio};
    ///
    /// # #[cfg(unix)] {
    /// let child = Command::new("sh")
    ///     .args(["-c", "echo first; sleep 60"])
    ///     .stdout(Stdio::piped())
    ///     .spawn()?;
    /// let err = child.communicate_timeout(b"", Duration::from_millis(300)).unwrap_err();
    /// assert!(matches!(err, procctl::Error::Timeout { .. }));
    /// assert_eq!(err.partial_output().unwrap().0, b"first\n");
    /// assert_eq!(child.try_wait()?.and_then(|s| s.signal()), Some(procctl::Signal::KILL));
    /// let rest = child.communicate(b"")?; // nothing more: the sleep was killed
    /// assert!(rest.stdout.is_empty());
    /// # }
    /// # #[cfg(windows)] {
    /// # let child = Command::new("ping")
    /// #     .args(["-n", "30", "127.0.0.1"])
    /// #     .stdout(Stdio::piped())
    /// #     .spawn()?;
    /// # let err = child.communicate_timeout(b"", Duration::from_millis(100)).unwrap_err();
    /// # assert!(matches!(err, procctl::Error::Timeout { .. }));
    /// # assert!(child.wait_timeout(Duration::from_secs(10))?.is_some());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn communicate_timeout(&self, input: &[u8], timeout: Duration) -> Result<Output> {
        // A timeout too large for an `Instant` is no deadline at all.
        let deadline = Instant::now().checked_add(timeout).map(|at| (at, timeout));
        communicate_until(self, input, deadline)
    }

    /// Sets how long `communicate` (and `output`) wait for the captured
    /// pipes to reach end-of-file once the child has ended; `None` (the
    /// default): as long as it takes. What
    /// [`Command::wait_delay`](super::Command::wait_delay) sets on the
    /// children it spawns; this sets it on any child (adopted, forked).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use procctl::proc::{Command, Stdio};
    ///
    /// # #[cfg(unix)] {
    /// let child = Command::new("sh")
    ///     .args(["-c", "echo hi; sleep 5 &"])
    ///     .stdout(Stdio::piped())
    ///     .spawn()?;
    /// child.set_wait_delay(Some(Duration::from_millis(100)));
    /// assert_eq!(child.wait_delay(), Some(Duration::from_millis(100)));
    /// let started = Instant::now();
    /// let out = child.communicate(b"")?;
    /// assert!(started.elapsed() < Duration::from_secs(3));
    /// assert_eq!(out.stdout, b"hi\n");
    /// # for h in out.pipes_held_open().unwrap().all_holders() { let _ = procctl::signal::kill(h.pid(), procctl::Signal::KILL); }
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn set_wait_delay(&self, delay: Option<Duration>) {
        lock(&self.comm).wait_delay = delay;
    }

    /// The wait delay `communicate` applies (see
    /// [`Child::set_wait_delay`]).
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// let child = procctl::proc::Command::new("true").spawn()?;
    /// assert_eq!(child.wait_delay(), None);
    /// # child.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait_delay(&self) -> Option<Duration> {
        lock(&self.comm).wait_delay
    }
}

/// The Unix pump: one `poll` loop over the three pipes and the watched
/// children's pidfds, no thread.
#[cfg(unix)]
mod poll_pump {
    use std::io::{self, PipeReader, PipeWriter, Write};
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
    use std::time::{Duration, Instant};

    use super::{Child, Pumped};
    use crate::Pid;
    use crate::error::{Error, Result};
    use crate::proc::common::{PipeHolder, PipesHeldOpen, StdStream};
    use crate::sys::holders;
    use crate::sys::poll::{self, SigpipeBlock, Watch};

    /// The pipes still open and the input not yet written when a pump's
    /// deadline passed (blocking again).
    pub(crate) struct Resume {
        stdin: Option<PipeWriter>,
        rest: Vec<u8>,
        outputs: [Option<PipeReader>; 2],
    }

    impl Resume {
        /// [`super::pump`] again, on what is left.
        pub(crate) fn pump(
            self,
            children: &[&Child],
            deadline: Option<Instant>,
            wait_delay: Option<Duration>,
        ) -> Result<Pumped> {
            pump(
                self.stdin,
                &self.rest,
                self.outputs,
                children,
                deadline,
                wait_delay,
            )
        }
    }

    /// See [`super::pump`].
    pub(crate) fn pump(
        stdin: Option<PipeWriter>,
        input: &[u8],
        outputs: [Option<PipeReader>; 2],
        children: &[&Child],
        deadline: Option<Instant>,
        wait_delay: Option<Duration>,
    ) -> Result<Pumped> {
        let mut p = Pump {
            // Nothing to write: close stdin now so the child sees
            // end-of-file.
            stdin: stdin.filter(|_| !input.is_empty()),
            input,
            written: 0,
            outputs,
            bufs: [Vec::new(), Vec::new()],
            broken: false,
        };
        let end = p.run(children, deadline, wait_delay)?;
        Ok(match end {
            End::Eof => Pumped::Done {
                out: p.bufs,
                held: None,
            },
            End::Cut(held) => Pumped::Done {
                out: p.bufs,
                held: Some(held),
            },
            End::TimedOut => Pumped::TimedOut {
                out: p.bufs,
                resume: Resume {
                    rest: p
                        .stdin
                        .as_ref()
                        .map_or(Vec::new(), |_| p.input[p.written..].to_vec()),
                    stdin: p.stdin,
                    outputs: p.outputs,
                },
            },
        })
    }

    /// After the kill at the deadline: `SIGKILL` cannot be caught, so the
    /// child ends at once; reap it, as the caller may expect.
    pub(super) fn reap_killed(child: &Child) -> Result<()> {
        child.wait().map(drop)
    }

    /// The pidfd that polls readable when `child` has exited (Linux). A
    /// unit test can make the calling thread see none, to take the path of
    /// the systems without pidfds.
    fn exit_fd<'c>(child: &'c Child) -> Option<BorrowedFd<'c>> {
        #[cfg(test)]
        if super::tests::NO_PIDFD.with(std::cell::Cell::get) {
            return None;
        }
        child.exit_fd()
    }

    enum End {
        Eof,
        Cut(PipesHeldOpen),
        TimedOut,
    }

    struct Pump<'a> {
        stdin: Option<PipeWriter>,
        input: &'a [u8],
        written: usize,
        outputs: [Option<PipeReader>; 2],
        bufs: [Vec<u8>; 2],
        /// A write failed with `EPIPE` (so `SIGPIPE` may be pending).
        broken: bool,
    }

    impl Pump<'_> {
        /// Sets the pipes up (non-blocking, bigger for a large input,
        /// `SIGPIPE` blocked while there is a stdin), runs the loop, and
        /// puts the pipes still open back to blocking.
        fn run(
            &mut self,
            children: &[&Child],
            deadline: Option<Instant>,
            wait_delay: Option<Duration>,
        ) -> Result<End> {
            let os = |call| move |e| Error::os(call, e);
            let big = self.input.len() - self.written > PIPE_GROW_AT;
            let sigpipe = match &self.stdin {
                Some(w) => {
                    poll::set_nonblocking(w.as_fd(), true).map_err(os("fcntl"))?;
                    if big {
                        poll::grow_pipe(w.as_fd(), PIPE_BIG);
                    }
                    Some(SigpipeBlock::new().map_err(os("pthread_sigmask"))?)
                }
                None => None,
            };
            if big {
                for r in self.outputs.iter().flatten() {
                    poll::grow_pipe(r.as_fd(), PIPE_BIG);
                }
            }
            let result = self
                .outputs
                .iter()
                .flatten()
                .try_for_each(|r| poll::set_nonblocking(r.as_fd(), true))
                .map_err(os("fcntl"))
                .and_then(|()| self.run_loop(children, deadline, wait_delay));
            if let Some(w) = &self.stdin {
                let _ = poll::set_nonblocking(w.as_fd(), false);
            }
            if let Some(block) = sigpipe {
                block.finish(self.broken);
            }
            for r in self.outputs.iter().flatten() {
                let _ = poll::set_nonblocking(r.as_fd(), false);
            }
            result
        }

        fn run_loop(
            &mut self,
            children: &[&Child],
            deadline: Option<Instant>,
            wait_delay: Option<Duration>,
        ) -> Result<End> {
            // The children still running, watched only for a wait delay.
            let mut running: Vec<&Child> = match wait_delay {
                Some(_) => children.to_vec(),
                None => Vec::new(),
            };
            // Set once every child has ended: when the pipes get cut
            // (`None` inside: a delay too long to make an `Instant`).
            let mut cut_at: Option<Option<Instant>> = None;
            let mut backoff = Duration::from_millis(1);
            let mut watches = Vec::with_capacity(3 + running.len());
            loop {
                if self.stdin.is_none() && self.outputs.iter().all(Option::is_none) {
                    return Ok(End::Eof);
                }
                let now = Instant::now();
                if let (Some(delay), None, true) = (wait_delay, cut_at, running.is_empty()) {
                    cut_at = Some(now.checked_add(delay));
                }
                let cut = cut_at.flatten();
                if cut.is_some_and(|at| now >= at) {
                    // What the last writers left in the pipes is read
                    // (bounded: a holder may write without end), then the
                    // rest is cut.
                    self.read_outputs(&[true, true], DRAIN_LIMIT)?;
                    if self.stdin.is_none() && self.outputs.iter().all(Option::is_none) {
                        return Ok(End::Eof);
                    }
                    return Ok(End::Cut(self.cut()));
                }
                if deadline.is_some_and(|at| now >= at) {
                    return Ok(End::TimedOut);
                }

                watches.clear();
                let fd = |fd: BorrowedFd<'_>, write| Watch {
                    fd: fd.as_raw_fd(),
                    write,
                    ready: false,
                };
                if let Some(w) = &self.stdin {
                    watches.push(fd(w.as_fd(), true));
                }
                for r in self.outputs.iter().flatten() {
                    watches.push(fd(r.as_fd(), false));
                }
                let pipes = watches.len();
                let mut tick = None;
                for c in &running {
                    match exit_fd(c) {
                        Some(pidfd) => watches.push(fd(pidfd, false)),
                        None => tick = Some(now + backoff),
                    }
                }
                let wake = [deadline, cut, tick].into_iter().flatten().min();
                poll::poll(&mut watches, wake).map_err(|e| Error::os("poll", e))?;

                let mut ready = watches[..pipes].iter().map(|w| w.ready);
                if self.stdin.is_some() && ready.next() == Some(true) {
                    self.write_input()?;
                }
                let readable = [&self.outputs[0], &self.outputs[1]]
                    .map(|o| o.is_some() && ready.next() == Some(true));
                self.read_outputs(&readable, READ_LIMIT)?;

                if !running.is_empty() {
                    let mut pidfds = watches[pipes..].iter().map(|w| w.ready);
                    let mut still = Vec::with_capacity(running.len());
                    for c in running.drain(..) {
                        let ended = match exit_fd(c) {
                            Some(_) => pidfds.next() == Some(true),
                            None => c.try_wait()?.is_some(),
                        };
                        if !ended {
                            still.push(c);
                        }
                    }
                    running = still;
                    if tick.is_some() {
                        backoff = (backoff * 2).min(Duration::from_millis(20));
                    }
                }
            }
        }

        /// Writes until the pipe is full (`EAGAIN`) or the input is done;
        /// then closes stdin.
        fn write_input(&mut self) -> Result<()> {
            let Some(w) = &self.stdin else { return Ok(()) };
            let input = self.input;
            while self.written < input.len() {
                let end = input.len().min(self.written + WRITE_CHUNK);
                match (&*w).write(&input[self.written..end]) {
                    Ok(k) => self.written += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                        // The child stopped reading: not an error.
                        self.broken = true;
                        self.written = input.len();
                    }
                    Err(e) => return Err(Error::os("write", e)),
                }
            }
            if self.written == input.len() {
                self.stdin = None;
            }
            Ok(())
        }

        /// Reads each output marked in `which` until it is empty (`EAGAIN`),
        /// closed (end-of-file, which closes our end) or `limit` bytes were
        /// read from it in this call.
        fn read_outputs(&mut self, which: &[bool; 2], limit: usize) -> Result<()> {
            for ((slot, buf), &go) in self.outputs.iter_mut().zip(&mut self.bufs).zip(which) {
                let Some(r) = slot.as_ref().filter(|_| go) else {
                    continue;
                };
                let start = buf.len();
                while buf.len() - start < limit {
                    // A buffer this full belongs to a large output: read
                    // bigger pieces, into pages faulted in beforehand.
                    let big = buf.len() >= BIG_CHUNK;
                    let chunk = if big { BIG_CHUNK } else { READ_CHUNK };
                    match poll::read_append(r.as_fd(), buf, chunk, big) {
                        Ok(0) => {
                            *slot = None;
                            break;
                        }
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(Error::os("read", e)),
                    }
                }
            }
            Ok(())
        }

        /// Closes the pipes still open, after asking (Linux: `/proc`) who
        /// holds their other ends.
        fn cut(&mut self) -> PipesHeldOpen {
            let held = held_open(
                self.stdin.as_ref().map(AsFd::as_fd),
                [
                    self.outputs[0].as_ref().map(AsFd::as_fd),
                    self.outputs[1].as_ref().map(AsFd::as_fd),
                ],
            );
            self.stdin = None;
            self.outputs = [None, None];
            held
        }
    }

    /// The streams cut at the end of a wait delay, named by the ends of
    /// ours still open (`stdin`, then stdout and stderr), with who holds
    /// their other ends (Linux: `/proc`; elsewhere nobody is named). The
    /// caller closes the ends after this. Shared with the async pumps.
    pub(crate) fn held_open(
        stdin: Option<BorrowedFd<'_>>,
        outputs: [Option<BorrowedFd<'_>>; 2],
    ) -> PipesHeldOpen {
        let mut streams = Vec::new();
        if let Some(w) = stdin {
            streams.push((StdStream::Stdin, holders::pipe_inode(w), false));
        }
        for (r, stream) in outputs
            .into_iter()
            .zip([StdStream::Stdout, StdStream::Stderr])
        {
            if let Some(r) = r {
                streams.push((stream, holders::pipe_inode(r), true));
            }
        }
        let targets: Vec<(u64, bool)> = streams
            .iter()
            .filter_map(|&(_, ino, writers)| Some((ino?, writers)))
            .collect();
        let mut found = holders::holders(&targets).into_iter();
        let cut = streams
            .into_iter()
            .map(|(stream, ino, _)| {
                let held = ino.and_then(|_| found.next()).unwrap_or_default();
                let held = held
                    .into_iter()
                    .filter_map(|h| Some(PipeHolder::new(Pid::from_raw(h.pid)?, h.name)))
                    .collect();
                (stream, held)
            })
            .collect();
        PipesHeldOpen::new(cut)
    }

    /// Inputs above this size get bigger pipe buffers (stdin and the outputs,
    /// which for a filter carry as much): fewer trips through `poll` and fewer
    /// context switches with the child. Measured on 64 MiB through `cat`: from
    /// ~10% slower than std's `output` with a writer thread to parity.
    const PIPE_GROW_AT: usize = 64 << 10;
    const PIPE_BIG: usize = 1 << 20;
    /// The most one `read` takes while an output is small.
    const READ_CHUNK: usize = 64 << 10;
    /// The most one `write` or (for a large output) one `read` moves. A
    /// pipe copies under its lock, and the child spins on that lock while
    /// we hold it: a whole 1 MiB pipe per call kept `cat` spinning for a
    /// third of its time. Measured on 64 MiB through `cat`: 64-72 ms with
    /// unbounded calls, 56-69 ms with 256 KiB ones (std with a writer
    /// thread: 66-81 ms in the same runs).
    const BIG_CHUNK: usize = 256 << 10;
    const WRITE_CHUNK: usize = BIG_CHUNK;
    /// The most read from one output per wake-up, so that the deadline and
    /// the wait delay are checked even while a writer never pauses.
    const READ_LIMIT: usize = 16 << 20;
    /// The most read from one output at the cut: what the child left in a
    /// pipe fits (its capacity is at most `PIPE_BIG` unless the child grew
    /// it), and a holder that writes without pause cannot hold the cut up.
    const DRAIN_LIMIT: usize = 4 << 20;
}

/// The Windows pump: one thread writes the child's stdin and one thread
/// per output pipe reads (Windows pipes cannot be polled like Unix ones),
/// each reporting what it did over one channel.
#[cfg(windows)]
mod thread_pump {
    use std::io::{self, PipeReader, PipeWriter, Read, Write};
    use std::sync::mpsc;
    use std::thread;
    use std::time::{Duration, Instant};

    use super::{Child, Pumped};
    use crate::error::{Error, Result};
    use crate::proc::common::{PipesHeldOpen, StdStream};

    /// After the kill at the deadline: `TerminateProcess` is asynchronous
    /// and leaves no zombie, so wait a while for the end, but never hang on
    /// a process stuck in the kernel, and ignore a failed wait.
    pub(super) fn reap_killed(child: &Child) -> Result<()> {
        let _ = child.wait_timeout(Duration::from_secs(10));
        Ok(())
    }

    enum Msg {
        Written(io::Result<()>),
        Data(usize, Vec<u8>),
        Eof(usize),
        ReadFailed(io::Error),
    }

    /// The threads still at work when a deadline passed, and the channel
    /// on which they report.
    pub(crate) struct Resume {
        rx: mpsc::Receiver<Msg>,
        writing: bool,
        reading: [bool; 2],
    }

    /// See [`super::pump`]. The threads own the pipes; after a cut, those
    /// still blocked on a pipe a grandchild holds end with the grandchild.
    pub(crate) fn pump(
        stdin: Option<PipeWriter>,
        input: &[u8],
        outputs: [Option<PipeReader>; 2],
        children: &[&Child],
        deadline: Option<Instant>,
        wait_delay: Option<Duration>,
    ) -> Result<Pumped> {
        let (tx, rx) = mpsc::channel();
        let mut threads = Resume {
            rx,
            writing: false,
            reading: [false; 2],
        };
        // Nothing to write: close stdin now so the child sees end-of-file.
        if let Some(mut w) = stdin.filter(|_| !input.is_empty()) {
            let input = input.to_vec();
            let tx = tx.clone();
            spawn_thread(move || {
                let r = w.write_all(&input);
                drop(w);
                let _ = tx.send(Msg::Written(r));
            })?;
            threads.writing = true;
        }
        for (i, out) in outputs.into_iter().enumerate() {
            let Some(mut r) = out else { continue };
            let tx = tx.clone();
            spawn_thread(move || {
                loop {
                    let mut buf = vec![0; 64 << 10];
                    let msg = match r.read(&mut buf) {
                        Ok(0) => Msg::Eof(i),
                        Ok(n) => {
                            buf.truncate(n);
                            Msg::Data(i, buf)
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => Msg::ReadFailed(e),
                    };
                    let last = !matches!(msg, Msg::Data(..));
                    // Nobody listens any more (a cut): stop.
                    if tx.send(msg).is_err() || last {
                        break;
                    }
                }
            })?;
            threads.reading[i] = true;
        }
        drop(tx);
        threads.pump(children, deadline, wait_delay)
    }

    impl Resume {
        fn busy(&self) -> bool {
            self.writing || self.reading.iter().any(|&r| r)
        }

        /// [`super::pump`] again, on what is left.
        pub(crate) fn pump(
            mut self,
            children: &[&Child],
            deadline: Option<Instant>,
            wait_delay: Option<Duration>,
        ) -> Result<Pumped> {
            let mut out = [Vec::new(), Vec::new()];
            let mut running: Vec<&Child> = match wait_delay {
                Some(_) => children.to_vec(),
                None => Vec::new(),
            };
            let mut cut_at: Option<Option<Instant>> = None;
            let mut backoff = Duration::from_millis(1);
            loop {
                if !self.busy() {
                    return Ok(Pumped::Done { out, held: None });
                }
                let now = Instant::now();
                if let (Some(delay), None, true) = (wait_delay, cut_at, running.is_empty()) {
                    cut_at = Some(now.checked_add(delay));
                }
                let cut = cut_at.flatten();
                if cut.is_some_and(|at| now >= at) {
                    while let Ok(msg) = self.rx.try_recv() {
                        self.take(msg, &mut out)?;
                    }
                    if !self.busy() {
                        return Ok(Pumped::Done { out, held: None });
                    }
                    let streams = [
                        (self.writing, StdStream::Stdin),
                        (self.reading[0], StdStream::Stdout),
                        (self.reading[1], StdStream::Stderr),
                    ];
                    let cut = streams
                        .into_iter()
                        .filter(|(open, _)| *open)
                        .map(|(_, s)| (s, Vec::new()))
                        .collect();
                    return Ok(Pumped::Done {
                        out,
                        held: Some(PipesHeldOpen::new(cut)),
                    });
                }
                if deadline.is_some_and(|at| now >= at) {
                    return Ok(Pumped::TimedOut { out, resume: self });
                }
                let tick = (!running.is_empty()).then(|| now + backoff);
                let wake = [deadline, cut, tick].into_iter().flatten().min();
                let got = match wake {
                    None => self.rx.recv().map_err(|_| true),
                    Some(at) => self
                        .rx
                        .recv_timeout(at.saturating_duration_since(now))
                        .map_err(|e| e == mpsc::RecvTimeoutError::Disconnected),
                };
                match got {
                    Ok(msg) => self.take(msg, &mut out)?,
                    // Every thread is gone (only a panic leaves without its
                    // last message).
                    Err(true) => {
                        self.writing = false;
                        self.reading = [false; 2];
                    }
                    Err(false) => {}
                }
                if !running.is_empty() {
                    let mut still = Vec::with_capacity(running.len());
                    for c in running.drain(..) {
                        if c.try_wait()?.is_none() {
                            still.push(c);
                        }
                    }
                    running = still;
                    backoff = (backoff * 2).min(Duration::from_millis(20));
                }
            }
        }

        fn take(&mut self, msg: Msg, out: &mut [Vec<u8>; 2]) -> Result<()> {
            match msg {
                Msg::Written(Ok(())) => self.writing = false,
                // The child closed its stdin or exited early: not an error.
                Msg::Written(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                    self.writing = false
                }
                Msg::Written(Err(e)) => return Err(Error::os("WriteFile", e)),
                Msg::Data(i, data) => out[i].extend_from_slice(&data),
                Msg::Eof(i) => self.reading[i] = false,
                Msg::ReadFailed(e) => return Err(Error::os("ReadFile", e)),
            }
            Ok(())
        }
    }

    fn spawn_thread(f: impl FnOnce() + Send + 'static) -> Result<()> {
        thread::Builder::new()
            .name("procctl-communicate".into())
            .spawn(f)
            .map(drop)
            .map_err(|e| Error::os("CreateThread", e))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::proc::{Command, StdStream};
    use crate::{Signal, signal};

    thread_local! {
        /// Set: the pump in this thread polls no pidfd (`try_wait` at
        /// growing intervals instead, as on other Unix systems).
        pub(super) static NO_PIDFD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    #[test]
    fn pump_waits_for_every_child_before_the_delay() {
        shared_pipe_scenario();
    }

    #[test]
    fn pump_waits_for_every_child_without_pidfds() {
        NO_PIDFD.with(|n| n.set(true));
        shared_pipe_scenario();
    }

    /// Two watched children share one stdout pipe, as a pipeline's
    /// members share stderr, and a third, unwatched process (standing in
    /// for a grandchild) holds it too. The wait delay starts when the LAST
    /// watched child has ended: B ends first, A writes later, and cutting
    /// at B's end would lose A's line.
    fn shared_pipe_scenario() {
        let (r, w) = std::io::pipe().unwrap();
        let spawn = |script: &str, w: PipeWriter| {
            Command::new("/bin/sh")
                .args(["-c", script])
                .stdout(w)
                .process_group(0)
                .spawn()
                .unwrap()
        };
        let a = spawn("sleep 0.4; echo late", w.try_clone().unwrap());
        let b = spawn("echo early", w.try_clone().unwrap());
        let b_holder = spawn("echo held; exec sleep 20", w);
        let deadline = Instant::now() + Duration::from_secs(10);
        let pumped = pump(
            None,
            b"",
            [Some(r), None],
            &[&a, &b],
            Some(deadline),
            Some(Duration::ZERO),
        );
        let _ = signal::killpg(b_holder.pid(), Signal::KILL);
        for c in [&a, &b] {
            let _ = signal::killpg(c.pid(), Signal::KILL);
        }
        let Pumped::Done { out, held } = pumped.unwrap() else {
            panic!("timed out");
        };
        let mut lines: Vec<&[u8]> = out[0].split_inclusive(|&c| c == b'\n').collect();
        lines.sort();
        assert_eq!(lines, [&b"early\n"[..], b"held\n", b"late\n"]);
        let held = held.expect("the third process holds the pipe");
        assert_eq!(held.streams().collect::<Vec<_>>(), [StdStream::Stdout]);
        #[cfg(target_os = "linux")]
        assert_eq!(
            held.holders(StdStream::Stdout)
                .iter()
                .map(|h| h.pid())
                .collect::<Vec<_>>(),
            [b_holder.pid()]
        );
        assert!(
            b_holder
                .wait_timeout(Duration::from_secs(10))
                .unwrap()
                .is_some()
        );
    }
}
