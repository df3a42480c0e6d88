//! `--large`: the workloads of a million steps (NORMAL durability only).
//!
//! - L1 a 1,000,000-step noop pipeline run to its end (or for [`BUDGET`], then stopped:
//!   how far it got is the figure);
//! - L2 one step fanning out to 100,000 branches and a join (W2's shape);
//! - L3 `cairn resume` of a 10,000- and a 100,000-step pipeline stopped halfway, through the
//!   binary: time from the spawn to the first new step, to the end, and the process's peak RSS;
//! - L4 `cairn validate` (the median of five) and `cairn run` of the 100,000-step pipeline's
//!   file, each a process of its own: time and peak RSS;
//! - L5 big outputs: `cairn run` of a fan-out whose steps each output ≈ 1 MB (under the
//!   default cap) and a join that reads none of them, then `cairn show` and `show --json` of
//!   that run: where a step's lookup or a listing reads outputs it does not need, it shows;
//!   and `cairn run` of the same fan-out without the join, whose output is then all of
//!   theirs (≈ 270 MB): what a big run output costs.
//!
//! A workload that fails (out of memory, say) is reported as such; the others still run.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_engine::{Durability, RunState};
use serde_json::{Value, json};

use crate::cli::{CAIRN, children_cpu, children_peak_rss_kib, median_ms};
use crate::{ms, open, peak_rss_kib, pipeline, plan, run_child, try_child};

/// How long L1 may run before it is stopped and measured as far as it got.
const BUDGET: Duration = Duration::from_secs(900);

/// Sizes of a large run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pipeline: usize,
    fan_out: usize,
    resume: [usize; 2],
    /// L5: how many steps, and the bytes each outputs.
    big_outputs: (usize, usize),
}

/// The sizes of the issue.
pub(crate) const FULL: Sizes = Sizes {
    pipeline: 1_000_000,
    fan_out: 100_000,
    resume: [10_000, 100_000],
    big_outputs: (300, 900_000),
};

/// `--large --quick`: the same workloads, small, to check the mode works.
pub(crate) const QUICK: Sizes = Sizes {
    pipeline: 10_000,
    fan_out: 1_000,
    resume: [1_000, 10_000],
    big_outputs: (30, 100_000),
};

