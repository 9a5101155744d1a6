//! Apache Kafka into PostgreSQL with `eddy run` (a real broker, `eddy_tests::broker::Kafka`,
//! and a real server, `eddy_tests::postgres::Postgres`), the known dataset produced bit by
//! bit while it runs; results, late events and dead letters each into a table:
//!
//! - the dataset as it is: every table equals the reference;
//! - exactly-once, SIGKILLed ten times at random points and restarted: every table equals the
//!   reference (nothing missing, unexpected, wrong or twice) and the progress table names
//!   every partition's end, as do the group's committed offsets;
//! - at-least-once, SIGKILLed five times: the results table equals the reference (replays
//!   upsert the same values), the side tables hold every record (some perhaps twice);
//! - PostgreSQL stopped (`pg_ctl stop -m immediate`) for ten seconds mid-run and started
//!   again, at-least-once and exactly-once: `/health/ready` answers 503 naming PostgreSQL
//!   meanwhile, no input is read, and afterwards the tables equal the reference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eddy_tests::broker::{Kafka, one_at_a_time};
use eddy_tests::dataset::{Dataset, EVENTS_PER_PARTITION, PARTITIONS, dataset};
use eddy_tests::pg_tables::{self, AGGREGATES, TableReport};
use eddy_tests::postgres::Postgres;
use eddy_tests::process::{Eddy, http_get};
use eddy_tests::topics::feed_in_background;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

/// The consumer group, also the pipeline's name in the progress table.
const GROUP: &str = "eddy-pg";
const SLICE_EVERY: Duration = Duration::from_millis(1_500);

