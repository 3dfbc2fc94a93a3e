//! procctl on a [tokio](https://docs.rs/tokio) runtime (feature `tokio`):
//! await a [`Child`], talk to its pipes, and receive signals, without
//! blocking a worker thread.
//!
//! Bring the extension traits into scope: [`ChildExt`] (`wait_async`,
//! `communicate_async`, the async pipe ends) and [`CommandExt`]
//! (`status_async`, `output_async`); for a pipeline [`PipelineChildExt`]
//! (`wait_async`, `communicate_async`) and [`PipelineExt`]
//! (`status_async`, `output_async`); on Linux [`ScopeExt`] (`wait_async`
//! until a cgroup is empty). [`signals`] is a
//! [`Stream`](futures_core::Stream) of deliveries, [`ctrl_c`] waits for
//! one `SIGINT`. `procctl::async_io` has the same names for
//! async-io (smol); both features may be on at once.
//!
//! # How a child is awaited
//!
//! - **Linux**: a duplicate of the child's pidfd goes into tokio's reactor
//!   ([`AsyncFd`]); once it is readable the child is reaped with
//!   [`Child::try_wait`], under procctl's reap lock. No `SIGCHLD`
//!   handler, no thread, no `waitpid(-1)`: a `tokio::process` child or
//!   another library's child is never reaped by mistake, and no child of
//!   ours is reaped by tokio's orphan reaper (which reaps only its own
//!   pids). Each waiter has its own duplicate, so any number of tasks may
//!   await the same `Child` at once.
//! - **macOS and the BSDs**: a kqueue watching `EVFILT_PROC`/`NOTE_EXIT`
//!   for the child goes into the reactor (a kqueue descriptor is readable
//!   while it holds an event), then the same `try_wait`.
//! - **Without either** (Linux before 5.3, a seccomp profile that refuses
//!   pidfds, other Unix systems): `try_wait` at growing intervals of 1 ms
//!   up to 20 ms on tokio's timer (the runtime needs `enable_time`). Still
//!   no thread and no `waitpid(-1)`.
//!
//! **Cancel-safe**: nothing is reaped until `try_wait` has the status and
//! stores it in the `Child`; a dropped `wait_async` loses nothing, and a
//! later `wait`, `try_wait` or `wait_async` returns the status.
//!
//! Every method takes `&self`, so one task may `wait_async` while another
//! calls [`Child::signal`] or [`Child::kill`].
//!
//! The runtime must have I/O enabled (`enable_io`, or `enable_all`), as
//! for any tokio I/O type: the functions here panic outside such a
//! runtime, as tokio's own I/O types do.
//!
//! # Platform notes
//!
//! Unix only: this module does not exist on Windows.
//!
//! # Examples
//!
//! ```
//! use procctl::proc::{Command, Stdio};
//! use procctl::tokio::{ChildExt, CommandExt};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let child = Command::new("sh").args(["-c", "exit 3"]).spawn()?;
//! assert_eq!(child.wait_async().await?.code(), Some(3));
//!
//! let out = Command::new("echo").arg("hi").output_async().await?;
//! assert_eq!(out.stdout, b"hi\n");
//!
//! let cat = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
//! let out = cat.communicate_async(b"round trip").await?;
//! assert_eq!(out.stdout, b"round trip");
//! # Ok::<(), procctl::Error>(())
//! # }).unwrap();
//! ```

use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

#[cfg(doc)]
use tokio::io::unix::AsyncFd;
pub use tokio::net::unix::pipe::{Receiver, Sender};

pub use crate::async_common::PartialOutput;
use crate::async_common::{self as common, Pump, Ready, SignalSource};
use crate::error::{Error, Result};
use crate::pipe::{PipeReader, PipeWriter};
#[cfg(target_os = "linux")]
use crate::proc::Scope;
use crate::proc::{
    Child, Command, DropPolicy, Output, PipeStatus, Pipeline, PipelineChild, PipelineOutput,
};
use crate::signal::SigSet;
use crate::{ExitStatus, Signal, sys};

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::proc::Child {}
    impl Sealed for crate::proc::Command {}
    impl Sealed for crate::proc::Pipeline {}
    impl Sealed for crate::proc::PipelineChild {}
    #[cfg(target_os = "linux")]
    impl Sealed for crate::proc::Scope {}
}

