//! [`Pid`]: a process id that is never zero or negative.

use std::fmt;
use std::num::NonZeroI32;

/// A process id: always positive, so `Option<Pid>` costs no space.
///
/// `0` and negative numbers are not process ids (they name process groups or
/// "any child" in `kill` and `waitpid`); procctl expresses those meanings with
/// types such as `WaitTarget` instead.
///
/// # Examples
///
/// ```
/// use procctl::Pid;
///
/// let me = Pid::current();
/// assert!(me.as_raw() > 0);
/// assert_eq!(Pid::from_raw(me.as_raw()), Some(me));
/// assert_eq!(Pid::from_raw(0), None);
/// assert_eq!(Pid::from_raw(-1), None);
/// assert_eq!(std::mem::size_of::<Option<Pid>>(), 4);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid(NonZeroI32);

impl Pid {
    /// Wraps a raw process id; `None` for values `<= 0`.
    ///
    /// ```
    /// assert_eq!(procctl::Pid::from_raw(42).map(|p| p.as_raw()), Some(42));
    /// assert!(procctl::Pid::from_raw(-5).is_none());
    /// ```
    pub const fn from_raw(raw: i32) -> Option<Pid> {
        if raw <= 0 {
            return None;
        }
        match NonZeroI32::new(raw) {
            Some(n) => Some(Pid(n)),
            None => None,
        }
    }

    /// The raw process id, always `> 0`.
    ///
    /// ```
    /// assert!(procctl::Pid::current().as_raw() > 0);
    /// ```
    pub const fn as_raw(self) -> i32 {
        self.0.get()
    }

    /// `getpid()`: the id of the calling process.
    ///
    /// ```
    /// assert_eq!(procctl::Pid::current().as_raw() as u32, std::process::id());
    /// ```
    #[doc(alias = "getpid")]
    pub fn current() -> Pid {
        Pid::from_raw(std::process::id() as i32).expect("the kernel returned a non-positive pid")
    }

    /// `getppid()`: the id of the parent process.
    ///
    /// # Platform notes
    ///
    /// On Unix, a process whose parent is outside its pid namespace sees 1.
    ///
    /// On Windows: the id of the process that created this one, as
    /// Python's `os.getppid()` reports it. Windows records it at creation
    /// and never updates it, so after the parent has exited the id may
    /// belong to an unrelated process. Where Windows knows no creator, the
    /// current process id.
    ///
    /// ```
    /// let parent = procctl::Pid::parent();
    /// # #[cfg(unix)]
    /// assert_ne!(parent, procctl::Pid::current());
    /// ```
    #[doc(alias = "getppid")]
    pub fn parent() -> Pid {
        crate::sys::parent_pid()
    }
}

impl fmt::Display for Pid {
    /// Decimal, like `getpid()` printed with `%d`.
    ///
    /// ```
    /// assert_eq!(procctl::Pid::from_raw(42).unwrap().to_string(), "42");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<Pid> for u32 {
    fn from(pid: Pid) -> u32 {
        pid.as_raw() as u32
    }
}

impl From<Pid> for i32 {
    fn from(pid: Pid) -> i32 {
        pid.as_raw()
    }
}

#[cfg(unix)]
impl From<Pid> for nix::unistd::Pid {
    fn from(pid: Pid) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(pid.as_raw())
    }
}

#[cfg(unix)]
impl TryFrom<nix::unistd::Pid> for Pid {
    type Error = crate::Error;

    /// Fails with [`Error::InvalidArgument`](crate::Error::InvalidArgument)
    /// for nix's `0` and negative pids, which are not process ids.
    fn try_from(pid: nix::unistd::Pid) -> crate::Result<Pid> {
        Pid::from_raw(pid.as_raw()).ok_or_else(|| crate::Error::InvalidArgument {
            what: "pid",
            value: pid.as_raw().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_round_trip_and_niche() {
        for raw in [1, 2, 42, i32::MAX] {
            assert_eq!(Pid::from_raw(raw).unwrap().as_raw(), raw);
        }
        for raw in [0, -1, i32::MIN] {
            assert!(Pid::from_raw(raw).is_none());
        }
        assert_eq!(std::mem::size_of::<Option<Pid>>(), 4);
    }

    #[test]
    fn conversions() {
        let p = Pid::from_raw(1234).unwrap();
        assert_eq!(u32::from(p), 1234);
        assert_eq!(p.to_string(), "1234");
        #[cfg(unix)]
        {
            let n: nix::unistd::Pid = p.into();
            assert_eq!(n.as_raw(), 1234);
            assert_eq!(Pid::try_from(n).unwrap(), p);
            assert!(Pid::try_from(nix::unistd::Pid::from_raw(0)).is_err());
        }
    }
}
