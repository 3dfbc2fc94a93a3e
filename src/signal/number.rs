//! [`Signal`]: a signal number that is known to be valid on this platform.

use std::fmt;
use std::str::FromStr;

/// A signal number, valid on the platform the program runs on.
///
/// The constants carry the C names without `SIG` (`Signal::INT` is
/// `SIGINT`). Real-time signals come from [`Signal::rt`]. A `Signal` can only
/// be built from a number the platform knows, so every API that takes one can
/// pass it to the kernel as is.
///
/// `Display` prints the C name (`"SIGINT"`, `"SIGRTMIN+3"`); `FromStr`
/// accepts exactly those names and the same without the `SIG` prefix
/// (`"INT"`), nothing else: no spaces, no lower case, no bare numbers.
///
/// # Examples
///
/// ```
/// use procctl::Signal;
///
/// assert_eq!(Signal::TERM.to_string(), "SIGTERM");
/// assert_eq!("SIGINT".parse::<Signal>().unwrap(), Signal::INT);
/// assert_eq!("INT".parse::<Signal>().unwrap(), Signal::INT);
/// assert!("SIGINT ".parse::<Signal>().is_err());
/// assert_eq!(Signal::from_raw(Signal::KILL.as_raw()), Some(Signal::KILL));
/// assert_eq!(Signal::from_raw(0), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

