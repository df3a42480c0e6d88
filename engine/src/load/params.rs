//! A step's parameters against its executor's schema: its `with`, and each of its
//! `fallbacks` merged over `with` as the scheduler merges them (key by key, the fallback's
//! value replacing `with`'s).
//!
//! As in the rest of the file, an optional parameter is written by leaving it out: the
//! `null` alternative schemars gives `Option` fields is dropped.
//!
//! A value that is a `${{ ... }}` template is whatever it renders to: only the run can
//! tell, so problems whose value is a template string are left to the executor.

use std::panic::{AssertUnwindSafe, catch_unwind};

use hashbrown::HashMap;
use serde_json::Value;

use super::Problem;
use super::durations;
use super::explain::{Found, explain};
use crate::definition::{self, Params};
use crate::error::panic_message;
use crate::executor::Executors;
use crate::problem::unescape;

/// The executors' parameter schemas, each compiled the first time a step uses it.
pub(super) struct Schemas<'a> {
    executors: &'a Executors,
    /// By executor name: its schema and validator, `None` when it accepts anything, or why
    /// its schema does not compile.
    compiled: HashMap<String, Result<Option<(Value, jsonschema::Validator)>, String>>,
}

impl<'a> Schemas<'a> {
    /// The schemas of `executors`.
    pub(super) fn new(executors: &'a Executors) -> Self {
        Schemas {
            executors,
            compiled: HashMap::new(),
        }
    }

    /// The problems of the parameters of the step at `pointer`, run by `executor` (a
    /// registered one) with `with` and `fallbacks`.
    pub(super) fn check(
        &mut self,
        executor: &str,
        with: &Params,
        fallbacks: &[Params],
        pointer: &str,
    ) -> Vec<Problem> {
        let compiled = match self.compiled(executor) {
            Ok(Some(compiled)) => compiled,
            Ok(None) => return Vec::new(),
            Err(error) => {
                let message = format!(
                    "internal error: the `{executor}` executor's parameter schema: {error}"
                );
                return vec![Problem::at(format!("{pointer}/executor"), message)];
            }
        };
        let (schema, validator) = compiled;
        let with = Value::Object(
            with.iter()
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        );
        if fallbacks.is_empty() && validator.is_valid(&with) {
            return Vec::new();
        }
        let base = problems(schema, validator, &with);
        let mut reported: Vec<Problem> = (base.iter())
            .map(|found| Problem::at(format!("{pointer}/with{}", found.pointer), &found.message))
            .collect();
        for (index, overrides) in fallbacks.iter().enumerate() {
            let mut merged = with.clone();
            if let Value::Object(merged) = &mut merged {
                merged.extend(overrides.clone());
            }
            for found in problems(schema, validator, &merged) {
                let key = found.pointer.split('/').nth(1).map(unescape);
                let place = match key {
                    // A value the fallback gives.
                    Some(key) if overrides.contains_key(&key) => found.pointer.clone(),
                    // A value of `with`: reported there already.
                    Some(_) => continue,
                    // The object as a whole, unless `with` alone has the same problem.
                    None if base.contains(&found) => continue,
                    None => String::new(),
                };
                let place = format!("{pointer}/fallbacks/{index}{place}");
                reported.push(Problem::at(place, found.message));
            }
        }
        reported
    }

    fn compiled(
        &mut self,
        executor: &str,
    ) -> Result<Option<&(Value, jsonschema::Validator)>, String> {
        let executors = self.executors;
        let compiled = (self.compiled.entry_ref(executor)).or_insert_with(|| {
            let Some(executor) = executors.get(executor) else {
                return Ok(None);
            };
            // An embedder's executor may panic: its panic is its schema's problem, not the
            // loader's.
            let asked = catch_unwind(AssertUnwindSafe(|| executor.params_schema()));
            match asked.map_err(|panic| format!("it panicked: {}", panic_message(&*panic)))? {
                None => Ok(None),
                Some(schema) => {
                    let mut schema = schema.to_value();
                    definition::tidy::tidy(&mut schema);
                    durations::validator_for(&mut schema).map(|validator| Some((schema, validator)))
                }
            }
        });
        match compiled {
            Ok(compiled) => Ok(compiled.as_ref()),
            Err(error) => Err(error.clone()),
        }
    }
}

