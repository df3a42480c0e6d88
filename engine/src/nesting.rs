//! How deep JSON nests. A value an attempt produces (an executor's output, a rendered
//! `with`) nested deeper than [`MAX_DEPTH`] levels is refused: every value a run holds then
//! nests a known few levels at most, and its recursive drop and serialization stay
//! shallow. The store wraps values in a few more levels (a run's output holds its sinks'
//! outputs, a read packs rows in arrays), past serde_json's recursion limit: [`from_stored`]
//! reads those, bounded by [`READ_LIMIT`]; [`read_output`] reads an executor's JSON text
//! up to [`MAX_DEPTH`] and refuses it deeper. Nothing here recurses on the data.

use std::cmp::Ordering;
use std::ops::ControlFlow;

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::Value;
use serde_json::de::SliceRead;

/// The deepest nesting of arrays and objects a value an attempt produces may have (a file
/// the loader reads nests one level less: serde_json refuses 128).
pub(crate) const MAX_DEPTH: usize = 128;

/// The deepest nesting a read of the store takes: a value the engine stored (at most
/// [`MAX_DEPTH`] levels) in the few levels the store adds around it (a `for_each` step's
/// list of items, the run's output by step id, a read's rows), with room to spare.
const READ_LIMIT: usize = MAX_DEPTH + 16;

/// A value nested deeper than the 128 levels of arrays and objects a run holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("nested deeper than {MAX_DEPTH} levels of arrays and objects")]
pub struct TooDeep;

/// Whether `value`, placed inside `outer` levels of arrays and objects, nests at most
/// [`MAX_DEPTH`] levels: walked without recursion, one iterator a level open, so no deeper
/// than the limit.
pub(crate) fn check(value: &Value, outer: usize) -> Result<(), TooDeep> {
    let mut open: Vec<Children<'_>> = Vec::new();
    let mut value = value;
    loop {
        if let Some(children) = Children::of(value) {
            if outer + open.len() + 1 > MAX_DEPTH {
                return Err(TooDeep);
            }
            open.push(children);
        }
        loop {
            let Some(children) = open.last_mut() else {
                return Ok(());
            };
            if let Some(child) = children.next() {
                value = child;
                break;
            }
            open.pop();
        }
    }
}

/// The values inside an array or an object.
enum Children<'v> {
    Items(std::slice::Iter<'v, Value>),
    Members(serde_json::map::Values<'v>),
}

impl<'v> Children<'v> {
    /// The children of `value`, if it is an array or an object.
    fn of(value: &'v Value) -> Option<Self> {
        match value {
            Value::Array(items) => Some(Children::Items(items.iter())),
            Value::Object(members) => Some(Children::Members(members.values())),
            _ => None,
        }
    }
}

impl<'v> Iterator for Children<'v> {
    type Item = &'v Value;

    fn next(&mut self) -> Option<&'v Value> {
        match self {
            Children::Items(items) => items.next(),
            Children::Members(members) => members.next(),
        }
    }
}

/// Drops `value` without recursion: a value refused as [`TooDeep`] may nest deeper than the
/// stack takes a recursive drop of.
pub(crate) fn dismantle(value: Value) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(members) => stack.extend(members.into_iter().map(|(_, item)| item)),
            _ => {}
        }
    }
}

/// What [`scan`] meets in JSON text: a bracket outside strings, or a string's contents.
pub(crate) enum Token<'t> {
    /// `[` or `{`.
    Open,
    /// `]` or `}`.
    Close,
    /// The bytes between a string's quotes, escapes as written.
    String(&'t [u8]),
}

/// Hands `each` the brackets outside strings and the strings of JSON `text`, in order,
/// scanned byte by byte, until it breaks. Text that is not JSON is scanned all the same.
pub(crate) fn scan<'t>(text: &'t [u8], mut each: impl FnMut(Token<'t>) -> ControlFlow<()>) {
    let (mut at, mut string_start) = (0, None);
    while at < text.len() {
        let flow = match (string_start, text[at]) {
            (Some(_), b'\\') => {
                at += 1;
                ControlFlow::Continue(())
            }
            (Some(start), b'"') => {
                string_start = None;
                each(Token::String(&text[start..at]))
            }
            (None, b'"') => {
                string_start = Some(at + 1);
                ControlFlow::Continue(())
            }
            (None, b'[' | b'{') => each(Token::Open),
            (None, b']' | b'}') => each(Token::Close),
            _ => ControlFlow::Continue(()),
        };
        if flow.is_break() {
            return;
        }
        at += 1;
    }
}

/// How deep the arrays and objects of JSON `text` nest (brackets outside strings).
fn text_depth(text: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0);
    scan(text, |token| {
        match token {
            Token::Open => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Token::Close => depth = depth.saturating_sub(1),
            Token::String(_) => {}
        }
        ControlFlow::Continue(())
    });
    deepest
}

/// Reads stored JSON `text` with `read` (then checks nothing follows it). Text serde_json
/// refuses is read again without its recursion limit when it nests at most [`READ_LIMIT`]
/// levels deep (the store's reads of values near [`MAX_DEPTH`]): deeper, its error stands, as
/// the stack would not take it.
pub(crate) fn from_stored<'de, T>(
    text: &'de [u8],
    mut read: impl FnMut(&mut serde_json::Deserializer<SliceRead<'de>>) -> serde_json::Result<T>,
) -> serde_json::Result<T> {
    match parse(text, false, &mut read) {
        Err(error) if error.is_syntax() && text_depth(text) <= READ_LIMIT => {
            parse(text, true, read)
        }
        parsed => parsed,
    }
}

