//! Reading Avro's binary encoding by a [`Plan`]: a value is skipped (lengths tell how far) or
//! written out as JSON text.

use std::io::Write;

use super::plan::{Node, Plan};
use crate::decode::Slot;

/// Why a payload does not read as a record of its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The payload ends inside a value.
    #[error("the payload ends early (truncated)")]
    Truncated,
    /// A length, count or union branch is out of range.
    #[error("invalid {0} at byte {1}")]
    Invalid(&'static str, usize),
    /// A string is not UTF-8.
    #[error("a string at byte {0} is not UTF-8")]
    NotUtf8(usize),
    /// Bytes are left after the record.
    #[error("{0} bytes are left after the record")]
    Trailing(usize),
}

/// A position in one payload.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    /// Bytes not read yet.
    pub(super) fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ReadError> {
        let end = self.at.checked_add(n).ok_or(ReadError::Truncated)?;
        let taken = self.bytes.get(self.at..end).ok_or(ReadError::Truncated)?;
        self.at = end;
        Ok(taken)
    }

    /// A zig-zag varint.
    pub(super) fn long(&mut self) -> Result<i64, ReadError> {
        let start = self.at;
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.at).ok_or(ReadError::Truncated)?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        Err(ReadError::Invalid("varint", start))
    }

    /// A length or count: a non-negative long.
    fn length(&mut self, what: &'static str) -> Result<usize, ReadError> {
        let at = self.at;
        usize::try_from(self.long()?).map_err(|_| ReadError::Invalid(what, at))
    }

    fn text(&mut self) -> Result<&'a str, ReadError> {
        let len = self.length("string length")?;
        let at = self.at;
        std::str::from_utf8(self.take(len)?).map_err(|_| ReadError::NotUtf8(at))
    }

    /// A block count of an array or map; a negative count is followed by the block's size.
    fn block(&mut self) -> Result<usize, ReadError> {
        let at = self.at;
        let count = self.long()?;
        if count < 0 {
            self.long()?;
        }
        usize::try_from(count.unsigned_abs()).map_err(|_| ReadError::Invalid("block count", at))
    }

    fn branch(&mut self, branches: &[usize]) -> Result<usize, ReadError> {
        let at = self.at;
        let index = self.long()?;
        usize::try_from(index)
            .ok()
            .and_then(|i| branches.get(i))
            .copied()
            .ok_or(ReadError::Invalid("union branch", at))
    }

    /// Passes over one value of `node`.
    pub(super) fn skip(&mut self, plan: &Plan, node: usize) -> Result<(), ReadError> {
        match &plan.nodes[node] {
            Node::Null => {}
            Node::Boolean => {
                self.take(1)?;
            }
            Node::Long | Node::Timestamp(_) | Node::Enum(_) => {
                self.long()?;
            }
            Node::Float => {
                self.take(4)?;
            }
            Node::Double => {
                self.take(8)?;
            }
            Node::Bytes | Node::String | Node::Decimal { size: None, .. } => {
                let len = self.length("length")?;
                self.take(len)?;
            }
            Node::Fixed(size)
            | Node::Decimal {
                size: Some(size), ..
            } => {
                self.take(*size)?;
            }
            Node::Array(items) => loop {
                let count = self.block()?;
                if count == 0 {
                    break;
                }
                for _ in 0..count {
                    self.skip(plan, *items)?;
                }
            },
            Node::Map(values) => loop {
                let count = self.block()?;
                if count == 0 {
                    break;
                }
                for _ in 0..count {
                    self.text()?;
                    self.skip(plan, *values)?;
                }
            },
            Node::Union(branches) => {
                let branch = self.branch(branches)?;
                self.skip(plan, branch)?;
            }
            Node::Record(fields) => {
                for (_, field) in fields {
                    self.skip(plan, *field)?;
                }
            }
        }
        Ok(())
    }

    /// Reads one value of `node`: a number as it is (through unions), anything else written
    /// to `out` as JSON text.
    pub(super) fn value(
        &mut self,
        plan: &Plan,
        node: usize,
        out: &mut Vec<u8>,
    ) -> Result<Slot, ReadError> {
        let mut node = node;
        while let Node::Union(branches) = &plan.nodes[node] {
            node = self.branch(branches)?;
        }
        Ok(match &plan.nodes[node] {
            Node::Long | Node::Timestamp(_) => Slot::Int(self.long()?),
            Node::Double => {
                let mut bytes = [0; 8];
                bytes.copy_from_slice(self.take(8)?);
                Slot::Float(f64::from_le_bytes(bytes))
            }
            Node::Float => {
                let bytes = self.take(4)?;
                Slot::Float(f64::from(f32::from_le_bytes([
                    bytes[0], bytes[1], bytes[2], bytes[3],
                ])))
            }
            _ => {
                let start = out.len();
                self.json(plan, node, out)?;
                Slot::Text(start, out.len())
            }
        })
    }

    /// Writes one value of `node` as JSON text. A union's value is written as the value of
    /// its branch (not wrapped in an object naming the branch), so a pointer reaches it.
    pub(super) fn json(
        &mut self,
        plan: &Plan,
        node: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), ReadError> {
        match &plan.nodes[node] {
            Node::Null => out.extend_from_slice(b"null"),
            Node::Boolean => {
                let at = self.at;
                match self.take(1)?[0] {
                    0 => out.extend_from_slice(b"false"),
                    1 => out.extend_from_slice(b"true"),
                    _ => return Err(ReadError::Invalid("boolean", at)),
                }
            }
            Node::Long | Node::Timestamp(_) => number(out, self.long()?),
            Node::Float => {
                let bytes = self.take(4)?;
                let value = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                float(out, f64::from(value));
            }
            Node::Double => {
                let mut bytes = [0; 8];
                bytes.copy_from_slice(self.take(8)?);
                float(out, f64::from_le_bytes(bytes));
            }
            Node::String => string(out, self.text()?),
            Node::Bytes => {
                let len = self.length("length")?;
                latin1(out, self.take(len)?);
            }
            Node::Fixed(size) => latin1(out, self.take(*size)?),
            Node::Decimal { size, scale } => {
                let at = self.at;
                let len = match size {
                    Some(size) => *size,
                    None => self.length("length")?,
                };
                let bytes = self.take(len)?;
                decimal(out, bytes, *scale).ok_or(ReadError::Invalid("decimal", at))?;
            }
            Node::Enum(symbols) => {
                let at = self.at;
                let symbol = usize::try_from(self.long()?)
                    .ok()
                    .and_then(|i| symbols.get(i))
                    .ok_or(ReadError::Invalid("enum symbol", at))?;
                string(out, symbol);
            }
            Node::Array(items) => {
                out.push(b'[');
                let mut first = true;
                loop {
                    let count = self.block()?;
                    if count == 0 {
                        break;
                    }
                    for _ in 0..count {
                        if !std::mem::take(&mut first) {
                            out.push(b',');
                        }
                        self.json(plan, *items, out)?;
                    }
                }
                out.push(b']');
            }
            Node::Map(values) => {
                out.push(b'{');
                let mut first = true;
                loop {
                    let count = self.block()?;
                    if count == 0 {
                        break;
                    }
                    for _ in 0..count {
                        if !std::mem::take(&mut first) {
                            out.push(b',');
                        }
                        string(out, self.text()?);
                        out.push(b':');
                        self.json(plan, *values, out)?;
                    }
                }
                out.push(b'}');
            }
            Node::Union(branches) => {
                let branch = self.branch(branches)?;
                self.json(plan, branch, out)?;
            }
            Node::Record(fields) => {
                out.push(b'{');
                for (i, (name, field)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    string(out, name);
                    out.push(b':');
                    self.json(plan, *field, out)?;
                }
                out.push(b'}');
            }
        }
        Ok(())
    }
}

