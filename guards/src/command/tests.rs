use super::*;

fn sh(script: &str) -> Findings {
    check_argv(&["bash".to_owned(), "-c".to_owned(), script.to_owned()])
}

fn programs(findings: &Findings) -> Vec<&str> {
    (findings.commands.iter())
        .map(|command| command[0].text())
        .collect()
}

#[test]
fn finds_the_commands_of_a_script() {
    let found = sh("echo hi && rm -rf x | tee y; (ls) & { cat; } ");
    assert_eq!(programs(&found), ["bash", "echo", "rm", "tee", "ls", "cat"]);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
}

#[test]
fn subshells_in_subshells_are_not_arithmetic() {
    for script in [
        "( ( rm x ) )",
        "( (rm) )",
        "echo $( (rm x) )",
        "x=$( (rm) )",
        // bash ends arithmetic only at `))`: at `) )` it runs a subshell in a subshell.
        "((rm x) )",
        "((a >(rm x)) )",
        "(( a ) )",
    ] {
        let found = sh(script);
        assert!(
            programs(&found).contains(&"rm") || !found.problems.is_empty(),
            "{script}: {found:?}"
        );
    }
    assert!(sh("(( i++ )); echo $((i + 1))").problems.is_empty());
}

/// Asserts that each script is refused (has a problem).
fn refused(scripts: &[&str]) {
    for script in scripts {
        let found = sh(script);
        assert!(!found.problems.is_empty(), "{script}: {found:?}");
    }
}

/// Asserts that each script is checked without a problem.
fn allowed(scripts: &[&str]) {
    for script in scripts {
        let found = sh(script);
        assert!(found.problems.is_empty(), "{script}: {found:?}");
    }
}

#[test]
fn a_comparison_with_a_parenthesis_in_arithmetic_is_no_process_substitution() {
    allowed(&[
        "(( a >(b) ))",
        "echo $(( 2<(1+1) ? 1 : 0 ))",
        "(( a[1] >(b) )) && ls",
    ]);
    refused(&[
        "(( a >(`rm x`) ))",
        // A parenthesis closed early, or quoted, is where bash could read commands.
        "echo $((true) >(rm x))",
        "(( \"(\" >(b) ))",
    ]);
}

/// Two here-documents on one line: the tokenizer set the tokens after the first one's tag
/// aside, and the span of each it set aside after a blank began at that blank, where the
/// checker looked in vain for the second `<<` (probe 168 F1).
#[test]
fn here_documents_on_one_line_are_read_each_at_its_operator() {
    allowed(&[
        "cat <<A <<B\n1\nA\n2\nB",
        "cat <<A; cat <<B\n1\nA\n2\nB",
        "cat <<A | cat - <<B\n1\nA\n2\nB",
        "cat <<'A' && cat <<'B'\n1\nA\n2\nB",
        "cat > \"${A}\" <<EOF1; cat > \"${B}\" <<EOF2\na\nEOF1\nb\nEOF2",
        "x=$(cat <<A); cat <<B\n1\nA\n2\nB",
    ]);
    let found = sh("cat <<A; rm x <<B\n1\nA\n2\nB");
    assert_eq!(programs(&found), ["bash", "cat", "rm"]);
}

/// Asserts that each script sets the variable `name`, and is not refused for it.
fn sets(name: &str, scripts: &[&str]) {
    for script in scripts {
        let found = sh(script);
        assert!(
            found.assignments.iter().any(|set| set == name),
            "{script}: {found:?}"
        );
        assert!(found.problems.is_empty(), "{script}: {found:?}");
    }
}

#[test]
fn subscripts_of_assigned_names_are_evaluated() {
    refused(&[
        "HOME[$(touch x)]=1",
        "a[$(touch x)]=1 ls",
        "a[`touch x`]=1",
        "a['$(touch x)']=1",
        "a[$'\\x24(touch x)']=1",
        "a=([$(touch x)]=1)",
        "export a[$(touch x)]=1",
    ]);
    let found = sh("a[$(touch x)]=1");
    assert!(programs(&found).contains(&"touch"), "{found:?}");
}

#[test]
fn literal_and_variable_subscripts_stay_allowed() {
    allowed(&[
        "a[0]=1",
        "a[$i]=1",
        "a[i+1]=1 ls",
        "a[$((i + 1))]=1",
        "a=([0]=x [1]=y)",
        "for ((i = 0; i < 3; i++)); do echo $((i + 1)); done",
        "[[ $x -eq 1 && -v x && $y == '$(z)' ]]",
        "test -v x",
        "read -r line; printf -v out '%s' \"$line\"; declare -a list=(a b)",
        "let i++",
    ]);
}

#[test]
fn arithmetic_operands_of_extended_tests_are_evaluated() {
    refused(&[
        "[[ 'a[$(touch x)]' -eq 1 ]]",
        "[[ 1 -lt 'X[$(touch x)]' ]]",
        "[[ 'a[`touch x`]' -ge 1 ]]",
        "[[ \"a[\\$(touch x)]\" -ne 1 ]]",
        "[[ -v 'a[$(touch x)]' ]]",
    ]);
    // A substitution is checked with its word; what it prints, evaluated, is a value built
    // at run time, as a variable's is (probe 142 F2).
    finds(
        "touch",
        &["[[ $(touch x) -le 1 ]]", "[[ 1 -eq \"`touch x`\" ]]"],
    );
}

