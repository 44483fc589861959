//! Failover scenarios with real `floatip run` daemons in network namespaces: election,
//! crash, graceful stop, interface fault, three nodes, IPv6.
//! Needs root; fails (does not skip) without it. Timers: advert interval 100 ms, so
//! master_down is about 0.36 s; bounds are three master-down intervals.

mod netns;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use netns::{ADV, Config, STARTUP, VIP4, VIP6, master_down, pair, takeover_bound, web, web6};

#[test]
fn two_nodes_elect_the_higher_priority() {
    let topo = pair("elect");
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    // b is started first and given the head start: a must still win.
    let _db = b.start(&Config::one(web(100)));
    let _da = a.start(&Config::one(web(150)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    topo.expect_holders_stay(VIP4, &["a"], 5 * ADV);
    c.reach(&topo, VIP4, Duration::from_secs(2));
    assert_eq!(
        c.arp_entry(VIP4).as_deref(),
        Some(a.mac()),
        "client's ARP entry for the VIP"
    );
}

#[test]
fn equal_priority_is_won_by_the_higher_address() {
    let topo = pair("tie");
    let (a, b) = (topo.node("a"), topo.node("b"));
    // Both become master while they cannot hear each other; once they can, the tie
    // between equal priorities goes to the higher primary address: b (.12) over a (.11).
    topo.partition_vrrp(a, b);
    let _da = a.start(&Config::one(web(100)));
    let _db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a", "b"], STARTUP + takeover_bound(100));
    topo.heal(a, b);
    topo.expect_holders(VIP4, &["b"], 3 * master_down(100, ADV));
    topo.expect_holders_stay(VIP4, &["b"], 5 * ADV);
}

#[test]
fn crash_of_the_master_moves_the_vip_to_the_backup() {
    let topo = pair("crash");
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let da = a.start(&Config::one(web(150)));
    let _db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    c.reach(&topo, VIP4, Duration::from_secs(2));
    let pinger = c.pinger(VIP4, Duration::from_millis(10));
    pinger.wait_answering(Duration::from_secs(1)).unwrap();

    let t0 = Instant::now();
    da.kill();
    a.link_down();
    let t1 = Instant::now();
    topo.expect_within(takeover_bound(100), "b holds the VIP", || {
        b.has_address(VIP4)
    });
    let took = t0.elapsed();
    pinger.wait_answering(takeover_bound(100)).unwrap();
    let answered = t0.elapsed();
    let report = pinger.stop();
    let outage = report.answered_again(t0, t1);
    eprintln!(
        "crash: outage seen by the client {outage:?}; b holds the VIP {took:?} after SIGKILL + link down, client answered again \
         after {answered:?} (master_down {:?}); {report}",
        master_down(100, ADV)
    );
    assert!(
        took >= master_down(100, ADV) - ADV,
        "b took over before a could have been missed"
    );
    assert_eq!(
        c.arp_entry(VIP4).as_deref(),
        Some(b.mac()),
        "client's ARP entry for the VIP"
    );
}

#[test]
fn graceful_stop_hands_over_without_a_lost_ping() {
    let topo = pair("graceful");
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let da = a.start(&Config::one(web(150)));
    let _db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    let listener = c.listen_vrrp(0);
    c.reach(&topo, VIP4, Duration::from_secs(2));
    let pinger = c.pinger(VIP4, Duration::from_millis(10));
    pinger.wait_answering(Duration::from_secs(1)).unwrap();

    let status = da.term(Duration::from_secs(5)).unwrap();
    assert!(status.success(), "floatip exits 0 on SIGTERM, got {status}");
    topo.expect_holders(VIP4, &["b"], takeover_bound(100));
    // Keep pinging the new master a little.
    pinger.wait_answering(Duration::from_secs(1)).unwrap();
    std::thread::sleep(3 * ADV);
    let report = pinger.stop();
    eprintln!("graceful stop: {report}");
    assert_eq!(report.lost_count(), 0, "make-before-break: {report}");
    let a_src = IpAddr::V4(a.ip4());
    assert!(
        listener.from(a_src).iter().any(|s| s.priority == 0),
        "a sent priority 0 when leaving; saw {:?}",
        listener
            .from(a_src)
            .iter()
            .map(|s| s.priority)
            .collect::<Vec<_>>()
    );
    assert_eq!(c.arp_entry(VIP4).as_deref(), Some(b.mac()));
}

#[test]
fn interface_down_on_the_master_is_a_fault_and_the_backup_takes_over() {
    let topo = pair("fault");
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let da = a.start(&Config::one(web(150)));
    let _db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));

    a.link_down();
    // Netlink may report the link change up to about a second late.
    let netlink_slack = Duration::from_secs(1);
    topo.expect_within(takeover_bound(100), "b holds the VIP", || {
        b.has_address(VIP4)
    });
    c.reach(&topo, VIP4, Duration::from_secs(2));
    topo.expect_within(
        netlink_slack + takeover_bound(150),
        "a releases the VIP",
        || !a.has_address(VIP4),
    );
    topo.expect_within(Duration::from_secs(1), "a logs its Fault state", || {
        da.log_contains("fault")
    });

    // Link back: a leaves Fault, rejoins as backup and, preempting, takes the VIP back.
    a.link_up();
    topo.expect_holders(VIP4, &["a"], netlink_slack + takeover_bound(150));
    c.reach(&topo, VIP4, Duration::from_secs(2));
}

