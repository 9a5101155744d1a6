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

impl Window {
    /// Whether two session windows merge: they overlap or touch (as in Flink).
    pub fn touches(&self, other: &Window) -> bool {
        self.start <= other.end && other.start <= self.end
    }

    /// The smallest window covering both.
    pub fn cover(&self, other: &Window) -> Window {
        Window {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
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
    /// Fixed-size windows every `slide` ms.
    Sliding {
        /// Length, ms.
        size: i64,
        /// Distance between starts, ms.
        slide: i64,
        /// Shift of the boundaries from the epoch, ms.
        offset: i64,
    },
    /// Sessions: each event opens `[t, t + gap)`; the group table merges them per key.
    Session {
        /// Gap, ms.
        gap: i64,
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
            WindowConfig::Sliding {
                size,
                slide,
                offset,
            } => Assigner::Sliding {
                size: millis(*size),
                slide: millis(*slide),
                offset: millis(*offset),
            },
            WindowConfig::Session { gap } => Assigner::Session { gap: millis(*gap) },
        }
    }

    /// Whether windows of a key merge (sessions).
    pub fn is_merging(&self) -> bool {
        matches!(self, Assigner::Session { .. })
    }

    /// Pushes every window `time` belongs to onto `out`, earliest first. For sessions this is
    /// the event's own window `[time, time + gap)`, before merging.
    pub fn assign(&self, time: i64, out: &mut Vec<Window>) {
        match *self {
            Assigner::Tumbling { size, offset } => {
                let start = time - (time - offset).rem_euclid(size);
                out.push(Window {
                    start,
                    end: start.saturating_add(size),
                });
            }
            Assigner::Sliding {
                size,
                slide,
                offset,
            } => {
                let last = time - (time - offset).rem_euclid(slide);
                let first_out = out.len();
                let mut start = last;
                while start > time - size {
                    out.push(Window {
                        start,
                        end: start.saturating_add(size),
                    });
                    start -= slide;
                }
                out[first_out..].reverse();
            }
            Assigner::Session { gap } => out.push(Window {
                start: time,
                end: time.saturating_add(gap),
            }),
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

    fn w(start: i64, end: i64) -> Window {
        Window { start, end }
    }

    #[test]
    fn tumbling_windows_align_to_offset_including_negative_times() {
        let t = Assigner::Tumbling {
            size: 10,
            offset: 3,
        };
        assert_eq!(windows(t, 3), [w(3, 13)]);
        assert_eq!(windows(t, 12), [w(3, 13)]);
        assert_eq!(windows(t, 13), [w(13, 23)]);
        assert_eq!(windows(t, -1), [w(-7, 3)]);
    }

    #[test]
    fn sliding_window_with_ten_windows_per_event() {
        let s = Assigner::Sliding {
            size: 10_000,
            slide: 1_000,
            offset: 0,
        };
        let got = windows(s, 12_345);
        assert_eq!(got.len(), 10);
        assert_eq!(got[0], w(3_000, 13_000));
        assert_eq!(got[9], w(12_000, 22_000));
        assert!(got.iter().all(|x| x.start <= 12_345 && 12_345 < x.end));
        let edge = windows(s, 12_000);
        assert_eq!((edge[0], edge.len()), (w(3_000, 13_000), 10));
        let uneven = Assigner::Sliding {
            size: 25,
            slide: 10,
            offset: 0,
        };
        assert_eq!(windows(uneven, 31), [w(10, 35), w(20, 45), w(30, 55)]);
        assert_eq!(windows(uneven, 36), [w(20, 45), w(30, 55)]);
    }

    #[test]
    fn sessions_touch_and_cover() {
        assert!(w(0, 10).touches(&w(10, 20)));
        assert!(!w(0, 10).touches(&w(11, 20)));
        assert_eq!(w(0, 10).cover(&w(5, 30)), w(0, 30));
        assert_eq!(windows(Assigner::Session { gap: 5 }, 7), [w(7, 12)]);
    }
}
