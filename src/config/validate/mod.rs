//! From the raw YAML structs to a typed `Config`: every rule of what is valid, each
//! next to its error message, and every default.
//!
//! Owns the semantic checks (ranges, one family per router, unique names and VRIDs,
//! VRRPv2 restrictions, sync group membership, interface-name syntax, commands safe to
//! run) and the defaults. Reports every problem it finds rather than stopping at the
//! first. Must not touch the network: interface names are checked for syntax only, and
//! the only look at the system is the security check of the commands' files.
//!
//! One `Validator` (this file: the state every section shares, and the order the
//! sections run in) with one file per section: `routers`, `addresses`, `unicast`,
//! `announce`, `groups` (sync groups), `checks` (and `track:` lists), `notify`,
//! `global`, `commands` (the programs scripts and hooks run, and their security), and
//! `values` (the value rules the sections share: durations, integers, names, paths).

mod addresses;
mod announce;
mod checks;
mod commands;
mod global;
mod groups;
mod notify;
mod routers;
mod unicast;
mod values;

use std::path::Path;

use super::error::{ConfigError, Sink, from_yaml_error, syntax_error};
use super::locate::{KeyPaths, Position};
use super::schema::{self, RawConfig};
use super::{CheckSpec, Config, Global, RouterSpec, SyncGroupSpec};
use commands::PlacedCommand;
use values::at;

/// The state every section shares: the sink its errors and warnings go to.
struct Validator<'a> {
    sink: Sink<'a>,
}

/// What the health sections (`global:`, `checks:`, `notify:`) produced, for the
/// sections that refer to them.
#[derive(Debug, Default)]
struct Health {
    global: Global,
    checks: Vec<CheckSpec>,
    /// Where each check's name is written, for "not tracked" warnings.
    check_at: Vec<Position>,
    commands: Vec<PlacedCommand>,
    /// Where `global.script_user` is written, if it is.
    script_user_at: Option<Position>,
}

pub(crate) fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let sink = Sink::new(path, text);
    let paths = KeyPaths::build(text);
    let invalid = |diagnostic| ConfigError::Invalid {
        path: path.to_path_buf(),
        diagnostics: vec![diagnostic],
        omitted: 0,
    };
    if let Some(diagnostic) = syntax_error(&paths, &sink) {
        return Err(invalid(diagnostic));
    }
    let raw = match schema::from_yaml(text) {
        Ok(raw) => raw,
        Err(err) => return Err(invalid(from_yaml_error(&err, text, &paths, &sink))),
    };
    let mut validator = Validator { sink };
    let (routers, sync_groups, health) = validator.config(&raw);
    let Sink {
        mut errors,
        mut warnings,
        omitted_errors,
        ..
    } = validator.sink;
    if errors.is_empty() {
        warnings.sort_by_key(|d| (d.line, d.column));
        Ok(Config {
            path: path.to_path_buf(),
            global: health.global,
            routers,
            sync_groups,
            checks: health.checks,
            warnings,
        })
    } else {
        errors.sort_by_key(|d| (d.line, d.column));
        Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            diagnostics: errors,
            omitted: omitted_errors,
        })
    }
}

impl Validator<'_> {
    fn config(&mut self, raw: &RawConfig) -> (Vec<RouterSpec>, Vec<SyncGroupSpec>, Health) {
        let mut health = Health::default();
        if let Some(global) = &raw.global {
            health.global = self.global(&global.value, &mut health);
        }
        if let Some(checks) = &raw.checks {
            self.checks(&checks.value, &mut health);
        }
        let check_names: Vec<String> = match &raw.checks {
            Some(checks) => checks
                .value
                .iter()
                .map(|c| c.value.name.value.trim().to_owned())
                .collect(),
            None => Vec::new(),
        };
        let check_names: Vec<&str> = check_names.iter().map(String::as_str).collect();
        if raw.routers.value.is_empty() {
            self.sink.error(
                at(&raw.routers.referenced),
                "routers",
                "no routers are configured",
                Some("add at least one router: `- {name: web, interface: eth0, vrid: 51, addresses: [192.0.2.100/24]}`".to_owned()),
            );
        }
        let mut routers: Vec<RouterSpec> = Vec::new();
        let mut identities = Vec::new();
        for (index, raw_router) in raw.routers.value.iter().enumerate() {
            let (spec, identity) = self.router(index, raw_router, &check_names, &mut health);
            identities.push(identity);
            if let Some(spec) = spec {
                routers.push(spec);
            }
        }
        self.across_routers(&identities);
        let mut all_names: Vec<&str> = Vec::new();
        for router in &raw.routers.value {
            let name = router.value.name.value.trim();
            if !all_names.contains(&name) {
                all_names.push(name);
            }
        }
        let sync_groups = match &raw.sync_groups {
            Some(groups) => self.sync_groups(groups, &all_names, &check_names, &mut health),
            None => Vec::new(),
        };
        self.apply_group_tracks(&mut routers, &sync_groups, &health);
        self.commands_are_safe(&health);
        (routers, sync_groups, health)
    }
}
