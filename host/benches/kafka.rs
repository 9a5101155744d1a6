//! Kafka end to end: events/s through `eddy`'s Kafka loop (consume → decode → 1 s tumbling
//! windows over 10 000 keys with the count/sum/min/max/avg WebAssembly plugins → results
//! produced and acknowledged), and the latency from a window's result being emitted (the
//! watermark passed its end) to the broker acknowledging it; beside the rate at which a bare
//! rdkafka consumer reads the same topic in the same run.
//!
//! `cargo bench -p eddy --bench kafka`. By default on librdkafka's in-process mock cluster;
//! set `BENCH_BROKERS=host:port` for a real broker (topics `bench-events`,
//! `bench-results`, `bench-late`, `bench-dead` with 4 partitions must exist) and
//! `BENCH_EVENTS` for the number of events (default 500 000: librdkafka's mock cluster
//! stalled here at 1 000 000 records in one topic). `BENCH_DELIVERY=exactly_once` runs the
//! pipeline with a Kafka transaction per checkpoint (default `at_least_once`);
//! `BENCH_CHECKPOINT` sets the checkpoint interval (default `1s`). Build the plugins first
//! (`scripts/build-plugins.sh`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use eddy::app::KafkaRun;
use eddy::kafka::{Embedded, Producer, produce};
use eddy_engine::config::{Config, Delivery, KafkaConfig};
use eddy_engine::generator::{Generator, GeneratorConfig};
use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};

const PARTITIONS: u32 = 4;
const TOPICS: [&str; 4] = ["bench-events", "bench-results", "bench-late", "bench-dead"];

fn config(brokers: &str) -> Config {
    let mut config = Config::from_yaml(
        "source: { type: kafka, topic: bench-events }\n\
         window: { type: tumbling, size: 1s }\n\
         watermark: { out_of_orderness: 500ms }\n\
         aggregates:\n\
         - { name: n, plugin: count }\n\
         - { name: sum, plugin: sum, field: /amount }\n\
         - { name: min, plugin: min, field: /amount }\n\
         - { name: max, plugin: max, field: /amount }\n\
         - { name: avg, plugin: avg, field: /amount }\n\
         sink: { type: kafka, topic: bench-results }\n\
         late: { type: kafka, topic: bench-late }\n\
         dead_letter: { type: kafka, topic: bench-dead }\n\
         kafka: { group_id: bench-eddy, start: earliest }\n",
    )
    .expect("config");
    config.kafka.brokers = brokers.to_string();
    if let Ok(delivery) = std::env::var("BENCH_DELIVERY") {
        config.state.delivery = match delivery.as_str() {
            "exactly_once" => Delivery::ExactlyOnce,
            _ => Delivery::AtLeastOnce,
        };
        config.state.transactional_id = Some(format!("bench-{}", std::process::id()));
    }
    config.state.checkpoint_interval = std::env::var("BENCH_CHECKPOINT")
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
        .unwrap_or(Duration::from_secs(1));
    config.plugins.dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../dist/plugins");
    config
}

/// Seconds a bare consumer in a fresh group takes to read `events` records.
fn bare_consumer(brokers: &str, group: &str, events: u64) -> f64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[TOPICS[0]]).expect("subscribe");
    let mut read = 0u64;
    let mut bytes = 0usize;
    let mut started = None;
    while read < events {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            started.get_or_insert_with(Instant::now);
            bytes += message.payload().map_or(0, <[u8]>::len);
            read += 1;
        }
    }
    std::hint::black_box(bytes);
    started.map_or(0.0, |s| s.elapsed().as_secs_f64())
}

fn main() {
    let events: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500_000);
    let embedded;
    let brokers = match std::env::var("BENCH_BROKERS") {
        Ok(brokers) => brokers,
        Err(_) => {
            embedded = Embedded::start().expect("mock cluster");
            for topic in TOPICS {
                embedded.create_topic(topic, PARTITIONS).expect("topic");
            }
            embedded.bootstrap_servers()
        }
    };
    let producer = Producer::new(&KafkaConfig::default(), &brokers).expect("producer");
    let mut generator = Generator::new(GeneratorConfig {
        events,
        keys: 10_000,
        events_per_step: 100,
        max_disorder_ms: 500,
        ..GeneratorConfig::default()
    });
    let started = Instant::now();
    produce(&mut generator, &producer, TOPICS[0]).expect("events produced");
    let produce_s = started.elapsed().as_secs_f64();
    eprintln!("produced {events} events in {produce_s:.1} s");
    drop(producer);

    let bare_before = bare_consumer(
        &brokers,
        &format!("bench-bare-{}", std::process::id()),
        events,
    );

    eprintln!("bare consumer: {bare_before:.1} s");
    let config = config(&brokers);
    let mut run = KafkaRun::start(&config, &brokers).expect("pipeline");
    let mut started = None;
    while run.stats().records_in < events {
        let read = run.round().expect("round");
        if read > 0 {
            started.get_or_insert_with(Instant::now);
        }
    }
    let eddy_s = started.map_or(0.0, |s| s.elapsed().as_secs_f64());
    let latency = run.producer().and_then(|p| p.deliveries().take_latency());
    let metrics = std::sync::Arc::clone(run.metrics());
    let stats = run.shutdown(false).expect("shutdown");

    let bare_after = bare_consumer(
        &brokers,
        &format!("bench-bare2-{}", std::process::id()),
        events,
    );
    let bare_s = (bare_before + bare_after) / 2.0;
    let rate = |s: f64| events as f64 / s;
    println!(
        "Kafka end to end, {events} events, 10 000 keys, 1 s tumbling windows, 5 aggregates, brokers {brokers}"
    );
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| produce (generator → topic) | {:.0} ev/s |",
        rate(produce_s)
    );
    println!(
        "| bare rdkafka consumer (mean of before/after) | {:.0} ev/s ({:.0} / {:.0}) |",
        rate(bare_s),
        rate(bare_before),
        rate(bare_after)
    );
    println!(
        "| eddy (consume → windows → results acknowledged) | {:.0} ev/s |",
        rate(eddy_s)
    );
    println!(
        "| eddy / bare consumer | {:.0} % |",
        100.0 * bare_s / eddy_s
    );
    println!("| results produced | {} |", stats.results);
    println!(
        "| delivery, checkpoints (every {:?}) | {:?}, {} |",
        config.state.checkpoint_interval,
        config.state.delivery,
        metrics.checkpoint.written.get()
    );
    if let Some(latency) = latency {
        println!(
            "| latency emit → ack, p50 / p99 / max | {:.1} / {:.1} / {:.1} ms |",
            latency.value_at_quantile(0.5) as f64 / 1000.0,
            latency.value_at_quantile(0.99) as f64 / 1000.0,
            latency.max() as f64 / 1000.0
        );
    }
}
