//! [`spawn_task`]: one closure, run concurrently on every platform: in a
//! forked process on Unix, in a thread on Windows.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

#[cfg(unix)]
use super::child::Child;
use crate::error::{Error, Result};
use crate::{ExitStatus, Pid};

/// Runs `f` concurrently and returns its [`Task`]: in a forked child process
/// on Unix, in a new thread on Windows (which has no `fork`).
///
/// The closure's return value is the task's exit code and a panic becomes
/// [`ExitStatus::Exited`]`(101)`, on both platforms. What differs is memory:
///
/// - **Unix: a process.** The task runs in a copy of the program made by the
///   safe [`fork`](super::fork): nothing it writes (a global, a captured
///   value, a heap object) ever reaches the parent, and a crash there (a
///   segfault, an abort) ends only the child, reported as
///   [`ExitStatus::Signaled`]. The kernel keeps the low 8 bits of the code
///   (`300` reads as `44`). [`Task::is_process`] is `true`.
/// - **Windows: a thread.** The task shares the program's memory: its writes
///   are seen by the caller, and a crash ends the whole program. The code is
///   kept whole. [`Task::is_process`] is `false`.
///
/// A portable program therefore passes data back through the exit code (or
/// a pipe, a file), never through memory, and treats the task as isolated
/// only where [`Task::is_process`] says so.
///
/// # Multi-threaded programs on Unix
///
/// `spawn_task` refuses with [`Error::MultiThreaded`] when the calling
/// process already has more than one thread, exactly like [`fork`](super::fork):
/// after a fork only the calling thread exists in the child, and a lock held
/// by another thread (the allocator's, stdio's) would stay locked there
/// forever. It does **not** fall back to a thread behind your back, because
/// that would silently change the task's memory semantics from "isolated"
/// to "shared" depending on whether some library started a thread. Call
/// [`spawn_thread_task`] to ask for a thread explicitly, on every platform.
///
/// # Errors
///
/// - [`Error::MultiThreaded`] (Unix) when the process has more than one
///   thread;
/// - [`Error::ResourceLimit`] when no process (Unix) or thread (Windows) can
///   be created.
///
/// # Platform notes
///
/// On Windows the task is a thread: do not end it with
/// [`_exit`](super::_exit) or [`std::process::exit`], which end the whole
/// program there; return the code instead. With `panic = "abort"` a panic
/// in a thread task aborts the program.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use procctl::proc::spawn_task;
///
/// static COUNTER: AtomicU32 = AtomicU32::new(0);
///
/// # if cfg!(windows) || procctl::proc::thread_count() == Some(1) {
/// let task = spawn_task(|| {
///     COUNTER.fetch_add(1, Ordering::SeqCst);
///     7
/// })?;
/// assert_eq!(task.wait()?.code(), Some(7));
/// // Separate memory on Unix, shared memory on Windows.
/// let seen = COUNTER.load(Ordering::SeqCst);
/// assert_eq!(seen, if task.is_process() { 0 } else { 1 });
///
/// let panicking = spawn_task(|| panic!("a task that panics"))?;
/// assert_eq!(panicking.wait()?, procctl::ExitStatus::Exited(101));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn spawn_task<F>(f: F) -> Result<Task>
where
    F: FnOnce() -> i32 + Send + 'static,
{
    #[cfg(unix)]
    {
        let child = super::fork(f)?;
        Ok(Task {
            inner: Inner::Process(child),
        })
    }
    #[cfg(not(unix))]
    {
        spawn_thread_task(f)
    }
}

/// Runs `f` in a new thread on every platform and returns its [`Task`]:
/// the explicit choice of shared memory, and what [`spawn_task`] does on
/// Windows.
///
/// Use it where a task must share memory with the caller, or on Unix in a
/// program that already runs several threads (where [`spawn_task`] refuses
/// to fork). The return value is the exit code, kept whole; a panic is
/// [`ExitStatus::Exited`]`(101)` (the panic message is printed by the panic
/// hook, as for any thread). [`Task::is_process`] is `false`.
///
/// # Errors
///
/// [`Error::ResourceLimit`] (or [`Error::Os`]) when the thread cannot be
/// created.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// let hits = Arc::new(AtomicU32::new(0));
/// let task = procctl::proc::spawn_thread_task({
///     let hits = Arc::clone(&hits);
///     move || {
///         hits.fetch_add(1, Ordering::SeqCst);
///         300
///     }
/// })?;
/// assert!(!task.is_process());
/// assert_eq!(task.wait()?.code(), Some(300)); // the whole code, not & 0xff
/// assert_eq!(hits.load(Ordering::SeqCst), 1); // shared memory
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn spawn_thread_task<F>(f: F) -> Result<Task>
where
    F: FnOnce() -> i32 + Send + 'static,
{
    let done = Arc::new(Done::default());
    let handle = std::thread::Builder::new()
        .name("procctl-task".to_owned())
        .spawn({
            let done = Arc::clone(&done);
            move || {
                let code = catch_unwind(AssertUnwindSafe(f)).unwrap_or(101);
                done.set(ExitStatus::Exited(code));
            }
        })
        .map_err(|e| Error::os("spawn thread", e))?;
    Ok(Task {
        inner: Inner::Thread(ThreadTask {
            id: handle.thread().id(),
            done,
            handle: Mutex::new(Some(handle)),
        }),
    })
}

