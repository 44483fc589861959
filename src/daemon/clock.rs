//! Maps the runtime's monotonic clock onto the core's `Instant`.
//!
//! Owns the one place the daemon reads time for the core. The epoch is the daemon's
//! start; `tokio::time` is used (rather than `std::time`) so that tests with a paused
//! runtime clock would see consistent time.

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
}
