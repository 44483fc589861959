//! Running one command (a check script or a notify hook) as the script user, with a
//! timeout, and collecting what it printed.
//!
//! Owns the child's whole life: its own process group, a clean environment, stdin from
//! /dev/null, the switch to the unprivileged user, one pipe for stdout and stderr (read
//! while it runs, so it never blocks on a full pipe; the first `OUTPUT_LIMIT` bytes kept),
//! and the end of the group: SIGKILL to every member on timeout, when the future is
//! dropped (an aborted checker leaves nothing behind), and after the command exits.
//!
//! Processes left in the group after the command exits are killed too (keepalived leaves
//! them). A check or hook is one bounded piece of work: a periodic check that leaves a
//! process behind would pile them up, a leftover holding our pipe would keep us waiting,
//! and "a hook never outlives its timeout" would not hold. Something meant to outlive
//! its hook must leave the group explicitly (`setsid`, `systemd-run`, `systemctl start`);
//! leftovers are logged (WARN) so this never goes unnoticed.
//!
//! It does not check that the command is safe to run (`security::check_executable` does,
//! at config validation) and decides nothing from the result.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, geteuid};
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::process::Command;
use tokio::time::{Instant, sleep_until};
use tracing::warn;

use super::RunAs;
use crate::common::duration::format_duration;
use crate::sys;

/// The `PATH` commands get (the Debian default for root, so `/usr/sbin` tools are found).
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Bytes of output kept (stdout and stderr together, in the order written).
const OUTPUT_LIMIT: usize = 4096;
/// After the command ends, how long to wait for the rest of its output. Only a process
/// that left the group (setsid) while holding the pipe makes this wait the full time.
const DRAIN_GRACE: Duration = Duration::from_millis(200);

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exited on its own with this status.
    Exited(i32),
    /// Killed by this signal (not by us: a timeout is `TimedOut`).
    Signalled(i32),
    /// Still running at this timeout; its process group was killed.
    TimedOut(Duration),
    /// Could not be started (or waited for); the text says why.
    SpawnFailed(String),
}

impl Outcome {
    /// Exit status 0.
    pub fn is_success(&self) -> bool {
        *self == Outcome::Exited(0)
    }
}

impl fmt::Display for Outcome {
    /// For logs: `exit status 2`, `killed by signal 9 (SIGKILL)`, `timed out after 1s`,
    /// `cannot start: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exited(code) => write!(f, "exit status {code}"),
            Outcome::Signalled(signal) => match Signal::try_from(*signal) {
                Ok(name) => write!(f, "killed by signal {signal} ({})", name.as_str()),
                Err(_) => write!(f, "killed by signal {signal}"),
            },
            Outcome::TimedOut(after) => write!(f, "timed out after {}", format_duration(*after)),
            Outcome::SpawnFailed(why) => write!(f, "cannot start: {why}"),
        }
    }
}

/// What one run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    pub outcome: Outcome,
    /// The first `OUTPUT_LIMIT` bytes of stdout and stderr (interleaved as written),
    /// lossy UTF-8, surrounding whitespace trimmed.
    pub output: String,
    /// From just before the start to the end of the run.
    pub elapsed: Duration,
}

impl RunResult {
    /// The first non-empty line of the output, if any (for one-line logs and reports).
    pub fn first_line(&self) -> Option<&str> {
        self.output
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
    }
}