fn number(out: &mut Vec<u8>, value: i64) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{value}");
}

/// A finite number as JSON; NaN and the infinities, which JSON cannot hold, as null.
fn float(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        let _ = serde_json::to_writer(&mut *out, &value);
    } else {
        out.extend_from_slice(b"null");
    }
}

fn string(out: &mut Vec<u8>, text: &str) {
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Bytes as a string of their code points (Avro's JSON encoding of bytes and fixed).
fn latin1(out: &mut Vec<u8>, bytes: &[u8]) {
    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
    string(out, &text);
}

/// A two's-complement big-endian unscaled value as a JSON number with `scale` decimals;
/// none when it is longer than 16 bytes.
fn decimal(out: &mut Vec<u8>, bytes: &[u8], scale: usize) -> Option<()> {
    if bytes.len() > 16 {
        return None;
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut value: i128 = if negative { -1 } else { 0 };
    for &b in bytes {
        value = (value << 8) | i128::from(b);
    }
    let digits = value.unsigned_abs().to_string();
    if negative {
        out.push(b'-');
    }
    if scale == 0 {
        out.extend_from_slice(digits.as_bytes());
    } else if digits.len() > scale {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        let _ = write!(out, "{whole}.{fraction}");
    } else {
        let _ = write!(out, "0.{digits:0>scale$}");
    }
    Some(())
}
