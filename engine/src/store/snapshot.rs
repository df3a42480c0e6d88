//! A run's definition snapshot: its workflow as canonical JSON, measured and hashed once,
//! and serialized again only as a store writes it.

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::measure::json_len_and_hash;
use crate::plan::Plan;

/// The definition a new run records: its workflow as canonical JSON, with the text's length
/// and SHA-256 hash (how stores key definitions).
///
/// Made from a plan, the text is never held whole: it is serialized once to be measured and
/// hashed, then again into the store as it writes it — a million-step workflow's text is
/// 100 MB, beside a plan of a gigabyte. Made from text (`Snapshot::from("{}")`), it is that
/// text.
///
/// ```
/// use cairn_engine::store::Snapshot;
///
/// let snapshot = Snapshot::from(r#"{"name":"w","steps":[]}"#);
/// assert_eq!(snapshot.len(), 23);
/// let mut text = Vec::new();
/// snapshot.write_to(&mut text).unwrap();
/// assert_eq!(text, br#"{"name":"w","steps":[]}"#);
/// ```
#[derive(Clone)]
pub struct Snapshot {
    source: Source,
    len: usize,
    hash: String,
}

#[derive(Clone)]
enum Source {
    Text(Arc<str>),
    Plan(Arc<Plan>),
}

impl Snapshot {
    /// The snapshot of `plan`'s workflow.
    pub(crate) fn of(plan: Arc<Plan>) -> Result<Snapshot> {
        let (len, hash) =
            json_len_and_hash(plan.workflow()).map_err(|error| Error::Bug(error.to_string()))?;
        Ok(Snapshot {
            source: Source::Plan(plan),
            len,
            hash,
        })
    }

    /// The text's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the text is empty (it never is for a workflow).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The text's SHA-256 hash, in hex.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Writes the text to `out`: exactly [`Snapshot::len`] bytes.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        match &self.source {
            Source::Text(text) => out.write_all(text.as_bytes()),
            Source::Plan(plan) => {
                serde_json::to_writer(out, plan.workflow()).map_err(io::Error::from)
            }
        }
    }

    /// The text, whole (for a store that keeps it in memory).
    pub fn text(&self) -> String {
        match &self.source {
            Source::Text(text) => text.to_string(),
            Source::Plan(_) => {
                let mut text = Vec::with_capacity(self.len);
                self.write_to(&mut text)
                    .expect("writing to memory never fails");
                String::from_utf8(text).expect("JSON is UTF-8")
            }
        }
    }
}

impl From<&str> for Snapshot {
    fn from(text: &str) -> Snapshot {
        Snapshot {
            len: text.len(),
            hash: super::digest(text),
            source: Source::Text(text.into()),
        }
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("len", &self.len)
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

/// Two snapshots are equal when their texts are: same length, same hash.
impl PartialEq for Snapshot {
    fn eq(&self, other: &Snapshot) -> bool {
        self.len == other.len && self.hash == other.hash
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::Snapshot;
    use crate::store::digest;

    #[test]
    fn a_plans_snapshot_is_its_workflows_json_measured_hashed_and_written_alike() {
        let workflow = json!({"name": "w", "steps": [
            {"id": "a", "executor": "noop", "with": {"output": "é ${{ input.x }}"}},
            {"id": "b", "executor": "noop", "needs": ["a"]}]});
        let executors = crate::executor::test_support::accepting_anything(&["noop"]);
        let plan = crate::load::load_str(&workflow.to_string(), "w.json", &executors).unwrap();
        let plan = Arc::new(plan);
        let text = serde_json::to_string(plan.workflow()).unwrap();
        let snapshot = Snapshot::of(Arc::clone(&plan)).unwrap();
        assert_eq!(snapshot.len(), text.len());
        assert_eq!(snapshot.hash(), digest(&text));
        assert_eq!(snapshot.text(), text);
        assert_eq!(snapshot, Snapshot::from(text.as_str()));
    }
}
