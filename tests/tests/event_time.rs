//! The event-time engine against a brute-force reference model: random out-of-order streams
//! over random partitions, idle periods and late events, through every window type and
//! trigger; plus named regression tests.
//!
//! The model shares no code with the engine. It keeps every accepted event's value in a list per
//! (key, window), scans all groups linearly, and recomputes count and sum from the lists for each
//! result. Its rules are the documented semantics:
//! - A partition's watermark is its largest event time minus the bound; the pipeline watermark
//!   is the minimum over partitions that delivered within the idle timeout, moves at most once
//!   per interval (processing time) and never backwards; it is checked against an event's window
//!   as it was before the event's batch.
//! - A window is expired once `end + lateness <= watermark`; an event in no unexpired window is
//!   late. Session windows `[t, t + gap)` merge with every session of the key they touch.
//! - After a batch: groups changed by it whose end the watermark had passed emit `late_update`;
//!   the watermark advances; groups it completes emit `on_time`; then `early` for the trigger;
//!   then expired groups are dropped. At the end of input every open window emits `on_time`.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use eddy::config::{
    AggregateConfig, Config, PluginsConfig, SideOutputConfig, SinkConfig, TriggerConfig,
    WatermarkConfig, WindowConfig,
};
use eddy::event::RawBatch;
use eddy::output::{JsonLines, MemoryBuffer};
use eddy::pipeline::{Outputs, Pipeline};
use eddy::plugin::Runtime;
use eddy_tests::plugin_dir;
use proptest::prelude::*;

// ---------------------------------------------------------------- the reference model

#[derive(Debug, Clone, Copy)]
enum Win {
    Tumbling { size: i64, offset: i64 },
    Sliding { size: i64, slide: i64, offset: i64 },
    Session { gap: i64 },
}

#[derive(Debug, Clone)]
struct Spec {
    window: Win,
    bound: i64,
    lateness: i64,
    wm_interval: i64,
    idle: Option<i64>,
    count: Option<u64>,
    every: Option<i64>,
}

/// (kind, key, start, end, count, sum)
type Row = (String, String, i64, i64, u64, i64);

#[derive(Debug, Clone)]
struct MGroup {
    key: String,
    start: i64,
    end: i64,
    values: Vec<i64>,
    fired: bool,
    pending: u64,
}

struct Model {
    spec: Spec,
    groups: Vec<Option<MGroup>>,
    partitions: BTreeMap<u32, (Option<i64>, i64)>,
    wm: i64,
    last_advance: Option<i64>,
    last_time_fire: Option<i64>,
}

impl Model {
    fn new(spec: Spec) -> Self {
        Self {
            spec,
            groups: Vec::new(),
            partitions: BTreeMap::new(),
            wm: i64::MIN,
            last_advance: None,
            last_time_fire: None,
        }
    }

    fn windows(&self, t: i64) -> Vec<(i64, i64)> {
        match self.spec.window {
            Win::Tumbling { size, offset } => {
                let mut s = offset - size * 1000;
                while s + size <= t {
                    s += size;
                }
                while s > t {
                    s -= size;
                }
                vec![(s, s + size)]
            }
            Win::Sliding {
                size,
                slide,
                offset,
            } => {
                let mut out = Vec::new();
                let mut s = offset + ((t - size - offset).div_euclid(slide) - 1) * slide;
                while s <= t {
                    if s <= t && t < s + size {
                        out.push((s, s + size));
                    }
                    s += slide;
                }
                out
            }
            Win::Session { gap } => vec![(t, t + gap)],
        }
    }

    fn expired(&self, end: i64) -> bool {
        end.saturating_add(self.spec.lateness) <= self.wm
    }

