use crate::executor::test_support::accepting_anything;
use crate::load::load_str;

fn plan(source: &str) -> super::Plan {
    load_str(source, "test.json", &accepting_anything(&["noop"]))
        .unwrap_or_else(|error| panic!("{error}"))
}

fn deps(plan: &super::Plan, id: &str) -> Vec<String> {
    let step = plan.index_of(id).unwrap();
    plan.dependencies(step)
        .map(|dep| plan.steps()[dep].id.to_string())
        .collect()
}

#[test]
fn pipelines_chain_and_parallel_members_share_predecessors() {
    let plan = plan(
        r#"{"name": "t", "steps": [{"pipeline": [
            {"id": "a", "executor": "noop"},
            {"parallel": [{"id": "b", "executor": "noop"},
                          {"pipeline": [{"id": "c", "executor": "noop"}, {"id": "d", "executor": "noop"}]}]},
            {"id": "e", "executor": "noop"}
        ]}]}"#,
    );
    assert_eq!(deps(&plan, "a"), Vec::<String>::new());
    assert_eq!(deps(&plan, "b"), ["a"]);
    assert_eq!(deps(&plan, "c"), ["a"]);
    assert_eq!(deps(&plan, "d"), ["c"]);
    assert_eq!(deps(&plan, "e"), ["b", "d"]);
    assert_eq!(plan.sinks(), [plan.index_of("e").unwrap()]);
    assert_eq!(plan.pointer(3), "/steps/0/pipeline/1/parallel/1/pipeline/1");
}

#[test]
fn needing_a_group_waits_for_its_sinks() {
    let plan = plan(
        r#"{"name": "t", "steps": [
            {"id": "g", "max_parallel": 2, "parallel": [{"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}]},
            {"id": "c", "needs": ["g", "a", "a"], "executor": "noop", "with": {"x": "${{ steps.b.output }}"}}
        ]}"#,
    );
    assert_eq!(deps(&plan, "c"), ["a", "b"]);
    assert_eq!(
        plan.dependents(plan.index_of("a").unwrap())
            .collect::<Vec<_>>(),
        [2]
    );
    assert_eq!(*plan.steps()[0].group_limits, [("g".to_owned(), 2)]);
    assert_eq!(plan.referenced_steps(2), [1]);
}

/// A parallel group ends with its members' last steps that no other member waits for, also
/// through a member group's `needs` and a member inside a member group: what comes after it,
/// or needs it, waits for those only (probe 75 F1).
#[test]
fn a_parallel_group_ends_with_the_last_steps_no_member_waits_for() {
    let plan = plan(
        r#"{"name": "t", "steps": [
            {"pipeline": [
                {"id": "g", "parallel": [
                    {"id": "x", "executor": "noop"},
                    {"id": "y", "needs": ["x"], "executor": "noop"},
                    {"id": "h", "parallel": [{"id": "z", "executor": "noop"}]},
                    {"id": "w", "needs": ["h"], "parallel": [{"id": "v", "executor": "noop"}]}
                ]},
                {"id": "after", "executor": "noop"}
            ]},
            {"id": "c", "needs": ["g"], "executor": "noop"}
        ]}"#,
    );
    assert_eq!(deps(&plan, "after"), ["y", "v"]);
    assert_eq!(deps(&plan, "c"), ["y", "v"]);
    assert_eq!(deps(&plan, "y"), ["x"]);
    assert_eq!(deps(&plan, "v"), ["z"]);
}

