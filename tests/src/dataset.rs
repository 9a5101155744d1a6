//! The known dataset of the Kafka tests: keyed events on a 4-partition topic, with records
//! that cannot be decoded and events that arrive late, and the reference outputs Eddy must
//! write for it; plus the comparison of what Eddy wrote with that reference.

use std::collections::BTreeMap;

use eddy::kafka::TailRecord;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// A result: key, window start and end, emit, count, sum, min, max.
pub type Row = (String, i64, i64, String, i64, i64, i64, i64);

/// Partitions of every topic.
pub const PARTITIONS: u32 = 4;
/// Records per partition, junk and late events included.
pub const EVENTS_PER_PARTITION: i64 = 5_000;
/// Tumbling window size.
pub const WINDOW_MS: i64 = 5_000;
const BASE_MS: i64 = 1_700_000_000_000;

/// The topics the pipeline reads and writes.
pub const TOPICS: [&str; 4] = ["events", "results", "late", "dead"];

/// The pipeline the tests run over the dataset (brokers come from the environment).
pub const CONFIG: &str = r#"
source: { type: kafka, topic: events }
decode: { key: /key, time: /ts }
watermark: { out_of_orderness: 500ms }
window: { type: tumbling, size: 5s }
aggregates:
  - { name: count, plugin: count }
  - { name: sum, plugin: sum, field: /amount }
  - { name: min, plugin: min, field: /amount }
  - { name: max, plugin: max, field: /amount }
sink: { type: kafka, topic: results }
late: { type: kafka, topic: late }
dead_letter: { type: kafka, topic: dead }
batch_size: 256
kafka:
  brokers: set-by-the-environment
  group_id: eddy-test
  commit_interval: 1s
"#;

/// What was produced, and what Eddy must write.
pub struct Dataset {
    /// (partition, payload) in production order, partition by partition.
    pub records: Vec<(i32, Vec<u8>)>,
    /// (key, window_start) → count, sum, min, max.
    pub windows: BTreeMap<(String, i64), (i64, i64, i64, i64)>,
    /// Payloads of the late events.
    pub late: Vec<Vec<u8>>,
    /// Payloads of the undecodable records.
    pub junk: Vec<Vec<u8>>,
}

/// The dataset cut in two halves of every partition, for a change made between them (a plugin
/// activated half-way through the stream).
pub struct Halves {
    /// The first half of every partition's records.
    pub first: Vec<(i32, Vec<u8>)>,
    /// The rest.
    pub second: Vec<(i32, Vec<u8>)>,
    /// The largest event time of the first half.
    pub swap_time: i64,
    /// The smallest event time of the second half that is not a late event (within a second
    /// before `swap_time` or after).
    pub resume_time: i64,
}

impl Dataset {
    /// The records cut in two halves of every partition.
    pub fn halves(&self) -> Halves {
        let per_partition = self.records.len() / PARTITIONS as usize;
        let (first, second): (Vec<_>, Vec<_>) = self
            .records
            .iter()
            .enumerate()
            .partition(|(i, _)| i % per_partition < per_partition / 2);
        let first: Vec<(i32, Vec<u8>)> = first.into_iter().map(|(_, r)| r.clone()).collect();
        let second: Vec<(i32, Vec<u8>)> = second.into_iter().map(|(_, r)| r.clone()).collect();
        let swap_time = first
            .iter()
            .filter_map(|(_, p)| event_time(p))
            .max()
            .expect("times");
        let resume_time = second
            .iter()
            .filter_map(|(_, p)| event_time(p))
            .filter(|&t| t > swap_time - 1_000)
            .min()
            .expect("times");
        Halves {
            first,
            second,
            swap_time,
            resume_time,
        }
    }
}

