//! Configuring an [`Engine`]: its store, executors, guard and limits.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::driving::{self, Heartbeat};
use super::{DEFAULT_MAX_OUTPUT_BYTES, Engine};
use crate::error::{self, Error, Result};
use crate::executor::{Executor, Executors};
use crate::guard::Guard;
use crate::lease::{self, LEASE_TTL, MAX_LEASE_TTL, MIN_LEASE_TTL};
use crate::scheduler::Shared;
use crate::store::{Durability, SqliteStore, Store, StoreOptions};

/// Configures and opens an [`Engine`].
#[derive(Debug)]
pub struct EngineBuilder {
    store: StoreChoice,
    executors: Executors,
    guard: Option<Arc<dyn Guard>>,
    max_output_bytes: usize,
    max_output_override: Option<usize>,
    lease_ttl: Duration,
}

/// The store an engine will use: an SQLite file to open, or one given.
#[derive(Debug)]
pub(super) enum StoreChoice {
    Sqlite(StoreOptions),
    Given(Arc<dyn Store>),
}

impl EngineBuilder {
    /// A builder over `store`, every setting at its default.
    pub(super) fn new(store: StoreChoice) -> Self {
        EngineBuilder {
            store,
            executors: Executors::new(),
            guard: None,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            max_output_override: None,
            lease_ttl: LEASE_TTL,
        }
    }

    /// Registers `executor` under `name`.
    pub fn executor(mut self, name: impl Into<String>, executor: Arc<dyn Executor>) -> Self {
        self.executors.insert(name.into(), executor);
        self
    }

    /// Judges every action of the runs this engine starts with `guard` (without one, every
    /// action is allowed and no verdict is recorded). A run resumed later is judged by the
    /// guard it started with: see [`Guard::snapshot`].
    pub fn guard(mut self, guard: Arc<dyn Guard>) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Registers every executor of `executors`.
    pub fn executors(mut self, executors: Executors) -> Self {
        self.executors.extend(executors);
        self
    }

    /// How hard SQLite commits are pushed to disk (default [`Durability::Normal`]). For the
    /// SQLite file of [`Engine::builder`]; a store given to
    /// [`Engine::builder_with_store`] keeps its own settings, and this does nothing there.
    pub fn durability(self, durability: Durability) -> Self {
        self.sqlite(|options| options.durability = durability)
    }

    /// How long to wait for another process's database lock before giving up (default 5 s).
    /// For the SQLite file of [`Engine::builder`] only, as [`durability`](Self::durability).
    pub fn busy_timeout(self, timeout: Duration) -> Self {
        self.sqlite(|options| options.busy_timeout = timeout)
    }

    /// Whether a missing SQLite database is created (default) or refused: readers that only
    /// look at existing runs say `false`. For the SQLite file of [`Engine::builder`] only, as
    /// [`durability`](Self::durability).
    pub fn create_database(self, create: bool) -> Self {
        self.sqlite(|options| options.create = create)
    }

    /// An engine that only reads runs (`cairn runs`, `show`): a database this process may not
    /// write is opened all the same, where one that writes refuses it
    /// ([`StoreOptions::writes`]). For the SQLite file of [`Engine::builder`] only.
    pub fn for_reading(self) -> Self {
        self.sqlite(|options| options.writes = false)
    }

    /// Sets an option of the SQLite store with `set`; a store given as it is keeps its own.
    fn sqlite(mut self, set: impl FnOnce(&mut StoreOptions)) -> Self {
        if let StoreChoice::Sqlite(options) = &mut self.store {
            set(options);
        }
        self
    }

    /// Caps one step's serialized output in the runs this engine starts (default 1 MiB; not
    /// 0, which would fail every step: [`open`](Self::open) refuses it); a bigger output
    /// fails the step. The cap is stored with each run: a run taken over
    /// (resumed, recovered, retried) keeps its own, whatever the engine's, unless
    /// [`override_max_output_bytes`](Self::override_max_output_bytes) says otherwise.
    pub fn max_output_bytes(mut self, bytes: usize) -> Self {
        self.max_output_bytes = bytes;
        self
    }

    /// Caps one step's serialized output at `bytes` in every run this engine takes over
    /// (resumes, recovers, retries), in place of the cap the run was started with: how a run
    /// that failed with `output_too_large` is given a bigger one. The takeover records it
    /// with the run before anything starts, so that a later takeover keeps it.
    pub fn override_max_output_bytes(mut self, bytes: usize) -> Self {
        self.max_output_override = Some(bytes);
        self
    }

