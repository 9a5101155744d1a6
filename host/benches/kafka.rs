//! Kafka end to end: events/s through `eddy`'s Kafka loop (consume → decode → 1 s tumbling
//! windows over 10 000 keys with the count/sum/min/max/avg WebAssembly plugins → results
//! produced and acknowledged), and the latency from a window's result being emitted (the
//! watermark passed its end) to the broker acknowledging it; beside the rate at which a bare
//! rdkafka consumer reads the same topic in the same run.
//!
//! A reader of the results topic (`read_committed`) measures when each result becomes visible
//! to a consumer downstream: its receipt minus the record's create time (set when Eddy produced
//! it). At-least-once that is about the acknowledgement; exactly-once it includes the wait for
//! the checkpoint's transaction to commit.
//!
//! `cargo bench -p eddy --bench kafka`. By default on librdkafka's in-process mock cluster;
//! set `BENCH_BROKERS=host:port` for a real broker (`scripts/bench.sh` starts Apache Kafka):
//! each run creates its own topics `bench-{events,results,late,dead}-<pid>` with 4 partitions.
//! `BENCH_EVENTS` sets the number of events (default 500 000: librdkafka's mock cluster
//! stalled here at 1 000 000 records in one topic). `BENCH_DELIVERY=exactly_once` runs the
//! pipeline with a Kafka transaction per checkpoint (default `at_least_once`);
//! `BENCH_CHECKPOINT` sets the checkpoint interval (default `1s`). Build the plugins first
//! (`scripts/build-plugins.sh`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eddy::app::KafkaRun;
use eddy::kafka::{Embedded, Producer, produce};
use eddy_engine::config::{Config, Delivery, KafkaConfig};
use eddy_engine::generator::{Generator, GeneratorConfig};
use hdrhistogram::Histogram;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

const PARTITIONS: u32 = 4;

/// This run's topics: events, results, late, dead letters.
fn topics() -> [String; 4] {
    ["events", "results", "late", "dead"].map(|t| format!("bench-{t}-{}", std::process::id()))
}

/// Creates the run's topics on a real broker.
fn create_topics(brokers: &str, topics: &[String]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, PARTITIONS as i32, TopicReplication::Fixed(1)))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for result in runtime
        .block_on(admin.create_topics(&new, &AdminOptions::new()))
        .expect("create topics")
    {
        result.expect("topic created");
    }
}

fn config(brokers: &str, topics: &[String; 4]) -> Config {
    let [events, results, late, dead] = topics;
    let mut config = Config::from_yaml(&format!(
        "source: {{ type: kafka, topic: {events} }}\n\
         window: {{ type: tumbling, size: 1s }}\n\
         watermark: {{ out_of_orderness: 500ms }}\n\
         aggregates:\n\
         - {{ name: n, plugin: count }}\n\
         - {{ name: sum, plugin: sum, field: /amount }}\n\
         - {{ name: min, plugin: min, field: /amount }}\n\
         - {{ name: max, plugin: max, field: /amount }}\n\
         - {{ name: avg, plugin: avg, field: /amount }}\n\
         sink: {{ type: kafka, topic: {results} }}\n\
         late: {{ type: kafka, topic: {late} }}\n\
         dead_letter: {{ type: kafka, topic: {dead} }}\n\
         kafka: {{ group_id: bench-eddy-{pid}, start: earliest }}\n",
        pid = std::process::id()
    ))
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

/// Reads `topic` from its start (`read_committed`) until `stop`, recording each record's
/// visibility latency: receipt minus its create time, in ms.
fn visibility_reader(brokers: &str, topic: &str, stop: Arc<AtomicBool>) -> Histogram<u64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("bench-reader-{}", std::process::id()))
        .set("isolation.level", "read_committed")
        .set("fetch.wait.max.ms", "5")
        .set("fetch.queue.backoff.ms", "10")
        .set("enable.auto.commit", "false")
        .create()
        .expect("reader");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..PARTITIONS as i32 {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&assignment).expect("assign");
    let mut latency = Histogram::new_with_bounds(1, 3_600_000, 3).expect("histogram");
    while !stop.load(Ordering::Relaxed) {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(50))
            && let Some(created) = message.timestamp().to_millis()
        {
            let now = eddy_engine::event::now_ms();
            let _ = latency.record(now.saturating_sub(created).clamp(1, 3_600_000) as u64);
        }
    }
    latency
}

/// Seconds a bare consumer in a fresh group takes to read `events` records.
fn bare_consumer(brokers: &str, topic: &str, group: &str, events: u64) -> f64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        // As Eddy's consumer (see eddy::kafka::client): no 1 s fetch pause.
        .set("fetch.queue.backoff.ms", "10")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
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
    let topics = topics();
    let brokers = match std::env::var("BENCH_BROKERS") {
        Ok(brokers) => {
            create_topics(&brokers, &topics);
            brokers
        }
        Err(_) => {
            embedded = Embedded::start().expect("mock cluster");
            for topic in &topics {
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
    produce(&mut generator, &producer, &topics[0]).expect("events produced");
    let produce_s = started.elapsed().as_secs_f64();
    eprintln!("produced {events} events in {produce_s:.1} s");
    drop(producer);

    let bare_before = bare_consumer(
        &brokers,
        &topics[0],
        &format!("bench-bare-{}", std::process::id()),
        events,
    );

    eprintln!("bare consumer: {bare_before:.1} s");
    let config = config(&brokers, &topics);
    let stop_reader = Arc::new(AtomicBool::new(false));
    let reader = {
        let (brokers, topic, stop) = (brokers.clone(), topics[1].clone(), stop_reader.clone());
        std::thread::spawn(move || visibility_reader(&brokers, &topic, stop))
    };
    let mut run = KafkaRun::start(&config, &brokers).expect("pipeline");
    let mut started = None;
    while run.stats().records_in < events {
        let read = run.round().expect("round");
        if read > 0 {
            started.get_or_insert_with(Instant::now);
        }
    }
    let eddy_s = started.map_or(0.0, |s| s.elapsed().as_secs_f64());
    let computed = run.pipeline().batches_computed();
    let latency = run.producer().and_then(|p| p.deliveries().take_latency());
    let metrics = std::sync::Arc::clone(run.metrics());
    let stats = run.shutdown(false).expect("shutdown");
    // The last results become visible within a fetch or two.
    std::thread::sleep(Duration::from_secs(2));
    stop_reader.store(true, Ordering::Relaxed);
    let visible = reader.join().expect("reader");

    let bare_after = bare_consumer(
        &brokers,
        &topics[0],
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
        "| workers, partition batches they computed ahead | {}, {computed} |",
        config.worker_count()
    );
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
    println!(
        "| latency emit → visible to a read_committed reader, p50 / p99 / max ({} results) | {} / {} / {} ms |",
        visible.len(),
        visible.value_at_quantile(0.5),
        visible.value_at_quantile(0.99),
        visible.max()
    );
}
