//! What a JSON Schema validation error means, in the loader's words: one message per
//! offending value, with its pointer. Shared by the workflow schema and the executors'
//! parameter schemas.

use jsonschema::ValidationError;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value;

use crate::definition::duration::PATTERN as DURATION_PATTERN;
use crate::definition::{
    ENV_NAME_PATTERN, ID_PATTERN, NUL_FREE_PATTERN, SCHEMA_MESSAGE_KEY, Trigger,
};
use crate::executor::ErrorClass;
use crate::problem::{escape, unescape};

/// One problem a validation error stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    /// The pointer of the offending value, within the validated instance.
    pub(super) pointer: String,
    /// What is wrong.
    pub(super) message: String,
    /// Whether the value cannot deserialize as it is (the repair removes it).
    pub(super) fatal: bool,
    /// Whether the problem is to be told: a missing key that an unknown key beside it likely
    /// meant is not, as that key's problem names it (probe 105 F4: `STEPS` was also "missing
    /// key `steps`"), though its object is repaired all the same.
    pub(super) told: bool,
}

impl Found {
    /// A problem to be told at `pointer`; `fatal` when the value must go.
    pub(super) fn new(pointer: String, message: String, fatal: bool) -> Found {
        let told = true;
        Found {
            pointer,
            message,
            fatal,
            told,
        }
    }
}

/// The problems `error` stands for; `root` is the schema that was validated against (it
/// names the keys allowed where an unknown key was found).
pub(super) fn explain(error: &ValidationError<'_>, root: &Value) -> Vec<Found> {
    let pointer = error.instance_path().as_str().to_owned();
    let found = |message: String, fatal| Found::new(pointer.clone(), message, fatal);
    // The schema's own words, where it has some for the keyword that refused the value.
    let own = schema_at(root, error.schema_path().as_str()).get(SCHEMA_MESSAGE_KEY);
    if let Some(message) = own.and_then(Value::as_str) {
        return vec![found(message.to_owned(), false)];
    }
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed_keys(root, error.schema_path().as_str());
            let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
            unexpected
                .iter()
                .map(|key| {
                    let message = unknown_key(key, &allowed);
                    Found::new(format!("{pointer}/{}", escape(key)), message, true)
                })
                .collect()
        }
        ValidationErrorKind::Required { property } => {
            let property = property.as_str().unwrap_or_default();
            let told = !misspelt(error, root, property);
            vec![Found {
                told,
                ..found(format!("missing key `{property}`"), true)
            }]
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(single) => single.to_string(),
                TypeKind::Multiple(set) => set
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            // A fraction where an integer goes is named: "found a number" would puzzle.
            let found_text = match error.instance().as_ref() {
                number @ Value::Number(_) if expected == "integer" => number.to_string(),
                other => json_kind(other).to_owned(),
            };
            // An optional key is given no value by leaving it out, not as `null`.
            let hint = match error.instance().as_ref() {
                Value::Null if is_optional(root, error.evaluation_path().as_str()) => {
                    ": leave the key out to give none"
                }
                _ => "",
            };
            let message = format!(
                "expected {}, found {found_text}{hint}",
                expected.replace(" or null", ""),
            );
            vec![found(message, true)]
        }
        ValidationErrorKind::Pattern { pattern } if pattern == DURATION_PATTERN => {
            let message = format!(
                "bad duration {} (write it like \"90s\", \"5m\" or \"1h 30m\")",
                error.instance()
            );
            vec![found(message, true)]
        }
        ValidationErrorKind::Pattern { pattern } if pattern == ID_PATTERN => {
            let id = error.instance().as_str().unwrap_or_default();
            vec![found(crate::definition::id_problem(id, false), false)]
        }
        // A variable's name as a value (a policy's `env`), not as a key.
        ValidationErrorKind::Pattern { pattern } if pattern == ENV_NAME_PATTERN => {
            vec![found(not_a_variable(error.instance()), false)]
        }
        ValidationErrorKind::Pattern { pattern } if pattern == NUL_FREE_PATTERN => {
            let message = "holds a NUL byte, which no process can be given in an argument, a variable or its directory (a C string ends at one): remove it";
            vec![found(message.to_owned(), false)]
        }
        // The one custom keyword, a duration's check (see `durations`): its own words.
        ValidationErrorKind::Custom { message, .. } => vec![found(message.clone(), true)],
        ValidationErrorKind::Enum { options } => {
            let allowed: Vec<String> = (options.as_array().into_iter().flatten())
                .map(Value::to_string)
                .collect();
            let message = not_one_of(root, error, &allowed);
            vec![found(message, true)]
        }
        // `propertyNames`: a key of the object breaks the pattern its keys keep.
        ValidationErrorKind::PropertyNames { error: key } => {
            let message = match key.kind() {
                ValidationErrorKind::Pattern { pattern } if pattern == ENV_NAME_PATTERN => {
                    not_a_variable(key.instance())
                }
                _ => shorten(&key.to_string()),
            };
            vec![found(message, true)]
        }
        ValidationErrorKind::OneOfNotValid { .. } => {
            let allowed = schema_at(root, error.schema_path().as_str())
                .get("oneOf")
                .and_then(Value::as_array)
                .map(|alternatives| {
                    alternatives
                        .iter()
                        .filter_map(|a| a.get("const"))
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            if allowed.is_empty() {
                return vec![found(shorten(&error.to_string()), true)];
            }
            let allowed = listable(error, allowed);
            vec![found(not_one_of(root, error, &allowed), true)]
        }
        _ => vec![found(shorten(&error.to_string()), false)],
    }
}

