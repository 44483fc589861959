//! The raw IP protocol 112 socket a virtual router sends and receives advertisements on.
//!
//! Owns: one raw socket per (interface, address family), its options, and turning what
//! the kernel delivers into VRRP message bytes plus a [`RecvMeta`]. Must not judge an
//! advertisement (that is `proto::packet::decode`), filter by VRID or peer, or decide
//! anything about state.
//!
//! # Options, and why
//!
//! - `SO_BINDTODEVICE`: only packets that arrived on this interface, sends only out of it.
//! - Multicast mode joins 224.0.0.18 / ff02::12 **by interface index** and sets the
//!   multicast interface by index, so an interface without an IPv4 address (or with
//!   several) is still unambiguous.
//! - `IP_MULTICAST_TTL` / `IPV6_MULTICAST_HOPS` = 255 (multicast sends) **and** `IP_TTL` /
//!   `IPV6_UNICAST_HOPS` = 255 (unicast sends): the kernel takes the TTL of a multicast
//!   packet only from the former, of a unicast one only from the latter.
//! - `IP_MULTICAST_LOOP` / `IPV6_MULTICAST_LOOP` off: we never hear ourselves.
//! - `IP_MULTICAST_ALL` / `IPV6_MULTICAST_ALL` off: Linux by default hands a raw socket
//!   multicast for *any* group joined by *any* socket on the host; with it off an IPv4
//!   unicast-mode socket does not also get the multicast adverts of another router. (For
//!   IPv6 the kernel ignores it on unbound raw sockets; see "Unicast mode".)
//! - TOS / traffic class 0xc0 (network control), as keepalived sends (see
//!   `shared/vectors/README.md`).
//! - No `IPV6_CHECKSUM`. With it the kernel would fill in the checksum on send and, on
//!   receive, silently drop packets whose checksum is wrong. The encoder already writes
//!   the full RFC 9568 checksum with the pseudo-header, and the decoder verifies it, so
//!   the kernel's help buys nothing; without it a bad checksum reaches
//!   `decode`, becomes `Reject::BadChecksum`, and is counted and shown by `floatip sniff`
//!   instead of vanishing. (For IPv4 the kernel never checks raw payloads anyway.)
//!
//! # Source address
//!
//! The source must be known before sending: the v3 checksum covers it. Binding the raw
//! socket to the address would do it, but a bound raw socket only receives packets whose
//! *destination* is that address, which loses every multicast advertisement (checked in
//! a namespace: a bound IPv4 raw socket stops seeing packets to 224.0.0.18). So the socket
//! stays unbound and each send carries an `IP_PKTINFO` / `IPV6_PKTINFO` control message
//! with the interface index and the source (`ipi_spec_dst` / `ipi6_addr`). The kernel
//! refuses a source that is not a usable address of this host rather than silently using
//! another one (seen in a namespace: ENETUNREACH for a foreign IPv4 source, EINVAL for an
//! IPv6 link-local still tentative). For IPv6 the source should be the interface's
//! link-local address (RFC 9568 §5.1.2.1; keepalived does this); see
//! `Netlink::primary_address`.
//!
//! # Receive metadata
//!
//! IPv4 raw sockets deliver the IP header: source, destination and TTL are parsed from it
//! by `proto::ipv4::parse_header` (pure, every length checked, fuzzed) and the header is
//! stripped. The interface index comes from
//! an `IP_PKTINFO` control message. IPv6 raw sockets deliver only the payload: the hop
//! limit and the destination/interface come from `IPV6_HOPLIMIT` and `IPV6_PKTINFO`
//! control messages, the source from the message name. Anything missing or inconsistent
//! is a [`RecvError::Malformed`] with a reason the caller counts; nothing panics.
//!
//! Every packet also carries the time the kernel received it (`SO_TIMESTAMPNS`, wall
//! clock), in [`Datagram::kernel_time`]: after a stall of the process (a VM pause, a slow
//! step), packets that waited on the socket can be counted as received when they
//! arrived, not when they were read. [`VrrpSocket::try_recv`] reads without waiting, so
//! the daemon can take what is already queued before it acts on an expired timer.
//!
//! # Unicast mode
//!
//! The socket does not join the group and receives every protocol-112 packet addressed to
//! any unicast address of this host on the interface. It never returns a packet sent to
//! a multicast group: for IPv4 the kernel already withholds them (`IP_MULTICAST_ALL`
//! off), but an *unbound* IPv6 raw socket gets every multicast packet its interface
//! accepts, whatever `IPV6_MULTICAST_ALL` says (the kernel checks group membership only
//! for raw sockets bound to an address; seen in a namespace), so `recv` skips them.
//! Binding to our address instead would also drop unicast adverts that peers send to
//! another address of ours (a global one, while we send from the link-local). Filtering by the configured peer list is
//! **left to the caller** (the daemon), because several virtual routers with different
//! peer lists can share an interface and the "not a peer" drop belongs in the same
//! counters as the decode rejects. `RecvMeta::src` is what to check.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn, SockaddrIn6, recvmsg, sendmsg,
    setsockopt, sockopt,
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use thiserror::Error;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::error::NetError;
use crate::proto::ipv4::{self, Ipv4Reject};
use crate::proto::packet::{
    Family, IP_PROTO_VRRP, RecvMeta, VRRP_GROUP_V4, VRRP_GROUP_V6, VRRP_TTL,
};

