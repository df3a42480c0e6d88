//! Wrappers that give their command another `argv[0]` (`exec -a`, `env --argv0`, `strace
//! --argv0`, zsh's `ARGV0`): a multi-call binary runs the program that name names, so the
//! command is judged as that program too.

use super::*;

#[test]
fn a_command_given_another_argv0_is_judged_as_that_program_too() {
    for script in [
        "exec -a rm /tmp/p19b/bb/busybox victim_bb",
        "exec -a /usr/bin/rm busybox victim_bb",
        "exec -arm busybox victim_bb",
        "exec -la rm busybox victim_bb",
        "exec -c -a rm -l busybox victim_bb",
        // busybox drops a login shell's leading `-`.
        "exec -a -rm busybox victim_bb",
        "exec -a git -a rm busybox victim_bb",
        "env -a rm busybox victim_bb",
        "env --argv0=rm busybox victim_bb",
        "env --argv0 rm busybox victim_bb",
        "env --arg=rm busybox victim_bb",
        "env -iarm busybox victim_bb",
        "env -a rm A=1 busybox victim_bb",
        "env -a rm -S 'busybox victim_bb'",
        "env -a git -S '-a rm busybox victim_bb'",
        "strace --argv0=rm busybox victim_bb",
        "command exec -a rm busybox victim_bb",
    ] {
        let found = sh(script);
        assert!(holds(&found, &["rm", "victim_bb"]), "{script}: {found:?}");
        assert!(found.problems.is_empty(), "{script}: {found:?}");
    }
    // A multi-call coreutils runs `rm` as `env`'s name too.
    let found = sh("exec -a rm env busybox victim_bb");
    assert!(holds(&found, &["rm", "busybox", "victim_bb"]), "{found:?}");
    // The program itself is judged as well.
    let found = sh("exec -a myname python3 x");
    assert!(holds(&found, &["python3", "x"]), "{found:?}");
    assert!(holds(&found, &["myname", "x"]), "{found:?}");
    // The name given is read again as a program: `sh` runs its `-c` script.
    let found = sh("exec -a sh busybox -c 'rm x'");
    assert!(holds(&found, &["rm", "x"]), "{found:?}");
    // busybox's `bash` is its own shell, which reads scripts as a POSIX sh does.
    refused(&[
        "exec -a bash busybox -c 'echo hi'",
        "env -a /bin/bash toybox-x86_64 -c 'echo hi'",
    ]);
    allowed(&["exec -a bash /bin/bash -c 'echo hi'"]);
}

#[test]
fn an_argv0_known_only_at_run_time_is_refused() {
    refused(&[
        "exec -a \"$X\" busybox x",
        "env --argv0=$X busybox x",
        "env -a \"$(echo rm)\" busybox x",
    ]);
}

#[test]
fn zsh_argv0_cannot_be_set() {
    assert!(runs_unseen_code("ARGV0"));
    for script in [
        "ARGV0=rm busybox x",
        "export ARGV0=rm; busybox x",
        "env ARGV0=rm zsh -c 'busybox x'",
    ] {
        assert!(!run_by("zsh", script).problems.is_empty(), "{script}");
        assert!(!sh(script).problems.is_empty(), "{script}");
    }
}

#[test]
fn a_command_is_judged_as_each_utility_uutils_reads_in_its_argv0() {
    for (script, command) in [
        ("exec -a my-rm ls x", &["rm", "x"][..]),
        ("exec -a rm.exe ls x", &["rm", "x"]),
        ("env -a uu_rm ls x", &["rm", "x"]),
        ("exec -a /opt/uu/my_rm.bin ls x", &["rm", "x"]),
        // From 0.6 any stem ending with a utility's name runs it.
        ("exec -a farm ls x", &["rm", "x"]),
        // `stty` runs in 0.6 and later, `tty` is judged too.
        ("exec -a xstty ls x", &["stty", "x"]),
        ("exec -a xstty ls x", &["tty", "x"]),
        // A stem ending with `utils` or `box`, or one no utility matched before 0.6: the
        // first argument is the utility.
        ("exec -a myutils ls rm x", &["rm", "x"]),
        ("exec -a toolbox ls rm x", &["rm", "x"]),
        ("exec -a whatever ls rm x", &["rm", "x"]),
    ] {
        let found = sh(script);
        assert!(holds(&found, command), "{script}: {found:?}");
        assert!(found.problems.is_empty(), "{script}: {found:?}");
    }
    // A first argument starting with `-` is no utility.
    let found = sh("exec -a whatever ls -la");
    assert!(found.problems.is_empty(), "{found:?}");
    assert!(!programs(&found).contains(&"-la"), "{found:?}");
    // One known only at run time could be any.
    refused(&["exec -a whatever ls \"$X\""]);
}

