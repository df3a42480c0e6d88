//! Loading a workflow file: JSON syntax, the JSON Schema, then the meaning, all problems at
//! once, each with its place.
//!
//! 1. The text is parsed with `serde_json` (fewer than 128 levels deep). A syntax error stops
//!    here, reported with its line and column, and so do an object that gives a key twice
//!    and an integer beyond 64 bits (`unique`), reported with their pointer.
//!    A valid file is read straight into a [`Workflow`] instead (`fast`): steps 2 and 3
//!    are for files with a problem.
//! 2. The value is checked against the schema generated from the [`definition`] types.
//!    Each schema problem is reported with the JSON pointer of the offending value, and the
//!    value is removed (or reset) so that the rest of the file can still be checked.
//! 3. The value is deserialized into a [`Workflow`]; anything serde still refuses is
//!    reported and removed the same way.
//! 4. The workflow's meaning is checked (ids, node kinds, executors, expressions, limits),
//!    each step's `with` (and `fallbacks`) against its executor's
//!    [parameter schema](crate::executor::Executor::params_schema), and the workflow is
//!    compiled into a [`Plan`] (unknown `needs`, cycles), in which every step an
//!    expression reads must come before the step reading it.
//!
//! [`definition`]: crate::definition

mod added;
mod check;
mod document;
mod durations;
mod explain;
mod fast;
mod json_schemas;
mod params;
mod repair;
mod unique;

use std::ops::{ControlFlow, Range};
use std::path::Path;
use std::sync::LazyLock;

use serde_json::Value;

use crate::definition::{self, Workflow};
use crate::executor::Executors;
use crate::nesting::{self, Token};
use crate::plan::{self, Plan};

pub(crate) use added::{load_plan, restore_plan};
pub use document::{document_schema, load_document, load_json, read_document};
pub use params::check_params;

pub(crate) use crate::problem::closest;
pub use crate::problem::{Place, Problem};
use crate::text::one_line;

/// A workflow that cannot be loaded, with every problem found in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.lines())]
pub struct LoadError {
    /// Where the workflow came from: a file path, or a name given by the caller.
    pub origin: String,
    /// The problems, sorted by place.
    pub problems: Vec<Problem>,
}

impl LoadError {
    /// One line per problem: `origin:place: message`, each on [`one_line`] (a message
    /// quotes the file's ids, keys and expressions, which may hold newlines: probe 38 F1).
    fn lines(&self) -> String {
        let origin = one_line(&self.origin);
        let lines = self.problems.iter().map(|problem| {
            let message = one_line(&problem.message);
            match &problem.place {
                Place::Pointer(pointer) if pointer.is_empty() => format!("{origin}: {message}"),
                place => format!("{origin}:{}: {message}", one_line(&place.to_string())),
            }
        });
        lines.collect::<Vec<_>>().join("\n")
    }
}

/// Loads and compiles the workflow file at `path`. `executors` are the executors its steps
/// may use, with the parameters each takes.
pub fn load_file(path: &Path, executors: &Executors) -> Result<Plan, LoadError> {
    let source = read_document(path)?;
    load_str(&source, &crate::path_text(path), executors)
}

/// Loads and compiles a workflow from its JSON text; `origin` names it in messages.
/// `executors` are the executors its steps may use, with the parameters each takes.
pub fn load_str(source: &str, origin: &str, executors: &Executors) -> Result<Plan, LoadError> {
    let source = without_bom(source);
    // The loader recurses as deep as the file nests (expressions see to their own stack):
    // a file that may nest deep loads on a thread with a big stack, whoever calls it.
    let loaded = crate::expr::on_stack_for(fits_any_stack(source), || {
        let mut report = Report::default();
        let plan = load(source, executors, &mut report);
        Some((plan, report))
    });
    let Some((plan, report)) = loaded else {
        let problem = Problem::at("", "internal error: the loader failed on this file");
        return Err(LoadError {
            origin: origin.to_owned(),
            problems: vec![problem],
        });
    };
    match plan {
        Some(plan) if report.problems.is_empty() => Ok(plan),
        _ => {
            let mut problems = report.problems;
            problems.sort_by(|a, b| a.place.cmp(&b.place));
            Err(LoadError {
                origin: origin.to_owned(),
                problems,
            })
        }
    }
}

/// `source` without the UTF-8 byte order mark some editors begin a file with (RFC 8259 lets
/// a parser ignore it; serde_json does not).
pub(crate) fn without_bom(source: &str) -> &str {
    source.strip_prefix('\u{feff}').unwrap_or(source)
}

