//! Maps the runtime's monotonic clock onto the core's `Instant`.
//!
//! Owns the one place the daemon reads time for the core, including the time of a packet
//! the kernel stamped on receipt. The epoch is the daemon's start; `tokio::time` is used
//! (rather than `std::time`) so that tests with a paused runtime clock would see
//! consistent time. Must not decide anything about what a time means.

use std::time::SystemTime;

use tokio::time::Instant as TokioInstant;

use crate::proto::timers::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: TokioInstant,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            epoch: TokioInstant::now(),
        }
    }

    /// Now, as the core sees it.
    pub fn now(&self) -> Instant {
        Instant::from_epoch(TokioInstant::now().saturating_duration_since(self.epoch))
    }

    /// A core deadline as a runtime instant, for `sleep_until`.
    pub fn runtime_instant(&self, at: Instant) -> TokioInstant {
        self.epoch + at.since_epoch()
    }

    /// When, as the core sees it, a packet was received that the kernel stamped at
    /// `kernel_time` (wall clock; `None`: now). Never later than now, never earlier than
    /// `not_before` (the last time handed to the same router, so that its events stay in
    /// order) unless that is in the future.
    pub fn received_at(&self, kernel_time: Option<SystemTime>, not_before: Instant) -> Instant {
        let now = self.now();
        let at = kernel_time.map_or(now, |stamp| on_monotonic(now, SystemTime::now(), stamp));
        at.max(not_before).min(now)
    }
}

/// The wall-clock instant `stamp` on the monotonic clock, given one moment read on both
/// (`now`, `now_wall`): `now - (now_wall - stamp)`. The kernel stamps packets with
/// `CLOCK_REALTIME`, which can be stepped; a stamp "in the future" is taken as now, and
/// one from before the epoch as the epoch (the caller clamps further).
fn on_monotonic(now: Instant, now_wall: SystemTime, stamp: SystemTime) -> Instant {
    match now_wall.duration_since(stamp) {
        Ok(age) => Instant::from_epoch(now.since_epoch().saturating_sub(age)),
        Err(_) => now,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_epoch(Duration::from_millis(ms))
    }

    fn wall(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_millis(ms)
    }

    #[test]
    fn a_stamp_becomes_the_same_age_on_the_monotonic_clock() {
        // Now is 5 s after start and wall time 10_000 ms; a packet stamped 300 ms ago.
        assert_eq!(
            on_monotonic(at(5_000), wall(10_000), wall(9_700)),
            at(4_700)
        );
        assert_eq!(
            on_monotonic(at(5_000), wall(10_000), wall(10_000)),
            at(5_000)
        );
    }

    #[test]
    fn a_stamp_after_now_is_now_and_one_before_the_epoch_is_the_epoch() {
        // The wall clock was stepped back after the packet arrived.
        assert_eq!(
            on_monotonic(at(5_000), wall(10_000), wall(12_000)),
            at(5_000)
        );
        // Stamped before the daemon started (or the wall clock was stepped forward).
        assert_eq!(
            on_monotonic(at(5_000), wall(10_000), wall(1_000)),
            Instant::ZERO
        );
    }

    #[tokio::test]
    async fn received_at_is_between_the_last_time_handed_and_now() {
        // A daemon started a minute ago (so that a packet's age fits after its start).
        let clock = Clock {
            epoch: TokioInstant::now()
                .checked_sub(Duration::from_secs(60))
                .expect("the system is up for a minute"),
        };
        let now = clock.now();
        // No stamp: now (or a little later, the clock having moved on).
        assert!(clock.received_at(None, Instant::ZERO) >= now);
        // A stamp far in the past is clamped to the last time handed to the router.
        let old = SystemTime::now() - Duration::from_secs(3600);
        assert_eq!(clock.received_at(Some(old), now), now);
        // A stamp in the future is clamped to now.
        let future = SystemTime::now() + Duration::from_secs(3600);
        let got = clock.received_at(Some(future), Instant::ZERO);
        assert!(got >= now && got <= clock.now());
        // A recent stamp keeps its age: 200 ms ago is at least that long before now, and
        // (with a generous margin for a loaded machine) not clamped to anything.
        let recent = SystemTime::now() - Duration::from_millis(200);
        let before = clock.now();
        let got = clock.received_at(Some(recent), Instant::ZERO);
        assert!(got + Duration::from_millis(200) <= clock.now());
        assert!(got + Duration::from_secs(10) >= before);
    }
}