#[test]
fn three_nodes_fail_over_in_priority_order() {
    let topo = netns::Topology::builder("three")
        .node("a", 11)
        .node("b", 12)
        .node("c", 13)
        .node("d", 200)
        .build();
    let (a, b, c, client) = (
        topo.node("a"),
        topo.node("b"),
        topo.node("c"),
        topo.node("d"),
    );
    // Priorities far apart: the skew times of b and c differ by 74 ms at 100 ms
    // adverts, so b's first advertisement as master reaches c long before c's own
    // timer could run out, even on a loaded machine.
    let da = a.start(&Config::one(web(250)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(250));
    let db = b.start(&Config::one(web(200)));
    let dc = c.start(&Config::one(web(10)));
    topo.expect_within(STARTUP, "b and c are backups", || {
        db.log_contains("-> BACKUP") && dc.log_contains("-> BACKUP")
    });
    topo.expect_holders_stay(VIP4, &["a"], 5 * ADV);

    let mark = dc.log().len();
    da.kill();
    a.link_down();
    // b, with the shorter skew, wins over c; c follows b from its first advertisement
    // (the master it followed is silent) and never takes over, not even briefly.
    topo.expect_holders(VIP4, &["b"], takeover_bound(200));
    topo.expect_holders_stay(VIP4, &["b"], 5 * ADV);
    let after = dc.log_since(mark);
    assert!(
        !after.contains("-> MASTER"),
        "c became master next to b:\n{after}"
    );
    client.reach(&topo, VIP4, Duration::from_secs(2));

    db.term(Duration::from_secs(5)).unwrap();
    topo.expect_holders(VIP4, &["c"], takeover_bound(10));
    client.reach(&topo, VIP4, Duration::from_secs(2));
    assert_eq!(client.arp_entry(VIP4).as_deref(), Some(c.mac()));
}

#[test]
fn an_ipv6_vip_fails_over() {
    let topo = pair("ipv6");
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let da = a.start(&Config::one(web6(150)));
    let _db = b.start(&Config::one(web6(100)));
    topo.expect_holders(VIP6, &["a"], STARTUP + takeover_bound(150));
    assert!(
        a.has_usable_address_on(0, VIP6),
        "the IPv6 VIP is not tentative"
    );
    c.reach(&topo, VIP6, Duration::from_secs(2));
    assert_eq!(c.neighbour(VIP6).as_deref(), Some(a.mac()));

    da.kill();
    a.link_down();
    topo.expect_within(takeover_bound(100), "b holds the IPv6 VIP", || {
        b.has_address(VIP6)
    });
    c.reach(&topo, VIP6, takeover_bound(100));
    assert_eq!(
        c.neighbour(VIP6).as_deref(),
        Some(b.mac()),
        "client's neighbour entry"
    );
}

/// The figure for the closing note: SIGKILL + link down of the master to the
/// VIP answering the client again, over 10 runs. Not part of the suite:
/// `cargo test --test netns_failover -- --ignored --nocapture failover_figures`.
#[test]
#[ignore = "benchmark: run on demand"]
fn failover_figures() {
    let runs = 10;
    let mut outages = Vec::new();
    for run in 0..runs {
        let topo = pair("figures");
        let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
        let da = a.start(&Config::one(web(150)));
        let _db = b.start(&Config::one(web(100)));
        topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
        c.reach(&topo, VIP4, Duration::from_secs(2));
        let pinger = c.pinger(VIP4, Duration::from_millis(1));
        pinger.wait_answering(Duration::from_secs(1)).unwrap();
        // Let b settle on a's adverts.
        std::thread::sleep(5 * ADV);
        let t0 = Instant::now();
        da.kill();
        a.link_down();
        let t1 = Instant::now();
        pinger.wait_answering(takeover_bound(100)).unwrap();
        std::thread::sleep(2 * ADV);
        let report = pinger.stop();
        let outage = report.answered_again(t0, t1).expect("answered again");
        eprintln!("run {run}: answered again {outage:?} after the crash; {report}");
        outages.push(outage);
    }
    outages.sort();
    let median = (outages[runs / 2 - 1] + outages[runs / 2]) / 2;
    eprintln!(
        "failover over {runs} runs (ping every 1 ms): min {:?} median {median:?} max {:?}; \
         protocol bound 3 x adv + skew = {:?}",
        outages[0],
        outages[runs - 1],
        master_down(100, ADV)
    );
}

#[test]
fn a_vip_removed_by_someone_else_is_put_back_while_master() {
    let topo = pair("readd");
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let da = a.start(&Config::one(web(150)));
    let _db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));

    // An operator (or networkd, or NetworkManager) deletes the address under us.
    a.exec_ok(&["ip", "addr", "del", &format!("{VIP4}/24"), "dev", "eth0"]);
    topo.expect_within(Duration::from_secs(2), "a puts the VIP back", || {
        a.has_address(VIP4)
    });
    topo.expect_within(Duration::from_secs(1), "a says why", || {
        da.log_contains("removed by someone else")
    });
    // Nobody changed state over it, and the client still reaches the VIP on a.
    topo.expect_holders_stay(VIP4, &["a"], 5 * ADV);
    c.reach(&topo, VIP4, Duration::from_secs(2));
    assert_eq!(c.arp_entry(VIP4).as_deref(), Some(a.mac()));
}

