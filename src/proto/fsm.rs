//! The per-virtual-router state machine of RFC 9568 §6 (and RFC 3768 for v2).
//!
//! Owns: the router's state (Initialize, Backup, Master, Fault, Stopped), its timers as
//! deadlines, the effective priority, and every decision about what to do next. It is
//! a function of (router, event, now) returning actions: `step` never performs I/O,
//! never reads a clock and never fails. `next_deadline` tells the caller when to call
//! `step(.., Event::Timer, ..)` again.
//!
//! Deliberate differences from the RFC text, each what a keepalived user expects:
//! - accept mode defaults to on (the config layer sets it; the core just obeys it);
//! - a master hearing a lower priority answers with an advertisement at once and
//!   re-announces its addresses, which heals a split brain in one advertisement;
//! - preempt delay (keepalived's `preempt_delay`);
//! - graceful stop as master is make-before-break: priority 0 is sent but the addresses
//!   stay until a new master is heard or master-down passes;
//! - in a pair (`RouterConfig::in_pair`: unicast with one peer, or `hosts: 2`) a backup
//!   hearing priority 0 takes over at once rather than after skew time, which only
//!   orders several backups.
//!
//! The announcement schedule (the gratuitous ARP / NA burst, its repeat and refresh) is
//! made of deadlines of the router like its advertisement timer, so leaving Master by
//! any path cancels it. The checksum form of VRRPv3 over IPv4 is chosen here too: the
//! form each destination is heard using (`checksum_form_for`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use super::packet::{Advertisement, ChecksumForm, Family, Version};
use super::timers::{self, Centisecs, Instant};

/// The priority of the address owner.
pub const OWNER_PRIORITY: u8 = 255;
/// The priority a leaving master advertises.
pub const LEAVING_PRIORITY: u8 = 0;

/// What the state machine needs to know about one virtual router. Validated by the
/// config layer; the core trusts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    pub vrid: u8,
    pub version: Version,
    /// Configured priority, 1..=255 (255 = owner of the addresses).
    pub priority: u8,
    /// Our own advertisement interval.
    pub advert_interval: Centisecs,
    /// Whether a higher-priority backup takes over from a lower-priority master.
    pub preempt: bool,
    /// How long a backup that could preempt waits first (after startup, after leaving
    /// Fault, or after first hearing a lower-priority master).
    pub preempt_delay: Duration,
    /// Whether a non-owner master accepts packets addressed to the virtual addresses.
    pub accept_mode: bool,
    /// Our primary address on the interface: the source of our advertisements and the
    /// tie-breaker between equal priorities.
    pub primary_address: IpAddr,
    /// The virtual addresses, all of one family.
    pub addresses: Vec<IpAddr>,
    /// The prefix length each address is added with, in the order of `addresses`. The
    /// protocol ignores it; a master whose prefixes change re-adds the addresses.
    pub prefix_lens: Vec<u8>,
    /// Rounds of gratuitous ARP / NA per announcement (at least one).
    pub announce_burst: u8,
    /// Spacing of the rounds of a burst.
    pub announce_burst_interval: Duration,
    /// After becoming master, repeat the gratuitous ARP / NA once after this delay.
    pub announce_repeat_after: Option<Duration>,
    /// While master, re-announce at this period.
    pub announce_refresh_every: Option<Duration>,
    /// VRRPv3 over IPv4: the checksum form to send, or `None` (auto) to answer each
    /// destination in the form it is heard using (the pseudo-header form until then).
    pub checksum_form: Option<ChecksumForm>,
    /// Unicast mode: the configured peers, the only destinations; `None` = multicast.
    pub unicast_peers: Option<Vec<IpAddr>>,
    /// How many hosts run this virtual router, this one included, when the operator
    /// says so (`hosts:`); `None` = unknown (a third router may always appear).
    pub hosts: Option<u8>,
}

impl RouterConfig {
    /// Address family of the router.
    pub fn family(&self) -> Family {
        Family::of(&self.primary_address)
    }

    /// Whether we own the addresses (priority 255).
    pub fn is_owner(&self) -> bool {
        self.priority == OWNER_PRIORITY
    }

    /// Whether no third router can exist: unicast with exactly one peer (nobody else is
    /// heard), or `hosts: 2`. Then a backup is the only one, and when the master leaves
    /// (priority 0) there is no other backup to give precedence to: it takes over at
    /// once instead of after skew time. Wherever a third router could exist (multicast
    /// without `hosts`, unicast with two or more peers) RFC 9568's skew wait stays, so
    /// that the best backup wins without two masters.
    pub fn in_pair(&self) -> bool {
        self.hosts == Some(2) || self.unicast_peers.as_ref().is_some_and(|p| p.len() == 1)
    }
}

/// The state of a virtual router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Not started yet.
    Initialize,
    Backup,
    Master,
    /// Cannot serve: the interface is down or a weight-0 health check fails (or, in a
    /// sync group, another member is in Fault).
    Fault,
    /// Shut down; terminal.
    Stopped,
}

impl State {
    /// The lower-case name (as serialised): labels and keys.
    pub fn label(self) -> &'static str {
        match self {
            State::Initialize => "initialize",
            State::Backup => "backup",
            State::Master => "master",
            State::Fault => "fault",
            State::Stopped => "stopped",
        }
    }

    /// The keepalived notify name of the state (MASTER/BACKUP/FAULT/STOP).
    pub fn notify_name(self) -> &'static str {
        match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
            State::Stopped => "STOP",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.notify_name())
    }
}

/// What happened to a router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Join the virtual router (from Initialize).
    Startup,
    /// Leave the virtual router (make-before-break if master).
    Shutdown,
    /// A deadline returned by `next_deadline` has been reached.
    Timer,
    /// A valid advertisement for our VRID, from `src` (already checked on the wire:
    /// TTL, checksum, length, v2 auth).
    Advert {
        src: IpAddr,
        advert: Advertisement,
        /// The checksum form it was sent with (the decoder accepts either for v3/IPv4).
        form: ChecksumForm,
    },
    /// Our interface went down / came back up.
    InterfaceDown,
    InterfaceUp,
    /// The health of what we front changed: `weight` is the sum of the weights of the
    /// failing (negative) and passing (positive) checks that apply; `fault` is true
    /// while any weight-0 check fails.
    Health {
        weight: i32,
        fault: bool,
    },
    /// Sync group: another member became master; follow it.
    GroupMaster,
    /// Sync group: another member left master for backup; follow it.
    GroupBackup,
    /// Sync group: whether some other member is in Fault.
    GroupFault(bool),
    /// These virtual addresses are no longer on the interface (someone removed them).
    AddressesMissing(Vec<IpAddr>),
}

