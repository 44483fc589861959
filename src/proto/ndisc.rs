//! Unsolicited neighbour advertisement frames: the bytes of the Ethernet frame a new
//! master multicasts so that every IPv6 node on the link points the virtual IPv6 address
//! at this host's MAC (the IPv6 counterpart of gratuitous ARP, RFC 4861 §7.2.6).
//!
//! Owns only the frame layout and its ICMPv6 checksum. Must not perform I/O, read a
//! clock, log or panic: it returns bytes, and `net/` sends them on an `AF_PACKET` socket
//! when the state machine asks for an announcement. Because the frame goes out below the
//! IP layer, the checksum is computed here rather than by the kernel.
//!
//! # The frame (86 bytes)
//!
//! - Ethernet: to `33:33:00:00:00:01` (ff02::1 mapped per RFC 2464 §7), from the
//!   interface MAC, ethertype 0x86DD.
//! - IPv6: traffic class 0, flow label 0, payload length 32, next header 58 (ICMPv6),
//!   hop limit 255 (receivers drop ND messages with any other hop limit, RFC 4861 §7.1.2),
//!   destination ff02::1 (all nodes).
//! - ICMPv6 neighbour advertisement (RFC 4861 §4.4): type 136, code 0, checksum over the
//!   IPv6 pseudo-header (RFC 8200 §8.1), flags S=0 (unsolicited, and RFC 4861 §7.1.2 makes
//!   receivers drop a multicast NA with S set), O=1 (override: replace the cached MAC,
//!   which is the whole point after a failover), target = the VIP, one Target Link-Layer
//!   Address option (type 2, length 1 = 8 bytes) carrying the interface MAC.
//!
//! # Decisions
//!
//! *Source address.* RFC 4861 §7.2.6 only asks for an address assigned to the sending
//! interface. The daemon should pass **the VIP itself**, after the VIP has been added
//! (with `IFA_F_NODAD`, so it is not tentative). That is what keepalived does
//! (`ndisc_send_unsolicited_na_immediate` in `keepalived/vrrp/vrrp_ndisc.c` copies the
//! VIP into the IPv6 source) and what the Linux kernel's own `ndisc_send_na` does when
//! the target is one of its addresses. The interface's link-local address is equally
//! valid, which is why `src_ip` is a parameter rather than fixed.
//!
//! *Router flag.* RFC 4861 §4.4 defines R as "the sender is a router", and a receiver
//! that sees R go from 1 to 0 removes the sender from its default router list (§7.2.5).
//! floatip's users are load balancers, not routers, so [`unsolicited_na`] sends R=0.
//! RFC 9568 §6.4.2 has a master set R unconditionally, since it assumes the virtual
//! address is a gateway; keepalived instead sets R from the interface's
//! `net.ipv6.conf.<iface>.forwarding` sysctl. A host that does forward for the VIP
//! should do the same through [`unsolicited_na_with_router_flag`].

use std::net::Ipv6Addr;

use super::packet::{internet_checksum, ipv6_pseudo_header};

/// Length of an unsolicited neighbour advertisement frame: 14 Ethernet + 40 IPv6 +
/// 24 NA + 8 Target Link-Layer Address option.
pub const NA_FRAME_LEN: usize = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + ICMPV6_NA_LEN;

const ETHERNET_HEADER_LEN: usize = 14;
const IPV6_HEADER_LEN: usize = 40;
/// ICMPv6 header (4) + flags/reserved (4) + target (16) + TLLA option (8).
const ICMPV6_NA_LEN: usize = 32;
const ICMPV6_START: usize = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN;