/// Async methods of [`Child`] on tokio.
///
/// Sealed: implemented for [`Child`] only.
pub trait ChildExt: sealed::Sealed {
    /// Waits for the child to end without blocking the runtime: the
    /// status, reaped and stored as [`Child::wait`] does.
    ///
    /// Cancel-safe, several tasks may await one child, and the child may be
    /// signalled meanwhile: see [the module docs](self).
    ///
    /// # Errors
    ///
    /// As [`Child::try_wait`]; [`Error::Os`] naming `epoll_ctl` (or
    /// `kevent`) if the reactor refuses the descriptor, or
    /// [`Error::ResourceLimit`] when no descriptor is left for the
    /// duplicate.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::Command;
    /// use procctl::tokio::ChildExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let child = Command::new("sleep").arg("30").spawn()?;
    /// let (status, ()) = tokio::join!(child.wait_async(), async { child.kill().unwrap() });
    /// assert_eq!(status?.signal(), Some(procctl::Signal::KILL));
    /// # Ok::<(), procctl::Error>(())
    /// # }).unwrap();
    /// ```
    fn wait_async(&self) -> impl Future<Output = Result<ExitStatus>> + Send + '_;

    /// [`Child::communicate`] without blocking: writes `input` to the
    /// child's stdin while reading its stdout and stderr, closes stdin,
    /// reads both to the end and awaits the child.
    ///
    /// As the synchronous one, it cannot deadlock however much flows each
    /// way, a child that closes its stdin early is not an error (the rest
    /// of `input` is dropped), and a write to a closed pipe fails with
    /// `EPIPE` in the call instead of raising `SIGPIPE` (it is blocked in
    /// the writing thread for each write, and one our write raised is taken
    /// back). Pipes not piped, or taken before, are skipped.
    ///
    /// The child's [wait delay](Child::set_wait_delay) (or
    /// [`Command::wait_delay`]) applies as in [`Child::communicate`]: once
    /// the child has ended, the pipes get at most that long to reach
    /// end-of-file, so a grandchild that inherited them cannot make this
    /// hang; then what they hold is read, they are closed, and the output
    /// read is returned with [`Output::pipes_held_open`] naming the
    /// streams cut and, on Linux, who held them. The delay runs on
    /// tokio's `sleep`, after the child's end is seen as by
    /// [`ChildExt::wait_async`]. Without a wait delay the pipes are read to
    /// their end, however long that takes.
    ///
    /// Cancelling it closes the pipes it took (what was read so far is
    /// lost) but not the child, whose status a later wait still returns.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `input` is not empty and stdin is not
    /// piped; [`Error::Os`] naming `communicate` if a read or write fails
    /// otherwise; as [`ChildExt::wait_async`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// use procctl::tokio::ChildExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let child = Command::new("sh")
    ///     .args(["-c", "tr a-z A-Z; echo done >&2"])
    ///     .stdin(Stdio::piped())
    ///     .stdout(Stdio::piped())
    ///     .stderr(Stdio::piped())
    ///     .spawn()?;
    /// let out = child.communicate_async(b"shout").await?;
    /// assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"SHOUT"[..], &b"done\n"[..]));
    /// # Ok::<(), procctl::Error>(())
    /// # }).unwrap();
    /// ```
    fn communicate_async<'a>(
        &'a self,
        input: &'a [u8],
    ) -> impl Future<Output = Result<Output>> + Send + 'a;

    /// [`ChildExt::communicate_async`] with a time limit for all of it
    /// (the pipes and the wait): `Ok(Ok(output))` if the child ended in
    /// time, `Ok(Err(partial))` with what was read (and how much input
    /// was written) if not. The child is then left running, its pipes
    /// closed: kill it or wait for it.
    ///
    /// # Errors
    ///
    /// As [`ChildExt::communicate_async`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::proc::{Command, Stdio};
    /// use procctl::tokio::ChildExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let child = Command::new("sh")
    ///     .args(["-c", "echo started >&2; read x; exec sleep 30"])
    ///     .stdin(Stdio::piped())
    ///     .stderr(Stdio::piped())
    ///     .spawn()?;
    /// let partial = child
    ///     .communicate_async_timeout(b"line\n", Duration::from_millis(300))
    ///     .await?
    ///     .unwrap_err();
    /// assert_eq!((&partial.stderr[..], partial.written), (&b"started\n"[..], 5));
    /// child.kill()?;
    /// assert_eq!(child.wait_async().await?.signal(), Some(procctl::Signal::KILL));
    /// # Ok::<(), procctl::Error>(())
    /// # }).unwrap();
    /// ```
    fn communicate_async_timeout<'a>(
        &'a self,
        input: &'a [u8],
        timeout: Duration,
    ) -> impl Future<Output = Result<std::result::Result<Output, PartialOutput>>> + Send + 'a;

    /// Takes the child's stdin pipe as tokio's [`Sender`] (see
    /// [`Child::take_stdin`]). A plain write to it follows the process's
    /// `SIGPIPE` disposition: ignore `SIGPIPE` (Rust's `main` does), or
    /// use [`ChildExt::communicate_async`].
    ///
    /// # Errors
    ///
    /// [`Error::Os`] naming `fcntl` if the pipe cannot be made
    /// non-blocking, or naming `epoll_ctl` if the reactor refuses it.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// use procctl::tokio::ChildExt;
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    /// let mut stdin = child.take_stdin_async()?.unwrap();
    /// stdin.write_all(b"hello").await.unwrap();
    /// drop(stdin);
    /// let mut out = String::new();
    /// child.take_stdout_async()?.unwrap().read_to_string(&mut out).await.unwrap();
    /// assert_eq!(out, "hello");
    /// # Ok::<(), procctl::Error>(())
    /// # }).unwrap();
    /// ```
    fn take_stdin_async(&self) -> Result<Option<Sender>>;

    /// Takes the child's stdout pipe as tokio's [`Receiver`] (see
    /// [`Child::take_stdout`]).
    ///
    /// # Errors
    ///
    /// As [`ChildExt::take_stdin_async`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// use procctl::tokio::ChildExt;
    /// use tokio::io::AsyncReadExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let child = Command::new("echo").arg("out").stdout(Stdio::piped()).spawn()?;
    /// let mut out = Vec::new();
    /// child.take_stdout_async()?.unwrap().read_to_end(&mut out).await.unwrap();
    /// assert_eq!(out, b"out\n");
    /// # Ok::<(), procctl::Error>(())
    /// # }).unwrap();
    /// ```
    fn take_stdout_async(&self) -> Result<Option<Receiver>>;

    /// Takes the child's stderr pipe as tokio's [`Receiver`] (see
    /// [`Child::take_stderr`]).
    ///
    /// # Errors
    ///
    /// As [`ChildExt::take_stdin_async`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// use procctl::tokio::ChildExt;
    /// use tokio::io::AsyncReadExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let child = Command::new("sh").args(["-c", "echo err >&2"]).stderr(Stdio::piped()).spawn()?;
    /// let mut err = Vec::new();
    /// child.take_stderr_async()?.unwrap().read_to_end(&mut err).await.unwrap();
    /// assert_eq!(err, b"err\n");
    /// # Ok::<(), procctl::Error>(())
    /// # }).unwrap();
    /// ```
    fn take_stderr_async(&self) -> Result<Option<Receiver>>;
}

