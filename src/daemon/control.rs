//! The control socket (`global.control_socket`, default `/run/floatip/control.sock`):
//! `status` and `reload` for `floatip status`, `floatip reload` and scripts.
//!
//! Owns the listening socket and its file, the connections, and composing the status
//! report from the daemon's state. The event loop never waits for a client: each
//! connection is served by its own task, which reads one bounded line at a time (at most
//! `MAX_REQUEST_BYTES`, within `IDLE_TIMEOUT`), asks the loop through a bounded channel
//! (`try_send`: a full channel is a "busy" answer, never a wait on the loop's side) and
//! waits for the reply a bounded time. The loop answers a `status` from its own state at
//! once; the task then reads whether each address is on its interface (netlink), off the
//! loop. At most `MAX_CLIENTS` connections are served at once; more are told so and
//! closed. Must not decide anything: a reload is the loop's, as on SIGHUP.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::Daemon;
use super::events::bind_listener;
use crate::control::report::{
    AddressReport, CheckReport, CountersReport, DaemonReport, FaultsReport, MasterReport,
    ReloadReport, RouterReport, SCHEMA_VERSION, StatusReport, SyncGroupReport,
};
use crate::control::{Answer, MAX_REQUEST_BYTES, ReloadOutcome, Request, parse_request};
use crate::net::Netlink;
use crate::proto::fsm::State;
use crate::proto::packet::Family;

/// Mode of the socket file: the owner and its group (`floatip`) may connect.
const SOCKET_MODE: u32 = 0o660;
/// The group given the socket when it exists (the package creates it).
const SOCKET_GROUP: &str = "floatip";
/// Connections served at once; more are refused.
pub const MAX_CLIENTS: usize = 16;
/// How long a connection may stay without sending a whole request line.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long writing an answer may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connection waits for the loop to answer a status request.
const STATUS_WAIT: Duration = Duration::from_secs(5);
/// How long it waits for a reload (which opens sockets and reads the network).
const RELOAD_WAIT: Duration = Duration::from_secs(60);
/// How long reading the addresses of the interfaces may take.
const NETLINK_WAIT: Duration = Duration::from_secs(2);
/// Requests waiting for the loop; more get a "busy" answer.
pub const QUEUE: usize = 8;

/// What a connection asks of the loop.
pub enum LoopRequest {
    Status {
        router: Option<String>,
        reply: oneshot::Sender<Result<StatusDraft, String>>,
    },
    Reload {
        reply: oneshot::Sender<ReloadOutcome>,
    },
}

/// A status report whose addresses' presence is still to be read: for each router and
/// each of its addresses, the address and the interface index it belongs on.
pub struct StatusDraft {
    pub report: StatusReport,
    pub lookups: Vec<Vec<(IpAddr, u32)>>,
}

/// A listening control socket. Dropping it stops accepting, ends the connections and
/// removes the socket file (if it is still ours).
pub struct ControlSocket {
    path: PathBuf,
    identity: (u64, u64),
    accept: JoinHandle<()>,
}

