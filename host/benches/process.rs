//! The whole `eddy run` process against a native baseline (issue 19): the same job — JSON
//! lines from a file, 10 s tumbling windows per key, count / sum / min / max / avg of
//! `/amount`, JSON lines to a file — run by `eddy run` with the five built-in plugins and by
//! `native-baseline` (`bench/native-baseline`: serde_json and a hash map, no plugins), each as
//! a whole process with its start-up, on the same generated file (2 M events; 10 k keys, then
//! 100 keys). Both outputs are compared line for line first: a baseline that computed
//! something else would make the ratio meaningless. Then Eddy's start-up: `eddy run` to exit
//! on a 3-event file, with the compiled-component cache (`plugins.cache_dir`) warm and cold.
//!
//! Run by `scripts/bench.sh`, which builds the baseline first:
//! `cargo build --release -p eddy-native-baseline && cargo bench -p eddy --bench process`.
//! `BENCH_PROCESS_EVENTS` sets the events (2 000 000), `BENCH_ROUNDS` the timed runs of each
//! program per data set (5; the median counts).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eddy_engine::generator::{Generator, GeneratorConfig};

const CONFIG: &str = r#"source: { type: file, path: events.jsonl }
decode: { key: /key, time: /ts }
watermark: { out_of_orderness: 500ms }
window: { type: tumbling, size: 10s }
aggregates:
  - { name: count, plugin: count }
  - { name: sum, plugin: sum, field: /amount }
  - { name: min, plugin: min, field: /amount }
  - { name: max, plugin: max, field: /amount }
  - { name: avg, plugin: avg, field: /amount }
sink: { type: file, path: results.jsonl }
log: { filter: warn }
"#;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The built-in plugins of the checkout (`scripts/build-plugins.sh`).
fn plugin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/plugins")
}

/// `native-baseline` beside the `eddy` binary this bench was built with, or `BENCH_BASELINE`.
fn baseline_binary() -> PathBuf {
    std::env::var_os("BENCH_BASELINE").map_or_else(
        || Path::new(env!("CARGO_BIN_EXE_eddy")).with_file_name("native-baseline"),
        PathBuf::from,
    )
}

/// Writes `events` generated events over `keys` keys to `path`.
fn generate(path: &Path, events: u64, keys: u32) {
    let mut generator = Generator::new(GeneratorConfig {
        events,
        keys,
        ..GeneratorConfig::default()
    });
    let mut out = BufWriter::new(File::create(path).expect("create the events file"));
    let mut line = Vec::new();
    while generator.next_event(&mut line) {
        line.push(b'\n');
        out.write_all(&line).expect("write the events file");
    }
    out.flush().expect("write the events file");
}

/// A folder for one data set: its events, Eddy's config, and where each program writes.
struct DataSet {
    dir: PathBuf,
    cache: PathBuf,
}

impl DataSet {
    fn eddy(&self) -> Duration {
        let started = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(["run", "--config", "eddy.yaml"])
            .current_dir(&self.dir)
            .env("EDDY_PLUGINS__DIR", plugin_dir())
            .env("EDDY_PLUGINS__CACHE_DIR", &self.cache)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("start eddy");
        let took = started.elapsed();
        assert!(
            status.success(),
            "eddy run failed in {}",
            self.dir.display()
        );
        took
    }

    fn baseline(&self) -> Duration {
        let started = Instant::now();
        let status = Command::new(baseline_binary())
            .args(["events.jsonl", "baseline.jsonl"])
            .current_dir(&self.dir)
            .stderr(Stdio::null())
            .status()
            .expect(
                "start native-baseline (build it: cargo build --release -p eddy-native-baseline)",
            );
        let took = started.elapsed();
        assert!(status.success(), "native-baseline failed");
        took
    }

    /// Eddy's and the baseline's results, each sorted: the same lines, or the bench stops.
    fn same_results(&self) -> usize {
        let sorted = |name: &str| {
            let text = std::fs::read_to_string(self.dir.join(name)).expect("read results");
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            lines.sort();
            lines
        };
        let (eddy, baseline) = (sorted("results.jsonl"), sorted("baseline.jsonl"));
        if let Some((a, b)) = eddy.iter().zip(&baseline).find(|(a, b)| a != b) {
            panic!("eddy and the baseline differ:\n  eddy:     {a}\n  baseline: {b}");
        }
        assert_eq!(eddy.len(), baseline.len(), "numbers of results differ");
        eddy.len()
    }
}

fn set_up(root: &Path, name: &str, events: u64, keys: u32) -> DataSet {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("create the data set's folder");
    generate(&dir.join("events.jsonl"), events, keys);
    std::fs::write(dir.join("eddy.yaml"), CONFIG).expect("write eddy.yaml");
    DataSet {
        dir,
        cache: root.join("cache"),
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let events = env_number("BENCH_PROCESS_EVENTS", 2_000_000);
    let rounds = env_number("BENCH_ROUNDS", 5).max(1);
    let root = tempfile::tempdir().expect("temporary folder");
    println!(
        "Whole process, {events} events, 10 s tumbling windows, count/sum/min/max/avg, file in, JSON lines out; median of {rounds} runs each"
    );
    println!("| measure | value |");
    println!("|---|---|");
    for keys in [10_000u32, 100] {
        let set = set_up(root.path(), &format!("keys-{keys}"), events, keys);
        // First runs: fill the compile cache, and check both compute the same results.
        set.eddy();
        set.baseline();
        let results = set.same_results();
        let (mut eddy, mut baseline) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            eddy.push(set.eddy());
            baseline.push(set.baseline());
        }
        let (eddy, baseline) = (median(eddy), median(baseline));
        let rate = |d: Duration| events as f64 / d.as_secs_f64();
        println!(
            "| eddy run, {keys} keys | {:.0} ev/s ({:.2} s) |",
            rate(eddy),
            eddy.as_secs_f64()
        );
        println!(
            "| native baseline, {keys} keys | {:.0} ev/s ({:.2} s; same {results} results) |",
            rate(baseline),
            baseline.as_secs_f64()
        );
        println!(
            "| eddy / native baseline, {keys} keys | {:.2} |",
            baseline.as_secs_f64() / eddy.as_secs_f64()
        );
    }
    // Start-up: three events, the same five plugins.
    let set = set_up(root.path(), "start-up", 3, 3);
    set.eddy();
    let warm = median((0..9).map(|_| set.eddy()).collect());
    let cold = DataSet {
        dir: set.dir.clone(),
        cache: root.path().join("cold-cache"),
    };
    let cold = cold.eddy();
    println!(
        "| start-up to exit, 3 events, 5 plugins, compile cache warm (median of 9) | {:.1} ms |",
        warm.as_secs_f64() * 1e3
    );
    println!(
        "| start-up to exit, 3 events, 5 plugins, compile cache cold | {:.1} ms |",
        cold.as_secs_f64() * 1e3
    );
}
