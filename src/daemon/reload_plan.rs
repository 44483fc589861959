//! What a reload will do, decided before anything is done: the plan.
//!
//! Owns the pure decision of a reload: given the routers running now (id, name, spec,
//! sync group, whether a previous reload already retired them) and the new `Config`,
//! which routers are kept unchanged, changed in place (same identity, and which fields
//! differ), replaced (same name, new identity, and why), added or removed, and how the
//! sync groups' membership changes, each with a reason an operator can read. Must not do
//! I/O, read the clock or log: `Daemon::reload` logs the plan and carries it out.
//!
//! It lives in `daemon/`, not `proto/`, because its input is the configuration's
//! `RouterSpec` (`config` builds on `proto`, so `proto` must not import it) and the
//! daemon's `RouterId`s; it is a pure function all the same.
//!
//! A router's identity is what its socket and addresses are opened for: interface, VRID,
//! version, family, multicast or unicast and the unicast source, and the other devices
//! its addresses live on. Everything else can change on a running router.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::net::IpAddr;

use crate::config::{Config, RouterSpec, format_duration};
use crate::proto::packet::{Family, Version};

use super::router::RouterId;

/// One router running now, as the plan needs to see it.
#[derive(Debug, Clone, Copy)]
pub struct Running<'a> {
    pub id: RouterId,
    pub spec: &'a RouterSpec,
    /// The sync group it is a member of now (`None`: on its own).
    pub group: Option<&'a str>,
    /// Removed by an earlier reload and still leaving (handing over, or waiting for
    /// its Stopped); never matched to a configured router again.
    pub retired: bool,
}

/// What happens to one router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<'c> {
    /// Same spec: nothing to do (its sync group may still change).
    Unchanged { id: RouterId },
    /// Same identity, other spec: updated in place, its state kept.
    Changed {
        id: RouterId,
        spec: &'c RouterSpec,
        /// The spec fields that differ, by their configuration key.
        fields: Vec<&'static str>,
    },
    /// Same name, another identity: the old one leaves (priority 0 first, if master)
    /// and a new one starts.
    Replaced { old: RouterId, spec: &'c RouterSpec },
    /// Not running before.
    Added { spec: &'c RouterSpec },
    /// No longer configured: it leaves (priority 0 first, if master).
    Removed { id: RouterId },
    /// Removed by an earlier reload and still leaving: it goes on leaving.
    StillLeaving { id: RouterId },
}

/// The plan for one router, with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterPlan<'c> {
    pub name: String,
    pub step: Step<'c>,
    pub reason: String,
}

impl RouterPlan<'_> {
    /// Whether this entry is worth a log line (not unchanged, not already leaving).
    pub fn is_news(&self) -> bool {
        !matches!(
            self.step,
            Step::Unchanged { .. } | Step::StillLeaving { .. }
        )
    }

    /// The running router that leaves, if any.
    pub fn leaving(&self) -> Option<RouterId> {
        match self.step {
            Step::Replaced { old: id, .. } | Step::Removed { id } | Step::StillLeaving { id } => {
                Some(id)
            }
            _ => None,
        }
    }
}

impl fmt::Display for RouterPlan<'_> {
    /// `configuration changed: priority 150 -> 120`, `router replaced: vrid 51 -> 52`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.step {
            Step::Unchanged { .. } => "unchanged",
            Step::Changed { .. } => "configuration changed",
            Step::Replaced { .. } => "router replaced",
            Step::Added { .. } => "router added",
            Step::Removed { .. } => "router removed from the configuration",
            Step::StillLeaving { .. } => "still leaving",
        };
        write!(f, "{what}: {}", self.reason)
    }
}

/// How one sync group's membership changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupChange {
    pub name: String,
    /// Routers that become members (a new group: all of them).
    pub joined: Vec<String>,
    /// Routers that stop being members (a removed group: all of them).
    pub left: Vec<String>,
    pub reason: String,
}

