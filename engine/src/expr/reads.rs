//! What a condition surely gets wrong whatever its variables hold, beyond the names it
//! reads: a field that an object of fixed fields (a guard's `action`, a workflow's `run`)
//! does not have, and a
//! value that is surely not a boolean (a condition's) or not a list (a `for_each`'s).

use cel::common::ast::operators::{
    ADD, CONDITIONAL, DIVIDE, EQUALS, GREATER, GREATER_EQUALS, IN, INDEX, LESS, LESS_EQUALS,
    LOGICAL_AND, LOGICAL_NOT, LOGICAL_OR, MODULO, MULTIPLY, NEGATE, NOT_EQUALS, OPT_INDEX,
    OPT_SELECT, SUBSTRACT,
};
use cel::common::ast::{ComprehensionExpr, EntryExpr, Expr, LiteralValue};

use super::Expression;
use super::condition::outer_parts;

/// The fields `expression` reads of `object` (a variable, or fields selected on one:
/// `run.usage`) that are not among `fields`, each once, in the order written: as
/// `object.name`, `has(object.name)` or `object['name']`, or optionally (`object.?name`,
/// `object[?'name']`: a misspelt one is always absent, its `orValue` always taken). Inside a macro that binds the
/// object's first name to a value of its own (`[1].all(action, action > 0)`), it is not
/// the object. It recurses once per node.
pub(super) fn unknown_fields(
    expression: &Expression,
    object: &str,
    fields: &[&str],
) -> Vec<String> {
    let mut unknown = Vec::new();
    let root = object.split('.').next().unwrap_or(object);
    unknown_in(expression, object, root, fields, &mut unknown);
    unknown
}

/// Why a read of `field` of `object`, whose only fields are `fields`, is refused: the closest
/// field, or all of them.
pub(super) fn no_field(object: &str, field: &str, fields: &[&str]) -> String {
    match crate::problem::closest(field, fields.iter().copied()) {
        Some(meant) => {
            format!("`{object}` has no field `{field}`: did you mean `{object}.{meant}`?")
        }
        None => format!(
            "`{object}` has no field `{field}` (its fields: {})",
            fields.join(", ")
        ),
    }
}

fn unknown_in(
    expression: &Expression,
    object: &str,
    root: &str,
    fields: &[&str],
    unknown: &mut Vec<String>,
) {
    if let Some(field) = field_of(&expression.expr, object)
        && !fields.contains(&field)
        && !unknown.iter().any(|known| known == field)
    {
        unknown.push(field.to_owned());
    }
    for part in outer_parts(expression, |name| name == root) {
        unknown_in(part, object, root, fields, unknown);
    }
}

/// The field `expr` reads of `object`, if it reads one by a name written out.
fn field_of<'e>(expr: &'e Expr, object: &str) -> Option<&'e str> {
    let (operand, field) = selection(expr)?;
    (read_path(operand)?.as_str() == object).then_some(field)
}

/// The operand and the field `expr` selects by a name written out: `x.f` (also in `has()`),
/// `x.?f`, `x['f']`, `x[?'f']`.
pub(super) fn selection(expr: &Expr) -> Option<(&Expr, &str)> {
    match expr {
        Expr::Select(select) => Some((&select.operand.expr, select.field.as_str())),
        Expr::Call(call)
            if [INDEX, OPT_INDEX, OPT_SELECT].contains(&call.func_name.as_str())
                && call.target.is_none() =>
        {
            match &call.args[..] {
                [operand, key] => match &key.expr {
                    Expr::Literal(LiteralValue::String(key)) => Some((&operand.expr, key.inner())),
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

/// The object `expr` reads, its fields written out, as a dotted name: `run.usage` for
/// `run.usage`, `run.?usage` or `run['usage']`, so that the fields read of it are checked
/// however it was reached. It recurses once per field.
fn read_path(expr: &Expr) -> Option<String> {
    if let Expr::Ident(name) = expr {
        return Some(name.clone());
    }
    let (operand, field) = selection(expr)?;
    Some(read_path(operand)? + "." + field)
}

/// The comparisons `expression` makes whose answer is the same whatever it reads: an `==`
/// or a `!=` between a field of `typed` (its dotted path, `action.attempt`, with the kinds
/// of value it always holds, as [`literal_kind`] names them) and a literal of another kind
/// (`action.attempt == '2'` is false for every action), an `in` a list or a map written
/// out none of whose values (keys) is of its kinds, or a literal `in` a list field whose
/// items are always of other kinds (`path[]` in `typed`: `'rm' in action.commands`, a list
/// of argument lists) or a map field whose keys are (`path{}`); an item read by its index
/// (`action.commands[0]`) or bound by a macro is typed as the items; one message each, in
/// the order written.
/// Inside a macro that binds a typed field's first name to a value of its own, that name is
/// not the field. A string's method called on a field never a string errs for every action.
pub(super) fn decided_comparisons(expression: &Expression, typed: &Typed<'_>) -> Vec<String> {
    let mut decided = Vec::new();
    decided_in(expression, typed, &mut decided);
    decided
}

/// The paths a condition's values are typed by (`action.attempt`, `action.commands[]` for
/// a list's items, `run.usage{}` for a map's keys), each with the kinds it always holds.
type Typed<'t> = [(&'t str, &'t [&'t str])];

/// The kinds `typed` gives `path`, if any.
fn kinds_of<'t>(typed: &Typed<'t>, path: &str) -> Option<&'t [&'t str]> {
    (typed.iter()).find_map(|&(typed, kinds)| (typed == path).then_some(kinds))
}

