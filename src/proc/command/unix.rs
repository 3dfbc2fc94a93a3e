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
        };

        // Until the new child is registered, no "wait for any child" may
        // reap it (its status would not reach the handle).
        let in_flight = reap::spawn_in_flight();
        let spawned = spawn::spawn(&mut req).map_err(|(step, e)| spawn_err(step, e))?;
        let pid = Pid::from_raw(spawned.pid).expect("spawn returned a positive pid");
        let shared = Arc::new(Shared::new(pid, spawned.pidfd));
        reap::lock().register(spawned.pid, &shared);
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
