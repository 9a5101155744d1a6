//! Where the schemas of binary records come from when records name them by id: a schema
//! registry, which the host asks (the engine does no I/O).

use std::fmt::Debug;
use std::sync::Arc;

use super::avro::Plan;
use super::protobuf::ProtoSchema;

/// Why a schema id gives no schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The registry does not know the id, or its schema cannot be read.
    #[error("schema {0}: {1}")]
    Unknown(u32, String),
    /// The registry could not be asked (after its retries).
    #[error("schema {0}: the registry is unreachable: {1}")]
    Unavailable(u32, String),
}

/// Schemas by id, from a schema registry; the host's client.
pub trait SchemaSource: Send + Sync + Debug {
    /// The compiled Avro schema with this id.
    fn avro(&self, id: u32) -> Result<Arc<Plan>, SchemaError>;

    /// The compiled Protobuf schema with this id.
    fn protobuf(&self, id: u32) -> Result<Arc<ProtoSchema>, SchemaError>;
}
