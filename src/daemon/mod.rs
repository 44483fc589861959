//! The daemon: the event loop that turns I/O into events and actions into I/O.
//!
//! Owns the running routers (each wrapped in a sync group, a lone router being a group
//! of one), their sockets, the netlink watch, signals and reloads. Its loop waits,
//! turns what happened into an `Event`, hands it to the core and gives the resulting
//! `Action`s to the executor (`executor.rs`, the only place an action becomes I/O). It
//! must not make protocol decisions: those are the core's (`crate::proto`).

mod clock;
mod control;
mod events;
mod executor;
mod health;
mod hooks;
mod metrics;
mod nft;
mod ratelimit;
mod reload_plan;
mod router;
pub mod sniff;
pub mod status;
pub mod systemd;
mod timer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use thiserror::Error;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, debug, error, info, warn};

use crate::config::{self, Config, ConfigError, RouterSpec};
use crate::net::{NetError, NetEvent, Netlink};
use crate::proto::fsm::{Action, Event, Router, State};
use crate::proto::group::SyncGroup;
use crate::proto::packet::{Family, Version};
use crate::proto::timers::Instant;
use crate::track::policy::Change;
use crate::track::{CheckIndex, Observation, RunAs, security};
use clock::Clock;
use events::EventSocket;
use executor::{Executor, Target};
use health::Checks;
use hooks::HookType;
use reload_plan::Step;
use router::{Received, RouterId, RouterIo};
use status::{DaemonStatus, Lateness, ReloadCounters};

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

/// How long a graceful stop waits at most for the successors of our masters
/// (`master_down` when shorter). Then the addresses go anyway: the packaged unit's
/// `TimeoutStopSec=30s` must cover this, the STOP hooks (`executor::HOOKS_AT_EXIT`,
/// 10 s) and cleanup, so that systemd never has to SIGKILL us with addresses held.
const STOP_HANDOVER_LIMIT: std::time::Duration = std::time::Duration::from_secs(15);

/// Run the daemon until SIGTERM/SIGINT, on a single-threaded runtime (the work is tiny
/// and one thread keeps the ordering of actions trivial to reason about).
///
/// `control_socket` overrides `global.control_socket` (to run several daemons on one
/// host, as the namespace tests do).
pub fn run(config_path: &Path, control_socket: Option<PathBuf>) -> Result<(), DaemonError> {
    let config = config::load(config_path)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DaemonError::io("cannot start the runtime", e))?;
    runtime.block_on(async move {
        let mut daemon = Daemon::start(config_path.to_path_buf(), config, control_socket).await?;
        systemd::notify(systemd::READY);
        daemon.notify_status();
        daemon.run().await
    })
}

/// A sync group (or a lone router) and the ids of its members, in member order.
struct Unit {
    group: SyncGroup,
    ids: Vec<RouterId>,
    /// The sync group's name (`None` for a lone router).
    name: Option<String>,
    /// Started, but waiting in Initialize for the first results of its checks until
    /// this time at the latest: a start must not pass through Fault because a check
    /// has not run yet (`try_start`).
    start_by: Option<Instant>,
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
    /// Carries out every action.
    exec: Executor,
    /// SIGTERM or SIGINT received: routers are leaving; exit once all have stopped.
    shutting_down: bool,
    /// Who runs check scripts and notify hooks.
    run_as: RunAs,
    checks: Checks,
    /// Requests from the control socket's connections.
    control_rx: mpsc::Receiver<control::LoopRequest>,
    /// Kept open while the daemon runs; dropping it removes the socket file.
    control: Option<control::ControlSocket>,
    /// `global.control_socket` as it was at start (a change needs a restart).
    control_configured: Option<PathBuf>,
    /// When the running configuration was loaded, and the last reload's outcome.
    config_info: control::ConfigInfo,
    /// When the process started, in seconds since the Unix epoch.
    started_at: f64,
    reloads: ReloadCounters,
    /// How late the loop woke for protocol deadlines.
    lateness: Lateness,
    /// The metrics endpoint and where the loop publishes the status it serves.
    metrics: Option<(watch::Sender<Arc<DaemonStatus>>, metrics::MetricsServer)>,
    /// The last time a packet or timer was handed to each router's core: a packet's
    /// receive time is never earlier, so each router sees its events in order.
    handed: HashMap<RouterId, Instant>,
}

