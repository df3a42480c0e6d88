//! Text made of bytes that may not be UTF-8 (a program's stderr, a file name), without losing
//! any: each byte that is not UTF-8 is written `\xff`, as cairn prints such a byte for a
//! person, so that two different names never print the same (`�` would stand for any).

use std::fmt::Write;
use std::path::Path;

/// `bytes` as text, each byte that is not UTF-8 written `\xff`.
///
/// ```
/// assert_eq!(cairn_engine::lossless_text(b"caf\xc3\xa9 \xff"), "café \\xff");
/// ```
pub fn lossless_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        for byte in chunk.invalid() {
            let _ = write!(text, "\\x{byte:02x}");
        }
    }
    text
}

/// The first `chars` characters of `text`, or `None` when it has no more than that.
pub(crate) fn head(text: &str, chars: usize) -> Option<&str> {
    (text.char_indices().nth(chars)).map(|(end, _)| &text[..end])
}

/// `text` cut to its first `chars` characters followed by `…`, or whole when no longer: how
/// a message quotes what may be long (a command, a value).
///
/// ```
/// assert_eq!(cairn_engine::cut("héllo world", 5), "héllo…");
/// assert_eq!(cairn_engine::cut("héllo", 5), "héllo");
/// ```
pub fn cut(text: &str, chars: usize) -> String {
    match head(text, chars) {
        Some(start) => format!("{start}…"),
        None => text.to_owned(),
    }
}

/// `n` of `noun`, in the plural unless one: "1 item", "3 items".
pub(crate) fn count(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}

/// `text` cut to its first `chars` characters, followed by `…` and how many it has, or whole
/// when no longer: how a message quotes what may be very long (`héllo… (11 characters)`).
pub(crate) fn elided(text: &str, chars: usize) -> String {
    match head(text, chars) {
        Some(start) => format!("{start}… ({} characters)", text.chars().count()),
        None => text.to_owned(),
    }
}

/// `path` as text for a message: [`lossless_text`] of its bytes (`Path::display` would
/// print `a\xfe.json` and `a\xff.json` both as `a�.json`), on [`one_line`] (a name with a
/// newline would start a line of its own in a message: probe 38 F1).
pub fn path_text(path: &Path) -> String {
    one_line(&lossless_text(path.as_os_str().as_encoded_bytes())).into_owned()
}

/// `text` on one line: a newline in it written `\u{a}`, as cairn prints a control
/// character for a person, so that text quoted in a line (a name, an id, a reason) cannot
/// start a line that reads as another record or as cairn's own.
///
/// ```
/// assert_eq!(cairn_engine::one_line("deploy\nstate succeeded"), "deploy\\u{a}state succeeded");
/// ```
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    match text.contains('\n') {
        true => std::borrow::Cow::Owned(text.replace('\n', "\\u{a}")),
        false => std::borrow::Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    #[test]
    fn a_count_of_one_is_singular() {
        assert_eq!(count(1, "item"), "1 item");
        assert_eq!(
            (count(0, "item"), count(3, "item")),
            ("0 items".into(), "3 items".into())
        );
    }

    #[test]
    fn a_long_text_is_elided_with_its_length() {
        assert_eq!(elided("héllo world", 5), "héllo… (11 characters)");
        assert_eq!(elided("héllo", 5), "héllo");
    }

    #[test]
    fn names_that_differ_in_a_byte_that_is_not_utf8_print_differently() {
        let fe = path_text(Path::new(OsStr::from_bytes(b"dir/a\xfe.json")));
        let ff = path_text(Path::new(OsStr::from_bytes(b"dir/a\xff.json")));
        assert_eq!(
            (fe.as_str(), ff.as_str()),
            ("dir/a\\xfe.json", "dir/a\\xff.json")
        );
        assert_eq!(path_text(Path::new("dir/café.json")), "dir/café.json");
    }

    #[test]
    fn the_stores_errors_name_their_file_with_its_bytes_escaped() {
        let path = Path::new(OsStr::from_bytes(b"runs\xff/cairn.db")).to_owned();
        let errors = [
            crate::Error::MissingDirectory(path.clone()),
            crate::Error::Locked(path.clone()),
            crate::Error::ForeignDatabase {
                path,
                tables: "t".into(),
            },
        ];
        for error in errors {
            assert!(
                error.to_string().starts_with("runs\\xff/cairn.db"),
                "{error}"
            );
        }
    }
}
