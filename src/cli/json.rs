//! `--json` output: written as it is serialized, never built into a JSON tree first (a big
//! run's steps and events are hundreds of thousands), keys in the types' declared order.

use std::io::{self, Write};

use cairn_engine::Problem;
use serde::Serialize;

/// A file's problems as `cairn validate --json` and `cairn policy ... --json` print them:
/// `{"file", "ok", "problems": [{"place", "message"}]}` (`ok` left out by `policy`, which
/// prints only an invalid file this way).
#[derive(Debug, Serialize)]
pub(crate) struct Checked {
    /// The file, as given.
    pub(crate) file: String,
    /// Whether it has no problem (`validate` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ok: Option<bool>,
    /// Its problems, each a place and a message.
    pub(crate) problems: Vec<Problem>,
}

/// Writes `value` as one line of JSON.
pub(crate) fn print(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_value_is_one_line_in_declared_order() {
        #[derive(serde::Serialize)]
        struct Run {
            id: u32,
            state: &'static str,
            output: serde_json::Value,
        }
        let mut out = Vec::new();
        let run = Run {
            id: 7,
            state: "succeeded",
            output: json!({"a": [1, 2]}),
        };
        super::print(&mut out, &run).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"id\":7,\"state\":\"succeeded\",\"output\":{\"a\":[1,2]}}\n"
        );
    }
}
