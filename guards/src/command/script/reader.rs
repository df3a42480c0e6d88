//! A reading of a script's text as bash nests its quotes, brackets, arithmetic and
//! expansions: enough to find each here-document operator the shell sees, and to tell what
//! follows it on its line, which brush-parser's tokenizer reads otherwise while the document
//! is pending (probes 59, 130 to 144). A model of bash's lexer, kept on the safe side: where
//! it may have lost track of bash's, it takes every `<<` for an operator.

use brush_parser::Token;

use super::text::{ends_a_word, shown};
use super::tokenizer::{delimiter_line, opens_a_document};

/// What follows a here-document's operator on its line that the tokenizer reads otherwise
/// than bash while the document is pending: another document's `<<` inside an expansion
/// (`cat <<E; echo $(cat <<F)`: the tokenizer queues `F`'s body after `E`'s and takes its
/// operator out of the word), or a line that ends inside a quote, a bracket, an expansion or
/// a backslash-newline opened after the operator (bash reads the body from the line after
/// the command's end, the tokenizer from the line break, so the lines between are script to
/// one and text to the other: `cat <<E; (( 1 +⏎1 )) && rm x⏎E⏎))`, probe 59). An expansion
/// on that line is read whole since the vendored tokenizer's patch (`cat <<E; echo $(rm x)`
/// came as `echo rm x $()` from brush-parser 0.4.0 as published: probe 130;
/// `vendor/brush-parser/CAIRN-PATCH.md`). The operators are found in the text
/// ([`live_documents`]), so that one inside a `$(…)`, whose script the parser hands over
/// rebuilt with the misread done (probe 131 F3), is seen too; its line is read on from
/// what the operator stands in, so that a `)` or a quote that closes a bracket opened before
/// it (`x=$(cat <<E)`, `"$(cat <<E)"`) closes it, and one that closes it on the line leaves
/// the document pending outside, where bash reads its body from the next line at once,
/// whatever the rest of the line opens (`echo "$(true <<true)" "'"$(: '⏎true⏎')⏎rm x⏎true`
/// runs `rm x`: probe 157 F1).
pub(super) fn pending_document_misread(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    live_documents(&chars).find_map(|(at, context)| document_line(&chars, at, context))
}

