//! The shell reads the signs of life before it judges a heartbeat, whichever event woke it:
//! an attempt that talked while a commit waited on the store is not stalled; and it dates
//! each sign when it came, not when it read it.

use std::sync::Mutex;

use super::*;
use crate::store::held::Held;

/// Hands the test its attempt's signs of life and stop, then runs until the test lets it
/// go (or it is stopped).
#[derive(Debug, Default)]
struct Talks {
    ctx: Mutex<Option<(Progress, CancellationToken)>>,
    started: Notify,
    go: Notify,
}

#[async_trait]
impl Executor for Talks {
    async fn execute(&self, _action: &Action, ctx: ExecContext) -> Outcome {
        *self.ctx.lock().unwrap() = Some((ctx.progress.clone(), ctx.cancel.clone()));
        self.started.notify_one();
        tokio::select! {
            () = self.go.notified() => Outcome::success(json!("talked")),
            () = ctx.cancel.cancelled() => Outcome::failure(ErrorClass::Cancelled, "cancelled"),
        }
    }
}

/// Waits until the wall clock, by which the ledger judges a heartbeat, shows `at`.
async fn until_wall_clock(at: DateTime<Utc>) {
    while let Ok(left) = (at - Utc::now()).to_std() {
        tokio::time::sleep(left).await;
    }
}

#[tokio::test]
async fn an_attempt_that_talked_while_a_commit_waited_is_not_stalled() {
    let store = Arc::new(Held::default());
    let (talks, gated) = (Arc::new(Talks::default()), Arc::new(Gated::default()));
    let engine = Engine::builder_with_store(store.clone())
        .executor("talks", talks.clone())
        .executor("gated", gated.clone())
        .open()
        .await
        .unwrap();
    // Wide enough that the setup before `a` talks never outlasts half of it, even on a
    // loaded box.
    let heartbeat = chrono::TimeDelta::seconds(4);
    let workflow = json!({"name": "s", "steps": [
        {"id": "a", "executor": "talks", "heartbeat": "4s", "on_stall": "fail"},
        {"id": "b", "executor": "gated"},
        {"id": "c", "executor": "gated"}
    ]});
    let plan = engine.load_str(&workflow.to_string(), "s.json").unwrap();
    let handle = engine.start(plan, json!({})).await.unwrap();
    talks.started.notified().await;
    let started = Utc::now();
    let (progress, stop) = talks.ctx.lock().unwrap().clone().unwrap();
    while gated.calls.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        gated.started.notified().await;
    }
    // One of b and c ends: the driver's commit of it waits, as on another's lock.
    store.hold();
    gated.go.notify_one();
    store.waiting.notified().await;
    // Meanwhile the other ends (its end is queued for the driver), `a` talks half way
    // through its heartbeat's window, and the window counted from its start runs out (the
    // one from its sign has half of it left).
    gated.go.notify_one();
    until_wall_clock(started + heartbeat / 2).await;
    progress.report();
    until_wall_clock(started + heartbeat).await;
    // The commit goes; the driver takes the queued end first, and commits its turn.
    store.go.notify_one();
    store.waiting.notified().await;
    assert!(
        !stop.is_cancelled(),
        "a was stalled though it talked while the commit waited"
    );
    store.release();
    talks.go.notify_one();
    handle.wait().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_heartbeat_counts_from_the_last_sign_when_it_came_not_when_the_driver_read_it() {
    let engine = Engine::builder_with_store(Arc::new(MemoryStore::new()))
        .executor("chatty", Arc::new(Chatty))
        .open()
        .await
        .unwrap();
    // Signs at 0 and 100 ms, then silence: stalled 1 s after the second sign, before the
    // time limit. Probe 204 F1: the second sign, read with the driver's next poll a second
    // after the first, was dated then, and the step timed out instead.
    let workflow = json!({"name": "h", "steps": [{
        "id": "a", "executor": "chatty", "heartbeat": "1s", "timeout": "1700ms",
        "on_stall": "fail", "with": {"for_ms": 150, "quiet_ms": 10_000}
    }]});
    let report = run_to_end(&engine, &workflow).await;
    assert_eq!(report.error_class, Some(ErrorClass::Stalled), "{report:?}");
}
