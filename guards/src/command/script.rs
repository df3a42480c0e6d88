//! Shell scripts: parsed with brush-parser (the parser of the brush shell) and walked node
//! by node; every simple command is checked like an argv.

use brush_parser::ast::{
    AndOr, Assignment, AssignmentName, AssignmentValue, Command, CommandPrefixOrSuffixItem,
    CompoundCommand, CompoundList, ExtendedTestExpr, IoFileRedirectKind, IoFileRedirectTarget,
    IoRedirect, PipelineTimed, RedirectList, SimpleCommand, UnaryPredicate,
};
use brush_parser::{Parser, ParserOptions, SourceSpan, uncached_tokenize_str};

mod arithmetic;
mod bash;
pub(super) mod dialect;
mod reader;
mod text;
mod tokenizer;

use arithmetic::{bracket_in_old_arithmetic, comment_in_arithmetic, lost_arithmetic};
pub(super) use dialect::{Dialect, not_bash};
use reader::pending_document_misread;
use text::{
    MAX_NESTING, MAX_SUBSCRIPT_NESTING, braced_substitution, ends_early, looping_delimiter,
    misread_in_expansion, nesting, oversized_number, quote_in_pattern, subscript_nesting,
    too_many_openings,
};
pub(super) use text::{comment_in_substitution, ends_a_word};
use tokenizer::{
    after_the_pid, misread_delimiter, misread_in_regex, misread_in_tokens, split_operator,
};

use super::evaluated::{compares_numbers, surely_closing_bracket, target};
use super::word::{first_character, runs_commands};
use super::{Checker, MAX_SCRIPT_BYTES, Word};

/// How scripts are parsed: as bash parses them. What another shell reads differently is
/// refused (see [`Dialect`]).
pub(super) fn options() -> ParserOptions {
    ParserOptions::default()
}

/// Why a script the parser fails on is refused (the start of the reason).
const UNPARSED: &str = "the script does not parse";

