//! Preemption with real daemons: failback with preempt on, none with preempt off, and
//! the preempt delay honoured. Needs root; fails (does not skip) without it.

mod netns;

use std::time::{Duration, Instant};

use netns::{ADV, Config, STARTUP, VIP4, master_down, pair, takeover_bound, web};

#[test]
fn failback_with_preempt_on() {
    let topo = pair("failback");
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let da = a.start(&Config::one(web(150)));
    let _db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    da.term(Duration::from_secs(5)).unwrap();
    topo.expect_holders(VIP4, &["b"], takeover_bound(100));

    let _da2 = a.start(&Config::one(web(150)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    topo.expect_holders_stay(VIP4, &["a"], 5 * ADV);
    c.reach(&topo, VIP4, Duration::from_secs(2));
    assert_eq!(c.arp_entry(VIP4).as_deref(), Some(a.mac()));
}

#[test]
fn no_failback_with_preempt_off() {
    let topo = pair("nopreempt");
    let (a, b) = (topo.node("a"), topo.node("b"));
    let config = |priority| Config::one(web(priority).preempt(false));
    let da = a.start(&config(150));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    let db = b.start(&config(100));
    // b, started second, stays backup; then a leaves and b takes over.
    topo.expect_within(STARTUP, "b logs that it is backup", || {
        db.log_contains("backup")
    });
    da.term(Duration::from_secs(5)).unwrap();
    topo.expect_holders(VIP4, &["b"], takeover_bound(100));

    let da2 = a.start(&config(150));
    topo.expect_within(STARTUP, "the restarted a logs that it is backup", || {
        da2.log_contains("backup")
    });
    // a hears b's lower priority but, not preempting, leaves it the VIP: well past the
    // point where a preempting a would have taken over.
    topo.expect_holders_stay(VIP4, &["b"], 3 * master_down(150, ADV));
}

#[test]
fn preempt_delay_is_honoured() {
    let topo = pair("pdelay");
    let (a, b) = (topo.node("a"), topo.node("b"));
    let delay = Duration::from_secs(1);
    let _db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["b"], STARTUP + takeover_bound(100));

    let t0 = Instant::now();
    let _da = a.start(&Config::one(web(150).preempt_delay(delay)));
    topo.expect_holders(VIP4, &["a"], STARTUP + delay + takeover_bound(150));
    let took = t0.elapsed();
    eprintln!("preempt delay {delay:?}: a took over {took:?} after it was started");
    assert!(
        took >= delay,
        "a preempted after {took:?}, before its preempt delay of {delay:?}"
    );
    topo.expect_holders_stay(VIP4, &["a"], 5 * ADV);
}
