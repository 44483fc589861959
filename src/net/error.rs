//! The error type of the network edges.
//!
//! Owns: naming what failed, on which interface and for which address, so a log line
//! says enough to act on. Must not decide what a failure means for a virtual router;
//! the daemon does that.

use std::io;
use std::net::IpAddr;

use thiserror::Error;

use crate::proto::packet::Family;

/// Human name of an address family, for messages.
pub(crate) fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

/// A failure at a kernel edge: a socket, a netlink request, a frame send.
#[derive(Debug, Error)]
pub enum NetError {
    /// The interface name does not resolve to an index (absent, or renamed).
    #[error("interface {iface:?} not found: {source}")]
    NoSuchInterface { iface: String, source: io::Error },

    /// Creating, binding or configuring a socket failed.
    #[error("{what} socket on {iface}: {step}: {source}")]
    Socket {
        /// Which socket: "VRRP IPv4", "VRRP IPv6", "AF_PACKET".
        what: &'static str,
        iface: String,
        /// The system call or option that failed, e.g. "IP_ADD_MEMBERSHIP 224.0.0.18".
        step: &'static str,
        source: io::Error,
    },

    /// An address of the wrong family was given to a socket of the other family.
    #[error("{addr} is not an {} address (interface {iface})", family_name(*expected))]
    WrongFamily {
        iface: String,
        addr: IpAddr,
        expected: Family,
    },

    /// Sending an advertisement failed.
    #[error("sending VRRP from {src} to {dst} on {iface}: {source}")]
    Send {
        iface: String,
        src: IpAddr,
        dst: IpAddr,
        source: io::Error,
    },

    /// Sending a gratuitous ARP / unsolicited NA frame failed.
    #[error("sending frame {index} of {count} ({len} bytes) on {iface}: {source}")]
    SendFrame {
        iface: String,
        index: usize,
        count: usize,
        len: usize,
        source: io::Error,
    },

    /// A frame handed to the announcer cannot be an Ethernet frame. A programming error
    /// (the frames come from `proto::arp` / `proto::ndisc`), reported rather than sent.
    #[error("frame {index} for {iface} is {len} bytes; an Ethernet frame needs at least 14")]
    BadFrame {
        iface: String,
        index: usize,
        len: usize,
    },

    /// Opening the rtnetlink socket failed.
    #[error("opening rtnetlink socket ({purpose}): {source}")]
    NetlinkOpen {
        purpose: &'static str,
        source: io::Error,
    },

    /// A netlink request about an interface failed. (The netlink error is boxed: it can
    /// carry a whole netlink message, and every `Result` here would pay for its size.)
    #[error("netlink {op} for interface {iface}: {source}")]
    Netlink {
        op: &'static str,
        iface: String,
        source: Box<rtnetlink::Error>,
    },

    /// A netlink request about one address failed (other than the idempotent cases).
    #[error("netlink {op} {addr}/{prefix_len} on interface {iface}: {source}")]
    NetlinkAddress {
        op: &'static str,
        iface: String,
        addr: IpAddr,
        prefix_len: u8,
        source: Box<rtnetlink::Error>,
    },

    /// The kernel has no link with that name or index.
    #[error("interface {iface} does not exist")]
    LinkNotFound { iface: String },

    /// The link has no 6-byte hardware address (not Ethernet-like).
    #[error("interface {iface} has no Ethernet MAC address")]
    NoMac { iface: String },

    /// No address suitable as the VRRP source (see `Netlink::primary_address`).
    #[error("interface {iface} has no usable {} address: {why}", family_name(*family))]
    NoAddress {
        iface: String,
        family: Family,
        why: &'static str,
    },

    /// An address or prefix that cannot be put on an interface.
    #[error("invalid address {addr}/{prefix_len} for interface {iface}: {why}")]
    InvalidAddress {
        iface: String,
        addr: IpAddr,
        prefix_len: u8,
        why: &'static str,
    },
}

/// "veth0 (index 3)" when the name is known, "index 3" otherwise: every message names
/// the interface the way an operator can look it up.
pub(crate) fn describe_index(index: u32) -> String {
    match nix::net::if_::if_indextoname(index) {
        Ok(name) => format!("{} (index {index})", name.to_string_lossy()),
        Err(_) => format!("index {index}"),
    }
}
