//! [`Scope`]: a cgroup v2 around a tree of processes (Linux).

use std::ffi::CString;
use std::fmt;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::Pid;
use crate::error::{Error, Result};
use crate::sys::cgroup::{self, Target};

/// What dropping a [`Scope`] does to its cgroup.
///
/// ```
/// use procctl::proc::ScopeDropPolicy;
/// assert_eq!(ScopeDropPolicy::default(), ScopeDropPolicy::KillAndRemove);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScopeDropPolicy {
    /// Kill every process left in the cgroup (`cgroup.kill`), wait up to
    /// one second for them to die, then remove the cgroup. If something
    /// still holds it after that second (a process stuck in an
    /// uninterruptible sleep), the directory is left behind; the
    /// processes have been sent `SIGKILL` and leave it when they die.
    #[default]
    KillAndRemove,
    /// Remove the cgroup if it is empty; a cgroup that still has live
    /// processes cannot be removed (`EBUSY`) and is left as it is, with
    /// them inside.
    Remove,
    /// Leave the cgroup and its processes alone; [`Scope::path`] names it.
    Leave,
}

impl ScopeDropPolicy {
    fn to_u8(self) -> u8 {
        match self {
            ScopeDropPolicy::KillAndRemove => 0,
            ScopeDropPolicy::Remove => 1,
            ScopeDropPolicy::Leave => 2,
        }
    }

    fn from_u8(v: u8) -> ScopeDropPolicy {
        match v {
            1 => ScopeDropPolicy::Remove,
            2 => ScopeDropPolicy::Leave,
            _ => ScopeDropPolicy::KillAndRemove,
        }
    }
}

/// A fresh cgroup v2 that holds a tree of processes (Linux): every process
/// started in it with [`Command::scope`](crate::proc::Command::scope), and
/// everything those start, whatever they do with sessions and process
/// groups (`setsid`, double forks, daemons).
///
/// - [`Scope::pids`] lists them, [`Scope::kill`] kills them all at once
///   (`cgroup.kill`), [`Scope::wait`]/[`Scope::wait_timeout`] wait until
///   none is left, woken by the kernel (`cgroup.events` polled), never by
///   a sleep loop.
/// - Dropping the `Scope` kills what is left and removes the cgroup (see
///   [`ScopeDropPolicy`] for the bounds and the other choices).
/// - A `Scope` stays usable after [`kill`](Scope::kill): spawning into it
///   again works, and the new processes are inside it as before.
///
/// **Zombies.** A process that exits leaves the cgroup at once, before
/// anybody reaps it: `wait` returning means no live process is left, not
/// that every one was reaped. Those that are our own children are still
/// reaped through their [`Child`](crate::proc::Child) handles (a dropped
/// handle hands its child to procctl's reaping); orphaned descendants are
/// reaped by init or by a subreaper, as usual.
///
/// **Where it can be made.** Creating a cgroup needs write access to the
/// parent cgroup directory: root, or a subtree delegated to the user (a
/// systemd unit or scope with `Delegate=yes`, e.g. `systemd-run --user
/// --scope -p Delegate=yes ...`), or a container with its own cgroup
/// namespace and a writable `/sys/fs/cgroup`. Moving a process in also
/// needs write access to `cgroup.procs` of the common ancestor of the
/// source and destination cgroups, which delegation gives. cgroup v2's
/// "no internal processes" rule does not stop a new scope: it is a leaf
/// with no controllers enabled. But once a scope exists under our own
/// cgroup, that cgroup cannot enable controllers for its children
/// (`cgroup.subtree_control`) while it still has processes.
///
/// # Platform notes
///
/// Linux only (cgroup v2, Linux 4.5+). Starting a child in the cgroup at
/// birth uses `clone3(CLONE_INTO_CGROUP)` (5.7+), else the child joins
/// through `cgroup.procs` before it execs; [`Scope::kill`] needs
/// `cgroup.kill` (5.14+). cgroup v2 may be mounted at `/sys/fs/cgroup` or,
/// in systemd's hybrid layout, at `/sys/fs/cgroup/unified`: procctl reads
/// the mount from `/proc/self/mountinfo`.
///
/// Linux 6.18 (and the stable kernels that took the same `kill_seq`
/// change) compares a `CLONE_INTO_CGROUP` child against the *parent's*
/// cgroup's kill count instead of the destination's, and kills the child
/// at birth when they differ. procctl avoids the case it creates itself
/// (spawning into a scope after [`Scope::kill`] joins through
/// `cgroup.procs`), but a program that itself runs in a cgroup that was
/// once killed, and joined it afterwards, will see its scoped children
/// die of `SIGKILL` at birth on such kernels.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use procctl::proc::{Command, Scope};
///
/// let scope = match Scope::new() {
///     Ok(s) => s,
///     Err(e) => {
///         eprintln!("no writable cgroup v2 here: {e}");
///         return Ok(());
///     }
/// };
/// // A daemon that escapes its session and process group...
/// let child = Command::new("sh")
///     .args(["-c", "setsid sleep 600 & exit 0"])
///     .scope(&scope)
///     .spawn()?;
/// assert!(child.wait()?.success());
/// // ...is still in the scope, and dies with it.
/// assert!(!scope.pids()?.is_empty());
/// scope.kill()?;
/// assert!(scope.wait_timeout(Duration::from_secs(10))?);
/// assert!(scope.pids()?.is_empty());
/// # Ok::<(), procctl::Error>(())
/// ```
pub struct Scope {
    target: Arc<Target>,
    policy: AtomicU8,
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("path", &self.target.path)
            .field("drop_policy", &self.drop_policy())
            .finish()
    }
}

