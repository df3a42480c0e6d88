//! `cairn runs`, `cairn show`, `cairn history`: read runs from the database, change nothing.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use cairn_engine::store::{Lease, RunRecord, Store};
use cairn_engine::{
    Engine, Error as EngineError, ErrorClass, Event, LeaseHolder, RunFilter, RunState, RunView,
    StepState, StepView, Usage, Uuid,
};
use chrono::{DateTime, SecondsFormat, Utc};

use super::engine::{closed_after, open_to_read};
use super::error::{self, Error};
use super::{invocation, json, printable};
use crate::Global;

/// Arguments of `cairn show` and `cairn history`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArg {
    /// The run's id (or a unique prefix of at least 4 characters).
    run: String,
}

/// Arguments of `cairn runs`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunsArgs {
    /// Only the runs in this state (pending, running, paused, succeeded, failed or
    /// cancelled); repeat it for several.
    #[arg(long = "state", value_name = "STATE", value_parser = run_state)]
    states: Vec<RunState>,
    /// At most this many runs, the newest.
    #[arg(long, value_name = "N", value_parser = parse_limit)]
    limit: Option<usize>,
}

/// Parses `--limit`: a limit of 0 would list nothing whatever the database holds.
fn parse_limit(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("a limit of 0 would list no run: give at least 1".into()),
        Ok(limit) => Ok(limit),
        Err(error) => Err(error.to_string()),
    }
}

/// Parses `--state`; what is not a run's state is refused with the states there are.
fn run_state(text: &str) -> Result<RunState, String> {
    text.parse().map_err(|_| {
        let states: Vec<&str> = RunState::ALL.iter().map(|state| state.as_str()).collect();
        let states = states.join(", ");
        format!("not a run state; one of {states}")
    })
}

