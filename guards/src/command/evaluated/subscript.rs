//! Literal text holding an array subscript that runs a command (`a[$(rm x)]`), as written
//! or once `printf`, `echo -e` or `${x@E}` decode its escapes: any text of an action could
//! reach arithmetic through a variable, and bash would run the command.

use super::in_name;
use crate::command::word::{number, plain_arithmetic, runs_commands};

/// Why the literal text `text` is refused, when bash would run a command written in it if
/// the text reached arithmetic: a variable, a positional parameter, a `read` or a function's
/// argument can hold any text of an action, and `(( $1 ))`, `[[ $v -eq 0 ]]`, `${s:$1}` or
/// `${!v}` evaluate what it holds, running the command substitutions in an array subscript
/// (`a[$(rm x)]`). Refused wherever it stands, so that no path to arithmetic is missed.
pub(crate) fn evaluable(text: &str) -> Option<String> {
    spells_a_running_subscript(text).then(|| {
        format!(
            "`{text}` holds an array subscript with a command substitution, which bash runs if the text reaches arithmetic (`(( $1 ))`, `${{!v}}`): not checked"
        )
    })
}

/// Why the literal text `text`, found at `place()` (e.g. "`with.input` at `/files/0`"), is
/// refused: as [`evaluable`], with the text cut short in the reason when it is long.
pub(crate) fn evaluable_at(text: &str, place: impl FnOnce() -> String) -> Option<String> {
    spells_a_running_subscript(text).then(|| {
        let place = place();
        let shown = cairn_engine::cut(text, 120);
        format!(
            "`{shown}` in {place} holds an array subscript with a command substitution, which bash runs if the text reaches arithmetic (`read v; (( v ))`, `${{!v}}`): not checked"
        )
    })
}

/// Whether `text` holds an array subscript that runs a command ([`subscript_runs`]), as
/// written or with its escapes decoded as `printf`, `echo -e` and `${x@E}` decode them:
/// `printf -v v 'a[\044(rm x)]'; (( v ))` and `x='a[\044(rm x)]'; (( ${x@E} ))` ran `rm x`
/// (probe 171 F2, F3).
///
/// Decoded again and again, as `${v@E}` of what `printf -v v` decoded is (`'a[\\x24(…)]'`:
/// probe 172 F1), up to [`MAX_DECODINGS`] texts; and with `printf`'s conversions left out, as
/// one with nothing to convert prints nothing (`printf -v v 'a[$%s(rm y)]'`: probe 172 F3).
fn spells_a_running_subscript(text: &str) -> bool {
    let mut texts = vec![text.to_owned()];
    let mut at = 0;
    while let Some(text) = texts.get(at).cloned() {
        // A brace expansion may put the `[`, the `$` or the `(` next to what follows it
        // (`a{'[$',}'(rm y)]'`: probe 172 F2): scanned with its braces, commas and quotes
        // taken out, which joins what it would make and what it would not.
        let braces_out = || text.replace(['{', '}', ',', '\'', '"'], "");
        if subscript_runs(&text)
            || (text.contains('%') && subscript_runs(&without_conversions(&text)))
            || (text.contains('{') && subscript_runs(&braces_out()))
        {
            return true;
        }
        if text.contains('\\') {
            for echo in [false, true] {
                let decoded = escapes_decoded(&text, echo);
                if texts.len() < MAX_DECODINGS && !texts.contains(&decoded) {
                    texts.push(decoded);
                }
            }
        }
        at += 1;
    }
    false
}

/// How many texts [`spells_a_running_subscript`] decodes a literal text into, at most: a
/// decoding of a decoding, four deep either way, is further than scripts go.
const MAX_DECODINGS: usize = 32;

