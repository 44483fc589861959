//! Registering a descriptor with tokio's reactor, safely.
//!
//! `AsyncFd::register_with_interest` is `unsafe` because the reactor keeps the raw
//! descriptor: it must stay open, and stay the same descriptor, for as long as the
//! `AsyncFd` holds it. That holds for values that own exactly one descriptor for their
//! whole life and cannot be given another one through a shared reference (`OwnsFd`), as
//! long as nobody gets a mutable reference to the value while it is registered, which
//! `Registered` guarantees by giving out shared references only.

use std::io;
use std::ops::Deref;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::sys::inotify::Inotify;
use nix::sys::timerfd::TimerFd;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

mod sealed {
    pub trait Sealed {}
}

/// A value that owns one open descriptor from creation to drop, and whose shared
/// reference cannot close it or make it hold another. Sealed: every implementation is
/// listed here, each with why it qualifies.
pub trait OwnsFd: AsFd + sealed::Sealed {}

// An OwnedFd closes its descriptor only on drop, and `&OwnedFd` cannot replace it.
impl sealed::Sealed for OwnedFd {}
impl OwnsFd for OwnedFd {}
// nix's TimerFd and Inotify each hold a private OwnedFd that no `&self` method replaces.
impl sealed::Sealed for TimerFd {}
impl OwnsFd for TimerFd {}
impl sealed::Sealed for Inotify {}
impl OwnsFd for Inotify {}

/// A registered value, as the reactor sees it: its descriptor as a raw one.
#[derive(Debug)]
pub struct Owned<T>(T);

impl<T: AsFd> AsRawFd for Owned<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl<T: AsFd> AsFd for Owned<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl<T> Deref for Owned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A value registered with the reactor. Derefs to the `AsyncFd` for waiting
/// (`readable`, `try_io`, `get_ref`); it gives no mutable access to the value (no
/// `get_mut`, `readable_mut` or `into_inner`), so its descriptor cannot be swapped while
/// registered. Dropping it deregisters, then drops (closes) the value.
#[derive(Debug)]
pub struct Registered<T: OwnsFd>(AsyncFd<Owned<T>>);

impl<T: OwnsFd> Deref for Registered<T> {
    type Target = AsyncFd<Owned<T>>;
    fn deref(&self) -> &AsyncFd<Owned<T>> {
        &self.0
    }
}

/// Registers `inner` with the current tokio reactor for `interest`. Must be called
/// within a tokio runtime (as `AsyncFd` requires).
pub fn register<T: OwnsFd>(inner: T, interest: Interest) -> io::Result<Registered<T>> {
    // SAFETY: `T: OwnsFd` owns one open descriptor until dropped and cannot be made to
    // hold another through `&T`; the AsyncFd owns the value, and `Registered` hands out
    // only shared references to it, so the descriptor stays open and the same for the
    // AsyncFd's whole life.
    unsafe { AsyncFd::register_with_interest(Owned(inner), interest) }
        .map(Registered)
        .map_err(|error| error.into_parts().1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::time::TimeSpec;
    use nix::sys::timerfd::{ClockId, Expiration, TimerFlags, TimerSetTimeFlags};
    use std::time::Duration;

    #[tokio::test]
    async fn a_registered_timerfd_becomes_readable() {
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .expect("timerfd");
        let registered = register(timer, Interest::READABLE).expect("register");
        registered
            .get_ref()
            .set(
                Expiration::OneShot(TimeSpec::from_duration(Duration::from_millis(1))),
                TimerSetTimeFlags::empty(),
            )
            .expect("arm");
        let guard = tokio::time::timeout(Duration::from_secs(5), registered.readable())
            .await
            .expect("readable within 5s")
            .expect("no reactor error");
        let mut expirations = [0u8; 8];
        let n = nix::unistd::read(guard.get_inner().as_fd(), &mut expirations).expect("read");
        assert_eq!(n, 8);
        assert_eq!(u64::from_ne_bytes(expirations), 1);
    }
}
