//! The command checker: every command an action would run, found in its argv and in the
//! shell scripts it hands to `sh -c` and the like, with wrappers (`env`, `xargs`, `timeout`,
//! `find -exec`, …) unwrapped and words unquoted.
//!
//! It fails closed: whatever it cannot resolve to literal words (a parse error, a program
//! named by a variable or a substitution, `eval`, a script file, a shell reading standard
//! input, nesting deeper than [`MAX_DEPTH`], more than [`MAX_COMMANDS`] commands) is a
//! [problem](Findings::problems), which the policy turns into a deny.

mod builtins;
mod evaluated;
mod script;
mod variables;
mod word;
mod wrappers;

use std::time::Duration;

use serde::Serialize;

use crate::bounded::{Bounded, Pool, RUNAWAYS, Stopped};

pub(crate) use self::evaluated::{evaluable, evaluable_at};
use self::script::Dialect;

/// At most this many commands (wrappers included) are checked in one action; past that, the
/// action is denied.
pub const MAX_COMMANDS: usize = 100;
/// How deeply scripts, substitutions, compound commands and wrappers may nest.
pub const MAX_DEPTH: usize = 16;
/// The longest script checked, in bytes.
pub const MAX_SCRIPT_BYTES: usize = 64 * 1024;
/// The stack the checker runs on: the shell parser recurses as deep as a script nests.
const STACK: usize = 256 << 20;
/// Whether setting the variable `name` makes a shell or the dynamic loader run code the
/// checker cannot see, whatever the value: prompts (bash runs the commands in them, `PS4`
/// under `set -x`; yash's `PS4S`, `YASH_PS4` and `YASH_PS4S` too, and its interactive
/// `PS1R`, `PS1S`, `PS2R`, `PS2S` and `YASH_PS…`), startup files (`BASH_ENV`, `ENV`, yash's
/// `YASH_LOADPATH`), exported functions
/// (`BASH_FUNC_ls%%` defines `ls`), the libraries the loader loads (every `LD_…`, such as
/// `LD_PRELOAD`, `LD_AUDIT`, `LD_LIBRARY_PATH`: a constructor runs before `main`) and those
/// glibc's `iconv` loads (`GCONV_PATH`), the shell options bash imports at startup
/// (`SHELLOPTS`, `BASHOPTS`: `keyword` makes every `NAME=value` word set NAME, `xtrace` runs
/// `PS4`) and `POSIXLY_CORRECT` (bash's POSIX mode, in which a `'` inside `"${x:-…}"` quotes
/// nothing, so `"${x:-'}"; rm x #'}"` runs `rm` where the checker reads one word), what
/// makes a non-interactive bash read `~/.bashrc` as if started by sshd (`SSH_CLIENT`,
/// `SSH2_CLIENT`), zsh's startup directory (`ZDOTDIR`), and zsh's `ARGV0`,
/// the `argv[0]` it gives the programs it runs (by which a multi-call binary such as busybox
/// picks what it runs: `ARGV0=rm busybox x` is `rm x`), bash's compatibility level
/// (`BASH_COMPAT`: at 5.1 and below, arithmetic expands an array subscript twice, running a
/// command substitution a variable's value holds: `(( a[$i] ))`), the code yash runs when a
/// command is not found (`COMMAND_NOT_FOUND_HANDLER`) and after every `cd`
/// (`YASH_AFTER_CD`), the folders ksh93, mksh and posh source a file from when a command is
/// not found (`FPATH`: the file named as the command, no exec bit needed), and the shell
/// mksh and posh run a file without `#!` with (`EXECSHELL`). Refused in scripts and in a
/// step's `with.env`, under every policy.
pub(crate) fn runs_unseen_code(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "SHELLOPTS",
        "BASHOPTS",
        "POSIXLY_CORRECT",
        "PS0",
        "PS1",
        "PS2",
        "PS4",
        "PROMPT_COMMAND",
        "BASH_ENV",
        "ENV",
        "GCONV_PATH",
        "SSH_CLIENT",
        "SSH2_CLIENT",
        "ZDOTDIR",
        "ARGV0",
        "BASH_COMPAT",
        "COMMAND_NOT_FOUND_HANDLER",
        "YASH_AFTER_CD",
        "YASH_LOADPATH",
        "PS1R",
        "PS1S",
        "PS2R",
        "PS2S",
        "PS4S",
        "FPATH",
        "EXECSHELL",
    ];
    NAMES.contains(&name)
        || ["BASH_FUNC_", "LD_", "YASH_PS"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// Whether setting the variable `name` in a script redefines commands as `hash` and `alias`
/// do: `BASH_CMDS[ls]=/usr/bin/touch` makes `ls` run `touch`, `BASH_ALIASES[ls]=…` makes it
/// an alias. bash does not import either from the environment (it holds no arrays), so only
/// scripts are refused for them.
fn redefines_commands(name: &str) -> bool {
    matches!(name, "BASH_CMDS" | "BASH_ALIASES")
}

/// Why setting `name` is refused (see [`runs_unseen_code`]).
pub(crate) fn unseen_code(name: &str) -> String {
    format!(
        "setting `{name}` is refused: it makes a shell or the loader run code the checker cannot see"
    )
}

/// One word of a command, after quote removal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Word {
    /// A word whose value is known: quotes removed, escapes and `$'…'` decoded.
    Literal(String),
    /// A word whose value is known only when it runs (`$X`, `$(…)`, a glob), as written.
    Dynamic(String),
}

