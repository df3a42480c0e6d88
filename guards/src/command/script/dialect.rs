//! The shell a script is written for, and what a POSIX sh (dash) or a Korn shell reads
//! otherwise than bash, found in a script's tokens before it is parsed with bash's grammar,
//! or in its here-documents' bodies; bash's `--posix` reading, the second walk, reads these
//! as bash does (probes 117 to 126). Each scan may find more than there is, never less.

use brush_parser::Token;
use brush_parser::ast::CompoundCommand;

use super::tokenizer::{documents_in_words, expanded_words};

/// The shell a script is written for, as far as its grammar departs from bash's, which the
/// parser reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(in crate::command) enum Dialect {
    /// bash and rbash: the parser's own grammar.
    Bash,
    /// ksh93 and mksh, which read `$'…'`, `((…))` and `[[ … ]]` as bash does; the
    /// quoting that differs between shells and `&>` (ksh93 reads `&` then `>`; see
    /// [`Dialect::Posix`]) are refused.
    Korn,
    /// A POSIX sh — `sh` (dash on Debian), `dash`, `ash`, `posh`, `yash`, `oksh`, `pdksh`,
    /// busybox's `hush` and toybox's `toysh` —
    /// and the shell a wrapper hands a script to (`flock -c`, `su -c`, `watch`): where bash
    /// sees `((…))` arithmetic, a `$'…'` string or a `[[ … ]]` test, dash sees subshells,
    /// a `$` and a quote, or a command named `[[`, and where bash sees the redirection `&>f`
    /// dash sees `&` (run in the background) then `>f`, so these are refused; so are quotes inside
    /// `${…}` and `$((…))` and in a here-document's delimiter, which shells end differently.
    #[default]
    Posix,
}

impl Dialect {
    /// The dialect of the shell `name` (a basename from `SHELLS`).
    pub(in crate::command) fn of(name: &str) -> Dialect {
        match name {
            "bash" | "rbash" => Dialect::Bash,
            "ksh" | "ksh93" | "rksh" | "mksh" | "lksh" => Dialect::Korn,
            _ => Dialect::Posix,
        }
    }

    /// What bash's compound command `compound` is to a shell of this dialect, if it reads it
    /// otherwise: `((…))` and `for ((…))` are subshells to dash, `coproc` a program to dash
    /// and a Korn shell (probe 133 F1: dash ran `coproc x {`).
    pub(super) fn misreads(self, compound: &CompoundCommand) -> Option<&'static str> {
        match (self, compound) {
            (Dialect::Posix, CompoundCommand::Arithmetic(_)) => Some("`((…))`"),
            (Dialect::Posix, CompoundCommand::ArithmeticForClause(_)) => Some("`for ((…))`"),
            (Dialect::Posix | Dialect::Korn, CompoundCommand::Coprocess(_)) => Some("`coproc`"),
            _ => None,
        }
    }
}

/// Why a script is refused when written for a shell other than bash.
pub(in crate::command) fn not_bash(what: &str) -> String {
    format!(
        "{what}: shells other than bash (`sh` is often dash) read this differently, so it is not checked (run the script with `bash -c`, or write it as every POSIX shell reads it)"
    )
}

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

/// A `${…}` among the words of `tokens` that the shell expands (not in single quotes, an
/// escape or a quoted here-document's body: `expanded_words`) that dash reads otherwise
/// than bash: unless its parameter (a name, digits, or one of `#?$!-*@`; `${#…}` its length)
/// is followed by `}`, one of `-=?+%#`, or `:` and one of `-=?+`, dash takes the next
/// character for an unknown operator, its quoting or expansion lost, and ends the `${` at
/// the next `}` (`${x\}; rm y; echo }` and `${x:} #}; rm y` run `rm` in dash: probe 138 F1,
/// F2). bash's own forms (`${x/a/b}`, `${x:1}`, `${a[1]}`) are refused with them: dash fails
/// on them.
pub(super) fn parameter_misread(tokens: &[Token]) -> Option<String> {
    // A backslash-newline is no `${` (`split_operator` refuses `$\⏎{`).
    expanded_words(tokens).find_map(|(_, expanded)| {
        expanded.match_indices("${").find_map(|(at, _)| {
            misread_parameter(&expanded[at + 2..]).then(|| {
                let shown: String = expanded[at..].chars().take(20).collect();
                not_bash(&format!(
                    "`{shown}`: what follows the parameter, which dash reads as an unknown operator (run the script with bash, or write a POSIX form)"
                ))
            })
        })
    })
}

