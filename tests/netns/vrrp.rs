//! Hand-made VRRPv3 advertisements, sent from a namespace with a raw protocol-112
//! socket: the forger in the "advert from a non-peer" scenario, and a probe that the
//! nftables partition rules catch VRRP.
//!
//! Built here byte by byte (RFC 9568 §5.1) rather than with the crate's encoder, so a
//! bug there cannot hide in both the daemon and its test.

use std::net::{IpAddr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

const PROTO_VRRP: i32 = 112;

/// The fields of a VRRPv3 advertisement.
#[derive(Clone, Debug)]
pub struct Advert {
    pub vrid: u8,
    pub priority: u8,
    /// Max advertisement interval in centiseconds (12 bits).
    pub interval_cs: u16,
    pub addresses: Vec<IpAddr>,
}

impl Advert {
    /// The VRRP message; for IPv4 the checksum includes the pseudo-header (the form
    /// keepalived and FRR send). For IPv6 the kernel fills it in (IPV6_CHECKSUM).
    pub fn encode(&self, src: IpAddr, dst: IpAddr) -> Vec<u8> {
        let mut m = vec![
            0x31, // version 3, type 1 (advertisement)
            self.vrid,
            self.priority,
            self.addresses.len() as u8,
        ];
        m.extend_from_slice(&(self.interval_cs & 0x0fff).to_be_bytes());
        m.extend_from_slice(&[0, 0]);
        for a in &self.addresses {
            match a {
                IpAddr::V4(a) => m.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => m.extend_from_slice(&a.octets()),
            }
        }
        if let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) {
            let mut pseudo = Vec::new();
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&[0, PROTO_VRRP as u8]);
            pseudo.extend_from_slice(&(m.len() as u16).to_be_bytes());
            pseudo.extend_from_slice(&m);
            let sum = super::icmp::checksum(&pseudo);
            m[6..8].copy_from_slice(&sum.to_be_bytes());
        }
        m
    }
}

/// Sends `advert` from `iface` in `ns` to `dst` (unicast peer or 224.0.0.18 / ff02::12)
/// with TTL / hop limit 255. The source address is the one the kernel picks for
/// `iface` (its primary address, or its link-local address for IPv6).
pub fn send(ns: &str, iface: &str, dst: IpAddr, advert: &Advert) {
    let iface = iface.to_string();
    let advert = advert.clone();
    let ns_name = ns.to_string();
    let result = super::in_netns(ns, move || -> std::io::Result<()> {
        let domain = if dst.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let socket = Socket::new(domain, Type::RAW, Some(Protocol::from(PROTO_VRRP)))?;
        socket.bind_device(Some(iface.as_bytes()))?;
        if dst.is_ipv4() {
            socket.set_ttl_v4(255)?;
            socket.set_multicast_ttl_v4(255)?;
        } else {
            socket.set_unicast_hops_v6(255)?;
            socket.set_multicast_hops_v6(255)?;
            // IPV6_CHECKSUM: the kernel computes the VRRP checksum at offset 6.
            let offset: libc::c_int = 6;
            // SAFETY: valid socket fd, pointer to a live c_int with its exact size.
            let rc = unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&socket),
                    libc::IPPROTO_IPV6,
                    libc::IPV6_CHECKSUM,
                    (&offset as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        // Learn the source the kernel will use, for the IPv4 pseudo-header checksum.
        socket.connect(&SocketAddr::new(dst, 0).into())?;
        let src = socket
            .local_addr()?
            .as_socket()
            .map(|s| s.ip())
            .ok_or_else(|| std::io::Error::other("no local address"))?;
        socket.send(&advert.encode(src, dst))?;
        Ok(())
    });
    if let Err(e) = result {
        panic!("sending a VRRP advertisement from {ns_name} to {dst}: {e}");
    }
}

/// One advertisement a [`Listener`] saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: std::time::Instant,
    pub src: IpAddr,
    pub vrid: u8,
    pub priority: u8,
    pub interval_cs: u16,
}

/// Joins the VRRP groups on an interface of a namespace and records every
/// advertisement (IPv4 and IPv6) arriving there, until dropped.
pub struct Listener {
    seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Listener {
    pub fn start(ns: &str, iface: &str) -> Listener {
        use std::net::{Ipv4Addr, Ipv6Addr};
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};

        let iface_owned = iface.to_string();
        let sockets = super::in_netns(ns, move || -> std::io::Result<(Socket, Socket)> {
            let index = nix::net::if_::if_nametoindex(iface_owned.as_str())
                .map_err(std::io::Error::from)?;
            let v4 = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(PROTO_VRRP)))?;
            v4.bind_device(Some(iface_owned.as_bytes()))?;
            v4.join_multicast_v4_n(
                &Ipv4Addr::new(224, 0, 0, 18),
                &socket2::InterfaceIndexOrAddress::Index(index),
            )?;
            let v6 = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(PROTO_VRRP)))?;
            v6.bind_device(Some(iface_owned.as_bytes()))?;
            v6.join_multicast_v6(&Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12), index)?;
            Ok((v4, v6))
        })
        .unwrap_or_else(|e| panic!("VRRP listener in {ns} on {iface}: {e}"));

        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (socket, v4) in [(sockets.0, true), (sockets.1, false)] {
            let seen = seen.clone();
            let stop = stop.clone();
            socket
                .set_read_timeout(Some(std::time::Duration::from_millis(20)))
                .expect("set read timeout");
            threads.push(std::thread::spawn(move || {
                let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 2048];
                while !stop.load(Ordering::SeqCst) {
                    let Ok((n, from)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    // SAFETY: recv_from initialised the first n bytes.
                    let bytes: &[u8] =
                        unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), n) };
                    let Some(src) = from.as_socket().map(|s| s.ip()) else {
                        continue;
                    };
                    let msg = if v4 {
                        let ihl = usize::from(bytes.first().copied().unwrap_or(0) & 0x0f) * 4;
                        bytes.get(ihl..).unwrap_or(&[])
                    } else {
                        bytes
                    };
                    if msg.len() >= 8 {
                        seen.lock().unwrap().push(Seen {
                            at: std::time::Instant::now(),
                            src,
                            vrid: msg[1],
                            priority: msg[2],
                            interval_cs: u16::from_be_bytes([msg[4], msg[5]]) & 0x0fff,
                        });
                    }
                }
            }));
        }
        Listener {
            seen,
            stop,
            threads,
        }
    }

    /// Everything seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Advertisements seen so far from `src`.
    pub fn from(&self, src: IpAddr) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.src == src).collect()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
