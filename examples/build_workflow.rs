//! Embedding cairn without JSON text: the workflow is built from Rust values (the
//! [`Workflow`] and [`Node`] types a file deserializes into), checked and compiled by
//! `Engine::load` exactly as a file would be, and run on an in-memory store.
//!
//! ```sh
//! cargo run --example build_workflow
//! ```

use std::sync::Arc;

use cairn::engine::Node;
use cairn::engine::store::MemoryStore;
use cairn::engine::{Engine, Error, RunReport, Workflow};
use cairn::executors::builtin;
use serde_json::{Value, json};

/// A pipeline of two steps: the first greets the input's `name`, the second shouts the
/// greeting.
fn workflow() -> Workflow {
    let steps = Node::pipeline(vec![
        Node::step(
            "greet",
            "noop",
            [("output", json!("hello, ${{ input.name }}"))],
        ),
        Node::step(
            "shout",
            "noop",
            [("output", json!("${{ steps.greet.output + '!' }}"))],
        ),
    ]);
    let mut workflow = Workflow::new("built", vec![steps]);
    workflow.input = Some(json!({"type": "object", "required": ["name"]}));
    workflow
}

/// An engine with the built-in executors over a fresh in-memory store.
async fn engine() -> Result<Engine, Error> {
    Engine::builder_with_store(Arc::new(MemoryStore::new()))
        .executors(builtin())
        .open()
        .await
}

/// Runs the workflow with `input` to its end.
async fn run(engine: &Engine, input: Value) -> Result<RunReport, Error> {
    let plan = engine.load(&workflow())?;
    engine.start(plan, input).await?.wait().await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = run(&engine().await?, json!({"name": "cairn"})).await?;
    println!(
        "run {} {}: {}",
        report.id,
        report.state,
        report.output.unwrap_or_default()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use cairn::engine::{RunFilter, RunState};
    use serde_json::json;

    use super::{Node, engine, run, workflow};

    #[tokio::test]
    async fn the_built_pipeline_runs_its_steps_in_order() {
        let engine = engine().await.unwrap();
        let report = run(&engine, json!({"name": "cairn"})).await.unwrap();
        assert_eq!(report.state, RunState::Succeeded, "{report:?}");
        assert_eq!(report.output, Some(json!({"shout": "hello, cairn!"})));
    }

    #[tokio::test]
    async fn the_built_workflow_is_checked_like_a_file() {
        let engine = engine().await.unwrap();
        let refused = run(&engine, json!({})).await.unwrap_err().to_string();
        assert!(
            refused.contains("\"name\" is a required property"),
            "{refused}"
        );

        // A top-level step beside the pipeline may run before `shout`.
        let mut workflow = workflow();
        let read = json!("${{ steps.shout.output }}");
        workflow
            .steps
            .push(Node::step("late", "noop", [("output", read)]));
        let refused = engine.load(&workflow).unwrap_err().to_string();
        assert!(
            refused.contains("/steps/1/with/output: `steps.shout`"),
            "{refused}"
        );
        assert!(engine.runs(&RunFilter::default()).await.unwrap().is_empty());
    }
}