macro_rules! signals {
    ($( $(#[$cfg:meta])* $name:ident = $value:expr, $doc:literal; )*) => {
        impl Signal {
            $(
                #[doc = concat!("`SIG", stringify!($name), "`: ", $doc)]
                $(#[$cfg])*
                pub const $name: Signal = Signal($value as i32);
            )*
        }

        /// Every standard (non real-time) signal of this platform, with its
        /// C name.
        const STANDARD: &[(Signal, &str)] = &[
            $( $(#[$cfg])* (Signal::$name, concat!("SIG", stringify!($name))), )*
        ];
    };
}

#[cfg(unix)]
signals! {
    HUP = libc::SIGHUP, "hangup on the controlling terminal, or its controlling process died.";
    INT = libc::SIGINT, "interrupt from the keyboard (Ctrl+C).";
    QUIT = libc::SIGQUIT, "quit from the keyboard (Ctrl+\\\\), with a core dump.";
    ILL = libc::SIGILL, "illegal instruction.";
    TRAP = libc::SIGTRAP, "trace or breakpoint trap.";
    ABRT = libc::SIGABRT, "abort, as raised by `abort()`.";
    BUS = libc::SIGBUS, "bus error: a bad memory access.";
    FPE = libc::SIGFPE, "arithmetic exception.";
    KILL = libc::SIGKILL, "kill; cannot be caught, blocked or ignored.";
    USR1 = libc::SIGUSR1, "user-defined signal 1.";
    SEGV = libc::SIGSEGV, "invalid memory reference.";
    USR2 = libc::SIGUSR2, "user-defined signal 2.";
    PIPE = libc::SIGPIPE, "write to a pipe with no reader.";
    ALRM = libc::SIGALRM, "timer from `alarm()`.";
    TERM = libc::SIGTERM, "polite request to terminate.";
    #[cfg(any(target_os = "linux", target_os = "android"))]
    STKFLT = libc::SIGSTKFLT, "coprocessor stack fault (Linux, unused).";
    CHLD = libc::SIGCHLD, "a child stopped, continued or terminated.";
    CONT = libc::SIGCONT, "continue if stopped.";
    STOP = libc::SIGSTOP, "stop; cannot be caught, blocked or ignored.";
    TSTP = libc::SIGTSTP, "stop typed at the terminal (Ctrl+Z).";
    TTIN = libc::SIGTTIN, "terminal input for a background process.";
    TTOU = libc::SIGTTOU, "terminal output for a background process.";
    URG = libc::SIGURG, "urgent data on a socket.";
    XCPU = libc::SIGXCPU, "CPU time limit exceeded.";
    XFSZ = libc::SIGXFSZ, "file size limit exceeded.";
    VTALRM = libc::SIGVTALRM, "virtual timer expired.";
    PROF = libc::SIGPROF, "profiling timer expired.";
    WINCH = libc::SIGWINCH, "the terminal window changed size.";
    IO = libc::SIGIO, "I/O is possible on a descriptor (`SIGPOLL`).";
    #[cfg(any(target_os = "linux", target_os = "android"))]
    PWR = libc::SIGPWR, "power failure (Linux).";
    SYS = libc::SIGSYS, "bad system call.";
    #[cfg(any(target_vendor = "apple", target_os = "freebsd", target_os = "netbsd", target_os = "openbsd", target_os = "dragonfly"))]
    EMT = libc::SIGEMT, "emulator trap (BSD).";
    #[cfg(any(target_vendor = "apple", target_os = "freebsd", target_os = "netbsd", target_os = "openbsd", target_os = "dragonfly"))]
    INFO = libc::SIGINFO, "status request from the keyboard, Ctrl+T (BSD).";
}

// Windows has no kernel signals; the C runtime knows INT, ILL, FPE, SEGV,
// TERM, BREAK and ABRT. The other names exist so that portable code compiles;
// procctl maps them where it can (KILL terminates a process) and reports
// `Error::Unsupported` elsewhere.
#[cfg(windows)]
signals! {
    HUP = 1, "hangup (no Windows equivalent).";
    INT = 2, "interrupt from the keyboard (Ctrl+C, the console control handler).";
    QUIT = 3, "quit (no Windows equivalent).";
    ILL = 4, "illegal instruction.";
    TRAP = 5, "trace trap (no Windows equivalent).";
    FPE = 8, "arithmetic exception.";
    KILL = 9, "kill: `TerminateProcess` on Windows.";
    USR1 = 10, "user-defined signal 1 (no Windows equivalent).";
    SEGV = 11, "invalid memory reference.";
    USR2 = 12, "user-defined signal 2 (no Windows equivalent).";
    PIPE = 13, "write to a pipe with no reader (no Windows equivalent).";
    ALRM = 14, "timer (no Windows equivalent).";
    TERM = 15, "request to terminate.";
    CHLD = 17, "child changed state (no Windows equivalent).";
    CONT = 18, "continue (no Windows equivalent).";
    STOP = 19, "stop (no Windows equivalent).";
    TSTP = 20, "terminal stop (no Windows equivalent).";
    BREAK = 21, "Ctrl+Break (Windows).";
    ABRT = 22, "abort, as raised by `abort()`.";
    WINCH = 28, "window size change (no Windows equivalent).";
}

impl Signal {
    /// Wraps a raw signal number; `None` unless it is a standard signal or a
    /// real-time signal of this platform.
    ///
    /// ```
    /// use procctl::Signal;
    /// assert_eq!(Signal::from_raw(Signal::INT.as_raw()), Some(Signal::INT));
    /// assert_eq!(Signal::from_raw(0), None);
    /// assert_eq!(Signal::from_raw(-1), None);
    /// assert_eq!(Signal::from_raw(1000), None);
    /// ```
    pub fn from_raw(raw: i32) -> Option<Signal> {
        if STANDARD.iter().any(|(s, _)| s.0 == raw) {
            return Some(Signal(raw));
        }
        let (min, max) = rt_range()?;
        (min..=max).contains(&raw).then_some(Signal(raw))
    }

    /// The raw signal number.
    ///
    /// ```
    /// assert!(procctl::Signal::KILL.as_raw() > 0);
    /// ```
    pub const fn as_raw(self) -> i32 {
        self.0
    }

    /// The `n`-th real-time signal, `SIGRTMIN + n`; `None` past `SIGRTMAX` or
    /// where the platform has no real-time signals (macOS, Windows).
    ///
    /// On Linux `SIGRTMIN` is read at run time: the C library keeps the first
    /// few for itself, so `rt(0)` is the first one a program may use.
    ///
    /// ```
    /// use procctl::Signal;
    /// if let Some(first) = Signal::rt(0) {
    ///     assert_eq!(first.to_string(), "SIGRTMIN");
    ///     assert_eq!(Signal::rt(2).unwrap().to_string(), "SIGRTMIN+2");
    ///     assert!(first.is_realtime());
    /// }
    /// assert_eq!(Signal::rt(-1), None);
    /// assert_eq!(Signal::rt(1000), None);
    /// ```
    pub fn rt(n: i32) -> Option<Signal> {
        let (min, max) = rt_range()?;
        if n < 0 || n > max - min {
            return None;
        }
        Some(Signal(min + n))
    }

    /// Whether this is a real-time signal (queued, never coalesced).
    ///
    /// ```
    /// assert!(!procctl::Signal::USR1.is_realtime());
    /// ```
    pub fn is_realtime(self) -> bool {
        rt_range().is_some_and(|(min, max)| (min..=max).contains(&self.0))
    }

    /// Every signal of this platform: the standard ones in numeric order,
    /// then the real-time ones.
    ///
    /// ```
    /// let all: Vec<_> = procctl::Signal::all().collect();
    /// assert!(all.contains(&procctl::Signal::TERM));
    /// ```
    pub fn all() -> impl Iterator<Item = Signal> {
        let mut standard: Vec<Signal> = STANDARD.iter().map(|(s, _)| *s).collect();
        standard.sort();
        standard.dedup();
        let rt = rt_range().map(|(min, max)| (min..=max).map(Signal));
        standard.into_iter().chain(rt.into_iter().flatten())
    }

    /// The C name of a standard signal (`"SIGTERM"`); `None` for a real-time
    /// signal, whose name depends on `SIGRTMIN` (see `Display`).
    ///
    /// ```
    /// assert_eq!(procctl::Signal::TERM.name(), Some("SIGTERM"));
    /// ```
    pub fn name(self) -> Option<&'static str> {
        STANDARD.iter().find(|(s, _)| *s == self).map(|(_, n)| *n)
    }
}

/// The inclusive range of real-time signal numbers, if any.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn rt_range() -> Option<(i32, i32)> {
    Some((libc::SIGRTMIN(), libc::SIGRTMAX()))
}

#[cfg(target_os = "freebsd")]
fn rt_range() -> Option<(i32, i32)> {
    // FreeBSD: SIGRTMIN 65 .. SIGRTMAX 126.
    Some((65, 126))
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn rt_range() -> Option<(i32, i32)> {
    None
}

/// The suffix std prints after a signal number in an exit status:
/// `" (SIGKILL)"` for a standard signal, nothing for a real-time one.
pub(crate) fn std_suffix(sig: Signal) -> String {
    match sig.name() {
        Some(name) => format!(" ({name})"),
        None => String::new(),
    }
}

impl fmt::Display for Signal {
    /// The C name: `"SIGINT"`, or `"SIGRTMIN+n"` for real-time signals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.name() {
            return f.pad(name);
        }
        match rt_range() {
            Some((min, _)) if self.0 == min => f.pad("SIGRTMIN"),
            Some((min, _)) => f.pad(&format!("SIGRTMIN+{}", self.0 - min)),
            None => write!(f, "signal {}", self.0),
        }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self, self.0)
    }
}

/// The error of parsing a [`Signal`] from a string that names none.
///
/// ```
/// let err = "SIGFOO".parse::<procctl::Signal>().unwrap_err();
/// assert_eq!(err.to_string(), "unknown signal name: \"SIGFOO\"");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseSignalError(String);

impl fmt::Display for ParseSignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown signal name: {:?}", self.0)
    }
}

