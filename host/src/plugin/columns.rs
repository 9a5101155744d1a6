//! The `column-transform` world: a map or filter that declares the fields it reads (and writes)
//! and gets them as typed columns, one call per batch. The host reads the fields with the
//! engine's scanner ([`ColumnReader`]) and writes a map's output columns into the records in
//! place ([`set_fields`]); nothing is parsed inside the sandbox.

use wasmtime::Store;

use super::bindings::columns::exports::eddy::plugin::columns::{
    Column as WitColumn, ColumnOutput, ColumnSpec, ColumnType as WitType,
    ColumnValues as WitValues, Field,
};
use super::bindings::columns::{ColumnTransform, ColumnTransformPre};
use super::error::{describe_wit_error, link_error, trap_error};
use super::runtime::{Loaded, Runtime};
use super::sandbox::Sandbox;
use super::transform::kept_rows;
use eddy_engine::aggregate::{PluginError, PluginInfo, PluginKind};
use eddy_engine::decode::{
    Column, ColumnField, ColumnReader, ColumnType, ColumnValues, set_fields,
};
use eddy_engine::event::{RawBatch, WrittenNumbers};

/// A top-level field a map writes: its name and type.
type Written = (String, ColumnType);

/// A configured column transform: its bindings and what it reads and writes.
pub(super) struct Columns {
    bindings: ColumnTransform,
    reader: ColumnReader,
    /// Top-level names and types of the fields a map writes.
    writes: Vec<Written>,
}

impl Columns {
    /// Instantiates `loaded`, checks its kind and configures it. `payload_error` is why it is
    /// not a `transform` component (reported when it is not a column transform either).
    pub(super) fn new(
        runtime: &Runtime,
        loaded: &Loaded,
        config: &str,
        payload_error: wasmtime::Error,
    ) -> Result<(Store<Sandbox>, Self, PluginInfo), PluginError> {
        let pre =
            ColumnTransformPre::new(loaded.pre.clone()).map_err(|e| PluginError::WrongWorld {
                plugin: loaded.source.clone(),
                world: "transform or column-transform",
                message: format!("{payload_error:#}; {e:#}"),
            })?;
        let mut store = runtime.store(&loaded.source);
        let bindings = pre
            .instantiate(&mut store)
            .map_err(link_error(&loaded.source, None))?;
        let trap = |call| trap_error(&loaded.source, call, false);
        let api = bindings.eddy_plugin_columns();
        let info = PluginInfo::from(api.call_describe(&mut store).map_err(trap("describe"))?);
        if !matches!(info.kind, PluginKind::Map | PluginKind::Filter) {
            return Err(PluginError::WrongWorld {
                plugin: loaded.source.clone(),
                world: "column-transform",
                message: format!(
                    "describe() reports kind {:?}; column transforms are maps or filters",
                    info.kind
                ),
            });
        }
        store.set_epoch_deadline(runtime.call_deadline_ticks());
        let config_error = |message: String| PluginError::Config {
            plugin: info.name.clone(),
            message,
        };
        let spec = api
            .call_configure(&mut store, config)
            .map_err(trap("configure"))?
            .map_err(|e| config_error(describe_wit_error(&e)))?;
        let (reads, writes) = checked_spec(spec, info.kind).map_err(config_error)?;
        let columns = Self {
            bindings,
            reader: ColumnReader::new(&reads),
            writes,
        };
        Ok((store, columns, info))
    }

    /// Runs the plugin over `input`'s columns and applies its answer.
    pub(super) fn process(
        &self,
        store: &mut Store<Sandbox>,
        info: &PluginInfo,
        input: &RawBatch,
    ) -> Result<RawBatch, PluginError> {
        let plugin = info.name.as_str();
        let failed = |message: String| PluginError::Failed {
            plugin: plugin.to_string(),
            call: "process",
            message,
        };
        let rows = u32::try_from(input.len()).map_err(|_| failed("batch too large".into()))?;
        let columns: Vec<WitColumn> = self.reader.read(input).into_iter().map(to_wit).collect();
        let output = self
            .bindings
            .eddy_plugin_columns()
            .call_process(&mut *store, rows, &columns);
        let memory_refused = store.data_mut().limits.take_memory_refused();
        let output = output
            .map_err(|e| trap_error(plugin, "process", memory_refused)(e))?
            .map_err(|e| failed(describe_wit_error(&e)))?;
        match output {
            ColumnOutput::Keep(indices) => kept_rows(input, &indices).map_err(failed),
            ColumnOutput::Set(columns) => self.write(input, columns).map_err(failed),
        }
    }

