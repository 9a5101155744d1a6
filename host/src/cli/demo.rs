//! `eddy demo`: Eddy's main job with no external services. An in-process Kafka cluster, the
//! sample-event generator producing into it, the pipeline reading it with the built-in
//! plugins, and the result topic printed as results are produced.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eddy_engine::config::{Config, SinkConfig, SourceConfig};
use eddy_engine::generator::{Generator, GeneratorConfig};
use eddy_engine::stats::Stats;

use crate::app::{KafkaRun, StopFlag};
use crate::kafka::{Embedded, KafkaError, Producer, Tail, produce_paced};
use crate::pipeline::PipelineError;

/// How long the demo waits for the last results to be read back.
const DRAIN: Duration = Duration::from_secs(10);
/// Unread events the generator may be ahead of the pipeline, per partition: the embedded
/// cluster keeps at most 100 000 records (or 5 MB) per partition and deletes older ones, read
/// or not.
const AHEAD_PER_PARTITION: u64 = 20_000;

fn topic_of_source(config: &Config) -> Result<&str, KafkaError> {
    match &config.source {
        SourceConfig::Kafka { topic } => Ok(topic),
        _ => Err(KafkaError::Client(
            "the demo config's source must be a Kafka topic".into(),
        )),
    }
}

/// Runs `config` (whose source and sink are Kafka topics) on an embedded cluster fed by
/// `generator`; results are written to `out` as they arrive, late events and dead letters
/// to `side`. Ends when every generated event is processed and every window has fired.
pub fn run(
    config: &Config,
    generator: GeneratorConfig,
    stop: &StopFlag,
    out: &mut dyn Write,
    side: &mut dyn Write,
) -> Result<Stats, PipelineError> {
    let source = topic_of_source(config)?.to_string();
    let SinkConfig::Kafka { topic: results, .. } = &config.sink else {
        return Err(
            KafkaError::Client("the demo config's sink must be a Kafka topic".into()).into(),
        );
    };
    let embedded = Embedded::start()?;
    let partitions = config.kafka.embedded_partitions;
    let topics = config.kafka_topics();
    for (_, topic) in &topics {
        embedded.create_topic(topic, partitions)?;
    }
    let brokers = embedded.bootstrap_servers();
    tracing::info!(%brokers, "embedded Kafka cluster started");

    let producer = Producer::new(&config.kafka, &brokers)?;
    let consumed = Arc::new(AtomicU64::new(0));
    let ahead = AHEAD_PER_PARTITION * u64::from(partitions.max(1));
    let mut feeder = Some(std::thread::spawn({
        let (consumed, stop) = (Arc::clone(&consumed), stop.clone());
        move || {
            let mut generator = Generator::new(generator);
            let pace = |produced: u64| {
                while produced > consumed.load(Ordering::Relaxed) + ahead && !stop.is_set() {
                    std::thread::sleep(Duration::from_millis(5));
                }
            };
            produce_paced(&mut generator, &producer, &source, &pace)
        }
    }));

    let outputs: Vec<(&str, u32)> = topics
        .iter()
        .filter(|(key, _)| *key != "source.topic")
        .map(|(_, topic)| (*topic, partitions))
        .collect();
    let tail = Tail::new(&brokers, &outputs)?;
    let mut print = |mut wait: Duration| -> Result<u64, PipelineError> {
        let mut printed = 0;
        while let Some(record) = tail.next(wait) {
            wait = Duration::ZERO;
            let record = record?;
            if record.topic == *results {
                out.write_all(&record.payload)?;
                out.write_all(b"\n")?;
                printed += 1;
            } else {
                writeln!(
                    side,
                    "[{}] {} ({})",
                    record.topic,
                    String::from_utf8_lossy(&record.payload),
                    record.header("eddy.error").unwrap_or("")
                )?;
            }
        }
        Ok(printed)
    };

    let mut run = KafkaRun::start(config, &brokers)?;
    let mut produced = None;
    let mut printed = 0;
    while !stop.is_set() {
        run.round()?;
        consumed.store(run.stats().records_in, Ordering::Relaxed);
        printed += print(Duration::ZERO)?;
        if feeder.as_ref().is_some_and(|f| f.is_finished())
            && let Some(handle) = feeder.take()
        {
            let n = handle
                .join()
                .map_err(|_| KafkaError::Client("the event generator panicked".into()))??;
            tracing::info!(events = n, "all sample events produced");
            produced = Some(n);
        }
        if produced.is_some_and(|n| run.stats().records_in >= n) {
            break;
        }
    }
    let stats = run.shutdown(true)?;
    let deadline = Instant::now() + DRAIN;
    while printed < stats.results && Instant::now() < deadline {
        printed += print(Duration::from_millis(100))?;
    }
    // The reader of the output topics goes before the cluster it reads (else it logs
    // connection errors on the way out).
    drop(tail);
    drop(embedded);
    Ok(stats)
}
