//! The table of open groups (one key in one window): their slot numbers inside the aggregator
//! plugins, when they fire, when they expire, and session merging.

mod by_time;
mod changes;

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;
use smallvec::SmallVec;

use crate::window::Window;
use by_time::ByTime;
use changes::Changes;
pub use changes::GroupChanges;

/// An open group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its window.
    pub window: Window,
    /// Its key.
    pub key: Arc<str>,
    /// Whether the watermark has passed the window's end (its `on_time` result is out, or it
    /// was opened behind the watermark): changes now emit `late_update`s.
    pub fired: bool,
    /// Events added since its last result.
    pub pending: u64,
    /// Lowest source offset of the events in it (`i64::MAX` when the source has none): the
    /// source must be read again from here if this group's state were lost.
    pub first_offset: i64,
}

/// A key's open windows and their slots.
type Windows = SmallVec<[(Window, u32); 2]>;

/// A key's entry: its name, shared by its groups (a new group of a known key allocates
/// nothing for it), and its open windows.
#[derive(Debug)]
struct KeyEntry {
    name: Arc<str>,
    windows: Windows,
}

/// A key's bytes, held in the table's entry up to 24 bytes (ids, names, UUIDs in their short
/// forms): comparing a looked-up key then reads no other memory.
type Key = SmallVec<[u8; 24]>;

/// Open groups by key and window, with small, reused slot numbers.
#[derive(Debug, Default)]
pub struct GroupTable {
    /// Each key's open windows and their slots, held in the table's entry (a key has one or
    /// two open windows in most jobs): looking up an event's group touches one entry.
    keys: HashMap<Key, KeyEntry, RandomState>,
    /// Entries of `keys` with no open window, kept for the key's next window (most keys come
    /// back) until they outnumber `peak_keys` (and 1 024).
    idle_keys: usize,
    /// The most keys with open windows at once since the last sweep of idle entries.
    peak_keys: usize,
    groups: Vec<Option<Group>>,
    free: Vec<u32>,
    /// Open groups, slices included.
    open: usize,
    /// Open slices of sliding windows (see [`GroupTable::open_slice`]).
    slices: usize,
    /// Unfired groups by their window's end (entries may be stale: see [`ByTime`]).
    by_end: ByTime,
    /// Groups by the end of their allowed lateness (entries may be stale).
    by_expiry: ByTime,
    lateness: i64,
    /// Changes since the last checkpoint (once one asked for them).
    changes: Changes,
}

impl GroupTable {
    /// A table whose groups expire `lateness_ms` after their window ends.
    pub fn new(lateness_ms: i64) -> Self {
        Self {
            lateness: lateness_ms,
            ..Self::default()
        }
    }

    fn expiry(&self, window: Window) -> i64 {
        expiry(window, self.lateness)
    }

    /// The latest end of an open group's window (`None` when no group is open).
    pub fn latest_end(&self) -> Option<i64> {
        self.groups.iter().flatten().map(|g| g.window.end).max()
    }

    /// Whether a window is past its allowed lateness at `watermark`.
    pub fn is_expired(&self, window: Window, watermark: i64) -> bool {
        self.expiry(window) <= watermark
    }

    /// A slot for no group (a slice of sliding windows, a copy of one), kept from new groups
    /// until [`GroupTable::free`].
    pub fn reserve(&mut self) -> u32 {
        self.free.pop().unwrap_or_else(|| {
            self.groups.push(None);
            (self.groups.len() - 1) as u32
        })
    }

    /// Opens a group for `window`, filed by its end (unless `timed` is false: a slice of
    /// sliding windows, which never fires or expires by itself).
    fn insert(&mut self, key: &str, window: Window, watermark: i64, timed: bool) -> u32 {
        let slot = self.reserve();
        let entries = self.keys.len();
        let name = match self.keys.get_mut(key.as_bytes()) {
            Some(entry) => {
                if entry.windows.is_empty() {
                    self.idle_keys -= 1;
                    self.peak_keys = self.peak_keys.max(entries - self.idle_keys);
                }
                entry.windows.push((window, slot));
                Arc::clone(&entry.name)
            }
            None => {
                let name: Arc<str> = Arc::from(key);
                let mut windows = Windows::new();
                windows.push((window, slot));
                let entry = KeyEntry {
                    name: Arc::clone(&name),
                    windows,
                };
                self.keys.insert(Key::from_slice(key.as_bytes()), entry);
                self.peak_keys = self.peak_keys.max(self.keys.len() - self.idle_keys);
                name
            }
        };
        self.groups[slot as usize] = Some(Group {
            window,
            key: name,
            fired: window.end <= watermark,
            pending: 0,
            first_offset: i64::MAX,
        });
        self.changes.mark(slot);
        if timed {
            if window.end > watermark {
                self.by_end.insert(window.end, slot);
            }
            self.by_expiry.insert(self.expiry(window), slot);
        } else {
            self.slices += 1;
        }
        self.open += 1;
        slot
    }

