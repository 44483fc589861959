//! Hand-made VRRPv3 (and VRRPv2) advertisements, sent from a namespace with a raw protocol-112
//! socket: the forger in the "advert from a non-peer" scenario, and a probe that the
//! nftables partition rules catch VRRP.
//!
//! Built here byte by byte (RFC 9568 §5.1) rather than with the crate's encoder, so a
//! bug there cannot hide in both the daemon and its test. [`Forgery`] bends the rules a
//! receiver must check: TTL / hop limit, and the checksum (its form, or wrong).

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

/// What the checksum field of a forged advertisement holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// The RFC 9568 checksum, IPv4 or IPv6 pseudo-header included (keepalived, FRR).
    WithPseudoHeader,
    /// Over the VRRP message alone (some vendors, for IPv4).
    WithoutPseudoHeader,
    /// Neither form: the correct checksum with bits flipped.
    Wrong,
}

/// How a forged advertisement departs from a well-formed one.
#[derive(Clone, Copy, Debug)]
pub struct Forgery {
    /// TTL / hop limit it is sent with (a receiver must drop anything but 255).
    pub ttl: u8,
    pub checksum: Checksum,
}

impl Default for Forgery {
    /// Well-formed: TTL 255, checksum with the pseudo-header.
    fn default() -> Self {
        Forgery {
            ttl: 255,
            checksum: Checksum::WithPseudoHeader,
        }
    }
}

impl Advert {
    /// The VRRP message; for IPv4 the checksum includes the pseudo-header (the form
    /// keepalived and FRR send). For IPv6 the kernel fills it in (IPV6_CHECKSUM).
    pub fn encode(&self, src: IpAddr, dst: IpAddr) -> Vec<u8> {
        let mut m = self.encode_unchecked();
        if let (IpAddr::V4(_), IpAddr::V4(_)) = (src, dst) {
            let sum = checksum(&m, src, dst, Checksum::WithPseudoHeader);
            m[6..8].copy_from_slice(&sum.to_be_bytes());
        }
        m
    }

    /// The VRRP message with the checksum field as `form` says, for either family.
    pub fn encode_forged(&self, src: IpAddr, dst: IpAddr, form: Checksum) -> Vec<u8> {
        let mut m = self.encode_unchecked();
        let sum = checksum(&m, src, dst, form);
        m[6..8].copy_from_slice(&sum.to_be_bytes());
        m
    }

    /// The message with a zero checksum field.
    fn encode_unchecked(&self) -> Vec<u8> {
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
        m
    }
}

/// The checksum of message `m` (checksum field zero) in the given form. Over a
/// message whose checksum field is right for `form`, it is 0 (how captures verify).
pub(super) fn checksum(m: &[u8], src: IpAddr, dst: IpAddr, form: Checksum) -> u16 {
    let mut covered = Vec::new();
    if form != Checksum::WithoutPseudoHeader {
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                covered.extend_from_slice(&s.octets());
                covered.extend_from_slice(&d.octets());
                covered.extend_from_slice(&[0, PROTO_VRRP as u8]);
                covered.extend_from_slice(&(m.len() as u16).to_be_bytes());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                covered.extend_from_slice(&s.octets());
                covered.extend_from_slice(&d.octets());
                covered.extend_from_slice(&(m.len() as u32).to_be_bytes());
                covered.extend_from_slice(&[0, 0, 0, PROTO_VRRP as u8]);
            }
            _ => panic!("source {src} and destination {dst} of different families"),
        }
    }
    covered.extend_from_slice(m);
    let sum = super::icmp::checksum(&covered);
    if form == Checksum::Wrong {
        sum ^ 0x5a5a
    } else {
        sum
    }
}

/// Sends `advert` from `iface` in `ns` to `dst` (unicast peer or 224.0.0.18 / ff02::12)
/// with TTL / hop limit 255. The source address is the one the kernel picks for
/// `iface` (its primary address, or its link-local address for IPv6).
pub fn send(ns: &str, iface: &str, dst: IpAddr, advert: &Advert) {
    send_forged(ns, iface, dst, advert, Forgery::default());
}

