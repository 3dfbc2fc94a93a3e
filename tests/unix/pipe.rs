//! Pipes: close-on-exec ends, EOF, broken pipes without SIGPIPE deaths,
//! non-blocking mode, capacity, splice. Tests that fork or change the
//! SIGPIPE disposition run in their own forked child (see `forked_runner`).
//! (Unix only; `tests/pipe.rs` includes this file.)

use crate::forked_runner;

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::sync::atomic::Ordering::SeqCst;
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::sync::atomic::{AtomicI32, AtomicUsize};
use std::time::Duration;

use procctl::pipe::{self, NoSigPipe, PipeExt, PipeReader};
use procctl::signal::{self, SigSet};
use procctl::{Error, ExitStatus, Signal, proc};

pub fn main() {
    forked_runner::run(&[
        ("ends_are_close_on_exec", ends_are_close_on_exec),
        (
            "broken_pipe_is_an_error_with_sigpipe_ignored",
            broken_pipe_is_an_error_with_sigpipe_ignored,
        ),
        (
            "broken_pipe_is_an_error_with_sigpipe_at_default",
            broken_pipe_is_an_error_with_sigpipe_at_default,
        ),
        (
            "control_a_plain_write_dies_of_sigpipe_at_default",
            control_a_plain_write_dies_of_sigpipe_at_default,
        ),
        (
            "a_sigpipe_pending_before_the_write_is_left_alone",
            a_sigpipe_pending_before_the_write_is_left_alone,
        ),
        (
            "eof_only_after_every_write_end_is_closed",
            eof_only_after_every_write_end_is_closed,
        ),
        (
            "forked_reader_gets_eof_when_the_parent_closes",
            forked_reader_gets_eof_when_the_parent_closes,
        ),
        ("nonblocking_ends", nonblocking_ends),
        ("capacity", capacity),
        ("splice_and_copy", splice_and_copy),
        ("ends_plug_into_std_stdio", ends_plug_into_std_stdio),
        (
            "copy_and_splice_from_stdin_keep_what_std_buffered",
            copy_and_splice_from_stdin_keep_what_std_buffered,
        ),
        (
            "copy_and_splice_into_stdout_keep_the_order",
            copy_and_splice_into_stdout_keep_the_order,
        ),
        // Exact on Linux only (see procctl::pipe's module docs).
        #[cfg(any(target_os = "linux", target_os = "android"))]
        (
            "only_our_sigpipe_is_taken_whatever_was_pending",
            only_our_sigpipe_is_taken_whatever_was_pending,
        ),
    ]);
}

fn is_cloexec(fd: &impl AsRawFd) -> bool {
    // SAFETY: F_GETFD on a descriptor we own.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    assert!(flags >= 0);
    flags & libc::FD_CLOEXEC != 0
}

/// Whether `reader` has data or EOF within `timeout` (`poll`).
fn readable_within(reader: &PipeReader, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd: reader.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
    assert!(n >= 0, "poll failed");
    n == 1
}

fn ends_are_close_on_exec() {
    let (r, w) = pipe::pipe().unwrap();
    assert!(is_cloexec(&r) && is_cloexec(&w));
    // And an exec'd program does not see them.
    let script = format!(
        "test -e /dev/fd/{} || test -e /dev/fd/{} && echo leaked || echo closed",
        r.as_raw_fd(),
        w.as_raw_fd()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "closed\n");
}