    /// Opens the group of a slice of sliding windows: it neither fires nor expires, and is not
    /// counted among the open groups ([`GroupTable::len`]); its owner closes it
    /// ([`GroupTable::remove_slice`]).
    pub fn open_slice(&mut self, key: &str, slice: Window) -> u32 {
        // Never fired: its events go to windows that have not fired.
        self.insert(key, slice, i64::MIN, false)
    }

    /// The slot of `key`'s open group for `window`, if there is one.
    pub fn find(&self, key: &str, window: Window) -> Option<u32> {
        let entry = self.keys.get(key.as_bytes())?;
        entry
            .windows
            .iter()
            .find(|(w, _)| *w == window)
            .map(|&(_, slot)| slot)
    }

    /// The slot of `(key, window)` for a non-merging assigner, opening the group if needed.
    /// The caller has checked that the window is not expired.
    pub fn slot(&mut self, key: &str, window: Window, watermark: i64) -> u32 {
        match self.find(key, window) {
            Some(slot) => slot,
            None => self.insert(key, window, watermark, true),
        }
    }

    /// Adds the session window `window` of `key`: merges it with every session of the key it
    /// touches. Returns the slot of the resulting session and the slots merged into it (closed
    /// here; the caller merges their plugin state and then frees them), or `None` when the
    /// window touches no session and is itself expired (the event is late).
    pub fn session(
        &mut self,
        key: &str,
        window: Window,
        watermark: i64,
    ) -> Option<(u32, Vec<u32>)> {
        let mut touching: Windows = self
            .keys
            .get(key.as_bytes())
            .map(|entry| {
                entry
                    .windows
                    .iter()
                    .copied()
                    .filter(|(w, _)| w.touches(&window))
                    .collect()
            })
            .unwrap_or_default();
        // The earliest session keeps its slot and the others merge into it in time order: the
        // same merges (and so the same floating-point results) whatever order the key's
        // sessions are held in, live or restored from a snapshot.
        touching.sort_unstable_by_key(|(w, _)| (w.start, w.end));
        let Some(&(first, target)) = touching.first() else {
            if self.is_expired(window, watermark) {
                return None;
            }
            return Some((self.insert(key, window, watermark, true), Vec::new()));
        };
        let mut covered = first.cover(&window);
        let mut pending = 0;
        let mut first_offset = i64::MAX;
        let mut sources = Vec::new();
        for &(w, slot) in &touching[1..] {
            covered = covered.cover(&w);
            if let Some(group) = self.close(slot) {
                pending += group.pending;
                // The merged session holds the sources' events: it must be read again from
                // the lowest of their offsets too.
                first_offset = first_offset.min(group.first_offset);
            }
            sources.push(slot);
        }
        // The session keeps its entries by time: an unfired one has one at or before its old
        // end, and every open one at or before its old expiry; `due` and `expire` file them
        // again under the new times when they come to them (an event that extends a session,
        // the common case, then files nothing). A fired session that reopens needs a new one.
        let was_fired = self.groups[target as usize]
            .as_ref()
            .is_none_or(|group| group.fired);
        if was_fired && covered.end > watermark {
            self.by_end.insert(covered.end, target);
        }
        if let Some(entry) = self.keys.get_mut(key.as_bytes())
            && let Some(open) = entry.windows.iter_mut().find(|(_, s)| *s == target)
        {
            open.0 = covered;
        }
        self.changes.mark(target);
        if let Some(group) = self.groups[target as usize].as_mut() {
            if group.window != covered {
                self.changes.close(&group.key, group.window);
            }
            group.window = covered;
            group.pending += pending;
            group.first_offset = group.first_offset.min(first_offset);
            group.fired = covered.end <= watermark;
        }
        Some((target, sources))
    }

