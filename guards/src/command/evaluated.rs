//! Text bash evaluates as arithmetic: `((…))`, `$((…))`, array subscripts, the operands of
//! `[[ … -eq … ]]` and `-v`, `let`'s arguments — and literal text that could reach it through
//! a variable (`a[$(cmd)]` in any argument). The evaluator expands an array subscript it
//! meets (`a[$(cmd)]`) even when the text came from quotes, and it assigns variables
//! (`x = 1`, `x++`).

use brush_parser::ast::BinaryPredicate;
use brush_parser::word::{WordPiece, WordPieceWithSource};

use super::script::{Dialect, ends_a_word, not_bash, options};
use super::word::{escaped_text, holds_outside_arithmetic, plain_arithmetic, runs_commands};
use super::{Checker, Word};

mod subscript;

pub(crate) use self::subscript::{evaluable, evaluable_at};

impl Checker {
    /// `((…))` and `$((…))`: bash expands the text as a double-quoted word, then evaluates
    /// it. The commands of its `$(…)` are checked when the text reads alike to every reader
    /// ([`reads_plainly`]), else refused; what they print is evaluated, as a variable's value
    /// is, which is beyond the checker. The names the text assigns are recorded.
    pub(super) fn arithmetic(&mut self, text: &str, depth: usize) {
        if substitutes_in_arithmetic(text) {
            if reads_plainly(text) {
                self.substitutions_in_arithmetic(text, depth);
            } else {
                self.problem(format!(
                    "a command substitution inside `(({text}))` beside a quote, a backslash, a backtick, a comment, a `<<` or a parenthesis of its own is not checked (give its output a name first: `n=$(…); (( n + 1 ))`)"
                ));
            }
        }
        if let Some(at) = literal_dollar(text) {
            self.problem(format!(
                "`{}` inside `(({text}))`: a `$` or a backquote that starts no expansion, which bash keeps in the text it evaluates, where a subscript's `$(…)` it spells with what follows runs (`a\"[$\"(rm x)]`): not checked (leave it out)",
                &text[at..].chars().take(12).collect::<String>()
            ));
        }
        if let Some(expansion) = operand_spelling_a_substitution(text) {
            self.problem(format!(
                "`{expansion}` inside `(({text}))`: bash evaluates the text the expansion gives as arithmetic, where a subscript's `$(…)` or backquote runs, and this operand may spell one (`${{x-a[$}}(rm x)]`): not checked (give the value a name first: `d=…; (( d + 1 ))`)"
            ));
        }
        self.joined_in_arithmetic(text, word_pieces(text).as_deref());
        // dash ends `$((…))` at the first `))`, quoted or not; bash skips quoted ones.
        if self.dialect != Dialect::Bash && text.contains(['\'', '"']) {
            self.problem(not_bash(&format!("a quote inside `(({text}))`")));
        }
        self.arithmetic_assigns(text);
    }

    /// A word whose value bash evaluates as arithmetic (`let`'s arguments, the name given to
    /// `test -v`): see [`Checker::evaluated_as_written`]; a literal value is refused when it
    /// holds a `$` or a backtick. The word is expanded before it is evaluated, so a
    /// subscript in it is expanded twice: one written around an expansion is refused too
    /// (`let "a[$i]"` runs the command substitution `$i` holds).
    pub(super) fn evaluated(&mut self, word: &Word) {
        match word {
            Word::Literal(text) => {
                if text.contains(['$', '`']) {
                    self.unseen_in_arithmetic(text);
                }
                self.arithmetic_assigns(text);
            }
            Word::Dynamic(raw) => {
                if raw.contains('[') {
                    self.expanded_twice(raw);
                }
                self.evaluated_as_written(raw);
            }
        }
    }

    /// Refuses the text `raw`, whose expansions bash expands again (`let "a[$i]"`, the key
    /// of a compound assignment `a=([$i]=1)`): one could hold a command substitution.
    pub(super) fn expanded_twice(&mut self, raw: &str) {
        self.problem(format!(
            "`{raw}` holds an expansion in an array subscript that bash expands twice, running a command substitution its value could hold: not checked (assign the element on its own: `a[$i]=1`, `(( a[$i] ))`)"
        ));
    }

