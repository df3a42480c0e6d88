//! Planner steps through the real binary: added steps that survive kill -9, plans the
//! loader refuses, plan → execute → re-plan rounds, a planner that repeats itself, and an
//! agent as the planner.

use std::process::Stdio;

use serde_json::{Value, json};

use super::scratch::{Scratch, states};
use crate::output_of;

/// A shell step `id` that appends a line to its marker file (`$MARKS/<step id>`), then runs
/// `then`.
fn marking(id: &str, then: &str, scratch: &Scratch) -> Value {
    json!({"id": id, "executor": "process", "with": {
        "command": ["sh", "-c", format!("echo run >> \"$MARKS/$CAIRN_STEP_ID\"; {then}")],
        "env": {"MARKS": scratch.marks(), "DIR": scratch.dir.path()}
    }})
}

/// A planner `id` that marks each run and prints `plan<attempt>.json` from the scratch
/// directory (the same plan each attempt when only `plan1.json` exists).
fn planner(id: &str, scratch: &Scratch, retry: u32) -> Value {
    let print =
        "f=\"$DIR/plan$CAIRN_ATTEMPT.json\"; [ -e \"$f\" ] || f=\"$DIR/plan1.json\"; cat \"$f\"";
    let mut step = marking(id, print, scratch);
    step["planner"] = json!(true);
    step["retry"] = json!({"max_attempts": retry, "backoff": "fixed", "initial_delay": "10ms"});
    step
}

fn write_plan(scratch: &Scratch, attempt: u32, plan: &Value) {
    scratch.write(&format!("plan{attempt}.json"), plan);
}

