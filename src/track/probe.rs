//! The `tcp` and `http` checkers: a built-in connect, or an HTTP/1.1 GET, against a local
//! address, every interval, without forking a process per check.
//!
//! Owns one task per check and its connection of the moment. Reports Pass or Fail (with
//! the reason) after every attempt; rise/fall and what a failure means are the policy's
//! business, so nothing here counts or logs above debug level (a check failing every
//! 100 ms must not write ten lines a second: the daemon logs the policy's state changes).
//!
//! Connections are closed with SO_LINGER 0, i.e. with a RST instead of a FIN. The side
//! that closes first keeps the connection in TIME_WAIT for 60 s; checks that close
//! normally would, at 50 checks every 100 ms, keep some 30 000 sockets in TIME_WAIT and
//! use up the ephemeral ports towards a single target. We have what we came for
//! (connected, or the status line), so there is nothing left to deliver gracefully.
//! HAProxy's own health checks close the same way. The cost: the server may log the
//! check as a client abort; HAProxy does not for `http-request return` or a monitor URI.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tracing::debug;

use super::{CheckIndex, Observation, Report, describe};
use crate::common::duration::format_duration;

/// The most bytes read while looking for the end of the status line: a hostile or broken
/// server cannot make us buffer more.
const MAX_STATUS_LINE: usize = 1024;

/// Connect to `target` at once and then every `interval`; Pass when connected within
/// `timeout`. Ends when `reports`' receiver is dropped.
pub fn spawn_tcp(
    check: CheckIndex,
    target: SocketAddr,
    interval: Duration,
    timeout: Duration,
    reports: UnboundedSender<Report>,
) -> JoinHandle<()> {
    tokio::spawn(run(check, interval, timeout, reports, move || async move {
        connect(target).await.map(drop).map_err(|e| describe(&e))
    }))
}

/// GET `path` from `target` at once and then every `interval`; Pass when the status is
/// `expect` and the status line arrived within `timeout` (connect included). `Host:` is
/// `host`, or the target's address (with the port unless it is 80). Ends when
/// `reports`' receiver is dropped.
#[allow(clippy::too_many_arguments)]
pub fn spawn_http(
    check: CheckIndex,
    target: SocketAddr,
    host: Option<String>,
    path: String,
    expect: u16,
    interval: Duration,
    timeout: Duration,
    reports: UnboundedSender<Report>,
) -> JoinHandle<()> {
    let request: Arc<[u8]> = http_request(target, host.as_deref(), &path).into();
    tokio::spawn(run(check, interval, timeout, reports, move || {
        let request = Arc::clone(&request);
        async move { get_status(target, &request, expect).await }
    }))
}

/// The loop both checkers share: attempt, bounded by `timeout`; report; wait.
async fn run<F, Fut>(
    check: CheckIndex,
    interval: Duration,
    timeout: Duration,
    reports: UnboundedSender<Report>,
    attempt: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = reports.closed() => return,
        }
        let observation = match tokio::time::timeout(timeout, attempt()).await {
            Ok(Ok(())) => Observation::Pass,
            Ok(Err(reason)) => Observation::Fail(reason),
            Err(_) => Observation::Fail(format!("timed out after {}", format_duration(timeout))),
        };
        debug!(check, ?observation, "probe");
        if reports.send(Report { check, observation }).is_err() {
            return;
        }
    }
}

