//! `cairn policy test FILE` and `cairn policy explain FILE --action JSON`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use cairn_engine::{Action, Facts, SharedJson, Usage, Uuid};
use cairn_guards::{Policy, PolicyGuard};
use serde_json::{Value, json};

use super::error::{Error, RUN_FAILED, SUCCESS};
use crate::Global;

/// Arguments of `cairn policy`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Run a policy file's own tests: exit 0 when all pass, 1 when one fails.
    Test {
        /// The policy file.
        file: PathBuf,
    },
    /// Judge one action and print `{"decision", "rules", "reasons"}`.
    Explain {
        /// The policy file.
        file: PathBuf,
        /// The action: `{"executor", "params", "step"?, "attempt"?}`.
        #[arg(long)]
        action: String,
    },
}

/// Runs `cairn policy …`.
pub(crate) fn run(args: &Args, _: &Global) -> Result<ExitCode, Error> {
    match &args.command {
        Command::Test { file } => test(file),
        Command::Explain { file, action } => explain(file, action),
    }
}

fn test(file: &std::path::Path) -> Result<ExitCode, Error> {
    let policy = Policy::load(file)?;
    let failures = policy.run_tests();
    let mut stdout = std::io::stdout().lock();
    for failure in &failures {
        writeln!(stdout, "{}:{}: {failure}", file.display(), failure.pointer)?;
    }
    if failures.is_empty() {
        writeln!(
            stdout,
            "{}: {} tests pass",
            file.display(),
            policy.tests.len()
        )?;
        Ok(ExitCode::from(SUCCESS))
    } else {
        Ok(ExitCode::from(RUN_FAILED))
    }
}

fn explain(file: &std::path::Path, action: &str) -> Result<ExitCode, Error> {
    let guard = PolicyGuard::load(file)?;
    let given: Value = serde_json::from_str(action)
        .map_err(|error| Error::Usage(format!("--action is not JSON: {error}")))?;
    let text = |key: &str, default: &str| {
        given
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    let executor = given.get("executor").and_then(Value::as_str);
    let executor = executor.ok_or_else(|| Error::Usage("--action needs \"executor\"".into()))?;
    let step = text("step", "step");
    let attempt = given.get("attempt").and_then(Value::as_u64).unwrap_or(1);
    let action = Action {
        run_id: Uuid::nil(),
        idempotency_key: Action::idempotency_key_for(Uuid::nil(), &step, None),
        step_id: step,
        item_index: None,
        attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
        executor: executor.to_owned(),
        params: given.get("params").cloned().unwrap_or_else(|| json!({})),
    };
    let input = SharedJson::new(json!({}));
    let facts = Facts {
        item: None,
        id: Uuid::nil(),
        workflow: "",
        input: &input,
        attempts: 0,
        steps: 0,
        usage: &Usage::default(),
        elapsed: std::time::Duration::ZERO,
    };
    let verdict = guard.explain(&action, &facts);
    let shown =
        json!({"decision": verdict.decision, "rules": verdict.rules, "reasons": verdict.reasons});
    writeln!(std::io::stdout().lock(), "{shown}")?;
    Ok(ExitCode::from(SUCCESS))
}
