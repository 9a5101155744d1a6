//! The HTTP endpoint: health probes, metrics and the admin API, over TLS when configured.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// HTTP settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to serve `/health/*`, `/metrics` and the admin API (`/v1`) on, e.g.
    /// `0.0.0.0:9090`; unset: no HTTP endpoint.
    pub listen: Option<SocketAddr>,
    /// Serve HTTPS with this certificate and key; unset: plain HTTP (a warning is logged when
    /// the address is not a loopback one).
    pub tls: Option<TlsConfig>,
    /// Longest a request may take, body included; a slower one is answered 408.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "super::reference::DurationText")]
    pub request_timeout: Duration,
    /// Largest request head (request line and headers), bytes; a larger one is refused
    /// (431) and the connection closed. At least 8192.
    pub max_header_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: None,
            tls: None,
            request_timeout: Duration::from_secs(60),
            max_header_bytes: 16 << 10,
        }
    }
}

/// HTTPS: the server's certificate and key, and who may connect.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the server's certificate chain (leaf first). Read again when it changes
    /// (e.g. a renewed Kubernetes Secret), as is `key`.
    pub cert: PathBuf,
    /// PEM file of the certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM file of the certificate authorities client certificates must be signed by; set:
    /// every client must present one (mutual TLS); unset: no client certificates asked for.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}
