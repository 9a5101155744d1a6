//! Eddy against an authenticated Apache Kafka: the test broker's `SASL_SSL` listener (SCRAM-
//! SHA-512 over TLS, the broker's certificate signed by a CA the test made with `keytool`),
//! Eddy configured through `kafka.properties` alone. The known dataset gives exactly the
//! reference; a wrong password leaves Eddy not ready, saying why, with nothing written; the
//! password shows neither in the log, nor in `eddy validate`, nor in `/v1/pipelines`.

use std::process::Command;
use std::time::{Duration, Instant};

use eddy_tests::broker::Kafka;
use eddy_tests::dataset::{CONFIG, PARTITIONS, Report, TOPICS, dataset};
use eddy_tests::plugin_dir;
use eddy_tests::process::{Eddy, eddy_binary, http_get};
use eddy_tests::sasl_ssl::{PASSWORD, client_properties};
use eddy_tests::topics::{produce, read_outputs};

const READY_WITHIN: Duration = Duration::from_secs(60);

#[test]
fn eddy_reads_and_writes_through_sasl_ssl_configured_by_kafka_properties_alone() {
    let kafka = Kafka::start_sasl_ssl();
    let topics: Vec<(&str, u32)> = TOPICS.iter().map(|t| (*t, PARTITIONS)).collect();
    kafka.create_topics(&topics);
    let data = dataset();
    produce(&kafka.bootstrap_servers(), &data.records);
    let secured = kafka.sasl_ssl_servers();

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sasl.yaml");
    let config = format!("{CONFIG}{}", client_properties(&kafka.ca_file()));
    std::fs::write(&path, &config).expect("config written");

    let validated = Command::new(eddy_binary())
        .args(["validate", "--config"])
        .arg(&path)
        .env("EDDY_KAFKA__BROKERS", &secured)
        .env("EDDY_PLUGINS__DIR", plugin_dir())
        .output()
        .expect("eddy validate");
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );
    assert!(validated.status.success(), "{shown}");
    assert!(
        !shown.contains(PASSWORD),
        "eddy validate shows the password: {shown}"
    );

    let log = dir.path().join("eddy.log");
    let info = [("EDDY_LOG", "info".to_string())];
    let mut eddy = Eddy::run_logging_to(&path, &secured, &info, &log);
    eddy.wait_ready(READY_WITHIN);
    let pipelines = http_get(eddy.port(), "/v1/pipelines").expect("/v1/pipelines");
    assert!(!pipelines.contains(PASSWORD), "{pipelines}");
    let outputs = read_outputs(
        &kafka.bootstrap_servers(),
        data.windows.len(),
        Duration::from_secs(1),
        Duration::from_secs(90),
    );
    assert!(eddy.stop().success(), "eddy exits 0 on SIGTERM");
    let report = Report::of(&data, &outputs);
    assert!(report.results.exact(), "results: {}", report.summary());
    assert!(report.late.exact(), "late events: {}", report.summary());
    assert!(report.dead.exact(), "dead letters: {}", report.summary());
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(!text.contains(PASSWORD), "the log shows the password");

    // A wrong password: never ready, the reason in the log, nothing written.
    let wrong = "not-the-password-7d2e";
    std::fs::write(&path, config.replace(PASSWORD, wrong)).expect("config written");
    let log = dir.path().join("wrong.log");
    let mut eddy = Eddy::run_logging_to(&path, &secured, &info, &log);
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let ready = http_get(eddy.port(), "/health/ready");
        assert!(
            ready.as_deref().is_none_or(|r| r.contains("not ready")),
            "ready with a wrong password: {ready:?}"
        );
        assert!(eddy.exited().is_none(), "eddy exited");
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(eddy);
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.to_lowercase().contains("authentication"),
        "the log says why: {text}"
    );
    assert!(!text.contains(wrong), "the log shows the password");
    let outputs = read_outputs(
        &kafka.bootstrap_servers(),
        data.windows.len() * 2,
        Duration::from_secs(1),
        Duration::from_secs(5),
    );
    assert_eq!(
        outputs.get("results").map(Vec::len),
        Some(data.windows.len()),
        "nothing more written"
    );
}