impl ControlSocket {
    /// Listen on `path` (its directory is created when missing), mode 0660, group
    /// `floatip` when that group exists; a stale socket file is replaced. Requests go
    /// to `loop_tx`. Must be called inside the tokio runtime.
    pub fn bind(
        path: &Path,
        loop_tx: mpsc::Sender<LoopRequest>,
        netlink: Netlink,
    ) -> io::Result<ControlSocket> {
        if let Some(dir) = path.parent()
            && !dir.exists()
        {
            fs::create_dir_all(dir)?;
            // Like systemd's RuntimeDirectoryMode=0750: the group may reach the socket.
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o750))?;
            give_to_group(dir);
        }
        let (listener, identity) = bind_listener(path, SOCKET_MODE)?;
        give_to_group(path);
        let accept = tokio::spawn(accept_loop(listener, loop_tx, netlink));
        Ok(ControlSocket {
            path: path.to_path_buf(),
            identity,
            accept,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        self.accept.abort();
        if let Ok(meta) = fs::symlink_metadata(&self.path)
            && (meta.dev(), meta.ino()) == self.identity
        {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Give `path` to the group `floatip`, when it exists and we may (as root, or as a
/// member). Without it the file keeps our group: under the package's unit that is
/// `floatip` already.
fn give_to_group(path: &Path) {
    let Ok(Some(group)) = nix::unistd::Group::from_name(SOCKET_GROUP) else {
        return;
    };
    if let Err(e) = nix::unistd::chown(path, None, Some(group.gid)) {
        debug!(path = %path.display(), "cannot give it to group {SOCKET_GROUP}: {e}");
    }
}

async fn accept_loop(listener: UnixListener, loop_tx: mpsc::Sender<LoopRequest>, netlink: Netlink) {
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    let mut refused_logged = false;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of descriptors, typically: wait rather than spin.
                debug!(%error, "control socket accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            if !refused_logged {
                warn!("control socket has {MAX_CLIENTS} clients; refusing more");
                refused_logged = true;
            }
            // Best effort, never waiting: read what request already arrived (closing on
            // unread data resets the connection, losing the answer), then answer.
            let mut discard = [0u8; 4096];
            for _ in 0..16 {
                if !matches!(stream.try_read(&mut discard), Ok(n) if n > 0) {
                    break;
                }
            }
            let line = Answer::error(
                "busy",
                format!("{MAX_CLIENTS} clients connected; try again"),
            )
            .to_line();
            let _ = stream.try_write(line.as_bytes());
            continue;
        };
        refused_logged = false;
        let loop_tx = loop_tx.clone();
        let netlink = netlink.clone();
        tokio::spawn(async move {
            serve(stream, loop_tx, netlink).await;
            drop(slot);
        });
    }
}

/// What reading one request line gave.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A whole line, without its newline.
    Request(Vec<u8>),
    /// The peer hung up (or went silent too long) between requests.
    End,
    /// The line is longer than `MAX_REQUEST_BYTES`.
    TooLarge,
}

/// Read up to the next newline, keeping what follows it in `pending`. Never holds more
/// than `limit` bytes plus one read.
async fn read_line<R: AsyncReadExt + Unpin>(
    reader: &mut R,
    pending: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Line> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let rest = pending.split_off(end + 1);
            let mut line = std::mem::replace(pending, rest);
            line.pop();
            return Ok(if line.len() >= limit {
                Line::TooLarge
            } else {
                Line::Request(line)
            });
        }
        if pending.len() >= limit {
            return Ok(Line::TooLarge);
        }
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            // A last line without its newline still counts.
            return Ok(if pending.is_empty() {
                Line::End
            } else {
                Line::Request(std::mem::take(pending))
            });
        }
        pending.extend_from_slice(&chunk[..n]);
    }
}

/// Serve one connection: requests one line at a time until it hangs up, goes silent
/// for `IDLE_TIMEOUT`, or sends too much.
async fn serve(stream: UnixStream, loop_tx: mpsc::Sender<LoopRequest>, netlink: Netlink) {
    let (mut reader, mut writer) = stream.into_split();
    let mut pending = Vec::new();
    loop {
        let line = tokio::time::timeout(
            IDLE_TIMEOUT,
            read_line(&mut reader, &mut pending, MAX_REQUEST_BYTES),
        )
        .await;
        let (answer, last) = match line {
            Err(_) => (
                Answer::error("timeout", format!("no request within {IDLE_TIMEOUT:?}")),
                true,
            ),
            Ok(Err(_)) | Ok(Ok(Line::End)) => return,
            Ok(Ok(Line::TooLarge)) => (
                Answer::error(
                    "too_large",
                    format!("request longer than {MAX_REQUEST_BYTES} bytes"),
                ),
                true,
            ),
            Ok(Ok(Line::Request(line))) => match parse_request(&line) {
                Ok(request) => (answer(request, &loop_tx, &netlink).await, false),
                Err(error) => (Answer::error(error.code, error.message), false),
            },
        };
        let line = answer.to_line();
        let written = tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(line.as_bytes())).await;
        if last || !matches!(written, Ok(Ok(()))) {
            return;
        }
    }
}

