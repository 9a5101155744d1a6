//! Scale-out on Apache Kafka: three `eddy run` replicas in one consumer group share a
//! 12-partition topic while the known dataset is produced bit by bit; each has its own RocksDB
//! and all publish checkpoints to one shared directory. Mid-stream one replica is killed with
//! SIGKILL (its partitions move to the other two when its session times out), later a fourth
//! joins (partitions move to it). At-least-once: every reference result, late event and dead
//! letter is written, nothing else (duplicates are allowed and reported), and partitions that
//! moved were restored from state other replicas had published. Exactly-once: the committed
//! output equals the reference, so the killed replica's unfinished transaction left nothing
//! behind.
//!
//! Each scenario runs on the incremental (cooperative) rebalance protocol, the default, and on
//! the eager one.
//!
//! Zombie fencing (exactly-once): of two replicas, one is frozen with SIGSTOP until its
//! partitions have moved to the other, then thawed with SIGCONT: the transaction it had open
//! cannot commit (its consumer group generation is stale, KIP-447), it steps down or exits,
//! and the committed output still equals the reference.

use std::time::{Duration, Instant};

use eddy_tests::broker::{Kafka, one_at_a_time};
use eddy_tests::dataset::{CONFIG, Report, dataset_of};
use eddy_tests::process::Eddy;
use eddy_tests::topics::{feed_in_background, read_outputs};

const INPUT_PARTITIONS: u32 = 12;
const PER_PARTITION: i64 = 2_500;
const SLICES: usize = 30;
const SLICE_EVERY: Duration = Duration::from_millis(1_500);

/// Replica `n`, using the `rebalance` protocol.
fn replica_on(
    config: &std::path::Path,
    brokers: &str,
    root: &std::path::Path,
    (n, rebalance): (usize, &str),
) -> Eddy {
    let env = [
        ("EDDY_KAFKA__REBALANCE", rebalance.to_string()),
        ("HOSTNAME", format!("eddy-{n}")),
        (
            "EDDY_STATE__DIR",
            root.join(format!("local-{n}")).display().to_string(),
        ),
        // A killed member leaves the group when its session times out.
        (
            "EDDY_KAFKA__CONSUMER_PROPERTIES__SESSION_TIMEOUT_MS",
            "6000".to_string(),
        ),
        (
            "EDDY_KAFKA__CONSUMER_PROPERTIES__HEARTBEAT_INTERVAL_MS",
            "500".to_string(),
        ),
    ];
    Eddy::run(config, brokers, &env)
}

/// Sums a metric over the replicas still running.
fn total(replicas: &[Option<Eddy>], metric: &str) -> f64 {
    replicas
        .iter()
        .flatten()
        .filter_map(|r| r.metric(metric))
        .sum()
}

/// Whether the replicas run more than one worker (`workers` is one per core unless
/// `EDDY_WORKERS` says otherwise).
fn several_workers() -> bool {
    match std::env::var("EDDY_WORKERS")
        .ok()
        .and_then(|w| w.parse::<usize>().ok())
    {
        Some(0) | None => std::thread::available_parallelism().is_ok_and(|n| n.get() > 1),
        Some(workers) => workers > 1,
    }
}

/// A broker with the scenario's topics.
fn broker() -> Kafka {
    let broker = Kafka::start();
    broker.create_topics(&[
        ("events", INPUT_PARTITIONS),
        ("results", 4),
        ("late", 4),
        ("dead", 4),
    ]);
    broker
}

#[test]
fn three_replicas_lose_one_and_gain_one_at_least_once_without_losing_a_result() {
    let _heavy = one_at_a_time();
    let broker = broker();
    let report = scale_out(
        &broker.bootstrap_servers(),
        ("at_least_once", "cooperative"),
    );
    report.assert_nothing_lost_or_wrong();
}

#[test]
fn three_replicas_lose_one_and_gain_one_exactly_once() {
    let _heavy = one_at_a_time();
    let broker = broker();
    let report = scale_out(&broker.bootstrap_servers(), ("exactly_once", "cooperative"));
    assert!(report.results.exact(), "results: {}", report.summary());
    assert!(report.late.exact(), "late: {}", report.summary());
    assert!(report.dead.exact(), "dead letters: {}", report.summary());
}

