//! Self-tests of the network-namespace kit (tests/netns/): the topology works, the
//! probes see what they should, and nothing is left behind, also after a panic.
//! Needs root; fails (does not skip) without it.

mod netns;

use std::net::IpAddr;
use std::time::Duration;

use netns::{Advert, Topology, leftover_namespaces};

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn nodes_on_a_bridge_reach_each_other_over_ipv4_and_ipv6_and_vanish_on_drop() {
    let topo = Topology::builder("topo-ping")
        .node("a", 11)
        .node("b", 12)
        .node("c", 100)
        .build();
    let prefix = topo.prefix().to_string();
    assert_eq!(
        leftover_namespaces(&prefix).len(),
        4,
        "a, b, c and the switch"
    );
    for from in topo.nodes() {
        for to in topo.nodes() {
            if from.role == to.role {
                continue;
            }
            for addr in [to.ip4().to_string(), to.ip6().to_string()] {
                assert!(
                    from.ping_once(&addr, SECOND),
                    "{} cannot ping {} at {addr}",
                    from.role,
                    to.role
                );
            }
        }
    }
    // Predictable names and addresses inside each namespace; IPv6 usable at once.
    let a = topo.node("a");
    assert!(a.has_address("192.0.2.11"));
    assert!(a.has_address("2001:db8::b"));
    assert!(a.has_usable_address_on(0, "2001:db8::b"));
    assert!(
        a.link_local_on(0).is_some(),
        "eth0 has a link-local address"
    );
    assert_eq!(
        a.exec_ok(&["cat", "/proc/sys/net/ipv6/conf/eth0/accept_dad"])
            .trim(),
        "0",
        "no DAD on the test interfaces"
    );
    assert!(!a.has_address("192.0.2.12"));
    assert_eq!(topo.holders("192.0.2.12"), vec!["b".to_string()]);
    // The client learnt a's MAC.
    let c = topo.node("c");
    assert_eq!(c.neighbour("192.0.2.11").as_deref(), Some(a.mac()));
    drop(topo);
    assert!(
        leftover_namespaces(&prefix).is_empty(),
        "left behind: {:?}",
        leftover_namespaces(&prefix)
    );
}

#[test]
fn a_panicking_test_still_cleans_up() {
    let mut prefix = String::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let topo = Topology::builder("topo-panic")
            .lans(2)
            .node("a", 11)
            .node("b", 12)
            .build();
        prefix = topo.prefix().to_string();
        let _sleeper = topo.node("a").spawn_process(&["sleep", "30"]);
        panic!("deliberate panic inside a topology");
    }));
    assert!(result.is_err(), "the closure panicked");
    assert!(!prefix.is_empty());
    assert!(
        leftover_namespaces(&prefix).is_empty(),
        "left behind: {:?}",
        leftover_namespaces(&prefix)
    );
}

#[test]
fn two_lans_give_eth0_and_eth1() {
    let topo = Topology::builder("topo-lans")
        .lans(2)
        .node("a", 11)
        .node("b", 12)
        .build();
    let (a, b) = (topo.node("a"), topo.node("b"));
    assert!(a.has_address("198.51.100.11"));
    assert!(a.ping_once(&b.ip4_on(1).to_string(), SECOND));
    assert!(a.ping_once(&b.ip6_on(1).to_string(), SECOND));
    // Taking eth1 down leaves eth0 working.
    b.link_set(1, "down");
    assert!(!a.ping_once(&b.ip4_on(1).to_string(), Duration::from_millis(300)));
    assert!(a.ping_once(&b.ip4().to_string(), SECOND));
}

