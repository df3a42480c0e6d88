//! The common case, a valid file, read straight into a [`Workflow`]: no `serde_json::Value`
//! of the whole file (most of the memory a big file takes) and no schema validator (most of
//! the time a small file takes).
//!
//! A file is taken here only when the types accept it and it keeps what the schema asks
//! beyond the types: no `null` (an optional key is left out), the bounds of numbers, a
//! non-empty name and step list, the form of ids (durations check their own form as they
//! deserialize). Anything else goes the full way, which explains every problem: this path
//! may pass a valid file on, never accept an invalid one. A test compares the checks here
//! with the constraints of the generated schema.

use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::definition::{Limits, Node, Retry, Stall, Workflow};

/// `source` as a workflow, when it is one the schema accepts as it is.
pub(super) fn workflow(source: &str) -> Option<Workflow> {
    if source.contains("null") && !serde_json::from_str::<NullFree>(source).ok()?.0 {
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
    } = &workflow.limits;
    !workflow.name.is_empty()
        && !workflow.steps.is_empty()
        && (1..=100_000).contains(max_parallel)
        && (1..=crate::definition::MAX_STEPS_CEILING).contains(max_steps)
        && workflow.defaults.retry.as_ref().is_none_or(retry_within)
        && workflow.stall.as_ref().is_none_or(stall_within)
        && workflow.steps.iter().all(node_within)
}

fn node_within(node: &Node) -> bool {
    let id_ok = node.id.as_deref().is_none_or(|id| {
        !id.is_empty()
            && id
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"_.-".contains(&byte))
    });
    let members = node.pipeline.iter().chain(&node.parallel).flatten();
    id_ok
        && node.max_parallel.is_none_or(|most| most >= 1)
        && node.retry.as_ref().is_none_or(retry_within)
        && members.into_iter().all(node_within)
}

fn retry_within(retry: &Retry) -> bool {
    (1..=1000).contains(&retry.max_attempts)
}

fn stall_within(stall: &Stall) -> bool {
    (2..=1000).contains(&stall.loop_after)
}

/// Whether a JSON text has no `null` anywhere (strings aside), read without keeping it.
struct NullFree(bool);

impl<'de> Deserialize<'de> for NullFree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NullFreeVisitor)
    }
}

struct NullFreeVisitor;

impl<'de> Visitor<'de> for NullFreeVisitor {
    type Value = NullFree;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<NullFree, E> {
        Ok(NullFree(false))
    }

    fn visit_bool<E>(self, _: bool) -> Result<NullFree, E> {
        Ok(NullFree(true))
    }

    fn visit_i64<E>(self, _: i64) -> Result<NullFree, E> {
        Ok(NullFree(true))
    }

    fn visit_u64<E>(self, _: u64) -> Result<NullFree, E> {
        Ok(NullFree(true))
    }

    fn visit_f64<E>(self, _: f64) -> Result<NullFree, E> {
        Ok(NullFree(true))
    }

    fn visit_str<E>(self, _: &str) -> Result<NullFree, E> {
        Ok(NullFree(true))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<NullFree, A::Error> {
        let mut free = true;
        while let Some(NullFree(item)) = items.next_element()? {
            free &= item;
        }
        Ok(NullFree(free))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<NullFree, A::Error> {
        let mut free = true;
        while let Some((IgnoredAny, NullFree(value))) = members.next_entry()? {
            free &= value;
        }
        Ok(NullFree(free))
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
            (r#""max_attempts": 3"#, r#""max_attempts": 0"#),
            (r#""max_attempts": 3"#, r#""max_attempts": 1001"#),
            (r#""loop_after": 2"#, r#""loop_after": 1"#),
            (r#""loop_after": 2"#, r#""loop_after": 1001"#),
            (r#""id": "b""#, r#""id": "b c""#),
            (r#""id": "b""#, r#""id": """#),
            (r#""max_parallel": 1"#, r#""max_parallel": 0"#),
            (
                r#""id": "b","#,
                r#""id": "b", "retry": {"max_attempts": 0},"#,
            ),
            (r#""timeout": "5m""#, r#""timeout": "5""#),
            (r#""timeout": "5m""#, r#""timeout": null"#),
            (r#""output": "null""#, r#""output": null"#),
            (r#""name": "w""#, r#""name": "w", "nme": 1"#),
        ] {
            let changed = VALID.replacen(from, to, 1);
            assert_ne!(changed, VALID, "{from} not found");
            assert!(workflow(&changed).is_none(), "accepted: {to}");
        }
        let empty = r#"{"name": "w", "steps": []}"#;
        assert!(workflow(empty).is_none());
    }

    /// The schema's constraints beyond types, where they are and their values: what
    /// `within_bounds` and `Duration` check. A constraint added to the definition fails this test until the
    /// fast path checks it too.
    #[test]
    fn checks_every_constraint_of_the_schema() {
        fn walk(value: &Value, at: &str, found: &mut BTreeSet<String>) {
            const KEYWORDS: [&str; 12] = [
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
        let checked: BTreeSet<String> = [
            r#"/$defs/Duration/pattern "^\\s*([0-9]+\\s*[A-Za-zµ]+\\s*)+$""#,
            "/$defs/Limits/properties/max_parallel/maximum 100000",
            "/$defs/Limits/properties/max_parallel/minimum 1",
            "/$defs/Limits/properties/max_steps/maximum 10000000",
            "/$defs/Limits/properties/max_steps/minimum 1",
            r#"/$defs/Node/properties/id/pattern "^[A-Za-z0-9_.\\-]+$""#,
            "/$defs/Node/properties/max_parallel/minimum 1",
            "/$defs/Retry/properties/max_attempts/maximum 1000",
            "/$defs/Retry/properties/max_attempts/minimum 1",
            "/$defs/Stall/properties/loop_after/maximum 1000",
            "/$defs/Stall/properties/loop_after/minimum 2",
            "/properties/name/minLength 1",
            "/properties/steps/minItems 1",
        ]
        .map(str::to_owned)
        .into();
        assert_eq!(found, checked);
    }
}