/// Everything a reload does to the routers, in the order it is carried out: the
/// configured routers in configuration order, then those that leave, by id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReloadPlan<'c> {
    pub routers: Vec<RouterPlan<'c>>,
    /// Only groups whose membership changes.
    pub groups: Vec<GroupChange>,
    /// What the plan ignored (a validated configuration never has any).
    pub warnings: Vec<String>,
}

impl ReloadPlan<'_> {
    /// The running routers that leave, in plan order.
    pub fn leaving(&self) -> impl Iterator<Item = RouterId> + '_ {
        self.routers.iter().filter_map(RouterPlan::leaving)
    }

    /// The entry of a router, by name (the leaving one of a replaced router is its
    /// `Replaced` entry).
    #[cfg(test)]
    pub fn router(&self, name: &str) -> Option<&RouterPlan<'_>> {
        self.routers.iter().find(|r| r.name == name)
    }
}

/// Plan a reload from the routers running now to `config`.
pub fn plan<'c>(running: &[Running<'_>], config: &'c Config) -> ReloadPlan<'c> {
    let mut live: Vec<&Running> = running.iter().filter(|r| !r.retired).collect();
    // Deterministic whatever order the caller's map gave: the oldest router first.
    live.sort_by_key(|r| r.id);
    let mut plan = ReloadPlan::default();
    let mut matched: HashSet<RouterId> = HashSet::new();
    let mut configured: HashSet<&str> = HashSet::new();
    for spec in &config.routers {
        if !configured.insert(&spec.name) {
            plan.warnings.push(format!(
                "router {} is configured more than once: only the first is used",
                spec.name
            ));
            continue;
        }
        let existing = live
            .iter()
            .find(|r| r.spec.name == spec.name && !matched.contains(&r.id));
        let (step, reason) = match existing {
            None => (
                Step::Added { spec },
                String::from("new in the configuration"),
            ),
            Some(old) => {
                matched.insert(old.id);
                match identity_change(old.spec, spec) {
                    Some(why) => (Step::Replaced { old: old.id, spec }, why),
                    None => {
                        let (fields, details) = spec_changes(old.spec, spec);
                        if fields.is_empty() {
                            (Step::Unchanged { id: old.id }, String::from("unchanged"))
                        } else {
                            let step = Step::Changed {
                                id: old.id,
                                spec,
                                fields,
                            };
                            (step, details.join(", "))
                        }
                    }
                }
            }
        };
        plan.routers.push(RouterPlan {
            name: spec.name.clone(),
            step,
            reason,
        });
    }
    let mut leaving: Vec<&Running> = running
        .iter()
        .filter(|r| !matched.contains(&r.id))
        .collect();
    leaving.sort_by_key(|r| r.id);
    for old in leaving {
        let (step, reason) = if old.retired {
            let reason = String::from("removed by an earlier reload");
            (Step::StillLeaving { id: old.id }, reason)
        } else {
            (
                Step::Removed { id: old.id },
                removal_reason(old.spec, config),
            )
        };
        plan.routers.push(RouterPlan {
            name: old.spec.name.clone(),
            step,
            reason,
        });
    }
    // A router that takes over the identity of one that left is most likely renamed.
    let renamed: Vec<(usize, String)> = plan
        .routers
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| match &entry.step {
            Step::Added { spec } => running
                .iter()
                .find(|r| {
                    !r.retired
                        && !matched.contains(&r.id)
                        && identity_change(r.spec, spec).is_none()
                })
                .map(|old| (index, old.spec.name.clone())),
            _ => None,
        })
        .collect();
    for (index, old_name) in renamed {
        plan.routers[index].reason =
            format!("new in the configuration, with the identity of removed router {old_name}");
    }
    plan.groups = group_changes(&live, config, &mut plan.warnings);
    plan
}

