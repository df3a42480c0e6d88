//! Reading a policy file: every problem at once. The schema names every value serde would
//! refuse; what holds one is set aside (a top-level key, or an item of a top-level list such
//! as `/tests/2`) and the rest is read and checked for what the schema cannot say, as the
//! workflow loader reads past a problem.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cairn_engine::{LoadError, Place, Problem, unescape};
use serde_json::{Map, Value};

use super::{Policy, schema};

impl Policy {
    /// Reads the policy file at `path` (its own tests are not run: see [`Policy::run_tests`]).
    pub fn load(path: &Path) -> Result<Policy, LoadError> {
        Policy::load_checked(path, |_| Vec::new())
    }

    /// Reads the policy file at `path` as [`Policy::load`] does, with the problems `check`
    /// finds in it besides (a program's own checks, such as [`Policy::unknown_executors`]),
    /// all in one error. `check` is given what could be read: a top-level key or an item of
    /// a top-level list with a problem of its form reads as left out.
    pub fn load_checked(
        path: &Path,
        check: impl FnOnce(&Policy) -> Vec<Problem>,
    ) -> Result<Policy, LoadError> {
        let text = cairn_engine::read_document(path)?;
        // A bare file name's folder is the current one (`Path::parent` gives "").
        let base = (path.parent())
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Policy::read(&text, base, &cairn_engine::path_text(path), check)
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
                Ok(policy) => (policy, Vec::new(), SetAside::default()),
                Err(error) => {
                    let mut problems = error.problems;
                    match SetAside::read_all_past(text, &mut problems, origin) {
                        Some((policy, set_aside)) => (policy, problems, set_aside),
                        None => {
                            return Err(LoadError {
                                origin: error.origin,
                                problems,
                            });
                        }
                    }
                }
            };
        let mut found = policy.resolve(base_dir, !set_aside.holds("rules"));
        found.extend(check(&policy));
        problems.extend(
            found
                .into_iter()
                .filter_map(|problem| set_aside.place_in_file(problem)),
        );
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

/// What of a policy file was set aside for problems of form: the offending optional keys
/// alone when that is enough to read the rest, else top-level keys and items of top-level
/// lists (by their index in the file).
#[derive(Debug, Default)]
struct SetAside {
    /// The pointers of what was set aside, in the file: what is found in them is no news.
    pointers: Vec<String>,
    /// The file as given, to tell a key set aside as likely misspelt from a stray one.
    file: Value,
    keys: BTreeSet<String>,
    items: BTreeMap<String, BTreeSet<usize>>,
}

impl SetAside {
    /// The policy of `text` without what `problems` are in, and what that is, as
    /// [`SetAside::read_past`] reads it, with the problems what is left still has added to
    /// `problems` and set aside in turn: a value serde refuses that the schema passed (a
    /// duration past 100 years) is found only once the values before it read (probe 43 f2).
    /// `None` when the rest does not load.
    fn read_all_past(
        text: &str,
        problems: &mut Vec<Problem>,
        origin: &str,
    ) -> Option<(Policy, SetAside)> {
        // Each round finds at least one problem more (serde stops at its first): a policy
        // with more than this many is told the first ones (probe 45 F6).
        for _ in 0..256 {
            let more = match SetAside::read_past(text, problems, origin) {
                Ok(read) => return Some(read),
                Err(more) => more,
            };
            let new: Vec<Problem> = (more.into_iter())
                .filter(|problem| !problems.iter().any(|known| known.place == problem.place))
                .collect();
            if new.is_empty() {
                return None;
            }
            problems.extend(new);
        }
        None
    }

