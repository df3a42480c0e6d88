//! Shells given a script: `-c SCRIPT` is found as bash and dash read their options, and a
//! shell that would run a script file, read standard input or run startup files (an
//! interactive or a login shell) is refused.

use super::{Runs, non_literal};
use crate::command::Word;
use crate::command::script::Dialect;

/// Shells: `-c SCRIPT` is parsed and checked; a script file or standard input is refused.
pub(super) const SHELLS: &[&str] = &[
    "sh", "bash", "rbash", "dash", "ksh", "ksh93", "rksh", "mksh", "lksh", "oksh", "pdksh", "ash",
    "yash", "posh", "hush", "toysh",
];

/// The name of the shell a distribution installs under another (a static build
/// `bash-static`, a version `zsh5` or `bash-5.2`, a restricted `rzsh` or `rlksh` as `rbash`
/// is bash),
/// if `known` knows it (the shells checked, or refused) and not `name` itself; else `name`.
pub(super) fn own_name(name: &str, known: impl Fn(&str) -> bool) -> &str {
    if known(name) {
        return name;
    }
    let bare = name.strip_suffix("-static").unwrap_or(name);
    let bare = bare.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '-');
    let bare = match bare.strip_prefix('r') {
        Some(shell @ ("bash" | "ksh" | "mksh" | "lksh" | "zsh")) => shell,
        _ => bare,
    };
    if known(bare) { bare } else { name }
}

/// A shell started in keyword mode (`bash -k`, `-o keyword`, or an option named at run
/// time), in which every `NAME=value` word of a command sets NAME for it: refused.
fn keyword_mode(name: &str, option: &str) -> Runs {
    Runs::refused(format!(
        "`{name} {option}` may turn on keyword mode, in which every `NAME=value` word sets a variable: not checked"
    ))
}

/// bash started in POSIX mode (`--posix`, `-o posix`), in which a `'` inside `"${x:-…}"`
/// quotes nothing (`"${x:-'}"; rm x #'}"` runs `rm`) where the checker reads bash's default
/// mode: refused. Other shells' scripts are already refused where they read that otherwise.
fn posix_mode(name: &str, option: &str) -> Runs {
    Runs::refused(format!(
        "`{name} {option}` turns on bash's POSIX mode, which reads quotes otherwise than the checker: not checked; drop the option"
    ))
}

/// bash started with history expansion (`-H`, `-o histexpand`: with `set -o history` in the
/// script, a line is rewritten from earlier ones before it is parsed) or an older bash's
/// compatibility (`-O compat44`: arithmetic expands an array subscript twice), as the
/// script's own `set -H` and `shopt -s compat44` are: refused.
fn rereads(name: &str, option: &str) -> Runs {
    Runs::refused(format!(
        "`{name} {option}` may turn on history expansion or an older bash's compatibility, which change how bash reads or evaluates its script: not checked"
    ))
}

/// An interactive shell (`bash -i`, given `option`): refused.
fn interactive(name: &str, option: &str) -> Runs {
    Runs::refused(format!(
        "`{name} {option}` is an interactive shell, which runs its startup files (`~/.bashrc`, `$ENV`) and may read standard input, which the checker cannot see"
    ))
}

/// A login shell, which runs `/etc/profile` and `~/.profile` (bash: `~/.bash_profile`,
/// `~/.bash_login`), as `what` says (`` `bash -l` is a login shell``): refused.
pub(super) fn login_shell(what: &str) -> Runs {
    Runs::refused(format!(
        "{what}, which runs its startup files (`/etc/profile`, `~/.profile`), which the checker cannot see"
    ))
}

/// The refusal of a shell's long option (`--login`) or `-o` value (`-o login`), `option`,
/// written `text`, that makes it a login or an interactive shell. yash reads only the letters
/// and digits of its names, in any case, and a name's prefix as the name (`--Log-in`).
fn starts_as(name: &str, text: &str, option: &str) -> Option<Runs> {
    let letters: String = (option.chars())
        .filter(char::is_ascii_alphanumeric)
        .map(|letter| letter.to_ascii_lowercase())
        .collect();
    if letters.is_empty() {
        None
    } else if "login".starts_with(&letters) {
        Some(login_shell(&format!("`{name} {text}` is a login shell")))
    } else if "interactive".starts_with(&letters) {
        Some(interactive(name, text))
    } else {
        None
    }
}