/// Why a running router cannot become `new` in place; `None` if it can.
pub fn identity_change(old: &RouterSpec, new: &RouterSpec) -> Option<String> {
    let mut why = Vec::new();
    if old.interface != new.interface {
        why.push(format!("interface {} -> {}", old.interface, new.interface));
    }
    if old.vrid != new.vrid {
        why.push(format!("vrid {} -> {}", old.vrid, new.vrid));
    }
    if old.version != new.version {
        why.push(format!(
            "version {} -> {}",
            version(old.version),
            version(new.version)
        ));
    }
    if old.family() != new.family() {
        why.push(format!(
            "family {} -> {}",
            family(old.family()),
            family(new.family())
        ));
    }
    let source = |spec: &RouterSpec| spec.unicast.as_ref().map(|u| u.source);
    match (source(old), source(new)) {
        (None, Some(_)) => why.push("multicast -> unicast".into()),
        (Some(_), None) => why.push("unicast -> multicast".into()),
        (Some(from), Some(to)) if from != to => why.push(format!(
            "unicast source {} -> {}",
            source_name(from),
            source_name(to)
        )),
        _ => {}
    }
    let (old_devices, new_devices) = (devices(old), devices(new));
    if old_devices != new_devices {
        why.push(format!(
            "address devices [{}] -> [{}]",
            join(&old_devices),
            join(&new_devices)
        ));
    }
    (!why.is_empty()).then(|| why.join(", "))
}

/// The fields that differ between two specs of the same identity, and each change in
/// words. Passwords and hook commands are named, never shown.
fn spec_changes(old: &RouterSpec, new: &RouterSpec) -> (Vec<&'static str>, Vec<String>) {
    let mut fields = Vec::new();
    let mut details = Vec::new();
    let mut change = |field: &'static str, detail: String| {
        fields.push(field);
        details.push(detail);
    };
    if old.priority != new.priority {
        change(
            "priority",
            format!("priority {} -> {}", old.priority, new.priority),
        );
    }
    if old.advert_interval != new.advert_interval {
        change(
            "advert_interval",
            format!(
                "advert_interval {} -> {}",
                old.advert_interval, new.advert_interval
            ),
        );
    }
    if old.preempt != new.preempt {
        change(
            "preempt",
            format!("preempt {} -> {}", old.preempt, new.preempt),
        );
    }
    if old.preempt_delay != new.preempt_delay {
        change(
            "preempt_delay",
            format!(
                "preempt_delay {} -> {}",
                format_duration(old.preempt_delay),
                format_duration(new.preempt_delay)
            ),
        );
    }
    if old.accept_mode != new.accept_mode {
        change(
            "accept_mode",
            format!("accept_mode {} -> {}", old.accept_mode, new.accept_mode),
        );
    }
    if old.addresses != new.addresses {
        let describe = |a: &crate::config::VirtualAddress| match (&a.device, &a.label) {
            (None, None) => a.to_string(),
            (device, label) => format!(
                "{a}{}{}",
                device
                    .as_ref()
                    .map_or(String::new(), |d| format!(" dev {d}")),
                label
                    .as_ref()
                    .map_or(String::new(), |l| format!(" label {l}"))
            ),
        };
        let before: Vec<String> = old.addresses.iter().map(describe).collect();
        let after: Vec<String> = new.addresses.iter().map(describe).collect();
        let mut diff: Vec<String> = after
            .iter()
            .filter(|a| !before.contains(a))
            .map(|a| format!("+{a}"))
            .collect();
        diff.extend(
            before
                .iter()
                .filter(|a| !after.contains(a))
                .map(|a| format!("-{a}")),
        );
        if diff.is_empty() {
            diff.push("reordered".into());
        }
        change("addresses", format!("addresses {}", diff.join(" ")));
    }
    let peers = |spec: &RouterSpec| spec.unicast.as_ref().map(|u| u.peers.clone());
    if peers(old) != peers(new) {
        let list =
            |p: Option<Vec<IpAddr>>| join(p.unwrap_or_default().iter().map(ToString::to_string));
        change(
            "unicast.peers",
            format!(
                "unicast peers [{}] -> [{}]",
                list(peers(old)),
                list(peers(new))
            ),
        );
    }
    let hops = |spec: &RouterSpec| spec.unicast.as_ref().map_or(0, |u| u.max_hops);
    if hops(old) != hops(new) {
        change(
            "unicast.max_hops",
            format!("unicast max_hops {} -> {}", hops(old), hops(new)),
        );
    }
    if old.hosts != new.hosts {
        let count = |hosts: Option<u8>| hosts.map_or("unknown".to_owned(), |n| n.to_string());
        change(
            "hosts",
            format!("hosts {} -> {}", count(old.hosts), count(new.hosts)),
        );
    }
    if old.checksum != new.checksum {
        change(
            "checksum",
            format!(
                "checksum {} -> {}",
                old.checksum.as_str(),
                new.checksum.as_str()
            ),
        );
    }
    if old.announce != new.announce {
        change("announce", "announce changed".into());
    }
    if old.password != new.password {
        change("password", "password changed".into());
    }
    if old.track != new.track {
        change(
            "track",
            format!("track [{}] -> [{}]", join(&old.track), join(&new.track)),
        );
    }
    if old.notify != new.notify {
        change("notify", "notify hooks changed".into());
    }
    (fields, details)
}

