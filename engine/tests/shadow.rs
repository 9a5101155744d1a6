//! Shadow runs over native aggregates: a candidate attached while windows are open computes
//! beside the live aggregates; equal versions report no difference, a different one reports its
//! differences, a failing one stops without touching the live results.

#[allow(dead_code)] // the snapshot comparison is for the checkpoint tests
mod support;

use eddy_engine::aggregate::{
    Aggregates, AggregatorInstance, AggregatorLoader, PluginError, SavedColumn,
};
use eddy_engine::config::{AggregateConfig, Config};
use eddy_engine::decode::Decoder;
use eddy_engine::event::RawBatch;
use eddy_engine::operator::Operator;
use eddy_engine::shadow::{ShadowReport, ShadowRun};
use support::{AGGREGATES, NativeLoader, Row, rows};

/// Loads the natives, and `trap-after-N`: a sum whose accumulate traps from its N+1-th call.
struct Loader;

struct TrapsLater {
    inner: Box<dyn AggregatorInstance>,
    calls_left: u32,
}

impl AggregatorInstance for TrapsLater {
    fn info(&self) -> &eddy_engine::aggregate::PluginInfo {
        self.inner.info()
    }
    fn outputs(&self) -> &[String] {
        self.inner.outputs()
    }
    fn accumulate(&mut self, slots: &[u32], values: &[f64]) -> Result<(), PluginError> {
        if self.calls_left == 0 {
            return Err(PluginError::Trap {
                plugin: "trap-after".into(),
                call: "accumulate",
                message: "unreachable executed".into(),
            });
        }
        self.calls_left -= 1;
        self.inner.accumulate(slots, values)
    }
    fn merge(&mut self, targets: &[u32], sources: &[u32]) -> Result<(), PluginError> {
        self.inner.merge(targets, sources)
    }
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<f64>, PluginError> {
        self.inner.finish(slots)
    }
    fn release(&mut self, slots: &[u32]) -> Result<(), PluginError> {
        self.inner.release(slots)
    }
    fn save(&mut self, slots: &[u32]) -> Result<SavedColumn, PluginError> {
        self.inner.save(slots)
    }
    fn restore(&mut self, slots: &[u32], states: &SavedColumn) -> Result<(), PluginError> {
        self.inner.restore(slots, states)
    }
}

impl AggregatorLoader for Loader {
    fn load_aggregator(
        &self,
        source: &str,
        config: &str,
    ) -> Result<Box<dyn AggregatorInstance>, PluginError> {
        match source.strip_prefix("trap-after-") {
            Some(n) => Ok(Box::new(TrapsLater {
                inner: NativeLoader.load_aggregator("sum", config)?,
                calls_left: n.parse().unwrap_or(0),
            })),
            None => NativeLoader.load_aggregator(source, config),
        }
    }
}

/// A live operator and a shadow run of one of its aggregates, fed the same batches.
struct Run {
    live: Operator,
    shadow: Option<ShadowRun>,
    decoder: Decoder,
    offset: i64,
    written: Vec<Row>,
}

impl Run {
    fn new(window: &str) -> Self {
        let config = Config::from_yaml(&format!(
            "{AGGREGATES}window: {window}\nwatermark: {{ out_of_orderness: 1s }}\n"
        ))
        .expect("a valid config");
        let aggregates = Aggregates::new(&Loader, &config.aggregates).expect("natives load");
        Self {
            live: Operator::new(&config, aggregates),
            shadow: None,
            decoder: Decoder::new(&config.decode, &config.aggregates),
            offset: 0,
            written: Vec::new(),
        }
    }

    /// Shadows the live `total` (a sum of `/v`, aggregate 1) with `plugin`.
    fn shadow_total(&mut self, plugin: &str) {
        let candidate = AggregateConfig {
            name: "total".into(),
            plugin: plugin.into(),
            field: Some("/v".into()),
            config: serde_json::json!({}),
        };
        self.shadow = Some(ShadowRun::new(candidate, 1));
    }

