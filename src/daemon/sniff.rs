//! `floatip sniff IFACE`: print every VRRP advertisement seen on an interface.
//!
//! Owns the passive listener operators use to find VRID collisions, checksum-form
//! mismatches and peers with the wrong password. Sends nothing and changes nothing.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tokio::signal::unix::{SignalKind, signal};

use super::DaemonError;
use crate::net::{self, Mode, VrrpSocket};
use crate::proto::packet::{
    self, Auth, ChecksumForm, DecodeOptions, Decoded, Family, RecvMeta, Reject, Version,
};

/// Listen on `iface` (IPv4 and IPv6) until interrupted or until `count` packets were
/// printed.
pub fn run(iface: &str, count: Option<u64>) -> Result<(), DaemonError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DaemonError::io("cannot start the runtime", e))?;
    runtime.block_on(listen(iface, count))
}

async fn listen(iface: &str, count: Option<u64>) -> Result<(), DaemonError> {
    let open = |family, source| {
        VrrpSocket::open(iface, family, source, Mode::Multicast).map_err(|source| {
            DaemonError::Net {
                router: format!("sniff {iface}"),
                source,
            }
        })
    };
    let v4 = open(Family::V4, IpAddr::V4(Ipv4Addr::UNSPECIFIED))?;
    let v6 = open(Family::V6, IpAddr::V6(Ipv6Addr::UNSPECIFIED))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| DaemonError::io("SIGINT", e))?;
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| DaemonError::io("SIGTERM", e))?;
    eprintln!(
        "listening for VRRP on {iface} (IPv4 224.0.0.18 and IPv6 ff02::12, and unicast to this host); Ctrl-C stops"
    );
    let started = tokio::time::Instant::now();
    let mut buf4 = vec![0u8; net::RECV_BUFFER_LEN];
    let mut buf6 = vec![0u8; net::RECV_BUFFER_LEN];
    let mut printed = 0u64;
    while count.is_none_or(|n| printed < n) {
        let received = tokio::select! {
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
            r = v4.recv(&mut buf4) => r.map(|(len, meta)| (buf4.get(..len).unwrap_or_default().to_vec(), meta)),
            r = v6.recv(&mut buf6) => r.map(|(len, meta)| (buf6.get(..len).unwrap_or_default().to_vec(), meta)),
        };
        let elapsed = started.elapsed().as_secs_f64();
        match received {
            Ok((bytes, meta)) => println!("{elapsed:10.3} {}", describe(&bytes, &meta)),
            Err(net::RecvError::Malformed { reason, .. }) => {
                println!("{elapsed:10.3} malformed packet: {}", reason.name())
            }
            Err(e) => {
                eprintln!("receive error: {e}");
                continue;
            }
        }
        printed += 1;
    }
    Ok(())
}

/// One line about one packet: what it says, or why floatip would drop it.
pub fn describe(bytes: &[u8], meta: &RecvMeta) -> String {
    let mut line = format!("{} > {} ttl {}", meta.src, meta.dst, meta.ttl);
    match decode_for_display(bytes, meta) {
        Ok((decoded, auth_note)) => {
            let advert = &decoded.advert;
            let version = match advert.version {
                Version::V2 => 2,
                Version::V3 => 3,
            };
            let _ = write!(
                line,
                " VRRPv{version} vrid {} prio {} interval {} addrs ",
                advert.vrid, advert.priority, advert.interval
            );
            let addrs: Vec<String> = advert.addresses.iter().map(ToString::to_string).collect();
            line.push_str(&addrs.join(","));
            if advert.version == Version::V3 && Family::of(&meta.src) == Family::V4 {
                let form = match decoded.checksum_form {
                    ChecksumForm::WithPseudoHeader => "with-pseudo-header",
                    ChecksumForm::WithoutPseudoHeader => "without-pseudo-header",
                };
                let _ = write!(line, " checksum {form}");
            }
            match advert.auth {
                Auth::None if advert.version == Version::V2 => line.push_str(" auth none"),
                Auth::Password(data) => {
                    let text = String::from_utf8_lossy(&data);
                    let _ = write!(line, " auth password {:?}", text.trim_end_matches('\0'));
                }
                Auth::None => {}
            }
            if let Some(note) = auth_note {
                line.push_str(note);
            }
        }
        Err(reject) => {
            // Say what we can of a packet the decoder refused.
            if let (Some(first), Some(vrid)) = (bytes.first(), bytes.get(1)) {
                let _ = write!(line, " version {} vrid {vrid}", first >> 4);
            }
            let _ = write!(line, " REJECTED {}: {reject}", reject.name());
        }
    }
    line
}

/// Decode without knowing the password: a v2 packet's own auth data is used, so its
/// fields can be shown; everything else is checked as the daemon checks it.
fn decode_for_display(
    bytes: &[u8],
    meta: &RecvMeta,
) -> Result<(Decoded, Option<&'static str>), Reject> {
    match packet::decode(
        bytes,
        meta,
        &DecodeOptions {
            auth: Auth::None,
            ..DecodeOptions::default()
        },
    ) {
        Err(Reject::AuthMismatch) => {
            let auth_type = bytes.get(4).copied();
            let data: Option<[u8; 8]> = bytes
                .len()
                .checked_sub(8)
                .and_then(|start| bytes.get(start..))
                .and_then(|d| d.try_into().ok());
            match (auth_type, data) {
                (Some(1), Some(data)) => packet::decode(
                    bytes,
                    meta,
                    &DecodeOptions {
                        auth: Auth::Password(data),
                        ..DecodeOptions::default()
                    },
                )
                .map(|d| (d, None)),
                _ => Err(Reject::AuthMismatch),
            }
        }
        other => other.map(|d| (d, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(src: &str, dst: &str, ttl: u8) -> RecvMeta {
        RecvMeta {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            ttl,
            ifindex: 2,
        }
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn describes_a_keepalived_v3_advert_and_its_checksum_form() {
        // v3-ipv4 capture, index 0 (keepalived 2.2.7).
        let bytes = unhex("313596020032112dc0000264c0000265");
        let line = describe(&bytes, &meta("192.0.2.11", "224.0.0.18", 255));
        assert_eq!(
            line,
            "192.0.2.11 > 224.0.0.18 ttl 255 VRRPv3 vrid 53 prio 150 interval 500ms addrs 192.0.2.100,192.0.2.101 checksum with-pseudo-header"
        );
    }

    #[test]
    fn shows_a_v2_password_and_rejects_bad_ttl() {
        let bytes = unhex("213396010101494bc00002647333637265740000");
        let line = describe(&bytes, &meta("192.0.2.11", "224.0.0.18", 255));
        assert!(
            line.ends_with(
                "VRRPv2 vrid 51 prio 150 interval 1000ms addrs 192.0.2.100 auth password \"s3cret\""
            ),
            "{line}"
        );
        let line = describe(&bytes, &meta("192.0.2.11", "224.0.0.18", 64));
        assert!(line.contains("REJECTED bad_ttl"), "{line}");
        assert!(line.contains("version 2 vrid 51"), "{line}");
    }
}