/// Why a state changed, for the one INFO line per transition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Started as the address owner.
    StartupAsOwner,
    /// Started (or recovered) as a non-owner: wait to hear a master.
    Startup,
    /// No advertisement from a master for master_down_interval.
    MasterDown {
        interval: Duration,
    },
    /// The master announced it is leaving (priority 0) and skew time passed.
    MasterLeft,
    /// The master announced it is leaving (priority 0) and, in a pair, no other backup
    /// can exist: taken over at once.
    MasterLeftInPair,
    /// Heard a better master.
    BetterMaster {
        src: IpAddr,
        priority: u8,
    },
    InterfaceDown,
    InterfaceUp,
    HealthFault,
    HealthRecovered,
    /// Another member of our sync group moved.
    SyncGroup,
    /// Shutdown was requested.
    Shutdown,
    /// Shutdown as master: a new master was heard, so the addresses are released.
    HandedOver {
        src: IpAddr,
    },
    /// Shutdown as master: nobody took over within master_down_interval.
    HandOverTimeout,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::StartupAsOwner => write!(f, "started as address owner (priority 255)"),
            Reason::Startup => write!(f, "started, waiting to hear a master"),
            Reason::MasterDown { interval } => {
                write!(f, "no advertisement for master_down_interval {interval:?}")
            }
            Reason::MasterLeft => write!(f, "master sent priority 0 and skew time passed"),
            Reason::MasterLeftInPair => write!(
                f,
                "master sent priority 0 and no other backup exists (pair): took over at once"
            ),
            Reason::BetterMaster { src, priority } => {
                write!(f, "heard master {src} with priority {priority}")
            }
            Reason::InterfaceDown => write!(f, "interface down"),
            Reason::InterfaceUp => write!(f, "interface up"),
            Reason::HealthFault => write!(f, "a weight-0 health check fails"),
            Reason::HealthRecovered => write!(f, "health checks recovered"),
            Reason::SyncGroup => write!(f, "sync group member moved"),
            Reason::Shutdown => write!(f, "shutdown"),
            Reason::HandedOver { src } => write!(f, "new master {src} took over"),
            Reason::HandOverTimeout => write!(f, "no new master within master_down_interval"),
        }
    }
}

/// Why an advertisement that passed the wire checks was ignored by the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Discard {
    /// Not our VRID (the caller should demultiplex; counted if it does not).
    VridMismatch,
    /// A v2 router heard v3 or the other way round.
    VersionMismatch,
    /// VRRPv2: the advertised interval differs from ours (RFC 3768 §7.1).
    IntervalMismatch,
    /// Addresses of the other family.
    FamilyMismatch,
    /// Our own advertisement looped back.
    OwnAdvert,
}

impl Discard {
    /// A short, stable identifier for counters.
    pub fn name(self) -> &'static str {
        match self {
            Discard::VridMismatch => "vrid_mismatch",
            Discard::VersionMismatch => "version_mismatch",
            Discard::IntervalMismatch => "interval_mismatch",
            Discard::FamilyMismatch => "family_mismatch",
            Discard::OwnAdvert => "own_advert",
        }
    }
}

/// What the caller must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send an advertisement with this priority and our interval and addresses.
    SendAdvert { priority: u8 },
    /// Add the virtual addresses to the interface.
    AddAddresses,
    /// Remove the virtual addresses from the interface.
    RemoveAddresses,
    /// Add these virtual addresses back (someone removed them while we are master).
    RestoreAddresses(Vec<IpAddr>),
    /// The configured addresses or their prefixes changed while we hold them: add the
    /// new ones, then remove those no longer configured.
    ReconcileAddresses,
    /// Send one round of gratuitous ARP / unsolicited NA for the virtual addresses, now
    /// (the rest of a burst comes as later `Announce`s at the core's deadlines).
    Announce,
    /// Accept mode off and not owner: start (true) or stop (false) dropping packets
    /// addressed to the virtual addresses (RFC 9568 §6.4.3).
    BlockAddressTraffic(bool),
    /// The state changed. Carried out as one INFO line and a notify hook.
    Transition {
        from: State,
        to: State,
        reason: Reason,
    },
    /// The effective priority changed (without a state change).
    PriorityChanged { from: u8, to: u8 },
    /// The advertisement was ignored; count it and log at a limited rate.
    Discarded { src: IpAddr, why: Discard },
    /// The advertisement was accepted but lists other addresses than ours (RFC 9568
    /// §6.4.2 says accept it); log at a limited rate.
    AddressListMismatch { src: IpAddr },
}

/// The master a backup follows: its source, priority and when it was last heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Followed {
    src: IpAddr,
    priority: u8,
    heard_at: Instant,
}

/// One virtual router: configuration, state and deadlines.
#[derive(Debug, Clone)]
pub struct Router {
    config: RouterConfig,
    state: State,
    /// The interval the current master uses (v3 learns it; v2 has only ours).
    master_adver_interval: Centisecs,
    /// Sum of health weights, as last reported.
    health_weight: i32,
    interface_down: bool,
    health_fault: bool,
    group_fault: bool,
    /// Backup: when the master is declared down.
    master_down_at: Option<Instant>,
    /// Master: when the next advertisement is due.
    advert_at: Option<Instant>,
    /// Master: when the next announcement (repeat, then refresh) is due.
    announce_at: Option<Instant>,
    /// Master: when the next round of the current announcement burst is due, and how
    /// many rounds are left.
    burst_at: Option<Instant>,
    burst_left: u8,
    /// Backup: the master-down timer was armed to skew by a priority-0 advertisement.
    master_left: bool,
    /// Backup after yielding master: when to repeat the priority-0 farewell.
    farewell_at: Option<Instant>,
    /// Backup: the master we follow, the best heard since our master-down timer was
    /// armed while it keeps advertising.
    followed: Option<Followed>,
    /// Member of a sync group of two or more: master-down expiry only makes it *want*
    /// to be master; the group decides (see `proto::group`).
    in_sync_group: bool,
    /// Backup in a sync group whose master-down expired: why it wants to be master.
    wants_master: Option<Reason>,
    /// Master shutting down (make-before-break): when to give up waiting for a
    /// successor and release the addresses.
    handover_deadline: Option<Instant>,
    /// Backup: until when a lower-priority master is tolerated (preempt delay).
    preempt_hold_until: Option<Instant>,
    /// When we last answered a lower-priority master at once (rate limit).
    last_immediate_reply: Option<Instant>,
    /// Multicast: the checksum form of the master we follow (or of the last valid
    /// advertisement while we follow none). Unicast: the last form any peer used.
    heard_form: Option<ChecksumForm>,
    /// Who `heard_form` was learned from.
    heard_from: Option<IpAddr>,
    /// Unicast: the checksum form each configured peer uses (at most one per peer).
    peer_forms: BTreeMap<IpAddr, ChecksumForm>,
    /// When the state last changed, and why.
    since: Instant,
    why: Option<Reason>,
    /// Backup: the master we follow, as last heard.
    master_heard: Option<MasterHeard>,
    /// Events worth counting that only the core sees.
    tally: Tally,
}

