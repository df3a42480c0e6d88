//! Acceptance point 3: the step's directory must lie inside a root; variables a step sets
//! must be allowed.

use cairn_engine::Decision;
use serde_json::json;

use crate::{action, guard, guard_in, judge, judge_script};

#[test]
fn cwd_escapes_through_dot_dot_a_symlink_or_a_sibling_are_denied() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    std::fs::create_dir_all(base.join("root/a")).unwrap();
    std::fs::create_dir_all(base.join("root2")).unwrap();
    std::os::unix::fs::symlink(&base, base.join("root/out")).unwrap();
    let guard = guard_in(&json!({"cwd": ["root"]}), &base);
    let run_in = |cwd: std::path::PathBuf| {
        judge(
            &guard,
            &action("process", json!({"command": ["ls"], "cwd": cwd})),
        )
    };
    let allowed = run_in(base.join("root/a/.."));
    assert_eq!(allowed.decision, Decision::Allow, "{allowed:?}");
    assert_eq!(
        allowed.params.unwrap()["cwd"],
        json!(base.join("root")),
        "the step runs in the canonical path"
    );
    for escape in [
        "root/..",
        "root/out",
        "root/out/root2",
        "root2",
        "root/missing",
    ] {
        let verdict = run_in(base.join(escape));
        assert_eq!(verdict.decision, Decision::Deny, "{escape}: {verdict:?}");
        assert_eq!(verdict.rules, ["cwd"]);
    }
}

#[test]
fn a_missing_root_is_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let error =
        cairn_guards::Policy::from_str(r#"{"cwd": ["nope"]}"#, dir.path(), "p.json").unwrap_err();
    assert!(error.to_string().starts_with("p.json:/cwd/0: "), "{error}");
}

#[test]
fn a_directory_whose_path_is_not_utf8_is_neither_a_root_nor_a_cwd() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let odd = base.join(std::ffi::OsStr::from_bytes(b"nu\xff"));
    std::fs::create_dir(&odd).unwrap();
    std::os::unix::fs::symlink(&odd, base.join("link")).unwrap();
    let error = cairn_guards::Policy::from_str(r#"{"cwd": ["link"]}"#, &base, "p.json")
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("p.json:/cwd/0: "), "{error}");
    assert!(error.contains("not UTF-8"), "{error}");
    let guard = guard_in(&json!({"cwd": ["."]}), &base);
    let inside = json!({"command": ["ls"], "cwd": base.join("link")});
    let verdict = judge(&guard, &action("process", inside));
    assert_eq!(verdict.decision, Decision::Deny, "{verdict:?}");
    assert_eq!(verdict.rules, ["cwd"]);
}

#[test]
fn ld_preload_is_denied_under_an_env_allow_list() {
    let guard = guard(json!({"env": ["HOME", "LANG"]}));
    let with_env = json!({"command": ["ls"], "env": {"LANG": "C", "LD_PRELOAD": "/x.so"}});
    let verdict = judge(&guard, &action("process", with_env));
    assert_eq!(verdict.decision, Decision::Deny);
    assert_eq!(verdict.rules, ["env"]);
    assert!(verdict.reasons[0].contains("LD_PRELOAD"));
    for script in [
        "LD_PRELOAD=/x.so ls",
        "env LD_PRELOAD=/x.so ls",
        "export LD_PRELOAD=/x.so; ls",
        "PATH=/evil:$PATH ls",
    ] {
        assert_eq!(
            judge_script(&guard, script).decision,
            Decision::Deny,
            "{script}"
        );
    }
    assert_eq!(judge_script(&guard, "LANG=C ls").decision, Decision::Allow);
    let agent = json!({"cli": "claude", "prompt": "x", "env": {"LD_PRELOAD": "/x.so"}});
    assert_eq!(
        judge(&guard, &action("agent", agent)).decision,
        Decision::Deny
    );
}

#[test]
fn an_env_name_no_process_could_be_given_is_denied() {
    // The executor refuses these names; the guard must not judge `BASH_ENV=/tmp/evil` as a
    // harmless name and allow it.
    for name in ["BASH_ENV=/tmp/evil", "", "A\0B"] {
        for (executor, params) in [
            ("process", json!({"command": ["ls"], "env": {name: "sh"}})),
            (
                "agent",
                json!({"cli": "claude", "prompt": "x", "env": {name: "sh"}}),
            ),
        ] {
            let verdict = judge(&guard(json!({})), &action(executor, params));
            assert_eq!(verdict.decision, Decision::Deny, "{name:?}: {verdict:?}");
            // The process executor's parser refuses the name too (rule `commands`, in its
            // words); the rule `env` says why the name is no name.
            let env = verdict.rules.iter().position(|rule| rule == "env");
            let env = env.unwrap_or_else(|| panic!("{name:?}: {verdict:?}"));
            assert!(
                verdict.reasons[env].contains("not a variable's name"),
                "{verdict:?}"
            );
        }
    }
    let fine = json!({"command": ["ls"], "env": {"A_1": "x=y"}});
    assert_eq!(
        judge(&guard(json!({})), &action("process", fine)).decision,
        Decision::Allow
    );
}
