//! The tables' columns: made when missing (`create_table`), else checked column by column
//! with an error naming the one that is missing or of another type; and the statements that
//! write them.

use std::collections::BTreeMap;

use super::connection::Connection;
use super::{PostgresError, TableName, quote};

/// The column of each aggregate output: `<aggregate>` for a single unnamed output,
/// `<aggregate>_<output>` for named outputs.
pub fn column_names(outputs: &[(String, Vec<String>)]) -> Vec<String> {
    outputs
        .iter()
        .flat_map(|(name, outputs)| {
            outputs.iter().map(move |output| {
                if output.is_empty() {
                    name.clone()
                } else {
                    format!("{name}_{output}")
                }
            })
        })
        .collect()
}

/// The fixed columns of a results table and their PostgreSQL types, as `information_schema`
/// names them.
pub const FIXED: [(&str, &str); 4] = [
    ("key", "text"),
    ("window_start", "bigint"),
    ("window_end", "bigint"),
    ("emit", "text"),
];
/// The type of an aggregate output's column.
pub const VALUE_TYPE: &str = "double precision";

/// The table's columns and their types; empty when the table does not exist.
fn columns(
    connection: &mut Connection,
    table: &TableName,
) -> Result<BTreeMap<String, String>, PostgresError> {
    connection.once("reading the table's columns", |session| {
        let rows = session.client.query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2",
            &[&table.schema, &table.name],
        )?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
    })
}

/// Makes `table` with `columns` (`name`, type, SQL suffix such as `NOT NULL`) and `extra`
/// (constraints) when it does not exist and `create` allows; otherwise checks it has each
/// column with its type. `expected` describes the columns in an error.
pub(super) fn make_or_check(
    connection: &mut Connection,
    table: &TableName,
    create: bool,
    columns_wanted: &[(String, &str, &str)],
    extra: &str,
    expected: &str,
) -> Result<(), PostgresError> {
    let quoted = table.quoted();
    let table_error = |message: String| PostgresError::Table {
        table: quoted.clone(),
        message,
    };
    let found = columns(connection, table)?;
    if found.is_empty() {
        if !create {
            return Err(table_error(
                "does not exist (and sink.create_table is false)".into(),
            ));
        }
        let mut definition: Vec<String> = columns_wanted
            .iter()
            .map(|(name, kind, suffix)| format!("{} {kind} {suffix}", quote(name)))
            .collect();
        if !extra.is_empty() {
            definition.push(extra.to_string());
        }
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {quoted} ({})",
            definition.join(", ")
        );
        connection.once("creating a table", |session| {
            session.client.batch_execute(&sql)
        })?;
        tracing::info!(table = quoted, "created the table");
        return Ok(());
    }
    for (name, kind, _) in columns_wanted {
        match found.get(name) {
            None => {
                return Err(table_error(format!(
                    "has no column `{name}` ({kind}); expected {expected}"
                )));
            }
            Some(actual) if actual != kind => {
                return Err(table_error(format!(
                    "column `{name}` is {actual}, expected {kind}"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Makes or checks the results table for these aggregate outputs and returns its upsert
/// statement (one `unnest` array per column).
pub(super) fn results_table(
    connection: &mut Connection,
    table: &TableName,
    create: bool,
    outputs: &[(String, Vec<String>)],
) -> Result<String, PostgresError> {
    let columns = column_names(outputs);
    let quoted = table.quoted();
    let table_error = |message: String| PostgresError::Table {
        table: quoted.clone(),
        message,
    };
    for name in &columns {
        if FIXED.iter().any(|(fixed, _)| fixed == name) {
            return Err(table_error(format!(
                "the aggregate column `{name}` has the name of a fixed column"
            )));
        }
        if name.len() > 63 {
            return Err(table_error(format!(
                "the column name `{name}` is longer than PostgreSQL's 63 bytes: name the aggregate shorter"
            )));
        }
    }
    let wanted: Vec<(String, &str, &str)> = FIXED
        .iter()
        .map(|&(name, kind)| (name.to_string(), kind, "NOT NULL"))
        .chain(columns.iter().map(|c| (c.clone(), VALUE_TYPE, "")))
        .collect();
    let expected = format!(
        "key text, window_start bigint, window_end bigint, emit text and one double precision column per aggregate output: {}",
        columns.join(", ")
    );
    make_or_check(
        connection,
        table,
        create,
        &wanted,
        "PRIMARY KEY (key, window_start, window_end)",
        &expected,
    )?;
    let keyed: i64 = connection.once("reading the table's keys", |session| {
        session
            .client
            .query_one(
                "SELECT count(*) FROM pg_index i
                 WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indnkeyatts = 3
                   AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
                        FROM pg_attribute a
                        WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey))
                       = ARRAY['key', 'window_end', 'window_start']",
                &[&quoted],
            )?
            .try_get(0)
    })?;
    if keyed == 0 {
        return Err(table_error(
            "has no primary key (key, window_start, window_end) to upsert on".into(),
        ));
    }
    let value_columns: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    let mut arrays = vec![
        "$1::text[]".to_string(),
        "$2::bigint[]".into(),
        "$3::bigint[]".into(),
        "$4::text[]".into(),
    ];
    arrays.extend((0..columns.len()).map(|i| format!("${}::float8[]", i + 5)));
    let mut set = vec!["emit = EXCLUDED.emit".to_string()];
    set.extend(value_columns.iter().map(|c| format!("{c} = EXCLUDED.{c}")));
    let mut all = vec![
        "key".to_string(),
        "window_start".into(),
        "window_end".into(),
        "emit".into(),
    ];
    all.extend(value_columns);
    let sql = format!(
        "INSERT INTO {quoted} ({}) SELECT * FROM unnest({}) ON CONFLICT (key, window_start, window_end) DO UPDATE SET {}",
        all.join(", "),
        arrays.join(", "),
        set.join(", ")
    );
    connection
        .once("preparing the upsert", |session| session.prepare(&sql))
        .map_err(|error| table_error(format!("cannot be upserted into: {error}")))?;
    Ok(sql)
}