/// A parallel group starts with its members' first steps that wait for no other member: the
/// group's predecessors are theirs alone, and a member that waits for another waits for them
/// through it (probe 76 F6: with `b` failed, `d` was skipped for `b` though its need `c`
/// succeeded).
#[test]
fn a_parallel_group_starts_with_the_first_steps_that_wait_for_no_member() {
    let plan = plan(
        r#"{"name": "t", "steps": [{"pipeline": [
            {"id": "b", "executor": "noop"},
            {"parallel": [
                {"id": "c", "executor": "noop"},
                {"id": "d", "needs": ["c"], "executor": "noop"},
                {"id": "h", "needs": ["c"], "pipeline": [{"id": "e", "executor": "noop"}]},
                {"id": "f", "executor": "noop"}
            ]}
        ]}]}"#,
    );
    assert_eq!(deps(&plan, "c"), ["b"]);
    assert_eq!(deps(&plan, "d"), ["c"]);
    assert_eq!(deps(&plan, "e"), ["c"]);
    assert_eq!(deps(&plan, "f"), ["b"]);
}

/// The problems of loading `source`, one line each.
fn problems(source: &str) -> Vec<String> {
    match load_str(source, "w.json", &accepting_anything(&["noop"])) {
        Ok(_) => Vec::new(),
        Err(error) => error.to_string().lines().map(str::to_owned).collect(),
    }
}

#[test]
fn reading_a_step_that_runs_side_by_side_is_an_error() {
    let found = problems(
        r#"{"name": "t", "steps": [{"id": "a", "executor": "noop", "with": {"output": 1}},
            {"id": "b", "executor": "noop", "with": {"output": "${{ steps.a.output }}"}}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/1/with/output: `steps.a`: `b` does not wait for `a`, which may \
             not have run yet; add `needs: [\"a\"]` to `b`, or put both in a pipeline"
        ]
    );
    // The same reads through `when`, `for_each` and a fallback, inside a parallel group.
    let found = problems(
        r#"{"name": "t", "steps": [{"parallel": [{"id": "a", "executor": "noop"},
            {"id": "b", "executor": "noop", "when": "steps.a.output > 0",
             "for_each": "${{ steps.a.output }}", "fallbacks": [{"x": "${{ steps.a.output }}"}]}]}]}"#,
    );
    let places: Vec<&str> = found
        .iter()
        .map(|line| line.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        places,
        [
            "w.json:/steps/0/parallel/1/fallbacks/0/x",
            "w.json:/steps/0/parallel/1/for_each",
            "w.json:/steps/0/parallel/1/when",
        ],
        "{found:#?}"
    );
}

#[test]
fn reading_a_later_step_says_that_step_waits() {
    let found = problems(
        r#"{"name": "t", "steps": [{"pipeline": [
            {"id": "a", "executor": "noop", "with": {"x": "${{ steps.c.output }}"}},
            {"id": "b", "executor": "noop"}, {"id": "c", "executor": "noop"}]}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/0/pipeline/0/with/x: `steps.c`: `c` waits for `a`, so `a` cannot \
             read its output"
        ]
    );
}

#[test]
fn any_predecessor_may_be_read() {
    // Pipeline order, transitively; `needs` on a step; `needs` on a group its members
    // inherit; a group's sinks before its dependents; a step needed further up the chain.
    plan(
        r#"{"name": "t", "steps": [
            {"pipeline": [{"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"},
                          {"id": "c", "executor": "noop", "with": {"x": "${{ steps.a.output }}"}}]},
            {"id": "d", "needs": ["a"], "executor": "noop", "when": "steps.a.output == 1"},
            {"id": "g", "needs": ["d"], "parallel": [
                {"id": "e", "executor": "noop", "for_each": "${{ steps.a.output }}"},
                {"id": "f", "executor": "noop", "with": {"x": "${{ steps.d.output }}"}}]},
            {"id": "h", "needs": ["g"], "executor": "noop",
             "with": {"x": "${{ steps.e.output + steps.f.output + steps.a.output }}"}}
        ]}"#,
    );
}

