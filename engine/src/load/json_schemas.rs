//! The JSON Schemas a workflow holds (`input`, each step's `output_schema`): each must
//! compile when the file loads, not fail the run once a step has run. Every problem is told
//! at its own place inside the schema, not at the schema's root (probe 35 F4).

use serde_json::Value;

use crate::problem::{Problem, closest};

/// The types a JSON Schema's `type` may name.
const TYPES: [&str; 7] = [
    "array", "boolean", "integer", "null", "number", "object", "string",
];

/// The problems of `schema`, found at `pointer` in the file: none if it compiles.
pub(super) fn problems(schema: &Value, pointer: &str) -> Vec<Problem> {
    let Err(compiled) = jsonschema::validator_for(schema) else {
        return Vec::new();
    };
    // A `$schema` naming no draft the library knows: told at that key, with the drafts it
    // knows (probe 67 F7: the library's "must be registered in the registry", at the root).
    if let Some(Value::String(meta)) = schema.get("$schema")
        && jsonschema::meta::validator_for(schema).is_err()
    {
        let message = format!(
            "unknown meta-schema {meta:?}: cairn reads JSON Schema drafts 4, 6, 7, 2019-09 and \
             2020-12 (`https://json-schema.org/draft/2020-12/schema`); leave `$schema` out for \
             2020-12"
        );
        return vec![Problem::at(format!("{pointer}/$schema"), message)];
    }
    // What the meta-schema refuses, each at its place; else what only compiling finds (a
    // pattern that is no regex, a `$ref` to nothing), at its place.
    let mut refused: Vec<Problem> = (jsonschema::meta::validator_for(schema).ok())
        .map(|meta| {
            (meta.iter_errors(schema))
                .map(|error| problem(pointer, error.instance_path().as_str(), &error))
                .collect()
        })
        .unwrap_or_default();
    // The meta-schema refuses a value once for each of its drafts' definitions that
    // reads it, one after the other (`"items": 3` eight times): told once (probe 36 F6).
    refused.dedup();
    if refused.is_empty() {
        return vec![compiling(schema, pointer, &compiled)];
    }
    // Compiling stops at the meta-schema's first refusal: a pattern that is no regex (a
    // `pattern`, a `patternProperties` key), which only compiling finds, is looked for
    // apart (probe 38 F7).
    each_keyword(schema, &mut String::new(), &mut |inner, key, value| {
        let patterns: Vec<(String, &str)> = match (key, value) {
            ("pattern", Value::String(pattern)) => vec![(inner.to_owned(), pattern)],
            ("patternProperties", Value::Object(keys)) => (keys.keys())
                .map(|pattern| {
                    let place = format!("{inner}/{}", crate::problem::escape(pattern));
                    (place, pattern.as_str())
                })
                .collect(),
            _ => Vec::new(),
        };
        for (place, pattern) in patterns {
            if let Err(error) =
                jsonschema::validator_for(&serde_json::json!({ "pattern": pattern }))
            {
                refused.push(problem(pointer, &place, &error));
            }
        }
    });
    refused.sort_by(|a, b| a.place.cmp(&b.place));
    refused.dedup();
    refused
}

/// What only compiling `schema` found (`compiled`), at its place: a `$ref` that leads to
/// nothing is told at that `$ref`, not at the schema's root (probe 38 F7).
fn compiling(schema: &Value, pointer: &str, compiled: &jsonschema::ValidationError<'_>) -> Problem {
    let mut dangling = None;
    each_keyword(schema, &mut String::new(), &mut |inner, key, value| {
        // A pointer into this schema that finds nothing, or another document (an anchor,
        // `#name`, is left to the compiler's words).
        let leads_nowhere = value
            .as_str()
            .is_some_and(|target| match target.strip_prefix('#') {
                Some(fragment) => {
                    fragment.starts_with('/') && schema.pointer(&decoded(fragment)).is_none()
                }
                None => true,
            });
        if key == "$ref" && leads_nowhere && dangling.is_none() {
            dangling = Some((
                inner.to_owned(),
                value.as_str().unwrap_or_default().to_owned(),
            ));
        }
    });
    match dangling {
        Some((inner, target)) if target.starts_with('#') => Problem::at(
            format!("{pointer}{inner}"),
            format!("not a valid JSON Schema: `$ref` {target:?} leads to nothing in this schema"),
        ),
        Some((inner, target)) => Problem::at(
            format!("{pointer}{inner}"),
            format!(
                "not a valid JSON Schema: `$ref` {target:?} names another document, which cairn \
                 does not fetch: give the schema here, under `$defs`"
            ),
        ),
        None => problem(pointer, compiled.instance_path().as_str(), compiled),
    }
}