    fn batch(
        &mut self,
        partition: u32,
        events: &[(String, i64, i64)],
        now: i64,
    ) -> (Vec<Row>, Vec<i64>) {
        let p = self.partitions.entry(partition).or_insert((None, now));
        p.1 = p.1.max(now);
        let mut touched: Vec<usize> = Vec::new();
        let mut late = Vec::new();
        for (key, t, v) in events {
            let p = self.partitions.get_mut(&partition).expect("touched");
            p.0 = Some(p.0.map_or(*t, |m| m.max(*t)));
            let mut accepted = false;
            for (start, end) in self.windows(*t) {
                let id = if let Win::Session { .. } = self.spec.window {
                    let touching: Vec<usize> = (0..self.groups.len())
                        .filter(|&i| {
                            self.groups[i]
                                .as_ref()
                                .is_some_and(|g| g.key == *key && g.start <= end && start <= g.end)
                        })
                        .collect();
                    if touching.is_empty() {
                        if self.expired(end) {
                            continue;
                        }
                        self.open(key, start, end)
                    } else {
                        let target = touching[0];
                        let (mut s, mut e) = (start, end);
                        let mut values = Vec::new();
                        let mut pending = 0;
                        for &i in &touching {
                            let g = self.groups[i].take().expect("alive");
                            s = s.min(g.start);
                            e = e.max(g.end);
                            values.extend(g.values);
                            pending += g.pending;
                            for x in touched.iter_mut() {
                                if *x == i {
                                    *x = target;
                                }
                            }
                        }
                        self.groups[target] = Some(MGroup {
                            key: key.clone(),
                            start: s,
                            end: e,
                            values,
                            fired: e <= self.wm,
                            pending,
                        });
                        target
                    }
                } else {
                    if self.expired(end) {
                        continue;
                    }
                    match (0..self.groups.len()).find(|&i| {
                        self.groups[i]
                            .as_ref()
                            .is_some_and(|g| g.key == *key && g.start == start && g.end == end)
                    }) {
                        Some(i) => i,
                        None => self.open(key, start, end),
                    }
                };
                let g = self.groups[id].as_mut().expect("alive");
                g.values.push(*v);
                g.pending += 1;
                touched.push(id);
                accepted = true;
            }
            if !accepted {
                late.push(*t);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        (self.emit(now, &touched), late)
    }

    fn open(&mut self, key: &str, start: i64, end: i64) -> usize {
        self.groups.push(Some(MGroup {
            key: key.to_string(),
            start,
            end,
            values: Vec::new(),
            fired: end <= self.wm,
            pending: 0,
        }));
        self.groups.len() - 1
    }

    fn row(&mut self, id: usize, kind: &str) -> Row {
        let g = self.groups[id].as_mut().expect("alive");
        g.pending = 0;
        (
            kind.to_string(),
            g.key.clone(),
            g.start,
            g.end,
            g.values.len() as u64,
            g.values.iter().sum(),
        )
    }

    fn alive(&self, id: usize) -> Option<&MGroup> {
        self.groups[id].as_ref()
    }

    fn emit(&mut self, now: i64, touched: &[usize]) -> Vec<Row> {
        let mut rows = Vec::new();
        for &id in touched {
            if self.alive(id).is_some_and(|g| g.fired) {
                rows.push(self.row(id, "late_update"));
            }
        }
        if self
            .last_advance
            .is_none_or(|last| now - last >= self.spec.wm_interval)
        {
            let idle = self.spec.idle;
            let candidate = self
                .partitions
                .values()
                .filter(|(_, active)| idle.is_none_or(|i| now - active <= i))
                .filter_map(|(max, _)| max.map(|m| m - self.spec.bound))
                .min();
            if let Some(c) = candidate {
                self.wm = self.wm.max(c);
            }
            self.last_advance = Some(now);
        }
        for id in 0..self.groups.len() {
            if self.alive(id).is_some_and(|g| !g.fired && g.end <= self.wm) {
                self.groups[id].as_mut().expect("alive").fired = true;
                rows.push(self.row(id, "on_time"));
            }
        }
        let time_fires = match (self.spec.every, self.last_time_fire) {
            (None, _) => false,
            (Some(_), None) => {
                self.last_time_fire = Some(now);
                false
            }
            (Some(every), Some(last)) => {
                let fires = now - last >= every;
                if fires {
                    self.last_time_fire = Some(now);
                }
                fires
            }
        };
        let early: Vec<usize> = if time_fires {
            (0..self.groups.len())
                .filter(|&id| self.alive(id).is_some_and(|g| !g.fired && g.pending > 0))
                .collect()
        } else {
            touched
                .iter()
                .copied()
                .filter(|&id| {
                    self.alive(id).is_some_and(|g| {
                        !g.fired && self.spec.count.is_some_and(|c| g.pending >= c)
                    })
                })
                .collect()
        };
        for id in early {
            rows.push(self.row(id, "early"));
        }
        for slot in &mut self.groups {
            if slot
                .as_ref()
                .is_some_and(|g| g.end.saturating_add(self.spec.lateness) <= self.wm)
            {
                *slot = None;
            }
        }
        rows.sort();
        rows
    }

    fn finish(&mut self) -> Vec<Row> {
        let mut rows = Vec::new();
        for id in 0..self.groups.len() {
            if self.alive(id).is_some_and(|g| !g.fired) {
                rows.push(self.row(id, "on_time"));
            }
        }
        rows.sort();
        rows
    }
}

// ---------------------------------------------------------------- the engine, driven the same way

fn runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            Arc::new(
                Runtime::new(&PluginsConfig {
                    dir: plugin_dir(),
                    ..PluginsConfig::default()
                })
                .expect("runtime"),
            )
        })
        .clone()
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(v as u64)
}