impl Daemon {
    async fn start(
        config_path: PathBuf,
        config: Config,
        control_socket: Option<PathBuf>,
    ) -> Result<Daemon, DaemonError> {
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
        // A socket the operator asked for must work; the default one is a convenience
        // that must not stop a daemon run by hand as an unprivileged user.
        let chosen = control_socket.is_some() || config.global.control_socket.is_some();
        let control_path = control_socket.unwrap_or_else(|| config.global.control_socket_path());
        let (control_tx, control_rx) = mpsc::channel(control::QUEUE);
        let control = match control::ControlSocket::bind(&control_path, control_tx, netlink.clone())
        {
            Ok(control) => Some(control),
            Err(e) if !chosen => {
                warn!(
                    "control socket {}: {e}; `floatip status` and `floatip reload` will not work",
                    control_path.display()
                );
                None
            }
            Err(e) => {
                return Err(DaemonError::io(
                    format!("control socket {}", control_path.display()),
                    e,
                ));
            }
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
            exec: Executor::new(events),
            shutting_down: false,
            run_as,
            checks,
            control_rx,
            control,
            control_configured: config.global.control_socket.clone(),
            config_info: control::ConfigInfo::now(),
            started_at: status::unix_now(),
            reloads: ReloadCounters {
                last_ok: true,
                last_at: status::unix_now(),
                ..ReloadCounters::default()
            },
            lateness: Lateness::default(),
            metrics: None,
            handed: HashMap::new(),
        };
        daemon.exec.remove_stale_nft().await;
        let ids = daemon.open_routers(&config).await?;
        daemon.units = daemon.build_units(&config, ids, HashMap::new());
        daemon.sync_hooks(&config, false);
        daemon.refresh_interface_checks(None).await;
        let now = daemon.clock.now();
        for unit in 0..daemon.units.len() {
            daemon.start_unit(unit, now).await;
        }
        let control = daemon
            .control
            .as_ref()
            .map_or_else(|| "none".to_owned(), |c| c.path().display().to_string());
        if let Some(spec) = &config.global.metrics {
            let (tx, rx) = watch::channel(Arc::new(daemon.status()));
            let server = metrics::MetricsServer::start(spec.listen, rx)
                .await
                .map_err(|e| DaemonError::io(format!("metrics endpoint {}", spec.listen), e))?;
            info!(listen = %server.local_addr, "metrics endpoint ready: GET /metrics");
            daemon.metrics = Some((tx, server));
        }
        info!(
            config = %daemon.config_path.display(),
            routers = daemon.routers.len(),
            control_socket = %control,
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
            ids.insert(spec.name.clone(), self.open_router(spec).await?);
        }
        Ok(ids)
    }

    /// Open one router (resolve, remove stale VIPs, open its socket) under a new id.
    async fn open_router(&mut self, spec: &RouterSpec) -> Result<RouterId, DaemonError> {
        let id = RouterId(self.next_id);
        self.next_id += 1;
        let io = RouterIo::open(id, spec.clone(), &self.netlink, self.packets_tx.clone()).await?;
        io.remove_stale_addresses(&self.netlink).await;
        self.routers.insert(id, io);
        Ok(id)
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
                start_by: None,
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
                    start_by: None,
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
        let tracked = self.unit_tracked(unit);
        let wait = self.checks.first_result_bound(&tracked);
        self.units[unit].start_by = Some(now + wait);
        if !self.checks.have_results(&tracked) {
            let waiting = self.checks.without_results(&tracked).join(", ");
            info!("waiting up to {wait:?} for the first result of {waiting} before starting");
        }
        self.try_start(unit, now).await;
    }

