//! Commands run behind wrappers (`su`, `flock`, `strace`, `env -S`, …), against a policy
//! that denies `rm`: the wrapped command is found and judged, and what a wrapper runs that
//! the checker cannot see is denied.

use cairn_engine::Decision;
use serde_json::json;

use crate::{action, each_decided, guard, judge, judge_script};

/// Each runs `rm` behind a wrapper, or runs what the checker cannot see.
const WRAPPED_RM: &[&str] = &[
    // su and runuser: permuted arguments, `-u USER -- CMD`, the shell's own arguments.
    "runuser -u root -- rm x",
    "runuser -u root rm x",
    "su root -c 'rm x'",
    "runuser root -c 'rm x'",
    "su - root -c 'rm x'",
    "su -l root -c 'rm x'",
    "su -c 'rm x' root",
    "su --comm 'rm x' root",
    "su root -- -c 'rm x'",
    "su -s /bin/rm root -- -rf x",
    "su root f.sh",
    "su root",
    // Shells.
    "rbash -c 'rm x'",
    "ksh93 -c 'rm x'",
    "yash -c 'rm x'",
    "busybox sh -c 'rm x'",
    // toybox runs the applet a path's basename names, or follows a link to one.
    "toybox /tmp/d/rm x",
    "toybox ./mylink x",
    // A first operand starting with `toybox` is followed as a link too (`./toybox-rm -> rm`).
    "toybox ./toybox-rm echo x",
    "toybox toybox echo x",
    "fish -c 'echo x'",
    // Wrappers the checker did not know.
    "flock /tmp/l rm x",
    "flock -n -w 5 /tmp/l rm x",
    "flock /tmp/l -c 'rm x'",
    "flock --fd 3 rm x",
    "setpriv rm x",
    "setpriv --reuid 1000 --init-groups rm x",
    "unshare rm x",
    "unshare -r --mount-proc rm x",
    "unshare -R /tmp rm x",
    "prlimit --nofile=10 rm x",
    "prlimit -n10 rm x",
    "chrt 0 rm x",
    "chrt -o 0 rm x",
    "chrt --other rm x",
    "nsenter rm x",
    "nsenter -t 1 -m rm x",
    "strace rm x",
    "strace -f -o /dev/null -e trace=file rm x",
    "strace -o '|rm x' ls",
    "ltrace -o f rm x",
    "valgrind --tool=memcheck -q rm x",
    // The dynamic loader, and what it loads into the program.
    "/lib64/ld-linux-x86-64.so.2 /bin/rm x",
    "/lib64/ld-linux-x86-64.so.2 --argv0 foo /bin/rm x",
    "/lib/ld-musl-x86_64.so.1 /bin/rm x",
    "/lib/x86_64-linux-musl/libc.so ./rm x",
    "ld.so --preload /tmp/evil.so /bin/ls",
    "watch rm x",
    "watch -n 1 'rm x'",
    "watch -x rm x",
    "script -c 'rm x'",
    "script -qc 'rm x' /dev/null",
    "script /dev/null -c 'rm x'",
    "sg root -c 'rm x'",
    "sg root 'rm x'",
    "doas rm x",
    "doas -u root rm x",
    "pkexec rm x",
    "pkexec --user root rm x",
    "catchsegv rm x",
    "numactl --interleave=all rm x",
    "numactl -N 0 rm x",
    "cgexec -g cpu:/ rm x",
    "firejail --noprofile rm x",
    "torsocks rm x",
    "proxychains4 -q rm x",
    "fakeroot -- rm x",
    "fakeroot-sysv rm x",
    "fakeroot-tcp -u rm x",
    "systemd-run --user --wait rm x",
    "systemd-run -p Nice=5 rm x",
    "systemd-run -p ExecStartPre=/bin/true ls",
    "systemd-run -E X=1 '$X' x",
    // Long options shortened, as getopt_long allows, and nice's `-N`.
    "timeout --sig KILL 5 rm x",
    "nice --adj 5 rm x",
    "nice -10 rm x",
    "sudo --us root rm x",
    "sudo A=1 -u root rm x",
    "env - rm x",
    // What a wrapper runs that the checker cannot see.
    "unshare",
    "chroot /tmp",
    "sudo -s",
    "pkexec",
    "script -q /dev/null",
    "sg root",
    "fakeroot -l evil.so ls",
    // The program is filled in when it runs.
    "echo rm x | xargs env",
    "xargs timeout 5",
    "xargs -I{} {} x",
    "find . -name rm -exec {} x \\;",
    "find . -exec env {} x \\;",
];