/// TOS / traffic class of every advertisement: DSCP CS6 (network control), 0xc0, as
/// keepalived sends.
pub const VRRP_TOS: u8 = 0xc0;

/// A receive buffer large enough for any valid advertisement with its IPv4 header (the
/// largest, v3 over IPv6 with 255 addresses, is 4088 bytes). Anything longer arrives as
/// [`Malformed::Truncated`].
pub const RECV_BUFFER_LEN: usize = 8192;

/// How the socket finds its peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Join 224.0.0.18 / ff02::12 on the interface; advertisements go to the group.
    Multicast,
    /// No group; advertisements go to each configured peer, and the caller filters what
    /// arrives by source (see the module docs).
    Unicast,
}

/// Why a received packet could not even be handed to the decoder. Counted by the caller
/// under [`Malformed::name`], like a decode `Reject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum Malformed {
    #[error("datagram of {len} bytes is larger than the receive buffer of {buffer}")]
    Truncated { len: usize, buffer: usize },
    /// The IPv4 header in front of the message (see `proto::ipv4`).
    #[error(transparent)]
    Ipv4(#[from] Ipv4Reject),
    #[error("control messages truncated by the kernel")]
    ControlTruncated,
    #[error("no hop limit control message")]
    MissingHopLimit,
    #[error("hop limit {value} out of range")]
    BadHopLimit { value: i32 },
    #[error("no packet-info control message")]
    MissingPacketInfo,
    #[error("no source address")]
    MissingSource,
}

impl Malformed {
    /// A short, stable identifier for counters.
    pub fn name(&self) -> &'static str {
        match self {
            Malformed::Truncated { .. } => "truncated",
            Malformed::Ipv4(reject) => reject.name(),
            Malformed::ControlTruncated => "control_truncated",
            Malformed::MissingHopLimit => "missing_hop_limit",
            Malformed::BadHopLimit { .. } => "bad_hop_limit",
            Malformed::MissingPacketInfo => "missing_packet_info",
            Malformed::MissingSource => "missing_source",
        }
    }
}

/// A failed receive: either the socket failed (log, maybe reopen) or one packet was
/// unusable (count it and carry on).
#[derive(Debug, Error)]
pub enum RecvError {
    #[error("receiving VRRP on {iface}: {source}")]
    Io { iface: String, source: io::Error },
    #[error("malformed packet on {iface}: {reason}")]
    Malformed { iface: String, reason: Malformed },
}