impl Dataset {
    /// The dataset in a binary format: every event as `encode` makes it; the undecodable
    /// records become, alternately, an event as `unknown` makes it (framed with a schema id
    /// the registry does not know) and an encoded event cut short by a byte.
    pub fn encoded(
        &self,
        encode: &dyn Fn(&Value) -> Vec<u8>,
        unknown: &dyn Fn(&Value) -> Vec<u8>,
    ) -> Dataset {
        let mut junk = 0;
        let mut record = |payload: &[u8]| -> Vec<u8> {
            let event = serde_json::from_slice::<Value>(payload)
                .ok()
                .filter(|e| e["ts"].is_i64() && e["amount"].is_i64());
            if let Some(event) = event {
                return encode(&event);
            }
            junk += 1;
            let sample = serde_json::json!({ "key": "junk", "ts": junk, "amount": 77 });
            if junk % 2 == 0 {
                unknown(&sample)
            } else {
                let whole = encode(&sample);
                whole[..whole.len() - 1].to_vec()
            }
        };
        let mut records = Vec::with_capacity(self.records.len());
        let mut junk_records = Vec::new();
        for (partition, payload) in &self.records {
            let encoded = record(payload);
            if self.junk.contains(payload) {
                junk_records.push(encoded.clone());
            }
            records.push((*partition, encoded));
        }
        let late = self
            .late
            .iter()
            .map(|payload| encode(&serde_json::from_slice(payload).expect("late events are JSON")))
            .collect();
        Dataset {
            records,
            windows: self.windows.clone(),
            late,
            junk: junk_records,
        }
    }
}

/// The event time (`ts`) of a record of the dataset.
pub fn event_time(payload: &[u8]) -> Option<i64> {
    serde_json::from_slice::<Value>(payload).ok()?["ts"].as_i64()
}

/// The dataset: per partition 5 000 events over 100 s of event time with disorder under the
/// bound, some events a minute late, some records undecodable, and last a far-future event
/// that closes every window of the partition.
pub fn dataset() -> Dataset {
    dataset_of(PARTITIONS, EVENTS_PER_PARTITION)
}

