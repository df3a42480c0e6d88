//! Values bash evaluates again as it assigns them: its own integer variables (`RANDOM`,
//! `OPTIND`, …) evaluate what they are assigned as arithmetic, as `declare -i` makes a
//! variable do, expanding the array subscripts in it (`RANDOM="a[$i]"` runs the command
//! substitution `$i` holds); and `declare`, `local`, `typeset`, `readonly` and `export`,
//! given a value known only at run time for an array, read a value `(…)` as a compound
//! assignment, expanding every word in it (`declare -a a="$x"` with `x='($(rm y))'`). A
//! value known only at run time is refused for both; which variables are arrays is read
//! from the whole action, so an array made after the `declare` that reaches it counts.

use super::Checker;

/// bash's own variables that evaluate what they are assigned as arithmetic.
const INTEGER_VARIABLES: [&str; 4] = ["RANDOM", "SRANDOM", "OPTIND", "HISTCMD"];

/// bash's own arrays.
const BASH_ARRAYS: [&str; 15] = [
    "BASH_ALIASES",
    "BASH_ARGC",
    "BASH_ARGV",
    "BASH_CMDS",
    "BASH_LINENO",
    "BASH_REMATCH",
    "BASH_SOURCE",
    "BASH_VERSINFO",
    "COMP_WORDS",
    "COMPREPLY",
    "COPROC",
    "DIRSTACK",
    "FUNCNAME",
    "GROUPS",
    "PIPESTATUS",
];

/// The builtins that give variables attributes and values, whose value may be read as a
/// compound assignment.
pub(super) const DECLARING: [&str; 5] = ["declare", "typeset", "local", "readonly", "export"];

impl Checker {
    /// Refuses setting `name` to a value known only at run time (`RANDOM=$x`, `read OPTIND`,
    /// `for RANDOM in …`) when it is one of bash's integer variables.
    pub(super) fn integer_set_at_run_time(&mut self, name: &str) {
        if INTEGER_VARIABLES.contains(&name) {
            self.problem(format!(
                "`{name}` evaluates what it is assigned as arithmetic, where an array subscript could run a command: a value known only at run time is not checked"
            ));
        }
    }

    /// Records that `name` is an array.
    pub(super) fn array(&mut self, name: &str) {
        if !self.arrays.iter().any(|array| array == name) {
            self.arrays.push(name.to_owned());
        }
    }

    /// `name`, an operand of one of [`DECLARING`], is given a value known only at run time,
    /// whose known start is `start` (empty when it starts with an expansion); `array` when
    /// the builtin makes it one (`-a`, `-A`).
    pub(super) fn declared_at_run_time(&mut self, name: &str, start: &str, array: bool) {
        // Only a value starting with `(` is read as a compound assignment.
        if !(start.is_empty() || start.starts_with('(')) {
            return;
        }
        if array {
            self.problem(compound_at_run_time(name));
        } else if !self.declared.iter().any(|declared| declared == name) {
            self.declared.push(name.to_owned());
        }
    }

    /// Refuses each variable [`Checker::declared_at_run_time`] recorded that is an array
    /// somewhere in the action: called once the whole action has been read.
    pub(super) fn arrays_declared_at_run_time(&mut self) {
        let declared = std::mem::take(&mut self.declared);
        for name in declared {
            let array = BASH_ARRAYS.contains(&name.as_str()) || self.arrays.contains(&name);
            if array {
                self.problem(compound_at_run_time(&name));
            }
        }
    }
}

/// Why a value known only at run time for the array `name` is refused.
fn compound_at_run_time(name: &str) -> String {
    format!(
        "the array `{name}` is given a value known only at run time, which bash reads as a compound assignment `(…)` if it is one, running the command substitutions in it: not checked (assign its elements: `{name}[0]=…`, `{name}+=(\"$x\")`)"
    )
}
