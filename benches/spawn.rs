//! Spawn + wait, side by side: procctl's `Command`, std's `Command`, nix
//! `fork` + `execv`, `libc::posix_spawn`, and a raw `vfork` + `execve`
//! baseline (also with `CLONE_PIDFD`, to show what the pidfd every procctl
//! `Child` holds costs by itself); for `/bin/true` (dynamically linked) and
//! for a tiny static program built here (so the exec loader does not hide
//! the mechanism);
//! with the parent holding a small heap, 1 GiB and 4 GiB of touched memory,
//! and a small parent holding 1000 open descriptors; then `output()`
//! (piped stdio) from a small parent and from one holding 1000 and 19,000
//! descriptors, and spawn+wait from a parent with a second thread (both
//! in the interleaved pass only).
//! Then `communicate` of 64 MiB each way against std's `output` with a
//! writer thread.
//!
//! `cargo bench --bench spawn`; at the end it prints every time as a ratio
//! to the raw `vfork` + `execve` baseline of the same program and parent
//! size, and each path's big-parent time as a ratio to its small-parent
//! time. Environment: `PROCCTL_BENCH_4G=0` skips the 4 GiB parent,
//! `PROCCTL_BENCH_FAST=1` runs each case very briefly (a smoke test),
//! `PROCCTL_BENCH_CRITERION=0` runs only the interleaved ratio pass.

#[cfg(target_os = "linux")]
mod imp {
    use std::ffi::{CStr, CString};
    use std::hint::black_box;
    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::process::Command as StdCommand;
    use std::time::Duration;

    use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
    use procctl::proc::{Command, Stdio};

    unsafe extern "C" {
        static environ: *const *const libc::c_char;
    }

    /// A program to start, with its C strings ready.
    struct Program {
        path: CString,
        argv: [*const libc::c_char; 2],
    }

    impl Program {
        fn new(path: &Path) -> Program {
            let path = CString::new(path.to_str().unwrap()).unwrap();
            let argv = [path.as_ptr(), std::ptr::null()];
            Program { path, argv }
        }

        fn path(&self) -> &str {
            self.path.to_str().unwrap()
        }
    }

    fn wait_ok(pid: libc::pid_t) {
        let mut status = 0;
        // SAFETY: waiting for our own child.
        let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(ret, pid);
        assert_eq!(status, 0, "child failed");
    }

    /// The baseline: what `vfork()` is in the kernel,
    /// `clone(CLONE_VM | CLONE_VFORK | SIGCHLD)`, then `execve()` in the child
    /// and `waitpid` here. (`libc::vfork` itself cannot be called soundly from
    /// Rust, it returns twice; the kernel does the same work either way.)
    fn raw_vfork(p: &Program) {
        raw_vfork_with(p, false, false)
    }

    /// The baseline plus `CLONE_PIDFD`: the parent also gets a pidfd, as
    /// procctl's `Child` must hold one, and closes it after the wait. Its
    /// distance to the baseline is what holding a pidfd costs.
    fn raw_vfork_pidfd(p: &Program) {
        raw_vfork_with(p, true, false)
    }

    /// The floor for any spawn that keeps procctl's promises: the baseline
    /// plus `CLONE_PIDFD`, and in the child the three calls procctl's
    /// defaults require before `execve`: SIGPIPE back to `SIG_DFL` (Rust
    /// ignores it), an empty signal mask, and `close_range(3, ~0)` (the fd
    /// allowlist). procctl's distance to this row is what procctl itself
    /// adds; this row's distance to the baseline is what the guarantees
    /// cost in the kernel.
    fn raw_vfork_pidfd_setup(p: &Program) {
        raw_vfork_with(p, true, true)
    }

