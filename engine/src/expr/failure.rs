//! What an evaluation's failure says: the CEL library's error, its values described by their
//! type and size rather than printed whole. The library prints them in Rust's debug form
//! (`Map(Map { map: {String("k"): Int(1), …} })`): a `${{ input.m / 1 }}` over a map of
//! 100,000 keys made a step's error of 2.9 MB, and 20 such steps over 10 MB a database of
//! 404 MB (probe 82 F2).

use cel::{ExecutionError, Value};

use crate::text::cut;

/// The longest string value a message quotes; a longer one is named by its length.
const QUOTED: usize = 100;

/// How many characters of the library's own message are kept.
const SAID: usize = 1_000;

/// What `error` says, its values [`described`].
#[allow(deprecated)] // The library's deprecated variants carry values too.
pub(super) fn said(error: &ExecutionError) -> String {
    use ExecutionError as E;
    match error {
        E::UnsupportedBinaryOperator(op, left, right) => {
            format!(
                "no operator `{op}` for {} and {}",
                described(left),
                described(right)
            )
        }
        E::UnsupportedUnaryOperator(op, value) => {
            format!("no operator `{op}` for {}", described(value))
        }
        E::ValuesNotComparable(left, right) => {
            format!(
                "{} cannot be compared to {}",
                described(left),
                described(right)
            )
        }
        E::Overflow(op, left, right) => {
            format!(
                "`{op}` of {} and {} overflows",
                described(left),
                described(right)
            )
        }
        E::DivisionByZero(value) => format!("division by zero of {}", described(value)),
        E::RemainderByZero(value) => format!("remainder by zero of {}", described(value)),
        E::IndexOutOfBounds(index) => format!("index {} is out of bounds", described(index)),
        E::UnsupportedIndex(index, target) => {
            format!("{} cannot index {}", described(index), described(target))
        }
        E::UnsupportedMapIndex(index) | E::UnsupportedListIndex(index) => {
            format!("{} cannot be an index", described(index))
        }
        E::UnsupportedKeyType(key) => format!("{} cannot be a map's key", described(key)),
        E::NoSuchKey(key) if is_long(key) => format!("No such key: {}", described_text(key)),
        E::DuplicateKey(key) => format!("the key {} is repeated", described(key)),
        E::UnsupportedTargetType { target } => {
            format!("invalid argument: {}", described(target))
        }
        E::NotSupportedAsMethod { method, target } => {
            format!("`{method}` is no method of {}", described(target))
        }
        // A field read (`x.f`) of what is not a map: CEL names it by its operator, `_._`.
        E::NoSuchOverload(overload) if overload.function() == "_._" => {
            let target = overload
                .argument_types()
                .first()
                .map_or("value", String::as_str);
            let why = match target {
                "string" => {
                    " (a step's output is a string when its stdout is not one JSON value: \
                     print the JSON alone, and log on stderr)"
                }
                _ => "",
            };
            format!("a {target} has no fields: only a map's are read with `.`{why}")
        }
        other => cut(&other.to_string(), SAID),
    }
}

/// A condition's value that is not a boolean, for its error: a number, a boolean, `null` or a
/// short string as JSON; a long string, a list or a map by its size (probe 83 F3: a `when`
/// giving a string of 200 KB made an error of 200 KB).
pub(super) fn described_json(value: &serde_json::Value) -> String {
    use serde_json::Value as Json;
    match value {
        Json::String(text) if is_long(text) => described_text(text),
        Json::Array(list) => format!("a list of {} elements", list.len()),
        Json::Object(map) => format!("a map of {} entries", map.len()),
        short => short.to_string(),
    }
}

/// What is wrong with a pattern, as the `regex` crate's `error` says it: its last line, which
/// follows the pattern and a caret under the place.
pub(in crate::expr) fn regex_problem(error: &str) -> &str {
    (error.lines().rev().find(|line| !line.trim().is_empty()))
        .map_or(error, |line| line.trim_start_matches("error: "))
}

