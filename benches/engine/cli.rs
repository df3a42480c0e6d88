//! The command line's own cost: `cairn run` of a one-step workflow, and `cairn --version`
//! (the binary's start and exit alone), each run as a process of its own.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};
use serde_json::{Value, json};

/// The `cairn` binary Cargo built for this bench.
pub(crate) const CAIRN: &str = env!("CARGO_BIN_EXE_cairn");

/// `n` one-step runs and `n` `--version`s: the median wall and CPU time of a process (the
/// issue's target is a median: one process the shared VM slowed does not move it), peak RSS.
pub(crate) fn one_step_runs(db: &Path, n: usize) -> Value {
    let cairn = installed_copy(db);
    let workflow = db.with_extension("json");
    let steps = json!({"name": "one", "steps": [{"id": "a", "executor": "noop"}]});
    std::fs::write(&workflow, steps.to_string()).expect("write the workflow");
    let run = |_: usize| {
        let mut command = Command::new(&cairn);
        command.arg("--db").arg(db).arg("run").arg(&workflow);
        command
    };
    run(0).output().expect("a first run creates the database");
    let runs = timed(n, run);
    let versions = timed(n, |_| {
        let mut command = Command::new(&cairn);
        command.arg("--version");
        command
    });
    json!({
        "count": n, "secs": runs.total.as_secs_f64(), "rss_kib": children_peak_rss_kib(),
        "run_wall_ms": runs.median_wall_ms, "run_cpu_ms": runs.median_cpu_ms,
        "version_wall_ms": versions.median_wall_ms, "version_cpu_ms": versions.median_cpu_ms,
    })
}

/// A copy of [`CAIRN`] beside `db`: the binary the start-up figures time. The file the
/// linker has just written sits in the page cache in a form that costs every process that
/// maps it ≈ 0.7 ms more CPU than the same file copied (as `cargo install` does) or read
/// back from disk (docs/performance.md, "`cairn run` start-up").
fn installed_copy(db: &Path) -> PathBuf {
    let copy = db.with_file_name("cairn");
    std::fs::copy(CAIRN, &copy).expect("copy the cairn binary");
    copy
}

/// What [`timed`] measured of `n` processes.
struct Timed {
    /// The wall time of all of them.
    total: Duration,
    /// The median wall time of one.
    median_wall_ms: f64,
    /// The median CPU time (user + system) of one.
    median_cpu_ms: f64,
}

/// Runs `command(i)` for `i` in `0..n`, one after another, checking each succeeds.
fn timed(n: usize, command: impl Fn(usize) -> Command) -> Timed {
    let (mut walls, mut cpus) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let cpu_before = children_cpu();
        let started = Instant::now();
        let status = command(i)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("cairn runs");
        walls.push(started.elapsed());
        cpus.push(children_cpu() - cpu_before);
        assert!(status.success(), "cairn failed: {status}");
    }
    Timed {
        total: walls.iter().sum(),
        median_wall_ms: median_ms(walls),
        median_cpu_ms: median_ms(cpus),
    }
}

/// The median of `times`, in milliseconds.
pub(crate) fn median_ms(mut times: Vec<Duration>) -> f64 {
    times.sort_unstable();
    times
        .get(times.len() / 2)
        .map_or(f64::NAN, |time| time.as_secs_f64() * 1000.0)
}

/// The CPU time of this process's waited-for children, so far.
pub(crate) fn children_cpu() -> Duration {
    cpu(UsageWho::RUSAGE_CHILDREN)
}

/// The CPU time of this process, all its threads, so far (its children's not counted).
pub(crate) fn own_cpu() -> Duration {
    cpu(UsageWho::RUSAGE_SELF)
}

/// User and system time of `who`.
fn cpu(who: UsageWho) -> Duration {
    let usage = getrusage(who).expect("getrusage");
    let time = |t: nix::sys::time::TimeVal| {
        Duration::from_micros(t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64)
    };
    time(usage.user_time()) + time(usage.system_time())
}

/// The peak RSS of the biggest waited-for child so far, in KiB.
pub(crate) fn children_peak_rss_kib() -> i64 {
    getrusage(UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage")
        .max_rss()
}