/// `text` without what `printf` would read as conversions (`%s`, `%-5.0b`, `%d`, …); `%%`
/// stays one `%`.
fn without_conversions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(after) = after.strip_prefix('%') {
            out.push('%');
            rest = after;
            continue;
        }
        let spec = after.trim_start_matches(|c: char| "-+ #0123456789.*'".contains(c));
        match spec.chars().next() {
            Some(conversion) if "diouxXfFeEgGaAcsbqQ".contains(conversion) => rest = &spec[1..],
            _ => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` with each escape that gives an ASCII character replaced by it: `\\`, octal (`\044`,
/// and for `echo` when `echo`, `\0044`), `\xHH`, `\x{…}`, `\uHHHH` and `\UHHHHHHHH`; the
/// others are kept as written.
fn escapes_decoded(text: &str, echo: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = &rest[at + 1..];
        match escaped_ascii(escape.as_bytes(), echo) {
            Some((decoded, length)) => {
                out.push(decoded);
                rest = &escape[length..];
            }
            None => {
                out.push('\\');
                rest = escape;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The ASCII character that the escape `bytes` (what follows its backslash) gives, with the
/// escape's length; `echo`'s octal escapes start with a `0` (`\0044`). An octal or `\x{…}`
/// escape keeps the low 8 bits of its number, as bash does.
fn escaped_ascii(bytes: &[u8], echo: bool) -> Option<(char, usize)> {
    let (skip, radix, most, braced) = match bytes {
        [b'\\', ..] => return Some(('\\', 1)),
        [b'0', ..] if echo => (1, 8, 3, false),
        [b'0'..=b'7', ..] => (0, 8, 3, false),
        [b'x', b'{', ..] => (2, 16, usize::MAX, true),
        [b'x', ..] => (1, 16, 2, false),
        [b'u', ..] => (1, 16, 4, false),
        [b'U', ..] => (1, 16, 8, false),
        _ => return None,
    };
    let (value, digits) = number(&bytes[skip..], radix, most);
    let end = skip + digits;
    if digits == 0 || (braced && bytes.get(end) != Some(&b'}')) {
        return None;
    }
    let value = if radix == 8 || braced {
        value & 0xff
    } else {
        value
    };
    let decoded = char::from_u32(value).filter(char::is_ascii)?;
    Some((decoded, end + usize::from(braced)))
}

/// Whether `text` holds an array subscript — a `[` right after a letter, a digit or a `_` —
/// with a command or process substitution, a backtick, a prompt expansion (`${V@P}`) or a
/// `$` and later a `(` in it, before the `]` that ends it
/// (bash skips quotes, escapes and `${…}` looking for it; this scan reads on to the text's
/// end after a `${`, never stopping earlier than bash). A plain `$((…))` is arithmetic.
fn subscript_runs(text: &str) -> bool {
    let bytes = text.as_bytes();
    // Brackets open since the subscript's, and the quote it is in.
    let mut depth = 0usize;
    let mut quote = None;
    let mut dollar = false;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let rest = text.get(at..).unwrap_or_default();
        at += 1;
        if depth == 0 {
            // Bytes past ASCII may be letters in the shell's locale.
            if byte == b'[' && at >= 2 && (in_name(bytes[at - 2]) || !bytes[at - 2].is_ascii()) {
                (depth, dollar) = (1, false);
            }
            continue;
        }
        // A `$` and, later in the subscript, a `(`: what comes between may be taken out at
        // run time (`x='a[$x(rm y)]'; (( ${x/x} ))`: probe 172 F4).
        match byte {
            b'$' => dollar = true,
            b'(' if dollar => return true,
            _ => {}
        }
        if rest.starts_with('`') || rest.starts_with("<(") || rest.starts_with(">(") {
            return true;
        }
        // `${V@P}` expands `V` as a prompt, running the commands in its value.
        if rest.starts_with("${") {
            return runs_commands(rest) || rest.replace("\\\n", "").contains("@P}");
        }
        if let Some(inside) = rest.strip_prefix("$(") {
            match inside.strip_prefix('(').and_then(plain_arithmetic) {
                Some(length) => at += 2 + length,
                None => return true,
            }
            continue;
        }
        match (quote, byte) {
            (_, b'\\') => at += 1,
            (Some(open), _) if byte == open => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(byte),
            (None, b'[') => depth += 1,
            (None, b']') => depth -= 1,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests;
