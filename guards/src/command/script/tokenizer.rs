//! Where brush-parser's tokenizer keeps a state bash does not — a quote open, a here-document
//! pending (its arithmetic switch: [`super::arithmetic`]) — found in a script's text before
//! it is parsed, so that the program the parser hands over never hides lines bash runs. Each
//! scan may find more than there is, never less.

use std::borrow::Cow;

use brush_parser::{SourceSpan, Token};

use super::arithmetic::arithmetic_in_substitution;
use super::dialect::{self, Dialect};
use super::reader;
use super::text::{delimiter_starts, ends_a_word, shown, splits_words};

/// A quote after a `$` that is the second of `$$`, or an escaped `\$`: the tokenizer opens
/// an ANSI-C quote there (its `\'` escapes a quote), bash a plain one (`$$` then `'\'`),
/// so the two end the quote at different places (`echo $$'\'; rm x; #''\'` runs `rm x`:
/// probe 57). Every pair, overlapping: `\$$$'` is `\$`, `$$` and `'` (probe 143 F1).
pub(super) fn after_the_pid(text: &str) -> Option<String> {
    let at = pid_before(text, &['\'']).or_else(|| text.find("\\$'"))?;
    Some(format!(
        "`{}` opens a plain quote for bash and a `$'…'` for the parser, which ends it elsewhere: not checked (put the `'` apart: `\"$$\"'…'`)",
        &text[at..at + 3]
    ))
}

/// Where in `text` a `$$` stands right before one of `next`, every pair looked at,
/// overlapping.
fn pid_before(text: &str, next: &[char]) -> Option<usize> {
    (text.char_indices())
        .map(|(at, _)| at)
        .filter(|&at| text[at..].starts_with("$$"))
        .find(|&at| text[at + 2..].starts_with(next))
}

/// A `{`, `[` or `(` after a `$` that is the second of `$$`, in a word of `tokens` where
/// the shell expands it (outside single quotes, and not in a document whose delimiter is
/// quoted): the tokenizer reads that `$` as opening `${…}`, `$[…]` or `$(…)`, where bash and
/// dash read the process id and a plain character, so the two end what follows at
/// different places (`echo $${x-; rm y; echo }`, `echo $$[; rm y; echo ]`, dash's `"$$(echo
/// "; rm y; echo ")"` ran `rm`: probe 140 F1, F2; `\$$${`, 143 F1). In a comment, single
/// quotes or a quoted document's body it is text (a Makefile's `$${HOME}` written with
/// `cat <<'EOF'`: probe 142 F3).
fn pid_before_bracket(tokens: &[Token]) -> Option<String> {
    expanded_words(tokens).find_map(|(word, expanded)| {
        pid_before(&expanded, &['{', '[', '(']).map(|_| {
            format!(
                "`{}`: `$$` is the process id and a plain character to the shell, an expansion to the parser, which ends it elsewhere: not checked (put the character apart: `\"$$\"{{`)",
                shown(word)
            )
        })
    })
}

/// Each word among `tokens`, with the part of it the shell expands: outside single quotes
/// and escapes ([`expanded_part`]); a here-document's body whole, and none of it if its
/// delimiter is quoted.
pub(super) fn expanded_words(tokens: &[Token]) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
    tokens.iter().enumerate().filter_map(|(at, token)| {
        let Token::Word(word, _) = token else {
            return None;
        };
        let body = document_operator_before(tokens, at, 2);
        let quoted = |delimiter: &Token| {
            matches!(delimiter, Token::Word(delimiter, _) if delimiter.contains(['\'', '"', '\\']))
        };
        if body && tokens.get(at - 1).is_some_and(quoted) {
            return None;
        }
        let expanded = if body {
            Cow::Borrowed(word.as_str())
        } else {
            Cow::Owned(expanded_part(word))
        };
        Some((word.as_str(), expanded))
    })
}

