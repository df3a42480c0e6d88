//! bash's own reading of a script: `bash --pretty-print` (bash 5.2 and later) parses a script
//! it reads on standard input and prints it back as bash will run it — comments dropped,
//! every command written out — without running any of it. The checker walks that text too,
//! so that a command brush-parser's tokenizer hid in what it took for a comment, a quote or
//! a here-document (probes 54 to 61) is seen as bash sees it, where its reprint differs.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::text::delimiter_starts;
use super::tokenizer::delimiter_line;
use super::{Checker, Dialect};

/// What bash made of a script.
enum Reading {
    /// The script as bash will run it.
    Read(String),
    /// bash does not parse the script: what it said. bash runs the commands before the line
    /// it fails on, so such a script is refused.
    Refused(String),
    /// No bash that pretty-prints on this machine (or the script is for another shell): the
    /// checker's own reading stands alone.
    Unavailable,
}

impl Checker {
    /// Walks `text`, a script for `dialect`, once more as bash reads it (see [`Reading`]),
    /// with extended globs on if `extglob` (`bash -O extglob -c`: probe 142 F9), adding to
    /// the findings what that walk finds and the first walk did not.
    pub(in crate::command) fn as_bash_reads(
        &mut self,
        text: &str,
        depth: usize,
        dialect: Dialect,
        extglob: bool,
    ) {
        match read(text, dialect, extglob) {
            Reading::Read(canonical) if canonical.trim_end() != text.trim_end() => {
                let canonical = with_opened_patterns(&canonical);
                let first = std::mem::take(&mut self.findings);
                self.script(&canonical, depth, dialect);
                let mut second = std::mem::replace(&mut self.findings, first);
                // After a here-document bash 5.2's printer drops a `;` (`cat <<E; echo a;
                // rm x` comes back as `cat <<E⏎…⏎E⏎ echo a rm x`), so that its text may not
                // parse or may merge two commands: its commands are added, its refusals
                // not (the scans of the script as written stand for it there: each misread
                // they name is refused without this walk). Any other reprint the parser
                // cannot read is a reading the two do not share (probe 64 F3).
                if prints_a_here_document(&canonical) {
                    second.problems.clear();
                }
                self.findings.add_new(second);
            }
            Reading::Refused(said) => self.problem(format!(
                "bash does not parse the script ({said}), and runs the commands before the line it fails on: not checked"
            )),
            Reading::Read(_) | Reading::Unavailable => {}
        }
    }
}

/// bash's reprint `printed` with each `case` pattern given back the `(` bash 5.2 prints it
/// without (`(x)` comes back as `x)`, which the parser does not read inside `$(…)`: probe 63
/// F2). A pattern stands on a line of its own, right after the `case … in ` line or the line
/// of the `;;`, `;&` or `;;&` that ends the clause before, and ends with `)`; `esac` ends the
/// last clause. A `case` the repair misses is a reprint that does not parse: refused.
fn with_opened_patterns(printed: &str) -> String {
    let mut opened = String::with_capacity(printed.len());
    let mut clause_next = false;
    for line in printed.split_inclusive('\n') {
        let words = line.trim();
        let pattern = clause_next
            && words.ends_with(')')
            && words
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                != Some("esac");
        if pattern {
            let indent = line.len() - line.trim_start().len();
            opened.push_str(&line[..indent]);
            opened.push('(');
            opened.push_str(&line[indent..]);
        } else {
            opened.push_str(line);
        }
        clause_next =
            matches!(words, ";;" | ";&" | ";;&") || line.trim_end_matches('\n').ends_with(" in ");
    }
    opened
}

/// Whether bash's printing of a script holds a here-document: a line that is the delimiter
/// of a here-document operator before it.
fn prints_a_here_document(printed: &str) -> bool {
    let delimiters: Vec<String> = delimiter_starts(printed).map(delimiter_line).collect();
    (printed.lines()).any(|line| {
        delimiters
            .iter()
            .any(|delimiter| line.trim_start_matches('\t') == delimiter)
    })
}