/// One received packet: the VRRP message is the first `len` bytes of the buffer passed
/// to the receive call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub len: usize,
    pub meta: RecvMeta,
    /// When the kernel received it (`SCM_TIMESTAMPNS`, `CLOCK_REALTIME`); `None` if the
    /// kernel did not say (it always does once `SO_TIMESTAMPNS` is set).
    pub kernel_time: Option<SystemTime>,
}

/// A raw protocol-112 socket on one interface for one address family.
#[derive(Debug)]
pub struct VrrpSocket {
    fd: AsyncFd<Socket>,
    iface: String,
    ifindex: u32,
    family: Family,
    mode: Mode,
    source: IpAddr,
}

impl VrrpSocket {
    /// Opens the socket on `iface` for `family`, sending from `source` (the interface's
    /// primary IPv4 address, or its IPv6 link-local address; see the module docs).
    ///
    /// Must be called inside a tokio runtime (the socket registers with its reactor). The
    /// socket lives in the network namespace of the calling thread.
    pub fn open(iface: &str, family: Family, source: IpAddr, mode: Mode) -> Result<Self, NetError> {
        check_family(iface, source, family)?;
        let ifindex =
            nix::net::if_::if_nametoindex(iface).map_err(|errno| NetError::NoSuchInterface {
                iface: iface.to_owned(),
                source: io::Error::from(errno),
            })?;
        let what = match family {
            Family::V4 => "VRRP IPv4",
            Family::V6 => "VRRP IPv6",
        };
        let fail = |step: &'static str| {
            let iface = iface.to_owned();
            move |source: io::Error| NetError::Socket {
                what,
                iface,
                step,
                source,
            }
        };
        let domain = match family {
            Family::V4 => Domain::IPV4,
            Family::V6 => Domain::IPV6,
        };
        let socket = Socket::new(
            domain,
            Type::RAW,
            Some(Protocol::from(i32::from(IP_PROTO_VRRP))),
        )
        .map_err(fail("socket(SOCK_RAW, 112)"))?;
        socket
            .bind_device(Some(iface.as_bytes()))
            .map_err(fail("SO_BINDTODEVICE"))?;
        socket.set_nonblocking(true).map_err(fail("O_NONBLOCK"))?;
        match family {
            Family::V4 => {
                socket
                    .set_multicast_ttl_v4(u32::from(VRRP_TTL))
                    .map_err(fail("IP_MULTICAST_TTL 255"))?;
                socket
                    .set_ttl_v4(u32::from(VRRP_TTL))
                    .map_err(fail("IP_TTL 255"))?;
                socket
                    .set_multicast_loop_v4(false)
                    .map_err(fail("IP_MULTICAST_LOOP off"))?;
                socket
                    .set_multicast_all_v4(false)
                    .map_err(fail("IP_MULTICAST_ALL off"))?;
                socket
                    .set_tos_v4(u32::from(VRRP_TOS))
                    .map_err(fail("IP_TOS 0xc0"))?;
                set_multicast_if_v4_index(&socket, ifindex).map_err(fail("IP_MULTICAST_IF"))?;
                setsockopt(&socket, sockopt::Ipv4PacketInfo, &true)
                    .map_err(|errno| fail("IP_PKTINFO")(io::Error::from(errno)))?;
                if mode == Mode::Multicast {
                    socket
                        .join_multicast_v4_n(
                            &VRRP_GROUP_V4,
                            &InterfaceIndexOrAddress::Index(ifindex),
                        )
                        .map_err(fail("IP_ADD_MEMBERSHIP 224.0.0.18"))?;
                }
            }
            Family::V6 => {
                socket
                    .set_multicast_hops_v6(u32::from(VRRP_TTL))
                    .map_err(fail("IPV6_MULTICAST_HOPS 255"))?;
                socket
                    .set_unicast_hops_v6(u32::from(VRRP_TTL))
                    .map_err(fail("IPV6_UNICAST_HOPS 255"))?;
                socket
                    .set_multicast_loop_v6(false)
                    .map_err(fail("IPV6_MULTICAST_LOOP off"))?;
                socket
                    .set_multicast_all_v6(false)
                    .map_err(fail("IPV6_MULTICAST_ALL off"))?;
                socket
                    .set_tclass_v6(u32::from(VRRP_TOS))
                    .map_err(fail("IPV6_TCLASS 0xc0"))?;
                socket
                    .set_multicast_if_v6(ifindex)
                    .map_err(fail("IPV6_MULTICAST_IF"))?;
                socket
                    .set_recv_hoplimit_v6(true)
                    .map_err(fail("IPV6_RECVHOPLIMIT"))?;
                setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true)
                    .map_err(|errno| fail("IPV6_RECVPKTINFO")(io::Error::from(errno)))?;
                if mode == Mode::Multicast {
                    socket
                        .join_multicast_v6(&VRRP_GROUP_V6, ifindex)
                        .map_err(fail("IPV6_ADD_MEMBERSHIP ff02::12"))?;
                }
            }
        }
        setsockopt(&socket, sockopt::ReceiveTimestampns, &true)
            .map_err(|errno| fail("SO_TIMESTAMPNS")(io::Error::from(errno)))?;
        let fd = register(socket).map_err(fail("registering with the tokio reactor"))?;
        Ok(VrrpSocket {
            fd,
            iface: iface.to_owned(),
            ifindex,
            family,
            mode,
            source,
        })
    }

    /// The interface name.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// The interface index (resolved once, at open).
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The address family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Multicast or unicast.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The source address every send uses; pass it as `EncodeCtx::src` so the checksum
    /// covers the address the packet really carries.
    pub fn source(&self) -> IpAddr {
        self.source
    }

    /// The destination of advertisements in multicast mode: 224.0.0.18 or ff02::12.
    pub fn group(&self) -> IpAddr {
        match self.family {
            Family::V4 => IpAddr::V4(VRRP_GROUP_V4),
            Family::V6 => IpAddr::V6(VRRP_GROUP_V6),
        }
    }

    /// Changes the source address (after the interface's primary address changed).
    pub fn set_source(&mut self, source: IpAddr) -> Result<(), NetError> {
        check_family(&self.iface, source, self.family)?;
        self.source = source;
        Ok(())
    }

    /// Sends one VRRP message (`bytes`, as `proto::packet::encode` made it) to `dst`: the
    /// group in multicast mode, one peer in unicast mode. TTL/hop limit 255 and TOS 0xc0
    /// come from the socket options; the source is [`Self::source`].
    pub async fn send_to(&self, bytes: &[u8], dst: IpAddr) -> Result<(), NetError> {
        check_family(&self.iface, dst, self.family)?;
        let send_error = |source: io::Error| NetError::Send {
            iface: self.iface.clone(),
            src: self.source,
            dst,
            source,
        };
        loop {
            let mut guard = self.fd.writable().await.map_err(send_error)?;
            match guard.try_io(|fd| self.send_once(fd.get_ref(), bytes, dst)) {
                Ok(result) => return result.map_err(send_error),
                Err(_would_block) => continue,
            }
        }
    }

    fn send_once(&self, socket: &Socket, bytes: &[u8], dst: IpAddr) -> io::Result<()> {
        let iov = [IoSlice::new(bytes)];
        let sent = match (self.source, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let info = libc::in_pktinfo {
                    ipi_ifindex: index_as_c_int(self.ifindex)?,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(src).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                let addr = SockaddrIn::from(SocketAddrV4::new(dst, 0));
                sendmsg(
                    socket.as_raw_fd(),
                    &iov,
                    &[ControlMessage::Ipv4PacketInfo(&info)],
                    MsgFlags::empty(),
                    Some(&addr),
                )?
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: src.octets(),
                    },
                    ipi6_ifindex: self.ifindex,
                };
                // The scope id makes link-local and ff02:: destinations unambiguous; it
                // must equal the pktinfo index or the kernel refuses the send.
                let addr = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, self.ifindex));
                sendmsg(
                    socket.as_raw_fd(),
                    &iov,
                    &[ControlMessage::Ipv6PacketInfo(&info)],
                    MsgFlags::empty(),
                    Some(&addr),
                )?
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "source and destination of different families",
                ));
            }
        };
        if sent != bytes.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("sent {sent} of {} bytes", bytes.len()),
            ));
        }
        Ok(())
    }

    /// Receives one packet: the VRRP message is written to the start of `buf` (IP header
    /// removed) and its length returned with what the kernel said about it.
    ///
    /// `buf` should hold [`RECV_BUFFER_LEN`] bytes; for IPv4 it temporarily holds the IP
    /// header too. A packet that cannot be understood is `RecvError::Malformed`: count it
    /// and call again.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<(usize, RecvMeta), RecvError> {
        self.recv_datagram(buf)
            .await
            .map(|datagram| (datagram.len, datagram.meta))
    }

    /// [`Self::recv`], with the time the kernel received the packet.
    pub async fn recv_datagram(&self, buf: &mut [u8]) -> Result<Datagram, RecvError> {
        let received = loop {
            let mut guard = self.fd.readable().await.map_err(|e| self.io_error(e))?;
            match guard.try_io(|fd| self.recv_once(fd.get_ref(), buf)) {
                Ok(Ok(Ok(datagram))) if self.not_for_us(&datagram) => {
                    // Each wait for readiness spends tokio's cooperative budget, so a
                    // flood of these cannot monopolise the runtime.
                    continue;
                }
                Ok(result) => break result.map_err(|e| self.io_error(e))?,
                Err(_would_block) => continue,
            }
        };
        received.map_err(|reason| self.malformed(reason))
    }

    /// Like [`Self::recv_datagram`], but without waiting: `Ok(None)` when nothing is
    /// queued on the socket. For taking what has already arrived before acting on an
    /// expired timer; the caller bounds how many it takes.
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<Option<Datagram>, RecvError> {
        loop {
            // The socket is non-blocking. Reading past tokio's readiness tracking is
            // fine: readiness is edge-triggered and re-checked with a read before any
            // wait, so a packet taken here is never waited for there.
            match self.recv_once(self.fd.get_ref(), buf) {
                Ok(Ok(datagram)) if self.not_for_us(&datagram) => continue,
                Ok(Ok(datagram)) => return Ok(Some(datagram)),
                Ok(Err(reason)) => return Err(self.malformed(reason)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error(e)),
            }
        }
    }

    /// A multicast packet on a unicast-mode socket (see the module docs); a
    /// multicast-mode socket on the interface, if any, gets its own copy.
    fn not_for_us(&self, datagram: &Datagram) -> bool {
        self.mode == Mode::Unicast && datagram.meta.dst.is_multicast()
    }

    fn io_error(&self, source: io::Error) -> RecvError {
        RecvError::Io {
            iface: self.iface.clone(),
            source,
        }
    }

    fn malformed(&self, reason: Malformed) -> RecvError {
        RecvError::Malformed {
            iface: self.iface.clone(),
            reason,
        }
    }

    /// One `recvmsg`. The outer error is the socket's (including `WouldBlock`, which
    /// `try_io` turns into "wait again"); the inner one is the packet's.
    fn recv_once(
        &self,
        socket: &Socket,
        buf: &mut [u8],
    ) -> io::Result<Result<Datagram, Malformed>> {
        let buffer = buf.len();
        let mut control = match self.family {
            Family::V4 => nix::cmsg_space!(libc::in_pktinfo, libc::timespec),
            Family::V6 => nix::cmsg_space!(libc::in6_pktinfo, libc::c_int, libc::timespec),
        };
        let mut iov = [IoSliceMut::new(buf)];
        let (len, flags, name_v6, cmsgs) = match self.family {
            Family::V4 => {
                // The source comes from the IP header itself, not the message name.
                let msg = recvmsg::<SockaddrIn>(
                    socket.as_raw_fd(),
                    &mut iov,
                    Some(&mut control),
                    MsgFlags::MSG_TRUNC,
                )?;
                let cmsgs: Option<Vec<ControlMessageOwned>> =
                    msg.cmsgs().ok().map(|iter| iter.collect());
                (msg.bytes, msg.flags, None, cmsgs)
            }
            Family::V6 => {
                let msg = recvmsg::<SockaddrIn6>(
                    socket.as_raw_fd(),
                    &mut iov,
                    Some(&mut control),
                    MsgFlags::MSG_TRUNC,
                )?;
                let cmsgs: Option<Vec<ControlMessageOwned>> =
                    msg.cmsgs().ok().map(|iter| iter.collect());
                (msg.bytes, msg.flags, msg.address, cmsgs)
            }
        };
        // With MSG_TRUNC in the call, `len` is the real datagram length even when the
        // buffer was smaller.
        if flags.contains(MsgFlags::MSG_TRUNC) || len > buffer {
            return Ok(Err(Malformed::Truncated { len, buffer }));
        }
        let Some(cmsgs) = cmsgs else {
            return Ok(Err(Malformed::ControlTruncated));
        };
        let kernel_time = kernel_time(&cmsgs);
        let packet = buf.get(..len).unwrap_or_default();
        let received = match self.family {
            Family::V4 => {
                let ifindex = cmsgs
                    .iter()
                    .find_map(|cmsg| match cmsg {
                        ControlMessageOwned::Ipv4PacketInfo(info) => {
                            u32::try_from(info.ipi_ifindex).ok()
                        }
                        _ => None,
                    })
                    // Bound to the device, so the packet came in on it anyway.
                    .unwrap_or(self.ifindex);
                match ipv4::parse_header(packet) {
                    Ok(header) => {
                        let payload = header.payload;
                        buf.copy_within(payload.clone(), 0);
                        Ok((
                            payload.len(),
                            RecvMeta {
                                src: IpAddr::V4(header.src),
                                dst: IpAddr::V4(header.dst),
                                ttl: header.ttl,
                                ifindex,
                            },
                        ))
                    }
                    Err(reason) => Err(Malformed::Ipv4(reason)),
                }
            }
            Family::V6 => ipv6_meta(name_v6, &cmsgs).map(|meta| (len, meta)),
        };
        Ok(received.map(|(len, meta)| Datagram {
            len,
            meta,
            kernel_time,
        }))
    }
}

