//! Property tests: no input makes the loader panic, and what its fast path reads the schema
//! accepts.

use proptest::prelude::*;
use serde_json::Value;

use super::{EXECUTORS, examples};
use crate::load::load_str;

/// JSON values for mutations: scalars, and small arrays and objects with keys cairn knows.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("id".to_owned()),
        Just("needs".to_owned()),
        Just("executor".to_owned()),
        Just("pipeline".to_owned()),
        Just("parallel".to_owned()),
        Just("with".to_owned()),
        Just("when".to_owned()),
        Just("for_each".to_owned()),
        Just("timeout".to_owned()),
        Just("retry".to_owned()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("noop".to_owned()),
            Just("a".to_owned()),
            Just("${{ steps.a.output }}".to_owned()),
            Just("${{".to_owned()),
            Just("5m".to_owned()),
            ".{0,12}"
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// Every value in `value`, as pointers.
fn pointers(value: &Value, pointer: String, out: &mut Vec<String>) {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, item)| pointers(item, format!("{pointer}/{i}"), out)),
        Value::Object(members) => members.iter().for_each(|(k, item)| {
            pointers(
                item,
                format!("{pointer}/{}", crate::problem::escape(k)),
                out,
            )
        }),
        _ => {}
    }
    out.push(pointer);
}

/// Replaces, removes or adds a value somewhere in `value`.
fn mutate(value: &mut Value, choice: usize, action: u8, new: Value) {
    let mut all = Vec::new();
    pointers(value, String::new(), &mut all);
    let target = &all[choice % all.len()];
    let Some(slot) = value.pointer_mut(target) else {
        return;
    };
    match (action % 3, slot) {
        (0, slot) => *slot = new,
        (1, Value::Object(members)) => {
            let key = members.keys().nth(choice % members.len().max(1)).cloned();
            key.map(|key| members.remove(&key));
        }
        (1, Value::Array(items)) if !items.is_empty() => {
            items.remove(choice % items.len());
        }
        (_, Value::Array(items)) => items.push(new),
        (_, Value::Object(members)) => {
            members.insert(["needs", "id", "pipeline", "x"][choice % 4].to_owned(), new);
        }
        (_, slot) => *slot = new,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = load_str(&String::from_utf8_lossy(&bytes), "fuzz", &EXECUTORS);
    }

    #[test]
    fn mutated_workflows_never_panic(
        example in 0usize..3,
        mutations in prop::collection::vec((any::<usize>(), any::<u8>(), arbitrary_json()), 1..6),
    ) {
        let value = mutated_example(example, mutations);
        let result = load_str(&value.to_string(), "fuzz", &EXECUTORS);
        if let Err(error) = result {
            prop_assert!(!error.problems.is_empty());
        }
    }

    #[test]
    fn what_the_fast_path_reads_the_schema_accepts(
        example in 0usize..3,
        mutations in prop::collection::vec((any::<usize>(), any::<u8>(), arbitrary_json()), 1..6),
    ) {
        let value = mutated_example(example, mutations);
        if super::fast::workflow(&value.to_string()).is_some() {
            let validator = super::VALIDATOR.as_ref().unwrap();
            prop_assert!(validator.is_valid(&value), "{value}");
        }
    }
}

/// Example `example` with `mutations` applied.
fn mutated_example(example: usize, mutations: Vec<(usize, u8, Value)>) -> Value {
    let path = &examples()[example];
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for (choice, action, new) in mutations {
        mutate(&mut value, choice, action, new);
    }
    value
}
