//! Reading a policy file: every problem at once. The schema names every value serde would
//! refuse; the keys holding one are set aside and the rest is read and checked for what the
//! schema cannot say, as the workflow loader reads past a problem.

use std::path::Path;

use cairn_engine::{LoadError, Place, Problem};
use serde_json::Value;

use super::{Policy, schema};

impl Policy {
    /// Reads the policy file at `path` (its own tests are not run: see [`Policy::run_tests`]).
    pub fn load(path: &Path) -> Result<Policy, LoadError> {
        Policy::load_checked(path, |_| Vec::new())
    }

    /// Reads the policy file at `path` as [`Policy::load`] does, with the problems `check`
    /// finds in it besides (a program's own checks, such as [`Policy::unknown_executors`]),
    /// all in one error. `check` is given what could be read: a top-level key with a problem
    /// of its form reads as left out.
    pub fn load_checked(
        path: &Path,
        check: impl FnOnce(&Policy) -> Vec<Problem>,
    ) -> Result<Policy, LoadError> {
        let text = cairn_engine::read_document(path)?;
        // A bare file name's folder is the current one (`Path::parent` gives "").
        let base = (path.parent())
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Policy::read(&text, base, &path.display().to_string(), check)
    }

    /// Reads a policy from its JSON text; `cwd` roots are resolved against `base_dir` and made
    /// canonical; `origin` names the policy in messages.
    pub fn from_str(text: &str, base_dir: &Path, origin: &str) -> Result<Policy, LoadError> {
        Policy::read(text, base_dir, origin, |_| Vec::new())
    }

    /// [`Policy::from_str`] with the problems `check` finds (see [`Policy::load_checked`]).
    fn read(
        text: &str,
        base_dir: &Path,
        origin: &str,
        check: impl FnOnce(&Policy) -> Vec<Problem>,
    ) -> Result<Policy, LoadError> {
        let (mut policy, mut problems, set_aside) =
            match cairn_engine::load_document::<Policy>(text, &schema(), origin) {
                Ok(policy) => (policy, Vec::new(), Vec::new()),
                Err(error) => {
                    let Some((policy, set_aside)) = without_problem_keys(text, &error, origin)
                    else {
                        return Err(error);
                    };
                    (policy, error.problems, set_aside)
                }
            };
        let rules_read = !set_aside.iter().any(|key| key == "rules");
        problems.extend(policy.resolve(base_dir, rules_read));
        problems.extend(check(&policy));
        if problems.is_empty() {
            return Ok(policy);
        }
        problems.sort_by(|a, b| a.place.cmp(&b.place));
        problems.dedup();
        Err(LoadError {
            origin: origin.to_owned(),
            problems,
        })
    }
}

/// The policy of `text` without the top-level keys `error`'s problems are in, and those
/// keys; `None` when that does not load either, or a problem has no key's place (the text
/// is no JSON object, or gives a key twice).
fn without_problem_keys(
    text: &str,
    error: &LoadError,
    origin: &str,
) -> Option<(Policy, Vec<String>)> {
    let mut keys = Vec::new();
    for problem in &error.problems {
        let Place::Pointer(pointer) = &problem.place else {
            return None;
        };
        let first = pointer.strip_prefix('/')?.split('/').next()?;
        keys.push(first.replace("~1", "/").replace("~0", "~"));
    }
    let Ok(Value::Object(mut object)) = cairn_engine::load_json(text, origin) else {
        return None;
    };
    for key in &keys {
        object.remove(key);
    }
    let rest = Value::Object(object).to_string();
    let policy = cairn_engine::load_document(&rest, &schema(), origin).ok()?;
    Some((policy, keys))
}
