//! How a [`Command`] starts on Unix: an `ExecPlan` run by `sys::spawn`
//! (`clone3`, `clone` or `fork`, then `execve`), the child's set-up done
//! between the two.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::IsTerminal;
use std::io::{PipeReader, PipeWriter};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use super::{Command, Kind, StdioDefault};
use crate::error::{Error, Result, SpawnStep};
use crate::proc::child::{Child, Shared};
use crate::sys::ExecPlan;
use crate::sys::exec::EnvSnapshot;
use crate::sys::exec::to_cstring;
use crate::sys::spawn::{self, FdMove, Reopen, Request};
use crate::{Pid, Signal, reap};

impl Command {
    /// The environment for the child: `None` when it is ours unchanged;
    /// then `spawn_imp` passes our live `environ` only where no other
    /// thread exists, else a snapshot. A child that read
    /// our live `environ` could find it reallocated under it by a
    /// concurrent `std::env::set_var` (an `EFAULT` from `execve`, or a
    /// mix of old and new entries); `std::env::vars_os` copies it under
    /// std's environment lock, the one `set_var` takes.
    fn envp(&self) -> Result<Option<Vec<CString>>> {
        for key in self.env.keys() {
            if key.is_empty() || key.as_bytes().contains(&b'=') {
                return Err(Error::InvalidArgument {
                    what: "environment variable name",
                    value: format!("{key:?}"),
                });
            }
        }
        if !self.env_clear && self.env.is_empty() {
            // Ours, unchanged. With no other thread nobody can change it
            // while the child reads it: the child takes the live one.
            // Else `spawn_imp` sets a snapshot on the plan.
            return Ok(None);
        }
        let mut vars: BTreeMap<OsString, OsString> = if self.env_clear {
            BTreeMap::new()
        } else {
            std::env::vars_os().collect()
        };
        for (k, v) in &self.env {
            match v {
                Some(v) => vars.insert(k.clone(), v.clone()),
                None => vars.remove(k),
            };
        }
        vars.into_iter()
            .map(|(k, v)| {
                let mut kv = k;
                kv.push("=");
                kv.push(v);
                to_cstring("environment", &kv)
            })
            .collect::<Result<_>>()
            .map(Some)
    }

    /// Where to look for the program: the child's `PATH` if it was set or
    /// removed here, else ours. A program named with a slash is not looked
    /// up (as `execvp` does), so nothing is read then.
    fn search_path(&self) -> Option<OsString> {
        if self.program.as_os_str().as_bytes().contains(&b'/') {
            return None;
        }
        match self.env.get(OsStr::new("PATH")) {
            Some(set) => set.clone(),
            None => std::env::var_os("PATH"),
        }
    }

    fn check_signals(&self) -> Result<()> {
        // ---- terminal ----
        // A controlling terminal comes with a new session (see setsid).
        if let Some(pg) = self
            .pgroup
            .filter(|&pg| self.terminal.has_ctty() && pg != 0)
        {
            return Err(Error::InvalidArgument {
                what: "process group",
                value: format!(
                    "{pg} with a controlling terminal: a new session's group is the child's own (0)"
                ),
            });
        }
        // ---- end terminal ----
        for &sig in self.ignore.iter().chain(&self.default) {
            if sig == Signal::KILL || sig == Signal::STOP {
                return Err(Error::InvalidArgument {
                    what: "signal disposition",
                    value: format!("{sig} cannot be ignored or reset"),
                });
            }
        }
        if let Some(pg) = self.pgroup.filter(|&pg| pg < 0) {
            return Err(Error::InvalidArgument {
                what: "process group",
                value: pg.to_string(),
            });
        }
        // A new session is a new group led by the child: `0` names it
        // (nothing more to do), any other group is out of reach (Linux
        // refuses `setpgid` for a session leader).
        if let Some(pg) = self.pgroup.filter(|&pg| self.setsid && pg != 0) {
            return Err(Error::InvalidArgument {
                what: "process group",
                value: format!("{pg} with setsid: a new session's group is the child's own (0)"),
            });
        }
        if let Some((_, to)) = self.maps.iter().find(|(_, to)| *to < 0) {
            return Err(Error::InvalidArgument {
                what: "mapped fd",
                value: to.to_string(),
            });
        }
        Ok(())
    }

