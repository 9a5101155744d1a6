//! librdkafka client settings from the pipeline config.

use rdkafka::ClientConfig;

use crate::config::{KafkaConfig, property_name, property_value};

/// What a client is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The source's group consumer.
    Consumer,
    /// The producer of results and side outputs.
    Producer,
}

fn millis(d: std::time::Duration) -> String {
    d.as_millis().to_string()
}

/// The librdkafka settings for `role`: Eddy's own first, then `properties`, then the role's
/// own properties, so a user can override anything.
pub fn client_config(kafka: &KafkaConfig, brokers: &str, role: Role) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    match role {
        Role::Consumer => {
            config
                .set("group.id", &kafka.group_id)
                .set("enable.auto.commit", "false")
                .set("enable.auto.offset.store", "false")
                .set("auto.offset.reset", "earliest")
                .set("enable.partition.eof", "false");
        }
        Role::Producer => {
            config
                .set("enable.idempotence", "true")
                .set("acks", "all")
                .set("linger.ms", millis(kafka.linger))
                .set("batch.size", kafka.batch_bytes.to_string())
                .set("compression.type", kafka.compression.as_str())
                .set("delivery.timeout.ms", millis(kafka.delivery_timeout))
                .set("retry.backoff.ms", millis(kafka.retry_backoff));
        }
    }
    let own = match role {
        Role::Consumer => &kafka.consumer_properties,
        Role::Producer => &kafka.producer_properties,
    };
    for (name, value) in kafka.properties.iter().chain(own) {
        config.set(property_name(name), property_value(value));
    }
    config
}