fn config(spec: &Spec) -> Config {
    let aggregate = |name: &str, field: Option<&str>| AggregateConfig {
        name: name.into(),
        plugin: name.into(),
        field: field.map(String::from),
        config: serde_json::json!({}),
    };
    Config {
        window: match spec.window {
            Win::Tumbling { size, offset } => WindowConfig::Tumbling {
                size: ms(size),
                offset: ms(offset),
            },
            Win::Sliding {
                size,
                slide,
                offset,
            } => WindowConfig::Sliding {
                size: ms(size),
                slide: ms(slide),
                offset: ms(offset),
            },
            Win::Session { gap } => WindowConfig::Session { gap: ms(gap) },
        },
        watermark: WatermarkConfig {
            out_of_orderness: ms(spec.bound),
            interval: ms(spec.wm_interval),
            idle_timeout: spec.idle.map(ms),
        },
        allowed_lateness: ms(spec.lateness),
        trigger: match (spec.count, spec.every) {
            (None, None) => TriggerConfig::EventTime,
            (None, Some(e)) => TriggerConfig::ProcessingTime { interval: ms(e) },
            (Some(count), None) => TriggerConfig::Count { count },
            (Some(count), Some(e)) => TriggerConfig::CountOrTime {
                count,
                interval: ms(e),
            },
        },
        aggregates: vec![aggregate("count", None), aggregate("sum", Some("/v"))],
        sink: SinkConfig::Stdout,
        late: SideOutputConfig::Stderr,
        dead_letter: SideOutputConfig::Stderr,
        ..Config::default()
    }
}

struct Engine {
    pipeline: Pipeline,
    results: MemoryBuffer,
    late: MemoryBuffer,
}

impl Engine {
    fn new(spec: &Spec) -> Self {
        let config = config(spec);
        config.validate().expect("generated config is valid");
        let (results_out, results) = JsonLines::memory();
        let (late_out, late) = JsonLines::memory();
        let (dead_out, _) = JsonLines::memory();
        let outputs = Outputs {
            results: results_out,
            late: late_out,
            dead_letter: dead_out,
        };
        let pipeline = Pipeline::with_runtime(&config, runtime(), outputs).expect("pipeline");
        Self {
            pipeline,
            results,
            late,
        }
    }

    fn rows(&self) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .results
            .take()
            .iter()
            .map(|r| {
                (
                    r["emit"].as_str().expect("emit").to_string(),
                    r["key"].as_str().expect("key").to_string(),
                    r["window_start"].as_i64().expect("start"),
                    r["window_end"].as_i64().expect("end"),
                    r["count"].as_u64().expect("count"),
                    r["sum"].as_i64().expect("sum"),
                )
            })
            .collect();
        rows.sort();
        rows
    }

    fn batch(
        &mut self,
        partition: u32,
        events: &[(String, i64, i64)],
        now: i64,
    ) -> (Vec<Row>, Vec<i64>) {
        let mut batch = RawBatch {
            partition,
            ..RawBatch::default()
        };
        for (key, t, v) in events {
            batch.push(
                format!(r#"{{"key":"{key}","ts":{t},"v":{v}}}"#).as_bytes(),
                0,
            );
        }
        self.pipeline.process_at(batch, now).expect("batch");
        let late = self
            .late
            .take()
            .iter()
            .map(|r| r["event_time"].as_i64().expect("time"))
            .collect();
        (self.rows(), late)
    }

    fn tick(&mut self, now: i64) -> Vec<Row> {
        self.pipeline.tick_at(now).expect("tick");
        self.rows()
    }

    fn finish(&mut self) -> Vec<Row> {
        self.pipeline.finish().expect("finish");
        self.rows()
    }
}

