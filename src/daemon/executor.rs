//! The executor: the only place where an `Action` of the core becomes I/O.
//!
//! Owns what carrying out actions needs beyond a router's I/O handle: the nftables
//! table of blocked addresses, the notify hooks of routers and sync groups, what each
//! sync group was last reported as, and the event socket. Every action is matched here
//! once: advertisements are encoded (in the checksum form the core chooses) and sent,
//! addresses added and removed, announcements sent, and a transition becomes its INFO
//! line, its notify hook and its event-socket line. Must not decide anything: what to
//! do and when is the core's; this only does it, in the order given.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use tracing::{Instrument, error, info, warn};

use super::Unit;
use super::events::EventSocket;
use super::hooks::{HookType, Hooks};
use super::nft;
use super::router::{RouterId, RouterIo};
use crate::config::NotifySpec;
use crate::net::Netlink;
use crate::proto::fsm::{Action, Router, State};
use crate::proto::packet::{self, Advertisement, EncodeCtx};
use crate::proto::timers::Instant;
use crate::track::RunAs;

/// Notify hooks by owner, kept over a reload when their definition is unchanged.
pub struct HookTable<K> {
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
    pub fn sync(
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
    pub fn remove(&mut self, key: &K) {
        self.hooks.remove(key);
    }

    fn get(&self, key: &K) -> Option<&Hooks> {
        self.hooks.get(key).map(|(_, hooks)| hooks)
    }

    async fn finish(&mut self, limit: Duration) {
        let all: Vec<Hooks> = self.hooks.drain().map(|(_, (_, hooks))| hooks).collect();
        futures::future::join_all(all.into_iter().map(|hooks| hooks.finish(limit))).await;
    }
}

/// How long the daemon waits at exit for queued notify hooks (the STOP hooks).
const HOOKS_AT_EXIT: Duration = Duration::from_secs(10);

/// What the daemon gives the executor to carry out one unit's actions.
pub struct Target<'a> {
    pub routers: &'a mut HashMap<RouterId, RouterIo>,
    pub netlink: &'a Netlink,
    pub unit: &'a Unit,
    pub now: Instant,
}

pub struct Executor {
    /// Addresses blocked per router (accept mode off); mirrored into nftables.
    blocked: HashMap<RouterId, Vec<IpAddr>>,
    /// Whether we created the nftables table (and so must remove it on exit).
    nft_table: bool,
    pub router_hooks: HookTable<RouterId>,
    pub group_hooks: HookTable<String>,
    /// The state last reported to each sync group's notify hook and event listeners.
    group_reported: HashMap<String, State>,
    events: Option<EventSocket>,
}

impl Executor {
    pub fn new(events: Option<EventSocket>) -> Executor {
        Executor {
            blocked: HashMap::new(),
            nft_table: false,
            router_hooks: HookTable::default(),
            group_hooks: HookTable::default(),
            group_reported: HashMap::new(),
            events,
        }
    }

    pub fn event_socket(&self) -> Option<&EventSocket> {
        self.events.as_ref()
    }

    /// Forget what was reported to sync groups no longer configured (a reload keeps the
    /// others, so that it does not repeat what their hooks were told).
    pub fn retain_groups(&mut self, keep: impl Fn(&str) -> bool) {
        self.group_reported.retain(|name, _| keep(name));
    }

    /// Carry out a unit's actions, in order, each by the router that must.
    pub async fn execute(&mut self, target: Target<'_>, actions: Vec<(usize, Action)>) {
        let Target {
            routers,
            netlink,
            unit,
            now,
        } = target;
        for (member, action) in actions {
            let (Some(&id), Some(router)) =
                (unit.ids.get(member), unit.group.members().get(member))
            else {
                continue;
            };
            let Some(io) = routers.get_mut(&id) else {
                continue;
            };
            let span = io.span.clone();
            self.execute_one(io, router, id, &action, netlink, now)
                .instrument(span)
                .await;
        }
        self.report_group_state(unit);
    }

    /// Carry out one action of one router.
    async fn execute_one(
        &mut self,
        io: &mut RouterIo,
        router: &Router,
        id: RouterId,
        action: &Action,
        netlink: &Netlink,
        now: Instant,
    ) {
        match action {
            Action::SendAdvert { priority } => send_advert(io, router, *priority).await,
            Action::AddAddresses => io.add_addresses(netlink).await,
            Action::RemoveAddresses => io.remove_addresses(netlink).await,
            Action::RestoreAddresses(addresses) => io.restore_addresses(addresses, netlink).await,
            Action::ReconcileAddresses => io.reconcile_addresses(netlink).await,
            Action::Announce => io.announce_round().await,
            Action::BlockAddressTraffic(block) => {
                let addresses = io.vip_addresses();
                self.block_traffic(id, addresses, *block).await;
            }
            Action::Transition { from, to, reason } => {
                info!("state change {from} -> {to}: {reason}");
                io.counters.transitions += 1;
                let priority = router.effective_priority();
                if let Some(hooks) = self.router_hooks.get(&id) {
                    hooks.notify(*to, priority);
                }
                self.publish(serde_json::json!({
                    "event": "transition",
                    "type": "INSTANCE",
                    "router": io.spec().name,
                    "from": from.to_string(),
                    "to": to.to_string(),
                    "priority": priority,
                    "reason": reason.to_string(),
                }));
            }
            Action::PriorityChanged { from, to } => {
                info!("effective priority {from} -> {to}");
                self.publish(serde_json::json!({
                    "event": "priority",
                    "router": io.spec().name,
                    "from": from,
                    "to": to,
                }));
            }
            Action::Discarded { src, why } => {
                io.count_and_log(why.name(), Some(*src), why.name(), now);
            }
            Action::AddressListMismatch { src } => {
                if let Some(suppressed) = io.limit.allow("address_list_mismatch", now) {
                    warn!(%src, suppressed, "advertisement lists other virtual addresses than ours (accepted)");
                }
            }
        }
    }

    /// A sync group whose members now all share a new state tells its hook.
    fn report_group_state(&mut self, unit: &Unit) {
        let (Some(name), Some(first)) = (unit.name.clone(), unit.group.common_state()) else {
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
    pub fn publish(&self, mut event: serde_json::Value) {
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

    /// Accept mode off: keep nftables dropping exactly the addresses of the non-owner
    /// masters that do not accept traffic.
    async fn block_traffic(&mut self, id: RouterId, addresses: Vec<IpAddr>, block: bool) {
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
    pub async fn remove_stale_nft(&self) {
        // Without the nft command there is nothing to remove, and nothing to report
        // unless a router needs it later.
        let _ = nft::apply(nft::remove_script()).await;
    }

    /// At exit: let the queued hooks (the STOP hooks) run, and remove our nftables table.
    pub async fn finish(&mut self) {
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

/// Encode and send an advertisement to every destination, each in the checksum form the
/// core chooses for it.
async fn send_advert(io: &mut RouterIo, router: &Router, priority: u8) {
    let spec = io.spec();
    let advert = Advertisement {
        version: spec.version,
        vrid: spec.vrid,
        priority,
        interval: spec.advert_interval,
        addresses: io.vip_addresses(),
        auth: spec.auth(),
    };
    for dst in io.destinations() {
        let ctx = EncodeCtx {
            src: io.primary(),
            dst,
            checksum_form: router.checksum_form_for(dst),
        };
        match packet::encode(&advert, &ctx) {
            Ok(bytes) => io.send(&bytes, dst).await,
            // Config validation makes this unreachable; never crash over it.
            Err(e) => {
                warn!("cannot encode advertisement: {e}");
                return;
            }
        }
    }
}
