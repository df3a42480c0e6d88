//! `cairn policy test FILE` and `cairn policy explain FILE --action JSON`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cairn_engine::{Action, Decision, Executors, LoadError, Problem, Uuid, Verdict, check_params};
use cairn_guards::{Policy, PolicyGuard, TestAction, TestFailure, TestRun};
use serde::Serialize;
use serde_json::Value;

use super::error::{self, BAD_INPUT, Error, RUN_FAILED, SUCCESS};
use super::json::{self, Checked};
use super::{printable, workflow};
use crate::Global;

/// Arguments of `cairn policy`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Run a policy file's own tests: exit 0 when all pass, 1 when one fails (each failure
    /// named by its JSON pointer), 2 when the file is invalid.
    ///
    /// With --json, print one object: `{"file", "tests" (how many), "passed" (how many),
    /// "failures": [{"pointer", "expected", "got", "message"}]}`, `expected` and `got` being
    /// decisions (`allow`, `deny`, `approve`); for an invalid file, `{"file", "problems":
    /// [{"place", "message"}]}` (exit 2).
    Test {
        /// The policy file.
        file: PathBuf,
    },
    /// Judge one action and print `{"decision", "rules", "reasons"}`, with `"audit": true`
    /// when the policy only records its verdicts; `rules` names each deciding rule once
    /// (none when the policy's `default` decided, its one reason saying so).
    /// With --json, an invalid file prints `{"file", "problems": [{"place", "message"}]}`
    /// (exit 2).
    Explain {
        /// The policy file.
        file: PathBuf,
        /// The action, as a policy test's: `{"executor", "params"?, "step"? (default
        /// `test`), "attempt"? (default 1), "item"?, "index"?}`; `executor` is one of cairn's
        /// executors.
        #[arg(long)]
        action: String,
        /// How the action's run stands, as a policy test's `run`: `{"input"?, "workflow"?,
        /// "attempts"?, "steps"?, "cost_usd"?, "tokens"?, "elapsed"?}` (default: a fresh
        /// run, input `{}`).
        #[arg(long)]
        run: Option<String>,
    },
}

/// Runs `cairn policy …`.
pub(crate) fn run(args: &Args, global: &Global) -> Result<ExitCode, Error> {
    match &args.command {
        Command::Test { file } => test(file, global.json),
        Command::Explain { file, action, run } => {
            explain(file, action, run.as_deref(), global.json)
        }
    }
}

/// An invalid policy file: with `--json`, `{"file", "problems": [{"place", "message"}]}` on
/// stdout (a problem as `cairn validate --json` gives it) and exit 2, whatever becomes of the
/// output ([`error::outcome`]); else the error, which prints the problems on stderr.
fn invalid(file: &Path, error: LoadError, as_json: bool) -> Result<ExitCode, Error> {
    if !as_json {
        return Err(error.into());
    }
    let report = Checked {
        file: cairn_engine::path_text(file),
        ok: None,
        problems: error.problems,
    };
    let mut stdout = printable::stdout(true);
    let printed = json::print(&mut stdout, &report).and_then(|()| stdout.flush());
    error::outcome(ExitCode::from(BAD_INPUT), printed.map_err(Error::from))
}

/// What `cairn policy test --json` prints.
#[derive(Debug, Serialize)]
struct TestReport<'a> {
    file: &'a str,
    tests: usize,
    passed: usize,
    failures: Vec<FailureReport>,
}

/// One failing test, in a [`TestReport`].
#[derive(Debug, Serialize)]
struct FailureReport {
    pointer: String,
    expected: Decision,
    got: Decision,
    message: String,
}

impl From<&TestFailure> for FailureReport {
    fn from(failure: &TestFailure) -> Self {
        FailureReport {
            pointer: failure.pointer.clone(),
            expected: failure.expected,
            got: failure.got.decision,
            message: failure.to_string(),
        }
    }
}

/// The policy file at `file`, refused when it names an executor cairn does not have (in a
/// rate limit or a test's action), or a test's action has parameters its executor refuses
/// (a misspelt key would test nothing), with the file's other problems.
fn load(file: &Path) -> Result<Policy, LoadError> {
    let executors = workflow::executors();
    Policy::load_checked(file, |policy| {
        let known: Vec<&str> = executors.keys().map(String::as_str).collect();
        let mut problems = policy.unknown_executors(&known);
        for (index, test) in policy.tests.iter().enumerate() {
            let pointer = format!("/tests/{index}/action/params");
            let action = &test.action;
            problems.extend(action_problems(
                &executors,
                &action.executor,
                &action.params,
                &pointer,
            ));
        }
        problems
    })
}

/// What is wrong with an action of `executor` with `params` (at `pointer`), as a test's or
/// `policy explain`'s: parameters its schema refuses, else parameters the executor itself
/// refuses ([`refused_by_executor`]).
fn action_problems(
    executors: &Executors,
    executor: &str,
    params: &Value,
    pointer: &str,
) -> Vec<Problem> {
    let problems = check_params(executors, executor, params, pointer);
    if !problems.is_empty() {
        return problems;
    }
    (refused_by_executor(executor, params).into_iter())
        .map(|refused| Problem::at(pointer, refused))
        .collect()
}