fn broken_pipe_is_an_error_with_sigpipe_ignored() {
    // Rust's runtime ignores SIGPIPE before main: a plain write just fails.
    assert_eq!(
        signal::disposition(Signal::PIPE).unwrap(),
        signal::Disposition::Ignore
    );
    let (r, mut w) = pipe::pipe().unwrap();
    drop(r);
    assert_eq!(w.write(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
    assert_eq!(
        pipe::write_all_nosigpipe(&mut w, b"x").unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );
}

fn broken_pipe_is_an_error_with_sigpipe_at_default() {
    signal::default(Signal::PIPE).unwrap();
    let mask_before = signal::current_mask().unwrap();
    let (r, mut w) = pipe::pipe().unwrap();
    drop(r);

    let err = pipe::write_all_nosigpipe(&mut w, b"lost").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);

    let mut adapter = NoSigPipe::new(w.try_clone().unwrap());
    assert_eq!(
        adapter.write(b"lost").unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );
    assert_eq!(
        writeln!(adapter, "lost").unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );

    // copy and splice go through the same care.
    let (mut src_r, mut src_w) = pipe::pipe().unwrap();
    src_w.write_all(b"data").unwrap();
    drop(src_w);
    let err = pipe::copy(&mut src_r, &mut w).unwrap_err();
    assert_eq!(std::io::Error::from(err).kind(), ErrorKind::BrokenPipe);
    let (src_r, mut src_w) = pipe::pipe().unwrap();
    src_w.write_all(b"data").unwrap();
    let err = pipe::splice(&src_r, &w, 4).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPIPE));

    // We are alive, no SIGPIPE is left pending, the mask is as it was.
    assert!(!signal::pending().unwrap().contains(Signal::PIPE));
    assert_eq!(signal::current_mask().unwrap(), mask_before);
    assert_eq!(
        signal::disposition(Signal::PIPE).unwrap(),
        signal::Disposition::Default
    );
}

fn control_a_plain_write_dies_of_sigpipe_at_default() {
    // Shows that the test above could fail: the same write without
    // procctl's care kills the process.
    let child = proc::fork(|| {
        signal::default(Signal::PIPE).unwrap();
        let (r, mut w) = pipe::pipe().unwrap();
        drop(r);
        let _ = w.write(b"x");
        0
    })
    .unwrap();
    let status = child
        .wait_timeout(Duration::from_secs(10))
        .unwrap()
        .expect("child ended");
    assert_eq!(status.signal(), Some(Signal::PIPE), "{status}");
}

fn a_sigpipe_pending_before_the_write_is_left_alone() {
    let set = SigSet::from(Signal::PIPE);
    let _guard = signal::block(&set).unwrap();
    signal::raise(Signal::PIPE).unwrap(); // someone else's, pending
    let (r, mut w) = pipe::pipe().unwrap();
    drop(r);
    assert_eq!(
        pipe::write_all_nosigpipe(&mut w, b"x").unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );
    assert!(
        signal::pending().unwrap().contains(Signal::PIPE),
        "not ours to take"
    );
    assert!(
        signal::current_mask().unwrap().contains(Signal::PIPE),
        "still blocked"
    );
    assert_eq!(
        signal::wait_for(&set, Some(Duration::ZERO)).unwrap(),
        Some(Signal::PIPE)
    );
}

fn eof_only_after_every_write_end_is_closed() {
    let (r, w) = pipe::pipe().unwrap();
    let w2 = w.try_clone().unwrap();
    let (status_r, status_w) = pipe::pipe().unwrap();
    // After fork each process has its own copy of these; each side takes
    // out and closes the ends it does not use.
    let (mut r, mut w, mut w2) = (Some(r), Some(w), Some(w2));
    let (mut status_r, mut status_w) = (Some(status_r), Some(status_w));

    // The child reads to EOF and reports what it read. It closes its copies
    // of both write ends first: a leaked copy would keep it from ever seeing
    // EOF (and the parent's deadline below would fail the test).
    let child = proc::fork(|| {
        drop((w.take(), w2.take(), status_r.take()));
        let mut got = Vec::new();
        r.take().unwrap().read_to_end(&mut got).unwrap();
        status_w.take().unwrap().write_all(&got).unwrap();
        0
    })
    .unwrap();
    drop((r.take(), status_w.take()));
    let status_r = status_r.take().unwrap();

    let mut w = w.take().unwrap();
    w.write_all(b"a").unwrap();
    drop(w);
    assert!(
        !readable_within(&status_r, Duration::from_millis(200)),
        "EOF while a write end (w2) was still open"
    );
    let mut w2 = w2.take().unwrap();
    w2.write_all(b"b").unwrap();
    drop(w2);
    assert!(
        readable_within(&status_r, Duration::from_secs(10)),
        "no EOF after the last writer closed"
    );
    let mut got = String::new();
    (&status_r).read_to_string(&mut got).unwrap();
    assert_eq!(got, "ab");
    assert_eq!(
        child.wait_timeout(Duration::from_secs(10)).unwrap(),
        Some(ExitStatus::Exited(0))
    );
}

