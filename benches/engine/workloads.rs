//! The workloads W1–W5 and P, each run by a child process.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cairn_engine::{Action, Durability, Engine, ExecContext, Executor, Outcome, Plan};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::cli::own_cpu;
use crate::{ms, open, open_guarded, peak_rss_kib, pipeline, plan, reset_peak_rss, run_to_end};

/// `max_parallel` used for W2's fan-out (so all branches may run at once).
pub(crate) const W2_MAX_PARALLEL: u32 = 1000;
/// `max_parallel` used for the W5 DAGs.
pub(crate) const W5_MAX_PARALLEL: u32 = 64;

pub(crate) async fn w1(db: &Path, durability: Durability, n: usize, policy: Option<&str>) -> Value {
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

pub(crate) async fn w2(db: &Path, durability: Durability, n: usize, policy: Option<&str>) -> Value {
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
            (format!("p{part:05}"), json!(template))
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
pub(crate) async fn w3_setup(db: &Path, n: usize) -> Value {
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

/// Times the parts of a resume on their own: the run's record, its stored definition,
/// compiling it (as resume does: `load_snapshot`, not the file loader's checks), and
/// reading its steps.
pub(crate) async fn w3_profile(db: &Path, durability: Durability, run_id: &str) -> Value {
    let engine = open(db, durability).await;
    let started = Instant::now();
    let record = engine.store().find_run(run_id).await.expect("run");
    let run_ms = ms(started);
    let started = Instant::now();
    let definition = engine
        .store()
        .definition(record.id)
        .await
        .expect("definition");
    let definition_ms = ms(started);
    let started = Instant::now();
    let _: Value = serde_json::from_str(&definition).expect("JSON");
    let parse_ms = ms(started);
    let started = Instant::now();
    let plan = cairn_engine::load_snapshot(&definition, "bench", engine.executors())
        .expect("the stored definition");
    let load_ms = ms(started);
    let started = Instant::now();
    let steps = engine.store().steps(record.id).await.expect("steps");
    let steps_ms = ms(started);
    assert_eq!(steps.len(), plan.steps().len());
    json!({"run_ms": run_ms, "definition_ms": definition_ms, "parse_ms": parse_ms,
           "load_ms": load_ms, "steps_ms": steps_ms})
}

pub(crate) async fn w3_resume(db: &Path, durability: Durability, run_id: &str, n: usize) -> Value {
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

/// W4 and W6: `n` runs of a 3-step pipeline, one after another, or all started together,
/// each from a task of its own (as a server starts the runs its requests ask for), which
/// lets the store's writer commit the waiting runs' transitions in one transaction.
pub(crate) async fn small_runs(
    db: &Path,
    durability: Durability,
    n: usize,
    together: bool,
) -> Value {
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
    let run = |engine: Engine, plan: Plan| async move {
        let report = engine
            .start(plan, json!({}))
            .await
            .expect("start")
            .wait()
            .await
            .expect("wait");
        assert_eq!(report.output, Some(json!({"c": 3})), "{report:?}");
    };
    if together {
        let runs: Vec<_> = (0..n)
            .map(|_| tokio::spawn(run(engine.clone(), plan.clone())))
            .collect();
        for one in runs {
            one.await.expect("a run's task");
        }
    } else {
        for _ in 0..n {
            run(engine.clone(), plan.clone()).await;
        }
    }
    json!({"count": n, "secs": started.elapsed().as_secs_f64(), "rss_kib": peak_rss_kib(),
           "notes": "3-step pipeline, each output feeding the next"})
}

/// A WfCommons DAG as a workflow (every task a noop step `needs`-ing its parents); runs it
/// and checks from the history that every task started only after all its parents succeeded.
pub(crate) async fn w5(db: &Path, durability: Durability, file: &Path) -> Value {
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
/// a time (measured before and after the engine; the mean is the reference). Beside the
/// rates, the CPU time this process spent a step (its threads', not the steps' programs'),
/// and a spawn of the plain loop's: what the engine takes from the cores its steps run on.
pub(crate) async fn p(db: &Path, durability: Durability, n: usize) -> Value {
    let cpu_before = own_cpu();
    let plain_before = plain_spawns(n).await;
    let cpu_plain = own_cpu() - cpu_before;
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
    let cpu_before = own_cpu();
    let (report, secs) = run_to_end(&engine, plan).await;
    let cpu_engine = own_cpu() - cpu_before;
    let rss_kib = peak_rss_kib();
    assert_eq!(report.state.to_string(), "succeeded", "{report:?}");
    let plain_after = plain_spawns(n).await;
    let plain_rate = 2.0 * n as f64 / (plain_before + plain_after);
    let micros_each = |cpu: Duration| cpu.as_secs_f64() * 1e6 / n as f64;
    json!({
        "count": n, "secs": secs, "rss_kib": rss_kib, "plain_rate": plain_rate,
        "cpu_us_step": micros_each(cpu_engine), "plain_cpu_us_spawn": micros_each(cpu_plain),
    })
}

/// Seconds to spawn and reap `true` `n` times, two at a time.
pub(crate) async fn plain_spawns(n: usize) -> f64 {
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
