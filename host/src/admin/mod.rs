//! The admin API: the plugin registry over HTTP, and hot swap of pipeline stages.

mod api;
mod client;
mod control;

pub use api::{Activation, AdminState, ApiError, UploadLabels, router};
pub use client::{Client, ClientError};
pub use control::{Change, Control, StageView};