/// Async methods of [`Command`] on tokio.
///
/// Sealed: implemented for [`Command`] only.
///
/// # Cancellation
///
/// The child that `status_async` and `output_async` start belongs to
/// the future alone. If the future is dropped before it completes (a
/// timeout around it, a `select!` that took another branch), or the call
/// fails, the child is killed (`SIGKILL`) and reaped in the background:
/// nothing the call started outlives it. (tokio's own `Command::status`
/// and `output` leave the child running unless `kill_on_drop` is set.)
/// To keep a child past a cancellation, `spawn` it and await
/// [`ChildExt::wait_async`].
pub trait CommandExt: sealed::Sealed {
    /// [`Command::status`] without blocking: spawns (spawning itself does
    /// not block on the child), then [`ChildExt::wait_async`].
    ///
    /// # Errors
    ///
    /// As [`Command::spawn`] and [`ChildExt::wait_async`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::Command;
    /// use procctl::tokio::CommandExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let status = Command::new("sh").args(["-c", "exit 4"]).status_async().await?;
    /// assert_eq!(status.code(), Some(4));
    /// # Ok::<(), procctl::Error>(())
    /// # }).unwrap();
    /// ```
    fn status_async(&mut self) -> impl Future<Output = Result<ExitStatus>> + Send + '_;

    /// [`Command::output`] without blocking: stdin `/dev/null`, stdout and
    /// stderr piped (unless set), both read at once, then the status. The
    /// [wait delay](Command::wait_delay) bounds the wait for the pipes
    /// once the child has ended, as in [`ChildExt::communicate_async`].
    ///
    /// # Errors
    ///
    /// As [`Command::spawn`] and [`ChildExt::communicate_async`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::Command;
    /// use procctl::tokio::CommandExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let out = Command::new("sh").args(["-c", "echo o; echo e >&2; exit 2"]).output_async().await?;
    /// assert_eq!((out.status.code(), &out.stdout[..], &out.stderr[..]), (Some(2), &b"o\n"[..], &b"e\n"[..]));
    /// # Ok::<(), procctl::Error>(())
    /// # }).unwrap();
    /// ```
    fn output_async(&mut self) -> impl Future<Output = Result<Output>> + Send + '_;
}

