//! Producing the test input and reading Eddy's output topics back.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eddy::kafka::{Producer, Record, Tail, TailRecord};
use eddy_engine::config::KafkaConfig;

use crate::dataset::PARTITIONS;

/// A producer for test input (batching as configured by default). It waits out broker
/// outages of up to two minutes (tests kill, restart and pause brokers).
pub fn input_producer(brokers: &str) -> Producer {
    let kafka = KafkaConfig {
        delivery_timeout: Duration::from_secs(120),
        ..KafkaConfig::default()
    };
    Producer::new(&kafka, brokers).expect("test producer")
}

/// Sends `records` to `events` and waits for every acknowledgement.
pub fn produce_with(producer: &Producer, records: &[(i32, Vec<u8>)]) {
    for (partition, payload) in records {
        producer
            .send(&Record {
                topic: "events",
                partition: Some(*partition),
                key: None,
                payload,
                headers: &[],
                measure: false,
            })
            .expect("queued");
    }
    producer.flush().expect("all test records acknowledged");
}

/// Produces `data` (partition by partition, `partitions` of equal length) to `events` on a
/// thread of its own, in `slices` slices, one every `every` — each slice a part of every
/// partition, in order. Joining the handle confirms every record was acknowledged (a failure
/// is the thread's panic).
pub fn feed_in_background(
    brokers: &str,
    data: &[(i32, Vec<u8>)],
    partitions: usize,
    (slices, every): (usize, Duration),
) -> std::thread::JoinHandle<()> {
    let (brokers, data) = (brokers.to_string(), data.to_vec());
    std::thread::spawn(move || {
        let producer = input_producer(&brokers);
        let per_partition = data.len() / partitions;
        for slice in 0..slices {
            let range = slice * per_partition / slices..(slice + 1) * per_partition / slices;
            let records: Vec<(i32, Vec<u8>)> = (0..partitions)
                .flat_map(|p| {
                    data[p * per_partition..(p + 1) * per_partition][range.clone()].to_vec()
                })
                .collect();
            produce_with(&producer, &records);
            std::thread::sleep(every);
        }
    })
}

/// Sends `records` to `events`.
pub fn produce(brokers: &str, records: &[(i32, Vec<u8>)]) {
    produce_with(&input_producer(brokers), records);
}

/// Reads the output topics (`read_committed`) until `results` results arrived and then
/// `quiet` passed without a record (to see duplicates), or `limit` passed.
pub fn read_outputs(
    brokers: &str,
    results: usize,
    quiet: Duration,
    limit: Duration,
) -> BTreeMap<String, Vec<TailRecord>> {
    let tail = Tail::new(
        brokers,
        &[
            ("results", PARTITIONS),
            ("late", PARTITIONS),
            ("dead", PARTITIONS),
        ],
    )
    .expect("reader");
    let mut by_topic: BTreeMap<String, Vec<TailRecord>> = BTreeMap::new();
    let deadline = Instant::now() + limit;
    let mut quiet_since = None;
    while Instant::now() < deadline {
        match tail.next(Duration::from_millis(200)) {
            Some(record) => {
                let record = record.expect("read");
                by_topic
                    .entry(record.topic.clone())
                    .or_default()
                    .push(record);
                quiet_since = None;
            }
            None => {
                let have = by_topic.get("results").map_or(0, Vec::len);
                let since = *quiet_since.get_or_insert_with(Instant::now);
                if have >= results && since.elapsed() > quiet {
                    break;
                }
            }
        }
    }
    by_topic
}

/// Waits until the result topic has been quiet for two seconds (the run caught up).
pub fn wait_until_quiet(brokers: &str) {
    let tail = Tail::new(brokers, &[("results", PARTITIONS)]).expect("reader");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = Instant::now();
    let mut seen = 0;
    while Instant::now() < deadline && (seen == 0 || last.elapsed() < Duration::from_secs(2)) {
        if tail.next(Duration::from_millis(200)).is_some() {
            seen += 1;
            last = Instant::now();
        }
    }
}
