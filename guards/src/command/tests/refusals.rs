//! What is refused before or instead of parsing (nesting, words known only at run time,
//! what bash reads otherwise than the parser), and the common scripts that stay allowed.

use super::*;

#[test]
fn deeply_nested_subscripts_are_refused_quickly() {
    // The parser's time grows about twentyfold with each `${x[` level: 3000 levels would
    // never finish, so a test that ends shows the refusal came before parsing.
    let nested = |depth| {
        let mut word = "1".to_owned();
        for _ in 0..depth {
            word = format!("${{x[{word}]}}");
        }
        word
    };
    for depth in [5, 3000] {
        let word = nested(depth);
        for script in [
            format!("echo {word}"),
            format!("echo \"{word}\""),
            format!("a[{word}]=1"),
            format!("[[ {word} -eq 1 ]]"),
            format!("cat <<EOF\n{word}\nEOF"),
        ] {
            refused(&[&script]);
        }
    }
    allowed(&[
        &format!("echo {}", nested(2)),
        "echo \"${a[0]}${b[1]}${c[2]}${d[3]}\" ${x:-${y:-${z:-${w}}}} ${#a[@]}",
    ]);
}

#[test]
fn deep_parentheses_and_cases_are_refused_before_parsing() {
    // The parsers' time doubles or more with each level left open: 40 levels would never
    // finish, so that this test finishes shows the refusal comes before parsing.
    let deep = |open: &str| open.repeat(40);
    for (script, why) in [
        (deep("("), "nests `(` and `case`"),
        (format!("(( {}", deep("( ")), "nests `(` and `case`"),
        (
            format!("for (({};;)); do :; done", deep("(")),
            "nests `(` and `case`",
        ),
        (deep("case x in x) "), "nests `(` and `case`"),
        (deep("( case x in (x) "), "nests `(` and `case`"),
        (format!("[[ x =~ {} ]]", deep("(")), "nests `(` and `case`"),
        (format!("coproc {}", deep("(")), "nests `(` and `case`"),
        (format!("echo `{}`", deep("(")), "nests `(` and `case`"),
        (
            format!("cat <<EOF\n{}\nEOF", deep("$(")),
            "a here-document nests",
        ),
        // Arithmetic nested in arithmetic beside a `<<` is refused before it is parsed.
        (
            format!("cat <<EOF\n{}\nEOF", deep("$(( (")),
            "arithmetic nested in arithmetic",
        ),
        (
            format!("cat <<EOF\n{}\nEOF", deep("${x:-")),
            "a line break inside",
        ),
        (
            format!("cat <<EOF\n{}\nEOF", deep("$[")),
            "arithmetic nested in arithmetic",
        ),
        (
            format!("cat <<EOF\n{}\nEOF", deep("\"$(")),
            "a here-document nests",
        ),
        // A closer that may be quoted or escaped closes nothing.
        (
            format!("cat <<EOF\n{}\nEOF", deep("$(echo ')' \\) ")),
            "a here-document nests",
        ),
    ] {
        let found = sh(&script);
        assert!(
            found.problems.iter().any(|problem| problem.contains(why)),
            "{script}: {found:?}"
        );
    }
    // A `case` counts twice: three may nest, not four.
    let cases = |depth| "case x in x) ".repeat(depth) + &"echo;; esac; ".repeat(depth);
    allowed(&[
        "echo $( ( cd /tmp && ( ls; (echo \"$(date)\") ) ) )",
        "(cd a; (cd b; (cd c; (cd d; (cd e; (ls))))))",
        "(( x = (a + (b * (c - 1))) ))",
        &cases(3),
        "case $x in (a) (echo a);; (b) case $y in c) (ls);; esac;; esac",
        "cat <<EOF\n${a[$((i + 1))]} $(echo \"$(date)\") $(echo ')' \")\") (it's) ${x:-'}'}\nEOF",
    ]);
    refused(&[
        "(cd a; (cd b; (cd c; (cd d; (cd e; (cd f; (ls)))))))",
        &cases(4),
    ]);
}

