//! The benchmark harness of issue 5: the engine against the disk's own commit limit.
//!
//! `cargo bench --bench engine` (add `-- --quick` for a smoke run with small sizes).
//!
//! For each durability (WAL with `synchronous=NORMAL`, then `FULL`) it measures, in one run
//! and on one disk (a temporary directory under Cargo's target `tmp/` dir):
//!
//! - LIMIT: raw SQLite (sqlx, the engine's pragmas), one-row `BEGIN IMMEDIATE` transactions
//!   per second, before and after the workloads; their mean is the denominator of every ratio;
//! - W1 a noop pipeline, each step's output feeding the next;
//! - W2 one step fanning out to noop branches, then a join reading every branch's output;
//! - W1 and W2 again under a 20-rule policy (`benches/policies/twenty-rules.json`): the
//!   guard's cost per attempt, as a ratio to the same workload without a policy;
//! - W3 resume of a pipeline stopped halfway (10,000 and 100,000 steps);
//! - W4 many small runs (3 steps) one after another;
//! - W5 the WfCommons DAGs of `benches/workloads/wfcommons`, checking the order of events;
//! - P  process steps running `true` at max_parallel 2, against a plain spawn loop.
//!
//! Every workload runs in a child process of this binary (`--child SPEC`), so its peak RSS
//! (VmHWM, also reset through `/proc/self/clear_refs` just before the measured part) is its
//! own. A child prints one JSON line with what it measured; a failed check panics the child
//! and fails the whole harness.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cairn_engine::{Action, Durability, ExecContext, Executor, Executors, Outcome};
use cairn_engine::{Engine, Plan, RunReport};
use cairn_guards::PolicyGuard;
use serde_json::{Value, json};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use tokio::sync::Notify;

/// `max_parallel` used for W2's fan-out (so all branches may run at once).
const W2_MAX_PARALLEL: u32 = 1000;
/// `max_parallel` used for the W5 DAGs.
const W5_MAX_PARALLEL: u32 = 64;
/// The policy W1 and W2 are judged by in their guarded runs, from the package root.
const POLICY: &str = "benches/policies/twenty-rules.json";
/// Where the WfCommons DAGs are, from the package root (shipped in the repository).
const WFCOMMONS: &str = "benches/workloads/wfcommons";

/// Sizes of one harness run.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    limit: usize,
    w1: usize,
    w2: usize,
    w3: [usize; 2],
    w4: usize,
    p: usize,
}

const FULL: Sizes = Sizes {
    limit: 3000,
    w1: 1000,
    w2: 1000,
    w3: [10_000, 100_000],
    w4: 500,
    p: 1000,
};

const QUICK: Sizes = Sizes {
    limit: 300,
    w1: 100,
    w2: 100,
    w3: [1000, 10_000],
    w4: 50,
    p: 100,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|arg| arg == "--child") {
        let spec: Value = serde_json::from_str(&args[at + 1]).expect("a child spec");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let result = runtime.block_on(child(spec));
        println!("{result}");
        return;
    }
    let quick = args.iter().any(|arg| arg == "--quick");
    parent(if quick { QUICK } else { FULL }, quick);
}

// ---------------------------------------------------------------------------------------------
// The parent: runs every workload in a child, prints the tables.

/// One row of a table.
struct Row {
    name: String,
    size: String,
    secs: f64,
    rate: f64,
    unit: &'static str,
    ratio: Option<f64>,
    rss_mib: f64,
    notes: String,
}

/// One target of issue 5 and whether it was met.
struct Target {
    what: String,
    met: bool,
}

