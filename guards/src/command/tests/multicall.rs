//! Multi-call binaries (busybox, toybox, a multi-call coreutils) and their shells: the
//! program their operand names is judged.

use super::*;

#[test]
fn multi_call_binaries_run_the_program_their_operand_names() {
    for (script, command) in [
        ("toybox rm x", &["rm", "x"][..]),
        ("/usr/bin/toybox rm x", &["rm", "x"]),
        ("toybox-x86_64 rm x", &["rm", "x"]),
        ("busybox-x86_64 rm x", &["rm", "x"]),
        ("busybox.static /bin/rm x", &["/bin/rm", "x"]),
        ("coreutils --coreutils-prog=rm x", &["rm", "x"]),
        ("coreutils --coreutils-prog rm x", &["rm", "x"]),
        (
            "coreutils --coreutils-prog-shebang=rm script x",
            &["rm", "x"],
        ),
        ("coreutils rm x", &["rm", "x"]),
        ("/usr/lib/cargo/bin/coreutils rm -rf x", &["rm", "-rf", "x"]),
        // Their shells' scripts are checked.
        ("busybox hush -c 'rm x'", &["rm", "x"]),
        ("hush -c 'rm x'", &["rm", "x"]),
        ("toybox sh -c 'rm x'", &["rm", "x"]),
        ("toybox toysh -c 'rm x'", &["rm", "x"]),
        ("busybox sh -c 'rm x'", &["rm", "x"]),
        ("coreutils --coreutils-prog=env rm x", &["rm", "x"]),
    ] {
        let found = sh(script);
        assert!(holds(&found, command), "{script}: {found:?}");
        assert!(found.problems.is_empty(), "{script}: {found:?}");
    }
    allowed(&["coreutils --help", "coreutils --version", "coreutils"]);
}

#[test]
fn what_a_multi_call_binary_runs_unseen_is_refused() {
    refused(&[
        "coreutils --frobnicate rm x",
        "coreutils --help rm x",
        "coreutils \"$X\" x",
        "coreutils --coreutils-prog=$X x",
        "busybox hush",
        "busybox hush script.sh",
        "toybox sh",
        // Their `bash` is their own shell, which reads `[[ … ]]` as a POSIX sh does.
        "busybox bash -c 'echo hi'",
        "toybox bash -c 'echo hi'",
        "busybox hush -c '[[ a || rm x ]]'",
        "hush -c 'echo $'\\''x'\\'''",
    ]);
}

#[test]
fn toybox_is_refused_a_name_it_would_follow_as_a_symbolic_link() {
    // The basename of a path names the applet.
    let found = sh("toybox /tmp/d/rm x");
    assert!(holds(&found, &["/tmp/d/rm", "x"]), "{found:?}");
    assert!(found.problems.is_empty(), "{found:?}");
    allowed(&["toybox ls -la", "toybox-x86_64 cat x"]);
    // A name no applet has: toybox follows it if it is a link, to what only the file system
    // knows.
    refused(&[
        "toybox ./mylink x",
        "toybox mylink x",
        "toybox /tmp/d/notanapplet x",
        // The shell's builtins are not run from the multiplexer: it looks for a link.
        "toybox cd x",
        "exec -a ./mylink toybox x",
        "env -a mylink toybox-x86_64 x",
    ]);
}

#[test]
fn toybox_reads_its_own_name_only_in_argv0() {
    // From 0.8.3 a first operand is toybox's applet only by an applet's exact name: one
    // starting with `toybox` is followed as a link, as any other (`./toybox-rm -> rm` runs rm).
    refused(&[
        "toybox ./toybox-rm echo victim",
        "toybox toybox-rm echo victim",
        "toybox toyboxrm echo victim",
        "toybox toybox echo victim",
        "toybox ./toybox echo victim",
        "toybox /usr/bin/toybox echo victim",
        "toybox-x86_64 toybox cat x",
    ]);
    // In `argv[0]` such a name is the multiplexer, which runs the applet its operand names.
    for script in [
        "exec -a toybox-x86_64 toybox rm x",
        "exec -a /bin/toybox toybox-x86_64 rm x",
    ] {
        let found = sh(script);
        assert!(holds(&found, &["rm", "x"]), "{script}: {found:?}");
        assert!(found.problems.is_empty(), "{script}: {found:?}");
    }
}