#[test]
fn literal_text_with_a_command_in_a_subscript_is_refused_wherever_it_stands() {
    // Each hands `a[$(touch x)]` to bash arithmetic, which runs `touch x`.
    for words in [
        &["bash", "-c", "(( $1 ))", "x", "a[$(touch x)]"][..],
        &["bash", "-c", "[[ $1 -eq 0 ]]", "x", "a[$(touch x)]"],
        &[
            "bash",
            "-c",
            "echo ${!1} ${HOME:$1} ${HOME[$1]}",
            "x",
            "a[`touch x`]",
        ],
        &["bash", "-c", "echo $(( $0 ))", "a[$(touch x)]"],
        &["env", "LANG=a[$(touch x)]", "bash", "-c", "(( LANG ))"],
        &["sh", "-c", "agent \"$1\"", "_", "fix a[$(touch x)]"],
    ] {
        let found = argv(words);
        assert!(!found.problems.is_empty(), "{words:?}: {found:?}");
    }
    refused(&[
        "for LANG in 'a[$(touch x)]'; do (( LANG )); done",
        "printf -v LANG %s 'a[$(touch x)]'; (( LANG ))",
        "read LANG <<< 'a[$(touch x)]'; (( LANG ))",
        "read LANG <<'EOF'\na[$(touch x)]\nEOF\n(( LANG ))",
        "read LANG <<EOF\na[\\$(touch x)]\nEOF\n(( LANG ))",
        "set -- 'a[$(touch x)]'; (( $1 ))",
        "echo() { (( $1 )); }; echo 'a[$(touch x)]'",
        "f() { (( $1 )); }; f a[\\`touch\\ x\\`]",
        "f $'a[\\x24(touch x)]'",
        "env LANG='a[$(touch x)]' bash -c '(( LANG ))'",
        // The literal parts around an expansion, which may be empty.
        "f 'a['\"$x\"'$(touch x)]'",
    ]);
    // A subscript's substitutions in a script are commands, judged as such.
    assert!(programs(&sh("echo a[$(touch x)]")).contains(&"touch"));
}

/// Common CI and agent scripts (the probe's list) that must stay allowed.
const COMMON_SCRIPTS: &[&str] = &[
    "set -euo pipefail; cd \"$(dirname \"$0\")\"",
    "command -v jq >/dev/null || exit 1",
    "if [ -z \"${CI:-}\" ]; then echo local; fi",
    "VERSION=$(git describe --tags 2>/dev/null || echo dev); echo \"$VERSION\"",
    "while IFS= read -r line; do echo \"$line\"; done < /dev/null",
    "[[ \"$OSTYPE\" == darwin* ]] && echo mac",
    "case \"$1\" in -h|--help) echo usage;; *) :;; esac",
    "mkdir -p \"${OUT_DIR:?}\"",
    ": \"${VAR:=default}\"",
    "x=0; x=$((x+1)); ((x++)); echo $x",
    "arr=(a b); arr+=(\"c\"); echo \"${arr[-1]}\" \"${#arr[@]}\" \"${arr[@]:1}\"",
    "v=Hello; echo ${v,,} ${v^^} \"${v//l/L}\" \"${v#H}\"",
    "seq 1 10 | xargs -n1 -P4 echo",
    "sleep 0 & wait $!",
    "exec 3>&1; exec >>log 2>&1",
    "cat <<EOF > out.txt\n$HOME\nEOF",
    "diff <(echo a) <(echo b) || true",
    "echo \"$(date +%Y-%m-%d)\"",
    "[ \"$(id -u)\" -eq 0 ] && echo root",
    "test -n \"$(git status --porcelain 2>/dev/null)\" || echo clean",
    "for i in {1..5}; do echo $i; done",
    "python3 - <<'EOF'\nprint(1)\nEOF",
    "tar czf out.tgz . --exclude=out.tgz",
    "find . -name \"*.tmp\" -print0 | xargs -0 -r ls",
    "export PATH=\"$HOME/.local/bin:$PATH\"",
    "readonly X=1; local_fn() { local y=2; echo $y; }; local_fn",
    "echo \"::group::build\"; make -j\"$(nproc)\"; echo \"::endgroup::\"",
    "if ! git diff --quiet; then echo dirty; fi",
    "printf \"%s\\n\" \"${@}\"",
    "echo \"${BASH_SOURCE[0]}\" \"${FUNCNAME[0]:-main}\"",
    "cd \"${0%/*}\" && pwd",
    "declare -a arr=(); declare -A m=([a]=1); echo ${m[a]}",
    "for ((i=0;i<3;i++)); do echo $i; done",
    "echo $(( RANDOM % 10 ))",
    "[ -f x ] || { echo missing >&2; exit 1; }",
    "nohup sleep 1 >/dev/null 2>&1 &",
    "time ls",
    "timeout 60 ls",
    "env -u HOME ls",
    "git log --format=\"%H %s\" -n 3",
    "grep -rn \"TODO\" . || true",
    "echo \"{\\\"a\\\": 1}\" | python3 -c \"import json,sys; print(json.load(sys.stdin))\"",
    "echo ${#}",
    "IFS=, read -ra parts <<< \"a,b\"; echo \"${parts[0]}\"",
    "echo {a,b}.txt",
    "echo \"a\"{\"b\",c}",
    "echo \"[$(date +%T)] ${a[$((i + 1))]} ${a[$i]}\"; awk '{ n[$1]++ } END { print $(NF) }' f",
];

