//! Embedding cairn in a Rust program: register an in-process `function` executor beside the
//! built-in ones, start a run, watch its events, and read the result.
//!
//! ```sh
//! cargo run --example embed            # uses ./embed.db; run it twice to see two runs
//! ```

use std::sync::Arc;

use cairn::engine::Engine;
use cairn::executors::{FunctionExecutor, builtin};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

/// Two steps: an in-process function counts the words, a noop step reports the count.
const WORKFLOW: &str = r#"{
  "name": "embedded",
  "input": {"type": "object", "required": ["text"]},
  "steps": [
    {"pipeline": [
      {"id": "count", "executor": "function",
       "with": {"function": "word_count", "input": "${{ input.text }}"}},
      {"id": "report", "executor": "noop",
       "with": {"output": "${{ 'the text has ' + string(steps.count.output.words) + ' words' }}"}}
    ]}
  ]
}"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let functions =
        FunctionExecutor::new().register("word_count", |input: Value, _action| async move {
            let text = input.as_str().ok_or("the input must be a string")?;
            Ok(json!({ "words": text.split_whitespace().count() }))
        });
    let engine = Engine::builder("embed.db")
        .executors(builtin())
        .executor("function", Arc::new(functions))
        .open()
        .await?;

    let plan = engine.load_str(WORKFLOW, "embedded workflow")?;
    let mut run = engine
        .start(plan, json!({ "text": "a durable chain of small steps" }))
        .await?;
    let mut events = run.events();
    let watcher = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => println!(
                    "  {} {} -> {}",
                    event.step_id().unwrap_or("run"),
                    event.from().unwrap_or("(new)"),
                    event.to()
                ),
                // A watcher too slow for the stream's buffer misses events, not the rest:
                // `Engine::history` has them all.
                Err(RecvError::Lagged(missed)) => println!("  ({missed} events missed)"),
                Err(RecvError::Closed) => break,
            }
        }
    });
    let report = run.wait().await?;
    watcher.await?;
    println!(
        "run {} {}: {}",
        report.id,
        report.state,
        report.output.unwrap_or_default()
    );
    // Before the process exits: the store checkpoints its write-ahead log into the database
    // and removes `embed.db-wal` and `-shm`, which the next opening would otherwise read.
    engine.store().close().await;
    Ok(())
}
