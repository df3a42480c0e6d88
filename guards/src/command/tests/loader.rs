//! The dynamic loader run as a program: the program after its options is judged, and options
//! that load other code into it are refused.

use super::*;

#[test]
fn the_loader_runs_the_program_after_its_options() {
    for script in [
        "ld-linux-x86-64.so.2 /bin/rm x",
        "/lib64/ld-linux-x86-64.so.2 /bin/rm x",
        "/lib/ld-musl-x86_64.so.1 /bin/rm x",
        // musl's libc is its loader, under its own name too.
        "/lib/x86_64-linux-musl/libc.so /bin/rm x",
        "/lib/libc.musl-x86_64.so.1 /bin/rm x",
        "ld.so /bin/rm x",
        "ld64.so.2 /bin/rm x",
        "/lib/x86_64-linux-gnu/ld-2.31.so /bin/rm x",
        "ld.so --inhibit-cache --inhibit-rpath '' /bin/rm x",
        "ld.so --glibc-hwcaps-mask x86-64-v2 -- /bin/rm x",
        "ld.so --list /bin/rm x",
        "env ld.so /bin/rm x",
    ] {
        let found = sh(script);
        assert!(holds(&found, &["/bin/rm", "x"]), "{script}: {found:?}");
        assert!(found.problems.is_empty(), "{script}: {found:?}");
    }
    // Its `--argv0` is the program's `argv[0]`, as `exec -a` gives it.
    for script in [
        "/lib64/ld-linux-x86-64.so.2 --argv0 foo /bin/rm x",
        "ld-musl-x86_64.so.1 --argv0=foo /bin/rm x",
    ] {
        let found = sh(script);
        assert!(holds(&found, &["/bin/rm", "x"]), "{script}: {found:?}");
        assert!(holds(&found, &["foo", "x"]), "{script}: {found:?}");
    }
    let found = sh("ld.so --argv0 rm /bin/busybox x");
    assert!(holds(&found, &["rm", "x"]), "{found:?}");
    allowed(&["ld.so --help", "ld.so --version"]);
}

#[test]
fn loader_options_that_load_other_code_are_refused() {
    refused(&[
        "ld.so --preload /tmp/evil.so /bin/ls",
        "ld-musl-x86_64.so.1 --preload=/tmp/evil.so /bin/ls",
        "ld.so --audit /tmp/evil.so /bin/ls",
        "ld.so --library-path /tmp /bin/ls",
        "ld-musl-x86_64.so.1 --library-path=/tmp /bin/ls",
        "libc.so --preload=/tmp/evil.so /bin/ls",
        // An option it does not know, and a word known only at run time among its options.
        "ld.so --frobnicate /bin/ls",
        "ld.so \"$OPT\" /bin/ls",
    ]);
}
