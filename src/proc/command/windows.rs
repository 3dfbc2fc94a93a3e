//! How a [`Command`] starts on Windows: as a [`std::process::Command`]
//! (`CreateProcessW`), the child then adopted as a procctl [`Child`].

use std::ffi::{OsStr, OsString};
use std::os::windows::process::CommandExt;

use super::{Command, Kind, Stdio, StdioDefault};
use crate::error::{Error, Result, SpawnStep};
use crate::proc::child::Child;

/// One argument of a Windows command line.
#[derive(Debug)]
pub(super) enum Arg {
    /// Quoted for `CommandLineToArgvW` by std.
    Quoted(OsString),
    /// Appended as is (for `cmd.exe /C`, which has its own rules).
    Raw(OsString),
}

impl Stdio {
    fn to_std(&self) -> Result<std::process::Stdio> {
        Ok(match &self.0 {
            Kind::Inherit => std::process::Stdio::inherit(),
            Kind::Null => std::process::Stdio::null(),
            Kind::Piped => std::process::Stdio::piped(),
            Kind::Owned(h) => h
                .try_clone()
                .map_err(|e| Error::os("DuplicateHandle", e))?
                .into(),
        })
    }
}

impl Command {
    /// Appends `arg` to the command line without quoting (`cmd.exe`).
    pub(crate) fn raw_arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(Arg::Raw(arg.as_ref().to_owned()));
        self
    }

    fn check(&self) -> Result<()> {
        let nul = |what: &'static str, s: &OsStr| {
            if s.as_encoded_bytes().contains(&0) {
                Err(Error::NulByte {
                    what,
                    value: s.to_owned(),
                })
            } else {
                Ok(())
            }
        };
        if self.program.is_empty() {
            return Err(Error::InvalidArgument {
                what: "program",
                value: "an empty name".into(),
            });
        }
        nul("program", &self.program)?;
        for a in &self.args {
            let (Arg::Quoted(a) | Arg::Raw(a)) = a;
            nul("argument", a)?;
        }
        for (k, v) in &self.env {
            if k.is_empty() || k.as_encoded_bytes().contains(&b'=') {
                return Err(Error::InvalidArgument {
                    what: "environment variable name",
                    value: format!("{k:?}"),
                });
            }
            nul("environment", k)?;
            if let Some(v) = v {
                nul("environment", v)?;
            }
        }
        Ok(())
    }

    /// Starts the program with `defaults` for the stdio not set.
    pub(super) fn spawn_imp(&self, defaults: [StdioDefault; 3]) -> Result<Child> {
        self.check()?;
        let mut cmd = std::process::Command::new(&self.program);
        for a in &self.args {
            match a {
                Arg::Quoted(a) => cmd.arg(a),
                Arg::Raw(a) => cmd.raw_arg(a),
            };
        }
        if self.env_clear {
            cmd.env_clear();
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        let stdio = |set: &Option<Stdio>, default| -> Result<std::process::Stdio> {
            match (set, default) {
                (Some(s), _) => s.to_std(),
                (None, StdioDefault::Inherit) => Ok(std::process::Stdio::inherit()),
                (None, StdioDefault::Null) => Ok(std::process::Stdio::null()),
                (None, StdioDefault::Piped) => Ok(std::process::Stdio::piped()),
            }
        };
        cmd.stdin(stdio(&self.stdin, defaults[0])?);
        cmd.stdout(stdio(&self.stdout, defaults[1])?);
        cmd.stderr(stdio(&self.stderr, defaults[2])?);
        let child = cmd.spawn().map_err(|e| {
            match self.cwd.as_ref().filter(|d| !d.is_dir()) {
                // Name the directory, as on Unix.
                Some(dir) => {
                    Error::spawn(&self.program, SpawnStep::Chdir, e).with_path(dir.as_os_str())
                }
                None => Error::spawn(&self.program, SpawnStep::Exec, e),
            }
        })?;
        Child::adopt(child, self.drop_policy)
    }
}
