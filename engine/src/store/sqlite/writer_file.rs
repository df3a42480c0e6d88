//! Whether the database file the writer has open is still the one at its path.
//!
//! SQLite in WAL mode writes on to a file deleted, moved or replaced under it: its commits
//! succeed, yet no other process, and no later `cairn`, will find them. The writer looks at
//! the path when a commit moves a run (starts, pauses or ends it: what a driver reports) and
//! at every lease renewal (every 10 s while it drives): a stat each, not one per commit.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// The file the writer opened, by device and inode, and the path it was opened at (made
/// absolute: the process may change its directory).
#[derive(Debug)]
pub(super) struct OpenedFile {
    path: PathBuf,
    id: (u64, u64),
}

impl OpenedFile {
    /// The file at `path` now, which the writer has just opened; `None` if it cannot be
    /// told (no such file: nothing is looked at later).
    pub(super) fn at(path: &Path) -> Option<OpenedFile> {
        let path = std::path::absolute(path).ok()?;
        let id = identity(&path)?;
        Some(OpenedFile { path, id })
    }

    /// Whether the file at the path is no longer this one, or there is none: it was
    /// deleted, moved or replaced.
    pub(super) fn is_replaced(&self) -> bool {
        identity(&self.path) != Some(self.id)
    }

    /// The error of a write refused once [`is_replaced`](Self::is_replaced).
    pub(super) fn replaced(&self) -> Error {
        Error::Replaced(self.path.clone())
    }
}

/// The device and inode of the file at `path`, if there is one.
fn identity(path: &Path) -> Option<(u64, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.dev(), metadata.ino()))
}