// ---------------------------------------------------------------- property test

#[derive(Debug, Clone)]
enum Step {
    Batch {
        partition: u32,
        events: Vec<(u8, i64, i64)>,
        advance: i64,
    },
    Tick {
        advance: i64,
    },
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    let window = prop_oneof![
        (1i64..50)
            .prop_flat_map(|size| (Just(size), 0..size))
            .prop_map(|(size, offset)| Win::Tumbling { size, offset }),
        (1i64..20, 1i64..=10)
            .prop_flat_map(|(slide, n)| (
                Just(slide * n - (slide / 2) * i64::from(n > 1)),
                Just(slide),
                0..slide
            ))
            .prop_map(|(size, slide, offset)| Win::Sliding {
                size,
                slide,
                offset
            }),
        (1i64..30).prop_map(|gap| Win::Session { gap }),
    ];
    (
        window,
        0i64..20,
        prop_oneof![Just(0i64), 1i64..40],
        prop_oneof![Just(0i64), 1i64..5],
        proptest::option::of(1i64..10),
        proptest::option::of(1u64..5),
        proptest::option::of(1i64..10),
    )
        .prop_map(
            |(window, bound, lateness, wm_interval, idle, count, every)| Spec {
                window,
                bound,
                lateness,
                wm_interval,
                idle,
                count,
                every,
            },
        )
}

fn steps_strategy() -> impl Strategy<Value = Vec<Step>> {
    let batch = (
        0u32..3,
        proptest::collection::vec((0u8..3, -40i64..8, 0i64..100), 1..12),
        0i64..4,
    )
        .prop_map(|(partition, events, advance)| Step::Batch {
            partition,
            events,
            advance,
        });
    let tick = (0i64..12).prop_map(|advance| Step::Tick { advance });
    proptest::collection::vec(prop_oneof![4 => batch, 1 => tick], 1..30)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn engine_equals_model(spec in spec_strategy(), steps in steps_strategy()) {
        let sliding_ok = match spec.window {
            Win::Sliding { size, slide, .. } => slide <= size,
            _ => true,
        };
        prop_assume!(sliding_ok);
        let mut model = Model::new(spec.clone());
        let mut engine = Engine::new(&spec);
        let mut now = 0i64;
        let mut cursor = 1_000i64;
        for (n, step) in steps.iter().enumerate() {
            match step {
                Step::Batch { partition, events, advance } => {
                    now += advance;
                    let events: Vec<(String, i64, i64)> = events
                        .iter()
                        .map(|&(k, dt, v)| {
                            cursor += dt.rem_euclid(7);
                            (format!("k{k}"), cursor + dt, v)
                        })
                        .collect();
                    let want = model.batch(*partition, &events, now);
                    let got = engine.batch(*partition, &events, now);
                    prop_assert_eq!(got, want, "step {}: batch on partition {}", n, partition);
                }
                Step::Tick { advance } => {
                    now += advance;
                    let want = model.emit(now, &[]);
                    prop_assert_eq!(engine.tick(now), want, "step {}: tick", n);
                }
            }
        }
        prop_assert_eq!(engine.finish(), model.finish(), "end of input");
    }
}

// ---------------------------------------------------------------- named regression tests

fn spec(window: Win) -> Spec {
    Spec {
        window,
        bound: 100,
        lateness: 0,
        wm_interval: 0,
        idle: None,
        count: None,
        every: None,
    }
}

fn ev(key: &str, t: i64) -> (String, i64, i64) {
    (key.to_string(), t, 1)
}

fn row(kind: &str, key: &str, start: i64, end: i64, count: u64) -> Row {
    (
        kind.to_string(),
        key.to_string(),
        start,
        end,
        count,
        count as i64,
    )
}

