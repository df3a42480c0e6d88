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

/// A here-document opened in a `$(…)` that closes on the same line (`echo $(cat <<EOF)`):
/// bash reads the lines after it as its body, dash gives it none and runs them (probe 117
/// F3). Found line by line: a `$(` (not arithmetic's `$((`, whose `<<` is a shift), then a
/// `<<` (not the here-string `<<<`), then a `)`.
pub(super) fn document_in_closed_substitution(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = without_arithmetic(line);
        let opened = (line.match_indices("$(").map(|(at, _)| at))
            .find(|&at| !line[at + 2..].starts_with('('))?;
        let after = &line[opened..];
        let document = (after.match_indices("<<").map(|(at, _)| at))
            .find(|&at| !after[at + 2..].starts_with('<') && !after[..at].ends_with('<'))?;
        after[document..].contains(')').then(|| {
            not_bash("a here-document in a `$(…)` closed on its line (dash gives it no body and runs the lines after it)")
        })
    })
}

/// `line` with the text of each `$((…))` left out, up to the first `))` after it.
fn without_arithmetic(line: &str) -> String {
    let mut kept = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find("$((") {
        kept.push_str(&rest[..at]);
        rest = rest[at..]
            .find("))")
            .map_or("", |end| &rest[at + end + 2..]);
    }
    kept.push_str(rest);
    kept
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
    fn a_document_in_a_substitution_closed_on_its_line_is_found() {
        for text in [
            "ls $(ls <<true)\nrm x\ntrue",
            "x=$(cat <<EOF)",
            "echo \"$(cat <<-EOF)\"",
            "echo ${x:-$(cat <<EOF)}",
            "echo $((1 << 2)) $(cat <<EOF)",
        ] {
            assert!(document_in_closed_substitution(text).is_some(), "{text}");
        }
        for text in [
            "x=$(cat <<EOF\nbody\nEOF\n)",
            "cat <<EOF; echo $(date)\nbody\nEOF",
            "echo $(( 1 << 2 ))",
            "cat <<< $(date)",
            "echo $(date) <<EOF\nbody\nEOF",
        ] {
            assert_eq!(document_in_closed_substitution(text), None, "{text}");
        }
    }
}
