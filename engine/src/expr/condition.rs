//! [`Condition`]: a CEL condition parsed once, as a guard's rules keep theirs.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr, IdedEntryExpr, MapExpr, StructExpr};
use cel::common::types::{CelMap, CelMapKey, CelString};
use cel::common::value::CowVal;
use cel::context::VariableResolver;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::cost::is_linear;
use super::functions::{calls_qualified, invalid_pattern, unknown_function};
use super::reads::{decided_comparisons, no_field, surely_not_boolean, unknown_fields};
use super::types::{names_type, unsupported_type};
use super::{
    Compiled, ExprError, Expression, SharedJson, as_condition, compile, execute, functions_context,
    library_failed, on_stack_for, to_val,
};

/// A CEL condition over named JSON variables, parsed when it is made: a guard's rule keeps
/// one and evaluates it for every action without parsing, or looking up, its text again.
/// It reads and writes as its text; a condition that does not parse says why
/// ([`Condition::error`]), and evaluates to that error.
///
/// ```
/// use cairn_engine::{Condition, Variable, evaluate_conditions};
/// use serde_json::json;
///
/// let deploy = Condition::new("action.step.startsWith('deploy')");
/// let broken = Condition::new("action.step ==");
/// assert!(deploy.error().is_none() && broken.error().is_some());
/// let action = json!({"step": "deploy-web"});
/// let results = evaluate_conditions(&[&deploy, &broken], &[("action", Variable::Json(&action))]);
/// assert_eq!(results[0], Ok(true));
/// assert!(results[1].is_err());
/// ```
#[derive(Clone)]
pub struct Condition {
    /// Shared: a condition is cloned cheaply (a guard hands its rules to a thread of their
    /// own for each action).
    text: Arc<str>,
    compiled: Result<Arc<Compiled>, ExprError>,
    /// [`Condition::is_linear`], known once it is parsed.
    linear: bool,
}

impl Condition {
    /// Parses the condition `text`.
    pub fn new(text: impl Into<String>) -> Condition {
        let text: String = text.into();
        let compiled = compile(&text);
        let linear = (compiled.as_ref()).is_ok_and(|compiled| {
            on_stack_for(compiled.simple, || Some(is_linear(&compiled.expression))).unwrap_or(false)
        });
        Condition {
            text: text.into(),
            compiled,
            linear,
        }
    }

    /// The condition as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Why the condition does not parse, if it does not.
    pub fn error(&self) -> Option<&ExprError> {
        self.compiled.as_ref().err()
    }

    /// The variables the condition names that are not among `known`, sorted, each once
    /// (none when it does not parse): evaluated with only `known` given, it could only fail
    /// with "undeclared reference" where it reads one. The names a macro binds
    /// (`c` in `list.exists(c, c > 1)`) are variables inside it only; the names of types
    /// (`int` in `type(x) == int`) and of functions (`optional.of`) are none.
    ///
    /// ```
    /// use cairn_engine::Condition;
    ///
    /// let condition = Condition::new("action.commands.exists(c, c[0] == 'rm') || foo.bar");
    /// assert_eq!(condition.unknown_variables(&["action", "run"]), ["foo"]);
    /// ```
    pub fn unknown_variables(&self, known: &[&str]) -> Vec<String> {
        let Ok(compiled) = &self.compiled else {
            return Vec::new();
        };
        // The library's walk recurses once per node, as its parser does.
        on_stack_for(compiled.simple, || {
            Some(unknown_variables(&compiled.expression, known))
        })
        .unwrap_or_default()
    }

    /// Why the condition would fail wherever the evaluator reaches a name in it, if it
    /// would: a function or a type the run's context does not have
    /// (`action.step.frobnicate()`), with the closest it has when one is close, or a call to
    /// `matches` whose written pattern does not compile (`x.matches('(')`). None when it does
    /// not parse.
    ///
    /// ```
    /// use cairn_engine::Condition;
    ///
    /// let reason = Condition::new("action.step.startWith('a')").unknown_name().unwrap();
    /// assert!(reason.contains("did you mean `startsWith`?"), "{reason}");
    /// assert_eq!(Condition::new("size(action.step) > 1").unknown_name(), None);
    /// ```
    pub fn unknown_name(&self) -> Option<String> {
        let Ok(compiled) = &self.compiled else {
            return None;
        };
        on_stack_for(compiled.simple, || {
            Some(
                unknown_function(&compiled.expression)
                    .or_else(|| unsupported_type(&compiled.expression))
                    .or_else(|| invalid_pattern(&compiled.expression)),
            )
        })
        .flatten()
    }