impl std::error::Error for ParseSignalError {}

impl FromStr for Signal {
    type Err = ParseSignalError;

    /// Parses `"SIGINT"` or `"INT"`, and `"SIGRTMIN"`, `"SIGRTMIN+n"`,
    /// `"SIGRTMAX"`, `"SIGRTMAX-n"` (with or without `SIG`). Exact: no
    /// surrounding spaces, upper case only.
    fn from_str(s: &str) -> Result<Signal, ParseSignalError> {
        let err = || ParseSignalError(s.to_owned());
        let bare = s.strip_prefix("SIG").unwrap_or(s);
        if bare.is_empty() {
            return Err(err());
        }
        if let Some((sig, _)) = STANDARD.iter().find(|(_, n)| &n[3..] == bare) {
            return Ok(*sig);
        }
        let (min, max) = rt_range().ok_or_else(err)?;
        let offset = |rest: &str| -> Option<i32> {
            // Digits only: no sign, no spaces, no leading zeros.
            if rest.is_empty()
                || !rest.bytes().all(|b| b.is_ascii_digit())
                || (rest.len() > 1 && rest.starts_with('0'))
            {
                return None;
            }
            rest.parse().ok()
        };
        let raw = if let Some(rest) = bare.strip_prefix("RTMIN") {
            let n = if rest.is_empty() {
                0
            } else {
                offset(rest.strip_prefix('+').ok_or_else(err)?).ok_or_else(err)?
            };
            min.checked_add(n)
        } else if let Some(rest) = bare.strip_prefix("RTMAX") {
            let n = if rest.is_empty() {
                0
            } else {
                offset(rest.strip_prefix('-').ok_or_else(err)?).ok_or_else(err)?
            };
            max.checked_sub(n)
        } else {
            None
        };
        raw.filter(|r| (min..=max).contains(r))
            .map(Signal)
            .ok_or_else(err)
    }
}

