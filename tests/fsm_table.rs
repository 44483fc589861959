//! Table test of the state machine: every (state, event) pair, with the actions and the
//! resulting state written out by hand from RFC 9568 §6 and DESIGN.md §2.
//!
//! "Every" is checked, not claimed: `In::of` and `EventKind::of` match every `State` and
//! `Event` variant without a wildcard (a new variant does not compile until it is
//! classified), and `every_state_event_pair` fails while some (situation, event kind)
//! pair has no row.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use floatip::proto::fsm::{Action, Discard, Event, Reason, Router, RouterConfig, State};
use floatip::proto::packet::{Advertisement, Auth, ChecksumForm, Version};
use floatip::proto::timers::{Centisecs, Instant};

const T0: Instant = Instant::from_epoch(Duration::from_secs(10));
/// master_down_interval at priority 100, 1 s: 3 s + 156/256 s.
const MASTER_DOWN_100: Duration = Duration::from_micros(3_609_375);
/// skew at priority 100, 1 s.
const SKEW_100: Duration = Duration::from_micros(609_375);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

fn config() -> RouterConfig {
    RouterConfig {
        vrid: 7,
        version: Version::V3,
        priority: 100,
        advert_interval: Centisecs(100),
        preempt: true,
        preempt_delay: Duration::ZERO,
        accept_mode: true,
        primary_address: ip(10),
        addresses: vec![ip(100)],
        prefix_lens: vec![24],
        announce_burst: 1,
        announce_burst_interval: Duration::ZERO,
        announce_repeat_after: Some(Duration::from_secs(2)),
        announce_refresh_every: None,
        checksum_form: None,
        unicast_peers: None,
        hosts: None,
    }
}

fn advert(priority: u8) -> Advertisement {
    Advertisement {
        version: Version::V3,
        vrid: 7,
        priority,
        interval: Centisecs(100),
        addresses: vec![ip(100)],
        auth: Auth::None,
    }
}

/// The one place this file builds an `Event::Advert` (a field added to it is a one-line
/// change here).
fn advert_from(src: IpAddr, advert: Advertisement) -> Event {
    Event::Advert {
        src,
        advert,
        form: ChecksumForm::WithPseudoHeader,
    }
}

fn heard(src: u8, priority: u8) -> Event {
    advert_from(ip(src), advert(priority))
}

fn transition(from: State, to: State, reason: Reason) -> Action {
    Action::Transition { from, to, reason }
}

fn send(priority: u8) -> Action {
    Action::SendAdvert { priority }
}

/// A router in a given state, and the time it reached it.
struct Setup {
    router: Router,
    at: Instant,
}

fn init_with(config: RouterConfig) -> Setup {
    Setup {
        router: Router::new(config),
        at: T0,
    }
}

fn init() -> Setup {
    init_with(config())
}

fn backup_with(config: RouterConfig) -> Setup {
    let mut s = init_with(config);
    let actions = s.router.step(Event::Startup, s.at);
    assert_eq!(
        actions,
        vec![transition(
            State::Initialize,
            State::Backup,
            Reason::Startup
        )]
    );
    s
}

fn backup() -> Setup {
    backup_with(config())
}

/// A configured pair (`hosts: 2`): the only backup there can be.
fn pair_config() -> RouterConfig {
    RouterConfig {
        hosts: Some(2),
        ..config()
    }
}

fn master_with(config: RouterConfig) -> Setup {
    let mut s = backup_with(config);
    let at = s
        .router
        .next_deadline()
        .expect("backup has a master-down timer");
    let actions = s.router.step(Event::Timer, at);
    assert!(actions.contains(&Action::AddAddresses), "{actions:?}");
    assert_eq!(s.router.state(), State::Master);
    Setup {
        router: s.router,
        at,
    }
}

fn master() -> Setup {
    master_with(config())
}

fn handing_over() -> Setup {
    let mut s = master();
    assert_eq!(s.router.step(Event::Shutdown, s.at), vec![send(0)]);
    assert!(s.router.is_handing_over());
    s
}

fn fault() -> Setup {
    let mut s = backup();
    s.router.step(Event::InterfaceDown, s.at);
    assert_eq!(s.router.state(), State::Fault);
    s
}

fn stopped() -> Setup {
    let mut s = backup();
    s.router.step(Event::Shutdown, s.at);
    assert_eq!(s.router.state(), State::Stopped);
    s
}

/// Defines an enum and `ALL`, every variant in declaration order, from one list: a
/// variant cannot be added without being in `ALL`.
macro_rules! listed_enum {
    ($(#[$meta:meta])* enum $name:ident { $($variant:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        enum $name { $($variant),* }
        impl $name {
            const ALL: &'static [$name] = &[$($name::$variant),*];
        }
    };
}

listed_enum! {
    /// Where a row starts: every state, Backup split in two (one of several possible
    /// backups, and the only one of a configured pair) and Master split in two
    /// (serving, and handing over after Shutdown), which react differently.
    enum In { Init, Backup, PairBackup, Master, HandingOver, Fault, Stopped }
}

listed_enum! {
    /// The kinds of `Event`, without their data.
    enum EventKind {
        Startup, Shutdown, Timer, Advert, InterfaceDown, InterfaceUp, Health, GroupMaster,
        GroupBackup, GroupFault, AddressesMissing,
    }
}

impl In {
    /// The situations of a state. Exhaustive, no wildcard: a new `State` fails to
    /// compile here until it has a situation, and `every_state_event_pair` then fails
    /// until that situation has a row for every event kind.
    fn of(state: State) -> &'static [In] {
        match state {
            State::Initialize => &[In::Init],
            State::Backup => &[In::Backup, In::PairBackup],
            State::Master => &[In::Master, In::HandingOver],
            State::Fault => &[In::Fault],
            State::Stopped => &[In::Stopped],
        }
    }

    fn setup(self) -> Setup {
        match self {
            In::Init => init(),
            In::Backup => backup(),
            In::PairBackup => backup_with(pair_config()),
            In::Master => master(),
            In::HandingOver => handing_over(),
            In::Fault => fault(),
            In::Stopped => stopped(),
        }
    }

    fn state(self) -> State {
        match self {
            In::Init => State::Initialize,
            In::Backup | In::PairBackup => State::Backup,
            In::Master | In::HandingOver => State::Master,
            In::Fault => State::Fault,
            In::Stopped => State::Stopped,
        }
    }
}