/// Like [`send`], but with the TTL / hop limit and checksum of `forgery`. With the
/// default forgery it sends exactly what [`send`] does.
pub fn send_forged(ns: &str, iface: &str, dst: IpAddr, advert: &Advert, forgery: Forgery) {
    let advert = advert.clone();
    // IPv6 checksums are left to the kernel unless the test wants a particular form.
    let kernel_checksum = dst.is_ipv6() && forgery.checksum == Checksum::WithPseudoHeader;
    send_message(ns, iface, dst, forgery.ttl, kernel_checksum, move |src| {
        if kernel_checksum {
            advert.encode(src, dst)
        } else {
            advert.encode_forged(src, dst, forgery.checksum)
        }
    });
}

/// Sends `advert` as a VRRPv2 advertisement (RFC 3768 §5.3) over IPv4, TTL 255: its
/// interval in whole seconds (`interval_cs / 100`), auth type 1 with `password` (padded
/// with zeros) or auth type 0 without, checksum over the message alone.
pub fn send_v2(ns: &str, iface: &str, dst: IpAddr, advert: &Advert, password: Option<&str>) {
    assert!(dst.is_ipv4(), "VRRPv2 is IPv4 only");
    let mut m = vec![
        0x21, // version 2, type 1 (advertisement)
        advert.vrid,
        advert.priority,
        advert.addresses.len() as u8,
        u8::from(password.is_some()),
        (advert.interval_cs / 100) as u8,
        0,
        0,
    ];
    for a in &advert.addresses {
        match a {
            IpAddr::V4(a) => m.extend_from_slice(&a.octets()),
            IpAddr::V6(_) => panic!("VRRPv2 carries IPv4 addresses only"),
        }
    }
    let mut auth = [0u8; 8];
    if let Some(password) = password {
        assert!(password.len() <= 8, "a VRRPv2 password is at most 8 bytes");
        auth[..password.len()].copy_from_slice(password.as_bytes());
    }
    m.extend_from_slice(&auth);
    let sum = super::icmp::checksum(&m);
    m[6..8].copy_from_slice(&sum.to_be_bytes());
    send_message(ns, iface, dst, 255, false, move |_| m);
}

/// Sends the message `build` makes (given the source the kernel picks) out of `iface`
/// of namespace `ns` with a raw protocol-112 socket, with TTL / hop limit `ttl`; with
/// `kernel_checksum` (IPv6 only) the kernel fills in the checksum.
fn send_message(
    ns: &str,
    iface: &str,
    dst: IpAddr,
    ttl: u8,
    kernel_checksum: bool,
    build: impl FnOnce(IpAddr) -> Vec<u8> + Send,
) {
    let iface = iface.to_string();
    let ns_name = ns.to_string();
    let result = super::in_netns(ns, move || -> std::io::Result<()> {
        let domain = if dst.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let socket = Socket::new(domain, Type::RAW, Some(Protocol::from(PROTO_VRRP)))?;
        socket.bind_device(Some(iface.as_bytes()))?;
        let ttl = u32::from(ttl);
        if dst.is_ipv4() {
            socket.set_ttl_v4(ttl)?;
            socket.set_multicast_ttl_v4(ttl)?;
        } else {
            socket.set_unicast_hops_v6(ttl)?;
            socket.set_multicast_hops_v6(ttl)?;
        }
        if kernel_checksum {
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
        // Learn the source the kernel will use, for the pseudo-header checksum.
        socket.connect(&SocketAddr::new(dst, 0).into())?;
        let src = socket
            .local_addr()?
            .as_socket()
            .map(|s| s.ip())
            .ok_or_else(|| std::io::Error::other("no local address"))?;
        socket.send(&build(src))?;
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
