//! Redrives a crash cut short, carried on by the next retry.

use super::*;

/// Makes every later commit of run `run` in the database in `dir` that records an event
/// of `detail` numbered after `after` fail: a crash of the engine at that commit, as
/// the store sees it. Returns the connection that undoes it.
fn fail_commits(dir: &Path, run: Uuid, detail: &str, after: usize) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.join("cairn.db")).unwrap();
    let trigger = format!(
        "CREATE TRIGGER crash BEFORE INSERT ON events
         WHEN NEW.run_id = '{run}' AND NEW.detail = '{detail}' AND NEW.seq > {after}
         BEGIN SELECT RAISE(ABORT, 'crashed'); END"
    );
    conn.execute_batch(&trigger).unwrap();
    conn
}

/// The attempts of the steps of `run`, by step.
async fn attempts(engine: &Engine, run: Uuid) -> BTreeMap<String, u32> {
    let steps = engine.store().steps(run).await.unwrap();
    (steps.into_iter().map(|step| (step.id, step.attempt))).collect()
}

/// Retries `run` to its end, which must be a success; each step's attempt then.
async fn retried_to_success(engine: &Engine, run: Uuid) -> BTreeMap<String, u32> {
    let handle = engine.retry(&run.to_string(), None).await.unwrap();
    assert_eq!(handle.wait().await.unwrap().state, RunState::Succeeded);
    attempts(engine, run).await
}

#[tokio::test]
async fn a_redrive_interrupted_between_two_batches_is_carried_on_by_the_next_retry() {
    let dir = tempfile::tempdir().unwrap();
    let executor = Arc::new(Ordered::default());
    let mut steps = vec![
        json!({"id": "pre", "executor": "t"}),
        json!({"id": "bad", "executor": "t", "needs": ["pre"], "with": {"fail": true}}),
    ];
    steps.extend(
        (0..4200).map(|i| json!({"id": format!("s{i}"), "executor": "t", "needs": ["pre"]})),
    );
    let (engine, run) = failed_on_sqlite(dir.path(), steps, &executor).await;
    let events = engine.store().history(run).await.unwrap().len();
    // The redrive's second batch of steps sent back fails: 4,096 are pending, the rest
    // still succeeded with their outputs of before, the run failed.
    let reason = r#"{"reason":"the run was redriven from pre"}"#;
    let undo = fail_commits(dir.path(), run, reason, events + 4096);
    let handle = engine.retry(&run.to_string(), Some("pre")).await.unwrap();
    handle.wait().await.unwrap_err();
    let record = engine.store().find_run(&run.to_string()).await.unwrap();
    assert_eq!(record.state, RunState::Failed);
    let steps = engine.store().steps(run).await.unwrap();
    let pending = steps.iter().filter(|step| step.state == StepState::Pending);
    assert_eq!(pending.count(), 4096);
    undo.execute_batch("DROP TRIGGER crash").unwrap();

    let attempts = retried_to_success(&engine, run).await;
    let again = attempts.values().filter(|&&attempt| attempt == 2).count();
    assert_eq!(
        again,
        attempts.len(),
        "every step downstream of pre ran again"
    );
    assert_eq!(engine.store().redrive_from(run).await.unwrap(), None);
    assert_eq!(redriven_from(&engine, run).await, "pre");
}

#[tokio::test]
async fn a_redrive_interrupted_after_its_supersession_reruns_the_planners_dependents() {
    let dir = tempfile::tempdir().unwrap();
    let executor = Arc::new(Ordered::default());
    let steps = vec![
        json!({"id": "gen", "executor": "t", "planner": true, "with": {"plan": true}}),
        json!({"id": "report", "executor": "t", "needs": ["gen"]}),
        json!({"id": "bad", "executor": "t", "needs": ["gen"], "with": {"fail": true}}),
    ];
    let (engine, run) = failed_on_sqlite(dir.path(), steps, &executor).await;
    // The commit after the supersession fails: gen is pending, report succeeded.
    let reason = r#"{"reason":"the run was redriven from gen"}"#;
    let undo = fail_commits(dir.path(), run, reason, 0);
    let refused = engine.retry(&run.to_string(), Some("gen")).await;
    assert!(refused.is_err(), "the first batch failed");
    let record = engine.store().find_run(&run.to_string()).await.unwrap();
    assert_eq!(record.state, RunState::Failed);
    let gen_step = engine.store().step(run, "gen").await.unwrap().unwrap();
    assert_eq!(gen_step.state, StepState::Pending);
    undo.execute_batch("DROP TRIGGER crash").unwrap();

    let attempts = retried_to_success(&engine, run).await;
    assert_eq!(attempts["report"], 2, "{attempts:?}");
    let steps = engine.store().steps(run).await.unwrap();
    let ran = |id: &str| {
        let step = steps.iter().find(|step| step.id == id).unwrap();
        step.output.as_ref().unwrap()["n"].as_u64().unwrap()
    };
    assert!(
        ran("gen.x") < ran("report"),
        "the new plan runs before report"
    );
}