/// What [`pending_document_misread`] finds after the here-document's operator at `at` of
/// `chars`, on its line: read on from `context`, the reading of the text up to the
/// operator's first `<`; without one (a reading that may have lost track of bash's, or an
/// operator only the tokenizer has), from nothing open, a `)` or a backquote that closes
/// nothing of the line taken for the end of a bracket the operator stands in. Where one
/// ends, nothing that opens one may follow on the line.
fn document_line(chars: &[char], at: usize, context: Option<Reading>) -> Option<String> {
    let line_end = (chars.iter().skip(at).position(|&c| c == '\n')).map_or(chars.len(), |n| at + n);
    let line = chars.get(at + 2..line_end).unwrap_or_default();
    let shown = shown(&line.iter().collect::<String>());
    let known = context.is_some();
    let mut reading = context.unwrap_or_else(|| Reading::new(chars, false));
    reading.at = at + 1;
    reading.step();
    // The delimiter starts no command (`<<case` opens no `case`).
    reading.word_starts = false;
    // How deep the brackets the operator stands in are, at the least, on the rest of its
    // line: what is open deeper at its end was opened after it.
    let enclosing = reading.inside.clone();
    let mut floor = enclosing.len();
    let (mut nested_document, mut closed_outside) = (false, None);
    let open = loop {
        let (top, here) = (reading.inside.last().copied(), reading.at);
        let read = reading.step();
        // Where a substitution the operator stands in ends (or, without a reading, may end),
        // bash reads the body from the next line at once (a subshell's `)` it reads on
        // past: probe 160 F1): what follows on the line is read as bash reads it after the
        // body, a model's reading, which the checker does not stake the document's place on.
        let closes = if known {
            let substitution = |inside: &Inside| {
                matches!(
                    inside,
                    Inside::Bracket { ends_word: false } | Inside::Backquote
                )
            };
            (enclosing.get(reading.inside.len()..floor))
                .is_some_and(|ended| ended.iter().any(substitution))
        } else {
            top.is_none() && matches!(read, Some(Read::Char(')' | '`')))
        };
        if closes {
            closed_outside = closed_outside.or(Some(here));
        }
        match read {
            Some(Read::Char('\n')) => break reading.inside.len() > floor || reading.lost,
            Some(Read::Char('<'))
                if reading.inside.len() > floor
                    && !matches!(top, Some(Inside::Double | Inside::Arithmetic { .. }))
                    && document_at(chars, here) =>
            {
                nested_document = true;
            }
            Some(Read::Char(_)) => {}
            Some(Read::LineBreakInside) | None => break true,
        }
        floor = floor.min(reading.inside.len());
    };
    let opens = |closer: usize| {
        (chars.get(closer + 1..line_end).unwrap_or_default().iter())
            .any(|c| "'\"\\$(`".contains(*c))
    };
    if closed_outside.is_some_and(opens) {
        return Some(if known {
            format!(
                "`<<{shown}`: a here-document in a substitution that ends on its line, before a quote or a bracket there (bash reads the body from the next line at once, the parser after what the line opens): not checked (end the substitution after the body: `\"$(cat <<E⏎…⏎E⏎)\"`)"
            )
        } else {
            format!(
                "`<<{shown}`: a `<<` where the checker may have lost track of bash's reading (after a `case` pattern), followed on its line by a `)` or a backquote that may end a substitution it stands in, and then by a quote, a `$`, a bracket or a backslash (bash would read a here-document's body from the next line at once): not checked (put the here-document, or the shift, on a line of its own)"
            )
        });
    }
    if nested_document {
        return Some(format!(
            "`<<{shown}`: a `<<` inside an expansion on the line of a here-document's `<<`, whose document the parser reads after the first one's and takes out of the expansion: not checked (put the expansion on a line of its own)"
        ));
    }
    open.then(|| {
        format!(
            "`<<{shown}`: a here-document's line that ends inside a quote, a bracket or an expansion: the parser reads the document's body from the line break, bash after the command: not checked (end the command on the `<<`'s line)"
        )
    })
}

/// [`document_line`] after each here-document's operator among the tokenizer's `tokens` of
/// the text `chars`, read on from the reading of the text ([`live_documents`]), which must
/// have the operator too: where it has none, in quotes, arithmetic or a comment, one of the
/// two reads the script otherwise than bash, and a document the tokenizer alone reads hides
/// its body's lines (`echo "$(( ${x:-))} << 2 ))⏎"⏎rm x⏎2`: the `))` in the `${…}` ends the
/// tokenizer's arithmetic, bash's is over and the `<<` in the string; probe 161 F1).
pub(super) fn document_operator_lines(chars: &[char], tokens: &[Token]) -> Option<String> {
    let mut live: Vec<(usize, Option<Reading>)> = live_documents(chars).collect();
    tokens.iter().find_map(|token| match token {
        Token::Operator(operator, span) if opens_a_document(operator) => {
            let at = span.start.index;
            let Some((_, context)) = live.iter_mut().find(|(live, _)| *live == at) else {
                let line: String = (chars.iter().skip(at)).take_while(|&&c| c != '\n').collect();
                return Some(format!(
                    "`{}`: a `<<` the parser reads as a here-document's where bash reads none (in quotes, arithmetic or a comment): not checked",
                    shown(&line)
                ));
            };
            document_line(chars, at, context.take())
        }
        _ => None,
    })
}

