//! Wrappers that run their command in a sandbox they set up from options and files:
//! `systemd-run`'s unit properties, `firejail`, `valgrind` (probe 203).

use super::wrappers::cds;
use super::*;

#[test]
fn systemd_run_properties_that_set_variables_report_them() {
    for (words, set) in [
        (
            &[
                "systemd-run",
                "-p",
                "Environment=LD_PRELOAD=/tmp/x.so",
                "ls",
            ][..],
            &["LD_PRELOAD"][..],
        ),
        (
            &["systemd-run", "--property=Environment=A=1 B=2", "ls"],
            &["A", "B"],
        ),
        (&["systemd-run", "-pEnvironment=FOO=1", "ls"], &["FOO"]),
        (
            &["systemd-run", "-p", "PassEnvironment=BASH_ENV", "ls"],
            &["BASH_ENV"],
        ),
        (
            &["systemd-run", "-p", "UnsetEnvironment=PATH", "ls"],
            &["PATH"],
        ),
    ] {
        let found = argv(words);
        assert_eq!(found.assignments, set, "{words:?}: {found:?}");
    }
    // Under every policy, as with `-E`.
    refused(&[
        "systemd-run -p Environment=LD_PRELOAD=/tmp/x.so --same-dir true",
        "sh -c 'systemd-run --property=Environment=BASH_ENV=/tmp/e --same-dir true'",
    ]);
}

#[test]
fn systemd_run_properties_the_checker_does_not_read_are_refused() {
    refused(&[
        "systemd-run -p EnvironmentFile=/tmp/envfile --same-dir true",
        "systemd-run -p ExecStartPre=/bin/touch --same-dir true",
        "systemd-run -p 'Environment=\"A=1\"' --same-dir true",
        "systemd-run -p BindPaths=/tmp:/srv --same-dir true",
        "systemd-run -p StandardOutput=file:/etc/x --same-dir true",
        "systemd-run -p Nice --same-dir true",
        "systemd-run --on-active=1 --timer-property=Unit=x.service --same-dir true",
        "systemd-run --path-property=PathExists=/tmp/x --same-dir true",
    ]);
    allowed(&[
        "systemd-run -p Nice=5 -p MemoryMax=1G -p CPUQuota=50% --same-dir true",
        "systemd-run --on-active=1 --timer-property=AccuracySec=1s --same-dir true",
    ]);
}

#[test]
fn systemd_run_directory_properties_are_judged_as_a_cd() {
    for (words, dir) in [
        (
            &[
                "systemd-run",
                "-p",
                "WorkingDirectory=/tmp",
                "--same-dir",
                "ls",
            ][..],
            "/tmp",
        ),
        (
            &[
                "systemd-run",
                "-p",
                "WorkingDirectory=-/tmp",
                "--same-dir",
                "ls",
            ],
            "/tmp",
        ),
        (
            &[
                "systemd-run",
                "-pRootDirectory=/srv/root",
                "--same-dir",
                "ls",
            ],
            "/srv/root",
        ),
        (
            &[
                "systemd-run",
                "-p",
                "WorkingDirectory=~",
                "--same-dir",
                "ls",
            ],
            "{directory}",
        ),
    ] {
        let found = argv(words);
        assert_eq!(cds(&found), [dir], "{words:?}: {found:?}");
        assert!(found.problems.is_empty(), "{words:?}: {found:?}");
    }
}

#[test]
fn firejail_reads_only_known_options_and_no_profile() {
    refused(&[
        "firejail --noprofile --audit=/usr/bin/perl ls",
        "firejail --noprofile --zzbogus=1 true",
        "firejail --noprofile --profile=/tmp/p ls",
        "firejail --noprofile --shell=/bin/bash ls",
        // A profile may set variables (`env`): without `--noprofile` one is read.
        "firejail ls",
        "firejail --net=none ls",
    ]);
    allowed(&["firejail --noprofile --net=none --private --quiet ls"]);
}

#[test]
fn valgrind_runs_only_its_own_tools() {
    refused(&[
        "valgrind --tool=../../../../tmp/evil ls",
        "valgrind --tool=/tmp/evil ls",
        "valgrind --zzbogus=1 ls",
    ]);
    allowed(&[
        "valgrind ls",
        "valgrind --tool=callgrind --callgrind-out-file=cg.out ls",
        "valgrind -q --leak-check=full --error-exitcode=1 ls",
    ]);
}