/// ff02::1 mapped to Ethernet per RFC 2464 §7: 33:33 followed by the low 32 bits.
const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0x00, 0x00, 0x00, 0x01];
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Version 6, traffic class 0, flow label 0.
const IPV6_VERSION_CLASS_FLOW: [u8; 4] = [0x60, 0x00, 0x00, 0x00];
const NEXT_HEADER_ICMPV6: u8 = 58;
const ND_HOP_LIMIT: u8 = 255;
const ICMPV6_NEIGHBOR_ADVERTISEMENT: u8 = 136;
const FLAG_ROUTER: u8 = 0b1000_0000;
const FLAG_OVERRIDE: u8 = 0b0010_0000;
const OPTION_TARGET_LINK_LAYER_ADDRESS: u8 = 2;
/// Option length in units of 8 bytes: type + length + 6-byte MAC = 8.
const OPTION_LEN_UNITS: u8 = 1;

/// Builds the unsolicited neighbour advertisement for `vip` at `src_mac`, sent from
/// `src_ip`, with the router flag clear (see the module docs for why, and for which
/// `src_ip` to pass).
pub fn unsolicited_na(src_mac: [u8; 6], src_ip: Ipv6Addr, vip: Ipv6Addr) -> [u8; NA_FRAME_LEN] {
    unsolicited_na_with_router_flag(src_mac, src_ip, vip, false)
}

/// Like [`unsolicited_na`], with the router (R) flag set to `is_router`. Pass the
/// interface's `net.ipv6.conf.<iface>.forwarding` value to behave as keepalived does.
pub fn unsolicited_na_with_router_flag(
    src_mac: [u8; 6],
    src_ip: Ipv6Addr,
    vip: Ipv6Addr,
    is_router: bool,
) -> [u8; NA_FRAME_LEN] {
    let mut frame = [0u8; NA_FRAME_LEN];
    // Ethernet header.
    frame[0..6].copy_from_slice(&ALL_NODES_MAC);
    frame[6..12].copy_from_slice(&src_mac);
    frame[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
    // IPv6 header (RFC 8200 §3).
    frame[14..18].copy_from_slice(&IPV6_VERSION_CLASS_FLOW);
    frame[18..20].copy_from_slice(&(ICMPV6_NA_LEN as u16).to_be_bytes());
    frame[20] = NEXT_HEADER_ICMPV6;
    frame[21] = ND_HOP_LIMIT;
    frame[22..38].copy_from_slice(&src_ip.octets());
    frame[38..54].copy_from_slice(&ALL_NODES.octets());
    // ICMPv6 neighbour advertisement (RFC 4861 §4.4); checksum (56..58) filled below.
    frame[54] = ICMPV6_NEIGHBOR_ADVERTISEMENT;
    frame[55] = 0; // code
    frame[58] = if is_router {
        FLAG_ROUTER | FLAG_OVERRIDE
    } else {
        FLAG_OVERRIDE
    };
    // frame[59..62]: rest of the reserved field, zero.
    frame[62..78].copy_from_slice(&vip.octets());
    // Target Link-Layer Address option (RFC 4861 §4.6.1).
    frame[78] = OPTION_TARGET_LINK_LAYER_ADDRESS;
    frame[79] = OPTION_LEN_UNITS;
    frame[80..86].copy_from_slice(&src_mac);

    let checksum = icmpv6_checksum(src_ip, ALL_NODES, &frame[ICMPV6_START..]);
    frame[56..58].copy_from_slice(&checksum.to_be_bytes());
    frame
}

/// The ICMPv6 checksum (RFC 4443 §2.3): the ones' complement of the ones' complement sum
/// of the IPv6 pseudo-header (RFC 8200 §8.1: source, destination, upper-layer length as
/// 32 bits, three zero bytes, next header 58) and `message`, whose checksum field must be
/// zero. An odd trailing byte is padded with a zero byte.
fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, message: &[u8]) -> u16 {
    // An ICMPv6 message longer than u32::MAX cannot exist (jumbograms top out there).
    let upper_layer_len = u32::try_from(message.len()).unwrap_or(u32::MAX);
    let pseudo = ipv6_pseudo_header(src, dst, upper_layer_len, NEXT_HEADER_ICMPV6);
    internet_checksum(&[&pseudo, message])
}

