//! The VRRP codec against advertisements captured from keepalived 2.2.7
//! (`tests/data/keepalived-2.2.7.jsonl`, see `tests/data/README.md`), plus one negative
//! test per `Reject` variant built by corrupting one field of a captured packet.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use floatip::proto::packet::{
    Advertisement, Auth, ChecksumForm, DecodeOptions, Decoded, EncodeCtx, IP_PROTO_VRRP, RecvMeta,
    Reject, VRRP_TTL, Version, decode, encode, vrrp_checksum,
};
use floatip::proto::timers::Centisecs;
use serde::Deserialize;

const VECTORS: &str = include_str!("data/keepalived-2.2.7.jsonl");

/// One line of the vector file. Fields the codec does not see (Ethernet addresses) are
/// left out.
#[derive(Debug, Deserialize)]
struct Vector {
    capture: String,
    index: u32,
    family: String,
    src: IpAddr,
    dst: IpAddr,
    ttl_or_hop_limit: u8,
    version: u8,
    #[serde(rename = "type")]
    kind: u8,
    vrid: u8,
    priority: u8,
    count: u8,
    advert_interval_s: Option<u8>,
    max_advert_interval_cs: Option<u16>,
    auth_type: Option<u8>,
    auth_data_hex: Option<String>,
    addresses: Vec<IpAddr>,
    checksum_hex: String,
    checksum_covers: String,
    vrrp_hex: String,
    ip_packet_hex: String,
}

impl Vector {
    fn name(&self) -> String {
        format!("{}#{}", self.capture, self.index)
    }

    fn vrrp(&self) -> Vec<u8> {
        hex::decode(&self.vrrp_hex).expect("vrrp_hex is hex")
    }

    fn meta(&self) -> RecvMeta {
        RecvMeta {
            src: self.src,
            dst: self.dst,
            ttl: self.ttl_or_hop_limit,
            ifindex: 2,
        }
    }

    /// The auth a receiver must be configured with to accept this vector.
    fn auth(&self) -> Auth {
        match self.auth_type {
            None | Some(0) => Auth::None,
            Some(1) => {
                let data = hex::decode(self.auth_data_hex.as_deref().expect("auth data"))
                    .expect("auth_data_hex is hex");
                Auth::Password(data.try_into().expect("8 bytes of auth data"))
            }
            Some(other) => panic!("{}: unexpected auth type {other}", self.name()),
        }
    }

    fn options(&self) -> DecodeOptions {
        DecodeOptions {
            auth: self.auth(),
            ..DecodeOptions::default()
        }
    }

    fn checksum_form(&self) -> ChecksumForm {
        match self.checksum_covers.as_str() {
            "pseudo-header+vrrp-message" => ChecksumForm::WithPseudoHeader,
            "vrrp-message" => ChecksumForm::WithoutPseudoHeader,
            other => panic!("{}: unknown checksum_covers {other:?}", self.name()),
        }
    }

    fn ctx(&self) -> EncodeCtx {
        EncodeCtx {
            src: self.src,
            dst: self.dst,
            checksum_form: self.checksum_form(),
        }
    }

    fn expected_advert(&self) -> Advertisement {
        let (version, interval) = match self.version {
            2 => (
                Version::V2,
                Centisecs::from_secs(self.advert_interval_s.expect("v2 interval")),
            ),
            3 => (
                Version::V3,
                Centisecs(self.max_advert_interval_cs.expect("v3 interval")),
            ),
            other => panic!("{}: unexpected version {other}", self.name()),
        };
        Advertisement {
            version,
            vrid: self.vrid,
            priority: self.priority,
            interval,
            addresses: self.addresses.clone(),
            auth: self.auth(),
        }
    }
}

fn vectors() -> Vec<Vector> {
    VECTORS
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("vector line is valid JSON"))
        .collect()
}

/// The first vector of a capture.
fn vector(capture: &str) -> Vector {
    vectors()
        .into_iter()
        .find(|v| v.capture == capture)
        .unwrap_or_else(|| panic!("no vector from capture {capture}"))
}

