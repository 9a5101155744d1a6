//! The configuration reference (`docs/configuration.md`), generated from the config types:
//! their JSON Schema (`schemars`), whose descriptions are the types' doc comments.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

use super::Config;

/// How a duration is written in a config (`humantime`: `500ms`, `10s`, `1h`), for the schema.
pub(super) struct DurationText;

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "duration" })
    }
}

/// One documented key.
struct Row {
    key: String,
    kind: String,
    default: String,
    env: String,
    about: String,
}

/// The reference as Markdown: one table per top-level key.
pub fn reference() -> String {
    let schema = schemars::schema_for!(Config);
    let root = schema.as_value();
    let mut text = String::from(
        "# Configuration reference\n\n\
         Generated from the config types (`engine/src/config/`) by\n\
         `UPDATE_CONFIG_REFERENCE=1 cargo test -p eddy-engine config::reference`; a test fails when\n\
         this file and the types differ. A config is YAML (`eddy run --config FILE`); every key can\n\
         be set in the environment instead: `EDDY_` and the key's path in capitals, `__` between\n\
         levels (a librdkafka property's `.` is written `_`). Durations are written like `500ms`,\n\
         `10s`, `1h`. Keys of one variant apply when its `type` is chosen.\n",
    );
    let Some(properties) = root.get("properties").and_then(Value::as_object) else {
        return text;
    };
    for (name, property) in properties {
        let mut rows = Vec::new();
        walk(root, property, name, "", &mut rows);
        text.push_str(&format!("\n## `{name}`\n\n{}\n\n", about(root, property)));
        text.push_str("| key | type | default | environment | description |\n");
        text.push_str("|---|---|---|---|---|\n");
        for row in rows {
            text.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                row.key, row.kind, row.default, row.env, row.about
            ));
        }
    }
    text
}

/// `schema` with a `$ref` followed.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .strip_prefix("#/$defs/")
            .and_then(|name| root.get("$defs")?.get(name))
            .unwrap_or(schema),
        None => schema,
    }
}

/// The schema without `null`, for an optional value.
fn not_null<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let schema = resolve(root, schema);
    let choices = schema.get("anyOf").and_then(Value::as_array);
    match choices.map(|c| c.as_slice()) {
        Some([one, null]) | Some([null, one]) if is_null(null) => resolve(root, one),
        _ => schema,
    }
}

fn is_null(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

/// A schema's description, on one line.
fn about(root: &Value, schema: &Value) -> String {
    let text = schema
        .get("description")
        .or_else(|| not_null(root, schema).get("description"))
        .and_then(Value::as_str)
        .unwrap_or("");
    // Rustdoc links read as plain names here.
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("[`", "`")
        .replace("`]", "`")
        .replace('|', "\\|")
}

/// The environment variable of a key (none inside a list).
fn env_name(key: &str) -> String {
    if key.contains("[]") {
        "—".into()
    } else {
        format!("`EDDY_{}`", key.replace('.', "__").to_uppercase())
    }
}

/// The variants of a tagged enum (`type: …`): each variant's tag and schema.
fn variants<'a>(root: &'a Value, schema: &'a Value) -> Option<Vec<(String, &'a Value)>> {
    let choices = schema.get("oneOf").and_then(Value::as_array)?;
    let mut found = Vec::new();
    for choice in choices {
        let choice = resolve(root, choice);
        let tag = choice
            .get("properties")?
            .get("type")?
            .get("const")?
            .as_str()?;
        found.push((tag.to_string(), choice));
    }
    Some(found)
}

/// The values of a unit enum (`snake_case` names).
fn values(schema: &Value) -> Option<Vec<String>> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return Some(
            values
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
        );
    }
    let choices = schema.get("oneOf").and_then(Value::as_array)?;
    choices
        .iter()
        .map(|c| {
            c.get("const")
                .and_then(Value::as_str)
                .map(String::from)
                .or_else(|| values(c).and_then(|v| v.into_iter().next()))
        })
        .collect()
}

fn type_name(root: &Value, schema: &Value) -> String {
    let optional = not_null(root, schema) != resolve(root, schema)
        || resolve(root, schema)
            .get("type")
            .and_then(Value::as_array)
            .is_some_and(|t| t.iter().any(|t| t == "null"));
    let schema = not_null(root, schema);
    let name = if let Some(values) = values(schema) {
        values
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(" \\| ")
    } else {
        let kind = match schema.get("type") {
            Some(Value::String(kind)) => kind.clone(),
            Some(Value::Array(kinds)) => kinds
                .iter()
                .filter_map(Value::as_str)
                .find(|k| *k != "null")
                .unwrap_or("any")
                .to_string(),
            _ => "any".into(),
        };
        match kind.as_str() {
            "array" => format!(
                "list of {}",
                schema
                    .get("items")
                    .map_or_else(|| "any".into(), |items| type_name(root, items))
            ),
            "object" if schema.get("properties").is_none() => "map".into(),
            "string" => match schema.get("format").and_then(Value::as_str) {
                Some("duration") => "duration".into(),
                _ => "text".into(),
            },
            "integer" | "number" => "number".into(),
            other => other.to_string(),
        }
    };
    if optional {
        format!("{name} (optional)")
    } else {
        name
    }
}

