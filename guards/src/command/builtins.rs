//! Bash builtins that set variables (`read NAME`, `printf -v NAME`, `declare NAME=…`, …),
//! that evaluate their arguments as arithmetic (`let`, `test -v`), that run text (`fc`,
//! `mapfile -C`, `compgen -W`), or that turn on history expansion, keyword mode or POSIX
//! mode (`set -H`, `set -k`, `set -o posix`). The variables
//! they set go to the policy's `env` check like `NAME=value`; a name given as a subscript is
//! arithmetic (see `evaluated.rs`).

use super::evaluated::{literal_prefix, target};
use super::variables::DECLARING;
use super::word::{braces, first_character, one_field, runs_commands};
use super::{Checker, Word};

/// How a builtin's arguments are written, as far as the checker cares.
#[derive(Debug)]
struct Builtin {
    /// The builtins written this way.
    names: &'static [&'static str],
    /// Options that take a value (`-d DELIM` or `-dDELIM`).
    valued: &'static str,
    /// Options whose value is a variable the builtin sets (`-v NAME`).
    sets: &'static str,
    /// Which operands are variables it sets.
    operands: Operands,
    /// Options, with their sign, that make the operands something other than variables to
    /// set: functions (`declare -f`), or variables to print (`declare -p`, `declare +p`). An
    /// operand holding a `=` is a variable set whatever the options: bash 5.2 sets `X` in
    /// `export -p X=1`, `readonly -p X=1` and `declare +f X=1`.
    not_set: &'static [&'static str],
    /// Options refused (given with `-`), with why.
    refused: &'static [(char, &'static str)],
    /// Whether a word starting with `+` is an option too (`declare +x`); for the others it
    /// is an operand, which ends the options (`printf +%s -v X` prints `-v`).
    plus: bool,
}

/// Which operands of a builtin are variables it sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operands {
    /// None.
    None,
    /// Every one.
    All,
    /// The second (`getopts OPTSTRING NAME`).
    Second,
    /// The first (yash's `array NAME VALUE…`).
    First,
}

/// A builtin with no options of note.
const PLAIN: Builtin = Builtin {
    names: &[],
    valued: "",
    sets: "",
    operands: Operands::None,
    not_set: &[],
    refused: &[],
    plus: false,
};

/// Why a callback option is refused.
const RUNS_TEXT: &str = "runs text as a command, which the checker cannot see";

/// The builtins the checker reads.
const BUILTINS: &[Builtin] = &[
    Builtin {
        names: &["printf"],
        valued: "v",
        sets: "v",
        ..PLAIN
    },
    Builtin {
        names: &["read"],
        valued: "adinNptu",
        sets: "a",
        operands: Operands::All,
        ..PLAIN
    },
    Builtin {
        names: &["mapfile", "readarray"],
        valued: "dunOsCc",
        operands: Operands::All,
        refused: &[('C', RUNS_TEXT)],
        ..PLAIN
    },
    Builtin {
        names: &["getopts"],
        operands: Operands::Second,
        ..PLAIN
    },
    // ksh's and mksh's `set -A NAME …` (`+A`) sets the array NAME, whose first element is
    // NAME's value (`set -A FPATH DIR`: probe 42 F7); `-o` takes an option's name.
    Builtin {
        names: &["set"],
        valued: "Ao",
        sets: "A",
        plus: true,
        ..PLAIN
    },
    // yash's `array NAME VALUE…` sets the array NAME (`array COMMAND_NOT_FOUND_HANDLER …`:
    // probe 42 F7); its `-d`, `-i` and `-s` change one that exists.
    Builtin {
        names: &["array"],
        operands: Operands::First,
        ..PLAIN
    },
    Builtin {
        names: &["wait"],
        valued: "p",
        sets: "p",
        ..PLAIN
    },
    Builtin {
        names: &["declare", "typeset", "local"],
        operands: Operands::All,
        not_set: &["-f", "-F", "-p", "+p"],
        refused: &[
            (
                'n',
                "makes a name refer to another variable, which the checker cannot follow",
            ),
            (
                'i',
                "makes a variable evaluate whatever it is assigned as arithmetic, unseen",
            ),
        ],
        plus: true,
        ..PLAIN
    },
    Builtin {
        names: &["export", "readonly", "unset"],
        operands: Operands::All,
        not_set: &["-f"],
        // bash reads `+p` as an operand, not a valid name, which sets nothing; read as options,
        // the words after it are checked as strictly (an operand starting with `-` is no name).
        plus: true,
        ..PLAIN
    },
    Builtin {
        names: &["compgen", "complete"],
        // bash 5.3's `compgen -V NAME` stores the completions in NAME.
        valued: "oAGWPSXFCV",
        sets: "V",
        refused: &[
            ('C', RUNS_TEXT),
            (
                'W',
                "expands its word list, running the substitutions in it unseen",
            ),
        ],
        ..PLAIN
    },
    Builtin {
        names: &["bind"],
        valued: "mfqurx",
        refused: &[('x', RUNS_TEXT)],
        ..PLAIN
    },
    // Read for where its options end; what they turn on is `rereading_options`.
    Builtin {
        names: &["shopt"],
        ..PLAIN
    },
];

