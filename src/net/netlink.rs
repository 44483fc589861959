//! rtnetlink: links, addresses, and the link/address watch.
//!
//! Owns: reading link state, MACs and addresses from the kernel, adding and removing
//! virtual addresses idempotently, and turning kernel notifications into [`NetEvent`]s.
//! Must not decide what an event means for a virtual router: events are hints (the
//! kernel batches link changes, a short flap can vanish, the socket can overrun), and the
//! daemon re-reads state on each of them; failover rests on advertisement timers.
//!
//! # Decisions
//!
//! - **Idempotence.** Adding an address that is already there (`EEXIST`) and removing one
//!   that is not (`EADDRNOTAVAIL`, or `ENODEV` when the interface itself is gone) are
//!   success: the daemon states what it wants, and a retry after a crash or a race with
//!   an operator must not turn into an error. The check is the kernel's: an IPv4 address
//!   matches on address *and* prefix length (192.0.2.100/24 and /32 can coexist), an IPv6
//!   one on the address alone; removal needs the prefix length the address was added with.
//! - **IPv6 VIPs get `IFA_F_NODAD`**, as keepalived adds them: duplicate address
//!   detection would keep the address tentative (unusable as a source, not answering
//!   neighbour solicitations) for a second or more after a failover, and the VRRP election
//!   already guarantees the address is on one host.
//! - **No `IFA_F_NOPREFIXROUTE`.** The kernel adds the prefix route as `ip addr add`
//!   would, and removes it with the last address of the prefix; keepalived's default is
//!   the same. A VIP in the interface's own subnet changes nothing; a VIP in another
//!   subnet becomes reachable on-link, which is what an operator who wrote a prefix
//!   expects (write /32 or /128 to get no route).
//! - **Labels** (`ip addr add ... label eth0:vip`) exist only for IPv4; for IPv6 the
//!   kernel has no labels and the argument is ignored. The kernel limits a label to 15
//!   bytes.

use std::io;
use std::net::IpAddr;

use futures::{Stream, StreamExt, TryStreamExt};
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::sys::AsyncSocket;
use rtnetlink::{Handle, constants};

use super::error::NetError;
use crate::proto::packet::Family;

/// `IFNAMSIZ - 1`: the longest label the kernel stores.
const MAX_LABEL_LEN: usize = 15;

/// A hint from the kernel that something changed. Re-read the state it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetEvent {
    /// An RTM_NEWLINK: flags, carrier or anything else of the link changed; `up` is
    /// IFF_UP and IFF_RUNNING (administratively up and carrier/operstate up) as the
    /// message reported it.
    LinkChanged { index: u32, up: bool },
    /// An RTM_DELLINK: the interface is gone.
    LinkRemoved { index: u32 },
    /// An RTM_NEWADDR (an address added, or its flags changed, e.g. DAD finished).
    AddressAdded { index: u32, addr: IpAddr },
    /// An RTM_DELADDR: someone (maybe us) removed an address.
    AddressRemoved { index: u32, addr: IpAddr },
    /// The kernel dropped notifications (ENOBUFS on the watch socket): any state may have
    /// changed unseen. Re-read everything.
    Overrun,
}

/// One address of an interface, with the flags that matter to the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressEntry {
    pub addr: IpAddr,
    pub prefix_len: u8,
    /// IFA_F_TENTATIVE: DAD still running (IPv6); unusable as a source.
    pub tentative: bool,
    /// IFA_F_DADFAILED: a duplicate was found (IPv6); unusable.
    pub dad_failed: bool,
    /// IFA_F_SECONDARY: an IPv4 address in the subnet of another (primary) one.
    pub secondary: bool,
    /// IFA_F_NODAD: added without duplicate address detection (our IPv6 VIPs).
    pub nodad: bool,
    /// The IPv4 label, if the kernel reported one.
    pub label: Option<String>,
}

/// What the kernel says about one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    /// The 6-byte hardware address, if the link has one.
    pub mac: Option<[u8; 6]>,
    /// IFF_UP and IFF_RUNNING.
    pub up: bool,
}

