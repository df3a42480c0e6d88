//! `cairn schema`.

use crate::{cairn, root, stdout};

#[test]
fn the_committed_workflow_schema_is_current() {
    let output = cairn(&["schema", "workflow"]);
    assert_eq!(output.status.code(), Some(0));
    let committed = std::fs::read_to_string(root().join("schemas/workflow.schema.json")).unwrap();
    assert!(
        stdout(&output) == committed,
        "schemas/workflow.schema.json is stale: run `cargo run -- schema workflow > schemas/workflow.schema.json`"
    );
}

#[test]
fn the_workflow_schema_is_the_default() {
    let plain = cairn(&["schema"]);
    assert_eq!(plain.status.code(), Some(0));
    assert_eq!(stdout(&plain), stdout(&cairn(&["schema", "workflow"])));
}

#[test]
fn an_unknown_schema_is_a_usage_error() {
    let output = cairn(&["schema", "nonsense"]);
    assert_eq!(output.status.code(), Some(2));
}
