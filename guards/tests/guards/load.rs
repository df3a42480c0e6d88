//! Acceptance point 8 (library): a bad policy is refused with the place of each problem.

use std::path::Path;

use cairn_guards::{Policy, PolicyGuard};

fn refused(text: &str) -> String {
    PolicyGuard::from_str(text, Path::new("."), "p.json")
        .unwrap_err()
        .to_string()
}

#[test]
fn a_json_syntax_error_names_line_and_column() {
    assert_eq!(
        refused("{\n  \"mode\": \"audit\",\n}"),
        "p.json:3:1: invalid JSON: trailing comma"
    );
}

#[test]
fn a_key_given_twice_is_refused_not_read_as_its_last_value() {
    assert_eq!(
        refused(r#"{"commands": {"deny": [["touch"]], "deny": []}}"#),
        "p.json:/commands/deny: the object gives the key `deny` twice (the second at line 1, column 36); keep one"
    );
    assert_eq!(
        refused("{\"default\": \"deny\",\n \"default\": \"allow\"}"),
        "p.json:/default: the object gives the key `default` twice (the second at line 2, column 2); keep one"
    );
}

#[test]
fn an_unknown_key_names_the_key_it_likely_meant() {
    assert_eq!(
        refused(r#"{"commands": {"deny": [["rm"]], "alow": [["ls"]]}}"#),
        "p.json:/commands/alow: unknown key `alow` (did you mean `allow`?)"
    );
    assert_eq!(
        refused(r#"{"budget": {}}"#),
        "p.json:/budget: unknown key `budget` (did you mean `budgets`?)"
    );
}

#[test]
fn a_bad_cel_expression_is_refused_at_its_rule() {
    let error = refused(
        r#"{"rules": [{"id": "r", "effect": "deny", "reason": "x", "when": "action.executor =="}]}"#,
    );
    assert!(
        error.starts_with("p.json:/rules/0/when: `action.executor ==`: does not parse"),
        "{error}"
    );
}

#[test]
fn a_bad_duration_is_refused_with_a_hint() {
    assert_eq!(
        refused(r#"{"budgets": {"wall_time": "two hours"}}"#),
        "p.json:/budgets/wall_time: bad duration \"two hours\" (write it like \"90s\", \"5m\" or \"1h 30m\")"
    );
    let error = refused(r#"{"approval": {"timeout": "1h", "on_timeout": "allow"}}"#);
    assert!(
        error.starts_with("p.json:/approval/on_timeout: "),
        "{error}"
    );
}

#[test]
fn a_failing_test_refuses_the_guard_but_not_the_policy() {
    let text = r#"{"commands": {"deny": [["rm"]]}, "tests": [
        {"action": {"executor": "process", "params": {"command": ["ls"]}}, "expect": "allow"},
        {"action": {"executor": "process", "params": {"command": ["rm", "x"]}}, "expect": "allow"}
    ]}"#;
    let error = refused(text);
    assert!(
        error.starts_with("p.json:/tests/1: test fails: expected allow, got deny (commands.deny: "),
        "{error}"
    );
    let policy = Policy::from_str(text, Path::new("."), "p.json").unwrap();
    let failures = policy.run_tests();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].pointer, "/tests/1");
}

#[test]
fn a_test_may_name_the_deciding_rule() {
    let text = r#"{"commands": {"deny": [["rm"]]}, "tests": [
        {"action": {"executor": "process", "params": {"command": ["rm"]}}, "expect": "deny", "rule": "env"}
    ]}"#;
    assert!(refused(text).contains("expected deny by `env`, got deny"));
}

#[test]
fn the_committed_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/policy.schema.json");
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default())
            .unwrap_or_default();
    assert!(
        committed == cairn_guards::schema(),
        "schemas/policy.schema.json is stale: run `cargo run -- schema policy > schemas/policy.schema.json`"
    );
}

#[test]
fn the_example_policies_load_and_pass_their_tests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policies");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let guard = PolicyGuard::load(&path).unwrap_or_else(|error| panic!("{error}"));
        assert!(!guard.policy().tests.is_empty(), "{}", path.display());
        count += 1;
    }
    assert!(count >= 1);
}