    /// A word, as written in a script, whose expansion bash evaluates as arithmetic (an array
    /// subscript, an operand of `[[ … -eq … ]]`): refused when the evaluator could meet text
    /// the checker does not see (see [`hides_commands`]); the names it assigns are recorded.
    /// A plain `$name` is allowed: what a variable holds is out of the checker's reach.
    pub(super) fn evaluated_as_written(&mut self, raw: &str) {
        let pieces = word_pieces(raw);
        self.joined_in_arithmetic(raw, pieces.as_deref());
        if hides_commands(raw, pieces.as_deref()) {
            self.unseen_in_arithmetic(raw);
        }
        self.arithmetic_assigns(raw);
    }

    /// Refuses the literal text `text` (an argument, a word of a script, a here-document)
    /// when bash arithmetic could run a command written in it (see [`evaluable`]).
    pub(super) fn evaluable(&mut self, text: &str) {
        if let Some(reason) = evaluable(text) {
            self.problem(reason);
        }
    }

    /// Refuses the text `raw`, which bash evaluates as arithmetic, where an expansion is
    /// joined to what follows it (see [`expansion_joined`]); `pieces` are its [`word_pieces`].
    fn joined_in_arithmetic(&mut self, raw: &str, pieces: Option<&[WordPieceWithSource]>) {
        if let Some(joined) = expansion_joined(raw, pieces) {
            self.problem(format!(
                "`{joined}` in `{raw}`, evaluated as arithmetic: an expansion joined to the text after it (anything but a blank, an operator or a closing bracket), which bash evaluates together, where a subscript's `$(…)` or `${{…@P}}` they spell runs (`v='a[$'; (( ${{v}}(rm x)] ))`): not checked (put a blank or an operator after the expansion)"
            ));
        }
    }

    fn unseen_in_arithmetic(&mut self, text: &str) {
        self.problem(format!(
            "`{text}` is evaluated as arithmetic, where a `$` or a backtick could run a command the checker does not see"
        ));
    }

    /// Records the variables the arithmetic `text` assigns; one named by an expansion is a
    /// problem.
    fn arithmetic_assigns(&mut self, text: &str) {
        let targets = arithmetic_targets(text);
        for name in targets.names {
            self.assigned(name);
        }
        if targets.unknown {
            self.problem(format!(
                "`{text}` assigns a variable the checker cannot name"
            ));
        }
    }
}

/// Whether the text of an arithmetic evaluation (`((…))`, `$((…))`) holds a command
/// substitution. bash makes no process substitution there: `a >(b)` compares — as long as the
/// text's parentheses balance, none quoted: one closed too early makes bash read the whole
/// as commands (`((true) >(cmd))` is a subshell writing to a process substitution).
pub(super) fn substitutes_in_arithmetic(text: &str) -> bool {
    if text.contains(['\'', '"', '\\']) || !balanced(text) {
        return runs_commands(text);
    }
    holds_outside_arithmetic(text, &["$(", "`"])
}

