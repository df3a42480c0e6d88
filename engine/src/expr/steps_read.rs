//! Which steps an expression reads: the outputs its scope must hold, and the steps the
//! loader checks come before its own. Found in the parsed expression, or from its text alone
//! when that leaves no doubt (the common `steps.ID`), so that a big file's expressions are
//! not parsed twice.

use std::borrow::Cow;

use cel::common::ast::Expr;
use cel::parser::Expression;
use smallvec::SmallVec;

use super::condition::outer_parts;
use super::pieces::{Piece, find_open, is_ident_byte, pieces};
use super::reads::{selection, unknown_fields};
use super::{ExprError, inspect};

/// What a text (an expression, or a template's expressions) reads of `steps`.
#[derive(Debug, Default)]
pub(crate) struct StepsRead<'t> {
    /// The ids it reads by a name written out (`steps.ID`, `steps['ID']`, `steps.?ID`,
    /// `steps[?'ID']`, `has(steps.ID)`), in order of appearance, each once: the steps whose
    /// outputs its scope must hold. A `steps` that is a field of something else
    /// (`item.steps.x`), a macro's variable or text in a string is not a read.
    pub ids: SmallVec<[Cow<'t, str>; 2]>,
    /// An expression of it that reads `steps` without naming the step (the map whole, by a
    /// computed key, as a macro's range), if one does: the loader refuses it
    /// ([`unnamed_step_read`]).
    pub unnamed: Option<&'t str>,
}

impl<'t> StepsRead<'t> {
    /// Adds what another expression of the same text reads.
    fn add(&mut self, read: StepsRead<'t>) {
        for id in read.ids {
            if !self.ids.contains(&id) {
                self.ids.push(id);
            }
        }
        self.unnamed = self.unnamed.or(read.unnamed);
    }
}

/// What the CEL expression `expr` reads of `steps` (nothing for one that does not parse).
pub(crate) fn steps_read_by_expression(expr: &str) -> StepsRead<'_> {
    if let Some(ids) = scanned_step_reads(expr) {
        let ids = ids.into_iter().map(Cow::Borrowed).collect();
        return StepsRead { ids, unnamed: None };
    }
    let read = |expression: &Expression| {
        let reads = step_reads(expression);
        let ids = reads.ids.into_iter().map(str::to_owned);
        (ids.collect::<SmallVec<[String; 2]>>(), reads.unnamed)
    };
    match inspect(expr, read) {
        Ok(Some((ids, unnamed))) => StepsRead {
            ids: ids.into_iter().map(Cow::Owned).collect(),
            unnamed: unnamed.then_some(expr),
        },
        _ => StepsRead::default(),
    }
}

/// What the expressions of the template `text` read of `steps`; its text around them
/// reads nothing. A template that is one `${{ expr }}` with no brace inside, the common
/// case, is read without splitting it.
pub(crate) fn steps_read_by_template(text: &str) -> StepsRead<'_> {
    let lone = (text.strip_prefix("${{"))
        .and_then(|rest| rest.strip_suffix("}}"))
        .and_then(scanned_step_reads);
    if let Some(ids) = lone {
        let ids = ids.into_iter().map(Cow::Borrowed).collect();
        return StepsRead { ids, unnamed: None };
    }
    let mut read = StepsRead::default();
    if find_open(text).is_none() {
        return read;
    }
    for piece in pieces(text).unwrap_or_default() {
        if let Piece::Expr(expr) = piece {
            read.add(steps_read_by_expression(expr));
        }
    }
    read
}

/// Why the loader refuses `expr`, which reads `steps` without naming the step.
pub(crate) fn unnamed_step_read(expr: &str) -> ExprError {
    let reason = "reads `steps` without naming the step (the map whole, a computed key, a macro over it): an expression sees the outputs of the steps it names, so name each one (`steps.ID.output`, `steps['ID'].output`, `steps.?ID`)";
    ExprError::new(expr, reason)
}

/// The steps `expr` reads, found from its text alone when that leaves no doubt: no `?`, `/`,
/// backtick, brace or `$` anywhere (so none is read optionally, nor hides in a comment; and
/// a template's lone expression is all of its text), every quote a step's id's
/// (`steps['ID']`: so no `steps` hides in a string), and every `steps` the variable read by
/// an id written out. None otherwise, for [`steps_read_by_expression`] to parse it: most
/// templates (`${{ steps.a.output }}`) are read this way, and a big file's are not parsed
/// twice. One byte-by-byte pass: `str::find`'s searcher costs more to set up than these
/// short texts take to scan.
fn scanned_step_reads(expr: &str) -> Option<SmallVec<[&str; 2]>> {
    let bytes = expr.as_bytes();
    let mut found: SmallVec<[&str; 2]> = SmallVec::new();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'?' | b'/' | b'`' | b'{' | b'}' | b'$' | b'\'' | b'"' => return None,
            b's' if bytes[at..].starts_with(b"steps")
                && (at == 0 || !is_ident_byte(bytes[at - 1])) =>
            {
                let (id, read) = scanned_step_read(expr, at)?;
                if let Some(id) = id
                    && !found.contains(&id)
                {
                    found.push(id);
                }
                at += read;
            }
            _ => at += 1,
        }
    }
    Some(found)
}