impl Word {
    /// The value, when it is known.
    pub fn literal(&self) -> Option<&str> {
        match self {
            Word::Literal(text) => Some(text),
            Word::Dynamic(_) => None,
        }
    }

    /// The value when known, else the word as written.
    pub fn text(&self) -> &str {
        match self {
            Word::Literal(text) | Word::Dynamic(text) => text,
        }
    }
}

/// What the checker found in one action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Every command, as its words; a wrapper and the command it wraps are both listed.
    pub commands: Vec<Vec<Word>>,
    /// Names of the variables that scripts and `env`/`sudo` set: `NAME=value`, `for NAME`,
    /// `read NAME`, `printf -v NAME`, `declare NAME`, `unset NAME`, arithmetic (`((NAME=1))`),
    /// … (each once).
    pub assignments: Vec<String>,
    /// The targets of file redirections (`> f`, `< f`, `&> f`).
    pub redirects: Vec<Word>,
    /// The targets of the file redirections that write (`> f`, `>> f`, `>| f`, `<> f`, `&> f`,
    /// `>& f`): [`Findings::redirects`] but those that only read (`< f`, `<& $fd`).
    pub writes: Vec<Word>,
    /// Whether a script duplicates a descriptor it may not have opened itself onto another
    /// (3 and up, or one named at run time: `1<&3`, `>&$fd`, the move `1<&3-`), such as the
    /// lock file `flock` leaves open, or closes one (`>&-`: the next file a program opens
    /// takes it): the step's standard streams may then be files no redirection names, and
    /// `/dev/stdout` (which reopens what descriptor 1 is) one of them.
    pub unseen_descriptors: bool,
    /// Why the commands cannot be judged (empty when they can).
    pub problems: Vec<String>,
}

impl Findings {
    /// Adds what `other` found that these findings do not hold yet.
    fn add_new(&mut self, other: Findings) {
        fn extend<T: PartialEq>(into: &mut Vec<T>, from: Vec<T>) {
            for item in from {
                if !into.contains(&item) {
                    into.push(item);
                }
            }
        }
        extend(&mut self.commands, other.commands);
        extend(&mut self.assignments, other.assignments);
        extend(&mut self.redirects, other.redirects);
        extend(&mut self.writes, other.writes);
        extend(&mut self.problems, other.problems);
        self.unseen_descriptors |= other.unseen_descriptors;
    }
}

/// Finds every command that running `argv` (a program and its arguments, no shell) would
/// run.
pub fn check_argv(argv: &[String]) -> Findings {
    let words: Vec<Word> = argv.iter().cloned().map(Word::Literal).collect();
    let work = move || {
        let mut checker = Checker::default();
        for word in &words {
            checker.evaluable(word.text());
        }
        checker.command(words, 0);
        checker.arrays_declared_at_run_time();
        checker.findings
    };
    within(MAX_CHECK_TIME, work).unwrap_or_else(|problem| Findings {
        problems: vec![problem],
        ..Findings::default()
    })
}

/// How long [`check_argv`] waits for the checker: far more than any script within the bounds
/// needs, so it only ends a parser loop no refusal foresaw.
pub const MAX_CHECK_TIME: Duration = Duration::from_secs(5);

