//! Plugins written in Python (componentize-py, `sdk/python`) and JavaScript (componentize-js,
//! `sdk/js`), loaded by the host's runtime like any Rust plugin: an aggregator (mean) and a
//! filter (threshold) per language, checked against native computations (the filters also
//! against the Rust `threshold-filter` on the same events). Built by
//! `scripts/build-polyglot.sh` (which `scripts/test.sh` runs) into `dist/examples/`.
//!
//! Both toolchains are told to build components that import nothing but `eddy:plugin/log`
//! (componentize-py `--stub-wasi`, componentize-js with every WASI feature disabled), so the
//! host's sandbox needs no extra WASI interface for them; the first test checks exactly that.
//!
//! Compile and instantiate times and the per-batch call cost are printed (`-- --nocapture`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use eddy::plugin::{Loaded, PluginError, PluginKind, Runtime, TransformPlugin, WasmAggregator};
use eddy_engine::aggregate::{AggregatorInstance, SavedColumn};
use eddy_engine::config::PluginsConfig;
use eddy_engine::event::RawBatch;
use eddy_tests::{example, plugin_dir, relative_error};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const AGGREGATORS: [&str; 2] = ["python-mean", "js-mean"];
const FILTERS: [&str; 4] = [
    "python-filter",
    "js-filter",
    "python-column-filter",
    "js-column-filter",
];
const GROUPS: u32 = 30;

/// One runtime with the default limits (memory, call deadline) for the whole test binary, so
/// each component is compiled once.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::new(&PluginsConfig {
            dir: plugin_dir(),
            ..PluginsConfig::default()
        })
        .expect("runtime")
    })
}

/// The compiled example `name`; compiled under a lock so that parallel tests do not compile
/// the same 12-19 MB component twice.
fn load(name: &str) -> Loaded {
    static LOADED: Mutex<BTreeMap<String, Loaded>> = Mutex::new(BTreeMap::new());
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(l) = loaded.get(name) {
        return l.clone();
    }
    let path = example(name);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let started = Instant::now();
    let l = runtime()
        .load(path.to_str().expect("utf-8 path"))
        .unwrap_or_else(|e| panic!("{name} loads: {e}"));
    eprintln!(
        "{name}: {:.1} MB, compiled and linked in {:?}",
        size as f64 / 1e6,
        started.elapsed()
    );
    loaded.insert(name.to_string(), l.clone());
    l
}

fn aggregator(name: &str, config: &str) -> Result<WasmAggregator, PluginError> {
    let loaded = load(name);
    let started = Instant::now();
    let plugin = WasmAggregator::new(runtime(), &loaded, config);
    eprintln!(
        "{name}: instantiated and configured in {:?}",
        started.elapsed()
    );
    plugin
}

fn filter(name: &str, config: &str) -> Result<TransformPlugin, PluginError> {
    let loaded = load(name);
    let started = Instant::now();
    let plugin = TransformPlugin::new(runtime(), &loaded, config);
    eprintln!(
        "{name}: instantiated and configured in {:?}",
        started.elapsed()
    );
    plugin
}

#[test]
fn components_import_nothing_but_logging() {
    for name in AGGREGATORS.iter().chain(&FILTERS) {
        let loaded = load(name);
        let component = loaded.pre.component();
        let imports: Vec<String> = component
            .component_type()
            .imports(loaded.pre.engine())
            .map(|(import, _)| import.to_string())
            .collect();
        assert!(
            imports.iter().all(|i| i.starts_with("eddy:plugin/")),
            "{name} imports {imports:?}"
        );
        assert!(imports.iter().any(|i| i.starts_with("eddy:plugin/log")));
    }
}

fn means(slots: &[u32], values: &[f64]) -> BTreeMap<u32, f64> {
    let mut sums: BTreeMap<u32, (f64, u64)> = BTreeMap::new();
    for (&slot, &value) in slots.iter().zip(values) {
        let entry = sums.entry(slot % GROUPS).or_default();
        entry.0 += value;
        entry.1 += 1;
    }
    sums.into_iter()
        .map(|(slot, (sum, n))| (slot, sum / n as f64))
        .collect()
}

