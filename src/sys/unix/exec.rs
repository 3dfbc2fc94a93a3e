//! Everything `execve` needs, built before any fork, and the exec loop that
//! runs after it without allocating.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::ptr;

use libc::c_char;

use crate::error::{Error, Result};

/// A NULL-terminated array of C strings, owning its strings.
pub(crate) struct CStringArray {
    items: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

// SAFETY: the pointers point into `items`, which the array owns and never
// mutates; sharing or sending the array is sharing or sending the CStrings.
unsafe impl Send for CStringArray {}
// SAFETY: as above; no interior mutability.
unsafe impl Sync for CStringArray {}

impl CStringArray {
    pub(crate) fn new(items: Vec<CString>) -> CStringArray {
        let mut ptrs: Vec<*const c_char> = items.iter().map(|c| c.as_ptr()).collect();
        ptrs.push(ptr::null());
        CStringArray { items, ptrs }
    }

    pub(crate) fn as_ptr(&self) -> *const *const c_char {
        self.ptrs.as_ptr()
    }

    pub(crate) fn items(&self) -> &[CString] {
        &self.items
    }
}

/// Turns `value` into a `CString`, or the NUL-byte error naming `what`.
pub(crate) fn to_cstring(what: &'static str, value: &OsStr) -> Result<CString> {
    CString::new(value.as_bytes()).map_err(|_| Error::NulByte {
        what,
        value: value.to_owned(),
    })
}

/// A program ready to be executed: the candidate paths (one, or one per
/// `PATH` entry), argv, envp, and the `/bin/sh` fallback argv, all built in
/// advance so that [`ExecPlan::exec`] allocates nothing.
pub(crate) struct ExecPlan {
    program: OsString,
    candidates: Vec<CString>,
    argv: CStringArray,
    envp: Option<CStringArray>,
    /// A snapshot of our environment, used instead of `envp`/`environ`
    /// when set (see [`ExecPlan::set_env_snapshot`]).
    env_snapshot: Option<EnvSnapshot>,
    /// `["/bin/sh", <candidate>, argv[1..]..., NULL]`; slot 1 is filled in
    /// just before use. Empty when the shell fallback is off.
    sh_argv: Vec<*const c_char>,
}

// SAFETY: the raw pointers in sh_argv point into argv's strings (owned by the
// plan) or a static; the plan is only read after construction except for
// slot 1, which `exec` writes through `&mut self`.
unsafe impl Send for ExecPlan {}
// SAFETY: as above; `&self` methods never write.
unsafe impl Sync for ExecPlan {}

const SH: &CStr = c"/bin/sh";

impl ExecPlan {
    /// Checks and converts everything.
    ///
    /// - `search`: a `program` without a slash is looked up in `path` (the
    ///   caller's `PATH`, or `/bin:/usr/bin` when unset), and a file that
    ///   fails with `ENOEXEC` is run by `/bin/sh`, as `execvp` does.
    /// - `envp`: `None` passes the calling process's environment at exec
    ///   time.
    pub(crate) fn new<S: AsRef<OsStr>>(
        program: &OsStr,
        argv: &[S],
        envp: Option<Vec<CString>>,
        search: bool,
        path: Option<&OsStr>,
    ) -> Result<ExecPlan> {
        if program.is_empty() {
            return Err(Error::InvalidArgument {
                what: "program",
                value: "\"\" (empty)".into(),
            });
        }
        let prog_c = to_cstring("program", program)?;
        let argv: Vec<CString> = argv
            .iter()
            .map(|a| to_cstring("argument", a.as_ref()))
            .collect::<Result<_>>()?;
        if argv.is_empty() {
            return Err(Error::InvalidArgument {
                what: "argv",
                value: format!(
                    "[] (empty) for {}: it must hold at least argv[0]",
                    program.to_string_lossy()
                ),
            });
        }
        let candidates = if search && !program.as_bytes().contains(&b'/') {
            search_path(program, path)
        } else {
            vec![prog_c]
        };
        let argv = CStringArray::new(argv);
        let sh_argv = if search {
            let mut v = Vec::with_capacity(argv.items().len() + 2);
            v.push(SH.as_ptr());
            v.push(ptr::null()); // the script, filled in by `exec`
            v.extend(argv.items().iter().skip(1).map(|c| c.as_ptr()));
            v.push(ptr::null());
            v
        } else {
            Vec::new()
        };
        Ok(ExecPlan {
            program: program.to_owned(),
            candidates,
            argv,
            envp: envp.map(CStringArray::new),
            env_snapshot: None,
            sh_argv,
        })
    }