/// Asserts that each script is checked without a problem, and runs `program`.
fn finds(program: &str, scripts: &[&str]) {
    for script in scripts {
        let found = sh(script);
        assert!(found.problems.is_empty(), "{script}: {found:?}");
        assert!(programs(&found).contains(&program), "{script}: {found:?}");
    }
}

/// The commands of a `$(…)` in arithmetic are checked where bash, dash and the parser read
/// the text alike, and refused elsewhere (probe 142 F2: `$(( $(date +%s) - START ))`).
#[test]
fn substitutions_in_arithmetic_are_checked_where_they_read_plainly() {
    finds(
        "touch",
        &[
            "echo $(( $(touch x) - START ))",
            "(( $(touch x) > 2 ))",
            "for (( i = $(touch x); i < 3; i++ )); do :; done",
            "echo $(( $(echo $((1+1)); touch x) * 2 ))",
            "(( a >($(touch x)) ))",
            "(( x = $((1)) + $(touch x) ))",
            "echo $(( ${#x} + $# + $(touch x) ))",
            "echo $(( $(if true; then touch x; fi) + 1 ))",
            "(( $(echo 1\ntouch x) > 0 ))",
        ],
    );
    refused(&[
        "echo ${a:-$(( $(touch x) ))}",
        "echo $(( $(echo \"$x\") + 1 ))",
        "echo $(( $(echo 1 # ) + 1 ))",
        "echo $(( $(echo 1;# ) + 1 ))",
        "echo $(( $(echo 1\n#\n) + $(touch x) ))",
        "echo $(( $(echo 1) + `touch x` ))",
        "echo $(( $(cat <<E\nE\n) ))",
        "echo $(( $(echo \\1) ))",
        "echo $(( $((echo 1) ) + $(echo 1) ))",
        // Probe 149 F3: the parser read the outer `$((` as text.
        "echo $(( $((rm y) ) ))",
        "x=$(( $((rm y) ) ))",
        "(( $(case a in a) touch x;; esac) ))",
    ]);
    // A template's `${{`, which bash refuses to expand, is no expansion left as text.
    allowed(&["git diff --name-only \"${{ github.event.before }}\" ${{ github.sha }}"]);
}

/// A `case` pattern without its `(` inside `$(…)`, which the parser does not read, is
/// refused with the fix (probe 142 F4).
#[test]
fn an_unread_case_pattern_is_told_its_fix() {
    let found = sh("k=$(case a in a) echo x;; esac)");
    assert!(found.problems[0].contains("`(x86_64) …;;`"), "{found:?}");
    allowed(&["k=$(case a in (a) echo x;; esac)"]);
}

/// A trap's action is checked as a script of the shell that sets it; printing, resetting
/// and ignoring run nothing (probe 142 F1).
#[test]
fn a_traps_action_is_checked_as_a_script() {
    finds(
        "touch",
        &["trap 'touch x' EXIT", "sh -c \"trap -- 'touch x' INT\""],
    );
    let found = sh("trap 'rm -rf \"$tmp\"' EXIT; trap -p; trap - INT; trap '' TERM");
    assert_eq!(
        programs(&found),
        ["bash", "trap", "rm", "trap", "trap", "trap"]
    );
    assert!(found.problems.is_empty(), "{found:?}");
    refused(&[
        "trap \"$cleanup\" EXIT",
        "trap 'rm $(' EXIT",
        "trap -x 'rm' EXIT",
    ]);
}

#[test]
fn names_given_to_builtins_are_evaluated() {
    refused(&[
        "printf -v 'a[$(touch x)]' x",
        "printf -v'a[`touch x`]' x",
        "declare 'a[$(touch x)]=1'",
        "typeset -a 'a[$(touch x)]=1'",
        "f() { local 'a[$(touch x)]=1'; }",
        "read 'a[$(touch x)]'",
        "mapfile 'a[$(touch x)]'",
        "unset 'a[$(touch x)]'",
        "let 'a[$(touch x)]=1'",
        "test -v 'a[$(touch x)]'",
        "op=-v; test $op 'a[$(touch x)]'",
        "wait -p 'a[$(touch x)]'",
        "command printf -v 'a[$(touch x)]' x",
    ]);
}

#[test]
fn builtins_that_run_text_are_refused() {
    refused(&[
        "mapfile -C 'touch x' -c 1 lines",
        "readarray -tC 'touch x' lines",
        "compgen -W '$(touch x)' w",
        "compgen -C 'touch x' w",
        "history -s 'touch x'; fc -s",
    ]);
}

