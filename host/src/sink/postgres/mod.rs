//! Results upserted into a PostgreSQL table, one row per (key, window): `key text`,
//! `window_start bigint`, `window_end bigint`, `emit text`, then one `double precision`
//! column per aggregate output (`<aggregate>` for a single value, `<aggregate>_<output>` for
//! a named output), primary key `(key, window_start, window_end)` (module `schema`).
//!
//! Results are buffered as they are emitted and sent in one
//! `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE` per batch, a single round trip
//! whatever the number of rows (module `table`). A later result of a window replaces its row, so
//! writing a result again (a replay after a restart) leaves the table as it was. Late events
//! and dead letters can go to tables of their own in the same database (module `side`), written
//! with the results.
//!
//! Exactly-once ([`PostgresTable::transactional`]): the rows of a checkpoint interval stay
//! buffered until the Kafka loop's checkpoint, which sends them, the side rows and the source
//! progress ([`PROGRESS_TABLE`]) in one transaction; the progress table is then where
//! partitions continue from ([`PostgresProgress`]).
//!
//! A lost connection is retried with backoff for `sink.retry_timeout` (module `connection`):
//! meanwhile the loop waits (no input is read), readiness says why, and the buffered rows
//! are sent again once the server answers.

mod connection;
mod progress;
mod rows;
mod schema;
mod side;
mod table;
mod tls;

pub use connection::Connection;
pub use progress::{PROGRESS_TABLE, PostgresProgress};
pub use schema::column_names;
pub use side::{SideRows, SideTable};
pub use table::PostgresTable;

/// Why PostgreSQL could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// The server could not be reached or refused the connection.
    #[error("connecting to PostgreSQL at {url}: {message}")]
    Connect {
        /// The connection string, password hidden.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The connection was lost and could not be made again within `sink.retry_timeout`.
    #[error(
        "PostgreSQL at {url} unreachable for {seconds} s (sink.retry_timeout) while {what}: {message}"
    )]
    Unreachable {
        /// The connection string, password hidden.
        url: String,
        /// What was being done.
        what: &'static str,
        /// How long it was retried.
        seconds: u64,
        /// The last error.
        message: String,
    },
    /// The table does not fit the results (a column missing or of another type).
    #[error("PostgreSQL table {table}: {message}")]
    Table {
        /// The table.
        table: String,
        /// What does not fit.
        message: String,
    },
    /// A statement failed.
    #[error("PostgreSQL: {what}: {message}")]
    Query {
        /// What was being done.
        what: &'static str,
        /// The server's or client's message.
        message: String,
    },
}

/// The message of a client error, with the server's message and detail when there are any
/// (`postgres::Error`'s own Display says only "db error").
pub(crate) fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {} ({detail})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        },
        None => match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    }
}

/// `name` quoted as an SQL identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table name split into its schema (if given) and name.
#[derive(Clone)]
struct TableName {
    schema: Option<String>,
    name: String,
}

impl TableName {
    fn parse(table: &str) -> Self {
        match table.split_once('.') {
            Some((schema, name)) => Self {
                schema: Some(schema.to_string()),
                name: name.to_string(),
            },
            None => Self {
                schema: None,
                name: table.to_string(),
            },
        }
    }

    /// Another table in the same schema.
    fn sibling(&self, name: &str) -> Self {
        Self {
            schema: self.schema.clone(),
            name: name.to_string(),
        }
    }

    fn quoted(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", quote(schema), quote(&self.name)),
            None => quote(&self.name),
        }
    }
}