    /// `input` with a map's output columns written into its records.
    fn write(&self, input: &RawBatch, columns: Vec<WitColumn>) -> Result<RawBatch, String> {
        if columns.len() != self.writes.len() {
            return Err(format!(
                "{} output columns for {} declared writes",
                columns.len(),
                self.writes.len()
            ));
        }
        let columns: Vec<Column> = columns.into_iter().map(from_wit).collect();
        let mut texts: Vec<Vec<Option<String>>> = Vec::with_capacity(columns.len());
        for (column, (name, declared)) in columns.iter().zip(&self.writes) {
            if column.values.column_type() != *declared {
                return Err(format!(
                    "output column /{name} is {:?}, declared {declared:?}",
                    column.values.column_type()
                ));
            }
            if column.values.len() != input.len() || column.valid.len() != input.len() {
                return Err(format!(
                    "output column /{name} has {} values and {} validity flags for {} rows",
                    column.values.len(),
                    column.valid.len(),
                    input.len()
                ));
            }
            texts.push(
                json_texts(column)
                    .map_err(|row| format!("output column /{name}, row {row}: not a JSON text"))?,
            );
        }
        let names: Vec<String> = self.writes.iter().map(|(n, _)| n.clone()).collect();
        let mut out = RawBatch::with_capacity(input.len(), input.data.len() + input.len() * 16);
        out.partition = input.partition;
        out.blank_lines = input.blank_lines;
        out.source_offsets.clone_from(&input.source_offsets);
        out.lines.clone_from(&input.lines);
        let mut values: Vec<Option<&str>> = Vec::with_capacity(names.len());
        for row in 0..input.len() {
            values.clear();
            values.extend(texts.iter().map(|column| column[row].as_deref()));
            let payload = input.payload(row);
            if values.iter().all(Option::is_none) {
                out.data.extend_from_slice(payload);
            } else {
                set_fields(payload, &names, &values, &mut out.data)
                    .map_err(|e| format!("row {row}: {e}"))?;
            }
            let end = u32::try_from(out.data.len()).map_err(|_| "batch too large".to_string())?;
            out.offsets.push(end);
            out.timestamps.push(input.timestamps[row]);
        }
        out.written = written_numbers(input, &columns, &names);
        Ok(out)
    }
}

/// What the decoder may take without parsing after a map wrote `columns` into the top-level
/// fields `names`: the numbers written before (by an earlier column map) updated with these.
fn written_numbers(input: &RawBatch, columns: &[Column], names: &[String]) -> Vec<WrittenNumbers> {
    let rows = input.len();
    let mut written: Vec<WrittenNumbers> = input
        .written
        .iter()
        .filter(|w| w.values.len() == rows)
        .cloned()
        .collect();
    for (column, name) in columns.iter().zip(names) {
        let pointer = format!("/{}", name.replace('~', "~0").replace('/', "~1"));
        let valid = |row: usize| column.valid[row];
        // A float that is not finite was written as `null`: no value, NaN to the decoder.
        let numbers: Option<Vec<Option<f64>>> = match &column.values {
            ColumnValues::Float(v) => Some(
                (0..rows)
                    .map(|r| valid(r).then(|| if v[r].is_finite() { v[r] } else { f64::NAN }))
                    .collect(),
            ),
            ColumnValues::Integer(v) => {
                Some((0..rows).map(|r| valid(r).then_some(v[r] as f64)).collect())
            }
            _ => None,
        };
        match (written.iter_mut().find(|w| w.pointer == pointer), numbers) {
            (None, Some(values)) => written.push(WrittenNumbers { pointer, values }),
            (Some(before), Some(values)) => {
                for (old, new) in before.values.iter_mut().zip(values) {
                    if new.is_some() {
                        *old = new;
                    }
                }
            }
            // Not a number now where it was written: the decoder reads the record.
            (Some(before), None) => {
                for (row, old) in before.values.iter_mut().enumerate() {
                    if valid(row) {
                        *old = None;
                    }
                }
            }
            (None, None) => {}
        }
    }
    written
}

