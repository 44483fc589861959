//! What the configuration tests share: YAML from lines (so that a test reads line
//! numbers off the array), parsing as if from the installed path, and assertions on
//! diagnostics.

#![allow(dead_code)]

use std::path::Path;

use floatip::config::{self, Config, ConfigError, Diagnostic};

pub const FILE: &str = "/etc/floatip/floatip.yaml";

/// Lines joined with newlines, so that a test reads line numbers off the array index + 1.
pub fn yaml(lines: &[&str]) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// A minimal valid router on lines 1-5, then `extra` from line 6 on.
pub fn router_with(extra: &[&str]) -> String {
    let mut lines = vec![
        "routers:",
        "  - name: web",
        "    interface: eth0",
        "    vrid: 51",
        "    addresses: [192.0.2.100/24]",
    ];
    lines.extend_from_slice(extra);
    yaml(&lines)
}

pub fn parse(text: &str) -> Result<Config, ConfigError> {
    config::parse(text, Path::new(FILE))
}

pub fn ok(text: &str) -> Config {
    match parse(text) {
        Ok(config) => config,
        Err(err) => panic!("expected a valid config, got:\n{err}"),
    }
}

pub fn errors(text: &str) -> Vec<Diagnostic> {
    match parse(text) {
        Ok(config) => panic!("expected errors, got {config:#?}"),
        Err(err) => err.diagnostics().to_vec(),
    }
}

pub fn one_error(text: &str) -> Diagnostic {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    errors.into_iter().next().unwrap()
}

/// Assert position, key and (a part of) the message of a diagnostic.
#[track_caller]
pub fn assert_diag(d: &Diagnostic, line: u64, column: u64, key: &str, message_part: &str) {
    assert_eq!(
        (d.line, d.column, d.key.as_str()),
        (line, column, key),
        "position/key of {d}"
    );
    assert!(
        d.message.contains(message_part),
        "message {:?} lacks {message_part:?}",
        d.message
    );
    assert_eq!(d.file, Path::new(FILE));
}

#[track_caller]
pub fn assert_help(d: &Diagnostic, part: &str) {
    let help = d.help.as_deref().unwrap_or("");
    assert!(help.contains(part), "help {help:?} lacks {part:?}");
}
