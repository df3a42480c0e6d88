//! Scripts brush-parser loops forever over or panics on, refused before it sees them, and
//! the bounded wait that ends a loop nobody foresaw.

use std::sync::mpsc;
use std::time::Duration;

use super::*;

/// The findings for the `bash -c` script `script`, checked within [`within`]'s bound of
/// twice [`MAX_CHECK_TIME`], so that a checker that never ends fails the test instead of
/// hanging it.
fn sh_bounded(script: &'static str) -> Findings {
    within(2 * MAX_CHECK_TIME, move || sh(script))
        .unwrap_or_else(|problem| panic!("{script:?}: {problem}"))
}

/// Asserts that each script is refused for a reason holding `why`.
fn refused_for(why: &str, scripts: &[&'static str]) {
    for &script in scripts {
        let found = sh_bounded(script);
        assert!(
            found.problems.iter().any(|problem| problem.contains(why)),
            "{script:?}: {found:?}"
        );
    }
}

#[test]
fn here_document_delimiters_the_tokenizer_loops_over_are_refused() {
    // Each of these sent brush-parser's tokenizer into an endless loop, allocating without
    // bound: the input ends inside a `$(`, `${` or `$[` while a here-document whose
    // delimiter is empty, or holds such an expansion, is pending.
    refused_for(
        "here-document delimiter",
        &[
            "<<$[ <( ${",
            "<<$[ ]] #`",
            "<<$('' ",
            "<<  $[  ",
            "cat <<E$( '' ",
            "cat <<\" >$[  ",
            "cat <<'' ${",
            "cat <<'' $[",
            "cat <<\"\"\"\" $(",
            "cat <<- '' $(",
            "cat <<x <<'' $(",
            "cat <<''; echo $(",
            "echo $(cat <<'' ",
            "cat <<\\\n'' ${",
            "cat <<$\\\n[ <( ${",
        ],
    );
    allowed(&[
        // A `<<` that is no here-document, or one in a here-document's body (p26).
        "echo \"<<\"",
        "grep -n \"<<\" f",
        "echo \"<< ${HOME} >>\"",
        "echo '<<${x}>>'",
        "cat <<'EOF'\nstd::cout << \"\" << 1;\nEOF",
        "cat <<'EOF'\necho $((1 << ${#a[@]}))\nEOF",
        "cat <<'EOF'\nhi\nEOF",
        "cat <<\\EOF\nhi\nEOF",
        "cat <<-\"EOF\"\n\thi\n\tEOF",
        "cat <<EOF\n$(date) ${HOME}\nEOF",
        "cat <<'$x'\nhi\n$x",
        "echo $((1 << 2)) $((1<<$n)) $((1 << (2)))",
        "cat <<<\"$(date)\"",
    ]);
}

#[test]
fn numbers_the_parser_panics_on_are_refused_by_name() {
    refused_for(
        "`~99999999999999999999`: a directory-stack index too big for the shell",
        &[
            "echo ~99999999999999999999",
            "x=~99999999999999999999",
            "x=a:~99999999999999999999",
            "cat <<EOF\n~99999999999999999999\nEOF",
        ],
    );
    refused_for("`~-99999999999999999999`", &["echo ~-99999999999999999999"]);
    refused_for("`~+99999999999999999999`", &["echo ~+99999999999999999999"]);
    refused_for(
        "`99999999999999999999>`: a file descriptor number too big for the shell",
        &["echo hi 99999999999999999999>/dev/null"],
    );
    // The tokenizer joins the digits around a backslash-newline.
    refused_for(
        "`9999999999>`: a file descriptor number too big",
        &["echo hi 99999\\\n99999>/dev/null"],
    );
    refused_for("`2147483648<`", &["cat 2147483648</dev/null"]);
    allowed(&[
        "echo ~ ~1 ~+2 ~-3 ~root 99999999999999999999",
        "echo hi 2>/dev/null 9>&2",
        // Digits that end a longer word, or stand right after a quote, are no descriptor (p26).
        "echo build_20231204123456>/dev/null",
        "awk '1733356800000>$1' f",
        "echo '~99999999999999999999'",
    ]);
}

#[test]
fn a_checker_that_does_not_finish_is_left_behind_and_refused() {
    let (release, gate) = mpsc::channel::<()>();
    let outcome = within(Duration::from_millis(10), move || {
        let _ = gate.recv();
        Findings::default()
    });
    let problem = outcome.expect_err("the checker is still waiting at its gate");
    assert!(problem.contains("did not finish"), "{problem}");
    // The thread left behind ends once its gate opens.
    drop(release);
}

#[test]
fn the_checker_runs_on_a_named_thread_and_a_panic_is_refused() {
    let name = within(MAX_CHECK_TIME, || Findings {
        problems: vec![std::thread::current().name().unwrap_or_default().to_owned()],
        ..Findings::default()
    });
    assert_eq!(
        name.map(|found| found.problems),
        Ok(vec![THREAD_NAME.to_owned()])
    );
    let panicked = within(MAX_CHECK_TIME, || panic!("a parser bug")).unwrap_err();
    assert!(
        panicked
            .starts_with("the command checker failed on this command: panicked: a parser bug at "),
        "{panicked}"
    );
}
