//! Slots by a time (a window's end, or its expiry): the group table's queues of what fires and
//! what expires next.

use std::collections::BTreeMap;

use smallvec::SmallVec;

/// Slots filed under a time, taken out earliest first. Entries are not removed when their group
/// closes or moves to another time: the taker checks each one against the group table and skips
/// what no longer holds. The groups of one window share its end, so a tumbling or sliding window
/// costs one map entry however many keys it has, and adding a group is a push.
#[derive(Debug, Default)]
pub struct ByTime {
    slots: BTreeMap<i64, SmallVec<[u32; 4]>>,
}

impl ByTime {
    /// Files `slot` under `time`.
    pub fn insert(&mut self, time: i64, slot: u32) {
        self.slots.entry(time).or_default().push(slot);
    }

    /// Takes out every entry filed at or before `limit` and returns the slots for which
    /// `holds(time, slot)` is true, by time, then slot, each once.
    pub fn take_until(&mut self, limit: i64, mut holds: impl FnMut(i64, u32) -> bool) -> Vec<u32> {
        let mut taken = Vec::new();
        while let Some(entry) = self.slots.first_entry() {
            if *entry.key() > limit {
                break;
            }
            let (time, mut slots) = entry.remove_entry();
            slots.sort_unstable();
            slots.dedup();
            taken.extend(slots.into_iter().filter(|&slot| holds(time, slot)));
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_in_time_then_slot_order_once_and_only_what_holds() {
        let mut by_time = ByTime::default();
        for (time, slot) in [(20, 1), (10, 5), (10, 2), (10, 5), (30, 0), (20, 9)] {
            by_time.insert(time, slot);
        }
        assert_eq!(by_time.take_until(5, |_, _| true), Vec::<u32>::new());
        assert_eq!(by_time.take_until(20, |_, slot| slot != 9), [2, 5, 1]);
        assert_eq!(by_time.take_until(20, |_, _| true), Vec::<u32>::new());
        assert_eq!(by_time.take_until(i64::MAX, |time, _| time == 30), [0]);
    }
}
