//! librdkafka client settings from the pipeline config.

use rdkafka::ClientConfig;

use eddy_engine::config::{KafkaConfig, RebalanceProtocol, property_name, property_value};

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
                // A position out of the log is an error the loop handles (`kafka.on_reset`),
                // never a silent jump; partitions without a committed position are assigned
                // an explicit start.
                .set("auto.offset.reset", "error")
                .set("enable.partition.eof", "false")
                // librdkafka (2.4+) stops fetching a partition for this long once its local
                // queue passes `queued.min.messages`; at its default (1 s) the queue then runs
                // dry while the pipeline works through it, and the pipeline waits.
                .set("fetch.queue.backoff.ms", "10");
            match kafka.rebalance {
                RebalanceProtocol::Cooperative => {
                    config.set("partition.assignment.strategy", "cooperative-sticky");
                }
                RebalanceProtocol::Consumer => {
                    config.set("group.protocol", "consumer");
                }
                RebalanceProtocol::Eager => {
                    config.set("partition.assignment.strategy", "range");
                }
            }
            if let Some(name) = kafka.group_instance_id(|name| std::env::var(name).ok()) {
                // A static member: restarted under the same name, it gets its partitions
                // back without a rebalance (it does not leave the group when it stops).
                config.set("group.instance.id", name);
            }
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

#[cfg(test)]
mod tests {
    use eddy_engine::config::Config;

    use super::{Role, client_config};

    /// Eddy's own settings first, then `properties`, then the role's own properties.
    #[test]
    fn properties_layer_over_eddys_settings() {
        let config = Config::from_yaml(
            "source: { type: kafka, topic: clicks }\n\
             sink: { type: kafka, topic: counts }\n\
             kafka:\n  brokers: k1:9092\n  compression: zstd\n\
             \x20 properties: { security.protocol: SASL_SSL, sasl_username: eddy }\n\
             \x20 consumer_properties: { fetch.min.bytes: 1024 }\n\
             \x20 producer_properties: { message.max.bytes: 2000000 }\n",
        )
        .expect("valid");
        let client = client_config(&config.kafka, "b:1", Role::Producer);
        assert_eq!(client.get("sasl.username"), Some("eddy"));
        assert_eq!(client.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(client.get("compression.type"), Some("zstd"));
        assert_eq!(client.get("enable.idempotence"), Some("true"));
        assert_eq!(client.get("message.max.bytes"), Some("2000000"));
        assert_eq!(client.get("fetch.min.bytes"), None, "consumer-only");
        let consumer = client_config(&config.kafka, "b:1", Role::Consumer);
        assert_eq!(consumer.get("fetch.min.bytes"), Some("1024"));
        // librdkafka's 1 s default pause made the Kafka bench 2.2x slower.
        assert_eq!(consumer.get("fetch.queue.backoff.ms"), Some("10"));
    }
}
