//! Crash tests on Apache Kafka: while `eddy run` processes the known dataset (produced bit by
//! bit as it runs), it is killed with SIGKILL and restarted, again and again, with its
//! checkpoints in RocksDB.
//!
//! - At-least-once, ten kills at random points: every reference result, late event and dead
//!   letter is present, nothing else; duplicates are allowed and reported.
//! - Exactly-once, twenty kills: half at random points (a transaction is open nearly all the
//!   time: results of the current checkpoint interval written to it, uncommitted), half right
//!   after a checkpoint reached RocksDB (the test watches the write-ahead log grow), while its
//!   transaction commits. After each kill the test compares the newest checkpoint in RocksDB
//!   with the one the group's committed offsets name, and counts kills that left a checkpoint
//!   whose transaction never committed. The committed output equals the reference: nothing
//!   missing, nothing unexpected, no duplicates.
//!
//! Both run on the incremental (cooperative) rebalance protocol, the default; each again, with
//! ten kills, on the eager protocol. In each, some runs are not killed from outside but abort
//! themselves in the middle of a checkpoint write holding changes (after the records are
//! encoded, before the write batch lands: `FAULT_ABORT_AT_DELTA_WRITE`); the next run
//! restores the checkpoint before it.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eddy::state::ABORT_AT_DELTA_WRITE;
use eddy_engine::config::{BackendKind, StateConfig};
use eddy_engine::progress::Progress;
use eddy_tests::broker::{Kafka, one_at_a_time};
use eddy_tests::dataset::{CONFIG, Dataset, PARTITIONS, Report, TOPICS, dataset};
use eddy_tests::process::Eddy;
use eddy_tests::topics::{feed_in_background, read_outputs};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

/// Slices the dataset is produced in, one every `SLICE_EVERY`.
const SLICE_EVERY: Duration = Duration::from_millis(1_500);

/// Where a run is killed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum KillAt {
    /// A random moment 0.2 to 3 s after it is ready.
    Random,
    /// Right after a checkpoint write reached RocksDB's write-ahead log (exactly-once: while
    /// its transaction commits).
    AfterCheckpointWrite,
    /// In the middle of its third checkpoint write holding changes (the process aborts).
    InDeltaWrite,
}

/// What the kills did.
#[derive(Default)]
struct Kills {
    /// Partitions restored from a checkpoint, summed over the runs.
    restored: f64,
    /// Kills that left a newer checkpoint in RocksDB than the committed transaction names.
    uncommitted_checkpoints: usize,
    /// Runs that aborted in the middle of a delta write.
    aborted_in_delta_writes: usize,
}

/// Total size of RocksDB's write-ahead log files in `dir`, and their number.
fn wal_size(dir: &Path) -> (u64, usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .fold((0, 0), |(size, n), e| {
            (size + e.metadata().map_or(0, |m| m.len()), n + 1)
        })
}

