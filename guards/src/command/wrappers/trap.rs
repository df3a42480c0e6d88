//! `trap`: the text a shell runs when a condition comes (a signal, `EXIT`, `ERR`, …), read
//! then as a script of the shell that set it.

use super::Runs;
use super::getopt::Getopt;
use crate::command::Word;
use crate::command::script::Dialect;

/// What `trap ARGS`, in a script of `dialect`, runs: its action, as a script of `dialect`.
/// Nothing with `-l`, `-p` or `-P` (it prints), with no operand or one (bash and dash reset
/// that condition), or with the action `-` (a reset) or empty (an ignore). An unsigned
/// number resets only if it names a signal (`trap 1 2`); any other is run as a command
/// (`trap 99 EXIT` runs `99`: probe 147 F1), so every number is judged as one. An operand
/// known only at run time is refused: it may split into an action and its conditions, or
/// vanish (`trap -- $a` with `a='rm EXIT'` runs `rm`: probe 148 F2).
pub(super) fn trap(args: &[Word], dialect: Dialect) -> Result<Runs, Runs> {
    const TRAP: Getopt = Getopt {
        short: "lpP",
        long: "",
        permute: false,
        numeric: false,
    };
    let read = TRAP.read("trap", args)?;
    if let Some(word) = read.operands.iter().find(|word| word.literal().is_none()) {
        return Err(Runs::refused(format!(
            "`trap` has the operand `{}`, known only at run time, which may split into an action and its conditions: not checked (write the action as a literal word)",
            word.text()
        )));
    }
    let mut runs = Runs {
        dialect,
        ..Runs::default()
    };
    let [action, _, ..] = read.operands.as_slice() else {
        return Ok(runs);
    };
    let resets = |text: &str| matches!(text, "-" | "");
    if !read.has(&["l", "p", "P"]) && !action.literal().is_some_and(resets) {
        runs.scripts.push(action.clone());
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scripts(args: &[&str]) -> Vec<Word> {
        let words: Vec<Word> = (args.iter())
            .map(|arg| Word::Literal((*arg).to_owned()))
            .collect();
        trap(&words, Dialect::Bash)
            .map_or_else(|refused| panic!("{refused:?}"), |runs| runs.scripts)
    }

    #[test]
    fn the_action_is_the_script_a_trap_runs() {
        let rm = || vec![Word::Literal("rm x".to_owned())];
        assert_eq!(scripts(&["rm x", "EXIT"]), rm());
        assert_eq!(scripts(&["--", "rm x", "INT", "TERM"]), rm());
        assert_eq!(scripts(&["99", "EXIT"]), [Word::Literal("99".to_owned())]);
        for nothing in [
            &["-p"][..],
            &["-l"],
            &["-p", "rm x", "EXIT"],
            &["rm x"],
            &["-", "EXIT"],
            &["", "INT"],
            &[],
        ] {
            assert_eq!(scripts(nothing), [], "{nothing:?}");
        }
    }

    #[test]
    fn an_option_it_does_not_know_or_a_word_known_at_run_time_is_refused() {
        let literal = |text: &str| Word::Literal(text.to_owned());
        let dynamic = |text: &str| Word::Dynamic(text.to_owned());
        for words in [
            vec![literal("-x"), literal("rm x")],
            vec![literal("--"), dynamic("$a")],
            vec![literal("cleanup"), dynamic("$signal")],
        ] {
            assert!(trap(&words, Dialect::Bash).is_err(), "{words:?}");
        }
    }
}
