//! A successful attempt's output judged: read for the JSON an agent answered, held to the
//! output cap and the step's `output_schema`, a planner's plan added — or refused, and then
//! kept with the failed attempt (its `reply`): it was paid for, and whoever fixes the prompt
//! needs to see what the agent said.

use std::ops::Range;

use serde_json::{Value, json};

use super::Ledger;
use super::answer::{agents_text, planners_text};
use super::planner::{Planned, read_plan};
use crate::error::Result;
use crate::executor::{ErrorClass, ExecError};
use crate::plan::StepIndex;
use crate::stall::Stall;

/// How much of a refused output its attempt keeps, its end: as much as of a process's
/// stderr (its tail, 64 KiB).
const REPLY_TAIL: usize = 64 * 1024;

/// What became of a successful attempt's output.
#[derive(Debug)]
pub(super) enum Accepted {
    /// It gives the step's output (the JSON an agent answered, or itself): with the detail of
    /// a planner's success and the steps its plan added (none for any other step).
    Yes(Value, Option<Value>, Range<StepIndex>),
    /// It was refused, with why, and for a refusal of what it says (`output_schema`,
    /// `invalid_plan`) the detail that keeps it: `{"reply": …}` ([`reply`]).
    No(ExecError, Option<Value>),
    /// It is a plan that the planners that added the planner emitted too often.
    Looped(Stall),
}

impl Ledger {
    /// Judges the `output` of a successful attempt of `step`: a planner's plan is read and
    /// added ([`read_plan`], [`Ledger::add_plan`]), and any output is held to the output cap
    /// and `output_schema` ([`Ledger::check_output`]).
    pub(super) fn accept(&mut self, step: StepIndex, output: Value) -> Result<Accepted> {
        let planner = self.plan.node(step).planner;
        let refused = |error: ExecError, output: &Value| {
            let said = matches!(
                error.class,
                ErrorClass::OutputSchema | ErrorClass::InvalidPlan
            );
            let kept = said.then(|| json!({ "reply": reply(output, planner) }));
            Accepted::No(error, kept)
        };
        let read = if planner {
            read_plan(&output)
        } else {
            Ok(None)
        };
        let checked = read.and_then(|plan| {
            let judged = plan.as_ref().unwrap_or(&output);
            Ok(self.check_output(step, judged)?.or(plan))
        });
        let answered = match checked {
            Ok(answered) => answered,
            Err(error) => return Ok(refused(error, &output)),
        };
        let judged = answered.as_ref().unwrap_or(&output);
        let (detail, added) = if planner {
            match self.add_plan(step, judged)? {
                Planned::Added(detail, added) => (Some(detail), added),
                Planned::Refused(error) => return Ok(refused(error, &output)),
                Planned::Looped(stall) => return Ok(Accepted::Looped(stall)),
            }
        } else {
            (None, 0..0)
        };
        Ok(Accepted::Yes(answered.unwrap_or(output), detail, added))
    }
}

/// A refused `output` as its attempt keeps it: the text it was read from when it is an
/// agent's reply (a planner's: any answer's), a string as it is, else its JSON — its last
/// [`REPLY_TAIL`] bytes, after a `…` when cut.
fn reply(output: &Value, planner: bool) -> String {
    let answered = if planner {
        planners_text(output)
    } else {
        agents_text(output)
    };
    let json;
    let text = match answered.or(output.as_str()) {
        Some(text) => text,
        None => {
            json = output.to_string();
            &json
        }
    };
    let mut start = text.len().saturating_sub(REPLY_TAIL);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    if start == 0 {
        text.to_owned()
    } else {
        format!("…{}", &text[start..])
    }
}

#[cfg(test)]
mod tests;
