//! Notify hooks: the commands run on each transition of a router or sync group
//! (keepalived's `notify`, `notify_master`, `notify_backup`, `notify_fault`, `notify_stop`).
//!
//! Owns, per router or group, one worker task and its queue: transitions are queued
//! without ever blocking the event loop, and their hooks run strictly one at a time, in
//! transition order (keepalived starts them asynchronously, so they can overlap and run
//! out of order). For each transition: first the per-state command as given (keepalived
//! passes it no arguments), then `command` with `TYPE NAME STATE PRIORITY` appended, so
//! existing keepalived notify scripts work unchanged.
//!
//! A hook's outcome is only logged: a failing, hung (killed after its timeout) or
//! unstartable hook never changes VRRP state, and nothing here reports back to the
//! daemon. Running a command (user, process group, timeout) is `track::exec`'s.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{Instrument, info, info_span, warn};

use crate::config::{NotifySpec, format_duration};
use crate::proto::fsm::State;
use crate::track::RunAs;
use crate::track::exec::{self, Outcome};

/// What the hooks are for: keepalived's TYPE argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookType {
    /// A virtual router (keepalived's `vrrp_instance`).
    Instance,
    /// A sync group.
    Group,
}

impl HookType {
    pub fn as_str(self) -> &'static str {
        match self {
            HookType::Instance => "INSTANCE",
            HookType::Group => "GROUP",
        }
    }
}

/// One queued transition.
#[derive(Debug, Clone, Copy)]
struct Transition {
    /// Keepalived's STATE argument is its `notify_name` (STOP: the daemon is stopping,
    /// or a reload removed the router).
    state: State,
    priority: u8,
}

/// The notify hooks of one router or sync group: a queue and the worker that drains it.
///
/// Dropping it without `finish` lets the worker run what is queued, then end.
pub struct Hooks {
    queue: mpsc::UnboundedSender<Transition>,
    worker: JoinHandle<()>,
    /// Transitions queued or running, for the log when `finish` runs out of time.
    pending: Arc<AtomicUsize>,
}

