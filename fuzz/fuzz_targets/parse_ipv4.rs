//! Fuzzes `proto::ipv4::parse_header` with arbitrary bytes: the IPv4 packet an IPv4 raw
//! socket delivers (header, options, VRRP message, maybe trailing bytes).
//!
//! Properties: parsing never panics; what it accepts agrees with the bytes (version 4,
//! protocol 112, not a fragment, the payload starts at IHL x 4 and ends at the total
//! length, inside the packet; source, destination and TTL are the header's); and the
//! payload goes on to `proto::packet::decode` with the metadata built from the header,
//! exactly as the socket edge does, which must not panic either.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use floatip::proto::ipv4::{MIN_HEADER_LEN, parse_header};
use floatip::proto::packet::{Auth, DecodeOptions, IP_PROTO_VRRP, RecvMeta, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = parse_header(data) else {
        return;
    };
    let payload = header.payload.clone();
    assert_eq!(data[0] >> 4, 4, "accepted another IP version");
    assert_eq!(data[9], IP_PROTO_VRRP, "accepted another protocol");
    assert_eq!(
        u16::from_be_bytes([data[6], data[7]]) & 0x3fff,
        0,
        "accepted a fragment"
    );
    assert_eq!(payload.start, usize::from(data[0] & 0x0f) * 4, "payload start");
    assert!(payload.start >= MIN_HEADER_LEN, "header shorter than 20 bytes");
    assert_eq!(
        payload.end,
        usize::from(u16::from_be_bytes([data[2], data[3]])),
        "payload end is not the total length"
    );
    assert!(
        payload.start <= payload.end && payload.end <= data.len(),
        "payload {payload:?} outside a {}-byte packet",
        data.len()
    );
    assert_eq!(header.ttl, data[8]);
    assert_eq!(header.src, Ipv4Addr::new(data[12], data[13], data[14], data[15]));
    assert_eq!(header.dst, Ipv4Addr::new(data[16], data[17], data[18], data[19]));

    let meta = RecvMeta {
        src: IpAddr::V4(header.src),
        dst: IpAddr::V4(header.dst),
        ttl: header.ttl,
        ifindex: 1,
    };
    let _ = decode(
        &data[payload],
        &meta,
        &DecodeOptions {
            auth: Auth::None,
            ..DecodeOptions::default()
        },
    );
});
