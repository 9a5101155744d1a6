//! Example column map: sets fields on every JSON object event, e.g. to tag events with their
//! origin. The same map as `enrich-map`, written over columns: it reads nothing and returns the
//! configured values as columns, which the host writes into the records in place.
//!
//! Configuration: `{ "set": { "source": "eddy", "version": 2 } }`. Events that are not JSON
//! objects reject the batch.

use eddy_sdk::{ColumnMap, Error, Json};
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
    pointers: Vec<String>,
    values: Vec<String>,
}

impl ColumnMap for Enrich {
    type Config = EnrichConfig;
    type Row = Vec<Json>;
    type Out = Vec<Json>;
    const NAME: &'static str = "enrich";
    const VERSION: &'static str = "2.0.0";
    const DESCRIPTION: &'static str =
        "Sets configured fields on every JSON object event (over columns).";
    const CONFIG_SCHEMA: &'static str =
        r#"{"type":"object","properties":{"set":{"type":"object"}},"additionalProperties":false}"#;

    fn new(config: EnrichConfig) -> Result<Self, Error> {
        let pointers = config
            .set
            .keys()
            .map(|key| format!("/{}", key.replace('~', "~0").replace('/', "~1")))
            .collect();
        let values = config.set.values().map(Value::to_string).collect();
        Ok(Self { pointers, values })
    }

    fn reads(&self) -> Vec<String> {
        Vec::new()
    }

    fn writes(&self) -> Vec<String> {
        self.pointers.clone()
    }

    fn map(&mut self, _: Vec<Json>) -> Vec<Json> {
        self.values.iter().cloned().map(Json).collect()
    }
}

#[cfg(feature = "export")]
eddy_sdk::export_column_map!(Enrich);

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_sdk::columns::{Values, map_rows};

    #[test]
    fn sets_the_configured_fields_on_every_row() {
        let config: EnrichConfig =
            serde_json::from_str(r#"{"set":{"source":"eddy","a/b":2}}"#).expect("config");
        let mut map = Enrich::new(config).expect("valid");
        assert_eq!(map.writes(), ["/a~1b", "/source"]);
        let out = map_rows(&mut map, 2, &[]).expect("widths match");
        assert_eq!(out[0].values, Values::Json(vec!["2".into(), "2".into()]));
        assert_eq!(
            out[1].values,
            Values::Json(vec!["\"eddy\"".into(), "\"eddy\"".into()])
        );
        assert_eq!(out[1].valid, [true, true]);
    }
}
