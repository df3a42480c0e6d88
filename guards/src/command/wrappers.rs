//! Programs that run other programs: wrappers (`env`, `xargs`, `timeout`, `su`, …) with
//! their options read as their own getopt reads them (`getopt`, the table in `table`),
//! `find -exec`, shells given `-c` (`shells`), the dynamic loader (`loader`), and what is
//! refused outright. Where a
//! wrapper's command cannot be found for sure (an option it does not know, a word known only
//! at run time among its options), it is refused.

use self::directories::{chdir, directories, directory_stack};
use self::find::find;
use self::getopt::{Getopt, Read, quoted_one_word};
use self::loader::{LOADER, is_loader};
use self::shells::{SHELLS, login_shell, shell};
use self::table::{Assignments, Operands, WRAPPERS, Wrapper};
use self::toybox::Named;
use self::unit::unit;
use super::script::Dialect;
use super::{Word, basename};

mod directories;
mod find;
mod getopt;
mod loader;
mod multicall;
mod shells;
mod table;
mod toybox;
mod trap;
mod unit;
mod uutils;

/// What a program runs besides itself.
#[derive(Debug, Default)]
pub(super) struct Runs {
    /// Commands it runs, as words.
    pub(super) commands: Vec<Vec<Word>>,
    /// Shell scripts it runs.
    pub(super) scripts: Vec<Word>,
    /// The grammar of the shell that runs them: a POSIX sh unless it is a shell the checker
    /// knows (`bash -c`).
    pub(super) dialect: Dialect,
    /// Whether that shell reads them with extended globs on (`bash -O extglob -c`), as
    /// bash's reprint of them must then.
    pub(super) extglob: bool,
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

    /// Adds what `other` runs.
    fn merge(&mut self, other: Runs) {
        self.commands.extend(other.commands);
        self.scripts.extend(other.scripts);
        self.assignments.extend(other.assignments);
        self.refusal = self.refusal.take().or(other.refusal);
    }
}

/// Programs refused outright, with why.
const REFUSED: &[(&str, &str)] = &[
    ("eval", "runs text as a script"),
    ("source", "runs a script file"),
    (".", "runs a script file"),
    ("alias", "redefines commands"),
    ("enable", "redefines builtins"),
    ("hash", "redefines where commands are found"),
    ("fc", "runs commands from the history"),
    ("fish", "runs fish scripts"),
    ("csh", "runs csh scripts"),
    ("tcsh", "runs tcsh scripts"),
    // Beyond the grammar it shares with bash, zsh runs the next word after `nocorrect` or
    // `-`, a path for `=touch`, and commands defined through `commands[ls]=…` or
    // `functions[ls]=…`: more of its own than the checker can follow.
    ("zsh", "runs zsh scripts"),
];

/// The name the checker reads the program `name` (a basename) by: the loader's, a multi-call
/// binary's, or a shell's under another name (`bash-5.2`).
fn own_name(name: &str) -> &str {
    if is_loader(name) {
        return LOADER;
    }
    let known =
        |name: &str| SHELLS.contains(&name) || REFUSED.iter().any(|(refused, _)| *refused == name);
    shells::own_name(multicall::own_name(name), known)
}

/// What the program `name` runs when given `args`, in a script of `dialect`.
pub(super) fn runs(name: &str, args: &[Word], dialect: Dialect) -> Runs {
    let name = own_name(name);
    if let Some((_, why)) = REFUSED.iter().find(|(refused, _)| *refused == name) {
        return Runs::refused(format!("`{name}` {why}, which the checker cannot see"));
    }
    if SHELLS.contains(&name) {
        return shell(name, args);
    }
    let special = match name {
        "find" => find(args),
        "su" | "runuser" => su(name, args),
        "sg" => sg(args),
        "script" => script(args),
        "watch" => watch(args),
        "jobs" => jobs(args),
        "trap" => trap::trap(args, dialect),
        "pushd" | "popd" => Ok(directory_stack(args)),
        "chdir" => Ok(chdir(args)),
        "coreutils" => multicall::coreutils(args),
        _ => match WRAPPERS
            .iter()
            .find(|wrapper| wrapper.names.contains(&name))
        {
            Some(wrapper) => wrapped(name, wrapper, args).and_then(|runs| {
                multicall::applets(name, &runs.commands, Named::Operand).map(|()| runs)
            }),
            None => return Runs::default(),
        },
    };
    special.unwrap_or_else(|refusal| refusal)
}

