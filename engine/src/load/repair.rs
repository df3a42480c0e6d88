//! Schema and type problems: report them, then remove the offending values so that the rest
//! of the file can still be checked.

use jsonschema::error::ValidationErrorKind;
use serde_json::{Map, Value, json};

use super::explain::{Found, explain, misspelt, shorten};
use super::{Report, VALIDATOR};
use crate::definition::{self, ID_PATTERN, Workflow};
use crate::executor::ErrorClass;
use crate::problem::{escape, unescape};

/// At most this many serde errors are repaired one by one before giving up on the rest.
const MAX_SERDE_REPAIRS: usize = 100;

/// Checks `value` against the workflow schema: reports every problem and removes (or resets)
/// the values that would not deserialize. `in_plan`: `value` is a planner's plan, whose ids
/// may not hold `.` (probe 182 F4: a bad id was told to use one).
pub(super) fn against_schema(value: &mut Value, report: &mut Report, in_plan: bool) {
    let validator = match &*VALIDATOR {
        Ok(validator) => validator,
        Err(error) => {
            return report.structural(
                String::new(),
                format!("internal error: the workflow schema: {error}"),
            );
        }
    };
    let mut found: Vec<Found> = Vec::new();
    // A step key on a group is named so, rather than by a problem of its value.
    let mut errors: Vec<_> = validator.iter_errors(value).collect();
    errors.sort_by_key(|error| !matches!(error.kind(), ValidationErrorKind::FalseSchema));
    for error in errors {
        let pointer = error.instance_path().as_str().to_owned();
        match error.kind() {
            // A missing top-level key is shown where it goes, a nested one at its object.
            ValidationErrorKind::Required { property } if pointer.is_empty() => {
                let property = property.as_str().unwrap_or_default();
                let message = format!("missing key `{property}`");
                found.push(Found {
                    told: !misspelt(&error, definition::schema(), property),
                    ..Found::new(format!("/{property}"), message, true)
                });
            }
            // The schema's `false` for a step key on a group (see `STEP_KEYS`).
            ValidationErrorKind::FalseSchema => {
                let key = pointer.rsplit('/').next().unwrap_or_default();
                let message = format!(
                    "`{key}` belongs on a step; a group has only `id`, `needs`, `max_parallel` and its members"
                );
                found.push(Found::new(pointer, message, true));
            }
            ValidationErrorKind::MinItems { .. } if pointer == "/steps" => {
                let message = "a workflow needs at least one step".to_owned();
                found.push(Found::new(pointer, message, false));
            }
            ValidationErrorKind::Pattern { pattern } if in_plan && pattern == ID_PATTERN => {
                let id = error.instance().as_str().unwrap_or_default();
                found.push(Found::new(pointer, definition::id_problem(id, true), false));
            }
            _ => found.extend(explain(&error, definition::schema())),
        }
    }
    for found in found {
        if found.fatal {
            reset(value, &found.pointer, report);
        }
        if found.told {
            report.structural(found.pointer, found.message);
        }
    }
}

/// The ids of the nodes in `members` (a group's list), and of theirs, at any depth.
fn ids_within(members: &Value, ids: &mut Vec<String>) {
    for node in members.as_array().into_iter().flatten() {
        if let Some(Value::String(id)) = node.get("id") {
            ids.push(id.clone());
        }
        for group in ["pipeline", "parallel"] {
            if let Some(members) = node.get(group) {
                ids_within(members, ids);
            }
        }
    }
}

/// Whether `pointer` is that of a node: a member of `steps`, a `pipeline` or a `parallel`.
fn is_node(pointer: &str) -> bool {
    let Some((list, index)) = pointer.rsplit_once('/') else {
        return false;
    };
    let in_list = ["/steps", "/pipeline", "/parallel"]
        .iter()
        .any(|end| list.ends_with(end));
    in_list && !index.is_empty() && index.bytes().all(|byte| byte.is_ascii_digit())
}