    /// Tries every candidate with `execve`; returns only on failure, with the
    /// errno `execvp` would report: `EACCES` if any candidate was found but
    /// not executable, else the last "not found"-like error, and any other
    /// error at once.
    ///
    /// Async-signal-safe: no allocation, no locks. Safe to call in a child
    /// of `fork` or `vfork` (the `environ` read is a plain load).
    pub(crate) fn exec(&mut self) -> i32 {
        let envp = match (&self.env_snapshot, &self.envp) {
            (Some(snap), _) => snap.ptrs.as_ptr(),
            (None, Some(e)) => e.as_ptr(),
            (None, None) => environ(),
        };
        let mut saw_eacces = false;
        let mut last = libc::ENOENT;
        for cand in &self.candidates {
            // SAFETY: cand, argv and envp are NUL-terminated strings in
            // NULL-terminated arrays that live as long as `self`.
            unsafe { libc::execve(cand.as_ptr(), self.argv.as_ptr(), envp) };
            let err = errno();
            match err {
                libc::ENOEXEC if !self.sh_argv.is_empty() => {
                    self.sh_argv[1] = cand.as_ptr();
                    // SAFETY: sh_argv is NULL-terminated and its pointers
                    // point into self (or the static SH).
                    unsafe { libc::execve(SH.as_ptr(), self.sh_argv.as_ptr(), envp) };
                    return errno();
                }
                libc::EACCES => saw_eacces = true,
                libc::ENOENT
                | libc::ENOTDIR
                | libc::ELOOP
                | libc::ENAMETOOLONG
                | libc::ENODEV
                | libc::ETIMEDOUT
                | libc::ESTALE => {}
                _ => return err,
            }
            last = err;
        }
        if saw_eacces { libc::EACCES } else { last }
    }

    /// Passes `snapshot` instead of the environment given to
    /// [`ExecPlan::new`].
    pub(crate) fn set_env_snapshot(&mut self, snapshot: EnvSnapshot) {
        self.env_snapshot = Some(snapshot);
    }

