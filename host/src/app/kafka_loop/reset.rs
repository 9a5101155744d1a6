//! Records deleted before they were read: a partition's position fell out of its log
//! (retention on a real broker, or the embedded cluster's limit of 100 000 records or 5 MB
//! per partition). Never silent: an error log, `eddy_offset_resets_total` and
//! `eddy_records_skipped_total`, and `kafka.on_reset` decides — stop (the default; readiness
//! false with the reason) or continue from the earliest record left.

use eddy_engine::config::OnReset;

use super::KafkaRun;
use crate::kafka::KafkaError;
use crate::metrics::PartitionLabels;
use crate::pipeline::PipelineError;

impl KafkaRun {
    /// Handles the consumer's offset-reset error `error` for every partition it concerns.
    pub(super) fn offset_reset(&mut self, error: &str) -> Result<(), PipelineError> {
        let read = self
            .pipeline
            .progress()
            .iter()
            .map(|p| (p.partition, p.read_to))
            .collect();
        let lost = self.consumer.out_of_range(&read)?;
        if lost.is_empty() {
            // A partition without a committed position, before its explicit start applied.
            tracing::debug!(%error, "offset reset reported for a partition that had no position");
        }
        for (partition, position, earliest, was_committed) in lost {
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
            if self.on_reset == OnReset::Stop && was_committed {
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
            self.consumer.seek_to(partition, earliest)?;
        }
        Ok(())
    }
}
