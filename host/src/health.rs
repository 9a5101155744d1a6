//! Whether the process is ready to take input, and why not: set by the loops and the sinks,
//! reported by the HTTP endpoint's `/health/ready`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Whether the pipeline is ready, and why not. A loop that promises beats
/// ([`Health::expect_beats`]) is also not ready while it has not beaten for that long: it is
/// blocked (a broker or sink that does not answer).
#[derive(Debug)]
pub struct Health {
    ready: AtomicBool,
    reason: Mutex<String>,
    /// The longest a loop may go between beats, and its last beat.
    beats: Mutex<Option<(Duration, Instant)>>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            ready: AtomicBool::new(false),
            reason: Mutex::new("starting".into()),
            beats: Mutex::new(None),
        }
    }
}

impl Health {
    /// Ready: taking input, outputs healthy.
    pub fn set_ready(&self) {
        if !self.ready.swap(true, Ordering::SeqCst) {
            tracing::info!("ready");
        }
    }

    /// Not ready, because of `reason` (logged when readiness or the reason changes).
    pub fn set_unready(&self, reason: impl Into<String>) {
        let reason = reason.into();
        let mut current = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        let was_ready = self.ready.swap(false, Ordering::SeqCst);
        if was_ready || *current != reason {
            tracing::info!(%reason, "not ready");
            *current = reason;
        }
    }

    /// From now on the loop beats at least every `limit` ([`Health::beat`]).
    pub fn expect_beats(&self, limit: Duration) {
        *self.beats.lock().unwrap_or_else(|e| e.into_inner()) = Some((limit, Instant::now()));
    }

    /// The loop went round once.
    pub fn beat(&self) {
        if let Some((_, last)) = self
            .beats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            *last = Instant::now();
        }
    }

    /// How long the loop has been blocked, when longer than it promised.
    fn stalled(&self) -> Option<Duration> {
        let beats = *self.beats.lock().unwrap_or_else(|e| e.into_inner());
        beats.and_then(|(limit, last)| Some(last.elapsed()).filter(|&e| e > limit))
    }

    /// Whether ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && self.stalled().is_none()
    }

    /// Why not ready (meaningful while not ready).
    pub fn reason(&self) -> String {
        if let Some(stalled) = self.stalled() {
            return format!(
                "the pipeline loop has been blocked for {} s (a broker or sink does not answer)",
                stalled.as_secs()
            );
        }
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_that_stops_beating_is_not_ready() {
        let health = Health::default();
        health.set_ready();
        health.expect_beats(Duration::from_millis(30));
        assert!(health.is_ready());
        std::thread::sleep(Duration::from_millis(60));
        assert!(!health.is_ready());
        assert!(health.reason().contains("blocked"), "{}", health.reason());
        health.beat();
        assert!(health.is_ready());
    }
}
