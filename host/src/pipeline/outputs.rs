//! Where a pipeline writes its results, late events and dead letters.

use std::sync::Arc;

use eddy_engine::config::{
    Config, Delivery, SideOutputConfig, SinkConfig, SinkFormat, SourceConfig,
};

use crate::kafka::{KafkaError, Producer};
use crate::schema_registry::RegistryHttp;
use crate::sink::PostgresError;
use crate::sink::{
    AvroResults, JsonLines, KafkaTopic, PostgresTable, SideTable, SinkError, Writer,
};

/// Where a pipeline writes.
pub struct Outputs {
    /// Window results.
    pub results: Writer,
    /// Events that arrived after their window closed.
    pub late: Writer,
    /// Records that could not be processed.
    pub dead_letter: Writer,
}

impl Outputs {
    /// The outputs a config names; Kafka topics are written through `producer`. A
    /// PostgreSQL sink is connected to here and its table made or checked when the pipeline
    /// is built; with exactly-once and a Kafka source its rows are committed with the
    /// checkpoints.
    pub fn open(config: &Config, producer: Option<&Arc<Producer>>) -> Result<Self, SinkError> {
        let kafka = |topic: &str| -> Result<Writer, SinkError> {
            let producer = producer.ok_or(KafkaError::Client(format!(
                "topic `{topic}` is an output but no producer was made"
            )))?;
            Ok(Writer::Kafka(KafkaTopic {
                producer: Arc::clone(producer),
                topic: topic.to_string(),
                avro: None,
            }))
        };
        // PostgreSQL side tables are written by the results' table (the config requires a
        // PostgreSQL sink on the same server).
        let mut side_tables = Vec::new();
        let mut side = |config: &SideOutputConfig| -> Result<Writer, SinkError> {
            match config {
                SideOutputConfig::Kafka { topic } => kafka(topic),
                SideOutputConfig::Postgres { table, .. } => {
                    let table = SideTable::new(table);
                    side_tables.push(table.clone());
                    Ok(Writer::PostgresSide(table))
                }
                other => Ok(JsonLines::for_side_output(other)?.into()),
            }
        };
        let late = side(&config.late)?;
        let dead_letter = side(&config.dead_letter)?;
        let mut outputs = Self {
            results: match &config.sink {
                SinkConfig::Kafka { topic, format } => {
                    let mut writer = kafka(topic)?;
                    if *format == SinkFormat::Avro
                        && let Writer::Kafka(kafka) = &mut writer
                    {
                        let registry = RegistryHttp::new(&config.schema_registry)
                            .map_err(|e| SinkError::Avro(e.to_string()))?
                            .ok_or_else(|| {
                                SinkError::Avro("sink.format avro needs schema_registry.url".into())
                            })?;
                        kafka.avro = Some(Box::new(AvroResults::new(Arc::new(registry), topic)));
                    }
                    writer
                }
                SinkConfig::Postgres(sink) => {
                    let exactly_once = config.state.delivery == Delivery::ExactlyOnce
                        && matches!(config.source, SourceConfig::Kafka { .. });
                    let table = if exactly_once {
                        PostgresTable::transactional(sink)?
                    } else {
                        PostgresTable::connect(sink)?
                    };
                    Writer::Postgres(Box::new(table))
                }
                other => JsonLines::for_sink(other)?.into(),
            },
            late,
            dead_letter,
        };
        if !side_tables.is_empty() {
            let Some(table) = outputs.results.postgres() else {
                return Err(PostgresError::Table {
                    table: side_tables[0].name(),
                    message: "a PostgreSQL side output needs a PostgreSQL sink".into(),
                }
                .into());
            };
            for side in side_tables {
                table.add_side(side);
            }
        }
        Ok(outputs)
    }

    /// The outputs of a config without Kafka outputs.
    pub fn from_config(config: &Config) -> Result<Self, SinkError> {
        Self::open(config, None)
    }

    /// Makes or checks the tables of PostgreSQL outputs for these aggregate outputs (see
    /// [`PostgresTable::prepare`]).
    pub fn prepare(&mut self, aggregates: &[(String, Vec<String>)]) -> Result<(), SinkError> {
        if let Some(table) = self.results.postgres() {
            table.prepare(aggregates)?;
        }
        if let Writer::Kafka(KafkaTopic {
            avro: Some(avro), ..
        }) = &mut self.results
        {
            avro.prepare(aggregates)?;
        }
        Ok(())
    }

    pub(super) fn flush(&mut self) -> Result<(), SinkError> {
        self.results.flush()?;
        self.late.flush()?;
        self.dead_letter.flush()
    }
}
