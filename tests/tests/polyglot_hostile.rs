//! A hostile Python plugin is contained like a Rust one (`hostile_plugins.rs`,
//! `plugin_policies.rs`): the fixture `tests/fixtures/python-hostile` (built by
//! `scripts/build-polyglot.sh`) loops forever or allocates without bound inside `accumulate`
//! when it meets a negative value.
//! The call time limit and the memory limit stop it with a trap that names the limit, the trap
//! stops only its own pipeline and is counted (pipeline stats, `eddy_errors_total`,
//! `eddy_plugin_traps_total`), and the host goes on running Python plugins. On a Kafka source
//! (Apache Kafka) the `on_trap: dead_letter` policy applies as to a Rust plugin: a batch with
//! a poison value is retried from the checkpoint, then dead-lettered with the limit named, once,
//! and every other window is computed by the same Python plugin.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy::metrics::Metrics;
use eddy::pipeline::{Outputs, Pipeline};
use eddy::plugin::{PluginError, Runtime, WasmAggregator};
use eddy::sink::{JsonLines, MemoryBuffer};
use eddy_engine::aggregate::AggregatorInstance;
use eddy_engine::config::{Config, PluginsConfig};
use eddy_engine::event::RawBatch;
use eddy_tests::broker::{Kafka, one_at_a_time};
use eddy_tests::dataset::{PARTITIONS, TOPICS};
use eddy_tests::process::{Eddy, http_request};
use eddy_tests::topics::{produce, read_outputs};
use eddy_tests::{example, fixture, plugin_dir};
use serde_json::Value;

const CALL_TIMEOUT: Duration = Duration::from_millis(500);
/// Room for CPython's own heap, far below what the memory bomb asks for.
const MEMORY_LIMIT: usize = 96 << 20;
/// The fixture misbehaves at a negative value.
const EVENT: &str = r#"{"key":"a","ts":1000,"amount":-1}"#;

fn limits() -> PluginsConfig {
    PluginsConfig {
        dir: plugin_dir(),
        memory_limit_bytes: MEMORY_LIMIT,
        call_timeout: CALL_TIMEOUT,
        ..PluginsConfig::default()
    }
}

fn pipeline(config: &Config, metrics: &Metrics) -> (Pipeline, MemoryBuffer) {
    let runtime = Arc::new(
        Runtime::with_metrics(&config.plugins, Arc::clone(&metrics.plugins)).expect("runtime"),
    );
    let (results, buffer) = JsonLines::memory();
    let outputs = Outputs {
        results: results.into(),
        late: JsonLines::memory().0.into(),
        dead_letter: JsonLines::memory().0.into(),
    };
    let pipeline = Pipeline::with_runtime(config, runtime, outputs).expect("pipeline");
    (pipeline, buffer)
}

fn batch() -> RawBatch {
    let mut batch = RawBatch::with_capacity(1, 0);
    batch.push(EVENT.as_bytes(), 0);
    batch
}

