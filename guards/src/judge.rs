//! Judging one action: what the command checker found, `cwd`, `env`, budgets and the CEL
//! rules each add findings; they combine like Cedar: any deny wins, then any approve, then
//! any allow, else the policy's `default`.

use std::path::{Path, PathBuf};

use cairn_engine::{Action, Decision, Facts, Usage, Verdict, decimal_usd};
use serde_json::{Value, json};

use crate::command::{self, Findings, Word, basename};
use crate::paths;
use crate::policy::{Mode, Policy};
use spending::Spending;

/// One rule's say on an action.
#[derive(Debug, Clone, PartialEq)]
struct Vote {
    decision: Decision,
    rule: String,
    reason: String,
}

/// The findings on one action so far.
#[derive(Debug, Default)]
struct Votes {
    all: Vec<Vote>,
}

impl Votes {
    fn add(&mut self, decision: Decision, rule: impl Into<String>, reason: impl Into<String>) {
        let finding = Vote {
            decision,
            rule: rule.into(),
            reason: reason.into(),
        };
        if !self.all.contains(&finding) {
            self.all.push(finding);
        }
    }
}

impl Policy {
    /// The verdict on `action`, given how its run stands.
    pub fn judge(&self, action: &Action, facts: &Facts<'_>) -> Verdict {
        // Judged as it will run: an agent under a cost budget with its own limit lowered to
        // what it may spend, which its argv carries (`--max-budget-usd`). A spent budget
        // rewrites nothing: its own rule denies the action, in its own words. Under
        // `mode: audit` the action runs as written.
        let spending = self.spending(action, facts);
        let capped = match &spending {
            Spending::Holds { capped, .. } => capped.as_ref(),
            _ => None,
        };
        let action = capped.unwrap_or(action);
        let mut votes = Votes::default();
        let checked = commands_of(action);
        for problem in &checked.problems {
            votes.add(Decision::Deny, "commands", problem.clone());
        }
        for command in &checked.commands {
            self.command(command, &mut votes);
        }
        self.env(action, &checked, &mut votes);
        input(action, &mut votes);
        let cwd = self.cwd(action, facts, &checked, &mut votes);
        self.budgets(facts, &mut votes);
        self.rules(action, facts, &checked, cwd.as_deref(), &mut votes);
        let mut verdict = self.combine(votes);
        if verdict.decision == Decision::Deny {
            return verdict;
        }
        match &spending {
            // Asked again once an attempt in flight ends, approval and all: nothing of it
            // runs now, so its parameters are not rewritten.
            Spending::Held(short) => {
                let held = Verdict {
                    held: true,
                    ..Verdict::new(Decision::Deny)
                };
                return (short.iter())
                    .fold(held, |held, (rule, reason)| held.because(*rule, reason));
            }
            Spending::Holds { reserves, .. } if *reserves != Usage::default() => {
                verdict.reserves = Some(reserves.clone());
            }
            Spending::Holds { .. } | Spending::AsWritten => {}
        }
        verdict.params = rewritten(action, capped.is_some(), cwd.as_deref());
        verdict
    }

    fn combine(&self, votes: Votes) -> Verdict {
        let strongest = votes.all.iter().map(|finding| finding.decision).max();
        let mut verdict = match strongest {
            Some(decision) => (votes.all.into_iter())
                .filter(|finding| finding.decision == decision)
                .fold(Verdict::new(decision), |verdict, finding| {
                    verdict.because(finding.rule, finding.reason)
                }),
            None => Verdict::new(self.default),
        };
        verdict.audit = self.mode == Mode::Audit;
        if verdict.decision == Decision::Approve {
            verdict.approval_timeout = Some(self.approval.timeout.0);
        }
        verdict
    }

    fn command(&self, command: &[Word], votes: &mut Votes) {
        let shown = shown(command);
        for prefix in &self.commands.deny {
            if matches(prefix, command, true) {
                let reason = format!("`{shown}` matches the denied {prefix:?}");
                votes.add(Decision::Deny, "commands.deny", reason);
            }
        }
        for prefix in &self.commands.approve {
            if matches(prefix, command, true) {
                let reason = format!("`{shown}` matches {prefix:?}, which needs approval");
                votes.add(Decision::Approve, "commands.approve", reason);
            }
        }
        if let Some(allowed) = &self.commands.allow {
            match allowed
                .iter()
                .find(|prefix| matches(prefix, command, false))
            {
                Some(prefix) => {
                    let reason = format!("`{shown}` matches the allowed {prefix:?}");
                    votes.add(Decision::Allow, "commands.allow", reason);
                }
                // A command `approve` surely names (as an allow must be sure) is one the
                // policy knows, for a person to allow: its approval decides (probe 84 F1: a
                // gate left out of `allow` denied every match, naming only the allow-list).
                None if (self.commands.approve.iter())
                    .any(|prefix| matches(prefix, command, false)) => {}
                None => {
                    let reason = format!("`{shown}` matches no allowed command");
                    votes.add(Decision::Deny, "commands.allow", reason);
                }
            }
        }
    }

