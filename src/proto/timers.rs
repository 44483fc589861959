//! Timer arithmetic for VRRP, in one place, with time in unit types.
//!
//! Owns: the virtual `Instant` the core works in, the `Centisecs` wire unit, and the
//! RFC 9568 §6.1 formulas (skew, master-down). Must not read a clock: every function
//! here is pure arithmetic on the values it is given.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// A point in time as the core sees it: a duration since an epoch the caller chose.
///
/// The daemon maps its monotonic clock onto this (epoch = daemon start); the simulator
/// uses a virtual clock starting at zero. Keeping our own type (rather than
/// `std::time::Instant`) means the core can never read the real clock by accident and
/// virtual time is exact to the nanosecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct Instant(Duration);

impl Instant {
    /// The epoch.
    pub const ZERO: Instant = Instant(Duration::ZERO);

    /// The instant `since_epoch` after the epoch.
    pub const fn from_epoch(since_epoch: Duration) -> Instant {
        Instant(since_epoch)
    }

    /// Time since the epoch.
    pub const fn since_epoch(self) -> Duration {
        self.0
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0 + rhs)
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturating: an instant minus a later one is zero, never a panic.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_since(rhs)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}s", self.0.as_secs_f64())
    }
}

/// An advertisement interval in centiseconds, the unit of the VRRPv3 wire field.
///
/// VRRPv3 carries 12 bits (max 4095 cs = 40.95 s); VRRPv2 carries whole seconds, which
/// the codec converts to and from this type, so the rest of the code has one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Centisecs(pub u16);

impl Centisecs {
    /// Largest value a VRRPv3 header can carry (12 bits).
    pub const V3_MAX: Centisecs = Centisecs(0x0fff);

    /// From whole seconds (the VRRPv2 unit).
    pub const fn from_secs(secs: u8) -> Centisecs {
        Centisecs(secs as u16 * 100)
    }

    /// As a `Duration`.
    pub const fn to_duration(self) -> Duration {
        Duration::from_millis(self.0 as u64 * 10)
    }

    /// From a `Duration`, if it is a whole, non-zero number of centiseconds that fits
    /// in 12 bits (the VRRPv3 range). Used to validate configured intervals.
    pub fn from_duration(d: Duration) -> Option<Centisecs> {
        let nanos = d.as_nanos();
        if nanos == 0 || !nanos.is_multiple_of(10_000_000) {
            return None;
        }
        let cs = nanos / 10_000_000;
        u16::try_from(cs)
            .ok()
            .filter(|&cs| cs <= Self::V3_MAX.0)
            .map(Centisecs)
    }
}

impl fmt::Display for Centisecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", u32::from(self.0) * 10)
    }
}

/// Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256 (RFC 9568 §6.1).
///
/// Computed in nanoseconds rather than truncated to whole centiseconds as a literal
/// reading of the RFC would, so that two backups one priority point apart never get the
/// same skew. The difference is below 10 ms and only ever makes a higher priority wake
/// sooner.
pub fn skew(priority: u8, master_adver_interval: Centisecs) -> Duration {
    master_adver_interval.to_duration() * (256 - u32::from(priority)) / 256
}

/// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time (RFC 9568 §6.1).
pub fn master_down_interval(priority: u8, master_adver_interval: Centisecs) -> Duration {
    master_adver_interval.to_duration() * 3 + skew(priority, master_adver_interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_and_master_down_at_one_second() {
        let one_s = Centisecs(100);
        // priority 100: (156 * 1 s) / 256 = 609.375 ms
        assert_eq!(skew(100, one_s), Duration::from_micros(609_375));
        assert_eq!(
            master_down_interval(100, one_s),
            Duration::from_micros(3_609_375)
        );
        // owner: (1 * 1 s) / 256
        assert_eq!(skew(255, one_s), Duration::from_nanos(3_906_250));
        // priority 1: 255/256 s
        assert_eq!(skew(1, one_s), Duration::from_nanos(996_093_750));
    }

    #[test]
    fn skew_at_100ms_and_10ms() {
        assert_eq!(skew(200, Centisecs(10)), Duration::from_micros(21_875));
        assert_eq!(
            master_down_interval(200, Centisecs(10)),
            Duration::from_micros(321_875)
        );
        assert_eq!(
            master_down_interval(150, Centisecs(1)),
            Duration::from_nanos(30_000_000 + 4_140_625)
        );
    }

    #[test]
    fn higher_priority_has_strictly_shorter_skew() {
        for iv in [1u16, 10, 100, 4095] {
            for p in 1u8..255 {
                assert!(
                    skew(p + 1, Centisecs(iv)) < skew(p, Centisecs(iv)),
                    "p={p} iv={iv}"
                );
            }
        }
    }

    #[test]
    fn centisecs_conversions() {
        assert_eq!(Centisecs::from_secs(1), Centisecs(100));
        assert_eq!(Centisecs(50).to_duration(), Duration::from_millis(500));
        assert_eq!(
            Centisecs::from_duration(Duration::from_millis(10)),
            Some(Centisecs(1))
        );
        assert_eq!(Centisecs::from_duration(Duration::from_millis(15)), None);
        assert_eq!(Centisecs::from_duration(Duration::ZERO), None);
        assert_eq!(
            Centisecs::from_duration(Duration::from_millis(40_950)),
            Some(Centisecs::V3_MAX)
        );
        assert_eq!(
            Centisecs::from_duration(Duration::from_millis(40_960)),
            None
        );
    }

    #[test]
    fn instant_arithmetic_saturates() {
        let a = Instant::from_epoch(Duration::from_secs(1));
        let b = a + Duration::from_millis(5);
        assert_eq!(b - a, Duration::from_millis(5));
        assert_eq!(a - b, Duration::ZERO);
        assert_eq!(b.to_string(), "1.005000s");
    }
}
