//! The announcement schedule is the core's: the gratuitous ARP / NA burst, its repeat
//! and its refresh are deadlines of the router, so every way out of Master cancels them.
//! Each test runs routers on a virtual clock, firing every deadline in order, and looks
//! at when each `Action::Announce` (one round) was emitted.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use floatip::proto::fsm::{Action, Event, Router, RouterConfig, State};
use floatip::proto::group::SyncGroup;
use floatip::proto::packet::{Advertisement, Auth, ChecksumForm, Version};
use floatip::proto::timers::{Centisecs, Instant};

const T0: Instant = Instant::from_epoch(Duration::from_secs(10));
const BURST_SPACING: Duration = Duration::from_millis(10);
const REPEAT: Duration = Duration::from_secs(2);
const REFRESH: Duration = Duration::from_secs(5);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

fn config(vrid: u8) -> RouterConfig {
    RouterConfig {
        vrid,
        version: Version::V3,
        priority: 100,
        advert_interval: Centisecs(100),
        preempt: true,
        preempt_delay: Duration::ZERO,
        accept_mode: true,
        primary_address: ip(10),
        addresses: vec![ip(100 + vrid)],
        prefix_lens: vec![24],
        announce_burst: 3,
        announce_burst_interval: BURST_SPACING,
        announce_repeat_after: Some(REPEAT),
        announce_refresh_every: Some(REFRESH),
        checksum_form: None,
        unicast_peers: None,
        hosts: None,
    }
}

/// An advertisement from 192.0.2.`src` for `vrid` at `priority`.
fn heard(vrid: u8, src: u8, priority: u8) -> Event {
    Event::Advert {
        src: ip(src),
        advert: Advertisement {
            version: Version::V3,
            vrid,
            priority,
            interval: Centisecs(100),
            addresses: vec![ip(100 + vrid)],
            auth: Auth::None,
        },
        form: ChecksumForm::WithPseudoHeader,
    }
}

fn announces(log: &[(Instant, Action)]) -> Vec<Instant> {
    log.iter()
        .filter(|(_, a)| *a == Action::Announce)
        .map(|(at, _)| *at)
        .collect()
}

/// Fire the router's deadlines in order up to `until`; if `master` is given, that
/// better master (source, priority) advertises every second from `from` on, so that a
/// backup stays backup.
fn run(
    router: &mut Router,
    from: Instant,
    until: Instant,
    master: Option<(u8, u8)>,
) -> Vec<(Instant, Action)> {
    let mut log = Vec::new();
    let mut next_advert = from;
    loop {
        let deadline = router.next_deadline();
        let advert_due = master.map(|_| next_advert);
        let now = match (deadline, advert_due) {
            (Some(d), Some(a)) => d.min(a),
            (Some(d), None) => d,
            (None, Some(a)) => a,
            (None, None) => break,
        };
        if now > until {
            break;
        }
        let actions = match master {
            Some((src, priority)) if now == next_advert => {
                next_advert = now + Duration::from_secs(1);
                router.step(heard(router.config().vrid, src, priority), now)
            }
            _ => router.step(Event::Timer, now),
        };
        log.extend(actions.into_iter().map(|a| (now, a)));
    }
    log
}

/// A router that became master at the returned time (its master-down ran out), with
/// the actions of that step.
fn master() -> (Router, Instant, Vec<Action>) {
    let mut router = Router::new(config(7));
    router.step(Event::Startup, T0);
    let at = router.next_deadline().expect("master-down deadline");
    let actions = router.step(Event::Timer, at);
    assert_eq!(router.state(), State::Master);
    (router, at, actions)
}

#[test]
fn the_burst_repeat_and_refresh_come_at_their_deadlines() {
    let (mut router, at, actions) = master();
    // One round at once, before the advertisement that makes a leaving master let go.
    let first = actions.iter().position(|a| *a == Action::Announce);
    let advert = actions
        .iter()
        .position(|a| matches!(a, Action::SendAdvert { .. }));
    assert!(first.is_some() && first < advert, "{actions:?}");
    assert_eq!(
        actions.iter().filter(|a| **a == Action::Announce).count(),
        1
    );
    let log = run(&mut router, at, at + Duration::from_secs(16), None);
    let burst = |start: Instant| vec![start, start + BURST_SPACING, start + 2 * BURST_SPACING];
    let mut expected = burst(at)[1..].to_vec();
    // The repeat is a whole burst again, then the refresh every REFRESH.
    expected.extend(burst(at + REPEAT));
    expected.extend(burst(at + REPEAT + REFRESH));
    expected.extend(burst(at + REPEAT + 2 * REFRESH));
    assert_eq!(announces(&log), expected);
    // The rounds of a burst come alone: nothing else is due then.
    for (when, action) in &log {
        if burst(at)[1..].contains(when) {
            assert_eq!(*action, Action::Announce, "at {when}");
        }
    }
}

