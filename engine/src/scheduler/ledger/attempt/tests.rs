//! Judging an attempt's output: `output_schema` errors quote what broke it, shortened.

use serde_json::{Value, json};

use super::super::tests::new_run;

#[test]
fn an_output_schema_error_quotes_a_big_value_shortened_and_the_first_problems_only() {
    let ledger = new_run(json!({"name": "s", "steps": [
        {"id": "a", "executor": "noop",
         "output_schema": {"type": "array", "maxItems": 2, "items": {"type": "string"}}}
    ]}));
    let steps: Vec<Value> = (0..20_000)
        .map(|i| json!({"id": format!("s{i}"), "executor": "noop"}))
        .collect();
    let size = Value::Array(steps.clone()).to_string().chars().count();
    let error = ledger.check_output(0, Value::Array(steps)).unwrap_err();
    let message = error.message;
    assert!(
        message.len() < 4000,
        "{} bytes: {message:.600}",
        message.len()
    );
    assert!(
        message.starts_with(
            "output does not match output_schema: : [{\"executor\":\"noop\",\"id\":\"s0\"}"
        ),
        "{message}"
    );
    assert!(
        message.contains(&format!("… ({size} characters) has more than 2 items")),
        "{message}"
    );
    assert!(message.ends_with("; and 19991 more"), "{message}");
}
