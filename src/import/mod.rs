//! `floatip import`: a keepalived configuration in, floatip YAML and a report out.
//!
//! Owns the pipeline: `lexer` (keepalived's language: includes, conditionals,
//! definitions, quotes) -> `parse` (blocks) -> `translate` (the VRRP half, with its
//! meaning) -> the same validation `floatip check` runs on the result -> `report`.
//! `idiom` recognises the usual check scripts. Pure apart from reading the input files:
//! no network, no daemon, nothing written (the caller writes the output).
//!
//! Exit status (`Outcome`): 0 translated fully, 1 translated with items left out (or
//! nothing to translate), 78 the input is not a valid configuration, 66 it cannot be
//! read.

pub mod idiom;
pub mod lexer;
pub mod parse;
pub mod report;
pub mod translate;

use std::path::Path;

pub use report::{Kind, Outcome, Report};

use lexer::{Files, Lexed, Source};

/// Options of one import.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// keepalived's `--config-id`: which `@ID` lines apply.
    pub config_id: Option<String>,
    /// The name the YAML is validated under (the `-o` file, or `floatip.yaml`).
    pub output_name: Option<String>,
}

/// The result of an import.
#[derive(Debug)]
pub struct Imported {
    /// The translated configuration; `None` when the input is invalid or holds no
    /// router that could be carried over.
    pub yaml: Option<String>,
    pub report: Report,
    /// The files read, for rendering the report.
    pub sources: Vec<Source>,
}

impl Imported {
    pub fn outcome(&self) -> Outcome {
        self.report.outcome()
    }

    /// The text report.
    pub fn render_report(&self) -> String {
        self.report.render(&self.sources)
    }

    /// The text report without what depends on this machine (for checked-in
    /// expectations).
    pub fn render_portable_report(&self) -> String {
        self.report.render_with(&self.sources, false)
    }

    /// The `--json` report.
    pub fn json_report(&self) -> String {
        self.report.to_json(&self.sources)
    }
}

/// Import the keepalived configuration at `path` (and what it includes).
pub fn import_file(path: &Path, options: &Options) -> Imported {
    let lexed = lexer::lex_file(&lexer::RealFiles, path, options.config_id.as_deref());
    finish(lexed, options)
}

/// Import a configuration text named `name`; includes are read through `files`.
pub fn import_text(files: &dyn Files, name: &str, text: &str, options: &Options) -> Imported {
    let lexed = lexer::lex_text(files, name, text, options.config_id.as_deref());
    finish(lexed, options)
}

fn finish(lexed: Lexed, options: &Options) -> Imported {
    let Lexed {
        sources,
        tokens,
        errors,
        skipped,
        unreadable,
        ..
    } = lexed;
    let (nodes, parse_errors) = parse::parse(&tokens);
    let translation = translate::translate(&nodes, &sources);
    let mut report = translation.report;
    report.unreadable = unreadable;
    for e in errors.into_iter().chain(parse_errors) {
        report.errors.push(e);
    }
    for s in skipped {
        report.items.push(report::Item {
            kind: Kind::LeftOut,
            diag: s,
        });
    }
    let mut yaml = translation.yaml;
    if !report.errors.is_empty() {
        yaml = None;
    }
    if let Some(text) = &yaml {
        let name = options.output_name.as_deref().unwrap_or("floatip.yaml");
        for problem in validate(text, Path::new(name)) {
            match problem {
                Validation::MachineDependent(message) => report.machine.push(message),
                Validation::Invalid(message) => report.error(
                    report::Pos::NONE,
                    format!("the translation does not pass `floatip check`: {message}"),
                    Some("the keepalived file holds a value floatip cannot take; fix it there and import again".to_owned()),
                ),
            }
        }
    }
    Imported {
        yaml,
        report,
        sources,
    }
}

/// What `floatip check` says about a translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validation {
    /// Depends on the machine it runs on: a script or hook that does not exist here, a
    /// script user missing here. Not a fault of the translation.
    MachineDependent(String),
    /// The translation is refused.
    Invalid(String),
}

/// Run `floatip check`'s validation on a translated text. Problems that depend on the
/// machine (the script and hook files and the script user, which `check` looks up)
/// are told apart from the rest.
pub fn validate(text: &str, name: &Path) -> Vec<Validation> {
    match crate::config::parse(text, name) {
        Ok(_) => Vec::new(),
        Err(e) => {
            let diagnostics = e.diagnostics();
            if diagnostics.is_empty() {
                return vec![Validation::Invalid(e.to_string())];
            }
            diagnostics
                .iter()
                .map(|d| {
                    let machine = d
                        .help
                        .as_deref()
                        .is_some_and(|h| h.starts_with("scripts and hooks run as"));
                    let one_line = format!(
                        "{}:{}:{}: {}: {}",
                        d.file.display(),
                        d.line,
                        d.column,
                        d.key,
                        d.message
                    );
                    if machine {
                        Validation::MachineDependent(one_line)
                    } else {
                        Validation::Invalid(one_line)
                    }
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lexer::NoFiles;
    use super::*;
    use proptest::prelude::*;

    /// Pieces of keepalived syntax, so random inputs reach deep into the translation.
    const PIECES: &[&str] = &[
        "vrrp_instance",
        "vrrp_sync_group",
        "vrrp_script",
        "track_file",
        "vrrp_track_process",
        "global_defs",
        "group",
        "{",
        "}",
        "\n",
        " ",
        "\"",
        "'",
        "#",
        "!",
        "@a",
        "@^b",
        "$X=",
        "$X",
        "${X}",
        "~SEQ(N,1,3)",
        "~SEQx(N,",
        "include",
        "*.conf",
        "interface",
        "eth0",
        "virtual_router_id",
        "1",
        "300",
        "-5",
        "priority",
        "255",
        "advert_int",
        "0.01",
        "1e9",
        "virtual_ipaddress",
        "192.0.2.1/24",
        "2001:db8::1",
        "dev",
        "label",
        "track_script",
        "weight",
        "reverse",
        "script",
        "killall -0 haproxy",
        "curl -f http://127.0.0.1/",
        "state",
        "MASTER",
        "nopreempt",
        "preempt_delay",
        "unicast_peer",
        "authentication",
        "auth_pass",
        "notify",
        "version",
        "3",
        "2",
        "garp_master_delay",
        "0",
        "\\",
        "\u{3000}",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn import_never_panics(indices in proptest::collection::vec(0..PIECES.len(), 0..120), id in 0u8..3) {
            let text: String = indices.iter().map(|i| PIECES[*i]).collect::<Vec<_>>().join(" ");
            let options = Options {
                config_id: match id { 0 => None, 1 => Some("a".into()), _ => Some("b".into()) },
                output_name: None,
            };
            let imported = import_text(&NoFiles, "p.conf", &text, &options);
            let _ = imported.render_report();
            let _ = imported.json_report();
            // Anything translated and not refused passes `floatip check` (the import ran it).
            if matches!(imported.outcome(), Outcome::Full | Outcome::Partial)
                && let Some(yaml) = &imported.yaml
            {
                prop_assert!(validate(yaml, Path::new("p.yaml")).iter().all(|v| matches!(v, Validation::MachineDependent(_))));
            }
        }
    }

    #[test]
    fn expansion_is_bounded() {
        let long = "x".repeat(60_000);
        let text = format!("$A={long}\n~SEQ(N, 1, 100000) $A\n");
        let imported = import_text(&NoFiles, "p.conf", &text, &Options::default());
        assert_eq!(imported.outcome(), Outcome::Invalid);
        assert!(imported.render_report().contains("stopping"));
    }
}