#[test]
fn a_zero_spacing_sends_the_whole_burst_at_once() {
    let mut router = Router::new(RouterConfig {
        announce_burst_interval: Duration::ZERO,
        ..config(7)
    });
    router.step(Event::Startup, T0);
    let at = router.next_deadline().expect("master-down deadline");
    let actions = router.step(Event::Timer, at);
    assert_eq!(
        actions.iter().filter(|a| **a == Action::Announce).count(),
        3
    );
    assert!(router.next_deadline().is_some_and(|d| d > at));
}

/// Leave Master mid-burst (one round sent, two pending) by `leave`, then run for two
/// minutes of virtual time with the better master `master` advertising: no round of
/// gratuitous ARP / NA follows.
fn no_announce_after(
    leave: impl FnOnce(&mut Router, Instant) -> Vec<Action>,
    better: Option<(u8, u8)>,
    expect: State,
) {
    let (mut router, at, _) = master();
    let mid_burst = at + BURST_SPACING / 2;
    assert_eq!(
        router.snapshot().deadlines.announce_burst,
        Some(at + BURST_SPACING)
    );
    let actions = leave(&mut router, mid_burst);
    assert!(!actions.contains(&Action::Announce), "{actions:?}");
    assert_eq!(router.state(), expect);
    let log = run(
        &mut router,
        mid_burst + Duration::from_millis(1),
        mid_burst + Duration::from_secs(120),
        better,
    );
    assert_eq!(announces(&log), vec![], "{log:?}");
}

#[test]
fn no_announcement_after_yielding_to_a_better_master() {
    no_announce_after(
        |r, now| r.step(heard(7, 20, 200), now),
        Some((20, 200)),
        State::Backup,
    );
}

#[test]
fn no_announcement_after_a_fault() {
    no_announce_after(
        |r, now| r.step(Event::InterfaceDown, now),
        None,
        State::Fault,
    );
    no_announce_after(
        |r, now| {
            r.step(
                Event::Health {
                    weight: 0,
                    fault: true,
                },
                now,
            )
        },
        None,
        State::Fault,
    );
}

#[test]
fn no_announcement_after_shutdown_while_handing_over_or_after() {
    // Make-before-break: still Master while handing over, but silent on ARP / NA; the
    // handover ends by timeout within the run (nobody takes over).
    let (mut router, at, _) = master();
    let mid_burst = at + BURST_SPACING / 2;
    let actions = router.step(Event::Shutdown, mid_burst);
    assert!(!actions.contains(&Action::Announce));
    assert!(router.is_handing_over());
    // An address removed meanwhile is put back but not announced.
    let restored = router.step(Event::AddressesMissing(vec![ip(107)]), mid_burst);
    assert_eq!(restored, vec![Action::RestoreAddresses(vec![ip(107)])]);
    let log = run(
        &mut router,
        mid_burst,
        mid_burst + Duration::from_secs(120),
        None,
    );
    assert_eq!(announces(&log), vec![]);
    assert_eq!(router.state(), State::Stopped);
}

#[test]
fn no_announcement_after_the_sync_group_moves_to_backup() {
    let mut group = SyncGroup::new(vec![Router::new(config(1)), Router::new(config(2))]);
    group.step_all(&Event::Startup, T0);
    let at = group.next_deadline().expect("master-down");
    group.on_timer(at);
    let at = group.next_deadline().expect("member 1 master-down");
    group.on_timer(at);
    assert!(group.members().iter().all(|r| r.state() == State::Master));
    // Member 0 hears a better master mid-burst; member 1 follows it to Backup.
    let mid_burst = at + BURST_SPACING / 2;
    let actions = group.step(0, heard(1, 20, 200), mid_burst);
    assert!(actions.iter().any(|(m, a)| *m == 1
        && matches!(
            a,
            Action::Transition {
                to: State::Backup,
                ..
            }
        )));
    assert!(!actions.iter().any(|(_, a)| *a == Action::Announce));
    // Member 0's master keeps advertising; member 1's goes silent, so member 1 only
    // wants to be master and the group stays Backup.
    let mut log = Vec::new();
    let mut next_advert = mid_burst + Duration::from_secs(1);
    let until = mid_burst + Duration::from_secs(120);
    while let Some(deadline) = group.next_deadline() {
        let now = deadline.min(next_advert);
        if now > until {
            break;
        }
        let actions = if now == next_advert {
            next_advert = now + Duration::from_secs(1);
            group.step(0, heard(1, 20, 200), now)
        } else {
            group.on_timer(now)
        };
        log.extend(actions);
    }
    assert!(group.members().iter().all(|r| r.state() == State::Backup));
    assert!(!log.iter().any(|(_, a)| *a == Action::Announce), "{log:?}");
}

