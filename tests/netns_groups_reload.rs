//! Sync groups and reload (SIGHUP) with real daemons.
//! Needs root; fails (does not skip) without it.

mod netns;

use std::time::Duration;

use netns::{ADV, Config, Router, STARTUP, Topology, VIP4, master_down, pair, takeover_bound, web};

const DB_VIP: &str = "198.51.100.100";

/// `web` on eth0 (front LAN) and `db` on eth1 (back LAN), in sync group `lb`.
fn front_and_back(priority: u8) -> Config {
    Config::new(vec![
        web(priority),
        Router::new("db", 52, priority, &["198.51.100.100/24"]).interface("eth1"),
    ])
    .sync_group("lb", &["web", "db"])
}

#[test]
fn a_sync_group_moves_its_routers_together() {
    let topo = Topology::builder("sync")
        .lans(2)
        .node("a", 11)
        .node("b", 12)
        .node("c", 200)
        .build();
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let da = a.start(&front_and_back(150));
    let _db = b.start(&front_and_back(100));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    topo.expect_holders(DB_VIP, &["a"], takeover_bound(150));

    // Only the back link of a fails; its front router follows its group to b.
    a.link_set(1, "down");
    let netlink_slack = Duration::from_secs(1);
    topo.expect_holders(DB_VIP, &["b"], netlink_slack + takeover_bound(100));
    topo.expect_holders(VIP4, &["b"], netlink_slack + takeover_bound(100));
    topo.expect_holders_stay(VIP4, &["b"], 5 * ADV);
    c.reach(&topo, VIP4, Duration::from_secs(2));
    assert!(
        !a.has_address(DB_VIP),
        "a released the back VIP from its downed eth1"
    );
    assert!(
        da.log_contains("fault"),
        "a logs the Fault:\n{}",
        da.log_tail(30)
    );

    // Back link restored: both come back to a together.
    a.link_set(1, "up");
    topo.expect_holders(VIP4, &["a"], netlink_slack + takeover_bound(150));
    topo.expect_holders(DB_VIP, &["a"], takeover_bound(150));
}

/// The control for the test above: without the group, only the router whose link
/// failed moves.
#[test]
fn without_a_sync_group_only_the_failed_router_moves() {
    let topo = Topology::builder("nosync")
        .lans(2)
        .node("a", 11)
        .node("b", 12)
        .build();
    let (a, b) = (topo.node("a"), topo.node("b"));
    let ungrouped = |priority| {
        let mut config = front_and_back(priority);
        config.sync_groups.clear();
        config
    };
    let _da = a.start(&ungrouped(150));
    let _db = b.start(&ungrouped(100));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    topo.expect_holders(DB_VIP, &["a"], takeover_bound(150));

    a.link_set(1, "down");
    topo.expect_holders(DB_VIP, &["b"], Duration::from_secs(1) + takeover_bound(100));
    topo.expect_holders_stay(VIP4, &["a"], takeover_bound(100));
}

#[test]
fn reload_keeps_the_vip_without_a_lost_ping_and_survives_a_bad_file() {
    let topo = pair("reload");
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let one = Config::one(web(150));
    let da = a.start(&one);
    let _db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    c.reach(&topo, VIP4, Duration::from_secs(2));
    let pinger = c.pinger(VIP4, Duration::from_millis(10));
    pinger.wait_answering(Duration::from_secs(1)).unwrap();

    // 1. Same file again: nothing may move.
    da.reload(&one.to_yaml());
    topo.expect_holders_stay(VIP4, &["a"], 5 * ADV);

    // 2. A router added: web untouched, the new one (no peer configures it) comes up.
    let vip2 = "192.0.2.101";
    let two = Config::new(vec![
        web(150),
        Router::new("api", 52, 150, &["192.0.2.101/24"]),
    ]);
    da.reload(&two.to_yaml());
    topo.expect_holders(vip2, &["a"], takeover_bound(150));
    topo.expect_holders_stay(VIP4, &["a"], 5 * ADV);

    // 3. A file that does not validate: logged, and the running config stays.
    let before = da.log().len();
    let bad = one.to_yaml().replace(
        "    vrid: 51\n",
        "    vrid: 51\n    bogus_key_for_test: 1\n",
    );
    assert_ne!(bad, one.to_yaml());
    da.reload(&bad);
    topo.expect_within(Duration::from_secs(2), "the bad file is logged", || {
        let log = da.log();
        log.len() > before && log[before..].contains("bogus_key_for_test")
    });
    topo.expect_holders_stay(VIP4, &["a"], 5 * ADV);
    assert!(
        a.has_address(vip2),
        "the old config (with api) is still running"
    );
    da.check_running().unwrap();

    // 4. The router removed again: it steps down and its VIP goes.
    da.reload(&one.to_yaml());
    topo.expect_within(master_down(150, ADV) * 3, "api's VIP removed", || {
        !a.has_address(vip2)
    });
    topo.expect_holders_stay(VIP4, &["a"], 3 * ADV);

    let report = pinger.stop();
    eprintln!("reloads: {report}");
    assert_eq!(
        report.lost_count(),
        0,
        "pings to the VIP across reloads: {report}"
    );

    // 5. A changed router is applied: a's priority drops below b's, b preempts.
    da.reload(&Config::one(web(90)).to_yaml());
    topo.expect_holders(VIP4, &["b"], takeover_bound(100));
    c.reach(&topo, VIP4, Duration::from_secs(2));
}
