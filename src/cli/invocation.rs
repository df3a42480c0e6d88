//! The command lines cairn's hints print (`cairn resume RUN`, `cairn approve RUN STEP`):
//! with the `--db` of the database the command used, so that a hint pasted as printed acts
//! on that database, not on `./cairn.db`.

use std::path::Path;

/// The database `--db` names when it is not given (nor `CAIRN_DB`).
pub(crate) const DEFAULT_DB: &str = "cairn.db";

/// `cairn`, followed by `--db PATH` when `db` is not [`DEFAULT_DB`], the path quoted for a
/// POSIX shell when it needs it (a space, a quote).
///
/// ```text
/// cairn(Path::new("cairn.db"))   == "cairn"
/// cairn(Path::new("runs/x.db"))  == "cairn --db runs/x.db"
/// cairn(Path::new("my runs.db")) == "cairn --db 'my runs.db'"
/// ```
pub(crate) fn cairn(db: &Path) -> String {
    if db == Path::new(DEFAULT_DB) {
        return "cairn".to_owned();
    }
    let path = cairn_engine::path_text(db);
    // A NUL cannot be in a path; quoted or not, the text is shown as it is.
    let quoted = shlex::try_quote(&path).map_or(path.clone(), |quoted| quoted.into_owned());
    format!("cairn --db {quoted}")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::cairn;

    #[test]
    fn the_default_database_is_left_out_and_another_is_named_quoted_when_it_must_be() {
        assert_eq!(cairn(Path::new("cairn.db")), "cairn");
        assert_eq!(cairn(Path::new("runs/x.db")), "cairn --db runs/x.db");
        assert_eq!(cairn(Path::new("my runs.db")), "cairn --db 'my runs.db'");
        assert_eq!(cairn(Path::new("it's.db")), "cairn --db \"it's.db\"");
    }
}
