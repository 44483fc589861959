//! Configuration errors an operator can act on.
//!
//! Owns `ConfigError`, the `Diagnostic` it carries (file:line:column, key path, message,
//! the offending line with a caret, and what would be valid), and the translation of
//! serde-saphyr's errors into that form, including "did you mean" for misspelt keys and
//! the keepalived names of keys. Must not decide what is valid: schema and validation do.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_saphyr::Error as YamlError;
use thiserror::Error;

use super::locate::{KeyPaths, Position};

/// Whether a diagnostic stops the configuration from loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The configuration is refused.
    Error,
    /// The configuration loads, but something in it is probably not what was meant.
    Warning,
}

/// One problem in a configuration file, with where it is and what would be valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file, as it was named to `load`/`parse`.
    pub file: PathBuf,
    /// 1-based line; 0 when the position is unknown.
    pub line: u64,
    /// 1-based column, counted in characters; 0 when unknown.
    pub column: u64,
    /// Key path such as `routers[1].advert_interval`; empty for the file as a whole.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// What would be valid, or how to fix it (may span lines).
    pub help: Option<String>,
    /// The text of the offending line, shown with a caret under `column`.
    pub source_line: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        f.write_str(": ")?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)?;
        if let Some(source) = &self.source_line
            && self.line > 0
        {
            let number = self.line.to_string();
            let gutter = " ".repeat(number.len());
            // Keep tabs so the caret lines up under the same terminal column.
            let pad: String = source
                .chars()
                .take(usize::try_from(self.column.saturating_sub(1)).unwrap_or(0))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n   {number} | {source}\n   {gutter} | {pad}^")?;
        }
        if let Some(help) = &self.help {
            for line in help.lines() {
                write!(f, "\n   {line}")?;
            }
        }
        Ok(())
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("{}: cannot read the configuration: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid configuration: every problem found, in file
    /// order.
    #[error("{}", render_all(path, diagnostics, *omitted))]
    Invalid {
        path: PathBuf,
        diagnostics: Vec<Diagnostic>,
        /// Further errors found but not kept (see `MAX_DIAGNOSTICS`).
        omitted: usize,
    },
}

impl ConfigError {
    /// The problems found (empty for `Read`).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { diagnostics, .. } => diagnostics,
        }
    }

    /// The file concerned.
    pub fn path(&self) -> &Path {
        match self {
            ConfigError::Read { path, .. } | ConfigError::Invalid { path, .. } => path,
        }
    }
}

fn render_all(path: &Path, diagnostics: &[Diagnostic], omitted: usize) -> String {
    let mut out = diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let total = diagnostics.len() + omitted;
    if omitted > 0 {
        out.push_str(&format!("\n... and {omitted} more errors not shown"));
    }
    if total > 1 {
        out.push_str(&format!(
            "\n{}: {total} errors, configuration not loaded",
            path.display()
        ));
    }
    out
}

/// At most this many errors (and as many warnings) are kept and shown; the rest are
/// only counted. A hostile or broken file with millions of errors must not cost
/// memory in proportion to them (a reload parses while the daemon holds addresses).
pub const MAX_DIAGNOSTICS: usize = 50;

/// Source lines longer than this are not echoed under a diagnostic (the position is).
const MAX_SHOWN_LINE: usize = 240;

