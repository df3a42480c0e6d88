//! Preparing an attempt and judging its output: `when`, `for_each`, the `with` templates, the
//! output cap and `output_schema`.

use std::sync::Arc;

use serde_json::{Value, json};

use chrono::{DateTime, Utc};

use super::actions::{
    ActionHeader, Actions, DeferredItems, Rendered, Unprepared, WindowRendering, WithTemplate,
};
use super::answer::agent_answer;
use super::judge::{Judged, Judgement};
use super::{Ledger, Start};
use crate::error::Result;
use crate::executor::{ErrorClass, ExecError};
use crate::expr::{self, Scope};
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
    /// It did not start, and waits, `ready`, for an attempt in flight to end: the guard held
    /// it ([`Judgement::Held`]), for these reasons.
    Held(String),
    /// It has not started yet: the turn's time for judging ran out before its window was
    /// judged ([`Judge::slice`](super::Judge::slice)); the next turn goes on judging it.
    Later,
}

/// An attempt's window whose judging a turn left unfinished ([`Started::Later`]).
#[derive(Debug)]
pub(super) struct Judging {
    pub(super) step: StepIndex,
    attempt: u32,
    executor: String,
    /// A guarded `for_each` window's items still to render before they are judged.
    rendering: Option<Box<WindowRendering>>,
    rendered: Rendered,
    /// The values of a `for_each` step's items.
    items: Option<Arc<Vec<Value>>>,
    judged: Judged,
}

impl Ledger {
    /// Evaluates a ready step's `when`, `for_each` and `with`, has the guard judge its
    /// actions, and marks its attempt running.
    pub(super) fn start(&mut self, step: StepIndex, now: DateTime<Utc>) -> Result<Started> {
        if let Some(judging) = self.judging.take_if(|judging| judging.step == step) {
            return self.go_on_judging(*judging, now);
        }
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
        // The list is evaluated at an attempt's first window, and kept for those after it.
        let items = match (&node.for_each, self.kept_list(step)) {
            (None, _) => None,
            (Some(_), Some(list)) => Some(list),
            (Some(template), None) => {
                match expr::render(&Value::String(template.clone()), &scope) {
                    Ok(value) => match expr::items(value) {
                        Ok(items) => Some(Arc::new(items)),
                        Err(error) => return self.fail_before_start(step, error, now),
                    },
                    Err(error) => {
                        return self.fail_before_start(step, format!("`for_each`: {error}"), now);
                    }
                }
            }
        };
        let params = WithTemplate::new(node, self.slots[step].fallback as usize);
        let attempt = self.next_attempt(step);
        let header = ActionHeader {
            run_id: self.run_id,
            step_id: spec.id.to_string(),
            executor: node.executor.clone().unwrap_or_default(),
        };
        let Some(items) = items else {
            let action = match params.render(&scope) {
                Ok(rendered) => header.action(rendered, None, attempt),
                Err(message) => return self.fail_before_start(step, message, now),
            };
            let rendered = Rendered {
                actions: vec![action],
                unprepared: Vec::new(),
            };
            return self.start_rendered(step, attempt, header.executor, rendered, None, now);
        };
        // Only the items that have not succeeded run, each as its own next attempt.
        let runs: Vec<(usize, u32)> = (self.items_to_run(step, items.len()).into_iter())
            .map(|index| (index, self.item_attempt(step, index)))
            .collect();
        let window = self.items_window(step, now);
        let executor = header.executor.clone();
        let deferred = DeferredItems {
            header,
            params,
            scope,
            items: Arc::clone(&items),
            runs,
        };
        if window == usize::MAX && self.guard.is_none() {
            // Nothing judges the items before they start, and all start with the step: each
            // is rendered as the attempt's task starts it.
            self.items_started(step, deferred.runs.iter().map(|&(index, _)| index));
            self.set_attempt_running(step, attempt, deferred.runs.len(), None, now)?;
            let actions = Actions::Deferred(Box::new(deferred));
            return Ok(Started::Yes(self.start_of(step, executor, actions, true)));
        }
        // Only the window that starts now, rendered and judged as it starts, a turn's slice
        // at a time: the others are rendered as theirs starts.
        let rendering = WindowRendering::new(deferred, window);
        let judging = Judging {
            step,
            attempt,
            executor,
            rendering: Some(Box::new(rendering)),
            rendered: Rendered::default(),
            items: Some(items),
            judged: Judged::default(),
        };
        self.go_on_judging(judging, now)
    }

