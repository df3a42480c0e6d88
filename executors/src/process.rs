//! The `process` executor: runs a program with a full lifecycle.
//!
//! Nothing of a step outlives its attempt, nor the engine:
//!
//! - each attempt's program leads a process group of its own; when the attempt ends, for any
//!   reason, the whole group is killed and the direct child reaped ([`group`]);
//! - when cairn stops an attempt, its processes that moved into groups of their own (GNU
//!   `timeout`, a shell's job control) are found by the attempt's variables and stopped
//!   with it ([`strays`]); one that left the session (`setsid`) is left, on purpose;
//! - when the engine dies, even by SIGKILL, its steps' groups die with it. The engine keeps
//!   one [`reaper`] process: a `/bin/sh` loop in a group of its own, reading `+PGID` /
//!   `-PGID` lines from a pipe only the engine can write to. Each step's group is registered
//!   from its spawn until it has been killed; when the engine dies the kernel closes the
//!   pipe, and on EOF the reaper sends SIGKILL to every group still registered, and to
//!   every step spawned but not registered yet (found by the engine's token in its
//!   environment), then exits. A gracefully exiting engine has no step left. (Unlike
//!   `PR_SET_PDEATHSIG`, this reaches grandchildren, and it needs no code between fork and
//!   exec, so programs start with `posix_spawn`: see [`group::configure`].)
//! - a terminal's Ctrl-Z (SIGTSTP) reaches cairn's group, not its steps': [`stop_steps`]
//!   and [`continue_steps`] let the program that drives the engine stop and continue them
//!   with itself, through the groups the reaper watches;
//! - the program is looked up in the `PATH` the step sees before it is started, since the
//!   standard library falls back to `fork` when it has to search a `PATH` it was given.

mod capture;
mod group;
mod orphans;
pub(crate) mod params;
mod procfs;
mod reaper;
mod strays;
#[cfg(test)]
mod tests;

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use async_trait::async_trait;
use cairn_engine::{Action, ErrorClass, ExecContext, Executor, Outcome, params_schema};
use nix::sys::signal::Signal;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

use self::capture::Captured;
use self::group::ProcessGroup;
use self::params::ProcessParams;
use self::strays::{Identity, Strays};
use crate::BadParams;
use crate::interrupt::Interrupt;

/// The default cap on a step's stdout: 16 MiB.
pub const DEFAULT_MAX_OUTPUT: usize = 16 * 1024 * 1024;
/// The default amount of a step's stderr kept (its tail): 64 KiB.
pub const DEFAULT_STDERR_TAIL: usize = 64 * 1024;
/// The most one argument or variable (`NAME=value`) may hold on Linux (`MAX_ARG_STRLEN`).
pub(crate) const LONGEST_WORD: usize = 128 * 1024;
/// The default grace between SIGTERM and SIGKILL: 5 s.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(5);
/// The engine's environment variables a step sees by default.
pub const DEFAULT_ENV_ALLOW: &[&str] = &["PATH", "HOME", "LANG", "TZ"];

/// Stops (SIGSTOP) every step program of this process in flight, its whole process group,
/// and each one started until [`continue_steps`] as soon as it is (one spawned as this was
/// called): what a program suspending itself (a terminal's Ctrl-Z, SIGTSTP) does first,
/// since the steps' groups are not its own and the terminal's signal does not reach them.
/// Processes that left their step's group are not reached.
pub fn stop_steps() {
    reaper::stop_groups(true);
}

/// Continues (SIGCONT) every step program of this process in flight, its whole process group:
/// the end of a suspension that [`stop_steps`] began.
pub fn continue_steps() {
    reaper::stop_groups(false);
}

/// How much of the stderr tail goes into a failure's message (all of it is in `log_tail`).
const MESSAGE_TAIL: usize = 4 * 1024;
/// How long to wait for the pipes to close once the whole group has been killed (a process
/// that left the group may still hold them).
const DRAIN_WAIT: Duration = Duration::from_secs(2);
/// How long to wait for killed members of the group to be reaped by their parents.
const REAP_WAIT: Duration = Duration::from_secs(5);

