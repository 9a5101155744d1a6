//! Decoding records into events: key, event time and one input value per aggregate, each read
//! through a JSON pointer.
//!
//! Only the top-level fields the pointers name are looked at: the decoder walks the object once
//! (its `scan` module: the whole payload is checked, nothing is allocated), keeps those fields
//! as raw JSON text and skips the rest, so no JSON tree is built for an event. Pointers deeper
//! than one level parse just the top-level field they start in.

pub mod avro;
mod columns;
mod keys;
mod limits;
mod found;
mod patch;
mod pointer;
pub mod protobuf;
mod scan;
mod schema_source;

pub use columns::{Column, ColumnField, ColumnReader, ColumnType, ColumnValues};
use found::Found;
pub use keys::Keys;
pub use patch::{PatchError, set_fields};
pub use pointer::Pointer;
use pointer::follow;
pub use schema_source::{SchemaError, SchemaSource};

use serde_json::Value;

use crate::config::{AggregateConfig, DecodeConfig, TimeFormat};
use crate::event::RawBatch;

/// Why a record could not become an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload is not a JSON object.
    #[error("not a JSON object: {0}")]
    NotJson(String),
    /// The key field is missing or not a scalar.
    #[error("key field {0} is missing or not a string, number or boolean")]
    Key(String),
    /// The event-time field is missing or not in the configured format.
    #[error("time field {0} is missing or not {1}")]
    Time(String, &'static str),
    /// The event time comes from the record's timestamp and the record has none.
    #[error("the record has no timestamp")]
    NoRecordTimestamp,
    /// A field an aggregate reads holds something other than a number (or null).
    #[error("field {0} is {1}, not a number")]
    NotANumber(String, String),
    /// The record is not in the schema registry wire format.
    #[error("not in the schema registry wire format (a zero byte, then a 4-byte schema id)")]
    NotFramed,
    /// The record's schema cannot be had.
    #[error("{0}")]
    Schema(String),
    /// The payload does not read as a record of its Avro schema.
    #[error("not an Avro record of its schema: {0}")]
    Avro(String),
    /// The payload does not read as a message of its Protobuf schema.
    #[error("not a Protobuf message of its schema: {0}")]
    Protobuf(String),
    /// The record is larger than `decode.max_record_bytes`.
    #[error("the record is {0} bytes, over decode.max_record_bytes ({1})")]
    RecordTooLarge(usize, usize),
    /// The key is longer than `decode.max_key_bytes`.
    #[error("key field {0} is {1} bytes, over decode.max_key_bytes ({2})")]
    KeyTooLarge(String, usize, usize),
}

/// The timestamp of a record that has none (`time_format: record_timestamp` refuses it).
pub const NO_TIMESTAMP: i64 = i64::MIN;

/// Events of a batch in columns, plus the rows that failed to decode.
#[derive(Debug, Default)]
pub struct DecodedBatch {
    /// Key of each event.
    pub keys: Keys,
    /// Event time of each event, epoch ms.
    pub times: Vec<i64>,
    /// Row of the raw batch each event came from.
    pub rows: Vec<u32>,
    /// Per aggregate, the value of each event (NaN where the event has none).
    pub values: Vec<Vec<f64>>,
    /// Rows that could not be decoded, with the reason.
    pub errors: Vec<(u32, DecodeError)>,
}

/// A wanted top-level field of a binary record as its reader found it: JSON text in the
/// reader's scratch buffer (start, end), or a number taken as it is (not written out as text
/// and parsed again).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Slot {
    /// JSON text.
    Text(usize, usize),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
}

/// A pointer compiled against the decoder's list of top-level fields.
#[derive(Debug, Clone)]
struct Field {
    pointer: Pointer,
    /// Index of its first token among the decoder's top-level names.
    top: usize,
}

/// Turns JSON records into events.
#[derive(Debug, Clone)]
pub struct Decoder {
    names: Vec<String>,
    key: Field,
    time: Field,
    time_format: TimeFormat,
    /// The distinct pointers of the aggregates' input values (each read once per event).
    inputs: Vec<Field>,
    /// Per aggregate, which input it takes (`None`: the aggregate counts, its value is 1).
    columns: Vec<Option<usize>>,
    /// How binary records are read; none: they are JSON.
    binary: Option<Binary>,
    /// `decode.max_record_bytes`.
    max_record_bytes: usize,
    /// `decode.max_key_bytes`.
    max_key_bytes: usize,
}

