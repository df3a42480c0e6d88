//! The directories a command runs in other than the step's own: a wrapper's (`env -C DIR`,
//! `chroot DIR`), bash's directory stack (`pushd`, `popd`) and dash's `chdir`, each listed
//! as the `cd` it is, for a policy to judge as one.

use super::getopt::Read;
use super::table::{Operands, Wrapper};
use super::{Runs, Word};

/// A `cd DIR` for each directory `wrapper` runs its command in, or under as its root (`env -C
/// DIR`, `chroot DIR`), as `read` gives them, for a policy to judge as the `cd` it is; one it
/// picks at run time (`nsenter -w`, `pkexec`'s home) is a word known only then.
pub(super) fn directories(wrapper: &Wrapper, read: &Read) -> Vec<Vec<Word>> {
    let cd_to = |dir: Option<&Word>| cd(dir.cloned().unwrap_or_else(picked_at_run_time));
    let mut cds: Vec<Vec<Word>> = (read.options.iter())
        .filter(|(option, _)| wrapper.chdir.contains(&option.as_str()))
        .map(|(_, dir)| cd_to(dir.as_ref()))
        .collect();
    if let Operands::Root = wrapper.operands {
        cds.extend(read.operands.first().map(|root| cd_to(Some(root))));
    }
    if cds.is_empty() && wrapper.stays.is_some_and(|stays| !read.has(stays)) {
        cds.push(cd_to(None));
    }
    cds
}

/// The command `cd DIR`: what a wrapper that runs its command in `dir` is judged as too.
pub(super) fn cd(dir: Word) -> Vec<Word> {
    vec![Word::Literal("cd".to_owned()), dir]
}

/// What bash's `pushd` and `popd` do to the shell's directory, listed as the `cd` it is
/// (probe 13 of stop 56: `pushd /elsewhere; echo x > f` wrote outside the roots under a
/// policy denying `cd`): `pushd DIR` a `cd DIR`, and every other form — `popd`, `pushd` with
/// no directory or a place in the stack (`+1`, `-0`) — a `cd` to a directory known only at
/// run time. `-n` (push or pop without changing directory) is judged the same: a later
/// `popd` goes where it put.
pub(super) fn directory_stack(args: &[Word]) -> Runs {
    let operands = args
        .iter()
        .skip_while(|word| (word.literal()).is_some_and(|text| text == "-n" || text == "--"));
    let dir = operands
        .take(1)
        .find(|word| !(word.literal()).is_some_and(|text| text.starts_with(['+', '-'])));
    let dir = dir.cloned().unwrap_or_else(picked_at_run_time);
    Runs {
        commands: vec![cd(dir)],
        ..Runs::default()
    }
}

/// dash's `chdir`, its other name for `cd`, listed as the `cd` it is, with its words (probe
/// 117 F2: `chdir /elsewhere; echo x > f` wrote outside the roots under a policy denying
/// `cd`). bash has no such builtin; a program of that name is judged so too.
pub(super) fn chdir(args: &[Word]) -> Runs {
    let cd = std::iter::once(Word::Literal("cd".to_owned())).chain(args.iter().cloned());
    Runs {
        commands: vec![cd.collect()],
        ..Runs::default()
    }
}

/// A directory known only at run time (`nsenter -w`'s, `popd`'s).
pub(super) fn picked_at_run_time() -> Word {
    Word::Dynamic("{directory}".to_owned())
}
