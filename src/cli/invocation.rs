//! The command lines cairn's hints print (`cairn resume RUN`, `cairn approve RUN STEP`):
//! with the `--db` of the database the command used, so that a hint pasted as printed acts
//! on that database, not on `./cairn.db`.

use std::path::Path;

/// The database `--db` names when it is not given (nor `CAIRN_DB`).
pub(crate) const DEFAULT_DB: &str = "cairn.db";

/// `cairn`, followed by `--db PATH` unless `db` is the database `cairn` alone opens here
/// (`$CAIRN_DB`, else [`DEFAULT_DB`]), the path quoted for a POSIX shell when it needs it (a
/// space, a quote), and given as `--db=PATH` when it starts with `-` (read as a flag else).
///
/// ```text
/// cairn(Path::new("cairn.db"))   == "cairn"             (CAIRN_DB unset)
/// cairn(Path::new("runs/x.db"))  == "cairn --db runs/x.db"
/// cairn(Path::new("my runs.db")) == "cairn --db 'my runs.db'"
/// cairn(Path::new("-x.db"))      == "cairn --db=-x.db"
/// ```
pub(crate) fn cairn(db: &Path) -> String {
    let env = std::env::var_os("CAIRN_DB").filter(|db| !db.is_empty());
    with_default(db, env.as_deref().map_or(Path::new(DEFAULT_DB), Path::new))
}

/// [`cairn`], `default` being the database `cairn` opens without `--db`.
fn with_default(db: &Path, default: &Path) -> String {
    if db == default {
        return "cairn".to_owned();
    }
    let path = cairn_engine::path_text(db);
    let quoted = if db
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .any(u8::is_ascii_control)
    {
        // Quotes would carry a newline into the hint's line as it is, and the text shown
        // writes it `\u{a}`, which a shell reads as those characters (probe 190 F3): bash's
        // `$'…'` writes it `\n` and reads it back as the newline.
        String::from_utf8_lossy(&shell_quote::Bash::quote_vec(db.as_os_str())).into_owned()
    } else {
        // A NUL cannot be in a path; quoted or not, the text is shown as it is.
        shlex::try_quote(&path).map_or(path.clone(), |quoted| quoted.into_owned())
    };
    let joined = if path.starts_with('-') { "=" } else { " " };
    format!("cairn --db{joined}{quoted}")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::with_default;

    #[test]
    fn the_default_database_is_left_out_and_another_is_named_quoted_when_it_must_be() {
        let cairn = |db: &str| with_default(Path::new(db), Path::new("cairn.db"));
        assert_eq!(cairn("cairn.db"), "cairn");
        assert_eq!(cairn("runs/x.db"), "cairn --db runs/x.db");
        assert_eq!(cairn("my runs.db"), "cairn --db 'my runs.db'");
        assert_eq!(cairn("it's.db"), "cairn --db \"it's.db\"");
        // Probe 30 F2: `--db -x.db` is read as a flag.
        assert_eq!(cairn("-x.db"), "cairn --db=-x.db");
        assert_eq!(cairn("-x y.db"), "cairn --db='-x y.db'");
        // Probe 190 F3: a newline, which quotes would carry as it is.
        assert_eq!(cairn("n\nq.db"), "cairn --db $'n\\nq.db'");
    }

    #[test]
    fn cairn_db_set_makes_its_database_the_default_and_cairn_db_one_to_name() {
        // Probe 30 F2: with `CAIRN_DB` set, a hint without `--db` opened `$CAIRN_DB`.
        let cairn = |db: &str| with_default(Path::new(db), Path::new("/runs/r.db"));
        assert_eq!(cairn("/runs/r.db"), "cairn");
        assert_eq!(cairn("cairn.db"), "cairn --db cairn.db");
    }
}
