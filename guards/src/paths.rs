//! Directories: whether a path lies inside one of the policy's `cwd` roots, compared
//! component by component after symlinks and `..` are resolved.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// Paths that redirections may name wherever the roots are: the null device, and the
/// step's standard streams (pipes to cairn, or `/dev/null`) unless the script may have
/// pointed them elsewhere ([`Findings::unseen_descriptors`](crate::command::Findings)).
const DEVICES: &[&str] = &["/dev/null", "/dev/stdin", "/dev/stdout", "/dev/stderr"];

/// Whether `target` names one of the step's standard streams (`/dev/stdout`, …).
pub(crate) fn standard_stream(target: &str) -> bool {
    DEVICES[1..].contains(&target)
}

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

/// Whether the file `target` (relative to the canonical `cwd`) lies inside `roots` (the
/// null device and the standard streams always do: [`DEVICES`]).
pub(crate) fn target_inside(target: &str, cwd: &Path, roots: &[PathBuf]) -> bool {
    DEVICES.contains(&target) || resolved(target, cwd).is_some_and(|path| inside(&path, roots))
}

/// Where the file `target` (relative to the canonical `cwd`) is: it need not exist, its
/// deepest existing ancestor is made canonical (symlinks resolved), and the rest may hold no
/// `..`. None for a path through `/proc` (see [`through_proc`]) or one that cannot be
/// resolved so.
pub(crate) fn resolved(target: &str, cwd: &Path) -> Option<PathBuf> {
    let path = cwd.join(target);
    if through_proc(&path) {
        return None;
    }
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    while existing.symlink_metadata().is_err() {
        let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else {
            return None;
        };
        rest.push(name.to_owned());
        existing = parent;
    }
    let mut resolved = existing.canonicalize().ok()?;
    for name in rest.iter().rev() {
        if Path::new(name)
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return None;
        }
        resolved.push(name);
    }
    Some(resolved)
}

/// Whether following the absolute `path` (its symlinks one by one, as the kernel does)
/// passes through `/proc`, whose links lead where they lead for the process that follows
/// them: `/proc/self/fd/9` (or `/dev/fd/9`) is the guard's file 9 when the guard resolves
/// it, and whatever the step opened as 9 when the step writes to it. Past 40 links, taken to.
fn through_proc(path: &Path) -> bool {
    // The components still to follow, last first, each as its text: `/`, `..`, `.` or a name.
    let mut pending: Vec<OsString> = (path.components().rev())
        .map(|component| component.as_os_str().to_owned())
        .collect();
    let mut current = PathBuf::from("/");
    let mut links = 0;
    while let Some(component) = pending.pop() {
        match component.to_str() {
            Some("/") => current = PathBuf::from("/"),
            Some("..") => {
                current.pop();
            }
            Some(".") => {}
            _ => {
                current.push(&component);
                if current.starts_with("/proc") {
                    return true;
                }
                let Ok(target) = std::fs::read_link(&current) else {
                    continue;
                };
                links += 1;
                if links > 40 {
                    return true;
                }
                current.pop();
                let target = target.components().rev();
                pending.extend(target.map(|component| component.as_os_str().to_owned()));
            }
        }
    }
    false
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

    #[test]
    fn redirect_targets_through_proc_are_outside_whatever_they_lead_to_here() {
        // This process's file 0, 1 or 2 may be anything; the step's, anything it opens.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::os::unix::fs::symlink("/dev/fd", root.join("fds")).unwrap();
        std::os::unix::fs::symlink("../../../../../../../proc", root.join("up")).unwrap();
        let roots = [PathBuf::from("/")];
        assert!(target_inside("/tmp/x", &root, &roots));
        for target in [
            "/proc/self/fd/0/x",
            "/dev/fd/0/x",
            "/proc/self/cwd/x",
            "fds/1",
            "up/self/root/x",
            "/dev/../proc/self/fd/2",
        ] {
            assert!(!target_inside(target, &root, &roots), "{target}");
        }
        assert!(target_inside("/dev/stderr", &root, &roots));
    }
}