impl Checker {
    /// Checks the builtin `name` given `args`: the variables it sets, the text it evaluates
    /// as arithmetic, and what it runs.
    pub(super) fn builtin(&mut self, name: &str, args: &[Word]) {
        match name {
            "let" => args.iter().for_each(|arg| self.evaluated(arg)),
            "test" | "[" => self.test_arguments(args),
            "set" | "shopt" => self.rereading_options(name, args),
            _ => {}
        }
        if let Some(builtin) = BUILTINS
            .iter()
            .find(|builtin| builtin.names.contains(&name))
        {
            self.builtin_arguments(name, builtin, args);
        }
    }

    /// `set -H`, `set -o histexpand` and `shopt -so histexpand` turn on history expansion:
    /// with `set -o history` bash then rewrites each line from earlier ones before it parses
    /// it (`^echo^rm` runs the last command with `rm` for `echo`). `set -k`, `set -o keyword`
    /// and `shopt -so keyword` turn on keyword mode: every `NAME=value` word of a command,
    /// not only those before it, sets NAME (`bash -c true BASH_ENV=f`). `set -o posix` and
    /// `shopt -so posix` turn on POSIX mode, in which a `'` inside `"${x:-…}"` quotes nothing.
    /// `shopt -s compat44` (any `compat…`) sets an older bash's compatibility, at which
    /// arithmetic expands an array subscript twice (as `BASH_COMPAT` does).
    /// Each way the checker would judge text bash reads otherwise: refused, as is an option
    /// known only at run time (`set $o`).
    fn rereading_options(&mut self, name: &str, args: &[Word]) {
        const NAMES: &[&str] = &["histexpand", "keyword", "posix"];
        let given = |option: char| {
            args.iter().any(|word| {
                (word.literal()).is_some_and(|text| text.starts_with('-') && text.contains(option))
            })
        };
        // `shopt -s NAME` turns on a shopt option (`compat44`), `shopt -so NAME` a `set -o` one.
        let shopt_sets = name == "shopt" && given('s');
        let shopt_sets_o = shopt_sets && given('o');
        // After `-o` (`true`) or `+o` (`false`): whether the option named next is turned on.
        let mut option_name: Option<bool> = None;
        for word in args {
            let turns_on = match (word.literal(), option_name.take()) {
                (None, _) => name == "set" || shopt_sets,
                (Some(text), Some(on)) => on && NAMES.contains(&text),
                (Some(text), None) if name == "shopt" => match shopt_sets_o {
                    true => NAMES.contains(&text),
                    false => shopt_sets && text.starts_with("compat"),
                },
                (Some("-" | "--"), None) => break,
                (Some(text), None) => {
                    let Some(cluster) =
                        (text.strip_prefix(['-', '+'])).filter(|cluster| !cluster.is_empty())
                    else {
                        break;
                    };
                    let minus = text.starts_with('-');
                    if cluster.contains('o') {
                        option_name = Some(minus);
                    }
                    minus && cluster.contains(['H', 'k'])
                }
            };
            if turns_on {
                return self.problem(format!(
                    "`{name} {}` may turn on history expansion, keyword mode, POSIX mode or an older bash's compatibility, which change how bash reads or evaluates later lines: not checked",
                    word.text()
                ));
            }
        }
    }

