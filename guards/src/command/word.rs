//! Words: quote removal, `$'…'` decoding, and the commands hidden in substitutions.

use brush_parser::word::{Parameter, ParameterExpr, WordPiece, WordPieceWithSource};

use super::evaluated::{leading_name, surely_closing_bracket};
use super::script::{Dialect, comment_in_substitution, dialect, not_bash, options};
use super::{Checker, Word};

impl Checker {
    /// The word written as `raw`, unquoted; the commands of its substitutions are checked.
    pub(super) fn word(&mut self, raw: &str, depth: usize) -> Word {
        if self.subscript_read_on(raw) {
            return Word::Dynamic(raw.to_owned());
        }
        match brush_parser::word::parse(raw, &options()) {
            Ok(pieces) => {
                let text = unquoted_text(&pieces);
                let braces = brace_expands(&text);
                if substitutes_in_text(&text) {
                    self.problem(format!(
                        "`{raw}` holds a `<(…)` or `>(…)` in a pattern (an extended glob such as `@(…)`, a `[[ … =~ … ]]` group), which bash runs: not checked"
                    ));
                    return Word::Dynamic(raw.to_owned());
                }
                if braces && text.contains(['$', '<', '>']) {
                    self.problem(format!(
                        "`{raw}` is brace-expanded beside an unquoted `$`, `<` or `>`, which can build a substitution bash then runs (`{{$,}}{{x}}` is `${{x}}`): not checked"
                    ));
                    return Word::Dynamic(raw.to_owned());
                }
                match self.value_of(raw, &pieces, depth) {
                    Word::Literal(_) if braces => Word::Dynamic(raw.to_owned()),
                    value => value,
                }
            }
            Err(error) => {
                self.problem(format!("the word `{raw}` does not parse: {error}"));
                Word::Dynamic(raw.to_owned())
            }
        }
    }

    /// Refuses `raw`, a word or an assignment as the parser ended it, when it starts `NAME[`
    /// with no `]` closing that `[` (nested ones counted): where a command or an assignment
    /// may start, bash reads on to that `]`, across blanks, `#` and `<<`, and the parser ended
    /// the word at a blank (`x[/ls #]; rm x` and `LANG[[]=C #]; rm x` run `rm x`; probe 64
    /// F2, probe 66 F1), or whose `]` may close nothing to bash ([`surely_closing_bracket`]:
    /// `a[']'[]= #]; rm x`, probe 139 F1).
    pub(super) fn subscript_read_on(&mut self, raw: &str) -> bool {
        let read_on = leading_name(raw).is_some_and(|(_, after_name)| {
            after_name.starts_with('[') && surely_closing_bracket(after_name).is_none()
        });
        if read_on {
            self.problem(format!(
                "`{raw}`: bash reads a `[` after a name on to the `]` that closes it, the parser ends the word here: not checked"
            ));
        }
        read_on
    }

    /// The commands of the substitutions in a here-document's body.
    pub(super) fn here_document(&mut self, body: &str, depth: usize) {
        if self.dialect != Dialect::Bash
            && let Some(refusal) = dialect::expansion_past_its_line(body)
        {
            return self.problem(refusal);
        }
        // The word parser's time grows with each `$(`, `(`, `${` or `$[` left open in a body,
        // which, unlike a word's, the tokenizer has not matched up.
        if expansion_nesting(body) > MAX_HERE_DOCUMENT_NESTING {
            return self.problem(format!(
                "a here-document nests `$(…)`, `${{…}}` and `$[…]` more than {MAX_HERE_DOCUMENT_NESTING} deep, which the parser takes exponential time over: not checked"
            ));
        }
        match brush_parser::word::parse_heredoc(body, &options()) {
            Ok(pieces) => drop(self.value_of(body, &pieces, depth)),
            Err(error) => self.problem(format!("a here-document does not parse: {error}")),
        }
    }

    /// The value of `pieces`; its literal text, expansions left out, is refused when bash
    /// arithmetic could run a command written in it (see [`Checker::evaluable`]).
    fn value_of(&mut self, raw: &str, pieces: &[WordPieceWithSource], depth: usize) -> Word {
        let mut value = Value {
            text: String::new(),
            known: true,
        };
        self.pieces(raw, pieces, false, &mut value, depth);
        self.evaluable(&value.text);
        if value.known {
            Word::Literal(value.text)
        } else {
            Word::Dynamic(raw.to_owned())
        }
    }

