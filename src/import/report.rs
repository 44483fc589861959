//! The translation report: what was carried over, approximated, left out or unreadable,
//! each with the keepalived file:line it is about and what to do instead.
//!
//! Owns positions in the keepalived input (`Pos`), the items of the report, their text
//! rendering (in `floatip check`'s style: `file:line:column: message`, the line with a
//! caret, then help) and the `--json` form. Must not decide what an item is: the
//! translator does.

use std::fmt::Write as _;

use serde::Serialize;

use super::lexer::Source;

/// A place in the keepalived input: index of the file (in the sources), 1-based line and
/// column (characters). Line 0 means "the file as a whole".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub file: u32,
    pub line: u32,
    pub column: u32,
}

impl Pos {
    /// No position (the input as a whole).
    pub const NONE: Pos = Pos {
        file: u32::MAX,
        line: 0,
        column: 0,
    };

    pub fn new(file: u32, line: u32, column: u32) -> Pos {
        Pos { file, line, column }
    }
}

/// A diagnostic about the input: where, what, and what would fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diag {
    pub pos: Pos,
    pub message: String,
    pub help: Option<String>,
}

impl Diag {
    pub fn new(pos: Pos, message: String, help: Option<String>) -> Diag {
        Diag { pos, message, help }
    }
}

/// How much of a keepalived setting made it into the YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Not carried over: the YAML behaves differently unless the operator acts.
    LeftOut,
    /// Carried over with a different mechanism or rounding; the YAML marks it.
    Approximated,
    /// Carried over exactly, or has no effect on VRRP; worth knowing.
    Note,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::LeftOut => "left out",
            Kind::Approximated => "approximated",
            Kind::Note => "note",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub kind: Kind,
    pub diag: Diag,
}

/// The whole report.
#[derive(Debug, Default)]
pub struct Report {
    pub items: Vec<Item>,
    /// The input is not a valid configuration (exit 78): these say why.
    pub errors: Vec<Diag>,
    /// Routers and checks written, for the summary line.
    pub routers: usize,
    pub checks: usize,
    pub sync_groups: usize,
    /// What `floatip check` says on this machine only (a script that does not exist
    /// here, a user missing here): shown, but not part of the translation's outcome.
    pub machine: Vec<String>,
    /// The input file itself could not be read (exit 66, as `floatip check`).
    pub unreadable: bool,
}

/// The outcome, as an exit status: 0 full, 1 something left out, 78 invalid input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Full,
    Partial,
    Invalid,
    /// The input file cannot be read (sysexits EX_NOINPUT, as `floatip check`).
    Unreadable,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Full => 0,
            Outcome::Partial => 1,
            Outcome::Invalid => 78,
            Outcome::Unreadable => 66,
        }
    }
}

impl Report {
    pub fn push(&mut self, kind: Kind, pos: Pos, message: impl Into<String>, help: Option<String>) {
        self.items.push(Item {
            kind,
            diag: Diag::new(pos, message.into(), help),
        });
    }

    pub fn left_out(&mut self, pos: Pos, message: impl Into<String>, help: impl Into<String>) {
        self.push(Kind::LeftOut, pos, message, Some(help.into()));
    }

    pub fn approximated(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(Kind::Approximated, pos, message, None);
    }

    pub fn note(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(Kind::Note, pos, message, None);
    }

    pub fn error(&mut self, pos: Pos, message: impl Into<String>, help: Option<String>) {
        self.errors.push(Diag::new(pos, message.into(), help));
    }

    pub fn outcome(&self) -> Outcome {
        if self.unreadable {
            Outcome::Unreadable
        } else if !self.errors.is_empty() {
            Outcome::Invalid
        } else if self.routers == 0 || self.items.iter().any(|i| i.kind == Kind::LeftOut) {
            Outcome::Partial
        } else {
            Outcome::Full
        }
    }

    /// Items and errors in file order, errors first.
    fn sorted(&self) -> (Vec<&Diag>, Vec<&Item>) {
        let mut errors: Vec<&Diag> = self.errors.iter().collect();
        errors.sort_by_key(|d| d.pos);
        let mut items: Vec<&Item> = self.items.iter().collect();
        items.sort_by_key(|i| (i.diag.pos, i.kind));
        (errors, items)
    }

    /// The text report, in `floatip check`'s style.
    pub fn render(&self, sources: &[Source]) -> String {
        self.render_with(sources, true)
    }

