//! Liveness and readiness, and the routes that report them: `/health/live` answers 200
//! while the process runs; `/health/ready` answers 200 once the pipeline takes input (Kafka
//! partitions assigned) and 503, with the reason, before that and when a sink fails.
//! `/metrics` answers the Prometheus text exposition.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::Metrics;

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
        self.ready.store(true, Ordering::SeqCst);
    }

    /// Not ready, because of `reason`.
    pub fn set_unready(&self, reason: impl Into<String>) {
        *self.reason.lock().unwrap_or_else(|e| e.into_inner()) = reason.into();
        self.ready.store(false, Ordering::SeqCst);
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

async fn live() -> &'static str {
    "live\n"
}

async fn ready(State(health): State<Arc<Health>>) -> (StatusCode, String) {
    if health.is_ready() {
        (StatusCode::OK, "ready\n".into())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", health.reason()),
        )
    }
}

async fn metrics(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}

/// The health and metrics routes.
pub fn router(health: Arc<Health>, registry: Arc<Metrics>) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .with_state(health)
        .merge(
            Router::new()
                .route("/metrics", get(metrics))
                .with_state(registry),
        )
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