    /// Appends the literal text of `pieces` to `value` (no longer `known` once a piece is not
    /// literal).
    fn pieces(
        &mut self,
        raw: &str,
        pieces: &[WordPieceWithSource],
        quoted: bool,
        value: &mut Value,
        depth: usize,
    ) {
        let push = |value: &mut Value, text: &str| value.text.push_str(text);
        for piece in pieces {
            match &piece.piece {
                WordPiece::Text(text) => {
                    // What follows this piece in the word, as written.
                    let rest = raw.get(piece.end_index..).unwrap_or(raw);
                    // A `$(` or `${` the parser left as text, where bash reads an expansion:
                    // `$(( $((rm y) ) ))` came as the text `$((` and the arithmetic `rm y) ) `,
                    // bash's `$( (rm y) )` unseen (probe 149 F3). But `${{`, a template's
                    // (`${{ github.sha }}`), which bash ends where the parser does and then
                    // refuses to expand.
                    let opens =
                        |text: &str| text.contains("$(") || text.replace("${{", "").contains("${");
                    let next: String = rest.chars().take(2).collect();
                    if opens(text) || (text.ends_with('$') && opens(&format!("${next}"))) {
                        self.problem(format!(
                            "`{raw}`: a `$(` or `${{` the parser reads as text, where bash reads an expansion: not checked"
                        ));
                    }
                    if !quoted && expands(text, rest) {
                        value.known = false;
                    }
                    push(value, text);
                }
                WordPiece::SingleQuotedText(text) => push(value, text),
                WordPiece::AnsiCQuotedText(text) => {
                    if self.dialect == Dialect::Posix {
                        self.problem(not_bash("`$'…'`"));
                    }
                    match ansi_c(text) {
                        Some(text) => push(value, &text),
                        None => value.known = false,
                    }
                }
                WordPiece::DoubleQuotedSequence(inner) => {
                    self.pieces(raw, inner, true, value, depth);
                }
                WordPiece::GettextDoubleQuotedSequence(_) => {
                    let source = raw.get(piece.start_index..piece.end_index).unwrap_or(raw);
                    self.problem(format!(
                        "`{source}` is replaced by its translation from a message catalog (`TEXTDOMAINDIR`), whose `$(…)` bash runs: not checked (write `\"…\"`)"
                    ));
                    value.known = false;
                }
                WordPiece::EscapeSequence(escaped) => {
                    push(value, escaped_text(escaped));
                }
                WordPiece::CommandSubstitution(script) => {
                    if comment_in_substitution(script) {
                        self.problem(format!(
                            "a `#` starting a word inside `$({script})`: bash reads a comment to the line's end there, where the parser may end the substitution at a `)`: not checked (leave the comment out, or escape the `#`: `\\#`)"
                        ));
                    }
                    self.script(script, depth + 1, self.dialect);
                    value.known = false;
                }
                WordPiece::BackquotedCommandSubstitution(script) => {
                    // Inside backticks bash reads a backslash before another backslash, a `$` or a
                    // backtick as an escape before it reads the script, which the parser hands over
                    // as written: `\\'` is a quote to bash, a backslash and a quote here.
                    if script.contains('\\') {
                        let source = raw.get(piece.start_index..piece.end_index).unwrap_or(raw);
                        self.problem(format!(
                            "a backslash inside backticks (`{source}`) is read once more by bash: not checked (write `$(…)`)"
                        ));
                    } else {
                        self.script(script, depth + 1, self.dialect);
                    }
                    value.known = false;
                }
                WordPiece::ArithmeticExpression(expr) => {
                    let source = raw.get(piece.start_index..piece.end_index).unwrap_or(raw);
                    // The parser reads `$( (cmd) )` as the arithmetic `$((cmd))`.
                    if !source.starts_with("$((") {
                        self.problem(format!("`{source}` is ambiguous and not checked"));
                    }
                    self.arithmetic(&expr.value, depth);
                    value.known = false;
                }
                WordPiece::ParameterExpansion(_) | WordPiece::TildeExpansion(_) => {
                    let source = raw.get(piece.start_index..piece.end_index).unwrap_or(raw);
                    // What follows the `${` or `~`.
                    let inner = source.get(2..).unwrap_or_default();
                    if runs_commands(inner) {
                        self.problem(format!(
                            "a command substitution inside `{source}` is not checked"
                        ));
                    }
                    // Shells end a `${…}` holding quotes at different places (dash reads a `'`
                    // inside `"${x-'}"` as a character, bash as a quote), and one holding
                    // `$${` (dash reads `$$` and a `{`, bash `$` and a nested `${`, so dash
                    // ends `${x-$${}; rm y; echo }` at the first `}`: probe 135 F1).
                    let quotes = inner.contains('\'')
                        || inner.contains("$\"")
                        || (inner.contains("$((") && inner.contains('"'));
                    let pid_brace = inner.replace("\\\n", "").contains("$${");
                    if self.dialect != Dialect::Bash && (quotes || pid_brace) {
                        self.problem(not_bash(&format!("the quotes or `$${{` in `{source}`")));
                    }
                    if let WordPiece::ParameterExpansion(expansion) = &piece.piece {
                        self.expansion(expansion);
                    }
                    self.arithmetic_inside(inner, depth);
                    self.expansions_inside(inner, depth);
                    value.known = false;
                }
            }
        }
    }

