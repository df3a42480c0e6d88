//! `cairn graph`: every drawing of every example is checked in-process (no Graphviz needed)
//! against the example's plan: each step, each group and each dependency is drawn.

use std::collections::BTreeSet;
use std::path::Path;

use cairn::engine::Node;

use cairn::engine::Plan;
use layout::gv::DotParser;
use layout::gv::parser::ast;

use crate::{cairn, examples, root, stdout};

/// What a drawing must show of a workflow: step ids, group labels, edges between step ids.
#[derive(Debug, Default, PartialEq)]
struct Drawn {
    steps: BTreeSet<String>,
    groups: BTreeSet<String>,
    edges: BTreeSet<(String, String)>,
}

/// What the drawing of the example `file` must show, from its plan.
fn expected(file: &Path) -> Drawn {
    let executors = cairn::executors::builtin();
    let plan: Plan = cairn::engine::load_file(&root().join(file), &executors).expect("loads");
    let id = |step: usize| plan.steps()[step].id.to_string();
    let mut drawn = Drawn::default();
    for step in 0..plan.steps().len() {
        drawn.steps.insert(id(step));
        for from in plan.dependencies(step) {
            drawn.edges.insert((id(from), id(step)));
        }
    }
    fn groups(node: &Node, labels: &mut BTreeSet<String>) {
        let (kind, members) = match (&node.pipeline, &node.parallel) {
            (Some(members), _) => ("pipeline", members),
            (None, Some(members)) => ("parallel", members),
            (None, None) => return,
        };
        labels.insert(match &node.id {
            Some(id) => format!("{id} ({kind})"),
            None => kind.to_owned(),
        });
        for member in members {
            groups(member, labels);
        }
    }
    for node in &plan.workflow().steps {
        groups(node, &mut drawn.groups);
    }
    drawn
}

/// Reads a dot drawing: node labels start with the step id, clusters carry group labels.
fn read_dot(graph: &ast::Graph, names: &mut Vec<(String, String)>, drawn: &mut Drawn) {
    for statement in &graph.list.list {
        match statement {
            ast::Stmt::Node(node) => {
                let label = node.list.iter().find(|(key, _)| key == "label");
                let label = label.expect("every node has a label").1.clone();
                let id = label.lines().next().unwrap_or_default().to_owned();
                names.push((node.id.name.clone(), id.clone()));
                drawn.steps.insert(id);
            }
            ast::Stmt::Edge(edge) => {
                let mut from = edge.from.name.clone();
                for (to, _) in &edge.to {
                    drawn.edges.insert((from, to.name.clone()));
                    from = to.name.clone();
                }
            }
            ast::Stmt::SubGraph(cluster) => {
                for statement in &cluster.list.list {
                    if let ast::Stmt::Attribute(attributes) = statement {
                        for (key, value) in attributes.list.iter() {
                            if key == "label" {
                                drawn.groups.insert(value.clone());
                            }
                        }
                    }
                }
                read_dot(cluster, names, drawn);
            }
            ast::Stmt::Attribute(_) => {}
        }
    }
}

