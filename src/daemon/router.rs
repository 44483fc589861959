//! One virtual router's I/O handle: its socket, interface, addresses, announcement
//! frames, link state and counters.
//!
//! Owns the wire side of one router: received bytes become an `Event` (after decode,
//! the unicast peer filter and counting); it sends bytes, adds and removes addresses and
//! sends one round of gratuitous ARP / NA when told. Must not decide anything: what to
//! do and when is the core's (`crate::proto`), and only the executor calls the
//! operations here that change the network.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{Instrument, Span, debug, info, info_span, warn};

use super::DaemonError;
use super::ratelimit::RateLimit;
use crate::config::RouterSpec;
use crate::net::{self, Announcer, NetError, Netlink, VrrpSocket};
use crate::proto::fsm::{Event, RouterConfig};
use crate::proto::packet::{self, DecodeOptions, Family, RecvMeta, Reject};
use crate::proto::timers::Instant;
use crate::proto::{arp, ndisc};

/// A router's identity for the lifetime of the process (names can be reused across
/// reloads; ids cannot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouterId(pub u64);

/// What a router's socket received: a packet for the decoder, or the name of the reason
/// it could not even be handed to it (a truncated IP header, missing metadata).
#[derive(Debug)]
pub struct Received {
    pub router: RouterId,
    pub packet: Result<(Vec<u8>, RecvMeta), &'static str>,
    /// When the kernel received it (wall clock, `SO_TIMESTAMPNS`); `None` if unknown
    /// (a malformed packet). The daemon maps it onto the core's clock.
    pub kernel_time: Option<SystemTime>,
}

/// At most this many packets are taken from one socket by [`RouterIo::drain_socket`]: a
/// flood must not keep the loop from its timers.
const DRAIN_LIMIT: usize = 256;

impl Received {
    /// What one receive produced for router `id` (`buf` holds the message), or the
    /// socket error.
    fn from_recv(
        id: RouterId,
        result: Result<net::Datagram, net::RecvError>,
        buf: &[u8],
    ) -> Result<Received, net::RecvError> {
        let (packet, kernel_time) = match result {
            Ok(datagram) => (
                Ok((
                    buf.get(..datagram.len).unwrap_or_default().to_vec(),
                    datagram.meta,
                )),
                datagram.kernel_time,
            ),
            Err(net::RecvError::Malformed { reason, .. }) => (Err(reason.name()), None),
            Err(e) => return Err(e),
        };
        Ok(Received {
            router: id,
            packet,
            kernel_time,
        })
    }
}

/// What a received packet is to the router whose socket received it.
#[derive(Debug)]
pub enum Accepted {
    /// One of our advertisements, for the state machine.
    Ours(Event),
    /// A valid advertisement of another virtual router (VRID) on the link: a group of
    /// someone else's, or a peer configured with the wrong VRID. The daemon knows which
    /// VRIDs it runs itself on the link and decides whether to report it
    /// (`note_other_vrid`).
    OtherVrid { vrid: u8, src: IpAddr },
    /// Dropped here (counted and logged).
    Dropped,
}

/// Per-router counters, part of the router's status.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Counters {
    /// Advertisements handed to the core.
    pub received: u64,
    /// Packets dropped before the core saw them, or discarded by it, by reason.
    pub dropped: BTreeMap<&'static str, u64>,
    pub sent: u64,
    pub send_errors: u64,
    /// Rounds of gratuitous ARP / NA sent.
    pub announcements: u64,
    pub transitions: u64,
}

/// A virtual address resolved to the interface it is added on.
#[derive(Debug, Clone)]
struct Vip {
    address: IpAddr,
    prefix_len: u8,
    label: Option<String>,
    ifindex: u32,
}

