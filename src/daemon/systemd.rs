//! systemd integration: the notification protocol (`sd_notify`: READY=1, RELOADING=1,
//! STOPPING=1 and watchdog pings, datagrams to the socket named by `$NOTIFY_SOCKET`),
//! and the journal's conventions for a service's stderr (`<N>` priority prefixes).
//!
//! Owns only the wire formats and the watchdog timer; when and why to notify is the
//! event loop's decision. Without `$NOTIFY_SOCKET` (not started by systemd, or the
//! unit is not `Type=notify`) every call does nothing. A failed send is logged once at
//! debug level and otherwise ignored: the daemon's job does not depend on systemd.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use tracing::{Event, Level, Subscriber, debug};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

/// The service finished starting: sockets open, stale addresses removed.
pub const READY: &str = "READY=1";
/// A SIGHUP reload begins; READY=1 ends it.
pub const RELOADING: &str = "RELOADING=1";
/// A graceful stop begins.
pub const STOPPING: &str = "STOPPING=1";
/// The event loop is alive.
pub const WATCHDOG: &str = "WATCHDOG=1";

/// Send one state string to the service manager, if there is one.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send(path.as_encoded_bytes(), state) {
        debug!("sd_notify {state}: {e}");
    }
}

fn send(path: &[u8], state: &str) -> std::io::Result<()> {
    let address = match path.split_first() {
        // A leading '@' names a socket in the abstract namespace.
        Some((b'@', name)) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)?
        }
        Some((b'/', _)) => {
            use std::os::unix::ffi::OsStrExt;
            SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(path))?
        }
        _ => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "NOTIFY_SOCKET is neither a path nor an abstract name",
            ));
        }
    };
    let socket = UnixDatagram::unbound()?;
    socket.send_to_addr(state.as_bytes(), &address)?;
    Ok(())
}

/// The watchdog systemd expects pings from (`WatchdogSec=` in the unit), pinged at half
/// its interval as systemd recommends.
pub struct Watchdog {
    interval: Option<tokio::time::Interval>,
}

impl Watchdog {
    /// From `$WATCHDOG_USEC` (and `$WATCHDOG_PID`, which must be ours when set).
    pub fn from_env() -> Watchdog {
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let pid = std::env::var("WATCHDOG_PID").ok();
        let interval =
            ping_interval(usec.as_deref(), pid.as_deref(), std::process::id()).map(|period| {
                let mut interval = tokio::time::interval(period);
                // A late tick pings once, not once per missed period.
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                interval
            });
        Watchdog { interval }
    }

    /// Resolves when a ping is due; never, without a watchdog.
    pub async fn tick(&mut self) {
        match &mut self.interval {
            Some(interval) => {
                interval.tick().await;
            }
            None => std::future::pending().await,
        }
    }
}

/// The shortest ping interval: a tiny `WATCHDOG_USEC` (1 µs) would otherwise make a
/// zero-length interval, which tokio refuses with a panic. Such a watchdog cannot be
/// met anyway; pinging every millisecond is the most the loop sensibly does.
const MIN_PING_INTERVAL: Duration = Duration::from_millis(1);

/// Half the watchdog interval (at least `MIN_PING_INTERVAL`), or None when there is no
/// watchdog for this process.
fn ping_interval(usec: Option<&str>, pid: Option<&str>, own_pid: u32) -> Option<Duration> {
    if let Some(pid) = pid
        && pid.trim().parse::<u32>().ok() != Some(own_pid)
    {
        return None;
    }
    let usec: u64 = usec?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2).max(MIN_PING_INTERVAL))
}

/// Whether stderr is the journal: `$JOURNAL_STREAM` names its device and inode.
pub fn stderr_is_journal() -> bool {
    let Some(stream) = std::env::var("JOURNAL_STREAM").ok() else {
        return false;
    };
    let Ok(stat) = nix::sys::stat::fstat(std::io::stderr()) else {
        return false;
    };
    parse_journal_stream(&stream) == Some((stat.st_dev, stat.st_ino))
}

fn parse_journal_stream(value: &str) -> Option<(u64, u64)> {
    let (dev, ino) = value.trim().split_once(':')?;
    Some((dev.parse().ok()?, ino.parse().ok()?))
}

/// Prefixes each line with its syslog priority (`<3>` error, `<4>` warning, `<6>` info,
/// `<7>` debug), which the journal strips and records, so that `journalctl -p warning`
/// finds warnings. Only for a stderr that is the journal.
pub struct SyslogPriority<F>(pub F);

impl<S, N, F> FormatEvent<S, N> for SyslogPriority<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "<{}>", syslog_priority(*event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

fn syslog_priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_at_half_the_interval() {
        assert_eq!(
            ping_interval(Some("10000000"), None, 7),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            ping_interval(Some("10000000"), Some("7"), 7),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn a_tiny_watchdog_is_clamped_not_a_zero_interval() {
        for usec in ["1", "2", "3", "1999"] {
            let period = ping_interval(Some(usec), None, 7);
            assert_eq!(period, Some(MIN_PING_INTERVAL), "WATCHDOG_USEC={usec}");
        }
        assert_eq!(
            ping_interval(Some("18446744073709551615"), None, 7),
            Some(Duration::from_micros(u64::MAX / 2))
        );
        // What used to panic: building the interval itself.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            let period = ping_interval(Some("1"), None, 7).unwrap();
            let mut interval = tokio::time::interval(period);
            interval.tick().await;
        });
    }

    #[test]
    fn no_watchdog_for_another_pid_or_bad_values() {
        assert_eq!(ping_interval(Some("10000000"), Some("8"), 7), None);
        assert_eq!(ping_interval(None, None, 7), None);
        assert_eq!(ping_interval(Some("0"), None, 7), None);
        assert_eq!(ping_interval(Some("ten"), None, 7), None);
    }

    #[test]
    fn journal_stream_is_device_colon_inode() {
        assert_eq!(parse_journal_stream("8:12345"), Some((8, 12345)));
        assert_eq!(parse_journal_stream("8:12345\n"), Some((8, 12345)));
        assert_eq!(parse_journal_stream("8"), None);
        assert_eq!(parse_journal_stream("x:1"), None);
    }

    #[test]
    fn priorities_follow_syslog() {
        assert_eq!(syslog_priority(Level::ERROR), 3);
        assert_eq!(syslog_priority(Level::WARN), 4);
        assert_eq!(syslog_priority(Level::INFO), 6);
        assert_eq!(syslog_priority(Level::TRACE), 7);
    }

    #[test]
    fn sends_to_a_path_socket() {
        let dir = crate::common::security::test_support::TempDir::new("notify");
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str().as_encoded_bytes(), READY).unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }

    #[test]
    fn sends_to_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("floatip-notify-test-{}", std::process::id());
        let listener =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        send(format!("@{name}").as_bytes(), WATCHDOG).unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");
    }
}
