//! A virtual LAN for the pure VRRP core: N routers on one segment, a virtual clock,
//! advertisements in flight with a fixed one-way delay, seeded loss, partitions,
//! priority changes, crashes, restarts and graceful shutdowns.
//!
//! In the style of quinn-proto's test pair: nothing sleeps and nothing reads a clock; the
//! clock jumps to the next thing that can happen (a router deadline or a packet arrival)
//! and everything due at that instant is processed before the invariants are checked.
//! Every advertisement goes through the real codec (encode -> bytes -> decode, TTL 255,
//! checksum with the pseudo-header) on its way from one router to another.
//!
//! A failure panics with the seed, the state of every router and the tail of the trace;
//! `SIM_SEED=n` reruns one seed, `SIM_SEEDS=n` changes the number of seeds and
//! `SIM_TRACE=full` prints the whole trace instead of its tail.

#![allow(dead_code)]

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeSet, BinaryHeap};
use std::fmt;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::rc::Rc;
use std::time::Duration;

use floatip::proto::fsm::{Action, Event, Router, RouterConfig, State};
use floatip::proto::group::SyncGroup;
use floatip::proto::packet::{
    self, Advertisement, Auth, ChecksumForm, DecodeOptions, EncodeCtx, Family, RecvMeta,
    VRRP_GROUP_V4, VRRP_GROUP_V6, VRRP_TTL, Version,
};
use floatip::proto::timers::{Centisecs, Instant};

// ---------------------------------------------------------------------------------------
// Seeds and randomness
// ---------------------------------------------------------------------------------------

/// SplitMix64: tiny, fast, and good enough to pick faults; no crate needed.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        self.next_u64() % n
    }

    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())].clone()
    }

    /// Uniform in `[0, max)` at nanosecond resolution (zero if `max` is zero).
    pub fn duration_below(&mut self, max: Duration) -> Duration {
        let nanos = max.as_nanos() as u64;
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.below(nanos))
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }
}

/// The seeds a scenario runs: `0..default`, or what `SIM_SEED` / `SIM_SEEDS` say.
///
/// Panics on a count of 0 or a value that does not parse: a scenario that ran no seed
/// would pass having checked nothing.
pub fn seeds(default: u64) -> std::ops::RangeInclusive<u64> {
    seeds_from(
        std::env::var("SIM_SEED").ok().as_deref(),
        std::env::var("SIM_SEEDS").ok().as_deref(),
        default,
    )
}

/// `seeds` with the environment passed in, so that its refusals can be tested.
pub fn seeds_from(
    seed: Option<&str>,
    count: Option<&str>,
    default: u64,
) -> std::ops::RangeInclusive<u64> {
    if let Some(seed) = seed {
        let Ok(seed) = seed.trim().parse::<u64>() else {
            panic!("SIM_SEED={seed:?} is not a seed (a non-negative integer)");
        };
        return seed..=seed;
    }
    let count = match count {
        None => default,
        Some(text) => match text.trim().parse::<u64>() {
            Ok(count) => count,
            Err(_) => panic!("SIM_SEEDS={text:?} is not a number of seeds"),
        },
    };
    assert!(
        count > 0,
        "SIM_SEEDS=0 (or a default of 0) would run no seed and check nothing"
    );
    0..=count - 1
}

/// A stable per-scenario salt, so that seed 7 of two scenarios are different runs.
pub fn salt(name: &str) -> u64 {
    // FNV-1a.
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

// ---------------------------------------------------------------------------------------
// Addresses and configurations (documentation prefixes only)
// ---------------------------------------------------------------------------------------

/// The primary address of node `index`: 192.0.2.(10+i) or 2001:db8::(10+i).
pub fn node_address(family: Family, index: usize) -> IpAddr {
    let host = u8::try_from(10 + index).expect("at most 245 nodes");
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::new(192, 0, 2, host)),
        Family::V6 => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(host))),
    }
}

/// The virtual address of VRID `vrid`: 192.0.2.100 for VRID 1, 192.0.2.101 for VRID 2...
/// (2001:db8::100, 2001:db8::101... for IPv6).
pub fn virtual_address(family: Family, vrid: u8) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99 + vrid)),
        Family::V6 => IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0,
            0,
            0,
            0,
            0,
            0x100 + u16::from(vrid) - 1,
        )),
    }
}

/// The multicast group advertisements are sent to.
pub fn group_address(family: Family) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(VRRP_GROUP_V4),
        Family::V6 => IpAddr::V6(VRRP_GROUP_V6),
    }
}

/// A VRRPv3 router with the defaults floatip ships: preempt on, no preempt delay, accept
/// mode on, one repeated announcement after 2 s, no periodic refresh.
pub fn router_config(
    family: Family,
    node: usize,
    vrid: u8,
    priority: u8,
    interval: Centisecs,
) -> RouterConfig {
    RouterConfig {
        vrid,
        version: Version::V3,
        priority,
        advert_interval: interval,
        preempt: true,
        preempt_delay: Duration::ZERO,
        accept_mode: true,
        primary_address: node_address(family, node),
        addresses: vec![virtual_address(family, vrid)],
        prefix_lens: vec![24],
        announce_burst: 3,
        announce_burst_interval: Duration::from_millis(10),
        announce_repeat_after: Some(Duration::from_secs(2)),
        announce_refresh_every: None,
        checksum_form: None,
        unicast_peers: None,
        hosts: None,
    }
}