/// Async methods of [`PipelineChild`] on tokio.
///
/// Sealed: implemented for [`PipelineChild`] only.
pub trait PipelineChildExt: sealed::Sealed {
    /// [`PipelineChild::wait`] without blocking: every member awaited
    /// with [`ChildExt::wait_async`], their statuses in pipeline order.
    ///
    /// Cancel-safe as [`ChildExt::wait_async`]: a member's status is
    /// stored in its [`Child`] once reaped, so a dropped `wait_async`
    /// loses nothing and a later wait (async or not) returns every
    /// status. Several tasks may await one pipeline at once.
    ///
    /// # Errors
    ///
    /// As [`ChildExt::wait_async`], for the first member that fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::Command;
    /// use procctl::tokio::PipelineChildExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let p = Command::new("false").pipe(Command::new("true")).spawn()?;
    /// assert_eq!(p.wait_async().await?.to_string(), "1 | 0");
    /// # Ok::<(), procctl::Error>(())
    /// # }).unwrap();
    /// ```
    fn wait_async(&self) -> impl Future<Output = Result<PipeStatus>> + Send + '_;

    /// [`PipelineChild::communicate`] without blocking: writes `input` to
    /// the first member's stdin while reading the last member's stdout
    /// and the shared stderr, closes stdin, reads both to the end and
    /// awaits every member.
    ///
    /// The same pump as [`ChildExt::communicate_async`]: no deadlock
    /// however much flows, a pipeline that stops reading its stdin is not
    /// an error (the rest of `input` is dropped), and no `SIGPIPE` for
    /// the caller. Pipes not piped, or taken before, are skipped. The
    /// pipeline's [wait delay](PipelineChild::set_wait_delay) applies as in
    /// [`PipelineChild::communicate`]: once **every** member has ended,
    /// the pipes get at most that long to reach end-of-file, then they are
    /// closed and [`PipelineOutput::pipes_held_open`] names the streams
    /// cut (and, on Linux, who held them); without one the pipes are read
    /// to their end. Cancelling it closes the pipes it took (what was read
    /// is lost) but not the members.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `input` is not empty and the first
    /// member's stdin is not piped; [`Error::Os`] naming `communicate` if
    /// a read or write fails otherwise; as [`PipelineChildExt::wait_async`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// use procctl::tokio::PipelineChildExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let p = Command::new("cat")
    ///     .pipe(Command::new("tr").args(["a-z", "A-Z"]))
    ///     .stdin(Stdio::piped())
    ///     .stdout(Stdio::piped())
    ///     .spawn()?;
    /// let out = p.communicate_async(b"shout").await?;
    /// assert_eq!(out.stdout, b"SHOUT");
    /// assert!(out.status.success());
    /// # Ok::<(), procctl::Error>(())
    /// # }).unwrap();
    /// ```
    fn communicate_async<'a>(
        &'a self,
        input: &'a [u8],
    ) -> impl Future<Output = Result<PipelineOutput>> + Send + 'a;
}

/// Async methods of [`Pipeline`] on tokio.
///
/// Sealed: implemented for [`Pipeline`] only.
///
/// # Cancellation
///
/// The members that `status_async` and `output_async` start belong to
/// the future alone. If the future is dropped before it completes, or
/// the call fails, every member is killed (`SIGKILL`) and reaped in the
/// background, as with [`CommandExt`]. To keep the members past a
/// cancellation, `spawn` the pipeline and await
/// [`PipelineChildExt::wait_async`].
pub trait PipelineExt: sealed::Sealed {
    /// [`Pipeline::status`] without blocking: spawns every member, then
    /// [`PipelineChildExt::wait_async`].
    ///
    /// # Errors
    ///
    /// As [`Pipeline::spawn`] and [`PipelineChildExt::wait_async`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::Command;
    /// use procctl::tokio::PipelineExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let status = Command::new("true").pipe(Command::new("sh").args(["-c", "exit 3"])).status_async().await?;
    /// assert_eq!(status.last().code(), Some(3));
    /// # Ok::<(), procctl::Error>(())
    /// # }).unwrap();
    /// ```
    fn status_async(&mut self) -> impl Future<Output = Result<PipeStatus>> + Send + '_;

