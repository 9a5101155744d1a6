//! The admin API against its own document: schemathesis (PyPI, installed by
//! `scripts/install-schemathesis.sh`) generates requests from `docs/openapi.yaml` — valid and
//! invalid ones, every phase (examples, coverage, fuzzing, stateful) — against a running
//! `eddy run` holding the token, and checks every answer: a documented status, a body of the
//! documented schema and content type, invalid input refused, and never a 5xx. A bounded
//! number of examples per operation and a fixed seed keep the run short and repeatable.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use eddy_tests::broker::Kafka;
use eddy_tests::dataset::{CONFIG, PARTITIONS, TOPICS};
use eddy_tests::process::Eddy;
use eddy_tests::{plugin_dir, repo_root};

const TOKEN: &str = "openapi-test-token";

/// The `st` command of the venv `scripts/install-schemathesis.sh` fills.
fn schemathesis() -> PathBuf {
    let venv = std::env::var_os("EDDY_ST_VENV")
        .map_or_else(|| PathBuf::from("/var/tmp/eddy-st-venv"), PathBuf::from);
    let st = venv.join("bin/st");
    assert!(
        st.is_file(),
        "schemathesis is not installed ({} is missing): run scripts/install-schemathesis.sh \
         (scripts/test.sh does)",
        st.display()
    );
    st
}

/// Schemathesis's settings: path parameters that exist (the digest of a stored version, the
/// pipeline, a stage of `CONFIG`), and for uploads that the bytes the schema allows (any) may
/// be refused as not a component (400), as the document says.
fn settings_of(digest: &str) -> String {
    format!(
        r#"[parameters]
"path.digest" = "{digest}"
"path.pipeline" = "main"
"path.stage" = "aggregates.sum"

[[operations]]
include-operation-id = "uploadPlugin"
checks.positive_data_acceptance.expected-statuses = ["201", "400", "401", "413", "429"]
"#
    )
}

#[test]
fn the_admin_api_answers_as_its_openapi_document_says() {
    let st = schemathesis();
    let kafka = Kafka::with_topics(&TOPICS, PARTITIONS);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("eddy.yaml");
    std::fs::write(&path, CONFIG).expect("config written");
    let env = [
        ("EDDY_ADMIN__TOKEN", TOKEN.to_string()),
        (
            "EDDY_ADMIN__REGISTRY_DIR",
            dir.path().join("registry").display().to_string(),
        ),
        // Schemathesis sends many requests without the token on purpose.
        ("EDDY_ADMIN__FAILED_AUTH_PER_MINUTE", "100000".to_string()),
    ];
    let mut eddy = Eddy::run(&path, &kafka.bootstrap_servers(), &env);
    eddy.wait_ready(Duration::from_secs(60));
    // A stored version, so that the routes taking a digest reach more than their 404.
    let digest = eddy.upload(TOKEN, &plugin_dir().join("sum.wasm"));
    let settings = dir.path().join("schemathesis.toml");
    std::fs::write(&settings, settings_of(&digest)).expect("settings written");
    let output = Command::new(st)
        .arg("--config-file")
        .arg(&settings)
        .arg("run")
        .arg(repo_root().join("docs/openapi.yaml"))
        .args(["--url", &format!("http://127.0.0.1:{}", eddy.port())])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--checks", "all", "--max-examples", "25", "--seed", "7"])
        .args(["--workers", "1", "--request-timeout", "30", "--no-color"])
        .args(["--generation-database", "none"])
        .current_dir(dir.path())
        .output()
        .expect("running schemathesis");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}"
    );
    assert!(eddy.exited().is_none(), "eddy is still running");
    assert!(eddy.stop().success(), "eddy exits 0 on SIGTERM");
}