    /// The arithmetic expansions in the operands of a `${…}` (`inner`, what follows its
    /// `${`): bash expands a pattern, a replacement or a default as a word, so
    /// `${x/a/$((BASH_COMPAT=44))}` assigns as `$((BASH_COMPAT=44))` does; each is checked
    /// as one. A `$[…]` there (the old spelling) is not read: refused.
    fn arithmetic_inside(&mut self, inner: &str, depth: usize) {
        if inner.contains("$[") {
            self.problem(format!(
                "`$[…]` inside `${{{inner}` is not checked: write `$((…))`"
            ));
        }
        let mut rest = inner;
        while let Some(at) = rest.find("$((") {
            rest = &rest[at + 3..];
            // Not plain arithmetic (a parenthesis, a quote inside): `runs_commands` refuses it.
            if let Some(length) = plain_arithmetic(rest) {
                self.arithmetic(&rest[..length - 2], depth);
                rest = &rest[length..];
            }
        }
    }

    /// The commands of the substitutions in the arithmetic `text`, which bash expands as a
    /// double-quoted word (see [`Checker::arithmetic`]).
    pub(super) fn substitutions_in_arithmetic(&mut self, text: &str, depth: usize) {
        match brush_parser::word::parse(text, &options()) {
            Ok(pieces) => {
                let mut value = Value {
                    text: String::new(),
                    known: true,
                };
                self.pieces(text, &pieces, true, &mut value, depth);
            }
            Err(error) => self.problem(format!("the arithmetic `{text}` does not parse: {error}")),
        }
    }

    /// The `${…}` nested in the operands of a `${…}` (`inner`, what follows its `${`), each
    /// checked as a word of its own: bash expands a default, a pattern or a replacement, so
    /// `${x:-${BASH_CMDS[ls]:=/usr/bin/touch}}` assigns as `${BASH_CMDS[ls]:=…}` does. One
    /// whose end the scan cannot find is refused.
    fn expansions_inside(&mut self, inner: &str, depth: usize) {
        if !self.within(depth + 1) {
            return;
        }
        let mut rest = inner;
        while let Some(at) = rest.find("${") {
            let nested = &rest[at..];
            // From its `{`: the `}` that closes it.
            let mut open = 0usize;
            let end = nested[1..].char_indices().find_map(|(index, char)| {
                match char {
                    '{' => open += 1,
                    '}' => open -= 1,
                    _ => {}
                }
                (open == 0).then_some(index + 2)
            });
            let Some(end) = end else {
                return self.problem(format!(
                    "`${{{inner}` holds a `${{` whose end is not found: not checked"
                ));
            };
            self.word(&nested[..end], depth + 1);
            rest = &nested[end..];
        }
    }