    /// Why the condition reads fields of `object` (a variable, or fields selected on one:
    /// `run.usage`) that are not among `fields`, one reason each, in the order written
    /// (`action.exectuor`, `has(action.exectuor)`, `action['exectuor']`, and the optional
    /// `action.?exectuor` and `action[?'exectuor']`): for an object whose fields are fixed,
    /// each would fail wherever the evaluator reaches it (a `has` be false, an optional be
    /// absent). None when it does not parse.
    ///
    /// ```
    /// use cairn_engine::Condition;
    ///
    /// let condition = Condition::new("action.exectuor == 'x' || [1].all(action, action.y)");
    /// assert_eq!(
    ///     condition.unknown_fields("action", &["executor", "step"]),
    ///     ["`action` has no field `exectuor`: did you mean `action.executor`?"]
    /// );
    /// ```
    pub fn unknown_fields(&self, object: &str, fields: &[&str]) -> Vec<String> {
        let Ok(compiled) = &self.compiled else {
            return Vec::new();
        };
        let unknown = on_stack_for(compiled.simple, || {
            Some(unknown_fields(&compiled.expression, object, fields))
        })
        .unwrap_or_default();
        (unknown.into_iter())
            .map(|field| no_field(object, &field, fields))
            .collect()
    }

    /// Why the condition compares a field that always holds certain kinds of value (`typed`:
    /// its dotted path, and the kinds, `"a number"`, `"a string"`, `"a boolean"`, `"null"`)
    /// with a literal of another kind, by `==`, `!=` or `in` a list written out: the answer
    /// is the same whatever the action (`action.attempt == '2'` is always false), so a rule
    /// written so never decides. One reason each; none when it does not parse.
    ///
    /// ```
    /// use cairn_engine::Condition;
    ///
    /// let typed: &[(&str, &[&str])] = &[("action.attempt", &["a number"])];
    /// let slip = Condition::new("action.attempt == '2'").decided_comparisons(typed);
    /// assert!(slip[0].starts_with("`action.attempt` is always a number, never a string"));
    /// assert!(Condition::new("action.attempt == 2").decided_comparisons(typed).is_empty());
    /// ```
    pub fn decided_comparisons(&self, typed: &[(&str, &[&str])]) -> Vec<String> {
        let Ok(compiled) = &self.compiled else {
            return Vec::new();
        };
        on_stack_for(compiled.simple, || {
            Some(decided_comparisons(&compiled.expression, typed))
        })
        .unwrap_or_default()
    }

    /// Whether the condition surely costs at most its size times the size of what it reads
    /// (false when it does not parse): a guard evaluates such rules on the engine's thread,
    /// and bounds the time of the others. A macro's loop is linear when its body reads only
    /// its own variables; a call to `matches` never is (its pattern is compiled at every call,
    /// and some patterns match slowly).
    ///
    /// ```
    /// use cairn_engine::Condition;
    ///
    /// assert!(Condition::new("action.commands.exists(c, c[0] == 'rm')").is_linear());
    /// let twice = "action.params.words.exists(w, action.params.words.filter(x, x == w).size() > 1)";
    /// assert!(!Condition::new(twice).is_linear());
    /// ```
    pub fn is_linear(&self) -> bool {
        self.linear
    }

    /// What the condition's value surely is, whatever it reads, when that is not a boolean
    /// (`1 + 1` is a number): it would fail every evaluation. None when it could be one, or
    /// does not parse.
    ///
    /// ```
    /// use cairn_engine::Condition;
    ///
    /// assert_eq!(Condition::new("1 + 1").surely_not_boolean(), Some("the value of arithmetic"));
    /// assert_eq!(Condition::new("action.dynamic").surely_not_boolean(), None);
    /// ```
    pub fn surely_not_boolean(&self) -> Option<&'static str> {
        let compiled = self.compiled.as_ref().ok()?;
        surely_not_boolean(&compiled.expression)
    }
}

/// The variables `expression` names that are not among `known`, sorted, each once, the
/// names its macros bind left out where they are bound (see
/// [`Condition::unknown_variables`]). It recurses once per node: on the stack the
/// expression needs.
pub(super) fn unknown_variables(expression: &Expression, known: &[&str]) -> Vec<String> {
    let mut unknown = Vec::new();
    unbound_reads(expression, &mut known.to_vec(), &mut unknown);
    unknown.sort_unstable();
    unknown.dedup();
    unknown
}

