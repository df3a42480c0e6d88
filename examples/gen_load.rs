//! Load benchmark: generates a workflow of N steps (default 100,000), then times loading it
//! (parse, schema, checks, compile) and reports peak memory.
//!
//! `cargo run --release --example gen_load -- 100000`
//!
//! The workflow is a chain of blocks; each block of 10 steps is a pipeline of a step, a
//! parallel group of 8 steps (four of them reading the first step's output through a
//! `${{ }}` template) and a join, and each block `needs` the one before.

use std::fmt::Write;
use std::time::Instant;

use cairn::engine as load;

fn main() {
    let steps: usize = std::env::args()
        .nth(1)
        .map_or(100_000, |n| n.parse().expect("a number of steps"));
    let started = Instant::now();
    let source = generate(steps);
    let generated = started.elapsed();
    let before = peak_rss_kib();

    let started = Instant::now();
    let plan = load::load_str(&source, "generated", &cairn::executors::builtin())
        .unwrap_or_else(|error| panic!("{error}"));
    let loaded = started.elapsed();

    let edges: usize = (0..plan.steps().len())
        .map(|step| plan.dependencies(step).count())
        .sum();
    println!("steps:           {}", plan.steps().len());
    println!("edges:           {edges}");
    println!(
        "file size:       {:.1} MiB",
        source.len() as f64 / (1 << 20) as f64
    );
    println!("generate:        {generated:.2?}");
    println!("load + compile:  {loaded:.2?}");
    println!("peak RSS before: {:.1} MiB", before as f64 / 1024.0);
    println!("peak RSS after:  {:.1} MiB", peak_rss_kib() as f64 / 1024.0);
}

/// A workflow of `steps` noop steps (rounded up to whole blocks of 10), written as text
/// directly so that generating it costs little memory.
fn generate(steps: usize) -> String {
    let mut out =
        String::from(r#"{"name": "generated", "limits": {"max_steps": 10000000}, "steps": ["#);
    for block in 0..steps.div_ceil(10) {
        if block > 0 {
            out.push(',');
        }
        let needs = match block {
            0 => String::new(),
            _ => format!(r#""needs": ["b{}"], "#, block - 1),
        };
        let _ = write!(
            out,
            r#"{{"id": "b{block}", {needs}"pipeline": [{{"id": "b{block}-head", "executor": "noop", "with": {{"output": {block}}}}}, {{"max_parallel": 4, "parallel": ["#
        );
        for branch in 0..8 {
            let comma = if branch > 0 { "," } else { "" };
            let with = match branch % 2 {
                0 => format!(
                    r#", "with": {{"output": "${{{{ steps[\"b{block}-head\"].output + {branch} }}}}"}}"#
                ),
                _ => String::new(),
            };
            let _ = write!(
                out,
                r#"{comma}{{"id": "b{block}-branch{branch}", "executor": "noop"{with}}}"#
            );
        }
        let _ = write!(
            out,
            r#"]}}, {{"id": "b{block}-join", "executor": "noop", "when": "true"}}]}}"#
        );
    }
    out.push_str("]}");
    out
}

/// The peak resident set size of this process (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|line| line.starts_with("VmHWM:"));
    line.and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}