/// The same kind of dataset over `partitions` partitions of `per_partition` records each
/// (late events from two fifths of each partition on).
pub fn dataset_of(partitions: u32, per_partition: i64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(7);
    let mut data = Dataset {
        records: Vec::new(),
        windows: BTreeMap::new(),
        late: Vec::new(),
        junk: Vec::new(),
    };
    for p in 0..partitions as i32 {
        for i in 0..per_partition {
            if i > 10 && i % 997 == 0 {
                let junk = if i % 2 == 0 {
                    format!("not json {p}-{i}").into_bytes()
                } else {
                    format!(r#"{{"key":"p{p}-no-time","n":{i}}}"#).into_bytes()
                };
                data.junk.push(junk.clone());
                data.records.push((p, junk));
                continue;
            }
            let key = format!("p{p}-k{}", rng.random_range(0..25));
            let amount: i64 = rng.random_range(1..100);
            // Late by a minute, long after the watermark passed (at most 256 records, 5 s of
            // event time, are read in one batch): late whatever the batching.
            let late = i >= per_partition * 2 / 5 && i % 700 == 0;
            let ts = if late {
                BASE_MS + i * 20 - 60_000
            } else {
                BASE_MS + i * 20 - rng.random_range(0..=400)
            };
            let payload = format!(r#"{{"key":"{key}","ts":{ts},"amount":{amount}}}"#).into_bytes();
            if late {
                data.late.push(payload.clone());
            } else {
                let start = ts - ts.rem_euclid(WINDOW_MS);
                let w = data
                    .windows
                    .entry((key, start))
                    .or_insert((0, 0, i64::MAX, i64::MIN));
                w.0 += 1;
                w.1 += amount;
                w.2 = w.2.min(amount);
                w.3 = w.3.max(amount);
            }
            data.records.push((p, payload));
        }
        let flush = format!(
            r#"{{"key":"flush","ts":{},"amount":0}}"#,
            BASE_MS + 10_000_000
        );
        data.records.push((p, flush.into_bytes()));
    }
    data
}

impl Dataset {
    /// The results Eddy must write, sorted.
    pub fn reference(&self) -> Vec<Row> {
        self.windows
            .iter()
            .map(|((key, start), &(count, sum, min, max))| {
                (
                    key.clone(),
                    *start,
                    start + WINDOW_MS,
                    "on_time".to_string(),
                    count,
                    sum,
                    min,
                    max,
                )
            })
            .collect()
    }
}

/// A result record as a row; checks it is keyed by its key.
pub fn row(record: &TailRecord) -> Row {
    let v: Value = serde_json::from_slice(&record.payload).expect("result is JSON");
    assert_eq!(
        record.key.as_deref(),
        v["key"].as_str().map(str::as_bytes),
        "keyed by key"
    );
    let int = |name: &str| v[name].as_i64().unwrap_or_else(|| panic!("{name} in {v}"));
    (
        v["key"].as_str().expect("key").to_string(),
        int("window_start"),
        int("window_end"),
        v["emit"].as_str().expect("emit").to_string(),
        int("count"),
        int("sum"),
        int("min"),
        int("max"),
    )
}

/// How one output topic compares with its reference.
#[derive(Debug, Default)]
pub struct Compared<T> {
    /// In the reference, not written.
    pub missing: Vec<T>,
    /// Written, not in the reference.
    pub unexpected: Vec<T>,
    /// Written more than once (extra copies).
    pub duplicates: usize,
}

impl<T: Ord + Clone> Compared<T> {
    /// Compares `got` with `want` as multisets where `want` has each item once.
    pub fn of(mut got: Vec<T>, want: &[T]) -> Self {
        got.sort();
        let mut counts: BTreeMap<&T, usize> = BTreeMap::new();
        for item in &got {
            *counts.entry(item).or_default() += 1;
        }
        let missing = want
            .iter()
            .filter(|w| !counts.contains_key(w))
            .cloned()
            .collect();
        let unexpected = counts
            .keys()
            .filter(|g| want.binary_search(g).is_err())
            .map(|g| (*g).clone())
            .collect();
        let duplicates = counts.values().map(|n| n - 1).sum();
        Self {
            missing,
            unexpected,
            duplicates,
        }
    }

    /// Nothing missing, nothing unexpected, no duplicates.
    pub fn exact(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.duplicates == 0
    }
}

/// The outputs compared with the reference: results, late events, dead letters.
pub struct Report {
    /// The results topic.
    pub results: Compared<Row>,
    /// The late topic (payloads).
    pub late: Compared<String>,
    /// The dead-letter topic (payloads).
    pub dead: Compared<String>,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Report {
    /// Compares what Eddy wrote (by topic) with the reference of `data`; checks the headers
    /// of side records on the way.
    pub fn of(data: &Dataset, outputs: &BTreeMap<String, Vec<TailRecord>>) -> Self {
        let empty = Vec::new();
        let topic = |name: &str| outputs.get(name).unwrap_or(&empty);
        for record in topic("dead") {
            assert!(
                record.header("eddy.error").is_some_and(|e| !e.is_empty()),
                "dead letters carry the error"
            );
            assert!(record.header("eddy.offset").is_some());
        }
        for record in topic("late") {
            assert_eq!(record.header("eddy.error"), Some("late"));
            assert!(record.header("eddy.watermark").is_some());
        }
        let payloads =
            |name: &str| -> Vec<String> { topic(name).iter().map(|r| text(&r.payload)).collect() };
        let sorted = |items: &[Vec<u8>]| -> Vec<String> {
            let mut v: Vec<String> = items.iter().map(|p| text(p)).collect();
            v.sort();
            v
        };
        Self {
            results: Compared::of(
                topic("results").iter().map(row).collect(),
                &data.reference(),
            ),
            late: Compared::of(payloads("late"), &sorted(&data.late)),
            dead: Compared::of(payloads("dead"), &sorted(&data.junk)),
        }
    }

    /// Asserts that every reference result, late event and dead letter was written and
    /// nothing else (duplicates allowed).
    pub fn assert_nothing_lost_or_wrong(&self) {
        for (name, missing, unexpected) in [
            (
                "results",
                self.results.missing.len(),
                self.results.unexpected.len(),
            ),
            ("late", self.late.missing.len(), self.late.unexpected.len()),
            ("dead", self.dead.missing.len(), self.dead.unexpected.len()),
        ] {
            assert_eq!(missing, 0, "{name}: nothing lost: {}", self.summary());
            assert_eq!(unexpected, 0, "{name}: nothing wrong: {}", self.summary());
        }
    }

    /// One line per topic: missing, unexpected, duplicates.
    pub fn summary(&self) -> String {
        format!(
            "results: {} missing, {} unexpected, {} duplicates; late: {} missing, {} unexpected, {} duplicates; dead letters: {} missing, {} unexpected, {} duplicates",
            self.results.missing.len(),
            self.results.unexpected.len(),
            self.results.duplicates,
            self.late.missing.len(),
            self.late.unexpected.len(),
            self.late.duplicates,
            self.dead.missing.len(),
            self.dead.unexpected.len(),
            self.dead.duplicates,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_counts_missing_unexpected_and_duplicates() {
        let c = Compared::of(vec![1, 2, 2, 4, 4, 4], &[1, 2, 3]);
        assert_eq!(c.missing, [3]);
        assert_eq!(c.unexpected, [4]);
        assert_eq!(c.duplicates, 3);
        assert!(!c.exact());
        assert!(Compared::of(vec![2, 1], &[1, 2]).exact());
    }
}
