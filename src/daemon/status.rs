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
