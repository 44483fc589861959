//! The status report: what `floatip status --json` prints and the control socket's
//! `status` answer carries, schema version 1 (documented in `docs/status.schema.json`).
//!
//! Owns the stable wire shape only: plain numbers (durations in milliseconds, ages in
//! seconds), strings and booleans, so that a change in the core's types cannot change
//! it by accident. Built by the daemon (`daemon::control`); read by the client. Must not
//! depend on daemon or core types. Adding a field is compatible; renaming or removing one
//! needs a new `schema` number.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The version of this schema (`schema` in the report).
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub schema: u32,
    pub daemon: DaemonReport,
    pub routers: Vec<RouterReport>,
    pub sync_groups: Vec<SyncGroupReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonReport {
    /// floatip's version.
    pub version: String,
    pub pid: u32,
    pub uptime_seconds: f64,
    pub config_file: String,
    /// When the running configuration was loaded (Unix time, seconds).
    pub config_loaded_unix: f64,
    /// The last reload, if any since start.
    pub last_reload: Option<ReloadReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReloadReport {
    /// Unix time, seconds.
    pub at_unix: f64,
    pub applied: bool,
    /// The errors it was rejected for.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouterReport {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    /// VRRP version, 2 or 3.
    pub vrrp_version: u8,
    /// "IPv4" or "IPv6".
    pub family: String,
    pub unicast: bool,
    /// "initialize", "backup", "master", "fault" or "stopped".
    pub state: String,
    /// Time in this state.
    pub state_seconds: f64,
    /// Why it entered this state (none before the first transition).
    pub reason: Option<String>,
    /// A master leaving (priority 0 sent), waiting for its successor.
    pub handing_over: bool,
    pub configured_priority: u8,
    pub effective_priority: u8,
    /// Our own advertisement interval.
    pub advert_interval_ms: u64,
    /// The interval of the master we follow (ours when master).
    pub master_advert_interval_ms: u64,
    pub master_down_ms: u64,
    pub skew_ms: u64,
    /// Backup: the master it follows, as last heard.
    pub master: Option<MasterReport>,
    pub faults: FaultsReport,
    /// The sync group it is a member of.
    pub sync_group: Option<String>,
    /// Whether the router holds its addresses now (Master, or a master handing over).
    pub holds_addresses: bool,
    pub addresses: Vec<AddressReport>,
    pub checks: Vec<CheckReport>,
    pub counters: CountersReport,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasterReport {
    pub address: String,
    pub priority: u8,
    pub advert_interval_ms: u64,
    pub last_heard_seconds_ago: f64,
    /// "with-pseudo-header" or "without-pseudo-header".
    pub checksum_form: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultsReport {
    pub interface_down: bool,
    pub health: bool,
    pub sync_group: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressReport {
    /// With its prefix length, e.g. `192.0.2.100/24`.
    pub address: String,
    pub interface: String,
    /// On its interface right now, as netlink says; null when it could not be read.
    pub present: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub name: String,
    /// "script", "process", "http", "tcp", "file" or "interface".
    pub kind: String,
    /// "passing", "failing", "value" (a file check) or "unknown" (no result yet, or
    /// not configured).
    pub state: String,
    /// A file check's value.
    pub value: Option<i64>,
    /// The last result: "pass", the failure's text, or the value read.
    pub last_result: Option<String>,
    /// Time since the state last changed (null before the first change).
    pub since_seconds: Option<f64>,
    /// What it adds to this router's priority now.
    pub weight_now: i32,
    /// It holds this router in Fault now.
    pub fault_now: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountersReport {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub send_errors: u64,
    pub announcements: u64,
    pub transitions: u64,
    /// Advertisements dropped, by reason.
    pub dropped: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncGroupReport {
    pub name: String,
    pub routers: Vec<String>,
    /// The state all members share, or null while they differ.
    pub state: Option<String>,
}

impl StatusReport {
    /// The problems `floatip status --check` fails on: a router in Fault, an address
    /// missing where the state says Master. Empty when all is well.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for router in &self.routers {
            if router.state == "fault" {
                problems.push(format!(
                    "{}: in FAULT ({})",
                    router.name,
                    router.reason.as_deref().unwrap_or("no reason")
                ));
            }
            if router.state == "master" {
                for address in &router.addresses {
                    match address.present {
                        Some(true) => {}
                        Some(false) => problems.push(format!(
                            "{}: MASTER but {} is missing on {}",
                            router.name, address.address, address.interface
                        )),
                        None => problems.push(format!(
                            "{}: MASTER but {} on {} could not be read",
                            router.name, address.address, address.interface
                        )),
                    }
                }
            }
        }
        problems
    }
}
