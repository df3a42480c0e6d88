//! The wrappers the checker looks through: for each, how its arguments are written —
//! its options as its getopt reads them, `NAME=value` words, operands — up to the command
//! it runs.

use super::getopt::{GETOPT, Getopt};
use super::loader::LOADER;

/// Where a wrapper's command starts, after its options.
#[derive(Debug, Clone, Copy)]
pub(super) enum Operands {
    /// After this many operands (`timeout`'s duration, `taskset`'s mask).
    Fixed(usize),
    /// After `chrt`'s priority: the first operand when it is a number and a word follows.
    Priority,
    /// After `chroot`'s root, which its command runs in (under it, as `/`).
    Root,
    /// After `flock`'s file (none with `--fd`); there `-c SCRIPT` or `--command SCRIPT` is a
    /// script instead.
    Lock,
}

/// How a wrapper reads `NAME=value` words before its command: as an assignment of `NAME`
/// whatever `NAME` is (`1=/echo`, `A-B=x`, `BASH_FUNC_ls%%=…`), as `env` and `sudo` read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Assignments {
    /// It takes none.
    None,
    /// GNU `env`: after its options, a lone `-`, then every word holding a `=`; the word after
    /// them is the command, never an option.
    Env,
    /// `sudo`: a word holding a `=` that does not start with `/`, among its options, which it
    /// reads again after it.
    Sudo,
}

/// How a wrapper's arguments are written: options, maybe `NAME=value` words and operands,
/// then the command it runs.
pub(super) struct Wrapper {
    /// The programs written this way.
    pub(super) names: &'static [&'static str],
    /// How it reads its options.
    pub(super) options: Getopt,
    /// Options whose value is a shell script (`flock -c`).
    pub(super) scripts: &'static [&'static str],
    /// Options whose value it splits into words that it reads as its arguments again, in
    /// place of the option (`env -S`).
    pub(super) split: &'static [&'static str],
    /// How `NAME=value` words before its command are read (`env`, `sudo`).
    pub(super) assignments: Assignments,
    /// Where its command starts.
    pub(super) operands: Operands,
    /// Options with which it runs a shell (`sudo -s`), which reads standard input when no
    /// command follows.
    pub(super) shell: &'static [&'static str],
    /// Whether with no command it runs a shell reading standard input (`chroot DIR`,
    /// `unshare`, `pkexec`).
    pub(super) bare: bool,
    /// Options that make it run code the checker cannot see (`fakeroot --lib`), refused.
    pub(super) unseen: &'static [&'static str],
    /// Options whose value it hands to a shell's `eval` as text (fakeroot's `-s FILE`):
    /// refused unless the value is a plain word, which that shell reads as itself.
    pub(super) evaluated: &'static [&'static str],
    /// Options with which it runs its command through a login shell (`sudo -i`), which runs
    /// startup files the checker cannot see: refused.
    pub(super) logs_in: &'static [&'static str],
    /// Whether it fills its command in with its input (`xargs`): the words holding the value
    /// of one of these options (`{}` when none) are replaced by it (`xargs -I`); with none of
    /// them given, it is appended.
    pub(super) input: Option<&'static [&'static str]>,
    /// Options whose value, when it starts with `|` or `!`, is a shell script (`strace -o`).
    pub(super) piped: &'static [&'static str],
    /// Whether it runs a systemd unit: `Exec…=` properties are refused, and `$` in the
    /// command's words is expanded (refused).
    pub(super) unit: bool,
    /// Options whose value names a variable it sets (or unsets) for its command, as `NAME`
    /// or `NAME=value` (`systemd-run -E`, `strace -E`, `firejail --env`, `xargs
    /// --process-slot-var`).
    pub(super) sets: &'static [&'static str],
    /// Options with which it runs nothing, only prints what its operands name (`command -v`).
    pub(super) prints: &'static [&'static str],
    /// Options whose value is the `argv[0]` its command is given (`exec -a NAME`, `env
    /// --argv0=NAME`), by which a multi-call binary (busybox, toybox, a multi-call coreutils)
    /// picks the program it runs.
    pub(super) argv0: &'static [&'static str],
    /// Options that put a `-` before its command's `argv[0]` (`exec -l`), which makes a shell
    /// a login shell.
    pub(super) login_argv0: &'static [&'static str],
    /// Options whose value is a directory its command runs in, or under as its root (`env -C
    /// DIR`, `unshare --root=DIR`); given none (`nsenter -w`), one it picks at run time.
    pub(super) chdir: &'static [&'static str],
    /// With none of these options (nor a `chdir` one), it runs its command in a directory it
    /// picks (`pkexec`: the user's home, unless `--keep-cwd`).
    pub(super) stays: Option<&'static [&'static str]>,
    /// Options whose value must be one of a few words (`valgrind --tool`: a tool's name,
    /// not a path).
    pub(super) choices: &'static [(&'static str, &'static [&'static str])],
    /// With none of these options, it reads files of the user's that may set variables or
    /// run programs the checker cannot see (firejail's profiles, unless `--noprofile`):
    /// refused.
    pub(super) profiles: Option<&'static [&'static str]>,
}

