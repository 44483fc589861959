//! Key paths (`routers[1].advert_interval`) for positions in a YAML text.
//!
//! Owns the map from a line and column to the key path of the YAML node there. It exists
//! for serde-level errors (unknown key, wrong type, syntax): serde-saphyr reports where
//! they happened but not under which key, and an operator needs both. Must not interpret
//! the configuration: it only walks the YAML events of the first document.
//!
//! Semantic errors do not come through here: validation knows its key paths and takes
//! the positions from `serde_saphyr::Spanned` values.

use serde_saphyr::granit_parser::{Event, Parser};

/// Nesting beyond this is not indexed: no configuration is this deep, and a path per
/// node would make hostile input cost quadratic memory. serde-saphyr's budget reports
/// such a document.
const MAX_DEPTH: usize = 64;

/// A line and a column, both 1-based; the column counts characters.
pub(crate) type Position = (u64, u64);

#[derive(Debug)]
struct Node {
    path: String,
    start: Position,
    end: Position,
    container: bool,
    mapping: bool,
    /// The text of a scalar node.
    scalar: Option<String>,
}

#[derive(Debug)]
enum Frame {
    Map {
        path: String,
        node: usize,
        /// The next node is a key (rather than a value).
        expect_key: bool,
        /// Path of the entry whose value comes next.
        entry_path: String,
    },
    Seq {
        path: String,
        node: usize,
        next_index: usize,
    },
}

/// The key paths of every node of a YAML text (as far as it parses).
#[derive(Debug, Default)]
pub(crate) struct KeyPaths {
    nodes: Vec<Node>,
    /// Where the YAML stopped parsing, and why.
    syntax_error: Option<(Position, String)>,
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

impl KeyPaths {
    /// Walk the events of the first document of `text`. A syntax error ends the walk;
    /// the containers still open then are taken to extend to the end of the text, so
    /// the error position falls inside the node being written.
    pub(crate) fn build(text: &str) -> KeyPaths {
        const OPEN: Position = (u64::MAX, u64::MAX);
        let mut nodes: Vec<Node> = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        let pos = |line: usize, col: usize| (line as u64, col as u64 + 1);

        let mut syntax_error = None;
        while let Some(next) = parser.next_event() {
            let (event, span) = match next {
                Ok(next) => next,
                Err(err) => {
                    let mark = err.marker();
                    syntax_error = Some((pos(mark.line(), mark.col()), err.info()));
                    break;
                }
            };
            let start = pos(span.start.line(), span.start.col());
            let end = pos(span.end.line(), span.end.col());
            let (container, scalar) = match &event {
                Event::Scalar(text, ..) => (false, Some(text.to_string())),
                Event::Alias(..) => (false, None),
                Event::MappingStart(..) | Event::SequenceStart(..) => (true, None),
                Event::MappingEnd | Event::SequenceEnd => {
                    if let Some(frame) = stack.pop() {
                        let index = match frame {
                            Frame::Map { node, .. } | Frame::Seq { node, .. } => node,
                        };
                        if let Some(node) = nodes.get_mut(index) {
                            node.end = end;
                        }
                    }
                    Self::completed(&mut stack);
                    continue;
                }
                Event::DocumentEnd => break,
                _ => continue,
            };
            if stack.len() >= MAX_DEPTH {
                break;
            }
            // Where this node sits: the key of a map entry, the value of one, an item of
            // a sequence, or the document root.
            let path = match stack.last_mut() {
                None => String::new(),
                Some(Frame::Seq {
                    path, next_index, ..
                }) => {
                    let item = format!("{path}[{next_index}]");
                    *next_index += 1;
                    item
                }
                Some(Frame::Map {
                    path,
                    expect_key: true,
                    entry_path,
                    ..
                }) => {
                    let key = scalar.clone().unwrap_or_else(|| "?".to_owned());
                    *entry_path = join(path, &key);
                    entry_path.clone()
                }
                Some(Frame::Map {
                    expect_key: false,
                    entry_path,
                    ..
                }) => entry_path.clone(),
            };
            let index = nodes.len();
            nodes.push(Node {
                path: path.clone(),
                start,
                end: if container { OPEN } else { end },
                container,
                mapping: matches!(event, Event::MappingStart(..)),
                scalar,
            });
            if container {
                // A complex (container) key gets the path `parent.?`; its children are
                // recorded under that and the entry's value follows as usual.
                let frame = match event {
                    Event::MappingStart(..) => Frame::Map {
                        path,
                        node: index,
                        expect_key: true,
                        entry_path: String::new(),
                    },
                    _ => Frame::Seq {
                        path,
                        node: index,
                        next_index: 0,
                    },
                };
                stack.push(frame);
            } else {
                Self::completed(&mut stack);
            }
        }
        KeyPaths {
            nodes,
            syntax_error,
        }
    }

