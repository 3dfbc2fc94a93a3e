//! [`Pipeline`]: `cmd1 | cmd2 | ...`, each member's stdout wired to the
//! next member's stdin through a pipe procctl makes, and [`PipelineChild`],
//! the handle on the running members.
//!
//! Every member starts through [`Command::spawn`] (the same fast path and
//! every `Command` setting); the pipeline lends each member its pipe ends,
//! its share of the pipeline's stdio and (Unix) the process group for the
//! time of that spawn, then puts the user's settings back. How the members
//! ended is a [`PipeStatus`] (in `pipeline/status.rs`).

use std::io::{PipeReader, PipeWriter};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::child::Child;
use super::command::{Command, Stdio};
use super::common::{DropPolicy, PipesHeldOpen};
use super::communicate::{CommState, Communicant, communicate_until};
#[cfg(unix)]
use crate::Pid;
use crate::Signal;
use crate::error::{Error, Result};

mod status;

pub use status::{PipeStatus, PipelineOutput};

/// A pipeline of programs, `cmd1 | cmd2 | ...`, started as one.
///
/// Member k's stdout is member k+1's stdin, through a pipe procctl makes:
/// no byte passes through this process. Made with [`Pipeline::new`] or
/// [`Command::pipe`], grown with [`Pipeline::pipe`]; like a [`Command`], it
/// may be started any number of times.
///
/// # Stdio
///
/// - [`stdin`](Pipeline::stdin) is the first member's stdin,
///   [`stdout`](Pipeline::stdout) the last member's stdout, and
///   [`stderr`](Pipeline::stderr) every member's stderr. A member's own
///   setting wins: a member that set its stderr keeps it.
/// - The pipes between members are the pipeline's: a member that sets the
///   end the pipeline wires (the stdin of any member but the first, the
///   stdout of any but the last, with `stdin`/`stdout` or `map_fd` onto 0
///   or 1) is refused with [`Error::InvalidArgument`] at spawn, naming
///   the member, rather than one of the two settings being dropped.
/// - `stderr(Stdio::piped())`, and [`output`](Pipeline::output)'s
///   default, make **one** pipe that every member writes its stderr to
///   (what `2>` after a whole pipeline does in a shell); its reading end
///   is [`PipelineChild::take_stderr`].
///
/// # Process group
///
/// On Unix the members share one new process group led by the first
/// member, so [`PipelineChild::signal`] reaches all of them, and what they
/// start, at once. The group is part of each member's spawn (the child
/// calls `setpgid` before `execve`; the parent calls it too after the
/// spawn, as shells do), so no member ever runs outside it.
/// [`process_group(false)`](Pipeline::process_group) keeps the members in
/// the caller's group instead: a pipeline started from an interactive
/// program then still gets the terminal's Ctrl+C (`SIGINT` goes to the
/// terminal's foreground group, which a new group is not), and may read
/// from the terminal. A member that sets its own `process_group` or
/// `setsid` is refused while the pipeline makes its group.
///
/// # Errors
///
/// See [`Pipeline::spawn`].
///
/// # Platform notes
///
/// On Windows the members are started the same way (anonymous pipes
/// between them), without a process group: `process_group` and
/// [`PipelineChild::pgid`] are `cfg(unix)`, and
/// [`PipelineChild::signal`] goes to each member.
///
/// # Examples
///
/// ```
/// use procctl::proc::{Command, Pipeline};
///
/// # #[cfg(unix)] {
/// let out = Pipeline::new([
///     Command::new("printf").arg("b\\na\\nc\\n").into(),
///     Command::new("sort"),
///     Command::new("head").arg("-2").into(),
/// ])
/// .output()?;
/// assert_eq!(out.stdout, b"a\nb\n");
/// assert_eq!(out.status.to_string(), "0 | 0 | 0");
/// # }
/// # #[cfg(windows)] {
/// # let out = Pipeline::new([
/// #     Command::new("cmd.exe").args(["/C", "echo piped"]).into(),
/// #     Command::new("cmd.exe").args(["/C", "more"]).into(),
/// # ])
/// # .output()?;
/// # assert!(out.status.success());
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[derive(Debug)]
pub struct Pipeline {
    members: Vec<Command>,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    wait_delay: Option<Duration>,
    #[cfg(unix)]
    group: bool,
}

impl Pipeline {
    /// A pipeline of `commands`, in order. A builder chain goes in with
    /// `.into()` (see `From<&mut Command> for Command`).
    ///
    /// An empty list is accepted here and refused at spawn.
    ///
    /// ```
    /// use procctl::proc::{Command, Pipeline};
    /// # #[cfg(unix)] {
    /// let status = Pipeline::new([Command::new("true"), Command::new("true")]).status()?;
    /// assert_eq!(status.statuses().len(), 2);
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn new(commands: impl IntoIterator<Item = Command>) -> Pipeline {
        Pipeline {
            members: commands.into_iter().collect(),
            stdin: None,
            stdout: None,
            stderr: None,
            wait_delay: None,
            #[cfg(unix)]
            group: true,
        }
    }

