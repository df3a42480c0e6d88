//! `for_each` items through the real binary: committed one by one, so that after kill -9
//! only the items not yet succeeded run again; never more than `max_parallel` at once.

use std::path::Path;
use std::process::Stdio;

use serde_json::{Value, json};

use super::orphans::wait_gone;
use super::scratch::{Scratch, open_gate};
use crate::finish;

/// The rows `sql` reads from the database at `db` (`None` while it cannot be opened).
fn query<T>(db: &Path, sql: &'static str) -> Option<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db)
            .read_only(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.ok()?;
        let rows = sqlx::query_as::<_, T>(sql).fetch_all(&pool).await;
        pool.close().await;
        rows.ok()
    })
}

/// How many items succeeded, as committed in the database at `db` (0 while it has none).
fn committed_items(db: &Path) -> i64 {
    let sql = "SELECT count(*) FROM items WHERE state = 'succeeded'";
    query::<(i64,)>(db, sql).map_or(0, |rows| rows[0].0)
}

/// The committed items of the one run in the database at `db`, in item order, as
/// `(index, state, attempt, error)`.
fn items(db: &Path) -> Vec<(i64, String, i64, Option<String>)> {
    let sql = "SELECT idx, state, attempt, error FROM items ORDER BY idx";
    query(db, sql).expect("the database holds the run's items")
}

fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.count())
}

/// The largest number of items that ran at once, as the items counted themselves.
fn peak(scratch: &Scratch) -> usize {
    let peaks = std::fs::read_to_string(scratch.dir.path().join("peaks")).unwrap_or_default();
    peaks
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .max()
        .unwrap_or(0)
}

