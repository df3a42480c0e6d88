//! JSON serialized only to be measured: its length, or its length and its SHA-256, counted
//! as it is written rather than from a copy of the text (an output or a definition may be
//! hundreds of megabytes).

use std::io::{self, Write};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// How many bytes `value` takes as JSON (0 if it cannot be serialized).
pub(crate) fn json_len(value: &impl Serialize) -> usize {
    let mut counted = Counted {
        len: 0,
        inner: io::sink(),
    };
    serde_json::to_writer(&mut counted, value).map_or(0, |()| counted.len)
}

/// How many bytes `value` takes as JSON, and their SHA-256 in hex.
pub(crate) fn json_len_and_hash(value: &impl Serialize) -> serde_json::Result<(usize, String)> {
    let mut counted = Counted {
        len: 0,
        inner: Sha256::new(),
    };
    serde_json::to_writer(&mut counted, value)?;
    Ok((counted.len, format!("{:x}", counted.inner.finalize())))
}

/// A writer that counts the bytes it passes on to `inner`.
struct Counted<W> {
    len: usize,
    inner: W,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.inner.write_all(bytes)?;
        self.len += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{json_len, json_len_and_hash};
    use crate::store::digest;

    #[test]
    fn the_length_and_hash_are_those_of_the_serialized_text() {
        for value in [
            json!(null),
            json!("héllo\n"),
            json!({"a": [1, 2.5, {"b": true}]}),
        ] {
            let text = serde_json::to_string(&value).unwrap();
            assert_eq!(json_len(&value), text.len(), "{value}");
            let (len, hash) = json_len_and_hash(&value).unwrap();
            assert_eq!((len, hash), (text.len(), digest(&text)), "{value}");
        }
    }
}