    /// Removes a group from the table (its entries by time go stale); its slot stays reserved
    /// until [`GroupTable::free`].
    fn close(&mut self, slot: u32) -> Option<Group> {
        let group = self.groups.get_mut(slot as usize)?.take()?;
        self.changes.close(&group.key, group.window);
        self.open -= 1;
        if let Some(entry) = self.keys.get_mut(group.key.as_bytes()) {
            entry.windows.retain(|(_, s)| *s != slot);
            if entry.windows.is_empty() {
                self.idle_keys += 1;
            }
        }
        // Kept idle entries are bounded by the most keys open at once since the last sweep:
        // a key space that keeps changing is swept (each sweep paid for by the closes before
        // it), one whose windows all close together and reopen is not.
        if self.idle_keys > self.peak_keys.max(1024) {
            self.keys.retain(|_, entry| !entry.windows.is_empty());
            self.idle_keys = 0;
            self.peak_keys = self.keys.len();
        }
        Some(group)
    }

    /// Marks every group whose window ends at or before `watermark` as fired and returns their
    /// slots, earliest end first.
    pub fn due(&mut self, watermark: i64) -> Vec<u32> {
        let groups = &mut self.groups;
        let mut later = Vec::new();
        let due = self.by_end.take_until(watermark, |end, slot| {
            match groups.get_mut(slot as usize).and_then(Option::as_mut) {
                Some(group) if !group.fired && group.window.end <= watermark => {
                    group.fired = true;
                    true
                }
                // A session that grew since it was filed here.
                Some(group) if !group.fired && group.window.end > end => {
                    later.push((group.window.end, slot));
                    false
                }
                _ => false,
            }
        });
        for (end, slot) in later {
            self.by_end.insert(end, slot);
        }
        for &slot in &due {
            self.changes.mark(slot);
        }
        due
    }

    /// Closes and returns every group past its allowed lateness at `watermark`. Their slots
    /// stay reserved until [`GroupTable::free`].
    pub fn expire(&mut self, watermark: i64) -> Vec<(u32, Group)> {
        let lateness = self.lateness;
        let groups = &self.groups;
        let mut later = Vec::new();
        let due = self.by_expiry.take_until(watermark, |filed, slot| {
            let Some(group) = groups.get(slot as usize).and_then(Option::as_ref) else {
                return false;
            };
            let expiry = self::expiry(group.window, lateness);
            if expiry > watermark && expiry > filed {
                // A session that grew since it was filed here.
                later.push((expiry, slot));
            }
            expiry <= watermark
        });
        for (expiry, slot) in later {
            self.by_expiry.insert(expiry, slot);
        }
        // A group can be taken under two of its times at once: closed once.
        due.into_iter()
            .filter_map(|slot| self.close(slot).map(|group| (slot, group)))
            .collect()
    }

    /// The group in `slot`.
    pub fn get(&self, slot: u32) -> Option<&Group> {
        self.groups.get(slot as usize).and_then(Option::as_ref)
    }

    /// The group in `slot`, to change it (recorded as changed for the next incremental
    /// checkpoint).
    pub fn get_mut(&mut self, slot: u32) -> Option<&mut Group> {
        self.changes.mark(slot);
        self.groups.get_mut(slot as usize).and_then(Option::as_mut)
    }

    /// The groups changed and closed since the last call (the first call starts tracking
    /// and returns nothing: the caller saves every group then).
    pub fn take_changes(&mut self) -> GroupChanges {
        self.changes.take()
    }

    /// Forgets the changes recorded so far: every group is being saved.
    pub fn restart_changes(&mut self) {
        self.changes.restart();
    }

    /// Slots of the groups that have not fired and received events since their last result.
    pub fn pending_unfired(&self) -> Vec<u32> {
        self.groups
            .iter()
            .enumerate()
            .filter_map(|(slot, g)| {
                g.as_ref()
                    .filter(|g| !g.fired && g.pending > 0)
                    .map(|_| slot as u32)
            })
            .collect()
    }

    /// Closes the group in `slot` (before its slot is freed), if open.
    pub fn remove(&mut self, slot: u32) {
        self.close(slot);
    }