/// Counts of what only the core sees, for status and metrics (never reset; they
/// survive a reload with the router).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Tally {
    /// Times the master as this router sees it changed: to another master it follows
    /// as backup (the first one heard included), or to itself on becoming master.
    pub master_changes: u64,
    /// Times, as master, it heard a lower-priority master and asserted itself at once
    /// (an advertisement and a re-announcement): a split brain healing.
    pub split_brain_heals: u64,
    /// The address of the master it last followed (what `master_changes` compares).
    #[serde(skip)]
    last_master: Option<IpAddr>,
}

/// The master a backup follows, as last heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MasterHeard {
    pub src: IpAddr,
    pub priority: u8,
    pub interval: Centisecs,
    pub at: Instant,
    pub checksum_form: ChecksumForm,
}

/// The pending deadlines of a router (see `next_deadline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Deadlines {
    pub master_down: Option<Instant>,
    pub advert: Option<Instant>,
    pub announce_burst: Option<Instant>,
    pub announce: Option<Instant>,
    pub handover: Option<Instant>,
    pub farewell: Option<Instant>,
    pub preempt_hold_until: Option<Instant>,
}

/// Why a router is (or would be) in Fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Faults {
    pub interface_down: bool,
    pub health: bool,
    pub sync_group: bool,
}

/// A router's state as one value: what `status`, metrics and the exit log read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    pub state: State,
    /// When the state last changed (the router's creation until the first change).
    pub since: Instant,
    /// Why it last changed.
    pub reason: Option<Reason>,
    pub handing_over: bool,
    pub configured_priority: u8,
    pub effective_priority: u8,
    /// Backup: the master it follows.
    pub master: Option<MasterHeard>,
    /// The interval of the master we follow (ours when master).
    pub master_adver_interval: Centisecs,
    pub master_down_interval: Duration,
    pub skew: Duration,
    pub deadlines: Deadlines,
    pub addresses: Vec<IpAddr>,
    pub holds_addresses: bool,
    pub faults: Faults,
    pub tally: Tally,
}

