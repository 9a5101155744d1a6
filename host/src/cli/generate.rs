//! `eddy generate`: sample events as JSON lines on standard output, or produced to a topic.

use std::io::{self, BufWriter, Write};

use eddy_engine::config::KafkaConfig;
use eddy_engine::generator::{Generator, GeneratorConfig};

use crate::kafka::{KafkaError, Producer, produce};

/// Why generating stopped.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The generator's settings are not valid.
    #[error("{key}: {message}")]
    Config {
        /// The offending setting.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// Writing to standard output failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// Producing to Kafka failed.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
}

/// Generates `config.events` events: to `topic` on `brokers` when given, else as lines on
/// `out`. Returns how many.
pub fn run(
    config: GeneratorConfig,
    target: Option<(&str, &str)>,
    out: &mut dyn Write,
) -> Result<u64, GenerateError> {
    config
        .validate()
        .map_err(|(key, message)| GenerateError::Config {
            key: key.to_string(),
            message: message.to_string(),
        })?;
    let mut generator = Generator::new(config);
    if let Some((topic, brokers)) = target {
        let producer = Producer::new(&KafkaConfig::default(), brokers)?;
        let produced = produce(&mut generator, &producer, topic)?;
        tracing::info!(produced, %topic, "events produced");
        return Ok(produced);
    }
    let mut line = Vec::new();
    let mut out = BufWriter::new(out);
    let mut written = 0;
    while generator.next_event(&mut line) {
        line.push(b'\n');
        out.write_all(&line)?;
        written += 1;
    }
    out.flush()?;
    Ok(written)
}
