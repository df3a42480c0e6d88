//! Programs that run the words they are given (`env`, `sudo`, `xargs`, `find -exec`, `time`,
//! `jobs -x`): what each would run.

use super::*;

#[test]
fn what_the_parser_misreads_is_refused() {
    refused(&[
        // bash joins `EO\` and `F` into the delimiter; the parser reads on.
        "cat <<EOF\nEO\\\nF\ntouch x\nEOF\n",
        "cat <<-EOF\n\tEO\\\nF\ntouch x\nEOF\n",
        "cat <<EOF\nEOF\\\n\ntouch x\nEOF\n",
        // bash reads a `#` after these `)` as part of the word, the parser as a comment.
        "cat <(true)#; touch x",
        "cat >(true)#; touch x",
        "echo <(true)#x; touch x",
        "cat < <(true)#; touch x",
        "a=(b)#; touch x",
        "x=1 a+=(b)#; touch x",
        "declare a=(b)#; touch x",
        // bash removes a backslash-newline before it reads the word.
        "cat <(true)\\\n#; touch x",
        "echo hi >(true)\\\n#; touch x",
        "HOME=(b)\\\n#; touch x",
        "a=(b)\\\n\\\n#; touch x",
    ]);
    allowed(&[
        "diff <(ls) <(ls -a); while read -r l; do echo \"$l\"; done < <(ls)",
        "cat <(true) # a comment",
        "cat <(true) \\\n# a comment",
        "diff <(ls) \\\n  <(ls -a)",
        "( ls )# a comment",
        "a=(1 2); a+=(3); declare -a b=( x y ) # c",
        "cat <<'EOF'\nEO\\\nF\nEOF\n",
        "echo é; (( x = 1 )); cat <(true)",
    ]);
}

#[test]
fn a_here_document_delimiter_with_dollar_quotes_is_refused_in_every_shell() {
    // bash 5.2 ends `<<$'EOF'` at `EOF` and runs the lines after it; dash and the parser end
    // it at `$EOF`, so each shell runs a line the other reads as the document.
    let scripts = [
        "cat <<$'EOF'\nEOF\ntouch x\n$EOF\n",
        "cat <<E$'OF'\nEOF\ntouch x\nE$OF\n",
        "cat <<-$'EOF'\n\tEOF\ntouch x\n$EOF\n",
        "cat <<$''\n\ntouch x\n$\n",
        "cat <<$\"EOF\"\nEOF\ntouch x\n$EOF\n",
        "echo $(cat <<$'EOF'\nEOF\ntouch x\n$EOF\n)",
        "cat <<$'E'\n$E\ntouch x\nE",
        "cat <<$\"E\"\n$E\ntouch x\nE",
    ];
    for shell in ["bash", "rbash", "sh", "dash", "ksh", "zsh"] {
        for script in scripts {
            let found = run_by(shell, script);
            assert!(
                !found.problems.is_empty(),
                "{shell} -c {script:?}: {found:?}"
            );
        }
    }
    allowed(&["cat <<'EOF'\n$x\nEOF\ncat <<\"E\"\nE\ncat <<E\n$'a'\nE"]);
}

#[test]
fn env_splits_its_string_as_env_does() {
    for (words, command) in [
        (&["env", "-S", "-i rm x"][..], &["rm", "x"][..]),
        (&["env", "-vS", "-i rm x"], &["rm", "x"]),
        (&["env", "--split-string=-i rm x"], &["rm", "x"]),
        (&["env", "-S", "-- rm x"], &["rm", "x"]),
        (&["env", "-S", "'-i' rm"], &["rm"]),
        (&["env", "-S", "-C/tmp rm x"], &["rm", "x"]),
        (&["env", "-S", "-u X rm x"], &["rm", "x"]),
        (&["env", "-iS", "-S 'rm x' y"], &["rm", "x", "y"]),
        (
            &["env", "-S", "ls 'a b' \"c\" '' d#e #f", "g"],
            &["ls", "a b", "c", "", "d#e", "g"],
        ),
    ] {
        let found = argv(words);
        let last = (found.commands.last()).map(|last| last.iter().map(Word::text).collect());
        assert_eq!(last, Some(command.to_vec()), "{words:?}: {found:?}");
        assert!(found.problems.is_empty(), "{words:?}: {found:?}");
    }
    assert_eq!(sh("env -S \"A=1 B='x y' ls\"").assignments, ["A", "B"]);
    for words in [
        &["env", "-S", "rm\\_x"][..],
        &["env", "-S", "ls ${X}"],
        &["env", "-S", "ls 'a"],
        &["env", "-S"],
        &["env", "A=1", "-S", "rm x"],
    ] {
        let found = argv(words);
        assert!(!found.problems.is_empty(), "{words:?}: {found:?}");
    }
}

