//! The command-line side of the control socket: `floatip status` and `floatip reload`.
//!
//! Owns one connection to the daemon (connect, one request, one answer, each with a
//! timeout and a bound on the answer's size), the human rendering of a status report,
//! and the exit codes. Must not touch the network beyond that Unix socket.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::report::{RouterReport, StatusReport};
use super::{Answer, PROTOCOL_VERSION, Request};

/// The daemon answered and all is well.
pub const EXIT_OK: u8 = 0;
/// `--check` found a problem, or a reload was rejected (the old configuration runs).
pub const EXIT_PROBLEM: u8 = 1;
/// The daemon refused the request (unknown router, unsupported command).
pub const EXIT_REFUSED: u8 = 65;
/// The daemon is unreachable: no socket, nobody listening, no answer in time
/// (sysexits.h EX_UNAVAILABLE).
pub const EXIT_UNREACHABLE: u8 = 69;
/// The answer could not be understood (sysexits.h EX_PROTOCOL).
pub const EXIT_PROTOCOL: u8 = 76;

/// The largest answer read.
const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;

/// Why a request got no usable answer.
#[derive(Debug)]
pub enum ClientError {
    /// No connection, or no answer in time.
    Unreachable(String),
    /// An answer that is not one of ours.
    Protocol(String),
}

impl ClientError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Unreachable(_) => EXIT_UNREACHABLE,
            ClientError::Protocol(_) => EXIT_PROTOCOL,
        }
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unreachable(why) | ClientError::Protocol(why) => f.write_str(why),
        }
    }
}

/// Send one request and read its answer, waiting at most `timeout` for each step.
pub fn request(socket: &Path, request: &Request, timeout: Duration) -> Result<Answer, ClientError> {
    let unreachable = |what: &str, e: std::io::Error| {
        ClientError::Unreachable(format!(
            "cannot {what} the floatip control socket {}: {e} (is the daemon running, and may this user use the socket?)",
            socket.display()
        ))
    };
    let mut stream = UnixStream::connect(socket).map_err(|e| unreachable("connect to", e))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| unreachable("use", e))?;
    let mut line = request.to_line();
    line.push('\n');
    stream
        .write_all(line.as_bytes())
        .map_err(|e| unreachable("write to", e))?;
    let mut reader = BufReader::new(stream.take(MAX_ANSWER_BYTES));
    let mut answer = String::new();
    reader
        .read_line(&mut answer)
        .map_err(|e| unreachable("read from", e))?;
    if answer.is_empty() {
        return Err(ClientError::Unreachable(format!(
            "the daemon closed {} without answering",
            socket.display()
        )));
    }
    let answer: Answer = serde_json::from_str(answer.trim_end()).map_err(|e| {
        ClientError::Protocol(format!("cannot understand the daemon's answer: {e}"))
    })?;
    if answer.version != PROTOCOL_VERSION {
        return Err(ClientError::Protocol(format!(
            "the daemon speaks protocol version {}, this client {PROTOCOL_VERSION}",
            answer.version
        )));
    }
    Ok(answer)
}

/// "350ms", "12.3s", "4m05s", "2h03m", "3d04h".
pub fn human_duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "?".into();
    }
    if seconds < 1.0 {
        return format!("{:.0}ms", seconds * 1000.0);
    }
    if seconds < 60.0 {
        return format!("{seconds:.1}s");
    }
    let whole = seconds as u64;
    let (d, h, m, s) = (
        whole / 86400,
        whole / 3600 % 24,
        whole / 60 % 60,
        whole % 60,
    );
    if d > 0 {
        format!("{d}d{h:02}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else {
        format!("{m}m{s:02}s")
    }
}

