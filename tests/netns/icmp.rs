//! ICMP echo from inside a namespace, with raw sockets (no ping binary needed).
//!
//! The socket is opened on a thread that entered the namespace and then connected to
//! the target, so the kernel hands it only packets from that address.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

static NEXT_ID: AtomicU16 = AtomicU16::new(1);

/// How long the pinger waits for late replies after it stops sending.
const LINGER: Duration = Duration::from_secs(1);

fn echo_socket(ns: &str, target: IpAddr) -> Socket {
    in_ns_socket(ns, target).unwrap_or_else(|e| panic!("ICMP socket in {ns} to {target}: {e}"))
}

fn in_ns_socket(ns: &str, target: IpAddr) -> std::io::Result<Socket> {
    super::in_netns(ns, move || {
        let (domain, proto) = match target {
            IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
            IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
        };
        let socket = Socket::new(domain, Type::RAW, Some(proto))?;
        socket.connect(&SocketAddr::new(target, 0).into())?;
        Ok(socket)
    })
}

fn unique_id() -> u16 {
    // Several pingers may share a namespace; the id tells their replies apart.
    (std::process::id() as u16)
        .wrapping_mul(31)
        .wrapping_add(NEXT_ID.fetch_add(1, Ordering::SeqCst))
}

fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"floatip-netns-test-echo-payload!");
    if !v6 {
        // ICMPv6 checksums are filled in by the kernel (it knows the pseudo-header).
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// The sequence number of an echo reply with our id, if `packet` is one.
fn parse_reply(v6: bool, id: u16, packet: &[u8]) -> Option<u16> {
    let icmp = if v6 {
        packet
    } else {
        // Raw IPv4 sockets see the IP header too.
        let ihl = usize::from(*packet.first()? & 0x0f) * 4;
        packet.get(ihl..)?
    };
    let reply_type = if v6 { 129 } else { 0 };
    if icmp.len() < 8 || icmp[0] != reply_type || icmp[1] != 0 {
        return None;
    }
    if u16::from_be_bytes([icmp[4], icmp[5]]) != id {
        return None;
    }
    Some(u16::from_be_bytes([icmp[6], icmp[7]]))
}

pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One echo request; whether the reply came within `timeout`.
pub fn ping_once(ns: &str, target: IpAddr, timeout: Duration) -> bool {
    let v6 = target.is_ipv6();
    let socket = echo_socket(ns, target);
    let id = unique_id();
    if socket.send(&echo_request(v6, id, 1)).is_err() {
        // E.g. EHOSTUNREACH after a failed neighbour resolution: no reply.
        return false;
    }
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 2048];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        socket
            .set_read_timeout(Some(left))
            .expect("set read timeout");
        match (&socket).read(&mut buf) {
            Ok(n) => {
                if parse_reply(v6, id, &buf[..n]) == Some(1) {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
}

#[derive(Default)]
struct Record {
    sent: Vec<Instant>,
    replied: Vec<Option<Instant>>,
}

/// Pings a target at a fixed interval in the background and records every reply.
pub struct Pinger {
    target: IpAddr,
    interval: Duration,
    stop_sending: Arc<AtomicBool>,
    stop_receiving: Arc<AtomicBool>,
    record: Arc<Mutex<Record>>,
    sender: Option<JoinHandle<()>>,
    receiver: Option<JoinHandle<()>>,
}

/// What a [`Pinger`] saw.
#[derive(Debug, Clone)]
pub struct PingReport {
    pub target: IpAddr,
    pub interval: Duration,
    pub sent: usize,
    pub received: usize,
    /// Sequence numbers (0-based) without a reply.
    pub lost: Vec<usize>,
    /// The longest stretch without a reply: from the send time of the last answered
    /// request before a run of losses to that of the first answered one after it.
    pub longest_outage: Duration,
    /// When each request was sent.
    pub sent_at: Vec<Instant>,
    /// When each reply arrived.
    pub replied_at: Vec<Option<Instant>>,
}

impl PingReport {
    /// How long after `origin` the first reply arrived to a request sent at or after
    /// `sent_after`: e.g. from the master's crash (origin) to the VIP answering again,
    /// counting only requests sent once its link was down (sent_after), which the old
    /// master can no longer have answered.
    pub fn answered_again(&self, origin: Instant, sent_after: Instant) -> Option<Duration> {
        self.sent_at
            .iter()
            .zip(&self.replied_at)
            .filter(|(sent, _)| **sent >= sent_after)
            .find_map(|(_, reply)| *reply)
            .map(|reply| reply - origin)
    }

    pub fn lost_count(&self) -> usize {
        self.lost.len()
    }
}

impl std::fmt::Display for PingReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ping {} every {:?}: {} sent, {} received, {} lost {:?}, longest outage {:?}",
            self.target,
            self.interval,
            self.sent,
            self.received,
            self.lost.len(),
            &self.lost[..self.lost.len().min(20)],
            self.longest_outage
        )
    }
}