/// Runs `argv` (program and arguments, no shell) as `run_as`, killing its whole process
/// group after `timeout`. Never fails: a command that cannot start is an `Outcome`.
///
/// The child gets its own process group, stdin from /dev/null, cwd `/`, and only
/// `PATH`, `HOME`, `USER` and `LOGNAME` in its environment. When this process already
/// runs as `run_as.uid` (the packaged daemon, without CAP_SETUID) it does not switch.
/// Dropping the future kills the group.
pub async fn run(argv: &[String], run_as: &RunAs, timeout: Duration) -> RunResult {
    let started = Instant::now();
    let result = |outcome: Outcome, output: String| RunResult {
        outcome,
        output,
        elapsed: started.elapsed(),
    };
    let Some((program, args)) = argv.split_first() else {
        return result(Outcome::SpawnFailed("empty command".into()), String::new());
    };
    let (reader, stdout, stderr) = match output_pipe() {
        Ok(ends) => ends,
        Err(e) => {
            let why = format!("cannot create a pipe: {e}");
            return result(Outcome::SpawnFailed(why), String::new());
        }
    };

    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .env("PATH", PATH)
        .env("HOME", &run_as.home)
        .env("USER", &run_as.user)
        .env("LOGNAME", &run_as.user)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0);
    sys::exec::clear_ambient_capabilities(&mut command);
    let switching = geteuid().as_raw() != run_as.uid;
    if switching {
        sys::exec::switch_user(
            &mut command,
            sys::exec::Credentials {
                uid: run_as.uid,
                gid: run_as.gid,
                groups: run_as.groups.clone(),
            },
        );
    }
    let spawned = command.spawn();
    // Closes our copies of the pipe's write end: EOF then means the group is done with it.
    drop(command);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let why = describe_spawn_error(&e, switching, run_as);
            return result(Outcome::SpawnFailed(why), String::new());
        }
    };
    let Some(pid) = child.id() else {
        // Only after the child was reaped, which cannot have happened yet.
        return result(Outcome::SpawnFailed("lost the child".into()), String::new());
    };
    let mut group = GroupGuard::new(pid);
    let mut output = Output::new(reader);

    let deadline = started + timeout;
    let status = loop {
        tokio::select! {
            biased;
            status = child.wait() => break Some(status),
            () = output.read_some(), if !output.eof => {}
            () = sleep_until(deadline) => break None,
        }
    };
    let outcome = match status {
        Some(Ok(status)) => {
            if group.kill_leftovers() {
                warn!(
                    command = %program,
                    "the command exited but left processes in its process group; killed \
                     them (to keep something running, detach it: setsid, systemd-run)"
                );
            }
            outcome_of(status)
        }
        // Timed out, or cannot be waited for: kill the whole group.
        other => {
            group.kill();
            reap(child).await;
            group.disarm();
            match other {
                Some(Err(e)) => Outcome::SpawnFailed(format!("cannot wait for it: {e}")),
                _ => Outcome::TimedOut(timeout),
            }
        }
    };
    output.drain(Instant::now() + DRAIN_GRACE).await;
    result(outcome, output.into_text())
}

/// How long a SIGKILLed command gets to die before the run is reported anyway.
const REAP_GRACE: Duration = Duration::from_secs(1);

/// Reap a SIGKILLed leader. SIGKILL cannot be ignored, so this is quick, unless the
/// process is in uninterruptible sleep (a hung NFS mount, the classic reason for a check
/// to time out): then it is left to a background task, and the run is reported now, so
/// that a hung check fails instead of keeping its last result forever.
async fn reap(mut child: tokio::process::Child) {
    if tokio::time::timeout(REAP_GRACE, child.wait())
        .await
        .is_err()
    {
        warn!(
            pid = child.id(),
            "a killed command does not die (uninterruptible sleep?); reaping it in the background"
        );
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
    }
}

fn outcome_of(status: ExitStatus) -> Outcome {
    match (status.code(), status.signal()) {
        (Some(code), _) => Outcome::Exited(code),
        (None, Some(signal)) => Outcome::Signalled(signal),
        // Neither exited nor signalled: wait() reports only terminations.
        (None, None) => Outcome::SpawnFailed(format!("unexpected wait status {status}")),
    }
}

fn describe_spawn_error(e: &io::Error, switching: bool, run_as: &RunAs) -> String {
    if switching && e.raw_os_error() == Some(libc::EPERM) {
        format!(
            "{e} (switching to user {} needs root or CAP_SETUID and CAP_SETGID; floatip \
             runs as uid {})",
            run_as.user,
            geteuid()
        )
    } else {
        e.to_string()
    }
}

/// One pipe for both stdout and stderr, so the output keeps the order it was written in.
fn output_pipe() -> io::Result<(pipe::Receiver, OwnedFd, OwnedFd)> {
    let (sender, receiver) = pipe::pipe()?;
    let stdout = sender.into_blocking_fd()?;
    let stderr = stdout.try_clone()?;
    Ok((receiver, stdout, stderr))
}

/// Kills the child's process group when dropped while armed.
struct GroupGuard {
    pgid: Option<Pid>,
}

impl GroupGuard {
    fn new(pid: u32) -> GroupGuard {
        // The child called setpgid(0, 0): its pid is its group's id.
        GroupGuard {
            pgid: i32::try_from(pid).ok().map(Pid::from_raw),
        }
    }

