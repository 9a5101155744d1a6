//! The example map and filter plugins, loaded as components, in front of an aggregate.

use eddy::plugin::{Runtime, TransformPlugin, WasmAggregator};
use eddy_engine::config::{Config, FileMode, SideOutputConfig, SinkConfig, SourceConfig};
use eddy_engine::event::RawBatch;
use eddy_tests::{example, plugin_dir};
use serde_json::Value;

fn runtime() -> Runtime {
    Runtime::new(&eddy_engine::config::PluginsConfig {
        dir: plugin_dir(),
        ..Default::default()
    })
    .expect("runtime")
}

#[test]
fn filter_keeps_rows_and_map_rewrites_them() {
    let runtime = runtime();
    let path = example("threshold-filter");
    let filter = runtime
        .load(path.to_str().expect("utf-8 path"))
        .expect("loads");
    let mut filter =
        TransformPlugin::new(&runtime, &filter, r#"{"field":"/v","min":2}"#).expect("configures");
    let mut batch = RawBatch::default();
    for (i, v) in [1, 2, 3, 0].iter().enumerate() {
        batch.push(format!(r#"{{"v":{v}}}"#).as_bytes(), i as i64);
    }
    let kept = filter.process(&batch).expect("filter runs");
    assert_eq!(kept.len(), 2);
    assert_eq!(
        (kept.payload(0), kept.timestamps[1]),
        (&br#"{"v":2}"#[..], 2)
    );

    let path = example("enrich-map");
    let map = runtime
        .load(path.to_str().expect("utf-8 path"))
        .expect("loads");
    let mut map =
        TransformPlugin::new(&runtime, &map, r#"{"set":{"tag":"x"}}"#).expect("configures");
    let mapped = map.process(&kept).expect("map runs");
    let row: Value = serde_json::from_slice(mapped.payload(1)).expect("json");
    assert_eq!(row, serde_json::json!({"v": 3, "tag": "x"}));

    let mut bad = RawBatch::default();
    bad.push(b"[]", 0);
    assert!(matches!(
        map.process(&bad),
        Err(eddy::plugin::PluginError::Failed { .. })
    ));
}

#[test]
fn stages_are_checked_against_their_world() {
    let runtime = runtime();
    let count = runtime.load("count").expect("loads");
    assert!(matches!(
        TransformPlugin::new(&runtime, &count, "{}"),
        Err(eddy::plugin::PluginError::WrongWorld { .. })
    ));
    let path = example("threshold-filter");
    let filter = runtime
        .load(path.to_str().expect("utf-8 path"))
        .expect("loads");
    assert!(matches!(
        WasmAggregator::new(&runtime, &filter, "{}"),
        Err(eddy::plugin::PluginError::WrongWorld { .. })
    ));
    assert!(matches!(
        runtime.load_bytes("junk", b"\0asm not really"),
        Err(eddy::plugin::PluginError::Invalid { .. })
    ));
}

#[test]
fn pipeline_with_filter_map_and_custom_aggregator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.jsonl");
    let lines: Vec<String> = (0..100)
        .map(|i| format!(r#"{{"key":"k{}","ts":{},"v":{}}}"#, i % 2, i * 10, i % 10))
        .collect();
    std::fs::write(&input, lines.join("\n")).expect("write");
    let yaml = format!(
        r#"
source: {{ type: file, path: {input:?} }}
transforms:
  - plugin: {filter:?}
    config: {{ field: /v, min: 3 }}
  - plugin: {map:?}
    config: {{ set: {{ seen: true }} }}
window: {{ type: tumbling, size: 500ms }}
watermark: {{ out_of_orderness: 0s }}
aggregates:
  - {{ name: n, plugin: count }}
  - {{ name: spread, plugin: {spread:?}, field: /v, config: {{ scale: 2 }} }}
"#,
        filter = example("threshold-filter"),
        map = example("enrich-map"),
        spread = example("spread"),
    );
    let mut config = Config::from_yaml(&yaml).expect("config");
    config.plugins.dir = plugin_dir();
    config.sink = SinkConfig::File {
        path: dir.path().join("out.jsonl"),
        mode: FileMode::Truncate,
    };
    config.dead_letter = SideOutputConfig::File {
        path: dir.path().join("dead.jsonl"),
        mode: FileMode::Truncate,
    };
    assert!(matches!(config.source, SourceConfig::File { .. }));
    let stats = eddy::app::run(&config, &eddy::app::StopFlag::default()).expect("runs");
    assert_eq!(stats.filtered, 30);
    let out = std::fs::read_to_string(dir.path().join("out.jsonl")).expect("results");
    let results: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    // Windows of 500 ms hold 50 events, 25 per key; v >= 3 keeps the odd key's 3,5,7,9 and
    // the even key's 4,6,8: spread (9-3)*2 = 12 and (8-4)*2 = 8.
    assert_eq!(results.len(), 4);
    for r in &results {
        let odd = r["key"] == "k1";
        assert_eq!(r["n"].as_u64(), Some(if odd { 20 } else { 15 }));
        assert_eq!(r["spread"].as_f64(), Some(if odd { 12.0 } else { 8.0 }));
    }
}

#[test]
fn plugin_test_runs_a_plugin_offline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.jsonl");
    let lines: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"key":"k{}","ts":{},"v":{}}}"#, i % 2, i * 100, i))
        .collect();
    std::fs::write(&input, lines.join("\n")).expect("write");
    let run = |plugin: &str, config: serde_json::Value, field: Option<&str>| {
        let test = eddy::cli::run_plugin::PluginTest {
            config,
            field: field.map(String::from),
            window: std::time::Duration::from_secs(1),
        };
        let mut out = Vec::new();
        eddy::cli::run_plugin::run(&example(plugin), &input, &test, &mut out).expect("runs");
        String::from_utf8(out)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("json"))
            .collect::<Vec<_>>()
    };
    let spread = run("spread", serde_json::json!({"scale": 10}), Some("/v"));
    assert_eq!(spread.len(), 2);
    assert_eq!(
        (spread[0]["key"].as_str(), spread[0]["result"].as_f64()),
        (Some("k0"), Some(80.0))
    );
    assert_eq!(
        (spread[1]["key"].as_str(), spread[1]["result"].as_f64()),
        (Some("k1"), Some(80.0))
    );
    let kept = run(
        "threshold-filter",
        serde_json::json!({"field": "/v", "min": 7}),
        None,
    );
    assert_eq!(
        kept.iter()
            .map(|e| e["v"].as_i64().expect("v"))
            .collect::<Vec<_>>(),
        [7, 8, 9]
    );
}
