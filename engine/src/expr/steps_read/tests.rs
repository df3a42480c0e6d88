//! Which steps an expression reads.

use super::*;

/// The steps a template reads, as strings.
fn read_by_template(text: &str) -> Vec<String> {
    let ids = steps_read_by_template(text).ids.into_iter();
    ids.map(Cow::into_owned).collect()
}

/// The steps an expression reads, as strings.
fn read_by(expr: &str) -> Vec<String> {
    let ids = steps_read_by_expression(expr).ids.into_iter();
    ids.map(Cow::into_owned).collect()
}

#[test]
fn finds_referenced_steps() {
    let text = "steps.x ${{ steps.plan.output }} and ${{ steps[\"my-step\"].output }} steps.y";
    assert_eq!(read_by_template(text), ["plan", "my-step"]);
    assert_eq!(
        read_by("size(steps['a'].output) > 0 || steps.b_2.output || steps . a"),
        ["a", "b_2"]
    );
    assert_eq!(read_by_template("${{ steps.plan.output }}"), ["plan"]);
    assert_eq!(read_by_template("${{ {'k': steps.b.output} }}"), ["b"]);
    assert!(read_by("steps").is_empty());
    assert!(read_by("mysteps.x.output || steps_2.y").is_empty());
}

#[test]
fn optional_reads_name_their_step() {
    assert_eq!(read_by("steps.?a.output.orValue('none')"), ["a"]);
    assert_eq!(read_by("steps[?'a-b'].output.orValue(1)"), ["a-b"]);
    assert_eq!(read_by("has(steps.c) ? steps.c.output : 0"), ["c"]);
}

#[test]
fn only_the_variable_steps_is_a_step_read() {
    // A field of another value, a string, a macro's own variable.
    assert!(read_by("item.steps.build").is_empty());
    assert!(read_by("input.cfg.steps.build == true").is_empty());
    assert!(read_by("'see steps.b' + \"steps.c\"").is_empty());
    assert_eq!(
        read_by("[1].map(steps, steps + 1) == steps.d.output"),
        ["d"]
    );
    assert_eq!(
        read_by("steps.e.output.map(x, x / steps.f.output)"),
        ["e", "f"]
    );
}

#[test]
fn the_scan_finds_what_the_parser_finds_where_it_answers() {
    let corpus = [
        "steps.a.output",
        "steps.a.output + steps.b.output * steps.a.output",
        "size(steps.a.output) > 0 && input.x",
        "steps . a . output",
        "[steps.a.output, {1: steps.b_2.output}]",
        "steps.a.output.map(x, x + steps.b.output)",
        "steps.a.output.exists(steps, steps > 1)",
        "x.steps.a",
        "steps.size()",
        "steps",
        "mysteps.a || steps2.b",
        "steps.a.output ? 1 : 2",
        "steps['a'].output",
        "steps [ \"my-step\" ] . output == steps['b'].output",
        "steps['a'].output + ' steps.c'",
        "steps[\"a'b\"].output",
        "steps['a\\'b'].output",
    ];
    for expr in corpus {
        let parsed = inspect(expr, |expression| {
            let reads = step_reads(expression);
            (
                reads
                    .ids
                    .iter()
                    .map(|id| id.to_string())
                    .collect::<Vec<_>>(),
                reads.unnamed,
            )
        });
        let (parsed, unnamed) = parsed
            .unwrap_or_else(|error| panic!("{expr}: {error}"))
            .unwrap();
        if let Some(scanned) = scanned_step_reads(expr) {
            assert_eq!(scanned.as_slice(), parsed.as_slice(), "{expr}");
            assert!(
                !unnamed,
                "{expr}: the scan answers only for steps read by name"
            );
        }
    }
    // The common form is read without a parse.
    let common = "steps.a.output + steps['b-c'].output";
    assert_eq!(scanned_step_reads(common).unwrap().as_slice(), ["a", "b-c"]);
}

#[test]
fn a_step_read_without_its_id_is_named() {
    for expr in [
        "steps",
        "steps[input.k].output",
        "steps.all(s, s != '')",
        "size(steps)",
    ] {
        assert_eq!(steps_read_by_expression(expr).unnamed, Some(expr));
    }
    let template = "${{ steps.a.output }} ${{ steps[input.k] }}";
    let read = steps_read_by_template(template);
    assert_eq!(
        (read.ids.as_slice(), read.unnamed),
        (&["a".into()][..], Some("steps[input.k]"))
    );
    for expr in [
        "steps.?a.orValue(1) == 1",
        "steps['a'].output",
        "[1].map(steps, steps)",
    ] {
        assert_eq!(steps_read_by_expression(expr).unnamed, None, "{expr}");
    }
}
