//! Tests of configuration loading and validation.

#![allow(clippy::result_large_err)] // figment's Jail closures return its large error type

use super::*;
use figment::Jail;
use std::path::PathBuf;

const GOOD: &str = r#"
source: { type: file, path: events.jsonl }
decode: { key: /user, time: /at, time_format: rfc3339 }
watermark: { out_of_orderness: 2s, interval: 200ms, idle_timeout: 30s }
window: { type: sliding, size: 1m, slide: 10s, offset: 5s }
allowed_lateness: 3s
trigger: { type: count_or_time, count: 100, interval: 1s }
aggregates:
  - { name: n, plugin: count }
  - { name: p, plugin: percentile, field: /latency, config: { quantiles: [0.5] } }
sink: { type: file, path: out.jsonl }
late: { type: file, path: late.jsonl, mode: append }
dead_letter: { type: stderr }
plugins: { dir: /opt/eddy/plugins, memory_limit_bytes: 33554432, call_timeout: 250ms, on_trap: stop }
batch_size: 512
"#;

fn error_of(yaml: &str) -> String {
    Config::from_yaml(yaml).expect_err("refused").to_string()
}

#[test]
fn every_key_is_read() {
    Jail::expect_with(|_| {
        let c = Config::from_yaml(GOOD).expect("valid");
        assert_eq!(
            c.source,
            SourceConfig::File {
                path: "events.jsonl".into()
            }
        );
        assert_eq!(
            c.decode,
            DecodeConfig {
                key: "/user".into(),
                time: "/at".into(),
                time_format: TimeFormat::Rfc3339
            }
        );
        assert_eq!(c.watermark.out_of_orderness, Duration::from_secs(2));
        assert_eq!(c.watermark.interval, Duration::from_millis(200));
        assert_eq!(c.watermark.idle_timeout, Some(Duration::from_secs(30)));
        assert_eq!(
            c.window,
            WindowConfig::Sliding {
                size: Duration::from_secs(60),
                slide: Duration::from_secs(10),
                offset: Duration::from_secs(5)
            }
        );
        assert_eq!(c.allowed_lateness, Duration::from_secs(3));
        assert_eq!(
            c.trigger,
            TriggerConfig::CountOrTime {
                count: 100,
                interval: Duration::from_secs(1)
            }
        );
        assert_eq!(c.aggregates[1].field.as_deref(), Some("/latency"));
        assert_eq!(c.aggregates[1].config["quantiles"][0], 0.5);
        assert_eq!(
            c.sink,
            SinkConfig::File {
                path: "out.jsonl".into(),
                mode: FileMode::Truncate,
            }
        );
        assert_eq!(
            c.late,
            SideOutputConfig::File {
                path: "late.jsonl".into(),
                mode: FileMode::Append,
            }
        );
        assert_eq!(c.dead_letter, SideOutputConfig::Stderr);
        assert_eq!(c.plugins.dir, PathBuf::from("/opt/eddy/plugins"));
        assert_eq!(c.plugins.memory_limit_bytes, 32 << 20);
        assert_eq!(c.plugins.call_timeout, Duration::from_millis(250));
        assert_eq!(c.plugins.on_trap, TrapPolicy::Stop);
        assert_eq!(c.batch_size, 512);
        Ok(())
    });
}

#[test]
fn environment_overrides_the_file() {
    Jail::expect_with(|jail| {
        jail.create_file("eddy.yaml", GOOD)?;
        jail.set_env("EDDY_BATCH_SIZE", "7");
        jail.set_env("EDDY_WATERMARK__OUT_OF_ORDERNESS", "9s");
        jail.set_env("EDDY_PLUGINS__DIR", "/elsewhere");
        jail.set_env("EDDY_LOG", "debug");
        let c = Config::load(Path::new("eddy.yaml")).expect("valid");
        assert_eq!(c.batch_size, 7);
        assert_eq!(c.watermark.out_of_orderness, Duration::from_secs(9));
        assert_eq!(c.plugins.dir, PathBuf::from("/elsewhere"));
        assert_eq!(c.decode.key, "/user");
        Ok(())
    });
}