/// Where in the arithmetic `text` a `$` stands that starts no expansion (before a quote, a
/// blank, an operator or the end: `a"[$"(rm x)]`), or an escaped `\$` or `` \` ``: bash
/// keeps it in the text it evaluates after removing the quotes, and a subscript there runs
/// the `$(…)` it spells with the text after it (probe 167 F1), which no scan for `$(` side by
/// side sees.
fn literal_dollar(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let next = bytes.get(at + 1).copied();
        match (byte, next) {
            (b'\\', Some(b'$' | b'`')) => return Some(at),
            (b'$', Some(b'$')) => at += 1,
            (b'$', next)
                if !next.is_some_and(|next| in_name(next) || b"{([@*#?!-".contains(&next)) =>
            {
                return Some(at);
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// The first expansion — of a parameter, or a command substitution — in the text `raw` that
/// bash evaluates as arithmetic, with the character that follows it, unless that is a blank,
/// an operator's or a closing bracket (`)`, `]`). bash evaluates the text the expansion gives
/// together with what follows, and a subscript the two spell there runs its `$(…)`,
/// backquotes or `${…@P}` (`v='a[$'; (( ${v}(rm x)] ))` ran `rm x`: probe 169 F1; `v='a[${x@';
/// (( ${v}P}] ))`: probe 171 F1), which no scan of the text as written sees. A text the word
/// parser cannot read (no `pieces`) is one whole.
fn expansion_joined<'r>(raw: &'r str, pieces: Option<&[WordPieceWithSource]>) -> Option<&'r str> {
    match pieces {
        Some(pieces) => first_joined(raw, pieces, None),
        None => Some(raw),
    }
}

/// The pieces of the word or arithmetic text written `raw`, as brush-parser's word parser
/// reads them; `None` where it cannot.
fn word_pieces(raw: &str) -> Option<Vec<WordPieceWithSource>> {
    brush_parser::word::parse(raw, &options()).ok()
}

/// [`expansion_joined`] among the `pieces` of `raw`, double-quoted ones looked into; a piece
/// that ends at `closing`, the quote that ends the double-quoted text it is in, is followed
/// by what follows the quote.
fn first_joined<'r>(
    raw: &'r str,
    pieces: &[WordPieceWithSource],
    closing: Option<usize>,
) -> Option<&'r str> {
    pieces.iter().find_map(|piece| match &piece.piece {
        WordPiece::DoubleQuotedSequence(inner) | WordPiece::GettextDoubleQuotedSequence(inner) => {
            first_joined(raw, inner, piece.end_index.checked_sub(1))
        }
        WordPiece::ParameterExpansion(_)
        | WordPiece::CommandSubstitution(_)
        | WordPiece::BackquotedCommandSubstitution(_) => {
            let end = piece.end_index + usize::from(Some(piece.end_index) == closing);
            let follows = raw.get(end..)?.chars().next()?;
            let apart = follows.is_whitespace() || ")]+-*/%<>=!&|^~?:,;".contains(follows);
            (!apart).then(|| raw.get(piece.start_index..end + follows.len_utf8()))?
        }
        _ => None,
    })
}

/// A `${…}` in the arithmetic `text` whose operand — the word after its operator, as in
/// `${x:-0}` — holds a `$`, a backquote, a quote or a backslash: bash evaluates the text the
/// expansion gives together with what follows it, and a subscript there runs a command
/// substitution the two spell together (`$(( ${x-a[$}(rm x)] ))` runs `rm x`: probe 166
/// F1), which no scan for `$(` sees. The parameter itself (`${#a[$i]}`) is no operand.
fn operand_spelling_a_substitution(text: &str) -> Option<&str> {
    text.match_indices("${").find_map(|(at, _)| {
        let inner = &text[at + 2..];
        let mut depth = 1_usize;
        let end = inner
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map_or(inner.len(), |(end, _)| end);
        let operand = &inner[parameter_length(&inner[..end])..end];
        operand
            .contains(['$', '`', '\'', '"', '\\'])
            .then(|| &text[at..(at + 3 + end).min(text.len())])
    })
}

/// How long the parameter a `${…}`'s `body` starts with is: a `#` or `!` before a name, the
/// name (or one special character), and its subscript.
fn parameter_length(body: &str) -> usize {
    let bytes = body.as_bytes();
    let mut at = usize::from(matches!(bytes, [b'#' | b'!', _, ..]));
    let name = (bytes[at..].iter())
        .take_while(|&&byte| in_name(byte))
        .count();
    let special = body[at..].chars().next().map_or(0, char::len_utf8);
    at += if name > 0 { name } else { special };
    if bytes.get(at) == Some(&b'[') {
        at += closing_bracket(&body[at..]).map_or(body.len() - at, |end| end + 1);
    }
    at.min(body.len())
}

