//! CEL expressions and `${{ expr }}` templates.
//!
//! `when` is a bare CEL expression. Inside the strings of `with` (and in `for_each`),
//! `${{ expr }}` is replaced by the expression's value: a string that is exactly one
//! `${{ expr }}` becomes the typed JSON value; otherwise each value is spliced into the text
//! (strings as they are, anything else as JSON). Expressions see `input`, `steps.<id>.output`,
//! `item` and `index` (in the `with` of a `for_each` step) and `run`; the loader refuses an
//! expression that names anything else where it is.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError};

use cel::common::ast::operators::INDEX;
use cel::common::ast::{Expr, LiteralValue, SelectExpr};
use cel::common::types::CelInt;
use cel::parser::pratt_parser::{Lexer, TokenKind};
use cel::parser::{Expression, PrattParser};
use cel::{Context, Env};
use serde_json::Value;

pub(crate) use budget::sharing_one_deadline;
pub use condition::{Condition, Variable, evaluate_conditions, evaluate_conditions_each};
use condition::{parts_mut, unknown_variables};
use functions::{invalid_pattern, unknown_function};
use json_form::json_form;
use optional::{NO_JSON_FORM, surely_optional};
pub(crate) use pieces::find_open;
use pieces::{Piece, pieces};
use reads::{no_field, surely_not_boolean, surely_not_list, unknown_fields};
pub(crate) use scope::Scope;
pub use scope::SharedJson;
use scope::to_val;
use stack::fits_any_stack;
pub(crate) use stack::{on_big_stack, on_stack_for};
use steps_read::unknown_step_field;
pub(crate) use steps_read::{
    StepsRead, step_read, steps_read_by_expression, steps_read_by_template, unnamed_step_read,
};
use types::unsupported_type;
use undefined::undefined;

use crate::nesting;

