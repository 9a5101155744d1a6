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

mod engine;
mod model;

use engine::Engine;
use model::{Model, Row, Spec, Win};
use proptest::prelude::*;

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
