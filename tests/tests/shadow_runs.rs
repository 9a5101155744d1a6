//! Shadow runs in a pipeline with real Wasm plugins, in process: a candidate started a quarter
//! of the way through a steady stream computes beside the live `sum`. An equal version reports
//! no difference, a different one reports every window it computes differently, a hostile one
//! (a trap, an endless loop, a memory bomb) is stopped with the reason; the written results are
//! those of a run without a shadow, whatever the candidate does.

use std::path::Path;
use std::time::Duration;

use eddy::pipeline::{Outputs, Pipeline, ShadowState};
use eddy::sink::JsonLines;
use eddy_engine::config::{Config, PluginsConfig, StageId, WindowConfig};
use eddy_engine::event::RawBatch;
use eddy_engine::generator::{Generator, GeneratorConfig};
use eddy_tests::{example, fixture, plugin_dir};
use serde_json::{Value, json};

fn config(window: WindowConfig) -> Config {
    let mut config = Config::from_yaml(
        "aggregates:\n\
         - { name: n, plugin: count }\n\
         - { name: s, plugin: sum, field: /amount }\n",
    )
    .expect("config");
    config.window = window;
    config.watermark.out_of_orderness = Duration::from_millis(300);
    config.allowed_lateness = Duration::from_millis(500);
    config.plugins = PluginsConfig {
        dir: plugin_dir(),
        call_timeout: Duration::from_millis(300),
        memory_limit_bytes: 64 << 20,
        ..PluginsConfig::default()
    };
    config
}

fn tumbling() -> WindowConfig {
    WindowConfig::Tumbling {
        size: Duration::from_secs(1),
        offset: Duration::ZERO,
    }
}

fn batches() -> Vec<RawBatch> {
    let mut generator = Generator::new(GeneratorConfig {
        events: 40_000,
        keys: 30,
        max_disorder_ms: 200,
        ..GeneratorConfig::default()
    });
    std::iter::from_fn(|| generator.next_batch(400)).collect()
}

/// A candidate for stage `s`: its component and configuration.
type Candidate<'a> = (&'a Path, Option<Value>);

/// Runs the stream through a pipeline, starting a shadow run of `candidate` for `s` a quarter
/// of the way through; the results written (sorted) and the shadow run at the end.
fn run(window: WindowConfig, candidate: Option<Candidate<'_>>) -> (Vec<Value>, Vec<ShadowState>) {
    let config = config(window);
    let (results, buffer) = JsonLines::memory();
    let outputs = Outputs {
        results: results.into(),
        late: JsonLines::memory().0.into(),
        dead_letter: JsonLines::memory().0.into(),
    };
    let mut pipeline = Pipeline::new(&config, outputs).expect("pipeline");
    let batches = batches();
    let quarter = batches.len() / 4;
    // Processing time moves 20 ms a batch, so that watermarks advance between batches.
    for (i, (now, batch)) in (0..).step_by(20).zip(batches).enumerate() {
        if let (true, Some((path, config))) = (i == quarter, &candidate) {
            let source = Ok(path.display().to_string());
            let stage = StageId::Aggregate("s".into());
            pipeline
                .start_shadow(&stage, "candidate", source, config.as_ref())
                .expect("an aggregate stage");
        }
        pipeline.process_at(batch, now).expect("processed");
    }
    pipeline.finish().expect("finished");
    let mut written = buffer.take();
    written.sort_by_key(|v| v.to_string());
    (written, pipeline.shadow_states())
}

#[test]
fn an_equal_version_reports_no_difference_and_changes_no_result() {
    // A key's events are 30 ms apart on average: sessions end and merge all the time.
    let session = WindowConfig::Session {
        gap: Duration::from_millis(40),
    };
    for window in [tumbling(), session] {
        let (alone, _) = run(window.clone(), None);
        let (written, shadows) = run(window.clone(), Some((&fixture("sum-v2"), None)));
        assert_eq!(written, alone, "{window:?}: the shadow wrote nothing");
        let [shadow] = &shadows[..] else {
            panic!("one shadow run: {shadows:?}");
        };
        let report = &shadow.report;
        assert_eq!(shadow.stopped, None);
        assert_eq!(
            (report.different, report.only_live, report.only_shadow),
            (0, 0, 0),
            "{window:?}: {report:?}"
        );
        assert!(
            report.equal > written.len() as u64 / 2,
            "{window:?}: most results compared: {report:?} of {}",
            written.len()
        );
        assert!(report.skipped > 0, "windows open at the start are skipped");
        assert_eq!(report.largest_difference.get("s"), Some(&0.0));
    }
}

#[test]
fn a_different_version_reports_each_window_it_computes_differently() {
    // spread (max - min) instead of the sum: different wherever a window has an amount > 0.
    let (written, shadows) = run(tumbling(), Some((&example("spread"), None)));
    let report = &shadows[0].report;
    assert_eq!(shadows[0].stopped, None);
    assert!(
        report.different > written.len() as u64 / 2,
        "{report:?} of {}",
        written.len()
    );
    assert_eq!((report.only_live, report.only_shadow), (0, 0), "{report:?}");
    let largest = report.largest_difference["s"];
    assert!(largest > 0.5 && largest <= 1.0, "{largest}");
}

#[test]
fn a_hostile_version_is_stopped_with_its_reason_and_the_results_stay() {
    let (alone, _) = run(tumbling(), None);
    for (mode, reason) in [
        ("trap", "trapped in `accumulate`"),
        ("loop", "time limit"),
        ("grow", "memory"),
    ] {
        let config = Some(json!({ "mode": mode }));
        let (written, shadows) = run(tumbling(), Some((&fixture("hostile"), config)));
        assert_eq!(written, alone, "{mode}: the live results are untouched");
        let stopped = shadows[0].stopped.clone().unwrap_or_default();
        assert!(stopped.contains(reason), "{mode}: stopped: {stopped}");
    }
    let (written, shadows) = run(
        tumbling(),
        Some((&fixture("sum-v2"), Some(json!({ "unknown": 1 })))),
    );
    assert_eq!(written, alone);
    let stopped = shadows[0].stopped.clone().unwrap_or_default();
    assert!(
        stopped.contains("configuration"),
        "a candidate refusing its configuration stops at once: {stopped}"
    );
}

#[test]
fn a_transform_stage_has_no_shadow_run() {
    let mut config = config(tumbling());
    config.transforms = vec![eddy_engine::config::StageConfig {
        plugin: example("threshold-filter").display().to_string(),
        config: json!({ "field": "/amount", "min": 0 }),
    }];
    let outputs = Outputs {
        results: JsonLines::memory().0.into(),
        late: JsonLines::memory().0.into(),
        dead_letter: JsonLines::memory().0.into(),
    };
    let mut pipeline = Pipeline::new(&config, outputs).expect("pipeline");
    let refused = pipeline.start_shadow(
        &StageId::Transform(0),
        "candidate",
        Ok(fixture("sum-v2").display().to_string()),
        None,
    );
    assert!(refused.is_err(), "{refused:?}");
    assert!(pipeline.shadow_states().is_empty());
}
