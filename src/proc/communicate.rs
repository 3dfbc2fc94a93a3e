//! [`Child::communicate`]: feed a child's stdin while draining its stdout
//! and stderr at once, so no amount of data either way can deadlock.
//!
//! One public layer (the argument check, the deadline, the kill at the
//! deadline, the [`Output`]) over one pump per platform, both behind the
//! same private signature (`backend::pump_owned`): on Unix a `poll` loop
//! and no thread, on Windows a writer thread and one reader thread per
//! output pipe (Windows pipes cannot be polled). `Popen::communicate` calls
//! the same pump.

use std::time::{Duration, Instant};

use super::child::Child;
pub(crate) use super::common::Output;
use crate::error::{Error, Result};

#[cfg(unix)]
use poll_pump as backend;
#[cfg(windows)]
use thread_pump as backend;

/// What `Popen::communicate` calls: the platform's pump on owned pipes;
/// `None` if `deadline` passed first.
pub(crate) use backend::pump_owned;

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
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `input` is not empty but stdin is not
    /// piped (the output pipes are then left in the handle);
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
    /// write just fails with `EPIPE`.
    ///
    /// On Windows pipes cannot be polled: a writer thread and one reader
    /// thread per output pipe do the same job.
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
        self.communicate_until(input, None)
    }

    /// [`Child::communicate`] with a deadline: if the child has not closed
    /// its output and exited within `timeout`, it is killed and the call
    /// fails.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] (`io::ErrorKind::TimedOut`) when the time is up;
    /// what was read so far is dropped. Otherwise as
    /// [`Child::communicate`].
    ///
    /// # Platform notes
    ///
    /// On Unix the child is killed with `SIGKILL` and reaped before the
    /// call returns. On Windows it is terminated (`TerminateProcess`) and
    /// waited for at most 10 seconds; threads still blocked on a pipe that
    /// a grandchild holds open are left to finish on their own.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::proc::{Command, Stdio};
    ///
    /// # #[cfg(unix)]
    /// let child = Command::new("sleep").arg("60").stdout(Stdio::piped()).spawn()?;
    /// # #[cfg(windows)]
    /// # let child = Command::new("ping")
    /// #     .args(["-n", "30", "127.0.0.1"])
    /// #     .stdout(Stdio::piped())
    /// #     .spawn()?;
    /// let err = child.communicate_timeout(b"", Duration::from_millis(100)).unwrap_err();
    /// assert!(matches!(err, procctl::Error::Timeout { .. }));
    /// # #[cfg(unix)]
    /// assert_eq!(child.try_wait()?.and_then(|s| s.signal()), Some(procctl::Signal::KILL));
    /// # #[cfg(windows)]
    /// # assert!(child.wait_timeout(Duration::from_secs(10))?.is_some());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn communicate_timeout(&self, input: &[u8], timeout: Duration) -> Result<Output> {
        // A timeout too large for an `Instant` is no deadline at all.
        let deadline = Instant::now().checked_add(timeout).map(|at| (at, timeout));
        self.communicate_until(input, deadline)
    }

    fn communicate_until(
        &self,
        input: &[u8],
        deadline: Option<(Instant, Duration)>,
    ) -> Result<Output> {
        let stdin = self.take_stdin();
        if stdin.is_none() && !input.is_empty() {
            // Nothing taken but nothing to give back either: there was no
            // stdin. The output pipes stay in the handle.
            return Err(Error::InvalidArgument {
                what: "communicate input",
                value: format!("{} bytes for a child whose stdin is not piped", input.len()),
            });
        }
        let outputs = [self.take_stdout(), self.take_stderr()];
        let at = deadline.map(|(at, _)| at);
        let pumped = backend::pump_owned(stdin, input, outputs, at)?;
        let status = match (&pumped, at) {
            (None, _) => None,
            (Some(_), None) => Some(self.wait()?),
            (Some(_), Some(at)) => {
                self.wait_timeout(at.saturating_duration_since(Instant::now()))?
            }
        };
        match (status, pumped) {
            (Some(status), Some([stdout, stderr])) => Ok(Output {
                status,
                stdout,
                stderr,
            }),
            _ => {
                self.kill()?;
                backend::reap_killed(self)?;
                Err(Error::Timeout {
                    what: "communicate",
                    after: deadline.map_or(Duration::ZERO, |(_, t)| t),
                })
            }
        }
    }
}

