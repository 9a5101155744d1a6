//! An Avro writer schema compiled for reading: every type a node in one list, named types
//! referred to by index (so recursive types need no pointers), logical types reduced to what
//! reading them needs.

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::schema::{InnerDecimalSchema, Name, ResolvedSchema, UuidSchema};

/// How one Avro type is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Node {
    /// Nothing on the wire.
    Null,
    /// One byte.
    Boolean,
    /// A zig-zag varint (int, long, date, time, timestamps).
    Long,
    /// Four bytes, little endian.
    Float,
    /// Eight bytes, little endian.
    Double,
    /// A length, then bytes (shown as a string of their code points, as Avro's JSON does).
    Bytes,
    /// A length, then UTF-8.
    String,
    /// Blocks of items.
    Array(usize),
    /// Blocks of string keys and values.
    Map(usize),
    /// The branch index, then that branch.
    Union(Vec<usize>),
    /// The fields in order: name and node.
    Record(Vec<(String, usize)>),
    /// The symbol's index.
    Enum(Vec<String>),
    /// So many bytes.
    Fixed(usize),
    /// A decimal: its two's-complement unscaled value in bytes (`Some(n)`: fixed of `n`
    /// bytes), shown as a JSON number with `scale` digits after the point.
    Decimal {
        /// Fixed size, or none for bytes.
        size: Option<usize>,
        /// Digits after the point.
        scale: usize,
    },
    /// A long counting time since the epoch, so many units per millisecond: 1
    /// (`timestamp-millis`), 1,000 (`timestamp-micros`), 1,000,000 (`timestamp-nanos`).
    Timestamp(i64),
}

/// Why a schema cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The schema text is not an Avro schema.
    #[error("not an Avro schema: {0}")]
    Parse(String),
    /// The schema's top level is not a record, so fields cannot be named.
    #[error("the schema's top level is {0}, not a record")]
    NotARecord(String),
    /// A named type is used and never defined.
    #[error("the schema refers to {0}, which it does not define")]
    Unknown(String),
}

/// A compiled schema: its nodes, the first being the top-level record.
#[derive(Debug, Clone)]
pub struct Plan {
    pub(super) nodes: Vec<Node>,
}

impl Plan {
    /// Parses and compiles a schema's JSON text.
    pub fn parse(text: &str) -> Result<Self, PlanError> {
        let schema = Schema::parse_str(text).map_err(|e| PlanError::Parse(e.to_string()))?;
        Self::compile(&schema)
    }

    /// Compiles a parsed schema.
    pub fn compile(schema: &Schema) -> Result<Self, PlanError> {
        if !matches!(schema, Schema::Record(_)) {
            return Err(PlanError::NotARecord(kind(schema).into()));
        }
        let resolved =
            ResolvedSchema::try_from(schema).map_err(|e| PlanError::Parse(e.to_string()))?;
        let mut compiler = Compiler {
            names: resolved.get_names(),
            nodes: Vec::new(),
            named: HashMap::new(),
        };
        compiler.node(schema)?;
        Ok(Self {
            nodes: compiler.nodes,
        })
    }

    /// The names of the top-level record's fields, in order.
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields().iter().map(|(name, _)| name.as_str())
    }

    /// The top-level record's fields.
    pub(super) fn fields(&self) -> &[(String, usize)] {
        match &self.nodes[0] {
            Node::Record(fields) => fields,
            _ => &[],
        }
    }
}

struct Compiler<'s> {
    names: &'s HashMap<Name, &'s Schema>,
    nodes: Vec<Node>,
    /// Named types already compiled (or being compiled), by full name.
    named: HashMap<Name, usize>,
}

impl Compiler<'_> {
    fn push(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn node(&mut self, schema: &Schema) -> Result<usize, PlanError> {
        let node = match schema {
            Schema::Null => Node::Null,
            Schema::Boolean => Node::Boolean,
            Schema::Int
            | Schema::Long
            | Schema::Date
            | Schema::TimeMillis
            | Schema::TimeMicros
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => Node::Long,
            Schema::TimestampMillis => Node::Timestamp(1),
            Schema::TimestampMicros => Node::Timestamp(1_000),
            Schema::TimestampNanos => Node::Timestamp(1_000_000),
            Schema::Float => Node::Float,
            Schema::Double => Node::Double,
            Schema::Bytes | Schema::BigDecimal | Schema::Uuid(UuidSchema::Bytes) => Node::Bytes,
            Schema::String | Schema::Uuid(UuidSchema::String) => Node::String,
            Schema::Uuid(UuidSchema::Fixed(fixed)) | Schema::Duration(fixed) => {
                Node::Fixed(fixed.size)
            }
            Schema::Fixed(fixed) => {
                let index = self.push(Node::Fixed(fixed.size));
                self.named.insert(fixed.name.clone(), index);
                return Ok(index);
            }
            Schema::Decimal(decimal) => Node::Decimal {
                size: match &decimal.inner {
                    InnerDecimalSchema::Bytes => None,
                    InnerDecimalSchema::Fixed(fixed) => Some(fixed.size),
                },
                scale: decimal.scale,
            },
            Schema::Enum(e) => {
                let index = self.push(Node::Enum(e.symbols.clone()));
                self.named.insert(e.name.clone(), index);
                return Ok(index);
            }
            Schema::Array(array) => {
                let index = self.push(Node::Null);
                let items = self.node(&array.items)?;
                self.nodes[index] = Node::Array(items);
                return Ok(index);
            }
            Schema::Map(map) => {
                let index = self.push(Node::Null);
                let values = self.node(&map.types)?;
                self.nodes[index] = Node::Map(values);
                return Ok(index);
            }
            Schema::Union(union) => {
                let index = self.push(Node::Null);
                let branches = union
                    .variants()
                    .iter()
                    .map(|branch| self.node(branch))
                    .collect::<Result<_, _>>()?;
                self.nodes[index] = Node::Union(branches);
                return Ok(index);
            }
            Schema::Record(record) => {
                // Registered before its fields, which may refer to it.
                let index = self.push(Node::Null);
                self.named.insert(record.name.clone(), index);
                let fields = record
                    .fields
                    .iter()
                    .map(|field| Ok((field.name.clone(), self.node(&field.schema)?)))
                    .collect::<Result<_, PlanError>>()?;
                self.nodes[index] = Node::Record(fields);
                return Ok(index);
            }
            Schema::Ref { name } => {
                if let Some(&index) = self.named.get(name) {
                    return Ok(index);
                }
                let schema = *self
                    .names
                    .get(name)
                    .ok_or_else(|| PlanError::Unknown(name.to_string()))?;
                return self.node(schema);
            }
        };
        Ok(self.push(node))
    }
}

fn kind(schema: &Schema) -> &'static str {
    match schema {
        Schema::Null => "null",
        Schema::Boolean => "a boolean",
        Schema::Int | Schema::Long => "an integer",
        Schema::Float | Schema::Double => "a number",
        Schema::String => "a string",
        Schema::Array(_) => "an array",
        Schema::Map(_) => "a map",
        Schema::Union(_) => "a union",
        Schema::Enum(_) => "an enum",
        _ => "not a record",
    }
}