#[cfg(test)]
mod tests {
    use super::*;
    use pnet_packet::Packet;
    use pnet_packet::ethernet::{EtherTypes, EthernetPacket};
    use pnet_packet::icmpv6::ndp::{NdpOptionTypes, NeighborAdvertFlags, NeighborAdvertPacket};
    use pnet_packet::icmpv6::{Icmpv6Code, Icmpv6Packet, Icmpv6Types};
    use pnet_packet::ip::IpNextHeaderProtocols;
    use pnet_packet::ipv6::Ipv6Packet;

    const MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x0a, 0x01];
    const LINK_LOCAL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 0x0a01);
    const VIP: Ipv6Addr = Ipv6Addr::new(0x2001, 0x0db8, 0, 0, 0, 0, 0, 0x0100);

    /// The NA for 2001:db8::100 from fe80::ff:fe00:a01 / 02:00:00:00:0a:01, R=0.
    /// Checksum 0x1464 computed independently with Python while writing the test:
    /// sum of the pseudo-header and ICMPv6 words as struct.unpack('!16H', ...), folded,
    /// complemented.
    #[rustfmt::skip]
    const EXPECTED_FROM_LINK_LOCAL: [u8; 86] = [
        // Ethernet: destination = 33:33:00:00:00:01 (ff02::1)
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01,
        // Ethernet: source = 02:00:00:00:0a:01
        0x02, 0x00, 0x00, 0x00, 0x0a, 0x01,
        // Ethernet: ethertype = IPv6
        0x86, 0xdd,
        // IPv6: version 6, traffic class 0, flow label 0
        0x60, 0x00, 0x00, 0x00,
        // IPv6: payload length = 32
        0x00, 0x20,
        // IPv6: next header = 58 (ICMPv6), hop limit = 255
        0x3a, 0xff,
        // IPv6: source = fe80::ff:fe00:a01
        0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x0a, 0x01,
        // IPv6: destination = ff02::1
        0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
        // ICMPv6: type = 136 (neighbour advertisement), code = 0
        0x88, 0x00,
        // ICMPv6: checksum
        0x14, 0x64,
        // NA: flags R=0 S=0 O=1, then 29 reserved bits
        0x20, 0x00, 0x00, 0x00,
        // NA: target = 2001:db8::100
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
        // Option: type = 2 (target link-layer address), length = 1 (8 bytes)
        0x02, 0x01,
        // Option: link-layer address = 02:00:00:00:0a:01
        0x02, 0x00, 0x00, 0x00, 0x0a, 0x01,
    ];

    /// Sums the pseudo-header and the ICMPv6 message, checksum included, word by word
    /// the long way; a correct checksum makes the folded total 0xffff.
    fn folded_sum_with_checksum(frame: &[u8]) -> u32 {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&frame[22..38]); // source
        bytes.extend_from_slice(&frame[38..54]); // destination
        bytes.extend_from_slice(&[0, 0, 0, 32]); // upper-layer length
        bytes.extend_from_slice(&[0, 0, 0, 58]); // zeros + next header
        bytes.extend_from_slice(&frame[54..86]); // ICMPv6 message
        let mut sum: u32 = 0;
        for pair in bytes.chunks(2) {
            sum += (u32::from(pair[0]) << 8) | u32::from(pair[1]);
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum
    }

    #[test]
    fn na_for_2001_db8_100_matches_hand_checked_bytes() {
        let frame = unsolicited_na(MAC, LINK_LOCAL, VIP);
        assert_eq!(frame, EXPECTED_FROM_LINK_LOCAL);
    }

    #[test]
    fn na_checksum_verifies_by_summing_words() {
        assert_eq!(folded_sum_with_checksum(&EXPECTED_FROM_LINK_LOCAL), 0xffff);
        for (src, is_router) in [(LINK_LOCAL, false), (VIP, false), (VIP, true)] {
            let frame = unsolicited_na_with_router_flag(MAC, src, VIP, is_router);
            assert_eq!(
                folded_sum_with_checksum(&frame),
                0xffff,
                "{src} R={is_router}"
            );
        }
    }

    #[test]
    fn na_from_the_vip_itself_has_the_python_checked_checksum() {
        // Source = target = 2001:db8::100, as keepalived sends it; 0xed2c from Python.
        let frame = unsolicited_na(MAC, VIP, VIP);
        assert_eq!(frame[22..38], VIP.octets());
        assert_eq!(frame[56..58], [0xed, 0x2c]);
    }

    #[test]
    fn router_flag_sets_only_the_r_bit() {
        let plain = unsolicited_na(MAC, LINK_LOCAL, VIP);
        let router = unsolicited_na_with_router_flag(MAC, LINK_LOCAL, VIP, true);
        assert_eq!(router[58], 0xa0, "R=1 S=0 O=1");
        // 0x9463 from Python; the ones' complement sum carries out of bit 15, so it is
        // not simply 0x1464 with the top bit flipped.
        assert_eq!(router[56..58], [0x94, 0x63]);
        let differing: Vec<usize> = (0..NA_FRAME_LEN)
            .filter(|&i| plain[i] != router[i])
            .collect();
        assert_eq!(
            differing,
            [56, 57, 58],
            "only the checksum and the flags byte"
        );
    }

    #[test]
    fn icmpv6_checksum_pads_an_odd_trailing_byte() {
        // Pseudo-header for a 1-byte message, then 0xab00: checked by hand.
        let src = Ipv6Addr::LOCALHOST;
        let dst = Ipv6Addr::LOCALHOST;
        // Words: ::1 -> 1, ::1 -> 1, length 1, next header 58, 0xab00.
        let expected = !(1u16 + 1 + 1 + 58 + 0xab00);
        assert_eq!(icmpv6_checksum(src, dst, &[0xab]), expected);
    }

    #[test]
    fn na_parses_back_with_pnet_views() {
        let frame = unsolicited_na(MAC, LINK_LOCAL, VIP);

        let ethernet = EthernetPacket::new(&frame).expect("Ethernet header");
        assert_eq!(
            ethernet.get_destination().octets(),
            [0x33, 0x33, 0, 0, 0, 1]
        );
        assert_eq!(ethernet.get_source().octets(), MAC);
        assert_eq!(ethernet.get_ethertype(), EtherTypes::Ipv6);

        let ipv6 = Ipv6Packet::new(ethernet.payload()).expect("IPv6 header");
        assert_eq!(ipv6.get_version(), 6);
        assert_eq!(ipv6.get_traffic_class(), 0);
        assert_eq!(ipv6.get_flow_label(), 0);
        assert_eq!(ipv6.get_payload_length(), 32);
        assert_eq!(ipv6.get_next_header(), IpNextHeaderProtocols::Icmpv6);
        assert_eq!(ipv6.get_hop_limit(), 255);
        assert_eq!(ipv6.get_source(), LINK_LOCAL);
        assert_eq!(ipv6.get_destination(), ALL_NODES);
        assert_eq!(ipv6.payload().len(), 32);

        let icmpv6 = Icmpv6Packet::new(ipv6.payload()).expect("ICMPv6 header");
        assert_eq!(icmpv6.get_icmpv6_type(), Icmpv6Types::NeighborAdvert);
        assert_eq!(icmpv6.get_icmpv6_code(), Icmpv6Code(0));
        // pnet's own checksum agrees with ours (a third, independent implementation).
        assert_eq!(
            pnet_packet::icmpv6::checksum(&icmpv6, &LINK_LOCAL, &ALL_NODES),
            icmpv6.get_checksum()
        );

        let na = NeighborAdvertPacket::new(ipv6.payload()).expect("NA body");
        assert_eq!(na.get_flags(), NeighborAdvertFlags::Override);
        assert_eq!(na.get_reserved(), 0);
        assert_eq!(na.get_target_addr(), VIP);
        let options = na.get_options();
        assert_eq!(options.len(), 1);
        assert_eq!(options[0].option_type, NdpOptionTypes::TargetLLAddr);
        assert_eq!(options[0].length, 1);
        assert_eq!(options[0].data, MAC);
    }
}
