//! Kafka keys: read, overridden from the environment, bad values named, static membership and
//! the consumer protocol's refusals.

#![allow(clippy::result_large_err)] // figment's Jail closures return its large error type

use super::*;

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
                topic: "elsewhere".into(),
                format: SinkFormat::Json,
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
    // Loading reads `EDDY_*` variables, which other tests set in their jails: load in one.
    let mut auto = None;
    let mut named = None;
    let mut off = None;
    Jail::expect_with(|_| {
        auto = Some(kafka("{ group_id: g }"));
        named = Some(kafka("{ instance_id: replica-a }"));
        off = Some(kafka("{ static_membership: off, instance_id: replica-a }"));
        Ok(())
    });
    let (auto, named, off) = (
        auto.expect("loaded"),
        named.expect("loaded"),
        off.expect("loaded"),
    );
    assert_eq!(auto.static_membership, StaticMembership::Auto);
    assert_eq!(auto.group_instance_id(pod).as_deref(), Some("eddy-2"));
    assert_eq!(auto.group_instance_id(deployment), None, "random pod names");
    assert_eq!(auto.group_instance_id(laptop), None, "not in Kubernetes");
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
