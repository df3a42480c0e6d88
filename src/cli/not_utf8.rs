//! Which argument of a command line is not UTF-8, for clap's message that names none
//! ("invalid UTF-8 was detected in one or more arguments": probe 192 F4).

use std::ffi::OsString;

use clap::{Arg, ArgMatches, Command};

/// What stands in for the argument that is not UTF-8 when the command line is read again
/// to find out what it was given as.
const STAND_IN: &str = "\u{fffd}cairn: not UTF-8\u{fffd}";

/// The message for a command line `args` (the program first) that `command` refused for an
/// argument that is not UTF-8: that argument (its bytes written `\xff`), the option or
/// value it was given as, and the fix; `None` if no argument that is not UTF-8 is one cairn
/// reads as text (a path is taken as it is: probe 200 F2 was told to write one in UTF-8).
pub(crate) fn message(command: &Command, mut args: Vec<OsString>) -> Option<String> {
    // Each argument that is not UTF-8, with the option it is the value of, if it reads as
    // one, and whether it names that option itself (`--name=value`).
    let option_of = |at: usize| {
        let bytes = args[at].as_encoded_bytes();
        let own = (bytes.starts_with(b"--"))
            .then(|| bytes.iter().position(|&byte| byte == b'='))
            .flatten()
            .and_then(|equals| std::str::from_utf8(&bytes[..equals]).ok());
        let before = at.checked_sub(1).and_then(|before| args[before].to_str());
        // An option before it that takes a value (probe 198 F4: `--json`, a flag, was named).
        let takes_a_value = |arg: &Arg| arg.get_action().takes_values();
        let before =
            before.filter(|before| own.is_none() && has_option(command, before, &takes_a_value));
        (own.or(before).map(str::to_owned), own.is_some())
    };
    let text: Vec<(usize, (Option<String>, bool))> = (0..args.len())
        .filter(|&at| args[at].to_str().is_none())
        .map(|at| (at, option_of(at)))
        .filter(|(_, (option, _))| {
            !option
                .as_deref()
                .is_some_and(|option| has_option(command, option, &takes_a_path))
        })
        .collect();
    // One known to be an option's value first: a positional argument may be a path.
    let (at, (option, own)) = (text.iter().find(|(_, (option, _))| option.is_some()))
        .or(text.first())
        .cloned()?;
    let shown = cairn_engine::lossless_text(args[at].as_encoded_bytes());
    // `--name=value`: the value alone stands in (probe 197 F2: the whole word stood in for
    // the next positional argument).
    args[at] = match (&option, own) {
        (Some(option), true) => format!("{option}={STAND_IN}").into(),
        _ => STAND_IN.into(),
    };
    let matches = command.clone().try_get_matches_from(args).ok();
    // Read again, a value the option refuses (a number, a choice) names no argument: the
    // option it follows does.
    let given_as = (matches.and_then(|matches| given_as(command, &matches))).or(option);
    let given_as = given_as.map_or_else(String::new, |name| format!(", given as {name},"));
    Some(format!(
        "cairn: the argument `{shown}`{given_as} is not UTF-8; cairn reads it as text: give it in UTF-8"
    ))
}

/// Whether `option` (`--name`) is an option of `command` or of its subcommands that is
/// `such`.
fn has_option(command: &Command, option: &str, such: &dyn Fn(&Arg) -> bool) -> bool {
    let Some(long) = option.strip_prefix("--") else {
        return false;
    };
    (command.get_arguments()).any(|arg| arg.get_long() == Some(long) && such(arg))
        || (command.get_subcommands()).any(|sub| has_option(sub, option, such))
}

/// Whether `arg` takes a path, which cairn takes as it is, UTF-8 or not.
fn takes_a_path(arg: &Arg) -> bool {
    let value = arg.get_value_parser().type_id();
    value == std::any::TypeId::of::<std::path::PathBuf>()
        || value == std::any::TypeId::of::<OsString>()
}

/// The name of the argument of `command` (or of its subcommand) whose value in `matches`
/// is the stand-in: `--reason`, `<RUN>`.
fn given_as(command: &Command, matches: &ArgMatches) -> Option<String> {
    if let Some((name, matches)) = matches.subcommand()
        && let Some(name) = (command.find_subcommand(name)).and_then(|sub| given_as(sub, matches))
    {
        return Some(name);
    }
    let stands_in = |id: &&clap::Id| {
        let raw = matches.try_get_raw(id.as_str()).ok().flatten();
        raw.is_some_and(|mut values| values.any(|value| value == STAND_IN))
    };
    let id = matches.ids().find(stands_in)?;
    let arg = command.get_arguments().find(|arg| arg.get_id() == id)?;
    Some(match arg.get_long() {
        Some(long) => format!("--{long}"),
        None => {
            let names = arg.get_value_names().and_then(|names| names.first());
            format!(
                "<{}>",
                names.map_or(id.as_str().to_uppercase(), ToString::to_string)
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    use clap::{Arg, Command};

    use super::message;

    fn line(args: &[&[u8]]) -> Vec<OsString> {
        args.iter()
            .map(|arg| OsString::from_vec(arg.to_vec()))
            .collect()
    }

    #[test]
    fn the_argument_that_is_not_utf8_is_named_with_what_it_was_given_as() {
        let command = Command::new("cairn").subcommand(
            Command::new("deny")
                .arg(Arg::new("run").value_name("RUN"))
                .arg(Arg::new("reason").long("reason")),
        );
        let said = |args: &[&[u8]]| message(&command, line(args)).unwrap();
        assert_eq!(
            said(&[b"cairn", b"deny", b"01a\xff"]),
            "cairn: the argument `01a\\xff`, given as <RUN>, is not UTF-8; cairn reads it as text: give it in UTF-8"
        );
        assert!(
            said(&[b"cairn", b"deny", b"r", b"--reason", b"\xffno"])
                .contains("`\\xffno`, given as --reason,")
        );
        // Probe 197 F2: `--reason=…` stood in for `<RUN>`.
        assert!(said(&[b"cairn", b"deny", b"--reason=\xff"]).contains(", given as --reason,"));
        // Read again, the line is refused otherwise: the argument alone is named.
        assert!(
            said(&[b"cairn", b"nope", b"\xff"]).starts_with("cairn: the argument `\\xff` is not")
        );
        assert_eq!(message(&command, line(&[b"cairn", b"deny"])), None);
        // A flag before it takes no value: not what it was given as (probe 198 F4).
        let flagged = command.clone().arg(
            Arg::new("json")
                .long("json")
                .action(clap::ArgAction::SetTrue)
                .global(true),
        );
        let said = message(
            &flagged,
            line(&[b"cairn", b"deny", b"--json", b"01\xff", b"x", b"y"]),
        );
        assert!(!said.unwrap().contains("--json"));
        // A path, which cairn takes as it is, is not the one named (probe 200 F2).
        let pathed = command.clone().arg(
            Arg::new("db")
                .long("db")
                .global(true)
                .value_parser(clap::value_parser!(std::path::PathBuf)),
        );
        let said = message(
            &pathed,
            line(&[b"cairn", b"--db", b"x\xff.db", b"deny", b"r\xfe"]),
        );
        assert!(said.unwrap().contains("`r\\xfe`"));
        assert_eq!(
            message(&pathed, line(&[b"cairn", b"--db", b"x\xff.db", b"deny"])),
            None
        );
    }
}
