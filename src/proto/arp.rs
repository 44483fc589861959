//! Gratuitous ARP frames: the bytes of the Ethernet frame a new master broadcasts so that
//! every host on the link points the virtual IPv4 address at this host's MAC.
//!
//! Owns only the frame layout. Must not perform I/O, read a clock, log or panic: it
//! returns bytes, and `net/` sends them on an `AF_PACKET` socket when the state machine
//! asks for an announcement.
//!
//! # The frame
//!
//! An ARP *request* (RFC 826) announcing the VIP, the form RFC 5227 §2.3 calls an "ARP
//! Announcement": sender and target IP both the VIP, sender MAC the interface's MAC,
//! broadcast to `ff:ff:ff:ff:ff:ff`. A request rather than a reply because every stack
//! processes broadcast requests, and Linux updates an existing neighbour entry from one
//! (and creates one when `arp_accept` is set).
//!
//! Target hardware address: **all zeros**. RFC 5227 §2.1.1 says the field is ignored and
//! SHOULD be zero, and the Linux kernel's own gratuitous ARP (`arp_create` with no target
//! hardware address, as `inetdev_send_gratuitous_arp` calls it) writes zeros.
//! keepalived (`send_gratuitous_arp_immediate` in `keepalived/vrrp/vrrp_arp.c`) writes
//! `ff:ff:ff:ff:ff:ff` instead. Receivers, Linux included, do not look at the
//! field in a request, so either works; change [`TARGET_HARDWARE_ADDRESS`] if a device
//! is ever found that insists on keepalived's form.
//!
//! Length: 42 bytes (14 Ethernet + 28 ARP), without the padding to the 60-byte Ethernet
//! minimum. The kernel or the NIC pads short frames on transmit, as it does for
//! keepalived's identical 42-byte send.

use std::net::Ipv4Addr;

/// Length of a gratuitous ARP frame as built here: 14-byte Ethernet header + 28-byte ARP
/// body, unpadded (the NIC pads to the 60-byte minimum).
pub const GARP_FRAME_LEN: usize = ETHERNET_HEADER_LEN + ARP_BODY_LEN;

/// The target hardware address written into every announcement (see the module docs).
pub const TARGET_HARDWARE_ADDRESS: [u8; 6] = [0x00; 6];

const ETHERNET_HEADER_LEN: usize = 14;
const ARP_BODY_LEN: usize = 28;

const BROADCAST_MAC: [u8; 6] = [0xff; 6];
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IPV4: u16 = 0x0800;
/// ARP hardware type 1: Ethernet (10 Mb and everything since).
const HARDWARE_TYPE_ETHERNET: u16 = 1;
const HARDWARE_ADDRESS_LEN: u8 = 6;
const PROTOCOL_ADDRESS_LEN: u8 = 4;
const OPERATION_REQUEST: u16 = 1;