/// Deserializes `value`, reporting and removing whatever serde refuses until it succeeds;
/// `None` when the value cannot be repaired (the top level is not an object, ...).
pub(super) fn deserialize(mut value: Value, report: &mut Report) -> Option<Workflow> {
    if !value.is_object() {
        return None; // The schema said so already.
    }
    for _ in 0..MAX_SERDE_REPAIRS {
        let error = match serde_path_to_error::deserialize::<_, Workflow>(&value) {
            Ok(workflow) => return Some(workflow),
            Err(error) => error,
        };
        let pointer = super::document::pointer_of(error.path());
        let message = error.inner().to_string();
        // A key the schema's check removed is missing now: that follows from its problem.
        let follows = (message.strip_prefix("missing field `"))
            .and_then(|rest| rest.strip_suffix('`'))
            .is_some_and(|key| {
                let removed = format!("{pointer}/{}", escape(key));
                report.removed.contains(&removed)
            });
        let repaired = reset(&mut value, &pointer, report);
        if !follows {
            report.structural(pointer, shorten(&message));
        }
        if !repaired {
            return None;
        }
    }
    None
}

/// Removes the value at `pointer` (or resets it where it cannot go); false when nothing could
/// be done.
fn reset(value: &mut Value, pointer: &str, report: &mut Report) -> bool {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return false;
    };
    let key = unescape(last);
    if parent.is_empty() && (key == "name" || key == "steps") {
        let Some(root) = value.as_object_mut() else {
            return false;
        };
        root.insert(
            key.clone(),
            if key == "name" { json!("") } else { json!([]) },
        );
        report.removed.push(pointer.to_owned());
        return true;
    }
    let parent_is_node_list = parent.ends_with("/steps")
        || parent.ends_with("/pipeline")
        || parent.ends_with("/parallel");
    match value.pointer_mut(parent) {
        Some(Value::Object(members)) => {
            let given = members.remove(&key);
            report.removed.push(pointer.to_owned());
            // A node's id refused for its type (`"id": 5`): a need naming it (`"5"`) follows
            // from that (probe 114 F4).
            if let ("id", true, Some(id)) = (key.as_str(), is_node(parent), &given)
                && !id.is_string()
            {
                report.lost_ids.push(id.to_string());
            }
            // A key no node has, likely a typo of one this node lacks (`neds`): the node
            // lost that key, and what follows from its absence is no news; a typo of `id`
            // (`di`) takes the id it gives with it, which the other steps may name.
            let meant = (is_node(parent)
                .then(|| super::check::meant_node_key(&key))
                .flatten())
            .filter(|meant| !members.contains_key(*meant));
            if let Some(meant) = meant {
                report.typos.push((parent.to_owned(), meant));
                match (meant, given) {
                    ("id", Some(Value::String(id))) => report.lost_ids.push(id),
                    // A group's members went with its misspelt `pipline`: their ids too.
                    ("pipeline" | "parallel", Some(members)) => {
                        ids_within(&members, &mut report.lost_ids);
                    }
                    _ => {}
                }
            }
            true
        }
        Some(Value::Array(items)) => match key
            .parse::<usize>()
            .ok()
            .and_then(|index| items.get_mut(index))
        {
            // A node that is not a node: an empty one keeps the indices of its siblings.
            Some(item) if parent_is_node_list => {
                *item = Value::Object(Map::new());
                report.removed.push(pointer.to_owned());
                true
            }
            // A class `retry_on` has not: one it may list stands in, so that the others are
            // checked where they are (probe 43 f3: three refused classes told only once
            // `nope` was fixed).
            Some(item) if parent.ends_with("/retry_on") => {
                *item = json!(ErrorClass::ExitCode.as_str());
                report.removed.push(pointer.to_owned());
                true
            }
            _ => reset(value, parent, report),
        },
        _ => false,
    }
}
