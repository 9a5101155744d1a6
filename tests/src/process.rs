//! The `eddy` binary run as a subprocess, the way it is deployed: `eddy run --config`, with
//! brokers, plugin folder and HTTP port from `EDDY_` environment overrides.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{plugin_dir, repo_root};

/// The `eddy` binary cargo built next to the test binary.
pub fn eddy_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("eddy"))
        .expect("target dir");
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p eddy --bin eddy` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Status line of `GET path` on the loopback port, if it answers.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: eddy\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// `method path` with `headers` and `body` on the loopback port: the status code and the body.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: eddy\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("request");
    stream.write_all(body).expect("body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("response");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A running `eddy run`; killed when dropped.
pub struct Eddy {
    child: Child,
    port: u16,
}

impl Eddy {
    /// Starts `eddy run --config config` on `brokers`, with extra environment `env`.
    pub fn run(config: &Path, brokers: &str, env: &[(&str, String)]) -> Self {
        let (mut command, port) = Self::command(config, brokers, env);
        let child = command.spawn().expect("eddy starts");
        Self { child, port }
    }

    /// [`Eddy::run`] with its standard error (the log) written to `log`.
    pub fn run_logging_to(
        config: &Path,
        brokers: &str,
        env: &[(&str, String)],
        log: &Path,
    ) -> Self {
        let (mut command, port) = Self::command(config, brokers, env);
        let file = std::fs::File::create(log).expect("log file");
        let child = command.stderr(file).spawn().expect("eddy starts");
        Self { child, port }
    }

    fn command(config: &Path, brokers: &str, env: &[(&str, String)]) -> (Command, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let mut command = Command::new(eddy_binary());
        command
            .args(["run", "--config"])
            .arg(config)
            .env("EDDY_KAFKA__BROKERS", brokers)
            .env("EDDY_PLUGINS__DIR", plugin_dir())
            .env("EDDY_HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "EDDY_LOG",
                std::env::var("TEST_EDDY_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .current_dir(repo_root())
            // Inside Kubernetes a pod-like HOSTNAME would make every test replica the same
            // static group member (`kafka.static_membership: auto`).
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdin(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        (command, port)
    }

    /// The HTTP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `/health/ready` answers 200 (partitions assigned), at most `limit`.
    pub fn wait_ready(&mut self, limit: Duration) {
        let started = Instant::now();
        loop {
            let status = http_get(self.port, "/health/ready");
            if status
                .as_deref()
                .is_some_and(|s| s.starts_with("HTTP/1.1 200"))
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("eddy exited before it was ready: {status}");
            }
            assert!(
                started.elapsed() < limit,
                "eddy did not become ready within {limit:?}; last answer: {}",
                status.as_deref().map_or("none", |s| s.trim())
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Uploads the component at `wasm` over the admin API with `token`; its digest.
    pub fn upload(&self, token: &str, wasm: &Path) -> String {
        let bytes = std::fs::read(wasm).expect("component");
        let auth = format!("Bearer {token}");
        let (status, body) = http_request(
            self.port,
            "POST",
            "/v1/plugins",
            &[("Authorization", &auth)],
            &bytes,
        );
        assert_eq!(status, 201, "upload of {}: {body}", wasm.display());
        let entry: serde_json::Value = serde_json::from_str(&body).expect("entry");
        entry["digest"].as_str().expect("digest").to_string()
    }

    /// The value of metric `name` on `/metrics`.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let text = http_get(self.port, "/metrics")?;
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    /// SIGTERM, then the exit status (within 30 s).
    pub fn stop(mut self) -> ExitStatus {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "eddy did not stop within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to `limit` for the process to exit by itself.
    pub fn wait_exit(mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "eddy did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no chance to checkpoint, commit or leave the group.
    pub fn crash(mut self) {
        self.signal("KILL");
        let _ = self.child.wait();
    }

    /// SIGSTOP: the process freezes (no heartbeats, no commits) with everything open.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// SIGCONT after [`Eddy::pause`].
    pub fn resume(&self) {
        self.signal("CONT");
    }

    /// The exit status if the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status();
    }
}

impl Drop for Eddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