/// Why `name`, which [`ENV_NAME_PATTERN`] refuses, names no variable.
fn not_a_variable(name: &Value) -> String {
    format!("{name} is not a variable's name: it is empty or holds `=` or NUL")
}

/// The `allowed` values (each as JSON) but, in a `retry_on`, the error classes it may not
/// list ([`ErrorClass::not_for_retry_on`]): the message offered them (probe 35 F7).
fn listable(error: &ValidationError<'_>, allowed: Vec<String>) -> Vec<String> {
    let in_retry_on = (error.instance_path().as_str().rsplit('/').nth(1)) == Some("retry_on");
    if !in_retry_on {
        return allowed;
    }
    let listable = |class: &String| {
        serde_json::from_str::<ErrorClass>(class)
            .is_ok_and(|class| class.not_for_retry_on().is_none())
    };
    allowed.into_iter().filter(listable).collect()
}

/// The message of a value that is none of the `allowed` ones (each as JSON): with the one it
/// is likely a typo of, or, for `null` where the key is optional, how to give none.
fn not_one_of(root: &Value, error: &ValidationError<'_>, allowed: &[String]) -> String {
    let instance = error.instance();
    let hint = match instance.as_ref() {
        Value::Null if is_optional(root, error.evaluation_path().as_str()) => {
            ": leave the key out to give none".to_owned()
        }
        Value::String(given) if error.instance_path().as_str().ends_with("/trigger") => {
            Trigger::airflow_hint(given).map_or_else(
                || spelling_hint(given, allowed),
                |hint| format!(" ({hint})"),
            )
        }
        Value::String(given) => spelling_hint(given, allowed),
        _ => String::new(),
    };
    format!("{instance} is not one of {}{hint}", allowed.join(", "))
}

/// ` (did you mean `…`?)` naming the `allowed` value (each as JSON) `given` is likely a typo
/// of, if one is.
fn spelling_hint(given: &str, allowed: &[String]) -> String {
    let names = allowed.iter().map(|name| name.trim_matches('"'));
    super::closest(given, names)
        .map_or(String::new(), |known| format!(" (did you mean `{known}`?)"))
}

/// The message of an unknown key: the allowed key it is likely a typo of, else all of them.
/// The one wording for unknown keys, in workflow files and in executors' parameters.
pub(super) fn unknown_key(key: &str, allowed: &[&str]) -> String {
    let hint = match super::closest(key, allowed.iter().copied()) {
        Some(known) => format!(" (did you mean `{known}`?)"),
        None => format!(" (allowed here: {})", allowed.join(", ")),
    };
    format!("unknown key `{key}`{hint}")
}

/// Whether the object `error` (a `required` one) found without `property` holds a key its
/// schema does not allow whose closest allowed key is `property`: a misspelling of it.
pub(super) fn misspelt(error: &ValidationError<'_>, root: &Value, property: &str) -> bool {
    let allowed = allowed_keys(root, error.schema_path().as_str());
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    let keys = error
        .instance()
        .as_object()
        .into_iter()
        .flat_map(|members| members.keys());
    keys.filter(|key| !allowed.contains(&key.as_str()))
        .any(|key| super::closest(key, allowed.iter().copied()) == Some(property))
}

/// The keys allowed by the object schema whose `additionalProperties` refused a key.
fn allowed_keys(root: &Value, schema_path: &str) -> Vec<String> {
    let properties = schema_at(root, schema_path)
        .get("properties")
        .and_then(Value::as_object);
    properties
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

/// Whether the `type`, `enum` or `oneOf` at `evaluation_path` (the path through `$ref`s) is
/// that of a key its object does not require.
fn is_optional(root: &Value, evaluation_path: &str) -> bool {
    let keyword = ["/type", "/enum", "/oneOf"]
        .into_iter()
        .find_map(|keyword| evaluation_path.strip_suffix(keyword));
    let mut property = keyword.unwrap_or_default();
    while let Some(referring) = property.strip_suffix("/$ref") {
        property = referring;
    }
    let Some((object, key)) = property.rsplit_once('/') else {
        return false;
    };
    let Some(object) = object.strip_suffix("/properties") else {
        return false;
    };
    let key = unescape(key);
    let required = schema_at(root, &format!("{object}/required")).get("required");
    let required = required.and_then(Value::as_array).into_iter().flatten();
    !required.into_iter().any(|name| name.as_str() == Some(&key))
}

/// The (sub)schema of `root` holding the keyword at the end of `schema_path`, following
/// `$ref`s.
fn schema_at<'a>(root: &'a Value, schema_path: &str) -> &'a Value {
    let mut node = root;
    let mut tokens: Vec<&str> = schema_path.split('/').skip(1).collect();
    tokens.pop();
    for token in tokens {
        if token == "$ref" {
            let target = node.get("$ref").and_then(Value::as_str).unwrap_or_default();
            node = root
                .pointer(target.trim_start_matches('#'))
                .unwrap_or(&Value::Null);
            continue;
        }
        let token = unescape(token);
        node = match node {
            Value::Object(members) => members.get(&token).unwrap_or(&Value::Null),
            Value::Array(items) => token
                .parse::<usize>()
                .ok()
                .and_then(|index| items.get(index))
                .unwrap_or(&Value::Null),
            _ => &Value::Null,
        };
    }
    node
}

/// What kind of JSON value `value` is, for messages ("an array", "null").
pub(super) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Cuts long messages (they may quote big values).
pub(super) fn shorten(message: &str) -> String {
    crate::text::cut(message, 200)
}
