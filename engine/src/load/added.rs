//! Loading a planner's plan: its output `{"steps": [...]}`, checked exactly like a workflow
//! file's `steps` (the schema, ids, executors and their parameters, expressions, `needs`,
//! cycles, `limits.max_steps` counting the run's steps), then added to the run's plan.

use std::ops::Range;

use serde_json::{Value, json};

use super::check::{self, Outer};
use super::explain::json_kind;
use super::{LoadError, Report, repair};
use crate::executor::Executors;
use crate::plan::{Addition, Plan, StepIndex};
use crate::problem::Problem;

/// Checks the plan `output` that step `planner` of `plan` emitted and adds its nodes to
/// `plan` (see [`Plan::grow`]): the steps added, or every problem, with the plan left as it
/// was. Places are JSON pointers into `output`; the origin is `plan of PLANNER`.
pub(crate) fn load_plan(
    output: &Value,
    plan: &mut Plan,
    planner: StepIndex,
    executors: &Executors,
) -> Result<Range<StepIndex>, LoadError> {
    let origin = format!("plan of {}", plan.steps()[planner].id);
    let fail = |mut problems: Vec<Problem>| {
        problems.sort_by(|a, b| a.place.cmp(&b.place));
        LoadError {
            origin: origin.clone(),
            problems,
        }
    };
    // Keys beside `steps` are problems reported with those of the steps, not alone: a
    // planner asked again learns every one at once.
    let (steps, beside) = shape(output).map_err(|problem| fail(vec![problem]))?;
    if steps.is_empty() {
        let none = plan.steps().len()..plan.steps().len();
        return if beside.is_empty() {
            Ok(none)
        } else {
            Err(fail(beside))
        };
    }
    let document = json!({ "name": plan.workflow().name, "steps": steps });
    let outer = Outer { plan, planner };
    // Like a file, a plan is checked on a thread with a big stack.
    let checked = crate::expr::on_big_stack(|| {
        let mut report = Report::default();
        report.problems.extend(beside);
        let mut document = document;
        repair::against_schema(&mut document, &mut report, true);
        let workflow = repair::deserialize(document, &mut report);
        if let Some(workflow) = &workflow {
            check::check(workflow, executors, Some(outer), &mut report);
        }
        (workflow, report)
    });
    let Some((workflow, mut report)) = checked else {
        return Err(fail(vec![Problem::at(
            "",
            "internal error: the loader failed on this plan",
        )]));
    };
    let Some(workflow) = workflow else {
        return Err(fail(report.problems));
    };
    // Like a file's, the plan is compiled whatever the checks found, for the problems only
    // compiling finds (unknown `needs`, cycles, unordered reads). A plan with problems
    // already is compiled into a copy of the run's plan: taking it out again assumes its
    // ids were new, which a duplicate id breaks.
    let mut copy;
    let copied = !report.problems.is_empty();
    let grown = if copied {
        copy = plan.clone();
        &mut copy
    } else {
        &mut *plan
    };
    let known_needs_only = report.without_unknown_needs(&workflow);
    match grown.grow(planner, workflow.steps) {
        Ok(added) => {
            super::unordered_reads(grown, added.clone(), &mut report);
            if report.problems.is_empty() {
                return Ok(added);
            }
            // A copy is dropped as it is (a plan of empty groups only added no step to it,
            // which there would be no way to take out).
            if !copied {
                grown.shrink(added);
            }
        }
        Err(problems) => {
            for problem in problems {
                report.semantic(problem);
            }
            // As a file's: the reads of steps not waited for beside the unknown `needs`.
            if let Some(workflow) = known_needs_only {
                let mut without = plan.clone();
                if let Ok(added) = without.grow(planner, workflow.steps) {
                    super::unordered_reads(&without, added, &mut report);
                }
            }
        }
    }
    Err(fail(report.problems))
}

/// Adds a plan the run committed (`addition`) to `plan` again, as when it was committed:
/// it was checked then, so it is only compiled. `origin` names the run in messages.
pub(crate) fn restore_plan(
    plan: &mut Plan,
    addition: &Addition,
    origin: &str,
) -> Result<(), LoadError> {
    let fail = |message: String| LoadError {
        origin: origin.to_owned(),
        problems: vec![Problem::at("", message)],
    };
    let planner = &addition.planner;
    let step = (plan.index_of(planner))
        .ok_or_else(|| fail(format!("the plan of {planner}: no such step")))?;
    let nodes = crate::nesting::parse_stored(addition.steps.as_bytes())
        .map_err(|error| fail(format!("the plan of {planner}: {error}")))?;
    let refused = |problems| LoadError {
        origin: format!("{origin}, the plan of {planner}"),
        problems,
    };
    let added = plan.grow(step, nodes).map_err(refused)?;
    // Finds the added steps' `referenced_steps` now, as the plan stands.
    let reads = crate::plan::unordered_reads(plan, added.clone());
    if !reads.is_empty() {
        plan.shrink(added);
        return Err(refused(reads));
    }
    let ids: Vec<&str> = added.map(|step| &*plan.steps()[step].id).collect();
    if ids != addition.ids {
        let message = format!(
            "the plan of {planner} gives steps {ids:?}, not {:?}",
            addition.ids
        );
        return Err(fail(message));
    }
    Ok(())
}

/// The `steps` of a plan, which is an object with that one key, and a problem for each
/// other key it has; the problem of an output that holds no list of steps.
fn shape(output: &Value) -> Result<(&Vec<Value>, Vec<Problem>), Problem> {
    let expected = "a plan is an object `{\"steps\": [...]}`";
    let Some(object) = output.as_object() else {
        // An executor keeps output it cannot read as JSON as text: say why it could not, and
        // what it printed.
        if let Value::String(text) = output {
            let json = text.trim_start().starts_with(['{', '[']);
            let why = match serde_json::from_str::<Value>(text) {
                Err(error) if json => {
                    let Problem { place, message } = super::syntax_problem(&error);
                    format!(": the planner printed text that is not JSON ({place}: {message})")
                }
                _ => ", not a string".to_owned(),
            };
            let quoted = crate::expr::quoted(text);
            return Err(Problem::at("", format!("{expected}{why}; text: {quoted}")));
        }
        return Err(Problem::at(
            "",
            format!("{expected}, not {}", json_kind(output)),
        ));
    };
    let beside = (object.keys())
        .filter(|key| *key != "steps")
        .map(|key| {
            let place = format!("/{}", crate::problem::escape(key));
            Problem::at(place, format!("unknown key `{key}`: {expected}"))
        })
        .collect();
    match object.get("steps") {
        Some(Value::Array(steps)) => Ok((steps, beside)),
        Some(other) => Err(Problem::at(
            "/steps",
            format!("`steps` is a list, not {}", json_kind(other)),
        )),
        None => Err(Problem::at("", format!("{expected}: `steps` is missing"))),
    }
}
