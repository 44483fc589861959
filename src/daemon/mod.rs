//! The daemon: the event loop that turns I/O into events and actions into I/O.
//!
//! Owns the running routers (each wrapped in a sync group, a lone router being a group
//! of one), their sockets, the netlink watch, signals, reloads and the execution of
//! actions. It is the only place where an `Action` becomes I/O. It must not make
//! protocol decisions: those are the core's (`crate::proto`).

mod clock;
mod events;
mod health;
mod hooks;
mod nft;
mod ratelimit;
mod router;
pub mod sniff;
pub mod systemd;
mod timer;

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use thiserror::Error;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use crate::config::{self, Config, ConfigError, NotifySpec};
use crate::net::{NetError, NetEvent, Netlink};
use crate::proto::fsm::{Action, Event, Router, State};
use crate::proto::group::SyncGroup;
use crate::proto::timers::Instant;
use crate::track::policy::Change;
use crate::track::{CheckIndex, Observation, RunAs, security};
use clock::Clock;
use events::EventSocket;
use health::Checks;
use hooks::{HookType, Hooks};
use router::{Received, RouterId, RouterIo};

/// Why the daemon could not start or had to stop.
#[derive(Debug, Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("router {router}: {source}")]
    Net {
        router: String,
        #[source]
        source: NetError,
    },
    #[error("{0}")]
    Setup(String),
}