#[test]
fn dot_of_every_example_parses_and_has_every_step_group_and_edge() {
    for file in examples() {
        let output = cairn(&["graph", file.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "{}", file.display());
        let dot = stdout(&output);
        let mut parser = DotParser::new(&dot);
        let graph = parser
            .process()
            .unwrap_or_else(|error| panic!("{}: {error}\n{dot}", file.display()));
        let mut names = Vec::new();
        let mut drawn = Drawn::default();
        read_dot(&graph, &mut names, &mut drawn);
        // Edges name nodes (`s3`): translate them to step ids.
        let id_of = |name: &str| {
            let found = names.iter().find(|(node, _)| node == name);
            found
                .unwrap_or_else(|| panic!("{name} is declared\n{dot}"))
                .1
                .clone()
        };
        drawn.edges = drawn
            .edges
            .iter()
            .map(|(from, to)| (id_of(from), id_of(to)))
            .collect();
        assert_eq!(drawn, expected(&file), "{}\n{dot}", file.display());
    }
}

#[test]
fn svg_of_every_example_is_a_document_with_every_step_group_and_edge() {
    for file in examples() {
        let output = cairn(&["graph", file.to_str().unwrap(), "--format", "svg"]);
        assert_eq!(output.status.code(), Some(0), "{}", file.display());
        let svg = stdout(&output);
        assert!(svg.starts_with("<?xml "), "{}", file.display());
        let document = roxmltree::Document::parse(&svg)
            .unwrap_or_else(|error| panic!("{}: {error}\n{svg}", file.display()));
        let root = document.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        for size in ["width", "height"] {
            let value: f64 = root.attribute(size).expect(size).parse().expect(size);
            assert!(value > 0., "{}: {size} {value}", file.display());
        }
        assert!(root.attribute("viewBox").is_some());

        // Each line of a label is a text or tspan of its own.
        let lines: BTreeSet<&str> = root
            .descendants()
            .filter(|node| node.is_text())
            .filter_map(|node| node.text())
            .map(str::trim)
            .collect();
        let expected = expected(&file);
        let missing: Vec<&String> = (expected.steps.iter())
            .chain(&expected.groups)
            .filter(|label| !lines.contains(label.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "{}: {missing:?} not drawn",
            file.display()
        );

        let arrows = root
            .descendants()
            .filter(|node| node.has_tag_name("path") && node.attribute("marker-end").is_some())
            .count();
        assert_eq!(arrows, expected.edges.len(), "{}", file.display());
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
fn json_of_every_example_has_every_step_with_its_executor_and_its_needs() {
    for file in examples() {
        let output = cairn(&["--json", "graph", file.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "{}", file.display());
        let dag: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let expected = expected(&file);
        let mut drawn = Drawn {
            groups: expected.groups.clone(),
            ..Drawn::default()
        };
        for step in dag["steps"].as_array().unwrap() {
            let id = step["id"].as_str().unwrap().to_owned();
            assert!(
                step["executor"].is_string() && step.get("state").is_none(),
                "{step}"
            );
            for need in step["needs"].as_array().unwrap() {
                drawn
                    .edges
                    .insert((need.as_str().unwrap().to_owned(), id.clone()));
            }
            drawn.steps.insert(id);
        }
        assert_eq!(drawn, expected, "{}", file.display());
    }
    let both = cairn(&["--json", "graph", "examples/hello.json", "--format", "dot"]);
    assert_eq!(both.status.code(), Some(2));
    assert!(both.stdout.is_empty());
}

#[test]
fn an_invalid_file_draws_nothing_and_exits_2() {
    for format in ["dot", "mermaid", "svg"] {
        let output = cairn(&[
            "graph",
            "tests/fixtures/invalid/cycle.json",
            "--format",
            format,
        ]);
        assert_eq!(output.status.code(), Some(2));
        assert!(output.stdout.is_empty());
        assert!(String::from_utf8_lossy(&output.stderr).contains("cycle: a -> b -> c -> a"));
    }
}

/// The SVG `cairn graph --format svg` draws of `workflow`.
fn svg_of(workflow: &serde_json::Value) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("workflow.json");
    std::fs::write(&file, workflow.to_string()).unwrap();
    stdout(&cairn(&[
        "graph",
        file.to_str().unwrap(),
        "--format",
        "svg",
    ]))
}

/// A step outside a group that the layout puts between two of the group's steps is not
/// drawn inside the group's box (probe 196 F1): each member gets a box of its own then;
/// nor is one above a step four groups deep, which a box that high reached (probe 198 F6).
#[test]
fn an_svg_draws_no_group_box_around_a_step_outside_the_group() {
    let between = serde_json::json!({"name": "between", "steps": [
        {"id": "g", "parallel": [{"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}]},
        {"id": "x", "executor": "noop"},
        {"id": "c", "executor": "noop", "needs": ["a", "x"]},
        {"id": "d", "executor": "noop", "needs": ["b", "x"]}
    ]});
    let deep = serde_json::json!({"name": "deep", "steps": [
        {"id": "x", "executor": "noop"},
        {"id": "g1", "parallel": [{"id": "g2", "parallel": [{"id": "g3", "parallel": [
            {"id": "g4", "parallel": [{"id": "b", "executor": "noop", "needs": ["x"]}]}
        ]}]}]}
    ]});
    for workflow in [between, deep] {
        let svg = svg_of(&workflow);
        let document = roxmltree::Document::parse(&svg).unwrap();
        // Each box with the first line of the text drawn after it: a step's id, or a
        // group's label.
        let nodes: Vec<_> = document.descendants().collect();
        let boxes: Vec<(&str, [f64; 4])> = (nodes.iter().enumerate())
            .filter(|(_, node)| node.has_tag_name("rect"))
            .filter_map(|(at, rect)| {
                let text = nodes[at..].iter().find(|node| node.has_tag_name("text"))?;
                let label = text.descendants().find_map(|node| node.text())?.trim();
                let number = |name| rect.attribute(name).unwrap().parse::<f64>().unwrap();
                let [x, y, w, h] = ["x", "y", "width", "height"].map(number);
                Some((label, [x, y, x + w, y + h]))
            })
            .collect();
        let outsider = (boxes.iter()).find(|(label, _)| *label == "x").unwrap().1;
        let groups: Vec<_> = (boxes.iter())
            .filter(|(label, _)| label.ends_with(')'))
            .collect();
        assert!(!groups.is_empty(), "{svg}");
        for (group, [left, top, right, bottom]) in groups {
            let [x_left, x_top, x_right, x_bottom] = outsider;
            let apart = x_right < *left || *right < x_left || x_bottom < *top || *bottom < x_top;
            assert!(apart, "x drawn inside or across {group}: {svg}");
        }
    }
}

/// The canvas holds a long title and is no taller than the drawing (probe 196 F2: cut at
/// both edges, and 10 px taller per byte of the title).
#[test]
fn an_svgs_canvas_holds_its_title_and_no_more_height_than_it_draws() {
    let name = "Nightly build, test and deploy of the monorepo to staging";
    let svg =
        svg_of(&serde_json::json!({"name": name, "steps": [{"id": "a", "executor": "noop"}]}));
    let document = roxmltree::Document::parse(&svg).unwrap();
    let size = |name| {
        document
            .root_element()
            .attribute(name)
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    // The title's 57 characters at 16 px: wider than 0.4 em each.
    assert!(size("width") > 57. * 16. * 0.4, "{svg}");
    assert!(size("height") < 200., "{svg}");
}

#[test]
fn an_svg_of_a_chain_of_diamonds_is_drawn() {
    // Every path of this DAG doubles with each pair: the layout's own DAG check walked them
    // all (40 pairs would take days).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("diamonds.json");
    let pairs: Vec<serde_json::Value> = (0..40)
        .map(|i| {
            serde_json::json!({"parallel": [
                {"id": format!("a{i}"), "executor": "noop"},
                {"id": format!("b{i}"), "executor": "noop"}
            ]})
        })
        .collect();
    let workflow = serde_json::json!({"name": "diamonds", "steps": [{"pipeline": pairs}]});
    std::fs::write(&file, workflow.to_string()).unwrap();
    let output = cairn(&["graph", file.to_str().unwrap(), "--format", "svg"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains(">b39<"), "the last step is drawn");
}

#[test]
fn an_svg_too_wide_to_lay_out_is_refused_and_a_chain_of_a_thousand_steps_is_drawn() {
    // A chain of 80 steps and a report needing every one: the edges to the report cross
    // every row, so the rows widen to 80 waypoints and the layout took 10 s (minutes in a
    // debug build).
    let dir = tempfile::tempdir().unwrap();
    let mut steps = Vec::new();
    for i in 0..40 {
        let before: Vec<String> = (i > 0).then(|| format!("p{}", i - 1)).into_iter().collect();
        let mut needs = before.clone();
        needs.insert(0, format!("w{i}"));
        steps.push(serde_json::json!({"id": format!("w{i}"), "executor": "noop", "needs": before}));
        steps.push(serde_json::json!({"id": format!("p{i}"), "executor": "noop", "needs": needs}));
    }
    let all: Vec<serde_json::Value> = steps.iter().map(|step| step["id"].clone()).collect();
    steps.push(serde_json::json!({"id": "report", "executor": "noop", "needs": all}));
    let wide = dir.path().join("wide.json");
    let workflow = serde_json::json!({"name": "wide", "steps": steps});
    std::fs::write(&wide, workflow.to_string()).unwrap();
    let svg = cairn(&["graph", wide.to_str().unwrap(), "--format", "svg"]);
    assert_eq!(svg.status.code(), Some(2));
    assert!(svg.stdout.is_empty());
    let message = String::from_utf8_lossy(&svg.stderr);
    assert!(
        message.contains("too wide to lay out as SVG")
            && message.contains("`--format dot` and Graphviz (`| dot -Tsvg`)")
            // Mermaid's renderers refuse a DAG this big: it is not offered.
            && !message.contains("mermaid"),
        "{message}"
    );

    let long = dir.path().join("long.json");
    let steps: Vec<serde_json::Value> = (0..1000)
        .map(|i| match i {
            0 => serde_json::json!({"id": "s0", "executor": "noop"}),
            i => serde_json::json!({"id": format!("s{i}"), "executor": "noop", "needs": [format!("s{}", i - 1)]}),
        })
        .collect();
    let workflow = serde_json::json!({"name": "long", "steps": steps});
    std::fs::write(&long, workflow.to_string()).unwrap();
    let svg = cairn(&["graph", long.to_str().unwrap(), "--format", "svg"]);
    assert_eq!(svg.status.code(), Some(0), "{svg:?}");
    assert!(stdout(&svg).contains(">s999<"), "the last step is drawn");
}

#[test]
fn an_svg_of_more_steps_than_it_can_lay_out_is_refused_and_dot_still_draws() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.json");
    let steps: Vec<serde_json::Value> = (0..1001)
        .map(|i| match i {
            0 => serde_json::json!({"id": "s0", "executor": "noop"}),
            i => serde_json::json!({"id": format!("s{i}"), "executor": "noop", "needs": [format!("s{}", i - 1)]}),
        })
        .collect();
    let workflow =
        serde_json::json!({"name": "long", "limits": {"max_steps": 1001}, "steps": steps});
    std::fs::write(&file, workflow.to_string()).unwrap();
    let file = file.to_str().unwrap();

    let svg = cairn(&["graph", file, "--format", "svg"]);
    assert_eq!(svg.status.code(), Some(2));
    assert!(svg.stdout.is_empty());
    let message = String::from_utf8_lossy(&svg.stderr);
    assert!(
        message.contains("1001 steps are too many to lay out as SVG")
            && message.contains("--format dot"),
        "{message}"
    );
    let dot = cairn(&["graph", file]);
    assert_eq!(dot.status.code(), Some(0));
    assert!(
        stdout(&dot).contains("s999 -> s1000;"),
        "the dot drawing has every edge"
    );
}

#[test]
fn a_name_with_control_characters_draws_valid_svg_and_no_raw_controls() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ctl.json");
    let name = "ctl\u{1}\u{8}\u{1b}[31mred\u{7}\u{9b}\u{fffe}\u{202e}der";
    let workflow = serde_json::json!({"name": name, "steps": [{"id": "a", "executor": "noop"}]});
    std::fs::write(&file, workflow.to_string()).unwrap();
    let file = file.to_str().unwrap();

    let svg = stdout(&cairn(&["graph", file, "--format", "svg"]));
    let document = roxmltree::Document::parse(&svg).unwrap_or_else(|error| panic!("{error}"));
    assert!(
        (document.descendants()).any(|node| node.text()
            == Some("ctl\\u{1}\\u{8}\\u{1b}[31mred\\u{7}\\u{9b}\\u{fffe}\u{202e}der")),
        "the title's controls are escaped, its override left as written: {svg}"
    );
    for format in ["dot", "mermaid"] {
        let drawing = stdout(&cairn(&["graph", file, "--format", format]));
        let raw = drawing.chars().find(|&c| c.is_control() && c != '\n');
        assert_eq!(raw, None, "{format}: {drawing:?}");
        assert!(drawing.contains("\u{202e}der"), "{format}: {drawing:?}");
    }
    assert!(stdout(&cairn(&["graph", file])).contains(r#"label="ctl\\u{1}\\u{8}\\u{1b}[31mred"#));
}

#[test]
fn graph_without_a_file_or_a_run_shows_both_forms() {
    let output = cairn(&["graph"]);
    assert_eq!(output.status.code(), Some(2));
    let told = String::from_utf8_lossy(&output.stderr);
    assert!(
        told.contains("<FILE|--run <RUN>>") && told.contains("cairn graph [OPTIONS] --run <RUN>"),
        "{told}"
    );
}
