//! The window operator: assigns decoded events to groups, drives the aggregate plugins, and
//! decides what is emitted after every batch (early, on-time and late-update results), what
//! goes to the late output, and when group state is freed.

mod beside;
mod checkpoint;
mod finish;
mod limit;
mod output;
mod slices;

pub use beside::CandidateOutput;
pub use output::{Dropped, Emitted, Late, Output};

use std::collections::HashMap;
use std::sync::Arc;

use crate::aggregate::{Aggregates, Takeover};
use crate::aggregate::{AggregatorPlugin, PluginError, SwapError};
use crate::config::Config;
use crate::decode::DecodedBatch;
use crate::groups::{Group, GroupTable};
use crate::results::Emit;
use crate::trigger::Trigger;
use crate::watermark::{WatermarkSettings, Watermarks};
use crate::window::{Assigner, Window};

/// Windows, groups, watermarks and triggers over the aggregate plugins.
pub struct Operator {
    assigner: Assigner,
    groups: GroupTable,
    aggregates: Aggregates,
    watermarks: Watermarks,
    trigger: Trigger,
    windows: Vec<Window>,
    slots: Vec<u32>,
    rows: Vec<u32>,
    merges: Vec<(u32, u32)>,
    touched: Vec<u32>,
    /// The batch's (slot, row) pairs in slot order, kept across batches.
    order: Vec<u64>,
    /// The same order as slots and rows, kept across batches.
    sorted: (Vec<u32>, Vec<u32>),
    replay: Option<Replay>,
    replayed: u64,
    ttl_ms: Option<i64>,
    last_input_ms: Option<i64>,
    /// Finish each group on its own call, so a failure names the group.
    careful: bool,
    /// The group whose finish failed last (careful mode).
    failed: Option<Group>,
    /// Windows (key, window) to drop instead of finishing, and why.
    drop: HashMap<(Arc<str>, Window), Arc<str>>,
    /// Groups dropped since the last output.
    dropped: Vec<Dropped>,
    /// The state formats of the last checkpoint taken with [`Operator::checkpoint`]; `None`
    /// when the next must save every group (none taken yet, restored, or a save failed).
    checkpointed: Option<Vec<String>>,
    /// `state.max_open_groups`.
    max_open_groups: usize,
    /// Candidate aggregates computing beside `aggregates` (shadow runs).
    candidates: Vec<beside::Candidate>,
    /// Sliding windows' live slices (`None` for other windows, and with an early trigger,
    /// which reads windows at any time).
    slices: Option<slices::Slices>,
}

