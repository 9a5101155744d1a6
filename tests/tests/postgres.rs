//! The PostgreSQL sink against a real server each test starts (see
//! `eddy_tests::postgres`): the table made or checked, upserts, a file pipeline's results
//! row by row against the reference, and a Kafka pipeline killed with SIGKILL several times
//! whose table ends equal to the reference, exactly-once (results and progress in one
//! transaction) and at-least-once (upserts make replays idempotent).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eddy::app::{Services, StopFlag};
use eddy::kafka::Embedded;
use eddy::sink::PostgresTable;
use eddy_engine::aggregate::Finished;
use eddy_engine::config::{Config, PostgresSink, SecretUrl};
use eddy_engine::groups::Group;
use eddy_engine::operator::Emitted;
use eddy_engine::results::Emit;
use eddy_engine::window::Window;
use eddy_tests::dataset::{Dataset, WINDOW_MS, dataset_of};
use eddy_tests::postgres::Postgres;
use eddy_tests::process::Eddy;
use eddy_tests::topics::produce;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn sink(server: &Postgres, table: &str, create_table: bool) -> PostgresSink {
    PostgresSink {
        url: SecretUrl::new(server.url()),
        table: table.into(),
        create_table,
    }
}

/// `(column, type)` of `table`, in order.
fn columns(client: &mut postgres::Client, table: &str) -> Vec<(String, String)> {
    client
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )
        .expect("columns")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn outputs() -> Vec<(String, Vec<String>)> {
    vec![
        ("count".into(), vec![String::new()]),
        ("lat".into(), vec!["p50".into(), "p99".into()]),
    ]
}

#[test]
fn the_table_is_created_or_checked_naming_the_column_that_does_not_fit() {
    let server = Postgres::start();
    let mut client = server.client();

    let mut table = PostgresTable::connect(&sink(&server, "made", true)).expect("connect");
    table.prepare(&outputs()).expect("created");
    let want: Vec<(String, String)> = [
        ("key", "text"),
        ("window_start", "bigint"),
        ("window_end", "bigint"),
        ("emit", "text"),
        ("count", "double precision"),
        ("lat_p50", "double precision"),
        ("lat_p99", "double precision"),
    ]
    .iter()
    .map(|(c, t)| (c.to_string(), t.to_string()))
    .collect();
    assert_eq!(columns(&mut client, "made"), want);
    // Made again: the existing table fits.
    PostgresTable::connect(&sink(&server, "made", false))
        .expect("connect")
        .prepare(&outputs())
        .expect("the table it made fits");

    let error = |table: &str| {
        PostgresTable::connect(&sink(&server, table, false))
            .expect("connect")
            .prepare(&outputs())
            .expect_err("refused")
            .to_string()
    };
    client
        .batch_execute(
            "CREATE TABLE missing (key text, window_start bigint, window_end bigint, emit text,
               count double precision, lat_p50 double precision,
               PRIMARY KEY (key, window_start, window_end));
             CREATE TABLE mistyped (key text, window_start bigint, window_end bigint, emit text,
               count bigint, lat_p50 double precision, lat_p99 double precision,
               PRIMARY KEY (key, window_start, window_end));
             CREATE TABLE no_key (key text, window_start bigint, window_end bigint, emit text,
               count double precision, lat_p50 double precision, lat_p99 double precision)",
        )
        .expect("tables");
    let missing = error("missing");
    assert!(missing.contains("no column `lat_p99`"), "{missing}");
    let mistyped = error("mistyped");
    assert!(
        mistyped.contains("column `count` is bigint, expected double precision"),
        "{mistyped}"
    );
    let no_key = error("no_key");
    assert!(no_key.contains("primary key"), "{no_key}");
    let absent = error("absent");
    assert!(absent.contains("does not exist"), "{absent}");
}

#[test]
fn a_password_never_shows_in_errors() {
    let server = Postgres::start();
    let url = format!(
        "postgresql://nobody:hunter2secret@127.0.0.1:{}/postgres",
        server.port()
    );
    // Trust authentication lets any password in; a role that does not exist is refused.
    let sink = PostgresSink {
        url: SecretUrl::new(url),
        table: "t".into(),
        create_table: true,
    };
    let Err(error) = PostgresTable::connect(&sink) else {
        panic!("the role nobody does not exist");
    };
    let error = error.to_string();
    assert!(error.contains("nobody:***@127.0.0.1"), "{error}");
    assert!(!error.contains("hunter2secret"), "{error}");
    assert!(!format!("{sink:?}").contains("hunter2secret"));
}

fn emitted(emit: Emit, rows: &[(&str, i64, f64, f64, f64)]) -> Emitted {
    let mut count = Vec::new();
    let mut lat = Vec::new();
    let groups = rows
        .iter()
        .map(|&(key, start, n, p50, p99)| {
            count.push(n);
            lat.extend([p50, p99]);
            Group {
                window: Window {
                    start,
                    end: start + 10,
                },
                key: key.into(),
                fired: false,
                pending: 0,
                first_offset: i64::MAX,
            }
        })
        .collect();
    Emitted {
        emit,
        groups,
        finished: Finished {
            columns: vec![
                ("count".into(), vec![String::new()], count),
                ("lat".into(), vec!["p50".into(), "p99".into()], lat),
            ],
        },
    }
}

