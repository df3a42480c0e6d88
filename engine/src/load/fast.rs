//! The common case, a valid file, read straight into a [`Workflow`]: no `serde_json::Value`
//! of the whole file (most of the memory a big file takes) and no schema validator (most of
//! the time a small file takes).
//!
//! A file is taken here only when the types accept it and it keeps what the schema asks
//! beyond the types: objects where the types would also take an array, no `null` (an
//! optional key is left out), no step key on a group (even one the types read as absent,
//! `"with": {}`), JSON Schemas (`input`, `output_schema`) that are objects or booleans, the
//! bounds of numbers, a non-empty name and step list, the form of ids (durations check their
//! own form as they deserialize). Anything else goes the full way, which explains every problem: this path
//! may pass a valid file on, never accept an invalid one. A test compares the checks here
//! with the constraints of the generated schema.

use std::fmt;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::definition::{
    Limits, MAX_PARALLEL_CEILING, Node, Retry, STEP_KEYS, Stall, Workflow, is_id,
};

/// `source` as a workflow, when it is one the schema accepts as it is.
pub(super) fn workflow(source: &str) -> Option<Workflow> {
    if !plain(source) {
        return None;
    }
    let workflow: Workflow = serde_json::from_str(source).ok()?;
    within_bounds(&workflow).then_some(workflow)
}

/// Whether `workflow` keeps the schema's bounds.
fn within_bounds(workflow: &Workflow) -> bool {
    let Limits {
        max_parallel,
        max_steps,
        timeout: _,
        max_plan_depth,
    } = &workflow.limits;
    !workflow.name.is_empty()
        && !workflow.steps.is_empty()
        && (1..=MAX_PARALLEL_CEILING).contains(max_parallel)
        && (1..=crate::definition::MAX_STEPS_CEILING).contains(max_steps)
        && (1..=crate::definition::MAX_PLAN_DEPTH_CEILING).contains(max_plan_depth)
        && workflow.input.as_ref().is_none_or(is_schema)
        && workflow.defaults.retry.as_ref().is_none_or(retry_within)
        && workflow.stall.as_ref().is_none_or(stall_within)
        && workflow.steps.iter().all(node_within)
}

fn node_within(node: &Node) -> bool {
    let id_ok = node.id.as_deref().is_none_or(is_id);
    let members = node.pipeline.iter().chain(&node.parallel).flatten();
    id_ok
        && node
            .max_parallel
            .is_none_or(|most| (1..=MAX_PARALLEL_CEILING).contains(&most))
        && node.retry.as_deref().is_none_or(retry_within)
        && node.output_schema.as_deref().is_none_or(is_schema)
        && members.into_iter().all(node_within)
}

/// Whether a JSON Schema (`input`, `output_schema`) is of a type the schema takes for one.
fn is_schema(schema: &Value) -> bool {
    schema.is_object() || schema.is_boolean()
}

fn retry_within(retry: &Retry) -> bool {
    (1..=1000).contains(&retry.max_attempts)
}

fn stall_within(stall: &Stall) -> bool {
    (2..=1000).contains(&stall.loop_after)
}

/// Whether a JSON text is plain: the top level an object, no `null` anywhere, no array
/// right inside an array or under a key that names a settings object (`limits`,
/// `defaults`, `retry`, `stall`), and no object with both a group's key (`pipeline`,
/// `parallel`) and a step's ([`STEP_KEYS`]). Those are the places where serde would take an
/// array for a struct (its fields in order) and the schema an object only, and where the
/// schema refuses a key the types read as absent (`"with": {}` on a group); a free value
/// (`with`, `input`) with such an array or object is passed on to the full way too.
fn plain(source: &str) -> bool {
    source.trim_start().starts_with('{')
        && serde_json::from_str::<Plain>(source).is_ok_and(|Plain(plain)| plain)
}

/// The verdict of [`plain`] on one value.
struct Plain(bool);

/// Where a value is: right inside an array, or under a key naming a settings object.
#[derive(Clone, Copy)]
struct Scan {
    wants_object: bool,
}

impl<'de> Deserialize<'de> for Plain {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Scan {
            wants_object: false,
        }
        .deserialize(deserializer)
    }
}

