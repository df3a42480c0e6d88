//! Refusing a JSON object that gives a key twice. RFC 8259 only says keys SHOULD be unique,
//! and a `serde_json::Value` keeps the last one: in `{"deny": [["rm"]], "deny": []}` a reader
//! sees a deny list and the loader would read an empty one. A file is scanned for such keys before it
//! is read: once over its text, keeping only the keys of the objects the scan is inside of
//! (no tree of the file), with the JSON pointer of the first duplicate built on the way out.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::syntax_problem;
use crate::problem::{Problem, escape};

/// Checks that no object of the JSON text `source` gives a key twice (keys compared after
/// their escapes are read: `"a"` and `"\u0061"` are the same key). The problem is the first
/// duplicate, at its JSON pointer and with its line and column, or the syntax error that
/// stopped the scan.
pub(super) fn unique_keys(source: &str) -> Result<(), Problem> {
    let mut duplicate = None;
    let mut deserializer = serde_json::Deserializer::from_str(source);
    let scan = Scan {
        duplicate: &mut duplicate,
    };
    let scanned = (scan.deserialize(&mut deserializer)).and_then(|()| deserializer.end());
    match (scanned, duplicate) {
        (Ok(()), _) => Ok(()),
        (Err(error), Some(duplicate)) => {
            // Where the key begins, when it is read from the text as it is; else where the
            // scan stopped, right after it.
            let (line, column) = (duplicate.at)
                .and_then(|at| line_column(source, at))
                .unwrap_or((error.line(), error.column()));
            let key = duplicate.key;
            let message = format!(
                "the file gives the key `{key}` twice (the second at line {line}, column {column}); keep one"
            );
            Err(Problem::at(duplicate.pointer, message))
        }
        (Err(error), None) => Err(syntax_problem(&error)),
    }
}

/// The line and column of the opening quote of the key at address `key`, in `source`.
fn line_column(source: &str, key: usize) -> Option<(usize, usize)> {
    let offset = key.checked_sub(source.as_ptr() as usize)?;
    Some(super::document::line_column(
        source.as_bytes(),
        offset.checked_sub(1)?,
    ))
}

/// A key an object gives twice, and where: its pointer, built up as the scan unwinds.
struct Duplicate {
    pointer: String,
    key: String,
    /// The key's address in the text, when it was read without a copy (it has no escapes).
    at: Option<usize>,
}

/// Scans one value; a duplicate found in it is recorded in `duplicate`, and stops the scan.
struct Scan<'s> {
    duplicate: &'s mut Option<Duplicate>,
}

impl Scan<'_> {
    /// The scan of a member of the value scanned.
    fn member(&mut self) -> Scan<'_> {
        Scan {
            duplicate: &mut *self.duplicate,
        }
    }

    /// Puts `token` in front of the pointer of the duplicate found, if one was: the scan
    /// unwinds through `token`.
    fn unwinds_through(&mut self, token: &str) {
        if let Some(duplicate) = self.duplicate {
            duplicate
                .pointer
                .insert_str(0, &format!("/{}", escape(token)));
        }
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

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
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
                *self.duplicate = Some(Duplicate {
                    pointer: String::new(),
                    key: key.to_string(),
                    at,
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
