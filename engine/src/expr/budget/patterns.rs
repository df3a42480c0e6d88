//! The patterns `matches` compiles, once per thread, and a match's time held to the pattern's
//! work over the text. The `regex` crate's lazy DFA runs in time linear in the text, but
//! gives up on a pattern whose states thrash its cache (a bounded repetition, `[a-z]{1000}`
//! over random text), and the crate then falls back to a matcher whose time is the text's
//! length times the pattern's states: one call over 10 MB took 33 s, past any time limit
//! (probe 76 F1). So cairn runs the lazy DFA itself, and the slow matcher only for a text
//! and a pattern whose work is within [`MAX_SLOW_WORK`].

use std::cell::RefCell;
use std::collections::HashMap;

use cel::ExecutionError;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson::{self, NFA};
use regex_automata::{Input, MatchErrorKind};

/// How many compiled patterns a thread keeps (all are dropped when it would keep more).
const KEPT_PATTERNS: usize = 64;

/// The most work (a text's bytes times a pattern's states) a match that the lazy DFA gave up
/// on may take in the slow matcher: about a second (2 MB of text and a thousand states took
/// 7 s).
const MAX_SLOW_WORK: usize = 1 << 28;

/// The most work a match may take in the `regex` crate's matchers when the lazy DFA stopped
/// at a non-ASCII byte beside a Unicode `\b`, which it cannot follow, rather than gave up:
/// its states did not thrash, and the crate's own matchers find most such matches at once
/// (`\bword\w*\b`, 328 states, over 8 MB of Greek: 1 ms).
const MAX_UNFOLLOWED_WORK: usize = 1 << 32;

/// The `regex` crate's limit on a compiled pattern's size, which cairn's check of a file
/// applies (`functions::invalid_pattern`).
const PATTERN_SIZE_LIMIT: usize = 10 << 20;

thread_local! {
    /// The patterns compiled on this thread, by text.
    static PATTERNS: RefCell<HashMap<String, Pattern>> = RefCell::new(HashMap::new());
}

/// A compiled pattern.
struct Pattern {
    /// The lazy DFA, and its cache of the states it built.
    lazy: (DFA, Cache),
    /// How many states the pattern's automaton has.
    states: usize,
    /// The `regex` crate's regex, compiled once the lazy DFA gives up.
    slow: Option<regex::Regex>,
}

/// Whether `pattern` matches in `text`, as the `regex` crate says, or why the match is not
/// made; `on_new` is called before a pattern is compiled for the first time on this thread.
pub(super) fn is_match(
    text: &str,
    pattern: &str,
    on_new: impl FnOnce() -> Result<(), ExecutionError>,
) -> Result<bool, ExecutionError> {
    PATTERNS.with_borrow_mut(|kept| {
        if !kept.contains_key(pattern) {
            on_new()?;
            let compiled = Pattern::new(pattern)?;
            if kept.len() >= KEPT_PATTERNS {
                kept.clear();
            }
            kept.insert(pattern.to_owned(), compiled);
        }
        let compiled = kept.get_mut(pattern).expect("kept above");
        compiled.is_match(text, pattern)
    })
}

impl Pattern {
    fn new(pattern: &str) -> Result<Pattern, ExecutionError> {
        let limit = thompson::Config::new().nfa_size_limit(Some(PATTERN_SIZE_LIMIT));
        let nfa = match NFA::compiler().configure(limit).build(pattern) {
            Ok(nfa) => nfa,
            // The `regex` crate's message, as a file's check gives it.
            Err(error) => {
                return Err(invalid(
                    pattern,
                    &compiled(pattern)
                        .err()
                        .map_or_else(|| error.to_string(), |error| error.to_string()),
                ));
            }
        };
        let config = DFA::config()
            .unicode_word_boundary(true)
            .skip_cache_capacity_check(true)
            .minimum_cache_clear_count(Some(3))
            .minimum_bytes_per_state(Some(10));
        let states = nfa.states().len();
        let dfa = (DFA::builder().configure(config).build_from_nfa(nfa))
            .map_err(|error| invalid(pattern, &error.to_string()))?;
        let cache = dfa.create_cache();
        Ok(Pattern {
            lazy: (dfa, cache),
            states,
            slow: None,
        })
    }