/// `word` without what the shell expands nothing in: its escaped characters (`\${x}` is
/// text), each kept as two blanks, and its single-quoted parts (`'…'`, and `$'…'`, whose
/// backslash escapes a quote) — those only in a word with no double quote, backquote, `#`
/// or line break, where a `'` may be inside something else (`"$(echo "'")"$${x-…`: probe
/// 144 F1) and is then kept with what follows it.
fn expanded_part(word: &str) -> String {
    let quotes = !word.contains(['"', '`', '#', '\n']);
    let mut kept = String::with_capacity(word.len());
    let (mut chars, mut before) = (word.chars(), ' ');
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                kept.push_str("  ");
                chars.next();
                before = ' ';
                continue;
            }
            '\'' if quotes => {
                let escapes = before == '$';
                while let Some(q) = chars.next() {
                    match q {
                        '\\' if escapes => drop(chars.next()),
                        '\'' => break,
                        _ => {}
                    }
                }
                before = '\'';
                continue;
            }
            _ => {}
        }
        kept.push(c);
        before = c;
    }
    kept
}

/// A here-document delimiter whose quoting bash keeps a part of: a quote inside quotes of
/// the other kind, a backslash inside quotes, or an escaped backslash (`<<'E"X'` ends at a
/// line `E"X` for bash; the tokenizer drops every quote and backslash and reads on to `EX`,
/// taking the lines between, which bash runs, for the document).
pub(super) fn misread_delimiter(text: &str) -> Option<String> {
    delimiter_starts(text).find_map(|start| {
        let word = delimiter_word(start);
        let kinds = ['\'', '"', '\\'].iter().filter(|&&c| word.contains(c)).count();
        (kinds > 1 || word.contains("\\\\")).then(|| {
            format!(
                "the here-document delimiter `{word}` holds a quote or a backslash that bash keeps and the parser drops: not checked (name it with letters: `<<'EOF'`)"
            )
        })
    })
}

/// Whether the tokenizer's `operator` opens a here-document (`<<` or `<<-`, not the
/// here-string `<<<`).
pub(super) fn opens_a_document(operator: &str) -> bool {
    operator == "<<" || operator == "<<-"
}

/// A here-document delimiter holding a `${`, `$(` or `$[` after an operator the tokenizer
/// took for a here-document's (among its `tokens` of the text `chars`, outside `((…))`, where `<<` is a
/// shift): bash takes the delimiter as written, the tokenizer a word inside the expansion
/// (`<<${x:-E}` ends at a line `x:-E`, the lines before it hidden; probe 59 F5). Arithmetic
/// nested in arithmetic, which this count of `((` and `))` could misjudge, is refused apart
/// ([`super::arithmetic::lost_arithmetic`]).
fn expanding_delimiter(chars: &[char], tokens: &[Token]) -> Option<String> {
    // As the tokenizer's own switch: on at a `(` right before another, off at a `)` right
    // before another.
    let mut arithmetic = false;
    let operators: Vec<(&str, &SourceSpan)> = (tokens.iter())
        .filter_map(|token| match token {
            Token::Operator(operator, span) => Some((operator.as_str(), span)),
            Token::Word(..) => None,
        })
        .collect();
    (0..operators.len()).find_map(|at| {
        let (operator, span) = operators[at];
        let doubled = (operators.get(at + 1))
            .is_some_and(|&(next, next_span)| next == operator && next_span.start.index == span.end.index);
        match operator {
            "(" if doubled => arithmetic = true,
            ")" if doubled => arithmetic = false,
            _ => {}
        }
        if arithmetic || !opens_a_document(operator) {
            return None;
        }
        let after: String = chars.get(span.end.index..).unwrap_or_default().iter().collect();
        let after = after.trim_start_matches([' ', '\t']);
        // The word to a blank, and as quotes and backquotes extend it: a backquote, which
        // bash keeps in the delimiter, may end it elsewhere for a reader (probe 152 F1:
        // `<<'true x'`x`` ends at a line `true x`x``), and so may a process substitution
        // glued to it, which bash keeps in the word (probe 153 F1: `<<E>(true)` ends at a
        // line `E>(true)`, the tokenizer's at `E`).
        let to_a_blank = &after[..after.find(splits_words).unwrap_or(after.len())];
        let quoted = delimiter_word(after);
        let holds = |word: &str| {
            ["${", "$(", "$[", "`", "<(", ">("].iter().any(|open| word.contains(open))
        };
        let word = std::cmp::max_by_key(to_a_blank, quoted, |word| word.len());
        (holds(to_a_blank) || holds(quoted)).then(|| {
            format!(
                "the here-document delimiter `{word}` holds an expansion, a backquote or a process substitution, which the parser takes a word of for the delimiter: not checked (name it with letters: `<<'EOF'`)"
            )
        })
    })
}

