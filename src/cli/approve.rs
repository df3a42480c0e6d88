//! `cairn approve`, `cairn deny`, `cairn approvals`: decide on the steps a guard held for a
//! person, from any process. A live engine sees the decision within a second; with none
//! running, it waits in the database and `cairn resume` acts on it.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::Write;
use std::process::ExitCode;

use cairn_engine::store::PendingCommand;
use cairn_engine::{Approval, Command, Engine, Error as EngineError, Ruling, Uuid};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::control::{operator, send_then_close};
use super::engine::{closed_after, open_to_read};
use super::error::Error;
use super::printable::{self, say};
use super::{invocation, json};
use crate::Global;

/// Arguments of `cairn approve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ApproveArgs {
    /// The run's id (or a unique prefix of at least 4 characters).
    run: String,
    /// The step that awaits approval.
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
    step: String,
    /// Only this `for_each` item (default: every item of the step that waits).
    #[arg(long)]
    item: Option<usize>,
    /// Why (kept in the run's history).
    #[arg(long)]
    reason: Option<String>,
    /// Who decides (default: $USER, else the user cairn runs as).
    #[arg(long)]
    by: Option<String>,
}

/// Arguments of `cairn deny`.
#[derive(Debug, clap::Args)]
pub(crate) struct DenyArgs {
    /// The run's id (or a unique prefix of at least 4 characters).
    run: String,
    /// The step that awaits approval.
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
    step: String,
    /// Only this `for_each` item (the step is denied as a whole all the same).
    #[arg(long)]
    item: Option<usize>,
    /// Why (kept in the run's history and the step's error); not empty or blank.
    #[arg(long)]
    reason: String,
    /// Who decides (default: $USER, else the user cairn runs as).
    #[arg(long)]
    by: Option<String>,
}

/// Approves a step that awaits approval.
pub(crate) async fn approve(args: &ApproveArgs, global: &Global) -> Result<ExitCode, Error> {
    let ruling = ruling(&args.step, args.item, args.reason.clone(), args.by.clone());
    let approved = match args.item {
        Some(item) => format!("item {item} of step {}", args.step),
        None => format!("step {}", args.step),
    };
    send(
        global,
        &args.run,
        Command::Approve(ruling),
        &approved,
        "approved",
    )
    .await
}

/// Denies a step that awaits approval.
pub(crate) async fn deny(args: &DenyArgs, global: &Global) -> Result<ExitCode, Error> {
    let ruling = ruling(
        &args.step,
        args.item,
        Some(args.reason.clone()),
        args.by.clone(),
    );
    // A denial of an item denies the whole step: the message says which item it came from.
    let denied = match args.item {
        Some(item) => format!("step {} (by its item {item})", args.step),
        None => format!("step {}", args.step),
    };
    send(global, &args.run, Command::Deny(ruling), &denied, "denied").await
}

/// What the listing needs of a run a request waits in.
struct RunNow {
    /// Its commands not applied yet, with when each was sent.
    pending: Vec<PendingCommand>,
    /// Whether an engine drives it.
    driven: bool,
    /// When it times out: past then, no ruling is taken.
    deadline: Option<chrono::DateTime<Utc>>,
}

/// The approval requests that wait, in every run, and what the listing needs of their runs.
async fn waiting_requests(
    engine: &Engine,
) -> Result<(Vec<Approval>, HashMap<Uuid, RunNow>), Error> {
    let waiting = engine.approvals().await?;
    let mut runs = HashMap::new();
    for approval in &waiting {
        if let Entry::Vacant(run) = runs.entry(approval.run_id) {
            let store = engine.store();
            let pending = store.pending_commands(approval.run_id).await?;
            let record = store.find_run(&approval.run_id.to_string()).await?;
            run.insert(RunNow {
                pending,
                driven: record.is_driven(Utc::now()),
                deadline: record.deadline,
            });
        }
    }
    Ok((waiting, runs))
}

