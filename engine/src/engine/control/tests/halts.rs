//! A pause the store's write refuses though the run looked pausable when read: refused
//! with the reason, the store unchanged; and a retry of a run a live engine drives.

use super::*;

#[tokio::test]
async fn a_pause_behind_a_pending_pause_or_cancel_is_refused_and_records_nothing() {
    let request = |by: &str| Request::new(by, None);
    for (earlier, says, carried) in [
        (
            Command::Pause(request("bob")),
            "a pause of the run, by bob, is pending already",
            "the next recovery carries it out, and a resume overrules it",
        ),
        (
            Command::Cancel(request("bob")),
            "a cancel of the run, by bob, is pending already",
            "the next to take it over (a resume, a recovery) carries it out",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let run = undriven(dir.path()).await;
        let engine = hanging_engine(dir.path(), &Arc::new(Hangs::default())).await;
        // Recorded by another process that has not carried it out yet (it is about to).
        engine.store().send_command(run, &earlier).await.unwrap();
        let sent = engine
            .send(&run.to_string(), Command::Pause(request("ann")))
            .await;
        match sent {
            Err(Error::Refused { message, .. }) => {
                assert!(message.starts_with(says), "{message}");
                // No engine drives it: the message names the command that carries it out
                // (probe 39 F3: a resume overrules a person's pause, and was said to carry it
                // out).
                assert!(message.contains(carried), "{message}");
            }
            other => panic!("{} not refused: {other:?}", earlier.kind()),
        }
        let pending = engine.store().pending_commands(run).await.unwrap();
        let commands: Vec<&Command> = pending.iter().map(|sent| &sent.command).collect();
        assert_eq!(commands, [&earlier], "nothing recorded");
        let record = engine.store().find_run(&run.to_string()).await.unwrap();
        assert_eq!(record.state, RunState::Running, "nothing carried out");
    }
}

/// A retry of a run a live engine drives says so, rather than advising `cairn resume`,
/// which is refused too.
#[tokio::test]
async fn a_retry_of_a_driven_run_says_a_live_engine_drives_it() {
    let dir = tempfile::tempdir().unwrap();
    let gate = Arc::new(Gate::default());
    let steps = json!([{"id": "a", "executor": "gate"}]);
    let (engine, handle) = start_gated(dir.path(), &gate, steps).await;
    gate.started.notified().await;
    let message = match engine.retry(&handle.id().to_string(), None).await {
        Err(Error::Refused { message, .. }) => message,
        other => panic!("not refused: {other:?}"),
    };
    let pid = std::process::id();
    assert!(
        message.ends_with(&format!(
            "(a live engine drives it: pid {pid} on {})",
            lease::this_process().host
        )),
        "{message}"
    );
    gate.open.notify_one();
    assert_eq!(handle.wait().await.unwrap().state, RunState::Succeeded);
}
