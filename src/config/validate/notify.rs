//! The `notify:` section of a router or sync group: the hooks run on transitions and
//! how long they may take.

use std::time::Duration;

use super::checks::MAX_CHECK_INTERVAL;
use super::values::at;
use super::{Health, Validator};
use crate::config::schema::{RawCommand, RawNotify, S};
use crate::config::{DEFAULT_NOTIFY_TIMEOUT, NotifySpec};

const MIN_NOTIFY_TIMEOUT: Duration = Duration::from_millis(100);

impl Validator<'_> {
    pub(super) fn notify(
        &mut self,
        key: &str,
        raw: &S<RawNotify>,
        health: &mut Health,
    ) -> Option<NotifySpec> {
        let n = &raw.value;
        let errors_before = self.sink.errors.len();
        let mut one = |v: &mut Self, field: &str, command: &Option<S<RawCommand>>| {
            command
                .as_ref()
                .and_then(|c| v.command(&format!("{key}.{field}"), c, health))
        };
        let spec = NotifySpec {
            command: one(self, "command", &n.command),
            master: one(self, "master", &n.master),
            backup: one(self, "backup", &n.backup),
            fault: one(self, "fault", &n.fault),
            stop: one(self, "stop", &n.stop),
            timeout: n
                .timeout
                .as_ref()
                .and_then(|text| {
                    self.duration_in(
                        text,
                        &format!("{key}.timeout"),
                        MIN_NOTIFY_TIMEOUT,
                        MAX_CHECK_INTERVAL,
                        "a hook still running after this is killed; 100ms..1h",
                    )
                })
                .unwrap_or(DEFAULT_NOTIFY_TIMEOUT),
        };
        let any = [&n.command, &n.master, &n.backup, &n.fault, &n.stop]
            .iter()
            .any(|c| c.is_some());
        if !any {
            self.sink.error(
                at(&raw.referenced),
                key,
                "notify names no command",
                Some("give `command` (run with TYPE NAME STATE PRIORITY, like keepalived's notify) and/or `master`, `backup`, `fault`, `stop`".to_owned()),
            );
        }
        (self.sink.errors.len() == errors_before).then_some(spec)
    }
}