fn forked_reader_gets_eof_when_the_parent_closes() {
    // The pipe_ipc scenario: parent writes, child reads, each closes the end
    // it does not use.
    let (r, w) = pipe::pipe().unwrap();
    let (mut r, mut w) = (Some(r), Some(w));
    let child = proc::fork(|| {
        drop(w.take());
        let mut text = String::new();
        r.take().unwrap().read_to_string(&mut text).unwrap();
        (text == "line 1\nline 2\n") as i32 * 42
    })
    .unwrap();
    drop(r.take());
    let mut w = w.take().unwrap();
    writeln!(w, "line 1").unwrap();
    writeln!(w, "line 2").unwrap();
    drop(w);
    let status = child.wait_timeout(Duration::from_secs(10)).unwrap();
    if status.is_none() {
        let _ = child.kill();
        panic!("the child never saw EOF: a write end leaked");
    }
    assert_eq!(status, Some(ExitStatus::Exited(42)));
}

fn nonblocking_ends() {
    let (mut r, mut w) = pipe::pipe().unwrap();
    r.set_nonblocking(true).unwrap();
    assert_eq!(
        r.read(&mut [0; 8]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    w.set_nonblocking(true).unwrap();
    let chunk = [7u8; 4096];
    let mut written = 0;
    loop {
        match w.write(&chunk) {
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
        assert!(written <= 16 << 20, "never filled");
    }
    assert!(written >= 4096);
    r.set_nonblocking(false).unwrap();
    let mut buf = vec![0; written];
    r.read_exact(&mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 7));
}

fn capacity() {
    let (r, mut w) = pipe::pipe().unwrap();
    if !cfg!(any(target_os = "linux", target_os = "android")) {
        assert!(matches!(r.capacity(), Err(Error::Unsupported { .. })));
        assert!(matches!(
            w.set_capacity(1 << 20),
            Err(Error::Unsupported { .. })
        ));
        return;
    }
    assert_eq!(r.capacity().unwrap(), 64 << 10, "Linux default");
    assert_eq!(w.set_capacity(1 << 20).unwrap(), 1 << 20);
    assert_eq!(
        r.capacity().unwrap(),
        1 << 20,
        "one pipe, seen from both ends"
    );
    assert_eq!(
        w.set_capacity(5000).unwrap(),
        8192,
        "rounded up to a power of two pages"
    );
    // Shrinking below what the pipe holds is EBUSY.
    w.write_all(&[0; 8192]).unwrap();
    let err = w.set_capacity(4096).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBUSY), "{err:?}");
    // More than pipe-max-size needs privilege.
    let max: usize = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let over = w.set_capacity(max * 2);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            matches!(over, Err(Error::PermissionDenied { .. })),
            "{over:?}"
        );
    }
    // Child pipes of std have it too.
    let mut child = std::process::Command::new("cat")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    assert_eq!(stdin.capacity().unwrap(), 64 << 10);
    drop(stdin);
    child.wait().unwrap();
}

