//! Whether this process may write an SQLite database it opens to write, asked before SQLite
//! opens anything: opened read-only, SQLite would leave a `-wal` and a `-shm` of this user's
//! beside the file, which then keep its owner from writing it (probes 30 F3, 44 F1).
//!
//! The files are asked about by name (`access`), never opened: this process may have the
//! database open already (a second engine on it), and closing any descriptor of a file drops
//! every POSIX lock the process holds on it, SQLite's included — another process would then
//! take itself for the last connection and delete the write-ahead log (probe 45 F2).

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::{AccessFlags, access};

use crate::error::{Error, Result};

/// Refuses a database this process may not write: the file itself ([`Error::ReadOnly`]), or
/// the `-wal` or `-shm` beside it when it is another user's ([`Error::OthersFile`]). A file
/// that is not SQLite's is left for the opening to name; one missing is made there.
pub(super) fn refuse_unwritable(db: &Path) -> Result<()> {
    // SQLite keeps its files beside a link's target, not beside the link (probe 32 F6).
    let db = std::fs::canonicalize(db).unwrap_or_else(|_| db.to_owned());
    for suffix in ["", "-wal", "-shm"] {
        let mut file = db.clone().into_os_string();
        file.push(suffix);
        let file = PathBuf::from(file);
        let denied = access(&file, AccessFlags::W_OK);
        if !file.is_file() || !matches!(denied, Err(Errno::EACCES | Errno::EPERM | Errno::EROFS)) {
            continue;
        }
        // Refused either way: only now is the database opened, to read its header.
        if !is_sqlite(&db) {
            return Ok(());
        }
        let owner = std::fs::metadata(&file).map_or(0, |file| file.uid());
        if suffix.is_empty() || owner == nix::unistd::getuid().as_raw() {
            return Err(Error::ReadOnly(file));
        }
        return Err(Error::OthersFile { path: file, owner });
    }
    Ok(())
}

/// Whether `path` is a regular file that begins as an SQLite database does (a FIFO or a
/// device is not read: opening one would wait for a writer, probe 32 F1).
fn is_sqlite(path: &Path) -> bool {
    let mut header = [0; 16];
    path.is_file()
        && std::fs::File::open(path)
            .and_then(|mut file| file.read_exact(&mut header))
            .is_ok_and(|()| header == *b"SQLite format 3\0")
}
