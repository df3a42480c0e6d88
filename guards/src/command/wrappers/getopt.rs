//! Reading a wrapper's words as its getopt_long reads them: option letters and long
//! options (shortened to a unique prefix), their values, clusters, `--`, and operands —
//! permuted or not.

use super::{Runs, non_literal, unknown};
use crate::command::Word;

/// How an option takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takes {
    /// None.
    Nothing,
    /// The rest of its word (`-n5`, `--adjustment=5`), else the next word.
    Value,
    /// Only the rest of its word (`-m/file`, `--mount=/file`).
    Attached,
}

impl Takes {
    /// How the option whose spec is followed by `rest` takes a value: `:` a value, `::`
    /// only an attached one.
    fn of(rest: &str) -> Takes {
        if rest.starts_with("::") {
            Takes::Attached
        } else if rest.starts_with(':') {
            Takes::Value
        } else {
            Takes::Nothing
        }
    }
}

/// How a program reads its options, in the terms of getopt_long.
#[derive(Debug, Clone, Copy)]
pub(super) struct Getopt {
    /// Its option letters, each followed by `:` when it takes a value or `::` when only an
    /// attached one.
    pub(super) short: &'static str,
    /// Its long options, separated by spaces, followed by `:` or `::` likewise; a name may
    /// be shortened to any prefix no other name has.
    pub(super) long: &'static str,
    /// Whether options may come after operands (getopt permutes unless told `+`): `su`,
    /// `script`.
    pub(super) permute: bool,
    /// Whether a word `-N`, `--N` or `-+N` (N a number) is an option (`nice -10`).
    pub(super) numeric: bool,
}

/// The options of a program that stops at its first operand.
pub(super) const GETOPT: Getopt = Getopt {
    short: "",
    long: "help version",
    permute: false,
    numeric: false,
};

impl Getopt {
    /// How the option letter `letter` takes a value, or `None` when there is no such option.
    fn letter(&self, letter: char) -> Option<Takes> {
        if letter == ':' {
            return None;
        }
        let at = self.short.find(letter)?;
        Some(Takes::of(&self.short[at + letter.len_utf8()..]))
    }

    /// The long option `given` names, in full, and how it takes a value; `None` when it
    /// names none or is a prefix of several.
    fn long_option(&self, given: &str) -> Option<(String, Takes)> {
        if given.is_empty() {
            return None;
        }
        let mut found = Vec::new();
        for spec in self.long.split_whitespace() {
            let name = spec.trim_end_matches(':');
            let option = (name.to_owned(), Takes::of(&spec[name.len()..]));
            if name == given {
                return Some(option);
            }
            if name.starts_with(given) {
                found.push(option);
            }
        }
        (found.len() == 1).then(|| found.remove(0))
    }

    /// Reads `args` as the program `name` reads them.
    pub(super) fn read(&self, name: &str, args: &[Word]) -> Result<Read, Runs> {
        Ok(self.read_until(name, args, &[])?.0)
    }

