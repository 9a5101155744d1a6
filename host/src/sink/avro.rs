//! Results as Avro records in the schema registry wire format, under the subject
//! `<topic>-value`. The schema is derived from the aggregates' outputs, in the order and
//! shape of the JSON results: `key` (string), `window_start` and `window_end`
//! (`timestamp-millis`), `emit` (string), then per aggregate a nullable double, or a record
//! of nullable doubles when it has several named outputs (null where JSON has null: a value
//! that is not finite). It is registered when the pipeline is prepared, and again when a swap
//! changes the outputs; the registry refusing it (incompatible with the subject's latest
//! version) is an error with its message.

use std::sync::Arc;

use apache_avro::Schema;
use apache_avro::types::Value as Avro;
use apache_avro::writer::datum::GenericDatumWriter;
use eddy_engine::operator::Emitted;
use serde_json::{Value, json};

use super::SinkError;
use crate::schema_registry::RegistryHttp;

/// Aggregates and their output names, as [`eddy_engine::aggregate::Aggregates::outputs`]
/// gives them.
type Outputs = Vec<(String, Vec<String>)>;

/// The results' schema as registered: for which outputs, and its id.
struct Registered {
    outputs: Outputs,
    schema: Schema,
    id: u32,
}

/// Encodes results as Avro, registering their schema.
pub struct AvroResults {
    registry: Arc<RegistryHttp>,
    subject: String,
    registered: Option<Registered>,
}

/// Whether `name` is an Avro name (`[A-Za-z_][A-Za-z0-9_]*`).
fn is_avro_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The schema (JSON) of results with `outputs`; an error names an aggregate or output whose
/// name Avro cannot hold.
pub fn result_schema(outputs: &[(String, Vec<String>)]) -> Result<Value, String> {
    let nullable = json!(["null", "double"]);
    let millis = json!({ "type": "long", "logicalType": "timestamp-millis" });
    let mut fields = vec![
        json!({ "name": "key", "type": "string" }),
        json!({ "name": "window_start", "type": millis }),
        json!({ "name": "window_end", "type": millis }),
        json!({ "name": "emit", "type": "string" }),
    ];
    for (name, names) in outputs {
        if !is_avro_name(name) {
            return Err(format!(
                "aggregate `{name}` is not an Avro field name (letters, digits and _, not first a digit)"
            ));
        }
        if names.len() == 1 && names[0].is_empty() {
            fields.push(json!({ "name": name, "type": nullable }));
            continue;
        }
        let mut inner = Vec::new();
        for output in names {
            if !is_avro_name(output) {
                return Err(format!(
                    "output `{output}` of aggregate `{name}` is not an Avro field name"
                ));
            }
            inner.push(json!({ "name": output, "type": nullable }));
        }
        fields.push(json!({
            "name": name,
            "type": { "type": "record", "name": format!("{name}_outputs"), "fields": inner },
        }));
    }
    Ok(json!({
        "type": "record",
        "name": "Result",
        "namespace": "eddy",
        "fields": fields,
    }))
}

fn double(v: f64) -> Avro {
    if v.is_finite() {
        Avro::Union(1, Box::new(Avro::Double(v)))
    } else {
        Avro::Union(0, Box::new(Avro::Null))
    }
}

impl AvroResults {
    /// Results for `topic`, their schema registered in `registry`.
    pub fn new(registry: Arc<RegistryHttp>, topic: &str) -> Self {
        Self {
            registry,
            subject: format!("{topic}-value"),
            registered: None,
        }
    }

    /// Derives and registers the schema of results with `outputs` (unless it is registered).
    pub fn prepare(&mut self, outputs: &[(String, Vec<String>)]) -> Result<(), SinkError> {
        if self
            .registered
            .as_ref()
            .is_some_and(|r| r.outputs == outputs)
        {
            return Ok(());
        }
        let refused = |message: String| {
            SinkError::Avro(format!(
                "the results' schema under subject `{}`: {message}",
                self.subject
            ))
        };
        let text = result_schema(outputs).map_err(refused)?.to_string();
        let schema = Schema::parse_str(&text).map_err(|e| refused(e.to_string()))?;
        let id = self
            .registry
            .register(&self.subject, &text)
            .map_err(|e| refused(e.to_string()))?;
        tracing::info!(subject = %self.subject, id, "results' Avro schema registered");
        self.registered = Some(Registered {
            outputs: outputs.to_vec(),
            schema,
            id,
        });
        Ok(())
    }

    /// One record per result of `emitted`, framed with the schema's id.
    pub fn encode(&mut self, emitted: &Emitted) -> Result<Vec<Vec<u8>>, SinkError> {
        let outputs: Outputs = emitted
            .finished
            .columns
            .iter()
            .map(|(name, names, _)| (name.clone(), names.clone()))
            .collect();
        self.prepare(&outputs)?;
        let Some(registered) = &self.registered else {
            return Err(SinkError::Avro("no schema registered".into()));
        };
        let writer = GenericDatumWriter::builder(&registered.schema)
            .build()
            .map_err(|e| SinkError::Avro(e.to_string()))?;
        let mut records = Vec::with_capacity(emitted.groups.len());
        for (i, group) in emitted.groups.iter().enumerate() {
            let mut fields = vec![
                ("key".to_string(), Avro::String(group.key.to_string())),
                (
                    "window_start".to_string(),
                    Avro::TimestampMillis(group.window.start),
                ),
                (
                    "window_end".to_string(),
                    Avro::TimestampMillis(group.window.end),
                ),
                (
                    "emit".to_string(),
                    Avro::String(emitted.emit.as_str().to_string()),
                ),
            ];
            for (name, names, values) in &emitted.finished.columns {
                let row = &values[i * names.len()..(i + 1) * names.len()];
                let value = if names.len() == 1 && names[0].is_empty() {
                    double(row[0])
                } else {
                    Avro::Record(
                        names
                            .iter()
                            .zip(row)
                            .map(|(output, &v)| (output.clone(), double(v)))
                            .collect(),
                    )
                };
                fields.push((name.clone(), value));
            }
            let mut record = vec![0];
            record.extend_from_slice(&registered.id.to_be_bytes());
            writer
                .write_value(&mut record, Avro::Record(fields))
                .map_err(|e| SinkError::Avro(e.to_string()))?;
            records.push(record);
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_follows_the_json_results() {
        let outputs = vec![
            ("n".to_string(), vec![String::new()]),
            (
                "lat".to_string(),
                vec!["p50".to_string(), "p99".to_string()],
            ),
        ];
        let schema = result_schema(&outputs).expect("schema");
        let names: Vec<&str> = schema["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .filter_map(|f| f["name"].as_str())
            .collect();
        assert_eq!(
            names,
            ["key", "window_start", "window_end", "emit", "n", "lat"]
        );
        assert_eq!(schema["fields"][5]["type"]["fields"][1]["name"], "p99");
        Schema::parse_str(&schema.to_string()).expect("a valid Avro schema");
        let bad = vec![("p-50".to_string(), vec![String::new()])];
        assert!(result_schema(&bad).expect_err("refused").contains("`p-50`"));
        let bad = vec![("lat".to_string(), vec!["0.5".to_string()])];
        assert!(result_schema(&bad).expect_err("refused").contains("`0.5`"));
    }
}