    /// Start a waiting unit (Initialize -> Backup, Master or Fault) once its checks have
    /// their first results, or when its wait is over.
    async fn try_start(&mut self, unit: usize, now: Instant) {
        let Some(start_by) = self.units.get(unit).and_then(|u| u.start_by) else {
            return;
        };
        let tracked = self.unit_tracked(unit);
        if !self.checks.have_results(&tracked) {
            if now < start_by {
                return;
            }
            let waiting = self.checks.without_results(&tracked).join(", ");
            warn!("no first result of {waiting} in time: starting with their initial state");
        }
        self.units[unit].start_by = None;
        let actions = self.units[unit].group.step_all(&Event::Startup, now);
        self.execute(unit, actions).await;
    }

    /// `try_start` every waiting unit.
    async fn try_start_all(&mut self, now: Instant) {
        for unit in 0..self.units.len() {
            self.try_start(unit, now).await;
        }
    }

    /// The checks the members of a unit track.
    fn unit_tracked(&self, unit: usize) -> Vec<CheckIndex> {
        let Some(unit) = self.units.get(unit) else {
            return Vec::new();
        };
        unit.ids.iter().flat_map(|&id| self.tracked(id)).collect()
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
        // Set by the first stop signal: the handover of masters ends by then whatever
        // their intervals.
        let mut stop_by: Option<tokio::time::Instant> = None;
        loop {
            if self.shutting_down && self.units.iter().all(Unit::all_stopped) {
                break;
            }
            let deadline = self
                .units
                .iter()
                .flat_map(|u| [u.group.next_deadline(), u.start_by])
                .flatten()
                .min()
                .map(|d| self.clock.runtime_instant(d));
            let stop_limit = async {
                match stop_by {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
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
                _ = sigterm.recv() => if self.on_stop_signal("SIGTERM", &mut stop_by).await { break },
                _ = sigint.recv() => if self.on_stop_signal("SIGINT", &mut stop_by).await { break },
                _ = stop_limit => {
                    warn!(
                        "no successor heard within {STOP_HANDOVER_LIMIT:?} of the stop request: \
                         stopping now, releasing addresses"
                    );
                    break;
                }
                _ = sighup.recv() => {
                    if self.shutting_down {
                        // A reload would start the routers it adds or replaces, and the
                        // stop would never end.
                        warn!("SIGHUP while stopping: reload ignored");
                    } else {
                        self.reload_notified().await;
                    }
                }
                // Pinged only while the loop turns: a stuck loop is restarted.
                _ = watchdog.tick() => systemd::notify(systemd::WATCHDOG),
                _ = sleep => {
                    if let Some(at) = deadline {
                        let late = tokio::time::Instant::now().saturating_duration_since(at);
                        self.lateness.observe(late);
                    }
                    self.on_timer().await
                }
                Some(event) = net_events.next() => self.on_net_event(event).await,
                report = self.checks.next() => self.on_check_report(report).await,
                Some(packet) = self.packets_rx.recv() => self.on_packet(packet).await,
                // Last: nothing a client asks comes before the protocol's work.
                client = self.exec.next_event_client() => self.greet_event_client(client),
                Some(request) = self.control_rx.recv() => self.on_control(request).await,
            }
            self.publish_status();
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
        self.try_start_all(now).await;
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
    async fn on_stop_signal(
        &mut self,
        signal: &str,
        stop_by: &mut Option<tokio::time::Instant>,
    ) -> bool {
        let now = self.clock.now();
        if self.shutting_down {
            warn!("{signal} again: stopping at once, releasing addresses");
            return true;
        }
        info!("{signal}: stopping (a master hands over before releasing its addresses)");
        systemd::notify(systemd::STOPPING);
        self.shutting_down = true;
        *stop_by = Some(tokio::time::Instant::now() + STOP_HANDOVER_LIMIT);
        for unit in 0..self.units.len() {
            // A unit still waiting for its checks stops from Initialize.
            self.units[unit].start_by = None;
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

    /// Some address was removed: tell each master on that interface which of its
    /// addresses are gone (the core decides what to do about it).
    async fn check_addresses(&mut self, index: Option<u32>, now: Instant) {
        for unit in 0..self.units.len() {
            for member in 0..self.units[unit].ids.len() {
                let id = self.units[unit].ids[member];
                // Only a router holding its addresses can miss them: no reads for others.
                let holds = self.units[unit]
                    .group
                    .members()
                    .get(member)
                    .is_some_and(Router::holds_addresses);
                let Some(io) = self.routers.get_mut(&id) else {
                    continue;
                };
                if !holds || index.is_some_and(|i| !io.uses_ifindex(i)) {
                    continue;
                }
                let missing = io.missing_addresses(&self.netlink).await;
                if !missing.is_empty() {
                    let event = Event::AddressesMissing(missing);
                    let actions = self.units[unit].group.step(member, event, now);
                    self.execute(unit, actions).await;
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
        let event = match io.accept(&packet, at) {
            router::Accepted::Ours(event) => event,
            router::Accepted::OtherVrid { vrid, src } => {
                let spec = io.spec();
                let (interface, family, reporter) =
                    (spec.interface.clone(), spec.family(), spec.vrid);
                // The socket of each of our routers on the link hears it: only a VRID we
                // do not run there ourselves is news, and only the router with the
                // lowest VRID there tells it.
                let mut ours: Vec<u8> = self
                    .routers
                    .values()
                    .map(RouterIo::spec)
                    .filter(|s| s.interface == interface && s.family() == family)
                    .map(|s| s.vrid)
                    .collect();
                ours.sort_unstable();
                ours.dedup();
                if !ours.contains(&vrid)
                    && ours.first() == Some(&reporter)
                    && let Some(io) = self.routers.get_mut(&packet.router)
                {
                    io.note_other_vrid(vrid, src, &ours, at);
                }
                return;
            }
            router::Accepted::Dropped => return,
        };
        let src = match &event {
            Event::Advert { src, .. } => Some(*src),
            _ => None,
        };
        let learned = |units: &[Unit]| {
            let router = units.get(unit)?.group.members().get(member)?;
            router.learned_form(src?)
        };
        let before = learned(&self.units);
        let actions = self.units[unit].group.step(member, event, at);
        let after = learned(&self.units);
        if after != before
            && let (Some(src), Some(form)) = (src, after)
            && io.spec().version == Version::V3
            && io.spec().family() == Family::V4
        {
            io.span
                .in_scope(|| debug!(peer = %src, form = ?form, "peer's VRRPv3 checksum form"));
        }
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

    /// Give a unit's actions to the executor; after a transition, tell systemd the new
    /// summary.
    async fn execute(&mut self, unit: usize, actions: Vec<(usize, Action)>) {
        let Some(unit) = self.units.get(unit) else {
            return;
        };
        let transition = actions
            .iter()
            .any(|(_, a)| matches!(a, Action::Transition { .. }));
        let target = Target {
            routers: &mut self.routers,
            netlink: &self.netlink,
            unit,
            now: self.clock.now(),
        };
        self.exec.execute(target, actions).await;
        if transition {
            self.notify_status();
        }
    }

    /// `STATUS=web: MASTER, web6: BACKUP` for `systemctl status`.
    fn notify_status(&self) {
        if systemd::enabled() {
            systemd::notify(&format!("STATUS={}", self.summary_line()));
        }
    }

    /// A client connected to the event socket: its first line is the status now.
    fn greet_event_client(&self, client: u64) {
        let Some(socket) = self.exec.event_socket() else {
            return;
        };
        let status = self
            .status_draft(None)
            .ok()
            .and_then(|draft| serde_json::to_value(draft.report).ok());
        let mut line = serde_json::json!({"event": "snapshot", "status": status});
        line["time"] = serde_json::json!((control::unix_now() * 1000.0).round() / 1000.0);
        socket.greet(client, &line.to_string());
    }

    /// A reload, told to systemd (RELOADING=1 with the time, READY=1 after, the new
    /// summary) and remembered for `status`.
    async fn reload_notified(&mut self) -> crate::control::ReloadOutcome {
        systemd::notify(&systemd::reloading());
        let outcome = self.reload().await;
        let at = control::unix_now();
        if outcome.applied {
            self.config_info.loaded_unix = at;
        }
        self.config_info.last_reload = Some(crate::control::report::ReloadReport {
            at_unix: at,
            applied: outcome.applied,
            error: outcome.error.clone(),
        });
        systemd::notify(systemd::READY);
        self.notify_status();
        outcome
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
        // A first result that changed nothing (a file reading 0) is a result too.
        self.try_start_all(self.clock.now()).await;
    }

    async fn check_changed(&mut self, index: CheckIndex, change: &Change) {
        let (state, value) = match change {
            Change::Failing(reason) => (serde_json::json!("failing"), serde_json::json!(reason)),
            Change::Passing => (serde_json::json!("passing"), serde_json::Value::Null),
            Change::Value { to, .. } => (serde_json::json!("value"), serde_json::json!(to)),
        };
        self.exec.publish(serde_json::json!({
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
        self.exec
            .router_hooks
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
        self.exec
            .group_hooks
            .sync(groups, HookType::Group, &self.run_as, user_changed);
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
                    self.exec.router_hooks.remove(id);
                }
            } else {
                keep.push(unit);
            }
        }
        self.units = keep;
    }

    /// The running routers as a reload plan sees them.
    fn running(&self) -> Vec<reload_plan::Running<'_>> {
        let mut all = Vec::new();
        for unit in &self.units {
            for id in &unit.ids {
                if let Some(io) = self.routers.get(id) {
                    all.push(reload_plan::Running {
                        id: *id,
                        spec: io.spec(),
                        group: unit.name.as_deref(),
                        retired: io.is_retired(),
                    });
                }
            }
        }
        all
    }

    /// Carry out the step of a configured router in a reload plan. Returns the id that
    /// now runs under its name and whether it was just opened. The actions of a router
    /// changed in place go to `deferred`: they run once its unit is rebuilt. A router
    /// that cannot be opened is said in `failures`; the one it was to replace, if any,
    /// keeps running with its old configuration (it is returned, not opened).
    async fn apply_step(
        &mut self,
        step: &Step<'_>,
        running: &mut HashMap<RouterId, Router>,
        deferred: &mut Vec<(RouterId, Action)>,
        failures: &mut Vec<String>,
        now: Instant,
    ) -> Option<(RouterId, bool)> {
        match *step {
            Step::Unchanged { id } => Some((id, false)),
            Step::Changed { id, spec, .. } => {
                let io = self.routers.get_mut(&id)?;
                // The core says what to add, remove and announce (reconfigure).
                io.set_spec(spec.clone());
                if let Some(router) = running.get_mut(&id) {
                    let actions = router.reconfigure(io.fsm_config(), now);
                    deferred.extend(actions.into_iter().map(|a| (id, a)));
                }
                Some((id, false))
            }
            Step::Added { spec } | Step::Replaced { spec, .. } => {
                match self.open_router(spec).await {
                    Ok(id) => Some((id, true)),
                    Err(e) => {
                        let old = match *step {
                            Step::Replaced { old, .. } => Some(old),
                            _ => None,
                        };
                        let kept = if old.is_some() {
                            "; the running one keeps its old configuration"
                        } else {
                            ""
                        };
                        error!(router = %spec.name, "cannot start router: {e}{kept}");
                        failures.push(format!("router {}: {e}{kept}", spec.name));
                        old.map(|id| (id, false))
                    }
                }
            }
            Step::Removed { .. } | Step::StillLeaving { .. } => None,
        }
    }

    /// SIGHUP: load the file again (an invalid one is logged and the running
    /// configuration stays), plan what changes, log the plan and carry it out.
    async fn reload(&mut self) -> crate::control::ReloadOutcome {
        let (config, run_as) = match load_for_reload(&self.config_path) {
            Ok(loaded) => loaded,
            Err(e) => {
                error!("reload rejected, the running configuration stays:{e}");
                self.reloads.failed += 1;
                self.reloads.last_ok = false;
                self.reloads.last_at = status::unix_now();
                return crate::control::ReloadOutcome {
                    applied: false,
                    kept_running: true,
                    error: Some(e.trim().to_owned()),
                };
            }
        };
        self.reloads.ok += 1;
        self.reloads.last_ok = true;
        self.reloads.last_at = status::unix_now();
        if config.global.metrics.map(|m| m.listen)
            != self.metrics.as_ref().map(|(_, server)| server.local_addr)
        {
            warn!("global.metrics changed: that takes effect when floatip restarts");
        }
        info!(config = %self.config_path.display(), "reloading");
        if config.global.event_socket.as_deref() != self.exec.event_socket().map(EventSocket::path)
        {
            warn!("global.event_socket changed: that takes effect when floatip restarts");
        }
        if config.global.control_socket != self.control_configured {
            warn!("global.control_socket changed: that takes effect when floatip restarts");
        }
        let user_changed = run_as != self.run_as;
        self.run_as = run_as;
        self.checks
            .reload(&config.checks, &self.run_as, user_changed);
        let plan = reload_plan::plan(&self.running(), &config);
        log_plan(&plan);
        let now = self.clock.now();
        // Take every router out of its unit; units are built again below.
        let mut running: HashMap<RouterId, Router> = std::mem::take(&mut self.units)
            .into_iter()
            .flat_map(|unit| unit.ids.into_iter().zip(unit.group.into_members()))
            .collect();
        let (mut ids, mut new_ids) = (HashMap::new(), Vec::new());
        // Actions of routers taken out of their units, carried out once units exist.
        let mut deferred: Vec<(RouterId, Action)> = Vec::new();
        let mut failures = Vec::new();
        for entry in &plan.routers {
            let step =
                self.apply_step(&entry.step, &mut running, &mut deferred, &mut failures, now);
            if let Some((id, opened)) = step.await {
                ids.insert(entry.name.clone(), id);
                if opened {
                    new_ids.push(id);
                }
            }
        }
        // Routers that leave send priority 0 first (make-before-break), each on its own;
        // not one whose replacement could not be opened: it goes on as it was.
        let kept: std::collections::HashSet<RouterId> = ids.values().copied().collect();
        let mut retiring_units = Vec::new();
        for id in plan.leaving().filter(|id| !kept.contains(id)) {
            let Some(mut router) = running.remove(&id) else {
                continue;
            };
            if let Some(io) = self.routers.get_mut(&id) {
                io.retire();
                let actions = router.step(Event::Shutdown, now);
                deferred.extend(actions.into_iter().map(|a| (id, a)));
            }
            retiring_units.push(Unit {
                group: SyncGroup::new(vec![router]),
                ids: vec![id],
                name: None,
                start_by: None,
            });
        }
        self.units = self.build_units(&config, ids, running);
        // What each sync group's hook was last told stays, so a reload does not repeat
        // it; a group no longer configured is forgotten.
        self.exec
            .retain_groups(|name| config.sync_groups.iter().any(|g| g.name == name));
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
            // New routers start; so do routers still waiting for their first check
            // results (a rebuilt unit waits afresh).
            let waiting = self.units[unit]
                .group
                .members()
                .iter()
                .any(|r| r.state() == State::Initialize);
            if waiting || self.units[unit].ids.iter().any(|id| new_ids.contains(id)) {
                self.start_unit(unit, now).await;
            } else {
                for member in 0..self.units[unit].ids.len() {
                    self.apply_health(unit, member, now).await;
                }
            }
        }
        self.drop_retired();
        crate::control::ReloadOutcome {
            applied: true,
            kept_running: false,
            error: (!failures.is_empty()).then(|| failures.join("\n")),
        }
    }

    /// One router's status: the core's snapshot with its name, counters and checks.
    fn router_status(&self, id: RouterId) -> Option<status::RouterStatus> {
        let io = self.routers.get(&id)?;
        let router = self.units.iter().find_map(|u| {
            let member = u.ids.iter().position(|&i| i == id)?;
            u.group.members().get(member)
        })?;
        Some(status::RouterStatus::new(io, router, &self.checks))
    }

    /// Everything metrics read, as one value.
    fn status(&self) -> DaemonStatus {
        let mut routers: Vec<_> = self
            .units
            .iter()
            .flat_map(|u| u.ids.iter().zip(u.group.members()))
            .filter_map(|(id, router)| {
                let io = self.routers.get(id)?;
                Some(status::RouterStatus::new(io, router, &self.checks))
            })
            .collect();
        routers.sort_by(|a, b| a.name.cmp(&b.name));
        let mut hooks: Vec<_> = self
            .exec
            .router_hooks
            .stats()
            .filter_map(|(id, (runs, failures))| {
                Some(status::HookStatus {
                    owner: self.routers.get(id)?.spec().name.clone(),
                    kind: HookType::Instance.as_str(),
                    runs,
                    failures,
                })
            })
            .chain(
                self.exec
                    .group_hooks
                    .stats()
                    .map(|(name, (runs, failures))| status::HookStatus {
                        owner: name.clone(),
                        kind: HookType::Group.as_str(),
                        runs,
                        failures,
                    }),
            )
            .collect();
        hooks.sort_by(|a, b| (a.kind, &a.owner).cmp(&(b.kind, &b.owner)));
        DaemonStatus {
            version: env!("CARGO_PKG_VERSION"),
            started_at: self.started_at,
            routers,
            checks: self.checks.statuses(),
            hooks,
            reloads: self.reloads.clone(),
            timer_lateness: self.lateness.clone(),
        }
    }

    /// Give the metrics endpoint the status after an event (nothing without one).
    fn publish_status(&self) {
        if let Some((tx, _)) = &self.metrics {
            tx.send_replace(Arc::new(self.status()));
        }
    }

    async fn cleanup(&mut self) {
        let ids: Vec<RouterId> = self.routers.keys().copied().collect();
        for id in ids {
            let status = self.router_status(id);
            let Some(io) = self.routers.get_mut(&id) else {
                continue;
            };
            let span = io.span.clone();
            io.remove_addresses(&self.netlink)
                .instrument(span.clone())
                .await;
            // One line per router at exit, from its status.
            if let Some(status) = status {
                let c = &status.counters;
                span.in_scope(|| {
                    info!(
                        received = c.received,
                        sent = c.sent,
                        send_errors = c.send_errors,
                        announcements = c.announcements,
                        transitions = c.transitions,
                        "at exit: {}",
                        status.summary()
                    )
                });
            }
        }
        self.exec.finish().await;
    }
}

/// One line per router or sync group a reload changes, and what the plan ignored.
fn log_plan(plan: &reload_plan::ReloadPlan<'_>) {
    plan.warnings.iter().for_each(|w| warn!("{w}"));
    for entry in plan.routers.iter().filter(|r| r.is_news()) {
        info!(router = %entry.name, "{entry}");
    }
    for group in &plan.groups {
        info!(group = %group.name, "sync group membership: {}", group.reason);
    }
}

/// A configuration loaded again for a reload, and who runs its commands; or why it is
/// rejected (worded to follow "the running configuration stays:").
fn load_for_reload(path: &Path) -> Result<(Config, RunAs), String> {
    let config = config::load(path).map_err(|e| format!("\n{e}"))?;
    let run_as = resolve_script_user(&config).map_err(|e| format!(" {e}"))?;
    Ok((config, run_as))
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
