//! What a POSIX sh (dash) or a Korn shell reads otherwise than bash, found in a script's text
//! or tokens before it is parsed with bash's grammar; bash's `--posix` reading, the second
//! walk, reads these as bash does (probe 117). Each scan may find more than there is, never
//! less.

use brush_parser::Token;

use super::not_bash;

/// A descriptor of two digits or more before a redirection (`12>f`, `01<f`), as the
/// tokenizer hands it over (a word of digits right before an operator starting with `<` or
/// `>`, which the parser takes for its number): dash takes a single digit only, so
/// `env -u 12>/dev/null rm x` runs `rm x` there, the word `12` read as `-u`'s value (probe
/// 117 F4).
pub(super) fn long_descriptor(tokens: &[Token]) -> Option<String> {
    tokens.windows(2).find_map(|pair| match pair {
        [Token::Word(word, at), Token::Operator(operator, next)]
            if word.len() > 1
                && word.bytes().all(|byte| byte.is_ascii_digit())
                && operator.starts_with(['<', '>'])
                && at.end.index == next.start.index =>
        {
            Some(not_bash(&format!(
                "the descriptor `{word}{operator}` (dash reads one digit: `{word}` is a word)"
            )))
        }
        _ => None,
    })
}

/// A word the tokenizer hands over otherwise than it is written, but for backslash-newlines
/// removed: a here-document's `<<` taken out of a `$(…)` that closes before the document's
/// body (`echo $(cat <<EOF)`, the lines after it its body), or that body read into a later or
/// an enclosing `$(…)` or `$[…]` (`echo $(true <<EOF) $(true⏎rm x⏎EOF⏎)`). bash reads those
/// lines as the body; dash gives the document none and runs them (probes 117 F3, 118 F1,
/// F2, 120 F1: scans for the `<<` missed where the tokenizer moved it). A document whose
/// body is inside its own `$(…)` stays in the word as written.
pub(super) fn moved_into_or_out_of_a_word(text: &str, tokens: &[Token]) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    // A document's body is a word of its own, two after its `<<` (the delimiter between),
    // and stands without the delimiter's line that ends it.
    let body = |at: usize| {
        (at.checked_sub(2).and_then(|operator| tokens.get(operator))).is_some_and(|operator| {
            matches!(operator, Token::Operator(operator, _) if operator == "<<" || operator == "<<-")
        })
    };
    tokens.iter().enumerate().find_map(|(at, token)| {
        let Token::Word(word, span) = token else {
            return None;
        };
        let written: String = (chars.get(span.start.index..span.end.index))
            .unwrap_or_default()
            .iter()
            .collect();
        let same = *word == written || *word == written.replace("\\\n", "");
        let documents = word.contains("<<") || written.contains("<<");
        (!same && documents && !body(at)).then(|| {
            not_bash(
                "a here-document in a `$(…)` that closes before its body (dash gives it none and runs the lines after it)",
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<Token> {
        brush_parser::uncached_tokenize_str(text, &super::super::options().tokenizer_options())
            .unwrap()
    }

    #[test]
    fn a_descriptor_of_several_digits_is_found() {
        for text in ["env -u 12>/dev/null rm x", "ls 01<f", "a 10>&1", "x 99>>f"] {
            assert!(long_descriptor(&tokens(text)).is_some(), "{text}");
        }
        for text in [
            "echo 2>/dev/null",
            "echo 12 >f",
            "echo a12>f",
            "echo \"12\">f",
            "echo 1>&2",
        ] {
            assert_eq!(long_descriptor(&tokens(text)), None, "{text}");
        }
    }

    #[test]
    fn a_document_whose_body_is_outside_its_substitution_is_found() {
        for text in [
            "ls $(ls <<true)\nrm x\ntrue",
            "x=$(cat <<EOF)\nrm x\nEOF",
            "echo \"$(cat <<-EOF)\"\nrm x\nEOF",
            "echo ${x:-$(cat <<EOF)}\nrm x\nEOF",
            "echo $((1 << 2)) $(cat <<EOF)\nrm x\nEOF",
            "echo $(\ncat <<true)\nrm x\ntrue",
            "echo $(cat <<true; echo '\n')\nrm x\ntrue",
            "echo '$((' $(cat <<true) '))'\nrm x\ntrue",
            "echo $(echo $(cat <<true))\nrm x\ntrue",
            "echo $(true <<EOF) $(true\nrm x\nEOF\n)",
            "echo $(true $(true <<EOF)\nrm x\nEOF\n)",
            "echo $(true <<EOF) $[\nrm x\nEOF\n]",
            "cat <<< a $(true <<EOF)\nrm x\nEOF",
        ] {
            let found = moved_into_or_out_of_a_word(text, &tokens(text));
            assert!(found.is_some(), "{text:?}");
        }
        for text in [
            "x=$(cat <<EOF\nbody\nEOF\n)",
            "cat <<EOF; echo $(date)\nbody\nEOF",
            "echo $(( 1 << 2 ))",
            "cat <<< $(date)",
            "echo $(date) <<EOF\nbody\nEOF",
            "printf '%s\\n' \"$(date +%Y)\" \"shift: (1 << 4)\"",
            "cat <<EOF\nshift: 1 << 4 $(date)\nEOF\necho $(( 1 << 2 ))",
            "x=$(cat <<EOF\nhi\nEOF\n) && cat <<-A <<B\n\ta << b\nA\nb\nB",
        ] {
            let found = moved_into_or_out_of_a_word(text, &tokens(text));
            assert_eq!(found, None, "{text:?}");
        }
    }
}
