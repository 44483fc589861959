//! The kernel edges: raw VRRP sockets, `AF_PACKET` announcement frames, and rtnetlink
//! (links, addresses, and the link/address watch).
//!
//! Owns: every system call the daemon makes to the network stack, each socket option
//! and why it is set, and turning what the kernel says into plain data (`RecvMeta`,
//! [`NetEvent`], [`AddressEntry`]) with errors that name the interface and address.
//!
//! Must not: decide anything about VRRP state, judge an advertisement (that is
//! `proto::packet::decode`), filter by VRID or peer, pick timers, or retry on its own.
//! It does what the daemon asks, once, and reports what happened; the daemon turns that
//! into `Event`s for the state machine and carries out its `Action`s through here.
//!
//! Everything here needs a tokio runtime (sockets register with its reactor, netlink
//! connections are spawned on it) and acts in the network namespace of the thread that
//! created the socket.
//!
//! - [`vrrp_socket`]: [`VrrpSocket`], raw IP protocol 112 per (interface, family).
//! - [`netlink`]: [`Netlink`] requests and [`Netlink::watch`].
//! - [`announce`]: [`Announcer`], gratuitous ARP / unsolicited NA frames out of an
//!   interface.

pub mod announce;
pub mod error;
pub mod netlink;
pub mod vrrp_socket;

pub use announce::{Announcer, send_frames};
pub use error::NetError;
pub use netlink::{AddressEntry, LinkInfo, NetEvent, Netlink};
pub use vrrp_socket::{
    Datagram, Malformed, Mode, RECV_BUFFER_LEN, RecvError, VRRP_TOS, VrrpSocket,
};
