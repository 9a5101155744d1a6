//! Events: raw batches as sources and transforms see them, and decoding into key, event time
//! and aggregate input values.

use serde_json::Value;

use crate::config::{AggregateConfig, DecodeConfig};

/// Records of one source partition in columns: payload `i` is
/// `data[offsets[i]..offsets[i + 1]]` with timestamp `timestamps[i]` (epoch ms; the source's
/// record time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBatch {
    /// The source partition the records come from.
    pub partition: u32,
    /// Concatenated payloads.
    pub data: Vec<u8>,
    /// `len() + 1` offsets into `data`, starting with 0.
    pub offsets: Vec<u32>,
    /// One timestamp per record.
    pub timestamps: Vec<i64>,
}

impl Default for RawBatch {
    fn default() -> Self {
        Self::with_capacity(0, 0)
    }
}

impl RawBatch {
    /// An empty batch with room for `rows` records of `bytes` bytes in all.
    pub fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            partition: 0,
            data: Vec::with_capacity(bytes),
            offsets,
            timestamps: Vec::with_capacity(rows),
        }
    }

    /// Appends a record.
    pub fn push(&mut self, payload: &[u8], timestamp: i64) {
        self.data.extend_from_slice(payload);
        self.offsets
            .push(u32::try_from(self.data.len()).unwrap_or(u32::MAX));
        self.timestamps.push(timestamp);
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// Payload of record `row`.
    ///
    /// # Panics
    /// When `row` is out of range or the batch is malformed; batches from outside are checked
    /// with [`RawBatch::check`] first.
    pub fn payload(&self, row: usize) -> &[u8] {
        &self.data[self.offsets[row] as usize..self.offsets[row + 1] as usize]
    }

    /// Checks that offsets and timestamps describe `data` consistently.
    pub fn check(&self) -> Result<(), String> {
        if self.offsets.len() != self.timestamps.len() + 1 {
            return Err(format!(
                "{} offsets for {} timestamps",
                self.offsets.len(),
                self.timestamps.len()
            ));
        }
        if self.offsets.first() != Some(&0) {
            return Err("offsets must start at 0".into());
        }
        if self.offsets.windows(2).any(|w| w[0] > w[1]) {
            return Err("offsets must not decrease".into());
        }
        if self.offsets.last().map(|&o| o as usize) != Some(self.data.len()) {
            return Err("last offset must equal the data length".into());
        }
        Ok(())
    }
}

/// Why a record could not become an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload is not JSON.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// The key field is missing or not a scalar.
    #[error("key field {0} is missing or not a string, number or boolean")]
    Key(String),
    /// The event-time field is missing or not an integer.
    #[error("time field {0} is missing or not an integer (epoch ms)")]
    Time(String),
}

/// Events of a batch in columns, plus the rows that failed to decode.
#[derive(Debug, Default)]
pub struct DecodedBatch {
    /// Key of each event.
    pub keys: Vec<String>,
    /// Event time of each event, epoch ms.
    pub times: Vec<i64>,
    /// Row of the raw batch each event came from.
    pub rows: Vec<u32>,
    /// Per aggregate, the value of each event (NaN where the event has none).
    pub values: Vec<Vec<f64>>,
    /// Rows that could not be decoded, with the reason.
    pub errors: Vec<(u32, DecodeError)>,
}

/// A JSON pointer split into its unescaped tokens once, so that looking it up allocates
/// nothing (`serde_json::Value::pointer` unescapes every token on every call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    text: String,
    tokens: Vec<String>,
}

impl Pointer {
    /// Parses a pointer such as `/user/id` (RFC 6901; `~1` is `/`, `~0` is `~`).
    pub fn new(pointer: &str) -> Self {
        let tokens = pointer
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        Self {
            text: pointer.to_string(),
            tokens,
        }
    }