/// A reader of binary records' wanted fields.
#[derive(Debug, Clone)]
enum Binary {
    Avro(avro::AvroReader),
    Protobuf(protobuf::ProtoReader),
}

impl Decoder {
    /// A decoder for `decode` that extracts one value per aggregate.
    pub fn new(decode: &DecodeConfig, aggregates: &[AggregateConfig]) -> Self {
        let mut names: Vec<String> = Vec::new();
        let mut field = |pointer: &str| {
            let pointer = Pointer::new(pointer);
            let first = pointer.tokens.first().cloned().unwrap_or_default();
            let top = names.iter().position(|n| *n == first).unwrap_or_else(|| {
                names.push(first);
                names.len() - 1
            });
            Field { pointer, top }
        };
        let key = field(&decode.key);
        let time = field(&decode.time);
        let mut inputs: Vec<Field> = Vec::new();
        let columns = aggregates
            .iter()
            .map(|a| {
                let pointer = a.field.as_deref()?;
                Some(
                    match inputs.iter().position(|f| f.pointer.as_str() == pointer) {
                        Some(i) => i,
                        None => {
                            inputs.push(field(pointer));
                            inputs.len() - 1
                        }
                    },
                )
            })
            .collect();
        Self {
            names,
            key,
            time,
            time_format: decode.time_format,
            inputs,
            columns,
            binary: None,
            max_record_bytes: decode.max_record_bytes,
            max_key_bytes: decode.max_key_bytes,
        }
    }

    /// A decoder of Avro records whose writer schemas come from `schemas`.
    pub fn avro(
        decode: &DecodeConfig,
        aggregates: &[AggregateConfig],
        schemas: avro::AvroSchemas,
    ) -> Self {
        let mut decoder = Self::new(decode, aggregates);
        decoder.binary = Some(Binary::Avro(avro::AvroReader::new(schemas, &decoder.names)));
        decoder
    }

    /// A decoder of Protobuf records whose message types come from `schemas`.
    pub fn protobuf(
        decode: &DecodeConfig,
        aggregates: &[AggregateConfig],
        schemas: protobuf::ProtoSchemas,
    ) -> Self {
        let mut decoder = Self::new(decode, aggregates);
        decoder.binary = Some(Binary::Protobuf(protobuf::ProtoReader::new(
            schemas,
            &decoder.names,
        )));
        decoder
    }

    /// Decodes every record of `batch`.
    pub fn decode(&self, batch: &RawBatch) -> DecodedBatch {
        // Each column with its own capacity (`vec![column; n]` clones, and a clone has none).
        let mut out = DecodedBatch {
            values: (0..self.columns.len())
                .map(|_| Vec::with_capacity(batch.len()))
                .collect(),
            ..DecodedBatch::default()
        };
        out.keys = Keys::with_capacity(batch.len(), batch.len() * 16);
        out.times.reserve(batch.len());
        out.rows.reserve(batch.len());
        // Numbers a column map wrote: taken as they are, not parsed again.
        let written: Vec<Option<&[Option<f64>]>> = self
            .inputs
            .iter()
            .map(|field| {
                batch
                    .written
                    .iter()
                    .rev()
                    .find(|w| w.pointer == field.pointer.as_str() && w.values.len() == batch.len())
                    .map(|w| w.values.as_slice())
            })
            .collect();
        let written = written.iter().any(Option::is_some).then_some(&written[..]);
        let mut scratch = BinaryScratch::default();
        for row in 0..batch.len() {
            let record_time = batch.timestamps[row];
            let known = |input: usize| written.and_then(|w| w[input]).and_then(|v| v[row]);
            let payload = batch.payload(row);
            if payload.len() > self.max_record_bytes {
                let error = DecodeError::RecordTooLarge(payload.len(), self.max_record_bytes);
                out.errors.push((row as u32, error));
                continue;
            }
            let result = match &self.binary {
                None => self.decode_json(payload, record_time, row as u32, known, &mut out),
                Some(reader) => self.decode_binary(
                    reader,
                    payload,
                    record_time,
                    row as u32,
                    &mut scratch,
                    &mut out,
                ),
            };
            if let Err(error) = result {
                out.errors.push((row as u32, error));
            }
        }
        out
    }

    /// Whether records are binary (Avro or Protobuf), not JSON.
    pub fn is_binary(&self) -> bool {
        self.binary.is_some()
    }

