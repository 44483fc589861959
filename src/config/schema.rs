//! The YAML file as serde sees it: raw structs that mirror the text, key for key.
//!
//! Owns the spelling of every key and the parsing of the YAML itself (serde-saphyr).
//! Unknown keys are refused everywhere (`deny_unknown_fields`). Values that validation
//! must check carry their position (`Spanned`), so a semantic error can point at the
//! exact line and column. Must not validate or apply defaults: that is `validate`'s job,
//! where every rule sits next to its error message.
//!
//! Numbers are read as `i64` so that `vrid: 300` is reported as "out of range 1..=255"
//! by validation rather than as serde's bare "invalid u8". Durations are strings parsed by
//! `duration`, so that a bare number can be refused with a message saying why.
//!

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_saphyr::Spanned;

pub(crate) type S<T> = Spanned<T>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub routers: S<Vec<S<RawRouter>>>,
    #[serde(default)]
    pub sync_groups: Option<S<Vec<S<RawSyncGroup>>>>,
    #[serde(default)]
    pub checks: Option<S<Vec<S<RawCheck>>>>,
    #[serde(default)]
    pub global: Option<S<RawGlobal>>,
}

/// Daemon-wide settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGlobal {
    #[serde(default)]
    pub script_user: Option<S<String>>,
    #[serde(default)]
    pub event_socket: Option<S<String>>,
}

/// One health check: a name, exactly one kind key, and the common settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    pub name: S<String>,
    #[serde(default)]
    pub script: Option<S<RawCommand>>,
    #[serde(default)]
    pub process: Option<S<RawProcess>>,
    #[serde(default)]
    pub tcp: Option<S<RawTcp>>,
    #[serde(default)]
    pub http: Option<S<RawHttp>>,
    #[serde(default)]
    pub interface: Option<S<String>>,
    #[serde(default)]
    pub file: Option<S<String>>,
    #[serde(default)]
    pub interval: Option<S<String>>,
    #[serde(default)]
    pub timeout: Option<S<String>>,
    #[serde(default)]
    pub weight: Option<S<i64>>,
    #[serde(default)]
    pub rise: Option<S<i64>>,
    #[serde(default)]
    pub fall: Option<S<i64>>,
    #[serde(default)]
    pub initial: Option<S<RawInitial>>,
}

/// A check's state before its first result.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawInitial {
    Up,
    Down,
}

/// A command: `/usr/local/bin/check --fast` (split on whitespace, no shell) or a list
/// of arguments.
#[derive(Debug)]
pub(crate) enum RawCommand {
    Line(String),
    Args(Vec<String>),
}

impl<'de> Deserialize<'de> for RawCommand {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CommandVisitor;

        impl<'de> Visitor<'de> for CommandVisitor {
            type Value = RawCommand;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a command line such as `/usr/local/bin/check --fast`, or a list of arguments",
                )
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawCommand, E> {
                Ok(RawCommand::Line(text.to_owned()))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawCommand, A::Error> {
                let mut args = Vec::new();
                while let Some(arg) = seq.next_element::<String>()? {
                    args.push(arg);
                }
                Ok(RawCommand::Args(args))
            }
        }

        deserializer.deserialize_any(CommandVisitor)
    }
}

/// `process: haproxy` or `process: {name: haproxy, min: 2}`.
#[derive(Debug)]
pub(crate) enum RawProcess {
    Name(String),
    Long(Box<RawProcessMap>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProcessMap {
    pub name: S<String>,
    #[serde(default)]
    pub min: Option<S<i64>>,
    #[serde(default)]
    pub rescan: Option<S<String>>,
    #[serde(default)]
    pub delay: Option<S<String>>,
}

impl<'de> Deserialize<'de> for RawProcess {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProcessVisitor;

        impl<'de> Visitor<'de> for ProcessVisitor {
            type Value = RawProcess;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a process name such as haproxy, or a map with `name`")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawProcess, E> {
                Ok(RawProcess::Name(text.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawProcess, A::Error> {
                RawProcessMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|map| RawProcess::Long(Box::new(map)))
            }
        }

        deserializer.deserialize_any(ProcessVisitor)
    }
}

/// A TCP connect check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTcp {
    pub address: S<String>,
    pub port: S<i64>,
}

/// An HTTP GET check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    pub address: S<String>,
    pub port: S<i64>,
    #[serde(default)]
    pub path: Option<S<String>>,
    #[serde(default)]
    pub host: Option<S<String>>,
    #[serde(default)]
    pub expect: Option<S<i64>>,
}

