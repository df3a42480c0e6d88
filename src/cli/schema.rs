//! `cairn schema [workflow|policy]`: print a JSON Schema (a workflow file's by default).

use std::io::Write;
use std::process::ExitCode;

use super::error::{Error, SUCCESS};
use crate::Global;

/// Arguments of `cairn schema`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Which schema (workflow files when left out).
    #[arg(value_enum, default_value = "workflow")]
    kind: Kind,
}

/// The schemas cairn publishes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Kind {
    /// Workflow files (`schemas/workflow.schema.json`).
    Workflow,
    /// Policy files (`schemas/policy.schema.json`).
    Policy,
}

/// The schema of `kind`.
fn schema(kind: Kind) -> serde_json::Value {
    match kind {
        Kind::Workflow => cairn_executors::workflow_schema(),
        Kind::Policy => cairn_guards::schema(),
    }
}

/// Prints the schema, pretty, as committed in `schemas/`.
pub(crate) fn run(args: &Args, _: &Global) -> Result<ExitCode, Error> {
    let schema = schema(args.kind);
    let text = serde_json::to_string_pretty(&schema).map_err(std::io::Error::other)?;
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(ExitCode::from(SUCCESS))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::{Kind, schema};

    /// The keywords of JSON Schema 2020-12 (core, applicator, validation, unevaluated,
    /// format, content and meta-data vocabularies).
    const KEYWORDS: [&str; 51] = [
        "$schema",
        "$id",
        "$ref",
        "$anchor",
        "$dynamicRef",
        "$dynamicAnchor",
        "$defs",
        "$comment",
        "$vocabulary",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "dependentSchemas",
        "prefixItems",
        "items",
        "contains",
        "properties",
        "patternProperties",
        "additionalProperties",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "type",
        "enum",
        "const",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxContains",
        "minContains",
        "maxProperties",
        "minProperties",
        "required",
        "dependentRequired",
        "format",
        "title",
        "description",
        "default",
        "examples",
    ];
    /// The `format`s JSON Schema 2020-12 defines.
    const FORMATS: [&str; 19] = [
        "date-time",
        "date",
        "time",
        "duration",
        "email",
        "idn-email",
        "hostname",
        "idn-hostname",
        "ipv4",
        "ipv6",
        "uri",
        "uri-reference",
        "iri",
        "iri-reference",
        "uuid",
        "uri-template",
        "json-pointer",
        "relative-json-pointer",
        "regex",
    ];

    /// The keywords of `schema` (and of every schema in it) that a strict validator refuses:
    /// one JSON Schema does not define, a `format` it does not name, a `type` of several
    /// types (Ajv's `strictTypes`), each with its place.
    fn refused(schema: &Value, at: &str, found: &mut Vec<String>) {
        let Value::Object(members) = schema else {
            return; // A boolean schema.
        };
        for (keyword, member) in members {
            let here = format!("{at}/{keyword}");
            match (keyword.as_str(), member) {
                (keyword, _) if !KEYWORDS.contains(&keyword) => found.push(here),
                ("format", Value::String(format)) if !FORMATS.contains(&format.as_str()) => {
                    found.push(format!("{here} {format}"))
                }
                ("type", Value::Array(_)) => found.push(format!("{here} {member}")),
                (
                    "$defs" | "properties" | "patternProperties" | "dependentSchemas",
                    Value::Object(schemas),
                ) => {
                    for (name, each) in schemas {
                        refused(each, &format!("{here}/{name}"), found);
                    }
                }
                ("allOf" | "anyOf" | "oneOf" | "prefixItems", Value::Array(schemas)) => {
                    for (index, each) in schemas.iter().enumerate() {
                        refused(each, &format!("{here}/{index}"), found);
                    }
                }
                (
                    "not"
                    | "if"
                    | "then"
                    | "else"
                    | "items"
                    | "contains"
                    | "additionalProperties"
                    | "propertyNames"
                    | "unevaluatedItems"
                    | "unevaluatedProperties",
                    each,
                ) => refused(each, &here, found),
                _ => {}
            }
        }
    }

    /// Ajv (a strict validator, the one of many editors and CI checks) compiles a schema only
    /// if it names no keyword and no `format` it does not know: schemars' `uint32` broke both.
    #[test]
    fn the_published_schemas_hold_only_what_a_strict_validator_knows() {
        for kind in [Kind::Workflow, Kind::Policy] {
            let mut found = Vec::new();
            refused(&schema(kind), "", &mut found);
            assert_eq!(found, Vec::<String>::new(), "{kind:?}");
        }
    }
}
