//! Scripts for shells other than bash: what dash (and a Korn shell) reads otherwise than bash,
//! refused or judged as that shell runs it, and the common scripts that stay allowed.

use super::*;

/// Scripts bash and the parser read one way and dash another: in each, dash runs `touch x`, bash
/// does not. (Where bash and the parser disagree too, every shell refuses the script.)
const DASH_RUNS_MORE: &[&str] = &[
    "((touch x))",
    "echo $'\\'; touch x; #'",
    "[[ a || touch x ]]",
    "echo \"${x:-'}\"; touch x; #'}\"",
    "echo \"${x-'}\"; touch x; #'}\"",
    "echo ${x:-$'\\'}; touch x; #'}",
    "false && echo $(( ')) ; touch x #' ))",
    "false && echo $(( \")) ; touch x #\" ))",
    "for ((;;)); do touch x; done",
    "echo $\"a\"",
    // dash reads `&>` as `&` (run in the background) then `>`.
    "echo hi &>/dev/null touch x",
    "echo hi &>>/dev/null touch x",
    // dash reads `$((` as arithmetic on to the next `))`, bash `$( (` (probe 127 F1).
    "true || echo $((true) ) #)); touch x",
    "true || echo \"$((true) )\" #\"))\"; touch x",
    "true || echo $(\\\n(true) ) #)); touch x",
    "true || echo $((echo '))\ntouch x\necho ') )",
    // dash has no `function` keyword: it runs a program of that name (probe 127 F2).
    "function f\n{ echo hi; }",
    "function touch { echo; }",
    "function\\\n f\n{ echo hi; }",
    "func\\\ntion f\n{ echo hi; }",
    // `coproc` is bash's alone (probe 133 F1).
    "coproc x {\necho hi\n}",
    // dash reads `$$` then `{`, and ends the `${` at the first `}` (probe 135 F1).
    "echo ${x-$${}; touch y; echo }",
    "echo \"${x-$${}\"; touch y; echo \"}\"",
    "x=${y-$${z}; touch y; echo }",
    // dash takes what follows a parameter for an unknown operator, and ends the `${` at the
    // next `}` (probe 138 F1, F2).
    "true || echo ${x\\}; touch y; echo }",
    "true || echo ${x\"}; touch y; echo }",
    "true || echo ${${}; touch y; echo }",
    "true || echo ${#\\}; touch y; echo }",
    "echo ${x:} #}; touch y",
    "echo \"${1:}\" #\"}\"; touch y",
];

#[test]
fn posix_shells_refuse_what_bash_reads_differently() {
    for shell in ["sh", "dash", "ash", "posh", "yash", "/bin/sh", "busybox sh"] {
        let words: Vec<&str> = shell.split(' ').collect();
        for script in DASH_RUNS_MORE {
            let mut argv: Vec<String> = words.iter().map(|word| (*word).to_owned()).collect();
            argv.extend(["-c".to_owned(), (*script).to_owned()]);
            let found = check_argv(&argv);
            assert!(
                !found.problems.is_empty(),
                "{shell} -c {script:?}: {found:?}"
            );
        }
    }
    // Wrappers hand their scripts to `sh`, or to the user's shell.
    for words in [
        &["su", "root", "-c", "((touch x))"][..],
        &["flock", "/tmp/l", "-c", "[[ a || touch x ]]"],
        &["sg", "root", "-c", "echo $'\\'; touch x; #'"],
        &["bash", "-c", "sh -c '((touch x))'"],
    ] {
        let found = argv(words);
        assert!(!found.problems.is_empty(), "{words:?}: {found:?}");
    }
    // ksh reads these as bash does; bash and `su -s /bin/bash` are bash.
    for (shell, script) in [
        ("ksh", "((x = 1)); [[ -n $x ]] && echo $'a'"),
        ("mksh", "((x = 1)); [[ -n $x ]] && echo $'a'"),
        ("bash", "((x = 1)); [[ -n $x ]] && echo $'a' \"${y:-'b'}\""),
        ("sh", "bash -c '((x = 1)); [[ -n $x ]]'"),
    ] {
        let found = run_by(shell, script);
        assert!(
            found.problems.is_empty(),
            "{shell} -c {script:?}: {found:?}"
        );
    }
    let bash = argv(&["su", "-s", "/bin/bash", "root", "-c", "((x = 1))"]);
    assert!(bash.problems.is_empty(), "{bash:?}");
}

