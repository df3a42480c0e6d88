//! Command prefixes and variable names that could match nothing are load errors: blanks
//! that a reviewer reads as separating words (`["git push"]`), characters that show as
//! nothing (`"rm\u{200b}"`), and a deny or an approval naming its program by a path
//! (`["/bin/rm"]`), which `rm` passes; the schema refuses an empty prefix or token.

use cairn_engine::Problem;
use unicode_general_category::{GeneralCategory, get_general_category};
use unicode_normalization::{UnicodeNormalization, is_nfc};

use super::Policy;

impl Policy {
    /// Command prefixes have no token with blanks around it or a character that shows as
    /// nothing, and no first token holding a blank but no `/` (`["git push"]`): each would
    /// match nothing a command can be, so a deny written so would deny nothing.
    pub(super) fn check_commands(&self, problems: &mut Vec<Problem>) {
        let lists = [
            ("allow", self.commands.allow.as_deref().unwrap_or_default()),
            ("approve", &self.commands.approve),
            ("deny", &self.commands.deny),
        ];
        for (list, prefixes) in lists {
            for (index, prefix) in prefixes.iter().enumerate() {
                let at = format!("/commands/{list}/{index}");
                if let Some(message) = blank_in_prefix(prefix) {
                    problems.push(Problem::at(&at, message));
                } else if let Some((index, why)) = (prefix.iter().enumerate())
                    .find_map(|(index, token)| Some((index, unseen(token)?)))
                {
                    problems.push(Problem::at(format!("{at}/{index}"), why));
                } else if list != "allow"
                    && let Some(message) = path_in_prefix(prefix)
                {
                    problems.push(Problem::at(&at, message));
                }
            }
        }
    }

    /// Each variable name is written as it reads: no blanks around it, no character that
    /// shows as nothing. A name that no variable has allows nothing (probe 35 F11; one no
    /// variable can have, empty or holding `=` or NUL, the schema refuses).
    pub(super) fn check_env(&self, problems: &mut Vec<Problem>) {
        for (index, name) in self.env.iter().flatten().enumerate() {
            let message = if name.trim() != name {
                format!(
                    "{} has blanks around it, which no variable a step sets has: write {}",
                    shown(name),
                    shown(name.trim())
                )
            } else if let Some(message) = unseen(name) {
                message
            } else {
                continue;
            };
            problems.push(Problem::at(format!("/env/{index}"), message));
        }
    }
}

/// Why `token` matches nothing, if it holds a character a review does not see as written:
/// a control character (NUL, which no argument can hold; a tab or a newline), a Unicode
/// format character or default ignorable code point (a zero-width space, a byte-order mark,
/// a soft hyphen, a Hangul filler, a variation selector), or the blank braille pattern,
/// which copying from a web page or a chat brings along (probes 35 F2, 36 F2 and F3).
fn unseen(token: &str) -> Option<String> {
    let Some(found) = token.chars().find(|c| is_unseen(*c)) else {
        return uncomposed(token);
    };
    let seen = seen(token);
    let fix = if seen.is_empty() {
        "remove it".to_owned()
    } else {
        format!("write {}", shown(&seen))
    };
    Some(format!(
        "{} holds U+{:04X}, a control or invisible character, so it matches nothing written as it reads: {fix}",
        shown(token),
        u32::from(found)
    ))
}

/// `token` without the characters that show as nothing ([`is_unseen`]).
fn seen(token: &str) -> String {
    token.chars().filter(|c| !is_unseen(*c)).collect()
}

/// Why `token` matches nothing, if a combining mark in it does not show as written: one it
/// starts with (it shows on the character before it, the list's quote), an enclosing one
/// (U+20E3 draws a keycap around `m`), or one a review reads composed with its letter
/// (`m` and U+0301 read as `ḿ`, which a command writes as one character): probe 43 f1.
fn uncomposed(token: &str) -> Option<String> {
    let first_is_mark = token.chars().next().is_some_and(is_mark);
    let enclosing = token
        .chars()
        .find(|c| get_general_category(*c) == GeneralCategory::EnclosingMark);
    if !first_is_mark && enclosing.is_none() && !merges(token) {
        return None;
    }
    let composed: String = token.nfc().collect();
    let kept: String = (composed.chars())
        .skip_while(|c| is_mark(*c))
        .filter(|c| get_general_category(*c) != GeneralCategory::EnclosingMark)
        .collect();
    let fix = if kept.is_empty() {
        "remove it".to_owned()
    } else {
        format!("write {}", shown(&kept))
    };
    let mark = (token.chars()).find(|c| is_mark(*c));
    let what = mark.map_or_else(
        || "a character Unicode writes composed otherwise".to_owned(),
        |mark| format!("U+{:04X}, a combining mark", u32::from(mark)),
    );
    Some(format!(
        "{} holds {what} that does not show as written (at its start, around a letter or \
         merged into one), so it matches nothing written as it reads: {fix}",
        shown(token)
    ))
}

