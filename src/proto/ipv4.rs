//! The IPv4 header in front of a VRRP message, as a raw IPv4 socket delivers it.
//!
//! Owns: checking that header and reading from it what the VRRP decoder needs (source,
//! destination, TTL, where the message lies). Must not do I/O, read a clock, log or
//! panic on any input: hostile or truncated bytes are an [`Ipv4Reject`]. Judging the
//! VRRP message itself (including whether a TTL of less than 255 is acceptable) is
//! `packet::decode`'s business; the socket edge (`net::vrrp_socket`) calls this and
//! hands the message and a `RecvMeta` on.
//!
//! ```text
//!  0       4       8               16      19              31
//! |version|  IHL  |      TOS      |          total length         |
//! |        identification         |flags|    fragment offset      |
//! |      TTL      |   protocol    |        header checksum        |
//! |                        source address                         |
//! |                      destination address                      |
//! |                options (IHL - 5 words, if any)                |
//! ```
//!
//! What the kernel guarantees, and so what is *not* checked here: the header checksum
//! (verified in `ip_rcv` before any socket sees the packet) and reassembly (raw sockets
//! get whole datagrams). A fragment is still refused rather than trusted, so that the
//! payload handed on is never part of a message.

use std::net::Ipv4Addr;
use std::ops::Range;

use thiserror::Error;

use super::packet::IP_PROTO_VRRP;

/// Length of an IPv4 header without options.
pub const MIN_HEADER_LEN: usize = 20;

/// What the socket edge needs from an IPv4 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Header {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    /// Where the VRRP message lies in the packet: after the header and its options, up
    /// to the total length (bytes after it are not the datagram's).
    pub payload: Range<usize>,
}

/// Why bytes are not an IPv4 packet carrying a whole VRRP message. Counted under
/// [`Ipv4Reject::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum Ipv4Reject {
    #[error("IPv4 packet of {len} bytes is shorter than an IPv4 header")]
    ShortHeader { len: usize },
    #[error("IP version {version} on an IPv4 socket")]
    NotIpv4 { version: u8 },
    #[error("IPv4 header length {header_len} out of range for a {len}-byte packet")]
    BadHeaderLength { header_len: usize, len: usize },
    #[error("IPv4 total length {total_len} inconsistent with {len} bytes received")]
    BadTotalLength { total_len: usize, len: usize },
    #[error("IPv4 protocol {protocol}, expected 112")]
    NotVrrp { protocol: u8 },
    #[error("IPv4 fragment (more fragments {more}, offset {offset} x 8 bytes)")]
    Fragment { more: bool, offset: u16 },
}

impl Ipv4Reject {
    /// A short, stable identifier for counters.
    pub fn name(&self) -> &'static str {
        match self {
            Ipv4Reject::ShortHeader { .. } => "short_ip_header",
            Ipv4Reject::NotIpv4 { .. } => "not_ipv4",
            Ipv4Reject::BadHeaderLength { .. } => "bad_ip_header_length",
            Ipv4Reject::BadTotalLength { .. } => "bad_ip_total_length",
            Ipv4Reject::NotVrrp { .. } => "not_vrrp",
            Ipv4Reject::Fragment { .. } => "ip_fragment",
        }
    }
}

/// The "more fragments" flag in the flags/offset word.
const MORE_FRAGMENTS: u16 = 0x2000;
/// The fragment offset (in 8-byte units) in the flags/offset word.
const FRAGMENT_OFFSET: u16 = 0x1fff;