fn ms(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The report for a person: a few lines per router, made to fit one screen for a pair.
pub fn render(report: &StatusReport) -> String {
    let mut out = String::new();
    let d = &report.daemon;
    let _ = writeln!(
        out,
        "floatip {} (pid {}), up {}; config {} loaded {} ago",
        d.version,
        d.pid,
        human_duration(d.uptime_seconds),
        d.config_file,
        human_duration(unix_now() - d.config_loaded_unix),
    );
    match &d.last_reload {
        None => {}
        Some(r) if r.applied => {
            let _ = writeln!(
                out,
                "last reload: ok, {} ago",
                human_duration(unix_now() - r.at_unix)
            );
        }
        Some(r) => {
            let _ = writeln!(
                out,
                "last reload: REJECTED {} ago, the previous configuration runs:\n  {}",
                human_duration(unix_now() - r.at_unix),
                r.error.as_deref().unwrap_or("").replace('\n', "\n  ")
            );
        }
    }
    for router in &report.routers {
        out.push('\n');
        render_router(&mut out, router);
    }
    if !report.sync_groups.is_empty() {
        out.push('\n');
    }
    for group in &report.sync_groups {
        let _ = writeln!(
            out,
            "sync group {} ({}): {}",
            group.name,
            group.routers.join(", "),
            group
                .state
                .as_deref()
                .map_or_else(|| "members differ".to_owned(), str::to_uppercase)
        );
    }
    out
}

fn render_router(out: &mut String, r: &RouterReport) {
    let _ = writeln!(
        out,
        "{}: {} for {}{}{}",
        r.name,
        r.state.to_uppercase(),
        human_duration(r.state_seconds),
        r.reason
            .as_deref()
            .map_or_else(String::new, |why| format!(" ({why})")),
        if r.handing_over { ", handing over" } else { "" },
    );
    let _ = writeln!(
        out,
        "  {} vrid {} VRRPv{} {}{}; advert {}, master_down {}, skew {}",
        r.interface,
        r.vrid,
        r.vrrp_version,
        r.family,
        if r.unicast { " unicast" } else { "" },
        ms(r.master_advert_interval_ms),
        ms(r.master_down_ms),
        ms(r.skew_ms),
    );
    let movers: Vec<String> = r
        .checks
        .iter()
        .filter(|c| c.weight_now != 0 || c.fault_now)
        .map(|c| {
            if c.fault_now {
                format!("{} FAULT", c.name)
            } else {
                format!("{} {:+}", c.name, c.weight_now)
            }
        })
        .collect();
    let _ = writeln!(
        out,
        "  priority {} (configured {}{})",
        r.effective_priority,
        r.configured_priority,
        if movers.is_empty() {
            String::new()
        } else {
            format!("; {}", movers.join(", "))
        }
    );
    let faults: Vec<&str> = [
        (r.faults.interface_down, "interface down"),
        (r.faults.health, "health check"),
        (r.faults.sync_group, "sync group"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, what)| *what)
    .collect();
    if !faults.is_empty() {
        let _ = writeln!(out, "  fault: {}", faults.join(", "));
    }
    match &r.master {
        Some(m) => {
            let _ = writeln!(
                out,
                "  master heard: {} priority {}, advert {}, {} ago, checksum {}",
                m.address,
                m.priority,
                ms(m.advert_interval_ms),
                human_duration(m.last_heard_seconds_ago),
                m.checksum_form
            );
        }
        None if r.state == "master" => {}
        None => {
            let _ = writeln!(out, "  master heard: none");
        }
    }
    let addresses: Vec<String> = r
        .addresses
        .iter()
        .map(|a| {
            let present = match a.present {
                Some(true) => "present",
                Some(false) => "absent",
                None => "unknown",
            };
            format!("{} on {} {present}", a.address, a.interface)
        })
        .collect();
    let _ = writeln!(out, "  addresses: {}", addresses.join(", "));
    for c in &r.checks {
        let _ = writeln!(
            out,
            "  check {} ({}): {}{}{}",
            c.name,
            c.kind,
            c.state,
            c.since_seconds
                .map_or_else(String::new, |s| format!(" for {}", human_duration(s))),
            c.last_result
                .as_deref()
                .map_or_else(String::new, |text| format!(", last: {text}")),
        );
    }
    let c = &r.counters;
    let dropped = if c.dropped.is_empty() {
        "none".to_owned()
    } else {
        c.dropped
            .iter()
            .map(|(why, n)| format!("{why} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        out,
        "  adverts sent {} received {}, send errors {}, transitions {}; dropped: {dropped}",
        c.adverts_sent, c.adverts_received, c.send_errors, c.transitions
    );
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(0.35), "350ms");
        assert_eq!(human_duration(12.34), "12.3s");
        assert_eq!(human_duration(245.0), "4m05s");
        assert_eq!(human_duration(7380.0), "2h03m");
        assert_eq!(human_duration(273600.0), "3d04h");
        assert_eq!(human_duration(-1.0), "?");
        assert_eq!(ms(100), "100ms");
        assert_eq!(ms(2000), "2s");
    }

    #[test]
    fn an_absent_socket_is_unreachable() {
        let error = request(
            Path::new("/nonexistent/floatip.sock"),
            &Request::Status { router: None },
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert_eq!(error.exit_code(), EXIT_UNREACHABLE);
    }
}