    /// Checks the variables the action sets (`with.env`, and what its scripts assign)
    /// against the policy's `env` list; a step's own `with.env` may never set one that
    /// makes its shell run code unseen (a script's assignment of one is a `commands`
    /// problem already), nor give one a value bash arithmetic would run a command from
    /// ([`command::evaluable`]).
    fn env(&self, action: &Action, checked: &Findings, votes: &mut Votes) {
        let given = action.params.get("env").and_then(Value::as_object);
        let mut names: Vec<&String> = given.into_iter().flat_map(|env| env.keys()).collect();
        // A name a process cannot be given: the executor refuses it, so it is not judged as
        // one (`BASH_ENV=/tmp/x` is not `BASH_ENV`).
        names.retain(|name| {
            let valid = cairn_engine::is_env_name(name);
            if !valid {
                let reason = format!(
                    "`with.env` names {name:?}, which is not a variable's name: it is empty or holds `=` or NUL"
                );
                votes.add(Decision::Deny, "env", reason);
            }
            valid
        });
        if runs_programs(action) {
            let values = given.into_iter().flat_map(|env| env.values());
            for reason in values
                .filter_map(Value::as_str)
                .filter_map(command::evaluable)
            {
                votes.add(Decision::Deny, "env", reason);
            }
            names.retain(|name| {
                let unseen = command::runs_unseen_code(name);
                if unseen {
                    votes.add(Decision::Deny, "env", command::unseen_code(name));
                }
                !unseen
            });
        }
        let Some(allowed) = &self.env else {
            return;
        };
        for name in names.into_iter().chain(&checked.assignments) {
            if !allowed.contains(name) {
                let reason = format!("the variable `{name}` is not allowed");
                votes.add(Decision::Deny, "env", reason);
            }
        }
    }

    /// Checks the step's directory and its redirections against the roots; the canonical
    /// directory when it is inside them. A step without `with.cwd` runs in the engine's
    /// directory, and a relative one is taken from there: the directory the engine gives
    /// ([`Facts::cwd`], the one approvals bind), never the process's as it is now.
    fn cwd(
        &self,
        action: &Action,
        facts: &Facts<'_>,
        checked: &Findings,
        votes: &mut Votes,
    ) -> Option<PathBuf> {
        let roots = self.cwd.as_ref()?;
        if !runs_programs(action) {
            return None;
        }
        let dir = match action.params.get("cwd") {
            None => (facts.cwd.map(Path::to_path_buf)).ok_or_else(|| {
                no_engine_dir("the step names no `with.cwd`, so it runs in the engine's directory")
            }),
            Some(Value::String(dir)) if Path::new(dir).is_absolute() => Ok(PathBuf::from(dir)),
            Some(Value::String(dir)) => {
                (facts.cwd.map(|engine| engine.join(dir))).ok_or_else(|| {
                    no_engine_dir(&format!(
                        "`with.cwd` `{dir}` is relative, so it is taken from the engine's directory"
                    ))
                })
            }
            Some(other) => Err(format!("`with.cwd` is {other}, not a path")),
        };
        let dir = match dir.and_then(|dir| paths::canonical_dir(&dir)) {
            Ok(dir) if paths::inside(&dir, roots) => dir,
            Ok(dir) => {
                let reason = format!(
                    "`{}` is outside the allowed directories",
                    cairn_engine::path_text(&dir)
                );
                votes.add(Decision::Deny, "cwd", reason);
                return None;
            }
            Err(reason) => {
                votes.add(Decision::Deny, "cwd", reason);
                return None;
            }
        };
        for target in &checked.redirects {
            let inside = match target {
                Word::Literal(path)
                    if checked.unseen_descriptors && paths::standard_stream(path) =>
                {
                    let reason = format!(
                        "a redirection to `{path}` reopens whatever file its descriptor is, which a descriptor duplicated from one the checker did not see opened (`1<&3`) may have made a file outside the allowed directories: not checked (write `>&1`, `>&2`)"
                    );
                    votes.add(Decision::Deny, "cwd", reason);
                    continue;
                }
                Word::Literal(path) => paths::target_inside(path, &dir, roots),
                Word::Dynamic(_) => false,
            };
            if !inside {
                let reason = format!(
                    "a redirection to `{}` is outside the allowed directories",
                    target.text()
                );
                votes.add(Decision::Deny, "cwd", reason);
            }
        }
        Some(dir)
    }

