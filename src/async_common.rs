//! What [`crate::tokio`] and [`crate::async_io`] share: the `communicate`
//! pump over any reactor, the signal queue a stream drains, and the
//! back-off for children without a pidfd.
//!
//! Each runtime module supplies readiness through [`Ready`] (tokio's pipe
//! types, async-io's `Async`); the reads and writes themselves are
//! procctl's: `read(2)` into the spare capacity of the output buffer, and
//! `write(2)` with `SIGPIPE` kept away from the process.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::proc::{Child, Output, PipeStatus, PipelineOutput, PipesHeldOpen};
use crate::signal::{self, SigId};
use crate::{Signal, sys};

/// One end of a pipe registered with a runtime's reactor.
pub(crate) trait Ready: AsFd {
    /// Readiness for the end's direction (read for a reader, write for a
    /// writer); registers the waker when not ready.
    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Runs one non-blocking `op`; a `WouldBlock` clears the readiness
    /// (tokio keeps readiness until told).
    fn try_io(&self, op: impl FnOnce() -> io::Result<usize>) -> io::Result<usize>;
}

/// How many reads or writes one end may do in one poll before the pump
/// yields to the runtime (a fast child must not starve other tasks).
const BUDGET: usize = 32;
/// One read asks for this much.
const CHUNK: usize = 64 * 1024;

/// `write(2)` of `buf` to `fd` without `SIGPIPE` (blocked in this thread
/// for the call, a `SIGPIPE` our write raised is taken back), so a reader
/// that went away is `EPIPE`, never the death of the process.
fn write_nosigpipe(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    let mut fd = fd;
    sys::pipe::without_sigpipe(&mut fd, |fd| {
        nix::unistd::write(fd.as_fd(), buf).map_err(io::Error::from)
    })
}

/// Feeds `input` to a child's stdin while draining its stdout and stderr,
/// all in one future: the async twin of the `poll` loop of
/// `Child::communicate`. Closes stdin when all was written (or the child
/// closed its end: `EPIPE` is not an error).
pub(crate) struct Pump<'a, W, R> {
    pub(crate) stdin: Option<W>,
    pub(crate) input: &'a [u8],
    pub(crate) stdout: Option<R>,
    pub(crate) out: Vec<u8>,
    pub(crate) stderr: Option<R>,
    pub(crate) err: Vec<u8>,
}

/// What one end's turn of the pump came to.
enum Turn {
    /// Not ready: the waker is registered.
    Waiting,
    /// Done with this end (all written, or end of file).
    Done,
    /// Used its budget while still ready.
    Yield,
}

fn pump_read<R: Ready>(end: &R, buf: &mut Vec<u8>, cx: &mut Context<'_>) -> io::Result<Turn> {
    for _ in 0..BUDGET {
        match end.try_io(|| sys::poll::read_append(end.as_fd(), buf, CHUNK, buf.len() >= CHUNK)) {
            Ok(0) => return Ok(Turn::Done),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => match end.poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => return Ok(Turn::Waiting),
            },
            Err(e) => return Err(e),
        }
    }
    Ok(Turn::Yield)
}

fn pump_write<W: Ready>(end: &W, input: &mut &[u8], cx: &mut Context<'_>) -> io::Result<Turn> {
    for _ in 0..BUDGET {
        if input.is_empty() {
            return Ok(Turn::Done);
        }
        let chunk = &input[..input.len().min(CHUNK)];
        match end.try_io(|| write_nosigpipe(end.as_fd(), chunk)) {
            Ok(n) => *input = &input[n..],
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(Turn::Done),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => match end.poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => return Ok(Turn::Waiting),
            },
            Err(e) => return Err(e),
        }
    }
    Ok(Turn::Yield)
}

