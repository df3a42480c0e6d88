//! What a script's text shows before it is parsed: the constructs the parser reads
//! otherwise than bash, or takes exponential time over, found by scans that may find more
//! than there is, never less (so that they only refuse more).

use brush_parser::Token;

use super::super::word::plain_arithmetic;

/// The start of the first of bash 5.3's command substitutions in braces in `text` (its
/// backslash-newlines removed), `${ cmd; }` or `${| cmd; }`: the parser reads them as one
/// word (and bash 5.2 refuses them as bad substitutions).
pub(super) fn braced_substitution(text: &str) -> Option<String> {
    let at = (text.match_indices("${").map(|(at, _)| at))
        .find(|&at| text[at + 2..].starts_with(|c: char| c.is_whitespace() || c == '|'))?;
    Some(text[at..].chars().take(20).collect())
}

/// How deeply `${NAME[…]}` expansions may nest in a script.
pub(super) const MAX_SUBSCRIPT_NESTING: usize = 2;

/// How many `${NAME[…]}` expansions (also `${!NAME[…]}` and `${#NAME[…]}`) are open at once,
/// at most, in `text`, in one scan that may count more than the parser sees, never fewer:
/// a `}` closes the innermost open `${` unless a `(` or a `{` of it is still open (`${x:-$(echo
/// })}`), or a quote, a backslash or a backtick came inside it (the `}` might be quoted), after
/// which it is never taken as closed.
pub(super) fn subscript_nesting(text: &str) -> usize {
    /// An open `${`.
    struct Open {
        subscripted: bool,
        parentheses: usize,
        braces: usize,
        closes: bool,
    }
    let bytes = text.as_bytes();
    let mut open: Vec<Open> = Vec::new();
    let mut subscripts = 0;
    let mut deepest = 0;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        at += 1;
        if byte == b'$' && bytes.get(at) == Some(&b'{') {
            at += 1;
            let after = text.get(at..).unwrap_or_default();
            let name = after.strip_prefix(['!', '#']).unwrap_or(after);
            let length = name
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(name.len());
            let subscripted = length > 0 && name[length..].starts_with('[');
            open.push(Open {
                subscripted,
                parentheses: 0,
                braces: 0,
                closes: true,
            });
            subscripts += usize::from(subscripted);
            deepest = deepest.max(subscripts);
            continue;
        }
        let Some(innermost) = open.last_mut() else {
            continue;
        };
        match byte {
            b'(' => innermost.parentheses += 1,
            b')' => innermost.parentheses = innermost.parentheses.saturating_sub(1),
            b'{' => innermost.braces += 1,
            b'}' if innermost.braces > 0 => innermost.braces -= 1,
            b'\'' | b'"' | b'\\' | b'`' => innermost.closes = false,
            b'}' if innermost.closes && innermost.parentheses == 0 => {
                subscripts -= usize::from(innermost.subscripted);
                open.pop();
            }
            _ => {}
        }
    }
    deepest
}

/// How many of the openings the scans before parsing read on from, at worst to the text's
/// end (`${`, `$((`, `$[`, `=~` and backslash-newlines), a script may hold: scanned from each
/// of 32,000 `${`, a 64 KiB script took the checker past its time (probe 173 F1); 512 keeps
/// the scans within a fraction of a second.
const MAX_OPENINGS: usize = 512;

/// Why `text` is refused if it holds more than [`MAX_OPENINGS`] openings.
pub(super) fn too_many_openings(text: &str) -> Option<String> {
    let openings: usize = ["${", "$((", "$[", "=~", "\\\n"]
        .iter()
        .map(|opening| text.matches(opening).count())
        .sum();
    (openings > MAX_OPENINGS).then(|| {
        format!(
            "the script holds more than {MAX_OPENINGS} `${{`, `$((`, `$[`, `=~` and backslash-newlines, which the checker's scans take too long over: not checked (pass long data in a file or in `with.input`)"
        )
    })
}

/// How deeply `(` and `case` may nest in a script, a `case` counting twice (see [`nesting`]).
pub(super) const MAX_NESTING: usize = 6;

