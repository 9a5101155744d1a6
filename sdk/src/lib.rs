//! # eddy-sdk: write plugins for Eddy
//!
//! An Eddy plugin is a WebAssembly component that the `eddy` host runs in a sandbox and can
//! replace while the stream keeps flowing. With this crate a plugin is one plain Rust type, one
//! trait implementation and one macro line; the same type is unit-tested natively with
//! `cargo test`.
//!
//! ## A windowed aggregate
//!
//! ```
//! use eddy_sdk::{Aggregator, export_aggregator};
//! use serde::{Deserialize, Serialize};
//!
//! /// The spread (largest minus smallest value) of a group, times a configurable scale.
//! #[derive(Serialize, Deserialize)]
//! pub struct Spread {
//!     min: f64,
//!     max: f64,
//! }
//!
//! #[derive(Deserialize)]
//! #[serde(default, deny_unknown_fields)]
//! pub struct SpreadConfig {
//!     scale: f64,
//! }
//!
//! impl Default for SpreadConfig {
//!     fn default() -> Self {
//!         Self { scale: 1.0 }
//!     }
//! }
//!
//! impl Aggregator for Spread {
//!     type Config = SpreadConfig;
//!     const NAME: &'static str = "spread";
//!     const VERSION: &'static str = "1.0.0";
//!
//!     fn new(_config: &SpreadConfig) -> Self {
//!         Spread { min: f64::INFINITY, max: f64::NEG_INFINITY }
//!     }
//!     fn add(&mut self, value: f64) {
//!         self.min = self.min.min(value);
//!         self.max = self.max.max(value);
//!     }
//!     fn merge(&mut self, other: Self) {
//!         self.min = self.min.min(other.min);
//!         self.max = self.max.max(other.max);
//!     }
//!     fn finish(&self, config: &SpreadConfig, out: &mut Vec<f64>) {
//!         out.push((self.max - self.min) * config.scale);
//!     }
//! }
//!
//! export_aggregator!(Spread);
//!
//! // The same type, tested natively:
//! let config = SpreadConfig { scale: 2.0 };
//! let mut a = Spread::new(&config);
//! a.add(3.0);
//! a.add(5.0);
//! let mut b = Spread::new(&config);
//! b.add(10.0);
//! a.merge(b);
//! assert_eq!(eddy_sdk::testing::finish(&a, &config), vec![14.0]);
//! let restored: Spread = eddy_sdk::testing::round_trip(&a);
//! assert_eq!(eddy_sdk::testing::finish(&restored, &config), vec![14.0]);
//! ```
//!
//! Build it as a component with
//! `cargo build --release --target wasm32-wasip2` from a crate with
//! `crate-type = ["cdylib", "rlib"]`, and give the `.wasm` to the host.
//!
//! ## A filter
//!
//! ```
//! use eddy_sdk::{Error, Event, Filter, NoConfig, export_filter};
//!
//! /// Keeps events whose payload is not empty.
//! pub struct NonEmpty;
//!
//! impl Filter for NonEmpty {
//!     type Config = NoConfig;
//!     const NAME: &'static str = "non-empty";
//!     const VERSION: &'static str = "1.0.0";
//!     fn new(_: NoConfig) -> Result<Self, Error> {
//!         Ok(NonEmpty)
//!     }
//!     fn keep(&mut self, event: &Event<'_>) -> Result<bool, Error> {
//!         Ok(!event.payload.is_empty())
//!     }
//! }
//!
//! export_filter!(NonEmpty);
//! ```
//!
//! [`Map`] and [`FlatMap`] work the same way, exported with [`export_map!`] and
//! [`export_flat_map!`].
//!
//! ## A filter over columns
//!
//! A filter or map that needs only a few fields names them, and the host decodes them and
//! hands them over as typed columns: nothing is parsed inside the sandbox, so the predicate
//! costs what the predicate costs. Rows without a value (missing, null, another type) do not
//! pass unless the field is an `Option`.
//!
//! ```
//! use eddy_sdk::{ColumnFilter, Error, NoConfig, export_column_filter};
//!
//! /// Keeps events whose `/value` is at least 0.
//! pub struct NotNegative;
//!
//! impl ColumnFilter for NotNegative {
//!     type Config = NoConfig;
//!     type Row = f64;
//!     const NAME: &'static str = "not-negative";
//!     const VERSION: &'static str = "1.0.0";
//!     fn new(_: NoConfig) -> Result<Self, Error> {
//!         Ok(NotNegative)
//!     }
//!     fn reads(&self) -> Vec<String> {
//!         vec!["/value".into()]
//!     }
//!     fn keep(&mut self, value: f64) -> bool {
//!         value >= 0.0
//!     }
//! }
//!
//! export_column_filter!(NotNegative);
//! ```
//!
//! A [`ColumnMap`] reads fields the same way and returns the top-level fields to set, exported
//! with [`export_column_map!`]; [`columns::filter_rows`] and [`columns::map_rows`] run either
//! natively in tests.
//!
//! ## What crosses the sandbox
//!
//! The contract is the WIT package `eddy:plugin` in the repository's `wit/` folder. Calls carry
//! whole batches in columns (lists of numbers, one byte buffer plus offsets), because a call
//! costs about as much as a thousand values. A plugin imports nothing from the host but
//! [`log`](crate::log::log).

