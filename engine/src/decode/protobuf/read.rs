//! Reading Protobuf's wire format: field keys, values skipped by their wire type, singular
//! scalars written out as JSON text.

use std::io::Write;

use base64::Engine;
use prost_reflect::Kind;

use crate::decode::Slot;

/// Why a payload does not read as a message of its schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The payload ends inside a value.
    #[error("the payload ends early (truncated)")]
    Truncated,
    /// A varint longer than ten bytes.
    #[error("invalid varint at byte {0}")]
    Varint(usize),
    /// A wire type that is not 0, 1, 2 or 5 (groups are not read).
    #[error("wire type {0} at byte {1} (groups are not supported)")]
    WireType(u64, usize),
    /// A field on the wire with another wire type than its declared type has.
    #[error("field {0} has wire type {1}, not that of its type {2}")]
    Mismatch(u32, u8, String),
    /// A string that is not UTF-8.
    #[error("field {0} is not UTF-8")]
    NotUtf8(u32),
    /// Field number 0.
    #[error("field number 0 at byte {0}")]
    FieldZero(usize),
}

/// A position in one payload.
pub(super) struct Wire<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Wire<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    pub(super) fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    /// What is left after this position.
    pub(super) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at.min(self.bytes.len())..]
    }

    pub(super) fn varint(&mut self) -> Result<u64, WireError> {
        let start = self.at;
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = *self.bytes.get(self.at).ok_or(WireError::Truncated)?;
            self.at += 1;
            value |= u64::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::Varint(start))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.at.checked_add(n).ok_or(WireError::Truncated)?;
        let taken = self.bytes.get(self.at..end).ok_or(WireError::Truncated)?;
        self.at = end;
        Ok(taken)
    }

    fn length(&mut self) -> Result<&'a [u8], WireError> {
        let len = usize::try_from(self.varint()?).map_err(|_| WireError::Truncated)?;
        self.take(len)
    }

    /// A field's key: its number and wire type.
    pub(super) fn key(&mut self) -> Result<(u32, u8), WireError> {
        let at = self.at;
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| WireError::Varint(at))?;
        if number == 0 {
            return Err(WireError::FieldZero(at));
        }
        let wire_type = (key & 7) as u8;
        if !matches!(wire_type, 0 | 1 | 2 | 5) {
            return Err(WireError::WireType(u64::from(wire_type), at));
        }
        Ok((number, wire_type))
    }

    /// Passes over a value of `wire_type`.
    pub(super) fn skip(&mut self, wire_type: u8) -> Result<(), WireError> {
        match wire_type {
            0 => self.varint().map(drop),
            1 => self.take(8).map(drop),
            2 => self.length().map(drop),
            _ => self.take(4).map(drop),
        }
    }

    /// Reads a singular scalar of `kind`: a number as it is, anything else written to `out`
    /// as JSON text (bytes in base64, an enum as its value's name, or its number when the
    /// schema has no such value).
    pub(super) fn scalar(
        &mut self,
        number: u32,
        kind: &Kind,
        wire_type: u8,
        out: &mut Vec<u8>,
    ) -> Result<Slot, WireError> {
        let expected = match kind {
            Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => 1,
            Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => 5,
            Kind::String | Kind::Bytes | Kind::Message(_) => 2,
            _ => 0,
        };
        if wire_type != expected {
            return Err(WireError::Mismatch(number, wire_type, format!("{kind:?}")));
        }
        let start = out.len();
        // Writing to a Vec cannot fail.
        match kind {
            Kind::Int32 => return Ok(Slot::Int(i64::from(self.varint()? as i64 as i32))),
            Kind::Int64 => return Ok(Slot::Int(self.varint()? as i64)),
            Kind::Uint32 => return Ok(Slot::Int(i64::from(self.varint()? as u32))),
            Kind::Uint64 => return Ok(unsigned(self.varint()?)),
            Kind::Sint32 | Kind::Sint64 => {
                let v = self.varint()?;
                return Ok(Slot::Int((v >> 1) as i64 ^ -((v & 1) as i64)));
            }
            Kind::Fixed64 => return Ok(unsigned(u64::from_le_bytes(self.eight()?))),
            Kind::Sfixed64 => return Ok(Slot::Int(i64::from_le_bytes(self.eight()?))),
            Kind::Double => return Ok(Slot::Float(f64::from_le_bytes(self.eight()?))),
            Kind::Fixed32 => return Ok(Slot::Int(i64::from(u32::from_le_bytes(self.four()?)))),
            Kind::Sfixed32 => return Ok(Slot::Int(i64::from(i32::from_le_bytes(self.four()?)))),
            Kind::Float => {
                return Ok(Slot::Float(f64::from(f32::from_le_bytes(self.four()?))));
            }
            Kind::Bool => out.extend_from_slice(if self.varint()? != 0 {
                b"true"
            } else {
                b"false"
            }),
            Kind::Enum(e) => {
                let value = self.varint()? as i64 as i32;
                match e.get_value(value) {
                    Some(v) => {
                        let _ = serde_json::to_writer(&mut *out, v.name());
                    }
                    None => {
                        let _ = write!(out, "{value}");
                    }
                }
            }
            Kind::String => {
                let text =
                    std::str::from_utf8(self.length()?).map_err(|_| WireError::NotUtf8(number))?;
                let _ = serde_json::to_writer(&mut *out, text);
            }
            Kind::Bytes => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(self.length()?);
                let _ = serde_json::to_writer(&mut *out, &encoded);
            }
            Kind::Message(_) => {
                return Err(WireError::Mismatch(number, wire_type, "a message".into()));
            }
        }
        Ok(Slot::Text(start, out.len()))
    }

    fn eight(&mut self) -> Result<[u8; 8], WireError> {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(self.take(8)?);
        Ok(bytes)
    }

    fn four(&mut self) -> Result<[u8; 4], WireError> {
        let mut bytes = [0; 4];
        bytes.copy_from_slice(self.take(4)?);
        Ok(bytes)
    }
}

/// An unsigned 64-bit integer: exact up to `i64::MAX`, a float beyond.
fn unsigned(value: u64) -> Slot {
    i64::try_from(value).map_or(Slot::Float(value as f64), Slot::Int)
}
