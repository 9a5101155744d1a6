//! Typed columns of fields read out of a batch's JSON records, for column transforms: the host
//! decodes the fields a plugin asks for with the decoder's scanner and hands them over as one
//! column per field.

use serde_json::Value;

use super::scan;
use super::{Found, Pointer, follow};
use crate::event::RawBatch;

/// How a field's value is read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// A JSON number, as f64.
    Float,
    /// A JSON number that is an integer in the i64 range.
    Integer,
    /// A JSON string, unescaped.
    Text,
    /// `true` or `false`.
    Boolean,
    /// Any JSON value, as its JSON text.
    Json,
}

/// A field a column transform reads or writes: a JSON pointer and a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnField {
    /// JSON pointer, e.g. `/amount`.
    pub pointer: String,
    /// How the value is read or written.
    pub column_type: ColumnType,
}

/// The values of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    /// Numbers.
    Float(Vec<f64>),
    /// Integers.
    Integer(Vec<i64>),
    /// Strings.
    Text(Vec<String>),
    /// Booleans.
    Boolean(Vec<bool>),
    /// JSON texts.
    Json(Vec<String>),
}

impl ColumnValues {
    /// Rows in the column.
    pub fn len(&self) -> usize {
        match self {
            ColumnValues::Float(v) => v.len(),
            ColumnValues::Integer(v) => v.len(),
            ColumnValues::Text(v) | ColumnValues::Json(v) => v.len(),
            ColumnValues::Boolean(v) => v.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The column's type.
    pub fn column_type(&self) -> ColumnType {
        match self {
            ColumnValues::Float(_) => ColumnType::Float,
            ColumnValues::Integer(_) => ColumnType::Integer,
            ColumnValues::Text(_) => ColumnType::Text,
            ColumnValues::Boolean(_) => ColumnType::Boolean,
            ColumnValues::Json(_) => ColumnType::Json,
        }
    }

    fn empty(column_type: ColumnType, rows: usize) -> Self {
        match column_type {
            ColumnType::Float => ColumnValues::Float(Vec::with_capacity(rows)),
            ColumnType::Integer => ColumnValues::Integer(Vec::with_capacity(rows)),
            ColumnType::Text => ColumnValues::Text(Vec::with_capacity(rows)),
            ColumnType::Boolean => ColumnValues::Boolean(Vec::with_capacity(rows)),
            ColumnType::Json => ColumnValues::Json(Vec::with_capacity(rows)),
        }
    }

    /// Appends `found` read in this column's type; false (and a placeholder) when it is not
    /// of that type.
    fn push(&mut self, found: Option<Found<'_>>) -> bool {
        let found = found.filter(|f| !f.is_null());
        match self {
            ColumnValues::Float(v) => push_or(v, found.and_then(|f| f.number()), 0.0),
            ColumnValues::Integer(v) => push_or(v, found.and_then(|f| f.integer()), 0),
            ColumnValues::Text(v) => push_or(
                v,
                found.and_then(|f| f.text().map(|t| t.into_owned())),
                String::new(),
            ),
            ColumnValues::Boolean(v) => push_or(v, found.and_then(|f| f.boolean()), false),
            ColumnValues::Json(v) => push_or(v, found.map(|f| f.json()), String::new()),
        }
    }
}

fn push_or<T>(values: &mut Vec<T>, value: Option<T>, placeholder: T) -> bool {
    let valid = value.is_some();
    values.push(value.unwrap_or(placeholder));
    valid
}

/// One field over a batch: `valid[i]` is false where row `i` has no value of the field's type.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The values (placeholders where not valid).
    pub values: ColumnValues,
    /// Whether row `i` holds a value.
    pub valid: Vec<bool>,
}

/// Reads the fields a column transform asks for out of JSON records.
#[derive(Debug, Clone)]
pub struct ColumnReader {
    names: Vec<String>,
    fields: Vec<(Pointer, usize, ColumnType)>,
}

impl ColumnReader {
    /// A reader of `fields`, in that order.
    pub fn new(fields: &[ColumnField]) -> Self {
        let mut names: Vec<String> = Vec::new();
        let fields = fields
            .iter()
            .map(|field| {
                let pointer = Pointer::new(&field.pointer);
                let first = pointer.tokens.first().cloned().unwrap_or_default();
                let top = names.iter().position(|n| *n == first).unwrap_or_else(|| {
                    names.push(first);
                    names.len() - 1
                });
                (pointer, top, field.column_type)
            })
            .collect();
        Self { names, fields }
    }

