//! The pieces of a template string: its text, and the `${{ expr }}` expressions in it, found
//! without parsing them (only where each one ends).

use smallvec::SmallVec;

use super::ExprError;

/// Whether `byte` may be part of a CEL identifier.
pub(super) fn is_ident_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// A part of a template string.
#[derive(Debug, PartialEq)]
pub(super) enum Piece<'a> {
    Text(&'a str),
    Expr(&'a str),
}

/// Where the first `${{` of `text` starts. A byte-by-byte look, as in
/// [`super::steps_read`]'s scan: these texts are short.
pub(crate) fn find_open(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(2))
        .find(|&at| bytes[at] == b'$' && bytes[at + 1] == b'{' && bytes[at + 2] == b'{')
}

/// Splits a template into text and expressions (trimmed).
pub(super) fn pieces(text: &str) -> Result<SmallVec<[Piece<'_>; 3]>, ExprError> {
    let mut pieces = SmallVec::new();
    let mut rest = text;
    while let Some(open) = find_open(rest) {
        if open > 0 {
            pieces.push(Piece::Text(&rest[..open]));
        }
        let inner = &rest[open + 3..];
        let close = closing_braces(inner)
            .ok_or_else(|| ExprError::new(text, "`${{` is never closed by `}}`"))?;
        let expr = inner[..close].trim();
        if expr.is_empty() {
            return Err(ExprError::new(text, "empty `${{ }}`"));
        }
        pieces.push(Piece::Expr(expr));
        rest = &inner[close + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

/// The offset of the `}}` that ends an expression, skipping string literals (CEL's: quoted
/// with `'` or `"`, or three of either, which may hold the other quote and newlines; raw
/// with an `r` before, in which `\` escapes nothing) and the braces of map literals.
fn closing_braces(inner: &str) -> Option<usize> {
    let bytes = inner.as_bytes();
    let mut depth = 0usize;
    // The open literal: its quote, whether tripled, whether raw.
    let mut literal: Option<(u8, bool, bool)> = None;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let tripled = |quote| bytes.get(index + 1..index + 3) == Some(&[quote, quote][..]);
        match literal {
            Some((_, _, false)) if byte == b'\\' => index += 1,
            Some((quote, triple, _)) if byte == quote && (!triple || tripled(quote)) => {
                literal = None;
                index += if triple { 2 } else { 0 };
            }
            Some(_) => {}
            None => match byte {
                b'"' | b'\'' => {
                    let triple = tripled(byte);
                    literal = Some((byte, triple, raw_prefix(&bytes[..index])));
                    index += if triple { 2 } else { 0 };
                }
                b'{' => depth += 1,
                b'}' if depth > 0 => depth -= 1,
                b'}' if bytes.get(index + 1) == Some(&b'}') => return Some(index),
                _ => {}
            },
        }
        index += 1;
    }
    None
}

/// Whether `before`, the text before a quote, ends with the prefix of a raw literal: `r` or
/// `R`, alone or with `b`/`B` on either side (`rb'…'`, `br'…'`), not the end of a name.
fn raw_prefix(before: &[u8]) -> bool {
    let is_r = |byte: &u8| byte.eq_ignore_ascii_case(&b'r');
    let is_b = |byte: &u8| byte.eq_ignore_ascii_case(&b'b');
    let prefix = match before {
        [.., b, r] if is_b(b) && is_r(r) => 2,
        [.., r, b] if is_r(r) && is_b(b) => 2,
        [.., r] if is_r(r) => 1,
        _ => return false,
    };
    !before[..before.len() - prefix]
        .last()
        .is_some_and(|&byte| is_ident_byte(byte))
}