impl Checker {
    /// Checks every command of the shell script `text`, written for a shell of `dialect`.
    pub(super) fn script(&mut self, text: &str, depth: usize, dialect: Dialect) {
        if !self.within(depth) {
            return;
        }
        if text.len() > MAX_SCRIPT_BYTES {
            return self.problem(format!("a script longer than {MAX_SCRIPT_BYTES} bytes"));
        }
        // Shells and parsers disagree on control characters (a carriage return is not a
        // separator in bash): refuse them rather than guess.
        if let Some(control) = text
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        {
            let code = u32::from(control);
            return self.problem(format!(
                "the script holds the control character U+{code:04X}"
            ));
        }
        // In a BIG5, GBK or Shift-JIS locale a shell reads the last byte of a UTF-8
        // character and an ASCII byte after it as one character: `䡡\` hides its backslash
        // from the shell, not from the parser, and the quoting that follows differs.
        if let Some((before, after)) = (text.chars().zip(text.chars().skip(1)))
            .find(|&(before, after)| !before.is_ascii() && "\\`{}|[]".contains(after))
        {
            return self.problem(format!(
                "`{before}{after}`: a shell in a BIG5, GBK or Shift-JIS locale reads the end of `{before}` and the `{after}` as one character: not checked (put a space or a quote between them)"
            ));
        }
        // The text without its backslash-newlines, which bash and the tokenizer remove
        // before they read a word.
        let joined = text.replace("\\\n", "");
        // The text as written, and joined if that differs: each scan once per distinct text.
        let texts: &[&str] = if joined == text {
            &[text]
        } else {
            &[text, &joined]
        };
        // brush-parser loops forever over these, or panics: refused before it sees them.
        if let Some(delimiter) = texts.iter().find_map(|text| looping_delimiter(text)) {
            return self.problem(format!(
                "the here-document delimiter `{delimiter}` is empty or holds `$(`, `${{` or `$[`, which the parser can loop forever over: not checked (name it: `<<'EOF'`)"
            ));
        }
        let oversized = texts.iter().find_map(|text| oversized_number(text));
        if let Some(refusal) = oversized.or_else(|| too_many_openings(text)) {
            return self.problem(refusal);
        }
        // Where the tokenizer reads on otherwise than bash, the program it parses hides
        // commands bash runs.
        let misread = |text: &&str| {
            [
                misread_in_expansion,
                quote_in_pattern,
                after_the_pid,
                misread_delimiter,
                split_operator,
                pending_document_misread,
                lost_arithmetic,
                bracket_in_old_arithmetic,
                comment_in_arithmetic,
                misread_in_regex,
            ]
            .iter()
            .find_map(|scan| scan(text))
        };
        if let Some(refusal) = texts.iter().find_map(misread) {
            return self.problem(refusal);
        }
        // `${V@P}` expands `V` as a prompt, running the commands in its value.
        if joined.contains("@P}") {
            self.problem(
                "`${…@P}` runs the commands in a variable's value, which the checker cannot see",
            );
        }
        if let Some(shown) = braced_substitution(&joined) {
            self.problem(format!(
                "`{shown}…`: bash 5.3 runs the commands in `${{ …; }}` and `${{| …; }}`, which the checker cannot see"
            ));
        }
        // The parser's time grows about twentyfold with each level of `${x[${x[…]}]}`: it
        // parses a subscript again for each form of `${…}` it tries.
        if subscript_nesting(text) > MAX_SUBSCRIPT_NESTING {
            return self.problem(format!(
                "the script nests `${{NAME[…]}}` more than {MAX_SUBSCRIPT_NESTING} deep, which the parser takes exponential time over: not checked"
            ));
        }
        // The parser's time grows with each `(` or `case` left open: it tries each `(` as
        // arithmetic and as a subshell, each `case` item with and without `;;`. Counted on
        // the parser's own tokens, so quoting is as the parser reads it.
        if let Ok(tokens) = uncached_tokenize_str(text, &options().tokenizer_options()) {
            if nesting(&tokens) > MAX_NESTING {
                return self.problem(format!(
                    "the script nests `(` and `case` more than {MAX_NESTING} deep (a `case` counts twice), which the parser takes exponential time over: not checked"
                ));
            }
            if let Some(refusal) = misread_in_tokens(text, &tokens, dialect) {
                return self.problem(refusal);
            }
        }
        if let Some(line) = ends_early(text) {
            self.problem(format!(
                "the here-document line `{line}` may end it in bash (inside `$(…)` bash ends it at `EOF)`), where the parser reads on: not checked"
            ));
        }
        let mut parser = Parser::new(std::io::Cursor::new(text.as_bytes()), &options());
        let program = match parser.parse_program() {
            Ok(program) => program,
            // The parser reads no `x)` pattern inside `$(…)` (probe 142 F4).
            Err(error) if text.contains("$(") && text.contains("case") => {
                return self.problem(format!(
                    "{UNPARSED}: {error} (inside `$(…)`, give each `case` pattern its opening parenthesis: `(x86_64) …;;`)"
                ));
            }
            Err(error) => return self.problem(format!("{UNPARSED}: {error}")),
        };
        let outer_dialect = std::mem::replace(&mut self.dialect, dialect);
        let outer_text = std::mem::replace(&mut self.text, text.chars().collect());
        for list in &program.complete_commands {
            self.list(list, depth);
        }
        self.dialect = outer_dialect;
        self.text = outer_text;
    }

    /// The character at `index` of the script being walked.
    fn char_at(&self, index: usize) -> Option<char> {
        self.text.get(index).copied()
    }

    /// The first character at or after `index` of the script being walked that bash reads
    /// there: a backslash-newline (a line continuation) is removed before bash reads a word,
    /// so `)\⏎#` is `)#` to bash.
    fn char_from(&self, mut index: usize) -> Option<char> {
        while self.char_at(index) == Some('\\') && self.char_at(index + 1) == Some('\n') {
            index += 2;
        }
        self.char_at(index)
    }

    /// After the `)` that ends `span` (a process substitution, an array's values), bash reads
    /// a `#` as part of the word, the parser as the start of a comment: refused.
    fn comment_after(&mut self, span: &SourceSpan) {
        let end = span.end.index;
        let closes = end.checked_sub(1).and_then(|at| self.char_at(at)) == Some(')');
        if !closes || self.char_from(end) == Some('#') {
            self.problem(
                "a `#` right after `)` is part of the word for bash but a comment for the parser: not checked",
            );
        }
    }

