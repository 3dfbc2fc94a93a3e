//! 1 000 concurrent children, spawned and awaited: procctl on tokio
//! against `tokio::process`, and procctl on async-io against
//! `async-process`.
//!
//! Each round runs every case once, in turn (interleaved, so a noisy
//! neighbour hits all of them alike), and measures the wall time and the
//! CPU time of the whole process and its reaped children (`getrusage`
//! `RUSAGE_SELF` + `RUSAGE_CHILDREN`, user + system, as deltas). The
//! report gives each case's median and the median of the per-round
//! ratios procctl / other.
//!
//! Not a criterion bench: criterion times wall clock only, and the CPU
//! time spent in the runtime's threads and the children is half the
//! question. `cargo bench --bench async_spawn --all-features -- ROUNDS`
//! (default 7; `cargo bench` passes `--bench`, which is skipped).
//!
//! The program is a tiny static one built at start with `cc` (x86_64
//! Linux: `_start` is one `exit(0)` system call), so each child costs
//! little more than the spawn and the reap; where that cannot be built,
//! `/bin/true` (dynamically linked: its start-up is then most of each
//! child's cost, the same for every case).

#[cfg(all(unix, feature = "tokio", feature = "async-io"))]
mod imp {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::{Duration, Instant};

    use procctl::proc::Command;

    const N: usize = 1000;

    /// The tiny static program, or `/bin/true`.
    fn build_program() -> String {
        const SRC: &str = "void _start(void) { __asm__ volatile(\"mov $60, %eax\\n xor %edi, %edi\\n syscall\"); }\n";
        if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            return "/bin/true".into();
        }
        let dir = std::env::temp_dir().join(format!("procctl-async-spawn-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let (src, exe) = (dir.join("exit0.c"), dir.join("exit0"));
        let built = std::fs::write(&src, SRC).is_ok()
            && std::process::Command::new("cc")
                .args(["-static", "-nostdlib", "-O2", "-o"])
                .arg(&exe)
                .arg(&src)
                .status()
                .is_ok_and(|s| s.success());
        if built {
            exe.to_string_lossy().into_owned()
        } else {
            "/bin/true".into()
        }
    }

    static PROGRAM: std::sync::LazyLock<String> = std::sync::LazyLock::new(build_program);

    fn cpu() -> Duration {
        fn of(who: i32) -> Duration {
            // SAFETY: getrusage fills the zeroed struct we own.
            let ru = unsafe {
                let mut ru = std::mem::zeroed::<libc::rusage>();
                libc::getrusage(who, &mut ru);
                ru
            };
            let tv = |t: libc::timeval| {
                Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
            };
            tv(ru.ru_utime) + tv(ru.ru_stime)
        }
        of(libc::RUSAGE_SELF) + of(libc::RUSAGE_CHILDREN)
    }

    /// Polls every future until all are done, in one task.
    struct JoinAll<F: Future>(Vec<Option<Pin<Box<F>>>>);

    impl<F: Future> Future for JoinAll<F> {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let mut pending = false;
            for slot in self.get_mut().0.iter_mut() {
                if let Some(f) = slot {
                    if f.as_mut().poll(cx).is_ready() {
                        *slot = None;
                    } else {
                        pending = true;
                    }
                }
            }
            if pending {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        }
    }

    fn join_all<F: Future>(futs: impl IntoIterator<Item = F>) -> JoinAll<F> {
        JoinAll(futs.into_iter().map(|f| Some(Box::pin(f))).collect())
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn procctl_tokio(rt: &tokio::runtime::Runtime) {
        use procctl::tokio::ChildExt;
        rt.block_on(async {
            let mut tasks = Vec::with_capacity(N);
            for _ in 0..N {
                let child = Command::new(&*PROGRAM).spawn().unwrap();
                tasks.push(tokio::spawn(async move {
                    assert!(child.wait_async().await.unwrap().success());
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        });
    }

    fn tokio_process(rt: &tokio::runtime::Runtime) {
        rt.block_on(async {
            let mut tasks = Vec::with_capacity(N);
            for _ in 0..N {
                let mut child = tokio::process::Command::new(&*PROGRAM).spawn().unwrap();
                tasks.push(tokio::spawn(async move {
                    assert!(child.wait().await.unwrap().success());
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        });
    }

    fn procctl_async_io(_: &tokio::runtime::Runtime) {
        use procctl::async_io::ChildExt;
        let children: Vec<_> = (0..N)
            .map(|_| Command::new(&*PROGRAM).spawn().unwrap())
            .collect();
        async_io::block_on(join_all(children.iter().map(|c| async move {
            assert!(c.wait_async().await.unwrap().success());
        })));
    }

    fn async_process(_: &tokio::runtime::Runtime) {
        let mut children: Vec<_> = (0..N)
            .map(|_| async_process::Command::new(&*PROGRAM).spawn().unwrap())
            .collect();
        async_io::block_on(join_all(children.iter_mut().map(|c| async move {
            assert!(c.status().await.unwrap().success());
        })));
    }

    type Case = (&'static str, fn(&tokio::runtime::Runtime));

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    }

    pub fn main() {
        let rounds: usize = std::env::args()
            .skip(1)
            .find(|a| !a.starts_with('-'))
            .and_then(|a| a.parse().ok())
            .unwrap_or(7);
        let cases: [Case; 4] = [
            ("procctl on tokio", procctl_tokio),
            ("tokio::process", tokio_process),
            ("procctl on async-io", procctl_async_io),
            ("async-process", async_process),
        ];
        let rt = runtime();
        // Warm-up: runtimes, reactors, the page cache.
        for (_, case) in &cases {
            case(&rt);
        }
        let mut wall = vec![Vec::new(); cases.len()];
        let mut cpu_t = vec![Vec::new(); cases.len()];
        for _ in 0..rounds {
            for (i, (_, case)) in cases.iter().enumerate() {
                let (t0, c0) = (Instant::now(), cpu());
                case(&rt);
                wall[i].push(t0.elapsed().as_secs_f64());
                cpu_t[i].push((cpu() - c0).as_secs_f64());
            }
        }
        println!(
            "{N} children of {}, spawned and awaited at once; {rounds} interleaved rounds",
            *PROGRAM
        );
        println!("{:<22} {:>12} {:>12}", "case", "wall (ms)", "cpu (ms)");
        for (i, (name, _)) in cases.iter().enumerate() {
            println!(
                "{name:<22} {:>12.1} {:>12.1}",
                median(wall[i].clone()) * 1e3,
                median(cpu_t[i].clone()) * 1e3
            );
        }
        for (ours, theirs) in [(0, 1), (2, 3)] {
            let ratio = |v: &Vec<Vec<f64>>| {
                median(v[ours].iter().zip(&v[theirs]).map(|(a, b)| a / b).collect())
            };
            println!(
                "{} / {}: wall {:.2}x, cpu {:.2}x (medians of per-round ratios)",
                cases[ours].0,
                cases[theirs].0,
                ratio(&wall),
                ratio(&cpu_t)
            );
        }
        let _ = std::fs::remove_dir_all(
            std::env::temp_dir().join(format!("procctl-async-spawn-{}", std::process::id())),
        );
    }
}

fn main() {
    #[cfg(all(unix, feature = "tokio", feature = "async-io"))]
    imp::main();
}