type Stored = (
    String,
    i64,
    i64,
    String,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

fn stored(client: &mut postgres::Client) -> Vec<Stored> {
    client
        .query(
            "SELECT key, window_start, window_end, emit, count, lat_p50, lat_p99 FROM results
             ORDER BY key, window_start",
            &[],
        )
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
            )
        })
        .collect()
}

#[test]
fn a_later_result_of_a_window_replaces_its_row() {
    let server = Postgres::start();
    let mut client = server.client();
    let mut table = PostgresTable::connect(&sink(&server, "results", true)).expect("connect");
    table.prepare(&outputs()).expect("created");
    table
        .add(&emitted(
            Emit::Early,
            &[("a", 0, 1.0, 5.0, 5.0), ("b", 0, 2.0, 1.0, f64::NAN)],
        ))
        .expect("buffered");
    table.flush().expect("sent");
    // Within one batch too: the later result of a window wins.
    table
        .add(&emitted(Emit::Early, &[("a", 0, 2.0, 5.0, 6.0)]))
        .expect("buffered");
    table
        .add(&emitted(
            Emit::OnTime,
            &[("a", 0, 3.0, 5.0, 7.0), ("a", 10, 1.0, 1.0, 1.0)],
        ))
        .expect("buffered");
    table.flush().expect("sent");
    let row = |key: &str, start, emit: &str, n, p50, p99: Option<f64>| -> Stored {
        (
            key.into(),
            start,
            start + 10,
            emit.into(),
            Some(n),
            Some(p50),
            p99,
        )
    };
    assert_eq!(
        stored(&mut client),
        vec![
            row("a", 0, "on_time", 3.0, 5.0, Some(7.0)),
            row("a", 10, "on_time", 1.0, 1.0, Some(1.0)),
            row("b", 0, "early", 2.0, 1.0, None),
        ]
    );
    // The same results again (a replay) leave the table as it was.
    table
        .add(&emitted(Emit::OnTime, &[("a", 0, 3.0, 5.0, 7.0)]))
        .expect("buffered");
    table.flush().expect("sent");
    assert_eq!(stored(&mut client).len(), 3);
}

/// A result row of the dataset's pipeline: key, window start, end, emit, count, sum, min, max.
type Row = (String, i64, i64, String, i64, i64, i64, i64);

fn table_rows(client: &mut postgres::Client, table: &str) -> Vec<Row> {
    client
        .query(
            &format!(
                "SELECT key, window_start, window_end, emit, count, sum, min, max FROM {table}
                 WHERE key <> 'flush' ORDER BY key, window_start"
            ),
            &[],
        )
        .expect("rows")
        .iter()
        .map(|r| {
            let int = |i: usize| {
                let v: Option<f64> = r.get(i);
                v.map_or(i64::MIN, |v| v as i64)
            };
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                int(4),
                int(5),
                int(6),
                int(7),
            )
        })
        .collect()
}

fn reference(data: &Dataset) -> Vec<Row> {
    data.windows
        .iter()
        .map(|((key, start), &(count, sum, min, max))| {
            (
                key.clone(),
                *start,
                start + WINDOW_MS,
                "on_time".to_string(),
                count,
                sum,
                min,
                max,
            )
        })
        .collect()
}

const AGGREGATES: &str = r#"
decode: { key: /key, time: /ts }
watermark: { out_of_orderness: 500ms }
window: { type: tumbling, size: 5s }
aggregates:
  - { name: count, plugin: count }
  - { name: sum, plugin: sum, field: /amount }
  - { name: min, plugin: min, field: /amount }
  - { name: max, plugin: max, field: /amount }
batch_size: 256
"#;

#[test]
fn a_file_pipeline_writes_the_reference_rows_early_results_replaced() {
    let server = Postgres::start();
    let dir = tempfile::tempdir().expect("temp dir");
    // One partition's worth of the Kafka tests' dataset, in order, in a file.
    let data = dataset_of(1, 6_000);
    let events = dir.path().join("events.jsonl");
    let mut lines = Vec::new();
    for (_, payload) in &data.records {
        lines.extend_from_slice(payload);
        lines.push(b'\n');
    }
    std::fs::write(&events, lines).expect("events written");
    let yaml = format!(
        "{AGGREGATES}source: {{ type: file, path: {} }}
trigger: {{ type: count, count: 7 }}
sink: {{ type: postgres, url: '{}', table: file_results }}
late: {{ type: file, path: {} }}
dead_letter: {{ type: file, path: {} }}
plugins: {{ dir: {} }}
",
        events.display(),
        server.url(),
        dir.path().join("late.jsonl").display(),
        dir.path().join("dead.jsonl").display(),
        eddy_tests::plugin_dir().display(),
    );
    let config = Config::from_yaml(&yaml).expect("config");
    let started = Instant::now();
    let stats =
        eddy::app::run_with(&config, "", &StopFlag::default(), Services::default()).expect("run");
    let took = started.elapsed();
    let mut client = server.client();
    let got = table_rows(&mut client, "file_results");
    let want = reference(&data);
    let missing: Vec<&Row> = want.iter().filter(|r| !got.contains(r)).collect();
    let extra: Vec<&Row> = got.iter().filter(|r| !want.contains(r)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}\nextra {extra:?}"
    );
    // Early results (every 7 events) were written and replaced by the on_time ones.
    assert!(stats.results as usize > want.len(), "{stats:?}");
    println!(
        "file pipeline: {} results upserted into {} rows in {took:?}",
        stats.results,
        got.len()
    );
}