/// bash's reading of `text`, a script for `dialect`: bash's own for bash, its POSIX mode's
/// for a POSIX sh; none for a Korn shell, whose grammar bash does not read. With extended
/// globs on if `extglob`.
fn read(text: &str, dialect: Dialect, extglob: bool) -> Reading {
    let Some(bash) = pretty_printer() else {
        return Reading::Unavailable;
    };
    let posix = match dialect {
        Dialect::Bash => false,
        Dialect::Posix => true,
        Dialect::Korn => return Reading::Unavailable,
    };
    match pretty_print(bash, text, posix, extglob) {
        Ok((true, printed, _)) => Reading::Read(printed),
        Ok((false, _, said)) => {
            let said = said.lines().next().unwrap_or("no reason given").trim();
            Reading::Refused(said.strip_prefix("bash: ").unwrap_or(said).to_owned())
        }
        Err(error) => Reading::Refused(format!("it could not be run: {error}")),
    }
}

/// The bash on `PATH` if it pretty-prints (found once): it prints `true` back.
fn pretty_printer() -> Option<&'static Path> {
    static BASH: OnceLock<Option<PathBuf>> = OnceLock::new();
    BASH.get_or_init(|| {
        let path = std::env::var_os("PATH")?;
        let bash = std::env::split_paths(&path)
            .map(|dir| dir.join("bash"))
            .find(|bash| bash.is_file())?;
        let works = matches!(
            pretty_print(&bash, "true\n", false, false),
            Ok((true, printed, _)) if printed.trim() == "true"
        );
        works.then_some(bash)
    })
    .as_deref()
}

