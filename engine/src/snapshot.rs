//! A window operator's state as data: its watermark, its open groups and the aggregate
//! plugins' state for each, tagged with the aggregates' state formats. Checkpoints store
//! snapshots; recovery and hand-over restore them into a fresh operator.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::aggregate::{SavedColumn, SavedRetiring};
use crate::groups::Group;
use crate::window::Window;

/// One open group, as saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedGroup {
    /// Key.
    pub key: String,
    /// Window start, epoch ms.
    pub start: i64,
    /// Window end, epoch ms.
    pub end: i64,
    /// Whether its on-time result is out.
    pub fired: bool,
    /// Events since its last result.
    pub pending: u64,
    /// Lowest source offset among its events.
    pub first_offset: i64,
}

impl SavedGroup {
    /// The saved form of `group`.
    pub fn of(group: &Group) -> Self {
        Self {
            key: group.key.to_string(),
            start: group.window.start,
            end: group.window.end,
            fired: group.fired,
            pending: group.pending,
            first_offset: group.first_offset,
        }
    }

    /// The group again.
    pub fn group(&self) -> Group {
        Group {
            window: Window {
                start: self.start,
                end: self.end,
            },
            key: Arc::from(self.key.as_str()),
            fired: self.fired,
            pending: self.pending,
            first_offset: self.first_offset,
        }
    }
}

/// An operator's state (the default: no groups, watermark 0).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorSnapshot {
    /// The watermark.
    pub watermark: i64,
    /// The largest event time seen per source partition.
    pub max_seen: Vec<(u32, i64)>,
    /// Per aggregate, `<result name>/<plugin name>/<state format>`.
    pub formats: Vec<String>,
    /// The open groups.
    pub groups: Vec<SavedGroup>,
    /// Per aggregate, the state of every group, in the order of `groups`.
    pub states: Vec<SavedColumn>,
    /// Previous plugin versions still finishing some of the groups after a swap to another
    /// state format, with those groups' state.
    pub retiring: Vec<SavedRetiring>,
}

/// Why a snapshot could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The aggregates differ from those that saved the state.
    #[error("saved state is of aggregates {saved:?}; this pipeline has {current:?}")]
    Formats {
        /// Formats in the snapshot.
        saved: Vec<String>,
        /// Formats of the pipeline.
        current: Vec<String>,
    },
    /// The snapshot is inconsistent.
    #[error("inconsistent snapshot: {0}")]
    Inconsistent(String),
    /// A plugin refused the state.
    #[error(transparent)]
    Plugin(#[from] crate::aggregate::PluginError),
}
