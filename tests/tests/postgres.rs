//! The PostgreSQL sink against a real server each test starts (see
//! `eddy_tests::postgres`): the table made or checked, upserts, a file pipeline's results,
//! late events and dead letters row by row against the reference, a connection lost and
//! made again, and TLS as the URL asks. The Kafka pipelines (Apache Kafka: the dataset,
//! SIGKILLs, PostgreSQL restarted) are in `postgres_kafka.rs`.

use std::time::{Duration, Instant};

use eddy::app::{Services, StopFlag};
use eddy::sink::{PostgresTable, SideRecord, SideTable};
use eddy_engine::aggregate::Finished;
use eddy_engine::config::{Config, PostgresSink, SecretUrl};
use eddy_engine::event::Origin;
use eddy_engine::groups::Group;
use eddy_engine::operator::Emitted;
use eddy_engine::progress::Progress;
use eddy_engine::results::Emit;
use eddy_engine::window::Window;
use eddy_tests::dataset::dataset_of;
use eddy_tests::pg_proxy::CommitEater;
use eddy_tests::pg_tables::{self, AGGREGATES, TableReport};
use eddy_tests::postgres::Postgres;

fn sink(server: &Postgres, table: &str, create_table: bool) -> PostgresSink {
    PostgresSink {
        url: SecretUrl::new(server.url()),
        table: table.into(),
        create_table,
        retry_timeout: Duration::from_secs(30),
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
        retry_timeout: Duration::from_secs(1),
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

#[test]
fn a_file_pipeline_writes_the_reference_rows_late_events_and_dead_letters() {
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
{}plugins: {{ dir: {} }}
",
        events.display(),
        pg_tables::outputs(&server.url()),
        eddy_tests::plugin_dir().display(),
    );
    let config = Config::from_yaml(&yaml).expect("config");
    let started = Instant::now();
    let stats =
        eddy::app::run_with(&config, "", &StopFlag::default(), Services::default()).expect("run");
    let took = started.elapsed();
    let mut client = server.client();
    let report = TableReport::of(&mut client, &data);
    assert!(report.exact(), "{}", report.summary());
    // Early results (every 7 events) were written and replaced by the on_time ones.
    assert!(stats.results as usize > data.windows.len(), "{stats:?}");
    // Side rows say why and where: the line read, and for late events the times.
    for (reason, partition, offset, time, watermark) in pg_tables::side_rows(&mut client, "late") {
        assert_eq!(reason, "late");
        assert_eq!((partition, offset), (None, None));
        assert!(time.is_some() && watermark > time, "{time:?} {watermark:?}");
    }
    let lines: Vec<Option<i64>> = client
        .query("SELECT source_line FROM dead ORDER BY source_line", &[])
        .expect("lines")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(lines.iter().all(Option::is_some), "{lines:?}");
    let reasons: Vec<String> = client
        .query("SELECT DISTINCT reason FROM dead", &[])
        .expect("reasons")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        reasons.iter().all(|r| !r.is_empty() && r != "late"),
        "{reasons:?}"
    );
    println!(
        "file pipeline: {} results upserted into {} rows, {} late and {} dead-letter rows in {took:?}; {}",
        stats.results,
        data.windows.len(),
        data.late.len(),
        data.junk.len(),
        report.summary()
    );
}

/// Stops `server`, runs `work` while it is down and starts it again after `down`; returns
/// what `work` returned and how long it took.
fn with_outage<T: Send>(
    server: &Postgres,
    down: Duration,
    work: impl FnOnce() -> T + Send,
) -> (T, Duration) {
    server.stop();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(down);
            server.start_again();
        });
        let started = Instant::now();
        let value = work();
        (value, started.elapsed())
    })
}

#[test]
fn a_lost_connection_is_made_again_and_nothing_is_dropped() {
    let server = Postgres::start();
    let mut client = server.client();
    let mut table = PostgresTable::connect(&sink(&server, "results", true)).expect("connect");
    table.prepare(&outputs()).expect("created");
    table
        .add(&emitted(Emit::OnTime, &[("a", 0, 1.0, 2.0, 3.0)]))
        .expect("buffered");
    table.flush().expect("sent");
    // At-least-once: the flush waits for the server and sends the rows when it is back.
    table
        .add(&emitted(Emit::OnTime, &[("b", 0, 4.0, 5.0, 6.0)]))
        .expect("buffered");
    let (sent, took) = with_outage(&server, Duration::from_secs(3), || table.flush());
    sent.expect("sent once the server is back");
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert_eq!(table.reconnects(), 1);
    drop(client);
    client = server.client();
    assert_eq!(stored(&mut client).len(), 2);

    // Longer than sink.retry_timeout: an error naming it, and the rows still buffered.
    let mut short = sink(&server, "results", true);
    short.retry_timeout = Duration::from_secs(1);
    let mut table = PostgresTable::connect(&short).expect("connect");
    table.prepare(&outputs()).expect("fits");
    table
        .add(&emitted(Emit::OnTime, &[("c", 0, 7.0, 8.0, 9.0)]))
        .expect("buffered");
    let (failed, _) = with_outage(&server, Duration::from_secs(3), || table.flush());
    let error = failed
        .expect_err("down for longer than the retry timeout")
        .to_string();
    assert!(error.contains("sink.retry_timeout"), "{error}");
    table.flush().expect("sent now the server is back");
    let mut client = server.client();
    assert_eq!(stored(&mut client).len(), 3, "nothing dropped");

    // Exactly-once: the transaction of rows and progress is done again as a whole.
    let mut table = PostgresTable::transactional(&sink(&server, "results", true)).expect("connect");
    table.prepare(&outputs()).expect("fits");
    table
        .add(&emitted(Emit::OnTime, &[("d", 0, 1.0, 1.0, 1.0)]))
        .expect("buffered");
    table.flush().expect("kept for the commit");
    let progress = [Progress {
        partition: 0,
        offset: 42,
        read_to: 42,
        watermark: 7,
    }];
    let (committed, _) = with_outage(&server, Duration::from_secs(2), || {
        table.commit("pipeline", &progress, Some(3))
    });
    committed.expect("committed once the server is back");
    let mut client = server.client();
    assert_eq!(stored(&mut client).len(), 4);
    let row = client
        .query_one(
            "SELECT next_offset, checkpoint FROM eddy_progress WHERE pipeline = 'pipeline'",
            &[],
        )
        .expect("progress");
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, Option<i64>>(1)),
        (42, Some(3))
    );
}

