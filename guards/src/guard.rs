//! [`PolicyGuard`]: a [`Policy`] whose own tests pass, as the engine's [`Guard`].

use std::path::Path;
use std::sync::Arc;

use cairn_engine::{Action, Facts, Guard, GuardError, LoadError, Problem, RateLimit, Verdict};

use crate::policy::{Mode, Policy};

/// A policy file as the engine's guard; its tests passed when it loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyGuard {
    policy: Policy,
}

impl PolicyGuard {
    /// Loads the policy file at `path`; refused when it is invalid or one of its tests fails.
    pub fn load(path: &Path) -> Result<PolicyGuard, LoadError> {
        PolicyGuard::tested(Policy::load(path)?, &cairn_engine::path_text(path))
    }

    /// Loads a policy from its JSON text (`cwd` roots relative to `base_dir`; `origin` names
    /// it in messages); refused when it is invalid or one of its tests fails.
    pub fn from_str(text: &str, base_dir: &Path, origin: &str) -> Result<PolicyGuard, LoadError> {
        PolicyGuard::tested(Policy::from_str(text, base_dir, origin)?, origin)
    }

    /// The guard of `policy` (`origin` names it in messages); refused when one of its tests
    /// fails.
    pub fn tested(policy: Policy, origin: &str) -> Result<PolicyGuard, LoadError> {
        let failures = policy.run_tests();
        if failures.is_empty() {
            return Ok(PolicyGuard { policy });
        }
        let problems = (failures.iter())
            .map(|failure| Problem::at(&failure.pointer, format!("test fails: {failure}")))
            .collect();
        Err(LoadError {
            origin: origin.to_owned(),
            problems,
        })
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The verdict on `action` and why: the same as [`Guard::judge`].
    pub fn explain(&self, action: &Action, facts: &Facts<'_>) -> Verdict {
        self.policy.judge(action, facts)
    }
}

impl Guard for PolicyGuard {
    fn judge(&self, action: &Action, facts: &Facts<'_>) -> Verdict {
        self.policy.judge(action, facts)
    }

    /// A spending budget that is enforced: an audit records its verdicts, and changes
    /// nothing of how a run runs.
    fn counts_spending(&self) -> bool {
        let budgets = &self.policy.budgets;
        self.policy.mode == Mode::Enforce
            && (budgets.cost_usd.is_some() || budgets.tokens.is_some())
    }

    /// The policy's rate limits when enforced: an audit holds no attempt back.
    fn rate_limits(&self) -> Vec<RateLimit> {
        if self.policy.mode != Mode::Enforce {
            return Vec::new();
        }
        (self.policy.rate_limits.iter())
            .map(|limit| RateLimit {
                executor: limit.executor.clone(),
                max: limit.max,
                per: limit.per.0,
            })
            .collect()
    }

    /// The policy as canonical JSON, its `cwd` roots absolute (it needs no base directory).
    /// It cannot fail: loading refuses roots whose paths are not UTF-8, the only thing JSON
    /// could not hold (and a run stored without a snapshot is judged by [`Restorer`], which
    /// denies).
    fn snapshot(&self) -> Option<String> {
        serde_json::to_string(&self.policy).ok()
    }

    fn restore(&self, snapshot: &str) -> Result<Arc<dyn Guard>, GuardError> {
        restore(snapshot)
    }
}

/// The guard of an engine that only resumes runs (`cairn resume`, `recover`, `retry`):
/// each run is judged by the policy restored from its own stored snapshot. A run whose
/// guard stored none (an embedding program's own guard) is refused, left as it was: only an
/// engine with that guard can drive the run (and were one judged here, every action would
/// be denied).
///
/// ```
/// use std::sync::Arc;
/// use cairn_engine::Engine;
/// use cairn_guards::Restorer;
///
/// let builder = Engine::builder("runs.db").guard(Arc::new(Restorer));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restorer;

impl Guard for Restorer {
    fn judge(&self, _action: &Action, _facts: &Facts<'_>) -> Verdict {
        Verdict::deny(
            "guard",
            "the run was started with a guard that stored no policy to resume it with; \
             only a program with that guard can drive it",
        )
    }

    fn only_restores(&self) -> bool {
        true
    }

    fn restore(&self, snapshot: &str) -> Result<Arc<dyn Guard>, GuardError> {
        restore(snapshot)
    }
}

/// The [`PolicyGuard`] of a run's stored snapshot.
fn restore(snapshot: &str) -> Result<Arc<dyn Guard>, GuardError> {
    let guard = PolicyGuard::from_str(snapshot, Path::new("/"), "the run's stored policy")
        .map_err(|error| GuardError(error.to_string()))?;
    Ok(Arc::new(guard))
}