/// Recomputes the checksum of an edited message in the given form.
fn refresh_checksum(bytes: &mut [u8], src: IpAddr, dst: IpAddr, form: ChecksumForm) {
    bytes[6..8].fill(0);
    let checksum = vrrp_checksum(bytes, src, dst, form).expect("families agree");
    bytes[6..8].copy_from_slice(&checksum.to_be_bytes());
}

/// Decodes a vector's bytes after `edit`, with a valid checksum of the vector's form.
fn decode_edited(vector: &Vector, edit: impl FnOnce(&mut Vec<u8>)) -> Result<Decoded, Reject> {
    let mut bytes = vector.vrrp();
    edit(&mut bytes);
    refresh_checksum(&mut bytes, vector.src, vector.dst, vector.checksum_form());
    decode(&bytes, &vector.meta(), &vector.options())
}

// ---------------------------------------------------------------------------------------
// The captured vectors
// ---------------------------------------------------------------------------------------

#[test]
fn vector_file_covers_every_capture() {
    let all = vectors();
    assert_eq!(all.len(), 30);
    for capture in [
        "v2-noauth",
        "v2-pass",
        "v3-ipv4",
        "v3-ipv4-unicast",
        "v3-ipv6",
    ] {
        assert!(
            all.iter().any(|v| v.capture == capture),
            "no vector from {capture}"
        );
    }
    // Each capture ends with keepalived's priority-0 advert on SIGTERM.
    assert!(all.iter().any(|v| v.priority == 0 && v.version == 2));
    assert!(all.iter().any(|v| v.priority == 0 && v.family == "ipv6"));
}

#[test]
fn every_vector_decodes_to_its_fields() {
    for v in vectors() {
        let decoded = decode(&v.vrrp(), &v.meta(), &v.options())
            .unwrap_or_else(|reject| panic!("{}: rejected: {reject}", v.name()));
        let advert = &decoded.advert;
        assert_eq!(advert, &v.expected_advert(), "{}", v.name());
        assert_eq!(advert.version, v.expected_advert().version, "{}", v.name());
        assert_eq!(
            usize::from(v.count),
            advert.addresses.len(),
            "{}: count",
            v.name()
        );
        assert_eq!(v.kind, 1, "{}: type", v.name());
        assert_eq!(decoded.checksum_form, v.checksum_form(), "{}", v.name());
    }
}

#[test]
fn every_vector_reencodes_byte_for_byte() {
    for v in vectors() {
        let decoded = decode(&v.vrrp(), &v.meta(), &v.options())
            .unwrap_or_else(|reject| panic!("{}: rejected: {reject}", v.name()));
        let ctx = EncodeCtx {
            checksum_form: decoded.checksum_form,
            ..v.ctx()
        };
        let bytes = encode(&decoded.advert, &ctx)
            .unwrap_or_else(|error| panic!("{}: encode failed: {error}", v.name()));
        assert_eq!(hex::encode(&bytes), v.vrrp_hex, "{}", v.name());
        assert_eq!(hex::encode(&bytes[6..8]), v.checksum_hex, "{}", v.name());
    }
}

#[test]
fn every_vector_checksum_covers_what_it_says() {
    for v in vectors() {
        let bytes = v.vrrp();
        let form = v.checksum_form();
        let other = match form {
            ChecksumForm::WithPseudoHeader => ChecksumForm::WithoutPseudoHeader,
            ChecksumForm::WithoutPseudoHeader => ChecksumForm::WithPseudoHeader,
        };
        assert_eq!(
            vrrp_checksum(&bytes, v.src, v.dst, form),
            Some(0),
            "{}",
            v.name()
        );
        assert_ne!(
            vrrp_checksum(&bytes, v.src, v.dst, other),
            Some(0),
            "{}",
            v.name()
        );
    }
}

