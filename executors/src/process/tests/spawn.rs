//! Finding and starting the program: `PATH`, the directory it starts in (`with.cwd`, the
//! run's), and what a failed spawn says.

use std::path::Path;

use cairn_engine::{ErrorClass, ExecContext};
use serde_json::json;

use super::super::{ProcessExecutor, find_program};
use super::{error, run, run_with};

#[tokio::test]
async fn missing_command_fails_unretryably_naming_it() {
    let outcome = run(json!({"command": ["cairn-no-such-command", "arg"]})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::SpawnFailed);
    assert!(!class.is_retryable());
    assert!(message.contains("cairn-no-such-command"), "{message}");
}

#[tokio::test]
async fn a_script_whose_interpreter_is_missing_is_not_called_missing_itself() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("tool");
    std::fs::write(&script, "#!/cairn/no/such/node --flag\nconsole.log(1)\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let outcome = run(json!({"command": [script]})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::SpawnFailed);
    assert!(
        message.ends_with(
            "cannot start: its interpreter `/cairn/no/such/node` (its `#!` line) is not found"
        ),
        "{message}"
    );
}

#[test]
fn programs_are_found_in_the_path_the_step_sees() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("tool");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    let path = std::env::join_paths([Path::new("/nonexistent"), dir.path()]).unwrap();
    // Not executable yet: not a match.
    assert_eq!(find_program("tool", Some(&path), None), Path::new("tool"));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(find_program("tool", Some(&path), None), script);
    assert_eq!(
        find_program("./tool", Some(&path), None),
        Path::new("./tool")
    );
    assert_eq!(find_program("tool", None, None), Path::new("tool"));
    // A relative directory of `PATH` is looked in from the step's `cwd`, as the step will.
    let relative = std::ffi::OsString::from(".");
    assert_eq!(
        find_program("tool", Some(&relative), Some(dir.path())),
        Path::new("./tool")
    );
    assert_eq!(
        find_program("tool", Some(&relative), None),
        Path::new("tool")
    );
}

#[tokio::test]
async fn a_relative_program_is_looked_for_from_the_steps_cwd() {
    // A script that is there from cairn's directory (the package's, under `cargo test`)...
    let script = "../examples/agents/claude";
    assert!(
        Path::new(script).is_file(),
        "{script} from the package's directory"
    );
    // ... but not from the step's `cwd`: not found, rather than blaming its `#!` line.
    let cwd = tempfile::tempdir().unwrap();
    let outcome = run(json!({"command": [script], "cwd": cwd.path()})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::SpawnFailed);
    assert_eq!(
        message,
        format!(
            "command `{script}` not found in `with.cwd` {}: a relative program is found from \
             the directory the step starts in",
            cwd.path().display()
        )
    );
    // The same through a relative `PATH` entry.
    let env = json!({"PATH": "../examples/agents:/usr/bin:/bin"});
    let outcome = run(json!({"command": ["claude"], "cwd": cwd.path(), "env": env})).await;
    assert_eq!(
        error(&outcome),
        (ErrorClass::SpawnFailed, "command `claude` not found")
    );
    // And one that is there from the step's `cwd` runs, by either way.
    let bin = cwd.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(bin.join("tool"), "#!/bin/sh\necho ran\n").unwrap();
    std::fs::set_permissions(
        bin.join("tool"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let outcome = run(json!({"command": ["./bin/tool"], "cwd": cwd.path()})).await;
    assert_eq!(outcome.result, Ok(json!("ran")));
    let env = json!({"PATH": "bin:/usr/bin:/bin"});
    let outcome = run(json!({"command": ["tool"], "cwd": cwd.path(), "env": env})).await;
    assert_eq!(outcome.result, Ok(json!("ran")));
}

#[tokio::test]
async fn bad_params_and_missing_cwd_are_bad_params() {
    let outcome = run(json!({"command": "ls -l"})).await;
    assert_eq!(error(&outcome).0, ErrorClass::BadParams);
    let outcome = run(json!({"command": ["pwd"], "cwd": "/no/such/dir/for/cairn"})).await;
    let (class, message) = error(&outcome);
    assert_eq!(class, ErrorClass::BadParams);
    assert!(message.contains("/no/such/dir/for/cairn"), "{message}");
}

#[tokio::test]
async fn runs_in_cwd() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(json!({"command": ["pwd", "-P"], "cwd": dir.path()})).await;
    let expected = dir.path().canonicalize().unwrap();
    assert_eq!(outcome.result, Ok(json!(expected.to_str().unwrap())));
}

#[tokio::test]
async fn runs_in_the_runs_directory_whichever_process_drives_it() {
    let run = tempfile::tempdir().unwrap();
    std::fs::create_dir(run.path().join("sub")).unwrap();
    let ctx = || ExecContext {
        cwd: Some(run.path().to_owned()),
        ..ExecContext::new()
    };
    let executor = ProcessExecutor::new();
    let pwd = |params| run_with(&executor, params, ctx());
    let started_in = run.path().canonicalize().unwrap();
    // Without `with.cwd`: the run's directory, not the test process's.
    let outcome = pwd(json!({"command": ["pwd", "-P"]})).await;
    assert_eq!(outcome.result, Ok(json!(started_in.to_str().unwrap())));
    // A relative `with.cwd` is taken from it.
    let outcome = pwd(json!({"command": ["pwd", "-P"], "cwd": "sub"})).await;
    let sub = started_in.join("sub");
    assert_eq!(outcome.result, Ok(json!(sub.to_str().unwrap())));
    // Gone, it is named as the run's.
    let gone = run.path().join("gone");
    let ctx = ExecContext {
        cwd: Some(gone.clone()),
        ..ExecContext::new()
    };
    let outcome = run_with(&executor, json!({"command": ["pwd"]}), ctx).await;
    let message = format!("the run's directory {} does not exist", gone.display());
    assert_eq!(error(&outcome), (ErrorClass::BadParams, message.as_str()));
}
