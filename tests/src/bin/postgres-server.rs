//! Starts the tests' PostgreSQL server (`eddy_tests::postgres::Postgres`), prints its
//! connection URL on stdout and keeps it running until stdin closes; then the server is
//! stopped and its directory removed. `scripts/bench.sh` runs the PostgreSQL benchmark
//! against it.
//!
//! Usage: `postgres-server`

use std::io::{Read, Write};

use eddy_tests::postgres::Postgres;

fn main() {
    let server = Postgres::start();
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{}", server.url());
    let _ = stdout.flush();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(server);
}
