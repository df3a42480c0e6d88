//! What every schema schemars generates goes through before cairn checks with it or
//! publishes it (workflow and policy files, executors' parameters): the `null` alternative
//! of optional keys dropped, and the numeric `format`s no validator knows.

use serde_json::Value;

/// Tidies `schema` (see the module): [`drop_null`], then [`drop_numeric_formats`].
pub(crate) fn tidy(schema: &mut Value) {
    drop_null(schema);
    drop_numeric_formats(schema);
}

/// Removes the `null` alternative schemars adds for `Option` fields (in a workflow file, an
/// optional key is left out), and with it a `default` of `null`, no value the schema takes
/// any more (an editor would complete it).
fn drop_null(schema: &mut Value) {
    let Value::Object(members) = schema else {
        return;
    };
    let mut dropped = false;
    if let Some(Value::Array(types)) = members.get_mut("type") {
        let before = types.len();
        types.retain(|kind| kind != "null");
        dropped |= types.len() < before;
        if let [only] = types.as_slice() {
            let only = only.clone();
            members.insert("type".into(), only);
        }
    }
    let is_null = |alternative: &Value| alternative.get("type").is_some_and(|kind| kind == "null");
    if let Some(Value::Array(alternatives)) = members.get_mut("anyOf")
        && alternatives.len() == 2
        && alternatives.iter().any(is_null)
    {
        dropped = true;
        alternatives.retain(|alternative| !is_null(alternative));
        if let Some(Value::Object(kept)) = alternatives.pop() {
            members.remove("anyOf");
            members.extend(kept);
        }
    }
    if dropped && members.get("default") == Some(&Value::Null) {
        members.remove("default");
    }
    for member in members.values_mut() {
        match member {
            Value::Array(items) => items.iter_mut().for_each(drop_null),
            item => drop_null(item),
        }
    }
}

/// Removes the `format` of every number schema: schemars names the Rust type (`uint32`,
/// `uint64`, `double`), a format JSON Schema does not define. Most validators ignore it,
/// a strict one (Ajv) refuses to compile the schema. The bounds of an integer type that
/// the schema does not state already become its `minimum` and `maximum`.
fn drop_numeric_formats(schema: &mut Value) {
    match schema {
        Value::Object(members) => {
            let numeric = |kind: &Value| matches!(kind.as_str(), Some("integer" | "number"));
            let is_number = match members.get("type") {
                Some(Value::Array(kinds)) => kinds.iter().any(numeric),
                Some(kind) => numeric(kind),
                None => false,
            };
            if let Some(Value::String(format)) = members.remove("format").filter(|_| is_number) {
                let (least, most) = integer_bounds(&format);
                for (keyword, bound) in [("minimum", least), ("maximum", most)] {
                    if let Some(bound) = bound {
                        members.entry(keyword).or_insert(bound);
                    }
                }
            }
            members.values_mut().for_each(drop_numeric_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_numeric_formats),
        _ => {}
    }
}

/// The least and the most value of the integer type schemars names by `format`, but those
/// of 64 bits, where cairn's JSON reader stops anyway (none for a float's or an unknown
/// type).
fn integer_bounds(format: &str) -> (Option<Value>, Option<Value>) {
    let signed = |least: i32, most: i32| (Some(least.into()), Some(most.into()));
    let unsigned = |most: u32| (Some(0.into()), Some(most.into()));
    match format {
        "int8" => signed(i8::MIN.into(), i8::MAX.into()),
        "int16" => signed(i16::MIN.into(), i16::MAX.into()),
        "int32" => signed(i32::MIN, i32::MAX),
        "uint8" => unsigned(u8::MAX.into()),
        "uint16" => unsigned(u16::MAX.into()),
        "uint32" => unsigned(u32::MAX),
        "uint64" | "uint" => (Some(0.into()), None),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::load::document_schema;

    #[expect(dead_code, reason = "only its schema is used")]
    #[derive(schemars::JsonSchema)]
    struct Counts {
        small: u32,
        big: u64,
        signed: Option<i16>,
        #[serde(default)]
        share: Option<f64>,
        name: Option<String>,
    }

    #[test]
    fn numbers_lose_their_rust_format_and_options_their_null() {
        let schema = document_schema::<Counts>();
        let properties = &schema["properties"];
        assert_eq!(
            properties["small"],
            json!({"type": "integer", "minimum": 0, "maximum": u32::MAX})
        );
        assert_eq!(properties["big"], json!({"type": "integer", "minimum": 0}));
        assert_eq!(properties["share"], json!({"type": "number"}));
        assert_eq!(
            properties["signed"],
            json!({"type": "integer", "minimum": i16::MIN, "maximum": i16::MAX})
        );
        assert_eq!(properties["name"], json!({"type": "string"}));
    }
}
