//! keepalived's configuration language, read as keepalived 2.2 reads it, down to tokens.
//!
//! Owns the line-level features: comments (`#`, `!`), `@ID` / `@^ID` conditional lines,
//! `$NAME=value` definitions (one line or continued with `\`) and their substitution
//! (`$NAME`, `${NAME}`, `${_PWD}` and the other pre-defined ones), `~SEQ`/`~SEQx`
//! sequence lines, `include` (and its variants, with globs and braces, relative to the
//! including file), quoted strings with escapes, and the split into words, `{`, `}`
//! and ends of line, each with the file:line:column it came from. Must not give
//! keywords a meaning (that is `parse` and `translate`), touch the network, or panic:
//! every input, however hostile, ends in tokens or a diagnostic, within fixed bounds.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use super::report::{Diag, Pos};

/// Largest file read (keepalived configurations are kilobytes).
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Deepest nesting of includes.
const MAX_INCLUDE_DEPTH: usize = 16;
/// Most files read in one import.
const MAX_FILES: usize = 256;
/// Most logical lines produced (definitions replayed, sequences expanded).
const MAX_LINES: usize = 100_000;
/// Longest line after substitution, in characters.
const MAX_LINE_CHARS: usize = 64 * 1024;
/// Most substitutions in one line (a definition that refers to itself stops here).
const MAX_SUBSTITUTIONS: usize = 1_000;
/// Most characters of token text in all (a definition replayed by a long sequence
/// could otherwise ask for gigabytes).
const MAX_TOTAL_CHARS: usize = 16 << 20;
/// Deepest replay of multi-line definitions inside each other.
const MAX_REPLAY_DEPTH: u32 = 16;

/// Where the lexer reads files from: the real filesystem, or nothing (fuzzing, tests).
pub trait Files {
    /// The text of a file.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// The names of the entries of a directory.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
}

/// The real filesystem, read-only.
pub struct RealFiles;

impl Files for RealFiles {
    fn read(&self, path: &Path) -> io::Result<String> {
        use std::io::Read as _;
        let file = std::fs::File::open(path)?;
        let mut text = String::new();
        file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text)?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(io::Error::other(format!(
                "larger than {MAX_FILE_BYTES} bytes; that is not a keepalived configuration"
            )));
        }
        Ok(text)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }
}

/// No files at all: every include fails to match.
pub struct NoFiles;

impl Files for NoFiles {
    fn read(&self, _path: &Path) -> io::Result<String> {
        Err(io::Error::new(io::ErrorKind::NotFound, "no files here"))
    }

    fn list(&self, _dir: &Path) -> io::Result<Vec<String>> {
        Ok(Vec::new())
    }
}

/// One word of the configuration, unquoted, with where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub pos: Pos,
}

/// A token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Word(Word),
    Open(Pos),
    Close(Pos),
    /// The end of a logical line: it ends a statement.
    Eol,
}

/// A file that was read, for showing its lines under diagnostics.
#[derive(Debug, Clone)]
pub struct Source {
    /// As named on the command line, or the include pattern's expansion.
    pub name: String,
    pub lines: Vec<String>,
}

/// The result of lexing: tokens, the files read, and what went wrong or was skipped.
#[derive(Debug, Default)]
pub struct Lexed {
    pub sources: Vec<Source>,
    pub tokens: Vec<Tok>,
    /// The input cannot be read as keepalived reads it.
    pub errors: Vec<Diag>,
    /// Read, but something was not carried over (e.g. conditional lines without
    /// `--config-id`, an include that matched nothing).
    pub skipped: Vec<Diag>,
    /// Conditional ids seen, for the "pass --config-id" note.
    pub config_ids_seen: Vec<String>,
    /// The main file could not be read at all.
    pub unreadable: bool,
}

/// A `$NAME` definition.
#[derive(Debug, Clone)]
enum Definition {
    Line(String),
    /// A multi-line definition, replayed line by line where it is used alone on a line.
    Lines(Vec<String>),
}

