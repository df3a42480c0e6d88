//! The runs an engine drives, and its one watch on the store for them: the commands other
//! processes send them, and the heartbeat that renews their leases.
//!
//! Each run's driver used to look for its own commands once a second, and to renew its own
//! lease: a query a second and a wake-up every few seconds for every run, however idle —
//! 2,000 runs waiting on long steps kept a fifth of a core busy. Now the engine looks once a
//! second for all of them ([`Store::runs_with_commands`], which reads only the commands not
//! handled yet), and rings the bell of each run it drives that has some; that driver then
//! reads its commands as before. And every third of the lease's time to live its lease
//! keeper renews the leases of all the runs it drives at once (the store's writer commits
//! the renewals waiting together in shared transactions), and tells a driver whose lease is
//! gone (another engine took the run over) or could not be renewed: that driver stops. The
//! keeper is a thread of its own: a lease says the engine lives, and work that holds the
//! runtime's thread a while (a turn judging many actions under slow rules, 45 s in probe 11
//! of stop 55) let the leases lapse while the engine lived, and another engine took a run
//! over and ran a finished step again. The watch and the keeper run while the engine
//! drives a run and stop with the last one.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::time::{Instant, interval_at};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::store::Store;

/// How often the engine looks for commands sent to the runs it drives.
const COMMAND_POLL: Duration = Duration::from_secs(1);

/// The runs an engine drives now, as its watch knows them.
#[derive(Debug)]
pub(super) struct Driving {
    /// Each run driven, by id.
    runs: HashMap<Uuid, Driven>,
    /// Whether the watch runs (it stops when no run is left).
    watching: bool,
    /// Whether the lease keeper runs (it stops when no run is left).
    keeping: bool,
    /// The engine's leases, as the watch renews them.
    heartbeat: Heartbeat,
    /// How many leases the renewals have found lost, ever: a renewal out of turn
    /// ([`renew_now`]) also sees those the keeper found since its caller's mark.
    losses: u64,
}

/// A run this engine drives.
#[derive(Debug)]
struct Driven {
    /// Rung when the run has commands to read.
    bell: Arc<Notify>,
    /// Where the heartbeat tells the driver why its lease is gone: `None` until the driver
    /// asks ([`Claim::heartbeat`], once its run's first commit holds a lease), and once told.
    lease: Option<oneshot::Sender<Error>>,
    /// Until when the lease surely holds: from the last renewal asked (or its taking, when
    /// known) for the leases' time to live.
    held_until: Option<std::time::Instant>,
}

/// Whose leases the heartbeat renews, where, and for how long.
#[derive(Debug, Clone)]
pub(super) struct Heartbeat {
    pub(super) store: Arc<dyn Store>,
    pub(super) owner: String,
    pub(super) ttl: Duration,
}

/// What the engine shares of the runs it drives.
pub(super) type SharedDriving = Arc<Mutex<Driving>>;

/// An engine's registry of the runs it drives, none yet, whose watch beats `heartbeat`.
pub(super) fn registry(heartbeat: Heartbeat) -> SharedDriving {
    Arc::new(Mutex::new(Driving {
        runs: HashMap::new(),
        watching: false,
        keeping: false,
        heartbeat,
        losses: 0,
    }))
}

fn lock(driving: &SharedDriving) -> MutexGuard<'_, Driving> {
    driving.lock().unwrap_or_else(|e| e.into_inner())
}