#[test]
fn bad_values_name_their_key() {
    Jail::expect_with(|jail| {
        let cases = [
            ("batch_size: 0\n", "batch_size"),
            ("batch_size: lots\n", "batch_size"),
            ("window: { type: tumbling, size: 0s }\n", "window.size"),
            ("window: { type: hopping, size: 1s }\n", "window"),
            (
                "window: { type: tumbling, size: 1s, offset: 2s }\n",
                "window.offset",
            ),
            ("decode: { key: user }\n", "decode.key"),
            ("decode: { time_format: epoch_us }\n", "decode.time_format"),
            (
                "watermark: { out_of_orderness: soon }\n",
                "watermark.out_of_orderness",
            ),
            ("aggregates: []\n", "aggregates"),
            (
                "aggregates: [{ name: key, plugin: count }]\n",
                "aggregates.0.name",
            ),
            (
                "aggregates: [{ name: a, plugin: count }, { name: a, plugin: sum }]\n",
                "aggregates.1.name",
            ),
            (
                "aggregates: [{ name: a, plugin: sum, field: amount }]\n",
                "aggregates.0.field",
            ),
            (
                "aggregates: [{ name: a, plugin: sum, config: 3 }]\n",
                "aggregates.0.config",
            ),
            (
                "plugins: { memory_limit_bytes: 10 }\n",
                "plugins.memory_limit_bytes",
            ),
            ("no_such_key: 1\n", "no_such_key"),
            (
                "window: { type: sliding, size: 1s, slide: 2s }\n",
                "window.slide",
            ),
            (
                "window: { type: sliding, size: 1s, slide: 1s, offset: 1s }\n",
                "window.offset",
            ),
            (
                "window: { type: sliding, size: 1h, slide: 1ms }\n",
                "window.slide",
            ),
            ("window: { type: session, gap: 0s }\n", "window.gap"),
            ("window: { type: session }\n", "gap"),
            ("allowed_lateness: forever\n", "allowed_lateness"),
            ("trigger: { type: count, count: 0 }\n", "trigger.count"),
            (
                "trigger: { type: processing_time, interval: 0s }\n",
                "trigger.interval",
            ),
            ("trigger: { type: sometimes }\n", "trigger"),
            (
                "watermark: { idle_timeout: never }\n",
                "watermark.idle_timeout",
            ),
            ("source: { type: generator, keys: 0 }\n", "source.keys"),
        ];
        for (yaml, key) in cases {
            let message = error_of(yaml);
            assert!(
                message.contains(key),
                "{yaml:?} gave {message:?}, which does not name {key}"
            );
        }
        jail.set_env("EDDY_BATCH_SIZE", "-1");
        assert!(error_of("{}").contains("batch_size"));
        assert!(Config::load(Path::new("missing.yaml")).is_err());
        Ok(())
    });
}

const KAFKA: &str = r#"
source: { type: kafka, topic: clicks }
sink: { type: kafka, topic: click-counts }
late: { type: kafka, topic: clicks.late }
dead_letter: { type: kafka, topic: clicks_dead }
kafka:
  brokers: "k1:9092,k2:9092"
  group_id: analytics
  start: latest
  commit_interval: 2s
  linger: 20ms
  batch_bytes: 65536
  compression: zstd
  delivery_timeout: 10s
  retry_backoff: 250ms
  embedded_partitions: 8
  properties: { security.protocol: SASL_SSL, socket.keepalive.enable: true }
  consumer_properties: { fetch.min.bytes: 1024 }
  producer_properties: { message.max.bytes: 2000000 }
http: { listen: "0.0.0.0:9090" }
"#;