/// A handle on the rtnetlink request socket. Cheap to clone; every clone shares the one
/// connection task.
#[derive(Debug, Clone)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// Opens the request socket and spawns its connection task on the current tokio
    /// runtime (so this must be called inside one). The socket belongs to the network
    /// namespace of the calling thread.
    pub fn new() -> Result<Netlink, NetError> {
        require_runtime("requests")?;
        let (connection, handle, _unsolicited) =
            rtnetlink::new_connection().map_err(|source| NetError::NetlinkOpen {
                purpose: "requests",
                source,
            })?;
        tokio::spawn(connection);
        Ok(Netlink { handle })
    }

    /// The index of the interface called `name`.
    pub async fn link_index(&self, name: &str) -> Result<u32, NetError> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_owned())
            .execute();
        match links.try_next().await {
            Ok(Some(link)) => Ok(link.header.index),
            Ok(None) => Err(NetError::LinkNotFound {
                iface: name.to_owned(),
            }),
            Err(error) if errno(&error) == Some(libc::ENODEV) => Err(NetError::LinkNotFound {
                iface: name.to_owned(),
            }),
            Err(source) => Err(NetError::Netlink {
                op: "get link",
                iface: name.to_owned(),
                source: Box::new(source),
            }),
        }
    }

    /// Name, MAC and up-ness of the link with this index.
    pub async fn link(&self, index: u32) -> Result<LinkInfo, NetError> {
        let message = self.link_message(index).await?;
        Ok(link_info(&message))
    }

    /// The MAC address of the link (the source of GARP / NA frames).
    pub async fn link_mac(&self, index: u32) -> Result<[u8; 6], NetError> {
        let info = self.link(index).await?;
        info.mac.ok_or_else(|| NetError::NoMac {
            iface: describe(&info.name, index),
        })
    }

    /// Whether the link is administratively up (IFF_UP) and has carrier / operstate up
    /// (IFF_RUNNING, which the kernel keeps equal to "operstate UP or UNKNOWN").
    pub async fn link_is_up(&self, index: u32) -> Result<bool, NetError> {
        Ok(self.link(index).await?.up)
    }

    async fn link_message(&self, index: u32) -> Result<LinkMessage, NetError> {
        let mut links = self.handle.link().get().match_index(index).execute();
        match links.try_next().await {
            Ok(Some(link)) => Ok(link),
            Ok(None) => Err(NetError::LinkNotFound {
                iface: format!("index {index}"),
            }),
            Err(error) if errno(&error) == Some(libc::ENODEV) => Err(NetError::LinkNotFound {
                iface: format!("index {index}"),
            }),
            Err(source) => Err(NetError::Netlink {
                op: "get link",
                iface: format!("index {index}"),
                source: Box::new(source),
            }),
        }
    }

    /// "veth0 (index 3)" when the kernel still knows the link, "index 3" otherwise. Asked
    /// of netlink rather than `if_indextoname` so the name comes from this socket's
    /// namespace, whatever thread runs the request.
    async fn describe_index(&self, index: u32) -> String {
        match self.link_message(index).await {
            Ok(message) => describe(&link_info(&message).name, index),
            Err(_) => format!("index {index}"),
        }
    }

    /// The addresses of one family on the interface, in the kernel's order (for IPv4:
    /// primaries first, oldest first).
    pub async fn addresses(
        &self,
        index: u32,
        family: Family,
    ) -> Result<Vec<(IpAddr, u8)>, NetError> {
        Ok(self
            .address_entries(index, family)
            .await?
            .into_iter()
            .map(|entry| (entry.addr, entry.prefix_len))
            .collect())
    }

    /// Like [`Self::addresses`], with flags and labels.
    pub async fn address_entries(
        &self,
        index: u32,
        family: Family,
    ) -> Result<Vec<AddressEntry>, NetError> {
        let mut request = self.handle.address().get().set_link_index_filter(index);
        request.message_mut().header.family = address_family(family);
        request.message_mut().header.index = index;
        let messages: Result<Vec<AddressMessage>, rtnetlink::Error> =
            request.execute().try_collect().await;
        let messages = match messages {
            Ok(messages) => messages,
            Err(source) => {
                return Err(NetError::Netlink {
                    op: "dump addresses",
                    iface: self.describe_index(index).await,
                    source: Box::new(source),
                });
            }
        };
        Ok(messages
            .iter()
            .filter(|message| message.header.index == index)
            .filter_map(address_entry)
            .filter(|entry| Family::of(&entry.addr) == family)
            .collect())
    }

    /// The address advertisements are sent from: for IPv4 the first primary (not
    /// secondary) address, for IPv6 the first link-local address whose duplicate address
    /// detection has finished. Addresses in `exclude` (the virtual addresses) are skipped
    /// so a master never picks its own VIP.
    ///
    /// An IPv6 link-local that is still tentative (DAD runs for about a second after the
    /// link comes up) is reported as `NoAddress` with that reason: the kernel refuses it
    /// as a source, so the caller retries.
    pub async fn primary_address(
        &self,
        index: u32,
        family: Family,
        exclude: &[IpAddr],
    ) -> Result<IpAddr, NetError> {
        let entries = self.address_entries(index, family).await?;
        let candidates: Vec<&AddressEntry> = entries
            .iter()
            .filter(|entry| !exclude.contains(&entry.addr))
            .filter(|entry| match entry.addr {
                IpAddr::V4(_) => !entry.secondary,
                IpAddr::V6(addr) => addr.is_unicast_link_local(),
            })
            .collect();
        if let Some(entry) = candidates
            .iter()
            .find(|entry| !entry.tentative && !entry.dad_failed)
        {
            return Ok(entry.addr);
        }
        let why = match (family, candidates.first()) {
            (Family::V4, None) => "no primary IPv4 address",
            (Family::V6, None) => "no link-local address",
            (_, Some(entry)) if entry.dad_failed => {
                "duplicate address detection failed on the link-local address"
            }
            (_, Some(_)) => "link-local address still tentative (duplicate address detection)",
        };
        Err(NetError::NoAddress {
            iface: self.describe_index(index).await,
            family,
            why,
        })
    }

    /// Adds `addr/prefix_len` to the interface. Already present is success. IPv6
    /// addresses are added with IFA_F_NODAD; `label` applies to IPv4 only (see the
    /// module docs).
    pub async fn add_address(
        &self,
        index: u32,
        addr: IpAddr,
        prefix_len: u8,
        label: Option<&str>,
    ) -> Result<(), NetError> {
        self.check_prefix(index, addr, prefix_len).await?;
        let mut request = self.handle.address().add(index, addr, prefix_len);
        let message = request.message_mut();
        match addr {
            IpAddr::V4(_) => {
                if let Some(label) = label {
                    if label.is_empty() || label.len() > MAX_LABEL_LEN {
                        return Err(NetError::InvalidAddress {
                            iface: self.describe_index(index).await,
                            addr,
                            prefix_len,
                            why: "a label must be 1 to 15 bytes",
                        });
                    }
                    message
                        .attributes
                        .push(AddressAttribute::Label(label.to_owned()));
                }
            }
            IpAddr::V6(_) => {
                // Both places, as iproute2 does: the header byte for old kernels, the
                // 32-bit IFA_FLAGS attribute (which wins when present) for new ones.
                message.header.flags = AddressHeaderFlags::Nodad;
                message
                    .attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
        }
        match request.execute().await {
            Ok(()) => Ok(()),
            Err(error) if errno(&error) == Some(libc::EEXIST) => Ok(()),
            Err(source) => Err(NetError::NetlinkAddress {
                op: "add address",
                iface: self.describe_index(index).await,
                addr,
                prefix_len,
                source: Box::new(source),
            }),
        }
    }

    /// Removes `addr/prefix_len` from the interface. Already absent, or the interface
    /// gone, is success.
    pub async fn remove_address(
        &self,
        index: u32,
        addr: IpAddr,
        prefix_len: u8,
    ) -> Result<(), NetError> {
        self.check_prefix(index, addr, prefix_len).await?;
        let message = match addr {
            IpAddr::V4(v4) => rtnetlink::AddressMessageBuilder::<std::net::Ipv4Addr>::new()
                .index(index)
                .address(v4, prefix_len)
                .build(),
            IpAddr::V6(v6) => rtnetlink::AddressMessageBuilder::<std::net::Ipv6Addr>::new()
                .index(index)
                .address(v6, prefix_len)
                .build(),
        };
        match self.handle.address().del(message).execute().await {
            Ok(()) => Ok(()),
            Err(error)
                if matches!(
                    errno(&error),
                    Some(libc::EADDRNOTAVAIL) | Some(libc::ENODEV)
                ) =>
            {
                Ok(())
            }
            Err(source) => Err(NetError::NetlinkAddress {
                op: "remove address",
                iface: self.describe_index(index).await,
                addr,
                prefix_len,
                source: Box::new(source),
            }),
        }
    }

    async fn check_prefix(&self, index: u32, addr: IpAddr, prefix_len: u8) -> Result<(), NetError> {
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if prefix_len > max {
            return Err(NetError::InvalidAddress {
                iface: self.describe_index(index).await,
                addr,
                prefix_len,
                why: "prefix length longer than the address",
            });
        }
        if addr.is_multicast() || addr.is_unspecified() {
            return Err(NetError::InvalidAddress {
                iface: self.describe_index(index).await,
                addr,
                prefix_len,
                why: "not a unicast address",
            });
        }
        Ok(())
    }

    /// Subscribes to link and IPv4/IPv6 address notifications on a socket of its own,
    /// and returns them as a stream of hints. Spawns the socket's task on the current
    /// tokio runtime; the socket belongs to the calling thread's network namespace.
    ///
    /// Subscribe *before* reading the initial state, or a change in between is missed.
    /// The stream ends only if the netlink socket fails; treat that like `Overrun` and
    /// subscribe again.
    pub fn watch() -> Result<impl Stream<Item = NetEvent> + Send + Unpin + 'static, NetError> {
        let open_error = |source: io::Error| NetError::NetlinkOpen {
            purpose: "link and address watch",
            source,
        };
        require_runtime("link and address watch")?;
        let (mut connection, _handle, messages) =
            rtnetlink::new_connection().map_err(open_error)?;
        let groups =
            constants::RTMGRP_LINK | constants::RTMGRP_IPV4_IFADDR | constants::RTMGRP_IPV6_IFADDR;
        connection
            .socket_mut()
            .socket_mut()
            .bind(&rtnetlink::sys::SocketAddr::new(0, groups))
            .map_err(open_error)?;
        // A bigger buffer makes an overrun during a burst (many VIPs moving at once) less
        // likely; an overrun is still handled, as `NetEvent::Overrun`.
        socket2::SockRef::from(&*connection.socket_mut().socket_mut())
            .set_recv_buffer_size(1 << 20)
            .map_err(open_error)?;
        tokio::spawn(connection);
        Ok(messages.filter_map(|(message, _)| std::future::ready(net_event(message))))
    }
}

