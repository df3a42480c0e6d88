//! Where brush-parser's tokenizer loses track of arithmetic: it keeps one switch for "in
//! arithmetic", turned on at a `((`, `$((` or `$[` and off at the first `))` or `]` it
//! delimits, where bash and dash match each arithmetic's own brackets; so a nested or
//! unended one, a `))` or `]` of its own, or one hidden in quotes, makes it read a shift as
//! a here-document's `<<` (or miss one), and a `#` there as a comment. Each scan may find
//! more than there is, never less.

use std::ops::Range;

use brush_parser::Token;

use super::text::shown;

/// What may hide a bracket from a count that reads no quotes: bash's, dash's and the
/// tokenizer's counts pass over a quoted or escaped one.
const HIDE_A_BRACKET: [char; 4] = ['\'', '"', '`', '\\'];

/// A `$[` inside `((…))` or `$((…))` in any script, and in a script with a `<<`,
/// arithmetic the tokenizer loses track of: one nested in another
/// (`$(( $((1)) <<x ))`: the inner one's end turns the tokenizer's arithmetic off, so the
/// outer one's shift starts a here-document hiding the next lines), a `((` not ended by a
/// `))` (`[[ ((a == b) ) ]]`: the tokenizer's arithmetic stays on, so a later here-document
/// is missed and its body read as script), and one holding a quote, a backquote or a
/// backslash, which may hide the bracket this scan takes for its end (probe 163: `$(( '))'
/// + $((1)) << 2 ))⏎rm x⏎2` nests, `((echo '))'; true) )⏎cat <<E` is two subshells that
/// leave the tokenizer's arithmetic on). The arithmetic is found by a scan of the text for
/// `((`, `$((` and `$[`, their ends by counting brackets, quoted or not.
pub(super) fn lost_arithmetic(text: &str) -> Option<String> {
    let documents = text.contains("<<");
    let bytes = text.as_bytes();
    (0..bytes.len()).find_map(|at| {
        let (inside, closed) = arithmetic_at(bytes, at)?;
        // A `$[` inside `((…))` or `$((…))`, in any script: the tokenizer reads on to its
        // `]`, the shells end the arithmetic at its `))` (`(( $[ )); rm y; (( 1 ]))` ran
        // `rm`: probe 141 F2).
        // Looked for up to the first `))`, where the shells end it, whatever brackets come
        // before (`(( ] $[ ))`: probe 144 F2).
        // A quote, a backquote or a backslash before it may hide that `))` (probe 163 F1:
        // `'))'`): then up to the text's end.
        let parentheses = bytes[at..].starts_with(b"((") || bytes[at..].starts_with(b"$((");
        let shells_end = text[at + 2..].find("))").map_or(text.len(), |end| at + 2 + end);
        let shells_end = if text[at..shells_end].contains(HIDE_A_BRACKET) {
            text.len()
        } else {
            shells_end
        };
        if parentheses && text[at..shells_end].contains("$[") {
            let shown = shown(&text[at..]);
            return Some(format!(
                "`{shown}`: a `$[` inside arithmetic, which the parser reads on to its `]`: not checked (write `$((…))`)"
            ));
        }
        let nested = inside.clone().any(|index| opener(bytes, index).is_some());
        // Two of its own parentheses closed together: the tokenizer reads `))` there as the
        // end (`(( ( (1)) << 2 ))`: probe 164 F2).
        let inner_end = text[inside.clone()].contains("))");
        let hidden = text[inside].contains(HIDE_A_BRACKET);
        (documents && (nested || !closed || hidden || inner_end)).then(|| {
            let shown = shown(&text[at..]);
            format!(
                "`{shown}`: arithmetic nested in arithmetic, not ended by `))`, holding a `))` of its own or a quote, a backquote or a backslash (which may hide its end), in a script with a `<<`: the parser loses track of which `<<` starts a here-document: not checked"
            )
        })
    })
}

/// In a script with a `<<`, a `((` inside a `$(…)`, `<(…)` or `>(…)` (among the tokenizer's
/// `tokens`: a word holding one): the tokenizer turns its arithmetic switch on there and
/// the `))` that ends it, read inside the substitution, never off, so a later here-document
/// is read as a shift and its body as script (`echo $( ((1)) ); cat <<E⏎'⏎E⏎rm x #'` runs
/// `rm x`; probe 63 F1).
pub(super) fn arithmetic_in_substitution(text: &str, tokens: &[Token]) -> Option<String> {
    if !text.contains("<<") {
        return None;
    }
    tokens.iter().find_map(|token| {
        let Token::Word(word, _) = token else {
            return None;
        };
        let open = word.find("$(").or_else(|| word.find("<(")).or_else(|| word.find(">("))?;
        let inside = &word[open + 2..];
        let bare = (inside.match_indices("((")).any(|(at, _)| !inside[..at].ends_with('$'));
        bare.then(|| {
            let shown = shown(word);
            format!(
                "`{shown}`: a `((` inside a substitution, in a script with a `<<`: the parser loses track of which `<<` starts a here-document: not checked"
            )
        })
    })
}

/// A `[` inside a `$[…]` (`$[a[1] <<E ]`): the tokenizer ends the arithmetic at the first
/// `]`, bash at the one that matches, so the two read what follows otherwise (a here-document,
/// a comment; probe 64 F1).
pub(super) fn bracket_in_old_arithmetic(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    text.match_indices("$[").find_map(|(at, _)| {
        let (mut inside, _) = arithmetic_at(bytes, at)?;
        inside.any(|index| bytes[index] == b'[').then(|| {
            format!(
                "`{}`: a `[` inside `$[…]`, which the parser ends at the first `]` and bash at the one that matches: not checked (write `$((…))`)",
                shown(&text[at..])
            )
        })
    })
}