    fn list(&mut self, list: &CompoundList, depth: usize) {
        for item in &list.0 {
            let and_or = &item.0;
            let rest = and_or.additional.iter().map(|next| match next {
                AndOr::And(pipeline) | AndOr::Or(pipeline) => pipeline,
            });
            for pipeline in std::iter::once(&and_or.first).chain(rest) {
                // A POSIX sh's `time` alone is the program too (probe 117 F5).
                if let Some(timed) = &pipeline.timed
                    && pipeline.seq.is_empty()
                    && self.dialect == Dialect::Posix
                {
                    self.command(program_time(timed), depth);
                }
                for (at, command) in pipeline.seq.iter().enumerate() {
                    match command {
                        Command::Simple(simple) if at == 0 => {
                            self.simple(simple, pipeline.timed.as_ref(), depth);
                        }
                        command => self.node(command, depth),
                    }
                }
            }
        }
    }

    fn node(&mut self, command: &Command, depth: usize) {
        match command {
            Command::Simple(simple) => self.simple(simple, None, depth),
            Command::Compound(compound, redirects) => {
                self.compound(compound, depth + 1);
                self.redirect_list(redirects.as_ref(), depth);
            }
            Command::Function(function) => {
                // dash has no `function` keyword: `function f⏎{ …; }` runs a program
                // named `function` there (probe 127 F2).
                if self.dialect == Dialect::Posix
                    && dialect::after_function_keyword(&self.text, &function.fname)
                {
                    self.problem(not_bash("the `function` keyword"));
                }
                self.compound(&function.body.0, depth + 1);
                self.redirect_list(function.body.1.as_ref(), depth);
            }
            Command::ExtendedTest(test, redirects) => {
                if self.dialect == Dialect::Posix {
                    self.problem(not_bash("`[[ … ]]`"));
                }
                self.test(&test.expr, depth + 1);
                self.redirect_list(redirects.as_ref(), depth);
            }
        }
    }

    fn compound(&mut self, compound: &CompoundCommand, depth: usize) {
        if !self.within(depth) {
            return;
        }
        if let Some(what) = self.dialect.misreads(compound) {
            self.problem(not_bash(what));
        }
        match compound {
            CompoundCommand::Arithmetic(arithmetic) => {
                // The parser reads `( ( cmd ) )` and `((cmd) )` as the arithmetic `((cmd))`;
                // bash runs `cmd` in a subshell of a subshell.
                let (start, end) = (arithmetic.loc.start.index, arithmetic.loc.end.index);
                if self.char_at(start) != Some('(') || self.char_at(start + 1) != Some('(') {
                    self.problem(
                        "`( (` is ambiguous: write `((` for arithmetic, `( (` is not checked",
                    );
                }
                let closes = |back| end.checked_sub(back).and_then(|at| self.char_at(at));
                if closes(1) != Some(')') || closes(2) != Some(')') {
                    self.problem(
                        "`) )` is ambiguous: write `))` to end arithmetic, `) )` is not checked",
                    );
                }
                self.arithmetic(&arithmetic.expr.value, depth);
            }
            CompoundCommand::ArithmeticForClause(clause) => {
                let parts = [&clause.initializer, &clause.condition, &clause.updater];
                for part in parts.into_iter().flatten() {
                    self.arithmetic(&part.value, depth);
                }
                self.list(&clause.body.list, depth);
            }
            CompoundCommand::BraceGroup(group) => self.list(&group.list, depth),
            CompoundCommand::Subshell(subshell) => self.list(&subshell.list, depth),
            CompoundCommand::ForClause(clause) => {
                self.assigned(&clause.variable_name);
                self.integer_set_at_run_time(&clause.variable_name);
                for word in clause.values.iter().flatten() {
                    self.word(&word.value, depth);
                }
                self.list(&clause.body.list, depth);
            }
            CompoundCommand::CaseClause(clause) => {
                self.word(&clause.value.value, depth);
                for case in &clause.cases {
                    for pattern in &case.patterns {
                        self.word(&pattern.value, depth);
                    }
                    if let Some(body) = &case.cmd {
                        self.list(body, depth);
                    }
                }
            }
            CompoundCommand::IfClause(clause) => {
                self.list(&clause.condition, depth);
                self.list(&clause.then, depth);
                for branch in clause.elses.iter().flatten() {
                    if let Some(condition) = &branch.condition {
                        self.list(condition, depth);
                    }
                    self.list(&branch.body, depth);
                }
            }
            CompoundCommand::WhileClause(clause) | CompoundCommand::UntilClause(clause) => {
                self.list(&clause.0, depth);
                self.list(&clause.1.list, depth);
            }
            CompoundCommand::Coprocess(coprocess) => {
                // `coproc NAME …` sets `NAME` and `NAME_PID`.
                if let Some(name) = &coprocess.name {
                    match self.word(&name.value, depth) {
                        Word::Literal(name) => {
                            self.assigned(&name);
                            self.array(&name);
                            self.assigned(&format!("{name}_PID"));
                        }
                        Word::Dynamic(name) => self
                            .problem(format!("the coprocess name `{name}` is not a literal word")),
                    }
                }
                self.node(&coprocess.body, depth);
            }
        }
    }