impl Router {
    /// A router in Initialize.
    pub fn new(config: RouterConfig) -> Router {
        Router {
            master_adver_interval: config.advert_interval,
            config,
            state: State::Initialize,
            health_weight: 0,
            interface_down: false,
            health_fault: false,
            group_fault: false,
            master_down_at: None,
            advert_at: None,
            announce_at: None,
            burst_at: None,
            burst_left: 0,
            master_left: false,
            farewell_at: None,
            followed: None,
            in_sync_group: false,
            wants_master: None,
            handover_deadline: None,
            preempt_hold_until: None,
            last_immediate_reply: None,
            heard_form: None,
            heard_from: None,
            peer_forms: BTreeMap::new(),
            since: Instant::ZERO,
            why: None,
            master_heard: None,
            tally: Tally::default(),
        }
    }

    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Whether a master is handing over after a shutdown request (it still holds the
    /// addresses but no longer advertises).
    pub fn is_handing_over(&self) -> bool {
        self.handover_deadline.is_some()
    }

    /// Whether this Backup's master-down expired while in a sync group, so that it
    /// waits for the rest of the group to want to be master too.
    pub fn wants_master(&self) -> bool {
        self.wants_master.is_some()
    }

    /// Whether this Backup's master announced it is leaving (priority 0): it will take
    /// over at skew time whatever happens, so its sync group need not wait for it.
    pub fn master_is_leaving(&self) -> bool {
        self.state == State::Backup && self.master_left
    }

    /// Mark the router as a member of a sync group of two or more (or not).
    pub fn set_in_sync_group(&mut self, in_group: bool) {
        self.in_sync_group = in_group;
    }

    /// Whether this router currently wants the virtual addresses on the interface.
    pub fn holds_addresses(&self) -> bool {
        self.state == State::Master
    }

    /// The interval of the master we follow (ours when master).
    pub fn master_adver_interval(&self) -> Centisecs {
        self.master_adver_interval
    }

    /// Configured priority plus health weights, clamped to 1..=254; an owner stays 255.
    pub fn effective_priority(&self) -> u8 {
        effective_priority(self.config.priority, self.health_weight)
    }

    /// Whether some cause keeps this router in Fault, ignoring sync-group propagation.
    pub fn has_own_fault(&self) -> bool {
        self.interface_down || self.health_fault
    }

    fn in_fault(&self) -> bool {
        self.interface_down || self.health_fault || self.group_fault
    }

    /// The master-down interval for the master interval we currently follow.
    pub fn master_down_interval(&self) -> Duration {
        timers::master_down_interval(self.effective_priority(), self.master_adver_interval)
    }

    /// The skew time for the master interval we currently follow.
    pub fn skew(&self) -> Duration {
        timers::skew(self.effective_priority(), self.master_adver_interval)
    }

    /// The earliest deadline at which `step(.., Event::Timer, ..)` has work to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.master_down_at,
            self.advert_at,
            self.announce_at,
            self.burst_at,
            self.handover_deadline,
            self.farewell_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Apply one event at time `now` and return what to do, in order.
    pub fn step(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Stopped {
            return out;
        }
        match event {
            Event::Startup => self.on_startup(now, &mut out),
            Event::Shutdown => self.on_shutdown(now, &mut out),
            Event::Timer => self.on_timer(now, &mut out),
            Event::Advert { src, advert, form } => {
                self.on_advert(src, &advert, form, now, &mut out)
            }
            Event::InterfaceDown => {
                self.interface_down = true;
                self.update_fault(now, Reason::InterfaceDown, &mut out);
            }
            Event::InterfaceUp => {
                self.interface_down = false;
                self.update_fault(now, Reason::InterfaceUp, &mut out);
            }
            Event::Health { weight, fault } => self.on_health(weight, fault, now, &mut out),
            Event::GroupMaster => {
                if self.state == State::Backup {
                    let reason = self.wants_master.take().unwrap_or(Reason::SyncGroup);
                    self.become_master(now, reason, &mut out);
                }
            }
            Event::GroupBackup => {
                if self.state == State::Master && !self.is_handing_over() {
                    self.leave_master(State::Backup, now, Reason::SyncGroup, &mut out);
                }
            }
            Event::GroupFault(fault) => {
                self.group_fault = fault;
                self.update_fault(now, Reason::SyncGroup, &mut out);
            }
            Event::AddressesMissing(missing) => self.on_addresses_missing(missing, now, &mut out),
        }
        if let Some(reason) = out.iter().rev().find_map(|action| match action {
            Action::Transition { reason, .. } => Some(reason),
            _ => None,
        }) {
            self.since = now;
            self.why = Some(reason.clone());
        }
        out
    }

    /// A master whose addresses someone removed puts them back and tells the LAN again.
    fn on_addresses_missing(&mut self, missing: Vec<IpAddr>, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Master {
            return;
        }
        let ours: Vec<IpAddr> = missing
            .into_iter()
            .filter(|a| self.config.addresses.contains(a))
            .collect();
        if ours.is_empty() {
            return;
        }
        out.push(Action::RestoreAddresses(ours));
        // A master handing over keeps its addresses but no longer draws traffic.
        if !self.is_handing_over() {
            self.announce(now, out);
        }
    }

    /// Start an announcement: one round now, the rest of the burst at deadlines.
    fn announce(&mut self, now: Instant, out: &mut Vec<Action>) {
        out.push(Action::Announce);
        let rest = self.config.announce_burst.saturating_sub(1);
        if self.config.announce_burst_interval.is_zero() {
            // No spacing: the whole burst now (a zero deadline would spin the timer).
            out.extend(std::iter::repeat_n(Action::Announce, usize::from(rest)));
            self.burst_left = 0;
            self.burst_at = None;
        } else {
            self.burst_left = rest;
            self.burst_at = (rest > 0).then(|| now + self.config.announce_burst_interval);
        }
    }

    /// The checksum form to send towards `dst` (VRRPv3 over IPv4; the encoder ignores
    /// it elsewhere): configured, or (auto) the form `dst` was heard using, or the one
    /// last heard, or the RFC's pseudo-header form.
    pub fn checksum_form_for(&self, dst: IpAddr) -> ChecksumForm {
        if let Some(form) = self.config.checksum_form {
            return form;
        }
        self.peer_forms
            .get(&dst)
            .copied()
            .or(self.heard_form)
            .unwrap_or(ChecksumForm::WithPseudoHeader)
    }

    /// Remember the form of a valid advertisement. Bounded: multicast keeps one form
    /// (the group's only destination is answered in the form of the master we follow),
    /// unicast one per configured peer.
    fn learn_form(&mut self, src: IpAddr, form: ChecksumForm) {
        match &self.config.unicast_peers {
            Some(peers) => {
                if peers.contains(&src) {
                    self.peer_forms.insert(src, form);
                    self.heard_form = Some(form);
                    self.heard_from = Some(src);
                }
            }
            None => {
                if self.followed.is_none_or(|followed| followed.src == src) {
                    self.heard_form = Some(form);
                    self.heard_from = Some(src);
                }
            }
        }
    }

    /// The checksum form learned from `src`, if it is one the router answers in (a
    /// configured peer, or the source the group form was last learned from).
    pub fn learned_form(&self, src: IpAddr) -> Option<ChecksumForm> {
        match &self.config.unicast_peers {
            Some(_) => self.peer_forms.get(&src).copied(),
            None => self.heard_form.filter(|_| self.heard_from == Some(src)),
        }
    }

    /// The router's state as one value.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            state: self.state,
            since: self.since,
            reason: self.why.clone(),
            handing_over: self.is_handing_over(),
            configured_priority: self.config.priority,
            effective_priority: self.effective_priority(),
            master: self.master_heard,
            master_adver_interval: self.master_adver_interval,
            master_down_interval: self.master_down_interval(),
            skew: self.skew(),
            deadlines: Deadlines {
                master_down: self.master_down_at,
                advert: self.advert_at,
                announce_burst: self.burst_at,
                announce: self.announce_at,
                handover: self.handover_deadline,
                farewell: self.farewell_at,
                preempt_hold_until: self.preempt_hold_until,
            },
            addresses: self.config.addresses.clone(),
            holds_addresses: self.holds_addresses(),
            faults: Faults {
                interface_down: self.interface_down,
                health: self.health_fault,
                sync_group: self.group_fault,
            },
            tally: self.tally,
        }
    }

    fn on_startup(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Initialize {
            return;
        }
        if self.in_fault() {
            let reason = if self.interface_down {
                Reason::InterfaceDown
            } else if self.health_fault {
                Reason::HealthFault
            } else {
                Reason::SyncGroup
            };
            self.transition(State::Fault, reason, out);
        } else if self.config.is_owner() {
            self.join(now, Reason::StartupAsOwner, out);
        } else {
            self.join(now, Reason::Startup, out);
        }
    }

    fn on_shutdown(&mut self, now: Instant, out: &mut Vec<Action>) {
        match self.state {
            State::Master if !self.is_handing_over() => {
                // Make-before-break: tell the backups to take over after skew time, but
                // keep serving the addresses until one does.
                out.push(Action::SendAdvert {
                    priority: LEAVING_PRIORITY,
                });
                self.advert_at = None;
                self.announce_at = None;
                self.burst_at = None;
                self.burst_left = 0;
                self.handover_deadline = Some(now + self.master_down_interval());
            }
            State::Master => {}
            State::Initialize | State::Backup | State::Fault => {
                self.clear_timers();
                self.transition(State::Stopped, Reason::Shutdown, out);
            }
            State::Stopped => {}
        }
    }

    fn on_timer(&mut self, now: Instant, out: &mut Vec<Action>) {
        if let Some(deadline) = self.handover_deadline
            && deadline <= now
        {
            self.finish_handover(Reason::HandOverTimeout, out);
            return;
        }
        if let Some(deadline) = self.master_down_at
            && deadline <= now
            && self.state == State::Backup
        {
            let reason = if self.master_left {
                Reason::MasterLeft
            } else {
                Reason::MasterDown {
                    interval: self.master_down_interval(),
                }
            };
            self.master_gone(now, reason, out);
            return;
        }
        if let Some(deadline) = self.farewell_at
            && deadline <= now
        {
            self.farewell_at = None;
            if self.state == State::Backup {
                out.push(Action::SendAdvert {
                    priority: LEAVING_PRIORITY,
                });
            }
        }
        if let Some(deadline) = self.advert_at
            && deadline <= now
        {
            out.push(Action::SendAdvert {
                priority: self.effective_priority(),
            });
            self.advert_at = Some(next_period(deadline, self.config.advert_interval, now));
        }
        if let Some(deadline) = self.burst_at
            && deadline <= now
        {
            out.push(Action::Announce);
            self.burst_left = self.burst_left.saturating_sub(1);
            self.burst_at =
                (self.burst_left > 0).then(|| now + self.config.announce_burst_interval);
        }
        if let Some(deadline) = self.announce_at
            && deadline <= now
        {
            self.announce(now, out);
            self.announce_at = self.config.announce_refresh_every.map(|every| now + every);
        }
    }
}