/// Whether Unicode's composed form (NFC) of `token` merges a mark into its letter (`m` and
/// U+0301 into `ḿ`) or writes a character as another (U+212B as `Å`). Marks it only puts in
/// their canonical order are not merged: Hebrew, Arabic or Thai typed in the usual order
/// shows as written, and a command typed so matches it (probe 45 F8).
fn merges(token: &str) -> bool {
    !is_nfc(token)
        && (token.nfc().count() < token.chars().count()
            || token.chars().any(|c| !c.nfc().eq(std::iter::once(c))))
}

/// Whether `c` is a combining mark (nonspacing, spacing or enclosing).
fn is_mark(c: char) -> bool {
    matches!(
        get_general_category(c),
        GeneralCategory::NonspacingMark
            | GeneralCategory::SpacingMark
            | GeneralCategory::EnclosingMark
    )
}

/// Whether `c` is a character a review does not see as written (see [`unseen`]): also a
/// private-use or unassigned code point (a noncharacter among them), which no font draws
/// as what it is, and the symbols drawn blank (the braille pattern, the musical null
/// notehead, the Khitan filler: probe 38 F4).
fn is_unseen(c: char) -> bool {
    c.is_control()
        || matches!(
            get_general_category(c),
            GeneralCategory::Format | GeneralCategory::PrivateUse | GeneralCategory::Unassigned
        )
        || cairn_engine::is_default_ignorable(c)
        || matches!(c, '\u{2800}' | '\u{1d159}' | '\u{16fe4}')
}

/// Whether a message shows `c` escaped: a blank other than a space, a character a review
/// does not see, or a combining mark.
pub(crate) fn escaped_in_messages(c: char) -> bool {
    (c.is_whitespace() && c != ' ') || is_unseen(c) || is_mark(c)
}

/// `text` as a JSON string whose characters [`escaped_in_messages`] are escaped, so that a
/// message shows them (`"rm\u{200b}"`, `"rm\u{a0}"`, `"\u{301}rm"`).
fn shown(text: &str) -> String {
    let mut shown = String::from('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => shown.extend(['\\', c]),
            c if escaped_in_messages(c) => {
                shown.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => shown.push(c),
        }
    }
    shown.push('"');
    shown
}

/// Why a deny or approval prefix naming its program by a path (`["/bin/rm"]`) is refused: it
/// matches only a command naming the program so, not `rm` nor `/usr/bin/rm`, and a deny
/// written so would let them through. (An allowed path is stricter than its name, and
/// stays.)
fn path_in_prefix(prefix: &[String]) -> Option<String> {
    let first = prefix.first().filter(|first| first.contains('/'))?;
    // A trailing `/` names a folder: the name is what comes before it (probe 35 F3).
    let name = crate::command::basename(first.trim_end_matches('/'));
    if name.is_empty() {
        return Some(format!(
            "{} names no program, only folders: write the program's name",
            shown(first)
        ));
    }
    Some(format!(
        "{} matches only a command that names its program by that path, not `{name}` nor another path to it: a command matches a deny or an approval by its program's name too, so write {}",
        shown(first),
        shown(name),
    ))
}

/// Why a command prefix holding blanks matches nothing, with the prefix to write instead:
/// a token with blanks around it (`[" rm"]`), or a first token holding a blank but no `/`
/// (`["git push"]`, one word naming no program; a path may hold a blank).
fn blank_in_prefix(prefix: &[String]) -> Option<String> {
    let first = prefix.first()?;
    let split = first.contains(char::is_whitespace) && !first.contains('/');
    if !split && prefix.iter().all(|token| token.trim() == token) {
        return None;
    }
    // The prefix to write is one the loader takes: without the characters that show as
    // nothing (probe 188 F1: `["git", "\u{200b} "]` was told to write `["git", "\u{200b}"]`,
    // refused for its U+200B). A token that is no word once its blanks are gone is not left
    // out of it silently, which would widen an allow (probe 185 F1: `[" "]` was told to
    // write `[]`, `["git", " "]` `["git", ""]`).
    let rest = prefix
        .iter()
        .skip(1)
        .map(|token| seen(token).trim().to_owned());
    let tokens: Vec<String> = if split {
        let words = seen(first)
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        words.into_iter().chain(rest).collect()
    } else {
        std::iter::once(seen(first).trim().to_owned())
            .chain(rest)
            .collect()
    };
    let list = |tokens: &mut dyn Iterator<Item = &str>| {
        let quoted: Vec<String> = tokens.map(shown).collect();
        format!("[{}]", quoted.join(", "))
    };
    let written = list(&mut prefix.iter().map(String::as_str));
    if tokens.is_empty() || tokens.iter().any(String::is_empty) {
        return Some(format!(
            "a command prefix's token matches one whole word of a command, so {written} matches nothing: a token of blanks alone names no word; write the word it stands for, or leave the token out"
        ));
    }
    Some(format!(
        "a command prefix's token matches one whole word of a command, so {written} matches nothing: write {}",
        list(&mut tokens.iter().map(String::as_str)),
    ))
}