    /// [`Pipeline::output`] without blocking: the same defaults (first
    /// stdin `/dev/null`, last stdout and the shared stderr piped, unless
    /// set), both read at once, then every status.
    ///
    /// # Errors
    ///
    /// As [`Pipeline::spawn`] and [`PipelineChildExt::communicate_async`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::Command;
    /// use procctl::tokio::PipelineExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let out = Command::new("sh").args(["-c", "echo hi; echo err >&2"])
    ///     .pipe(Command::new("tr").args(["a-z", "A-Z"]))
    ///     .output_async()
    ///     .await?;
    /// assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"HI\n"[..], &b"err\n"[..]));
    /// # Ok::<(), procctl::Error>(())
    /// # }).unwrap();
    /// ```
    fn output_async(&mut self) -> impl Future<Output = Result<PipelineOutput>> + Send + '_;
}

/// Async methods of [`Scope`] on tokio.
///
/// Sealed: implemented for [`Scope`] only.
///
/// # Platform notes
///
/// Linux only, as [`Scope`].
#[cfg(target_os = "linux")]
pub trait ScopeExt: sealed::Sealed {
    /// [`Scope::wait`] without blocking: resolves once the cgroup and
    /// every cgroup below it hold no process (`populated 0` in
    /// `cgroup.events`), at once if it is empty already.
    ///
    /// No thread and no polling loop: an inotify watch of
    /// `cgroup.events` (`IN_MODIFY`, which the kernel raises on every
    /// change of the file) goes into tokio's reactor, and the file is
    /// read again after the watch is armed and after each wake-up, so a
    /// change before the watch is not missed. Cancel-safe (it only
    /// reads), and several tasks may wait on one scope.
    ///
    /// # Errors
    ///
    /// [`Error::Cgroup`] naming `open cgroup.events`, `read
    /// cgroup.events` (`ENODEV` once the cgroup was removed),
    /// `inotify_init1` (`EMFILE`: no inotify instance left) or
    /// `inotify_add_watch cgroup.events`; [`Error::Os`] naming
    /// `epoll_ctl` if the reactor refuses the watch.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::proc::{Command, Scope};
    /// use procctl::tokio::ScopeExt;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let Ok(scope) = Scope::new() else { return Ok(()) };
    /// // The shell leaves a daemon behind in the scope.
    /// let sh = Command::new("sh").args(["-c", "setsid sleep 30 &"]).scope(&scope).spawn()?;
    /// assert!(sh.wait()?.success());
    /// assert!(!scope.is_empty()?);
    /// let (done, ()) = tokio::join!(
    ///     tokio::time::timeout(Duration::from_secs(10), scope.wait_async()),
    ///     async { scope.kill().unwrap() },
    /// );
    /// done.expect("emptied within 10 s")?;
    /// assert!(scope.is_empty()?);
    /// # Ok::<(), procctl::Error>(())
    /// # }).unwrap();
    /// ```
    fn wait_async(&self) -> impl Future<Output = Result<()>> + Send + '_;
}

impl ChildExt for Child {
    fn wait_async(&self) -> impl Future<Output = Result<ExitStatus>> + Send + '_ {
        wait(self)
    }

    async fn communicate_async<'a>(&'a self, input: &'a [u8]) -> Result<Output> {
        let done = communicate(self, input, None).await?;
        Ok(done.expect("no time limit"))
    }

    fn communicate_async_timeout<'a>(
        &'a self,
        input: &'a [u8],
        timeout: Duration,
    ) -> impl Future<Output = Result<std::result::Result<Output, PartialOutput>>> + Send + 'a {
        communicate(self, input, Some(timeout))
    }

    fn take_stdin_async(&self) -> Result<Option<Sender>> {
        self.take_stdin().map(sender).transpose()
    }

    fn take_stdout_async(&self) -> Result<Option<Receiver>> {
        self.take_stdout().map(receiver).transpose()
    }

    fn take_stderr_async(&self) -> Result<Option<Receiver>> {
        self.take_stderr().map(receiver).transpose()
    }
}

impl CommandExt for Command {
    fn status_async(&mut self) -> impl Future<Output = Result<ExitStatus>> + Send + '_ {
        let child = self.spawn_held(false, DropPolicy::Kill);
        async move { wait(&child?).await }
    }

    fn output_async(&mut self) -> impl Future<Output = Result<Output>> + Send + '_ {
        let child = self.spawn_held(true, DropPolicy::Kill);
        async move {
            let done = communicate(&child?, b"", None).await?;
            Ok(done.expect("no time limit"))
        }
    }
}

