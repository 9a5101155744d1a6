//! State keys, the PostgreSQL sink, passwords redacted wherever they appear, and trace keys.

#![allow(clippy::result_large_err)] // figment's Jail closures return its large error type

use super::*;

#[test]
fn state_keys_are_read_and_bad_values_name_their_key() {
    Jail::expect_with(|jail| {
        jail.set_env("EDDY_STATE__CHECKPOINT_INTERVAL", "2s");
        let c = Config::from_yaml(
            "source: { type: kafka, topic: in }\n\
             sink: { type: kafka, topic: out }\n\
             state: { backend: rocksdb, dir: /var/lib/eddy, keep: 5, delivery: exactly_once,\n\
                      transactional_id: eddy-0, ttl: 1h, shutdown_timeout: 20s }\n",
        )
        .expect("valid");
        assert_eq!(c.state.backend, BackendKind::Rocksdb);
        assert_eq!(c.state.dir, std::path::PathBuf::from("/var/lib/eddy"));
        assert_eq!(c.state.keep, 5);
        assert_eq!(c.state.delivery, Delivery::ExactlyOnce);
        assert_eq!(c.transactional_id(), "eddy-0");
        assert_eq!(c.state.ttl, Some(Duration::from_secs(3600)));
        assert_eq!(c.state.shutdown_timeout, Duration::from_secs(20));
        assert_eq!(
            c.state.checkpoint_interval,
            Duration::from_secs(2),
            "env wins"
        );
        Ok(())
    });
    Jail::expect_with(|_| {
        let kafka = "source: { type: kafka, topic: in }\nsink: { type: kafka, topic: out }\n";
        let cases = [
            (format!("{kafka}state: {{ keep: 0 }}\n"), "state.keep"),
            (
                format!("{kafka}state: {{ checkpoint_interval: 0s }}\n"),
                "state.checkpoint_interval",
            ),
            (
                format!("{kafka}state: {{ backend: sqlite }}\n"),
                "state.backend",
            ),
            (
                format!("{kafka}state: {{ delivery: at_most_once }}\n"),
                "state.delivery",
            ),
            (
                "state: { delivery: exactly_once }\n".to_string(),
                "state.delivery",
            ),
            (
                format!("{kafka}state: {{ delivery: exactly_once, transactional_id: ' ' }}\n"),
                "state.transactional_id",
            ),
            (format!("{kafka}state: {{ ttl: soon }}\n"), "state.ttl"),
            (format!("{kafka}state: {{ keep_all: true }}\n"), "state"),
        ];
        for (yaml, key) in cases {
            let message = error_of(&yaml);
            assert!(
                message.contains(key),
                "{yaml:?} gave {message:?}, which does not name {key}"
            );
        }
        Ok(())
    });
}

#[test]
fn a_postgres_sink_is_read_and_checked() {
    Jail::expect_with(|_| {
        let c = Config::from_yaml(
            "sink: { type: postgres, url: 'postgresql://eddy:s3cret@db:5432/eddy', table: public.results }\n",
        )
        .expect("valid");
        let SinkConfig::Postgres(sink) = &c.sink else {
            panic!("not postgres: {:?}", c.sink);
        };
        assert_eq!(sink.table, "public.results");
        assert!(sink.create_table, "created by default");
        assert_eq!(sink.url.expose(), "postgresql://eddy:s3cret@db:5432/eddy");
        let shown = format!("{c:?} {}", sink.url);
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("postgresql://eddy:***@db:5432/eddy"),
            "{shown}"
        );
        for (yaml, key) in [
            ("sink: { type: postgres, url: '', table: t }\n", "sink.url"),
            (
                "sink: { type: postgres, url: x, table: 'a b' }\n",
                "sink.table",
            ),
            (
                "sink: { type: postgres, url: x, table: a.b.c }\n",
                "sink.table",
            ),
            (
                "sink: { type: postgres, url: x, table: t, colour: red }\n",
                "colour",
            ),
        ] {
            let message = error_of(yaml);
            assert!(message.contains(key), "{yaml:?} gave {message:?}");
        }
        let eo = "source: { type: kafka, topic: in }\nsink: { type: postgres, url: x, table: t }\nstate: { delivery: exactly_once }\n";
        Config::from_yaml(eo).expect("exactly-once into PostgreSQL");
        let message = error_of(&format!("{eo}late: {{ type: kafka, topic: late }}\n"));
        assert!(message.contains("late.topic"), "{message}");
        assert_eq!(sink.retry_timeout, std::time::Duration::from_secs(300));
        // Side tables: with a PostgreSQL sink on the same server, each its own table.
        let sides = format!(
            "{eo}late: {{ type: postgres, url: x, table: late }}\ndead_letter: {{ type: postgres, url: x, table: dead }}\n"
        );
        let c = Config::from_yaml(&sides).expect("side tables");
        assert!(matches!(c.late, SideOutputConfig::Postgres { ref table, .. } if table == "late"));
        for (yaml, key) in [
            (
                "late: { type: postgres, url: x, table: late }\n".to_string(),
                "late.type",
            ),
            (
                format!("{eo}late: {{ type: postgres, url: y, table: late }}\n"),
                "late.url",
            ),
            (
                format!("{eo}dead_letter: {{ type: postgres, url: x, table: t }}\n"),
                "dead_letter.table",
            ),
            (
                format!("{eo}late: {{ type: postgres, url: x, table: '1x' }}\n"),
                "late.table",
            ),
            (
                "sink: { type: postgres, url: x, table: t, retry_timeout: 0s }\n".to_string(),
                "sink.retry_timeout",
            ),
        ] {
            let message = error_of(&yaml);
            assert!(message.contains(key), "{yaml:?} gave {message:?}");
        }
        Ok(())
    });
}

#[test]
fn passwords_are_redacted_in_every_form() {
    for (url, shown) in [
        ("postgresql://u:p@h/db", "postgresql://u:***@h/db"),
        ("postgres://u@h:5/db", "postgres://u@h:5/db"),
        (
            "postgres://u:p%40x@h?sslmode=disable&password=q",
            "postgres://u:***@h?sslmode=disable&password=***",
        ),
        (
            "host=h user=u password=secret dbname=d",
            "host=h user=u password=*** dbname=d",
        ),
        (
            "host=h password = 'se cr\\'et' dbname=d",
            "host=h password =*** dbname=d",
        ),
        ("password=x", "password=***"),
    ] {
        assert_eq!(redact_password(url), shown, "{url}");
    }
}

#[test]
fn traces_are_off_by_default_and_bad_trace_settings_name_their_key() {
    // In a jail: other tests set `EDDY_*` variables in theirs, which loading reads.
    Jail::expect_with(|_| {
        let config = Config::from_yaml("").expect("defaults");
        assert_eq!(config.otel.endpoint, None);
        let on = Config::from_yaml(
            "otel: { endpoint: 'http://collector:4318/v1/traces', sampling_ratio: 0.25 }\n",
        )
        .expect("traces on");
        assert_eq!(on.otel.sampling_ratio, 0.25);
        assert_eq!(on.otel.service_name, "eddy");
        for (yaml, key) in [
            ("otel: { endpoint: 'collector:4318' }", "otel.endpoint"),
            ("otel: { sampling_ratio: 1.5 }", "otel.sampling_ratio"),
            ("otel: { queue_size: 0 }", "otel.queue_size"),
            ("otel: { service_name: ' ' }", "otel.service_name"),
        ] {
            let error = Config::from_yaml(yaml).expect_err(yaml).to_string();
            assert!(error.contains(key), "{yaml}: {error}");
        }
        Ok(())
    });
}
