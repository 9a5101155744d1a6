//! What happens when plugins misbehave inside a running pipeline: a new transform version that
//! traps too often goes back to the version it replaced (or does so at once under the
//! `rollback` policy), hostile aggregators (endless loop, memory grower, trap) stop only their
//! own pipeline with the trap named while the host keeps serving, and every call and trap is
//! counted per plugin version on `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use eddy::metrics::Metrics;
use eddy::pipeline::{Outputs, Pipeline};
use eddy::plugin::Runtime;
use eddy::sink::{JsonLines, MemoryBuffer};
use eddy_engine::config::StageId;
use eddy_engine::config::{Config, TrapPolicy};
use eddy_engine::event::RawBatch;
use eddy_tests::{example, fixture, plugin_dir};

fn pipeline(config: &Config, metrics: &Metrics) -> (Pipeline, MemoryBuffer, MemoryBuffer) {
    let runtime = Arc::new(
        Runtime::with_metrics(&config.plugins, Arc::clone(&metrics.plugins)).expect("runtime"),
    );
    let (results, results_buffer) = JsonLines::memory();
    let (dead, dead_buffer) = JsonLines::memory();
    let outputs = Outputs {
        results: results.into(),
        late: JsonLines::memory().0.into(),
        dead_letter: dead.into(),
    };
    let pipeline = Pipeline::with_runtime(config, runtime, outputs).expect("pipeline");
    (pipeline, results_buffer, dead_buffer)
}

fn batch(lines: &[&str]) -> RawBatch {
    let mut batch = RawBatch::with_capacity(lines.len(), 0);
    for line in lines {
        batch.push(line.as_bytes(), 0);
    }
    batch
}

fn transform_config(policy: TrapPolicy) -> Config {
    let enrich = example("enrich-map").display().to_string();
    let mut config = Config::from_yaml(&format!(
        "transforms: [{{ plugin: '{enrich}' }}]\n\
         aggregates: [{{ name: n, plugin: count }}]\n"
    ))
    .expect("config");
    config.plugins.dir = plugin_dir();
    config.plugins.on_trap = policy;
    config
}