/// Ask the loop, wait a bounded time, complete the answer.
async fn answer(
    request: Request,
    loop_tx: &mpsc::Sender<LoopRequest>,
    netlink: &Netlink,
) -> Answer {
    let busy = || Answer::error("busy", "the daemon is busy; try again");
    match request {
        Request::Status { router } => {
            let (reply, answer) = oneshot::channel();
            if loop_tx
                .try_send(LoopRequest::Status { router, reply })
                .is_err()
            {
                return busy();
            }
            match tokio::time::timeout(STATUS_WAIT, answer).await {
                Ok(Ok(Ok(draft))) => Answer::status(fill_presence(draft, netlink).await),
                Ok(Ok(Err(message))) => Answer::error("unknown_router", message),
                Ok(Err(_)) => Answer::error("stopping", "the daemon is stopping"),
                Err(_) => Answer::error("timeout", "the daemon did not answer in time"),
            }
        }
        Request::Reload => {
            let (reply, answer) = oneshot::channel();
            if loop_tx.try_send(LoopRequest::Reload { reply }).is_err() {
                return busy();
            }
            match tokio::time::timeout(RELOAD_WAIT, answer).await {
                Ok(Ok(outcome)) => Answer::reload(outcome),
                Ok(Err(_)) => Answer::error("stopping", "the daemon is stopping"),
                Err(_) => Answer::error(
                    "timeout",
                    "the reload did not finish in time; see the daemon's log",
                ),
            }
        }
    }
}

/// Read whether each address is on its interface now (one dump per interface and
/// family); an address that cannot be read stays `null`.
async fn fill_presence(draft: StatusDraft, netlink: &Netlink) -> StatusReport {
    let StatusDraft {
        mut report,
        lookups,
    } = draft;
    let mut dumps: HashMap<(u32, Family), Option<Vec<IpAddr>>> = HashMap::new();
    for (router, addresses) in report.routers.iter_mut().zip(lookups) {
        for (entry, (address, ifindex)) in router.addresses.iter_mut().zip(addresses) {
            let family = Family::of(&address);
            let key = (ifindex, family);
            if let std::collections::hash_map::Entry::Vacant(slot) = dumps.entry(key) {
                let read = tokio::time::timeout(NETLINK_WAIT, netlink.addresses(ifindex, family))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .map(|list| list.into_iter().map(|(a, _)| a).collect());
                slot.insert(read);
            }
            entry.present = dumps[&key].as_ref().map(|list| list.contains(&address));
        }
    }
    report
}