impl Router {
    fn on_advert(
        &mut self,
        src: IpAddr,
        advert: &Advertisement,
        form: ChecksumForm,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        if !matches!(self.state, State::Backup | State::Master) {
            // Initialize, Fault: not participating (RFC 9568 §6.4.1, "ignore"), but
            // the form a peer uses is worth knowing for when we advertise.
            if self.discard_reason(src, advert).is_none() {
                self.learn_form(src, form);
            }
            return;
        }
        if let Some(why) = self.discard_reason(src, advert) {
            out.push(Action::Discarded { src, why });
            return;
        }
        if !same_addresses(&advert.addresses, &self.config.addresses) {
            out.push(Action::AddressListMismatch { src });
        }
        match self.state {
            State::Backup => self.backup_heard(src, advert, form, now, out),
            State::Master => self.master_heard(src, advert, now, out),
            _ => {}
        }
        self.learn_form(src, form);
    }

    /// Router-level checks on an advertisement that passed the wire checks.
    fn discard_reason(&self, src: IpAddr, advert: &Advertisement) -> Option<Discard> {
        if src == self.config.primary_address {
            return Some(Discard::OwnAdvert);
        }
        if advert.vrid != self.config.vrid {
            return Some(Discard::VridMismatch);
        }
        if advert.version != self.config.version {
            return Some(Discard::VersionMismatch);
        }
        let family = self.config.family();
        if Family::of(&src) != family || advert.addresses.iter().any(|a| Family::of(a) != family) {
            return Some(Discard::FamilyMismatch);
        }
        if self.config.version == Version::V2 && advert.interval != self.config.advert_interval {
            return Some(Discard::IntervalMismatch);
        }
        None
    }

    /// RFC 9568 §6.4.2, Backup receiving an advertisement.
    fn backup_heard(
        &mut self,
        src: IpAddr,
        advert: &Advertisement,
        form: ChecksumForm,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let local = self.effective_priority();
        // RFC 9568 assumes one master. While two exist (a split brain healing, several
        // equal-priority routers timing out together) a backup follows the best one it
        // hears, and only that one: a lesser master's advertisements neither reset our
        // timer nor teach us its interval, and its priority 0 does not arm our skew.
        // Only while the best one keeps advertising, though: once it has been silent for
        // two of its intervals it may be gone (crashed), and the lesser master that took
        // over from it is the one to follow. Otherwise, in a group of three, the lowest
        // backup would ignore the new master and take over too when the dead master's
        // timer runs out. Two intervals, not one: a best master that is merely late by
        // some jitter must not hand its followers to a lesser one (whose priority 0 they
        // would then honour); a successor is first heard after master_down, more than
        // three intervals.
        let follows = match self.followed {
            None => true,
            Some(followed) => {
                src == followed.src
                    || (advert.priority, src) > (followed.priority, followed.src)
                    || now.saturating_since(followed.heard_at)
                        > self.master_adver_interval.to_duration() * 2
            }
        };
        if !follows {
            return;
        }
        let heard = MasterHeard {
            src,
            priority: advert.priority,
            interval: advert.interval,
            at: now,
            checksum_form: form,
        };
        if advert.priority == LEAVING_PRIORITY {
            self.master_heard = Some(heard);
            self.followed = None;
            self.master_left = true;
            self.wants_master = None;
            if self.config.in_pair() {
                // No other backup to give precedence to: skew time would only leave
                // the addresses unserved. Make-before-break as on any takeover (the
                // addresses and the announcement come before our advertisement).
                self.master_down_at = None;
                self.master_gone(now, Reason::MasterLeftInPair, out);
            } else {
                self.master_down_at = Some(now + self.skew());
            }
            return;
        }
        let lower = advert.priority < local;
        if lower && self.config.preempt && self.preempt_hold_until.is_none() {
            // First lower-priority advertisement of this episode: start the delay.
            if !self.config.preempt_delay.is_zero() {
                self.preempt_hold_until = Some(now + self.config.preempt_delay);
            }
        }
        let held = self.preempt_hold_until.is_some_and(|until| now < until);
        if !self.config.preempt || !lower || held {
            if !lower {
                // A master at least as good as us: a later lower-priority episode gets
                // a fresh preempt delay.
                self.preempt_hold_until = None;
            }
            if self.config.version == Version::V3 {
                self.master_adver_interval = advert.interval;
            }
            self.followed = Some(Followed {
                src,
                priority: advert.priority,
                heard_at: now,
            });
            if self.tally.last_master != Some(src) {
                self.tally.last_master = Some(src);
                self.tally.master_changes += 1;
            }
            self.master_heard = Some(heard);
            self.master_left = false;
            self.wants_master = None;
            self.master_down_at = Some(now + self.master_down_interval());
        }
        // Else: preempting. Discard, so that master-down expires and we take over.
    }

    /// RFC 9568 §6.4.3, Master receiving an advertisement.
    fn master_heard(
        &mut self,
        src: IpAddr,
        advert: &Advertisement,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        if self.is_handing_over() {
            if advert.priority != LEAVING_PRIORITY {
                self.finish_handover(Reason::HandedOver { src }, out);
            }
            return;
        }
        let local = self.effective_priority();
        if advert.priority == LEAVING_PRIORITY {
            // RFC 9568 §6.4.3: answer at once (a leaving master's backups wait only
            // skew time). Another master was serving the addresses until now, so
            // clients may point at it: re-announce, at most once per quarter interval.
            out.push(Action::SendAdvert { priority: local });
            self.advert_at = Some(now + self.config.advert_interval.to_duration());
            if self.may_reply_at_once(now) {
                self.announce(now, out);
            }
            return;
        }
        let better = advert.priority > local
            || (advert.priority == local && src > self.config.primary_address);
        if better {
            if self.config.version == Version::V3 {
                self.master_adver_interval = advert.interval;
            }
            self.leave_master(
                State::Backup,
                now,
                Reason::BetterMaster {
                    src,
                    priority: advert.priority,
                },
                out,
            );
            return;
        }
        // A lower priority master exists (split brain healing, or a peer that just
        // started): assert ourselves now rather than at the next tick, and
        // re-announce so that clients that followed the other master come back. At most
        // once per quarter interval, so a flood cannot make us flood.
        if !self.may_reply_at_once(now) {
            return;
        }
        self.tally.split_brain_heals += 1;
        out.push(Action::SendAdvert { priority: local });
        self.announce(now, out);
        self.advert_at = Some(now + self.config.advert_interval.to_duration());
    }

