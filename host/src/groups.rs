//! The table of open groups (one key in one window) and the slot numbers that name them inside
//! aggregator plugins.

use std::collections::{BTreeSet, HashMap};

use crate::window::Window;

/// An open group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its window.
    pub window: Window,
    /// Its key.
    pub key: String,
}

/// Open groups by window and key, with small, reused slot numbers.
#[derive(Debug, Default)]
pub struct GroupTable {
    windows: HashMap<Window, HashMap<String, u32>>,
    by_end: BTreeSet<(i64, i64)>,
    groups: Vec<Option<Group>>,
    free: Vec<u32>,
    open: usize,
}

impl GroupTable {
    /// The slot of `(window, key)`, opening the group if needed.
    pub fn slot(&mut self, window: Window, key: &str) -> u32 {
        let keys = self.windows.entry(window).or_insert_with(|| {
            self.by_end.insert((window.end, window.start));
            HashMap::new()
        });
        if let Some(&slot) = keys.get(key) {
            return slot;
        }
        let group = Group {
            window,
            key: key.to_string(),
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.groups[slot as usize] = Some(group);
                slot
            }
            None => {
                self.groups.push(Some(group));
                (self.groups.len() - 1) as u32
            }
        };
        keys.insert(key.to_string(), slot);
        self.open += 1;
        slot
    }

    /// Closes every group whose window ends at or before `watermark`, in window order, and
    /// returns them with their slots. The slots stay reserved until [`GroupTable::free`].
    pub fn close_until(&mut self, watermark: i64) -> Vec<(u32, Group)> {
        let mut closed = Vec::new();
        while let Some(&(end, start)) = self.by_end.first() {
            if end > watermark {
                break;
            }
            self.by_end.pop_first();
            let window = Window { start, end };
            let mut keys: Vec<(String, u32)> = self
                .windows
                .remove(&window)
                .unwrap_or_default()
                .into_iter()
                .collect();
            keys.sort_unstable();
            for (_, slot) in keys {
                if let Some(group) = self.groups.get_mut(slot as usize).and_then(Option::take) {
                    self.open -= 1;
                    closed.push((slot, group));
                }
            }
        }
        closed
    }

    /// Makes slots available for new groups (after the plugins released them).
    pub fn free(&mut self, slots: impl IntoIterator<Item = u32>) {
        self.free.extend(slots);
    }

    /// Number of open groups.
    pub fn len(&self) -> usize {
        self.open
    }

    /// Whether no group is open.
    pub fn is_empty(&self) -> bool {
        self.open == 0
    }

    /// Number of open windows.
    pub fn windows(&self) -> usize {
        self.windows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_stable_reused_and_closed_in_window_order() {
        let mut table = GroupTable::default();
        let w1 = Window { start: 0, end: 10 };
        let w2 = Window { start: 10, end: 20 };
        let a1 = table.slot(w1, "a");
        let b2 = table.slot(w2, "b");
        let b1 = table.slot(w1, "b");
        assert_eq!(table.slot(w1, "a"), a1);
        assert_eq!([a1, b2, b1], [0, 1, 2]);
        assert!(table.close_until(9).is_empty());
        let closed = table.close_until(10);
        assert_eq!(
            closed
                .iter()
                .map(|(s, g)| (*s, g.key.as_str()))
                .collect::<Vec<_>>(),
            [(a1, "a"), (b1, "b")]
        );
        table.free(closed.into_iter().map(|(s, _)| s));
        let c2 = table.slot(w2, "c");
        assert!(c2 == a1 || c2 == b1);
        assert_eq!(table.len(), 2);
        assert_eq!(table.windows(), 1);
    }
}