    fn is_match(&mut self, text: &str, pattern: &str) -> Result<bool, ExecutionError> {
        let (dfa, cache) = &mut self.lazy;
        let limit = match dfa.try_search_fwd(cache, &Input::new(text).earliest(true)) {
            Ok(found) => return Ok(found.is_some()),
            Err(stopped) if matches!(stopped.kind(), MatchErrorKind::Quit { .. }) => {
                MAX_UNFOLLOWED_WORK
            }
            Err(_) => MAX_SLOW_WORK,
        };
        let work = text.len().saturating_mul(self.states);
        if work > limit {
            let message = format!(
                "'{pattern}' over {} bytes of text is too dear to match: {} states times \
                 {} bytes, past the {limit} a match may take once the fast matcher stops \
                 (match a shorter text, or a pattern without a long bounded repetition)",
                text.len(),
                self.states,
                text.len()
            );
            return Err(ExecutionError::function_error("matches", message));
        }
        let slow = match &self.slow {
            Some(slow) => slow,
            None => self
                .slow
                .insert(compiled(pattern).map_err(|error| invalid(pattern, &error.to_string()))?),
        };
        Ok(slow.is_match(text))
    }
}

/// `pattern` compiled by the `regex` crate.
fn compiled(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(pattern)
}

/// The error of a `pattern` that does not compile, as the CEL library says it.
fn invalid(pattern: &str, error: &str) -> ExecutionError {
    let message = format!("'{pattern}' not a valid regex:\n{error}");
    ExecutionError::function_error("matches", message)
}

#[cfg(test)]
mod tests {
    use super::is_match;

    /// `n` bytes of `a` and `b` in no order a lazy DFA's few states could follow.
    fn random_ab(n: usize) -> String {
        let mut x: u64 = 88_172_645_463_325_252;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x & 1 == 0 { 'a' } else { 'b' }
        };
        (0..n).map(|_| next()).collect()
    }

    fn matched(text: &str, pattern: &str) -> Result<bool, String> {
        is_match(text, pattern, || Ok(())).map_err(|error| error.to_string())
    }

    /// A pattern the lazy DFA gives up on is matched by the slow matcher over a short text,
    /// and refused over a long one, at once, not after 30 s (probe 76 F1); one it follows
    /// is matched over any text.
    #[test]
    fn a_match_the_fast_matcher_gives_up_on_is_made_only_within_its_work() {
        let dear = "[a-z]*a[a-z]{1000}c";
        assert_eq!(matched(&random_ab(2_000), dear), Ok(false));
        let refused = matched(&random_ab(2_000_000), dear).unwrap_err();
        assert!(refused.contains("is too dear to match"), "{refused}");
        let thrashing = "(a|b)*a(a|b){20}c";
        let text = random_ab(200_000);
        assert_eq!(matched(&text, thrashing), Ok(false));
        let ending = format!("{text}a{}c", "b".repeat(20));
        assert_eq!(matched(&ending, thrashing), Ok(true));
        assert_eq!(matched(&random_ab(2_000_000), "ab+a"), Ok(true));
        assert_eq!(matched("héllo wörld", r"\bwörld\b"), Ok(true));
        // Stopped at a Unicode `\b` it cannot follow, not thrashing: the crate's matchers.
        let greek = "αβγ δ ".repeat(100_000);
        assert_eq!(matched(&greek, r"\bword\w*\b"), Ok(false));
        let invalid = matched("b", "(").unwrap_err();
        assert!(invalid.contains("'(' not a valid regex"), "{invalid}");
    }
}