fn metric(metrics: &Metrics, name: &str, plugin: &str, call: &str) -> f64 {
    let text = metrics.render();
    text.lines()
        .find(|l| {
            l.starts_with(name)
                && l.contains(&format!("plugin=\"{plugin}\""))
                && l.contains(&format!("call=\"{call}\""))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// `eddy_errors_total{kind}` of the pipeline metrics.
fn errors(metrics: &Metrics, kind: &str) -> f64 {
    let series = format!("eddy_errors_total{{kind=\"{kind}\"}} ");
    metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(&series)?.parse().ok())
        .unwrap_or(0.0)
}

const BOOM: &str = r#"{"key":"a","ts":1000,"amount":5,"note":"boom"}"#;
const FINE: &str = r#"{"key":"a","ts":1000,"amount":5}"#;

#[test]
fn a_transform_version_that_traps_too_often_is_rolled_back() {
    let metrics = Metrics::new();
    let mut config = transform_config(TrapPolicy::DeadLetter);
    config.plugins.rollback_traps = 3;
    config.plugins.rollback_window = Duration::from_secs(60);
    let (mut pipeline, _, dead) = pipeline(&config, &metrics);
    let panicky = fixture("panicky-filter").display().to_string();
    pipeline
        .swap(&StageId::Transform(0), &panicky)
        .expect("activated");
    pipeline.process_at(batch(&[FINE]), 0).expect("fine");
    // Trap, retry on a fresh instance, trap again: the batch goes to the dead letters.
    pipeline.process_at(batch(&[BOOM]), 0).expect("contained");
    assert_eq!(
        dead.take().len(),
        1,
        "dead-lettered under on_trap: dead_letter"
    );
    assert!(pipeline.take_rollbacks().is_empty());
    // The third trap within the window: back to the filter it replaced, which takes the batch.
    pipeline
        .process_at(batch(&[BOOM, FINE]), 0)
        .expect("contained");
    assert_eq!(pipeline.take_rollbacks(), vec![0]);
    assert!(
        dead.take().is_empty(),
        "the previous version processed the batch"
    );
    assert_eq!(
        pipeline.config().transforms[0].plugin,
        config.transforms[0].plugin
    );
    assert_eq!(pipeline.stats().events, 3);
    assert_eq!(
        metric(&metrics, "eddy_plugin_traps_total", "panicky", "process"),
        3.0
    );
    assert_eq!(
        metric(&metrics, "eddy_plugin_calls_total", "panicky", "process"),
        4.0
    );
    assert_eq!(
        metric(&metrics, "eddy_plugin_calls_total", "enrich", "process"),
        1.0
    );
}

#[test]
fn column_transforms_are_held_to_the_same_limits_and_trap_policy() {
    let metrics = Metrics::new();
    let hostile = fixture("hostile-column-filter").display().to_string();
    let mut config = Config::from_yaml(&format!(
        "transforms: [{{ plugin: '{hostile}' }}]\n\
         aggregates: [{{ name: n, plugin: count }}]\n"
    ))
    .expect("config");
    config.plugins.dir = plugin_dir();
    config.plugins.on_trap = TrapPolicy::DeadLetter;
    config.plugins.call_timeout = Duration::from_millis(200);
    config.plugins.memory_limit_bytes = 16 << 20;
    let (mut pipeline, _, dead) = pipeline(&config, &metrics);
    pipeline.process_at(batch(&[FINE]), 0).expect("fine");
    for (mode, named) in [
        ("loop", Some("time limit")),
        ("grow", Some("memory limit")),
        ("boom", None),
    ] {
        let record = format!(r#"{{"key":"a","ts":1000,"amount":5,"mode":"{mode}"}}"#);
        pipeline
            .process_at(batch(&[FINE, &record]), 0)
            .expect("contained: the batch is dead-lettered");
        let letters = dead.take();
        assert_eq!(
            letters.len(),
            2,
            "{mode}: the whole batch, once: {letters:?}"
        );
        let reason = letters[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(reason.contains("trapped"), "{mode}: {reason}");
        if let Some(named) = named {
            assert!(reason.contains(named), "{mode}: {reason}");
        }
    }
    // The stage runs on, on a fresh instance.
    pipeline.process_at(batch(&[FINE, FINE]), 0).expect("fine");
    assert!(dead.take().is_empty());
    assert_eq!(pipeline.stats().events, 3);
    // Each bad batch trapped twice (the retry on a fresh instance traps too).
    assert_eq!(
        metric(
            &metrics,
            "eddy_plugin_traps_total",
            "hostile-columns",
            "process"
        ),
        6.0
    );
}

#[test]
fn the_rollback_policy_rolls_back_at_the_second_trap_on_a_batch() {
    let metrics = Metrics::new();
    let mut config = transform_config(TrapPolicy::Rollback);
    config.plugins.rollback_traps = 100;
    let (mut pipeline, _, dead) = pipeline(&config, &metrics);
    // Running its configured plugin, a stage has nothing to go back to: dead letters.
    let panicky = fixture("panicky-filter").display().to_string();
    let mut only_panicky = config.clone();
    only_panicky.transforms[0].plugin = panicky.clone();
    let (mut configured, _, configured_dead) = self::pipeline(&only_panicky, &metrics);
    configured.process_at(batch(&[BOOM]), 0).expect("contained");
    assert_eq!(configured_dead.take().len(), 1);

    pipeline
        .swap(&StageId::Transform(0), &panicky)
        .expect("activated");
    pipeline.process_at(batch(&[BOOM]), 0).expect("contained");
    assert_eq!(pipeline.take_rollbacks(), vec![0]);
    assert!(dead.take().is_empty());
    assert_eq!(pipeline.stats().events, 1);
}

#[test]
fn hostile_aggregators_stop_their_pipeline_and_are_counted() {
    let metrics = Metrics::new();
    let hostile = fixture("hostile").display().to_string();
    for mode in ["loop", "grow", "trap"] {
        let mut config = Config::from_yaml(&format!(
            "aggregates: [{{ name: h, plugin: '{hostile}', config: {{ mode: {mode} }} }}]\n"
        ))
        .expect("config");
        config.plugins.dir = plugin_dir();
        config.plugins.call_timeout = Duration::from_millis(200);
        config.plugins.memory_limit_bytes = 16 << 20;
        let (mut pipeline, _, _) = pipeline(&config, &metrics);
        let error = pipeline
            .process_at(batch(&[FINE]), 0)
            .expect_err("an aggregator trap stops its pipeline");
        let message = error.to_string();
        assert!(message.contains("trapped"), "{mode}: {message}");
        // The limit that stopped it is named, not wasmtime's `interrupt` or `unreachable`.
        let named = match mode {
            "loop" => Some("time limit"),
            "grow" => Some("memory limit"),
            _ => None,
        };
        if let Some(named) = named {
            assert!(message.contains(named), "{mode}: {message}");
            assert!(
                !message.contains("interrupt") && !message.contains("unreachable"),
                "{mode}: {message}"
            );
        }
        assert_eq!(
            pipeline.stats().plugin_traps,
            1,
            "{mode}: the trap is counted"
        );
        let exported = Metrics::new();
        exported.pipeline.observe(&pipeline.stats(), 0);
        assert_eq!(
            errors(&exported, "plugin_trap"),
            1.0,
            "{mode}: eddy_errors_total{{kind=\"plugin_trap\"}}"
        );
    }
    assert_eq!(
        metric(&metrics, "eddy_plugin_traps_total", "hostile", "accumulate"),
        3.0
    );
    // The host keeps serving: another pipeline on the same runtime's metrics works.
    let mut config =
        Config::from_yaml("aggregates: [{ name: n, plugin: count }]\n").expect("config");
    config.plugins.dir = plugin_dir();
    let (mut fine, results, _) = pipeline(&config, &metrics);
    fine.process_at(batch(&[FINE]), 0).expect("fine");
    fine.finish().expect("finish");
    assert_eq!(results.take().len(), 1);
}

/// A version that answers with a huge result, or that imports a clock the host does not grant,
/// is refused without touching the running pipeline.
#[test]
fn huge_answers_and_ungranted_imports_are_refused_and_the_pipeline_runs_on() {
    let metrics = Metrics::new();
    let hostile = fixture("hostile").display().to_string();
    let mut config = Config::from_yaml(&format!(
        "aggregates: [{{ name: h, plugin: '{hostile}', config: {{ mode: huge }} }}]\n"
    ))
    .expect("config");
    config.plugins.dir = plugin_dir();
    let (mut pipeline, _, _) = pipeline(&config, &metrics);
    pipeline.process_at(batch(&[FINE]), 0).expect("accumulates");
    let error = pipeline.finish().expect_err("a huge answer is refused");
    assert!(error.to_string().contains("finish"), "{error}");
    assert_eq!(
        metric(&metrics, "eddy_plugin_calls_total", "hostile", "finish"),
        1.0
    );

    let mut config = transform_config(TrapPolicy::DeadLetter);
    config.plugins.rollback_traps = 3;
    let (mut pipeline, results, _) = self::pipeline(&config, &metrics);
    let clock = fixture("clock-reader").display().to_string();
    let error = pipeline
        .swap(&StageId::Transform(0), &clock)
        .expect_err("an ungranted import does not link");
    assert!(
        error.to_string().contains("clock") || error.to_string().contains("wasi"),
        "{error}"
    );
    assert_eq!(
        pipeline.config().transforms[0].plugin,
        config.transforms[0].plugin
    );
    pipeline.process_at(batch(&[FINE]), 0).expect("runs on");
    pipeline.finish().expect("finish");
    assert_eq!(results.take().len(), 1);
}
