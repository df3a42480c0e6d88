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
pub fn escape(key: &str) -> std::borrow::Cow<'_, str> {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1").into()
    } else {
        key.into()
    }
}

/// The key a JSON pointer's `token` stands for (RFC 6901): [`escape`] undone.
pub fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// The candidate closest to `unknown` in spelling, if one is close enough to be a typo; of
/// two as close, one that differs only in case (`Z` is `z`, not `a`): the loaders' "did you
/// mean".
///
/// ```
/// assert_eq!(cairn_engine::closest("no-prd", ["no-prod", "deploy"]), Some("no-prod"));
/// ```
pub fn closest<'a>(
    unknown: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (unknown.chars().count() / 3).max(1);
    let lower = unknown.to_lowercase();
    candidates
        .into_iter()
        .map(|candidate| {
            // A difference of case alone is the closest (probe 103 F4: `MAX_DELAY`, nine
            // letters from `max_delay`, was no typo of it).
            let case_only = candidate.to_lowercase() == lower;
            let distance = match case_only {
                true => 0,
                false => strsim::damerau_levenshtein(unknown, candidate),
            };
            (distance, !case_only, candidate)
        })
        .filter(|&(distance, _, _)| distance <= limit)
        .min()
        .map(|(_, _, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn the_closest_candidate_is_named_and_a_case_only_difference_wins_a_tie() {
        assert_eq!(closest("neds", ["needs", "when"]), Some("needs"));
        assert_eq!(closest("Z", ["a", "x", "z"]), Some("z"));
        assert_eq!(closest("X", ["a", "x", "z"]), Some("x"));
        assert_eq!(
            closest("MAX_DELAY", ["max_delay", "jitter"]),
            Some("max_delay")
        );
        assert_eq!(closest("q", ["abc"]), None);
    }
}