/// A word known only at run time where `name` reads options or operands.
fn non_literal(name: &str, word: &Word) -> Runs {
    Runs::refused(format!(
        "`{name}` has the non-literal argument `{}`",
        word.text()
    ))
}

/// An option `name` has that the checker does not know, so its command cannot be found.
fn unknown(name: &str, option: &str) -> Runs {
    Runs::refused(format!(
        "`{name}` has the option `{option}`, which the checker does not know, so it cannot tell what `{name}` runs"
    ))
}

/// A shell reading its commands from standard input, which the checker cannot see.
fn reads_stdin(name: &str) -> Runs {
    Runs::refused(format!(
        "`{name}` runs a shell that reads commands from standard input, which the checker cannot see"
    ))
}

/// The command a wrapper runs: after its options, `NAME=value` words and operands.
fn wrapped(name: &str, wrapper: &Wrapper, args: &[Word]) -> Result<Runs, Runs> {
    let mut runs = Runs::default();
    let (mut read, next) = wrapper.options.read_until(name, args, wrapper.split)?;
    if let Some(words) = split(name, wrapper, &read)? {
        // `env -S STRING rest…` is `env WORDS… rest…`, the options before it already read.
        let mut command = vec![Word::Literal(name.to_owned())];
        // The `argv[0]` given before the string stays given.
        if let Some(argv0) = read.values(wrapper.argv0).last() {
            command.extend([Word::Literal("--argv0".to_owned()), argv0.clone()]);
        }
        command.extend(words);
        command.extend_from_slice(args.get(next..).unwrap_or_default());
        runs.commands.extend(directories(wrapper, &read));
        runs.commands.push(command);
        return Ok(runs);
    }
    match wrapper.assignments {
        Assignments::None => {}
        // env: `-`, then `NAME=value` words, then the command.
        Assignments::Env => {
            if let Some(rest) = assignments(name, &read.operands, &mut runs.assignments) {
                if let Some(option) = rest.first().and_then(Word::literal)
                    && option.starts_with('-')
                {
                    return Err(Runs::refused(format!(
                        "`{name}` runs `{option}` after `NAME=value` as a program, not an option: not checked"
                    )));
                }
                read.operands = rest.to_vec();
            }
        }
        // sudo: `NAME=value` words among its options.
        Assignments::Sudo => {
            while let Some(rest) = assignments(name, &read.operands, &mut runs.assignments) {
                let more = wrapper.options.read(name, rest)?;
                read.options.extend(more.options);
                read.operands = more.operands;
            }
        }
    }
    if let Some(option) = wrapper.unseen.iter().find(|option| read.has(&[option])) {
        return Err(Runs::refused(format!(
            "`{name} {}` runs code the checker cannot see",
            written(option)
        )));
    }
    if let Some(value) = read.values(wrapper.evaluated).find(|value| !plain(value)) {
        return Err(Runs::refused(format!(
            "`{name}` hands `{}` to a shell's `eval`, which the checker does not read: only a plain word (letters, digits, `/._+,:@%=-`) is checked",
            value.text()
        )));
    }
    for (option, words) in wrapper.choices {
        if let Some(value) = read
            .values(&[option])
            .find(|value| !value.literal().is_some_and(|text| words.contains(&text)))
        {
            return Err(Runs::refused(format!(
                "`{name} --{option}={}` names no {option} of `{name}`'s own: one of {}",
                value.text(),
                words.join(", ")
            )));
        }
    }
    if wrapper.profiles.is_some_and(|options| !read.has(options)) {
        return Err(Runs::refused(format!(
            "`{name}` reads a profile, a file that may set variables or run programs the checker cannot see: add `--noprofile`"
        )));
    }
    if let Some(option) = wrapper.logs_in.iter().find(|option| read.has(&[option])) {
        let what = format!("`{name} {}` runs a login shell", written(option));
        return Err(login_shell(&what));
    }
    for value in read.values(wrapper.sets) {
        let text = value.literal().ok_or_else(|| non_literal(name, value))?;
        let set = text.split_once('=').map_or(text, |(set, _)| set);
        runs.assignments.push(set.to_owned());
    }
    if read.has(wrapper.prints) {
        return Ok(runs);
    }
    runs.scripts.extend(read.values(wrapper.scripts).cloned());
    for value in read.values(wrapper.piped) {
        match value.literal() {
            Some(text) => {
                if let Some(script) = text.strip_prefix(['|', '!']) {
                    runs.scripts.push(Word::Literal(script.to_owned()));
                }
            }
            None => return Err(non_literal(name, value)),
        }
    }
    let operands = read.operands.as_slice();
    let start = match wrapper.operands {
        Operands::Fixed(count) => count,
        Operands::Priority => usize::from(
            operands.len() > 1
                && (operands[0].literal()).is_some_and(|text| {
                    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
                }),
        ),
        Operands::Lock if !read.has(&["fd"]) => {
            if let Some(flag @ ("-c" | "--command")) = operands.get(1).and_then(Word::literal) {
                let script = operands.get(2).filter(|_| operands.len() == 3);
                let Some(script) = script else {
                    return Err(Runs::refused(format!(
                        "`flock {flag}` takes exactly one script"
                    )));
                };
                runs.scripts.push(script.clone());
                return Ok(runs);
            }
            1
        }
        Operands::Lock => 0,
        Operands::Root => 1,
    };
    if let Some(operand) = operands[..start.min(operands.len())]
        .iter()
        .find(|word| word.literal().is_none())
    {
        return Err(non_literal(name, operand));
    }
    let command = operands.get(start..).unwrap_or_default();
    if wrapper.unit {
        unit(name, &read, command, &mut runs)?;
    }
    let mut command = command.to_vec();
    if let Some(options) = wrapper.input {
        // xargs with no command runs `echo` (probe 206 F5).
        if command.is_empty() {
            command.push(Word::Literal("echo".to_owned()));
        }
        fill(&read, options, &mut command)?;
    }
    // Empty words alone are no command: Debian's fakeroot then runs a shell reading
    // standard input (probe 206 F3: `fakeroot ""`).
    if command.iter().all(|word| word.literal() == Some("")) {
        command.clear();
    }
    if command.is_empty() {
        if read.has(wrapper.shell) || (wrapper.bare && read.operands.len() >= start) {
            return Err(reads_stdin(name));
        }
    } else {
        let given = read.values(wrapper.argv0).last();
        // `exec -l` puts a `-` before the `argv[0]` given, or else the program's.
        let dashed = |word: &Word| match word {
            Word::Literal(text) => Word::Literal(format!("-{text}")),
            Word::Dynamic(text) => Word::Dynamic(format!("-{text}")),
        };
        let argv0 = match given {
            _ if !read.has(wrapper.login_argv0) => given.cloned(),
            Some(given) => Some(dashed(given)),
            None => Some(dashed(&command[0])),
        };
        if let Some(argv0) = &argv0 {
            if given.is_some() {
                runs.commands.extend(renamed(name, argv0, &command)?);
            }
            if let (Some(text), Some(program)) = (argv0.literal(), command[0].literal()) {
                login(name, text, program)?;
            }
        }
        runs.commands.extend(directories(wrapper, &read));
        runs.commands.push(command);
    }
    Ok(runs)
}

