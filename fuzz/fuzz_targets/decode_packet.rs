//! Fuzzes `proto::packet::decode` with arbitrary bytes and receive metadata.
//!
//! Input layout (so seeds can be written by hand, see `fuzz/README.md`):
//!
//! ```text
//! byte 0   flags: bit 0 source is IPv6; bit 1 destination of the other family;
//!                 bit 2 TTL from byte 1 (else 255); bit 3 a v2 password is configured
//! byte 1   TTL / hop limit (used if bit 2)
//! then     source address (4 or 16 bytes), destination address (4 or 16 bytes),
//!          the 8-byte password (if bit 3), and the VRRP message: the rest
//! ```
//!
//! Properties: decode never panics; whatever it accepts encodes again, to a message of
//! the same length that decodes to the same advertisement with the same checksum form.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use floatip::proto::packet::{Auth, DecodeOptions, EncodeCtx, RecvMeta, VRRP_TTL, decode, encode};
use libfuzzer_sys::fuzz_target;

/// Takes an address of the given family off the front of `data`.
fn take_addr(data: &[u8], ipv6: bool) -> Option<(IpAddr, &[u8])> {
    if ipv6 {
        let (octets, rest) = data.split_first_chunk::<16>()?;
        Some((IpAddr::V6(Ipv6Addr::from(*octets)), rest))
    } else {
        let (octets, rest) = data.split_first_chunk::<4>()?;
        Some((IpAddr::V4(Ipv4Addr::from(*octets)), rest))
    }
}

/// Splits the input into receive metadata, decode options and the VRRP message.
fn split_input(data: &[u8]) -> Option<(RecvMeta, DecodeOptions, &[u8])> {
    let (&[flags, ttl], rest) = data.split_first_chunk::<2>()?;
    let src_v6 = flags & 0x01 != 0;
    let dst_v6 = src_v6 ^ (flags & 0x02 != 0);
    let ttl = if flags & 0x04 != 0 { ttl } else { VRRP_TTL };
    let (src, rest) = take_addr(rest, src_v6)?;
    let (dst, rest) = take_addr(rest, dst_v6)?;
    let (auth, rest) = if flags & 0x08 != 0 {
        let (password, rest) = rest.split_first_chunk::<8>()?;
        (Auth::Password(*password), rest)
    } else {
        (Auth::None, rest)
    };
    let meta = RecvMeta {
        src,
        dst,
        ttl,
        ifindex: 1,
    };
    let opts = DecodeOptions {
        auth,
        ..DecodeOptions::default()
    };
    Some((meta, opts, rest))
}

fuzz_target!(|data: &[u8]| {
    let Some((meta, opts, message)) = split_input(data) else {
        return;
    };
    let Ok(decoded) = decode(message, &meta, &opts) else {
        return;
    };
    let ctx = EncodeCtx {
        src: meta.src,
        dst: meta.dst,
        checksum_form: decoded.checksum_form,
    };
    let again = encode(&decoded.advert, &ctx).expect("an accepted advertisement encodes");
    assert_eq!(again.len(), message.len(), "re-encoded length differs");
    let redecoded = decode(&again, &meta, &opts).expect("a re-encoded advertisement decodes");
    assert_eq!(
        redecoded, decoded,
        "re-encoded advertisement decodes differently"
    );
});
