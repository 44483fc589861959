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
//! The queue is bounded (`QUEUE_LIMIT` transitions waiting to start): a router flapping
//! faster than its hooks run coalesces the waiting transitions instead of queueing
//! without limit. What runs is always a subsequence of what happened, in order, the
//! latest transition last; a STOP is never dropped; the coalescing is logged (one WARN
//! when the hooks catch up with it).
//!
//! A hook's outcome is only logged: a failing, hung (killed after its timeout) or
//! unstartable hook never changes VRRP state, and nothing here reports back to the
//! daemon. Running a command (user, process group, timeout) is `track::exec`'s.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
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

/// Transitions waiting to start, per router or group. At this many, a new one
/// coalesces those waiting (see `Queue::push`).
pub const QUEUE_LIMIT: usize = 8;

/// One queued transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Transition {
    /// Keepalived's STATE argument is its `notify_name` (STOP: the daemon is stopping,
    /// or a reload removed the router).
    state: State,
    priority: u8,
}

/// What the event loop and the worker share: the waiting transitions and the counts.
#[derive(Debug, Default)]
struct Queue {
    waiting: std::collections::VecDeque<Transition>,
    /// Transitions dropped by coalescing since the worker last logged it.
    coalesced: usize,
    /// A hook of a transition is running.
    running: bool,
    /// No more transitions come (`finish`, or the `Hooks` dropped): the worker runs
    /// what is waiting, then ends.
    closed: bool,
}

impl Queue {
    /// Queue `transition`. When `QUEUE_LIMIT` are already waiting, the hooks are behind
    /// the router: the waiting transitions other than STOP are dropped (a run of STOPs
    /// kept as one), so what runs stays in order, STOP still runs, and the latest
    /// transition still runs last.
    fn push(&mut self, transition: Transition) {
        if self.waiting.len() >= QUEUE_LIMIT {
            let before = self.waiting.len();
            let mut stop_last = false;
            self.waiting.retain(|t| {
                let keep = t.state == State::Stopped && !stop_last;
                stop_last = t.state == State::Stopped;
                keep
            });
            self.coalesced += before - self.waiting.len();
        }
        self.waiting.push_back(transition);
    }
}

/// The notify hooks of one router or sync group: a queue and the worker that drains it.
///
/// Dropping it without `finish` lets the worker run what is queued, then end.
pub struct Hooks {
    queue: Arc<Mutex<Queue>>,
    /// Wakes the worker: a transition was queued, or the queue closed.
    wake: Arc<Notify>,
    /// `None` only once `finish` took it.
    worker: Option<JoinHandle<()>>,
}

