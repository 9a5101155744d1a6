//! Where results and side outputs go: JSON lines (stdout, stderr, a file, memory), a Kafka
//! topic, or (results) a PostgreSQL table.

use std::io;
use std::sync::Arc;

use serde_json::Value;

mod avro;
mod lines;
mod lines_ahead;
pub mod postgres;

pub use avro::{AvroResults, result_schema};
use eddy_engine::event::Origin;
use eddy_engine::operator::Emitted;
use eddy_engine::results;
pub use lines::{JsonLines, MemoryBuffer};
pub use lines_ahead::LinesAhead;
pub use postgres::{PostgresError, PostgresProgress, PostgresTable, SideTable};

use crate::kafka::{KafkaError, Producer, Record};

/// Why a result or side record could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing lines failed.
    #[error("writing output: {0}")]
    Io(#[from] io::Error),
    /// Producing to Kafka failed.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// Writing to PostgreSQL failed.
    #[error(transparent)]
    Postgres(#[from] PostgresError),
    /// Results cannot be written as Avro (their schema refused, or not derivable).
    #[error("results as Avro: {0}")]
    Avro(String),
}

/// A record sent to a side output (late or dead letter).
#[derive(Debug, Clone, Copy)]
pub struct SideRecord<'a> {
    /// Why it was sent there.
    pub reason: &'a str,
    /// The watermark and event time of a late event.
    pub late: Option<(i64, i64)>,
    /// The record as it was read.
    pub payload: &'a [u8],
    /// Where it was read, when the source has offsets.
    pub origin: Option<Origin>,
    /// The line it was read on, when the source is a file or a stream of lines.
    pub line: Option<u64>,
}

impl<'a> SideRecord<'a> {
    /// Row `row` of `batch` as it was read, sent aside for `reason`.
    pub fn of(batch: &'a eddy_engine::event::RawBatch, row: usize, reason: &'a str) -> Self {
        Self {
            reason,
            late: None,
            payload: batch.payload(row),
            origin: batch.origin(row),
            line: batch.line(row),
        }
    }
}

/// A Kafka topic written through the shared producer.
pub struct KafkaTopic {
    /// The producer.
    pub producer: Arc<Producer>,
    /// The topic.
    pub topic: String,
    /// Results are written as Avro by this (side records are always as they were read).
    pub avro: Option<Box<AvroResults>>,
}

/// One output.
pub enum Writer {
    /// JSON lines.
    Lines(JsonLines),
    /// JSON lines encoded and written by a thread of their own.
    LinesAhead(LinesAhead),
    /// Records on a Kafka topic.
    Kafka(KafkaTopic),
    /// Rows upserted into a PostgreSQL table (results only).
    Postgres(Box<PostgresTable>),
    /// Side records as rows of a PostgreSQL table, written with the results' table.
    PostgresSide(SideTable),
}

impl From<JsonLines> for Writer {
    fn from(lines: JsonLines) -> Self {
        Writer::Lines(lines)
    }
}

/// The `traceparent` header of the span writing now, when traces are exported.
fn trace_headers() -> Vec<(&'static str, String)> {
    crate::telemetry::current_traceparent()
        .map(|traceparent| vec![("traceparent", traceparent)])
        .unwrap_or_default()
}

impl Writer {
    /// Writes results (handed over: a writer thread takes them as they are); returns how many.
    pub fn results(&mut self, emitted: Emitted, scratch: &mut Vec<u8>) -> Result<usize, SinkError> {
        match self {
            Writer::Postgres(table) => return Ok(table.add(&emitted)?),
            Writer::LinesAhead(lines) => return Ok(lines.results(emitted)?),
            Writer::Kafka(KafkaTopic {
                producer,
                topic,
                avro: Some(avro),
            }) => {
                let records = avro.encode(&emitted)?;
                let headers = trace_headers();
                for (group, payload) in emitted.groups.iter().zip(&records) {
                    producer.send(&Record {
                        topic,
                        partition: None,
                        key: Some(group.key.as_bytes()),
                        payload,
                        headers: &headers,
                        measure: true,
                    })?;
                }
                return Ok(records.len());
            }
            _ => {}
        }
        scratch.clear();
        let written =
            results::write_results(&emitted.groups, &emitted.finished, emitted.emit, scratch);
        match self {
            Writer::Lines(lines) => lines.write_raw(scratch)?,
            Writer::LinesAhead(_) => {}
            Writer::Kafka(kafka) => {
                let lines = scratch.split(|&b| b == b'\n');
                let headers = trace_headers();
                for (group, line) in emitted.groups.iter().zip(lines) {
                    kafka.producer.send(&Record {
                        topic: &kafka.topic,
                        partition: None,
                        key: Some(group.key.as_bytes()),
                        payload: line,
                        headers: &headers,
                        measure: true,
                    })?;
                }
            }
            Writer::Postgres(_) | Writer::PostgresSide(_) => {}
        }
        Ok(written)
    }