pub struct RouterIo {
    spec: RouterSpec,
    ifindex: u32,
    primary: IpAddr,
    vips: Vec<Vip>,
    socket: Arc<VrrpSocket>,
    /// One AF_PACKET socket per interface that carries a VIP, opened once: the first
    /// announcement must leave without the cost of opening a socket. With it, that
    /// interface's MAC: an announcement names the MAC of the device the address lives on
    /// (a VIP on the public NIC, adverts on a heartbeat NIC), not the VRRP interface's.
    announcers: HashMap<u32, (Arc<Announcer>, [u8; 6])>,
    rx_task: JoinHandle<()>,
    link_up: bool,
    retired: bool,
    /// The addresses as last added while the core held them (what `reconcile` compares
    /// a changed configuration with); empty while not holding them.
    installed: Vec<Vip>,
    pub counters: Counters,
    pub limit: RateLimit,
    /// Whether the "set unicast.max_hops" hint was logged (once per router).
    ttl_hint_given: bool,
    /// Reports of other VRIDs heard, by sender and VRID.
    heard: RateLimit<(IpAddr, u8)>,
    pub span: Span,
}

impl Drop for RouterIo {
    fn drop(&mut self) {
        self.rx_task.abort();
    }
}

impl RouterIo {
    /// Resolve the interface and addresses and open the socket. Nothing is added to or
    /// sent on the network yet.
    pub async fn open(
        id: RouterId,
        spec: RouterSpec,
        netlink: &Netlink,
        packets: mpsc::Sender<Received>,
    ) -> Result<RouterIo, DaemonError> {
        let family = spec.family();
        let span = info_span!(
            "router",
            name = %spec.name,
            iface = %spec.interface,
            vrid = spec.vrid,
            family = %family_name(family),
        );
        let context = |e: NetError| DaemonError::Net {
            router: spec.name.clone(),
            source: e,
        };
        let ifindex = netlink.link_index(&spec.interface).await.map_err(context)?;
        let primary = match spec.unicast.as_ref().and_then(|u| u.source) {
            Some(source) => source,
            None => netlink
                .primary_address(ifindex, family, &spec.virtual_ips())
                .await
                .map_err(context)?,
        };
        let mut vips = Vec::new();
        for vip in &spec.addresses {
            let ifindex = match &vip.device {
                Some(device) => netlink.link_index(device).await.map_err(context)?,
                None => ifindex,
            };
            vips.push(Vip {
                address: vip.address,
                prefix_len: vip.prefix_len,
                label: vip.label.clone(),
                ifindex,
            });
        }
        let mut announcers = HashMap::new();
        for vip in &vips {
            if let std::collections::hash_map::Entry::Vacant(slot) = announcers.entry(vip.ifindex) {
                let mac = netlink.link_mac(vip.ifindex).await.map_err(context)?;
                let announcer = Announcer::open(vip.ifindex).map_err(context)?;
                slot.insert((Arc::new(announcer), mac));
            }
        }
        let mode = match &spec.unicast {
            Some(_) => net::Mode::Unicast,
            None => net::Mode::Multicast,
        };
        let socket =
            Arc::new(VrrpSocket::open(&spec.interface, family, primary, mode).map_err(context)?);
        let rx_task =
            tokio::spawn(receive_loop(id, socket.clone(), packets).instrument(span.clone()));
        span.in_scope(|| info!(source = %primary, "router ready"));
        if let Some(unicast) = &spec.unicast {
            warn_off_link_peers(unicast, ifindex, family, netlink, &span).await;
        }
        Ok(RouterIo {
            spec,
            ifindex,
            primary,
            vips,
            socket,
            announcers,
            rx_task,
            link_up: true,
            retired: false,
            installed: Vec::new(),
            counters: Counters::default(),
            limit: RateLimit::new(Duration::from_secs(10)),
            ttl_hint_given: false,
            heard: RateLimit::new(Duration::from_secs(10)),
            span,
        })
    }

    pub fn spec(&self) -> &RouterSpec {
        &self.spec
    }

