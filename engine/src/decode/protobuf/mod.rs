//! Protobuf records: the message type from a `.proto` file (`decode.schema`, `decode.message`)
//! or, per record, from a schema registry (the record framed in its wire format: a zero byte,
//! the schema's 4-byte id, the message's indexes in the schema, then the message).
//!
//! A record is read like an Avro one: the wanted top-level fields are written out as JSON text
//! (singular scalars straight from the wire; messages, repeated fields and maps through a
//! decoded message in Protobuf's JSON mapping), everything else skipped by its wire type.
//! Fields are named as in the `.proto` file. A scalar without presence that is not on the wire
//! has its default value (proto3), so a missing `amount` reads as 0.

mod read;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor,
    SerializeOptions,
};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

pub use read::WireError;

use read::Wire;

use super::schema_source::{SchemaError, SchemaSource};
use super::{DecodeError, Slot};

/// The name a schema's text is compiled under.
const FILE: &str = "schema.proto";

/// Why a `.proto` schema cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// The text does not compile.
    #[error("not a Protobuf schema: {0}")]
    Compile(String),
    /// No message of that name (or none at all).
    #[error("the schema has no message {0}")]
    NoMessage(String),
}

/// A compiled `.proto` file (imports of Google's well-known types resolved).
#[derive(Debug, Clone)]
pub struct ProtoSchema {
    file: FileDescriptor,
}

/// The one in-memory file a schema is compiled from.
struct Source(String);

impl FileResolver for Source {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        if name == FILE {
            File::from_source(name, &self.0)
        } else {
            Err(protox::Error::file_not_found(name))
        }
    }
}

impl ProtoSchema {
    /// Compiles a `.proto` file's text.
    pub fn compile(text: &str) -> Result<Self, ProtoError> {
        let mut resolver = ChainFileResolver::new();
        resolver.add(Source(text.to_string()));
        resolver.add(GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler
            .open_file(FILE)
            .map_err(|e| ProtoError::Compile(e.to_string()))?;
        let pool: DescriptorPool = compiler.descriptor_pool();
        let file = pool
            .get_file_by_name(FILE)
            .ok_or_else(|| ProtoError::Compile("the file did not compile".into()))?;
        Ok(Self { file })
    }

    /// The message named `name` (full, `shop.Order`, or short, `Order`); none: the first.
    pub fn message(&self, name: Option<&str>) -> Result<MessageDescriptor, ProtoError> {
        let all: Vec<MessageDescriptor> = self.file.messages().flat_map(nested).collect();
        let found = match name {
            None => all.into_iter().next(),
            Some(name) => all
                .into_iter()
                .find(|m| m.full_name() == name || m.name() == name),
        };
        found.ok_or_else(|| ProtoError::NoMessage(name.unwrap_or("(none)").to_string()))
    }

    /// The message at `indexes` (the wire format's path: top-level message, then nested).
    pub fn message_at(&self, indexes: &[usize]) -> Option<MessageDescriptor> {
        let (first, rest) = indexes.split_first()?;
        let mut message = self.file.messages().nth(*first)?;
        for &i in rest {
            let child = message.child_messages().nth(i)?;
            message = child;
        }
        Some(message)
    }
}

/// A message and every message nested in it.
fn nested(message: MessageDescriptor) -> Vec<MessageDescriptor> {
    let mut all = vec![message.clone()];
    for child in message.child_messages() {
        all.extend(nested(child));
    }
    all
}

/// Where the message types of Protobuf records come from.
#[derive(Debug, Clone)]
pub enum ProtoSchemas {
    /// One message type for every record, which is the bare message.
    Fixed(MessageDescriptor),
    /// Per record, the schema its wire-format id names and the message its indexes name.
    Registry(Arc<dyn SchemaSource>),
}

/// Field numbers below this are looked up in a table.
const DENSE: usize = 256;

/// A wanted field.
#[derive(Debug)]
struct Wanted {
    index: usize,
    field: FieldDescriptor,
    /// Its type (looked up once).
    kind: Kind,
    /// A singular scalar: read straight from the wire.
    scalar: bool,
}

/// A message type projected on the decoder's top-level names.
#[derive(Debug)]
pub(super) struct Projection {
    message: MessageDescriptor,
    wanted: Vec<Wanted>,
    /// Field number → 1 + its index in `wanted` (0: not wanted), for numbers below [`DENSE`]
    /// (a lookup per field on the wire without hashing); larger numbers are looked up in
    /// `sparse`.
    dense: Vec<u16>,
    sparse: HashMap<u32, usize>,
    /// Per wanted name, the JSON text of its default when it has no presence and is not on
    /// the wire.
    defaults: Vec<Option<String>>,
}

impl Projection {
    fn new(message: MessageDescriptor, names: &[String]) -> Self {
        let mut wanted = Vec::new();
        let mut defaults = vec![None; names.len()];
        for (index, name) in names.iter().enumerate() {
            let Some(field) = message.get_field_by_name(name) else {
                continue;
            };
            let scalar =
                !field.is_list() && !field.is_map() && !matches!(field.kind(), Kind::Message(_));
            if scalar && !field.supports_presence() {
                defaults[index] = Some(default_json(&field));
            }
            wanted.push(Wanted {
                index,
                kind: field.kind(),
                field,
                scalar,
            });
        }
        let mut dense = vec![0u16; DENSE];
        let mut sparse = HashMap::new();
        for (i, w) in wanted.iter().enumerate() {
            let number = w.field.number();
            match dense.get_mut(number as usize) {
                // At most one wanted field per name the decoder reads: far fewer than 2^16.
                Some(slot) => *slot = u16::try_from(i + 1).unwrap_or(0),
                None => {
                    sparse.insert(number, i);
                }
            }
        }
        Self {
            message,
            wanted,
            dense,
            sparse,
            defaults,
        }
    }