    /// The value the pointer names in `value`, if any.
    pub fn get<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.tokens.iter().try_fold(value, |v, token| match v {
            Value::Object(map) => map.get(token),
            Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Turns JSON records into events.
#[derive(Debug, Clone)]
pub struct Decoder {
    key: Pointer,
    time: Pointer,
    fields: Vec<Option<Pointer>>,
}

impl Decoder {
    /// A decoder for `decode` that extracts one value per aggregate.
    pub fn new(decode: &DecodeConfig, aggregates: &[AggregateConfig]) -> Self {
        Self {
            key: Pointer::new(&decode.key),
            time: Pointer::new(&decode.time),
            fields: aggregates
                .iter()
                .map(|a| a.field.as_deref().map(Pointer::new))
                .collect(),
        }
    }

    /// Decodes every record of `batch`.
    pub fn decode(&self, batch: &RawBatch) -> DecodedBatch {
        let mut out = DecodedBatch {
            values: vec![Vec::with_capacity(batch.len()); self.fields.len()],
            ..DecodedBatch::default()
        };
        for row in 0..batch.len() {
            match self.decode_one(batch.payload(row)) {
                Ok((key, time, value)) => {
                    out.keys.push(key);
                    out.times.push(time);
                    out.rows.push(row as u32);
                    for (column, field) in out.values.iter_mut().zip(&self.fields) {
                        column.push(match field {
                            None => 1.0,
                            Some(pointer) => pointer
                                .get(&value)
                                .and_then(Value::as_f64)
                                .unwrap_or(f64::NAN),
                        });
                    }
                }
                Err(error) => out.errors.push((row as u32, error)),
            }
        }
        out
    }

    fn decode_one(&self, payload: &[u8]) -> Result<(String, i64, Value), DecodeError> {
        let value: Value =
            serde_json::from_slice(payload).map_err(|e| DecodeError::NotJson(e.to_string()))?;
        let key = match self.key.get(&value) {
            Some(Value::String(s)) => s.clone(),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
            _ => return Err(DecodeError::Key(self.key.as_str().to_string())),
        };
        let time = self
            .time
            .get(&value)
            .and_then(Value::as_i64)
            .ok_or_else(|| DecodeError::Time(self.time.as_str().to_string()))?;
        Ok((key, time, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoder() -> Decoder {
        let aggregates: Vec<AggregateConfig> = serde_json::from_str(
            r#"[{"name":"n","plugin":"count"},{"name":"s","plugin":"sum","field":"/v"}]"#,
        )
        .expect("valid");
        Decoder::new(&DecodeConfig::default(), &aggregates)
    }

    #[test]
    fn decodes_good_rows_and_reports_bad_ones() {
        let mut batch = RawBatch::default();
        batch.push(br#"{"key":"a","ts":5,"v":2.5}"#, 0);
        batch.push(b"nope", 0);
        batch.push(br#"{"key":7,"ts":6}"#, 0);
        batch.push(br#"{"key":"b","ts":"x"}"#, 0);
        batch.push(br#"{"ts":1}"#, 0);
        let out = decoder().decode(&batch);
        assert_eq!(out.keys, ["a", "7"]);
        assert_eq!(out.times, [5, 6]);
        assert_eq!(out.rows, [0, 2]);
        assert_eq!(out.values[0], [1.0, 1.0]);
        assert_eq!(out.values[1][0], 2.5);
        assert!(out.values[1][1].is_nan());
        let reasons: Vec<_> = out
            .errors
            .iter()
            .map(|(row, e)| (*row, e.clone()))
            .collect();
        assert!(matches!(reasons[0], (1, DecodeError::NotJson(_))));
        assert_eq!(reasons[1], (3, DecodeError::Time("/ts".into())));
        assert_eq!(reasons[2], (4, DecodeError::Key("/key".into())));
    }

    #[test]
    fn pointers_unescape_and_index_arrays() {
        let v: Value = serde_json::from_str(r#"{"a/b":{"c~d":[10,20]}}"#).expect("json");
        assert_eq!(Pointer::new("/a~1b/c~0d/1").get(&v), Some(&Value::from(20)));
        assert_eq!(Pointer::new("/a~1b/x").get(&v), None);
        assert_eq!(Pointer::new("").get(&v), Some(&v));
    }

    #[test]
    fn batch_check_catches_bad_offsets() {
        let mut batch = RawBatch::default();
        batch.push(b"ab", 1);
        assert!(batch.check().is_ok());
        batch.offsets[1] = 5;
        assert!(batch.check().is_err());
    }
}
