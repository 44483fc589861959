//! From the raw YAML structs to a typed `Config`: every rule of what is valid, each
//! next to its error message, and every default.
//!
//! Owns the semantic checks (ranges, one family per router, unique names and VRIDs,
//! VRRPv2 restrictions, sync group membership, interface-name syntax) and the defaults.
//! Reports every problem it finds rather than stopping at the first. Must not touch the
//! network or the system: interface names are checked for syntax only.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use serde_saphyr::Location;

use super::error::{ConfigError, Sink, did_you_mean, from_yaml_error, syntax_error};
use super::health::Health;
use super::locate::{KeyPaths, Position};
use super::schema::{
    self, RawAddress, RawAnnounce, RawChecksum, RawConfig, RawRouter, RawSyncGroup, RawUnicast, S,
};
use super::{
    Announce, ChecksumMode, Config, DEFAULT_ADVERT_INTERVAL, DEFAULT_PRIORITY, MAX_INTERFACE_NAME,
    MAX_PREEMPT_DELAY, RouterSpec, SyncGroupSpec, Unicast, VirtualAddress,
};
use crate::common::duration::{DURATION_SYNTAX, format_duration, parse_duration};
use crate::proto::packet::{Family, Version};
use crate::proto::timers::Centisecs;

/// Longest router or sync group name.
pub(super) const MAX_NAME: usize = 64;
/// VRRPv2/v3 carry the address count in 8 bits.
const MAX_ADDRESSES: usize = 255;
/// Addresses that fit an IPv6 advertisement in the IPv6 minimum MTU:
/// (1280 - 40 IPv6 header - 8 VRRP header) / 16.
const MAX_IPV6_ADDRESSES_IN_MIN_MTU: usize = 77;
const MAX_BURST_INTERVAL: Duration = Duration::from_secs(1);
const MIN_REPEAT_AFTER: Duration = Duration::from_millis(10);
const MAX_REPEAT_AFTER: Duration = Duration::from_secs(3600);
const MIN_REFRESH_EVERY: Duration = Duration::from_secs(1);
const MAX_REFRESH_EVERY: Duration = Duration::from_secs(24 * 3600);
const V3_INTERVAL_HELP: &str = "VRRPv3 intervals are 10ms..40950ms in steps of 10ms";
const V2_INTERVAL_HELP: &str = "VRRPv2 intervals are whole seconds 1s..255s";

pub(super) fn at(location: &Location) -> Position {
    (location.line(), location.column())
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

/// What makes an address unusable as a virtual address, peer or source.
fn special_address(address: &IpAddr) -> Option<&'static str> {
    if address.is_unspecified() {
        Some("the unspecified address")
    } else if address.is_loopback() {
        Some("a loopback address")
    } else if address.is_multicast() {
        Some("a multicast address")
    } else if matches!(address, IpAddr::V4(v4) if v4.is_broadcast()) {
        Some("the broadcast address")
    } else {
        None
    }
}