/// Whether a shell reads `word` as itself, one word with nothing to expand: a literal of
/// letters, digits and `/._+,:@%=-` only (see [`Wrapper::evaluated`]).
fn plain(word: &Word) -> bool {
    word.literal().is_some_and(|text| {
        !text.is_empty()
            && (text.bytes())
                .all(|byte| byte.is_ascii_alphanumeric() || b"/._+,:@%=-".contains(&byte))
    })
}

/// Refuses a command given the `argv[0]` `argv0` by `name` when that starts with `-` (also
/// after its last `/`) and its program, or the program a multi-call binary reads in it
/// (`exec -a -sh busybox`), is a shell: bash, dash and busybox run it as a login shell.
fn login(name: &str, argv0: &str, program: &str) -> Result<(), Runs> {
    let given = multicall::argv0_name(argv0);
    let Some(named) = argv0.strip_prefix('-').or_else(|| given.strip_prefix('-')) else {
        return Ok(());
    };
    let named = basename(named.trim_end_matches('/'));
    let shell = [program, named]
        .into_iter()
        .find(|program| SHELLS.contains(&own_name(basename(program))));
    match shell {
        Some(shell) => Err(login_shell(&format!(
            "`{name}` runs `{}` as a login shell (its `argv[0]` is `{argv0}`)",
            basename(shell)
        ))),
        None => Ok(()),
    }
}

