//! Raw batches of records as sources and transforms see them, where a record was read, and
//! the processing clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Where a record came from in its source, for side outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Source partition.
    pub partition: u32,
    /// Offset in the partition.
    pub offset: i64,
}

/// Processing time now, epoch ms.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Records of one source partition in columns: payload `i` is
/// `data[offsets[i]..offsets[i + 1]]` with timestamp `timestamps[i]` (epoch ms; the source's
/// record time).
#[derive(Debug, Clone, PartialEq)]
pub struct RawBatch {
    /// The source partition the records come from.
    pub partition: u32,
    /// Concatenated payloads.
    pub data: Vec<u8>,
    /// `len() + 1` offsets into `data`, starting with 0.
    pub offsets: Vec<u32>,
    /// One timestamp per record.
    pub timestamps: Vec<i64>,
    /// The records' offsets in their source partition, one per record; empty when the source
    /// has none (files, stdin, the generator).
    pub source_offsets: Vec<i64>,
    /// The records' line numbers (from 1) in a file or on standard input, one per record;
    /// empty when the source has none.
    pub lines: Vec<u64>,
    /// Blank lines the source skipped while reading these records (they are counted, not
    /// processed).
    pub blank_lines: u64,
    /// Numbers a column map wrote into these records, which the decoder takes as they are
    /// instead of parsing them again. Empty unless a column map ran; an entry whose length is
    /// not the batch's is ignored.
    pub written: Vec<WrittenNumbers>,
    /// The W3C `traceparent` headers its records carried, each once and at most
    /// [`MAX_TRACE_PARENTS`]: the batch's span links to them. Empty when none carried one.
    pub trace_parents: Vec<String>,
}

/// Most trace contexts a batch keeps from its records' headers.
pub const MAX_TRACE_PARENTS: usize = 32;

/// The numbers a column map wrote into one top-level field of a batch's records.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenNumbers {
    /// The field's JSON pointer (`/name`).
    pub pointer: String,
    /// Per record, the number written (NaN where it wrote `null`), or `None` where the record
    /// kept its own value (the decoder reads that from the payload).
    pub values: Vec<Option<f64>>,
}

impl RawBatch {
    /// The written numbers for a batch made of some of this one's rows, in order (`rows`:
    /// their indices here).
    pub fn written_of(&self, rows: &[usize]) -> Vec<WrittenNumbers> {
        self.written
            .iter()
            .filter(|w| w.values.len() == self.len())
            .map(|w| WrittenNumbers {
                pointer: w.pointer.clone(),
                values: rows.iter().map(|&row| w.values[row]).collect(),
            })
            .collect()
    }
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
            source_offsets: Vec::new(),
            lines: Vec::new(),
            blank_lines: 0,
            written: Vec::new(),
            trace_parents: Vec::new(),
        }
    }

    /// Keeps a record's `traceparent` header for the batch's span (see
    /// [`RawBatch::trace_parents`]).
    pub fn add_trace_parent(&mut self, traceparent: &str) {
        if self.trace_parents.len() < MAX_TRACE_PARENTS
            && !self.trace_parents.iter().any(|t| t == traceparent)
        {
            self.trace_parents.push(traceparent.to_string());
        }
    }

    /// Appends a record read on line `line` (from 1) of a file or stream.
    pub fn push_line(&mut self, payload: &[u8], timestamp: i64, line: u64) {
        self.push(payload, timestamp);
        self.lines.push(line);
    }

    /// The line record `row` was read on, when the source has lines.
    pub fn line(&self, row: usize) -> Option<u64> {
        self.lines.get(row).copied()
    }

    /// Appends a record read at `offset` of the source partition.
    pub fn push_at(&mut self, payload: &[u8], timestamp: i64, offset: i64) {
        self.push(payload, timestamp);
        self.source_offsets.push(offset);
    }

    /// Where record `row` was read, when the source has offsets.
    pub fn origin(&self, row: usize) -> Option<Origin> {
        self.source_offsets.get(row).map(|&offset| Origin {
            partition: self.partition,
            offset,
        })
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
        if !self.source_offsets.is_empty() && self.source_offsets.len() != self.timestamps.len() {
            return Err(format!(
                "{} source offsets for {} records",
                self.source_offsets.len(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_check_catches_bad_offsets() {
        let mut batch = RawBatch::default();
        batch.push(b"ab", 1);
        assert!(batch.check().is_ok());
        batch.offsets[1] = 5;
        assert!(batch.check().is_err());
    }
}
