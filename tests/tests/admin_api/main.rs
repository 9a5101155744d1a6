//! The admin API's router, called without a socket: listing, uploading (a hundred malformed
//! uploads each get a 4xx and leave the registry unchanged), the bearer token, activation and
//! rollback requests and the checks before them, deletion of active versions refused, shadow
//! runs asked for, promoted and stopped; and over a socket, the CLI's error for an upload over
//! the limit.

mod plugins;
mod shadow;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use eddy::http::admin::AdminState;
use eddy::http::auth_limit::AuthLimiter;
use eddy::metrics::UploadLabels;
use eddy::plugin::Runtime;
use eddy::plugin::{Change, Control, Kept, StagePlugin};
use eddy_engine::config::PluginsConfig;
use eddy_engine::config::StageId;
use eddy_tests::uploads::malformed_uploads;
use eddy_tests::{example, fixture, plugin_dir};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde_json::Value;
use tower::ServiceExt;

const TOKEN: &str = "s3cret-token";
const LIMIT: usize = 4 << 20;

struct Api {
    router: Router,
    control: Arc<Control>,
    uploads: Family<UploadLabels, Counter>,
    auth_failures: Counter,
    rate_limited: Counter,
    _dir: tempfile::TempDir,
}

/// A stage running `plugin` with an empty configuration.
fn run(stage: StageId, plugin: &str) -> StagePlugin {
    StagePlugin {
        stage,
        plugin: plugin.into(),
        config: serde_json::json!({}),
    }
}

/// An activation of `digest` as the pipeline loop records it.
fn kept(digest: &str) -> Kept {
    Kept {
        digest: digest.into(),
        config: Some(serde_json::json!({})),
    }
}

fn api() -> Api {
    api_allowing(1000)
}

/// The API with `failed_auth_per_minute` failed authentications allowed per address.
fn api_allowing(failed_auth_per_minute: u32) -> Api {
    let dir = tempfile::tempdir().expect("dir");
    let control = Arc::new(Control::open(&dir.path().join("registry")).expect("registry"));
    control.set_stages(&[
        run(StageId::Aggregate("n".into()), "count"),
        run(StageId::Transform(0), "threshold-filter"),
    ]);
    let runtime = Arc::new(
        Runtime::new(&PluginsConfig {
            dir: plugin_dir(),
            ..PluginsConfig::default()
        })
        .expect("runtime"),
    );
    let uploads = Family::<UploadLabels, Counter>::default();
    let auth_failures = Counter::default();
    let rate_limited = Counter::default();
    let router = eddy::http::admin::router(Arc::new(AdminState {
        control: Arc::clone(&control),
        runtime,
        token: Some(TOKEN.into()),
        max_upload_bytes: LIMIT,
        uploads: uploads.clone(),
        auth_failures: auth_failures.clone(),
        auth_limit: AuthLimiter::new(failed_auth_per_minute),
        rate_limited: rate_limited.clone(),
        upload_slots: Arc::new(tokio::sync::Semaphore::new(2)),
    }));
    Api {
        router,
        control,
        uploads,
        auth_failures,
        rate_limited,
        _dir: dir,
    }
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if body.first() == Some(&b'{') {
            request = request.header("content-type", "application/json");
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body)).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    async fn upload(&self, path: &std::path::Path) -> String {
        let bytes = std::fs::read(path).expect("read");
        let (status, entry) = self.call("POST", "/v1/plugins", Some(TOKEN), bytes).await;
        assert_eq!(status, StatusCode::CREATED, "{entry}");
        entry["digest"].as_str().expect("digest").to_string()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}