    fn feed(&mut self, events: &[(&str, i64, f64)], now_ms: i64) {
        let mut batch = RawBatch::default();
        for (key, ts, value) in events {
            let json = format!(r#"{{"key":"{key}","ts":{ts},"v":{value}}}"#);
            batch.push_at(json.as_bytes(), *ts, self.offset);
            self.offset += 1;
        }
        let decoded = self.decoder.decode(&batch);
        if let Some(shadow) = &mut self.shadow {
            shadow.prepare(0, &mut self.live, &Loader);
        }
        let out = self
            .live
            .process(0, &decoded, &batch.source_offsets, now_ms)
            .expect("the live operator processes the batch");
        if let Some(shadow) = &mut self.shadow {
            shadow.observe(0, &out);
        }
        self.written.extend(rows(&out));
    }

    fn close(&mut self) {
        let out = self.live.close().expect("close");
        if let Some(shadow) = &mut self.shadow {
            shadow.observe(0, &out);
        }
        self.written.extend(rows(&out));
    }

    fn report(&self) -> ShadowReport {
        self.shadow.as_ref().expect("a shadow run").report().clone()
    }
}

/// 30 s of events over three keys, one batch a second of event time, starting at `from` s.
fn events(from: i64, to: i64) -> Vec<Vec<(&'static str, i64, f64)>> {
    (from..to)
        .map(|s| {
            ["a", "b", "c"]
                .iter()
                .enumerate()
                .map(|(i, &key)| (key, s * 1_000 + i as i64 * 100, (s + i as i64) as f64))
                .collect()
        })
        .collect()
}

fn run_with_shadow(window: &str, plugin: &str) -> (ShadowReport, Vec<Row>, Option<String>) {
    let mut run = Run::new(window);
    for (now, batch) in (0..).step_by(1_000).zip(events(0, 15)) {
        run.feed(&batch, now);
    }
    run.shadow_total(plugin);
    for (now, batch) in (15_000..).step_by(1_000).zip(events(15, 45)) {
        run.feed(&batch, now);
    }
    assert!(
        run.written.len() > 9,
        "windows fire as the watermark passes, not only at the end"
    );
    run.close();
    let stopped = run
        .shadow
        .as_ref()
        .and_then(|s| s.stopped().map(String::from));
    (run.report(), run.written, stopped)
}

fn without_shadow(window: &str) -> Vec<Row> {
    let mut run = Run::new(window);
    for (now, batch) in (0..).step_by(1_000).zip(events(0, 45)) {
        run.feed(&batch, now);
    }
    run.close();
    run.written
}

#[test]
fn an_equal_candidate_reports_no_difference_in_tumbling_windows() {
    let window = "{ type: tumbling, size: 10s }";
    let (report, written, stopped) = run_with_shadow(window, "sum");
    assert_eq!(stopped, None);
    // Windows [10, 20) of a, b and c were open when the shadow began: skipped. [0, 10) had
    // fired before. [20, 30), [30, 40), [40, 50): compared.
    assert_eq!(
        (report.equal, report.different, report.skipped),
        (9, 0, 3),
        "{report:?}"
    );
    assert_eq!((report.only_live, report.only_shadow), (0, 0), "{report:?}");
    assert_eq!(report.largest_difference.get("total"), Some(&0.0));
    assert_eq!(
        written,
        without_shadow(window),
        "the live output is unchanged"
    );
}

#[test]
fn an_equal_candidate_reports_no_difference_in_sliding_and_session_windows() {
    for window in [
        "{ type: sliding, size: 10s, slide: 5s }",
        "{ type: session, gap: 500ms }",
    ] {
        let (report, written, stopped) = run_with_shadow(window, "sum");
        assert_eq!(stopped, None, "{window}");
        assert!(report.equal > 0, "{window}: {report:?}");
        assert_eq!(
            (report.different, report.only_live, report.only_shadow),
            (0, 0, 0),
            "{window}: {report:?}"
        );
        assert_eq!(written, without_shadow(window), "{window}");
    }
}

#[test]
fn a_different_candidate_reports_every_window_it_computes_differently() {
    // `max` instead of `sum`: every compared window of three events differs.
    let (report, _, _) = run_with_shadow("{ type: tumbling, size: 10s }", "max");
    assert_eq!((report.equal, report.different), (0, 9), "{report:?}");
    let largest = report.largest_difference["total"];
    assert!(largest > 0.5 && largest < 1.0, "{largest}");
}

#[test]
fn a_candidate_that_traps_stops_and_the_live_output_is_unchanged() {
    let window = "{ type: tumbling, size: 10s }";
    let (report, written, stopped) = run_with_shadow(window, "trap-after-10");
    let reason = stopped.expect("the candidate was stopped");
    assert!(reason.contains("unreachable executed"), "{reason}");
    assert_eq!(written, without_shadow(window));
    assert_eq!(report.different, 0, "{report:?}");
    let (_, _, stopped) = run_with_shadow(window, "no-such-plugin");
    assert!(
        stopped.is_some_and(|r| r.contains("no-such-plugin")),
        "a candidate that does not load stops at once"
    );
}
