//! A run's lease held by another process only to carry out a pause or a cancel: a takeover
//! waits for it, takes the run as it stands then, and a drain ends the wait.

use super::*;

/// A resume that finds the lease of a run no engine drives held by another process carrying
/// out a cancel waits for it, instead of refusing the run as driven, and finds it cancelled.
#[tokio::test]
async fn a_resume_waits_for_a_cancel_being_carried_out_and_finds_the_run_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let hangs = Arc::new(Hangs::default());
    let run = undriven(dir.path()).await;
    let resumer = hanging_engine(dir.path(), &hangs).await;
    let canceller = hanging_engine(dir.path(), &hangs).await;
    // The canceller has taken the lease to carry out its cancel (which it records below).
    let (resume, _log) = waiting_for_commands(&canceller, run, async move {
        resumer.resume(&run.to_string()).await
    })
    .await;
    let cancel = Command::Cancel(Request::new("ann", None));
    canceller.send(&run.to_string(), cancel).await.unwrap();
    match resume.await.unwrap() {
        Err(Error::Finished(report)) => assert_eq!(report.state, RunState::Cancelled),
        other => panic!("not found cancelled: {other:?}"),
    }
    let record = canceller.store().find_run(&run.to_string()).await.unwrap();
    assert_eq!(record.lease, None, "the resume gave the lease back");
}

/// Has `holder` take the lease of `run` only to carry out commands, spawns `resume` (a
/// takeover of `run` by another engine), and returns it once it says it waits for that lease.
async fn waiting_for_commands<T: Send + 'static>(
    holder: &Engine,
    run: Uuid,
    resume: impl Future<Output = T> + Send + 'static,
) -> (
    tokio::task::JoinHandle<T>,
    tracing::subscriber::DefaultGuard,
) {
    let applying = holder.inner.holder.applying_commands();
    let ttl = Duration::from_secs(30);
    let taken = (holder.store()).acquire_lease(run, &applying, ttl, &|_| false);
    assert_eq!(taken.await.unwrap(), LeaseAttempt::Acquired);
    let heard = Arc::new(Notify::new());
    let log = tracing::subscriber::set_default(Hears {
        what: "waiting for pid",
        heard: Arc::clone(&heard),
    });
    let mut resume = tokio::spawn(resume);
    tokio::select! {
        () = heard.notified() => {}
        _ = &mut resume => panic!("the resume did not wait"),
    }
    (resume, log)
}

/// A pause carried out while a takeover waits for the lease taken to carry it out: a plain
/// resume continues the run (a person's "continue" now), a `resume_waiting` leaves it paused
/// (its "continue" was asked before the pause was carried out).
#[tokio::test]
async fn a_pause_carried_out_while_a_resume_waits_for_its_lease_holds_only_for_resume_waiting() {
    let pause = || Command::Pause(Request::new("ann", None));
    for waiting in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let hangs = Arc::new(Hangs::default());
        let run = undriven(dir.path()).await;
        let resumer = hanging_engine(dir.path(), &hangs).await;
        let pauser = hanging_engine(dir.path(), &hangs).await;
        let resuming = resumer.clone();
        let (resume, _log) = waiting_for_commands(&pauser, run, async move {
            match waiting {
                true => resuming.resume_waiting(&run.to_string()).await,
                false => resuming.resume(&run.to_string()).await,
            }
        })
        .await;
        pauser.send(&run.to_string(), pause()).await.unwrap();
        let resumed = resume.await.unwrap();
        let record = pauser.store().find_run(&run.to_string()).await.unwrap();
        match resumed {
            Err(Error::PausedSince { .. }) if waiting => {
                assert_eq!(record.state, RunState::Paused);
                assert_eq!(record.lease, None, "the lease given back");
            }
            Ok(handle) if !waiting => {
                hangs.started.notified().await;
                assert_eq!(record.state, RunState::Running);
                resumer.shutdown();
                assert_eq!(handle.wait().await.unwrap().state, RunState::Running);
            }
            other => panic!("waiting {waiting}: {other:?}"),
        }
    }
}

/// An engine that drains while a resume waits for a lease held to carry out a command ends
/// the wait: the resume is refused ([`Error::ShutDown`]), nothing written to the run. It
/// waited on to the lease's expiry, then took the run over and started its step.
#[tokio::test]
async fn a_drain_ends_the_wait_for_a_lease_held_to_carry_out_a_command() {
    let dir = tempfile::tempdir().unwrap();
    let hangs = Arc::new(Hangs::default());
    let run = undriven(dir.path()).await;
    let resumer = hanging_engine(dir.path(), &hangs).await;
    let holder = hanging_engine(dir.path(), &hangs).await;
    let before = holder.history(&run.to_string()).await.unwrap().len();
    let resuming = resumer.clone();
    let (resume, _log) = waiting_for_commands(&holder, run, async move {
        resuming.resume(&run.to_string()).await
    })
    .await;
    resumer.drain();
    match resume.await.unwrap() {
        Err(Error::ShutDown) => {}
        other => panic!("not refused as drained: {other:?}"),
    }
    let record = holder.store().find_run(&run.to_string()).await.unwrap();
    let owner = record.lease.map(|lease| lease.holder.owner);
    assert!(
        owner.unwrap().starts_with("commands:"),
        "its lease untouched"
    );
    assert_eq!(
        holder.history(&run.to_string()).await.unwrap().len(),
        before
    );
    // Drained before it looks at the lease: refused the same, at once.
    let refused = resumer.resume(&run.to_string()).await;
    assert!(matches!(refused, Err(Error::ShutDown)), "{refused:?}");
}