    /// Appends `next`: the current last member's stdout becomes its stdin.
    /// `next` may be a `Command` or a builder chain (`&mut Command`).
    ///
    /// ```
    /// use procctl::proc::Command;
    /// # #[cfg(unix)] {
    /// let out = Command::new("echo").arg("a b c")
    ///     .pipe(Command::new("tr").args([" ", "\n"]))
    ///     .pipe(Command::new("wc").arg("-l"))
    ///     .output()?;
    /// assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3");
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn pipe(mut self, next: impl Into<Command>) -> Pipeline {
        self.members.push(next.into());
        self
    }

    /// The first member's stdin (default: inherited; `/dev/null` for
    /// [`output`](Pipeline::output)). The first member's own setting wins.
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// # #[cfg(unix)] {
    /// let child = Command::new("cat").pipe(Command::new("rev")).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    /// let out = child.communicate(b"abc\n")?;
    /// assert_eq!(out.stdout, b"cba\n");
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn stdin(&mut self, stdio: impl Into<Stdio>) -> &mut Pipeline {
        self.stdin = Some(stdio.into());
        self
    }

    /// The last member's stdout (default: inherited; a pipe for
    /// [`output`](Pipeline::output)). The last member's own setting wins.
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// # #[cfg(unix)] {
    /// let status = Command::new("echo").arg("x").pipe(Command::new("cat")).stdout(Stdio::null()).status()?;
    /// assert!(status.success());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn stdout(&mut self, stdio: impl Into<Stdio>) -> &mut Pipeline {
        self.stdout = Some(stdio.into());
        self
    }

    /// Every member's stderr (default: inherited; for
    /// [`output`](Pipeline::output), one pipe all members share). A
    /// member's own setting wins. [`Stdio::piped`] makes one pipe for all
    /// members, read with [`PipelineChild::take_stderr`] or
    /// [`PipelineChild::communicate`].
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// # #[cfg(unix)] {
    /// // The second member writes after its stdin's end, that is after the
    /// // first member has written and exited.
    /// let out = Command::new("sh").args(["-c", "echo a >&2"])
    ///     .pipe(Command::new("sh").args(["-c", "cat >/dev/null; echo b >&2"]))
    ///     .stderr(Stdio::piped())
    ///     .spawn()?
    ///     .communicate(b"")?;
    /// assert_eq!(out.stderr, b"a\nb\n");
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn stderr(&mut self, stdio: impl Into<Stdio>) -> &mut Pipeline {
        self.stderr = Some(stdio.into());
        self
    }

    /// Bounds the wait for the captured pipes once every member has
    /// ended: [`communicate`](PipelineChild::communicate) and
    /// [`output`](Pipeline::output) then give the pipes at most `delay` to
    /// reach end-of-file, stop reading, close procctl's ends and return
    /// everything read, with [`PipelineOutput::pipes_held_open`] naming
    /// the streams cut and, on Linux, the live processes that held them
    /// (a member's background job, a daemon that kept its stdout).
    /// Without it, reads go to end-of-file, however long that takes (see
    /// [`Child::communicate`]).
    ///
    /// The delay starts when the **last** member has ended: the stderr
    /// pipe the members share stays open while any of them may still
    /// write to it. It is the pipeline's own setting; a member's
    /// [`Command::wait_delay`] applies to that member's [`Child`] alone.
    /// [`PipelineChild::set_wait_delay`] changes it on a running pipeline.
    ///
    /// # Platform notes
    ///
    /// As [`Command::wait_delay`]: on Linux the members' pidfds tell when
    /// they have ended (no timer, no busy loop); elsewhere they are
    /// checked at intervals growing from 1 to 20 ms. On Windows the
    /// reading threads still blocked on a cut pipe are left to end with
    /// its holder, and no holder is named.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use procctl::proc::Command;
    ///
    /// # #[cfg(unix)] {
    /// let started = Instant::now();
    /// let out = Command::new("echo").arg("hi")
    ///     .pipe(Command::new("sh").args(["-c", "cat; sleep 30 &"]))
    ///     .wait_delay(Duration::from_millis(200))
    ///     .output()?;
    /// assert!(started.elapsed() < Duration::from_secs(5)); // not 30 s
    /// assert_eq!(out.stdout, b"hi\n");
    /// let held = out.pipes_held_open().expect("the sleep holds stdout");
    /// for sleep in held.holders(procctl::proc::StdStream::Stdout) {
    ///     # #[cfg(target_os = "linux")]
    ///     assert_eq!(sleep.name(), "sleep");
    ///     procctl::signal::kill(sleep.pid(), procctl::Signal::KILL)?;
    /// }
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait_delay(&mut self, delay: Duration) -> &mut Pipeline {
        self.wait_delay = Some(delay);
        self
    }

    /// `true` (the default): the members share one new process group led
    /// by the first (`setpgid` in each member before `execve`). `false`:
    /// they stay in the caller's group, so a terminal's Ctrl+C reaches
    /// them (see [`Pipeline`]).
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio, getpgid, getpgrp};
    /// # #[cfg(unix)] {
    /// let child = Command::new("sleep").arg("10")
    ///     .pipe(Command::new("cat"))
    ///     .stdout(Stdio::null())
    ///     .process_group(false)
    ///     .spawn()?;
    /// assert_eq!(child.pgid(), None);
    /// assert_eq!(getpgid(Some(child.members()[1].pid()))?, getpgrp());
    /// child.kill()?;
    /// child.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    ///
    /// # Platform notes
    ///
    /// Unix only (`cfg(unix)`): Windows has no process groups in this
    /// sense.
    #[cfg(unix)]
    #[doc(alias = "setpgid")]
    pub fn process_group(&mut self, on: bool) -> &mut Pipeline {
        self.group = on;
        self
    }

    /// Starts every member, first to last, and returns without waiting.
    ///
    /// Stdio the pipeline does not wire and that is not set is inherited.
    ///
    /// # Errors
    ///
    /// Before anything runs: [`Error::InvalidArgument`] for an empty
    /// pipeline, for a member that sets the stdin or stdout the pipeline
    /// wires (naming the member), and, while the pipeline makes its
    /// process group, for a member that sets its own process group or
    /// session.
    ///
    /// A member that cannot start: [`Error::PipelineMember`] naming its
    /// index and program, with the member's own error (as
    /// [`Command::spawn`] gives it) as the source; [`Error::spawn_step`]
    /// and [`Error::raw_os_error`] look through to it. The members already
    /// started are killed and reaped, and every descriptor the pipeline
    /// opened is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::{Error, proc::Command};
    /// # #[cfg(unix)] {
    /// let err = Command::new("yes")
    ///     .pipe(Command::new("no-such-program-here"))
    ///     .spawn()
    ///     .unwrap_err();
    /// assert!(matches!(err, Error::PipelineMember { index: 1, .. }));
    /// assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn spawn(&mut self) -> Result<PipelineChild> {
        self.spawn_imp(false)
    }

    /// Starts the pipeline and waits for every member: [`spawn`](Pipeline::spawn)
    /// then [`PipelineChild::wait`].
    ///
    /// # Errors
    ///
    /// As [`Pipeline::spawn`] and [`PipelineChild::wait`]. A wait that
    /// fails kills and reaps every member before `status` returns, as
    /// [`Command::output`] does.
    ///
    /// ```
    /// use procctl::proc::Command;
    /// # #[cfg(unix)] {
    /// let status = Command::new("false").pipe(Command::new("true")).status()?;
    /// assert_eq!(status.to_string(), "1 | 0");
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn status(&mut self) -> Result<PipeStatus> {
        self.spawn_held(false, DropPolicy::KillAndReap)?.wait()
    }

    /// Starts the pipeline, collects the last member's stdout and every
    /// member's stderr, and waits for every member.
    ///
    /// Unless set otherwise, the first member's stdin is `/dev/null`
    /// (`NUL` on Windows), the last member's stdout is a pipe, and every
    /// member's stderr goes into one shared pipe. Both pipes are read at
    /// once, as [`Command::output`] does.
    ///
    /// # Errors
    ///
    /// As [`Pipeline::spawn`] and [`PipelineChild::communicate`]. A
    /// failure after the members started kills and reaps every member
    /// before `output` returns, as [`Command::output`] does.
    ///
    /// ```
    /// use procctl::proc::Command;
    /// # #[cfg(unix)] {
    /// let out = Command::new("sh").args(["-c", "echo out; echo err >&2"])
    ///     .pipe(Command::new("cat"))
    ///     .output()?;
    /// assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b"out\n"[..], &b"err\n"[..]));
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn output(&mut self) -> Result<PipelineOutput> {
        self.spawn_held(true, DropPolicy::KillAndReap)?
            .communicate(b"")
    }

    /// The spawn of `status` and `output` (`capture`: `output`'s
    /// defaults), sync and async, as
    /// [`Command::spawn_held`](super::Command::spawn_held): nobody but
    /// the call holds the members, so `policy` is what becomes of each if
    /// the call fails or its future is dropped before the end.
    pub(crate) fn spawn_held(
        &mut self,
        capture: bool,
        policy: DropPolicy,
    ) -> Result<PipelineChild> {
        let child = self.spawn_imp(capture)?;
        for member in &child.members {
            member.set_drop_policy(policy);
        }
        Ok(child)
    }

    /// Starts the members; `capture` gives `output`'s defaults.
    fn spawn_imp(&mut self, capture: bool) -> Result<PipelineChild> {
        self.check()?;
        // The pipeline's own stdio is lent to the members for the spawn and
        // put back after, whatever happens.
        let mut ends = [self.stdin.take(), self.stdout.take(), self.stderr.take()];
        let result = self.spawn_members(&mut ends, capture);
        [self.stdin, self.stdout, self.stderr] = ends;
        result
    }

    /// The refusals that come before anything is created.
    fn check(&self) -> Result<()> {
        let n = self.members.len();
        if n == 0 {
            return Err(Error::InvalidArgument {
                what: "pipeline",
                value: "no commands".into(),
            });
        }
        let refuse = |k: usize, cmd: &Command, what: &'static str, why: &str| {
            Err(Error::InvalidArgument {
                what,
                value: format!(
                    "member {k} ({}) {why}",
                    cmd.program_name().to_string_lossy()
                ),
            })
        };
        for (k, cmd) in self.members.iter().enumerate() {
            if k > 0 && cmd.sets_stdio(0) {
                return refuse(
                    k,
                    cmd,
                    "pipeline member stdin",
                    "sets its stdin, which the pipeline connects to the previous member",
                );
            }
            if k + 1 < n && cmd.sets_stdio(1) {
                return refuse(
                    k,
                    cmd,
                    "pipeline member stdout",
                    "sets its stdout, which the pipeline connects to the next member",
                );
            }
            #[cfg(unix)]
            if self.group && cmd.sets_group() {
                return refuse(
                    k,
                    cmd,
                    "pipeline member process group",
                    "sets its own process group or session; use process_group(false) on the pipeline",
                );
            }
        }
        Ok(())
    }

    fn spawn_members(
        &mut self,
        ends: &mut [Option<Stdio>; 3],
        capture: bool,
    ) -> Result<PipelineChild> {
        let n = self.members.len();
        // What the pipeline lends where its own setting is missing: in
        // `output`, a null stdin and a piped stdout; a piped stderr is one
        // pipe for all members.
        let mut stdin_default = None;
        let mut stdout_default = None;
        if capture {
            stdin_default = Some(Stdio::null());
            stdout_default = Some(Stdio::piped());
        }
        let [stdin, stdout, stderr] = ends;
        let stdin = if stdin.is_some() {
            stdin
        } else {
            &mut stdin_default
        };
        let stdout = if stdout.is_some() {
            stdout
        } else {
            &mut stdout_default
        };
        let share_stderr = match stderr {
            Some(s) => s.is_piped(),
            None => capture,
        };
        let mut shared_err: Option<Stdio> = None;
        let mut err_reader: Option<PipeReader> = None;
        if share_stderr {
            let (r, w) = std::io::pipe().map_err(|e| Error::os("pipe", e))?;
            err_reader = Some(r);
            shared_err = Some(w.into());
        }
        let stderr = if share_stderr {
            &mut shared_err
        } else {
            stderr
        };

        let mut started = Started {
            members: Vec::with_capacity(n),
        };
        let mut next_stdin: Option<Stdio> = None;
        #[cfg(unix)]
        let mut group = self.group.then_some(Group {
            pgid: None,
            leader: 0,
        });
        for (k, cmd) in self.members.iter_mut().enumerate() {
            let program = cmd.program_name().to_owned();
            let member_err = |source: Error| Error::PipelineMember {
                index: k,
                program: program.clone(),
                source: Box::new(source),
            };
            // Member k's ends of the pipes around it.
            let mut pipe_in = next_stdin.take();
            let mut pipe_out = None;
            if k + 1 < n {
                let (r, w) = pipe().map_err(|e| member_err(Error::os("pipe", e)))?;
                next_stdin = Some(r.into());
                pipe_out = Some(w.into());
            }
            let in_slot = if k == 0 { &mut *stdin } else { &mut pipe_in };
            let out_slot = if k + 1 == n {
                &mut *stdout
            } else {
                &mut pipe_out
            };
            let mut lent = [in_slot, out_slot, &mut *stderr];
            #[cfg(unix)]
            let child = spawn_member(cmd, &mut lent, group.as_mut(), &started, k);
            #[cfg(not(unix))]
            let child = spawn_member(cmd, &mut lent);
            // Our copies of this member's pipe ends close here.
            drop(pipe_in);
            drop(pipe_out);
            started.members.push(child.map_err(member_err)?);
        }
        drop(shared_err);
        Ok(PipelineChild {
            members: std::mem::take(&mut started.members),
            #[cfg(unix)]
            leader: group.as_ref().map_or(0, |g| g.leader),
            #[cfg(unix)]
            pgid: group.and_then(|g| g.pgid),
            stderr: Mutex::new(err_reader),
            comm: Mutex::new(CommState::with_wait_delay(self.wait_delay)),
        })
    }
}