/// Builds the gratuitous ARP request announcing `vip` at `src_mac`, ready to hand to an
/// `AF_PACKET`/`SOCK_RAW` socket.
///
/// `src_mac` is the MAC of the interface the VIP lives on; it is both the Ethernet source
/// and the ARP sender hardware address.
pub fn gratuitous_arp(src_mac: [u8; 6], vip: Ipv4Addr) -> [u8; GARP_FRAME_LEN] {
    let vip = vip.octets();
    let mut frame = [0u8; GARP_FRAME_LEN];
    // Ethernet header.
    frame[0..6].copy_from_slice(&BROADCAST_MAC);
    frame[6..12].copy_from_slice(&src_mac);
    frame[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    // ARP body (RFC 826).
    frame[14..16].copy_from_slice(&HARDWARE_TYPE_ETHERNET.to_be_bytes());
    frame[16..18].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    frame[18] = HARDWARE_ADDRESS_LEN;
    frame[19] = PROTOCOL_ADDRESS_LEN;
    frame[20..22].copy_from_slice(&OPERATION_REQUEST.to_be_bytes());
    frame[22..28].copy_from_slice(&src_mac); // sender hardware address
    frame[28..32].copy_from_slice(&vip); // sender protocol address
    frame[32..38].copy_from_slice(&TARGET_HARDWARE_ADDRESS);
    frame[38..42].copy_from_slice(&vip); // target protocol address = sender: gratuitous
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use pnet_packet::Packet;
    use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, ArpPacket};
    use pnet_packet::ethernet::{EtherTypes, EthernetPacket};

    const MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x0a, 0x01];
    const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);

    #[test]
    fn garp_for_192_0_2_100_matches_hand_checked_bytes() {
        #[rustfmt::skip]
        let expected: [u8; 42] = [
            // Ethernet: destination = broadcast
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            // Ethernet: source = 02:00:00:00:0a:01
            0x02, 0x00, 0x00, 0x00, 0x0a, 0x01,
            // Ethernet: ethertype = ARP
            0x08, 0x06,
            // ARP: hardware type = 1 (Ethernet)
            0x00, 0x01,
            // ARP: protocol type = 0x0800 (IPv4)
            0x08, 0x00,
            // ARP: hardware address length = 6, protocol address length = 4
            0x06, 0x04,
            // ARP: operation = 1 (request)
            0x00, 0x01,
            // ARP: sender hardware address = 02:00:00:00:0a:01
            0x02, 0x00, 0x00, 0x00, 0x0a, 0x01,
            // ARP: sender protocol address = 192.0.2.100
            0xc0, 0x00, 0x02, 0x64,
            // ARP: target hardware address = 00:00:00:00:00:00 (RFC 5227 §2.1.1)
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            // ARP: target protocol address = 192.0.2.100 (same as sender: gratuitous)
            0xc0, 0x00, 0x02, 0x64,
        ];
        assert_eq!(gratuitous_arp(MAC, VIP), expected);
    }

    #[test]
    fn garp_parses_back_with_pnet_views() {
        let frame = gratuitous_arp(MAC, VIP);
        assert_eq!(frame.len(), GARP_FRAME_LEN);

        let ethernet = EthernetPacket::new(&frame).expect("42 bytes hold an Ethernet header");
        assert_eq!(ethernet.get_destination().octets(), [0xff; 6]);
        assert_eq!(ethernet.get_source().octets(), MAC);
        assert_eq!(ethernet.get_ethertype(), EtherTypes::Arp);

        let arp = ArpPacket::new(ethernet.payload()).expect("28 bytes hold an ARP body");
        assert_eq!(arp.get_hardware_type(), ArpHardwareTypes::Ethernet);
        assert_eq!(arp.get_protocol_type(), EtherTypes::Ipv4);
        assert_eq!(arp.get_hw_addr_len(), 6);
        assert_eq!(arp.get_proto_addr_len(), 4);
        assert_eq!(arp.get_operation(), ArpOperations::Request);
        assert_eq!(arp.get_sender_hw_addr().octets(), MAC);
        assert_eq!(arp.get_sender_proto_addr(), VIP);
        assert_eq!(arp.get_target_hw_addr().octets(), [0x00; 6]);
        assert_eq!(arp.get_target_proto_addr(), VIP);
        assert!(
            arp.payload().is_empty(),
            "no trailing bytes after the ARP body"
        );
    }

    #[test]
    fn garp_carries_whatever_mac_and_vip_it_is_given() {
        let mac = [0xde, 0xad, 0xbe, 0xef, 0x00, 0x42];
        let vip = Ipv4Addr::new(203, 0, 113, 7);
        let frame = gratuitous_arp(mac, vip);
        assert_eq!(frame[6..12], mac, "Ethernet source");
        assert_eq!(frame[22..28], mac, "sender hardware address");
        assert_eq!(frame[28..32], vip.octets(), "sender protocol address");
        assert_eq!(frame[38..42], vip.octets(), "target protocol address");
    }
}
