//! An expression's value as JSON: what the `cel` crate's `Value::json()` gives, in one walk
//! that refuses what that would take silently. An optional it turns into `null` (see
//! [`super::optional`]), and so does serde_json a NaN or an infinite double: JSON has no
//! such numbers.

use serde_json::Value;

use super::optional::NO_JSON_FORM;

/// `value` as JSON; why it has no JSON form when it is, or holds in its lists and maps, an
/// optional, NaN or an infinite double, or a value CEL gives none (a function).
pub(super) fn json_form(value: &cel::Value) -> Result<Value, String> {
    match value {
        cel::Value::List(items) => (items.iter().map(json_form))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        cel::Value::Map(map) => (map.map.iter())
            .map(|(key, item)| Ok((key.to_string(), json_form(item)?)))
            .collect::<Result<_, String>>()
            .map(Value::Object),
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