    /// The text report; `machine`: include what depends on this machine.
    pub fn render_with(&self, sources: &[Source], machine: bool) -> String {
        let mut out = String::new();
        let (errors, items) = self.sorted();
        for error in errors {
            render_diag(&mut out, sources, error, "error");
        }
        for item in items {
            render_diag(&mut out, sources, &item.diag, item.kind.label());
        }
        if machine {
            for line in &self.machine {
                let _ = writeln!(
                    out,
                    "on this machine `floatip check` says: {line} (check again on the target host)"
                );
            }
        }
        let count = |kind| self.items.iter().filter(|i| i.kind == kind).count();
        let summary = match self.outcome() {
            Outcome::Unreadable => "not translated: the input cannot be read".to_owned(),
            Outcome::Invalid => format!(
                "not translated: {} error(s) in the input",
                self.errors.len()
            ),
            Outcome::Partial if self.routers == 0 => {
                format!(
                    "nothing translated: no vrrp_instance could be carried over ({} item(s) left out)",
                    count(Kind::LeftOut)
                )
            }
            Outcome::Partial => format!(
                "translated partly: {} router(s), {} sync group(s), {} check(s); {} item(s) left out, {} approximated",
                self.routers,
                self.sync_groups,
                self.checks,
                count(Kind::LeftOut),
                count(Kind::Approximated)
            ),
            Outcome::Full => format!(
                "translated fully: {} router(s), {} sync group(s), {} check(s); {} approximated",
                self.routers,
                self.sync_groups,
                self.checks,
                count(Kind::Approximated)
            ),
        };
        out.push_str(&summary);
        out.push('\n');
        out
    }

    /// The `--json` report.
    pub fn to_json(&self, sources: &[Source]) -> String {
        #[derive(Serialize)]
        struct JsonItem<'a> {
            kind: &'a str,
            file: Option<&'a str>,
            line: u32,
            column: u32,
            message: &'a str,
            help: Option<&'a str>,
        }
        #[derive(Serialize)]
        struct Json<'a> {
            outcome: &'a str,
            exit_status: u8,
            routers: usize,
            sync_groups: usize,
            checks: usize,
            errors: Vec<JsonItem<'a>>,
            items: Vec<JsonItem<'a>>,
            this_machine: &'a [String],
        }
        fn item<'a>(sources: &'a [Source], kind: &'a str, d: &'a Diag) -> JsonItem<'a> {
            JsonItem {
                kind,
                file: sources.get(d.pos.file as usize).map(|s| s.name.as_str()),
                line: d.pos.line,
                column: d.pos.column,
                message: &d.message,
                help: d.help.as_deref(),
            }
        }
        let (errors, items) = self.sorted();
        let outcome = self.outcome();
        let json = Json {
            outcome: match outcome {
                Outcome::Full => "full",
                Outcome::Partial => "partial",
                Outcome::Invalid => "invalid",
                Outcome::Unreadable => "unreadable",
            },
            exit_status: outcome.exit_code(),
            routers: self.routers,
            sync_groups: self.sync_groups,
            checks: self.checks,
            errors: errors
                .into_iter()
                .map(|d| item(sources, "error", d))
                .collect(),
            items: items
                .into_iter()
                .map(|i| item(sources, i.kind.label(), &i.diag))
                .collect(),
            this_machine: &self.machine,
        };
        serde_json::to_string_pretty(&json).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// `file:line` of a position, for comments in the YAML.
pub fn place(sources: &[Source], pos: Pos) -> String {
    match sources.get(pos.file as usize) {
        Some(source) if pos.line > 0 => format!("{}:{}", short(&source.name), pos.line),
        Some(source) => short(&source.name).to_owned(),
        None => "(input)".to_owned(),
    }
}

/// The file name without its directories (comments stay short and stable).
fn short(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn render_diag(out: &mut String, sources: &[Source], diag: &Diag, label: &str) {
    let source = sources.get(diag.pos.file as usize);
    match source {
        Some(source) if diag.pos.line > 0 => {
            let _ = write!(
                out,
                "{}:{}:{}: {label}: {}",
                source.name, diag.pos.line, diag.pos.column, diag.message
            );
        }
        Some(source) => {
            let _ = write!(out, "{}: {label}: {}", source.name, diag.message);
        }
        None => {
            let _ = write!(out, "{label}: {}", diag.message);
        }
    }
    if let Some(source) = source
        && diag.pos.line > 0
        && let Some(line) = source.lines.get(diag.pos.line as usize - 1)
        && line.len() <= 240
    {
        let number = diag.pos.line.to_string();
        let gutter = " ".repeat(number.len());
        let pad: String = line
            .chars()
            .take(diag.pos.column.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let line = redact(line);
        let _ = write!(out, "\n   {number} | {line}\n   {gutter} | {pad}^");
    }
    if let Some(help) = &diag.help {
        for line in help.lines() {
            let _ = write!(out, "\n   {line}");
        }
    }
    out.push('\n');
}

/// Hide the value of an `auth_pass` line: reports are pasted into tickets.
fn redact(line: &str) -> String {
    match line.find("auth_pass") {
        Some(at) => format!("{}auth_pass ****", &line[..at]),
        None => line.to_owned(),
    }
}