    /// Starts the program with `defaults` for the stdio not set.
    pub(super) fn spawn_imp(&self, defaults: [StdioDefault; 3]) -> Result<Child> {
        reap::drain_orphans();
        self.check_signals()?;
        // Spawn attributes: every value checked, and refused where the
        // platform cannot apply it, before any process exists.
        let attrs = if self.attrs.is_empty() {
            Default::default()
        } else {
            self.attrs.prepare()?
        };
        let program = self.program.as_os_str();
        let argv: Vec<&OsStr> = std::iter::once(self.arg0.as_deref().unwrap_or(program))
            .chain(self.args.iter().map(OsString::as_os_str))
            .collect();
        let path = self.search_path();
        let envp = self.envp()?;
        let snapshot = envp.is_none() && !spawn::single_threaded();
        let mut plan = ExecPlan::new(program, &argv, envp, true, path.as_deref())?;
        if snapshot {
            // Our environment, unchanged, while other threads may change
            // it: copied under std's lock into one buffer (see `envp`).
            plan.set_env_snapshot(EnvSnapshot::new(std::env::vars_os().collect()));
        }
        let chdir = self
            .cwd
            .as_ref()
            .map(|d| to_cstring("current directory", d.as_os_str()))
            .transpose()?;

        // Stdio: the parent's pipe ends go to the Child; the child's ends
        // and /dev/null are closed here once the child has its copies.
        let spawn_err = |step, e: std::io::Error| {
            // Out of processes, descriptors or memory in the parent: the
            // limit error of DESIGN's contract, naming the call.
            let limit = matches!(
                e.raw_os_error(),
                Some(libc::EAGAIN | libc::EMFILE | libc::ENFILE | libc::ENOMEM)
            );
            match step {
                SpawnStep::Fork if limit => Error::os("clone", e),
                SpawnStep::Pipe if limit => Error::os("pipe", e),
                SpawnStep::Open if limit => Error::os("open /dev/null", e),
                SpawnStep::Chdir => match &self.cwd {
                    Some(dir) => Error::spawn(program, step, e).with_path(dir.as_os_str()),
                    None => Error::spawn(program, step, e),
                },
                _ => Error::spawn(program, step, e),
            }
        };
        // Every kept descriptor must be open now, before this spawn makes
        // pipes or opens /dev/null: one of those could land on a kept
        // number that is closed, and the child would keep it silently.
        let stdio = [&self.stdin, &self.stdout, &self.stderr];
        let inherited = |dst: usize| {
            matches!(
                (stdio[dst].as_ref().map(|s| &s.0), defaults[dst]),
                (Some(Kind::Inherit), _) | (None, StdioDefault::Inherit)
            )
        };
        for &fd in &self.keep {
            let replaced = (0..=2).contains(&fd) && !inherited(fd as usize)
                || self.maps.iter().any(|(_, to)| *to == fd);
            if !replaced && !spawn::is_open(fd) {
                return Err(spawn_err(
                    SpawnStep::Dup2,
                    std::io::Error::from_raw_os_error(libc::EBADF),
                ));
            }
        }
        // ---- terminal (pty, controlling_terminal, foreground) ----
        let (pty_fd, ctty, foreground) = self.terminal.fds(program)?;
        // ---- end terminal ----
        let mut child_ends: Vec<OwnedFd> = Vec::new();
        let mut null: Option<OwnedFd> = None;
        let mut moves: Vec<FdMove> = Vec::new();
        let mut parent_stdin: Option<PipeWriter> = None;
        let mut parent_out: [Option<PipeReader>; 2] = [None, None];
        for (dst, (set, default)) in stdio.into_iter().zip(defaults).enumerate() {
            let dst = dst as RawFd;
            if self.maps.iter().any(|(_, to)| *to == dst) {
                continue;
            }
            // The ends made here may be opened afresh by the child (see
            // `Reopen`): nobody else shares their offset or flags.
            let (src, reopen) = match (set.as_ref().map(|s| &s.0), default) {
                // `pty`: the slave where no stdio was set explicitly.
                (None, _) if pty_fd.is_some() => (pty_fd.unwrap_or(-1), Reopen::No),
                (Some(Kind::Inherit), _) | (None, StdioDefault::Inherit) => continue,
                (Some(Kind::Null), _) | (None, StdioDefault::Null) => match &null {
                    Some(fd) => (fd.as_raw_fd(), Reopen::DevNull),
                    None => {
                        let file = File::options()
                            .read(true)
                            .write(true)
                            .open("/dev/null")
                            .map_err(|e| spawn_err(SpawnStep::Open, e))?;
                        (null.insert(file.into()).as_raw_fd(), Reopen::DevNull)
                    }
                },
                (Some(Kind::Piped), _) | (None, StdioDefault::Piped) => {
                    let (r, w) = std::io::pipe().map_err(|e| spawn_err(SpawnStep::Pipe, e))?;
                    let child_end: OwnedFd = if dst == 0 {
                        parent_stdin = Some(w);
                        r.into()
                    } else {
                        parent_out[dst as usize - 1] = Some(r);
                        w.into()
                    };
                    let fd = child_end.as_raw_fd();
                    child_ends.push(child_end);
                    (fd, Reopen::Pipe { write: dst != 0 })
                }
                (Some(Kind::Owned(fd)), _) => (fd.as_raw_fd(), Reopen::No),
            };
            moves.push(FdMove { src, dst, reopen });
        }
        moves.extend(
            self.maps
                .iter()
                .map(|(fd, to)| FdMove::fd(fd.as_raw_fd(), *to)),
        );
        let keep: Vec<RawFd> = self
            .keep
            .iter()
            .copied()
            .filter(|fd| !moves.iter().any(|m| m.dst == *fd))
            .collect();

        let mut req = Request {
            exec: &mut plan,
            moves,
            keep,
            close_others: !self.inherit_fds,
            chdir: chdir.as_deref(),
            // A controlling terminal needs a new session (TIOCSCTTY).
            setsid: self.setsid || ctty.is_some(),
            // With setsid the child already leads its own group (the only
            // group check_signals lets through).
            pgroup: self.pgroup.filter(|_| !self.setsid && ctty.is_none()),
            mask: self
                .mask
                .as_ref()
                .map(|m| m.iter().map(|s| s.as_raw()).collect()),
            ignore: self.ignore.iter().map(|s| s.as_raw()).collect(),
            default: self.default.iter().map(|s| s.as_raw()).collect(),
            #[cfg(target_os = "linux")]
            cgroup: self.scope.as_ref().map(|t| t.request()),
            ctty,
            foreground,
            attrs,
        };

        // Until the new child is registered, no "wait for any child" may
        // reap it (its status would not reach the handle).
        let in_flight = reap::spawn_in_flight();
        let spawned = spawn::spawn(&mut req).map_err(|(step, e)| spawn_err(step, e))?;
        let pid = Pid::from_raw(spawned.pid).expect("spawn returned a positive pid");
        let shared = Arc::new(Shared::new(pid, spawned.pidfd));
        reap::lock().register(&shared);
        drop(in_flight);
        drop(child_ends);
        drop(null);

        let [stdout, stderr] = parent_out;
        let child = Child::from_shared(shared).with_stdio(parent_stdin, stdout, stderr);
        child.set_drop_policy(self.drop_policy);
        Ok(child)
    }
}