impl EventKind {
    /// Exhaustive, no wildcard: a new `Event` variant fails to compile here until it
    /// has a kind, and `every_state_event_pair` then fails until every situation has a
    /// row for it.
    fn of(event: &Event) -> EventKind {
        match event {
            Event::Startup => EventKind::Startup,
            Event::Shutdown => EventKind::Shutdown,
            Event::Timer => EventKind::Timer,
            Event::Advert { .. } => EventKind::Advert,
            Event::InterfaceDown => EventKind::InterfaceDown,
            Event::InterfaceUp => EventKind::InterfaceUp,
            Event::Health { .. } => EventKind::Health,
            Event::GroupMaster => EventKind::GroupMaster,
            Event::GroupBackup => EventKind::GroupBackup,
            Event::GroupFault(_) => EventKind::GroupFault,
            Event::AddressesMissing(_) => EventKind::AddressesMissing,
        }
    }
}

#[derive(Clone)]
struct Row {
    name: String,
    situation: In,
    event: Event,
    /// Delay after reaching the state; `None` means "at the next deadline".
    after: Option<Duration>,
    actions: Vec<Action>,
    state: State,
}

fn row(name: &'static str, situation: In, event: Event, actions: Vec<Action>, state: State) -> Row {
    Row {
        name: name.to_owned(),
        situation,
        event,
        after: Some(Duration::from_millis(1)),
        actions,
        state,
    }
}

fn at_deadline(mut r: Row) -> Row {
    r.after = None;
    r
}

/// Our address (and one that is not ours) are gone from the interface.
fn missing() -> Event {
    Event::AddressesMissing(vec![ip(100), ip(99)])
}

fn health(weight: i32, fault: bool) -> Event {
    Event::Health { weight, fault }
}

fn table() -> Vec<Row> {
    let mut rows = rfc_table();
    // The only backup of a pair reacts to everything as any backup does, except to a
    // leaving master: it takes over at once (make-before-break: addresses, announcement,
    // then its advertisement), where a backup that may have company waits skew time.
    let pair: Vec<Row> = rows
        .iter()
        .filter(|r| r.situation == In::Backup && r.name != "backup/zero")
        .map(|r| Row {
            name: r.name.replacen("backup/", "pair-backup/", 1),
            situation: In::PairBackup,
            ..r.clone()
        })
        .collect();
    rows.extend(pair);
    rows.push(row(
        "pair-backup/zero",
        In::PairBackup,
        heard(11, 0),
        vec![
            Action::AddAddresses,
            Action::Announce,
            send(100),
            transition(State::Backup, State::Master, Reason::MasterLeftInPair),
        ],
        State::Master,
    ));
    rows
}

