//! JSON as the CLIs' writers print it, where serde_json is stricter than they are: a number
//! past a float's range (`1e400`), `NaN` and `Infinity` (Python's `json.dumps`), and a lone
//! surrogate escape (`"\ud83d"`, which JavaScript's `JSON.stringify` writes for half an
//! emoji). Refused, they lost the line they stood in, answer and cost with it: the cost a
//! budget counts (probe 56 F3, probe 177 F1–F3).

use serde_json::Value;

/// The largest float, written as JSON: what a number past the range stands for.
const LARGEST: &str = "1.7976931348623157e308";
/// The lowest float, written as JSON: what a negative number past the range stands for.
const LOWEST: &str = "-1.7976931348623157e308";

/// `text` parsed as JSON; if serde_json refuses it for what [`mended`] mends, parsed mended.
pub(super) fn parse(text: &str) -> Option<Value> {
    match serde_json::from_str(text) {
        Ok(value) => Some(value),
        // A stream of events is not one document: it is read line by line.
        Err(error) if error.to_string().starts_with("trailing characters") => None,
        Err(error) if error.is_syntax() => serde_json::from_str(&mended(text)?).ok(),
        Err(_) => None,
    }
}

/// `text` mended for serde_json, or `None` when nothing in it needs mending: outside strings,
/// a number past a float's range becomes the largest of its sign, `Infinity` too, and `NaN`
/// `null` (a cost not a number counts 0); inside them, a surrogate escape not in a pair
/// becomes `\ufffd`, the replacement character.
fn mended(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    // What to write instead of `text[start..end]`, in order.
    let mut edits: Vec<(usize, usize, &str)> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += match bytes[at] {
                        b'\\' if surrogate_pair(bytes, at) => 12,
                        b'\\' if surrogate(bytes, at) => {
                            edits.push((at, at + 6, "\\ufffd"));
                            6
                        }
                        b'\\' => 2,
                        _ => 1,
                    };
                }
                at += 1;
            }
            b'-' | b'0'..=b'9' | b'N' | b'I' => {
                let end = (at..bytes.len())
                    .find(|&end| {
                        !bytes[end].is_ascii_alphanumeric() && !b"+-.".contains(&bytes[end])
                    })
                    .unwrap_or(bytes.len());
                let token = &text[at..end];
                let (largest, unsigned) = match token.strip_prefix('-') {
                    Some(unsigned) => (LOWEST, unsigned),
                    None => (LARGEST, token),
                };
                match unsigned {
                    "NaN" if token == unsigned => edits.push((at, end, "null")),
                    "Infinity" => edits.push((at, end, largest)),
                    _ if json_number(unsigned)
                        && token.parse::<f64>().is_ok_and(f64::is_infinite) =>
                    {
                        edits.push((at, end, largest));
                    }
                    _ => {}
                }
                at = end;
            }
            _ => at += 1,
        }
    }
    if edits.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end, with) in edits {
        out.push_str(&text[copied..start]);
        out.push_str(with);
        copied = end;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// Whether `text` is a number as JSON spells it, without its sign: `0` or digits not
/// starting with `0`, then a fraction and an exponent if any. Rust's float parser reads
/// more (`inf`, `01e400`, `1.e400`), which no JSON writer prints (probe 179 F4, 181 F4).
fn json_number(text: &str) -> bool {
    let digits = |text: &str| text.bytes().take_while(u8::is_ascii_digit).count();
    let whole = digits(text);
    if whole == 0 || (whole > 1 && text.starts_with('0')) {
        return false;
    }
    let mut rest = &text[whole..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let length = digits(fraction);
        if length == 0 {
            return false;
        }
        rest = &fraction[length..];
    }
    if let Some(exponent) = rest.strip_prefix(['e', 'E']) {
        let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        let length = digits(exponent);
        return length > 0 && length == exponent.len();
    }
    rest.is_empty()
}

/// The number of the `\uXXXX` escape at `at`, if one is there.
fn escape_at(bytes: &[u8], at: usize) -> Option<u32> {
    let hex = bytes.get(at..at + 6)?.strip_prefix(b"\\u")?;
    let digits = std::str::from_utf8(hex)
        .ok()
        .filter(|_| hex.iter().all(u8::is_ascii_hexdigit))?;
    u32::from_str_radix(digits, 16).ok()
}

/// Whether the escape at `at` is a surrogate's.
fn surrogate(bytes: &[u8], at: usize) -> bool {
    escape_at(bytes, at).is_some_and(|code| (0xD800..0xE000).contains(&code))
}

/// Whether the escape at `at` is a high surrogate's followed by a low one's: a pair, which
/// serde_json reads.
fn surrogate_pair(bytes: &[u8], at: usize) -> bool {
    escape_at(bytes, at).is_some_and(|high| (0xD800..0xDC00).contains(&high))
        && escape_at(bytes, at + 6).is_some_and(|low| (0xDC00..0xE000).contains(&low))
}

#[cfg(test)]
mod tests;
