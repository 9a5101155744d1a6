//! A real schema registry for tests: Apicurio Registry (its Confluent-compatible API under
//! `/apis/ccompat/v7`), one JVM process on a free loopback port with its storage in memory.
//! Killed when dropped (a watchdog process does it if the test process itself dies).
//!
//! The runnable jar is built from Maven Central by `scripts/install-registry.sh` (from
//! `tests/registry/`, cached per machine); the harness runs it once per test process (a second
//! or less when cached).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::process::http_request;
use crate::repo_root;

/// How long the registry may take to start (it takes 4–5 s on two cores).
const START_WITHIN: Duration = Duration::from_secs(60);

/// The API's path on the registry's port.
const API: &str = "/apis/ccompat/v7";

/// The runner jar, built (or found) once per test process.
fn jar() -> PathBuf {
    static JAR: OnceLock<PathBuf> = OnceLock::new();
    JAR.get_or_init(|| {
        let output = Command::new(repo_root().join("scripts/install-registry.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("running scripts/install-registry.sh");
        assert!(
            output.status.success(),
            "scripts/install-registry.sh failed (Java 17 and Maven are needed: scripts/setup.sh)"
        );
        PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
    })
    .clone()
}

/// A running registry.
pub struct Registry {
    child: Child,
    watchdog: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry and waits until its API answers.
    pub fn start() -> Self {
        let jar = jar();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let dir = tempfile::tempdir().expect("registry dir");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("registry.log");
        let child = Command::new("java")
            .args(["-Xmx256m", "-XX:+UseSerialGC"])
            .arg("-Dquarkus.http.host=127.0.0.1")
            .arg(format!("-Dquarkus.http.port={port}"))
            .arg("-jar")
            .arg(&jar)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("registry.log"))
            .stderr(log)
            .spawn()
            .expect("starting java (Java 17 is needed: scripts/setup.sh)");
        let script = format!(
            "while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill -KILL {child} 2>/dev/null",
            parent = std::process::id(),
            child = child.id()
        );
        let watchdog = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("watchdog");
        let mut registry = Self {
            child,
            watchdog,
            port,
            dir,
        };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            let answered = std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && http_request(self.port, "GET", &format!("{API}/subjects"), &[], b"").0 == 200;
            if answered {
                eprintln!(
                    "schema registry on 127.0.0.1:{} ready in {:?}",
                    self.port,
                    started.elapsed()
                );
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the registry exited at start: {status}\n{}", self.log());
            }
            assert!(
                started.elapsed() < START_WITHIN,
                "the registry did not answer within {START_WITHIN:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The registry's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL of the Confluent-compatible API on `port` (this registry's, or a proxy's
    /// in front of it): what `schema_registry.url` is set to.
    pub fn url_on(port: u16) -> String {
        format!("http://127.0.0.1:{port}{API}")
    }

    /// The base URL of the API.
    pub fn url(&self) -> String {
        Self::url_on(self.port)
    }

    /// Registers `schema` (Avro JSON text) under `subject`: its id.
    pub fn register(&self, subject: &str, schema: &str) -> u32 {
        self.register_typed(subject, "AVRO", schema)
    }

    /// Registers `schema` of type `kind` (`AVRO`, `PROTOBUF`) under `subject`: its id.
    pub fn register_typed(&self, subject: &str, kind: &str, schema: &str) -> u32 {
        let body = serde_json::json!({ "schema": schema, "schemaType": kind }).to_string();
        let (status, answer) = http_request(
            self.port,
            "POST",
            &format!("{API}/subjects/{subject}/versions"),
            &[("Content-Type", "application/vnd.schemaregistry.v1+json")],
            body.as_bytes(),
        );
        assert_eq!(status, 200, "registering under {subject}: {answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).expect("JSON answer");
        answer["id"]
            .as_u64()
            .and_then(|id| u32::try_from(id).ok())
            .unwrap_or_else(|| panic!("no id in {answer}"))
    }

    /// Sets the compatibility `subject`'s new versions are checked with (e.g. `BACKWARD`).
    pub fn set_compatibility(&self, subject: &str, level: &str) {
        let body = serde_json::json!({ "compatibility": level }).to_string();
        let (status, answer) = http_request(
            self.port,
            "PUT",
            &format!("{API}/config/{subject}"),
            &[("Content-Type", "application/vnd.schemaregistry.v1+json")],
            body.as_bytes(),
        );
        assert_eq!(status, 200, "compatibility of {subject}: {answer}");
    }

    /// The schema text with `id`, as a client of the registry reads it.
    pub fn schema(&self, id: u32) -> Option<String> {
        let (status, answer) = http_request(
            self.port,
            "GET",
            &format!("{API}/schemas/ids/{id}"),
            &[],
            b"",
        );
        if status != 200 {
            return None;
        }
        let answer: serde_json::Value = serde_json::from_str(&answer).ok()?;
        answer["schema"].as_str().map(str::to_string)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}