/// Configured priority plus health weight, clamped to 1..=254; an owner stays 255.
/// Written out here rather than borrowed from the core, so that the core is checked.
pub fn model_priority(configured: u8, weight: i32) -> u8 {
    if configured == 255 {
        255
    } else {
        // In i64: no i32 weight can overflow it, so there is nothing to saturate.
        (i64::from(configured) + i64::from(weight)).clamp(1, 254) as u8
    }
}

/// RFC 9568 §6.1 skew, at nanosecond resolution, written out independently of
/// `timers::skew` so the exact-time checks do not just compare the core with itself.
pub fn model_skew(priority: u8, interval: Centisecs) -> Duration {
    let interval_nanos = u64::from(interval.0) * 10_000_000;
    Duration::from_nanos(interval_nanos * (256 - u64::from(priority)) / 256)
}

/// How long a backup that hears priority 0 from the master it follows waits before it
/// takes over: RFC 9568's skew, except for the only backup of a pair (`hosts: 2`, or
/// unicast with one peer), which takes over the instant the priority 0 arrives. Written
/// from the configuration, not from `RouterConfig::in_pair`, so the core is checked.
pub fn model_leave_wait(config: &RouterConfig, priority: u8, interval: Centisecs) -> Duration {
    let pair = match (&config.unicast_peers, config.hosts) {
        (Some(peers), _) if peers.len() == 1 => true,
        (_, Some(hosts)) => hosts == 2,
        _ => false,
    };
    if pair {
        Duration::ZERO
    } else {
        model_skew(priority, interval)
    }
}

/// RFC 9568 §6.1 master-down interval: 3 * interval + skew.
pub fn model_master_down(priority: u8, interval: Centisecs) -> Duration {
    interval.to_duration() * 3 + model_skew(priority, interval)
}

// ---------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------

/// What runs on a node: one router, or a sync group of several (one per VRID).
#[derive(Debug)]
pub enum Instance {
    Single(Box<Router>),
    Group(SyncGroup),
}

impl Instance {
    fn new(configs: &[RouterConfig]) -> Instance {
        if let [config] = configs {
            Instance::Single(Box::new(Router::new(config.clone())))
        } else {
            Instance::Group(SyncGroup::new(
                configs.iter().cloned().map(Router::new).collect(),
            ))
        }
    }

    pub fn members(&self) -> &[Router] {
        match self {
            Instance::Single(router) => std::slice::from_ref(router),
            Instance::Group(group) => group.members(),
        }
    }

    fn step(&mut self, member: usize, event: Event, now: Instant) -> Vec<(usize, Action)> {
        match self {
            Instance::Single(router) => {
                assert_eq!(member, 0, "a single router has one member");
                router
                    .step(event, now)
                    .into_iter()
                    .map(|action| (0, action))
                    .collect()
            }
            Instance::Group(group) => group.step(member, event, now),
        }
    }

    fn step_all(&mut self, event: &Event, now: Instant) -> Vec<(usize, Action)> {
        match self {
            Instance::Single(_) => self.step(0, event.clone(), now),
            Instance::Group(group) => group.step_all(event, now),
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        match self {
            Instance::Single(router) => router.next_deadline(),
            Instance::Group(group) => group.next_deadline(),
        }
    }

    fn on_timer(&mut self, now: Instant) -> Vec<(usize, Action)> {
        match self {
            Instance::Single(router) => {
                if router
                    .next_deadline()
                    .is_some_and(|deadline| deadline <= now)
                {
                    self.step(0, Event::Timer, now)
                } else {
                    Vec::new()
                }
            }
            Instance::Group(group) => group.on_timer(now),
        }
    }
}

/// One host on the LAN. Member `m` of every node is the same VRID.
#[derive(Debug)]
pub struct Node {
    pub address: IpAddr,
    pub configs: Vec<RouterConfig>,
    /// `None`: never started, or crashed.
    pub instance: Option<Instance>,
    /// Who holds the virtual addresses, as the AddAddresses/RemoveAddresses actions say.
    pub holds: Vec<bool>,
    /// The health the harness reported, per member (the model of effective priority).
    pub weight: Vec<i32>,
    pub health_fault: Vec<bool>,
    pub interface_down: bool,
    /// When each member last sent an advertisement with a non-zero priority.
    pub last_advert: Vec<Option<Instant>>,
    /// Whether traffic to the member's addresses is blocked (accept mode off).
    pub blocked: Vec<bool>,
    /// Since when each member is master, whether its repeated announcement was seen,
    /// and when it last announced.
    pub master_since: Vec<Option<Instant>>,
    pub repeat_seen: Vec<bool>,
    pub last_announce: Vec<Option<Instant>>,
    /// The instance's next deadline, refreshed after every step (asking the routers
    /// each time the loop looks for the next event dominates the run time in debug).
    deadline: Option<Instant>,
}

impl Node {
    pub fn router(&self, member: usize) -> Option<&Router> {
        self.instance
            .as_ref()
            .and_then(|instance| instance.members().get(member))
    }