/// One character of a logical line with the column it came from.
type Chars = Vec<(char, u32)>;

struct Lexer<'a> {
    files: &'a dyn Files,
    config_id: Option<&'a str>,
    out: Lexed,
    definitions: HashMap<String, Definition>,
    lines_produced: usize,
    total_chars: usize,
    /// Canonical-ish paths of the files being read (include cycles).
    stack: Vec<PathBuf>,
    conditional_noted: bool,
}

/// Lex `path` and everything it includes.
pub fn lex_file(files: &dyn Files, path: &Path, config_id: Option<&str>) -> Lexed {
    let mut lexer = Lexer::new(files, config_id);
    match files.read(path) {
        Ok(text) => lexer.file(path, path.display().to_string(), &text, 0),
        Err(e) => {
            lexer.out.unreadable = true;
            lexer.out.errors.push(Diag::new(
                Pos::NONE,
                format!("{}: cannot read: {e}", path.display()),
                None,
            ));
        }
    }
    lexer.out
}

/// Lex a text as if it were the file `name`; includes are resolved with `files`.
pub fn lex_text(files: &dyn Files, name: &str, text: &str, config_id: Option<&str>) -> Lexed {
    let mut lexer = Lexer::new(files, config_id);
    lexer.file(Path::new(name), name.to_owned(), text, 0);
    lexer.out
}