/// How deeply `(` and `case` are open at once, at most, among `tokens`, a `case` counting
/// twice (the parser's time grows about twofold with each `(`, threefold with each `case`): a
/// `)` closes the innermost when it is a `(`, an `esac` when it is a `case` (a `)` after a
/// `case` pattern closes nothing). A pattern's own `(`, right after `in`, `;;`, `;&` or
/// `;;&` inside a `case`, counts nothing (the parser reads it one way only; bash's reprint
/// gets it back, see `bash::with_opened_patterns`). A `case` that is only a word, or a `)`
/// the parser reads otherwise, can make the count more than the parser sees, never less.
pub(super) fn nesting(tokens: &[Token]) -> usize {
    let mut open: Vec<&str> = Vec::new();
    let mut depth = 0;
    let mut deepest = 0;
    let mut before: Option<&str> = None;
    for token in tokens {
        let pattern =
            open.last() == Some(&"case") && matches!(before, Some("in" | ";;" | ";&" | ";;&"));
        match token {
            Token::Operator(operator, _) if operator == "(" && pattern => open.push("pattern"),
            Token::Operator(operator, _) if operator == ")" && open.last() == Some(&"pattern") => {
                open.pop();
            }
            Token::Operator(operator, _) if operator == "(" => {
                open.push("(");
                depth += 1;
            }
            Token::Word(word, _) if word == "case" => {
                open.push("case");
                depth += 2;
            }
            Token::Operator(operator, _) if operator == ")" && open.last() == Some(&"(") => {
                open.pop();
                depth -= 1;
            }
            Token::Word(word, _) if word == "esac" && open.last() == Some(&"case") => {
                open.pop();
                depth -= 2;
            }
            _ => {}
        }
        // Line breaks apart: bash prints each pattern on a line of its own.
        match token {
            Token::Operator(text, _) if text == "\n" => {}
            Token::Operator(text, _) | Token::Word(text, _) => before = Some(text),
        }
        deepest = deepest.max(depth);
    }
    deepest
}

/// A line of `text` that starts (after tabs) with the delimiter of a here-document in `text`,
/// its quotes removed, followed by `)` or a backtick. Inside `$(…)`, `<(…)` or backticks bash
/// 5.2 ends the here-document at such a line (`EOF)`) and runs the lines after it, while the
/// parser reads on to a line `EOF`, taking them as text. The delimiters are found by a
/// scan of the text for `<<`, which may find more than there are: that only refuses more.
pub(super) fn ends_early(text: &str) -> Option<&str> {
    let delimiters: Vec<String> = delimiter_starts(text)
        .map(|word| {
            let end = word
                .find(|c: char| splits_words(c) || ";&|<>()`".contains(c))
                .unwrap_or(word.len());
            (word[..end].replace("$'", "'").replace("$\"", "\""))
                .chars()
                .filter(|c| !matches!(c, '\'' | '"' | '\\'))
                .collect()
        })
        .collect();
    text.lines().find(|line| {
        let line = line.trim_start_matches('\t');
        delimiters.iter().any(|delimiter| {
            (line.strip_prefix(delimiter.as_str()))
                .is_some_and(|after| after.starts_with([')', '`']))
        })
    })
}

/// The text after each here-document operator in `text` (`<<` or `<<-`, not the here-string
/// `<<<`) and the blanks after it, where its delimiter starts; found by a scan for `<<`, which
/// may find more than there are.
pub(super) fn delimiter_starts(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            let at = rest.find("<<")?;
            let after = &rest[at + 2..];
            rest = after.trim_start_matches('<');
            if !after.starts_with('<') {
                let word = after.strip_prefix('-').unwrap_or(after);
                return Some(word.trim_start_matches([' ', '\t']));
            }
        }
    })
}

/// The first here-document delimiter in `text` (as written, its first 20 characters) of the
/// kind that sends brush-parser's tokenizer into an endless loop, allocating without bound,
/// when the input ends inside a `$(…)`, `${…}` or `$[…]`: one holding `$(`, `${` or `$[`
/// (unquoted or in double quotes, where the tokenizer takes a word inside the expansion for
/// the delimiter: `<<$[ <( ${`), and one empty once its quotes are removed (`<<''`,
/// `<<""`). bash takes such a delimiter literally; scripts name theirs. The words are read
/// as the tokenizer reads them (quotes, backslashes; a word runs to the end of an
/// unterminated quote), so the scan finds every such delimiter and perhaps more (given the
/// text both as written and with its backslash-newlines removed, which the tokenizer
/// joins: `<<\⏎''`): a `<<` in arithmetic (`$((1 << ${n}))`) is refused too.
pub(super) fn looping_delimiter(text: &str) -> Option<String> {
    if !ends_open(text) {
        return None;
    }
    delimiter_starts(text).find_map(|start| {
        let mut quote = None;
        let mut characters = 0;
        let mut chars = start.char_indices().peekable();
        let mut end = start.len();
        while let Some((at, c)) = chars.next() {
            match (quote, c) {
                (Some('\''), '\'') | (Some('"'), '"') => quote = None,
                (Some('\''), _) => characters += 1,
                (_, '\\') => {
                    chars.next();
                    characters += 1;
                }
                (None, '\'' | '"') => quote = Some(c),
                (_, '$') if chars.next_if(|&(_, next)| "({[".contains(next)).is_some() => {
                    return Some(start.chars().take(20).collect());
                }
                (None, c) if splits_words(c) || ";&|<>()`".contains(c) => {
                    end = at;
                    break;
                }
                _ => characters += 1,
            }
        }
        (characters == 0 && end > 0).then(|| start[..end].chars().take(20).collect())
    })
}

