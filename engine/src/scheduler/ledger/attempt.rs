//! Preparing an attempt and judging its output: `when`, `for_each`, the `with` templates, the
//! output cap and `output_schema`.

use std::sync::Arc;

use serde_json::{Value, json};

use chrono::{DateTime, Utc};

use super::answer::agent_answer;
use super::judge::Judgement;
use super::{Ledger, Start};
use crate::error::Result;
use crate::executor::{Action, ErrorClass, ExecError};
use crate::expr::{self, ExprError, ItemScope, Scope};
use crate::plan::StepIndex;
use crate::state::StepState;

/// The most `output_schema` problems an error names (it counts the others).
const SCHEMA_PROBLEMS: usize = 10;

/// Whether a ready step started.
#[derive(Debug)]
pub(super) enum Started {
    /// Its attempt is marked running: start it once that is committed.
    Yes(Start),
    /// It did not start and is not ready any more (skipped, failed, denied, awaiting approval).
    No,
}

impl Ledger {
    /// Evaluates a ready step's `when`, `for_each` and `with`, has the guard judge its
    /// actions, and marks its attempt running.
    pub(super) fn start(&mut self, step: StepIndex, now: DateTime<Utc>) -> Result<Started> {
        let plan = Arc::clone(&self.plan);
        let spec = &plan.steps()[step];
        let node = plan.node(step);
        let scope = self.scope(step);
        if let Some(when) = &node.when {
            match expr::condition(when, &scope) {
                Ok(true) => {}
                Ok(false) => {
                    let reason = format!("`when` is false: {when}");
                    self.set_step(step, StepState::Skipped, Some(json!({ "reason": reason })))?;
                    self.unfinished -= 1;
                    self.ended(step)?;
                    return Ok(Started::No);
                }
                Err(error) => return self.fail_before_start(step, format!("`when`: {error}"), now),
            }
        }
        let items = match &node.for_each {
            None => None,
            Some(template) => match expr::render(&Value::String(template.clone()), &scope) {
                Ok(value) => match expr::items(value) {
                    Ok(items) => Some(items),
                    Err(error) => return self.fail_before_start(step, error, now),
                },
                Err(error) => {
                    return self.fail_before_start(step, format!("`for_each`: {error}"), now);
                }
            },
        };
        let mut with = node.with.clone();
        let fallback = self.slots[step].fallback as usize;
        let overrides = node.fallbacks.get(fallback.wrapping_sub(1));
        if let Some(overrides) = overrides {
            with.extend(overrides.clone());
        }
        let with = Value::Object(with.into_iter().collect());
        // Where a `with` that did not render was written: the fallback in use when its
        // overrides alone fail the same way (the file's `fallbacks[k]`), else `with`.
        let failed = |error: ExprError, render: &dyn Fn(&Value) -> Result<Value, ExprError>| {
            let in_fallback = overrides.is_some_and(|overrides| {
                let overrides = overrides.iter().map(|(k, v)| (k.clone(), v.clone()));
                render(&Value::Object(overrides.collect())).err() == Some(error.clone())
            });
            if in_fallback {
                format!("`fallbacks[{}]`: {error}", fallback - 1)
            } else {
                format!("`with`: {error}")
            }
        };
        let attempt = self.next_attempt(step);
        let executor = node.executor.clone().unwrap_or_default();
        let run_id = self.run_id;
        let action = |params: Value, item_index: Option<usize>, attempt: u32| Action {
            run_id,
            step_id: spec.id.to_string(),
            item_index,
            attempt,
            executor: executor.clone(),
            params,
            idempotency_key: Action::idempotency_key_for(run_id, &spec.id, item_index),
        };
        // The items whose `with` does not render, with why.
        let mut unprepared = Vec::new();
        let mut actions = match &items {
            None => match expr::render(&with, &scope) {
                Ok(params) => vec![action(params, None, attempt)],
                Err(error) => {
                    let message = failed(error, &|overrides| expr::render(overrides, &scope));
                    return self.fail_before_start(step, message, now);
                }
            },
            Some(items) => {
                // Only the items that have not succeeded run, each as its own next attempt.
                let to_run = self.items_to_run(step, items.len());
                let item_scope = match ItemScope::new(&scope, &with) {
                    Ok(item_scope) => item_scope,
                    Err(error) => {
                        return self.fail_before_start(step, format!("`with`: {error}"), now);
                    }
                };
                // Only the window that starts now: the others are rendered as theirs starts.
                let window = self.items_window(step, now);
                let mut actions = Vec::with_capacity(to_run.len().min(window));
                for index in to_run {
                    if actions.len() == window {
                        break;
                    }
                    match item_scope.render(&with, &items[index], index) {
                        Ok(params) => {
                            let attempt = self.item_attempt(step, index);
                            actions.push(action(params, Some(index), attempt));
                        }
                        // The item fails on its own, once the attempt starts.
                        Err(error) => {
                            let render = |overrides: &Value| {
                                item_scope.render(overrides, &items[index], index)
                            };
                            unprepared.push((index, failed(error, &render)));
                        }
                    }
                }
                actions
            }
        };
        let verdicts = match self.judge(step, &mut actions, items.as_deref(), now)? {
            Judgement::Run(verdicts) => verdicts,
            Judgement::Stopped => return Ok(Started::No),
        };
        self.items_started(step, actions.iter().filter_map(|action| action.item_index));
        let runs = actions.len() + unprepared.len();
        for (index, message) in unprepared {
            let error = ExecError {
                class: ErrorClass::BadParams,
                message,
            };
            self.item_not_prepared(step, index, error);
        }
        self.set_attempt_running(step, attempt, runs, verdicts, now)?;
        Ok(Started::Yes(Start {
            step,
            executor,
            actions,
            for_each: items.is_some(),
            item_limit: self.item_limit(step),
            timeout: spec.timeout,
            max_output: self.max_output_bytes,
        }))
    }