/// Where in `text` a here-document's operator `<<` (or `<<-`; not a here-string's `<<<`)
/// may stand: outside single quotes and arithmetic, and outside double quotes but in a
/// `$(…)` or backquotes inside them. Backquotes, brackets and expansions are looked into, as
/// a document may stand there; a document's body is stepped over at the line break after its
/// operator (to the line of its delimiter, quotes and backslashes removed; a delimiter no
/// line matches steps over nothing), so that a quote in it does not hide what follows.
fn live_documents(text: &[char]) -> impl Iterator<Item = (usize, Option<Reading<'_>>)> + '_ {
    let mut reading = Reading::new(text, true);
    let mut pending: Vec<(String, bool)> = Vec::new();
    std::iter::from_fn(move || {
        loop {
            let at = reading.at;
            if reading.lost {
                // Lost: the rest is read for `<<` as written.
                let operator = (at..text.len()).find(|&at| document_at(text, at))?;
                reading.at = operator + 2;
                return Some((operator, None));
            }
            let top = reading.inside.last().copied();
            match reading.step()? {
                Read::Char('<')
                    if !matches!(top, Some(Inside::Double | Inside::Arithmetic { .. }))
                        && document_at(text, at) =>
                {
                    let tabs = text.get(at + 2) == Some(&'-');
                    let rest: String = text[at + 2 + usize::from(tabs)..].iter().collect();
                    let delimiter = delimiter_line(rest.trim_start_matches([' ', '\t']));
                    pending.push((delimiter, tabs));
                    return Some((at, Some(reading.clone())));
                }
                Read::Char('\n') => {
                    for (delimiter, tabs) in pending.drain(..) {
                        reading.step_over_body(&delimiter, tabs);
                    }
                }
                _ => {}
            }
        }
    })
}

/// Whether the text after a `((` (or `$((`), `inside`, may make bash read it as `( (`, a
/// subshell in a subshell, whose text is then commands, not arithmetic: the `)` that closes
/// its second `(` (parentheses counted as written) is not followed by another, or comes
/// after what could hide or add one from bash's count — a quote, a backslash, a backtick
/// (probe 151 F1: `((echo '))'; true) )`, and `((echo #'…` whose `#` then starts a
/// comment), a `#` that starts a word, a parenthesis inside braces (bash matches `${…}`
/// apart: `(( ${x(} ) && …))`).
fn may_be_subshells(inside: &[char]) -> bool {
    let (mut depth, mut braces) = (0usize, 0usize);
    for (at, &c) in inside.iter().enumerate() {
        let starts_a_word = at
            .checked_sub(1)
            .is_none_or(|before| " \t\n()".contains(inside[before]));
        match c {
            '\'' | '"' | '\\' | '`' => return true,
            '#' if starts_a_word => return true,
            '(' | ')' if braces > 0 => return true,
            '{' => braces += 1,
            '}' => braces = braces.saturating_sub(1),
            '(' => depth += 1,
            ')' if depth == 0 => return inside.get(at + 1) != Some(&')'),
            ')' => depth -= 1,
            _ => {}
        }
    }
    true
}

/// Whether a here-document's `<<` (not a here-string's `<<<`) starts at `at` of `text`.
fn document_at(text: &[char], at: usize) -> bool {
    text.get(at..at + 2) == Some(&['<', '<'][..])
        && text.get(at + 2) != Some(&'<')
        && (at == 0 || text[at - 1] != '<')
}

/// What a scan of a text ([`Reading`]) is inside of.
#[derive(Clone, Copy, PartialEq)]
enum Inside {
    /// `"…"`.
    Double,
    /// `(…)`, `$(…)`, `<(…)`, `@(…)`, where quotes start again: whether its `)` ends a word
    /// (a subshell's, a function's) or the word goes on (a substitution's, a pattern's:
    /// `$(true)#` is one word, whose `#` starts no comment; probe 134 F1, F2).
    Bracket { ends_word: bool },
    /// `${…}`.
    Parameter,
    /// `$((…))` and `((…))`, where `<<` is a shift; whether its `))` ends a word.
    Arithmetic { ends_word: bool },
    /// `` `…` ``.
    Backquote,
}

/// What [`Reading::step`] read.
enum Read {
    /// A character outside single quotes and comments (a `\`'s escaped one stepped over).
    Char(char),
    /// A line break inside single quotes, or after a backslash.
    LineBreakInside,
}

/// A reading of a script's text as bash nests its quotes, brackets and expansions: enough to
/// tell whether a line ends inside one, and where an operator stands outside quotes.
#[derive(Clone)]
struct Reading<'a> {
    text: &'a [char],
    /// Where the next step starts.
    at: usize,
    inside: Vec<Inside>,
    /// Whether a word starts at `at`: after a blank or an operator's character, unescaped.
    word_starts: bool,
    /// Whether a `case` clause ended before `at`: a `;;`, `;&` or `;;&`, then only blanks,
    /// line breaks and comments. A word `esac` ends a `case` only there (`echo esac`, `y|esac)`
    /// and `[[ a ||⏎esac ]]` do not: probes 146 F1, 147 F2; a last clause without its `;;`
    /// then leaves the count high); a word `case` counts wherever it stands: the count errs
    /// high, the safe way (see `lost`).
    clause_ended: bool,
    /// The character read last, unless a backslash escaped it (`\$(` opens nothing: probe
    /// 137 F3).
    last: Option<char>,
    /// How many `case` commands are open inside the innermost bracket, whose `)` then ends
    /// a pattern (`case x in x)#` starts a comment: probe 137 F2), and how many were open
    /// outside each bracket.
    cases: usize,
    outer_cases: Vec<usize>,
    /// Whether the reading may have lost track of bash's: a `)` it took for a pattern's end
    /// (a `case` it counted may be a mere word, `$(echo case)#`: probe 143 F4), or one that
    /// made bash read a `((` as two subshells (probe 151 F1). From there
    /// every `<<` is taken for an operator ([`live_documents`]), and every line for open.
    lost: bool,
}

