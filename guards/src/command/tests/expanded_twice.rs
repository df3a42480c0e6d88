//! Where bash expands a value a second time, running a command substitution it holds though
//! the script only expands a variable: an older bash's compatibility, `let` and `test -v`,
//! compound assignments' keys, bash's integer variables, `declare` of an array, and a prompt
//! expansion in a subscript (probe 8 of stop 55: each ran `touch` under a policy denying it).

use super::*;

#[test]
fn an_older_bash_s_compatibility_is_refused() {
    refused(&[
        "BASH_COMPAT=51; read -r i; (( a[$i] ))",
        "export BASH_COMPAT=5.1",
        "shopt -s compat44; read -r i; (( a[$i] ))",
        "shopt -s extglob compat43",
        "shopt -s \"$o\"",
        "shopt -s -- \"$o\"",
    ]);
    allowed(&[
        "shopt -s extglob nullglob",
        "shopt -u compat44",
        "shopt compat44",
    ]);
    let env = argv(&["env", "BASH_COMPAT=50", "bash", "-c", "true"]);
    assert!(!env.problems.is_empty(), "{env:?}");
}

#[test]
fn a_prompt_expansion_in_a_subscript_of_any_text_is_refused() {
    let found = argv(&["bash", "-c", "(( $1 ))", "_", "a[${X@P}]"]);
    assert!(!found.problems.is_empty(), "{found:?}");
    let found = argv(&["bash", "-c", "(( $1 ))", "_", "a[${X}] b", "${X@P}"]);
    assert!(found.problems.is_empty(), "{found:?}");
}

#[test]
fn let_and_test_v_refuse_an_expansion_in_a_subscript() {
    refused(&[
        "let \"a[$i]\"",
        "let \"x = a[$i] + 1\"",
        "test -v \"a[$i]\"",
        "[ -v \"a[$i]\" ]",
        "op=-v; test $op \"a[$i]\"",
    ]);
    allowed(&[
        "let \"i = $j + 1\"",
        "let i++",
        "test -v x",
        "[[ -v a[$i] ]]",
        "(( a[$i] ))",
    ]);
}

#[test]
fn a_compound_assignment_s_keys_must_be_literal() {
    refused(&[
        "a=([$i]=1)",
        "a+=([\"$i\"]=1)",
        "declare -a a=([$i]=1)",
        "f() { local a=([$i]=1); }; f",
        "declare -A m=([$k]=v)",
    ]);
    allowed(&[
        "a=([0]=x [1]=\"$y\")",
        "a[$i]=1",
        "a+=(\"$x\")",
        "declare -A m=([k]=$v)",
    ]);
}

#[test]
fn bash_s_integer_variables_take_only_literal_values() {
    refused(&[
        "RANDOM=\"a[$i]\"",
        "SRANDOM=$x",
        "export OPTIND=\"$x\"",
        "HISTCMD=a[$i]",
        "read -r RANDOM",
        "printf -v OPTIND %s \"$x\"",
        "for RANDOM in $x; do :; done",
        "f() { local OPTIND=\"$1\"; }",
    ]);
    allowed(&[
        "RANDOM=42; OPTIND=1",
        "f() { local OPTIND; getopts ab o; }",
        "SECONDS=\"$x\"; LINENO=\"$x\"",
        "(( RANDOM = i ))",
    ]);
}

#[test]
fn an_array_given_a_value_known_only_at_run_time_by_declare_is_refused() {
    refused(&[
        "declare -a a=\"$x\"",
        "typeset -A m=$x",
        "readonly -a a=\"$x\"",
        "f() { local -a a=\"$1\"; }",
        "declare -ga \"a=$x\"",
        "a=(); declare a=\"$x\"",
        "declare -x a=\"$x\"; a[1]=2",
        "read -ra a; export a=\"$x\"",
        "mapfile a; local a=$x",
        "declare PIPESTATUS=\"$x\"",
        "declare -a a=\"($x)\"",
        "declare -a \"a=($x)\"",
    ]);
    allowed(&[
        "f() { local dir=\"$1\"; }",
        "export PATH=\"$PATH:/opt/bin\"",
        "a=(1 2); declare b=\"$x\"",
        "declare -a a=\"x$y\"",
        "declare -a list=(a \"$b\")",
        "readonly x=\"$(date)\"",
    ]);
}