    fn read(
        &self,
        datum: &[u8],
        scratch: &mut Vec<u8>,
        ranges: &mut [Option<Slot>],
    ) -> Result<(), String> {
        let mut wire = Wire::new(datum);
        let mut whole = false;
        while !wire.done() {
            let (number, wire_type) = wire.key().map_err(|e| e.to_string())?;
            let found = match self.dense.get(number as usize) {
                Some(&slot) => usize::from(slot).checked_sub(1),
                None => self.sparse.get(&number).copied(),
            };
            match found.map(|i| &self.wanted[i]) {
                Some(wanted) if wanted.scalar => {
                    let slot = wire
                        .scalar(number, &wanted.kind, wire_type, scratch)
                        .map_err(|e| e.to_string())?;
                    ranges[wanted.index] = Some(slot);
                }
                Some(_) => {
                    whole = true;
                    wire.skip(wire_type).map_err(|e| e.to_string())?;
                }
                None => wire.skip(wire_type).map_err(|e| e.to_string())?,
            }
        }
        if whole {
            let message =
                DynamicMessage::decode(self.message.clone(), datum).map_err(|e| e.to_string())?;
            let options = SerializeOptions::new()
                .use_proto_field_name(true)
                .stringify_64_bit_integers(false);
            let json = message
                .serialize_with_options(serde_json::value::Serializer, &options)
                .map_err(|e| e.to_string())?;
            for wanted in self.wanted.iter().filter(|w| !w.scalar) {
                if let Some(value) = json.get(wanted.field.name()) {
                    let start = scratch.len();
                    let _ = serde_json::to_writer(&mut *scratch, value);
                    ranges[wanted.index] = Some(Slot::Text(start, scratch.len()));
                }
            }
        }
        for (range, default) in ranges.iter_mut().zip(&self.defaults) {
            if let (None, Some(text)) = (&range, default) {
                let start = scratch.len();
                scratch.extend_from_slice(text.as_bytes());
                *range = Some(Slot::Text(start, scratch.len()));
            }
        }
        Ok(())
    }
}

/// A scalar field's default as JSON text.
fn default_json(field: &FieldDescriptor) -> String {
    match field.kind() {
        Kind::String => "\"\"".into(),
        Kind::Bytes => "\"\"".into(),
        Kind::Bool => "false".into(),
        Kind::Enum(e) => serde_json::to_string(e.default_value().name()).unwrap_or_default(),
        _ => "0".into(),
    }
}

/// A message's indexes in its schema (most often `[0]`).
pub type Indexes = smallvec::SmallVec<[usize; 4]>;

/// The last projection a batch used: by schema id and message indexes.
pub(super) type Memo = Option<(u32, Vec<usize>, Arc<Projection>)>;

/// Projections by schema id and message indexes (the fixed message under 0 and none).
type Projections = HashMap<(u32, Vec<usize>), Arc<Projection>>;

/// Reads the wanted top-level fields of Protobuf records.
#[derive(Debug, Clone)]
pub(super) struct ProtoReader {
    schemas: ProtoSchemas,
    names: Arc<[String]>,
    projections: Arc<Mutex<Projections>>,
}

impl ProtoReader {
    pub(super) fn new(schemas: ProtoSchemas, names: &[String]) -> Self {
        let mut projections = HashMap::new();
        if let ProtoSchemas::Fixed(message) = &schemas {
            projections.insert(
                (0, Vec::new()),
                Arc::new(Projection::new(message.clone(), names)),
            );
        }
        Self {
            schemas,
            names: names.into(),
            projections: Arc::new(Mutex::new(projections)),
        }
    }