    fn test(&mut self, expr: &ExtendedTestExpr, depth: usize) {
        if !self.within(depth) {
            return;
        }
        match expr {
            ExtendedTestExpr::And(left, right) | ExtendedTestExpr::Or(left, right) => {
                self.test(left, depth + 1);
                self.test(right, depth + 1);
            }
            ExtendedTestExpr::Not(inner) | ExtendedTestExpr::Parenthesized(inner) => {
                self.test(inner, depth + 1);
            }
            ExtendedTestExpr::UnaryTest(predicate, word) => {
                self.word(&word.value, depth);
                // `-v a[SUBSCRIPT]` evaluates the subscript.
                if matches!(predicate, UnaryPredicate::ShellVariableIsSetAndAssigned) {
                    self.evaluated_as_written(&word.value);
                }
            }
            ExtendedTestExpr::BinaryTest(predicate, left, right) => {
                self.word(&left.value, depth);
                self.word(&right.value, depth);
                if compares_numbers(predicate) {
                    self.evaluated_as_written(&left.value);
                    self.evaluated_as_written(&right.value);
                }
            }
        }
    }

    /// A simple command; `timed` when it starts a pipeline after `time` or `time -p`.
    ///
    /// A POSIX sh (dash) has no keyword `time`: it runs the program, GNU `time`, whose
    /// options and command the `time` wrapper reads, so the command is judged as `time …`
    /// (probe 116 F1: `time '-p' rm x` ran `rm`, judged as the program `-p`; F2: `time` was
    /// never a command a policy could deny or had to allow). bash's keyword ends its options
    /// at a `--` right after them (`time -- rm x` runs `rm`): that `--` is dropped, and the
    /// words after it read as a command's words from its start. A keyword after it (`time --
    /// ! rm x`, `time -- coproc rm x`) is refused: bash reads it as one, the parser as a word.
    fn simple(&mut self, simple: &SimpleCommand, timed: Option<&PipelineTimed>, depth: usize) {
        let prefix = simple.prefix.iter().flat_map(|prefix| &prefix.0);
        let suffix = simple.suffix.iter().flat_map(|suffix| &suffix.0);
        let (mut words, timed) = match timed {
            Some(timed) if self.dialect == Dialect::Posix => (program_time(timed), false),
            timed => (Vec::new(), timed.is_some()),
        };
        let dashes = timed
            && simple.prefix.is_none()
            && (simple.word_or_name.as_ref()).is_some_and(|word| word.value == "--");
        // `time -v cmd`: bash reads `-v` as the command, its POSIX mode runs the program
        // `time` with its option (bash tells the option by the word as written; a Korn shell
        // may by its value: one that may start with `-` is refused there).
        let may_be_option = |raw: &str| match self.dialect {
            Dialect::Korn => first_character(raw).is_none_or(|first| first == '-'),
            _ => raw.starts_with('-'),
        };
        if let Some(word) = (simple.word_or_name.as_ref())
            .filter(|word| timed && !dashes && may_be_option(&word.value))
        {
            return self.problem(format!(
                "`time {}`: bash reads `{}` as the command, sh runs the program `time` with it as an option: not checked (write `command time {} …`)",
                word.value, word.value, word.value
            ));
        }
        if dashes
            && let Some(CommandPrefixOrSuffixItem::Word(next)) = suffix.clone().next()
            && KEYWORDS.contains(&next.value.as_str())
        {
            return self.problem(format!(
                "bash reads `{}` after `time --` as a keyword, the parser as a word: not checked",
                next.value
            ));
        }
        let name = (simple.word_or_name.iter())
            .filter(|_| !dashes)
            .map(Item::Word);
        let items: Vec<Item> = (prefix.map(Item::Other))
            .chain(name)
            .chain(suffix.map(Item::Other))
            .collect();
        for (at, item) in items.iter().enumerate() {
            let word = match item {
                Item::Word(word) => Some(*word),
                Item::Other(CommandPrefixOrSuffixItem::Word(word)) => Some(word),
                Item::Other(item) => {
                    self.item(item, &mut words, depth);
                    None
                }
            };
            if let Some(word) = word {
                let redirect = matches!(
                    items.get(at + 1),
                    Some(Item::Other(CommandPrefixOrSuffixItem::IoRedirect(_)))
                );
                if !(redirect && self.names_fd(word, depth)) {
                    words.push(self.word(&word.value, depth));
                }
            }
        }
        self.command(words, depth);
    }