    /// The policy of `text` without what `problems` are in, and what that is; else the
    /// problems of what is left (in the file's places; none when a problem has no place in
    /// an object's key: the text is no JSON object, or gives a key twice).
    fn read_past(
        text: &str,
        problems: &[Problem],
        origin: &str,
    ) -> Result<(Policy, SetAside), Vec<Problem>> {
        let Ok(file @ Value::Object(_)) = cairn_engine::load_json(text, origin) else {
            return Err(Vec::new());
        };
        let mut pointers = Vec::new();
        for problem in problems {
            let Place::Pointer(pointer) = &problem.place else {
                return Err(Vec::new());
            };
            pointers.push(pointer.clone());
        }
        let read =
            |value: Value| cairn_engine::load_document(&value.to_string(), &schema(), origin);
        if let Some(value) = without_keys(&file, &pointers) {
            match read(value) {
                Ok(policy) => {
                    let set_aside = SetAside {
                        pointers,
                        file,
                        ..SetAside::default()
                    };
                    return Ok((policy, set_aside));
                }
                // Only keys were taken out: the places are the file's. Problems found beside
                // the known ones (a duration in the object of another problem) are told, not
                // set aside with their top-level key (probe 45 F5); what lacks a key taken out
                // (`missing key`, at its object) is no news.
                Err(error) => {
                    let news = |found: &Problem| {
                        let Place::Pointer(at) = &found.place else {
                            return false;
                        };
                        (pointers.iter())
                            .all(|known| known != at && !known.starts_with(&format!("{at}/")))
                    };
                    let new: Vec<Problem> = error.problems.into_iter().filter(news).collect();
                    if !new.is_empty() {
                        return Err(new);
                    }
                }
            }
        }
        let Value::Object(mut object) = file.clone() else {
            return Err(Vec::new());
        };
        let mut set_aside = SetAside {
            file,
            ..SetAside::default()
        };
        for pointer in &pointers {
            let Some(mut segments) = pointer.strip_prefix('/').map(|rest| rest.split('/')) else {
                return Err(Vec::new());
            };
            let Some(key) = segments.next() else {
                return Err(Vec::new());
            };
            let index = segments
                .next()
                .and_then(|index| index.parse::<usize>().ok());
            match (object.get(&unescape(key)), index) {
                (Some(Value::Array(items)), Some(index)) if index < items.len() => {
                    set_aside.pointers.push(format!("/{key}/{index}"));
                    set_aside
                        .items
                        .entry(unescape(key))
                        .or_default()
                        .insert(index);
                }
                _ => {
                    set_aside.pointers.push(format!("/{key}"));
                    set_aside.keys.insert(unescape(key));
                }
            }
        }
        set_aside.apply(&mut object);
        match read(Value::Object(object)) {
            Ok(policy) => Ok((policy, set_aside)),
            Err(error) => Err((error.problems.into_iter())
                .map(|problem| set_aside.index_in_file(problem))
                .collect()),
        }
    }

    /// Removes what was set aside from `object`.
    fn apply(&self, object: &mut Map<String, Value>) {
        for (key, removed) in &self.items {
            if let Some(Value::Array(items)) = object.get_mut(key) {
                let mut index = 0;
                items.retain(|_| {
                    let kept = !removed.contains(&index);
                    index += 1;
                    kept
                });
            }
        }
        for key in &self.keys {
            object.remove(key);
        }
    }

    /// Whether the top-level key `key`, or an item of it, was set aside.
    fn holds(&self, key: &str) -> bool {
        self.keys.contains(key) || self.items.contains_key(key)
    }

    /// `problem`, found in what was read, with its place in the file (an item of a list
    /// some items of which were set aside has its index in the file); `None` when it is in
    /// what was set aside, which reads as left out, or in a key the file lacks that a key set
    /// aside likely misspells (a test's `parms` left its `params` empty): a consequence, not
    /// news.
    fn place_in_file(&self, problem: Problem) -> Option<Problem> {
        let problem = self.index_in_file(problem);
        let Place::Pointer(pointer) = &problem.place else {
            return Some(problem);
        };
        let within = |aside: &String| {
            (pointer.strip_prefix(aside.as_str()))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        let misspelt = |aside: &String| {
            // A key of an object; not an item of a list.
            let Some((object, given)) = aside.rsplit_once('/') else {
                return false;
            };
            if given.parse::<usize>().is_ok() {
                return false;
            }
            let key = pointer.strip_prefix(&format!("{object}/"));
            let key = key.and_then(|rest| rest.split('/').next());
            key.is_some_and(|escaped| {
                let (key, given) = (unescape(escaped), unescape(given));
                let lacked = self.file.pointer(&format!("{object}/{escaped}")).is_none();
                lacked && given != key && cairn_engine::closest(&given, [key.as_str()]).is_some()
            })
        };
        let news = !self
            .pointers
            .iter()
            .any(|aside| within(aside) || misspelt(aside));
        news.then_some(problem)
    }

    /// `problem` with the index in the file of the list item it is in, when items of that
    /// list were set aside.
    fn index_in_file(&self, problem: Problem) -> Problem {
        let Place::Pointer(pointer) = &problem.place else {
            return problem;
        };
        let mut segments = pointer.splitn(4, '/').skip(1);
        let (Some(key), Some(index)) = (segments.next(), segments.next()) else {
            return problem;
        };
        let (Some(removed), Ok(index)) = (self.items.get(&unescape(key)), index.parse::<usize>())
        else {
            return problem;
        };
        let in_file = (0..)
            .filter(|index| !removed.contains(index))
            .nth(index)
            .unwrap_or(index);
        let rest = segments
            .next()
            .map_or(String::new(), |rest| format!("/{rest}"));
        Problem::at(format!("/{key}/{in_file}{rest}"), problem.message)
    }
}

/// `file` without the values at `pointers`, each the key of an object (which then reads as
/// left out); `None` when one is not.
fn without_keys(file: &Value, pointers: &[String]) -> Option<Value> {
    let mut rest = file.clone();
    for pointer in pointers {
        let (parent, key) = pointer.rsplit_once('/')?;
        let Value::Object(object) = rest.pointer_mut(parent)? else {
            return None;
        };
        object.remove(&unescape(key))?;
    }
    Some(rest)
}