    /// What a `${…}` sets or evaluates as arithmetic: `${NAME:=value}` and `${NAME=value}`
    /// assign `NAME`; an array's index (`${a[i=1]}`) and a substring's offset and length
    /// (`${x:i=1}`) are arithmetic, which assigns too.
    fn expansion(&mut self, expansion: &ParameterExpr) {
        use ParameterExpr as E;
        let parameter = match expansion {
            E::AssignDefaultValues {
                parameter,
                indirect,
                ..
            } => {
                // `${!NAME:=value}` assigns the variable whose name `NAME` holds.
                if *indirect {
                    self.problem(
                        "`${!…:=…}` assigns a variable named only when it runs: not checked",
                    );
                }
                if let Parameter::Named(name) | Parameter::NamedWithIndex { name, .. } = parameter {
                    self.assigned(name);
                }
                parameter
            }
            E::Substring {
                parameter,
                offset,
                length,
                ..
            } => {
                for arithmetic in std::iter::once(offset).chain(length) {
                    self.evaluated_as_written(&arithmetic.value);
                }
                parameter
            }
            E::Parameter { parameter, .. }
            | E::UseDefaultValues { parameter, .. }
            | E::IndicateErrorIfNullOrUnset { parameter, .. }
            | E::UseAlternativeValue { parameter, .. }
            | E::ParameterLength { parameter, .. }
            | E::RemoveSmallestSuffixPattern { parameter, .. }
            | E::RemoveLargestSuffixPattern { parameter, .. }
            | E::RemoveSmallestPrefixPattern { parameter, .. }
            | E::RemoveLargestPrefixPattern { parameter, .. }
            | E::Transform { parameter, .. }
            | E::UppercaseFirstChar { parameter, .. }
            | E::UppercasePattern { parameter, .. }
            | E::LowercaseFirstChar { parameter, .. }
            | E::LowercasePattern { parameter, .. }
            | E::ReplaceSubstring { parameter, .. } => parameter,
            E::VariableNames { .. } | E::MemberKeys { .. } => return,
        };
        if let Parameter::NamedWithIndex { index, .. } = parameter {
            self.evaluated_as_written(index);
        }
    }
}

/// A word's value as its pieces are read.
struct Value {
    /// Its literal text: what quotes and escapes give, without what expansions do.
    text: String,
    /// Whether the word is that text (no piece is expanded).
    known: bool,
}

/// What the escape sequence `escaped` (`\x`) stands for: `x`, and nothing for a line
/// continuation (a backslash-newline).
pub(super) fn escaped_text(escaped: &str) -> &str {
    match escaped.strip_prefix('\\').unwrap_or(escaped) {
        "\n" => "",
        text => text,
    }
}

/// Whether unquoted `text`, followed in its word by `rest` (as written), is changed by
/// globbing: `r?`, `/bin/r[m]`, extended globs. A `[` opens a bracket expression only when a
/// `]` follows it in the word, so `[` (the `test` command) and `a[` are themselves, as in
/// bash.
fn expands(text: &str, rest: &str) -> bool {
    let bracket =
        (text.find('[')).is_some_and(|at| text[at + 1..].contains(']') || rest.contains(']'));
    bracket || text.contains(['*', '?', '('])
}

/// How deeply `$(`, `${` and `$[` may nest in a here-document's body, a `(` inside them
/// counting too: the word parser's time grows about threefold with each left open.
const MAX_HERE_DOCUMENT_NESTING: usize = 3;

