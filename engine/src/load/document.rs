//! Loading any JSON document the way workflow files are loaded: JSON syntax, then a JSON
//! Schema (every problem with its pointer, an unknown key with the key it likely meant), then
//! serde. For files other than workflows, e.g. `cairn-guards`' policy files.

use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::explain::{explain, shorten};
use super::{LoadError, syntax_problem};
use crate::problem::{Place, Problem, escape};

/// Parses the JSON `source`, checks it against the JSON Schema `schema` and deserializes it
/// into `T`. The error holds every schema problem, each with its JSON pointer (or the line
/// and column of a syntax error), or the first key an object gives twice; `origin` names the
/// document in messages.
pub fn load_document<T: DeserializeOwned>(
    source: &str,
    schema: &Value,
    origin: &str,
) -> Result<T, LoadError> {
    let fail = |mut problems: Vec<Problem>| {
        problems.sort_by(|a, b| a.place.cmp(&b.place));
        // Several problems may share a place (an object's missing keys: probe 106 F4).
        problems.dedup();
        LoadError {
            origin: origin.to_owned(),
            problems,
        }
    };
    let value = load_json(source, origin)?;
    let validator = jsonschema::validator_for(schema).map_err(|error| {
        fail(vec![Problem::at(
            "",
            format!("internal error: the schema: {error}"),
        )])
    })?;
    let problems: Vec<Problem> = (validator.iter_errors(&value))
        .flat_map(|error| explain(&error, schema))
        .filter(|found| found.told)
        .map(|found| Problem::at(found.pointer, found.message))
        .collect();
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    serde_path_to_error::deserialize(&value).map_err(|error| {
        let message = shorten(&error.inner().to_string());
        fail(vec![Problem::at(pointer_of(error.path()), message)])
    })
}

/// The longest document [`read_document`] reads: ten times a million-step workflow.
const LARGEST_DOCUMENT: u64 = 1 << 30;

/// Reads the text of the document at `path` (a workflow, a policy, an input file): a file or
/// a pipe, up to 1 GiB. A device (`/dev/zero`, a terminal) is refused rather than read for
/// ever; the error names the path as its origin.
///
/// ```
/// let error = cairn_engine::read_document("/dev/zero".as_ref()).unwrap_err();
/// assert!(error.to_string().starts_with("/dev/zero: a device, not a file"));
/// ```
pub fn read_document(path: &Path) -> Result<String, LoadError> {
    let fail = |message: String| LoadError {
        origin: crate::path_text(path),
        problems: vec![Problem::at("", message)],
    };
    let unreadable = |error: std::io::Error| {
        // `-` is standard input to many programs; to cairn a file's name.
        let stdin = match path == Path::new("-") {
            true => " (to read standard input, pass /dev/stdin)",
            false => "",
        };
        fail(format!("cannot read the file: {error}{stdin}"))
    };
    let too_long = || fail("longer than 1 GiB, more than cairn reads".into());
    let metadata = std::fs::metadata(path).map_err(unreadable)?;
    let kind = metadata.file_type();
    if kind.is_char_device() || kind.is_block_device() {
        return Err(fail("a device, not a file: pass a file (or a pipe)".into()));
    }
    // A file's length is known: one too long is refused unread (a pipe's only by reading).
    if kind.is_file() && metadata.len() > LARGEST_DOCUMENT {
        return Err(too_long());
    }
    let mut bytes = Vec::new();
    let file = std::fs::File::open(path).map_err(unreadable)?;
    file.take(LARGEST_DOCUMENT + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > LARGEST_DOCUMENT {
        return Err(too_long());
    }
    String::from_utf8(bytes).map_err(|error| {
        let offset = error.utf8_error().valid_up_to();
        let bytes = error.as_bytes();
        let (line, column) = line_column(bytes, offset);
        let message = format!(
            "not UTF-8: the byte at offset {offset} (0x{:02X}) starts an invalid UTF-8 sequence; save the file as UTF-8",
            bytes[offset]
        );
        LoadError {
            origin: crate::path_text(path),
            problems: vec![Problem {
                place: Place::LineCol { line, column },
                message,
            }],
        }
    })
}

/// The line and column (both from 1, the column in bytes, as serde_json counts them) of the
/// byte at `offset` in `text`.
pub(super) fn line_column(text: &[u8], offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line_start = before
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |at| at + 1);
    let line = 1 + before.iter().filter(|&&byte| byte == b'\n').count();
    (line, before.len() - line_start + 1)
}