    fn budgets(&self, facts: &Facts<'_>, votes: &mut Votes) {
        let budgets = &self.budgets;
        let mut over = |rule: &str, what: String| {
            votes.add(
                Decision::Deny,
                rule,
                format!(
                    "the run's budget is spent: {what} (a budget counts the run's whole \
                     life, its redrives included: a new run starts afresh)"
                ),
            );
        };
        if let Some(max) = budgets.attempts.filter(|max| facts.attempts >= *max) {
            over(
                "budget.attempts",
                format!("{} attempts of {max}", facts.attempts),
            );
        }
        if let Some(max) = budgets.steps
            && !facts.started
            && facts.steps >= max
        {
            over("budget.steps", format!("{} steps of {max}", facts.steps));
        }
        if let Some(max) = budgets.cost_usd.filter(|max| facts.usage.cost_usd >= *max) {
            // A cost reported as infinite counts as the largest one (`Usage::counted`), which
            // no budget holds: told so, not as `$inf` (probe 42 F9).
            let spent = match facts.usage.cost_usd {
                cost if cost.is_finite() && cost < f64::MAX => {
                    // To the billionth, as costs are summed (probe 81 F1: to the millionth,
                    // $0.000000001 spent of a budget of $0.0000000001 was said to be $0).
                    format!("${}", decimal_usd(cost))
                }
                _ => "a cost reported as infinite, or past any number,".to_owned(),
            };
            over("budget.cost_usd", format!("{spent} of ${max}"));
        }
        let tokens = (facts.usage.input_tokens).saturating_add(facts.usage.output_tokens);
        if let Some(max) = budgets.tokens.filter(|max| tokens >= *max) {
            over("budget.tokens", format!("{tokens} tokens of {max}"));
        }
        if let Some(max) = budgets.wall_time.filter(|max| facts.elapsed >= max.0) {
            let elapsed = to_the_millisecond_up(facts.elapsed);
            over("budget.wall_time", format!("{elapsed} of {max}"));
        }
    }
}

/// Why a directory cannot be judged without the engine's (`Facts::cwd` is `None`): `what`
/// needs it.
fn no_engine_dir(what: &str) -> String {
    format!(
        "{what}, and the engine gave none (it could not read its working directory when it \
         opened): give the step an absolute `with.cwd`"
    )
}

/// The parameters the judged `action` runs with, if they are not the step's own: its
/// working directory made canonical, and those of an action a spending budget `capped`
/// ([`Policy::spending`]).
fn rewritten(action: &Action, capped: bool, cwd: Option<&Path>) -> Option<Value> {
    let Some(cwd) = cwd else {
        // The parameters, maybe big, are copied only when they changed.
        return capped.then(|| action.params.clone());
    };
    let Value::Object(mut params) = action.params.clone() else {
        return None;
    };
    params.insert("cwd".to_owned(), json!(cwd));
    Some(Value::Object(params))
}