/// A check on the data rather than the codec: the IP packet around each message says
/// what the vector says, and stripping its header leaves `vrrp_hex`.
#[test]
fn ip_packets_strip_to_their_vrrp_messages() {
    for v in vectors() {
        let packet = hex::decode(&v.ip_packet_hex).expect("ip_packet_hex is hex");
        let payload = match v.family.as_str() {
            "ipv4" => {
                assert_eq!(packet[0] >> 4, 4, "{}: IP version", v.name());
                let header_len = usize::from(packet[0] & 0x0f) * 4;
                assert_eq!(packet[1], 0xc0, "{}: TOS", v.name());
                assert_eq!(
                    usize::from(u16::from_be_bytes([packet[2], packet[3]])),
                    packet.len(),
                    "{}: total length",
                    v.name()
                );
                assert_eq!(packet[8], v.ttl_or_hop_limit, "{}: TTL", v.name());
                assert_eq!(packet[8], VRRP_TTL, "{}: TTL", v.name());
                assert_eq!(packet[9], IP_PROTO_VRRP, "{}: protocol", v.name());
                let src = Ipv4Addr::from(<[u8; 4]>::try_from(&packet[12..16]).unwrap());
                let dst = Ipv4Addr::from(<[u8; 4]>::try_from(&packet[16..20]).unwrap());
                assert_eq!(IpAddr::V4(src), v.src, "{}: src", v.name());
                assert_eq!(IpAddr::V4(dst), v.dst, "{}: dst", v.name());
                &packet[header_len..]
            }
            "ipv6" => {
                assert_eq!(packet[0] >> 4, 6, "{}: IP version", v.name());
                let traffic_class = (packet[0] << 4) | (packet[1] >> 4);
                assert_eq!(traffic_class, 0xc0, "{}: traffic class", v.name());
                assert_eq!(
                    usize::from(u16::from_be_bytes([packet[4], packet[5]])),
                    packet.len() - 40,
                    "{}: payload length",
                    v.name()
                );
                assert_eq!(packet[6], IP_PROTO_VRRP, "{}: next header", v.name());
                assert_eq!(packet[7], v.ttl_or_hop_limit, "{}: hop limit", v.name());
                assert_eq!(packet[7], VRRP_TTL, "{}: hop limit", v.name());
                let src = Ipv6Addr::from(<[u8; 16]>::try_from(&packet[8..24]).unwrap());
                let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&packet[24..40]).unwrap());
                assert_eq!(IpAddr::V6(src), v.src, "{}: src", v.name());
                assert_eq!(IpAddr::V6(dst), v.dst, "{}: dst", v.name());
                &packet[40..]
            }
            other => panic!("{}: unknown family {other:?}", v.name()),
        };
        assert_eq!(hex::encode(payload), v.vrrp_hex, "{}", v.name());
    }
}

// ---------------------------------------------------------------------------------------
// The v3-over-IPv4 checksum ambiguity
// ---------------------------------------------------------------------------------------

#[test]
fn v3_ipv4_without_pseudo_header_is_accepted_and_reported() {
    for capture in ["v3-ipv4", "v3-ipv4-unicast"] {
        let v = vector(capture);
        let mut bytes = v.vrrp();
        refresh_checksum(&mut bytes, v.src, v.dst, ChecksumForm::WithoutPseudoHeader);
        let decoded = decode(&bytes, &v.meta(), &v.options()).expect("accepted");
        assert_eq!(decoded.checksum_form, ChecksumForm::WithoutPseudoHeader);
        assert_eq!(decoded.advert, v.expected_advert());

        // And encode produces exactly that form on request.
        let ctx = EncodeCtx {
            checksum_form: ChecksumForm::WithoutPseudoHeader,
            ..v.ctx()
        };
        assert_eq!(encode(&decoded.advert, &ctx).unwrap(), bytes);
    }
}

#[test]
fn v3_ipv4_pseudo_header_covers_the_real_destination() {
    // keepalived checksums unicast adverts with the unicast destination; checking it
    // against the multicast group instead must fail.
    let v = vector("v3-ipv4-unicast");
    let meta = RecvMeta {
        dst: IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
        ..v.meta()
    };
    assert_eq!(
        decode(&v.vrrp(), &meta, &v.options()),
        Err(Reject::BadChecksum { received: 0x0f6a })
    );
}