/// The eager rebalance protocol, still supported, loses nothing through the same moves.
#[test]
fn three_replicas_lose_one_and_gain_one_at_least_once_on_the_eager_protocol() {
    let _heavy = one_at_a_time();
    let broker = broker();
    let report = scale_out(&broker.bootstrap_servers(), ("at_least_once", "eager"));
    report.assert_nothing_lost_or_wrong();
}

/// The eager rebalance protocol, still supported, keeps exactly-once through the same moves.
#[test]
fn three_replicas_lose_one_and_gain_one_exactly_once_on_the_eager_protocol() {
    let _heavy = one_at_a_time();
    let broker = broker();
    let report = scale_out(&broker.bootstrap_servers(), ("exactly_once", "eager"));
    assert!(report.results.exact(), "results: {}", report.summary());
    assert!(report.late.exact(), "late: {}", report.summary());
    assert!(report.dead.exact(), "dead letters: {}", report.summary());
}

/// Runs the scenario (three replicas, one killed, a fourth joining) on `brokers`, whose topics
/// exist; asserts that partitions moved with their state; returns what was written against the
/// reference.
fn scale_out(brokers: &str, (delivery, rebalance): (&str, &str)) -> Report {
    let started = Instant::now();
    let brokers = brokers.to_string();
    let data = dataset_of(INPUT_PARTITIONS, PER_PARTITION);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("scale.yaml");
    std::fs::write(
        &config,
        format!(
            "{CONFIG}state:\n  backend: rocksdb\n  checkpoint_interval: 500ms\n  delivery: {delivery}\n  shared_dir: {}\n",
            dir.path().join("shared").display()
        ),
    )
    .expect("config written");
    let feeder = feed_in_background(
        &brokers,
        &data.records,
        INPUT_PARTITIONS as usize,
        (SLICES, SLICE_EVERY),
    );
    let mut replicas: Vec<Option<Eddy>> = (0..3)
        .map(|n| Some(replica_on(&config, &brokers, dir.path(), (n, rebalance))))
        .collect();
    for r in replicas.iter_mut().flatten() {
        r.wait_ready(Duration::from_secs(90));
    }
    std::thread::sleep(Duration::from_secs(12));
    let restored_before = total(&replicas, "eddy_partitions_restored_shared_total");
    if let Some(killed) = replicas[1].take() {
        eprintln!("killing replica 1 after {:?}", started.elapsed());
        killed.crash();
    }
    std::thread::sleep(Duration::from_secs(15));
    eprintln!("starting replica 3 after {:?}", started.elapsed());
    let mut joined = replica_on(&config, &brokers, dir.path(), (3, rebalance));
    joined.wait_ready(Duration::from_secs(90));
    replicas.push(Some(joined));
    feeder.join().expect("feeder");

    let outputs = read_outputs(
        &brokers,
        data.windows.len(),
        Duration::from_secs(5),
        Duration::from_secs(120),
    );
    let restored = total(&replicas, "eddy_partitions_restored_shared_total");
    let joined_restored = replicas[3]
        .as_ref()
        .and_then(|r| r.metric("eddy_partitions_restored_shared_total"))
        .unwrap_or(0.0);
    let replayed = total(&replicas, "eddy_partitions_replayed_total");
    let computed = total(&replicas, "eddy_worker_batches_total");
    for r in replicas.iter_mut() {
        if let Some(r) = r.take() {
            let status = r.stop();
            assert!(
                status.success(),
                "a replica exits 0 on SIGTERM, got {status}"
            );
        }
    }
    let report = Report::of(&data, &outputs);
    eprintln!(
        "scale-out ({delivery}, {rebalance}) after {:?}: {}; partitions restored from shared state: {restored_before} before the kill, {restored} in all running replicas at the end ({joined_restored} by the replica that joined); {replayed} resumed by re-reading; {computed} batches computed by workers in the running replicas",
        started.elapsed(),
        report.summary()
    );
    assert!(
        joined_restored > 0.0,
        "the replica that joined restored the partitions it was given from shared state"
    );
    assert!(
        restored > restored_before,
        "the kill moved partitions with their state"
    );
    // Replicas compute their partitions on one worker per core, unless told otherwise.
    if several_workers() {
        assert!(computed > 0.0, "the replicas' workers computed batches");
    } else {
        assert!(computed == 0.0, "one worker computes nothing ahead");
    }
    report
}