/// One cgroup directory name per scope of this process.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// How long a drop waits for killed processes to leave the cgroup.
const DROP_WAIT: Duration = Duration::from_secs(1);

impl Scope {
    /// `mkdir` of a new cgroup under the caller's own cgroup v2: the
    /// `0::/path` line of `/proc/self/cgroup`, below the `cgroup2` mount
    /// listed in `/proc/self/mountinfo`.
    ///
    /// The cgroup is named `procctl-<pid>-<n>`; see [`Scope::under`] for
    /// what is checked and what the new cgroup is.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when this process is in no cgroup v2
    /// hierarchy that is mounted here (a pure cgroup v1 system, or a
    /// container without `/sys/fs/cgroup`); [`Error::Cgroup`] naming the
    /// file when `/proc/self/cgroup` or `/proc/self/mountinfo` cannot be
    /// read; else as [`Scope::under`].
    ///
    /// # Examples
    ///
    /// ```
    /// # match procctl::proc::Scope::new() {
    /// # Ok(scope) => {
    /// // let scope = procctl::proc::Scope::new()?;
    /// assert!(scope.path().is_dir());
    /// assert!(scope.pids()?.is_empty());
    /// let path = scope.path().to_owned();
    /// drop(scope);
    /// assert!(!path.exists());
    /// # }
    /// # Err(e) => eprintln!("no writable cgroup v2 here: {e}"),
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "cgroup")]
    pub fn new() -> Result<Scope> {
        let parent = cgroup::own_dir()
            .map_err(|source| Error::Cgroup {
                path: PathBuf::from("/proc/self"),
                call: "read /proc/self/cgroup and mountinfo",
                source,
            })?
            .ok_or(Error::Unsupported {
                what: "cgroup v2 (no cgroup2 mount holds this process's cgroup)",
            })?;
        Scope::under(parent)
    }

    /// `mkdir` of a new cgroup in the cgroup v2 directory `parent`.
    ///
    /// `parent` must be a directory on a cgroup v2 file system (checked
    /// with `fstatfs`) that we may write to. The new cgroup is checked to
    /// accept processes (its `cgroup.type` is `domain`, not `domain
    /// invalid` or `threaded`); on any failure after the `mkdir` the
    /// directory is removed again: there is never a half-made scope.
    ///
    /// # Errors
    ///
    /// [`Error::NotCgroup2`] when `parent` is not on a cgroup v2 file
    /// system (a cgroup v1 hierarchy, `/tmp`); [`Error::Cgroup`] naming
    /// `parent` and the failed call with its errno otherwise: `open`
    /// (`ENOENT`, `ENOTDIR`), `mkdir` (`EACCES`/`EPERM`: not delegated to
    /// us; `EROFS`: mounted read-only; `EAGAIN`: `cgroup.max.descendants`
    /// reached), or `cgroup.type` (`EOPNOTSUPP`: a threaded subtree).
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::{Error, proc::Scope};
    ///
    /// let err = Scope::under("/tmp").unwrap_err();
    /// assert!(matches!(err, Error::NotCgroup2 { .. }));
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn under(parent: impl AsRef<Path>) -> Result<Scope> {
        let parent = parent.as_ref();
        let fail = |call, source| Error::Cgroup {
            path: parent.to_path_buf(),
            call,
            source,
        };
        let fd = cgroup::open_dir(parent).map_err(|e| fail("open", e))?;
        if !cgroup::is_cgroup2(fd.as_fd()).map_err(|e| fail("fstatfs", e))? {
            return Err(Error::NotCgroup2 {
                path: parent.to_path_buf(),
            });
        }
        let path = loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = parent.join(format!("procctl-{}-{n}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => break path,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(fail("mkdir", e)),
            }
        };
        match Scope::finish(&path) {
            Ok(target) => Ok(Scope {
                target: Arc::new(target),
                policy: AtomicU8::new(ScopeDropPolicy::KillAndRemove.to_u8()),
            }),
            Err(e) => {
                let _ = std::fs::remove_dir(&path);
                Err(e)
            }
        }
    }

    /// Opens and checks a cgroup just made.
    fn finish(path: &Path) -> Result<Target> {
        let fail = |call, source| Error::Cgroup {
            path: path.to_path_buf(),
            call,
            source,
        };
        let dir = cgroup::open_dir(path).map_err(|e| fail("open", e))?;
        let ty = std::fs::read_to_string(path.join("cgroup.type"))
            .map_err(|e| fail("read cgroup.type", e))?;
        if ty.trim() != "domain" {
            // Processes cannot be moved into a threaded or invalid cgroup:
            // what the kernel would answer at spawn.
            return Err(fail(
                "cgroup.type (threaded or domain invalid)",
                io::Error::from_raw_os_error(libc::EOPNOTSUPP),
            ));
        }
        let procs =
            CString::new(path.join("cgroup.procs").as_os_str().as_bytes()).map_err(|_| {
                Error::NulByte {
                    what: "cgroup path",
                    value: path.as_os_str().to_owned(),
                }
            })?;
        Ok(Target {
            dir,
            procs,
            path: path.to_path_buf(),
            killed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// What `Command::scope` keeps.
    pub(crate) fn target(&self) -> Arc<Target> {
        Arc::clone(&self.target)
    }

    /// The cgroup directory.
    ///
    /// ```
    /// # if let Ok(scope) = procctl::proc::Scope::new() {
    /// assert!(scope.path().join("cgroup.procs").exists());
    /// # }
    /// ```
    pub fn path(&self) -> &Path {
        &self.target.path
    }

    fn error(&self, call: &'static str, source: io::Error) -> Error {
        Error::Cgroup {
            path: self.target.path.clone(),
            call,
            source,
        }
    }

    /// The live processes in the scope: `cgroup.procs` of its cgroup and of
    /// every cgroup below it (a delegated child may make some), sorted.
    ///
    /// Zombies are not listed: a process leaves its cgroup when it exits.
    /// The list is a snapshot; processes may start or end right after.
    ///
    /// # Errors
    ///
    /// [`Error::Cgroup`] when a `cgroup.procs` cannot be read (the cgroup
    /// was removed behind our back: `ENOENT`/`ENODEV`).
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::{Command, Scope};
    /// # let Ok(scope) = Scope::new() else { return Ok(()) };
    /// let child = Command::new("sleep").arg("30").scope(&scope).spawn()?;
    /// assert_eq!(scope.pids()?, [child.pid()]);
    /// child.kill()?;
    /// child.wait()?;
    /// assert!(scope.pids()?.is_empty());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "cgroup.procs")]
    pub fn pids(&self) -> Result<Vec<Pid>> {
        let mut raw = Vec::new();
        cgroup::pids_recursive(&self.target.path, &mut raw)
            .map_err(|e| self.error("read cgroup.procs", e))?;
        let mut pids: Vec<Pid> = raw.into_iter().filter_map(Pid::from_raw).collect();
        pids.sort_unstable_by_key(|p| p.as_raw());
        pids.dedup();
        Ok(pids)
    }

    /// Whether no live process is left in the scope (`populated 0` in
    /// `cgroup.events`, which counts the cgroups below it too).
    ///
    /// # Errors
    ///
    /// [`Error::Cgroup`] when `cgroup.events` cannot be read.
    ///
    /// ```
    /// # let Ok(scope) = procctl::proc::Scope::new() else { return Ok(()) };
    /// assert!(scope.is_empty()?);
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        let mut events = self.events()?;
        cgroup::populated(&mut events)
            .map(|p| !p)
            .map_err(|e| self.error("read cgroup.events", e))
    }

    pub(crate) fn events(&self) -> Result<std::fs::File> {
        cgroup::open_at(self.target.dir.as_fd(), c"cgroup.events", libc::O_RDONLY)
            .map_err(|e| self.error("open cgroup.events", e))
    }

    /// Whether `cgroup.events` (open in `events`, from [`Scope::events`])
    /// says `populated 1`; reading re-arms its notification.
    #[cfg(any(feature = "tokio", feature = "async-io"))]
    pub(crate) fn populated_in(&self, events: &mut std::fs::File) -> Result<bool> {
        cgroup::populated(events).map_err(|e| self.error("read cgroup.events", e))
    }

    /// An inotify descriptor that turns readable on every change of
    /// `cgroup.events` (the async waits). The error names the call that
    /// failed: `inotify_init1`, or `inotify_add_watch cgroup.events`.
    #[cfg(any(feature = "tokio", feature = "async-io"))]
    pub(crate) fn watch_events(&self) -> Result<std::os::fd::OwnedFd> {
        cgroup::watch_modify(&self.target.path.join("cgroup.events")).map_err(|(call, e)| {
            let call = match call {
                "inotify_init1" => "inotify_init1",
                _ => "inotify_add_watch cgroup.events",
            };
            self.error(call, e)
        })
    }

    /// `echo 1 > cgroup.kill`: sends `SIGKILL` to every process in the
    /// scope and in the cgroups below it, at once, including those that
    /// fork meanwhile, double-forked daemons and processes in other
    /// sessions and groups. Returns without waiting: see [`Scope::wait`].
    ///
    /// The scope stays usable: a command spawned into it afterwards runs
    /// normally (the kill is an event, not a state). Killing an empty
    /// scope does nothing. (Linux, seen on 6.18, kills at birth a child
    /// that `clone3(CLONE_INTO_CGROUP)` creates in a cgroup that was once
    /// killed; so after `kill` procctl's spawns into this scope join it
    /// through `cgroup.procs` instead, in the child before it execs, as on
    /// the `clone` fallback.)
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] before Linux 5.14 (no `cgroup.kill`);
    /// [`Error::Cgroup`] when the write fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::{Signal, proc::{Command, Scope}};
    /// # let Ok(scope) = Scope::new() else { return Ok(()) };
    /// let child = Command::new("sleep").arg("30").scope(&scope).spawn()?;
    /// scope.kill()?;
    /// assert_eq!(child.wait()?.signal(), Some(Signal::KILL));
    /// assert!(scope.wait_timeout(Duration::from_secs(10))?);
    /// // Still usable.
    /// let status = Command::new("true").scope(&scope).status()?;
    /// assert!(status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "cgroup.kill")]
    pub fn kill(&self) -> Result<()> {
        let mut file =
            match cgroup::open_at(self.target.dir.as_fd(), c"cgroup.kill", libc::O_WRONLY) {
                Ok(f) => f,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) && self.path().exists() => {
                    return Err(Error::Unsupported {
                        what: "Scope::kill without cgroup.kill (Linux < 5.14)",
                    });
                }
                Err(e) => return Err(self.error("open cgroup.kill", e)),
            };
        // Before the write: a spawn that races with it must not be born
        // through CLONE_INTO_CGROUP after it (see `Target::killed`).
        self.target.killed.store(true, Ordering::Relaxed);
        file.write_all(b"1")
            .map_err(|e| self.error("write cgroup.kill", e))
    }

    /// Waits until no live process is left in the scope (`populated 0` in
    /// `cgroup.events`): the kernel wakes the wait (`poll` for `POLLPRI`
    /// on the file) whenever that changes. Returns at once if it is empty.
    ///
    /// See [`Scope`] about zombies: the processes may still have to be
    /// reaped.
    ///
    /// # Errors
    ///
    /// [`Error::Cgroup`] when `cgroup.events` cannot be opened, read or
    /// polled.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::{Command, Scope};
    /// # let Ok(scope) = Scope::new() else { return Ok(()) };
    /// // The shell exits at once; its background sleep runs on.
    /// Command::new("sh").args(["-c", "sleep 0.2 &"]).scope(&scope).status()?;
    /// scope.wait()?;
    /// assert!(scope.is_empty()?);
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait(&self) -> Result<()> {
        self.wait_deadline(None).map(drop)
    }

    /// [`Scope::wait`] for at most `timeout`: `true` once the scope is
    /// empty, `false` if the time ran out first.
    ///
    /// # Errors
    ///
    /// As [`Scope::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::proc::{Command, Scope};
    /// # let Ok(scope) = Scope::new() else { return Ok(()) };
    /// let child = Command::new("sleep").arg("30").scope(&scope).spawn()?;
    /// assert!(!scope.wait_timeout(Duration::from_millis(50))?);
    /// child.kill()?;
    /// assert!(scope.wait_timeout(Duration::from_secs(10))?);
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        self.wait_deadline(Some(timeout))
    }

    fn wait_deadline(&self, timeout: Option<Duration>) -> Result<bool> {
        let deadline = timeout.and_then(cgroup::deadline);
        // A file of our own per wait: reading re-arms the notification for
        // the open file that reads, so two waits sharing one would steal
        // each other's wake-ups.
        let mut events = self.events()?;
        loop {
            let populated =
                cgroup::populated(&mut events).map_err(|e| self.error("read cgroup.events", e))?;
            if !populated {
                return Ok(true);
            }
            let changed = cgroup::wait_change(&events, deadline)
                .map_err(|e| self.error("poll cgroup.events", e))?;
            if !changed {
                return Ok(false);
            }
        }
    }

    /// Chooses what dropping the scope does (default:
    /// [`ScopeDropPolicy::KillAndRemove`]).
    ///
    /// ```
    /// use procctl::proc::{Scope, ScopeDropPolicy};
    /// # let Ok(scope) = Scope::new() else { return };
    /// scope.set_drop_policy(ScopeDropPolicy::Leave);
    /// let path = scope.path().to_owned();
    /// drop(scope);
    /// assert!(path.exists()); // left behind, as asked
    /// std::fs::remove_dir(path).unwrap();
    /// ```
    pub fn set_drop_policy(&self, policy: ScopeDropPolicy) {
        self.policy.store(policy.to_u8(), Ordering::Relaxed);
    }

    /// The current [`ScopeDropPolicy`].
    ///
    /// ```
    /// # let Ok(scope) = procctl::proc::Scope::new() else { return };
    /// assert_eq!(scope.drop_policy(), procctl::proc::ScopeDropPolicy::KillAndRemove);
    /// ```
    pub fn drop_policy(&self) -> ScopeDropPolicy {
        ScopeDropPolicy::from_u8(self.policy.load(Ordering::Relaxed))
    }
}