#[test]
fn reads_wrong_for_another_reason_get_one_problem_and_a_snapshot_is_trusted() {
    // Reading its own output, or in an expression already wrong: the loader's problem.
    let found = problems(
        r#"{"name": "t", "steps": [{"id": "a", "executor": "noop"},
            {"id": "b", "executor": "noop", "with": {"x": "${{ steps.b.output }}"},
             "for_each": "${{ steps.a.output"}]}"#,
    );
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].contains("must be one"), "{found:#?}");
    assert!(
        found[1].ends_with("step `b` reads its own output"),
        "{found:#?}"
    );
    // `needs` set aside after a problem in them: the step does not wait, as a consequence.
    let found = problems(
        r#"{"name": "t", "steps": [{"id": "a", "executor": "noop"},
            {"id": "g", "needs": ["a", 5], "pipeline": [
                {"id": "b", "executor": "noop", "with": {"x": "${{ steps.a.output }}"}}]}]}"#,
    );
    assert_eq!(
        found,
        ["w.json:/steps/1/needs/1: expected string, found a number"]
    );
    // A run stored before the rule existed still resumes.
    let snapshot = r#"{"name": "t", "steps": [{"id": "a", "executor": "noop"},
        {"id": "b", "executor": "noop", "with": {"x": "${{ steps.a.output }}"}}]}"#;
    let plan = crate::load::load_snapshot(snapshot, "run", &accepting_anything(&["noop"])).unwrap();
    assert_eq!(plan.referenced_steps(1), [0]);
}

#[test]
fn dot_and_mermaid_draw_groups() {
    let plan = plan(
        r#"{"name": "say \"hi\" in C:\\q", "steps": [{"id": "a", "executor": "noop"},
            {"id": "g", "needs": ["a"], "parallel": [{"id": "b", "executor": "noop"}, {"id": "c", "executor": "noop"}]}]}"#,
    );
    let dot = plan.to_dot();
    assert!(dot.contains("subgraph cluster_0"), "{dot}");
    assert!(dot.contains("s0 -> s1"), "{dot}");
    assert!(dot.contains(r#"say \"hi\""#), "{dot}");
    let mermaid = plan.to_mermaid();
    assert!(mermaid.contains("\nflowchart TB\n"), "{mermaid}");
    // The front matter is YAML: the title a double-quoted scalar, escaped as JSON escapes.
    assert!(
        mermaid.starts_with("---\ntitle: \"say \\\"hi\\\" in C:\\\\q\"\n---\n"),
        "{mermaid}"
    );
    assert!(mermaid.contains("subgraph g0"), "{mermaid}");
    assert!(mermaid.contains("s0 --> s2"), "{mermaid}");
}

#[test]
fn a_label_too_long_for_graphviz_is_drawn_by_its_end() {
    let (id, name) = ("x".repeat(19_000) + "-last", "n".repeat(20_000));
    let long = plan(&format!(
        r#"{{"name": "{name}", "steps": [{{"id": "{id}", "executor": "noop"}}]}}"#
    ));
    for drawn in [long.to_dot(), long.to_mermaid()] {
        // Graphviz refuses a quoted string over 16,384 bytes.
        let longest = drawn.split('"').map(str::len).max().unwrap();
        assert!(longest < 4_000, "{longest}");
        assert!(drawn.contains("-last"), "the id's end is drawn");
    }
    // The id is cut, not the label it is in (probe 78 F1: an id of 1,000 lost its start to
    // its executor's line).
    let (whole, cut) = ("w".repeat(1_000), "c".repeat(201) + &"k".repeat(1_000));
    let edge = plan(&format!(
        r#"{{"name": "n", "steps": [{{"id": "{whole}", "executor": "noop"}},
                                   {{"id": "{cut}", "executor": "noop"}}]}}"#
    ));
    for drawn in [edge.to_dot(), edge.to_mermaid()] {
        assert!(drawn.contains(&format!("\"{whole}")), "{drawn}");
        assert!(
            drawn.contains(&format!("\"…{}", "k".repeat(1_000))),
            "{drawn}"
        );
        assert!(!drawn.contains("ck"), "{drawn}");
    }
}