/// Files at most this long may load on the caller's thread (see [`fits_any_stack`]).
const SMALL_FILE: usize = 64 * 1024;
/// ... if their JSON nests at most this deep ...
const SHALLOW_FILE: usize = 16;
/// ... and they hold at most this many expressions: on the caller's thread, each expression
/// too big for any stack starts a thread of its own.
const FEW_EXPRESSIONS: usize = 8;

/// Whether loading `source` fits any thread's stack, and cheaply: it is small, its brackets
/// (outside strings) nest at most [`SHALLOW_FILE`] deep, and it holds few expressions
/// (counted as its `${{` and its `when` strings). Text that is not JSON stops the loader
/// where it stops being JSON, before it nests any deeper. Starting a thread with a big stack
/// was 7% of a one-step `cairn run`.
fn fits_any_stack(source: &str) -> bool {
    if source.len() > SMALL_FILE {
        return false;
    }
    let (mut depth, mut expressions, mut shallow) = (0usize, 0usize, true);
    nesting::scan(source.as_bytes(), |token| {
        match token {
            Token::Open if depth == SHALLOW_FILE => {
                shallow = false;
                return ControlFlow::Break(());
            }
            Token::Open => depth += 1,
            Token::Close => depth = depth.saturating_sub(1),
            Token::String(text) => {
                expressions += usize::from(text == b"when");
                expressions += text.windows(3).filter(|bytes| bytes == b"${{").count();
            }
        }
        ControlFlow::Continue(())
    });
    shallow && expressions <= FEW_EXPRESSIONS
}

/// Compiles a run's stored definition snapshot: the canonical JSON the engine wrote when the
/// run started, fully checked then. Only what may have changed since is checked again: that
/// the executors it names are registered. (Their parameters are checked by the executors
/// when they run: a snapshot loaded once stays runnable.)
pub fn load_snapshot(source: &str, origin: &str, executors: &Executors) -> Result<Plan, LoadError> {
    let plan = compile_snapshot(source, origin)?;
    check_executors(&plan, executors, origin)?;
    Ok(plan)
}

/// [`load_snapshot`] without the executors' check: for a run's plan, checked once grown by
/// its planners' plans.
pub(crate) fn compile_snapshot(source: &str, origin: &str) -> Result<Plan, LoadError> {
    let fail = |problems| LoadError {
        origin: origin.to_owned(),
        problems,
    };
    // No big stack needed: nothing here parses expressions, and the snapshot nests fewer
    // than 128 levels (it passed the loader).
    let workflow: Workflow =
        serde_json::from_str(source).map_err(|error| fail(vec![syntax_problem(&error)]))?;
    // A file is never stored without steps (the schema's bound): a definition changed so
    // outside cairn would be a run with nothing to run or draw.
    if workflow.steps.is_empty() {
        return Err(fail(vec![Problem::at("/steps", "no steps")]));
    }
    plan::compile(workflow).map_err(fail)
}