#[test]
fn a_redirection_naming_a_descriptor_sets_its_variable() {
    sets(
        "PATH",
        &[
            "true {PATH}>/dev/null; ls",
            "echo hi {PATH}>/dev/null",
            "exec {PATH}<&0",
            "{PATH}>/dev/null ls",
            "cat {PATH}<<<x",
        ],
    );
    // The word after it is the program.
    assert_eq!(programs(&sh("{X}>/dev/null rm x"))[1..], ["rm"]);
    refused(&[
        "true {a[$(touch x)]}>/dev/null",
        "true {BASH_ENV}>/dev/null",
    ]);
    // A space or a non-name: a plain word.
    for script in ["true {PATH} >/dev/null", "echo {a,b}>x", "true {1x}>y"] {
        let found = sh(script);
        assert!(
            found.assignments.is_empty() && found.problems.is_empty(),
            "{script}: {found:?}"
        );
    }
}

#[test]
fn indirect_assignments_are_refused() {
    refused(&["X=BASH_ENV; : ${!X:=/tmp/e.sh}", ": \"${!X=1}\""]);
    assert!(sh("echo ${!X} ${!X:-y}").problems.is_empty());
}

#[test]
fn arithmetic_expansions_inside_expansions_are_arithmetic() {
    allowed(&[
        "echo ${arr[$((n-1))]}",
        "echo ${x:-$((1+1))} ${s:$((i+1)):2}",
        "(( x = $((1+2)) ))",
        "echo $(( $((1+2)) * 3 ))",
    ]);
    refused(&[
        "echo ${x:-$((echo hi) )}",
        "echo ${x:-$(((1)))}",
        "(( x = $(( (1) )) ))",
        "echo ${x:-$((1)) $(touch x)}",
    ]);
}

#[test]
fn env_and_sudo_read_every_word_holding_an_equals_sign_as_an_assignment() {
    for (words, set) in [
        (&["env", "1=/echo", "touch", "x"][..], "1"),
        (&["env", "-i", "A-B=/ls", "touch", "x"], "A-B"),
        (&["env", "-", "=/echo", "touch", "x"], ""),
        (&["env", "-S", "1=/echo touch x"], "1"),
        (&["sudo", "1=/echo", "-u", "root", "touch", "x"], "1"),
    ] {
        let found = argv(words);
        assert_eq!(
            programs(&found).last(),
            Some(&"touch"),
            "{words:?}: {found:?}"
        );
        assert!(
            found.assignments.iter().any(|name| name == set),
            "{words:?}: {found:?}"
        );
    }
    refused(&[
        "env 'BASH_FUNC_ls%%=() { touch x; } #/echo' bash -c ls",
        "sudo 'BASH_FUNC_ls%%=() { touch x; }' bash -c ls",
        // env runs a word after its assignments as the program, never as an option.
        "env A=1 -i touch x",
    ]);
    // sudo runs a word starting with `/` as its command, `=` or not.
    assert_eq!(programs(&argv(&["sudo", "/x=y", "ls"]))[1..], ["/x=y"]);
}