impl<W: Ready + Unpin, R: Ready + Unpin> Future for Pump<'_, W, R> {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let mut again = false;
        if let Some(w) = &this.stdin {
            match pump_write(w, &mut this.input, cx)? {
                // Dropping the writer closes the pipe: EOF for the child.
                Turn::Done => this.stdin = None,
                Turn::Yield => again = true,
                Turn::Waiting => {}
            }
        }
        for (end, buf) in [
            (&mut this.stdout, &mut this.out),
            (&mut this.stderr, &mut this.err),
        ] {
            if let Some(r) = end {
                match pump_read(r, buf, cx)? {
                    Turn::Done => *end = None,
                    Turn::Yield => again = true,
                    Turn::Waiting => {}
                }
            }
        }
        if this.stdin.is_none() && this.stdout.is_none() && this.stderr.is_none() {
            return Poll::Ready(Ok(()));
        }
        if again {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

/// The most read from one output at a cut, as the synchronous pump: what
/// the child left in the pipe, without letting a holder that writes
/// without pause hold the cut up.
const DRAIN_LIMIT: usize = 4 << 20;

/// Reads what `end` holds now, up to [`DRAIN_LIMIT`], without waiting:
/// `true` at end of file.
fn drain_read<R: Ready>(end: &R, buf: &mut Vec<u8>) -> io::Result<bool> {
    let start = buf.len();
    while buf.len() - start < DRAIN_LIMIT {
        match end.try_io(|| sys::poll::read_append(end.as_fd(), buf, CHUNK, buf.len() >= CHUNK)) {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

impl<W: Ready + Unpin, R: Ready + Unpin> Pump<'_, W, R> {
    /// Runs the pump to the end of every pipe, unless `cut` (the wait
    /// delay: every watched child ended, then the delay ran out) ends
    /// first: then what the pipes hold now is read, the ends still open
    /// are closed, and they are named with their holders (`Some`). The
    /// async twin of the wait delay of `Child::communicate`. Cancelling
    /// it leaves the pump as it was (what was read stays in it).
    pub(crate) async fn run_or_cut(
        &mut self,
        cut: Option<impl Future<Output = Result<()>>>,
    ) -> Result<Option<PipesHeldOpen>> {
        let Some(cut) = cut else {
            return self.await.map(|()| None).map_err(io_error);
        };
        let mut cut = std::pin::pin!(cut);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(r) = Pin::new(&mut *self).poll(cx) {
                return Poll::Ready(r.map(|()| None).map_err(io_error));
            }
            match cut.as_mut().poll(cx) {
                Poll::Ready(Ok(())) => Poll::Ready(self.cut()),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// The cut at the end of the wait delay: the last reads, then the ends
    /// still open named and closed (`None` if every one ended after all).
    fn cut(&mut self) -> Result<Option<PipesHeldOpen>> {
        for (end, buf) in [
            (&mut self.stdout, &mut self.out),
            (&mut self.stderr, &mut self.err),
        ] {
            if let Some(r) = end {
                if drain_read(r, buf).map_err(io_error)? {
                    *end = None;
                }
            }
        }
        if self.stdin.is_none() && self.stdout.is_none() && self.stderr.is_none() {
            return Ok(None);
        }
        let held = crate::proc::held_open(
            self.stdin.as_ref().map(AsFd::as_fd),
            [
                self.stdout.as_ref().map(AsFd::as_fd),
                self.stderr.as_ref().map(AsFd::as_fd),
            ],
        );
        self.stdin = None;
        self.stdout = None;
        self.stderr = None;
        Ok(Some(held))
    }
}

/// Checks `communicate_async`'s arguments the way `Child::communicate`
/// does: input for a child whose stdin is not piped is refused.
pub(crate) fn check_input(child: &Child, input: &[u8], has_stdin: bool) -> Result<()> {
    if !input.is_empty() && !has_stdin {
        return Err(Error::InvalidArgument {
            what: "communicate input",
            value: format!(
                "{} bytes for process {}, whose stdin is not piped",
                input.len(),
                child.pid()
            ),
        });
    }
    Ok(())
}

/// `communicate_async` of a pipeline with `input` but no piped stdin
/// (not piped, or taken before): refused, as the synchronous one does.
pub(crate) fn check_pipeline_input(input: &[u8], has_stdin: bool) -> Result<()> {
    if !input.is_empty() && !has_stdin {
        return Err(Error::InvalidArgument {
            what: "communicate input",
            value: format!(
                "{} bytes for a pipeline whose stdin is not piped",
                input.len()
            ),
        });
    }
    Ok(())
}

/// A pipeline's output from the pump's buffers, every member's status and
/// the streams a wait delay cut.
pub(crate) fn pipeline_output(
    status: PipeStatus,
    out: Vec<u8>,
    err: Vec<u8>,
    held: Option<PipesHeldOpen>,
) -> PipelineOutput {
    PipelineOutput::new(status, [out, err], held)
}

/// An `Output` from what the pump collected, the status and the streams a
/// wait delay cut.
pub(crate) fn output(
    status: crate::ExitStatus,
    out: Vec<u8>,
    err: Vec<u8>,
    held: Option<PipesHeldOpen>,
) -> Output {
    Output::new(status, [out, err], held)
}

/// The error of a failed pipe read or write.
pub(crate) fn io_error(e: io::Error) -> Error {
    Error::os("communicate", e)
}

/// The growing sleep between two `try_wait`s of a child without a pidfd
/// (Linux before 5.3) where no reactor can watch it: 1 ms doubling up to
/// 20 ms, as the synchronous `wait_timeout` does there.
pub(crate) fn backoff(step: &mut Duration) -> Duration {
    let now = *step;
    *step = (*step * 2).min(Duration::from_millis(20));
    now
}

/// The deliveries a signal stream has not returned yet, fed by procctl's
/// dispatcher thread (a `register` handler), which then writes a byte to
/// the stream's wake pipe for the reactor to see.
pub(crate) struct SignalQueue {
    queue: Mutex<VecDeque<Signal>>,
    wake: std::io::PipeWriter,
}

/// A signal stream's registrations and queue.
pub(crate) struct SignalSource {
    queue: Arc<SignalQueue>,
    ids: Vec<SigId>,
}

impl SignalSource {
    /// Registers a handler for each of `signals` that queues the delivery
    /// and wakes the pipe; returns the read end of that pipe (non-blocking,
    /// for the runtime to register).
    pub(crate) fn new(
        signals: impl IntoIterator<Item = Signal>,
    ) -> Result<(SignalSource, std::io::PipeReader)> {
        let set: signal::SigSet = signals.into_iter().collect();
        let (reader, writer) = std::io::pipe().map_err(|e| Error::os("pipe", e))?;
        for fd in [reader.as_fd(), writer.as_fd()] {
            sys::poll::set_nonblocking(fd, true).map_err(|e| Error::os("fcntl", e))?;
        }
        let queue = Arc::new(SignalQueue {
            queue: Mutex::new(VecDeque::new()),
            wake: writer,
        });
        let mut me = SignalSource {
            queue,
            ids: Vec::new(),
        };
        for sig in &set {
            let q = Arc::clone(&me.queue);
            // On error `me` is dropped, which unregisters what was added.
            me.ids.push(signal::register(sig, move |s| q.push(s))?);
        }
        Ok((me, reader))
    }

    /// The next queued delivery, if any.
    pub(crate) fn pop(&self) -> Option<Signal> {
        self.queue
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }

    /// The signals this source watches.
    pub(crate) fn signals(&self) -> signal::SigSet {
        self.ids.iter().map(SigId::signal).collect()
    }
}

/// Empties the wake pipe `fd` (non-blocking); `WouldBlock` if it was
/// empty.
pub(crate) fn drain(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let mut buf = [0u8; 256];
    let mut total = 0;
    loop {
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) if total > 0 => return Ok(total),
            Err(e) => return Err(e.into()),
        }
    }
}

impl SignalQueue {
    /// The dispatcher thread: one delivery. The byte is written after the
    /// push, so a stream that sees the byte finds the signal.
    fn push(&self, sig: Signal) {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(sig);
        // A full pipe already holds a wake-up; EAGAIN is fine.
        let _ = nix::unistd::write(self.wake.as_fd(), &[1]);
    }
}

impl Drop for SignalSource {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal::unregister(id);
        }
    }
}

/// Polls a signal stream: a queued delivery, else drain the wake pipe and
/// look again, else wait for the pipe through `poll_ready`.
pub(crate) fn poll_signal<P: Ready>(
    src: &SignalSource,
    pipe: &P,
    cx: &mut Context<'_>,
) -> Poll<Option<Signal>> {
    loop {
        if let Some(sig) = src.pop() {
            return Poll::Ready(Some(sig));
        }
        if src.ids.is_empty() {
            return Poll::Ready(None);
        }
        match pipe.try_io(|| drain(pipe.as_fd())) {
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            // The pipe cannot fail in practice; end the stream if it does.
            Err(_) => return Poll::Ready(None),
        }
        // The queue may have been filled between pop and drain.
        if let Some(sig) = src.pop() {
            return Poll::Ready(Some(sig));
        }
        match pipe.poll_ready(cx) {
            Poll::Ready(Ok(())) => continue,
            Poll::Ready(Err(_)) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// Gives the other tasks of the executor a turn (no runtime needed).
#[cfg(feature = "async-io")]
pub(crate) async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// What `communicate_async_timeout` had when its time ran out: the output
/// read so far, and how much of the input the child took. The child is
/// left running (kill it, or wait for it); the pipes are closed.
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use std::time::Duration;
/// use procctl::proc::{Command, Stdio};
/// use procctl::tokio::ChildExt;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let child = Command::new("sh")
///     .args(["-c", "echo started; exec sleep 30"])
///     .stdout(Stdio::piped())
///     .spawn()?;
/// let partial = child
///     .communicate_async_timeout(b"", Duration::from_millis(300))
///     .await?
///     .unwrap_err();
/// assert_eq!(partial.stdout, b"started\n");
/// child.kill()?;
/// child.wait_async().await?;
/// # Ok::<(), procctl::Error>(())
/// # }).unwrap();
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartialOutput {
    /// What the child wrote to stdout before the time ran out.
    pub stdout: Vec<u8>,
    /// What it wrote to stderr.
    pub stderr: Vec<u8>,
    /// How many bytes of the input were written to its stdin.
    pub written: usize,
}

impl<W, R> Pump<'_, W, R> {
    /// What was read and written so far.
    pub(crate) fn partial(&mut self, input_len: usize) -> PartialOutput {
        PartialOutput {
            stdout: std::mem::take(&mut self.out),
            stderr: std::mem::take(&mut self.err),
            written: input_len - self.input.len(),
        }
    }
}

/// `a`, unless `b` finishes first (then `None`): a timeout without a
/// runtime's combinator.
#[cfg(feature = "async-io")]
pub(crate) async fn unless<T>(
    a: impl Future<Output = T>,
    b: impl Future<Output = ()>,
) -> Option<T> {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = a.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        b.as_mut().poll(cx).map(|()| None)
    })
    .await
}