#[cfg(target_os = "linux")]
impl Command {
    /// Starts the child inside `scope`'s cgroup, from its birth (Linux).
    ///
    /// With `clone3` (Linux 5.7+) the kernel creates the process directly
    /// in the cgroup (`CLONE_INTO_CGROUP`): there is no moment at which it,
    /// or anything it starts, runs outside. On the `clone` fallback (an
    /// older kernel, or a seccomp filter that refuses `clone3`) the child
    /// writes itself into the cgroup's `cgroup.procs` as its first act,
    /// still before the program runs. Everything the program starts stays
    /// in the cgroup (or in cgroups below it), whatever it does with
    /// sessions, process groups or double forks, so
    /// [`Scope::kill`](crate::proc::Scope::kill) reaches all of it.
    ///
    /// The command keeps its own reference to the cgroup: dropping the
    /// `Scope` removes the cgroup, and a later spawn of this command then
    /// fails with [`SpawnStep::Cgroup`] (`ENODEV` or `ENOENT`).
    ///
    /// # Errors
    ///
    /// At `spawn`: [`Error::Spawn`] with [`SpawnStep::Cgroup`] and the
    /// kernel's errno when the cgroup refuses the child (`EBUSY`: a
    /// domain cgroup with controllers enabled for its children;
    /// `EOPNOTSUPP`: an invalid cgroup type; `EACCES`: not delegated to
    /// us; `ENODEV`/`ENOENT`: removed).
    ///
    /// # Platform notes
    ///
    /// Linux only, as [`Scope`](crate::proc::Scope).
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::{Command, Scope};
    ///
    /// # match Scope::new() {
    /// # Ok(scope) => {
    /// // let scope = Scope::new()?;
    /// let child = Command::new("sh")
    ///     .args(["-c", "cat /proc/self/cgroup"])
    ///     .scope(&scope)
    ///     .stdout(procctl::proc::Stdio::piped())
    ///     .spawn()?;
    /// let out = child.communicate(b"")?;
    /// let name = scope.path().file_name().unwrap().to_str().unwrap();
    /// assert!(String::from_utf8_lossy(&out.stdout).contains(name));
    /// # }
    /// # Err(e) => eprintln!("no writable cgroup v2 here: {e}"),
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "CLONE_INTO_CGROUP")]
    pub fn scope(&mut self, scope: &crate::proc::Scope) -> &mut Command {
        self.scope = Some(scope.target());
        self
    }
}