impl<'de> DeserializeSeed<'de> for Scan {
    type Value = Plain;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Plain, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scan {
    type Value = Plain;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Plain, E> {
        Ok(Plain(false))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Plain, E> {
        Ok(Plain(true))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Plain, E> {
        Ok(Plain(true))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Plain, E> {
        Ok(Plain(true))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Plain, E> {
        Ok(Plain(true))
    }

    fn visit_str<E>(self, _: &str) -> Result<Plain, E> {
        Ok(Plain(true))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Plain, A::Error> {
        let mut plain = !self.wants_object;
        let item = Scan { wants_object: true };
        while let Some(Plain(each)) = items.next_element_seed(item)? {
            plain &= each;
        }
        Ok(Plain(plain))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Plain, A::Error> {
        let (mut plain, mut group, mut step) = (true, false, false);
        while let Some(key) = members.next_key::<Key>()? {
            group |= key.group;
            step |= key.step;
            let wants_object = key.settings;
            let Plain(each) = members.next_value_seed(Scan { wants_object })?;
            plain &= each;
        }
        Ok(Plain(plain && !(group && step)))
    }
}

/// What a key names, read without keeping it.
struct Key {
    /// A settings object: `limits`, `defaults`, `retry`, `stall`.
    settings: bool,
    /// A group's members: `pipeline`, `parallel`.
    group: bool,
    /// A key only a step has ([`STEP_KEYS`]): `retry` too, a settings object on a step
    /// (probe 35 F1: taken for settings only, a group's valid `retry` was read and ignored).
    step: bool,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Key, E> {
        Ok(Key {
            settings: matches!(key, "limits" | "defaults" | "retry" | "stall"),
            group: matches!(key, "pipeline" | "parallel"),
            step: STEP_KEYS.contains(&key),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::workflow;
    use crate::definition;

    const VALID: &str = r#"{"name": "w", "limits": {"max_parallel": 2},
        "defaults": {"retry": {"max_attempts": 3}, "timeout": "5m"},
        "stall": {"loop_after": 2},
        "steps": [{"id": "a.b-c_1", "executor": "noop", "with": {"output": "null"}},
                  {"id": "g", "max_parallel": 1, "pipeline": [{"id": "b", "executor": "noop"}]}]}"#;

    #[test]
    fn a_valid_file_is_read_straight() {
        assert!(workflow(VALID).is_some());
    }

    #[test]
    fn what_the_schema_refuses_goes_the_full_way() {
        for (from, to) in [
            (r#""name": "w""#, r#""name": """#),
            (r#""max_parallel": 2"#, r#""max_parallel": 0"#),
            (r#""max_parallel": 2"#, r#""max_parallel": 100001"#),
            (r#""limits": {"#, r#""limits": {"max_steps": 0, "#),
            (r#""limits": {"#, r#""limits": {"max_steps": 10000001, "#),
            (r#""limits": {"#, r#""limits": {"max_plan_depth": 0, "#),
            (r#""limits": {"#, r#""limits": {"max_plan_depth": 100001, "#),
            (r#""max_attempts": 3"#, r#""max_attempts": 0"#),
            (r#""max_attempts": 3"#, r#""max_attempts": 1001"#),
            (r#""loop_after": 2"#, r#""loop_after": 1"#),
            (r#""loop_after": 2"#, r#""loop_after": 1001"#),
            (r#""id": "b""#, r#""id": "b c""#),
            (r#""id": "b""#, r#""id": """#),
            (r#""max_parallel": 1"#, r#""max_parallel": 0"#),
            (r#""max_parallel": 1"#, r#""max_parallel": 100001"#),
            (r#""max_parallel": 1"#, r#""max_parallel": 1, "with": {}"#),
            (
                r#""max_parallel": 1"#,
                r#""max_parallel": 1, "fallbacks": []"#,
            ),
            (
                r#""max_parallel": 1"#,
                r#""max_parallel": 1, "planner": false"#,
            ),
            (
                r#""id": "b","#,
                r#""id": "b", "retry": {"max_attempts": 0},"#,
            ),
            (r#""timeout": "5m""#, r#""timeout": "5""#),
            (r#""timeout": "5m""#, r#""timeout": null"#),
            (r#""output": "null""#, r#""output": null"#),
            (r#""name": "w""#, r#""name": "w", "input": 5"#),
            (r#""id": "b","#, r#""id": "b", "output_schema": [],"#),
            (r#""name": "w""#, r#""name": "w", "nme": 1"#),
            (r#""stall": {"loop_after": 2}"#, r#""stall": [null, 3]"#),
            (r#""stall": {"loop_after": 2}"#, r#""stall": []"#),
            (r#""limits": {"max_parallel": 2}"#, r#""limits": [2]"#),
            (
                r#""max_attempts": 3}"#,
                r#""max_attempts": 3}, "retry": []"#,
            ),
            (r#""steps": ["#, r#""steps": [[], "#),
            (r#""pipeline": ["#, r#""pipeline": [["b"], "#),
        ] {
            let changed = VALID.replacen(from, to, 1);
            assert_ne!(changed, VALID, "{from} not found");
            assert!(workflow(&changed).is_none(), "accepted: {to}");
        }
        for other in [
            r#"{"name": "w", "steps": []}"#,
            r#"["w", {}, {}, null, []]"#,
        ] {
            assert!(workflow(other).is_none(), "{other}");
        }
    }

    /// The schema's constraints beyond types, where they are and their values: what
    /// `within_bounds` and `Duration` check. A constraint added to the definition fails this test until the
    /// fast path checks it too.
    #[test]
    fn checks_every_constraint_of_the_schema() {
        fn walk(value: &Value, at: &str, found: &mut BTreeSet<String>) {
            const KEYWORDS: [&str; 14] = [
                "minimum",
                "maximum",
                "exclusiveMinimum",
                "exclusiveMaximum",
                "minLength",
                "maxLength",
                "minItems",
                "maxItems",
                "pattern",
                "uniqueItems",
                "minProperties",
                "multipleOf",
                "if",
                "then",
            ];
            match value {
                Value::Object(members) => {
                    for (key, member) in members {
                        if KEYWORDS.contains(&key.as_str()) {
                            found.insert(format!("{at}/{key} {member}"));
                        }
                        walk(member, &format!("{at}/{key}"), found);
                    }
                }
                Value::Array(items) => (items.iter().enumerate())
                    .for_each(|(index, item)| walk(item, &format!("{at}/{index}"), found)),
                _ => {}
            }
        }
        let mut found = BTreeSet::new();
        walk(definition::schema(), "", &mut found);
        let duration = format!(
            "/$defs/Duration/pattern {}",
            Value::from(crate::definition::duration::PATTERN)
        );
        let checked: BTreeSet<String> = [
            duration.as_str(),
            "/$defs/Limits/properties/max_plan_depth/maximum 100000",
            "/$defs/Limits/properties/max_plan_depth/minimum 1",
            "/$defs/Limits/properties/max_parallel/maximum 100000",
            "/$defs/Limits/properties/max_parallel/minimum 1",
            "/$defs/Limits/properties/max_steps/maximum 10000000",
            "/$defs/Limits/properties/max_steps/minimum 1",
            r#"/$defs/Node/if {"anyOf":[{"required":["pipeline"]},{"required":["parallel"]}],"not":{"required":["executor"]}}"#,
            r#"/$defs/Node/properties/id/pattern "^[A-Za-z0-9_.\\-]+$""#,
            "/$defs/Node/properties/max_parallel/maximum 100000",
            "/$defs/Node/properties/max_parallel/minimum 1",
            "/$defs/Retry/properties/max_attempts/maximum 1000",
            "/$defs/Retry/properties/max_attempts/minimum 1",
            "/$defs/Stall/properties/loop_after/maximum 1000",
            "/$defs/Stall/properties/loop_after/minimum 2",
            r#"/$defs/Node/then {"properties":{"fallbacks":false,"for_each":false,"heartbeat":false,"on_stall":false,"output_schema":false,"planner":false,"retry":false,"timeout":false,"trigger":false,"when":false,"with":false}}"#,
            "/properties/name/minLength 1",
            "/properties/steps/minItems 1",
        ]
        .map(str::to_owned)
        .into();
        assert_eq!(found, checked);
    }
}