    /// Rate limit of the immediate answers a master gives to other masters: at most
    /// one per quarter of our interval, so a flood cannot make us flood.
    fn may_reply_at_once(&mut self, now: Instant) -> bool {
        let quarter = self.config.advert_interval.to_duration() / 4;
        if self
            .last_immediate_reply
            .is_some_and(|last| now.saturating_since(last) < quarter)
        {
            return false;
        }
        self.last_immediate_reply = Some(now);
        true
    }

    fn on_health(&mut self, weight: i32, fault: bool, now: Instant, out: &mut Vec<Action>) {
        let before = self.effective_priority();
        self.health_weight = weight;
        let after = self.effective_priority();
        let fault_changed = fault != self.health_fault;
        self.health_fault = fault;
        if fault_changed {
            let reason = if fault {
                Reason::HealthFault
            } else {
                Reason::HealthRecovered
            };
            self.update_fault(now, reason, out);
        }
        if before == after {
            return;
        }
        out.push(Action::PriorityChanged {
            from: before,
            to: after,
        });
        match self.state {
            State::Master if !self.is_handing_over() => {
                // Advertise a priority change at once so backups can preempt.
                out.push(Action::SendAdvert { priority: after });
                self.advert_at = Some(now + self.config.advert_interval.to_duration());
            }
            State::Backup => self.rescale_master_down(before),
            _ => {}
        }
    }

    /// After our priority changed from `before`: keep the master-down timer's start
    /// (when the master was last heard) but apply the skew of the new priority.
    fn rescale_master_down(&mut self, before: u8) {
        if let Some(deadline) = self.master_down_at
            && !self.master_left
        {
            let old_interval = timers::master_down_interval(before, self.master_adver_interval);
            let heard_at = deadline.since_epoch().saturating_sub(old_interval);
            self.master_down_at = Some(Instant::from_epoch(heard_at) + self.master_down_interval());
        }
    }

    /// Replace the configuration on a reload, keeping state and addresses.
    ///
    /// The caller guarantees the identity is unchanged (same VRID, version and family).
    /// A master whose addresses changed puts the interface in line and announces the new
    /// ones, then advertises its new priority and interval at once; a backup rescales
    /// its master-down timer. Nothing else moves: an unchanged router loses no packet.
    pub fn reconfigure(&mut self, config: RouterConfig, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let before = self.effective_priority();
        let was_blocking = self.blocks_address_traffic();
        let changed = config != self.config;
        let old = std::mem::replace(&mut self.config, config);
        let after = self.effective_priority();
        if !changed || self.state == State::Stopped {
            return out;
        }
        match &self.config.unicast_peers {
            Some(peers) => self.peer_forms.retain(|peer, _| peers.contains(peer)),
            None => self.peer_forms.clear(),
        }
        let entries = |c: &RouterConfig| -> BTreeSet<(IpAddr, Option<u8>)> {
            let prefixes = c
                .prefix_lens
                .iter()
                .map(|&p| Some(p))
                .chain(std::iter::repeat(None));
            c.addresses.iter().copied().zip(prefixes).collect()
        };
        let (old_entries, new_entries) = (entries(&old), entries(&self.config));
        let addresses_changed = old_entries != new_entries;
        if self.state == State::Master && addresses_changed {
            // The kernel keys addresses by (address, prefix): one whose prefix changed
            // is added anew, then the old one removed, so the address never blinks.
            out.push(Action::ReconcileAddresses);
            if !self.is_handing_over() && !new_entries.is_subset(&old_entries) {
                self.announce(now, &mut out);
            }
        }
        if before != after {
            out.push(Action::PriorityChanged {
                from: before,
                to: after,
            });
        }
        match self.state {
            State::Master if !self.is_handing_over() => {
                let blocking = self.blocks_address_traffic();
                if blocking != was_blocking || (blocking && addresses_changed) {
                    // Also when the addresses changed: the block covers the new ones.
                    out.push(Action::BlockAddressTraffic(blocking));
                }
                self.master_adver_interval = self.config.advert_interval;
                out.push(Action::SendAdvert { priority: after });
                self.advert_at = Some(now + self.config.advert_interval.to_duration());
            }
            State::Backup => {
                if self.config.version == Version::V2 {
                    self.master_adver_interval = self.config.advert_interval;
                }
                self.rescale_master_down(before);
                if self.config.preempt_delay.is_zero() {
                    self.preempt_hold_until = None;
                }
            }
            _ => {}
        }
        out
    }

    /// Enter or leave Fault after one of its causes changed.
    fn update_fault(&mut self, now: Instant, reason: Reason, out: &mut Vec<Action>) {
        let fault = self.in_fault();
        match (self.state, fault) {
            (State::Backup, true) => {
                self.clear_timers();
                self.transition(State::Fault, reason, out);
            }
            (State::Master, true) => {
                if self.is_handing_over() {
                    self.finish_handover(reason, out);
                    return;
                }
                // Tell the backups at once (they take over after skew time), then let go.
                out.push(Action::SendAdvert {
                    priority: LEAVING_PRIORITY,
                });
                self.leave_master(State::Fault, now, reason, out);
            }
            (State::Fault, false) => {
                let reason = match reason {
                    Reason::InterfaceDown | Reason::InterfaceUp => Reason::InterfaceUp,
                    Reason::HealthFault | Reason::HealthRecovered => Reason::HealthRecovered,
                    other => other,
                };
                self.join(now, reason, out);
            }
            _ => {}
        }
    }

    /// Enter service from Initialize or Fault (RFC 9568 §6.4.1): an owner becomes
    /// master at once, anyone else waits to hear a master.
    fn join(&mut self, now: Instant, reason: Reason, out: &mut Vec<Action>) {
        // Whatever interval we learned from an earlier master is stale now.
        self.master_adver_interval = self.config.advert_interval;
        if self.config.is_owner() {
            self.become_master(now, reason, out);
        } else {
            self.become_backup(now, reason, out);
            if !self.config.preempt_delay.is_zero() {
                self.preempt_hold_until = Some(now + self.config.preempt_delay);
            }
        }
    }

    /// Backup: the master is gone (master-down expired, or it left and we need not
    /// wait): take over, or, in a sync group, want to.
    fn master_gone(&mut self, now: Instant, reason: Reason, out: &mut Vec<Action>) {
        self.followed = None;
        if self.in_sync_group {
            // keepalived's rule: a group goes to Master only when every member wants
            // to, which keeps members with different intervals from dragging each
            // other back and forth.
            self.master_down_at = None;
            self.wants_master = Some(reason);
        } else {
            self.become_master(now, reason, out);
        }
    }