/// Feeds random values to groups `g` and `g + GROUPS` in uneven batches, merges each `g +
/// GROUPS` into `g`, saves the state, restores it into a fresh instance, and checks both
/// against a native mean. Also: configuration refused, unreadable state refused, release.
fn check_mean(name: &str) {
    let mut a = aggregator(name, "{}").expect("configures");
    assert_eq!(a.info().kind, PluginKind::Aggregator);
    assert_eq!(a.info().name, name);
    assert_eq!(a.info().state_format, 1);
    assert_eq!(a.outputs(), [String::new()]);
    match aggregator(name, r#"{"unexpected": 1}"#) {
        Err(PluginError::Config { message, .. }) => assert!(message.contains("unexpected")),
        Err(other) => panic!("{name}: expected a refused configuration, got {other}"),
        Ok(_) => panic!("{name}: accepted a configuration it does not take"),
    }

    let mut rng = StdRng::seed_from_u64(17);
    let n = 5_000;
    let slots: Vec<u32> = (0..n).map(|_| rng.random_range(0..2 * GROUPS)).collect();
    let values: Vec<f64> = (0..n).map(|_| rng.random::<f64>() * 1e3 - 250.0).collect();
    let (mut start, mut batch) = (0, 1);
    while start < n {
        let end = (start + batch).min(n);
        a.accumulate(&slots[start..end], &values[start..end])
            .expect("accumulate");
        (start, batch) = (end, batch * 3 + 1);
    }
    let targets: Vec<u32> = (0..GROUPS).collect();
    let sources: Vec<u32> = (GROUPS..2 * GROUPS).collect();
    a.merge(&targets, &sources).expect("merge");
    let want = means(&slots, &values);
    let got = a.finish(&targets).expect("finish");
    for (slot, (&got, want)) in targets.iter().zip(got.iter().zip(want.values())) {
        assert!(
            relative_error(got, *want) < 1e-12,
            "{name}: group {slot}: {got} != {want}"
        );
    }
    // A merged-away source is empty again: its mean is NaN.
    assert!(a.finish(&[GROUPS]).expect("finish")[0].is_nan());

    let state = a.save(&targets).expect("save");
    assert_eq!(state.offsets.len(), targets.len() + 1);
    assert_eq!(state.data.len(), 16 * targets.len(), "f64 sum + u64 count");
    let mut b = aggregator(name, "{}").expect("configures");
    let moved: Vec<u32> = targets.iter().map(|t| t + 100).collect();
    b.restore(&moved, &state).expect("restore");
    assert_eq!(b.finish(&moved).expect("finish"), got, "{name}: restored");
    // The restored groups go on accumulating.
    b.accumulate(&[100, 100], &[1e6, 1e6]).expect("accumulate");
    let count = slots.iter().filter(|&&s| s % GROUPS == 0).count() as f64;
    let sum0 = want[&0] * count;
    let after = b.finish(&[100]).expect("finish")[0];
    assert!(relative_error(after, (sum0 + 2e6) / (count + 2.0)) < 1e-12);
    b.release(&[100]).expect("release");
    assert!(b.finish(&[100]).expect("finish")[0].is_nan());

    let bad = SavedColumn {
        data: vec![1, 2, 3],
        offsets: vec![0, 3],
    };
    match b.restore(&[5], &bad) {
        Err(PluginError::Failed { call, .. }) => assert_eq!(call, "restore"),
        other => panic!("{name}: restoring 3 bytes: {other:?}"),
    }
}

#[test]
fn python_mean_accumulates_merges_saves_and_restores() {
    check_mean("python-mean");
}

#[test]
fn js_mean_accumulates_merges_saves_and_restores() {
    check_mean("js-mean");
}

