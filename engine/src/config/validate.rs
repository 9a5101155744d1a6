//! Checks of each config section that the types alone do not make (called by
//! [`Config::validate`]); every error names its key.

use std::time::Duration;

use super::*;

impl Config {
    pub(super) fn validate_window(&self) -> Result<(), ConfigError> {
        let at_least_1ms = |key: &str, d: &Duration| {
            if d.as_millis() == 0 {
                Err(invalid(key, "must be at least 1ms"))
            } else {
                Ok(())
            }
        };
        match &self.window {
            WindowConfig::Tumbling { size, offset } => {
                at_least_1ms("window.size", size)?;
                if offset >= size {
                    return Err(invalid("window.offset", "must be smaller than window.size"));
                }
            }
            WindowConfig::Sliding {
                size,
                slide,
                offset,
            } => {
                at_least_1ms("window.size", size)?;
                at_least_1ms("window.slide", slide)?;
                if slide > size {
                    return Err(invalid(
                        "window.slide",
                        "must not be larger than window.size",
                    ));
                }
                if size.as_millis() / slide.as_millis() > 1000 {
                    return Err(invalid(
                        "window.slide",
                        "gives more than 1000 windows per event",
                    ));
                }
                if offset >= slide {
                    return Err(invalid(
                        "window.offset",
                        "must be smaller than window.slide",
                    ));
                }
            }
            WindowConfig::Session { gap } => at_least_1ms("window.gap", gap)?,
        }
        Ok(())
    }

    pub(super) fn validate_trigger(&self) -> Result<(), ConfigError> {
        let (count, interval) = match &self.trigger {
            TriggerConfig::EventTime => (None, None),
            TriggerConfig::ProcessingTime { interval } => (None, Some(interval)),
            TriggerConfig::Count { count } => (Some(count), None),
            TriggerConfig::CountOrTime { count, interval } => (Some(count), Some(interval)),
        };
        if count == Some(&0) {
            return Err(invalid("trigger.count", "must be at least 1"));
        }
        if interval.is_some_and(|i| i.as_millis() == 0) {
            return Err(invalid("trigger.interval", "must be at least 1ms"));
        }
        Ok(())
    }

    pub(super) fn validate_postgres(&self) -> Result<(), ConfigError> {
        let table_name = |key: &str, table: &str| -> Result<(), ConfigError> {
            let parts: Vec<&str> = table.split('.').collect();
            let identifier = |part: &&str| {
                !part.is_empty()
                    && part.len() <= 63
                    && !part.starts_with(|c: char| c.is_ascii_digit())
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            };
            if parts.len() > 2 || !parts.iter().all(identifier) {
                return Err(invalid(
                    key,
                    format!(
                        "`{table}` is not a table name (letters, digits and _, at most 63, optionally schema.table)"
                    ),
                ));
            }
            Ok(())
        };
        let sides = [("late", &self.late), ("dead_letter", &self.dead_letter)];
        let SinkConfig::Postgres(sink) = &self.sink else {
            for (name, side) in sides {
                if matches!(side, SideOutputConfig::Postgres { .. }) {
                    return Err(invalid(
                        format!("{name}.type"),
                        "postgres needs the sink to be postgres too (side rows are written in the results' transactions)",
                    ));
                }
            }
            return Ok(());
        };
        if sink.url.expose().trim().is_empty() {
            return Err(invalid("sink.url", "name the PostgreSQL server"));
        }
        table_name("sink.table", &sink.table)?;
        if sink.retry_timeout.is_zero() {
            return Err(invalid("sink.retry_timeout", "must be at least 1ms"));
        }
        let mut tables = vec![sink.table.as_str()];
        for (name, side) in sides {
            let SideOutputConfig::Postgres { url, table } = side else {
                continue;
            };
            if url != &sink.url {
                return Err(invalid(
                    format!("{name}.url"),
                    "must be the same as sink.url (side rows are written in the results' transactions)",
                ));
            }
            table_name(&format!("{name}.table"), table)?;
            if tables.contains(&table.as_str()) {
                return Err(invalid(
                    format!("{name}.table"),
                    format!("`{table}` is already an output: give each output its own table"),
                ));
            }
            tables.push(table);
        }
        Ok(())
    }