/// How many `$(`, `${` and `$[` (and `(` inside them) are open at once, at most, in a
/// here-document's `body`, in one scan that may count more than the word parser sees, never
/// fewer. A `)`, `}` or `]` closes the innermost when it is its own and is not quoted in it:
/// a `(` follows the quotes a shell reads (`'…'`, `"…"`) inside it, but a `${` or `$[` stops
/// closing at any quote inside it, and any of them at a backslash or a backtick (the closer
/// might be escaped).
fn expansion_nesting(body: &str) -> usize {
    /// An open `$(`, `(`, `${` or `$[`.
    struct Open {
        closer: u8,
        quote: Option<u8>,
        closes: bool,
    }
    let bytes = body.as_bytes();
    let mut open: Vec<Open> = Vec::new();
    let mut deepest = 0;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        at += 1;
        let closer = match (byte, bytes.get(at)) {
            (b'$', Some(b'(')) => Some(b')'),
            (b'(', _) if !open.is_empty() => Some(b')'),
            (b'$', Some(b'{')) => Some(b'}'),
            (b'$', Some(b'[')) => Some(b']'),
            _ => None,
        };
        if let Some(closer) = closer {
            at += usize::from(byte == b'$');
            open.push(Open {
                closer,
                quote: None,
                closes: true,
            });
            deepest = deepest.max(open.len());
            continue;
        }
        let Some(innermost) = open.last_mut() else {
            continue;
        };
        match byte {
            b'\\' | b'`' => innermost.closes = false,
            b'\'' | b'"' if innermost.closer != b')' => innermost.closes = false,
            b'\'' | b'"' if innermost.quote.is_none() => innermost.quote = Some(byte),
            b'\'' | b'"' if innermost.quote == Some(byte) => innermost.quote = None,
            _ if byte == innermost.closer && innermost.closes && innermost.quote.is_none() => {
                open.pop();
            }
            _ => {}
        }
    }
    deepest
}

/// The first character of the first word bash makes of the word written `raw`, when it is
/// known whatever its expansions give: quoted, escaped or plain text before them (`x$y`,
/// `"%s: $x"`, `x{a,b}`). `None` when an expansion, a `$'…'`, a glob (`*`, `?`, `[`, `@(`,
/// …), a `{` or a `~` comes first: its value could start with `-`.
pub(super) fn first_character(raw: &str) -> Option<char> {
    let pieces = brush_parser::word::parse(raw, &options()).ok()?;
    first_of(&pieces, false).flatten()
}

/// The first character of `pieces` (see [`first_character`]): `None` when they are empty,
/// `Some(None)` when it is not known.
fn first_of(pieces: &[WordPieceWithSource], quoted: bool) -> Option<Option<char>> {
    for piece in pieces {
        let first = match &piece.piece {
            WordPiece::Text(text) => {
                let first = text.chars().next();
                let globs = |c: char| {
                    "*?[{(~".contains(c) || ("+@!".contains(c) && text[1..].starts_with('('))
                };
                match first {
                    Some(c) if !quoted && globs(c) => Some(None),
                    first => first.map(Some),
                }
            }
            WordPiece::SingleQuotedText(text) => text.chars().next().map(Some),
            WordPiece::EscapeSequence(escaped) => escaped_text(escaped).chars().next().map(Some),
            WordPiece::DoubleQuotedSequence(inner)
            | WordPiece::GettextDoubleQuotedSequence(inner) => first_of(inner, true),
            _ => Some(None),
        };
        if first.is_some() {
            return first;
        }
    }
    None
}

/// Whether the word written `raw` always makes exactly one word: no unquoted expansion (it
/// could split or vanish), glob or brace, and no `@` in double quotes (`"$@"`).
pub(super) fn one_field(raw: &str) -> bool {
    let Ok(pieces) = brush_parser::word::parse(raw, &options()) else {
        return false;
    };
    pieces.iter().all(|piece| match &piece.piece {
        WordPiece::Text(text) => !text.contains(['*', '?', '[', '{', '(', '~']),
        WordPiece::SingleQuotedText(_)
        | WordPiece::AnsiCQuotedText(_)
        | WordPiece::EscapeSequence(_) => true,
        WordPiece::DoubleQuotedSequence(_) | WordPiece::GettextDoubleQuotedSequence(_) => {
            !(raw.get(piece.start_index..piece.end_index)).is_none_or(|source| source.contains('@'))
        }
        _ => false,
    })
}

/// Whether bash could brace-expand the word written `raw` (see [`brace_expands`]).
pub(super) fn braces(raw: &str) -> bool {
    brush_parser::word::parse(raw, &options())
        .is_ok_and(|pieces| brace_expands(&unquoted_text(&pieces)))
}

/// Whether bash could brace-expand the word whose [`unquoted_text`] is `text`: an unquoted
/// `{`, then an unquoted `,` or `..`, then an unquoted `}`, judged on the whole word — the
/// alternatives' own quoting does not matter (`{"rm",x}`, `{\rm,x}` and `{$'rm',x}` expand
/// like `{rm,x}`). A quoted, escaped or expanded piece neither opens, separates nor closes.
fn brace_expands(text: &str) -> bool {
    let Some((_, after_open)) = text.split_once('{') else {
        return false;
    };
    let Some((inside, _)) = after_open.rsplit_once('}') else {
        return false;
    };
    inside.contains(',') || inside.contains("..")
}