/// bash's long options (bash 5.2 `shell.c`), which it also reads with one dash before its
/// first short option: `bash -norc f` runs the file `f`, where the letters would make it
/// `-c` mode.
const BASH_LONG: &[&str] = &[
    "debug",
    "debugger",
    "dump-po-strings",
    "dump-strings",
    "help",
    "init-file",
    "login",
    "noediting",
    "noprofile",
    "norc",
    "posix",
    "pretty-print",
    "protected",
    "rcfile",
    "restricted",
    "verbose",
    "version",
    "wordexp",
];

/// The script a shell runs: the first operand after `-c` (also `-ec`, …). With `-n` and no
/// `-c` (a syntax check: `bash -n f.sh`), none: the shell reads its script and runs nothing,
/// unless a `+` cluster (`+n`, `+o noexec`) may turn that off.
pub(super) fn shell(name: &str, args: &[Word]) -> Runs {
    let bash = Dialect::of(name) == Dialect::Bash;
    let mut command_mode = false;
    let (mut noexec, mut plus, mut extglob) = (false, false, false);
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
            if long == "posix" && bash {
                return posix_mode(name, text);
            }
            if let Some(refusal) = starts_as(name, text, long) {
                return refusal;
            }
            index += if matches!(long, "rcfile" | "init-file") {
                2
            } else {
                1
            };
            continue;
        }
        let Some(cluster) = text.strip_prefix('-').or_else(|| text.strip_prefix('+')) else {
            break;
        };
        // A lone `+` is an empty cluster: bash and dash skip it and read on.
        index += 1;
        command_mode |= cluster.contains('c');
        if cluster.contains('i') {
            return interactive(name, text);
        }
        if cluster.contains('l') {
            return login_shell(&format!("`{name} {text}` is a login shell"));
        }
        if cluster.contains('s') {
            return Runs::refused(format!(
                "`{name} -{cluster}` reads commands from standard input, which the checker cannot see"
            ));
        }
        let minus = text.starts_with('-');
        noexec |= minus && cluster.contains('n');
        plus |= !minus;
        if minus && BASH_LONG.contains(&cluster) {
            return Runs::refused(format!(
                "bash reads `{name} {text}` as its long option `--{cluster}`, not as letters: write `--{cluster}`"
            ));
        }
        if minus && cluster.contains('k') {
            return keyword_mode(name, text);
        }
        if minus && cluster.contains('H') {
            return rereads(name, text);
        }
        // Each `o` or `O` in the cluster takes the next word as its value (`-oo a b`).
        for letter in cluster.chars().filter(|letter| matches!(letter, 'o' | 'O')) {
            let value = args.get(index);
            index += 1;
            if letter == 'O' && value.and_then(Word::literal) == Some("extglob") {
                extglob = minus;
            }
            if minus
                && letter == 'o'
                && let Some(value) = value
                && value.literal().is_none_or(|option| option == "keyword")
            {
                return keyword_mode(name, &format!("{text} {}", value.text()));
            }
            if minus && letter == 'o' && bash && value.and_then(Word::literal) == Some("posix") {
                return posix_mode(name, &format!("{text} posix"));
            }
            if minus
                && let Some(value) = value
                && value.literal().is_none_or(|option| match letter {
                    'o' => option == "histexpand",
                    _ => option.starts_with("compat"),
                })
            {
                return rereads(name, &format!("{text} {}", value.text()));
            }
            if minus
                && letter == 'o'
                && let Some(option) = value.and_then(Word::literal)
                && let Some(refusal) = starts_as(name, &format!("{text} {option}"), option)
            {
                return refusal;
            }
        }
    }
    match (command_mode, args.get(index)) {
        (false, _) if noexec && !plus => Runs::default(),
        (true, script) => Runs {
            scripts: script.cloned().into_iter().collect(),
            dialect: Dialect::of(name),
            extglob,
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