/// Whether dash reads the `${…}` whose text after the `${` is `inner` otherwise than bash
/// (see [`parameter_misread`]).
fn misread_parameter(inner: &str) -> bool {
    let parameter = |text: &str| -> Option<usize> {
        let first = text.chars().next()?;
        let length = if first.is_ascii_alphabetic() || first == '_' {
            text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(text.len())
        } else if first.is_ascii_digit() {
            text.find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len())
        } else if "#?$!-*@".contains(first) {
            1
        } else {
            return None;
        };
        Some(length)
    };
    // `${#NAME}`, the length of a parameter.
    if let Some(name) = inner.strip_prefix('#')
        && parameter(name).is_some_and(|length| name[length..].starts_with('}'))
    {
        return false;
    }
    let Some(length) = parameter(inner) else {
        return true;
    };
    let after = &inner[length..];
    let operator = after.starts_with(['}', '-', '=', '?', '+', '%', '#'])
        || (after.strip_prefix(':')).is_some_and(|rest| rest.starts_with(['-', '=', '?', '+']));
    !operator
}

/// Whether the function `name` is written after the keyword `function` in `text`, the
/// script it is defined in (blanks between), or where is not known: dash has no such
/// keyword, and runs a program named `function` (probe 127 F2).
pub(super) fn after_function_keyword(text: &[char], name: &brush_parser::ast::Word) -> bool {
    let Some(span) = &name.loc else {
        return true;
    };
    let before: String = (text.get(..span.start.index).unwrap_or_default().iter()).collect();
    // As dash reads it, its backslash-newlines removed (probe 133 F2: `function\⏎ f`).
    let before = before.replace("\\\n", "");
    (before.trim_end().strip_suffix("function")).is_some_and(|rest| {
        rest.is_empty() || rest.ends_with(|c: char| c.is_whitespace() || ";&|(){}".contains(c))
    })
}

/// A `$((` whose second `(` closes before the first, not in the same `))`: bash reads it as
/// a substitution of a subshell (`$((true) )` is `$( (true) )`), dash as arithmetic, on to
/// the next `))` anywhere (it counts only parentheses, quoted or not), so what bash reads
/// after it as a comment or a quote dash may run (`true || echo $((true) ) #)); rm x` runs `rm
/// x` in dash: probe 127 F1). A `$((` never closed is refused too, and so is one holding a
/// quote, a backslash or a backquote before dash's end: bash may read them as a subshell's
/// and end it elsewhere (`$((echo '))⏎rm x⏎echo ') )`: probe 131 F2).
pub(super) fn substituted_subshell(text: &str) -> Option<String> {
    text.match_indices("$((").find_map(|(at, _)| {
        let mut depth = 2;
        let mut rest = text[at + 3..].chars();
        let arithmetic = loop {
            match rest.next() {
                Some('(') => depth += 1,
                Some(')') if depth == 2 => break rest.next() == Some(')'),
                Some(')') => depth -= 1,
                Some('\'' | '"' | '\\' | '`') | None => break false,
                Some(_) => {}
            }
        };
        (!arithmetic).then(|| {
            not_bash("`$((` not ended by `))`, or holding a quote, a backslash or a backquote (bash may read a subshell's substitution, dash arithmetic: for arithmetic leave the quotes out, `$(($a + 1))`; for a subshell write `$( (`)")
        })
    })
}

