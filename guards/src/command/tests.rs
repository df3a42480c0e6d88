use super::*;

fn sh(script: &str) -> Findings {
    check_argv(&["bash".to_owned(), "-c".to_owned(), script.to_owned()])
}

fn programs(findings: &Findings) -> Vec<&str> {
    (findings.commands.iter())
        .map(|command| command[0].text())
        .collect()
}

#[test]
fn finds_the_commands_of_a_script() {
    let found = sh("echo hi && rm -rf x | tee y; (ls) & { cat; } ");
    assert_eq!(programs(&found), ["bash", "echo", "rm", "tee", "ls", "cat"]);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
}

#[test]
fn subshells_in_subshells_are_not_arithmetic() {
    for script in [
        "( ( rm x ) )",
        "( (rm) )",
        "echo $( (rm x) )",
        "x=$( (rm) )",
    ] {
        let found = sh(script);
        assert!(
            programs(&found).contains(&"rm") || !found.problems.is_empty(),
            "{script}: {found:?}"
        );
    }
    assert!(sh("(( i++ )); echo $((i + 1))").problems.is_empty());
}
