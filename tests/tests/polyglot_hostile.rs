//! A hostile Python plugin is contained like a Rust one (`hostile_plugins.rs`,
//! `plugin_policies.rs`): the fixture `tests/fixtures/python-hostile` (built by
//! `scripts/build-polyglot.sh`) loops forever or allocates without bound inside `accumulate`.
//! The call time limit and the memory limit stop it with a trap that names the limit, the trap
//! stops only its own pipeline and is counted (pipeline stats, `eddy_errors_total`,
//! `eddy_plugin_traps_total`), and the host goes on running Python plugins.

use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy::metrics::Metrics;
use eddy::pipeline::{Outputs, Pipeline};
use eddy::plugin::{PluginError, Runtime, WasmAggregator};
use eddy::sink::{JsonLines, MemoryBuffer};
use eddy_engine::aggregate::AggregatorInstance;
use eddy_engine::config::{Config, PluginsConfig};
use eddy_engine::event::RawBatch;
use eddy_tests::{example, fixture, plugin_dir};

const CALL_TIMEOUT: Duration = Duration::from_millis(500);
/// Room for CPython's own heap, far below what the memory bomb asks for.
const MEMORY_LIMIT: usize = 96 << 20;
const EVENT: &str = r#"{"key":"a","ts":1000,"amount":5}"#;

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
    let runtime = Runtime::new(&limits()).expect("runtime");
    let path = fixture("python-hostile");
    let loaded = runtime
        .load(path.to_str().expect("utf-8 path"))
        .expect("loads");
    for (mode, limit) in [("loop", "time limit"), ("grow", "memory limit")] {
        let config = format!(r#"{{"mode":"{mode}"}}"#);
        let mut plugin = WasmAggregator::new(&runtime, &loaded, &config).expect("configures");
        let started = Instant::now();
        let result = plugin.accumulate(&[0], &[1.0]);
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
                took >= CALL_TIMEOUT && took < CALL_TIMEOUT * 4,
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
