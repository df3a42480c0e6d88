//! What cairn prints for a person is made printable: a run's text (a step's stderr, an
//! error, a command awaiting approval, a workflow's name) may hold control characters, and
//! a terminal obeys them — an escape sequence can recolour, hide or rewrite what the reader
//! sees, or set their clipboard. [`Printable`] writes each control character (other than a
//! newline and a tab) as `\u{…}`, the way `--json` escapes it.

use std::io::{self, BufWriter, StdoutLock, Write};

/// A writer that escapes the control characters of what it is given, apart from `\n` and
/// `\t`: C0 (including escape and carriage return), delete, and C1 (U+0080–U+009F).
pub(crate) struct Printable<W: Write> {
    out: W,
    /// Off for JSON, which escapes its control characters itself (and may hold C1 ones).
    escape: bool,
    /// The first byte of a two-byte UTF-8 sequence ended the last write: whether it starts
    /// a C1 character depends on the byte after it.
    split: bool,
}

/// The lead byte of the UTF-8 encodings of U+0080–U+00BF, among them C1.
const LEAD: u8 = 0xc2;

impl<W: Write> Printable<W> {
    /// Escapes what is written before passing it on to `out`.
    pub(crate) fn new(out: W) -> Self {
        Printable {
            out,
            escape: true,
            split: false,
        }
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
        let mut plain = 0;
        let mut i = 0;
        if std::mem::take(&mut self.split) {
            match buf.first() {
                Some(&next @ 0x80..=0x9f) => {
                    write!(self.out, "\\u{{{next:x}}}")?;
                    plain = 1;
                    i = 1;
                }
                _ => self.out.write_all(&[LEAD])?,
            }
        }
        while i < buf.len() {
            let byte = buf[i];
            let escaped = match byte {
                b'\n' | b'\t' => None,
                0x00..=0x1f | 0x7f => Some((u32::from(byte), 1)),
                LEAD if i + 1 == buf.len() => {
                    self.out.write_all(&buf[plain..i])?;
                    self.split = true;
                    return Ok(buf.len());
                }
                LEAD if matches!(buf[i + 1], 0x80..=0x9f) => Some((u32::from(buf[i + 1]), 2)),
                _ => None,
            };
            match escaped {
                Some((code, width)) => {
                    self.out.write_all(&buf[plain..i])?;
                    write!(self.out, "\\u{{{code:x}}}")?;
                    i += width;
                    plain = i;
                }
                None => i += 1,
            }
        }
        self.out.write_all(&buf[plain..])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.split) {
            self.out.write_all(&[LEAD])?;
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` with its control characters escaped as [`Printable`] writes them.
    fn printable(text: &str) -> String {
        let mut out = Printable::new(Vec::with_capacity(text.len()));
        // Writing to a `Vec` cannot fail, and escaping keeps UTF-8 whole.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        String::from_utf8_lossy(&out.out).into_owned()
    }

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(
            printable("a\u{1b}[31mred\r\u{7}\u{7f}\u{9b}2J\tb\nü é € 😀"),
            "a\\u{1b}[31mred\\u{d}\\u{7}\\u{7f}\\u{9b}2J\tb\nü é € 😀"
        );
    }

    #[test]
    fn a_c1_character_split_between_two_writes_is_escaped() {
        let mut out = Printable::new(Vec::new());
        out.write_all("x\u{9b}".as_bytes().split_last().unwrap().1)
            .unwrap();
        out.write_all(&[0x9b, b'y']).unwrap();
        // A lead byte followed by a printable character is passed on whole.
        out.write_all(&[LEAD]).unwrap();
        out.write_all(&[0xa9]).unwrap();
        out.flush().unwrap();
        assert_eq!(String::from_utf8(out.out).unwrap(), "x\\u{9b}y©");
    }
}