    fn own_fault(&self, member: usize) -> bool {
        self.interface_down || self.health_fault[member]
    }
}

// ---------------------------------------------------------------------------------------
// Trace
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub enum What {
    /// An action a router returned.
    Act(Action),
    /// An advertisement was delivered (after decode) to this router.
    Recv {
        from: usize,
        priority: u8,
        /// The receiver's effective priority when it arrived.
        local_priority: u8,
    },
    /// Something the scenario did (a fault, a start...).
    Note(String),
}

#[derive(Debug, Clone)]
pub struct TraceEntry {
    pub at: Instant,
    /// `None` for LAN-wide notes.
    pub node: Option<usize>,
    pub member: usize,
    pub what: What,
}

impl fmt::Display for TraceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            Some(node) => write!(f, "{:>12} n{node}/m{} ", self.at.to_string(), self.member)?,
            None => write!(f, "{:>12} lan     ", self.at.to_string())?,
        }
        match &self.what {
            What::Act(action) => write!(f, "{action:?}"),
            What::Recv {
                from,
                priority,
                local_priority,
            } => write!(f, "<- n{from} priority {priority} (local {local_priority})"),
            What::Note(note) => write!(f, "## {note}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The LAN
// ---------------------------------------------------------------------------------------

/// An advertisement on the wire.
#[derive(Debug)]
struct InFlight {
    at: Instant,
    seq: u64,
    from: usize,
    to: usize,
    /// The bytes, and what was encoded (to check the decode against), shared by all
    /// receivers of one transmission.
    frame: Rc<(Vec<u8>, Advertisement)>,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub cut: u64,
    pub to_dead: u64,
    pub unknown_vrid: u64,
    /// Transitions to Master.
    pub takeovers: u64,
    /// Settled instants at which the invariants were checked.
    pub instants: u64,
}

pub struct Lan {
    pub name: &'static str,
    pub seed: u64,
    pub family: Family,
    pub now: Instant,
    pub nodes: Vec<Node>,
    /// One-way delivery delay.
    pub delay: Duration,
    /// Extra random delay per packet, in `[0, jitter)` (reorders packets of different
    /// senders; zero unless a scenario sets it).
    pub jitter: Duration,
    /// Per-packet, per-receiver drop probability.
    pub loss: f64,
    /// Directed links (from, to) that drop everything.
    pub cut: BTreeSet<(usize, usize)>,
    pub rng: Rng,
    /// Process things due at the same instant (packets, timers of different nodes) in a
    /// random order rather than packets first, node order.
    pub shuffle_ties: bool,
    /// Check that the members of each sync group are all master or none.
    pub check_group_unity: bool,
    queue: BinaryHeap<Reverse<InFlight>>,
    next_seq: u64,
    pub trace: Vec<TraceEntry>,
    /// Moments a virtual address that had been held by someone became held by nobody.
    pub vip_gaps: Vec<(Instant, usize)>,
    ever_held: Vec<bool>,
    pub stats: Stats,
}

impl Lan {
    /// A LAN whose node `i` runs the routers `configs[i]` (all nodes the same VRIDs in the
    /// same order). Nothing is started.
    pub fn new(name: &'static str, seed: u64, configs: Vec<Vec<RouterConfig>>) -> Lan {
        let family = configs[0][0].family();
        let members = configs[0].len();
        let nodes = configs
            .into_iter()
            .map(|configs| {
                assert_eq!(configs.len(), members, "every node runs the same VRIDs");
                assert!(
                    configs
                        .iter()
                        .all(|c| c.primary_address == configs[0].primary_address)
                );
                Node {
                    address: configs[0].primary_address,
                    holds: vec![false; members],
                    weight: vec![0; members],
                    health_fault: vec![false; members],
                    interface_down: false,
                    last_advert: vec![None; members],
                    blocked: vec![false; members],
                    master_since: vec![None; members],
                    repeat_seen: vec![false; members],
                    last_announce: vec![None; members],
                    deadline: None,
                    instance: None,
                    configs,
                }
            })
            .collect::<Vec<Node>>();
        let addresses: BTreeSet<IpAddr> = nodes.iter().map(|n| n.address).collect();
        assert_eq!(
            addresses.len(),
            nodes.len(),
            "every node has its own address"
        );
        Lan {
            name,
            seed,
            family,
            now: Instant::ZERO,
            nodes,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            cut: BTreeSet::new(),
            rng: Rng::new(seed ^ salt(name) ^ 0x5EED_1A11),
            shuffle_ties: true,
            check_group_unity: members > 1,
            queue: BinaryHeap::new(),
            next_seq: 0,
            trace: Vec::new(),
            vip_gaps: Vec::new(),
            ever_held: vec![false; members],
            stats: Stats::default(),
        }
    }

    pub fn members(&self) -> usize {
        self.ever_held.len()
    }

    pub fn router(&self, node: usize, member: usize) -> Option<&Router> {
        self.nodes[node].router(member)
    }

    pub fn state(&self, node: usize, member: usize) -> Option<State> {
        self.router(node, member).map(Router::state)
    }

    /// Nodes whose member is in state Master (handing over included).
    pub fn masters(&self, member: usize) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&node| self.state(node, member) == Some(State::Master))
            .collect()
    }

    /// Nodes that hold the virtual addresses of `member`.
    pub fn holders(&self, member: usize) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&node| self.nodes[node].holds[member])
            .collect()
    }

    /// Nodes whose member takes part in elections: Backup, or Master and not leaving.
    pub fn eligible(&self, member: usize) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&node| {
                self.router(node, member).is_some_and(|r| match r.state() {
                    State::Backup => true,
                    State::Master => !r.is_handing_over(),
                    _ => false,
                })
            })
            .collect()
    }

    /// The model's effective priority of a member.
    pub fn priority(&self, node: usize, member: usize) -> u8 {
        let n = &self.nodes[node];
        model_priority(n.configs[member].priority, n.weight[member])
    }

    /// Convergence window after the last fault: the master-down interval of the lowest
    /// possible priority at the longest interval in use (a backup that hears nothing, or
    /// only lower priorities, takes over by then), two more intervals for the new master
    /// to be heard and answered, and a few delivery delays.
    pub fn convergence_window(&self) -> Duration {
        let longest = self.longest_interval();
        model_master_down(1, longest) + longest.to_duration() * 2 + (self.delay + self.jitter) * 4
    }

    pub fn longest_interval(&self) -> Centisecs {
        self.nodes
            .iter()
            .flat_map(|n| n.configs.iter().map(|c| c.advert_interval))
            .max()
            .expect("at least one router")
    }

    pub fn shortest_interval(&self) -> Centisecs {
        self.nodes
            .iter()
            .flat_map(|n| n.configs.iter().map(|c| c.advert_interval))
            .min()
            .expect("at least one router")
    }

    // -- faults and operations ------------------------------------------------------

    pub fn note(&mut self, node: Option<usize>, text: String) {
        self.trace.push(TraceEntry {
            at: self.now,
            node,
            member: 0,
            what: What::Note(text),
        });
    }

    /// Start (or restart after a crash or a shutdown) a node: a fresh daemon with fresh
    /// routers, healthy, interface up, then `Event::Startup`.
    pub fn start(&mut self, node: usize) {
        self.note(Some(node), "start".into());
        let now = self.now;
        let n = &mut self.nodes[node];
        assert!(
            n.holds.iter().all(|held| !held),
            "a node that is started holds no address"
        );
        n.weight.fill(0);
        n.health_fault.fill(false);
        n.interface_down = false;
        n.last_advert.fill(None);
        n.master_since.fill(None);
        n.last_announce.fill(None);
        assert!(
            n.blocked.iter().all(|b| !b),
            "a started node blocks nothing"
        );
        let mut instance = Instance::new(&n.configs);
        let actions = instance.step_all(&Event::Startup, now);
        n.instance = Some(instance);
        self.apply(node, actions);
    }

    pub fn start_all(&mut self) {
        for node in 0..self.nodes.len() {
            self.start(node);
        }
    }

    /// The host dies silently: no priority 0, and its addresses vanish with it.
    pub fn crash(&mut self, node: usize) {
        self.note(Some(node), "crash".into());
        self.nodes[node].instance = None;
        self.nodes[node].deadline = None;
        self.nodes[node].blocked.fill(false);
        self.nodes[node].master_since.fill(None);
        for member in 0..self.members() {
            if std::mem::replace(&mut self.nodes[node].holds[member], false) {
                self.address_released(member);
            }
        }
    }

    /// A graceful stop (`Event::Shutdown` to every member).
    pub fn shutdown(&mut self, node: usize) {
        self.note(Some(node), "shutdown".into());
        let now = self.now;
        if let Some(instance) = self.nodes[node].instance.as_mut() {
            let actions = instance.step_all(&Event::Shutdown, now);
            self.apply(node, actions);
        }
    }

    /// A health report for one member: `weight` added to its priority, `fault` = a
    /// weight-0 check fails.
    pub fn set_health(&mut self, node: usize, member: usize, weight: i32, fault: bool) {
        self.note(
            Some(node),
            format!("health m{member}: weight {weight}, fault {fault}"),
        );
        let now = self.now;
        let n = &mut self.nodes[node];
        n.weight[member] = weight;
        n.health_fault[member] = fault;
        if let Some(instance) = n.instance.as_mut() {
            let actions = instance.step(member, Event::Health { weight, fault }, now);
            self.apply(node, actions);
        }
    }

    /// The node's interface goes down or comes back (every member hears it). While it is
    /// down the node neither sends nor receives.
    pub fn set_interface(&mut self, node: usize, down: bool) {
        self.note(
            Some(node),
            format!("interface {}", if down { "down" } else { "up" }),
        );
        let now = self.now;
        let n = &mut self.nodes[node];
        n.interface_down = down;
        let event = if down {
            Event::InterfaceDown
        } else {
            Event::InterfaceUp
        };
        for member in 0..n.configs.len() {
            let n = &mut self.nodes[node];
            if let Some(instance) = n.instance.as_mut() {
                let actions = instance.step(member, event.clone(), now);
                self.apply(node, actions);
            }
        }
    }

    pub fn set_loss(&mut self, loss: f64) {
        self.note(None, format!("loss {:.1}%", loss * 100.0));
        self.loss = loss;
    }

    /// Cut every link between nodes on different sides (`side[i]` is node i's side).
    pub fn partition(&mut self, side: &[u8]) {
        self.note(None, format!("partition {side:?}"));
        for a in 0..self.nodes.len() {
            for b in 0..self.nodes.len() {
                if side[a] != side[b] {
                    self.cut.insert((a, b));
                }
            }
        }
    }

    /// Cut the link from `from` to `to` only (one direction).
    pub fn cut_link(&mut self, from: usize, to: usize) {
        self.note(None, format!("cut n{from} -> n{to}"));
        self.cut.insert((from, to));
    }

    pub fn heal(&mut self) {
        self.note(None, "heal".into());
        self.cut.clear();
    }

    // -- the loop -----------------------------------------------------------------------

    fn next_time(&self) -> Option<Instant> {
        let packet = self.queue.peek().map(|Reverse(p)| p.at);
        let timer = self.nodes.iter().filter_map(|n| n.deadline).min();
        packet.into_iter().chain(timer).min()
    }

    pub fn run_until(&mut self, end: Instant) {
        self.run_until_with(end, &mut |_| Ok(()));
    }

    pub fn run_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        self.run_until(end);
    }

    /// Run to `end`, checking the always-on invariants and `check` at every instant
    /// at which something happened (and once at `end`).
    pub fn run_until_with(
        &mut self,
        end: Instant,
        check: &mut dyn FnMut(&Lan) -> Result<(), String>,
    ) {
        while let Some(next) = self.next_time() {
            if next > end {
                break;
            }
            // A deadline already in the past (a timer re-armed from an earlier start)
            // fires now.
            self.now = self.now.max(next);
            self.settle();
            self.stats.instants += 1;
            let always = self.check_always();
            self.ensure(always);
            let extra = check(self);
            self.ensure(extra);
        }
        self.now = self.now.max(end);
        let extra = check(self);
        self.ensure(extra);
    }

    /// Process everything due at `now`, including what that causes at `now` (zero delay).
    fn settle(&mut self) {
        let mut steps = 0u32;
        loop {
            let now = self.now;
            let packet_due = self.queue.peek().is_some_and(|Reverse(p)| p.at <= now);
            let due_nodes: Vec<usize> = (0..self.nodes.len())
                .filter(|&node| self.nodes[node].deadline.is_some_and(|d| d <= now))
                .collect();
            if !packet_due && due_nodes.is_empty() {
                return;
            }
            steps += 1;
            if steps > 100_000 {
                self.fail("livelock: more than 100000 steps without virtual time advancing");
            }
            let take_packet =
                packet_due && (due_nodes.is_empty() || !self.shuffle_ties || self.rng.chance(0.5));
            if take_packet {
                let Some(Reverse(packet)) = self.queue.pop() else {
                    unreachable!("a packet was due");
                };
                self.deliver(packet);
            } else {
                let node = if self.shuffle_ties {
                    due_nodes[self.rng.index(due_nodes.len())]
                } else {
                    due_nodes[0]
                };
                self.fire_timers(node);
            }
        }
    }

    fn fire_timers(&mut self, node: usize) {
        let now = self.now;
        let Some(instance) = self.nodes[node].instance.as_mut() else {
            return;
        };
        let actions = instance.on_timer(now);
        self.apply(node, actions);
        if let Some(instance) = self.nodes[node].instance.as_ref() {
            for (member, router) in instance.members().iter().enumerate() {
                if let Some(deadline) = router.next_deadline()
                    && deadline <= now
                {
                    self.fail(&format!(
                        "timer spin: n{node}/m{member} still has deadline {deadline} <= now after Event::Timer ({:?})",
                        router.state()
                    ));
                }
            }
        }
    }

    fn deliver(&mut self, packet: InFlight) {
        let now = self.now;
        let to = packet.to;
        if self.nodes[to].instance.is_none() {
            self.stats.to_dead += 1;
            return;
        }
        if self.nodes[to].interface_down {
            self.stats.cut += 1;
            return;
        }
        let meta = RecvMeta {
            src: self.nodes[packet.from].address,
            dst: group_address(self.family),
            ttl: VRRP_TTL,
            ifindex: 1,
        };
        let (bytes, sent) = &*packet.frame;
        let decoded = match packet::decode(bytes, &meta, &DecodeOptions::default()) {
            Ok(decoded) => decoded,
            Err(reject) => self.fail(&format!(
                "decode rejected an advertisement encode produced: {reject} ({:02x?})",
                bytes
            )),
        };
        if decoded.advert != *sent {
            self.fail(&format!(
                "codec round trip changed the advertisement: sent {sent:?}, decoded {:?}",
                decoded.advert
            ));
        }
        if decoded.checksum_form != ChecksumForm::WithPseudoHeader {
            self.fail(&format!(
                "sent with the pseudo-header checksum, decoded as {:?}",
                decoded.checksum_form
            ));
        }
        let Some(member) = self.nodes[to]
            .configs
            .iter()
            .position(|c| c.vrid == decoded.advert.vrid)
        else {
            self.stats.unknown_vrid += 1;
            return;
        };
        let local_priority = self
            .router(to, member)
            .map_or(0, Router::effective_priority);
        self.trace.push(TraceEntry {
            at: now,
            node: Some(to),
            member,
            what: What::Recv {
                from: packet.from,
                priority: decoded.advert.priority,
                local_priority,
            },
        });
        self.stats.delivered += 1;
        let event = Event::Advert {
            src: meta.src,
            advert: decoded.advert,
            form: decoded.checksum_form,
        };
        let Some(instance) = self.nodes[to].instance.as_mut() else {
            return;
        };
        let actions = instance.step(member, event, now);
        self.apply(to, actions);
    }

    /// Carry out what a node's step returned (also called with nothing, so that the
    /// cached deadline is refreshed after every step).
    fn apply(&mut self, node: usize, actions: Vec<(usize, Action)>) {
        self.nodes[node].deadline = self.nodes[node]
            .instance
            .as_ref()
            .and_then(Instance::next_deadline);
        // Becoming master comes with the addresses, an advertisement and an announcement,
        // all in the same step.
        for (member, action) in &actions {
            if let Action::Transition {
                to: State::Master, ..
            } = action
            {
                let has = |wanted: fn(&Action) -> bool| {
                    actions.iter().any(|(m, a)| m == member && wanted(a))
                };
                if !has(|a| *a == Action::AddAddresses)
                    || !has(|a| *a == Action::Announce)
                    || !has(|a| matches!(a, Action::SendAdvert { priority } if *priority != 0))
                {
                    self.fail(&format!(
                        "n{node}/m{member} became master without AddAddresses + SendAdvert + Announce: {actions:?}"
                    ));
                }
            }
        }
        for (member, action) in actions {
            match &action {
                Action::SendAdvert { priority } => {
                    if *priority != 0 {
                        self.nodes[node].last_advert[member] = Some(self.now);
                    }
                    self.broadcast(node, member, *priority);
                }
                Action::AddAddresses => {
                    if std::mem::replace(&mut self.nodes[node].holds[member], true) {
                        self.fail(&format!(
                            "n{node}/m{member}: AddAddresses while holding them"
                        ));
                    }
                    self.ever_held[member] = true;
                }
                Action::RemoveAddresses => {
                    if !std::mem::replace(&mut self.nodes[node].holds[member], false) {
                        self.fail(&format!(
                            "n{node}/m{member}: RemoveAddresses while not holding them"
                        ));
                    }
                    self.address_released(member);
                }
                Action::Announce => {
                    let n = &mut self.nodes[node];
                    n.last_announce[member] = Some(self.now);
                    if let (Some(since), Some(repeat)) = (
                        n.master_since[member],
                        n.configs[member].announce_repeat_after,
                    ) && self.now == since + repeat
                    {
                        n.repeat_seen[member] = true;
                    }
                }
                Action::BlockAddressTraffic(block) => {
                    let config = &self.nodes[node].configs[member];
                    if config.accept_mode || config.is_owner() {
                        self.fail(&format!(
                            "n{node}/m{member}: BlockAddressTraffic with accept mode on or as owner"
                        ));
                    }
                    if std::mem::replace(&mut self.nodes[node].blocked[member], *block) == *block {
                        self.fail(&format!(
                            "n{node}/m{member}: BlockAddressTraffic({block}) twice"
                        ));
                    }
                }
                Action::Transition { from, to, .. } => {
                    let n = &mut self.nodes[node];
                    if *to == State::Master {
                        self.stats.takeovers += 1;
                        n.master_since[member] = Some(self.now);
                        n.repeat_seen[member] = false;
                    } else if *from == State::Master {
                        n.master_since[member] = None;
                    }
                }
                _ => {}
            }
            self.trace.push(TraceEntry {
                at: self.now,
                node: Some(node),
                member,
                what: What::Act(action),
            });
        }
    }

    fn address_released(&mut self, member: usize) {
        if self.ever_held[member] && self.holders(member).is_empty() {
            self.vip_gaps.push((self.now, member));
        }
    }

    /// Send an advertisement as node `from` would, whether or not it runs (a rogue or
    /// misbehaving sender, for flood tests).
    pub fn send_as(&mut self, from: usize, member: usize, priority: u8) {
        self.broadcast(from, member, priority);
    }

    fn broadcast(&mut self, from: usize, member: usize, priority: u8) {
        let config = &self.nodes[from].configs[member];
        let advert = Advertisement {
            version: config.version,
            vrid: config.vrid,
            priority,
            interval: config.advert_interval,
            addresses: config.addresses.clone(),
            auth: Auth::None,
        };
        let ctx = EncodeCtx {
            src: self.nodes[from].address,
            dst: group_address(self.family),
            checksum_form: ChecksumForm::WithPseudoHeader,
        };
        let bytes = match packet::encode(&advert, &ctx) {
            Ok(bytes) => bytes,
            Err(error) => self.fail(&format!("encode failed for {advert:?}: {error}")),
        };
        let frame = Rc::new((bytes, advert));
        self.stats.sent += 1;
        if self.nodes[from].interface_down {
            // Sent on a link that is down: nobody hears it.
            self.stats.cut += 1;
            return;
        }
        for to in 0..self.nodes.len() {
            if to == from {
                continue;
            }
            if self.cut.contains(&(from, to)) {
                self.stats.cut += 1;
                continue;
            }
            if self.loss > 0.0 && self.rng.chance(self.loss) {
                self.stats.lost += 1;
                continue;
            }
            let seq = self.next_seq;
            self.next_seq += 1;
            let jitter = self.rng.duration_below(self.jitter);
            self.queue.push(Reverse(InFlight {
                at: self.now + self.delay + jitter,
                seq,
                from,
                to,
                frame: Rc::clone(&frame),
            }));
        }
    }

    // -- invariants ---------------------------------------------------------------------

    /// What must hold at every instant, converged or not.
    pub fn check_always(&self) -> Result<(), String> {
        for (index, node) in self.nodes.iter().enumerate() {
            let Some(instance) = node.instance.as_ref() else {
                if node.holds.iter().any(|&held| held) {
                    return Err(format!("n{index} is down but holds an address"));
                }
                continue;
            };
            let members = instance.members();
            let mut earliest: Option<Instant> = None;
            for (member, router) in members.iter().enumerate() {
                let who = Who(index, member);
                let deadline = router.next_deadline();
                earliest = earliest.into_iter().chain(deadline).min();
                let state = router.state();
                if router.holds_addresses() != node.holds[member] {
                    return Err(format!(
                        "{who}: holds_addresses() = {} but the actions say {}",
                        router.holds_addresses(),
                        node.holds[member]
                    ));
                }
                let expected = model_priority(node.configs[member].priority, node.weight[member]);
                if state != State::Stopped && router.effective_priority() != expected {
                    return Err(format!(
                        "{who}: effective priority {} but configured {} + weight {} = {expected}",
                        router.effective_priority(),
                        node.configs[member].priority,
                        node.weight[member]
                    ));
                }
                if state != State::Stopped && router.has_own_fault() != node.own_fault(member) {
                    return Err(format!("{who}: has_own_fault() disagrees with the model"));
                }
                // A sibling's own fault as the sibling sees it: checked against the model
                // below for running members; a stopped member ignores health and link
                // events, so its view is frozen at the time it stopped.
                let group_fault = members
                    .iter()
                    .enumerate()
                    .any(|(m, sibling)| m != member && sibling.has_own_fault());
                let should_fault = node.own_fault(member) || group_fault;
                match state {
                    State::Initialize => {
                        return Err(format!("{who}: still in Initialize after Startup"));
                    }
                    State::Fault if !should_fault => {
                        return Err(format!("{who}: in Fault without a cause"));
                    }
                    State::Backup | State::Master if should_fault => {
                        return Err(format!("{who}: {state:?} although it has a fault"));
                    }
                    _ => {}
                }
                // A sync-group member whose master-down expired waits, without a timer,
                // for the rest of its group (keepalived's rule); anyone else in Backup
                // or Master always has a deadline.
                let waiting_for_group = state == State::Backup && router.wants_master();
                if matches!(state, State::Backup | State::Master)
                    && deadline.is_none()
                    && !waiting_for_group
                {
                    return Err(format!("{who}: {state:?} without any deadline (stuck)"));
                }
                let config = &node.configs[member];
                let should_block = !config.accept_mode && !config.is_owner() && node.holds[member];
                if node.blocked[member] != should_block {
                    return Err(format!(
                        "{who}: traffic blocked = {}, expected {should_block} (accept mode {}, holds {})",
                        node.blocked[member], config.accept_mode, node.holds[member]
                    ));
                }
                if state == State::Master
                    && !router.is_handing_over()
                    && let Some(since) = node.master_since[member]
                {
                    if let Some(repeat) = config.announce_repeat_after
                        && self.now > since + repeat
                        && !node.repeat_seen[member]
                    {
                        return Err(format!(
                            "{who}: master since {since}, no repeated announcement at {}",
                            since + repeat
                        ));
                    }
                    if let Some(every) = config.announce_refresh_every {
                        let gap = match config.announce_repeat_after {
                            Some(repeat) if !node.repeat_seen[member] => repeat,
                            _ => every,
                        };
                        let last = node.last_announce[member].unwrap_or(since);
                        if self.now - last > gap {
                            return Err(format!(
                                "{who}: no announcement since {last} (refresh every {every:?})"
                            ));
                        }
                    }
                }
                if state == State::Master && !router.is_handing_over() {
                    let interval = node.configs[member].advert_interval.to_duration();
                    let Some(last) = node.last_advert[member] else {
                        return Err(format!("{who}: master that never advertised"));
                    };
                    if self.now - last > interval {
                        return Err(format!(
                            "{who}: master silent for {:?} (interval {interval:?})",
                            self.now - last
                        ));
                    }
                    if deadline.is_none_or(|d| d > last + interval) {
                        return Err(format!(
                            "{who}: next deadline {deadline:?} is later than last advert {last} + interval"
                        ));
                    }
                }
            }
            if node.deadline != earliest {
                return Err(format!("n{index}: harness deadline cache is stale"));
            }
        }
        if self.check_group_unity {
            check_group_unity(self)?;
        }
        Ok(())
    }

    // -- reporting ----------------------------------------------------------------------

    /// Panic with the seed, the routers and the tail of the trace.
    pub fn fail(&self, message: &str) -> ! {
        panic!("{}", self.report(message))
    }

    pub fn ensure(&self, result: Result<(), String>) {
        if let Err(message) = result {
            self.fail(&message);
        }
    }

    pub fn report(&self, message: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n[{}] seed {} failed at {}: {message}",
            self.name, self.seed, self.now
        );
        let _ = writeln!(
            out,
            "delay {:?}, loss {:.1}%, cut {:?}",
            self.delay,
            self.loss * 100.0,
            self.cut
        );
        for (index, node) in self.nodes.iter().enumerate() {
            for (member, config) in node.configs.iter().enumerate() {
                let status = match node.router(member) {
                    None => "down".to_string(),
                    Some(r) => format!(
                        "{:?} eff {} master_adver {} deadline {:?} holds {}",
                        r.state(),
                        r.effective_priority(),
                        r.master_adver_interval(),
                        r.next_deadline().map(|d| d.to_string()),
                        node.holds[member]
                    ),
                };
                let _ = writeln!(
                    out,
                    "  n{index}/m{member} {} vrid {} prio {} iv {} preempt {}: {status}",
                    node.address,
                    config.vrid,
                    config.priority,
                    config.advert_interval,
                    config.preempt
                );
            }
        }
        let full = std::env::var("SIM_TRACE").is_ok_and(|v| v == "full");
        let tail = if full { self.trace.len() } else { 120 };
        let start = self.trace.len().saturating_sub(tail);
        let _ = writeln!(
            out,
            "-- trace entries {start}..{} (SIM_TRACE=full for all) --",
            self.trace.len()
        );
        for entry in &self.trace[start..] {
            let _ = writeln!(out, "{entry}");
        }
        let _ = writeln!(
            out,
            "rerun: SIM_SEED={} cargo test --test simulator {} -- --nocapture",
            self.seed, self.name
        );
        out
    }

    // -- trace queries ------------------------------------------------------------------

    /// Advertisements of `member` from `from` delivered to `to`: (time, priority, local
    /// priority at receipt).
    pub fn receipts(
        &self,
        from: usize,
        to: usize,
        member: usize,
    ) -> impl Iterator<Item = (Instant, u8, u8)> + '_ {
        self.trace.iter().filter_map(move |entry| match entry.what {
            What::Recv {
                from: f,
                priority,
                local_priority,
            } if f == from && entry.node == Some(to) && entry.member == member => {
                Some((entry.at, priority, local_priority))
            }
            _ => None,
        })
    }

    /// The actions of one router at or after `since`, with their times.
    pub fn actions_of(
        &self,
        node: usize,
        member: usize,
        since: Instant,
    ) -> impl Iterator<Item = (Instant, &Action)> + '_ {
        self.trace
            .iter()
            .filter_map(move |entry| match &entry.what {
                What::Act(action)
                    if entry.node == Some(node) && entry.member == member && entry.at >= since =>
                {
                    Some((entry.at, action))
                }
                _ => None,
            })
    }

    /// Transitions to Master of `member` at or after `since`: (time, node).
    pub fn takeovers(&self, member: usize, since: Instant) -> Vec<(Instant, usize)> {
        self.trace
            .iter()
            .filter_map(|entry| match (&entry.what, entry.node) {
                (
                    What::Act(Action::Transition {
                        to: State::Master, ..
                    }),
                    Some(node),
                ) if entry.member == member && entry.at >= since => Some((entry.at, node)),
                _ => None,
            })
            .collect()
    }
}