#[test]
fn link_down_unplug_and_the_pinger_count_losses() {
    let topo = Topology::builder("topo-link")
        .node("a", 11)
        .node("c", 100)
        .build();
    let (a, c) = (topo.node("a"), topo.node("c"));
    let target = a.ip4().to_string();

    let clean = c.pinger(&target, Duration::from_millis(10));
    clean.wait_answering(SECOND).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let report = clean.stop();
    assert!(report.sent >= 15, "{report}");
    assert_eq!(report.lost_count(), 0, "{report}");

    let pinger = c.pinger(&target, Duration::from_millis(10));
    pinger.wait_answering(SECOND).unwrap();
    a.link_down();
    // The outage lasts as long as the fault; this sleep *is* the fault.
    std::thread::sleep(Duration::from_millis(300));
    a.link_up();
    pinger.wait_answering(2 * SECOND).unwrap();
    let report = pinger.stop();
    assert!(report.lost_count() >= 10, "{report}");
    assert!(
        report.longest_outage >= Duration::from_millis(250)
            && report.longest_outage < Duration::from_millis(2000),
        "{report}"
    );

    // Cable pulled at the switch: no carrier on a's eth0.
    a.unplug(&topo, 0);
    topo.expect_within(2 * SECOND, "a's eth0 loses carrier", || {
        a.ip(&["-o", "link", "show", "eth0"]).contains("NO-CARRIER")
    });
    assert!(!c.ping_once(&target, Duration::from_millis(200)));
    a.plug(&topo, 0);
    c.reach(&topo, &target, 2 * SECOND);
}

#[test]
fn forged_adverts_arrive_and_partition_rules_drop_them() {
    let topo = Topology::builder("topo-nft")
        .node("a", 11)
        .node("b", 12)
        .build();
    let (a, b) = (topo.node("a"), topo.node("b"));
    let advert = Advert {
        vrid: 51,
        priority: 200,
        interval_cs: 10,
        addresses: vec!["192.0.2.100".parse::<IpAddr>().unwrap()],
    };
    let advert6 = Advert {
        addresses: vec!["2001:db8::100".parse::<IpAddr>().unwrap()],
        ..advert.clone()
    };

    // First count without dropping, to show the forged packets reach a at all (for the
    // multicast ones, something on a must have joined the groups).
    let listener = a.listen_vrrp(0);
    a.nft(
        &[format!(
            "  meta l4proto 112 ether saddr {} counter accept",
            b.mac()
        )],
        &[],
    );
    b.send_advert("224.0.0.18", &advert);
    b.send_advert(&a.ip4().to_string(), &advert);
    b.send_advert("ff02::12", &advert6);
    if let Err(e) = topo.try_within(SECOND, "3 VRRP packets counted on a", || {
        a.nft_dropped() == 3
    }) {
        panic!("{e}:\n{}", a.exec_ok(&["nft", "list", "ruleset"]));
    }

    topo.expect_within(SECOND, "the listener saw all 3", || {
        listener.from(b.ip4().into()).len() == 2 && listener.seen().len() == 3
    });
    let seen = listener.seen();
    assert!(
        seen.iter()
            .all(|s| s.vrid == 51 && s.priority == 200 && s.interval_cs == 10),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|s| s.src == IpAddr::V6(b.link_local_on(0).unwrap())),
        "{seen:?}"
    );

    topo.partition_vrrp(a, b);
    b.send_advert("224.0.0.18", &advert);
    b.send_advert("ff02::12", &advert6);
    a.send_advert(&b.ip4().to_string(), &advert);
    topo.expect_within(SECOND, "dropped on a", || a.nft_dropped() == 2);
    topo.expect_within(SECOND, "dropped on b", || b.nft_dropped() == 1);
    // Other traffic still flows.
    assert!(a.ping_once(&b.ip4().to_string(), SECOND));
    topo.heal(a, b);
    assert!(a.exec_ok(&["nft", "list", "ruleset"]).trim().is_empty());
}

#[test]
fn process_helper_signals_and_logs() {
    let topo = Topology::builder("topo-proc").node("a", 11).build();
    let a = topo.node("a");
    let script = "trap 'echo got-hup' HUP; trap 'echo got-term; exit 3' TERM; \
                  echo started; while :; do sleep 0.01; done";
    let p = a.spawn_process(&["sh", "-c", script]);
    topo.expect_within(2 * SECOND, "process started", || p.log_contains("started"));
    p.hup();
    topo.expect_within(2 * SECOND, "SIGHUP seen", || p.log_contains("got-hup"));
    let status = p.term(2 * SECOND).unwrap();
    assert_eq!(status.code(), Some(3));
    assert!(p.log_contains("got-term"));

    // A process that dies on its own is noticed by the waits.
    let _q = a.spawn_process(&["sh", "-c", "echo bye; exit 7"]);
    let err = topo
        .try_within(2 * SECOND, "something that never happens", || false)
        .unwrap_err();
    assert!(
        err.contains("exited unexpectedly") && err.contains("bye"),
        "{err}"
    );
}
