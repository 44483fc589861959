//! A two-router failover on a virtual clock, driven through the real protocol core.
//!
//! `cargo run --example simulate [ADVERT_INTERVAL_MS]` prints who becomes master, what
//! fails, and when the backup takes over, with the protocol bounds next to the times.
//! No network is touched: this is the pure core, on the virtual time it is built for.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use floatip::proto::fsm::{Action, Event, Router, RouterConfig, State};
use floatip::proto::packet::{Advertisement, Auth, Version};
use floatip::proto::timers::{Centisecs, Instant};

struct Node {
    name: &'static str,
    router: Router,
    alive: bool,
}

fn node(name: &'static str, last_octet: u8, priority: u8, interval: Centisecs) -> Node {
    let config = RouterConfig {
        vrid: 51,
        version: Version::V3,
        priority,
        advert_interval: interval,
        preempt: true,
        preempt_delay: Duration::ZERO,
        accept_mode: true,
        primary_address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, last_octet)),
        addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))],
        announce_repeat_after: Some(Duration::from_secs(2)),
        announce_refresh_every: None,
    };
    Node {
        name,
        router: Router::new(config),
        alive: true,
    }
}

/// Carry out actions: print them, and deliver advertisements to the other live nodes
/// after the sender has carried out all of its actions (as a real network would).
fn execute(nodes: &mut [Node], from: usize, actions: Vec<Action>, now: Instant) {
    let mut in_flight = Vec::new();
    for action in actions {
        match action {
            Action::SendAdvert { priority } => {
                let config = nodes[from].router.config();
                let advert = Advertisement {
                    version: config.version,
                    vrid: config.vrid,
                    priority,
                    interval: config.advert_interval,
                    addresses: config.addresses.clone(),
                    auth: Auth::None,
                };
                in_flight.push((config.primary_address, advert));
            }
            Action::Transition {
                from: a,
                to,
                reason,
            } => {
                println!("{now}  {:<6} {a} -> {to}: {reason}", nodes[from].name);
            }
            Action::AddAddresses => println!("{now}  {:<6} adds 192.0.2.100", nodes[from].name),
            Action::RemoveAddresses => {
                println!("{now}  {:<6} removes 192.0.2.100", nodes[from].name)
            }
            _ => {}
        }
    }
    for (src, advert) in in_flight {
        for to in 0..nodes.len() {
            if to != from && nodes[to].alive {
                let event = Event::Advert {
                    src,
                    advert: advert.clone(),
                };
                let more = nodes[to].router.step(event, now);
                execute(nodes, to, more, now);
            }
        }
    }
}

/// Advance the virtual clock deadline by deadline until `until`.
fn run_until(nodes: &mut [Node], now: &mut Instant, until: Instant) {
    loop {
        let next = nodes
            .iter()
            .filter(|n| n.alive)
            .filter_map(|n| n.router.next_deadline())
            .min();
        match next {
            Some(t) if t <= until => {
                for i in 0..nodes.len() {
                    if nodes[i].alive && nodes[i].router.next_deadline() == Some(t) {
                        let actions = nodes[i].router.step(Event::Timer, t);
                        execute(nodes, i, actions, t);
                    }
                }
            }
            _ => break,
        }
    }
    *now = until;
}

fn main() {
    let interval_ms: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let Some(interval) = Centisecs::from_duration(Duration::from_millis(interval_ms)) else {
        eprintln!("advert interval must be 10..=40950 ms in steps of 10 ms");
        std::process::exit(2);
    };
    let mut nodes = vec![
        node("lb1", 11, 150, interval),
        node("lb2", 12, 100, interval),
    ];
    let mut now = Instant::ZERO;
    let down_lb2 = floatip::proto::timers::master_down_interval(100, interval);
    println!("advert interval {interval}; lb2 master_down_interval {down_lb2:?}\n");

    for i in 0..nodes.len() {
        let actions = nodes[i].router.step(Event::Startup, now);
        execute(&mut nodes, i, actions, now);
    }
    run_until(
        &mut nodes,
        &mut now,
        Instant::from_epoch(Duration::from_secs(10)),
    );

    // lb1 crashes right after an advertisement: the worst case for the backup.
    let crash_at = nodes[0].router.next_deadline().unwrap_or(now);
    run_until(&mut nodes, &mut now, crash_at);
    println!("{now}  lb1    CRASH (no priority 0 sent)");
    nodes[0].alive = false;
    let until = now + Duration::from_secs(10);
    run_until(&mut nodes, &mut now, until);
    report(&nodes, crash_at, "crash", down_lb2);

    // lb1 comes back and preempts; then it stops gracefully.
    nodes[0] = node("lb1", 11, 150, interval);
    let actions = nodes[0].router.step(Event::Startup, now);
    execute(&mut nodes, 0, actions, now);
    let until = now + Duration::from_secs(10);
    run_until(&mut nodes, &mut now, until);
    let stop_at = now;
    println!("{now}  lb1    graceful stop (SIGTERM)");
    let actions = nodes[0].router.step(Event::Shutdown, now);
    execute(&mut nodes, 0, actions, now);
    let until = now + Duration::from_secs(10);
    run_until(&mut nodes, &mut now, until);
    let skew = floatip::proto::timers::skew(100, interval);
    report(&nodes, stop_at, "graceful stop", skew);
}

fn report(nodes: &[Node], since: Instant, what: &str, bound: Duration) {
    let master = nodes
        .iter()
        .find(|n| n.alive && n.router.state() == State::Master)
        .map_or("nobody", |n| n.name);
    println!(
        "    after {what}: master is {master}; protocol bound for takeover {bound:?} after {since}\n"
    );
}