/// Notify hooks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotify {
    #[serde(default)]
    pub command: Option<S<RawCommand>>,
    #[serde(default)]
    pub master: Option<S<RawCommand>>,
    #[serde(default)]
    pub backup: Option<S<RawCommand>>,
    #[serde(default)]
    pub fault: Option<S<RawCommand>>,
    #[serde(default)]
    pub stop: Option<S<RawCommand>>,
    #[serde(default)]
    pub timeout: Option<S<String>>,
}

/// One virtual router (keepalived's `vrrp_instance`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRouter {
    pub name: S<String>,
    pub interface: S<String>,
    pub vrid: S<i64>,
    #[serde(default)]
    pub version: Option<S<i64>>,
    #[serde(default)]
    pub priority: Option<S<i64>>,
    #[serde(default)]
    pub advert_interval: Option<S<String>>,
    #[serde(default)]
    pub preempt: Option<S<bool>>,
    #[serde(default)]
    pub preempt_delay: Option<S<String>>,
    #[serde(default)]
    pub accept_mode: Option<S<bool>>,
    pub addresses: S<Vec<S<RawAddress>>>,
    #[serde(default)]
    pub unicast: Option<S<RawUnicast>>,
    #[serde(default)]
    pub hosts: Option<S<i64>>,
    #[serde(default)]
    pub checksum: Option<S<RawChecksum>>,
    #[serde(default)]
    pub announce: Option<S<RawAnnounce>>,
    #[serde(default)]
    pub password: Option<S<String>>,
    #[serde(default)]
    pub track: Option<S<Vec<S<String>>>>,
    #[serde(default)]
    pub notify: Option<S<RawNotify>>,
}

/// A virtual address: `192.0.2.100/24`, or a map with `address` and options.
#[derive(Debug)]
pub(crate) enum RawAddress {
    /// The short form; its position is that of the enclosing `Spanned`.
    Short(String),
    Long(Box<RawAddressMap>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAddressMap {
    pub address: S<String>,
    #[serde(default)]
    pub device: Option<S<String>>,
    #[serde(default)]
    pub label: Option<S<String>>,
}

impl<'de> Deserialize<'de> for RawAddress {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Hand-written rather than `#[serde(untagged)]`: untagged enums lose positions,
        // swallow unknown keys and say only "data did not match any variant".
        struct AddressVisitor;

        impl<'de> Visitor<'de> for AddressVisitor {
            type Value = RawAddress;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an address such as 192.0.2.100/24, or a map with `address`")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawAddress, E> {
                Ok(RawAddress::Short(text.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawAddress, A::Error> {
                RawAddressMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|map| RawAddress::Long(Box::new(map)))
            }
        }

        deserializer.deserialize_any(AddressVisitor)
    }
}

/// Unicast mode (keepalived's `unicast_src_ip` and `unicast_peer`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUnicast {
    #[serde(default)]
    pub source: Option<S<String>>,
    pub peers: S<Vec<S<String>>>,
    #[serde(default)]
    pub max_hops: Option<S<i64>>,
}

/// What the checksum of a VRRPv3-over-IPv4 advertisement covers.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawChecksum {
    Auto,
    WithPseudoHeader,
    WithoutPseudoHeader,
}

/// Gratuitous ARP / unsolicited NA settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAnnounce {
    #[serde(default)]
    pub burst: Option<S<i64>>,
    #[serde(default)]
    pub burst_interval: Option<S<String>>,
    #[serde(default)]
    pub repeat_after: Option<S<String>>,
    #[serde(default)]
    pub refresh_every: Option<S<String>>,
}

/// Routers that change state together (keepalived's `vrrp_sync_group`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSyncGroup {
    pub name: S<String>,
    pub routers: S<Vec<S<String>>>,
    #[serde(default)]
    pub track: Option<S<Vec<S<String>>>>,
    #[serde(default)]
    pub notify: Option<S<RawNotify>>,
}

/// Parse the YAML text into the raw structs.
pub(crate) fn from_yaml(text: &str) -> Result<RawConfig, serde_saphyr::Error> {
    let mut options = serde_saphyr::Options::default();
    // YAML 1.1's yes/no/on/off as booleans surprise people (`preempt: off` would be
    // false, `refresh_every: off` a string); only true/false are booleans here.
    options.strict_booleans = true;
    // We render our own snippet, with the key path.
    options.with_snippet = false;
    options.reject_unsupported_tags = true;
    serde_saphyr::from_str_with_options(text, options)
}