    /// How long a run's lease lasts unless renewed (default 30 s; at least [`MIN_LEASE_TTL`],
    /// or [`open`](Self::open) refuses it: a lease that ends before its renewal, every third
    /// of it, lets another engine take over a run this one drives; at most [`MAX_LEASE_TTL`]).
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Opens the store (an SQLite file is created if missing and its schema brought up to
    /// date) and returns the engine. A guard whose rate limits name an executor the engine
    /// does not have is refused first ([`Error::UnknownRateLimit`]), as is one that panics
    /// when asked for them ([`Error::GuardPanicked`]), one that allows no attempt at all of
    /// an executor, and a guard beside a built-in executor that runs programs registered
    /// under a name other than its own ([`Error::Setting`]: the guard knows their actions
    /// by their names, [`Executor::guarded_as`]). The process's working directory is
    /// read here, once: the engine's directory, stored with every run it starts as the
    /// run's ([`RunRecord::cwd`](crate::store::RunRecord::cwd): where a step without `with.cwd`
    /// runs, the one its guard judges a relative `with.cwd` from, [`Facts::cwd`](crate::Facts::cwd),
    /// and approvals are bound to).
    pub async fn open(self) -> Result<Engine> {
        self.check_settings()?;
        let limits = error::rate_limits(self.guard.as_deref(), None)?;
        if let Some(limit) = limits.iter().find(|limit| limit.max == 0) {
            let message = format!(
                "the guard's rate limit of `{}` lets no attempt start in any window: its steps \
                 would wait `ready` for ever; the least is 1",
                limit.executor
            );
            return Err(Error::Setting {
                setting: "guard",
                message,
            });
        }
        if let Some(limit) =
            (limits.into_iter()).find(|limit| !self.executors.contains_key(&limit.executor))
        {
            let known: Vec<&str> = self.executors.keys().map(String::as_str).collect();
            return Err(Error::UnknownRateLimit {
                executor: limit.executor,
                known: known.join(", "),
            });
        }
        let store: Arc<dyn Store> = match self.store {
            StoreChoice::Sqlite(options) => Arc::new(SqliteStore::open(&options).await?),
            StoreChoice::Given(store) => store,
        };
        let holder = lease::this_process();
        let heartbeat = Heartbeat {
            store: Arc::clone(&store),
            owner: holder.owner.clone(),
            ttl: self.lease_ttl,
        };
        Ok(Engine {
            inner: Arc::new(Shared {
                store,
                executors: self.executors,
                guard: self.guard,
                cwd: std::env::current_dir().ok(),
                holder,
                shutdown: CancellationToken::new(),
                drain: CancellationToken::new(),
                max_output_bytes: self.max_output_bytes,
                max_output_override: self.max_output_override,
                lease_ttl: self.lease_ttl,
            }),
            driving: driving::registry(heartbeat),
        })
    }

    /// Refuses the settings that would break what the engine promises
    /// ([`Error::Setting`]).
    fn check_settings(&self) -> Result<()> {
        let refused = |setting, message: String| Err(Error::Setting { setting, message });
        if self.lease_ttl < MIN_LEASE_TTL {
            let message = format!(
                "a lease of {:?} may end before it is renewed (every third of it), and another \
                 engine would take over the runs this one drives; the least is {:?}",
                self.lease_ttl, MIN_LEASE_TTL
            );
            return refused("lease_ttl", message);
        }
        if self.lease_ttl > MAX_LEASE_TTL {
            let message = format!(
                "a lease of {:?} would keep the runs of an engine that died from any other for \
                 as long; the most is {:?}",
                self.lease_ttl, MAX_LEASE_TTL
            );
            return refused("lease_ttl", message);
        }
        if self.guard.is_some() {
            let renamed = (self.executors.iter()).find_map(|(name, executor)| {
                let own = executor.guarded_as()?;
                (own != name).then_some((name, own))
            });
            if let Some((name, own)) = renamed {
                let message = format!(
                    "the built-in `{own}` executor is registered as `{name}`: a guard judges the \
                     programs of `{own}` actions by that name, and would not read those of `{name}` \
                     as programs; register it as `{own}`"
                );
                return refused("executor", message);
            }
        }
        for (setting, bytes) in [
            ("max_output_bytes", Some(self.max_output_bytes)),
            ("override_max_output_bytes", self.max_output_override),
        ] {
            if bytes == Some(0) {
                let message = "a cap of 0 bytes would fail every step; the least is 1".to_owned();
                return refused(setting, message);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::executor::test_support::Declared;
    use crate::executor::{Action, ExecContext, Executor, Outcome};
    use crate::guard::{Facts, Guard, RateLimit, Verdict};
    use crate::store::MemoryStore;
    use crate::{Engine, Error};

    /// Panics when asked for its rate limits.
    #[derive(Debug)]
    struct Unlimitable;

    impl Guard for Unlimitable {
        fn judge(&self, _action: &Action, _facts: &Facts<'_>) -> Verdict {
            Verdict::allow()
        }

        fn rate_limits(&self) -> Vec<RateLimit> {
            panic!("limits out of reach")
        }
    }

    #[tokio::test]
    async fn a_guard_whose_rate_limits_panic_is_refused_by_open() {
        let opened = Engine::builder_with_store(Arc::new(MemoryStore::new()))
            .guard(Arc::new(Unlimitable))
            .open()
            .await;
        let error = opened.unwrap_err();
        assert!(
            matches!(&error, Error::GuardPanicked { run: None, message, .. } if message == "limits out of reach"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "the guard panicked in its rate_limits(): limits out of reach"
        );
    }

    /// Allows every action, and at most `max` attempts of `noop` a second.
    #[derive(Debug)]
    struct Limiting {
        max: u32,
    }

    impl Guard for Limiting {
        fn judge(&self, _action: &Action, _facts: &Facts<'_>) -> Verdict {
            Verdict::allow()
        }

        fn rate_limits(&self) -> Vec<RateLimit> {
            let per = std::time::Duration::from_secs(1);
            let executor = "noop".to_owned();
            vec![RateLimit {
                executor,
                max: self.max,
                per,
            }]
        }
    }

    /// Runs programs, as the built-in `process` executor does, and says so.
    #[derive(Debug)]
    struct Programs;

    #[async_trait::async_trait]
    impl Executor for Programs {
        fn guarded_as(&self) -> Option<&'static str> {
            Some("process")
        }

        async fn execute(&self, _action: &Action, _ctx: ExecContext) -> Outcome {
            Outcome::success(serde_json::json!(null))
        }
    }

    /// A guard judges a built-in program runner's actions by its own name: registered under
    /// another, with a guard, it is refused (probe 87 F1: `process` as `sh` ran a denied
    /// `rm`); without one, or under its own name, it is not. So is a guard's rate limit that
    /// starts nothing (probe 87 F2: its runs waited `ready` for ever).
    #[tokio::test]
    async fn a_guard_beside_a_renamed_program_runner_or_a_limit_of_none_is_refused_by_open() {
        let builder = || {
            Engine::builder_with_store(Arc::new(MemoryStore::new()))
                .executor("noop", Arc::new(Declared(None)))
        };
        let limiting = |max| Arc::new(Limiting { max });
        let renamed = builder().executor("sh", Arc::new(Programs));
        let error = (renamed.guard(limiting(1)).open().await.map(|_| ())).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("executor: the built-in `process` executor is registered as `sh`"),
            "{error}"
        );
        let unguarded = builder().executor("sh", Arc::new(Programs));
        assert!(unguarded.open().await.is_ok());
        let own_name = || builder().executor("process", Arc::new(Programs));
        assert!(own_name().guard(limiting(1)).open().await.is_ok());
        let error = (own_name().guard(limiting(0)).open().await.map(|_| ())).unwrap_err();
        assert!(
            error.to_string().starts_with(
                "guard: the guard's rate limit of `noop` lets no attempt start in any window"
            ),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_lease_shorter_than_the_least_or_a_cap_of_zero_bytes_is_refused_by_open() {
        let builder = || Engine::builder_with_store(Arc::new(MemoryStore::new()));
        let short = crate::store::MIN_LEASE_TTL - std::time::Duration::from_millis(1);
        let refusals = [
            (
                builder().lease_ttl(std::time::Duration::ZERO),
                "lease_ttl: a lease of 0ns",
            ),
            (builder().lease_ttl(short), "lease_ttl: a lease of 999ms"),
            (
                builder().lease_ttl(std::time::Duration::MAX),
                "lease_ttl: a lease of 18446744073709551615.999999999s",
            ),
            (
                builder().max_output_bytes(0),
                "max_output_bytes: a cap of 0 bytes",
            ),
            (
                builder().override_max_output_bytes(0),
                "override_max_output_bytes: a cap of 0 bytes",
            ),
        ];
        for (builder, refusal) in refusals {
            let error = builder.open().await.map(|_| ()).unwrap_err();
            assert!(error.to_string().starts_with(refusal), "{error}");
        }
        let least = builder()
            .lease_ttl(crate::store::MIN_LEASE_TTL)
            .max_output_bytes(1);
        assert!(least.open().await.is_ok());
    }
}