#[test]
fn every_kafka_key_is_read() {
    Jail::expect_with(|_| {
        let c = Config::from_yaml(KAFKA).expect("valid");
        assert_eq!(
            c.source,
            SourceConfig::Kafka {
                topic: "clicks".into()
            }
        );
        assert_eq!(
            c.kafka_topics(),
            vec![
                ("source.topic", "clicks"),
                ("sink.topic", "click-counts"),
                ("late.topic", "clicks.late"),
                ("dead_letter.topic", "clicks_dead"),
            ]
        );
        let k = &c.kafka;
        assert_eq!(k.brokers, "k1:9092,k2:9092");
        assert_eq!(k.group_id, "analytics");
        assert_eq!(k.start, StartPosition::Latest);
        assert_eq!(k.commit_interval, Duration::from_secs(2));
        assert_eq!(k.linger, Duration::from_millis(20));
        assert_eq!(k.batch_bytes, 65536);
        assert_eq!(k.compression, Compression::Zstd);
        assert_eq!(k.delivery_timeout, Duration::from_secs(10));
        assert_eq!(k.retry_backoff, Duration::from_millis(250));
        assert_eq!(k.embedded_partitions, 8);
        assert_eq!(c.http.listen, Some("0.0.0.0:9090".parse().expect("addr")));
        assert_eq!(
            property_value(&k.properties["security.protocol"]),
            "SASL_SSL"
        );
        assert_eq!(
            property_value(&k.properties["socket.keepalive.enable"]),
            "true"
        );
        assert_eq!(
            property_value(&k.consumer_properties["fetch.min.bytes"]),
            "1024"
        );
        assert_eq!(
            property_value(&k.producer_properties["message.max.bytes"]),
            "2000000"
        );
        Ok(())
    });
}

#[test]
fn a_config_round_trips() {
    Jail::expect_with(|_| {
        for yaml in [GOOD, KAFKA] {
            let config = Config::from_yaml(yaml).expect("valid");
            let again: Config = Figment::from(figment::providers::Serialized::defaults(&config))
                .extract()
                .expect("reads back");
            assert_eq!(
                serde_json::to_value(&again).expect("json"),
                serde_json::to_value(&config).expect("json")
            );
        }
        Ok(())
    });
}

#[test]
fn environment_overrides_kafka_keys() {
    Jail::expect_with(|jail| {
        jail.create_file("eddy.yaml", KAFKA)?;
        jail.set_env("EDDY_KAFKA__BROKERS", "other:9093");
        jail.set_env("EDDY_KAFKA__START", "earliest");
        jail.set_env("EDDY_KAFKA__PROPERTIES__SASL_USERNAME", "eddy");
        jail.set_env("EDDY_KAFKA__PROPERTIES__SOCKET_TIMEOUT_MS", "5000");
        jail.set_env("EDDY_SINK__TOPIC", "elsewhere");
        let c = Config::load(Path::new("eddy.yaml")).expect("valid");
        assert_eq!(c.kafka.brokers, "other:9093");
        assert_eq!(c.kafka.start, StartPosition::Earliest);
        assert_eq!(
            c.sink,
            SinkConfig::Kafka {
                topic: "elsewhere".into()
            }
        );
        // The layered librdkafka settings are checked in the host's `kafka::client` tests.
        let property = |name: &str| c.kafka.properties.get(name).map(property_value);
        assert_eq!(property("sasl_username").as_deref(), Some("eddy"));
        assert_eq!(property("socket_timeout_ms").as_deref(), Some("5000"));
        assert_eq!(property("security.protocol").as_deref(), Some("SASL_SSL"));
        Ok(())
    });
}

