//! The sample-event generator as a Kafka producer.

use super::KafkaError;
use super::producer::{Producer, Record};
use eddy_engine::generator::Generator;

/// Produces every event of `generator` to `topic`, keyed by the event's key, and waits until
/// all are acknowledged. Returns how many were produced.
pub fn produce(
    generator: &mut Generator,
    producer: &Producer,
    topic: &str,
) -> Result<u64, KafkaError> {
    produce_paced(generator, producer, topic, &|_| {})
}

/// Like [`produce`], calling `pace` with the number produced so far before each event (it may
/// wait, e.g. until a reader has caught up).
pub fn produce_paced(
    generator: &mut Generator,
    producer: &Producer,
    topic: &str,
    pace: &dyn Fn(u64),
) -> Result<u64, KafkaError> {
    let mut line = Vec::new();
    let mut produced = 0;
    while generator.next_event(&mut line) {
        pace(produced);
        let key = generator.last_key();
        producer.send(&Record {
            topic,
            partition: None,
            key: Some(key.as_bytes()),
            payload: &line,
            headers: &[],
            measure: false,
        })?;
        produced += 1;
    }
    producer.flush()?;
    Ok(produced)
}