/// Collects diagnostics against one text.
pub(crate) struct Sink<'a> {
    file: &'a Path,
    lines: Vec<&'a str>,
    pub(crate) errors: Vec<Diagnostic>,
    pub(crate) warnings: Vec<Diagnostic>,
    /// Errors found beyond `MAX_DIAGNOSTICS`.
    pub(crate) omitted_errors: usize,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Sink<'a> {
        Sink {
            file,
            lines: text.lines().collect(),
            errors: Vec::new(),
            warnings: Vec::new(),
            omitted_errors: 0,
        }
    }

    pub(crate) fn diagnostic(
        &self,
        severity: Severity,
        at: Position,
        key: &str,
        message: String,
        help: Option<String>,
    ) -> Diagnostic {
        let (line, column) = at;
        let source_line = usize::try_from(line)
            .ok()
            .and_then(|line| line.checked_sub(1))
            .and_then(|index| self.lines.get(index))
            .map(|line| line.trim_end_matches('\r'))
            .filter(|line| line.len() <= MAX_SHOWN_LINE)
            .map(str::to_owned);
        Diagnostic {
            severity,
            file: self.file.to_path_buf(),
            line,
            column,
            key: key.to_owned(),
            message,
            help,
            source_line,
        }
    }

    pub(crate) fn error(
        &mut self,
        at: Position,
        key: &str,
        message: impl Into<String>,
        help: impl Into<Option<String>>,
    ) {
        if self.errors.len() >= MAX_DIAGNOSTICS {
            self.omitted_errors += 1;
            return;
        }
        let d = self.diagnostic(Severity::Error, at, key, message.into(), help.into());
        self.errors.push(d);
    }

    pub(crate) fn warning(
        &mut self,
        at: Position,
        key: &str,
        message: impl Into<String>,
        help: impl Into<Option<String>>,
    ) {
        if self.warnings.len() >= MAX_DIAGNOSTICS {
            return;
        }
        let d = self.diagnostic(Severity::Warning, at, key, message.into(), help.into());
        self.warnings.push(d);
    }
}

/// Turn a serde-saphyr error (YAML syntax, unknown key, wrong type, missing key) into a
/// diagnostic with the key path of its position.
pub(crate) fn from_yaml_error(
    err: &YamlError,
    text: &str,
    paths: &KeyPaths,
    sink: &Sink<'_>,
) -> Diagnostic {
    let mut at: Position = err
        .location()
        .map(|loc| (loc.line(), loc.column()))
        .unwrap_or((0, 0));
    let mut inner = err;
    while let YamlError::WithSnippet { error, .. } | YamlError::AliasError { error, .. } = inner {
        inner = error;
    }
    let path = paths.path_at(at);
    let scalar = paths.scalar_at(at).unwrap_or("").to_owned();
    let (key, message, help) = match inner {
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => {
            let mut help = Vec::new();
            if let Some(hint) = keepalived_name(field) {
                help.push(hint.to_owned());
            } else if let Some(close) = did_you_mean(field, expected) {
                help.push(format!("did you mean `{close}`?"));
            }
            help.push(format!("valid keys here: {}", expected.join(", ")));
            (
                path,
                format!("unknown key `{field}`"),
                Some(help.join("\n")),
            )
        }
        YamlError::SerdeMissingField { field, .. } => {
            // Reported at the last key read; point at the start of the map instead.
            let (map_start, map_path) = paths.mapping_at(at).unwrap_or((at, String::new()));
            at = map_start;
            let key = join(&map_path, field);
            let help = help_for(&key);
            (key, format!("missing required key `{field}`"), help)
        }
        YamlError::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let mut help = Vec::new();
            if let Some(close) = did_you_mean(variant, expected) {
                help.push(format!("did you mean `{close}`?"));
            }
            help.push(format!("valid values: {}", expected.join(", ")));
            (
                path,
                format!("`{variant}` is not a valid value"),
                Some(help.join("\n")),
            )
        }
        YamlError::SerdeInvalidType {
            unexpected,
            expected,
            ..
        }
        | YamlError::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => {
            let help = help_for(&path);
            (
                path,
                format!("expected {expected}, found {unexpected}"),
                help,
            )
        }
        YamlError::Unexpected { expected, .. } => {
            let wanted = if expected.contains("sequence") {
                "a list"
            } else if expected.contains("mapping") {
                "a map"
            } else {
                expected
            };
            let found = if scalar.is_empty() {
                String::new()
            } else {
                format!(", found `{scalar}`")
            };
            let help = help_for(&path);
            (path, format!("expected {wanted}{found}"), help)
        }
        YamlError::InvalidScalar { ty, .. } => {
            let help = help_for(&path);
            (
                path,
                format!("`{scalar}` is not {}", describe_type(ty)),
                help,
            )
        }
        YamlError::InvalidBooleanStrict { .. } => (
            path,
            format!("`{scalar}` is not a boolean"),
            Some("write true or false".to_owned()),
        ),
        YamlError::NullIntoString { .. } => {
            let help = help_for(&path);
            (path, "the value is empty".to_owned(), help)
        }
        YamlError::DuplicateMappingKey { key, .. } => {
            let name = key.clone().unwrap_or_else(|| scalar.clone());
            (
                path,
                format!("duplicate key `{name}`"),
                Some("each key may appear only once in a map".to_owned()),
            )
        }
        YamlError::Eof { .. } if is_blank(text) => (
            String::new(),
            "the file is empty".to_owned(),
            Some(
                "a configuration needs at least a `routers:` list; \
                 see packaging/examples/floatip.yaml"
                    .to_owned(),
            ),
        ),
        YamlError::Message { msg, .. } => (path, msg.clone(), None),
        other => (path, strip_location(&other.to_string()), None),
    };
    sink.diagnostic(Severity::Error, at, &key, message, help)
}