/// The kernel's receive time from an `SCM_TIMESTAMPNS` control message, if there is one
/// and it is not before 1970.
fn kernel_time(cmsgs: &[ControlMessageOwned]) -> Option<SystemTime> {
    cmsgs.iter().find_map(|cmsg| match cmsg {
        ControlMessageOwned::ScmTimestampns(stamp) => {
            let secs = u64::try_from(stamp.tv_sec()).ok()?;
            let nanos = u32::try_from(stamp.tv_nsec())
                .ok()
                .filter(|n| *n < 1_000_000_000)?;
            UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
        }
        _ => None,
    })
}

/// The metadata of an IPv6 packet from its message name and control messages.
fn ipv6_meta(
    name: Option<SockaddrIn6>,
    cmsgs: &[ControlMessageOwned],
) -> Result<RecvMeta, Malformed> {
    let src = name.ok_or(Malformed::MissingSource)?.ip();
    let mut ttl = None;
    let mut info = None;
    for cmsg in cmsgs {
        match cmsg {
            ControlMessageOwned::Ipv6HopLimit(value) => {
                ttl = Some(
                    u8::try_from(*value).map_err(|_| Malformed::BadHopLimit { value: *value })?,
                );
            }
            ControlMessageOwned::Ipv6PacketInfo(pktinfo) => {
                info = Some((
                    Ipv6Addr::from(pktinfo.ipi6_addr.s6_addr),
                    pktinfo.ipi6_ifindex,
                ));
            }
            _ => {}
        }
    }
    let ttl = ttl.ok_or(Malformed::MissingHopLimit)?;
    let (dst, ifindex) = info.ok_or(Malformed::MissingPacketInfo)?;
    Ok(RecvMeta {
        src: IpAddr::V6(src),
        dst: IpAddr::V6(dst),
        ttl,
        ifindex,
    })
}