impl<'a> Lexer<'a> {
    fn new(files: &'a dyn Files, config_id: Option<&'a str>) -> Lexer<'a> {
        Lexer {
            files,
            config_id,
            out: Lexed::default(),
            definitions: HashMap::new(),
            lines_produced: 0,
            total_chars: 0,
            stack: Vec::new(),
            conditional_noted: false,
        }
    }

    fn file(&mut self, path: &Path, name: String, text: &str, depth: usize) {
        if self.out.sources.len() >= MAX_FILES {
            self.out.errors.push(Diag::new(
                Pos::NONE,
                format!("{name}: more than {MAX_FILES} files included; stopping"),
                None,
            ));
            return;
        }
        let file = self.out.sources.len() as u32;
        let lines: Vec<String> = text
            .split('\n')
            .map(|l| l.trim_end_matches('\r').to_owned())
            .collect();
        self.out.sources.push(Source {
            name,
            lines: lines.clone(),
        });
        self.stack.push(path.to_path_buf());
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        // A multi-line definition being captured: its name and lines so far.
        let mut capture: Option<(String, Vec<String>)> = None;
        for (index, raw) in lines.iter().enumerate() {
            let line = index as u32 + 1;
            let chars: Chars = raw.chars().zip(1u32..).collect();
            let chars = strip_comment(&chars);
            if let Some((name, mut body)) = capture.take() {
                let text: String = chars.iter().map(|(c, _)| *c).collect();
                let trimmed = text.trim_end();
                if let Some(more) = trimmed.strip_suffix('\\') {
                    body.push(more.to_owned());
                    capture = Some((name, body));
                } else {
                    body.push(trimmed.to_owned());
                    self.definitions.insert(name, Definition::Lines(body));
                }
                continue;
            }
            let ctx = Ctx {
                file,
                line,
                dir: &dir,
                depth,
            };
            if let Some(started) = self.logical_line(&ctx, chars, 0) {
                capture = Some(started);
            }
            if self.lines_produced > MAX_LINES {
                self.out.errors.push(Diag::new(
                    Pos::new(file, line, 1),
                    format!("more than {MAX_LINES} lines after expanding definitions and sequences; stopping"),
                    None,
                ));
                break;
            }
        }
        if let Some((name, body)) = capture {
            // keepalived ends a definition at the end of the file too.
            self.definitions.insert(name, Definition::Lines(body));
        }
        self.stack.pop();
    }

    /// One logical line. Returns a multi-line definition that starts here, to be
    /// continued by the following raw lines.
    fn logical_line(
        &mut self,
        ctx: &Ctx<'_>,
        chars: Chars,
        replay: u32,
    ) -> Option<(String, Vec<String>)> {
        self.lines_produced += 1;
        if self.lines_produced > MAX_LINES {
            return None;
        }
        let chars = trim(&chars);
        let chars = self.conditional(ctx, chars)?;
        if chars.is_empty() {
            return None;
        }
        let text: String = chars.iter().map(|(c, _)| *c).collect();
        // `$NAME=value`: a definition.
        if let Some(rest) = text.strip_prefix('$')
            && let Some((name, value)) = rest.split_once('=')
            && is_name(name)
        {
            let value = value.trim();
            if let Some(first) = value.strip_suffix('\\') {
                let first = first.trim();
                let body = if first.is_empty() {
                    Vec::new()
                } else {
                    vec![first.to_owned()]
                };
                return Some((name.to_owned(), body));
            }
            self.definitions
                .insert(name.to_owned(), Definition::Line(value.to_owned()));
            return None;
        }
        // `~SEQ(var, start, step, end) rest`: the rest once per value.
        if text.starts_with("~SEQ") || text.starts_with("~LST") {
            self.sequence(ctx, &chars, replay);
            return None;
        }
        // A line that is only a multi-line definition: replay its lines here.
        if let Some(name) = whole_reference(&text)
            && let Some(Definition::Lines(body)) = self.definitions.get(name).cloned()
        {
            if replay >= MAX_REPLAY_DEPTH {
                self.out.errors.push(Diag::new(
                    ctx.pos(chars[0].1),
                    format!("definitions nested more than {MAX_REPLAY_DEPTH} deep (does `${name}` use itself?)"),
                    None,
                ));
                return None;
            }
            let column = chars[0].1;
            for body_line in body {
                let chars: Chars = body_line.chars().map(|c| (c, column)).collect();
                // A definition inside a definition is one line (`$RS_NUM=1`); multi-line
                // ones cannot start inside a replay.
                let _ = self.logical_line(ctx, chars, replay + 1);
            }
            return None;
        }
        let chars = self.substitute(ctx, chars)?;
        let chars = trim(&chars);
        // A substitution can produce a conditional (`$IF_MAIN=@main`).
        let chars = self.conditional(ctx, chars)?;
        if chars.is_empty() {
            return None;
        }
        self.total_chars += chars.len();
        if self.total_chars > MAX_TOTAL_CHARS {
            if self.lines_produced <= MAX_LINES {
                self.out.errors.push(Diag::new(
                    ctx.pos(chars[0].1),
                    format!("more than {MAX_TOTAL_CHARS} characters after expanding definitions and sequences; stopping"),
                    None,
                ));
            }
            // Stop producing anything more.
            self.lines_produced = MAX_LINES + 1;
            return None;
        }
        let words = self.split(ctx, &chars)?;
        if let Some(Tok::Word(first)) = words.first()
            && matches!(
                first.text.as_str(),
                "include" | "includer" | "includem" | "includew" | "includeb" | "includea"
            )
        {
            self.include(ctx, first, &words[1..]);
            return None;
        }
        self.out.tokens.extend(words);
        self.out.tokens.push(Tok::Eol);
        None
    }

    /// Apply an `@ID` / `@^ID` prefix: `None` when the line is not for us.
    fn conditional(&mut self, ctx: &Ctx<'_>, chars: Chars) -> Option<Chars> {
        if chars.first().map(|(c, _)| *c) != Some('@') {
            return Some(chars);
        }
        let end = chars
            .iter()
            .position(|(c, _)| c.is_whitespace())
            .unwrap_or(chars.len());
        let word: String = chars[1..end].iter().map(|(c, _)| *c).collect();
        let (negated, id) = match word.strip_prefix('^') {
            Some(id) => (true, id.to_owned()),
            None => (false, word),
        };
        if !self.out.config_ids_seen.contains(&id) {
            self.out.config_ids_seen.push(id.clone());
        }
        let matches = self.config_id == Some(id.as_str());
        if self.config_id.is_none() && !self.conditional_noted {
            self.conditional_noted = true;
            self.out.skipped.push(Diag::new(
                ctx.pos(chars[0].1),
                "conditional lines (`@ID`) and no --config-id: lines for a named host were left out, `@^ID` lines kept".to_owned(),
                Some("run `floatip import --config-id ID` once per host (keepalived's -i / --config-id, by default the first part of the host name)".to_owned()),
            ));
        }
        if matches == negated {
            return None;
        }
        Some(trim(&chars[end..]))
    }

    /// `~SEQ(var, [start, [step,]] end) rest` and `~SEQx(...)`; `~LST` is refused.
    fn sequence(&mut self, ctx: &Ctx<'_>, chars: &Chars, replay: u32) {
        let text: String = chars.iter().map(|(c, _)| *c).collect();
        let at = ctx.pos(chars[0].1);
        if text.starts_with("~LST") {
            self.out.errors.push(Diag::new(
                at,
                "`~LST` list blocks are not supported by floatip import".to_owned(),
                Some("expand the list by hand (one line per value), then import again".to_owned()),
            ));
            return;
        }
        let hex = text.starts_with("~SEQx");
        let open = if hex { 5 } else { 4 };
        let parsed = text[open..]
            .strip_prefix('(')
            .and_then(|rest| rest.split_once(')'))
            .and_then(|(args, _)| parse_seq(args).map(|seq| (seq, args.chars().count())));
        let Some(((var, start, step, end), args_len)) = parsed else {
            self.out.errors.push(Diag::new(
                at,
                "cannot read this ~SEQ".to_owned(),
                Some("the form is ~SEQ(VAR, START, STEP, END), START and STEP optional".to_owned()),
            ));
            return;
        };
        let rest_start = open + 1 + args_len + 1;
        let rest: Chars = chars.get(rest_start..).unwrap_or(&[]).to_vec();
        let mut value = start;
        let mut count = 0usize;
        while (step > 0 && value <= end) || (step < 0 && value >= end) {
            count += 1;
            if self.lines_produced > MAX_LINES || count > MAX_LINES {
                return;
            }
            let shown = if hex {
                format!("{value:x}")
            } else {
                value.to_string()
            };
            self.definitions
                .insert(var.clone(), Definition::Line(shown));
            let _ = self.logical_line(ctx, rest.clone(), replay);
            value = match value.checked_add(step) {
                Some(v) => v,
                None => break,
            };
        }
    }

    /// Replace `$NAME` (followed by whitespace or the end) and `${NAME}` with their
    /// values, again in the replaced text; undefined names stay as written.
    fn substitute(&mut self, ctx: &Ctx<'_>, mut chars: Chars) -> Option<Chars> {
        let mut i = 0;
        let mut done = 0;
        while i < chars.len() {
            if chars[i].0 != '$' {
                i += 1;
                continue;
            }
            let column = chars[i].1;
            let (name, end) = if chars.get(i + 1).map(|c| c.0) == Some('{') {
                match chars[i + 2..].iter().position(|(c, _)| *c == '}') {
                    Some(close) => (
                        chars[i + 2..i + 2 + close]
                            .iter()
                            .map(|(c, _)| *c)
                            .collect::<String>(),
                        i + 2 + close + 1,
                    ),
                    None => {
                        i += 1;
                        continue;
                    }
                }
            } else {
                let len = chars[i + 1..]
                    .iter()
                    .take_while(|(c, _)| c.is_ascii_alphanumeric() || *c == '_')
                    .count();
                let end = i + 1 + len;
                if len == 0 || chars.get(end).is_some_and(|(c, _)| !c.is_whitespace()) {
                    i += 1;
                    continue;
                }
                (chars[i + 1..end].iter().map(|(c, _)| *c).collect(), end)
            };
            let value = match self.value_of(ctx, &name) {
                Some(value) => value,
                None => {
                    i += 1;
                    continue;
                }
            };
            done += 1;
            if done > MAX_SUBSTITUTIONS || chars.len() + value.len() > MAX_LINE_CHARS {
                self.out.errors.push(Diag::new(
                    ctx.pos(column),
                    format!("substituting `${name}` does not end (more than {MAX_SUBSTITUTIONS} substitutions or {MAX_LINE_CHARS} characters)"),
                    Some("a definition probably refers to itself".to_owned()),
                ));
                return None;
            }
            let replacement: Chars = value.chars().map(|c| (c, column)).collect();
            chars.splice(i..end, replacement);
            // Rescan from the same place: the value may itself hold references.
        }
        Some(chars)
    }

    fn value_of(&self, ctx: &Ctx<'_>, name: &str) -> Option<String> {
        if let Some(definition) = self.definitions.get(name) {
            return Some(match definition {
                Definition::Line(value) => value.clone(),
                Definition::Lines(lines) => lines.join(" "),
            });
        }
        match name.split_whitespace().next().unwrap_or("") {
            "_PWD" => Some(ctx.dir.display().to_string()),
            "_INSTANCE" => self.config_id.map(str::to_owned),
            "_HASH" => Some("#".into()),
            "_BANG" => Some("!".into()),
            // Not random here: the translation must be reproducible. Its minimum.
            "_RANDOM" => Some(name.split_whitespace().nth(1).unwrap_or("0").to_owned()),
            _ => None,
        }
    }

    /// Split a line into words (quotes removed, escapes applied inside them), `{` and `}`.
    fn split(&mut self, ctx: &Ctx<'_>, chars: &Chars) -> Option<Vec<Tok>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let (c, column) = chars[i];
            if c.is_whitespace() {
                i += 1;
                continue;
            }
            if c == '{' {
                out.push(Tok::Open(ctx.pos(column)));
                i += 1;
                continue;
            }
            if c == '}' {
                out.push(Tok::Close(ctx.pos(column)));
                i += 1;
                continue;
            }
            let start = column;
            let mut text = String::new();
            let mut quote: Option<(char, u32)> = None;
            while i < chars.len() {
                let (c, column) = chars[i];
                match quote {
                    None if c.is_whitespace() || c == '{' || c == '}' => break,
                    None if c == '"' || c == '\'' => quote = Some((c, column)),
                    None => text.push(c),
                    Some((q, _)) if c == q => quote = None,
                    Some(_) if c == '\\' => {
                        i += 1;
                        let (escaped, used) = unescape(&chars[i..]);
                        text.push_str(&escaped);
                        i += used;
                        continue;
                    }
                    Some(_) => text.push(c),
                }
                i += 1;
            }
            if let Some((q, column)) = quote {
                self.out.errors.push(Diag::new(
                    ctx.pos(column),
                    format!("this {q} quote is never closed"),
                    Some(format!("close it with {q} on the same line")),
                ));
                return None;
            }
            out.push(Tok::Word(Word {
                text,
                pos: ctx.pos(start),
            }));
        }
        Some(out)
    }

    fn include(&mut self, ctx: &Ctx<'_>, keyword: &Word, args: &[Tok]) {
        let Some(Tok::Word(pattern)) = args.first() else {
            self.out.errors.push(Diag::new(
                keyword.pos,
                "`include` needs a file name or pattern".to_owned(),
                None,
            ));
            return;
        };
        if ctx.depth + 1 > MAX_INCLUDE_DEPTH {
            self.out.errors.push(Diag::new(
                pattern.pos,
                format!("includes nested more than {MAX_INCLUDE_DEPTH} deep"),
                Some("an include cycle?".to_owned()),
            ));
            return;
        }
        let mut paths = Vec::new();
        for expanded in expand_braces(&pattern.text) {
            let full = if Path::new(&expanded).is_absolute() {
                PathBuf::from(&expanded)
            } else {
                ctx.dir.join(&expanded)
            };
            paths.extend(glob(self.files, &full));
        }
        if paths.is_empty() {
            // keepalived's plain `include` is silent about this; say it anyway.
            self.out.skipped.push(Diag::new(
                pattern.pos,
                format!("`include {}` matched no file", pattern.text),
                Some("check the path: it is relative to the including file's directory".to_owned()),
            ));
            return;
        }
        for path in paths {
            if self.stack.contains(&path) {
                self.out.errors.push(Diag::new(
                    pattern.pos,
                    format!("`{}` includes itself", path.display()),
                    None,
                ));
                continue;
            }
            match self.files.read(&path) {
                Ok(text) => self.file(&path, path.display().to_string(), &text, ctx.depth + 1),
                Err(e) => self.out.errors.push(Diag::new(
                    pattern.pos,
                    format!("cannot read included `{}`: {e}", path.display()),
                    None,
                )),
            }
        }
    }
}

