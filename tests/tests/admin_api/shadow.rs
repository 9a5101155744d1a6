//! Shadow runs over the API: the checks before one is asked for, what is queued for the
//! pipeline loop, what `/v1/pipelines` shows, and promotion and stopping.

use std::collections::BTreeMap;

use eddy::plugin::{ShadowStatus, ShadowView};
use eddy_engine::shadow::ShadowReport;

use super::*;

fn shadow_path(stage: &str) -> String {
    format!("/v1/pipelines/main/stages/{stage}/shadow")
}

fn body(digest: &str) -> Vec<u8> {
    format!(r#"{{"digest":"{digest}"}}"#).into_bytes()
}

/// What the pipeline loop publishes for the run of `digest` in `aggregates.n`.
fn published(api: &Api, digest: &str, stopped: Option<&str>) {
    let mut report = ShadowReport {
        equal: 7,
        different: 2,
        ..ShadowReport::default()
    };
    report.largest_difference.insert("n".into(), f64::INFINITY);
    let view = ShadowView::of(digest, None, &report, stopped);
    api.control
        .shadows()
        .set(BTreeMap::from([("aggregates.n".to_string(), view)]));
}

#[test]
fn shadow_runs_are_checked_queued_shown_promoted_and_stopped() {
    runtime().block_on(async {
        let api = api();
        let sum = api.upload(&fixture("sum-v2")).await;
        let filter = api.upload(&fixture("panicky-filter")).await;
        let n = StageId::Aggregate("n".into());

        let (status, _) = api
            .call("POST", &shadow_path("aggregates.n"), None, body(&sum))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        for (stage, digest, want) in [
            ("transforms.0", &filter, StatusCode::BAD_REQUEST),
            ("aggregates.n", &filter, StatusCode::BAD_REQUEST),
            ("aggregates.n", &"feed".to_string(), StatusCode::NOT_FOUND),
            ("aggregates.nope", &sum, StatusCode::NOT_FOUND),
        ] {
            let (status, error) = api
                .call("POST", &shadow_path(stage), Some(TOKEN), body(digest))
                .await;
            assert_eq!(status, want, "{stage} {digest}: {error}");
            assert!(error["error"].is_string(), "says why: {error}");
        }
        for (method, path) in [
            ("DELETE", shadow_path("aggregates.n")),
            ("POST", format!("{}/promote", shadow_path("aggregates.n"))),
        ] {
            let (status, error) = api.call(method, &path, Some(TOKEN), Vec::new()).await;
            assert_eq!(status, StatusCode::CONFLICT, "{method} {path}: {error}");
            assert!(
                error["error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("no shadow run"),
                "{error}"
            );
        }
        assert!(!api.control.has_pending(), "nothing refused was queued");

        let (status, answer) = api
            .call(
                "POST",
                &shadow_path("aggregates.n"),
                Some(TOKEN),
                body(&sum),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        assert_eq!(
            api.control.take(),
            vec![Change::Shadow {
                stage: n.clone(),
                digest: sum.clone(),
                config: None,
            }]
        );
        let (_, pipelines) = api.call("GET", "/v1/pipelines", None, Vec::new()).await;
        let shadow = &pipelines[0]["stages"][0]["shadow"];
        assert_eq!(shadow["status"], "pending", "{pipelines}");
        assert_eq!(shadow["digest"], sum.as_str());
        assert!(
            pipelines[0]["stages"][1].get("shadow").is_none(),
            "a stage without a shadow run shows none: {pipelines}"
        );

        // The loop started it; the candidate then trapped: it cannot be promoted.
        published(&api, &sum, Some("plugin `sum` trapped in `accumulate`"));
        let (_, pipelines) = api.call("GET", "/v1/pipelines", None, Vec::new()).await;
        let shadow = &pipelines[0]["stages"][0]["shadow"];
        assert_eq!(shadow["status"], "stopped", "{pipelines}");
        assert_eq!(
            (shadow["equal"].as_u64(), shadow["different"].as_u64()),
            (Some(7), Some(2))
        );
        assert!(
            shadow["largest_difference"]["n"].is_null(),
            "infinite: {shadow}"
        );
        let promote = format!("{}/promote", shadow_path("aggregates.n"));
        let (status, error) = api.call("POST", &promote, Some(TOKEN), Vec::new()).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(
            error["error"]
                .as_str()
                .unwrap_or_default()
                .contains("trapped"),
            "says why: {error}"
        );

        // A running one is promoted: an activation of its version, shown as pending.
        published(&api, &sum, None);
        assert_eq!(
            api.control.shadows().get("aggregates.n").map(|v| v.status),
            Some(ShadowStatus::Running)
        );
        let (status, _) = api.call("POST", &promote, Some(TOKEN), Vec::new()).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let (_, pipelines) = api.call("GET", "/v1/pipelines", None, Vec::new()).await;
        assert_eq!(pipelines[0]["stages"][0]["pending"], true, "{pipelines}");
        assert_eq!(
            api.control.take(),
            vec![Change::Promote { stage: n.clone() }]
        );

        // Stopped: gone from the stage at once, and queued for the loop.
        let (status, _) = api
            .call(
                "DELETE",
                &shadow_path("aggregates.n"),
                Some(TOKEN),
                Vec::new(),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(api.control.take(), vec![Change::StopShadow { stage: n }]);
        let (_, pipelines) = api.call("GET", "/v1/pipelines", None, Vec::new()).await;
        assert!(
            pipelines[0]["stages"][0].get("shadow").is_none(),
            "{pipelines}"
        );
    });
}