/// A word the tokenizer hands over with more or fewer `<<` than it is written with: a
/// here-document's `<<` taken out of a `$(…)` that closes before the document's body (`echo
/// $(cat <<EOF)`, the lines after it its body), or that body read into a later or an
/// enclosing `$(…)` or `$[…]` (`echo $(true <<EOF) $(true⏎rm x⏎EOF⏎)`). bash reads those lines
/// as the body; dash gives the document none and runs them (probes 117 F3, 118 F1, F2, 120
/// F1: scans for the `<<` missed where the tokenizer moved it). A document whose body is
/// inside its own `$(…)` stays in the word, which the tokenizer may rebuild without its
/// comments and `<<-` tabs (probe 122 F2): the `<<` are counted, not the text compared.
pub(super) fn moved_into_or_out_of_a_word(chars: &[char], tokens: &[Token]) -> Option<String> {
    documents_in_words(chars, tokens)
        .any(|(word, written)| word != written)
        .then(|| {
            not_bash(
                "a here-document in a `$(…)` that closes before its body (dash gives it none and runs the lines after it)",
            )
        })
}

/// In an unquoted here-document's `body`, an expansion (`$(…)`, `${…}`, `$((…))`, a
/// backquote) that does not close on its line: bash ends the body at the delimiter's line
/// whatever is open, dash reads the expansion on past it, as script (`cat <<E⏎$(echo '⏎E⏎: '
/// ; rm x )⏎E` runs `rm` in dash: probe 122 F1). Read line by line as dash reads an
/// expansion, each kind ended by its own bracket (probe 123 F1: a `}` ended a `$(` for a
/// count of brackets of any kind); what reads otherwise in other shells is taken as open —
/// a quote inside `${…}`, a `#` or a `case` inside `$(…)` (a comment, patterns whose `)`
/// end nothing) —, so the scan may find one open that is not, never one closed that is not.
pub(in crate::command) fn expansion_past_its_line(body: &str) -> Option<String> {
    body.lines().find_map(|line| {
        open_at_end(line).then(|| {
            not_bash(
                "an expansion in a here-document that may not close on its line: one left open, a quote inside `${…}`, a `#` or a `case` inside `$(…)` (dash reads it on past the document's end: leave the quotes out, `${PORT:-8080}`, or quote the delimiter, `<<'EOF'`, if the body needs no expansion)",
            )
        })
    })
}