    /// Whether `word`, followed by a redirection, is bash's `{NAME}` in `{NAME}>file`, which
    /// stores the new file descriptor's number in `NAME` (recorded as set; a subscript is
    /// evaluated): a `{` and `}` around a name, right before a `<` or `>`.
    fn names_fd(&mut self, word: &brush_parser::ast::Word, depth: usize) -> bool {
        let inner = word
            .value
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'));
        let Some(set) = inner.and_then(target).filter(|set| set.value.is_none()) else {
            return false;
        };
        let Some(span) = &word.loc else {
            self.problem(format!(
                "`{}` before a redirection may name a file descriptor: not checked",
                word.value
            ));
            return false;
        };
        if !matches!(self.char_from(span.end.index), Some('<' | '>')) {
            return false;
        }
        match self.dialect {
            Dialect::Bash => {}
            // dash reads `{x}` as a word, the redirection after it as one of its output: the
            // word stays (probe 117 F1: `env -u {x}>/dev/null rm v` runs `rm`).
            Dialect::Posix => return false,
            // ksh93 reads it as bash does, mksh as dash does.
            Dialect::Korn => {
                self.problem(not_bash(&format!("`{}` before a redirection", word.value)));
                return false;
            }
        }
        self.assigned(set.name);
        if let Some(subscript) = set.subscript {
            self.subscript(subscript, depth);
        }
        true
    }

    /// One item of a simple command: a word goes to `words`.
    fn item(&mut self, item: &CommandPrefixOrSuffixItem, words: &mut Vec<Word>, depth: usize) {
        // dash assigns `NAME=value` only: bash's `NAME+=value`, `NAME[i]=value` and
        // `NAME=(…)` are words to it, a command's name where they lead (probe 123 F2:
        // `a+=/../../bin/rm x` runs `rm` through a folder `a+=`).
        if let CommandPrefixOrSuffixItem::AssignmentWord(assignment, word) = item
            && self.dialect == Dialect::Posix
            && (assignment.append
                || matches!(assignment.name, AssignmentName::ArrayElementName(..))
                || matches!(assignment.value, AssignmentValue::Array(_)))
        {
            return self.problem(not_bash(&format!(
                "`{}` (dash has no such assignment: a word, a command's name where it leads)",
                word.value
            )));
        }
        if let CommandPrefixOrSuffixItem::AssignmentWord(_, word) = item
            && self.subscript_read_on(&word.value)
        {
            return;
        }
        match item {
            CommandPrefixOrSuffixItem::IoRedirect(redirect) => self.redirect(redirect, depth),
            CommandPrefixOrSuffixItem::Word(word) => words.push(self.word(&word.value, depth)),
            // `NAME=value` before the command.
            CommandPrefixOrSuffixItem::AssignmentWord(assignment, _) if words.is_empty() => {
                self.assignment(assignment, depth);
            }
            // `export NAME=value`: an argument, which sets a variable when the command is a
            // builtin that does (see `builtins.rs`).
            CommandPrefixOrSuffixItem::AssignmentWord(assignment, word) => {
                if let AssignmentValue::Array(items) = &assignment.value {
                    let name = match &assignment.name {
                        AssignmentName::VariableName(name)
                        | AssignmentName::ArrayElementName(name, _) => name,
                    };
                    self.compound_assignment(name, items, &assignment.loc, depth);
                }
                words.push(self.word(&word.value, depth));
            }
            CommandPrefixOrSuffixItem::ProcessSubstitution(_, subshell) => {
                self.comment_after(&subshell.loc);
                self.list(&subshell.list, depth + 1);
                words.push(Word::Dynamic("<(…)".to_owned()));
            }
        }
    }