/// Whether the [`unquoted_text`] of a word holds a `<(` or a `>(`: the parser leaves a
/// process substitution inside an extended glob (`@(a|<(cmd))`, which bash reads in a
/// `[[ … == … ]]` pattern whatever `extglob` says) or a `[[ … =~ … ]]` group as text, and
/// bash runs it (probe 51 F1). One the parser reads as a substitution is a piece of its own.
fn substitutes_in_text(text: &str) -> bool {
    text.contains("<(") || text.contains(">(")
}

/// The unquoted text of `pieces`, its line continuations gone (bash drops them before it
/// reads a word: `<\⏎(` is `<(`), every other piece (quoted, escaped, expanded) standing as
/// a NUL, which neither opens, separates nor closes anything.
fn unquoted_text(pieces: &[WordPieceWithSource]) -> String {
    (pieces.iter())
        .map(|piece| match &piece.piece {
            WordPiece::Text(text) => text.as_str(),
            WordPiece::EscapeSequence(escaped) if escaped_text(escaped).is_empty() => "",
            _ => "\0",
        })
        .collect()
}

/// Whether `text` holds a command substitution or a process substitution. An arithmetic
/// expansion `$((…))` with no parenthesis, quote or backslash inside is not one: bash reads
/// it as arithmetic, where a `(` could make it retry as a command substitution
/// (`$((echo hi) )`).
pub(super) fn runs_commands(text: &str) -> bool {
    holds_outside_arithmetic(text, &["$(", "`", "<(", ">("])
}

/// Whether `text` holds one of `opens` outside its plain arithmetic expansions (see
/// [`runs_commands`]); an arithmetic expansion that is not plain counts as holding one.
pub(super) fn holds_outside_arithmetic(text: &str, opens: &[&str]) -> bool {
    let holds = |text: &str| opens.iter().any(|open| text.contains(open));
    let mut rest = text;
    while let Some(at) = rest.find("$((") {
        if holds(&rest[..at]) {
            return true;
        }
        let inside = &rest[at + 3..];
        match plain_arithmetic(inside) {
            Some(length) => rest = &inside[length..],
            None => return true,
        }
    }
    holds(rest)
}

/// For the text after a `$((`: the length up to the `))` that ends it, included, when it is
/// plain arithmetic (no parenthesis, quote, backtick or backslash inside), else `None`.
pub(super) fn plain_arithmetic(inside: &str) -> Option<usize> {
    let end = inside.find(['(', ')', '`', '\'', '"', '\\'])?;
    inside[end..].starts_with("))").then_some(end + 2)
}

/// Decodes the body of a `$'…'` string as bash 5.2 does: its escapes give bytes, which must
/// make UTF-8. `None` for what it cannot decode for sure: a `\c` control character, a
/// `\x{…}` whose digits are not closed by a `}` right after them, a `\u` or `\U` above
/// U+007F (its bytes depend on the locale: in the C locale `\u00e9` is the text `\u00E9`),
/// a NUL (bash ends the string there: `$'rm\0x'` is `rm`), or bytes that are not UTF-8.
fn ansi_c(body: &str) -> Option<String> {
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        at += 1;
        if byte != b'\\' {
            out.push(byte);
            continue;
        }
        let Some(&escape) = bytes.get(at) else {
            out.push(byte);
            break;
        };
        at += 1;
        let rest = bytes.get(at..).unwrap_or_default();
        let decoded = match escape {
            b'a' => 0x07,
            b'b' => 0x08,
            b'e' | b'E' => 0x1b,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0b,
            b'\\' | b'\'' | b'"' | b'?' => escape,
            // One to three octal digits, this one the first; bash keeps the low 8 bits of
            // the number (`\562` is `r`).
            b'0'..=b'7' => {
                let (value, length) = number(bytes.get(at - 1..).unwrap_or_default(), 8, 3);
                at += length.saturating_sub(1);
                low_byte(value)
            }
            // `\x{…}`: any number of hex digits, of which the low 8 bits count (`\x{172}` is
            // `r`), then `}`.
            b'x' if rest.first() == Some(&b'{') => {
                let (value, length) = number(&rest[1..], 16, usize::MAX);
                if length == 0 || rest.get(1 + length) != Some(&b'}') {
                    return None;
                }
                at += length + 2;
                low_byte(value)
            }
            // `\xHH`, `\uHHHH`, `\UHHHHHHHH`: up to that many hex digits; with none, the
            // backslash and the letter stay.
            b'x' | b'u' | b'U' => {
                let most = match escape {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let (value, length) = number(rest, 16, most);
                if length == 0 {
                    out.extend([byte, escape]);
                    continue;
                }
                if value > 0x7f {
                    return None;
                }
                at += length;
                low_byte(value)
            }
            b'c' => return None,
            _ => {
                out.extend([byte, escape]);
                continue;
            }
        };
        if decoded == 0 {
            return None;
        }
        out.push(decoded);
    }
    String::from_utf8(out).ok()
}