fn state_name(state: State) -> String {
    match state {
        State::Initialize => "initialize",
        State::Backup => "backup",
        State::Master => "master",
        State::Fault => "fault",
        State::Stopped => "stopped",
    }
    .to_owned()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What the loop knows of the last reload and of the configuration it runs.
#[derive(Debug, Clone)]
pub struct ConfigInfo {
    pub loaded_unix: f64,
    pub last_reload: Option<ReloadReport>,
}

impl ConfigInfo {
    pub fn now() -> ConfigInfo {
        ConfigInfo {
            loaded_unix: unix_now(),
            last_reload: None,
        }
    }
}

pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Daemon {
    /// The status of every router (or of the one named), without the addresses'
    /// presence (the connection's task reads that). Cheap: reads the loop's state only.
    pub(super) fn status_draft(&self, only: Option<&str>) -> Result<StatusDraft, String> {
        let now = self.clock.now();
        let tokio_now = tokio::time::Instant::now();
        let mut routers = Vec::new();
        let mut lookups = Vec::new();
        let mut sync_groups = Vec::new();
        for unit in &self.units {
            let mut names = Vec::new();
            for &id in &unit.ids {
                let (Some(io), Some(status)) = (self.routers.get(&id), self.router_status(id))
                else {
                    continue;
                };
                names.push(status.name.clone());
                if io.is_retired() || only.is_some_and(|name| name != status.name) {
                    continue;
                }
                let core = &status.core;
                let locations = io.vip_locations();
                lookups.push(locations.iter().map(|(a, _, _, i)| (*a, *i)).collect());
                let checks = status
                    .checks
                    .iter()
                    .map(|tracked| {
                        let view = self
                            .checks
                            .index_of(&tracked.name)
                            .and_then(|i| self.checks.view(i));
                        CheckReport {
                            name: tracked.name.clone(),
                            kind: view.as_ref().map_or("unknown", |v| v.kind).to_owned(),
                            state: view.as_ref().map_or("unknown", |v| v.state).to_owned(),
                            value: view.as_ref().and_then(|v| v.value),
                            last_result: view.as_ref().and_then(|v| v.last_result.clone()),
                            since_seconds: view
                                .as_ref()
                                .and_then(|v| v.changed_at)
                                .map(|at| tokio_now.saturating_duration_since(at).as_secs_f64()),
                            weight_now: tracked.weight,
                            fault_now: tracked.fault,
                        }
                    })
                    .collect();
                let counters = &status.counters;
                routers.push(RouterReport {
                    name: status.name.clone(),
                    interface: status.interface.clone(),
                    vrid: status.vrid,
                    vrrp_version: status.version,
                    family: status.family.to_owned(),
                    unicast: status.unicast,
                    state: state_name(core.state),
                    state_seconds: now.saturating_since(core.since).as_secs_f64(),
                    reason: core.reason.as_ref().map(ToString::to_string),
                    handing_over: core.handing_over,
                    configured_priority: core.configured_priority,
                    effective_priority: core.effective_priority,
                    advert_interval_ms: millis(io.spec().advert_interval.to_duration()),
                    master_advert_interval_ms: millis(core.master_adver_interval.to_duration()),
                    master_down_ms: millis(core.master_down_interval),
                    skew_ms: millis(core.skew),
                    master: core.master.map(|m| MasterReport {
                        address: m.src.to_string(),
                        priority: m.priority,
                        advert_interval_ms: millis(m.interval.to_duration()),
                        last_heard_seconds_ago: now.saturating_since(m.at).as_secs_f64(),
                        checksum_form: serde_json::to_value(m.checksum_form)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                    }),
                    faults: FaultsReport {
                        interface_down: core.faults.interface_down,
                        health: core.faults.health,
                        sync_group: core.faults.sync_group,
                    },
                    sync_group: unit.name.clone(),
                    holds_addresses: core.holds_addresses,
                    addresses: locations
                        .into_iter()
                        .map(|(address, prefix, interface, _)| AddressReport {
                            address: format!("{address}/{prefix}"),
                            interface,
                            present: None,
                        })
                        .collect(),
                    checks,
                    counters: CountersReport {
                        adverts_sent: counters.sent,
                        adverts_received: counters.received,
                        send_errors: counters.send_errors,
                        announcements: counters.announcements,
                        transitions: counters.transitions,
                        dropped: counters
                            .dropped
                            .iter()
                            .map(|(why, n)| ((*why).to_owned(), *n))
                            .collect(),
                    },
                });
            }
            if let Some(name) = &unit.name
                && only.is_none_or(|router| names.iter().any(|n| n == router))
            {
                sync_groups.push(SyncGroupReport {
                    name: name.clone(),
                    routers: names,
                    state: unit.group.common_state().map(state_name),
                });
            }
        }
        if let Some(name) = only
            && routers.is_empty()
        {
            let known: Vec<String> = self
                .units
                .iter()
                .flat_map(|u| u.ids.iter())
                .filter_map(|id| self.routers.get(id))
                .filter(|io| !io.is_retired())
                .map(|io| io.spec().name.clone())
                .collect();
            return Err(format!(
                "no router `{}`; configured: {}",
                name.chars().take(64).collect::<String>(),
                known.join(", ")
            ));
        }
        Ok(StatusDraft {
            report: StatusReport {
                schema: SCHEMA_VERSION,
                daemon: DaemonReport {
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    pid: std::process::id(),
                    uptime_seconds: now.since_epoch().as_secs_f64(),
                    config_file: self.config_path.display().to_string(),
                    config_loaded_unix: self.config_info.loaded_unix,
                    last_reload: self.config_info.last_reload.clone(),
                },
                routers,
                sync_groups,
            },
            lookups,
        })
    }

    /// "web: MASTER, web6: BACKUP", for systemd's STATUS=.
    pub(super) fn summary_line(&self) -> String {
        let mut parts = Vec::new();
        for unit in &self.units {
            for (id, router) in unit.ids.iter().zip(unit.group.members()) {
                if let Some(io) = self.routers.get(id)
                    && !io.is_retired()
                {
                    parts.push(format!("{}: {}", io.spec().name, router.state()));
                }
            }
        }
        parts.join(", ")
    }

    /// Serve one request from a connection.
    pub(super) async fn on_control(&mut self, request: LoopRequest) {
        match request {
            LoopRequest::Status { router, reply } => {
                let _ = reply.send(self.status_draft(router.as_deref()));
            }
            LoopRequest::Reload { reply } => {
                if self.shutting_down {
                    // As for SIGHUP: a reload would start routers the stop must end.
                    let _ = reply.send(ReloadOutcome {
                        applied: false,
                        kept_running: true,
                        error: Some("the daemon is stopping: reload ignored".to_owned()),
                    });
                    return;
                }
                let outcome = self.reload_notified().await;
                let _ = reply.send(outcome);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], limit: usize) -> Vec<Line> {
        let mut reader = input;
        let mut pending = Vec::new();
        let mut out = Vec::new();
        loop {
            let line = read_line(&mut reader, &mut pending, limit).await.unwrap();
            let done = matches!(line, Line::End | Line::TooLarge);
            out.push(line);
            if done {
                return out;
            }
            assert!(pending.len() <= limit + 4096);
        }
    }

    #[tokio::test]
    async fn reads_lines_one_at_a_time() {
        assert_eq!(
            lines(b"one\ntwo\nthree", 100).await,
            vec![
                Line::Request(b"one".to_vec()),
                Line::Request(b"two".to_vec()),
                Line::Request(b"three".to_vec()),
                Line::End
            ]
        );
        assert_eq!(lines(b"", 100).await, vec![Line::End]);
        assert_eq!(
            lines(b"\n", 100).await,
            vec![Line::Request(Vec::new()), Line::End]
        );
    }

    #[tokio::test]
    async fn stops_reading_at_the_limit() {
        // No newline ever: stops once the limit is reached, not at the end of input.
        let endless = vec![b'x'; 1024 * 1024];
        assert_eq!(
            lines(&endless, MAX_REQUEST_BYTES).await,
            vec![Line::TooLarge]
        );
        let mut long = vec![b'x'; 200];
        long.push(b'\n');
        assert_eq!(lines(&long, 100).await, vec![Line::TooLarge]);
        let mut fits = vec![b'x'; 99];
        fits.push(b'\n');
        assert_eq!(
            lines(&fits, 100).await,
            vec![Line::Request(vec![b'x'; 99]), Line::End]
        );
    }

    /// A server with a fake loop that answers status requests with an empty report.
    async fn server(dir: &Path) -> (ControlSocket, PathBuf, JoinHandle<()>) {
        let path = dir.join("control.sock");
        let (tx, mut rx) = mpsc::channel(QUEUE);
        let socket = ControlSocket::bind(&path, tx, Netlink::new().unwrap()).unwrap();
        let fake_loop = tokio::spawn(async move {
            while let Some(request) = rx.recv().await {
                match request {
                    LoopRequest::Status { reply, .. } => {
                        let _ = reply.send(Ok(StatusDraft {
                            report: StatusReport {
                                schema: SCHEMA_VERSION,
                                daemon: DaemonReport {
                                    version: "test".into(),
                                    pid: 1,
                                    uptime_seconds: 1.0,
                                    config_file: "/x".into(),
                                    config_loaded_unix: 0.0,
                                    last_reload: None,
                                },
                                routers: Vec::new(),
                                sync_groups: Vec::new(),
                            },
                            lookups: Vec::new(),
                        }));
                    }
                    LoopRequest::Reload { reply } => {
                        let _ = reply.send(ReloadOutcome {
                            applied: true,
                            kept_running: false,
                            error: None,
                        });
                    }
                }
            }
        });
        (socket, path, fake_loop)
    }

    fn ask(path: &Path, lines: &[u8]) -> Vec<Answer> {
        use std::io::{BufRead, BufReader, Write};
        let mut stream = std::os::unix::net::UnixStream::connect(path).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        // A refused connection may be closed before or while we write.
        let _ = stream
            .write_all(lines)
            .and_then(|()| stream.shutdown(std::net::Shutdown::Write));
        BufReader::new(stream)
            .lines()
            .map_while(Result::ok)
            .map(|l| serde_json::from_str(&l).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn answers_each_line_and_refuses_garbage() {
        let dir = crate::common::security::test_support::TempDir::new("control");
        let (_socket, path, _loop) = server(dir.path()).await;
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o660);
        let answers = tokio::task::spawn_blocking(move || {
            ask(
                &path,
                b"{\"version\":1,\"command\":\"status\"}\nnonsense\n{\"version\":1,\"command\":\"handover\"}\n{\"version\":1,\"command\":\"reload\"}\n",
            )
        })
        .await
        .unwrap();
        assert_eq!(answers.len(), 4, "{answers:?}");
        assert!(answers[0].ok && answers[0].status.is_some());
        assert_eq!(answers[1].error.as_ref().unwrap().code, "malformed");
        assert_eq!(answers[2].error.as_ref().unwrap().code, "not_supported");
        assert!(answers[3].ok && answers[3].reload.as_ref().unwrap().applied);
    }

    #[tokio::test]
    async fn an_oversize_request_is_refused_and_the_connection_closed() {
        let dir = crate::common::security::test_support::TempDir::new("control");
        let (_socket, path, _loop) = server(dir.path()).await;
        let answers = tokio::task::spawn_blocking(move || {
            use std::io::{BufRead, BufReader, Write};
            let mut stream = std::os::unix::net::UnixStream::connect(&path).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            // More than the limit, no newline, and the connection stays open: the
            // server must answer and close without waiting for the end.
            let big = vec![b'x'; MAX_REQUEST_BYTES + 10];
            let _ = stream.write_all(&big);
            BufReader::new(stream)
                .lines()
                .map_while(Result::ok)
                .map(|l| serde_json::from_str::<Answer>(&l).unwrap())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        assert_eq!(answers.len(), 1, "{answers:?}");
        assert_eq!(answers[0].error.as_ref().unwrap().code, "too_large");
    }

    #[tokio::test]
    async fn clients_beyond_the_cap_are_refused_and_a_slot_frees_up() {
        let dir = crate::common::security::test_support::TempDir::new("control");
        let (_socket, path, _loop) = server(dir.path()).await;
        // MAX_CLIENTS silent clients hold every slot.
        let silent: Vec<_> = (0..MAX_CLIENTS)
            .map(|_| std::os::unix::net::UnixStream::connect(&path).unwrap())
            .collect();
        let probe = path.clone();
        let refused = tokio::task::spawn_blocking(move || {
            // Connections are accepted in order: wait until the cap is reached.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                let answers = ask(&probe, b"{\"version\":1,\"command\":\"status\"}\n");
                if answers.len() == 1 && answers[0].error.as_ref().is_some_and(|e| e.code == "busy")
                {
                    return true;
                }
                if std::time::Instant::now() > deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .await
        .unwrap();
        assert!(refused, "a client beyond {MAX_CLIENTS} was served");
        drop(silent);
        let probe = path.clone();
        let served = tokio::task::spawn_blocking(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                let answers = ask(&probe, b"{\"version\":1,\"command\":\"status\"}\n");
                if answers.len() == 1 && answers[0].ok {
                    return true;
                }
                if std::time::Instant::now() > deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .await
        .unwrap();
        assert!(served, "no slot freed after the silent clients left");
    }
}