/// Runs a program, the step's `with` saying how:
///
/// | `with.` | meaning |
/// | --- | --- |
/// | `command` | argv array, required: `["prog", "arg", ...]`; no shell (write `["sh", "-c", "..."]` for one) |
/// | `input` | any JSON, written to stdin (`null` when absent) followed by a newline, then EOF |
/// | `env` | object of strings added to the environment |
/// | `cwd` | working directory; must exist; a relative one is taken from the run's ([`ExecContext::cwd`]), where a step without one runs |
/// | `kill_grace` | duration between SIGTERM and SIGKILL, overriding the executor's |
///
/// The output is stdout parsed as JSON, else stdout as a string (one trailing newline
/// removed); empty stdout gives `null`. Stdout is capped ([`max_output`](Self::max_output)):
/// past the cap the process group is killed and the attempt fails with
/// [`ErrorClass::OutputTooLarge`]. The last [`stderr_tail`](Self::stderr_tail) bytes of
/// stderr are returned in [`Outcome::log_tail`]. Every line on stdout or stderr reports
/// progress.
///
/// The environment is cleared, then holds the engine's variables named in the allow-list
/// ([`env_allow`](Self::env_allow), [`DEFAULT_ENV_ALLOW`] by default), then `with.env`, then
/// `CAIRN_RUN_ID`, `CAIRN_STEP_ID`, `CAIRN_ATTEMPT`, `CAIRN_IDEMPOTENCY_KEY`, for a
/// `for_each` item `CAIRN_ITEM_INDEX`, and `CAIRN_ENGINE` (the engine's token, by which the
/// reaper finds a step the engine died before registering).
///
/// The program leads a new process group. If the engine dies, the whole group gets SIGKILL:
/// the first spawn starts a small `/bin/sh` helper, the reaper, which kills the groups of a
/// dead engine's running steps.
/// On timeout or cancellation the whole group gets SIGTERM, then SIGKILL after the grace
/// (unless the program has exited by itself by then: the attempt keeps its own end); so do
/// the processes of the attempt that moved into groups of their own (GNU `timeout`,
/// `set -m`), found in `/proc` by its variables. When the attempt ends for any reason,
/// whatever is left of the group (background grandchildren) is killed and the direct child
/// reaped. What left the group is left running when the program exits by itself (until the
/// engine exits), and what left the session (`setsid`) always.
///
/// | failure | class |
/// | --- | --- |
/// | bad `with`, `cwd` missing | [`ErrorClass::BadParams`] |
/// | program missing or not executable | [`ErrorClass::SpawnFailed`] |
/// | non-zero exit or killed by a signal | [`ErrorClass::ExitCode`] (retryable), with the stderr tail |
/// | deadline passed | [`ErrorClass::Timeout`] |
/// | cancelled | [`ErrorClass::Cancelled`] |
/// | stdout past the cap | [`ErrorClass::OutputTooLarge`] |
/// | stdout not UTF-8 (so not JSON either) | [`ErrorClass::BadOutput`], naming the first byte that is not and how to print UTF-8 |
#[derive(Debug, Clone)]
pub struct ProcessExecutor {
    max_output: usize,
    stderr_tail: usize,
    env_allow: Vec<String>,
    kill_grace: Duration,
}

impl Default for ProcessExecutor {
    fn default() -> Self {
        ProcessExecutor {
            max_output: DEFAULT_MAX_OUTPUT,
            stderr_tail: DEFAULT_STDERR_TAIL,
            env_allow: DEFAULT_ENV_ALLOW
                .iter()
                .map(|&name| name.to_owned())
                .collect(),
            kill_grace: DEFAULT_KILL_GRACE,
        }
    }
}

impl ProcessExecutor {
    /// The executor with the defaults: 16 MiB of stdout, 64 KiB of stderr tail, PATH, HOME,
    /// LANG and TZ passed through, 5 s of kill grace.
    pub fn new() -> Self {
        ProcessExecutor::default()
    }

    /// Caps stdout at `bytes`, or at the run's cap on an output if that is bigger (a run
    /// given a bigger cap, `cairn run --max-output`, can keep what it allows).
    pub fn max_output(mut self, bytes: usize) -> Self {
        self.max_output = bytes;
        self
    }

    /// Keeps the last `bytes` of stderr.
    pub fn stderr_tail(mut self, bytes: usize) -> Self {
        self.stderr_tail = bytes;
        self
    }