/// `command` as each program its `argv[0]` could name, when a wrapper gives it `argv0`
/// (`exec -a NAME`): a multi-call binary runs that program (`exec -a rm busybox x` is `rm
/// x`), and any other program could be one, so the command is judged as each. The program is
/// [`multicall::argv0_name`] with a login shell's leading `-` dropped, as busybox drops it;
/// toybox keeps it (`-rm` is no applet: a link to follow); uutils reads the name as
/// [`uutils::commands`] says (`exec -a my-rm ls x` is `rm x`).
fn renamed(name: &str, argv0: &Word, command: &[Word]) -> Result<Vec<Vec<Word>>, Runs> {
    let text = argv0.literal().ok_or_else(|| non_literal(name, argv0))?;
    let given = multicall::argv0_name(text);
    let program = (given.strip_prefix('-'))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(given);
    let args = command.get(1..).unwrap_or_default();
    let mut renamed = vec![Word::Literal(program.to_owned())];
    renamed.extend_from_slice(args);
    let mut commands = vec![renamed];
    for other in uutils::commands(text, args) {
        if !commands.contains(&other) {
            commands.push(other);
        }
    }
    if let Some(real) = command.first().and_then(Word::literal) {
        let read = [vec![Word::Literal(given.to_owned())]];
        multicall::applets(basename(real), &read, Named::Argv0)?;
    }
    Ok(commands)
}

/// The option `option` (a letter or a long name) as written: `-i`, `--login`.
fn written(option: &str) -> String {
    let dashes = if option.chars().count() == 1 {
        "-"
    } else {
        "--"
    };
    format!("{dashes}{option}")
}

/// The words of the last option `read` found when it is one of `wrapper`'s `split` options
/// (see [`split_string`]).
fn split(name: &str, wrapper: &Wrapper, read: &Read) -> Result<Option<Vec<Word>>, Runs> {
    let Some((option, value)) = read.options.last() else {
        return Ok(None);
    };
    if !wrapper.split.contains(&option.as_str()) {
        return Ok(None);
    }
    let Some(value) = value else {
        return Err(Runs::refused(format!(
            "`{name} {}` has no string",
            written(option)
        )));
    };
    let text = value.literal().ok_or_else(|| non_literal(name, value))?;
    split_string(text)
        .map(|words| Some(words.into_iter().map(Word::Literal).collect()))
        .ok_or_else(|| {
            Runs::refused(format!(
                "`{name} -S` splits `{text}` by rules the checker does not follow (a `\\`, a `$`, or an unclosed quote)"
            ))
        })
}

/// Splits `text` as GNU `env -S` does: at blanks outside quotes, with `'…'` and `"…"`
/// quoting, and a `#` that starts a word starting a comment to the end. `None` when it holds
/// a backslash (env's escapes: `\_` is a space, `\c` ends the string) or a `$` (env expands
/// `${NAME}`), or a quote is not closed.
fn split_string(text: &str) -> Option<Vec<String>> {
    if text.contains(['\\', '$']) {
        return None;
    }
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    for c in text.chars() {
        match quote {
            Some(open) if c == open => quote = None,
            Some(_) => word.get_or_insert_default().push(c),
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    word.get_or_insert_default();
                }
                ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r' => words.extend(word.take()),
                '#' if word.is_none() => break,
                _ => word.get_or_insert_default().push(c),
            },
        }
    }
    if quote.is_some() {
        return None;
    }
    words.extend(word);
    Some(words)
}

/// Options of `xargs` that drop the replace strings given before them (GNU xargs: `-I X -L 1`
/// appends its input, ignoring `-I`).
const DROPS_REPLACE: &[&str] = &["L", "l", "max-lines"];