/// Events per partition of the fencing test.
const FENCING_PER_PARTITION: i64 = 1_500;

#[test]
fn a_frozen_replica_cannot_commit_after_its_partitions_moved() {
    frozen_replica_is_fenced("cooperative");
}

#[test]
fn a_frozen_replica_cannot_commit_after_its_partitions_moved_on_the_eager_protocol() {
    frozen_replica_is_fenced("eager");
}

/// Two replicas on the `rebalance` protocol; one frozen until its partitions moved, then
/// thawed: the committed output equals the reference.
fn frozen_replica_is_fenced(rebalance: &str) {
    let _heavy = one_at_a_time();
    let started = Instant::now();
    let broker = broker();
    let brokers = broker.bootstrap_servers();
    let data = dataset_of(INPUT_PARTITIONS, FENCING_PER_PARTITION);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("fencing.yaml");
    std::fs::write(
        &config,
        format!(
            "{CONFIG}state:\n  backend: rocksdb\n  checkpoint_interval: 500ms\n  delivery: exactly_once\n  shared_dir: {}\n",
            dir.path().join("shared").display()
        ),
    )
    .expect("config written");
    let feeder = feed_in_background(
        &brokers,
        &data.records,
        INPUT_PARTITIONS as usize,
        (24, SLICE_EVERY),
    );
    let mut zombie = replica_on(&config, &brokers, dir.path(), (0, rebalance));
    let mut survivor = replica_on(&config, &brokers, dir.path(), (1, rebalance));
    zombie.wait_ready(Duration::from_secs(90));
    survivor.wait_ready(Duration::from_secs(90));
    std::thread::sleep(Duration::from_secs(6));
    let moved = |r: &Eddy| {
        r.metric("eddy_partitions_restored_total").unwrap_or(0.0)
            + r.metric("eddy_partitions_replayed_total").unwrap_or(0.0)
    };
    let committed_before = zombie.metric("eddy_transactions_committed_total");
    let survivor_before = moved(&survivor);
    eprintln!(
        "freezing replica 0 after {:?} ({committed_before:?} transactions committed)",
        started.elapsed()
    );
    zombie.pause();
    // Its session times out; its partitions move to the survivor. (Frozen between adding
    // offsets to its transaction and committing it, the zombie holds its partitions'
    // committed offsets back until the broker aborts that transaction: a minute after it
    // began.)
    let frozen = Instant::now();
    while moved(&survivor) <= survivor_before {
        assert!(
            frozen.elapsed() < Duration::from_secs(100),
            "the frozen replica's partitions moved to the other one"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let the survivor commit a few transactions on the moved partitions.
    std::thread::sleep(Duration::from_secs(3));
    eprintln!(
        "partitions moved after {:?} frozen; thawing replica 0",
        frozen.elapsed()
    );
    zombie.resume();
    std::thread::sleep(Duration::from_secs(10));
    let fate = match zombie.exited() {
        Some(status) => format!("exited ({status})"),
        None => format!(
            "still running: {:?} transactions committed, {:?} aborted, ready: {}",
            zombie.metric("eddy_transactions_committed_total"),
            zombie.metric("eddy_transactions_aborted_total"),
            eddy_tests::process::http_get(zombie.port(), "/health/ready")
                .and_then(|r| r.lines().next().map(str::to_string))
                .unwrap_or_default()
        ),
    };
    eprintln!("replica 0 after thawing: {fate}");
    feeder.join().expect("feeder");
    let outputs = read_outputs(
        &brokers,
        data.windows.len(),
        Duration::from_secs(5),
        Duration::from_secs(120),
    );
    for r in [zombie, survivor] {
        let mut r = r;
        if r.exited().is_none() {
            let status = r.stop();
            assert!(
                status.success(),
                "a replica exits 0 on SIGTERM, got {status}"
            );
        }
    }
    let report = Report::of(&data, &outputs);
    eprintln!(
        "zombie fencing ({rebalance}) after {:?}: {}; replica 0 after thawing: {fate}",
        started.elapsed(),
        report.summary()
    );
    assert!(report.results.exact(), "results: {}", report.summary());
    assert!(report.late.exact(), "late: {}", report.summary());
    assert!(report.dead.exact(), "dead letters: {}", report.summary());
}
