//! The Kubernetes manifests in `deploy/k8s` are checked against the Kubernetes API schema of
//! the `k8s-openapi` crate (v1.35): every document parses as its kind with no field the schema
//! does not have, and the StatefulSet wires what Eddy needs (probes on Eddy's health paths and
//! port over HTTPS, a volume for its state, the admin token and the TLS certificate from
//! Secrets mounted as files, non-root, limits). The
//! container definition, alerts and dashboard parse.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_yaml::Value;

/// Parses `doc` as `T`, failing on any field `T` does not know.
fn strict<T: DeserializeOwned>(doc: &Value, kind: &str) -> T {
    let mut unknown = Vec::new();
    let parsed: T = serde_ignored::deserialize(doc.clone(), |path| unknown.push(path.to_string()))
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
    assert!(
        unknown.is_empty(),
        "{kind}: fields not in the schema: {unknown:?}"
    );
    parsed
}

#[test]
fn kubernetes_manifests_match_the_api_schema() {
    let text = std::fs::read_to_string(eddy_tests::repo_root().join("deploy/k8s/eddy.yaml"))
        .expect("deploy/k8s/eddy.yaml");
    let mut kinds = Vec::new();
    let mut statefulset = None;
    let mut config = None;
    let mut claim = None;
    for document in serde_yaml::Deserializer::from_str(&text) {
        let doc = Value::deserialize(document).expect("YAML");
        let kind = doc["kind"].as_str().expect("kind").to_string();
        match kind.as_str() {
            "ConfigMap" => config = Some(strict::<ConfigMap>(&doc, &kind)),
            "Secret" => drop(strict::<Secret>(&doc, &kind)),
            "PersistentVolumeClaim" => claim = Some(strict::<PersistentVolumeClaim>(&doc, &kind)),
            "Service" => drop(strict::<Service>(&doc, &kind)),
            "StatefulSet" => statefulset = Some(strict::<StatefulSet>(&doc, &kind)),
            "PodDisruptionBudget" => drop(strict::<PodDisruptionBudget>(&doc, &kind)),
            other => panic!("unexpected kind {other}"),
        }
        kinds.push(kind);
    }
    assert_eq!(
        kinds,
        [
            "ConfigMap",
            "Secret",
            "PersistentVolumeClaim",
            "Service",
            "StatefulSet",
            "PodDisruptionBudget"
        ]
    );

    // The pipeline config in the ConfigMap is a valid Eddy config.
    let yaml = config
        .and_then(|c| c.data)
        .and_then(|d| d.get("eddy.yaml").cloned())
        .expect("eddy.yaml in the ConfigMap");
    let pipeline =
        eddy_engine::config::Config::from_yaml(&yaml).expect("the ConfigMap's pipeline is valid");
    // Each pod is a static group member under its pod name (a restart gets its partitions
    // back without a rebalance).
    let in_pod = |name: &str| match name {
        "HOSTNAME" => Some("eddy-1".to_string()),
        "KUBERNETES_SERVICE_HOST" => Some("10.96.0.1".to_string()),
        _ => None,
    };
    assert_eq!(
        pipeline.kafka.group_instance_id(in_pod).as_deref(),
        Some("eddy-1")
    );

    let spec = statefulset.and_then(|s| s.spec).expect("spec");
    let pod = spec.template.spec.expect("pod spec");
    let container = &pod.containers[0];
    let path = |probe: &Option<k8s_openapi::api::core::v1::Probe>| {
        probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .and_then(|h| h.path.clone())
    };
    assert_eq!(
        path(&container.liveness_probe).as_deref(),
        Some("/health/live")
    );
    assert_eq!(
        path(&container.readiness_probe).as_deref(),
        Some("/health/ready")
    );
    assert!(
        container
            .ports
            .as_ref()
            .is_some_and(|p| p[0].container_port == 9090)
    );
    let resources = container.resources.as_ref().expect("resources");
    assert!(resources.requests.is_some() && resources.limits.is_some());
    let mounts = container.volume_mounts.as_ref().expect("mounts");
    assert!(mounts.iter().any(|m| m.mount_path == "/var/lib/eddy"));
    assert!(spec.volume_claim_templates.is_some_and(|v| !v.is_empty()));
    // Checkpoints go to the shared claim, which every replica can mount.
    let claim = claim.expect("the shared claim");
    let claim_name = claim.metadata.name.clone().expect("claim name");
    assert!(
        claim
            .spec
            .and_then(|s| s.access_modes)
            .is_some_and(|m| m.contains(&"ReadWriteMany".to_string()))
    );
    let shared_dir = pipeline.state.shared_dir.expect("state.shared_dir is set");
    let volume = pod
        .volumes
        .as_ref()
        .and_then(|v| {
            v.iter().find(|v| {
                v.persistent_volume_claim
                    .as_ref()
                    .is_some_and(|c| c.claim_name == claim_name)
            })
        })
        .expect("a volume of the shared claim");
    assert!(
        mounts
            .iter()
            .any(|m| m.name == volume.name && shared_dir.starts_with(&m.mount_path)),
        "state.shared_dir is on the shared volume"
    );
    // The admin token and the TLS files come from Secrets mounted as files.
    let secret_mount = |path: &str, secret: &str| {
        pod.volumes.iter().flatten().any(|v| {
            v.secret
                .as_ref()
                .is_some_and(|s| s.secret_name.as_deref() == Some(secret))
                && mounts
                    .iter()
                    .any(|m| m.name == v.name && path.starts_with(&m.mount_path))
        })
    };
    let env = container.env.as_ref().expect("env");
    let token_file = env
        .iter()
        .find(|e| e.name == "EDDY_ADMIN__TOKEN_FILE")
        .and_then(|e| e.value.clone())
        .expect("EDDY_ADMIN__TOKEN_FILE");
    assert!(secret_mount(&token_file, "eddy-admin"), "{token_file}");
    let tls = pipeline.http.tls.expect("http.tls is set");
    for file in [&tls.cert, &tls.key] {
        let file = file.to_string_lossy();
        assert!(secret_mount(&file, "eddy-tls"), "{file}");
    }
    for probe in [&container.liveness_probe, &container.readiness_probe] {
        let scheme = probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .and_then(|h| h.scheme.clone());
        assert_eq!(scheme.as_deref(), Some("HTTPS"));
    }
    assert_eq!(
        pod.security_context.and_then(|s| s.run_as_non_root),
        Some(true)
    );
}

