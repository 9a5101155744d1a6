//! Writing what a batch made: records that did not decode or were refused to the dead-letter
//! output, late events to theirs, and results.

use eddy_engine::decode::DecodedBatch;
use eddy_engine::event::{RawBatch, now_ms};
use eddy_engine::operator::Output;

use super::{Pipeline, PipelineError, count_trap};
use crate::plugin::PluginError;
use crate::sink::SideRecord;

impl Pipeline {
    /// Sends the rows of `batch` that could not be decoded to the dead-letter output, each
    /// with its reason.
    pub(super) fn dead_letter_rows(
        &mut self,
        batch: &RawBatch,
        errors: &[(u32, eddy_engine::decode::DecodeError)],
    ) -> Result<(), PipelineError> {
        if errors.is_empty() {
            return Ok(());
        }
        let reasons: Vec<String> = errors.iter().map(|(_, e)| e.to_string()).collect();
        // An oversized record goes out cut to the limit (its size is in the reason).
        let limit = self.decoder.max_record_bytes();
        let records: Vec<SideRecord<'_>> = errors
            .iter()
            .zip(&reasons)
            .map(|((row, _), reason)| {
                let record = SideRecord::of(batch, *row as usize, reason);
                SideRecord {
                    payload: &record.payload[..record.payload.len().min(limit)],
                    ..record
                }
            })
            .collect();
        self.stats.dead_letters += records.len() as u64;
        self.outputs.dead_letter.side(&records)?;
        Ok(())
    }

    /// Writes what the operator made of `batch`'s decoded events: late events, events refused
    /// for the group limit, and the results the batch made due.
    pub(super) fn write_events(
        &mut self,
        batch: &RawBatch,
        decoded: &DecodedBatch,
        out: Result<Output, PluginError>,
        replayed: u64,
    ) -> Result<(), PipelineError> {
        let key = self.operator_key(batch.partition);
        if let Ok(out) = &out {
            self.shadows.observe(key, out);
        }
        self.stats.replayed += replayed;
        let out = count_trap(&mut self.stats, out)?;
        if !out.refused.is_empty() {
            let reason = format!(
                "partition {} holds state.max_open_groups ({}) open groups: the event would open another",
                batch.partition, self.config.state.max_open_groups
            );
            let records: Vec<SideRecord<'_>> = out
                .refused
                .iter()
                .map(|&event| SideRecord::of(batch, decoded.rows[event] as usize, &reason))
                .collect();
            self.stats.dead_letters += records.len() as u64;
            self.stats.group_limit_refused += records.len() as u64;
            self.outputs.dead_letter.side(&records)?;
        }
        if !out.late.is_empty() {
            let records: Vec<SideRecord<'_>> = out
                .late
                .iter()
                .map(|late| SideRecord {
                    late: Some((late.watermark, late.time)),
                    ..SideRecord::of(batch, decoded.rows[late.event] as usize, "late")
                })
                .collect();
            self.stats.late += records.len() as u64;
            self.outputs.late.side(&records)?;
        }
        self.write(batch.partition, out)
    }

    /// Sends every record of `batch` to the dead-letter output with `reason`, unprocessed.
    /// The records are accounted for: the partition's position moves past them, so neither a
    /// commit nor a checkpoint sends them round again.
    pub fn dead_letter(&mut self, batch: &RawBatch, reason: &str) -> Result<(), PipelineError> {
        if let Some(&last) = batch.source_offsets.last() {
            self.account_for(batch.partition, last);
        }
        let records: Vec<SideRecord<'_>> = (0..batch.len())
            .map(|row| SideRecord::of(batch, row, reason))
            .collect();
        self.stats.dead_letters += records.len() as u64;
        self.outputs.dead_letter.side(&records)?;
        Ok(())
    }

    /// Writes `partition`'s dropped windows and results (observing their event-time lag).
    pub(super) fn write(&mut self, partition: u32, out: Output) -> Result<(), PipelineError> {
        if !out.dropped.is_empty() {
            self.write_dropped(partition, &out.dropped)?;
        }
        if out.results.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        for emitted in out.results {
            if let Some(lag) = &self.emit_lag {
                for group in &emitted.groups {
                    lag.observe(now.saturating_sub(group.window.end).max(0) as f64 / 1e3);
                }
            }
            let written = self.outputs.results.results(emitted, &mut self.scratch)?;
            self.stats.results += written as u64;
        }
        self.outputs.results.flush_soon()?;
        Ok(())
    }
}
