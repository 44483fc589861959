//! The running health checks: one checker task per configured check, their reports
//! counted by the pure policy (`track::policy`), and what that means for each router.
//!
//! Owns the checker tasks, the channel they report on and the policy's state. A reload
//! keeps a check whose definition did not change (its task and its state: a reload
//! must not put a healthy master in Fault until its checks run again) and replaces the
//! others. Must not step routers: the daemon asks `health(tracked)` and does that.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config::{CheckKind, CheckSpec};
use crate::track::policy::{Change, Health, Policy, Rule, Saved};
use crate::track::{CheckIndex, Observation, Report, RunAs, file, probe, process, script};

/// The shortest wait at start for the first results of the checks.
const FIRST_RESULT_FLOOR: Duration = Duration::from_millis(500);
/// The longest wait at start for the first results of the checks.
const FIRST_RESULT_CAP: Duration = Duration::from_secs(2);

/// One configured check and its checker.
struct Running {
    spec: CheckSpec,
    /// What its reports carry in `Report::check`: unique for the daemon's life, so that
    /// a report from a checker replaced by a reload is recognised and dropped.
    id: usize,
    /// `None` for interface checks, which the daemon feeds from its netlink watch.
    task: Option<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The checks of the running configuration.
pub struct Checks {
    running: Vec<Running>,
    policy: Policy,
    next_id: usize,
    tx: mpsc::UnboundedSender<Report>,
    rx: mpsc::UnboundedReceiver<Report>,
}

impl Checks {
    /// Start a checker for every check.
    pub fn start(specs: &[CheckSpec], run_as: &RunAs) -> Checks {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut checks = Checks {
            running: Vec::new(),
            policy: Policy::new([]),
            next_id: 0,
            tx,
            rx,
        };
        checks.replace(specs, run_as, false, false);
        checks
    }

    /// Take a new list of checks on a reload: unchanged ones keep running with their
    /// state; retuned ones (same name and kind) restart but keep their verdict; new ones
    /// start and count only from their first result; removed ones stop. A new script
    /// user (`user_changed`) restarts every checker.
    pub fn reload(&mut self, specs: &[CheckSpec], run_as: &RunAs, user_changed: bool) {
        self.replace(specs, run_as, user_changed, true);
    }

    /// `reloading`: a check not running before counts only from its first result (at
    /// start, it has its configured initial state).
    fn replace(&mut self, specs: &[CheckSpec], run_as: &RunAs, restart_all: bool, reloading: bool) {
        let mut old: HashMap<String, (Running, Saved)> = HashMap::new();
        for (index, running) in std::mem::take(&mut self.running).into_iter().enumerate() {
            let saved = self.policy.save(index);
            old.insert(running.spec.name.clone(), (running, saved));
        }
        let mut policy = Policy::new(specs.iter().map(rule));
        for (index, spec) in specs.iter().enumerate() {
            match old.remove(&spec.name) {
                Some((running, saved)) if running.spec == *spec && !restart_all => {
                    policy.restore(index, saved);
                    self.running.push(running);
                }
                previous => {
                    match previous {
                        // Retuned (same name and kind): start afresh but keep the
                        // verdict, so a reload does not put a healthy master in Fault
                        // meanwhile.
                        Some((running, saved))
                            if std::mem::discriminant(&running.spec.kind)
                                == std::mem::discriminant(&spec.kind) =>
                        {
                            policy.restore_verdict(index, saved);
                        }
                        Some(_) => {}
                        None if reloading => policy.mark_pending(index),
                        None => {}
                    }
                    let id = self.next_id;
                    self.next_id += 1;
                    let task = spawn(spec, id, run_as, self.tx.clone());
                    self.running.push(Running {
                        spec: spec.clone(),
                        id,
                        task,
                    });
                }
            }
        }
        // What is left in `old` was removed or changed: dropping it aborts its task.
        self.policy = policy;
    }

    /// The index of a check by name.
    pub fn index_of(&self, name: &str) -> Option<CheckIndex> {
        self.running.iter().position(|r| r.spec.name == name)
    }

    pub fn name(&self, index: CheckIndex) -> &str {
        self.running
            .get(index)
            .map(|r| r.spec.name.as_str())
            .unwrap_or("?")
    }

    pub fn health(&self, tracked: &[CheckIndex]) -> Health {
        self.policy.health(tracked)
    }

    /// Whether every check of `tracked` has given its first result.
    pub fn have_results(&self, tracked: &[CheckIndex]) -> bool {
        tracked.iter().all(|&i| self.policy.has_result(i))
    }