    fn kill(&self) {
        if let Some(pgid) = self.pgid {
            // ESRCH: nobody left, which is what we want.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }

    /// After the leader exited: kills whatever is left in the group, and says whether
    /// there was anything. Disarms the guard.
    fn kill_leftovers(&mut self) -> bool {
        let Some(pgid) = self.pgid.take() else {
            return false;
        };
        if killpg(pgid, None).is_err() {
            return false;
        }
        let _ = killpg(pgid, Signal::SIGKILL);
        true
    }

    /// The group is gone (or its leader reaped): never signal that id again, it may be
    /// reused.
    fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The read end of the output pipe and what was kept of it.
struct Output {
    reader: pipe::Receiver,
    kept: Vec<u8>,
    eof: bool,
}

impl Output {
    fn new(reader: pipe::Receiver) -> Output {
        Output {
            reader,
            kept: Vec::new(),
            eof: false,
        }
    }

    /// Reads one chunk; keeps it up to the limit, discards the rest. Cancel-safe.
    async fn read_some(&mut self) {
        let mut chunk = [0u8; 4096];
        match self.reader.read(&mut chunk).await {
            Ok(0) | Err(_) => self.eof = true,
            Ok(n) => {
                let room = OUTPUT_LIMIT.saturating_sub(self.kept.len());
                self.kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }

    /// Reads until EOF or `deadline`.
    async fn drain(&mut self, deadline: Instant) {
        while !self.eof {
            tokio::select! {
                () = self.read_some() => {}
                () = sleep_until(deadline) => break,
            }
        }
    }

    fn into_text(self) -> String {
        String::from_utf8_lossy(&self.kept).trim().to_string()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    use super::*;
    use crate::common::security::test_support::{
        TempDir, current_user, is_root, nobody, require_root,
    };

    pub fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    /// Who tests run commands as: nobody when root (the real case), else ourselves.
    pub fn runner() -> RunAs {
        if is_root() { nobody() } else { current_user() }
    }

    /// Members of process group `pgid` that are not zombies (PID 1 here may not reap).
    fn live_members(pgid: i32) -> Vec<i32> {
        let mut members = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            // Gone since the listing: not a member.
            let Ok(stat) = std::fs::read(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses.
            let stat = String::from_utf8_lossy(&stat);
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string() {
                members.push(pid);
            }
        }
        members
    }

    /// Polls `probe` every 20 ms until it gives a value; fails the test after 5 s.
    pub async fn poll<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(value) = probe() {
                return value;
            }
            assert!(Instant::now() < deadline, "{what}: not within 5 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The PID a test script wrote to `path` (`echo $$ > path`), once it has.
    pub async fn written_pid(path: &Path) -> i32 {
        poll("the script writes its pid", || {
            std::fs::read_to_string(path)
                .ok()
                .and_then(|text| text.trim().parse().ok())
        })
        .await
    }

    /// Waits up to 5 s for the group to be empty.
    pub async fn assert_group_gone(pgid: i32) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let members = live_members(pgid);
            if members.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "process group {pgid} still has {members:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn reports_exit_status_and_signals() {
        let r = run(&argv(&["/bin/true"]), &runner(), SECOND * 5).await;
        assert_eq!(r.outcome, Outcome::Exited(0));
        assert!(r.outcome.is_success());
        let r = run(&argv(&["/bin/sh", "-c", "exit 3"]), &runner(), SECOND * 5).await;
        assert_eq!(r.outcome, Outcome::Exited(3));
        assert!(!r.outcome.is_success());
        assert_eq!(r.outcome.to_string(), "exit status 3");
        let r = run(
            &argv(&["/bin/sh", "-c", "kill -9 $$"]),
            &runner(),
            SECOND * 5,
        )
        .await;
        assert_eq!(r.outcome, Outcome::Signalled(9));
        assert_eq!(r.outcome.to_string(), "killed by signal 9 (SIGKILL)");
    }

    #[tokio::test]
    async fn reports_what_cannot_start() {
        let r = run(&argv(&["/nonexistent/check"]), &runner(), SECOND).await;
        let Outcome::SpawnFailed(why) = &r.outcome else {
            panic!("{r:?}");
        };
        assert!(why.contains("No such file"), "{why}");
        assert!(r.outcome.to_string().starts_with("cannot start: "));
        let r = run(&[], &runner(), SECOND).await;
        assert_eq!(r.outcome, Outcome::SpawnFailed("empty command".into()));
    }

    #[tokio::test]
    async fn collects_stdout_and_stderr_in_order() {
        let script = "echo one; echo two >&2; echo three";
        let r = run(&argv(&["/bin/sh", "-c", script]), &runner(), SECOND * 5).await;
        assert_eq!(r.output, "one\ntwo\nthree");
        assert_eq!(r.first_line(), Some("one"));
    }

    #[tokio::test]
    async fn a_flood_of_output_neither_blocks_nor_is_kept() {
        // 4 MiB: far more than a pipe holds; the command must still finish.
        let script = "head -c 4194304 /dev/zero | tr '\\0' x; echo; echo done >&2";
        let r = run(&argv(&["/bin/sh", "-c", script]), &runner(), SECOND * 10).await;
        assert_eq!(r.outcome, Outcome::Exited(0), "{}", r.output);
        assert_eq!(r.output.len(), OUTPUT_LIMIT);
        assert!(r.output.bytes().all(|b| b == b'x'));
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        // The shell prints its pid (= the group id), backgrounds a grandchild, then hangs.
        let script = "echo $$; sleep 100 & sleep 100";
        let timeout = Duration::from_millis(200);
        let r = run(&argv(&["/bin/sh", "-c", script]), &runner(), timeout).await;
        assert_eq!(r.outcome, Outcome::TimedOut(timeout));
        assert_eq!(r.outcome.to_string(), "timed out after 200ms");
        assert!(
            r.elapsed >= timeout && r.elapsed < SECOND * 3,
            "{:?}",
            r.elapsed
        );
        let pgid: i32 = r.output.parse().expect("the shell's pid");
        assert_group_gone(pgid).await;
    }

    #[tokio::test]
    async fn leftovers_after_exit_are_killed() {
        // The background sleep holds the output pipe: we must not wait for it.
        let script = "sleep 100 & echo $$";
        let r = run(&argv(&["/bin/sh", "-c", script]), &runner(), SECOND * 30).await;
        assert_eq!(r.outcome, Outcome::Exited(0));
        assert!(r.elapsed < SECOND * 3, "{:?}", r.elapsed);
        let pgid: i32 = r.output.parse().expect("the shell's pid");
        assert_group_gone(pgid).await;
    }

    #[tokio::test]
    async fn dropping_the_future_kills_the_group() {
        let run_as = runner();
        let dir = TempDir::new("exec-drop");
        let out = if is_root() {
            dir.writable_by("out", &run_as)
        } else {
            dir.path().to_path_buf()
        };
        let pid_file = out.join("pid");
        let script = format!("echo $$ > {}; sleep 100 & sleep 100", pid_file.display());
        let command = argv(&["/bin/sh", "-c", &script]);
        let running = run(&command, &run_as, SECOND * 60);
        // Dropped when the select ends: once the shell and both sleeps are running.
        let pgid = tokio::select! {
            r = running => panic!("should still have been running: {r:?}"),
            pgid = async {
                let pgid = written_pid(&pid_file).await;
                poll("both sleeps run", || (live_members(pgid).len() >= 2).then_some(())).await;
                pgid
            } => pgid,
        };
        assert_group_gone(pgid).await;
    }

    #[tokio::test]
    async fn runs_as_the_script_user_with_a_clean_environment() {
        require_root();
        let nobody = nobody();
        let script = "id -u; id -g; id -G; pwd; env | sort";
        let r = run(&argv(&["/bin/sh", "-c", script]), &nobody, SECOND * 5).await;
        assert_eq!(r.outcome, Outcome::Exited(0), "{}", r.output);
        let lines: Vec<&str> = r.output.lines().collect();
        assert_eq!(lines[0], nobody.uid.to_string());
        assert_eq!(lines[1], nobody.gid.to_string());
        let mut groups: Vec<u32> = lines[2]
            .split_whitespace()
            .map(|g| g.parse().expect("gid"))
            .collect();
        groups.sort_unstable();
        let mut expected = nobody.groups.clone();
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(groups, expected);
        assert_eq!(lines[3], "/");
        let env: Vec<&str> = lines[4..]
            .iter()
            .copied()
            .filter(|line| !line.starts_with("PWD=") && !line.starts_with("SHLVL="))
            .collect();
        assert_eq!(
            env,
            [
                format!("HOME={}", nobody.home.display()),
                "LOGNAME=nobody".to_string(),
                format!("PATH={PATH}"),
                "USER=nobody".to_string(),
            ]
        );
    }

    #[tokio::test]
    async fn does_not_switch_when_already_that_user() {
        // As root with run_as root, or as anyone with run_as themselves: no setuid.
        let me = current_user();
        let r = run(&argv(&["/usr/bin/id", "-u"]), &me, SECOND * 5).await;
        assert_eq!(r.outcome, Outcome::Exited(0), "{}", r.output);
        assert_eq!(r.output, me.uid.to_string());
    }

    #[tokio::test]
    async fn stdin_is_empty() {
        let r = run(&argv(&["/bin/cat"]), &runner(), SECOND * 5).await;
        assert_eq!(r.outcome, Outcome::Exited(0));
        assert_eq!(r.output, "");
    }
}
