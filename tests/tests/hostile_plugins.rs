//! Misbehaving plugins are contained: an endless loop is interrupted at the call time limit, a
//! memory grower stops at the memory limit, a panic traps, a huge or malformed answer is refused,
//! and a plugin importing a WASI interface the host does not grant (the clock) is refused at
//! load. Each gives a clear error, and the host keeps serving other plugins.

use std::time::{Duration, Instant};

use eddy::plugin::{PluginError, Runtime, WasmAggregator};
use eddy_engine::aggregate::AggregatorInstance;
use eddy_engine::config::PluginsConfig;
use eddy_tests::{fixture, plugin_dir};

fn runtime() -> Runtime {
    Runtime::new(&PluginsConfig {
        dir: plugin_dir(),
        memory_limit_bytes: 16 << 20,
        call_timeout: Duration::from_millis(200),
        ..PluginsConfig::default()
    })
    .expect("runtime")
}

fn hostile(runtime: &Runtime, mode: &str) -> WasmAggregator {
    let path = fixture("hostile");
    let loaded = runtime
        .load(path.to_str().expect("utf-8 path"))
        .expect("loads");
    WasmAggregator::new(runtime, &loaded, &format!(r#"{{"mode":"{mode}"}}"#)).expect("configures")
}

/// A well-behaved plugin on the same runtime still works.
fn still_serving(runtime: &Runtime) {
    let loaded = runtime.load("count").expect("count loads");
    let mut count = WasmAggregator::new(runtime, &loaded, "{}").expect("count configures");
    count
        .accumulate(&[0, 0, 1], &[1.0, 1.0, 1.0])
        .expect("accumulate");
    assert_eq!(count.finish(&[0, 1]).expect("finish"), [2.0, 1.0]);
}

fn assert_trap(result: Result<(), PluginError>, what: &str) {
    match result {
        Err(PluginError::Trap {
            plugin,
            call,
            message,
        }) => {
            assert_eq!(
                (plugin.as_str(), call),
                ("hostile", "accumulate"),
                "{what}: {message}"
            );
        }
        other => panic!("{what}: expected a trap, got {other:?}"),
    }
}

#[test]
fn endless_loop_is_interrupted_at_the_call_time_limit() {
    let runtime = runtime();
    let mut plugin = hostile(&runtime, "loop");
    let started = Instant::now();
    assert_trap(plugin.accumulate(&[0], &[1.0]), "loop");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "interrupted after {took:?}");
    still_serving(&runtime);
}

#[test]
fn memory_growth_stops_at_the_memory_limit() {
    let runtime = runtime();
    let mut plugin = hostile(&runtime, "grow");
    assert_trap(plugin.accumulate(&[0], &[1.0]), "grow");
    still_serving(&runtime);
}

#[test]
fn a_panic_traps_and_the_instance_stays_dead() {
    let runtime = runtime();
    let mut plugin = hostile(&runtime, "trap");
    assert_trap(plugin.accumulate(&[0], &[1.0]), "trap");
    assert!(
        plugin.accumulate(&[0], &[1.0]).is_err(),
        "a trapped instance is not entered again"
    );
    still_serving(&runtime);
}

#[test]
fn a_huge_or_malformed_answer_is_refused() {
    let runtime = runtime();
    let mut plugin = hostile(&runtime, "huge");
    match plugin.finish(&[0, 1]) {
        Err(PluginError::Failed {
            call: "finish",
            message,
            ..
        }) => {
            assert!(message.contains("expected 2"), "{message}")
        }
        other => panic!("expected the answer to be refused, got {other:?}"),
    }
    still_serving(&runtime);
}

#[test]
fn a_plugin_importing_the_clock_is_refused_at_load() {
    let runtime = runtime();
    let path = fixture("clock-reader");
    match runtime.load(path.to_str().expect("utf-8 path")) {
        Err(PluginError::Invalid { message, .. }) => {
            assert!(message.contains("wasi:clocks"), "{message}")
        }
        Err(other) => panic!("expected Invalid, got {other}"),
        Ok(_) => panic!("a plugin importing wasi:clocks was accepted"),
    }
    still_serving(&runtime);
}

fn panicky_pipeline(
    policy: &str,
) -> (
    eddy::pipeline::Pipeline,
    eddy::sink::MemoryBuffer,
    eddy::sink::MemoryBuffer,
) {
    use eddy::sink::JsonLines;
    let yaml = format!(
        "transforms: [{{ plugin: {:?} }}]\n\
         aggregates: [{{ name: n, plugin: count }}]\n\
         plugins: {{ on_trap: {policy} }}\n",
        fixture("panicky-filter")
    );
    let mut config = eddy_engine::config::Config::from_yaml(&yaml).expect("config");
    config.plugins.dir = plugin_dir();
    let (results, results_buffer) = JsonLines::memory();
    let (late, _) = JsonLines::memory();
    let (dead_letter, dead_buffer) = JsonLines::memory();
    let outputs = eddy::pipeline::Outputs {
        results: results.into(),
        late: late.into(),
        dead_letter: dead_letter.into(),
    };
    let pipeline = eddy::pipeline::Pipeline::new(&config, outputs).expect("pipeline");
    (pipeline, results_buffer, dead_buffer)
}

fn batch(rows: &[&str]) -> eddy_engine::event::RawBatch {
    let mut batch = eddy_engine::event::RawBatch::default();
    for (i, word) in rows.iter().enumerate() {
        batch.push(
            format!(r#"{{"key":"k","ts":{i},"word":"{word}"}}"#).as_bytes(),
            0,
        );
    }
    batch
}

#[test]
fn a_trapping_transform_is_retried_on_a_fresh_instance_then_dead_lettered() {
    let (mut pipeline, results, dead) = panicky_pipeline("dead_letter");
    pipeline
        .process_at(batch(&["a", "b"]), 0)
        .expect("first batch");
    pipeline
        .process_at(batch(&["boom", "c"]), 0)
        .expect("trapping batch is dead-lettered");
    pipeline
        .process_at(batch(&["d"]), 0)
        .expect("a fresh instance takes the next batch");
    let stats = pipeline.finish().expect("finish");
    assert_eq!(stats.plugin_traps, 2, "the batch was tried twice");
    assert_eq!(stats.dead_letters, 2);
    let dead = dead.take();
    assert_eq!(dead.len(), 2);
    assert!(
        dead[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("trapped")),
        "{}",
        dead[0]
    );
    assert_eq!(dead[0]["event"]["word"], "boom");
    let results = results.take();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["n"], 3, "a, b and d were counted");
}

#[test]
fn the_stop_policy_stops_the_pipeline_naming_the_plugin() {
    let (mut pipeline, _, _) = panicky_pipeline("stop");
    pipeline.process_at(batch(&["a"]), 0).expect("first batch");
    let error = pipeline.process_at(batch(&["boom"]), 0).expect_err("stops");
    let message = error.to_string();
    assert!(
        message.contains("panicky") && message.contains("trapped"),
        "{message}"
    );
}
