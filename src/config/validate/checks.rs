//! The `checks:` section (one kind per check, its target and timing, weight, rise and
//! fall) and the `track:` lists of routers and sync groups that name them.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::values::{at, interface_name_problem};
use super::{Health, Validator};
use crate::config::error::did_you_mean;
use crate::config::locate::Position;
use crate::config::schema::{RawCheck, RawHttp, RawInitial, RawProcess, S};
use crate::config::{CheckKind, CheckSpec};

/// Interval of script, tcp and http checks when none is given (keepalived's default).
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How often a process check looks for new processes (deaths are seen at once).
pub const DEFAULT_PROCESS_RESCAN: Duration = Duration::from_millis(500);
const MIN_CHECK_INTERVAL: Duration = Duration::from_millis(10);
pub(super) const MAX_CHECK_INTERVAL: Duration = Duration::from_secs(3600);
const MIN_RESCAN: Duration = Duration::from_millis(50);
const MAX_WEIGHT: i64 = 254;
const MAX_RISE_FALL: i64 = 100;
const MAX_PROCESS_MIN: i64 = 10_000;
/// What a check key must be, for error messages.
const KINDS: &str = "script, process, tcp, http, interface or file";

impl Validator<'_> {
    /// The `checks:` section; also remembers the names for `track:`.
    pub(super) fn checks(&mut self, raw: &[S<RawCheck>], health: &mut Health) {
        let mut names: HashMap<String, u64> = HashMap::new();
        for (index, check) in raw.iter().enumerate() {
            let key = format!("checks[{index}]");
            let errors_before = self.sink.errors.len();
            let c = &check.value;
            let name = self.unique_name(&key, "check", &c.name, &mut names);
            let kind = self.check_kind(&key, check, health);
            let weight = self.int_in(
                c.weight.as_ref(),
                -MAX_WEIGHT..=MAX_WEIGHT,
                0,
                &format!("{key}.weight"),
                |n| format!("weight {n} is out of range"),
                format!(
                    "a weight is -{MAX_WEIGHT}..={MAX_WEIGHT}: 0 puts the routers in Fault while the check fails, \
                     a negative weight is added to the priority while it fails, a positive one while it passes"
                ),
            ) as i32;
            let mut counter = |field: &str, raw: &Option<S<i64>>| {
                self.int_in(
                    raw.as_ref(),
                    1..=MAX_RISE_FALL,
                    1,
                    &format!("{key}.{field}"),
                    |n| format!("{field} {n} is out of range"),
                    format!(
                        "1..={MAX_RISE_FALL} consecutive results before the check changes state"
                    ),
                ) as u32
            };
            let rise = counter("rise", &c.rise);
            let fall = counter("fall", &c.fall);
            let initially_up = matches!(c.initial.as_ref().map(|i| i.value), Some(RawInitial::Up));
            if self.sink.errors.len() == errors_before
                && let Some(kind) = kind
            {
                health.checks.push(CheckSpec {
                    name,
                    kind,
                    weight,
                    rise,
                    fall,
                    initially_up,
                });
                health.check_at.push(at(&c.name.referenced));
            }
        }
    }

    fn check_kind(
        &mut self,
        key: &str,
        check: &S<RawCheck>,
        health: &mut Health,
    ) -> Option<CheckKind> {
        let c = &check.value;
        let given: Vec<(&str, Position)> = [
            ("script", c.script.as_ref().map(|v| at(&v.referenced))),
            ("process", c.process.as_ref().map(|v| at(&v.referenced))),
            ("tcp", c.tcp.as_ref().map(|v| at(&v.referenced))),
            ("http", c.http.as_ref().map(|v| at(&v.referenced))),
            ("interface", c.interface.as_ref().map(|v| at(&v.referenced))),
            ("file", c.file.as_ref().map(|v| at(&v.referenced))),
        ]
        .into_iter()
        .filter_map(|(k, p)| p.map(|p| (k, p)))
        .collect();
        match given.as_slice() {
            [] => {
                self.sink.error(
                    at(&check.referenced),
                    key,
                    "a check needs one of script, process, tcp, http, interface or file",
                    Some("e.g. `process: haproxy`, or `http: {address: 127.0.0.1, port: 8404, path: /healthz}`".to_owned()),
                );
                return None;
            }
            [_] => {}
            [_, (second, position), ..] => {
                self.sink.error(
                    *position,
                    &format!("{key}.{second}"),
                    format!(
                        "a check has exactly one of {KINDS}; this one also has `{}`",
                        given[0].0
                    ),
                    Some("write a separate check for each thing to watch".to_owned()),
                );
                return None;
            }
        }
        // Event-driven checks report each change as it happens: nothing runs on an
        // interval, and there are no repeated results for rise and fall to count.
        let timed = c.script.is_some() || c.tcp.is_some() || c.http.is_some();
        if !timed {
            for (field, position) in [
                ("interval", c.interval.as_ref().map(|v| at(&v.referenced))),
                ("timeout", c.timeout.as_ref().map(|v| at(&v.referenced))),
                ("rise", c.rise.as_ref().map(|v| at(&v.referenced))),
                ("fall", c.fall.as_ref().map(|v| at(&v.referenced))),
            ] {
                if let Some(position) = position {
                    self.sink.error(
                        position,
                        &format!("{key}.{field}"),
                        format!("`{field}` applies to script, tcp and http checks only"),
                        Some(format!(
                            "a {} check is event-driven: it reports each change as it happens; remove `{field}`",
                            given[0].0
                        )),
                    );
                }
            }
        }
        let interval = c
            .interval
            .as_ref()
            .and_then(|text| {
                self.duration_in(
                    text,
                    &format!("{key}.interval"),
                    MIN_CHECK_INTERVAL,
                    MAX_CHECK_INTERVAL,
                    "a check interval is 10ms..1h",
                )
            })
            .unwrap_or(DEFAULT_CHECK_INTERVAL);
        let timeout = c
            .timeout
            .as_ref()
            .and_then(|text| {
                self.duration_in(
                    text,
                    &format!("{key}.timeout"),
                    MIN_CHECK_INTERVAL,
                    MAX_CHECK_INTERVAL,
                    "a check timeout is 10ms..1h; a check still running then fails",
                )
            })
            .unwrap_or(interval);

        if let Some(script) = &c.script {
            let argv = self.command(&format!("{key}.script"), script, health)?;
            return Some(CheckKind::Script {
                command: argv,
                interval,
                timeout,
            });
        }
        if let Some(process) = &c.process {
            return self.process(&format!("{key}.process"), process);
        }
        if let Some(tcp) = &c.tcp {
            let k = format!("{key}.tcp");
            let target = self.target(&k, &tcp.value.address, &tcp.value.port)?;
            return Some(CheckKind::Tcp {
                target,
                interval,
                timeout,
            });
        }
        if let Some(http) = &c.http {
            return self.http(&format!("{key}.http"), &http.value, interval, timeout);
        }
        if let Some(interface) = &c.interface {
            let name = interface.value.trim();
            if let Some(problem) = interface_name_problem(name) {
                self.sink.error(
                    at(&interface.referenced),
                    &format!("{key}.interface"),
                    problem,
                    Some("the interface whose link state to watch, such as eth1".to_owned()),
                );
                return None;
            }
            return Some(CheckKind::Interface {
                name: name.to_owned(),
            });
        }
        if let Some(file) = &c.file {
            let path = self.absolute_file(
                &format!("{key}.file"),
                file,
                "e.g. /run/floatip/drain; `echo 1 > /run/floatip/drain` then drains the node",
            )?;
            return Some(CheckKind::File { path });
        }
        None
    }

    fn process(&mut self, key: &str, raw: &S<RawProcess>) -> Option<CheckKind> {
        let (name, name_at, min, rescan, delay) = match &raw.value {
            RawProcess::Name(name) => (name.trim(), at(&raw.referenced), None, None, None),
            RawProcess::Long(map) => (
                map.name.value.trim(),
                at(&map.name.referenced),
                map.min.as_ref(),
                map.rescan.as_ref(),
                map.delay.as_ref(),
            ),
        };
        let errors_before = self.sink.errors.len();
        if name.is_empty() || name.contains('/') || name.len() > 255 {
            self.sink.error(
                name_at,
                key,
                format!("`{name}` is not a process name"),
                Some(
                    "the name in /proc/PID/comm, as `ps -o comm` shows it, such as haproxy"
                        .to_owned(),
                ),
            );
        }
        let min = self.int_in(
            min,
            1..=MAX_PROCESS_MIN,
            1,
            &format!("{key}.min"),
            |n| format!("min {n} is out of range"),
            format!(
                "the fewest processes of that name that count as healthy, 1..={MAX_PROCESS_MIN}"
            ),
        ) as u32;
        let rescan = rescan
            .and_then(|text| {
                self.duration_in(
                    text,
                    &format!("{key}.rescan"),
                    MIN_RESCAN,
                    MAX_CHECK_INTERVAL,
                    "how often to look for new processes, 50ms..1h (a death is seen at once)",
                )
            })
            .unwrap_or(DEFAULT_PROCESS_RESCAN);
        let delay = delay
            .and_then(|text| {
                self.duration_in(
                    text,
                    &format!("{key}.delay"),
                    Duration::ZERO,
                    MAX_CHECK_INTERVAL,
                    "how long too few processes must run before the check fails, 0s..1h",
                )
            })
            .unwrap_or(Duration::ZERO);
        (self.sink.errors.len() == errors_before).then(|| CheckKind::Process {
            name: name.to_owned(),
            min,
            rescan,
            delay,
        })
    }

    fn target(&mut self, key: &str, address: &S<String>, port: &S<i64>) -> Option<SocketAddr> {
        let ip: Option<IpAddr> = match address.value.trim().parse() {
            Ok(ip) => Some(ip),
            Err(_) => {
                self.sink.error(
                    at(&address.referenced),
                    &format!("{key}.address"),
                    format!("`{}` is not an IPv4 or IPv6 address", address.value.trim()),
                    Some("the address HAProxy listens on, such as 127.0.0.1 (names are not resolved)".to_owned()),
                );
                None
            }
        };
        let port = match u16::try_from(port.value) {
            Ok(p) if p >= 1 => Some(p),
            _ => {
                self.sink.error(
                    at(&port.referenced),
                    &format!("{key}.port"),
                    format!("port {} is out of range", port.value),
                    Some("a TCP port is 1..=65535".to_owned()),
                );
                None
            }
        };
        Some(SocketAddr::new(ip?, port?))
    }

    fn http(
        &mut self,
        key: &str,
        raw: &RawHttp,
        interval: Duration,
        timeout: Duration,
    ) -> Option<CheckKind> {
        let errors_before = self.sink.errors.len();
        let target = self.target(key, &raw.address, &raw.port);
        let path = match &raw.path {
            None => "/".to_owned(),
            Some(p) => {
                let text = p.value.trim();
                if !text.starts_with('/')
                    || text.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    self.sink.error(
                        at(&p.referenced),
                        &format!("{key}.path"),
                        format!("`{text}` is not a request path"),
                        Some(
                            "a path starting with `/`, without spaces, such as /healthz".to_owned(),
                        ),
                    );
                }
                text.to_owned()
            }
        };
        let host = raw.host.as_ref().map(|h| {
            let text = h.value.trim();
            if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
                self.sink.error(
                    at(&h.referenced),
                    &format!("{key}.host"),
                    format!("`{text}` is not a Host header value"),
                    Some("a host name such as www.example.com; default: the address".to_owned()),
                );
            }
            text.to_owned()
        });
        let expect = self.int_in(
            raw.expect.as_ref(),
            100..=599,
            200,
            &format!("{key}.expect"),
            |n| format!("{n} is not an HTTP status"),
            "the status that means healthy, 100..=599; default 200".to_owned(),
        ) as u16;
        if self.sink.errors.len() != errors_before {
            return None;
        }
        Some(CheckKind::Http {
            target: target?,
            host,
            path,
            expect,
            interval,
            timeout,
        })
    }

    /// A `track:` list: names of checks, each once.
    pub(super) fn track(
        &mut self,
        key: &str,
        raw: &S<Vec<S<String>>>,
        checks: &[&str],
    ) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (index, entry) in raw.value.iter().enumerate() {
            let name = entry.value.trim();
            let entry_key = format!("{key}[{index}]");
            if !checks.contains(&name) {
                let mut help = Vec::new();
                if let Some(close) = did_you_mean(name, checks) {
                    help.push(format!("did you mean `{close}`?"));
                }
                if checks.is_empty() {
                    help.push("define checks in a top-level `checks:` list".to_owned());
                } else {
                    help.push(format!("checks defined: {}", checks.join(", ")));
                }
                self.sink.error(
                    at(&entry.referenced),
                    &entry_key,
                    format!("no check is named `{name}`"),
                    Some(help.join("\n")),
                );
            } else if names.iter().any(|n| n == name) {
                self.sink.error(
                    at(&entry.referenced),
                    &entry_key,
                    format!("check `{name}` is listed twice"),
                    None,
                );
            } else {
                names.push(name.to_owned());
            }
        }
        names
    }
}