#[test]
fn common_scripts_stay_allowed() {
    allowed(COMMON_SCRIPTS);
}

#[test]
fn a_brace_expansion_among_a_builtins_options_is_refused() {
    // bash runs `printf -v BASH_CMDS[ls] /usr/bin/touch`: `ls` then runs `touch`.
    refused(&[
        "printf {-v,BASH_CMDS[ls]} /usr/bin/touch; ls x",
        "printf {\"-v\",PATH} /x",
        "wait {-p,PATH}",
        "declare {-n,r}=PATH",
        "mapfile {\\-C,'touch x'} -c 1 lines",
    ]);
    allowed(&["printf '%s\\n' {a,b}; wait -- $pid; declare -a x=({1..3})"]);
}

#[test]
fn a_word_known_only_at_run_time_among_a_builtins_options_is_refused() {
    // bash runs `printf -v BASH_CMDS[ls] /usr/bin/touch`: `ls` then runs `touch`.
    refused(&[
        "o=-v; printf $o BASH_CMDS[ls] /usr/bin/touch; ls x",
        "printf \"$o\" PATH /x",
        "printf \"$fmt\" x",
        "printf \"${RED}x\" y",
        "printf $(echo -v) PATH /x",
        "printf ${o}PATH /x",
        "printf --$o PATH /x",
        "printf -$o PATH /x",
        "printf * x",
        "printf ?v PATH x",
        "printf ~ x",
        "printf @(-v) PATH x",
        "printf -v x %s; printf $o PATH x",
        "o=-C; compgen $o 'touch x' w",
        "compgen -c \"$p\"",
        "complete $o 'touch x' ls",
        "wait $o PATH",
        "wait \"$pid\"",
        "wait $! $o PATH",
        "wait $! -p PATH",
        "getopts $! BASH_CMDS[ls]",
        "o=-so; shopt $o histexpand",
        "shopt -s $o",
        "shopt -s \"$o\" x",
        "declare +x \"$o\" x",
        "bind $o '\"a\": touch x'",
        "bind -x '\"a\": touch x'",
        "getopts $spec opt",
        "getopts -- $spec opt",
        "getopts \"$spec\" opt \"$@\"",
        "getopts -- \"$@\" opt",
        "command printf $o PATH x",
    ]);
    allowed(&[
        "printf \"%s\\n\" \"$x\"",
        "printf -- \"$fmt\" x",
        "printf \"x$y\" z",
        "printf \"+%s\\n\" \"$x\"",
        "printf '%s: %s\\n' \"$a\" \"$b\" -v",
        "printf x* -v",
        "read -r line",
        "read -rp \"$prompt\" line",
        "export PATH=\"$PATH:/x\"",
        "echo \"$x\"; echo $x",
        "wait $!; wait \"$!\"; wait -- \"$pid\"; wait %1; wait",
        "getopts \"$spec\" opt; getopts -- \"$spec\" opt \"$@\"",
        "compgen -c -- \"$p\"",
        "shopt -s nullglob; shopt -u -- \"$o\"",
        "set -- $x",
        "local x=\"$1\"",
    ]);
}

