//! The `spread` aggregator in Python (`examples/python-spread`) and JavaScript
//! (`examples/js-spread`) against the Rust one (`examples/spread`) in whole pipelines: the same
//! events give exactly the same results in tumbling and in session windows (sessions call
//! `merge`), and an operator snapshot taken with the Python spread, serialised as a checkpoint
//! stores it, restores into a fresh pipeline on a fresh runtime that finishes the stream with
//! exactly the results of an uninterrupted run. All three declare the name `spread` and state
//! format 1 and write the same 16 state bytes, so a snapshot taken with one language restores
//! into another, and a hot swap from one language to another moves the open windows' state
//! (also in session windows, where a swap to another state format is refused).
//!
//! Built by `scripts/build-plugins.sh` (Rust) and `scripts/build-polyglot.sh` (Python, JS).

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use eddy::pipeline::{Outputs, Pipeline, Swapped};
use eddy::plugin::Runtime;
use eddy::sink::{JsonLines, MemoryBuffer};
use eddy_engine::aggregate::Takeover;
use eddy_engine::config::{Config, PluginsConfig, StageId, WindowConfig};
use eddy_engine::event::RawBatch;
use eddy_engine::generator::{Generator, GeneratorConfig};
use eddy_engine::snapshot::OperatorSnapshot;
use eddy_tests::{example, plugin_dir};
use serde_json::Value;

const RUST: &str = "spread";
const PYTHON: &str = "python-spread";
const JS: &str = "js-spread";
const SCALE: f64 = 2.5;
const START_MS: i64 = 1_700_000_000_000;

fn tumbling() -> WindowConfig {
    WindowConfig::Tumbling {
        size: Duration::from_secs(2),
        offset: Duration::ZERO,
    }
}

fn session() -> WindowConfig {
    WindowConfig::Session {
        gap: Duration::from_millis(40),
    }
}

/// A count, and one spread per `(result name, example)` over `/amount`, scaled by [`SCALE`].
fn config(window: WindowConfig, spreads: &[(&str, &str)]) -> Config {
    let mut yaml = String::from("aggregates:\n  - { name: n, plugin: count }\n");
    for (name, plugin) in spreads {
        yaml += &format!(
            "  - {{ name: {name}, plugin: {:?}, field: /amount, config: {{ scale: {SCALE} }} }}\n",
            example(plugin)
        );
    }
    let mut config = Config::from_yaml(&yaml).expect("config");
    config.window = window;
    config.watermark.out_of_orderness = Duration::from_millis(300);
    config.allowed_lateness = Duration::from_secs(1);
    config.plugins = PluginsConfig {
        dir: plugin_dir(),
        ..PluginsConfig::default()
    };
    config
}

/// A runtime of its own: a fresh host, as after a restart.
fn fresh_runtime(config: &Config) -> Arc<Runtime> {
    Arc::new(Runtime::new(&config.plugins).expect("runtime"))
}

/// One runtime shared by the pipelines of the comparison tests, so each component is
/// compiled once per test binary.
fn shared_runtime(config: &Config) -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME.get_or_init(|| fresh_runtime(config)).clone()
}

fn pipeline(config: &Config, runtime: Arc<Runtime>) -> (Pipeline, MemoryBuffer) {
    let started = Instant::now();
    let (results, buffer) = JsonLines::memory();
    let outputs = Outputs {
        results: results.into(),
        late: JsonLines::memory().0.into(),
        dead_letter: JsonLines::memory().0.into(),
    };
    let pipeline = Pipeline::with_runtime(config, runtime, outputs).expect("pipeline");
    eprintln!("pipeline ready in {:?}", started.elapsed());
    (pipeline, buffer)
}

/// 40 000 events of 40 keys, out of order by up to 800 ms, some late; first, a batch of
/// three events of key `bridge` whose third event joins the 40 ms sessions the first two open.
fn batches() -> Vec<RawBatch> {
    let mut bridge = RawBatch::default();
    for (ts, amount) in [(0, 1.0), (60, 50.0), (30, 20.0)] {
        let payload = format!(
            r#"{{"key":"bridge","ts":{},"amount":{amount}}}"#,
            START_MS + ts
        );
        bridge.push(payload.as_bytes(), START_MS + ts);
    }
    let mut generator = Generator::new(GeneratorConfig {
        events: 40_000,
        keys: 40,
        start_ms: START_MS,
        max_disorder_ms: 800,
        late_every: 997,
        late_by_ms: 1_500,
        ..GeneratorConfig::default()
    });
    std::iter::once(bridge)
        .chain(std::iter::from_fn(|| generator.next_batch(500)))
        .collect()
}