/// The delimiter word at the start of `start`, as written: up to a blank or an operator
/// character outside quotes and backquotes (or to the end of an unterminated one).
pub(super) fn delimiter_word(start: &str) -> &str {
    let mut quote = None;
    let mut chars = start.char_indices();
    while let Some((at, c)) = chars.next() {
        match (quote, c) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '\\') => {
                chars.next();
            }
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, c) if ends_a_word(c) => return &start[..at],
            _ => {}
        }
    }
    start
}

/// The line that ends the here-document whose delimiter word starts `start`: the word with
/// its quotes and backslashes removed.
pub(super) fn delimiter_line(start: &str) -> String {
    delimiter_word(start).replace(['\'', '"', '\\'], "")
}

/// What the tokenizer, whose `tokens` of `text` these are, reads otherwise than the shell of
/// `dialect`, found among its tokens (see each scan; those comparing tokens with the text
/// they stand for read its characters, collected once).
pub(super) fn misread_in_tokens(text: &str, tokens: &[Token], dialect: Dialect) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    expanding_delimiter(&chars, tokens)
        .or_else(|| arithmetic_in_substitution(text, tokens))
        .or_else(|| words_taken_out(tokens))
        .or_else(|| dropped_text(&chars, tokens))
        .or_else(|| pid_before_bracket(tokens))
        .or_else(|| reader::document_operator_lines(&chars, tokens))
        .or_else(|| document_moved_in(&chars, tokens))
        .or_else(|| match dialect {
            Dialect::Bash => None,
            _ => dialect::long_descriptor(tokens)
                .or_else(|| dialect::moved_into_or_out_of_a_word(&chars, tokens))
                .or_else(|| dialect::substituted_subshell(text))
                .or_else(|| dialect::parameter_misread(tokens)),
        })
}

/// Text of `text` that no token among `tokens` covers, other than blanks, line breaks,
/// backslash-newlines and comments: the tokenizer dropped it (`echo $(rm y; $(<<E)⏎E⏎)` came
/// as `echo`, ` $()` and the body, `rm y;` in no token: probe 145 F1).
fn dropped_text(chars: &[char], tokens: &[Token]) -> Option<String> {
    let mut covered = vec![false; chars.len()];
    for token in tokens {
        let (Token::Word(_, span) | Token::Operator(_, span)) = token;
        let end = span.end.index.min(chars.len());
        covered[span.start.index.min(end)..end].fill(true);
    }
    let mut at = 0;
    while at < chars.len() {
        match chars[at] {
            _ if covered[at] => {}
            ' ' | '\t' | '\n' => {}
            '\\' if chars.get(at + 1) == Some(&'\n') => at += 1,
            // A comment runs to its line's end.
            '#' => {
                while at + 1 < chars.len() && chars[at + 1] != '\n' {
                    at += 1;
                }
            }
            _ => {
                let shown: String = chars[at..]
                    .iter()
                    .take_while(|&&c| c != '\n')
                    .take(20)
                    .collect();
                return Some(format!(
                    "`{shown}`: text the parser drops from the script: not checked"
                ));
            }
        }
        at += 1;
    }
    None
}