fn default_of(schema: &Value) -> String {
    match schema.get("default") {
        None | Some(Value::Null) => "—".into(),
        Some(Value::String(text)) if text.is_empty() => "`\"\"`".into(),
        Some(Value::String(text)) => format!("`{text}`"),
        Some(Value::Object(map)) if map.is_empty() => "`{}`".into(),
        Some(Value::Array(list)) if list.is_empty() => "`[]`".into(),
        Some(other) => format!("`{}`", compact(other)),
    }
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value)
        .unwrap_or_default()
        .replace('|', "\\|")
}

/// Adds the rows of `schema`, found at `key` (`within`: the variant it belongs to).
fn walk(root: &Value, schema: &Value, key: &str, within: &str, rows: &mut Vec<Row>) {
    let resolved = not_null(root, schema);
    if let Some(variants) = variants(root, resolved) {
        let tags: Vec<String> = variants.iter().map(|(tag, _)| format!("`{tag}`")).collect();
        rows.push(Row {
            key: format!("{key}.type"),
            kind: tags.join(" \\| "),
            default: schema
                .get("default")
                .and_then(|d| d.get("type"))
                .and_then(Value::as_str)
                .map_or_else(|| "—".into(), |tag| format!("`{tag}`")),
            env: env_name(&format!("{key}.type")),
            about: about(root, schema),
        });
        for (tag, variant) in variants {
            let fields = object_fields(variant);
            let about_variant = about(root, variant);
            rows.push(Row {
                key: format!("{key}.type = {tag}"),
                kind: String::new(),
                default: String::new(),
                env: String::new(),
                about: about_variant,
            });
            for (name, field) in fields {
                if name != "type" {
                    walk(root, field, &format!("{key}.{name}"), &tag, rows);
                }
            }
        }
        return;
    }
    let nested = resolved.get("properties").is_some()
        && resolved.get("type").and_then(Value::as_str) == Some("object");
    if nested {
        for (name, field) in object_fields(resolved) {
            walk(root, field, &format!("{key}.{name}"), within, rows);
        }
        return;
    }
    if resolved.get("type").and_then(Value::as_str) == Some("array")
        && let Some(items) = resolved.get("items")
    {
        let items = resolve(root, items);
        if items.get("properties").is_some() {
            rows.push(Row {
                key: key.to_string(),
                kind: "list".into(),
                default: default_of(schema),
                env: "—".into(),
                about: about(root, schema),
            });
            for (name, field) in object_fields(items) {
                walk(root, field, &format!("{key}[].{name}"), within, rows);
            }
            return;
        }
    }
    let mut about_key = about(root, schema);
    if !within.is_empty() {
        about_key = format!("(`type: {within}`) {about_key}");
    }
    rows.push(Row {
        key: key.to_string(),
        kind: type_name(root, schema),
        default: default_of(schema),
        env: env_name(key),
        about: about_key,
    });
}

fn object_fields(schema: &Value) -> Vec<(String, &Value)> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(Map::iter)
        .into_iter()
        .flatten()
        .map(|(name, field)| (name.clone(), field))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md")
    }

    /// The reference in docs/ is what the types say; with `UPDATE_CONFIG_REFERENCE=1` it is
    /// written anew.
    #[test]
    fn the_reference_in_docs_matches_the_config_types() {
        let generated = reference();
        if std::env::var_os("UPDATE_CONFIG_REFERENCE").is_some() {
            std::fs::write(docs(), &generated).expect("docs/configuration.md written");
        }
        let written = std::fs::read_to_string(docs()).unwrap_or_default();
        assert!(
            written == generated,
            "docs/configuration.md is not what the config types say: run \
             UPDATE_CONFIG_REFERENCE=1 cargo test -p eddy-engine config::reference"
        );
    }

    /// Every key has a description (a doc comment on its field).
    #[test]
    fn every_key_is_described() {
        for line in reference().lines().filter(|l| l.starts_with("| `")) {
            let description = line
                .trim_end_matches(" |")
                .rsplit(" | ")
                .next()
                .unwrap_or("");
            let description = match description.strip_prefix("(`type: ") {
                Some(rest) => rest.split_once(")").map_or("", |(_, d)| d),
                None => description,
            };
            assert!(!description.trim().is_empty(), "no description: {line}");
        }
    }

    /// Keys the YAML accepts are in the reference, nested ones included.
    #[test]
    fn known_keys_are_in_the_reference() {
        let text = reference();
        for key in [
            "`kafka.static_membership`",
            "`kafka.consumer_properties`",
            "`state.checkpoint_interval`",
            "`window.type`",
            "`window.size`",
            "`aggregates[].plugin`",
            "`sink.type`",
            "`source.topic`",
            "`plugins.cache_dir`",
        ] {
            assert!(text.contains(key), "{key} missing");
        }
    }
}