/// What of the typed path `typed` is past `path`, when `path` is all of it or ends at one of
/// its parts (`[]` of `action.commands[][]` past `action.commands[]`).
fn within<'p>(typed: &'p str, path: &str) -> Option<&'p str> {
    let rest = typed.strip_prefix(path)?;
    (rest.is_empty() || rest.starts_with(['[', '{', '.'])).then_some(rest)
}

/// The variable a typed path starts from (`action` of `action.commands[]`, `c` of `c[]`).
fn variable_of(path: &str) -> &str {
    path.split(['.', '[', '{']).next().unwrap_or(path)
}

fn decided_in(expression: &Expression, typed: &Typed<'_>, decided: &mut Vec<String>) {
    if let Expr::Call(call) = &expression.expr
        && let [left, right] = &call.args[..]
        && call.target.is_none()
    {
        let operator = call.func_name.as_str();
        let compared = match operator {
            EQUALS | NOT_EQUALS => {
                [(left, right), (right, left)]
                    .into_iter()
                    .find_map(|(field, other)| {
                        let (path, instead) = read_of(field, typed)?;
                        // A list written out against a list field: its items against the field's.
                        let items = match &other.expr {
                            Expr::List(list) => {
                                mismatch(path.clone() + "[]", &list.elements, typed)
                            }
                            _ => None,
                        };
                        let found = mismatch(path, std::slice::from_ref(other), typed).or(items);
                        // What may be given instead must differ from it too.
                        found.filter(|_| instead.iter().all(|instead| differ(instead, other)))
                    })
            }
            IN => match &right.expr {
                Expr::List(list) => read_of(left, typed).and_then(|(path, instead)| {
                    let found = mismatch(path, &list.elements, typed);
                    let differs = |instead| list.elements.iter().all(|e| differ(instead, e));
                    found.filter(|_| instead.into_iter().all(differs))
                }),
                // `in` a map tests its keys.
                Expr::Map(map) => {
                    let keys: Vec<Expression> = (map.entries.iter())
                        .filter_map(|entry| match &entry.expr {
                            EntryExpr::MapEntry(entry) => Some(entry.key.clone()),
                            EntryExpr::StructField(_) => None,
                        })
                        .collect();
                    sure_read(left, typed).and_then(|path| mismatch(path, &keys, typed))
                }
                // A literal `in` a list field (its items) or a map field (its keys).
                _ => sure_read(right, typed).and_then(|path| {
                    let left = std::slice::from_ref(left);
                    mismatch(path.clone() + "[]", left, typed)
                        .or_else(|| mismatch(path + "{}", left, typed))
                }),
            },
            _ => None,
        };
        if let Some((path, kinds, other)) = compared {
            let (written, answer) = match operator {
                EQUALS => ("==", "false"),
                NOT_EQUALS => ("!=", "true"),
                _ => ("in", "false"),
            };
            let kinds = kinds.join(" or ");
            let what = match (path.strip_suffix("[]"), path.strip_suffix("{}")) {
                (Some(list), _) => format!("each item of `{list}` is always {kinds}"),
                (_, Some(map)) => format!("each key of `{map}` is always {kinds}"),
                _ => format!("`{path}` is always {kinds}"),
            };
            decided.push(format!(
                "{what}, never {other}: this `{written}` is {answer} for every action"
            ));
        }
    }
    // A string's method called on a field never a string errs for every action
    // (`action.writes.contains('/x')`: a list has no `contains`; probe 113 F4).
    if let Expr::Call(call) = &expression.expr
        && STRING_METHODS.contains(&call.func_name.as_str())
        && let Some(target) = call.target.as_deref()
        && let Some(path) = sure_read(target, typed)
        && let Some(kinds) = kinds_of(typed, &path)
        && !kinds.contains(&"a string")
    {
        let method = &call.func_name;
        let kinds = kinds.join(" or ");
        let hint = match kinds.as_str() {
            "a list" => format!(": to look for an item, write `x in {path}`"),
            _ => String::new(),
        };
        decided.push(format!(
            "`{path}` is always {kinds}, and `{method}` is a string's: this call errs for every action{hint}"
        ));
    }
    // A macro over a list field whose items are of one kind (or a map field, its keys)
    // binds its variable to one of them (`action.commands.exists(c, c == 'rm')`: `c` is an
    // argument list, never 'rm'), and what is typed within an item to the same within it.
    if let Expr::Comprehension(loop_) = &expression.expr
        && let Some(bound) = bound_items(loop_, typed)
    {
        let variable = loop_.iter_var.as_str();
        let within: Vec<(&str, &[&str])> = (typed.iter().copied())
            .filter(|(path, _)| variable_of(path) != variable)
            .chain(bound.iter().map(|(path, kinds)| (path.as_str(), *kinds)))
            .collect();
        for part in [&loop_.iter_range, &loop_.accu_init] {
            decided_in(part, typed, decided);
        }
        for part in [&loop_.loop_cond, &loop_.loop_step, &loop_.result] {
            decided_in(part, &within, decided);
        }
        return;
    }
    let shadows = |name: &str| typed.iter().any(|(path, _)| variable_of(path) == name);
    for part in outer_parts(expression, shadows) {
        decided_in(part, typed, decided);
    }
}

