//! The `script` checker: runs one command periodically and reports pass (exit 0) or fail.
//!
//! Owns the schedule of one script check: a run at once, then one every `interval`,
//! start to start; a run longer than the interval is followed by the next one as soon
//! as it ends, never overlapping it. Running the command (user, process group, timeout)
//! is `exec`'s; what a failure means (rise/fall, weights) is the policy's.

use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tracing::debug;

use super::exec::{self, RunResult};
use super::{CheckIndex, Observation, Report, RunAs};

/// Starts the checker for check `check`. It sends one `Report` after each run and ends
/// when the receiver is gone (a run in progress is then killed). Aborting the handle
/// kills a running command's whole process group.
pub fn spawn(
    check: CheckIndex,
    argv: Vec<String>,
    interval: Duration,
    timeout: Duration,
    run_as: RunAs,
    reports: UnboundedSender<Report>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut next_start = Instant::now();
        loop {
            tokio::select! {
                () = sleep_until(next_start) => {}
                () = reports.closed() => return,
            }
            next_start = Instant::now() + interval;
            let result = tokio::select! {
                result = exec::run(&argv, &run_as, timeout) => result,
                () = reports.closed() => return,
            };
            let observation = observe(&result);
            debug!(
                check,
                command = ?argv,
                outcome = %result.outcome,
                elapsed = ?result.elapsed,
                "check script ran"
            );
            if reports.send(Report { check, observation }).is_err() {
                return;
            }
        }
    })
}

/// Pass on exit 0; otherwise a failure saying how it ended and the first line it
/// printed (`exit status 2: backend down`, `timed out after 1s`).
fn observe(result: &RunResult) -> Observation {
    if result.outcome.is_success() {
        return Observation::Pass;
    }
    let how = result.outcome.to_string();
    Observation::Fail(match result.first_line() {
        Some(line) => format!("{how}: {line}"),
        None => how,
    })
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;

    use super::*;
    use crate::common::security::test_support::{TempDir, is_root};
    use crate::track::exec::tests::{argv, assert_group_gone, runner, written_pid};
    use crate::track::test_support::next_report;

    const SECOND: Duration = Duration::from_secs(1);

    /// A directory the script user can write to.
    fn scratch(dir: &TempDir) -> std::path::PathBuf {
        if is_root() {
            dir.writable_by("out", &runner())
        } else {
            dir.path().to_path_buf()
        }
    }

    #[tokio::test]
    async fn runs_at_once_then_every_interval() {
        let dir = TempDir::new("script-count");
        let counter = scratch(&dir).join("count");
        let script = format!("echo run >> {}", counter.display());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let interval = Duration::from_millis(150);
        let started = Instant::now();
        let handle = spawn(
            7,
            argv(&["/bin/sh", "-c", &script]),
            interval,
            SECOND * 5,
            runner(),
            tx,
        );
        let mut at = Vec::new();
        for _ in 0..3 {
            let report = next_report(&mut rx, SECOND * 10).await;
            assert_eq!(
                report,
                Report {
                    check: 7,
                    observation: Observation::Pass
                }
            );
            at.push(started.elapsed());
        }
        handle.abort();
        assert!(at[2] >= interval * 2, "runs spaced by the interval: {at:?}");
        let runs = std::fs::read_to_string(&counter).expect("counter");
        assert!(runs.lines().count() >= 3, "{runs}");
    }

    #[tokio::test]
    async fn the_first_run_is_at_once() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let handle = spawn(5, argv(&["/bin/true"]), SECOND * 60, SECOND, runner(), tx);
        let first = tokio::time::timeout(SECOND * 5, rx.recv()).await;
        handle.abort();
        assert!(first.is_ok(), "no report before the first interval");
    }

    #[tokio::test]
    async fn reports_failures_with_the_first_line() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let command = argv(&[
            "/bin/sh",
            "-c",
            "echo; echo backend down; echo more; exit 2",
        ]);
        let handle = spawn(0, command, SECOND, SECOND * 5, runner(), tx);
        let report = next_report(&mut rx, SECOND * 10).await;
        handle.abort();
        assert_eq!(
            report.observation,
            Observation::Fail("exit status 2: backend down".into())
        );
    }

    #[tokio::test]
    async fn a_hanging_script_fails_with_timed_out() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let timeout = Duration::from_millis(200);
        let handle = spawn(
            1,
            argv(&["/bin/sleep", "100"]),
            SECOND,
            timeout,
            runner(),
            tx,
        );
        let report = next_report(&mut rx, SECOND * 10).await;
        handle.abort();
        assert_eq!(
            report.observation,
            Observation::Fail("timed out after 200ms".into())
        );
    }

    #[tokio::test]
    async fn a_long_run_delays_the_next_one_without_overlap() {
        let dir = TempDir::new("script-overlap");
        let out = scratch(&dir);
        let lock = out.join("lock");
        // mkdir is atomic: a second copy running at the same time would fail it.
        let script = format!(
            "mkdir {lock} || exit 9; sleep 0.3; rmdir {lock}",
            lock = lock.display()
        );
        let (tx, mut rx) = mpsc::unbounded_channel();
        let interval = Duration::from_millis(50);
        let handle = spawn(
            2,
            argv(&["/bin/sh", "-c", &script]),
            interval,
            SECOND * 5,
            runner(),
            tx,
        );
        for _ in 0..3 {
            assert_eq!(
                next_report(&mut rx, SECOND * 10).await.observation,
                Observation::Pass
            );
        }
        handle.abort();
    }

    #[tokio::test]
    async fn ends_when_the_receiver_is_gone() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let handle = spawn(3, argv(&["/bin/true"]), SECOND * 60, SECOND, runner(), tx);
        assert_eq!(
            next_report(&mut rx, SECOND * 10).await.observation,
            Observation::Pass
        );
        drop(rx);
        tokio::time::timeout(SECOND * 5, handle)
            .await
            .expect("ends")
            .expect("not cancelled");
    }

    #[tokio::test]
    async fn aborting_kills_the_running_script() {
        let dir = TempDir::new("script-abort");
        let pid_file = scratch(&dir).join("pid");
        let script = format!("echo $$ > {}; sleep 100 & sleep 100", pid_file.display());
        let (tx, _rx) = mpsc::unbounded_channel();
        let handle = spawn(
            4,
            argv(&["/bin/sh", "-c", &script]),
            SECOND,
            SECOND * 60,
            runner(),
            tx,
        );
        let pgid = written_pid(&pid_file).await;
        handle.abort();
        assert!(handle.await.expect_err("aborted").is_cancelled());
        assert_group_gone(pgid).await;
    }
}
