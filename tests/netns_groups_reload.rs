//! Sync groups and reload (SIGHUP) with real daemons.
//! Needs root; fails (does not skip) without it.

mod netns;

use std::time::{Duration, Instant};

use netns::{
    ADV, Config, Daemon, Router, STARTUP, Topology, VIP4, master_down, pair, takeover_bound, web,
};

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
    let topo = netns::pair_on_two_lans("sync");
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
        da.log_since(before).contains("bogus_key_for_test")
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

/// Asserts that `daemon` logged no state change since byte `from` of its log.
#[track_caller]
fn assert_no_state_change_since(daemon: &Daemon, from: usize, when: &str) {
    let since = daemon.log_since(from);
    assert!(
        !since.contains("state change"),
        "{}: a state change {when}:\n{since}",
        daemon.name()
    );
}

/// Adding a VIP to the master's router and changing its priority (still the highest) is
/// applied in place: no state change on either side, the new VIP comes up on the master
/// only, the first VIP does not blink. Removing the VIP again takes it off the master,
/// again in place.
#[test]
fn reload_adding_then_removing_a_vip_keeps_the_master_in_place() {
    let topo = pair("reload-vip");
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let vip2 = "192.0.2.101";
    let web_two_vips =
        |priority| Router::new("web", 51, priority, &["192.0.2.100/24", "192.0.2.101/24"]);
    let da = a.start(&Config::one(web(150)));
    let db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    // Settled: a master and b backup, their start-up state changes logged.
    topo.expect_holders_stay(VIP4, &["a"], 3 * ADV);
    c.reach(&topo, VIP4, Duration::from_secs(2));
    let listener = c.listen_vrrp(0);
    let pinger = c.pinger(VIP4, Duration::from_millis(10));
    pinger.wait_answering(Duration::from_secs(1)).unwrap();

    // 1. a's router gains a second VIP and drops from 150 to 120 (still above b's 100).
    let (a_before, b_before) = (da.log().len(), db.log().len());
    let reloaded = Instant::now();
    da.reload(&Config::one(web_two_vips(120)).to_yaml());
    topo.expect_holders(vip2, &["a"], Duration::from_secs(2));
    topo.expect_within(Duration::from_secs(2), "a advertises priority 120", || {
        listener
            .from(a.ip4().into())
            .iter()
            .any(|s| s.at > reloaded && s.priority == 120)
    });
    assert!(
        da.log_since(a_before).contains("configuration changed"),
        "a applied the change in place:\n{}",
        da.log_since(a_before)
    );
    c.reach(&topo, vip2, Duration::from_secs(2));
    // The backup gets the same VIP list: it configures it but must not add it.
    db.reload(&Config::one(web_two_vips(100)).to_yaml());
    topo.expect_within(Duration::from_secs(2), "b applies its reload", || {
        db.log_since(b_before).contains("configuration changed")
    });
    topo.expect_holders_stay(vip2, &["a"], 5 * ADV);
    topo.expect_holders_stay(VIP4, &["a"], ADV);
    // After a's adverts at 120, nothing but a (.11) advertised: b never challenged it.
    let others: Vec<_> = listener
        .seen()
        .into_iter()
        .filter(|s| s.at > reloaded && s.src != std::net::IpAddr::from(a.ip4()))
        .collect();
    assert!(others.is_empty(), "only a advertises: {others:?}");
    assert_no_state_change_since(&da, a_before, "after adding a VIP");
    assert_no_state_change_since(&db, b_before, "after adding a VIP");

    // 2. The second VIP removed again (priority kept at 120).
    let (a_before, b_before) = (da.log().len(), db.log().len());
    da.reload(&Config::one(web(120)).to_yaml());
    topo.expect_within(Duration::from_secs(2), "a removes the second VIP", || {
        !a.has_address(vip2)
    });
    db.reload(&Config::one(web(100)).to_yaml());
    topo.expect_within(Duration::from_secs(2), "b applies its reload", || {
        db.log_since(b_before).contains("configuration changed")
    });
    topo.expect_holders_stay(VIP4, &["a"], 5 * ADV);
    assert!(topo.holders(vip2).is_empty(), "{vip2} is gone everywhere");
    assert_no_state_change_since(&da, a_before, "after removing a VIP");
    assert_no_state_change_since(&db, b_before, "after removing a VIP");

    // 3. Only the prefix length of the VIP changes: the /24 is replaced by the /25,
    // not left beside it (the kernel keys addresses by address and prefix).
    let a_before = da.log().len();
    da.reload(&Config::one(Router::new("web", 51, 120, &["192.0.2.100/25"])).to_yaml());
    let with_prefix = |prefix: &str| {
        a.ip(&["-o", "addr", "show", "dev", "eth0"])
            .contains(&format!("{VIP4}/{prefix} "))
    };
    topo.expect_within(Duration::from_secs(2), "a has the VIP as /25 only", || {
        with_prefix("25") && !with_prefix("24")
    });
    assert_no_state_change_since(&da, a_before, "after changing a VIP's prefix");

    let report = pinger.stop();
    eprintln!("VIP reloads: {report}");
    assert_eq!(
        report.lost_count(),
        0,
        "pings to {VIP4} across both reloads: {report}"
    );
}

#[test]
fn a_reload_whose_replacement_cannot_start_keeps_the_running_router() {
    let topo = pair("reload-keep");
    let (a, b) = (topo.node("a"), topo.node("b"));
    let da = a.start(&Config::one(web(150)));
    let db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    topo.expect_within(STARTUP, "b is backup", || db.log_contains("-> BACKUP"));

    // The interface changes to one that does not exist: the file validates (check does
    // not touch the network), the replacement cannot be opened. The running router must
    // go on as it was, not hand over and vanish.
    let before = da.log().len();
    da.reload(&Config::one(web(150).interface("nope0")).to_yaml());
    topo.expect_within(
        Duration::from_secs(2),
        "the failed replacement is logged",
        || da.log_since(before).contains("cannot start router"),
    );
    let log = da.log_since(before);
    assert!(
        log.contains("keeps its old configuration"),
        "the log says the old router stays:\n{log}"
    );
    topo.expect_holders_stay(VIP4, &["a"], 5 * ADV);
    assert_no_state_change_since(&da, before, "after the failed replacement");
    da.check_running().unwrap();
}