/// Where a logical line is.
struct Ctx<'a> {
    file: u32,
    line: u32,
    dir: &'a Path,
    depth: usize,
}

impl Ctx<'_> {
    fn pos(&self, column: u32) -> Pos {
        Pos::new(self.file, self.line, column)
    }
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `$NAME` or `${NAME}` and nothing else.
fn whole_reference(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('$')?;
    let name = match rest.strip_prefix('{') {
        Some(inner) => inner.strip_suffix('}')?,
        None => rest,
    };
    is_name(name).then_some(name)
}

/// Cut a `#` or `!` comment outside quotes.
fn strip_comment(chars: &[(char, u32)]) -> Chars {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, (c, _)) in chars.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match quote {
            Some(q) if *c == q => quote = None,
            Some(_) if *c == '\\' => escaped = true,
            Some(_) => {}
            None if *c == '"' || *c == '\'' => quote = Some(*c),
            None if *c == '#' || *c == '!' => return chars[..i].to_vec(),
            None => {}
        }
    }
    chars.to_vec()
}

fn trim(chars: &[(char, u32)]) -> Chars {
    let start = chars
        .iter()
        .position(|(c, _)| !c.is_whitespace())
        .unwrap_or(chars.len());
    let end = chars
        .iter()
        .rposition(|(c, _)| !c.is_whitespace())
        .map_or(start, |e| e + 1);
    chars[start..end.max(start)].to_vec()
}

