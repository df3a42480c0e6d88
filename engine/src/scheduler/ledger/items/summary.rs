//! What an attempt's items make of its end: its result, and the items an error names.

use serde_json::Value;

use crate::executor::{ErrorClass, ExecError};
use crate::plan::StepIndex;
use crate::scheduler::ledger::Ledger;

/// How many failed items an error names with their messages.
const NAMED_FAILURES: usize = 5;

/// How many failed items' indices an error lists (ten thousand would make a 59 KB error).
const LISTED_FAILURES: usize = 20;

impl Ledger {
    /// How `step`'s attempt went, from its items: the list of their outputs in item order,
    /// or an error naming the items that failed (with the first one's class), and how many
    /// did not start when its time limit cut it off (then of class `timeout`).
    pub(in crate::scheduler::ledger) fn items_result(
        &mut self,
        step: StepIndex,
    ) -> Option<Result<Value, ExecError>> {
        let cancelling = self.is_cancelling();
        let items = self.slots[step].items.as_deref_mut()?;
        let failed = std::mem::take(&mut items.failed);
        let cut_off = std::mem::take(&mut items.cut_off);
        items.started.clear();
        items.list = None;
        items.none_running();
        let count = items.outputs.len();
        let missing = items.outputs.missing();
        if missing == 0 && failed.is_empty() {
            return Some(Ok(Value::Array(items.outputs.values().cloned().collect())));
        }
        // Halted between items: a cancel's step is cancelled, and says so (probe 88 F2: its
        // error was `interrupted`, a pause's).
        if failed.is_empty() && !cut_off {
            let class = match cancelling {
                true => ErrorClass::Cancelled,
                false => ErrorClass::Interrupted,
            };
            return Some(Err(ExecError {
                class,
                message: format!("{} did not run", crate::text::count(missing, "item")),
            }));
        }
        let mut parts = Vec::new();
        // Items a cancel stopped did not fail: they were cancelled, and are said apart
        // (probe 101 F3: "3 of 3 items failed" of a stalled item and two cancelled).
        let (cancelled, failures): (Vec<_>, Vec<_>) =
            (failed.iter()).partition(|(_, error)| error.class == ErrorClass::Cancelled);
        for (ended, verb) in [(&failures, "failed"), (&cancelled, "were cancelled")] {
            if !ended.is_empty() {
                parts.push(listed(ended, count, verb));
            }
        }
        // Every item not succeeded ran in this attempt, unless it did not start.
        let not_started = missing.saturating_sub(failed.len());
        if cut_off && not_started > 0 {
            parts.push(format!(
                "{not_started} of {count} items did not start before the step's timeout"
            ));
        } else if cancelling && not_started > 0 {
            // Counted as a cancel between two items counts them (probe 90 F3).
            parts.push(format!("{not_started} of {count} items did not run"));
        }
        // An item's stall decides how the attempt ends (its step's `on_stall`): it says so.
        let stalled = failed
            .values()
            .any(|error| error.class == ErrorClass::Stalled);
        let class = match failures.first().or(cancelled.first()) {
            _ if stalled => ErrorClass::Stalled,
            Some((_, first)) if !cut_off => first.class,
            _ => ErrorClass::Timeout,
        };
        Some(Err(ExecError {
            class,
            message: parts.join("; "),
        }))
    }

    /// The items of `step`'s attempt that failed before a cancel ended it between two
    /// windows, said as the attempt's end says them (`1 of 4 items failed (0): item 0: …`),
    /// if any (probe 103 F2: the cancel's error named none).
    pub(in crate::scheduler::ledger) fn items_failed(&self, step: StepIndex) -> Option<String> {
        let items = self.slots[step].items.as_deref()?;
        let failures: Vec<_> = (items.failed.iter())
            .filter(|(_, error)| error.class != ErrorClass::Cancelled)
            .collect();
        (!failures.is_empty()).then(|| listed(&failures, items.outputs.len(), "failed"))
    }
}

/// "2 of 5 items failed (1, 3): item 1: …; item 3: …": the `ended` items of a list of
/// `count`, listed, the first ones named with their errors.
fn listed(ended: &[(&usize, &ExecError)], count: usize, verb: &str) -> String {
    let mut indices: Vec<String> = (ended.iter().take(LISTED_FAILURES))
        .map(|(index, _)| index.to_string())
        .collect();
    if ended.len() > LISTED_FAILURES {
        indices.push("…".to_owned());
    }
    let named: Vec<String> = (ended.iter().take(NAMED_FAILURES))
        .map(|(index, error)| format!("item {index}: {}", error.message))
        .collect();
    let more = match ended.len().saturating_sub(NAMED_FAILURES) {
        0 => String::new(),
        more => format!("; {more} more"),
    };
    let (indices, named) = (indices.join(", "), named.join("; "));
    format!(
        "{} of {count} items {verb} ({indices}): {named}{more}",
        ended.len()
    )
}
