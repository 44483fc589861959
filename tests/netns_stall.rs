//! Order of events after a stall: a backup whose event loop was stopped (SIGSTOP here;
//! a VM pause or a slow step in production) while the master's advertisements kept
//! arriving must count those advertisements as received when they arrived, not take
//! over because its master-down deadline passed while it was not looking; and one whose
//! master died during the stall still takes over.
//! Needs root; fails (does not skip) without it.

mod netns;

use std::net::IpAddr;
use std::time::Duration;

use nix::sys::signal::Signal;

use netns::{ADV, Config, STARTUP, VIP4, master_down, matching_lines, pair, takeover_bound, web};

/// Longer than master_down (about 0.36 s at 100 ms adverts), so that the backup's
/// deadline has long passed when it resumes, and with about ten of the master's
/// advertisements queued on its socket.
const STALL: Duration = Duration::from_secs(1);

#[test]
fn a_backup_resumed_after_a_stall_keeps_following_a_healthy_master() {
    let topo = pair("stall");
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let da = a.start(&Config::one(web(150)));
    let db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    topo.expect_within(takeover_bound(100), "b logs its Backup state", || {
        db.log_contains("-> BACKUP")
    });
    // Settled: b has been following a's advertisements for a while.
    topo.expect_holders_stay(VIP4, &["a"], 3 * ADV);

    let announcements = c.listen_arp();
    let adverts = c.listen_vrrp(0);
    let log_before = db.log().len();
    db.signal(Signal::SIGSTOP);
    // The stall itself (not a wait for a condition): b's loop does not run for this long.
    std::thread::sleep(STALL);
    db.signal(Signal::SIGCONT);

    // b runs again. Three of its master-down intervals are plenty for it to act on the
    // expired deadline and on the queued advertisements, whatever the order.
    topo.expect_holders_stay(VIP4, &["a"], 3 * master_down(100, ADV));
    db.check_running().unwrap_or_else(|e| panic!("{e}"));

    // Every finding at once, so that a failure shows the whole story.
    let mut wrong = Vec::new();
    let transitions = matching_lines(&db.log_since(log_before), &["state change"]);
    if !transitions.is_empty() {
        wrong.push(format!("b changed state: {transitions:#?}"));
    }
    let garps = announcements.from(b.mac());
    if !garps.is_empty() {
        wrong.push(format!(
            "b sent {} gratuitous ARP for {:?}",
            garps.len(),
            garps.iter().map(|g| g.address).collect::<Vec<_>>()
        ));
    }
    let b_adverts = adverts.from(IpAddr::V4(b.ip4()));
    if !b_adverts.is_empty() {
        wrong.push(format!(
            "b advertised (priorities {:?}); only a master does",
            b_adverts.iter().map(|s| s.priority).collect::<Vec<_>>()
        ));
    }
    assert!(
        wrong.is_empty(),
        "after a {STALL:?} stall, although a's advertisements kept arriving:\n{}",
        wrong.join("\n")
    );
    // The listeners work: a's advertisements were seen all along.
    assert!(
        !adverts.from(IpAddr::V4(a.ip4())).is_empty(),
        "no advertisement of a seen by the client: the listener is broken"
    );
    // And the ARP listener would have seen b's announcements: b, taking over from a
    // crashed a, announces the VIP.
    da.kill();
    a.link_down();
    topo.expect_holders(VIP4, &["b"], takeover_bound(100));
    topo.expect_within(
        Duration::from_secs(1),
        "the client sees b's gratuitous ARP",
        || !announcements.from(b.mac()).is_empty(),
    );
}

#[test]
fn a_backup_resumed_after_a_stall_takes_over_from_a_master_that_died_during_it() {
    let topo = pair("stalldead");
    let (a, b) = (topo.node("a"), topo.node("b"));
    let da = a.start(&Config::one(web(150)));
    let db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    topo.expect_within(takeover_bound(100), "b logs its Backup state", || {
        db.log_contains("-> BACKUP")
    });
    topo.expect_holders_stay(VIP4, &["a"], 3 * ADV);

    db.signal(Signal::SIGSTOP);
    // a's advertisements queue on b's socket for a while, then stop: the last one is
    // more than master_down old when b resumes.
    std::thread::sleep(STALL / 4);
    da.kill();
    a.link_down();
    std::thread::sleep(STALL - STALL / 4);
    db.signal(Signal::SIGCONT);

    // The queued advertisements do not hide that a is gone: b takes over as it would
    // have without the stall (the usual generous bound of three master_down intervals).
    topo.expect_within(takeover_bound(100), "b holds the VIP", || {
        b.has_address(VIP4)
    });
    topo.expect_within(Duration::from_secs(1), "b logs its Master state", || {
        db.log_contains("-> MASTER")
    });
}
