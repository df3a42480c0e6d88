//! Problems found in a workflow, and their places: a line and column, or a JSON pointer.
//!
//! Shared by the loader and the plan compiler, which both report problems.

mod place;

pub use place::Place;
pub(crate) use place::is_within;

/// One problem in a workflow, with its place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Where it is.
    pub place: Place,
    /// What is wrong, and how to fix it when that is known.
    pub message: String,
}

impl Problem {
    /// A problem at a JSON pointer.
    pub fn at(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            place: Place::Pointer(pointer.into()),
            message: message.into(),
        }
    }
}

/// Escapes a key for a JSON pointer (RFC 6901).
pub(crate) fn escape(key: &str) -> std::borrow::Cow<'_, str> {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1").into()
    } else {
        key.into()
    }
}

/// The candidate closest to `unknown` in spelling, if one is close enough to be a typo.
pub(crate) fn closest<'a>(
    unknown: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (unknown.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| (strsim::damerau_levenshtein(unknown, candidate), candidate))
        .filter(|&(distance, _)| distance <= limit)
        .min()
        .map(|(_, candidate)| candidate)
}
