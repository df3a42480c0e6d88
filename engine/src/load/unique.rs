//! Refusing a JSON object that gives a key twice, and an integer beyond 64 bits.
//!
//! RFC 8259 only says keys SHOULD be unique, and a `serde_json::Value` keeps the last one:
//! in `{"deny": [["rm"]], "deny": []}` a reader sees a deny list and the loader would read an
//! empty one. A file is scanned for such keys before it is read: once over its text, keeping
//! only the keys of the objects the scan is inside of (no tree of the file), with the JSON
//! pointer of the first duplicate built on the way out.
//!
//! serde_json reads an integer beyond 64 bits as the nearest float, silently:
//! `123456789012345678901234567890` would become `1.2345678901234568e29`. Text with a run of
//! 19 digits (the fewest such an integer has) is searched for one, and the same scan stops
//! at it, for its pointer.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::syntax_problem;
use crate::problem::{Problem, escape};

/// Checks the JSON text `source` before it is read: no object gives a key twice (keys
/// compared after their escapes are read: `"a"` and `"\u0061"` are the same key), and no
/// integer is beyond 64 bits. The problem is the first found, at its JSON pointer and with
/// its line and column, or the syntax error that stopped the scan.
pub(super) fn scan_text(source: &str) -> Result<(), Problem> {
    let big = big_integer(source);
    let mut state = State {
        found: None,
        numbers: 0,
        big: big.map(|big| big.index),
    };
    let mut deserializer = serde_json::Deserializer::from_str(source);
    let scan = Scan { state: &mut state };
    let scanned = (scan.deserialize(&mut deserializer)).and_then(|()| deserializer.end());
    match (scanned, state.found, big) {
        (Ok(()), _, _) => Ok(()),
        (Err(_), Some(Found { pointer, key: None }), Some(big)) => {
            let (line, column) = super::document::line_column(source.as_bytes(), big.offset);
            Err(Problem::at(pointer, big.message(line, column)))
        }
        (
            Err(error),
            Some(Found {
                pointer,
                key: Some((key, at)),
            }),
            _,
        ) => {
            // Where the key begins, when it is read from the text as it is; else where the
            // scan stopped, right after it.
            let (line, column) = at
                .and_then(|at| line_column(source, at))
                .unwrap_or((error.line(), error.column()));
            let message = format!(
                "the object gives the key `{key}` twice (the second at line {line}, column {column}); keep one"
            );
            Err(Problem::at(pointer, message))
        }
        (Err(error), _, _) => Err(syntax_problem(&error)),
    }
}

/// The fewest digits an integer beyond 64 bits has (`-9223372036854775809`).
const BIG_DIGITS: usize = 19;

/// An integer of the text beyond 64 bits.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BigInteger<'s> {
    /// How many numbers come before it in the text.
    index: usize,
    /// Its byte offset in the text.
    offset: usize,
    /// As the text writes it.
    text: &'s str,
}

impl BigInteger<'_> {
    /// What is wrong, and the fix.
    fn message(&self, line: usize, column: usize) -> String {
        let text = self.text;
        let shown = match text.char_indices().nth(2 * BIG_DIGITS) {
            Some(_) => format!("{}… ({} digits)", &text[..BIG_DIGITS], text.len()),
            None => text.to_owned(),
        };
        let near = match text.parse::<f64>() {
            Ok(float) if float.is_finite() => format!(", or as {float:e} if a float will do"),
            _ => String::new(),
        };
        format!(
            "the integer {shown} (line {line}, column {column}) is beyond 64 bits, which cairn cannot keep exactly (integers run from {} to {}): write it as a string{near}",
            i64::MIN,
            u64::MAX
        )
    }
}

