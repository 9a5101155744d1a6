//! The decoder the config asks for: JSON, or Avro or Protobuf with their schema from a file
//! or from the schema registry.

use std::sync::Arc;

use eddy_engine::config::{Config, RecordFormat};
use eddy_engine::decode::Decoder;
use eddy_engine::decode::avro::{AvroSchemas, Plan};
use eddy_engine::decode::protobuf::{ProtoSchema, ProtoSchemas};

use super::PipelineError;
use crate::schema_registry::SchemaRegistry;

/// The decoder of `config`'s records, and the registry client it asks (when it does).
pub(super) fn build(
    config: &Config,
) -> Result<(Decoder, Option<Arc<SchemaRegistry>>), PipelineError> {
    let (decode, aggregates) = (&config.decode, &config.aggregates);
    if decode.format == RecordFormat::Json {
        return Ok((Decoder::new(decode, aggregates), None));
    }
    if let Some(path) = &decode.schema {
        let refused = |message: String| {
            PipelineError::Schema(format!("decode.schema {}: {message}", path.display()))
        };
        let text = std::fs::read_to_string(path).map_err(|e| refused(e.to_string()))?;
        let decoder = if decode.format == RecordFormat::Avro {
            let plan = Plan::parse(&text).map_err(|e| refused(e.to_string()))?;
            Decoder::avro(decode, aggregates, AvroSchemas::Fixed(Arc::new(plan)))
        } else {
            let schema = ProtoSchema::compile(&text).map_err(|e| refused(e.to_string()))?;
            let message = schema
                .message(decode.message.as_deref())
                .map_err(|e| refused(e.to_string()))?;
            Decoder::protobuf(decode, aggregates, ProtoSchemas::Fixed(message))
        };
        return Ok((decoder, None));
    }
    let registry = SchemaRegistry::new(&config.schema_registry)
        .map_err(|e| PipelineError::Schema(e.to_string()))?
        .ok_or_else(|| {
            PipelineError::Schema("decode.format needs decode.schema or schema_registry.url".into())
        })?;
    let registry = Arc::new(registry);
    let decoder = if decode.format == RecordFormat::Avro {
        Decoder::avro(decode, aggregates, AvroSchemas::Registry(registry.clone()))
    } else {
        Decoder::protobuf(decode, aggregates, ProtoSchemas::Registry(registry.clone()))
    };
    Ok((decoder, Some(registry)))
}