/// Whether `text` may end inside an open `$(…)`, `${…}`, `$[…]` or backquotes, the other
/// half of what makes brush-parser's tokenizer loop ([`looping_delimiter`]): it holds more
/// of one opening bracket than of its closing one, or an odd number of backquotes, counted
/// as written (quoted or not). A script that ends inside an expansion whose closing
/// brackets stand in quotes passes this count, and meets the checker's time limit instead
/// ([`crate::command::MAX_CHECK_TIME`]).
fn ends_open(text: &str) -> bool {
    let count = |c: char| text.chars().filter(|&d| d == c).count();
    count('`') % 2 == 1
        || [('(', ')'), ('{', '}'), ('[', ']')]
            .into_iter()
            .any(|(open, close)| count(open) > count(close))
}

/// Whether bash ends a word at `c`, outside quotes: a space, a tab or a line break (a
/// no-break space, like any other white space, is a word's: probes 137, 148 F1, where a
/// here-document's delimiter cut at one ended its body on another line than bash's).
pub(super) fn splits_words(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n')
}

/// Whether bash ends a word at `c`, outside quotes: where it splits words
/// ([`splits_words`]), or at an operator's character.
pub(in crate::command) fn ends_a_word(c: char) -> bool {
    splits_words(c) || ";&|()<>".contains(c)
}

/// Whether `before` (the text before a word) ends where a shell word starts: at the start, a
/// blank, or an operator or group character — not in a longer word, nor right after a quote.
fn starts_a_word(before: &str) -> bool {
    before
        .chars()
        .next_back()
        .is_none_or(|c| c.is_whitespace() || ";&|(){}".contains(c))
}

/// A number in `text` too big for brush-parser, which panics on it (an `unwrap` of its
/// conversion), with the reason to refuse it: a directory-stack index after `~`, `~+` or
/// `~-` past the largest `usize` (`~99999999999999999999`), and a file descriptor number,
/// digits that start a word right before a `<` or `>`, past the largest `i32`
/// (`99999999999>f`). A run of digits is looked at where the shell would read such a
/// number (a word's start, after `=` or `:` for a tilde; not right after a quote), given the
/// text both as written and with its backslash-newlines removed (the tokenizer joins
/// `9\⏎9>` into one word).
pub(super) fn oversized_number(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(at) = rest.find(|c: char| c.is_ascii_digit()) {
        let (before, from) = rest.split_at(at);
        let length = from
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(from.len());
        let (digits, after) = from.split_at(length);
        rest = after;
        // A tilde prefix: a word's start, or after an assignment's `=` or a path list's `:`.
        let tilde = ["~", "~+", "~-"].into_iter().find(|tilde| {
            (before.strip_suffix(tilde))
                .is_some_and(|rest| starts_a_word(rest) || rest.ends_with(['=', ':']))
        });
        if let Some(tilde) = tilde.filter(|_| digits.parse::<usize>().is_err()) {
            return Some(format!(
                "`{tilde}{digits}`: a directory-stack index too big for the shell, which the parser fails on: not checked (write a smaller number)"
            ));
        }
        // A descriptor is a whole word before the redirection (`build_2023…>f` is a word).
        if after.starts_with(['<', '>']) && starts_a_word(before) && digits.parse::<i32>().is_err()
        {
            return Some(format!(
                "`{digits}{}`: a file descriptor number too big for the shell, which the parser fails on: not checked (use a number below 2147483648)",
                &after[..1]
            ));
        }
    }
    None
}