/// A `#` that starts a word inside arithmetic (`((…))`, `for ((…))`, `$((…))`, `$[…]`): bash
/// reads no comment there, the tokenizer a comment to the line's end, which hides from the
/// parser what bash expands (`(( #$(rm x)⏎1 ))` runs `rm x`; probe 61 F1). It starts a word
/// after a blank or an operator's character, as the tokenizer reads a comment; a base's `#`
/// (`16#ff`), `$#` and `${#a[@]}` stay allowed. Each arithmetic is scanned to the bracket
/// that closes it, or to the text's end.
pub(super) fn comment_in_arithmetic(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find_map(|at| {
        let (mut inside, _) = arithmetic_at(bytes, at)?;
        let starts_a_word = |before: u8| before.is_ascii_whitespace() || b";&|()<>".contains(&before);
        inside.any(|index| bytes[index] == b'#' && starts_a_word(bytes[index - 1])).then(|| {
            let shown = shown(&text[at..]);
            format!(
                "`{shown}`: a `#` starting a word in arithmetic, where bash reads no comment and the parser does: not checked"
            )
        })
    })
}

/// The arithmetic whose opener starts at `at` (see [`opener`]): where its text lies, from
/// after the opener to the bracket that closes it (brackets of its own kind counted, quoted
/// or not: a `]` ends no `((`, probe 164 F1) or the text's end, and whether that bracket
/// starts what ends this kind (`))`, `]`).
fn arithmetic_at(bytes: &[u8], at: usize) -> Option<(Range<usize>, bool)> {
    let (inner, close) = opener(bytes, at)?;
    let (opening, closing) = if close == b"]" {
        (b'[', b']')
    } else {
        (b'(', b')')
    };
    let mut depth = 0_usize;
    for index in at + inner..bytes.len() {
        match bytes[index] {
            byte if byte == opening => depth += 1,
            byte if byte == closing && depth > 0 => depth -= 1,
            byte if byte == closing => {
                return Some((at + inner..index, bytes[index..].starts_with(close)));
            }
            _ => {}
        }
    }
    Some((at + inner..bytes.len(), false))
}

/// When an arithmetic opener starts at `at` (`((`, not after a `$`; `$((`; `$[`): its length
/// and the text that ends it.
fn opener(bytes: &[u8], at: usize) -> Option<(usize, &'static [u8])> {
    let rest = &bytes[at..];
    if rest.starts_with(b"$((") {
        Some((3, b"))"))
    } else if rest.starts_with(b"$[") {
        Some((2, b"]"))
    } else if rest.starts_with(b"((") && (at == 0 || bytes[at - 1] != b'$') {
        Some((2, b"))"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_where_the_tokenizer_loses_track_of_arithmetic() {
        for script in [
            "echo $(( $((1)) <<x ))",
            "(( 1 + $[2] <<x ))",
            "[[ ((a == b) ) ]]; cat <<E",
            "echo ((; cat <<E",
            "true || (( $[ )); rm y; (( 1 ]))",
            "true || echo \"$(( $[ ))\"; rm y; echo \"] ))\"",
            "true || (( ] $[ )); rm y; (( 1 ]))",
            // Probe 163: a quote, a backquote or a backslash may hide the `))` the scan
            // takes for the end (`'))'` ends nothing for bash, dash or the tokenizer).
            "echo $(( '))' + $((1)) << 2 ))\nrm x\n2",
            "echo $(( '))' + $[1] << 2 ))\nrm x\n2",
            "((echo '))'; true) )\ncat <<E\necho '\nE\nrm x\n'",
            // Probe 164 F1, F2: a `]` hid a nested `$((…))`; two of its own parentheses
            // closed together end the tokenizer's arithmetic.
            "echo $(( ( ( ] ] )) + $((1)) << 2 ))\nrm x\n2",
            "(( ( (1)) << 2 ))\nrm x\n2",
            "for (( i = ( (1)); i << 2; i++ )); do :; done; cat <<E",
            "(( \"))\" + 1 )); cat <<E",
            "(( `echo ))` + 1 )); cat <<E",
            "true || (( '))' $[ )); rm y; (( 1 ]))",
        ] {
            assert!(lost_arithmetic(script).is_some(), "{script}");
        }
        for script in [
            "echo $((1 << 2)) $[3]; (( (a) + 1 )); cat <<E",
            "[[ ((a == b)) ]]; cat <<E",
            "echo $(( $((1)) + 1 ))",
            "(( \"$a\" > 1 )) && echo $(( \"$b\" + 1 ))",
        ] {
            assert!(lost_arithmetic(script).is_none(), "{script}");
        }
        for script in [
            "(( #$(rm x)\n1 ))",
            // Probe 164 F1: a `]` ends no `((`.
            "echo $(( ] #$(rm x)\n))",
            "echo $(( 1 #x\n))",
            "for (( #`x`\n;0; )); do :; done",
        ] {
            assert!(comment_in_arithmetic(script).is_some(), "{script}");
        }
        for script in [
            "echo $((16#ff)) $[2#1]; (( x )) # a comment",
            "(( a[1] + 1 ))",
        ] {
            assert!(comment_in_arithmetic(script).is_none(), "{script}");
        }
    }
}