/// The number written by the digits of `radix` that start `bytes`, at most `most` of them,
/// wrapping past `u32` (only its low 8 bits are kept where that can happen), and how many
/// digits it has.
pub(super) fn number(bytes: &[u8], radix: u32, most: usize) -> (u32, usize) {
    let digits = (bytes.iter())
        .take(most)
        .map_while(|&byte| char::from(byte).to_digit(radix));
    digits.fold((0, 0), |(value, length), digit| {
        (value.wrapping_mul(radix).wrapping_add(digit), length + 1)
    })
}

/// The low 8 bits of `value`, which bash keeps of an octal or `\x{…}` escape.
fn low_byte(value: u32) -> u8 {
    value.to_le_bytes()[0]
}

#[cfg(test)]
mod tests {
    use super::{brace_expands, expands, first_character, one_field, options, unquoted_text};

    #[test]
    fn braces_expand_whatever_their_parts_quoting() {
        let pieces = |raw| brush_parser::word::parse(raw, &options()).unwrap();
        let expands = |raw| brace_expands(&unquoted_text(&pieces(raw)));
        for raw in [
            "{rm,x}",
            "{\"rm\",x}",
            "{\\rm,x}",
            "{$'rm',x}",
            "{'a','b'}",
            "a{b,\"c\"}d",
            "{1..3}",
            "{\"a\"..c}",
            "{x,}",
        ] {
            assert!(expands(raw), "{raw}");
        }
        for raw in [
            "rm",
            "{rm}",
            "\\{rm,x}",
            "{rm\\,x}",
            "{rm\",x\"}",
            "'{rm,x}'",
            "{a,b",
            "${x},}",
        ] {
            assert!(!expands(raw), "{raw}");
        }
    }

    #[test]
    fn a_bracket_globs_only_when_closed() {
        assert!(!expands("[", ""));
        assert!(!expands("a[", ""));
        assert!(!expands("[", "$x"));
        assert!(expands("/bin/r[m]", ""));
        assert!(expands("r[", "\\m]"));
        assert!(expands("r[", "\"]\""));
        assert!(expands("r*", ""));
    }

    #[test]
    fn the_first_character_of_a_word_is_known_before_its_expansions() {
        for (raw, first) in [
            ("x$y", Some('x')),
            ("\"%s: $x\"", Some('%')),
            ("''\"\"-$x", Some('-')),
            ("\\*$x", Some('*')),
            ("x{a,-v}", Some('x')),
            ("$x", None),
            ("\"$x\"", None),
            ("*", None),
            ("[-]v", None),
            ("@(-v)", None),
            ("{-v,x}", None),
            ("~", None),
            ("$'-v'$x", None),
        ] {
            assert_eq!(first_character(raw), first, "{raw}");
        }
        for raw in ["\"$x\"", "a'b'\"$*\"", "\"\""] {
            assert!(one_field(raw), "{raw}");
        }
        for raw in ["$x", "\"$@\"", "\"${a[@]}\"", "x*", "{a,b}", "$(ls)"] {
            assert!(!one_field(raw), "{raw}");
        }
    }
}