    fn raw_vfork_with(p: &Program, with_pidfd: bool, setup: bool) {
        struct Args {
            path: *const libc::c_char,
            argv: *const *const libc::c_char,
            env: *const *const libc::c_char,
            setup: bool,
        }
        extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
            // SAFETY: arg is the Args below, alive while the parent is
            // suspended; sigaction, sigprocmask, close_range (closing the
            // child's own descriptors), execve and _exit are
            // async-signal-safe system calls.
            unsafe {
                let a = &*(arg as *const Args);
                if a.setup {
                    let mut sa: libc::sigaction = std::mem::zeroed();
                    sa.sa_sigaction = libc::SIG_DFL;
                    libc::sigaction(libc::SIGPIPE, &sa, std::ptr::null_mut());
                    let mut empty: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut empty);
                    libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
                    libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
                }
                libc::execve(a.path, a.argv, a.env);
                libc::_exit(127)
            }
        }
        thread_local! {
            static STACK: std::cell::RefCell<Vec<u128>> = std::cell::RefCell::new(vec![0; 4096]);
        }
        // SAFETY: reading the C library's environment pointer.
        let env = unsafe { environ };
        let mut args = Args {
            path: p.path.as_ptr(),
            argv: p.argv.as_ptr(),
            env,
            setup,
        };
        let mut pidfd: libc::c_int = -1;
        let flags = libc::CLONE_VM
            | libc::CLONE_VFORK
            | libc::SIGCHLD
            | if with_pidfd { libc::CLONE_PIDFD } else { 0 };
        let pid = STACK.with_borrow_mut(|stack| {
            let top = stack.as_mut_ptr_range().end.cast::<libc::c_void>();
            // SAFETY: a 64 KiB 16-byte-aligned stack of ours; the child only
            // runs `child`; CLONE_VFORK keeps us (and `args`) suspended until
            // it execs or exits. With CLONE_PIDFD the kernel writes the
            // pidfd to the int behind the fifth argument.
            unsafe {
                libc::clone(
                    child,
                    top,
                    flags,
                    (&mut args as *mut Args).cast(),
                    &mut pidfd as *mut libc::c_int,
                )
            }
        });
        assert!(pid > 0);
        wait_ok(pid);
        if with_pidfd {
            assert!(pidfd >= 0, "no pidfd");
            // SAFETY: closing the pidfd the kernel gave us.
            unsafe { libc::close(pidfd) };
        }
    }

    fn posix_spawn(p: &Program) {
        let mut pid = 0;
        // SAFETY: valid NUL-terminated path and argv; default attributes.
        let ret = unsafe {
            libc::posix_spawn(
                &mut pid,
                p.path.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                p.argv.as_ptr() as *const *mut libc::c_char,
                environ as *const *mut libc::c_char,
            )
        };
        assert_eq!(ret, 0);
        wait_ok(pid);
    }

    fn nix_fork_exec(p: &Program) {
        let argv: [&CStr; 1] = [&p.path];
        // SAFETY: the child only calls execv (and _exit), with data prepared
        // before the fork.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let _ = nix::unistd::execv(&p.path, &argv);
                // SAFETY: leaving the child without running anything else.
                unsafe { libc::_exit(127) }
            }
            nix::unistd::ForkResult::Parent { child } => wait_ok(child.as_raw()),
        }
    }

    fn std_status(p: &Program) {
        assert!(StdCommand::new(p.path()).status().unwrap().success());
    }

    fn procctl_status(p: &Program) {
        assert!(Command::new(p.path()).status().unwrap().success());
    }

    /// The same work as `procctl_status`, written as `spawn` then `wait` with
    /// the `Command` dropped in between. On the 2-vCPU VM this was measured
    /// on, that alone changes the time by ~10% (see the notes): a wake-up /
    /// CPU-migration artifact, not work procctl does; both are reported.
    fn procctl_spawn_wait(p: &Program) {
        let child = Command::new(p.path()).spawn().unwrap();
        assert!(child.wait().unwrap().success());
    }

    /// `output()`: stdin `/dev/null`, stdout and stderr piped. The
    /// spawn's own ends land above every descriptor the parent holds.
    fn procctl_output(p: &Program) {
        let out = Command::new(p.path()).output().unwrap();
        assert!(out.status.success());
    }

    fn std_output(p: &Program) {
        assert!(StdCommand::new(p.path()).output().unwrap().status.success());
    }

    type Method = (&'static str, fn(&Program));

    // ---- spawn attributes (Command::rlimit, umask, nice, unshare) ----
    /// rlimits + umask + nice: three more system calls in the child.
    fn procctl_rlimit_umask_nice(p: &Program) {
        use procctl::proc::Resource;
        let status = Command::new(p.path())
            .rlimit(Resource::Nofile, 1024, 4096)
            .rlimit(Resource::Core, 0, 0)
            .umask(0o022)
            .nice(0)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// A new user namespace with one-line maps: the fork path (no
    /// `CLONE_VFORK`: page tables copied), a handshake, and three writes
    /// to `/proc/<pid>/*_map` by the parent.
    fn procctl_userns(p: &Program) {
        use procctl::proc::Namespaces;
        // SAFETY: geteuid and getegid have no preconditions.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let status = Command::new(p.path())
            .unshare(Namespaces::USER)
            .uid_map(&[(0, uid, 1)])
            .gid_map(&[(0, gid, 1)])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// A new UTS namespace (root): `unshare` in the child, fast path.
    fn procctl_unshare_uts(p: &Program) {
        use procctl::proc::Namespaces;
        let status = Command::new(p.path())
            .unshare(Namespaces::UTS)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The attribute rows, interleaved with a plain spawn.
    const ATTR_METHODS: [Method; 6] = [
        ("vfork_execve", raw_vfork),
        ("vfork_execve_pidfd_setup", raw_vfork_pidfd_setup),
        ("procctl", procctl_status),
        ("procctl_rlimit_umask_nice", procctl_rlimit_umask_nice),
        ("procctl_unshare_uts", procctl_unshare_uts),
        ("procctl_userns", procctl_userns),
    ];
    /// The same, with plain `procctl` first: the table's "vs
    /// vfork+execve" column is then the ratio to a spawn without
    /// attributes (rows named "... vs procctl").
    const ATTR_VS_PLAIN: [Method; 4] = [
        ("procctl", procctl_status),
        ("vfork_execve_pidfd_setup", raw_vfork_pidfd_setup),
        ("procctl_rlimit_umask_nice", procctl_rlimit_umask_nice),
        ("procctl_userns", procctl_userns),
    ];
    // ---- end spawn attributes ----

    /// The piped rows: procctl's and std's `output()` beside the raw
    /// baseline and the floor (which make no pipes).
    const PIPED_METHODS: [Method; 4] = [
        ("vfork_execve", raw_vfork),
        ("vfork_execve_pidfd_setup", raw_vfork_pidfd_setup),
        ("procctl_output", procctl_output),
        ("std_output", std_output),
    ];

    /// The rows of a parent with a second thread (last: glibc never
    /// calls a process single-threaded again once it had two threads).
    /// procctl then copies the environment for each child (under std's
    /// lock) instead of passing the live `environ`, which another thread
    /// could change under the child.
    const THREADED_METHODS: [Method; 4] = [
        ("vfork_execve", raw_vfork),
        ("vfork_execve_pidfd_setup", raw_vfork_pidfd_setup),
        ("procctl", procctl_status),
        ("std", std_status),
    ];

    /// Descriptors the parent holds in the piped rows' big case (the
    /// issue that made this row: 19,900 descriptors).
    const PIPED_MANY_FDS: [usize; 2] = [MANY_FDS, 19_000];

    const METHODS: [Method; 8] = [
        ("vfork_execve", raw_vfork),
        ("vfork_execve_pidfd", raw_vfork_pidfd),
        ("vfork_execve_pidfd_setup", raw_vfork_pidfd_setup),
        ("procctl", procctl_status),
        ("procctl_spawn_wait", procctl_spawn_wait),
        ("std", std_status),
        ("posix_spawn", posix_spawn),
        ("nix_fork_exec", nix_fork_exec),
    ];

    /// Builds a tiny static program: `_start` makes the exit system call.
    fn build_static(dir: &Path) -> Option<PathBuf> {
        let src = dir.join("tiny.c");
        let bin = dir.join("tiny-static");
        std::fs::write(
            &src,
            r#"
    #if defined(__x86_64__)
    void _start(void) { __asm__ volatile("mov $60, %eax\n xor %edi, %edi\n syscall"); for (;;); }
    #elif defined(__aarch64__)
    void _start(void) { __asm__ volatile("mov x8, #93\n mov x0, #0\n svc #0"); for (;;); }
    #else
    int main(void) { return 0; }
    #endif
    "#,
        )
        .ok()?;
        let nostdlib = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));
        let mut gcc = StdCommand::new("gcc");
        gcc.args(["-static", "-O2", "-o"]).arg(&bin).arg(&src);
        if nostdlib {
            gcc.arg("-nostdlib");
        }
        match gcc.status() {
            Ok(s) if s.success() => Some(bin),
            _ => {
                eprintln!("skipping the static program: `gcc -static` failed or is missing");
                None
            }
        }
    }

    /// Allocates and touches `gib` GiB, so fork has page tables to copy.
    fn hold_memory(gib: usize) -> Vec<u8> {
        let len = gib << 30;
        let mut v = vec![0u8; len];
        for i in (0..len).step_by(4096) {
            v[i] = 1;
        }
        black_box(&v);
        v
    }

    fn configure<'a>(c: &'a mut Criterion, name: &str, fast: bool) -> BenchmarkGroup<'a, WallTime> {
        let mut g = c.benchmark_group(name);
        g.sample_size(10);
        if fast {
            g.warm_up_time(Duration::from_millis(50))
                .measurement_time(Duration::from_millis(200));
        } else {
            g.warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(3));
        }
        g
    }

    /// Ratios measured interleaved: each round times every method back to
    /// back, and a ratio is the median over rounds of (method / baseline in
    /// the same round), so load that comes and goes on a shared machine
    /// cancels out instead of landing on whichever case ran at that moment.
    struct Interleaved {
        /// program, parent ("0 GiB", "1000 fds", ...), method, median time,
        /// ratio to the baseline, ratio to the floor
        /// (`vfork_execve_pidfd_setup`).
        rows: Vec<(String, String, &'static str, f64, f64, f64)>,
    }

    impl Interleaved {
        fn measure(&mut self, name: &str, parent: &str, program: &Program, fast: bool) {
            self.measure_methods(&METHODS, name, parent, program, fast)
        }

        fn measure_methods(
            &mut self,
            methods: &[Method],
            name: &str,
            parent: &str,
            program: &Program,
            fast: bool,
        ) {
            let rounds = if fast { 5 } else { 61 };
            // Each method runs at least this long per round (and at least once).
            let slice = Duration::from_millis(if fast { 2 } else { 15 });
            let mut times: Vec<Vec<f64>> = vec![Vec::new(); methods.len()];
            for _ in 0..rounds {
                for (i, (_, f)) in methods.iter().enumerate() {
                    let start = std::time::Instant::now();
                    let mut n = 0u32;
                    while n == 0 || start.elapsed() < slice {
                        f(program);
                        n += 1;
                    }
                    times[i].push(start.elapsed().as_nanos() as f64 / n as f64);
                }
            }
            let floor = methods
                .iter()
                .position(|(m, _)| *m == "vfork_execve_pidfd_setup")
                .expect("the floor is measured");
            let ratio = |i: usize, base: usize| {
                let mut r: Vec<f64> = times[i]
                    .iter()
                    .zip(&times[base])
                    .map(|(t, b)| t / b)
                    .collect();
                median(&mut r)
            };
            for (i, (method, _)) in methods.iter().enumerate() {
                let time = median(&mut times[i].clone());
                self.rows.push((
                    name.to_owned(),
                    parent.to_owned(),
                    method,
                    time,
                    ratio(i, 0),
                    ratio(i, floor),
                ));
            }
        }

        fn print(&self) {
            println!(
                "\nInterleaved ratios (median over rounds of method / vfork+execve in the same round)\n"
            );
            println!(
                "| program | parent | method | median time | vs vfork+execve | vs floor (pidfd + setup) | vs same method, small parent |"
            );
            println!("|---|---|---|---|---|---|---|");
            for (name, parent, method, time, ratio, vs_floor) in &self.rows {
                let small = self
                    .rows
                    .iter()
                    .find(|r| r.0 == *name && r.1 == SMALL && r.2 == *method)
                    .map_or(f64::NAN, |r| r.3);
                println!(
                    "| {name} | {parent} | {method} | {:.1} µs | {ratio:.2}× | {vs_floor:.2}× | {:.2}× |",
                    time / 1e3,
                    time / small
                );
            }
        }
    }

    /// The parent every other parent is compared with.
    const SMALL: &str = "0 GiB";

    /// Descriptors the parent holds in the "many descriptors" case, as a
    /// server with open connections would.
    const MANY_FDS: usize = 1000;

    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    }

    fn spawn_benches(c: &mut Criterion, fast: bool, dir: &Path, interleaved: &mut Interleaved) {
        let mut programs = vec![("true", Program::new(Path::new("/bin/true")))];
        if let Some(bin) = build_static(dir) {
            programs.push(("static", Program::new(&bin)));
        }
        let mut sizes = vec![0usize, 1];
        if std::env::var("PROCCTL_BENCH_4G").as_deref() != Ok("0") {
            sizes.push(4);
        }
        let criterion = std::env::var("PROCCTL_BENCH_CRITERION").as_deref() != Ok("0");
        // Every method on every program, in the parent as it is now:
        // `group` names the criterion group's parent part, `parent` the
        // interleaved table's.
        let mut measure_all = |group: &str, parent: &str| {
            for (name, program) in &programs {
                if criterion {
                    let mut g = configure(c, &format!("{name}_{group}"), fast);
                    for (method, f) in METHODS {
                        g.bench_function(method, |b| b.iter(|| f(program)));
                    }
                    g.finish();
                }
                interleaved.measure(name, parent, program, fast);
            }
        };
        for gib in sizes {
            let memory = hold_memory(gib);
            measure_all(&format!("{gib}GiB"), &format!("{gib} GiB"));
            drop(memory);
        }
        // A small parent holding many descriptors (close-on-exec, as
        // Rust opens them): every path but procctl's copies the whole
        // descriptor table into each child.
        let fds: Vec<std::fs::File> = (0..MANY_FDS)
            .map(|_| std::fs::File::open("/dev/null").unwrap())
            .collect();
        measure_all(&format!("{MANY_FDS}fds"), &format!("{MANY_FDS} fds"));
        drop(fds);

        // Piped stdio (`output()`): a small parent, then one holding many
        // descriptors, below which the spawn's own pipe and /dev/null
        // ends land. Interleaved only.
        raise_fd_limit(PIPED_MANY_FDS[1] + 100);
        for (name, program) in &programs {
            let name = format!("{name} piped");
            interleaved.measure_methods(&PIPED_METHODS, &name, SMALL, program, fast);
            for n in PIPED_MANY_FDS {
                let fds: Vec<std::fs::File> = (0..n)
                    .map(|_| std::fs::File::open("/dev/null").unwrap())
                    .collect();
                let parent = format!("{n} fds");
                interleaved.measure_methods(&PIPED_METHODS, &name, &parent, program, fast);
                drop(fds);
            }
        }

        // A second thread, idle: the environment is snapshot per spawn.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let idle = std::thread::spawn(move || rx.recv());
        for (name, program) in &programs {
            interleaved.measure_methods(&THREADED_METHODS, name, "2 threads", program, fast);
        }
        drop(tx);
        let _ = idle.join();
    }

    /// Raises the soft descriptor limit to at least `n` (as far as the
    /// hard limit allows).
    fn raise_fd_limit(n: usize) {
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: rl is a writable rlimit; setrlimit reads it.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 && (rl.rlim_cur as usize) < n {
                rl.rlim_cur = (n as libc::rlim_t).min(rl.rlim_max);
                libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
            }
        }
    }

    fn communicate_procctl(input: &[u8]) {
        let child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.communicate(input).unwrap();
        assert_eq!(out.stdout.len(), input.len());
    }

    fn communicate_std_thread(input: &[u8]) {
        let mut child = StdCommand::new("cat")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let out = std::thread::scope(|s| {
            s.spawn(move || stdin.write_all(input).unwrap());
            child.wait_with_output().unwrap()
        });
        assert_eq!(out.stdout.len(), input.len());
    }

    /// Criterion's two rows, then the same two interleaved (one of each per
    /// round): the median over rounds of procctl / std in the same round.
    fn communicate_benches(c: &mut Criterion, fast: bool) -> f64 {
        let input: Vec<u8> = (0..64u32 << 20).map(|i| (i % 251) as u8).collect();
        if std::env::var("PROCCTL_BENCH_CRITERION").as_deref() != Ok("0") {
            let mut g = configure(c, "communicate_64MiB", fast);
            g.bench_function("procctl", |b| b.iter(|| communicate_procctl(&input)));
            g.bench_function("std_thread", |b| b.iter(|| communicate_std_thread(&input)));
            g.finish();
        }
        let mut ratios: Vec<f64> = (0..if fast { 3 } else { 21 })
            .map(|_| {
                let t = std::time::Instant::now();
                communicate_procctl(&input);
                let p = t.elapsed().as_secs_f64();
                let t = std::time::Instant::now();
                communicate_std_thread(&input);
                p / t.elapsed().as_secs_f64()
            })
            .collect();
        median(&mut ratios)
    }

    /// The median of one benchmark, in nanoseconds, from criterion's files.
    fn median_ns(group: &str, bench: &str) -> Option<f64> {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target"));
        let file = target
            .join("criterion")
            .join(group)
            .join(bench)
            .join("new/estimates.json");
        let json = std::fs::read_to_string(file).ok()?;
        let median = &json[json.find("\"median\"")?..];
        let pe = &median[median.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
        let end = pe.find([',', '}'])?;
        pe[..end].trim().parse().ok()
    }

    fn print_ratios() {
        println!(
            "\nRatios (median times; baseline = vfork_execve of the same program and parent size)\n"
        );
        println!(
            "| program | parent | method | median | vs vfork+execve | vs same method, small parent |"
        );
        println!("|---|---|---|---|---|---|");
        for name in ["true", "static"] {
            for parent in ["0GiB", "1GiB", "4GiB", &format!("{MANY_FDS}fds")] {
                let group = format!("{name}_{parent}");
                let Some(base) = median_ns(&group, "vfork_execve") else {
                    continue;
                };
                for (method, _) in METHODS {
                    let Some(t) = median_ns(&group, method) else {
                        continue;
                    };
                    let small = median_ns(&format!("{name}_0GiB"), method).unwrap_or(f64::NAN);
                    println!(
                        "| {name} | {parent} | {method} | {:.1} µs | {:.2}× | {:.2}× |",
                        t / 1e3,
                        t / base,
                        t / small
                    );
                }
            }
        }
        if let (Some(p), Some(s)) = (
            median_ns("communicate_64MiB", "procctl"),
            median_ns("communicate_64MiB", "std_thread"),
        ) {
            println!(
                "| communicate 64 MiB each way | | procctl vs std + writer thread | {:.1} ms vs {:.1} ms | {:.2}× | |",
                p / 1e6,
                s / 1e6,
                p / s
            );
        }
    }

    pub fn main() {
        let fast = std::env::var("PROCCTL_BENCH_FAST").as_deref() == Ok("1");
        let dir = std::env::temp_dir().join(format!("procctl-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut c = Criterion::default().configure_from_args();
        let mut interleaved = Interleaved { rows: Vec::new() };
        // spawn attributes: PROCCTL_BENCH_ATTRS_ONLY=1 runs only their rows.
        let attrs_only = std::env::var("PROCCTL_BENCH_ATTRS_ONLY").as_deref() == Ok("1");
        let mut programs = vec![("true attrs", Program::new(Path::new("/bin/true")))];
        if let Some(bin) = build_static(&dir) {
            programs.push(("static attrs", Program::new(&bin)));
        }
        // SAFETY: geteuid has no preconditions.
        let methods: &[Method] = if unsafe { libc::geteuid() } == 0 {
            &ATTR_METHODS
        } else {
            // Without root a new UTS namespace is refused.
            &[
                ATTR_METHODS[0],
                ATTR_METHODS[1],
                ATTR_METHODS[2],
                ATTR_METHODS[3],
                ATTR_METHODS[5],
            ]
        };
        for (name, program) in &programs {
            interleaved.measure_methods(methods, name, SMALL, program, fast);
            let vs = format!("{name} vs procctl");
            interleaved.measure_methods(&ATTR_VS_PLAIN, &vs, SMALL, program, fast);
        }
        if attrs_only {
            interleaved.print();
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
        spawn_benches(&mut c, fast, &dir, &mut interleaved);
        let communicate = communicate_benches(&mut c, fast);
        c.final_summary();
        let _ = std::fs::remove_dir_all(&dir);
        print_ratios();
        interleaved.print();
        println!(
            "\n| communicate 64 MiB each way, interleaved | procctl / std + writer thread, median of rounds | {communicate:.2}× |"
        );
    }
}

fn main() {
    #[cfg(target_os = "linux")]
    imp::main();
    #[cfg(not(target_os = "linux"))]
    println!("this benchmark compares Linux spawn paths (clone, vfork): Linux only");
}