#[test]
fn a_shell_started_with_history_expansion_or_an_older_compatibility_is_refused() {
    // Probe 10 G2, G3: what the script's own `set -H` and `shopt -s compat44` do.
    for args in [
        &["bash", "-O", "compat44", "-c", "(( a[$i] ))"][..],
        &["bash", "-cO", "compat44", "(( a[$i] ))"],
        &["bash", "-H", "-c", "set -o history; echo !!"],
        &["bash", "-xH", "-c", "true"],
        &["bash", "-o", "histexpand", "-c", "true"],
        &["su", "root", "--", "-O", "compat44", "-c", "true"],
    ] {
        let found = argv(args);
        assert!(!found.problems.is_empty(), "{args:?}: {found:?}");
    }
    refused(&["bash -O \"$o\" -c true"]);
    for args in [
        &["bash", "-O", "extglob", "-c", "true"][..],
        &["bash", "+O", "compat44", "-c", "true"],
        &["bash", "+H", "-c", "true"],
        &["bash", "-o", "pipefail", "-c", "true"],
    ] {
        let found = argv(args);
        assert!(found.problems.is_empty(), "{args:?}: {found:?}");
    }
}

#[test]
fn arithmetic_in_an_expansion_s_operand_assigns_as_anywhere() {
    // Probe 12 H3: `${x/a/$((BASH_COMPAT=44))}` set the compatibility level unseen.
    refused(&[
        "x=a; echo ${x/a/$((BASH_COMPAT=44))}",
        "echo ${x#$((BASH_COMPAT=44))}",
        "echo \"${x:+$((BASH_COMPAT=44))}\"",
        "echo ${x^^$[BASH_COMPAT=44]}",
    ]);
    for script in [
        "echo ${x/a/$((PATH=0))}",
        "echo ${x%%$((PATH=0))}",
        "echo ${x,$((PATH++))}",
    ] {
        sets("PATH", &[script]);
    }
    allowed(&["echo ${a[$((n - 1))]} ${x/a/$((n + 1))}"]);
}

#[test]
fn an_expansion_nested_in_another_s_operand_is_checked_as_one() {
    // Probe 12 H4: `${x:-${BASH_CMDS[ls]:=/usr/bin/touch}}` made `ls` run `touch`.
    refused(&[
        "echo ${x:-${BASH_CMDS[ls]:=/usr/bin/touch}}; ls",
        "echo \"${x:-${BASH_CMDS[ls]:=/usr/bin/touch}}\"",
        "echo ${x/a/${BASH_COMPAT=44}}",
        "echo ${x:-${y:-${PS4:=x}}}",
        "echo ${x#${a[$(touch y)]}}",
        "echo ${x:-${a[BASH_COMPAT=44]}}",
        "echo ${x:-${y:BASH_COMPAT=44:0}}",
        "set -a; echo ${x:-${BASH_ENV:=./evil.sh}}",
    ]);
    sets("PATH", &["echo ${x:+${PATH:=/evil}}"]);
    allowed(&["echo ${x:-${HOME}/bin} ${y/#\\~/${HOME}}"]);
}

#[test]
fn an_expansion_nested_in_a_here_document_or_string_is_checked_too() {
    refused(&[
        "read x <<< \"${x:-${BASH_CMDS[ls]:=/usr/bin/touch}}\"; ls",
        "read x <<EOF\n${x:-${BASH_CMDS[ls]:=/usr/bin/touch}}\nEOF\nls",
        "cat <<EOF\n${BASH_CMDS[ls]:=/usr/bin/touch}\nEOF\nls",
    ]);
}