#[test]
fn common_sh_scripts_stay_allowed() {
    for script in [
        CI_SCRIPT,
        "x=$((1 + 2)); echo \"${x:-default}\" \"${HOME%/}\" \"${y:-\"q\"}\"",
        "grep 'foo$' f; grep \"bar$\" f; [ -f x ] && echo y || echo z",
        "cat <<EOF\nhi $x $(date)\nEOF\ncat <<'EOF'\nfoo \\\nbar\nEOF",
        "make >build.log 2>&1 && echo ok >&2; exec 3>&1 4>&-; echo x 1>&3",
        "f() { echo \"$(( (1 + 2) * 3 ))\" $( (echo a) ); }; f; echo function",
        "echo ${HOME} ${1} ${10} ${#} ${#x} ${x:-a} ${x-b} ${x:=c} ${x%.rs} ${x##*/} ${?} ${$}",
        // Text the shell expands nothing in (probe 140 F3, 142 F6).
        "echo '${x:0:3}' \\${var.x} \"\\${{ a }}\"; cat <<'EOF'\n${x//a/b} $${HOME}\nEOF",
    ] {
        for shell in ["sh", "dash", "bash"] {
            let found = run_by(shell, script);
            assert!(
                found.problems.is_empty(),
                "{shell} -c {script:?}: {found:?}"
            );
        }
    }
}

/// A typical CI script.
const CI_SCRIPT: &str = "set -euo pipefail; for f in src/*.rs; do if [ -n \"$f\" ]; then echo \"$f\"; fi; done; while read -r line; do echo \"$line\"; done < Cargo.toml; case \"$CI\" in true) echo ci ;; *) echo local ;; esac";

/// dash has no keyword `time`: it runs the program, GNU `time`, which reads its options as
/// their values (quoted or not) and runs the command after them (probe 116 F1: `time '-p' rm
/// x` ran `rm`, judged as the program `-p`); `time` is then a command a policy names (F2).
#[test]
fn time_in_a_posix_sh_is_the_program() {
    for (script, command) in [
        ("time touch x", &["time", "touch", "x"][..]),
        ("time -p touch x", &["time", "-p", "touch", "x"]),
        ("time '-p' touch x", &["time", "-p", "touch", "x"]),
        ("time \\-p touch x", &["time", "-p", "touch", "x"]),
        (
            "time \"-o\" /tmp/f -f x touch y",
            &["time", "-o", "/tmp/f", "-f", "x", "touch", "y"],
        ),
        ("time -v touch x", &["time", "-v", "touch", "x"]),
        ("time -- touch x | cat", &["time", "--", "touch", "x"]),
    ] {
        for shell in ["sh", "dash", "busybox sh"] {
            let mut argv: Vec<String> = shell.split(' ').map(str::to_owned).collect();
            argv.extend(["-c".to_owned(), script.to_owned()]);
            let found = check_argv(&argv);
            assert!(holds(&found, command), "{shell} -c {script:?}: {found:?}");
            assert!(
                programs(&found).contains(&"touch"),
                "{shell} -c {script:?}: {found:?}"
            );
            assert!(
                found.problems.is_empty(),
                "{shell} -c {script:?}: {found:?}"
            );
        }
    }
    // Alone, it is the program too (probe 117 F5).
    for (script, command) in [("time", &["time"][..]), ("ls; time -p", &["time", "-p"])] {
        let found = run_by("sh", script);
        assert!(holds(&found, command), "{script:?}: {found:?}");
    }
    assert!(!holds(&sh("time"), &["time"]));
    // What follows `time` is its program, not an assignment: GNU `time` runs `A=1`.
    let found = run_by("sh", "time A=1 touch x");
    assert!(holds(&found, &["time", "A=1", "touch", "x"]), "{found:?}");
    // bash reads a quoted `-p` as the command `-p`; a Korn shell's `time` may read it as its
    // option: refused there.
    let bash = run_by("bash", "time '-p' touch x");
    assert_eq!(programs(&bash), ["bash", "-p"], "{bash:?}");
    for script in ["time '-p' touch x", "time \"$o\" touch x"] {
        let found = run_by("mksh", script);
        assert!(!found.problems.is_empty(), "mksh -c {script:?}: {found:?}");
    }
}

/// bash's `{NAME}>f` stores a new descriptor's number in `NAME`; dash reads `{NAME}` as a
/// word (judged as one: probe 117 F1), mksh too and ksh93 as bash (refused).
#[test]
fn a_named_descriptor_is_bashs_alone() {
    let bash = sh("env -u {x}>/dev/null touch y");
    assert!(holds(&bash, &["env", "-u", "touch", "y"]), "{bash:?}");
    assert!(bash.assignments.iter().any(|set| set == "x"), "{bash:?}");
    let dash = run_by("sh", "env -u {x}>/dev/null touch y");
    assert!(
        holds(&dash, &["env", "-u", "{x}", "touch", "y"]),
        "{dash:?}"
    );
    assert!(programs(&dash).contains(&"touch"), "{dash:?}");
    assert!(
        !run_by("mksh", "env -u {x}>/dev/null touch y")
            .problems
            .is_empty()
    );
}
