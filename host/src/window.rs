//! Window assigners: which windows an event time belongs to.

use std::time::Duration;

use crate::config::WindowConfig;

/// A half-open event-time interval `[start, end)`, epoch ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    /// First millisecond in the window.
    pub start: i64,
    /// First millisecond after the window.
    pub end: i64,
}

/// Assigns event times to windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assigner {
    /// Fixed-size, non-overlapping windows.
    Tumbling {
        /// Length, ms.
        size: i64,
        /// Shift of the boundaries from the epoch, ms.
        offset: i64,
    },
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Assigner {
    /// The assigner a config describes.
    pub fn from_config(config: &WindowConfig) -> Self {
        match config {
            WindowConfig::Tumbling { size, offset } => Assigner::Tumbling {
                size: millis(*size),
                offset: millis(*offset),
            },
        }
    }

    /// Pushes every window `time` belongs to onto `out`.
    pub fn assign(&self, time: i64, out: &mut Vec<Window>) {
        match *self {
            Assigner::Tumbling { size, offset } => {
                let start = time - (time - offset).rem_euclid(size);
                out.push(Window {
                    start,
                    end: start.saturating_add(size),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(assigner: Assigner, time: i64) -> Vec<Window> {
        let mut out = Vec::new();
        assigner.assign(time, &mut out);
        out
    }

    #[test]
    fn tumbling_windows_align_to_offset_including_negative_times() {
        let t = Assigner::Tumbling {
            size: 10,
            offset: 3,
        };
        assert_eq!(windows(t, 3), [Window { start: 3, end: 13 }]);
        assert_eq!(windows(t, 12), [Window { start: 3, end: 13 }]);
        assert_eq!(windows(t, 13), [Window { start: 13, end: 23 }]);
        assert_eq!(windows(t, -1), [Window { start: -7, end: 3 }]);
    }
}