impl PipelineChildExt for PipelineChild {
    fn wait_async(&self) -> impl Future<Output = Result<PipeStatus>> + Send + '_ {
        wait_pipeline(self)
    }

    fn communicate_async<'a>(
        &'a self,
        input: &'a [u8],
    ) -> impl Future<Output = Result<PipelineOutput>> + Send + 'a {
        communicate_pipeline(self, input)
    }
}

impl PipelineExt for Pipeline {
    fn status_async(&mut self) -> impl Future<Output = Result<PipeStatus>> + Send + '_ {
        let pipeline = self.spawn_held(false, DropPolicy::Kill);
        async move { wait_pipeline(&pipeline?).await }
    }

    fn output_async(&mut self) -> impl Future<Output = Result<PipelineOutput>> + Send + '_ {
        let pipeline = self.spawn_held(true, DropPolicy::Kill);
        async move { communicate_pipeline(&pipeline?, b"").await }
    }
}

#[cfg(target_os = "linux")]
impl ScopeExt for Scope {
    fn wait_async(&self) -> impl Future<Output = Result<()>> + Send + '_ {
        wait_scope(self)
    }
}

/// A procctl pipe's write end as tokio's [`Sender`]: made non-blocking,
/// then registered with the runtime's reactor.
///
/// # Errors
///
/// [`Error::Os`] naming `fcntl` or `epoll_ctl`.
///
/// # Examples
///
/// ```
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let (r, w) = procctl::pipe::pipe()?;
/// let (mut r, mut w) = (procctl::tokio::receiver(r)?, procctl::tokio::sender(w)?);
/// w.write_all(b"x").await.unwrap();
/// drop(w);
/// let mut got = Vec::new();
/// r.read_to_end(&mut got).await.unwrap();
/// assert_eq!(got, b"x");
/// # Ok::<(), procctl::Error>(())
/// # }).unwrap();
/// ```
pub fn sender(writer: PipeWriter) -> Result<Sender> {
    let fd = OwnedFd::from(writer);
    sys::poll::set_nonblocking(fd.as_fd_ref(), true).map_err(|e| Error::os("fcntl", e))?;
    Sender::from_owned_fd_unchecked(fd).map_err(|e| Error::os("epoll_ctl", e))
}

/// A procctl pipe's read end as tokio's [`Receiver`] (see [`sender`]).
///
/// # Errors
///
/// [`Error::Os`] naming `fcntl` or `epoll_ctl`.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let (r, _w) = procctl::pipe::pipe()?;
/// let r = procctl::tokio::receiver(r)?;
/// assert!(r.try_read(&mut [0; 8]).is_err()); // WouldBlock: nothing written yet
/// # Ok::<(), procctl::Error>(())
/// # }).unwrap();
/// ```
pub fn receiver(reader: PipeReader) -> Result<Receiver> {
    let fd = OwnedFd::from(reader);
    sys::poll::set_nonblocking(fd.as_fd_ref(), true).map_err(|e| Error::os("fcntl", e))?;
    Receiver::from_owned_fd_unchecked(fd).map_err(|e| Error::os("epoll_ctl", e))
}

/// `as_fd` without importing `AsFd` next to tokio's names.
trait AsFdRef {
    fn as_fd_ref(&self) -> std::os::fd::BorrowedFd<'_>;
}

impl<T: std::os::fd::AsFd> AsFdRef for T {
    fn as_fd_ref(&self) -> std::os::fd::BorrowedFd<'_> {
        self.as_fd()
    }
}

impl Ready for Sender {
    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_ready(cx)
    }
    fn try_io(&self, op: impl FnOnce() -> io::Result<usize>) -> io::Result<usize> {
        Sender::try_io(self, op)
    }
}

impl Ready for Receiver {
    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_read_ready(cx)
    }
    fn try_io(&self, op: impl FnOnce() -> io::Result<usize>) -> io::Result<usize> {
        Receiver::try_io(self, op)
    }
}