pub(crate) fn parent(sizes: Sizes) {
    let base = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base).expect("the target tmp dir");
    let dir = tempfile::Builder::new()
        .prefix("cairn-bench-large-")
        .tempdir_in(&base)
        .expect("a temp dir");
    let spec = |kind: &str, name: &str, extra: Value| {
        let mut spec = json!({"kind": kind, "durability": "normal", "db": dir.path().join(format!("{name}.db"))});
        spec.as_object_mut()
            .expect("an object")
            .extend(extra.as_object().expect("an object").clone());
        spec
    };
    println!(
        "# cairn benchmark (large mode, synchronous=NORMAL)\n\nDatabases in {}.\n",
        dir.path().display()
    );
    let floor = run_child(&spec("floor", "floor", json!({"n": 3000})));
    let floor = floor["count"].as_f64().unwrap_or(f64::NAN) / secs(&floor);
    println!("FLOOR (rusqlite one-row commits): {floor:.0}/s\n");
    println!("| workload | size | result | time (s) | rate | × FLOOR | peak RSS (MiB) | notes |");
    println!("| --- | --- | --- | ---: | ---: | ---: | ---: | --- |");
    let row = |name: &str,
               size: String,
               result: &Result<Value, String>,
               notes: &dyn Fn(&Value) -> String| {
        match result {
            Ok(value) => {
                let rate = value["count"].as_f64().unwrap_or(f64::NAN) / secs(value);
                let done = if value["finished"] == json!(false) {
                    "stopped"
                } else {
                    "finished"
                };
                println!(
                    "| {name} | {size} | {done} | {:.1} | {rate:.0} steps/s | {:.2}× | {:.0} | {} |",
                    secs(value),
                    rate / floor,
                    value["rss_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0,
                    notes(value)
                );
            }
            Err(failure) => println!("| {name} | {size} | FAILED: {failure} | | | | | |"),
        }
    };

    let l1 = try_child(&spec("large1", "l1", json!({"n": sizes.pipeline})));
    row(
        "L1",
        format!("{}-step pipeline", sizes.pipeline),
        &l1,
        &|v| {
            format!(
                "{} steps done; loading the plan {:.1} s (RSS {:.0} MiB after it)",
                v["count"],
                v["load_secs"].as_f64().unwrap_or(f64::NAN),
                v["load_rss_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0
            )
        },
    );
    let l2 = try_child(&spec("w2", "l2", json!({"n": sizes.fan_out})));
    row(
        "L2",
        format!("1 → {} → join", sizes.fan_out),
        &l2,
        &|v| v["notes"].as_str().unwrap_or_default().to_owned(),
    );
    let mut firsts = Vec::new();
    for n in sizes.resume {
        let name = format!("l3-{n}");
        let setup = try_child(&spec("w3setup", &name, json!({"n": n})));
        let resumed = setup.and_then(|setup| {
            try_child(&spec(
                "resume_cli",
                &name,
                json!({"n": n, "run_id": setup["run_id"]}),
            ))
        });
        row(
            "L3",
            format!("`cairn resume` of a {n}-step pipeline at half"),
            &resumed,
            &|v| {
                format!(
                    "first new step {:.0} ms after the spawn; CPU {:.1} s",
                    v["first_ms"].as_f64().unwrap_or(f64::NAN),
                    v["cpu_secs"].as_f64().unwrap_or(f64::NAN)
                )
            },
        );
        firsts.push(resumed.ok().and_then(|v| v["first_ms"].as_f64()));
    }
    let n = sizes.resume[1];
    for command in ["validate", "run"] {
        let name = format!("l4-{command}");
        // A check is quick and alone on the machine: the median of five. A run is one.
        let times = if command == "validate" { 5 } else { 1 };
        let result = try_child(&spec(
            "cli_file",
            &name,
            json!({"n": n, "command": command, "times": times}),
        ));
        row(
            "L4",
            format!("`cairn {command}` of the {n}-step pipeline's file"),
            &result,
            &|_| match times {
                1 => String::new(),
                _ => format!("the median of {times} processes"),
            },
        );
    }
    let (steps, bytes) = sizes.big_outputs;
    for command in ["run", "show", "show --json"] {
        let result = try_child(&spec(
            "big_outputs",
            "l5",
            json!({"n": steps, "bytes": bytes, "command": command}),
        ));
        row(
            "L5",
            format!("`cairn {command}`, {steps} steps of {bytes}-byte outputs"),
            &result,
            &|_| String::new(),
        );
    }
    let result = try_child(&spec(
        "big_outputs",
        "l5-sinks",
        json!({"n": steps, "bytes": bytes, "command": "run", "sinks": true}),
    ));
    row(
        "L5",
        format!(
            "`cairn run`, {steps} steps of {bytes}-byte outputs, no join: the run's output is all of them"
        ),
        &result,
        &|_| String::new(),
    );
    if let [Some(small), Some(big)] = firsts.as_slice() {
        println!(
            "\nL3: the first new step of the {}-step resume came {:.1}× later than the {}-step one's.",
            sizes.resume[1],
            big / small,
            sizes.resume[0]
        );
    }
}

fn secs(value: &Value) -> f64 {
    value["secs"].as_f64().unwrap_or(f64::NAN)
}

/// L1: an `n`-step pipeline, run for at most [`BUDGET`]. The peak RSS includes loading.
pub(crate) async fn pipeline_run(db: &Path, n: usize) -> Value {
    let engine = open(db, Durability::Normal).await;
    let started = Instant::now();
    let plan = plan(&pipeline(n), engine.executors());
    let load_secs = started.elapsed().as_secs_f64();
    let load_rss_kib = peak_rss_kib();
    let started = Instant::now();
    let handle = engine.start(plan, json!({})).await.expect("start");
    let run_id = handle.id();
    let stop = engine.clone();
    let budget = tokio::spawn(async move {
        tokio::time::sleep(BUDGET).await;
        stop.shutdown();
    });
    let report = handle.wait().await.expect("wait");
    let secs = started.elapsed().as_secs_f64();
    budget.abort();
    let finished = report.state == RunState::Succeeded;
    let count = if finished {
        n
    } else {
        let steps = engine.store().steps(run_id).await.expect("steps");
        steps.iter().filter(|step| step.state.is_terminal()).count()
    };
    json!({"count": count, "secs": secs, "finished": finished, "rss_kib": peak_rss_kib(),
           "load_secs": load_secs, "load_rss_kib": load_rss_kib})
}

/// L4: `cairn COMMAND FILE` (`validate` or `run`) of the `n`-step pipeline written to a
/// file, `times` times, each a process of its own: the median wall time and the peak RSS.
pub(crate) fn cli_on_file(db: &Path, n: usize, command: &str, times: usize) -> Value {
    let file = db.with_extension("json");
    std::fs::write(&file, pipeline(n)).expect("write the workflow");
    let file = file.display().to_string();
    let walls = (0..times).map(|_| cairn_quietly(db, &[command, &file]));
    json!({"count": n, "secs": median_ms(walls.collect()) / 1000.0, "times": times,
           "rss_kib": children_peak_rss_kib()})
}

/// Runs `cairn --db DB ARGS`, its output discarded, and checks that it succeeded: how long
/// it took.
fn cairn_quietly(db: &Path, args: &[&str]) -> Duration {
    let started = Instant::now();
    let status = Command::new(CAIRN)
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("cairn");
    assert!(status.success(), "cairn {args:?} failed: {status}");
    started.elapsed()
}

/// L5: `cairn COMMAND` on the database `db` of a fan-out of `n` steps that each output
/// `bytes` of the run's input, joined by a step that reads none of them (with `sinks`, not
/// joined: each step is a sink, and the run's output all of theirs, under a cap made big
/// enough for it): `run` runs it (once),
/// `show` and `show --json` print the run it left. Wall time and peak RSS.
pub(crate) fn big_outputs(db: &Path, n: usize, bytes: usize, command: &str, sinks: bool) -> Value {
    let mut args: Vec<String> = command.split(' ').map(str::to_owned).collect();
    if command == "run" {
        let steps: Vec<Value> = (0..n)
            .map(|i| json!({"id": format!("s{i}"), "executor": "noop", "with": {"output": "${{ input.big }}"}}))
            .chain((!sinks).then(|| json!({"id": "join", "executor": "noop",
                           "needs": (0..n).map(|i| format!("s{i}")).collect::<Vec<_>>()})))
            .collect();
        let (file, input) = (db.with_extension("json"), db.with_extension("input.json"));
        let workflow = json!({"name": "big-outputs", "steps": steps});
        std::fs::write(&file, workflow.to_string()).expect("write the workflow");
        std::fs::write(&input, json!({"big": "x".repeat(bytes)}).to_string()).expect("input");
        args.extend(["--input-file".into(), input.display().to_string()]);
        if sinks {
            // The run's output, all of theirs, is held to the cap on a step's output too.
            let cap = n * (bytes + 64);
            args.extend(["--max-output".into(), cap.to_string()]);
        }
        args.push(file.display().to_string());
    } else {
        let look = rusqlite::Connection::open(db).expect("open");
        let run: String = (look.query_row("SELECT id FROM runs", [], |row| row.get(0)))
            .expect("the run L5's `run` left");
        args.push(run);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let wall = cairn_quietly(db, &args);
    json!({"count": n, "secs": wall.as_secs_f64(), "rss_kib": children_peak_rss_kib()})
}

/// L3: `cairn resume RUN` of the `n`-step pipeline `run_id`, stopped halfway; the first new
/// step is seen by polling the database.
pub(crate) fn resume_through_cli(db: &Path, run_id: &str, n: usize) -> Value {
    let look = rusqlite::Connection::open(db).expect("open");
    let query = |sql: &str| -> i64 { look.query_row(sql, [run_id], |row| row.get(0)).expect(sql) };
    let done = query("SELECT count(*) FROM steps WHERE run_id = ?1 AND state = 'succeeded'");
    let last_seq = query("SELECT max(seq) FROM events WHERE run_id = ?1");
    let mut first_new = look
        .prepare(
            "SELECT count(*) FROM events WHERE run_id = ?1 AND seq > ?2 AND step_id IS NOT NULL
             AND to_state = 'running'",
        )
        .expect("prepare");
    let cpu_before = children_cpu();
    let started = Instant::now();
    let mut child = Command::new(CAIRN)
        .arg("--db")
        .arg(db)
        .args(["resume", run_id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cairn resume");
    let mut first_ms = None;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if first_ms.is_none() {
            let seen: i64 = first_new
                .query_row(rusqlite::params![run_id, last_seq], |row| row.get(0))
                .expect("poll");
            if seen > 0 {
                first_ms = Some(ms(started));
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let secs = started.elapsed().as_secs_f64();
    assert!(status.success(), "cairn resume failed: {status}");
    let state: String = look
        .query_row("SELECT state FROM runs WHERE id = ?1", [run_id], |row| {
            row.get(0)
        })
        .expect("the run");
    assert_eq!(state, "succeeded");
    json!({"count": n as i64 - done, "secs": secs, "first_ms": first_ms,
           "cpu_secs": (children_cpu() - cpu_before).as_secs_f64(),
           "rss_kib": children_peak_rss_kib()})
}
