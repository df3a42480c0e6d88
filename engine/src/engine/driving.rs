//! The runs an engine drives, and its one watch on the store for the commands other
//! processes send them.
//!
//! Each run's driver used to look for its own commands once a second: a query a second for
//! every run, however idle — 2,000 runs waiting on long steps kept a fifth of a core busy.
//! Now the engine looks once a second for all of them ([`Store::runs_with_commands`], which
//! reads only the commands not handled yet), and rings the bell of each run it drives that
//! has some; that driver then reads its commands as before. The watch runs while the engine
//! drives a run and stops with the last one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::{Instant, interval_at};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::store::Store;

/// How often the engine looks for commands sent to the runs it drives.
const COMMAND_POLL: Duration = Duration::from_secs(1);

/// The runs an engine drives now, each with the bell its driver listens to for commands.
#[derive(Debug, Default)]
pub(super) struct Driving {
    /// The bell of each run driven, by run.
    bells: HashMap<Uuid, Arc<Notify>>,
    /// Whether the watch on the store's commands runs (it stops when no run is left).
    watching: bool,
}

/// What the engine shares of the runs it drives.
pub(super) type SharedDriving = Arc<Mutex<Driving>>;

fn lock(driving: &SharedDriving) -> MutexGuard<'_, Driving> {
    driving.lock().unwrap_or_else(|e| e.into_inner())
}

/// Marks `run_id` as driven until the returned claim is dropped (refused if it is already),
/// and starts the watch on the commands if it is not running.
pub(super) fn claim(
    driving: &SharedDriving,
    store: &Arc<dyn Store>,
    run_id: Uuid,
) -> Result<Claim> {
    let mut driven = lock(driving);
    if driven.bells.contains_key(&run_id) {
        return Err(Error::AlreadyDriving(run_id));
    }
    let bell = Arc::new(Notify::new());
    driven.bells.insert(run_id, Arc::clone(&bell));
    if !driven.watching {
        driven.watching = true;
        tokio::spawn(watch(Arc::clone(driving), Arc::clone(store)));
    }
    Ok(Claim {
        driving: Arc::clone(driving),
        run_id,
        bell,
    })
}

/// Tells the driver of `run_id`, if this engine drives it, to read its commands now.
pub(super) fn ring(driving: &SharedDriving, run_id: Uuid) {
    if let Some(bell) = lock(driving).bells.get(&run_id) {
        bell.notify_one();
    }
}

/// Once a second while any run is driven: rings the bell of each that has commands.
async fn watch(driving: SharedDriving, store: Arc<dyn Store>) {
    let mut ticks = interval_at(Instant::now() + COMMAND_POLL, COMMAND_POLL);
    loop {
        ticks.tick().await;
        {
            let mut driven = lock(&driving);
            if driven.bells.is_empty() {
                driven.watching = false;
                return;
            }
        }
        match store.runs_with_commands().await {
            Ok(commanded) => commanded.into_iter().for_each(|run| ring(&driving, run)),
            Err(error) => tracing::warn!(%error, "could not look for commands"),
        }
    }
}

/// A run marked as driven by this engine; unmarked when dropped.
#[derive(Debug)]
pub(super) struct Claim {
    driving: SharedDriving,
    run_id: Uuid,
    bell: Arc<Notify>,
}

impl Claim {
    /// The bell rung when the run has commands to read.
    pub(super) fn bell(&self) -> Arc<Notify> {
        Arc::clone(&self.bell)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        lock(&self.driving).bells.remove(&self.run_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, Request};
    use crate::store::MemoryStore;
    use crate::store::conformance::started;

    fn watching(driving: &SharedDriving) -> bool {
        lock(driving).watching
    }

    /// Waits for the bell of `claim`, for a few of the watch's looks at most.
    async fn rung(claim: &Claim) {
        let bell = claim.bell();
        let waited = tokio::time::timeout(COMMAND_POLL * 3, bell.notified()).await;
        assert!(waited.is_ok(), "the bell of {} never rang", claim.run_id);
    }

    /// One look at the store for every run driven: the run sent a command hears its bell,
    /// the other does not; the watch stops with the last run and starts with the next.
    #[tokio::test(start_paused = true)]
    async fn the_watch_rings_the_runs_that_have_commands_and_stops_with_the_last_run() {
        let memory = Arc::new(MemoryStore::new());
        let store: Arc<dyn Store> = memory.clone();
        let (commanded, quiet) = (started(&*memory, "me").await, started(&*memory, "me").await);
        let driving = SharedDriving::default();
        let a = claim(&driving, &store, commanded).unwrap();
        let b = claim(&driving, &store, quiet).unwrap();
        assert!(matches!(
            claim(&driving, &store, quiet),
            Err(Error::AlreadyDriving(run)) if run == quiet
        ));
        let pause = Command::Pause(Request {
            by: "ann".into(),
            reason: None,
        });
        store.send_command(commanded, &pause).await.unwrap();
        // The paused clock runs on to the watch's next look: no wall-clock time passes.
        rung(&a).await;
        let (a_bell, b_bell) = (a.bell(), b.bell());
        assert!(futures::poll!(std::pin::pin!(a_bell.notified())).is_pending());
        assert!(
            futures::poll!(std::pin::pin!(b_bell.notified())).is_pending(),
            "a run without commands is left alone"
        );

        drop((a, b));
        assert!(watching(&driving));
        tokio::time::sleep(COMMAND_POLL * 2).await;
        assert!(!watching(&driving), "no run left to watch for");
        let again = claim(&driving, &store, commanded).unwrap();
        assert!(watching(&driving));
        rung(&again).await;
    }
}
