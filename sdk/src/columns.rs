//! Column transforms: a filter or map over typed fields the host decodes, instead of whole
//! payloads. The plugin names the fields (JSON pointers) it reads and writes; each call gets a
//! batch of them as columns, and nothing is parsed inside the sandbox.

use serde::de::DeserializeOwned;

use crate::{Error, Info, Kind};

/// How a field's value is read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// A JSON number, as `f64`.
    Float,
    /// A JSON number that is an integer in the `i64` range.
    Integer,
    /// A JSON string, unescaped.
    Text,
    /// `true` or `false`.
    Boolean,
    /// Any JSON value, as its text ([`Json`]).
    Json,
}

/// The values of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
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

/// One field over a batch: `valid[i]` is false where row `i` has no value of the column's type.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The values (placeholders where not valid).
    pub values: Values,
    /// Whether row `i` holds a value.
    pub valid: Vec<bool>,
}

impl Column {
    /// An empty column of `column_type`.
    pub fn new(column_type: ColumnType) -> Self {
        let values = match column_type {
            ColumnType::Float => Values::Float(Vec::new()),
            ColumnType::Integer => Values::Integer(Vec::new()),
            ColumnType::Text => Values::Text(Vec::new()),
            ColumnType::Boolean => Values::Boolean(Vec::new()),
            ColumnType::Json => Values::Json(Vec::new()),
        };
        Self {
            values,
            valid: Vec::new(),
        }
    }

    /// Appends a row without a value (a map leaves that field of the record as it is).
    pub fn push_none(&mut self) {
        match &mut self.values {
            Values::Float(v) => v.push(0.0),
            Values::Integer(v) => v.push(0),
            Values::Text(v) | Values::Json(v) => v.push(String::new()),
            Values::Boolean(v) => v.push(false),
        }
        self.valid.push(false);
    }
}

/// A JSON value kept as its text: a field read or written with [`ColumnType::Json`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Json(pub String);

/// A type one field is read or written as: `f64`, `i64`, `bool`, `String`, [`Json`], or an
/// `Option` of one (`None` where the record has no such value).
pub trait Field: Sized {
    /// The column type.
    const TYPE: ColumnType;
    /// The value in `row` of `column`; `None` when the row has none (for an `Option` field:
    /// `Some(None)`).
    fn read(column: &Column, row: usize) -> Option<Self>;
    /// Appends the value to `column` (a column of [`Field::TYPE`]).
    fn write(self, column: &mut Column);
}

macro_rules! scalar_field {
    ($ty:ty, $variant:ident, $wrap:expr, $unwrap:expr) => {
        impl Field for $ty {
            const TYPE: ColumnType = ColumnType::$variant;
            fn read(column: &Column, row: usize) -> Option<Self> {
                match &column.values {
                    Values::$variant(values) if *column.valid.get(row)? => {
                        values.get(row).map($wrap)
                    }
                    _ => None,
                }
            }
            fn write(self, column: &mut Column) {
                match &mut column.values {
                    Values::$variant(values) => {
                        values.push($unwrap(self));
                        column.valid.push(true);
                    }
                    _ => column.push_none(),
                }
            }
        }

        impl Field for Option<$ty> {
            const TYPE: ColumnType = ColumnType::$variant;
            fn read(column: &Column, row: usize) -> Option<Self> {
                Some(<$ty as Field>::read(column, row))
            }
            fn write(self, column: &mut Column) {
                match self {
                    Some(value) => Field::write(value, column),
                    None => column.push_none(),
                }
            }
        }
    };
}

scalar_field!(f64, Float, |v: &f64| *v, |v| v);
scalar_field!(i64, Integer, |v: &i64| *v, |v| v);
scalar_field!(bool, Boolean, |v: &bool| *v, |v| v);
scalar_field!(String, Text, |v: &String| v.clone(), |v| v);
scalar_field!(Json, Json, |v: &String| Json(v.clone()), |v: Json| v.0);

