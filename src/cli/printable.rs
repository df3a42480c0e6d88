//! What cairn prints for a person is made printable: a run's text (a step's stderr, an
//! error, a command awaiting approval, a workflow's name) may hold control characters, and
//! a terminal obeys them — an escape sequence can recolour, hide or rewrite what the reader
//! sees, or set their clipboard — and bidirectional overrides reorder what is shown.
//! [`Printable`] writes each such character as `\u{…}`.

use std::borrow::Cow;
use std::io::{self, BufWriter, StdoutLock, Write};

use super::progress;

/// Writes `message` and a newline on stderr for a person, made printable, above the progress
/// bar if one is drawn ([`progress::stderr`]). A failure to write it (a closed pipe, a full
/// disk) is ignored: nothing cairn does depends on being heard, and a pause or a run must not
/// be lost because its log could not be written.
pub(crate) fn say(message: impl std::fmt::Display) {
    let _ = writeln!(Printable::new(progress::stderr()), "{message}");
}

/// A writer that escapes what would not read as written: control characters apart from
/// `\n` and `\t` (C0, delete, C1) and the invisible characters that reorder or hide text
/// (bidirectional marks, embeddings, overrides and isolates; zero-width characters), and
/// the noncharacters U+FFFE and U+FFFF, which XML cannot hold.
pub(crate) struct Printable<W: Write> {
    out: W,
    /// Off for JSON, which escapes its control characters itself.
    escape: bool,
    /// Whether a newline is written as it is; else only one that ends a write is
    /// ([`log_line`]).
    newlines: bool,
    /// The start of a UTF-8 character that the last write ended in the middle of.
    partial: Vec<u8>,
}

impl<W: Write> Printable<W> {
    /// Escapes what is written before passing it on to `out`.
    pub(crate) fn new(out: W) -> Self {
        Printable {
            out,
            escape: true,
            newlines: true,
            partial: Vec::new(),
        }
    }

    /// Writes `bytes` escaped: their UTF-8 text through [`Printable::write_text`], each byte
    /// that is not UTF-8 as `\x..` (a terminal reading 8-bit controls would obey `\x9b`), and
    /// a character cut off at the end kept for the next write to complete.
    fn write_bytes(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let error = match std::str::from_utf8(bytes) {
                Ok(text) => return self.write_text(text),
                Err(error) => error,
            };
            let (valid, after) = bytes.split_at(error.valid_up_to());
            self.write_text(std::str::from_utf8(valid).unwrap_or_default())?;
            let Some(length) = error.error_len() else {
                self.partial = after.to_vec();
                return Ok(());
            };
            for byte in &after[..length] {
                write!(self.out, "\\x{byte:02x}")?;
            }
            bytes = &after[length..];
        }
        Ok(())
    }

    /// Writes `bytes` escaped, after the start of a character the last write ended in.
    fn write_after_partial(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.partial.is_empty() {
            return self.write_bytes(bytes);
        }
        let mut joined = std::mem::take(&mut self.partial);
        joined.extend_from_slice(bytes);
        self.write_bytes(&joined)
    }

    /// Writes `text` with the characters [`escaped`] escaped.
    fn write_text(&mut self, text: &str) -> io::Result<()> {
        let mut plain = 0;
        for (at, c) in text.char_indices() {
            if escaped(c) || (c == '\n' && !self.newlines) {
                self.out.write_all(&text.as_bytes()[plain..at])?;
                write!(self.out, "\\u{{{:x}}}", u32::from(c))?;
                plain = at + c.len_utf8();
            }
        }
        self.out.write_all(&text.as_bytes()[plain..])
    }
}

/// Whether `c` is written escaped: a control character but newline and tab, the line and
/// paragraph separators (which some terminals break a line at), a noncharacter, or an
/// invisible one that reorders or hides text — Unicode's default
/// ignorable code points (bidirectional marks and overrides, zero-width characters, fillers,
/// tags), except the variation selectors, which only choose how the character before them
/// looks (an emoji's).
fn escaped(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\t'))
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{fff9}'..='\u{fffb}' | '\u{fffe}' | '\u{ffff}'
        )
        || (cairn_engine::is_default_ignorable(c) && !cairn_engine::is_variation_selector(c))
}

pub(crate) use cairn_engine::one_line;