/// Why a running router leaves: gone from the file, or its name is taken by a router of
/// another identity (then it is `Replaced`, not here).
fn removal_reason(old: &RouterSpec, config: &Config) -> String {
    match config
        .routers
        .iter()
        .find(|spec| spec.name != old.name && identity_change(old, spec).is_none())
    {
        Some(heir) => format!(
            "no longer configured; router {} has its identity (renamed?)",
            heir.name
        ),
        None => "no longer configured".into(),
    }
}

/// Membership changes of the sync groups, as the daemon builds them: a group's members
/// are the configured routers it names, each router in the first group naming it.
fn group_changes(
    live: &[&Running],
    config: &Config,
    warnings: &mut Vec<String>,
) -> Vec<GroupChange> {
    let mut before: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for router in live {
        if let Some(group) = router.group {
            before.entry(group).or_default().push(&router.spec.name);
        }
    }
    let mut after: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut grouped: BTreeMap<&str, &str> = BTreeMap::new();
    for group in &config.sync_groups {
        let members = after.entry(group.name.as_str()).or_default();
        for name in &group.routers {
            if config.router(name).is_none() {
                continue;
            }
            match grouped.get(name.as_str()) {
                Some(first) => warnings.push(format!(
                    "router {name} is in sync groups {first} and {}: it joins {first} only",
                    group.name
                )),
                None => {
                    grouped.insert(name, &group.name);
                    members.push(name);
                }
            }
        }
    }
    let names: BTreeSet<&str> = before.keys().chain(after.keys()).copied().collect();
    let mut changes = Vec::new();
    for name in names {
        let old = before.get(name).cloned().unwrap_or_default();
        let new = after.get(name).cloned().unwrap_or_default();
        let joined: Vec<String> = new
            .iter()
            .filter(|r| !old.contains(r))
            .map(|r| r.to_string())
            .collect();
        let left: Vec<String> = old
            .iter()
            .filter(|r| !new.contains(r))
            .map(|r| r.to_string())
            .collect();
        if joined.is_empty() && left.is_empty() {
            continue;
        }
        let mut reason = Vec::new();
        if !before.contains_key(name) {
            reason.push("new sync group".to_string());
        } else if !after.contains_key(name) {
            reason.push("sync group removed".to_string());
        }
        if !joined.is_empty() {
            reason.push(format!("joined by {}", join(&joined)));
        }
        if !left.is_empty() {
            reason.push(format!("left by {}", join(&left)));
        }
        changes.push(GroupChange {
            name: name.to_string(),
            joined,
            left,
            reason: reason.join(", "),
        });
    }
    changes
}

/// The devices a router's addresses live on, other than its own interface.
fn devices(spec: &RouterSpec) -> BTreeSet<&str> {
    spec.addresses
        .iter()
        .filter_map(|a| a.device.as_deref())
        .collect()
}

