//! What the lenient reading mends, and what it leaves alone.

use serde_json::json;

use super::{mended, parse};

#[test]
fn a_lone_surrogate_escape_becomes_the_replacement_character() {
    let cases = [
        (r#"{"a":"Hi \ud83d"}"#, "Hi \u{fffd}"),
        (r#"{"a":"\ude00 x"}"#, "\u{fffd} x"),
        (r#"{"a":"\ud83d\ud83d\ude00"}"#, "\u{fffd}\u{1f600}"),
        (r#"{"a":"\ud83d\n\ude00"}"#, "\u{fffd}\n\u{fffd}"),
        (r#"{"a":"\"\ud83d"}"#, "\"\u{fffd}"),
    ];
    for (text, read) in cases {
        assert_eq!(parse(text), Some(json!({"a": read})), "{text}");
    }
    // A pair, and text that only looks like an escape (an escaped backslash), are kept.
    assert_eq!(mended(r#"{"a":"\ud83d\ude00 \\ud83d"}"#), None);
}

#[test]
fn nan_is_null_and_infinities_and_numbers_past_a_float_are_the_largest() {
    let text = r#"{"a":NaN,"b":Infinity,"c":-Infinity,"d":1e400,"e":-2e999,"f":[1e999,1e999,1e999,1e999,1e999,1e999,1e999,1e999,1e999]}"#;
    let largest = f64::MAX;
    let nine = vec![largest; 9];
    assert_eq!(
        parse(text),
        Some(
            json!({"a": null, "b": largest, "c": -largest, "d": largest, "e": -largest,
            "f": nine})
        )
    );
    // Inside a string they are text.
    assert_eq!(
        mended(r#"{"a":"NaN 1e400","b":NaN}"#).as_deref(),
        Some(r#"{"a":"NaN 1e400","b":null}"#)
    );
}

#[test]
fn what_is_not_one_json_document_stays_unread() {
    for text in [
        "{\"a\":1}\n{\"b\":NaN}",
        "Thinking… 1e400 NaN",
        r#"{"a":"\ud83d""#,
        "{\"a\": Nan}",
        // Spellings Rust's float parser reads and JSON's writers do not print (probe 179 F4).
        "{\"a\": -inf}",
        "{\"a\": Inf}",
        "{\"a\": INFINITY}",
        "{\"a\": --NaN}",
        "{\"a\": --1e400}",
        "{\"a\": -NaN}",
        // Not JSON's grammar, though Rust's float parser reads them (probe 181 F4).
        "{\"a\": 01e400}",
        "{\"a\": 1.e400}",
        "{\"a\": -01e400}",
        "{\"a\": 1e400.5}",
        "{\"a\": 1e+}",
    ] {
        assert_eq!(parse(text), None, "{text}");
    }
}

#[test]
fn odd_text_is_read_or_left_without_a_panic() {
    for text in [
        "\"\\é\"",
        "é1e400é",
        "{\"a\":\"\\ud83d",
        "{\"a\":\"\\ud83d\\u",
        "{\"a\":\"\\u12\"}",
        "-",
        "NaNé",
        "[1e400é]",
        "\"",
        "\\",
        "[\"\\\\\\ud83d\", -Infinityé]",
    ] {
        let _ = parse(text);
        let _ = mended(text);
    }
    assert_eq!(
        parse("[\"\\\\\\ud83d\", -Infinity]"),
        Some(json!(["\\\u{fffd}", -f64::MAX]))
    );
}
