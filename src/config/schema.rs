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
//! Later top-level sections (health checks, notify hooks, global settings) are new
//! optional fields of `RawConfig`; nothing here needs to change shape for them.

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
    pub checksum: Option<S<RawChecksum>>,
    #[serde(default)]
    pub announce: Option<S<RawAnnounce>>,
    #[serde(default)]
    pub password: Option<S<String>>,
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