    fn become_master(&mut self, now: Instant, reason: Reason, out: &mut Vec<Action>) {
        self.clear_timers();
        self.master_adver_interval = self.config.advert_interval;
        // Addresses, then the announcement, then the advertisement: a leaving master
        // releases its addresses when it hears us, so by then ours must be in place and
        // clients must already be told to come to us (make-before-break). RFC 9568
        // §6.4.2 lists the advertisement first; the order matters only in that window.
        if self.blocks_address_traffic() {
            out.push(Action::BlockAddressTraffic(true));
        }
        out.push(Action::AddAddresses);
        self.announce(now, out);
        out.push(Action::SendAdvert {
            priority: self.effective_priority(),
        });
        self.advert_at = Some(now + self.config.advert_interval.to_duration());
        self.announce_at = self
            .config
            .announce_repeat_after
            .or(self.config.announce_refresh_every)
            .map(|after| now + after);
        self.transition(State::Master, reason, out);
    }

    fn become_backup(&mut self, now: Instant, reason: Reason, out: &mut Vec<Action>) {
        self.clear_timers();
        self.master_down_at = Some(now + self.master_down_interval());
        self.transition(State::Backup, reason, out);
    }

    /// Master -> Backup or Fault: release the addresses.
    fn leave_master(&mut self, to: State, now: Instant, reason: Reason, out: &mut Vec<Action>) {
        if to == State::Backup {
            // Say that we stop being master (priority 0). The winner may never have
            // heard us (after a partition heals, whoever hears the other first
            // decides); hearing priority 0 it advertises at once and re-announces, so
            // clients that followed us come back to it. Not our own priority: third-party
            // backups would learn our interval from it and could time out before the
            // winner's next advertisement. Priority 0 arms their skew timers instead,
            // which the winner's immediate answer resets.
            out.push(Action::SendAdvert {
                priority: LEAVING_PRIORITY,
            });
        }
        self.release_addresses(out);
        if to == State::Backup {
            self.become_backup(now, reason, out);
            // Once more after an interval: a heal can be one-way for a moment (ports and
            // bonds come up at different times), and the winner must hear it once.
            self.farewell_at = Some(now + self.config.advert_interval.to_duration());
        } else {
            self.clear_timers();
            self.transition(to, reason, out);
        }
    }

    /// End of a make-before-break shutdown.
    fn finish_handover(&mut self, reason: Reason, out: &mut Vec<Action>) {
        self.release_addresses(out);
        self.clear_timers();
        self.transition(State::Stopped, reason, out);
    }

    fn release_addresses(&mut self, out: &mut Vec<Action>) {
        out.push(Action::RemoveAddresses);
        if self.blocks_address_traffic() {
            out.push(Action::BlockAddressTraffic(false));
        }
    }

    fn blocks_address_traffic(&self) -> bool {
        !self.config.accept_mode && !self.config.is_owner()
    }

    fn clear_timers(&mut self) {
        self.master_down_at = None;
        self.advert_at = None;
        self.announce_at = None;
        self.burst_at = None;
        self.burst_left = 0;
        self.handover_deadline = None;
        self.preempt_hold_until = None;
        self.master_left = false;
        self.farewell_at = None;
        self.followed = None;
        self.master_heard = None;
        self.wants_master = None;
        self.last_immediate_reply = None;
    }

    fn transition(&mut self, to: State, reason: Reason, out: &mut Vec<Action>) {
        let from = self.state;
        self.state = to;
        if to == State::Master && self.tally.last_master != Some(self.config.primary_address) {
            // We are the master now: a change of master as seen from here.
            self.tally.last_master = Some(self.config.primary_address);
            self.tally.master_changes += 1;
        }
        out.push(Action::Transition { from, to, reason });
    }
}

/// Configured priority plus health weights, clamped to 1..=254; an owner (255) stays
/// 255 whatever the weights (keepalived ignores weights for an owner too). The sum
/// saturates: a drain file holding a huge number gives a weight near `i32::MAX`, which
/// must clamp to 254, not wrap.
pub fn effective_priority(configured: u8, weight: i32) -> u8 {
    if configured == OWNER_PRIORITY {
        return OWNER_PRIORITY;
    }
    i32::from(configured).saturating_add(weight).clamp(1, 254) as u8
}

/// The next periodic deadline after `deadline`, without drift, but never in the past
/// (a late wakeup does not cause a burst of catch-up advertisements).
fn next_period(deadline: Instant, period: Centisecs, now: Instant) -> Instant {
    let next = deadline + period.to_duration();
    if next > now {
        next
    } else {
        now + period.to_duration()
    }
}

