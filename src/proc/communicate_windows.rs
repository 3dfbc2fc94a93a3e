//! [`Child::communicate`] on Windows: one thread writes the child's stdin
//! and one thread per output pipe reads, so no amount of data either way
//! can deadlock (Windows pipes cannot be polled like Unix ones).

use std::io::{self, PipeReader, PipeWriter, Read, Write};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::child::Child;
use super::common::Output;
use crate::error::{Error, Result};

impl Child {
    /// Writes `input` to the child's stdin, closes it, reads its stdout and
    /// stderr to the end, and waits for it.
    ///
    /// Works on the pipes of a child spawned with
    /// [`Stdio::piped`](super::Stdio::piped) (those not taken with
    /// `take_stdin`/`take_stdout`/`take_stderr`). A writer thread and one
    /// reader thread per output pipe run at once, so it cannot deadlock. A
    /// child that exits or closes its stdin before reading all of `input`
    /// is not an error: the rest is dropped.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `input` is not empty but stdin is not
    /// piped; [`Error::Os`] if a read or write fails for another reason;
    /// as [`Child::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    ///
    /// let child = Command::new("cmd.exe")
    ///     .args(["/C", "more"]) // copies stdin to stdout when piped
    ///     .stdin(Stdio::piped())
    ///     .stdout(Stdio::piped())
    ///     .spawn()?;
    /// let out = child.communicate(b"xyz\r\n")?;
    /// assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "xyz");
    /// assert!(out.status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn communicate(&self, input: &[u8]) -> Result<Output> {
        self.communicate_until(input, None)
    }

    /// [`Child::communicate`] with a deadline: if the child has not closed
    /// its output and exited within `timeout`, it is terminated
    /// (`TerminateProcess`) and the call fails. Threads still blocked on a
    /// pipe that a grandchild holds open are left to finish on their own.
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
    /// let child = Command::new("ping")
    ///     .args(["-n", "30", "127.0.0.1"])
    ///     .stdout(Stdio::piped())
    ///     .spawn()?;
    /// let err = child.communicate_timeout(b"", Duration::from_millis(100)).unwrap_err();
    /// assert!(matches!(err, procctl::Error::Timeout { .. }));
    /// assert!(child.wait_timeout(Duration::from_secs(10))?.is_some());
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
        if stdin.is_none() && !input.is_empty() {
            return Err(Error::InvalidArgument {
                what: "communicate input",
                value: format!("{} bytes for a child whose stdin is not piped", input.len()),
            });
        }
        let at = deadline.map(|(at, _)| at);
        let pumped = pump(stdin, input, [self.take_stdout(), self.take_stderr()], at)?;
        let status = match (&pumped, at) {
            (Some(_), None) => Some(self.wait()?),
            (Some(_), Some(at)) => {
                self.wait_timeout(at.saturating_duration_since(Instant::now()))?
            }
            (None, _) => None,
        };
        match (status, pumped) {
            (Some(status), Some([stdout, stderr])) => Ok(Output {
                status,
                stdout,
                stderr,
            }),
            _ => {
                let after = deadline.map_or(Duration::ZERO, |(_, t)| t);
                self.kill()?;
                let _ = self.wait_timeout(Duration::from_secs(10));
                Err(Error::Timeout {
                    what: "communicate",
                    after,
                })
            }
        }
    }
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