/// Refuses a `with.input` holding text bash arithmetic would run a command from
/// ([`command::evaluable_at`]): a `process` step's program reads it on stdin (`read v;
/// (( v ))` evaluates `a[$(rm x)]`), so every string in it, at any depth and object keys
/// too, is checked like an argv word (rule `input`). The `agent` executor writes nothing to
/// stdin, and refuses a `with.input`.
fn input(action: &Action, votes: &mut Votes) {
    let Some(input) = action.params.get("input").filter(|_| runs_programs(action)) else {
        return;
    };
    let mut found = Vec::new();
    // Depth first, without recursion: each value with its depth and where its parent holds
    // it; `path` is the way to the value last taken.
    let mut path: Vec<Step<'_>> = Vec::new();
    let mut stack = vec![(0, None, input)];
    while let Some((depth, step, value)) = stack.pop() {
        path.truncate(depth);
        path.extend(step);
        match value {
            Value::String(text) => {
                let place = || match pointer(&path) {
                    at if at.is_empty() => "`with.input`".to_owned(),
                    at => format!("`with.input` at `{at}`"),
                };
                found.extend(command::evaluable_at(text, place));
            }
            Value::Array(items) => {
                let items = items.iter().enumerate().rev();
                stack.extend(
                    items.map(|(index, item)| (path.len(), Some(Step::Index(index)), item)),
                );
            }
            Value::Object(members) => {
                for (key, _) in members {
                    let place =
                        || format!("`with.input`, in the key at `{}`", pointer_to(&path, key));
                    found.extend(command::evaluable_at(key, place));
                }
                let members = members.iter().rev();
                stack.extend(
                    members.map(|(key, member)| (path.len(), Some(Step::Key(key)), member)),
                );
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    let mut found = found.into_iter();
    if let Some(first) = found.next() {
        let reason = match found.count() {
            0 => first,
            more => format!("{first} (and {more} more in `with.input`)"),
        };
        votes.add(Decision::Deny, "input", reason);
    }
}

/// One step of the way into a JSON value.
#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// `path` as a JSON pointer (`/files/0`).
fn pointer(path: &[Step<'_>]) -> String {
    let mut pointer = String::new();
    for step in path {
        pointer.push('/');
        match step {
            Step::Key(key) => pointer.push_str(&cairn_engine::escape(key)),
            Step::Index(index) => pointer.push_str(&index.to_string()),
        }
    }
    pointer
}

/// The JSON pointer to the member `key` of the object at `path`.
fn pointer_to(path: &[Step<'_>], key: &str) -> String {
    let mut path = path.to_vec();
    path.push(Step::Key(key));
    pointer(&path)
}

/// Whether `action` runs programs, and so has commands and a working directory.
fn runs_programs(action: &Action) -> bool {
    runs_programs_by(&action.executor)
}

/// Whether the actions of `executor` run programs.
pub(crate) fn runs_programs_by(executor: &str) -> bool {
    matches!(executor, "process" | "agent")
}

/// What the checker finds in the commands `action` would run: its argv as its executor
/// reads it (the executor's own parser, so the guard judges what runs; what the executor
/// refuses is denied, in the executor's words).
fn commands_of(action: &Action) -> Findings {
    match cairn_executors::program_argv(action) {
        None => Findings::default(),
        Some(Ok(argv)) => command::check_argv(&argv),
        Some(Err(refused)) => Findings {
            problems: vec![refused.to_string()],
            ..Findings::default()
        },
    }
}

/// Whether `command` starts with `prefix`. When `maybe` (a deny or approval, which fails
/// closed), a program named by a path matches by its basename too (`/bin/rm` is `rm`), and a
/// word known only at run time matches; an allow must be sure: a path matches only a prefix
/// naming that path, since the file it names may be any program (`./ls` that a `git apply`
/// of the same script made: probe 68 F1), and a word known only at run time none.
fn matches(prefix: &[String], command: &[Word], maybe: bool) -> bool {
    prefix.len() <= command.len()
        && (prefix.iter().zip(command).enumerate()).all(|(index, (token, word))| {
            match word.literal() {
                Some(text) => text == token || (index == 0 && maybe && basename(text) == token),
                None => maybe,
            }
        })
}

/// A command as one line, for reasons.
fn shown(command: &[Word]) -> String {
    let words: Vec<&str> = command.iter().map(Word::text).collect();
    // A word's newlines (any control character) escaped: a reason is one line, and the
    // text a person decides on is not laid out by whoever wrote the command; so are blanks
    // other than a space and characters a review does not see (probe 150 F2: `echo`, a
    // no-break space and `x`, one word, was shown as `echo x`).
    let line: String = (words.join(" ").chars())
        .flat_map(|char| match crate::policy::escaped_in_messages(char) {
            true => char.escape_default().collect::<Vec<_>>(),
            false => vec![char],
        })
        .collect();
    cairn_engine::cut(&line, 120)
}

/// `elapsed` to the millisecond, rounded up, for reasons: never said below a budget it
/// reached (probe 102 F1: cut to whole seconds, "2s of 2s 500ms" was said spent).
fn to_the_millisecond_up(elapsed: std::time::Duration) -> cairn_engine::Duration {
    let millis = elapsed.as_nanos().div_ceil(1_000_000);
    let millis = u64::try_from(millis).unwrap_or(u64::MAX);
    cairn_engine::Duration(std::time::Duration::from_millis(millis))
}

mod rules;
mod spending;
#[cfg(test)]
mod tests;