impl Pinger {
    pub fn start(ns: &str, target: IpAddr, interval: Duration) -> Pinger {
        let v6 = target.is_ipv6();
        let socket = Arc::new(echo_socket(ns, target));
        let id = unique_id();
        let stop_sending = Arc::new(AtomicBool::new(false));
        let stop_receiving = Arc::new(AtomicBool::new(false));
        let record = Arc::new(Mutex::new(Record::default()));

        let receiver = {
            let socket = socket.clone();
            let stop = stop_receiving.clone();
            let record = record.clone();
            socket
                .set_read_timeout(Some(Duration::from_millis(20)))
                .expect("set read timeout");
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::SeqCst) {
                    if let Ok(n) = (&*socket).read(&mut buf) {
                        let now = Instant::now();
                        if let Some(seq) = parse_reply(v6, id, &buf[..n]) {
                            let mut r = record.lock().unwrap();
                            let seq = usize::from(seq);
                            if seq < r.replied.len() && r.replied[seq].is_none() {
                                r.replied[seq] = Some(now);
                            }
                        }
                    }
                }
            })
        };

        let sender = {
            let stop = stop_sending.clone();
            let record = record.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut seq: usize = 0;
                while !stop.load(Ordering::SeqCst) && seq < usize::from(u16::MAX) {
                    {
                        let mut r = record.lock().unwrap();
                        r.sent.push(Instant::now());
                        r.replied.push(None);
                    }
                    // A failed send (no neighbour yet) is simply a lost ping.
                    let _ = socket.send(&echo_request(v6, id, seq as u16));
                    seq += 1;
                    // Paced on a fixed schedule, so a slow send does not stretch it.
                    let next = start + interval * seq as u32;
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                    }
                }
            })
        };

        Pinger {
            target,
            interval,
            stop_sending,
            stop_receiving,
            record,
            sender: Some(sender),
            receiver: Some(receiver),
        }
    }

    /// Replies received so far.
    pub fn received(&self) -> usize {
        self.record
            .lock()
            .unwrap()
            .replied
            .iter()
            .filter(|r| r.is_some())
            .count()
    }

    /// Waits until a reply newer than now arrives (the target answers currently).
    pub fn wait_answering(&self, timeout: Duration) -> Result<Duration, String> {
        let since = Instant::now();
        super::wait_for(timeout, || {
            self.record
                .lock()
                .unwrap()
                .replied
                .iter()
                .rev()
                .take(50)
                .any(|r| r.is_some_and(|t| t > since))
        })
        .map_err(|e| format!("{} not answering pings: {e}", self.target))
    }

    /// Stops sending, waits for late replies, and reports.
    pub fn stop(mut self) -> PingReport {
        self.finish()
    }

    fn finish(&mut self) -> PingReport {
        self.stop_sending.store(true, Ordering::SeqCst);
        if let Some(s) = self.sender.take() {
            let _ = s.join();
        }
        let _ = super::wait_for(LINGER, || {
            self.record
                .lock()
                .unwrap()
                .replied
                .iter()
                .all(Option::is_some)
        });
        self.stop_receiving.store(true, Ordering::SeqCst);
        if let Some(r) = self.receiver.take() {
            let _ = r.join();
        }
        let r = self.record.lock().unwrap();
        let lost: Vec<usize> = r
            .replied
            .iter()
            .enumerate()
            .filter(|(_, x)| x.is_none())
            .map(|(i, _)| i)
            .collect();
        let mut longest_outage = Duration::ZERO;
        let mut last_ok: Option<Instant> = None;
        let mut in_gap = false;
        for (i, reply) in r.replied.iter().enumerate() {
            match reply {
                Some(_) => {
                    if in_gap {
                        let from = last_ok.unwrap_or(r.sent[0]);
                        longest_outage = longest_outage.max(r.sent[i] - from);
                        in_gap = false;
                    }
                    last_ok = Some(r.sent[i]);
                }
                None => in_gap = true,
            }
        }
        if in_gap {
            // Never answered again: the outage lasts until the end.
            let from = last_ok.unwrap_or(r.sent[0]);
            longest_outage = longest_outage.max(*r.sent.last().unwrap() - from + self.interval);
        }
        PingReport {
            target: self.target,
            interval: self.interval,
            sent: r.sent.len(),
            received: r.replied.iter().filter(|x| x.is_some()).count(),
            lost,
            longest_outage,
            sent_at: r.sent.clone(),
            replied_at: r.replied.clone(),
        }
    }
}

impl Drop for Pinger {
    fn drop(&mut self) {
        self.stop_sending.store(true, Ordering::SeqCst);
        self.stop_receiving.store(true, Ordering::SeqCst);
    }
}
