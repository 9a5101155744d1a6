//! Event-time watermarks: bounded out-of-orderness per source partition, combined as the
//! minimum over active partitions.
//!
//! A watermark `W` promises that no more events with a time before `W` will arrive: events at
//! `W` or later are on time. With a bound `B`, a partition's watermark is the largest event time
//! it delivered minus `B`, so an event exactly `B` behind the newest one is still on time. The
//! pipeline's watermark is the minimum over partitions that are not idle (a partition is idle
//! once it delivered nothing for the idle timeout, in processing time); it moves at most once per
//! emission interval and never backwards. A window `[start, end)` is complete once `W >= end`.

use std::collections::BTreeMap;

/// Watermark settings in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatermarkSettings {
    /// Out-of-orderness bound.
    pub bound_ms: i64,
    /// Least processing time between advances (0: every time).
    pub interval_ms: i64,
    /// Idle timeout, if any.
    pub idle_timeout_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy)]
struct Partition {
    max_seen: Option<i64>,
    last_active_ms: i64,
}

/// The pipeline's watermark.
#[derive(Debug, Clone)]
pub struct Watermarks {
    settings: WatermarkSettings,
    partitions: BTreeMap<u32, Partition>,
    current: i64,
    last_advance_ms: Option<i64>,
}

impl Watermarks {
    /// A watermark at the beginning of time.
    pub fn new(settings: WatermarkSettings) -> Self {
        Self {
            settings,
            partitions: BTreeMap::new(),
            current: i64::MIN,
            last_advance_ms: None,
        }
    }

    /// Notes that `partition` delivered records at processing time `now_ms`.
    pub fn touch(&mut self, partition: u32, now_ms: i64) {
        self.partitions
            .entry(partition)
            .and_modify(|p| p.last_active_ms = p.last_active_ms.max(now_ms))
            .or_insert(Partition {
                max_seen: None,
                last_active_ms: now_ms,
            });
    }

    /// Notes an event time from `partition` (after [`Watermarks::touch`]).
    pub fn observe(&mut self, partition: u32, time: i64) {
        if let Some(p) = self.partitions.get_mut(&partition) {
            p.max_seen = Some(p.max_seen.map_or(time, |m| m.max(time)));
        }
    }

    /// Forgets a partition (it was revoked); it no longer holds the watermark back.
    pub fn remove(&mut self, partition: u32) {
        self.partitions.remove(&partition);
    }

    /// Moves the watermark at processing time `now_ms`, unless it moved less than the interval
    /// ago, and returns it. Idle partitions and partitions without events do not count; with
    /// none left, the watermark stays.
    pub fn advance(&mut self, now_ms: i64) -> i64 {
        if let Some(last) = self.last_advance_ms
            && now_ms.saturating_sub(last) < self.settings.interval_ms
        {
            return self.current;
        }
        let idle = self.settings.idle_timeout_ms;
        let candidate = self
            .partitions
            .values()
            .filter(|p| {
                idle.is_none_or(|timeout| now_ms.saturating_sub(p.last_active_ms) <= timeout)
            })
            .filter_map(|p| p.max_seen)
            .map(|max| max.saturating_sub(self.settings.bound_ms))
            .min();
        if let Some(candidate) = candidate {
            self.current = self.current.max(candidate);
        }
        self.last_advance_ms = Some(now_ms);
        self.current
    }

    /// Starts from `watermark` (the one a previous owner of the source reached): the
    /// watermark never goes below it.
    pub fn resume(&mut self, watermark: i64) {
        self.current = self.current.max(watermark);
    }

    /// The largest event time seen per partition (for snapshots).
    pub fn max_seen(&self) -> Vec<(u32, i64)> {
        self.partitions
            .iter()
            .filter_map(|(&p, state)| state.max_seen.map(|m| (p, m)))
            .collect()
    }

    /// Restores the largest event times seen per partition (from a snapshot); they count as
    /// active until the idle timeout says otherwise.
    pub fn restore_max_seen(&mut self, max_seen: &[(u32, i64)], now_ms: i64) {
        for &(partition, max) in max_seen {
            self.touch(partition, now_ms);
            self.observe(partition, max);
        }
    }

    /// Moves the watermark to the end of time: the input has ended.
    pub fn close(&mut self) -> i64 {
        self.current = i64::MAX;
        self.current
    }

    /// The watermark now.
    pub fn current(&self) -> i64 {
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(interval_ms: i64, idle_timeout_ms: Option<i64>) -> WatermarkSettings {
        WatermarkSettings {
            bound_ms: 100,
            interval_ms,
            idle_timeout_ms,
        }
    }

    #[test]
    fn trails_by_the_bound_and_never_goes_back() {
        let mut w = Watermarks::new(settings(0, None));
        assert_eq!(w.advance(0), i64::MIN);
        w.touch(0, 0);
        w.observe(0, 1_000);
        assert_eq!(w.advance(0), 900);
        w.observe(0, 500);
        assert_eq!(w.advance(0), 900);
        w.observe(0, 1_050);
        assert_eq!(w.advance(0), 950);
        assert_eq!(w.close(), i64::MAX);
    }

    #[test]
    fn slowest_partition_holds_it_back_until_idle() {
        let mut w = Watermarks::new(settings(0, Some(1_000)));
        w.touch(0, 0);
        w.observe(0, 5_000);
        w.touch(1, 0);
        w.observe(1, 2_000);
        assert_eq!(w.advance(0), 1_900);
        w.touch(0, 1_500);
        w.observe(0, 6_000);
        assert_eq!(
            w.advance(1_000),
            1_900,
            "partition 1 is exactly at the idle timeout"
        );
        assert_eq!(w.advance(1_001), 5_900, "partition 1 is idle");
        w.touch(1, 1_600);
        w.observe(1, 2_500);
        assert_eq!(
            w.advance(1_600),
            5_900,
            "never backwards when partition 1 returns"
        );
    }

    #[test]
    fn advances_at_most_once_per_interval() {
        let mut w = Watermarks::new(settings(200, None));
        w.touch(0, 0);
        w.observe(0, 1_000);
        assert_eq!(w.advance(0), 900);
        w.observe(0, 2_000);
        assert_eq!(w.advance(199), 900);
        assert_eq!(w.advance(200), 1_900);
    }
}
