//! The benchmark harness of issue 5: the engine against the disk's own commit limit.
//!
//! `cargo bench --bench engine` (add `-- --quick` for a smoke run with small sizes, or
//! `-- --large` for the large workloads alone: slow and memory-hungry).
//!
//! For each durability (WAL with `synchronous=NORMAL`, then `FULL`) it measures, in one run
//! and on one disk (a temporary directory under Cargo's target `tmp/` dir):
//!
//! - FLOOR: one-row `BEGIN IMMEDIATE` transactions per second through a thin binding
//!   (rusqlite, over the same libsqlite3-sys as sqlx), with the engine's pragmas: what
//!   SQLite itself does on this disk. LIMIT: the same through sqlx, so the client's share is
//!   visible. Each before and after the workloads; their means are the two denominators;
//! - C  the store's commit path alone: a pipeline's batches through `Store::commit`;
//! - W1 a noop pipeline, each step's output feeding the next;
//! - W2 one step fanning out to noop branches, then a join reading every branch's output;
//! - W1 and W2 again under a 20-rule policy (`benches/policies/twenty-rules.json`): the
//!   guard's cost per attempt, as a ratio to the same workload without a policy;
//! - W3 resume of a pipeline stopped halfway (10,000 and 100,000 steps);
//! - W4 many small runs (3 steps) one after another; W6 as many started together;
//! - W5 the WfCommons DAGs of `benches/workloads/wfcommons`, checking the order of events;
//! - P  process steps running `true` at max_parallel 2, against a plain spawn loop;
//! - CLI `cairn run` of a one-step workflow, against `cairn --version` (NORMAL only).
//!
//! `--large` ([`large`]): a 1,000,000-step pipeline, a 100,000-branch fan-out, and
//! `cairn resume` of a 10,000- and a 100,000-step run stopped halfway, through the binary.
//!
//! Every workload runs in a child process of this binary (`--child SPEC`), so its peak RSS
//! (VmHWM, also reset through `/proc/self/clear_refs` just before the measured part) is its
//! own. A child prints one JSON line with what it measured; a failed check panics the child
//! and fails the whole harness.

mod cli;
mod commits;
mod large;
mod limit;
mod report;
mod workloads;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use cairn_engine::{Durability, Engine, Executors, Plan, RunReport};
use cairn_guards::PolicyGuard;
use serde_json::{Value, json};

/// Sizes of one harness run.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    limit: usize,
    w1: usize,
    w2: usize,
    w3: [usize; 2],
    w4: usize,
    w6: usize,
    p: usize,
    cli: usize,
}

const FULL: Sizes = Sizes {
    limit: 3000,
    w1: 1000,
    w2: 1000,
    w3: [10_000, 100_000],
    w4: 500,
    w6: 1000,
    p: 1000,
    cli: 50,
};

const QUICK: Sizes = Sizes {
    limit: 300,
    w1: 100,
    w2: 100,
    w3: [1000, 10_000],
    w4: 50,
    w6: 100,
    p: 100,
    cli: 5,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|arg| arg == "--child") {
        let spec: Value = serde_json::from_str(&args[at + 1]).expect("a child spec");
        // The runtime the `cairn` binary runs the engine on (src/main.rs): one thread,
        // with the store's writer and the blocking pool beside it (docs/performance.md).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let result = runtime.block_on(child(spec));
        println!("{result}");
        return;
    }
    let quick = args.iter().any(|arg| arg == "--quick");
    if args.iter().any(|arg| arg == "--large") {
        large::parent(if quick { large::QUICK } else { large::FULL });
    } else {
        report::parent(if quick { QUICK } else { FULL }, quick);
    }
}

/// Runs this binary with `--child SPEC` and returns the JSON it printed last; exits the
/// harness if the child failed.
fn run_child(spec: &Value) -> Value {
    try_child(spec).unwrap_or_else(|failure| {
        eprintln!("workload {spec} FAILED: {failure}");
        std::process::exit(1);
    })
}

/// Runs this binary with `--child SPEC`: the JSON it printed last, or how it failed.
fn try_child(spec: &Value) -> Result<Value, String> {
    let exe = std::env::current_exe().expect("the bench binary");
    let output = Command::new(exe)
        .arg("--child")
        .arg(spec.to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        eprintln!("{stdout}");
        return Err(output.status.to_string());
    }
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).map_err(|error| format!("child said {last:?}: {error}"))
}

