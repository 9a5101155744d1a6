//! Tests of configuration loading and validation: every key read, environment overrides, bad
//! values naming their key; Kafka keys in [`kafka`], state and sink keys in [`state_and_sinks`].

#![allow(clippy::result_large_err)] // figment's Jail closures return its large error type

use super::*;
use figment::Jail;
use std::path::PathBuf;

mod formats;
mod kafka;
mod state_and_sinks;

pub(super) const GOOD: &str = r#"
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

pub(super) fn error_of(yaml: &str) -> String {
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
                time_format: TimeFormat::Rfc3339,
                ..DecodeConfig::default()
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
fn workers_default_to_one_per_core() {
    Jail::expect_with(|jail| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        jail.set_env("EDDY_WORKERS", "0");
        assert_eq!(
            Config::from_yaml("{}").expect("valid").worker_count(),
            cores
        );
        jail.set_env("EDDY_WORKERS", "3");
        let c = Config::from_yaml("workers: 1\n").expect("valid");
        assert_eq!((c.workers, c.worker_count()), (3, 3));
        Ok(())
    });
}

#[test]
fn bad_values_name_their_key() {
    Jail::expect_with(|jail| {
        let cases = [
            ("batch_size: 0\n", "batch_size"),
            ("batch_size: lots\n", "batch_size"),
            ("workers: 257\n", "workers"),
            ("workers: -1\n", "workers"),
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