/// Registers the socket with the current tokio reactor; an error (not a panic) when
/// there is none.
pub(crate) fn register(socket: Socket) -> io::Result<AsyncFd<Socket>> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(io::Error::other("not called inside a tokio runtime"));
    }
    // SAFETY: `socket2::Socket` owns its file descriptor: it stays open and is the same
    // descriptor for as long as the `AsyncFd` owns the socket (nothing here replaces or
    // closes it, and the socket is only handed out by reference), and `as_raw_fd` always
    // returns that descriptor.
    let registered =
        unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE | Interest::WRITABLE) };
    registered.map_err(|error| error.into_parts().1)
}

fn check_family(iface: &str, addr: IpAddr, family: Family) -> Result<(), NetError> {
    if Family::of(&addr) == family {
        Ok(())
    } else {
        Err(NetError::WrongFamily {
            iface: iface.to_owned(),
            addr,
            expected: family,
        })
    }
}

fn index_as_c_int(ifindex: u32) -> io::Result<libc::c_int> {
    libc::c_int::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index out of range"))
}

/// `IP_MULTICAST_IF` with an `ip_mreqn` naming the interface by index (socket2 only offers
/// the by-address form, which is ambiguous or impossible without an IPv4 address).
fn set_multicast_if_v4_index(socket: &Socket, ifindex: u32) -> io::Result<()> {
    let mreqn = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: index_as_c_int(ifindex)?,
    };
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::ip_mreqn>())
        .map_err(|_| io::Error::other("ip_mreqn size"))?;
    // SAFETY: the fd is a live socket owned by `socket`; the option value points to an
    // initialised `ip_mreqn` on this stack frame and `len` is exactly its size, which is
    // what the kernel reads for IP_MULTICAST_IF.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            std::ptr::from_ref(&mreqn).cast::<libc::c_void>(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_meta_needs_every_piece() {
        let src = SockaddrIn6::from(SocketAddrV6::new(
            "fe80::1".parse().expect("literal"),
            0,
            0,
            3,
        ));
        let info = libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr {
                s6_addr: VRRP_GROUP_V6.octets(),
            },
            ipi6_ifindex: 3,
        };
        let full = [
            ControlMessageOwned::Ipv6HopLimit(255),
            ControlMessageOwned::Ipv6PacketInfo(info),
        ];
        let meta = ipv6_meta(Some(src), &full).expect("complete");
        assert_eq!(meta.ttl, 255);
        assert_eq!(meta.dst, IpAddr::V6(VRRP_GROUP_V6));
        assert_eq!(meta.ifindex, 3);
        assert_eq!(ipv6_meta(None, &full), Err(Malformed::MissingSource));
        assert_eq!(
            ipv6_meta(Some(src), &full[1..]),
            Err(Malformed::MissingHopLimit)
        );
        assert_eq!(
            ipv6_meta(Some(src), &full[..1]),
            Err(Malformed::MissingPacketInfo)
        );
        assert_eq!(
            ipv6_meta(
                Some(src),
                &[
                    ControlMessageOwned::Ipv6HopLimit(300),
                    ControlMessageOwned::Ipv6PacketInfo(info)
                ]
            ),
            Err(Malformed::BadHopLimit { value: 300 })
        );
    }

    #[test]
    fn kernel_time_comes_from_the_timestamp_message() {
        use nix::sys::time::TimeSpec;
        let stamp = |secs, nanos| ControlMessageOwned::ScmTimestampns(TimeSpec::new(secs, nanos));
        assert_eq!(
            kernel_time(&[
                ControlMessageOwned::Ipv6HopLimit(255),
                stamp(1_700_000_000, 250_000_000)
            ]),
            Some(UNIX_EPOCH + Duration::new(1_700_000_000, 250_000_000))
        );
        assert_eq!(kernel_time(&[ControlMessageOwned::Ipv6HopLimit(255)]), None);
        // Before 1970: nothing sensible to convert.
        assert_eq!(kernel_time(&[stamp(-1, 0)]), None);
    }
}
