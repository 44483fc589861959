//! The `process` checker: how many processes of a name (HAProxy) are running, watched
//! by event rather than by polling.
//!
//! Owns one task per check, its pidfds, and the count it reports. It must not decide
//! anything about VRRP state: it sends `Report`s (Pass when at least `min` processes run,
//! Fail with the count otherwise) at start and whenever the count changes.
//!
//! A death is seen within milliseconds: every matching process is held by a pidfd
//! (`pidfd_open`, Linux 5.3), which becomes readable the moment the process exits, and
//! the task awaits that readability. New processes (a restart of HAProxy) are found by
//! rescanning `/proc` every `rescan`. The netlink process connector would report forks
//! and execs as events, but it works only in the initial network namespace (and needs
//! CAP_NET_ADMIN), and floatip may run in another one (containers, the namespace tests),
//! so the rescan is the mechanism that must always work; it is the only one used here.
//!
//! A pidfd refers to exactly one process, never to a later one that reuses its PID: a
//! PID we hold a pidfd for is the same process only while the pidfd is not readable. A
//! process is counted only once its pidfd is open and still not readable, so a PID
//! reused between reading `/proc` and opening the pidfd is never counted by mistake.
//! Where `pidfd_open` is unavailable (kernel before 5.3, a seccomp filter), matching
//! processes are counted at each rescan instead, and deaths are seen at the next one.

use std::collections::HashMap;
use std::fs;
use std::future::Future;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use tokio::io::Interest;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tracing::{debug, warn};

use super::{CheckIndex, Observation, Report};
use crate::sys::pidfd;
use crate::sys::reactor::{self, Registered};

/// Linux truncates a process name (`comm`) to this many bytes (TASK_COMM_LEN - 1).
const COMM_LEN: usize = 15;
/// `PF_KTHREAD` in the flags field of `/proc/PID/stat`: a kernel thread.
const PF_KTHREAD: u64 = 0x0020_0000;

/// Watch processes named `name`: Pass while at least `min` run, Fail otherwise. Reports
/// at start and on every change of the count; a death is seen at once (pidfd), a new
/// process within `rescan`. Ends when `reports`' receiver is dropped; aborting the task
/// closes every pidfd.
pub fn spawn(
    check: CheckIndex,
    name: String,
    min: u32,
    rescan: Duration,
    delay: Duration,
    reports: UnboundedSender<Report>,
) -> JoinHandle<()> {
    tokio::spawn(run(check, name, min, rescan, delay, reports))
}

/// Resolves with the serial of the watched process once its pidfd is readable (it
/// exited).
type Death = Pin<Box<dyn Future<Output = u64> + Send>>;

/// One matching process we count.
struct Watched {
    /// Distinguishes this process from a later one with the same PID.
    serial: u64,
    /// `None` where pidfds are unavailable: re-verified at every rescan instead.
    pidfd: Option<Arc<Registered<OwnedFd>>>,
}

struct Watcher {
    /// The first `COMM_LEN` bytes of the configured name.
    comm: Vec<u8>,
    processes: HashMap<u32, Watched>,
    deaths: FuturesUnordered<Death>,
    next_serial: u64,
    /// Set once `pidfd_open` turned out not to work, so the warning is logged once.
    pidfd_unavailable: bool,
    /// Our network namespace (the inode of /proc/self/ns/net), if readable.
    netns: Option<u64>,
}