/// Checks that every executor `plan` names is one of `executors`: for a plan compiled
/// against other executors, or a run's snapshot compiled again. `origin` names the plan.
pub(crate) fn check_executors(
    plan: &Plan,
    executors: &Executors,
    origin: &str,
) -> Result<(), LoadError> {
    let unknown: Vec<Problem> = (0..plan.steps().len())
        .filter_map(|index| {
            let executor = plan.node(index).executor.as_deref().unwrap_or_default();
            (!executors.contains_key(executor)).then(|| {
                Problem::at(
                    format!("{}/executor", plan.pointer(index)),
                    format!(
                        "executor `{executor}` is not registered ({})",
                        known_executors(executors)
                    ),
                )
            })
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(LoadError {
            origin: origin.to_owned(),
            problems: unknown,
        })
    }
}

fn load(source: &str, executors: &Executors, report: &mut Report) -> Option<Plan> {
    if let Err(problem) = unique::scan_text(source) {
        report.problems.push(problem);
        return None;
    }
    let mut workflow = match fast::workflow(source) {
        Some(workflow) => workflow,
        None => {
            let mut value: Value = match serde_json::from_str(source) {
                Ok(value) => value,
                Err(error) => {
                    report.problems.push(syntax_problem(&error));
                    return None;
                }
            };
            repair::against_schema(&mut value, report, false);
            repair::deserialize(value, report)?
        }
    };
    check::check(&workflow, executors, None, report);
    if !report.lost_ids.is_empty() {
        set_aside_lost_needs(&mut workflow.steps, &report.lost_ids);
    }
    let known_needs_only = report.without_unknown_needs(&workflow);
    match plan::compile(workflow) {
        Ok(plan) => {
            unordered_reads(&plan, 0..plan.steps().len(), report);
            Some(plan)
        }
        Err(problems) => {
            for problem in problems {
                report.semantic(problem);
            }
            // The reads of steps not waited for, told beside the unknown `needs` (probe 108
            // F1: only once those were fixed); a cycle still hides them.
            if let Some(Ok(plan)) = known_needs_only.map(plan::compile) {
                unordered_reads(&plan, 0..plan.steps().len(), report);
            }
            None
        }
    }
}

impl Report {
    /// A copy of `workflow` without the `needs` that name no node, when some do.
    fn without_unknown_needs(&self, workflow: &Workflow) -> Option<Workflow> {
        if self.unknown_needs.is_empty() {
            return None;
        }
        let unknown: Vec<String> = (self.unknown_needs.iter())
            .map(|(_, id)| id.clone())
            .collect();
        let mut workflow = workflow.clone();
        set_aside_lost_needs(&mut workflow.steps, &unknown);
        Some(workflow)
    }
}

/// Sets aside the needs of `nodes` (and of their members) that name an id of `lost`: one a
/// typo of `id` took (`"di": "b"`), whose typo is their problem, or one naming no node.
fn set_aside_lost_needs(nodes: &mut [definition::Node], lost: &[String]) {
    for node in nodes {
        node.needs.retain(|need| !lost.contains(need));
        for members in [&mut node.pipeline, &mut node.parallel]
            .into_iter()
            .flatten()
        {
            set_aside_lost_needs(members, lost);
        }
    }
}

/// Reports the expressions of `readers` that read a step which does not come before theirs,
/// except where that follows from another problem: the expression is wrong already, or its
/// step's waits are not all known ([`unsure_steps`]).
fn unordered_reads(plan: &Plan, readers: Range<plan::StepIndex>, report: &mut Report) {
    let reads = plan::unordered_reads(plan, readers.clone());
    if reads.is_empty() {
        return;
    }
    let known: std::collections::BTreeSet<Place> =
        report.problems.iter().map(|p| p.place.clone()).collect();
    let unsure = unsure_steps(plan, readers, report);
    for problem in reads {
        let consequence = match &problem.place {
            Place::Pointer(pointer) => {
                (unsure.iter()).any(|step| crate::problem::is_within(pointer, step))
            }
            Place::LineCol { .. } => false,
        };
        if !consequence && !known.contains(&problem.place) {
            report.semantic(problem);
        }
    }
}

/// The pointers of the steps of `readers` whose waits are not all known: those in a node
/// whose `needs` were set aside (a typo of the key too) or name no node, which may have
/// meant the step read, and every step after one, which may wait for it through them
/// (probe 113 F2, F3: "`report` does not wait for `build`" beside `needs: ["biuld"]` of the
/// step `report` waits for).
fn unsure_steps(plan: &Plan, readers: Range<plan::StepIndex>, report: &Report) -> Vec<String> {
    let nodes: Vec<&str> = (report.lost("needs"))
        .chain(report.unknown_needs.iter().map(|(node, _)| node.as_str()))
        .collect();
    if nodes.is_empty() {
        return Vec::new();
    }
    let within = |&step: &plan::StepIndex| {
        let pointer = plan.pointer(step);
        nodes
            .iter()
            .any(|node| crate::problem::is_within(&pointer, node))
    };
    let mut unsure: std::collections::HashSet<plan::StepIndex> = readers.filter(within).collect();
    let mut walk: Vec<plan::StepIndex> = unsure.iter().copied().collect();
    while let Some(step) = walk.pop() {
        walk.extend(plan.dependents(step).filter(|&next| unsure.insert(next)));
    }
    unsure.into_iter().map(|step| plan.pointer(step)).collect()
}

fn syntax_problem(error: &serde_json::Error) -> Problem {
    let text = error.to_string();
    let message = if text.starts_with("recursion limit exceeded") {
        "JSON nested 128 levels deep or more (the most is 127)".to_owned()
    } else {
        let suffix = format!(" at line {} column {}", error.line(), error.column());
        let text = text.strip_suffix(&suffix).unwrap_or(&text);
        // A value of the right JSON that no type takes (a stored snapshot's duration past
        // what this version allows) is no JSON error.
        if error.is_data() {
            text.to_owned()
        } else {
            format!("invalid JSON: {}", escape_told(text))
        }
    };
    Problem {
        place: Place::LineCol {
            line: error.line(),
            // serde_json says column 0 for the start of a line (a text cut off after a
            // newline); columns are named from 1.
            column: error.column().max(1),
        },
        message,
    }
}

/// serde_json's `text` of a syntax error, told with what a good escape is where a string's
/// escape is bad: serde_json says only that one is, and calls a lone low surrogate
/// (`\uDC00`) a "leading" one (probe 48 F7).
fn escape_told(text: &str) -> &str {
    match text {
        "unexpected end of hex escape" | "lone leading surrogate in hex escape" => {
            "a lone surrogate: a `\\uD800`-`\\uDFFF` escape is half of a character, a high \
             one (`\\uD800`-`\\uDBFF`) followed by a low one (`\\uDC00`-`\\uDFFF`); write \
             the character itself or both halves"
        }
        "invalid escape" => {
            "invalid escape (a string's escapes are `\\\"` `\\\\` `\\/` `\\b` `\\f` `\\n` \
             `\\r` `\\t` and `\\u` with four hex digits)"
        }
        _ => text,
    }
}

/// The problems found so far, and which parts of the file were removed to get past them.
#[derive(Debug, Default)]
struct Report {
    problems: Vec<Problem>,
    /// Pointers of values removed or reset after a problem: later problems inside them are
    /// consequences, not news.
    removed: Vec<String>,
    /// Pointers that already have a schema or type problem.
    flagged: std::collections::HashSet<String>,
    /// The nodes (pointers) given a key no node has that is likely a typo of one they lack
    /// (`neds`), and that key.
    typos: Vec<(String, &'static str)>,
    /// The ids given under a typo of `id` (`"di": "b"`), or in a group's members under a
    /// typo of `pipeline` or `parallel`: a step or a need naming one is no news.
    lost_ids: Vec<String>,
    /// The `needs` that name no node (the pointer of the node, the id), which compiling
    /// tells: what reads a step is checked without them, and not in those nodes.
    unknown_needs: Vec<(String, String)>,
}

impl Report {
    /// Records a schema or type problem (one per place).
    fn structural(&mut self, pointer: String, message: String) {
        if self.flagged.insert(pointer.clone()) {
            self.problems.push(Problem::at(pointer, message));
        }
    }

    /// Records a problem of meaning, unless its place already has a problem or was removed.
    fn semantic(&mut self, problem: Problem) {
        let Place::Pointer(pointer) = &problem.place else {
            return self.problems.push(problem);
        };
        if !self.refused(pointer) {
            self.problems.push(problem);
        }
    }

    /// Whether the value at `pointer` has a problem already, or was removed after one: what
    /// follows from it is no news.
    fn refused(&self, pointer: &str) -> bool {
        self.flagged.contains(pointer)
            || (self.removed.iter()).any(|removed| crate::problem::is_within(pointer, removed))
    }

    /// Whether `key` of the object at `object` was refused, or a key given there refused
    /// as unknown is likely a typo of it (`max_delya`): either way it is left to its default.
    fn lost_key(&self, object: &str, key: &str) -> bool {
        let prefix = [object, "/"].concat();
        self.refused(&[prefix.as_str(), key].concat())
            || (self.flagged.iter())
                .filter_map(|flagged| flagged.strip_prefix(&prefix))
                .filter(|given| !given.contains('/'))
                .any(|given| closest(&crate::problem::unescape(given), [key]).is_some())
    }

    /// The pointers of the nodes that were given `key` but lost it to the schema's check: its
    /// value was refused, or a key refused as unknown is likely a typo of it (`neds`, on a
    /// node without `needs`). What follows from the key's absence there is then no news.
    fn lost<'r>(&'r self, key: &'r str) -> impl Iterator<Item = &'r str> + 'r {
        let refused = (self.removed.iter()).filter_map(move |removed| {
            let (node, given) = removed.rsplit_once('/')?;
            (crate::problem::unescape(given) == key).then_some(node)
        });
        let misspelt = (self.typos.iter())
            .filter(move |(_, meant)| *meant == key)
            .map(|(node, _)| node.as_str());
        refused.chain(misspelt)
    }
}

/// The JSON Schema validator of workflow files, built once.
static VALIDATOR: LazyLock<Result<jsonschema::Validator, String>> = LazyLock::new(|| {
    jsonschema::validator_for(definition::schema()).map_err(|error| error.to_string())
});

/// The executors a message offers: `known: agent, noop, process`, or that there are none.
fn known_executors(executors: &Executors) -> String {
    if executors.is_empty() {
        return "the engine has no executors: register them with its builder".to_owned();
    }
    let names: Vec<&str> = executors.keys().map(String::as_str).collect();
    format!("known: {}", names.join(", "))
}

#[cfg(test)]
mod tests;
