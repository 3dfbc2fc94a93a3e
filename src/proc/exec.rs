//! The `exec` family: replace the calling process's program.

use std::ffi::{CString, OsStr};

use crate::error::{Error, Result};
use crate::sys::ExecPlan;
use crate::sys::exec::to_cstring;

/// `execv(path, argv)`: replaces the calling process with the program at
/// `path`.
///
/// `argv` includes `argv[0]`, which by convention is the program name. The
/// environment is the calling process's. Open descriptors without
/// close-on-exec stay open (std and procctl create theirs close-on-exec).
/// Returns only on failure, with the error.
///
/// # Errors
///
/// Checked before anything runs: [`Error::InvalidArgument`] for an empty
/// `path` or an empty `argv`, [`Error::NulByte`] for a NUL byte in any of
/// them. From the kernel: [`Error::NotFound`] (`ENOENT`),
/// [`Error::PermissionDenied`] (`EACCES`), else [`Error::Spawn`] with step
/// [`SpawnStep::Exec`](crate::error::SpawnStep::Exec). Each names the
/// program.
///
/// # Platform notes
///
/// Unix only.
///
/// # Examples
///
/// ```
/// let err = procctl::proc::execv("/no/such/prog", &["prog", "-x"]);
/// assert!(matches!(err, procctl::Error::NotFound { .. }));
///
/// # if procctl::proc::thread_count() == Some(1) {
/// let child = procctl::proc::fork(|| {
///     let err = procctl::proc::execv("/bin/sh", &["sh", "-c", "exit 4"]);
///     eprintln!("{err}");
///     127
/// })?;
/// assert_eq!(child.wait()?.code(), Some(4));
/// # }
/// # Ok::<(), procctl::Error>(())
/// ```
pub fn execv<P, S>(path: P, argv: &[S]) -> Error
where
    P: AsRef<OsStr>,
    S: AsRef<OsStr>,
{
    run(path.as_ref(), argv, None, false)
}

/// `execvp(file, argv)`: like [`execv`], but a `file` without a slash is
/// searched in the caller's `PATH` (`/bin:/usr/bin` when `PATH` is unset),
/// and a file that the kernel cannot execute (`ENOEXEC`, e.g. a script
/// without `#!`) is run with `/bin/sh`, as POSIX `execvp` does.
///
/// # Errors
///
/// As [`execv`]. When no `PATH` entry holds the program the error is
/// [`Error::NotFound`]; when one held it but it was not executable,
/// [`Error::PermissionDenied`].
///
/// # Examples
///
/// ```
/// let err = procctl::proc::execvp("no-such-program-here", &["x"]);
/// assert!(matches!(err, procctl::Error::NotFound { .. }));
/// assert!(err.to_string().contains("no-such-program-here"));
/// ```
pub fn execvp<P, S>(file: P, argv: &[S]) -> Error
where
    P: AsRef<OsStr>,
    S: AsRef<OsStr>,
{
    run(file.as_ref(), argv, None, true)
}

/// `execve(path, argv, envp)`: like [`execv`] with exactly the environment
/// `envp`, whose entries are `"KEY=VALUE"`.
///
/// # Errors
///
/// As [`execv`], and [`Error::InvalidArgument`] for an `envp` entry without
/// `=` or with an empty key.
///
/// # Examples
///
/// ```
/// let err = procctl::proc::execve("/bin/sh", &["sh"], &["NOT-AN-ENTRY"]);
/// assert!(matches!(err, procctl::Error::InvalidArgument { what: "environment entry", .. }));
/// ```
pub fn execve<P, S, E>(path: P, argv: &[S], envp: &[E]) -> Error
where
    P: AsRef<OsStr>,
    S: AsRef<OsStr>,
    E: AsRef<OsStr>,
{
    match env_cstrings(envp) {
        Ok(env) => run(path.as_ref(), argv, Some(env), false),
        Err(e) => e,
    }
}

/// `execvpe(file, argv, envp)`: [`execvp`]'s `PATH` search (in the
/// *caller's* `PATH`, not `envp`'s) with [`execve`]'s explicit environment.
///
/// # Errors
///
/// As [`execvp`] and [`execve`].
///
/// # Examples
///
/// ```
/// let err = procctl::proc::execvpe("no-such-program-here", &["x"], &["A=1"]);
/// assert!(matches!(err, procctl::Error::NotFound { .. }));
/// ```
pub fn execvpe<P, S, E>(file: P, argv: &[S], envp: &[E]) -> Error
where
    P: AsRef<OsStr>,
    S: AsRef<OsStr>,
    E: AsRef<OsStr>,
{
    match env_cstrings(envp) {
        Ok(env) => run(file.as_ref(), argv, Some(env), true),
        Err(e) => e,
    }
}

fn run<S: AsRef<OsStr>>(
    program: &OsStr,
    argv: &[S],
    env: Option<Vec<CString>>,
    search: bool,
) -> Error {
    let path = if search {
        std::env::var_os("PATH")
    } else {
        None
    };
    match ExecPlan::new(program, argv, env, search, path.as_deref()) {
        Ok(mut plan) => plan.exec_here(),
        Err(e) => e,
    }
}

/// Checks and converts `"KEY=VALUE"` entries.
pub(crate) fn env_cstrings<E: AsRef<OsStr>>(envp: &[E]) -> Result<Vec<CString>> {
    envp.iter()
        .map(|e| {
            let e = e.as_ref();
            let c = to_cstring("environment entry", e)?;
            match c.as_bytes().iter().position(|&b| b == b'=') {
                Some(0) | None => Err(Error::InvalidArgument {
                    what: "environment entry",
                    value: format!("{:?} (expected KEY=VALUE)", e),
                }),
                Some(_) => Ok(c),
            }
        })
        .collect()
}