/// Whether the `$(…)` in the arithmetic `text` read alike to bash, dash and the parser: no
/// quote, backslash, backtick, `<<` (a here-document, or a shift), or `#` that starts a word
/// (a comment inside `$(…)` reads on past its `)`; `${#x}` and `$#` start none: probe 147
/// F4); line breaks are read alike (bash reprints a compound command in a `$(…)` on lines
/// of its own: probe 147 F3); every parenthesis closing one before it; every nested `$((…))`
/// plain ([`plain_arithmetic`]: a `(` in one could make bash retry it as a command
/// substitution).
pub(super) fn reads_plainly(text: &str) -> bool {
    let comment = (text.char_indices())
        .any(|(at, c)| c == '#' && text[..at].chars().next_back().is_none_or(ends_a_word));
    !comment
        && !text.contains(['\'', '"', '\\', '`'])
        && !text.contains("<<")
        && balanced(text)
        && (text.match_indices("$(("))
            .all(|(at, open)| plain_arithmetic(&text[at + open.len()..]).is_some())
}

/// Whether every `)` of `text` closes a `(` before it, and every `(` is closed.
fn balanced(text: &str) -> bool {
    let mut depth = 0usize;
    for character in text.chars() {
        match character {
            '(' => depth += 1,
            ')' => match depth.checked_sub(1) {
                Some(less) => depth = less,
                None => return false,
            },
            _ => {}
        }
    }
    depth == 0
}

/// Whether `[[ … ]]` compares its operands as numbers (`-eq`, …), evaluating each as
/// arithmetic.
pub(super) fn compares_numbers(predicate: &BinaryPredicate) -> bool {
    matches!(
        predicate,
        BinaryPredicate::ArithmeticEqualTo
            | BinaryPredicate::ArithmeticNotEqualTo
            | BinaryPredicate::ArithmeticLessThan
            | BinaryPredicate::ArithmeticLessThanOrEqualTo
            | BinaryPredicate::ArithmeticGreaterThan
            | BinaryPredicate::ArithmeticGreaterThanOrEqualTo
    )
}

/// Whether bash, evaluating the expansion of the word written `raw` as arithmetic, could run a
/// command the checker does not see: a `$` or a backtick in its literal text (quoted, escaped
/// or `$'…'`) or a `${…}` that could supply them (`${x:-\$}`); `pieces` are its
/// [`word_pieces`], and a word the parser cannot read could.
fn hides_commands(raw: &str, pieces: Option<&[WordPieceWithSource]>) -> bool {
    pieces.is_none_or(|pieces| pieces.iter().any(|piece| piece_hides_commands(raw, piece)))
}

/// [`hides_commands`] for one piece of the word written `raw`.
fn piece_hides_commands(raw: &str, piece: &WordPieceWithSource) -> bool {
    match &piece.piece {
        WordPiece::Text(text)
        | WordPiece::SingleQuotedText(text)
        | WordPiece::EscapeSequence(text) => text.contains(['$', '`']),
        // An escape could decode to `$`.
        WordPiece::AnsiCQuotedText(text) => text.contains(['$', '`', '\\']),
        WordPiece::DoubleQuotedSequence(inner) | WordPiece::GettextDoubleQuotedSequence(inner) => {
            inner.iter().any(|piece| piece_hides_commands(raw, piece))
        }
        // Its commands are checked with the word; what it prints is evaluated, as a
        // variable's value is, which is beyond the checker.
        WordPiece::CommandSubstitution(_) | WordPiece::BackquotedCommandSubstitution(_) => false,
        // A number; its own text is checked by `Checker::arithmetic`.
        WordPiece::ArithmeticExpression(_) | WordPiece::TildeExpansion(_) => false,
        WordPiece::ParameterExpansion(_) => {
            let source = raw.get(piece.start_index..piece.end_index);
            // What follows the `$`: a default or a pattern could supply a `$`.
            source
                .and_then(|source| source.get(1..))
                .is_none_or(|inner| inner.contains(['$', '`', '\\']))
        }
    }
}

/// What an arithmetic expression assigns.
#[derive(Debug, Default)]
struct Targets<'a> {
    /// The variables it sets (`x = 1`, `x += 1`, `x++`, `--x`, `a[i] = 1`).
    names: Vec<&'a str>,
    /// Whether it sets one the text does not name (`$n = 1`, `${n}++`), or one the scan
    /// cannot make out.
    unknown: bool,
}

