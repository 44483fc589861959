//! Property tests of the VRRP codec: encode -> decode round-trips for every version,
//! family and checksum form, and decode never panics on arbitrary or mutated input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use floatip::proto::packet::{
    Advertisement, Auth, ChecksumForm, DecodeOptions, Decoded, EncodeCtx, RecvMeta, VRRP_TTL,
    Version, decode, encode, vrrp_checksum,
};
use floatip::proto::timers::Centisecs;
use proptest::prelude::*;

/// An advertisement with where it is sent from and to, and the form asked of encode.
#[derive(Debug, Clone)]
struct Case {
    advert: Advertisement,
    ctx: EncodeCtx,
}

fn ipv4() -> impl Strategy<Value = IpAddr> + Clone {
    any::<[u8; 4]>().prop_map(|octets| IpAddr::V4(Ipv4Addr::from(octets)))
}

fn ipv6() -> impl Strategy<Value = IpAddr> + Clone {
    any::<[u8; 16]>().prop_map(|octets| IpAddr::V6(Ipv6Addr::from(octets)))
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![ipv4(), ipv6()]
}

fn checksum_form() -> impl Strategy<Value = ChecksumForm> {
    prop_oneof![
        Just(ChecksumForm::WithPseudoHeader),
        Just(ChecksumForm::WithoutPseudoHeader),
    ]
}

fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![Just(Auth::None), any::<[u8; 8]>().prop_map(Auth::Password)]
}

fn v2_case() -> impl Strategy<Value = Case> {
    (
        any::<u8>(),
        any::<u8>(),
        1u8..=255,
        prop::collection::vec(ipv4(), 1..=20),
        auth(),
        ipv4(),
        ipv4(),
        checksum_form(),
    )
        .prop_map(
            |(vrid, priority, secs, addresses, auth, src, dst, checksum_form)| Case {
                advert: Advertisement {
                    version: Version::V2,
                    vrid,
                    priority,
                    interval: Centisecs::from_secs(secs),
                    addresses,
                    auth,
                },
                // v2 must ignore the form asked for.
                ctx: EncodeCtx {
                    src,
                    dst,
                    checksum_form,
                },
            },
        )
}

fn v3_case(
    address: impl Strategy<Value = IpAddr> + Clone,
    form: impl Strategy<Value = ChecksumForm>,
) -> impl Strategy<Value = Case> {
    (
        any::<u8>(),
        any::<u8>(),
        1u16..=4095,
        prop::collection::vec(address.clone(), 1..=20),
        address.clone(),
        address,
        form,
    )
        .prop_map(
            |(vrid, priority, centis, addresses, src, dst, checksum_form)| Case {
                advert: Advertisement {
                    version: Version::V3,
                    vrid,
                    priority,
                    interval: Centisecs(centis),
                    addresses,
                    auth: Auth::None,
                },
                ctx: EncodeCtx {
                    src,
                    dst,
                    checksum_form,
                },
            },
        )
}

fn any_case() -> impl Strategy<Value = Case> {
    prop_oneof![
        v2_case(),
        v3_case(ipv4(), checksum_form()),
        // v3 over IPv6 must ignore the form asked for.
        v3_case(ipv6(), checksum_form()),
    ]
}

fn meta_for(ctx: &EncodeCtx) -> RecvMeta {
    RecvMeta {
        src: ctx.src,
        dst: ctx.dst,
        ttl: VRRP_TTL,
        ifindex: 1,
    }
}

/// The form decode must report for bytes encoded from `case`.
fn expected_form(case: &Case, bytes: &[u8]) -> ChecksumForm {
    match (case.advert.version, case.ctx.src) {
        (Version::V2, _) => ChecksumForm::WithoutPseudoHeader,
        (Version::V3, IpAddr::V6(_)) => ChecksumForm::WithPseudoHeader,
        (Version::V3, IpAddr::V4(_)) => {
            // When the pseudo-header happens to sum to zero, both forms verify and
            // decode prefers the RFC's.
            let with = ChecksumForm::WithPseudoHeader;
            if vrrp_checksum(bytes, case.ctx.src, case.ctx.dst, with) == Some(0) {
                with
            } else {
                case.ctx.checksum_form
            }
        }
    }
}

