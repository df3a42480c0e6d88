//! uutils' multi-call coreutils: which utility it runs under the `argv[0]` it is given
//! (`src/bin/coreutils.rs`, from 0.0.x to 0.10), so that a command given another `argv[0]`
//! is judged as each program it could be.

use std::ffi::OsStr;
use std::path::Path;

use crate::command::Word;

/// The utilities uutils coreutils has had, separated by spaces (its `src/uu/` from 0.0.30 to
/// 0.10, and the other names its build maps: `[` for `test`, the checksums `hashsum` ran).
const UTILITIES: &str = "\
    [ arch b2sum b3sum base32 base64 basename basenc cat chcon chgrp chmod chown chroot cksum \
    comm cp csplit cut date dd df dir dircolors dirname du echo env expand expr factor false \
    fmt fold groups hashsum head hostid hostname id install join kill link ln logname ls \
    md5sum mkdir mkfifo mknod mktemp more mv nice nl nohup nproc numfmt od paste pathchk pinky \
    pr printenv printf ptx pwd readlink realpath rm rmdir runcon seq sha1sum sha224sum \
    sha256sum sha384sum sha3-224sum sha3-256sum sha3-384sum sha3-512sum sha3sum sha512sum \
    shake128sum shake256sum shred shuf sleep sort split stat stdbuf stty sum sync tac tail tee \
    test timeout touch tr true truncate tsort tty uname unexpand uniq unlink uptime users vdir \
    wc who whoami yes";

/// The commands uutils' multi-call binary may run when given the `argv[0]` `argv0` and
/// `args`. It reads the name's stem with [`Path::file_stem`]: the last component, trailing
/// slashes and a final `.` ignored (`/x/rm/` and `rm/.` are `rm`), up to its last `.` unless
/// that is its first character (`rm.exe` is `rm`). From 0.6 it runs the longest utility the
/// stem ends with (`my-rm`, `uu_rm`, `xrm` are `rm`); before, the stem itself or one it ends
/// with after a character that is no letter or digit. A stem ending with `utils` or `box`
/// (from 0.7), or one no utility matched (before 0.6), makes it run the utility its first
/// argument names, as `coreutils rm x` does. Each of these is judged, whichever the version,
/// and so is the utility the first argument names when the name has no stem (empty, uutils
/// reads its own file's name, which the checker does not know; `..`); a first argument
/// starting with `-` is no utility (it only prints).
pub(super) fn commands(argv0: &str, args: &[Word]) -> Vec<Vec<Word>> {
    let stem = Path::new(argv0).file_stem().and_then(OsStr::to_str);
    let mut commands: Vec<Vec<Word>> = (UTILITIES.split_whitespace())
        .filter(|utility| stem.is_some_and(|stem| stem.ends_with(utility)))
        .map(|utility| {
            let mut command = vec![Word::Literal(utility.to_owned())];
            command.extend_from_slice(args);
            command
        })
        .collect();
    let option = |word: &Word| word.literal().is_some_and(|text| text.starts_with('-'));
    if stem.is_none_or(runs_its_argument) && args.first().is_some_and(|first| !option(first)) {
        commands.push(args.to_vec());
    }
    commands
}

/// Whether under the name `stem` uutils runs the utility its first argument names: a stem
/// ending with `utils` or `box` (0.7 on), or one that neither is a utility nor ends with one
/// after a character that is no letter or digit (before 0.6).
fn runs_its_argument(stem: &str) -> bool {
    let prefixed = UTILITIES.split_whitespace().any(|utility| {
        stem.strip_suffix(utility)
            .is_some_and(|prefix| !prefix.ends_with(char::is_alphanumeric))
    });
    stem.ends_with("utils") || stem.ends_with("box") || !prefixed
}
