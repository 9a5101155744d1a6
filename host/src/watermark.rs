//! Event-time watermarks with bounded out-of-orderness.
//!
//! A watermark `W` promises that no more events with a time before `W` will arrive: events at
//! `W` or later are on time. With a bound `B` the watermark is the largest event time seen
//! minus `B`, so an event exactly `B` behind the newest one is still on time. A window
//! `[start, end)` is complete once `W >= end`.

/// Watermark of one stream of events.
#[derive(Debug, Clone)]
pub struct Watermark {
    bound_ms: i64,
    max_seen: Option<i64>,
    current: i64,
}

impl Watermark {
    /// A watermark that trails the newest event time by `bound_ms`.
    pub fn new(bound_ms: i64) -> Self {
        Self {
            bound_ms,
            max_seen: None,
            current: i64::MIN,
        }
    }

    /// Notes an event time.
    pub fn observe(&mut self, time: i64) {
        self.max_seen = Some(self.max_seen.map_or(time, |m| m.max(time)));
    }

    /// Moves the watermark up to what has been observed (never backwards) and returns it.
    pub fn advance(&mut self) -> i64 {
        if let Some(max) = self.max_seen {
            self.current = self.current.max(max.saturating_sub(self.bound_ms));
        }
        self.current
    }

    /// Moves the watermark to the end of time: the input has ended.
    pub fn close(&mut self) -> i64 {
        self.current = i64::MAX;
        self.current
    }

    /// The watermark now.
    pub fn current(&self) -> i64 {
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::Watermark;

    #[test]
    fn trails_by_the_bound_and_never_goes_back() {
        let mut w = Watermark::new(100);
        assert_eq!(w.advance(), i64::MIN);
        w.observe(1_000);
        assert_eq!(w.advance(), 900);
        w.observe(500);
        assert_eq!(w.advance(), 900);
        w.observe(1_050);
        assert_eq!(w.advance(), 950);
        assert_eq!(w.close(), i64::MAX);
    }
}