impl Hooks {
    /// Starts the worker (a tokio task) for the hooks of `name`.
    pub fn start(kind: HookType, name: String, spec: NotifySpec, run_as: RunAs) -> Hooks {
        let (queue, mut receiver) = mpsc::unbounded_channel::<Transition>();
        let pending = Arc::new(AtomicUsize::new(0));
        let span = info_span!("notify", r#type = kind.as_str(), name = %name);
        let worker_pending = Arc::clone(&pending);
        let worker = tokio::spawn(
            async move {
                while let Some(transition) = receiver.recv().await {
                    run_transition(kind, &name, &spec, &run_as, transition).await;
                    worker_pending.fetch_sub(1, Ordering::Relaxed);
                }
            }
            .instrument(span),
        );
        Hooks {
            queue,
            worker,
            pending,
        }
    }

    /// Queues the hooks of a transition to `state` at `priority`. Never blocks, never
    /// fails (after the worker is gone, which only `finish` does, it is a no-op).
    /// Initialize has no hook.
    pub fn notify(&self, state: State, priority: u8) {
        if state == State::Initialize {
            return;
        }
        self.pending.fetch_add(1, Ordering::Relaxed);
        if self.queue.send(Transition { state, priority }).is_err() {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Closes the queue and waits for the hooks already queued to run, at most `limit`
    /// in all; after that, the running hook's process group is killed and the rest is
    /// not run (logged). For daemon exit, so that STOP hooks run.
    pub async fn finish(self, limit: Duration) {
        let Hooks {
            queue,
            mut worker,
            pending,
        } = self;
        drop(queue);
        if tokio::time::timeout(limit, &mut worker).await.is_ok() {
            return;
        }
        // Dropping the running hook's future kills its process group.
        worker.abort();
        let _ = worker.await;
        warn!(
            unfinished = pending.load(Ordering::Relaxed),
            "notify hooks still running after {}: killed; the unfinished transitions' \
             hooks did not (all) run",
            format_duration(limit)
        );
    }
}

async fn run_transition(
    kind: HookType,
    name: &str,
    spec: &NotifySpec,
    run_as: &RunAs,
    transition: Transition,
) {
    let state = transition.state;
    let per_state = match state {
        State::Initialize => &None,
        State::Master => &spec.master,
        State::Backup => &spec.backup,
        State::Fault => &spec.fault,
        State::Stopped => &spec.stop,
    };
    if let Some(argv) = per_state {
        run_hook(argv, state, run_as, spec.timeout).await;
    }
    if let Some(command) = &spec.command {
        let mut argv = command.clone();
        argv.extend([
            kind.as_str().to_string(),
            name.to_string(),
            state.notify_name().to_string(),
            transition.priority.to_string(),
        ]);
        run_hook(&argv, state, run_as, spec.timeout).await;
    }
}

async fn run_hook(argv: &[String], state: State, run_as: &RunAs, timeout: Duration) {
    let result = exec::run(argv, run_as, timeout).await;
    let command = argv.join(" ");
    let state = state.notify_name();
    // Milliseconds are enough for a log line.
    let elapsed = format_duration(Duration::from_millis(
        u64::try_from(result.elapsed.as_millis()).unwrap_or(u64::MAX),
    ));
    // `None` leaves the field out.
    let output = result.first_line();
    match &result.outcome {
        outcome if outcome.is_success() => {
            info!(state, command, elapsed, "notify hook ran");
        }
        Outcome::TimedOut(after) => {
            warn!(
                state,
                command,
                output,
                "notify hook killed after timeout {}",
                format_duration(*after)
            );
        }
        outcome => {
            warn!(
                state,
                command, elapsed, output, "notify hook failed: {outcome}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use tokio::time::Instant;

    use super::*;
    use crate::config::DEFAULT_NOTIFY_TIMEOUT;
    use crate::track::exec::tests::{argv, assert_group_gone, runner};
    use crate::track::security::test_support::{TempDir, is_root};

    const SECOND: Duration = Duration::from_secs(1);

    fn spec() -> NotifySpec {
        NotifySpec {
            command: None,
            master: None,
            backup: None,
            fault: None,
            stop: None,
            timeout: DEFAULT_NOTIFY_TIMEOUT,
        }
    }

    /// A directory the script user can write to.
    fn scratch(dir: &TempDir) -> PathBuf {
        if is_root() {
            dir.writable_by("out", &runner())
        } else {
            dir.path().to_path_buf()
        }
    }

    /// `sh -c SCRIPT hook`: the appended arguments become $1..$4.
    fn shell(script: &str) -> Vec<String> {
        argv(&["/bin/sh", "-c", script, "hook"])
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn keepalived_names() {
        assert_eq!(HookType::Instance.as_str(), "INSTANCE");
        assert_eq!(HookType::Group.as_str(), "GROUP");
    }

    #[tokio::test]
    async fn a_burst_runs_in_order_one_at_a_time() {
        let dir = TempDir::new("hooks-order");
        let out = scratch(&dir);
        let log = out.join("log");
        // mkdir is atomic: a hook running while another still is would fail it.
        let script = format!(
            "mkdir {lock} || echo OVERLAP >> {log}; sleep 0.05; echo \"$@\" >> {log}; \
             rmdir {lock}",
            lock = out.join("lock").display(),
            log = log.display()
        );
        let mut spec = spec();
        spec.command = Some(shell(&script));
        spec.master = Some(shell(&format!("echo master-hook >> {}", log.display())));
        let hooks = Hooks::start(HookType::Instance, "vi_1".into(), spec, runner());
        let burst = [
            (State::Backup, 100),
            (State::Master, 100),
            (State::Fault, 100),
            (State::Backup, 90),
            (State::Master, 90),
        ];
        let started = Instant::now();
        for (state, priority) in burst {
            hooks.notify(state, priority);
        }
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "notify blocked"
        );
        hooks.finish(SECOND * 30).await;
        assert_eq!(
            lines(&log),
            [
                "INSTANCE vi_1 BACKUP 100",
                "master-hook",
                "INSTANCE vi_1 MASTER 100",
                "INSTANCE vi_1 FAULT 100",
                "INSTANCE vi_1 BACKUP 90",
                "master-hook",
                "INSTANCE vi_1 MASTER 90",
            ]
        );
    }

    #[tokio::test]
    async fn a_hung_hook_is_killed_and_the_next_one_runs() {
        let dir = TempDir::new("hooks-hung");
        let out = scratch(&dir);
        let log = out.join("log");
        let pid_file = out.join("pid");
        let script = format!(
            "if [ \"$3\" = MASTER ]; then echo $$ > {pid}; sleep 100 & sleep 100; fi; \
             echo \"$@\" >> {log}",
            pid = pid_file.display(),
            log = log.display()
        );
        let mut spec = spec();
        spec.command = Some(shell(&script));
        spec.timeout = Duration::from_millis(300);
        let hooks = Hooks::start(HookType::Group, "g".into(), spec, runner());
        hooks.notify(State::Master, 100);
        hooks.notify(State::Backup, 100);
        let started = Instant::now();
        hooks.finish(SECOND * 30).await;
        assert!(started.elapsed() < SECOND * 5, "{:?}", started.elapsed());
        assert_eq!(lines(&log), ["GROUP g BACKUP 100"]);
        let pgid: i32 = lines(&pid_file)[0].parse().expect("pid");
        assert_group_gone(pgid).await;
    }

    #[tokio::test]
    async fn finish_runs_a_queued_stop() {
        let dir = TempDir::new("hooks-stop");
        let log = scratch(&dir).join("log");
        let mut spec = spec();
        spec.command = Some(shell(&format!("echo \"$@\" >> {}", log.display())));
        spec.stop = Some(shell(&format!("echo stop-hook >> {}", log.display())));
        let hooks = Hooks::start(HookType::Instance, "vi_1".into(), spec, runner());
        hooks.notify(State::Stopped, 0);
        hooks.finish(SECOND * 30).await;
        assert_eq!(lines(&log), ["stop-hook", "INSTANCE vi_1 STOP 0"]);
    }

    #[tokio::test]
    async fn finish_kills_what_outlives_its_limit() {
        let dir = TempDir::new("hooks-limit");
        let out = scratch(&dir);
        let log = out.join("log");
        let pid_file = out.join("pid");
        let script = format!(
            "echo $$ > {pid}; sleep 100; echo \"$@\" >> {log}",
            pid = pid_file.display(),
            log = log.display()
        );
        let mut spec = spec();
        spec.command = Some(shell(&script));
        let hooks = Hooks::start(HookType::Instance, "vi_1".into(), spec, runner());
        hooks.notify(State::Stopped, 0);
        hooks.notify(State::Stopped, 0);
        let started = Instant::now();
        hooks.finish(Duration::from_millis(500)).await;
        assert!(started.elapsed() < SECOND * 3, "{:?}", started.elapsed());
        assert!(lines(&log).is_empty());
        let pgid: i32 = lines(&pid_file)[0].parse().expect("pid");
        assert_group_gone(pgid).await;
    }

    #[tokio::test]
    async fn failures_are_only_logged() {
        let dir = TempDir::new("hooks-fail");
        let log = scratch(&dir).join("log");
        let mut spec = spec();
        spec.backup = Some(argv(&["/nonexistent/hook"]));
        spec.command = Some(shell(&format!("echo \"$@\" >> {}; exit 3", log.display())));
        let hooks = Hooks::start(HookType::Instance, "vi_1".into(), spec, runner());
        hooks.notify(State::Backup, 50);
        hooks.notify(State::Master, 50);
        hooks.finish(SECOND * 30).await;
        assert_eq!(
            lines(&log),
            ["INSTANCE vi_1 BACKUP 50", "INSTANCE vi_1 MASTER 50"]
        );
    }
}
