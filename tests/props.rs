//! Property tests of `Command`: random argv, environment and working
//! directory (NUL bytes, `=` in names, empty strings, arbitrary non-UTF-8
//! bytes), and arguments too large for `execve` (a 1 MiB argument, 100 000
//! arguments). Either the child sees exactly what was given (echoed back
//! by `/bin/sh`'s `printf '%s\0' "$a"` for each, `pwd -P` and `/usr/bin/env -0`), or
//! spawn fails with the named error (`NulByte`, `InvalidArgument`,
//! `E2BIG` as `Spawn` at the exec step); never a panic, a descriptor
//! leaked or a child left behind.
//!
//! `harness = false`: the checks count this process's descriptors and
//! zombies, which other test threads would disturb. Linux (/proc, GNU env).

mod support;

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::BTreeMap;
    use std::ffi::{OsStr, OsString};
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::PathBuf;
    use std::time::Duration;

    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    use procctl::Error;
    use procctl::error::SpawnStep;
    use procctl::proc::{Command, Output, Stdio};

    use super::support;

    /// Bytes for an argument or a value: mostly arbitrary, with NUL,
    /// `=` and the empty string made likely.
    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            3 => prop::collection::vec(any::<u8>().prop_filter("no NUL", |b| *b != 0), 0..max),
            1 => prop::collection::vec(prop_oneof![Just(0u8), Just(b'='), Just(b'a'), any::<u8>()], 0..6),
            1 => Just(Vec::new()),
        ]
    }

    /// Environment names from a small alphabet (so no `PATH` or `IFS`
    /// changes the shell), with `=` and NUL made likely, and empty.
    fn name() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => "[a-z_][a-z0-9_]{0,6}".prop_map(|s| s.into_bytes()),
            1 => "[a-z]{0,3}=[a-z]{0,3}".prop_map(|s| s.into_bytes()),
            1 => "[a-z]{0,3}\0[a-z]{0,3}".prop_map(|s| s.into_bytes()),
            1 => Just(Vec::new()),
        ]
    }

    #[derive(Debug, Clone)]
    struct Case {
        args: Vec<Vec<u8>>,
        env: Vec<(Vec<u8>, Vec<u8>)>,
        /// A directory name made under the temp dir (no `/`).
        dir: Option<Vec<u8>>,
    }

    fn case() -> impl Strategy<Value = Case> {
        (
            prop::collection::vec(bytes(24), 0..8),
            prop::collection::vec((name(), bytes(16)), 0..5),
            prop::option::of(
                prop_oneof![
                    4 => prop::collection::vec(any::<u8>().prop_filter("no / or NUL", |b| *b != b'/' && *b != 0), 1..12),
                    1 => Just(b"a\0b".to_vec()),
                ]
                .prop_filter("not . or ..", |d| d != b"." && d != b".."),
            ),
        )
            .prop_map(|(args, env, dir)| Case { args, env, dir })
    }

    /// The errors `case` may be refused with, before anything runs.
    fn refusals(c: &Case) -> Vec<&'static str> {
        let mut why = Vec::new();
        // A value set again replaces the first one, NUL and all: only
        // the environment the program would get is checked.
        let last: BTreeMap<&[u8], &[u8]> = c.env.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        if c.args.iter().any(|a| a.contains(&0))
            || last.iter().any(|(k, v)| k.contains(&0) || v.contains(&0))
            || c.dir.as_ref().is_some_and(|d| d.contains(&0))
        {
            why.push("NulByte");
        }
        if c.env.iter().any(|(k, _)| k.is_empty() || k.contains(&b'=')) {
            why.push("InvalidArgument");
        }
        why
    }

    fn run(cmd: &mut Command) -> procctl::Result<Output> {
        let child = cmd.stdout(Stdio::piped()).spawn()?;
        child.communicate_timeout(b"", Duration::from_secs(10))
    }

    fn variant(e: &Error) -> &'static str {
        match e {
            Error::NulByte { .. } => "NulByte",
            Error::InvalidArgument { .. } => "InvalidArgument",
            _ => "other",
        }
    }

    /// One case: spawn twice (argv and cwd through sh, the environment
    /// through env -0) and compare, or check the refusal.
    fn check(c: &Case, base: &std::path::Path) -> Result<(), TestCaseError> {
        let dir: Option<PathBuf> = c.dir.as_ref().map(|d| base.join(OsStr::from_bytes(d)));
        if let Some(d) = dir
            .as_ref()
            .filter(|_| !c.dir.as_ref().unwrap().contains(&0))
        {
            std::fs::create_dir_all(d).unwrap();
        }
        let mut sh = Command::new("/bin/sh");
        // `printf '%s\0' "$@"` would print one empty argument for none.
        sh.args(["-c", "for a; do printf '%s\\0' \"$a\"; done; pwd -P", "sh"]);
        sh.args(c.args.iter().map(|a| OsStr::from_bytes(a)));
        let mut env = Command::new("/usr/bin/env");
        env.arg("-0").env_clear();
        for (k, v) in &c.env {
            let (k, v) = (OsStr::from_bytes(k), OsStr::from_bytes(v));
            sh.env(k, v);
            env.env(k, v);
        }
        if let Some(d) = &dir {
            sh.current_dir(d);
        }
        let refused = refusals(c);
        let (a, b) = (run(&mut sh), run(&mut env));
        if let Some(d) = dir
            .as_ref()
            .filter(|_| !c.dir.as_ref().unwrap().contains(&0))
        {
            std::fs::remove_dir(d).unwrap();
        }
        if !refused.is_empty() {
            // The argv/cwd spawn is refused for its own faults, the env
            // spawn for the environment's; at least one is refused, each
            // with a reason that applies.
            for r in [&a, &b] {
                if let Err(e) = r {
                    prop_assert!(refused.contains(&variant(e)), "{e:?} not in {refused:?}");
                }
            }
            prop_assert!(a.is_err() || b.is_err());
            return Ok(());
        }
        let (a, b) = (a.unwrap(), b.unwrap());
        prop_assert!(a.status.success() && b.status.success());
        // argv, each NUL-terminated, then the directory and a newline.
        let mut want = Vec::new();
        for arg in &c.args {
            want.extend_from_slice(arg);
            want.push(0);
        }
        let cwd = match &dir {
            Some(d) => d.canonicalize().unwrap_or_else(|_| d.clone()),
            None => std::env::current_dir().unwrap().canonicalize().unwrap(),
        };
        want.extend_from_slice(cwd.as_os_str().as_bytes());
        want.push(b'\n');
        prop_assert_eq!(a.stdout, want);
        // The environment: exactly what was set, the last value of a name
        // winning.
        let want: BTreeMap<&[u8], &[u8]> = c.env.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let got: BTreeMap<&[u8], &[u8]> = b
            .stdout
            .split(|&x| x == 0)
            .filter(|e| !e.is_empty())
            .map(|e| {
                let eq = e.iter().position(|&x| x == b'=').unwrap();
                (&e[..eq], &e[eq + 1..])
            })
            .collect();
        prop_assert_eq!(got, want);
        Ok(())
    }

    fn no_leftovers(fds: usize) {
        assert_eq!(support::fd_count(), fds, "descriptors leaked");
        assert_eq!(support::zombies(), [], "children left unreaped");
    }

    fn random_argv_env_cwd() {
        let base = std::env::temp_dir().join(format!("procctl-props-{}", std::process::id()));
        std::fs::create_dir_all(&base).unwrap();
        let base = base.canonicalize().unwrap();
        let fds = support::fd_count();
        let mut runner = TestRunner::new(Config {
            cases: 1000,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&case(), |c| {
            check(&c, &base)?;
            prop_assert_eq!(support::fd_count(), fds, "descriptors leaked");
            prop_assert_eq!(support::zombies(), vec![], "children left unreaped");
            Ok(())
        });
        std::fs::remove_dir_all(&base).unwrap();
        if let Err(e) = result {
            panic!("{e}");
        }
        no_leftovers(fds);
    }

    /// `E2BIG`: refused by `execve`, reported as a spawn failure at the
    /// exec step with the errno.
    fn assert_e2big(r: procctl::Result<Output>) {
        let e = r.expect_err("execve should refuse this");
        assert_eq!(e.raw_os_error(), Some(libc::E2BIG), "{e:?}");
        assert_eq!(e.spawn_step(), Some(SpawnStep::Exec), "{e:?}");
        assert!(matches!(e, Error::Spawn { .. }), "{e:?}");
    }

    fn too_big_for_execve() {
        let fds = support::fd_count();
        // One argument of 1 MiB: above MAX_ARG_STRLEN (128 KiB).
        let huge = OsString::from_vec(vec![b'x'; 1 << 20]);
        assert_e2big(run(Command::new("/bin/true").arg(&huge)));
        no_leftovers(fds);
        // The same in the environment.
        assert_e2big(run(Command::new("/bin/true").env("BIG", &huge)));
        no_leftovers(fds);
        // 100 000 arguments of 64 bytes: 6.4 MB, above the argv limit.
        let many: Vec<String> = (0..100_000).map(|i| format!("{i:064}")).collect();
        assert_e2big(run(Command::new("/bin/true").args(&many)));
        no_leftovers(fds);
        // 100 000 short arguments fit, and arrive all and in order.
        let short: Vec<String> = (0..100_000).map(|i| (i % 10).to_string()).collect();
        let out = run(Command::new("/bin/sh")
            .args(["-c", "echo $#; printf %s \"$@\" | md5sum", "sh"])
            .args(&short))
        .unwrap();
        assert!(out.status.success());
        let digits: String = short.concat();
        let sum =
            run(Command::new("/bin/sh").args(["-c", &format!("printf %s {} | md5sum", &digits)]))
                .unwrap();
        let mut want = b"100000\n".to_vec();
        want.extend_from_slice(&sum.stdout);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&want)
        );
        no_leftovers(fds);
    }

    pub fn main() {
        support::run(&[
            ("random_argv_env_cwd", random_argv_env_cwd),
            ("too_big_for_execve", too_big_for_execve),
        ]);
    }
}

fn main() {
    #[cfg(target_os = "linux")]
    linux::main();
}
