//! Durations at load: units, the 100-year bound, and retry delays that contradict each
//! other (defaults included).

use super::*;

#[test]
fn a_duration_with_a_unit_humantime_lacks_is_refused_at_load() {
    let found = problems(
        r#"{"name": "x", "steps": [
            {"id": "a", "executor": "shell", "with": {"command": ["x"], "kill_grace": "5 parsecs"}},
            {"id": "b", "executor": "noop", "timeout": "2 fortnights"}
        ]}"#,
    );
    assert_starts(
        &found,
        &[
            "w.json:/steps/0/with/kill_grace: ",
            "w.json:/steps/1/timeout: ",
        ],
    );
}

#[test]
fn a_duration_over_a_hundred_years_is_refused_in_with_as_in_a_step_key() {
    let found = problems(
        r#"{"name": "x", "steps": [
            {"id": "a", "executor": "shell", "with": {"command": ["x"], "kill_grace": "200y"},
             "fallbacks": [{"kill_grace": "101y"}, {"kill_grace": "${{ input.grace }}"}]},
            {"id": "b", "executor": "shell", "with": {"command": ["x"], "kill_grace": "100y"},
             "timeout": "101y"}
        ]}"#,
    );
    assert_starts(
        &found,
        &[
            "w.json:/steps/0/fallbacks/0/kill_grace: bad duration \"101y\": longer than 100 years",
            "w.json:/steps/0/with/kill_grace: bad duration \"200y\": longer than 100 years",
            "w.json:/steps/1/timeout: ",
        ],
    );
    assert!(found[2].contains("longer than 100 years"), "{found:?}");
}

#[test]
fn a_zero_max_delay_or_one_shorter_than_the_initial_delay_is_refused_defaults_too() {
    let retry = |retry: &str| format!(r#"{{"max_attempts": 3{retry}}}"#);
    let found = problems(&format!(
        r#"{{"name": "r", "defaults": {{"retry": {}}}, "steps": [
            {{"id": "a", "executor": "noop", "retry": {}}},
            {{"id": "b", "executor": "noop", "retry": {}}},
            {{"id": "c", "executor": "noop", "retry": {}}}]}}"#,
        retry(r#", "max_delay": "0s""#),
        retry(r#", "max_delay": "500ms""#),
        retry(r#", "initial_delay": "5m""#),
        retry(r#", "initial_delay": "0s", "max_delay": "0s""#),
    ));
    assert_eq!(
        found,
        [
            "w.json:/defaults/retry/max_delay: a max_delay of 0 would cut every delay to none: for retries at once, set initial_delay to \"0s\" and leave max_delay out",
            "w.json:/steps/0/retry/max_delay: initial_delay (1s, its default: set it too) is longer than max_delay (500ms)",
            "w.json:/steps/1/retry/initial_delay: initial_delay (5m) is longer than max_delay (1m, its default: set it too)",
            "w.json:/steps/2/retry/max_delay: a max_delay of 0 would cut every delay to none: for retries at once, set initial_delay to \"0s\" and leave max_delay out",
        ]
    );
    // Delays within their defaults, or a first retry at once, are fine.
    let taken = [
        r#", "max_delay": "1s""#,
        r#", "initial_delay": "1m""#,
        r#", "initial_delay": "0s""#,
        r#", "initial_delay": "0s", "max_delay": "1ms""#,
    ];
    for taken in taken {
        let workflow = format!(
            r#"{{"name": "r", "steps": [{{"id": "a", "executor": "noop", "retry": {}}}]}}"#,
            retry(taken)
        );
        assert_eq!(problems(&workflow), Vec::<String>::new(), "{taken}");
    }
}
