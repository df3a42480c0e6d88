//! An expression's value as JSON: what the `cel` crate's `Value::json()` gives, in one walk
//! that refuses what that would take silently. An optional it turns into `null` (see
//! [`super::optional`]), and so does serde_json a NaN or an infinite double: JSON has no
//! such numbers. A map with two keys of one text (`{1: 'a', '1': 'b'}`) it makes an object
//! with one of them, which varies from run to run with the map's hash order.

use cel::objects::Key;
use serde_json::Value;

use super::optional::NO_JSON_FORM;

/// `value` as JSON; why it has no JSON form when it is, or holds in its lists and maps, an
/// optional, NaN or an infinite double, a map with two keys of one text, or a value CEL
/// gives none (a function).
pub(super) fn json_form(value: &cel::Value) -> Result<Value, String> {
    match value {
        cel::Value::List(items) => (items.iter().map(json_form))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        cel::Value::Map(map) => {
            let mut members = serde_json::Map::new();
            for (key, item) in map.map.iter() {
                let text = key.to_string();
                if members.insert(text, json_form(item)?).is_some() {
                    return Err(same_json_key(map, key));
                }
            }
            Ok(Value::Object(members))
        }
        cel::Value::Float(number) if number.is_nan() => Err(NOT_A_NUMBER.to_owned()),
        cel::Value::Float(number) if number.is_infinite() => Err(INFINITE.to_owned()),
        // The one opaque value of the run's context: an optional.
        cel::Value::Opaque(opaque) if opaque.json().is_none() => Err(NO_JSON_FORM.to_owned()),
        other => other.json().map_err(|error| error.to_string()),
    }
}

/// Why an expression whose value is or holds NaN is refused.
pub(super) const NOT_A_NUMBER: &str = "its value is or holds NaN, a double JSON cannot hold \
    (`0.0 / 0.0` gives it)";

/// Why an expression whose value is or holds an infinite double is refused.
pub(super) const INFINITE: &str = "its value is or holds an infinite double, which JSON cannot \
    hold (a division by `0.0`, or a result past ±1.8e308, gives it)";

/// Why a map whose key `key` has the text of another key is refused: its keys of that text
/// (two: an int or uint and a string, or a bool and a string; CEL takes `1` and `1u` as one
/// key), as CEL literals, in a stable order.
fn same_json_key(map: &cel::objects::Map, key: &Key) -> String {
    let text = key.to_string();
    let mut keys: Vec<String> = (map.map.keys())
        .filter(|other| other.to_string() == text)
        .map(literal)
        .collect();
    keys.sort();
    format!(
        "its value is or holds a map whose keys {} become the same JSON key `{text}`: give it \
         keys of one type",
        keys.join(" and ")
    )
}

/// `key` as a CEL literal.
fn literal(key: &Key) -> String {
    match key {
        Key::Int(number) => number.to_string(),
        Key::Uint(number) => format!("{number}u"),
        Key::Bool(value) => value.to_string(),
        Key::String(text) => Value::String(text.to_string()).to_string(),
    }
}