    /// The records of a binary `batch` as JSON objects (for plugins, which read JSON), in a
    /// batch of their own with the same partition, timestamps, offsets and lines; records that
    /// do not read are left out and returned with the reason (their row in `batch`). A JSON
    /// decoder's batch is returned as it is.
    pub fn to_json(&self, batch: &RawBatch) -> (RawBatch, Vec<(u32, DecodeError)>) {
        let Some(reader) = &self.binary else {
            return (batch.clone(), Vec::new());
        };
        let mut out = RawBatch::with_capacity(batch.len(), batch.data.len() * 2);
        out.partition = batch.partition;
        out.blank_lines = batch.blank_lines;
        let mut errors = Vec::new();
        let mut scratch = BinaryScratch::default();
        for row in 0..batch.len() {
            scratch.text.clear();
            let payload = batch.payload(row);
            let result = match reader {
                Binary::Avro(reader) => reader.whole(payload, &mut scratch.avro, &mut scratch.text),
                Binary::Protobuf(reader) => {
                    reader.whole(payload, &mut scratch.protobuf, &mut scratch.text)
                }
            };
            if let Err(error) = result {
                errors.push((row as u32, error));
                continue;
            }
            match (batch.source_offsets.get(row), batch.lines.get(row)) {
                (Some(&offset), _) => out.push_at(&scratch.text, batch.timestamps[row], offset),
                (None, Some(&line)) => out.push_line(&scratch.text, batch.timestamps[row], line),
                (None, None) => out.push(&scratch.text, batch.timestamps[row]),
            }
        }
        (out, errors)
    }

    /// Decodes one JSON record; `known(i)` is input `i`'s value when a column map wrote it.
    fn decode_json(
        &self,
        payload: &[u8],
        record_time: i64,
        row: u32,
        known: impl Fn(usize) -> Option<f64>,
        out: &mut DecodedBatch,
    ) -> Result<(), DecodeError> {
        // A UTF-8 byte-order mark (the first line of a file some editors write) is skipped.
        let payload = payload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(payload);
        let mut top = SmallBuffer::new(self.names.len(), None);
        scan::fields(payload, &self.names, top.as_mut())
            .map_err(|e| DecodeError::NotJson(e.to_string()))?;
        let found = Top {
            text: top.as_mut(),
            numbers: None,
        };
        self.decode_one(found, 1, record_time, row, known, out)
    }

    /// Decodes one Avro or Protobuf record: its wanted fields as JSON text, then as a JSON
    /// record.
    fn decode_binary(
        &self,
        reader: &Binary,
        payload: &[u8],
        record_time: i64,
        row: u32,
        scratch: &mut BinaryScratch,
        out: &mut DecodedBatch,
    ) -> Result<(), DecodeError> {
        scratch.text.clear();
        let mut ranges = SmallBuffer::new(self.names.len(), None);
        let per_ms = match reader {
            Binary::Avro(reader) => {
                let projection = reader.fields(
                    payload,
                    &mut scratch.avro,
                    &mut scratch.text,
                    ranges.as_mut(),
                )?;
                match self.time.pointer.tokens.len() {
                    1 => projection.per_ms[self.time.top],
                    _ => 1,
                }
            }
            Binary::Protobuf(reader) => {
                reader.fields(
                    payload,
                    &mut scratch.protobuf,
                    &mut scratch.text,
                    ranges.as_mut(),
                )?;
                1
            }
        };
        // JSON text written by the reader: UTF-8.
        let text =
            std::str::from_utf8(&scratch.text).map_err(|e| DecodeError::Avro(e.to_string()))?;
        let mut top = SmallBuffer::new(self.names.len(), None);
        for (top, slot) in top.as_mut().iter_mut().zip(ranges.as_mut().iter()) {
            if let Some(Slot::Text(start, end)) = slot {
                *top = text.get(*start..*end);
            }
        }
        let found = Top {
            text: top.as_mut(),
            numbers: Some(ranges.as_mut()),
        };
        self.decode_one(found, per_ms, record_time, row, |_| None, out)
    }

    fn find<'a>(&self, top: &Top<'_, 'a>, field: &Field) -> Option<Found<'a>> {
        if let Some(slots) = top.numbers {
            let number = match slots[field.top] {
                Some(Slot::Int(v)) => Some(Value::from(v)),
                Some(Slot::Float(v)) => Some(Value::from(v)),
                _ => None,
            };
            if let Some(number) = number {
                // A number has nothing beneath it.
                return (field.pointer.tokens.len() <= 1).then_some(Found::Nested(number));
            }
        }
        let raw = top.text[field.top]?;
        if field.pointer.tokens.len() <= 1 {
            return Some(Found::Raw(raw));
        }
        let value: Value = serde_json::from_str(raw).ok()?;
        follow(&field.pointer.tokens[1..], &value)
            .cloned()
            .map(Found::Nested)
    }