/// `n3/m0`, formatted only when a check fails.
#[derive(Clone, Copy)]
struct Who(usize, usize);

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}/m{}", self.0, self.1)
    }
}

// ---------------------------------------------------------------------------------------
// Scenario invariants (return Err rather than panic, so the harness can test them)
// ---------------------------------------------------------------------------------------

/// Invariant 1: at most one master and one holder of the address of `member`, and
/// exactly one of each if some router is eligible (live, not in Fault, not leaving).
pub fn check_one_master(lan: &Lan, member: usize) -> Result<(), String> {
    let masters = lan.masters(member);
    let holders = lan.holders(member);
    if masters.len() > 1 {
        return Err(format!("m{member}: {} masters: {masters:?}", masters.len()));
    }
    if holders.len() > 1 {
        return Err(format!("m{member}: the address is held by {holders:?}"));
    }
    if !lan.eligible(member).is_empty() && (masters.len() != 1 || holders.len() != 1) {
        return Err(format!(
            "m{member}: eligible routers {:?} but masters {masters:?}, holders {holders:?}",
            lan.eligible(member)
        ));
    }
    Ok(())
}

/// Invariant 2 (preempt on): the master has the highest effective priority among the
/// eligible routers. Between equal priorities the RFC keeps whichever became master
/// first (a backup preempts only a strictly lower priority); the address breaks the tie
/// only between two masters, which `check_one_master` already excludes.
pub fn check_best_master(lan: &Lan, member: usize) -> Result<(), String> {
    let eligible = lan.eligible(member);
    let Some(best) = eligible.iter().map(|&n| lan.priority(n, member)).max() else {
        return Ok(());
    };
    for master in lan.masters(member) {
        let priority = lan.priority(master, member);
        if priority != best {
            return Err(format!(
                "m{member}: master n{master} has priority {priority}, but an eligible router has {best}"
            ));
        }
    }
    Ok(())
}

/// Sync groups: on every node, the members that take part are all master or all backup.
pub fn check_group_unity(lan: &Lan) -> Result<(), String> {
    for (index, node) in lan.nodes.iter().enumerate() {
        let Some(instance) = node.instance.as_ref() else {
            continue;
        };
        let members = instance.members();
        let masters = members
            .iter()
            .filter(|r| r.state() == State::Master && !r.is_handing_over())
            .count();
        let backups = members
            .iter()
            .filter(|r| r.state() == State::Backup)
            .count();
        if masters > 0 && backups > 0 {
            let states: Vec<State> = members.iter().map(Router::state).collect();
            return Err(format!(
                "n{index}: sync group split, member states {states:?}"
            ));
        }
    }
    Ok(())
}