/// The value of the first series of `name` whose labels include all of `labels`.
fn metric(metrics: &Metrics, name: &str, labels: &[&str]) -> f64 {
    metrics
        .render()
        .lines()
        .find(|l| l.starts_with(name) && labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// The Python spread on the same limits still computes: the host survived.
fn python_still_runs(config: &Config, metrics: &Metrics) {
    let mut config = config.clone();
    config.aggregates = Config::from_yaml(&format!(
        "aggregates: [{{ name: s, plugin: '{}', field: /amount }}]\n",
        example("python-spread").display()
    ))
    .expect("config")
    .aggregates;
    let (mut fine, results) = pipeline(&config, metrics);
    fine.process_at(batch(), 0).expect("the Python spread runs");
    fine.finish().expect("finish");
    let rows = results.take();
    assert_eq!(rows.len(), 1, "{rows:?}");
}

#[test]
fn hostile_python_aggregators_stop_at_the_limits_and_are_counted() {
    // Compiling and trapping Python components takes both cores: not beside a Kafka run.
    let _heavy = one_at_a_time();
    let metrics = Metrics::new();
    let hostile = fixture("python-hostile").display().to_string();
    for (mode, limit) in [("loop", "time limit"), ("grow", "memory limit")] {
        let mut config = Config::from_yaml(&format!(
            "aggregates: [{{ name: h, plugin: '{hostile}', field: /amount, config: {{ mode: {mode} }} }}]\n"
        ))
        .expect("config");
        config.plugins = limits();
        let (mut pipeline, _) = pipeline(&config, &metrics);
        let started = Instant::now();
        let error = pipeline
            .process_at(batch(), 0)
            .expect_err("an aggregator trap stops its pipeline");
        let took = started.elapsed();
        let message = error.to_string();
        eprintln!("{mode}: stopped after {took:?}: {message}");
        assert!(message.contains("trapped"), "{mode}: {message}");
        assert!(message.contains(limit), "{mode}: {message}");
        assert!(message.contains("python-hostile"), "{mode}: {message}");
        assert!(took < Duration::from_secs(10), "{mode}: {took:?}");
        assert_eq!(
            pipeline.stats().plugin_traps,
            1,
            "{mode}: the trap is counted"
        );
        let exported = Metrics::new();
        exported.pipeline.observe(&pipeline.stats(), 0);
        assert_eq!(
            metric(&exported, "eddy_errors_total", &[r#"kind="plugin_trap""#]),
            1.0,
            "{mode}"
        );
        python_still_runs(&config, &metrics);
    }
    assert_eq!(
        metric(
            &metrics,
            "eddy_plugin_traps_total",
            &[r#"plugin="python-hostile""#, r#"call="accumulate""#]
        ),
        2.0,
        "{}",
        metrics.render()
    );
}

/// Straight through the host's `WasmAggregator`: each limit gives a
/// [`PluginError::Trap`] of `accumulate` that names it; the loop is stopped about at the call
/// time limit; the trapped instance stays dead, and a fresh instance of the same component on
/// the same runtime is usable again (it refuses a bad configuration with an error, not a trap).
#[test]
fn a_python_loop_and_memory_bomb_trap_with_the_limit_named() {
    let _heavy = one_at_a_time();
    let runtime = Runtime::new(&limits()).expect("runtime");
    let path = fixture("python-hostile");
    let loaded = runtime
        .load(path.to_str().expect("utf-8 path"))
        .expect("loads");
    for (mode, limit) in [("loop", "time limit"), ("grow", "memory limit")] {
        let config = format!(r#"{{"mode":"{mode}"}}"#);
        let mut plugin = WasmAggregator::new(&runtime, &loaded, &config).expect("configures");
        plugin
            .accumulate(&[0, 1], &[2.0, 3.0])
            .expect("other values are summed");
        assert_eq!(plugin.finish(&[0, 1]).expect("finish"), [2.0, 3.0]);
        let started = Instant::now();
        let result = plugin.accumulate(&[0], &[-1.0]);
        let took = started.elapsed();
        match result {
            Err(PluginError::Trap {
                plugin: name,
                call,
                message,
            }) => {
                assert_eq!((name.as_str(), call), ("python-hostile", "accumulate"));
                assert!(message.contains(limit), "{mode}: {message}");
            }
            other => panic!("{mode}: expected a trap, got {other:?}"),
        }
        if mode == "loop" {
            assert!(
                // Epoch ticks bound the call: it may end up to one tick before the limit.
                took >= CALL_TIMEOUT * 3 / 4 && took < CALL_TIMEOUT * 4,
                "interrupted after {took:?}"
            );
        }
        assert!(
            plugin.finish(&[0]).is_err(),
            "{mode}: a trapped instance is not called again"
        );
    }
    match WasmAggregator::new(&runtime, &loaded, r#"{"mode":"sleep"}"#) {
        Err(PluginError::Config { message, .. }) => assert!(message.contains("sleep")),
        Err(other) => panic!("expected a refused configuration, got {other}"),
        Ok(_) => panic!("accepted mode sleep"),
    }
}

/// Records accounted for in `outputs`: counted in a result (`n`) or dead-lettered (the events
/// far ahead, whose windows never close, aside).
fn accounted(outputs: &BTreeMap<String, Vec<eddy::kafka::TailRecord>>) -> i64 {
    let json = |r: &eddy::kafka::TailRecord| serde_json::from_slice::<Value>(&r.payload).ok();
    let counted: i64 = outputs
        .get("results")
        .into_iter()
        .flatten()
        .filter_map(|r| json(r)?["n"].as_i64())
        .sum();
    let dead = outputs
        .get("dead")
        .into_iter()
        .flatten()
        .filter(|r| json(r).is_some_and(|v| v["id"].as_i64() >= Some(0)))
        .count();
    counted + dead as i64
}

const KAFKA_EVENTS: i64 = 400;
/// Every `POISON_EVERY`-th event has a negative amount, up to `POISON_UNTIL`: the batch
/// dead-lettered with a poison record must not hold the last event of its partition (the one
/// far ahead that closes every window), so batches of at most `KAFKA_BATCH`.
const POISON_EVERY: i64 = 131;
const POISON_UNTIL: i64 = 300;
const KAFKA_BATCH: usize = 20;

/// `eddy run` on Apache Kafka (exactly-once) with the fixture in `mode`: each record is either in exactly one
/// result (counted, its amount summed by the Python plugin) or dead-lettered exactly once (with
/// the rest of its batch, the limit named in the `eddy.error` header); every poison record is
/// dead-lettered, the outcome is counted and `/v1/pipelines` shows the trap.
fn on_kafka(mode: &str, limit: &str) {
    // A broker, `eddy run` and a Python instance hitting its limits per test: one at a time
    // (in parallel on two cores, the memory bomb's batches missed CI's deadline).
    let _heavy = one_at_a_time();
    let broker = Kafka::with_topics(&TOPICS, PARTITIONS);
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("eddy.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
source: {{ type: kafka, topic: events }}
decode: {{ key: /key, time: /ts }}
window: {{ type: tumbling, size: 1s }}
aggregates:
  - {{ name: n, plugin: count }}
  - {{ name: total, plugin: '{}', field: /amount, config: {{ mode: {mode} }} }}
sink: {{ type: kafka, topic: results }}
late: {{ type: kafka, topic: late }}
dead_letter: {{ type: kafka, topic: dead }}
batch_size: {KAFKA_BATCH}
plugins: {{ memory_limit_bytes: {MEMORY_LIMIT}, call_timeout: {}ms }}
state: {{ checkpoint_interval: 300ms, delivery: exactly_once, transactional_id: eddy-python-hostile-{mode} }}
kafka: {{ brokers: set-by-the-environment, group_id: eddy-python-hostile-{mode} }}
"#,
            fixture("python-hostile").display(),
            CALL_TIMEOUT.as_millis()
        ),
    )
    .expect("config");
    let mut eddy = Eddy::run(&config, &brokers, &[]);
    eddy.wait_ready(Duration::from_secs(60));

    // Keys are per partition, so (key, window) names one window of one operator.
    let base = 1_700_000_000_000_i64;
    let mut records = Vec::new();
    let mut events: BTreeMap<i64, (String, i64, i64)> = BTreeMap::new();
    for i in 0..KAFKA_EVENTS {
        let partition = (i % i64::from(PARTITIONS)) as i32;
        let key = format!("p{partition}-k{}", i % 3);
        let ts = base + i * 20;
        let amount = if i % POISON_EVERY == POISON_EVERY - 1 && i < POISON_UNTIL {
            -1
        } else {
            i
        };
        let payload = format!(r#"{{"key":"{key}","ts":{ts},"amount":{amount},"id":{i}}}"#);
        records.push((partition, payload.into_bytes()));
        events.insert(i, (key, ts - ts.rem_euclid(1_000), amount));
    }
    for partition in 0..PARTITIONS as i32 {
        let ahead = format!(
            r#"{{"key":"ahead","ts":{},"amount":0,"id":-1}}"#,
            base + 600_000
        );
        records.push((partition, ahead.into_bytes()));
    }
    let started = Instant::now();
    produce(&brokers, &records);
    // Until every record is in a committed result or dead letter (or two minutes passed).
    let outputs = loop {
        let outputs = read_outputs(&brokers, 1, Duration::from_secs(3), Duration::from_secs(60));
        if accounted(&outputs) >= KAFKA_EVENTS || started.elapsed() > Duration::from_secs(240) {
            break outputs;
        }
    };
    let traps = eddy
        .metric(r#"eddy_errors_total{kind="plugin_trap"}"#)
        .unwrap_or(0.0);
    let outcome =
        r#"eddy_aggregator_trap_outcomes_total{plugin="python-hostile",outcome="dead_letter"}"#;
    let dead_lettered_batches = eddy.metric(outcome).unwrap_or(0.0);
    let (_, pipelines) = http_request(eddy.port(), "GET", "/v1/pipelines", &[], b"");
    assert!(
        pipelines.contains("dead-lettered") && pipelines.contains(limit),
        "{mode}: the trap is shown with the limit: {pipelines}"
    );
    let status = eddy.stop();
    assert!(status.success(), "{mode}: the host kept running: {status}");

    let mut dead: BTreeMap<i64, usize> = BTreeMap::new();
    for record in outputs.get("dead").into_iter().flatten() {
        let event: Value = serde_json::from_slice(&record.payload).expect("the original event");
        let id = event["id"].as_i64().expect("id");
        *dead.entry(id).or_default() += 1;
        let reason = record.header("eddy.error").unwrap_or_default();
        assert!(
            reason.contains("plugin trap") && reason.contains(limit),
            "{mode}: dead letter {id}: {reason}"
        );
    }
    let poison: BTreeSet<i64> = events
        .iter()
        .filter(|(_, e)| e.2 < 0)
        .map(|(&id, _)| id)
        .collect();
    eprintln!(
        "{mode}: {} dead letters ({} poison records) of {KAFKA_EVENTS}, {traps} traps, {:.1} s",
        dead.len(),
        poison.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        dead.values().all(|&n| n == 1),
        "{mode}: dead-lettered twice: {dead:?}"
    );
    assert!(
        poison.iter().all(|id| dead.contains_key(id)),
        "{mode}: {dead:?}"
    );
    assert!(
        dead.len() <= KAFKA_BATCH * poison.len(),
        "{mode}: {} dead letters, batches of {KAFKA_BATCH}",
        dead.len()
    );
    assert_eq!(
        dead_lettered_batches,
        poison.len() as f64,
        "{mode}: {outcome}"
    );
    assert!(
        traps >= 2.0 * poison.len() as f64,
        "{mode}: trap and retry counted: {traps}"
    );

    // What each window must hold: the events that were not dead-lettered.
    let mut want: BTreeMap<(String, i64), (i64, i64)> = BTreeMap::new();
    for (id, (key, window, amount)) in &events {
        if !dead.contains_key(id) {
            let entry = want.entry((key.clone(), *window)).or_default();
            entry.0 += 1;
            entry.1 += amount;
        }
    }
    let mut got: BTreeMap<(String, i64), (i64, i64)> = BTreeMap::new();
    for record in outputs.get("results").into_iter().flatten() {
        let v: Value = serde_json::from_slice(&record.payload).expect("JSON");
        let key = v["key"].as_str().expect("key").to_string();
        let window = v["window_start"].as_i64().expect("start");
        let n = v["n"].as_i64().expect("n");
        let total = v["total"].as_f64().expect("total") as i64;
        assert!(
            got.insert((key, window), (n, total)).is_none(),
            "{mode}: twice: {v}"
        );
    }
    assert_eq!(
        got, want,
        "{mode}: results (count, Python total) per window"
    );
}

#[test]
fn a_python_loop_on_kafka_is_dead_lettered_once_and_the_rest_computed() {
    on_kafka("loop", "time limit");
}

#[test]
fn a_python_memory_bomb_on_kafka_is_dead_lettered_once_and_the_rest_computed() {
    on_kafka("grow", "memory limit");
}
