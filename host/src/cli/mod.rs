//! The commands besides `run` (which is [`crate::app`]): the demo, plugin scaffolding, running
//! a plugin offline, checking a config, the admin API's client, and the event generator.

pub mod admin_client;
pub mod demo;
pub mod generate;
pub mod new_plugin;
pub mod run_plugin;
pub mod validate;