    /// Passes exactly these variables of the engine's environment through (replacing the
    /// default allow-list); the others never reach a step.
    pub fn env_allow<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.env_allow = names.into_iter().map(Into::into).collect();
        self
    }

    /// Waits `grace` between SIGTERM and SIGKILL (a step's `with.kill_grace` overrides it).
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// Whether the engine's variable `name` passes the allow-list.
    pub(crate) fn passes(&self, name: &str) -> bool {
        self.env_allow.iter().any(|allowed| allowed == name)
    }

    /// The command to spawn: argv, environment, the directory it starts in (`cwd`), pipes,
    /// process group.
    fn command(
        &self,
        action: &Action,
        identity: &Identity,
        params: &ProcessParams,
        cwd: Option<&Path>,
    ) -> Command {
        let inherited: Vec<(&String, OsString)> = (self.env_allow.iter())
            .filter_map(|name| Some((name, std::env::var_os(name)?)))
            .collect();
        // The step's own PATH wins over the inherited one (it is set last).
        let path = match params.env.get("PATH") {
            Some(path) => Some(OsString::from(path)),
            None => inherited
                .iter()
                .find(|(name, _)| *name == "PATH")
                .map(|(_, path)| path.clone()),
        };
        let program = find_program(&params.command[0], path.as_deref(), cwd);
        let mut command = Command::new(program);
        command.args(&params.command[1..]).env_clear();
        command.envs(inherited);
        command.envs(&params.env);
        command.envs(identity.vars());
        command.env("CAIRN_IDEMPOTENCY_KEY", &action.idempotency_key);
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        group::configure(&mut command);
        command
    }

    /// Runs `action` as a `process` step, except that nothing is written to stdin (it is
    /// closed at once: EOF) and stdout is not parsed: it comes back as bytes beside the
    /// outcome whatever the attempt's end, and a success's output is `null`. For executors
    /// built on this one: coding-agent CLIs read piped stdin as more prompt, and print what
    /// they have to say about a failure on stdout.
    /// The process's parameters are `params`, not `action`'s.
    pub(crate) async fn execute_raw(
        &self,
        action: &Action,
        params: ProcessParams,
        ctx: &ExecContext,
    ) -> RawRun {
        let params = (params.check().map(|()| params)).map_err(BadParams::Value);
        self.attempt(action, params, ctx, Io::Raw).await
    }

    /// Runs one attempt with `params` (or fails it with why they are bad), timed.
    async fn attempt(
        &self,
        action: &Action,
        params: Result<ProcessParams, BadParams>,
        ctx: &ExecContext,
        mode: Io,
    ) -> RawRun {
        match params {
            Ok(params) => self.run(action, params, ctx, mode).await,
            Err(error) => RawRun::failed(ErrorClass::BadParams, error.to_string()),
        }
    }

    /// Runs one attempt with checked parameters; the stdout bytes are returned in
    /// [`Io::Raw`] mode (empty otherwise), and how the program ended in both.
    async fn run(
        &self,
        action: &Action,
        mut params: ProcessParams,
        ctx: &ExecContext,
        mode: Io,
    ) -> RawRun {
        let dir = StartDir::of(params.cwd.take(), ctx.cwd.as_deref());
        let cwd = dir.as_ref().map(|dir| dir.path.as_path());
        let program = params.command[0].as_str();
        let identity = Identity::of(action);
        orphans::end_for(action).await;
        let mut command = self.command(action, &identity, &params, cwd);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                // The directory is looked at only once a spawn failed: a missing one is the
                // step's parameters' fault, and a spawn that succeeds needs no look.
                if let Some(dir) = &dir
                    && let Err(message) = dir.check().await
                {
                    return RawRun::failed(ErrorClass::BadParams, message);
                }
                if error.raw_os_error() == Some(nix::errno::Errno::E2BIG as i32) {
                    // The step's own values are too big to be arguments: its parameters'
                    // fault, which no retry and no other PATH mends.
                    let message = too_long(program, &params, mode);
                    return RawRun::failed(ErrorClass::BadParams, message);
                }
                let found = seen_from(cwd, Path::new(command.as_std().get_program()));
                let named = dir.as_ref().map(|dir| (dir.path.as_path(), dir.named));
                let message = spawn_error(program, &found, named, &error);
                return RawRun::failed(ErrorClass::SpawnFailed, message);
            }
        };
        let pid = child.id().expect("a child just spawned has a pid");
        let mut group = ProcessGroup::new(pid);
        let mut strays = Strays::new(identity, pid);
        let grace = params.kill_grace.map_or(self.kill_grace, |grace| grace.0);

        let stop = CancellationToken::new();
        let _stop_on_drop = stop.clone().drop_guard();
        // This executor's cap, or the run's if that is bigger.
        let max_output = self.max_output.max(ctx.max_output);
        let mut stdout = Some(tokio::spawn(capture::read_capped(
            child.stdout.take().expect("stdout is piped"),
            max_output,
            ctx.progress.clone(),
            stop.clone(),
        )));
        let stderr = tokio::spawn(capture::read_tail(
            child.stderr.take().expect("stderr is piped"),
            self.stderr_tail,
            ctx.progress.clone(),
            stop.clone(),
        ));
        let input = match mode {
            Io::Parsed => Some(params.input),
            Io::Raw => None,
        };
        let stdin = tokio::spawn(write_input(
            child.stdin.take().expect("stdin is piped"),
            input,
        ));

        // Wait for the child to exit, stdout to overflow, or the attempt to be interrupted.
        let mut captured = None;
        let interrupt = Interrupt::wait(ctx);
        tokio::pin!(interrupt);
        // A child that has exited wins over an interrupt ready at the same time.
        let (end, status) = loop {
            tokio::select! {
                biased;
                status = child.wait() => break (End::Exited, Some(status)),
                joined = async { stdout.as_mut().expect("guarded").await }, if stdout.is_some() => {
                    stdout = None;
                    let read = joined.unwrap_or_default();
                    if read.overflowed {
                        break (End::TooLarge(max_output), None);
                    }
                    captured = Some(read);
                }
                why = &mut interrupt => break (End::Interrupted(why), None),
            }
        };
        // An attempt is stopped only if its program is still running when cairn signals it:
        // one that exited by itself before (its exit not seen by the select yet) keeps its
        // own end, and its output.
        let (end, status) = match end {
            End::Interrupted(why) => match child.try_wait() {
                Ok(Some(exited)) => (End::Exited, Some(Ok(exited))),
                Ok(None) | Err(_) => {
                    terminate(&mut child, &mut group, &strays, grace, &ctx.kill_now).await;
                    (End::Interrupted(why), None)
                }
            },
            end => (end, status),
        };

        // Whatever ended the attempt: kill what is left of the group (background
        // grandchildren), reap the child, drain the pipes, wait for the group to be gone.
        // An attempt cairn stopped loses its strays too; one that exited by itself does not
        // pay a look into /proc for them.
        group.signal(Signal::SIGKILL);
        let stopped = !matches!(end, End::Exited);
        if stopped {
            strays.kill();
        } else {
            strays.let_be();
        }
        let status = match status {
            Some(status) => status,
            None => child.wait().await,
        };
        stdin.abort();
        let captured = match (captured, stdout) {
            (Some(captured), _) => captured,
            (None, Some(task)) => drain(task, &stop).await.unwrap_or_default(),
            (None, None) => Captured::default(),
        };
        // The child may exit (SIGPIPE) before the select sees stdout overflow.
        let end = match end {
            End::Exited if captured.overflowed => End::TooLarge(max_output),
            end => end,
        };
        let tail = drain(stderr, &stop).await.unwrap_or_default();
        if !group.wait_empty(Instant::now() + REAP_WAIT).await {
            tracing::warn!(
                program,
                "processes of a step's group were still present after SIGKILL"
            );
        }
        if stopped && !strays.killed_until_gone(Instant::now() + REAP_WAIT).await {
            tracing::warn!(
                program,
                "processes that left a step's group were still present after SIGKILL"
            );
        }

        let log_tail = (!tail.is_empty()).then(|| cairn_engine::lossless_text(&tail));
        let (parsed, stdout) = match mode {
            Io::Parsed => (captured.bytes, Vec::new()),
            Io::Raw => (Vec::new(), captured.bytes),
        };
        let exit = status.as_ref().ok().copied();
        let mut outcome = self.outcome(program, end, status, parsed, log_tail.as_deref());
        outcome.log_tail = log_tail;
        RawRun {
            outcome,
            stdout,
            status: exit,
        }
    }

    /// The outcome of an attempt that ended as `end`.
    fn outcome(
        &self,
        program: &str,
        end: End,
        status: io::Result<ExitStatus>,
        stdout: Vec<u8>,
        stderr: Option<&str>,
    ) -> Outcome {
        let (class, message) = match (end, status) {
            (End::Interrupted(why), _) => {
                return why.outcome(&format!("`{program}`"));
            }
            (End::TooLarge(cap), _) => (
                ErrorClass::OutputTooLarge,
                format!("`{program}` wrote more than {cap} bytes to stdout; it was killed"),
            ),
            (End::Exited, Err(error)) => (
                ErrorClass::Transient,
                format!("waiting for `{program}` failed: {error}"),
            ),
            (End::Exited, Ok(status)) if status.success() => match parse_output(program, stdout) {
                Ok(output) => return Outcome::success(output),
                Err(message) => (ErrorClass::BadOutput, message),
            },
            (End::Exited, Ok(status)) => {
                (ErrorClass::ExitCode, exit_message(program, status, stderr))
            }
        };
        Outcome::failure(class, message)
    }
}