    /// How many items of `step` (a `for_each` step) run side by side: its `max_parallel`,
    /// else the run's.
    pub(super) fn item_limit(&self, step: StepIndex) -> usize {
        let limits = &self.plan.workflow().limits;
        let limit = self
            .plan
            .node(step)
            .max_parallel
            .unwrap_or(limits.max_parallel);
        (limit as usize).max(1)
    }

    /// What a step's expressions can read: the input, the run, and the outputs it references.
    fn scope(&self, step: StepIndex) -> Scope {
        // A plan's steps name the steps of their own plan without its prefix.
        let steps = (self.plan.referenced_steps(step).iter())
            .flat_map(|&other| {
                let output = (self.slots[other].output.clone()).unwrap_or_default();
                let (id, written) = (&self.plan.steps()[other].id, self.plan.written(step, other));
                let local = (written != &**id).then(|| (written.to_owned(), Arc::clone(&output)));
                std::iter::once((id.to_string(), output)).chain(local)
            })
            .collect();
        Scope::new(Arc::clone(&self.input), steps, Arc::clone(&self.run_facts))
    }

    /// Enforces the output cap and the step's `output_schema`, which an agent's reply meets
    /// with the JSON it answered ([`agent_answer`]): that JSON is then the step's output,
    /// returned (`None`: the output is the step's output as it is).
    pub(super) fn check_output(
        &self,
        step: StepIndex,
        output: &Value,
    ) -> Result<Option<Value>, ExecError> {
        let failure = |class, message| ExecError { class, message };
        let schema = self.plan.node(step).output_schema.as_ref();
        let answered = match schema.and_then(|_| agent_answer(output)) {
            Some(read) => Some(read.map_err(|problem| {
                failure(ErrorClass::OutputSchema, format!("the agent's {problem}"))
            })?),
            None => None,
        };
        let output = answered.as_ref().unwrap_or(output);
        let size = crate::measure::json_len(output);
        if size > self.max_output_bytes {
            let cap = self.max_output_bytes;
            // No command-line advice: the CLI adds it where it prints the run's end.
            let message = format!(
                "output is {size} bytes, over the run's cap of {cap} bytes on a step's output (a retry of the run with a bigger cap keeps it)"
            );
            return Err(failure(ErrorClass::OutputTooLarge, message));
        }
        if let Some(schema) = schema {
            let validator = jsonschema::validator_for(schema).map_err(|error| {
                failure(
                    ErrorClass::OutputSchema,
                    format!("bad output_schema: {error}"),
                )
            })?;
            // Each value is quoted shortened, and the first problems only: a planner's plan
            // of thousands of steps that breaks `maxItems` is not quoted whole.
            let mut errors = validator.iter_errors(output);
            let problems: Vec<String> = (errors.by_ref().take(SCHEMA_PROBLEMS))
                .map(|error| {
                    let value = expr::shortened(&error.instance().to_string());
                    let place = match error.instance_path().as_str() {
                        "" => "at the root",
                        pointer => pointer,
                    };
                    format!("{place}: {}", error.masked_with(value))
                })
                .collect();
            if !problems.is_empty() {
                let more = match errors.count() {
                    0 => String::new(),
                    more => format!("; and {more} more"),
                };
                let message = format!(
                    "output does not match output_schema: {}{more}",
                    problems.join("; ")
                );
                return Err(failure(ErrorClass::OutputSchema, message));
            }
        }
        Ok(answered)
    }
}

#[cfg(test)]
mod tests;
