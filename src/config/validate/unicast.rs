//! A router's `unicast:` section: its source and peers, each a usable address of the
//! router's family that is not one of its virtual addresses, each peer once.

use std::collections::HashMap;
use std::net::IpAddr;

use super::Validator;
use super::addresses::PlacedAddress;
use super::values::{at, family_name, special_address};
use crate::config::Unicast;
use crate::config::schema::{RawUnicast, S};
use crate::proto::packet::Family;

impl Validator<'_> {
    pub(super) fn unicast(
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
}
