//! A real Kafka-protocol broker process for tests: `tansu` (an Apache Kafka API broker in
//! Rust) with in-memory storage on a free loopback port, stopped when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running tansu broker.
pub struct Tansu {
    child: Child,
    binary: PathBuf,
    port: u16,
}

/// The tansu binary: `$EDDY_TANSU`, else `tansu` on the `PATH`, else `~/.cargo/bin/tansu`.
pub fn tansu_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("EDDY_TANSU") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("tansu"))
            .find(|candidate| candidate.is_file())
    });
    let in_cargo_home = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cargo/bin/tansu"))
        .filter(|p| p.is_file());
    on_path.or(in_cargo_home).unwrap_or_else(|| {
        panic!(
            "the tansu broker is not installed: run scripts/setup.sh (it runs \
             `cargo install tansu --locked --features dynostore`), or set EDDY_TANSU"
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Tansu {
    /// Starts a broker and waits until it accepts connections.
    pub fn start() -> Self {
        Self::start_on(free_port(), None)
    }

    /// Starts a broker with `topics`, each of `partitions` partitions.
    pub fn with_topics(topics: &[&str], partitions: u32) -> Self {
        let broker = Self::start();
        for topic in topics {
            broker.create_topic(topic, partitions);
        }
        broker
    }

    /// Starts a broker that tells clients to connect to `advertised` (e.g. a proxy in front of
    /// it) instead of its own port.
    pub fn start_advertising(advertised: u16) -> Self {
        Self::start_on(free_port(), Some(advertised))
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn start_on(port: u16, advertised: Option<u16>) -> Self {
        let binary = tansu_binary();
        let advertised = format!("tcp://127.0.0.1:{}", advertised.unwrap_or(port));
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &advertised,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let mut broker = Self {
            child,
            binary,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = broker.child.try_wait() {
                panic!("tansu exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "tansu did not listen within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        broker.port = port;
        broker
    }

    /// `bootstrap.servers` for clients.
    pub fn bootstrap_servers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Creates a topic with `partitions` partitions.
    pub fn create_topic(&self, name: &str, partitions: u32) {
        let output = Command::new(&self.binary)
            .args(["topic", "create", "--broker"])
            .arg(format!("tcp://127.0.0.1:{}", self.port))
            .args(["--partitions", &partitions.to_string(), name])
            .output()
            .expect("running tansu topic create");
        assert!(
            output.status.success(),
            "creating topic {name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