/// Adds to `unknown` the names `expression` reads as variables that are not `defined`, as
/// the evaluator reads them: a type's name (`int`) is a value, the target of a call to a
/// function of a qualified name (the `optional` of `optional.of(x)`) is not read, and a
/// macro's variables are defined in its loop only, its accumulator (the `v` of
/// `o.optMap(v, v + 1)`) also in its result.
fn unbound_reads<'e>(
    expression: &'e Expression,
    defined: &mut Vec<&'e str>,
    unknown: &mut Vec<String>,
) {
    if let Some(name) = root(&expression.expr)
        && !defined.contains(&name)
    {
        // A name, or fields selected on one: the evaluator reads the whole as a type's name
        // when the context has that type, else the first name as a variable.
        if !names_type(expression) {
            unknown.push(name.to_owned());
        }
        return;
    }
    match &expression.expr {
        Expr::Call(call) if calls_qualified(call) => {
            for arg in &call.args {
                unbound_reads(arg, defined, unknown);
            }
        }
        Expr::Comprehension(loop_) => {
            unbound_reads(&loop_.iter_range, defined, unknown);
            unbound_reads(&loop_.accu_init, defined, unknown);
            let outer = defined.len();
            defined.push(&loop_.accu_var);
            unbound_reads(&loop_.result, defined, unknown);
            defined.push(&loop_.iter_var);
            defined.extend(loop_.iter_var2.as_deref());
            unbound_reads(&loop_.loop_cond, defined, unknown);
            unbound_reads(&loop_.loop_step, defined, unknown);
            defined.truncate(outer);
        }
        _ => {
            for part in parts(expression) {
                unbound_reads(part, defined, unknown);
            }
        }
    }
}

/// The name `expr` is, or the one a chain of selected fields starts from (`a` of `a.b.c`).
fn root(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Ident(name) => Some(name),
        Expr::Select(select) if !select.test => root(&select.operand.expr),
        _ => None,
    }
}

/// The parts of `expression` in which a name means what it means around it: all of them
/// ([`parts`]), but only a macro's range and first value when the macro binds a name
/// `shadows` tells of to a value of its own (`[1].all(action, action > 0)`).
pub(super) fn outer_parts(
    expression: &Expression,
    shadows: impl Fn(&str) -> bool,
) -> Vec<&Expression> {
    if let Expr::Comprehension(loop_) = &expression.expr
        && [
            Some(&loop_.iter_var),
            loop_.iter_var2.as_ref(),
            Some(&loop_.accu_var),
        ]
        .into_iter()
        .flatten()
        .any(|name| shadows(name))
    {
        return vec![&loop_.iter_range, &loop_.accu_init];
    }
    parts(expression)
}

/// The expressions `expression` is made of: its operands, arguments, elements and the parts
/// of a macro's loop.
pub(super) fn parts(expression: &Expression) -> Vec<&Expression> {
    match &expression.expr {
        Expr::Comprehension(loop_) => vec![
            &loop_.iter_range,
            &loop_.accu_init,
            &loop_.loop_cond,
            &loop_.loop_step,
            &loop_.result,
        ],
        Expr::Call(call) => (call.target.as_deref().into_iter())
            .chain(&call.args)
            .collect(),
        Expr::List(list) => list.elements.iter().collect(),
        Expr::Map(MapExpr { entries }) | Expr::Struct(StructExpr { entries, .. }) => {
            entries.iter().flat_map(entry_parts).collect()
        }
        Expr::Select(select) => vec![&select.operand],
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    }
}

/// [`parts`], to change them.
pub(super) fn parts_mut(expression: &mut Expression) -> Vec<&mut Expression> {
    match &mut expression.expr {
        Expr::Comprehension(loop_) => {
            let loop_ = &mut **loop_;
            vec![
                &mut loop_.iter_range,
                &mut loop_.accu_init,
                &mut loop_.loop_cond,
                &mut loop_.loop_step,
                &mut loop_.result,
            ]
        }
        Expr::Call(call) => (call.target.as_deref_mut().into_iter())
            .chain(&mut call.args)
            .collect(),
        Expr::List(list) => list.elements.iter_mut().collect(),
        Expr::Map(MapExpr { entries }) | Expr::Struct(StructExpr { entries, .. }) => (entries
            .iter_mut())
        .flat_map(|entry| match &mut entry.expr {
            EntryExpr::MapEntry(entry) => vec![&mut entry.key, &mut entry.value],
            EntryExpr::StructField(field) => vec![&mut field.value],
        })
        .collect(),
        Expr::Select(select) => vec![&mut select.operand],
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    }
}

/// The expressions of one entry of a map or struct literal.
fn entry_parts(entry: &IdedEntryExpr) -> Vec<&Expression> {
    match &entry.expr {
        EntryExpr::MapEntry(entry) => vec![&entry.key, &entry.value],
        EntryExpr::StructField(field) => vec![&field.value],
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition").field(&self.text).finish()
    }
}