/// The fields of a row: one [`Field`], a tuple of up to four, or a `Vec` of one field type
/// (as many as the plugin declares).
pub trait Row: Sized {
    /// The column types of `count` declared fields; `None` when this row has another width.
    fn types(count: usize) -> Option<Vec<ColumnType>>;
    /// The row's values; `None` when a field that is not an `Option` has no value.
    fn read(columns: &[Column], row: usize) -> Option<Self>;
    /// Appends the row's values to `columns`, one per field.
    fn write(self, columns: &mut [Column]);
}

impl<T: Field> Row for T {
    fn types(count: usize) -> Option<Vec<ColumnType>> {
        (count == 1).then(|| vec![T::TYPE])
    }
    fn read(columns: &[Column], row: usize) -> Option<Self> {
        T::read(columns.first()?, row)
    }
    fn write(self, columns: &mut [Column]) {
        if let Some(column) = columns.first_mut() {
            Field::write(self, column);
        }
    }
}

macro_rules! tuple_row {
    ($count:expr; $($name:ident $index:tt),+) => {
        impl<$($name: Field),+> Row for ($($name,)+) {
            fn types(count: usize) -> Option<Vec<ColumnType>> {
                (count == $count).then(|| vec![$($name::TYPE),+])
            }
            fn read(columns: &[Column], row: usize) -> Option<Self> {
                Some(($($name::read(columns.get($index)?, row)?,)+))
            }
            fn write(self, columns: &mut [Column]) {
                $(if let Some(column) = columns.get_mut($index) {
                    Field::write(self.$index, column);
                })+
            }
        }
    };
}

tuple_row!(2; A 0, B 1);
tuple_row!(3; A 0, B 1, C 2);
tuple_row!(4; A 0, B 1, C 2, D 3);

/// Values of one type, as many as declared (e.g. a map that sets the configured fields).
impl<T: Field> Row for Vec<T> {
    fn types(count: usize) -> Option<Vec<ColumnType>> {
        Some(vec![T::TYPE; count])
    }
    fn read(columns: &[Column], row: usize) -> Option<Self> {
        columns.iter().map(|c| T::read(c, row)).collect()
    }
    fn write(self, columns: &mut [Column]) {
        let mut values = self.into_iter();
        for column in columns {
            match values.next() {
                Some(value) => Field::write(value, column),
                None => column.push_none(),
            }
        }
    }
}

macro_rules! column_trait_items {
    ($kind:expr) => {
        /// Configuration, read from the JSON object given for this stage in the pipeline
        /// config (`{}` when none is given). Use [`crate::NoConfig`] for none.
        type Config: DeserializeOwned;
        /// The fields read per row: a [`Field`] type, a tuple of them, or a `Vec` of one.
        type Row: Row;
        /// Short name.
        const NAME: &'static str;
        /// Semantic version; usually `env!("CARGO_PKG_VERSION")`.
        const VERSION: &'static str;
        /// One line for people.
        const DESCRIPTION: &'static str = "";
        /// JSON Schema of the configuration.
        const CONFIG_SCHEMA: &'static str = r#"{"type":"object"}"#;

        /// Builds the transform from its configuration.
        fn new(config: Self::Config) -> Result<Self, Error>;

        /// JSON pointers of the fields read, one per field of [`Self::Row`], in its order.
        fn reads(&self) -> Vec<String>;

        /// What `describe()` reports.
        fn info() -> Info {
            Info {
                name: Self::NAME,
                version: Self::VERSION,
                kind: $kind,
                state_format: 0,
                description: Self::DESCRIPTION,
                config_schema: Self::CONFIG_SCHEMA,
            }
        }
    };
}

/// Keeps the rows whose fields pass a predicate. Export with
/// [`export_column_filter!`](crate::export_column_filter).
pub trait ColumnFilter: Sized + 'static {
    column_trait_items!(Kind::Filter);

    /// Whether a row passes. Rows where a field that is not an `Option` has no value (missing,
    /// null, or of another type) do not pass and are not shown to it.
    fn keep(&mut self, row: Self::Row) -> bool;
}