impl DaemonError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> DaemonError {
        DaemonError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Run the daemon until SIGTERM/SIGINT, on a single-threaded runtime (the work is tiny
/// and one thread keeps the ordering of actions trivial to reason about).
pub fn run(config_path: &Path) -> Result<(), DaemonError> {
    let config = config::load(config_path)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DaemonError::io("cannot start the runtime", e))?;
    runtime.block_on(async move {
        let mut daemon = Daemon::start(config_path.to_path_buf(), config).await?;
        systemd::notify(systemd::READY);
        daemon.run().await
    })
}

/// A sync group (or a lone router) and the ids of its members, in member order.
struct Unit {
    group: SyncGroup,
    ids: Vec<RouterId>,
    /// The sync group's name (`None` for a lone router).
    name: Option<String>,
}

/// How long the daemon waits at exit for queued notify hooks (the STOP hooks).
const HOOKS_AT_EXIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Notify hooks by owner, kept over a reload when their definition is unchanged.
struct HookTable<K> {
    hooks: HashMap<K, (NotifySpec, Hooks)>,
}

impl<K> Default for HookTable<K> {
    fn default() -> Self {
        HookTable {
            hooks: HashMap::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone> HookTable<K> {
    /// Make the table hold exactly `wanted`, reusing unchanged entries unless
    /// `restart_all` (the user they run as changed).
    fn sync(
        &mut self,
        wanted: Vec<(K, String, NotifySpec)>,
        kind: HookType,
        run_as: &RunAs,
        restart_all: bool,
    ) {
        let mut old = std::mem::take(&mut self.hooks);
        for (key, name, spec) in wanted {
            let entry = match old.remove(&key) {
                Some((old_spec, hooks)) if old_spec == spec && !restart_all => (old_spec, hooks),
                _ => {
                    let hooks = Hooks::start(kind, name, spec.clone(), run_as.clone());
                    (spec, hooks)
                }
            };
            self.hooks.insert(key, entry);
        }
    }

    /// Forget the hooks of `key`; what is queued still runs, then the worker ends.
    fn remove(&mut self, key: &K) {
        self.hooks.remove(key);
    }

    fn get(&self, key: &K) -> Option<&Hooks> {
        self.hooks.get(key).map(|(_, hooks)| hooks)
    }

    async fn finish(&mut self, limit: std::time::Duration) {
        let all: Vec<Hooks> = self.hooks.drain().map(|(_, (_, hooks))| hooks).collect();
        futures::future::join_all(all.into_iter().map(|hooks| hooks.finish(limit))).await;
    }
}

impl Unit {
    fn all_stopped(&self) -> bool {
        self.group
            .members()
            .iter()
            .all(|r| r.state() == State::Stopped)
    }
}

struct Daemon {
    config_path: PathBuf,
    clock: Clock,
    netlink: Netlink,
    units: Vec<Unit>,
    routers: HashMap<RouterId, RouterIo>,
    next_id: u64,
    packets_tx: mpsc::Sender<Received>,
    packets_rx: mpsc::Receiver<Received>,
    /// Addresses blocked per router (accept mode off); mirrored into nftables.
    blocked: HashMap<RouterId, Vec<IpAddr>>,
    /// Whether we created the nftables table (and so must remove it on exit).
    nft_table: bool,
    /// SIGTERM or SIGINT received: routers are leaving; exit once all have stopped.
    shutting_down: bool,
    /// Who runs check scripts and notify hooks.
    run_as: RunAs,
    checks: Checks,
    router_hooks: HookTable<RouterId>,
    group_hooks: HookTable<String>,
    /// The state last reported to each sync group's notify hook and event listeners.
    group_reported: HashMap<String, State>,
    events: Option<EventSocket>,
    /// The last time a packet or timer was handed to each router's core: a packet's
    /// receive time is never earlier, so each router sees its events in order.
    handed: HashMap<RouterId, Instant>,
}

impl Daemon {
    async fn start(config_path: PathBuf, config: Config) -> Result<Daemon, DaemonError> {
        let netlink = Netlink::new().map_err(|e| DaemonError::Setup(e.to_string()))?;
        let (packets_tx, packets_rx) = mpsc::channel(1024);
        let run_as = resolve_script_user(&config)?;
        let events =
            match &config.global.event_socket {
                Some(path) => {
                    // Its directory (/run/floatip) may not exist yet outside systemd.
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir).map_err(|e| {
                            DaemonError::io(format!("event socket directory {}", dir.display()), e)
                        })?;
                    }
                    Some(EventSocket::bind(path).map_err(|e| {
                        DaemonError::io(format!("event socket {}", path.display()), e)
                    })?)
                }
                None => None,
            };
        let checks = Checks::start(&config.checks, &run_as);
        let mut daemon = Daemon {
            config_path,
            clock: Clock::start(),
            netlink,
            units: Vec::new(),
            routers: HashMap::new(),
            next_id: 0,
            packets_tx,
            packets_rx,
            blocked: HashMap::new(),
            nft_table: false,
            shutting_down: false,
            run_as,
            checks,
            router_hooks: HookTable::default(),
            group_hooks: HookTable::default(),
            group_reported: HashMap::new(),
            events,
            handed: HashMap::new(),
        };
        daemon.remove_stale_nft().await;
        let ids = daemon.open_routers(&config).await?;
        daemon.units = daemon.build_units(&config, ids, HashMap::new());
        daemon.sync_hooks(&config, false);
        daemon.refresh_interface_checks(None).await;
        let now = daemon.clock.now();
        for unit in 0..daemon.units.len() {
            daemon.start_unit(unit, now).await;
        }
        info!(
            config = %daemon.config_path.display(),
            routers = daemon.routers.len(),
            "floatip {} started",
            env!("CARGO_PKG_VERSION")
        );
        Ok(daemon)
    }

    /// Resolve interfaces and addresses, remove stale VIPs, open sockets.
    async fn open_routers(
        &mut self,
        config: &Config,
    ) -> Result<HashMap<String, RouterId>, DaemonError> {
        let mut ids = HashMap::new();
        for spec in &config.routers {
            let id = RouterId(self.next_id);
            self.next_id += 1;
            let io =
                RouterIo::open(id, spec.clone(), &self.netlink, self.packets_tx.clone()).await?;
            io.remove_stale_addresses(&self.netlink).await;
            ids.insert(spec.name.clone(), id);
            self.routers.insert(id, io);
        }
        Ok(ids)
    }

    /// Group routers into units: one per sync group, one per router outside any group.
    /// Routers already running are taken from `running` with their state.
    fn build_units(
        &self,
        config: &Config,
        ids: HashMap<String, RouterId>,
        mut running: HashMap<RouterId, Router>,
    ) -> Vec<Unit> {
        let mut units = Vec::new();
        let mut grouped = std::collections::HashSet::new();
        let mut take = |id: RouterId, io: &RouterIo| {
            running
                .remove(&id)
                .unwrap_or_else(|| Router::new(io.fsm_config()))
        };
        for group in &config.sync_groups {
            let mut members = Vec::new();
            let mut member_ids = Vec::new();
            for name in &group.routers {
                if let (Some(&id), true) = (ids.get(name), grouped.insert(name.clone()))
                    && let Some(io) = self.routers.get(&id)
                {
                    members.push(take(id, io));
                    member_ids.push(id);
                }
            }
            units.push(Unit {
                group: SyncGroup::new(members),
                ids: member_ids,
                name: Some(group.name.clone()),
            });
        }
        for spec in &config.routers {
            if grouped.contains(&spec.name) {
                continue;
            }
            if let Some(&id) = ids.get(&spec.name)
                && let Some(io) = self.routers.get(&id)
            {
                units.push(Unit {
                    group: SyncGroup::new(vec![take(id, io)]),
                    ids: vec![id],
                    name: None,
                });
            }
        }
        units
    }

    /// Report the interface state, then start every member of a unit.
    async fn start_unit(&mut self, unit: usize, now: Instant) {
        for member in 0..self.units[unit].ids.len() {
            let id = self.units[unit].ids[member];
            let up = match self.routers.get_mut(&id) {
                Some(io) => io.refresh_link(&self.netlink).await,
                None => continue,
            };
            if !up {
                let actions = self.units[unit]
                    .group
                    .step(member, Event::InterfaceDown, now);
                self.execute(unit, actions).await;
            }
            self.apply_health(unit, member, now).await;
        }
        let actions = self.units[unit].group.step_all(&Event::Startup, now);
        self.execute(unit, actions).await;
    }

    async fn run(&mut self) -> Result<(), DaemonError> {
        let mut sigterm =
            signal(SignalKind::terminate()).map_err(|e| DaemonError::io("SIGTERM", e))?;
        let mut sigint =
            signal(SignalKind::interrupt()).map_err(|e| DaemonError::io("SIGINT", e))?;
        let mut sighup = signal(SignalKind::hangup()).map_err(|e| DaemonError::io("SIGHUP", e))?;
        let mut net_events = Netlink::watch().map_err(|e| DaemonError::Setup(e.to_string()))?;
        let mut watchdog = systemd::Watchdog::from_env();
        // Protocol deadlines to the microsecond, not tokio's millisecond ticks.
        let mut timer = timer::Timer::new();
        loop {
            if self.shutting_down && self.units.iter().all(Unit::all_stopped) {
                break;
            }
            let deadline = self
                .units
                .iter()
                .filter_map(|u| u.group.next_deadline())
                .min()
                .map(|d| self.clock.runtime_instant(d));
            let sleep = async {
                match deadline {
                    Some(at) => timer.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            // Biased, timers before packets: a flood of packets must not starve the
            // advertisement timer. (`on_timer` first takes the packets already received,
            // so one that arrived before a deadline still counts before it.)
            tokio::select! {
                biased;
                _ = sigterm.recv() => if self.on_stop_signal("SIGTERM").await { break },
                _ = sigint.recv() => if self.on_stop_signal("SIGINT").await { break },
                _ = sighup.recv() => {
                    systemd::notify(systemd::RELOADING);
                    self.reload().await;
                    systemd::notify(systemd::READY);
                }
                // Pinged only while the loop turns: a stuck loop is restarted.
                _ = watchdog.tick() => systemd::notify(systemd::WATCHDOG),
                _ = sleep => self.on_timer().await,
                Some(event) = net_events.next() => self.on_net_event(event).await,
                report = self.checks.next() => self.on_check_report(report).await,
                Some(packet) = self.packets_rx.recv() => self.on_packet(packet).await,
            }
        }
        self.cleanup().await;
        info!("floatip stopped");
        Ok(())
    }

    async fn on_timer(&mut self) {
        // After a stall (VM pause, SIGSTOP, a slow step) packets may have waited on the
        // sockets or in the channel while a deadline passed. Those that arrived before
        // their router's deadline count before it, at their receive time: a backup must
        // not take over from a master whose advertisements it simply had not read yet.
        // The rest are handed on after the timers, as usual.
        let mut later = Vec::new();
        let mut early = 0usize;
        let received = self.take_received();
        let oldest = received.first().map(|(at, _)| *at);
        for (at, packet) in received {
            let due = self
                .locate(packet.router)
                .and_then(|(unit, _)| self.units[unit].group.next_deadline());
            if due.is_some_and(|d| d <= at) {
                later.push(packet);
            } else {
                early += 1;
                self.hand_packet(packet, at).await;
            }
        }
        // Read after the early packets, so that the timers come after them on every
        // router's clock.
        let now = self.clock.now();
        if early > 0 {
            debug!(
                early,
                later = later.len(),
                oldest_waited = ?oldest.map(|at| now.saturating_since(at)),
                "packets already received were handed on before the timers"
            );
        }
        for unit in 0..self.units.len() {
            if self.units[unit]
                .group
                .next_deadline()
                .is_some_and(|d| d <= now)
            {
                for &id in &self.units[unit].ids {
                    self.handed.insert(id, now);
                }
                let actions = self.units[unit].group.on_timer(now);
                self.execute(unit, actions).await;
            }
        }
        for packet in later {
            self.on_packet(packet).await;
        }
        self.drop_retired();
    }

    /// Everything already received and not yet handed on, without waiting: the channel
    /// of the receive tasks first (they forward in arrival order), then what is still
    /// queued on each socket. With their receive times, oldest first.
    fn take_received(&mut self) -> Vec<(Instant, Received)> {
        let until = std::time::SystemTime::now();
        let mut packets = Vec::new();
        // Bounded: the receive tasks cannot run while this loop does not await.
        while let Ok(packet) = self.packets_rx.try_recv() {
            packets.push(packet);
        }
        for (&id, io) in &self.routers {
            io.drain_socket(id, until, &mut packets);
        }
        let mut timed: Vec<(Instant, Received)> = packets
            .into_iter()
            .map(|packet| (self.packet_time(&packet), packet))
            .collect();
        // Stable: packets of equal time (or none) keep their order.
        timed.sort_by_key(|(at, _)| *at);
        timed
    }

    /// A packet's receive time on the core's clock (see `Clock::received_at`).
    fn packet_time(&self, packet: &Received) -> Instant {
        let not_before = self
            .handed
            .get(&packet.router)
            .copied()
            .unwrap_or(Instant::ZERO);
        self.clock.received_at(packet.kernel_time, not_before)
    }

    /// Start a graceful stop; returns true on a second signal, to stop at once (the
    /// loop's cleanup then releases every address).
    async fn on_stop_signal(&mut self, signal: &str) -> bool {
        let now = self.clock.now();
        if self.shutting_down {
            warn!("{signal} again: stopping at once, releasing addresses");
            return true;
        }
        info!("{signal}: stopping (a master hands over before releasing its addresses)");
        systemd::notify(systemd::STOPPING);
        self.shutting_down = true;
        for unit in 0..self.units.len() {
            let actions = self.units[unit].group.step_all(&Event::Shutdown, now);
            self.execute(unit, actions).await;
        }
        false
    }

    async fn on_net_event(&mut self, event: NetEvent) {
        let now = self.clock.now();
        match event {
            NetEvent::LinkChanged { index, .. } | NetEvent::LinkRemoved { index } => {
                self.refresh_interface_checks(Some(index)).await;
                self.refresh_links(Some(index), now).await
            }
            NetEvent::Overrun => {
                warn!("netlink overrun: re-reading link and address state");
                self.refresh_interface_checks(None).await;
                self.refresh_links(None, now).await;
                self.check_addresses(None, now).await;
            }
            NetEvent::AddressRemoved { index, .. } => {
                self.refresh_links(Some(index), now).await;
                self.check_addresses(Some(index), now).await;
            }
            // Our source address may have come back.
            NetEvent::AddressAdded { index, .. } => self.refresh_links(Some(index), now).await,
        }
    }

    /// Re-read link state (events are hints) and tell the routers that changed.
    async fn refresh_links(&mut self, index: Option<u32>, now: Instant) {
        for unit in 0..self.units.len() {
            for member in 0..self.units[unit].ids.len() {
                let id = self.units[unit].ids[member];
                let Some(io) = self.routers.get_mut(&id) else {
                    continue;
                };
                if index.is_some_and(|i| i != io.ifindex()) {
                    continue;
                }
                let was_up = io.link_up();
                let up = io.refresh_link(&self.netlink).await;
                if up != was_up {
                    let event = if up {
                        Event::InterfaceUp
                    } else {
                        Event::InterfaceDown
                    };
                    let actions = self.units[unit].group.step(member, event, now);
                    self.execute(unit, actions).await;
                }
            }
        }
    }

    /// A master whose address was removed by someone else puts it back and
    /// re-announces it.
    async fn check_addresses(&mut self, index: Option<u32>, _now: Instant) {
        for unit in &self.units {
            for (member, id) in unit.ids.iter().enumerate() {
                let holds = unit
                    .group
                    .members()
                    .get(member)
                    .is_some_and(Router::holds_addresses);
                let Some(io) = self.routers.get_mut(id) else {
                    continue;
                };
                if holds && index.is_none_or(|i| io.uses_ifindex(i)) {
                    io.restore_missing_addresses(&self.netlink).await;
                }
            }
        }
    }

    async fn on_packet(&mut self, packet: Received) {
        let at = self.packet_time(&packet);
        self.hand_packet(packet, at).await;
    }

    /// Decode a packet and give it to its router's core as received at `at`.
    async fn hand_packet(&mut self, packet: Received, at: Instant) {
        let Some((unit, member)) = self.locate(packet.router) else {
            return;
        };
        let Some(io) = self.routers.get_mut(&packet.router) else {
            return;
        };
        self.handed.insert(packet.router, at);
        let Some(event) = io.accept(&packet, at) else {
            return;
        };
        let actions = self.units[unit].group.step(member, event, at);
        self.execute(unit, actions).await;
    }

    fn locate(&self, id: RouterId) -> Option<(usize, usize)> {
        self.units.iter().enumerate().find_map(|(unit, u)| {
            u.ids
                .iter()
                .position(|&i| i == id)
                .map(|member| (unit, member))
        })
    }

    /// Carry out actions, in order, each by the router that must.
    async fn execute(&mut self, unit: usize, actions: Vec<(usize, Action)>) {
        for (member, action) in actions {
            let Some(&id) = self.units.get(unit).and_then(|u| u.ids.get(member)) else {
                continue;
            };
            if let Action::BlockAddressTraffic(block) = action {
                self.block_traffic(id, block).await;
                continue;
            }
            let Some(io) = self.routers.get_mut(&id) else {
                continue;
            };
            io.execute(&action, &self.netlink, self.clock.now()).await;
            match &action {
                Action::Transition { from, to, reason } => {
                    self.on_transition(unit, member, id, *from, *to, &reason.to_string());
                }
                Action::PriorityChanged { from, to } => {
                    self.publish(serde_json::json!({
                        "event": "priority",
                        "router": self.router_name(id),
                        "from": from,
                        "to": to,
                    }));
                }
                _ => {}
            }
        }
        self.report_group_state(unit);
    }

    fn router_name(&self, id: RouterId) -> &str {
        self.routers
            .get(&id)
            .map(|io| io.spec().name.as_str())
            .unwrap_or("?")
    }

    /// A router changed state: its notify hook, then the event stream.
    fn on_transition(
        &mut self,
        unit: usize,
        member: usize,
        id: RouterId,
        from: State,
        to: State,
        reason: &str,
    ) {
        let priority = self.units[unit]
            .group
            .members()
            .get(member)
            .map_or(0, Router::effective_priority);
        if let Some(hooks) = self.router_hooks.get(&id) {
            hooks.notify(to, priority);
        }
        self.publish(serde_json::json!({
            "event": "transition",
            "type": "INSTANCE",
            "router": self.router_name(id),
            "from": from.to_string(),
            "to": to.to_string(),
            "priority": priority,
            "reason": reason,
        }));
    }

    /// A sync group whose members now all share a new state tells its hook.
    fn report_group_state(&mut self, unit: usize) {
        let Some(u) = self.units.get(unit) else {
            return;
        };
        let (Some(name), Some(first)) = (u.name.clone(), u.group.common_state()) else {
            return;
        };
        if first == State::Initialize || self.group_reported.get(&name) == Some(&first) {
            return;
        }
        let from = self.group_reported.insert(name.clone(), first);
        if let Some(hooks) = self.group_hooks.get(&name) {
            hooks.notify(first, 0);
        }
        self.publish(serde_json::json!({
            "event": "transition",
            "type": "GROUP",
            "group": name,
            "from": from.map(|s| s.to_string()),
            "to": first.to_string(),
        }));
    }

    /// One line on the event socket, with the wall-clock time.
    fn publish(&self, mut event: serde_json::Value) {
        let Some(socket) = &self.events else {
            return;
        };
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        event["time"] = serde_json::json!((time * 1000.0).round() / 1000.0);
        socket.publish(&event.to_string());
    }

    /// The checks a router tracks, by index.
    fn tracked(&self, id: RouterId) -> Vec<CheckIndex> {
        self.routers
            .get(&id)
            .map(|io| {
                io.spec()
                    .track
                    .iter()
                    .filter_map(|name| self.checks.index_of(name))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Tell one router what its checks amount to now (the core ignores no-changes).
    async fn apply_health(&mut self, unit: usize, member: usize, now: Instant) {
        let Some(&id) = self.units.get(unit).and_then(|u| u.ids.get(member)) else {
            return;
        };
        let health = self.checks.health(&self.tracked(id));
        let actions = self.units[unit].group.step(
            member,
            Event::Health {
                weight: health.weight,
                fault: health.fault,
            },
            now,
        );
        self.execute(unit, actions).await;
    }

    /// A checker reported: count it, and if the check changed, tell the routers that
    /// track it.
    async fn on_check_report(&mut self, report: crate::track::Report) {
        if let Some((index, change)) = self.checks.on_report(report) {
            self.check_changed(index, &change).await;
        }
    }

    async fn check_changed(&mut self, index: CheckIndex, change: &Change) {
        let (state, value) = match change {
            Change::Failing(reason) => (serde_json::json!("failing"), serde_json::json!(reason)),
            Change::Passing => (serde_json::json!("passing"), serde_json::Value::Null),
            Change::Value { to, .. } => (serde_json::json!("value"), serde_json::json!(to)),
        };
        self.publish(serde_json::json!({
            "event": "check",
            "check": self.checks.name(index),
            "state": state,
            "detail": value,
        }));
        let now = self.clock.now();
        for unit in 0..self.units.len() {
            for member in 0..self.units[unit].ids.len() {
                let id = self.units[unit].ids[member];
                if self.tracked(id).contains(&index) {
                    self.apply_health(unit, member, now).await;
                }
            }
        }
    }

    /// Interface checks: observe the link state of their interface, for the links an
    /// event names (all of them when `index` is `None`).
    async fn refresh_interface_checks(&mut self, index: Option<u32>) {
        for (check, name) in self.checks.interface_checks() {
            let observation = match self.netlink.link_index(&name).await {
                Ok(i) if index.is_some_and(|changed| changed != i) => continue,
                Ok(i) => match self.netlink.link_is_up(i).await {
                    Ok(true) => Observation::Pass,
                    Ok(false) => Observation::Fail(format!("{name} is down")),
                    Err(e) => Observation::Fail(format!("{name}: {e}")),
                },
                Err(_) => Observation::Fail(format!("no interface {name}")),
            };
            if let Some((index, change)) = self.checks.observe(check, &observation) {
                self.check_changed(index, &change).await;
            }
        }
    }

    /// Start, keep or replace the notify hooks of the routers and sync groups; all are
    /// restarted if `user_changed`.
    fn sync_hooks(&mut self, config: &Config, user_changed: bool) {
        let mut routers = Vec::new();
        // Retired routers keep their hooks until they are dropped: a removed master
        // hands over first and reaches Stopped later, and its STOP hook must run.
        for (&id, io) in &self.routers {
            if let Some(spec) = &io.spec().notify {
                routers.push((id, io.spec().name.clone(), spec.clone()));
            }
        }
        self.router_hooks
            .sync(routers, HookType::Instance, &self.run_as, user_changed);
        let groups = config
            .sync_groups
            .iter()
            .filter_map(|g| {
                g.notify
                    .as_ref()
                    .map(|spec| (g.name.clone(), g.name.clone(), spec.clone()))
            })
            .collect();
        self.group_hooks
            .sync(groups, HookType::Group, &self.run_as, user_changed);
    }

    /// Accept mode off: keep nftables dropping exactly the addresses of the non-owner
    /// masters that do not accept traffic.
    async fn block_traffic(&mut self, id: RouterId, block: bool) {
        let addresses = self
            .routers
            .get(&id)
            .map(RouterIo::vip_addresses)
            .unwrap_or_default();
        if block {
            self.blocked.insert(id, addresses);
        } else if self.blocked.remove(&id).is_none() {
            return;
        }
        let all: BTreeSet<IpAddr> = self.blocked.values().flatten().copied().collect();
        self.nft_table = true;
        if let Err(e) = nft::apply(&nft::sync_script(&all)).await {
            error!("accept_mode: false: cannot update nftables: {e}");
        }
    }

    /// A crash can leave the table behind; nothing is blocked before a router says so.
    async fn remove_stale_nft(&self) {
        // Without the nft command there is nothing to remove, and nothing to report
        // unless a router needs it later.
        let _ = nft::apply(nft::remove_script()).await;
    }

    /// Forget units whose routers all stopped because a reload removed them.
    fn drop_retired(&mut self) {
        let mut keep = Vec::new();
        for unit in self.units.drain(..) {
            let retired = unit.all_stopped()
                && !self.shutting_down
                && unit
                    .ids
                    .iter()
                    .all(|id| self.routers.get(id).is_none_or(RouterIo::is_retired));
            if retired {
                for id in &unit.ids {
                    self.routers.remove(id);
                    self.handed.remove(id);
                    // Its queued hooks (the STOP) still run.
                    self.router_hooks.remove(id);
                }
            } else {
                keep.push(unit);
            }
        }
        self.units = keep;
    }

    /// SIGHUP: load the file again; an invalid one is logged and the running
    /// configuration stays.
    async fn reload(&mut self) {
        let config = match config::load(&self.config_path) {
            Ok(config) => config,
            Err(e) => {
                error!("reload rejected, the running configuration stays:\n{e}");
                return;
            }
        };
        let run_as = match resolve_script_user(&config) {
            Ok(run_as) => run_as,
            Err(e) => {
                error!("reload rejected, the running configuration stays: {e}");
                return;
            }
        };
        info!(config = %self.config_path.display(), "reloading");
        if config.global.event_socket.as_deref() != self.events.as_ref().map(EventSocket::path) {
            warn!("global.event_socket changed: that takes effect when floatip restarts");
        }
        let user_changed = run_as != self.run_as;
        self.run_as = run_as;
        self.checks
            .reload(&config.checks, &self.run_as, user_changed);
        let now = self.clock.now();
        // Take every running router out of its unit, keyed by id.
        let mut running: HashMap<RouterId, Router> = HashMap::new();
        let mut retiring_units = Vec::new();
        let old_units = std::mem::take(&mut self.units);
        for unit in old_units {
            for (id, router) in unit.ids.iter().zip(unit.group.into_members()) {
                running.insert(*id, router);
            }
        }
        // Match new specs to running routers by name and identity.
        let mut ids = HashMap::new();
        let mut new_ids = Vec::new();
        // Actions of routers taken out of their units, carried out once units exist.
        let mut deferred: Vec<(RouterId, Action)> = Vec::new();
        for spec in &config.routers {
            let existing = self
                .routers
                .iter()
                .find(|(_, io)| !io.is_retired() && io.spec().name == spec.name)
                .map(|(&id, _)| id);
            match existing {
                Some(id)
                    if self
                        .routers
                        .get(&id)
                        .is_some_and(|io| io.same_identity(spec)) =>
                {
                    let Some(io) = self.routers.get_mut(&id) else {
                        continue;
                    };
                    if io.spec() != spec {
                        info!(router = %spec.name, "configuration changed");
                        let holds = running.get(&id).is_some_and(Router::holds_addresses);
                        io.update_spec(spec.clone(), holds, &self.netlink).await;
                        if let Some(router) = running.get_mut(&id) {
                            let actions = router.reconfigure(io.fsm_config(), now);
                            deferred.extend(actions.into_iter().map(|a| (id, a)));
                        }
                    }
                    ids.insert(spec.name.clone(), id);
                }
                _ => {
                    let id = RouterId(self.next_id);
                    self.next_id += 1;
                    match RouterIo::open(id, spec.clone(), &self.netlink, self.packets_tx.clone())
                        .await
                    {
                        Ok(io) => {
                            io.remove_stale_addresses(&self.netlink).await;
                            info!(router = %spec.name, "router added");
                            self.routers.insert(id, io);
                            ids.insert(spec.name.clone(), id);
                            new_ids.push(id);
                        }
                        Err(e) => error!(router = %spec.name, "cannot start router: {e}"),
                    }
                }
            }
        }
        // Routers no longer configured leave with priority 0 (make-before-break).
        let kept: std::collections::HashSet<RouterId> = ids.values().copied().collect();
        let removed: Vec<(RouterId, Router)> =
            running.extract_if(|id, _| !kept.contains(id)).collect();
        for (id, mut router) in removed {
            if let Some(io) = self.routers.get_mut(&id) {
                if !io.is_retired() {
                    info!(router = %io.spec().name, "router removed from the configuration");
                }
                io.retire();
                let actions = router.step(Event::Shutdown, now);
                deferred.extend(actions.into_iter().map(|a| (id, a)));
            }
            retiring_units.push(Unit {
                group: SyncGroup::new(vec![router]),
                ids: vec![id],
                name: None,
            });
        }
        self.units = self.build_units(&config, ids, running);
        // What each sync group's hook was last told stays, so a reload does not repeat
        // it; a group no longer configured is forgotten.
        self.group_reported
            .retain(|name, _| config.sync_groups.iter().any(|g| g.name == *name));
        for unit in 0..self.units.len() {
            let actions = self.units[unit].group.propagate_faults(now);
            self.execute(unit, actions).await;
        }
        self.units.extend(retiring_units);
        for (id, action) in deferred {
            if let Some((unit, member)) = self.locate(id) {
                self.execute(unit, vec![(member, action)]).await;
            }
        }
        self.sync_hooks(&config, user_changed);
        self.refresh_interface_checks(None).await;
        for unit in 0..self.units.len() {
            if self.units[unit].ids.iter().any(|id| new_ids.contains(id)) {
                self.start_unit(unit, now).await;
            } else {
                for member in 0..self.units[unit].ids.len() {
                    self.apply_health(unit, member, now).await;
                }
            }
        }
        self.drop_retired();
    }

    async fn cleanup(&mut self) {
        for io in self.routers.values() {
            io.release_addresses(&self.netlink).await;
            io.log_counters();
        }
        // The STOP hooks were queued by the transitions to Stopped; let them run.
        futures::join!(
            self.router_hooks.finish(HOOKS_AT_EXIT),
            self.group_hooks.finish(HOOKS_AT_EXIT)
        );
        if self.nft_table {
            self.blocked.clear();
            self.nft_table = false;
            if let Err(e) = nft::apply(nft::remove_script()).await {
                warn!("cannot remove the nftables table inet floatip: {e}");
            }
        }
    }
}

/// The user scripts and hooks run as (`global.script_user`, else the package's user,
/// else nobody with a warning).
fn resolve_script_user(config: &Config) -> Result<RunAs, DaemonError> {
    let runs_commands = config
        .checks
        .iter()
        .any(|c| matches!(c.kind, config::CheckKind::Script { .. }))
        || config.routers.iter().any(|r| r.notify.is_some())
        || config.sync_groups.iter().any(|g| g.notify.is_some());
    match security::resolve_user(config.global.script_user.as_deref()) {
        Ok((run_as, warning)) => {
            if let (Some(warning), true) = (warning, runs_commands) {
                warn!("{warning}");
            }
            Ok(run_as)
        }
        Err(e) if runs_commands => Err(DaemonError::Setup(format!("global.script_user: {e}"))),
        // Nothing is ever run: any placeholder will do.
        Err(_) => Ok(RunAs {
            user: String::new(),
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
            groups: Vec::new(),
            home: PathBuf::from("/"),
        }),
    }
}
