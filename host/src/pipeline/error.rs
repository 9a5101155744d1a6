//! Why a pipeline stopped.

use std::io;

use eddy_engine::aggregate::{PluginError, SwapRefused};
use eddy_engine::snapshot::RestoreError;
use eddy_engine::state::StateError;

use crate::kafka::KafkaError;
use crate::plugin::RegistryError;
use crate::sink::SinkError;

/// Why a pipeline stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A plugin could not be loaded or failed in a way that stops the pipeline (a trap).
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// Reading the source failed.
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    /// Writing an output failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// Kafka failed.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// Saved state could not be restored.
    #[error("restoring state: {0}")]
    Restore(#[from] RestoreError),
    /// Checkpoints could not be written or read.
    #[error(transparent)]
    State(#[from] StateError),
    /// The plugin registry could not be read or written.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A stage cannot switch to the version asked for (the plugin itself did not fail).
    #[error(transparent)]
    SwapRefused(#[from] SwapRefused),
    /// A round stopped after workers had computed batches it did not write: the pipeline's
    /// state is ahead of its outputs, so it is neither checkpointed nor committed.
    #[error(
        "a round stopped after its batches were computed and before they were written: state is not saved and progress not committed (the records are read again from the last commit)"
    )]
    Interrupted,
    /// The records' schema (a file, or the registry's client) cannot be used.
    #[error("{0}")]
    Schema(String),
}

impl From<eddy_engine::aggregate::SwapError> for PipelineError {
    fn from(error: eddy_engine::aggregate::SwapError) -> Self {
        match error {
            eddy_engine::aggregate::SwapError::Refused(refused) => Self::SwapRefused(refused),
            eddy_engine::aggregate::SwapError::Plugin(plugin) => Self::Plugin(plugin),
        }
    }
}