/// The words a replace string of `options` (`{}` when given none) is in become known only at
/// run time; with no such option in force (none given, or a [`DROPS_REPLACE`] option after
/// it), a word for the input is appended (`xargs`).
fn fill(read: &Read, options: &[&str], command: &mut Vec<Word>) -> Result<(), Runs> {
    let mut replaced: Vec<&str> = Vec::new();
    for (option, value) in &read.options {
        if options.contains(&option.as_str()) {
            // A replace string known only at run time could be in any word (probe 210 F2).
            if let Some(value) = value.as_ref().filter(|value| value.literal().is_none()) {
                return Err(non_literal("xargs", value));
            }
            replaced.push(value.as_ref().map_or("{}", Word::text));
        } else if DROPS_REPLACE.contains(&option.as_str()) {
            replaced.clear();
        }
    }
    if replaced.is_empty() {
        command.push(Word::Dynamic("{input}".to_owned()));
    }
    for word in command {
        if replaced.iter().any(|text| word.text().contains(text)) {
            *word = Word::Dynamic(word.text().to_owned());
        }
    }
    Ok(())
}

/// The words after `env`'s lone `-` and the `NAME=value` words that start `operands`, whose
/// names are added to `names`; `None` when there are none of these.
fn assignments<'a>(
    name: &str,
    operands: &'a [Word],
    names: &mut Vec<String>,
) -> Option<&'a [Word]> {
    let mut rest = operands;
    if name == "env" && rest.first().and_then(Word::literal) == Some("-") {
        rest = &rest[1..];
    }
    while let Some(set) = (rest.first().and_then(assignment))
        .filter(|word| name != "sudo" || !word.starts_with('/'))
        .and_then(|word| word.split_once('='))
        .map(|(set, _)| set)
    {
        names.push(set.to_owned());
        rest = &rest[1..];
    }
    (rest.len() < operands.len()).then_some(rest)
}

/// The text of `word` if `env` and `sudo` may read it as one `NAME=value` word: a literal,
/// or a plain name and a value that stays one word ([`quoted_one_word`]: `FOO="$x"`, which was
/// refused as a word known only at run time while `FOO="$x" cmd` passed: probe 210 F3).
fn assignment(word: &Word) -> Option<&str> {
    if let Some(text) = word.literal() {
        return Some(text);
    }
    let text = word.text();
    let (name, value) = text.split_once('=')?;
    let special = ['$', '"', '\'', '\\', '`', '{', '}', '[', ']', '*', '?', '~'];
    let plain = !name.is_empty() && !name.contains(special);
    (plain && quoted_one_word(value)).then_some(text)
}

/// The options of `su` and `runuser` (util-linux, which permutes its arguments).
const SU: Getopt = Getopt {
    short: "c:fg:G:lmpPTs:u:hVw:",
    long: "command: session-command: fast login preserve-environment pty no-pty shell: group: \
           supp-group: user: whitelist-environment: help version",
    permute: true,
    numeric: false,
};

/// What `su` or `runuser` runs: `runuser -u USER CMD…` its operands; else the user's shell
/// (or `-s SHELL`) with `-c SCRIPT` and the words after the user, which go to the shell
/// (`su root -- -c SCRIPT`). With `-`, `-l` or `--login` that shell is a login shell: refused.
fn su(name: &str, args: &[Word]) -> Result<Runs, Runs> {
    let read = SU.read(name, args)?;
    let mut operands = read.operands.as_slice();
    let login = if operands.first().and_then(Word::literal) == Some("-") {
        operands = &operands[1..];
        Some("-".to_owned())
    } else {
        (read.options.iter())
            .find(|(option, _)| matches!(option.as_str(), "l" | "login"))
            .map(|(option, _)| written(option))
    };
    if let Some(option) = login {
        return Err(login_shell(&format!(
            "`{name} {option}` runs a login shell"
        )));
    }
    let mut runs = Runs::default();
    if read.has(&["u", "user"]) {
        runs.scripts
            .extend(read.values(&["c", "command", "session-command"]).cloned());
        if !operands.is_empty() {
            runs.commands.push(operands.to_vec());
        }
        return Ok(runs);
    }
    // The last script wins; the shell gets `-c SCRIPT`, then the words after the user.
    let mut shell_args: Vec<Word> = Vec::new();
    if let Some(script) = read.values(&["c", "command", "session-command"]).last() {
        shell_args.extend([Word::Literal("-c".to_owned()), script.clone()]);
    }
    shell_args.extend(operands.iter().skip(1).cloned());
    match read.values(&["s", "shell"]).last() {
        Some(shell) => {
            let mut command = vec![shell.clone()];
            command.extend(shell_args);
            runs.commands.push(command);
        }
        None if shell_args.is_empty() => return Err(reads_stdin(name)),
        // The user's login shell, taken to read its arguments as `sh` does.
        None => runs.merge(shell(name, &shell_args)),
    }
    Ok(runs)
}

