//! What really crossed the wire: `tcpdump` on a node's switch port (so unicast and
//! multicast alike, in both directions), written to a pcap file in the topology's
//! directory, and a decoder of the VRRP packets in it that checks each checksum in
//! every form on its own, independently of the crate's codec.
//!
//! Must not: capture anywhere but in the test's own switch namespace.

use std::cell::RefCell;
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::vrrp::{Checksum, checksum};
use super::{Node, Topology, require_tool, wait_for};

static CAPTURES: AtomicU32 = AtomicU32::new(0);

/// `tcpdump -i <role><lan> -U -w FILE ip proto 112 or ip6 proto 112` in the switch
/// namespace. Killed on drop.
pub struct Capture {
    pcap: PathBuf,
    stderr: PathBuf,
    child: RefCell<Child>,
}

/// One VRRP packet of a capture.
#[derive(Clone, Debug)]
pub struct Packet {
    /// Seconds since the epoch (pcap timestamp).
    pub time: f64,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL / hop limit.
    pub ttl: u8,
    pub version: u8,
    pub vrid: u8,
    pub priority: u8,
    /// v2: seconds; v3: centiseconds.
    pub interval: u16,
    /// The VRRP message (for IPv4 without the IP header).
    pub vrrp: Vec<u8>,
    /// The checksum verifies over the message alone.
    pub sum_plain: bool,
    /// The checksum verifies with the IPv4 or IPv6 pseudo-header.
    pub sum_pseudo: bool,
}

impl Packet {
    /// Whether the checksum is right for what the packet is, as keepalived computes it:
    /// v2 over the message only; v3 with the pseudo-header (IPv4 and IPv6).
    pub fn checksum_as_keepalived(&self) -> bool {
        match self.version {
            2 => self.sum_plain,
            _ => self.sum_pseudo,
        }
    }
}

impl Topology {
    /// Starts capturing VRRP on the switch port of `node` on LAN `lan`; returns once
    /// tcpdump listens.
    pub fn capture_vrrp(&self, node: &Node, lan: usize) -> Capture {
        require_tool("tcpdump", "tcpdump");
        let port = format!("{}{lan}", node.role);
        let n = CAPTURES.fetch_add(1, Ordering::SeqCst);
        let pcap = self.shared.dir.join(format!("{port}-{n}.pcap"));
        let stderr = pcap.with_extension("tcpdump.err");
        let err =
            File::create(&stderr).unwrap_or_else(|e| panic!("create {}: {e}", stderr.display()));
        let child = Command::new("ip")
            .args(["netns", "exec", self.switch_ns()])
            .args(["tcpdump", "-n", "-U", "-i", &port, "-w"])
            .arg(&pcap)
            .args(["ip proto 112 or ip6 proto 112"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn tcpdump on {port}: {e}"));
        let capture = Capture {
            pcap,
            stderr,
            child: RefCell::new(child),
        };
        let ready = wait_for(Duration::from_secs(10), || {
            capture.stderr_text().contains("listening on")
                || capture
                    .child
                    .borrow_mut()
                    .try_wait()
                    .ok()
                    .flatten()
                    .is_some()
        });
        if ready.is_err() || !capture.stderr_text().contains("listening on") {
            panic!(
                "tcpdump on {port} did not start listening: {}",
                capture.stderr_text()
            );
        }
        capture
    }
}

impl Capture {
    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The VRRP packets captured so far (a record still being written is skipped).
    pub fn packets(&self) -> Vec<Packet> {
        let bytes = std::fs::read(&self.pcap).unwrap_or_default();
        parse_pcap(&bytes)
    }

    /// Packets captured so far from `src`.
    pub fn from(&self, src: IpAddr) -> Vec<Packet> {
        self.packets()
            .into_iter()
            .filter(|p| p.src == src)
            .collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let mut child = self.child.borrow_mut();
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The VRRP packets of a classic pcap file of Ethernet frames.
pub fn parse_pcap(bytes: &[u8]) -> Vec<Packet> {
    let mut out = Vec::new();
    if bytes.len() < 24 {
        return out;
    }
    let magic = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let (le, nanos) = match magic {
        0xa1b2c3d4 => (true, false),
        0xa1b23c4d => (true, true),
        0xd4c3b2a1 => (false, false),
        0x4d3cb2a1 => (false, true),
        _ => panic!("not a pcap file (magic {magic:#x})"),
    };
    let u32_at = |b: &[u8], i: usize| {
        let a = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let linktype = u32_at(bytes, 20);
    assert_eq!(linktype, 1, "pcap link type {linktype}, expected Ethernet");
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let secs = u32_at(bytes, at);
        let frac = u32_at(bytes, at + 4);
        let len = u32_at(bytes, at + 8) as usize;
        let Some(frame) = bytes.get(at + 16..at + 16 + len) else {
            break;
        };
        at += 16 + len;
        let time = f64::from(secs) + f64::from(frac) / if nanos { 1e9 } else { 1e6 };
        if let Some(p) = parse_frame(frame, time) {
            out.push(p);
        }
    }
    out
}

fn parse_frame(frame: &[u8], time: f64) -> Option<Packet> {
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let ip = frame.get(14..)?;
    let (src, dst, ttl, vrrp) = match ethertype {
        0x0800 => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            if *ip.get(9)? != 112 {
                return None;
            }
            let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
            let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
            let vrrp = ip.get(ihl..total)?.to_vec();
            (IpAddr::V4(src), IpAddr::V4(dst), ip[8], vrrp)
        }
        0x86dd => {
            if *ip.get(6)? != 112 {
                return None; // extension headers: not from a VRRP daemon
            }
            let payload = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            let vrrp = ip.get(40..40 + payload)?.to_vec();
            (
                IpAddr::V6(Ipv6Addr::from(src)),
                IpAddr::V6(Ipv6Addr::from(dst)),
                ip[7],
                vrrp,
            )
        }
        _ => return None,
    };
    if vrrp.len() < 8 {
        return None;
    }
    let version = vrrp[0] >> 4;
    let interval = if version == 2 {
        u16::from(vrrp[5])
    } else {
        u16::from_be_bytes([vrrp[4], vrrp[5]]) & 0x0fff
    };
    // Computed over a message whose checksum field is right, the checksum is 0.
    let sum_plain = checksum(&vrrp, src, dst, Checksum::WithoutPseudoHeader) == 0;
    let sum_pseudo = checksum(&vrrp, src, dst, Checksum::WithPseudoHeader) == 0;
    Some(Packet {
        time,
        src,
        dst,
        ttl,
        version,
        vrid: vrrp[1],
        priority: vrrp[2],
        interval,
        vrrp,
        sum_plain,
        sum_pseudo,
    })
}