/// Lists the runs `args` asks for (by default every one), newest first.
pub(crate) async fn runs(args: &RunsArgs, global: &Global) -> Result<ExitCode, Error> {
    let filter = RunFilter {
        states: args.states.clone(),
        limit: args.limit,
    };
    let runs = match open_to_read(global).await {
        Ok(engine) => closed_after(engine, async |engine| engine.runs(&filter).await).await?,
        Err(EngineError::MissingDatabase(_)) => Vec::new(),
        Err(error) => return Err(error.into()),
    };
    let mut stdout = printable::stdout(global.json);
    if global.json {
        json::print(&mut stdout, &runs)?;
        stdout.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        let matching = if filter == RunFilter::default() {
            ""
        } else {
            "matching "
        };
        writeln!(
            stdout,
            "no {matching}runs in {}",
            cairn_engine::path_text(&global.db)
        )?;
    }
    // Each with when it was created, the order they are listed in (its last change,
    // after a retry, read as out of order: probe 37 F10).
    for run in &runs {
        writeln!(
            stdout,
            "{}  {:<10} {:<24} {}",
            run.id,
            run.state.as_str(),
            printable::one_line(&run.workflow),
            time(run.created_at)
        )?;
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Shows a run: its state, input, output, error and every step (a `for_each` step with its
/// items: counted by state, or listed with `--json`). The steps are read without
/// their outputs (a big run's are hundreds of megabytes), which the text leaves out and
/// `--json` reads a page of steps at a time, whole, as it writes them
/// ([`print_with_outputs`]).
pub(crate) async fn show(args: &RunArg, global: &Global) -> Result<ExitCode, Error> {
    let engine = open_to_read(global).await?;
    closed_after(engine, async |engine| show_run(engine, args, global).await).await
}

/// [`show`] with `engine` open.
async fn show_run(engine: &Engine, args: &RunArg, global: &Global) -> Result<ExitCode, Error> {
    let mut run = engine.view_without_outputs(&args.run).await?;
    let mut stdout = printable::stdout(global.json);
    if global.json {
        print_with_outputs(&mut stdout, run, engine.store()).await?;
        stdout.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    with_replies(&mut run.steps, run.id, engine.store()).await?;
    let record = match run.state.is_terminal() {
        true => None,
        false => Some(engine.store().find_run(&run.id.to_string()).await?),
    };
    with_holds(
        &mut run.steps,
        &holds(record.as_ref(), engine.store()).await?,
    );
    let total = run.usage.clone();
    let steps = &run.steps;
    print_run(&mut stdout, &run, &global.db)?;
    if let Some(record) = &record {
        let driver = driver(record, Utc::now(), &global.db);
        writeln!(stdout, "engine    {driver}")?;
    }
    if total != Usage::default() {
        let Usage {
            input_tokens,
            output_tokens,
            cost_usd,
        } = total;
        writeln!(
            stdout,
            "usage     {input_tokens} tokens in, {output_tokens} out, ${cost_usd:.4}"
        )?;
    }
    let width = steps
        .iter()
        .map(|step| step.id.len())
        .max()
        .unwrap_or(4)
        .clamp(4, WIDEST_STEP_COLUMN);
    writeln!(stdout, "\n{:<width$}  {:<17} attempt", "step", "state")?;
    // The items are counted a page of steps at a time, by the store: none is read.
    for page in steps.chunks(MOST_STEPS) {
        let ids: Vec<&str> = page.iter().map(|step| step.id.as_str()).collect();
        let mut counts: HashMap<String, Vec<(StepState, usize)>> = HashMap::new();
        for (step, state, count) in engine.store().item_counts(run.id, &ids).await? {
            counts.entry(step).or_default().push((state, count));
        }
        for step in page {
            writeln!(
                stdout,
                "{:<width$}  {:<17} {}",
                step.id,
                step.state.as_str(),
                step.attempt
            )?;
            if let Some(error) = &step.error {
                let error = printable::indented(error, width + 9);
                writeln!(stdout, "{:<width$}  error: {error}", "")?;
            }
            if let Some(reply) = &step.reply {
                // Its line end left out: an agent's reply ends with one, as a file does.
                let reply = printable::indented(reply.trim_end_matches('\n'), width + 9);
                writeln!(stdout, "{:<width$}  reply: {reply}", "")?;
            }
            if let Some(why) = &step.waits {
                let why = printable::indented(why, width + 9);
                writeln!(stdout, "{:<width$}  waits: {why}", "")?;
            }
            if let (StepState::Running, Some(at)) = (step.state, step.progress_at) {
                let at = at.to_rfc3339_opts(SecondsFormat::Millis, true);
                writeln!(stdout, "{:<width$}  last sign of life: {at}", "")?;
            }
            if let Some(at) = step.wake_at {
                let at = at.to_rfc3339_opts(SecondsFormat::Millis, true);
                writeln!(stdout, "{:<width$}  next attempt at: {at}", "")?;
            }
            if let Some(counted) = counts.get_mut(&step.id) {
                counted.sort_by_key(|(state, _)| ITEM_STATES.iter().position(|s| s == state));
                let counted: Vec<String> = (counted.iter())
                    .map(|(state, count)| format!("{count} {}", state.as_str()))
                    .collect();
                writeln!(stdout, "{:<width$}  items: {}", "", counted.join(", "))?;
            }
        }
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `run` (read without its steps' outputs) as one line of JSON, its serde form, a page
/// of steps at a time: each page's steps read again just before it is written, whole
/// ([`Store::steps_named`]: state, attempt, error and output from one row each), then their
/// items. Of the steps `run` was read with, only their ids and order are used: printed
/// with an output read later, a state read at the start described a step the database never
/// held (`pending` with an output) while an engine drove the run. A step gone meanwhile (a
/// redrive superseded its plan) is left out.
///
/// A page's size follows the bytes the last one printed ([`next_page`]): outputs may be a
/// megabyte each, or a few bytes. Nothing is written before the first page is read: a
/// corrupt value met later leaves the document unclosed, never complete.
async fn print_with_outputs(
    out: &mut impl Write,
    mut run: RunView,
    store: &dyn Store,
) -> Result<(), Error> {
    let ids: Vec<String> = (std::mem::take(&mut run.steps).into_iter())
        .map(|step| step.id)
        .collect();
    let head = serde_json::to_string(&run).map_err(std::io::Error::from)?;
    let head = (head.strip_suffix("[]}"))
        .ok_or_else(|| EngineError::Bug("a run's steps are not its last field".into()))?;
    // Written once the first page is read: a corrupt page refused there prints nothing.
    let mut head = Some(head);
    let record = match run.state {
        RunState::Running => Some(store.find_run(&run.id.to_string()).await?),
        _ => None,
    };
    let holds = holds(record.as_ref(), store).await?;
    let (mut first, mut size, mut printed) = (0, FIRST_PAGE, 0);
    while first < ids.len() {
        let end = (first + size).min(ids.len());
        let named: Vec<&str> = ids[first..end].iter().map(String::as_str).collect();
        let records = store.steps_named(run.id, &named).await?;
        let mut page: Vec<StepView> = records.into_iter().map(StepView::from).collect();
        with_replies(&mut page, run.id, store).await?;
        with_holds(&mut page, &holds);
        let items = store.items(run.id, &named).await?;
        StepView::with_items(&mut page, items);
        if let Some(head) = head.take() {
            write!(out, "{head}[")?;
        }
        let mut bytes = 0;
        // Each step is let go once written: a page's outputs are held until then only.
        for step in page {
            let json = serde_json::to_vec(&step).map_err(std::io::Error::from)?;
            if printed > 0 {
                write!(out, ",")?;
            }
            out.write_all(&json)?;
            bytes += json.len();
            printed += 1;
        }
        size = next_page(end - first, bytes);
        first = end;
    }
    if let Some(head) = head {
        write!(out, "{head}[")?;
    }
    writeln!(out, "]}}")?;
    Ok(())
}

/// The steps the guard or a rate limit holds, and why ([`Store::holds`]), while an engine
/// drives the run (`record`, read unless it has ended): a hold lives in that engine's
/// memory, and the steps of a run none drives wait for `cairn resume`, which judges them
/// afresh (probe 92 F2: a paused run's step waited for "an attempt in flight").
async fn holds(
    record: Option<&RunRecord>,
    store: &dyn Store,
) -> Result<HashMap<String, String>, EngineError> {
    match record {
        Some(record) if record.state == RunState::Running && record.is_driven(Utc::now()) => {
            Ok(store.holds(record.id).await?.into_iter().collect())
        }
        _ => Ok(HashMap::new()),
    }
}

/// Why each of the `ready` steps among `steps` waits, if the guard or a rate limit holds it
/// (`holds`, the run's; probe 84 F5: such a step looked stuck).
fn with_holds(steps: &mut [StepView], holds: &HashMap<String, String>) {
    for step in steps
        .iter_mut()
        .filter(|step| step.state == StepState::Ready)
    {
        step.waits = holds.get(&step.id).cloned();
    }
}

/// Puts into each of `steps` (of run `run`) whose error refused what its attempt answered
/// (`output_schema`, `invalid_plan`) the reply that attempt kept ([`Store::replies`]): the
/// step's last one kept, if it was refused with the error the step shows (a later attempt
/// that failed otherwise, or a denial, shows its own error alone). Only such steps are
/// looked up: the others' errors kept none.
async fn with_replies(
    steps: &mut [StepView],
    run: Uuid,
    store: &dyn Store,
) -> Result<(), EngineError> {
    let refusals = [ErrorClass::OutputSchema, ErrorClass::InvalidPlan]
        .map(|class| format!("{}: ", class.as_str()));
    let refused = |step: &StepView| {
        (step.error.as_deref())
            .is_some_and(|error| refusals.iter().any(|class| error.starts_with(class)))
    };
    let ids: Vec<&str> = (steps.iter())
        .filter(|step| refused(step))
        .map(|step| step.id.as_str())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let mut kept: HashMap<String, serde_json::Value> =
        store.replies(run, &ids).await?.into_iter().collect();
    for step in steps {
        let Some(detail) = kept.remove(&step.id) else {
            continue;
        };
        if detail["error"].as_str() == step.error.as_deref() {
            step.reply = detail["reply"].as_str().map(str::to_owned);
        }
    }
    Ok(())
}

/// The order in which `cairn show` counts a `for_each` step's items by state.
const ITEM_STATES: [StepState; 6] = [
    StepState::Running,
    StepState::Succeeded,
    StepState::Failed,
    StepState::Cancelled,
    StepState::Pending,
    StepState::Skipped,
];

/// How many steps the first page of `cairn show --json` holds.
const FIRST_PAGE: usize = 16;

/// The widest the step column of `cairn show` grows: a longer id overflows it (and
/// `format!` refuses a width above 65,535).
const WIDEST_STEP_COLUMN: usize = 40;

/// The most steps a page holds.
const MOST_STEPS: usize = 1_000;

/// What a page of `cairn show --json` aims to print.
const PAGE_BYTES: usize = 8 << 20;

/// How many steps the next page holds after one of `steps` steps printed `bytes`: twice as
/// many while pages print under [`PAGE_BYTES`], half as many while they print over four
/// times that, between 1 and [`MOST_STEPS`].
fn next_page(steps: usize, bytes: usize) -> usize {
    if bytes < PAGE_BYTES {
        (steps * 2).min(MOST_STEPS)
    } else if bytes > 4 * PAGE_BYTES {
        (steps / 2).max(1)
    } else {
        steps
    }
}

/// Lists every transition of a run, in order, with its time. The events are read and
/// printed a page at a time: a big run's history is millions of them.
pub(crate) async fn history(args: &RunArg, global: &Global) -> Result<ExitCode, Error> {
    let engine = open_to_read(global).await?;
    closed_after(engine, async |engine| {
        print_history(engine, args, global).await
    })
    .await
}

/// [`history`] with `engine` open.
async fn print_history(engine: &Engine, args: &RunArg, global: &Global) -> Result<ExitCode, Error> {
    let store = engine.store();
    let run = store.find_run(&args.run).await?.id;
    let mut stdout = printable::stdout(global.json);
    let (mut after, mut first) = (0, true);
    loop {
        let page = store.history_page(run, after, HISTORY_PAGE).await?;
        for event in &page {
            if global.json {
                // `[` once the first page is read: a corrupt one refused there prints nothing.
                write!(
                    stdout,
                    "{}",
                    if std::mem::take(&mut first) { "[" } else { "," }
                )?;
                serde_json::to_writer(&mut stdout, event).map_err(std::io::Error::from)?;
            } else {
                print_event(&mut stdout, event, &global.db)?;
            }
        }
        match page.last() {
            Some(last) => after = last.seq,
            None => break,
        }
    }
    if global.json {
        writeln!(stdout, "{}]", if first { "[" } else { "" })?;
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// How many events `cairn history` reads at a time.
const HISTORY_PAGE: usize = 10_000;

/// One line of `cairn history`: its detail cut as `show` cuts a value ([`shown_value`]; probe
/// 80 F2: a redrive's lists every step it sends back, 866 KB for a run of 34,761 steps).
fn print_event(out: &mut impl Write, event: &Event, db: &Path) -> std::io::Result<()> {
    let subject = event
        .step_id()
        .map_or("run".to_owned(), |step| format!("step {step}"));
    let from = event
        .from()
        .map_or(String::new(), |from| format!("{from} -> "));
    let attempt = event
        .attempt
        .filter(|&attempt| attempt > 0)
        .map_or(String::new(), |a| format!(" (attempt {a})"));
    let whole = || {
        let run = event.run_id;
        format!(
            "`{} history {run} --json` gives it whole",
            invocation::cairn(db)
        )
    };
    let detail = (event.detail.as_ref()).map_or(String::new(), |detail| {
        format!("  {}", shown_value(detail, whole))
    });
    writeln!(
        out,
        "{:>5}  {}  {subject}: {from}{}{attempt}{detail}",
        event.seq,
        time(event.at),
        event.to()
    )
}

/// The most characters of a run's input or output its line in `show` gives, or of an event's
/// detail in `history`: a person reads the start of a value; the whole is `--json`'s (probe 37
/// F6: a sink's 600 kB output was one line).
const SHOWN_VALUE: usize = 1_000;

/// `value` as JSON for one line of `show`: cut past [`SHOWN_VALUE`] characters, with how
/// long it is and where it is given `whole`.
fn shown_value(value: &serde_json::Value, whole: impl Fn() -> String) -> String {
    let text = value.to_string();
    let chars = text.chars().count();
    if chars <= SHOWN_VALUE {
        return text;
    }
    format!(
        "{} ({chars} characters: {})",
        cairn_engine::cut(&text, SHOWN_VALUE),
        whole()
    )
}

fn print_run(out: &mut impl Write, run: &RunView, db: &Path) -> std::io::Result<()> {
    writeln!(out, "run       {}", run.id)?;
    writeln!(out, "workflow  {}", printable::one_line(&run.workflow))?;
    writeln!(out, "state     {}", run.state)?;
    writeln!(out, "created   {}", time(run.created_at))?;
    writeln!(out, "updated   {}", time(run.updated_at))?;
    if let Some(deadline) = run.deadline.filter(|_| !run.state.is_terminal()) {
        // Time passes while no engine runs: the run ends when one takes it over, not always
        // timed out (a cancel or a denial sent before the deadline; probe 48 F8).
        let passed = if deadline <= Utc::now() {
            " (passed: an engine taking the run over settles what came before it, then times out what has not ended)"
        } else {
            ""
        };
        writeln!(out, "deadline  {}{passed}", time(deadline))?;
    }
    if let Some(cwd) = &run.cwd {
        // Where its steps run, whichever directory resumes it (`path_text` is one line).
        writeln!(out, "directory {}", cairn_engine::path_text(cwd))?;
    }
    let whole = || {
        format!(
            "`{} show {} --json` gives it whole",
            invocation::cairn(db),
            run.id
        )
    };
    writeln!(out, "input     {}", shown_value(&run.input, whole))?;
    if let Some(output) = &run.output {
        writeln!(out, "output    {}", shown_value(output, whole))?;
    }
    if let Some(error) = &run.error {
        writeln!(out, "error     {}", printable::indented(error, 10))?;
    }
    if let Some(hint) = error::bigger_cap(run.id, run.state, run.error_class, db) {
        writeln!(out, "          {hint}")?;
    }
    Ok(())
}

/// Who drives the run `record` at `now`, not ended: the engine holding its lease, or none
/// (a run no engine drives stays as it was, `running` included, until one takes it over).
fn driver(record: &RunRecord, now: DateTime<Utc>, db: &Path) -> String {
    let resume = format!(
        "`{} resume {}` carries it on",
        invocation::cairn(db),
        record.id
    );
    let Some(Lease { holder, expires }) = &record.lease else {
        return format!("none: {resume}");
    };
    let LeaseHolder { host, pid, .. } = holder;
    let until = time(*expires);
    match (record.is_driven(now), holder.applies_commands()) {
        (true, false) => format!("pid {pid} on {host} drives it (its lease runs until {until})"),
        (true, true) => format!(
            "pid {pid} on {host} carries out a pause or a cancel (its lease runs until {until})"
        ),
        (false, _) if *expires > now => format!("none: pid {pid} on {host} is gone; {resume}"),
        (false, _) => format!("none since {until}, when its lease ran out; {resume}"),
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use cairn_engine::store::{
        Batch, MemoryStore, NewRun, RunTransition, StepTransition, Store, Transition,
    };
    use cairn_engine::{LeaseHolder, RunState, RunView, SharedJson, StepState, StepView, Uuid};
    use serde_json::{Value, json};

    use super::{MOST_STEPS, PAGE_BYTES, next_page, print_with_outputs, with_replies};

    /// A run of steps `a` and `b`, to record.
    fn new_run(run: Uuid) -> NewRun {
        NewRun {
            id: run,
            workflow_name: "demo".into(),
            definition: "{}".into(),
            input: Arc::new("{}".to_owned()),
            guard: None,
            steps: vec!["a".into(), "b".into()].into(),
            max_output_bytes: 1_000,
            cwd: None,
        }
    }

    /// The lease holder the tests' runs are recorded for.
    fn holder() -> LeaseHolder {
        LeaseHolder {
            owner: "me".into(),
            host: "here".into(),
            pid: 1,
            pid_start: 1,
        }
    }

    #[test]
    fn a_long_value_is_cut_with_where_it_is_given_whole() {
        let whole = || "`cairn show R --json` gives it whole".to_owned();
        let short = serde_json::json!({"a": "x"});
        assert_eq!(super::shown_value(&short, whole), r#"{"a":"x"}"#);
        let long = serde_json::json!("é".repeat(2_000));
        let shown = super::shown_value(&long, whole);
        assert_eq!(
            shown.chars().count(),
            1_001
                + " (2002 characters: `cairn show R --json` gives it whole)"
                    .chars()
                    .count()
        );
        assert!(
            shown.ends_with("é… (2002 characters: `cairn show R --json` gives it whole)"),
            "{shown}"
        );
    }

    /// A step that succeeds between the read of the run's states and the read of its page
    /// is printed as it stands at the page's read, state and output together: never its
    /// state from the first read beside the output it had by the second.
    #[tokio::test]
    async fn each_step_is_printed_as_one_moment_of_it() {
        let store = MemoryStore::new();
        let run = Uuid::now_v7();
        let moves = |transitions: Vec<Transition>| {
            let mut batch = Batch::new();
            for transition in transitions {
                batch.push(transition).expect("a legal transition");
            }
            batch
        };
        let start = moves(vec![
            Transition::Run(RunTransition::new(
                run,
                RunState::Pending,
                RunState::Running,
            )),
            Transition::Step(StepTransition::new(
                run,
                "a",
                StepState::Pending,
                StepState::Ready,
            )),
        ]);
        let ttl = Duration::from_secs(60);
        store
            .create_run(&new_run(run), &holder(), ttl, start)
            .await
            .unwrap();
        let record = store.find_run(&run.to_string()).await.unwrap();
        let states = store.steps_without_outputs(run).await.unwrap();
        let read = RunView::new(record, json!({}), states);

        let succeeded = Transition::Step(StepTransition {
            attempt: 1,
            output: Some(Arc::new(SharedJson::new(json!({"n": 1})))),
            ..StepTransition::new(run, "a", StepState::Running, StepState::Succeeded)
        });
        let running = Transition::Step(StepTransition {
            attempt: 1,
            ..StepTransition::new(run, "a", StepState::Ready, StepState::Running)
        });
        let end = moves(vec![running, succeeded]);
        store.commit("me", end).await.unwrap();
        let mut out = Vec::new();
        print_with_outputs(&mut out, read, &store).await.unwrap();

        let printed: Value = serde_json::from_slice(&out).unwrap();
        let a = &printed["steps"][0];
        assert_eq!(
            (&a["state"], &a["attempt"], &a["output"]),
            (&json!("succeeded"), &json!(1), &json!({"n": 1})),
            "{a}"
        );
        let b = &printed["steps"][1];
        assert_eq!(
            (&b["state"], &b["output"]),
            (&json!("pending"), &Value::Null)
        );
        assert_eq!(printed["state"], "running", "the run as first read");
    }

    /// A step shows the reply its last refused attempt kept while its error is that
    /// attempt's: once a later attempt failed otherwise, the reply is no longer its error's.
    #[tokio::test]
    async fn a_reply_is_shown_with_the_error_it_was_refused_with_only() {
        use StepState::{Failed, Pending, Ready, RetryWait, Running};
        let store = MemoryStore::new();
        let run = Uuid::now_v7();
        let moved = |step: &str, (from, to), error: Option<&str>, reply: Option<&str>| {
            Transition::Step(StepTransition {
                attempt: 1,
                error: error.map(str::to_owned),
                detail: reply.map(|reply| json!({ "reply": reply })),
                ..StepTransition::new(run, step, from, to)
            })
        };
        let refused = "output_schema: no JSON";
        let mut batch = Batch::new();
        for transition in [
            Transition::Run(RunTransition::new(
                run,
                RunState::Pending,
                RunState::Running,
            )),
            moved("a", (Pending, Ready), None, None),
            moved("a", (Ready, Running), None, None),
            moved("a", (Running, RetryWait), Some(refused), Some("said a")),
            moved("a", (RetryWait, Ready), Some(refused), None),
            moved("a", (Ready, Running), None, None),
            moved("a", (Running, Failed), Some("timeout: took too long"), None),
            moved("b", (Pending, Ready), None, None),
            moved("b", (Ready, Running), None, None),
            moved("b", (Running, Failed), Some(refused), Some("said b")),
        ] {
            batch.push(transition).expect("a legal transition");
        }
        let ttl = Duration::from_secs(60);
        store
            .create_run(&new_run(run), &holder(), ttl, batch)
            .await
            .unwrap();
        let records = store.steps_without_outputs(run).await.unwrap();
        let mut steps: Vec<StepView> = records.into_iter().map(StepView::from).collect();
        with_replies(&mut steps, run, &store).await.unwrap();
        let replies: Vec<Option<&str>> = steps.iter().map(|s| s.reply.as_deref()).collect();
        assert_eq!(replies, [None, Some("said b")]);
    }

    #[test]
    fn pages_grow_while_small_and_shrink_while_big() {
        assert_eq!(next_page(16, 1_000), 32, "small outputs: twice as many");
        assert_eq!(next_page(800, 1_000), MOST_STEPS, "up to the most");
        assert_eq!(next_page(16, 2 * PAGE_BYTES), 16, "about right: as many");
        assert_eq!(
            next_page(16, 5 * PAGE_BYTES),
            8,
            "big outputs: half as many"
        );
        assert_eq!(next_page(1, 100 * PAGE_BYTES), 1, "never none");
    }
}