#[test]
fn bad_kafka_values_name_their_key() {
    Jail::expect_with(|_| {
        let with = |extra: &str| format!("source: {{ type: kafka, topic: in }}\n{extra}");
        let cases = [
            (
                with("kafka: { compression: brotli }\n"),
                "kafka.compression",
            ),
            (with("kafka: { start: middle }\n"), "kafka.start"),
            (with("kafka: { group_id: '' }\n"), "kafka.group_id"),
            (with("kafka: { brokers: ' ' }\n"), "kafka.brokers"),
            (
                with("kafka: { commit_interval: 0s }\n"),
                "kafka.commit_interval",
            ),
            (with("kafka: { batch_bytes: 0 }\n"), "kafka.batch_bytes"),
            (with("kafka: { linger: later }\n"), "kafka.linger"),
            (
                with("kafka: { properties: { a.b: { c: 1 } } }\n"),
                "kafka.properties.a.b",
            ),
            (with("kafka: { topic: x }\n"), "kafka.topic"),
            (
                "source: { type: kafka, topic: 'bad topic' }\n".into(),
                "source.topic",
            ),
            ("sink: { type: kafka, topic: '' }\n".into(), "sink.topic"),
            ("late: { type: kafka }\n".into(), "topic"),
            ("http: { listen: nowhere }\n".into(), "http.listen"),
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
fn static_membership_is_on_for_a_stable_name_only() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    };
    let kafka = |yaml: &str| {
        let full = format!("source: {{ type: kafka, topic: t }}\nkafka: {yaml}\n");
        Config::from_yaml(&full).expect("valid").kafka
    };
    let pod = env(&[
        ("HOSTNAME", "eddy-2"),
        ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
    ]);
    let deployment = env(&[
        ("HOSTNAME", "eddy-7d9f8b6c5-x2kqz"),
        ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
    ]);
    let laptop = env(&[("HOSTNAME", "build-1")]);
    let auto = kafka("{ group_id: g }");
    assert_eq!(auto.static_membership, StaticMembership::Auto);
    assert_eq!(auto.group_instance_id(pod).as_deref(), Some("eddy-2"));
    assert_eq!(auto.group_instance_id(deployment), None, "random pod names");
    assert_eq!(auto.group_instance_id(laptop), None, "not in Kubernetes");
    let named = kafka("{ instance_id: replica-a }");
    assert_eq!(
        named.group_instance_id(laptop).as_deref(),
        Some("replica-a")
    );
    Jail::expect_with(|jail| {
        // Validation reads the real environment.
        jail.set_env("HOSTNAME", "build-1");
        let on = kafka("{ static_membership: on }");
        assert_eq!(on.group_instance_id(laptop).as_deref(), Some("build-1"));
        Ok(())
    });
    let off = kafka("{ static_membership: off, instance_id: replica-a }");
    assert_eq!(off.group_instance_id(pod), None);
}

#[test]
fn static_membership_on_needs_a_name() {
    Jail::expect_with(|jail| {
        jail.set_env("HOSTNAME", "");
        let message =
            error_of("source: { type: kafka, topic: t }\nkafka: { static_membership: on }\n");
        assert!(message.contains("kafka.static_membership"), "{message}");
        let message = error_of("source: { type: kafka, topic: t }\nkafka: { instance_id: ' ' }\n");
        assert!(message.contains("kafka.instance_id"), "{message}");
        Ok(())
    });
}

#[test]
fn the_consumer_protocol_refuses_the_settings_the_broker_owns() {
    let message = error_of(
        "source: { type: kafka, topic: t }\nkafka:\n  rebalance: consumer\n  consumer_properties: { session.timeout.ms: 6000 }\n",
    );
    assert!(message.contains("kafka.rebalance"), "{message}");
    assert!(message.contains("session.timeout.ms"), "{message}");
    let cooperative = Config::from_yaml(
        "source: { type: kafka, topic: t }\nkafka:\n  consumer_properties: { session.timeout.ms: 6000 }\n",
    )
    .expect("valid");
    assert_eq!(cooperative.kafka.rebalance, RebalanceProtocol::Cooperative);
}

#[test]
fn the_admin_token_can_come_from_a_file() {
    Jail::expect_with(|jail| {
        jail.create_file("token", "  s3cret-from-a-secret\n")?;
        let c = Config::from_yaml("admin: { token_file: token }\n").expect("valid");
        assert_eq!(c.admin.token.as_deref(), Some("s3cret-from-a-secret"));
        let both = error_of("admin: { token_file: token, token: another-token }\n");
        assert!(both.contains("admin.token_file"), "{both}");
        let missing = error_of("admin: { token_file: no-such-file }\n");
        assert!(
            missing.contains("admin.token_file") && missing.contains("no-such-file"),
            "{missing}"
        );
        jail.create_file("short", "abc")?;
        let short = error_of("admin: { token_file: short }\n");
        assert!(short.contains("admin.token"), "{short}");
        Ok(())
    });
}
