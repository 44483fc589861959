//! The `routers:` section: one router's keys, and the rules across routers (unique
//! names, VRIDs per interface and family, addresses held by one router only).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use super::addresses::PlacedAddress;
use super::values::{MAX_NAME, at, family_name, interface_name_problem, name_is_valid};
use super::{Health, Validator};
use crate::config::locate::Position;
use crate::config::schema::{RawChecksum, RawRouter, S};
use crate::config::{
    Announce, ChecksumMode, DEFAULT_ADVERT_INTERVAL, DEFAULT_PRIORITY, MAX_PREEMPT_DELAY,
    RouterSpec, Unicast,
};
use crate::proto::packet::{Family, Version};
use crate::proto::timers::Centisecs;

const V3_INTERVAL_HELP: &str = "VRRPv3 intervals are 10ms..40950ms in steps of 10ms";
const V2_INTERVAL_HELP: &str = "VRRPv2 intervals are whole seconds 1s..255s";

/// What one router contributes to the checks across routers.
pub(super) struct Identity {
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

impl Validator<'_> {
    /// Validate one router. The spec is `None` when any of its checks failed; the identity
    /// is as complete as the valid parts allow, for the checks across routers.
    pub(super) fn router(
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
            .and_then(|u| self.unicast(&k("unicast"), u, family, &vips, &addresses));
        let hosts = r
            .hosts
            .as_ref()
            .and_then(|h| self.hosts(h, &k("hosts"), unicast.as_ref()));

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
            hosts,
            checksum,
            announce,
            password,
            track,
            notify,
        };
        (Some(spec), identity)
    }

    /// `hosts:` 2..=255; with unicast it must be the peers plus this router.
    fn hosts(&mut self, raw: &S<i64>, key: &str, unicast: Option<&Unicast>) -> Option<u8> {
        let here = at(&raw.referenced);
        let hosts = match u8::try_from(raw.value) {
            Ok(n) if n >= 2 => n,
            _ => {
                self.sink.error(
                    here,
                    key,
                    format!("hosts: {} is out of range", raw.value),
                    Some("the number of hosts running this virtual router, this one included: 2..=255".to_owned()),
                );
                return None;
            }
        };
        if let Some(unicast) = unicast
            && usize::from(hosts) != unicast.peers.len() + 1
        {
            let peers = unicast.peers.len();
            self.sink.error(
                here,
                key,
                format!(
                    "hosts: {hosts} but unicast lists {peers} peer{} ({} host{} with this one)",
                    if peers == 1 { "" } else { "s" },
                    peers + 1,
                    if peers == 0 { "" } else { "s" }
                ),
                Some("with unicast the hosts are the peers plus this router; fix the count or the peers, or remove `hosts`".to_owned()),
            );
            return None;
        }
        Some(hosts)
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

    pub(super) fn across_routers(&mut self, identities: &[Identity]) {
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
}
