//! The HTTP endpoint (health probes; later metrics and the admin API).

use std::net::SocketAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// HTTP settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to serve `/health/live` and `/health/ready` on, e.g. `0.0.0.0:9090`; unset: no
    /// HTTP endpoint.
    pub listen: Option<SocketAddr>,
}