#[test]
fn an_unknown_need_suggests_no_step_that_needs_it() {
    // Probe 20 of stop 56: `needs: [""]` suggested the step itself, a cycle.
    let found =
        problems(r#"{"name": "t", "steps": [{"id": "a", "executor": "noop", "needs": [""]}]}"#);
    assert_eq!(found, ["w.json:/steps/0/needs/0: unknown step or group ``"]);
}

#[test]
fn an_unknown_need_is_placed_at_its_node_in_any_group() {
    let found = problems(
        r#"{"name": "t", "steps": [{"id": "a", "executor": "noop"},
            {"id": "g", "needs": ["gone"], "pipeline": [
                {"parallel": [{"id": "b", "executor": "noop", "needs": ["a", "ghost"]}]}]}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/1/needs/0: unknown step or group `gone`",
            "w.json:/steps/1/pipeline/0/parallel/0/needs/1: unknown step or group `ghost`",
        ]
    );
}

#[test]
fn a_cycle_names_a_group_only_for_the_edges_its_needs_make() {
    // b waits for a by pipeline order, a for b because g needs itself (it ends with b).
    let found = problems(
        r#"{"name": "c", "steps": [{"id": "g", "needs": ["g"], "pipeline": [
            {"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}]}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/0/pipeline/0: cycle: a -> b -> a, through groups: group `g` (holding `a`) needs group `g` (ending with `b`)"
        ]
    );
    // Inside o: g, then c; g needs o, which ends with c.
    let found = problems(
        r#"{"name": "c", "steps": [{"id": "o", "pipeline": [
            {"id": "g", "needs": ["o"], "pipeline": [{"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}]},
            {"id": "c", "executor": "noop"}]}]}"#,
    );
    assert_eq!(
        found,
        [
            "w.json:/steps/0/pipeline/0/pipeline/0: cycle: a -> b -> c -> a, through groups: group `g` (holding `a`) needs group `o` (ending with `c`)"
        ]
    );
}

/// A parallel group of `n` noop steps whose ids start with `prefix`, as JSON text.
fn group(prefix: &str, n: usize) -> String {
    let members: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"id": "{prefix}{i}", "executor": "noop"}}"#))
        .collect();
    format!(
        r#"{{"id": "{prefix}", "parallel": [{}]}}"#,
        members.join(", ")
    )
}

#[test]
fn two_big_groups_linked_all_to_all_are_refused_and_one_step_between_them_is_not() {
    let (a, b) = (group("a", 1001), group("b", 1001));
    let message = "each of this member's 1001 first steps waits for each of the 1001 last \
                   steps of the member before it: 1002001 dependencies, 1002001 in the graph \
                   with them, past the 1000000 a graph of 2002 steps may have (16 a step, or \
                   1000000 in all); put one step between the two";
    let piped = format!(r#"{{"name": "t", "steps": [{{"pipeline": [{a}, {b}]}}]}}"#);
    assert_eq!(
        problems(&piped),
        [format!("w.json:/steps/0/pipeline/1: {message}")]
    );
    let needing =
        format!(r#"{{"name": "t", "steps": [{a}, {{"parallel": [{b}], "needs": ["a"]}}]}}"#);
    let message = "each of this node's 1001 first steps waits for each of the 1001 last steps \
                   of `a`: 1002001 dependencies, 1002001 in the graph with them, past the \
                   1000000 a graph of 2002 steps may have (16 a step, or 1000000 in all); make \
                   one step need it, and this node need that step";
    assert_eq!(
        problems(&needing),
        [format!("w.json:/steps/1/needs/0: {message}")]
    );
    let between = format!(
        r#"{{"name": "t", "steps": [{{"pipeline": [{a}, {{"id": "j", "executor": "noop"}}, {b}]}}]}}"#
    );
    let plan = plan(&between);
    assert_eq!(plan.dependencies(plan.index_of("j").unwrap()).count(), 1001);
    assert_eq!(deps(&plan, "b7"), ["j"]);
}