/// The problems of an action's `params` against the parameter schema of `executor` (one of
/// `executors`), each placed under `pointer`: what a workflow step's `with` is checked
/// against, for actions written elsewhere (a policy's tests).
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use cairn_engine::{Action, ExecContext, Executor, Executors, Outcome, check_params};
/// use serde_json::json;
///
/// #[derive(schemars::JsonSchema)]
/// #[serde(deny_unknown_fields)]
/// struct Params {
///     text: String,
/// }
///
/// #[derive(Debug)]
/// struct Echo;
///
/// #[async_trait]
/// impl Executor for Echo {
///     fn params_schema(&self) -> Option<schemars::Schema> {
///         Some(cairn_engine::params_schema::<Params>())
///     }
///     async fn execute(&self, action: &Action, _ctx: ExecContext) -> Outcome {
///         Outcome::success(action.params.clone())
///     }
/// }
///
/// let executors = Executors::from([("echo".to_owned(), Arc::new(Echo) as Arc<dyn Executor>)]);
/// let params = json!({"txt": "hi"});
/// let problems = check_params(&executors, "echo", &params, "/tests/0/action/params");
/// assert!(!problems.is_empty());
/// assert!(problems.iter().all(|problem| problem.message.contains("txt")
///     || problem.message.contains("text")), "{problems:?}");
/// ```
pub fn check_params(
    executors: &Executors,
    executor: &str,
    params: &Value,
    pointer: &str,
) -> Vec<Problem> {
    match Schemas::new(executors).compiled(executor) {
        Ok(None) => Vec::new(),
        Ok(Some((schema, validator))) => (problems(schema, validator, params).into_iter())
            .map(|found| Problem::at(format!("{pointer}{}", found.pointer), found.message))
            .collect(),
        Err(error) => {
            let message =
                format!("internal error: the `{executor}` executor's parameter schema: {error}");
            vec![Problem::at(pointer.to_owned(), message)]
        }
    }
}

/// The problems of `params` against `schema`, except those whose value is a template.
fn problems(schema: &Value, validator: &jsonschema::Validator, params: &Value) -> Vec<Found> {
    validator
        .iter_errors(params)
        .filter(|error| !is_template(error.instance()))
        .flat_map(|error| explain(&error, schema))
        .filter(|found| found.told)
        .collect()
}

/// Whether `value` is a string holding a `${{ ... }}` template.
fn is_template(value: &Value) -> bool {
    value.as_str().and_then(crate::expr::find_open).is_some()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use serde_json::json;

    use super::*;
    use crate::executor::{Action, ErrorClass, ExecContext, Executor, Outcome};

    /// An embedder's executor whose parameter schema panics.
    #[derive(Debug)]
    struct Panics;

    #[async_trait]
    impl Executor for Panics {
        fn params_schema(&self) -> Option<schemars::Schema> {
            panic!("schema boom")
        }

        async fn execute(&self, _action: &Action, _ctx: ExecContext) -> Outcome {
            Outcome::failure(ErrorClass::BadParams, "not for running")
        }
    }

    #[test]
    fn a_schema_that_panics_is_the_executors_problem_at_its_step() {
        let executors = Executors::from([("x".to_owned(), Arc::new(Panics) as Arc<dyn Executor>)]);
        let workflow = json!({"name": "w", "steps": [{"id": "a", "executor": "x"}]});
        let error = crate::load::load_str(&workflow.to_string(), "w.json", &executors);
        let said = "internal error: the `x` executor's parameter schema: it panicked: schema boom";
        assert_eq!(
            error.unwrap_err().to_string(),
            format!("w.json:/steps/0/executor: {said}")
        );
        let problems = check_params(&executors, "x", &json!({}), "/tests/0/action/params");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].message, said);
    }
}