/// Marks `run_id` as driven until the returned claim is dropped (refused if it is already),
/// and starts the watch and the lease keeper if they are not running (refused if the keeper
/// cannot be started).
pub(super) fn claim(driving: &SharedDriving, run_id: Uuid) -> Result<Claim> {
    let mut driven = lock(driving);
    if driven.runs.contains_key(&run_id) {
        return Err(Error::AlreadyDriving(run_id));
    }
    if !driven.keeping {
        let (keeper, heartbeat) = (Arc::clone(driving), driven.heartbeat.clone());
        let runtime = tokio::runtime::Handle::current();
        std::thread::Builder::new()
            .name("cairn-leases".to_owned())
            .spawn(move || keep_leases(keeper, heartbeat, runtime))
            .map_err(|error| Error::Database(Box::new(error)))?;
        driven.keeping = true;
    }
    let bell = Arc::new(Notify::new());
    let run = Driven {
        bell: Arc::clone(&bell),
        lease: None,
        held_until: None,
    };
    driven.runs.insert(run_id, run);
    if !driven.watching {
        driven.watching = true;
        tokio::spawn(watch(Arc::clone(driving), driven.heartbeat.clone()));
    }
    Ok(Claim {
        driving: Arc::clone(driving),
        run_id,
        bell,
    })
}

/// Tells the driver of `run_id`, if this engine drives it, to read its commands now.
pub(super) fn ring(driving: &SharedDriving, run_id: Uuid) {
    if let Some(run) = lock(driving).runs.get(&run_id) {
        run.bell.notify_one();
    }
}

/// While any run is driven: once a second rings the bell of each that has commands.
async fn watch(driving: SharedDriving, heartbeat: Heartbeat) {
    let mut looks = interval_at(Instant::now() + COMMAND_POLL, COMMAND_POLL);
    loop {
        looks.tick().await;
        {
            let mut driven = lock(&driving);
            if driven.runs.is_empty() {
                driven.watching = false;
                return;
            }
        }
        match heartbeat.store.runs_with_commands().await {
            Ok(commanded) => commanded.into_iter().for_each(|run| ring(&driving, run)),
            Err(error) => tracing::warn!(%error, "could not look for commands"),
        }
    }
}

/// The lease keeper, on a thread of its own: while any run is driven, every third of the
/// leases' time to live renews them ([`renew`], on `runtime` without holding its thread: a
/// renewal is a request to the store's writer, answered on a channel).
fn keep_leases(driving: SharedDriving, heartbeat: Heartbeat, runtime: tokio::runtime::Handle) {
    // (A zero time to live beats every millisecond, rather than not at all.)
    let beat = (heartbeat.ttl / 3).max(Duration::from_millis(1));
    let mut wait = beat;
    loop {
        std::thread::sleep(wait);
        {
            let mut driven = lock(&driving);
            if driven.runs.is_empty() {
                driven.keeping = false;
                return;
            }
        }
        // A runtime shut down under it: the keeper stops, and the next claim starts one.
        let renewing = AssertUnwindSafe(|| runtime.block_on(renew(&driving, &heartbeat)));
        match catch_unwind(renewing) {
            // A renewal the database's lock held back is tried again soon.
            Ok(Renewed::AllButLocked) => wait = beat / 4,
            Ok(Renewed::All) => wait = beat,
            Err(_) => {
                lock(&driving).keeping = false;
                return;
            }
        }
    }
}

/// How a round of renewals went, for the keeper's next wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Renewed {
    /// Every lease renewed, or its driver told why not.
    All,
    /// Some renewals failed on another process's lock of the database, their leases still
    /// holding long enough to try again.
    AllButLocked,
}

/// How many leases the renewals have found lost so far: what [`renew_now`] compares with.
pub(super) fn losses(driving: &SharedDriving) -> LeaseLosses {
    LeaseLosses(lock(driving).losses)
}

/// Renews now, out of the heartbeat's turn, the lease of every run whose driver asked for
/// the heartbeat ([`renew`]); whether no lease was found lost since `since` was taken, by
/// this renewal or by the keeper's (which may find it first, on its own thread, and tell the
/// driver, taking its run out of this renewal).
pub(super) async fn renew_now(driving: &SharedDriving, since: LeaseLosses) -> bool {
    let heartbeat = lock(driving).heartbeat.clone();
    renew(driving, &heartbeat).await;
    lock(driving).losses == since.0
}

/// The leases an engine's renewals had found lost when it was taken
/// ([`crate::Engine::lease_losses`]): a program about to be suspended takes it, and asks
/// when continued whether any was lost since ([`crate::Engine::renew_leases`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseLosses(u64);