/// Whether an expansion opened in `line` (a line of a here-document's body) may be open at
/// its end.
fn open_at_end(line: &str) -> bool {
    // bash's `$[…]` is text to dash, whose quotes inside it then open and close elsewhere
    // (probe 126 F1: `$[ ( ' $(echo ' …` hid the `$(` dash reads on): refused.
    if line.contains("$[") {
        return true;
    }
    /// An expansion open where the scan is.
    enum Level {
        /// A backquote: only an unescaped backquote ends it.
        Backquote,
        /// `${…}`: its first unquoted `}` ends it.
        Parameter,
        /// `$(…)` or `$((…))`: how many `(` are open in it (its own the first), and the
        /// quote it is in.
        Brackets { open: usize, quote: Option<char> },
    }
    let chars: Vec<char> = line.chars().collect();
    let mut levels: Vec<Level> = Vec::new();
    let mut at = 0;
    while let Some(&c) = chars.get(at) {
        let next = chars.get(at + 1).copied();
        // Where a word starts: a `#` there is a comment, a `case` the keyword.
        let starts_a_word = at
            .checked_sub(1)
            .and_then(|before| chars.get(before))
            .is_none_or(|&before| before.is_whitespace() || ";&|()<>".contains(before));
        let ends_a_word = |end: usize| {
            (chars.get(end)).is_none_or(|&after| after.is_whitespace() || ";&|)".contains(after))
        };
        let case = starts_a_word
            && (chars.get(at..at + 4)).is_some_and(|word| word.iter().copied().eq("case".chars()))
            && ends_a_word(at + 4);
        let comment = starts_a_word && c == '#';
        at += 1;
        let opened = match next {
            Some('(') => Some(Level::Brackets {
                open: 1,
                quote: None,
            }),
            Some('{') => Some(Level::Parameter),
            _ => None,
        }
        .filter(|_| c == '$');
        let quote = match levels.last() {
            Some(Level::Brackets { quote, .. }) => *quote,
            _ => None,
        };
        // What opens a level wherever a `$` or a backquote is read as such.
        if quote != Some('\'') && !matches!(levels.last(), Some(Level::Backquote)) {
            if c == '\\' {
                at += 1;
                continue;
            }
            if let Some(level) = opened {
                levels.push(level);
                at += 1;
                continue;
            }
            if c == '`'
                && quote.is_none_or(|quote| quote == '"')
                && !matches!(levels.last(), Some(Level::Parameter))
            {
                levels.push(Level::Backquote);
                continue;
            }
        }
        match levels.last_mut() {
            None => {}
            Some(Level::Backquote) => match c {
                '\\' => at += 1,
                '`' => drop(levels.pop()),
                _ => {}
            },
            Some(Level::Parameter) => match c {
                '}' => drop(levels.pop()),
                '\'' | '"' | '`' => return true,
                _ => {}
            },
            Some(Level::Brackets { open, quote }) => match (*quote, c) {
                (Some('\''), '\'') | (Some('"'), '"') => *quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => *quote = Some(c),
                (None, _) if case || comment => return true,
                // dash reads `$'…'` and `$"…"` as a `$` and a quote, bash (and the parser)
                // otherwise: the parser may see no substitution at all (probe 125 F1).
                (None, '$') if matches!(next, Some('\'' | '"')) => return true,
                (None, '(') => *open += 1,
                (None, ')') => {
                    *open -= 1;
                    if *open == 0 {
                        levels.pop();
                    }
                }
                (None, _) => {}
            },
        }
    }
    !levels.is_empty()
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
            "echo $(true $(true <<EOF)\nrm x\nEOF\n)",
            "cat <<< a $(true <<EOF)\nrm x\nEOF",
        ] {
            let found =
                moved_into_or_out_of_a_word(&text.chars().collect::<Vec<_>>(), &tokens(text));
            assert!(found.is_some(), "{text:?}");
        }
        // A document left pending by one expansion and a line break inside the next: bash
        // reads the body there, the vendored tokenizer sets the document aside inside an
        // expansion, so it finds no body, and the script is refused as not parsing.
        for text in [
            "echo $(true <<EOF) $(true\nrm x\nEOF\n)",
            "echo $(true <<EOF) $[\nrm x\nEOF\n]",
        ] {
            let options = super::super::options().tokenizer_options();
            assert!(brush_parser::uncached_tokenize_str(text, &options).is_err());
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
            "x=$(cat <<EOF # note\nhi\nEOF\n)",
            "x=$(\n\tcat <<-EOF\n\thi\n\tEOF\n)",
            "x=$(cat <<EOF\t| tr a b\nhi\nEOF\n)",
        ] {
            let found =
                moved_into_or_out_of_a_word(&text.chars().collect::<Vec<_>>(), &tokens(text));
            assert_eq!(found, None, "{text:?}");
        }
    }

    #[test]
    fn an_expansion_of_a_document_open_at_its_line_end_is_found() {
        for body in [
            "$(echo '\n: ' ; rm x )\n",
            "$(echo \"\n",
            "a ${x:-'\n'}\n",
            "$(( 1 +\n 2 ))\n",
            "`echo\n`\n",
            "$(case x in x) rm x;; esac)\n",
            "$(echo ')'\n",
            "$(echo } '\n",
            "${x-(}'$(' }\n",
            "$(echo a # )\n",
            "$(echo a;# )\n",
            "$(rm x $'\\' )\n",
            "$(echo $\"a\" )\n",
            "$( (:)# )\n",
            "$[ ( ' $(echo ' \\) \\) ]\n",
            "$[1]\n",
        ] {
            assert!(expansion_past_its_line(body).is_some(), "{body:?}");
        }
        for body in [
            "built at $(date) by ${USER:-me}\n",
            "Matches: $(grep --ignore-case -c todo notes.txt) $(echo lowercase cases)\n",
            "$(echo $#) $(echo a#b) $(git log -1 --format=%h#%s)\n",
            "it's a (parenthesis) and \"quotes\" and a ) alone\n",
            "\\$(not an expansion\n",
            "$(echo \"$(date)\" ')' )\n",
            "$((1 + 2)) `date`\n",
        ] {
            assert_eq!(expansion_past_its_line(body), None, "{body:?}");
        }
    }
}