/// A token among `tokens` that stands inside another's span: the tokenizer took the words of
/// an expansion out of it. brush-parser 0.4.0 as published does so with every `$(…)`,
/// `$((…))`, `$[…]` and `${…}` after a here-document's operator and before the line its body
/// starts on: `cat <<E; echo $(rm x)` comes as `echo`, `rm`, `x`, `$()`, so the walk judges
/// `echo rm x $()` and bash runs `rm` (probe 130: only the walk of bash's reprint saw it,
/// where there is one). The vendored copy's patch reads such an expansion whole; this stays
/// the net should a tokenizer without the patch come back. Tokens come out of
/// order around a document's body, which is why spans are compared, not positions. A
/// delimiter is no such word: `x=$(cat <<EOF)⏎hi⏎EOF` comes as `<<`, `EOF`, the body, then
/// `x=$(cat )`, and bash too reads the lines after it as the body.
fn words_taken_out(tokens: &[Token]) -> Option<String> {
    let mut spans: Vec<(usize, usize, &str)> = (tokens.iter().enumerate())
        .filter_map(|(at, token)| match token {
            Token::Word(word, span) if !document_operator_before(tokens, at, 1) => {
                Some((span.start.index, span.end.index, word.as_str()))
            }
            _ => None,
        })
        .filter(|(start, end, _)| start < end)
        .collect();
    spans.sort_unstable();
    let mut widest: Option<(usize, &str)> = None;
    for (start, end, word) in spans {
        if let Some((_, outer)) = widest.filter(|&(outer_end, _)| start < outer_end) {
            let outer = shown(outer);
            return Some(format!(
                "`{outer}`: an expansion after a here-document's `<<` on its line, whose words the parser takes out of it (it reads `{word}` outside): not checked (put the expansion before the `<<`, or on a line of its own)"
            ));
        }
        if widest.is_none_or(|(outer_end, _)| end > outer_end) {
            widest = Some((end, word));
        }
    }
    None
}

/// Each word among `tokens` of the text `chars` that is no here-document's body, with how
/// many `<<` it holds and how many its text as written holds: they differ where the
/// tokenizer moved a document's operator into or out of the word (a document's body, a word
/// of its own two after its `<<`, stands without the delimiter's line that ends it).
pub(super) fn documents_in_words<'a>(
    chars: &'a [char],
    tokens: &'a [Token],
) -> impl Iterator<Item = (usize, usize)> + 'a {
    (tokens.iter().enumerate()).filter_map(move |(at, token)| {
        let Token::Word(word, span) = token else {
            return None;
        };
        let written: String = (chars.get(span.start.index..span.end.index))
            .unwrap_or_default()
            .iter()
            .collect();
        let body = document_operator_before(tokens, at, 2);
        (!body).then(|| (word.matches("<<").count(), written.matches("<<").count()))
    })
}

/// Whether the token `back` places before the `at`th of `tokens` is a here-document's
/// operator: its delimiter is the token after it, its body the one after that.
fn document_operator_before(tokens: &[Token], at: usize, back: usize) -> bool {
    (at.checked_sub(back)
        .and_then(|operator| tokens.get(operator)))
    .is_some_and(
        |operator| matches!(operator, Token::Operator(operator, _) if opens_a_document(operator)),
    )
}

/// A word the tokenizer hands over with more `<<` than it is written with: a here-document's
/// operator pending on its line, the tokenizer put it into an expansion that spans the line
/// break (`cat <<E; echo $(⏎rm x⏎E⏎)⏎E` comes as `$(<<E;echo ⏎rm x⏎E⏎)`, the lines bash runs
/// taken for a document; probe 59 F3).
fn document_moved_in(chars: &[char], tokens: &[Token]) -> Option<String> {
    documents_in_words(chars, tokens).find(|(word, written)| word > written).map(|_| {
        "a here-document's `<<` followed on its line by an expansion that spans a line break, which the parser reads the document into: not checked (end the command on the `<<`'s line)".to_owned()
    })
}

