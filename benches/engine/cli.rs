//! The command line's own cost: `cairn run` of a one-step workflow, and `cairn --version`
//! (the binary's start and exit alone), each run as a process of its own.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};
use serde_json::{Value, json};

/// The `cairn` binary Cargo built for this bench.
pub(crate) const CAIRN: &str = env!("CARGO_BIN_EXE_cairn");

/// `n` one-step runs and `n` `--version`s: wall and CPU time per process, peak RSS.
pub(crate) fn one_step_runs(db: &Path, n: usize) -> Value {
    let workflow = db.with_extension("json");
    let steps = json!({"name": "one", "steps": [{"id": "a", "executor": "noop"}]});
    std::fs::write(&workflow, steps.to_string()).expect("write the workflow");
    let run = |_: usize| {
        let mut command = Command::new(CAIRN);
        command.arg("--db").arg(db).arg("run").arg(&workflow);
        command
    };
    run(0).output().expect("a first run creates the database");
    let (run_wall, run_cpu) = timed(n, run);
    let (version_wall, version_cpu) = timed(n, |_| {
        let mut command = Command::new(CAIRN);
        command.arg("--version");
        command
    });
    let per = |total: Duration| total.as_secs_f64() * 1000.0 / n as f64;
    json!({
        "count": n, "secs": run_wall.as_secs_f64(), "rss_kib": children_peak_rss_kib(),
        "run_wall_ms": per(run_wall), "run_cpu_ms": per(run_cpu),
        "version_wall_ms": per(version_wall), "version_cpu_ms": per(version_cpu),
    })
}

/// Runs `command(i)` for `i` in `0..n`, one after another, checking each succeeds: the
/// wall time and the CPU time (user + system) of the processes.
fn timed(n: usize, command: impl Fn(usize) -> Command) -> (Duration, Duration) {
    let cpu_before = children_cpu();
    let started = Instant::now();
    for i in 0..n {
        let status = command(i)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("cairn runs");
        assert!(status.success(), "cairn failed: {status}");
    }
    (started.elapsed(), children_cpu() - cpu_before)
}

/// The CPU time of this process's waited-for children, so far.
pub(crate) fn children_cpu() -> Duration {
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
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