/// Lists the approval requests that wait, in every run. A ruling `cairn approve` or
/// `cairn deny` recorded and not applied yet is shown beside its request, with who applies
/// it: the engine driving the run (within a second), or the next one, `cairn resume`.
/// `--json` adds it as `"ruling"`. A missing database has none, as `cairn runs` lists no
/// runs of it.
pub(crate) async fn approvals(global: &Global) -> Result<ExitCode, Error> {
    let (mut waiting, mut runs) = (Vec::new(), HashMap::<Uuid, RunNow>::new());
    match open_to_read(global).await {
        Err(EngineError::MissingDatabase(_)) => {}
        opened => {
            (waiting, runs) = closed_after(opened?, waiting_requests).await?;
        }
    }
    let ruled = |approval: &Approval| recorded_ruling(approval, &runs[&approval.run_id].pending);
    let driven = |approval: &Approval| runs[&approval.run_id].driven;
    let now = Utc::now();
    // Past it, no ruling is taken (probe 49 F2: listed as one to decide).
    let deadline_passed =
        |approval: &Approval| (runs[&approval.run_id].deadline).filter(|&deadline| deadline <= now);
    // The first expiry of an unruled request of `approval`'s step, by now or, past the
    // run's deadline, by the deadline: an expired request denies its step, every item of it,
    // when an engine takes the run over, which settles first what was dated before the
    // deadline (probe 174 F1, 179 F3, 181 F2: listed as requests to decide, or that the
    // time-out ends).
    // A denial sent in time keeps every request of its step out of the expiry (probe 183
    // F2: an item's later expiry was named instead).
    // Found once a step, from its own requests (probe 209 F1: each request listed walked all
    // its run's, and 50,000 requests of one step took 33 s).
    let mut steps: HashMap<(Uuid, &str), Vec<&Approval>> = HashMap::new();
    for approval in &waiting {
        let step = (approval.run_id, approval.step_id.as_str());
        steps.entry(step).or_default().push(approval);
    }
    let first_denials: HashMap<(Uuid, &str), Option<DateTime<Utc>>> = (steps.into_iter())
        .map(|((run, step), requests)| {
            let by = (runs[&run].deadline).filter(|&deadline| deadline <= now);
            let first =
                Approval::first_expired(requests, &runs[&run].pending, step, by.unwrap_or(now));
            ((run, step), first.map(|first| first.expires_at))
        })
        .collect();
    let denied_first =
        |approval: &Approval| first_denials[&(approval.run_id, approval.step_id.as_str())];
    let mut stdout = printable::stdout(global.json);
    if global.json {
        let ruling = |approval| {
            let (approved, ruling) = ruled(approval)?;
            Some(json!({"approved": approved, "by": ruling.by, "reason": ruling.reason}))
        };
        let listed: Vec<Listed> = (waiting.iter())
            .map(|approval| Listed {
                approval,
                ruling: ruling(approval),
            })
            .collect();
        json::print(&mut stdout, &listed)?;
        stdout.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    if waiting.is_empty() {
        writeln!(stdout, "no step awaits approval")?;
    }
    for approval in &waiting {
        let item = approval
            .item
            .map_or(String::new(), |item| format!(" --item {item}"));
        let passed = (deadline_passed(approval))
            .filter(|_| ruled(approval).is_none() && denied_first(approval).is_none());
        let expiry = match (passed, (approval.expires_at - Utc::now()).to_std()) {
            // Another request of the step expired first, unruled: that denies the step (probe
            // 181 F3: a request ruled on in time too).
            _ if let Some(first) = denied_first(approval)
                .filter(|&first| first < approval.expires_at || ruled(approval).is_some()) =>
            {
                format!(
                    "its step is denied {}: a request of it expired at {}{}",
                    if driven(approval) {
                        "by the engine driving the run"
                    } else {
                        "when an engine drives the run"
                    },
                    first.to_rfc3339_opts(SecondsFormat::Secs, true),
                    if deadline_passed(approval).is_some() {
                        ", before the run's deadline"
                    } else {
                        ""
                    }
                )
            }
            (Some(deadline), _) => format!(
                "the run's deadline passed at {}: no ruling is taken, and the run times out \
                 when an engine takes it over",
                deadline.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            (None, Ok(left)) => format!(
                "expires in {}",
                humantime::format_duration(std::time::Duration::from_secs(left.as_secs()))
            ),
            // A ruling is taken only before the expiry: it decides, not the expiry.
            (None, Err(_)) if ruled(approval).is_some() => format!(
                "expired at {}, after it was ruled on",
                approval
                    .expires_at
                    .to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            // Denied by the next turn of the engine that drives the run.
            (None, Err(_)) => format!(
                "expired at {}, denied {}",
                approval
                    .expires_at
                    .to_rfc3339_opts(SecondsFormat::Secs, true),
                if driven(approval) {
                    "by the engine driving the run"
                } else {
                    "when an engine drives the run"
                }
            ),
        };
        let ruling = match ruled(approval) {
            Some((approved, ruling)) => format!(
                "; {} by {}, {}",
                if approved { "approved" } else { "denied" },
                // A name is one line: a newline in it would start one that reads as
                // cairn's (probe 37 F3).
                printable::one_line(&ruling.by),
                if driven(approval) {
                    "applied within a second by the engine driving the run".to_owned()
                } else {
                    format!(
                        "applied when an engine drives the run (`{} resume {}`)",
                        invocation::cairn(&global.db),
                        approval.run_id
                    )
                }
            ),
            None => String::new(),
        };
        writeln!(
            stdout,
            "{} {}{item}: {} (asked {}, {expiry}){ruling}",
            approval.run_id,
            approval.step_id,
            approval.verdict.explain(),
            approval
                .requested_at
                .to_rfc3339_opts(SecondsFormat::Secs, true),
        )?;
        // The whole action the approval is for: the reasons quote only its command.
        if !approval.action.is_null() {
            writeln!(stdout, "  action: {}", approval.action)?;
        }
        // Approved once, the action runs again on a retry without asking (probe 11 of stop
        // 55 read "approve" as Claude Code's "allow once").
        writeln!(
            stdout,
            "  an approval lets this action run, and its retries too, under the rules asked"
        )?;
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// An approval request as `cairn approvals --json` lists it: with the ruling an operator
/// sent and no engine has applied yet, if any.
#[derive(Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    approval: &'a Approval,
    #[serde(skip_serializing_if = "Option::is_none")]
    ruling: Option<Value>,
}

/// The first ruling among a run's unapplied `commands` that decides `approval` (what the
/// engine will apply), if it names the request (the step, or this item): whether it
/// approves, and the ruling. A denial of another item denies the whole step, but is shown
/// beside that item only: it was no decision on this one.
fn recorded_ruling<'c>(
    approval: &Approval,
    commands: &'c [PendingCommand],
) -> Option<(bool, &'c Ruling)> {
    let covering =
        (commands.iter()).find(|sent| sent.command.covers(&approval.step_id, approval.item))?;
    // One sent at the expiry or after it (another process held the database meanwhile)
    // comes after it: the engine expires the request first (probe 183 F3).
    if covering.created_at >= approval.expires_at {
        return None;
    }
    let (approved, ruling) = match &covering.command {
        Command::Approve(ruling) => (true, ruling),
        Command::Deny(ruling) => (false, ruling),
        Command::Pause(_) | Command::Cancel(_) => return None,
    };
    let names = ruling.item.is_none() || ruling.item == approval.item;
    names.then_some((approved, ruling))
}

fn ruling(step: &str, item: Option<usize>, reason: Option<String>, by: Option<String>) -> Ruling {
    Ruling {
        step: step.to_owned(),
        item,
        by: operator(by),
        reason,
    }
}

/// Sends the ruling `command` on `subject` (`step s`, `item 1 of step s`) and says it is
/// `done` (approved, denied).
async fn send(
    global: &Global,
    run: &str,
    command: Command,
    subject: &str,
    done: &str,
) -> Result<ExitCode, Error> {
    let (run, driven) = send_then_close(global, run, command).await?;
    if driven {
        say(format_args!(
            "{subject} of run {run} {done}; the engine driving the run acts on it within a second"
        ));
    } else {
        say(format_args!(
            "{subject} of run {run} {done}; no engine drives the run now: `{} resume {run}` carries it on with this decision",
            invocation::cairn(&global.db)
        ));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use cairn_engine::store::PendingCommand;
    use cairn_engine::{Approval, Command, Uuid, Verdict};
    use chrono::{TimeDelta, Utc};

    use super::{recorded_ruling, ruling};

    #[test]
    fn the_first_ruling_that_decides_a_request_is_the_one_shown() {
        let approval = Approval {
            run_id: Uuid::nil(),
            step_id: "deploy".into(),
            item: Some(1),
            action_hash: "h".into(),
            action: serde_json::Value::Null,
            verdict: Verdict::approve("ask", "a person decides"),
            requested_at: Utc::now(),
            expires_at: Utc::now() + TimeDelta::hours(1),
            decision: None,
        };
        let sent_at = |command, created_at| PendingCommand {
            id: 1,
            run_id: Uuid::nil(),
            command,
            created_at,
        };
        let approve =
            |step: &str, item| Command::Approve(ruling(step, item, None, Some("ann".into())));
        let deny = |item| Command::Deny(ruling("deploy", item, None, Some("bob".into())));
        let shown = |commands: &[Command]| {
            let sent: Vec<PendingCommand> = (commands.iter())
                .map(|command| sent_at(command.clone(), Utc::now()))
                .collect();
            recorded_ruling(&approval, &sent)
                .map(|(approved, ruling)| (approved, ruling.by.clone()))
        };
        assert_eq!(
            shown(&[approve("build", None), approve("deploy", Some(0))]),
            None
        );
        assert_eq!(
            shown(&[approve("deploy", Some(1))]),
            Some((true, "ann".into()))
        );
        assert_eq!(
            shown(&[approve("deploy", None), deny(None)]),
            Some((true, "ann".into()))
        );
        assert_eq!(
            shown(&[deny(None), approve("deploy", None)]),
            Some((false, "bob".into())),
        );
        assert_eq!(
            shown(&[deny(Some(0)), approve("deploy", None)]),
            None,
            "a denial of another item decides the step, shown beside that item only"
        );
        assert_eq!(shown(&[deny(Some(1))]), Some((false, "bob".into())));
        // Sent at the expiry: after it, as the engine expires the request first (probe 183 F3).
        let late = [sent_at(deny(Some(1)), approval.expires_at)];
        assert_eq!(recorded_ruling(&approval, &late), None);
    }
}