/// The variables the arithmetic `text` assigns, read from its assignment operators: `=`
/// (not `==`, `!=`, `<=`, `>=`), `+=` and the other compound ones, `++` and `--`. It reads
/// the text as written (quotes and `$x` included), so it may name a variable that is only
/// read, never miss one that is set.
fn arithmetic_targets(text: &str) -> Targets<'_> {
    let bytes = text.as_bytes();
    let mut targets = Targets::default();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.starts_with(b"++") || rest.starts_with(b"--") {
            // The variable is on one side: the other is empty or an operator.
            targets.add(operand_before(text, at), false);
            targets.add(operand_after(text, at + 2), false);
            at += 2;
        } else if rest.starts_with(b"==") {
            at += 2;
        } else {
            if let Some(start) = assignment_start(bytes, at) {
                targets.add(operand_before(text, start), true);
            }
            at += 1;
        }
    }
    targets
}

impl<'a> Targets<'a> {
    /// Adds the operand of an assignment operator; `required` when the operator must have
    /// one (`=`, unlike `++`).
    fn add(&mut self, operand: Operand<'a>, required: bool) {
        match operand {
            Operand::Name(name) => self.names.push(name),
            Operand::None if !required => {}
            Operand::None | Operand::Unknown => self.unknown = true,
        }
    }
}

/// Where the assignment operator whose `=` is at `at` starts (`x <<= 1`), or `None` when
/// there is no `=` at `at` or it ends a comparison (`!=`, `<=`, `>=`).
fn assignment_start(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'=') {
        return None;
    }
    let before = |back: usize| at.checked_sub(back).and_then(|index| bytes.get(index));
    match before(1) {
        Some(b'!') => None,
        Some(&shift @ (b'<' | b'>')) => (before(2) == Some(&shift)).then(|| at - 2),
        Some(b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'^' | b'|') => Some(at - 1),
        _ => Some(at),
    }
}

/// The operand of an assignment operator.
#[derive(Debug)]
enum Operand<'a> {
    /// A variable, by name.
    Name(&'a str),
    /// Something the scan cannot name: an expansion, a quote.
    Unknown,
    /// Nothing: the text's start or end, an operator, a number.
    None,
}

/// Whether `byte` may be part of a variable's name.
fn in_name(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// The variable that ends just before `end` (spaces and one `[subscript]` skipped).
fn operand_before(text: &str, end: usize) -> Operand<'_> {
    let bytes = text.as_bytes();
    let mut end = end;
    while end > 0 && bytes[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    if end > 0 && bytes[end - 1] == b']' {
        let mut depth = 0usize;
        let mut open = None;
        for index in (0..end).rev() {
            match bytes[index] {
                b']' => depth += 1,
                b'[' => {
                    depth -= 1;
                    if depth == 0 {
                        open = Some(index);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(open) = open else {
            return Operand::Unknown;
        };
        end = open;
    }
    let mut start = end;
    while start > 0 && in_name(bytes[start - 1]) {
        start -= 1;
    }
    name_between(text, start, end)
}

/// The variable that starts at `start` (spaces skipped).
fn operand_after(text: &str, start: usize) -> Operand<'_> {
    let bytes = text.as_bytes();
    let mut start = start;
    while start < bytes.len() && bytes[start].is_ascii_whitespace() {
        start += 1;
    }
    if bytes.get(start) == Some(&b'$') {
        return Operand::Unknown;
    }
    let mut end = start;
    while end < bytes.len() && in_name(bytes[end]) {
        end += 1;
    }
    name_between(text, start, end)
}

/// The name at `start..end` of `text`: unknown when an expansion (`$x`, `${x}`) or a quote
/// gives it, none when empty or a number.
fn name_between(text: &str, start: usize, end: usize) -> Operand<'_> {
    let bytes = text.as_bytes();
    let before = start.checked_sub(1).and_then(|index| bytes.get(index));
    let after = bytes.get(end);
    let expanded = matches!(before, Some(b'$'))
        || (start == end && matches!(before, Some(b'}' | b'"' | b'\'' | b'`' | b')')))
        || (start == end && matches!(after, Some(b'$' | b'"' | b'\'' | b'`')));
    match text.get(start..end) {
        _ if expanded => Operand::Unknown,
        Some(name) if name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') => {
            Operand::Name(name)
        }
        _ => Operand::None,
    }
}

/// A variable a builtin is given (`read NAME`, `declare NAME=VALUE`): `NAME`, maybe a
/// `[SUBSCRIPT]`, maybe `=VALUE` or `+=VALUE`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Target<'a> {
    /// The variable.
    pub(super) name: &'a str,
    /// The subscript, which bash evaluates as arithmetic.
    pub(super) subscript: Option<&'a str>,
    /// The value, when one is given.
    pub(super) value: Option<&'a str>,
}

/// The variable name `text` starts with, and the text after it; `None` when it starts with
/// none.
pub(super) fn leading_name(text: &str) -> Option<(&str, &str)> {
    let name_end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
    let (name, rest) = text.split_at(name_end.unwrap_or(text.len()));
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        .then_some((name, rest))
}

/// Where the `]` is that closes the `[` starting `text` (brackets counted, as bash counts a
/// subscript's); `None` when none does.
pub(super) fn closing_bracket(text: &str) -> Option<usize> {
    let mut depth = 0_usize;
    text.char_indices().find_map(|(at, c)| {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ => return None,
        }
        (depth == 0).then_some(at)
    })
}