/// What `sg [-] GROUP [-c] SCRIPT` runs: `sh -c SCRIPT` (shadow's `sg`).
fn sg(args: &[Word]) -> Result<Runs, Runs> {
    if let Some(word) = args.iter().find(|word| word.literal().is_none()) {
        return Err(non_literal("sg", word));
    }
    let mut rest = args;
    if matches!(rest.first().and_then(Word::literal), Some("-" | "-l")) {
        rest = &rest[1..];
    }
    match rest.first().and_then(Word::literal) {
        Some(group) if group.starts_with('-') => return Err(unknown("sg", group)),
        Some(_) => rest = &rest[1..],
        None => return Err(reads_stdin("sg")),
    }
    if rest.len() > 1 && rest.first().and_then(Word::literal) == Some("-c") {
        rest = &rest[1..];
    }
    match rest {
        [] => Err(reads_stdin("sg")),
        [script] => Ok(Runs {
            scripts: vec![script.clone()],
            ..Runs::default()
        }),
        _ => Err(Runs::refused(
            "`sg` runs one script and drops the words after it; write the command as one script"
                .to_owned(),
        )),
    }
}

/// What `script` runs: `-c SCRIPT` through the user's shell; with none, a shell reading
/// standard input (util-linux, which permutes its arguments).
fn script(args: &[Word]) -> Result<Runs, Runs> {
    const SCRIPT: Getopt = Getopt {
        short: "aB:c:eE:fI:O:o:qm:T:t::Vh",
        long: "append command: echo: return flush force quiet log-in: log-out: log-io: \
               log-timing: logging-format: output-limit: timing:: help version",
        permute: true,
        numeric: false,
    };
    let read = SCRIPT.read("script", args)?;
    let scripts: Vec<Word> = read.values(&["c", "command"]).cloned().collect();
    if scripts.is_empty() && !read.has(&["h", "help", "V", "version"]) {
        return Err(reads_stdin("script"));
    }
    Ok(Runs {
        scripts,
        ..Runs::default()
    })
}

/// What `watch` runs: its words joined with spaces for `sh -c`, or with `-x` as a command
/// (procps-ng).
fn watch(args: &[Word]) -> Result<Runs, Runs> {
    const WATCH: Getopt = Getopt {
        short: "bCcefd::ghq:n:prs:twvx",
        long: "beep color no-color differences:: errexit follow chgexit interval: precise \
               equexit: no-rerun shotsdir: no-title no-wrap exec help version",
        permute: false,
        numeric: false,
    };
    let read = WATCH.read("watch", args)?;
    let mut runs = Runs::default();
    if read.operands.is_empty() {
        return Ok(runs);
    }
    if read.has(&["x", "exec"]) {
        runs.commands.push(read.operands);
        return Ok(runs);
    }
    let mut script = String::new();
    for word in &read.operands {
        let text = word.literal().ok_or_else(|| non_literal("watch", word))?;
        if !script.is_empty() {
            script.push(' ');
        }
        script.push_str(text);
    }
    runs.scripts.push(Word::Literal(script));
    Ok(runs)
}

/// What bash's `jobs` runs: with `-x`, its operands as a command, each word naming a job
/// (`%1`) replaced by that job's process group id.
fn jobs(args: &[Word]) -> Result<Runs, Runs> {
    const JOBS: Getopt = Getopt {
        short: "lnprsx",
        long: "help",
        permute: false,
        numeric: false,
    };
    let read = JOBS.read("jobs", args)?;
    let mut runs = Runs::default();
    if read.has(&["x"]) && !read.operands.is_empty() {
        let command = (read.operands.into_iter())
            .map(|word| match word {
                Word::Literal(text) if text.starts_with('%') => Word::Dynamic(text),
                word => word,
            })
            .collect();
        runs.commands.push(command);
    }
    Ok(runs)
}