/// `program` as found in the directories of `path`, like `execvp` would in the child, which
/// starts in `cwd` (a relative directory of `path` is looked in there); as given when it
/// names a path already or is not found (the spawn then reports it).
fn find_program(program: &str, path: Option<&OsStr>, cwd: Option<&Path>) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    if program.contains('/') {
        return program.into();
    }
    let found = path
        .into_iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            seen_from(cwd, candidate)
                .metadata()
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        });
    found.unwrap_or_else(|| program.into())
}

/// Where the step's process finds `path`, for cairn to look at the same file: relative to
/// the step's `cwd`, where the process starts, when it has one.
fn seen_from(cwd: Option<&Path>, path: &Path) -> PathBuf {
    match cwd {
        Some(cwd) => cwd.join(path),
        None => path.to_owned(),
    }
}

#[async_trait]
impl Executor for ProcessExecutor {
    fn params_schema(&self) -> Option<schemars::Schema> {
        Some(params_schema::<ProcessParams>())
    }

    fn guarded_as(&self) -> Option<&'static str> {
        Some("process")
    }

    async fn execute(&self, action: &Action, ctx: ExecContext) -> Outcome {
        let params = ProcessParams::parse(action);
        self.attempt(action, params, &ctx, Io::Parsed).await.outcome
    }
}

