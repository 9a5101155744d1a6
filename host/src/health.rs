//! Liveness and readiness, and the HTTP endpoint that reports them: `/health/live` answers 200
//! while the process runs; `/health/ready` answers 200 once the pipeline takes input (Kafka
//! partitions assigned) and 503, with the reason, before that and when a sink fails.
//! `/metrics` answers the Prometheus text exposition.

use std::io;
use std::net::SocketAddr;
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

/// Serves `router` (e.g. [`router`] merged with the admin API) on `listen` from a thread of
/// its own; returns the bound address.
pub fn serve(listen: SocketAddr, router: Router) -> io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("eddy-http".into())
        .spawn(move || {
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => {
                        if let Err(error) = axum::serve(listener, router).await {
                            tracing::error!(%error, "the HTTP endpoint stopped");
                        }
                    }
                    Err(error) => tracing::error!(%error, "the HTTP endpoint could not start"),
                }
            });
        })?;
    tracing::info!(%address, "serving /health/live, /health/ready, /metrics and /v1");
    Ok(address)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;

    fn get(address: SocketAddr, path: &str) -> String {
        let mut stream = TcpStream::connect(address).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: eddy\r\nConnection: close\r\n\r\n"
        )
        .expect("request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response");
        response
    }

    #[test]
    fn probes_answer_over_http() {
        let health = Arc::new(Health::default());
        let metrics = Arc::new(Metrics::new());
        let address = serve(
            "127.0.0.1:0".parse().expect("addr"),
            router(Arc::clone(&health), Arc::clone(&metrics)),
        )
        .expect("serve");
        assert!(get(address, "/health/live").starts_with("HTTP/1.1 200"));
        let response = get(address, "/health/ready");
        assert!(response.starts_with("HTTP/1.1 503"), "{response}");
        assert!(response.contains("not ready: starting"), "{response}");
        health.set_ready();
        assert!(get(address, "/health/ready").starts_with("HTTP/1.1 200"));
        health.set_unready("sink: broker down");
        let response = get(address, "/health/ready");
        assert!(response.starts_with("HTTP/1.1 503") && response.contains("broker down"));
        metrics.checkpoint.id.set(3);
        let response = get(address, "/metrics");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("eddy_checkpoint_id 3"), "{response}");
    }
}
