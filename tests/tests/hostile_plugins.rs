//! Misbehaving plugins are contained: an endless loop is interrupted at the call time limit, a
//! memory grower stops at the memory limit, a panic traps, a huge or malformed answer is refused,
//! and a plugin importing a WASI interface the host does not grant (the clock) is refused at
//! load. Each gives a clear error, and the host keeps serving other plugins.

use std::time::{Duration, Instant};

use eddy::config::PluginsConfig;
use eddy::plugin::{AggregatorPlugin, PluginError, Runtime};
use eddy_tests::{fixture, plugin_dir};

fn runtime() -> Runtime {
    Runtime::new(&PluginsConfig {
        dir: plugin_dir(),
        memory_limit_bytes: 16 << 20,
        call_timeout: Duration::from_millis(200),
    })
    .expect("runtime")
}

fn hostile(runtime: &Runtime, mode: &str) -> AggregatorPlugin {
    let path = fixture("hostile");
    let loaded = runtime
        .load(path.to_str().expect("utf-8 path"))
        .expect("loads");
    AggregatorPlugin::new(runtime, &loaded, &format!(r#"{{"mode":"{mode}"}}"#)).expect("configures")
}

/// A well-behaved plugin on the same runtime still works.
fn still_serving(runtime: &Runtime) {
    let loaded = runtime.load("count").expect("count loads");
    let mut count = AggregatorPlugin::new(runtime, &loaded, "{}").expect("count configures");
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
