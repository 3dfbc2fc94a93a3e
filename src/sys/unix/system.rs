//! The signal bookkeeping of POSIX `system()`: `SIGINT` and `SIGQUIT`
//! ignored in the caller, `SIGCHLD` blocked in the calling thread, all
//! undone afterwards (`SIGCHLD` unblocked only if `system` blocked it, so
//! that mask changes made meanwhile stay); and what the child should get
//! instead.

use std::io;
use std::sync::Mutex;

use super::{SIG_MAX, sigset};

/// The process-wide part, shared by concurrent `system` calls: the first
/// one in saves and changes the dispositions, the last one out restores
/// them (as glibc does), so overlapping calls never restore "ignored".
struct Saved {
    users: usize,
    int: libc::sigaction,
    quit: libc::sigaction,
    /// `SIGCHLD`'s disposition if it had to be changed (it was ignored or
    /// had `SA_NOCLDWAIT`, which would make the kernel discard the status).
    chld: Option<libc::sigaction>,
}

// SAFETY: libc::sigaction is plain data (numbers, a mask, function
// pointers); it is only read or written under the mutex.
unsafe impl Send for Saved {}

static SAVED: Mutex<Option<Saved>> = Mutex::new(None);

/// What the child of `system` gets: the dispositions and mask the caller
/// had before `system` changed them.
pub(crate) struct Original {
    /// `SIGINT` was ignored (else the child gets the default).
    pub(crate) int_ignored: bool,
    /// `SIGQUIT` was ignored.
    pub(crate) quit_ignored: bool,
    /// `SIGCHLD` was ignored.
    pub(crate) chld_ignored: bool,
    /// The calling thread's blocked signals.
    pub(crate) mask: Vec<i32>,
}

/// While alive, the caller is in `system`; dropping it unblocks `SIGCHLD`
/// if `system` blocked it and, for the last caller out, restores the
/// dispositions.
pub(crate) struct Guard {
    /// Dropped after the mask is dealt with.
    _user: User,
    /// `SIGCHLD` was not blocked before: unblock it (and only it) on drop,
    /// so that mask changes made meanwhile by others stay.
    unblock_chld: bool,
}

/// One caller counted in [`SAVED`]: the last one out restores the
/// dispositions. Made as soon as the count is raised, so that every error
/// path after it undoes the count.
struct User;

fn query(sig: i32) -> io::Result<libc::sigaction> {
    // SAFETY: a zeroed sigaction is a valid out-parameter.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: querying only.
    if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(old)
}