    /// A variable set by the script: its name is checked against the policy's `env`, its
    /// subscripts are evaluated as arithmetic, and text that would run a command if
    /// evaluated later (arithmetic evaluates variables' contents) is refused.
    fn assignment(&mut self, assignment: &Assignment, depth: usize) {
        let name = match &assignment.name {
            AssignmentName::VariableName(name) => name,
            AssignmentName::ArrayElementName(name, subscript) => {
                self.subscript(subscript, depth);
                self.array(name);
                name
            }
        };
        self.assigned(name);
        let values: Vec<&str> = match &assignment.value {
            AssignmentValue::Scalar(word) => vec![&word.value],
            AssignmentValue::Array(items) => {
                self.compound_assignment(name, items, &assignment.loc, depth);
                items
                    .iter()
                    .map(|(_, value)| value.value.as_str())
                    .collect()
            }
        };
        let mut literal = matches!(assignment.value, AssignmentValue::Scalar(_));
        for value in values {
            match self.word(value, depth) {
                Word::Literal(text) if runs_commands(&text) => self.holds(name, &text),
                Word::Literal(_) => {}
                Word::Dynamic(_) => literal = false,
            }
        }
        if !literal {
            self.integer_set_at_run_time(name);
        }
    }

    /// A compound assignment to the array `name` (`a=(x [1]=y)`, also given to `declare`):
    /// each key is expanded, then expanded again as it is evaluated, so one that is not
    /// literal is refused.
    fn compound_assignment(
        &mut self,
        name: &str,
        items: &[(Option<brush_parser::ast::Word>, brush_parser::ast::Word)],
        loc: &SourceSpan,
        depth: usize,
    ) {
        self.comment_after(loc);
        self.array(name);
        // bash reads a `[` that starts an element on to the `]` that closes it, across
        // blanks and `#`; the parser ends the element at the blank (`LANG=([0 #]=C) ls;
        // (rm x⏎)` runs `rm x`; probe 64 F3), and not at one that may be quoted (143 F3).
        let words = items
            .iter()
            .flat_map(|(key, value)| key.iter().chain([value]));
        if let Some(open) = words
            .map(|word| word.value.as_str())
            .find(|word| word.starts_with('[') && surely_closing_bracket(word).is_none())
        {
            return self.problem(format!(
                "`{open}`: bash reads an array element's `[` on to the `]` that closes it, the parser ends the element here: not checked"
            ));
        }
        for key in items.iter().filter_map(|(key, _)| key.as_ref()) {
            if let Word::Dynamic(raw) = self.word(&key.value, depth) {
                self.expanded_twice(&format!("[{raw}]="));
            }
            self.evaluated_as_written(&key.value);
        }
    }

    /// The subscript of an array element being set, as written: bash expands it, then
    /// evaluates it as arithmetic.
    fn subscript(&mut self, subscript: &str, depth: usize) {
        self.word(subscript, depth);
        self.evaluated_as_written(subscript);
    }

    /// Refuses setting the variable `name` to `value`, text that would run a command if
    /// evaluated later.
    pub(super) fn holds(&mut self, name: &str, value: &str) {
        self.problem(format!(
            "the variable `{name}` holds `{value}`, which a later expansion could run"
        ));
    }

    fn redirect_list(&mut self, redirects: Option<&RedirectList>, depth: usize) {
        for redirect in redirects.iter().flat_map(|list| &list.0) {
            self.redirect(redirect, depth);
        }
    }

