//! The Prometheus endpoint: `GET /metrics` in the text exposition format 0.0.4.
//!
//! Owns the listener, a minimal HTTP/1.1 reader (one request per connection, bounded in
//! size, time and number of clients) and the rendering of a `DaemonStatus` into metric
//! families. The event loop publishes the status (an `Arc`, through a `watch` channel)
//! after each event; the server only reads the latest one, so a scrape never waits for
//! the loop and a slow or hostile client never holds it up. Must not read the daemon's
//! internals, change anything, or do anything but answer scrapes.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::status::{DaemonStatus, LATENESS_BUCKETS, RouterStatus};
use crate::proto::fsm::State;

/// The largest request head read; longer requests are refused.
const MAX_REQUEST: usize = 8 * 1024;
/// A client has this long to send its request and take the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more wait in the kernel's backlog.
const MAX_CLIENTS: usize = 8;

/// The running endpoint; dropping it stops the server.
pub struct MetricsServer {
    task: JoinHandle<()>,
    pub local_addr: SocketAddr,
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MetricsServer {
    /// Bind `listen` and serve what `status` holds.
    pub async fn start(
        listen: SocketAddr,
        status: watch::Receiver<Arc<DaemonStatus>>,
    ) -> std::io::Result<MetricsServer> {
        let listener = TcpListener::bind(listen).await?;
        let local_addr = listener.local_addr()?;
        let task = tokio::spawn(serve(listener, status));
        Ok(MetricsServer { task, local_addr })
    }
}

async fn serve(listener: TcpListener, status: watch::Receiver<Arc<DaemonStatus>>) {
    let clients = Arc::new(Semaphore::new(MAX_CLIENTS));
    loop {
        // Take a slot before accepting: beyond the cap, clients wait in the backlog.
        let Ok(permit) = Arc::clone(&clients).acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and the like: do not spin.
                warn!("metrics: cannot accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let status = status.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(CLIENT_TIMEOUT, answer(stream, status)).await {
                Ok(Err(e)) => debug!("metrics: client: {e}"),
                Err(_) => debug!("metrics: client timed out"),
                Ok(Ok(())) => {}
            }
        });
    }
}

/// Read one request head and answer it.
async fn answer(
    mut stream: TcpStream,
    status: watch::Receiver<Arc<DaemonStatus>>,
) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let complete = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break false;
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            break true;
        }
        if head.len() > MAX_REQUEST {
            break false;
        }
    };
    let response = if complete {
        let snapshot = Arc::clone(&status.borrow());
        respond(&head, || render(&snapshot))
    } else if head.len() > MAX_REQUEST {
        plain(
            431,
            "Request Header Fields Too Large",
            "request too large\n",
        )
    } else {
        return Ok(());
    };
    stream.write_all(&response).await?;
    stream.shutdown().await
}

/// The answer to a request head; `body` renders the metrics when they are asked for.
fn respond(head: &[u8], body: impl FnOnce() -> String) -> Vec<u8> {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end().split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    if path != "/metrics" {
        return plain(404, "Not Found", "not found: the metrics are at /metrics\n");
    }
    if method != "GET" && method != "HEAD" {
        let mut response = plain(405, "Method Not Allowed", "only GET\n");
        // Insert the Allow header after the status line.
        let at = response
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(0, |i| i + 2);
        response.splice(at..at, b"Allow: GET, HEAD\r\n".iter().copied());
        return response;
    }
    let body = body();
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method == "GET" {
        response.extend_from_slice(body.as_bytes());
    }
    response
}

fn plain(code: u16, reason: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Escape a label value (backslash, double quote and newline).
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A router's identifying labels, without braces.
fn router_labels(r: &RouterStatus) -> String {
    format!(
        "router=\"{}\",interface=\"{}\",vrid=\"{}\",family=\"{}\"",
        escape(&r.name),
        escape(&r.interface),
        r.vrid,
        if r.family == "IPv6" { "ipv6" } else { "ipv4" }
    )
}

/// Writes metric families: a header once, then samples.
struct Out {
    text: String,
}

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        if labels.is_empty() {
            let _ = writeln!(self.text, "{name} {value}");
        } else {
            let _ = writeln!(self.text, "{name}{{{labels}}} {value}");
        }
    }

    /// One family with one sample per router.
    fn per_router<V: std::fmt::Display>(
        &mut self,
        status: &[(String, &RouterStatus)],
        name: &str,
        kind: &str,
        help: &str,
        value: impl Fn(&RouterStatus) -> V,
    ) {
        self.family(name, kind, help);
        for (labels, r) in status {
            self.sample(name, labels, value(r));
        }
    }
}

const STATES: [State; 5] = [
    State::Initialize,
    State::Backup,
    State::Master,
    State::Fault,
    State::Stopped,
];

