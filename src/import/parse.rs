//! Tokens to a tree of statements: `keyword args... [{ statements }]`.
//!
//! Owns the block structure of keepalived's language: a statement ends at the end of a
//! line, at `{` (its block follows, on the same line or the next ones) or at `}`; blocks
//! may sit on one line (`track_script { chk }`) or many, and a `{` alone on the next line
//! opens the block of the statement before it. Must not give keywords a meaning, and
//! must not panic or recurse without bound (nesting is limited).

use super::lexer::{Tok, Word};
use super::report::{Diag, Pos};

/// Deepest nesting of blocks (keepalived's deepest is about 5).
const MAX_DEPTH: usize = 32;

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub keyword: Word,
    pub args: Vec<Word>,
    /// `Some` when the statement has a `{ ... }` block.
    pub block: Option<Vec<Node>>,
}

impl Node {
    pub fn pos(&self) -> Pos {
        self.keyword.pos
    }

    pub fn name(&self) -> &str {
        &self.keyword.text
    }

    /// The first argument's text.
    pub fn arg(&self, index: usize) -> Option<&Word> {
        self.args.get(index)
    }

    /// The block's statements (none when there is no block).
    pub fn children(&self) -> &[Node] {
        self.block.as_deref().unwrap_or(&[])
    }
}

/// Parse the tokens; errors (unbalanced braces) are returned next to what was parsed.
pub fn parse(tokens: &[Tok]) -> (Vec<Node>, Vec<Diag>) {
    let mut parser = Parser {
        tokens,
        at: 0,
        errors: Vec::new(),
    };
    let mut nodes = Vec::new();
    loop {
        let (mut block, end) = parser.block(0);
        nodes.append(&mut block);
        match end {
            End::Eof => break,
            End::Close(pos) => parser.errors.push(Diag::new(
                pos,
                "this `}` closes no block".to_owned(),
                Some("remove it, or add the `{` it was meant to close".to_owned()),
            )),
        }
    }
    (nodes, parser.errors)
}

enum End {
    Eof,
    Close(Pos),
}

struct Parser<'a> {
    tokens: &'a [Tok],
    at: usize,
    errors: Vec<Diag>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at)
    }

    /// Statements until `}` or the end of input.
    fn block(&mut self, depth: usize) -> (Vec<Node>, End) {
        let mut nodes: Vec<Node> = Vec::new();
        // Whether the last statement ended at the end of a line without a block, so that
        // a `{` at the start of the next line opens its block.
        let mut last_may_open = false;
        while let Some(token) = self.peek().cloned() {
            self.at += 1;
            match token {
                Tok::Eol => {}
                Tok::Close(pos) => return (nodes, End::Close(pos)),
                Tok::Open(pos) => {
                    let owner = if last_may_open {
                        nodes.last_mut().filter(|n| n.block.is_none())
                    } else {
                        None
                    };
                    let Some(owner) = owner else {
                        self.errors.push(Diag::new(
                            pos,
                            "a `{` must follow a keyword".to_owned(),
                            Some("write `keyword name {`".to_owned()),
                        ));
                        // Skip the block, so that its contents are not read as top level.
                        let _ = self.sub_block(pos, depth);
                        continue;
                    };
                    let children = self.sub_block(pos, depth);
                    owner.block = Some(children);
                    last_may_open = false;
                }
                Tok::Word(keyword) => {
                    let mut args = Vec::new();
                    let mut block = None;
                    let mut ended_by_eol = false;
                    while let Some(next) = self.peek().cloned() {
                        match next {
                            Tok::Word(w) => {
                                self.at += 1;
                                args.push(w);
                            }
                            Tok::Eol => {
                                self.at += 1;
                                ended_by_eol = true;
                                break;
                            }
                            Tok::Open(pos) => {
                                self.at += 1;
                                block = Some(self.sub_block(pos, depth));
                                break;
                            }
                            Tok::Close(_) => break,
                        }
                    }
                    last_may_open = ended_by_eol && block.is_none();
                    nodes.push(Node {
                        keyword,
                        args,
                        block,
                    });
                    continue;
                }
            }
            if !matches!(self.tokens.get(self.at.wrapping_sub(1)), Some(Tok::Eol)) {
                last_may_open = false;
            }
        }
        (nodes, End::Eof)
    }

    /// The statements of a block opened at `open`, through its `}`.
    fn sub_block(&mut self, open: Pos, depth: usize) -> Vec<Node> {
        if depth + 1 > MAX_DEPTH {
            self.errors.push(Diag::new(
                open,
                format!("blocks nested more than {MAX_DEPTH} deep"),
                None,
            ));
            // Skip to the matching close without recursing.
            let mut level = 1usize;
            while let Some(token) = self.tokens.get(self.at) {
                self.at += 1;
                match token {
                    Tok::Open(_) => level += 1,
                    Tok::Close(_) => {
                        level -= 1;
                        if level == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            return Vec::new();
        }
        let (nodes, end) = self.block(depth + 1);
        if let End::Eof = end {
            self.errors.push(Diag::new(
                open,
                "this `{` is never closed".to_owned(),
                Some("add the `}` that ends the block".to_owned()),
            ));
        }
        nodes
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::{NoFiles, lex_text};
    use super::*;

    fn tree(text: &str) -> (Vec<Node>, Vec<Diag>) {
        let lexed = lex_text(&NoFiles, "t.conf", text, None);
        parse(&lexed.tokens)
    }

    fn shape(nodes: &[Node]) -> String {
        nodes
            .iter()
            .map(|n| {
                let mut s = n.name().to_owned();
                for a in &n.args {
                    s.push(' ');
                    s.push_str(&a.text);
                }
                if let Some(block) = &n.block {
                    s.push_str(&format!(" {{{}}}", shape(block)));
                }
                s
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn blocks_on_one_line_or_many() {
        let (nodes, errors) = tree("a x { b 1\n c { d } }\ne\nf\n{\n g\n}\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(shape(&nodes), "a x {b 1; c {d}}; e; f {g}");
    }

    #[test]
    fn unbalanced_braces_are_errors_with_positions() {
        let (_, errors) = tree("a {\n b\n");
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].pos.line, errors[0].pos.column), (1, 3));
        let (_, errors) = tree("a\n}\n");
        assert_eq!((errors[0].pos.line, errors[0].pos.column), (2, 1));
        let (_, errors) = tree("{ x }");
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let text = "a {".repeat(10_000) + &"}".repeat(10_000);
        let (_, errors) = tree(&text);
        assert!(!errors.is_empty());
    }
}