#[test]
fn wrapper_options_that_set_variables_report_them() {
    for words in [
        &["xargs", "--process-slot-var=PATH", "ls"][..],
        &["xargs", "--process-slot-var", "PATH", "ls"],
        &["xargs", "--process-slot", "PATH", "ls"],
        &["strace", "-E", "PATH=/x", "ls"],
        &["strace", "--env=PATH", "ls"],
        &["firejail", "--noprofile", "--env=PATH=/x", "ls"],
        &["systemd-run", "-E", "PATH=/x", "ls"],
    ] {
        let found = argv(words);
        assert_eq!(found.assignments, ["PATH"], "{words:?}: {found:?}");
        assert!(found.problems.is_empty(), "{words:?}: {found:?}");
    }
    refused(&["echo a | xargs --process-slot-var=BASH_ENV bash -c 'echo child'"]);
}

#[test]
fn the_command_and_alias_tables_cannot_be_set() {
    refused(&[
        "BASH_CMDS[ls]=/usr/bin/touch; ls x",
        "BASH_CMDS=([ls]=/usr/bin/touch); ls x",
        "declare -A BASH_CMDS=([ls]=/usr/bin/touch)",
        "read 'BASH_CMDS[ls]' <f; ls x",
        "printf -v 'BASH_CMDS[ls]' /usr/bin/touch",
        "shopt -s expand_aliases; BASH_ALIASES[ls]='touch x; echo'\nls",
        "BASH_ALIASES+=([ls]=touch)",
        "(( BASH_CMDS[ls] = 1 ))",
        "env BASH_CMDS=x ls",
    ]);
}

#[test]
fn declare_and_export_set_every_operand_holding_an_equals_sign() {
    sets(
        "PATH",
        &[
            "export -p PATH=/x",
            "export +p PATH=/x",
            "readonly -p PATH=/x",
            "declare +f PATH=/x",
            "declare +F PATH=/x",
            "typeset +f PATH=/x",
            "declare -f PATH=/x",
            "export -p \"PATH=$x\"",
        ],
    );
    refused(&[
        "export -p BASH_ENV=/tmp/x >/dev/null; bash -c 'echo hi'",
        "readonly -p PS4='$(touch x)' >/dev/null; set -x; true",
        "declare +f \"$x\"",
    ]);
    for script in [
        "export -p",
        "declare -p HOME",
        "declare -f f",
        "unset -f f",
        "typeset -F",
    ] {
        let found = sh(script);
        assert!(
            found.assignments.is_empty() && found.problems.is_empty(),
            "{script}: {found:?}"
        );
    }
}

#[test]
fn command_v_only_prints() {
    for script in [
        "command -v touch",
        "command -V touch",
        "command -pv touch || echo no",
    ] {
        let found = sh(script);
        assert!(!programs(&found).contains(&"touch"), "{script}: {found:?}");
        assert!(found.problems.is_empty(), "{script}: {found:?}");
    }
    assert_eq!(
        programs(&sh("command -p touch x"))[1..],
        ["command", "touch"]
    );
}

#[test]
fn history_expansion_cannot_be_turned_on() {
    refused(&[
        "set -o history -H\necho foo\n^echo^touch",
        "set -eH",
        "set -o histexpand",
        "set +o nounset -o histexpand",
        "set -x +o errexit -H",
        "shopt -so histexpand",
        "shopt -s -o history histexpand",
        "shopt -so \"$o\"",
        "set $opts",
    ]);
    allowed(&[
        "set -euo pipefail; set +H; set +o histexpand; set -o history",
        "set -- $args; set -- \"$@\" x; set a b -H",
        "shopt -s nullglob extglob; shopt -u \"$o\"; shopt -u -o histexpand",
    ]);
}

#[test]
fn xargs_max_lines_drops_the_replace_string() {
    // GNU xargs: `-L`, `-l` or `--max-lines` after `-I` ignores `-I`, so the input is
    // appended: here it becomes the script.
    refused(&[
        "xargs -I X -L 1 sh -c",
        "xargs -I X -l sh -c",
        "xargs --replace=X --max-lines=1 bash -c",
        "xargs -i -L1 bash -c",
        "xargs -a in -I X -L 1 bash -c",
    ]);
    for script in ["xargs -L 1 -I X echo X", "xargs -I X -n 1 echo X"] {
        assert!(sh(script).problems.is_empty(), "{script}: {:?}", sh(script));
    }
}

