//! Avro records: the writer schema from a file or, per record, from a schema registry (the
//! record framed in its wire format: a zero byte and the schema's 4-byte id before the
//! datum).
//!
//! A record is read by its schema compiled once ([`Plan`]) and projected on the top-level
//! fields the decoder wants: those are written out as JSON text (so the key, time and value
//! rules of the JSON path apply unchanged), every other field is skipped by its length, and
//! the whole datum must be consumed.

mod plan;
mod read;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

pub use plan::{Plan, PlanError};
pub use read::ReadError;

use plan::Node;
use read::Reader;

pub use super::schema_source::{SchemaError, SchemaSource};
use super::{DecodeError, Slot};

/// Where the writer schemas of Avro records come from.
#[derive(Debug, Clone)]
pub enum AvroSchemas {
    /// One schema for every record, which is a bare datum.
    Fixed(Arc<Plan>),
    /// Per record, the schema its wire-format id names.
    Registry(Arc<dyn SchemaSource>),
}

/// Reads the wanted top-level fields of Avro records.
#[derive(Debug, Clone)]
pub(super) struct AvroReader {
    schemas: AvroSchemas,
    /// The decoder's top-level names.
    names: Arc<[String]>,
    /// Projections by schema id (registry) or under 0 (fixed).
    projections: Arc<Mutex<HashMap<u32, Arc<Projection>>>>,
}

/// A schema projected on the decoder's top-level names.
#[derive(Debug)]
pub(super) struct Projection {
    plan: Arc<Plan>,
    /// Per field of the top-level record, the index of its name among the wanted ones.
    wanted: Vec<Option<usize>>,
    /// Per wanted name, units per millisecond when it is a timestamp (1 otherwise).
    pub(super) per_ms: Vec<i64>,
}

impl Projection {
    fn new(plan: Arc<Plan>, names: &[String]) -> Self {
        let mut per_ms = vec![1; names.len()];
        let wanted = plan
            .fields()
            .iter()
            .map(|(name, node)| {
                let index = names.iter().position(|n| n == name)?;
                if let Node::Timestamp(units) = plan.nodes[*node] {
                    per_ms[index] = units;
                }
                Some(index)
            })
            .collect();
        Self {
            plan,
            wanted,
            per_ms,
        }
    }

    /// Reads `datum`: the wanted fields go to `ranges` (by wanted index): numbers as they
    /// are, anything else as JSON text in `scratch`.
    fn read(
        &self,
        datum: &[u8],
        scratch: &mut Vec<u8>,
        ranges: &mut [Option<Slot>],
    ) -> Result<(), ReadError> {
        let mut reader = Reader::new(datum);
        for ((_, node), wanted) in self.plan.fields().iter().zip(&self.wanted) {
            match wanted {
                Some(index) => ranges[*index] = Some(reader.value(&self.plan, *node, scratch)?),
                None => reader.skip(&self.plan, *node)?,
            }
        }
        match reader.left() {
            0 => Ok(()),
            left => Err(ReadError::Trailing(left)),
        }
    }
}

/// The last projection a batch used, so records of one schema look it up once.
pub(super) type Memo = Option<(u32, Arc<Projection>)>;

impl AvroReader {
    pub(super) fn new(schemas: AvroSchemas, names: &[String]) -> Self {
        let mut projections = HashMap::new();
        if let AvroSchemas::Fixed(plan) = &schemas {
            projections.insert(0, Arc::new(Projection::new(Arc::clone(plan), names)));
        }
        Self {
            schemas,
            names: names.into(),
            projections: Arc::new(Mutex::new(projections)),
        }
    }

    /// The projection for a record's schema id.
    fn projection(&self, id: u32, memo: &mut Memo) -> Result<Arc<Projection>, SchemaError> {
        if let Some((known, projection)) = memo
            && *known == id
        {
            return Ok(Arc::clone(projection));
        }
        let cached = self
            .projections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned();
        let projection = match cached {
            Some(projection) => projection,
            None => {
                let AvroSchemas::Registry(source) = &self.schemas else {
                    return Err(SchemaError::Unknown(id, "no such schema".into()));
                };
                let projection = Arc::new(Projection::new(source.avro(id)?, &self.names));
                self.projections
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id, Arc::clone(&projection));
                projection
            }
        };
        *memo = Some((id, Arc::clone(&projection)));
        Ok(projection)
    }

    /// Reads one record's wanted fields into `scratch` and `ranges`; returns the projection
    /// it was read by.
    pub(super) fn fields(
        &self,
        payload: &[u8],
        memo: &mut Memo,
        scratch: &mut Vec<u8>,
        ranges: &mut [Option<Slot>],
    ) -> Result<Arc<Projection>, DecodeError> {
        let (id, datum) = match self.schemas {
            AvroSchemas::Fixed(_) => (0, payload),
            AvroSchemas::Registry(_) => framed(payload)?,
        };
        let projection = self
            .projection(id, memo)
            .map_err(|e| DecodeError::Schema(e.to_string()))?;
        projection
            .read(datum, scratch, ranges)
            .map_err(|e| DecodeError::Avro(e.to_string()))?;
        Ok(projection)
    }
}

impl AvroReader {
    /// Writes a whole record as JSON text (a JSON object of every field) onto `out`.
    pub(super) fn whole(
        &self,
        payload: &[u8],
        memo: &mut Memo,
        out: &mut Vec<u8>,
    ) -> Result<(), DecodeError> {
        let (id, datum) = match self.schemas {
            AvroSchemas::Fixed(_) => (0, payload),
            AvroSchemas::Registry(_) => framed(payload)?,
        };
        let projection = self
            .projection(id, memo)
            .map_err(|e| DecodeError::Schema(e.to_string()))?;
        let mut reader = Reader::new(datum);
        reader
            .json(&projection.plan, 0, out)
            .map_err(|e| DecodeError::Avro(e.to_string()))?;
        match reader.left() {
            0 => Ok(()),
            left => Err(DecodeError::Avro(ReadError::Trailing(left).to_string())),
        }
    }
}

/// The schema id and the datum of a record in the schema registry wire format.
pub fn framed(payload: &[u8]) -> Result<(u32, &[u8]), DecodeError> {
    match payload {
        [0, a, b, c, d, datum @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), datum)),
        _ => Err(DecodeError::NotFramed),
    }
}

#[cfg(test)]
mod tests;
