//! Sliding windows by slices. Sliding windows of `size` every `slide` cut time into slices of
//! `gcd(size, slide)`, and every event of a slice belongs to the same windows. A key's slice is
//! a group of its own in the group table (its window is the slice): an event is added to it
//! alone, one call whatever the number of windows. A window has no group while it is open.
//! When the watermark passes its end, its result is read from its slices: straight from the
//! slice when the window holds one and is not kept for late events (one event per key and
//! window, no allowed lateness), otherwise from a group opened then, into which copies of its
//! slices are merged in time order with the plugins' own `save`, `restore` and `merge`. That
//! group fires as any group does and takes late events until it expires. A slice is freed
//! once its last window has fired.
//!
//! A checkpoint holds the slices as groups; a run restored from one reads every window from
//! the same slices in the same order, so it writes exactly the results of a run that was never
//! stopped. A hot swap needs every window as a group: the slices are then
//! merged into all their windows at once (`Operator::materialize_slices`, in `fire.rs`).

mod fire;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use foldhash::fast::RandomState;
use smallvec::SmallVec;

use crate::groups::GroupTable;
use crate::window::{Assigner, Window};

/// A key's bytes (as in the group table).
type Key = SmallVec<[u8; 24]>;

/// A key's live slices, `(start, slot)`, earliest first, and the values of its last window
/// read from them.
#[derive(Debug, Default)]
struct Live {
    slices: SmallVec<[(i64, u32); 4]>,
    known: Option<Known>,
}

/// The slices a window was read from: the first one's start, the last one's start, how many,
/// and the events added to them. A key's live slices are a sorted list that loses slices only
/// at its front (when they die), so the first and last start and the count name the same
/// slices; each slice's count of events only grows, so the same total means the same state.
type Signature = (i64, i64, usize, u64);

/// A key's last window read from its slices: their signature and the window's values.
#[derive(Debug)]
struct Known {
    signature: Signature,
    values: Arc<[f64]>,
}

