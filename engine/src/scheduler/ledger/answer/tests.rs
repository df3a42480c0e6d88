//! Which outputs are read for the JSON they answer: a planner's whenever it is no plan, an
//! `output_schema` step's only when it is the agent's reply.

use serde_json::json;

use super::{agent_answer, answer};

#[test]
fn a_planners_output_without_steps_is_read_from_its_text_whatever_its_other_keys() {
    let plan = json!({"steps": []});
    for output in [
        json!({"text": "{\"steps\": []}", "raw": {}, "warnings": []}),
        json!({"text": "{\"steps\": []}"}),
        json!({"text": "Here:\n```json\n{\"steps\": []}\n```", "raw": {}, "usage": 1}),
    ] {
        assert_eq!(answer(&output), Some(Ok(plan.clone())), "{output}");
    }
    // A plan is read as it is, a `text` beside it or not; so is an output with no text.
    assert_eq!(answer(&json!({"steps": [], "text": "{}"})), None);
    assert_eq!(answer(&json!({"text": 3})), None);
    assert_eq!(answer(&json!("text")), None);
    assert_eq!(
        answer(&json!({"text": "no plan"})),
        Some(Err(
            "text is not JSON: expected ident at line 1 column 2; text: \"no plan\"".into()
        ))
    );
}

#[test]
fn an_output_schema_steps_output_is_read_only_when_it_is_the_agents_reply() {
    let reply = json!({"text": "{\"files\": []}", "raw": {}, "warnings": []});
    assert_eq!(agent_answer(&reply), Some(Ok(json!({"files": []}))));
    // A process's output with a `text` is data, judged by the schema as it is.
    assert_eq!(agent_answer(&json!({"text": "{\"files\": []}"})), None);
    assert_eq!(
        agent_answer(&json!({"text": "{}", "raw": {}, "warnings": [], "more": 1})),
        None
    );
}

/// An answer is read to the 128 levels a run holds, as any executor's output is; deeper is
/// named as such, not as text that is not JSON.
#[test]
fn an_answer_is_read_to_128_levels_and_named_too_deep_past_them() {
    let nested = |levels: usize| "[".repeat(levels) + &"]".repeat(levels);
    let reply = |text: String| json!({"text": text, "raw": {}, "warnings": []});
    let read = agent_answer(&reply(nested(128))).unwrap().unwrap();
    assert!(read.is_array());
    let fenced = format!("Here:\n```json\n{}\n```", nested(128));
    assert!(agent_answer(&reply(fenced)).unwrap().is_ok());
    let error = agent_answer(&reply(nested(129))).unwrap().unwrap_err();
    let quoted = format!("{:?}… (258 characters)", "[".repeat(120));
    assert_eq!(
        error,
        format!("text is JSON nested deeper than 128 levels of arrays and objects; text: {quoted}")
    );
}

/// Code blocks are fenced as CommonMark fences them: backticks or tildes, closed by a fence
/// of the same character at least as long (or the end of the text); indented code blocks
/// are prose.
#[test]
fn an_answer_is_read_from_a_tilde_fence_as_from_a_backtick_one() {
    let plan = json!({"steps": [{"id": "a", "executor": "noop"}]});
    for text in [
        format!("~~~json\n{plan}\n~~~"),
        format!("Here:\n\n  ~~~~\n{plan}\n  ~~~~~  \nDone."),
        format!("```json\n{plan}\n```"),
        format!("Unclosed, it runs to the end:\n```json\n{plan}"),
    ] {
        let reply = json!({"text": text, "raw": {}, "warnings": []});
        assert_eq!(agent_answer(&reply), Some(Ok(plan.clone())), "{text}");
    }
    for (text, blocks) in [
        ("~~~\nA\n```\nB\n~~~", vec!["A\n```\nB"]),
        ("````md\n```json\nA\n```\n````", vec!["```json\nA\n```"]),
        ("~~~~\nA\n~~~\n~~~~\n~~~\nB\n~~~", vec!["A\n~~~", "B"]),
        ("```\nA\n``` not a fence\n```", vec!["A\n``` not a fence"]),
        ("Say ```json``` inline.\n~~ two\n`` two", vec![]),
        ("Plan:\n\n    {\"steps\": []}\n", vec![]),
        ("    ```\nindented four: no fence", vec![]),
        // Lines end at `\r\n` or a lone `\r` too (probe 182 F2).
        ("Plan:\r```json\rA\r\rB\r```\r", vec!["A\n\nB"]),
        ("Plan:\r\n```json\r\nA\r\n```\r\n", vec!["A"]),
        ("```\n\nA\n\n", vec!["\nA\n"]),
    ] {
        assert_eq!(super::code_blocks(text), blocks, "{text}");
    }
}
