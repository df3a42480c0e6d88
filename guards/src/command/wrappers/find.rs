//! What `find` runs: the commands of its `-exec`, `-execdir`, `-ok` and `-okdir`.

use super::directories::cd;
use super::getopt::quoted_one_word;
use super::{Runs, Word, non_literal};

/// The commands of `find`'s `-exec`, `-execdir`, `-ok` and `-okdir`, each up to `;`, or up
/// to a `+` right after a `{}` word (GNU find: any other `+` is an argument). `-execdir` and
/// `-okdir` run theirs in the directory of the file found, a `cd` to a directory known only
/// at run time, listed as one (as `env -C DIR` is).
pub(super) fn find(args: &[Word]) -> Result<Runs, Runs> {
    let mut runs = Runs::default();
    let mut index = 0;
    while let Some(word) = args.get(index) {
        index += 1;
        match word.literal() {
            Some(action @ ("-exec" | "-execdir" | "-ok" | "-okdir")) => {
                if action.ends_with("dir") {
                    let found = Word::Dynamic("{directory of the file found}".to_owned());
                    runs.commands.push(cd(found));
                }
                let start = index;
                // After a word known only at run time, which could be `;` (or `+` after
                // `{}`) and end the command, the words are find's own too (probe 210 F4).
                let mut maybe_find = None;
                while let Some(word) = args.get(index) {
                    let ends = match word.literal() {
                        Some(";") => true,
                        Some("+") => {
                            index > start
                                && args.get(index - 1).and_then(Word::literal) == Some("{}")
                        }
                        Some(_) => false,
                        None if quoted_one_word(word.text()) => {
                            maybe_find.get_or_insert(index + 1);
                            false
                        }
                        None => return Err(non_literal("find", word)),
                    };
                    if ends {
                        break;
                    }
                    index += 1;
                }
                if let Some(from) = maybe_find {
                    runs.merge(find(&args[from..index])?);
                }
                // `find` puts the file it found in place of `{}`.
                let command = (args.get(start..index).unwrap_or_default().iter())
                    .map(|word| match word {
                        Word::Literal(text) if text.contains("{}") => Word::Dynamic(text.clone()),
                        word => word.clone(),
                    })
                    .collect();
                runs.commands.push(command);
                index += 1;
            }
            Some(_) => {}
            // A variable could hold `-exec`.
            None => return Err(non_literal("find", word)),
        }
    }
    Ok(runs)
}