/// What a one-variable macro over a list field of `typed` whose items are typed (`path[]`),
/// or over a map field whose keys are (`path{}`), binds its variable to: the variable's
/// kinds, and those of what is within it (`path[][]` as `c[]`).
fn bound_items<'t>(
    loop_: &ComprehensionExpr,
    typed: &Typed<'t>,
) -> Option<Vec<(String, &'t [&'t str])>> {
    if loop_.iter_var2.is_some() || loop_.iter_var == loop_.accu_var {
        return None;
    }
    let path = sure_read(&loop_.iter_range, typed)?;
    let variable = &loop_.iter_var;
    let bound: Vec<(String, &[&str])> = ["[]", "{}"]
        .into_iter()
        .flat_map(|items| {
            let items = format!("{path}{items}");
            (typed.iter()).filter_map(move |&(typed, kinds)| {
                let rest = within(typed, &items)?;
                Some((format!("{variable}{rest}"), kinds))
            })
        })
        .collect();
    (!bound.is_empty()).then_some(bound)
}

/// When `path` is typed and each of `others` is a literal (a list or a map written out
/// too) of a kind it never holds: the path, its kinds, and the literals' kind (the first's).
fn mismatch<'t>(
    path: String,
    others: &[Expression],
    typed: &Typed<'t>,
) -> Option<(String, &'t [&'t str], &'static str)> {
    let kinds = kinds_of(typed, &path)?;
    let mut literals = others.iter().map(kind_written);
    let first = literals.next()??;
    let others_too = literals.all(|kind| kind.is_some_and(|kind| !kinds.contains(&kind)));
    (!kinds.contains(&first) && others_too).then_some((path, kinds, first))
}

