//! Starts the tests' Apache Kafka broker (`eddy_tests::broker::Kafka`) with topics, prints
//! `bootstrap.servers` on stdout and keeps it running until stdin closes; then the broker is
//! stopped and its log dir removed (the harness's watchdog does the same if this process is
//! killed). `scripts/bench.sh` runs the Kafka benchmark against it.
//!
//! Usage: `kafka-broker PARTITIONS [TOPIC...]`

use std::io::{Read, Write};

use eddy_tests::broker::Kafka;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(partitions) = args.next().and_then(|p| p.parse::<u32>().ok()) else {
        eprintln!("usage: kafka-broker PARTITIONS [TOPIC...]");
        std::process::exit(2);
    };
    let topics: Vec<String> = args.collect();
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let broker = if names.is_empty() {
        Kafka::start()
    } else {
        Kafka::with_topics(&names, partitions)
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{}", broker.bootstrap_servers());
    let _ = stdout.flush();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(broker);
}