fn parent(sizes: Sizes, quick: bool) {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base).expect("the target tmp dir");
    let dir = tempfile::Builder::new()
        .prefix("cairn-bench-")
        .tempdir_in(&base)
        .expect("a temp dir");
    let wfcommons = Path::new(env!("CARGO_MANIFEST_DIR")).join(WFCOMMONS);
    let mut dags: Vec<PathBuf> = std::fs::read_dir(&wfcommons)
        .unwrap_or_else(|error| panic!("{}: {error}", wfcommons.display()))
        .map(|entry| entry.expect("a dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    dags.sort();
    assert!(!dags.is_empty(), "{}: no DAGs", wfcommons.display());

    println!(
        "# cairn benchmark ({} mode)\n\nDatabases in {} (same disk for every measurement); {} cores; \
         each workload in its own child process.\n",
        if quick { "quick" } else { "full" },
        dir.path().display(),
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    let mut all_targets = Vec::new();
    for durability in ["normal", "full"] {
        let (rows, targets) = measure(durability, sizes, dir.path(), &dags);
        println!("## synchronous={} (WAL)\n", durability.to_uppercase());
        print_table(&rows);
        println!();
        for target in &targets {
            println!(
                "- {} {}",
                if target.met { "MET   " } else { "MISSED" },
                target.what
            );
        }
        println!();
        all_targets.extend(targets.into_iter().map(|t| (durability, t)));
    }
    let met = all_targets.iter().filter(|(_, t)| t.met).count();
    println!(
        "{met} of {} targets met. Ratios are what matter: the machine is shared and noisy.",
        all_targets.len()
    );
}

fn measure(
    durability: &str,
    sizes: Sizes,
    dir: &Path,
    dags: &[PathBuf],
) -> (Vec<Row>, Vec<Target>) {
    let db = |name: &str| dir.join(format!("{durability}-{name}.db"));
    let spec = |kind: &str, name: &str, extra: Value| {
        let mut spec = json!({"kind": kind, "durability": durability, "db": db(name)});
        if let Value::Object(extra) = extra {
            spec.as_object_mut().expect("an object").extend(extra);
        }
        spec
    };
    let mut rows = Vec::new();
    let mut targets = Vec::new();

    let before = run_child(&spec("limit", "limit-before", json!({"n": sizes.limit})));
    let mut results = Vec::new();
    results.push(("W1", run_child(&spec("w1", "w1", json!({"n": sizes.w1})))));
    results.push(("W2", run_child(&spec("w2", "w2", json!({"n": sizes.w2})))));
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join(POLICY);
    let guarded: Vec<(&str, Value)> = [("W1", "w1", sizes.w1), ("W2", "w2", sizes.w2)]
        .into_iter()
        .map(|(name, kind, n)| {
            let spec = spec(
                kind,
                &format!("{kind}-guarded"),
                json!({"n": n, "policy": policy}),
            );
            (name, run_child(&spec))
        })
        .collect();
    let mut w3 = Vec::new();
    for n in sizes.w3 {
        let name = format!("w3-{n}");
        // Getting halfway is set-up, not measured: always with synchronous=NORMAL (the
        // setting is per connection, not stored), so FULL only pays for the resume.
        let mut setup = spec("w3setup", &name, json!({"n": n}));
        setup["durability"] = json!("normal");
        let setup = run_child(&setup);
        let run_id = setup["run_id"].clone();
        let profile = run_child(&spec("w3profile", &name, json!({"run_id": run_id})));
        let resume = run_child(&spec("w3resume", &name, json!({"run_id": run_id, "n": n})));
        w3.push((n, setup, profile, resume));
    }
    let w4 = run_child(&spec("w4", "w4", json!({"n": sizes.w4})));
    let w5: Vec<(String, Value)> = dags
        .iter()
        .map(|path| {
            let stem = path
                .file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            let result = run_child(&spec("w5", &format!("w5-{stem}"), json!({"file": path})));
            (stem, result)
        })
        .collect();
    let p = run_child(&spec("p", "p", json!({"n": sizes.p})));
    let after = run_child(&spec("limit", "limit-after", json!({"n": sizes.limit})));

    let limit = (rate(&before) + rate(&after)) / 2.0;
    rows.push(Row {
        name: "LIMIT".into(),
        size: format!("{} commits ×2", sizes.limit),
        secs: secs(&before) + secs(&after),
        rate: limit,
        unit: "commits/s",
        ratio: Some(1.0),
        rss_mib: rss(&before).max(rss(&after)),
        notes: format!(
            "raw one-row transactions; before {:.0}/s, after {:.0}/s",
            rate(&before),
            rate(&after)
        ),
    });
    for (name, result) in &results {
        let what = match *name {
            "W1" => format!("{}-step pipeline", sizes.w1),
            _ => format!("1 → {} → join, max_parallel {W2_MAX_PARALLEL}", sizes.w2),
        };
        rows.push(Row {
            name: (*name).into(),
            size: what,
            secs: secs(result),
            rate: rate(result),
            unit: "steps/s",
            ratio: Some(rate(result) / limit),
            rss_mib: rss(result),
            notes: result["notes"].as_str().unwrap_or_default().to_owned(),
        });
    }
    let w1 = &results[0].1;
    let w2 = &results[1].1;
    for ((name, unguarded), (_, guarded)) in results.iter().zip(&guarded) {
        rows.push(Row {
            name: format!("{name}+guard"),
            size: "the same, every attempt judged by 20 CEL rules".into(),
            secs: secs(guarded),
            rate: rate(guarded),
            unit: "steps/s",
            ratio: Some(rate(guarded) / limit),
            rss_mib: rss(guarded),
            notes: format!(
                "{:.2}× {name} without a policy",
                rate(guarded) / rate(unguarded)
            ),
        });
    }
    targets.push(Target {
        what: format!("W1 ≥ 0.5× LIMIT: {:.2}×", rate(w1) / limit),
        met: rate(w1) / limit >= 0.5,
    });
    if durability == "full" {
        targets.push(Target {
            what: format!("W2 ≥ 3× LIMIT under FULL: {:.2}×", rate(w2) / limit),
            met: rate(w2) / limit >= 3.0,
        });
    } else {
        targets.push(Target {
            what: format!(
                "(W2 ≥ 3× LIMIT is a FULL target; under NORMAL: {:.2}×)",
                rate(w2) / limit
            ),
            met: true,
        });
    }
    targets.push(Target {
        what: format!("W2 peak RSS < 100 MiB: {:.1} MiB", rss(w2)),
        met: rss(w2) < 100.0,
    });
    for (n, setup, profile, resume) in &w3 {
        rows.push(Row {
            name: "W3".into(),
            size: format!("resume {n}-step pipeline at {}", setup["done"]),
            secs: secs(resume),
            rate: rate(resume),
            unit: "steps/s",
            ratio: Some(rate(resume) / limit),
            rss_mib: rss(resume),
            notes: format!(
                "first new step after {:.1} ms (resume() returned after {:.1} ms); \
                 alone: run() {:.1} ms, load_str {:.1} ms, steps() {:.1} ms",
                resume["first_ms"].as_f64().unwrap_or(f64::NAN),
                resume["returned_ms"].as_f64().unwrap_or(f64::NAN),
                profile["run_ms"].as_f64().unwrap_or(f64::NAN),
                profile["load_ms"].as_f64().unwrap_or(f64::NAN),
                profile["steps_ms"].as_f64().unwrap_or(f64::NAN),
            ),
        });
    }
    if let [(small, _, _, a), (big, _, _, b)] = w3.as_slice() {
        let ratio = secs(b) / secs(a);
        let first = b["first_ms"].as_f64().unwrap_or(0.0) / a["first_ms"].as_f64().unwrap_or(1.0);
        // The resume cost is the time to the first new step; the total also runs the
        // remaining half, which is 10× more work for the bigger run whatever the engine does.
        targets.push(Target {
            what: format!(
                "W3 {big}-step resume < 3× the {small}-step one (time to the first new step): \
                 {first:.1}× ({ratio:.1}× in total, which includes running 10× more steps)"
            ),
            met: first < 3.0,
        });
        targets.push(Target {
            what: format!("W3 {big}-step resume peak RSS < 300 MiB: {:.1} MiB", rss(b)),
            met: rss(b) < 300.0,
        });
    }
    rows.push(Row {
        name: "W4".into(),
        size: format!("{} runs × 3 steps, one after another", sizes.w4),
        secs: secs(&w4),
        rate: rate(&w4),
        unit: "runs/s",
        ratio: Some(rate(&w4) / limit),
        rss_mib: rss(&w4),
        notes: w4["notes"].as_str().unwrap_or_default().to_owned(),
    });
    targets.push(Target {
        what: format!("W4 ≥ 0.25× LIMIT in runs/s: {:.2}×", rate(&w4) / limit),
        met: rate(&w4) / limit >= 0.25,
    });
    for (stem, result) in &w5 {
        rows.push(Row {
            name: "W5".into(),
            size: format!(
                "{stem}: {} tasks, {} edges",
                result["count"], result["edges"]
            ),
            secs: secs(result),
            rate: rate(result),
            unit: "steps/s",
            ratio: Some(rate(result) / limit),
            rss_mib: rss(result),
            notes: format!(
                "every task ran after all its parents succeeded; max_parallel {W5_MAX_PARALLEL}"
            ),
        });
    }
    let plain = p["plain_rate"].as_f64().unwrap_or(f64::NAN);
    rows.push(Row {
        name: "P".into(),
        size: format!("{} × `true`, max_parallel 2", sizes.p),
        secs: secs(&p),
        rate: rate(&p),
        unit: "steps/s",
        ratio: Some(rate(&p) / plain),
        rss_mib: rss(&p),
        notes: format!("ratio to a plain spawn loop (2 at a time): {plain:.0}/s"),
    });
    targets.push(Target {
        what: format!("P ≥ 0.8× the plain spawn loop: {:.2}×", rate(&p) / plain),
        met: rate(&p) / plain >= 0.8,
    });
    (rows, targets)
}

fn print_table(rows: &[Row]) {
    println!("| workload | size | time (s) | rate | ratio | peak RSS (MiB) | notes |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | --- |");
    for row in rows {
        let ratio = row.ratio.map_or("".into(), |ratio| format!("{ratio:.2}×"));
        println!(
            "| {} | {} | {:.3} | {:.0} {} | {} | {:.1} | {} |",
            row.name, row.size, row.secs, row.rate, row.unit, ratio, row.rss_mib, row.notes
        );
    }
}

fn secs(result: &Value) -> f64 {
    result["secs"].as_f64().unwrap_or(f64::NAN)
}

fn rate(result: &Value) -> f64 {
    result["count"].as_f64().unwrap_or(f64::NAN) / secs(result)
}

fn rss(result: &Value) -> f64 {
    result["rss_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0
}

/// Runs this binary with `--child SPEC` and returns the JSON it printed last.
fn run_child(spec: &Value) -> Value {
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
        eprintln!("workload {spec} FAILED: {}", output.status);
        std::process::exit(1);
    }
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|error| panic!("child said {last:?}: {error}"))
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
    match spec["kind"].as_str().expect("kind") {
        "limit" => limit(&db, durability, n).await,
        "w1" => w1(&db, durability, n, spec["policy"].as_str()).await,
        "w2" => w2(&db, durability, n, spec["policy"].as_str()).await,
        "w3setup" => w3_setup(&db, n).await,
        "w3profile" => w3_profile(&db, durability, spec["run_id"].as_str().expect("run")).await,
        "w3resume" => w3_resume(&db, durability, spec["run_id"].as_str().expect("run"), n).await,
        "w4" => w4(&db, durability, n).await,
        "w5" => {
            w5(
                &db,
                durability,
                Path::new(spec["file"].as_str().expect("file")),
            )
            .await
        }
        "p" => p(&db, durability, n).await,
        other => panic!("unknown workload {other}"),
    }
}

async fn limit(db: &Path, durability: Durability, n: usize) -> Value {
    let options = SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match durability {
            Durability::Full => SqliteSynchronous::Full,
            _ => SqliteSynchronous::Normal,
        })
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .expect("connect");
    sqlx::query("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        .execute(&mut conn)
        .await
        .expect("create");
    reset_peak_rss();
    let started = Instant::now();
    for i in 0..n {
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.expect("begin");
        sqlx::query("INSERT INTO t (v) VALUES (?)")
            .bind(format!("row {i}"))
            .execute(&mut *tx)
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
    }
    json!({"count": n, "secs": started.elapsed().as_secs_f64(), "rss_kib": peak_rss_kib()})
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

async fn w1(db: &Path, durability: Durability, n: usize, policy: Option<&str>) -> Value {
    let engine = open_guarded(db, durability, policy).await;
    let plan = plan(&pipeline(n), engine.executors());
    reset_peak_rss();
    let started = Instant::now();
    let handle = engine.start(plan, json!({})).await.expect("start");
    let report = handle.wait().await.expect("wait");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(report.state.to_string(), "succeeded", "{report:?}");
    let last = format!("s{}", n - 1);
    assert_eq!(report.output, Some(json!({ last: n - 1 })), "W1's output");
    json!({"count": n, "secs": secs, "rss_kib": peak_rss_kib()})
}

async fn w2(db: &Path, durability: Durability, n: usize, policy: Option<&str>) -> Value {
    let engine = open_guarded(db, durability, policy).await;
    let mut steps = vec![json!({"id": "root", "executor": "noop", "with": {"output": 1}})];
    let mut reads = Vec::with_capacity(n);
    for i in 0..n {
        steps.push(json!({
            "id": format!("b{i}"), "executor": "noop", "needs": ["root"],
            "with": {"output": format!("${{{{ steps.root.output + {i} }}}}")}
        }));
        reads.push(format!("steps.b{i}.output"));
    }
    let needs: Vec<String> = (0..n).map(|i| format!("b{i}")).collect();
    // One template per 100 branches: an expression may be at most 16 KiB long.
    let parts: serde_json::Map<String, Value> = reads
        .chunks(100)
        .enumerate()
        .map(|(part, reads)| {
            let template = format!("${{{{ [{}] }}}}", reads.join(", "));
            (format!("p{part:02}"), json!(template))
        })
        .collect();
    steps.push(json!({
        "id": "join", "executor": "noop", "needs": needs, "with": {"output": parts}
    }));
    let workflow = json!({
        "name": "fan-out", "version": "1",
        "limits": {"max_parallel": W2_MAX_PARALLEL, "max_steps": n + 10},
        "steps": steps,
    });
    let plan = plan(&workflow.to_string(), engine.executors());
    let (report, secs) = run_to_end(&engine, plan).await;
    assert_eq!(report.state.to_string(), "succeeded", "{report:?}");
    let read: Vec<u64> = report
        .output
        .as_ref()
        .and_then(|output| output["join"].as_object())
        .expect("the join's output")
        .values()
        .flat_map(|part| part.as_array().expect("a list").clone())
        .map(|value| value.as_u64().expect("a number"))
        .collect();
    let expected: Vec<u64> = (1..=n as u64).collect();
    assert_eq!(read, expected, "W2's join output");
    json!({"count": n + 2, "secs": secs, "rss_kib": peak_rss_kib(),
           "notes": format!("max_parallel {W2_MAX_PARALLEL}; join read all {n} outputs")})
}

/// `noop`, which also says when the step `stop_at` has been reached.
#[derive(Debug)]
struct StopAt {
    noop: Arc<dyn Executor>,
    stop_at: String,
    reached: Arc<Notify>,
}

#[async_trait]
impl Executor for StopAt {
    fn params_schema(&self) -> Option<schemars::Schema> {
        self.noop.params_schema()
    }

    async fn execute(&self, action: &Action, ctx: ExecContext) -> Outcome {
        if action.step_id == self.stop_at {
            self.reached.notify_one();
        }
        self.noop.execute(action, ctx).await
    }
}

/// Runs an `n`-step pipeline and shuts the engine down once step `n/2 - 1` ran.
async fn w3_setup(db: &Path, n: usize) -> Value {
    let reached = Arc::new(Notify::new());
    let builtin = cairn_executors::builtin();
    let stop = StopAt {
        noop: Arc::clone(&builtin["noop"]),
        stop_at: format!("s{}", n / 2 - 1),
        reached: Arc::clone(&reached),
    };
    let engine = Engine::builder(db)
        .executors(builtin)
        .executor("noop", Arc::new(stop))
        .open()
        .await
        .expect("open");
    let plan = plan(&pipeline(n), engine.executors());
    let started = Instant::now();
    let handle = engine.start(plan, json!({})).await.expect("start");
    let run_id = handle.id();
    reached.notified().await;
    engine.shutdown();
    let report = handle.wait().await.expect("wait");
    assert_eq!(report.state.to_string(), "running", "{report:?}");
    let done = engine
        .store()
        .steps(run_id)
        .await
        .expect("steps")
        .iter()
        .filter(|step| step.state.to_string() == "succeeded")
        .count();
    json!({"run_id": run_id.to_string(), "done": done, "secs": started.elapsed().as_secs_f64()})
}

/// Times the parts of a resume on their own: the run's record, compiling its stored
/// definition, and reading its steps.
async fn w3_profile(db: &Path, durability: Durability, run_id: &str) -> Value {
    let engine = open(db, durability).await;
    let started = Instant::now();
    let record = engine.store().find_run(run_id).await.expect("run");
    let run_ms = ms(started);
    let started = Instant::now();
    let _: Value = serde_json::from_str(&record.definition).expect("JSON");
    let parse_ms = ms(started);
    let started = Instant::now();
    let plan = plan(&record.definition, engine.executors());
    let load_ms = ms(started);
    let started = Instant::now();
    let steps = engine.store().steps(record.id).await.expect("steps");
    let steps_ms = ms(started);
    assert_eq!(steps.len(), plan.steps().len());
    json!({"run_ms": run_ms, "parse_ms": parse_ms, "load_ms": load_ms, "steps_ms": steps_ms})
}

async fn w3_resume(db: &Path, durability: Durability, run_id: &str, n: usize) -> Value {
    let engine = open(db, durability).await;
    let left = engine
        .store()
        .steps(run_id.parse().expect("a run id"))
        .await
        .expect("steps")
        .iter()
        .filter(|step| step.state.to_string() != "succeeded")
        .count();
    reset_peak_rss();
    let started = Instant::now();
    let mut handle = engine.resume(run_id).await.expect("resume");
    let returned_ms = ms(started);
    let mut events = handle.events();
    let first_ms = loop {
        match events.recv().await {
            Ok(event) if event.step_id().is_some() && event.to() == "running" => break ms(started),
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(error) => panic!("no step started after the resume: {error}"),
        }
    };
    let report = handle.wait().await.expect("wait");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(report.state.to_string(), "succeeded", "{report:?}");
    let last = format!("s{}", n - 1);
    assert_eq!(report.output, Some(json!({ last: n - 1 })), "W3's output");
    json!({"count": left, "secs": secs, "rss_kib": peak_rss_kib(),
           "returned_ms": returned_ms, "first_ms": first_ms})
}

async fn w4(db: &Path, durability: Durability, n: usize) -> Value {
    let engine = open(db, durability).await;
    let workflow = json!({
        "name": "small", "version": "1",
        "steps": [
            {"id": "a", "executor": "noop", "with": {"output": 1}},
            {"id": "b", "executor": "noop", "needs": ["a"], "with": {"output": "${{ steps.a.output + 1 }}"}},
            {"id": "c", "executor": "noop", "needs": ["b"], "with": {"output": "${{ steps.b.output + 1 }}"}},
        ],
    });
    let plan = plan(&workflow.to_string(), engine.executors());
    reset_peak_rss();
    let started = Instant::now();
    for _ in 0..n {
        let report = engine
            .start(plan.clone(), json!({}))
            .await
            .expect("start")
            .wait()
            .await
            .expect("wait");
        assert_eq!(report.output, Some(json!({"c": 3})), "{report:?}");
    }
    json!({"count": n, "secs": started.elapsed().as_secs_f64(), "rss_kib": peak_rss_kib(),
           "notes": "3-step pipeline, each output feeding the next"})
}

/// A WfCommons DAG as a workflow (every task a noop step `needs`-ing its parents); runs it
/// and checks from the history that every task started only after all its parents succeeded.
async fn w5(db: &Path, durability: Durability, file: &Path) -> Value {
    let text = std::fs::read_to_string(file).expect("the DAG file");
    let dag: Value = serde_json::from_str(&text).expect("JSON");
    let tasks = dag["tasks"].as_array().expect("tasks");
    let id = |name: &str| -> String {
        name.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let mut edges = 0;
    let mut parents_of = std::collections::HashMap::new();
    let steps: Vec<Value> = tasks
        .iter()
        .map(|task| {
            let name = id(task["id"].as_str().expect("a task id"));
            let parents: Vec<String> = task["parents"]
                .as_array()
                .expect("parents")
                .iter()
                .map(|parent| id(parent.as_str().expect("a parent id")))
                .collect();
            edges += parents.len();
            parents_of.insert(name.clone(), parents.clone());
            json!({"id": name, "executor": "noop", "needs": parents})
        })
        .collect();
    let workflow = json!({
        "name": dag["name"], "version": "1",
        "limits": {"max_parallel": W5_MAX_PARALLEL, "max_steps": steps.len() + 10},
        "steps": steps,
    });
    let engine = open(db, durability).await;
    let plan = plan(&workflow.to_string(), engine.executors());
    reset_peak_rss();
    let started = Instant::now();
    let handle = engine.start(plan, json!({})).await.expect("start");
    let run_id = handle.id();
    let report = handle.wait().await.expect("wait");
    let secs = started.elapsed().as_secs_f64();
    let rss_kib = peak_rss_kib();
    assert_eq!(
        report.state.to_string(),
        "succeeded",
        "{}: {report:?}",
        file.display()
    );

    let history = engine.store().history(run_id).await.expect("history");
    let mut succeeded = std::collections::HashMap::new();
    let mut started_at = std::collections::HashMap::new();
    for event in &history {
        let Some(step) = event.step_id() else {
            continue;
        };
        match event.to() {
            "succeeded" => {
                succeeded.insert(step.to_owned(), event.seq);
            }
            "running" => {
                started_at.entry(step.to_owned()).or_insert(event.seq);
            }
            _ => {}
        }
    }
    assert_eq!(
        succeeded.len(),
        tasks.len(),
        "{}: every task succeeded",
        file.display()
    );
    for (step, parents) in &parents_of {
        let start = started_at[step];
        for parent in parents {
            let done = succeeded[parent];
            assert!(
                done < start,
                "{}: task {step} started (event {start}) before its parent {parent} succeeded (event {done})",
                file.display()
            );
        }
    }
    json!({"count": tasks.len(), "edges": edges, "secs": secs, "rss_kib": rss_kib})
}

/// `n` process steps running `true`, 2 at a time, against a plain loop spawning `true` 2 at
/// a time (measured before and after the engine; the mean is the reference).
async fn p(db: &Path, durability: Durability, n: usize) -> Value {
    let plain_before = plain_spawns(n).await;
    let engine = open(db, durability).await;
    let steps: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("t{i}"), "executor": "process", "with": {"command": ["true"]}}))
        .collect();
    let workflow = json!({
        "name": "spawn", "version": "1",
        "limits": {"max_parallel": 2, "max_steps": n + 10},
        "steps": steps,
    });
    let plan = plan(&workflow.to_string(), engine.executors());
    let (report, secs) = run_to_end(&engine, plan).await;
    let rss_kib = peak_rss_kib();
    assert_eq!(report.state.to_string(), "succeeded", "{report:?}");
    let plain_after = plain_spawns(n).await;
    let plain_rate = 2.0 * n as f64 / (plain_before + plain_after);
    json!({"count": n, "secs": secs, "rss_kib": rss_kib, "plain_rate": plain_rate})
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

/// Seconds to spawn and reap `true` `n` times, two at a time.
async fn plain_spawns(n: usize) -> f64 {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let status = tokio::process::Command::new("true")
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .await
                        .expect("spawn true");
                    assert!(status.success());
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a spawn worker");
    }
    started.elapsed().as_secs_f64()
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
