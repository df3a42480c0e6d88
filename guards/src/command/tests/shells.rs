//! Shells given a script: how their options are read (`-c` found among the others, modes
//! that change what a script means refused), the names distributions install them by, and
//! zsh, refused.

use super::*;

#[test]
fn zsh_scripts_are_refused_under_any_of_its_names() {
    // zsh runs `touch` in each: after a precommand modifier, as `=touch`'s path, or as `ls`
    // redefined through its special arrays (what `BASH_CMDS` is to bash).
    for script in [
        "nocorrect touch x",
        "- touch x",
        "=touch x",
        "commands[ls]=/usr/bin/touch; ls x",
        "functions[ls]='touch x'; ls",
        "ls",
    ] {
        for shell in ["zsh", "/usr/bin/zsh", "rzsh", "zsh5", "zsh-static"] {
            let found = argv(&[shell, "-c", script]);
            assert!(
                found.problems == ["`zsh` runs zsh scripts, which the checker cannot see"],
                "{shell} -c {script:?}: {found:?}"
            );
        }
    }
}

#[test]
fn an_interactive_or_stdin_shell_is_refused_for_what_it_reads() {
    let interactive = argv(&["bash", "-i", "-c", "ls"]);
    let why = "`bash -i` is an interactive shell, which runs its startup files";
    assert!(interactive.problems[0].starts_with(why), "{interactive:?}");
    let stdin = argv(&["sh", "-s"]);
    let why = "`sh -s` reads commands from standard input";
    assert!(stdin.problems[0].starts_with(why), "{stdin:?}");
}

/// `-n` without `-c` reads the script and runs nothing (probe 142 F5: `bash -n f.sh`, a
/// syntax check, was refused as running the file); a `+` cluster may turn it off.
#[test]
fn a_syntax_check_runs_nothing() {
    for words in [
        &["bash", "-n", "f.sh"][..],
        &["sh", "-n", "f.sh"],
        &["bash", "-nx", "--", "f.sh"],
        &["bash", "-n"],
    ] {
        let found = argv(words);
        assert!(found.problems.is_empty(), "{words:?}: {found:?}");
        assert_eq!(found.commands.len(), 1, "{words:?}: {found:?}");
    }
    for words in [
        &["bash", "-n", "+n", "f.sh"][..],
        &["bash", "-n", "+o", "noexec", "f.sh"],
        &["bash", "f.sh"],
    ] {
        let found = argv(words);
        assert!(
            found.problems[0].contains("runs the script file"),
            "{words:?}: {found:?}"
        );
    }
    let checked = argv(&["bash", "-n", "-c", "rm x"]);
    assert_eq!(checked.commands[1][0].text(), "rm");
}

/// A shell started with extended globs is read by bash with them (probe 142 F9: `bash -O
/// extglob -c 'rm -f !(keep).txt'` was refused as not parsing). Needs bash on `PATH`.
#[test]
fn a_shell_started_with_extended_globs_is_read_with_them() {
    let found = argv(&["bash", "-O", "extglob", "-c", "ls !(keep).txt"]);
    assert!(found.problems.is_empty(), "{found:?}");
    for words in [
        &["bash", "-c", "ls !(keep).txt"][..],
        &[
            "bash",
            "-O",
            "extglob",
            "+O",
            "extglob",
            "-c",
            "ls !(keep).txt",
        ],
    ] {
        let found = argv(words);
        assert!(
            found.problems[0].starts_with("bash does not parse"),
            "{words:?}: {found:?}"
        );
    }
}

#[test]
fn a_shell_installed_under_another_name_has_its_script_checked() {
    for shell in [
        "bash-static",
        "bash-5.2",
        "mksh-static",
        "rksh",
        "dash-static",
        "rbash",
        // Debian's mksh package: restricted mksh and lksh (probe 40 F9).
        "rmksh",
        "rlksh",
        "rksh93",
    ] {
        let found = argv(&[shell, "-c", "ls; touch x"]);
        let touch = [Word::Literal("touch".into()), Word::Literal("x".into())];
        assert!(
            found.commands.iter().any(|command| command[..] == touch),
            "{shell}: {found:?}"
        );
    }
    // Names that only look alike stay as they are.
    for program in ["rsh", "shx", "bashful"] {
        let found = argv(&[program, "-c", "touch x"]);
        assert_eq!(found.commands.len(), 1, "{program}: {found:?}");
    }
}

#[test]
fn shells_skip_a_lone_plus_before_the_script() {
    for words in [
        &["bash", "-c", "+", "touch x"][..],
        &["sh", "-c", "+", "+", "touch x"],
        &["bash", "+", "-c", "touch x"],
        &["dash", "-c", "-", "touch x"],
        &["bash", "-c", "--", "touch x"],
    ] {
        let found = argv(words);
        assert!(programs(&found).contains(&"touch"), "{words:?}: {found:?}");
    }
}

#[test]
fn each_o_in_a_shell_option_cluster_takes_a_value() {
    for words in [
        &["bash", "-c", "-oo", "errexit", "nounset", "touch x"][..],
        &["sh", "-c", "-oo", "errexit", "errexit", "touch x"],
        &["bash", "-c", "-oO", "errexit", "extglob", "touch x"],
        &["bash", "-c", "+oo", "posix", "posix", "touch x"],
    ] {
        let found = argv(words);
        assert!(programs(&found).contains(&"touch"), "{words:?}: {found:?}");
    }
}