/// What `expression` reads, as [`typed_path`] names it, and the values written out it may
/// give instead: the default of an optional read of an item a list may not have
/// (`action.commands[?0].orValue([])`; a typed field is always there, so
/// `action.?attempt.orValue('2')` never gives its default), the other branch of a `?:`
/// (`(… ? action.commands[0] : ['']) == 'rm'`). A typed list added to one alike, or to `[]`,
/// reads as it (`action.commands + action.dynamic_commands`; probe 114 F1, F2).
fn read_of<'e>(
    expression: &'e Expression,
    typed: &Typed<'_>,
) -> Option<(String, Vec<&'e Expression>)> {
    let Expr::Call(call) = &expression.expr else {
        return Some((typed_path(&expression.expr)?, Vec::new()));
    };
    let alike = |(a, mut a_instead): (String, Vec<_>), (b, b_instead): (String, Vec<_>)| {
        a_instead.extend(b_instead);
        same_shape(typed, &a, &b).then_some((a, a_instead))
    };
    let empty = |e: &Expression| matches!(&e.expr, Expr::List(list) if list.elements.is_empty());
    // A branch of a `?:` that reads nothing typed: known only when written out.
    let written_instead = |(path, mut instead): (String, Vec<&'e Expression>), other| {
        kind_written(other)?;
        instead.push(other);
        Some((path, instead))
    };
    match (
        call.func_name.as_str(),
        call.target.as_deref(),
        &call.args[..],
    ) {
        ("value", Some(target), []) => read_of(target, typed),
        ("orValue", Some(target), [default]) => {
            let (path, mut instead) = read_of(target, typed)?;
            instead.extend(may_be_absent(&target.expr).then_some(default));
            Some((path, instead))
        }
        (CONDITIONAL, None, [_, yes, no]) => match (read_of(yes, typed), read_of(no, typed)) {
            (Some(yes), Some(no)) => alike(yes, no),
            (Some(read), None) => written_instead(read, no),
            (None, Some(read)) => written_instead(read, yes),
            (None, None) => None,
        },
        (ADD, None, [a, b]) if empty(b) => read_of(a, typed),
        (ADD, None, [a, b]) if empty(a) => read_of(b, typed),
        (ADD, None, [a, b]) => alike(read_of(a, typed)?, read_of(b, typed)?),
        _ => Some((typed_path(&expression.expr)?, Vec::new())),
    }
}

/// What `expression` reads ([`read_of`]) when what it may give instead holds items of the
/// same kinds, if any: what is read of its items (an `in`, a macro) holds of those too (an
/// empty list or map; `action.commands[?0].orValue([''])`, whose words are strings; probe
/// 114 F5).
fn sure_read(expression: &Expression, typed: &Typed<'_>) -> Option<String> {
    let (path, instead) = read_of(expression, typed)?;
    let item_kinds = kinds_of(typed, &format!("{path}[]"));
    let alike = |e: &&Expression| match &e.expr {
        Expr::List(list) => (list.elements.iter()).all(|item| {
            let kind = kind_written(item);
            item_kinds.is_some_and(|kinds| kind.is_some_and(|kind| kinds.contains(&kind)))
        }),
        Expr::Map(map) => map.entries.is_empty(),
        _ => false,
    };
    instead.iter().all(alike).then_some(path)
}

/// Whether the paths `a` and `b` are typed alike: the same kinds, at the same places within.
fn same_shape(typed: &Typed<'_>, a: &str, b: &str) -> bool {
    let under = |path: &str| -> Vec<(String, &[&str])> {
        let mut found: Vec<(String, &[&str])> = (typed.iter())
            .filter_map(|&(typed, kinds)| Some((within(typed, path)?.to_owned(), kinds)))
            .collect();
        found.sort();
        found
    };
    let a = under(a);
    !a.is_empty() && a == under(b)
}

/// Whether `expr` reads an item of a list through an optional index (`[?0]`): a list too
/// short has none.
fn may_be_absent(expr: &Expr) -> bool {
    match expr {
        Expr::Select(select) => may_be_absent(&select.operand.expr),
        Expr::Call(call) if call.target.is_none() => match &call.args[..] {
            [operand, key] if [INDEX, OPT_INDEX, OPT_SELECT].contains(&call.func_name.as_str()) => {
                let by_index = !matches!(key.expr, Expr::Literal(LiteralValue::String(_)));
                (call.func_name == OPT_INDEX && by_index) || may_be_absent(&operand.expr)
            }
            _ => false,
        },
        _ => false,
    }
}

/// What `expr` reads as [`read_path`] names it, or an item of it read by an index other than
/// a name (`action.commands[0]`, `[?0]` too, is `action.commands[]`), or the list a `filter`
/// (or a `map` to its own items) makes of it: the paths `typed` is keyed by.
fn typed_path(expr: &Expr) -> Option<String> {
    if let Expr::Call(call) = expr
        && [INDEX, OPT_INDEX].contains(&call.func_name.as_str())
        && call.target.is_none()
        && let [operand, key] = &call.args[..]
        && !matches!(key.expr, Expr::Literal(LiteralValue::String(_)))
    {
        return Some(typed_path(present(&operand.expr))? + "[]");
    }
    if let Expr::Comprehension(loop_) = expr
        && keeps_items(loop_)
    {
        return typed_path(present(&loop_.iter_range.expr));
    }
    if let Expr::Ident(name) = expr {
        return Some(name.clone());
    }
    let (operand, field) = selection(expr)?;
    Some(typed_path(operand)? + "." + field)
}

