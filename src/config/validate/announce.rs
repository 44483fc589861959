//! A router's `announce:` section: the gratuitous ARP / NA burst, its repeat and its
//! refresh.

use std::time::Duration;

use super::Validator;
use super::values::at;
use crate::config::Announce;
use crate::config::schema::RawAnnounce;

const MAX_BURST_INTERVAL: Duration = Duration::from_secs(1);
const MIN_REPEAT_AFTER: Duration = Duration::from_millis(10);
const MAX_REPEAT_AFTER: Duration = Duration::from_secs(3600);
const MIN_REFRESH_EVERY: Duration = Duration::from_secs(1);
const MAX_REFRESH_EVERY: Duration = Duration::from_secs(24 * 3600);

impl Validator<'_> {
    pub(super) fn announce(&mut self, key: &str, raw: &RawAnnounce) -> Announce {
        let defaults = Announce::default();
        let burst = match &raw.burst {
            None => defaults.burst,
            Some(b) => match u8::try_from(b.value) {
                Ok(v) if v >= 1 => v,
                _ => {
                    self.sink.error(
                        at(&b.referenced),
                        &format!("{key}.burst"),
                        format!("a burst of {} frames is out of range", b.value),
                        Some(
                            "1..=255 frames; a new master must announce itself at least once"
                                .to_owned(),
                        ),
                    );
                    defaults.burst
                }
            },
        };
        let burst_interval = match &raw.burst_interval {
            None => defaults.burst_interval,
            Some(text) => self
                .duration_in(
                    text,
                    &format!("{key}.burst_interval"),
                    Duration::ZERO,
                    MAX_BURST_INTERVAL,
                    "the spacing of a burst is 0s..1s",
                )
                .unwrap_or(defaults.burst_interval),
        };
        let repeat_after = match &raw.repeat_after {
            None => defaults.repeat_after,
            Some(text) => self
                .optional_duration(
                    text,
                    &format!("{key}.repeat_after"),
                    MIN_REPEAT_AFTER,
                    MAX_REPEAT_AFTER,
                    "a duration 10ms..1h, such as 2s",
                )
                .unwrap_or(defaults.repeat_after),
        };
        let refresh_every = match &raw.refresh_every {
            None => defaults.refresh_every,
            Some(text) => self
                .optional_duration(
                    text,
                    &format!("{key}.refresh_every"),
                    MIN_REFRESH_EVERY,
                    MAX_REFRESH_EVERY,
                    "a duration 1s..24h, such as 60s",
                )
                .unwrap_or(defaults.refresh_every),
        };
        Announce {
            burst,
            burst_interval,
            repeat_after,
            refresh_every,
        }
    }
}