async fn run(
    check: CheckIndex,
    name: String,
    min: u32,
    rescan: Duration,
    delay: Duration,
    reports: UnboundedSender<Report>,
) {
    let mut watcher = Watcher {
        comm: name.as_bytes()[..name.len().min(COMM_LEN)].to_vec(),
        processes: HashMap::new(),
        deaths: FuturesUnordered::new(),
        next_serial: 0,
        pidfd_unavailable: false,
        netns: netns_of("self"),
    };
    // The first tick fires at once: that is the initial scan.
    let mut ticker = tokio::time::interval(rescan.max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_count: Option<usize> = None;
    // Too few since then, not yet reported: a drop below `min` waits out `delay`
    // (a HAProxy restart within it changes nothing); the first count is reported at once.
    let mut below_since: Option<tokio::time::Instant> = None;
    let mut reported_enough: Option<bool> = None;
    loop {
        let delay_over = async {
            match below_since {
                Some(since) => tokio::time::sleep_until(since + delay).await,
                None => std::future::pending().await,
            }
        };
        let mut delay_expired = false;
        tokio::select! {
            _ = ticker.tick() => watcher.rescan(),
            Some(serial) = watcher.deaths.next() => watcher.exited(serial),
            () = delay_over => delay_expired = true,
            _ = reports.closed() => return,
        }
        let count = watcher.processes.len();
        let enough = count >= min as usize;
        if delay_expired {
            // Only a count below `min` sets `below_since`, any count of enough clears it,
            // and the delay arm changes no count: too few still run.
            debug_assert!(!enough, "the delay expired with enough processes");
            below_since = None;
        } else {
            if last_count == Some(count) {
                continue;
            }
            last_count = Some(count);
            if !enough && reported_enough == Some(true) && !delay.is_zero() {
                below_since.get_or_insert_with(tokio::time::Instant::now);
                continue;
            }
            if enough && below_since.take().is_some() {
                debug!(check, process = %name, count, "recovered within the delay");
                continue;
            }
        }
        reported_enough = Some(enough);
        let observation = if enough {
            Observation::Pass
        } else {
            Observation::Fail(format!("{count} of {min} {name} running"))
        };
        debug!(check, process = %name, count, min, "process count changed");
        if reports.send(Report { check, observation }).is_err() {
            return;
        }
    }
}

impl Watcher {
    /// A pidfd became readable: that process is gone.
    fn exited(&mut self, serial: u64) {
        self.processes.retain(|pid, watched| {
            let gone = watched.serial == serial;
            if gone {
                debug!(pid, "watched process exited");
            }
            !gone
        });
    }

    /// Drop what has exited (or, without pidfds, everything, to be re-verified), then
    /// add every matching process not yet held.
    fn rescan(&mut self) {
        self.processes.retain(|_, watched| match &watched.pidfd {
            Some(pidfd) => !is_readable(pidfd.get_ref()),
            None => false,
        });
        let entries = match fs::read_dir("/proc") {
            Ok(entries) => entries,
            Err(error) => {
                debug!(%error, "cannot list /proc");
                return;
            }
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if self.processes.contains_key(&pid) || !self.matches(pid) {
                continue;
            }
            let pidfd = match (!self.pidfd_unavailable).then(|| pidfd::open(pid)) {
                None => None,
                // It exited since we read its stat.
                Some(Err(error)) if error.raw_os_error() == Some(libc::ESRCH) => continue,
                Some(Err(error)) => {
                    warn!(
                        %error,
                        "pidfd_open failed; process deaths will be seen at the next rescan only"
                    );
                    self.pidfd_unavailable = true;
                    None
                }
                Some(Ok(fd)) => {
                    // Between reading /proc and pidfd_open, the PID may have been reused:
                    // check again that the process the pidfd holds is the one we want
                    // and still alive. While the pidfd is not readable, PID names it.
                    if !self.matches(pid) || is_readable(&fd) {
                        continue;
                    }
                    match reactor::register(fd, Interest::READABLE) {
                        Ok(fd) => Some(Arc::new(fd)),
                        Err(error) => {
                            debug!(%error, pid, "cannot register pidfd");
                            continue;
                        }
                    }
                }
            };
            let serial = self.next_serial;
            self.next_serial += 1;
            if let Some(pidfd) = &pidfd {
                let pidfd = Arc::clone(pidfd);
                self.deaths.push(Box::pin(async move {
                    // An error here (the reactor going away) ends the wait as if the
                    // process had exited; the next rescan re-adds it if it still runs.
                    let _ = pidfd.readable().await;
                    serial
                }));
            }
            debug!(pid, "watching process");
            self.processes.insert(pid, Watched { serial, pidfd });
        }
        // Futures of processes dropped above resolve at once (their pidfd is readable)
        // and find nothing to remove; those of the fallback never exist.
    }

    /// Whether `pid` is a live (not zombie) user-space thread-group leader of our name.
    fn matches(&self, pid: u32) -> bool {
        // /proc/PID/stat carries the same `comm` as /proc/PID/comm, plus the state and
        // flags: one read per process per rescan.
        let Ok(stat) = fs::read(format!("/proc/{pid}/stat")) else {
            return false;
        };
        match parse_stat(&stat) {
            Some(stat) => {
                stat.comm == self.comm.as_slice()
                    && stat.state != b'Z'
                    && stat.state != b'X'
                    && stat.flags & PF_KTHREAD == 0
                    && self.same_netns(pid)
            }
            None => false,
        }
    }

    /// A HAProxy in another network namespace does not serve our addresses (several
    /// load balancers in namespaces of one host, as in the tests, each watch their own).
    /// Where the namespace cannot be read (another user's process, without
    /// CAP_SYS_PTRACE: the packaged daemon and HAProxy run as different users, in one
    /// namespace) the process counts.
    fn same_netns(&self, pid: u32) -> bool {
        match (self.netns, netns_of(&pid.to_string())) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => true,
        }
    }
}