#[test]
fn v3_ipv6_pseudo_header_covers_the_source() {
    let v = vector("v3-ipv6");
    let meta = RecvMeta {
        src: "fe80::ff:fe00:a02".parse().unwrap(),
        ..v.meta()
    };
    assert_eq!(
        decode(&v.vrrp(), &meta, &v.options()),
        Err(Reject::BadChecksum { received: 0x02dc })
    );
}

// ---------------------------------------------------------------------------------------
// One negative test per Reject variant
// ---------------------------------------------------------------------------------------

#[test]
fn reject_bad_ttl() {
    for capture in ["v2-noauth", "v3-ipv4", "v3-ipv6"] {
        let v = vector(capture);
        for ttl in [0, 1, 64, 254] {
            let meta = RecvMeta { ttl, ..v.meta() };
            assert_eq!(
                decode(&v.vrrp(), &meta, &v.options()),
                Err(Reject::BadTtl { ttl }),
                "{capture} ttl {ttl}"
            );
        }
    }
}

#[test]
fn reject_too_short() {
    let v = vector("v3-ipv4");
    let bytes = v.vrrp();
    for len in 0..8 {
        assert_eq!(
            decode(&bytes[..len], &v.meta(), &v.options()),
            Err(Reject::TooShort { len })
        );
    }
    // v2 needs 8 header + 8 auth bytes even before counting addresses.
    let v = vector("v2-pass");
    let bytes = v.vrrp();
    for len in 8..16 {
        assert_eq!(
            decode(&bytes[..len], &v.meta(), &v.options()),
            Err(Reject::TooShort { len })
        );
    }
}

#[test]
fn reject_too_long() {
    // Trailing bytes after the addresses (v3) or after the auth data (v2).
    for (capture, count, expected) in [("v3-ipv4", 2, 16), ("v2-pass", 1, 20), ("v3-ipv6", 1, 24)] {
        let v = vector(capture);
        let mut bytes = v.vrrp();
        bytes.extend_from_slice(&[0; 4]);
        assert_eq!(
            decode(&bytes, &v.meta(), &v.options()),
            Err(Reject::TooLong {
                len: expected + 4,
                count,
                expected
            }),
            "{capture}"
        );
    }
    // A count smaller than the addresses present leaves the buffer too long.
    let v = vector("v3-ipv4");
    assert_eq!(
        decode_edited(&v, |bytes| bytes[3] = 1),
        Err(Reject::TooLong {
            len: 16,
            count: 1,
            expected: 12
        })
    );
}

#[test]
fn reject_bad_version() {
    let v = vector("v3-ipv4");
    for version in [0u8, 1, 4, 15] {
        assert_eq!(
            decode_edited(&v, |bytes| bytes[0] = (version << 4) | 1),
            Err(Reject::BadVersion { version }),
            "version {version}"
        );
    }
}

#[test]
fn reject_bad_type() {
    for capture in ["v2-noauth", "v3-ipv6"] {
        let v = vector(capture);
        for kind in [0u8, 2, 15] {
            assert_eq!(
                decode_edited(&v, |bytes| bytes[0] = (bytes[0] & 0xf0) | kind),
                Err(Reject::BadType { kind }),
                "{capture} type {kind}"
            );
        }
    }
}

#[test]
fn reject_bad_checksum() {
    for v in vectors() {
        let mut bytes = v.vrrp();
        bytes[7] ^= 0x01;
        let received = u16::from_be_bytes([bytes[6], bytes[7]]);
        assert_eq!(
            decode(&bytes, &v.meta(), &v.options()),
            Err(Reject::BadChecksum { received }),
            "{}",
            v.name()
        );
        // A flipped bit elsewhere in the message is caught the same way.
        let mut bytes = v.vrrp();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x80;
        assert!(
            matches!(
                decode(&bytes, &v.meta(), &v.options()),
                Err(Reject::BadChecksum { .. })
            ),
            "{}",
            v.name()
        );
    }
}