/// Whether a renewal that failed with `error` after taking `took` may be tried again for a
/// lease that surely holds until `held_until` (`ttl` long): only a lock another process holds
/// on the database (then no other engine can take the lease either), and only while another
/// try as long would still end a sixth of the lease before it expires — the margin in which
/// a driver told to stop ends its attempts, before another engine may take the run over.
/// Probe 16 of stop 56: a `BEGIN EXCLUSIVE` held 6 s from a `sqlite3` shell stopped every
/// engine sharing the file at their first renewal, their leases good for 15 s more.
fn may_try_again(
    error: &Error,
    took: Duration,
    held_until: Option<std::time::Instant>,
    ttl: Duration,
) -> bool {
    let margin = took + ttl / 6;
    matches!(error, Error::Locked(_))
        && held_until.is_some_and(|until| std::time::Instant::now() + margin < until)
}

/// Renews the lease of every run whose driver asked for the heartbeat, and tells each whose
/// lease is gone, or could not be renewed, why.
async fn renew(driving: &SharedDriving, heartbeat: &Heartbeat) -> Renewed {
    let beating: Vec<Uuid> = (lock(driving).runs.iter())
        .filter(|(_, run)| run.lease.is_some())
        .map(|(&run_id, _)| run_id)
        .collect();
    let Heartbeat { store, owner, ttl } = heartbeat;
    let asked = std::time::Instant::now();
    let renewals = (beating.iter()).map(|&run_id| store.renew_lease(run_id, owner, *ttl));
    let renewed = futures::future::join_all(renewals).await;
    let took = asked.elapsed();
    let mut driven = lock(driving);
    let mut round = Renewed::All;
    for (run_id, renewed) in beating.into_iter().zip(renewed) {
        let run = driven.runs.get_mut(&run_id);
        let lost = match renewed {
            Ok(true) => {
                if let Some(run) = run {
                    run.held_until = Some(asked + *ttl);
                }
                continue;
            }
            Ok(false) => Error::LeaseLost(run_id),
            Err(error) if may_try_again(&error, took, run.and_then(|run| run.held_until), *ttl) => {
                tracing::warn!(%run_id, %error, "lease not renewed: trying again soon");
                round = Renewed::AllButLocked;
                continue;
            }
            Err(error) => error,
        };
        driven.losses += 1;
        let told = (driven.runs.get_mut(&run_id)).and_then(|run| run.lease.take());
        if let Some(lease) = told {
            let _ = lease.send(lost); // A driver that has stopped since needs telling no more.
        }
    }
    round
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

    /// From now on the engine's heartbeat renews the run's lease (which must be held: after
    /// the run's first commit), taken or last renewed at `leased_at` if that is known (else
    /// a renewal held back by a lock is not tried again until one succeeds); the answer comes
    /// if the lease is gone or could not be renewed, with why.
    pub(super) fn heartbeat(
        &self,
        leased_at: Option<std::time::Instant>,
    ) -> oneshot::Receiver<Error> {
        let (lease, lost) = oneshot::channel();
        let mut driving = lock(&self.driving);
        let ttl = driving.heartbeat.ttl;
        if let Some(run) = driving.runs.get_mut(&self.run_id) {
            run.lease = Some(lease);
            run.held_until = leased_at.map(|at| at + ttl);
        }
        lost
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        lock(&self.driving).runs.remove(&self.run_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, Request};
    use crate::lease::{self, Lease, LeaseAttempt, LeaseHolder};
    use crate::store::MemoryStore;
    use crate::store::conformance::started;

    /// The heartbeat of owner `me`, whose runs `started` made, over `store`.
    fn heartbeat(store: &Arc<dyn Store>) -> Heartbeat {
        Heartbeat {
            store: Arc::clone(store),
            owner: "me".into(),
            ttl: Duration::from_secs(600),
        }
    }

    fn watching(driving: &SharedDriving) -> bool {
        lock(driving).watching
    }

    /// Waits for the bell of `claim`, for a few of the watch's looks at most.
    async fn rung(claim: &Claim) {
        let bell = claim.bell();
        let waited = tokio::time::timeout(COMMAND_POLL * 3, bell.notified()).await;
        assert!(waited.is_ok(), "the bell of {} never rang", claim.run_id);
    }

    /// Two runs of owner `me` in a new store, both claimed: the store, the registry, its
    /// heartbeat, and each run with its claim.
    async fn two_claimed_runs() -> (Arc<dyn Store>, SharedDriving, Heartbeat, [(Uuid, Claim); 2]) {
        two_claimed_runs_beating(Duration::from_secs(600)).await
    }

    /// [`two_claimed_runs`], whose leases last `ttl`.
    async fn two_claimed_runs_beating(
        ttl: Duration,
    ) -> (Arc<dyn Store>, SharedDriving, Heartbeat, [(Uuid, Claim); 2]) {
        let memory = MemoryStore::new();
        let runs = [started(&memory, "me").await, started(&memory, "me").await];
        let store: Arc<dyn Store> = Arc::new(memory);
        let heartbeat = Heartbeat {
            ttl,
            ..heartbeat(&store)
        };
        let driving = registry(heartbeat.clone());
        let claims = runs.map(|run| (run, claim(&driving, run).unwrap()));
        (store, driving, heartbeat, claims)
    }

    /// One look at the store for every run driven: the run sent a command hears its bell,
    /// the other does not; the watch stops with the last run and starts with the next.
    #[tokio::test(start_paused = true)]
    async fn the_watch_rings_the_runs_that_have_commands_and_stops_with_the_last_run() {
        let (store, driving, _, [(commanded, a), (quiet, b)]) = two_claimed_runs().await;
        assert!(matches!(
            claim(&driving, quiet),
            Err(Error::AlreadyDriving(run)) if run == quiet
        ));
        let pause = Command::Pause(Request::new("ann", None));
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
        let again = claim(&driving, commanded).unwrap();
        assert!(watching(&driving));
        rung(&again).await;
    }

    /// When `run`'s lease expires, as another holder trying to take it sees it.
    async fn expiry(store: &Arc<dyn Store>, run: Uuid) -> chrono::DateTime<chrono::Utc> {
        let other = LeaseHolder {
            owner: "other".into(),
            ..lease::this_process()
        };
        let ttl = Duration::from_secs(1);
        match store.acquire_lease(run, &other, ttl, &|_| false).await {
            Ok(LeaseAttempt::Held(Lease { expires, .. })) => expires,
            attempt => panic!("the lease of {run} is not held: {attempt:?}"),
        }
    }

    /// One heartbeat for every run whose driver asked for it: a lease still held is
    /// renewed, the driver of one taken over is told. The keeper beats on the wall clock (a
    /// third of a 300 ms lease), even while the runtime's thread is held.
    #[tokio::test]
    async fn the_heartbeat_renews_the_leases_and_tells_the_driver_whose_lease_was_taken() {
        let (store, _driving, heartbeat, [(kept, a), (taken, b)]) =
            two_claimed_runs_beating(Duration::from_millis(300)).await;
        let (mut kept_lease, mut taken_lease) = (a.heartbeat(None), b.heartbeat(None));
        let before = expiry(&store, kept).await;
        let taker = LeaseHolder {
            owner: "taker".into(),
            ..lease::this_process()
        };
        let took = store.acquire_lease(taken, &taker, heartbeat.ttl, &|_| true);
        assert_eq!(took.await.unwrap(), LeaseAttempt::Acquired);
        // The runtime's thread held all along (no await): the keeper's beat tells the
        // driver all the same. (A minute: only a hang guard.)
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let told = loop {
            match taken_lease.try_recv() {
                Err(oneshot::error::TryRecvError::Empty)
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                told => break told,
            }
        };
        assert!(
            matches!(told, Ok(Error::LeaseLost(run)) if run == taken),
            "{told:?}"
        );
        assert!(
            futures::poll!(&mut kept_lease).is_pending(),
            "a kept lease is not lost"
        );
        // Renewed for 300 ms from its renewal: sooner than the lease it was started with.
        assert_ne!(
            expiry(&store, kept).await,
            before,
            "the kept lease was not renewed"
        );
    }

    /// A renewal another process's lock of the database held back is tried again, sooner
    /// than the next beat, while the lease surely holds: the driver is not told, and the
    /// lease is renewed once the lock is gone. One still locked when another try would end
    /// too near the lease's expiry tells the driver why.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_renewal_a_lock_held_back_is_tried_again_while_the_lease_holds() {
        let held = Arc::new(crate::store::held::Held::default());
        let run = started(held.as_ref(), "me").await;
        let store: Arc<dyn Store> = held.clone();
        // Beats every 3 s; a lease of 9 s: two locked renewals leave time to try again.
        let heartbeat = Heartbeat {
            ttl: Duration::from_secs(9),
            ..heartbeat(&store)
        };
        let driving = registry(heartbeat);
        let claimed = claim(&driving, run).unwrap();
        let mut lost = claimed.heartbeat(Some(std::time::Instant::now()));
        held.lock_renewals(2);
        // (A minute: only a hang guard.)
        wait_for("the third renewal", || {
            held.renewals.load(std::sync::atomic::Ordering::SeqCst) >= 3
        })
        .await;
        assert!(
            futures::poll!(&mut lost).is_pending(),
            "a lease the lock held back is not lost"
        );
        // Locked from now on: the driver is told, before the lease runs out.
        held.lock_renewals(usize::MAX);
        let told = tokio::time::timeout(Duration::from_secs(60), lost).await;
        assert!(matches!(told, Ok(Ok(Error::Locked(_)))), "{told:?}");
    }

    /// Waits (a minute at most) until `condition` holds.
    async fn wait_for(what: &str, condition: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !condition() {
            assert!(
                std::time::Instant::now() < deadline,
                "waited in vain for {what}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Takes the lease of `run` for another owner.
    async fn take_over(store: &Arc<dyn Store>, heartbeat: &Heartbeat, run: Uuid) {
        let taker = LeaseHolder {
            owner: "taker".into(),
            ..lease::this_process()
        };
        let took = store.acquire_lease(run, &taker, heartbeat.ttl, &|_| true);
        assert_eq!(took.await.unwrap(), LeaseAttempt::Acquired);
    }

    /// A renewal out of the heartbeat's turn answers whether every lease was kept, and tells
    /// the driver of the run taken over at once.
    #[tokio::test]
    async fn renewing_now_answers_whether_every_lease_was_kept() {
        let (store, driving, heartbeat, [(_, a), (taken, b)]) = two_claimed_runs().await;
        let (_kept_lease, mut taken_lease) = (a.heartbeat(None), b.heartbeat(None));
        assert!(
            renew_now(&driving, losses(&driving)).await,
            "both leases are held"
        );
        take_over(&store, &heartbeat, taken).await;
        assert!(
            !renew_now(&driving, losses(&driving)).await,
            "one lease was taken over"
        );
        assert!(
            matches!(futures::poll!(&mut taken_lease), std::task::Poll::Ready(Ok(Error::LeaseLost(run))) if run == taken),
            "the driver of the run taken over is told at once"
        );
    }

    /// A loss the keeper finds after the mark, before the renewal out of turn (its thread
    /// woken by the same continuation of a suspended program), counts: that renewal no
    /// longer sees the run, whose driver the keeper told.
    #[tokio::test]
    async fn a_loss_the_keeper_finds_first_counts_for_the_renewal_out_of_turn() {
        let (store, driving, heartbeat, [(_, a), (taken, b)]) = two_claimed_runs().await;
        let (_kept_lease, _taken_lease) = (a.heartbeat(None), b.heartbeat(None));
        let before = losses(&driving);
        take_over(&store, &heartbeat, taken).await;
        assert_eq!(renew(&driving, &heartbeat).await, Renewed::All);
        assert!(
            !renew_now(&driving, before).await,
            "the lease the keeper found lost was lost since the mark"
        );
    }
}