/// An error rather than the panic `tokio::spawn` would raise outside a runtime.
fn require_runtime(purpose: &'static str) -> Result<(), NetError> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => Ok(()),
        Err(_) => Err(NetError::NetlinkOpen {
            purpose,
            source: io::Error::other("not called inside a tokio runtime"),
        }),
    }
}

/// The event a notification stands for, if it is one we subscribed to.
fn net_event(message: NetlinkMessage<RouteNetlinkMessage>) -> Option<NetEvent> {
    match message.payload {
        NetlinkPayload::Overrun(_) => Some(NetEvent::Overrun),
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => {
            Some(NetEvent::LinkChanged {
                index: link.header.index,
                up: is_up(link.header.flags),
            })
        }
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(link)) => {
            Some(NetEvent::LinkRemoved {
                index: link.header.index,
            })
        }
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(address)) => {
            address_entry(&address).map(|entry| NetEvent::AddressAdded {
                index: address.header.index,
                addr: entry.addr,
            })
        }
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelAddress(address)) => {
            address_entry(&address).map(|entry| NetEvent::AddressRemoved {
                index: address.header.index,
                addr: entry.addr,
            })
        }
        _ => None,
    }
}

fn is_up(flags: LinkFlags) -> bool {
    flags.contains(LinkFlags::Up) && flags.contains(LinkFlags::Running)
}