    pub(super) fn validate_kafka(&self) -> Result<(), ConfigError> {
        let topics = self.kafka_topics();
        for (key, topic) in &topics {
            if topic.is_empty()
                || topic.len() > 249
                || !topic
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            {
                return Err(invalid(
                    *key,
                    format!(
                        "`{topic}` is not a Kafka topic name (letters, digits, . _ -; at most 249)"
                    ),
                ));
            }
        }
        if topics.is_empty() {
            return Ok(());
        }
        let kafka = &self.kafka;
        if kafka.brokers.trim().is_empty() {
            return Err(invalid(
                "kafka.brokers",
                "name at least one broker, or `embedded`",
            ));
        }
        if kafka.group_id.is_empty() {
            return Err(invalid("kafka.group_id", "must not be empty"));
        }
        if kafka
            .instance_id
            .as_ref()
            .is_some_and(|name| name.trim().is_empty())
        {
            return Err(invalid("kafka.instance_id", "must not be empty"));
        }
        if kafka.static_membership == StaticMembership::On
            && kafka
                .group_instance_id(|name| std::env::var(name).ok())
                .is_none()
        {
            return Err(invalid(
                "kafka.static_membership",
                "`on` needs a member name: set kafka.instance_id (or HOSTNAME)",
            ));
        }
        if kafka.rebalance == RebalanceProtocol::Consumer {
            // librdkafka refuses these with KIP-848's protocol: the broker owns them.
            let own = kafka
                .properties
                .keys()
                .chain(kafka.consumer_properties.keys());
            for name in own.map(|name| property_name(name)) {
                if [
                    "session.timeout.ms",
                    "heartbeat.interval.ms",
                    "partition.assignment.strategy",
                    "group.protocol.type",
                ]
                .contains(&name.as_str())
                {
                    return Err(invalid(
                        "kafka.rebalance",
                        format!(
                            "`consumer` (KIP-848) takes `{name}` from the broker's group settings; remove it from the Kafka properties or use `cooperative`"
                        ),
                    ));
                }
            }
        }
        if kafka.commit_interval.as_millis() == 0 {
            return Err(invalid("kafka.commit_interval", "must be at least 1ms"));
        }
        if kafka.delivery_timeout.as_millis() == 0 {
            return Err(invalid("kafka.delivery_timeout", "must be at least 1ms"));
        }
        if kafka.batch_bytes == 0 || kafka.batch_bytes > 2_147_483_647 {
            return Err(invalid(
                "kafka.batch_bytes",
                "must be between 1 and 2147483647",
            ));
        }
        if kafka.embedded_partitions == 0 || kafka.embedded_partitions > 1024 {
            return Err(invalid(
                "kafka.embedded_partitions",
                "must be between 1 and 1024",
            ));
        }
        for (table, properties) in [
            ("properties", &kafka.properties),
            ("consumer_properties", &kafka.consumer_properties),
            ("producer_properties", &kafka.producer_properties),
        ] {
            for (name, value) in properties {
                if value.is_object() || value.is_array() || value.is_null() {
                    return Err(invalid(
                        format!("kafka.{table}.{name}"),
                        "must be a string, number or boolean",
                    ));
                }
            }
        }
        Ok(())
    }

    pub(super) fn validate_state(&self) -> Result<(), ConfigError> {
        let state = &self.state;
        if state.checkpoint_interval.as_millis() == 0 {
            return Err(invalid("state.checkpoint_interval", "must be at least 1ms"));
        }
        if state.keep == 0 || state.keep > 100 {
            return Err(invalid("state.keep", "must be between 1 and 100"));
        }
        if state.shutdown_timeout.as_millis() == 0 {
            return Err(invalid("state.shutdown_timeout", "must be at least 1ms"));
        }
        if self
            .admin
            .token
            .as_deref()
            .is_some_and(|t| t.trim().len() < 8)
        {
            return Err(invalid("admin.token", "must be at least 8 characters"));
        }
        if state.max_open_groups == 0 {
            return Err(invalid("state.max_open_groups", "must be at least 1"));
        }
        if self.decode.max_record_bytes < 1024 {
            return Err(invalid("decode.max_record_bytes", "must be at least 1024"));
        }
        if self.decode.max_key_bytes == 0 {
            return Err(invalid("decode.max_key_bytes", "must be at least 1"));
        }
        if self.admin.max_concurrent_uploads == 0 {
            return Err(invalid(
                "admin.max_concurrent_uploads",
                "must be at least 1",
            ));
        }
        if self.admin.failed_auth_per_minute == 0 {
            return Err(invalid(
                "admin.failed_auth_per_minute",
                "must be at least 1",
            ));
        }
        if self.http.max_header_bytes < 8192 {
            return Err(invalid("http.max_header_bytes", "must be at least 8192"));
        }
        if self.http.request_timeout.as_millis() == 0 {
            return Err(invalid("http.request_timeout", "must be at least 1ms"));
        }
        if self.admin.max_upload_bytes < 1024 {
            return Err(invalid("admin.max_upload_bytes", "must be at least 1024"));
        }
        if state.backend == BackendKind::Rocksdb && state.dir.as_os_str().is_empty() {
            return Err(invalid("state.dir", "name a directory for RocksDB"));
        }
        if state
            .shared_dir
            .as_ref()
            .is_some_and(|d| d.as_os_str().is_empty())
        {
            return Err(invalid(
                "state.shared_dir",
                "name a directory or leave it unset",
            ));
        }
        if state.delivery == Delivery::ExactlyOnce {
            let topics = self.kafka_topics();
            let postgres = matches!(self.sink, SinkConfig::Postgres(_));
            if !topics.iter().any(|(key, _)| *key == "source.topic")
                || !(postgres || topics.iter().any(|(key, _)| *key == "sink.topic"))
            {
                return Err(invalid(
                    "state.delivery",
                    "exactly_once needs a Kafka source and a Kafka or PostgreSQL sink",
                ));
            }
            if postgres
                && let Some((key, _)) = topics.iter().find(|(key, _)| *key != "source.topic")
            {
                return Err(invalid(
                    *key,
                    "with a PostgreSQL sink, exactly_once commits results in PostgreSQL \
                     transactions: side outputs cannot be Kafka topics (use a PostgreSQL table, a file or stderr)",
                ));
            }
            if let Some(id) = &state.transactional_id
                && id.trim().is_empty()
            {
                return Err(invalid("state.transactional_id", "must not be empty"));
            }
        }
        Ok(())
    }
}

pub(super) fn check_pointer(key: &str, pointer: &str) -> Result<(), ConfigError> {
    if pointer.starts_with('/') {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("`{pointer}` is not a JSON pointer (e.g. /user/id)"),
        ))
    }
}

pub(super) fn check_plugin(key: &str, plugin: &str) -> Result<(), ConfigError> {
    if plugin.is_empty() {
        Err(invalid(key, "name a built-in plugin or a .wasm file"))
    } else {
        Ok(())
    }
}
