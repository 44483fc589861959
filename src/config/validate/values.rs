//! The value rules several sections share: positions, durations, bounded integers,
//! names, interface names, absolute paths, addresses that cannot be used. Each error
//! message sits next to its rule.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_saphyr::Location;

use super::Validator;
use crate::common::duration::{DURATION_SYNTAX, format_duration, parse_duration};
use crate::config::MAX_INTERFACE_NAME;
use crate::config::locate::Position;
use crate::config::schema::S;
use crate::proto::packet::Family;

/// Longest router or sync group name.
pub(super) const MAX_NAME: usize = 64;

pub(super) fn at(location: &Location) -> Position {
    (location.line(), location.column())
}

pub(super) fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

/// What makes an address unusable as a virtual address, peer or source.
pub(super) fn special_address(address: &IpAddr) -> Option<&'static str> {
    if address.is_unspecified() {
        Some("the unspecified address")
    } else if address.is_loopback() {
        Some("a loopback address")
    } else if address.is_multicast() {
        Some("a multicast address")
    } else if matches!(address, IpAddr::V4(v4) if v4.is_broadcast()) {
        Some("the broadcast address")
    } else {
        None
    }
}

/// Linux's `dev_valid_name`: 1..=15 bytes, not `.` or `..`, no `/`, `:` or whitespace.
pub(super) fn interface_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the interface name is empty".to_owned());
    }
    if name.len() > MAX_INTERFACE_NAME {
        return Some(format!(
            "`{name}` is {} bytes long; Linux interface names are at most {MAX_INTERFACE_NAME}",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return Some(format!("`{name}` is not a valid interface name"));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| c == '/' || c == ':' || c.is_whitespace())
    {
        return Some(format!(
            "`{name}` contains `{c}`, which Linux does not allow in interface names"
        ));
    }
    None
}

pub(super) fn name_is_valid(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Validator<'_> {
    pub(super) fn duration(&mut self, text: &S<String>, key: &str) -> Option<Duration> {
        match parse_duration(&text.value) {
            Ok(d) => Some(d),
            Err(err) => {
                self.sink.error(
                    at(&text.referenced),
                    key,
                    err.0,
                    Some(DURATION_SYNTAX.to_owned()),
                );
                None
            }
        }
    }

    pub(super) fn duration_in(
        &mut self,
        text: &S<String>,
        key: &str,
        min: Duration,
        max: Duration,
        help: &str,
    ) -> Option<Duration> {
        let duration = self.duration(text, key)?;
        if duration < min || duration > max {
            self.sink.error(
                at(&text.referenced),
                key,
                format!(
                    "{} is {} {}",
                    text.value.trim(),
                    if duration < min {
                        "shorter than"
                    } else {
                        "longer than"
                    },
                    format_duration(if duration < min { min } else { max })
                ),
                Some(help.to_owned()),
            );
            return None;
        }
        Some(duration)
    }

    /// A duration or `off`.
    pub(super) fn optional_duration(
        &mut self,
        text: &S<String>,
        key: &str,
        min: Duration,
        max: Duration,
        help: &str,
    ) -> Option<Option<Duration>> {
        if text.value.trim() == "off" {
            return Some(None);
        }
        if text.value.trim() == "0s" || text.value.trim() == "0ms" {
            self.sink.error(
                at(&text.referenced),
                key,
                format!("{} is not a valid period", text.value.trim()),
                Some(format!("{help}; to disable, write off")),
            );
            return None;
        }
        self.duration_in(text, key, min, max, help).map(Some)
    }

    /// The name at `key.name`, trimmed; an error there if it is not a valid name or if
    /// `seen` (name -> line) already has it, else it is added to `seen`. `what` names
    /// the kind of thing in the messages: "check", "sync group".
    pub(super) fn unique_name(
        &mut self,
        key: &str,
        what: &str,
        raw: &S<String>,
        seen: &mut HashMap<String, u64>,
    ) -> String {
        let name = raw.value.trim().to_owned();
        if !name_is_valid(&name) {
            self.sink.error(
                at(&raw.referenced),
                &format!("{key}.name"),
                format!("`{}` is not a valid {what} name", raw.value),
                Some(format!(
                    "a name is 1 to {MAX_NAME} letters, digits, `-`, `_` and `.`"
                )),
            );
        } else if let Some(line) = seen.get(&name) {
            self.sink.error(
                at(&raw.referenced),
                &format!("{key}.name"),
                format!("{what} name `{name}` is already used on line {line}"),
                Some(format!("{what} names are unique")),
            );
        } else {
            seen.insert(name.clone(), raw.referenced.line());
        }
        name
    }

    /// An absolute path to a file (not ending in `/`), else an error at it.
    pub(super) fn absolute_file(
        &mut self,
        key: &str,
        raw: &S<String>,
        help: &str,
    ) -> Option<PathBuf> {
        let text = raw.value.trim();
        if text.starts_with('/') && !text.ends_with('/') {
            return Some(PathBuf::from(text));
        }
        self.sink.error(
            at(&raw.referenced),
            key,
            format!("`{text}` is not an absolute file path"),
            Some(help.to_owned()),
        );
        None
    }

    /// An optional integer in `range` (`default` when absent); out of range is an
    /// error at its position, and `default` stands in so validation goes on.
    pub(super) fn int_in(
        &mut self,
        raw: Option<&S<i64>>,
        range: std::ops::RangeInclusive<i64>,
        default: i64,
        key: &str,
        message: impl FnOnce(i64) -> String,
        help: String,
    ) -> i64 {
        match raw {
            None => default,
            Some(n) if range.contains(&n.value) => n.value,
            Some(n) => {
                self.sink
                    .error(at(&n.referenced), key, message(n.value), Some(help));
                default
            }
        }
    }
}