#[test]
fn added_steps_run_show_and_survive_kill_and_resume_and_the_planner_ran_once() {
    let scratch = Scratch::new();
    let hold = "touch \"$DIR/held\"; while [ ! -e \"$DIR/open\" ]; do sleep 0.02; done";
    let mut c = marking("c", "cat", &scratch);
    c["with"]["input"] = json!("${{ steps.a.output }}");
    write_plan(
        &scratch,
        1,
        &json!({"steps": [
            marking("a", "echo '{\"a\": 1}'", &scratch),
            {"pipeline": [marking("b", hold, &scratch), c], "needs": ["a"]}
        ]}),
    );
    let workflow = json!({"name": "planned", "steps": [
        planner("gen", &scratch, 1),
        {"id": "report", "executor": "noop", "needs": ["gen"], "with": {"output": "done"}}
    ]});
    let file = scratch.write("planned.json", &workflow);
    let mut child = scratch
        .command(&["run", file.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let before = scratch.wait_for_show(&mut child, |show| {
        scratch.dir.path().join("held").exists()
            && states(show)
                .get("gen.b")
                .is_some_and(|state| state == "running")
    });
    child.kill().unwrap();
    let _ = child.wait();
    let before = states(&before);
    assert_eq!(before["gen"], "succeeded");
    assert_eq!(before["gen.a"], "succeeded");
    assert_eq!(before["gen.c"], "pending");
    assert_eq!(before["report"], "pending", "report waits for the plan");

    scratch.open_gate();
    let id = before_id(&scratch);
    let resumed = scratch.cairn(&["resume", &id]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let show = scratch.json(&["show", &id, "--json"]);
    assert_eq!(show["state"], "succeeded");
    let after = states(&show);
    for step in ["gen", "gen.a", "gen.b", "gen.c", "report"] {
        assert_eq!(after[step], "succeeded", "{step}: {after:?}");
    }
    let c = (show["steps"].as_array().unwrap().iter()).find(|step| step["id"] == "gen.c");
    assert_eq!(
        c.unwrap()["output"],
        json!({"a": 1}),
        "a plan's step reads its sibling"
    );
    let runs = scratch.executions();
    assert_eq!(runs["gen"], 1, "the planner ran once: {runs:?}");
    assert_eq!(
        runs["gen.a"], 1,
        "a step that succeeded before the kill: {runs:?}"
    );
    let history = scratch.json(&["history", &id, "--json"]).to_string();
    assert!(history.contains("\"step\":\"gen.c\""), "{history}");
    assert!(
        history.contains("\"added\":[\"gen.a\",\"gen.b\",\"gen.c\"]"),
        "{history}"
    );
    let graph = scratch.cairn(&["graph", "--run", &id]);
    let graph = String::from_utf8_lossy(&graph.stdout);
    assert!(graph.contains("gen.c\\nprocess\\n[succeeded]"), "{graph}");
    assert!(graph.contains("plan of gen"), "{graph}");
    let dag = scratch.json(&["graph", "--run", &id, "--json"]);
    let step = |id: &str| {
        dag["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|step| step["id"] == id)
            .cloned()
    };
    let added = step("gen.c").expect("the added step is in the DAG");
    assert_eq!(added["state"], "succeeded");
    // The plan's last steps only: `gen.a` is not one, `gen.c` waits for it (probe 75 F1).
    assert_eq!(
        step("report").unwrap()["needs"],
        serde_json::json!(["gen", "gen.c"])
    );
}

/// The id of the only run.
fn before_id(scratch: &Scratch) -> String {
    let runs = scratch.json(&["runs", "--json"]);
    runs[0]["id"].as_str().unwrap().to_owned()
}

#[test]
fn invalid_plans_fail_the_planner_with_the_loaders_messages_and_a_retry_uses_a_valid_one() {
    let scratch = Scratch::new();
    let noop = |id: &str, needs: &[&str]| json!({"id": id, "executor": "noop", "needs": needs});
    let invalid = [
        (
            json!({"steps": [noop("x", &["y"]), noop("y", &["x"])]}),
            "plan of gen:/steps/0: cycle: gen.x -> gen.y -> gen.x",
        ),
        (
            json!({"steps": [noop("x", &[]), noop("x", &[])]}),
            "plan of gen:/steps/1/id: duplicate id `x`: already used at /steps/0/id",
        ),
        (
            json!({"steps": [noop("x", &["nowhere"])]}),
            "plan of gen:/steps/0/needs/0: unknown step or group `nowhere`",
        ),
        (
            json!({"steps": [noop("x", &[]), noop("y", &[]), noop("z", &[])]}),
            "plan of gen:/steps: 3 steps added to the run's 2, more than limits.max_steps (4)",
        ),
    ];
    for (attempt, (plan, _)) in invalid.iter().enumerate() {
        write_plan(&scratch, attempt as u32 + 1, plan);
    }
    write_plan(&scratch, 5, &json!({"steps": [noop("x", &[])]}));
    let workflow = json!({"name": "retried", "limits": {"max_steps": 4}, "steps": [
        planner("gen", &scratch, 5),
        {"id": "report", "executor": "noop", "needs": ["gen"]}
    ]});
    let file = scratch.write("retried.json", &workflow);
    let id = scratch.run(&file, &[], 0);
    let history = scratch.json(&["history", &id, "--json"]);
    let errors: Vec<String> = (history.as_array().unwrap().iter())
        .filter(|event| event["to"] == "retry_wait")
        .map(|event| event["detail"]["error"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(errors.len(), 4, "{history}");
    for (error, (_, expected)) in errors.iter().zip(&invalid) {
        assert!(
            error.starts_with(&format!("invalid_plan: {expected}")),
            "{error}\nexpected: {expected}"
        );
    }
    let show = scratch.json(&["show", &id, "--json"]);
    let ids: Vec<&str> = (show["steps"].as_array().unwrap().iter())
        .map(|step| step["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["gen", "report", "gen.x"],
        "only the valid plan added steps"
    );
}

#[test]
fn a_cycle_through_a_plans_groups_names_the_needs_of_the_groups() {
    let scratch = Scratch::new();
    let noop = |id: &str| json!({"id": id, "executor": "noop"});
    let plan = json!({"steps": [
        {"id": "g1", "needs": ["g2"], "pipeline": [noop("a"), noop("b")]},
        {"id": "g2", "needs": ["g1"], "parallel": [noop("c")]}
    ]});
    write_plan(&scratch, 1, &plan);
    let workflow = json!({"name": "cyclic", "steps": [planner("gen", &scratch, 1)]});
    let file = scratch.write("cyclic.json", &workflow);
    let id = scratch.run(&file, &[], 1);
    let show = scratch.json(&["show", &id, "--json"]);
    assert_eq!(
        show["steps"][0]["error"],
        "invalid_plan: plan of gen:/steps/0/pipeline/0: cycle: gen.a -> gen.b -> gen.c -> gen.a, \
         through groups: group `gen.g2` (holding `gen.c`) needs group `gen.g1` (ending with \
         `gen.b`); group `gen.g1` (holding `gen.a`) needs group `gen.g2` (ending with `gen.c`)"
    );
}

#[test]
fn three_rounds_of_plan_execute_replan_complete() {
    let scratch = Scratch::new();
    let script = format!("{}/examples/planners/rounds.sh", env!("CARGO_MANIFEST_DIR"));
    let workflow = json!({"name": "rounds", "steps": [
        {"id": "plan", "executor": "process", "planner": true, "with": {"command": ["sh", script]}},
        {"id": "report", "executor": "noop", "needs": ["plan"], "with": {"output": "done"}}
    ]});
    let file = scratch.write("rounds.json", &workflow);
    let id = scratch.run(&file, &[], 0);
    let show = scratch.json(&["show", &id, "--json"]);
    let works: Vec<&Value> = (show["steps"].as_array().unwrap().iter())
        .filter(|step| step["id"].as_str().unwrap().ends_with("work"))
        .map(|step| &step["output"])
        .collect();
    assert_eq!(
        works,
        [
            &json!({"round": 1}),
            &json!({"round": 2}),
            &json!({"round": 3})
        ]
    );
    assert_eq!(states(&show)["report"], "succeeded");
    assert_eq!(
        states(&show).len(),
        8,
        "three rounds of work and replan, plan, report"
    );
}

#[test]
fn a_planner_repeating_its_plan_is_stopped_as_a_loop() {
    let scratch = Scratch::new();
    // Every plan adds a planner that prints the same plan again.
    let again = planner("again", &scratch, 1);
    write_plan(&scratch, 1, &json!({"steps": [again]}));
    let workflow = json!({"name": "repeats", "stall": {"loop_after": 2, "on_stall": "fail"},
        "steps": [planner("gen", &scratch, 1)]});
    let file = scratch.write("repeats.json", &workflow);
    let id = scratch.run(&file, &[], 1);
    let show = scratch.json(&["show", &id, "--json"]);
    let error = show["error"].as_str().unwrap();
    assert!(
        error.contains(
            "step gen.again.again failed: stalled: looping: this plan was emitted 2 times before"
        ),
        "{error}"
    );
}

#[test]
fn planners_one_plan_adds_that_each_emit_the_same_plan_are_no_loop() {
    let scratch = Scratch::new();
    let check = json!({"steps": [{"id": "chk", "executor": "noop"}]});
    let fan: Vec<Value> = (0..4)
        .map(|i| {
            json!({"id": format!("m{i}"), "executor": "noop", "planner": true,
                "with": {"output": check}})
        })
        .collect();
    let workflow = json!({"name": "fan", "steps": [
        {"id": "gen", "executor": "noop", "planner": true,
         "with": {"output": {"steps": fan}}},
        {"id": "report", "executor": "noop", "needs": ["gen"]}]});
    let file = scratch.write("fan.json", &workflow);
    let id = scratch.run(&file, &[], 0);
    let show = scratch.json(&["show", &id, "--json"]);
    assert_eq!(show["state"], "succeeded", "{show}");
    assert_eq!(states(&show)["gen.m3.chk"], "succeeded", "{show}");
}

#[test]
fn an_agent_planners_text_is_its_plan() {
    let scratch = Scratch::new();
    let plan = json!({"steps": [{"id": "fix", "executor": "noop", "with": {"output": "fixed"}}]});
    let answer = scratch.dir.path().join("answer.txt");
    std::fs::write(&answer, format!("```json\n{plan:#}\n```\n")).unwrap();
    let claude = format!("{}/examples/agents/claude", env!("CARGO_MANIFEST_DIR"));
    let workflow = json!({"name": "agent-plans", "steps": [
        {"id": "plan", "executor": "agent", "planner": true,
         "with": {"cli": "claude", "program": claude, "prompt": "Plan the fix as JSON",
                  "env": {"FAKE_AGENT_TEXT": answer}},
         "output_schema": {"type": "object", "required": ["steps"]}},
        {"id": "report", "executor": "noop", "needs": ["plan"]}
    ]});
    let file = scratch.write("agent.json", &workflow);
    let mut command = scratch.command(&["run", file.to_str().unwrap(), "--json"]);
    command.env_remove("CAIRN_AGENT_TIMEOUT");
    let output = output_of(&mut command, "cairn run");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let id = before_id(&scratch);
    let show = scratch.json(&["show", &id, "--json"]);
    assert_eq!(states(&show)["plan.fix"], "succeeded");
    assert_eq!(
        show["steps"][0]["output"], plan,
        "the planner's output is its plan"
    );
}

#[test]
fn a_retry_from_a_planner_supersedes_its_plan_with_the_one_it_makes_again() {
    let scratch = Scratch::new();
    write_plan(
        &scratch,
        1,
        &json!({"steps": [marking("fix", "exit 1", &scratch), marking("other", "true", &scratch)]}),
    );
    write_plan(
        &scratch,
        2,
        &json!({"steps": [marking("fix", "true", &scratch), marking("extra", "true", &scratch)]}),
    );
    let workflow = json!({"name": "replanned", "steps": [
        planner("gen", &scratch, 1),
        {"id": "report", "executor": "noop", "needs": ["gen"]}
    ]});
    let file = scratch.write("replanned.json", &workflow);
    let id = scratch.run(&file, &[], 1);
    let retried = scratch.cairn(&["retry", &id, "--from", "gen"]);
    assert_eq!(retried.status.code(), Some(0), "{retried:?}");
    let show = scratch.json(&["show", &id, "--json"]);
    let ids: Vec<&str> = (show["steps"].as_array().unwrap().iter())
        .map(|step| step["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["gen", "report", "gen.fix", "gen.extra"],
        "the first plan is gone"
    );
    assert_eq!(show["state"], "succeeded");
    let runs = scratch.executions();
    assert_eq!(runs["gen"], 2);
    assert_eq!(runs["gen.fix"], 2, "once in each plan");
    assert_eq!(runs["gen.other"], 1);
    let history = scratch.json(&["history", &id, "--json"]);
    let events = history.as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|event| event["step"] == "gen.other" && event["to"] == "succeeded"),
        "the history keeps the superseded plan's steps"
    );
    let superseded = (events.iter())
        .find(|event| event["step"] == "gen" && event["to"] == "pending")
        .expect("the planner went back to pending");
    let reason = superseded["detail"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("plan 1 of gen is superseded (2 steps)"),
        "{reason}"
    );
}

#[test]
fn a_retry_that_would_leave_a_plan_needing_superseded_steps_is_refused_and_changes_nothing() {
    let scratch = Scratch::new();
    write_plan(
        &scratch,
        1,
        &json!({"steps": [marking("fix", "touch \"$DIR/fixed\"", &scratch)]}),
    );
    // `late` is no dependent of `gen`: it plans once `gen.fix` ran, a step needing it.
    let late_plan = json!({"steps": [{"id": "use", "executor": "process", "needs": ["gen.fix"],
        "with": {"command": ["false"]}}]});
    let wait = format!("while [ ! -e \"$DIR/fixed\" ]; do sleep 0.02; done; echo '{late_plan}'");
    let mut late = marking("late", &wait, &scratch);
    late["planner"] = json!(true);
    let workflow = json!({"name": "tangled", "steps": [planner("gen", &scratch, 1), late]});
    let file = scratch.write("tangled.json", &workflow);
    let id = scratch.run(&file, &[], 1);
    let before = scratch.json(&["history", &id, "--json"]);
    let retried = scratch.cairn(&["retry", &id, "--from", "gen"]);
    assert_eq!(retried.status.code(), Some(2), "{retried:?}");
    let said = String::from_utf8_lossy(&retried.stderr);
    assert!(
        said.contains(
            "supersedes the plans of gen, and a plan left in force needs their steps: \
             the plan of late:/steps/0/needs/0: unknown step or group `gen.fix`"
        ) && !said.contains("stored workflow")
            && said
                .contains("redrive from a step both planners wait for, or from a step of the plan"),
        "{said}"
    );
    assert_eq!(
        scratch.json(&["history", &id, "--json"]),
        before,
        "nothing changed"
    );
    assert_eq!(scratch.json(&["show", &id, "--json"])["state"], "failed");
}

#[test]
fn a_superseded_plans_for_each_items_count_towards_the_attempts_budget() {
    let scratch = Scratch::new();
    // `fe` runs 4 items, then `bad` fails until `ok` exists: 6 attempts with the planner's.
    write_plan(
        &scratch,
        1,
        &json!({"steps": [
            {"id": "fe", "executor": "noop", "for_each": "${{ [1, 2, 3, 4] }}",
             "with": {"output": "${{ item }}"}},
            {"id": "bad", "executor": "process", "needs": ["fe"],
             "with": {"command": ["sh", "-c", "test -e \"$DIR/ok\""],
                      "env": {"DIR": scratch.dir.path()}}}
        ]}),
    );
    let policy = scratch.write("policy.json", &json!({"budgets": {"attempts": 10}}));
    let workflow = json!({"name": "budgeted", "steps": [planner("gen", &scratch, 1)]});
    let file = scratch.write("budgeted.json", &workflow);
    let id = scratch.run(&file, &["--policy", policy.to_str().unwrap()], 1);
    std::fs::write(scratch.dir.path().join("ok"), "").unwrap();
    // The planner again (7), then its plan's items (8, 9, 10): the fourth is one too many.
    let retried = scratch.cairn(&["retry", &id, "--from", "gen"]);
    assert_eq!(retried.status.code(), Some(1), "{retried:?}");
    let history = scratch.json(&["history", &id, "--json"]);
    let denied = (history.as_array().unwrap().iter())
        .find(|event| event["step"] == "gen.fe" && event["to"] == "denied")
        .expect("the plan's items are denied");
    assert!(
        denied["detail"].to_string().contains("budget.attempts"),
        "{denied}"
    );
    assert_eq!(scratch.json(&["show", &id, "--json"])["state"], "failed");
}

#[test]
fn a_supersession_counts_the_steps_of_the_nested_plans_leaving_with_it() {
    let scratch = Scratch::new();
    let deep = json!({"steps": [{"id": "deep", "executor": "noop"}]});
    let mut more = marking("more", &format!("echo '{deep}'"), &scratch);
    more["planner"] = json!(true);
    write_plan(
        &scratch,
        1,
        &json!({"steps": [more, marking("fix", "exit 1", &scratch)]}),
    );
    let workflow = json!({"name": "nested", "steps": [planner("gen", &scratch, 1)]});
    let file = scratch.write("nested.json", &workflow);
    let id = scratch.run(&file, &[], 1);
    let retried = scratch.cairn(&["retry", &id, "--from", "gen"]);
    assert_eq!(retried.status.code(), Some(1), "{retried:?}");
    let history = scratch.json(&["history", &id, "--json"]);
    let superseded = (history.as_array().unwrap().iter())
        .find(|event| event["step"] == "gen" && event["to"] == "pending")
        .expect("the planner went back to pending");
    let reason = superseded["detail"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("plan 1 of gen is superseded (3 steps)"),
        "gen.more, gen.fix and gen.more.deep leave: {reason}"
    );
}

/// Planners `a` and `b` side by side: `b` plans only once `a`'s plan runs (its step `slow`
/// started, held at the gate), and its step `x` needs `a`, so it waits for `slow` too, and is
/// skipped when `slow` fails (probe 52 F1: it ran beside `slow`, and succeeded).
#[test]
fn a_later_plans_step_needing_a_planner_that_planned_waits_for_its_plan() {
    let scratch = Scratch::new();
    let slow = "touch \"$DIR/slow.started\"; while [ ! -e \"$DIR/open\" ]; do sleep 0.02; done; \
        exit 1";
    let plan_a = json!({"steps": [marking("slow", slow, &scratch)]});
    let mut x = marking("x", "true", &scratch);
    x["needs"] = json!(["a"]);
    scratch.write("plan_a.json", &plan_a);
    scratch.write("plan_b.json", &json!({"steps": [x]}));
    let mut a = marking("a", "cat \"$DIR/plan_a.json\"", &scratch);
    let started = "while [ ! -e \"$DIR/slow.started\" ]; do sleep 0.02; done";
    let mut b = marking(
        "b",
        &format!("{started}; cat \"$DIR/plan_b.json\""),
        &scratch,
    );
    (a["planner"], b["planner"]) = (json!(true), json!(true));
    let workflow = scratch.write("two.json", &json!({"name": "two", "steps": [a, b]}));
    let mut child = scratch.spawn_logged(&workflow);
    scratch.wait_for_show(&mut child, |show| states(show)["b"] == "succeeded");
    scratch.open_gate();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "the run fails with `slow`");
    let show = scratch.json(&["show", &before_id(&scratch), "--json"]);
    let ended = states(&show);
    assert_eq!((&*ended["a.slow"], &*ended["b.x"]), ("failed", "skipped"));
    assert_eq!(scratch.executions().get("b.x"), None, "`b.x` never ran");
}