/// Whether a macro's loop makes a list of some of the items it runs over, as they are: a
/// `filter`, or a `map` whose value is its variable (`accu + [c]`, under a condition or not).
fn keeps_items(loop_: &ComprehensionExpr) -> bool {
    let is = |expr: &Expr, name: &str| matches!(expr, Expr::Ident(ident) if ident == name);
    let appends = |expr: &Expr| match expr {
        Expr::Call(call) if call.func_name == ADD => match &call.args[..] {
            [
                accu,
                Expression {
                    expr: Expr::List(list),
                    ..
                },
            ] => {
                is(&accu.expr, &loop_.accu_var)
                    && matches!(&list.elements[..], [item] if is(&item.expr, &loop_.iter_var))
            }
            _ => false,
        },
        _ => false,
    };
    let step = match &loop_.loop_step.expr {
        Expr::Call(call) if call.func_name == CONDITIONAL => match &call.args[..] {
            [_, kept, skipped] => is(&skipped.expr, &loop_.accu_var).then_some(&kept.expr),
            _ => None,
        },
        step => Some(step),
    };
    let empty = matches!(&loop_.accu_init.expr, Expr::List(list) if list.elements.is_empty());
    loop_.iter_var2.is_none()
        && empty
        && is(&loop_.result.expr, &loop_.accu_var)
        && step.is_some_and(appends)
}

/// The methods of cairn's CEL that only strings have.
const STRING_METHODS: [&str; 4] = ["contains", "startsWith", "endsWith", "matches"];

/// Whether `a` and `b`, written out, surely differ: of different kinds, or literals of
/// different values (numbers compared as CEL compares them, by value: `1 == 1.0`).
fn differ(a: &Expression, b: &Expression) -> bool {
    match (&a.expr, &b.expr) {
        (Expr::Literal(a), Expr::Literal(b)) if literal_kind(a) == literal_kind(b) => {
            match (number(a), number(b)) {
                // Two numbers that differ as `f64`s differ (equal ones convert alike).
                (Some(x), Some(y)) => a != b && x != y,
                _ => a != b,
            }
        }
        _ => matches!((kind_written(a), kind_written(b)), (Some(a), Some(b)) if a != b),
    }
}

/// A number written out, as an `f64`.
fn number(literal: &LiteralValue) -> Option<f64> {
    match literal {
        LiteralValue::Int(int) => Some(*int.inner() as f64),
        LiteralValue::UInt(uint) => Some(*uint.inner() as f64),
        LiteralValue::Double(double) => Some(*double.inner()),
        _ => None,
    }
}

/// The kind of `expression` when it is a literal, or a list or a map written out.
fn kind_written(expression: &Expression) -> Option<&'static str> {
    match &expression.expr {
        Expr::Literal(literal) => Some(literal_kind(literal)),
        Expr::List(_) => Some("a list"),
        Expr::Map(_) => Some("a map"),
        _ => None,
    }
}

/// What `expr` reads once an optional's `orValue(…)` or `value()` is taken off: a typed field
/// is always present, so `action.?attempt.orValue('2')` is `action.attempt`, never its default.
fn present(expr: &Expr) -> &Expr {
    match expr {
        Expr::Call(call) if ["orValue", "value"].contains(&call.func_name.as_str()) => call
            .target
            .as_deref()
            .map_or(expr, |target| present(&target.expr)),
        _ => expr,
    }
}

/// The kind of a literal, as a comparison tells kinds apart (every number is one kind: CEL
/// compares `1 == 1.0` by value).
fn literal_kind(literal: &LiteralValue) -> &'static str {
    match literal {
        LiteralValue::Boolean(_) => "a boolean",
        LiteralValue::Null => "null",
        LiteralValue::String(_) => "a string",
        LiteralValue::Bytes(_) => "bytes",
        _ => "a number",
    }
}

