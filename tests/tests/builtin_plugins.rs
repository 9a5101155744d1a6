//! Every built-in aggregator, loaded as a component in wasmtime, against a plain native
//! computation on the same random data: many groups per call, merges, and state saved in one
//! instance and restored in another.

use std::collections::BTreeMap;

use eddy::plugin::{Runtime, WasmAggregator};
use eddy_engine::aggregate::AggregatorInstance;
use eddy_engine::config::PluginsConfig;
use eddy_tests::{plugin_dir, rank_error, relative_error};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const GROUPS: u32 = 40;

fn runtime() -> Runtime {
    Runtime::new(&PluginsConfig {
        dir: plugin_dir(),
        ..PluginsConfig::default()
    })
    .expect("runtime")
}

fn instance(runtime: &Runtime, plugin: &str, config: &str) -> WasmAggregator {
    let loaded = runtime.load(plugin).expect("plugin loads");
    WasmAggregator::new(runtime, &loaded, config).expect("plugin configures")
}

/// Random values per group; `dyadic` values (multiples of 1/4) make every sum exact in f64.
fn data(seed: u64, dyadic: bool) -> (Vec<u32>, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = 20_000;
    let slots = (0..n).map(|_| rng.random_range(0..GROUPS)).collect();
    let values = (0..n)
        .map(|_| {
            if dyadic {
                f64::from(rng.random_range(-400_000i32..400_000)) / 4.0
            } else {
                rng.random::<f64>() * 1e4 - 3e3
            }
        })
        .collect();
    (slots, values)
}

fn by_group(slots: &[u32], values: &[f64]) -> BTreeMap<u32, Vec<f64>> {
    let mut groups: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for (&slot, &value) in slots.iter().zip(values) {
        groups.entry(slot).or_default().push(value);
    }
    groups
}

/// Feeds the data in uneven batches, half of every group into slot `g` and half into slot
/// `g + GROUPS`, merges the halves, then moves the state to a fresh instance through
/// save/restore. Returns that instance's results per group.
fn run_plugin(
    plugin: &str,
    config: &str,
    slots: &[u32],
    values: &[f64],
) -> (Vec<String>, Vec<Vec<f64>>) {
    let runtime = runtime();
    let mut a = instance(&runtime, plugin, config);
    let mut start = 0;
    let mut batch = 1;
    while start < slots.len() {
        let end = (start + batch).min(slots.len());
        let split: Vec<u32> = (start..end)
            .map(|i| {
                if i % 2 == 0 {
                    slots[i]
                } else {
                    slots[i] + GROUPS
                }
            })
            .collect();
        a.accumulate(&split, &values[start..end])
            .expect("accumulate");
        start = end;
        batch = batch * 3 + 1;
    }
    let targets: Vec<u32> = (0..GROUPS).collect();
    let sources: Vec<u32> = (GROUPS..2 * GROUPS).collect();
    a.merge(&targets, &sources).expect("merge");
    let saved = a.save(&targets).expect("save");
    let mut b = instance(&runtime, plugin, config);
    b.restore(&targets, &saved).expect("restore");
    let width = b.outputs().len();
    let flat = b.finish(&targets).expect("finish");
    assert_eq!(
        flat,
        a.finish(&targets).expect("finish"),
        "{plugin}: restored state differs"
    );
    let rows = flat.chunks(width).map(<[f64]>::to_vec).collect();
    (b.outputs().to_vec(), rows)
}

fn native_stddev(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// A plain native computation of an aggregate.
type Native = fn(&[f64]) -> f64;

#[test]
fn count_sum_min_max_are_exact() {
    let (slots, values) = data(1, true);
    let groups = by_group(&slots, &values);
    let natives: [(&str, Native); 4] = [
        ("count", |v| v.len() as f64),
        ("sum", |v| v.iter().sum()),
        ("min", |v| v.iter().copied().fold(f64::INFINITY, f64::min)),
        ("max", |v| {
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        }),
    ];
    for (plugin, native) in natives {
        let (outputs, rows) = run_plugin(plugin, "{}", &slots, &values);
        assert_eq!(outputs, [""], "{plugin}");
        for (g, group) in &groups {
            assert_eq!(rows[*g as usize], [native(group)], "{plugin} group {g}");
        }
    }
}

#[test]
fn avg_and_stddev_match_to_1e9_relative() {
    let (slots, values) = data(2, false);
    let groups = by_group(&slots, &values);
    let (_, avg) = run_plugin("avg", "{}", &slots, &values);
    let (_, stddev) = run_plugin("stddev", "{}", &slots, &values);
    for (g, group) in &groups {
        let mean = group.iter().sum::<f64>() / group.len() as f64;
        assert!(
            relative_error(avg[*g as usize][0], mean) < 1e-9,
            "avg group {g}"
        );
        let sd = native_stddev(group);
        assert!(
            relative_error(stddev[*g as usize][0], sd) < 1e-9,
            "stddev group {g}"
        );
    }
}

#[test]
fn percentiles_are_within_the_documented_rank_error() {
    let (slots, values) = data(3, false);
    let groups = by_group(&slots, &values);
    let quantiles = [0.01, 0.1, 0.5, 0.9, 0.99];
    let config = format!(r#"{{"quantiles":{quantiles:?}}}"#);
    let (outputs, rows) = run_plugin("percentile", &config, &slots, &values);
    assert_eq!(outputs, ["p1", "p10", "p50", "p90", "p99"]);
    for (g, group) in &groups {
        let mut sorted = group.clone();
        sorted.sort_by(f64::total_cmp);
        for (q, estimate) in quantiles.iter().zip(&rows[*g as usize]) {
            let error = rank_error(&sorted, *q, *estimate);
            assert!(error <= 0.01, "group {g} q {q}: rank error {error}");
        }
    }
}

#[test]
fn composite_matches_its_parts() {
    let (slots, values) = data(4, true);
    let groups = by_group(&slots, &values);
    let config = r#"{"aggregates":["count","sum","min","max","avg","stddev"]}"#;
    let (outputs, rows) = run_plugin("composite", config, &slots, &values);
    assert_eq!(outputs, ["count", "sum", "min", "max", "avg", "stddev"]);
    for (g, group) in &groups {
        let row = &rows[*g as usize];
        let sum: f64 = group.iter().sum();
        assert_eq!(row[0], group.len() as f64);
        assert_eq!(row[1], sum);
        assert_eq!(row[2], group.iter().copied().fold(f64::INFINITY, f64::min));
        assert_eq!(
            row[3],
            group.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        );
        assert!(relative_error(row[4], sum / group.len() as f64) < 1e-9);
        assert!(relative_error(row[5], native_stddev(group)) < 1e-9);
    }
}

#[test]
fn every_builtin_describes_itself_and_refuses_bad_config() {
    let runtime = runtime();
    for name in [
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "stddev",
        "percentile",
        "composite",
    ] {
        let plugin = instance(&runtime, name, "{}");
        let info = plugin.info();
        assert_eq!(info.name, name);
        assert_eq!(info.state_format, 1);
        assert!(
            serde_json::from_str::<serde_json::Value>(&info.config_schema).is_ok(),
            "{name} schema"
        );
        let loaded = runtime.load(name).expect("loads");
        let refused = WasmAggregator::new(&runtime, &loaded, r#"{"no_such_option":1}"#);
        assert!(
            matches!(refused, Err(eddy::plugin::PluginError::Config { .. })),
            "{name} accepted an unknown option"
        );
    }
}