    /// One column per field over every record of `batch`. A record that is not a JSON object
    /// has no value in any column.
    pub fn read(&self, batch: &RawBatch) -> Vec<Column> {
        let rows = batch.len();
        let mut columns: Vec<Column> = self
            .fields
            .iter()
            .map(|(_, _, column_type)| Column {
                values: ColumnValues::empty(*column_type, rows),
                valid: Vec::with_capacity(rows),
            })
            .collect();
        let mut top: Vec<Option<&str>> = vec![None; self.names.len()];
        for row in 0..rows {
            let payload = batch.payload(row);
            let payload = payload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(payload);
            top.fill(None);
            let object = scan::fields(payload, &self.names, &mut top).is_ok();
            for (column, (pointer, index, _)) in columns.iter_mut().zip(&self.fields) {
                let found = if object {
                    find(top[*index], pointer)
                } else {
                    None
                };
                let valid = column.values.push(found);
                column.valid.push(valid);
            }
        }
        columns
    }
}

fn find<'a>(raw: Option<&'a str>, pointer: &Pointer) -> Option<Found<'a>> {
    let raw = raw?;
    if pointer.tokens.len() <= 1 {
        return Some(Found::Raw(raw));
    }
    let value: Value = serde_json::from_str(raw).ok()?;
    follow(&pointer.tokens[1..], &value)
        .cloned()
        .map(Found::Nested)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(pointer: &str, column_type: ColumnType) -> ColumnField {
        ColumnField {
            pointer: pointer.into(),
            column_type,
        }
    }

    #[test]
    fn reads_typed_columns_with_validity() {
        let mut batch = RawBatch::default();
        for row in [
            &br#"{"v":2.5,"n":3,"s":"a\"b","b":true,"o":{"x":[1,{"y":7}]}}"#[..],
            br#"{"v":"12","n":2.5,"s":5,"b":null,"o":null}"#,
            br#"{"other":1}"#,
            b"not json",
            b"\xEF\xBB\xBF{\"v\":-1e3,\"n\":-9223372036854775808}",
        ] {
            batch.push(row, 0);
        }
        let reader = ColumnReader::new(&[
            field("/v", ColumnType::Float),
            field("/n", ColumnType::Integer),
            field("/s", ColumnType::Text),
            field("/b", ColumnType::Boolean),
            field("/o/x/1/y", ColumnType::Float),
            field("/o", ColumnType::Json),
        ]);
        let columns = reader.read(&batch);
        assert_eq!(columns[0].valid, [true, false, false, false, true]);
        assert_eq!(
            columns[0].values,
            ColumnValues::Float(vec![2.5, 0.0, 0.0, 0.0, -1000.0])
        );
        assert_eq!(columns[1].valid, [true, false, false, false, true]);
        assert_eq!(
            columns[1].values,
            ColumnValues::Integer(vec![3, 0, 0, 0, i64::MIN])
        );
        assert_eq!(columns[2].valid, [true, false, false, false, false]);
        assert_eq!(
            columns[2].values,
            ColumnValues::Text(vec![
                "a\"b".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new()
            ])
        );
        assert_eq!(columns[3].valid, [true, false, false, false, false]);
        assert_eq!(columns[4].valid, [true, false, false, false, false]);
        assert_eq!(
            columns[4].values,
            ColumnValues::Float(vec![7.0, 0.0, 0.0, 0.0, 0.0])
        );
        assert_eq!(columns[5].valid, [true, false, false, false, false]);
        let ColumnValues::Json(json) = &columns[5].values else {
            panic!("a json column");
        };
        assert_eq!(json[0], r#"{"x":[1,{"y":7}]}"#);
    }
}