/// accept_mode: false (RFC 9568 §6.4.3): a non-owner master holds the VIP, answers ARP
/// for it, but drops packets addressed to it; the rule goes with the mastership.
#[test]
fn accept_mode_off_drops_traffic_to_the_vip_while_master() {
    let topo = pair("accept");
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let da = a.start(&Config::one(web(150).with("accept_mode: false")));
    let _db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    // The master itself is reachable, the VIP on it is not; ARP for it still resolves.
    c.reach(&topo, &a.ip4().to_string(), Duration::from_secs(2));
    topo.expect_within(
        Duration::from_secs(1),
        "nftables drops the VIP on a",
        || {
            let set = a.exec(&["nft", "list", "set", "inet", "floatip", "block4"]);
            String::from_utf8_lossy(&set.stdout).contains(VIP4)
        },
    );
    for _ in 0..5 {
        assert!(
            !c.ping_once(VIP4, Duration::from_millis(100)),
            "a answered on {VIP4} with accept_mode off"
        );
    }
    assert_eq!(c.arp_entry(VIP4).as_deref(), Some(a.mac()));

    // b, with the default accept_mode on, serves the VIP once a is gone; a's graceful
    // stop removes its table.
    let status = da.term(Duration::from_secs(5)).expect("a stops");
    assert!(status.success(), "{status}");
    topo.expect_holders(VIP4, &["b"], takeover_bound(100));
    c.reach(&topo, VIP4, Duration::from_secs(2));
    assert!(
        !a.exec_ok(&["nft", "list", "tables"]).contains("floatip"),
        "a left its nftables table behind"
    );
}
