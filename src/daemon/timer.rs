//! A sleep with nanosecond resolution for the protocol timers.
//!
//! tokio's timer wheel has a resolution of one millisecond and rounds every deadline up
//! to the next tick, so a backup took over about 1.5 ms after master_down (measured by
//! the downtime harness; keepalived, on a plain timer, 0.2 ms). A timerfd armed for the
//! exact remaining time and awaited through the reactor fires within tens of
//! microseconds. Where a timerfd cannot be created (it always can on Linux 2.6.25+),
//! tokio's sleep is the fallback.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

/// One timer, re-armed for every wait.
pub struct Timer {
    fd: Option<AsyncFd<OwnedFd>>,
}

impl Timer {
    pub fn new() -> Timer {
        Timer {
            fd: create()
                .and_then(|fd| {
                    // SAFETY: the descriptor is owned by the AsyncFd from here on and
                    // closed only when it is dropped (deregistered first).
                    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
                        .map_err(|e| e.into_parts().1)
                })
                .ok(),
        }
    }

    /// Returns at `at` (at once if it has passed).
    pub async fn sleep_until(&mut self, at: Instant) {
        let Some(fd) = &self.fd else {
            return tokio::time::sleep_until(at).await;
        };
        let remaining = at.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return;
        }
        if arm(fd.get_ref(), remaining).is_err() {
            return tokio::time::sleep_until(at).await;
        }
        loop {
            let Ok(mut guard) = fd.readable().await else {
                return tokio::time::sleep_until(at).await;
            };
            let mut expirations = [0u8; 8];
            // SAFETY: reading 8 bytes into an 8-byte buffer from our own timerfd.
            let n = unsafe {
                libc::read(
                    fd.get_ref().as_raw_fd(),
                    expirations.as_mut_ptr().cast(),
                    expirations.len(),
                )
            };
            if n == 8 {
                return;
            }
            // EAGAIN: woken without an expiration; wait again.
            guard.clear_ready();
        }
    }
}

fn create() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the returned descriptor is owned from here on.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Arm for one expiration `after` from now (this also disarms any earlier setting).
fn arm(fd: &OwnedFd, after: Duration) -> io::Result<()> {
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: after.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(after.subsec_nanos() as i32),
        },
    };
    // SAFETY: valid descriptor and a fully initialised itimerspec.
    let rc = unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_close_to_the_deadline_never_before() {
        let mut timer = Timer::new();
        assert!(timer.fd.is_some(), "a timerfd is available on Linux");
        let mut late = Vec::new();
        for _ in 0..20 {
            let at = Instant::now() + Duration::from_micros(2_300);
            timer.sleep_until(at).await;
            let now = Instant::now();
            assert!(now >= at, "woke {:?} early", at - now);
            late.push(now - at);
        }
        late.sort();
        // tokio's own sleep would be up to 1 ms late by design; the median here is
        // tens of microseconds. The bound is generous for a loaded machine.
        assert!(
            late[10] < Duration::from_micros(700),
            "median lateness {:?}",
            late[10]
        );
    }

    #[tokio::test]
    async fn a_past_deadline_returns_at_once_and_rearming_works() {
        let mut timer = Timer::new();
        timer
            .sleep_until(Instant::now() - Duration::from_millis(5))
            .await;
        // A longer wait abandoned (dropped) must not disturb the next one.
        let long = timer.sleep_until(Instant::now() + Duration::from_secs(10));
        let _ = tokio::time::timeout(Duration::from_millis(5), long).await;
        let at = Instant::now() + Duration::from_millis(3);
        tokio::time::timeout(Duration::from_secs(2), timer.sleep_until(at))
            .await
            .expect("re-armed for the new deadline");
        assert!(Instant::now() >= at);
    }
}
