//! Where a problem is: a line and column, or a JSON pointer.

use std::cmp::Ordering;
use std::fmt;

/// Where a problem is in a workflow file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Place {
    /// A place in the text (JSON syntax errors), both from 1.
    LineCol {
        /// The line, from 1.
        line: usize,
        /// The column, from 1.
        column: usize,
    },
    /// A JSON pointer to a value (`/steps/2/needs/0`); `""` is the whole file.
    Pointer(String),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::LineCol { line, column } => write!(f, "{line}:{column}"),
            Place::Pointer(pointer) => f.write_str(pointer),
        }
    }
}

impl Ord for Place {
    /// Text places first, then pointers in document order (array indices compared as
    /// numbers, so `/steps/2` comes before `/steps/10`).
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Place::LineCol { line, column }, Place::LineCol { line: l, column: c }) => {
                (line, column).cmp(&(l, c))
            }
            (Place::LineCol { .. }, Place::Pointer(_)) => Ordering::Less,
            (Place::Pointer(_), Place::LineCol { .. }) => Ordering::Greater,
            (Place::Pointer(a), Place::Pointer(b)) => a
                .split('/')
                .skip(1)
                .map(Token::from)
                .cmp(b.split('/').skip(1).map(Token::from)),
        }
    }
}

impl PartialOrd for Place {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A pointer token: indices sort as numbers, before keys.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Token<'a> {
    Index(u64),
    Key(&'a str),
}

impl<'a> From<&'a str> for Token<'a> {
    fn from(token: &'a str) -> Self {
        match token.parse() {
            Ok(index) if !token.starts_with('+') => Token::Index(index),
            _ => Token::Key(token),
        }
    }
}

/// Whether the pointer `inner` is `outer` or inside it.
pub(crate) fn is_within(inner: &str, outer: &str) -> bool {
    inner
        .strip_prefix(outer)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_sort_in_document_order() {
        let mut places: Vec<Place> = ["/steps/10", "/steps/2/id", "", "/name", "/steps/2"]
            .into_iter()
            .map(|pointer| Place::Pointer(pointer.into()))
            .collect();
        places.push(Place::LineCol { line: 3, column: 1 });
        places.sort();
        let shown: Vec<String> = places.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["3:1", "", "/name", "/steps/2", "/steps/2/id", "/steps/10"]
        );
    }

    #[test]
    fn within() {
        assert!(is_within("/steps/1/id", "/steps/1"));
        assert!(is_within("/steps/1", "/steps/1"));
        assert!(!is_within("/steps/10", "/steps/1"));
    }
}
