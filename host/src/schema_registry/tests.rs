//! The client against a registry served by a small axum app on a loopback port.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use eddy_engine::config::SchemaRegistryConfig;

use super::*;

const ORDER: &str = r#"{"type":"record","name":"O","fields":[{"name":"id","type":"string"}]}"#;

/// Serves `/schemas/ids/{id}`: 1 Avro, 2 Protobuf, 3 a server error `fails` times, then Avro;
/// anything else not found. Checks basic credentials `eddy:pw` when `auth`.
async fn serve(fails: usize, auth: bool) -> (SocketAddr, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/schemas/ids/{id}",
            get(
                move |State(calls): State<Arc<AtomicUsize>>,
                      headers: HeaderMap,
                      Path(id): Path<u32>| async move {
                    let call = calls.fetch_add(1, Ordering::SeqCst);
                    // "eddy:pw" in base64.
                    if auth
                        && headers.get("authorization").and_then(|v| v.to_str().ok())
                            != Some("Basic ZWRkeTpwdw==")
                    {
                        return (StatusCode::UNAUTHORIZED, "{}".to_string());
                    }
                    let body = |schema: &str, kind: Option<&str>| {
                        let mut json = serde_json::json!({ "schema": schema });
                        if let Some(kind) = kind {
                            json["schemaType"] = kind.into();
                        }
                        json.to_string()
                    };
                    match id {
                        1 => (StatusCode::OK, body(ORDER, None)),
                        2 => (
                            StatusCode::OK,
                            body("syntax = \"proto3\";", Some("PROTOBUF")),
                        ),
                        3 if call < fails => (StatusCode::SERVICE_UNAVAILABLE, "busy".into()),
                        3 => (StatusCode::OK, body(ORDER, Some("AVRO"))),
                        _ => (
                            StatusCode::NOT_FOUND,
                            r#"{"error_code":40403,"message":"Schema not found"}"#.into(),
                        ),
                    }
                },
            ),
        )
        .with_state(Arc::clone(&calls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, calls)
}

fn client(address: SocketAddr, retry: Duration, auth: bool) -> SchemaRegistry {
    let yaml = format!(
        "url: http://{address}/\nretry_timeout: {}ms\n{}",
        retry.as_millis(),
        if auth {
            "username: eddy\npassword: pw\n"
        } else {
            ""
        }
    );
    let config: SchemaRegistryConfig = config_of(&yaml);
    SchemaRegistry::new(&config)
        .expect("client")
        .expect("a url is set")
}

/// The registry section read as the config loader reads it.
fn config_of(yaml: &str) -> SchemaRegistryConfig {
    use figment::providers::{Format, Yaml};
    figment::Figment::from(Yaml::string(yaml))
        .extract()
        .expect("registry config")
}

#[tokio::test(flavor = "multi_thread")]
async fn schemas_are_fetched_and_unknown_ids_named() {
    let (address, _) = serve(0, true).await;
    let registry = client(address, Duration::from_secs(1), true);
    let outcome = tokio::task::spawn_blocking(move || {
        (
            registry.avro(1).map(|plan| plan.field_names().count()),
            registry.avro(2).map(|_| ()),
            registry.avro(9).map(|_| ()),
        )
    })
    .await
    .expect("join");
    assert_eq!(outcome.0, Ok(1));
    assert_eq!(
        outcome.1,
        Err(SchemaError::Unknown(
            2,
            "is a PROTOBUF schema, not AVRO".into()
        ))
    );
    assert_eq!(
        outcome.2,
        Err(SchemaError::Unknown(
            9,
            "not in the registry (Schema not found)".into()
        ))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_registry_is_retried_then_given_up_with_the_reason() {
    let (address, calls) = serve(3, false).await;
    let registry = Arc::new(client(address, Duration::from_secs(5), false));
    let health = Arc::new(Health::default());
    let metrics = Arc::new(Metrics::new());
    registry.watch(Arc::clone(&health), Arc::clone(&metrics));
    let asked = Arc::clone(&registry);
    let fetched = tokio::task::spawn_blocking(move || asked.avro(3).map(|_| ()))
        .await
        .expect("join");
    assert_eq!(fetched, Ok(()));
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    let text = metrics.render();
    assert!(
        text.contains("eddy_schema_registry_requests_total{outcome=\"unreachable\"} 3"),
        "{text}"
    );
    assert!(!health.is_ready(), "not ready while it retried");
    assert!(health.reason().contains("503"), "{}", health.reason());

    // Wrong credentials are the registry's state, not the id's: retried, then given up.
    let (address, _) = serve(0, true).await;
    let denied = client(address, Duration::from_millis(300), false);
    let outcome = tokio::task::spawn_blocking(move || denied.avro(1).map(|_| ()))
        .await
        .expect("join");
    match outcome {
        Err(SchemaError::Unavailable(1, message)) => {
            assert!(message.contains("401"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

/// An https registry on a loopback port that answers every request with schema `ORDER`.
fn serve_tls(server: &crate::test_certs::Issued) -> SocketAddr {
    use std::io::{Read, Write};

    use openssl::ssl::{SslAcceptor, SslMethod};

    let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).expect("acceptor");
    acceptor.set_private_key(&server.key).expect("key");
    acceptor.set_certificate(&server.cert).expect("certificate");
    let acceptor = acceptor.build();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let Ok(mut tls) = acceptor.accept(stream) else {
                continue;
            };
            let mut request = [0u8; 4096];
            let _ = tls.read(&mut request);
            let body = serde_json::json!({ "schema": ORDER }).to_string();
            let _ = write!(
                tls,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.shutdown();
        }
    });
    address
}

#[test]
fn an_https_registry_is_trusted_by_its_ca_file_and_refused_without_it() {
    let authority = crate::test_certs::Authority::new("eddy test registry ca");
    let address = serve_tls(&authority.issue("eddy test registry", 2));
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, authority.cert_pem()).expect("ca written");
    let trusting = config_of(&format!(
        "url: https://{address}\nca_file: {}\nretry_timeout: 200ms\n",
        ca.display()
    ));
    let registry = SchemaRegistry::new(&trusting)
        .expect("client")
        .expect("a url is set");
    assert_eq!(
        registry.avro(1).map(|plan| plan.field_names().count()),
        Ok(1)
    );

    let untrusting = config_of(&format!("url: https://{address}\nretry_timeout: 200ms\n"));
    let registry = SchemaRegistry::new(&untrusting)
        .expect("client")
        .expect("a url is set");
    match registry.avro(1) {
        Err(SchemaError::Unavailable(1, message)) => {
            assert!(message.to_lowercase().contains("certificate"), "{message}")
        }
        other => panic!("{other:?}"),
    }

    let missing = config_of(&format!(
        "url: https://{address}\nca_file: {}\n",
        dir.path().join("nope.pem").display()
    ));
    assert!(matches!(
        SchemaRegistry::new(&missing),
        Err(RegistryError::CaFile { .. })
    ));
}