// ---- terminal (pty, controlling_terminal, foreground) ----

/// A descriptor copied for a `Command` (close-on-exec), or the errno of
/// the failed copy (reported at spawn: the builder returns no error).
type Copied = std::result::Result<OwnedFd, i32>;

fn copy(fd: BorrowedFd<'_>) -> Copied {
    fd.try_clone_to_owned()
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EBADF))
}

/// The terminal settings of a [`Command`]: the command's own copies of
/// the caller's descriptors.
#[derive(Debug, Default)]
pub(super) struct Terminal {
    /// `pty`: the slave, for stdio and (unless `ctty`) the controlling
    /// terminal.
    pty: Option<Copied>,
    /// `controlling_terminal`.
    ctty: Option<Copied>,
    /// `foreground`.
    foreground: Option<Copied>,
}

impl Terminal {
    /// Whether the child gets a controlling terminal (and so a session).
    fn has_ctty(&self) -> bool {
        self.pty.is_some() || self.ctty.is_some()
    }

    /// The descriptors for the spawn: the pty slave for stdio, the
    /// controlling terminal, the terminal to take the foreground of.
    /// Checked here, before any process exists: a failed copy, or a
    /// descriptor that is not a terminal (`ENOTTY`, named by its step).
    fn fds(&self, program: &OsStr) -> Result<(Option<RawFd>, Option<RawFd>, Option<RawFd>)> {
        let check = |fd: &Option<Copied>, step| -> Result<Option<RawFd>> {
            match fd {
                None => Ok(None),
                Some(Err(errno)) => Err(Error::os(
                    "fcntl F_DUPFD_CLOEXEC",
                    std::io::Error::from_raw_os_error(*errno),
                )),
                Some(Ok(fd)) if !fd.as_fd().is_terminal() => Err(Error::spawn(
                    program,
                    step,
                    std::io::Error::from_raw_os_error(libc::ENOTTY),
                )),
                Some(Ok(fd)) => Ok(Some(fd.as_raw_fd())),
            }
        };
        let pty = check(&self.pty, SpawnStep::Terminal)?;
        let ctty = check(&self.ctty, SpawnStep::Terminal)?.or(pty);
        let foreground = check(&self.foreground, SpawnStep::Foreground)?;
        Ok((pty, ctty, foreground))
    }
}