// ---------------------------------------------------------------------------------------------
// The children: one workload each.

async fn child(spec: Value) -> Value {
    let db = PathBuf::from(spec["db"].as_str().expect("db"));
    let durability = match spec["durability"].as_str() {
        Some("full") => Durability::Full,
        _ => Durability::Normal,
    };
    let n = spec["n"].as_u64().unwrap_or(0) as usize;
    let run_id = || spec["run_id"].as_str().expect("a run id");
    match spec["kind"].as_str().expect("kind") {
        "limit" => limit::sqlx_limit(&db, durability, n).await,
        "floor" => limit::thin_floor(&db, durability, n),
        "commits" => commits::pipeline_commits(&db, durability, n).await,
        "w1" => workloads::w1(&db, durability, n, spec["policy"].as_str()).await,
        "w2" => workloads::w2(&db, durability, n, spec["policy"].as_str()).await,
        "w3setup" => workloads::w3_setup(&db, n).await,
        "w3profile" => workloads::w3_profile(&db, durability, run_id()).await,
        "w3resume" => workloads::w3_resume(&db, durability, run_id(), n).await,
        "w4" => workloads::small_runs(&db, durability, n, false).await,
        "w6" => workloads::small_runs(&db, durability, n, true).await,
        "w5" => {
            let file = Path::new(spec["file"].as_str().expect("file"));
            workloads::w5(&db, durability, file).await
        }
        "p" => workloads::p(&db, durability, n).await,
        "cli" => cli::one_step_runs(&db, n),
        "large1" => large::pipeline_run(&db, n).await,
        "resume_cli" => large::resume_through_cli(&db, run_id(), n),
        "cli_file" => {
            let command = spec["command"].as_str().expect("a command");
            let times = spec["times"].as_u64().unwrap_or(1) as usize;
            large::cli_on_file(&db, n, command, times)
        }
        "big_outputs" => {
            let command = spec["command"].as_str().expect("a command");
            let bytes = spec["bytes"].as_u64().expect("bytes") as usize;
            let sinks = spec["sinks"].as_bool().unwrap_or(false);
            large::big_outputs(&db, n, bytes, command, sinks)
        }
        other => panic!("unknown workload {other}"),
    }
}

async fn open(db: &Path, durability: Durability) -> Engine {
    open_guarded(db, durability, None).await
}

/// An engine whose runs are judged by the policy file `policy`, if given.
async fn open_guarded(db: &Path, durability: Durability, policy: Option<&str>) -> Engine {
    let builder = Engine::builder(db)
        .executors(cairn_executors::builtin())
        .durability(durability);
    let builder = match policy {
        Some(policy) => {
            let guard = PolicyGuard::load(Path::new(policy)).unwrap_or_else(|e| panic!("{e}"));
            builder.guard(Arc::new(guard))
        }
        None => builder,
    };
    builder.open().await.expect("open the engine")
}

fn plan(source: &str, executors: &Executors) -> Plan {
    cairn_engine::load_str(source, "bench", executors).unwrap_or_else(|error| panic!("{error}"))
}

/// A pipeline of `n` noop steps `s0 … s{n-1}`, each step's output its predecessor's + 1.
fn pipeline(n: usize) -> String {
    let mut steps = String::with_capacity(n * 110);
    for i in 0..n {
        if i == 0 {
            steps.push_str(r#"{"id": "s0", "executor": "noop", "with": {"output": 0}}"#);
        } else {
            let p = i - 1;
            write!(
                steps,
                r#", {{"id": "s{i}", "executor": "noop", "needs": ["s{p}"], "with": {{"output": "${{{{ steps.s{p}.output + 1 }}}}"}}}}"#
            )
            .expect("write");
        }
    }
    format!(
        r#"{{"name": "pipeline", "version": "1", "limits": {{"max_steps": {}}}, "steps": [{steps}]}}"#,
        n.max(1000)
    )
}

/// Resets the peak RSS, then runs `plan` with an empty input to its end: the report and
/// the seconds it took.
async fn run_to_end(engine: &Engine, plan: Plan) -> (RunReport, f64) {
    reset_peak_rss();
    let started = Instant::now();
    let report = engine
        .start(plan, json!({}))
        .await
        .expect("start")
        .wait()
        .await
        .expect("wait");
    (report, started.elapsed().as_secs_f64())
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Resets this process's peak RSS (VmHWM) to its current RSS.
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
}

/// This process's peak resident set size (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}