/// Waits (at most 5 s) until the write-ahead log in `dir` changes: a checkpoint was written.
fn wait_for_checkpoint_write(dir: &Path) -> bool {
    let before = wal_size(dir);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if wal_size(dir) != before {
            return true;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    false
}

/// The newest checkpoint in the RocksDB store at `dir` (its process is dead).
fn latest_local_checkpoint(dir: &Path) -> Option<u64> {
    let config = StateConfig {
        backend: BackendKind::Rocksdb,
        dir: dir.to_path_buf(),
        ..StateConfig::default()
    };
    eddy::state::open(&config)
        .expect("the killed run's RocksDB opens")
        .latest_id()
}

/// The newest checkpoint the group's committed offsets name (committed transactions only).
fn committed_checkpoint(brokers: &str) -> Option<u64> {
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "eddy-test")
        // read_uncommitted: no wait for the killed producer's pending offsets.
        .set("isolation.level", "read_uncommitted")
        .create()
        .expect("offsets reader");
    let mut list = TopicPartitionList::new();
    for partition in 0..PARTITIONS as i32 {
        list.add_partition_offset("events", partition, Offset::Invalid)
            .expect("partition");
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .expect("committed offsets");
    committed
        .elements()
        .iter()
        .filter_map(|e| Progress::parse_metadata(e.metadata())?.checkpoint)
        .max()
}

/// Runs the dataset (`slices` slices) through `eddy run` killed at each of `kills`; returns
/// the comparison of what was written with the reference, and what the kills did.
fn crash_and_recover(
    brokers: &str,
    (delivery, rebalance): (&str, &str),
    seed: u64,
    kills: &[KillAt],
    slices: usize,
) -> (Report, Kills) {
    let data: Dataset = dataset();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("crash.yaml");
    let state: PathBuf = dir.path().join("state");
    std::fs::write(
        &config,
        format!(
            "{CONFIG}state:\n  backend: rocksdb\n  dir: {}\n  checkpoint_interval: 300ms\n  delivery: {delivery}\n  transactional_id: eddy-crash-test\n",
            state.display()
        ),
    )
    .expect("config written");
    // A killed member leaves the group only when its session times out: keep it short, the
    // next run waits for it (the test broker allows sessions down to 1 s).
    let env = [
        (
            "EDDY_KAFKA__CONSUMER_PROPERTIES__SESSION_TIMEOUT_MS",
            "3000".to_string(),
        ),
        (
            "EDDY_KAFKA__CONSUMER_PROPERTIES__HEARTBEAT_INTERVAL_MS",
            "500".to_string(),
        ),
        ("EDDY_KAFKA__REBALANCE", rebalance.to_string()),
    ];
    let feeder = feed_in_background(
        brokers,
        &data.records,
        PARTITIONS as usize,
        (slices, SLICE_EVERY),
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let mut result = Kills::default();
    for (n, &at) in kills.iter().enumerate() {
        let mut run_env = env.to_vec();
        if at == KillAt::InDeltaWrite {
            run_env.push((ABORT_AT_DELTA_WRITE, "3".to_string()));
        }
        let mut eddy = Eddy::run(&config, brokers, &run_env);
        let (checkpoint, caught) = if at == KillAt::InDeltaWrite {
            // It may abort before it reports ready: its first delta writes follow the
            // assignment within a second.
            let status = eddy.wait_exit(Duration::from_secs(60));
            assert_eq!(
                status.signal(),
                Some(6),
                "the run aborts in its third delta write, got {status}"
            );
            result.aborted_in_delta_writes += 1;
            (None, true)
        } else {
            eddy.wait_ready(Duration::from_secs(90));
            std::thread::sleep(Duration::from_millis(rng.random_range(200..3_000)));
            result.restored += eddy.metric("eddy_partitions_restored_total").unwrap_or(0.0);
            let checkpoint = eddy.metric("eddy_checkpoint_id");
            let caught = at == KillAt::AfterCheckpointWrite && wait_for_checkpoint_write(&state);
            eddy.crash();
            (checkpoint, caught)
        };
        let latest = latest_local_checkpoint(&state);
        let committed = (delivery == "exactly_once").then(|| committed_checkpoint(brokers));
        let uncommitted = committed.is_some_and(|c| latest > c);
        result.uncommitted_checkpoints += usize::from(uncommitted);
        eprintln!(
            "kill {} ({at:?}{}): checkpoint {checkpoint:?} committed before, {latest:?} newest in RocksDB, {} committed{}; {} partitions restored so far",
            n + 1,
            if caught { ", caught a write" } else { "" },
            committed.map_or("-".into(), |c| format!("{c:?}")),
            if uncommitted {
                ": killed between a checkpoint and its commit"
            } else {
                ""
            },
            result.restored,
        );
    }
    feeder.join().expect("feeder");
    let mut eddy = Eddy::run(&config, brokers, &env);
    eddy.wait_ready(Duration::from_secs(90));
    let outputs = read_outputs(
        brokers,
        data.windows.len(),
        Duration::from_secs(3),
        Duration::from_secs(120),
    );
    result.restored += eddy.metric("eddy_partitions_restored_total").unwrap_or(0.0);
    assert!(
        result.restored > 0.0,
        "restarts restored partitions from checkpoints"
    );
    let status = eddy.stop();
    assert!(status.success(), "eddy exits 0 on SIGTERM, got {status}");
    (Report::of(&data, &outputs), result)
}

#[test]
fn killed_ten_times_at_least_once_loses_nothing() {
    killed_at_least_once("cooperative");
}

/// The eager rebalance protocol, still supported, loses nothing either.
#[test]
fn killed_ten_times_at_least_once_on_the_eager_protocol_loses_nothing() {
    killed_at_least_once("eager");
}

/// Kills `eddy run` (at-least-once, `rebalance` protocol) ten times while the dataset is
/// produced; asserts every reference result is written.
fn killed_at_least_once(rebalance: &str) {
    let _heavy = one_at_a_time();
    let started = Instant::now();
    let broker = Kafka::with_topics(&TOPICS, PARTITIONS);
    let kills: Vec<KillAt> = (0..10)
        .map(|n| {
            if n % 3 == 2 {
                KillAt::InDeltaWrite
            } else {
                KillAt::Random
            }
        })
        .collect();
    let (report, result) = crash_and_recover(
        &broker.bootstrap_servers(),
        ("at_least_once", rebalance),
        11,
        &kills,
        40,
    );
    eprintln!(
        "at-least-once ({rebalance}) after {} kills ({} in a delta write), {:?}: {}; {} partitions restored",
        kills.len(),
        result.aborted_in_delta_writes,
        started.elapsed(),
        report.summary(),
        result.restored
    );
    report.assert_nothing_lost_or_wrong();
    assert_eq!(result.aborted_in_delta_writes, 3);
}

#[test]
fn killed_twenty_times_exactly_once_writes_everything_once() {
    killed_exactly_once("cooperative", 20, 70);
}

/// The eager rebalance protocol, still supported, keeps the guarantee too.
#[test]
fn killed_ten_times_exactly_once_on_the_eager_protocol_writes_everything_once() {
    killed_exactly_once("eager", 10, 40);
}

/// Kills `eddy run` (exactly-once, `rebalance` protocol) `times` times while `slices` slices
/// of the dataset are produced; asserts the output is exactly the reference.
fn killed_exactly_once(rebalance: &str, times: usize, slices: usize) {
    let _heavy = one_at_a_time();
    let started = Instant::now();
    let broker = Kafka::with_topics(&TOPICS, PARTITIONS);
    let kills: Vec<KillAt> = (0..times)
        .map(|n| {
            if n % 4 == 2 {
                KillAt::InDeltaWrite
            } else if n % 2 == 0 {
                KillAt::Random
            } else {
                KillAt::AfterCheckpointWrite
            }
        })
        .collect();
    let (report, result) = crash_and_recover(
        &broker.bootstrap_servers(),
        ("exactly_once", rebalance),
        12,
        &kills,
        slices,
    );
    eprintln!(
        "exactly-once ({rebalance}) after {} kills ({} between a checkpoint and its commit, {} in a delta write), {:?}: {}; {} partitions restored",
        kills.len(),
        result.uncommitted_checkpoints,
        result.aborted_in_delta_writes,
        started.elapsed(),
        report.summary(),
        result.restored
    );
    assert!(report.results.exact(), "results: {}", report.summary());
    assert!(report.late.exact(), "late: {}", report.summary());
    assert!(report.dead.exact(), "dead letters: {}", report.summary());
    assert!(
        result.uncommitted_checkpoints > 0,
        "some kills hit a checkpoint whose transaction had not committed"
    );
    assert!(result.aborted_in_delta_writes > 0);
}
