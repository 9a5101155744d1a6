//! The endpoint over a socket: probes, HTTPS with and without client certificates, a renewed
//! certificate, and the limits on every request.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use eddy_engine::config::TlsConfig;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};

use super::*;
use crate::metrics::Metrics;
use crate::test_certs::{Authority, Issued};

fn get(address: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: eddy\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response
}

#[test]
fn probes_answer_over_http() {
    let health = Arc::new(Health::default());
    let metrics = Arc::new(Metrics::new());
    let server = serve(
        "127.0.0.1:0".parse().expect("addr"),
        router(Arc::clone(&health), Arc::clone(&metrics), None),
        &HttpConfig::default(),
    )
    .expect("serve");
    let address = server.address();
    assert!(get(address, "/health/live").starts_with("HTTP/1.1 200"));
    let response = get(address, "/health/ready");
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    assert!(response.contains("not ready: starting"), "{response}");
    health.set_ready();
    assert!(get(address, "/health/ready").starts_with("HTTP/1.1 200"));
    health.set_unready("sink: broker down");
    let response = get(address, "/health/ready");
    assert!(response.starts_with("HTTP/1.1 503") && response.contains("broker down"));
    metrics.checkpoint.id.set(3);
    let response = get(address, "/metrics");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("eddy_checkpoint_id 3"), "{response}");
    server.shutdown();
    assert!(
        TcpStream::connect(address).is_err(),
        "the endpoint is closed after a graceful shutdown"
    );
}

/// `request` sent over plain TCP; what came back within 5 s.
fn exchange(address: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(request).expect("request");
    let mut response = vec![0u8; 4096];
    let read = stream.read(&mut response).unwrap_or(0);
    String::from_utf8_lossy(&response[..read]).into_owned()
}

/// `GET path` over TLS, trusting `authority` (and presenting `client` when given): the
/// response, or why there is none.
fn https_get(
    address: SocketAddr,
    path: &str,
    authority: &Authority,
    client: Option<&Issued>,
) -> Result<String, String> {
    let mut builder = SslConnector::builder(SslMethod::tls()).map_err(|e| e.to_string())?;
    builder
        .cert_store_mut()
        .add_cert(authority.cert().clone())
        .map_err(|e| e.to_string())?;
    builder.set_verify(SslVerifyMode::PEER);
    if let Some(client) = client {
        builder
            .set_certificate(&client.cert)
            .map_err(|e| e.to_string())?;
        builder
            .set_private_key(&client.key)
            .map_err(|e| e.to_string())?;
    }
    let mut configure = builder.build().configure().map_err(|e| e.to_string())?;
    configure.set_verify_hostname(false);
    configure
        .param_mut()
        .set_ip(address.ip())
        .map_err(|e| e.to_string())?;
    let stream = TcpStream::connect(address).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut tls = configure
        .connect("127.0.0.1", stream)
        .map_err(|e| e.to_string())?;
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: eddy\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    tls.read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    if response.is_empty() {
        return Err("the connection closed without a response".into());
    }
    Ok(response)
}

/// The files of a server certificate issued by `authority` (and `client_ca`, when given) in
/// `dir`, as `http.tls` names them.
fn tls_files(dir: &Path, authority: &Authority, client_ca: Option<&Authority>) -> TlsConfig {
    let server = authority.issue("eddy", 2);
    let settings = TlsConfig {
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
        client_ca: client_ca.map(|_| dir.join("client-ca.crt")),
    };
    std::fs::write(&settings.cert, server.cert_pem()).expect("cert written");
    std::fs::write(&settings.key, server.key_pem()).expect("key written");
    if let (Some(path), Some(ca)) = (&settings.client_ca, client_ca) {
        std::fs::write(path, ca.cert_pem()).expect("client ca written");
    }
    settings
}

fn serve_tls(settings: TlsConfig) -> Server {
    let config = HttpConfig {
        tls: Some(settings),
        ..HttpConfig::default()
    };
    let health = Arc::new(Health::default());
    serve(
        "127.0.0.1:0".parse().expect("addr"),
        router(health, Arc::new(Metrics::new()), None),
        &config,
    )
    .expect("serve")
}

#[test]
fn https_serves_the_configured_certificate_and_plain_http_gets_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let authority = Authority::new("eddy test ca");
    let server = serve_tls(tls_files(dir.path(), &authority, None));
    let response = https_get(server.address(), "/health/live", &authority, None).expect("https");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let other = Authority::new("someone else");
    let refused = https_get(server.address(), "/health/live", &other, None);
    assert!(
        refused.is_err(),
        "a client trusting another CA: {refused:?}"
    );
    let plain = exchange(
        server.address(),
        b"GET /health/live HTTP/1.1\r\nHost: eddy\r\n\r\n",
    );
    assert!(
        !plain.contains("200 OK"),
        "plain HTTP on the TLS port: {plain}"
    );
}