#[test]
fn find_exec_ends_at_a_plus_only_after_braces() {
    // GNU find ends `-exec` at `+` only right after `{}`; bash skips a lone `+` option.
    for script in [
        "find . -exec bash -c + 'touch x' \\;",
        "find . -exec sh -c 'touch x' + \\;",
    ] {
        assert!(programs(&sh(script)).contains(&"touch"), "{script}");
    }
    let found = argv(&["find", ".", "-exec", "bash", "-c", "+", "touch x", ";"]);
    assert!(programs(&found).contains(&"touch"), "{found:?}");
    let found = argv(&[
        "find", ".", "-exec", "ls", "{}", "+", "-exec", "touch", "{}", ";",
    ]);
    assert!(programs(&found).contains(&"touch"), "{found:?}");
    for script in [
        "find . -name '*.rs' -exec grep -l x {} +",
        "find . -exec ls + {} \\;",
    ] {
        assert!(sh(script).problems.is_empty(), "{script}: {:?}", sh(script));
    }
}

#[test]
fn a_here_document_in_a_substitution_cannot_end_early() {
    // bash 5.2 ends the here-document at `EOF)` and runs `touch x`; the parser reads on.
    refused(&[
        "echo $(cat <<EOF\nhi\nEOF)\ntouch x\nEOF\n)",
        "a=$(cat <<'EOF'\nhi\nEOF)\ntouch x\nEOF\n)",
        "cat <(cat <<\\EOF\nhi\nEOF)\ntouch x\nEOF\n)",
        "echo $(cat <<-EOF\n\tEOF)\ntouch x\nEOF\n)",
        "echo $(cat <<A <<B\nA\nB); touch x\nB\n)",
    ]);
    allowed(&[
        "x=$(cat <<EOF\nhi $HOME\nEOF\n)",
        "cat <<EOF\nEOF )\nEOF",
        "echo \"$(cat <<'END'\nEND of it\n\nEND\n)\"; cat <<END\nENDS\nEND\necho $((1<<2))",
    ]);
}

#[test]
fn a_brace_expansion_with_quoted_parts_is_not_a_literal_word() {
    // bash expands `{"touch",x}`, `{\touch,x}` and `{$'touch',x}` like `{touch,x}`.
    refused(&[
        "{\"touch\",x}",
        "{\\touch,x}",
        "{$'touch',x}",
        "timeout {\"5\",touch,x} echo",
        "find {\".\",\"-exec\",touch,x,\";\"}",
        "bash -c \"echo \\$\"{\"x:-;touch x;\",y}",
        "env {\"touch\",x}",
        "xargs {\"-a\",\"/dev/null\",\"-r\"} echo",
    ]);
    let found = sh("echo hi > {\"/tmp/x\",}");
    assert!(
        matches!(found.redirects[..], [Word::Dynamic(_)]),
        "{found:?}"
    );
    allowed(&[
        "echo {a,b}.txt \"a\"{\"b\",c} {1..3}",
        "echo '{a,b}' \\{a,b} {a\\,b} \"{a,b}\" {} {a}",
        "find . -name '*.rs' -exec grep -l x {} +",
    ]);
    assert_eq!(
        sh("echo '{a,b}' {a\\,b}").commands[1][1..],
        [
            Word::Literal("{a,b}".to_owned()),
            Word::Literal("{a,b}".to_owned())
        ]
    );
}

#[test]
fn jobs_x_runs_its_operands() {
    for script in [
        "jobs -x touch x",
        "true; jobs -x /usr/bin/touch x",
        "jobs -lx touch x",
        "jobs -x -- touch x",
    ] {
        let found = sh(script);
        let last = programs(&found).last().map(|program| basename(program));
        assert_eq!(last, Some("touch"), "{script}: {found:?}");
    }
    // A job's name stands for its process group id, known only at run time.
    refused(&["jobs -x %1 x"]);
    refused(&["jobs -x \"$cmd\""]);
    for script in ["jobs", "jobs -l %1", "jobs -p"] {
        let found = sh(script);
        assert_eq!(programs(&found), ["bash", "jobs"], "{script}: {found:?}");
        assert!(found.problems.is_empty(), "{script}: {found:?}");
    }
}

