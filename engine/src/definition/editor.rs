//! The workflow schema editors read (`cairn schema workflow`, committed as
//! `schemas/workflow.schema.json`): the loader's schema ([`schema`](super::schema)) and, where
//! JSON Schema can say it, what the loader checks after it:
//!
//! - a node is exactly one of a step (`executor`), a `pipeline` and a `parallel` group; a step
//!   has an `id`, and `max_parallel` only with `for_each`; a group has a member; a need is
//!   not empty;
//! - `retry_on` offers only the classes a retry may list;
//! - a step run by an executor whose parameters are given has its `with` checked against
//!   them (keys, types, required keys), and each of its `fallbacks` too but for the required
//!   keys, which the fallback may leave to `with`. A value that is a `${{ }}` template
//!   stands for any value, as the loader leaves it to the run. Another executor's `with`
//!   stays open.
//!
//! The loader does not check files with this schema: it checks all that itself, against the
//! executors it is given, with messages of its own.

use serde_json::{Map, Value, json};

use super::SCHEMA_MESSAGE_KEY;
use super::tidy::tidy;
use crate::executor::ErrorClass;
use crate::problem::escape;

/// The `$defs` entry of a `${{ }}` template: a string holding `${{`, as the loader spots
/// one ([`find_open`](crate::expr::find_open)).
const TEMPLATE: &str = "Template";
/// The `$defs` entry of the error classes `retry_on` may list.
const RETRIED_CLASS: &str = "RetriedErrorClass";

/// The workflow schema for editors (see the module), with the parameters of each executor
/// given by name: the built-in ones, for `cairn schema workflow`.
pub fn editor_schema<'a>(
    executors: impl IntoIterator<Item = (&'a str, schemars::Schema)>,
) -> Value {
    let mut schema = super::schema().clone();
    let mut defs = match schema.get_mut("$defs").map(Value::take) {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    };
    let template = json!({
        "type": "string",
        "pattern": r"\$\{\{",
        "description": "A `${{ expr }}` template: it stands for any value, known when the step runs.",
    });
    defs.insert(TEMPLATE.into(), template);
    narrow_retry_on(&mut defs);
    let mut conditions = node_shapes();
    for (name, params) in executors {
        conditions.push(params_condition(name, params, &mut defs));
    }
    if let Some(Value::Object(node)) = defs.get_mut("Node") {
        shape_members(node);
        node.insert("allOf".into(), Value::Array(conditions));
    }
    schema["$defs"] = Value::Object(defs);
    split_union_types(&mut schema);
    schema
}

/// Writes each `type` of several types (`["object", "boolean"]`, a JSON Schema's) as an
/// `anyOf` of one type each: the same meaning, which a strict validator (Ajv) takes where it
/// refuses the first. (The loader's schema keeps the list: its message names the types.)
fn split_union_types(schema: &mut Value) {
    match schema {
        Value::Object(members) => {
            if members.get("type").is_some_and(Value::is_array)
                && let Some(Value::Array(kinds)) = members.remove("type")
            {
                let alternatives: Vec<Value> =
                    kinds.iter().map(|kind| json!({"type": kind})).collect();
                if members.contains_key("anyOf") {
                    // Beside an `anyOf` of its own: both must hold.
                    let own = Value::Object(std::mem::take(members));
                    members.insert("allOf".into(), json!([own, {"anyOf": alternatives}]));
                } else {
                    members.insert("anyOf".into(), Value::Array(alternatives));
                }
            }
            members.values_mut().for_each(split_union_types);
        }
        Value::Array(items) => items.iter_mut().for_each(split_union_types),
        _ => {}
    }
}

/// The kinds of a node, and what a step must have: the loader's node checks.
fn node_shapes() -> Vec<Value> {
    vec![
        json!({"oneOf": [
            {"required": ["executor"]},
            {"required": ["pipeline"]},
            {"required": ["parallel"]},
        ]}),
        json!({
            "if": {"required": ["executor"]},
            "then": {"required": ["id"], "dependentRequired": {"max_parallel": ["for_each"]}},
        }),
    ]
}

/// A group has a member, a need names something.
fn shape_members(node: &mut Map<String, Value>) {
    let Some(Value::Object(properties)) = node.get_mut("properties") else {
        return;
    };
    for group in ["pipeline", "parallel"] {
        if let Some(Value::Object(members)) = properties.get_mut(group) {
            members.insert("minItems".into(), json!(1));
        }
    }
    if let Some(Value::Object(need)) = properties.get_mut("needs").and_then(|n| n.get_mut("items"))
    {
        need.insert("minLength".into(), json!(1));
    }
}