/// Which kind of task a [`Task`] is, and its id.
///
/// ```
/// let task = procctl::proc::spawn_thread_task(|| 0)?;
/// let id = task.id();
/// assert_eq!(id.pid(), None);
/// assert!(id.to_string().starts_with("thread "));
/// task.wait()?;
/// # Ok::<(), procctl::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskId {
    /// A child process (Unix).
    Process(Pid),
    /// A thread of this process (Windows, or [`spawn_thread_task`]).
    Thread(ThreadId),
}

impl TaskId {
    /// The process id, for a task that is a process.
    ///
    /// ```
    /// # if cfg!(windows) || procctl::proc::thread_count() == Some(1) {
    /// let task = procctl::proc::spawn_task(|| 0)?;
    /// assert_eq!(task.id().pid().is_some(), task.is_process());
    /// task.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn pid(self) -> Option<Pid> {
        match self {
            TaskId::Process(pid) => Some(pid),
            TaskId::Thread(_) => None,
        }
    }
}

impl fmt::Display for TaskId {
    /// `"process 1234"` or `"thread ThreadId(5)"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskId::Process(pid) => write!(f, "process {pid}"),
            TaskId::Thread(id) => write!(f, "thread {id:?}"),
        }
    }
}

/// A task started by [`spawn_task`] or [`spawn_thread_task`]: a child
/// process or a thread, waited for the same way.
///
/// Every method takes `&self` and `Task` is `Send + Sync`. Waiting is
/// idempotent: once the task has ended, every `wait` returns the same
/// status.
///
/// Dropping a `Task` never blocks and never stops it: a process task is
/// reaped by procctl after it exits (see [`crate::reap`]); a thread task
/// runs on, detached, until it returns or the program ends.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # if cfg!(windows) || procctl::proc::thread_count() == Some(1) {
/// let task = procctl::proc::spawn_task(|| 2)?;
/// let status = task.wait_timeout(Duration::from_secs(10))?.expect("ends quickly");
/// assert_eq!(status.code(), Some(2));
/// assert_eq!(task.try_wait()?, Some(status));
/// println!("{} ended: {status}", task.id());
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[must_use = "a dropped Task keeps running; its status is lost"]
pub struct Task {
    inner: Inner,
}

enum Inner {
    #[cfg(unix)]
    Process(Child),
    Thread(ThreadTask),
}

struct ThreadTask {
    id: ThreadId,
    done: Arc<Done>,
    /// Joined once the thread has reported, to release it.
    handle: Mutex<Option<JoinHandle<()>>>,
}

/// The status a thread task reports when it ends, with a condition variable
/// for waiters.
#[derive(Default)]
struct Done {
    status: Mutex<Option<ExitStatus>>,
    cond: Condvar,
}

impl Done {
    fn set(&self, status: ExitStatus) {
        *self.status.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
        self.cond.notify_all();
    }

