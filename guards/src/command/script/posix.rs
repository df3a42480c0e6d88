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

/// A here-document opened in a `$(…)` that closes before the document's body
/// (`echo $(cat <<EOF)`, the lines after it its body): bash reads it so, dash gives it none
/// and runs those lines (probe 117 F3). The tokenizer tells it: it hands over the `<<` (or
/// `<<-`) of such a document among the script's own tokens, inside the span of the word
/// the `$(…)` is, where a document whose body is inside its `$(…)` stays in the word (probe
/// 118 F1, F2: a scan of each line missed a `$(` on the line before and was misled by
/// quotes).
pub(super) fn document_outside_its_substitution(tokens: &[Token]) -> Option<String> {
    // The words' spans by start, each with the furthest end of those starting before it.
    let mut words: Vec<(usize, usize)> = (tokens.iter())
        .filter_map(|token| match token {
            Token::Word(_, at) => Some((at.start.index, at.end.index)),
            Token::Operator(..) => None,
        })
        .collect();
    words.sort_unstable();
    let mut furthest = 0;
    for word in &mut words {
        furthest = furthest.max(word.1);
        word.1 = furthest;
    }
    let inside_a_word = |at: usize| {
        let before = words.partition_point(|&(start, _)| start < at);
        before > 0 && words[before - 1].1 > at
    };
    tokens.iter().find_map(|token| match token {
        Token::Operator(operator, at)
            if (operator == "<<" || operator == "<<-") && inside_a_word(at.start.index) =>
        {
            Some(not_bash(
                "a here-document in a `$(…)` that closes before its body (dash gives it none and runs the lines after it)",
            ))
        }
        _ => None,
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
        ] {
            let found = document_outside_its_substitution(&tokens(text));
            assert!(found.is_some(), "{text:?}");
        }
        for text in [
            "x=$(cat <<EOF\nbody\nEOF\n)",
            "cat <<EOF; echo $(date)\nbody\nEOF",
            "echo $(( 1 << 2 ))",
            "cat <<< $(date)",
            "echo $(date) <<EOF\nbody\nEOF",
            "printf '%s\\n' \"$(date +%Y)\" \"shift: (1 << 4)\"",
        ] {
            let found = document_outside_its_substitution(&tokens(text));
            assert_eq!(found, None, "{text:?}");
        }
    }
}
