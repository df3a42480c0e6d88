//! The durations of an executor's parameters, checked as the workflow's own are: by
//! [`Duration::read`], which refuses a unit humantime lacks and a duration over 100 years
//! alike. Its JSON Schema's `pattern` can only say the first, so the loader compiles a
//! parameter schema with a keyword of its own in place of each duration's pattern.

use jsonschema::paths::Location;
use jsonschema::{Keyword, ValidationError};
use serde_json::{Map, Value};

use crate::definition::Duration;
use crate::definition::duration::PATTERN;

/// The keyword that stands for a duration's `pattern` in a compiled parameter schema.
const KEYWORD: &str = "cairnDuration";

/// Compiles an executor's parameter `schema`, each duration's `pattern` replaced by the
/// check of [`Duration::read`] (in `schema` too, so that its paths match the validator's).
pub(super) fn validator_for(schema: &mut Value) -> Result<jsonschema::Validator, String> {
    mark(schema);
    jsonschema::options()
        .with_keyword(KEYWORD, duration_keyword)
        .build(schema)
        .map_err(|error| error.to_string())
}

/// Replaces the `pattern` of every duration schema in `schema` by [`KEYWORD`].
fn mark(schema: &mut Value) {
    match schema {
        Value::Object(members) => {
            if members.get("pattern").and_then(Value::as_str) == Some(PATTERN) {
                members.remove("pattern");
                members.insert(KEYWORD.into(), Value::Bool(true));
            }
            members.values_mut().for_each(mark);
        }
        Value::Array(items) => items.iter_mut().for_each(mark),
        _ => {}
    }
}

/// Builds the validator of [`KEYWORD`].
fn duration_keyword<'a>(
    _: &'a Map<String, Value>,
    _: &'a Value,
    _: Location,
) -> Result<Box<dyn for<'i> Keyword<'i>>, ValidationError<'a>> {
    Ok(Box::new(IsDuration))
}

/// A string is a duration [`Duration::read`] takes (other types are `type`'s to refuse).
struct IsDuration;

impl<'i> Keyword<'i> for IsDuration {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
        match instance.as_str().map(Duration::read) {
            Some(Err(message)) => Err(ValidationError::custom(message)),
            _ => Ok(()),
        }
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        self.validate(instance).is_ok()
    }
}
