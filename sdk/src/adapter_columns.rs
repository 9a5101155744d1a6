//! The column-transform world's exports, implemented once for every [`ColumnFilter`] and
//! [`ColumnMap`].

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;

use crate::aggregator::parse_config;
use crate::bindings::columns::eddy::plugin::types::{PluginError, PluginInfo};
use crate::bindings::columns::exports::eddy::plugin::columns::{
    Column as WitColumn, ColumnOutput, ColumnSpec, ColumnType as WitType,
    ColumnValues as WitValues, Field as WitField, Guest,
};
use crate::columns::{
    Column, ColumnFilter, ColumnMap, ColumnType, Row, Values, filter_rows, map_rows,
};
use crate::{Error, Info};

/// A column transform the adapter can drive over a batch.
pub trait BatchColumns: Sized + 'static {
    /// What `describe()` reports.
    fn info() -> Info;
    /// Builds it from JSON configuration; also returns the fields it reads and writes.
    fn configure(config: &str) -> Result<(Self, ColumnSpec), Error>;
    /// Processes one batch.
    fn process(&mut self, rows: usize, columns: &[Column]) -> Result<ColumnOutput, Error>;
}

/// Exports a column transform as the `columns` interface. Used by the export macros.
pub struct ColumnsExport<T>(PhantomData<T>);

/// Adapts a [`ColumnFilter`].
pub struct ColumnFilterExport<T>(T);
/// Adapts a [`ColumnMap`].
pub struct ColumnMapExport<T>(T);

thread_local! {
    static STATE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

fn fields(
    pointers: Vec<String>,
    types: Option<Vec<ColumnType>>,
    what: &str,
) -> Result<Vec<WitField>, Error> {
    let count = pointers.len();
    let types = types.ok_or_else(|| {
        Error::msg(format!(
            "{what} names {count} fields, the row has another width"
        ))
    })?;
    Ok(pointers
        .into_iter()
        .zip(types)
        .map(|(pointer, column_type)| WitField {
            pointer,
            type_: to_wit_type(column_type),
        })
        .collect())
}

impl<T: ColumnFilter> BatchColumns for ColumnFilterExport<T> {
    fn info() -> Info {
        T::info()
    }
    fn configure(config: &str) -> Result<(Self, ColumnSpec), Error> {
        let filter = T::new(parse_config(config)?)?;
        let reads = filter.reads();
        let types = T::Row::types(reads.len());
        let spec = ColumnSpec {
            reads: fields(reads, types, "reads()")?,
            writes: Vec::new(),
        };
        Ok((Self(filter), spec))
    }
    fn process(&mut self, rows: usize, columns: &[Column]) -> Result<ColumnOutput, Error> {
        Ok(ColumnOutput::Keep(filter_rows(&mut self.0, rows, columns)))
    }
}

impl<T: ColumnMap> BatchColumns for ColumnMapExport<T> {
    fn info() -> Info {
        T::info()
    }
    fn configure(config: &str) -> Result<(Self, ColumnSpec), Error> {
        let map = T::new(parse_config(config)?)?;
        let reads = map.reads();
        let read_types = T::Row::types(reads.len());
        let writes = map.writes();
        let write_types = T::Out::types(writes.len());
        let spec = ColumnSpec {
            reads: fields(reads, read_types, "reads()")?,
            writes: fields(writes, write_types, "writes()")?,
        };
        Ok((Self(map), spec))
    }
    fn process(&mut self, rows: usize, columns: &[Column]) -> Result<ColumnOutput, Error> {
        let out = map_rows(&mut self.0, rows, columns)?;
        Ok(ColumnOutput::Set(out.into_iter().map(to_wit).collect()))
    }
}

impl<T: BatchColumns> Guest for ColumnsExport<T> {
    fn describe() -> PluginInfo {
        T::info().into()
    }

    fn configure(config: String) -> Result<ColumnSpec, PluginError> {
        let (transform, spec) =
            T::configure(&config).map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
        STATE.with(|cell| *cell.borrow_mut() = Some(Box::new(transform)));
        Ok(spec)
    }

    fn process(rows: u32, columns: Vec<WitColumn>) -> Result<ColumnOutput, PluginError> {
        let columns: Vec<Column> = columns.into_iter().map(from_wit).collect();
        STATE.with(|cell| {
            let mut state = cell.borrow_mut();
            let transform = state
                .as_mut()
                .and_then(|any| any.downcast_mut::<T>())
                .ok_or_else(|| PluginError::Failed("process called before configure".into()))?;
            transform
                .process(rows as usize, &columns)
                .map_err(|e| PluginError::InvalidInput(e.to_string()))
        })
    }
}

fn to_wit_type(column_type: ColumnType) -> WitType {
    match column_type {
        ColumnType::Float => WitType::Float,
        ColumnType::Integer => WitType::Integer,
        ColumnType::Text => WitType::Text,
        ColumnType::Boolean => WitType::Boolean,
        ColumnType::Json => WitType::Json,
    }
}

fn from_wit(column: WitColumn) -> Column {
    Column {
        values: match column.values {
            WitValues::Float(v) => Values::Float(v),
            WitValues::Integer(v) => Values::Integer(v),
            WitValues::Text(v) => Values::Text(v),
            WitValues::Boolean(v) => Values::Boolean(v),
            WitValues::Json(v) => Values::Json(v),
        },
        valid: column.valid,
    }
}

fn to_wit(column: Column) -> WitColumn {
    WitColumn {
        values: match column.values {
            Values::Float(v) => WitValues::Float(v),
            Values::Integer(v) => WitValues::Integer(v),
            Values::Text(v) => WitValues::Text(v),
            Values::Boolean(v) => WitValues::Boolean(v),
            Values::Json(v) => WitValues::Json(v),
        },
        valid: column.valid,
    }
}