/// The rows of RFC 9568's behaviour (and of the deliberate differences DESIGN.md lists).
fn rfc_table() -> Vec<Row> {
    use State::*;
    let better = |p: u8, src: u8| Reason::BetterMaster {
        src: ip(src),
        priority: p,
    };
    vec![
        // ---- Initialize
        row(
            "init/startup",
            In::Init,
            Event::Startup,
            vec![transition(Initialize, Backup, Reason::Startup)],
            Backup,
        ),
        row(
            "init/shutdown",
            In::Init,
            Event::Shutdown,
            vec![transition(Initialize, Stopped, Reason::Shutdown)],
            Stopped,
        ),
        row("init/timer", In::Init, Event::Timer, vec![], Initialize),
        row("init/advert", In::Init, heard(11, 200), vec![], Initialize),
        row(
            "init/iface-down",
            In::Init,
            Event::InterfaceDown,
            vec![],
            Initialize,
        ),
        row(
            "init/iface-up",
            In::Init,
            Event::InterfaceUp,
            vec![],
            Initialize,
        ),
        row(
            "init/weight",
            In::Init,
            health(-10, false),
            vec![Action::PriorityChanged { from: 100, to: 90 }],
            Initialize,
        ),
        row(
            "init/health-fault",
            In::Init,
            health(0, true),
            vec![],
            Initialize,
        ),
        row(
            "init/group-master",
            In::Init,
            Event::GroupMaster,
            vec![],
            Initialize,
        ),
        row(
            "init/group-backup",
            In::Init,
            Event::GroupBackup,
            vec![],
            Initialize,
        ),
        row(
            "init/group-fault",
            In::Init,
            Event::GroupFault(true),
            vec![],
            Initialize,
        ),
        // ---- Backup
        row("backup/startup", In::Backup, Event::Startup, vec![], Backup),
        row(
            "backup/shutdown",
            In::Backup,
            Event::Shutdown,
            vec![transition(Backup, Stopped, Reason::Shutdown)],
            Stopped,
        ),
        row(
            "backup/timer-early",
            In::Backup,
            Event::Timer,
            vec![],
            Backup,
        ),
        at_deadline(row(
            "backup/master-down",
            In::Backup,
            Event::Timer,
            vec![
                Action::AddAddresses,
                Action::Announce,
                send(100),
                transition(
                    Backup,
                    Master,
                    Reason::MasterDown {
                        interval: MASTER_DOWN_100,
                    },
                ),
            ],
            Master,
        )),
        row("backup/higher", In::Backup, heard(11, 200), vec![], Backup),
        row(
            "backup/equal-higher-ip",
            In::Backup,
            heard(11, 100),
            vec![],
            Backup,
        ),
        row(
            "backup/equal-lower-ip",
            In::Backup,
            heard(9, 100),
            vec![],
            Backup,
        ),
        row("backup/lower", In::Backup, heard(11, 50), vec![], Backup),
        row("backup/zero", In::Backup, heard(11, 0), vec![], Backup),
        row(
            "backup/own",
            In::Backup,
            heard(10, 200),
            vec![Action::Discarded {
                src: ip(10),
                why: Discard::OwnAdvert,
            }],
            Backup,
        ),
        row(
            "backup/v2-advert",
            In::Backup,
            advert_from(
                ip(11),
                Advertisement {
                    version: Version::V2,
                    ..advert(200)
                },
            ),
            vec![Action::Discarded {
                src: ip(11),
                why: Discard::VersionMismatch,
            }],
            Backup,
        ),
        row(
            "backup/other-vrid",
            In::Backup,
            advert_from(
                ip(11),
                Advertisement {
                    vrid: 8,
                    ..advert(200)
                },
            ),
            vec![Action::Discarded {
                src: ip(11),
                why: Discard::VridMismatch,
            }],
            Backup,
        ),
        row(
            "backup/ipv6-addresses",
            In::Backup,
            advert_from(
                ip(11),
                Advertisement {
                    addresses: vec!["2001:db8::100".parse().unwrap()],
                    ..advert(200)
                },
            ),
            vec![Action::Discarded {
                src: ip(11),
                why: Discard::FamilyMismatch,
            }],
            Backup,
        ),
        row(
            "backup/other-addresses",
            In::Backup,
            advert_from(
                ip(11),
                Advertisement {
                    addresses: vec![ip(101)],
                    ..advert(200)
                },
            ),
            vec![Action::AddressListMismatch { src: ip(11) }],
            Backup,
        ),
        row(
            "backup/iface-down",
            In::Backup,
            Event::InterfaceDown,
            vec![transition(Backup, Fault, Reason::InterfaceDown)],
            Fault,
        ),
        row(
            "backup/iface-up",
            In::Backup,
            Event::InterfaceUp,
            vec![],
            Backup,
        ),
        row(
            "backup/weight",
            In::Backup,
            health(-10, false),
            vec![Action::PriorityChanged { from: 100, to: 90 }],
            Backup,
        ),
        row(
            "backup/health-fault",
            In::Backup,
            health(0, true),
            vec![transition(Backup, Fault, Reason::HealthFault)],
            Fault,
        ),
        row(
            "backup/group-master",
            In::Backup,
            Event::GroupMaster,
            vec![
                Action::AddAddresses,
                Action::Announce,
                send(100),
                transition(Backup, Master, Reason::SyncGroup),
            ],
            Master,
        ),
        row(
            "backup/group-backup",
            In::Backup,
            Event::GroupBackup,
            vec![],
            Backup,
        ),
        row(
            "backup/group-fault",
            In::Backup,
            Event::GroupFault(true),
            vec![transition(Backup, Fault, Reason::SyncGroup)],
            Fault,
        ),
        // ---- Master
        row("master/startup", In::Master, Event::Startup, vec![], Master),
        row(
            "master/shutdown",
            In::Master,
            Event::Shutdown,
            vec![send(0)],
            Master,
        ),
        row(
            "master/timer-early",
            In::Master,
            Event::Timer,
            vec![],
            Master,
        ),
        at_deadline(row(
            "master/advert-timer",
            In::Master,
            Event::Timer,
            vec![send(100)],
            Master,
        )),
        row(
            "master/higher",
            In::Master,
            heard(11, 200),
            vec![
                send(0),
                Action::RemoveAddresses,
                transition(Master, Backup, better(200, 11)),
            ],
            Backup,
        ),
        row(
            "master/equal-higher-ip",
            In::Master,
            heard(11, 100),
            vec![
                send(0),
                Action::RemoveAddresses,
                transition(Master, Backup, better(100, 11)),
            ],
            Backup,
        ),
        row(
            "master/equal-lower-ip",
            In::Master,
            heard(9, 100),
            vec![send(100), Action::Announce],
            Master,
        ),
        row(
            "master/lower",
            In::Master,
            heard(11, 50),
            vec![send(100), Action::Announce],
            Master,
        ),
        row(
            "master/zero",
            In::Master,
            heard(11, 0),
            vec![send(100), Action::Announce],
            Master,
        ),
        row(
            "master/iface-down",
            In::Master,
            Event::InterfaceDown,
            vec![
                send(0),
                Action::RemoveAddresses,
                transition(Master, Fault, Reason::InterfaceDown),
            ],
            Fault,
        ),
        row(
            "master/iface-up",
            In::Master,
            Event::InterfaceUp,
            vec![],
            Master,
        ),
        row(
            "master/weight",
            In::Master,
            health(-10, false),
            vec![Action::PriorityChanged { from: 100, to: 90 }, send(90)],
            Master,
        ),
        row(
            "master/health-fault",
            In::Master,
            health(0, true),
            vec![
                send(0),
                Action::RemoveAddresses,
                transition(Master, Fault, Reason::HealthFault),
            ],
            Fault,
        ),
        row(
            "master/group-master",
            In::Master,
            Event::GroupMaster,
            vec![],
            Master,
        ),
        row(
            "master/group-backup",
            In::Master,
            Event::GroupBackup,
            vec![
                send(0),
                Action::RemoveAddresses,
                transition(Master, Backup, Reason::SyncGroup),
            ],
            Backup,
        ),
        row(
            "master/group-fault",
            In::Master,
            Event::GroupFault(true),
            vec![
                send(0),
                Action::RemoveAddresses,
                transition(Master, Fault, Reason::SyncGroup),
            ],
            Fault,
        ),
        // ---- Master handing over after Shutdown (make-before-break)
        row(
            "handover/startup",
            In::HandingOver,
            Event::Startup,
            vec![],
            Master,
        ),
        row(
            "handover/shutdown",
            In::HandingOver,
            Event::Shutdown,
            vec![],
            Master,
        ),
        row(
            "handover/timer-early",
            In::HandingOver,
            Event::Timer,
            vec![],
            Master,
        ),
        at_deadline(row(
            "handover/timeout",
            In::HandingOver,
            Event::Timer,
            vec![
                Action::RemoveAddresses,
                transition(Master, Stopped, Reason::HandOverTimeout),
            ],
            Stopped,
        )),
        row(
            "handover/new-master",
            In::HandingOver,
            heard(11, 90),
            vec![
                Action::RemoveAddresses,
                transition(Master, Stopped, Reason::HandedOver { src: ip(11) }),
            ],
            Stopped,
        ),
        row(
            "handover/zero",
            In::HandingOver,
            heard(11, 0),
            vec![],
            Master,
        ),
        row(
            "handover/iface-down",
            In::HandingOver,
            Event::InterfaceDown,
            vec![
                Action::RemoveAddresses,
                transition(Master, Stopped, Reason::InterfaceDown),
            ],
            Stopped,
        ),
        row(
            "handover/weight",
            In::HandingOver,
            health(-10, false),
            vec![Action::PriorityChanged { from: 100, to: 90 }],
            Master,
        ),
        row(
            "handover/group-backup",
            In::HandingOver,
            Event::GroupBackup,
            vec![],
            Master,
        ),
        // The interface was up: nothing changes, the handover goes on.
        row(
            "handover/iface-up",
            In::HandingOver,
            Event::InterfaceUp,
            vec![],
            Master,
        ),
        // Only a backup follows its group to Master; a leaving master already is one.
        row(
            "handover/group-master",
            In::HandingOver,
            Event::GroupMaster,
            vec![],
            Master,
        ),
        // Any cause of Fault ends the handover at once, as the interface going down does:
        // the addresses are released (the members of a group move together) and the
        // router stops, as it was asked to.
        row(
            "handover/group-fault",
            In::HandingOver,
            Event::GroupFault(true),
            vec![
                Action::RemoveAddresses,
                transition(Master, Stopped, Reason::SyncGroup),
            ],
            Stopped,
        ),
        row(
            "handover/health-fault",
            In::HandingOver,
            health(0, true),
            vec![
                Action::RemoveAddresses,
                transition(Master, Stopped, Reason::HealthFault),
            ],
            Stopped,
        ),
        // ---- Fault
        row("fault/startup", In::Fault, Event::Startup, vec![], Fault),
        row(
            "fault/shutdown",
            In::Fault,
            Event::Shutdown,
            vec![transition(Fault, Stopped, Reason::Shutdown)],
            Stopped,
        ),
        row("fault/timer", In::Fault, Event::Timer, vec![], Fault),
        row("fault/advert", In::Fault, heard(11, 50), vec![], Fault),
        row(
            "fault/iface-down",
            In::Fault,
            Event::InterfaceDown,
            vec![],
            Fault,
        ),
        row(
            "fault/iface-up",
            In::Fault,
            Event::InterfaceUp,
            vec![transition(Fault, Backup, Reason::InterfaceUp)],
            Backup,
        ),
        row(
            "fault/health-fault-too",
            In::Fault,
            health(0, true),
            vec![],
            Fault,
        ),
        row(
            "fault/weight",
            In::Fault,
            health(-10, false),
            vec![Action::PriorityChanged { from: 100, to: 90 }],
            Fault,
        ),
        row(
            "fault/group-master",
            In::Fault,
            Event::GroupMaster,
            vec![],
            Fault,
        ),
        row(
            "fault/group-backup",
            In::Fault,
            Event::GroupBackup,
            vec![],
            Fault,
        ),
        row(
            "fault/group-fault-clear",
            In::Fault,
            Event::GroupFault(false),
            vec![],
            Fault,
        ),
        // ---- Stopped: terminal
        row(
            "stopped/startup",
            In::Stopped,
            Event::Startup,
            vec![],
            Stopped,
        ),
        row(
            "stopped/shutdown",
            In::Stopped,
            Event::Shutdown,
            vec![],
            Stopped,
        ),
        row("stopped/timer", In::Stopped, Event::Timer, vec![], Stopped),
        row(
            "stopped/advert",
            In::Stopped,
            heard(11, 200),
            vec![],
            Stopped,
        ),
        row(
            "stopped/iface-down",
            In::Stopped,
            Event::InterfaceDown,
            vec![],
            Stopped,
        ),
        row(
            "stopped/iface-up",
            In::Stopped,
            Event::InterfaceUp,
            vec![],
            Stopped,
        ),
        row(
            "stopped/health",
            In::Stopped,
            health(-10, true),
            vec![],
            Stopped,
        ),
        row(
            "stopped/group-master",
            In::Stopped,
            Event::GroupMaster,
            vec![],
            Stopped,
        ),
        row(
            "stopped/group-backup",
            In::Stopped,
            Event::GroupBackup,
            vec![],
            Stopped,
        ),
        row(
            "stopped/group-fault",
            In::Stopped,
            Event::GroupFault(true),
            vec![],
            Stopped,
        ),
        // ---- Addresses someone removed: only a master puts them back, and announces
        // them unless it is handing over (the announcement schedule is Master's).
        row(
            "init/addresses-missing",
            In::Init,
            missing(),
            vec![],
            Initialize,
        ),
        row(
            "backup/addresses-missing",
            In::Backup,
            missing(),
            vec![],
            Backup,
        ),
        row(
            "master/addresses-missing",
            In::Master,
            missing(),
            vec![Action::RestoreAddresses(vec![ip(100)]), Action::Announce],
            Master,
        ),
        row(
            "handing-over/addresses-missing",
            In::HandingOver,
            missing(),
            vec![Action::RestoreAddresses(vec![ip(100)])],
            Master,
        ),
        row(
            "fault/addresses-missing",
            In::Fault,
            missing(),
            vec![],
            Fault,
        ),
        row(
            "stopped/addresses-missing",
            In::Stopped,
            missing(),
            vec![],
            Stopped,
        ),
    ]
}