impl Command {
    /// Runs the child on a pseudo-terminal: `setsid`, then
    /// `ioctl(slave, TIOCSCTTY)`, and the slave on stdin, stdout and
    /// stderr.
    ///
    /// The child leads a new session whose controlling terminal is the
    /// pty, and its process group is the terminal's foreground group: it
    /// sees a terminal (`isatty`), gets `SIGWINCH` on
    /// [`PtyMaster::resize`](crate::pty::PtyMaster::resize) and `SIGINT`
    /// for a Ctrl+C (`\x03`) written to the master. Everything happens in
    /// the child between its creation and `execve`, as data (no
    /// `pre_exec`), on every spawn path.
    ///
    /// A stdio set explicitly ([`stdin`](Command::stdin),
    /// [`stdout`](Command::stdout), [`stderr`](Command::stderr),
    /// [`map_fd`](Command::map_fd) onto 0-2), before or after this call,
    /// wins over the slave for that stream: `.pty(&slave).stderr(Stdio::piped())`
    /// keeps the errors apart. [`output`](Command::output)'s piped
    /// defaults do not override the pty.
    ///
    /// The command keeps its own copy of the slave (close-on-exec, never
    /// passed to the program) until it is dropped or `pty` is called
    /// again. **Drop your [`PtySlave`](crate::pty::PtySlave), and this
    /// `Command`, once the child is spawned**: the master reads to the
    /// end only after every slave descriptor is closed (see
    /// [`pty`](crate::pty)).
    ///
    /// # Errors
    ///
    /// At spawn: [`Error::Spawn`] with [`SpawnStep::Setsid`] or
    /// [`SpawnStep::Terminal`] and the kernel's errno if the child cannot
    /// take the terminal; [`Error::InvalidArgument`] before any process
    /// exists with [`process_group(pgid)`](Command::process_group),
    /// `pgid != 0` (a new session leads its own group).
    ///
    /// # Platform notes
    ///
    /// Unix only (`cfg(unix)`), as [`pty`](crate::pty).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::proc::Command;
    ///
    /// let (master, slave) = procctl::pty::open()?;
    /// let child = Command::new("sh")
    ///     .args(["-c", "test -t 0 && test -t 1 && echo on a terminal"])
    ///     .pty(&slave)
    ///     .spawn()?;
    /// drop(slave);
    /// let mut out = Vec::new();
    /// let mut buf = [0; 256];
    /// while let Some(n) = master.read_timeout(&mut buf, Duration::from_secs(10))? {
    ///     if n == 0 {
    ///         break;
    ///     }
    ///     out.extend_from_slice(&buf[..n]);
    /// }
    /// assert!(child.wait()?.success());
    /// assert_eq!(out, b"on a terminal\r\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pty(&mut self, slave: &crate::pty::PtySlave) -> &mut Command {
        self.terminal.pty = Some(copy(slave.as_fd()));
        self
    }

    /// `setsid()` then `ioctl(terminal, TIOCSCTTY)` in the child: it leads
    /// a new session whose controlling terminal is `terminal` (its stdio
    /// is left as set).
    ///
    /// `terminal` is a descriptor of the caller's: the command keeps a
    /// close-on-exec copy, the child takes the terminal through it before
    /// its stdio is put in place, and the program does not get it (the
    /// controlling terminal stays without an open descriptor; the program
    /// reaches it as `/dev/tty`). It need not be one of the child's
    /// descriptors. With [`pty`](Command::pty), this one wins as the
    /// controlling terminal.
    ///
    /// # Errors
    ///
    /// At spawn, before any process exists: [`Error::Spawn`] with
    /// [`SpawnStep::Terminal`] and `ENOTTY` if `terminal` is not a
    /// terminal (a pipe, a file); [`Error::InvalidArgument`] with
    /// [`process_group(pgid)`](Command::process_group), `pgid != 0`.
    /// From the child: [`SpawnStep::Setsid`] or [`SpawnStep::Terminal`]
    /// with the kernel's errno (`EPERM`: the terminal is already another
    /// session's controlling terminal).
    ///
    /// # Platform notes
    ///
    /// Unix only (`cfg(unix)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::Command;
    ///
    /// let (_master, slave) = procctl::pty::open()?;
    /// // /dev/tty opens only with a controlling terminal.
    /// let out = Command::new("sh")
    ///     .args(["-c", "exec 3<>/dev/tty && echo has one"])
    ///     .controlling_terminal(&slave)
    ///     .output()?;
    /// assert_eq!(out.stdout, b"has one\n");
    ///
    /// let err = Command::new("true")
    ///     .controlling_terminal(std::fs::File::open("/dev/null")?)
    ///     .spawn()
    ///     .unwrap_err();
    /// assert_eq!(err.spawn_step(), Some(procctl::error::SpawnStep::Terminal));
    /// assert_eq!(err.raw_os_error(), Some(libc::ENOTTY));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "TIOCSCTTY")]
    pub fn controlling_terminal(&mut self, terminal: impl AsFd) -> &mut Command {
        self.terminal.ctty = Some(copy(terminal.as_fd()));
        self
    }

    /// `tcsetpgrp(terminal, getpgrp())` in the child, with `SIGTTOU`
    /// blocked around the call: the child's process group becomes the
    /// terminal's foreground group, as a shell does for the job it
    /// starts (with [`process_group(0)`](Command::process_group)).
    ///
    /// It runs after the child's session, group and controlling terminal
    /// are set (a process outside the foreground group that calls
    /// `tcsetpgrp` would be stopped by `SIGTTOU`: every signal is blocked
    /// for the call, then the mask is put back). `terminal` must be the
    /// child's controlling terminal: the caller's own (a shell), or the
    /// one given with [`pty`](Command::pty) or
    /// [`controlling_terminal`](Command::controlling_terminal). The
    /// command keeps a close-on-exec copy; the program does not get it.
    ///
    /// # Errors
    ///
    /// At spawn, before any process exists: [`Error::Spawn`] with
    /// [`SpawnStep::Foreground`] and `ENOTTY` if `terminal` is not a
    /// terminal. From the child: [`SpawnStep::Foreground`] with the
    /// kernel's errno (`ENOTTY`: not the child's controlling terminal;
    /// `EPERM`: another session's).
    ///
    /// # Platform notes
    ///
    /// Unix only (`cfg(unix)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::Command;
    ///
    /// let (master, slave) = procctl::pty::open()?;
    /// let child = Command::new("sleep")
    ///     .arg("10")
    ///     .pty(&slave)
    ///     .foreground(&slave)
    ///     .spawn()?;
    /// assert_eq!(master.foreground_group()?, Some(child.pid()));
    /// child.kill()?;
    /// child.wait()?;
    ///
    /// // Not our controlling terminal: refused in the child.
    /// let err = Command::new("true").foreground(&slave).spawn().unwrap_err();
    /// assert_eq!(err.spawn_step(), Some(procctl::error::SpawnStep::Foreground));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "tcsetpgrp")]
    pub fn foreground(&mut self, terminal: impl AsFd) -> &mut Command {
        self.terminal.foreground = Some(copy(terminal.as_fd()));
        self
    }
}
// ---- end terminal ----

