//! Rate limiting of per-packet log lines.
//!
//! Owns the decision whether a log line about a repeated problem (a malformed packet, a
//! non-peer sender) is printed now or only counted. Pure: time comes in as an argument.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use crate::proto::timers::Instant;

/// Keys one limiter tracks at most: keys can come from the network (a sender's
/// address), so a flood of forged sources must not grow the table without bound. Past
/// it, keys not seen within the window are forgotten, and a new key finds no room its
/// line is suppressed (the counter that goes with it still counts).
const MAX_KEYS: usize = 256;

/// At most one line per key per `window`; the lines in between are counted and the
/// count is reported with the next line that gets through.
#[derive(Debug)]
pub struct RateLimit<K = &'static str> {
    window: Duration,
    last: HashMap<K, (Instant, u64)>,
}

impl<K: Hash + Eq> RateLimit<K> {
    pub fn new(window: Duration) -> RateLimit<K> {
        RateLimit {
            window,
            last: HashMap::new(),
        }
    }

    /// `Some(suppressed)` if a line for `key` may be logged now (with the number of
    /// lines suppressed since the last one), `None` if it must be suppressed.
    pub fn allow(&mut self, key: K, now: Instant) -> Option<u64> {
        match self.last.get_mut(&key) {
            Some((last, suppressed)) if now.saturating_since(*last) < self.window => {
                *suppressed += 1;
                None
            }
            Some((last, suppressed)) => {
                let count = *suppressed;
                *last = now;
                *suppressed = 0;
                Some(count)
            }
            None => {
                if self.last.len() >= MAX_KEYS {
                    let window = self.window;
                    self.last
                        .retain(|_, (last, _)| now.saturating_since(*last) < window);
                    if self.last.len() >= MAX_KEYS {
                        return None;
                    }
                }
                self.last.insert(key, (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_window_with_the_count_of_the_rest() {
        let mut limit = RateLimit::new(Duration::from_secs(10));
        let t = |ms| Instant::from_epoch(Duration::from_millis(ms));
        assert_eq!(limit.allow("bad_ttl", t(0)), Some(0));
        assert_eq!(limit.allow("bad_ttl", t(1)), None);
        assert_eq!(limit.allow("bad_ttl", t(9_999)), None);
        assert_eq!(
            limit.allow("bad_checksum", t(5)),
            Some(0),
            "keys are independent"
        );
        assert_eq!(limit.allow("bad_ttl", t(10_000)), Some(2));
        assert_eq!(limit.allow("bad_ttl", t(10_001)), None);
    }

    #[test]
    fn keys_from_the_network_are_bounded() {
        let mut limit: RateLimit<u32> = RateLimit::new(Duration::from_secs(10));
        let t = |ms| Instant::from_epoch(Duration::from_millis(ms));
        for key in 0..MAX_KEYS as u32 {
            assert_eq!(limit.allow(key, t(0)), Some(0));
        }
        assert_eq!(
            limit.allow(9999, t(1)),
            None,
            "full: a new key is not logged"
        );
        assert_eq!(limit.last.len(), MAX_KEYS);
        // Once the old keys are out of their window, they make room.
        assert_eq!(limit.allow(9999, t(10_000)), Some(0));
        assert!(limit.last.len() <= MAX_KEYS);
    }
}