    /// Starts `attempt` of `step`, on `executor`, whose actions were `rendered` as it starts
    /// (for a `for_each` step, its window's, whose values are among `items`): the guard
    /// judges them, and the attempt is marked running.
    fn start_rendered(
        &mut self,
        step: StepIndex,
        attempt: u32,
        executor: String,
        rendered: Rendered,
        items: Option<Arc<Vec<Value>>>,
        now: DateTime<Utc>,
    ) -> Result<Started> {
        let judging = Judging {
            step,
            attempt,
            executor,
            rendering: None,
            rendered,
            items,
            judged: Judged::default(),
        };
        self.go_on_judging(judging, now)
    }

    /// Goes on judging the actions of `judging` not judged yet, for as long as the turn's
    /// time for judging allows; once all are, marks the attempt running.
    fn go_on_judging(&mut self, mut judging: Judging, now: DateTime<Utc>) -> Result<Started> {
        let step = judging.step;
        if let Some(rendering) = judging.rendering.as_mut() {
            match rendering.render(|| self.judging_ran_out()) {
                Some(rendered) => (judging.rendering, judging.rendered) = (None, rendered),
                None => {
                    self.judging = Some(Box::new(judging));
                    return Ok(Started::Later);
                }
            }
        }
        let actions = &mut judging.rendered.actions;
        let items = judging.items.as_deref().map(Vec::as_slice);
        let verdicts = match self.judge(step, actions, items, &mut judging.judged, now)? {
            Judgement::Run(verdicts) => verdicts,
            Judgement::Stopped => return Ok(Started::No),
            Judgement::Held(why) => return Ok(Started::Held(why)),
            Judgement::Unfinished => {
                self.judging = Some(Box::new(judging));
                return Ok(Started::Later);
            }
        };
        let Judging {
            attempt,
            executor,
            rendered: Rendered {
                actions,
                unprepared,
            },
            items,
            ..
        } = judging;
        self.items_started(step, actions.iter().filter_map(|action| action.item_index));
        let runs = actions.len() + unprepared.len();
        for Unprepared { index, error } in unprepared {
            self.item_not_prepared(step, index, error);
        }
        // Started once judged.
        self.set_attempt_running(step, attempt, runs, verdicts, self.moment())?;
        let for_each = items.is_some();
        if let Some(items) = items {
            self.keep_list(step, items);
        }
        let actions = Actions::Rendered(actions);
        Ok(Started::Yes(
            self.start_of(step, executor, actions, for_each),
        ))
    }

    /// The start of `step`'s attempt, marked running, which runs `actions` on `executor`
    /// (for a `for_each` step, one per item).
    fn start_of(
        &self,
        step: StepIndex,
        executor: String,
        actions: Actions,
        for_each: bool,
    ) -> Start {
        Start {
            step,
            executor,
            actions,
            for_each,
            item_limit: self.item_limit(step),
            timeout: self.plan.steps()[step].timeout,
            max_output: self.max_output_bytes,
        }
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
        if let Some(too_large) = over_cap(output, self.max_output_bytes) {
            return Err(too_large);
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

/// The failure of a step's `output` when its JSON is bigger than the run's `cap` on it,
/// class `output_too_large`; `None` within it. (A `for_each` step's items are held to the cap
/// as each ends, on its own and as the step's list: `items/outputs.rs`.)
pub(super) fn over_cap(output: &Value, cap: usize) -> Option<ExecError> {
    let size = crate::measure::json_len(output);
    (size > cap).then(|| too_large(&format!("output is {size} bytes"), cap, "a step's"))
}

/// The failure, class `output_too_large`, of an output over the run's `cap` on `whose`
/// output (`a step's`, `an item's`), `why` saying how big.
pub(super) fn too_large(why: &str, cap: usize, whose: &str) -> ExecError {
    // No command-line advice: the CLI adds it where it prints the run's end.
    ExecError {
        class: ErrorClass::OutputTooLarge,
        message: format!(
            "{why}, over the run's cap of {cap} bytes on {whose} output (a retry of the run with a bigger cap keeps it)"
        ),
    }
}

#[cfg(test)]
mod tests;