/// Linux's `dev_valid_name`: 1..=15 bytes, not `.` or `..`, no `/`, `:` or whitespace.
pub(super) fn interface_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the interface name is empty".to_owned());
    }
    if name.len() > MAX_INTERFACE_NAME {
        return Some(format!(
            "`{name}` is {} bytes long; Linux interface names are at most {MAX_INTERFACE_NAME}",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return Some(format!("`{name}` is not a valid interface name"));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| c == '/' || c == ':' || c.is_whitespace())
    {
        return Some(format!(
            "`{name}` contains `{c}`, which Linux does not allow in interface names"
        ));
    }
    None
}

pub(super) fn name_is_valid(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Parse `192.0.2.1` or `192.0.2.1/24` (prefix optional: the full length).
fn parse_prefixed(text: &str) -> Result<(IpAddr, u8), String> {
    let text = text.trim();
    let (address_text, prefix_text) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let address: IpAddr = address_text
        .parse()
        .map_err(|_| format!("`{address_text}` is not an IPv4 or IPv6 address"))?;
    let max = match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let prefix_len = match prefix_text {
        None => max,
        Some(prefix) => match prefix.parse::<u8>() {
            Ok(p) if (1..=max).contains(&p) => p,
            _ => {
                return Err(format!(
                    "`/{prefix}` is not a prefix length for {}: write /1 to /{max}",
                    family_name(Family::of(&address))
                ));
            }
        },
    };
    Ok((address, prefix_len))
}

/// Replace the value of a `password:` line, so error output does not carry the secret.
fn redact(line: String) -> String {
    match line.find("password") {
        Some(start) => match line[start..].find(':') {
            Some(colon) => format!("{} ********", &line[..start + colon + 1]),
            None => line,
        },
        None => line,
    }
}

/// A valid virtual address with where it was written.
struct PlacedAddress {
    address: IpAddr,
    at: Position,
    key: String,
}

/// What one router contributes to the checks across routers.
struct Identity {
    name: Option<String>,
    name_at: Position,
    interface: String,
    vrid: Option<u8>,
    vrid_at: Position,
    family: Option<Family>,
    /// Valid virtual addresses with their position and key.
    vips: Vec<PlacedAddress>,
    line: u64,
}

pub(super) struct Validator<'a> {
    pub(super) sink: Sink<'a>,
}

pub(crate) fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let sink = Sink::new(path, text);
    let paths = KeyPaths::build(text);
    let invalid = |diagnostic| ConfigError::Invalid {
        path: path.to_path_buf(),
        diagnostics: vec![diagnostic],
        omitted: 0,
    };
    if let Some(diagnostic) = syntax_error(&paths, &sink) {
        return Err(invalid(diagnostic));
    }
    let raw = match schema::from_yaml(text) {
        Ok(raw) => raw,
        Err(err) => return Err(invalid(from_yaml_error(&err, text, &paths, &sink))),
    };
    let mut validator = Validator { sink };
    let (routers, sync_groups, health) = validator.config(&raw);
    let Sink {
        mut errors,
        mut warnings,
        omitted_errors,
        ..
    } = validator.sink;
    if errors.is_empty() {
        warnings.sort_by_key(|d| (d.line, d.column));
        Ok(Config {
            path: path.to_path_buf(),
            global: health.global,
            routers,
            sync_groups,
            checks: health.checks,
            warnings,
        })
    } else {
        errors.sort_by_key(|d| (d.line, d.column));
        Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            diagnostics: errors,
            omitted: omitted_errors,
        })
    }
}