/// A JSON pointer from a URI fragment: its `%XX` escapes read.
fn decoded(fragment: &str) -> String {
    percent_encoding::percent_decode_str(fragment)
        .decode_utf8_lossy()
        .into_owned()
}

/// Calls `visit` with the place (under `at`), the key and the value of every keyword of
/// `schema` and of its subschemas. Values that are data, not schemas (`const`, `default`,
/// `enum`, `examples`), are not looked into.
fn each_keyword(schema: &Value, at: &mut String, visit: &mut dyn FnMut(&str, &str, &Value)) {
    let len = at.len();
    match schema {
        Value::Object(keys) => {
            for (key, value) in keys {
                at.push('/');
                at.push_str(&crate::problem::escape(key));
                visit(at, key, value);
                if !matches!(key.as_str(), "const" | "default" | "enum" | "examples") {
                    each_keyword(value, at, visit);
                }
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                at.push_str(&format!("/{index}"));
                each_keyword(item, at, visit);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

/// `error`, found at `inner` in the schema at `pointer`, with the type it likely meant when
/// it is a `type` no JSON Schema has.
fn problem(pointer: &str, inner: &str, error: &jsonschema::ValidationError<'_>) -> Problem {
    let types = TYPES.join(", ");
    let message = match error.instance().as_ref() {
        Value::String(named) if inner.ends_with("/type") && !TYPES.contains(&named.as_str()) => {
            let meant = closest(named, TYPES)
                .map_or(String::new(), |known| format!(" (did you mean `{known}`?)"));
            format!("{named:?} is not a type: a `type` is one of {types}{meant}")
        }
        given @ (Value::Null | Value::Bool(_) | Value::Number(_) | Value::Object(_))
            if inner.ends_with("/type") =>
        {
            format!("{given} is not a type: a `type` is one of {types}, or a list of them")
        }
        // A list of types: each that is none, with the one it likely meant.
        Value::Array(named) if inner.ends_with("/type") => {
            let wrong: Vec<String> = (named.iter())
                .filter(|name| !name.as_str().is_some_and(|name| TYPES.contains(&name)))
                .map(|name| {
                    let meant = (name.as_str())
                        .and_then(|name| closest(name, TYPES))
                        .map_or(String::new(), |known| format!(" (did you mean `{known}`?)"));
                    format!("{name}{meant}")
                })
                .collect();
            let twice = (named.iter().enumerate())
                .find(|(at, name)| named[..*at].contains(name))
                .map(|(_, name)| name);
            // Both told at once: a typo hid a name listed twice (probe 43 f4).
            let twice = twice.map(|name| format!("{name} is listed twice: name each type once"));
            match (named.is_empty(), wrong.is_empty(), twice) {
                (true, _, _) => format!("an empty list names no type: name one of {types}"),
                (_, false, twice) => {
                    let wrong = format!(
                        "{} not a type: a `type` is one of {types}",
                        wrong.join(", ") + if wrong.len() == 1 { " is" } else { " are" }
                    );
                    match twice {
                        Some(twice) => format!("{wrong}; {twice}"),
                        None => wrong,
                    }
                }
                (_, true, Some(twice)) => twice,
                (_, true, None) => error.to_string(),
            }
        }
        // Draft 4 to 7 take for `items` a schema or a list of them, which their meta-schema
        // says with an `anyOf`, whose words name neither.
        given
            if inner.ends_with("/items")
                && matches!(
                    error.kind(),
                    jsonschema::error::ValidationErrorKind::AnyOf { .. }
                ) =>
        {
            format!("{given} is not a schema (an object or a boolean), nor a list of schemas")
        }
        _ => error.to_string(),
    };
    Problem::at(
        format!("{pointer}{inner}"),
        format!("not a valid JSON Schema: {message}"),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::problems;

    fn told(schema: serde_json::Value) -> Vec<String> {
        (problems(&schema, "/input").into_iter())
            .map(|problem| format!("{}: {}", problem.place, problem.message))
            .collect()
    }

    #[test]
    fn each_problem_is_told_at_its_place_a_mistyped_type_with_the_one_it_meant() {
        let schema = json!({"type": "object", "properties": {
            "files": {"type": "array", "items": {"type": "strin"}},
            "n": {"type": "integer", "minimum": "0"}
        }});
        assert_eq!(
            told(schema),
            [
                "/input/properties/files/items/type: not a valid JSON Schema: \"strin\" is not a type: a `type` is one of array, boolean, integer, null, number, object, string (did you mean `string`?)",
                "/input/properties/n/minimum: not a valid JSON Schema: \"0\" is not of type \"number\"",
            ]
        );
        assert!(told(json!({"type": "object"})).is_empty());
        assert_eq!(
            told(json!({"items": 3, "properties": {"a": {"type": ["integr", "null"]}}})),
            [
                "/input/items: not a valid JSON Schema: 3 is not of types \"boolean\", \"object\"",
                "/input/properties/a/type: not a valid JSON Schema: \"integr\" (did you mean `integer`?) is not a type: a `type` is one of array, boolean, integer, null, number, object, string",
            ]
        );
        assert_eq!(
            told(json!({"properties": {"a": {"type": []}, "b": {"type": ["string", "string"]}}})),
            [
                "/input/properties/a/type: not a valid JSON Schema: an empty list names no type: name one of array, boolean, integer, null, number, object, string",
                "/input/properties/b/type: not a valid JSON Schema: \"string\" is listed twice: name each type once",
            ]
        );
        assert_eq!(
            told(json!({"type": ["string", "strng", "string"]})),
            [
                "/input/type: not a valid JSON Schema: \"strng\" (did you mean `string`?) is not a type: a `type` is one of array, boolean, integer, null, number, object, string; \"string\" is listed twice: name each type once",
            ]
        );
        assert_eq!(
            told(json!({"type": 5})),
            [
                "/input/type: not a valid JSON Schema: 5 is not a type: a `type` is one of array, boolean, integer, null, number, object, string, or a list of them"
            ]
        );
    }

    #[test]
    fn a_pattern_that_is_no_regex_is_told_beside_the_other_problems() {
        let told = told(json!({"properties": {
            "a": {"pattern": "["}, "b": {"type": "strin"}, "c": {"const": {"pattern": "["}}
        }}));
        assert_eq!(told.len(), 2, "{told:?}");
        assert!(
            told[0].starts_with("/input/properties/a/pattern: "),
            "{told:?}"
        );
        assert!(
            told[1].starts_with("/input/properties/b/type: "),
            "{told:?}"
        );
    }

    #[test]
    fn a_pattern_property_that_is_no_regex_is_told_at_its_key_beside_the_other_problems() {
        let told = told(json!({"patternProperties": {"^a/[": {}, "^b$": {}}, "type": "objet"}));
        assert_eq!(told.len(), 2, "{told:?}");
        assert!(
            told[0].starts_with("/input/patternProperties/^a~1[: not a valid JSON Schema: "),
            "{told:?}"
        );
        assert!(told[1].starts_with("/input/type: "), "{told:?}");
    }

    #[test]
    fn an_older_drafts_items_that_is_no_schema_is_told_what_items_takes() {
        let schema = json!({"$schema": "http://json-schema.org/draft-07/schema#", "items": 3});
        assert_eq!(
            told(schema),
            [
                "/input/items: not a valid JSON Schema: 3 is not a schema (an object or a boolean), nor a list of schemas"
            ]
        );
    }

    #[test]
    fn a_ref_that_leads_to_nothing_is_told_at_the_ref() {
        let schema = json!({"$defs": {"a b": {"type": "string"}}, "properties": {
            "x": {"$ref": "#/$defs/a%20b"}, "y": {"items": {"$ref": "#/$defs/nope"}}
        }});
        assert_eq!(
            told(schema),
            [
                "/input/properties/y/items/$ref: not a valid JSON Schema: `$ref` \"#/$defs/nope\" leads to nothing in this schema"
            ]
        );
        let told = told(json!({"properties": {"x": {"$ref": "https://example.com/s.json"}}}));
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(
            told[0].starts_with("/input/properties/x/$ref: "),
            "{told:?}"
        );
    }

    #[test]
    fn what_only_compiling_finds_is_told_at_its_place() {
        let told = told(json!({"properties": {"a": {"pattern": "("}}}));
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(
            told[0].starts_with("/input/properties/a/pattern: not a valid JSON Schema: "),
            "{told:?}"
        );
    }
}