fn same_addresses(a: &[IpAddr], b: &[IpAddr]) -> bool {
    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::proto::packet::Auth;

    const WITH: ChecksumForm = ChecksumForm::WithPseudoHeader;
    const WITHOUT: ChecksumForm = ChecksumForm::WithoutPseudoHeader;
    const GROUP: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn config(peers: Option<Vec<IpAddr>>) -> RouterConfig {
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
            announce_repeat_after: None,
            announce_refresh_every: None,
            checksum_form: None,
            unicast_peers: peers,
            hosts: None,
        }
    }

    fn heard(src: IpAddr, priority: u8, form: ChecksumForm) -> Event {
        Event::Advert {
            src,
            advert: Advertisement {
                version: Version::V3,
                vrid: 7,
                priority,
                interval: Centisecs(100),
                addresses: vec![ip(100)],
                auth: Auth::None,
            },
            form,
        }
    }

    fn started(config: RouterConfig) -> Router {
        let mut router = Router::new(config);
        router.step(Event::Startup, Instant::ZERO);
        router
    }

    #[test]
    fn the_tally_counts_master_changes_and_split_brain_heals() {
        let at = |ms| Instant::ZERO + Duration::from_millis(ms);
        let mut r = started(config(None));
        assert_eq!(r.snapshot().tally.master_changes, 0);
        // Following .20, then the same again: one change.
        r.step(heard(ip(20), 200, WITH), at(100));
        r.step(heard(ip(20), 200, WITH), at(1_100));
        assert_eq!(r.snapshot().tally.master_changes, 1);
        // .20 goes silent: we become master ourselves, a second change.
        r.step(Event::Timer, at(10_000));
        assert_eq!(r.state(), State::Master);
        assert_eq!(r.snapshot().tally.master_changes, 2);
        // A lower-priority master: we assert ourselves at once (advert + announce).
        let actions = r.step(heard(ip(30), 50, WITH), at(10_500));
        assert!(
            actions.contains(&Action::SendAdvert { priority: 100 }),
            "{actions:?}"
        );
        assert_eq!(r.snapshot().tally.split_brain_heals, 1);
        // Within a quarter interval the answer is rate limited, and not counted.
        r.step(heard(ip(30), 50, WITH), at(10_510));
        assert_eq!(r.snapshot().tally.split_brain_heals, 1);
        // A better master takes over: a third change once we follow it.
        r.step(heard(ip(40), 200, WITH), at(11_000));
        assert_eq!(r.state(), State::Backup);
        r.step(heard(ip(40), 200, WITH), at(12_000));
        assert_eq!(r.snapshot().tally.master_changes, 3);
    }

    #[test]
    fn a_backup_follows_the_lesser_master_once_the_best_one_is_silent() {
        // Priority 100, interval 1 s: master_down = 3 s + skew (0.609 s).
        let mut r = started(config(None));
        let at = |ms| Instant::ZERO + Duration::from_millis(ms);
        r.step(heard(ip(200), 200, WITH), at(1000));
        // While the best master advertises, a lesser one (a split brain) is ignored:
        // the master-down timer stays where the best one's advertisement set it.
        r.step(heard(ip(150), 150, WITH), at(1500));
        assert_eq!(r.master_down_at, Some(at(1000) + r.master_down_interval()));
        // Nor when the best one is late by less than two of its intervals.
        r.step(heard(ip(150), 150, WITH), at(2900));
        assert_eq!(r.master_down_at, Some(at(1000) + r.master_down_interval()));
        // The best master missed an advertisement (crashed); the lesser one that took
        // over is followed now, so this backup does not time out and take over too.
        r.step(heard(ip(150), 150, WITH), at(4500));
        assert_eq!(r.master_down_at, Some(at(4500) + r.master_down_interval()));
        r.step(Event::Timer, at(1000) + r.master_down_interval());
        assert_eq!(r.state(), State::Backup);
        // And the best one, back, is followed again at once.
        r.step(heard(ip(200), 200, WITH), at(4600));
        r.step(heard(ip(150), 150, WITH), at(4700));
        assert_eq!(r.master_down_at, Some(at(4600) + r.master_down_interval()));
    }

    #[test]
    fn multicast_answers_in_the_form_of_the_master_it_follows() {
        let mut r = started(config(None));
        assert_eq!(
            r.checksum_form_for(GROUP),
            WITH,
            "the RFC's form until heard"
        );
        r.step(heard(ip(20), 200, WITHOUT), Instant::ZERO);
        assert_eq!(r.checksum_form_for(GROUP), WITHOUT);
        // A lesser master (not followed) does not change it.
        r.step(heard(ip(21), 150, WITH), Instant::ZERO);
        assert_eq!(r.checksum_form_for(GROUP), WITHOUT);
        // The followed master switching form does.
        r.step(heard(ip(20), 200, WITH), Instant::ZERO);
        assert_eq!(r.checksum_form_for(GROUP), WITH);
        assert_eq!(
            r.snapshot().master.map(|m| (m.src, m.checksum_form)),
            Some((ip(20), WITH))
        );
    }

    #[test]
    fn multicast_keeps_one_form_whatever_the_sources() {
        let mut r = started(config(None));
        // A master hears (spoofed) lower-priority sources: each is a valid advert.
        let at = r.next_deadline().unwrap();
        r.step(Event::Timer, at);
        assert_eq!(r.state(), State::Master);
        for last in 20..=250 {
            let form = if last % 2 == 0 { WITH } else { WITHOUT };
            r.step(heard(ip(last), 50, form), at);
        }
        assert!(r.peer_forms.is_empty(), "no per-source map in multicast");
        assert_eq!(r.checksum_form_for(GROUP), WITH, "the last valid advert's");
        // Our own advertisement looped back teaches nothing.
        r.step(heard(ip(10), 100, WITHOUT), at);
        assert_eq!(r.checksum_form_for(GROUP), WITH);
    }

    #[test]
    fn unicast_answers_each_configured_peer_in_its_form() {
        let mut r = started(config(Some(vec![ip(20), ip(21)])));
        r.step(heard(ip(20), 200, WITHOUT), Instant::ZERO);
        assert_eq!(r.checksum_form_for(ip(20)), WITHOUT);
        // A peer not heard yet gets the form last heard.
        assert_eq!(r.checksum_form_for(ip(21)), WITHOUT);
        r.step(heard(ip(21), 200, WITH), Instant::ZERO);
        assert_eq!(r.checksum_form_for(ip(21)), WITH);
        assert_eq!(r.checksum_form_for(ip(20)), WITHOUT);
        // Anyone else is not remembered.
        r.step(heard(ip(22), 250, WITH), Instant::ZERO);
        assert_eq!(r.peer_forms.len(), 2);
        // A reload that drops a peer forgets it.
        r.reconfigure(config(Some(vec![ip(21)])), Instant::ZERO);
        assert_eq!(
            r.peer_forms.keys().copied().collect::<Vec<_>>(),
            vec![ip(21)]
        );
    }

    #[test]
    fn a_configured_form_is_always_used() {
        for form in [WITH, WITHOUT] {
            let mut r = started(RouterConfig {
                checksum_form: Some(form),
                ..config(Some(vec![ip(20)]))
            });
            let other = if form == WITH { WITHOUT } else { WITH };
            r.step(heard(ip(20), 200, other), Instant::ZERO);
            assert_eq!(r.checksum_form_for(ip(20)), form);
        }
    }

    #[test]
    fn the_snapshot_says_since_when_and_why() {
        let mut r = started(config(None));
        let snapshot = r.snapshot();
        assert_eq!(snapshot.state, State::Backup);
        assert_eq!(snapshot.reason, Some(Reason::Startup));
        let at = r.next_deadline().unwrap();
        assert_eq!(snapshot.deadlines.master_down, Some(at));
        r.step(Event::Timer, at);
        let snapshot = r.snapshot();
        assert_eq!((snapshot.state, snapshot.since), (State::Master, at));
        assert!(matches!(snapshot.reason, Some(Reason::MasterDown { .. })));
        assert!(snapshot.holds_addresses);
        r.step(Event::InterfaceDown, at);
        let snapshot = r.snapshot();
        assert!(snapshot.faults.interface_down);
        assert_eq!(snapshot.deadlines, Deadlines::default());
        // One serialisable value (what `status --json` will print).
        let json = serde_json::to_value(&snapshot).expect("serialise");
        assert_eq!(json["state"], "fault");
        assert_eq!(json["reason"], "interface_down");
        assert_eq!(json["faults"]["interface_down"], true);
    }
}