// ---- spawn attributes (issue 12) ----
/// Process attributes (Unix): the order in which they apply is the
/// table in [`Command`]'s docs.
impl Command {
    /// `setrlimit(resource, {soft, hard})` in the child: a resource limit.
    ///
    /// [`RLIM_INFINITY`](crate::proc::RLIM_INFINITY) is "unlimited". Set
    /// again for the same resource, the last call wins. Raising a hard
    /// limit needs `CAP_SYS_RESOURCE`.
    ///
    /// # Errors
    ///
    /// At `spawn`: [`Error::InvalidArgument`] if `soft > hard` (before any
    /// process exists); [`Error::Spawn`] with [`SpawnStep::Rlimit`] and
    /// the errno (`EPERM`) if the kernel refuses. An unknown resource
    /// cannot be named: [`Resource`](crate::proc::Resource) is an enum.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::{Command, Resource};
    /// let out = Command::new("sh")
    ///     .args(["-c", "ulimit -n"])
    ///     .rlimit(Resource::Nofile, 64, 64)
    ///     .output()?;
    /// assert_eq!(out.stdout, b"64\n");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "setrlimit")]
    pub fn rlimit(
        &mut self,
        resource: crate::proc::Resource,
        soft: u64,
        hard: u64,
    ) -> &mut Command {
        self.attrs.rlimits.retain(|(r, _, _)| *r != resource);
        self.attrs.rlimits.push((resource, soft, hard));
        self
    }

