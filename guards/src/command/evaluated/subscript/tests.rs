//! Which literal texts spell a subscript that runs a command, and which do not.

use super::{spells_a_running_subscript, subscript_runs};

#[test]
fn sees_a_subscript_its_escapes_spell() {
    for text in [
        "a[\\044(rm x)]",
        "a[\\x24(rm x)]",
        "a[\\0044(rm x)]",
        "a\\x5b\\u0024(rm x)]",
        "a[\\x{24}(rm x)]",
        "a[\\140rm x\\140]",
        "a[\\u00e9 \\044(rm x)]",
    ] {
        assert!(spells_a_running_subscript(text), "{text}");
    }
    for text in ["\\033[1;31merror\\033[0m", "a[\\x2a]", "a[\\n]", "a[\\044]"] {
        assert!(!spells_a_running_subscript(text), "{text}");
    }
}

#[test]
fn sees_commands_in_subscripts() {
    for text in [
        "a[$(touch x)]",
        "1 + a[`touch x`]",
        "a[b[0] + $(touch x)]",
        "a[']' $(touch x)]",
        "a[\\] $(touch x)]",
        "a[${x:-]} $(touch x)]",
        "a[\"]\" $(touch x)]",
        "a[$((echo hi) )]",
        "x a[<(true)]",
        "é[$(touch x)]",
        "a[${X@P}]",
        "a[${X@\\\nP}]",
    ] {
        assert!(subscript_runs(text), "{text}");
    }
    for text in [
        "[ \"$(id -u)\" -eq 0 ]",
        "echo \"[$(date)] started\"",
        "see [`x`](y) and `a[0]`, `b`",
        "a[0] $(pwd)",
        "a[$((i + 1))] a[$i]",
        "$(touch x)",
        "a[",
        "é[",
    ] {
        assert!(!subscript_runs(text), "{text}");
    }
}