/// The inode of a process's network namespace (`self` or a PID).
fn netns_of(pid: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    fs::metadata(format!("/proc/{pid}/ns/net"))
        .ok()
        .map(|m| m.ino())
}

struct Stat<'a> {
    comm: &'a [u8],
    state: u8,
    flags: u64,
}

/// `PID (comm) S ppid pgrp session tty tpgid flags ...`; comm may hold spaces and
/// parentheses, so it ends at the last `)`.
fn parse_stat(stat: &[u8]) -> Option<Stat<'_>> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let comm = stat.get(open + 1..close)?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let flags = fields.nth(5)?.parse().ok()?;
    Some(Stat { comm, state, flags })
}

/// Whether a pidfd is readable now (its process exited), without waiting.
fn is_readable(fd: &OwnedFd) -> bool {
    let mut poll_fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    let ready = poll(&mut poll_fds, PollTimeout::ZERO).is_ok_and(|n| n > 0);
    // `revents` is `None` only for bits nix does not know; the kernel reports no more
    // than the requested POLLIN and POLLERR, POLLHUP, POLLNVAL.
    ready
        && poll_fds[0].revents().is_some_and(|revents| {
            revents.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::security::test_support::TempDir;
    use crate::track::test_support::next_report;
    use std::process::{Child, Command};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Instant;
    use tokio::sync::mpsc::{self, UnboundedReceiver};

    /// A directory with a symlink to /bin/sleep under a unique name: a process started
    /// through it has that name as its comm (the kernel takes it from the path given to
    /// execve).
    struct Sleeper {
        dir: TempDir,
        name: String,
    }

    impl Sleeper {
        fn new() -> Sleeper {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let name = format!("fip{}x{n}", std::process::id());
            let dir = TempDir::new("proc");
            std::os::unix::fs::symlink("/bin/sleep", dir.path().join(&name)).unwrap();
            Sleeper { dir, name }
        }

        fn start(&self) -> Child {
            Command::new(self.dir.path().join(&self.name))
                .arg("300")
                .spawn()
                .unwrap()
        }
    }

    /// Kills and reaps on drop, so a failing test leaves no process behind.
    struct Reaped(Vec<Child>);

    impl Drop for Reaped {
        fn drop(&mut self) {
            for child in &mut self.0 {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    async fn next(rx: &mut UnboundedReceiver<Report>, within: Duration) -> Observation {
        next_report(rx, within).await.observation
    }

    #[tokio::test]
    async fn death_is_seen_at_once_and_a_restart_within_rescan() {
        let sleeper = Sleeper::new();
        let mut children = Reaped(vec![sleeper.start()]);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let rescan = Duration::from_millis(200);
        let task = spawn(7, sleeper.name.clone(), 1, rescan, Duration::ZERO, tx);
        let first = next(&mut rx, Duration::from_secs(2)).await;
        assert_eq!(first, Observation::Pass);

        let killed_at = Instant::now();
        children.0[0].kill().unwrap();
        // A death must be seen within 1 s.
        let report = next_report(&mut rx, Duration::from_secs(1)).await;
        let latency = killed_at.elapsed();
        println!("process death seen after {latency:?}");
        assert_eq!(report.check, 7);
        assert_eq!(
            report.observation,
            Observation::Fail(format!("0 of 1 {} running", sleeper.name))
        );
        // Milliseconds in practice; the bound leaves room for a loaded CI machine.
        assert!(latency < Duration::from_millis(500), "took {latency:?}");
        // The dead child is a zombie until reaped: it must not be counted at the next
        // rescans either.
        assert!(
            tokio::time::timeout(rescan * 3, rx.recv()).await.is_err(),
            "a zombie was counted"
        );
        children.0[0].wait().unwrap();

        let started_at = Instant::now();
        children.0.push(sleeper.start());
        let report = next(&mut rx, rescan + Duration::from_secs(1)).await;
        println!("new process seen after {:?}", started_at.elapsed());
        assert_eq!(report, Observation::Pass);
        task.abort();
    }

    #[tokio::test]
    async fn a_restart_within_the_delay_is_not_a_failure() {
        let sleeper = Sleeper::new();
        let mut children = Reaped(vec![sleeper.start()]);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let rescan = Duration::from_millis(50);
        let delay = Duration::from_millis(800);
        let task = spawn(0, sleeper.name.clone(), 1, rescan, delay, tx);
        assert_eq!(
            next(&mut rx, Duration::from_secs(2)).await,
            Observation::Pass
        );

        // Dies and comes back (found by the next rescan) well within the delay.
        children.0[0].kill().unwrap();
        children.0[0].wait().unwrap();
        children.0.push(sleeper.start());
        assert!(
            tokio::time::timeout(delay * 2, rx.recv()).await.is_err(),
            "nothing is reported for a restart within the delay"
        );

        // Dies for good: reported once the delay has passed, not before.
        let killed_at = Instant::now();
        children.0[1].kill().unwrap();
        children.0[1].wait().unwrap();
        let report = next(&mut rx, delay + Duration::from_secs(2)).await;
        assert_eq!(
            report,
            Observation::Fail(format!("0 of 1 {} running", sleeper.name))
        );
        assert!(killed_at.elapsed() >= delay, "{:?}", killed_at.elapsed());
        task.abort();
    }

    #[tokio::test]
    async fn quorum_counts_processes() {
        let sleeper = Sleeper::new();
        let mut children = Reaped(vec![sleeper.start()]);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let rescan = Duration::from_millis(100);
        let task = spawn(0, sleeper.name.clone(), 2, rescan, Duration::ZERO, tx);
        let fail = |n| Observation::Fail(format!("{n} of 2 {} running", sleeper.name));
        assert_eq!(next(&mut rx, Duration::from_secs(2)).await, fail(1));
        children.0.push(sleeper.start());
        assert_eq!(
            next(&mut rx, Duration::from_secs(2)).await,
            Observation::Pass
        );
        children.0.push(sleeper.start());
        // 3 >= 2: still Pass, reported because the count changed.
        assert_eq!(
            next(&mut rx, Duration::from_secs(2)).await,
            Observation::Pass
        );
        children.0[0].kill().unwrap();
        assert_eq!(
            next(&mut rx, Duration::from_secs(1)).await,
            Observation::Pass
        );
        children.0[1].kill().unwrap();
        assert_eq!(next(&mut rx, Duration::from_secs(1)).await, fail(1));
        task.abort();
    }

    #[tokio::test]
    async fn a_zombie_is_not_counted_at_start() {
        let sleeper = Sleeper::new();
        let mut children = Reaped(vec![sleeper.start(), sleeper.start()]);
        children.0[0].kill().unwrap();
        // Wait until it is a zombie (not yet reaped: we hold it).
        let pid = children.0[0].id();
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let stat = fs::read(format!("/proc/{pid}/stat")).unwrap();
            if parse_stat(&stat).unwrap().state == b'Z' {
                break;
            }
            assert!(Instant::now() < deadline, "child did not die");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = spawn(
            0,
            sleeper.name.clone(),
            2,
            Duration::from_millis(100),
            Duration::ZERO,
            tx,
        );
        assert_eq!(
            next(&mut rx, Duration::from_secs(2)).await,
            Observation::Fail(format!("1 of 2 {} running", sleeper.name))
        );
        task.abort();
    }

    #[tokio::test]
    async fn a_long_name_matches_its_truncated_comm() {
        let sleeper = Sleeper::new();
        // Rename the link to a name longer than 15 bytes.
        let long = format!("{}-with-a-long-tail", sleeper.name);
        let dir = sleeper.dir.path();
        fs::rename(dir.join(&sleeper.name), dir.join(&long)).unwrap();
        let child = Command::new(dir.join(&long)).arg("300").spawn().unwrap();
        let _children = Reaped(vec![child]);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = spawn(0, long, 1, Duration::from_millis(100), Duration::ZERO, tx);
        assert_eq!(
            next(&mut rx, Duration::from_secs(2)).await,
            Observation::Pass
        );
        task.abort();
    }

    #[tokio::test]
    async fn ends_when_the_receiver_is_dropped_and_abort_closes_the_pidfds() {
        let sleeper = Sleeper::new();
        let _children = Reaped(vec![sleeper.start(), sleeper.start()]);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = spawn(
            0,
            sleeper.name.clone(),
            1,
            Duration::from_millis(50),
            Duration::ZERO,
            tx,
        );
        assert_eq!(
            next(&mut rx, Duration::from_secs(2)).await,
            Observation::Pass
        );
        drop(rx);
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("the checker must end when nobody listens")
            .unwrap();

        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = spawn(
            0,
            sleeper.name.clone(),
            1,
            Duration::from_millis(50),
            Duration::ZERO,
            tx,
        );
        assert_eq!(
            next(&mut rx, Duration::from_secs(2)).await,
            Observation::Pass
        );
        // Other tests run in parallel and hold pidfds of their own: count only ours.
        wait_for_pidfds(&sleeper.name, 2, "one pidfd per process").await;
        task.abort();
        let _ = task.await;
        wait_for_pidfds(&sleeper.name, 0, "pidfds left open after abort").await;
    }

    /// Wait (up to 2 s) until this test process holds exactly `n` pidfds of processes
    /// named `name`.
    async fn wait_for_pidfds(name: &str, n: usize, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let held = pidfds_of(name);
            if held == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {held} held, {n} expected"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Open pidfds of this test process that hold a process named `name`.
    fn pidfds_of(name: &str) -> usize {
        let mut n = 0;
        for entry in fs::read_dir("/proc/self/fd").unwrap().flatten() {
            let Ok(target) = fs::read_link(entry.path()) else {
                continue;
            };
            if target.to_string_lossy() != "anon_inode:[pidfd]" {
                continue;
            }
            let fdinfo = fs::read_to_string(format!(
                "/proc/self/fdinfo/{}",
                entry.file_name().to_string_lossy()
            ))
            .unwrap_or_default();
            let pid = fdinfo
                .lines()
                .find_map(|l| l.strip_prefix("Pid:"))
                .map(str::trim)
                .unwrap_or("");
            let named = fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim_end() == name);
            if named {
                n += 1;
            }
        }
        n
    }

    #[test]
    fn stat_parsing_handles_odd_names() {
        let stat = b"42 (a) b) c) S 1 42 42 0 -1 4194560 120 0 0 0";
        let parsed = parse_stat(stat).unwrap();
        assert_eq!(parsed.comm, b"a) b) c");
        assert_eq!(parsed.state, b'S');
        assert_eq!(parsed.flags, 4194560);
        let kthread = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0";
        assert_ne!(parse_stat(kthread).unwrap().flags & PF_KTHREAD, 0);
        assert!(parse_stat(b"garbage").is_none());
    }
}