/// Runs `bash --pretty-print` (in POSIX mode if `posix`, with extended globs if `extglob`)
/// on `text`, with no environment (`BASH_ENV` would have it run a file first): whether it
/// succeeded, what it printed and what it said on standard error.
fn pretty_print(
    bash: &Path,
    text: &str,
    posix: bool,
    extglob: bool,
) -> std::io::Result<(bool, String, String)> {
    let mut command = Command::new(bash);
    if posix {
        command.arg("--posix");
    }
    // bash reads its long options before its letters.
    command.arg("--pretty-print");
    if extglob {
        command.args(["-O", "extglob"]);
    }
    let mut child = command
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("a piped stdin");
    // bash prints as it reads: the script is written from a thread of its own, so that
    // neither side waits on a full pipe.
    let script = text.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
    let mut printed = String::new();
    let mut said = String::new();
    child
        .stdout
        .take()
        .expect("a piped stdout")
        .read_to_string(&mut printed)?;
    child
        .stderr
        .take()
        .expect("a piped stderr")
        .read_to_string(&mut said)?;
    let status = child.wait()?;
    // A script bash stopped reading at a syntax error may not be written whole.
    let _ = writer.join();
    Ok((status.success(), printed, said))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::script::UNPARSED;

    /// These need bash 5.2 or later on `PATH`, as this project's machines have.
    #[test]
    fn bash_prints_back_what_the_tokenizer_hid_and_refuses_what_it_cannot_parse() {
        assert!(pretty_printer().is_some(), "a bash that pretty-prints");
        let hidden = "echo $( #) '\nrm x\n) #'";
        assert!(
            matches!(read(hidden, Dialect::Bash, false), Reading::Read(text) if text.contains("$(rm x)")),
            "the comment dropped, `rm x` is in the substitution"
        );
        assert!(matches!(
            read("echo (", Dialect::Posix, false),
            Reading::Refused(_)
        ));
        assert!(matches!(
            read("echo hi", Dialect::Korn, false),
            Reading::Unavailable
        ));
        // Parsed, never run.
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let script = format!("touch '{}'", marker.display());
        assert!(matches!(
            read(&script, Dialect::Bash, false),
            Reading::Read(_)
        ));
        assert!(!marker.exists(), "bash ran the script it was to print");
    }

    /// A reprint the parser cannot read is refused (probe 64's `$(x[/ls #]; rm x⏎)` comes
    /// back on one line, its `)` after the comment); one with a `case` is read with its
    /// patterns' `(` given back (probe 63 F2), and walked: a harmless `case` turned the walk
    /// off for the whole script (probe 130 F2).
    #[test]
    fn a_reprint_the_parser_cannot_read_is_refused_and_case_patterns_are_read() {
        let second_walk = |script: &str| {
            let mut checker = Checker::default();
            checker.as_bash_reads(script, 0, Dialect::Bash, false);
            checker.findings.problems
        };
        let problems = second_walk("echo \"$(x[/ls #]; rm x\n)\"");
        assert!(
            problems.iter().any(|problem| problem.starts_with(UNPARSED)),
            "{problems:?}"
        );
        let case = second_walk("echo $(echo a; case x in (x) echo b;; esac)");
        assert!(case.is_empty(), "{case:?}");
        let mut checker = Checker::default();
        let script = "echo $(case x in (a|b) echo;& (c) case y in (y) rm y;; esac;;& (*) ;; esac)";
        checker.as_bash_reads(script, 0, Dialect::Bash, false);
        assert!(
            checker.findings.problems.is_empty(),
            "{:?}",
            checker.findings
        );
        let programs: Vec<&str> = (checker.findings.commands.iter())
            .map(|command| command[0].text())
            .collect();
        assert!(programs.contains(&"rm"), "{programs:?}");
    }

    /// Scripts whose `rm x` brush-parser's tokenizer hid (probe 54 F5; probe 59 F1–F8: a
    /// here-document pending while a `${…}`, `$(…)`, `$((…))`, `=~` group or `((…))` spans a
    /// newline, a backslash-newline splitting an operator, a delimiter holding an expansion).
    const HIDDEN: [&str; 7] = [
        "cat <<E; echo ${x:-\n}; rm x\nE\n#}",
        "cat <<echo; echo $(\nrm x\necho\n)\necho",
        "echo $(\\\n(echo <<echo))\nrm x\necho",
        "cat <<\\\n-E\nE\nrm x\n-E",
        "cat <<${x:-E}\n${x:-E}\nrm x\nx:-E",
        "cat <<E; [[ x =~ (\n) ]] || rm x\nE\n) ]]",
        "cat <<E; (( 1 +\n1 )) && rm x\nE\n))",
    ];

    /// The checker's own walk refuses each of [`HIDDEN`] without bash's reprint, which a
    /// machine may lack and a script may turn off: a reprint holding a here-document has its
    /// refusals dropped, its failure to parse with them (probe 130 F1).
    #[test]
    fn the_first_walk_alone_refuses_what_the_tokenizer_hid() {
        for script in HIDDEN {
            let mut checker = Checker::default();
            checker.script(script, 0, Dialect::Bash);
            assert!(
                !checker.findings.problems.is_empty(),
                "{script}: {:?}",
                checker.findings
            );
        }
        // Probe 130's `echo rm x $()`: the vendored tokenizer reads the substitution whole.
        let mut checker = Checker::default();
        checker.script("cat <<E; echo $(rm x)\nE", 0, Dialect::Bash);
        let programs: Vec<&str> = (checker.findings.commands.iter())
            .map(|command| command[0].text())
            .collect();
        assert_eq!(programs, ["cat", "rm", "echo"], "{:?}", checker.findings);
    }

    /// Each of [`HIDDEN`] is refused, or its `rm` found, by both walks.
    #[test]
    fn the_second_walk_finds_the_command_the_first_missed() {
        for script in HIDDEN {
            let found = crate::command::check_argv(&[
                "bash".to_owned(),
                "-c".to_owned(),
                script.to_owned(),
            ]);
            assert!(
                (found.commands.iter()).any(|command| command[0].text() == "rm")
                    || !found.problems.is_empty(),
                "{script}: {found:?}"
            );
        }
        // bash's printer drops a `;` after a here-document (probe 60 F2, F3), and prints a
        // `case` pattern `(x)` as `x)` (probe 63 F2): its text's refusals are not the script's.
        for script in [
            "cat <<E | grep a\nb\nE\necho a; ls",
            "for f in a; do\ncat <<E\nx\nE\ndone\necho a; echo b",
            "{ if ls; then\ncat <<E\nx\nE\nfi\necho a; echo b; }",
            "echo $(case x in (x) echo a;; esac)",
        ] {
            let found = crate::command::check_argv(&[
                "bash".to_owned(),
                "-c".to_owned(),
                script.to_owned(),
            ]);
            assert!(found.problems.is_empty(), "{script}: {found:?}");
        }
    }
}