/// One escape after a backslash inside quotes; returns the text and characters used.
fn unescape(rest: &[(char, u32)]) -> (String, usize) {
    let Some(&(c, _)) = rest.first() else {
        return ("\\".into(), 0);
    };
    let simple = match c {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'E' => Some('\u{1b}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        _ => None,
    };
    if let Some(s) = simple {
        return (s.to_string(), 1);
    }
    if c.is_digit(8) {
        let digits: String = rest
            .iter()
            .take(3)
            .map(|(c, _)| *c)
            .take_while(|c| c.is_digit(8))
            .collect();
        let value = u32::from_str_radix(&digits, 8).unwrap_or(0);
        return (
            char::from_u32(value).unwrap_or('?').to_string(),
            digits.len(),
        );
    }
    if c == 'x' {
        let digits: String = rest[1..]
            .iter()
            .map(|(c, _)| *c)
            .take_while(char::is_ascii_hexdigit)
            .take(2)
            .collect();
        if digits.is_empty() {
            return ("x".into(), 1);
        }
        let value = u32::from_str_radix(&digits, 16).unwrap_or(0);
        return (
            char::from_u32(value).unwrap_or('?').to_string(),
            1 + digits.len(),
        );
    }
    if c == 'c' {
        if let Some(&(control, _)) = rest.get(1) {
            let value = (control.to_ascii_uppercase() as u32) ^ 0x40;
            return (char::from_u32(value).unwrap_or('?').to_string(), 2);
        }
        return ("c".into(), 1);
    }
    (c.to_string(), 1)
}

/// `VAR, [START, [STEP,]] END` -> (var, start, step, end).
fn parse_seq(args: &str) -> Option<(String, i64, i64, i64)> {
    let parts: Vec<&str> = args.split(',').map(str::trim).collect();
    let var = parts.first()?.to_string();
    if !is_name(&var) {
        return None;
    }
    let number = |s: &str| -> Option<i64> {
        let (negative, digits) = match s.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, s),
        };
        let value = match digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
        {
            Some(hex) => i64::from_str_radix(hex, 16).ok()?,
            None => digits.parse().ok()?,
        };
        Some(if negative { -value } else { value })
    };
    let (start, step, end) = match parts.len() {
        2 => {
            let end = number(parts[1])?;
            let start = if end >= 0 { 1 } else { -1 };
            (start, None, end)
        }
        3 => (number(parts[1])?, None, number(parts[2])?),
        4 => (
            number(parts[1])?,
            Some(number(parts[2])?),
            number(parts[3])?,
        ),
        _ => return None,
    };
    let step = step.unwrap_or(if end >= start { 1 } else { -1 });
    if step == 0 {
        return None;
    }
    Some((var, start, step, end))
}