    /// `test` and `[`: `-v NAME` evaluates a subscript of `NAME`. A word known only at run
    /// time could be `-v`, so a `[` after one is evaluated too.
    fn test_arguments(&mut self, args: &[Word]) {
        for pair in args.windows(2) {
            let names_variable = match &pair[0] {
                Word::Literal(option) => option == "-v",
                Word::Dynamic(_) => pair[1].text().contains('['),
            };
            if names_variable {
                self.evaluated(&pair[1]);
            }
        }
    }

    /// The options and operands of a builtin from [`BUILTINS`], read as bash's
    /// `internal_getopt` reads them: options end at `--` (dropped), at a lone `-`, and at the
    /// first word not starting with `-` (or `+`, see [`Builtin::plus`]). A word known only at
    /// run time where options are read could be one (`o=-v; printf $o NAME x` sets NAME;
    /// `compgen $o CMD` runs CMD): refused, unless its first character is known and is none
    /// (`x$y`, `"%s $y"`), or its value is digits (`wait $!`).
    fn builtin_arguments(&mut self, name: &str, builtin: &Builtin, args: &[Word]) {
        let mut not_set = false;
        // `declare -a`, `readonly -A`, …: the operands are arrays; `read -a NAME` makes NAME one.
        let mut arrays = matches!(name, "mapfile" | "readarray");
        let mut index = 0;
        while let Some(word) = args.get(index) {
            let text = match word {
                Word::Literal(text) => text.as_str(),
                Word::Dynamic(raw) => {
                    // `$!`, `$$`, `$#` and `$?` are digits (`$!` is empty with no background
                    // job): no option. Unquoted, one could vanish, bringing the next word
                    // here; as the last word it brings none (`wait $!`).
                    let last = index + 1 == args.len();
                    let digits = ["$!", "$$", "$#", "$?"].iter().any(|special| {
                        (last && raw == special) || *raw == format!("\"{special}\"")
                    });
                    if digits {
                        break;
                    }
                    // `getopts "$spec" NAME`: were `$spec` `--`, no variable would be left to
                    // set; any other option is an error.
                    if name == "getopts" && args.len() == 2 && one_field(raw) {
                        break;
                    }
                    // Options that take no value, last and with no operand after them, only
                    // print (`shopt -s "$o"`).
                    if builtin.valued.is_empty() && last && one_field(raw) {
                        break;
                    }
                    match first_character(raw) {
                        Some(first) if first != '-' && !(builtin.plus && first == '+') => break,
                        // A brace expansion could make options (`printf {-v,PATH} /x`).
                        _ if braces(raw) => {
                            return self.problem(format!(
                                "`{name}` has the brace expansion `{raw}` where it reads options"
                            ));
                        }
                        _ => return self.problem(non_literal_option(name, raw)),
                    }
                }
            };
            if text == "--" {
                index += 1;
                break;
            }
            let cluster = match text.strip_prefix('+') {
                Some(cluster) if builtin.plus => Some(cluster),
                Some(_) => None,
                None => text.strip_prefix('-'),
            };
            let Some(cluster) = cluster.filter(|cluster| !cluster.is_empty()) else {
                break;
            };
            index += 1;
            let minus = text.starts_with('-');
            for (at, option) in cluster.char_indices() {
                if let Some((_, why)) = builtin
                    .refused
                    .iter()
                    .find(|(refused, _)| *refused == option)
                    && minus
                {
                    self.problem(format!("`{name} -{option}` {why}"));
                }
                let signed = format!("{}{option}", if minus { '-' } else { '+' });
                not_set |= builtin.not_set.contains(&signed.as_str());
                arrays |= minus && matches!(option, 'a' | 'A') && DECLARING.contains(&name);
                if builtin.valued.contains(option) {
                    let rest = &cluster[at + option.len_utf8()..];
                    let value = if rest.is_empty() {
                        index += 1;
                        args.get(index - 1).cloned()
                    } else {
                        Some(Word::Literal(rest.to_owned()))
                    };
                    if builtin.sets.contains(option) {
                        self.sets(name, value.as_ref(), name == "read" && option == 'a');
                    }
                    break;
                }
            }
        }
        // `local -` saves the shell's options, setting no variable.
        let operands = args.get(index..).unwrap_or_default();
        let mut operands = operands.iter().filter(|word| word.literal() != Some("-"));
        match builtin.operands {
            Operands::None => {}
            Operands::All => operands
                .filter(|word| !not_set || assigns(word))
                .for_each(|word| self.sets(name, Some(word), arrays)),
            _ if not_set => {}
            Operands::Second => {
                // `getopts $spec NAME`: split or vanished, `$spec` moves the name.
                if let Some(Word::Dynamic(raw)) = operands.next()
                    && !one_field(raw)
                {
                    return self.problem(format!(
                        "`{name}` has `{raw}` before the variable it sets: known only at run time, it could make several words or none, so which variable is set is not known (quote it)"
                    ));
                }
                self.sets(name, operands.next(), false);
            }
            Operands::First => self.sets(name, operands.next(), true),
        }
    }

