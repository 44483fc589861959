//! "unsafe only at the system edge": `unsafe` code (blocks, functions, impls) appears only
//! in the socket code (`src/net/`) and the system-call module (`src/sys/`), and each use
//! there has a `// SAFETY:` comment (or a `# Safety` doc section) just above it.
//!
//! The scan reads the source text: comments, string and character literals are blanked
//! first, so `unsafe` in a comment, a message or an identifier
//! (`refuses_unsafe_directories`) does not count.

use std::fs;
use std::path::{Path, PathBuf};

/// Directories (under the crate root) where `unsafe` is allowed.
const ALLOWED: [&str; 2] = ["src/net/", "src/sys/"];
/// How far above an `unsafe` its SAFETY comment may start.
const SAFETY_WINDOW: usize = 12;

/// `text` with comments and the contents of string and character literals replaced by
/// spaces (newlines kept, so line numbers stay right).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (i == 0 || !is_ident(chars[i - 1]) || chars[i - 1] == 'b')
            && matches!(next, Some('"') | Some('#'))
            && {
                let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
                chars.get(i + 1 + hashes) == Some(&'"')
            }
        {
            // A raw string: r"..." or r#"..."#, no escapes.
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            out.push('r');
            i += 1 + hashes + 1;
            out.push_str(&" ".repeat(hashes + 1));
            while i < chars.len() {
                if chars[i..].starts_with(&close.chars().collect::<Vec<_>>()) {
                    out.push_str(&" ".repeat(close.len()));
                    i += close.len();
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() {
                match chars[i] {
                    '\\' => {
                        out.push(' ');
                        if let Some(&escaped) = chars.get(i + 1) {
                            out.push(blank(escaped));
                        }
                        i += 2;
                    }
                    '"' => {
                        out.push(' ');
                        i += 1;
                        break;
                    }
                    other => {
                        out.push(blank(other));
                        i += 1;
                    }
                }
            }
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{1F600}'), or else a lifetime or label.
            if next == Some('\\') {
                let end = chars[i + 2..]
                    .iter()
                    .position(|&d| d == '\'')
                    .map_or(chars.len(), |p| i + 2 + p + 1);
                out.push_str(&" ".repeat(end - i));
                i = end;
            } else if chars.get(i + 2) == Some(&'\'') {
                out.push_str("   ");
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Lines (1-based) on which the keyword `unsafe` appears in code.
fn unsafe_lines(text: &str) -> Vec<usize> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut lines = Vec::new();
    for (index, line) in code_only(text).lines().enumerate() {
        let found = line.match_indices("unsafe").any(|(at, word)| {
            let before = line[..at].chars().next_back();
            let after = line[at + word.len()..].chars().next();
            !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
        });
        if found {
            lines.push(index + 1);
        }
    }
    lines
}

/// Whether the `unsafe` on `line` (1-based) has a SAFETY comment on it or just above.
fn has_safety_comment(text: &str, line: usize) -> bool {
    let lines: Vec<&str> = text.lines().collect();
    let first = line.saturating_sub(SAFETY_WINDOW).max(1);
    lines[first - 1..line]
        .iter()
        .any(|l| l.contains("SAFETY:") || l.contains("# Safety"))
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Every source file, as (path relative to the crate root, text).
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let relative = path
                .strip_prefix(root)
                .expect("under the crate root")
                .to_string_lossy()
                .into_owned();
            let text = fs::read_to_string(&path).expect("read source");
            (relative, text)
        })
        .collect()
}

fn allowed(path: &str) -> bool {
    ALLOWED.iter().any(|dir| path.starts_with(dir))
}

#[test]
fn unsafe_code_only_in_net_and_sys() {
    let sources = sources();
    assert!(
        sources.len() > 30,
        "found only {} source files",
        sources.len()
    );
    let outside: Vec<String> = sources
        .iter()
        .filter(|(path, _)| !allowed(path))
        .flat_map(|(path, text)| {
            unsafe_lines(text)
                .into_iter()
                .map(move |l| format!("{path}:{l}"))
        })
        .collect();
    assert!(
        outside.is_empty(),
        "unsafe code outside {ALLOWED:?} (move it behind a safe API in src/sys/): {outside:?}"
    );
}

#[test]
fn every_unsafe_at_the_edge_says_why() {
    let sources = sources();
    let mut seen = 0;
    let mut missing = Vec::new();
    for (path, text) in sources.iter().filter(|(path, _)| allowed(path)) {
        for line in unsafe_lines(text) {
            seen += 1;
            if !has_safety_comment(text, line) {
                missing.push(format!("{path}:{line}"));
            }
        }
    }
    // The scan finds the real ones: src/sys/ exists for them.
    assert!(seen >= 3, "only {seen} unsafe uses found in {ALLOWED:?}");
    assert!(
        missing.is_empty(),
        "unsafe without a `// SAFETY:` comment in the {SAFETY_WINDOW} lines above: {missing:?}"
    );
}

#[test]
fn the_scan_sees_code_and_ignores_comments_literals_and_identifiers() {
    assert_eq!(unsafe_lines("fn f() {\n    unsafe { g() }\n}\n"), [2]);
    assert_eq!(unsafe_lines("unsafe fn f() {}\n"), [1]);
    assert_eq!(unsafe_lines("unsafe impl Send for X {}\n"), [1]);
    assert_eq!(unsafe_lines("let x = (unsafe{g()});\n"), [1]);
    let harmless = "// unsafe here\n\
                    /* unsafe /* nested */ unsafe */\n\
                    /// an unsafe directory\n\
                    fn refuses_unsafe_directories() {}\n\
                    let s = \"unsafe \\\" unsafe\";\n\
                    let r = r#\"unsafe \"quoted\" unsafe\"#;\n\
                    let c = 'u'; let q = '\\''; fn f<'a>(x: &'a str) {}\n\
                    let unsafe_count = 0;\n";
    assert_eq!(unsafe_lines(harmless), Vec::<usize>::new());
    // Code after a literal or a comment on the same line still counts.
    assert_eq!(unsafe_lines("let s = \"//\"; unsafe { g() }\n"), [1]);
    assert_eq!(unsafe_lines("/* x */ unsafe { g() }\n"), [1]);
    assert_eq!(unsafe_lines("let c = '\"'; unsafe { g() }\n"), [1]);
    assert!(has_safety_comment("// SAFETY: ok\nunsafe { g() }\n", 2));
    assert!(!has_safety_comment("// fine\nunsafe { g() }\n", 2));
}
