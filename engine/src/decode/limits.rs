//! The size limits of records (`decode.max_record_bytes`), applied before plugins see them.

use super::{DecodeError, Decoder};
use crate::event::RawBatch;

impl Decoder {
    /// `decode.max_record_bytes`: larger records are refused.
    pub fn max_record_bytes(&self) -> usize {
        self.max_record_bytes
    }

    /// The records of `batch` no larger than `decode.max_record_bytes`, in a batch of their
    /// own (same partition, timestamps, offsets and lines), and the larger ones with the
    /// reason (their row in `batch`); `None` when every record is small enough.
    pub fn without_oversized(
        &self,
        batch: &RawBatch,
    ) -> Option<(RawBatch, Vec<(u32, DecodeError)>)> {
        let limit = self.max_record_bytes;
        if (0..batch.len()).all(|row| batch.payload(row).len() <= limit) {
            return None;
        }
        let mut kept = RawBatch::with_capacity(batch.len(), batch.data.len().min(limit));
        kept.partition = batch.partition;
        kept.blank_lines = batch.blank_lines;
        let mut refused = Vec::new();
        for row in 0..batch.len() {
            let payload = batch.payload(row);
            if payload.len() > limit {
                refused.push((
                    row as u32,
                    DecodeError::RecordTooLarge(payload.len(), limit),
                ));
                continue;
            }
            match (batch.source_offsets.get(row), batch.lines.get(row)) {
                (Some(&offset), _) => kept.push_at(payload, batch.timestamps[row], offset),
                (None, Some(&line)) => kept.push_line(payload, batch.timestamps[row], line),
                (None, None) => kept.push(payload, batch.timestamps[row]),
            }
        }
        Some((kept, refused))
    }
}