/// The Unix pump: one `poll` loop over the three pipes, no thread.
#[cfg(unix)]
mod poll_pump {
    use std::io::{self, PipeReader, PipeWriter, Write};
    use std::os::fd::{AsFd, AsRawFd};
    use std::time::Instant;

    use super::Child;
    use crate::error::{Error, Result};
    use crate::sys::poll::{self, SigpipeBlock, Watch};

    /// [`pump`] on pipes taken from a child: reads both `outputs` to
    /// end-of-file and closes them. `None` if `deadline` passed first.
    pub(crate) fn pump_owned(
        stdin: Option<PipeWriter>,
        input: &[u8],
        outputs: [Option<PipeReader>; 2],
        deadline: Option<Instant>,
    ) -> Result<Option<[Vec<u8>; 2]>> {
        let mut bufs = [Vec::new(), Vec::new()];
        let finished = pump(
            stdin,
            input,
            outputs.each_ref().map(Option::as_ref),
            bufs.each_mut(),
            deadline,
        )?;
        Ok(finished.then_some(bufs))
    }

    /// After the kill at the deadline: `SIGKILL` cannot be caught, so the
    /// child ends at once; reap it, as the caller may expect.
    pub(super) fn reap_killed(child: &Child) -> Result<()> {
        child.wait().map(drop)
    }

    /// The `poll` loop behind every `communicate`: writes `input` to `stdin`
    /// (then drops it, closing the pipe), reads `outs` to end-of-file into
    /// `bufs`. Returns `false` if `deadline` passed first.
    fn pump(
        stdin: Option<PipeWriter>,
        input: &[u8],
        outs: [Option<&PipeReader>; 2],
        bufs: [&mut Vec<u8>; 2],
        deadline: Option<Instant>,
    ) -> Result<bool> {
        let os = |call| move |e| Error::os(call, e);
        // Nothing to write: close stdin now so the child sees end-of-file.
        let mut stdin = stdin.filter(|_| !input.is_empty());
        let sigpipe = match &stdin {
            Some(w) => {
                poll::set_nonblocking(w.as_fd(), true).map_err(os("fcntl"))?;
                if input.len() > PIPE_GROW_AT {
                    poll::grow_pipe(w.as_fd(), PIPE_BIG);
                }
                Some(SigpipeBlock::new().map_err(os("pthread_sigmask"))?)
            }
            None => None,
        };
        if input.len() > PIPE_GROW_AT {
            for r in outs.iter().flatten() {
                poll::grow_pipe(r.as_fd(), PIPE_BIG);
            }
        }
        let mut broken = false;
        let result = outs
            .iter()
            .flatten()
            .try_for_each(|r| poll::set_nonblocking(r.as_fd(), true))
            .map_err(os("fcntl"))
            .and_then(|()| pump_loop(&mut stdin, input, outs, bufs, deadline, &mut broken));
        drop(stdin);
        if let Some(block) = sigpipe {
            block.finish(broken);
        }
        for r in outs.iter().flatten() {
            let _ = poll::set_nonblocking(r.as_fd(), false);
        }
        result
    }