#[test]
fn prompts_startup_files_and_preloads_are_refused() {
    refused(&[
        "x='$'; echo ${x@P}",
        "echo \"${a[@]@P}\"",
        "echo \"${LANG@\\\nP}\"",
        "echo ${LANG\\\n@\\\nP\\\n}",
        "PS4=$x; set -x; ls",
        "export PS4=\"$x\"",
        "read PS4",
        "PROMPT_COMMAND=ls",
        "BASH_ENV=/tmp/x bash -c ls",
        "export LD_PRELOAD=/tmp/x.so; ls",
        "env LD_AUDIT=/tmp/x.so ls",
        "LD_LIBRARY_PATH=/tmp ls",
        "env LD_LIBRARY_PATH=/tmp ls",
    ]);
}

#[test]
fn namerefs_and_integer_variables_are_refused() {
    refused(&[
        "declare -n ref=PATH; ref=/x",
        "f() { local -n ref=PATH; }",
        "declare -i n; n='PATH=1'",
        "typeset -ai n",
    ]);
    assert!(sh("declare -a list; declare +i n").problems.is_empty());
}

#[test]
fn loops_set_their_variable() {
    sets("PATH", &["for PATH in /evil; do ls; done"]);
}

#[test]
fn builtins_set_the_variables_they_are_given() {
    sets(
        "PATH",
        &[
            "printf -v PATH %s /evil; ls",
            "printf -vPATH %s /evil",
            "read PATH",
            "read -r -p 'dir: ' PATH",
            "read -a PATH",
            "mapfile PATH",
            "readarray -t PATH",
            "getopts ab PATH",
            "wait -p PATH",
            "declare 'PATH=/evil'",
            "export \"PATH=/evil:$PATH\"",
            "f() { local PATH; ls; }",
            "readonly PATH",
            "unset PATH",
            "command printf -v PATH %s /evil",
            "coproc PATH { ls; }",
        ],
    );
}

#[test]
fn arithmetic_sets_the_variables_it_assigns() {
    sets(
        "PATH",
        &[
            "(( PATH = 1 ))",
            "echo $((PATH += 1))",
            "let 'PATH = 1'",
            "let 'PATH++'",
            "for ((PATH = 0; PATH < 1; )); do ls; done",
            "a[PATH=1]=1",
            "[[ PATH=1 -eq 1 ]]",
            "test -v 'a[PATH=1]'",
        ],
    );
}

#[test]
fn a_variable_named_at_run_time_is_refused() {
    refused(&[
        "read \"$name\"",
        "declare \"$name=1\"",
        "printf -v \"$name\" x",
        "export \"$assignment\"",
        "(( $name = 1 ))",
        "echo $(( ${name}++ ))",
    ]);
}

#[test]
fn only_builtins_that_set_variables_report_them() {
    let found = sh("make CC=gcc; echo a=1");
    assert!(found.assignments.is_empty(), "{found:?}");
    assert_eq!(sh("export A=1 A=2").assignments, ["A"]);
}

#[test]
fn expansions_set_the_variables_they_assign() {
    sets(
        "PATH",
        &[
            ": ${PATH:=/evil}; ls",
            "echo \"${PATH=/evil}\"",
            "echo ${a[PATH=2]}",
            "echo ${x:PATH=1}",
            "echo ${x:0:PATH=1}",
        ],
    );
    refused(&["echo ${a['$(touch x)']}", "echo ${x:a['$(touch x)']}"]);
    let plain = sh("echo ${a[$i]} ${x:-y=1} ${x:1:2}");
    assert!(
        plain.problems.is_empty() && plain.assignments.is_empty(),
        "{plain:?}"
    );
}

/// What running `script` with the shell `shell` (`sh -c SCRIPT`) would run.
fn run_by(shell: &str, script: &str) -> Findings {
    check_argv(&[shell.to_owned(), "-c".to_owned(), script.to_owned()])
}

/// Whether `found` holds the command `words`.
fn holds(found: &Findings, words: &[&str]) -> bool {
    (found.commands.iter()).any(|command| command.iter().map(Word::text).eq(words.iter().copied()))
}

/// What running `words` would run.
fn argv(words: &[&str]) -> Findings {
    check_argv(
        &words
            .iter()
            .map(|word| (*word).to_owned())
            .collect::<Vec<_>>(),
    )
}

mod ansi_c;
mod argv0;
mod dialects;
mod expanded_twice;
mod loader;
mod multicall;
mod parser_traps;
mod refusals;
mod sandboxes;
mod shells;
mod unseen;
mod wrappers;

#[test]
fn a_checker_out_of_time_or_not_started_says_so_as_a_policy_test_reads_it() {
    use std::time::Duration;

    use crate::bounded::{Stopped, ran_out};

    // A policy test whose verdict came from the checker's runaway must fail (stop 55 left
    // the checker's own message unread).
    assert!(ran_out(&unchecked(Stopped::PastBound(
        Duration::from_secs(5)
    ))));
    assert!(ran_out(&unchecked(Stopped::Busy(2))));
    assert!(!ran_out(&unchecked(Stopped::Failed(
        "panicked: a bug".to_owned()
    ))));
}
