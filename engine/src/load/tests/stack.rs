//! Deep files: what loads on the caller's stack, what on a big one, and what is too deep.

use super::*;

#[test]
fn deep_nesting_is_refused_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(
        problems(&deep),
        ["w.json:1:128: JSON nested 128 levels deep or more (the most is 127)"]
    );
    let nested_steps = (0..60).fold(
        json!({"id": "leaf", "executor": "noop"}),
        |inner, _| json!({"pipeline": [inner]}),
    );
    let source = json!({"name": "deep", "steps": [nested_steps]}).to_string();
    assert!(problems(&source).is_empty());
}

#[test]
fn a_snapshot_nested_to_the_limit_compiles_on_an_ordinary_stack() {
    // 60 groups deep (128 JSON levels), as a loaded workflow may be; resume compiles its snapshot on whatever
    // thread drives it.
    let mut node = json!({"id": "leaf", "executor": "noop"});
    for level in 0..60 {
        node = json!({"id": format!("g{level}"), "pipeline": [node]});
    }
    let source = json!({"name": "deep", "steps": [node]}).to_string();
    let plan = load_str(&source, "deep.json", &accepting_anything(&["noop"])).unwrap();
    let snapshot = serde_json::to_string(plan.workflow()).unwrap();
    let reloaded = std::thread::Builder::new()
        .stack_size(2 << 20) // a tokio worker thread's stack
        .spawn(move || {
            load_snapshot(&snapshot, "snapshot", &accepting_anything(&["noop"]))
                .map(|plan| plan.steps().len())
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(reloaded, Ok(1));
    let unknown = load_snapshot(
        &serde_json::to_string(plan.workflow()).unwrap(),
        "snapshot",
        &accepting_anything(&["sleep"]),
    );
    assert!(
        unknown
            .unwrap_err()
            .to_string()
            .contains("executor `noop` is not registered (known: sleep)")
    );
    // An engine with no executors says so, not "known: " and nothing (probe 44 F9).
    let none = check_executors(&plan, &Executors::new(), "x").unwrap_err();
    assert!(
        none.to_string()
            .contains("not registered (the engine has no executors: register them"),
        "{none}"
    );
}

#[test]
fn only_a_small_shallow_file_loads_on_the_callers_stack() {
    let nested = |depth: usize| "[".repeat(depth) + &"]".repeat(depth);
    assert!(fits_any_stack(&nested(SHALLOW_FILE)));
    assert!(!fits_any_stack(&nested(SHALLOW_FILE + 1)));
    // Brackets in strings, escaped quotes included, do not nest.
    let quoted = format!(r#"{{"a": "\"{}"}}"#, nested(SHALLOW_FILE + 1));
    assert!(fits_any_stack(&quoted));
    assert!(!fits_any_stack(&format!(
        "{quoted}{}",
        " ".repeat(SMALL_FILE)
    )));
    // Few expressions: `${{` in strings, and `when`s.
    let with = |count: usize| format!(r#"{{"a": "{}", "when": "x"}}"#, "${{ x }}".repeat(count));
    assert!(fits_any_stack(&with(FEW_EXPRESSIONS - 1)));
    assert!(!fits_any_stack(&with(FEW_EXPRESSIONS)));
}

#[test]
fn a_file_at_the_bounds_of_the_callers_stack_loads_on_a_small_one() {
    // Groups nested about as deep as the bound allows (two levels each), the innermost
    // step's `with` filling what is left: loaded on a 2 MiB thread (spawned threads' and
    // tokio workers' default), in whatever build the tests run.
    const GROUPS: usize = (SHALLOW_FILE - 5) / 2;
    let mut with = json!("${{ steps.a.output + 1 }}");
    // root, `steps`, the groups, the step and its `with`.
    for _ in 2 + 2 * GROUPS + 2..SHALLOW_FILE {
        with = json!([with]);
    }
    let mut node = json!({"id": "b", "executor": "noop", "needs": ["a"], "with": {"x": with}});
    for _ in 0..GROUPS {
        node = json!({"pipeline": [node]});
    }
    let source = json!({"name": "bounds", "steps": [{"id": "a", "executor": "noop"}, node]});
    let source = source.to_string();
    assert!(fits_any_stack(&source));
    let deeper = source.replace(r#""x":"#, r#""x":["#).replace("]}}", "]]}}");
    assert!(!fits_any_stack(&deeper), "one level more is past the bound");
    let loaded = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || load_str(&source, "bounds.json", &accepting_anything(&["noop"])).is_ok())
        .unwrap()
        .join()
        .unwrap();
    assert!(loaded);
}
