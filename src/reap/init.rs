//! [`Init`]: a small init for containers and supervisors.

use crate::error::{Error, Result};
use crate::proc::{Child, WaitOptions, WaitTarget, waitpid};
use crate::signal::{self, Disposition, SigSet};
use crate::{ExitStatus, Pid, Signal, WaitStatus};

/// A tini-like supervisor: runs one main child, forwards signals to it,
/// reaps every child (including orphaned grandchildren it adopts), and
/// returns the main child's status once it exits.
///
/// [`Init::run`] works in the calling thread without starting any other:
///
/// 1. on Linux it makes the process a child subreaper
///    ([`set_child_subreaper`](super::set_child_subreaper)), so orphaned
///    descendants are re-parented to it instead of to PID 1;
/// 2. it blocks `SIGCHLD` and the forwarded signals in the calling thread
///    and sets `SIGCHLD` to its default disposition while it runs;
/// 3. it starts the main child through the closure it is given;
/// 4. it waits for signals with `sigwait`: a forwarded signal is sent to
///    the main child through its handle ([`Child::signal`], a pidfd on
///    Linux, so a recycled pid is never hit) or to its process group;
///    `SIGCHLD` reaps every exited child;
/// 5. when the main child has exited it optionally kills what is left of
///    its process group, restores the mask, the `SIGCHLD` disposition and
///    the subreaper bit, and returns the main child's status.
///
/// Call it from the main thread of a program that has no other threads
/// (or whose threads block the forwarded signals): a signal sent to the
/// process is delivered to a thread that does not block it.
///
/// # Examples
///
/// ```
/// use procctl::reap::Init;
/// use procctl::proc::Command;
///
/// let status = Init::new().run(|| Command::new("sh").args(["-c", "sleep 0.1 & exit 3"]).spawn())?;
/// assert_eq!(status.code(), Some(3));
/// # Ok::<(), procctl::Error>(())
/// ```
pub struct Init {
    forward: Vec<Signal>,
    to_group: bool,
    kill_group_on_exit: bool,
    subreaper: bool,
    on_reap: Option<Box<dyn FnMut(Pid, ExitStatus)>>,
}

impl std::fmt::Debug for Init {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Init")
            .field("forward", &self.forward)
            .field("to_group", &self.to_group)
            .field("kill_group_on_exit", &self.kill_group_on_exit)
            .field("subreaper", &self.subreaper)
            .field("on_reap", &self.on_reap.is_some())
            .finish()
    }
}

impl Default for Init {
    fn default() -> Init {
        Init::new()
    }
}

impl Init {
    /// The defaults: forward `SIGTERM`, `SIGINT`, `SIGHUP`, `SIGQUIT`,
    /// `SIGUSR1`, `SIGUSR2` and `SIGWINCH` to the main child only; become a
    /// child subreaper (Linux); leave the main child's group alone at the
    /// end.
    ///
    /// ```
    /// let init = procctl::reap::Init::new();
    /// assert!(init.forwarded().contains(&procctl::Signal::TERM));
    /// ```
    pub fn new() -> Init {
        Init {
            forward: vec![
                Signal::TERM,
                Signal::INT,
                Signal::HUP,
                Signal::QUIT,
                Signal::USR1,
                Signal::USR2,
                Signal::WINCH,
            ],
            to_group: false,
            kill_group_on_exit: false,
            subreaper: true,
            on_reap: None,
        }
    }

    /// Replaces the set of forwarded signals. `SIGKILL`, `SIGSTOP` and
    /// `SIGCHLD` cannot be forwarded and are left out.
    ///
    /// ```
    /// use procctl::Signal;
    /// let mut init = procctl::reap::Init::new();
    /// init.forward([Signal::TERM, Signal::KILL]);
    /// assert_eq!(init.forwarded(), &[Signal::TERM]);
    /// ```
    pub fn forward(&mut self, signals: impl IntoIterator<Item = Signal>) -> &mut Init {
        self.forward = signals
            .into_iter()
            .filter(|s| ![Signal::KILL, Signal::STOP, Signal::CHLD].contains(s))
            .collect();
        self.forward.dedup();
        self
    }

    /// The signals that will be forwarded.
    ///
    /// ```
    /// assert!(!procctl::reap::Init::new().forwarded().is_empty());
    /// ```
    pub fn forwarded(&self) -> &[Signal] {
        &self.forward
    }

    /// Forwards signals to the main child's whole process group
    /// (`killpg`) rather than to the child alone. The main child should
    /// lead its own group (`setpgid(None, None)` in it, or
    /// `Command::process_group(0)`).
    ///
    /// ```
    /// let mut init = procctl::reap::Init::new();
    /// init.to_group(true);
    /// ```
    pub fn to_group(&mut self, on: bool) -> &mut Init {
        self.to_group = on;
        self
    }

    /// When the main child exits, sends `SIGKILL` to what is left of its
    /// process group (and reaps what it can without waiting).
    ///
    /// ```
    /// let mut init = procctl::reap::Init::new();
    /// init.kill_group_on_exit(true);
    /// ```
    pub fn kill_group_on_exit(&mut self, on: bool) -> &mut Init {
        self.kill_group_on_exit = on;
        self
    }