/// Two conditions are equal when they are written the same.
impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Condition::new)
    }
}

/// A variable [`evaluate_conditions`] gives its conditions. It is converted to CEL's
/// values only as far as a condition reads it: `run.input.target` converts the target
/// alone, `has(run.input.target)` the input (kept once converted, when shared).
#[derive(Debug, Clone)]
pub enum Variable<'a> {
    /// A JSON value.
    Json(&'a Value),
    /// A JSON value many evaluations read, such as a run's input.
    Shared(&'a SharedJson),
    /// An object whose members are variables of their own.
    Object(Vec<(&'a str, Variable<'a>)>),
}

/// Evaluates each of `conditions` over the same named `variables` (a guard's rules see
/// `action` and `run`): one result per condition, an error when one does not parse, fails,
/// or its value is not a boolean.
pub fn evaluate_conditions(
    conditions: &[&Condition],
    variables: &[(&str, Variable<'_>)],
) -> Vec<Result<bool, ExprError>> {
    let mut results = Vec::with_capacity(conditions.len());
    evaluate_conditions_each(conditions, variables, |result| results.push(result));
    results
}

/// [`evaluate_conditions`], each result handed to `each` as soon as it is known, in the
/// order of `conditions`: a caller that waits for them only so long (on another thread)
/// knows which condition it was still waiting for.
pub fn evaluate_conditions_each(
    conditions: &[&Condition],
    variables: &[(&str, Variable<'_>)],
    mut each: impl FnMut(Result<bool, ExprError>) + Send,
) {
    let mut done = 0;
    let mut evaluate_all = || {
        let variables = Variables(variables);
        let mut context = functions_context();
        context.set_variable_resolver(&variables);
        for condition in conditions {
            let (text, compiled) = (&condition.text, &condition.compiled);
            let result = (compiled.as_ref().map_err(Clone::clone)).and_then(|compiled| {
                as_condition(text, execute(text, &compiled.expression, &context)?)
            });
            each(result);
            done += 1;
        }
        Some(())
    };
    // One stack for all: the caller's when every condition is simple, else one big one.
    let simple = (conditions.iter())
        .all(|condition| (condition.compiled.as_ref()).is_ok_and(|compiled| compiled.simple));
    if on_stack_for(simple, &mut evaluate_all).is_none() {
        for condition in &conditions[done..] {
            each(Err(library_failed(&condition.text)));
        }
    }
}

/// The variables as a context's resolver. CEL asks it for the longest name first
/// (`run.input.target`, then `run.input`, then `run`), and gets the value at the end of the
/// walk through the objects, converted alone.
struct Variables<'v, 'a>(&'v [(&'a str, Variable<'a>)]);

impl VariableResolver for Variables<'_, '_> {
    fn resolve<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>> {
        let mut segments = name.split('.');
        let first = segments.next()?;
        let (_, variable) = self.0.iter().find(|(own, _)| *own == first)?;
        let mut found = Found::Variable(variable);
        for segment in segments {
            found = found.member(segment)?;
        }
        Some(found.cel())
    }
}

/// What a name leads to: a variable, or a value in one's JSON.
#[derive(Clone, Copy)]
enum Found<'b> {
    Variable(&'b Variable<'b>),
    Json(&'b Value),
}

impl<'b> Found<'b> {
    /// The member `name` of this object, if it is one and has it.
    fn member(self, name: &str) -> Option<Found<'b>> {
        let json = match self {
            Found::Variable(Variable::Object(members)) => {
                let (_, member) = members.iter().find(|(own, _)| *own == name)?;
                return Some(Found::Variable(member));
            }
            Found::Variable(&Variable::Json(json)) | Found::Json(json) => json,
            Found::Variable(Variable::Shared(shared)) => shared.json(),
        };
        json.as_object()?.get(name).map(Found::Json)
    }

    /// Its CEL value.
    fn cel(self) -> CowVal<'b, 'b> {
        match self {
            Found::Variable(&Variable::Json(json)) | Found::Json(json) => {
                CowVal::Owned(to_val(json))
            }
            Found::Variable(Variable::Shared(shared)) => shared.cel(),
            Found::Variable(Variable::Object(members)) => {
                let members = (members.iter()).map(|(name, member)| {
                    let key = CelMapKey::String(CelString::from(*name));
                    (key, Found::Variable(member).cel().into_owned())
                });
                CowVal::Owned(Box::new(CelMap::from(members.collect::<HashMap<_, _>>())))
            }
        }
    }
}