fn splice_and_copy() {
    let dir = std::env::temp_dir().join(format!("procctl-pipe-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let src = dir.join("src");
    std::fs::write(&src, &data).unwrap();

    // file -> pipe (a reader thread drains it) -> file.
    let (mut r, mut w) = pipe::pipe().unwrap();
    let dst = dir.join("dst");
    let mut out = std::fs::File::create(&dst).unwrap();
    let drain = std::thread::spawn(move || pipe::copy(&mut r, &mut out).unwrap());
    let mut input = std::fs::File::open(&src).unwrap();
    assert_eq!(pipe::copy(&mut input, &mut w).unwrap(), data.len() as u64);
    drop(w);
    assert_eq!(drain.join().unwrap(), data.len() as u64);
    assert_eq!(std::fs::read(&dst).unwrap(), data);

    // Neither end a pipe: copy falls back to read and write; splice says
    // EINVAL.
    let mut input = std::fs::File::open(&src).unwrap();
    let dst2 = dir.join("dst2");
    let mut out = std::fs::File::create(&dst2).unwrap();
    if cfg!(target_os = "linux") {
        let err = pipe::splice(input.as_fd(), out.as_fd(), 10).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err:?}");
    }
    assert_eq!(pipe::copy(&mut input, &mut out).unwrap(), data.len() as u64);
    assert_eq!(std::fs::read(&dst2).unwrap(), data);

    // pipe -> pipe, one call.
    let (r1, mut w1) = pipe::pipe().unwrap();
    let (mut r2, w2) = pipe::pipe().unwrap();
    w1.write_all(b"hello").unwrap();
    assert_eq!(pipe::splice(&r1, &w2, 100).unwrap(), 5);
    drop(w1);
    assert_eq!(pipe::splice(&r1, &w2, 100).unwrap(), 0, "EOF");
    drop(w2);
    let mut text = String::new();
    r2.read_to_string(&mut text).unwrap();
    assert_eq!(text, "hello");

    std::fs::remove_dir_all(&dir).unwrap();
}

fn ends_plug_into_std_stdio() {
    let (mut r, w) = pipe::pipe().unwrap();
    let mut child = std::process::Command::new("sh")
        .args(["-c", "echo from the child"])
        .stdout(w)
        .spawn()
        .unwrap();
    // The Command (holding our write end) is gone: EOF once the child exits.
    let mut text = String::new();
    r.read_to_string(&mut text).unwrap();
    assert_eq!(text, "from the child\n");
    assert!(child.wait().unwrap().success());
}

/// `dup2(fd, target)`, asserting success.
fn dup2(fd: &impl AsRawFd, target: i32) {
    // SAFETY: dup2 on a descriptor we own onto a standard descriptor
    // number; std's handle for `target` keeps using the number.
    assert_eq!(unsafe { libc::dup2(fd.as_raw_fd(), target) }, target);
}

/// Makes fd 0 a pipe holding `text` (its writer closed, so EOF follows).
fn stdin_holding(text: &str) {
    let (r, mut w) = pipe::pipe().unwrap();
    w.write_all(text.as_bytes()).unwrap();
    drop(w);
    dup2(&r, 0);
}

/// Everything `reader` gives until EOF, as text.
fn read_all(mut reader: PipeReader) -> String {
    let mut text = String::new();
    reader.read_to_string(&mut text).unwrap();
    text
}

/// Issue 14, item 15: std's `Stdin` reads ahead into its own buffer; copy
/// and splice must hand those bytes out first instead of splicing the
/// descriptor past them.
fn copy_and_splice_from_stdin_keep_what_std_buffered() {
    use std::io::BufRead;

    // Stdin, by copy.
    stdin_holding("one\ntwo\nthree\n");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    assert_eq!(line, "one\n");
    let (r, mut w) = pipe::pipe().unwrap();
    let copied = pipe::copy(&mut std::io::stdin(), &mut w).unwrap();
    drop(w);
    assert_eq!((copied, read_all(r).as_str()), (10, "two\nthree\n"));

    // StdinLock, by copy.
    stdin_holding("a\nb\nc\n");
    let mut lock = std::io::stdin().lock();
    line.clear();
    lock.read_line(&mut line).unwrap();
    assert_eq!(line, "a\n");
    let (r, mut w) = pipe::pipe().unwrap();
    assert_eq!(pipe::copy(&mut lock, &mut w).unwrap(), 4);
    drop((w, lock));
    assert_eq!(read_all(r), "b\nc\n");

    // Stdin, by splice: the buffered bytes come first, then the
    // descriptor's.
    stdin_holding("x\ny\n");
    line.clear();
    std::io::stdin().read_line(&mut line).unwrap();
    assert_eq!(line, "x\n");
    let (r, w) = pipe::pipe().unwrap();
    assert_eq!(pipe::splice(std::io::stdin(), &w, 100).unwrap(), 2);
    assert_eq!(pipe::splice(std::io::stdin(), &w, 100).unwrap(), 0, "EOF");
    drop(w);
    assert_eq!(read_all(r), "y\n");

    // A BufReader, by splice with less than it holds, then by copy.
    let (r, mut w) = pipe::pipe().unwrap();
    w.write_all(b"head\nbuffered tail\n").unwrap();
    drop(w);
    let mut reader = std::io::BufReader::new(r);
    line.clear();
    reader.read_line(&mut line).unwrap();
    let (out_r, out_w) = pipe::pipe().unwrap();
    assert_eq!(pipe::splice(&mut reader, &out_w, 9).unwrap(), 9);
    let mut out_w = out_w;
    assert_eq!(pipe::copy(&mut reader, &mut out_w).unwrap(), 5);
    drop(out_w);
    assert_eq!(read_all(out_r), "buffered tail\n");
}

/// Issue 14, item 15: what was printed before a copy into `Stdout` (and
/// sits in its line buffer) comes out before the copied bytes.
fn copy_and_splice_into_stdout_keep_the_order() {
    let (out_r, out_w) = pipe::pipe().unwrap();
    dup2(&out_w, 1);
    drop(out_w);

    let (body_r, mut body_w) = pipe::pipe().unwrap();
    body_w.write_all(b"BODY\n").unwrap();
    drop(body_w);
    print!("HEADER-");
    let mut body_r = body_r;
    assert_eq!(pipe::copy(&mut body_r, &mut std::io::stdout()).unwrap(), 5);

    let (body_r, mut body_w) = pipe::pipe().unwrap();
    body_w.write_all(b"SPLICED\n").unwrap();
    print!("H2-");
    assert_eq!(pipe::splice(&body_r, std::io::stdout(), 100).unwrap(), 8);
    // A locked Stdout, with a partial line in its buffer.
    let (body_r, mut body_w) = pipe::pipe().unwrap();
    body_w.write_all(b"LOCKED\n").unwrap();
    drop(body_w);
    let mut lock = std::io::stdout().lock();
    write!(lock, "H3-").unwrap();
    assert_eq!(pipe::copy(&mut &body_r, &mut lock).unwrap(), 7);
    writeln!(lock, "TAIL").unwrap();
    drop(lock);
    std::io::stdout().flush().unwrap();

    // Let go of the pipe on fd 1, so the reader sees EOF.
    let null = std::fs::File::open("/dev/null").unwrap();
    dup2(&null, 1);
    assert_eq!(
        read_all(out_r),
        "HEADER-BODY\nH2-SPLICED\nH3-LOCKED\nTAIL\n"
    );
}

#[cfg(any(target_os = "linux", target_os = "android"))]
static SIGPIPE_RUNS: AtomicUsize = AtomicUsize::new(0);
#[cfg(any(target_os = "linux", target_os = "android"))]
/// The `si_code` of the first runs of [`count_sigpipe`].
static SIGPIPE_CODES: [AtomicI32; 4] = [const { AtomicI32::new(i32::MIN) }; 4];

#[cfg(any(target_os = "linux", target_os = "android"))]
extern "C" fn count_sigpipe(_sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let n = SIGPIPE_RUNS.fetch_add(1, SeqCst);
    if let Some(slot) = SIGPIPE_CODES.get(n) {
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
        slot.store(unsafe { (*info).si_code }, SeqCst);
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
/// The runs of [`count_sigpipe`] since the last call, with their `si_code`s.
fn take_sigpipe_runs() -> Vec<i32> {
    let n = SIGPIPE_RUNS.swap(0, SeqCst);
    (0..n.min(4))
        .map(|i| SIGPIPE_CODES[i].swap(i32::MIN, SeqCst))
        .collect()
}

#[cfg(any(target_os = "linux", target_os = "android"))]
/// A writer whose reader is gone.
fn broken_writer() -> std::io::PipeWriter {
    let (r, w) = pipe::pipe().unwrap();
    drop(r);
    w
}

#[cfg(any(target_os = "linux", target_os = "android"))]
/// Each SIGPIPE-free write path, made to fail with `EPIPE` once.
fn epipe_paths() -> Vec<(&'static str, fn())> {
    fn nosigpipe_write_all() {
        let err = pipe::write_all_nosigpipe(&mut broken_writer(), b"x").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    }
    fn nosigpipe_adapter() {
        let mut w = NoSigPipe::new(broken_writer());
        assert_eq!(w.write(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
    }
    fn copy() {
        let (mut r, mut w) = pipe::pipe().unwrap();
        w.write_all(b"data").unwrap();
        drop(w);
        let err = pipe::copy(&mut r, &mut broken_writer()).unwrap_err();
        assert_eq!(std::io::Error::from(err).kind(), ErrorKind::BrokenPipe);
    }
    fn splice() {
        let (r, mut w) = pipe::pipe().unwrap();
        w.write_all(b"data").unwrap();
        let err = pipe::splice(&r, broken_writer(), 4).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPIPE));
    }
    fn popen_write() {
        let mut p = proc::popen("exec 0<&-", proc::PopenMode::Write).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match p.write_all(&[0; 4096]) {
                Ok(_) => assert!(std::time::Instant::now() < deadline, "never broke"),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::BrokenPipe);
                    break;
                }
            }
        }
        p.close().unwrap();
    }
    fn communicate() {
        let child = proc::Command::new("sh")
            .args(["-c", "exec 0<&-"])
            .stdin(proc::Stdio::piped())
            .spawn()
            .unwrap();
        // Far more than a pipe holds: the writes must meet the closed end.
        let out = child.communicate(&vec![0; 4 << 20]).unwrap();
        assert!(out.status.success());
    }
    vec![
        ("write_all_nosigpipe", nosigpipe_write_all),
        ("NoSigPipe", nosigpipe_adapter),
        ("copy", copy),
        ("splice", splice),
        ("Popen::write", popen_write),
        ("communicate", communicate),
    ]
}