/// Whether `text` is too long to be quoted ([`QUOTED`]).
fn is_long(text: &str) -> bool {
    text.chars().nth(QUOTED).is_some()
}

/// `text` quoted as a JSON string, or, when long, named by its length.
pub(in crate::expr) fn described_text(text: &str) -> String {
    if is_long(text) {
        format!("a string of {} characters", text.chars().count())
    } else {
        serde_json::Value::from(text).to_string()
    }
}

/// `value` for a message: a number, a boolean or a short string as written in CEL; a long
/// string, a list or a map by its type and size.
fn described(value: &Value) -> String {
    match value {
        Value::Int(n) => format!("int {n}"),
        Value::UInt(n) => format!("uint {n}u"),
        Value::Float(x) => format!("double {x}"),
        Value::Bool(b) => format!("bool {b}"),
        Value::Null => "null".to_owned(),
        Value::String(text) if !is_long(text) => format!("string {}", described_text(text)),
        Value::String(text) => described_text(text),
        Value::Bytes(bytes) => format!("bytes of length {}", bytes.len()),
        Value::List(list) => format!("a list of {} elements", list.len()),
        Value::Map(map) => format!("a map of {} entries", map.map.len()),
        other => other.type_of().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;

    /// A map of `n` int keys, as big as its values make it.
    fn map_of(n: i64) -> Value {
        let entries: HashMap<i64, Value> = (0..n).map(|k| (k, Value::Int(k))).collect();
        entries.into()
    }

    #[test]
    fn a_big_operand_is_described_by_its_size_not_printed() {
        let error = ExecutionError::UnsupportedBinaryOperator("div", map_of(100_000), 1.into());
        assert_eq!(
            said(&error),
            "no operator `div` for a map of 100000 entries and int 1"
        );
        let long = Value::String(Arc::new("x".repeat(5_000_000)));
        let error = ExecutionError::ValuesNotComparable(long, Value::Null);
        assert_eq!(
            said(&error),
            "a string of 5000000 characters cannot be compared to null"
        );
        let list = Value::List(Arc::new(vec![Value::Bool(true); 3]));
        let error = ExecutionError::UnsupportedIndex("a".into(), list);
        assert_eq!(
            said(&error),
            r#"string "a" cannot index a list of 3 elements"#
        );
    }

    #[test]
    fn a_conditions_value_is_described_by_its_size_when_long() {
        let said = |value| described_json(&value);
        assert_eq!(said(serde_json::json!(1)), "1");
        assert_eq!(said(serde_json::json!("yes")), r#""yes""#);
        assert_eq!(
            said(serde_json::json!("y".repeat(200))),
            "a string of 200 characters"
        );
        assert_eq!(said(serde_json::json!({"k": "v"})), "a map of 1 entries");
        assert_eq!(said(serde_json::json!([1, 2])), "a list of 2 elements");
    }

    #[test]
    fn a_field_of_a_string_says_what_a_string_output_is() {
        let types = vec!["string".to_owned(), "string".to_owned()];
        let said = said(&ExecutionError::no_such_overload("_._", types));
        assert!(said.starts_with("a string has no fields: only a map's are read with `.`"));
        assert!(
            said.contains("print the JSON alone, and log on stderr"),
            "{said}"
        );
    }

    #[test]
    fn a_long_missing_key_is_named_by_its_size() {
        let long = "k".repeat(1_000_000);
        let said_of_key = said(&ExecutionError::NoSuchKey(Arc::new(long)));
        assert_eq!(said_of_key, "No such key: a string of 1000000 characters");
        let short = said(&ExecutionError::NoSuchKey(Arc::new("name".into())));
        assert_eq!(short, "No such key: name", "the library's own words");
    }

    #[test]
    fn the_librarys_own_message_is_cut() {
        let error = ExecutionError::function_error("f", "y".repeat(5_000));
        let said = said(&error);
        assert_eq!(said.chars().count(), SAID + 1, "{said}");
        assert!(
            said.starts_with("Error executing function 'f': yyy"),
            "{said}"
        );
    }
}
