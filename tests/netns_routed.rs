//! Routed unicast peers (`unicast.max_hops`): two "zones" (192.0.2.0/24 and
//! 198.51.100.0/24) joined by a router namespace that forwards and so decrements the
//! TTL, one floatip node in each, and a client in a third subnet (203.0.113.0/25)
//! routed through the same router. The virtual address is a /32 on the master's
//! interface; the test's router reaches it by a static route the test switches to the
//! master (standing in for the BGP / cloud parts, which are not tested here).
//! Needs root; fails (does not skip) without it.

mod netns;

use std::time::Duration;

use netns::{Advert, Config, Daemon, Node, Router, STARTUP, Topology, takeover_bound};

/// The service address: outside both zones and outside the client's /25.
const VIP: &str = "203.0.113.100";
/// The router between the zones: .254 on each LAN.
const GW_ZONE1: &str = "192.0.2.254";
const GW_ZONE2: &str = "198.51.100.254";
const GW_CLIENT: &str = "203.0.113.254";
const A: &str = "192.0.2.11";
const B: &str = "198.51.100.12";

/// a and the stranger x in zone 1 (LAN 0), b in zone 2 (LAN 1), the client c in
/// 203.0.113.128/25 (LAN 2), the router r on all three with forwarding on.
fn zones(tag: &str) -> Topology {
    let topo = Topology::builder(tag)
        .lans(3)
        .node("a", 11)
        .node("b", 12)
        .node("x", 13)
        .node("c", 200)
        .node("r", 254)
        .build();
    netns::sysctl(&topo.node("r").ns, &[("net/ipv4/ip_forward", "1")]);
    only_on(topo.node("a"), 0, GW_ZONE1);
    only_on(topo.node("x"), 0, GW_ZONE1);
    only_on(topo.node("b"), 1, GW_ZONE2);
    only_on(topo.node("c"), 2, GW_CLIENT);
    // The client's own subnet is the upper /25, so the VIP (.100) is reached through
    // the router, like any address in another subnet.
    let c = topo.node("c");
    c.ip(&["addr", "flush", "dev", "eth2"]);
    c.ip(&["addr", "add", "203.0.113.200/25", "dev", "eth2"]);
    c.ip(&["route", "replace", "default", "via", GW_CLIENT]);
    // The zones reach each other through r only: a packet from a to b crosses one
    // router (TTL 255 -> 254).
    let a = topo.node("a");
    let b = topo.node("b");
    assert!(
        !a.ip(&["route", "get", B]).contains("dev eth1"),
        "a must not be on zone 2's link"
    );
    assert!(
        a.ping_once(B, Duration::from_secs(2)),
        "a cannot reach b through r"
    );
    assert!(
        b.ping_once(A, Duration::from_secs(2)),
        "b cannot reach a through r"
    );
    topo
}

/// Leaves `node` on LAN `lan` only, with its default route via `gateway`.
fn only_on(node: &Node, lan: usize, gateway: &str) {
    for other in (0..3).filter(|&l| l != lan) {
        let dev = format!("eth{other}");
        node.ip(&["addr", "flush", "dev", &dev]);
        node.ip(&["link", "set", "dev", &dev, "down"]);
    }
    node.ip(&["route", "replace", "default", "via", gateway]);
}

/// Router `svc` (vrid 51) of one node: the VIP as a /32 on its interface (a host
/// route: no subnet to share with the peer), unicast to `peer`.
fn svc(interface: &str, source: &str, peer: &str, priority: u8, max_hops: Option<u8>) -> String {
    let mut router = Router::new("svc", 51, priority, &[&format!("{VIP}/32")])
        .interface(interface)
        .unicast(source, &[peer]);
    if let Some(hops) = max_hops {
        router = router.max_hops(hops);
    }
    Config::one(router).to_yaml()
}

/// Sends the routed client's traffic for the VIP to `master` (the test's stand-in for
/// a route that follows the master), and checks that the client reaches it.
fn route_vip_to(topo: &Topology, master: &str) {
    topo.node("r")
        .ip(&["route", "replace", &format!("{VIP}/32"), "via", master]);
    topo.node("c").reach(topo, VIP, Duration::from_secs(3));
}