fn check_filter(name: &str) {
    let mut f = filter(name, r#"{"field":"/v","min":2}"#).expect("configures");
    assert_eq!(f.info().kind, PluginKind::Filter);
    let mut batch = RawBatch::default();
    let payloads: [&[u8]; 7] = [
        br#"{"v":1}"#,
        br#"{"v":2}"#,
        br#"{"v":3.5,"w":"x"}"#,
        br#"{"v":0}"#,
        br#"{"u":9}"#,
        b"not json",
        br#"{"v":"7"}"#,
    ];
    for (i, p) in payloads.iter().enumerate() {
        batch.push(p, 1_000 + i as i64);
    }
    let kept = f.process(&batch).expect("filter runs");
    assert_eq!(kept.len(), 2, "{name}");
    assert_eq!(kept.payload(0), payloads[1]);
    assert_eq!(kept.payload(1), payloads[2]);
    assert_eq!(kept.timestamps, [1_001, 1_002]);

    let empty = f.process(&RawBatch::default()).expect("empty batch");
    assert_eq!(empty.len(), 0);

    // The Rust example `threshold-filter` keeps the same events, JSON pointers into arrays and
    // payloads that are not JSON (invalid UTF-8, NaN) included.
    let mut rust = filter("threshold-filter", r#"{"field":"/a/0","min":2}"#).expect("rust");
    let mut f = filter(name, r#"{"field":"/a/0","min":2}"#).expect("configures");
    let mut batch = RawBatch::default();
    let payloads: [&[u8]; 9] = [
        br#"{"a":[5]}"#,
        br#"{"a":[1,5]}"#,
        br#"{"a":{"0":2}}"#,
        br#"{"a":[2.5],"s":"\u00ff"}"#,
        b"{\"a\":[5],\"s\":\"\xff\"}",
        br#"{"a":[NaN]}"#,
        br#"{"a":[true]}"#,
        br#"{"a":[1e300]}"#,
        br#"[{"a":[9]}]"#,
    ];
    for (i, p) in payloads.iter().enumerate() {
        batch.push(p, i as i64);
    }
    let want = rust.process(&batch).expect("rust filter");
    assert_eq!(want.timestamps, [0, 2, 3, 7], "the Rust filter");
    assert_eq!(
        f.process(&batch).expect("filter").timestamps,
        want.timestamps,
        "{name}"
    );
    for field in ["/a/01", "/a/length", "/a/+0"] {
        let config = format!(r#"{{"field":"{field}","min":1}}"#);
        let want = filter("threshold-filter", &config)
            .expect("rust")
            .process(&batch)
            .expect("rust filter");
        let got = filter(name, &config).expect("configures").process(&batch);
        assert_eq!(
            got.expect("filter").timestamps,
            want.timestamps,
            "{name}: {field}"
        );
    }

    for config in [r#"{"field":"v","min":2}"#, r#"{"field":"/v"}"#, "[1"] {
        match filter(name, config) {
            Err(PluginError::Config { .. }) => {}
            Err(other) => panic!("{name}: {config}: expected a refused configuration, got {other}"),
            Ok(_) => panic!("{name}: accepted {config}"),
        }
    }
}

#[test]
fn python_filter_keeps_rows_at_or_above_the_threshold() {
    check_filter("python-filter");
}

#[test]
fn js_filter_keeps_rows_at_or_above_the_threshold() {
    check_filter("js-filter");
}

/// A column filter in Python or JavaScript keeps exactly the rows the Rust column filter keeps
/// (the host reads the column the same way for all three).
fn check_column_filter(name: &str) {
    let mut batch = RawBatch::default();
    let mut rng = StdRng::seed_from_u64(17);
    let fixed: [&[u8]; 8] = [
        br#"{"v":2}"#,
        br#"{"v":null}"#,
        br#"{"v":"9"}"#,
        br#"{"u":9}"#,
        b"not json",
        br#"{"v":true}"#,
        br#"{"v":{"x":3}}"#,
        br#"{"v":-1e300}"#,
    ];
    for p in fixed {
        batch.push(p, 0);
    }
    for i in 0..1_000 {
        let v = rng.random_range(-100..100) as f64 / 4.0;
        batch.push(format!(r#"{{"v":{v}}}"#).as_bytes(), i);
    }
    for min in ["0", "2", "-3.5"] {
        let config = format!(r#"{{"field":"/v","min":{min}}}"#);
        let want = filter("column-threshold-filter", &config)
            .expect("rust")
            .process(&batch)
            .expect("rust column filter");
        let mut f = filter(name, &config).expect("configures");
        assert_eq!(f.info().kind, PluginKind::Filter);
        let got = f.process(&batch).expect("column filter");
        assert!(want.len() > 100, "{min}");
        assert_eq!(got, want, "{name}: min {min}");
    }
    for config in [r#"{"field":"v","min":2}"#, r#"{"field":"/v"}"#] {
        assert!(
            matches!(filter(name, config), Err(PluginError::Config { .. })),
            "{name}: {config}"
        );
    }
}

#[test]
fn python_column_filter_keeps_what_the_rust_column_filter_keeps() {
    check_column_filter("python-column-filter");
}

#[test]
fn js_column_filter_keeps_what_the_rust_column_filter_keeps() {
    check_column_filter("js-column-filter");
}

/// The cost of a call: per batch of `n` values into 1000 groups, and per filtered event.
#[test]
fn per_batch_call_cost() {
    let mut costs = HashMap::new();
    for name in AGGREGATORS {
        let mut a = aggregator(name, "{}").expect("configures");
        for n in [1usize, 256, 4096] {
            let slots: Vec<u32> = (0..n as u32).map(|i| i % 1000).collect();
            let values: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let rounds = if n == 1 { 200 } else { 20 };
            let started = Instant::now();
            for _ in 0..rounds {
                a.accumulate(&slots, &values).expect("accumulate");
            }
            let per_call = started.elapsed() / rounds;
            costs.insert((name, n), per_call);
            eprintln!(
                "{name}: accumulate {n} values: {per_call:?} per call, {:.0} ns per value",
                per_call.as_nanos() as f64 / n as f64
            );
        }
    }
    for name in FILTERS {
        let mut f = filter(name, r#"{"field":"/v","min":500}"#).expect("configures");
        let mut batch = RawBatch::default();
        for i in 0..1000 {
            batch.push(format!(r#"{{"v":{i},"k":"key-{i}"}}"#).as_bytes(), i);
        }
        let started = Instant::now();
        let rounds = 5;
        for _ in 0..rounds {
            assert_eq!(f.process(&batch).expect("filter").len(), 500);
        }
        let per_call = started.elapsed() / rounds;
        eprintln!(
            "{name}: filter 1000 JSON events: {per_call:?} per call, {:.0} ns per event",
            per_call.as_nanos() as f64 / 1000.0
        );
    }
    // Far inside the default call deadline (5 s): a 4096-value batch is one call.
    for ((name, n), cost) in costs {
        assert!(
            cost < Duration::from_secs(1),
            "{name}: {n} values took {cost:?}"
        );
    }
}
