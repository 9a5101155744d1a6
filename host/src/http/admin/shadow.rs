//! Shadow runs over the admin API: start a registry version beside a stage's live one,
//! promote it (an activation at the next checkpoint barrier) or stop it. The comparison so far
//! is on the stage in `GET /v1/pipelines` (`shadow`) and in the metrics.

use axum::Json;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use eddy_engine::config::StageId;

use super::{Activation, ApiError, Shared, authorize, check_version, error, stage_of};
use crate::plugin::{Change, ShadowStatus};

/// Only aggregate stages have window results to compare.
fn aggregate_stage(stage: StageId) -> Result<StageId, ApiError> {
    match stage {
        StageId::Aggregate(_) => Ok(stage),
        StageId::Transform(_) => Err(error(
            StatusCode::BAD_REQUEST,
            format!(
                "stage {stage} is a transform: shadow runs compare window results, which only aggregate stages have"
            ),
        )),
    }
}

/// `POST .../stages/{stage}/shadow`: runs `digest` beside the stage's live version.
pub(super) async fn start(
    axum::extract::State(state): Shared,
    headers: HeaderMap,
    Path((pipeline, stage)): Path<(String, String)>,
    body: Result<Json<Activation>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let Json(candidate) = body.map_err(|e| error(StatusCode::BAD_REQUEST, e.body_text()))?;
    let stage = aggregate_stage(stage_of(&state, &pipeline, &stage)?)?;
    check_version(&state, &stage, &candidate)?;
    state.control.ask(Change::Shadow {
        stage: stage.clone(),
        digest: candidate.digest.clone(),
        config: candidate.config,
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "stage": stage.to_string(),
            "digest": candidate.digest,
            "status": "the shadow run starts at the next checkpoint barrier"
        })),
    )
        .into_response())
}

/// The stage's shadow run must exist (and for a promotion, still run).
fn shadowed(state: &super::AdminState, stage: &StageId, promote: bool) -> Result<(), ApiError> {
    let Some(view) = state.control.shadows().get(&stage.to_string()) else {
        return Err(error(
            StatusCode::CONFLICT,
            format!("stage {stage} has no shadow run"),
        ));
    };
    if promote && view.status == ShadowStatus::Stopped {
        let reason = view.reason.unwrap_or_default();
        return Err(error(
            StatusCode::CONFLICT,
            format!("the shadow run of {stage} stopped ({reason}): nothing to promote"),
        ));
    }
    Ok(())
}

/// `POST .../stages/{stage}/shadow/promote`: the candidate becomes the stage's version at the
/// next checkpoint barrier, as an activation does; the shadow run ends.
pub(super) async fn promote(
    axum::extract::State(state): Shared,
    headers: HeaderMap,
    Path((pipeline, stage)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let promoted = |stage| Change::Promote { stage };
    let status = "the candidate is activated at the next checkpoint barrier";
    change_run(&state, &headers, &pipeline, &stage, promoted, status)
}

/// `DELETE .../stages/{stage}/shadow`: ends the stage's shadow run.
pub(super) async fn stop(
    axum::extract::State(state): Shared,
    headers: HeaderMap,
    Path((pipeline, stage)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let stopped = |stage| Change::StopShadow { stage };
    let status = "the shadow run ends at the next checkpoint barrier";
    change_run(&state, &headers, &pipeline, &stage, stopped, status)
}

/// Queues `change` for `stage`'s shadow run (which must exist; running, for a promotion) and
/// answers 202 with `status`.
fn change_run(
    state: &super::AdminState,
    headers: &HeaderMap,
    pipeline: &str,
    stage: &str,
    change: impl FnOnce(StageId) -> Change,
    status: &str,
) -> Result<Response, ApiError> {
    authorize(state, headers)?;
    let stage = aggregate_stage(stage_of(state, pipeline, stage)?)?;
    let change = change(stage.clone());
    shadowed(state, &stage, matches!(change, Change::Promote { .. }))?;
    state.control.ask(change);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "stage": stage.to_string(), "status": status })),
    )
        .into_response())
}