/// Sets top-level fields of every row from the fields it reads. Export with
/// [`export_column_map!`](crate::export_column_map).
pub trait ColumnMap: Sized + 'static {
    column_trait_items!(Kind::Map);

    /// The fields set per row: a [`Field`] type, a tuple of them, or a `Vec` of one. A `None`
    /// leaves that field of the record as it is.
    type Out: Row;

    /// JSON pointers of the top-level fields written (`/name`), one per field of
    /// [`Self::Out`], in its order.
    fn writes(&self) -> Vec<String>;

    /// The fields to set in a row. Rows where a field read that is not an `Option` has no value
    /// pass unchanged and are not shown to it.
    fn map(&mut self, row: Self::Row) -> Self::Out;
}

/// Runs `filter` over columns natively, as the host would: the indices of the kept rows.
pub fn filter_rows<F: ColumnFilter>(filter: &mut F, rows: usize, columns: &[Column]) -> Vec<u32> {
    (0..rows)
        .filter(|&row| F::Row::read(columns, row).is_some_and(|values| filter.keep(values)))
        .map(|row| row as u32)
        .collect()
}

/// Runs `map` over columns natively, as the host would: one output column per written field.
pub fn map_rows<M: ColumnMap>(
    map: &mut M,
    rows: usize,
    columns: &[Column],
) -> Result<Vec<Column>, Error> {
    let count = map.writes().len();
    let types = M::Out::types(count).ok_or_else(|| {
        Error::msg(format!(
            "writes() names {count} fields, the output row has another width"
        ))
    })?;
    let mut out: Vec<Column> = types.into_iter().map(Column::new).collect();
    for row in 0..rows {
        match M::Row::read(columns, row) {
            Some(values) => Row::write(map.map(values), &mut out),
            None => out.iter_mut().for_each(Column::push_none),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoConfig;

    struct Positive;
    impl ColumnFilter for Positive {
        type Config = NoConfig;
        type Row = f64;
        const NAME: &'static str = "positive";
        const VERSION: &'static str = "1.0.0";
        fn new(_: NoConfig) -> Result<Self, Error> {
            Ok(Positive)
        }
        fn reads(&self) -> Vec<String> {
            vec!["/v".into()]
        }
        fn keep(&mut self, value: f64) -> bool {
            value > 0.0
        }
    }

    struct Label;
    impl ColumnMap for Label {
        type Config = NoConfig;
        type Row = (Option<String>, f64);
        type Out = (String, Option<bool>);
        const NAME: &'static str = "label";
        const VERSION: &'static str = "1.0.0";
        fn new(_: NoConfig) -> Result<Self, Error> {
            Ok(Label)
        }
        fn reads(&self) -> Vec<String> {
            vec!["/name".into(), "/v".into()]
        }
        fn writes(&self) -> Vec<String> {
            vec!["/label".into(), "/big".into()]
        }
        fn map(&mut self, (name, v): (Option<String>, f64)) -> (String, Option<bool>) {
            let label = format!("{}:{v}", name.unwrap_or_default());
            (label, (v > 10.0).then_some(true))
        }
    }

    fn floats(values: &[f64], valid: &[bool]) -> Column {
        Column {
            values: Values::Float(values.to_vec()),
            valid: valid.to_vec(),
        }
    }

    #[test]
    fn a_filter_sees_only_rows_with_values() {
        let column = floats(&[1.0, 0.0, -2.0, 3.0], &[true, false, true, true]);
        assert_eq!(filter_rows(&mut Positive, 4, &[column]), [0, 3]);
    }

    #[test]
    fn a_map_writes_typed_columns_and_skips_rows_without_values() {
        let names = Column {
            values: Values::Text(vec!["a".into(), String::new(), "c".into()]),
            valid: vec![true, false, true],
        };
        let values = floats(&[20.0, 1.0, 0.0], &[true, true, false]);
        let out = map_rows(&mut Label, 3, &[names, values]).expect("widths match");
        assert_eq!(
            out[0],
            Column {
                values: Values::Text(vec!["a:20".into(), ":1".into(), String::new()]),
                valid: vec![true, true, false],
            }
        );
        assert_eq!(
            out[1],
            Column {
                values: Values::Boolean(vec![true, false, false]),
                valid: vec![true, false, false],
            }
        );
    }
}
