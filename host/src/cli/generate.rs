//! `eddy generate`: sample events as JSON lines on standard output, or produced to a topic
//! (as JSON, or as Avro in the schema registry wire format under `<topic>-value`).

use std::io::{self, BufWriter, Write};

use apache_avro::Schema;
use apache_avro::types::Value as Avro;
use apache_avro::writer::datum::GenericDatumWriter;
use eddy_engine::config::{KafkaConfig, SchemaRegistryConfig, SecretUrl};
use eddy_engine::generator::{Generator, GeneratorConfig};

use crate::kafka::{KafkaError, Producer, Record, produce};
use crate::schema_registry::RegistryHttp;

/// Why generating stopped.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The generator's settings are not valid.
    #[error("{key}: {message}")]
    Config {
        /// The offending setting.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// Writing to standard output failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// Producing to Kafka failed.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// The events' Avro schema could not be registered, or an event encoded.
    #[error("Avro: {0}")]
    Avro(String),
}

/// The Avro schema of the generated events.
pub const EVENT_SCHEMA: &str = r#"{"type": "record", "name": "Event", "namespace": "eddy.sample",
 "fields": [
  {"name": "key", "type": "string"},
  {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "amount", "type": "double"},
  {"name": "latency_ms", "type": "double"},
  {"name": "pad", "type": ["null", "string"], "default": null}
 ]}"#;

/// Where generated events go.
pub enum Target<'a> {
    /// JSON lines on the writer given.
    Lines,
    /// JSON records on a topic: (topic, brokers).
    Kafka(&'a str, &'a str),
    /// Avro records on a topic, their schema registered in the registry at the URL: (topic,
    /// brokers, registry URL).
    KafkaAvro(&'a str, &'a str, &'a str),
}

/// Generates `config.events` events to `target` (lines go to `out`). Returns how many.
pub fn run(
    config: GeneratorConfig,
    target: Target<'_>,
    out: &mut dyn Write,
) -> Result<u64, GenerateError> {
    config
        .validate()
        .map_err(|(key, message)| GenerateError::Config {
            key: key.to_string(),
            message: message.to_string(),
        })?;
    let mut generator = Generator::new(config);
    match target {
        Target::Lines => {}
        Target::Kafka(topic, brokers) => {
            let producer = Producer::new(&KafkaConfig::default(), brokers)?;
            let produced = produce(&mut generator, &producer, topic)?;
            tracing::info!(produced, %topic, "events produced");
            return Ok(produced);
        }
        Target::KafkaAvro(topic, brokers, registry) => {
            return produce_avro(&mut generator, topic, brokers, registry);
        }
    }
    let mut line = Vec::new();
    let mut out = BufWriter::new(out);
    let mut written = 0;
    while generator.next_event(&mut line) {
        line.push(b'\n');
        out.write_all(&line)?;
        written += 1;
    }
    out.flush()?;
    Ok(written)
}

/// Produces the events as Avro records framed with the id of [`EVENT_SCHEMA`], registered
/// under `<topic>-value` at `registry`.
fn produce_avro(
    generator: &mut Generator,
    topic: &str,
    brokers: &str,
    registry: &str,
) -> Result<u64, GenerateError> {
    let failed = |e: &dyn std::fmt::Display| GenerateError::Avro(e.to_string());
    let client = RegistryHttp::new(&SchemaRegistryConfig {
        url: Some(SecretUrl::new(registry)),
        ..SchemaRegistryConfig::default()
    })
    .map_err(|e| failed(&e))?
    .ok_or_else(|| GenerateError::Avro("no registry URL".into()))?;
    let id = client
        .register(&format!("{topic}-value"), EVENT_SCHEMA)
        .map_err(|e| failed(&e))?;
    let schema = Schema::parse_str(EVENT_SCHEMA).map_err(|e| failed(&e))?;
    let writer = GenericDatumWriter::builder(&schema)
        .build()
        .map_err(|e| failed(&e))?;
    let producer = Producer::new(&KafkaConfig::default(), brokers)?;
    let mut line = Vec::new();
    let mut produced = 0;
    while generator.next_event(&mut line) {
        let event: serde_json::Value = serde_json::from_slice(&line).map_err(|e| failed(&e))?;
        let pad = match event["pad"].as_str() {
            Some(pad) => Avro::Union(1, Box::new(Avro::String(pad.into()))),
            None => Avro::Union(0, Box::new(Avro::Null)),
        };
        let record = Avro::Record(vec![
            ("key".into(), Avro::String(generator.last_key())),
            (
                "ts".into(),
                Avro::TimestampMillis(event["ts"].as_i64().unwrap_or_default()),
            ),
            (
                "amount".into(),
                Avro::Double(event["amount"].as_f64().unwrap_or_default()),
            ),
            (
                "latency_ms".into(),
                Avro::Double(event["latency_ms"].as_f64().unwrap_or_default()),
            ),
            ("pad".into(), pad),
        ]);
        let mut payload = vec![0];
        payload.extend_from_slice(&id.to_be_bytes());
        writer
            .write_value(&mut payload, record)
            .map_err(|e| failed(&e))?;
        let key = generator.last_key();
        producer.send(&Record {
            topic,
            partition: None,
            key: Some(key.as_bytes()),
            payload: &payload,
            headers: &[],
            measure: false,
        })?;
        produced += 1;
    }
    producer.flush()?;
    tracing::info!(produced, %topic, id, "Avro events produced");
    Ok(produced)
}
