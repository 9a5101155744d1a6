//! The trait a windowed aggregate implements.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Info, Kind};

/// A windowed aggregate function: the accumulator of one group (one key in one window).
///
/// The host keeps one value of this type per group inside the plugin and feeds it whole batches;
/// the type itself only sees one value at a time. The state is serialised (with `postcard`, via
/// serde) only for checkpoints and hot swaps; bump [`Aggregator::STATE_FORMAT`] whenever the
/// serialised form changes.
///
/// Export the type from a `cdylib` crate with [`export_aggregator!`](crate::export_aggregator).
pub trait Aggregator: Serialize + DeserializeOwned + Sized + 'static {
    /// Configuration, read from the JSON object given for this aggregate in the pipeline
    /// config (`{}` when none is given). Use [`crate::NoConfig`] for none.
    type Config: DeserializeOwned + 'static;

    /// Short name, e.g. `sum`.
    const NAME: &'static str;
    /// Semantic version; usually `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;
    /// Version of the serialised state. Versions with the same format take over each other's
    /// windows at a hot swap.
    const STATE_FORMAT: u32 = 1;
    /// One line for people.
    const DESCRIPTION: &'static str = "";
    /// JSON Schema of [`Aggregator::Config`].
    const CONFIG_SCHEMA: &'static str = r#"{"type":"object"}"#;

    /// Checks the configuration once before any group exists. The default accepts everything
    /// that deserialised.
    fn validate(_config: &Self::Config) -> Result<(), Error> {
        Ok(())
    }

    /// Names of the values [`Aggregator::finish`] produces, in order. The default is one value
    /// with an empty name: the result appears under the aggregate's own name.
    fn outputs(_config: &Self::Config) -> Vec<String> {
        vec![String::new()]
    }

    /// An empty accumulator.
    fn new(config: &Self::Config) -> Self;

    /// Adds one value.
    fn add(&mut self, value: f64);

    /// Absorbs another accumulator of the same configuration, as if its values had been added
    /// here.
    fn merge(&mut self, other: Self);

    /// Pushes exactly `outputs(config).len()` values onto `out`.
    fn finish(&self, config: &Self::Config, out: &mut Vec<f64>);
}

/// The [`Info`] of an aggregator type.
pub fn info<A: Aggregator>() -> Info {
    Info {
        name: A::NAME,
        version: A::VERSION,
        kind: Kind::Aggregator,
        state_format: A::STATE_FORMAT,
        description: A::DESCRIPTION,
        config_schema: A::CONFIG_SCHEMA,
    }
}

/// Reads a configuration from JSON: an empty string or `null` reads as `{}`.
pub fn parse_config<C: DeserializeOwned>(json: &str) -> Result<C, Error> {
    let json = json.trim();
    let json = if json.is_empty() || json == "null" {
        "{}"
    } else {
        json
    };
    Ok(serde_json::from_str(json)?)
}

/// Serialises an accumulator exactly as the plugin does for a checkpoint.
pub fn save<A: Aggregator>(group: &A, out: &mut Vec<u8>) -> Result<(), Error> {
    // Appended in place: no allocation per group.
    *out = postcard::to_extend(group, std::mem::take(out))?;
    Ok(())
}

/// Reads an accumulator written by [`save`].
pub fn restore<A: Aggregator>(bytes: &[u8]) -> Result<A, Error> {
    Ok(postcard::from_bytes(bytes)?)
}

/// Configuration of a plugin that takes none: accepts `{}` and refuses any key.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}