/// Points `retry_on` at the error classes a retry may list
/// ([`ErrorClass::not_for_retry_on`]).
fn narrow_retry_on(defs: &mut Map<String, Value>) {
    let Some(mut classes) = defs.get("ErrorClass").cloned() else {
        return;
    };
    let unlisted = |class: &Value| {
        let class = class.get("const").cloned().unwrap_or_default();
        serde_json::from_value::<ErrorClass>(class)
            .is_ok_and(|class| class.not_for_retry_on().is_some())
    };
    if let Some(Value::Array(alternatives)) = classes.get_mut("oneOf") {
        alternatives.retain(|class| !unlisted(class));
    }
    if let Value::Object(classes) = &mut classes {
        let description = "The error classes a retry may list: all but those never retried \
            (`cancelled`, `denied`) and those retried by other rules (`stalled`, `interrupted`).";
        classes.insert("description".into(), json!(description));
    }
    defs.insert(RETRIED_CLASS.into(), classes);
    let retry_on =
        (defs.get_mut("Retry")).and_then(|retry| retry.pointer_mut("/properties/retry_on/items"));
    if let Some(items) = retry_on {
        *items = json!({"$ref": format!("#/$defs/{RETRIED_CLASS}")});
    }
    // `retry_on` was the one use of all the classes.
    let all_classes = Value::from("#/$defs/ErrorClass");
    if !(defs.values()).any(|def| refers_to(def, &all_classes)) {
        defs.remove("ErrorClass");
    }
}

/// Whether `schema` has a `$ref` to `target`.
fn refers_to(schema: &Value, target: &Value) -> bool {
    match schema {
        Value::Object(members) => {
            members.get("$ref") == Some(target)
                || members.values().any(|member| refers_to(member, target))
        }
        Value::Array(items) => items.iter().any(|item| refers_to(item, target)),
        _ => false,
    }
}

/// The condition that checks the `with` and `fallbacks` of a step run by `executor` against
/// its parameters `params`, which go into `defs` (with their own definitions).
fn params_condition(
    executor: &str,
    params: schemars::Schema,
    defs: &mut Map<String, Value>,
) -> Value {
    let name = format!("Params.{executor}");
    let mut params = params.to_value();
    tidy(&mut params);
    drop_messages(&mut params);
    let required = match params
        .as_object_mut()
        .and_then(|root| root.remove("required"))
    {
        Some(Value::Array(required)) => required,
        _ => Vec::new(),
    };
    if let Value::Object(root) = &mut params {
        root.remove("$schema");
        for key in ["definitions", "$defs"] {
            let Some(Value::Object(own)) = root.remove(key) else {
                continue;
            };
            for (key, mut def) in own {
                relocate_refs(&mut def, &name);
                templated(&mut def);
                defs.insert(format!("{name}.{key}"), def);
            }
        }
    }
    relocate_refs(&mut params, &name);
    templated(&mut params);
    defs.insert(name.clone(), params);
    let reference = json!({"$ref": format!("#/$defs/{}", escape(&name))});
    let mut then = Map::new();
    let with = if required.is_empty() {
        reference.clone()
    } else {
        then.insert("required".into(), json!(["with"]));
        json!({"allOf": [reference, {"type": "object", "required": required}]})
    };
    then.insert(
        "properties".into(),
        json!({"with": with, "fallbacks": {"type": "array", "items": reference}}),
    );
    json!({
        "if": {"properties": {"executor": {"const": executor}}, "required": ["executor"]},
        "then": then,
    })
}

/// Removes the loader's messages ([`SCHEMA_MESSAGE_KEY`], strings) from an executor's
/// parameter schema: they are no JSON Schema keyword, which a strict validator refuses.
fn drop_messages(schema: &mut Value) {
    match schema {
        Value::Object(members) => {
            if members
                .get(SCHEMA_MESSAGE_KEY)
                .is_some_and(Value::is_string)
            {
                members.remove(SCHEMA_MESSAGE_KEY);
            }
            members.values_mut().for_each(drop_messages);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_messages),
        _ => {}
    }
}

/// Points the `$ref`s of an executor's parameter schema (to its root or its own
/// definitions) where [`params_condition`] moved them: under `name` in the `$defs`.
fn relocate_refs(schema: &mut Value, name: &str) {
    match schema {
        Value::Object(members) => {
            if let Some(Value::String(target)) = members.get_mut("$ref") {
                let own = ["#/definitions/", "#/$defs/"]
                    .iter()
                    .find_map(|prefix| target.strip_prefix(prefix));
                *target = match own {
                    // `key` is a pointer's token already.
                    Some(key) => format!("#/$defs/{}.{key}", escape(name)),
                    None if target == "#" => format!("#/$defs/{}", escape(name)),
                    None => target.clone(),
                };
            }
            members
                .values_mut()
                .for_each(|member| relocate_refs(member, name));
        }
        Value::Array(items) => items.iter_mut().for_each(|item| relocate_refs(item, name)),
        _ => {}
    }
}