#[test]
fn posix_mode_cannot_be_turned_on() {
    // In POSIX mode bash reads `'` inside `"${x:-…}"` as an ordinary character: the script
    // below runs `touch x`, where bash's default mode (and the parser) reads one word.
    let hidden = "echo \"${x:-'}\"; touch x #'}\"";
    refused(&[
        &format!("set -o posix\n{hidden}"),
        "set -o posix",
        "set -eo posix",
        "set +o nounset -o posix",
        "shopt -so posix",
        "shopt -s -o posix",
        "shopt -os posix",
        "POSIXLY_CORRECT=1",
        "POSIXLY_CORRECT=1 true",
        "export POSIXLY_CORRECT=1",
        "export POSIXLY_CORRECT",
        "declare -x POSIXLY_CORRECT=y",
        "env POSIXLY_CORRECT=1 bash -c 'echo'",
        "bash --posix -c 'echo'",
        "bash -o posix -c 'echo'",
        "bash -co posix 'echo'",
        "bash -oc posix 'echo'",
        "rbash --posix -c 'echo'",
        "bash -c -eo posix 'echo'",
    ]);
    for words in [
        &["bash", "--posix", "-c", hidden][..],
        &["bash", "-o", "posix", "-c", hidden],
        &["rbash", "-co", "posix", hidden],
        &["env", "POSIXLY_CORRECT=1", "bash", "-c", hidden],
    ] {
        let found = argv(words);
        assert!(!found.problems.is_empty(), "{words:?}: {found:?}");
    }
    allowed(&[
        "set +o posix; shopt -uo posix; echo $POSIXLY_CORRECT",
        "bash +o posix -c 'echo'; bash -o pipefail -c 'echo'",
    ]);
}

#[test]
fn keyword_mode_cannot_be_turned_on() {
    // In keyword mode every `NAME=value` word sets NAME: `bash -c true BASH_ENV=f` sources f.
    refused(&[
        "set -k; bash -c true BASH_ENV=k",
        "set -ek",
        "set -o keyword",
        "set +o nounset -o keyword",
        "shopt -so keyword",
        "bash -c -k 'bash -c true BASH_ENV=k'",
        "bash -kc 'echo'",
        "bash -o keyword -c 'echo'",
        "bash -c -eo keyword 'echo'",
        "bash -o \"$o\" -c 'echo'",
        "env SHELLOPTS=keyword bash -c 'echo'",
        "env BASHOPTS=expand_aliases bash -c 'echo'",
    ]);
    allowed(&[
        "set +k; set +o keyword; shopt -uo keyword",
        "bash +k -c 'echo'; bash +o keyword -c 'echo'; bash -o pipefail -c 'echo'",
    ]);
}

#[test]
fn one_dash_long_shell_options_are_refused() {
    // bash reads `-norc` as `--norc`, so `bash -norc f 'echo hi'` runs the file `f`.
    for words in [
        &["bash", "-norc", "f", "echo hi"][..],
        &["bash", "-noprofile", "f", "echo hi"],
        &["sh", "-rcfile", "f", "-c", "echo hi"],
    ] {
        let found = argv(words);
        assert!(!found.problems.is_empty(), "{words:?}: {found:?}");
    }
    let found = argv(&[
        "bash",
        "--noprofile",
        "--norc",
        "-eo",
        "pipefail",
        "-c",
        "echo",
    ]);
    assert!(found.problems.is_empty(), "{found:?}");
}

#[test]
fn a_login_shell_is_refused_for_its_startup_files() {
    // A login shell runs `/etc/profile` and `~/.profile`: with `HOME=.`, one written just before.
    let found = sh("printf 'touch PWNED\\n' > .profile; HOME=. sh -l -c 'echo done'");
    let why = "`sh -l` is a login shell, which runs its startup files";
    assert!(
        found
            .problems
            .iter()
            .any(|problem| problem.starts_with(why)),
        "{found:?}"
    );
    refused(&[
        "bash -l -c 'echo'",
        "bash --login -c 'echo'",
        "bash -lc 'echo'",
        "bash -cl 'echo'",
        "bash -il -c 'echo'",
        "bash -el -c 'echo'",
        "bash -c -l 'echo'",
        "bash -ol pipefail -c 'echo'",
        "dash -l -c 'echo'",
        "ksh -l -c 'echo'",
        "mksh -lc 'echo'",
        "ash -lc 'echo'",
        "busybox sh -lc 'echo'",
        "/bin/bash-static -l -c 'echo'",
        // yash reads a long option's letters only, case-insensitively, and a unique prefix.
        "yash --login -c 'echo'",
        "yash --LOG-in -c 'echo'",
        "yash --log -c 'echo'",
        "yash -o login -c 'echo'",
        "yash -co login 'echo'",
        "yash --interactive -c 'echo'",
        "yash -o interactive -c 'echo'",
    ]);
    // A script's own `-l` after `-c SCRIPT`, and programs' `-l`, are no shell options.
    allowed(&[
        "bash -c 'echo $1' _ -l",
        "sh -c 'ls -l' sh -l --login",
        "ls -l; grep -l x f; sort -C f; env -i ls",
        "bash --noprofile --norc -o pipefail -c 'echo'",
        "bash -O extglob -c 'echo'",
    ]);
}