    fn projection(
        &self,
        id: u32,
        indexes: &[usize],
        memo: &mut Memo,
    ) -> Result<Arc<Projection>, DecodeError> {
        if let Some((known, path, projection)) = memo
            && *known == id
            && path == indexes
        {
            return Ok(Arc::clone(projection));
        }
        let key = (id, indexes.to_vec());
        let cached = self
            .projections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        let projection = match cached {
            Some(projection) => projection,
            None => {
                let ProtoSchemas::Registry(source) = &self.schemas else {
                    return Err(DecodeError::Schema(format!("schema {id}: no such schema")));
                };
                let schema = source
                    .protobuf(id)
                    .map_err(|e: SchemaError| DecodeError::Schema(e.to_string()))?;
                let message = schema.message_at(indexes).ok_or_else(|| {
                    DecodeError::Schema(format!("schema {id}: no message at indexes {indexes:?}"))
                })?;
                let projection = Arc::new(Projection::new(message, &self.names));
                self.projections
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(key.clone(), Arc::clone(&projection));
                projection
            }
        };
        *memo = Some((key.0, key.1, Arc::clone(&projection)));
        Ok(projection)
    }

    /// Writes a whole record as JSON text onto `out` (Protobuf's JSON mapping with the field
    /// names of the `.proto` file, 64-bit integers as numbers, fields at their defaults too).
    pub(super) fn whole(
        &self,
        payload: &[u8],
        memo: &mut Memo,
        out: &mut Vec<u8>,
    ) -> Result<(), DecodeError> {
        let (id, indexes, datum) = match self.schemas {
            ProtoSchemas::Fixed(_) => (0, Indexes::new(), payload),
            ProtoSchemas::Registry(_) => framed(payload)?,
        };
        let projection = self.projection(id, &indexes, memo)?;
        let message = DynamicMessage::decode(projection.message.clone(), datum)
            .map_err(|e| DecodeError::Protobuf(e.to_string()))?;
        let options = SerializeOptions::new()
            .use_proto_field_name(true)
            .stringify_64_bit_integers(false)
            .skip_default_fields(false);
        let mut serializer = serde_json::Serializer::new(out);
        message
            .serialize_with_options(&mut serializer, &options)
            .map_err(|e| DecodeError::Protobuf(e.to_string()))
    }

    /// Reads one record's wanted fields into `scratch` and `ranges`.
    pub(super) fn fields(
        &self,
        payload: &[u8],
        memo: &mut Memo,
        scratch: &mut Vec<u8>,
        ranges: &mut [Option<Slot>],
    ) -> Result<(), DecodeError> {
        let (id, indexes, datum) = match self.schemas {
            ProtoSchemas::Fixed(_) => (0, Indexes::new(), payload),
            ProtoSchemas::Registry(_) => framed(payload)?,
        };
        let projection = self.projection(id, &indexes, memo)?;
        projection
            .read(datum, scratch, ranges)
            .map_err(DecodeError::Protobuf)
    }
}

/// The schema id, the message indexes and the message of a record in the schema registry's
/// Protobuf wire format (indexes: a zig-zag count, then zig-zag indexes; a count of 0 is the
/// first message, `[0]`).
pub fn framed(payload: &[u8]) -> Result<(u32, Indexes, &[u8]), DecodeError> {
    let (id, rest) = super::avro::framed(payload)?;
    let mut wire = Wire::new(rest);
    let zigzag = |wire: &mut Wire<'_>| -> Result<i64, DecodeError> {
        let v = wire
            .varint()
            .map_err(|e| DecodeError::Protobuf(e.to_string()))?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    };
    let count = zigzag(&mut wire)?;
    let indexes = if count == 0 {
        smallvec::smallvec![0]
    } else {
        let count = usize::try_from(count)
            .ok()
            .filter(|&c| c <= 64)
            .ok_or(DecodeError::NotFramed)?;
        (0..count)
            .map(|_| {
                zigzag(&mut wire)
                    .and_then(|i| usize::try_from(i).map_err(|_| DecodeError::NotFramed))
            })
            .collect::<Result<_, _>>()?
    };
    Ok((id, indexes, wire.rest()))
}

#[cfg(test)]
mod tests;