/// The live slices of sliding windows (those whose last window has not fired), by key.
#[derive(Debug)]
pub(super) struct Slices {
    /// Window length, ms.
    size: i64,
    /// Distance between window starts, ms.
    slide: i64,
    /// Shift of the window starts from the epoch, ms.
    window_offset: i64,
    /// Slice length, ms.
    length: i64,
    /// Shift of the slice boundaries from the epoch, ms.
    offset: i64,
    /// How long a fired window takes late events, ms.
    lateness: i64,
    live: HashMap<Key, Live, RandomState>,
    /// How many live slices start at each time.
    starts: BTreeMap<i64, u32>,
    /// Slices whose last window fired, and slots windows were read from once, freed once
    /// their results are out.
    dead: Vec<u32>,
    /// Windows (key and window) that hold a live slice and have not fired.
    windows: usize,
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl Slices {
    /// Slices for `assigner`, when it slides by less than its size (`None` otherwise: each
    /// event is then in one window, and a slice would only add a copy). Fired windows take
    /// late events for `lateness_ms`.
    pub(super) fn new(assigner: Assigner, lateness_ms: i64) -> Option<Self> {
        let Assigner::Sliding {
            size,
            slide,
            offset,
        } = assigner
        else {
            return None;
        };
        let length = gcd(size.max(1), slide.max(1));
        (length < size).then(|| Self {
            size,
            slide,
            window_offset: offset,
            length,
            offset: offset.rem_euclid(length),
            lateness: lateness_ms,
            live: HashMap::default(),
            starts: BTreeMap::new(),
            dead: Vec::new(),
            windows: 0,
        })
    }

    /// The slice `time` falls in.
    fn slice(&self, time: i64) -> Window {
        let start = time - (time - self.offset).rem_euclid(self.length);
        Window {
            start,
            end: start.saturating_add(self.length),
        }
    }

    /// Whether a group's window is a slice (a window of the assigner is longer).
    pub(super) fn is_slice(&self, window: Window) -> bool {
        window.end.saturating_sub(window.start) == self.length
    }

    /// The first window end at or after `time`.
    fn end_at_or_after(&self, time: i64) -> i64 {
        let phase = self.window_offset.rem_euclid(self.slide) + self.size.rem_euclid(self.slide);
        time.saturating_add((phase - time.rem_euclid(self.slide)).rem_euclid(self.slide))
    }

    /// The end of the first window of the slice starting at `start`.
    fn first_end(&self, start: i64) -> i64 {
        self.end_at_or_after(start.saturating_add(self.length))
    }

    /// The end of the last window of the slice starting at `start`.
    fn last_end(&self, start: i64) -> i64 {
        let into = start.rem_euclid(self.slide) - self.window_offset.rem_euclid(self.slide);
        let window_start = start - into.rem_euclid(self.slide);
        window_start.saturating_add(self.size)
    }

    /// Whether an event at `time` is in a window that has not fired at `watermark`.
    pub(super) fn takes(&self, time: i64, watermark: i64) -> bool {
        self.last_end(self.slice(time).start) > watermark
    }

    /// The slot of `key`'s live slice at `time`, when an event there goes to the slice alone:
    /// none of its windows has fired at `watermark`, or fired windows take no late events.
    pub(super) fn slot(&self, key: &str, time: i64, watermark: i64) -> Option<u32> {
        let start = self.slice(time).start;
        if self.lateness > 0 && self.first_end(start) <= watermark {
            return None;
        }
        self.live
            .get(key.as_bytes())?
            .slices
            .iter()
            .rev()
            .find(|&&(s, _)| s == start)
            .map(|&(_, slot)| slot)
    }

    /// The slot of `key`'s slice at `time`, opened if it is not live (its windows that have
    /// not fired at `watermark` are then open).
    pub(super) fn open(
        &mut self,
        groups: &mut GroupTable,
        key: &str,
        time: i64,
        watermark: i64,
    ) -> u32 {
        let slice = self.slice(time);
        if let Some(&(_, slot)) = self
            .live
            .get(key.as_bytes())
            .and_then(|live| live.slices.iter().rev().find(|&&(s, _)| s == slice.start))
        {
            return slot;
        }
        self.windows += self.would_open(key, time, watermark);
        let slot = groups.open_slice(key, slice);
        self.file(key, slice.start, slot);
        slot
    }

    /// How many windows that have not fired at `watermark` an event of `key` at `time` would
    /// open: its slice's windows that hold none of the key's live slices (none when its slice
    /// is live).
    pub(super) fn would_open(&self, key: &str, time: i64, watermark: i64) -> usize {
        let start = self.slice(time).start;
        let live = self
            .live
            .get(key.as_bytes())
            .map_or(&[][..], |l| &l.slices[..]);
        let at = live.partition_point(|&(s, _)| s < start);
        if live.get(at).is_some_and(|&(s, _)| s == start) {
            return 0;
        }
        // Window starts: a slice's windows are a run of them, later for a later slice, so
        // those of its neighbours bound the new ones.
        let window_start = |end: i64| end.saturating_sub(self.size);
        let mut first = window_start(self.first_end(start)).max(window_start(
            self.end_at_or_after(watermark.saturating_add(1)),
        ));
        let mut last = window_start(self.last_end(start));
        if let Some(&(before, _)) = at.checked_sub(1).and_then(|i| live.get(i)) {
            first = first.max(window_start(self.last_end(before)).saturating_add(self.slide));
        }
        if let Some(&(after, _)) = live.get(at) {
            last = last.min(window_start(self.first_end(after)).saturating_sub(self.slide));
        }
        if last < first {
            0
        } else {
            usize::try_from((last - first) / self.slide + 1).unwrap_or(usize::MAX)
        }
    }

    /// Windows (key and window) that hold a live slice and have not fired.
    pub(super) fn windows(&self) -> usize {
        self.windows
    }

    fn file(&mut self, key: &str, start: i64, slot: u32) {
        let live = self
            .live
            .entry(Key::from_slice(key.as_bytes()))
            .or_default();
        let at = live.slices.partition_point(|&(s, _)| s < start);
        live.slices.insert(at, (start, slot));
        *self.starts.entry(start).or_default() += 1;
    }

    /// Files a slice group restored from a snapshot, taken at `watermark`, as live again.
    pub(super) fn restored(&mut self, key: &str, slice: Window, slot: u32, watermark: i64) {
        self.windows += self.would_open(key, slice.start, watermark);
        self.file(key, slice.start, slot);
    }

    /// The end of the latest window holding a live slice.
    pub(super) fn latest_end(&self) -> Option<i64> {
        let (&start, _) = self.starts.last_key_value()?;
        Some(self.last_end(start))
    }

    /// The first window end after `after` whose window holds a live slice.
    fn next_end(&self, after: i64) -> Option<i64> {
        let (&earliest, _) = self.starts.first_key_value()?;
        let next = self.end_at_or_after(after.checked_add(1)?);
        Some(next.max(self.first_end(earliest)))
    }

    /// Keeps `values` as those of `key`'s windows read from the slices of `signature`.
    fn remember(&mut self, key: &str, signature: Signature, values: Arc<[f64]>) {
        if let Some(live) = self.live.get_mut(key.as_bytes()) {
            live.known = Some(Known { signature, values });
        }
    }

    /// Takes the slices whose last window fired (their results are out).
    fn take_dead(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.dead)
    }