/// The first integer of the JSON text `source` beyond 64 bits, if it has one: found in a
/// walk over the text's bytes, taken only when the text has a run of [`BIG_DIGITS`] digits.
fn big_integer(source: &str) -> Option<BigInteger<'_>> {
    let bytes = source.as_bytes();
    let mut run = 0;
    if !bytes.iter().any(|byte| {
        run = if byte.is_ascii_digit() { run + 1 } else { 0 };
        run >= BIG_DIGITS
    }) {
        return None;
    }
    let (mut at, mut index, mut in_string) = (0, 0, false);
    while at < bytes.len() {
        match (in_string, bytes[at]) {
            (true, b'\\') => at += 1,
            (true, b'"') | (false, b'"') => in_string = !in_string,
            (false, b'-' | b'0'..=b'9') => {
                // Outside strings, only numbers hold `-` and digits.
                let end = (bytes[at..].iter())
                    .position(|byte| {
                        !matches!(byte, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                    })
                    .map_or(bytes.len(), |length| at + length);
                let text = &source[at..end];
                let digits = text.strip_prefix('-').unwrap_or(text);
                if digits.len() >= BIG_DIGITS
                    && digits.bytes().all(|byte| byte.is_ascii_digit())
                    && text.parse::<i64>().is_err()
                    && text.parse::<u64>().is_err()
                {
                    return Some(BigInteger {
                        index,
                        offset: at,
                        text,
                    });
                }
                (index, at) = (index + 1, end);
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// The line and column of the opening quote of the key at address `key`, in `source`.
fn line_column(source: &str, key: usize) -> Option<(usize, usize)> {
    let offset = key.checked_sub(source.as_ptr() as usize)?;
    Some(super::document::line_column(
        source.as_bytes(),
        offset.checked_sub(1)?,
    ))
}

/// What the scan stopped at: its pointer, built up as the scan unwinds, and the key given
/// twice with its address in the text when it was read without a copy (it has no escapes),
/// or none for the integer beyond 64 bits.
struct Found {
    pointer: String,
    key: Option<(String, Option<usize>)>,
}

/// What the scan found and counted so far.
struct State {
    found: Option<Found>,
    /// The numbers scanned.
    numbers: usize,
    /// The index among the numbers of the integer beyond 64 bits, if the text has one.
    big: Option<usize>,
}

/// Scans one value; what it stops at is recorded in its state.
struct Scan<'s> {
    state: &'s mut State,
}

impl Scan<'_> {
    /// The scan of a member of the value scanned.
    fn member(&mut self) -> Scan<'_> {
        Scan {
            state: &mut *self.state,
        }
    }

    /// Puts `token` in front of the pointer of what was found, if anything was: the scan
    /// unwinds through `token`.
    fn unwinds_through(&mut self, token: &str) {
        if let Some(found) = &mut self.state.found {
            found.pointer.insert_str(0, &format!("/{}", escape(token)));
        }
    }

    /// Counts a number; stops at the integer beyond 64 bits.
    fn number<E: de::Error>(self) -> Result<(), E> {
        let index = self.state.numbers;
        self.state.numbers += 1;
        if self.state.big == Some(index) {
            self.state.found = Some(Found {
                pointer: String::new(),
                key: None,
            });
            return Err(E::custom("an integer beyond 64 bits"));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Scan<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scan<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.number()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.number()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.number()
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut items: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            match items.next_element_seed(self.member()) {
                Ok(Some(())) => index += 1,
                Ok(None) => return Ok(()),
                Err(error) => {
                    self.unwinds_through(&index.to_string());
                    return Err(error);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut members: A) -> Result<(), A::Error> {
        let mut keys = Keys::default();
        while let Some(Key(key)) = members.next_key()? {
            if keys.contains(&key) {
                let at = match &key {
                    Cow::Borrowed(text) => Some(text.as_ptr() as usize),
                    Cow::Owned(_) => None,
                };
                self.state.found = Some(Found {
                    pointer: String::new(),
                    key: Some((key.to_string(), at)),
                });
                self.unwinds_through(&key);
                return Err(de::Error::custom("duplicate key"));
            }
            if let Err(error) = members.next_value_seed(self.member()) {
                self.unwinds_through(&key);
                return Err(error);
            }
            keys.insert(key);
        }
        Ok(())
    }
}

/// The keys of an object read so far: in a list while they are few (most objects have a
/// handful, and comparing them is quicker than hashing them), in a set beyond.
#[derive(Default)]
struct Keys<'de> {
    few: Vec<Cow<'de, str>>,
    many: HashSet<Cow<'de, str>>,
}

/// The most keys [`Keys`] keeps in its list.
const FEW_KEYS: usize = 16;

impl<'de> Keys<'de> {
    fn contains(&self, key: &str) -> bool {
        self.few.iter().any(|known| known == key) || self.many.contains(key)
    }

    fn insert(&mut self, key: Cow<'de, str>) {
        if self.few.len() < FEW_KEYS {
            self.few.push(key);
        } else {
            self.many.insert(key);
        }
    }
}

/// An object's key, borrowed from the text unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(key)))
    }

    fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_integer_beyond_64_bits_is_refused_at_its_pointer() {
        for kept in [
            r#"{"a": [18446744073709551615, -9223372036854775808, 1e30, 1.0e19]}"#,
            r#"{"a": "123456789012345678901234567890", "b\"": 12345678901234567890.5}"#,
        ] {
            assert_eq!(scan_text(kept), Ok(()), "{kept}");
        }
        let big = "{\"s\": \"\\\"1\", \"a\": [1e300,\n {\"b/c\": 18446744073709551616}]}";
        let problem = scan_text(big).unwrap_err();
        assert_eq!(problem.place, crate::Place::Pointer("/a/1/b~1c".into()));
        assert!(
            (problem.message).starts_with(
                "the integer 18446744073709551616 (line 2, column 10) is beyond 64 bits"
            ),
            "{}",
            problem.message
        );
    }
}