impl TryFrom<i32> for Signal {
    type Error = crate::Error;

    /// [`Signal::from_raw`] with an error that names the number.
    ///
    /// ```
    /// use procctl::Signal;
    /// assert_eq!(Signal::try_from(Signal::TERM.as_raw()).unwrap(), Signal::TERM);
    /// let err = Signal::try_from(1000).unwrap_err();
    /// assert_eq!(err.to_string(), "invalid signal number: 1000");
    /// ```
    fn try_from(raw: i32) -> crate::Result<Signal> {
        Signal::from_raw(raw).ok_or_else(|| crate::Error::InvalidArgument {
            what: "signal number",
            value: raw.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for sig in Signal::all() {
            let text = sig.to_string();
            assert_eq!(text.parse::<Signal>(), Ok(sig), "{text}");
            assert_eq!(Signal::from_raw(sig.as_raw()), Some(sig));
            if let Some(bare) = text.strip_prefix("SIG") {
                assert_eq!(bare.parse::<Signal>(), Ok(sig), "{bare}");
            }
        }
    }

    #[test]
    fn parsing_is_exact() {
        for bad in [
            "",
            "SIG",
            "SIGINT ",
            " SIGINT",
            "sigint",
            "int",
            "2",
            "SIGRTMIN+",
            "SIGRTMIN-1",
            "SIGRTMAX+1",
            "SIGRTMIN+01",
            "SIGRTMIN+999",
            "SIGRTMIN++1",
            "SIGFOO",
        ] {
            assert!(bad.parse::<Signal>().is_err(), "{bad:?} parsed");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_numbers_and_rt() {
        assert_eq!(Signal::KILL.as_raw(), 9);
        assert_eq!(Signal::from_raw(32), None, "glibc reserves 32 and 33");
        let min = libc::SIGRTMIN();
        let max = libc::SIGRTMAX();
        assert_eq!(Signal::rt(0).unwrap().as_raw(), min);
        assert_eq!(Signal::rt(max - min).unwrap().as_raw(), max);
        assert_eq!(Signal::rt(max - min + 1), None);
        assert_eq!("SIGRTMAX".parse::<Signal>().unwrap().as_raw(), max);
        assert_eq!("RTMAX-1".parse::<Signal>().unwrap().as_raw(), max - 1);
        assert_eq!(Signal::from_raw(max + 1), None);
        // 31 standard signals on Linux, numbered 1..=31.
        let standard: Vec<i32> = Signal::all()
            .filter(|s| !s.is_realtime())
            .map(Signal::as_raw)
            .collect();
        assert_eq!(standard, (1..=31).collect::<Vec<_>>());
    }
}
