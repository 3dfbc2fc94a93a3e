//! The state one child shares between its [`Child`](crate::proc::Child)
//! handle and the reap registry: its pid, its pidfd, and the slot its end
//! is written to, once.
//!
//! The handoff protocol, with no system call of its own:
//!
//! - the slot is written at most once, by whoever reaps the child, and
//!   only while holding the reap lock, in the same critical section that
//!   removes the child's registry entry (so no other reaping path can
//!   ever see the entry of a child that is already reaped, and give it a
//!   status that belongs to a process that took the freed pid);
//! - the first write wins; the slot never changes afterwards;
//! - readers need no lock: a written slot is final.

use std::os::fd::OwnedFd;
use std::sync::OnceLock;

use crate::sys::wait::Rusage;
use crate::{ExitStatus, Pid};

/// How a child's story ended, as far as procctl knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// Reaped by procctl (or by std before the handle took over): its
    /// status and resource usage.
    Reaped(ExitStatus, Rusage),
    /// Reaped by code outside procctl: the status is lost.
    Lost,
}

/// The part of a child's state that procctl's reaping paths share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) pid: Pid,
    /// Linux: the child's pidfd, opened while it could not have been
    /// reaped yet; every reap of this child goes through it.
    pub(crate) pidfd: Option<OwnedFd>,
    end: OnceLock<End>,
}

impl Shared {
    /// A running child.
    pub(crate) fn new(pid: Pid, pidfd: Option<OwnedFd>) -> Shared {
        Shared {
            pid,
            pidfd,
            end: OnceLock::new(),
        }
    }

    /// A child that was reaped before procctl got it (by std): it is not
    /// registered, has no pidfd, and is never signalled.
    pub(crate) fn ended(pid: Pid, end: End) -> Shared {
        Shared {
            pid,
            pidfd: None,
            end: OnceLock::from(end),
        }
    }

    /// How it ended; `None` while procctl has not reaped it.
    pub(crate) fn end(&self) -> Option<End> {
        self.end.get().copied()
    }

    /// The status, if procctl reaped it.
    pub(crate) fn status(&self) -> Option<ExitStatus> {
        match self.end() {
            Some(End::Reaped(status, _)) => Some(status),
            _ => None,
        }
    }

    /// The resource usage, if procctl reaped it.
    pub(crate) fn usage(&self) -> Option<Rusage> {
        match self.end() {
            Some(End::Reaped(_, ru)) => Some(ru),
            _ => None,
        }
    }

    /// Records the end (the first one written wins). Called by the
    /// registry only, under the reap lock, by the path that reaped the
    /// child.
    pub(super) fn finish(&self, end: End) {
        let _ = self.end.set(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_end_wins_and_never_changes() {
        let pid = Pid::from_raw(4242).unwrap();
        let shared = Shared::new(pid, None);
        assert_eq!(shared.end(), None);
        assert_eq!(shared.status(), None);
        let ru = Rusage::default();
        shared.finish(End::Reaped(ExitStatus::Exited(3), ru));
        shared.finish(End::Reaped(ExitStatus::Exited(77), ru));
        shared.finish(End::Lost);
        assert_eq!(shared.status(), Some(ExitStatus::Exited(3)));
        assert_eq!(shared.usage(), Some(ru));

        let lost = Shared::new(pid, None);
        lost.finish(End::Lost);
        lost.finish(End::Reaped(ExitStatus::Exited(0), ru));
        assert_eq!((lost.end(), lost.status()), (Some(End::Lost), None));

        let ended = Shared::ended(pid, End::Reaped(ExitStatus::Exited(1), ru));
        assert_eq!(ended.status(), Some(ExitStatus::Exited(1)));
        assert!(ended.pidfd.is_none());
    }
}
