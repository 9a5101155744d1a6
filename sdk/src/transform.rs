//! The traits a map, a filter and a flat-map implement.

use serde::de::DeserializeOwned;

use crate::{Error, Info, Kind};

/// An event as a transform sees it: the record's payload (usually JSON) and its timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// The payload bytes.
    pub payload: &'a [u8],
    /// Timestamp, epoch milliseconds.
    pub timestamp: i64,
}

/// An event a transform produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// Timestamp, epoch milliseconds.
    pub timestamp: i64,
}

macro_rules! transform_trait {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $(#[$fdoc:meta])* fn $f:ident(&mut self, event: &Event<'_> $(, $arg:ident: $argty:ty)?) -> $ret:ty) => {
        $(#[$doc])*
        pub trait $name: Sized + 'static {
            /// Configuration, read from the JSON object given for this stage in the pipeline
            /// config (`{}` when none is given). Use [`crate::NoConfig`] for none.
            type Config: DeserializeOwned;
            /// Short name.
            const NAME: &'static str;
            /// Semantic version; usually `env!("CARGO_PKG_VERSION")`.
            const VERSION: &'static str;
            /// One line for people.
            const DESCRIPTION: &'static str = "";
            /// JSON Schema of the configuration.
            const CONFIG_SCHEMA: &'static str = r#"{"type":"object"}"#;
            /// The kind the host sees.
            const KIND: Kind = $kind;

            /// Builds the transform from its configuration.
            fn new(config: Self::Config) -> Result<Self, Error>;

            $(#[$fdoc])*
            fn $f(&mut self, event: &Event<'_> $(, $arg: $argty)?) -> $ret;

            /// What `describe()` reports.
            fn info() -> Info {
                Info {
                    name: Self::NAME,
                    version: Self::VERSION,
                    kind: Self::KIND,
                    state_format: 0,
                    description: Self::DESCRIPTION,
                    config_schema: Self::CONFIG_SCHEMA,
                }
            }
        }
    };
}

transform_trait!(
    /// Keeps some events unchanged. Export with [`export_filter!`](crate::export_filter).
    Filter, Kind::Filter,
    /// Whether `event` passes. An error rejects the whole batch.
    fn keep(&mut self, event: &Event<'_>) -> Result<bool, Error>
);

transform_trait!(
    /// Turns every event into one event. Export with [`export_map!`](crate::export_map).
    Map, Kind::Map,
    /// The event that replaces `event`. An error rejects the whole batch.
    fn map(&mut self, event: &Event<'_>) -> Result<Record, Error>
);

transform_trait!(
    /// Turns every event into zero or more events. Export with
    /// [`export_flat_map!`](crate::export_flat_map).
    FlatMap, Kind::FlatMap,
    /// Pushes the events made from `event` onto `out`. An error rejects the whole batch.
    fn flat_map(&mut self, event: &Event<'_>, out: &mut Vec<Record>) -> Result<(), Error>
);