#[test]
fn a_commit_whose_answer_is_lost_is_not_done_twice() {
    let server = Postgres::start();
    let proxy = CommitEater::start(server.port());
    let through = PostgresSink {
        url: SecretUrl::new(format!(
            "postgresql://eddy@127.0.0.1:{}/postgres",
            proxy.port()
        )),
        table: "results".into(),
        create_table: true,
        retry_timeout: Duration::from_secs(30),
    };
    let mut table = PostgresTable::transactional(&through).expect("connect");
    let late = SideTable::new("late");
    table.add_side(late.clone());
    table.prepare(&outputs()).expect("created");
    let progress = |offset| {
        [Progress {
            partition: 0,
            offset,
            read_to: offset,
            watermark: 0,
        }]
    };
    for (checkpoint, key) in [(1, "a"), (2, "b")] {
        table
            .add(&emitted(Emit::OnTime, &[(key, 0, 1.0, 2.0, 3.0)]))
            .expect("buffered");
        late.add(&[SideRecord {
            reason: "late",
            late: Some((100, 5)),
            payload: key.as_bytes(),
            origin: Some(Origin {
                partition: 0,
                offset: checkpoint,
            }),
            line: None,
        }]);
        if checkpoint == 2 {
            proxy.arm();
        }
        table
            .commit("p", &progress(checkpoint), Some(checkpoint as u64))
            .expect("committed");
    }
    assert_eq!(proxy.eaten(), 1, "the second COMMIT's answer was lost");
    assert_eq!(table.reconnects(), 1);
    let mut client = server.client();
    // The retry found the transaction committed: its late record is there once, not twice.
    let late: Vec<(Vec<u8>, Option<i64>)> = client
        .query(
            "SELECT record, source_offset FROM late ORDER BY source_offset",
            &[],
        )
        .expect("late rows")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        late,
        vec![(b"a".to_vec(), Some(1)), (b"b".to_vec(), Some(2))]
    );
    assert_eq!(stored(&mut client).len(), 2);
    let row = client
        .query_one(
            "SELECT next_offset, checkpoint FROM eddy_progress WHERE pipeline = 'p'",
            &[],
        )
        .expect("progress");
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, Option<i64>>(1)),
        (2, Some(2))
    );
}

#[test]
fn tls_is_used_when_the_url_asks_and_the_certificate_is_checked() {
    let server = Postgres::start_tls();
    let base = format!("postgresql://eddy@127.0.0.1:{}/postgres", server.port());
    let connect = |query: &str| {
        let url = if query.is_empty() {
            base.clone()
        } else {
            format!("{base}?{query}")
        };
        PostgresTable::connect(&PostgresSink {
            url: SecretUrl::new(url),
            table: "tls_results".into(),
            create_table: true,
            retry_timeout: Duration::from_secs(1),
        })
    };
    let mut client = server.client();
    let encrypted = |client: &mut postgres::Client| -> i64 {
        client
            .query_one(
                "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                 WHERE a.application_name = 'eddy' AND s.ssl",
                &[],
            )
            .expect("pg_stat_ssl")
            .get(0)
    };
    // require: encrypted, the certificate not checked (it is self-signed).
    let mut table = connect("sslmode=require").expect("sslmode=require connects");
    table.prepare(&outputs()).expect("created");
    table
        .add(&emitted(Emit::OnTime, &[("a", 0, 1.0, 2.0, 3.0)]))
        .expect("buffered");
    table.flush().expect("sent over TLS");
    assert_eq!(encrypted(&mut client), 1);
    drop(table);
    // verify-full with the server's certificate as the root: checked, host name included.
    let verified = format!(
        "sslmode=verify-full&sslrootcert={}",
        server.certificate().display()
    );
    let table = connect(&verified).expect("verify-full with the right root connects");
    drop(table);
    // verify-full with another root: refused, naming the check that failed.
    let other = tempfile::tempdir().expect("dir");
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=other",
            "-keyout",
        ])
        .arg(other.path().join("other.key"))
        .arg("-out")
        .arg(other.path().join("other.crt"))
        .output()
        .expect("openssl");
    assert!(status.status.success());
    let Err(error) = connect(&format!(
        "sslmode=verify-ca&sslrootcert={}",
        other.path().join("other.crt").display()
    )) else {
        panic!("a certificate from another root is refused");
    };
    let error = error.to_string();
    assert!(error.contains("certificate verify failed"), "{error}");
    // The server takes TCP over TLS only: without TLS, refused.
    let Err(error) = connect("sslmode=disable") else {
        panic!("sslmode=disable is refused by a TLS-only server");
    };
    let error = error.to_string();
    assert!(error.contains("no encryption"), "{error}");
    // prefer (no sslmode): TLS when the server offers it.
    let table = connect("").expect("prefer connects");
    assert_eq!(encrypted(&mut client), 1);
    drop(table);
    println!("TLS: require, verify-full, prefer encrypted; another root and no TLS refused");
}