async fn wait(child: &Child) -> Result<ExitStatus> {
    if let Some(s) = child.try_wait()? {
        return Ok(s);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let pidfd = child.pidfd();
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let pidfd = None;
    match sys::exit_fd::exit_fd(child.pid().as_raw(), pidfd) {
        Ok(Some(fd)) => {
            let fd = sys::tokio_fd::register_readable(fd).map_err(|e| Error::os("epoll_ctl", e))?;
            loop {
                // Elsewhere than Linux, checked after the registration: an
                // exit before it is seen here, one after it fires the
                // kqueue. A pidfd is readable from the exit on, registered
                // before or after: nothing to check.
                if !cfg!(any(target_os = "linux", target_os = "android")) {
                    if let Some(s) = child.try_wait()? {
                        return Ok(s);
                    }
                }
                let guard = fd
                    .readable()
                    .await
                    .map_err(|e| Error::os("epoll_wait", e))?;
                if let Some(s) = child.try_wait()? {
                    return Ok(s);
                }
                // Readable but not reapable yet (the last thread of the
                // process is still on its way out): keep the readiness (it
                // is level, and no new edge will come) and look again after
                // the other tasks had their turn.
                drop(guard);
                tokio::task::yield_now().await;
            }
        }
        Ok(None) => {}
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
        Err(e) => return Err(Error::os(sys::exit_fd::CALL, e)),
    }
    let mut step = Duration::from_millis(1);
    loop {
        if let Some(s) = child.try_wait()? {
            return Ok(s);
        }
        tokio::time::sleep(common::backoff(&mut step)).await;
    }
}

/// Every member's status, in order: each member awaited in turn (the
/// total is the time of the slowest).
async fn wait_pipeline(pipeline: &PipelineChild) -> Result<PipeStatus> {
    let mut statuses = Vec::with_capacity(pipeline.members().len());
    for m in pipeline.members() {
        statuses.push(wait(m).await?);
    }
    Ok(PipeStatus::new(statuses))
}

/// `PipelineChildExt::communicate_async`: the pump over the pipeline's
/// ends, then every member.
async fn communicate_pipeline(pipeline: &PipelineChild, input: &[u8]) -> Result<PipelineOutput> {
    let stdin = pipeline.take_stdin();
    common::check_pipeline_input(input, stdin.is_some())?;
    let mut pump = Pump {
        stdin: stdin.map(sender).transpose()?,
        input,
        stdout: pipeline.take_stdout().map(receiver).transpose()?,
        out: Vec::new(),
        stderr: pipeline.take_stderr().map(receiver).transpose()?,
        err: Vec::new(),
    };
    // The wait delay starts once every member has ended.
    let cut = pipeline.wait_delay().map(|d| async move {
        wait_pipeline(pipeline).await?;
        tokio::time::sleep(d).await;
        Ok(())
    });
    let held = pump.run_or_cut(cut).await?;
    let status = wait_pipeline(pipeline).await?;
    Ok(common::pipeline_output(status, pump.out, pump.err, held))
}

/// `ScopeExt::wait_async`: `cgroup.events` read, an inotify watch of it
/// in the reactor, read again after each wake-up.
#[cfg(target_os = "linux")]
async fn wait_scope(scope: &Scope) -> Result<()> {
    let mut events = scope.events()?;
    if !scope.populated_in(&mut events)? {
        return Ok(());
    }
    let watch = sys::tokio_fd::register_readable(scope.watch_events()?)
        .map_err(|e| Error::os("epoll_ctl", e))?;
    loop {
        // Read (again) with the watch armed: a change before the watch
        // is seen here, one after it wakes the watch.
        if !scope.populated_in(&mut events)? {
            return Ok(());
        }
        let mut guard = watch
            .readable()
            .await
            .map_err(|e| Error::os("epoll_wait", e))?;
        // Empty the queue; its `WouldBlock` clears the readiness (unless
        // a new event came meanwhile, which tokio keeps).
        if let Ok(Err(e)) = guard.try_io(|fd| sys::cgroup::drain_watch(fd.get_ref().as_fd_ref())) {
            return Err(Error::os("read inotify", e));
        }
    }
}

/// `communicate_async`, within `limit` if there is one: `Ok(Err(partial))`
/// when it runs out.
async fn communicate(
    child: &Child,
    input: &[u8],
    limit: Option<Duration>,
) -> Result<std::result::Result<Output, PartialOutput>> {
    let stdin = child.take_stdin();
    common::check_input(child, input, stdin.is_some())?;
    let mut pump = Pump {
        stdin: stdin.map(sender).transpose()?,
        input,
        stdout: child.take_stdout().map(receiver).transpose()?,
        out: Vec::new(),
        stderr: child.take_stderr().map(receiver).transpose()?,
        err: Vec::new(),
    };
    let cut = child.wait_delay().map(|d| async move {
        wait(child).await?;
        tokio::time::sleep(d).await;
        Ok(())
    });
    let mut held = None;
    let run = async {
        held = pump.run_or_cut(cut).await?;
        wait(child).await
    };
    let status = match limit {
        None => Some(run.await),
        Some(d) => tokio::time::timeout(d, run).await.ok(),
    };
    match status {
        Some(status) => Ok(Ok(common::output(status?, pump.out, pump.err, held))),
        None => Ok(Err(pump.partial(input.len()))),
    }
}

/// The signals that arrive, as a [`Stream`](futures_core::Stream) on
/// tokio: the async twin of [`procctl::signal::Signals`](crate::signal::Signals).
///
/// Made by [`signals`]. Each delivery procctl's handler counts becomes one
/// item, in order. **A count, not a loss of the last one**: a standard
/// signal sent again while it is still pending in the kernel (not yet
/// handled) merges with it, as POSIX allows, so a burst may yield fewer
/// items than were sent; but every signal sent after the last item was
/// returned yields at least one more item. Real-time signals are queued
/// by the kernel and counted exactly.
///
/// procctl's handler runs its dispatch on procctl's dispatcher thread (as
/// [`register`](crate::signal::register) does): it queues the delivery and
/// writes one byte to a pipe that tokio's reactor watches. Dropping the
/// stream unregisters, restoring the old disposition when it was the last
/// user.
pub struct Signals {
    src: SignalSource,
    pipe: Receiver,
}

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signals")
            .field("signals", &self.src.signals())
            .finish_non_exhaustive()
    }
}

