//! `$'…'` strings decoded as bash 5.2 decodes them, and refused where the checker cannot be
//! sure what bash makes of them.

use super::*;

/// The value the checker gives the word `$'BODY'`, when it knows it.
fn decoded(body: &str) -> Option<String> {
    let found = sh(&format!("echo $'{body}'"));
    let word = found.commands.get(1)?.get(1)?;
    word.literal().map(str::to_owned)
}

#[test]
fn ansi_c_escapes_decode_as_in_bash() {
    // Each checked against bash 5.2.15 (`bash -c "printf %s $'…' | xxd"`).
    for (body, value) in [
        (r"\x72\x6d", "rm"),
        (r"\162\155", "rm"),
        (r"\x{72}m", "rm"),
        (r"\x{0072}m", "rm"),
        (r"\x{00000000072}m", "rm"),
        // bash keeps the low 8 bits of `\x{…}` and of three octal digits.
        (r"\x{172}m", "rm"),
        (r"\x{fffffffff72}m", "rm"),
        (r"\562m", "rm"),
        (r"\560ush", "push"),
        (r"\x{7}m", "\x07m"),
        (r"\x7g", "\x07g"),
        (r"\1", "\x01"),
        (r"\18", "\x018"),
        (r"\0101", "\x081"),
        (r"\303\251", "é"),
        (r"\u72m", "rm"),
        (r"\u0072m", "rm"),
        (r"\U00000072m", "rm"),
        (r"\U0072m", "rm"),
        (r"\u007f", "\x7f"),
        (r"\a\b\e\E\f\n\r\t\v", "\x07\x08\x1b\x1b\x0c\n\r\t\x0b"),
        (r#"\\\'\"\?"#, r#"\'"?"#),
        (r"a\'b\n", "a'b\n"),
        // Escapes bash does not know, and `\x`, `\u` with no digit, stay as written.
        (r"\q\8\xg\x", r"\q\8\xg\x"),
        (r"\u{72}", r"\u{72}"),
        ("a\\é", "a\\é"),
    ] {
        assert_eq!(decoded(body).as_deref(), Some(value), "$'{body}'");
    }
}

#[test]
fn ansi_c_escapes_the_checker_is_not_sure_of_are_not_known() {
    for body in [
        // bash ends the string at a NUL: `$'rm\0x'` is `rm`.
        r"rm\0x",
        r"\0",
        r"\400",
        r"\x00",
        r"\x{}m",
        r"\u0000m",
        r"\x{100}",
        // A `\x{…}` whose digits a `}` does not close right after them.
        r"\x{72",
        r"\x{72g}m",
        r"\x{g}m",
        r"\x{ 72}m",
        r"\x{72 }m",
        // Control characters.
        r"\cA",
        r"\ca",
        r"\c?",
        r"\c",
        // Above U+007F `\u` and `\U` give bytes that depend on the locale.
        r"\u00e9",
        r"\u0080",
        r"\ud800",
        r"\U0010ffff",
        r"\UFFFFFFFF",
        // Bytes that are not UTF-8.
        r"\351",
        r"\777",
        r"\xe9",
    ] {
        assert_eq!(decoded(body), None, "$'{body}'");
    }
}

#[test]
fn programs_written_with_ansi_c_escapes_are_judged_by_their_value() {
    for (script, words) in [
        (r"$'\x{72}m' victim_hex", ["rm", "victim_hex"]),
        (r"$'\562m' victim_oct", ["rm", "victim_oct"]),
        (r"git $'\x{70}ush' --force", ["git", "push"]),
        (r"git $'\560ush' --force", ["git", "push"]),
        (r"/bin/$'\x{72}'m x", ["/bin/rm", "x"]),
    ] {
        let found = sh(script);
        let command = &found.commands[1];
        assert_eq!(
            [command[0].text(), command[1].text()],
            words,
            "{script}: {found:?}"
        );
        assert!(found.problems.is_empty(), "{script}: {found:?}");
    }
    // A program the checker cannot decode for sure is refused.
    for script in [
        r"$'\x{72'm x",
        r"$'r\cAm' x",
        r"$'rm\0' x",
        r"$'\u0072\u00e9' x",
    ] {
        assert!(!sh(script).problems.is_empty(), "{script}");
    }
}

#[test]
fn redirection_targets_written_with_ansi_c_escapes_are_decoded() {
    let found = sh(r"echo hi > $'\x{2f}etc/passwd' 2> $'\057tmp/\x{172}'");
    assert_eq!(
        found.redirects,
        [
            Word::Literal("/etc/passwd".to_owned()),
            Word::Literal("/tmp/r".to_owned())
        ]
    );
    // The checker cannot tell what bash makes of `\x{2f` unclosed; bash's own reading of
    // the script can: `/`.
    let found = sh(r"echo hi > $'\x{2f'etc/passwd");
    assert!(
        matches!(found.redirects.as_slice(), [Word::Dynamic(_), Word::Literal(target)] if target == "/etc/passwd"),
        "{found:?}"
    );
}
