//! A router's `unicast:` section: its source and peers, each a usable address of the
//! router's family that is not one of its virtual addresses, each peer once; and
//! `max_hops`, with a warning for a peer the file shows to be off-link while it is 0.
//!
//! `max_hops` lives under `unicast:` on purpose: multicast advertisements go to
//! 224.0.0.18 / ff02::12, which routers never forward, so hops have no meaning there and
//! a multicast router cannot even spell the key (unknown keys are refused).

use std::collections::HashMap;
use std::net::IpAddr;

use super::Validator;
use super::addresses::PlacedAddress;
use super::values::{at, family_name, special_address};
use crate::config::schema::{RawUnicast, S};
use crate::config::{Unicast, VirtualAddress, in_prefix, network};
use crate::proto::packet::Family;

impl Validator<'_> {
    pub(super) fn unicast(
        &mut self,
        key: &str,
        raw: &S<RawUnicast>,
        family: Option<Family>,
        vips: &[PlacedAddress],
        addresses: &[VirtualAddress],
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
        let max_hops = self.int_in(
            u.max_hops.as_ref(),
            0..=254,
            0,
            &format!("{key}.max_hops"),
            |n| format!("max_hops {n} is out of range 0..=254"),
            "0: peers on the same link (TTL 255, the RFC's rule); N: up to N routers between the peers"
                .to_owned(),
        );
        let max_hops = u8::try_from(max_hops).unwrap_or(0);
        let unicast = Unicast {
            source,
            peers,
            max_hops,
        };
        self.off_link_peers(key, u, &unicast, addresses);
        (self.sink.errors.len() == errors_before).then_some(unicast)
    }

    /// Warns about each peer that is not on the router's subnet as far as the file
    /// tells (the prefixes of its virtual addresses on its own interface, the one
    /// holding the unicast source when there is one) while `max_hops` is 0. Silent when
    /// the file does not say (host-length addresses only): the daemon checks at start.
    fn off_link_peers(
        &mut self,
        key: &str,
        raw: &RawUnicast,
        unicast: &Unicast,
        addresses: &[VirtualAddress],
    ) {
        let subnets: Vec<(IpAddr, u8)> = addresses
            .iter()
            .filter(|a| a.device.is_none())
            .filter(|a| {
                let full = if a.address.is_ipv4() { 32 } else { 128 };
                a.prefix_len < full
            })
            .map(|a| (a.address, a.prefix_len))
            .filter(|&(net, len)| unicast.source.is_none_or(|s| in_prefix(s, net, len)))
            .collect();
        if subnets.is_empty() {
            return;
        }
        let off_link = unicast.off_link_peers(&subnets);
        for (index, peer) in raw.peers.value.iter().enumerate() {
            let Ok(address) = peer.value.trim().parse::<IpAddr>() else {
                continue;
            };
            if !off_link.contains(&address) {
                continue;
            }
            let nets: Vec<String> = subnets
                .iter()
                .map(|&(net, len)| format!("{}/{len}", network(net, len)))
                .collect();
            self.sink.warning(
                at(&peer.referenced),
                &format!("{key}.peers[{index}]"),
                format!(
                    "peer {address} is not on this router's subnet ({}): its advertisements cross a router, arrive with a TTL below 255 and are dropped while max_hops is 0",
                    nets.join(", ")
                ),
                Some(format!(
                    "if the peer is routed, set `{key}.max_hops` to the number of routers in between (e.g. `max_hops: 1`); else fix the address"
                )),
            );
        }
    }
}