    /// Whether to set the child-subreaper bit (Linux; default on).
    ///
    /// ```
    /// let mut init = procctl::reap::Init::new();
    /// init.subreaper(false);
    /// ```
    pub fn subreaper(&mut self, on: bool) -> &mut Init {
        self.subreaper = on;
        self
    }

    /// Calls `f` for every child reaped other than the main child: adopted
    /// orphans and other children of this process.
    ///
    /// ```
    /// let mut init = procctl::reap::Init::new();
    /// init.on_reap(|pid, status| eprintln!("reaped {pid}: {status}"));
    /// ```
    pub fn on_reap(&mut self, f: impl FnMut(Pid, ExitStatus) + 'static) -> &mut Init {
        self.on_reap = Some(Box::new(f));
        self
    }

    /// For a main child started with [`fork`](crate::proc::fork): unblocks
    /// every signal in the child, which inherits the supervisor's blocked
    /// mask. A child started with [`Command`](crate::proc::Command) needs
    /// nothing: its mask starts empty.
    ///
    /// ```
    /// # if procctl::proc::thread_count() == Some(1) {
    /// let child = procctl::proc::fork(|| {
    ///     procctl::reap::Init::prepare_child();
    ///     0
    /// })?;
    /// child.wait()?;
    /// # }
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn prepare_child() {
        crate::sys::reaper::unblock_all();
    }

    /// Runs the supervisor (see [`Init`]) with the main child started by
    /// `spawn`, and returns the main child's status.
    ///
    /// # Errors
    ///
    /// What `spawn` returns; [`Error::Os`] if the signal mask cannot be set
    /// or a wait fails unexpectedly. `set_child_subreaper` failing (not
    /// Linux) is not an error: orphans then go to PID 1 as usual.
    ///
    /// # Examples
    ///
    /// ```
    /// use procctl::proc::Command;
    /// let status = procctl::reap::Init::new().run(|| Command::new("true").spawn())?;
    /// assert!(status.success());
    /// # Ok::<(), procctl::Error>(())
    /// ```
    pub fn run(&mut self, spawn: impl FnOnce() -> Result<Child>) -> Result<ExitStatus> {
        let was_subreaper = super::is_child_subreaper().unwrap_or(false);
        let set_subreaper = self.subreaper && !was_subreaper;
        if set_subreaper {
            let _ = super::set_child_subreaper(true);
        }
        let mut waited: SigSet = self.forward.iter().copied().collect();
        waited.add(Signal::CHLD);
        let mask = signal::block(&waited)?;
        // An ignored SIGCHLD would make the kernel reap children itself
        // and never queue the signal: use the default while we supervise.
        let chld_was_ignored = signal::disposition(Signal::CHLD)? == Disposition::Ignore;
        if chld_was_ignored {
            signal::default(Signal::CHLD)?;
        }
        let result = match spawn() {
            Ok(child) => self.supervise(&child, &waited),
            Err(e) => Err(e),
        };
        if chld_was_ignored {
            let _ = signal::ignore(Signal::CHLD);
        }
        drop(mask); // the exact previous mask
        if set_subreaper {
            let _ = super::set_child_subreaper(false);
        }
        result
    }

    fn supervise(&mut self, child: &Child, waited: &SigSet) -> Result<ExitStatus> {
        let main = child.pid();
        loop {
            // Reap everything that has exited; the main child's status also
            // lands in its handle.
            loop {
                match waitpid(WaitTarget::AnyChild, WaitOptions::NOHANG) {
                    Ok(Some((pid, WaitStatus::Exited(status)))) => {
                        if pid != main {
                            if let Some(f) = &mut self.on_reap {
                                f(pid, status);
                            }
                        }
                    }
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(Error::NoChildren) => break,
                    Err(e) => return Err(e),
                }
            }
            if let Some(status) = child.try_wait()? {
                if self.kill_group_on_exit {
                    let _ = signal::killpg(main, Signal::KILL);
                    let _ = super::reap_zombies();
                }
                return Ok(status);
            }
            let Some(sig) = signal::wait_for(waited, None)? else {
                continue;
            };
            if sig != Signal::CHLD {
                // The child may be gone already: nothing to forward to.
                // To the child alone through its handle (its pidfd on
                // Linux), never by pid: once reaped, by any thread, its pid
                // may name another process. A group's id stays in use as
                // long as any member lives.
                let _ = if self.to_group {
                    signal::killpg(main, sig)
                } else {
                    child.signal(sig)
                };
            }
        }
    }
}

/// [`Init::new`]`().run(spawn)`: supervise the main child with the default
/// settings.
///
/// # Errors
///
/// As [`Init::run`].
///
/// # Examples
///
/// ```
/// # if procctl::proc::thread_count() == Some(1) {
/// let status = procctl::reap::init(|| procctl::proc::fork(|| {
///     procctl::reap::Init::prepare_child();
///     4
/// }))?;
/// assert_eq!(status.code(), Some(4));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn init(spawn: impl FnOnce() -> Result<Child>) -> Result<ExitStatus> {
    Init::new().run(spawn)
}