#![deny(missing_docs)]

extern crate self as eddy_sdk;

mod adapter_aggregate;
mod adapter_columns;
mod adapter_transform;
mod aggregator;
#[doc(hidden)]
pub mod bindings;
pub mod columns;
mod compensated;
mod error;
mod info;
pub mod log;
pub mod testing;
mod transform;

pub use aggregator::{Aggregator, NoConfig};
pub use columns::{ColumnFilter, ColumnMap, Json};
pub use compensated::CompensatedSum;
pub use error::Error;
pub use info::{Info, Kind};
pub use transform::{Event, Filter, FlatMap, Map, Record};

/// Used by the export macros; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::adapter_aggregate::AggregatorExport;
    pub use crate::adapter_columns::{ColumnFilterExport, ColumnMapExport, ColumnsExport};
    pub use crate::adapter_transform::{FilterExport, FlatMapExport, MapExport, TransformExport};
    pub use crate::bindings;
    pub use wit_bindgen;
}

/// Exports an [`Aggregator`] type as this component's `aggregate` interface.
///
/// Use it once, in a `cdylib` crate. It expands to nothing when the crate is not built for
/// WebAssembly, so the crate still builds and tests natively.
#[macro_export]
macro_rules! export_aggregator {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
            type EddyAggregatorExport = $crate::__private::AggregatorExport<$ty>;
            $crate::__private::bindings::aggregator::export_aggregator_world!(
                EddyAggregatorExport with_types_in $crate::__private::bindings::aggregator
            );
        };
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_transform {
    ($adapter:ident, $ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
            type EddyTransformExport =
                $crate::__private::TransformExport<$crate::__private::$adapter<$ty>>;
            $crate::__private::bindings::transform::export_transform_world!(
                EddyTransformExport with_types_in $crate::__private::bindings::transform
            );
        };
    };
}

/// Exports a [`Filter`] type as this component's `transformer` interface.
#[macro_export]
macro_rules! export_filter {
    ($ty:ty) => {
        $crate::__export_transform!(FilterExport, $ty);
    };
}

/// Exports a [`Map`] type as this component's `transformer` interface.
#[macro_export]
macro_rules! export_map {
    ($ty:ty) => {
        $crate::__export_transform!(MapExport, $ty);
    };
}

/// Exports a [`FlatMap`] type as this component's `transformer` interface.
#[macro_export]
macro_rules! export_flat_map {
    ($ty:ty) => {
        $crate::__export_transform!(FlatMapExport, $ty);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_columns {
    ($adapter:ident, $ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
            type EddyColumnsExport =
                $crate::__private::ColumnsExport<$crate::__private::$adapter<$ty>>;
            $crate::__private::bindings::columns::export_column_transform_world!(
                EddyColumnsExport with_types_in $crate::__private::bindings::columns
            );
        };
    };
}

/// Exports a [`ColumnFilter`] type as this component's `columns` interface.
#[macro_export]
macro_rules! export_column_filter {
    ($ty:ty) => {
        $crate::__export_columns!(ColumnFilterExport, $ty);
    };
}

/// Exports a [`ColumnMap`] type as this component's `columns` interface.
#[macro_export]
macro_rules! export_column_map {
    ($ty:ty) => {
        $crate::__export_columns!(ColumnMapExport, $ty);
    };
}