/// A YAML syntax error found by walking the events before serde runs: serde consumes
/// the document as a stream and could otherwise report a consequence (a "missing key"
/// in a map cut short by bad indentation) before the cause.
pub(crate) fn syntax_error(paths: &KeyPaths, sink: &Sink<'_>) -> Option<Diagnostic> {
    let (at, info) = paths.syntax_error()?;
    Some(sink.diagnostic(
        Severity::Error,
        *at,
        &paths.path_at(*at),
        format!("YAML syntax error: {info}"),
        Some(
            "check the indentation (spaces, not tabs) and that every `[`, `{` and quote is closed"
                .to_owned(),
        ),
    ))
}

fn is_blank(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---" || line == "..."
    })
}

/// serde-saphyr's plain messages end in " at line N, column M"; the diagnostic says that
/// already.
fn strip_location(message: &str) -> String {
    if let Some(index) = message.rfind(" at line ") {
        let tail = &message[index + " at line ".len()..];
        if tail
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == ' ' || c.is_ascii_lowercase())
            && tail.contains("column")
        {
            return message[..index].to_owned();
        }
    }
    message.to_owned()
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn describe_type(ty: &str) -> &'static str {
    match ty {
        "bool" => "a boolean (true or false)",
        "f32" | "f64" => "a number",
        "char" | "str" | "string" | "String" => "a string",
        t if t.starts_with('u') || t.starts_with('i') => "a whole number",
        _ => "a valid value here",
    }
}