/// The name of the checker's threads, which a panic message shows.
const THREAD_NAME: &str = "cairn-command-checker";

/// The checker's threads.
static CHECKERS: Pool = Pool::new(THREAD_NAME, STACK);

/// Runs `check` on a thread of [`CHECKERS`] (named [`THREAD_NAME`], on a [`STACK`]) and waits for
/// its findings at most `bound`; or why there are none: it panicked (the parser did), or it
/// did not finish in time, in which case the thread is left behind to run on, one of the
/// process's [runaways](crate::bounded).
fn within(
    bound: Duration,
    check: impl FnOnce() -> Findings + Send + 'static,
) -> Result<Findings, String> {
    let started = RUNAWAYS.start(&CHECKERS, bound, check);
    started.and_then(Bounded::wait).map_err(unchecked)
}

/// Why the command checker gave no findings on a command (see [`within`]): a reason that
/// [`crate::bounded::ran_out`] tells apart when the checker ran out of time or did not start
/// for the runaways, as a policy test must.
fn unchecked(stopped: Stopped) -> String {
    match stopped {
        Stopped::Failed(why) => format!("the command checker failed on this command: {why}"),
        Stopped::PastBound(_) | Stopped::Busy(_) | Stopped::NotStarted(_) => {
            format!("the command checker did not check this command: {stopped}")
        }
    }
}

/// The last component of a program's path: `/bin/rm` is `rm`.
pub fn basename(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

/// Walks commands, collecting [`Findings`].
#[derive(Debug, Default)]
struct Checker {
    findings: Findings,
    /// The grammar of the script being walked (see [`Checker::script`]).
    dialect: Dialect,
    /// The characters of the script being walked: the parser's locations count characters.
    text: Vec<char>,
    /// The variables the action makes arrays (see `variables.rs`).
    arrays: Vec<String>,
    /// The variables `declare` and the like give a value known only at run time that could
    /// be read as a compound assignment, were they arrays (see `variables.rs`).
    declared: Vec<String>,
}

impl Checker {
    /// Records a reason the commands cannot be judged (once).
    fn problem(&mut self, message: impl Into<String>) {
        let message = message.into();
        if !self.findings.problems.contains(&message) {
            self.findings.problems.push(message);
        }
    }

    /// Records a variable the commands set, for the policy's `env` list (once); one that
    /// [`runs_unseen_code`] or [`redefines_commands`] is a problem.
    fn assigned(&mut self, name: &str) {
        if runs_unseen_code(name) {
            self.problem(unseen_code(name));
        }
        if redefines_commands(name) {
            self.problem(format!(
                "setting `{name}` is refused: like `hash` and `alias`, it makes a command name run another program"
            ));
        }
        if !self.findings.assignments.iter().any(|known| known == name) {
            self.findings.assignments.push(name.to_owned());
        }
    }

    /// Whether `depth` is within [`MAX_DEPTH`] (a problem when not).
    fn within(&mut self, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            self.problem(format!("commands nest deeper than {MAX_DEPTH} levels"));
        }
        depth <= MAX_DEPTH
    }

    /// Judges one command given as its words, and what it runs in turn.
    fn command(&mut self, words: Vec<Word>, depth: usize) {
        if !self.within(depth) {
            return;
        }
        let Some(first) = words.first() else {
            return;
        };
        let Some(program) = first.literal() else {
            let message = format!("the program `{}` is not a literal word", first.text());
            return self.problem(message);
        };
        if self.findings.commands.len() >= MAX_COMMANDS {
            return self.problem(format!("more than {MAX_COMMANDS} commands"));
        }
        let runs = wrappers::runs(basename(program), &words[1..], self.dialect);
        self.builtin(basename(program), &words[1..]);
        self.findings.commands.push(words);
        if let Some(refusal) = runs.refusal {
            return self.problem(refusal);
        }
        for name in &runs.assignments {
            self.assigned(name);
        }
        for command in runs.commands {
            self.command(command, depth + 1);
        }
        for script in runs.scripts {
            match script {
                Word::Literal(text) => {
                    self.script(&text, depth + 1, runs.dialect);
                    self.as_bash_reads(&text, depth + 1, runs.dialect, runs.extglob);
                }
                Word::Dynamic(text) => {
                    self.problem(format!("the script `{text}` is not a literal word"))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
