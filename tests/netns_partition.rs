//! Which advertisements count: a partition (VRRP dropped by nftables between the two
//! routers) makes two masters and healing it leaves one; in unicast mode an
//! advertisement from a non-peer is ignored and counted.
//! Needs root; fails (does not skip) without it.

mod netns;

use std::net::IpAddr;
use std::time::Duration;

use netns::{ADV, Advert, Config, STARTUP, Topology, VIP4, pair, takeover_bound, web};

#[test]
fn partition_makes_two_masters_and_healing_leaves_one() {
    let topo = pair("partition");
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let _da = a.start(&Config::one(web(150)));
    let _db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));

    topo.partition_vrrp(a, b);
    topo.expect_holders(VIP4, &["a", "b"], takeover_bound(100));
    // Both masters advertise on their own for a while: long enough for a's one-off
    // repeat announcement (announce.repeat_after, default 2s after becoming master) to
    // be over, so that only the reaction to the heal can move the client back.
    topo.expect_holders_stay(VIP4, &["a", "b"], Duration::from_secs(2));
    // Say the client followed b during the split.
    c.reach(&topo, VIP4, Duration::from_secs(2));
    c.set_neighbour(VIP4, b.mac());

    // Heal: both drop rules go, back to back. Whichever hears the other first decides
    // how it resolves (a hears b's lower priority and re-announces, or b hears a,
    // yields and says so with priority 0, and a re-announces on hearing that); both
    // must leave one master within one advertisement interval (plus generous slack
    // for polling three namespaces) and bring the client back to a.
    b.clear_nft();
    a.clear_nft();
    let bound = ADV + Duration::from_millis(400);
    let took = topo.expect_holders(VIP4, &["a"], bound);
    eprintln!("partition healed: one master after {took:?} (advert interval {ADV:?})");
    // The client, still sent to b, must be brought back to a promptly (not after its
    // neighbour entry times out, nor at the next periodic refresh).
    let mut entry = None;
    let moved = topo.try_within(
        Duration::from_secs(1),
        "client's ARP entry points at a",
        || {
            entry = c.arp_entry(VIP4);
            entry.as_deref() == Some(a.mac())
        },
    );
    if let Err(e) = moved {
        panic!(
            "{e}: the client's entry for {VIP4} is {entry:?} (a is {}, b is {}). a is the \
             only master but has not re-announced since the heal",
            a.mac(),
            b.mac()
        );
    }
    c.reach(&topo, VIP4, Duration::from_secs(1));
    topo.expect_holders_stay(VIP4, &["a"], 5 * ADV);
}

/// a (.11) and b (.12) in unicast mode with each other; x (.66) is on the same LAN
/// but no peer of theirs.
fn unicast_trio(tag: &str) -> Topology {
    Topology::builder(tag)
        .node("a", 11)
        .node("b", 12)
        .node("x", 66)
        .node("c", 200)
        .build()
}

fn forged(priority: u8) -> Advert {
    Advert {
        vrid: 51,
        priority,
        interval_cs: 10,
        addresses: vec!["192.0.2.100".parse::<IpAddr>().unwrap()],
    }
}

#[test]
fn unicast_mode_ignores_and_counts_an_advert_from_a_non_peer() {
    let topo = unicast_trio("unicast");
    let (a, b, x, c) = (
        topo.node("a"),
        topo.node("b"),
        topo.node("x"),
        topo.node("c"),
    );
    let (ip_a, ip_b) = (a.ip4().to_string(), b.ip4().to_string());
    let da = a.start(&Config::one(web(150).unicast(&ip_a, &[&ip_b])));
    let db = b.start(&Config::one(web(100).unicast(&ip_b, &[&ip_a])));
    let listener = c.listen_vrrp(0);
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    topo.expect_holders_stay(VIP4, &["a"], 5 * ADV);
    assert!(
        listener.seen().is_empty(),
        "unicast mode sends no multicast: {:?}",
        listener.seen()
    );

    // x claims a higher priority to the master and "master leaving" to the backup, 25
    // times over half a second: heeded, either would move the VIP.
    for _ in 0..25 {
        x.send_advert(&ip_a, &forged(254));
        x.send_advert(&ip_b, &forged(0));
        std::thread::sleep(Duration::from_millis(20));
    }
    topo.expect_holders_stay(VIP4, &["a"], takeover_bound(100));
    let x_ip = x.ip4().to_string();
    for d in [&da, &db] {
        assert!(
            d.log_contains(&x_ip),
            "daemon {} does not mention the non-peer {x_ip} in its log:\n{}",
            d.name(),
            d.log_tail(30)
        );
    }
}

/// The control experiment for the test above: the same forged advertisement in
/// multicast mode is a legitimate higher-priority master, and the master yields to it.
#[test]
fn multicast_mode_heeds_the_same_forged_advert() {
    let topo = unicast_trio("forgectl");
    let (a, b, x) = (topo.node("a"), topo.node("b"), topo.node("x"));
    let _da = a.start(&Config::one(web(150)));
    let _db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    let mut released = false;
    for _ in 0..25 {
        x.send_advert("224.0.0.18", &forged(254));
        std::thread::sleep(Duration::from_millis(20));
        released |= topo.holders(VIP4).is_empty();
    }
    assert!(
        released,
        "a forged higher-priority master did not make a step down"
    );
    // Once x falls silent, a takes the VIP back.
    topo.expect_holders(VIP4, &["a"], takeover_bound(150));
}
