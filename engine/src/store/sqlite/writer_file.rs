//! Whether the database file the writer has open, and its `-wal` and `-shm` files, are
//! still the ones at their paths, and how the writer's connection closes when they are not.
//!
//! SQLite in WAL mode writes on to a file deleted, moved or replaced under it: its commits
//! succeed, yet no other process, and no later `cairn`, will find them. The same goes for
//! its `-wal` and `-shm`, which it keeps open (probe 190 F1: `rm cairn.db-wal cairn.db-shm`
//! "to clear a lock" under a live engine let a second `cairn resume` take its run over while
//! it went on committing where nobody looked). The writer looks at the three paths before
//! every write — a commit, a lease renewal, a lease taken or given back, a command —: three
//! `statx` calls asking for their inodes alone ([`identity`]), ≈ 1 µs.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rusqlite::config::DbConfig;

use crate::error::Error;

/// The files the writer opened, by device and inode, and the paths they were opened at
/// (made absolute: the process may change its directory).
#[derive(Debug)]
pub(super) struct OpenedFile {
    /// The database file, then its `-wal` and its `-shm`.
    paths: [PathBuf; 3],
    /// Their identities as the writer opened them; a `-wal` or `-shm` not there then is
    /// not looked at later.
    ids: [Option<(u64, u64)>; 3],
}

impl OpenedFile {
    /// The files at `path` now, which the writer has just opened, SQLite naming the
    /// database file it opened `opened`: its symbolic links followed, as SQLite follows them
    /// to put the `-wal` and `-shm` beside the file they lead to (probe 193 F1: looked for
    /// beside the link, they were never found, so never looked at). `None` if the database
    /// file cannot be told (no such file: nothing is looked at later).
    pub(super) fn at(path: &Path, opened: Option<&str>) -> Option<OpenedFile> {
        let path = std::path::absolute(path).ok()?;
        let opened = opened.filter(|opened| !opened.is_empty()).map(Path::new);
        let beside = |suffix: &str| {
            let mut name = opened.unwrap_or(&path).as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        let paths = [path.clone(), beside("-wal"), beside("-shm")];
        let ids = [
            identity(&paths[0]),
            identity(&paths[1]),
            identity(&paths[2]),
        ];
        if ids[1..].contains(&None) {
            tracing::warn!(path = %path.display(), "the database's -wal or -shm is not where SQLite keeps them: their deletion would go unnoticed");
        }
        ids[0].is_some().then_some(OpenedFile { paths, ids })
    }

    /// Whether a file at the paths is no longer the one opened, or there is none: it was
    /// deleted, moved or replaced.
    pub(super) fn is_replaced(&self) -> bool {
        self.changed(0..3)
    }

    /// Whether the `-wal` or the `-shm` at the path is no longer the one opened: the WAL
    /// this connection writes is then no other process's, and its frames must never be
    /// checkpointed into the database file, which others may have written since.
    pub(super) fn is_wal_replaced(&self) -> bool {
        self.changed(1..3)
    }

    fn changed(&self, which: std::ops::Range<usize>) -> bool {
        which
            .filter(|&file| self.ids[file].is_some())
            .any(|file| identity(&self.paths[file]) != self.ids[file])
    }

    /// Readies `conn`, the writer's, to close when a file at the paths is no longer the one
    /// opened.
    ///
    /// If the `-wal` or `-shm` at the path is not the one opened (deleted: probe 190 F1),
    /// the WAL this connection wrote is no other process's, which may have committed to the
    /// database file since: its checkpoint on closing, which would write its pages over
    /// theirs and delete the WAL at the path (theirs), is turned off.
    ///
    /// Else the database file moved: the WAL is checkpointed into the file opened, and
    /// emptied. SQLite neither checkpoints nor deletes the WAL of a file that moved as its
    /// connection closes: left at the path, the WAL's frames would be read into whatever
    /// database is put there next. Checkpointed, the file moved away holds every commit on
    /// its own. Best effort: the run is stopped already.
    pub(super) fn ready_to_close(&self, conn: &rusqlite::Connection) {
        if !self.is_replaced() {
            return;
        }
        let readied = if self.is_wal_replaced() {
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
                .map(drop)
        } else {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        };
        if let Err(error) = readied {
            tracing::warn!(path = %self.paths[0].display(), %error, "the WAL of a database file that moved, or whose WAL was deleted, could not be left as it must");
        }
    }

    /// The error of a write refused once [`is_replaced`](Self::is_replaced).
    pub(super) fn replaced(&self) -> Error {
        Error::Replaced(self.paths[0].clone())
    }
}

/// The device and inode of the file at `path`, if there is one.
///
/// Asked of `statx` alone, without the file's times: on Linux 6.13 and later (multigrain
/// timestamps) a look at a file's change or modification time, which `stat` and
/// [`std::fs::metadata`] make, has the file's next write stamped with a fine-grained time,
/// so that every commit changed the WAL's inode and its `fsync` wrote the inode too: a
/// fifth of a commit's rate under `synchronous=FULL` (docs/performance.md). A kernel
/// without `statx` is asked with `stat`.
fn identity(path: &Path) -> Option<(u64, u64)> {
    use rustix::fs::{AtFlags, CWD, StatxFlags, makedev, statx};
    match statx(CWD, path, AtFlags::empty(), StatxFlags::INO) {
        Ok(file) => Some((
            makedev(file.stx_dev_major, file.stx_dev_minor),
            file.stx_ino,
        )),
        Err(rustix::io::Errno::NOSYS) => {
            let metadata = std::fs::metadata(path).ok()?;
            Some((metadata.dev(), metadata.ino()))
        }
        Err(_) => None,
    }
}
