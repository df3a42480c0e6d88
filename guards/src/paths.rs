//! Directories: whether a path lies inside one of the policy's `cwd` roots, compared
//! component by component after symlinks and `..` are resolved.

use std::path::{Component, Path, PathBuf};

/// Paths that redirections may name wherever the roots are.
const DEVICES: &[&str] = &["/dev/null", "/dev/stdin", "/dev/stdout", "/dev/stderr"];

/// `dir` made canonical (it must exist and be a directory whose path is UTF-8, since
/// policies, verdicts and the snapshots runs store name directories as text), or why not.
pub(crate) fn canonical_dir(dir: &Path) -> Result<PathBuf, String> {
    let canonical = dir
        .canonicalize()
        .map_err(|error| format!("the directory `{}`: {error}", cairn_engine::path_text(dir)))?;
    if !canonical.is_dir() {
        Err(format!(
            "`{}` is not a directory",
            cairn_engine::path_text(dir)
        ))
    } else if canonical.to_str().is_none() {
        Err(format!(
            "the directory `{}` has a path that is not UTF-8, which a policy cannot name",
            cairn_engine::path_text(&canonical)
        ))
    } else {
        Ok(canonical)
    }
}

/// Whether the canonical `path` lies inside one of the canonical `roots` (`/repo2` is not
/// inside `/repo`: `Path::starts_with` compares whole components).
pub(crate) fn inside(path: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|root| path.starts_with(root))
}

/// Whether the file `target` (relative to the canonical `cwd`) lies inside `roots`. The file
/// need not exist: its deepest existing ancestor is made canonical (symlinks resolved), and
/// the rest may hold no `..`.
pub(crate) fn target_inside(target: &str, cwd: &Path, roots: &[PathBuf]) -> bool {
    if DEVICES.contains(&target) {
        return true;
    }
    let path = cwd.join(target);
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    while existing.symlink_metadata().is_err() {
        let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else {
            return false;
        };
        rest.push(name.to_owned());
        existing = parent;
    }
    let Ok(mut resolved) = existing.canonicalize() else {
        return false;
    };
    for name in rest.iter().rev() {
        if Path::new(name)
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return false;
        }
        resolved.push(name);
    }
    inside(&resolved, roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_compare_whole_components() {
        let roots = [PathBuf::from("/repo")];
        assert!(inside(Path::new("/repo"), &roots));
        assert!(inside(Path::new("/repo/a"), &roots));
        assert!(!inside(Path::new("/repo2"), &roots));
        assert!(!inside(Path::new("/"), &roots));
    }

    #[test]
    fn redirect_targets_resolve_dot_dot_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap().join("root");
        std::fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("out")).unwrap();
        let roots = [root.clone()];
        assert!(target_inside("new/file", &root, &roots));
        assert!(target_inside("file.txt", &root, &roots));
        assert!(target_inside("/dev/null", &root, &roots));
        assert!(!target_inside("../file", &root, &roots));
        assert!(!target_inside("out/passwd", &root, &roots));
        assert!(!target_inside("/etc/passwd", &root, &roots));
        assert!(!target_inside("missing/../../x", &root, &roots));
    }
}