fn link_info(message: &LinkMessage) -> LinkInfo {
    let mut name = String::new();
    let mut mac = None;
    for attribute in &message.attributes {
        match attribute {
            LinkAttribute::IfName(ifname) => name.clone_from(ifname),
            LinkAttribute::Address(bytes) => mac = <[u8; 6]>::try_from(bytes.as_slice()).ok(),
            _ => {}
        }
    }
    LinkInfo {
        index: message.header.index,
        name,
        mac,
        up: is_up(message.header.flags),
    }
}

/// The local address and flags of an address message. IFA_LOCAL is the address itself
/// (IFA_ADDRESS is the peer on point-to-point links); IPv6 usually sends only
/// IFA_ADDRESS. The 32-bit IFA_FLAGS attribute, when present, supersedes the header byte.
fn address_entry(message: &AddressMessage) -> Option<AddressEntry> {
    let mut local = None;
    let mut address = None;
    let mut label = None;
    let mut flags = None;
    for attribute in &message.attributes {
        match attribute {
            AddressAttribute::Local(addr) => local = Some(*addr),
            AddressAttribute::Address(addr) => address = Some(*addr),
            AddressAttribute::Label(text) => label = Some(text.clone()),
            AddressAttribute::Flags(bits) => flags = Some(*bits),
            _ => {}
        }
    }
    let addr = local.or(address)?;
    let flags = flags
        .unwrap_or_else(|| AddressFlags::from_bits_retain(u32::from(message.header.flags.bits())));
    Some(AddressEntry {
        addr,
        prefix_len: message.header.prefix_len,
        tentative: flags.contains(AddressFlags::Tentative),
        dad_failed: flags.contains(AddressFlags::Dadfailed),
        secondary: flags.contains(AddressFlags::Secondary),
        nodad: flags.contains(AddressFlags::Nodad),
        label,
    })
}

