//! An operator that runs beside another on the same input (a shadow run's candidate): it starts
//! from the other's position, so fed the same batches at the same processing times it fires
//! the same windows in the same step.

use std::collections::HashMap;

use super::Operator;
use crate::aggregate::Aggregates;

impl Operator {
    /// An operator over `aggregates` that starts where this one is, without its groups: the
    /// same windows, watermark (with the event times seen per partition and the time it last
    /// moved), trigger clock, resume position and limits. Its aggregates take their values
    /// from the decoded batches' columns from `column` on (this operator's aggregate
    /// `column` onwards). Windows this operator has open are partial in the new one: see
    /// [`Operator::open_until`].
    pub fn beside(&self, aggregates: Aggregates, column: usize) -> Operator {
        Operator {
            assigner: self.assigner,
            groups: self.groups.empty_like(),
            aggregates,
            watermarks: self.watermarks.clone(),
            trigger: self.trigger,
            windows: Vec::new(),
            slots: Vec::new(),
            rows: Vec::new(),
            merges: Vec::new(),
            touched: Vec::new(),
            replay: self.replay,
            replayed: 0,
            ttl_ms: self.ttl_ms,
            last_input_ms: self.last_input_ms,
            careful: false,
            failed: None,
            drop: HashMap::new(),
            dropped: Vec::new(),
            checkpointed: None,
            max_open_groups: self.max_open_groups,
            first_column: self.first_column + column,
        }
    }

    /// Where windows this operator has seen nothing of begin: a window that starts at or
    /// after it holds no event seen so far (the latest end of an open window, one more for
    /// sessions, which merge with a window they touch; `i64::MIN` when no window is open).
    pub fn open_until(&self) -> i64 {
        let merging = i64::from(self.assigner.is_merging());
        self.groups
            .latest_end()
            .map_or(i64::MIN, |end| end.saturating_add(merging))
    }
}
