//! What a child does between fork and exec: drop the daemon's ambient capabilities and
//! switch to the script user.
//!
//! `pre_exec` is `unsafe` because its closure runs in the forked child, where only
//! async-signal-safe calls are allowed and nothing may be allocated. The closures here
//! make only such calls, on data allocated before the fork.

use std::io;

use tokio::process::Command;

/// Scripts and hooks get none of the daemon's capabilities: a daemon given
/// CAP_NET_ADMIN/CAP_NET_RAW as ambient capabilities (the systemd unit) would otherwise
/// pass them on across exec. Errors (kernels before 4.3) are ignored: there are no
/// ambient capabilities there.
pub fn clear_ambient_capabilities(command: &mut Command) {
    // SAFETY: runs in the forked child before exec; prctl is async-signal-safe and
    // nothing is allocated.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            );
            Ok(())
        });
    }
}

/// The ids a child switches to, allocated before the fork.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    /// Supplementary groups.
    pub groups: Vec<libc::gid_t>,
}

/// Makes the child switch to `credentials` before exec: supplementary groups first, the
/// uid last (after it nothing else may change). A failure fails the spawn with the
/// system's error (EPERM without root or CAP_SETUID and CAP_SETGID).
pub fn switch_user(command: &mut Command, credentials: Credentials) {
    // SAFETY: the closure runs in the forked child before exec and only makes the
    // async-signal-safe calls setgroups, setgid and setuid on data allocated before the
    // fork; it allocates nothing (io::Error::last_os_error does not allocate).
    unsafe {
        command.pre_exec(move || apply(&credentials));
    }
}

fn apply(credentials: &Credentials) -> io::Result<()> {
    // SAFETY: plain system calls on a valid pointer and length.
    unsafe {
        if libc::setgroups(credentials.groups.len(), credentials.groups.as_ptr()) != 0
            || libc::setgid(credentials.gid) != 0
            || libc::setuid(credentials.uid) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