/// A pipe between two members: both ends close-on-exec, so no other
/// member (or other child of this process) holds one.
fn pipe() -> std::io::Result<(PipeReader, PipeWriter)> {
    std::io::pipe()
}

/// The process group the members join while they start.
#[cfg(unix)]
struct Group {
    /// `None` until the leader has started.
    pgid: Option<Pid>,
    /// The index of the member whose pid is the group id.
    leader: usize,
}

/// The members started so far; if the pipeline fails before it is handed
/// out, they are killed and reaped.
struct Started {
    members: Vec<Child>,
}

impl Drop for Started {
    fn drop(&mut self) {
        for child in &self.members {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Lends `lent` (where set, and where the member did not choose its own)
/// to `cmd` for one spawn, then takes the loans back.
fn with_lent<T>(
    cmd: &mut Command,
    lent: &mut [&mut Option<Stdio>; 3],
    f: impl FnOnce(&mut Command) -> T,
) -> T {
    let lend: [bool; 3] = std::array::from_fn(|fd| lent[fd].is_some() && !cmd.sets_stdio(fd));
    for fd in 0..3 {
        if lend[fd] {
            std::mem::swap(cmd.stdio_slot(fd), lent[fd]);
        }
    }
    let result = f(cmd);
    for fd in 0..3 {
        if lend[fd] {
            std::mem::swap(cmd.stdio_slot(fd), lent[fd]);
        }
    }
    result
}

#[cfg(not(unix))]
fn spawn_member(cmd: &mut Command, lent: &mut [&mut Option<Stdio>; 3]) -> Result<Child> {
    with_lent(cmd, lent, Command::spawn)
}

/// Spawns member `k` with its loans and, when there is one, in the
/// pipeline's process group (as data of its spawn: `setpgid` in the child
/// before `execve`; then `setpgid` here too, as shells do, which finds the
/// program already running and fails harmlessly).
#[cfg(unix)]
fn spawn_member(
    cmd: &mut Command,
    lent: &mut [&mut Option<Stdio>; 3],
    group: Option<&mut Group>,
    started: &Started,
    k: usize,
) -> Result<Child> {
    let Some(group) = group else {
        return with_lent(cmd, lent, Command::spawn);
    };
    let mut spawn_in = |cmd: &mut Command, pgid: Option<Pid>| {
        *cmd.group_slot() = Some(pgid.map_or(0, Pid::as_raw));
        let child = with_lent(cmd, lent, Command::spawn);
        *cmd.group_slot() = None;
        child
    };
    let child = match spawn_in(cmd, group.pgid) {
        // The group is gone: every member before this one has exited and
        // been reaped (by a "wait for any child" elsewhere: a background
        // reaper, `reap_zombies`), so no live member is in it. This member
        // leads a new group, which the members after it join.
        Err(e)
            if group.pgid.is_some()
                && e.spawn_step() == Some(crate::error::SpawnStep::Setpgid)
                && e.raw_os_error() == Some(libc::EPERM)
                && started.members[group.leader].try_wait()?.is_some() =>
        {
            let child = spawn_in(cmd, None)?;
            group.pgid = None;
            group.leader = k;
            child
        }
        other => other?,
    };
    let pgid = *group.pgid.get_or_insert(child.pid());
    match super::setpgid(Some(child.pid()), Some(pgid)) {
        Ok(()) => {}
        // Its own setpgid before `execve` did the work (the spawn fails
        // otherwise), so these only say it has moved on. EACCES: it has
        // run `execve`; EPERM: it has also left for a session of its own
        // (`setsid`: the kernel checks the session first); ESRCH: it has
        // already exited and been reaped.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EACCES | libc::EPERM | libc::ESRCH)
            ) => {}
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    }
    Ok(child)
}

/// The running members of a [`Pipeline`], from [`Pipeline::spawn`].
///
/// Each member is a [`Child`] ([`members`](PipelineChild::members)), with
/// its own [`DropPolicy`](super::DropPolicy): dropping an unwaited
/// `PipelineChild` drops every member, which by default leaves them
/// running and lets procctl reap them once they exit. Every method takes
/// `&self`, and `PipelineChild` is `Send + Sync`.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use procctl::proc::{Command, Stdio};
///
/// # #[cfg(unix)] {
/// let child = Command::new("tr").args(["a-z", "A-Z"])
///     .pipe(Command::new("rev"))
///     .stdin(Stdio::piped())
///     .stdout(Stdio::piped())
///     .spawn()?;
/// let mut stdin = child.take_stdin().unwrap();
/// stdin.write_all(b"hello\n").unwrap();
/// drop(stdin);
/// let mut out = String::new();
/// child.take_stdout().unwrap().read_to_string(&mut out).unwrap();
/// assert_eq!(out, "OLLEH\n");
/// assert!(child.wait()?.success());
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a dropped PipelineChild keeps running; procctl reaps its members after they exit"]
pub struct PipelineChild {
    members: Vec<Child>,
    /// The index of the member whose pid is `pgid`.
    #[cfg(unix)]
    leader: usize,
    #[cfg(unix)]
    pgid: Option<Pid>,
    stderr: Mutex<Option<PipeReader>>,
    comm: Mutex<CommState>,
}

impl PipelineChild {
    /// The members, in pipeline order.
    ///
    /// ```
    /// use procctl::proc::Command;
    /// # #[cfg(unix)] {
    /// let child = Command::new("true").pipe(Command::new("true")).spawn()?;
    /// assert_eq!(child.members().len(), 2);
    /// assert_ne!(child.members()[0].pid(), child.members()[1].pid());
    /// child.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn members(&self) -> &[Child] {
        &self.members
    }

    /// The members' process group: the first member's pid, `None` with
    /// [`Pipeline::process_group(false)`](Pipeline::process_group).
    ///
    /// (Should every member before some member k have exited and been
    /// reaped by a "wait for any child" elsewhere before k started, the
    /// group was gone: k then leads a new one, and this is k's pid.)
    ///
    /// ```
    /// use procctl::proc::{Command, getpgid};
    /// # #[cfg(unix)] {
    /// let child = Command::new("sleep").arg("10").pipe(Command::new("cat")).spawn()?;
    /// assert_eq!(child.pgid(), Some(child.members()[0].pid()));
    /// assert_eq!(getpgid(Some(child.members()[1].pid()))?, child.pgid());
    /// child.kill()?;
    /// child.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    ///
    /// # Platform notes
    ///
    /// Unix only (`cfg(unix)`).
    #[cfg(unix)]
    pub fn pgid(&self) -> Option<Pid> {
        self.pgid
    }

    /// `killpg(pgid, signal)`: sends `signal` to the pipeline's process
    /// group (every member, and what they started in it); without a group,
    /// [`Child::signal`] to each member.
    ///
    /// Race-free: the group is always named through a handle that pins
    /// it, never by a bare number that another thread's reap could free
    /// (a group id whose processes are all gone may be given to a new
    /// process). The rule:
    ///
    /// 1. While the group's leader (the first member, see
    ///    [`pgid`](PipelineChild::pgid)) is unreaped:
    ///    [`Child::signal_group`] on it (Linux 6.9+: `pidfd_send_signal`
    ///    with `PIDFD_SIGNAL_PROCESS_GROUP`; elsewhere `killpg` under
    ///    procctl's reap lock, while the leader's pid, and so the group
    ///    id, cannot be reused).
    /// 2. Once the leader has been reaped (the group may live on with the
    ///    other members): on Linux 6.9+, the same `pidfd_send_signal`
    ///    through the leader's pidfd, which names the group by the
    ///    kernel's record of that process, never by its number, and
    ///    reaches whoever is still in the group.
    /// 3. Otherwise (no such pidfd call, or the group is empty because the
    ///    live members left it): [`Child::signal`] to each member still
    ///    unreaped, through its own handle. Processes the members started
    ///    are then not reached.
    ///
    /// Once every member has been reaped, and (Linux 6.9+) nothing they
    /// started is left in the group, nothing is sent and the result is
    /// `Ok(())`, as for [`Child::signal`].
    ///
    /// # Errors
    ///
    /// As [`Child::signal_group`] (but never
    /// [`Error::GroupLeaderReaped`] or [`Error::NotGroupLeader`]: those
    /// lead to the next step) and [`Child::signal`]; with several members,
    /// the first error (every member is still tried).
    ///
    /// # Platform notes
    ///
    /// Step 2 exists on Linux 6.9+ only. On Windows, [`Child::signal`] to
    /// each member (`KILL` and `TERM`: `TerminateProcess`).
    ///
    /// ```
    /// use procctl::{Signal, proc::Command};
    /// # #[cfg(unix)] {
    /// let child = Command::new("sleep").arg("10").pipe(Command::new("sleep").arg("10")).spawn()?;
    /// child.signal(Signal::TERM)?;
    /// assert_eq!(child.wait()?.to_string(), "143 | 143");
    /// child.signal(Signal::TERM)?; // all reaped: nothing is sent
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    #[doc(alias = "killpg")]
    pub fn signal(&self, signal: Signal) -> Result<()> {
        #[cfg(unix)]
        if self.pgid.is_some() && self.signal_group(signal)? {
            return Ok(());
        }
        let mut first = Ok(());
        for m in &self.members {
            let r = m.signal(signal);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// Steps 1 and 2 of [`PipelineChild::signal`]: `Ok(true)` when the
    /// group got the signal through the leader's handle, `Ok(false)` when
    /// the members must be signalled one by one.
    #[cfg(unix)]
    fn signal_group(&self, signal: Signal) -> Result<bool> {
        let leader = &self.members[self.leader];
        match leader.signal_group(signal) {
            Ok(()) => return Ok(true),
            // Reaped (perhaps by another thread just now), or it left the
            // group it led: the group may still hold other members.
            Err(Error::GroupLeaderReaped { .. } | Error::NotGroupLeader { .. }) => {}
            Err(e) => return Err(e),
        }
        // A pidfd keeps naming its process after the reap, and the kernel
        // finds the group by that process, not by a number a new process
        // could have been given.
        let Some(fd) = leader.exit_fd() else {
            return Ok(false);
        };
        match crate::sys::pidfd::send_signal_group(fd, signal.as_raw()) {
            Ok(()) => Ok(true),
            // ESRCH: nobody left in the group; EINVAL, ENOSYS: before
            // Linux 6.9, or not Linux.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ESRCH | libc::EINVAL | libc::ENOSYS)
                ) =>
            {
                Ok(false)
            }
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => Err(Error::PermissionDenied {
                subject: format!("signal {signal} to the process group of {}", leader.pid()),
                source: e,
            }),
            Err(e) => Err(Error::os("pidfd_send_signal", e)),
        }
    }

    /// Sends `SIGKILL` to every member (see [`PipelineChild::signal`]).
    ///
    /// # Errors
    ///
    /// As [`PipelineChild::signal`].
    ///
    /// ```
    /// use procctl::proc::Command;
    /// # #[cfg(unix)] {
    /// let child = Command::new("sleep").arg("10").pipe(Command::new("cat")).spawn()?;
    /// child.kill()?;
    /// assert_eq!(child.wait()?.to_string(), "137 | 137");
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn kill(&self) -> Result<()> {
        self.signal(Signal::KILL)
    }

    /// Waits for every member, in order, and returns their statuses.
    /// Idempotent, as [`Child::wait`].
    ///
    /// # Errors
    ///
    /// As [`Child::wait`].
    ///
    /// ```
    /// use procctl::proc::Command;
    /// # #[cfg(unix)] {
    /// let child = Command::new("sh").args(["-c", "exit 4"]).pipe(Command::new("true")).spawn()?;
    /// let status = child.wait()?;
    /// assert_eq!(status.statuses()[0].code(), Some(4));
    /// assert_eq!(child.wait()?, status);
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait(&self) -> Result<PipeStatus> {
        let statuses = self
            .members
            .iter()
            .map(Child::wait)
            .collect::<Result<_>>()?;
        Ok(PipeStatus::new(statuses))
    }

    /// The statuses if every member has exited, else `None`; never blocks.
    ///
    /// # Errors
    ///
    /// As [`Child::try_wait`].
    ///
    /// ```
    /// use procctl::proc::Command;
    /// # #[cfg(unix)] {
    /// let child = Command::new("true").pipe(Command::new("sleep").arg("10")).spawn()?;
    /// assert_eq!(child.try_wait()?, None);
    /// child.kill()?;
    /// child.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn try_wait(&self) -> Result<Option<PipeStatus>> {
        let mut statuses = Vec::with_capacity(self.members.len());
        for m in &self.members {
            // Every member is looked at (and reaped if it has exited).
            statuses.push(m.try_wait()?);
        }
        Ok(statuses
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .map(PipeStatus::new))
    }

    /// Waits at most `timeout` for every member; `None` if one is still
    /// running then (nothing is killed).
    ///
    /// # Errors
    ///
    /// As [`Child::wait_timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::proc::Command;
    /// # #[cfg(unix)] {
    /// let child = Command::new("true").pipe(Command::new("sleep").arg("10")).spawn()?;
    /// assert_eq!(child.wait_timeout(Duration::from_millis(50))?, None);
    /// child.kill()?;
    /// assert!(child.wait_timeout(Duration::from_secs(10))?.is_some());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<PipeStatus>> {
        let deadline = Instant::now().checked_add(timeout);
        let mut statuses = Vec::with_capacity(self.members.len());
        for m in &self.members {
            let left = deadline.map_or(timeout, |at| at.saturating_duration_since(Instant::now()));
            match m.wait_timeout(left)? {
                Some(status) => statuses.push(status),
                None => return Ok(None),
            }
        }
        Ok(Some(PipeStatus::new(statuses)))
    }