/// Where the `]` is that closes the `[` starting `text`, as far as bash surely reads it so:
/// `None` when none does, or when it may be quoted, escaped or inside an expansion, which
/// closes nothing to bash — a quote, a backslash or a backquote before it, or a `${` or a
/// `(` still open there, counted from the left (`[']'`, `[}${x#]`: probes 139 F1, 143 F2,
/// F3).
pub(super) fn surely_closing_bracket(text: &str) -> Option<usize> {
    let end = closing_bracket(text)?;
    let subscript = &text[..end];
    if subscript.contains(['\'', '"', '\\', '`']) {
        return None;
    }
    let (mut braces, mut parentheses, mut before) = (0_usize, 0_usize, ' ');
    for c in subscript.chars() {
        match c {
            '{' if before == '$' => braces += 1,
            '}' => braces = braces.saturating_sub(1),
            '(' => parentheses += 1,
            ')' => parentheses = parentheses.saturating_sub(1),
            _ => {}
        }
        before = c;
    }
    (braces == 0 && parentheses == 0).then_some(end)
}

/// Reads `text` as a [`Target`]; `None` when it does not start with a name or has more
/// after the name and subscript than a value.
pub(super) fn target(text: &str) -> Option<Target<'_>> {
    let (name, mut rest) = leading_name(text)?;
    let mut subscript = None;
    if rest.starts_with('[') {
        let close = closing_bracket(rest)?;
        subscript = Some(&rest[1..close]);
        rest = &rest[close + 1..];
    }
    let value = match rest {
        "" => None,
        _ => Some(rest.strip_prefix("+=").or_else(|| rest.strip_prefix('='))?),
    };
    Some(Target {
        name,
        subscript,
        value,
    })
}

/// The text of the word written `raw` up to its first expansion, quotes removed (all of it
/// when it has none).
pub(super) fn literal_prefix(raw: &str) -> String {
    let mut prefix = String::new();
    if let Ok(pieces) = brush_parser::word::parse(raw, &options()) {
        literal_pieces(&pieces, &mut prefix);
    }
    prefix
}

/// Appends the text of `pieces` up to the first that is not literal; whether all were.
fn literal_pieces(pieces: &[WordPieceWithSource], prefix: &mut String) -> bool {
    for piece in pieces {
        let literal = match &piece.piece {
            WordPiece::Text(text) | WordPiece::SingleQuotedText(text) => {
                prefix.push_str(text);
                true
            }
            WordPiece::EscapeSequence(escaped) => {
                prefix.push_str(escaped_text(escaped));
                true
            }
            WordPiece::DoubleQuotedSequence(inner)
            | WordPiece::GettextDoubleQuotedSequence(inner) => literal_pieces(inner, prefix),
            _ => false,
        };
        if !literal {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests;