#[test]
fn after_kill_9_only_items_not_yet_succeeded_run_again_in_order_four_at_a_time() {
    let scratch = Scratch::new();
    for dir in ["live", "held"] {
        std::fs::create_dir(scratch.dir.path().join(dir)).unwrap();
    }
    // Items 0-11 run straight through; 12 and later wait for the gate.
    let script = r#"i=$CAIRN_ITEM_INDEX
echo $$ > "$DIR/live/$i"; ls "$DIR/live" | wc -l >> "$DIR/peaks"
echo run >> "$MARKS/item$i"
if [ "$i" -ge 12 ]; then
  touch "$DIR/held/$i"; while [ ! -e "$DIR/open" ]; do sleep 0.02; done
fi
rm "$DIR/live/$i"; echo "{\"i\": $i}""#;
    let items: Vec<usize> = (0..24).collect();
    let workflow = json!({"name": "items", "steps": [
        {"id": "each", "executor": "process", "for_each": format!("${{{{ {items:?} }}}}"),
         "max_parallel": 4,
         "with": {"command": ["sh", "-c", script],
                  "env": {"DIR": scratch.dir.path(), "MARKS": scratch.marks()}}}
    ]});
    let file = scratch.write("items.json", &workflow);
    let mut child = scratch
        .command(&["run", file.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let held = scratch.dir.path().join("held");
    scratch.wait_for_show(&mut child, |_| {
        entries(&held) == 4 && committed_items(&scratch.db()) == 12
    });
    child.kill().unwrap();
    let _ = child.wait();
    let first_peak = peak(&scratch);
    assert!(first_peak <= 4, "{first_peak} items ran at once");

    // The killed engine's reaper kills its held items; once they are gone, the run resumes
    // with the gate open.
    let live = scratch.dir.path().join("live");
    for entry in std::fs::read_dir(&live).unwrap() {
        let path = entry.unwrap().path();
        let pid = std::fs::read_to_string(&path).unwrap();
        wait_gone(pid.trim().parse().unwrap(), crate::HANG);
        std::fs::remove_file(path).unwrap();
    }
    scratch.open_gate();
    std::fs::remove_file(scratch.dir.path().join("peaks")).unwrap();
    let runs = scratch.json(&["runs", "--json"]);
    let id = runs[0]["id"].as_str().unwrap();
    let resumed = scratch.cairn(&["resume", id]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(
        peak(&scratch) <= 4,
        "{} items ran at once after the resume",
        peak(&scratch)
    );

    let show = scratch.json(&["show", id, "--json"]);
    let expected: Vec<Value> = (0..24).map(|i| json!({"i": i})).collect();
    assert_eq!(
        show["steps"][0]["output"],
        json!(expected),
        "outputs in item order"
    );
    let runs = scratch.executions();
    for i in 0..24 {
        let expected = if (12..16).contains(&i) { 2 } else { 1 };
        assert_eq!(runs[&format!("item{i}")], expected, "item {i}: {runs:?}");
    }
}

#[test]
fn failed_items_fail_the_step_after_every_item_ended_naming_them() {
    let scratch = Scratch::new();
    let script =
        "echo run >> \"$MARKS/item$CAIRN_ITEM_INDEX\"; [ $((CAIRN_ITEM_INDEX % 3)) -ne 1 ]";
    let workflow = json!({"name": "items", "steps": [
        {"id": "each", "executor": "process", "for_each": "${{ [0, 1, 2, 3, 4, 5] }}",
         "with": {"command": ["sh", "-c", script], "env": {"MARKS": scratch.marks()}}}
    ]});
    let file = scratch.write("failing.json", &workflow);
    let id = scratch.run(&file, &[], 1);
    let show = scratch.json(&["show", &id, "--json"]);
    let error = show["steps"][0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("exit_code: 2 of 6 items failed (1, 4): item 1:"),
        "{error}"
    );
    assert_eq!(scratch.executions().len(), 6, "every item ran");
    // `show` lists the items inside their step: each with its state, in JSON, counted in text.
    let items: Vec<(u64, &str)> = (show["steps"][0]["items"].as_array().unwrap().iter())
        .map(|item| {
            (
                item["index"].as_u64().unwrap(),
                item["state"].as_str().unwrap(),
            )
        })
        .collect();
    let states = [
        "succeeded",
        "failed",
        "succeeded",
        "succeeded",
        "failed",
        "succeeded",
    ];
    assert_eq!(
        items,
        states
            .into_iter()
            .enumerate()
            .map(|(i, s)| (i as u64, s))
            .collect::<Vec<_>>()
    );
    // A failed item's error comes with its class, as a step's does (probe 91 F2).
    let failed = &show["steps"][0]["items"][1];
    assert_eq!(failed["error_class"], "exit_code", "{failed}");
    assert!(show["steps"][0]["items"][0].get("error_class").is_none());
    let text = scratch.cairn(&["show", &id]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("items: 4 succeeded, 2 failed\n"), "{text}");
}

#[test]
fn a_retry_from_a_succeeded_for_each_step_runs_its_items_as_their_next_attempts() {
    let scratch = Scratch::new();
    let marks = scratch.marks();
    let record =
        "echo \"$CAIRN_ATTEMPT $CAIRN_IDEMPOTENCY_KEY\" >> \"$MARKS/item$CAIRN_ITEM_INDEX\"";
    let workflow = json!({"name": "items", "steps": [{"pipeline": [
        {"id": "each", "executor": "process", "for_each": "${{ [0, 1] }}",
         "with": {"command": ["sh", "-c", record], "env": {"MARKS": marks}}},
        {"id": "then", "executor": "process", "with": {"command": ["false"]}}
    ]}]});
    let file = scratch.write("redriven.json", &workflow);
    let id = scratch.run(&file, &[], 1);
    for _ in 0..2 {
        assert_eq!(
            scratch
                .cairn(&["retry", &id, "--from", "each"])
                .status
                .code(),
            Some(1)
        );
    }
    for item in 0..2 {
        let runs = std::fs::read_to_string(marks.join(format!("item{item}"))).unwrap();
        let attempts: Vec<&str> = runs
            .lines()
            .map(|line| line.split(' ').next().unwrap())
            .collect();
        assert_eq!(attempts, ["1", "2", "3"], "item {item}: {runs}");
        let keys: std::collections::BTreeSet<&str> = runs
            .lines()
            .map(|line| line.split(' ').nth(1).unwrap())
            .collect();
        assert_eq!(keys.len(), 1, "one idempotency key across attempts: {runs}");
    }
}

/// One `for_each` step of five items, one at a time: each writes `index:attempt` to `ran`,
/// leaves `held`, then waits for the file `open`; the run has `limits`.
fn held_items(scratch: &Scratch, limits: Value) -> std::path::PathBuf {
    let item = "echo \"$CAIRN_ITEM_INDEX:$CAIRN_ATTEMPT\" >> \"$DIR/ran\"; \
        touch \"$DIR/held\"; while [ ! -e \"$DIR/open\" ]; do sleep 0.02; done";
    scratch.write(
        "held.json",
        &json!({"name": "halt", "limits": limits, "steps": [{
            "id": "each", "executor": "process", "for_each": "${{ [0, 1, 2, 3, 4] }}",
            "max_parallel": 1,
            "with": {"command": ["sh", "-c", item], "env": {"DIR": scratch.dir.path()}}
        }]}),
    )
}

/// Runs [`held_items`]' `workflow` and kills its engine (kill -9) while an item waits: the
/// run's id.
fn killed_while_held(scratch: &Scratch, workflow: &std::path::Path) -> String {
    let mut child = scratch.spawn_logged(workflow);
    let held = scratch.dir.path().join("held");
    let show = scratch.wait_for_show(&mut child, |_| held.exists());
    child.kill().unwrap();
    let _ = child.wait();
    show["id"].as_str().unwrap().to_owned()
}

/// The items that ran, in order, as `index:attempt`.
fn ran(scratch: &Scratch) -> Vec<String> {
    let text = std::fs::read_to_string(scratch.dir.path().join("ran")).unwrap_or_default();
    text.lines().map(str::to_owned).collect()
}

/// Item `index` of the one step of `show` (`cairn show --json`): its state and attempt, if
/// it is recorded.
fn item_of(show: &Value, index: u64) -> Option<(String, u64)> {
    let items = show["steps"][0]["items"].as_array()?;
    let item = items.iter().find(|item| item["index"] == index)?;
    Some((
        item["state"].as_str()?.to_owned(),
        item["attempt"].as_u64()?,
    ))
}

#[test]
fn an_item_a_pause_keeps_from_starting_is_pending_at_once_and_a_crash_counts_no_run_of_it() {
    let scratch = Scratch::new();
    let dir = scratch.dir.path();
    // Three items, two at a time: each waits for its own gate (or `open`, all of them).
    let item = "echo \"$CAIRN_ITEM_INDEX:$CAIRN_ATTEMPT\" >> \"$DIR/ran\"; \
        touch \"$DIR/held-$CAIRN_ITEM_INDEX\"; \
        while [ ! -e \"$DIR/open-$CAIRN_ITEM_INDEX\" ] && [ ! -e \"$DIR/open\" ]; do sleep 0.02; done";
    let workflow = scratch.write(
        "gated.json",
        &json!({"name": "gated", "steps": [{
            "id": "each", "executor": "process", "for_each": "${{ [0, 1, 2] }}",
            "max_parallel": 2,
            "with": {"command": ["sh", "-c", item], "env": {"DIR": dir}}
        }]}),
    );
    let mut child = scratch.spawn_logged(&workflow);
    let held = |index: usize| dir.join(format!("held-{index}")).exists();
    let show = scratch.wait_for_show(&mut child, |_| held(0) && held(1));
    let run = show["id"].as_str().unwrap().to_owned();
    assert_eq!(scratch.cairn(&["pause", &run]).status.code(), Some(0));
    // Item 0 ends; the commit of its end, which records item 2's start, finds the pause.
    open_gate(&dir.join("open-0"));
    let show = scratch.wait_for_show(&mut child, |show| {
        let succeeded = item_of(show, 0).is_some_and(|(state, _)| state == "succeeded");
        succeeded && item_of(show, 2).is_none_or(|(state, _)| state != "running")
    });
    assert_eq!(
        item_of(&show, 2).unwrap_or(("pending".into(), 0)),
        ("pending".into(), 0),
        "item 2 never started: it is not shown running while item 1 runs"
    );
    assert_eq!(item_of(&show, 1), Some(("running".into(), 1)));
    // The engine dies while item 1 runs; a person's resume overrules the pause.
    child.kill().unwrap();
    let _ = child.wait();
    scratch.open_gate();
    let resumed = scratch.cairn(&["resume", &run]);
    assert_eq!(resumed.status.code(), Some(0), "{resumed:?}");
    let mut ran = ran(&scratch);
    ran.sort();
    assert_eq!(
        ran,
        ["0:1", "1:1", "1:2", "2:1"],
        "item 1 cut off runs as its next attempt, item 2 as its first"
    );
}

#[test]
fn a_pause_or_the_first_sigterm_starts_no_item_left_and_a_resume_runs_only_those() {
    for (halt, said, state) in [
        ("pause", "pause asked", "paused"),
        ("TERM", "stopping: starting nothing new", "running"),
    ] {
        let scratch = Scratch::new();
        let workflow = held_items(&scratch, json!({}));
        let mut child = scratch.spawn_logged(&workflow);
        let held = scratch.dir.path().join("held");
        let show = scratch.wait_for_show(&mut child, |_| held.exists());
        let run = show["id"].as_str().unwrap().to_owned();
        if halt == "pause" {
            assert_eq!(scratch.cairn(&["pause", &run]).status.code(), Some(0));
        } else {
            let pid = child.id().to_string();
            let term = std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status();
            assert!(term.unwrap().success());
        }
        scratch.wait_logged(&mut child, said);
        scratch.open_gate();
        let output = finish(child, "cairn run");
        assert_eq!(
            output.status.code(),
            Some(3),
            "{halt}: the run stopped unfinished"
        );
        assert_eq!(
            ran(&scratch),
            ["0:1"],
            "{halt}: only the item in flight ran"
        );
        let show = scratch.json(&["show", &run, "--json"]);
        assert_eq!(show["state"], state, "{halt}");
        assert_eq!(
            show["steps"][0]["state"], "ready",
            "{halt}: neither failed nor retried"
        );
        let resumed = scratch.cairn(&["resume", &run]);
        assert_eq!(resumed.status.code(), Some(0), "{halt}: {resumed:?}");
        assert_eq!(
            ran(&scratch),
            ["0:1", "1:1", "2:1", "3:1", "4:1"],
            "{halt}: the items left ran once each, as their first attempt"
        );
    }
}

#[test]
fn items_the_steps_timeout_kept_from_starting_did_not_time_out_and_run_at_the_retry() {
    let scratch = Scratch::new();
    // Item 0 waits for a gate that never opens: each attempt of the step times out in it.
    let item = "echo \"$CAIRN_ITEM_INDEX:$CAIRN_ATTEMPT\" >> \"$DIR/ran\"; \
        if [ \"$CAIRN_ITEM_INDEX\" -eq 0 ]; then \
          while [ ! -e \"$DIR/never\" ]; do sleep 0.02; done; fi";
    let workflow = scratch.write(
        "timeout.json",
        &json!({"name": "timeout", "steps": [{
            "id": "each", "executor": "process", "for_each": "${{ [0, 1, 2] }}",
            "max_parallel": 1, "timeout": "1s",
            "retry": {"max_attempts": 2, "initial_delay": "100ms"},
            "with": {"command": ["sh", "-c", item], "env": {"DIR": scratch.dir.path()}}
        }]}),
    );
    let run = scratch.run(&workflow, &[], 1);
    assert_eq!(
        ran(&scratch),
        ["0:1", "0:2"],
        "only item 0 started, at each attempt"
    );
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["steps"][0]["attempt"], 2, "the step was retried");
    let error = show["steps"][0]["error"].as_str().unwrap();
    assert_eq!(
        error,
        "timeout: 1 of 3 items failed (0): item 0: `sh` timed out; \
         2 of 3 items did not start before the step's timeout"
    );
    let failed = Some("timeout: `sh` timed out".to_owned());
    assert_eq!(
        items(&scratch.db()),
        [
            (0, "failed".to_owned(), 2, failed),
            (1, "pending".to_owned(), 0, None),
            (2, "pending".to_owned(), 0, None)
        ],
        "the items not started neither timed out nor used an attempt"
    );
}

#[test]
fn an_item_whose_with_does_not_render_fails_on_its_own_and_the_others_run() {
    let scratch = Scratch::new();
    let workflow = scratch.write(
        "render.json",
        &json!({"name": "render", "steps": [{
            "id": "each", "executor": "process",
            "for_each": "${{ [{'name': 'a'}, {'nom': 'b'}, {'name': 'c'}] }}",
            "with": {"command": ["sh", "-c", "echo run >> \"$MARKS/$1\"; echo \"\\\"$1\\\"\"",
                                 "x", "${{ item.name }}"],
                     "env": {"MARKS": scratch.marks()}}
        }]}),
    );
    let run = scratch.run(&workflow, &[], 1);
    let ran: Vec<String> = scratch.executions().into_keys().collect();
    assert_eq!(ran, ["a", "c"], "the other items ran");
    let show = scratch.json(&["show", &run, "--json"]);
    let error = show["steps"][0]["error"].as_str().unwrap();
    let why = "`with`: `item.name`: No such key: name";
    assert_eq!(
        error,
        format!("bad_params: 1 of 3 items failed (1): item 1: {why}")
    );
    let rows = items(&scratch.db());
    assert_eq!(
        rows[1],
        (
            1,
            "failed".to_owned(),
            1,
            Some(format!("bad_params: {why}"))
        )
    );
    assert_eq!(
        (&rows[0].1, &rows[2].1),
        (&"succeeded".to_owned(), &"succeeded".to_owned())
    );
}

/// `(index, state, attempt)` of each of `n` items.
fn each_item(n: i64, state: &str, attempt: i64) -> Vec<(i64, String, i64)> {
    (0..n).map(|i| (i, state.to_owned(), attempt)).collect()
}

/// `(index, state, attempt)` of the committed items of the one run at `db`.
fn item_states(db: &Path) -> Vec<(i64, String, i64)> {
    (items(db).into_iter())
        .map(|(index, state, attempt, _)| (index, state, attempt))
        .collect()
}

#[test]
fn no_item_of_a_run_that_timed_out_or_was_cancelled_after_a_crash_is_left_running() {
    // The run's deadline passes while item 0 waits at its gate: the items not started go
    // back to pending, as at a live cancel.
    let scratch = Scratch::new();
    let workflow = held_items(&scratch, json!({"timeout": "1s"}));
    scratch.run(&workflow, &[], 1);
    let mut expected = each_item(5, "pending", 0);
    expected[0] = (0, "cancelled".to_owned(), 1);
    assert_eq!(item_states(&scratch.db()), expected, "timed out");

    // The engine dies while item 0 waits; the cancel is carried out at the takeover: the
    // item recorded running (it may have run) is cancelled; the others, waiting for their
    // turn (`max_parallel: 1`), were never recorded.
    let scratch = Scratch::new();
    let workflow = held_items(&scratch, json!({}));
    let run = &killed_while_held(&scratch, &workflow);
    let cancel = scratch.cairn(&["cancel", run]);
    scratch.open_gate();
    assert_eq!(cancel.status.code(), Some(0), "{cancel:?}");
    assert_eq!(scratch.json(&["show", run, "--json"])["state"], "cancelled");
    assert_eq!(
        item_states(&scratch.db()),
        each_item(1, "cancelled", 1),
        "cancelled after a crash"
    );
}

#[test]
fn a_retry_from_upstream_that_shortens_the_list_skips_the_items_out_of_it() {
    let scratch = Scratch::new();
    let list = scratch.dir.path().join("list");
    std::fs::write(&list, "[0, 1, 2, 3, 4]").unwrap();
    let workflow = scratch.write(
        "shrink.json",
        &json!({"name": "shrink", "steps": [{"pipeline": [
            {"id": "list", "executor": "process", "with": {"command": ["cat", list]}},
            {"id": "each", "executor": "process", "for_each": "${{ steps.list.output }}",
             "with": {"command": ["sh", "-c", "echo ${{ item }}"]}},
            {"id": "then", "executor": "process", "with": {"command": ["false"]}}
        ]}]}),
    );
    let run = scratch.run(&workflow, &[], 1);
    assert_eq!(item_states(&scratch.db()), each_item(5, "succeeded", 1));
    std::fs::write(&list, "[7, 8]").unwrap();
    let retried = scratch.cairn(&["retry", &run, "--from", "list"]);
    assert_eq!(retried.status.code(), Some(1), "{retried:?}");
    let show = scratch.json(&["show", &run, "--json"]);
    assert_eq!(show["steps"][1]["output"], json!([7, 8]));
    let mut expected = each_item(2, "succeeded", 2);
    expected.extend((2..5).map(|i| (i, "skipped".to_owned(), 1)));
    assert_eq!(item_states(&scratch.db()), expected);
}

#[test]
fn an_item_a_crash_cut_off_is_pending_again_in_a_run_paused_after_it_and_its_attempt_counts() {
    let scratch = Scratch::new();
    let workflow = held_items(&scratch, json!({}));
    let run = &killed_while_held(&scratch, &workflow);
    // No engine drives the run: the pause is carried out at once, at a takeover.
    let pause = scratch.cairn(&["pause", run]);
    assert_eq!(pause.status.code(), Some(0), "{pause:?}");
    let show = scratch.json(&["show", run, "--json"]);
    assert_eq!(show["state"], "paused");
    assert_eq!(show["steps"][0]["state"], "ready");
    assert_eq!(
        item_states(&scratch.db()),
        each_item(1, "pending", 1),
        "no item of a paused run claims to run, and those waiting for their turn never did"
    );

    scratch.open_gate();
    let resumed = scratch.cairn(&["resume", run]);
    assert_eq!(resumed.status.code(), Some(0), "{resumed:?}");
    assert_eq!(
        ran(&scratch),
        ["0:1", "0:2", "1:1", "2:1", "3:1", "4:1"],
        "the item cut off runs as its next attempt, those that never started as their first"
    );
    let mut ended = each_item(5, "succeeded", 1);
    ended[0].2 = 2;
    assert_eq!(item_states(&scratch.db()), ended);
}

#[test]
fn items_run_one_at_a_time_under_a_cost_budget_each_see_what_those_before_spent() {
    let scratch = Scratch::new();
    let (budget, cost) = (0.03, 0.01358415); // what one answer of the fake claude costs
    let policy = scratch.write("policy.json", &json!({"budgets": {"cost_usd": budget}}));
    let calls = scratch.dir.path().join("calls");
    let claude = format!("{}/examples/agents/claude", env!("CARGO_MANIFEST_DIR"));
    let workflow = scratch.write(
        "wf.json",
        &json!({"name": "ask", "steps": [{
            "id": "ask", "executor": "agent", "for_each": "${{ [0, 1, 2, 3, 4, 5] }}",
            "max_parallel": 1,
            "with": {"cli": "claude", "program": claude, "prompt": "item ${{ item }}",
                     "env": {"FAKE_AGENT_CALLS": calls}}}]}),
    );
    let run = scratch.run(&workflow, &["--policy", policy.to_str().unwrap()], 1);
    let show = scratch.json(&["show", &run, "--json"]);
    // $0, $0.0136 and $0.0272 spent as items 0, 1 and 2 start; item 3 would pass $0.03.
    let step = &show["steps"][0];
    assert_eq!(step["state"], "denied", "{show}");
    let error = step["error"].as_str().unwrap();
    assert!(error.starts_with("denied: item 3: "), "{error}");
    assert!(error.contains("budget.cost_usd"), "{error}");
    let spent = show["usage"]["cost_usd"].as_f64().unwrap();
    assert!((spent - 3.0 * cost).abs() < 1e-9, "{show}");
    assert!(
        spent <= budget + cost,
        "past the budget and one item: {spent}"
    );
    // Each item was told what was left at its own start.
    let told: Vec<f64> = (std::fs::read_to_string(&calls).unwrap().lines())
        .map(|line| line.strip_prefix("call ").unwrap().parse().unwrap())
        .collect();
    assert_eq!(told.len(), 3, "{told:?}");
    for (before, told) in told.iter().enumerate() {
        let left = budget - before as f64 * cost;
        assert!(
            (told - left).abs() < 1e-4,
            "item {before} told {told}, not {left}"
        );
    }
}
