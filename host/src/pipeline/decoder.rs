//! The decoder the config asks for: JSON, or Avro with its schema from a file or from the
//! schema registry.

use std::sync::Arc;

use eddy_engine::config::{Config, RecordFormat};
use eddy_engine::decode::Decoder;
use eddy_engine::decode::avro::{AvroSchemas, Plan};

use super::PipelineError;
use crate::schema_registry::SchemaRegistry;

/// The decoder of `config`'s records, and the registry client it asks (when it does).
pub(super) fn build(
    config: &Config,
) -> Result<(Decoder, Option<Arc<SchemaRegistry>>), PipelineError> {
    let (decode, aggregates) = (&config.decode, &config.aggregates);
    match decode.format {
        RecordFormat::Json => Ok((Decoder::new(decode, aggregates), None)),
        RecordFormat::Avro => match &decode.schema {
            Some(path) => {
                let refused = |message: String| {
                    PipelineError::Schema(format!("decode.schema {}: {message}", path.display()))
                };
                let text = std::fs::read_to_string(path).map_err(|e| refused(e.to_string()))?;
                let plan = Plan::parse(&text).map_err(|e| refused(e.to_string()))?;
                let schemas = AvroSchemas::Fixed(Arc::new(plan));
                Ok((Decoder::avro(decode, aggregates, schemas), None))
            }
            None => {
                let registry = SchemaRegistry::new(&config.schema_registry)
                    .map_err(|e| PipelineError::Schema(e.to_string()))?
                    .ok_or_else(|| {
                        PipelineError::Schema(
                            "decode.format: avro needs decode.schema or schema_registry.url".into(),
                        )
                    })?;
                let registry = Arc::new(registry);
                let schemas = AvroSchemas::Registry(registry.clone());
                Ok((Decoder::avro(decode, aggregates, schemas), Some(registry)))
            }
        },
    }
}
