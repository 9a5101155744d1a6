//! Liveness and readiness, and the routes that report them: `/health/live` answers 200
//! while the process runs; `/health/ready` answers 200 once the pipeline takes input (Kafka
//! partitions assigned) and 503, with the reason, before that and when a sink fails.
//! `/metrics` answers the Prometheus text exposition.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::Metrics;

/// Whether the pipeline is ready, and why not.
#[derive(Debug)]
pub struct Health {
    ready: AtomicBool,
    reason: Mutex<String>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            ready: AtomicBool::new(false),
            reason: Mutex::new("starting".into()),
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

    /// Whether ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Why not ready (meaningful while not ready).
    pub fn reason(&self) -> String {
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
