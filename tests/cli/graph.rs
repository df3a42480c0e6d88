//! `cairn graph`.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::{cairn, examples, stdout};

#[test]
fn graphviz_accepts_every_example() {
    for file in examples() {
        let output = cairn(&["graph", file.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "{}", file.display());
        let mut dot = Command::new("dot")
            .arg("-Tsvg")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("Graphviz `dot` is installed (apt-get install graphviz; .ci/run does it)");
        dot.stdin.take().unwrap().write_all(&output.stdout).unwrap();
        let rendered = dot.wait_with_output().unwrap();
        let errors = String::from_utf8_lossy(&rendered.stderr);
        assert!(
            rendered.status.success() && errors.is_empty(),
            "{}: {errors}\n{}",
            file.display(),
            stdout(&output)
        );
        assert!(String::from_utf8_lossy(&rendered.stdout).contains("<svg"));
    }
}

#[test]
fn groups_are_clusters_and_subgraphs() {
    let dot = stdout(&cairn(&["graph", "examples/fanout.json"]));
    assert!(
        dot.contains("subgraph cluster_0 {\n    label=\"branches (parallel)\";"),
        "{dot}"
    );
    assert!(dot.contains("s5 [label=\"join\\nnoop\"];"), "{dot}");
    for branch in 1..=4 {
        assert!(dot.contains(&format!("s0 -> s{branch};")), "{dot}");
        assert!(dot.contains(&format!("s{branch} -> s5;")), "{dot}");
    }
    let mermaid = stdout(&cairn(&[
        "graph",
        "examples/fanout.json",
        "--format",
        "mermaid",
    ]));
    assert!(mermaid.contains("flowchart TB\n"), "{mermaid}");
    assert!(
        mermaid.contains("subgraph g0 [\"branches (parallel)\"]"),
        "{mermaid}"
    );
    assert!(mermaid.contains("s4 --> s5"), "{mermaid}");
}

#[test]
fn an_invalid_file_draws_nothing_and_exits_2() {
    let output = cairn(&["graph", "tests/fixtures/invalid/cycle.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cycle: a -> b -> c -> a"));
}
