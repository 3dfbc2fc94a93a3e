//! Processes: `fork`, the `exec` family, `wait`/`waitpid`, `_exit`, process
//! groups, and the [`Child`] handle.
//!
//! | Python `os`                 | procctl                                   |
//! |-----------------------------|-------------------------------------------|
//! | `os.fork()`                 | [`fork`]`(closure) -> Child`              |
//! | `os.execv`, `os.execvp`, `os.execve`, `os.execvpe` | [`execv`], [`execvp`], [`execve`], [`execvpe`] |
//! | `os.wait()`                 | [`wait`]                                  |
//! | `os.waitpid(pid, opts)`     | [`waitpid`], [`Child::wait`], [`Child::try_wait`] |
//! | `os.wait4`                  | [`Child::wait_with_rusage`]               |
//! | `os._exit(n)`               | [`_exit`]                                 |
//! | `os.setpgid`, `os.setsid`   | [`setpgid`], [`setsid`], [`getpgid`], [`getsid`] |
//! | `subprocess.Popen`, `os.posix_spawn` | [`Command`]`::spawn` -> [`Child`] |
//! | `subprocess.run(capture_output=True)`, `Popen.communicate` | [`Command::output`], [`Child::communicate`] |
//! | `Popen.communicate(timeout=t)`, `TimeoutExpired.output` | [`Child::communicate_timeout`], [`Error::partial_output`](crate::Error::partial_output) |
//! | (Go) `Cmd.WaitDelay`        | [`Command::wait_delay`], [`Output::pipes_held_open`] |
//! | `subprocess.Popen(a, stdout=PIPE)` + `Popen(b, stdin=p.stdout)`, `a \| b` in a shell | [`Command::pipe`], [`Pipeline`] -> [`PipelineChild`] |
//! | bash's `PIPESTATUS`, `set -o pipefail` | [`PipeStatus::statuses`], [`PipeStatus::pipefail`] |
//! | `os.system(cmd)`            | [`system`]                                |
//! | `os.popen(cmd, "r"/"w")`    | [`popen`] with [`PopenMode`]              |
//! | `popen2.popen2(cmd)`        | [`popen2`], [`Popen::communicate`]        |
//! | `systemd-run --scope`, cgroup `cgroup.kill` (Linux) | [`Scope`], [`Command::scope`] |
//! | `os.killpg(os.getpgid(p.pid), sig)` | [`Child::signal_group`] |
//! | `multiprocessing.Process` / `threading.Thread` | [`spawn_task`] (a process on Unix, a thread on Windows), [`spawn_thread_task`] |

#[cfg(unix)]
pub(crate) mod attrs;
#[cfg(any(unix, windows))]
pub(crate) mod child;
#[cfg(any(unix, windows))]
mod command;
mod common;
#[cfg(any(unix, windows))]
mod communicate;
#[cfg(all(unix, any(feature = "tokio", feature = "async-io")))]
pub(crate) use communicate::held_open;
#[cfg(unix)]
mod exec;
mod fork;
#[cfg(unix)]
mod group;
#[cfg(any(unix, windows))]
mod pipeline;
#[cfg(target_os = "linux")]
mod scope;
#[cfg(any(unix, windows))]
mod shell;
mod task;

#[cfg(unix)]
mod wait;

#[cfg(unix)]
pub use attrs::{Namespaces, RLIM_INFINITY, Resource};
#[cfg(any(unix, windows))]
pub use child::{Child, ResourceUsage};
#[cfg(any(unix, windows))]
pub use command::{Command, Stdio};
pub use common::{DropPolicy, Output, PipeHolder, PipesHeldOpen, PopenMode, StdStream};
#[cfg(unix)]
pub use exec::{execv, execve, execvp, execvpe};
pub use fork::{_exit, thread_count};
#[cfg(unix)]
pub use fork::{fork, fork_unchecked};
#[cfg(unix)]
pub use group::{getpgid, getpgrp, getsid, setpgid, setsid};
#[cfg(any(unix, windows))]
pub use pipeline::{PipeStatus, Pipeline, PipelineChild, PipelineOutput};
#[cfg(target_os = "linux")]
pub use scope::{Scope, ScopeDropPolicy};
#[cfg(any(unix, windows))]
pub use shell::{Popen, popen, popen2, system};
pub use task::{Task, TaskId, spawn_task, spawn_thread_task};
#[cfg(unix)]
pub use wait::{WaitOptions, WaitTarget, wait, waitpid};
