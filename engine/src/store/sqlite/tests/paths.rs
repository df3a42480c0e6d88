//! What `open` makes of a path that cannot be a database: a directory, a dangling link, a
//! device, a name SQLite reads as no file, junk, a missing file or folder; each is named, and
//! nothing is made or changed.

use super::*;

#[tokio::test]
async fn a_directory_where_the_wal_goes_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cairn.db");
    let wal = dir.path().join("cairn.db-wal");
    std::fs::create_dir(&wal).unwrap();
    let error = SqliteStore::open(&StoreOptions::new(&path))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::IsADirectory(p) if *p == wal),
        "{error:?}"
    );
    assert!(!path.exists(), "the database was made");
}

#[tokio::test]
async fn a_link_to_nothing_is_named_and_nothing_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("cairn.db");
    std::os::unix::fs::symlink(dir.path().join("gone/x.db"), &link).unwrap();
    let error = SqliteStore::open(&StoreOptions::new(&link))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::DanglingLink(p) if *p == link),
        "{error:?}"
    );
    assert!(!dir.path().join("gone").exists());
}

#[tokio::test]
async fn a_device_or_a_kernels_file_is_not_a_database() {
    // `/proc/self/status` says its size is 0 but reads as text: not an empty database,
    // whether the store may create one or not (probe 7 F7: three commands, three stories).
    // `/proc/self/mem` fails to read (probe 30 F6): no empty database either.
    for (path, create) in [("/dev/null", true), ("/proc/self/status", true)]
        .into_iter()
        .chain([("/proc/self/status", false), ("/proc/self/mem", false)])
    {
        let options = StoreOptions {
            create,
            ..StoreOptions::new(path)
        };
        let error = SqliteStore::open(&options).await.unwrap_err();
        assert!(
            matches!(&error, Error::NotADatabase(p) if p == Path::new(path)),
            "{path} {create}: {error:?}"
        );
    }
}

#[tokio::test]
async fn names_sqlite_reads_as_no_file_are_refused_and_nothing_is_made() {
    let here = std::env::current_dir().unwrap();
    for name in ["", ":memory:", "file:x.db", "file:x.db?mode=memory"] {
        let error = SqliteStore::open(&StoreOptions::new(name))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::NotAFileName(p) if p.as_os_str() == name),
            "{name:?}: {error:?}"
        );
        assert!(
            name.is_empty() || !here.join(name).exists(),
            "{name:?} made a file"
        );
    }
}

#[tokio::test]
async fn bad_files_are_named_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    let error = SqliteStore::open(&StoreOptions::new(&junk))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::NotADatabase(_)), "{error:?}");
    assert!(
        std::fs::read(&junk).unwrap() == vec![b'x'; 4096],
        "the file changed"
    );

    let missing = StoreOptions {
        create: false,
        ..StoreOptions::new(dir.path().join("none.db"))
    };
    let error = SqliteStore::open(&missing).await.unwrap_err();
    assert!(matches!(error, Error::MissingDatabase(_)), "{error:?}");
    assert!(!dir.path().join("none.db").exists());

    let error = SqliteStore::open(&StoreOptions::new(dir.path()))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::IsADirectory(_)), "{error:?}");

    let nowhere = dir.path().join("no/such/folder/cairn.db");
    let error = SqliteStore::open(&StoreOptions::new(&nowhere))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::MissingDirectory(_)), "{error:?}");
    // Not to be created (`cairn runs`), a file in a missing folder or with a name too long
    // is still refused as such, not taken for a database with nothing in it yet.
    let unmade = |path: &Path| StoreOptions {
        create: false,
        ..StoreOptions::new(path)
    };
    let error = SqliteStore::open(&unmade(&nowhere)).await.unwrap_err();
    assert!(
        matches!(&error, Error::MissingDirectory(p) if *p == nowhere),
        "{error:?}"
    );
    let long = dir.path().join(format!("{}.db", "l".repeat(300)));
    let error = SqliteStore::open(&unmade(&long)).await.unwrap_err();
    assert!(
        matches!(&error, Error::NameTooLong(p) if *p == long),
        "{error:?}"
    );
}