#[test]
fn the_image_alerts_and_dashboard_parse() {
    let root = eddy_tests::repo_root().join("deploy");
    let alerts: Value = serde_yaml::from_str(
        &std::fs::read_to_string(root.join("prometheus/alerts.yaml")).expect("alerts"),
    )
    .expect("alerts YAML");
    let rules = alerts["groups"][0]["rules"].as_sequence().expect("rules");
    let names: Vec<&str> = rules.iter().filter_map(|r| r["alert"].as_str()).collect();
    let runbook = std::fs::read_to_string(root.join("runbook.md")).expect("runbook");
    for name in &names {
        assert!(
            runbook.contains(&format!("## {name}")),
            "runbook has no section for {name}"
        );
    }
    assert_eq!(names.len(), 12);
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("grafana/eddy-dashboard.json")).expect("dashboard"),
    )
    .expect("dashboard JSON");
    assert!(
        dashboard["panels"]
            .as_array()
            .is_some_and(|p| p.len() >= 11)
    );
    let containerfile = std::fs::read_to_string(root.join("Containerfile")).expect("Containerfile");
    assert!(containerfile.contains("USER 10001") && containerfile.contains("HEALTHCHECK"));
    eddy_engine::config::Config::from_yaml(
        &std::fs::read_to_string(root.join("eddy.yaml")).expect("eddy.yaml"),
    )
    .expect("the image's pipeline is valid");
}