/// Records a redrive of `run` from `from` as a crash would have left it: committed by
/// an engine that is gone.
async fn interrupted(engine: &Engine, run: Uuid, from: &str) {
    let store = engine.store();
    let gone = LeaseHolder {
        owner: "gone".into(),
        ..lease::this_process()
    };
    let ttl = Duration::from_secs(60);
    let taken = store.acquire_lease(run, &gone, ttl, &|_| false);
    assert_eq!(taken.await.unwrap(), LeaseAttempt::Acquired);
    let mut first = Batch::new();
    first.record_redrive(run, from);
    store.commit("gone", first).await.unwrap();
    store.release_lease(run, "gone").await.unwrap();
}

/// The step the last redrive of `run` ran from.
async fn redriven_from(engine: &Engine, run: Uuid) -> serde_json::Value {
    let history = engine.store().history(run).await.unwrap();
    let redrive = (history.iter().rev()).find_map(|event| event.detail.as_ref()?.get("redrive"));
    redrive.unwrap()["from"].clone()
}

#[tokio::test]
async fn another_from_than_the_interrupted_one_redrives_from_the_upstream_one_or_is_refused() {
    let engine = Engine::builder_with_store(Arc::new(MemoryStore::new()))
        .executor("fails", Arc::new(FailsWhenAsked))
        .open()
        .await
        .unwrap();
    let workflow = json!({"name": "w", "steps": [
        {"id": "a", "executor": "fails", "with": {"fail": true}},
        {"id": "b", "executor": "fails"},
        {"id": "c", "executor": "fails", "needs": ["b"]},
        {"id": "d", "executor": "fails"},
    ]});
    let plan = engine.load_str(&workflow.to_string(), "w.json").unwrap();
    let report = engine.start(plan, json!({})).await.unwrap().wait().await;
    let run = report.unwrap().id;
    let store = engine.store();
    interrupted(&engine, run, "b").await;
    // Neither upstream nor downstream of b: refused, the store left as it was.
    let refused = engine.retry(&run.to_string(), Some("d")).await;
    let Err(Error::Refused { message, .. }) = refused else {
        panic!("not refused: {refused:?}");
    };
    assert!(
        message.starts_with("a redrive from `b` was interrupted"),
        "{message}"
    );
    assert_eq!(store.redrive_from(run).await.unwrap().as_deref(), Some("b"));
    assert!(
        store
            .find_run(&run.to_string())
            .await
            .unwrap()
            .lease
            .is_none()
    );
    // Downstream of b: b's redrive covers it.
    let report = engine
        .retry(&run.to_string(), Some("c"))
        .await
        .unwrap()
        .wait()
        .await;
    assert_eq!(report.unwrap().state, RunState::Failed, "a still fails");
    assert_eq!(redriven_from(&engine, run).await, "b");
    assert_eq!(store.redrive_from(run).await.unwrap(), None);
    // Upstream of c: its redrive covers c's.
    interrupted(&engine, run, "c").await;
    let report = engine
        .retry(&run.to_string(), Some("b"))
        .await
        .unwrap()
        .wait()
        .await;
    assert_eq!(report.unwrap().state, RunState::Failed);
    assert_eq!(redriven_from(&engine, run).await, "b");
    assert_eq!(store.step(run, "b").await.unwrap().unwrap().attempt, 3);
}