/// A backslash-newline inside an operator or the start of an expansion (`<\⏎<`, `<<\⏎-`,
/// `$(\⏎(`, `$\⏎{`): bash removes it before it reads the two characters as one, the tokenizer
/// reads them apart (`cat <<\⏎-E⏎E⏎rm x⏎-E` is `<<-E` to bash, whose body ends at `E`, and
/// `<<` with the delimiter `-E` to the tokenizer; `echo $(\⏎(echo <<E))` is arithmetic to
/// bash, a here-document to the tokenizer: probe 59 F6, F7).
pub(super) fn split_operator(text: &str) -> Option<String> {
    const JOINED: [&str; 20] = [
        "<<", ">>", "<&", ">&", "<>", ">|", "&>", "&&", "||", "|&", ";;", ";&", "$(", "${", "$[",
        "$'", "$\"", "((", "<(", ">(",
    ];
    text.match_indices("\\\n").find_map(|(at, _)| {
        let before = text[..at].chars().next_back()?;
        let after = text[at..].trim_start_matches("\\\n").chars().next()?;
        let dash = before == '<' && after == '-' && text[..at].ends_with("<<");
        let pair: String = if dash {
            "<<-".to_owned()
        } else {
            [before, after].iter().collect()
        };
        (JOINED.contains(&pair.as_str()) || dash).then(|| {
            format!(
                "a backslash-newline inside `{pair}`: bash joins the two, the parser reads them apart: not checked (remove the backslash-newline)"
            )
        })
    })
}