impl Validator<'_> {
    fn config(&mut self, raw: &RawConfig) -> (Vec<RouterSpec>, Vec<SyncGroupSpec>, Health) {
        let mut health = Health::default();
        if let Some(global) = &raw.global {
            health.global = self.global(&global.value, &mut health);
        }
        if let Some(checks) = &raw.checks {
            self.checks(&checks.value, &mut health);
        }
        let check_names: Vec<String> = match &raw.checks {
            Some(checks) => checks
                .value
                .iter()
                .map(|c| c.value.name.value.trim().to_owned())
                .collect(),
            None => Vec::new(),
        };
        let check_names: Vec<&str> = check_names.iter().map(String::as_str).collect();
        if raw.routers.value.is_empty() {
            self.sink.error(
                at(&raw.routers.referenced),
                "routers",
                "no routers are configured",
                Some("add at least one router: `- {name: web, interface: eth0, vrid: 51, addresses: [192.0.2.100/24]}`".to_owned()),
            );
        }
        let mut routers: Vec<RouterSpec> = Vec::new();
        let mut identities = Vec::new();
        for (index, raw_router) in raw.routers.value.iter().enumerate() {
            let (spec, identity) = self.router(index, raw_router, &check_names, &mut health);
            identities.push(identity);
            if let Some(spec) = spec {
                routers.push(spec);
            }
        }
        self.across_routers(&identities);
        let mut all_names: Vec<&str> = Vec::new();
        for router in &raw.routers.value {
            let name = router.value.name.value.trim();
            if !all_names.contains(&name) {
                all_names.push(name);
            }
        }
        let sync_groups = match &raw.sync_groups {
            Some(groups) => self.sync_groups(groups, &all_names, &check_names, &mut health),
            None => Vec::new(),
        };
        self.apply_group_tracks(&mut routers, &sync_groups, &health);
        self.commands_are_safe(&health);
        (routers, sync_groups, health)
    }

    /// Validate one router. The spec is `None` when any of its checks failed; the identity
    /// is as complete as the valid parts allow, for the checks across routers.
    fn router(
        &mut self,
        index: usize,
        raw: &S<RawRouter>,
        check_names: &[&str],
        health: &mut Health,
    ) -> (Option<RouterSpec>, Identity) {
        let errors_before = self.sink.errors.len();
        let key = format!("routers[{index}]");
        let k = |field: &str| format!("{key}.{field}");
        let r = &raw.value;

        let name = r.name.value.trim().to_owned();
        if !name_is_valid(&name) {
            self.sink.error(
                at(&r.name.referenced),
                &k("name"),
                format!("`{}` is not a valid router name", r.name.value),
                Some(format!(
                    "a name is 1 to {MAX_NAME} letters, digits, `-`, `_` and `.`; it appears in logs, metrics and notify hooks"
                )),
            );
        }

        let interface = r.interface.value.trim().to_owned();
        if let Some(problem) = interface_name_problem(&interface) {
            self.sink.error(
                at(&r.interface.referenced),
                &k("interface"),
                problem,
                Some("the name of the interface to run VRRP on, such as eth0".to_owned()),
            );
        }

        let vrid = match u8::try_from(r.vrid.value) {
            Ok(v) if v >= 1 => Some(v),
            _ => {
                let message = if r.vrid.value == 0 {
                    "vrid 0 is not a valid VRID".to_owned()
                } else {
                    format!("vrid {} is out of range", r.vrid.value)
                };
                self.sink.error(
                    at(&r.vrid.referenced),
                    &k("vrid"),
                    message,
                    Some(
                        "a VRID is 1..=255, unique per interface and address family (keepalived's virtual_router_id)"
                            .to_owned(),
                    ),
                );
                None
            }
        };

        let version = match &r.version {
            None => Version::V3,
            Some(v) if v.value == 3 => Version::V3,
            Some(v) if v.value == 2 => Version::V2,
            Some(v) => {
                self.sink.error(
                    at(&v.referenced),
                    &k("version"),
                    format!("VRRP version {} does not exist", v.value),
                    Some(
                        "write 3 (VRRPv3, RFC 9568, the default) or 2 (VRRPv2, RFC 3768)"
                            .to_owned(),
                    ),
                );
                Version::V3
            }
        };

        let priority = match &r.priority {
            None => DEFAULT_PRIORITY,
            Some(p) => match u8::try_from(p.value) {
                Ok(v) if v >= 1 => v,
                _ => {
                    let (message, help) = if p.value == 0 {
                        (
                            "priority 0 is reserved: it is what a leaving master advertises"
                                .to_owned(),
                            "use 1..=254, or 255 for the owner of the addresses",
                        )
                    } else {
                        (
                            format!("priority {} is out of range", p.value),
                            "priorities are 1..=255; 255 marks the owner of the addresses",
                        )
                    };
                    self.sink.error(
                        at(&p.referenced),
                        &k("priority"),
                        message,
                        Some(help.to_owned()),
                    );
                    DEFAULT_PRIORITY
                }
            },
        };

        let advert_interval = match &r.advert_interval {
            None => DEFAULT_ADVERT_INTERVAL,
            Some(text) => self
                .advert_interval(text, version, &k("advert_interval"))
                .unwrap_or(DEFAULT_ADVERT_INTERVAL),
        };

        let preempt = r.preempt.as_ref().is_none_or(|p| p.value);
        let preempt_delay = match &r.preempt_delay {
            None => Duration::ZERO,
            Some(text) => self
                .duration_in(
                    text,
                    &k("preempt_delay"),
                    Duration::ZERO,
                    MAX_PREEMPT_DELAY,
                    "a preempt delay is 0s..1h",
                )
                .unwrap_or(Duration::ZERO),
        };
        if let (Some(p), Some(delay)) = (&r.preempt, &r.preempt_delay)
            && !p.value
            && !preempt_delay.is_zero()
        {
            self.sink.warning(
                at(&delay.referenced),
                &k("preempt_delay"),
                "preempt_delay has no effect with `preempt: false`",
                None,
            );
        }
        if priority == 255
            && let Some(p) = &r.preempt
            && !p.value
        {
            self.sink.warning(
                at(&p.referenced),
                &k("preempt"),
                "the owner of the addresses (priority 255) always takes over; `preempt: false` has no effect",
                None,
            );
        }
        let accept_mode = r.accept_mode.as_ref().is_none_or(|a| a.value);

        let (addresses, family, vips) = self.addresses(&key, r, version, &interface);

        let unicast = r
            .unicast
            .as_ref()
            .and_then(|u| self.unicast(&k("unicast"), u, family, &vips));

        let checksum = match &r.checksum {
            None => ChecksumMode::Auto,
            Some(c) => {
                let mode = match c.value {
                    RawChecksum::Auto => ChecksumMode::Auto,
                    RawChecksum::WithPseudoHeader => ChecksumMode::WithPseudoHeader,
                    RawChecksum::WithoutPseudoHeader => ChecksumMode::WithoutPseudoHeader,
                };
                if mode != ChecksumMode::Auto {
                    if version == Version::V2 {
                        self.sink.error(
                            at(&c.referenced),
                            &k("checksum"),
                            format!("`checksum: {mode}` applies only to VRRPv3 over IPv4"),
                            Some("a VRRPv2 checksum never covers a pseudo-header; remove `checksum` or write auto".to_owned()),
                        );
                    } else if family == Some(Family::V6) {
                        self.sink.error(
                            at(&c.referenced),
                            &k("checksum"),
                            format!("`checksum: {mode}` applies only to VRRPv3 over IPv4"),
                            Some("VRRPv3 over IPv6 always includes the IPv6 pseudo-header; remove `checksum` or write auto".to_owned()),
                        );
                    }
                }
                mode
            }
        };

        let announce = match &r.announce {
            None => Announce::default(),
            Some(a) => self.announce(&k("announce"), &a.value),
        };

        let password = match &r.password {
            None => None,
            Some(p) => {
                let before = self.sink.errors.len();
                if version == Version::V3 {
                    self.sink.error(
                        at(&p.referenced),
                        &k("password"),
                        "a password is VRRPv2 only",
                        Some("VRRPv3 (RFC 9568) has no authentication; remove `password`, or set `version: 2`".to_owned()),
                    );
                } else if !(1..=8).contains(&p.value.len()) {
                    self.sink.error(
                        at(&p.referenced),
                        &k("password"),
                        format!("the password is {} bytes long", p.value.len()),
                        Some(
                            "VRRPv2 passwords are 1 to 8 bytes (keepalived's auth_pass)".to_owned(),
                        ),
                    );
                }
                for diagnostic in &mut self.sink.errors[before..] {
                    diagnostic.source_line = diagnostic.source_line.take().map(redact);
                }
                Some(p.value.clone())
            }
        };

        let track = match &r.track {
            Some(track) => self.track(&k("track"), track, check_names),
            None => Vec::new(),
        };
        let notify = r
            .notify
            .as_ref()
            .and_then(|n| self.notify(&k("notify"), n, health));

        let identity = Identity {
            name: name_is_valid(&name).then(|| name.clone()),
            name_at: at(&r.name.referenced),
            interface: interface.clone(),
            vrid,
            vrid_at: at(&r.vrid.referenced),
            family,
            vips,
            line: raw.referenced.line(),
        };
        if self.sink.errors.len() != errors_before {
            return (None, identity);
        }
        let (Some(vrid), Some(_)) = (vrid, family) else {
            return (None, identity);
        };
        let spec = RouterSpec {
            name,
            interface,
            vrid,
            version,
            priority,
            advert_interval,
            preempt,
            preempt_delay,
            accept_mode,
            addresses,
            unicast,
            checksum,
            announce,
            password,
            track,
            notify,
        };
        (Some(spec), identity)
    }

    fn advert_interval(
        &mut self,
        text: &S<String>,
        version: Version,
        key: &str,
    ) -> Option<Centisecs> {
        let shown = text.value.trim();
        let duration = self.duration(text, key)?;
        let here = at(&text.referenced);
        match version {
            Version::V3 => {
                if duration < Duration::from_millis(10) {
                    self.sink.error(
                        here,
                        key,
                        format!("{shown} is shorter than 10ms"),
                        Some(V3_INTERVAL_HELP.to_owned()),
                    );
                    None
                } else if duration.as_nanos() % 10_000_000 != 0 {
                    self.sink.error(
                        here,
                        key,
                        format!("{shown} is not a multiple of 10ms"),
                        Some(V3_INTERVAL_HELP.to_owned()),
                    );
                    None
                } else if let Some(cs) = Centisecs::from_duration(duration) {
                    Some(cs)
                } else {
                    self.sink.error(
                        here,
                        key,
                        format!("{shown} is longer than 40950ms"),
                        Some(V3_INTERVAL_HELP.to_owned()),
                    );
                    None
                }
            }
            Version::V2 => {
                let secs = duration.as_secs();
                if duration.subsec_nanos() != 0 || !(1..=255).contains(&secs) {
                    let message = if duration.subsec_nanos() != 0 {
                        format!("{shown} is not a whole number of seconds")
                    } else {
                        format!("{shown} is out of range for VRRPv2")
                    };
                    self.sink.error(
                        here,
                        key,
                        message,
                        Some(format!(
                            "{V2_INTERVAL_HELP}; sub-second intervals need `version: 3`"
                        )),
                    );
                    None
                } else {
                    u8::try_from(secs).ok().map(Centisecs::from_secs)
                }
            }
        }
    }

    fn duration(&mut self, text: &S<String>, key: &str) -> Option<Duration> {
        match parse_duration(&text.value) {
            Ok(d) => Some(d),
            Err(err) => {
                self.sink.error(
                    at(&text.referenced),
                    key,
                    err.0,
                    Some(DURATION_SYNTAX.to_owned()),
                );
                None
            }
        }
    }

    pub(super) fn duration_in(
        &mut self,
        text: &S<String>,
        key: &str,
        min: Duration,
        max: Duration,
        help: &str,
    ) -> Option<Duration> {
        let duration = self.duration(text, key)?;
        if duration < min || duration > max {
            self.sink.error(
                at(&text.referenced),
                key,
                format!(
                    "{} is {} {}",
                    text.value.trim(),
                    if duration < min {
                        "shorter than"
                    } else {
                        "longer than"
                    },
                    format_duration(if duration < min { min } else { max })
                ),
                Some(help.to_owned()),
            );
            return None;
        }
        Some(duration)
    }

    /// A duration or `off`.
    fn optional_duration(
        &mut self,
        text: &S<String>,
        key: &str,
        min: Duration,
        max: Duration,
        help: &str,
    ) -> Option<Option<Duration>> {
        if text.value.trim() == "off" {
            return Some(None);
        }
        if text.value.trim() == "0s" || text.value.trim() == "0ms" {
            self.sink.error(
                at(&text.referenced),
                key,
                format!("{} is not a valid period", text.value.trim()),
                Some(format!("{help}; to disable, write off")),
            );
            return None;
        }
        self.duration_in(text, key, min, max, help).map(Some)
    }

    fn addresses(
        &mut self,
        key: &str,
        r: &RawRouter,
        version: Version,
        interface: &str,
    ) -> (Vec<VirtualAddress>, Option<Family>, Vec<PlacedAddress>) {
        let list = &r.addresses;
        let mut addresses = Vec::new();
        let mut vips: Vec<PlacedAddress> = Vec::new();
        let mut family: Option<(Family, IpAddr)> = None;
        if list.value.is_empty() {
            self.sink.error(
                at(&list.referenced),
                &format!("{key}.addresses"),
                "a router needs at least one virtual address",
                Some("list them: `addresses: [192.0.2.100/24]`".to_owned()),
            );
        }
        for (index, item) in list.value.iter().enumerate() {
            let item_key = format!("{key}.addresses[{index}]");
            let (text, text_at, text_key, device, label) = match &item.value {
                RawAddress::Short(text) => (
                    text.as_str(),
                    at(&item.referenced),
                    item_key.clone(),
                    None,
                    None,
                ),
                RawAddress::Long(map) => (
                    map.address.value.as_str(),
                    at(&map.address.referenced),
                    format!("{item_key}.address"),
                    map.device.as_ref(),
                    map.label.as_ref(),
                ),
            };
            let errors_before = self.sink.errors.len();
            let parsed = match parse_prefixed(text) {
                Ok(parsed) => Some(parsed),
                Err(message) => {
                    self.sink.error(
                        text_at,
                        &text_key,
                        message,
                        Some("an IPv4 or IPv6 address with an optional prefix length: 192.0.2.100/24, 2001:db8::100/64".to_owned()),
                    );
                    None
                }
            };
            if let Some((address, _)) = parsed {
                let this_family = Family::of(&address);
                if let Some(what) = special_address(&address) {
                    self.sink.error(
                        text_at,
                        &text_key,
                        format!("{address} is {what} and cannot be a virtual address"),
                        None,
                    );
                } else if version == Version::V2 && this_family == Family::V6 {
                    self.sink.error(
                        text_at,
                        &text_key,
                        format!("{address} is IPv6, but VRRPv2 carries IPv4 addresses only"),
                        Some("use `version: 3` (the default) for IPv6".to_owned()),
                    );
                } else if let Some((first_family, first)) = family
                    && first_family != this_family
                {
                    self.sink.error(
                        text_at,
                        &text_key,
                        format!(
                            "{address} is {} but the router's first address {first} is {}",
                            family_name(this_family),
                            family_name(first_family)
                        ),
                        Some("a router has one address family; make a second router (it may use the same vrid) for the other family".to_owned()),
                    );
                } else if let Some(PlacedAddress {
                    at: first_at,
                    key: first_key,
                    ..
                }) = vips.iter().find(|v| v.address == address)
                {
                    self.sink.error(
                        text_at,
                        &text_key,
                        format!("{address} is listed twice"),
                        Some(format!("first at {first_key} (line {})", first_at.0)),
                    );
                } else {
                    if family.is_none() {
                        family = Some((this_family, address));
                    }
                    vips.push(PlacedAddress {
                        address,
                        at: text_at,
                        key: text_key.clone(),
                    });
                }
            }

            let device_name = match device {
                None => None,
                Some(d) => {
                    let name = d.value.trim().to_owned();
                    if let Some(problem) = interface_name_problem(&name) {
                        self.sink.error(
                            at(&d.referenced),
                            &format!("{item_key}.device"),
                            problem,
                            Some(
                                "the interface to add this address to, when not the router's own"
                                    .to_owned(),
                            ),
                        );
                    }
                    Some(name)
                }
            };
            let label_text = match label {
                None => None,
                Some(l) => {
                    let label_key = format!("{item_key}.label");
                    let label_value = l.value.trim().to_owned();
                    let device = device_name.as_deref().unwrap_or(interface);
                    let prefix = format!("{device}:");
                    if let Some((address, _)) = parsed
                        && address.is_ipv6()
                    {
                        self.sink.error(
                            at(&l.referenced),
                            &label_key,
                            "address labels are IPv4 only",
                            Some(
                                "Linux has no labels for IPv6 addresses; remove `label`".to_owned(),
                            ),
                        );
                    } else if !label_value.starts_with(&prefix) || label_value.len() == prefix.len()
                    {
                        self.sink.error(
                            at(&l.referenced),
                            &label_key,
                            format!("label `{label_value}` does not start with `{prefix}`"),
                            Some(format!(
                                "Linux requires a label to be the interface name, `:` and a suffix, such as `{prefix}vip`"
                            )),
                        );
                    } else if label_value.len() > MAX_INTERFACE_NAME {
                        self.sink.error(
                            at(&l.referenced),
                            &label_key,
                            format!("label `{label_value}` is {} bytes long", label_value.len()),
                            Some(format!(
                                "Linux labels are at most {MAX_INTERFACE_NAME} bytes (IFNAMSIZ)"
                            )),
                        );
                    } else if label_value[prefix.len()..]
                        .contains(|c: char| c.is_whitespace() || c == '/')
                    {
                        self.sink.error(
                            at(&l.referenced),
                            &label_key,
                            format!("label `{label_value}` contains a space or `/`"),
                            None,
                        );
                    }
                    Some(label_value)
                }
            };

            if self.sink.errors.len() == errors_before
                && let Some((address, prefix_len)) = parsed
            {
                if let IpAddr::V4(v4) = address
                    && prefix_len < 31
                {
                    let host_bits = u32::MAX >> prefix_len;
                    let bits = u32::from(v4) & host_bits;
                    if bits == 0 || bits == host_bits {
                        self.sink.warning(
                            text_at,
                            &text_key,
                            format!(
                                "{address} is the {} address of {address}/{prefix_len}",
                                if bits == 0 { "network" } else { "broadcast" }
                            ),
                            None,
                        );
                    }
                }
                addresses.push(VirtualAddress {
                    address,
                    prefix_len,
                    device: device_name,
                    label: label_text,
                });
            }
        }

        let count = list.value.len();
        if count > MAX_ADDRESSES {
            self.sink.error(
                at(&list.referenced),
                &format!("{key}.addresses"),
                format!("{count} addresses do not fit one advertisement"),
                Some(format!("VRRP carries at most {MAX_ADDRESSES} addresses per router; split them over several routers")),
            );
        } else if family.is_some_and(|(f, _)| f == Family::V6)
            && count > MAX_IPV6_ADDRESSES_IN_MIN_MTU
        {
            self.sink.error(
                at(&list.referenced),
                &format!("{key}.addresses"),
                format!("{count} IPv6 addresses do not fit one advertisement in the IPv6 minimum MTU of 1280 bytes"),
                Some(format!("at most {MAX_IPV6_ADDRESSES_IN_MIN_MTU} IPv6 addresses per router; split them over several routers")),
            );
        }
        (addresses, family.map(|(f, _)| f), vips)
    }

    fn unicast(
        &mut self,
        key: &str,
        raw: &S<RawUnicast>,
        family: Option<Family>,
        vips: &[PlacedAddress],
    ) -> Option<Unicast> {
        let errors_before = self.sink.errors.len();
        let u = &raw.value;
        let check = |this: &mut Self, text: &S<String>, what_key: &str| -> Option<IpAddr> {
            let here = at(&text.referenced);
            let trimmed = text.value.trim();
            let address: IpAddr = match trimmed.parse() {
                Ok(a) => a,
                Err(_) => {
                    let help = if trimmed.contains('/') {
                        "write the address alone, without a prefix length"
                    } else {
                        "an IPv4 or IPv6 address, such as 192.0.2.11"
                    };
                    this.sink.error(
                        here,
                        what_key,
                        format!("`{trimmed}` is not an IP address"),
                        Some(help.to_owned()),
                    );
                    return None;
                }
            };
            if let Some(what) = special_address(&address) {
                this.sink.error(
                    here,
                    what_key,
                    format!("{address} is {what}"),
                    Some("a unicast address of a router on the link".to_owned()),
                );
                return None;
            }
            if let Some(family) = family
                && Family::of(&address) != family
            {
                this.sink.error(
                    here,
                    what_key,
                    format!(
                        "{address} is {} but the router's addresses are {}",
                        family_name(Family::of(&address)),
                        family_name(family)
                    ),
                    Some("unicast addresses are of the router's address family".to_owned()),
                );
                return None;
            }
            if let Some(PlacedAddress {
                at: vip_at,
                key: vip_key,
                ..
            }) = vips.iter().find(|v| v.address == address)
            {
                this.sink.error(
                    here,
                    what_key,
                    format!("{address} is a virtual address of this router ({vip_key}, line {})", vip_at.0),
                    Some("unicast source and peers are the routers' own addresses, which stay when the virtual ones move".to_owned()),
                );
                return None;
            }
            Some(address)
        };

        let source = u
            .source
            .as_ref()
            .and_then(|s| check(self, s, &format!("{key}.source")));
        let mut peers: Vec<IpAddr> = Vec::new();
        let mut seen: HashMap<IpAddr, u64> = HashMap::new();
        if u.peers.value.is_empty() {
            self.sink.error(
                at(&u.peers.referenced),
                &format!("{key}.peers"),
                "unicast mode needs at least one peer",
                Some(
                    "list the other routers' addresses, or remove `unicast:` for multicast"
                        .to_owned(),
                ),
            );
        }
        for (index, peer) in u.peers.value.iter().enumerate() {
            let peer_key = format!("{key}.peers[{index}]");
            let Some(address) = check(self, peer, &peer_key) else {
                continue;
            };
            if Some(address) == source {
                self.sink.error(
                    at(&peer.referenced),
                    &peer_key,
                    format!("{address} is this router's own unicast source"),
                    Some("peers are the other routers; remove this one".to_owned()),
                );
            } else if let Some(line) = seen.get(&address) {
                self.sink.error(
                    at(&peer.referenced),
                    &peer_key,
                    format!("peer {address} is listed twice (first on line {line})"),
                    None,
                );
            } else {
                seen.insert(address, peer.referenced.line());
                peers.push(address);
            }
        }
        (self.sink.errors.len() == errors_before).then_some(Unicast { source, peers })
    }

    fn announce(&mut self, key: &str, raw: &RawAnnounce) -> Announce {
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

    fn across_routers(&mut self, identities: &[Identity]) {
        let mut names: HashMap<&str, u64> = HashMap::new();
        let mut vrids: HashMap<(&str, u8, Family), (&Identity, usize)> = HashMap::new();
        let mut vips: HashMap<IpAddr, (&Identity, usize)> = HashMap::new();
        for (index, identity) in identities.iter().enumerate() {
            if let Some(name) = &identity.name {
                if let Some(line) = names.get(name.as_str()) {
                    self.sink.error(
                        identity.name_at,
                        &format!("routers[{index}].name"),
                        format!(
                            "router name `{name}` is already used by the router on line {line}"
                        ),
                        Some("router names are unique".to_owned()),
                    );
                } else {
                    names.insert(name, identity.line);
                }
            }
            if let (Some(vrid), Some(family)) = (identity.vrid, identity.family) {
                let id = (identity.interface.as_str(), vrid, family);
                if let Some((first, first_index)) = vrids.get(&id) {
                    self.sink.error(
                        identity.vrid_at,
                        &format!("routers[{index}].vrid"),
                        format!(
                            "vrid {vrid} on {} for {} is already used by routers[{first_index}]{} (line {})",
                            identity.interface,
                            family_name(family),
                            first.name.as_deref().map(|n| format!(" `{n}`")).unwrap_or_default(),
                            first.vrid_at.0
                        ),
                        Some("a VRID is unique per interface and address family: pick another vrid".to_owned()),
                    );
                } else {
                    vrids.insert(id, (identity, index));
                }
            }
            for PlacedAddress {
                address,
                at: address_at,
                key: address_key,
            } in &identity.vips
            {
                if let Some((first, first_index)) = vips.get(address) {
                    if !std::ptr::eq(*first, identity) {
                        self.sink.error(
                            *address_at,
                            address_key,
                            format!(
                                "{address} is already a virtual address of routers[{first_index}]{}",
                                first.name.as_deref().map(|n| format!(" `{n}`")).unwrap_or_default()
                            ),
                            Some("two routers holding one address would fight over it; keep it in one".to_owned()),
                        );
                    }
                } else {
                    vips.insert(*address, (identity, index));
                }
            }
        }
    }

    /// The name at `key.name`, trimmed; an error there if it is not a valid name or if
    /// `seen` (name -> line) already has it, else it is added to `seen`. `what` names
    /// the kind of thing in the messages: "check", "sync group".
    pub(super) fn unique_name(
        &mut self,
        key: &str,
        what: &str,
        raw: &S<String>,
        seen: &mut HashMap<String, u64>,
    ) -> String {
        let name = raw.value.trim().to_owned();
        if !name_is_valid(&name) {
            self.sink.error(
                at(&raw.referenced),
                &format!("{key}.name"),
                format!("`{}` is not a valid {what} name", raw.value),
                Some(format!(
                    "a name is 1 to {MAX_NAME} letters, digits, `-`, `_` and `.`"
                )),
            );
        } else if let Some(line) = seen.get(&name) {
            self.sink.error(
                at(&raw.referenced),
                &format!("{key}.name"),
                format!("{what} name `{name}` is already used on line {line}"),
                Some(format!("{what} names are unique")),
            );
        } else {
            seen.insert(name.clone(), raw.referenced.line());
        }
        name
    }

    fn sync_groups(
        &mut self,
        groups: &S<Vec<S<RawSyncGroup>>>,
        router_names: &[&str],
        check_names: &[&str],
        health: &mut Health,
    ) -> Vec<SyncGroupSpec> {
        let mut specs = Vec::new();
        let mut group_names: HashMap<String, u64> = HashMap::new();
        let mut membership: HashMap<String, (String, u64)> = HashMap::new();
        for (index, group) in groups.value.iter().enumerate() {
            let key = format!("sync_groups[{index}]");
            let errors_before = self.sink.errors.len();
            let g = &group.value;
            let name = self.unique_name(&key, "sync group", &g.name, &mut group_names);

            if g.routers.value.is_empty() {
                self.sink.error(
                    at(&g.routers.referenced),
                    &format!("{key}.routers"),
                    "a sync group needs routers",
                    Some(
                        "list the names of the routers that move together: `routers: [web, db]`"
                            .to_owned(),
                    ),
                );
            } else if g.routers.value.len() == 1 {
                self.sink.warning(
                    at(&g.routers.referenced),
                    &format!("{key}.routers"),
                    "a sync group of one router has no effect",
                    Some("a group makes routers change state together; add another router or remove the group".to_owned()),
                );
            }
            let mut members: Vec<String> = Vec::new();
            for (member_index, member) in g.routers.value.iter().enumerate() {
                let member_key = format!("{key}.routers[{member_index}]");
                let member_name = member.value.trim().to_owned();
                let here = at(&member.referenced);
                if !router_names.contains(&member_name.as_str()) {
                    let mut help = Vec::new();
                    if let Some(close) = did_you_mean(&member_name, router_names) {
                        help.push(format!("did you mean `{close}`?"));
                    }
                    help.push(format!("routers defined: {}", router_names.join(", ")));
                    self.sink.error(
                        here,
                        &member_key,
                        format!("no router is named `{member_name}`"),
                        Some(help.join("\n")),
                    );
                } else if members.contains(&member_name) {
                    self.sink.error(
                        here,
                        &member_key,
                        format!("router `{member_name}` is listed twice in this group"),
                        None,
                    );
                } else if let Some((other, line)) = membership.get(&member_name) {
                    self.sink.error(
                        here,
                        &member_key,
                        format!("router `{member_name}` is already in sync group `{other}` (line {line})"),
                        Some("a router belongs to at most one sync group; merge the groups if they must move together".to_owned()),
                    );
                } else {
                    membership.insert(
                        member_name.clone(),
                        (name.clone(), member.referenced.line()),
                    );
                    members.push(member_name);
                }
            }
            let track = match &g.track {
                Some(track) => self.track(&format!("{key}.track"), track, check_names),
                None => Vec::new(),
            };
            let notify = g
                .notify
                .as_ref()
                .and_then(|n| self.notify(&format!("{key}.notify"), n, health));
            if self.sink.errors.len() == errors_before {
                specs.push(SyncGroupSpec {
                    name,
                    routers: members,
                    track,
                    notify,
                });
            }
        }
        specs
    }

    /// A sync group's checks apply to each member (after the member's own), and a check
    /// that nothing tracks is probably a mistake.
    fn apply_group_tracks(
        &mut self,
        routers: &mut [RouterSpec],
        groups: &[SyncGroupSpec],
        health: &Health,
    ) {
        for group in groups {
            for router in routers
                .iter_mut()
                .filter(|r| group.routers.contains(&r.name))
            {
                for check in &group.track {
                    if !router.track.contains(check) {
                        router.track.push(check.clone());
                    }
                }
            }
        }
        for (check, position) in health.checks.iter().zip(&health.check_at) {
            // A group's checks are in its members' `track` by now.
            let tracked = routers.iter().any(|r| r.track.contains(&check.name));
            if !tracked {
                self.sink.warning(
                    *position,
                    "checks",
                    format!(
                        "check `{}` is not tracked by any router or sync group",
                        check.name
                    ),
                    Some(format!(
                        "it runs but changes nothing; add `track: [{}]` to a router or sync group",
                        check.name
                    )),
                );
            }
        }
    }
}
