//! Records deleted before they were read: a partition's position fell out of its log
//! (retention on a real broker, or the embedded cluster's limit of 100 000 records or 5 MB
//! per partition). Never silent: an error log, `eddy_offset_resets_total` and
//! `eddy_records_skipped_total`, and `kafka.on_reset` decides — stop (the default; readiness
//! false with the reason) or continue from the earliest record left.
//!
//! librdkafka reports the reset (`auto.offset.reset=error`) without saying which partition, and
//! a broker that is still loading its logs after a restart can answer "out of range" for a
//! position that is fine: every assigned partition's position is compared with its log, twice a
//! second apart, before records count as lost; the others continue where they were.

use std::collections::BTreeMap;
use std::time::Duration;

use eddy_engine::config::OnReset;

use super::KafkaRun;
use crate::kafka::KafkaError;
use crate::metrics::PartitionLabels;
use crate::pipeline::PipelineError;

/// How often a partition's position is compared with its log before records count as lost.
const CHECKS: usize = 3;
/// Between two checks.
const RECHECK: Duration = Duration::from_secs(1);

impl KafkaRun {
    /// Handles the consumer's offset-reset error `error` (after the round's records were
    /// processed, so the pipeline's positions are current).
    pub(super) fn offset_reset(&mut self, error: &str) -> Result<(), PipelineError> {
        let read: BTreeMap<u32, i64> = self
            .pipeline
            .progress()
            .iter()
            .map(|p| (p.partition, p.read_to))
            .collect();
        let mut positions = self.consumer.positions(&read)?;
        for _ in 1..CHECKS {
            if !positions
                .iter()
                .any(|&(_, position, low, high)| lost(position, low, high))
            {
                break;
            }
            std::thread::sleep(RECHECK);
            positions = self.consumer.positions(&read)?;
        }
        let mut restart = Vec::with_capacity(positions.len());
        for (partition, position, low, high) in positions {
            let mut from = position;
            if lost(position, low, high) {
                self.records_lost(partition, position, low)?;
                from = low;
            }
            restart.push((partition, from));
        }
        // The reported error stopped the partition's fetcher: fetching continues here. (With
        // no known position the partition had no committed one: its explicit start stands.)
        if !restart.is_empty() {
            self.consumer.restart_at(&restart)?;
        }
        tracing::debug!(%error, "offset reset handled");
        Ok(())
    }

    /// Counts and logs records `position..earliest` of `partition` as deleted before they
    /// were read; with `kafka.on_reset: stop`, stops.
    fn records_lost(
        &mut self,
        partition: u32,
        position: i64,
        earliest: i64,
    ) -> Result<(), PipelineError> {
        let skipped = u64::try_from(earliest - position).unwrap_or(0);
        let labels = PartitionLabels {
            partition: i64::from(partition),
        };
        self.metrics.offset_resets.get_or_create(&labels).inc();
        self.metrics
            .records_skipped
            .get_or_create(&labels)
            .inc_by(skipped);
        let what = format!(
            "partition {partition} of `{}`: records {position}..{earliest} were deleted before they were read ({skipped} lost)",
            self.consumer.topic()
        );
        if self.on_reset == OnReset::Stop {
            tracing::error!(
                partition,
                position,
                earliest,
                skipped,
                "{what}; kafka.on_reset is stop"
            );
            self.health.set_unready(what.clone());
            return Err(KafkaError::OffsetReset(format!(
                "{what}; stopping (kafka.on_reset: stop; set it to `continue` to skip them)"
            ))
            .into());
        }
        tracing::error!(
            partition,
            position,
            earliest,
            skipped,
            "{what}; continuing from the earliest record left"
        );
        Ok(())
    }
}

/// Whether a position is before a log that starts at `low` (and is not still loading).
fn lost(position: i64, low: i64, high: i64) -> bool {
    position < low && low <= high
}
