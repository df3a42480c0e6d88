//! A lease given back ([`Store::give_back_lease`]): as its owner found it while the owner
//! has committed nothing to the run, given up once it has.

use super::{TTL, batch, holder, started, step};
use crate::lease::{LeaseAttempt, LeaseHolder};
use crate::state::StepState;
use crate::store::Store;

/// A takeover refused under the lease it took (a stored input that no longer reads) gives it
/// back: the lease it found (here a holder gone) is written back as it was, and the run's
/// record is the one it found. Once the owner has committed to the run, the lease is given
/// up instead; and only its owner gives it back.
pub(super) async fn a_lease_is_given_back_as_found_until_its_owner_commits(store: &impl Store) {
    let run = started(store, "first").await;
    let record = async || store.find_run(&run.to_string()).await.unwrap();
    let found = record().await;
    let gone = |holder: &LeaseHolder| holder.owner == "first";
    let take = async || {
        store
            .acquire_lease(run, &holder("second"), TTL, &gone)
            .await
    };
    assert_eq!(take().await.unwrap(), LeaseAttempt::Acquired);
    store.give_back_lease(run, "third").await.unwrap();
    let held = record().await.lease.map(|lease| lease.holder);
    assert_eq!(held, Some(holder("second")), "not third's to give back");
    store.give_back_lease(run, "second").await.unwrap();
    assert_eq!(record().await, found, "given back as it was found");

    assert_eq!(take().await.unwrap(), LeaseAttempt::Acquired);
    let next = batch([step(run, "a", StepState::Ready, StepState::Running)]);
    store.commit("second", next).await.unwrap();
    store.give_back_lease(run, "second").await.unwrap();
    assert_eq!(record().await.lease, None, "given up once committed to");

    // A lease given up by a release is not given back later.
    let first = store
        .acquire_lease(run, &holder("first"), TTL, &|_| false)
        .await;
    assert_eq!(first.unwrap(), LeaseAttempt::Acquired);
    assert_eq!(take().await.unwrap(), LeaseAttempt::Acquired);
    store.release_lease(run, "second").await.unwrap();
    store.give_back_lease(run, "second").await.unwrap();
    assert_eq!(record().await.lease, None, "released");
}