/// What [`ProcessExecutor::execute_raw`] gives back: the outcome, what the program wrote to
/// stdout, and how it ended, for the executor built on it to judge by facts rather than
/// by the outcome's message.
#[derive(Debug)]
pub(crate) struct RawRun {
    /// The attempt's outcome; a success's output is `null`.
    pub(crate) outcome: Outcome,
    /// What the program wrote to stdout (up to the cap), whatever the attempt's end.
    pub(crate) stdout: Vec<u8>,
    /// How the program ended: its exit code, or the signal that killed it (a signal cairn
    /// sent too, at a timeout, a cancel or stdout past the cap). `None` when it was not
    /// started, or waiting for it failed.
    pub(crate) status: Option<ExitStatus>,
}

impl RawRun {
    /// An attempt that failed before its program ran: no stdout, no status.
    fn failed(class: ErrorClass, message: String) -> RawRun {
        RawRun {
            outcome: Outcome::failure(class, message),
            stdout: Vec::new(),
            status: None,
        }
    }

    /// Whether a signal ended the program (`kill -9`, a crash) rather than an exit.
    pub(crate) fn killed_by_signal(&self) -> bool {
        use std::os::unix::process::ExitStatusExt;
        self.status.is_some_and(|status| status.signal().is_some())
    }
}

/// What an attempt writes to stdin and does with stdout.
#[derive(Debug, Clone, Copy)]
enum Io {
    /// A `process` step: `with.input` on stdin, stdout parsed into the output.
    Parsed,
    /// [`ProcessExecutor::execute_raw`]: nothing on stdin, stdout returned as bytes.
    Raw,
}

/// How the wait for the child ended.
#[derive(Debug, Clone, Copy)]
enum End {
    /// The child exited (or waiting for it failed).
    Exited,
    /// Stdout went past the cap (bytes).
    TooLarge(usize),
    /// The attempt was cancelled or timed out.
    Interrupted(Interrupt),
}

/// SIGTERM to the group and the strays, then up to `grace` for the child to exit, the group
/// to empty and the strays to be gone, unless `kill_now` is (or gets) cancelled: then
/// nothing more. The caller sends the SIGKILL.
async fn terminate(
    child: &mut Child,
    group: &mut ProcessGroup,
    strays: &Strays,
    grace: Duration,
    kill_now: &CancellationToken,
) {
    if kill_now.is_cancelled() {
        return;
    }
    group.signal(Signal::SIGTERM);
    strays.terminate();
    let deadline = Instant::now() + grace;
    let graceful = async {
        if timeout(grace, child.wait()).await.is_ok() {
            group.wait_empty(deadline).await;
            strays.wait_gone(deadline).await;
        }
    };
    tokio::select! {
        () = graceful => {}
        () = kill_now.cancelled() => {}
    }
}