#[test]
fn time_ends_its_options_at_a_double_dash() {
    for script in [
        "time -- touch x",
        "time -p -- touch x",
        "true && time -- touch x | cat",
        "time -- LANG=C touch x",
    ] {
        let found = sh(script);
        assert!(programs(&found).contains(&"touch"), "{script}: {found:?}");
        assert!(!programs(&found).contains(&"--"), "{script}: {found:?}");
    }
    sets("LANG", &["time -- LANG=C ls"]);
    // bash reads a keyword after `time --` as one; the parser reads a word.
    refused(&[
        "time -- ! touch x",
        "time -p -- coproc touch x",
        "time -- [[ -v 'a[1]' ]]",
    ]);
    // Only right after `time` or `time -p`: elsewhere `--` is a word. (bash prints `time --
    // -- touch x` back as `time -p -- touch x`, whose second reading finds `touch` too.)
    for script in ["time LANG=C -- touch x", "echo -- x"] {
        let found = sh(script);
        assert!(!programs(&found).contains(&"touch"), "{script}: {found:?}");
    }
}

#[test]
fn time_with_an_option_of_the_program_is_refused() {
    // dash and bash's POSIX mode run `/usr/bin/time -v touch x`; bash, the command `-v`.
    refused(&[
        "time -v touch x",
        "time -p -f %e touch x",
        "true && time --verbose touch x | cat",
    ]);
    allowed(&["time touch x", "time -p touch x", "command time -v touch x"]);
}

#[test]
fn bash_5_3_command_substitutions_in_braces_are_refused() {
    refused(&[
        "echo ${ touch x; }",
        "echo ${|touch x; }",
        "echo \"${\ttouch x;}\"",
        "[[ -n ${ touch x; } ]]",
    ]);
    allowed(&["echo ${x}", "echo ${x:-y}", "echo ${#x}"]);
}

#[test]
fn a_wrapper_running_a_login_shell_is_refused() {
    // `su -`, `su -l` and `sudo -i` run the user's shell as a login shell, which runs its
    // startup files (`/etc/profile`, `~/.profile`).
    for words in [
        &["su", "-", "root", "-c", "echo"][..],
        &["su", "-l", "root", "-c", "echo"],
        &["su", "root", "--login", "-c", "echo"],
        &["su", "--log", "root", "-c", "echo"],
        &["runuser", "-l", "root", "-c", "echo"],
        &["sudo", "-i", "echo"],
        &["sudo", "--login", "echo"],
        &["sudo", "-iu", "root", "echo"],
    ] {
        let found = argv(words);
        assert!(
            found
                .problems
                .iter()
                .any(|problem| problem.contains("login shell")),
            "{words:?}: {found:?}"
        );
    }
    // runuser permutes its arguments: `-l` after the user is its own, so `--` ends them.
    allowed(&[
        "su root -c 'echo'",
        "sudo -u root echo",
        "sudo -l",
        "runuser -u root -- ls -l",
    ]);
}

/// The directories `found` runs commands in, as the `cd` commands it lists.
pub(super) fn cds(found: &Findings) -> Vec<&str> {
    (found.commands.iter())
        .filter(|command| command[0].text() == "cd")
        .map(|command| command.get(1).map_or("", Word::text))
        .collect()
}