    /// Closes the slice in `slot` (before its slot is freed), if open.
    pub fn remove_slice(&mut self, slot: u32) {
        if self.close(slot).is_some() {
            self.slices -= 1;
        }
    }

    /// Makes slots available for new groups (after the plugins released them).
    pub fn free(&mut self, slots: impl IntoIterator<Item = u32>) {
        self.free.extend(slots);
    }

    /// Slots of every open group, lowest first.
    pub fn open_slots(&self) -> Vec<u32> {
        // In slot order: the plugins' tables and the group table are then read front to back
        // (a million groups read in hash order miss the cache on nearly every one).
        if self.open + self.free.len() == self.groups.len() {
            // Every slot not free is open (none closed and reserved): the free list says
            // which, without reading every group.
            let mut free = vec![false; self.groups.len()];
            for &slot in &self.free {
                free[slot as usize] = true;
            }
            return (0..self.groups.len() as u32)
                .filter(|&slot| !free[slot as usize])
                .collect();
        }
        (0..self.groups.len() as u32)
            .filter(|&slot| self.groups[slot as usize].is_some())
            .collect()
    }

    /// Opens a group restored from a snapshot, with its fired flag, pending count and first
    /// offset, and returns its slot.
    /// A slice of sliding windows (`timed` false) is restored as [`GroupTable::open_slice`]
    /// opens one.
    pub fn restore(&mut self, group: Group, timed: bool) -> u32 {
        // A fired group is inserted as if the watermark were at its end (not due again).
        let watermark = if group.fired {
            group.window.end
        } else {
            i64::MIN
        };
        let slot = self.insert(&group.key, group.window, watermark, timed);
        if let Some(restored) = self.get_mut(slot) {
            *restored = group;
        }
        slot
    }

    /// Lowest source offset held by any open group (`i64::MAX` when none).
    pub fn first_offset(&self) -> i64 {
        self.groups
            .iter()
            .flatten()
            .map(|g| g.first_offset)
            .min()
            .unwrap_or(i64::MAX)
    }

    /// How many groups an event of `key` in `windows` would open (`merging`: session
    /// windows, where a key with an open session may grow it instead: counted as none).
    pub fn would_open(&self, key: &str, windows: &[Window], merging: bool) -> usize {
        match self.keys.get(key.as_bytes()).map(|entry| &entry.windows) {
            Some(open) if merging => usize::from(open.is_empty()),
            Some(open) => windows
                .iter()
                .filter(|w| !open.iter().any(|(o, _)| o == *w))
                .count(),
            None => windows.len().min(if merging { 1 } else { usize::MAX }),
        }
    }

    /// Number of open groups (key × window; slices of sliding windows not counted).
    pub fn len(&self) -> usize {
        self.open - self.slices
    }

    /// Whether a group other than a slice is open.
    pub fn has_windows(&self) -> bool {
        self.open > self.slices
    }

    /// Whether no group is open.
    pub fn is_empty(&self) -> bool {
        self.open == 0
    }

    /// Highest slot number ever used, plus one: the size of the plugins' slot tables.
    pub fn slot_capacity(&self) -> usize {
        self.groups.len()
    }

    /// Number of keys with open groups.
    pub fn keys(&self) -> usize {
        self.keys.len() - self.idle_keys
    }
}

