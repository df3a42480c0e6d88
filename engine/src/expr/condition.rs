//! [`Condition`]: a CEL condition parsed once, as a guard's rules keep theirs.

use std::fmt;
use std::sync::Arc;

use cel::Context;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::{
    Compiled, ENV, ExprError, as_condition, compile, execute, library_failed, on_stack_for, to_val,
};

/// A CEL condition over named JSON variables, parsed when it is made: a guard's rule keeps
/// one and evaluates it for every action without parsing, or looking up, its text again.
/// It reads and writes as its text; a condition that does not parse says why
/// ([`Condition::error`]), and evaluates to that error.
///
/// ```
/// use cairn_engine::{Condition, evaluate_conditions};
/// use serde_json::json;
///
/// let deploy = Condition::new("action.step.startsWith('deploy')");
/// let broken = Condition::new("action.step ==");
/// assert!(deploy.error().is_none() && broken.error().is_some());
/// let action = json!({"step": "deploy-web"});
/// let results = evaluate_conditions(&[&deploy, &broken], &[("action", &action)]);
/// assert_eq!(results[0], Ok(true));
/// assert!(results[1].is_err());
/// ```
#[derive(Clone)]
pub struct Condition {
    text: String,
    compiled: Result<Arc<Compiled>, ExprError>,
}

impl Condition {
    /// Parses the condition `text`.
    pub fn new(text: impl Into<String>) -> Condition {
        let text = text.into();
        let compiled = compile(&text);
        Condition { text, compiled }
    }

    /// The condition as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Why the condition does not parse, if it does not.
    pub fn error(&self) -> Option<&ExprError> {
        self.compiled.as_ref().err()
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

/// Evaluates each of `conditions` over the same named JSON `variables` (a guard's rules see
/// `action` and `run`): one result per condition, an error when one does not parse, fails,
/// or its value is not a boolean. The variables are converted once for all the conditions.
pub fn evaluate_conditions(
    conditions: &[&Condition],
    variables: &[(&str, &Value)],
) -> Vec<Result<bool, ExprError>> {
    let evaluate_all = || {
        let mut context = Context::with_env(ENV.clone());
        for (name, value) in variables {
            context.add_variable_as_val(*name, to_val(value));
        }
        (conditions.iter())
            .map(|condition| {
                let (text, compiled) = (&condition.text, &condition.compiled);
                let compiled = compiled.as_ref().map_err(Clone::clone)?;
                as_condition(text, execute(text, compiled, &context)?)
            })
            .collect::<Vec<_>>()
    };
    // One stack for all: the caller's when every condition is simple, else one big one.
    let simple = (conditions.iter())
        .all(|condition| (condition.compiled.as_ref()).is_ok_and(|compiled| compiled.simple));
    on_stack_for(simple, || Some(evaluate_all())).unwrap_or_else(|| {
        (conditions.iter())
            .map(|condition| Err(library_failed(&condition.text)))
            .collect()
    })
}
