//! Record formats and the schema registry: read, and the combinations refused with their key.

#![allow(clippy::result_large_err)] // figment's Jail closures return its large error type

use super::*;

const AVRO: &str = r#"
source: { type: kafka, topic: orders }
decode: { format: avro, key: /user/id, time: /at }
schema_registry:
  url: http://reg:8080/apis/ccompat/v7
  username: eddy
  password: s3cret
  request_timeout: 2s
  retry_timeout: 30s
"#;

#[test]
fn the_registry_keys_are_read_and_the_password_is_hidden() {
    Jail::expect_with(|jail| {
        let c = Config::from_yaml(AVRO).expect("valid");
        assert_eq!(c.decode.format, RecordFormat::Avro);
        let r = &c.schema_registry;
        assert_eq!(
            r.url.as_ref().map(SecretUrl::expose),
            Some("http://reg:8080/apis/ccompat/v7")
        );
        assert_eq!(r.username.as_deref(), Some("eddy"));
        assert_eq!(r.password.as_ref().map(Secret::expose), Some("s3cret"));
        assert!(!format!("{r:?}").contains("s3cret"));
        assert_eq!(r.request_timeout, Duration::from_secs(2));
        assert_eq!(r.retry_timeout, Duration::from_secs(30));
        jail.set_env("EDDY_SCHEMA_REGISTRY__PASSWORD", "other");
        let c = Config::from_yaml(AVRO).expect("valid");
        assert_eq!(
            c.schema_registry.password.as_ref().map(Secret::expose),
            Some("other")
        );
        Ok(())
    });
}

#[test]
fn formats_that_cannot_work_are_refused_with_their_key() {
    Jail::expect_with(|_| {
        let kafka = "source: { type: kafka, topic: t }\n";
        let cases = [
            (
                format!("{kafka}decode: {{ format: avro }}\n"),
                "decode.schema",
            ),
            (
                "decode: { format: avro, schema: o.avsc }\n".to_string(),
                "decode.format",
            ),
            (
                format!("{kafka}decode: {{ schema: o.avsc }}\n"),
                "decode.schema",
            ),
            (
                format!("{kafka}decode: {{ format: protobuf }}\n"),
                "decode.schema",
            ),
            (
                format!("{kafka}decode: {{ format: lzma }}\n"),
                "decode.format",
            ),
            (
                format!("{kafka}decode: {{ message: Order }}\n"),
                "decode.message",
            ),
            (
                format!("{kafka}decode: {{ format: avro, schema: a.avsc, message: Order }}\n"),
                "decode.message",
            ),
            (
                format!(
                    "{kafka}decode: {{ format: protobuf, message: Order }}\nschema_registry: {{ url: 'http://r' }}\n"
                ),
                "decode.message",
            ),
            (
                "sink: { type: kafka, topic: r, format: avro }\n".to_string(),
                "sink.format",
            ),
            (
                "schema_registry: { url: reg:8081 }\n".to_string(),
                "schema_registry.url",
            ),
            (
                "schema_registry: { url: 'http://r', ca_file: ca.pem }\n".to_string(),
                "schema_registry.ca_file",
            ),
            (
                "schema_registry: { url: 'http://r', password: p }\n".to_string(),
                "schema_registry.password",
            ),
            (
                "schema_registry: { url: 'http://r', request_timeout: 0s }\n".to_string(),
                "schema_registry.request_timeout",
            ),
        ];
        for (yaml, key) in cases {
            let error = error_of(&yaml);
            assert!(error.contains(key), "{yaml}: {error}");
        }
        Ok(())
    });
}