#[test]
fn what_bash_reads_otherwise_than_the_parser_is_refused() {
    refused(&[
        // Inside backticks `\\` is one backslash to bash: `\\'` a quote, so bash runs `touch`.
        "echo `echo \\\\'; touch /tmp/x; echo \\\\'`",
        "echo \"`echo \\\\\"; touch /tmp/x; echo \\\\\"`\"",
        "echo `\\\\eval 'touch /tmp/x'`",
        "cat <<EOF\n`echo \\\\'; touch /tmp/x; echo \\\\'`\nEOF",
        // In a BIG5 locale `䡡\` is one character: the quote after it ends the string.
        "echo \"䡡\\\"; touch /tmp/x #\"",
        "echo 䡡`touch /tmp/x`",
        // `$"…"` is translated from a catalog the script may write, and its `$(…)` run.
        "echo $\"hello\"",
        // The parser keeps a process substitution in an extended glob or a `=~` group as
        // text; bash runs it (probe 51 F1: `[[ ]]` reads `@(…)` without `shopt -s extglob`).
        "[[ a == @(a|<(touch M)) ]]",
        "[[ a != !(>(touch M)) ]]",
        "[[ a =~ (<(touch M)) ]]",
        "[[ a =~ x(>(touch M)) ]]",
        // A brace expansion builds what bash expands after it (probe 53 F3, F4): a `${…}`
        // that sets `BASH_CMDS`, a `$(…)`, a `<(…)` in an extended glob.
        "echo {$,}{BASH_CMDS[ls]:=/bin/rm}; ls x",
        "echo {$,}(touch M)",
        "shopt -s extglob; echo @(<{,}(touch M))",
        "shopt -s extglob; echo @({<,x}(touch M))",
        // A backslash-newline between `<` and `(`: bash drops it before it reads the word.
        "[[ a == @(a|<\\\n(touch M)) ]]",
        "shopt -s extglob; echo @(a|<(touch M))",
        "shopt -s extglob; x=+(<(touch M))",
        "shopt -s extglob; a=(*(<(touch M)))",
        "shopt -s extglob; case a in ?(<(touch M))) :;; esac",
        "shopt -s extglob; for i in @(<(touch M)); do :; done",
        "shopt -s extglob; cat > @(<(touch M))",
        "shopt -s extglob; cat <<< @(<(touch M))",
        // Inside `${…}` the tokenizer reads a here-document, arithmetic or an extended
        // pattern where bash reads text (probe 54 F1, F3, F6), also in quotes.
        "echo ${x:-<<echo}\nrm x\necho",
        "echo \"${x#<<-E}\"\nrm x\nE",
        "echo ${x:-*(}; rm x #)}",
        "echo ${x:-${y}@(}; rm x #)}",
        "echo ${x:-'}'<<E}\nrm x\nE",
        "echo ${x:-((}\ncat <<'EOF'\n'\nEOF\nrm x\necho '",
        "echo ${x:-$((}; rm x #))}",
        // A `))` in it ends the tokenizer's arithmetic, and a shift becomes a document
        // (probe 161 F1).
        "echo \"$(( ${x:-))} << 2 ))\n\"\nrm x\n2",
        "echo \"$(( ${x/))/} <<E ))\n\"\nrm x\nE",
        "x=1; echo \"$(( ${x:-))} << 2 ))\n\"\ntouch y\n2",
        // The tokenizer ends an extended pattern at a `)` bash reads quoted (F2, F4).
        "[[ a == @(x|')') ]] || rm x #\\' ]]",
        "(( a*(')') )); rm x #\\' ))",
        "[[ a == !(\"(\") ]]",
        "[[ a == +(x|'a) ]]",
        "[[ a == @(a|$'\\'(x'|b) ]] || rm x #' ) ]]",
        // The tokenizer's own states (probe 57): a `$'` after `$$` or `\$`, a here-document
        // delimiter whose inner quote bash keeps, arithmetic nested or left open beside a
        // `<<`, a `<<` or a comment in a `=~` group.
        "echo $$'\\'; rm x; #''\\'",
        "echo \\$'\\'\nrm x\n#''\\'",
        "cat <<'E\"X'\nE\"X\nrm x\n: <<'EX'\nEX",
        "cat <<\"E\\X\"\nE\\X\nrm x\n: <<EX\nEX",
        "echo $(( $((1)) <<true ))\nrm x\ntrue",
        "(( 1 + $[2] <<E ))\nrm x\nE",
        "[[ ((a == b) ) ]]; cat <<'EOF'\n'\nEOF\nrm x\necho '",
        "[[ x =~ (a <<E) ]]\nrm x\nE",
        "[[ x =~ (a #) ]] || rm x\n) ]]",
        // A comment that comments out the `)` of its `$(…)`: bash does not parse it either.
        "echo \"$(echo a; #)\" '\nrm x\n) #'",
        // A line break inside a `${…}` while a here-document is pending (probe 59 F1, 60
        // F1), also past a quoted `}`.
        "if ls; then cat <<E; fi && echo ${x:-\n}; rm x\nE\n#}; fi",
        "cat <<E; echo ${x:-'}'\n}; rm x\nE\n#}",
        // A `#` after a blank in arithmetic: a comment for the tokenizer, not for bash
        // (probe 61 F1).
        "(( #$(rm x)\n1 ))",
        // A `((` inside `$(…)` leaves the tokenizer's arithmetic on (probe 63 F1).
        "echo $( ((1)) ); cat <<E\n'\nE\nrm x #'",
        "echo \"$( (( 1 )) )\"\ncat <<'E'\n'\nE\nrm x #'",
        "echo \"$(( 1 #$(rm x)\n))\"",
        // bash reads a `[` after a name where a command may start, and one starting an
        // array's element, on to the `]` that closes it (probe 64 F2, F3); it ends `$[` at
        // its matching `]`, the tokenizer at the first (F1).
        "x[/ls #]; rm x",
        "LANG=C x[/ls #]; rm x",
        "x[/bin/ls <<E ]\nrm x\nE",
        "echo `x[/ls #]; rm x`",
        "echo \"$(x[/ls #]; rm x\n)\"",
        "LANG=([0 #]=C) ls; (rm x\n)",
        "declare -a a=([0 #]=C) ls; (rm x\n)",
        "echo case; LANG=([0 #]=C) ls; (rm x\n)",
        "LANG[[]=C #]; rm x",
        "LANG=C LANG[[]=C ls #]; rm x",
        "echo `LANG[[]+=C #]; rm x`",
        "echo $[a[1] <<E ]\nrm x\nE",
        "ls $[a[1]<<E ]\nrm x\nE",
        "echo $[a[1] #]; rm x",
        // A `]` quoted, escaped or inside an expansion closes nothing (probe 139 F1).
        "a[']'[]= #]; rm x",
        "a[\"]\"[]= #]; rm x",
        "a[\\][]= #]; rm x",
        "a[${x#]}[]= #]; rm x",
        "a[$(echo ])[]= #]; rm x",
        "a[}${x#]}[]= #]; rm x",
        "a=([']' #]=C); (rm x\n)",
        "a=([\\] #]=C); (rm x\n)",
    ]);
    allowed(&[
        "a[$i]=1; a[${#a[@]}]=2; a[$((i + 1))]=3; a[i+1]=4",
        "[[ a == @(a|b) ]] && [[ a =~ ^(a|b)$ ]] && [[ a == \"<(x)\" ]]",
        "echo ${x:-$((1 + 2))} ${a[$((n-1))]} \"${HOME}\"/{x,y}; cat <<EOF\n${x}\nEOF",
        "[[ $x == *.@(jpg|'png') ]] && ls *.txt && echo $(ls \\#x) \"$(grep -c '#' f)\"",
        "a[1]=x; a=([0]=y [2]=z); echo ${a[1]} $(( a[2] )); [ -f x ] && ls",
        // A comment that ends before the substitution's last line, a here-document's body.
        "echo \"$(cat <<'EOF'\nfix: the thing (#123)\n\n## Summary\nEOF\n)\" $(ls # all\n)",
        "[[ a == @(a|\\<(x)|<\"\"(x)) ]]",
        "cp a.{txt,bak} \"$d\"/{x,y}.$n; echo {1..3}${x} '{$,}' {\\$,}x",
        "echo `date`",
        "echo \"$(printf '%s\\\\n' a)\"",
        "echo \"héllo\" \\\n  wörld 😀 | tr a b",
        "echo 'ü' \"[x]\"",
    ]);
}