/// bash evaluates the text an expansion gives in arithmetic together with what follows it,
/// and expands a subscript the two spell: `v='a[$'; (( ${v}(rm x)] ))` ran `rm x` (probe 169
/// F1), the `$` and the `(` never side by side in the script.
#[test]
fn an_expansion_joined_to_what_follows_in_arithmetic_is_refused() {
    refused(&[
        "v='a[$'; (( ${v}(rm x)] ))",
        "v='a[$'; (( $v(rm x)] ))",
        "v='$'; echo $(( ${x-a[}$v(rm x)] ))",
        "for v in 'a[$'; do (( ${v}(rm x)] )); done",
        "printf -v v %s 'a[$'; (( ${v}(rm x)] ))",
        ": 'a[$'; (( $_(rm x)] ))",
        "v='a[$'; x=abc; echo ${x:${v}(rm x)]}",
        "v='a[$'; [[ ${v}'(rm x)]' -eq 1 ]]",
        "v='a[$'; for (( ${v}(rm x)]; 0; )); do :; done",
        "v='a[$'; (( ${v}\\\n(rm x)] ))",
        "v='$'; (( a\"[\"$v(rm x)] ))",
        "v='a[$'; w='(rm x)]'; (( ${v}${w} ))",
        "v='a[$'; (( $v\"(rm x)]\" ))",
    ]);
    // `\044` is `$` in a prompt string: `${x@P}` spelled across the join (probe 171 F1).
    refused(&[
        "x='\\044(rm y)'; v='a[$''{x@P'; (( ${v}}] ))",
        "x='\\044(rm y)'; v='a[${x@'; echo $(( 1 + ${v}P}] ))",
        "x='\\044(rm y)'; v='a[${x'; [[ ${v}@P}] -eq 1 ]]",
        "x='\\044(rm y)'; for v in 'a[${x@P'; do [[ 1 -lt ${v}}] ]]; done",
    ]);
    for (script, value) in [("(( $1(rm x)] ))", "a[$"), ("(( $1}] ))", "a[${x@P")] {
        let found = argv(&["bash", "-c", script, "_", value]);
        assert!(!found.problems.is_empty(), "{found:?}");
    }
    allowed(&[
        "(( ${#a[@]} > 0 )) && echo $(( ${x:-0} + 1 ))",
        "echo $(( 10#$v + ${w} * 10 )); (( a[$i] += $n ))",
        "[[ \"$x\" -eq 1 ]]; echo ${s:$off:$len}",
    ]);
}

/// Escapes that `printf`, `echo -e` and `${x@E}` decode spell a subscript's `$(…)` as
/// `$'…'` does (probe 171 F2, F3: `printf -v v 'a[\044(rm y)]'; (( v ))` ran `rm y`).
#[test]
fn a_subscript_spelled_by_escapes_is_refused_wherever_it_stands() {
    refused(&[
        "printf -v v 'a[\\044(rm y)]'; (( v ))",
        "printf -v v '%b' 'a[\\044(rm y)]'; (( v ))",
        "printf -v v 'a[\\x24(rm y)]'; echo $(( v + 1 ))",
        "printf -v v 'a[\\140rm y\\140]'; (( v ))",
        "n=$(printf 'a[\\044(rm y)]'); (( n ))",
        "n=$(echo -e 'a[\\x24(rm y)]'); [[ n -eq 0 ]]",
        "x='a[\\044(rm y)]'; (( ${x@E} ))",
        "x='a[\\044(rm y)]'; b[${x@E}]=1",
    ]);
    // Decoded twice, spelled by printf's conversions, by a brace expansion, or with text a
    // `${x/…}` takes out (probe 172 F1–F4).
    refused(&[
        "printf -v v 'a[\\\\x24(rm y)]'; (( ${v@E} ))",
        "printf -v v 'a[$%s(rm y)]'; (( v ))",
        "for v in {a,b}'[$(rm y)]'; do (( v )); done",
        "for v in a{'[',x}'$(rm y)]'; do (( v )); done",
        "for v in a{'[$',}'(rm y)]'; do (( v )); done",
        "x='a[$x(rm y)]'; (( ${x/x} ))",
    ]);
    allowed(&[
        "printf '\\033[1;31merror\\033[0m %s\\n' \"$x\"; echo -e 'a[\\x2a]'",
        "printf '%s[%d]\\n' \"$n\" \"$i\"; echo {a,b}[1] \"${a[$((i + 1))]}\"",
        "awk '{ n[$1]++ } END { for (k in n) printf \"%s,%d\\n\", k, n[k] }' f",
    ]);
}