/// A `<<` or a comment inside the regular expression of a `[[ … =~ … ]]`, where bash reads
/// every character of a group as the pattern's and the tokenizer reads a here-document or a
/// comment (`[[ x =~ (a #) ]] || rm x⏎) ]]`, also after an operator's character, `(a|#)`:
/// probe 132 F1). The expression runs from the `=~` to the next `]]`, or to the text's end
/// when a quote or a backslash comes first (either could hide the `]]` that ends it).
pub(super) fn misread_in_regex(text: &str) -> Option<String> {
    text.match_indices("=~").find_map(|(at, _)| {
        let after = &text[at + 2..];
        // What may hide the `]]` that ends it: a quote, a backslash, or an expansion that
        // holds one (`$(echo ]])`: probe 164 F3).
        let hidden = [after.find(['\'', '"', '\\', '`']), after.find("$("), after.find("${")]
            .into_iter()
            .flatten()
            .min();
        let end = match after.find("]]") {
            Some(end) if hidden.is_none_or(|hidden| end < hidden) => end,
            _ => after.len(),
        };
        let regex = &after[..end];
        // Where the tokenizer starts a word, a `#` starts a comment.
        let comment = regex.match_indices('#').any(|(at, _)| {
            (regex[..at].chars().next_back())
                .is_none_or(|before| before.is_whitespace() || "()|&;<>".contains(before))
        });
        (regex.contains("<<") || comment).then(|| {
            let shown = shown(regex);
            format!(
                "`=~{shown}`: a `<<` or a `#` starting a word in a regular expression, which bash reads as the pattern's and the parser as a here-document or a comment: not checked (put the expression in a variable: `re='…'; [[ $x =~ $re ]]`)"
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    fn tokens(text: &str) -> Vec<Token> {
        brush_parser::uncached_tokenize_str(text, &Default::default()).unwrap()
    }

    /// A word token `text` spanning the characters `start..end` (of a script's first line,
    /// as far as positions go): the tokens of a tokenizer other than the vendored one.
    fn word(text: &str, start: usize, end: usize) -> Token {
        let at = |index| {
            let position = brush_parser::SourcePosition {
                index,
                line: 1,
                column: index + 1,
            };
            std::sync::Arc::new(position)
        };
        let span = SourceSpan {
            start: at(start),
            end: at(end),
        };
        Token::Word(text.to_owned(), span)
    }

    #[test]
    fn finds_what_the_tokenizer_reads_otherwise() {
        assert!(after_the_pid("echo $$'\\'").is_some());
        assert!(after_the_pid("echo \\$'x'").is_some());
        assert!(after_the_pid("echo \\$$$'\\'").is_some());
        assert!(after_the_pid("echo $'x' \"$$\" $$ $$.log ${$} $(echo $$)").is_none());
        for script in [
            "echo $${x-; rm y; echo }",
            "echo $$[; rm y; echo ]",
            "echo \"$$(echo \"; rm y; echo \")\"",
            "echo \\$$${x-; rm y; echo }",
            "echo 'a'$${x-; rm y; echo }",
            "cat <<E\n'$${x}'\nE",
            "echo \"$(echo \"'\")\"$${x-; rm y; echo }",
        ] {
            assert!(pid_before_bracket(&tokens(script)).is_some(), "{script}");
        }
        for script in [
            "echo '$${HOME}' $'$$(\\'' \"$$\" $$ # $${x}",
            "cat <<'EOF' > Makefile\nall:\n\techo $${HOME} $$(date)\nEOF",
        ] {
            assert!(pid_before_bracket(&tokens(script)).is_none(), "{script}");
        }
        for delimiter in ["<<'E\"X'", "<<\"E'X\"", "<< 'E\\X'", "<<E\\\\X"] {
            assert!(misread_delimiter(delimiter).is_some(), "{delimiter}");
        }
        for delimiter in ["<<'EOF'", "<<\"EOF\"", "<<\\EOF", "<<-E'O'F", "$((1<<2))"] {
            assert!(misread_delimiter(delimiter).is_none(), "{delimiter}");
        }
        for script in [
            "cat <<${x:-E}\nx:-E",
            "cat << E$(echo)\necho",
            // Probe 152 F1: a backquote, kept in the delimiter, after a quoted blank.
            "cat <<'true x'`x`\ntrue x`x`\nrm x\ntrue x",
            // Probe 153 F1: a process substitution glued to the delimiter.
            "cat <<E>(true)\nE>(true)\nrm x\nE",
            "cat <<E<(:)\nE<(:)\nrm x\nE",
        ] {
            assert!(
                expanding_delimiter(&chars(script), &tokens(script)).is_some(),
                "{script}"
            );
        }
        for script in [
            "(( x = 1 << ${#a} )); for (( i = 1 << ${#a}; i < 0; i++ )); do :; done",
            "echo \"<< ${HOME} >>\"",
            "cat <<'EOF'\n$((1 << ${#a[@]}))\nEOF",
        ] {
            assert!(
                expanding_delimiter(&chars(script), &tokens(script)).is_none(),
                "{script}"
            );
        }
        for script in [
            "[[ x =~ (a <<E) ]]",
            "[[ x =~ (a #) ]]",
            "[[ x =~ ']]' <<E ]]",
            "[[ x =~ (a|#) ]] || rm x <<E\n) ]]",
            "[[ x =~ (#) ]]",
            // Probe 164 F3: a `]]` inside an expansion ends no regular expression.
            "[[ x =~ $(echo ]])(a <<E) ]]\nrm x\nE",
            "[[ x =~ ${y:-]]}(a <<E) ]]\nrm x\nE",
            "[[ x =~ `echo ]]`(a <<E) ]]\nrm x\nE",
        ] {
            assert!(misread_in_regex(script).is_some(), "{script}");
        }
        for script in [
            "[[ $l =~ ^# ]] && cat <<E",
            "[[ $x =~ ^[a-z]+$ ]] # a comment",
        ] {
            assert!(misread_in_regex(script).is_none(), "{script}");
        }
    }

    #[test]
    fn finds_what_the_tokenizer_reads_otherwise_while_a_document_is_pending() {
        use super::reader::{document_operator_lines, pending_document_misread};
        // The vendored tokenizer reads an expansion whole while a document is pending.
        for (script, word) in [
            ("cat <<E; echo $(rm x)\nE", "$(rm x)"),
            ("cat <<E >${out}\nE", "${out}"),
            ("cat <<E; echo \"${x:-$(rm x)}\"\nE", "\"${x:-$(rm x)}\""),
            ("cat <<E; echo $((1 + 2)) $[3]\nE", "$((1 + 2))"),
        ] {
            let tokens = tokens(script);
            assert!(words_taken_out(&tokens).is_none(), "{script}");
            let read = |token: &Token| matches!(token, Token::Word(w, _) if w == word);
            assert!(tokens.iter().any(read), "{script}: {tokens:?}");
            assert!(pending_document_misread(script).is_none(), "{script}");
        }
        // The tokens brush-parser 0.4.0 as published made of `cat <<E; echo $(rm x)⏎E`'s
        // line: `rm` and `x` stand inside the span of `$()`.
        let unpatched = [word("echo", 9, 13), word("rm", 16, 18), word("x", 18, 20)];
        let unpatched = [&unpatched[..], &[word("$()", 13, 21)]].concat();
        assert!(words_taken_out(&unpatched).is_some());
        for script in [
            "x=$(cat <<E)\nhi\nE",
            "cat <<E > \"$out\" # $(x)\n$(y)\nE\necho $(z)",
        ] {
            assert!(words_taken_out(&tokens(script)).is_none(), "{script}");
        }
        // The tokenizer's own operators are looked after too.
        let open = "cat <<E; (( 1 +\n1 )) && rm x\nE\n))";
        assert!(document_operator_lines(&chars(open), &tokens(open)).is_some());
        let closed = "cat <<E; echo \"(\"\nE";
        assert!(document_operator_lines(&chars(closed), &tokens(closed)).is_none());
        // A `<<` the tokenizer alone reads as a document's (its arithmetic ended by a nested
        // `$((…))`'s end; bash's goes on and shifts).
        let shift = "echo $(( $((1)) << 2 ))\nrm x\n2";
        let why = document_operator_lines(&chars(shift), &tokens(shift)).unwrap_or_default();
        assert!(why.contains("bash reads none"), "{why}");
        // Text no token covers (probe 145 F1); blanks, comments and line continuations are
        // no such text.
        for script in ["echo $(rm y; $(<<E)\nE\n)", "echo $(rm y; <(<<E)\nE\n)"] {
            assert!(
                dropped_text(&chars(script), &tokens(script)).is_some(),
                "{script}"
            );
        }
        let ordinary = "echo a \\\n  b # c 'd\nx=$(cat <<EOF)\nhi\nEOF\n";
        assert!(dropped_text(&chars(ordinary), &tokens(ordinary)).is_none());
        // brush-parser 0.4.0 as published read `cat <<E; echo $(⏎rm x⏎E⏎)⏎E`'s document
        // into the substitution; the vendored copy reads it as bash does.
        let moved_in = "cat <<E; echo $(\nrm x\nE\n)\nE";
        let unpatched = [word("$(<<E;echo \nrm x\nE\n)", 14, 25)];
        assert!(document_moved_in(&chars(moved_in), &unpatched).is_some());
        assert!(document_moved_in(&chars(moved_in), &tokens(moved_in)).is_none());
        let moved_out = "x=$(cat <<EOF)\nhi\nEOF";
        assert!(document_moved_in(&chars(moved_out), &tokens(moved_out)).is_none());
        for script in [
            "cat <<\\\n-E",
            "cat <\\\n<E",
            "echo $(\\\n\\\n(1))",
            "echo $\\\n{x}",
        ] {
            assert!(split_operator(script).is_some(), "{script}");
        }
        for script in ["echo a |\\\n grep a", "ls &&\\\n ls", "echo \\\n$x"] {
            assert!(split_operator(script).is_none(), "{script}");
        }
    }
}