fn rows(buffer: &MemoryBuffer) -> Vec<Value> {
    String::from_utf8(buffer.take_bytes())
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

/// Runs the three spreads side by side in one pipeline (each its own plugin instance) and
/// checks that every result row has the same value from each. Returns the rows.
fn side_by_side(window: WindowConfig) -> Vec<Value> {
    let config = config(window, &[("rust", RUST), ("python", PYTHON), ("js", JS)]);
    let (mut pipeline, buffer) = pipeline(&config, shared_runtime(&config));
    let started = Instant::now();
    for (i, batch) in batches().into_iter().enumerate() {
        pipeline.process_at(batch, i as i64).expect("batch");
    }
    let stats = pipeline.finish().expect("finish");
    eprintln!("{} events in {:?}", stats.records_in, started.elapsed());
    let rows = rows(&buffer);
    assert!(rows.len() > 1_000, "{} results", rows.len());
    let mut positive = 0;
    for row in &rows {
        let rust = row["rust"].as_f64().expect("a number from the Rust spread");
        assert_eq!(row["python"].as_f64(), Some(rust), "Python: {row}");
        assert_eq!(row["js"].as_f64(), Some(rust), "JavaScript: {row}");
        positive += usize::from(rust > 0.0);
    }
    assert!(
        positive > rows.len() / 2,
        "{positive} of {} spreads > 0",
        rows.len()
    );
    rows
}

#[test]
fn python_and_js_spread_equal_rust_in_tumbling_windows() {
    let rows = side_by_side(tumbling());
    // The bridge key's three events share the first 2 s window: (50 - 1) * 2.5.
    let bridge: Vec<&Value> = rows.iter().filter(|r| r["key"] == "bridge").collect();
    assert_eq!(bridge.len(), 1, "{bridge:?}");
    assert_eq!(bridge[0]["python"].as_f64(), Some(49.0 * SCALE));
}

#[test]
fn python_and_js_spread_equal_rust_in_session_windows() {
    let rows = side_by_side(session());
    // The bridge key's events at 0 and 60 ms open two sessions (40 ms gap); the one at 30 ms
    // touches both, so the host merges the second into the first: one session [0, 100) whose
    // spread needs both sides' state, (50 - 1) * 2.5 (without the merge: (20 - 1) * 2.5).
    // Generated events out of order by up to 800 ms bridge sessions in the same way.
    let bridge: Vec<&Value> = rows.iter().filter(|r| r["key"] == "bridge").collect();
    assert_eq!(bridge.len(), 1, "{bridge:?}");
    assert_eq!(bridge[0]["window_end"].as_i64(), Some(START_MS + 100));
    assert_eq!(bridge[0]["python"].as_f64(), Some(49.0 * SCALE));
}

/// Runs the stream through a pipeline with the spread `taken_with` as aggregate `s`, stops it
/// half-way, snapshots it, serialises the snapshot as a checkpoint stores it, restores it
/// into a fresh pipeline on a fresh runtime with the spread `restored_into`, and processes the
/// rest there: the results, first part and second, are exactly those of one uninterrupted run.
fn check_snapshot(window: WindowConfig, taken_with: &str, restored_into: &str) {
    let before = config(window.clone(), &[("s", taken_with)]);
    let after = config(window, &[("s", restored_into)]);
    let batches = batches();
    let cut = batches.len() / 2;

    let (mut whole, whole_results) = pipeline(&before, shared_runtime(&before));
    for (i, batch) in batches.iter().enumerate() {
        whole.process_at(batch.clone(), i as i64).expect("batch");
    }
    whole.finish().expect("finish");

    let (mut first, first_results) = pipeline(&before, fresh_runtime(&before));
    for (i, batch) in batches[..cut].iter().enumerate() {
        first.process_at(batch.clone(), i as i64).expect("batch");
    }
    let snapshots = first.snapshot().expect("snapshot");
    drop(first);
    let [(partition, snapshot)] = &snapshots[..] else {
        panic!("one operator, got {}", snapshots.len());
    };
    assert_eq!(snapshot.formats, ["n/count/1", "s/spread/1"]);
    let groups = snapshot.groups.len();
    assert!(groups > 10, "{groups} windows open at the cut");
    let state = &snapshot.states[1];
    assert_eq!(
        state.data.len(),
        16 * groups,
        "min and max, two f64, per group"
    );
    let bytes = serde_json::to_vec(&snapshots).expect("serialise");
    let snapshots: Vec<(u32, OperatorSnapshot)> =
        serde_json::from_slice(&bytes).expect("deserialise");

    let (mut second, second_results) = pipeline(&after, fresh_runtime(&after));
    second
        .restore(*partition, &snapshots[0].1, cut as i64)
        .expect("restore");
    for (i, batch) in batches.iter().enumerate().skip(cut) {
        second.process_at(batch.clone(), i as i64).expect("batch");
    }
    second.finish().expect("finish");

    let mut resumed = first_results.take_bytes();
    resumed.extend(second_results.take_bytes());
    let resumed = String::from_utf8(resumed).expect("utf-8");
    let whole = String::from_utf8(whole_results.take_bytes()).expect("utf-8");
    assert!(whole.lines().count() > 1_000);
    let first_difference = resumed
        .lines()
        .zip(whole.lines())
        .position(|(a, b)| a != b)
        .map(|i| (i, resumed.lines().nth(i), whole.lines().nth(i)));
    assert_eq!(
        first_difference, None,
        "{taken_with} -> {restored_into}: first result that differs (resumed, uninterrupted)"
    );
    assert_eq!(resumed.lines().count(), whole.lines().count());
}

#[test]
fn python_spread_snapshot_restores_in_tumbling_windows() {
    check_snapshot(tumbling(), PYTHON, PYTHON);
}

#[test]
fn python_spread_snapshot_restores_in_session_windows() {
    check_snapshot(session(), PYTHON, PYTHON);
}

/// Same name, same state format, same bytes: open windows move from one language to another.
#[test]
fn spread_state_moves_between_languages() {
    check_snapshot(session(), RUST, PYTHON);
    check_snapshot(session(), PYTHON, JS);
    check_snapshot(session(), JS, RUST);
}

/// Session windows computed by the Rust spread, swapped to the Python spread a third of the way
/// through and to the JavaScript one at two thirds: each swap moves the open sessions' state
/// (same name and state format), and the results are exactly those of the Rust spread alone.
#[test]
fn a_swap_between_languages_moves_the_open_windows() {
    let config = config(session(), &[("s", RUST)]);
    let runtime = shared_runtime(&config);
    let (mut whole, whole_results) = pipeline(&config, runtime.clone());
    for (i, batch) in batches().into_iter().enumerate() {
        whole.process_at(batch, i as i64).expect("batch");
    }
    whole.finish().expect("finish");

    let (mut swapped, swapped_results) = pipeline(&config, runtime);
    let batches = batches();
    let third = batches.len() / 3;
    for (i, batch) in batches.into_iter().enumerate() {
        if i == third || i == 2 * third {
            let open = swapped.snapshot().expect("snapshot")[0].1.groups.len();
            assert!(open > 10, "{open} sessions open at the swap");
            let to = example(if i == third { PYTHON } else { JS });
            let done = swapped
                .swap(&StageId::Aggregate("s".into()), &to.display().to_string())
                .expect("swapped");
            assert!(
                matches!(done, Swapped::Aggregate(Takeover::State)),
                "{done:?}"
            );
        }
        swapped.process_at(batch, i as i64).expect("batch");
    }
    swapped.finish().expect("finish");
    let stage = &swapped.config().aggregates[1];
    assert_eq!(
        (stage.name.as_str(), stage.plugin.clone()),
        ("s", example(JS).display().to_string())
    );
    let (got, want) = (swapped_results.take_bytes(), whole_results.take_bytes());
    assert!(String::from_utf8_lossy(&want).lines().count() > 1_000);
    assert!(
        got == want,
        "the swapped run's results differ from the Rust spread's"
    );
}

/// `eddy plugin test` runs the Python and JS spread on a file of events as it runs the Rust
/// one, with the same output.
#[test]
fn plugin_test_runs_each_spread_offline_with_the_same_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.jsonl");
    let lines: Vec<String> = (0..40)
        .map(|i| {
            format!(
                r#"{{"key":"k{}","ts":{},"v":{}}}"#,
                i % 3,
                i * 100,
                (i * 7) % 11
            )
        })
        .collect();
    std::fs::write(&input, lines.join("\n")).expect("write");
    let run = |plugin: &str| {
        let test = eddy::cli::run_plugin::PluginTest {
            config: serde_json::json!({ "scale": SCALE }),
            field: Some("/v".into()),
            window: Duration::from_secs(1),
        };
        let mut out = Vec::new();
        eddy::cli::run_plugin::run(&example(plugin), &input, &test, &mut out).expect("runs");
        String::from_utf8(out).expect("utf-8")
    };
    let rust = run(RUST);
    // 4 windows of 1 s, 3 keys each.
    assert_eq!(rust.lines().count(), 12, "{rust}");
    let first: Value = serde_json::from_str(rust.lines().next().expect("a line")).expect("json");
    assert_eq!(first["result"].as_f64(), Some(10.0 * SCALE), "{first}");
    assert_eq!(run(PYTHON), rust, "Python");
    assert_eq!(run(JS), rust, "JavaScript");
}
