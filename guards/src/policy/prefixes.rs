//! Command prefixes that could match no command are load errors: blanks that a reviewer
//! reads as separating words (`["git push"]`), and a deny or an approval naming its program
//! by a path (`["/bin/rm"]`), which `rm` passes; the schema refuses an empty prefix or token.

use cairn_engine::Problem;
use serde_json::Value;

use super::Policy;

impl Policy {
    /// Command prefixes have no token with blanks around it and no first token holding a
    /// blank but no `/` (`["git push"]`): each would match nothing a command can be, so a
    /// deny written so would deny nothing.
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
                } else if list != "allow"
                    && let Some(message) = path_in_prefix(prefix)
                {
                    problems.push(Problem::at(&at, message));
                }
            }
        }
    }
}

/// Why a deny or approval prefix naming its program by a path (`["/bin/rm"]`) is refused: it
/// matches only a command naming the program so, not `rm` nor `/usr/bin/rm`, and a deny
/// written so would let them through. (An allowed path is stricter than its name, and
/// stays.)
fn path_in_prefix(prefix: &[String]) -> Option<String> {
    let first = prefix.first().filter(|first| first.contains('/'))?;
    let name = crate::command::basename(first);
    let quoted = |token: &str| Value::from(token).to_string();
    Some(format!(
        "{} matches only a command that names its program by that path, not `{name}` nor another path to it: a command matches a deny or an approval by its program's name too, so write {}",
        quoted(first),
        quoted(name),
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
    let rest = prefix.iter().skip(1).map(|token| token.trim());
    let tokens: Vec<&str> = if split {
        first.split_whitespace().chain(rest).collect()
    } else {
        std::iter::once(first.trim()).chain(rest).collect()
    };
    let list = |tokens: &mut dyn Iterator<Item = &str>| {
        let quoted: Vec<String> = tokens.map(|token| Value::from(token).to_string()).collect();
        format!("[{}]", quoted.join(", "))
    };
    Some(format!(
        "a command prefix's token matches one whole word of a command, so {} matches nothing: write {}",
        list(&mut prefix.iter().map(String::as_str)),
        list(&mut tokens.into_iter()),
    ))
}