/// Runs the 4-partition dataset from an embedded Kafka cluster into PostgreSQL with `eddy
/// run`, killed with SIGKILL `kills` times at random points; then checks the table equals
/// the reference and (exactly-once) the progress table names every partition's end.
fn killed_and_restarted(delivery: &str, seed: u64, kills: usize) {
    const PARTITIONS: u32 = 4;
    const PER_PARTITION: i64 = 3_000;
    let server = Postgres::start();
    let cluster = Embedded::start().expect("embedded cluster");
    cluster.create_topic("events", PARTITIONS).expect("topic");
    let brokers = cluster.bootstrap_servers();
    let data = dataset_of(PARTITIONS, PER_PARTITION);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("pg.yaml");
    std::fs::write(
        &config,
        format!(
            "{AGGREGATES}source: {{ type: kafka, topic: events }}
sink: {{ type: postgres, url: '{}', table: kafka_results }}
late: {{ type: file, path: {} }}
dead_letter: {{ type: file, path: {} }}
kafka: {{ brokers: set-by-the-environment, group_id: eddy-pg, commit_interval: 300ms }}
state: {{ checkpoint_interval: 300ms, delivery: {delivery} }}
",
            server.url(),
            dir.path().join("late.jsonl").display(),
            dir.path().join("dead.jsonl").display(),
        ),
    )
    .expect("config written");
    let env = [
        (
            "EDDY_KAFKA__CONSUMER_PROPERTIES__SESSION_TIMEOUT_MS",
            "6000".to_string(),
        ),
        (
            "EDDY_KAFKA__CONSUMER_PROPERTIES__HEARTBEAT_INTERVAL_MS",
            "500".to_string(),
        ),
    ];
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    // Produced in slices while eddy runs and is killed.
    let per = PER_PARTITION as usize + 1;
    let slices = kills + 1;
    let slice = |i: usize| -> Vec<(i32, Vec<u8>)> {
        (0..PARTITIONS as usize)
            .flat_map(|p| {
                data.records[p * per..(p + 1) * per][i * per / slices..(i + 1) * per / slices]
                    .to_vec()
            })
            .collect()
    };
    for i in 0..kills {
        produce(&brokers, &slice(i));
        let mut eddy = Eddy::run(&config, &brokers, &env);
        eddy.wait_ready(Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(rng.random_range(300..2_500)));
        eddy.crash();
    }
    produce(&brokers, &slice(kills));
    let mut eddy = Eddy::run(&config, &brokers, &env);
    eddy.wait_ready(Duration::from_secs(60));
    let want = reference(&data);
    let mut client = server.client();
    let deadline = Instant::now() + Duration::from_secs(120);
    let got = loop {
        let got = table_rows(&mut client, "kafka_results");
        if got == want || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let missing: Vec<&Row> = want.iter().filter(|r| !got.contains(r)).collect();
    let extra: Vec<&Row> = got.iter().filter(|r| !want.contains(r)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{delivery}: {} missing, e.g. {:?}\n{} extra, e.g. {:?}",
        missing.len(),
        missing.first(),
        extra.len(),
        extra.first()
    );
    if delivery == "exactly_once" {
        // The last checkpoint after everything was read commits every partition's end.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let progress: BTreeMap<i32, i64> = client
                .query(
                    "SELECT partition, read_to FROM eddy_progress WHERE pipeline = 'eddy-pg'",
                    &[],
                )
                .expect("progress")
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let ends: BTreeMap<i32, i64> =
                (0..PARTITIONS as i32).map(|p| (p, per as i64)).collect();
            if progress == ends {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "progress {progress:?}, partition ends {ends:?}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    let status = eddy.stop();
    assert!(status.success(), "eddy stopped with {status}");
    println!(
        "{delivery}: {kills} kills, {} rows equal to the reference in {:?}",
        got.len(),
        started.elapsed()
    );
}

#[test]
fn exactly_once_results_and_progress_survive_kills() {
    killed_and_restarted("exactly_once", 11, 4);
}

#[test]
fn at_least_once_replays_overwrite_rows_with_the_same_values() {
    killed_and_restarted("at_least_once", 12, 4);
}