/// The fields a configured plugin reads and the top-level fields it writes; refuses a spec the
/// host cannot serve.
fn checked_spec(
    spec: ColumnSpec,
    kind: PluginKind,
) -> Result<(Vec<ColumnField>, Vec<Written>), String> {
    let reads = spec
        .reads
        .into_iter()
        .map(|field| {
            if !field.pointer.starts_with('/') {
                return Err(format!(
                    "reads {:?}: not a JSON pointer such as /amount",
                    field.pointer
                ));
            }
            Ok(ColumnField {
                pointer: field.pointer,
                column_type: column_type(field.type_),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if kind == PluginKind::Filter && !spec.writes.is_empty() {
        return Err("a filter writes no fields".into());
    }
    let mut writes: Vec<Written> = Vec::new();
    for Field { pointer, type_ } in spec.writes {
        let name = match pointer.strip_prefix('/') {
            Some(name) if !name.contains('/') && !name.is_empty() => {
                name.replace("~1", "/").replace("~0", "~")
            }
            _ => {
                return Err(format!(
                    "writes {pointer:?}: only top-level fields (/name) can be written"
                ));
            }
        };
        if writes.iter().any(|(n, _)| *n == name) {
            return Err(format!("writes {pointer:?} twice"));
        }
        writes.push((name, column_type(type_)));
    }
    Ok((reads, writes))
}

fn column_type(wit: WitType) -> ColumnType {
    match wit {
        WitType::Float => ColumnType::Float,
        WitType::Integer => ColumnType::Integer,
        WitType::Text => ColumnType::Text,
        WitType::Boolean => ColumnType::Boolean,
        WitType::Json => ColumnType::Json,
    }
}

fn to_wit(column: Column) -> WitColumn {
    WitColumn {
        values: match column.values {
            ColumnValues::Float(v) => WitValues::Float(v),
            ColumnValues::Integer(v) => WitValues::Integer(v),
            ColumnValues::Text(v) => WitValues::Text(v),
            ColumnValues::Boolean(v) => WitValues::Boolean(v),
            ColumnValues::Json(v) => WitValues::Json(v),
        },
        valid: column.valid,
    }
}

fn from_wit(column: WitColumn) -> Column {
    Column {
        values: match column.values {
            WitValues::Float(v) => ColumnValues::Float(v),
            WitValues::Integer(v) => ColumnValues::Integer(v),
            WitValues::Text(v) => ColumnValues::Text(v),
            WitValues::Boolean(v) => ColumnValues::Boolean(v),
            WitValues::Json(v) => ColumnValues::Json(v),
        },
        valid: column.valid,
    }
}

/// Each valid value of `column` as JSON text (a float that is not finite becomes `null`, as
/// serde_json writes it); the row of the first JSON column value that is not valid JSON.
fn json_texts(column: &Column) -> Result<Vec<Option<String>>, usize> {
    let valid = |row: usize| column.valid[row];
    let texts = match &column.values {
        ColumnValues::Float(v) => (0..v.len())
            .map(|i| valid(i).then(|| serde_json::Value::from(v[i]).to_string()))
            .collect(),
        ColumnValues::Integer(v) => (0..v.len())
            .map(|i| valid(i).then(|| v[i].to_string()))
            .collect(),
        ColumnValues::Boolean(v) => (0..v.len())
            .map(|i| valid(i).then(|| v[i].to_string()))
            .collect(),
        ColumnValues::Text(v) => (0..v.len())
            .map(|i| valid(i).then(|| serde_json::Value::from(v[i].as_str()).to_string()))
            .collect(),
        ColumnValues::Json(v) => {
            let mut texts = Vec::with_capacity(v.len());
            for (i, text) in v.iter().enumerate() {
                if !valid(i) {
                    texts.push(None);
                    continue;
                }
                if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
                    return Err(i);
                }
                texts.push(Some(text.trim().to_string()));
            }
            texts
        }
    };
    Ok(texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(values: ColumnValues, valid: &[bool]) -> Column {
        Column {
            values,
            valid: valid.to_vec(),
        }
    }

    #[test]
    fn numbers_written_are_handed_to_the_decoder_and_later_writes_win() {
        let mut input = RawBatch::default();
        for _ in 0..3 {
            input.push(b"{}", 0);
        }
        input.written.push(WrittenNumbers {
            pointer: "/a".into(),
            values: vec![Some(1.0), Some(2.0), Some(3.0)],
        });
        let columns = [
            column(
                ColumnValues::Float(vec![5.0, f64::INFINITY, 0.0]),
                &[true, true, false],
            ),
            column(ColumnValues::Integer(vec![7, 8, 9]), &[false, true, true]),
            column(
                ColumnValues::Text(vec!["x".into(), String::new(), String::new()]),
                &[true, false, false],
            ),
        ];
        let names = ["a".to_string(), "b/c".to_string(), "t".to_string()];
        let written = written_numbers(&input, &columns, &names);
        assert_eq!(written.len(), 2);
        assert_eq!(written[0].pointer, "/a");
        assert_eq!(written[0].values[0], Some(5.0));
        assert!(
            written[0].values[1].is_some_and(f64::is_nan),
            "infinity is written as null"
        );
        assert_eq!(
            written[0].values[2],
            Some(3.0),
            "not written: the earlier map's number"
        );
        assert_eq!(written[1].pointer, "/b~1c");
        assert_eq!(written[1].values, [None, Some(8.0), Some(9.0)]);

        // A text written over a number: the decoder reads the record there.
        let names = ["a".to_string()];
        let text = [column(
            ColumnValues::Text(vec!["x".into(), String::new(), String::new()]),
            &[true, false, false],
        )];
        let mut again = input.clone();
        again.written = written;
        let written = written_numbers(&again, &text, &names);
        assert_eq!(written[0].values[0], None);
        assert_eq!(written[0].values[2], Some(3.0));
    }
}