/// JSON `text` read with `read`, then checked that nothing follows; `unbounded`, past
/// serde_json's recursion limit (the caller bounds the depth).
fn parse<'de, T>(
    text: &'de [u8],
    unbounded: bool,
    read: impl FnOnce(&mut serde_json::Deserializer<SliceRead<'de>>) -> serde_json::Result<T>,
) -> serde_json::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    if unbounded {
        deserializer.disable_recursion_limit();
    }
    let value = read(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// An executor's output `text` (a program's stdout) as JSON: `None` when it is not one JSON
/// document (the executor keeps it as text), [`TooDeep`] when it is one nested deeper than
/// the 128 levels a run holds, else its value. serde_json alone stops at 128 levels, and
/// the text it refused would pass the bound as a string: a document of exactly 128 levels is
/// read past that limit, and a deeper one is checked to be JSON without building it.
pub fn read_output(text: &[u8]) -> Option<Result<Value, TooDeep>> {
    if let Ok(value) = serde_json::from_slice(text) {
        return Some(Ok(value));
    }
    match text_depth(text).cmp(&MAX_DEPTH) {
        Ordering::Less => None,
        Ordering::Equal => parse(text, true, |whole| Value::deserialize(whole))
            .ok()
            .map(Ok),
        // serde_json skips a value with a stack of brackets of its own, not by recursion,
        // and sets that no limit.
        Ordering::Greater => parse(text, false, |whole| IgnoredAny::deserialize(whole))
            .is_ok()
            .then_some(Err(TooDeep)),
    }
}

/// Stored JSON `text` as a `T`, read as [`from_stored`] reads it.
pub(crate) fn parse_stored<T: DeserializeOwned>(text: &[u8]) -> serde_json::Result<T> {
    from_stored(text, |deserializer| T::deserialize(deserializer))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// `levels` arrays, one inside the other, around `0`.
    fn nested(levels: usize) -> Value {
        let mut value = json!(0);
        for _ in 0..levels {
            value = Value::Array(vec![value]);
        }
        value
    }

    #[test]
    fn values_nest_at_most_max_depth_levels() {
        let taken = nested(MAX_DEPTH);
        assert_eq!(check(&taken, 0), Ok(()));
        assert_eq!(check(&nested(MAX_DEPTH + 1), 0), Err(TooDeep));
        // Placed inside another level, the value taken alone is too deep.
        assert_eq!(check(&taken, 1), Err(TooDeep));
        assert_eq!(check(&nested(MAX_DEPTH - 1), 1), Ok(()));
        // Objects count as arrays do; scalars count nothing.
        assert_eq!(
            check(&json!({"a": {"b": nested(MAX_DEPTH - 2)}}), 0),
            Ok(())
        );
        let deeper = json!({"a": [1, {"b": nested(MAX_DEPTH - 2)}]});
        assert_eq!(check(&deeper, 0), Err(TooDeep));
        assert_eq!(check(&json!("[[[["), MAX_DEPTH), Ok(()));
        // serde_json reads one level less (as the loader does): the store reads past it.
        assert!(serde_json::from_str::<Value>(&taken.to_string()).is_err());
    }

    #[test]
    fn a_value_far_deeper_than_the_stack_takes_is_checked_and_dropped() {
        let mut deep = json!(0);
        for _ in 0..1_000_000 {
            deep = Value::Array(vec![deep]);
        }
        assert_eq!(check(&deep, 0), Err(TooDeep));
        dismantle(deep);
    }

    #[test]
    fn an_output_text_is_read_up_to_max_depth_and_refused_deeper() {
        let text = |levels: usize| format!("{}0{}\n", "[".repeat(levels), "]".repeat(levels));
        for levels in [0, MAX_DEPTH - 1, MAX_DEPTH] {
            let read = read_output(text(levels).as_bytes());
            assert_eq!(read, Some(Ok(nested(levels))), "{levels} levels");
        }
        for levels in [MAX_DEPTH + 1, READ_LIMIT + 1, 1_000_000] {
            let read = read_output(text(levels).as_bytes());
            assert_eq!(read, Some(Err(TooDeep)), "{levels} levels");
        }
        // Text that is not one JSON document stays text, however deep its brackets.
        let unclosed = "[".repeat(MAX_DEPTH);
        let deep_then_text = format!("{} and more", text(MAX_DEPTH + 1));
        for text in [&unclosed, &deep_then_text, "[1] 2", "not JSON", "1e999"] {
            assert_eq!(read_output(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn text_depth_counts_brackets_outside_strings() {
        assert_eq!(text_depth(b"0"), 0);
        assert_eq!(text_depth(br#"[{"a": [1]}, []]"#), 3);
        assert_eq!(text_depth(br#"["[[[", "\"[[", {"k\\": "]]"}]"#), 2);
    }

    #[test]
    fn stored_text_past_serde_jsons_limit_is_read_up_to_the_read_limit() {
        let wrapped = nested(MAX_DEPTH + 2).to_string();
        assert!(serde_json::from_str::<Value>(&wrapped).is_err());
        let read = parse_stored::<Value>(wrapped.as_bytes()).unwrap();
        assert_eq!(read, nested(MAX_DEPTH + 2));
        let read_limit = nested(READ_LIMIT).to_string();
        assert!(parse_stored::<Value>(read_limit.as_bytes()).is_ok());
        let deeper = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let error = parse_stored::<Value>(deeper.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("recursion limit"), "{error}");
        // Other errors stand as they are, and trailing text is one.
        assert!(parse_stored::<Value>(b"[1] 2").is_err());
        assert!(parse_stored::<Value>(b"[1,").is_err());
    }
}