/// A construct inside a `${…}` of `text` that brush-parser's tokenizer reads as it would
/// between commands, where bash reads text: a `<<` (a here-document whose body, the lines
/// after it, the parser never checks: `echo ${x:-<<E}⏎rm x⏎E`), a `((` (arithmetic left
/// open: a later here-document is missed), a `))` (arithmetic ended early: a shift after it
/// is read as a here-document's `<<`, `echo "$(( ${x:-))} << 2 ))⏎"⏎rm x⏎2` hid the `rm x`
/// bash runs, probe 161 F1) or a `$((` that is not plain arithmetic, and an
/// extended pattern's `*(`, `?(`, `+(`, `@(` or `!(` (read on to the next `)`, past the
/// `}`: `echo ${x:-*(}; rm x #)`). Each `${…}` is scanned to the `}` that closes it,
/// counting braces; to the end of the text when a quote, a backslash, a backtick, a `$(`
/// or a `$[` comes first (any could hide the `}` that ends it), or nothing closes it.
pub(super) fn misread_in_expansion(text: &str) -> Option<String> {
    text.match_indices("${").find_map(|(at, _)| {
        let inner = &text[at + 2..];
        // A here-document pending, the tokenizer reads its body from the line after a line
        // break inside the `${…}`; bash from the line after the command's (probe 59 F1,
        // probe 60 F1: `cat <<E; echo ${x:-⏎}; rm x⏎E⏎#}`).
        if text.contains("<<") && spans_a_line(inner) {
            return Some(format!(
                "a line break inside `${{{}` (or a backtick or a `$'…'` there, whose end the checker does not follow) in a script with a `<<`: the parser may read a here-document's body from the next line, bash does not: not checked",
                shown(inner)
            ));
        }
        let bytes = inner.as_bytes();
        // `loose` once the `}` that ends it may be hidden: it then runs to the text's end.
        let (mut index, mut braces, mut loose) = (0, 1_usize, false);
        let open = |what: &str, loose: bool| {
            let inner = shown(inner);
            Some(if loose {
                format!(
                    "`{what}` in `${{{inner}`, after a quote, a backslash, a backtick, a `$(` or a `$[` inside the `${{…}}`, which hides from the checker where it ends: the parser may read the `{what}` inside it, otherwise than bash: not checked (give the quoted part a name first: `d='a b'; echo \"${{x:-$d}}\"`)"
                )
            } else {
                format!(
                    "`{what}` inside `${{{inner}`, which the parser reads otherwise than bash: not checked"
                )
            })
        };
        while let Some(&byte) = bytes.get(index) {
            let rest = &bytes[index..];
            if rest.starts_with(b"$((") {
                match plain_arithmetic(&inner[index + 3..]) {
                    Some(length) => index += 3 + length,
                    None => return open("$((", loose),
                }
                continue;
            }
            let pattern = b"*?+@!".contains(&byte) && rest.get(1) == Some(&b'(');
            let parentheses = rest.starts_with(b"((") || rest.starts_with(b"))");
            if rest.starts_with(b"<<") || parentheses || pattern {
                return open(&inner[index..index + 2], loose);
            }
            match byte {
                b'{' => braces += 1,
                b'}' if braces == 1 && !loose => return None,
                b'}' => braces = braces.saturating_sub(1),
                b'\'' | b'"' | b'\\' | b'`' => loose = true,
                b'$' if matches!(rest.get(1), Some(b'(' | b'[')) => loose = true,
                _ => {}
            }
            index += 1;
        }
        None
    })
}

/// Whether a line break comes inside the `${…}` whose text after the `${` is `inner`, before
/// the `}` that closes it (its quotes read as bash reads them there, a line break inside one
/// counting too), or may: a `$'…'` or a backtick, whose ends this does not follow, or no `}`.
fn spans_a_line(inner: &str) -> bool {
    let bytes = inner.as_bytes();
    let (mut at, mut braces) = (0, 1_usize);
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'\n' | b'`' => return true,
            b'$' if bytes.get(at + 1) == Some(&b'\'') => return true,
            b'\\' if bytes.get(at + 1) == Some(&b'\n') => return true,
            b'\\' => at += 1,
            b'\'' | b'"' => {
                let after = &inner[at + 1..];
                let quoted = match byte {
                    b'\'' => after.find('\'').map(|close| &after[..close]),
                    _ => double_quoted(after),
                };
                match quoted {
                    Some(quoted) if !quoted.contains('\n') => at += quoted.len() + 1,
                    _ => return true,
                }
            }
            b'{' => braces += 1,
            b'}' if braces == 1 => return false,
            b'}' => braces -= 1,
            _ => {}
        }
        at += 1;
    }
    true
}

/// The first characters of `text`, to show where a refusal found something.
pub(super) fn shown(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(24)
        .collect()
}