/// `routers[1].addresses[0].label` -> `routers.addresses.label`.
fn normalize(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0u32;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// What a key accepts, for errors about its type or absence.
pub(crate) fn help_for(path: &str) -> Option<String> {
    let text = match normalize(path).as_str() {
        "" => "the top level is a map with `routers:` and optionally `sync_groups:`",
        "routers" => "`routers:` is a list of virtual routers, each a map starting `- name: ...`",
        "routers.name" => {
            "a name of 1 to 64 letters, digits, `-`, `_` and `.`, unique among the routers"
        }
        "routers.interface" | "routers.addresses.device" => {
            "an interface name such as eth0 (1 to 15 characters, no `/`, `:` or spaces)"
        }
        "routers.vrid" => "a whole number 1..=255, unique per interface and address family",
        "routers.version" => "2 (VRRPv2, RFC 3768) or 3 (VRRPv3, RFC 9568; the default)",
        "routers.priority" => {
            "a whole number 1..=255; 255 marks the owner of the addresses, 0 is reserved"
        }
        "routers.advert_interval" => {
            "a duration: VRRPv3 takes 10ms..40950ms in steps of 10ms, VRRPv2 whole seconds 1s..255s"
        }
        "routers.preempt" | "routers.accept_mode" => "true or false",
        "routers.preempt_delay" => "a duration 0s..1h, such as 0s, 500ms or 30s",
        "routers.addresses" => {
            "a list of virtual addresses, each `- 192.0.2.100/24` or a map\n\
             `- {address: 192.0.2.100/24, device: eth1, label: \"eth1:vip\"}`"
        }
        "routers.addresses.address" => {
            "an IPv4 or IPv6 address with an optional prefix length: 192.0.2.100/24, 2001:db8::100/64"
        }
        "routers.addresses.label" => {
            "an IPv4 address label: the interface name, `:` and a suffix, at most 15 characters (eth0:vip)"
        }
        "routers.unicast" => {
            "a map with `peers:` (the other routers' addresses) and optionally `source:`"
        }
        "routers.unicast.source" => "an address of this host, of the router's address family",
        "routers.unicast.peers" => "a list of the other routers' addresses, of the router's family",
        "routers.hosts" => {
            "a whole number 2..=255: the hosts running this virtual router, this one included"
        }
        "routers.checksum" => "auto, with-pseudo-header or without-pseudo-header",
        "routers.announce" => {
            "a map with any of burst, burst_interval, repeat_after and refresh_every"
        }
        "routers.announce.burst" => "a whole number of frames 1..=255",
        "routers.announce.burst_interval" => "a duration 0s..1s, such as 10ms",
        "routers.announce.repeat_after" => "a duration 10ms..1h such as 2s, or off",
        "routers.announce.refresh_every" => "a duration 1s..24h such as 60s, or off",
        "routers.password" => "a text password of 1 to 8 bytes (VRRPv2 only)",
        "sync_groups" => {
            "`sync_groups:` is a list of maps, each `- {name: lb, routers: [web, db]}`"
        }
        "sync_groups.name" => {
            "a name of 1 to 64 letters, digits, `-`, `_` and `.`, unique among the groups"
        }
        "sync_groups.routers" => "a list of router names defined under `routers:`",
        _ => return None,
    };
    Some(text.to_owned())
}

/// keepalived's names for keys, so an unknown-key error can point to the floatip key.
fn keepalived_name(key: &str) -> Option<&'static str> {
    Some(match key {
        "virtual_router_id" => "keepalived's `virtual_router_id` is `vrid` here",
        "advert_int" => "keepalived's `advert_int` is `advert_interval` here, with a unit (1s)",
        "nopreempt" => "keepalived's `nopreempt` is `preempt: false` here",
        "virtual_ipaddress" => "keepalived's `virtual_ipaddress` is `addresses` here",
        "unicast_peer" => "keepalived's `unicast_peer` is `peers` under `unicast:` here",
        "unicast_src_ip" => "keepalived's `unicast_src_ip` is `source` under `unicast:` here",
        "auth_pass" | "authentication" | "auth_type" => {
            "keepalived's `authentication { auth_pass }` is `password` here (VRRPv2 only)"
        }
        "garp_master_delay" => "keepalived's `garp_master_delay` is `announce.repeat_after` here",
        "garp_master_repeat" => "keepalived's `garp_master_repeat` is `announce.burst` here",
        "garp_master_refresh" => {
            "keepalived's `garp_master_refresh` is `announce.refresh_every` here"
        }
        "garp_interval" | "gna_interval" => {
            "keepalived's `garp_interval`/`gna_interval` is `announce.burst_interval` here"
        }
        "accept" | "no_accept" => "keepalived's `accept`/`no_accept` is `accept_mode` here",
        "state" => {
            "floatip has no `state`: every router starts as backup and the election by priority \
             decides (priority 255 makes the owner master at once)"
        }
        "vrrp_version" => "keepalived's `vrrp_version` is `version` here (per router)",
        "vrrp_sync_group" => "keepalived's `vrrp_sync_group` is `sync_groups` here",
        "group" => "keepalived's sync group `group` is `routers` here",
        "vrrp_instance" | "instances" => "keepalived's `vrrp_instance` blocks are `routers` here",
        "dev" => "keepalived's `dev` of a virtual address is `device` here",
        "track_script" | "track_process" | "track_file" | "track_interface" => {
            "keepalived's `track_script`/`track_process`/`track_file`/`track_interface` are one \
             `track: [names]` list here, naming entries of the top-level `checks:`"
        }
        "vrrp_script" | "vrrp_track_process" | "vrrp_track_file" => {
            "keepalived's `vrrp_script`/`vrrp_track_process`/`vrrp_track_file` are entries of the \
             top-level `checks:` here (kinds script, process, file)"
        }
        "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" => {
            "keepalived's `notify_master` etc. are `master`, `backup`, `fault`, `stop` under \
             `notify:` here"
        }
        "script_user" => "keepalived's `script_user` is `script_user` under `global:` here",
        "enable_script_security" => {
            "floatip always refuses scripts that anyone but root or the script user can write"
        }
        "notify_fifo" => "floatip's event stream is `event_socket` under `global:`",
        _ => return None,
    })
}

