//! The admin HTTP API (`/v1`): list, show, upload and delete plugin versions; list the
//! pipeline's stages; activate a version for a stage or roll it back; run a version beside a
//! stage's live one (a shadow run), promote or stop it. Mutations need the
//! bearer token of `admin.token`. Errors are JSON `{"error": "..."}` with a 4xx status that
//! says what the client got wrong.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::Deserialize;
use serde_json::json;

use eddy_engine::config::StageId;

mod shadow;

use super::auth_limit::AuthLimiter;
use crate::metrics::UploadLabels;
use crate::plugin::{Change, Control, RegistryError, Runtime};

/// What the handlers share.
pub struct AdminState {
    /// Registry, changes and stage views.
    pub control: Arc<Control>,
    /// Validates uploads (compiles them, asks `describe()`).
    pub runtime: Arc<Runtime>,
    /// The bearer token mutations need; `None`: read-only.
    pub token: Option<String>,
    /// Largest upload, bytes.
    pub max_upload_bytes: usize,
    /// Uploads by outcome (`eddy_plugin_uploads_total`).
    pub uploads: Family<UploadLabels, Counter>,
    /// Requests refused for a missing or wrong token (`eddy_admin_auth_failures_total`).
    pub auth_failures: Counter,
    /// Failed authentications by client address (`admin.failed_auth_per_minute`).
    pub auth_limit: AuthLimiter,
    /// Changes refused because their address failed too often
    /// (`eddy_admin_auth_rate_limited_total`).
    pub rate_limited: Counter,
    /// Uploads read and validated at once (`admin.max_concurrent_uploads`): more are
    /// answered 503, so that many at once cannot hold many bodies and compilations in memory.
    pub upload_slots: Arc<tokio::sync::Semaphore>,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError(status, message.into())
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::TooLarge { .. } => error(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
            RegistryError::Invalid(_) => error(StatusCode::BAD_REQUEST, e.to_string()),
            RegistryError::NotFound(_) => error(StatusCode::NOT_FOUND, e.to_string()),
            RegistryError::Io { .. } => {
                tracing::error!(error = %e, "plugin registry");
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the plugin registry could not be written",
                )
            }
        }
    }
}

type Shared = State<Arc<AdminState>>;

fn authorize(state: &AdminState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &state.token else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "changes are disabled: set admin.token (EDDY_ADMIN__TOKEN)",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given.is_some_and(|given| same_secret(given, token)) {
        Ok(())
    } else {
        state.auth_failures.inc();
        tracing::warn!("admin request refused: missing or wrong bearer token");
        Err(error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token (Authorization: Bearer <admin.token>)",
        ))
    }
}

/// Whether `given` is `secret`, in time that does not depend on where they differ (their
/// SHA-256 digests compared in constant time, so neither content nor length leaks).
fn same_secret(given: &str, secret: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let given = Sha256::digest(given.as_bytes());
    let secret = Sha256::digest(secret.as_bytes());
    given.as_slice().ct_eq(secret.as_slice()).into()
}

async fn list(State(state): Shared) -> impl IntoResponse {
    let registry = state.control.registry();
    Json(registry.list().cloned().collect::<Vec<_>>())
}

async fn show(State(state): Shared, Path(digest): Path<String>) -> Result<Response, ApiError> {
    let registry = state.control.registry();
    let entry = registry
        .get(&digest)
        .cloned()
        .ok_or(RegistryError::NotFound(digest))?;
    Ok(Json(entry).into_response())
}

async fn upload(
    State(state): Shared,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // The token is checked before a byte of the body is read.
    authorize(&state, &headers)?;
    let count =
        |outcome: &'static str| state.uploads.get_or_create(&UploadLabels { outcome }).inc();
    let limit = state.max_upload_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = |size: usize| {
        let refused = RegistryError::TooLarge { size, limit };
        tracing::warn!(error = %refused, "plugin upload refused");
        ApiError::from(refused)
    };
    if let Some(size) = declared.filter(|&size| size > limit) {
        count("refused");
        return Err(too_large(size));
    }
    let Ok(_slot) = Arc::clone(&state.upload_slots).try_acquire_owned() else {
        count("busy");
        tracing::warn!("plugin upload refused: admin.max_concurrent_uploads are in progress");
        let mut response = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "other uploads are being validated (admin.max_concurrent_uploads): retry shortly",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(1));
        return Ok(response);
    };
    // At most one byte over the limit is read: enough to know the upload is too large.
    let Ok(body) = axum::body::to_bytes(body, limit.saturating_add(1)).await else {
        count("refused");
        return Err(too_large(limit.saturating_add(1)));
    };
    let runtime = Arc::clone(&state.runtime);
    let control = Arc::clone(&state.control);
    // Compiling a component takes a while: off the async threads.
    let entry = tokio::task::spawn_blocking(move || {
        control
            .registry()
            .add(&runtime, &body, limit, eddy_engine::event::now_ms())
    })
    .await
    .map_err(|_| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the upload was interrupted",
        )
    })?;
    count(if entry.is_ok() { "stored" } else { "refused" });
    if let Err(refused) = &entry {
        tracing::warn!(error = %refused, "plugin upload refused");
    }
    Ok((StatusCode::CREATED, Json(entry?)).into_response())
}