#[test]
fn reject_count_mismatch() {
    // More addresses claimed than the buffer holds.
    for (capture, count, len) in [("v3-ipv4", 3, 16), ("v2-noauth", 3, 24), ("v3-ipv6", 2, 24)] {
        let v = vector(capture);
        assert_eq!(
            decode_edited(&v, |bytes| bytes[3] = count),
            Err(Reject::CountMismatch { count, len }),
            "{capture}"
        );
    }
    // A count of 0 is invalid even when the length agrees (RFC 9568 §5.2.5).
    let v = vector("v3-ipv4");
    assert_eq!(
        decode_edited(&v, |bytes| {
            bytes.truncate(8);
            bytes[3] = 0;
        }),
        Err(Reject::CountMismatch { count: 0, len: 8 })
    );
    let v = vector("v2-noauth");
    assert_eq!(
        decode_edited(&v, |bytes| {
            let auth = bytes[bytes.len() - 8..].to_vec();
            bytes.truncate(8);
            bytes.extend_from_slice(&auth);
            bytes[3] = 0;
        }),
        Err(Reject::CountMismatch { count: 0, len: 16 })
    );
}

#[test]
fn reject_zero_interval() {
    // v2: byte 5 is whole seconds.
    let v = vector("v2-noauth");
    assert_eq!(
        decode_edited(&v, |bytes| bytes[5] = 0),
        Err(Reject::ZeroInterval)
    );
    // v3: the low 12 bits of bytes 4..6 are centiseconds.
    for capture in ["v3-ipv4", "v3-ipv6"] {
        let v = vector(capture);
        assert_eq!(
            decode_edited(&v, |bytes| {
                bytes[4] = 0;
                bytes[5] = 0;
            }),
            Err(Reject::ZeroInterval),
            "{capture}"
        );
    }
}

#[test]
fn reject_auth_mismatch() {
    let v = vector("v2-pass");
    let bytes = v.vrrp();
    for wrong in [
        Auth::None,
        Auth::password("s3cres").unwrap(),
        Auth::password("s3cret1").unwrap(),
    ] {
        assert_eq!(
            decode(
                &bytes,
                &v.meta(),
                &DecodeOptions {
                    auth: wrong,
                    ..DecodeOptions::default()
                }
            ),
            Err(Reject::AuthMismatch),
            "{wrong:?}"
        );
    }
    // A receiver with a password rejects an unauthenticated sender.
    let v = vector("v2-noauth");
    let opts = DecodeOptions {
        auth: Auth::password("s3cret").unwrap(),
        ..DecodeOptions::default()
    };
    assert_eq!(
        decode(&v.vrrp(), &v.meta(), &opts),
        Err(Reject::AuthMismatch)
    );
    // Auth type 2 (keepalived's IPsec AH) is never accepted.
    let v = vector("v2-pass");
    assert_eq!(
        decode_edited(&v, |bytes| bytes[4] = 2),
        Err(Reject::AuthMismatch)
    );
}

#[test]
fn reject_family_mismatch() {
    // v3 with source and destination of different families.
    let v = vector("v3-ipv4");
    let meta = RecvMeta {
        dst: "ff02::12".parse().unwrap(),
        ..v.meta()
    };
    assert!(matches!(
        decode(&v.vrrp(), &meta, &v.options()),
        Err(Reject::FamilyMismatch { .. })
    ));
    let v = vector("v3-ipv6");
    let meta = RecvMeta {
        src: "192.0.2.11".parse().unwrap(),
        ..v.meta()
    };
    assert!(matches!(
        decode(&v.vrrp(), &meta, &v.options()),
        Err(Reject::FamilyMismatch { .. })
    ));
    // v2 over IPv6.
    let v = vector("v2-noauth");
    let meta = RecvMeta {
        src: "fe80::ff:fe00:a01".parse().unwrap(),
        dst: "ff02::12".parse().unwrap(),
        ..v.meta()
    };
    assert_eq!(
        decode(&v.vrrp(), &meta, &v.options()),
        Err(Reject::FamilyMismatch {
            detail: "VRRPv2 received over IPv6"
        })
    );
}
