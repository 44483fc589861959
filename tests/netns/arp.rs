//! Gratuitous ARP seen on a link: an `AF_PACKET` socket for ARP frames in a namespace, recording every announcement (an ARP packet whose sender and target
//! protocol addresses are equal, as RFC 5227 §2.3 and the daemon's frames have them)
//! until dropped. Done in Rust so that no capture tool is needed.
//!
//! Must not send anything: it only reads frames in a namespace the test created.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

const ETH_P_ARP: u16 = 0x0806;

/// One gratuitous ARP an [`ArpListener`] saw.
#[derive(Clone, Debug)]
pub struct Announcement {
    pub at: Instant,
    /// Sender hardware address, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// The announced address (sender = target protocol address).
    pub address: Ipv4Addr,
}

/// Records the gratuitous ARP arriving on an interface of a namespace, until dropped.
pub struct ArpListener {
    seen: Arc<Mutex<Vec<Announcement>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ArpListener {
    /// Listens on every interface of namespace `ns` (use it in a node with one LAN, such
    /// as a client); returns once the socket is open (frames arriving from then on are
    /// seen).
    pub fn start(ns: &str) -> ArpListener {
        let socket = super::in_netns(ns, move || -> std::io::Result<Socket> {
            let protocol = i32::from(ETH_P_ARP.to_be());
            let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(protocol)))?;
            socket.set_read_timeout(Some(Duration::from_millis(20)))?;
            Ok(socket)
        })
        .unwrap_or_else(|e| panic!("ARP listener in {ns}: {e}"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 2048];
                while !stop.load(Ordering::SeqCst) {
                    let Ok(n) = socket.recv(&mut buf) else {
                        continue;
                    };
                    // SAFETY: recv initialised the first n bytes.
                    let frame: &[u8] =
                        unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), n) };
                    if let Some(announcement) = parse(frame) {
                        seen.lock().unwrap().push(announcement);
                    }
                }
            })
        };
        ArpListener {
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// Every announcement seen so far.
    pub fn seen(&self) -> Vec<Announcement> {
        self.seen.lock().unwrap().clone()
    }

    /// Announcements seen so far from the hardware address `mac`.
    pub fn from(&self, mac: &str) -> Vec<Announcement> {
        self.seen().into_iter().filter(|a| a.mac == mac).collect()
    }
}

impl Drop for ArpListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A gratuitous ARP in an Ethernet frame, or `None` for any other frame.
fn parse(frame: &[u8]) -> Option<Announcement> {
    if frame.get(12..14)? != ETH_P_ARP.to_be_bytes() {
        return None;
    }
    let arp = frame.get(14..42)?;
    // Ethernet / IPv4 addresses only.
    if arp[0..6] != [0, 1, 0x08, 0x00, 6, 4] {
        return None;
    }
    let sender_ip = Ipv4Addr::new(arp[14], arp[15], arp[16], arp[17]);
    let target_ip = Ipv4Addr::new(arp[24], arp[25], arp[26], arp[27]);
    if sender_ip != target_ip {
        return None;
    }
    let mac = arp[8..14]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    Some(Announcement {
        at: Instant::now(),
        mac,
        address: sender_ip,
    })
}