#[test]
fn event_exactly_at_the_out_of_orderness_bound_is_on_time() {
    let mut engine = Engine::new(&spec(Win::Tumbling {
        size: 100,
        offset: 0,
    }));
    // Watermark becomes 1000 - 100 = 900: window [800, 900) is complete.
    let (rows, _) = engine.batch(0, &[ev("a", 850), ev("a", 1000)], 0);
    assert_eq!(rows, [row("on_time", "a", 800, 900, 1)]);
    // 900 is exactly the bound behind 1000: on time. 899 falls in the closed window: late.
    let (rows, late) = engine.batch(0, &[ev("a", 900), ev("a", 899)], 0);
    assert!(rows.is_empty());
    assert_eq!(late, [899]);
    assert_eq!(
        engine.finish(),
        [
            row("on_time", "a", 900, 1000, 1),
            row("on_time", "a", 1000, 1100, 1)
        ]
    );
}

#[test]
fn event_exactly_at_allowed_lateness() {
    let mut s = spec(Win::Tumbling {
        size: 100,
        offset: 0,
    });
    s.lateness = 50;
    let mut engine = Engine::new(&s);
    let (rows, _) = engine.batch(0, &[ev("a", 850), ev("a", 1049)], 0);
    assert_eq!(rows, [row("on_time", "a", 800, 900, 1)]);
    // Watermark 949 < 900 + 50: the window still takes events, each batch a late update.
    let (rows, late) = engine.batch(0, &[ev("a", 899)], 0);
    assert_eq!(
        (rows, late),
        (vec![row("late_update", "a", 800, 900, 2)], vec![])
    );
    // Watermark 950 = 900 + 50: expired; the event goes to the late output.
    engine.batch(0, &[ev("a", 1050)], 0);
    let (rows, late) = engine.batch(0, &[ev("a", 898)], 0);
    assert_eq!((rows, late), (vec![], vec![898]));
}

#[test]
fn idle_partition_stops_holding_the_watermark_back() {
    let mut s = spec(Win::Tumbling {
        size: 100,
        offset: 0,
    });
    s.idle = Some(1_000);
    let mut engine = Engine::new(&s);
    engine.batch(1, &[ev("b", 10)], 0);
    let (rows, _) = engine.batch(0, &[ev("a", 10), ev("a", 5_000)], 500);
    assert!(rows.is_empty(), "partition 1 holds the watermark at -90");
    assert!(engine.tick(1_000).is_empty(), "partition 1 is not idle yet");
    assert_eq!(
        engine.tick(1_001),
        [
            row("on_time", "a", 0, 100, 1),
            row("on_time", "b", 0, 100, 1)
        ],
        "partition 1 idle: watermark 4900"
    );
}

#[test]
fn session_merge_by_a_bridging_event() {
    let mut s = spec(Win::Session { gap: 10 });
    s.bound = 1_000;
    let mut engine = Engine::new(&s);
    engine.batch(0, &[ev("k", 0), ev("k", 20), ev("k", 21)], 0);
    engine.batch(0, &[ev("k", 10)], 0);
    assert_eq!(engine.finish(), [row("on_time", "k", 0, 31, 4)]);
}

#[test]
fn sliding_window_with_ten_windows_per_event() {
    let mut engine = Engine::new(&spec(Win::Sliding {
        size: 10_000,
        slide: 1_000,
        offset: 0,
    }));
    engine.batch(0, &[ev("k", 12_345)], 0);
    let rows = engine.finish();
    assert_eq!(rows.len(), 10);
    for (i, r) in rows.iter().enumerate() {
        let start = 3_000 + 1_000 * i as i64;
        assert_eq!(*r, row("on_time", "k", start, start + 10_000, 1));
    }
}

#[test]
fn count_and_time_triggers_emit_early_results() {
    let mut s = spec(Win::Tumbling {
        size: 1_000,
        offset: 0,
    });
    s.count = Some(2);
    s.every = Some(100);
    let mut engine = Engine::new(&s);
    let (rows, _) = engine.batch(0, &[ev("a", 1), ev("a", 2), ev("b", 3)], 0);
    assert_eq!(rows, [row("early", "a", 0, 1_000, 2)]);
    let (rows, _) = engine.batch(0, &[ev("a", 4)], 100);
    assert_eq!(
        rows,
        [
            row("early", "a", 0, 1_000, 3),
            row("early", "b", 0, 1_000, 1)
        ]
    );
    let (rows, _) = engine.batch(0, &[ev("a", 1_200)], 150);
    assert_eq!(
        rows,
        [
            row("on_time", "a", 0, 1_000, 3),
            row("on_time", "b", 0, 1_000, 1)
        ]
    );
}