/// Where a previous owner of the source left off: it had read up to `read_to` (exclusive) and
/// its watermark was `watermark`. Records before `read_to` whose windows all end at or before
/// `watermark` were already accounted for (in a result or the late output) and are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replay {
    /// First source offset the previous owner had not read.
    pub read_to: i64,
    /// The previous owner's watermark.
    pub watermark: i64,
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Operator {
    /// An operator for `config` over loaded aggregates.
    pub fn new(config: &Config, aggregates: Aggregates) -> Self {
        let settings = WatermarkSettings {
            bound_ms: millis(config.watermark.out_of_orderness),
            interval_ms: millis(config.watermark.interval),
            idle_timeout_ms: config.watermark.idle_timeout.map(millis),
        };
        let assigner = Assigner::from_config(&config.window);
        let trigger = Trigger::from_config(&config.trigger);
        let slices = if trigger.is_event_time() {
            slices::Slices::new(assigner, millis(config.allowed_lateness))
        } else {
            None
        };
        Self {
            assigner,
            groups: GroupTable::new(millis(config.allowed_lateness)),
            aggregates,
            watermarks: Watermarks::new(settings),
            trigger,
            windows: Vec::new(),
            slots: Vec::new(),
            rows: Vec::new(),
            merges: Vec::new(),
            touched: Vec::new(),
            order: Vec::new(),
            sorted: (Vec::new(), Vec::new()),
            replay: None,
            replayed: 0,
            ttl_ms: config.state.ttl.map(millis),
            max_open_groups: config.state.max_open_groups,
            last_input_ms: None,
            careful: false,
            failed: None,
            drop: HashMap::new(),
            dropped: Vec::new(),
            checkpointed: None,
            candidates: Vec::new(),
            slices,
        }
    }

    /// In careful mode every group is finished on a call of its own, so that a failing
    /// finish names its group ([`Operator::take_failed`]); slower, for retries after a trap.
    pub fn set_careful(&mut self, careful: bool) {
        self.careful = careful;
    }

    /// The group whose finish failed (careful mode only), once.
    pub fn take_failed(&mut self) -> Option<Group> {
        self.failed.take()
    }

    /// When `key`'s `window` is due, its group is dropped instead of finished: its state is
    /// released and it comes out in [`Output::dropped`] with `reason`.
    pub fn drop_window(&mut self, key: &str, window: Window, reason: Arc<str>) {
        self.drop.insert((Arc::from(key), window), reason);
    }

    /// Continues where a previous owner of the source left off (see [`Replay`]).
    pub fn resume(&mut self, replay: Replay) {
        self.watermarks.resume(replay.watermark);
        self.replay = Some(replay);
    }

    /// Puts `plugin` (from `source`) in place of aggregate `index`'s current version (from
    /// `current_source`); see [`Aggregates::swap`].
    pub fn swap_aggregate(
        &mut self,
        index: usize,
        plugin: AggregatorPlugin,
        source: &str,
        current_source: &str,
    ) -> Result<Takeover, SwapError> {
        self.materialize_slices()?;
        let open = self.groups.open_slots();
        self.aggregates
            .swap(index, plugin, source, current_source, &open)
    }

    /// Moves up to `budget` more groups per aggregate to the version a same-format swap put
    /// in place (see [`Aggregates::migrate`]); returns how many are still to move.
    pub fn migrate(&mut self, budget: usize) -> Result<usize, PluginError> {
        self.aggregates.migrate(budget)
    }

    /// The aggregates.
    pub fn aggregates(&self) -> &Aggregates {
        &self.aggregates
    }

    /// The aggregates' plugin versions.
    pub fn plugin_versions(&self) -> Vec<String> {
        self.aggregates.versions()
    }

    /// Records skipped because a previous owner had already accounted for them.
    pub fn replayed(&self) -> u64 {
        self.replayed
    }

    /// The current watermark.
    pub fn watermark(&self) -> i64 {
        self.watermarks.current()
    }

    /// Number of open groups (key × window).
    pub fn open_groups(&self) -> usize {
        self.groups.len() + self.slices.as_ref().map_or(0, |s| s.windows())
    }

    /// Size of the slot tables inside the plugins (highest slot used, plus one).
    pub fn slot_capacity(&self) -> usize {
        self.groups.slot_capacity()
    }

    /// Lowest source offset held by an open group (`i64::MAX` when none).
    pub fn first_offset(&self) -> i64 {
        self.groups.first_offset()
    }

    /// Adds the events of a batch from `partition` at processing time `now_ms`, then emits.
    /// `source_offsets` are the raw batch's record offsets (empty when the source has none).
    pub fn process(
        &mut self,
        partition: u32,
        batch: &DecodedBatch,
        source_offsets: &[i64],
        now_ms: i64,
    ) -> Result<Output, PluginError> {
        let watermark = self.watermarks.current();
        self.watermarks.touch(partition, now_ms);
        self.last_input_ms = Some(now_ms);
        self.slots.clear();
        self.rows.clear();
        self.merges.clear();
        self.touched.clear();
        let mut output = Output::default();
        // Sliding windows by slices, unless a shadow run shares the slots or a previous
        // version of another state format holds windows (a slice could not merge into them).
        let sliced =
            self.slices.is_some() && self.candidates.is_empty() && !self.aggregates.has_retiring();
        for (i, (&time, key)) in batch.times.iter().zip(batch.keys.iter()).enumerate() {
            let offset = source_offsets.get(batch.rows[i] as usize).copied();
            if sliced
                && self.replay.is_none()
                && let Some(slot) = self
                    .slices
                    .as_ref()
                    .and_then(|s| s.slot(key, time, watermark))
            {
                self.watermarks.observe(partition, time);
                self.add_to(slot, i, offset);
                continue;
            }
            self.windows.clear();
            self.assigner.assign(time, &mut self.windows);
            if let Some(replay) = self.replay {
                match source_offsets.get(batch.rows[i] as usize) {
                    Some(&offset) if offset < replay.read_to => {
                        if self.windows.iter().all(|w| w.end <= replay.watermark) {
                            self.replayed += 1;
                            continue;
                        }
                    }
                    _ => self.replay = None,
                }
            }
            self.watermarks.observe(partition, time);
            let to_slice = sliced
                && self.replay.is_none()
                && self
                    .slices
                    .as_ref()
                    .is_some_and(|s| s.takes(time, watermark));
            // Refused, the event still moves the watermark: windows then close and make room.
            if self.refuses(key, time, watermark, to_slice) {
                output.refused.push(i);
                continue;
            }
            if to_slice && let Some(slices) = self.slices.as_mut() {
                // A window of the event's slice has not fired: the event goes to the slice,
                // and to the windows that fired and still take late events.
                let slot = slices.open(&mut self.groups, key, time, watermark);
                self.add_to(slot, i, offset);
                let fired = self.windows.partition_point(|w| w.end <= watermark);
                for w in 0..fired {
                    let window = self.windows[w];
                    if !self.groups.is_expired(window, watermark) {
                        let slot = self.groups.slot(key, window, watermark);
                        self.add_to(slot, i, offset);
                    }
                }
                continue;
            }
            let before = self.slots.len();
            for w in 0..self.windows.len() {
                let window = self.windows[w];
                let slot = if self.assigner.is_merging() {
                    match self.groups.session(key, window, watermark) {
                        Some((slot, sources)) => {
                            self.merges
                                .extend(sources.into_iter().map(|source| (slot, source)));
                            slot
                        }
                        None => continue,
                    }
                } else if self.groups.is_expired(window, watermark) {
                    continue;
                } else {
                    self.groups.slot(key, window, watermark)
                };
                self.add_to(slot, i, offset);
            }
            if self.slots.len() == before {
                output.late.push(Late {
                    event: i,
                    watermark,
                    time,
                });
            }
        }
        self.apply_merges()?;
        // The plugins get the batch ordered by slot (each group's events still in input order,
        // so results are the same): their slot tables are then read front to back instead of
        // missing the cache on nearly every event (+25 % events/s over 10 k keys).
        // Buffers kept across batches: taken here, given back below.
        let mut order = std::mem::take(&mut self.order);
        let (mut sorted_slots, mut sorted_rows) = std::mem::take(&mut self.sorted);
        order.clear();
        order.extend(
            self.slots
                .iter()
                .zip(&self.rows)
                .map(|(&slot, &row)| (u64::from(slot) << 32) | u64::from(row)),
        );
        order.sort_unstable();
        sorted_slots.clear();
        sorted_slots.extend(order.iter().map(|&p| (p >> 32) as u32));
        sorted_rows.clear();
        sorted_rows.extend(order.iter().map(|&p| p as u32));
        self.aggregates
            .accumulate(&sorted_slots, &sorted_rows, &batch.values)?;
        if !self.candidates.is_empty() {
            self.candidates_accumulate(&sorted_slots, &sorted_rows, &batch.values);
        }
        // Already in slot order: the touched groups are the distinct slots.
        self.touched.extend_from_slice(&sorted_slots);
        self.touched.dedup();
        self.order = order;
        self.sorted = (sorted_slots, sorted_rows);
        let late_updates: Vec<u32> = self
            .touched
            .iter()
            .copied()
            .filter(|&slot| self.groups.get(slot).is_some_and(|g| g.fired))
            .collect();
        output.results = self.emit(now_ms, late_updates)?;
        output.dropped = std::mem::take(&mut self.dropped);
        output.candidates = self.take_candidates();
        Ok(output)
    }

    /// Adds event `row` (source offset `offset`) to the group in `slot`.
    fn add_to(&mut self, slot: u32, row: usize, offset: Option<i64>) {
        self.slots.push(slot);
        self.rows.push(row as u32);
        if let Some(group) = self.groups.get_mut(slot) {
            group.pending += 1;
            if let Some(offset) = offset {
                group.first_offset = group.first_offset.min(offset);
            }
        }
    }

    /// Lets processing time pass without events (idle partitions, time triggers), then emits.
    pub fn tick(&mut self, now_ms: i64) -> Result<Output, PluginError> {
        self.touched.clear();
        let results = self.emit(now_ms, Vec::new())?;
        let expired = self.expire_idle(now_ms)?;
        Ok(Output {
            results,
            late: Vec::new(),
            expired,
            dropped: std::mem::take(&mut self.dropped),
            refused: Vec::new(),
            candidates: self.take_candidates(),
        })
    }

    /// With `state.ttl`: when no event has arrived for the TTL (processing time), the
    /// watermark cannot move and no open window will fire; their state is dropped.
    fn expire_idle(&mut self, now_ms: i64) -> Result<u64, PluginError> {
        let Some(ttl) = self.ttl_ms else {
            return Ok(0);
        };
        let last = *self.last_input_ms.get_or_insert(now_ms);
        if self.groups.is_empty() || now_ms.saturating_sub(last) < ttl {
            return Ok(0);
        }
        let open = self.groups.len() as u64;
        self.drop_slices()?;
        self.expire(i64::MAX)?;
        Ok(open)
    }

    /// The input has ended: every open window fires, then all state is freed.
    pub fn close(&mut self) -> Result<Output, PluginError> {
        let from = self.watermarks.current();
        let watermark = self.watermarks.close();
        let mut results = Vec::new();
        self.fire(&mut results, from, watermark)?;
        self.expire(watermark)?;
        Ok(Output {
            results,
            late: Vec::new(),
            expired: 0,
            dropped: std::mem::take(&mut self.dropped),
            refused: Vec::new(),
            candidates: self.take_candidates(),
        })
    }

    /// Merges session state in the plugins in the order the merges happened, points this
    /// batch's events at the surviving groups, and frees the merged slots.
    fn apply_merges(&mut self) -> Result<(), PluginError> {
        if self.merges.is_empty() {
            return Ok(());
        }
        let mut into: HashMap<u32, u32> = HashMap::new();
        for &(target, source) in &self.merges {
            into.insert(source, target);
        }
        let resolve = |mut slot: u32| {
            while let Some(&next) = into.get(&slot) {
                slot = next;
            }
            slot
        };
        for slot in &mut self.slots {
            *slot = resolve(*slot);
        }
        let (targets, sources): (Vec<u32>, Vec<u32>) = self.merges.iter().copied().unzip();
        self.aggregates.merge(&targets, &sources)?;
        self.candidates_merge(&targets, &sources);
        self.groups.free(sources);
        Ok(())
    }

    /// Emits late updates for `late_updates`, on-time results for windows the new watermark
    /// completes, early results the trigger asks for, and frees expired groups.
    fn emit(&mut self, now_ms: i64, late_updates: Vec<u32>) -> Result<Vec<Emitted>, PluginError> {
        let mut results = Vec::new();
        self.push_results(&mut results, Emit::LateUpdate, late_updates)?;
        let from = self.watermarks.current();
        let watermark = self.watermarks.advance(now_ms);
        self.fire(&mut results, from, watermark)?;
        let early: Vec<u32> = if self.trigger.time_fires(now_ms) {
            self.groups.pending_unfired()
        } else if !self.trigger.counts() {
            Vec::new()
        } else {
            self.touched
                .iter()
                .copied()
                .filter(|&slot| {
                    self.groups
                        .get(slot)
                        .is_some_and(|g| !g.fired && self.trigger.count_fires(g.pending))
                })
                .collect()
        };
        self.push_results(&mut results, Emit::Early, early)?;
        self.expire(watermark)?;
        Ok(results)
    }

    fn expire(&mut self, watermark: i64) -> Result<(), PluginError> {
        let expired = self.groups.expire(watermark);
        if expired.is_empty() {
            return Ok(());
        }
        let slots: Vec<u32> = expired.into_iter().map(|(slot, _)| slot).collect();
        self.aggregates.release(&slots)?;
        self.candidates_release(&slots);
        self.groups.free(slots);
        Ok(())
    }
}