    /// The YAML syntax error that ended the walk, if any.
    pub(crate) fn syntax_error(&self) -> Option<&(Position, String)> {
        self.syntax_error.as_ref()
    }

    /// A node finished: in a map, a key is followed by a value and a value by a key.
    fn completed(stack: &mut [Frame]) {
        if let Some(Frame::Map { expect_key, .. }) = stack.last_mut() {
            *expect_key = !*expect_key;
        }
    }

    /// The innermost node containing `at` (a scalar or key rather than the container
    /// that starts at the same place). With `mapping`, the innermost mapping containing
    /// `at`: serde-saphyr reports a missing key at the last key of the map that lacks it.
    fn find(&self, at: Position, mapping: bool) -> Option<&Node> {
        self.nodes
            .iter()
            .filter(|n| n.start <= at && at <= n.end && (!mapping || n.mapping))
            .max_by_key(|n| (n.start, !n.container, n.path.len()))
    }

    /// Start and key path of the innermost mapping containing `at`.
    pub(crate) fn mapping_at(&self, at: Position) -> Option<(Position, String)> {
        self.find(at, true).map(|n| (n.start, n.path.clone()))
    }

    /// Key path of the node at `at`, empty for the document root or when nothing is
    /// known there.
    pub(crate) fn path_at(&self, at: Position) -> String {
        self.find(at, false)
            .map(|n| n.path.clone())
            .unwrap_or_default()
    }

    /// The text of the scalar that starts at `at`, if any.
    pub(crate) fn scalar_at(&self, at: Position) -> Option<&str> {
        self.nodes
            .iter()
            .find(|n| n.start == at && n.scalar.is_some())
            .and_then(|n| n.scalar.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
routers:
  - name: a
    vrid: 5
    addresses: [192.0.2.1, {address: x, device: y}]
  - name: b
    unicast:
      peers:
        - 192.0.2.2
";

    #[test]
    fn paths_of_keys_and_values() {
        let paths = KeyPaths::build(TEXT);
        assert_eq!(paths.path_at((1, 1)), "routers");
        assert_eq!(paths.path_at((2, 5)), "routers[0].name");
        assert_eq!(
            paths.mapping_at((3, 5)),
            Some(((2, 5), "routers[0]".to_owned()))
        );
        assert_eq!(paths.path_at((2, 11)), "routers[0].name");
        assert_eq!(paths.path_at((3, 11)), "routers[0].vrid");
        assert_eq!(paths.path_at((4, 17)), "routers[0].addresses[0]");
        assert_eq!(paths.path_at((4, 27)), "routers[0].addresses");
        assert_eq!(paths.path_at((4, 28)), "routers[0].addresses[1]");
        assert_eq!(paths.path_at((4, 29)), "routers[0].addresses[1].address");
        assert_eq!(paths.path_at((4, 41)), "routers[0].addresses[1].device");
        assert_eq!(paths.path_at((4, 49)), "routers[0].addresses[1].device");
        assert_eq!(paths.path_at((5, 5)), "routers[1].name");
        assert_eq!(paths.path_at((8, 11)), "routers[1].unicast.peers[0]");
        assert_eq!(paths.scalar_at((3, 11)), Some("5"));
    }

    #[test]
    fn syntax_error_keeps_the_open_path() {
        let paths = KeyPaths::build("routers:\n  - name: [a\n    vrid: 1\n");
        assert!(paths.syntax_error().is_some());
        assert_eq!(paths.path_at((2, 11)), "routers[0].name");
        assert_eq!(paths.path_at((3, 5)), "routers[0].name");
    }

    #[test]
    fn empty_text_has_no_paths() {
        let paths = KeyPaths::build("");
        assert_eq!(paths.path_at((1, 1)), "");
    }
}