/// Starts catching `signals` as a [`Signals`] stream on tokio.
///
/// # Errors
///
/// As [`procctl::signal::Signals::new`](crate::signal::Signals::new):
/// [`Error::InvalidArgument`] for `SIGKILL`, `SIGSTOP` and the fault
/// signals; [`Error::ResourceLimit`] without descriptors for the pipe.
///
/// # Examples
///
/// ```
/// use procctl::{Signal, signal};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mut sigs = procctl::tokio::signals([Signal::USR1])?;
/// signal::raise(Signal::USR1)?;
/// assert_eq!(sigs.recv().await, Some(Signal::USR1));
/// # Ok::<(), procctl::Error>(())
/// # }).unwrap();
/// ```
pub fn signals(signals: impl IntoIterator<Item = Signal>) -> Result<Signals> {
    let (src, reader) = SignalSource::new(signals)?;
    let pipe = Receiver::from_owned_fd_unchecked(OwnedFd::from(reader))
        .map_err(|e| Error::os("epoll_ctl", e))?;
    Ok(Signals { src, pipe })
}

impl Signals {
    /// The next delivery; `None` for a stream that watches nothing.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// assert_eq!(procctl::tokio::signals([])?.recv().await, None);
    /// # Ok::<(), procctl::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn recv(&mut self) -> Option<Signal> {
        std::future::poll_fn(|cx| common::poll_signal(&self.src, &self.pipe, cx)).await
    }

    /// The signals this stream watches.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let sigs = procctl::tokio::signals([procctl::Signal::USR2])?;
    /// assert!(sigs.signals().contains(procctl::Signal::USR2));
    /// # Ok::<(), procctl::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn signals(&self) -> SigSet {
        self.src.signals()
    }
}

impl futures_core::Stream for Signals {
    type Item = Signal;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Signal>> {
        let this = self.get_mut();
        common::poll_signal(&this.src, &this.pipe, cx)
    }
}

/// Waits for one Ctrl+C (`SIGINT`).
///
/// Installs procctl's handler when first polled and removes it once the
/// signal came (or the future is dropped), restoring the old disposition.
/// A `SIGINT` before the first poll is not seen: to catch one at any time,
/// keep a [`signals`]`([Signal::INT])` stream instead.
///
/// # Errors
///
/// As [`signals`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let waiter = tokio::spawn(procctl::tokio::ctrl_c());
/// tokio::time::sleep(Duration::from_millis(50)).await; // the handler is in place
/// procctl::signal::raise(procctl::Signal::INT)?;
/// tokio::time::timeout(Duration::from_secs(10), waiter).await.unwrap().unwrap()?;
/// # Ok::<(), procctl::Error>(())
/// # }).unwrap();
/// ```
pub async fn ctrl_c() -> Result<()> {
    let mut sigs = signals([Signal::INT])?;
    sigs.recv().await;
    Ok(())
}