    /// `umask(mode)` in the child: the file mode creation mask.
    ///
    /// # Errors
    ///
    /// At `spawn`: [`Error::InvalidArgument`] if `mode` is above `0o777`.
    /// The call itself cannot fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::Command;
    /// let out = Command::new("sh").args(["-c", "umask"]).umask(0o027).output()?;
    /// assert_eq!(out.stdout, b"0027\n");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn umask(&mut self, mode: u32) -> &mut Command {
        self.attrs.umask = Some(mode);
        self
    }

    /// `setuid(uid)` in the child: its real, effective and saved user id.
    ///
    /// Set without [`groups`](Command::groups), the child's supplementary
    /// groups are dropped (`setgroups(0, NULL)`): it must not keep ours.
    ///
    /// # Errors
    ///
    /// At `spawn`: [`Error::Spawn`] with [`SpawnStep::Setuid`] (or
    /// [`SpawnStep::Setgroups`] for the dropped groups) and `EPERM` without
    /// the privilege.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::Command;
    /// # let me = unsafe { libc::getuid() };
    /// // Our own uid is always allowed; another needs root.
    /// let r = Command::new("id").arg("-u").uid(me).output();
    /// # match r { Ok(out) => assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), me.to_string()),
    /// #   Err(e) => assert_eq!(e.spawn_step(), Some(procctl::error::SpawnStep::Setgroups)) }
    /// ```
    #[doc(alias = "setuid")]
    pub fn uid(&mut self, uid: u32) -> &mut Command {
        self.attrs.uid = Some(uid);
        self
    }

    /// `setgid(gid)` in the child: its real, effective and saved group id.
    ///
    /// Set without [`groups`](Command::groups), the child's supplementary
    /// groups are dropped (`setgroups(0, NULL)`).
    ///
    /// # Errors
    ///
    /// At `spawn`: [`Error::Spawn`] with [`SpawnStep::Setgid`] (or
    /// [`SpawnStep::Setgroups`]) and `EPERM` without the privilege.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::Command;
    /// # if unsafe { libc::geteuid() } == 0 {
    /// let out = Command::new("id").arg("-g").gid(100).output()?;
    /// assert_eq!(out.stdout, b"100\n");
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "setgid")]
    pub fn gid(&mut self, gid: u32) -> &mut Command {
        self.attrs.gid = Some(gid);
        self
    }

    /// `setgroups(len, groups)` in the child: its supplementary groups.
    ///
    /// An empty list drops them all.
    ///
    /// # Errors
    ///
    /// At `spawn`: [`Error::InvalidArgument`] for more than `NGROUPS_MAX`
    /// groups; [`Error::Spawn`] with [`SpawnStep::Setgroups`] and `EPERM`
    /// without the privilege.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::Command;
    /// # if unsafe { libc::geteuid() } == 0 {
    /// let out = Command::new("id").arg("-G").gid(0).groups(&[0, 7]).output()?;
    /// assert_eq!(out.stdout, b"0 7\n");
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "setgroups")]
    pub fn groups(&mut self, groups: &[u32]) -> &mut Command {
        self.attrs.groups = Some(groups.to_vec());
        self
    }

    /// `chroot(dir)` in the child, then `chdir("/")`: its root directory.
    ///
    /// The program (and [`current_dir`](Command::current_dir)) are then
    /// looked up inside `dir`. Needs `CAP_SYS_CHROOT`.
    ///
    /// # Errors
    ///
    /// At `spawn`: [`Error::Spawn`] with [`SpawnStep::Chroot`] and the
    /// errno (`ENOENT` for a missing directory, `EPERM`): the directory
    /// is only looked at in the child.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::Command;
    /// let err = Command::new("true").chroot("/no/such/dir").spawn().unwrap_err();
    /// assert_eq!(err.spawn_step(), Some(procctl::error::SpawnStep::Chroot));
    /// ```
    pub fn chroot(&mut self, dir: impl AsRef<std::path::Path>) -> &mut Command {
        self.attrs.chroot = Some(dir.as_ref().to_owned());
        self
    }

    /// `prctl(PR_SET_PDEATHSIG, signal)` in the child: the signal it gets
    /// when its parent dies.
    ///
    /// Right after the call the child checks that its parent is still
    /// the process that spawned it; if it died before (the child was
    /// reparented), the child sends itself the signal, so the race in
    /// which the parent dies during the spawn loses no signal.
    ///
    /// Linux ties it to the spawning **thread**, not the process: the
    /// signal fires when the thread that called `spawn` exits, even if the
    /// process lives on (Go issue 27505). Spawn from the main thread or a
    /// thread that lives as long as the child should.
    ///
    /// # Errors
    ///
    /// At `spawn`: [`Error::Unsupported`] outside Linux and FreeBSD;
    /// [`Error::Spawn`] with [`SpawnStep::ParentDeathSignal`].
    ///
    /// # Platform notes
    ///
    /// Linux; FreeBSD through `procctl(PROC_PDEATHSIG_CTL)` (tied to the
    /// process there).
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::{Signal, proc::Command};
    /// # #[cfg(any(target_os = "linux", target_os = "freebsd"))] {
    /// let out = Command::new("sh")
    ///     .args(["-c", "grep -c . /proc/self/status"])
    ///     .parent_death_signal(Signal::TERM)
    ///     .status()?;
    /// assert!(out.success());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "PR_SET_PDEATHSIG")]
    pub fn parent_death_signal(&mut self, signal: Signal) -> &mut Command {
        self.attrs.pdeathsig = Some(signal);
        self
    }

    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)` in the child: exec never grants
    /// privileges (set-user-id bits and file capabilities are ignored).
    ///
    /// # Errors
    ///
    /// At `spawn`: [`Error::Unsupported`] outside Linux and FreeBSD;
    /// [`Error::Spawn`] with [`SpawnStep::NoNewPrivs`].
    ///
    /// # Platform notes
    ///
    /// Linux; FreeBSD 14 through `procctl(PROC_NO_NEW_PRIVS_CTL)`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// let out = procctl::proc::Command::new("grep")
    ///     .args(["NoNewPrivs", "/proc/self/status"])
    ///     .no_new_privs(true)
    ///     .output()?;
    /// assert!(String::from_utf8_lossy(&out.stdout).contains('1'));
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "PR_SET_NO_NEW_PRIVS")]
    pub fn no_new_privs(&mut self, on: bool) -> &mut Command {
        self.attrs.no_new_privs = on;
        self
    }

    /// `setpriority(PRIO_PROCESS, 0, nice)` in the child: its nice value,
    /// absolute (-20 to 19), not added to ours as `nice(1)` does.
    ///
    /// # Errors
    ///
    /// At `spawn`: [`Error::Spawn`] with [`SpawnStep::Nice`] (`EACCES`
    /// for a value below ours without `CAP_SYS_NICE`).
    ///
    /// # Examples
    ///
    /// ```
    /// let out = procctl::proc::Command::new("sh")
    ///     .args(["-c", "ps -o ni= -p $$"])
    ///     .nice(10)
    ///     .output()?;
    /// assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "10");
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "setpriority")]
    pub fn nice(&mut self, nice: i32) -> &mut Command {
        self.attrs.nice = Some(nice);
        self
    }

    /// `sched_setaffinity(0, cpus)` in the child: the CPUs it may run on.
    ///
    /// # Errors
    ///
    /// At `spawn`: [`Error::InvalidArgument`] for an empty list or a CPU
    /// number at or above `CPU_SETSIZE` (1024); [`Error::Unsupported`]
    /// outside Linux; [`Error::Spawn`] with [`SpawnStep::CpuAffinity`]
    /// (`EINVAL`: none of the CPUs is allowed to us).
    ///
    /// # Platform notes
    ///
    /// Linux only.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// let out = procctl::proc::Command::new("grep")
    ///     .args(["Cpus_allowed_list", "/proc/self/status"])
    ///     .cpu_affinity(&[0])
    ///     .output()?;
    /// assert!(String::from_utf8_lossy(&out.stdout).trim_end().ends_with("\t0"));
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "sched_setaffinity")]
    pub fn cpu_affinity(&mut self, cpus: &[usize]) -> &mut Command {
        self.attrs.affinity = Some(cpus.to_vec());
        self
    }

    /// `unshare(namespaces)` in the child: new namespaces for it.
    ///
    /// All but [`USER`](crate::proc::Namespaces::USER) are made by the
    /// child with `unshare` on the usual fast path (`clone3` with
    /// `CLONE_VFORK`), and need `CAP_SYS_ADMIN`. A new user namespace
    /// needs its id maps ([`uid_map`](Command::uid_map),
    /// [`gid_map`](Command::gid_map)), which the parent writes while the
    /// child waits: that spawn is made with `clone(CLONE_NEWUSER)`
    /// without `CLONE_VFORK` (a fork, which copies page tables) and a
    /// pipe handshake; the other namespaces are then owned by the new
    /// user namespace, so an unprivileged user may ask for them too.
    ///
    /// # Errors
    ///
    /// At `spawn`: [`Error::InvalidArgument`] for `USER` without a map
    /// (its ids would all be the overflow id 65534, rarely what is meant)
    /// or a map without `USER`; [`Error::Unsupported`] outside Linux;
    /// [`Error::Spawn`] with [`SpawnStep::Unshare`] or
    /// [`SpawnStep::IdMap`] and the errno.
    ///
    /// # Platform notes
    ///
    /// Linux only.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::{Command, Namespaces};
    /// # #[cfg(target_os = "linux")] {
    /// let out = Command::new("sh")
    ///     .args(["-c", "hostname box && hostname"])
    ///     .unshare(Namespaces::USER | Namespaces::UTS)
    ///     .uid_map(&[(0, unsafe { libc::geteuid() }, 1)])
    ///     .output();
    /// # match out { Ok(out) => assert_eq!(out.stdout, b"box\n"),
    /// #   Err(e) => eprintln!("no user namespaces here: {e}") }
    /// # }
    /// ```
    #[doc(alias = "CLONE_NEWUSER")]
    pub fn unshare(&mut self, namespaces: crate::proc::Namespaces) -> &mut Command {
        self.attrs.unshare = namespaces;
        self
    }

    /// The `uid_map` of the child's new user namespace: `(inside,
    /// outside, count)` lines (see [`unshare`](Command::unshare)).
    ///
    /// # Errors
    ///
    /// As [`unshare`](Command::unshare); the kernel's rules for the map
    /// (`EPERM`: an outside id not ours without `CAP_SETUID`) show as
    /// [`SpawnStep::IdMap`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::{Command, Namespaces};
    /// # #[cfg(target_os = "linux")] {
    /// let me = unsafe { libc::geteuid() };
    /// let out = Command::new("id")
    ///     .arg("-u")
    ///     .unshare(Namespaces::USER)
    ///     .uid_map(&[(0, me, 1)])
    ///     .output();
    /// # match out { Ok(out) => assert_eq!(out.stdout, b"0\n"),
    /// #   Err(e) => eprintln!("no user namespaces here: {e}") }
    /// # }
    /// ```
    pub fn uid_map(&mut self, map: &[(u32, u32, u32)]) -> &mut Command {
        self.attrs.uid_map = Some(map.to_vec());
        self
    }

    /// The `gid_map` of the child's new user namespace (see
    /// [`uid_map`](Command::uid_map)). Without `CAP_SETGID` we write
    /// `deny` to its `setgroups` first, as the kernel requires.
    ///
    /// # Errors
    ///
    /// As [`uid_map`](Command::uid_map).
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::{Command, Namespaces};
    /// # #[cfg(target_os = "linux")] {
    /// let me = unsafe { libc::getegid() };
    /// let out = Command::new("id")
    ///     .arg("-g")
    ///     .unshare(Namespaces::USER)
    ///     .gid_map(&[(0, me, 1)])
    ///     .output();
    /// # match out { Ok(out) => assert_eq!(out.stdout, b"0\n"),
    /// #   Err(e) => eprintln!("no user namespaces here: {e}") }
    /// # }
    /// ```
    pub fn gid_map(&mut self, map: &[(u32, u32, u32)]) -> &mut Command {
        self.attrs.gid_map = Some(map.to_vec());
        self
    }
}
// ---- end spawn attributes ----