    /// Takes every live slice (state dropped unread).
    fn take_all(&mut self) -> Vec<u32> {
        let mut all = self.take_dead();
        all.extend(
            self.live
                .drain()
                .flat_map(|(_, live)| live.slices.into_iter().map(|(_, s)| s)),
        );
        self.starts.clear();
        self.windows = 0;
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sliding(size: i64, slide: i64, offset: i64) -> Assigner {
        Assigner::Sliding {
            size,
            slide,
            offset,
        }
    }

    #[test]
    fn slices_divide_size_and_slide() {
        let slices = Slices::new(sliding(60_000, 1_000, 0), 0).expect("slices");
        assert_eq!(slices.length, 1_000);
        let uneven = Slices::new(sliding(25, 10, 3), 0).expect("slices");
        assert_eq!(uneven.length, 5);
        assert_eq!(uneven.slice(3), Window { start: 3, end: 8 });
        assert_eq!(uneven.slice(7).start, 3);
        assert_eq!(uneven.slice(8).start, 8);
        assert_eq!(uneven.slice(-1).start, -2);
        assert!(uneven.is_slice(Window { start: 3, end: 8 }));
        assert!(!uneven.is_slice(Window { start: 3, end: 28 }));
        assert!(Slices::new(sliding(10, 10, 0), 0).is_none(), "tumbling");
        assert!(Slices::new(Assigner::Session { gap: 5 }, 0).is_none());
    }

    /// Windows of 25 every 10 from 3 (..., [-7, 18), [3, 28), ...): the slice [8, 13) is in
    /// both, first fires with the one ending at 18 and dies with the one ending at 28.
    #[test]
    fn a_slice_lives_from_its_first_window_to_its_last() {
        let mut slices = Slices::new(sliding(25, 10, 3), 0).expect("slices");
        assert_eq!((slices.first_end(8), slices.last_end(8)), (18, 28));
        assert!(slices.takes(9, 27) && !slices.takes(9, 28));
        let mut groups = GroupTable::new(0);
        let slot = slices.open(&mut groups, "k", 9, i64::MIN);
        assert_eq!(
            slices.open(&mut groups, "k", 12, i64::MIN),
            slot,
            "the same slice"
        );
        assert_eq!(slices.slot("k", 10, i64::MIN), Some(slot));
        assert_eq!(slices.slot("k", 13, i64::MIN), None, "the next slice");
        assert_eq!(slices.slot("j", 9, i64::MIN), None, "another key");
        assert_eq!(slices.next_end(i64::MIN), Some(18));
        assert_eq!(slices.latest_end(), Some(28));
        let (mut direct, mut pairs, mut learned) = (Vec::new(), Vec::new(), Vec::new());
        slices.fire(
            &mut groups,
            18,
            false,
            &mut direct,
            &mut pairs,
            &mut learned,
        );
        assert_eq!(direct.len(), 1);
        assert_eq!(direct[0].slot, slot);
        assert_eq!(direct[0].group.window, Window { start: -7, end: 18 });
        assert_eq!(learned, [(0, (8, 8, 1, 0))]);
        assert!(pairs.is_empty() && slices.take_dead().is_empty());
        assert_eq!(slices.next_end(18), Some(28));
        let (_, read) = learned.pop().expect("learned");
        slices.remember("k", read, Arc::from([1.0]));
        slices.fire(
            &mut groups,
            28,
            false,
            &mut direct,
            &mut pairs,
            &mut learned,
        );
        assert_eq!(
            direct[1].values.as_deref(),
            Some(&[1.0][..]),
            "the same slice"
        );
        assert!(learned.is_empty());
        assert_eq!(slices.take_dead(), [slot]);
        assert_eq!(slices.next_end(28), None, "no live slice");
    }

    /// With allowed lateness every window gets a group that holds its slices, in time order.
    #[test]
    fn windows_kept_for_late_events_get_groups() {
        let mut slices = Slices::new(sliding(10, 5, 0), 3).expect("slices");
        assert_eq!(slices.slot("k", 7, 10), None, "its first window fired");
        let mut groups = GroupTable::new(3);
        let early = slices.open(&mut groups, "k", 2, i64::MIN);
        let late = slices.open(&mut groups, "k", 7, i64::MIN);
        let (mut direct, mut pairs, mut learned) = (Vec::new(), Vec::new(), Vec::new());
        slices.fire(
            &mut groups,
            10,
            false,
            &mut direct,
            &mut pairs,
            &mut learned,
        );
        assert!(direct.is_empty());
        let target = groups
            .find("k", Window { start: 0, end: 10 })
            .expect("group");
        assert_eq!(pairs, [(target, early), (target, late)]);
        assert_eq!(groups.due(10), [target]);
        assert_eq!(slices.take_dead(), [early]);
    }
}
