//! What the scans of text evaluated as arithmetic find, and what they pass.

use super::{Target, arithmetic_targets, expansion_joined, hides_commands, target, word_pieces};

#[test]
fn finds_an_expansion_joined_to_what_follows() {
    for (raw, joined) in [
        (" ${v}(rm x)] ", "${v}("),
        ("$v(rm x)]", "$v("),
        ("${x-a[}$v(rm x)]", "${x-a[}$"),
        ("$_(rm x)]", "$_("),
        ("$v\"(rm x)]\"", "$v\""),
        ("a\"[\"$v'(rm x)]'", "$v'"),
        ("\"$v\"(rm x)]", "$v\"("),
        ("\"$v\"\"(rm x)]\"", "$v\"\""),
        ("${v}\\\n(rm x)]", "${v}\\"),
        ("${v}${w}", "${v}$"),
        ("$(printf a)(1)", "$(printf a)("),
        ("${v}}]", "${v}}"),
        ("1 + ${v}P}]", "${v}P"),
        ("${v}@${w}", "${v}@"),
        ("${v}0", "${v}0"),
    ] {
        assert_eq!(
            expansion_joined(raw, word_pieces(raw).as_deref()),
            Some(joined),
            "{raw}"
        );
    }
    for plain in [
        "${#a[@]} > 0",
        "a[$i] + ${b[$j]}",
        "$x+$y",
        "10#$v",
        "a[$i]; b[${j}]=1, c=($k)",
        "$(date +%s)-start",
        "x = ${n:-0} * (2)",
        "\"`date`\"",
        "\"$x\" + 1",
    ] {
        assert_eq!(
            expansion_joined(plain, word_pieces(plain).as_deref()),
            None,
            "{plain}"
        );
    }
}

#[test]
fn finds_what_arithmetic_assigns() {
    let names = |text| arithmetic_targets(text).names;
    assert_eq!(names("i = 1"), ["i"]);
    assert_eq!(names("i=0;i<3;i++"), ["i", "i"]);
    assert_eq!(names("a[i] += 2, --j"), ["a", "j"]);
    assert_eq!(names("x <<= 1, y >= 2, z <= 3, u != 4, v == 5"), ["x"]);
    assert_eq!(names("1 + ++k"), ["k"]);
    assert!(names("i + 1").is_empty());
    assert!(arithmetic_targets("$n = 1").unknown);
    assert!(arithmetic_targets("${n}++").unknown);
    assert!(arithmetic_targets("$n++").unknown);
    assert!(!arithmetic_targets("$n + 1").unknown);
}

#[test]
fn reads_targets() {
    let read = |name, subscript, value| {
        Some(Target {
            name,
            subscript,
            value,
        })
    };
    assert_eq!(target("PATH"), read("PATH", None, None));
    assert_eq!(target("x+=1"), read("x", None, Some("1")));
    assert_eq!(target("a[b[1]]=v=w"), read("a", Some("b[1]"), Some("v=w")));
    assert_eq!(target("a[1"), None);
    assert_eq!(target("1x"), None);
    assert_eq!(target("x y"), None);
}

#[test]
fn sees_what_a_subscript_could_run() {
    for hiding in ["'$(x)'", "\\$", "'`x`'", "${x:-\\$}", "$'\\x24'"] {
        assert!(
            hides_commands(hiding, word_pieces(hiding).as_deref()),
            "{hiding}"
        );
    }
    // A substitution's commands are checked with its word; what it prints is evaluated,
    // as a variable's value is.
    for plain in [
        "0", "$i", "${i}", "i+1", "$((i+1))", "\"$i\"", "$(x)", "\"`x`\"",
    ] {
        assert!(
            !hides_commands(plain, word_pieces(plain).as_deref()),
            "{plain}"
        );
    }
}
