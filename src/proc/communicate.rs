//! [`Child::communicate`]: feed a child's stdin while draining its stdout
//! and stderr, with `poll`, so no amount of data either way can deadlock.

use std::io::{self, PipeReader, PipeWriter, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use super::child::Child;
pub(crate) use super::common::Output;
use crate::Signal;
use crate::error::{Error, Result};
use crate::sys::poll::{self, SigpipeBlock, Watch};

impl Child {
    /// Writes `input` to the child's stdin, closes it, reads its stdout and
    /// stderr to the end, and waits for it.
    ///
    /// Works on the pipes of a child spawned with
    /// [`Stdio::piped`](super::Stdio::piped) (those not taken with
    /// `take_stdin`/`take_stdout`/`take_stderr`). One `poll` loop does all
    /// three at once, so it cannot deadlock however much flows each way,
    /// and no thread is started. A child that exits or closes its stdin
    /// before reading all of `input` is not an error: the rest is dropped.
    ///
    /// Writing to a pipe whose reader has gone raises `SIGPIPE`, which
    /// kills a process that did not ignore it. While this runs `SIGPIPE` is
    /// blocked in the calling thread, and a `SIGPIPE` raised by our own
    /// write is taken back before the mask is restored: the write just
    /// fails with `EPIPE`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `input` is not empty but stdin is not
    /// piped; [`Error::Os`] if `poll`, `read` or `write` fail for another
    /// reason; as [`Child::wait`].
    ///
    /// # Platform notes
    ///
    /// On Windows pipes cannot be polled: a writer thread and one reader
    /// thread per output pipe do the same job.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    ///
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
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn communicate(&self, input: &[u8]) -> Result<Output> {
        self.communicate_until(input, None)
    }

    /// [`Child::communicate`] with a deadline: if the child has not closed
    /// its output and exited within `timeout`, it is killed (`SIGKILL`) and
    /// reaped, and the call fails.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] (`io::ErrorKind::TimedOut`) when the time is up;
    /// what was read so far is dropped. Otherwise as
    /// [`Child::communicate`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::proc::{Command, Stdio};
    ///
    /// let child = Command::new("sleep").arg("60").stdout(Stdio::piped()).spawn()?;
    /// let err = child.communicate_timeout(b"", Duration::from_millis(100)).unwrap_err();
    /// assert!(matches!(err, procctl::Error::Timeout { .. }));
    /// assert_eq!(child.try_wait()?.and_then(|s| s.signal()), Some(procctl::Signal::KILL));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn communicate_timeout(&self, input: &[u8], timeout: Duration) -> Result<Output> {
        self.communicate_until(input, Some((Instant::now() + timeout, timeout)))
    }

    fn communicate_until(
        &self,
        input: &[u8],
        deadline: Option<(Instant, Duration)>,
    ) -> Result<Output> {
        let stdin = self.take_stdin();
        let stdout = self.take_stdout();
        let stderr = self.take_stderr();
        if stdin.is_none() && !input.is_empty() {
            return Err(Error::InvalidArgument {
                what: "communicate input",
                value: format!("{} bytes for a child whose stdin is not piped", input.len()),
            });
        }
        let mut out = Vec::new();
        let mut err = Vec::new();
        let at = deadline.map(|(at, _)| at);
        let finished = pump(
            stdin,
            input,
            [stdout.as_ref(), stderr.as_ref()],
            [&mut out, &mut err],
            at,
        )?;
        drop((stdout, stderr));
        let status = match (finished, at) {
            (true, None) => Some(self.wait()?),
            (true, Some(at)) => self.wait_timeout(at.saturating_duration_since(Instant::now()))?,
            (false, _) => None,
        };
        match status {
            Some(status) => Ok(Output {
                status,
                stdout: out,
                stderr: err,
            }),
            None => {
                self.signal(Signal::KILL)?;
                self.wait()?;
                Err(Error::Timeout {
                    what: "communicate",
                    after: deadline.map(|(_, t)| t).unwrap_or_default(),
                })
            }
        }
    }
}

/// The `poll` loop behind every `communicate`: writes `input` to `stdin`
/// (then drops it, closing the pipe), reads `outs` to end-of-file into
/// `bufs`. Returns `false` if `deadline` passed first.
pub(crate) fn pump(
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
                match (&*w).write(&input[written..]) {
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
                match poll::read_append(r.as_fd(), buf, READ_CHUNK) {
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
/// Room made in an output buffer before each read.
const READ_CHUNK: usize = 64 << 10;