/// csh-style brace expansion: `a{b,c}d` -> `abd`, `acd` (nested too), bounded.
fn expand_braces(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    expand_into(pattern, &mut out, 0);
    out
}

fn expand_into(pattern: &str, out: &mut Vec<String>, depth: u32) {
    if out.len() >= MAX_FILES || depth > 8 {
        return;
    }
    let Some(open) = pattern.find('{') else {
        out.push(pattern.to_owned());
        return;
    };
    // The matching close brace, and the top-level commas between.
    let mut level = 0;
    let mut commas = Vec::new();
    let mut close = None;
    for (i, c) in pattern[open..].char_indices() {
        let i = open + i;
        match c {
            '{' => level += 1,
            '}' => {
                level -= 1;
                if level == 0 {
                    close = Some(i);
                    break;
                }
            }
            ',' if level == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        out.push(pattern.to_owned());
        return;
    };
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    let mut start = open + 1;
    for end in commas.into_iter().chain(std::iter::once(close)) {
        let alternative = &pattern[start..end];
        expand_into(&format!("{head}{alternative}{tail}"), out, depth + 1);
        start = end + 1;
    }
}

/// Expand `*`, `?` and `[...]` in each component, sorted as glob(3) sorts.
fn glob(files: &dyn Files, pattern: &Path) -> Vec<PathBuf> {
    let mut current = vec![PathBuf::new()];
    for component in pattern.components() {
        let part = component.as_os_str().to_string_lossy().into_owned();
        let mut next = Vec::new();
        for base in &current {
            if !part.contains(['*', '?', '[']) {
                next.push(base.join(&part));
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                base.clone()
            };
            let mut names: Vec<String> = files
                .list(&dir)
                .unwrap_or_default()
                .into_iter()
                .filter(|name| !name.starts_with('.') && wildcard(&part, name))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|name| base.join(name)));
        }
        if next.len() > MAX_FILES {
            next.truncate(MAX_FILES);
        }
        current = next;
    }
    if pattern.to_string_lossy().contains(['*', '?', '[']) {
        current
    } else {
        // A plain name: keep it, the read reports whether it exists.
        current.into_iter().take(1).collect()
    }
}