/// What a value surely is, as far as the loader tells kinds of values apart.
#[derive(Debug, Clone, Copy)]
enum Surely {
    /// A boolean.
    Boolean,
    /// A list: what makes it one.
    List(&'static str),
    /// The value of `+`: a number, a string or a list, which one only its operands tell.
    Sum,
    /// Neither a boolean nor a list: what it is.
    Other(&'static str),
}

/// What `expression`'s value surely is, whatever it reads, as its outermost literal,
/// operator, function or macro tells: comparisons and logical operators give booleans,
/// arithmetic numbers, `size` a number, `string` a string, a `map` or `filter` macro a
/// list, `all`, `exists` and `exists_one` a boolean. None when that tells nothing (a
/// variable, an index, a `?:`, which [`surely_not`] looks into).
fn surely(expression: &Expression) -> Option<Surely> {
    Some(match &expression.expr {
        Expr::Literal(LiteralValue::Boolean(_)) => Surely::Boolean,
        Expr::Literal(LiteralValue::Null) => Surely::Other("null"),
        Expr::Literal(LiteralValue::String(_)) => Surely::Other("a string"),
        Expr::Literal(LiteralValue::Bytes(_)) => Surely::Other("bytes"),
        Expr::Literal(_) => Surely::Other("a number"),
        Expr::List(_) => Surely::List("a list"),
        Expr::Map(_) => Surely::Other("a map"),
        // `has(x.f)`.
        Expr::Select(select) if select.test => Surely::Boolean,
        Expr::Call(call) => match call.func_name.as_str() {
            ADD => Surely::Sum,
            SUBSTRACT | MULTIPLY | DIVIDE | MODULO | NEGATE => {
                Surely::Other("the value of arithmetic")
            }
            EQUALS | NOT_EQUALS | LESS | LESS_EQUALS | GREATER | GREATER_EQUALS | IN
            | LOGICAL_AND | LOGICAL_OR | LOGICAL_NOT | "bool" | "contains" | "startsWith"
            | "endsWith" | "matches" => Surely::Boolean,
            "size" | "int" | "uint" | "double" => Surely::Other("a number"),
            "string" => Surely::Other("a string"),
            "bytes" => Surely::Other("bytes"),
            "type" => Surely::Other("a type"),
            _ => return None,
        },
        // A macro's value is its result; `map`, `filter`, `all` and `exists` give their
        // accumulator, whose first value (`[]`, `true`, `false`) each step keeps the kind of.
        Expr::Comprehension(loop_) => match &loop_.result.expr {
            Expr::Ident(name) if *name == loop_.accu_var => match surely(&loop_.accu_init)? {
                Surely::List(_) => Surely::List("a list (`map` and `filter` make one)"),
                other => other,
            },
            _ => return surely(&loop_.result),
        },
        _ => return None,
    })
}

/// What `expression`'s value surely is, whatever it reads, when `unlike` says that is not
/// what it must be: for a `?:`, when both branches surely are not. It recurses only through
/// `?:` and the results of macros.
fn surely_not(
    expression: &Expression,
    unlike: fn(Surely) -> Option<&'static str>,
) -> Option<&'static str> {
    if let Expr::Call(call) = &expression.expr
        && call.func_name == CONDITIONAL
    {
        return match &call.args[..] {
            [_, then, otherwise] => {
                surely_not(then, unlike).and_then(|_| surely_not(otherwise, unlike))
            }
            _ => None,
        };
    }
    unlike(surely(expression)?)
}

/// What `expression`'s value surely is when that is not a boolean, whatever it reads: a
/// literal of another type, a list or map, arithmetic (`1 + 1`; `+` joins strings and
/// lists too), a call of a function whose value is never one (`size`, `string`, …), a
/// `map` or `filter` macro (a list), or a `?:` both of whose branches are such.
pub(super) fn surely_not_boolean(expression: &Expression) -> Option<&'static str> {
    surely_not(expression, |value| match value {
        Surely::Boolean => None,
        Surely::Sum => Some("the value of arithmetic"),
        Surely::List(what) | Surely::Other(what) => Some(what),
    })
}

/// What `expression`'s value surely is when that is not a list, whatever it reads: a
/// literal of another type, a map, a comparison or a logical operator (a boolean),
/// arithmetic other than `+` (which joins lists too), a call of a function whose value is
/// never one (`size`, `string`, …), or a `?:` both of whose branches are such.
pub(super) fn surely_not_list(expression: &Expression) -> Option<&'static str> {
    surely_not(expression, |value| match value {
        Surely::List(_) | Surely::Sum => None,
        Surely::Boolean => Some("a boolean"),
        Surely::Other(what) => Some(what),
    })
}
