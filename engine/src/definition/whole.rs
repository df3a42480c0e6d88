//! Whole numbers read as the JSON Schema's `integer` reads them: `2`, `2.0` and `2e0` are
//! the same number (JSON has one kind of number), so a file the schema accepts loads. For
//! the counts of workflow files and of other documents (a guard's policy files).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, Error, Unexpected, Visitor};

/// 2^64, the first whole number a `u64` cannot hold, as a float (exactly).
const BEYOND_U64: f64 = 18_446_744_073_709_551_616.0;

/// A whole number of type `T`, written as an integer or as a float with no fraction.
struct Whole<T>(T);

impl<'de, T: TryFrom<u64>> Deserialize<'de> for Whole<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_u64(WholeVisitor(PhantomData))
    }
}

struct WholeVisitor<T>(PhantomData<T>);

impl<T: TryFrom<u64>> Visitor<'_> for WholeVisitor<T> {
    type Value = Whole<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a whole number in range")
    }

    fn visit_u64<E: Error>(self, number: u64) -> Result<Whole<T>, E> {
        let out_of_range = || E::invalid_value(Unexpected::Unsigned(number), &self);
        T::try_from(number).map(Whole).map_err(|_| out_of_range())
    }

    fn visit_i64<E: Error>(self, number: i64) -> Result<Whole<T>, E> {
        let fits = u64::try_from(number)
            .ok()
            .and_then(|number| T::try_from(number).ok());
        fits.map(Whole)
            .ok_or_else(|| E::invalid_value(Unexpected::Signed(number), &self))
    }

    fn visit_f64<E: Error>(self, number: f64) -> Result<Whole<T>, E> {
        // Exact: a float with no fraction in [0, 2^64) is a `u64`.
        let whole = number.fract() == 0.0 && (0.0..BEYOND_U64).contains(&number);
        let fits = whole.then(|| T::try_from(number as u64).ok()).flatten();
        fits.map(Whole)
            .ok_or_else(|| E::invalid_value(Unexpected::Float(number), &self))
    }
}

/// Deserializes a whole number (for `#[serde(deserialize_with)]`).
pub fn required<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
    deserializer: D,
) -> Result<T, D::Error> {
    Whole::deserialize(deserializer).map(|Whole(number)| number)
}

/// Deserializes an optional whole number (for `#[serde(deserialize_with)]`).
pub fn optional<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    Option::<Whole<T>>::deserialize(deserializer).map(|number| number.map(|Whole(number)| number))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Counts {
        #[serde(deserialize_with = "super::required")]
        most: u32,
        #[serde(default, deserialize_with = "super::optional")]
        maybe: Option<u32>,
    }

    fn read(text: &str) -> Result<(u32, Option<u32>), String> {
        let counts: Counts = serde_json::from_str(text).map_err(|error| error.to_string())?;
        Ok((counts.most, counts.maybe))
    }

    #[test]
    fn a_whole_number_reads_alike_written_as_an_integer_or_a_float() {
        assert_eq!(read(r#"{"most": 2}"#), Ok((2, None)));
        assert_eq!(read(r#"{"most": 2.0, "maybe": 3e0}"#), Ok((2, Some(3))));
        assert_eq!(read(r#"{"most": 4294967295.0}"#), Ok((u32::MAX, None)));
        // From a `Value`, as the loader's full way reads it.
        let value = serde_json::json!({"most": 1e3, "maybe": 7.0});
        let counts = Counts::deserialize(&value).unwrap();
        assert_eq!((counts.most, counts.maybe), (1000, Some(7)));
    }

    #[test]
    fn a_fraction_a_negative_or_a_number_past_the_type_is_refused() {
        for (text, found) in [
            (r#"{"most": 2.5}"#, "floating point `2.5`"),
            (r#"{"most": -1}"#, "integer `-1`"),
            (r#"{"most": -1.0}"#, "floating point `-1.0`"),
            (r#"{"most": 4294967296}"#, "integer `4294967296`"),
            (r#"{"most": 4294967296.0}"#, "floating point `4294967296.0`"),
            (r#"{"most": 1e300}"#, "floating point `1e+300`"),
            (
                r#"{"most": 18446744073709551616.0}"#,
                "floating point `1.8446744073709552e+19`",
            ),
            (r#"{"most": 1, "maybe": 0.5}"#, "floating point `0.5`"),
        ] {
            let error = read(text).unwrap_err();
            assert!(
                error.contains(&format!(
                    "invalid value: {found}, expected a whole number in range"
                )),
                "{text}: {error}"
            );
        }
    }
}
