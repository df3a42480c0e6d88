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
///
/// A value kept [`compact`](SharedJson::compact) is held as its JSON text until something
/// reads it: a planner's plan, which the run's plan holds compiled already and which few
/// expressions read, costs ≈ 40 bytes a step that way against ≈ 750 as a `Value`.
#[derive(Debug, Default)]
pub struct SharedJson {
    json: OnceLock<Value>,
    /// The value's JSON text while it is kept compact and not yet read.
    text: Option<Box<str>>,
    reads: AtomicU32,
    cel: OnceLock<Box<dyn Val>>,
}

impl SharedJson {
    /// The value `json`.
    pub fn new(json: Value) -> SharedJson {
        SharedJson {
            json: OnceLock::from(json),
            ..SharedJson::default()
        }
    }

    /// The value `json`, kept as its JSON text (the `Value` dropped) and read back as a
    /// `Value` when something first asks for it ([`json`](Self::json)).
    pub fn compact(json: Value) -> SharedJson {
        SharedJson {
            text: Some(json.to_string().into_boxed_str()),
            ..SharedJson::default()
        }
    }

    /// The value as JSON (read back from its text, and kept, the first time for a
    /// [`compact`](Self::compact) one).
    pub fn json(&self) -> &Value {
        self.json.get_or_init(|| parsed(self.text.as_deref()))
    }

    /// A copy of the value as JSON; a compact one is read from its text and stays compact.
    pub fn to_json(&self) -> Value {
        match self.json.get() {
            Some(json) => json.clone(),
            None => parsed(self.text.as_deref()),
        }
    }

    /// The value as JSON, taken out.
    pub fn into_json(self) -> Value {
        let SharedJson { json, text, .. } = self;
        json.into_inner().unwrap_or_else(|| parsed(text.as_deref()))
    }

    /// The value as JSON, taken out of `shared` when nothing else holds it, else copied (a
    /// compact one read from its text and left compact).
    pub fn unshared(shared: Arc<SharedJson>) -> Value {
        Arc::try_unwrap(shared).map_or_else(|shared| shared.to_json(), SharedJson::into_json)
    }

    /// The value's JSON text, as `serde_json` writes it: lent when it is kept
    /// [`compact`](Self::compact), else written.
    pub fn text(&self) -> Cow<'_, str> {
        match (&self.text, self.json.get()) {
            (Some(text), _) => Cow::Borrowed(text),
            (None, Some(json)) => Cow::Owned(json.to_string()),
            (None, None) => Cow::Borrowed("null"),
        }
    }

    /// Whether the value is held as its JSON text only (compact and not read yet).
    #[cfg(test)]
    pub(crate) fn is_text(&self) -> bool {
        self.json.get().is_none()
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
            return CowVal::Owned(to_val(self.json()));
        }
        CowVal::Borrowed(self.cel.get_or_init(|| to_owned_val(self.json())).as_ref())
    }
}

/// Two values are equal when their JSON is (a compact one is read from its text for it, and
/// left compact).
impl PartialEq for SharedJson {
    fn eq(&self, other: &SharedJson) -> bool {
        match (self.json.get(), other.json.get()) {
            (Some(json), Some(other)) => json == other,
            _ => self.to_json() == other.to_json(),
        }
    }
}

/// The value of the JSON `text` a [`SharedJson::compact`] wrote (`null` for none, as the
/// default value is).
fn parsed(text: Option<&str>) -> Value {
    text.map_or(Value::Null, |text| {
        crate::nesting::parse_stored(text.as_bytes())
            .expect("serde_json reads back the text it wrote of a value")
    })
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