/// An extended pattern in `text` (`@(…)`, `*(…)`, `?(…)`, `+(…)`, `!(…)`) whose quotes, up to
/// the `)` that closes it as brush-parser's tokenizer finds it (counting parentheses and
/// skipping backslash escapes, but reading no quotes), may hide a parenthesis from bash,
/// which honours them (`@(x|')')` ends at the last `)`): the two then read on differently.
pub(super) fn quote_in_pattern(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(1)).find_map(|at| {
        if !b"*?+@!".contains(&bytes[at]) || bytes[at + 1] != b'(' {
            return None;
        }
        // The pattern as the tokenizer reads it: to the `)` that closes it, counting
        // parentheses and skipping backslash escapes (or to the text's end).
        let (mut depth, mut escaped, mut end) = (1, false, bytes.len());
        for (offset, &byte) in bytes[at + 2..].iter().enumerate() {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'(' => depth += 1,
                b')' if depth == 1 => {
                    end = at + 3 + offset;
                    break;
                }
                b')' => depth -= 1,
                _ => {}
            }
        }
        let pattern = &text[at..end];
        quotes_hide_parentheses(pattern).then(|| {
            format!(
                "`{}` is an extended pattern with a parenthesis or its end inside quotes, where the parser, which reads no quotes there, ends it elsewhere than bash: not checked",
                shown(pattern)
            )
        })
    })
}

/// Whether, reading the quotes of `pattern` as bash does, a quote holds a `(` or a `)`, is
/// left open, or is a backtick or a `$'…'` (whose backslash escapes a quote): then the
/// parser and bash may count its parentheses differently.
fn quotes_hide_parentheses(pattern: &str) -> bool {
    if pattern.contains("$'") {
        return true;
    }
    let mut rest = pattern;
    while let Some(at) = rest.find(['\\', '\'', '"', '`']) {
        let (quote, after) = (rest.as_bytes()[at], &rest[at + 1..]);
        let inside = match quote {
            b'\\' => {
                let mut escaped = after.chars();
                escaped.next();
                rest = escaped.as_str();
                continue;
            }
            b'\'' => after.find('\'').map(|close| &after[..close]),
            b'"' => double_quoted(after),
            _ => None,
        };
        let Some(inside) = inside else {
            return true;
        };
        if inside.contains(['(', ')']) {
            return true;
        }
        rest = &after[inside.len() + 1..];
    }
    false
}

/// The text inside a double quote whose opening `"` came right before `after`, to its
/// closing `"` (a backslash escapes the character after it), or `None` when none closes it.
fn double_quoted(after: &str) -> Option<&str> {
    let bytes = after.as_bytes();
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'\\' => at += 2,
            b'"' => return Some(&after[..at]),
            _ => at += 1,
        }
    }
    None
}

/// Whether the last line of the text of a command substitution holds a `#` that starts a
/// word: bash reads a comment there, to the end of the line, so the `)` the parser ended the
/// substitution at is in it (brush-parser 0.4.0's tokenizer read a `#` after an odd number
/// of blanks inside `$(…)` as text: `echo $( #) '⏎rm x⏎) #'` ran `rm x`; the vendored copy
/// carries upstream's fix, and this stays the net under it). A comment on an earlier line ends
/// at its newline for both, and the text is parsed again as a script of its own, where
/// what a quote in a comment hid from the tokenizer is checked or fails to parse; a
/// here-document's body (`#123` in a commit message) ends before the last line.
pub(in crate::command) fn comment_in_substitution(script: &str) -> bool {
    let last = script.rsplit('\n').next().unwrap_or_default();
    last.match_indices('#').any(|(at, _)| {
        (last[..at].chars().next_back())
            .is_none_or(|before| before.is_whitespace() || ";&|()<>".contains(before))
    })
}

#[cfg(test)]
mod tests {
    use super::subscript_nesting;

    #[test]
    fn counts_how_deeply_subscripts_nest() {
        for (text, depth) in [
            ("${x}", 0),
            ("${x[1]}", 1),
            ("${a[0]}${b[1]}; ${c[2]} ${d[$((i + 1))]}", 1),
            ("${#x[${!y[${z:-${w[1]}}]}]}", 3),
            ("${x:-${y:-${z:-${w}}}}", 0),
            ("${x[1]:-${y[2]}}", 2),
            // A `}` that may be quoted or inside `$(…)` or `{…}` closes nothing.
            ("${a[ ${x:-'}'} ${b[${c[1]}]} ]}", 3),
            ("${a[ ${x:-\\}} ${b[1]} ]}", 2),
            ("${a[ $(echo }) ${b[${c[1]}]} ]}", 3),
            ("${a[ ${x:-{} ${b[${c[1]}]} ]}", 3),
        ] {
            assert_eq!(subscript_nesting(text), depth, "{text}");
        }
    }
}