impl<'a> Reading<'a> {
    /// Steps over a here-document's body, from the line at hand to the line that is its
    /// `delimiter` (after tabs, with `tabs`); over nothing if no line is.
    fn step_over_body(&mut self, delimiter: &str, tabs: bool) {
        let mut line_start = self.at;
        while line_start < self.text.len() {
            let end = (self.text[line_start..].iter().position(|&c| c == '\n'))
                .map_or(self.text.len(), |length| line_start + length);
            let line: String = self.text[line_start..end].iter().collect();
            let line = if tabs {
                line.trim_start_matches('\t')
            } else {
                &line
            };
            if line == delimiter {
                self.at = end;
                return;
            }
            line_start = end + 1;
        }
    }

    /// A reading of `text` from its start, where a word starts if `word_starts`.
    fn new(text: &'a [char], word_starts: bool) -> Reading<'a> {
        Reading {
            text,
            at: 0,
            inside: Vec::new(),
            word_starts,
            clause_ended: false,
            last: None,
            cases: 0,
            outer_cases: Vec::new(),
            lost: false,
        }
    }

    /// Whether the word `keyword` starts at `at`, a word's start.
    fn keyword_at(&self, at: usize, keyword: &str) -> bool {
        let length = keyword.chars().count();
        let word: String = self.text.iter().skip(at).take(length).collect();
        word == keyword
            && (self.text.get(at + length)).is_none_or(|&c| !(c.is_alphanumeric() || c == '_'))
    }

    /// Whether the word at `at`, a word's start, is `esac` whole: bash ends a word only at a
    /// blank, a line break or an operator's character (`esac.`, or `esac` and a no-break
    /// space, is another word: probe 150 F1). A word `case` is read as [`Reading::keyword_at`]
    /// reads it, more often than bash (`case\⏎ x` is `case x`), the safe way.
    fn esac_at(&self, at: usize) -> bool {
        self.keyword_at(at, "esac") && (self.text.get(at + 4)).is_none_or(|&c| ends_a_word(c))
    }

    /// Opens a bracket of `kind`, whose `case` commands are counted apart.
    fn open(&mut self, kind: Inside) {
        self.inside.push(kind);
        self.outer_cases.push(std::mem::take(&mut self.cases));
    }

    /// Closes the innermost bracket, the count of `case` commands outside it back.
    fn close(&mut self) {
        self.inside.pop();
        self.cases = self.outer_cases.pop().unwrap_or_default();
    }

    /// Reads a character, or a quoted span, an escaped pair or a comment whole; none at the
    /// text's end.
    fn step(&mut self) -> Option<Read> {
        let text = self.text;
        let at = self.at;
        let c = *text.get(at)?;
        let before = self.last.replace(c);
        let top = self.inside.last().copied();
        // bash's blanks are a space and a tab; other white space is a word's.
        let starts = std::mem::replace(&mut self.word_starts, " \t\n;&|<>".contains(c));
        let clause_ended = self.clause_ended;
        let next = text.get(at + 1).copied();
        self.clause_ended = match c {
            ' ' | '\t' | '\n' => clause_ended,
            '#' => clause_ended && starts,
            ';' => matches!(next, Some(';' | '&')) || before == Some(';'),
            '&' => before == Some(';'),
            _ => false,
        };
        self.at += 1;
        // Where a command's words are read (not in quotes or a `${…}`).
        let commands = matches!(top, None | Some(Inside::Bracket { .. } | Inside::Backquote));
        match c {
            _ if commands && starts && self.keyword_at(at, "case") => self.cases += 1,
            _ if commands && clause_ended && self.esac_at(at) => {
                self.cases = self.cases.saturating_sub(1);
            }
            '\\' => {
                self.at += 1;
                if text.get(at + 1) == Some(&'\n') {
                    return Some(Read::LineBreakInside);
                }
            }
            '`' if top == Some(Inside::Backquote) => self.close(),
            '`' => {
                self.open(Inside::Backquote);
                self.word_starts = true;
            }
            // Single quotes read whole: `'…'`, `$'…'` (whose backslash escapes a quote).
            '\'' if top != Some(Inside::Double) => {
                let escapes = before == Some('$');
                let mut broken = false;
                while let Some(&q) = text.get(self.at) {
                    self.at += 1;
                    match q {
                        '\n' => broken = true,
                        '\\' if escapes => self.at += 1,
                        _ if q == c => break,
                        _ => {}
                    }
                }
                if broken {
                    return Some(Read::LineBreakInside);
                }
            }
            '"' if top == Some(Inside::Double) => self.close(),
            '"' => self.open(Inside::Double),
            '{' if before == Some('$') => self.open(Inside::Parameter),
            '}' if top == Some(Inside::Parameter) => self.close(),
            // In quotes and in a `${…}` only a `$(` opens one: bash matches a `${…}`'s
            // braces apart from its parentheses (`"${x:-(}"`: probe 159 F1).
            '(' if !matches!(top, Some(Inside::Double | Inside::Parameter))
                || before == Some('$') =>
            {
                let substitution = before.is_some_and(|before| "$<>".contains(before));
                if text.get(self.at) == Some(&'(') && (starts || before == Some('$')) {
                    self.at += 1;
                    self.open(Inside::Arithmetic { ends_word: starts });
                    self.lost |= may_be_subshells(&text[self.at..]);
                } else {
                    let pattern = before.is_some_and(|before| "@*?+!".contains(before));
                    // A command starts inside a subshell or a substitution, and where
                    // commands are read a `(` is an operator, after which a word starts
                    // (`x=(#` starts a comment: probe 151 F2), unless it opens a pattern.
                    self.word_starts = starts || substitution || (commands && !pattern);
                    let ends_word = !(substitution || pattern);
                    self.open(Inside::Bracket { ends_word });
                }
            }
            // A `case` pattern's end.
            ')' if self.cases > 0 && commands => {
                self.word_starts = true;
                self.lost = true;
            }
            ')' => match top {
                Some(Inside::Arithmetic { ends_word }) if text.get(self.at) == Some(&')') => {
                    self.at += 1;
                    self.close();
                    self.word_starts = ends_word;
                }
                // One `)`: bash reads the `((` again as `( (`, a subshell in a subshell (or
                // in a substitution), this `)` closing the inner one, the outer still open
                // (probe 151 F1: `((echo '))'; true) )#'` ends in a comment). What came
                // before was read as arithmetic, not as commands: the reading is lost.
                Some(Inside::Arithmetic { ends_word }) => {
                    self.close();
                    self.open(Inside::Bracket { ends_word });
                    self.word_starts = true;
                    self.lost = true;
                }
                Some(Inside::Bracket { ends_word }) => {
                    self.close();
                    self.word_starts = ends_word;
                }
                _ => {}
            },
            // A comment, to the line's end (or in backquotes, whose end bash finds first,
            // to theirs).
            '#' if commands && starts => {
                let end = if top == Some(Inside::Backquote) {
                    "\n`"
                } else {
                    "\n"
                };
                while text.get(self.at).is_some_and(|&c| !end.contains(c)) {
                    self.at += 1;
                }
            }
            _ => {}
        }
        Some(Read::Char(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_pending_documents_line_the_tokenizer_reads_otherwise() {
        for script in [
            "cat <<E; (( 1 +\n1 )) && rm x\nE\n))",
            "cat <<E; [[ x =~ (\n) ]] || rm x\nE\n) ]]",
            "cat <<E; echo \"a\nb\"\nE",
            "cat <<E; echo 'a\nb'\nE",
            "cat <<E; echo `a\nb`\nE",
            "cat <<E \\\n| grep a\nE",
            // Probe 131 F1: an escaped `;` or blank starts no word, so the `#` no comment.
            "cat <<true; echo \\;#; (( 1 +\n1 )) && rm x\ntrue\n))",
            "cat <<E; echo a\\ #; [[ x =~ (\n) ]] || rm x\nE\n) ]]",
            // Probe 134: a `#` glued to a substitution's or a pattern's `)` is no comment.
            "echo $(true)# <<E; (( 1 +\n1 )); rm x <<true\nE\n))\ntrue",
            "cat <<E; [[ x == @(x)# ]]; (( 1 +\n1 )); rm x <<true\nE\n))\ntrue",
            // Probe 137: only a space or a tab is a blank; a `case` pattern's `)` ends a
            // word; an escaped `$` opens nothing.
            "echo `(echo a\u{a0}# <<E; [[ x =~ (\n) ]] || rm x <<true\nE\n) ]]\ntrue\n)`",
            "echo `case x in x)#'\ncat <<E; [[ x =~ (\n) ]] || rm x <<true\nE\n) ]]\ntrue\n#'\n;; esac`",
            "echo $(case x in x)#'\ncat <<E; [[ x =~ (\n) ]] || rm x <<true\nE\n) ]]\ntrue\n#'\n;; esac)",
            "echo \"\\$(\" <<E; [[ x =~ (\n) ]] || rm x <<true\nE\n) ]]\ntrue",
            "echo $(echo \"\\$(\" <<E; [[ x =~ (\n) ]] || rm x <<true\nE\n) ]]\ntrue\n)",
            // A `case` that is a mere word: the reader, lost, reads on for `<<` as written.
            "echo $(case x in x) echo;; esac) \"<< $(date)\"",
            // Probe 146 F1: a word `esac` that starts no command ends no `case`.
            "case x in (y) echo esac;; x)#'\necho $(cat <<echo; echo $(\nrm x\necho\n)\necho\n)\n;; esac #'\n",
            "case x in (y) echo \\; esac;; x)#'\necho $(cat <<echo; echo $(\nrm x\necho\n)\necho\n)\n;; esac #'\n",
            // Probe 151 F1: `((…) …)` is a subshell in a subshell, whose `)#` starts a
            // comment; F2: so does a `#` after an array's `(`.
            "((echo '))'; true) )#'\n((1))\necho $(cat <<echo; echo $(\nrm x\necho\n)\necho\n)\n# '\n",
            "x=(#'\n)\necho $(cat <<echo; echo $(\nrm x\necho\n)\necho\n)\n# '\n",
            "((echo #'\necho $(cat <<echo; echo $(\nrm x\necho\n)\necho\n)\n) )\n# '\n",
            // Probe 150 F1: a word that only starts with `esac` ends no `case`.
            "case x in (y) ;; esac.|x)#'\necho $(cat <<echo; echo $(\nrm x\necho\n)\necho\n)\n;; esac #'\n",
            "case x in (y) ;; esac\u{a0}|x)#'\necho $(cat <<echo; echo $(\nrm x\necho\n)\necho\n)\n;; esac #'\n",
            // Probe 148 F1: a delimiter holding a no-break space ends at a line holding it.
            "cat <<E\u{a0}x\nE\n'\nE\u{a0}x\necho $(cat <<echo; echo $(\nrm x\necho\n)\necho\n)\n# '\n",
            // Probe 147 F2: nor one after a pattern's `|`, or after `||` and a line break in
            // `[[ ]]`, or after a redirection's `>&`.
            "case x in y|esac) echo;; x)#'\necho $(cat <<echo; echo $(\nrm x\necho\n)\necho\n)\n;; esac #'\n",
            "case x in (y) [[ a ||\nesac ]];; x)#'\necho $(cat <<echo; echo $(\nrm x\necho\n)\necho\n)\n;; esac #'\n",
            "case x in (y) echo >& esac;; x)#'\necho $(cat <<echo; echo $(\nrm x\necho\n)\necho\n)\n;; esac #'\n",
            // Probe 130's operator inside an expansion on a pending document's line.
            "cat <<E; echo $(cat <<F)\nE\nF",
            "cat <<E; echo \"$(cat <<-F)\"\nE\nF",
            // Probe 157 F1: a document pending outside the `$(…)` its `<<` stands in, whose
            // body bash reads from the next line at once; without the reading at its `<<`
            // (after a `case` pattern), a `)` or a backquote before an opening.
            "echo \"$(true <<true)\" \"'\"$(: '\ntrue\n')\nrm x\ntrue",
            "echo \"$(true <<true)\" \"'\"$((1+'\ntrue\n'1))\nrm x\ntrue",
            "echo \"$(true <<true)\" \"'\"'\ntrue\n'\nrm x\ntrue",
            "echo $(true <<true) $(:\ntrue\n)\nrm x\ntrue",
            "case x in x) echo \"$(true <<true)\" \"'\"'\ntrue\n'\nrm x\ntrue\n;; esac",
            "case x in x) echo \"`true <<true`\" \"'\"'\ntrue\n'\nrm x\ntrue\n;; esac",
            // Where the `$(…)` the operator stands in ends, nothing may open after it, not
            // even a quote the model reads as closing.
            "echo \"$(cat <<E)\" \"x\"\nhi\nE",
            "echo \"$(cat <<E)\"\nhi\nE",
            // Probe 159 F1: a `(` in a `${…}` opens nothing.
            "echo \"${x:-(}\" \"$(true <<true)\" \"\ntrue\n\"\nrm x\ntrue",
            "x=\"${y//(/_}\"; echo \"$(cat <<true)\" \"\ntrue\n\"\ntouch y\ntrue",
            // A quote in a body, or a string over two lines, hides no later operator.
            "cat <<'X'\nit's\nX\necho $(cat <<E; (( 1 +\n1 )) && rm x\nE\n))\n)\necho '",
            "echo \"a\nb\"; echo $(cat <<E; (( 1 +\n1 )) && rm x\nE\n))\n)",
        ] {
            assert!(pending_document_misread(script).is_some(), "{script}");
        }
        // Probe 160 F2: where the reading is lost, a shift is taken for a document, and the
        // refusal says so.
        let shift = "case \"$1\" in a) echo a;; esac\nx=$(( 1 << 4 )); echo \"$x\"";
        let refusal = pending_document_misread(shift).unwrap_or_default();
        assert!(refusal.contains("lost track"), "{refusal}");
        // What those hid is read as bash reads it: a document inside a `$(…)`, whose script
        // comes rebuilt (probe 131 F3), or after a `case` that is a mere word.
        for script in [
            "echo $(cat <<F; echo $(rm x)\nhi\nF\n)",
            "echo \"`cat <<F; echo $(rm x)\nhi\nF\n`\"",
            "echo $(echo case)# $(cat <<F; echo $(rm x)\nhi\nF\n)",
        ] {
            assert!(pending_document_misread(script).is_none(), "{script}");
            let found = crate::command::check_argv(&["bash", "-c", script].map(str::to_owned));
            let rm = (found.commands.iter()).any(|command| command[0].text() == "rm");
            assert!(rm, "{script}: {found:?}");
        }
        for script in [
            "x=$(cat <<E)\nhi\nE",
            "cat <<'E' > f # it's a doc\nhi\nE",
            "cat <<E; echo \"(a)\" 'b(' $'c\\'(' # d(\nE",
            "echo \"$(cat <<'END'\nEND of it\n\nEND\n)\"; cat <<END\nENDS\nEND\necho $((1<<2))",
            "echo $((1 << 2)) $((1<<$n)) $(( (1) << (2) )); (( x <<= 1 ))",
            "if true; then cat <<E; fi\nx\nE",
            "echo \"1 << 2\"\necho \"(\"",
            "echo \"<<\" '<< $(x)' \"<<${x}\"; cat <<'E' # it's\n\" $(\nE",
            "case $1 in (a) x=1 ;; b) x=2 ;; esac; echo \"a case\" \"(\"; cat <<E\nx\nE",
            "echo $((1 << 2)) <<<\"$(date)\"",
            "cat <<E >${out} $(cat <<<x)\nE",
            // Probe 157 F2: a `<<` after an expansion, not in one, or in a comment.
            "cat > \"${A}\" <<EOF1; cat > \"${B}\" <<EOF2\na\nEOF1\nb\nEOF2",
            "cat <<EOF > \"${OUT}\" # writes <<notes>>\nx\nEOF",
            "x=$(cat <<E)\nhi\nE\necho \"$(cat <<F\nhi\nF\n)\"",
            // Probe 160 F1: a subshell's `)` is no substitution's end.
            "(cat <<EOF) > \"$out\"\nx\nEOF",
            "(cd dir && cat <<EOF) | cat - \"$log\"\nx\nEOF",
            "for f in *.md; do (cat <<EOF; cat \"$f\") > \"out/$f\"\nx\nEOF\ndone",
            // Probe 159 F2.
            "cat <<EOF > \"${x//(/_}.md\"\nhi\nEOF",
            "cat <<EOF > ${x:-\"(\"} \"${y:-$(echo \"(\")}\"\nhi\nEOF",
            "case $1 in a) cat <<EOF > \"$(mktemp)\"\nx\nEOF\n;; esac",
        ] {
            assert!(pending_document_misread(script).is_none(), "{script}");
        }
    }

    #[test]
    fn a_double_parenthesis_bash_may_read_as_two_subshells_is_told() {
        let chars = |text: &str| text.chars().collect::<Vec<char>>();
        for subshells in [
            "echo '))'; true) )",
            "echo #x)) )",
            " ${x(} ) && rm y))",
            "a) b)",
            "x",
        ] {
            assert!(may_be_subshells(&chars(subshells)), "{subshells}");
        }
        for arithmetic in [
            " i++ ))",
            " ${#a[@]} > $# ))",
            " (1) << (2) ))",
            " a[$(echo 1)] ))",
        ] {
            assert!(!may_be_subshells(&chars(arithmetic)), "{arithmetic}");
        }
    }
}
