//! Eddy: a stream processor whose user code (maps, filters and windowed aggregates) runs as
//! sandboxed WebAssembly components.
//!
//! Modules follow the data: [`config`] → [`source`] → [`event`] → [`decode`] → [`watermark`] →
//! [`window`] → [`groups`] → [`trigger`] → [`operator`] → [`aggregate`] (plugins in
//! [`plugin`]) → [`output`] / [`sink`], tied together by [`pipeline`]; Kafka in and out in
//! [`kafka`].

#![deny(unsafe_code)]

pub mod admin;
pub mod aggregate;
pub mod config;
pub mod decode;
pub mod demo;
pub mod event;
pub mod generator;
pub mod groups;
pub mod health;
pub mod kafka;
pub mod metrics;
pub mod operator;
pub mod output;
pub mod pipeline;
pub mod plugin;
pub mod plugin_test;
pub mod progress;
pub mod recovery;
pub mod registry;
pub mod retiring;
pub mod scaffold;
pub mod sink;
pub mod snapshot;
pub mod source;
pub mod stage;
pub mod state;
pub mod swap;
pub mod trigger;
pub mod watermark;
pub mod window;