    /// The checks of `tracked` without a first result yet, by name.
    pub fn without_results(&self, tracked: &[CheckIndex]) -> Vec<&str> {
        tracked
            .iter()
            .filter(|&&i| !self.policy.has_result(i))
            .map(|&i| self.name(i))
            .collect()
    }

    /// How long a start waits at most for the first results of `tracked`: the longest
    /// timeout among them (a script, tcp or http check runs at once and has its result
    /// by then), at least `FIRST_RESULT_FLOOR` (process and file checks report on
    /// their first look, interface checks at once), and never more than
    /// `FIRST_RESULT_CAP`: a hung check must not keep a router out of service.
    pub fn first_result_bound(&self, tracked: &[CheckIndex]) -> Duration {
        let longest = tracked
            .iter()
            .filter_map(|&i| self.running.get(i))
            .map(|r| match &r.spec.kind {
                CheckKind::Script { timeout, .. }
                | CheckKind::Tcp { timeout, .. }
                | CheckKind::Http { timeout, .. } => *timeout,
                _ => Duration::ZERO,
            })
            .max()
            .unwrap_or_default();
        longest.clamp(FIRST_RESULT_FLOOR, FIRST_RESULT_CAP)
    }

    /// The interface checks, by index and interface name.
    pub fn interface_checks(&self) -> Vec<(CheckIndex, String)> {
        self.running
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match &r.spec.kind {
                CheckKind::Interface { name } => Some((i, name.clone())),
                _ => None,
            })
            .collect()
    }

    /// The next report from any checker (pending forever when there are none).
    pub async fn next(&mut self) -> Report {
        match self.rx.recv().await {
            Some(report) => report,
            // We hold a sender, so the channel never closes.
            None => std::future::pending().await,
        }
    }

    /// Count a report from a checker task (its `check` is the task's id); returns the
    /// check's index and what changed, logging it.
    pub fn on_report(&mut self, report: Report) -> Option<(CheckIndex, Change)> {
        let index = self.running.iter().position(|r| r.id == report.check)?;
        self.observe(index, &report.observation)
    }

    /// Count an observation made by the daemon itself (interface checks).
    pub fn observe(
        &mut self,
        index: CheckIndex,
        observation: &Observation,
    ) -> Option<(CheckIndex, Change)> {
        let change = self.policy.observe(index, observation)?;
        let spec = &self.running[index].spec;
        let kind = spec.kind.as_str();
        match &change {
            Change::Failing(reason) => warn!(
                check = %spec.name,
                kind,
                weight = spec.weight,
                "check failing: {reason}{}",
                if spec.fall > 1 {
                    format!(" ({} times in a row)", spec.fall)
                } else {
                    String::new()
                }
            ),
            Change::Passing => {
                info!(check = %spec.name, kind, weight = spec.weight, "check passing")
            }
            Change::Value { from, to } => {
                if let Observation::Fail(reason) = observation {
                    warn!(check = %spec.name, kind, "{reason}: counted as 0");
                }
                info!(
                    check = %spec.name,
                    kind,
                    weight = spec.weight,
                    "value {from} -> {to}"
                );
            }
        }
        Some((index, change))
    }
}

/// What the policy needs of a check's configuration.
fn rule(spec: &CheckSpec) -> Rule {
    Rule {
        weight: spec.weight,
        rise: spec.rise,
        fall: spec.fall,
        initially_up: spec.initially_up,
        valued: matches!(spec.kind, CheckKind::File { .. }),
    }
}

/// Start the checker of one check; interface checks have none (the daemon feeds them).
fn spawn(
    spec: &CheckSpec,
    id: usize,
    run_as: &RunAs,
    tx: mpsc::UnboundedSender<Report>,
) -> Option<JoinHandle<()>> {
    Some(match &spec.kind {
        CheckKind::Script {
            command,
            interval,
            timeout,
        } => script::spawn(id, command.clone(), *interval, *timeout, run_as.clone(), tx),
        CheckKind::Process {
            name,
            min,
            rescan,
            delay,
        } => process::spawn(id, name.clone(), *min, *rescan, *delay, tx),
        CheckKind::Tcp {
            target,
            interval,
            timeout,
        } => probe::spawn_tcp(id, *target, *interval, *timeout, tx),
        CheckKind::Http {
            target,
            host,
            path,
            expect,
            interval,
            timeout,
        } => probe::spawn_http(
            id,
            *target,
            host.clone(),
            path.clone(),
            *expect,
            *interval,
            *timeout,
            tx,
        ),
        CheckKind::File { path } => file::spawn(id, path.clone(), tx),
        CheckKind::Interface { .. } => return None,
    })
}