/// An expression that does not parse, does not evaluate, or has the wrong type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}`: {reason}", shortened(expression))]
pub struct ExprError {
    /// The expression (or template) as written.
    pub expression: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The longest expression (or value) a message quotes whole; a longer one is cut, its
/// length said.
const QUOTED: usize = 120;

/// `expression` (or a value's JSON) as a message quotes it: whole if short, else its start
/// and its length.
pub(crate) fn shortened(expression: &str) -> String {
    crate::text::elided(expression, QUOTED)
}

/// `text` (an executor's reply) as a message quotes it: as a string literal, its newlines and
/// quotes escaped so that it cannot break the message's lines; whole if short, else its start
/// and its length.
pub(crate) fn quoted(text: &str) -> String {
    match crate::text::head(text, QUOTED) {
        None => format!("{text:?}"),
        Some(start) => format!("{start:?}… ({} characters)", text.chars().count()),
    }
}

impl ExprError {
    fn new(expression: &str, reason: impl Into<String>) -> Self {
        ExprError {
            expression: expression.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The standard CEL environment, built once.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    budget::declare(&mut env);
    Arc::new(env)
});

/// Renders every `${{ expr }}` in the strings of `template`, recursively (object keys are
/// left as they are); a rendering nested deeper than [`nesting::MAX_DEPTH`] levels is an
/// error, named by the expression whose value made it so. Its expressions share the budgets
/// of one evaluation ([`budget::within_budget`]).
pub(crate) fn render(template: &Value, scope: &Scope) -> Result<Value, ExprError> {
    match Named::in_template(template) {
        // No string holds an expression: the template is its own rendering, and no context
        // is built (nor, in a process that evaluates nothing, CEL's environment).
        None => Ok(template.clone()),
        Some(named) => {
            let context = context(scope, named)?;
            budget::within_budget(|| render_in(template, &context, 0))
        }
    }
}

/// A scope's CEL context, built once for the templates of every item of a `for_each` step
/// (the input and outputs it holds are converted once, not once per item).
pub(crate) struct ItemScope<'s>(Context<'s, 's>);

impl<'s> ItemScope<'s> {
    /// The context of `scope` for `template`, without `item` and `index` (each item's are
    /// added as it renders).
    pub(crate) fn new(scope: &'s Scope, template: &Value) -> ItemScope<'s> {
        let named = Named::in_template(template).unwrap_or_default();
        ItemScope(scope_context(scope, named))
    }

    /// Renders `template` (as [`render`]) for item `index`, whose value is `item`.
    pub(crate) fn render(
        &self,
        template: &Value,
        item: &Value,
        index: usize,
    ) -> Result<Value, ExprError> {
        let mut context = self.0.new_inner_scope();
        context.add_variable_as_val("item", to_val(item));
        let index = i64::try_from(index).map_err(|_| ExprError::new("index", "too large"))?;
        context.add_variable_as_val("index", Box::new(CelInt::from(index)));
        budget::within_budget(|| render_in(template, &context, 0))
    }
}

/// Evaluates the CEL expression `expr` to a JSON value.
pub(crate) fn evaluate(expr: &str, scope: &Scope) -> Result<Value, ExprError> {
    let mut named = Named::default();
    named.add(expr);
    evaluate_in(expr, &context(scope, named)?)
}

/// Evaluates the CEL condition `expr`; an error when its value is not a boolean.
pub(crate) fn condition(expr: &str, scope: &Scope) -> Result<bool, ExprError> {
    as_condition(expr, evaluate(expr, scope)?)
}

fn as_condition(expr: &str, value: Value) -> Result<bool, ExprError> {
    match value {
        Value::Bool(value) => Ok(value),
        other => Err(ExprError::new(
            expr,
            format!(
                "a condition must be true or false, not {}",
                failure::described_json(&other)
            ),
        )),
    }
}

/// The variables every expression may read (see [`Scope`]).
pub(crate) const VARIABLES: [&str; 3] = ["input", "steps", "run"];

/// The fields of `run`, as a run's ledger makes it (`scheduler/ledger/takeover.rs`): its id
/// and its workflow's name.
pub(crate) const RUN_FIELDS: [&str; 2] = ["id", "workflow"];

/// The variables the templates of a `for_each` step's `with` (and `fallbacks`) may read:
/// [`VARIABLES`], and the item and its index.
pub(crate) const ITEM_VARIABLES: [&str; 5] = ["input", "steps", "run", "item", "index"];

/// Checks a step's `when` as [`checked`] does, and refuses one whose value is surely not a
/// boolean: for what it is (`1 + 1`, `size(input.xs)`), or, when it reads no variable, for
/// its value (`1/0 == 1`), evaluated as the run evaluates it. The problem, if any.
pub(crate) fn check_when(when: &str) -> Result<(), String> {
    if checked(when, &VARIABLES, Expected::Boolean).map_err(|error| error.to_string())? {
        return Ok(());
    }
    let value = condition(when, &Scope::default());
    value
        .map(drop)
        .map_err(|error| every_run(&error.to_string()))
}

/// Checks the expression of a step's `for_each` (its one `${{ expr }}`) as [`checked`] does,
/// and refuses one whose value is surely not a list: for what it is (`'abc'`,
/// `input.n > 2`), or, when it reads no variable, for its value, evaluated as the run
/// evaluates it and taken as the run takes its [`items`]. The problem, if any.
pub(crate) fn check_for_each(expr: &str) -> Result<(), String> {
    if checked(expr, &VARIABLES, Expected::List).map_err(|error| error.to_string())? {
        return Ok(());
    }
    let value = evaluate(expr, &Scope::default()).map_err(|error| error.to_string());
    value
        .and_then(items)
        .map(drop)
        .map_err(|error| every_run(&error))
}

/// Why an expression that reads no variable is refused: what every run would fail with.
fn every_run(error: &str) -> String {
    format!("it reads no variable, so every run would fail on it: {error}")
}

/// The items of a `for_each` step, the value of its expression: why the step fails when
/// that is not a list.
pub(crate) fn items(value: Value) -> Result<Vec<Value>, String> {
    match value {
        Value::Array(items) => Ok(items),
        other => {
            let got = shortened(&other.to_string());
            Err(format!("`for_each` must give a list, got {got}"))
        }
    }
}

/// What an expression's value must be where it is written.
#[derive(Debug, Clone, Copy)]
enum Expected {
    /// Anything with a JSON form (a template's).
    Anything,
    /// A boolean (a `when`).
    Boolean,
    /// A list (a `for_each`).
    List,
}

/// Parses the CEL expression `expr` without evaluating it, and refuses one that names a
/// variable not among `known` or a field `run` does not have, calls a function or names a
/// type the run's context does not have, or whose value is surely an optional or surely not
/// what is `expected`: the run would fail on it. Else whether it reads a variable.
fn checked(expr: &str, known: &[&str], expected: Expected) -> Result<bool, ExprError> {
    match inspect(expr, |expression| {
        verdict(expr, expression, known, expected)
    })? {
        None => Err(library_failed(expr)),
        Some(Ok(reads)) => Ok(reads),
        Some(Err(reason)) => Err(ExprError::new(expr, reason)),
    }
}

/// What `look` finds in the parsed `expr`, on a stack big enough for its tree (None when
/// the library failed on it). The parsed expression is kept with the recently compiled ones
/// while they have room (a small workflow's run then finds every expression parsed), and
/// not past that (a big file's every expression would only churn them).
fn inspect<T: Send>(
    expr: &str,
    look: impl FnOnce(&Expression) -> T + Send,
) -> Result<Option<T>, ExprError> {
    if recent_programs().programs.len() < CACHED_PROGRAMS {
        let compiled = compile(expr)?;
        return Ok(on_stack_for(compiled.simple, || {
            Some(look(&compiled.expression))
        }));
    }
    on_stack_for(fits_any_stack(expr)?, || {
        Some(parse(expr).map(|expression| look(&expression)))
    })
    .transpose()
}

/// Why the run would fail on `expression` (`expr` parsed) for a name in it, if it would: a
/// function or a type of CEL's the run's context does not have, a variable not among
/// `known`, or a field `run` does not have ([`RUN_FIELDS`]); or for its value, when it is
/// surely an optional, which has no JSON form, or surely not what is `expected`. Functions
/// come first: a misspelt macro (`xs.exist(x, x > 1)`) leaves its variable unbound; then
/// types, whose names would read as variables. Else whether it reads a variable. It
/// recurses once per node.
fn verdict(
    expr: &str,
    expression: &Expression,
    known: &[&str],
    expected: Expected,
) -> Result<bool, String> {
    let read = unknown_variables(expression, &[]);
    let refusal = (unknown_function(expression))
        .or_else(|| unsupported_type(expression))
        .or_else(|| invalid_pattern(expression))
        .or_else(|| {
            let unknown: Vec<String> = (read.iter())
                .filter(|name| !known.contains(&name.as_str()))
                .cloned()
                .collect();
            (!unknown.is_empty()).then(|| undefined(expr, &unknown, known))
        })
        .or_else(|| {
            // Looked through only when the expression reads `run`: a walk of its own.
            let reads_run = read.iter().any(|name| name == "run");
            let unknown = reads_run.then(|| unknown_fields(expression, "run", &RUN_FIELDS))?;
            let field = unknown.first()?;
            Some(no_field("run", field, &RUN_FIELDS))
        })
        .or_else(|| {
            let reads_steps = read.iter().any(|name| name == "steps");
            reads_steps.then(|| unknown_step_field(expression)).flatten()
        })
        .or_else(|| surely_optional(expression).then(|| NO_JSON_FORM.to_owned()))
        .or_else(|| match expected {
            Expected::Anything => None,
            Expected::Boolean => surely_not_boolean(expression).map(|value| {
                format!("`when` must be true or false, and this one is {value} whatever the run: compare it (`== …`, `> …`)")
            }),
            Expected::List => surely_not_list(expression).map(|value| {
                format!("`for_each` must give a list, and this one is {value} whatever the run: give a list (`[…]`, `input.xs`, `xs.map(x, …)`)")
            }),
        });
    match refusal {
        Some(reason) => Err(reason),
        None => Ok(!read.is_empty()),
    }
}

/// Checks the `${{ }}` templates of one string, as [`checked`] does each expression, and
/// refuses one that reads no variable (`1 / 0`) for its value, evaluated as the run renders
/// it: every run would fail on it. Only such an expression, rare, is evaluated.
pub(crate) fn check_template(text: &str, known: &[&str]) -> Result<(), ExprError> {
    for piece in pieces(text)? {
        if let Piece::Expr(expr) = piece
            && !checked(expr, known, Expected::Anything)?
        {
            evaluate(expr, &Scope::default())
                .map_err(|error| ExprError::new(expr, every_run(&error.reason)))?;
        }
    }
    Ok(())
}

/// Why the `${{ }}` templates of `text` cannot be told apart from its text, if they cannot:
/// a `${{` never closed, an empty `${{ }}`.
pub(crate) fn template_form_error(text: &str) -> Option<String> {
    pieces(text).err().map(|error| error.reason)
}

/// The expression of `text` when it is exactly one `${{ expr }}`, nothing around it: the
/// template that renders as the expression's value, with its JSON type.
pub(crate) fn lone_expression(text: &str) -> Option<&str> {
    match pieces(text).ok()?.as_slice() {
        [Piece::Expr(expr)] => Some(expr),
        _ => None,
    }
}

/// Calls `visit` with the pointer (relative to `value`) and text of every string in `value`.
pub(crate) fn walk_strings(
    value: &Value,
    pointer: &mut String,
    visit: &mut impl FnMut(&str, &str),
) {
    let len = pointer.len();
    match value {
        Value::String(text) => visit(pointer, text),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                pointer.push('/');
                pointer.push_str(&index.to_string());
                walk_strings(item, pointer, visit);
                pointer.truncate(len);
            }
        }
        Value::Object(members) => {
            for (key, item) in members {
                pointer.push('/');
                pointer.push_str(&crate::problem::escape(key));
                walk_strings(item, pointer, visit);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

/// How many compiled expressions [`compile`] keeps.
const CACHED_PROGRAMS: usize = 4096;

/// Recently compiled expressions: the loader parses every expression of a workflow, and the
/// run then evaluates the same texts, as every item of a `for_each` step does.
static PROGRAMS: LazyLock<Mutex<RecentPrograms>> = LazyLock::new(Mutex::default);

/// The recently compiled expressions, locked.
fn recent_programs() -> std::sync::MutexGuard<'static, RecentPrograms> {
    PROGRAMS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A parsed expression, and whether it is small enough to run on any thread's stack.
struct Compiled {
    /// The expression as parsed: what the checks read, and a guard's condition runs.
    expression: Expression,
    simple: bool,
    /// The expression with the calls of its budgets ([`budget::counted`]), which a workflow's
    /// evaluation runs: made at its first evaluation (`cairn validate` evaluates few).
    budgeted: OnceLock<Expression>,
}

impl Compiled {
    /// The expression a workflow's evaluation runs.
    fn budgeted(&self) -> &Expression {
        self.budgeted
            .get_or_init(|| budget::counted(&self.expression))
    }
}

/// The last [`CACHED_PROGRAMS`] compiled expressions, by text.
#[derive(Default)]
struct RecentPrograms {
    programs: HashMap<String, Arc<Compiled>>,
    /// Texts, oldest first.
    order: VecDeque<String>,
}

/// Compiles `expr` (refusing one too big, parsing a large one on a big stack), or takes it
/// from the recently compiled ones.
fn compile(expr: &str) -> Result<Arc<Compiled>, ExprError> {
    if let Some(program) = recent_programs().programs.get(expr) {
        return Ok(Arc::clone(program));
    }
    let simple = fits_any_stack(expr)?;
    let mut expression =
        on_stack_for(simple, || Some(parse(expr))).unwrap_or_else(|| Err(library_failed(expr)))?;
    name_step_reads(&mut expression);
    let program = Arc::new(Compiled {
        expression,
        simple,
        budgeted: OnceLock::new(),
    });
    let mut recent = recent_programs();
    if recent
        .programs
        .insert(expr.to_owned(), Arc::clone(&program))
        .is_none()
    {
        recent.order.push_back(expr.to_owned());
        if recent.order.len() > CACHED_PROGRAMS
            && let Some(oldest) = recent.order.pop_front()
        {
            recent.programs.remove(&oldest);
        }
    }
    Ok(program)
}

/// Rewrites every `steps['<id>']` as `steps.<id>`: the same lookup in the map, and a name
/// the scope can lend the step's output by (CEL asks a resolver for dotted names only, and
/// ids with a dash can only be written the first way).
fn name_step_reads(expression: &mut Expression) {
    if let Expr::Call(call) = &expression.expr
        && let (INDEX, None, [steps, id]) = (call.func_name.as_str(), &call.target, &call.args[..])
        && matches!(&steps.expr, Expr::Ident(name) if name == "steps")
        && let Expr::Literal(LiteralValue::String(id)) = &id.expr
    {
        let field = id.to_string();
        let operand = Box::new(steps.clone());
        expression.expr = Expr::Select(SelectExpr {
            operand,
            field,
            test: false,
        });
        return;
    }
    parts_mut(expression).into_iter().for_each(name_step_reads);
}

/// Parses `expr` as CEL's reference parser (the `cel` crate's ANTLR one, whose messages
/// explain a refusal) does: through [`parse_fast`] when it can, which is ≈ 35× faster.
fn parse(expr: &str) -> Result<Expression, ExprError> {
    if let Some(expression) = parse_fast(expr) {
        return Ok(expression);
    }
    ENV.parser().parse(expr).map_err(|errors| {
        // The parser's nesting limit surfaces as its own internals, several times over.
        if (errors.errors.iter()).any(|error| error.msg.contains("Recursion limit")) {
            let reason = "does not parse: nested too deep (CEL's parser takes 96 levels)";
            return ExprError::new(expr, reason);
        }
        let mut reasons: Vec<String> = Vec::new();
        for error in &errors.errors {
            let message = error.msg.split(" expecting ").next().unwrap_or_default();
            let reason = format!("column {}: {message}", error.pos.1);
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
        ExprError::new(expr, format!("does not parse: {}", reasons.join("; ")))
    })
}

/// `expr` read by the `cel` crate's Pratt parser (its `parser_pratt` feature), when that
/// gives what the reference parser would: the same tree, up to the numbering of its nodes.
///
/// It would not in two cases, left to the reference parser: the Pratt parser knows only the
/// standard macros, not the `optMap` and `optFlatMap` of [`ENV`]'s optional values, and it
/// accepts `!` and `-` mixed in one unary chain (`!-x`), which CEL's grammar refuses. It
/// also refuses a few expressions the reference parser reads (`2uin x`), and anything it
/// refuses goes the reference way. `the_fast_parser_reads_what_the_reference_parser_reads`
/// compares the two on a generated corpus.
fn parse_fast(expr: &str) -> Option<Expression> {
    if !fast_parser_fits(expr) {
        return None;
    }
    PrattParser::new()
        .enable_optional_syntax(true)
        .parse(expr)
        .ok()
}

/// Whether `expr`'s tokens keep clear of what [`parse_fast`] leaves to the reference
/// parser: a name `optMap` or `optFlatMap`, a `!` next to a `-` (`!-x`, and also the valid
/// `a - !b`). Most expressions have neither character and are not lexed; a token the Pratt
/// lexer cannot read ends the look (the Pratt parser would refuse it).
fn fast_parser_fits(expr: &str) -> bool {
    if !expr.contains(['!', '-']) && !expr.contains("opt") {
        return true;
    }
    let mut lexer = Lexer::new(expr);
    let mut previous = TokenKind::TokEnd;
    loop {
        let token = lexer.lex();
        match (previous, token.kind) {
            (_, TokenKind::TokEnd) => return true,
            (_, TokenKind::TokError)
            | (TokenKind::TokExclamation, TokenKind::TokMinus)
            | (TokenKind::TokMinus, TokenKind::TokExclamation) => return false,
            (_, TokenKind::TokWhitespace | TokenKind::TokComment) => continue,
            (_, TokenKind::TokIdent)
                if matches!(&expr[token.start..token.end], "optMap" | "optFlatMap") =>
            {
                return false;
            }
            (_, kind) => previous = kind,
        }
    }
}

/// Which of a scope's variables (`input`, `steps`, `run`) some expression texts name: only
/// those go into their context. Converting every variable for every attempt was most of an
/// attempt's CEL work, and most templates read only `steps`. An expression reads a variable
/// only by writing its name, so a text that lacks the name cannot read it.
#[derive(Debug, Clone, Copy, Default)]
struct Named {
    input: bool,
    steps: bool,
    run: bool,
}

impl Named {
    /// The variables the expressions in the strings of `template` name; `None` when no
    /// string holds an expression.
    fn in_template(template: &Value) -> Option<Named> {
        let (mut named, mut any) = (Named::default(), false);
        walk_strings(template, &mut String::new(), &mut |_, text| {
            if find_open(text).is_some() {
                any = true;
                named.add(text);
            }
        });
        any.then_some(named)
    }

    /// Adds the variables `text` names.
    fn add(&mut self, text: &str) {
        self.input |= text.contains("input");
        self.steps |= text.contains("steps");
        self.run |= text.contains("run");
    }
}

/// A CEL context with the functions every expression may call, and no variables: every
/// context an expression runs in starts from it, and the loader asks it which functions a
/// call may name.
fn functions_context<'v>() -> Context<'v, 'v> {
    Context::with_env(ENV.clone())
}

/// The CEL context of `scope`, with the variables `named` (and `item` and `index` when the
/// scope has them).
fn context(scope: &Scope, named: Named) -> Result<Context<'_, '_>, ExprError> {
    let mut context = scope_context(scope, named);
    if let Some(item) = &scope.item {
        context.add_variable_as_val("item", to_val(item));
    }
    if let Some(index) = scope.index {
        let index = i64::try_from(index).map_err(|_| ExprError::new("index", "too large"))?;
        context.add_variable_as_val("index", Box::new(CelInt::from(index)));
    }
    Ok(context)
}

/// The CEL context of `scope`'s input, outputs and run facts, with the variables `named`
/// (not its item nor index).
fn scope_context(scope: &Scope, named: Named) -> Context<'_, '_> {
    let mut context = functions_context();
    if named.input || named.steps {
        context.set_variable_resolver(scope);
    }
    if named.run {
        context.add_variable_as_val("run", to_val(&scope.run));
    }
    context
}

/// [`render`]s `template`, which is inside `level` levels of arrays and objects.
fn render_in(
    template: &Value,
    context: &Context<'_, '_>,
    level: usize,
) -> Result<Value, ExprError> {
    Ok(match template {
        Value::String(text) => render_string(text, context, level)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| render_in(item, context, level + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(key, item)| Ok((key.clone(), render_in(item, context, level + 1)?)))
                .collect::<Result<_, ExprError>>()?,
        ),
        other => other.clone(),
    })
}

/// Renders the string `text`, which is inside `level` levels of arrays and objects.
fn render_string(text: &str, context: &Context<'_, '_>, level: usize) -> Result<Value, ExprError> {
    let pieces = pieces(text)?;
    // As `lone_expression`, without splitting the text twice.
    if let [Piece::Expr(expr)] = pieces.as_slice() {
        let value = evaluate_with(expr, context)?;
        return match nesting::check(&value, level) {
            Ok(()) => Ok(value),
            Err(too_deep) => {
                nesting::dismantle(value);
                let reason = format!("its value where it is written is {too_deep}");
                Err(ExprError::new(expr, reason))
            }
        };
    }
    let mut rendered = String::with_capacity(text.len());
    for piece in pieces {
        match piece {
            Piece::Text(text) => rendered.push_str(text),
            Piece::Expr(expr) => match evaluate_with(expr, context)? {
                Value::String(value) => rendered.push_str(&value),
                value => rendered.push_str(&value.to_string()),
            },
        }
    }
    Ok(Value::String(rendered))
}

/// Evaluates `expr` in the prepared `context` (on a big stack when `expr` needs one).
fn evaluate_with(expr: &str, context: &Context<'_, '_>) -> Result<Value, ExprError> {
    evaluate_in(expr, context)
}

fn evaluate_in(expr: &str, context: &Context<'_, '_>) -> Result<Value, ExprError> {
    let compiled = compile(expr)?;
    let budgets = budget::current();
    let evaluation = || budget::within(budgets, || execute(expr, compiled.budgeted(), context));
    let (value, left) =
        on_stack_for(compiled.simple, || Some(evaluation())).ok_or_else(|| library_failed(expr))?;
    budget::carry_on(left);
    value
}

/// The error of an expression the CEL library panicked on.
fn library_failed(expr: &str) -> ExprError {
    ExprError::new(expr, "the CEL library failed on this expression")
}

/// Runs `expression`, `expr` compiled, on the current stack.
fn execute(
    expr: &str,
    expression: &Expression,
    context: &Context<'_, '_>,
) -> Result<Value, ExprError> {
    let value = cel::Value::resolve(expression, context);
    if let Some(reason) = budget::overspent() {
        return Err(ExprError::new(expr, reason));
    }
    let value = value.map_err(|error| ExprError::new(expr, failure::said(&error)))?;
    json_form(&value).map_err(|reason| ExprError::new(expr, reason))
}

mod budget;
mod condition;
mod cost;
mod failure;
mod functions;
mod json_form;
mod optional;
mod pieces;
mod reads;
mod scope;
mod stack;
mod steps_read;
#[cfg(test)]
mod tests;
mod types;
mod undefined;