/// Parses the JSON `source` as a workflow file's text is read: a byte order mark skipped, a
/// syntax error named by its line and column, and an object giving a key twice refused (JSON
/// parsers keep one of the two, silently). `origin` names the text in messages.
///
/// ```
/// let error = cairn_engine::load_json(r#"{"a": 1, "a": 2}"#, "--input").unwrap_err();
/// assert!(error.to_string().starts_with("--input:/a: "));
/// ```
pub fn load_json(source: &str, origin: &str) -> Result<Value, LoadError> {
    let fail = |problem: Problem| LoadError {
        origin: origin.to_owned(),
        problems: vec![problem],
    };
    let source = super::without_bom(source);
    super::unique::scan_text(source).map_err(fail)?;
    serde_json::from_str(source).map_err(|error| fail(syntax_problem(&error)))
}

/// The JSON Schema of documents of type `T`, as [`load_document`] wants it and editors
/// read it: optional keys are written by leaving them out, so the schema does not offer
/// `null` for them (editors complete real values, and a misplaced `null` is caught early),
/// and it names no `format` a validator may not know (schemars' `uint32`: Ajv refuses to
/// compile a schema with one).
pub fn document_schema<T: schemars::JsonSchema>() -> Value {
    let mut schema = schemars::schema_for!(T).to_value();
    crate::definition::tidy::tidy(&mut schema);
    schema
}

/// The JSON pointer of the value serde stopped at.
pub(super) fn pointer_of(path: &serde_path_to_error::Path) -> String {
    let mut pointer = String::new();
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
            serde_path_to_error::Segment::Map { key } => {
                pointer.push_str(&format!("/{}", escape(key)))
            }
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
        }
    }
    pointer
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        name: String,
        #[serde(default)]
        #[expect(dead_code, reason = "only its schema and its parse are checked")]
        every: Option<crate::Duration>,
    }

    fn load(source: &str) -> Result<Doc, LoadError> {
        load_document(source, &document_schema::<Doc>(), "doc.json")
    }

    #[test]
    fn loads_a_good_document() {
        let doc = load(r#"{"name": "a", "every": "5m"}"#).unwrap();
        assert_eq!(doc.name, "a");
    }

    #[test]
    fn a_file_not_utf8_is_refused_at_its_first_bad_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin1.json");
        std::fs::write(&path, b"{\n  \"name\": \"caf\xe9\"}").unwrap();
        let error = read_document(&path).unwrap_err();
        assert_eq!(
            error.problems,
            [Problem {
                place: Place::LineCol {
                    line: 2,
                    column: 15
                },
                message: "not UTF-8: the byte at offset 16 (0xE9) starts an invalid UTF-8 sequence; save the file as UTF-8".into(),
            }]
        );
    }

    #[test]
    fn a_file_name_not_utf8_is_named_with_its_bytes_escaped() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let name = std::ffi::OsStr::from_bytes(b"a\xff.json");
        let missing = read_document(&dir.path().join(name)).unwrap_err();
        assert!(
            missing.origin.ends_with("/a\\xff.json"),
            "{}",
            missing.origin
        );
        std::fs::write(dir.path().join(name), b"\xfe").unwrap();
        let latin1 = read_document(&dir.path().join(name)).unwrap_err();
        assert_eq!(latin1.origin, missing.origin);
    }

    #[test]
    fn reports_every_problem_with_its_place() {
        let error = load(r#"{"nmae": "a", "every": "soon"}"#).unwrap_err();
        let places: Vec<_> = error
            .problems
            .iter()
            .map(|p| (&p.place, &p.message))
            .collect();
        // `name`, misspelt, is not also missing (probe 105 F4); left out, it is.
        assert_eq!(places.len(), 2, "{error}");
        assert!(!error.to_string().contains("missing"), "{error}");
        let missing = load(r#"{"every": "1s"}"#).unwrap_err();
        assert_eq!(missing.to_string(), "doc.json: missing key `name`");
        assert!(
            error.to_string().contains("doc.json:/every: bad duration"),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("doc.json:/nmae: unknown key `nmae` (did you mean `name`?)"),
            "{error}"
        );
        let syntax = load("{\"name\": }").unwrap_err();
        assert!(matches!(
            syntax.problems[0].place,
            Place::LineCol { line: 1, .. }
        ));
    }

    #[test]
    fn a_text_cut_off_after_a_newline_is_named_at_column_1_of_the_next_line() {
        let error = load_json("{\"name\": \"a\"\n", "doc.json").unwrap_err();
        assert_eq!(
            error.to_string(),
            "doc.json:2:1: invalid JSON: EOF while parsing an object"
        );
    }
}
