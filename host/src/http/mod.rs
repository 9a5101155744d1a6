//! The HTTP endpoint: health probes and metrics ([`health`]) and the admin API ([`admin`]),
//! over HTTPS when `http.tls` is set ([`tls`]), served from a thread of its own and shut down
//! gracefully with the process. Every request has a deadline (`http.request_timeout`, 408) and
//! a bounded head (`http.max_header_bytes`, 431).

pub mod admin;
pub mod auth_limit;
pub mod health;
pub mod tls;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use crate::health::Health;
use axum::Router;
use axum::http::StatusCode;
use axum_server::Handle;
use eddy_engine::config::HttpConfig;
use hyper_util::rt::TokioTimer;
use hyper_util::server::conn::auto::Builder;
use tower_http::timeout::TimeoutLayer;

use crate::metrics::Metrics;

/// Longest a graceful shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);

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
    handle: Handle<SocketAddr>,
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
        if let Some(thread) = self.thread.take() {
            self.handle.graceful_shutdown(Some(DRAIN));
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The limits of `config` on every connection.
fn limit(builder: &mut Builder<hyper_util::rt::TokioExecutor>, config: &HttpConfig) {
    let head = config.max_header_bytes;
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.request_timeout)
        .max_buf_size(head);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(head).unwrap_or(u32::MAX));
}

/// Serves `router` on `listen` from a thread of its own, over HTTPS when `config.tls` is set.
/// A TLS file that does not read refuses the start with its key named.
pub fn serve(listen: SocketAddr, router: Router, config: &HttpConfig) -> io::Result<Server> {
    let certificates = config
        .tls
        .as_ref()
        .map(tls::Certificates::load)
        .transpose()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    if certificates.is_none() && !address.ip().is_loopback() {
        tracing::warn!(
            %address,
            "HTTP is served without TLS beyond this machine: the admin token travels in clear; set http.tls.cert and http.tls.key (or put TLS in front)"
        );
    }
    let app = router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .into_make_service_with_connect_info::<SocketAddr>();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = Handle::new();
    let serving = handle.clone();
    let config = config.clone();
    let scheme = if certificates.is_some() {
        "https"
    } else {
        "http"
    };
    let thread = std::thread::Builder::new()
        .name("eddy-http".into())
        .spawn(move || {
            runtime.block_on(async move {
                let served = match certificates {
                    Some(certificates) => {
                        let rustls = certificates.rustls();
                        tokio::spawn(certificates.watch());
                        match axum_server::tls_rustls::from_tcp_rustls(listener, rustls) {
                            Ok(server) => {
                                let mut server = server.handle(serving);
                                limit(server.http_builder(), &config);
                                server.serve(app).await
                            }
                            Err(error) => Err(error),
                        }
                    }
                    None => match axum_server::from_tcp(listener) {
                        Ok(server) => {
                            let mut server = server.handle(serving);
                            limit(server.http_builder(), &config);
                            server.serve(app).await
                        }
                        Err(error) => Err(error),
                    },
                };
                if let Err(error) = served {
                    tracing::error!(%error, "the HTTP endpoint stopped");
                }
            });
        })?;
    tracing::info!(%address, scheme, "serving /health/live, /health/ready, /metrics and /v1");
    Ok(Server {
        address,
        handle,
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests;