    /// Runs [`ExecPlan::exec`] in the calling process and turns its failure
    /// into an [`Error`] naming the program.
    pub(crate) fn exec_here(&mut self) -> Error {
        let err = self.exec();
        Error::spawn(
            &self.program,
            crate::error::SpawnStep::Exec,
            io::Error::from_raw_os_error(err),
        )
    }
}

/// A copy of the environment as `execve` takes it, packed into one
/// buffer: `KEY=VALUE\0` entries and a NULL-terminated array of pointers
/// into them. Two allocations, however many variables.
pub(crate) struct EnvSnapshot {
    /// Never changed after the pointers were taken.
    _buf: Vec<u8>,
    ptrs: Vec<*const c_char>,
}

// SAFETY: the pointers point into `_buf`, which the snapshot owns and never
// changes; sending or sharing it is sending or sharing the bytes.
unsafe impl Send for EnvSnapshot {}
// SAFETY: as above; no interior mutability.
unsafe impl Sync for EnvSnapshot {}

impl EnvSnapshot {
    /// Packs `vars`, as `std::env::vars_os` returns them (no NUL byte in
    /// a name or value, which come from C strings; one would end that
    /// entry early, never read past the buffer).
    pub(crate) fn new(vars: Vec<(OsString, OsString)>) -> EnvSnapshot {
        let len = vars.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        let mut buf = Vec::with_capacity(len);
        let mut offsets = Vec::with_capacity(vars.len() + 1);
        for (k, v) in &vars {
            offsets.push(buf.len());
            buf.extend_from_slice(k.as_bytes());
            buf.push(b'=');
            buf.extend_from_slice(v.as_bytes());
            buf.push(0);
        }
        // Offsets first, pointers once the buffer no longer moves.
        let mut ptrs: Vec<*const c_char> = offsets
            .into_iter()
            .map(|o| buf[o..].as_ptr().cast())
            .collect();
        ptrs.push(ptr::null());
        EnvSnapshot { _buf: buf, ptrs }
    }
}

/// The full paths to try for `program` along `path`, like `execvp`: an
/// empty entry means the current directory.
fn search_path(program: &OsStr, path: Option<&OsStr>) -> Vec<CString> {
    let path = path.map(OsStr::as_bytes).unwrap_or(b"/bin:/usr/bin");
    path.split(|&b| b == b':')
        .filter_map(|dir| {
            let mut full = Vec::with_capacity(dir.len() + 1 + program.len());
            if dir.is_empty() {
                full.extend_from_slice(b"./");
            } else {
                full.extend_from_slice(dir);
                if !dir.ends_with(b"/") {
                    full.push(b'/');
                }
            }
            full.extend_from_slice(program.as_bytes());
            // A PATH entry with a NUL byte cannot name a file: skip it.
            CString::new(full).ok()
        })
        .collect()
}

/// The calling thread's `errno` (`EIO` if it cannot be read).
pub(crate) fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// The calling process's environment, as `execve` takes it.
fn environ() -> *const *const c_char {
    unsafe extern "C" {
        static environ: *const *const c_char;
    }
    // SAFETY: `environ` is the C library's environment pointer; reading it
    // is a plain load. The strings it points to are only freed by setenv or
    // putenv, which std serialises with its own env lock.
    unsafe { environ }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_snapshot_is_packed_as_execve_takes_it() {
        let snap = EnvSnapshot::new(vec![("A".into(), "1".into()), ("PATH".into(), "".into())]);
        let got: Vec<&CStr> = snap
            .ptrs
            .iter()
            .take_while(|p| !p.is_null())
            // SAFETY: pointers into the snapshot's NUL-terminated entries.
            .map(|&p| unsafe { CStr::from_ptr(p) })
            .collect();
        assert_eq!(got, [c"A=1", c"PATH="]);
        assert!(snap.ptrs.last().unwrap().is_null());
    }

    #[test]
    fn path_candidates() {
        let c = search_path("ls".as_ref(), Some("/a:/b/::/c".as_ref()));
        let c: Vec<_> = c.iter().map(|c| c.to_str().unwrap().to_owned()).collect();
        assert_eq!(c, ["/a/ls", "/b/ls", "./ls", "/c/ls"]);
    }

    #[test]
    fn bad_input_is_caught_before_anything_runs() {
        let e = ExecPlan::new("".as_ref(), &["x"], None, true, None)
            .err()
            .unwrap();
        assert!(matches!(
            e,
            Error::InvalidArgument {
                what: "program",
                ..
            }
        ));
        let e = ExecPlan::new("a\0b".as_ref(), &["x"], None, true, None)
            .err()
            .unwrap();
        assert!(matches!(
            e,
            Error::NulByte {
                what: "program",
                ..
            }
        ));
        let e = ExecPlan::new("ls".as_ref(), &["ok", "b\0d"], None, true, None)
            .err()
            .unwrap();
        assert!(matches!(
            e,
            Error::NulByte {
                what: "argument",
                ..
            }
        ));
        let e = ExecPlan::new::<&str>("ls".as_ref(), &[], None, true, None)
            .err()
            .unwrap();
        assert!(e.to_string().contains("argv"), "{e}");
    }
}