#[test]
fn a_wrapper_that_changes_directory_is_judged_as_a_cd() {
    // `env -C /tmp` runs its command in /tmp, where its redirections write: as `cd /tmp`.
    for (words, dir) in [
        (
            &["env", "-C", "/tmp", "bash", "-c", "echo PWNED > f"][..],
            "/tmp",
        ),
        (&["env", "-C/tmp", "ls"], "/tmp"),
        (&["env", "--chdir=/tmp", "ls"], "/tmp"),
        (&["env", "--chdir", "/tmp", "ls"], "/tmp"),
        (&["env", "--ch", "/tmp", "A=1", "ls"], "/tmp"),
        (&["env", "-iC", "/tmp", "ls"], "/tmp"),
        (&["env", "-S", "-C /tmp ls"], "/tmp"),
        (&["env", "-C", "/tmp", "-S", "ls"], "/tmp"),
        (&["sudo", "-D", "/tmp", "ls"], "/tmp"),
        (&["sudo", "--chdir=/tmp", "ls"], "/tmp"),
        (&["sudo", "-R", "/srv/root", "ls"], "/srv/root"),
        (&["unshare", "--wd=/tmp", "ls"], "/tmp"),
        (&["unshare", "-w", "/tmp", "ls"], "/tmp"),
        (&["unshare", "--root", "/srv/root", "ls"], "/srv/root"),
        (&["nsenter", "-t", "1", "--wd=/tmp", "ls"], "/tmp"),
        (&["nsenter", "-t", "1", "-w/tmp", "ls"], "/tmp"),
        (&["nsenter", "-t", "1", "-r/srv/root", "ls"], "/srv/root"),
        (&["chroot", "/srv/root", "ls"], "/srv/root"),
        (
            &["chroot", "--userspec=a:b", "/srv/root", "ls"],
            "/srv/root",
        ),
        (&["systemd-run", "--working-directory=/tmp", "ls"], "/tmp"),
        (
            &["firejail", "--noprofile", "--private-cwd=/tmp", "ls"],
            "/tmp",
        ),
    ] {
        let found = argv(words);
        assert_eq!(cds(&found), [dir], "{words:?}: {found:?}");
        assert!(found.problems.is_empty(), "{words:?}: {found:?}");
        // The command is judged too.
        assert_ne!(programs(&found).last(), Some(&"cd"), "{words:?}: {found:?}");
    }
    // A directory known only at run time (`nsenter -w`: the target's) is a `cd` to it.
    for words in [
        &["nsenter", "-t", "1", "-w", "ls"][..],
        &["nsenter", "-t", "1", "--root", "ls"],
        &["pkexec", "ls"],
        &["systemd-run", "ls"],
        // Probe 10 G4: the command runs in the found file's directory.
        &[
            "find", ".", "-name", "x", "-execdir", "bash", "-c", "echo > f", ";",
        ],
        &["find", ".", "-okdir", "ls", "{}", "+"],
    ] {
        let found = argv(words);
        assert_eq!(cds(&found).len(), 1, "{words:?}: {found:?}");
        let cd = found
            .commands
            .iter()
            .find(|command| command[0].text() == "cd");
        assert!(
            cd.is_some_and(|cd| cd[1].literal().is_none()),
            "{words:?}: {found:?}"
        );
    }
    // Probe 13 of stop 56: bash's directory stack changes directory as `cd` does.
    for (script, dir) in [
        ("pushd /tmp; echo x > f", Some("/tmp")),
        ("pushd -n -- /tmp", Some("/tmp")),
        ("pushd", None),
        ("pushd +1", None),
        ("popd", None),
        ("popd -n -0", None),
    ] {
        let found = sh(script);
        let cd = (found.commands.iter()).find(|command| command[0].text() == "cd");
        assert_eq!(
            cd.map(|cd| cd[1].literal()),
            Some(dir),
            "{script}: {found:?}"
        );
    }
    let found = sh("env -C \"$D\" ls");
    assert!(!cds(&found).is_empty(), "{found:?}");
    // Wrappers that stay where they are list no `cd`.
    for words in [
        &["env", "-i", "ls"][..],
        &["sudo", "-u", "root", "ls"],
        &["unshare", "-r", "ls"],
        &["nsenter", "-t", "1", "-m", "ls"],
        &["pkexec", "--keep-cwd", "ls"],
        &["systemd-run", "--same-dir", "ls"],
        &["systemd-run", "--scope", "ls"],
        &["chroot", "--help"],
        &["sort", "-C", "f"],
        &["find", ".", "-exec", "ls", "{}", ";"],
    ] {
        let found = argv(words);
        assert!(cds(&found).is_empty(), "{words:?}: {found:?}");
    }
}