impl Drop for Scope {
    /// What the [`ScopeDropPolicy`] says; blocks for at most one second
    /// (under [`ScopeDropPolicy::KillAndRemove`], while killed processes
    /// die). Errors are ignored: a cgroup that cannot be removed stays.
    ///
    /// Under `KillAndRemove` a step that fails does not end the drop
    /// within that second: where it cannot tell whether the scope is
    /// empty it kills (an empty scope's kill does nothing); a kill that
    /// failed is tried again, and a removal refused while the killed
    /// processes are still on their way out (`EBUSY`: the wait could not
    /// watch `cgroup.events`) is tried again after a short sleep.
    fn drop(&mut self) {
        match self.drop_policy() {
            ScopeDropPolicy::Leave => {}
            ScopeDropPolicy::Remove => {
                let _ = cgroup::remove_tree(&self.target.path);
            }
            ScopeDropPolicy::KillAndRemove => self.kill_and_remove(),
        }
    }
}

impl Scope {
    /// [`ScopeDropPolicy::KillAndRemove`], within [`DROP_WAIT`].
    fn kill_and_remove(&self) {
        let deadline = Instant::now() + DROP_WAIT;
        let mut killed = false;
        if !self.is_empty().unwrap_or(false) && self.kill().is_ok() {
            killed = true;
            // Woken as the last process leaves; on an error, the
            // removal below waits instead.
            let _ = self.wait_timeout(deadline.saturating_duration_since(Instant::now()));
        }
        let mut pause = Duration::from_millis(1);
        loop {
            match cgroup::remove_tree(&self.target.path) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
                _ => return,
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            // Still held: a process that is dying, or one that a failed
            // kill (or an emptiness that could not be read) spared.
            if !killed {
                killed = self.kill().is_ok();
            }
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}