    /// Makes an event of a record's top-level fields (`top`: raw JSON text by name);
    /// `per_ms`: units of the time field per millisecond (an Avro `timestamp-micros` field).
    fn decode_one(
        &self,
        top: Top<'_, '_>,
        per_ms: i64,
        record_time: i64,
        row: u32,
        known: impl Fn(usize) -> Option<f64>,
        out: &mut DecodedBatch,
    ) -> Result<(), DecodeError> {
        let key = self
            .find(&top, &self.key)
            .and_then(|f| f.key())
            .ok_or_else(|| DecodeError::Key(self.key.pointer.as_str().to_string()))?;
        if key.len() > self.max_key_bytes {
            return Err(DecodeError::KeyTooLarge(
                self.key.pointer.as_str().to_string(),
                key.len(),
                self.max_key_bytes,
            ));
        }
        let time = match self.time_format {
            TimeFormat::RecordTimestamp if record_time == NO_TIMESTAMP => {
                return Err(DecodeError::NoRecordTimestamp);
            }
            TimeFormat::RecordTimestamp => record_time,
            format => self
                .find(&top, &self.time)
                .and_then(|f| f.time(format))
                .map(|t| match (format, per_ms) {
                    (TimeFormat::EpochMs, 2..) => t.div_euclid(per_ms),
                    _ => t,
                })
                .ok_or_else(|| {
                    DecodeError::Time(self.time.pointer.as_str().to_string(), expected(format))
                })?,
        };
        let mut inputs = SmallBuffer::new(self.inputs.len(), f64::NAN);
        for (i, (value, field)) in inputs.as_mut().iter_mut().zip(&self.inputs).enumerate() {
            if let Some(number) = known(i) {
                *value = number;
                continue;
            }
            // Missing or null: no value (the event does not contribute, as a SQL NULL).
            // Anything else that is not a number: the event is refused, with the reason.
            let Some(found) = self.find(&top, field) else {
                continue;
            };
            match found.number() {
                Some(number) => *value = number,
                None if found.is_null() => {}
                None => {
                    return Err(DecodeError::NotANumber(
                        field.pointer.as_str().to_string(),
                        found.shown(),
                    ));
                }
            }
        }
        let inputs = inputs.as_mut();
        out.keys.push(&key);
        out.times.push(time);
        out.rows.push(row);
        for (column, input) in out.values.iter_mut().zip(&self.columns) {
            column.push(input.map_or(1.0, |i| inputs[i]));
        }
        Ok(())
    }
}

/// A record's top-level fields by the decoder's names: JSON text, or (binary records) numbers
/// as their reader found them.
struct Top<'b, 'a> {
    text: &'b [Option<&'a str>],
    /// Binary records: the slots their readers filled (numbers are read from here).
    numbers: Option<&'b [Option<Slot>]>,
}

/// What decoding binary records reuses from one record to the next.
#[derive(Default)]
struct BinaryScratch {
    text: Vec<u8>,
    avro: avro::Memo,
    protobuf: protobuf::Memo,
}

/// A few values on the stack (the common case: a handful of fields), more on the heap.
enum SmallBuffer<T> {
    Stack([T; 8], usize),
    Heap(Vec<T>),
}

impl<T: Copy> SmallBuffer<T> {
    fn new(len: usize, fill: T) -> Self {
        if len <= 8 {
            SmallBuffer::Stack([fill; 8], len)
        } else {
            SmallBuffer::Heap(vec![fill; len])
        }
    }

    fn as_mut(&mut self) -> &mut [T] {
        match self {
            SmallBuffer::Stack(items, len) => &mut items[..*len],
            SmallBuffer::Heap(items) => items,
        }
    }
}

fn expected(format: TimeFormat) -> &'static str {
    match format {
        TimeFormat::EpochMs => "an integer (epoch ms)",
        TimeFormat::EpochS => "a number (epoch s)",
        TimeFormat::Rfc3339 => "an RFC 3339 string",
        TimeFormat::RecordTimestamp => "needed",
    }
}

#[cfg(test)]
mod tests;