/// A killed member leaves the group only when its session times out: short sessions.
fn env() -> [(&'static str, String); 2] {
    [
        (
            "EDDY_KAFKA__CONSUMER_PROPERTIES__SESSION_TIMEOUT_MS",
            "3000".to_string(),
        ),
        (
            "EDDY_KAFKA__CONSUMER_PROPERTIES__HEARTBEAT_INTERVAL_MS",
            "500".to_string(),
        ),
    ]
}

/// Writes the pipeline's config into `dir`: the dataset from `events` into the tables
/// `results`, `late` and `dead` on `server`, checkpoints in RocksDB.
fn config(dir: &Path, server: &Postgres, delivery: &str) -> PathBuf {
    let path = dir.join("pg.yaml");
    std::fs::write(
        &path,
        format!(
            "{AGGREGATES}source: {{ type: kafka, topic: events }}
{}kafka: {{ brokers: set-by-the-environment, group_id: {GROUP}, commit_interval: 300ms }}
state: {{ backend: rocksdb, dir: {}, checkpoint_interval: 300ms, delivery: {delivery} }}
",
            pg_tables::outputs(&server.url()),
            dir.join("state").display(),
        ),
    )
    .expect("config written");
    path
}

/// Produces the dataset in `slices` slices on a thread of its own.
fn feed(brokers: &str, data: &Dataset, slices: usize) -> std::thread::JoinHandle<()> {
    feed_in_background(
        brokers,
        &data.records,
        PARTITIONS as usize,
        (slices, SLICE_EVERY),
    )
}

/// Waits (at most `limit`) until the tables hold every reference row (exactly, when
/// `exact`; otherwise side records may be there twice); returns the last comparison.
fn wait_for_reference(
    server: &Postgres,
    data: &Dataset,
    exact: bool,
    limit: Duration,
) -> TableReport {
    let deadline = Instant::now() + limit;
    let mut client = server.client();
    loop {
        let report = TableReport::of(&mut client, data);
        let complete = report.results.missing.is_empty()
            && report.late.missing.is_empty()
            && report.dead.missing.is_empty();
        if (complete && (!exact || report.exact())) || Instant::now() > deadline {
            // Whatever else arrives late (a duplicate) shows in a second look.
            std::thread::sleep(Duration::from_secs(2));
            return TableReport::of(&mut client, data);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The group's committed offsets of `events` (informational with exactly-once into
/// PostgreSQL: committed after each PostgreSQL transaction).
fn group_offsets(brokers: &str) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", GROUP)
        .create()
        .expect("offsets reader");
    let mut list = TopicPartitionList::new();
    for partition in 0..PARTITIONS as i32 {
        list.add_partition_offset("events", partition, Offset::Invalid)
            .expect("partition");
    }
    consumer
        .committed_offsets(list, Duration::from_secs(10))
        .expect("committed offsets")
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_dataset_from_apache_kafka_equals_the_reference_in_every_table() {
    let _heavy = one_at_a_time();
    let started = Instant::now();
    let broker = Kafka::with_topics(&["events"], PARTITIONS);
    let brokers = broker.bootstrap_servers();
    let server = Postgres::start();
    let data = dataset();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path(), &server, "at_least_once");
    let feeder = feed(&brokers, &data, 10);
    let mut eddy = Eddy::run(&config, &brokers, &env());
    eddy.wait_ready(Duration::from_secs(90));
    feeder.join().expect("feeder");
    let report = wait_for_reference(&server, &data, true, Duration::from_secs(120));
    let status = eddy.stop();
    println!(
        "dataset from Apache Kafka into PostgreSQL in {:?}: {} result rows, {} late, {} dead letters; {}",
        started.elapsed(),
        data.windows.len(),
        data.late.len(),
        data.junk.len(),
        report.summary()
    );
    assert!(report.exact(), "{}", report.summary());
    assert!(status.success(), "eddy exits 0 on SIGTERM, got {status}");
}

/// Runs `eddy run` `kills` times, each killed with SIGKILL 0.2 to 3 s after it is ready;
/// returns the partitions restored from checkpoints and replayed from committed progress.
fn kill_again_and_again(
    config: &Path,
    brokers: &str,
    server: &Postgres,
    kills: usize,
    seed: u64,
) -> (f64, f64) {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut restored, mut replayed) = (0.0, 0.0);
    for kill in 1..=kills {
        let mut eddy = Eddy::run(config, brokers, &env());
        eddy.wait_ready(Duration::from_secs(90));
        std::thread::sleep(Duration::from_millis(rng.random_range(200..3_000)));
        restored += eddy.metric("eddy_partitions_restored_total").unwrap_or(0.0);
        replayed += eddy.metric("eddy_partitions_replayed_total").unwrap_or(0.0);
        eddy.crash();
        let mut client = server.client();
        eprintln!(
            "kill {kill} after {:?}: progress {:?}",
            started.elapsed(),
            pg_tables::progress(&mut client, GROUP)
        );
    }
    (restored, replayed)
}

/// A run SIGKILLed `kills` times while the dataset is fed in `slices`, then run to the end
/// and still running: the tables' report once they equal the reference (or two minutes have
/// passed), and the partitions restored and replayed over all runs.
struct Killed {
    _broker: Kafka,
    brokers: String,
    server: Postgres,
    _dir: tempfile::TempDir,
    eddy: Eddy,
    report: TableReport,
    restored: f64,
    replayed: f64,
    started: Instant,
}

fn killed_then_finished(delivery: &str, kills: usize, slices: usize, seed: u64) -> Killed {
    let started = Instant::now();
    let broker = Kafka::with_topics(&["events"], PARTITIONS);
    let brokers = broker.bootstrap_servers();
    let server = Postgres::start();
    let data = dataset();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path(), &server, delivery);
    let feeder = feed(&brokers, &data, slices);
    let (mut restored, mut replayed) =
        kill_again_and_again(&config, &brokers, &server, kills, seed);
    feeder.join().expect("feeder");
    let mut eddy = Eddy::run(&config, &brokers, &env());
    eddy.wait_ready(Duration::from_secs(90));
    let exactly = delivery == "exactly_once";
    let report = wait_for_reference(&server, &data, exactly, Duration::from_secs(120));
    restored += eddy.metric("eddy_partitions_restored_total").unwrap_or(0.0);
    replayed += eddy.metric("eddy_partitions_replayed_total").unwrap_or(0.0);
    Killed {
        _broker: broker,
        brokers,
        server,
        _dir: dir,
        eddy,
        report,
        restored,
        replayed,
        started,
    }
}

#[test]
fn killed_five_times_at_least_once_the_results_equal_the_reference() {
    const KILLS: usize = 5;
    let _heavy = one_at_a_time();
    let run = killed_then_finished("at_least_once", KILLS, 25, 21);
    let status = run.eddy.stop();
    let report = &run.report;
    println!(
        "at-least-once into PostgreSQL, {KILLS} kills, {:?}: {}; {} partitions restored from checkpoints, {} replayed",
        run.started.elapsed(),
        report.summary(),
        run.restored,
        run.replayed
    );
    // Replayed results land on their rows with the same values; side records may repeat.
    assert!(
        report.results.exact() && report.wrong == 0,
        "{}",
        report.summary()
    );
    for side in [&report.late, &report.dead] {
        assert!(
            side.missing.is_empty() && side.unexpected.is_empty(),
            "{}",
            report.summary()
        );
    }
    assert!(status.success(), "eddy exits 0 on SIGTERM, got {status}");
}

#[test]
fn killed_ten_times_exactly_once_every_table_equals_the_reference() {
    const KILLS: usize = 10;
    let _heavy = one_at_a_time();
    let run = killed_then_finished("exactly_once", KILLS, 40, 20);
    // Every record read: the last checkpoint commits each partition's end.
    let end = EVENTS_PER_PARTITION + 1;
    let ends: BTreeMap<i32, i64> = (0..PARTITIONS as i32).map(|p| (p, end)).collect();
    let mut client = run.server.client();
    let deadline = Instant::now() + Duration::from_secs(30);
    let read_to = loop {
        let read_to: BTreeMap<i32, i64> = pg_tables::progress(&mut client, GROUP)
            .into_iter()
            .map(|(p, (_, read_to))| (p, read_to))
            .collect();
        if read_to == ends || Instant::now() > deadline {
            break read_to;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let status = run.eddy.stop();
    let progress = pg_tables::progress(&mut client, GROUP);
    let next: BTreeMap<i32, i64> = progress.iter().map(|(&p, &(next, _))| (p, next)).collect();
    let committed = group_offsets(&run.brokers);
    let report = &run.report;
    println!(
        "exactly-once into PostgreSQL, {KILLS} kills, {:?}: {}; {} partitions restored from checkpoints, {} replayed from the progress table; progress {progress:?}, group offsets {committed:?}",
        run.started.elapsed(),
        report.summary(),
        run.restored,
        run.replayed
    );
    assert!(report.exact(), "{}", report.summary());
    assert_eq!(
        read_to, ends,
        "the progress table names every partition's end"
    );
    assert_eq!(
        committed, next,
        "the group's committed offsets are the progress table's"
    );
    assert!(
        run.restored + run.replayed > 0.0,
        "restarts continued partitions from committed progress"
    );
    assert!(status.success(), "eddy exits 0 on SIGTERM, got {status}");
}

/// `/health/ready`'s status line and body.
fn readiness(eddy: &Eddy) -> String {
    http_get(eddy.port(), "/health/ready").unwrap_or_else(|| "no answer".into())
}

fn postgres_restarted_mid_run(delivery: &str) -> TableReport {
    const DOWN: Duration = Duration::from_secs(10);
    let started = Instant::now();
    let broker = Kafka::with_topics(&["events"], PARTITIONS);
    let brokers = broker.bootstrap_servers();
    let server = Postgres::start();
    let data = dataset();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path(), &server, delivery);
    let feeder = feed(&brokers, &data, 30);
    let mut eddy = Eddy::run(&config, &brokers, &env());
    eddy.wait_ready(Duration::from_secs(90));
    std::thread::sleep(Duration::from_secs(8));
    let before = eddy.metric("eddy_records_in_total").unwrap_or(0.0);
    server.stop();
    let stopped = Instant::now();
    // Not ready, naming PostgreSQL, while it is down.
    let mut reason = None;
    while stopped.elapsed() < Duration::from_secs(5) {
        let answer = readiness(&eddy);
        if answer.contains("503") && answer.contains("PostgreSQL unreachable") {
            reason = answer.lines().last().map(str::to_string);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // No input is read meanwhile (the producer keeps producing).
    std::thread::sleep(Duration::from_secs(2));
    let stalled_at = eddy.metric("eddy_records_in_total").unwrap_or(0.0);
    std::thread::sleep(DOWN.saturating_sub(stopped.elapsed()));
    let still = eddy.metric("eddy_records_in_total").unwrap_or(0.0);
    let still_not_ready = readiness(&eddy);
    assert!(
        eddy.exited().is_none(),
        "eddy keeps running: {:?}",
        eddy.exited()
    );
    server.start_again();
    let back = Instant::now();
    eddy.wait_ready(Duration::from_secs(60));
    let ready_after = back.elapsed();
    feeder.join().expect("feeder");
    let report = wait_for_reference(
        &server,
        &data,
        delivery == "exactly_once",
        Duration::from_secs(120),
    );
    let after = eddy.metric("eddy_records_in_total").unwrap_or(0.0);
    let status = eddy.stop();
    println!(
        "PostgreSQL down {DOWN:?} ({delivery}), {:?} in all: not ready with {reason:?}; records read {before} before, {stalled_at} and {still} while down, {after} at the end; ready {ready_after:?} after the restart; {}",
        started.elapsed(),
        report.summary()
    );
    assert!(reason.is_some(), "not ready naming PostgreSQL within 5 s");
    assert!(
        still_not_ready.contains("503"),
        "still not ready while down: {still_not_ready}"
    );
    assert_eq!(stalled_at, still, "no input read while PostgreSQL is down");
    assert!(after > still, "input read again after the restart");
    assert!(status.success(), "eddy exits 0 on SIGTERM, got {status}");
    report
}

#[test]
fn postgres_restarted_mid_run_at_least_once_loses_nothing() {
    let _heavy = one_at_a_time();
    let report = postgres_restarted_mid_run("at_least_once");
    // Upserts make replayed results exact; replayed side records may be there twice.
    assert!(
        report.results.exact() && report.wrong == 0,
        "{}",
        report.summary()
    );
    for side in [&report.late, &report.dead] {
        assert!(
            side.missing.is_empty() && side.unexpected.is_empty(),
            "{}",
            report.summary()
        );
    }
}

#[test]
fn postgres_restarted_mid_run_exactly_once_writes_everything_once() {
    let _heavy = one_at_a_time();
    let report = postgres_restarted_mid_run("exactly_once");
    assert!(report.exact(), "{}", report.summary());
}
