//! The outputs of a `for_each` step's items and the size of the list they make, so that an
//! item is held to the run's cap on its own and, with the items that succeeded before it,
//! as the step's list: a step of thousands of items neither holds nor commits more than the
//! cap of outputs before its end finds the list over it.

use serde_json::Value;

use super::super::attempt::too_large;
use crate::executor::ExecError;
use crate::measure::json_len;

/// Each item's output, once it succeeded, with the JSON length of those held.
#[derive(Debug, Clone, Default)]
pub(super) struct Outputs {
    values: Vec<Option<Value>>,
    /// How many values are held.
    held: usize,
    /// Their JSON bytes, together.
    bytes: usize,
}

impl Outputs {
    /// How many items the step's list has.
    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether item `index` succeeded.
    pub(super) fn has(&self, index: usize) -> bool {
        self.values.get(index).is_some_and(Option::is_some)
    }

    /// How many items of the list have not succeeded.
    pub(super) fn missing(&self) -> usize {
        self.values.len() - self.held
    }

    /// The outputs held, in item order.
    pub(super) fn values(&self) -> impl Iterator<Item = &Value> {
        self.values.iter().flatten()
    }

    /// The list grows to `len` items (the new ones not succeeded) or shrinks to it (the
    /// outputs past it dropped).
    pub(super) fn resize(&mut self, len: usize) {
        for index in len..self.values.len() {
            self.take(index);
        }
        self.values.resize(len, None);
    }

    /// Item `index` succeeded with `output` of `bytes` bytes of JSON (see [`Outputs::admit`]).
    pub(super) fn set(&mut self, index: usize, output: Value, bytes: usize) {
        if self.values.len() <= index {
            self.values.resize(index + 1, None);
        }
        self.take(index);
        self.values[index] = Some(output);
        (self.held, self.bytes) = (self.held + 1, self.bytes + bytes);
    }

    /// Item `index`, committed `succeeded` with `output`, as a takeover reads it.
    pub(super) fn restore(&mut self, index: usize, output: Value) {
        let bytes = json_len(&output);
        self.set(index, output, bytes);
    }

    /// No item has succeeded (a redrive from the step runs them all again).
    pub(super) fn clear(&mut self) {
        self.values.fill(None);
        (self.held, self.bytes) = (0, 0);
    }

    /// The JSON length of an item's `output`, or its failure (class `output_too_large`)
    /// when it is over the run's `cap` on its own, or when the step's list, with the
    /// outputs of the items that succeeded before it, would be.
    pub(super) fn admit(&self, output: &Value, cap: usize) -> Result<usize, ExecError> {
        let bytes = json_len(output);
        if bytes > cap {
            return Err(too_large(
                &format!("output is {bytes} bytes"),
                cap,
                "an item's",
            ));
        }
        // `[`, `]`, and a comma between each two outputs.
        let list = 2 + self.bytes + bytes + self.held;
        if list > cap {
            let why = format!(
                "output is {bytes} bytes; with it the step's list of outputs would be {list} \
                 bytes ({} succeeded before it: {} bytes)",
                self.held, self.bytes
            );
            return Err(too_large(&why, cap, "a step's"));
        }
        Ok(bytes)
    }

    /// Drops item `index`'s output, if held.
    fn take(&mut self, index: usize) {
        if let Some(old) = self.values.get_mut(index).and_then(Option::take) {
            (self.held, self.bytes) = (self.held - 1, self.bytes - json_len(&old));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A JSON string of `len` bytes.
    fn text(len: usize) -> Value {
        Value::String("a".repeat(len - 2))
    }

    fn admitted(outputs: &mut Outputs, index: usize, output: Value, cap: usize) -> bool {
        match outputs.admit(&output, cap) {
            Ok(bytes) => {
                outputs.set(index, output, bytes);
                true
            }
            Err(_) => false,
        }
    }

    #[test]
    fn an_item_is_admitted_while_the_list_it_makes_is_within_the_cap() {
        let mut outputs = Outputs::default();
        outputs.resize(4);
        // `[` 10 `,` 10 `,` 10 `]`: 34 bytes.
        assert!(admitted(&mut outputs, 2, text(10), 34));
        assert!(admitted(&mut outputs, 0, text(10), 34));
        assert!(admitted(&mut outputs, 1, text(10), 34));
        assert_eq!(outputs.missing(), 1);
        assert!(
            !admitted(&mut outputs, 3, json!(1), 34),
            "36 bytes: one too many"
        );
        let list = Value::Array(outputs.values().cloned().collect());
        assert_eq!(crate::measure::json_len(&list), 34);
    }

    #[test]
    fn the_failure_says_how_big_the_list_would_be() {
        let mut outputs = Outputs::default();
        outputs.restore(0, text(400));
        outputs.restore(1, text(400));
        let error = outputs.admit(&text(400), 1000).unwrap_err();
        assert_eq!(error.class, crate::executor::ErrorClass::OutputTooLarge);
        assert_eq!(
            error.message,
            "output is 400 bytes; with it the step's list of outputs would be 1204 bytes (2 \
             succeeded before it: 800 bytes), over the run's cap of 1000 bytes on a step's \
             output (a retry of the run with a bigger cap keeps it)"
        );
        let alone = outputs.admit(&text(1001), 1000).unwrap_err();
        assert!(
            alone.message.starts_with("output is 1001 bytes, over"),
            "{alone:?}"
        );
    }

    #[test]
    fn outputs_dropped_no_longer_count() {
        let mut outputs = Outputs::default();
        for index in 0..3 {
            outputs.restore(index, text(300));
        }
        assert!(outputs.admit(&text(300), 1000).is_err());
        outputs.resize(2);
        assert_eq!(outputs.admit(&text(300), 1000), Ok(300));
        outputs.set(1, json!(null), 4);
        assert_eq!(
            outputs.admit(&text(600), 1000),
            Ok(600),
            "item 1's 300 bytes replaced"
        );
        outputs.clear();
        assert_eq!(
            (outputs.missing(), outputs.admit(&text(998), 1000)),
            (2, Ok(998))
        );
    }
}
