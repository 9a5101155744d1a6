//! Results into PostgreSQL beside results into Kafka, in one run: `BENCH_WINDOWS` window
//! results (default 100 000 keys, one window each, five aggregate outputs) written the way
//! the pipeline writes them — in emitted batches of `BENCH_BATCH` (default 4 096) — through
//! Eddy's own writers:
//!
//! - PostgreSQL at-least-once: one upsert statement per batch into an empty table (inserts),
//!   then the same results again (every row updated, as a replay or `on_time` after `early`);
//! - PostgreSQL exactly-once: the batches of a checkpoint interval (`BENCH_CHECKPOINT_ROWS`,
//!   default 25 000) buffered, then sent with the progress in one transaction;
//! - Kafka: one JSON record per result on a topic of `BENCH_BROKERS`, until every record is
//!   acknowledged.
//!
//! `BENCH_POSTGRES_URL=postgresql://... BENCH_BROKERS=host:port cargo bench -p eddy --bench
//! postgres` (`scripts/bench.sh` starts both from the tests' harness: the `postgres-server`
//! and `kafka-broker` binaries of eddy-tests). Without `BENCH_BROKERS` the Kafka row runs on
//! librdkafka's in-process mock cluster.

use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy::kafka::{Embedded, Producer};
use eddy::sink::{KafkaTopic, PostgresTable, Writer};
use eddy_engine::aggregate::Finished;
use eddy_engine::config::{KafkaConfig, PostgresSink, SecretUrl};
use eddy_engine::groups::Group;
use eddy_engine::operator::Emitted;
use eddy_engine::progress::Progress;
use eddy_engine::results::Emit;
use eddy_engine::window::Window;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The results of `keys` windows in batches of `batch`, values from `seed`.
fn batches(keys: usize, batch: usize, emit: Emit, seed: f64) -> Vec<Emitted> {
    (0..keys)
        .collect::<Vec<_>>()
        .chunks(batch)
        .map(|chunk| {
            let groups: Vec<Group> = chunk
                .iter()
                .map(|&k| Group {
                    window: Window {
                        start: 1_700_000_000_000,
                        end: 1_700_000_010_000,
                    },
                    key: format!("key-{k}").into(),
                    fired: false,
                    pending: 0,
                    first_offset: i64::MAX,
                })
                .collect();
            let column =
                |f: fn(usize) -> f64| -> Vec<f64> { chunk.iter().map(|&k| f(k) + seed).collect() };
            Emitted {
                emit,
                groups,
                finished: Finished {
                    columns: vec![
                        ("n".into(), vec![String::new()], column(|k| (k % 97) as f64)),
                        (
                            "sum".into(),
                            vec![String::new()],
                            column(|k| k as f64 * 1.5),
                        ),
                        (
                            "min".into(),
                            vec![String::new()],
                            column(|k| (k % 13) as f64),
                        ),
                        (
                            "max".into(),
                            vec![String::new()],
                            column(|k| (k % 1000) as f64),
                        ),
                        (
                            "avg".into(),
                            vec![String::new()],
                            column(|k| k as f64 / 7.0),
                        ),
                    ],
                },
            }
        })
        .collect()
}

fn outputs() -> Vec<(String, Vec<String>)> {
    ["n", "sum", "min", "max", "avg"]
        .iter()
        .map(|n| (n.to_string(), vec![String::new()]))
        .collect()
}

fn rate(rows: usize, took: Duration) -> String {
    format!(
        "{:.0} k rows/s ({rows} rows in {:.2} s)",
        rows as f64 / took.as_secs_f64() / 1e3,
        took.as_secs_f64()
    )
}

fn sink(url: &str, table: &str) -> PostgresSink {
    PostgresSink {
        url: SecretUrl::new(url),
        table: table.into(),
        create_table: true,
        retry_timeout: Duration::from_secs(30),
    }
}

/// At-least-once: one upsert per batch; returns the time taken.
fn at_least_once(table: &mut PostgresTable, batches: &[Emitted]) -> Duration {
    let started = Instant::now();
    for emitted in batches {
        table.add(emitted).expect("buffered");
        table.flush().expect("upserted");
    }
    started.elapsed()
}

