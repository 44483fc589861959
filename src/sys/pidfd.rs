//! `pidfd_open` (Linux 5.3), which neither std nor nix wraps yet.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// A pidfd for process `pid`: readable once that process has exited, and never
/// referring to a later process that reuses the PID. Close-on-exec, as every pidfd.
pub fn open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    // SAFETY: pidfd_open takes a PID and flags and returns a new file descriptor or -1;
    // no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = libc::c_int::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: the syscall succeeded, so `fd` is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn opens_our_own_process_and_refuses_a_pid_out_of_range() {
        let fd = open(std::process::id()).expect("pidfd of this process");
        let path =
            std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("readlink");
        assert!(path.to_string_lossy().contains("pidfd"), "{path:?}");
        let error = open(u32::MAX).expect_err("no such pid");
        assert_eq!(error.raw_os_error(), Some(libc::ESRCH));
    }
}