/// A `#` after a blank inside `$(…)` starts a comment for bash, and for the vendored
/// tokenizer since its backport of upstream's fix (an odd number of blanks before it left a
/// word in progress, probe 54 F5): the `rm` the comment's quote hid is found.
#[test]
fn a_comment_after_a_blank_in_a_substitution_is_read_as_bash_reads_it() {
    for script in [
        "echo $( #) '\nrm x\n) #'",
        "x=$( # it's the list\n  echo a; rm x\n)",
    ] {
        let found = sh(script);
        assert!(programs(&found).contains(&"rm"), "{script}: {found:?}");
    }
    allowed(&["x=$( # it's the list\n  echo a\n)\necho \"$x\""]);
}

/// A `$(…)` whose `)` a here-document's body inside it took made the tokenizer panic (probe
/// 162 F1); the vendored copy returns an error, so the script is refused as not parsing, as
/// bash and dash refuse it.
#[test]
fn a_substitution_closed_in_a_documents_body_does_not_parse() {
    for script in ["x=$(cat <<'EOF'\n)\nEOF\n", "echo $(cat <<E\n)\nrm x\nE"] {
        let found = sh(script);
        let parse = (found.problems.iter()).any(|problem| problem.contains("does not parse"));
        assert!(parse, "{script}: {found:?}");
    }
}

