//! Sending gratuitous ARP and unsolicited neighbour advertisement frames.
//!
//! Owns: an `AF_PACKET`/`SOCK_RAW` socket per interface and putting whole Ethernet
//! frames on the wire. The frame bytes come from `proto::arp::gratuitous_arp` and
//! `proto::ndisc::unsolicited_na`; this module never builds or inspects them beyond the
//! ethertype. Must not decide when or how often to announce (the state machine and the
//! daemon's GARP settings do).
//!
//! # Why the socket looks like this
//!
//! - `AF_PACKET`, not an ARP/ICMPv6 socket: the frames are complete, with our MAC as the
//!   Ethernet source, and must leave exactly as built (the NA's hop limit 255 and
//!   checksum included).
//! - Protocol 0 and no `bind`: a packet socket with protocol 0 is never attached to the
//!   receive path, so it does not queue a copy of every ARP or IPv6 frame on the link
//!   that nobody reads. Each send names the interface index and the frame's own ethertype
//!   in its `sockaddr_ll`, which is all a bind would have provided.

use std::io;
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::error::{NetError, describe_index};
use super::vrrp_socket::register;

const ETHERNET_HEADER_LEN: usize = 14;

/// An `AF_PACKET` socket that sends announcement frames out of one interface.
#[derive(Debug)]
pub struct Announcer {
    fd: AsyncFd<Socket>,
    ifindex: u32,
    iface: String,
}

impl Announcer {
    /// Opens the socket for the interface with index `ifindex`. Must be called inside a
    /// tokio runtime; the socket belongs to the calling thread's network namespace.
    pub fn open(ifindex: u32) -> Result<Announcer, NetError> {
        let iface = describe_index(ifindex);
        let fail = |step: &'static str| {
            let iface = iface.clone();
            move |source: io::Error| NetError::Socket {
                what: "AF_PACKET",
                iface,
                step,
                source,
            }
        };
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0)))
            .map_err(fail("socket(AF_PACKET, SOCK_RAW, 0)"))?;
        socket.set_nonblocking(true).map_err(fail("O_NONBLOCK"))?;
        let fd = register(socket).map_err(fail("registering with the tokio reactor"))?;
        Ok(Announcer { fd, ifindex, iface })
    }

    /// The interface index frames go out of.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends each frame once, in order. Stops at the first failure and says which frame
    /// it was; frames shorter than an Ethernet header are refused, not sent.
    pub async fn send_frames<F: AsRef<[u8]>>(&self, frames: &[F]) -> Result<(), NetError> {
        let count = frames.len();
        for (index, frame) in frames.iter().enumerate() {
            let frame = frame.as_ref();
            let len = frame.len();
            let &[.., ether_high, ether_low] = frame.get(..ETHERNET_HEADER_LEN).unwrap_or_default()
            else {
                return Err(NetError::BadFrame {
                    iface: self.iface.clone(),
                    index,
                    len,
                });
            };
            let ethertype = u16::from_be_bytes([ether_high, ether_low]);
            let destination = frame.get(..6).unwrap_or_default();
            let send_error = |source: io::Error| NetError::SendFrame {
                iface: self.iface.clone(),
                index,
                count,
                len,
                source,
            };
            loop {
                let mut guard = self.fd.writable().await.map_err(send_error)?;
                match guard.try_io(|fd| {
                    send_frame(fd.get_ref(), self.ifindex, ethertype, destination, frame)
                }) {
                    Ok(result) => {
                        result.map_err(send_error)?;
                        break;
                    }
                    Err(_would_block) => continue,
                }
            }
        }
        Ok(())
    }
}

/// Opens an announcer on `ifindex`, sends `frames`, and closes it: for callers that
/// announce rarely enough not to keep a socket.
pub async fn send_frames<F: AsRef<[u8]>>(ifindex: u32, frames: &[F]) -> Result<(), NetError> {
    Announcer::open(ifindex)?.send_frames(frames).await
}

/// One `sendto` of a whole Ethernet frame out of `ifindex`.
fn send_frame(
    socket: &Socket,
    ifindex: u32,
    ethertype: u16,
    destination: &[u8],
    frame: &[u8],
) -> io::Result<()> {
    let mut address = libc::sockaddr_ll {
        sll_family: libc::sa_family_t::try_from(libc::AF_PACKET)
            .map_err(|_| io::Error::other("AF_PACKET out of range"))?,
        sll_protocol: ethertype.to_be(),
        sll_ifindex: libc::c_int::try_from(ifindex)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index"))?,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 6,
        sll_addr: [0; 8],
    };
    for (slot, byte) in address.sll_addr.iter_mut().zip(destination) {
        *slot = *byte;
    }
    let address_len = libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_ll>())
        .map_err(|_| io::Error::other("sockaddr_ll size"))?;
    // SAFETY: the fd is a live AF_PACKET socket owned by `socket`; `frame` is a valid
    // slice for `frame.len()` bytes; the address points to an initialised `sockaddr_ll`
    // on this stack frame and `address_len` is exactly its size. The kernel only reads
    // both buffers during the call.
    let sent = unsafe {
        libc::sendto(
            socket.as_raw_fd(),
            frame.as_ptr().cast::<libc::c_void>(),
            frame.len(),
            0,
            std::ptr::from_ref(&address).cast::<libc::sockaddr>(),
            address_len,
        )
    };
    match usize::try_from(sent) {
        Ok(sent) if sent == frame.len() => Ok(()),
        Ok(sent) => Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("sent {sent} of {} bytes", frame.len()),
        )),
        Err(_) => Err(io::Error::last_os_error()),
    }
}