impl Hooks {
    /// Starts the worker (a tokio task) for the hooks of `name`.
    pub fn start(kind: HookType, name: String, spec: NotifySpec, run_as: RunAs) -> Hooks {
        let queue = Arc::new(Mutex::new(Queue::default()));
        let wake = Arc::new(Notify::new());
        let span = info_span!("notify", r#type = kind.as_str(), name = %name);
        let (worker_queue, worker_wake) = (Arc::clone(&queue), Arc::clone(&wake));
        let worker = tokio::spawn(
            async move {
                loop {
                    let next = {
                        let mut queue = lock(&worker_queue);
                        let next = queue.waiting.pop_front();
                        queue.running = next.is_some();
                        let coalesced = std::mem::take(&mut queue.coalesced);
                        let latest = queue.waiting.back().copied().or(next);
                        match (next, latest) {
                            (Some(next), Some(latest)) => Some((next, coalesced, latest)),
                            _ if queue.closed => break,
                            _ => None,
                        }
                    };
                    let Some((transition, coalesced, latest)) = next else {
                        // A permit is stored if the wake-up came before this wait.
                        worker_wake.notified().await;
                        continue;
                    };
                    if coalesced > 0 {
                        warn!(
                            coalesced,
                            "notify hooks fell behind the transitions: {coalesced} waiting \
                             were coalesced and do not run; {} runs now, the latest, {} \
                             (priority {}), last",
                            transition.state.notify_name(),
                            latest.state.notify_name(),
                            latest.priority
                        );
                    }
                    run_transition(kind, &name, &spec, &run_as, transition).await;
                }
            }
            .instrument(span),
        );
        Hooks {
            queue,
            wake,
            worker: Some(worker),
        }
    }

    /// Queues the hooks of a transition to `state` at `priority`. Never blocks, never
    /// fails (after `finish` it is a no-op), never queues more than `QUEUE_LIMIT`.
    /// Initialize has no hook.
    pub fn notify(&self, state: State, priority: u8) {
        if state == State::Initialize {
            return;
        }
        let mut queue = lock(&self.queue);
        if queue.closed {
            return;
        }
        queue.push(Transition { state, priority });
        drop(queue);
        self.wake.notify_one();
    }

    /// Transitions waiting to start (for tests of the bound).
    #[cfg(test)]
    fn waiting(&self) -> usize {
        lock(&self.queue).waiting.len()
    }

    fn close(&self) {
        lock(&self.queue).closed = true;
        self.wake.notify_one();
    }

    /// Closes the queue and waits for the hooks already queued to run, at most `limit`
    /// in all; after that, the running hook's process group is killed and the rest is
    /// not run (logged). For daemon exit, so that STOP hooks run.
    pub async fn finish(mut self, limit: Duration) {
        self.close();
        let Some(mut worker) = self.worker.take() else {
            return;
        };
        if tokio::time::timeout(limit, &mut worker).await.is_ok() {
            return;
        }
        // Dropping the running hook's future kills its process group.
        worker.abort();
        let _ = worker.await;
        let unfinished = {
            let queue = lock(&self.queue);
            queue.waiting.len() + usize::from(queue.running)
        };
        warn!(
            unfinished,
            "notify hooks still running after {}: killed; the unfinished transitions' \
             hooks did not (all) run",
            format_duration(limit)
        );
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        self.close();
    }
}

/// The queue's lock. A panic while it was held (there is no code that can) would
/// leave consistent data: every update is a single step.
fn lock(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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

    /// Whether `part` is `whole` with some items left out, order kept.
    fn is_subsequence<T: PartialEq>(part: &[T], whole: &[T]) -> bool {
        let mut rest = whole.iter();
        part.iter().all(|p| rest.any(|w| w == p))
    }

    fn transition(state: State, priority: u8) -> Transition {
        Transition { state, priority }
    }

    #[test]
    fn a_full_queue_coalesces_all_but_stop_and_the_latest() {
        let mut queue = Queue::default();
        let mut notified = Vec::new();
        // A STOP among flapping, then more flapping than the bound.
        for i in 0..=QUEUE_LIMIT {
            let state = if i == 2 {
                State::Stopped
            } else {
                State::Backup
            };
            notified.push(transition(state, u8::try_from(i).expect("small")));
        }
        for t in &notified {
            queue.push(*t);
        }
        let waiting: Vec<Transition> = queue.waiting.iter().copied().collect();
        assert_eq!(
            waiting,
            [notified[2], notified[QUEUE_LIMIT]],
            "STOP, then the latest"
        );
        assert_eq!(queue.coalesced, QUEUE_LIMIT - 1);
        // Below the bound nothing is coalesced.
        let mut queue = Queue::default();
        for t in &notified[..QUEUE_LIMIT] {
            queue.push(*t);
        }
        assert_eq!(queue.waiting.len(), QUEUE_LIMIT);
        assert_eq!(queue.coalesced, 0);
        // A run of STOPs counts as one: the bound holds even then.
        let mut queue = Queue::default();
        for i in 0..10 * QUEUE_LIMIT {
            queue.push(transition(State::Stopped, 0));
            queue.push(transition(
                State::Master,
                u8::try_from(i % 200).expect("small"),
            ));
            assert!(queue.waiting.len() <= QUEUE_LIMIT, "{:?}", queue.waiting);
        }
        assert_eq!(queue.waiting.back().map(|t| t.state), Some(State::Master));
    }

    /// Log lines written while the guard lives, on this thread (a current-thread
    /// runtime runs the hook workers on it too).
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            lock_bytes(&self.0).extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lock_bytes(bytes: &Mutex<Vec<u8>>) -> std::sync::MutexGuard<'_, Vec<u8>> {
        bytes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    impl Captured {
        fn start() -> (Captured, tracing::subscriber::DefaultGuard) {
            let captured = Captured::default();
            let writer = captured.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .finish();
            (captured, tracing::subscriber::set_default(subscriber))
        }

        fn lines_with(&self, text: &str) -> Vec<String> {
            String::from_utf8_lossy(&lock_bytes(&self.0))
                .lines()
                .filter(|l| l.contains(text))
                .map(str::to_string)
                .collect()
        }
    }

    #[tokio::test]
    async fn a_router_flapping_faster_than_its_hook_is_coalesced() {
        let (captured, _guard) = Captured::start();
        let dir = TempDir::new("hooks-flap");
        let out = scratch(&dir);
        let (log, gate) = (out.join("log"), out.join("gate"));
        // Every hook waits for the gate: none finishes before all notifications are in.
        let script = format!(
            "while [ ! -e {gate} ]; do sleep 0.01; done; echo \"$@\" >> {log}",
            gate = gate.display(),
            log = log.display()
        );
        let mut spec = spec();
        spec.command = Some(shell(&script));
        spec.timeout = SECOND * 60;
        let hooks = Hooks::start(HookType::Instance, "vi_1".into(), spec, runner());
        // The first hook starts and blocks on the gate.
        hooks.notify(State::Master, 1);
        let deadline = Instant::now() + SECOND * 10;
        while hooks.waiting() > 0 {
            assert!(Instant::now() < deadline, "the first hook never started");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut notified = vec!["INSTANCE vi_1 MASTER 1".to_string()];
        let cycle = [State::Backup, State::Master, State::Fault];
        for i in 0..1000_usize {
            let (state, priority) = match i {
                500 => (State::Stopped, 0),
                _ => (cycle[i % 3], u8::try_from(i % 250).expect("small")),
            };
            hooks.notify(state, priority);
            notified.push(format!("INSTANCE vi_1 {} {priority}", state.notify_name()));
            assert!(
                hooks.waiting() <= QUEUE_LIMIT,
                "{} waiting",
                hooks.waiting()
            );
            // Let the worker run between some of them, as a real event loop does.
            if i % 100 == 0 {
                tokio::task::yield_now().await;
            }
        }
        std::fs::write(&gate, "").expect("gate");
        hooks.finish(SECOND * 60).await;
        let ran = lines(&log);
        assert!(is_subsequence(&ran, &notified), "out of order: {ran:?}");
        assert_eq!(ran.last(), notified.last(), "the latest runs last: {ran:?}");
        assert!(ran.iter().any(|l| l == "INSTANCE vi_1 STOP 0"), "{ran:?}");
        assert!(ran.len() <= 1 + QUEUE_LIMIT, "{} ran: {ran:?}", ran.len());
        // One WARN, when the hooks catch up: how many were coalesced, what runs last.
        let warned = captured.lines_with("fell behind");
        assert_eq!(warned.len(), 1, "{warned:#?}");
        let coalesced = notified.len() - ran.len();
        for part in [
            "WARN".to_string(),
            "name=vi_1".to_string(),
            format!("{coalesced} waiting were coalesced"),
            "the latest, BACKUP (priority 249), last".to_string(),
        ] {
            assert!(warned[0].contains(&part), "{part:?} in {}", warned[0]);
        }
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
