//! What an expression reads, and how it reaches CEL: the scope of an attempt is its
//! context's variable resolver, which converts JSON to CEL's values when an expression reads
//! them, and lends a value read twice from one conversion.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt,
};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use serde_json::Value;

/// What an expression can read. It is the context's variable resolver for `input` and
/// `steps`, which are converted to CEL's values only when an expression reads them.
#[derive(Debug, Default)]
pub(crate) struct Scope {
    /// The run's input.
    pub input: Arc<SharedJson>,
    /// The outputs of the steps the expressions read, by id (`null` for a step that has
    /// none); each reads as `steps.<id>.output`.
    pub steps: HashMap<String, Arc<SharedJson>>,
    /// The current item of a `for_each` step.
    pub item: Option<Value>,
    /// The current item's index in a `for_each` step.
    pub index: Option<usize>,
    /// Facts about the run (its id, the workflow's name, ...), the same for each of its
    /// attempts.
    pub run: Arc<Value>,
}

impl Scope {
    /// The scope of an attempt that reads `input` and the outputs `steps`.
    pub(crate) fn new(
        input: Arc<SharedJson>,
        steps: HashMap<String, Arc<SharedJson>>,
        run: Arc<Value>,
    ) -> Scope {
        Scope {
            input,
            steps,
            run,
            ..Scope::default()
        }
    }
}

/// Lends `input` and `steps.<id>.output` from their CEL forms; gives `steps` as a whole
/// (`steps['a-b']`, `has(steps.a)`) as a map converted for the expression that asks.
impl VariableResolver for Scope {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        if variable == "input" {
            return Some(self.input.cel());
        }
        if variable == "steps" {
            return Some(CowVal::Owned(Box::new(steps_map(&self.steps))));
        }
        let id = variable.strip_prefix("steps.")?.strip_suffix(".output")?;
        // `steps.a.b.output` reads `b` of step `a`, not a step `a.b`.
        (!id.contains('.'))
            .then(|| self.steps.get(id))
            .flatten()
            .map(|output| output.cel())
    }
}

/// A JSON value many expressions may read: the run's input (every attempt's templates,
/// every action a guard judges), a step's output. It is converted to CEL's values for each
/// evaluation that reads it until it has been read twice, then once for all and lent: a
/// pipeline reads each output once, a fan-out may read one a thousand times (1 MB, 1,000
/// readers: 2.5 s converting it).
#[derive(Debug, Default)]
pub struct SharedJson {
    json: Value,
    reads: AtomicU32,
    cel: OnceLock<Box<dyn Val>>,
}

impl SharedJson {
    /// The value `json`.
    pub fn new(json: Value) -> SharedJson {
        SharedJson {
            json,
            ..SharedJson::default()
        }
    }

    /// The value as JSON.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The value as JSON, taken out.
    pub fn into_json(self) -> Value {
        self.json
    }

    /// Its CEL form, once kept.
    #[cfg(test)]
    pub(super) fn kept(&self) -> Option<&dyn Val> {
        self.cel.get().map(|cel| &**cel)
    }

    /// Its CEL form for one context.
    pub(super) fn cel(&self) -> CowVal<'_, '_> {
        if let Some(cel) = self.cel.get() {
            return CowVal::Borrowed(cel.as_ref());
        }
        if self.reads.fetch_add(1, Ordering::Relaxed) == 0 {
            return CowVal::Owned(to_val(&self.json));
        }
        CowVal::Borrowed(self.cel.get_or_init(|| to_owned_val(&self.json)).as_ref())
    }
}

/// Converts JSON to CEL values that borrow its strings: integers become `int` when they
/// fit (so `x > 3` works), else `uint`. (Built as CEL's value types directly: its
/// `cel::Value` would be converted into them once more when bound.)
pub(super) fn to_val(value: &Value) -> Box<dyn Val + '_> {
    convert(value, Cow::Borrowed)
}

/// Converts JSON to CEL values as [`to_val`] does, owning their strings: a value to keep.
fn to_owned_val(value: &Value) -> Box<dyn Val> {
    convert(value, |text| Cow::Owned(text.to_owned()))
}

/// Converts JSON to CEL values, each string (and map key) as `text` makes it.
fn convert<'a, 'v>(value: &'a Value, text: fn(&'a str) -> Cow<'v, str>) -> Box<dyn Val + 'v> {
    match value {
        Value::Null => Box::new(CelNull),
        Value::Bool(value) => Box::new(CelBool::from(*value)),
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(int), _) => Box::new(CelInt::from(int)),
            (None, Some(uint)) => Box::new(CelUInt::from(uint)),
            _ => Box::new(CelDouble::from(number.as_f64().unwrap_or(f64::NAN))),
        },
        Value::String(value) => Box::new(CelString::from(text(value))),
        Value::Array(items) => Box::new(CelList::from(
            (items.iter())
                .map(|item| convert(item, text))
                .collect::<Vec<_>>(),
        )),
        Value::Object(members) => Box::new(CelMap::from(
            (members.iter())
                .map(|(key, item)| {
                    let key = CelMapKey::String(CelString::from(text(key)));
                    (key, convert(item, text))
                })
                .collect::<HashMap<_, _>>(),
        )),
    }
}

/// Converts the steps' outputs to the CEL map of `steps`: each id to `{"output": ...}`.
fn steps_map(steps: &HashMap<String, Arc<SharedJson>>) -> CelMap<'_> {
    (steps.iter())
        .map(|(id, output)| {
            let output = HashMap::from([(CelMapKey::from("output"), to_val(output.json()))]);
            let read: Box<dyn Val> = Box::new(CelMap::from(output));
            (CelMapKey::from(id.as_str()), read)
        })
        .collect::<HashMap<_, _>>()
        .into()
}