    fn pump_loop(
        stdin: &mut Option<PipeWriter>,
        input: &[u8],
        mut open: [Option<&PipeReader>; 2],
        mut bufs: [&mut Vec<u8>; 2],
        deadline: Option<Instant>,
        broken: &mut bool,
    ) -> Result<bool> {
        let mut written = 0;
        loop {
            let mut watches = [Watch {
                fd: -1,
                write: false,
                ready: false,
            }; 3];
            let mut n = 0;
            if let Some(w) = stdin {
                watches[n] = Watch {
                    fd: w.as_raw_fd(),
                    write: true,
                    ready: false,
                };
                n += 1;
            }
            for r in open.iter().flatten() {
                watches[n] = Watch {
                    fd: r.as_raw_fd(),
                    write: false,
                    ready: false,
                };
                n += 1;
            }
            if n == 0 {
                return Ok(true);
            }
            if !poll::poll(&mut watches[..n], deadline).map_err(|e| Error::os("poll", e))? {
                return Ok(false);
            }
            let mut ready = watches[..n].iter().map(|w| w.ready);
            if let Some(w) = stdin.as_ref().filter(|_| ready.next() == Some(true)) {
                // Write until the pipe is full (EAGAIN) or the input is done.
                while written < input.len() {
                    let end = input.len().min(written + WRITE_CHUNK);
                    match (&*w).write(&input[written..end]) {
                        Ok(k) => written += k,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                            // The child stopped reading: not an error.
                            *broken = true;
                            written = input.len();
                        }
                        Err(e) => return Err(Error::os("write", e)),
                    }
                }
                if written == input.len() {
                    *stdin = None;
                }
            }
            for (slot, buf) in open.iter_mut().zip(bufs.iter_mut()) {
                let Some(r) = *slot else { continue };
                if ready.next() != Some(true) {
                    continue;
                }
                // Read until the pipe is empty (EAGAIN) or closed (EOF).
                loop {
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
        }
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
}

/// The Windows pump: one thread writes the child's stdin and one thread
/// per output pipe reads (Windows pipes cannot be polled like Unix ones).
#[cfg(windows)]
mod thread_pump {
    use std::io::{self, PipeReader, PipeWriter, Read, Write};
    use std::sync::mpsc;
    use std::thread;
    use std::time::{Duration, Instant};

    use super::Child;
    use crate::error::{Error, Result};

    /// The threads take the pipes, so the pump for a child's pipes is the
    /// one `Popen::communicate` uses.
    pub(crate) use pump as pump_owned;

    /// After the kill at the deadline: `TerminateProcess` is asynchronous
    /// and leaves no zombie, so wait a while for the end, but never hang on
    /// a process stuck in the kernel, and ignore a failed wait.
    pub(super) fn reap_killed(child: &Child) -> Result<()> {
        let _ = child.wait_timeout(Duration::from_secs(10));
        Ok(())
    }

    enum Done {
        Written(io::Result<()>),
        Read(usize, io::Result<Vec<u8>>),
    }

    /// Writes `input` into `stdin` (then closes it) and reads both `outputs` to
    /// the end, each on its own thread. `None` if `deadline` passed first (the
    /// threads are left to finish on their own).
    pub(crate) fn pump(
        stdin: Option<PipeWriter>,
        input: &[u8],
        outputs: [Option<PipeReader>; 2],
        deadline: Option<Instant>,
    ) -> Result<Option<[Vec<u8>; 2]>> {
        let (tx, rx) = mpsc::channel();
        let mut pending = 0;
        if let Some(mut w) = stdin {
            let input = input.to_vec();
            let tx = tx.clone();
            pending += 1;
            spawn_thread(move || {
                let r = w.write_all(&input);
                drop(w);
                let _ = tx.send(Done::Written(r));
            })?;
        }
        for (i, out) in outputs.into_iter().enumerate() {
            if let Some(mut r) = out {
                let tx = tx.clone();
                pending += 1;
                spawn_thread(move || {
                    let mut buf = Vec::new();
                    let res = r.read_to_end(&mut buf).map(|_| buf);
                    let _ = tx.send(Done::Read(i, res));
                })?;
            }
        }
        drop(tx);
        let mut got = [Vec::new(), Vec::new()];
        while pending > 0 {
            let done = match deadline {
                None => rx.recv().ok(),
                Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                    Ok(d) => Some(d),
                    Err(mpsc::RecvTimeoutError::Timeout) => return Ok(None),
                    Err(mpsc::RecvTimeoutError::Disconnected) => None,
                },
            };
            let Some(done) = done else { break };
            pending -= 1;
            match done {
                Done::Written(Ok(())) => {}
                // The child closed its stdin or exited early: not an error.
                Done::Written(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => {}
                Done::Written(Err(e)) => return Err(Error::os("WriteFile", e)),
                Done::Read(i, Ok(buf)) => got[i] = buf,
                Done::Read(_, Err(e)) => return Err(Error::os("ReadFile", e)),
            }
        }
        Ok(Some(got))
    }

    fn spawn_thread(f: impl FnOnce() + Send + 'static) -> Result<()> {
        thread::Builder::new()
            .name("procctl-communicate".into())
            .spawn(f)
            .map(drop)
            .map_err(|e| Error::os("CreateThread", e))
    }
}