/// How many lines of a daemon's log contain `needle`.
fn count(daemon: &Daemon, needle: &str) -> usize {
    daemon.log().lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn routed_pair_elects_one_master_fails_over_and_keeps_strangers_out() {
    let topo = zones("routed");
    let (a, b, x) = (topo.node("a"), topo.node("b"), topo.node("x"));
    let da = a.spawn_floatip(&svc("eth0", A, B, 150, Some(1)));
    let db = b.spawn_floatip(&svc("eth1", B, A, 100, Some(1)));

    // One master, the higher priority, and no second one: b hears a across the router.
    topo.expect_holders(VIP, &["a"], STARTUP + takeover_bound(150));
    topo.expect_holders_stay(VIP, &["a"], Duration::from_secs(1));
    for (name, d) in [("a", &da), ("b", &db)] {
        assert_eq!(count(d, "reason=\"bad_ttl\""), 0, "{name} dropped for TTL");
        assert!(
            !d.log_contains("not on a subnet of this interface"),
            "{name}"
        );
    }
    route_vip_to(&topo, A);

    // A stranger in zone 1 claims the VIP with a higher priority, to a on its own link
    // (TTL 255) and to b across the router (TTL 254, within max_hops): both drop it as
    // not a peer, and nothing moves.
    let claim = Advert {
        vrid: 51,
        priority: 254,
        interval_cs: 10,
        addresses: vec![VIP.parse().expect("VIP")],
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while std::time::Instant::now() < deadline {
        x.send_advert(A, &claim);
        x.send_advert(B, &claim);
        assert_eq!(topo.holders(VIP), ["a"], "a stranger moved the VIP");
        std::thread::sleep(Duration::from_millis(50));
    }
    topo.expect_holders_stay(VIP, &["a"], takeover_bound(100));
    for (name, d) in [("a", &da), ("b", &db)] {
        topo.expect_within(
            Duration::from_secs(2),
            "stranger dropped as not_a_peer",
            || d.log_contains("reason=\"not_a_peer\"") || d.log_contains("reason=not_a_peer"),
        );
        assert_eq!(
            count(d, "bad_ttl"),
            0,
            "{name}: the stranger is within max_hops"
        );
    }

    // Crash of the master (the host goes away with its address): b takes over within
    // its master-down bound (generous), across the router.
    da.kill();
    a.link_down();
    let took = topo.expect_holders(VIP, &["b"], takeover_bound(100));
    eprintln!("routed failover after a crash: {took:?}");
    topo.expect_holders_stay(VIP, &["b"], Duration::from_secs(1));
    route_vip_to(&topo, B);
}

#[test]
fn same_link_rule_drops_routed_peers_as_ttl_and_says_how_to_fix_it() {
    let topo = zones("routed-ttl");
    let (a, b) = (topo.node("a"), topo.node("b"));
    // max_hops left at its default, 0: the RFC's rule.
    let da = a.spawn_floatip(&svc("eth0", A, B, 150, None));
    let db = b.spawn_floatip(&svc("eth1", B, A, 100, None));

    // Each drops the other's advertisements (TTL 254), so both become master.
    topo.expect_holders(VIP, &["a", "b"], STARTUP + takeover_bound(100));
    let hint = "set unicast.max_hops: 1";
    for (name, d, peer) in [("a", &da, B), ("b", &db, A)] {
        // At start, from the interface's addresses: the peer is off-link.
        assert!(
            d.log_contains(&format!(
                "unicast peer {peer} is not on a subnet of this interface"
            )),
            "{name}: no start-up warning about {peer}"
        );
        topo.expect_within(Duration::from_secs(2), "drops counted as bad_ttl", || {
            d.log_contains("bad_ttl")
        });
        topo.expect_within(Duration::from_secs(2), "the max_hops hint", || {
            d.log_contains(hint)
        });
    }
    // The drops go on (ten advertisements a second), the hint was said once.
    topo.expect_holders_stay(VIP, &["a", "b"], Duration::from_secs(1));
    for (name, d) in [("a", &da), ("b", &db)] {
        assert_eq!(count(d, hint), 1, "{name}: the hint is logged once");
    }
}
