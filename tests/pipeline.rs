//! `Pipeline`, `PipelineChild`, `PipeStatus` with real processes.
//!
//! The Unix tests (groups, signals, descriptors, zombies) live in
//! `tests/unix/pipeline.rs`; the few below run on Windows (under Wine in
//! CI): the same wiring through `cmd.exe`, and the errors.

#[cfg(unix)]
#[path = "unix/pipeline.rs"]
mod unix;

#[cfg(windows)]
mod windows {
    use std::time::Duration;

    use procctl::Error;
    use procctl::proc::{Command, Pipeline, Stdio};

    fn cmd(script: &str) -> Command {
        let mut c = Command::new("cmd.exe");
        c.args(["/C", script]);
        c
    }

    #[test]
    fn three_members_and_their_statuses() {
        let child = cmd("echo piped")
            .pipe(cmd("more"))
            .pipe(cmd("more & exit 3"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn");
        assert_eq!(child.members().len(), 3);
        // communicate has no deadline of its own: run it on a thread and
        // kill the members if it does not finish in time.
        let child = std::sync::Arc::new(child);
        let (tx, rx) = std::sync::mpsc::channel();
        let c = child.clone();
        std::thread::spawn(move || {
            let _ = tx.send(c.communicate(b""));
        });
        let Ok(out) = rx.recv_timeout(Duration::from_secs(20)) else {
            let _ = child.kill();
            panic!("pipeline did not finish in 20 s");
        };
        let out = out.expect("communicate");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "piped");
        assert_eq!(out.status.to_string(), "0 | 0 | 3");
        assert_eq!(out.status.pipefail().code(), Some(3));
    }

    #[test]
    fn kill_ends_every_member() {
        let child = Command::new("ping")
            .args(["-n", "30", "127.0.0.1"])
            .pipe(cmd("more"))
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn");
        assert_eq!(child.try_wait().unwrap(), None);
        child.kill().unwrap();
        let status = child
            .wait_timeout(Duration::from_secs(10))
            .unwrap()
            .expect("killed members end");
        assert!(status.statuses().iter().all(|s| !s.success()), "{status}");
    }

    #[test]
    fn errors_name_the_member() {
        assert!(matches!(
            Pipeline::new([]).spawn(),
            Err(Error::InvalidArgument { .. })
        ));
        let err = cmd("echo x")
            .pipe(Command::new("no-such-program-procctl-pipeline"))
            .spawn()
            .unwrap_err();
        assert!(
            matches!(err, Error::PipelineMember { index: 1, .. }),
            "{err:?}"
        );
        let err = cmd("echo x")
            .pipe(Command::from(cmd("more").stdin(Stdio::null())))
            .spawn()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    }
}