async fn delete(
    State(state): Shared,
    headers: HeaderMap,
    Path(digest): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    if state.control.is_active(&digest) {
        return Err(error(
            StatusCode::CONFLICT,
            format!("{digest} is active in a stage: activate another version or roll back first"),
        ));
    }
    if let Some(stage) = state.control.rollback_target_of(&digest) {
        return Err(error(
            StatusCode::CONFLICT,
            format!("{digest} is what stage {stage} rolls back to: roll it back first"),
        ));
    }
    state.control.registry().remove(&digest)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn pipelines(State(state): Shared) -> impl IntoResponse {
    Json(json!([{ "name": "main", "stages": state.control.stages() }]))
}

/// Body of an activation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    /// The registry version to run.
    pub digest: String,
    /// Its configuration (a JSON object), checked by the plugin when the change is applied;
    /// without it the stage keeps its configuration.
    #[serde(default)]
    pub config: Option<serde_json::Value>,
}

fn stage_of(state: &AdminState, pipeline: &str, stage: &str) -> Result<StageId, ApiError> {
    if pipeline != "main" {
        return Err(error(
            StatusCode::NOT_FOUND,
            format!("no pipeline `{pipeline}`; there is `main`"),
        ));
    }
    let id = StageId::parse(stage).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            format!("`{stage}` is not a stage: write aggregates.<name> or transforms.<index>"),
        )
    })?;
    if !state.control.stages().iter().any(|v| v.stage == stage) {
        return Err(error(
            StatusCode::NOT_FOUND,
            format!("pipeline main has no stage `{stage}`"),
        ));
    }
    Ok(id)
}

async fn activate(
    State(state): Shared,
    headers: HeaderMap,
    Path((pipeline, stage)): Path<(String, String)>,
    body: Result<Json<Activation>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let Json(activation) = body.map_err(|e| error(StatusCode::BAD_REQUEST, e.body_text()))?;
    let stage = stage_of(&state, &pipeline, &stage)?;
    check_version(&state, &stage, &activation)?;
    state.control.ask(Change::Activate {
        stage: stage.clone(),
        digest: activation.digest.clone(),
        config: activation.config.clone(),
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "stage": stage.to_string(), "digest": activation.digest, "status": "takes effect at the next checkpoint barrier" })),
    )
        .into_response())
}

/// Checks that `activation` names a registry version of the kind `stage` runs, with a
/// configuration that is a JSON object when it has one.
fn check_version(
    state: &AdminState,
    stage: &StageId,
    activation: &Activation,
) -> Result<(), ApiError> {
    let kind = state
        .control
        .registry()
        .get(&activation.digest)
        .map(|e| e.kind.clone())
        .ok_or_else(|| RegistryError::NotFound(activation.digest.clone()))?;
    let wanted = match stage {
        StageId::Aggregate(_) => kind == "aggregator",
        StageId::Transform(_) => kind != "aggregator",
    };
    if !wanted {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!(
                "{} is {} {kind} plugin; stage {stage} needs {}",
                activation.digest,
                article(&kind),
                match stage {
                    StageId::Aggregate(_) => "an aggregator",
                    StageId::Transform(_) => "a map, filter or flat-map",
                }
            ),
        ));
    }
    if activation.config.as_ref().is_some_and(|c| !c.is_object()) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "`config` must be a JSON object (the plugin's configuration)".to_string(),
        ));
    }
    Ok(())
}

/// `a` or `an`, as English writes it before `word`.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

async fn rollback(
    State(state): Shared,
    headers: HeaderMap,
    Path((pipeline, stage)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let stage = stage_of(&state, &pipeline, &stage)?;
    if state.control.rollback_source(&stage).is_none() {
        return Err(error(
            StatusCode::CONFLICT,
            format!("stage {stage} runs its configured plugin: nothing to roll back"),
        ));
    }
    state.control.ask(Change::Rollback {
        stage: stage.clone(),
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "stage": stage.to_string(), "status": "rolls back at the next checkpoint barrier" })),
    )
        .into_response())
}

/// Refuses a change (429, with `Retry-After`) from an address that failed to authenticate too
/// often, and counts the failures (401 answers) of each address. Reads are not limited.
async fn limit_failed_auth(State(state): Shared, request: Request, next: Next) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |c| c.0.ip());
    let change = !matches!(*request.method(), Method::GET | Method::HEAD);
    let now = std::time::Instant::now();
    if let Some(wait) = state.auth_limit.blocked(client, now).filter(|_| change) {
        state.rate_limited.inc();
        tracing::warn!(%client, "admin request refused: too many failed authentications");
        let seconds = wait.as_secs().max(1);
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many requests with a wrong token from this address: retry in {seconds} s"),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        state.auth_limit.failed(client, now);
    }
    response
}

/// Largest JSON body (an activation with its configuration); uploads have
/// `admin.max_upload_bytes`.
const MAX_JSON_BYTES: usize = 1 << 20;

/// The admin routes, under `/v1`.
pub fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/v1/plugins", get(list).post(upload))
        .route("/v1/plugins/{digest}", get(show).delete(delete))
        .route("/v1/pipelines", get(pipelines))
        .route(
            "/v1/pipelines/{pipeline}/stages/{stage}/activate",
            post(activate),
        )
        .route(
            "/v1/pipelines/{pipeline}/stages/{stage}/rollback",
            post(rollback),
        )
        .route(
            "/v1/pipelines/{pipeline}/stages/{stage}/shadow",
            post(shadow::start).delete(shadow::stop),
        )
        .route(
            "/v1/pipelines/{pipeline}/stages/{stage}/shadow/promote",
            post(shadow::promote),
        )
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            limit_failed_auth,
        ))
        .with_state(state)
}