/// The id read where `steps` starts at `at` in `expr`, if that is the variable (not part of
/// a longer name), and how many bytes to go on after; None when the text there leaves a
/// doubt (see [`scanned_step_reads`]).
fn scanned_step_read(expr: &str, at: usize) -> Option<(Option<&str>, usize)> {
    let end = at + "steps".len();
    if expr.as_bytes().get(end).copied().is_some_and(is_ident_byte) {
        return Some((None, "steps".len()));
    }
    // A field of something else (`x.steps`), or the leading dot of a qualified name.
    if expr[..at].trim_end().ends_with('.') {
        return None;
    }
    let after_steps = expr[end..].trim_start();
    let (id, after) = if let Some(rest) = after_steps.strip_prefix('.') {
        let rest = rest.trim_start();
        let len = (rest.bytes())
            .position(|byte| !is_ident_byte(byte))
            .unwrap_or(rest.len());
        let (id, after) = rest.split_at(len);
        // Not an identifier, or a method called on the map (`steps.f()`).
        if !id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            || after.trim_start().starts_with('(')
        {
            return None;
        }
        (id, after)
    } else {
        // `steps['ID']`; anything else (the map whole, a computed key, a macro's
        // variable: `xs.map(steps, …)`) is left to the parser.
        let rest = after_steps.strip_prefix('[')?.trim_start();
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let (id, after) = rest[1..].split_once(quote)?;
        let valid = !id.is_empty() && !id.contains(['\\', '\'', '"']);
        let after = after.trim_start().strip_prefix(']').filter(|_| valid)?;
        (id, after)
    };
    Some((Some(id), expr.len() - after.len() - at))
}

/// Why a read of a step's entry in `expression` fails, if one does: an entry of `steps` has
/// one field, `output` (`steps.a.outptu`; `steps.gen.a.output` reads field `a` of step
/// `gen`, where the step `gen.a` is `steps['gen.a']`).
pub(super) fn unknown_step_field(expression: &Expression) -> Option<String> {
    step_reads(expression).ids.into_iter().find_map(|id| {
        let unknown = unknown_fields(expression, &format!("steps.{id}"), &STEP_FIELDS);
        let field = unknown.first()?;
        let read = step_read(id);
        Some(match crate::problem::closest(field, STEP_FIELDS) {
            Some(meant) => format!("`{read}` has no field `{field}`: did you mean `{read}.{meant}`?"),
            None => format!(
                "`{read}` has no field `{field}`: a step's only field is `output` (a step whose id is `{id}.{field}` is read as `steps['{id}.{field}'].output`; a step of the file cannot read the steps a plan adds)"
            ),
        })
    })
}

/// How an expression reads the step `id`: `steps.ID`, or `steps['ID']` when the id is no
/// CEL identifier (`steps['fix-all']`, `steps['gen.a']`, `steps['in']`).
pub(crate) fn step_read(id: &str) -> String {
    match is_identifier(id) {
        true => format!("steps.{id}"),
        false => format!("steps['{id}']"),
    }
}

/// Whether `id` can be written after `steps.`: a CEL identifier (a letter or `_`, then
/// letters, digits and `_`) that is none of CEL's reserved words (`steps.in`, `steps.1`
/// do not parse; `steps['in']`, `steps['1']` do).
fn is_identifier(id: &str) -> bool {
    const RESERVED: [&str; 21] = [
        "as",
        "break",
        "const",
        "continue",
        "else",
        "false",
        "for",
        "function",
        "if",
        "import",
        "in",
        "let",
        "loop",
        "namespace",
        "null",
        "package",
        "return",
        "true",
        "var",
        "void",
        "while",
    ];
    id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && id.bytes().all(is_ident_byte)
        && !RESERVED.contains(&id)
}

/// The fields of an entry of `steps`.
const STEP_FIELDS: [&str; 1] = ["output"];

/// How an expression reads the run's `steps` ([`step_reads`]).
#[derive(Debug, Default)]
struct StepReads<'e> {
    /// The ids read by a name written out, in the order written, each once.
    ids: SmallVec<[&'e str; 2]>,
    /// Whether it also reads `steps` otherwise: whole, by a computed key, as a macro's range.
    unnamed: bool,
}

/// How `expression` reads the variable `steps`: the ids it names (`steps.a`, `steps['a']`,
/// `steps.?a`, `steps[?'a']`, `has(steps.a)`), and whether it reads it otherwise. Inside a
/// macro that binds the name `steps` to a value of its own, that name is not the variable.
/// It recurses once per node.
fn step_reads(expression: &Expression) -> StepReads<'_> {
    let mut reads = StepReads::default();
    step_reads_in(expression, &mut reads);
    reads
}

fn step_reads_in<'e>(expression: &'e Expression, reads: &mut StepReads<'e>) {
    if let Some((Expr::Ident(name), id)) = selection(&expression.expr)
        && name == "steps"
    {
        if !reads.ids.contains(&id) {
            reads.ids.push(id);
        }
        return;
    }
    if matches!(&expression.expr, Expr::Ident(name) if name == "steps") {
        reads.unnamed = true;
    }
    for part in outer_parts(expression, |name| name == "steps") {
        step_reads_in(part, reads);
    }
}

#[cfg(test)]
mod tests;