#[test]
fn with_a_client_ca_only_clients_with_its_certificates_are_served() {
    let dir = tempfile::tempdir().expect("dir");
    let authority = Authority::new("eddy test ca");
    let clients = Authority::new("eddy clients");
    let server = serve_tls(tls_files(dir.path(), &authority, Some(&clients)));
    let address = server.address();
    let member = clients.issue("operator", 7);
    let response = https_get(address, "/health/live", &authority, Some(&member)).expect("mtls");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let none = https_get(address, "/health/live", &authority, None);
    assert!(none.is_err(), "without a client certificate: {none:?}");
    let stranger = Authority::new("elsewhere").issue("stranger", 8);
    let foreign = https_get(address, "/health/live", &authority, Some(&stranger));
    assert!(foreign.is_err(), "a certificate of another CA: {foreign:?}");
}

#[test]
fn a_renewed_certificate_is_served_without_a_restart_and_a_broken_one_is_not() {
    let dir = tempfile::tempdir().expect("dir");
    let first = Authority::new("first ca");
    let settings = tls_files(dir.path(), &first, None);
    let server = serve_tls(settings.clone());
    let address = server.address();
    assert!(https_get(address, "/health/live", &first, None).is_ok());

    // Half-written files (the key of one certificate, the chain of none) change nothing.
    std::fs::write(&settings.cert, b"not a certificate").expect("written");
    std::thread::sleep(Duration::from_millis(2500));
    assert!(https_get(address, "/health/live", &first, None).is_ok());

    let second = Authority::new("second ca");
    tls_files(dir.path(), &second, None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while https_get(address, "/health/live", &second, None).is_err() {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate is not served"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        https_get(address, "/health/live", &first, None).is_err(),
        "the old certificate is no longer served"
    );
}

#[test]
fn tls_files_that_do_not_read_refuse_the_start_naming_their_key() {
    let dir = tempfile::tempdir().expect("dir");
    let authority = Authority::new("eddy test ca");
    let settings = tls_files(dir.path(), &authority, None);
    let start = |settings: TlsConfig| {
        let config = HttpConfig {
            tls: Some(settings),
            ..HttpConfig::default()
        };
        let health = Arc::new(Health::default());
        let router = router(health, Arc::new(Metrics::new()), None);
        match serve("127.0.0.1:0".parse().expect("addr"), router, &config) {
            Ok(_) => panic!("started"),
            Err(error) => error.to_string(),
        }
    };
    let missing_key = start(TlsConfig {
        key: dir.path().join("nope.key"),
        ..settings.clone()
    });
    assert!(missing_key.contains("http.tls.key"), "{missing_key}");
    let not_a_cert = dir.path().join("garbage.crt");
    std::fs::write(&not_a_cert, b"garbage").expect("written");
    let garbage = start(TlsConfig {
        cert: not_a_cert,
        ..settings.clone()
    });
    assert!(garbage.contains("http.tls.cert"), "{garbage}");
    let other_key = dir.path().join("other.key");
    std::fs::write(&other_key, authority.issue("x", 9).key_pem()).expect("written");
    let mismatched = start(TlsConfig {
        key: other_key,
        ..settings
    });
    assert!(mismatched.contains("http.tls"), "{mismatched}");
}

#[test]
fn an_oversized_head_gets_431_and_a_request_too_slow_gets_408() {
    let config = HttpConfig {
        request_timeout: Duration::from_millis(500),
        ..HttpConfig::default()
    };
    let echo = Router::new().route("/echo", post(|body: String| async move { body }));
    let server = serve("127.0.0.1:0".parse().expect("addr"), echo, &config).expect("serve");
    let address = server.address();
    let big = "x".repeat(config.max_header_bytes + 1);
    let response = exchange(
        address,
        format!("POST /echo HTTP/1.1\r\nHost: eddy\r\nX-Big: {big}\r\nContent-Length: 0\r\n\r\n")
            .as_bytes(),
    );
    assert!(response.starts_with("HTTP/1.1 431"), "{response}");
    let started = Instant::now();
    let response = exchange(
        address,
        b"POST /echo HTTP/1.1\r\nHost: eddy\r\nContent-Length: 100\r\n\r\nonly ten b",
    );
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(4));
    let response = exchange(
        address,
        b"POST /echo HTTP/1.1\r\nHost: eddy\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert!(response.ends_with("hello"), "{response}");
}