    fn redirect(&mut self, redirect: &IoRedirect, depth: usize) {
        match redirect {
            IoRedirect::File(_, kind, target) => match target {
                IoFileRedirectTarget::Filename(word) => {
                    let target = self.word(&word.value, depth);
                    self.redirected(target, kind);
                }
                IoFileRedirectTarget::Fd(_) => {}
                IoFileRedirectTarget::ProcessSubstitution(_, subshell) => {
                    self.comment_after(&subshell.loc);
                    self.list(&subshell.list, depth + 1);
                }
                IoFileRedirectTarget::Duplicate(word) => {
                    let target = self.word(&word.value, depth);
                    // A descriptor's number, its move (`3-`: duplicated, then closed), or a
                    // close (`-`): a standard stream closed is the next file a program opens
                    // (`flock FILE … >&-` runs its command with FILE as its output).
                    let closes = (target.literal()).is_some_and(|fd| fd.ends_with('-'));
                    let fd = (target.literal()).map(|fd| fd.strip_suffix('-').unwrap_or(fd));
                    let fd = fd.filter(|fd| fd.chars().all(|c| c.is_ascii_digit()));
                    match fd {
                        Some("0" | "1" | "2") if !closes => {}
                        Some(_) => self.findings.unseen_descriptors = true,
                        None => {
                            self.findings.unseen_descriptors |= matches!(target, Word::Dynamic(_));
                            self.redirected(target, kind);
                        }
                    }
                }
            },
            IoRedirect::HereDocument(_, document) => {
                // bash joins a body's lines split by a backslash-newline before it looks for
                // the delimiter; the parser does not, and would read on past bash's end.
                if document.requires_expansion && document.doc.value.contains("\\\n") {
                    self.problem(
                        "a backslash-newline in an unquoted here-document can end it where the parser does not: not checked",
                    );
                }
                // bash 5.2 removes `$'…'`/`$"…"` from a delimiter (`<<$'EOF'` ends at `EOF`),
                // dash keeps the `$` (`$EOF`), and so does the parser: no shell is safe.
                let delimiter = &document.here_end.value;
                if delimiter.contains("$'") || delimiter.contains("$\"") {
                    self.problem(
                        "a here-document delimiter holding `$'…'` or `$\"…\"`: shells end the document at different lines, so it is not checked; write `<<'EOF'`",
                    );
                }
                if document.requires_expansion {
                    self.here_document(&document.doc.value, depth);
                } else {
                    self.evaluable(&document.doc.value);
                }
            }
            IoRedirect::HereString(_, word) => drop(self.word(&word.value, depth)),
            IoRedirect::OutputAndError(word, append) => {
                // dash and ksh93 read `echo &>f rm x` as `echo &` then `>f rm x`.
                if self.dialect != Dialect::Bash {
                    self.problem(not_bash(if *append { "`&>>`" } else { "`&>`" }));
                }
                let target = self.word(&word.value, depth);
                self.redirected(target, &IoFileRedirectKind::Write);
            }
        }
    }

    /// Records the target of a file redirection of `kind`, among the writes unless it only
    /// reads (`<`, `<&`).
    fn redirected(&mut self, target: Word, kind: &IoFileRedirectKind) {
        let reads = matches!(
            kind,
            IoFileRedirectKind::Read | IoFileRedirectKind::DuplicateInput
        );
        if !reads {
            self.findings.writes.push(target.clone());
        }
        self.findings.redirects.push(target);
    }
}

/// The words a POSIX sh's `time` (`timed`) stands for: the program `time`, with `-p` if given.
fn program_time(timed: &PipelineTimed) -> Vec<Word> {
    let options = timed.is_posix_output().then_some("-p");
    (std::iter::once("time").chain(options))
        .map(|word| Word::Literal(word.to_owned()))
        .collect()
}

/// bash's reserved words but `time` (whose command the `time` wrapper finds).
const KEYWORDS: &[&str] = &[
    "!", "[[", "]]", "{", "}", "case", "coproc", "do", "done", "elif", "else", "esac", "fi", "for",
    "function", "if", "in", "select", "then", "until", "while",
];

/// An item of a simple command, its program word included.
enum Item<'a> {
    /// The program.
    Word(&'a brush_parser::ast::Word),
    /// A word, an assignment or a redirection before or after it.
    Other(&'a CommandPrefixOrSuffixItem),
}
