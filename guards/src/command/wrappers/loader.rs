//! The dynamic loader run as a program (`ld-linux-x86-64.so.2 /bin/rm x`): it loads and runs
//! the program named after its options, as a wrapper runs its command.

/// The name the checker reads every dynamic loader by (its wrapper in the table).
pub(super) const LOADER: &str = "ld.so";

/// Whether `name`, a basename, names a dynamic loader: `ld`, maybe more, then `.so` at its
/// end or before a `.` — glibc's `ld-linux-x86-64.so.2`, `ld-linux.so.2`, `ld64.so.2`,
/// `ld-2.31.so` and `ld.so`, musl's `ld-musl-x86_64.so.1`, `ld.so.1` —; or musl's libc, which
/// is its loader (the `ld-musl-*` names link to it), by its own name: `libc.so` (Debian's
/// `/lib/x86_64-linux-musl/libc.so`), `libc.musl-x86_64.so.1` (Alpine's). glibc's
/// `libc.so.6` run as a program only prints its version.
pub(super) fn is_loader(name: &str) -> bool {
    let shared = |rest: &str| {
        rest.match_indices(".so")
            .any(|(at, so)| matches!(rest[at + so.len()..].chars().next(), None | Some('.')))
    };
    name == "libc.so"
        || name.strip_prefix("libc.musl").is_some_and(shared)
        || name.strip_prefix("ld").is_some_and(shared)
}

#[cfg(test)]
mod tests {
    use super::is_loader;

    #[test]
    fn loaders_are_known_by_their_file_names() {
        for name in [
            "ld-linux-x86-64.so.2",
            "ld-linux.so.2",
            "ld-linux-aarch64.so.1",
            "ld-musl-x86_64.so.1",
            "ld.so",
            "ld.so.1",
            "ld64.so.1",
            "ld64.so.2",
            "ld-2.31.so",
            "libc.so",
            "libc.musl-x86_64.so.1",
        ] {
            assert!(is_loader(name), "{name}");
        }
        for name in [
            "ld",
            "ldd",
            "ldconfig",
            "ld.gold",
            "ld.sock",
            "libc.so.6",
            "libc.a",
            "libc.musl",
            "libcrypt.so",
            "old.so",
        ] {
            assert!(!is_loader(name), "{name}");
        }
    }
}