/// Writes `input` as JSON and a newline to the child's stdin, then closes it (EOF); with no
/// input, just closes it. A child that exits without reading is not an error.
async fn write_input(mut stdin: ChildStdin, input: Option<Value>) {
    let Some(input) = input else {
        return;
    };
    let mut bytes = serde_json::to_vec(&input).expect("a JSON value serialises");
    bytes.push(b'\n');
    if let Err(error) = stdin.write_all(&bytes).await {
        tracing::debug!(%error, "the step did not read all of its input");
    }
    // Dropping `stdin` closes it.
}

/// What a reader task collected, waiting at most [`DRAIN_WAIT`] for the pipe to close; past
/// that, `stop` makes it return what it has.
async fn drain<T>(mut task: JoinHandle<T>, stop: &CancellationToken) -> Option<T> {
    match timeout(DRAIN_WAIT, &mut task).await {
        Ok(joined) => joined.ok(),
        Err(_) => {
            tracing::warn!("a step's output pipe stayed open after its process group was killed");
            stop.cancel();
            task.await.ok()
        }
    }
}

/// The directory a step's process starts in, and what its messages call it.
#[derive(Debug)]
struct StartDir {
    path: PathBuf,
    named: &'static str,
}

impl StartDir {
    /// `with.cwd` (`cwd`), taken from the run's directory (`run`, [`ExecContext::cwd`]) when
    /// it is relative; else the run's directory; `None` (cairn's own) when neither is known.
    fn of(cwd: Option<PathBuf>, run: Option<&Path>) -> Option<StartDir> {
        match (cwd, run) {
            (Some(cwd), run) => Some(StartDir {
                path: match run {
                    Some(run) => run.join(cwd),
                    None => cwd,
                },
                named: "`with.cwd`",
            }),
            (None, Some(run)) => Some(StartDir {
                path: run.to_owned(),
                named: "the run's directory",
            }),
            (None, None) => None,
        }
    }

    /// Checks that the directory exists.
    async fn check(&self) -> Result<(), String> {
        let (named, dir) = (self.named, cairn_engine::path_text(&self.path));
        match tokio::fs::metadata(&self.path).await {
            Ok(metadata) if metadata.is_dir() => Ok(()),
            Ok(_) => Err(format!("{named} {dir} is not a directory")),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                Err(format!("{named} {dir} does not exist"))
            }
            Err(error) => Err(format!("{named} {dir} cannot be used: {error}")),
        }
    }
}

/// The message of a failed spawn, naming the program; `found` is where the spawn looked
/// for it, seen from cairn's directory, and `cwd` the step's, with what it is called.
fn spawn_error(
    program: &str,
    found: &Path,
    cwd: Option<(&Path, &str)>,
    error: &io::Error,
) -> String {
    match error.kind() {
        // The file is there: what the kernel did not find is what it needs to run it.
        io::ErrorKind::NotFound if found.is_file() => match interpreter(found) {
            Some(interpreter) => format!(
                "command `{program}` cannot start: its interpreter `{interpreter}` (its `#!` line) is not found"
            ),
            None => format!(
                "command `{program}` cannot start: the loader or a library it needs is not found"
            ),
        },
        io::ErrorKind::NotFound => match cwd {
            Some((cwd, named)) if program.contains('/') && !program.starts_with('/') => format!(
                "command `{program}` not found in {named} {}: a relative program is found from \
                 the directory the step starts in",
                cairn_engine::path_text(cwd)
            ),
            _ => format!("command `{program}` not found"),
        },
        io::ErrorKind::PermissionDenied => {
            format!("command `{program}` is not executable: {error}")
        }
        _ => format!("cannot start command `{program}`: {error}"),
    }
}