/// Parses the IPv4 header a raw socket delivers in front of the payload. Every length is
/// checked before use: a hostile or truncated packet is an error, never a panic.
pub fn parse_header(packet: &[u8]) -> Result<Ipv4Header, Ipv4Reject> {
    let len = packet.len();
    let &[
        version_ihl,
        _tos,
        total_high,
        total_low,
        _id_high,
        _id_low,
        flags_high,
        flags_low,
        ttl,
        protocol,
        _checksum_high,
        _checksum_low,
        s0,
        s1,
        s2,
        s3,
        d0,
        d1,
        d2,
        d3,
        ..,
    ] = packet
    else {
        return Err(Ipv4Reject::ShortHeader { len });
    };
    let version = version_ihl >> 4;
    if version != 4 {
        return Err(Ipv4Reject::NotIpv4 { version });
    }
    let header_len = usize::from(version_ihl & 0x0f) * 4;
    if header_len < MIN_HEADER_LEN || header_len > len {
        return Err(Ipv4Reject::BadHeaderLength { header_len, len });
    }
    if protocol != IP_PROTO_VRRP {
        return Err(Ipv4Reject::NotVrrp { protocol });
    }
    // Linux delivers the header in network byte order with the total length matching the
    // (reassembled) packet. Trailing bytes beyond the total length are not VRRP's;
    // a total length beyond what arrived means a truncated packet.
    let total_len = usize::from(u16::from_be_bytes([total_high, total_low]));
    if total_len < header_len || total_len > len {
        return Err(Ipv4Reject::BadTotalLength { total_len, len });
    }
    let flags_offset = u16::from_be_bytes([flags_high, flags_low]);
    let more = flags_offset & MORE_FRAGMENTS != 0;
    let offset = flags_offset & FRAGMENT_OFFSET;
    if more || offset != 0 {
        return Err(Ipv4Reject::Fragment { more, offset });
    }
    Ok(Ipv4Header {
        src: Ipv4Addr::new(s0, s1, s2, s3),
        dst: Ipv4Addr::new(d0, d1, d2, d3),
        ttl,
        payload: header_len..total_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 20-byte header 192.0.2.1 -> 224.0.0.18, TTL 255, protocol 112, TOS 0xc0, DF set
    /// (as Linux sends), followed by `payload_len` bytes of 0xab.
    fn packet(payload_len: usize) -> Vec<u8> {
        let total = u16::try_from(20 + payload_len).expect("small");
        let mut p = vec![
            0x45, 0xc0, 0, 0, 0x12, 0x34, 0x40, 0, 255, 112, 0, 0, 192, 0, 2, 1, 224, 0, 0, 18,
        ];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend(std::iter::repeat_n(0xab, payload_len));
        p
    }

    #[test]
    fn parses_a_plain_header() {
        let header = parse_header(&packet(12)).expect("valid");
        assert_eq!(header.src, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(header.dst, Ipv4Addr::new(224, 0, 0, 18));
        assert_eq!(header.ttl, 255);
        assert_eq!(header.payload, 20..32);
    }

    #[test]
    fn the_ttl_is_reported_as_received_not_judged() {
        for ttl in [0, 1, 64, 254, 255] {
            let mut p = packet(12);
            p[8] = ttl;
            assert_eq!(parse_header(&p).expect("valid").ttl, ttl);
        }
    }

    #[test]
    fn an_empty_payload_is_an_empty_range() {
        assert_eq!(parse_header(&packet(0)).expect("valid").payload, 20..20);
    }

    #[test]
    fn honours_options_in_the_header_length() {
        let mut p = packet(12);
        p[0] = 0x46; // IHL 6: one 4-byte option word
        p.splice(20..20, [1, 1, 1, 0]); // NOPs and end-of-options
        p[2..4].copy_from_slice(&36u16.to_be_bytes());
        assert_eq!(parse_header(&p).expect("valid").payload, 24..36);

        // The longest header: IHL 15, 40 bytes of options (router alert, padding).
        let mut p = packet(8);
        p[0] = 0x4f;
        let mut options = vec![0x94, 0x04, 0, 0];
        options.resize(40, 1);
        p.splice(20..20, options);
        p[2..4].copy_from_slice(&68u16.to_be_bytes());
        assert_eq!(parse_header(&p).expect("valid").payload, 60..68);
    }

    #[test]
    fn trailing_bytes_beyond_total_length_are_not_payload() {
        let mut p = packet(12);
        p.extend([0, 0, 0, 0]);
        assert_eq!(parse_header(&p).expect("valid").payload, 20..32);
    }

    #[test]
    fn a_short_buffer_is_refused() {
        for len in 0..MIN_HEADER_LEN {
            assert_eq!(
                parse_header(&packet(12)[..len]),
                Err(Ipv4Reject::ShortHeader { len })
            );
        }
    }

    #[test]
    fn a_header_length_out_of_range_is_refused() {
        for ihl in 0..5u8 {
            let mut p = packet(12);
            p[0] = 0x40 | ihl;
            assert_eq!(
                parse_header(&p),
                Err(Ipv4Reject::BadHeaderLength {
                    header_len: usize::from(ihl) * 4,
                    len: 32
                })
            );
        }
        let mut p = packet(0);
        p[0] = 0x4f; // 60-byte header in a 20-byte packet
        assert_eq!(
            parse_header(&p),
            Err(Ipv4Reject::BadHeaderLength {
                header_len: 60,
                len: 20
            })
        );
    }

    #[test]
    fn a_total_length_that_disagrees_with_the_packet_is_refused() {
        // Longer than what arrived: truncated.
        let mut p = packet(12);
        p[2..4].copy_from_slice(&40u16.to_be_bytes());
        assert_eq!(
            parse_header(&p),
            Err(Ipv4Reject::BadTotalLength {
                total_len: 40,
                len: 32
            })
        );
        // Shorter than the header itself.
        let mut p = packet(12);
        p[2..4].copy_from_slice(&10u16.to_be_bytes());
        assert_eq!(
            parse_header(&p),
            Err(Ipv4Reject::BadTotalLength {
                total_len: 10,
                len: 32
            })
        );
        // Shorter than a header with options.
        let mut p = packet(12);
        p[0] = 0x46;
        p[2..4].copy_from_slice(&22u16.to_be_bytes());
        assert_eq!(
            parse_header(&p),
            Err(Ipv4Reject::BadTotalLength {
                total_len: 22,
                len: 32
            })
        );
    }

    #[test]
    fn fragments_are_refused_and_do_not_fragment_is_not_one() {
        let mut p = packet(12);
        p[6] = 0x00; // no flags at all
        assert!(parse_header(&p).is_ok());
        let mut p = packet(12);
        p[6] = 0x20; // more fragments, offset 0: the first fragment
        assert_eq!(
            parse_header(&p),
            Err(Ipv4Reject::Fragment {
                more: true,
                offset: 0
            })
        );
        let mut p = packet(12);
        p[6..8].copy_from_slice(&0x0003u16.to_be_bytes()); // the last fragment, at 24 bytes
        assert_eq!(
            parse_header(&p),
            Err(Ipv4Reject::Fragment {
                more: false,
                offset: 3
            })
        );
        let mut p = packet(12);
        p[6..8].copy_from_slice(&0x7fffu16.to_be_bytes()); // DF, MF and the largest offset
        assert_eq!(
            parse_header(&p),
            Err(Ipv4Reject::Fragment {
                more: true,
                offset: 0x1fff
            })
        );
    }

    #[test]
    fn another_version_or_protocol_is_refused() {
        let mut p = packet(12);
        p[0] = 0x65;
        assert_eq!(parse_header(&p), Err(Ipv4Reject::NotIpv4 { version: 6 }));
        let mut p = packet(12);
        p[9] = 17;
        assert_eq!(parse_header(&p), Err(Ipv4Reject::NotVrrp { protocol: 17 }));
    }

    #[test]
    fn no_prefix_or_first_byte_panics_and_the_payload_is_always_in_bounds() {
        let p = packet(40);
        for end in 0..=p.len() {
            if let Ok(h) = parse_header(&p[..end]) {
                assert!(h.payload.end <= end);
            }
        }
        for first in 0..=255u8 {
            let mut q = p.clone();
            q[0] = first;
            if let Ok(h) = parse_header(&q) {
                assert!(h.payload.start <= h.payload.end && h.payload.end <= q.len());
            }
        }
    }

    #[test]
    fn every_reject_has_a_distinct_name() {
        let all = [
            Ipv4Reject::ShortHeader { len: 0 },
            Ipv4Reject::NotIpv4 { version: 6 },
            Ipv4Reject::BadHeaderLength {
                header_len: 0,
                len: 0,
            },
            Ipv4Reject::BadTotalLength {
                total_len: 0,
                len: 0,
            },
            Ipv4Reject::NotVrrp { protocol: 0 },
            Ipv4Reject::Fragment {
                more: true,
                offset: 0,
            },
        ];
        let names: std::collections::HashSet<_> = all.iter().map(Ipv4Reject::name).collect();
        assert_eq!(names.len(), all.len());
    }
}