/// The candidate closest to `word`, if it is plausibly a misspelling of it.
pub(crate) fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let word_lower = word.to_ascii_lowercase().replace('-', "_");
    candidates
        .iter()
        .map(|&c| {
            let c_norm = c.replace('-', "_");
            let distance = edit_distance(&word_lower, &c_norm);
            let contains = word_lower.len() >= 3
                && (c_norm.contains(&word_lower) || word_lower.contains(&c_norm));
            (c, distance, contains)
        })
        .filter(|&(c, distance, contains)| {
            contains || distance <= (c.len().max(word.len()) / 3).max(1)
        })
        .min_by_key(|&(_, distance, contains)| (!contains && distance > 0, distance))
        .map(|(c, ..)| c)
}

/// Edit distance counting an adjacent transposition as one edit (optimal string
/// alignment), since `vird` for `vrid` is the typical typo.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let keys = [
            "name",
            "interface",
            "vrid",
            "advert_interval",
            "preempt_delay",
        ];
        assert_eq!(
            did_you_mean("advert_intervl", &keys),
            Some("advert_interval")
        );
        assert_eq!(
            did_you_mean("advert-interval", &keys),
            Some("advert_interval")
        );
        assert_eq!(did_you_mean("interval", &keys), Some("advert_interval"));
        assert_eq!(did_you_mean("iface", &keys), None);
        assert_eq!(did_you_mean("vird", &keys), Some("vrid"));
        assert_eq!(did_you_mean("zzzzzz", &keys), None);
        assert_eq!(
            did_you_mean("with-pseudo", &["auto", "with-pseudo-header"]),
            Some("with-pseudo-header")
        );
    }

    #[test]
    fn strips_saphyr_location_suffix() {
        assert_eq!(
            strip_location("something odd at line 3, column 7"),
            "something odd"
        );
        assert_eq!(strip_location("no location here"), "no location here");
    }

    #[test]
    fn normalizes_paths() {
        assert_eq!(
            normalize("routers[12].addresses[0].label"),
            "routers.addresses.label"
        );
        assert!(help_for("sync_groups[0].routers").is_some());
    }

    #[test]
    fn renders_like_a_compiler() {
        let d = Diagnostic {
            severity: Severity::Error,
            file: PathBuf::from("/etc/floatip/floatip.yaml"),
            line: 12,
            column: 22,
            key: "routers[0].advert_interval".into(),
            message: "15ms is not a multiple of 10ms".into(),
            help: Some("VRRPv3 intervals are 10ms..40950ms in steps of 10ms".into()),
            source_line: Some("    advert_interval: 15ms".into()),
        };
        assert_eq!(
            d.to_string(),
            "/etc/floatip/floatip.yaml:12:22: routers[0].advert_interval: 15ms is not a multiple of 10ms\n\
             \x20  12 |     advert_interval: 15ms\n\
             \x20     |                      ^\n\
             \x20  VRRPv3 intervals are 10ms..40950ms in steps of 10ms"
        );
    }
}