/// When a window's group expires: its end plus the allowed lateness.
fn expiry(window: Window, lateness: i64) -> i64 {
    window.end.saturating_add(lateness)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(start: i64, end: i64) -> Window {
        Window { start, end }
    }

    #[test]
    fn slots_are_stable_fire_at_end_and_expire_after_lateness() {
        let mut table = GroupTable::new(5);
        let a1 = table.slot("a", w(0, 10), i64::MIN);
        let b2 = table.slot("b", w(10, 20), i64::MIN);
        let b1 = table.slot("b", w(0, 10), i64::MIN);
        assert_eq!(table.slot("a", w(0, 10), i64::MIN), a1);
        assert_eq!([a1, b2, b1], [0, 1, 2]);
        assert!(table.due(9).is_empty());
        assert_eq!(table.due(10), [a1, b1]);
        assert!(table.get(a1).is_some_and(|g| g.fired));
        assert!(table.expire(14).is_empty());
        let expired = table.expire(15);
        assert_eq!(
            expired.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            [a1, b1]
        );
        table.free(expired.into_iter().map(|(s, _)| s));
        let c2 = table.slot("c", w(10, 20), 15);
        assert!(c2 == a1 || c2 == b1);
        assert_eq!((table.len(), table.keys()), (2, 2));
    }

    /// Open slots come from the free list when every other slot is open, and from the groups
    /// while some are closed but not yet freed: the same either way.
    #[test]
    fn open_slots_skip_free_and_closed_slots() {
        let mut table = GroupTable::new(0);
        for k in 0..6 {
            table.slot(&format!("k{k}"), w(0, 10), i64::MIN);
        }
        table.slot("late", w(10, 20), i64::MIN);
        table.due(10);
        let expired = table.expire(10);
        assert_eq!(expired.len(), 6);
        assert_eq!(table.open_slots(), [6], "closed, not yet freed");
        table.free(expired.into_iter().map(|(s, _)| s));
        assert_eq!(table.open_slots(), [6], "freed");
        let again = table.slot("k0", w(20, 30), i64::MIN);
        let mut want = vec![again, 6];
        want.sort_unstable();
        assert_eq!(table.open_slots(), want);
    }

    #[test]
    fn idle_keys_are_kept_for_their_next_window_and_swept_when_many() {
        let mut table = GroupTable::new(0);
        let cycle = |table: &mut GroupTable, first: u32, keys: u32, end: i64| {
            for k in first..first + keys {
                table.slot(&format!("k{k}"), w(end - 10, end), i64::MIN);
            }
            assert_eq!(table.keys(), keys as usize);
            let due = table.due(end);
            assert_eq!(due.len(), keys as usize);
            let expired = table.expire(end);
            table.free(expired.into_iter().map(|(slot, _)| slot));
            assert_eq!((table.len(), table.keys()), (0, 0));
        };
        // The same 2 000 keys window after window: their entries stay.
        for end in [10, 20, 30] {
            cycle(&mut table, 0, 2_000, end);
            assert_eq!(table.keys.len(), 2_000);
        }
        // New keys every window: idle entries stay below the peak of open keys plus one sweep.
        for round in 1..10 {
            cycle(&mut table, round * 2_000, 2_000, 30 + i64::from(round) * 10);
            assert!(table.keys.len() <= 4_001, "{} entries", table.keys.len());
        }
    }

    #[test]
    fn late_born_groups_are_fired() {
        let mut table = GroupTable::new(100);
        let s = table.slot("a", w(0, 10), 50);
        assert!(table.get(s).is_some_and(|g| g.fired));
        assert!(table.due(1000).is_empty());
    }

    #[test]
    fn a_bridging_session_merges_both_sides() {
        let mut table = GroupTable::new(0);
        let (left, none) = table.session("k", w(0, 10), i64::MIN).expect("open");
        assert!(none.is_empty());
        let (right, _) = table.session("k", w(20, 30), i64::MIN).expect("open");
        table.get_mut(left).expect("left").pending = 2;
        table.get_mut(right).expect("right").pending = 3;
        let (target, sources) = table.session("k", w(10, 20), i64::MIN).expect("bridge");
        assert_eq!((target, sources), (left, vec![right]));
        let merged = table.get(target).expect("merged");
        assert_eq!((merged.window, merged.pending), (w(0, 30), 5));
        assert_eq!(table.len(), 1);
        assert_eq!(table.due(30), [target]);
        assert!(
            table.session("k", w(-50, -40), 30).is_none(),
            "expired lone session"
        );
    }

    /// A merge keeps the earliest session whatever order the sessions were opened in, and the
    /// merged session must be read again from the lowest offset of all the events it holds.
    #[test]
    fn a_merge_keeps_the_lowest_first_offset() {
        let mut table = GroupTable::new(0);
        let (late, _) = table.session("k", w(20, 30), i64::MIN).expect("open");
        table.get_mut(late).expect("late").first_offset = 100;
        let (early, _) = table.session("k", w(0, 10), i64::MIN).expect("open");
        table.get_mut(early).expect("early").first_offset = 200;
        let (target, sources) = table.session("k", w(10, 20), i64::MIN).expect("bridge");
        assert_eq!((target, sources), (early, vec![late]));
        assert_eq!(table.get(target).map(|g| g.first_offset), Some(100));
        assert_eq!(table.first_offset(), 100);
    }
}
