//! The `global:` section: the script user, the event socket and the metrics endpoint.

use super::values::at;
use super::{Health, Validator};
use std::net::SocketAddr;

use crate::config::schema::{RawGlobal, RawMetrics};
use crate::config::{DEFAULT_METRICS_LISTEN, Global, MetricsSpec};

impl Validator<'_> {
    pub(super) fn global(&mut self, raw: &RawGlobal, health: &mut Health) -> Global {
        let mut global = Global::default();
        if let Some(user) = &raw.script_user {
            health.script_user_at = Some(at(&user.referenced));
            let name = user.value.trim();
            let valid = !name.is_empty()
                && name.len() <= 32
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '$'));
            if valid {
                global.script_user = Some(name.to_owned());
            } else {
                self.sink.error(
                    at(&user.referenced),
                    "global.script_user",
                    format!("`{}` is not a user name", user.value),
                    Some("the name of an existing unprivileged user, such as floatip".to_owned()),
                );
            }
        }
        if let Some(path) = &raw.event_socket {
            global.event_socket = self.absolute_file(
                "global.event_socket",
                path,
                "a path for a Unix socket, such as /run/floatip/events.sock",
            );
        }
        if let Some(path) = &raw.control_socket {
            global.control_socket = self.absolute_file(
                "global.control_socket",
                path,
                "a path for a Unix socket, such as /run/floatip/control.sock",
            );
        }
        if let Some(metrics) = &raw.metrics {
            global.metrics = self.metrics(&metrics.value);
        }
        global
    }

    /// `global.metrics`: an address and port to listen on (no names: nothing resolves).
    fn metrics(&mut self, raw: &RawMetrics) -> Option<MetricsSpec> {
        let Some(listen) = &raw.listen else {
            return Some(MetricsSpec {
                listen: DEFAULT_METRICS_LISTEN,
            });
        };
        match listen.value.trim().parse::<SocketAddr>() {
            Ok(address) if address.port() != 0 => Some(MetricsSpec { listen: address }),
            _ => {
                self.sink.error(
                    at(&listen.referenced),
                    "global.metrics.listen",
                    format!("`{}` is not an address:port", listen.value.trim()),
                    Some(
                        "an IP address and a TCP port 1..=65535, such as 127.0.0.1:9650 or \
                         [::1]:9650 (names are not resolved)"
                            .to_owned(),
                    ),
                );
                None
            }
        }
    }
}