#[test]
fn a_rule_that_reads_an_unknown_variable_is_refused_at_its_rule() {
    assert_eq!(
        refused(
            r#"{"rules": [{"id": "u", "effect": "deny", "reason": "x", "when": "foo.bar == 1"}]}"#
        ),
        "p.json:/rules/0/when: `foo` is not a variable a rule can read (it reads only `action` and `run`)"
    );
    // `item` is the action's (`action.item`), not a variable of its own.
    let error = refused(
        r#"{"rules": [{"id": "ok", "effect": "deny", "reason": "x", "when": "action.executor == 'x'"},
                      {"id": "i", "effect": "deny", "reason": "x", "when": "item == 1 || run.id == ''"}]}"#,
    );
    assert!(
        error.starts_with("p.json:/rules/1/when: `item` is not"),
        "{error}"
    );
}

/// A field compared with a literal of a kind it never holds, or looked for in a list whose
/// items are never of its kind: the rule would never decide (probe 51 F2: `action.attempt ==
/// '2'` loaded, and no retry asked for a person; `'rm' in action.commands` denied nothing).
#[test]
fn a_rule_comparing_a_field_with_a_literal_of_another_kind_is_refused() {
    let rules = [
        "action.attempt == '2'",
        "'true' != action.dynamic",
        "action.step in [1, 2]",
        "run.usage.cost_usd == null",
        "action.step == ['deploy']",
        "action.attempt in {'2': 1}",
        "action.?attempt.orValue('2') == '2'",
        "run.?usage.?cost_usd.value() == 'x'",
        "action.commands == 'rm'",
        "'rm' in action.commands",
        "['/etc/passwd'] in action.writes",
        "'rm' in action.?dynamic_commands.orValue([])",
        "action.params == 'x'",
        "run.usage != 0",
        "action.commands.exists(c, c == 'rm')",
        "action.writes.all(w, w in [['x']])",
        "action.commands[0] == 'rm'",
        "action.commands == ['rm', 'victim']",
        "action.commands.exists(c, c.exists(w, w == 1))",
        "action.commands[0][0] == ['rm']",
        "1 in action.params",
        "run.usage.exists(k, k == 1)",
        "action.commands.filter(c, c.size() > 0).exists(c, c == 'rm')",
        "'rm' in action.commands.filter(c, c.size() > 0)",
        "action.commands.map(c, c).exists(c, c == 'rm')",
        "action.commands[?0].orValue([]) == 'rm'",
        "action.writes[?0].orValue('') == 1",
        "action.commands[?0].orValue('') == 'rm'",
        "action.commands[?0].orValue('') in ['rm', 'curl']",
        "action.commands[?0].orValue('none') != 'rm'",
        "action.writes.contains('/etc/passwd')",
        "action.writes[?0].orValue(0) == 1",
        "'rm' in action.commands + action.dynamic_commands",
        "(action.commands + []).exists(c, c == 'rm')",
        "(action.commands.size() > 0 ? action.commands[0] : ['']) == 'rm'",
        "(true ? action.commands : []).exists(c, c == 'rm')",
        "1 in action.commands[?0].orValue([''])",
    ];
    for (when, said) in rules.iter().zip([
        "`action.attempt` is always a number, never a string: this `==` is false",
        "`action.dynamic` is always a boolean, never a string: this `!=` is true",
        "`action.step` is always a string, never a number: this `in` is false",
        "`run.usage.cost_usd` is always a number, never null: this `==` is false",
        "`action.step` is always a string, never a list: this `==` is false",
        "`action.attempt` is always a number, never a string: this `in` is false",
        "`action.attempt` is always a number, never a string: this `==` is false",
        "`run.usage.cost_usd` is always a number, never a string: this `==` is false",
        "`action.commands` is always a list, never a string: this `==` is false",
        "each item of `action.commands` is always a list, never a string: this `in` is false",
        "each item of `action.writes` is always a string, never a list: this `in` is false",
        "each item of `action.dynamic_commands` is always a list, never a string: this `in`",
        "`action.params` is always a map, never a string: this `==` is false",
        "`run.usage` is always a map, never a number: this `!=` is true",
        "`c` is always a list, never a string: this `==` is false",
        "`w` is always a string, never a list: this `in` is false",
        "each item of `action.commands` is always a list, never a string: this `==` is false",
        "each item of `action.commands` is always a list, never a string: this `==` is false",
        "`w` is always a string, never a number: this `==` is false",
        "each item of `action.commands[]` is always a string, never a list: this `==` is false",
        "each key of `action.params` is always a string, never a number: this `in` is false",
        "`k` is always a string, never a number: this `==` is false",
        "`c` is always a list, never a string: this `==` is false",
        "each item of `action.commands` is always a list, never a string: this `in` is false",
        "`c` is always a list, never a string: this `==` is false",
        "each item of `action.commands` is always a list, never a string: this `==` is false",
        "each item of `action.writes` is always a string, never a number: this `==` is false",
        "each item of `action.commands` is always a list, never a string: this `==` is false",
        "each item of `action.commands` is always a list, never a string: this `in` is false",
        "each item of `action.commands` is always a list, never a string: this `!=` is true",
        "`action.writes` is always a list, and `contains` is a string's: this call errs for every action: to look for an item, write `x in action.writes`",
        "each item of `action.writes` is always a string, never a number: this `==` is false",
        "each item of `action.commands` is always a list, never a string: this `in` is false",
        "`c` is always a list, never a string: this `==` is false",
        "each item of `action.commands` is always a list, never a string: this `==` is false",
        "`c` is always a list, never a string: this `==` is false",
        "each item of `action.commands[]` is always a string, never a number: this `in` is false",
    ]) {
        let policy = format!(
            r#"{{"rules": [{{"id": "t", "effect": "deny", "reason": "x", "when": "{when}"}}]}}"#
        );
        let error = refused(&policy);
        assert!(
            error.starts_with(&format!("p.json:/rules/0/when: {said}")),
            "{when}: {error}"
        );
    }
    // Numbers of any kind, `null` where a field may be null, mixed or empty lists, a map with
    // a key of the kind, a macro's own `action` and an optional's default of the field's kind
    // are not refused.
    let fine = "action.attempt == 2.0 && action.index != null && action.cwd == null \
        && action.step in ['a', 1] && action.step in {'a': 1} && action.step in [] \
        && [1].all(action, action != 'x') && run.elapsed > 1 \
        && action.?attempt.orValue(0) == 2 && ['rm', '-rf'] in action.commands \
        && '/etc/passwd' in action.writes && action.commands != [] && action.params != {} \
        && action.commands.exists(c, c == ['rm'] || 'rm' in c) \
        && action.commands.exists(action, action[0] == 'x') \
        && action.writes.exists(w, w == '/x') && action.commands[0] == ['rm'] \
        && action.commands[0][0] == 'rm' && 'rm' in action.commands[0] \
        && action.commands.exists(c, c.exists(w, w == 'rm')) && 'cwd' in action.params \
        && run.usage.exists(k, k == 'cost_usd') && action.commands == [['rm']] \
        && action.commands.exists(c, [1].exists(c, c == 1)) \
        && action.commands[?0].orValue('rm') != 'rm' && action.writes[?0].orValue('') == '/x' \
        && action.commands.filter(c, c[0] == 'rm').size() > 0 \
        && action.commands.map(c, c[0]).exists(w, w == 'rm') \
        && action.commands[?0].orValue('rm') in ['rm', 'curl'] && action.step.contains('x') \
        && action.commands.exists(c, c[0].startsWith('r')) && action.cwd.endsWith('/x') \
        && action.writes[?0].orValue(1) == 1.0 \
        && (action.commands.size() > 0 ? action.commands[0][0] : 'rm') == 'rm' \
        && 'x' in action.writes + ['x'] && (run.input.x ? action.step : 1) == 1 \
        && (action.commands + action.writes).size() > 0 \
        && 'rm' in action.commands[?0].orValue(['rm']) \
        && 'rm' in action.commands[?0].orValue([1]) && 'rm' in action.commands[?0].orValue({'a': 1})";
    let text = format!(
        r#"{{"rules": [{{"id": "t", "effect": "deny", "reason": "x", "when": "{fine}"}}]}}"#
    );
    PolicyGuard::from_str(&text, Path::new("."), "p.json")
        .unwrap_or_else(|error| panic!("{error}"));
}