    fn get(&self) -> Option<ExitStatus> {
        *self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a status is set or `deadline` passes.
    fn wait(&self, deadline: Option<Instant>) -> Option<ExitStatus> {
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if status.is_some() {
                return *status;
            }
            status = match deadline {
                None => self.cond.wait(status).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    self.cond
                        .wait_timeout(status, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

impl ThreadTask {
    /// The status if the thread has reported, joining it the first time.
    fn finish(&self, status: Option<ExitStatus>) -> Option<ExitStatus> {
        if status.is_some() {
            let handle = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(handle) = handle {
                // The thread has set its status and is returning: this join
                // is immediate. A panic cannot escape (it was caught).
                let _ = handle.join();
            }
        }
        status
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id())
            .field("is_process", &self.is_process())
            .finish()
    }
}

impl Task {
    /// The task's id: its [`Pid`] for a process, its [`ThreadId`] for a
    /// thread.
    ///
    /// ```
    /// # if cfg!(windows) || procctl::proc::thread_count() == Some(1) {
    /// let task = procctl::proc::spawn_task(|| 0)?;
    /// match task.id() {
    ///     procctl::proc::TaskId::Process(pid) => assert_ne!(pid, procctl::Pid::current()),
    ///     procctl::proc::TaskId::Thread(id) => assert_ne!(id, std::thread::current().id()),
    /// }
    /// task.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn id(&self) -> TaskId {
        match &self.inner {
            #[cfg(unix)]
            Inner::Process(child) => TaskId::Process(child.pid()),
            Inner::Thread(t) => TaskId::Thread(t.id),
        }
    }

    /// Whether the task runs in its own process (separate memory): `true`
    /// for [`spawn_task`] on Unix, `false` on Windows and for
    /// [`spawn_thread_task`].
    ///
    /// ```
    /// # if cfg!(windows) || procctl::proc::thread_count() == Some(1) {
    /// let task = procctl::proc::spawn_task(|| 0)?;
    /// assert_eq!(task.is_process(), cfg!(unix));
    /// task.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn is_process(&self) -> bool {
        match &self.inner {
            #[cfg(unix)]
            Inner::Process(_) => true,
            Inner::Thread(_) => false,
        }
    }

    /// Waits for the task to end and returns its status: the closure's
    /// return value as [`ExitStatus::Exited`], `Exited(101)` after a panic,
    /// and on Unix [`ExitStatus::Signaled`] if a signal ended the process.
    ///
    /// Idempotent; several threads may wait at once.
    ///
    /// # Errors
    ///
    /// For a process task, as [`Child::wait`](super::Child::wait). A thread
    /// task never fails.
    ///
    /// # Examples
    ///
    /// ```
    /// # if cfg!(windows) || procctl::proc::thread_count() == Some(1) {
    /// let task = procctl::proc::spawn_task(|| 5)?;
    /// assert_eq!(task.wait()?.code(), Some(5));
    /// assert_eq!(task.wait()?.code(), Some(5));
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait(&self) -> Result<ExitStatus> {
        match &self.inner {
            #[cfg(unix)]
            Inner::Process(child) => child.wait(),
            Inner::Thread(t) => Ok(t.finish(t.done.wait(None)).expect("no deadline")),
        }
    }

    /// The status if the task has ended, `None` if it is still running.
    /// Never blocks.
    ///
    /// # Errors
    ///
    /// As [`Task::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let task = procctl::proc::spawn_thread_task(move || {
    ///     let _ = rx.recv();
    ///     0
    /// })?;
    /// assert_eq!(task.try_wait()?, None);
    /// drop(tx); // lets it finish
    /// assert!(task.wait()?.success());
    /// assert!(task.try_wait()?.is_some());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn try_wait(&self) -> Result<Option<ExitStatus>> {
        match &self.inner {
            #[cfg(unix)]
            Inner::Process(child) => child.try_wait(),
            Inner::Thread(t) => Ok(t.finish(t.done.get())),
        }
    }

    /// Waits at most `timeout` for the task to end: `Some(status)`, or
    /// `None` if it is still running when the time is up (it is left
    /// running).
    ///
    /// # Errors
    ///
    /// As [`Task::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let task = procctl::proc::spawn_thread_task(move || {
    ///     let _ = rx.recv();
    ///     4
    /// })?;
    /// assert_eq!(task.wait_timeout(Duration::from_millis(20))?, None);
    /// drop(tx);
    /// assert_eq!(task.wait_timeout(Duration::from_secs(10))?.and_then(|s| s.code()), Some(4));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<ExitStatus>> {
        match &self.inner {
            #[cfg(unix)]
            Inner::Process(child) => child.wait_timeout(timeout),
            Inner::Thread(t) => {
                let deadline = Instant::now().checked_add(timeout);
                Ok(t.finish(t.done.wait(deadline)))
            }
        }
    }

    /// The [`Child`] behind a process task (to signal it, read its resource
    /// usage, choose its drop policy); `None` for a thread task.
    ///
    /// ```
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let task = procctl::proc::spawn_task(|| {
    ///     std::thread::sleep(std::time::Duration::from_secs(30));
    ///     0
    /// })?;
    /// let child = task.as_child().expect("a process on Unix");
    /// child.kill()?;
    /// assert_eq!(task.wait()?.signal(), Some(procctl::Signal::KILL));
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[cfg(unix)]
    pub fn as_child(&self) -> Option<&Child> {
        match &self.inner {
            Inner::Process(child) => Some(child),
            Inner::Thread(_) => None,
        }
    }
}
