//! Example map: sets fields on every JSON object event, e.g. to tag events with their origin.
//!
//! Configuration: `{ "set": { "source": "eddy", "version": 2 } }`. Events that are not JSON
//! objects reject the batch.

use eddy_sdk::{Error, Event, Map, Record};
use serde::Deserialize;
use serde_json::{Map as JsonMap, Value};

/// Configuration of `enrich`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnrichConfig {
    /// Fields to set (overwriting existing ones).
    pub set: JsonMap<String, Value>,
}

/// Sets the configured fields.
pub struct Enrich {
    set: JsonMap<String, Value>,
}

impl Map for Enrich {
    type Config = EnrichConfig;
    const NAME: &'static str = "enrich";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Sets configured fields on every JSON object event.";
    const CONFIG_SCHEMA: &'static str =
        r#"{"type":"object","properties":{"set":{"type":"object"}},"additionalProperties":false}"#;

    fn new(config: EnrichConfig) -> Result<Self, Error> {
        Ok(Self { set: config.set })
    }

    fn map(&mut self, event: &Event<'_>) -> Result<Record, Error> {
        let mut value: Value = serde_json::from_slice(event.payload)?;
        let object = value
            .as_object_mut()
            .ok_or_else(|| Error::msg("event is not a JSON object"))?;
        for (key, field) in &self.set {
            object.insert(key.clone(), field.clone());
        }
        Ok(Record {
            payload: serde_json::to_vec(&value)?,
            timestamp: event.timestamp,
        })
    }
}

#[cfg(feature = "export")]
eddy_sdk::export_map!(Enrich);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_fields() {
        let config: EnrichConfig = serde_json::from_str(r#"{"set":{"source":"eddy"}}"#).unwrap();
        let mut map = Enrich::new(config).unwrap();
        let out = map
            .map(&Event {
                payload: br#"{"a":1}"#,
                timestamp: 5,
            })
            .unwrap();
        assert_eq!(out.payload, br#"{"a":1,"source":"eddy"}"#.to_vec());
        assert_eq!(out.timestamp, 5);
        assert!(
            map.map(&Event {
                payload: b"[1]",
                timestamp: 0
            })
            .is_err()
        );
    }
}
