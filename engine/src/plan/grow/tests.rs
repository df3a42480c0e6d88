//! Plans added at run time, through the loader as the ledger adds them.

use serde_json::{Value, json};

use crate::executor::test_support::accepting_anything;
use crate::load::{LoadError, load_plan, load_str};
use crate::plan::Plan;

/// `gen` (a planner) between `start` and `report`.
fn run_plan() -> Plan {
    let workflow = json!({"name": "t", "limits": {"max_steps": 8}, "steps": [{"pipeline": [
        {"id": "start", "executor": "noop"},
        {"id": "gen", "executor": "noop", "planner": true},
        {"id": "report", "executor": "noop"}
    ]}]});
    load_str(
        &workflow.to_string(),
        "t.json",
        &accepting_anything(&["noop"]),
    )
    .unwrap()
}

fn grow(plan: &mut Plan, planner: &str, output: Value) -> Result<Vec<String>, String> {
    let planner = plan.index_of(planner).unwrap();
    match load_plan(&output, plan, planner, &accepting_anything(&["noop"])) {
        Ok(added) => Ok(added
            .map(|step| plan.steps()[step].id.to_string())
            .collect()),
        Err(error) => Err(error.to_string()),
    }
}

fn deps(plan: &Plan, id: &str) -> Vec<String> {
    let step = plan.index_of(id).unwrap();
    let mut ids: Vec<String> = (plan.dependencies(step))
        .map(|dep| plan.steps()[dep].id.to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_plan_runs_after_its_planner_and_before_the_planners_dependents() {
    let mut plan = run_plan();
    let added = grow(
        &mut plan,
        "gen",
        json!({"steps": [
            {"id": "a", "executor": "noop"},
            {"id": "b", "executor": "noop", "needs": ["a", "start"],
             "with": {"output": "${{ steps.a.output }}"}}
        ]}),
    );
    assert_eq!(added.unwrap(), ["gen.a", "gen.b"]);
    assert_eq!(deps(&plan, "gen.a"), ["gen"]);
    // After the planner through `gen.a`, its first step (probe 76 F6).
    assert_eq!(deps(&plan, "gen.b"), ["gen.a", "start"]);
    // The plan's last step: `gen.a`, which `gen.b` waits for, is not one (probe 75 F1).
    assert_eq!(deps(&plan, "report"), ["gen", "gen.b"]);
    let b = plan.index_of("gen.b").unwrap();
    assert_eq!(
        plan.node(b).needs,
        ["gen.a", "start"],
        "own nodes are prefixed"
    );
    assert_eq!(plan.referenced_steps(b), [plan.index_of("gen.a").unwrap()]);
    assert_eq!(plan.written(b, plan.index_of("gen.a").unwrap()), "a");
    assert_eq!(plan.graph().node_count(), 5);
    assert!(plan.to_dot().contains("plan of gen"));
}

/// Inside its plan a node is named as the plan names it: `gen.a` for the plan's own `a` is
/// refused in `needs`, as it is in an expression (probe 182 F1: the `needs` worked), and
/// the plan is left out whole.
#[test]
fn a_plans_own_node_named_with_the_planners_prefix_is_refused() {
    let mut plan = run_plan();
    let refused = grow(
        &mut plan,
        "gen",
        json!({"steps": [
            {"id": "a", "executor": "noop"},
            {"id": "b", "executor": "noop", "needs": ["start", "gen.a"]}
        ]}),
    );
    assert_eq!(
        refused.unwrap_err(),
        "plan of gen:/steps/1/needs/1: `gen.a` is this plan's own `a`: inside the plan, name it `a`, as the plan does"
    );
    assert_eq!(plan.steps().len(), 3, "nothing of the plan is added");
}

#[test]
fn a_plan_of_a_planner_in_a_plan_delays_the_first_planners_dependents_too() {
    let mut plan = run_plan();
    let first = json!({"steps": [{"id": "again", "executor": "noop", "planner": true}]});
    assert_eq!(grow(&mut plan, "gen", first).unwrap(), ["gen.again"]);
    let second = json!({"steps": [{"id": "work", "executor": "noop",
        "with": {"output": "${{ steps.start.output }}"}}]});
    assert_eq!(
        grow(&mut plan, "gen.again", second).unwrap(),
        ["gen.again.work"]
    );
    assert_eq!(
        deps(&plan, "report"),
        ["gen", "gen.again", "gen.again.work"]
    );
    assert_eq!(
        grow(&mut plan, "gen.again.work", json!({"steps": []})).unwrap(),
        Vec::<String>::new()
    );
}

/// A plan's unknown `needs` do not hide what reads a step it does not wait for: an agent
/// asked again learns both at once (probe 108 F1); a need naming a step of the run is known.
#[test]
fn an_unknown_need_of_a_plan_does_not_hide_a_read_of_a_step_not_waited_for() {
    let mut plan = run_plan();
    let output = json!({"steps": [
        {"id": "a", "executor": "noop", "needs": ["start"]},
        {"id": "b", "executor": "noop", "needs": ["start"], "with": {"output": "${{ steps.a.output }}"}},
        {"id": "c", "executor": "noop", "needs": ["nowhere"]}]});
    let error = grow(&mut plan, "gen", output).unwrap_err();
    assert_eq!(
        error,
        "plan of gen:/steps/1/with/output: `steps.a`: `b` does not wait for `a`, which may not have run yet; add `needs: [\"a\"]` to `b`, or put both in a pipeline\n\
         plan of gen:/steps/2/needs/0: unknown step or group `nowhere`"
    );
    assert_eq!(plan.steps().len(), 3, "nothing added");
    // A misspelt need of the plan's own step is offered that step, as written in the plan.
    let output = json!({"steps": [{"id": "build", "executor": "noop"},
        {"id": "c", "executor": "noop", "needs": ["biuld"]}]});
    let error = grow(&mut plan, "gen", output).unwrap_err();
    assert_eq!(
        error,
        "plan of gen:/steps/1/needs/0: unknown step or group `biuld` (did you mean `build`?)"
    );
}

#[test]
fn an_invalid_plan_fails_with_the_loaders_messages_and_adds_nothing() {
    let cases = [
        (
            json!({"steps": [
                {"id": "a", "executor": "noop", "needs": ["b"]},
                {"id": "b", "executor": "noop", "needs": ["a"]}]}),
            "plan of gen:/steps/0: cycle: gen.a -> gen.b -> gen.a",
        ),
        (
            json!({"steps": [
                {"id": "g1", "needs": ["g2"], "pipeline": [
                    {"id": "a", "executor": "noop"}, {"id": "b", "executor": "noop"}]},
                {"id": "g2", "needs": ["g1"], "parallel": [{"id": "c", "executor": "noop"}]}]}),
            "plan of gen:/steps/0/pipeline/0: cycle: gen.a -> gen.b -> gen.c -> gen.a, through groups: \
             group `gen.g2` (holding `gen.c`) needs group `gen.g1` (ending with `gen.b`); \
             group `gen.g1` (holding `gen.a`) needs group `gen.g2` (ending with `gen.c`)",
        ),
        (
            json!({"steps": [{"id": "a", "executor": "noop"}, {"id": "a", "executor": "noop"}]}),
            "plan of gen:/steps/1/id: duplicate id `a`: already used at /steps/0/id",
        ),
        (
            json!({"steps": [{"id": "a", "executor": "noop", "needs": ["nowhere"]}]}),
            "plan of gen:/steps/0/needs/0: unknown step or group `nowhere`",
        ),
        (
            json!({"steps": [{"id": "a", "executor": "noop", "needs": ["report"]}]}),
            "plan of gen:/steps/0/needs/0: cycle: `gen.a` needs `report`, which waits for the plan of `gen`",
        ),
        (
            json!({"steps": (0..6).map(|n| json!({"id": format!("s{n}"), "executor": "noop"})).collect::<Vec<_>>()}),
            "plan of gen:/steps: 6 steps added to the run's 3, more than limits.max_steps (8)",
        ),
        (
            json!({"steps": [{"id": "a", "executor": "nope"}]}),
            "plan of gen:/steps/0/executor: unknown executor `nope`",
        ),
        (
            json!({"steps": [{"id": "a", "executor": "noop", "with": {"output": "${{ steps.zz.output }}"}}]}),
            "plan of gen:/steps/0/with/output: `steps.zz`: no step has the id `zz`",
        ),
        (
            json!({"steps": [], "notes": 1}),
            "plan of gen:/notes: unknown key `notes`",
        ),
        // A key beside `steps` does not hide the steps' own problems, nor the second key.
        (
            json!({"steps": [{"id": "a.b", "executor": "noop"}], "notes": 1, "why": 2}),
            "plan of gen:/notes: unknown key `notes`: a plan is an object `{\"steps\": [...]}`\n\
             plan of gen:/steps/0/id: id `a.b` of a plan may not contain `.`: the run would name \
             it `gen.a.b`, as another planner's plan could; use `-` or `_`\n\
             plan of gen:/why: unknown key `why`",
        ),
        // A plan's ids are told the characters a plan's may hold, without `.` (probe 182 F4).
        (
            json!({"steps": [{"id": "", "executor": "noop"}, {"id": "a b", "executor": "noop"}]}),
            "plan of gen:/steps/0/id: an id may not be empty: name it with A-Z a-z 0-9 _ -\n\
             plan of gen:/steps/1/id: id `a b` may only contain A-Z a-z 0-9 _ -",
        ),
        (json!(["a"]), "plan of gen: a plan is an object"),
        (
            json!(format!("{}{}", "[".repeat(200), "]".repeat(200))),
            "plan of gen: a plan is an object `{\"steps\": [...]}`: the planner printed text that is not JSON (1:128: JSON nested 128 levels deep or more (the most is 127))",
        ),
        (
            json!("{\"steps\": [}\n"),
            "plan of gen: a plan is an object `{\"steps\": [...]}`: the planner printed text that is not JSON (1:12: invalid JSON: expected value); text: \"{\\\"steps\\\": [}\\n\"",
        ),
        (
            json!("Nothing to do, sorry."),
            "plan of gen: a plan is an object `{\"steps\": [...]}`, not a string; text: \"Nothing to do, sorry.\"",
        ),
    ];
    for (output, expected) in cases {
        let mut plan = run_plan();
        let error = grow(&mut plan, "gen", output).unwrap_err();
        assert!(error.starts_with(expected), "{error}\nexpected: {expected}");
        assert_eq!(plan.steps().len(), 3, "nothing was added: {error}");
        assert_eq!(plan.graph().node_count(), 3);
        assert_eq!(deps(&plan, "report"), ["gen"]);
    }
}

/// The places of the problems `error` names.
fn places(error: &LoadError) -> Vec<String> {
    (error.problems.iter())
        .map(|problem| problem.place.to_string())
        .collect()
}

#[test]
fn a_plan_reports_every_problem_a_file_of_its_steps_would() {
    // What only compiling finds (unknown `needs`, cycles, unordered reads) beside what the
    // checks before it find. The run holds 3 steps of at most 8; the file, at most 5.
    let steps =
        |count: usize| (0..count).map(|n| json!({"id": format!("s{n}"), "executor": "noop"}));
    let cases = [
        json!([{"id": "x", "executor": "noop", "needs": ["nowhere"]}, {"id": "y", "executor": "nope"}]),
        json!([{"id": "x", "executor": "noop", "needs": ["nowhere"], "when": "1 +", "timeout": "5 parsecs"}]),
        json!([{"id": "x", "executor": "noop", "needs": ["nowhere"]}, {"id": "x", "executor": "noop"}]),
        json!([{"id": "x", "executor": "noop", "needs": ["y"]},
               {"id": "y", "executor": "noop", "needs": ["x"], "timeout": "0s"}]),
        json!([{"id": "x", "executor": "noop"},
               {"id": "y", "executor": "noop", "timeout": "0s", "with": {"output": "${{ steps.x.output }}"}}]),
        json!(
            steps(6)
                .chain([json!({"id": "x", "executor": "noop", "needs": ["nowhere"]})])
                .collect::<Vec<_>>()
        ),
    ];
    let executors = accepting_anything(&["noop"]);
    for steps in cases {
        let file = json!({"name": "f", "limits": {"max_steps": 5}, "steps": steps});
        let file = load_str(&file.to_string(), "f.json", &executors).unwrap_err();
        assert!(places(&file).len() >= 2, "{file}");
        let mut plan = run_plan();
        let output = json!({"steps": steps});
        let error = load_plan(&output, &mut plan, 1, &executors).unwrap_err();
        assert_eq!(
            places(&error),
            places(&file),
            "{error}\nthe file's:\n{file}"
        );
        assert_eq!(plan.graph().node_count(), 3, "nothing was added: {error}");
    }
}

#[test]
fn a_plan_refused_for_an_id_in_force_leaves_the_run_as_it_was() {
    let mut plan = run_plan();
    let plan_a = json!({"steps": [{"id": "a", "executor": "noop"}]});
    assert_eq!(grow(&mut plan, "gen", plan_a).unwrap(), ["gen.a"]);
    // It compiles, for the problems compiling finds: then the run's `gen.a` stays.
    let again = json!({"steps": [
        {"id": "a", "executor": "noop"}, {"id": "b", "executor": "nope"}]});
    let error = grow(&mut plan, "gen", again).unwrap_err();
    assert!(
        error.contains("/steps/0/id: duplicate id `gen.a`"),
        "{error}"
    );
    assert!(
        error.contains("/steps/1/executor: unknown executor"),
        "{error}"
    );
    assert_eq!(plan.index_of("gen.a"), Some(3));
    assert_eq!(plan.graph().node_count(), 4);
    assert_eq!(deps(&plan, "report"), ["gen", "gen.a"]);
}

#[test]
fn a_plan_refused_after_compiling_leaves_room_for_the_next() {
    let mut plan = run_plan();
    // `b` reads `a`, which runs side by side with it: refused after the nodes were compiled.
    let unordered = json!({"steps": [
        {"id": "a", "executor": "noop"},
        {"id": "b", "executor": "noop", "with": {"output": "${{ steps.a.output }}"}}]});
    let error = grow(&mut plan, "gen", unordered).unwrap_err();
    assert!(
        error.contains("`steps.a`: `b` does not wait for `a`"),
        "{error}"
    );
    assert_eq!(plan.graph().node_count(), 3);
    let valid = json!({"steps": [{"id": "a", "executor": "noop"}]});
    assert_eq!(grow(&mut plan, "gen", valid).unwrap(), ["gen.a"]);
    assert_eq!(plan.index_of("gen.a"), Some(3));
    assert_eq!(deps(&plan, "report"), ["gen", "gen.a"]);
}

#[test]
fn ids_never_collide_across_plans_or_with_the_files_steps() {
    // `gen` adding `a.b` would name `gen.a.b`, as `gen.a` adding `b` does.
    let mut plan = run_plan();
    let error = grow(
        &mut plan,
        "gen",
        json!({"steps": [{"id": "a.b", "executor": "noop"}]}),
    );
    let error = error.unwrap_err();
    assert!(
        error.contains("/steps/0/id: id `a.b` of a plan may not contain `.`"),
        "{error}"
    );
    // Only the planner's own earlier plan in force can hold its ids.
    let plan_a = || json!({"steps": [{"id": "a", "executor": "noop"}]});
    assert_eq!(grow(&mut plan, "gen", plan_a()).unwrap(), ["gen.a"]);
    let error = grow(&mut plan, "gen", plan_a()).unwrap_err();
    assert!(
        error.contains("`gen.a`: an earlier plan of `gen` in force added it"),
        "{error}"
    );
    // A file's own step may not take a name its planner's plan could give.
    let workflow = json!({"name": "t", "steps": [
        {"id": "gen", "executor": "noop", "planner": true},
        {"id": "gen.fix", "executor": "noop"},
        {"id": "general.x", "executor": "noop"}
    ]});
    let error = load_str(
        &workflow.to_string(),
        "t.json",
        &accepting_anything(&["noop"]),
    );
    let error = error.unwrap_err().to_string();
    assert!(
        error.contains("/steps/1/id: id `gen.fix` starts with `gen.`"),
        "{error}"
    );
    assert!(!error.contains("general.x"), "{error}");
}

#[test]
fn a_cycle_through_the_planners_dependent_names_it_once_or_on_the_way() {
    let workflow = json!({"name": "t", "steps": [{"pipeline": [
        {"id": "gen", "executor": "noop", "planner": true},
        {"id": "report", "executor": "noop"},
        {"id": "end", "executor": "noop"}
    ]}]});
    let noop = accepting_anything(&["noop"]);
    let mut plan = load_str(&workflow.to_string(), "t.json", &noop).unwrap();
    let needing = |id: &str| json!({"steps": [{"id": "a", "executor": "noop", "needs": [id]}]});
    assert_eq!(
        grow(&mut plan, "gen", needing("report")).unwrap_err(),
        "plan of gen:/steps/0/needs/0: cycle: `gen.a` needs `report`, which waits for the plan of `gen`"
    );
    assert_eq!(
        grow(&mut plan, "gen", needing("end")).unwrap_err(),
        "plan of gen:/steps/0/needs/0: cycle: `gen.a` needs `end`, which waits for `report`, which waits for the plan of `gen`"
    );
}

/// The hint for an unknown need of a plan offers no step or group that waits for the
/// planner, which would be a cycle, and the planner by its full id for its own short one
/// (probe 205 F3: `q` of the plan of `p.q` was offered `j`, which needs `p`; `joi`, `join`).
#[test]
fn a_plans_hint_offers_no_step_that_waits_for_its_planner() {
    let workflow = json!({"name": "t", "steps": [
        {"id": "p", "executor": "noop", "planner": true},
        {"id": "join", "executor": "noop", "needs": ["p"]}
    ]});
    let noop = accepting_anything(&["noop"]);
    let mut plan = load_str(&workflow.to_string(), "t.json", &noop).unwrap();
    let needing = |id: &str| json!({"steps": [{"id": "z", "executor": "noop", "needs": [id]}]});
    assert_eq!(
        grow(&mut plan, "p", needing("joi")).unwrap_err(),
        "plan of p:/steps/0/needs/0: unknown step or group `joi`"
    );
    let inner = json!({"steps": [{"id": "q", "executor": "noop", "planner": true}]});
    assert_eq!(grow(&mut plan, "p", inner).unwrap(), ["p.q"]);
    assert_eq!(
        grow(&mut plan, "p.q", needing("q")).unwrap_err(),
        "plan of p.q:/steps/0/needs/0: unknown step or group `q` (did you mean `p.q`?)"
    );
}

/// A cycle through a group of the file is named by the group, as the plan's need names it,
/// at that need (probe 205 F1: it named the group's last step, at the step's `needs`).
#[test]
fn a_cycle_through_a_group_of_the_file_names_the_group_as_written() {
    let workflow = json!({"name": "t", "steps": [
        {"id": "grp", "pipeline": [
            {"id": "p", "executor": "noop", "planner": true},
            {"id": "after", "executor": "noop"}
        ]},
        {"id": "later", "needs": ["grp"], "pipeline": [
            {"id": "k1", "executor": "noop"},
            {"id": "k2", "executor": "noop"}
        ]}
    ]});
    let noop = accepting_anything(&["noop"]);
    let mut plan = load_str(&workflow.to_string(), "t.json", &noop).unwrap();
    let plan_of = |needs: Value| {
        json!({"steps": [
            {"id": "a", "executor": "noop"},
            {"id": "b", "executor": "noop", "needs": needs}
        ]})
    };
    assert_eq!(
        grow(&mut plan, "p", plan_of(json!(["a", "grp"]))).unwrap_err(),
        "plan of p:/steps/1/needs/1: cycle: `p.b` needs `grp`, which waits for the plan of `p`"
    );
    assert_eq!(
        grow(&mut plan, "p", plan_of(json!(["a", "later"]))).unwrap_err(),
        "plan of p:/steps/1/needs/1: cycle: `p.b` needs `later`, which waits for `after`, which waits for the plan of `p`"
    );
}

/// A plan's step needing a group that holds its planner, or a planner whose plan holds it,
/// would wait for its own plan, as every other step needing them does: a cycle (probe 65 F1:
/// the need was cut down to the planner and the step ran beside its plan). Needing the
/// planner itself is only coming after it.
#[test]
fn a_plan_needing_a_group_or_planner_that_waits_for_its_planner_is_a_cycle() {
    let workflow = json!({"name": "t", "steps": [
        {"id": "grp", "parallel": [
            {"id": "outer", "executor": "noop", "planner": true},
            {"id": "other", "executor": "noop"}
        ]},
        {"id": "report", "executor": "noop", "needs": ["grp"]}
    ]});
    let noop = accepting_anything(&["noop"]);
    let mut plan = load_str(&workflow.to_string(), "t.json", &noop).unwrap();
    let needing = |id: &str| json!({"steps": [{"id": "a", "executor": "noop", "needs": [id]}]});
    assert_eq!(
        grow(&mut plan, "outer", needing("grp")).unwrap_err(),
        "plan of outer:/steps/0/needs/0: cycle: `grp` waits for the plan of `outer`, which this step is in"
    );
    assert_eq!(
        grow(&mut plan, "outer", needing("outer")).unwrap(),
        ["outer.a"]
    );
    let inner = json!({"steps": [{"id": "gen", "executor": "noop", "planner": true}]});
    plan.shrink(plan.index_of("outer.a").unwrap()..plan.steps().len());
    assert_eq!(grow(&mut plan, "outer", inner).unwrap(), ["outer.gen"]);
    for need in ["grp", "outer"] {
        assert_eq!(
            grow(&mut plan, "outer.gen", needing(need)).unwrap_err(),
            format!(
                "plan of outer.gen:/steps/0/needs/0: cycle: `{need}` waits for the plan of `outer.gen`, which this step is in"
            )
        );
    }
    assert_eq!(
        grow(&mut plan, "outer.gen", needing("other")).unwrap(),
        ["outer.gen.a"]
    );
    assert_eq!(deps(&plan, "outer.gen.a"), ["other", "outer.gen"]);
}

/// A step a later plan adds that needs a planner which has planned — by its id, through a
/// group holding it, or a planner of its plan — waits for that plan's last steps too, as the
/// planner's dependents did when it planned (probe 52 F1: it ran beside them); a plan taken
/// out again leaves nothing to wait for.
#[test]
fn a_later_plans_step_needing_a_planner_that_planned_waits_for_its_plan() {
    let workflow = json!({"name": "t", "limits": {"max_steps": 20}, "steps": [
        {"id": "g", "parallel": [{"id": "a", "executor": "noop", "planner": true}]},
        {"id": "b", "executor": "noop", "planner": true},
        {"id": "c", "executor": "noop", "planner": true}
    ]});
    let accepting = accepting_anything(&["noop"]);
    let mut plan = load_str(&workflow.to_string(), "t.json", &accepting).unwrap();
    let inner = json!({"steps": [{"id": "inner", "executor": "noop", "planner": true}]});
    assert_eq!(grow(&mut plan, "a", inner).unwrap(), ["a.inner"]);
    let slow = json!({"steps": [{"id": "slow", "executor": "noop"}]});
    assert_eq!(grow(&mut plan, "a.inner", slow).unwrap(), ["a.inner.slow"]);
    // `c`'s plan is refused once compiled (`r` reads `q` beside it): taken out again.
    let unordered = json!({"steps": [{"id": "q", "executor": "noop"},
        {"id": "r", "executor": "noop", "with": {"output": "${{ steps.q.output }}"}}]});
    assert!(grow(&mut plan, "c", unordered).is_err());
    let needing = |need: &str| json!({"id": format!("on_{}", need.replace('.', "_")), "executor": "noop", "needs": [need]});
    let later = json!({"steps": [needing("a"), needing("g"), needing("a.inner"), needing("c")]});
    assert_eq!(
        grow(&mut plan, "b", later).unwrap(),
        ["b.on_a", "b.on_g", "b.on_a_inner", "b.on_c"]
    );
    let whole = ["a", "a.inner", "a.inner.slow", "b"];
    assert_eq!(deps(&plan, "b.on_a"), whole);
    assert_eq!(deps(&plan, "b.on_g"), whole);
    assert_eq!(
        deps(&plan, "b.on_a_inner"),
        ["a.inner", "a.inner.slow", "b"]
    );
    assert_eq!(deps(&plan, "b.on_c"), ["b", "c"]);
}

#[test]
fn a_plan_linking_its_many_last_steps_to_the_planners_many_dependents_is_refused() {
    let steps = |prefix: &str| -> Vec<Value> {
        (0..1001)
            .map(|i| json!({"id": format!("{prefix}{i}"), "executor": "noop"}))
            .collect()
    };
    let workflow = json!({"name": "t", "steps": [{"pipeline": [
        {"id": "gen", "executor": "noop", "planner": true},
        {"parallel": steps("after")}
    ]}]});
    let accepting = accepting_anything(&["noop"]);
    let mut plan = load_str(&workflow.to_string(), "t.json", &accepting).unwrap();
    let refused = grow(&mut plan, "gen", json!({"steps": steps("p")})).unwrap_err();
    assert!(
        refused.contains(
            "/steps: each of the 1001 steps that wait for `gen` waits for each of the plan's \
             1001 last steps: 1002001 dependencies, 1004003 in the graph with them, past the \
             1000000 a graph of 2003 steps may have (16 a step, or 1000000 in all); end the \
             plan with one step"
        ),
        "{refused}"
    );
    assert_eq!(plan.steps().len(), 1002, "the plan was left as it was");
    let ended = json!({"steps": [{"pipeline": [
        {"parallel": steps("p")},
        {"id": "end", "executor": "noop"}
    ]}]});
    assert_eq!(
        grow(&mut plan, "gen", ended).map(|added| added.len()),
        Ok(1002)
    );
}