fn join<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    items
        .into_iter()
        .map(|s| s.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn version(version: Version) -> String {
    format!("v{}", version.number())
}

fn family(family: Family) -> &'static str {
    match family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

fn source_name(source: Option<IpAddr>) -> String {
    source.map_or_else(|| "(interface address)".into(), |s| s.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{SyncGroupSpec, Unicast, VirtualAddress};

    /// Two routers on eth0, `web` (vrid 51) and `db` (vrid 52), no sync group.
    fn base() -> Config {
        let text = "routers:
  - name: web
    interface: eth0
    vrid: 51
    addresses: [192.0.2.100/24]
  - name: db
    interface: eth0
    vrid: 52
    addresses: [192.0.2.200/24]
";
        crate::config::parse(text, Path::new("test.yaml")).expect("valid")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    fn group(name: &str, routers: &[&str]) -> SyncGroupSpec {
        SyncGroupSpec {
            name: name.into(),
            routers: routers.iter().map(|r| r.to_string()).collect(),
            track: Vec::new(),
            notify: None,
        }
    }

    /// The routers of `config` as if running, ids 0.. in order, in its sync groups.
    fn running(config: &Config) -> Vec<Running<'_>> {
        config
            .routers
            .iter()
            .zip(0..)
            .map(|(spec, id)| Running {
                id: RouterId(id),
                spec,
                group: config.sync_group_of(&spec.name).map(|g| g.name.as_str()),
                retired: false,
            })
            .collect()
    }

    fn step<'p>(plan: &'p ReloadPlan<'_>, name: &str) -> &'p Step<'p> {
        &plan
            .router(name)
            .unwrap_or_else(|| panic!("{name} not in {plan:#?}"))
            .step
    }

    /// The one changed entry of a plan where only `web` differs.
    fn only_web<'p>(plan: &'p ReloadPlan<'_>) -> &'p RouterPlan<'p> {
        let news: Vec<&RouterPlan> = plan.routers.iter().filter(|r| r.is_news()).collect();
        assert_eq!(news.len(), 1, "{plan:#?}");
        assert_eq!(news[0].name, "web");
        assert_eq!(step(plan, "db"), &Step::Unchanged { id: RouterId(1) });
        news[0]
    }

    fn replaced_because(old: &Config, new: &Config, why: &str) {
        let plan = plan(&running(old), new);
        let web = only_web(&plan);
        assert_eq!(
            web.step,
            Step::Replaced {
                old: RouterId(0),
                spec: &new.routers[0]
            }
        );
        assert_eq!(web.reason, why);
        assert_eq!(web.to_string(), format!("router replaced: {why}"));
        assert_eq!(plan.leaving().collect::<Vec<_>>(), [RouterId(0)]);
    }

    #[test]
    fn the_same_configuration_changes_nothing() {
        let config = base();
        let plan = plan(&running(&config), &config);
        assert_eq!(
            plan.routers
                .iter()
                .map(|r| (r.name.as_str(), r.step.clone()))
                .collect::<Vec<_>>(),
            [
                ("web", Step::Unchanged { id: RouterId(0) }),
                ("db", Step::Unchanged { id: RouterId(1) }),
            ]
        );
        assert!(plan.routers.iter().all(|r| !r.is_news()));
        assert_eq!(plan.leaving().count(), 0);
        assert!(plan.groups.is_empty());
        assert!(plan.warnings.is_empty());
    }

    #[test]
    fn a_new_priority_is_changed_in_place() {
        let old = base();
        let mut new = base();
        new.routers[0].priority = 120;
        let plan = plan(&running(&old), &new);
        let web = only_web(&plan);
        assert_eq!(
            web.step,
            Step::Changed {
                id: RouterId(0),
                spec: &new.routers[0],
                fields: vec!["priority"],
            }
        );
        assert_eq!(
            web.to_string(),
            "configuration changed: priority 100 -> 120"
        );
        assert_eq!(plan.leaving().count(), 0);
    }

    #[test]
    fn new_addresses_are_changed_in_place_and_listed() {
        let old = base();
        let mut new = base();
        new.routers[0].addresses = vec![
            VirtualAddress {
                address: ip("192.0.2.100"),
                prefix_len: 25,
                device: None,
                label: None,
            },
            VirtualAddress {
                address: ip("192.0.2.101"),
                prefix_len: 24,
                device: None,
                label: Some("eth0:web".into()),
            },
        ];
        new.routers[0].preempt = false;
        let plan = plan(&running(&old), &new);
        let web = only_web(&plan);
        let Step::Changed { fields, .. } = &web.step else {
            panic!("{web:?}");
        };
        assert_eq!(fields, &["preempt", "addresses"]);
        assert_eq!(
            web.reason,
            "preempt true -> false, addresses +192.0.2.100/25 +192.0.2.101/24 label eth0:web \
             -192.0.2.100/24"
        );
    }

    #[test]
    fn other_unicast_peers_are_changed_in_place() {
        let mut old = base();
        old.routers[0].unicast = Some(Unicast {
            source: Some(ip("192.0.2.1")),
            peers: vec![ip("192.0.2.2")],
            max_hops: 0,
        });
        let mut new = old.clone();
        new.routers[0].unicast = Some(Unicast {
            source: Some(ip("192.0.2.1")),
            peers: vec![ip("192.0.2.2"), ip("192.0.2.3")],
            max_hops: 0,
        });
        let plan = plan(&running(&old), &new);
        let web = only_web(&plan);
        assert!(
            matches!(&web.step, Step::Changed { fields, .. } if fields == &["unicast.peers"]),
            "{web:?}"
        );
        assert_eq!(
            web.reason,
            "unicast peers [192.0.2.2] -> [192.0.2.2, 192.0.2.3]"
        );
    }

    #[test]
    fn secrets_are_named_not_shown() {
        let old = base();
        let mut new = base();
        new.routers[0].password = Some("s3cret".into());
        new.routers[0].notify = Some(crate::config::NotifySpec {
            command: Some(vec!["/usr/local/bin/hook".into(), "s3cret".into()]),
            master: None,
            backup: None,
            fault: None,
            stop: None,
            timeout: crate::config::DEFAULT_NOTIFY_TIMEOUT,
        });
        let plan = plan(&running(&old), &new);
        let web = only_web(&plan);
        assert_eq!(web.reason, "password changed, notify hooks changed");
        assert!(!web.to_string().contains("s3cret"), "{web}");
    }

    #[test]
    fn another_interface_is_a_replacement() {
        let old = base();
        let mut new = base();
        new.routers[0].interface = "eth1".into();
        replaced_because(&old, &new, "interface eth0 -> eth1");
    }

    #[test]
    fn another_vrid_is_a_replacement() {
        let old = base();
        let mut new = base();
        new.routers[0].vrid = 53;
        new.routers[0].priority = 120;
        // The in-place fields are not listed: the new router starts from its spec.
        replaced_because(&old, &new, "vrid 51 -> 53");
    }

    #[test]
    fn another_version_or_family_is_a_replacement() {
        let old = base();
        let mut new = base();
        new.routers[0].version = Version::V2;
        replaced_because(&old, &new, "version v3 -> v2");
        let mut new = base();
        new.routers[0].addresses[0].address = ip("2001:db8::100");
        new.routers[0].addresses[0].prefix_len = 64;
        replaced_because(&old, &new, "family IPv4 -> IPv6");
    }

    #[test]
    fn another_unicast_max_hops_is_changed_in_place() {
        let mut old = base();
        old.routers[0].unicast = Some(Unicast {
            source: Some(ip("192.0.2.1")),
            peers: vec![ip("198.51.100.2")],
            max_hops: 0,
        });
        let mut new = old.clone();
        if let Some(u) = new.routers[0].unicast.as_mut() {
            u.max_hops = 1;
        }
        let plan = plan(&running(&old), &new);
        let web = only_web(&plan);
        assert!(
            matches!(&web.step, Step::Changed { fields, .. } if fields == &["unicast.max_hops"]),
            "{web:?}"
        );
        assert_eq!(web.reason, "unicast max_hops 0 -> 1");
    }

    #[test]
    fn another_unicast_source_or_mode_is_a_replacement() {
        let multicast = base();
        let unicast = |source: Option<&str>| {
            let mut config = base();
            config.routers[0].unicast = Some(Unicast {
                source: source.map(ip),
                peers: vec![ip("192.0.2.9")],
                max_hops: 0,
            });
            config
        };
        replaced_because(
            &unicast(Some("192.0.2.1")),
            &unicast(Some("192.0.2.2")),
            "unicast source 192.0.2.1 -> 192.0.2.2",
        );
        replaced_because(
            &unicast(None),
            &unicast(Some("192.0.2.2")),
            "unicast source (interface address) -> 192.0.2.2",
        );
        replaced_because(&multicast, &unicast(None), "multicast -> unicast");
        replaced_because(&unicast(None), &multicast, "unicast -> multicast");
    }

    #[test]
    fn another_address_device_is_a_replacement() {
        let old = base();
        let mut new = base();
        new.routers[0].addresses[0].device = Some("eth1".into());
        new.routers[0].vrid = 52;
        replaced_because(&old, &new, "vrid 51 -> 52, address devices [] -> [eth1]");
    }

    #[test]
    fn a_router_no_longer_configured_is_removed() {
        let old = base();
        let mut new = base();
        new.routers.remove(1);
        let plan = plan(&running(&old), &new);
        assert_eq!(step(&plan, "web"), &Step::Unchanged { id: RouterId(0) });
        let db = plan.router("db").expect("db");
        assert_eq!(db.step, Step::Removed { id: RouterId(1) });
        assert_eq!(
            db.to_string(),
            "router removed from the configuration: no longer configured"
        );
        assert_eq!(plan.leaving().collect::<Vec<_>>(), [RouterId(1)]);
    }

    #[test]
    fn a_new_router_is_added() {
        let mut old = base();
        old.routers.remove(1);
        let new = base();
        let plan = plan(&running(&old), &new);
        assert_eq!(step(&plan, "web"), &Step::Unchanged { id: RouterId(0) });
        let db = plan.router("db").expect("db");
        assert_eq!(
            db.step,
            Step::Added {
                spec: &new.routers[1]
            }
        );
        assert_eq!(db.to_string(), "router added: new in the configuration");
        assert_eq!(plan.leaving().count(), 0);
    }

    #[test]
    fn a_renamed_router_is_removed_and_added_and_says_so() {
        let old = base();
        let mut new = base();
        new.routers[0].name = "www".into();
        let plan = plan(&running(&old), &new);
        assert_eq!(
            plan.router("www").map(|r| (&r.step, r.reason.as_str())),
            Some((
                &Step::Added {
                    spec: &new.routers[0]
                },
                "new in the configuration, with the identity of removed router web"
            ))
        );
        assert_eq!(
            plan.router("web").map(|r| (&r.step, r.reason.as_str())),
            Some((
                &Step::Removed { id: RouterId(0) },
                "no longer configured; router www has its identity (renamed?)"
            ))
        );
        // Added in configuration order, then the leaving one.
        let names: Vec<&str> = plan.routers.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["www", "db", "web"]);
    }

    #[test]
    fn moving_into_a_sync_group_keeps_the_router() {
        let old = base();
        let mut new = base();
        new.sync_groups.push(group("lb", &["web", "db"]));
        let plan = plan(&running(&old), &new);
        assert!(plan.routers.iter().all(|r| !r.is_news()), "{plan:#?}");
        assert_eq!(
            plan.groups,
            [GroupChange {
                name: "lb".into(),
                joined: vec!["web".into(), "db".into()],
                left: Vec::new(),
                reason: "new sync group, joined by web, db".into(),
            }]
        );
    }

    #[test]
    fn moving_out_of_and_between_sync_groups() {
        let mut old = base();
        old.sync_groups.push(group("lb", &["web", "db"]));
        let mut new = base();
        new.sync_groups.push(group("front", &["web"]));
        // The group's checks were in the member's track: that change is in place.
        new.routers[1].track = vec!["haproxy".into()];
        let plan = plan(&running(&old), &new);
        assert_eq!(step(&plan, "web"), &Step::Unchanged { id: RouterId(0) });
        assert!(matches!(step(&plan, "db"), Step::Changed { fields, .. } if fields == &["track"]));
        assert_eq!(
            plan.groups,
            [
                GroupChange {
                    name: "front".into(),
                    joined: vec!["web".into()],
                    left: Vec::new(),
                    reason: "new sync group, joined by web".into(),
                },
                GroupChange {
                    name: "lb".into(),
                    joined: Vec::new(),
                    left: vec!["web".into(), "db".into()],
                    reason: "sync group removed, left by web, db".into(),
                },
            ]
        );
        // Only one member leaves a group that stays.
        let mut fewer = old.clone();
        fewer.sync_groups[0].routers.pop();
        let plan = super::plan(&running(&old), &fewer);
        assert_eq!(plan.groups.len(), 1);
        assert_eq!(plan.groups[0].reason, "left by db");
    }

    #[test]
    fn a_replaced_group_member_stays_in_its_group() {
        let mut old = base();
        old.sync_groups.push(group("lb", &["web", "db"]));
        let mut new = old.clone();
        new.routers[0].vrid = 53;
        let plan = plan(&running(&old), &new);
        assert!(matches!(step(&plan, "web"), Step::Replaced { .. }));
        assert!(plan.groups.is_empty(), "{:?}", plan.groups);
    }

    #[test]
    fn a_retired_router_goes_on_leaving_beside_its_successor() {
        let config = base();
        let mut routers = running(&config);
        // `web` 0 was removed by an earlier reload and is still handing over; the `web`
        // running now is 2.
        routers[0].retired = true;
        routers.push(Running {
            id: RouterId(2),
            spec: &config.routers[0],
            group: None,
            retired: false,
        });
        let plan = plan(&routers, &config);
        let steps: Vec<(&str, &Step)> = plan
            .routers
            .iter()
            .map(|r| (r.name.as_str(), &r.step))
            .collect();
        assert_eq!(
            steps,
            [
                ("web", &Step::Unchanged { id: RouterId(2) }),
                ("db", &Step::Unchanged { id: RouterId(1) }),
                ("web", &Step::StillLeaving { id: RouterId(0) }),
            ]
        );
        assert!(plan.routers.iter().all(|r| !r.is_news()));
        assert_eq!(plan.leaving().collect::<Vec<_>>(), [RouterId(0)]);
    }

    #[test]
    fn duplicates_are_used_once_and_reported() {
        let old = base();
        let mut new = base();
        let mut second_web = new.routers[0].clone();
        second_web.priority = 7;
        new.routers.push(second_web);
        new.sync_groups.push(group("a", &["web"]));
        new.sync_groups.push(group("b", &["web", "db"]));
        let plan = plan(&running(&old), &new);
        let names: Vec<&str> = plan.routers.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["web", "db"]);
        // The first `web` is the one used.
        assert_eq!(step(&plan, "web"), &Step::Unchanged { id: RouterId(0) });
        assert_eq!(
            plan.warnings,
            [
                "router web is configured more than once: only the first is used",
                "router web is in sync groups a and b: it joins a only",
            ]
        );
        let b = plan.groups.iter().find(|g| g.name == "b").expect("b");
        assert_eq!(b.joined, ["db"]);
        // Two running routers of one name (never made by the daemon): the oldest is
        // kept, the other leaves.
        let mut twice = running(&old);
        twice.push(Running {
            id: RouterId(5),
            ..twice[0]
        });
        twice.reverse();
        let plan = super::plan(&twice, &old);
        assert_eq!(step(&plan, "web"), &Step::Unchanged { id: RouterId(0) });
        assert_eq!(plan.leaving().collect::<Vec<_>>(), [RouterId(5)]);
    }
}