fn kafka(brokers: &str, topic: &str, batches: &[Emitted]) -> Duration {
    let producer = Arc::new(Producer::new(&KafkaConfig::default(), brokers).expect("producer"));
    let mut writer = Writer::Kafka(KafkaTopic {
        producer: Arc::clone(&producer),
        topic: topic.to_string(),
        avro: None,
    });
    let mut scratch = Vec::new();
    // The writer takes results by value: copied before the clock starts.
    let batches = batches.to_vec();
    let started = Instant::now();
    for emitted in batches {
        writer.results(emitted, &mut scratch).expect("produced");
    }
    producer.flush().expect("acknowledged");
    started.elapsed()
}

fn main() {
    let Ok(url) = std::env::var("BENCH_POSTGRES_URL") else {
        eprintln!(
            "set BENCH_POSTGRES_URL (scripts/bench.sh starts a server: the postgres-server binary of eddy-tests)"
        );
        return;
    };
    let windows = env_usize("BENCH_WINDOWS", 100_000);
    let batch = env_usize("BENCH_BATCH", 4_096);
    let checkpoint_rows = env_usize("BENCH_CHECKPOINT_ROWS", 25_000);
    let first = batches(windows, batch, Emit::Early, 0.0);
    let again = batches(windows, batch, Emit::OnTime, 1.0);
    let table_name = format!("bench_results_{}", std::process::id());

    let mut table = PostgresTable::connect(&sink(&url, &table_name)).expect("connect");
    table.prepare(&outputs()).expect("table");
    let inserts = at_least_once(&mut table, &first);
    let updates = at_least_once(&mut table, &again);

    let eos_name = format!("{table_name}_eos");
    let mut eos = PostgresTable::transactional(&sink(&url, &eos_name)).expect("connect");
    eos.prepare(&outputs()).expect("table");
    let started = Instant::now();
    let mut since = 0;
    let mut checkpoint = 0;
    for emitted in &first {
        since += eos.add(emitted).expect("buffered");
        if since >= checkpoint_rows {
            checkpoint += 1;
            let progress = [Progress {
                partition: 0,
                offset: checkpoint,
                read_to: checkpoint,
                watermark: 0,
            }];
            eos.commit("bench", &progress, Some(checkpoint as u64))
                .expect("committed");
            since = 0;
        }
    }
    let progress = [Progress {
        partition: 0,
        offset: checkpoint + 1,
        read_to: checkpoint + 1,
        watermark: 0,
    }];
    eos.commit("bench", &progress, Some(checkpoint as u64 + 1))
        .expect("committed");
    let exactly_once = started.elapsed();

    let topic = format!("bench-pg-results-{}", std::process::id());
    let (kafka_took, on) = match std::env::var("BENCH_BROKERS") {
        Ok(brokers) => {
            let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .create()
                .expect("admin client");
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            for result in runtime
                .block_on(admin.create_topics(
                    &[NewTopic::new(&topic, 4, TopicReplication::Fixed(1))],
                    &AdminOptions::new(),
                ))
                .expect("create topic")
            {
                result.expect("topic created");
            }
            (kafka(&brokers, &topic, &first), format!("broker {brokers}"))
        }
        Err(_) => {
            let cluster = Embedded::start().expect("mock cluster");
            cluster.create_topic(&topic, 4).expect("topic");
            (
                kafka(&cluster.bootstrap_servers(), &topic, &first),
                "librdkafka's mock cluster".to_string(),
            )
        }
    };
    println!(
        "Results into PostgreSQL and Kafka: {windows} windows, 5 aggregate columns, batches of {batch}"
    );
    println!("| sink | rows/s |");
    println!("|---|---|");
    println!(
        "| PostgreSQL at-least-once, one upsert per batch, new rows | {} |",
        rate(windows, inserts)
    );
    println!(
        "| PostgreSQL at-least-once, the same windows again (updates) | {} |",
        rate(windows, updates)
    );
    println!(
        "| PostgreSQL exactly-once, one transaction with progress per {checkpoint_rows} rows | {} |",
        rate(windows, exactly_once)
    );
    println!(
        "| Kafka ({on}), one record per result, all acknowledged | {} |",
        rate(windows, kafka_took)
    );
}