/// The text exposition of a status.
pub fn render(status: &DaemonStatus) -> String {
    let mut out = Out {
        text: String::with_capacity(4096 + 3072 * status.routers.len()),
    };
    out.family(
        "floatip_build_info",
        "gauge",
        "Always 1; the version of the running floatip.",
    );
    out.sample(
        "floatip_build_info",
        &format!("version=\"{}\"", escape(status.version)),
        1,
    );
    out.family(
        "floatip_start_time_seconds",
        "gauge",
        "When the daemon started, in seconds since the Unix epoch.",
    );
    out.sample("floatip_start_time_seconds", "", status.started_at);

    let routers: Vec<(String, &RouterStatus)> = status
        .routers
        .iter()
        .map(|r| (router_labels(r), r))
        .collect();
    out.family(
        "floatip_router_state",
        "gauge",
        "1 for the state the virtual router is in, 0 for the others.",
    );
    for (labels, r) in &routers {
        for state in STATES {
            let value = u8::from(r.core.state == state);
            out.sample(
                "floatip_router_state",
                &format!("{labels},state=\"{}\"", state.label()),
                value,
            );
        }
    }
    out.per_router(
        &routers,
        "floatip_router_priority",
        "gauge",
        "Effective priority: configured plus the weights of the tracked checks.",
        |r| r.core.effective_priority,
    );
    out.per_router(
        &routers,
        "floatip_router_configured_priority",
        "gauge",
        "Priority as configured.",
        |r| r.core.configured_priority,
    );
    out.family(
        "floatip_address_present",
        "gauge",
        "1 if the virtual address was on its interface when the daemon last added, removed or read it.",
    );
    for (labels, r) in &routers {
        for a in &r.present {
            out.sample(
                "floatip_address_present",
                &format!("{labels},address=\"{}\"", a.address),
                u8::from(a.present),
            );
        }
    }
    out.family(
        "floatip_transitions_total",
        "counter",
        "State changes of the virtual router, by from and to.",
    );
    for (labels, r) in &routers {
        for (from, tos) in &r.counters.transitions_between {
            for (to, count) in tos {
                out.sample(
                    "floatip_transitions_total",
                    &format!("{labels},from=\"{from}\",to=\"{to}\""),
                    count,
                );
            }
        }
    }
    out.per_router(
        &routers,
        "floatip_adverts_sent_total",
        "counter",
        "Advertisements sent (one per destination).",
        |r| r.counters.sent,
    );
    out.per_router(
        &routers,
        "floatip_adverts_received_total",
        "counter",
        "Advertisements received that passed the checks and reached the state machine.",
        |r| r.counters.received,
    );
    out.family(
        "floatip_adverts_dropped_total",
        "counter",
        "Packets dropped before or by the state machine, by reason.",
    );
    for (labels, r) in &routers {
        for (reason, count) in &r.counters.dropped {
            out.sample(
                "floatip_adverts_dropped_total",
                &format!("{labels},reason=\"{}\"", escape(reason)),
                count,
            );
        }
    }
    out.per_router(
        &routers,
        "floatip_advert_send_errors_total",
        "counter",
        "Advertisements that could not be sent.",
        |r| r.counters.send_errors,
    );
    out.per_router(
        &routers,
        "floatip_announcements_total",
        "counter",
        "Rounds of gratuitous ARP / unsolicited NA sent.",
        |r| r.counters.announcements,
    );
    out.per_router(
        &routers,
        "floatip_master_changes_total",
        "counter",
        "Times the master as this router sees it changed (another master followed, or itself).",
        |r| r.core.tally.master_changes,
    );
    out.per_router(
        &routers,
        "floatip_split_brain_heals_total",
        "counter",
        "Times, as master, it heard a lower-priority master and asserted itself at once.",
        |r| r.core.tally.split_brain_heals,
    );

    out.family(
        "floatip_check_up",
        "gauge",
        "1 if the health check passes (a file check: reads 0).",
    );
    for c in &status.checks {
        out.sample(
            "floatip_check_up",
            &format!("check=\"{}\",kind=\"{}\"", escape(&c.name), c.kind),
            u8::from(c.up),
        );
    }
    out.family(
        "floatip_check_failures_total",
        "counter",
        "Failed results of the health check since its checker started.",
    );
    for c in &status.checks {
        out.sample(
            "floatip_check_failures_total",
            &format!("check=\"{}\",kind=\"{}\"", escape(&c.name), c.kind),
            c.failures,
        );
    }
    out.family(
        "floatip_hook_runs_total",
        "counter",
        "Notify hook commands run.",
    );
    for h in &status.hooks {
        out.sample(
            "floatip_hook_runs_total",
            &format!("owner=\"{}\",type=\"{}\"", escape(&h.owner), h.kind),
            h.runs,
        );
    }
    out.family(
        "floatip_hook_failures_total",
        "counter",
        "Notify hook commands that failed (exit status, signal, timeout, not started).",
    );
    for h in &status.hooks {
        out.sample(
            "floatip_hook_failures_total",
            &format!("owner=\"{}\",type=\"{}\"", escape(&h.owner), h.kind),
            h.failures,
        );
    }

    let reloads = &status.reloads;
    out.family(
        "floatip_reloads_total",
        "counter",
        "Configuration reloads, by result (failed: the running configuration stayed).",
    );
    out.sample("floatip_reloads_total", "result=\"ok\"", reloads.ok);
    out.sample("floatip_reloads_total", "result=\"failed\"", reloads.failed);
    out.family(
        "floatip_last_reload_successful",
        "gauge",
        "1 if the last reload took the new file (1 before any reload).",
    );
    out.sample(
        "floatip_last_reload_successful",
        "",
        u8::from(reloads.last_ok),
    );
    out.family(
        "floatip_last_reload_timestamp_seconds",
        "gauge",
        "When the configuration was last loaded or a reload last tried, in seconds since the Unix epoch.",
    );
    out.sample("floatip_last_reload_timestamp_seconds", "", reloads.last_at);

    let lateness = &status.timer_lateness;
    let name = "floatip_timer_lateness_seconds";
    out.family(
        name,
        "histogram",
        "How late the event loop woke for protocol deadlines (wake-up minus deadline).",
    );
    let mut cumulative = 0;
    for (bound, count) in LATENESS_BUCKETS.iter().zip(lateness.buckets) {
        cumulative += count;
        out.sample(
            &format!("{name}_bucket"),
            &format!("le=\"{bound}\""),
            cumulative,
        );
    }
    out.sample(&format!("{name}_bucket"), "le=\"+Inf\"", lateness.count);
    out.sample(&format!("{name}_sum"), "", lateness.sum_seconds);
    out.sample(&format!("{name}_count"), "", lateness.count);
    out.text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> String {
        String::from_utf8_lossy(&respond(text.as_bytes(), || "body\n".to_string())).to_string()
    }

    #[test]
    fn only_get_of_metrics_is_answered() {
        let ok = head("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("text/plain; version=0.0.4"), "{ok}");
        assert!(ok.ends_with("\r\n\r\nbody\n"), "{ok}");
        let query = head("GET /metrics?x=1 HTTP/1.1\r\n\r\n");
        assert!(query.starts_with("HTTP/1.1 200"), "{query}");
        let head_only = head("HEAD /metrics HTTP/1.1\r\n\r\n");
        assert!(head_only.starts_with("HTTP/1.1 200") && head_only.ends_with("\r\n\r\n"));
        assert!(head("GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert!(head("GET /metricsx HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        let post = head("POST /metrics HTTP/1.1\r\n\r\n");
        assert!(post.starts_with("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n"));
        assert!(head("\u{0}\u{1}garbage\r\n\r\n").starts_with("HTTP/1.1 404"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn the_lateness_histogram_is_cumulative_and_ends_at_the_count() {
        let mut status = DaemonStatus {
            version: "0.1.0",
            started_at: 1.5,
            routers: Vec::new(),
            checks: Vec::new(),
            hooks: Vec::new(),
            reloads: Default::default(),
            timer_lateness: Default::default(),
        };
        for micros in [10, 60, 60, 3_000, 500_000] {
            status.timer_lateness.observe(Duration::from_micros(micros));
        }
        let text = render(&status);
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
                .to_string()
        };
        assert_eq!(
            line("floatip_timer_lateness_seconds_bucket{le=\"0.00005\"}"),
            "floatip_timer_lateness_seconds_bucket{le=\"0.00005\"} 1"
        );
        assert_eq!(
            line("floatip_timer_lateness_seconds_bucket{le=\"0.0001\"}"),
            "floatip_timer_lateness_seconds_bucket{le=\"0.0001\"} 3"
        );
        assert_eq!(
            line("floatip_timer_lateness_seconds_bucket{le=\"0.1\"}"),
            "floatip_timer_lateness_seconds_bucket{le=\"0.1\"} 4"
        );
        assert_eq!(
            line("floatip_timer_lateness_seconds_bucket{le=\"+Inf\"}"),
            "floatip_timer_lateness_seconds_bucket{le=\"+Inf\"} 5"
        );
        assert_eq!(
            line("floatip_timer_lateness_seconds_count"),
            "floatip_timer_lateness_seconds_count 5"
        );
        assert!(text.contains("floatip_build_info{version=\"0.1.0\"} 1\n"));
        // Every family is announced once, before its samples.
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        let helps = text.lines().filter(|l| l.starts_with("# HELP ")).count();
        assert_eq!(types, helps);
    }
}