/// Why the executor `executor` (`process` or `agent`) would refuse an action with `params`
/// that its parameters' schema lets through (`["", "rm"]`, a blank prompt): a test of it,
/// denied for that, would test nothing of the policy, and `policy explain` would explain
/// an action no run has.
fn refused_by_executor(executor: &str, params: &Value) -> Option<String> {
    let action = Action {
        run_id: Uuid::nil(),
        step_id: "test".into(),
        item_index: None,
        attempt: 1,
        executor: executor.to_owned(),
        params: params.clone(),
        idempotency_key: "test".into(),
    };
    let refused = cairn_executors::program_argv(&action)?.err()?;
    Some(format!(
        "the `{executor}` executor refuses this action ({refused}): no run could have it, so \
         the policy is never asked about it"
    ))
}

/// The guard of the policy file at `file`: [`load`]ed, its tests passing.
pub(crate) fn guard(file: &Path) -> Result<PolicyGuard, LoadError> {
    PolicyGuard::tested(load(file)?, &cairn_engine::path_text(file))
}

/// Runs the policy file's tests: exit 0 when all pass, 1 when one fails, whatever becomes
/// of the output ([`error::outcome`]).
fn test(file: &Path, as_json: bool) -> Result<ExitCode, Error> {
    let policy = match load(file) {
        Ok(policy) => policy,
        Err(error) => return invalid(file, error, as_json),
    };
    let failures = policy.run_tests();
    let code = ExitCode::from(if failures.is_empty() {
        SUCCESS
    } else {
        RUN_FAILED
    });
    error::outcome(code, print_tests(file, &policy, &failures, as_json))
}

/// Prints the outcome of `policy`'s tests (the file `file`): each failure, or how many pass.
fn print_tests(
    file: &Path,
    policy: &Policy,
    failures: &[TestFailure],
    as_json: bool,
) -> Result<(), Error> {
    let mut stdout = printable::stdout(as_json);
    let name = cairn_engine::path_text(file);
    if as_json {
        let report = TestReport {
            file: &name,
            tests: policy.tests.len(),
            passed: policy.tests.len() - failures.len(),
            failures: failures.iter().map(FailureReport::from).collect(),
        };
        json::print(&mut stdout, &report)?;
    } else {
        for failure in failures {
            writeln!(stdout, "{name}:{}: {failure}", failure.pointer)?;
        }
        if failures.is_empty() {
            let passed = match policy.tests.len() {
                1 => "1 test passes".to_owned(),
                count => format!("{count} tests pass"),
            };
            writeln!(stdout, "{name}: {passed}")?;
        }
    }
    stdout.flush()?;
    Ok(())
}

/// An action to show in `--action`'s messages.
const EXAMPLE_ACTION: &str = r#"{"executor": "process", "params": {"command": ["ls"]}}"#;

/// The document of type `T` given as the option `option`'s JSON `text`, checked as a file
/// is (a misspelt key is named with the key meant).
fn option_document<T: serde::de::DeserializeOwned + schemars::JsonSchema>(
    option: &str,
    text: &str,
) -> Result<T, Error> {
    let schema = cairn_engine::document_schema::<T>();
    cairn_engine::load_document(text, &schema, option)
        .map_err(|error| Error::Usage(error.to_string()))
}

/// What `cairn policy explain` prints: the verdict, each rule once.
#[derive(Debug, Serialize)]
struct Explained {
    decision: Decision,
    rules: Vec<String>,
    reasons: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    audit: bool,
}

impl From<Verdict> for Explained {
    fn from(verdict: Verdict) -> Self {
        // No rule decided: the policy's default did, in the words `cairn approvals` says it.
        let reasons = if verdict.reasons.is_empty() {
            vec![verdict.explain()]
        } else {
            verdict.reasons
        };
        let mut rules: Vec<String> = Vec::with_capacity(verdict.rules.len());
        for rule in verdict.rules {
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
        Explained {
            decision: verdict.decision,
            rules,
            reasons,
            audit: verdict.audit,
        }
    }
}

fn explain(file: &Path, action: &str, run: Option<&str>, as_json: bool) -> Result<ExitCode, Error> {
    let guard = match guard(file) {
        Ok(guard) => guard,
        Err(error) => return invalid(file, error, as_json),
    };
    // Read as `--input` is (a key given twice is refused, not read as its last value), and
    // checked as a file is: every problem with its pointer, a misspelt key with the key meant.
    let value = cairn_engine::load_json(action, "--action")
        .map_err(|error| Error::Usage(error.to_string()))?;
    if !value.is_object() {
        return Err(Error::Usage(format!(
            "--action: expected a JSON object such as {EXAMPLE_ACTION}, not {value}"
        )));
    }
    let given: TestAction = option_document("--action", action)?;
    let run: TestRun = match run {
        Some(run) => option_document("--run", run)?,
        None => TestRun::default(),
    };
    let executors = workflow::executors();
    if !executors.contains_key(&given.executor) {
        let known: Vec<&str> = executors.keys().map(String::as_str).collect();
        return Err(Error::Usage(format!(
            "--action: executor `{}` is not one of cairn's executors ({})",
            given.executor,
            known.join(", ")
        )));
    }
    // As a test's action: a misspelt parameter would explain an action no run could have.
    let problems = action_problems(&executors, &given.executor, &given.params, "/params");
    if !problems.is_empty() {
        let lines: Vec<String> = (problems.iter())
            .map(|problem| format!("--action:{}: {}", problem.place, problem.message))
            .collect();
        return Err(Error::Usage(lines.join("\n")));
    }
    // As `cairn run` would judge it from here.
    let here = std::env::current_dir().ok();
    let verdict = guard.policy().judge_example(&given, run, here.as_deref());
    let explained = Explained::from(verdict);
    json::print(&mut std::io::stdout().lock(), &explained)?;
    Ok(ExitCode::from(SUCCESS))
}
