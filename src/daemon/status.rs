//! A running router's status as one value: the core's snapshot, composed with the
//! router's name and interface, its counters and its tracked checks.
//!
//! Owns the shape of what `status`, metrics and the exit log line read. Must not reach
//! into the daemon's internals beyond reading: it is built from a router's I/O handle,
//! its core state machine and the checks, and changes nothing.

use serde::Serialize;

use super::health::Checks;
use super::router::{Counters, RouterIo};
use crate::proto::fsm::{Router, Snapshot};

/// What one tracked check adds to a router now.
#[derive(Debug, Clone, Serialize)]
pub struct TrackedCheck {
    pub name: String,
    /// Added to the configured priority.
    pub weight: i32,
    /// Holds the router in Fault.
    pub fault: bool,
    /// The check is not (or no longer) configured.
    pub unknown: bool,
}

/// One router's status.
#[derive(Debug, Clone, Serialize)]
pub struct RouterStatus {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub version: u8,
    pub family: &'static str,
    pub unicast: bool,
    #[serde(flatten)]
    pub core: Snapshot,
    pub counters: Counters,
    pub checks: Vec<TrackedCheck>,
    /// Each address and whether the daemon last saw it on its interface.
    pub present: Vec<AddressPresence>,
}

/// One virtual address and whether it was present when the daemon last added, removed
/// or read it.
#[derive(Debug, Clone, Serialize)]
pub struct AddressPresence {
    pub address: std::net::IpAddr,
    pub present: bool,
}

impl RouterStatus {
    pub fn new(io: &RouterIo, router: &Router, checks: &Checks) -> RouterStatus {
        let spec = io.spec();
        let tracked = spec
            .track
            .iter()
            .map(|name| match checks.index_of(name) {
                Some(index) => {
                    let health = checks.health(&[index]);
                    TrackedCheck {
                        name: name.clone(),
                        weight: health.weight,
                        fault: health.fault,
                        unknown: false,
                    }
                }
                None => TrackedCheck {
                    name: name.clone(),
                    weight: 0,
                    fault: false,
                    unknown: true,
                },
            })
            .collect();
        RouterStatus {
            name: spec.name.clone(),
            interface: spec.interface.clone(),
            vrid: spec.vrid,
            version: spec.version.number(),
            family: match spec.family() {
                crate::proto::packet::Family::V4 => "IPv4",
                crate::proto::packet::Family::V6 => "IPv6",
            },
            unicast: spec.unicast.is_some(),
            core: router.snapshot(),
            counters: io.counters.clone(),
            checks: tracked,
            present: io
                .addresses_present()
                .into_iter()
                .map(|(address, present)| AddressPresence { address, present })
                .collect(),
        }
    }

    /// One line: state and why, priorities, then what was dropped (last, the list as
    /// `[("reason", count)]`; the counters go in the log line's fields).
    pub fn summary(&self) -> String {
        let reason = self
            .core
            .reason
            .as_ref()
            .map_or_else(|| "-".to_string(), ToString::to_string);
        let dropped: Vec<_> = self.counters.dropped.iter().collect();
        format!(
            "{} ({reason}), priority {} (configured {}), advertisements: dropped {dropped:?}",
            self.core.state, self.core.effective_priority, self.core.configured_priority,
        )
    }
}

/// One configured health check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckStatus {
    pub name: String,
    pub kind: &'static str,
    /// Passing (a file check: reads 0).
    pub up: bool,
    /// Failed results since its checker (re)started.
    pub failures: u64,
}

/// The notify hooks of one router or sync group.
#[derive(Debug, Clone, Serialize)]
pub struct HookStatus {
    /// The router's or the sync group's name.
    pub owner: String,
    /// `INSTANCE` or `GROUP`, as the hooks are told.
    pub kind: &'static str,
    pub runs: u64,
    pub failures: u64,
}

/// Reloads (SIGHUP) since start.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReloadCounters {
    pub ok: u64,
    pub failed: u64,
    /// Whether the last reload took the new file (true before any reload).
    pub last_ok: bool,
    /// When the configuration was last loaded or a reload last tried, in seconds since
    /// the Unix epoch.
    pub last_at: f64,
}

/// Upper bounds of the timer-lateness histogram, in seconds.
pub const LATENESS_BUCKETS: [f64; 11] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
];

/// How late the loop woke for protocol deadlines (actual wake-up minus deadline).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Lateness {
    /// Observations at or below each bound of `LATENESS_BUCKETS` (not cumulative).
    pub buckets: [u64; LATENESS_BUCKETS.len()],
    pub count: u64,
    pub sum_seconds: f64,
}

impl Lateness {
    pub fn observe(&mut self, late: std::time::Duration) {
        let seconds = late.as_secs_f64();
        if let Some(slot) = LATENESS_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .and_then(|i| self.buckets.get_mut(i))
        {
            *slot += 1;
        }
        self.count += 1;
        self.sum_seconds += seconds;
    }
}

/// The daemon as metrics read it: every router's status and what is daemon-wide.
#[derive(Debug, Clone, Serialize)]
pub struct DaemonStatus {
    pub version: &'static str,
    /// Process start, in seconds since the Unix epoch.
    pub started_at: f64,
    pub routers: Vec<RouterStatus>,
    pub checks: Vec<CheckStatus>,
    pub hooks: Vec<HookStatus>,
    pub reloads: ReloadCounters,
    pub timer_lateness: Lateness,
}

/// Now, in seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
