//! The HTTP endpoint: health probes and metrics ([`health`]) and the admin API ([`admin`]),
//! served from a thread of its own and shut down gracefully with the process.

pub mod admin;
pub mod health;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

pub use crate::health::Health;
use axum::Router;
use tokio::sync::oneshot;

use crate::metrics::Metrics;

/// Every route of the endpoint: health and metrics, and the admin API when `admin` is given.
pub fn router(
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    admin: Option<Arc<admin::AdminState>>,
) -> Router {
    let router = health::router(health, metrics);
    match admin {
        Some(state) => router.merge(admin::router(state)),
        None => router,
    }
}

/// A running HTTP endpoint. [`Server::shutdown`] (or dropping it) stops accepting
/// connections, lets requests in flight finish, and waits for its thread.
pub struct Server {
    address: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops gracefully and waits until it has.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Serves `router` on `listen` from a thread of its own.
pub fn serve(listen: SocketAddr, router: Router) -> io::Result<Server> {
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (shutdown, stopped) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("eddy-http".into())
        .spawn(move || {
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => {
                        let serving = axum::serve(listener, router).with_graceful_shutdown(async {
                            let _ = stopped.await;
                        });
                        if let Err(error) = serving.await {
                            tracing::error!(%error, "the HTTP endpoint stopped");
                        }
                    }
                    Err(error) => tracing::error!(%error, "the HTTP endpoint could not start"),
                }
            });
        })?;
    tracing::info!(%address, "serving /health/live, /health/ready, /metrics and /v1");
    Ok(Server {
        address,
        shutdown: Some(shutdown),
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use std::net::SocketAddr;
    use std::sync::Arc;

    use super::*;
    use crate::metrics::Metrics;

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
        let server = serve(
            "127.0.0.1:0".parse().expect("addr"),
            router(Arc::clone(&health), Arc::clone(&metrics), None),
        )
        .expect("serve");
        let address = server.address();
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
        server.shutdown();
        assert!(
            TcpStream::connect(address).is_err(),
            "the endpoint is closed after a graceful shutdown"
        );
    }
}
