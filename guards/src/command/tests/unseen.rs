//! What a wrapper runs that a first reading of its words missed (probe 206).

use super::*;

#[test]
fn an_option_value_in_the_next_word_must_stay_one_word() {
    // bash splits these into several words, the rest read as the command (F1).
    refused(&[
        "timeout -s {KILL,5,rm} 5 ls victim",
        "nice -n $(echo 5 touch) PWN",
        "sudo -u $1 ls",
        "env -u $x touch y",
        "timeout -s KIL* 5 ls",
    ]);
    allowed(&[
        "env -C \"$dir\" ls",
        "timeout -s KILL 5 ls",
        "sudo -u root ls",
    ]);
}

#[test]
fn wrappers_that_run_what_the_checker_cannot_see_are_refused() {
    refused(&[
        // Empty words alone: Debian's fakeroot runs a shell reading standard input (F3).
        "fakeroot ''",
        "fakeroot '' ''",
        // An editor, not a command (F4).
        "sudo -e ls /etc/shadow",
        "sudo --edit ls",
        // An interpreter for every program the namespace runs (F6).
        "unshare --load-interp=:x:M::\\x7fELF::/usr/bin/touch:OC ls",
    ]);
}

#[test]
fn nsenter_wdns_takes_the_next_word_as_its_directory() {
    // Read as optional, the directory was taken for the command, and `touch` never judged (F2).
    finds(
        "touch",
        &[
            "nsenter --wdns /tmp touch /tmp/PWN",
            "nsenter -W /tmp touch /tmp/PWN",
        ],
    );
}

#[test]
fn xargs_with_no_command_runs_echo() {
    finds("echo", &["xargs", "xargs -l", "echo x | xargs -0"]);
}

#[test]
fn a_word_known_only_at_run_time_that_may_split_or_end_a_command_is_read_so() {
    refused(&[
        // An indirect expansion may be an array's elements (probe 210 F1).
        "a=(KILL 5 touch PWNED); x='a[@]'; timeout -s \"${!x}\" 5 true",
        // A replace string known only at run time could be in any word (F2).
        "x=ls; echo touch | xargs -I \"$x\" timeout 5 ls P",
        // Several words inside `-exec` (F4).
        "find . -exec true $x \\;",
    ]);
    // A word that could end `-exec` (`;`, or `+` after `{}`): what follows is find's too (F4).
    finds(
        "touch",
        &[
            "find . -maxdepth 0 -exec true \"$1\" -exec touch P \\;",
            "find . -exec true {} \"$p\" -exec touch P \\;",
        ],
    );
    allowed(&["find . -name '*.rs' -exec grep -l \"$pat\" {} +"]);
}

#[test]
fn an_assignment_whose_value_stays_one_word_is_read_as_one() {
    // Probe 210 F3: refused as a word known only at run time, while `FOO="$x" ls` passed.
    for script in [
        "env FOO=\"$x\" ls",
        "env -i PATH=\"$PATH\" HOME=\"$HOME\" ls",
    ] {
        let found = sh(script);
        assert!(found.problems.is_empty(), "{script}: {found:?}");
        assert_eq!(programs(&found).last(), Some(&"ls"), "{script}: {found:?}");
    }
    // Its name is still judged, and a value that may split is not one word.
    refused(&[
        "env LD_PRELOAD=\"$x\" ls",
        "env FOO=$x ls",
        "env \"$n\"=1 ls",
        // A program known only at run time, after the options, is no more judged than before.
        "env ls\"$x\" y",
        "timeout 5 ls\"$x\" y",
        "nice r$x -rf /",
    ]);
}
