//! `state.max_open_groups`: whether an event would open more groups (key and window) than a
//! partition may hold.

use super::Operator;

impl Operator {
    /// Whether the event of `key` at `time` (whose windows are in `self.windows`) would pass
    /// the limit; `to_slice`: it goes to a slice of sliding windows, whose windows count as
    /// open from the slice's first event.
    pub(super) fn refuses(&self, key: &str, time: i64, watermark: i64, to_slice: bool) -> bool {
        let open = self.open_groups();
        if open + self.windows.len() <= self.max_open_groups {
            return false;
        }
        let opens = match self.slices.as_ref().filter(|_| to_slice) {
            Some(slices) => slices.would_open(key, time, watermark),
            None => self
                .groups
                .would_open(key, &self.windows, self.assigner.is_merging()),
        };
        open + opens > self.max_open_groups
    }
}