fn install(sig: i32, sa: &libc::sigaction) -> io::Result<()> {
    // SAFETY: sa is a valid sigaction (saved earlier or built here).
    if unsafe { libc::sigaction(sig, sa, std::ptr::null_mut()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn with_handler(handler: libc::sighandler_t) -> libc::sigaction {
    // SAFETY: a zeroed sigaction is valid (empty mask, no flags).
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = handler;
    sa
}

fn ignored(sa: &libc::sigaction) -> bool {
    sa.sa_sigaction == libc::SIG_IGN
}

/// Enters `system`: see the module docs. Returns the guard and what the
/// child must get.
pub(crate) fn enter() -> io::Result<(Guard, Original)> {
    enter_with(|block, old| {
        // SAFETY: valid sigset_t pointers; only this thread's mask changes.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, block, old) }
    })
}

/// [`enter`] with the mask call as a seam, so a test can make it fail.
fn enter_with(
    sigmask: impl FnOnce(&libc::sigset_t, &mut libc::sigset_t) -> libc::c_int,
) -> io::Result<(Guard, Original)> {
    let mut saved = SAVED.lock().unwrap_or_else(|p| p.into_inner());
    if saved.is_none() {
        let int = query(libc::SIGINT)?;
        let quit = query(libc::SIGQUIT)?;
        let chld = query(libc::SIGCHLD)?;
        let auto_reap = ignored(&chld) || chld.sa_flags & libc::SA_NOCLDWAIT != 0;
        let ign = with_handler(libc::SIG_IGN);
        install(libc::SIGINT, &ign)?;
        if let Err(e) = install(libc::SIGQUIT, &ign) {
            let _ = install(libc::SIGINT, &int);
            return Err(e);
        }
        if auto_reap {
            if let Err(e) = install(libc::SIGCHLD, &with_handler(libc::SIG_DFL)) {
                let _ = install(libc::SIGINT, &int);
                let _ = install(libc::SIGQUIT, &quit);
                return Err(e);
            }
        }
        *saved = Some(Saved {
            users: 0,
            int,
            quit,
            chld: auto_reap.then_some(chld),
        });
    }
    let state = saved.as_mut().expect("set above");
    state.users += 1;
    let user = User;
    let original_int = state.int;
    let original_quit = state.quit;
    let chld_ignored = state.chld.as_ref().is_some_and(ignored);
    drop(saved);

    let block = sigset(&[libc::SIGCHLD]);
    let mut old_mask = sigset(&[]);
    let err = sigmask(&block, &mut old_mask);
    if err != 0 {
        // The mask was not changed, and `old_mask` is not the thread's:
        // nothing to restore there. `user` undoes the dispositions.
        return Err(io::Error::from_raw_os_error(err));
    }
    // SAFETY: old_mask is an initialised sigset_t.
    let chld_was_blocked = unsafe { libc::sigismember(&old_mask, libc::SIGCHLD) } == 1;
    let mask = (1..=SIG_MAX)
        // SAFETY: as above, with a signal number in range.
        .filter(|&sig| unsafe { libc::sigismember(&old_mask, sig) } == 1)
        .collect();
    let guard = Guard {
        _user: user,
        unblock_chld: !chld_was_blocked,
    };
    Ok((
        guard,
        Original {
            int_ignored: ignored(&original_int),
            quit_ignored: ignored(&original_quit),
            chld_ignored,
            mask,
        },
    ))
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.unblock_chld {
            let chld = sigset(&[libc::SIGCHLD]);
            // SAFETY: a valid set; only this thread's mask changes, and
            // only the bit that `enter` set.
            unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &chld, std::ptr::null_mut()) };
        }
        // Then `_user` drops: the dispositions, for the last one out.
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let mut saved = SAVED.lock().unwrap_or_else(|p| p.into_inner());
        let last = match saved.as_mut() {
            Some(s) => {
                s.users -= 1;
                s.users == 0
            }
            None => false,
        };
        if last {
            let s = saved.take().expect("checked above");
            let _ = install(libc::SIGINT, &s.int);
            let _ = install(libc::SIGQUIT, &s.quit);
            if let Some(chld) = s.chld {
                let _ = install(libc::SIGCHLD, &chld);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread_mask() -> libc::sigset_t {
        let mut mask = sigset(&[]);
        // SAFETY: a null new set only reads this thread's mask.
        let err = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask) };
        assert_eq!(err, 0);
        mask
    }

    fn member(mask: &libc::sigset_t, sig: i32) -> bool {
        // SAFETY: an initialised set and a valid signal number.
        unsafe { libc::sigismember(mask, sig) == 1 }
    }

    /// Issue 14, item 17: when `pthread_sigmask` fails, `enter` leaves the
    /// thread's mask alone (it used to restore an empty "old" mask,
    /// unblocking every signal) and undoes its disposition changes.
    #[test]
    fn a_failed_mask_change_leaves_the_mask_and_dispositions_alone() {
        let usr1 = sigset(&[libc::SIGUSR1]);
        // SAFETY: valid sets; only this test thread's mask changes.
        let err = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &usr1, std::ptr::null_mut()) };
        assert_eq!(err, 0);
        let int_before = query(libc::SIGINT).unwrap().sa_sigaction;

        let failed = enter_with(|_, _| libc::EINVAL);

        assert_eq!(
            failed.err().and_then(|e| e.raw_os_error()),
            Some(libc::EINVAL)
        );
        let mask = thread_mask();
        assert!(member(&mask, libc::SIGUSR1), "USR1 was unblocked");
        assert!(!member(&mask, libc::SIGCHLD));
        // No other unit test enters `system`: ours was the only caller,
        // so the dispositions are back.
        assert!(SAVED.lock().unwrap().is_none(), "a caller left counted");
        assert_eq!(query(libc::SIGINT).unwrap().sa_sigaction, int_before);
        // SAFETY: as above.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &usr1, std::ptr::null_mut()) };
    }
}