/// Lets a `${{ }}` template stand for every value inside what `schema` describes: each
/// schema of a member or an item also takes a template. (`schema` itself describes `with`,
/// an object, or is reached through a `$ref` made to take one.) A `not` and an `if` are left
/// alone: what a template stands for is not known, so neither is whether it matches them.
fn templated(schema: &mut Value) {
    let Value::Object(members) = schema else {
        return;
    };
    for (keyword, member) in members.iter_mut() {
        match (keyword.as_str(), member) {
            ("properties" | "patternProperties", Value::Object(children)) => {
                children.values_mut().for_each(or_template);
            }
            ("items" | "prefixItems", Value::Array(children)) => {
                children.iter_mut().for_each(or_template);
            }
            (
                "items"
                | "additionalItems"
                | "additionalProperties"
                | "contains"
                | "unevaluatedItems"
                | "unevaluatedProperties",
                child,
            ) => or_template(child),
            ("allOf" | "anyOf" | "oneOf", Value::Array(alternatives)) => {
                alternatives.iter_mut().for_each(templated);
            }
            ("then" | "else", child) => templated(child),
            ("dependentSchemas", Value::Object(children)) => {
                children.values_mut().for_each(templated);
            }
            _ => {}
        }
    }
}

/// `schema`, the schema of one value, made to take a template too (a boolean schema, or one
/// that takes anything already, stays as it is).
fn or_template(schema: &mut Value) {
    templated(schema);
    let Value::Object(members) = schema else {
        return;
    };
    const ANNOTATIONS: [&str; 4] = ["description", "title", "default", "examples"];
    if members
        .keys()
        .all(|key| ANNOTATIONS.contains(&key.as_str()))
    {
        return;
    }
    let description = members.remove("description");
    let alone = Value::Object(std::mem::take(members));
    members.insert(
        "anyOf".into(),
        json!([alone, {"$ref": format!("#/$defs/{TEMPLATE}")}]),
    );
    if let Some(description) = description {
        members.insert("description".into(), description);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::editor_schema;
    use crate::retry::{DEFAULT_INITIAL_DELAY, DEFAULT_MAX_DELAY};

    /// Whether `schema` takes the workflow of the one step `step`.
    fn takes(schema: &Value, step: Value) -> bool {
        let workflow = json!({"name": "w", "steps": [step]});
        jsonschema::validator_for(schema)
            .unwrap()
            .is_valid(&workflow)
    }

    /// An executor's own definitions (draft 7's or 2020-12's) and references to its root
    /// move with it; a template may stand for any of its values.
    #[test]
    fn an_executors_parameters_keep_their_definitions_and_take_templates() {
        let params = schemars::json_schema!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": false,
            "required": ["size"],
            "properties": {
                "size": {"$ref": "#/definitions/Size"},
                "sizes": {"type": "array", "items": {"$ref": "#/definitions/Size"}},
                "nested": {"$ref": "#"},
            },
            "definitions": {"Size": {"type": "integer", "minimum": 1}},
        });
        // A name a JSON pointer escapes.
        let schema = editor_schema([("my/sized", params)]);
        let step = |with: Value| json!({"id": "a", "executor": "my/sized", "with": with});
        for (with, taken) in [
            (json!({"size": 2, "sizes": [1, "${{ input.n }}"]}), true),
            (
                json!({"size": "${{ input.n }}", "nested": {"size": 1}}),
                true,
            ),
            (json!({"size": 0}), false),
            (json!({"size": 1, "sizes": [0]}), false),
            (json!({"size": 1, "nested": {"size": "big"}}), false),
            (json!({"size": 1, "other": "${{ input.n }}"}), false),
            (json!({"sizes": [1]}), false),
        ] {
            assert_eq!(takes(&schema, step(with.clone())), taken, "{with}");
        }
        assert!(!takes(&schema, json!({"id": "a", "executor": "my/sized"})));
        let fallback = json!({"id": "a", "executor": "my/sized", "with": {"size": 1},
                              "fallbacks": [{"sizes": [2]}]});
        assert!(takes(&schema, fallback));
        assert!(takes(
            &schema,
            json!({"id": "a", "executor": "other", "with": {"x": 1}})
        ));
    }

    #[test]
    fn the_retry_delays_say_their_defaults() {
        let schema = editor_schema([]);
        let retry = &schema["$defs"]["Retry"]["properties"];
        for (key, default) in [
            ("initial_delay", DEFAULT_INITIAL_DELAY),
            ("max_delay", DEFAULT_MAX_DELAY),
        ] {
            let description = retry[key]["description"].as_str().unwrap();
            assert!(
                description.contains(&format!("(default: {default})")),
                "{description}"
            );
        }
    }
}