#[test]
fn every_state_event_pair() {
    let rows = table();
    let mut failures = Vec::new();
    for r in &rows {
        let mut s = r.situation.setup();
        assert_eq!(s.router.state(), r.situation.state(), "{}", r.name);
        assert_eq!(
            s.router.is_handing_over(),
            r.situation == In::HandingOver,
            "{}",
            r.name
        );
        let now = match r.after {
            Some(d) => s.at + d,
            None => s.router.next_deadline().expect("row needs a deadline"),
        };
        let actions = s.router.step(r.event.clone(), now);
        if actions != r.actions || s.router.state() != r.state {
            failures.push(format!(
                "{}:\n  got    {:?} -> {:?}\n  wanted {:?} -> {:?}",
                r.name,
                actions,
                s.router.state(),
                r.actions,
                r.state
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(missing_pairs(&rows), Vec::<(In, EventKind)>::new());
}

/// The (situation, event kind) pairs of every state that no row covers.
fn missing_pairs(rows: &[Row]) -> Vec<(In, EventKind)> {
    let states = [
        State::Initialize,
        State::Backup,
        State::Master,
        State::Fault,
        State::Stopped,
    ];
    let situations: Vec<In> = states
        .iter()
        .flat_map(|&s| In::of(s).iter().copied())
        .collect();
    assert_eq!(situations, In::ALL, "every situation belongs to a state");
    let mut missing = Vec::new();
    for &situation in In::ALL {
        for &kind in EventKind::ALL {
            if !rows
                .iter()
                .any(|r| r.situation == situation && EventKind::of(&r.event) == kind)
            {
                missing.push((situation, kind));
            }
        }
    }
    missing
}

/// The coverage check fails on a missing pair (the three the handing-over state lacked
/// before they were written).
#[test]
fn a_missing_pair_is_reported() {
    let rows: Vec<Row> = table()
        .into_iter()
        .filter(|r| {
            r.situation != In::HandingOver
                || !matches!(
                    r.event,
                    Event::InterfaceUp | Event::GroupMaster | Event::GroupFault(_)
                )
        })
        .collect();
    assert_eq!(
        missing_pairs(&rows),
        [
            (In::HandingOver, EventKind::InterfaceUp),
            (In::HandingOver, EventKind::GroupMaster),
            (In::HandingOver, EventKind::GroupFault),
        ]
    );
}

// ---- Timers and the rules the table cannot show in one step

#[test]
fn backup_resets_master_down_on_accepted_advert() {
    let mut s = backup();
    let now = s.at + Duration::from_secs(2);
    s.router.step(heard(11, 200), now);
    assert_eq!(s.router.next_deadline(), Some(now + MASTER_DOWN_100));
}

#[test]
fn backup_learns_master_interval_v3() {
    let mut s = backup();
    let now = s.at + Duration::from_millis(1);
    let fast = Advertisement {
        interval: Centisecs(10),
        ..advert(200)
    };
    s.router.step(advert_from(ip(11), fast), now);
    assert_eq!(s.router.master_adver_interval(), Centisecs(10));
    // 3 * 100 ms + 156/256 * 100 ms
    assert_eq!(
        s.router.next_deadline(),
        Some(now + Duration::from_micros(360_937) + Duration::from_nanos(500))
    );
    // On becoming master it uses its own interval again.
    let at = s.router.next_deadline().unwrap();
    s.router.step(Event::Timer, at);
    assert_eq!(s.router.state(), State::Master);
    assert_eq!(s.router.master_adver_interval(), Centisecs(100));
    assert_eq!(s.router.next_deadline(), Some(at + Duration::from_secs(1)));
}

#[test]
fn v2_interval_mismatch_is_discarded() {
    let mut s = backup_with(RouterConfig {
        version: Version::V2,
        ..config()
    });
    let before = s.router.next_deadline();
    let other = Advertisement {
        version: Version::V2,
        interval: Centisecs(200),
        ..advert(200)
    };
    let actions = s
        .router
        .step(advert_from(ip(11), other), s.at + Duration::from_millis(5));
    assert_eq!(
        actions,
        vec![Action::Discarded {
            src: ip(11),
            why: Discard::IntervalMismatch
        }]
    );
    assert_eq!(
        s.router.next_deadline(),
        before,
        "a discarded advert must not touch timers"
    );
}

#[test]
fn backup_hearing_priority_zero_arms_skew() {
    let mut s = backup();
    let now = s.at + Duration::from_millis(500);
    s.router.step(heard(11, 0), now);
    assert_eq!(s.router.next_deadline(), Some(now + SKEW_100));
    let actions = s.router.step(Event::Timer, now + SKEW_100);
    assert!(
        actions.contains(&transition(
            State::Backup,
            State::Master,
            Reason::MasterLeft
        )),
        "{actions:?}"
    );
}

/// Who counts as the only backup: `hosts: 2`, or unicast with exactly one peer. Anyone
/// that may have company (multicast without `hosts`, `hosts: 3`, two unicast peers)
/// keeps RFC 9568's skew wait.
#[test]
fn only_the_backup_of_a_pair_takes_over_at_once_from_a_leaving_master() {
    let cases = [
        ("hosts 2", Some(2), None, true),
        ("unicast, one peer", None, Some(vec![ip(11)]), true),
        (
            "unicast, one peer, hosts 2",
            Some(2),
            Some(vec![ip(11)]),
            true,
        ),
        ("multicast", None, None, false),
        ("hosts 3", Some(3), None, false),
        (
            "unicast, two peers",
            None,
            Some(vec![ip(11), ip(12)]),
            false,
        ),
        (
            "unicast, two peers, hosts 3",
            Some(3),
            Some(vec![ip(11), ip(12)]),
            false,
        ),
    ];
    for (name, hosts, unicast_peers, at_once) in cases {
        let config = RouterConfig {
            hosts,
            unicast_peers,
            ..config()
        };
        assert_eq!(config.in_pair(), at_once, "{name}");
        let mut s = backup_with(config);
        // Following a master first, as in service.
        let heard_master = s.at + Duration::from_millis(100);
        s.router.step(heard(11, 200), heard_master);
        let now = heard_master + Duration::from_millis(400);
        let actions = s.router.step(heard(11, 0), now);
        if at_once {
            assert_eq!(
                actions,
                vec![
                    Action::AddAddresses,
                    Action::Announce,
                    send(100),
                    transition(State::Backup, State::Master, Reason::MasterLeftInPair),
                ],
                "{name}"
            );
            assert_eq!(s.router.state(), State::Master, "{name}");
            // Master from `now`: its next advertisement one interval later.
            assert_eq!(
                s.router.next_deadline(),
                Some(now + Duration::from_secs(1)),
                "{name}"
            );
        } else {
            assert_eq!(actions, vec![], "{name}");
            assert_eq!(s.router.next_deadline(), Some(now + SKEW_100), "{name}");
            let actions = s.router.step(Event::Timer, now + SKEW_100);
            assert!(
                actions.contains(&transition(
                    State::Backup,
                    State::Master,
                    Reason::MasterLeft
                )),
                "{name}: {actions:?}"
            );
        }
    }
}

/// A pair is two routers, but a split brain can still show two masters for a moment
/// (both timed out while they could not hear each other). The backup follows the better
/// one; a priority 0 from the lesser one (it is yielding to the better) is not a reason
/// to take over.
#[test]
fn the_backup_of_a_pair_ignores_priority_zero_from_a_master_it_does_not_follow() {
    let mut s = backup_with(pair_config());
    let t = s.at + Duration::from_millis(100);
    s.router.step(heard(20, 200), t);
    let deadline = s.router.next_deadline();
    let actions = s.router.step(heard(11, 0), t + Duration::from_millis(10));
    assert_eq!(actions, vec![]);
    assert_eq!(s.router.state(), State::Backup);
    assert_eq!(s.router.next_deadline(), deadline);
}

/// In a sync group a pair member that hears priority 0 wants to be master at once; the
/// group moves when every member agrees (here: the other member hears its own master
/// leave a moment later), all at that instant.
#[test]
fn a_sync_group_of_pair_members_moves_when_the_last_member_hears_priority_zero() {
    use floatip::proto::group::SyncGroup;
    let member = |vrid: u8| {
        let mut r = Router::new(RouterConfig {
            vrid,
            ..pair_config()
        });
        r.step(Event::Startup, T0);
        r
    };
    let mut group = SyncGroup::new(vec![member(7), member(8)]);
    let other = |priority| {
        advert_from(
            ip(11),
            Advertisement {
                vrid: 8,
                ..advert(priority)
            },
        )
    };
    let t = T0 + Duration::from_millis(100);
    group.step(0, heard(11, 200), t);
    group.step(1, other(200), t);
    let first = t + Duration::from_millis(300);
    let actions = group.step(0, heard(11, 0), first);
    assert!(
        !actions
            .iter()
            .any(|(_, a)| matches!(a, Action::Transition { .. })),
        "one member alone does not move the group: {actions:?}"
    );
    assert!(group.members()[0].wants_master());
    assert_eq!(group.members()[0].next_deadline(), None);
    let second = first + Duration::from_micros(50);
    let actions = group.step(1, other(0), second);
    let moved: Vec<usize> = actions
        .iter()
        .filter_map(|(m, a)| match a {
            Action::Transition {
                to: State::Master, ..
            } => Some(*m),
            _ => None,
        })
        .collect();
    assert_eq!(moved, [0, 1], "{actions:?}");
    assert!(group.members().iter().all(|r| r.state() == State::Master));
}

#[test]
fn preempt_discards_lower_priority_so_master_down_expires() {
    let mut s = backup();
    let deadline = s.router.next_deadline();
    s.router
        .step(heard(11, 50), s.at + Duration::from_millis(100));
    assert_eq!(s.router.next_deadline(), deadline);
}

#[test]
fn no_preempt_follows_lower_priority_master() {
    let mut s = backup_with(RouterConfig {
        preempt: false,
        ..config()
    });
    let now = s.at + Duration::from_millis(100);
    s.router.step(heard(11, 50), now);
    assert_eq!(s.router.next_deadline(), Some(now + MASTER_DOWN_100));
}

#[test]
fn preempt_delay_holds_then_preempts() {
    let delay = Duration::from_secs(5);
    let mut s = backup_with(RouterConfig {
        preempt_delay: delay,
        ..config()
    });
    // Within the delay a lower-priority master is followed.
    let t1 = s.at + Duration::from_secs(1);
    s.router.step(heard(11, 50), t1);
    assert_eq!(s.router.next_deadline(), Some(t1 + MASTER_DOWN_100));
    let t2 = s.at + Duration::from_secs(4);
    s.router.step(heard(11, 50), t2);
    assert_eq!(s.router.next_deadline(), Some(t2 + MASTER_DOWN_100));
    // After it, lower adverts are discarded and master-down runs out.
    let t3 = s.at + delay + Duration::from_millis(1);
    s.router.step(heard(11, 50), t3);
    assert_eq!(s.router.next_deadline(), Some(t2 + MASTER_DOWN_100));
    let actions = s.router.step(Event::Timer, t2 + MASTER_DOWN_100);
    assert_eq!(s.router.state(), State::Master, "{actions:?}");
}

#[test]
fn preempt_delay_restarts_when_a_better_master_was_heard_in_between() {
    let delay = Duration::from_secs(5);
    let mut s = backup_with(RouterConfig {
        preempt_delay: delay,
        ..config()
    });
    s.router.step(heard(11, 200), s.at + Duration::from_secs(1));
    // The master degrades at +10 s: a fresh delay starts then.
    let t = s.at + Duration::from_secs(10);
    s.router.step(heard(11, 50), t);
    assert_eq!(s.router.next_deadline(), Some(t + MASTER_DOWN_100));
    let t_later = t + Duration::from_secs(3);
    s.router.step(heard(11, 50), t_later);
    assert_eq!(
        s.router.next_deadline(),
        Some(t_later + MASTER_DOWN_100),
        "still within the new delay"
    );
}

#[test]
fn owner_starts_as_master_and_keeps_255() {
    let mut s = init_with(RouterConfig {
        priority: 255,
        accept_mode: false,
        ..config()
    });
    let actions = s.router.step(Event::Startup, s.at);
    assert_eq!(
        actions,
        vec![
            Action::AddAddresses,
            Action::Announce,
            send(255),
            transition(State::Initialize, State::Master, Reason::StartupAsOwner)
        ],
        "an owner never blocks traffic to its own addresses"
    );
    let actions = s.router.step(health(-50, false), s.at);
    assert_eq!(actions, vec![], "weights do not apply to an owner");
    assert_eq!(s.router.effective_priority(), 255);
}

#[test]
fn owner_recovering_from_fault_becomes_master() {
    let mut s = init_with(RouterConfig {
        priority: 255,
        ..config()
    });
    s.router.step(Event::Startup, s.at);
    s.router.step(Event::InterfaceDown, s.at);
    assert_eq!(s.router.state(), State::Fault);
    let actions = s
        .router
        .step(Event::InterfaceUp, s.at + Duration::from_secs(1));
    assert_eq!(
        actions.last(),
        Some(&transition(
            State::Fault,
            State::Master,
            Reason::InterfaceUp
        ))
    );
}

#[test]
fn startup_with_interface_down_goes_to_fault() {
    let mut s = init();
    s.router.step(Event::InterfaceDown, s.at);
    let actions = s.router.step(Event::Startup, s.at);
    assert_eq!(
        actions,
        vec![transition(
            State::Initialize,
            State::Fault,
            Reason::InterfaceDown
        )]
    );
    assert_eq!(s.router.next_deadline(), None);
}

#[test]
fn fault_needs_every_cause_cleared() {
    let mut s = backup();
    s.router.step(Event::InterfaceDown, s.at);
    s.router.step(health(0, true), s.at);
    assert_eq!(s.router.step(Event::InterfaceUp, s.at), vec![]);
    assert_eq!(s.router.state(), State::Fault);
    let actions = s.router.step(health(0, false), s.at);
    assert_eq!(
        actions,
        vec![transition(
            State::Fault,
            State::Backup,
            Reason::HealthRecovered
        )]
    );
}

#[test]
fn accept_mode_off_blocks_vip_traffic_while_master() {
    let mut s = backup_with(RouterConfig {
        accept_mode: false,
        ..config()
    });
    let at = s.router.next_deadline().unwrap();
    let actions = s.router.step(Event::Timer, at);
    assert_eq!(
        actions,
        vec![
            Action::BlockAddressTraffic(true),
            Action::AddAddresses,
            Action::Announce,
            send(100),
            transition(
                State::Backup,
                State::Master,
                Reason::MasterDown {
                    interval: MASTER_DOWN_100
                }
            )
        ]
    );
    let actions = s.router.step(heard(11, 200), at);
    assert_eq!(
        actions,
        vec![
            send(0),
            Action::RemoveAddresses,
            Action::BlockAddressTraffic(false),
            transition(
                State::Master,
                State::Backup,
                Reason::BetterMaster {
                    src: ip(11),
                    priority: 200
                }
            )
        ]
    );
}

#[test]
fn master_advertises_on_schedule_without_drift() {
    let mut s = master();
    let mut expected = s.at + Duration::from_secs(1);
    for _ in 0..5 {
        assert_eq!(s.router.next_deadline(), Some(expected));
        // Woken 3 ms late: the next one is still on the original grid.
        let actions = s
            .router
            .step(Event::Timer, expected + Duration::from_millis(3));
        assert!(actions.contains(&send(100)));
        expected = expected + Duration::from_secs(1);
        if s.router.next_deadline() != Some(expected) {
            // The 2 s announce repeat fires in between; step it.
            let a = s.router.next_deadline().unwrap();
            assert_eq!(s.router.step(Event::Timer, a), vec![Action::Announce]);
        }
    }
}

#[test]
fn announce_repeat_then_refresh() {
    let refresh = Duration::from_secs(60);
    let mut s = master_with(RouterConfig {
        announce_refresh_every: Some(refresh),
        ..config()
    });
    let mut announces = Vec::new();
    let mut now = s.at;
    while now < s.at + Duration::from_secs(200) {
        now = s.router.next_deadline().unwrap();
        if s.router.step(Event::Timer, now).contains(&Action::Announce) {
            announces.push(now - s.at);
        }
    }
    assert_eq!(
        announces,
        vec![
            Duration::from_secs(2),
            Duration::from_secs(62),
            Duration::from_secs(122),
            Duration::from_secs(182)
        ]
    );
}

#[test]
fn lower_priority_replies_are_rate_limited() {
    let mut s = master();
    let t = s.at + Duration::from_millis(10);
    assert_eq!(
        s.router.step(heard(11, 50), t),
        vec![send(100), Action::Announce]
    );
    assert_eq!(
        s.router.step(heard(11, 50), t + Duration::from_millis(100)),
        vec![]
    );
    assert_eq!(
        s.router.step(heard(11, 50), t + Duration::from_millis(250)),
        vec![send(100), Action::Announce]
    );
}

#[test]
fn handover_deadline_is_master_down() {
    let mut s = master();
    s.router.step(Event::Shutdown, s.at);
    assert_eq!(s.router.next_deadline(), Some(s.at + MASTER_DOWN_100));
    assert!(
        s.router.holds_addresses(),
        "make-before-break keeps the addresses"
    );
}

#[test]
fn weight_change_in_backup_rescales_master_down() {
    let mut s = backup();
    let heard_at = s.at + Duration::from_millis(100);
    s.router.step(heard(11, 200), heard_at);
    s.router
        .step(health(50, false), heard_at + Duration::from_millis(10));
    // priority 150: 3 s + 106/256 s, counted from when the master was heard.
    assert_eq!(
        s.router.next_deadline(),
        Some(
            heard_at
                + Duration::from_secs(3)
                + Duration::from_micros(414_062)
                + Duration::from_nanos(500)
        )
    );
}

#[test]
fn effective_priority_clamps() {
    use floatip::proto::fsm::effective_priority;
    assert_eq!(effective_priority(100, 0), 100);
    assert_eq!(effective_priority(100, -200), 1);
    assert_eq!(effective_priority(100, 200), 254);
    assert_eq!(effective_priority(254, 1), 254);
    assert_eq!(effective_priority(1, -1), 1);
    assert_eq!(effective_priority(255, -100), 255);
}

/// The weights a health report can carry reach the i32 bounds (a drain file holding a
/// huge number, times its weight, saturates there): the sum with the configured
/// priority saturates too instead of wrapping (or panicking in a debug build).
#[test]
fn effective_priority_saturates_at_the_weight_bounds() {
    use floatip::proto::fsm::effective_priority;
    for configured in [1u8, 100, 254] {
        for (weight, expected) in [
            (i32::MAX, 254),
            (i32::MAX - 1, 254),
            (i32::MIN, 1),
            (i32::MIN + 1, 1),
            (254, 254),
            (-254, 1),
            (0, configured),
        ] {
            assert_eq!(
                effective_priority(configured, weight),
                expected,
                "{configured} + {weight}"
            );
        }
        assert_eq!(effective_priority(255, i32::MAX), 255);
        assert_eq!(effective_priority(255, i32::MIN), 255);
    }
}

#[test]
fn a_saturated_health_weight_is_advertised_clamped() {
    let mut s = master();
    let actions = s.router.step(
        Event::Health {
            weight: i32::MAX,
            fault: false,
        },
        s.at,
    );
    assert_eq!(
        actions,
        vec![Action::PriorityChanged { from: 100, to: 254 }, send(254)]
    );
    assert_eq!(s.router.effective_priority(), 254);
    let actions = s.router.step(
        Event::Health {
            weight: i32::MIN,
            fault: false,
        },
        s.at,
    );
    assert_eq!(
        actions,
        vec![Action::PriorityChanged { from: 254, to: 1 }, send(1)]
    );
    assert_eq!(
        s.router.state(),
        State::Master,
        "priority 1 is still a priority"
    );
}

#[test]
fn leaving_fault_forgets_the_learned_interval() {
    let mut s = backup();
    let fast = Advertisement {
        interval: Centisecs(10),
        ..advert(200)
    };
    s.router.step(advert_from(ip(11), fast), s.at);
    assert_eq!(s.router.master_adver_interval(), Centisecs(10));
    s.router.step(Event::InterfaceDown, s.at);
    let up = s.at + Duration::from_secs(1);
    s.router.step(Event::InterfaceUp, up);
    assert_eq!(s.router.master_adver_interval(), Centisecs(100));
    assert_eq!(s.router.next_deadline(), Some(up + MASTER_DOWN_100));
}

#[test]
fn reconfigure_master_advertises_new_priority_at_once() {
    let mut s = master();
    let now = s.at + Duration::from_millis(300);
    let actions = s.router.reconfigure(
        RouterConfig {
            priority: 120,
            ..config()
        },
        now,
    );
    assert_eq!(
        actions,
        vec![Action::PriorityChanged { from: 100, to: 120 }, send(120)]
    );
    assert_eq!(s.router.state(), State::Master);
    assert!(s.router.holds_addresses());
    assert_eq!(s.router.next_deadline(), Some(now + Duration::from_secs(1)));
}

#[test]
fn reconfigure_unchanged_does_nothing() {
    let mut s = master();
    let deadline = s.router.next_deadline();
    assert_eq!(
        s.router
            .reconfigure(config(), s.at + Duration::from_millis(300)),
        vec![]
    );
    assert_eq!(s.router.next_deadline(), deadline);
}

#[test]
fn reconfigure_accept_mode_off_on_master_blocks() {
    let mut s = master();
    let actions = s.router.reconfigure(
        RouterConfig {
            accept_mode: false,
            ..config()
        },
        s.at,
    );
    assert_eq!(actions, vec![Action::BlockAddressTraffic(true), send(100)]);
}

#[test]
fn reconfigure_backup_rescales_master_down() {
    let mut s = backup();
    let heard_at = s.at + Duration::from_millis(100);
    s.router.step(heard(11, 200), heard_at);
    let actions = s.router.reconfigure(
        RouterConfig {
            priority: 150,
            ..config()
        },
        heard_at + Duration::from_millis(5),
    );
    assert_eq!(
        actions,
        vec![Action::PriorityChanged { from: 100, to: 150 }]
    );
    assert_eq!(
        s.router.next_deadline(),
        Some(
            heard_at
                + Duration::from_secs(3)
                + Duration::from_micros(414_062)
                + Duration::from_nanos(500)
        )
    );
}

#[test]
fn backup_follows_the_best_master_and_ignores_a_lesser_one() {
    let mut s = backup();
    let t1 = s.at + Duration::from_millis(10);
    s.router.step(heard(12, 200), t1);
    let deadline = s.router.next_deadline();
    assert_eq!(deadline, Some(t1 + MASTER_DOWN_100));
    // A lesser master (split brain) with a much shorter interval: not followed, so
    // neither our timer nor our learned interval moves.
    let t2 = t1 + Duration::from_millis(5);
    let fast = Advertisement {
        interval: Centisecs(1),
        ..advert(150)
    };
    s.router.step(advert_from(ip(11), fast), t2);
    assert_eq!(s.router.next_deadline(), deadline);
    assert_eq!(s.router.master_adver_interval(), Centisecs(100));
    // Its priority 0 does not arm our skew either.
    s.router.step(heard(11, 0), t2);
    assert_eq!(s.router.next_deadline(), deadline);
    // The master we follow leaving does.
    s.router.step(heard(12, 0), t2);
    assert_eq!(s.router.next_deadline(), Some(t2 + SKEW_100));
}

#[test]
fn backup_switches_to_a_better_master() {
    let mut s = backup();
    let t1 = s.at + Duration::from_millis(10);
    s.router.step(heard(11, 150), t1);
    let t2 = t1 + Duration::from_millis(5);
    s.router.step(heard(12, 200), t2);
    assert_eq!(s.router.next_deadline(), Some(t2 + MASTER_DOWN_100));
    // Now the 150 is the lesser one.
    s.router.step(heard(11, 150), t2 + Duration::from_millis(5));
    assert_eq!(s.router.next_deadline(), Some(t2 + MASTER_DOWN_100));
    // The followed master may lower its priority and is still followed.
    let t3 = t2 + Duration::from_millis(20);
    s.router.step(heard(12, 120), t3);
    assert_eq!(s.router.next_deadline(), Some(t3 + MASTER_DOWN_100));
}

#[test]
fn yielding_master_says_priority_zero_and_the_winner_reannounces() {
    // The loser of a healed split brain leaves with priority 0 ...
    let mut loser = master();
    let actions = loser.router.step(heard(11, 200), loser.at);
    assert_eq!(actions.first(), Some(&send(0)));
    // ... and once more one interval later, in case the heal was one-way at first.
    let again = loser.at + Duration::from_secs(1);
    assert_eq!(loser.router.next_deadline(), Some(again));
    assert_eq!(loser.router.step(Event::Timer, again), vec![send(0)]);
    assert_eq!(
        loser.router.next_deadline(),
        Some(loser.at + MASTER_DOWN_100)
    );
    // ... and the winner, hearing it, answers at once and re-announces.
    let mut winner = master();
    let actions = winner
        .router
        .step(heard(9, 0), winner.at + Duration::from_millis(1));
    assert_eq!(actions, vec![send(100), Action::Announce]);
}