    /// A variable the builtin `name` sets, given as `word` (`NAME`, `NAME[SUBSCRIPT]`, maybe
    /// with `=VALUE`), an `array` when the builtin makes it one: its name is recorded, its
    /// subscript evaluated, and a value holding a substitution refused as for `NAME=value`;
    /// a value known only at run time is checked as `variables.rs` says. A name known only at
    /// run time is a problem.
    fn sets(&mut self, name: &str, word: Option<&Word>, array: bool) {
        let Some(word) = word else {
            return;
        };
        let (text, whole) = match word {
            Word::Literal(text) => (text.clone(), true),
            Word::Dynamic(raw) => (literal_prefix(raw), false),
        };
        // Known only when the name, the subscript and the `=` are literal.
        let Some(set) = target(&text).filter(|set| whole || set.value.is_some()) else {
            return self.problem(format!(
                "`{name}` sets the variable `{}`, which is not a literal name",
                word.text()
            ));
        };
        self.assigned(set.name);
        if array {
            self.array(set.name);
        }
        if let Some(subscript) = set.subscript {
            self.evaluated(&Word::Literal(subscript.to_owned()));
        }
        if let Some(value) = set.value.filter(|value| runs_commands(value)) {
            self.holds(set.name, value);
        }
        let declaring = DECLARING.contains(&name);
        let compound = compound_as_written(word);
        match set.value {
            // Known only at run time (`declare x="$y"`): its literal start is `value`.
            Some(value) if !whole && !compound => {
                self.integer_set_at_run_time(set.name);
                if declaring {
                    self.declared_at_run_time(set.name, value, array);
                }
            }
            // `read NAME`, `printf -v NAME`, …: the value comes at run time.
            None if !declaring && name != "unset" => self.integer_set_at_run_time(set.name),
            _ => {}
        }
    }
}

/// Whether `word`, given to `declare` and the like, is a compound assignment as written
/// (`a=(x y)`, `a+=(z)`), whose keys were checked (`Checker::compound_assignment`), not a
/// value read at run time (`"a=($x)"`).
fn compound_as_written(word: &Word) -> bool {
    let Word::Dynamic(raw) = word else {
        return false;
    };
    raw.split_once('=').is_some_and(|(variable, value)| {
        let variable = variable.strip_suffix('+').unwrap_or(variable);
        let named = (variable.bytes()).all(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
        named && value.starts_with('(')
    })
}

/// Whether `word`, given to `declare` or `export`, holds a `=` before any expansion: it
/// assigns a variable.
fn assigns(word: &Word) -> bool {
    match word {
        Word::Literal(text) => text.contains('='),
        Word::Dynamic(raw) => literal_prefix(raw).contains('='),
    }
}

/// Why a word known only at run time where the builtin `name` reads options is refused.
fn non_literal_option(name: &str, raw: &str) -> String {
    let hint = match name {
        "printf" => {
            format!(" (a format known only at run time is one too: write `printf -- {raw} …`)")
        }
        _ => format!(" (write `{name} -- {raw}` to end its options)"),
    };
    format!(
        "`{name}` has `{raw}` where it reads options: known only at run time, it could be an option that sets a variable or runs a command, which the checker cannot see{hint}"
    )
}
