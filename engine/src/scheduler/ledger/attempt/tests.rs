//! Starting and judging an attempt: a `for_each` that gives no list and an `output_schema`
//! that the output breaks quote the value, shortened, and name its place (the root too).

use serde_json::{Value, json};

use super::super::tests::{at, new_run};

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
    let error = ledger.check_output(0, &Value::Array(steps)).unwrap_err();
    let message = error.message;
    assert!(
        message.len() < 4000,
        "{} bytes: {message:.600}",
        message.len()
    );
    assert!(
        message.starts_with(
            "output does not match output_schema: at the root: [{\"executor\":\"noop\",\"id\":\"s0\"}"
        ),
        "{message}"
    );
    assert!(
        message.contains(&format!("… ({size} characters) has more than 2 items")),
        "{message}"
    );
    assert!(message.ends_with("; and 19991 more"), "{message}");
}

#[test]
fn an_agents_reply_meets_an_output_schema_with_the_json_it_answered() {
    let ledger = new_run(json!({"name": "s", "steps": [
        {"id": "plan", "executor": "noop",
         "output_schema": {"type": "object", "required": ["files"]}},
        {"id": "free", "executor": "noop"}
    ]}));
    let reply = |text: &str| json!({"text": text, "raw": {}, "warnings": []});
    let fenced = "Here they are:\n```json\n{\"files\": [\"a.rs\"]}\n```";
    for text in ["{\"files\": [\"a.rs\"]}", fenced] {
        let output = ledger.check_output(0, &reply(text)).unwrap();
        assert_eq!(output, Some(json!({"files": ["a.rs"]})), "{text}");
    }
    let error = ledger.check_output(0, &reply("no files")).unwrap_err();
    assert!(
        error.message.starts_with("the agent's text is not JSON: "),
        "{}",
        error.message
    );
    let error = ledger
        .check_output(0, &reply("{\"dirs\": []}"))
        .unwrap_err();
    assert!(
        (error.message).contains("output_schema: at the root: \"files\" is a required property"),
        "{}",
        error.message
    );
    // Without an `output_schema`, the reply is the output as it is.
    assert_eq!(ledger.check_output(1, &reply("{}")).unwrap(), None);
}

#[test]
fn a_for_each_over_a_big_value_not_a_list_quotes_it_shortened() {
    let big = "x".repeat(300_000);
    let mut ledger = new_run(json!({"name": "f", "steps": [
        {"id": "each", "executor": "noop", "for_each": "${{ input.big }}"}
    ]}));
    ledger.input = std::sync::Arc::new(crate::expr::SharedJson::new(json!({ "big": big })));
    assert!(ledger.turn(at(0)).unwrap().is_empty());
    let error = ledger.report().error.unwrap();
    assert!(error.len() < 1000, "{} bytes: {error:.300}", error.len());
    assert!(
        error.contains("`for_each` must give a list, got \"xxx")
            && error.contains("… (300002 characters)"),
        "{error}"
    );
}
