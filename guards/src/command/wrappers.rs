//! Programs that run other programs: wrappers (`env`, `xargs`, `timeout`, …) with their
//! options skipped, `find -exec`, shells given `-c`, and what is refused outright.

use super::Word;

/// What a program runs besides itself.
#[derive(Debug, Default)]
pub(super) struct Runs {
    /// Commands it runs, as words.
    pub(super) commands: Vec<Vec<Word>>,
    /// Shell scripts it runs.
    pub(super) scripts: Vec<Word>,
    /// Variables it sets for what it runs (`env NAME=value …`).
    pub(super) assignments: Vec<String>,
    /// Why what it runs cannot be checked.
    pub(super) refusal: Option<String>,
}

impl Runs {
    fn refused(reason: String) -> Runs {
        Runs {
            refusal: Some(reason),
            ..Runs::default()
        }
    }
}

/// How a wrapper's arguments are written: options, then maybe `NAME=value` words and
/// operands, then the command it runs.
struct Wrapper {
    /// The programs written this way.
    names: &'static [&'static str],
    /// Short options that take a value (`-n 5` or `-n5`).
    short: &'static str,
    /// Short options whose optional value is attached (`-i{}`), never the next word.
    attached: &'static str,
    /// Long options that take the next word as their value (unless written `--opt=value`).
    long: &'static [&'static str],
    /// Short and long options whose value is a shell script (`env -S`, `su -c`).
    script: (&'static str, &'static [&'static str]),
    /// Whether `NAME=value` words may come before the command (`env`, `sudo`).
    assignments: bool,
    /// Words between the options and the command (`timeout`'s duration).
    operands: usize,
}

/// A wrapper with no options of note.
const PLAIN: Wrapper = Wrapper {
    names: &[],
    short: "",
    attached: "",
    long: &[],
    script: ("", &[]),
    assignments: false,
    operands: 0,
};

/// The wrappers the checker looks through.
const WRAPPERS: &[Wrapper] = &[
    Wrapper {
        names: &["env"],
        short: "uCS",
        long: &["unset", "chdir", "split-string"],
        script: ("S", &["split-string"]),
        assignments: true,
        ..PLAIN
    },
    Wrapper {
        names: &["xargs"],
        short: "adEILnPs",
        attached: "eil",
        long: &[
            "arg-file",
            "delimiter",
            "max-args",
            "max-procs",
            "max-chars",
            "process-slot-var",
        ],
        ..PLAIN
    },
    Wrapper {
        names: &["nice"],
        short: "n",
        long: &["adjustment"],
        ..PLAIN
    },
    Wrapper {
        names: &["timeout"],
        short: "sk",
        long: &["signal", "kill-after"],
        operands: 1,
        ..PLAIN
    },
    Wrapper {
        names: &["time"],
        short: "fo",
        long: &["format", "output"],
        ..PLAIN
    },
    Wrapper {
        names: &["exec"],
        short: "a",
        ..PLAIN
    },
    Wrapper {
        names: &["stdbuf"],
        short: "ioe",
        long: &["input", "output", "error"],
        ..PLAIN
    },
    Wrapper {
        names: &["sudo"],
        short: "CDgpRrTtUu",
        long: &[
            "chdir",
            "chroot",
            "close-from",
            "command-timeout",
            "group",
            "host",
            "other-user",
            "prompt",
            "role",
            "type",
            "user",
        ],
        assignments: true,
        ..PLAIN
    },
    Wrapper {
        names: &["doas"],
        short: "uC",
        ..PLAIN
    },
    Wrapper {
        names: &["su", "runuser"],
        short: "cgGsu",
        long: &["command", "group", "supp-group", "shell", "user"],
        script: ("c", &["command"]),
        operands: usize::MAX,
        ..PLAIN
    },
    Wrapper {
        names: &["chroot"],
        long: &["userspec", "groups"],
        operands: 1,
        ..PLAIN
    },
    Wrapper {
        names: &["ionice"],
        short: "cnpPu",
        long: &["class", "classdata", "pid", "pgid", "uid"],
        ..PLAIN
    },
    Wrapper {
        names: &["taskset"],
        operands: 1,
        ..PLAIN
    },
    Wrapper {
        names: &[
            "nohup", "command", "builtin", "setsid", "busybox", "unbuffer", "noglob",
        ],
        ..PLAIN
    },
];

/// Shells: `-c SCRIPT` is parsed and checked; a script file or standard input is refused.
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash"];

/// Programs refused outright, with why.
const REFUSED: &[(&str, &str)] = &[
    ("eval", "runs text as a script"),
    ("source", "runs a script file"),
    (".", "runs a script file"),
    ("alias", "redefines commands"),
    ("trap", "runs text later"),
    ("enable", "redefines builtins"),
    ("hash", "redefines where commands are found"),
];

/// What the program `name` runs when given `args`.
pub(super) fn runs(name: &str, args: &[Word]) -> Runs {
    if let Some((_, why)) = REFUSED.iter().find(|(refused, _)| *refused == name) {
        return Runs::refused(format!("`{name}` {why}, which the checker cannot see"));
    }
    if SHELLS.contains(&name) {
        return shell(name, args);
    }
    if name == "find" {
        return find(args);
    }
    match WRAPPERS
        .iter()
        .find(|wrapper| wrapper.names.contains(&name))
    {
        Some(wrapper) => wrapped(name, wrapper, args),
        None => Runs::default(),
    }
}

fn non_literal(name: &str, word: &Word) -> Runs {
    Runs::refused(format!(
        "`{name}` has the non-literal argument `{}`",
        word.text()
    ))
}

/// The command a wrapper runs: after its options, `NAME=value` words and operands.
fn wrapped(name: &str, wrapper: &Wrapper, args: &[Word]) -> Runs {
    let mut runs = Runs::default();
    let mut index = 0;
    while let Some(word) = args.get(index) {
        let Some(text) = word.literal() else {
            return non_literal(name, word);
        };
        index += 1;
        if text == "--" {
            break;
        }
        if let Some(long) = text.strip_prefix("--") {
            let (option, value) = match long.split_once('=') {
                Some((option, value)) => (option, Some(Word::Literal(value.to_owned()))),
                None if wrapper.long.contains(&long) => {
                    index += 1;
                    (long, args.get(index - 1).cloned())
                }
                None => (long, None),
            };
            if wrapper.script.1.contains(&option) {
                runs.scripts.extend(value);
            }
            continue;
        }
        let Some(cluster) = text.strip_prefix('-').filter(|cluster| !cluster.is_empty()) else {
            index -= 1;
            break;
        };
        for (at, option) in cluster.char_indices() {
            if wrapper.attached.contains(option) {
                break;
            }
            if wrapper.short.contains(option) {
                let rest = &cluster[at + option.len_utf8()..];
                let value = if rest.is_empty() {
                    index += 1;
                    args.get(index - 1).cloned()
                } else {
                    Some(Word::Literal(rest.to_owned()))
                };
                if wrapper.script.0.contains(option) {
                    runs.scripts.extend(value);
                }
                break;
            }
        }
    }
    while wrapper.assignments
        && let Some(name) = args.get(index).and_then(|word| assigned_name(word.text()))
    {
        runs.assignments.push(name.to_owned());
        index += 1;
    }
    let start = index.saturating_add(wrapper.operands);
    if let Some(command) = args.get(start..).filter(|command| !command.is_empty()) {
        runs.commands.push(command.to_vec());
    }
    runs
}

/// The name a `NAME=value` word sets.
fn assigned_name(word: &str) -> Option<&str> {
    let (name, _) = word.split_once('=')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    let valid = (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(name)
}

/// The commands of `find`'s `-exec`, `-execdir`, `-ok` and `-okdir` (each up to `;` or `+`).
fn find(args: &[Word]) -> Runs {
    let mut runs = Runs::default();
    let mut index = 0;
    while let Some(word) = args.get(index) {
        index += 1;
        match word.literal() {
            Some("-exec" | "-execdir" | "-ok" | "-okdir") => {
                let start = index;
                while args
                    .get(index)
                    .is_some_and(|word| !matches!(word.literal(), Some(";" | "+")))
                {
                    index += 1;
                }
                runs.commands
                    .extend(args.get(start..index).map(<[Word]>::to_vec));
                index += 1;
            }
            Some(_) => {}
            // A variable could hold `-exec`.
            None => return non_literal("find", word),
        }
    }
    runs
}

/// The script a shell runs: the first operand after `-c` (also `-lc`, `-ec`, …).
fn shell(name: &str, args: &[Word]) -> Runs {
    let mut command_mode = false;
    let mut index = 0;
    while let Some(word) = args.get(index) {
        let Some(text) = word.literal() else {
            return non_literal(name, word);
        };
        if text == "--" || text == "-" {
            index += 1;
            break;
        }
        if let Some(long) = text.strip_prefix("--") {
            index += if matches!(long, "rcfile" | "init-file") {
                2
            } else {
                1
            };
            continue;
        }
        let Some(cluster) = (text.strip_prefix('-').or_else(|| text.strip_prefix('+')))
            .filter(|cluster| !cluster.is_empty())
        else {
            break;
        };
        index += 1;
        command_mode |= cluster.contains('c');
        if cluster.contains(['s', 'i']) {
            return Runs::refused(format!(
                "`{name} -{cluster}` reads commands from standard input, which the checker cannot see"
            ));
        }
        if cluster.contains(['o', 'O']) {
            index += 1;
        }
    }
    match (command_mode, args.get(index)) {
        (true, script) => Runs {
            scripts: script.cloned().into_iter().collect(),
            ..Runs::default()
        },
        (false, Some(file)) => Runs::refused(format!(
            "`{name}` runs the script file `{}`, which the checker cannot see",
            file.text()
        )),
        (false, None) => Runs::refused(format!(
            "`{name}` reads commands from standard input, which the checker cannot see"
        )),
    }
}
