//! `checksum: auto` end to end: a unicast peer that sends VRRPv3 over IPv4 without the
//! pseudo-header is answered in that form, and one that sends with it (or has not been
//! heard yet) gets the RFC's form. The peer is a raw test speaker (`netns::vrrp`, built
//! byte by byte, not with the crate's encoder); floatip's adverts are checked on the wire
//! with tcpdump on its switch port. Needs root, nft-free; fails without tcpdump.

mod netns;

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use netns::capture::{Capture, Packet};
use netns::{
    ADV, Advert, Checksum, Config, Forgery, STARTUP, Topology, VIP4, pair, takeover_bound, web,
};

/// The form a captured advertisement's checksum verifies in.
fn form(p: &Packet) -> &'static str {
    match (p.sum_plain, p.sum_pseudo) {
        (true, false) => "without",
        (false, true) => "with",
        (true, true) => "both",
        (false, false) => "neither",
    }
}

fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// floatip's adverts to the peer captured after `since` (pcap time).
fn answers(wire: &Capture, a: IpAddr, b: IpAddr, since: f64) -> Vec<Packet> {
    wire.from(a)
        .into_iter()
        .filter(|p| p.dst == b && p.time > since)
        .collect()
}

/// The speaker sends in `checksum` every ADV until floatip's answers after the first
/// one in `want` form number three; then every answer from that first one on must be in
/// `want` form (the form does not flip back and forth).
fn phase(topo: &Topology, wire: &Capture, checksum: Checksum, want: &str) {
    let (a, b) = (topo.node("a"), topo.node("b"));
    let (a_ip, b_ip) = (IpAddr::V4(a.ip4()), IpAddr::V4(b.ip4()));
    let advert = Advert {
        vrid: 51,
        priority: 100,
        interval_cs: 10,
        addresses: vec![VIP4.parse().expect("VIP")],
    };
    let forgery = Forgery { ttl: 255, checksum };
    let since = epoch_now();
    let settled = |packets: &[Packet]| {
        packets
            .iter()
            .position(|p| form(p) == want)
            .is_some_and(|first| packets.len() - first >= 3)
    };
    // A speaker at the advertisement interval: pacing, not waiting for a condition.
    topo.expect_within(
        Duration::from_secs(5),
        &format!("floatip answers in the {want} form"),
        || {
            b.send_forged_advert(&a.ip4().to_string(), &advert, forgery);
            std::thread::sleep(ADV);
            settled(&answers(wire, a_ip, b_ip, since))
        },
    );
    let packets = answers(wire, a_ip, b_ip, since);
    let first = packets
        .iter()
        .position(|p| form(p) == want)
        .expect("settled");
    let forms: Vec<&str> = packets[first..].iter().map(form).collect();
    assert!(
        forms.iter().all(|f| *f == want),
        "after the first {want} answer, floatip answered in: {forms:?}"
    );
}

#[test]
fn a_unicast_peer_is_answered_in_its_checksum_form() {
    let topo = pair("cksum");
    let (a, b) = (topo.node("a"), topo.node("b"));
    let (a_ip, b_ip) = (IpAddr::V4(a.ip4()), IpAddr::V4(b.ip4()));
    let wire = topo.capture_vrrp(a, 0);
    let router = web(200).unicast(&a.ip4().to_string(), &[&b.ip4().to_string()]);
    let _daemon = a.start(&Config::one(router));

    // Nobody heard yet: the RFC's form (with the IPv4 pseudo-header).
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(200));
    topo.expect_within(Duration::from_secs(2), "three adverts to b", || {
        answers(&wire, a_ip, b_ip, 0.0).len() >= 3
    });
    let forms: Vec<&str> = answers(&wire, a_ip, b_ip, 0.0).iter().map(form).collect();
    assert!(forms.iter().all(|f| *f == "with"), "{forms:?}");

    // The peer sends without the pseudo-header: answered without it.
    phase(&topo, &wire, Checksum::WithoutPseudoHeader, "without");
    // And with it again: answered with it.
    phase(&topo, &wire, Checksum::WithPseudoHeader, "with");

    // The speaker's lower priority never moved the address.
    assert_eq!(topo.holders(VIP4), ["a"]);
    let from_b = wire.from(b_ip);
    assert!(
        from_b.iter().any(|p| form(p) == "without") && from_b.iter().any(|p| form(p) == "with"),
        "the speaker's adverts crossed the wire in both forms"
    );
}