#[test]
fn an_argv0_is_read_as_each_multi_call_binary_reads_it_past_trailing_slashes() {
    for (script, command) in [
        // uutils reads it with `Path::file_stem`, which ignores trailing slashes and a final `.`.
        ("exec -a /x/rm/ ls victim", &["rm", "victim"][..]),
        ("exec -a rm// ls victim", &["rm", "victim"]),
        ("env -a /x/my-rm/ ls victim", &["rm", "victim"]),
        ("env --argv0=/x/rm.exe/ ls victim", &["rm", "victim"]),
        // toybox with POSIX `basename`, which ignores trailing slashes (busybox runs nothing).
        (
            "exec -a /x/rm/ toybox echo victim",
            &["rm", "echo", "victim"],
        ),
        ("exec -a /x/rm/ busybox victim", &["rm", "victim"]),
        ("exec -a /x/toybox/ toybox rm victim", &["rm", "victim"]),
        // With no stem, uutils reads its own file's name: its first argument could be the
        // utility.
        ("exec -a '' ls rm victim", &["rm", "victim"]),
        ("exec -a /x/.. ls rm victim", &["rm", "victim"]),
    ] {
        let found = sh(script);
        assert!(holds(&found, command), "{script}: {found:?}");
        assert!(found.problems.is_empty(), "{script}: {found:?}");
    }
    // Judged, and refused for another reason: `.` reads a script.
    let found = sh("exec -a rm/. ls victim");
    assert!(holds(&found, &["rm", "victim"]), "{found:?}");
    // toybox keeps a leading `-`: `-rm` is no applet, so it follows `./-rm` as a link.
    refused(&[
        "exec -a -rm toybox echo victim",
        "exec -a -bash toybox -c 'echo hi'",
    ]);
}

#[test]
fn an_argv0_starting_with_a_dash_makes_a_shell_a_login_shell() {
    // bash, dash and busybox run a shell whose `argv[0]` starts with `-` as a login shell,
    // which runs `/etc/profile` and `~/.profile`; bash's `exec -l` gives it that `-`.
    let found = sh("printf 'touch PWNED\\n' > .profile; HOME=. exec -l sh -c 'echo done'");
    let why = "`exec` runs `sh` as a login shell (its `argv[0]` is `-sh`), which runs its \
               startup files";
    assert!(
        found
            .problems
            .iter()
            .any(|problem| problem.starts_with(why)),
        "{found:?}"
    );
    refused(&[
        "exec -l bash -c 'echo'",
        "exec -cl /bin/dash -c 'echo'",
        "exec -a -bash bash -c 'echo'",
        "exec -a -x bash -c 'echo'",
        "exec -l -a x bash -c 'echo'",
        "exec -a -/bin/sh /bin/sh -c 'echo'",
        "exec -a -sh busybox -c 'echo'",
        "exec -la sh busybox -c 'echo'",
        "exec -a -sh toybox -c 'echo'",
        "exec -a -bash bash-5.2 -c 'echo'",
        "env -a -sh sh -c 'echo'",
        "env --argv0=-bash bash -c 'echo'",
        "env -a -bash -S 'bash -c echo'",
        "strace --argv0=-sh sh -c 'echo'",
        "ld-linux-x86-64.so.2 --argv0 -sh /bin/sh -c 'echo'",
        "command exec -l sh -c 'echo'",
    ]);
    // A `-` before a program that is no shell changes nothing the checker reads.
    allowed(&[
        "exec -l ls",
        "exec -a -foo ls -l",
        "env -a -x ls",
        "exec -a bash bash -c 'echo'",
        "exec -a -rm busybox x",
    ]);
}