/// If `bytes` decode, encoding the result in the reported form and decoding again gives
/// the same advertisement.
fn assert_reencodes(bytes: &[u8], meta: &RecvMeta, opts: &DecodeOptions) {
    if let Ok(decoded) = decode(bytes, meta, opts) {
        let ctx = EncodeCtx {
            src: meta.src,
            dst: meta.dst,
            checksum_form: decoded.checksum_form,
        };
        let again = encode(&decoded.advert, &ctx).expect("a decoded advert encodes");
        let redecoded = decode(&again, meta, opts).expect("a re-encoded advert decodes");
        assert_eq!(redecoded.advert, decoded.advert);
    }
}

proptest! {
    #[test]
    fn encode_then_decode_round_trips(case in any_case()) {
        let bytes = encode(&case.advert, &case.ctx).expect("valid advert encodes");
        let opts = DecodeOptions {
            auth: case.advert.auth,
            ..DecodeOptions::default()
        };
        let decoded = decode(&bytes, &meta_for(&case.ctx), &opts);
        prop_assert_eq!(
            decoded,
            Ok(Decoded {
                advert: case.advert.clone(),
                checksum_form: expected_form(&case, &bytes),
            })
        );
    }

    #[test]
    fn v3_ipv4_reports_the_form_it_was_sent_with(
        case in v3_case(ipv4(), checksum_form()),
    ) {
        let bytes = encode(&case.advert, &case.ctx).expect("valid advert encodes");
        let decoded = decode(&bytes, &meta_for(&case.ctx), &DecodeOptions::default())
            .expect("decodes");
        prop_assert_eq!(decoded.checksum_form, expected_form(&case, &bytes));
        // Re-encoding in the reported form reproduces the packet exactly.
        let ctx = EncodeCtx { checksum_form: decoded.checksum_form, ..case.ctx };
        prop_assert_eq!(encode(&decoded.advert, &ctx).expect("encodes"), bytes);
    }

    #[test]
    fn mutated_packets_never_panic_and_reencode(
        case in any_case(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        truncate in prop::option::weighted(0.2, any::<prop::sample::Index>()),
        extra in prop::option::weighted(0.2, prop::collection::vec(any::<u8>(), 1..8)),
        refresh in prop::bool::weighted(0.8),
    ) {
        let mut bytes = encode(&case.advert, &case.ctx).expect("valid advert encodes");
        for (index, value) in edits {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        if let Some(index) = truncate {
            bytes.truncate(index.index(bytes.len() + 1));
        }
        if let Some(extra) = extra {
            bytes.extend_from_slice(&extra);
        }
        // Mostly fix the checksum up, so the mutation reaches the checks after it.
        if refresh && bytes.len() >= 8 {
            bytes[6..8].fill(0);
            if let Some(sum) =
                vrrp_checksum(&bytes, case.ctx.src, case.ctx.dst, case.ctx.checksum_form)
            {
                bytes[6..8].copy_from_slice(&sum.to_be_bytes());
            }
        }
        let opts = DecodeOptions {
            auth: case.advert.auth,
            ..DecodeOptions::default()
        };
        assert_reencodes(&bytes, &meta_for(&case.ctx), &opts);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn decode_of_arbitrary_bytes_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        src in any_ip(),
        dst in any_ip(),
        ttl in prop_oneof![Just(VRRP_TTL), any::<u8>()],
        ifindex in any::<u32>(),
        auth in auth(),
    ) {
        let meta = RecvMeta { src, dst, ttl, ifindex };
        let opts = DecodeOptions {
            auth,
            ..DecodeOptions::default()
        };
        assert_reencodes(&bytes, &meta, &opts);
    }

    #[test]
    fn decode_of_plausible_headers_never_panics(
        version in 0u8..=4,
        kind in 0u8..=2,
        header in any::<[u8; 7]>(),
        body in prop::collection::vec(any::<u8>(), 0..200),
        src in any_ip(),
        dst in any_ip(),
        auth in auth(),
    ) {
        // Arbitrary bytes rarely start with a valid version/type; these always do, and
        // their length is often close to what the count says.
        let mut bytes = vec![(version << 4) | kind];
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(&body);
        let meta = RecvMeta { src, dst, ttl: VRRP_TTL, ifindex: 1 };
        assert_reencodes(&bytes, &meta, &DecodeOptions {
            auth,
            ..DecodeOptions::default()
        });
    }
}