#[cfg(any(target_os = "linux", target_os = "android"))]
/// Issue 14, item 16: a write's `SIGPIPE` goes to the writing thread; one
/// sent to the process before (or to the thread) belongs to the caller.
/// With SIGPIPE blocked by the caller, every SIGPIPE-free path takes back
/// its own and only its own: after unblocking, a counting handler runs
/// once per SIGPIPE the caller had pending, with that signal's `si_code`.
fn only_our_sigpipe_is_taken_whatever_was_pending() {
    // SAFETY: all-zero is a valid sigaction; the handler only touches
    // atomics.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = count_sigpipe
            as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
            as usize;
        act.sa_flags = libc::SA_SIGINFO;
        assert_eq!(
            libc::sigaction(libc::SIGPIPE, &act, std::ptr::null_mut()),
            0
        );
    }
    let pipe_set = SigSet::from(Signal::PIPE);
    let to_process = || signal::kill(procctl::Pid::current(), Signal::PIPE).unwrap();
    let to_thread = || signal::raise(Signal::PIPE).unwrap();
    for (path, run) in epipe_paths() {
        for (pending, send, expected) in [
            ("none", &(|| {}) as &dyn Fn(), vec![]),
            ("process", &to_process, vec![libc::SI_USER]),
            ("thread", &to_thread, vec![libc::SI_TKILL]),
            (
                "thread and process",
                &|| {
                    to_thread();
                    to_process();
                },
                vec![libc::SI_TKILL, libc::SI_USER],
            ),
        ] {
            take_sigpipe_runs();
            let guard = signal::block(&pipe_set).unwrap();
            send();
            run();
            assert!(
                signal::current_mask().unwrap().contains(Signal::PIPE),
                "{path}: still blocked"
            );
            assert!(take_sigpipe_runs().is_empty(), "{path}: ran while blocked");
            drop(guard);
            assert_eq!(
                take_sigpipe_runs(),
                expected,
                "{path}, with a SIGPIPE pending for: {pending}"
            );
        }
    }
}