    /// Writes side records: as JSON lines with the reason and the event, or to Kafka as the
    /// original record with the reason in headers.
    pub fn side(&mut self, records: &[SideRecord<'_>]) -> Result<(), SinkError> {
        match self {
            Writer::Lines(_) | Writer::LinesAhead(_) => {
                let values: Vec<Value> = records
                    .iter()
                    .map(|record| {
                        let mut extra = Vec::new();
                        if let Some((watermark, time)) = record.late {
                            extra.push(("watermark", Value::from(watermark)));
                            extra.push(("event_time", Value::from(time)));
                        }
                        if let Some(origin) = record.origin {
                            extra.push(("partition", Value::from(origin.partition)));
                            extra.push(("offset", Value::from(origin.offset)));
                        }
                        if let Some(line) = record.line {
                            extra.push(("line", Value::from(line)));
                        }
                        results::side_record(record.reason, &extra, record.payload)
                    })
                    .collect();
                match self {
                    Writer::Lines(lines) => lines.write(&values)?,
                    Writer::LinesAhead(lines) => lines.write_raw(&lines::encode(&values)?)?,
                    _ => {}
                }
            }
            Writer::Kafka(kafka) => {
                let trace = trace_headers();
                for record in records {
                    let mut headers = vec![("eddy.error", record.reason.to_string())];
                    headers.extend(trace.iter().cloned());
                    if let Some((watermark, time)) = record.late {
                        headers.push(("eddy.watermark", watermark.to_string()));
                        headers.push(("eddy.event_time", time.to_string()));
                    }
                    if let Some(origin) = record.origin {
                        headers.push(("eddy.partition", origin.partition.to_string()));
                        headers.push(("eddy.offset", origin.offset.to_string()));
                    }
                    kafka.producer.send(&Record {
                        topic: &kafka.topic,
                        partition: None,
                        key: None,
                        payload: record.payload,
                        headers: &headers,
                        measure: false,
                    })?;
                }
            }
            Writer::Postgres(table) => {
                return Err(PostgresError::Table {
                    table: table.name(),
                    message: "takes results only, not side records".into(),
                }
                .into());
            }
            Writer::PostgresSide(table) => table.add(records),
        }
        Ok(())
    }

    /// Flushes lines; for Kafka, checks the delivery reports so far (the producer itself is
    /// flushed before offsets are committed).
    pub fn flush(&mut self) -> Result<(), SinkError> {
        match self {
            Writer::Lines(lines) => lines.flush()?,
            Writer::LinesAhead(lines) => lines.flush()?,
            Writer::Kafka(kafka) => kafka.producer.check()?,
            Writer::Postgres(table) => table.flush()?,
            // Sent by the results' table.
            Writer::PostgresSide(_) => {}
        }
        Ok(())
    }

    /// After a batch: [`Writer::flush`], except that a writer thread is only asked to flush
    /// once it has written what it was handed (the loop does not wait for it).
    pub fn flush_soon(&mut self) -> Result<(), SinkError> {
        match self {
            Writer::LinesAhead(lines) => Ok(lines.flush_soon()?),
            _ => self.flush(),
        }
    }

    /// From now on, JSON lines are encoded and written by a thread of their own (other
    /// writers stay as they are).
    pub fn write_ahead(&mut self) -> Result<(), SinkError> {
        if matches!(self, Writer::Lines(_)) {
            let placeholder = Writer::Lines(JsonLines::new(Box::new(io::sink())));
            if let Writer::Lines(lines) = std::mem::replace(self, placeholder) {
                *self = Writer::LinesAhead(LinesAhead::start(lines)?);
            }
        }
        Ok(())
    }

    /// The PostgreSQL table this writer upserts into, if it is one.
    pub fn postgres(&mut self) -> Option<&mut PostgresTable> {
        match self {
            Writer::Postgres(table) => Some(table),
            _ => None,
        }
    }
}