    /// Reads `args` as the program `name` reads them, stopping after the first of the
    /// options `stop` (then the last option read) and its value; with the index of the first
    /// word not read.
    pub(super) fn read_until(
        &self,
        name: &str,
        args: &[Word],
        stop: &[&str],
    ) -> Result<(Read, usize), Runs> {
        let mut read = Read::default();
        let mut index = 0;
        while let Some(word) = args.get(index) {
            if (read.options.last()).is_some_and(|(option, _)| stop.contains(&option.as_str())) {
                break;
            }
            index += 1;
            // A word known only at run time could be an option, or several words; not one
            // that starts with a plain character, where a program that does not permute
            // ends its options (`env FOO="$x" ls`: probe 210 F3).
            let Some(text) = word.literal() else {
                let plain = |c: char| c.is_ascii_alphanumeric() || "_./".contains(c);
                if !self.permute && word.text().starts_with(plain) {
                    read.operands.extend_from_slice(&args[index - 1..]);
                    index = args.len();
                    break;
                }
                return Err(non_literal(name, word));
            };
            if text == "--" {
                read.operands.extend_from_slice(&args[index..]);
                index = args.len();
                break;
            }
            let Some(option) = text.strip_prefix('-').filter(|option| !option.is_empty()) else {
                if self.permute {
                    read.operands.push(word.clone());
                    continue;
                }
                read.operands.extend_from_slice(&args[index - 1..]);
                index = args.len();
                break;
            };
            if self.numeric && is_adjustment(option) {
                read.options.push(("n".to_owned(), Some(word.clone())));
                continue;
            }
            if let Some(long) = option.strip_prefix('-') {
                let (given, attached) = match long.split_once('=') {
                    Some((given, value)) => (given, Some(value)),
                    None => (long, None),
                };
                let Some((option, takes)) = self.long_option(given) else {
                    return Err(unknown(name, text));
                };
                let value = match (takes, attached) {
                    (Takes::Nothing, Some(_)) => return Err(unknown(name, text)),
                    (_, Some(value)) => Some(Word::Literal(value.to_owned())),
                    (Takes::Value, None) => {
                        index += 1;
                        separate(name, args, index - 1)?
                    }
                    _ => None,
                };
                read.options.push((option, value));
                continue;
            }
            for (at, letter) in option.char_indices() {
                let Some(takes) = self.letter(letter) else {
                    return Err(unknown(name, &format!("-{letter}")));
                };
                if takes == Takes::Nothing {
                    read.options.push((letter.to_string(), None));
                    continue;
                }
                let rest = &option[at + letter.len_utf8()..];
                let value = if !rest.is_empty() {
                    Some(Word::Literal(rest.to_owned()))
                } else if takes == Takes::Value {
                    index += 1;
                    separate(name, args, index - 1)?
                } else {
                    None
                };
                read.options.push((letter.to_string(), value));
                break;
            }
        }
        let index = index.min(args.len());
        Ok((read, index))
    }
}

/// The value of an option given in the word `at` after it, which must stay one word
/// ([`one_word`]): a brace expansion, an unquoted expansion or a glob may be several, the
/// rest of them read as the command (probe 206 F1: `timeout -s {KILL,5,rm} 5 ls`, judged as
/// `ls`, ran `rm`).
fn separate(name: &str, args: &[Word], at: usize) -> Result<Option<Word>, Runs> {
    match args.get(at) {
        Some(word) if !one_word(word) => Err(non_literal(name, word)),
        word => Ok(word.cloned()),
    }
}

/// Whether bash keeps `word` one word: a literal, or one known only at run time that is
/// ([`quoted_one_word`]).
fn one_word(word: &Word) -> bool {
    word.literal().is_some() || quoted_one_word(word.text())
}

/// Whether the text of a word known only at run time stays one word: all in double quotes
/// with no `@` and no `!` (`"$dir"`; not `"$@"`, `"${a[@]}"`, nor an indirect `"${!x}"`,
/// which `x='a[@]'` makes several: probe 210 F1).
pub(super) fn quoted_one_word(text: &str) -> bool {
    let inner = text
        .strip_prefix('"')
        .and_then(|text| text.strip_suffix('"'));
    inner.is_some_and(|inner| !inner.contains(['"', '@', '!']))
}

/// Whether `-option` is `nice`'s `-N`, `--N` or `-+N`.
fn is_adjustment(option: &str) -> bool {
    let digits = option.strip_prefix(['-', '+']).unwrap_or(option).as_bytes();
    digits.first().is_some_and(u8::is_ascii_digit)
}

/// The words of a command as its getopt reads them.
#[derive(Debug, Default)]
pub(super) struct Read {
    /// Each option read: its letter or long name, and its value.
    pub(super) options: Vec<(String, Option<Word>)>,
    /// The operands in order; for a program that does not permute, every word from the
    /// first operand on.
    pub(super) operands: Vec<Word>,
}

impl Read {
    /// Whether one of the options `names` was given.
    pub(super) fn has(&self, names: &[&str]) -> bool {
        self.options
            .iter()
            .any(|(option, _)| names.contains(&option.as_str()))
    }

    /// The values of the options `names`, in order.
    pub(super) fn values<'a>(&'a self, names: &'a [&str]) -> impl Iterator<Item = &'a Word> {
        (self.options.iter())
            .filter(|(option, _)| names.contains(&option.as_str()))
            .filter_map(|(_, value)| value.as_ref())
    }
}