    pub fn fsm_config(&self) -> RouterConfig {
        self.spec.fsm_config(self.primary)
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Whether the router's interface or one of its VIP devices has this index.
    pub fn uses_ifindex(&self, index: u32) -> bool {
        self.ifindex == index || self.vips.iter().any(|v| v.ifindex == index)
    }

    pub fn link_up(&self) -> bool {
        self.link_up
    }

    pub fn vip_addresses(&self) -> Vec<IpAddr> {
        self.vips.iter().map(|v| v.address).collect()
    }

    pub fn is_retired(&self) -> bool {
        self.retired
    }

    /// Removed from the configuration: shutting down, then dropped.
    pub fn retire(&mut self) {
        self.retired = true;
    }

    /// Take a changed spec of the same identity. Nothing changes on the network: if the
    /// core holds the addresses, it says what to add, remove and announce.
    pub fn set_spec(&mut self, spec: RouterSpec) {
        // Same identity means the same set of devices, so each one's index is known.
        let index_of = |device: &Option<String>| match device {
            None => self.ifindex,
            Some(name) => self
                .spec
                .addresses
                .iter()
                .zip(&self.vips)
                .find(|(a, _)| a.device.as_ref() == Some(name))
                .map_or(self.ifindex, |(_, v)| v.ifindex),
        };
        let vips = spec
            .addresses
            .iter()
            .map(|a| Vip {
                address: a.address,
                prefix_len: a.prefix_len,
                label: a.label.clone(),
                ifindex: index_of(&a.device),
            })
            .collect();
        self.vips = vips;
        self.spec = spec;
    }

    /// At startup: our VIPs on the interface can only be left over from a crash.
    pub async fn remove_stale_addresses(&self, netlink: &Netlink) {
        for vip in &self.vips {
            match has_address(netlink, vip).await {
                Ok(true) => {
                    self.span.in_scope(|| {
                        warn!(address = %vip.address, "removing a virtual address left by an earlier run")
                    });
                    self.remove_vip(vip, netlink).await;
                }
                Ok(false) => {}
                Err(e) => self
                    .span
                    .in_scope(|| warn!(address = %vip.address, "cannot read addresses: {e}")),
            }
        }
    }

    /// Re-read whether the interface can carry our advertisements: it is up and our
    /// source address is on it. (Linux flushes static IPv6 addresses when a link goes
    /// down, so a link can come back without our unicast source; a router that cannot
    /// send must not believe it is master.)
    pub async fn refresh_link(&mut self, netlink: &Netlink) -> bool {
        let was_up = self.link_up;
        let up = match netlink.link_is_up(self.ifindex).await {
            Ok(true) => match netlink
                .addresses(self.ifindex, Family::of(&self.primary))
                .await
            {
                Ok(addresses) if addresses.iter().any(|(a, _)| *a == self.primary) => true,
                Ok(_) => {
                    if was_up {
                        self.span.in_scope(|| {
                            warn!(source = %self.primary, "our source address is not on the interface")
                        });
                    }
                    false
                }
                Err(e) => {
                    self.span
                        .in_scope(|| warn!("cannot read addresses, assuming unusable: {e}"));
                    false
                }
            },
            Ok(false) => false,
            Err(e) => {
                self.span
                    .in_scope(|| warn!("cannot read link state, assuming down: {e}"));
                false
            }
        };
        self.link_up = up;
        up
    }

    /// Our addresses that are not on their interface (unreadable ones count as present:
    /// the next event reads again).
    pub async fn missing_addresses(&self, netlink: &Netlink) -> Vec<IpAddr> {
        let mut missing = Vec::new();
        for vip in &self.vips {
            if let Ok(false) = has_address(netlink, vip).await {
                missing.push(vip.address);
            }
        }
        missing
    }

    /// Add every configured address.
    pub async fn add_addresses(&mut self, netlink: &Netlink) {
        for vip in &self.vips {
            self.add_vip(vip, netlink).await;
        }
        self.installed = self.vips.clone();
    }

    /// Remove every configured address (and any added under an older configuration).
    pub async fn remove_addresses(&mut self, netlink: &Netlink) {
        for vip in &self.vips {
            self.remove_vip(vip, netlink).await;
        }
        let same = |a: &Vip, b: &Vip| a.address == b.address && a.prefix_len == b.prefix_len;
        for vip in std::mem::take(&mut self.installed) {
            if !self.vips.iter().any(|v| same(v, &vip)) {
                self.remove_vip(&vip, netlink).await;
            }
        }
    }

    /// Add these configured addresses again.
    pub async fn restore_addresses(&self, addresses: &[IpAddr], netlink: &Netlink) {
        for vip in self.vips.iter().filter(|v| addresses.contains(&v.address)) {
            self.span.in_scope(|| {
                warn!(address = %vip.address, "virtual address was removed by someone else while master; adding it back")
            });
            self.add_vip(vip, netlink).await;
        }
    }

    /// Make the addresses added match the configuration: add the new ones first, then
    /// remove the old ones (the kernel keys addresses by address and prefix).
    pub async fn reconcile_addresses(&mut self, netlink: &Netlink) {
        let same = |a: &Vip, b: &Vip| a.address == b.address && a.prefix_len == b.prefix_len;
        let old = std::mem::take(&mut self.installed);
        for vip in self.vips.iter().filter(|v| !old.iter().any(|o| same(o, v))) {
            self.add_vip(vip, netlink).await;
        }
        for vip in old.iter().filter(|o| !self.vips.iter().any(|v| same(v, o))) {
            self.remove_vip(vip, netlink).await;
        }
        self.installed = self.vips.clone();
    }

    /// Take what is already queued on the socket, without waiting, into `out`: the
    /// packets that arrived (by the kernel's clock) no later than `until`, and at most
    /// [`DRAIN_LIMIT`]. The receive task reads the rest as usual.
    pub fn drain_socket(&self, id: RouterId, until: SystemTime, out: &mut Vec<Received>) {
        let mut buf = vec![0u8; net::RECV_BUFFER_LEN];
        for _ in 0..DRAIN_LIMIT {
            let result = match self.socket.try_recv(&mut buf) {
                Ok(None) => return,
                Ok(Some(datagram)) => Ok(datagram),
                Err(e) => Err(e),
            };
            match Received::from_recv(id, result, &buf) {
                Ok(received) => {
                    let late = received.kernel_time.is_some_and(|t| t > until);
                    out.push(received);
                    if late {
                        return;
                    }
                }
                Err(e) => {
                    self.span.in_scope(|| debug!("receive error: {e}"));
                    return;
                }
            }
        }
    }

    /// Decode and filter a received packet: ours for the state machine, another VRID's,
    /// or dropped.
    pub fn accept(&mut self, packet: &Received, now: Instant) -> Accepted {
        let (bytes, meta) = match &packet.packet {
            Ok((bytes, meta)) => (bytes, meta),
            Err(reason) => {
                self.count_and_log(reason, None, "malformed IP packet", now);
                return Accepted::Dropped;
            }
        };
        let opts = DecodeOptions {
            auth: self.spec.auth(),
            min_ttl: self
                .spec
                .unicast
                .as_ref()
                .map_or(packet::VRRP_TTL, |u| u.min_ttl()),
        };
        let decoded = match packet::decode(bytes, meta, &opts) {
            Ok(decoded) => decoded,
            // The authentication is checked last, after the checksum: the VRID byte is
            // genuine. Another VRID's password is none of our business.
            Err(Reject::AuthMismatch)
                if bytes.get(1).is_some_and(|&vrid| vrid != self.spec.vrid) =>
            {
                let vrid = bytes.get(1).copied().unwrap_or_default();
                return Accepted::OtherVrid {
                    vrid,
                    src: meta.src,
                };
            }
            Err(reject) => {
                self.count_and_log(reject.name(), Some(meta.src), &reject.to_string(), now);
                if let Reject::BadTtl { ttl } = reject {
                    self.hint_max_hops(meta.src, ttl);
                }
                return Accepted::Dropped;
            }
        };
        if decoded.advert.vrid != self.spec.vrid {
            return Accepted::OtherVrid {
                vrid: decoded.advert.vrid,
                src: meta.src,
            };
        }
        if let Some(unicast) = &self.spec.unicast
            && !unicast.peers.contains(&meta.src)
        {
            self.count_and_log(
                "not_a_peer",
                Some(meta.src),
                "sender is not a configured unicast peer",
                now,
            );
            return Accepted::Dropped;
        }
        self.counters.received += 1;
        Accepted::Ours(Event::Advert {
            src: meta.src,
            advert: decoded.advert,
            form: decoded.checksum_form,
        })
    }

    /// The first time a listed peer's advertisement is dropped for its TTL, say how to
    /// accept it (once per router: the drop itself is logged at a limited rate).
    fn hint_max_hops(&mut self, src: IpAddr, ttl: u8) {
        if self.ttl_hint_given {
            return;
        }
        let Some(hops) = self
            .spec
            .unicast
            .as_ref()
            .and_then(|u| u.hops_needed(src, ttl))
        else {
            return;
        };
        self.ttl_hint_given = true;
        let max_hops = self.spec.unicast.as_ref().map_or(0, |u| u.max_hops);
        self.span.in_scope(|| {
            warn!(
                peer = %src,
                ttl,
                hops,
                max_hops,
                "advertisements from peer {src} cross {hops} router(s) (TTL {ttl}) and are dropped: \
                 if the peer is routed on purpose, set unicast.max_hops: {hops} (and let the peer \
                 list and the firewall keep others out)"
            )
        });
    }

    /// An advertisement of a VRID no router of ours runs on this link: count it, and say
    /// what was heard once per sender and VRID per 10 s (a peer configured with the
    /// wrong VRID would otherwise be silence; someone else's group is worth knowing of).
    /// `ours`: the VRIDs we run on this link.
    pub fn note_other_vrid(&mut self, vrid: u8, src: IpAddr, ours: &[u8], now: Instant) {
        let reason = "other_vrid";
        *self.counters.dropped.entry(reason).or_default() += 1;
        if let Some(suppressed) = self.heard.allow((src, vrid), now) {
            let iface = &self.spec.interface;
            let ours: Vec<String> = ours.iter().map(u8::to_string).collect();
            let (ours, verb) = (ours.join(", "), if ours.len() > 1 { "are" } else { "is" });
            self.span.in_scope(|| {
                info!(
                    reason,
                    suppressed, "heard VRID {vrid} from {src} on {iface}, ours {verb} {ours}"
                )
            });
        }
    }

    /// Count a dropped packet and log it at a limited rate.
    pub fn count_and_log(
        &mut self,
        reason: &'static str,
        src: Option<IpAddr>,
        detail: &str,
        now: Instant,
    ) {
        *self.counters.dropped.entry(reason).or_default() += 1;
        if let Some(suppressed) = self.limit.allow(reason, now) {
            let total = self.counters.dropped.get(reason).copied().unwrap_or(0);
            let src = src.map_or_else(|| "?".to_string(), |s| s.to_string());
            self.span.in_scope(
                || warn!(%src, reason, total, suppressed, "dropped advertisement: {detail}"),
            );
        }
    }

    /// Where advertisements go: the configured unicast peers, or the group.
    pub fn destinations(&self) -> Vec<IpAddr> {
        match &self.spec.unicast {
            Some(unicast) => unicast.peers.clone(),
            None => vec![match self.spec.family() {
                Family::V4 => IpAddr::V4(packet::VRRP_GROUP_V4),
                Family::V6 => IpAddr::V6(packet::VRRP_GROUP_V6),
            }],
        }
    }

    /// Our source address.
    pub fn primary(&self) -> IpAddr {
        self.primary
    }

    /// Send an encoded advertisement, counting it.
    pub async fn send(&mut self, bytes: &[u8], dst: IpAddr) {
        match self.socket.send_to(bytes, dst).await {
            Ok(()) => self.counters.sent += 1,
            Err(e) => {
                self.counters.send_errors += 1;
                self.span.in_scope(|| debug!(%dst, "send failed: {e}"));
            }
        }
    }

    async fn add_vip(&self, vip: &Vip, netlink: &Netlink) {
        if let Err(e) = netlink
            .add_address(
                vip.ifindex,
                vip.address,
                vip.prefix_len,
                vip.label.as_deref(),
            )
            .await
        {
            self.span
                .in_scope(|| warn!(address = %vip.address, "cannot add virtual address: {e}"));
        }
    }

    async fn remove_vip(&self, vip: &Vip, netlink: &Netlink) {
        if let Err(e) = netlink
            .remove_address(vip.ifindex, vip.address, vip.prefix_len)
            .await
        {
            self.span
                .in_scope(|| warn!(address = %vip.address, "cannot remove virtual address: {e}"));
        }
    }

    /// One round of gratuitous ARP / unsolicited NA for every address, sent before
    /// this returns (it must be on the wire before the advertisement that follows it).
    pub async fn announce_round(&mut self) {
        for vip in &self.vips {
            let Some((announcer, mac)) = self.announcers.get(&vip.ifindex) else {
                continue;
            };
            let frame = match vip.address {
                IpAddr::V4(v4) => arp::gratuitous_arp(*mac, v4).to_vec(),
                IpAddr::V6(v6) => ndisc::unsolicited_na(*mac, v6, v6).to_vec(),
            };
            if let Err(e) = announcer.send_frames(std::slice::from_ref(&frame)).await {
                self.span
                    .in_scope(|| debug!(address = %vip.address, "cannot send announcement: {e}"));
            }
        }
        self.counters.announcements += 1;
    }
}

/// Forward every packet of a socket to the event loop, where it is decoded and
/// counted. Malformed packets are forwarded as their reason; I/O errors on a raw socket
/// are transient (the loop pauses briefly so a persistent one cannot spin a core).
async fn receive_loop(id: RouterId, socket: Arc<VrrpSocket>, packets: mpsc::Sender<Received>) {
    let mut buf = vec![0u8; net::RECV_BUFFER_LEN];
    loop {
        let result = socket.recv_datagram(&mut buf).await;
        let received = match Received::from_recv(id, result, &buf) {
            Ok(received) => received,
            Err(e) => {
                debug!("receive error: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if packets.send(received).await.is_err() {
            return;
        }
    }
}

/// At start: a peer on none of the interface's subnets while `max_hops` is 0 is
/// behind a router, and all its advertisements will be dropped for their TTL; say so,
/// with the fix. (The decision is `Unicast::off_link_peers`; this only reads the
/// interface's addresses.)
async fn warn_off_link_peers(
    unicast: &crate::config::Unicast,
    ifindex: u32,
    family: Family,
    netlink: &Netlink,
    span: &Span,
) {
    if unicast.max_hops > 0 {
        return;
    }
    let connected = match netlink.addresses(ifindex, family).await {
        Ok(connected) => connected,
        Err(e) => {
            span.in_scope(|| debug!("cannot read addresses to check the peers' subnets: {e}"));
            return;
        }
    };
    for peer in unicast.off_link_peers(&connected) {
        span.in_scope(|| {
            warn!(
                %peer,
                "unicast peer {peer} is not on a subnet of this interface: its advertisements \
                 cross a router, arrive with a TTL below 255 and are dropped while max_hops is 0; \
                 if the peer is routed, set unicast.max_hops (e.g. 1)"
            )
        });
    }
}

async fn has_address(netlink: &Netlink, vip: &Vip) -> Result<bool, NetError> {
    let family = Family::of(&vip.address);
    Ok(netlink
        .addresses(vip.ifindex, family)
        .await?
        .iter()
        .any(|(addr, _)| *addr == vip.address))
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}
