//! C: the store's commit path alone, without the scheduler: the batches a noop pipeline
//! commits (a step's output with its `succeeded`, the next step `ready` then `running`),
//! one commit per step, straight through `Store::commit`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_engine::store::{
    Batch, NewRun, RunTransition, SqliteStore, StepTransition, Store, StoreOptions, Transition,
};
use cairn_engine::{Durability, LeaseHolder, RunState, SharedJson, StepState, Uuid};
use serde_json::{Value, json};

use crate::{peak_rss_kib, reset_peak_rss};

/// `n` commits of a pipeline's batches into a run of `n + 1` steps.
pub(crate) async fn pipeline_commits(db: &Path, durability: Durability, n: usize) -> Value {
    let mut options = StoreOptions::new(db);
    options.durability = durability;
    let store = SqliteStore::open(&options).await.expect("open the store");
    let holder = LeaseHolder {
        owner: "bench".into(),
        host: "bench".into(),
        pid: std::process::id(),
        pid_start: 0,
    };
    let run_id = Uuid::now_v7();
    let run = NewRun {
        id: run_id,
        workflow_name: "commits".into(),
        definition: "{}".into(),
        input: "{}".to_owned().into(),
        guard: None,
        steps: (0..=n).map(|i| format!("s{i}").into()).collect(),
        max_output_bytes: cairn_engine::DEFAULT_MAX_OUTPUT_BYTES,
        cwd: None,
    };
    let mut first = Batch::new();
    let start = RunTransition::new(run_id, RunState::Pending, RunState::Running);
    push(&mut first, Transition::Run(start));
    start_step(&mut first, run_id, 0);
    let ttl = Duration::from_secs(3600);
    let created = store.create_run(&run, &holder, ttl, first).await;
    created.expect("create the run");
    reset_peak_rss();
    let started = Instant::now();
    for i in 0..n {
        let mut batch = Batch::new();
        let mut done = StepTransition::new(
            run_id,
            format!("s{i}"),
            StepState::Running,
            StepState::Succeeded,
        );
        done.attempt = 1;
        done.output = Some(Arc::new(SharedJson::new(json!({ format!("s{i}"): i }))));
        push(&mut batch, Transition::Step(done));
        start_step(&mut batch, run_id, i + 1);
        store.commit(&holder.owner, batch).await.expect("commit");
    }
    let secs = started.elapsed().as_secs_f64();
    json!({"count": n, "secs": secs, "rss_kib": peak_rss_kib()})
}

/// Moves step `s{i}` from `pending` through `ready` to its first attempt, `running`.
fn start_step(batch: &mut Batch, run_id: Uuid, i: usize) {
    let step = format!("s{i}");
    let ready = StepTransition::new(run_id, &step, StepState::Pending, StepState::Ready);
    push(batch, Transition::Step(ready));
    let mut running = StepTransition::new(run_id, step, StepState::Ready, StepState::Running);
    running.attempt = 1;
    push(batch, Transition::Step(running));
}

fn push(batch: &mut Batch, transition: Transition) {
    batch.push(transition).expect("a legal transition");
}