/// Why `program` could not start with the arguments and environment of `params`: the kernel
/// refused them as too long (`E2BIG`), naming the longest argument or `with.env` variable.
fn too_long(program: &str, params: &ProcessParams, mode: Io) -> String {
    let args = (params.command.iter().enumerate())
        .map(|(index, arg)| (arg.len(), format!("argument {index}")));
    let env = (params.env.iter())
        .map(|(name, value)| (name.len() + 1 + value.len(), format!("`with.env.{name}`")));
    let longest = args.chain(env).max_by_key(|(len, _)| *len);
    let which = match longest {
        Some((len, which)) if len >= LONGEST_WORD => {
            format!("{which} holds {len} bytes, past the 128 KiB one may hold")
        }
        _ => "its arguments and environment together pass the system's limit (a quarter of \
              the stack's, `ulimit -s`)"
            .to_owned(),
    };
    // An agent's CLI reads no `with.input` (probe 42 F8).
    let stdin = match mode {
        Io::Parsed => " (a `process` step may also give it as `with.input`, on stdin)",
        Io::Raw => "",
    };
    format!(
        "command `{program}` cannot start: {which}; put a long value in a file and pass its \
         path instead{stdin}"
    )
}

/// The interpreter the `#!` line of the script at `path` names, if it has one.
fn interpreter(path: &Path) -> Option<String> {
    let mut start = [0; 256];
    let read = std::fs::File::open(path)
        .and_then(|mut file| io::Read::read(&mut file, &mut start))
        .ok()?;
    let line = start[..read].strip_prefix(b"#!")?;
    let line = line.split(|&byte| byte == b'\n').next()?;
    let interpreter = String::from_utf8_lossy(line);
    interpreter.split_whitespace().next().map(str::to_owned)
}

/// The message of a non-zero exit: code or signal, and the end of stderr.
fn exit_message(program: &str, status: ExitStatus, stderr: Option<&str>) -> String {
    use std::os::unix::process::ExitStatusExt;

    let mut message = match (status.code(), status.signal()) {
        (Some(code), _) => format!("`{program}` exited with code {code}"),
        (None, Some(signal)) => {
            let name = Signal::try_from(signal)
                .map_or_else(|_| signal.to_string(), |signal| signal.to_string());
            format!("`{program}` was killed by signal {name}")
        }
        (None, None) => format!("`{program}` failed: {status}"),
    };
    if let Some(stderr) = stderr
        .map(str::trim_end)
        .filter(|stderr| !stderr.is_empty())
    {
        let mut start = stderr.len().saturating_sub(MESSAGE_TAIL);
        while !stderr.is_char_boundary(start) {
            start += 1;
        }
        message.push_str(if start > 0 {
            "; stderr ends:\n…"
        } else {
            "; stderr:\n"
        });
        message.push_str(&stderr[start..]);
    }
    message
}

/// A successful step's output: stdout as JSON, else as a string without its trailing
/// newline; `null` when stdout is empty. `Err` says where it is not UTF-8, or that it is JSON
/// nested deeper than a run holds, and what to do.
fn parse_output(program: &str, mut stdout: Vec<u8>) -> Result<Value, String> {
    if stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    match cairn_engine::read_output(&stdout) {
        Some(Ok(value)) => return Ok(value),
        Some(Err(too_deep)) => {
            return Err(format!(
                "`{program}` wrote JSON to stdout {too_deep}, more than a run holds; make it print flatter JSON, or write the data to a file and print the file's path"
            ));
        }
        None => {}
    }
    if stdout.ends_with(b"\n") {
        stdout.pop();
        if stdout.ends_with(b"\r") {
            stdout.pop();
        }
    }
    String::from_utf8(stdout).map(Value::String).map_err(|error| {
        format!(
            "{}; make it print UTF-8 text or JSON ({UTF8_LOCALE}; encode binary data, e.g. with `base64`, or write it to a file and print the file's path)",
            not_utf8(program, &error)
        )
    })
}

/// How a program that writes in its locale's encoding gets a UTF-8 one, for messages.
pub(crate) const UTF8_LOCALE: &str = "a program that writes in its locale's encoding writes UTF-8 with `\"LANG\": \"C.UTF-8\"` in `with.env`";

/// The start of the message of a stdout that is not UTF-8: which program wrote it and the
/// byte where it stops being UTF-8, as `cairn validate` names a file's (the caller adds the
/// fix).
pub(crate) fn not_utf8(program: &str, error: &std::string::FromUtf8Error) -> String {
    let offset = error.utf8_error().valid_up_to();
    let byte = error.as_bytes().get(offset).copied().unwrap_or_default();
    format!(
        "`{program}` wrote stdout that is not UTF-8: the byte at offset {offset} (0x{byte:02X}) starts an invalid UTF-8 sequence"
    )
}