#[test]
fn a_rule_may_name_the_variables_of_its_macros() {
    let text = r#"{"rules": [{"id": "m", "effect": "deny", "reason": "x",
        "when": "action.commands.exists(c, c[0] == 'rm') && [1].all(n, n > 0) && {'a': run.id}.size() == 1"}]}"#;
    PolicyGuard::from_str(text, Path::new("."), "p.json").unwrap_or_else(|error| panic!("{error}"));
}

#[test]
fn a_rate_limit_over_no_time_is_refused() {
    assert_eq!(
        refused(r#"{"rate_limits": [{"executor": "process", "max": 1, "per": "0s"}]}"#),
        "p.json:/rate_limits/0/per: a window of 0s limits nothing: give a positive duration"
    );
}

#[test]
fn an_approval_timeout_of_zero_is_refused() {
    assert_eq!(
        refused(r#"{"approval": {"timeout": "0s"}}"#),
        "p.json:/approval/timeout: a timeout of 0s would deny every request as it is made: give a positive duration"
    );
}

#[test]
fn a_wall_time_budget_of_zero_is_refused() {
    assert_eq!(
        refused(r#"{"budgets": {"wall_time": "0s"}}"#),
        "p.json:/budgets/wall_time: a wall time of 0s would deny every action of every run: give a positive duration, or leave the key out for no limit"
    );
}

#[test]
fn a_budget_of_zero_or_less_is_refused_by_the_schema_at_its_place() {
    // The schema's bound: an editor checking the schema refuses what cairn refuses.
    for key in ["attempts", "steps", "tokens"] {
        assert_eq!(
            refused(&format!(r#"{{"budgets": {{"{key}": 0}}}}"#)),
            format!("p.json:/budgets/{key}: 0 is less than the minimum of 1")
        );
        assert_eq!(
            refused(&format!(r#"{{"budgets": {{"{key}": -1}}}}"#)),
            format!("p.json:/budgets/{key}: -1 is less than the minimum of 1")
        );
    }
    for cost in ["0", "0.0", "-1"] {
        assert_eq!(
            refused(&format!(r#"{{"budgets": {{"cost_usd": {cost}}}}}"#)),
            format!("p.json:/budgets/cost_usd: {cost} is less than or equal to the minimum of 0")
        );
    }
    let error = refused(r#"{"budgets": {"wall_time": -1}}"#);
    assert!(error.starts_with("p.json:/budgets/wall_time: "), "{error}");
}

#[test]
fn a_command_prefix_empty_or_with_an_empty_token_is_refused_by_the_schema() {
    assert_eq!(
        refused(r#"{"commands": {"deny": [["rm"], [""], []], "allow": [["git", ""]]}}"#),
        "p.json:/commands/allow/0/1: \"\" is shorter than 1 character\n\
         p.json:/commands/deny/1/0: \"\" is shorter than 1 character\n\
         p.json:/commands/deny/2: [] has less than 1 item"
    );
}

#[test]
fn a_count_written_as_a_whole_float_loads_as_the_schema_reads_it() {
    let text = r#"{"budgets": {"attempts": 50.0, "steps": 2e0, "tokens": 1e3},
        "rate_limits": [{"executor": "agent", "max": 3.0, "per": "1m"}],
        "tests": [{"action": {"executor": "noop", "attempt": 2.0, "index": 1.0},
                   "run": {"attempts": 1.0, "steps": 1.0, "tokens": 5.0}, "expect": "allow"}]}"#;
    let policy = Policy::from_str(text, Path::new("."), "p.json").unwrap();
    assert_eq!(
        (
            policy.budgets.attempts,
            policy.budgets.steps,
            policy.budgets.tokens
        ),
        (Some(50), Some(2), Some(1000))
    );
    assert_eq!(policy.rate_limits[0].max, 3);
    let test = &policy.tests[0];
    assert_eq!((test.action.attempt, test.action.index), (2, Some(1)));
    let run = test.run.as_ref().unwrap();
    assert_eq!((run.attempts, run.steps, run.tokens), (1, 1, 5));
}

#[test]
fn a_count_past_its_bound_or_with_a_fraction_is_refused_naming_the_bound() {
    for (text, problem) in [
        (
            r#"{"rate_limits": [{"executor": "agent", "max": 4294967296, "per": "1m"}]}"#,
            "/rate_limits/0/max: 4294967296 is greater than the maximum of 4294967295",
        ),
        (
            r#"{"budgets": {"tokens": 1e20}}"#,
            "/budgets/tokens: 1e+20 is greater than the maximum of 9007199254740991",
        ),
        (
            r#"{"tests": [{"action": {"executor": "noop", "attempt": 4294967296}, "expect": "allow"}]}"#,
            "/tests/0/action/attempt: 4294967296 is greater than the maximum of 4294967295",
        ),
        (
            r#"{"tests": [{"action": {"executor": "noop"}, "run": {"steps": 9007199254740992}, "expect": "allow"}]}"#,
            "/tests/0/run/steps: 9007199254740992 is greater than the maximum of 9007199254740991",
        ),
        (
            r#"{"budgets": {"attempts": 2.5}}"#,
            "/budgets/attempts: expected integer, found 2.5",
        ),
    ] {
        assert_eq!(refused(text), format!("p.json:{problem}"), "{text}");
    }
}

#[test]
fn every_problem_of_a_policy_is_named_at_once() {
    // Problems of form (the schema's) and of meaning (the loader's) in one go: a file with
    // four problems took four runs to fix.
    let text = r#"{"budgets": {"attempts": 0, "steps": 2.0},
        "rate_limits": [{"executor": "agent", "max": 4294967296, "per": "1m"}],
        "rules": [{"id": "no-prod", "effect": "deny", "reason": "r", "when": "action.exectuor == 'x'"}],
        "tests": [{"action": {"executor": "noop"}, "expect": "deny", "rule": "no-prd"}]}"#;
    assert_eq!(
        refused(text),
        "p.json:/budgets/attempts: 0 is less than the minimum of 1\n\
         p.json:/rate_limits/0/max: 4294967296 is greater than the maximum of 4294967295\n\
         p.json:/rules/0/when: `action` has no field `exectuor`: did you mean `action.executor`?\n\
         p.json:/tests/0/rule: no rule has the id `no-prd`: did you mean `no-prod`?"
    );
    // A value the schema passes and reading refuses (a duration past 100 years) is told
    // beside the schema's problems, each of them (probe 43 f2: one, or none at all).
    let long = "bad duration \"1000y\": longer than 100 years (100y), the most cairn takes";
    assert_eq!(
        refused(
            r#"{"approval": {"timeout": "1000y"}, "budgetz": {},
                "budgets": {"attempts": 0, "wall_time": "1000y"}, "rate_limits": [{"executor": "a", "max": 1, "per": "1000y"}]}"#
        ),
        format!(
            "p.json:/approval/timeout: {long}\n\
             p.json:/budgets/attempts: 0 is less than the minimum of 1\n\
             p.json:/budgets/wall_time: {long}\n\
             p.json:/budgetz: unknown key `budgetz` (did you mean `budgets`?)\n\
             p.json:/rate_limits/0/per: {long}"
        )
    );
}

#[test]
fn a_test_naming_a_rule_no_verdict_gives_is_refused_with_the_id_meant() {
    let rule = r#"{"id": "no-prod", "effect": "deny", "reason": "r", "when": "run.input.target == 'prod'"}"#;
    let with_test = |expected: &str| {
        format!(
            r#"{{"rules": [{rule}], "commands": {{"deny": [["rm"]]}}, "tests": [{{"action": {{"executor": "noop"}}, "run": {{"input": {{"target": "prod"}}}}, "expect": "deny", "rule": "{expected}"}}]}}"#
        )
    };
    assert_eq!(
        refused(&with_test("no-prd")),
        "p.json:/tests/0/rule: no rule has the id `no-prd`: did you mean `no-prod`?"
    );
    assert_eq!(
        refused(&with_test("comands.deny")),
        "p.json:/tests/0/rule: no rule has the id `comands.deny`: did you mean `commands.deny`?"
    );
    assert_eq!(
        refused(&with_test("zzz")),
        "p.json:/tests/0/rule: no rule has the id `zzz`: name one of the policy's rules (`no-prod`) or of the guard's own findings (`commands`, `commands.allow`, `commands.approve`, `commands.deny`, `cwd`, `env`, `input`, `budget.attempts`, `budget.steps`, `budget.cost_usd`, `budget.tokens`, `budget.wall_time`)"
    );
    // The policy's own rules and the guard's findings are names a test may expect.
    for expected in ["no-prod", "commands.deny", "budget.steps", "cwd"] {
        Policy::from_str(&with_test(expected), Path::new("."), "p.json")
            .unwrap_or_else(|error| panic!("{expected}: {error}"));
    }
}

#[test]
fn a_test_action_the_loader_would_refuse_is_refused_by_the_schema() {
    for (action, problem) in [
        (
            r#"{"executor": "noop", "params": "x"}"#,
            "/tests/0/action/params: expected object, found a string",
        ),
        (
            r#"{"executor": "noop", "attempt": 0}"#,
            "/tests/0/action/attempt: 0 is less than the minimum of 1",
        ),
        (
            r#"{"executor": "noop", "step": "not an id"}"#,
            "/tests/0/action/step: id `not an id` may only contain A-Z a-z 0-9 _ . -",
        ),
    ] {
        let text = format!(r#"{{"tests": [{{"action": {action}, "expect": "allow"}}]}}"#);
        assert_eq!(refused(&text), format!("p.json:{problem}"), "{action}");
    }
}

#[test]
fn a_command_prefix_with_blanks_that_match_nothing_is_refused() {
    // `["git push"]` is one word naming no program: a deny written so denied nothing.
    assert_eq!(
        refused(
            r#"{"commands": {"deny": [["git push"], ["rm -rf"], [" curl"], ["git", "push "]]}}"#
        ),
        "p.json:/commands/deny/0: a command prefix's token matches one whole word of a command, so [\"git push\"] matches nothing: write [\"git\", \"push\"]\n\
         p.json:/commands/deny/1: a command prefix's token matches one whole word of a command, so [\"rm -rf\"] matches nothing: write [\"rm\", \"-rf\"]\n\
         p.json:/commands/deny/2: a command prefix's token matches one whole word of a command, so [\" curl\"] matches nothing: write [\"curl\"]\n\
         p.json:/commands/deny/3: a command prefix's token matches one whole word of a command, so [\"git\", \"push \"] matches nothing: write [\"git\", \"push\"]"
    );
    // A token of blanks alone is no word: the message names no prefix, which `[]` or `""`
    // (refused too) or one token fewer (a wider allow) would be (probe 185 F1); a character
    // that shows as nothing is left out of the prefix to write (probe 188 F1).
    let told = |prefix: &str| refused(&format!(r#"{{"commands": {{"allow": [{prefix}]}}}}"#));
    let no_word = "a token of blanks alone names no word; write the word it stands for, or leave the token out";
    for prefix in [r#"[" "]"#, r#"["git", " "]"#, r#"["git", "\u200b "]"#] {
        assert!(told(prefix).ends_with(no_word), "{prefix}");
    }
    assert!(told(r#"["git", "x\u200b "]"#).ends_with(r#"write ["git", "x"]"#));
    assert!(told(r#"["git push\u200b "]"#).ends_with(r#"write ["git", "push"]"#));
    let policy =
        r#"{"commands": {"allow": [["/opt/My Tools/rm"], ["git", "commit", "-m", "a b"]]}}"#;
    Policy::from_str(policy, Path::new("/"), "p.json")
        .expect("blanks inside a path or an argument are words");
}

#[test]
fn a_deny_or_approval_naming_its_program_by_a_path_is_refused() {
    // `["/bin/rm"]` denied `/bin/rm x` only: `rm x` and `sh -c 'rm x'` ran (probe 11 F4).
    assert_eq!(
        refused(r#"{"commands": {"deny": [["/bin/rm"]], "approve": [["./deploy", "prod"]]}}"#),
        "p.json:/commands/approve/0: \"./deploy\" matches only a command that names its program by that path, not `deploy` nor another path to it: a command matches a deny or an approval by its program's name too, so write \"deploy\"\n\
         p.json:/commands/deny/0: \"/bin/rm\" matches only a command that names its program by that path, not `rm` nor another path to it: a command matches a deny or an approval by its program's name too, so write \"rm\""
    );
    // An allowed path is stricter than its name.
    Policy::from_str(
        r#"{"commands": {"allow": [["/usr/bin/git"]]}}"#,
        Path::new("/"),
        "p.json",
    )
    .expect("a path in an allow-list");
}

#[test]
fn a_program_ending_in_a_slash_is_told_its_name_or_that_it_names_none() {
    // The fix said to write `""`, which the schema refuses (probe 35 F3).
    assert_eq!(
        refused(r#"{"commands": {"deny": [["rm/"], ["/"]]}}"#),
        "p.json:/commands/deny/0: \"rm/\" matches only a command that names its program by that path, not `rm` nor another path to it: a command matches a deny or an approval by its program's name too, so write \"rm\"\n\
         p.json:/commands/deny/1: \"/\" names no program, only folders: write the program's name"
    );
}

#[test]
fn a_token_or_a_variable_holding_a_character_that_shows_as_nothing_is_refused() {
    // A zero-width space, a byte-order mark, a soft hyphen, NUL, a Hangul filler, a
    // variation selector, a tab: a deny written so looked like `rm` and denied nothing
    // (probes 35 F2, 36 F2 and F3).
    let why = "a control or invisible character, so it matches nothing written as it reads";
    assert_eq!(
        refused(
            r#"{"commands": {"deny": [["rm\u200b"], ["\ufeffrm"], ["git", "pu\u00adsh"], ["rm\u0000"],
                ["\u2060"], ["rm\u3164"], ["rm\ufe0f"], ["git", "a\tb"], ["rm\u2800"],
                ["rm\ud834\udd59"], ["rm\ue000"], ["rm\ufdd0"]]}}"#
        ),
        format!(
            "p.json:/commands/deny/0/0: \"rm\\u{{200b}}\" holds U+200B, {why}: write \"rm\"\n\
             p.json:/commands/deny/1/0: \"\\u{{feff}}rm\" holds U+FEFF, {why}: write \"rm\"\n\
             p.json:/commands/deny/2/1: \"pu\\u{{ad}}sh\" holds U+00AD, {why}: write \"push\"\n\
             p.json:/commands/deny/3/0: \"rm\\u{{0}}\" holds U+0000, {why}: write \"rm\"\n\
             p.json:/commands/deny/4/0: \"\\u{{2060}}\" holds U+2060, {why}: remove it\n\
             p.json:/commands/deny/5/0: \"rm\\u{{3164}}\" holds U+3164, {why}: write \"rm\"\n\
             p.json:/commands/deny/6/0: \"rm\\u{{fe0f}}\" holds U+FE0F, {why}: write \"rm\"\n\
             p.json:/commands/deny/7/1: \"a\\u{{9}}b\" holds U+0009, {why}: write \"ab\"\n\
             p.json:/commands/deny/8/0: \"rm\\u{{2800}}\" holds U+2800, {why}: write \"rm\"\n\
             p.json:/commands/deny/9/0: \"rm\\u{{1d159}}\" holds U+1D159, {why}: write \"rm\"\n\
             p.json:/commands/deny/10/0: \"rm\\u{{e000}}\" holds U+E000, {why}: write \"rm\"\n\
             p.json:/commands/deny/11/0: \"rm\\u{{fdd0}}\" holds U+FDD0, {why}: write \"rm\""
        )
    );
    // A variable name no step can set allowed nothing, silently (probe 35 F11).
    assert_eq!(
        refused(r#"{"env": ["", "A=B", "MODE ", "HO\u200bME", "PATH"]}"#),
        format!(
            "p.json:/env/0: \"\" is not a variable's name: it is empty or holds `=` or NUL\n\
             p.json:/env/1: \"A=B\" is not a variable's name: it is empty or holds `=` or NUL\n\
             p.json:/env/2: \"MODE \" has blanks around it, which no variable a step sets has: write \"MODE\"\n\
             p.json:/env/3: \"HO\\u{{200b}}ME\" holds U+200B, {why}: write \"HOME\""
        )
    );
    // A blank other than a space is shown escaped; a name that is not ASCII is a name.
    assert!(
        refused(r#"{"commands": {"deny": [["rm\u00a0"]]}}"#)
            .contains(r#"so ["rm\u{a0}"] matches nothing"#),
    );
    Policy::from_str(
        r#"{"commands": {"deny": [["größe"]], "allow": [["/opt/My Tools/x"]]}, "env": ["ÄNDERUNG"]}"#,
        Path::new("/"),
        "p.json",
    )
    .expect("letters of any script are seen");
}

#[test]
fn a_token_holding_a_combining_mark_that_does_not_show_as_written_is_refused() {
    // At the start a mark shows on the quote before it; an enclosing one draws around its
    // letter; one a letter takes reads as the composed letter, which a command writes as
    // one character: each deny looked like `rm` or `rḿ` and denied nothing (probe 43 f1).
    let why = "that does not show as written (at its start, around a letter or merged into \
               one), so it matches nothing written as it reads";
    assert_eq!(
        refused(
            r#"{"commands": {"deny": [["́rm"], ["rm⃣"], ["rḿ"], ["҉"],
                ["Å"]]}}"#
        ),
        format!(
            "p.json:/commands/deny/0/0: \"\\u{{301}}rm\" holds U+0301, a combining mark {why}: write \"rm\"\n\
             p.json:/commands/deny/1/0: \"rm\\u{{20e3}}\" holds U+20E3, a combining mark {why}: write \"rm\"\n\
             p.json:/commands/deny/2/0: \"rm\\u{{301}}\" holds U+0301, a combining mark {why}: write \"r\u{1e3f}\"\n\
             p.json:/commands/deny/3/0: \"\\u{{489}}\" holds U+0489, a combining mark {why}: remove it\n\
             p.json:/commands/deny/4/0: \"\u{212b}\" holds a character Unicode writes composed otherwise {why}: write \"\u{c5}\""
        )
    );
    // A mark drawn over the letter it follows, with no composed form, is seen as written;
    // so are marks typed in another order than Unicode's canonical one, which NFC only
    // reorders (Hebrew's shin dot before its dagesh: probe 45 F8).
    Policy::from_str(
        r#"{"commands": {"deny": [["r̶m"], ["café"], ["שּׁ"]]}}"#,
        Path::new("/"),
        "p.json",
    )
    .expect("a mark that shows where it stands");
}

#[test]
fn executors_the_program_does_not_have_are_named_with_their_place() {
    let policy = Policy::from_str(
        r#"{"rate_limits": [{"executor": "agent", "max": 1, "per": "1m"},
                            {"executor": "agnet", "max": 1, "per": "1m"}],
            "tests": [{"action": {"executor": "nope"}, "expect": "allow"}]}"#,
        Path::new("."),
        "p.json",
    )
    .unwrap();
    let problems: Vec<String> = (policy.unknown_executors(&["agent", "process"]).iter())
        .map(|problem| format!("{}: {}", problem.place, problem.message))
        .collect();
    assert_eq!(
        problems,
        [
            "/rate_limits/1/executor: unknown executor `agnet` (known: agent, process)",
            "/tests/0/action/executor: unknown executor `nope` (known: agent, process)",
        ]
    );
    assert!(
        policy
            .unknown_executors(&["agent", "agnet", "nope"])
            .is_empty()
    );
}

#[test]
fn a_test_with_problems_of_form_still_has_its_rule_checked() {
    // Its optional keys with a problem read as left out, so the rest of it is checked.
    let text = r#"{"rules": [{"id": "no-prod", "effect": "deny", "reason": "r", "when": "run.input.target == 'prod'"}],
        "tests": [{"action": {"executor": "noop", "attempt": 0, "step": "not an id"},
                   "run": {"input": {"target": "prod"}}, "expect": "deny", "rule": "no-prd"}]}"#;
    assert_eq!(
        refused(text),
        "p.json:/tests/0/action/attempt: 0 is less than the minimum of 1\n\
         p.json:/tests/0/action/step: id `not an id` may only contain A-Z a-z 0-9 _ . -\n\
         p.json:/tests/0/rule: no rule has the id `no-prd`: did you mean `no-prod`?"
    );
}

/// Every key an object lacks is named, not the first alone (probe 106 F4: a rule `{"id":
/// "r"}` was told its `effect`, then its `reason`, then its `when`, one load at a time).
#[test]
fn every_key_an_object_lacks_is_named_in_one_go() {
    assert_eq!(
        refused(r#"{"rules": [{"id": "r"}], "tests": [{}]}"#),
        "p.json:/rules/0: missing key `effect`\n\
         p.json:/rules/0: missing key `reason`\n\
         p.json:/rules/0: missing key `when`\n\
         p.json:/tests/0: missing key `action`\n\
         p.json:/tests/0: missing key `expect`"
    );
}

#[test]
fn the_items_after_one_set_aside_are_named_by_their_place_in_the_file() {
    // A rule missing its `when` is set aside; the rules after it keep their indices.
    let text = r#"{"rules": [{"id": "a", "effect": "deny", "reason": "r"},
                             {"id": "b", "effect": "deny", "reason": "r", "when": "tru"},
                             {"id": "b", "effect": "deny", "reason": "r", "when": "true"}],
        "rate_limits": [{"executor": "agent", "max": 0, "per": "1m"},
                        {"executor": "agent", "max": 1, "per": "0s"}]}"#;
    assert_eq!(
        refused(text),
        "p.json:/rate_limits/0/max: 0 is less than the minimum of 1\n\
         p.json:/rate_limits/1/per: a window of 0s limits nothing: give a positive duration\n\
         p.json:/rules/0: missing key `when`\n\
         p.json:/rules/1/when: `tru` is not a variable a rule can read (it reads only `action` and `run`)\n\
         p.json:/rules/2/id: rule id `b` is used twice"
    );
}