fn address_family(family: Family) -> AddressFamily {
    match family {
        Family::V4 => AddressFamily::Inet,
        Family::V6 => AddressFamily::Inet6,
    }
}

fn describe(name: &str, index: u32) -> String {
    if name.is_empty() {
        format!("index {index}")
    } else {
        format!("{name} (index {index})")
    }
}

/// The errno of a netlink NACK (the kernel sends it negated).
fn errno(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => message.code.map(|code| code.get().abs()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use rtnetlink::packet_core::NetlinkHeader;

    use super::*;

    fn message(
        payload: NetlinkPayload<RouteNetlinkMessage>,
    ) -> NetlinkMessage<RouteNetlinkMessage> {
        NetlinkMessage::new(NetlinkHeader::default(), payload)
    }

    fn link(index: u32, flags: LinkFlags) -> LinkMessage {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.header.flags = flags;
        link
    }

    fn address(index: u32, attributes: Vec<AddressAttribute>) -> AddressMessage {
        let mut address = AddressMessage::default();
        address.header.index = index;
        address.header.prefix_len = 24;
        address.attributes = attributes;
        address
    }

    #[test]
    fn overrun_becomes_an_overrun_event() {
        assert_eq!(
            net_event(message(NetlinkPayload::Overrun(Vec::new()))),
            Some(NetEvent::Overrun)
        );
    }

    #[test]
    fn a_link_is_up_only_when_up_and_running() {
        let event = |flags| {
            net_event(message(NetlinkPayload::InnerMessage(
                RouteNetlinkMessage::NewLink(link(3, flags)),
            )))
        };
        assert_eq!(
            event(LinkFlags::Up | LinkFlags::Running | LinkFlags::LowerUp),
            Some(NetEvent::LinkChanged { index: 3, up: true })
        );
        // Administratively up without carrier: the cable is out.
        assert_eq!(
            event(LinkFlags::Up),
            Some(NetEvent::LinkChanged {
                index: 3,
                up: false
            })
        );
        assert_eq!(
            event(LinkFlags::empty()),
            Some(NetEvent::LinkChanged {
                index: 3,
                up: false
            })
        );
        assert_eq!(
            net_event(message(NetlinkPayload::InnerMessage(
                RouteNetlinkMessage::DelLink(link(3, LinkFlags::empty())),
            ))),
            Some(NetEvent::LinkRemoved { index: 3 })
        );
    }

    #[test]
    fn address_events_carry_the_local_address() {
        // Point-to-point: IFA_LOCAL is ours, IFA_ADDRESS the peer's.
        let ours = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let peer = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));
        let p2p = address(
            4,
            vec![
                AddressAttribute::Address(peer),
                AddressAttribute::Local(ours),
            ],
        );
        assert_eq!(
            net_event(message(NetlinkPayload::InnerMessage(
                RouteNetlinkMessage::DelAddress(p2p),
            ))),
            Some(NetEvent::AddressRemoved {
                index: 4,
                addr: ours
            })
        );
        let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100));
        assert_eq!(
            net_event(message(NetlinkPayload::InnerMessage(
                RouteNetlinkMessage::NewAddress(address(4, vec![AddressAttribute::Address(v6)])),
            ))),
            Some(NetEvent::AddressAdded { index: 4, addr: v6 })
        );
        // No address attribute at all: nothing to report.
        assert_eq!(
            net_event(message(NetlinkPayload::InnerMessage(
                RouteNetlinkMessage::NewAddress(address(4, Vec::new())),
            ))),
            None
        );
    }

    #[test]
    fn the_32_bit_flags_attribute_wins_over_the_header_byte() {
        let v6 = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
        let mut header_only = address(2, vec![AddressAttribute::Address(v6)]);
        header_only.header.flags = AddressHeaderFlags::Tentative;
        let entry = address_entry(&header_only).expect("an address");
        assert!(entry.tentative && !entry.nodad);

        let mut both = header_only.clone();
        both.attributes.push(AddressAttribute::Flags(
            AddressFlags::Nodad | AddressFlags::Permanent,
        ));
        let entry = address_entry(&both).expect("an address");
        assert!(!entry.tentative && entry.nodad, "{entry:?}");
    }
}