#[test]
fn the_refresh_runs_only_while_master_and_again_after_a_new_takeover() {
    let (mut router, at, _) = master();
    let log = run(&mut router, at, at + Duration::from_secs(30), None);
    let rounds = announces(&log);
    // Repeat at 2 s, then refreshes at 7, 12, 17, 22, 27 s: six bursts after the first.
    assert_eq!(rounds.len(), 2 + 6 * 3, "{rounds:?}");
    // Yield; while the better master is heard, nothing.
    let yielded = at + Duration::from_secs(30) + Duration::from_millis(500);
    router.step(heard(7, 20, 200), yielded);
    let log = run(
        &mut router,
        yielded,
        yielded + Duration::from_secs(60),
        Some((20, 200)),
    );
    assert_eq!(announces(&log), vec![]);
    // The master goes silent: we take over again and the schedule starts afresh.
    let quiet = yielded + Duration::from_secs(60);
    let log = run(&mut router, quiet, quiet + Duration::from_secs(10), None);
    assert_eq!(router.state(), State::Master);
    let took_over = log
        .iter()
        .find_map(|(t, a)| {
            matches!(
                a,
                Action::Transition {
                    to: State::Master,
                    ..
                }
            )
            .then_some(*t)
        })
        .expect("takeover");
    let rounds = announces(&log);
    assert_eq!(rounds.first(), Some(&took_over));
    assert!(rounds.contains(&(took_over + REPEAT)));
}

#[test]
fn a_master_whose_addresses_were_removed_restores_and_announces_them() {
    let (mut router, at, _) = master();
    let later = at + Duration::from_secs(1) + Duration::from_millis(1);
    let actions = router.step(Event::AddressesMissing(vec![ip(107), ip(200)]), later);
    // Only ours, then one round now and the rest of a burst later.
    assert_eq!(
        actions,
        vec![Action::RestoreAddresses(vec![ip(107)]), Action::Announce]
    );
    assert_eq!(
        router.snapshot().deadlines.announce_burst,
        Some(later + BURST_SPACING)
    );
    // A backup ignores it (the daemon does not even look, but the core decides).
    let mut backup = Router::new(config(7));
    backup.step(Event::Startup, T0);
    assert_eq!(
        backup.step(Event::AddressesMissing(vec![ip(107)]), T0),
        vec![]
    );
}

#[test]
fn a_master_reconfigured_with_new_addresses_reconciles_and_announces() {
    let (mut router, at, _) = master();
    let now = at + Duration::from_secs(1) + Duration::from_millis(1);
    // Only a prefix changes: re-added (the kernel keys by prefix) and announced, as new.
    let actions = router.reconfigure(
        RouterConfig {
            prefix_lens: vec![25],
            ..config(7)
        },
        now,
    );
    // Then the advertisement with the new list, at once (as for any change).
    let advert = Action::SendAdvert { priority: 100 };
    assert_eq!(
        actions,
        vec![Action::ReconcileAddresses, Action::Announce, advert.clone()]
    );
    // An address removed: reconciled, nothing new to announce.
    let actions = router.reconfigure(
        RouterConfig {
            addresses: vec![],
            prefix_lens: vec![],
            ..config(7)
        },
        now,
    );
    assert_eq!(actions, vec![Action::ReconcileAddresses, advert]);
    // A backup's addresses are not on the interface: nothing to do.
    let mut backup = Router::new(config(7));
    backup.step(Event::Startup, T0);
    let actions = backup.reconfigure(
        RouterConfig {
            addresses: vec![ip(150)],
            ..config(7)
        },
        T0,
    );
    assert_eq!(actions, vec![]);
}