async fn connect(target: SocketAddr) -> io::Result<TcpStream> {
    let socket = match target {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    let stream = socket.connect(target).await?;
    // Close with a RST, leaving no TIME_WAIT behind (see the module comment). With a
    // zero linger time, close never blocks.
    stream.set_zero_linger()?;
    Ok(stream)
}

fn http_request(target: SocketAddr, host: Option<&str>, path: &str) -> Vec<u8> {
    let host = match host {
        Some(host) => host.to_owned(),
        None if target.port() == 80 => match target {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        },
        None => target.to_string(),
    };
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: floatip/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

async fn get_status(target: SocketAddr, request: &[u8], expect: u16) -> Result<(), String> {
    let mut stream = connect(target).await.map_err(|e| describe(&e))?;
    stream.write_all(request).await.map_err(|e| describe(&e))?;
    let mut buffer = [0u8; MAX_STATUS_LINE];
    let mut filled = 0;
    let line_end = loop {
        if let Some(end) = buffer[..filled].iter().position(|&b| b == b'\n') {
            break end;
        }
        if filled == buffer.len() {
            return Err("bad response".into());
        }
        match stream.read(&mut buffer[filled..]).await {
            Ok(0) if filled == 0 => return Err("connection closed without a response".into()),
            Ok(0) => return Err("bad response".into()),
            Ok(n) => filled += n,
            Err(e) => return Err(describe(&e)),
        }
    };
    match parse_status_line(&buffer[..line_end]) {
        Some(status) if status == expect => Ok(()),
        Some(status) => Err(format!("status {status}, expected {expect}")),
        None => Err("bad response".into()),
    }
}

/// The status code of `HTTP/1.x NNN[ reason]` (the line without its `\n`).
fn parse_status_line(line: &[u8]) -> Option<u16> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let (&minor, rest) = rest.split_first()?;
    if !minor.is_ascii_digit() {
        return None;
    }
    let rest = rest.strip_prefix(b" ")?;
    let (code, after) = rest.split_at_checked(3)?;
    if !code.iter().all(u8::is_ascii_digit) || !(after.is_empty() || after[0] == b' ') {
        return None;
    }
    let code = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    (100..=999).contains(&code).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::test_support::next_report;
    use tokio::net::TcpListener;
    use tokio::sync::mpsc::{self, UnboundedReceiver};

    const INTERVAL: Duration = Duration::from_millis(50);
    const TIMEOUT: Duration = Duration::from_millis(100);

    async fn next(rx: &mut UnboundedReceiver<Report>) -> Observation {
        next_report(rx, Duration::from_secs(2)).await.observation
    }

    /// A listener that answers every connection with `response` after reading the
    /// request head, and sends each request it read to the returned receiver.
    async fn server(response: &'static [u8]) -> (SocketAddr, UnboundedReceiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 512];
                    while !request.ends_with(b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let _ = tx.send(String::from_utf8_lossy(&request).into_owned());
                    let _ = stream.write_all(response).await;
                });
            }
        });
        (address, rx)
    }

    /// A port nothing listens on (bound, then closed).
    async fn closed_port() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    }

    fn http(target: SocketAddr, expect: u16, tx: UnboundedSender<Report>) -> JoinHandle<()> {
        spawn_http(
            3,
            target,
            None,
            "/health".into(),
            expect,
            INTERVAL,
            TIMEOUT,
            tx,
        )
    }

    #[tokio::test]
    async fn http_passes_on_the_expected_status_and_sends_a_proper_request() {
        let (target, mut requests) =
            server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = http(target, 200, tx);
        // Reports keep coming, one per attempt.
        for _ in 0..3 {
            assert_eq!(next(&mut rx).await, Observation::Pass);
        }
        let request = requests.recv().await.unwrap();
        assert_eq!(
            request,
            format!(
                "GET /health HTTP/1.1\r\nHost: {target}\r\nUser-Agent: floatip/{}\r\n\
                 Accept: */*\r\nConnection: close\r\n\r\n",
                env!("CARGO_PKG_VERSION")
            )
        );
        task.abort();
    }

    #[tokio::test]
    async fn http_host_header_is_the_configured_one() {
        let (target, mut requests) = server(b"HTTP/1.0 204 No Content\r\n\r\n").await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = spawn_http(
            0,
            target,
            Some("lb.example".into()),
            "/".into(),
            204,
            INTERVAL,
            TIMEOUT,
            tx,
        );
        assert_eq!(next(&mut rx).await, Observation::Pass);
        let request = requests.recv().await.unwrap();
        assert!(request.contains("\r\nHost: lb.example\r\n"), "{request}");
        task.abort();
    }

    #[tokio::test]
    async fn http_wrong_status_fails_with_both_codes() {
        let (target, _requests) = server(b"HTTP/1.1 503 Service Unavailable\r\n\r\n").await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = http(target, 200, tx);
        assert_eq!(
            next(&mut rx).await,
            Observation::Fail("status 503, expected 200".into())
        );
        task.abort();
    }

    #[tokio::test]
    async fn refused_port_fails_for_both_kinds() {
        let target = closed_port().await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = http(target, 200, tx.clone());
        let refused = Observation::Fail("connection refused".into());
        assert_eq!(next(&mut rx).await, refused);
        task.abort();
        let task = spawn_tcp(0, target, INTERVAL, TIMEOUT, tx);
        assert_eq!(next(&mut rx).await, refused);
        task.abort();
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out() {
        // Accepts (the kernel does, from the backlog) but never reads nor writes.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let started = tokio::time::Instant::now();
        let task = http(target, 200, tx);
        assert_eq!(
            next(&mut rx).await,
            Observation::Fail("timed out after 100ms".into())
        );
        let took = started.elapsed();
        assert!(took >= TIMEOUT && took < TIMEOUT * 5, "{took:?}");
        task.abort();
        drop(listener);
    }

    #[tokio::test]
    async fn garbage_and_endless_lines_are_bad_responses() {
        let (target, _r) = server(b"SSH-2.0-OpenSSH_9.2\r\n").await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = http(target, 200, tx.clone());
        assert_eq!(
            next(&mut rx).await,
            Observation::Fail("bad response".into())
        );
        task.abort();

        // No newline within the first KiB: we stop reading there.
        static ENDLESS: [u8; 4096] = [b'A'; 4096];
        let (target, _r) = server(&ENDLESS).await;
        let task = http(target, 200, tx.clone());
        assert_eq!(
            next(&mut rx).await,
            Observation::Fail("bad response".into())
        );
        task.abort();

        let (target, _r) = server(b"").await;
        let task = http(target, 200, tx);
        assert_eq!(
            next(&mut rx).await,
            Observation::Fail("connection closed without a response".into())
        );
        task.abort();
    }

    #[tokio::test]
    async fn tcp_passes_when_something_listens_and_leaves_no_time_wait() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = spawn_tcp(1, target, INTERVAL, TIMEOUT, tx);
        for _ in 0..3 {
            let report = next_report(&mut rx, Duration::from_secs(2)).await;
            assert_eq!(
                report,
                Report {
                    check: 1,
                    observation: Observation::Pass
                }
            );
            // Accept and close from the server side, after our RST.
            let _ = listener.accept().await.unwrap();
        }
        task.abort();
        assert_eq!(time_wait_towards(target), 0, "client-side TIME_WAIT left");
    }

    #[tokio::test]
    async fn ends_when_the_receiver_is_dropped() {
        let target = closed_port().await;
        let (tx, rx) = mpsc::unbounded_channel();
        let task = spawn_tcp(0, target, Duration::from_secs(3600), TIMEOUT, tx);
        drop(rx);
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("the checker must end when nobody listens")
            .unwrap();
    }

    /// TCP sockets in TIME_WAIT (state 06) whose remote end is `target`, from
    /// /proc/net/tcp.
    fn time_wait_towards(target: SocketAddr) -> usize {
        let SocketAddr::V4(target) = target else {
            unreachable!()
        };
        let remote = format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(target.ip().octets()),
            target.port()
        );
        std::fs::read_to_string("/proc/net/tcp")
            .unwrap()
            .lines()
            .skip(1)
            .filter(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.get(2) == Some(&remote.as_str()) && fields.get(3) == Some(&"06")
            })
            .count()
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r"), Some(200));
        assert_eq!(parse_status_line(b"HTTP/1.0 503"), Some(503));
        assert_eq!(parse_status_line(b"HTTP/1.1 404 Not Found"), Some(404));
        assert_eq!(parse_status_line(b"HTTP/2 200"), None);
        assert_eq!(parse_status_line(b"HTTP/1.1 20 OK"), None);
        assert_eq!(parse_status_line(b"HTTP/1.1 2000 OK"), None);
        assert_eq!(parse_status_line(b"HTTP/1.1 099 x"), None);
        assert_eq!(parse_status_line(b"http/1.1 200 OK"), None);
        assert_eq!(parse_status_line(b""), None);
    }

    #[test]
    fn host_header_defaults() {
        let request = |target: &str| {
            String::from_utf8(http_request(target.parse().unwrap(), None, "/")).unwrap()
        };
        assert!(request("192.0.2.1:80").contains("Host: 192.0.2.1\r\n"));
        assert!(request("192.0.2.1:8080").contains("Host: 192.0.2.1:8080\r\n"));
        assert!(request("[2001:db8::1]:80").contains("Host: [2001:db8::1]\r\n"));
        assert!(request("[2001:db8::1]:81").contains("Host: [2001:db8::1]:81\r\n"));
    }
}