/// A wrapper with no options of note.
pub(super) const PLAIN: Wrapper = Wrapper {
    names: &[],
    options: GETOPT,
    scripts: &[],
    split: &[],
    assignments: Assignments::None,
    operands: Operands::Fixed(0),
    shell: &[],
    bare: false,
    unseen: &[],
    evaluated: &[],
    logs_in: &[],
    input: None,
    piped: &[],
    unit: false,
    sets: &[],
    prints: &[],
    argv0: &[],
    login_argv0: &[],
    chdir: &[],
    stays: None,
    choices: &[],
    profiles: None,
};

/// The wrappers the checker looks through, with their options as their sources read them
/// (coreutils 9.x, util-linux 2.4x, sudo 1.9, OpenDoas, findutils, GNU time, polkit,
/// strace 6, ltrace, valgrind, numactl, libcgroup, torsocks, proxychains-ng, fakeroot,
/// firejail, systemd, glibc's and musl's dynamic loader).
pub(super) const WRAPPERS: &[Wrapper] = &[
    Wrapper {
        names: &["env"],
        options: Getopt {
            short: "a:C:iS:u:v0",
            long: "argv0: ignore-environment null unset: chdir: split-string: block-signal:: \
                   default-signal:: ignore-signal:: list-signal-handling debug env0-from: \
                   quoting-style: help version",
            ..GETOPT
        },
        split: &["S", "split-string"],
        assignments: Assignments::Env,
        argv0: &["a", "argv0"],
        chdir: &["C", "chdir"],
        ..PLAIN
    },
    Wrapper {
        names: &["xargs"],
        options: Getopt {
            short: "0a:E:e::i::I:J:l::L:n:prR:s:S:txP:d:o",
            long: "null arg-file: delimiter: eof:: replace:: max-lines:: max-args: max-procs: \
                   open-tty interactive no-run-if-empty max-chars: verbose show-limits exit \
                   process-slot-var: help version",
            ..GETOPT
        },
        input: Some(&["I", "i", "replace", "J"]),
        // Each command it runs gets `NAME` set to its slot number.
        sets: &["process-slot-var"],
        ..PLAIN
    },
    Wrapper {
        names: &["nice"],
        options: Getopt {
            short: "n:",
            long: "adjustment: help version",
            numeric: true,
            ..GETOPT
        },
        ..PLAIN
    },
    Wrapper {
        names: &["timeout"],
        options: Getopt {
            short: "fk:ps:v",
            long: "foreground kill-after: preserve-status signal: verbose help version",
            ..GETOPT
        },
        operands: Operands::Fixed(1),
        ..PLAIN
    },
    Wrapper {
        names: &["time"],
        options: Getopt {
            short: "af:o:pqvV",
            long: "append format: output: portability quiet verbose help version",
            ..GETOPT
        },
        ..PLAIN
    },
    Wrapper {
        names: &["exec"],
        options: Getopt {
            short: "cla:",
            ..GETOPT
        },
        argv0: &["a"],
        login_argv0: &["l"],
        ..PLAIN
    },
    Wrapper {
        names: &["stdbuf"],
        options: Getopt {
            short: "i:o:e:",
            long: "input: output: error: help version",
            ..GETOPT
        },
        ..PLAIN
    },
    Wrapper {
        names: &["sudo"],
        options: Getopt {
            // sudo's `-h` takes the next word as the host, or asks for help: either way
            // that word is no command.
            short: "Aa:BbC:c:D:Eeg:Hh:iKklNnPp:R:r:SsT:t:U:u:Vv",
            long: "askpass auth-type: background bell close-from: login-class: chdir: \
                   preserve-env:: edit group: set-home help host: login remove-timestamp \
                   reset-timestamp list no-update non-interactive preserve-groups prompt: \
                   chroot: role: stdin shell command-timeout: type: other-user: user: validate \
                   version",
            ..GETOPT
        },
        assignments: Assignments::Sudo,
        shell: &["s", "shell"],
        // `-e` runs an editor on its operands, which are files, not a command (probe 206 F4).
        unseen: &["e", "edit"],
        logs_in: &["i", "login"],
        chdir: &["D", "chdir", "R", "chroot"],
        ..PLAIN
    },
    Wrapper {
        names: &["doas"],
        options: Getopt {
            short: "a:C:Lnsu:",
            long: "",
            ..GETOPT
        },
        shell: &["s"],
        ..PLAIN
    },
    Wrapper {
        names: &["chroot"],
        options: Getopt {
            long: "userspec: groups: skip-chdir help version",
            ..GETOPT
        },
        operands: Operands::Root,
        bare: true,
        ..PLAIN
    },
    Wrapper {
        names: &["ionice"],
        options: Getopt {
            short: "c:n:p:P:u:tVh",
            long: "class: classdata: pid: pgid: uid: ignore help version",
            ..GETOPT
        },
        ..PLAIN
    },
    Wrapper {
        names: &["taskset"],
        options: Getopt {
            short: "apchV",
            long: "all-tasks pid cpu-list help version",
            ..GETOPT
        },
        operands: Operands::Fixed(1),
        ..PLAIN
    },
    Wrapper {
        names: &["setsid"],
        options: Getopt {
            short: "cfwVh",
            long: "ctty fork wait help version",
            ..GETOPT
        },
        ..PLAIN
    },
    Wrapper {
        names: &["command"],
        options: Getopt {
            short: "pVv",
            long: "",
            ..GETOPT
        },
        prints: &["v", "V"],
        ..PLAIN
    },
    Wrapper {
        names: &["unbuffer"],
        options: Getopt {
            short: "p",
            long: "",
            ..GETOPT
        },
        ..PLAIN
    },
    Wrapper {
        names: &["builtin", "noglob", "busybox", "toybox"],
        options: Getopt { long: "", ..GETOPT },
        ..PLAIN
    },
    Wrapper {
        names: &["nohup", "catchsegv"],
        ..PLAIN
    },
    Wrapper {
        names: &["flock"],
        options: Getopt {
            short: "sexnoFuw:E:hVc:",
            long: "shared exclusive unlock nonblocking nb timeout: wait: conflict-exit-code: \
                   close no-fork verbose fcntl start: length: fd: command: help version",
            ..GETOPT
        },
        scripts: &["c", "command"],
        operands: Operands::Lock,
        ..PLAIN
    },
    Wrapper {
        names: &["setpriv"],
        options: Getopt {
            short: "dhV",
            long: "dump nnp no-new-privs inh-caps: ambient-caps: list-caps ruid: euid: rgid: \
                   egid: reuid: regid: clear-groups keep-groups init-groups groups: \
                   bounding-set: securebits: pdeathsig: ptracer: selinux-label: \
                   apparmor-profile: landlock-access: landlock-rule: landlock-support \
                   list-landlock-access list-landlock-rights: seccomp-filter: reset-env help \
                   version",
            ..GETOPT
        },
        ..PLAIN
    },
    Wrapper {
        names: &["unshare"],
        options: Getopt {
            short: "fhVmuinpCTUrR:w:S:G:cl:",
            long: "help version mount:: uts:: ipc:: net:: pid:: user:: cgroup:: time:: fork \
                   kill-child:: forward-signals mount-proc:: mount-binfmt:: map-user: \
                   map-users: map-group: map-groups: map-root-user map-current-user map-auto \
                   map-subids owner: propagation: setgroups: keep-caps setuid: setgid: root: \
                   wd: monotonic: boottime: load-interp: clear-env whitelist-env:",
            ..GETOPT
        },
        bare: true,
        // The interpreter it registers (binfmt_misc) runs every program it matches in the
        // namespace (probe 206 F6).
        unseen: &["load-interp"],
        chdir: &["w", "wd", "R", "root"],
        ..PLAIN
    },
    Wrapper {
        names: &["nsenter"],
        options: Getopt {
            // `-W`/`--wdns` takes its directory from the next word too (probe 206 F2:
            // read as optional, the directory was taken for the command).
            short: "ahVt:m::u::i::n::N:p::C::U::T::S:G:r::w::W:ecFZ",
            long: "all help version target: mount:: uts:: ipc:: net:: net-socket: pid:: \
                   user:: cgroup:: time:: setuid: setgid: root:: wd:: wdns: env no-fork \
                   join-cgroup preserve-credentials keep-caps user-parent follow-context",
            ..GETOPT
        },
        bare: true,
        chdir: &["r", "root", "w", "wd", "W", "wdns"],
        ..PLAIN
    },
    Wrapper {
        names: &["prlimit"],
        options: Getopt {
            short: "c::d::e::f::i::l::m::n::q::r::s::t::u::v::x::y::p:o:Vh",
            long: "pid: output: as:: core:: cpu:: data:: fsize:: locks:: memlock:: msgqueue:: \
                   nice:: nofile:: nproc:: rss:: rtprio:: rttime:: sigpending:: stack:: \
                   noheadings raw verbose help version",
            ..GETOPT
        },
        ..PLAIN
    },
    Wrapper {
        names: &["chrt"],
        options: Getopt {
            short: "abdD:efiphmoOP:T:rRU:X:GvV",
            long: "all-tasks batch clamp-min: clamp-max: deadline deadline-overrun ext fifo \
                   idle pid help max other rr sched-runtime: sched-period: sched-deadline: \
                   reset-on-fork reclaim-grub verbose version",
            ..GETOPT
        },
        operands: Operands::Priority,
        ..PLAIN
    },
    Wrapper {
        names: &["strace"],
        options: Getopt {
            short: "a:Ab:cCdDe:E:fFhiI:knNo:O:p:P:qrs:S:tTu:U:vVwxX:yYzZ",
            long: "columns: output-append-mode detach-on: summary-only summary debug \
                   daemonize:: daemonised:: daemonized:: env: follow-forks output-separately \
                   help instruction-pointer interruptible: kill-on-exit stack-trace:: \
                   stack-traces:: stack-trace-frame-limit: syscall-limit: syscall-number \
                   arg-names output: summary-syscall-overhead: attach: trace-path: \
                   relative-timestamps:: string-limit: summary-sort-by: absolute-timestamps:: \
                   timestamps:: syscall-times:: user: summary-columns: no-abbrev version \
                   summary-wall-clock strings-in-hex:: const-print-style: pidns-translation \
                   successful-only failed-only failing-only seccomp-bpf tips:: argv0: \
                   always-show-pid color: trace: trace-fds: abbrev: verbose: raw: signals: \
                   status: read: write: fault: inject: kvm: namespace:: quiet:: silent:: \
                   silence:: decode-fds:: decode-pids: secontext::",
            ..GETOPT
        },
        piped: &["o", "output"],
        sets: &["E", "env"],
        argv0: &["argv0"],
        ..PLAIN
    },
    Wrapper {
        names: &["ltrace"],
        options: Getopt {
            short: "Cw:cfhiLrStTVba:A:D:e:F:l:n:o:p:s:u:x:",
            long: "align: config: debug: demangle indent: help library: output: version \
                   no-signals where:",
            ..GETOPT
        },
        ..PLAIN
    },
    Wrapper {
        // valgrind 3.2x: its core options and those of the tools it ships, each valued only
        // after `=`; `--tool` picks a program from its library by name, so only a tool's
        // name is read (probe 203 F3: `--tool=../../tmp/evil` ran a file of the step's).
        names: &["valgrind"],
        options: Getopt {
            short: "dhqv",
            long: "help:: help-debug:: help-dyn-options:: version:: quiet:: verbose:: tool:: \
                  trace-children:: trace-children-skip:: trace-children-skip-by-arg:: \
                  child-silent-after-fork:: vgdb:: vgdb-error:: vgdb-stop-at:: vgdb-poll:: \
                  vgdb-shadow-registers:: vgdb-prefix:: track-fds:: time-stamp:: log-fd:: \
                  log-file:: log-socket:: enable-debuginfod:: xml:: xml-fd:: xml-file:: \
                  xml-socket:: xml-user-comment:: demangle:: num-callers:: error-limit:: \
                  exit-on-first-error:: error-exitcode:: error-markers:: show-error-list:: \
                  show-below-main:: fullpath-after:: extra-debuginfo-path:: debuginfo-server:: \
                  allow-mismatched-debuginfo:: suppressions:: gen-suppressions:: \
                  max-stackframe:: main-stacksize:: max-threads:: smc-check:: \
                  read-inline-info:: read-var-info:: run-libc-freeres:: run-cxx-freeres:: \
                  sim-hints:: fair-sched:: kernel-variant:: merge-recursive-frames:: \
                  num-transtab-sectors:: avg-transtab-entry-size:: aspace-minaddr:: \
                  valgrind-stacksize:: show-emwarns:: require-text-symbol:: soname-synonyms:: \
                  progress-interval:: default-suppressions:: stats:: leak-check:: \
                  leak-resolution:: show-leak-kinds:: errors-for-leak-kinds:: \
                  leak-check-heuristics:: show-reachable:: show-possibly-lost:: xtree-leak:: \
                  xtree-leak-file:: undef-value-errors:: track-origins:: partial-loads-ok:: \
                  expensive-definedness-checks:: freelist-vol:: freelist-big-blocks:: \
                  ignore-ranges:: ignore-range-below-sp:: malloc-fill:: free-fill:: \
                  keep-stacktraces:: show-mismatched-frees:: show-realloc-size-zero:: \
                  redzone-size:: xtree-memory:: xtree-memory-file:: alignment:: trace-malloc:: \
                  callgrind-out-file:: dump-instr:: dump-line:: collect-jumps:: \
                  collect-systime:: collect-bus:: cache-sim:: branch-sim:: toggle-collect:: \
                  instr-atstart:: collect-atstart:: separate-threads:: separate-callers:: \
                  skip-plt:: compress-strings:: compress-pos:: combine-dumps:: dump-every-bb:: \
                  dump-before:: dump-after:: zero-before:: cachegrind-out-file:: I1:: D1:: LL:: \
                  heap:: heap-admin:: stacks:: pages-as-heap:: depth:: alloc-fn:: ignore-fn:: \
                  threshold:: peak-inaccuracy:: time-unit:: detailed-freq:: max-snapshots:: \
                  massif-out-file:: history-level:: conflict-cache-size:: check-stack-var:: \
                  exclusive-threshold:: shared-threshold:: free-is-write:: \
                  report-signal-unlocked:: segment-merging:: show-confl-seg:: \
                  show-stack-usage:: dhat-out-file:: mode::",
            ..GETOPT
        },
        choices: &[(
            "tool",
            &[
                "memcheck",
                "cachegrind",
                "callgrind",
                "helgrind",
                "drd",
                "massif",
                "dhat",
                "lackey",
                "none",
                "exp-bbv",
            ],
        )],
        ..PLAIN
    },
    Wrapper {
        // firejail 0.9.7x's sandboxing options, each valued only after `=`; any other is
        // refused (probe 203 F3: `--audit=PROG` runs PROG). Without `--noprofile` it reads a
        // profile — a file of the user's, which may set variables (`env`) — so it is
        // refused without it.
        names: &["firejail"],
        options: Getopt {
            long: "help:: version:: quiet:: debug:: noprofile:: private:: private-tmp:: \
                  private-dev:: private-etc:: private-bin:: private-home:: private-opt:: \
                  private-srv:: private-cache:: private-cwd:: private-lib:: chroot:: \
                  read-only:: read-write:: whitelist:: nowhitelist:: blacklist:: noblacklist:: \
                  noexec:: tmpfs:: net:: ip:: ip6:: dns:: netfilter:: netfilter6:: protocol:: \
                  seccomp:: seccomp.drop:: seccomp.keep:: seccomp-error-action:: \
                  memory-deny-write-execute:: caps:: caps.drop:: caps.keep:: nonewprivs:: \
                  noroot:: nogroups:: nosound:: novideo:: no3d:: nodvd:: notv:: nou2f:: \
                  noinput:: nodbus:: noautopulse:: rlimit-as:: rlimit-cpu:: rlimit-fsize:: \
                  rlimit-nofile:: rlimit-nproc:: rlimit-sigpending:: timeout:: name:: \
                  hostname:: env:: rmenv:: cpu:: nice:: machine-id:: ipc-namespace:: \
                  deterministic-exit-code:: deterministic-shutdown:: disable-mnt:: \
                  keep-dev-shm:: keep-var-tmp:: writable-var:: writable-etc:: \
                  writable-run-user:: writable-var-log:: allusers:: apparmor::",
            ..GETOPT
        },
        bare: true,
        sets: &["env", "rmenv"],
        chdir: &["private-cwd", "chroot"],
        profiles: Some(&["noprofile"]),
        ..PLAIN
    },
    Wrapper {
        names: &["pkexec"],
        options: Getopt {
            short: "u:",
            long: "help version user: disable-internal-agent keep-cwd",
            ..GETOPT
        },
        bare: true,
        stays: Some(&["keep-cwd"]),
        ..PLAIN
    },
    Wrapper {
        names: &["numactl"],
        options: Getopt {
            short: "ai:w:p:P:c:N:C:m:slbHS:f:o:L:tM:dDI:uTV",
            long: "all interleave: weighted-interleave: preferred: preferred-many: cpubind: \
                   cpunodebind: physcpubind: membind: show localalloc balancing hardware shm: \
                   file: offset: length: strict shmmode: dump dump-nodes shmid: huge touch \
                   cpu-compress verify version",
            ..GETOPT
        },
        ..PLAIN
    },
    Wrapper {
        names: &["cgexec"],
        options: Getopt {
            short: "g:shbr",
            long: "sticky help",
            ..GETOPT
        },
        ..PLAIN
    },
    Wrapper {
        names: &["torsocks"],
        options: Getopt {
            short: "u:p:a:P:i6dqh",
            long: "user: pass: address: port: isolate ipv6 debug quiet shell help version",
            ..GETOPT
        },
        // `--shell` runs a shell on standard input whatever follows.
        unseen: &["shell"],
        ..PLAIN
    },
    Wrapper {
        names: &["proxychains", "proxychains4"],
        options: Getopt {
            short: "qf:",
            long: "",
            ..GETOPT
        },
        ..PLAIN
    },
    Wrapper {
        // Debian's `fakeroot` is an alternative for one of the last two, the same script.
        names: &["fakeroot", "fakeroot-sysv", "fakeroot-tcp"],
        options: Getopt {
            short: "l:f:i:s:ub:vh",
            long: "lib: faked: unknown-is-real fd-base: version help",
            ..GETOPT
        },
        bare: true,
        unseen: &["l", "lib", "f", "faked"],
        // The script (Debian's, 1.31) runs `eval $FAKED $FAKEDOPTS $PIPEIN`, where
        // `FAKEDOPTS` holds `--save-file VALUE` and `PIPEIN` holds `<VALUE`.
        evaluated: &["s", "i"],
        ..PLAIN
    },
    Wrapper {
        names: &["systemd-run"],
        options: Getopt {
            short: "hH:M:C:u:p:rdRE:tTPqvGS",
            long: "help version no-ask-password user system host: machine: capsule: scope \
                   unit: property: description: slice: slice-inherit expand-environment: \
                   no-block remain-after-exit wait send-sighup service-type: uid: gid: nice: \
                   working-directory: same-dir root-directory: same-root-dir setenv: tty pty \
                   pty-late pipe quiet verbose output: json: collect shell job-mode: \
                   ignore-failure background: no-pager path-property: socket-property: \
                   on-active: on-boot: on-startup: on-unit-active: on-unit-inactive: \
                   on-calendar: on-timezone-change on-clock-change timer-property:",
            ..GETOPT
        },
        shell: &["S", "shell"],
        unit: true,
        sets: &["E", "setenv"],
        chdir: &["working-directory", "root-directory"],
        // A service runs in `/` (a user's, in their home); a scope where it is started.
        stays: Some(&["d", "same-dir", "scope"]),
        ..PLAIN
    },
    Wrapper {
        // The dynamic loader (glibc 2.3x's `elf/rtld.c`, musl's `ldso/dynlink.c`), under
        // whatever file name it has (`loader::is_loader`). glibc reads its options only as
        // whole words with the value in the next word, musl also `--option=value`; a word
        // not starting with `--` is the program. `--preload` and `--audit` load libraries
        // into it, `--library-path` takes them from elsewhere, as `LD_PRELOAD`, `LD_AUDIT`
        // and `LD_LIBRARY_PATH` would: a library's constructor runs before the program.
        names: &[LOADER],
        options: Getopt {
            long: "list verify inhibit-cache library-path: inhibit-rpath: audit: preload: \
                   argv0: glibc-hwcaps-prepend: glibc-hwcaps-mask: list-tunables \
                   list-diagnostics help version",
            ..GETOPT
        },
        unseen: &["preload", "audit", "library-path"],
        argv0: &["argv0"],
        ..PLAIN
    },
];