    /// Takes the parent's end of the first member's stdin, if it was piped
    /// ([`Pipeline::stdin`]`(Stdio::piped())`) and not taken yet.
    ///
    /// ```
    /// use std::io::Write;
    /// use procctl::proc::{Command, Stdio};
    /// # #[cfg(unix)] {
    /// let child = Command::new("cat").pipe(Command::new("cat")).stdin(Stdio::piped()).stdout(Stdio::null()).spawn()?;
    /// child.take_stdin().unwrap().write_all(b"x").unwrap(); // closed when dropped
    /// assert!(child.take_stdin().is_none());
    /// assert!(child.wait()?.success());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn take_stdin(&self) -> Option<PipeWriter> {
        self.members.first()?.take_stdin()
    }

    /// Takes the parent's end of the last member's stdout, if it was piped
    /// and not taken yet.
    ///
    /// ```
    /// use std::io::Read;
    /// use procctl::proc::{Command, Stdio};
    /// # #[cfg(unix)] {
    /// let child = Command::new("echo").arg("hi").pipe(Command::new("cat")).stdout(Stdio::piped()).spawn()?;
    /// let mut out = String::new();
    /// child.take_stdout().unwrap().read_to_string(&mut out).unwrap();
    /// assert_eq!(out, "hi\n");
    /// child.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn take_stdout(&self) -> Option<PipeReader> {
        self.members.last()?.take_stdout()
    }

    /// Takes the reading end of the stderr pipe the members share, if the
    /// pipeline's stderr was piped and it was not taken yet. (A member that
    /// piped its own stderr has it in its [`Child`].)
    ///
    /// ```
    /// use std::io::Read;
    /// use procctl::proc::{Command, Stdio};
    /// # #[cfg(unix)] {
    /// let child = Command::new("sh").args(["-c", "echo e >&2"])
    ///     .pipe(Command::new("true"))
    ///     .stderr(Stdio::piped())
    ///     .spawn()?;
    /// let mut err = String::new();
    /// child.take_stderr().unwrap().read_to_string(&mut err).unwrap();
    /// assert_eq!(err, "e\n");
    /// child.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn take_stderr(&self) -> Option<PipeReader> {
        self.stderr.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Writes `input` to the first member's stdin, closes it, reads the
    /// last member's stdout and the shared stderr to the end, and waits
    /// for every member.
    ///
    /// The same loop as [`Child::communicate`] serves the three pipes at
    /// once, so it cannot deadlock however much flows. Pipes not piped, or
    /// taken already, are skipped (their part of the output is empty). A
    /// member's own piped stderr is not read here: it is in that member's
    /// [`Child`].
    ///
    /// As with [`Child::communicate`], a process that inherited a captured
    /// pipe (a member's background job) keeps it open after the members
    /// have ended, and reading to end-of-file waits for it too; a
    /// [wait delay](Pipeline::wait_delay) bounds that wait, and
    /// [`PipelineOutput::pipes_held_open`] then says what was cut.
    ///
    /// After a [`communicate_timeout`](PipelineChild::communicate_timeout)
    /// that expired, `communicate` goes on where it stopped: it writes what
    /// was left of that call's input (its own `input` must then be empty)
    /// and returns the output read after the bytes the timeout error
    /// carried.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `input` is not empty but the first
    /// member's stdin is not piped, or after an expired
    /// `communicate_timeout` (which keeps its own input); otherwise as
    /// [`Child::communicate`].
    ///
    /// ```
    /// use procctl::proc::{Command, Stdio};
    /// # #[cfg(unix)] {
    /// let out = Command::new("sort").pipe(Command::new("uniq").arg("-c"))
    ///     .stdin(Stdio::piped())
    ///     .stdout(Stdio::piped())
    ///     .spawn()?
    ///     .communicate(b"b\na\nb\n")?;
    /// let text = String::from_utf8_lossy(&out.stdout);
    /// assert_eq!(text.split_whitespace().collect::<Vec<_>>(), ["1", "a", "2", "b"]);
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn communicate(&self, input: &[u8]) -> Result<PipelineOutput> {
        communicate_until(self, input, None)
    }

    /// [`PipelineChild::communicate`] with a deadline: if the members have
    /// not closed the captured pipes and exited within `timeout`, every
    /// member is killed and the call fails with what was read so far.
    ///
    /// As [`Child::communicate_timeout`]: at the deadline every member gets
    /// `SIGKILL` (the group, see [`signal`](PipelineChild::signal), and
    /// each member through its own handle) and is reaped; the pipes and
    /// the part of `input` not yet written stay with this handle. The
    /// error carries the output read before the deadline
    /// ([`Error::partial_output`]: the last member's stdout, the shared
    /// stderr), and a later [`communicate`](PipelineChild::communicate)
    /// (its `input` empty) continues from there without losing or
    /// repeating a byte. The [wait delay](Pipeline::wait_delay) applies
    /// to that later call too, so a process that holds a pipe cannot make
    /// it hang.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when the time is up, with
    /// [`Error::partial_output`]; otherwise as
    /// [`PipelineChild::communicate`].
    ///
    /// # Platform notes
    ///
    /// On Windows the members are terminated (`TerminateProcess`) and
    /// waited for at most 10 seconds each; the threads reading the pipes
    /// go on, and the next `communicate` collects what they read.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::proc::Command;
    ///
    /// # #[cfg(unix)] {
    /// let child = Command::new("sh").args(["-c", "echo first; sleep 60"])
    ///     .pipe(Command::new("cat"))
    ///     .stdout(procctl::proc::Stdio::piped())
    ///     .spawn()?;
    /// let err = child.communicate_timeout(b"", Duration::from_millis(300)).unwrap_err();
    /// assert_eq!(err.partial_output().unwrap().0, b"first\n");
    /// assert!(child.try_wait()?.is_some()); // killed and reaped
    /// let rest = child.communicate(b"")?; // nothing more
    /// assert!(rest.stdout.is_empty());
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn communicate_timeout(&self, input: &[u8], timeout: Duration) -> Result<PipelineOutput> {
        // A timeout too large for an `Instant` is no deadline at all.
        let deadline = Instant::now().checked_add(timeout).map(|at| (at, timeout));
        communicate_until(self, input, deadline)
    }

    /// Sets the [wait delay](Pipeline::wait_delay) of `communicate` on this
    /// running pipeline; `None`: read to end-of-file, however long that
    /// takes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::proc::Command;
    /// # #[cfg(unix)] {
    /// let child = Command::new("true").pipe(Command::new("true")).spawn()?;
    /// assert_eq!(child.wait_delay(), None);
    /// child.set_wait_delay(Some(Duration::from_millis(50)));
    /// assert_eq!(child.wait_delay(), Some(Duration::from_millis(50)));
    /// child.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn set_wait_delay(&self, delay: Option<Duration>) {
        self.comm_state().wait_delay = delay;
    }

    /// The wait delay `communicate` applies (see
    /// [`Pipeline::wait_delay`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use procctl::proc::Command;
    /// # #[cfg(unix)] {
    /// let child = Command::new("true").pipe(Command::new("true"))
    ///     .wait_delay(Duration::from_secs(1))
    ///     .spawn()?;
    /// assert_eq!(child.wait_delay(), Some(Duration::from_secs(1)));
    /// child.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn wait_delay(&self) -> Option<Duration> {
        self.comm_state().wait_delay
    }

    fn comm_state(&self) -> std::sync::MutexGuard<'_, CommState> {
        self.comm.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Communicant for PipelineChild {
    type Status = PipeStatus;
    type Output = PipelineOutput;
    const WHAT: &'static str = "pipeline";

    fn comm(&self) -> &Mutex<CommState> {
        &self.comm
    }

    fn processes(&self) -> Vec<&Child> {
        self.members.iter().collect()
    }

    fn stdin_pipe(&self) -> Option<PipeWriter> {
        self.take_stdin()
    }

    fn output_pipes(&self) -> [Option<PipeReader>; 2] {
        [self.take_stdout(), self.take_stderr()]
    }

    fn wait_end(&self) -> Result<PipeStatus> {
        self.wait()
    }

    fn wait_end_timeout(&self, timeout: Duration) -> Result<Option<PipeStatus>> {
        self.wait_timeout(timeout)
    }

    /// The group first (what the members started), then each member
    /// through its own handle, in case one left the group.
    fn kill_and_reap(&self) -> Result<()> {
        let mut killed = self.kill();
        for m in &self.members {
            let r = m.kill();
            if killed.is_ok() {
                killed = r;
            }
        }
        killed.and_then(|()| self.reap_killed())
    }

    fn output(
        status: PipeStatus,
        out: [Vec<u8>; 2],
        held: Option<PipesHeldOpen>,
    ) -> PipelineOutput {
        PipelineOutput::new(status, out, held)
    }
}

impl PipelineChild {
    /// After the kill at the deadline. Unix: `SIGKILL` cannot be caught,
    /// reap every member now. Windows: `TerminateProcess` is asynchronous;
    /// wait a while for each, never hang, ignore a failed wait.
    fn reap_killed(&self) -> Result<()> {
        #[cfg(unix)]
        self.wait()?;
        #[cfg(not(unix))]
        for m in &self.members {
            let _ = m.wait_timeout(Duration::from_secs(10));
        }
        Ok(())
    }
}
