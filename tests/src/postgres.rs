//! A PostgreSQL server of a test's own: `initdb` into a temporary directory (trust
//! authentication, superuser `eddy`), `pg_ctl start` on a free loopback port with its socket
//! in that directory, stopped (`pg_ctl stop -m immediate`) when dropped, also when the test
//! panics. Needs Debian's server binaries (package `postgresql`, see scripts/setup.sh).
//!
//! `initdb` refuses to run as root: as root, the server runs as the OS user `postgres` (made
//! by the Debian package) through `runuser`; when that user does not exist, a system user
//! `eddy-postgres` is created for it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// How long the server may take to accept connections.
const START_LIMIT: Duration = Duration::from_secs(60);

/// A running server; stopped when dropped.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    user: Option<String>,
    port: u16,
    tls: bool,
}

/// Where `initdb` and `pg_ctl` are: the newest /usr/lib/postgresql/<version>/bin, else `PATH`.
fn binaries() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_default()
}

fn run(command: &mut Command, what: &str) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn user_exists(user: &str) -> bool {
    Command::new("id")
        .arg(user)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The OS user the server runs as when the tests run as root.
fn server_user() -> String {
    if user_exists("postgres") {
        return "postgres".into();
    }
    let user = "eddy-postgres";
    if !user_exists(user) {
        // Two tests may race to create it: whoever loses finds it there.
        let _ = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                user,
            ])
            .status();
        assert!(user_exists(user), "could not create the OS user {user}");
    }
    user.into()
}

impl Postgres {
    /// Initialises and starts a server; returns once it accepts connections.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Like [`Postgres::start`], with TLS on: a self-signed certificate for `127.0.0.1` and
    /// `localhost` made with the openssl command ([`Postgres::certificate`]), and TCP
    /// connections accepted over TLS only (`hostssl` in pg_hba.conf).
    pub fn start_tls() -> Self {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Self {
        let bin = binaries();
        let dir = tempfile::Builder::new()
            .prefix("eddy-pg-")
            .tempdir()
            .expect("temp dir");
        let user = is_root().then(server_user);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let server = Self {
            dir,
            bin,
            user,
            port,
            tls,
        };
        if tls {
            server.make_certificate();
        }
        if let Some(user) = &server.user {
            run(
                Command::new("chown")
                    .args(["-R", user])
                    .arg(server.dir.path()),
                "chown of the server directory",
            );
        }
        let data = server.data();
        run(
            &mut server.command(
                "initdb",
                &[
                    "-D",
                    path(&data),
                    "-A",
                    "trust",
                    "-U",
                    "eddy",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ],
            ),
            "initdb",
        );
        if tls {
            // TCP over TLS only; the socket in the temp dir stays open to the harness.
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
            )
            .expect("pg_hba.conf");
        }
        server.start_again();
        server
    }

    /// Makes `server.crt` / `server.key` (self-signed, for 127.0.0.1 and localhost) in the
    /// server's directory.
    fn make_certificate(&self) {
        let dir = self.dir.path();
        run(
            Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=localhost",
                    "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout",
                ])
                .arg(dir.join("server.key"))
                .arg("-out")
                .arg(dir.join("server.crt")),
            "openssl req",
        );
        run(
            Command::new("chmod").arg("600").arg(dir.join("server.key")),
            "chmod of the key",
        );
    }

    /// The server's self-signed certificate (PEM), when it was started with TLS.
    pub fn certificate(&self) -> PathBuf {
        self.dir.path().join("server.crt")
    }

    /// Starts the server again after [`Postgres::stop`] (same port, same data); returns
    /// once it accepts connections.
    pub fn start_again(&self) {
        let data = self.data();
        // fsync off (the tests need no durability across machine crashes), but commits are
        // written at once (synchronous_commit on): a server stopped with `-m immediate`
        // keeps every transaction it reported committed.
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
            self.port,
            self.dir.path().display()
        );
        if self.tls {
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                self.certificate().display(),
                self.dir.path().join("server.key").display()
            ));
        }
        let log = self.dir.path().join("server.log");
        run(
            &mut self.command(
                "pg_ctl",
                &[
                    "-D",
                    path(&data),
                    "-o",
                    &options,
                    "-l",
                    path(&log),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            ),
            "pg_ctl start",
        );
        self.wait_accepting();
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`: connections cut, no shutdown
    /// checkpoint, crash recovery at the next start).
    pub fn stop(&self) {
        let data = self.data();
        run(
            &mut self.command(
                "pg_ctl",
                &["-D", path(&data), "-w", "stop", "-m", "immediate"],
            ),
            "pg_ctl stop",
        );
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `program` of the server binaries with `args`, as the server's OS user when root.
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let program = self.bin.join(program);
        match &self.user {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program).args(args);
                command
            }
            None => {
                let mut command = Command::new(program);
                command.args(args);
                command
            }
        }
    }

    fn wait_accepting(&self) {
        let started = Instant::now();
        loop {
            match postgres::Client::connect(&self.socket_url(), postgres::NoTls) {
                Ok(mut client) => {
                    if client.simple_query("SELECT 1").is_ok() {
                        return;
                    }
                }
                Err(error) => assert!(
                    started.elapsed() < START_LIMIT,
                    "PostgreSQL did not accept connections within {START_LIMIT:?}: {error}\n{}",
                    self.log()
                ),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The connection URL of the database `postgres` as the superuser `eddy`.
    pub fn url(&self) -> String {
        format!("postgresql://eddy@127.0.0.1:{}/postgres", self.port)
    }

    /// The connection string of the database `postgres` as `eddy` through the server's
    /// Unix socket (no TLS needed).
    pub fn socket_url(&self) -> String {
        format!(
            "host={} port={} user=eddy dbname=postgres",
            self.dir.path().display(),
            self.port
        )
    }

    /// A new client connection (through the Unix socket).
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.socket_url(), postgres::NoTls)
            .expect("connect to PostgreSQL")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

fn path(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command("pg_ctl", &["-D", path(&data), "stop", "-m", "immediate"])
            .output();
    }
}