#[test]
fn commands_behind_wrappers_are_found() {
    let guard = guard(json!({"commands": {"deny": [["rm"]]}}));
    each_decided(&guard, WRAPPED_RM, Decision::Deny);
    for argv in [
        json!(["runuser", "-u", "root", "--", "rm", "x"]),
        json!(["su", "root", "-c", "rm x"]),
        json!(["flock", "/tmp/l", "rm", "x"]),
        json!(["script", "-qc", "rm x", "/dev/null"]),
        json!(["sg", "root", "-c", "rm x"]),
    ] {
        let verdict = judge(&guard, &action("process", json!({"command": argv})));
        assert_eq!(verdict.decision, Decision::Deny, "{argv}: {verdict:?}");
    }
}

#[test]
fn an_option_a_wrapper_does_not_know_is_denied() {
    let guard = guard(json!({"commands": {"deny": [["rm"]]}}));
    for script in [
        "timeout --frobnicate 5 echo x",
        "nice -Q echo x",
        "su --frobnicate root -c 'echo x'",
        "flock --frobnicate /tmp/l echo x",
        "sudo --pr x echo x",
    ] {
        let verdict = judge_script(&guard, script);
        assert_eq!(verdict.decision, Decision::Deny, "{script:?}: {verdict:?}");
        assert_eq!(verdict.rules, ["commands"], "{script:?}: {verdict:?}");
    }
}

#[test]
fn env_argv0_takes_a_value() {
    let guard = guard(json!({"commands": {"deny": [["rm"]]}}));
    each_decided(
        &guard,
        &["env -a ls rm x", "env --argv0 ls rm x", "env -ia ls rm x"],
        Decision::Deny,
    );
    // `ls` given the name `rm` is judged as `rm` too: a multi-call coreutils (or busybox)
    // runs the program its `argv[0]` names.
    each_decided(
        &guard,
        &["env -a rm ls x", "exec -a rm ls x"],
        Decision::Deny,
    );
    // uutils reads a utility at the end of the name's stem.
    each_decided(
        &guard,
        &[
            "exec -a my-rm ls x",
            "exec -a rm.exe ls x",
            "env -a uu_rm ls x",
            // It reads the stem with `Path::file_stem`, trailing slashes ignored.
            "exec -a /x/rm/ ls x",
            "env -a rm// ls x",
        ],
        Decision::Deny,
    );
    let allowed = judge_script(&guard, "env -a ls ls x");
    assert_eq!(allowed.decision, Decision::Allow, "{allowed:?}");
}

#[test]
fn env_split_strings_are_read_as_env_reads_them() {
    let guard = guard(json!({"commands": {"deny": [["rm"]]}}));
    each_decided(
        &guard,
        &[
            "env -S '-i rm x'",
            "env -vS '-i rm x'",
            "env --split-string='-i rm x'",
            "env -S '-- rm x'",
            "env -S \"'-i' rm x\"",
            "env -S '-C/tmp rm x'",
            "env -S '-u HOME rm x'",
            "env -S 'rm\\_x'",
            "env -S 'ls ${X}'",
        ],
        Decision::Deny,
    );
    each_decided(
        &guard,
        &["env -S 'ls -la' x", "env -S 'A=1 ls'"],
        Decision::Allow,
    );
}

/// Probe 40 F8: the `fakeroot` script runs `eval $FAKED $FAKEDOPTS $PIPEIN`, with the values
/// of `-s` and `-i` in it, so `fakeroot -s 'x;rm -f victim' true` ran `rm`. A value that is not
/// a plain word is denied; a plain path stays allowed.
#[test]
fn fakeroot_values_it_evaluates_must_be_plain_words() {
    let guard = guard(json!({
        "default": "deny",
        "commands": {"allow": [["fakeroot"], ["true"]], "deny": [["rm"]]},
    }));
    for argv in [
        json!(["fakeroot", "-s", "x;rm -f victim", "true"]),
        json!(["fakeroot", "-i", "db;rm -f victim", "true"]),
        json!(["fakeroot", "-s$(rm -f victim)", "true"]),
        json!(["fakeroot", "-us", "`rm -f victim`", "true"]),
        json!(["fakeroot", "-s", "a b", "true"]),
        json!(["fakeroot", "-s", "", "true"]),
        json!(["fakeroot", "-i", "state", "-s", "x|rm", "true"]),
    ] {
        let verdict = judge(&guard, &action("process", json!({"command": argv})));
        assert_eq!(verdict.decision, Decision::Deny, "{argv}: {verdict:?}");
        assert_eq!(verdict.rules, ["commands"], "{argv}: {verdict:?}");
    }
    each_decided(&guard, &["fakeroot -s \"$f\" true"], Decision::Deny);
    for argv in [
        json!(["fakeroot", "-s", "state.db", "true"]),
        json!([
            "fakeroot",
            "-i",
            "build/fake-root.state",
            "-s",
            "build/fake-root.state",
            "true"
        ]),
        json!(["fakeroot", "-u", "--", "true"]),
    ] {
        let verdict = judge(&guard, &action("process", json!({"command": argv})));
        assert_eq!(verdict.decision, Decision::Allow, "{argv}: {verdict:?}");
    }
}
