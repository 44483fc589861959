//! A router's `addresses:` list: each virtual address, its prefix, device and label,
//! one family per router, and how many fit one advertisement.

use std::net::IpAddr;

use super::Validator;
use super::values::{at, family_name, interface_name_problem, special_address};
use crate::config::locate::Position;
use crate::config::schema::{RawAddress, RawRouter};
use crate::config::{MAX_INTERFACE_NAME, VirtualAddress};
use crate::proto::packet::{Family, Version};

/// VRRPv2/v3 carry the address count in 8 bits.
const MAX_ADDRESSES: usize = 255;
/// Addresses that fit an IPv6 advertisement in the IPv6 minimum MTU:
/// (1280 - 40 IPv6 header - 8 VRRP header) / 16.
const MAX_IPV6_ADDRESSES_IN_MIN_MTU: usize = 77;

/// A valid virtual address with where it was written.
pub(super) struct PlacedAddress {
    pub(super) address: IpAddr,
    pub(super) at: Position,
    pub(super) key: String,
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

impl Validator<'_> {
    pub(super) fn addresses(
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
}