/// bash evaluates the text a `${…}` gives inside arithmetic together with what follows it,
/// and a subscript there runs the `$(…)` the two spell (probe 166 F1): an operand holding a
/// `$`, a backquote, a quote or a backslash is refused; a plain default, a length, a
/// subscript of the parameter itself are not.
#[test]
fn an_operand_that_may_spell_a_substitution_in_arithmetic_is_refused() {
    refused(&[
        "echo $(( ${x-a[$}(rm x)] ))",
        "(( ${x-a[$}(rm x)] ))",
        "echo \"$(( ${x-a[$}${y-(rm x)]} ))\"",
        "echo $(( ${x:-'a[$'}(rm x)] ))",
        "echo $[ ${x-a[$}(rm x)] ]",
        "echo $(( ${é-a[$}(rm x)] ))",
    ]);
    allowed(&["echo $(( ${x:-0} + ${#a[@]} + ${a[$i]} + ${#} + ${!n} ))"]);
    // Probe 167 F1: a `$` that starts no expansion, kept in the text bash evaluates.
    refused(&[
        "(( a\"[$\"(rm x)] ))",
        "echo $(( \"a[$\"(rm x)] ))",
        "for (( a\"[$\"(rm x)];0; )); do :; done",
        "echo $(( a[\\$\"(rm x)\"] ))",
        "echo $(( ${x-a[}\"$\"(rm x)] ))",
    ]);
    allowed(&["echo $(( $a + ${b} + $1 + $# + $$ + \"$c\" + ( $d ) ))"]);
}

/// The scans before parsing read on from each `${`, `$((`, `$[`, `=~` and backslash-newline,
/// at worst to the text's end: a script holding thousands took the checker past its time
/// (probe 173 F1: `echo '\⏎${${…'`), so more than `MAX_OPENINGS` are refused at once.
#[test]
fn a_script_with_thousands_of_openings_is_refused_at_once() {
    let many = format!("echo '\\\n{}'", "${".repeat(32_000));
    let found = sh(&many);
    assert!(
        found
            .problems
            .iter()
            .any(|problem| problem.contains("more than 512")),
        "{:?}",
        found.problems
    );
    allowed(&[&format!("x=1; echo {}", "\"${x}\" ".repeat(500))]);
}