/// `text` printed after a label `indent` columns wide: every line after its first is
/// indented to the same column, so that a program's output (a stderr tail in an error)
/// never starts a line of its own that reads as cairn's.
pub(crate) fn indented(text: &str, indent: usize) -> Cow<'_, str> {
    match text.contains('\n') {
        true => Cow::Owned(text.replace('\n', &format!("\n{:indent$}", ""))),
        false => Cow::Borrowed(text),
    }
}

/// A writer of log lines to `out`, each write one line (tracing's formatter writes an event
/// at once), escaped as [`Printable`] escapes, newlines too but the one that ends it: a
/// value logged (an operator's name, a program's path) cannot start a line that reads as
/// cairn's (probe 37 F1).
pub(crate) fn log_line<W: Write>(out: W) -> Printable<W> {
    Printable {
        newlines: false,
        ..Printable::new(out)
    }
}

/// Standard output, buffered, for a command's output: made printable unless it is `json`.
pub(crate) fn stdout(json: bool) -> Printable<BufWriter<StdoutLock<'static>>> {
    Printable {
        escape: !json,
        ..Printable::new(BufWriter::new(io::stdout().lock()))
    }
}

impl<W: Write> Write for Printable<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.escape {
            return self.out.write(buf);
        }
        match buf.strip_suffix(b"\n").filter(|_| !self.newlines) {
            Some(line) => {
                self.write_after_partial(line)?;
                let partial = std::mem::take(&mut self.partial);
                self.out.write_all(&partial)?;
                self.out.write_all(b"\n")?;
            }
            None => self.write_after_partial(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let partial = std::mem::take(&mut self.partial);
        self.out.write_all(&partial)?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` with its characters escaped as [`Printable`] writes them.
    fn printable(text: &str) -> String {
        let mut out = Printable::new(Vec::with_capacity(text.len()));
        // Writing to a `Vec` cannot fail, and escaping keeps UTF-8 whole.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        String::from_utf8_lossy(&out.out).into_owned()
    }

    #[test]
    fn control_and_reordering_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(
            printable("a\u{1b}[31mred\r\u{7}\u{7f}\u{9b}2J\tb\nü é € 😀"),
            "a\\u{1b}[31mred\\u{d}\\u{7}\\u{7f}\\u{9b}2J\tb\nü é € 😀"
        );
        assert_eq!(
            printable("main\u{202e}nur-yrd\u{2066}x\u{200b}\u{fffe}"),
            "main\\u{202e}nur-yrd\\u{2066}x\\u{200b}\\u{fffe}"
        );
    }

    #[test]
    fn characters_that_hide_text_are_escaped_and_an_emoji_keeps_its_presentation() {
        // A word joiner, a soft hyphen, a Mongolian vowel separator, and "rm" in tags.
        assert_eq!(
            printable("a\u{2060}b\u{ad}c\u{180e}d\u{e0072}\u{e006d}"),
            "a\\u{2060}b\\u{ad}c\\u{180e}d\\u{e0072}\\u{e006d}"
        );
        assert_eq!(printable("\u{2764}\u{fe0f}"), "\u{2764}\u{fe0f}");
        assert_eq!(printable("a\u{2028}b\u{2029}"), "a\\u{2028}b\\u{2029}");
    }

    #[test]
    fn a_log_line_keeps_only_the_newline_that_ends_it() {
        let mut out = log_line(Vec::new());
        out.write_all(b" WARN cancel asked by=ann\nrun x succeeded\x1b[2J\n")
            .unwrap();
        assert_eq!(
            String::from_utf8(out.out).unwrap(),
            " WARN cancel asked by=ann\\u{a}run x succeeded\\u{1b}[2J\n"
        );
    }

    #[test]
    fn a_newline_cannot_start_a_line_of_its_own() {
        assert_eq!(
            one_line("deploy\nstate succeeded"),
            "deploy\\u{a}state succeeded"
        );
        assert_eq!(
            indented("failed\nrun x succeeded", 4),
            "failed\n    run x succeeded"
        );
        assert!(matches!(indented("one line", 4), Cow::Borrowed(_)));
    }

    #[test]
    fn a_character_split_between_two_writes_is_escaped_whole() {
        let mut out = Printable::new(Vec::new());
        let override_ = "x\u{202e}".as_bytes();
        out.write_all(&override_[..2]).unwrap();
        out.write_all(&override_[2..]).unwrap();
        out.write_all(&[0xc2]).unwrap();
        out.write_all(&[0xa9, 0xff, b'y']).unwrap();
        out.flush().unwrap();
        assert_eq!(String::from_utf8(out.out).unwrap(), "x\\u{202e}©\\xffy");
    }
}
