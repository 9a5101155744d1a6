//! Early-firing triggers: when a group emits a partial result before its window ends.

use crate::config::TriggerConfig;

/// A trigger in milliseconds and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    count: Option<u64>,
    interval_ms: Option<i64>,
    last_fire_ms: Option<i64>,
}

impl Trigger {
    /// The trigger a config describes.
    pub fn from_config(config: &TriggerConfig) -> Self {
        let ms = |d: &std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let (count, interval_ms) = match config {
            TriggerConfig::EventTime => (None, None),
            TriggerConfig::ProcessingTime { interval } => (None, Some(ms(interval))),
            TriggerConfig::Count { count } => (Some(*count), None),
            TriggerConfig::CountOrTime { count, interval } => (Some(*count), Some(ms(interval))),
        };
        Self {
            count,
            interval_ms,
            last_fire_ms: None,
        }
    }

    /// Whether results come only when the watermark completes a window (no early results).
    pub fn is_event_time(&self) -> bool {
        self.count.is_none() && self.interval_ms.is_none()
    }

    /// Whether the trigger fires early by count at all.
    pub fn counts(&self) -> bool {
        self.count.is_some()
    }

    /// Whether a group with `pending` events since its last result fires early by count.
    pub fn count_fires(&self, pending: u64) -> bool {
        self.count.is_some_and(|count| pending >= count)
    }

    /// Whether the processing-time interval has run out at `now_ms`; starts the clock at the
    /// first call and restarts it whenever it fires.
    pub fn time_fires(&mut self, now_ms: i64) -> bool {
        let Some(interval) = self.interval_ms else {
            return false;
        };
        match self.last_fire_ms {
            None => {
                self.last_fire_ms = Some(now_ms);
                false
            }
            Some(last) if now_ms.saturating_sub(last) >= interval => {
                self.last_fire_ms = Some(now_ms);
                true
            }
            Some(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn count_or_time() {
        let mut t = Trigger::from_config(&TriggerConfig::CountOrTime {
            count: 3,
            interval: Duration::from_millis(100),
        });
        assert!(!t.count_fires(2) && t.count_fires(3));
        assert!(!t.time_fires(1_000));
        assert!(!t.time_fires(1_099));
        assert!(t.time_fires(1_100));
        assert!(!t.time_fires(1_150));
        let mut e = Trigger::from_config(&TriggerConfig::EventTime);
        assert!(!e.count_fires(u64::MAX) && !e.time_fires(i64::MAX));
    }
}
