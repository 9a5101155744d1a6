//! Window state is freed once a window's end plus the allowed lateness is behind the watermark:
//! on a long stream over a bounded key set the number of open groups, and the slot tables inside
//! the plugins, stay bounded for every window type.

use std::time::Duration;

use eddy::pipeline::{Outputs, Pipeline};
use eddy::sink::JsonLines;
use eddy_engine::config::{Config, PluginsConfig, WindowConfig};
use eddy_engine::generator::{Generator, GeneratorConfig};
use eddy_tests::plugin_dir;

const KEYS: u32 = 50;

/// `slices_per_key`: slots a key's slices of sliding windows hold beside its windows.
fn run(window: WindowConfig, windows_per_key: usize, slices_per_key: usize) {
    let mut config: Config = Config::from_yaml(
        "aggregates: [{ name: n, plugin: count }, { name: s, plugin: sum, field: /amount }]\n",
    )
    .expect("config");
    config.window = window;
    config.watermark.out_of_orderness = Duration::from_millis(500);
    config.allowed_lateness = Duration::from_secs(2);
    config.plugins = PluginsConfig {
        dir: plugin_dir(),
        ..PluginsConfig::default()
    };
    let (results, buffer) = JsonLines::memory();
    let (late, _) = JsonLines::memory();
    let (dead_letter, _) = JsonLines::memory();
    let mut pipeline = Pipeline::new(
        &config,
        Outputs {
            results: results.into(),
            late: late.into(),
            dead_letter: dead_letter.into(),
        },
    )
    .expect("pipeline");
    // 400 s of event time, one event per ms, 50 keys, 0.5 s out of order.
    let mut generator = Generator::new(GeneratorConfig {
        events: 400_000,
        keys: KEYS,
        max_disorder_ms: 500,
        ..GeneratorConfig::default()
    });
    let bound = KEYS as usize * windows_per_key;
    let mut peak = (0, 0);
    let mut emitted = 0;
    while let Some(batch) = generator.next_batch(1024) {
        pipeline.process_at(batch, 0).expect("batch");
        peak = (
            peak.0.max(pipeline.open_groups()),
            peak.1.max(pipeline.slot_capacity()),
        );
        emitted += buffer.take().len();
    }
    assert!(emitted > 0, "windows were emitted and freed along the way");
    assert!(
        peak.0 <= bound,
        "open groups peaked at {}, bound {bound}",
        peak.0
    );
    assert!(
        peak.1 <= bound + KEYS as usize * slices_per_key,
        "slot table grew to {}, bound {bound} + {slices_per_key} per key",
        peak.1
    );
}

#[test]
fn tumbling_state_stays_bounded() {
    // 1 s windows live 1 s + 0.5 s bound + 2 s lateness: at most 5 per key at once.
    run(
        WindowConfig::Tumbling {
            size: Duration::from_secs(1),
            offset: Duration::ZERO,
        },
        5,
        0,
    );
}

#[test]
fn sliding_state_stays_bounded() {
    // 2 s windows every 500 ms: 4 per event, plus 7 more during bound and lateness. Beside
    // them, slots for the key's slices (500 ms each, live until their last window fires) and
    // for a copy of each slice of a window while it is merged into the window's group.
    run(
        WindowConfig::Sliding {
            size: Duration::from_secs(2),
            slide: Duration::from_millis(500),
            offset: Duration::ZERO,
        },
        12,
        8,
    );
}

#[test]
fn session_state_stays_bounded() {
    // A key gets an event every 50 ms on average, so 20 ms sessions are short; sessions stay
    // open for at most gap + bound + lateness = 2.52 s, about 50 per key at once. A leak would
    // reach thousands per key over the 400 s stream.
    run(
        WindowConfig::Session {
            gap: Duration::from_millis(20),
        },
        200,
        0,
    );
}

/// With `state.ttl`, a partition that had no events for the TTL (its watermark stuck, its
/// windows never to fire) has its open groups dropped and counted; a partition that keeps
/// receiving events keeps its state.
#[test]
fn state_of_a_partition_idle_for_the_ttl_is_dropped() {
    let mut config = Config::from_yaml(
        "source: { type: kafka, topic: events }\n\
         decode: { key: /k, time: /t }\n\
         window: { type: tumbling, size: 1h }\n\
         state: { ttl: 1s }\n\
         aggregates: [{ name: n, plugin: count }]\n",
    )
    .expect("config");
    config.plugins.dir = plugin_dir();
    let (results, buffer) = JsonLines::memory();
    let mut pipeline = Pipeline::new(
        &config,
        Outputs {
            results: results.into(),
            late: JsonLines::memory().0.into(),
            dead_letter: JsonLines::memory().0.into(),
        },
    )
    .expect("pipeline");
    let batch = |partition: u32, keys: std::ops::Range<u32>, at: i64| {
        let mut batch = eddy_engine::event::RawBatch::with_capacity(keys.len(), 0);
        batch.partition = partition;
        for k in keys {
            let payload = format!(r#"{{"k":"k{k}","t":1700000000000}}"#);
            batch.push_at(payload.as_bytes(), 0, i64::from(k));
        }
        (batch, at)
    };
    for (b, at) in [batch(0, 0..30, 0), batch(1, 0..20, 0)] {
        pipeline.process_at(b, at).expect("processed");
    }
    pipeline.tick_at(600).expect("tick");
    assert_eq!(pipeline.stats().expired, 0, "not idle for the TTL yet");
    let (b, at) = batch(1, 20..25, 900);
    pipeline.process_at(b, at).expect("processed");
    pipeline.tick_at(1_500).expect("tick");
    assert_eq!(
        pipeline.stats().expired,
        30,
        "partition 0 was idle for 1.5 s"
    );
    assert_eq!(pipeline.open_groups(), 25, "partition 1 keeps its groups");
    pipeline.tick_at(2_000).expect("tick");
    assert_eq!(pipeline.open_groups(), 0, "then partition 1 is idle too");
    assert_eq!(pipeline.stats().expired, 55);
    assert!(buffer.take().is_empty(), "dropped, not fired");
}
