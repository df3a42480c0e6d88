//! The patterns `matches` compiles, once per thread, and a match made by the fastest matcher
//! that can. The `regex` crate's own lazy DFA runs in time linear in the text, but the crate
//! chooses its strategy by the pattern's shape, and `'\w{200}c'` over 2 MB took it 3 s
//! where a lazy DFA of its own answers in 26 ms. So cairn runs a lazy DFA first; where it
//! gives up (its states thrash its cache) or cannot follow the text (a Unicode `\b` beside a
//! non-ASCII byte), the crate answers, with its other strategies: `a[a-z]{1000}c$` over 400
//! KB is a reverse search from the end, 10 ms (probe 79 F1 refused it when cairn bounded
//! that fallback by the pattern's states). A single call is not cut short: one that thrashes
//! both (`[a-z]*a[a-z]{1000}c` over 10 MB of random text: 33 s, probe 76 F1) holds the
//! evaluation until it ends; the clock is read before it.

use std::cell::RefCell;
use std::collections::HashMap;

use cel::ExecutionError;
use regex_automata::Input;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson::{self, NFA};

use crate::expr::failure;

/// How many compiled patterns a thread keeps (all are dropped when it would keep more).
const KEPT_PATTERNS: usize = 64;

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
    /// The `regex` crate's regex, compiled once the lazy DFA stops.
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
                    &regex::Regex::new(pattern)
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
        let dfa = (DFA::builder().configure(config).build_from_nfa(nfa))
            .map_err(|error| invalid(pattern, &error.to_string()))?;
        let cache = dfa.create_cache();
        Ok(Pattern {
            lazy: (dfa, cache),
            slow: None,
        })
    }

    fn is_match(&mut self, text: &str, pattern: &str) -> Result<bool, ExecutionError> {
        let (dfa, cache) = &mut self.lazy;
        if let Ok(found) = dfa.try_search_fwd(cache, &Input::new(text).earliest(true)) {
            return Ok(found.is_some());
        }
        let slow = match &self.slow {
            Some(slow) => slow,
            None => self.slow.insert(
                regex::Regex::new(pattern).map_err(|error| invalid(pattern, &error.to_string()))?,
            ),
        };
        Ok(slow.is_match(text))
    }
}

/// The error of a `pattern` that does not compile, the `regex` crate's `error` said in one
/// line, a long pattern named by its length (the crate draws it whole, over lines).
fn invalid(pattern: &str, error: &str) -> ExecutionError {
    let message = format!(
        "the pattern {} is no regular expression ({})",
        failure::described_text(pattern),
        failure::regex_problem(error)
    );
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

    /// A match the lazy DFA gives up on, or cannot follow, is made by the `regex` crate's
    /// matchers, with the same answer: a reverse search from the end for a pattern anchored
    /// there (probe 79 F1: refused as too dear); a text the DFA follows is matched by it.
    #[test]
    fn a_match_the_lazy_dfa_gives_up_on_is_made_by_the_regex_crate() {
        let mut anchored = random_ab(400_000);
        anchored.push_str(&format!("a{}c", "b".repeat(1_000)));
        assert_eq!(matched(&anchored, "a[a-z]{1000}c$"), Ok(true));
        assert_eq!(matched(&random_ab(2_000), "[a-z]*a[a-z]{1000}c"), Ok(false));
        let thrashing = "(a|b)*a(a|b){20}c";
        let text = random_ab(200_000);
        assert_eq!(matched(&text, thrashing), Ok(false));
        let ending = format!("{text}a{}c", "b".repeat(20));
        assert_eq!(matched(&ending, thrashing), Ok(true));
        assert_eq!(matched(&random_ab(2_000_000), "ab+a"), Ok(true));
        assert_eq!(matched("héllo wörld", r"\bwörld\b"), Ok(true));
        // Stopped at a Unicode `\b` it cannot follow: the crate's matchers.
        let greek = "αβγ δ ".repeat(100_000);
        assert_eq!(matched(&greek, r"\bword\w*\b"), Ok(false));
        let invalid = matched("b", "(").unwrap_err();
        assert!(
            invalid.contains(r#"the pattern "(" is no regular expression (unclosed group)"#),
            "{invalid}"
        );
        // A long one is named by its length, not drawn whole over lines by the crate.
        let long = format!("{}(", "a".repeat(1_000_000));
        let invalid = matched("b", &long).unwrap_err();
        assert!(
            invalid.ends_with(
                "the pattern a string of 1000001 characters is no regular expression \
                 (unclosed group)"
            ),
            "{invalid}"
        );
    }
}
