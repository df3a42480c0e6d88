//! Multi-call binaries: busybox, toybox and a multi-call coreutils run the program their
//! first operand names, as a wrapper runs its command.

use super::toybox::{self, Named};
use super::{Runs, non_literal, unknown};
use crate::command::{Word, basename};

/// The name the checker reads the program `name` by: busybox and toybox run as themselves
/// under any name that starts with theirs (their release binaries are `busybox-x86_64`,
/// `toybox-x86_64`).
pub(super) fn own_name(name: &str) -> &str {
    ["busybox", "toybox"]
        .into_iter()
        .find(|multicall| name.starts_with(multicall))
        .unwrap_or(name)
}

/// What a multi-call coreutils runs: GNU's `--coreutils-prog=NAME ARGS…` (and
/// `--coreutils-prog NAME ARGS…`, taken to mean the same) and `--coreutils-prog-shebang=NAME
/// FILE ARGS…` (`FILE` becomes the `argv[0]` of `NAME`), and uutils' `NAME ARGS…`. Alone,
/// `--help`, `-h`, `--version` and `--list` only print; any other option is refused.
pub(super) fn coreutils(args: &[Word]) -> Result<Runs, Runs> {
    let Some(first) = args.first() else {
        return Ok(Runs::default());
    };
    let text = first
        .literal()
        .ok_or_else(|| non_literal("coreutils", first))?;
    let rest = args.get(1..).unwrap_or_default();
    let (program, arguments) = if let Some(program) = text.strip_prefix("--coreutils-prog=") {
        (Word::Literal(program.to_owned()), rest)
    } else if let Some(program) = text.strip_prefix("--coreutils-prog-shebang=") {
        let arguments = rest.get(1..).unwrap_or_default();
        (Word::Literal(program.to_owned()), arguments)
    } else if text == "--coreutils-prog" {
        let Some((program, arguments)) = rest.split_first() else {
            return Ok(Runs::default());
        };
        (program.clone(), arguments)
    } else if text.starts_with('-') {
        if rest.is_empty() && matches!(text, "--help" | "-h" | "--version" | "--list") {
            return Ok(Runs::default());
        }
        return Err(unknown("coreutils", text));
    } else {
        (first.clone(), rest)
    };
    let mut command = vec![program];
    command.extend_from_slice(arguments);
    Ok(Runs {
        commands: vec![command],
        ..Runs::default()
    })
}

/// The name busybox and toybox read from an `argv[0]` of `argv0`, as toybox reads it (POSIX
/// `basename`): its last component, trailing slashes ignored (`/x/rm/` is `rm`). busybox
/// takes the text after the last `/`, empty there (no applet, nothing runs), so this is the
/// one name either could run.
pub(super) fn argv0_name(argv0: &str) -> &str {
    basename(argv0.trim_end_matches('/'))
}

/// Refuses `commands` that busybox or toybox (`name`) runs as `bash`, directly or as the
/// name it is given (`exec -a bash busybox`, `-bash` a login shell's): their own shell (ash,
/// hush or toysh), which reads `[[ … ]]`, `((…))` and quotes as a POSIX sh does, not as bash;
/// and those toybox could run through a symbolic link ([`toybox::follows`]), their first word
/// `named` as toybox reads it.
pub(super) fn applets(name: &str, commands: &[Vec<Word>], named: Named) -> Result<(), Runs> {
    let bash = (commands.iter()).any(|command| {
        let program = command.first().and_then(Word::literal).map(basename);
        program.is_some_and(|program| program.strip_prefix('-').unwrap_or(program) == "bash")
    });
    if matches!(own_name(name), "busybox" | "toybox") && bash {
        return Err(Runs::refused(format!(
            "`{name} bash` is {name}'s own shell, which reads a script otherwise than bash: write `{name} sh -c`"
        )));
    }
    if own_name(name) == "toybox" {
        commands
            .iter()
            .try_for_each(|command| toybox::follows(command, named))?;
    }
    Ok(())
}