/// Shell wildcard match of one name.
fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative with one backtrack point for `*`: linear in practice, never recursive.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, len)) = class(&p[pi..], n[ni])
                        && matched
                    {
                        pi += len;
                        ni += 1;
                        continue;
                    }
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `[abc]`, `[a-z]`, `[!x]` against one character: (matches, length of the class).
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let close = p.iter().skip(2).position(|x| *x == ']')? + 2;
    let body = &p[1..close];
    let (negated, body) = match body.first() {
        Some('!') | Some('^') => (true, &body[1..]),
        _ => (false, body),
    };
    let mut matched = false;
    let mut i = 0;
    while i < body.len() {
        if i + 2 < body.len() && body[i + 1] == '-' {
            matched |= body[i] <= c && c <= body[i + 2];
            i += 3;
        } else {
            matched |= body[i] == c;
            i += 1;
        }
    }
    Some((matched != negated, close + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str, id: Option<&str>) -> Vec<String> {
        let lexed = lex_text(&NoFiles, "t.conf", text, id);
        assert!(lexed.errors.is_empty(), "{:?}", lexed.errors);
        lexed
            .tokens
            .iter()
            .map(|t| match t {
                Tok::Word(w) => w.text.clone(),
                Tok::Open(_) => "{".into(),
                Tok::Close(_) => "}".into(),
                Tok::Eol => ";".into(),
            })
            .collect()
    }

    #[test]
    fn comments_quotes_and_braces() {
        assert_eq!(
            words("a { b \"c d\" } # x\n! y\ne 'f#g' h!i", None),
            ["a", "{", "b", "c d", "}", ";", "e", "f#g", "h", ";"]
        );
        assert_eq!(words("x \"a\\tb\"", None), ["x", "a\tb", ";"]);
        assert_eq!(words("x ab\"c d\"e", None), ["x", "abc de", ";"]);
    }

    #[test]
    fn conditionals_follow_the_config_id() {
        let text = "@a x 1\n@b x 2\n@^a y 3\n";
        assert_eq!(words(text, Some("a")), ["x", "1", ";"]);
        assert_eq!(words(text, Some("b")), ["x", "2", ";", "y", "3", ";"]);
        let lexed = lex_text(&NoFiles, "t.conf", text, None);
        assert_eq!(lexed.skipped.len(), 1);
        assert_eq!(lexed.config_ids_seen, ["a", "b"]);
    }

    #[test]
    fn definitions_substitute_recursively_and_replay() {
        let text = "$B=10.2.${S}\n$S=0\n${B}.1/32\n$S=10\n${B}.2 x $B.3\n";
        assert_eq!(
            words(text, None),
            ["10.2.0.1/32", ";", "10.2.10.2", "x", "$B.3", ";"]
        );
        let text = "$I= \\\n vrrp_instance V${N} { \\\n  priority 1 \\\n }\n$N=1\n$I\n";
        assert_eq!(
            words(text, None),
            [
                "vrrp_instance",
                "V1",
                "{",
                ";",
                "priority",
                "1",
                ";",
                "}",
                ";"
            ]
        );
        // Undefined stays; a self-reference stops with an error, no hang.
        assert_eq!(
            words("a $UNDEF ${X}", None),
            ["a", "$UNDEF", "$", "{", "X", "}", ";"]
        );
        let lexed = lex_text(&NoFiles, "t.conf", "$A=$A $A\n$A\n", None);
        assert!(!lexed.errors.is_empty());
    }

    #[test]
    fn sequences_expand() {
        assert_eq!(
            words("~SEQ(N, 1, 3) a 10.0.${N}.1", None),
            [
                "a", "10.0.1.1", ";", "a", "10.0.2.1", ";", "a", "10.0.3.1", ";"
            ]
        );
        assert_eq!(
            words("~SEQx(N, 0x9, 2, 0xb) ${N}", None),
            ["9", ";", "b", ";"]
        );
    }

    #[test]
    fn positions_are_file_line_column() {
        let lexed = lex_text(&NoFiles, "t.conf", "a\n  bb \"c\"", None);
        let positions: Vec<(u32, u32)> = lexed
            .tokens
            .iter()
            .filter_map(|t| match t {
                Tok::Word(w) => Some((w.pos.line, w.pos.column)),
                _ => None,
            })
            .collect();
        assert_eq!(positions, [(1, 1), (2, 3), (2, 6)]);
    }

    #[test]
    fn unclosed_quote_is_an_error_with_its_column() {
        let lexed = lex_text(&NoFiles, "t.conf", "x \"abc", None);
        assert_eq!(lexed.errors.len(), 1);
        assert_eq!(
            (lexed.errors[0].pos.line, lexed.errors[0].pos.column),
            (1, 3)
        );
    }

    #[test]
    fn wildcards_and_braces() {
        assert!(wildcard("*.conf", "a.conf"));
        assert!(!wildcard("*.conf", "a.confx"));
        assert!(wildcard("v[0-9]?", "v1x"));
        assert!(!wildcard("[!a]b", "ab"));
        assert_eq!(expand_braces("a{b,c{d,e}}f"), ["abf", "acdf", "acef"]);
    }
}
