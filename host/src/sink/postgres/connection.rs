//! One connection to the server, made again when it is lost: [`Connection::run`] runs a
//! piece of work (a whole transaction) and, when the connection breaks or cannot be made,
//! retries it with exponential backoff (100 ms doubling to 5 s) until `retry_timeout` has
//! passed. Meanwhile the caller is blocked (the Kafka loop reads no input) and readiness, when
//! watched, is false with the reason. Work given to `run` must be safe to do again: upserts,
//! or a transaction that either committed or did not.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_engine::config::SecretUrl;
use postgres::error::SqlState;
use postgres::{Client, Statement};

use super::{PostgresError, describe, tls};
use crate::health::Health;

/// The first wait before a retry; doubled each time up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest wait between retries.
const MAX_DELAY: Duration = Duration::from_secs(5);

/// A client connection with its prepared statements, made again when lost.
pub struct Connection {
    url: SecretUrl,
    retry_timeout: Duration,
    client: Option<Client>,
    /// Statements prepared on this connection, by SQL text.
    statements: HashMap<String, Statement>,
    health: Option<Arc<Health>>,
    /// Times the connection was made again after a loss.
    reconnects: u64,
}

/// A connection ready for work: its client and its prepared statements.
pub struct Session<'a> {
    /// The client.
    pub client: &'a mut Client,
    statements: &'a mut HashMap<String, Statement>,
}

impl Session<'_> {
    /// `sql` prepared on this connection (once).
    pub fn prepare(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

/// Whether `error` means the connection is gone (or the server is going away or not yet
/// taking connections): worth connecting again, as opposed to a statement the server refuses.
fn is_lost(error: &postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.code() {
        Some(code) => {
            code.code().starts_with("08")
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                ]
                .contains(code)
        }
        // No server message: a socket error, a timeout, a broken TLS stream.
        None => std::error::Error::source(error).is_some_and(|source| {
            source.is::<std::io::Error>() || source.to_string().contains("connection")
        }),
    }
}

impl Connection {
    /// Connects to `url` (with TLS when it asks, see the `tls` module); a connection that cannot be
    /// made is an error at once (a wrong address or role stops the start).
    pub fn open(url: &SecretUrl, retry_timeout: Duration) -> Result<Self, PostgresError> {
        let client = tls::connect(url).map_err(|error| PostgresError::Connect {
            url: url.redacted(),
            message: error,
        })?;
        Ok(Self {
            url: url.clone(),
            retry_timeout,
            client: Some(client),
            statements: HashMap::new(),
            health: None,
            reconnects: 0,
        })
    }

    /// Reports outages to `health` (not ready with the reason while retrying).
    pub fn watch(&mut self, health: Arc<Health>) {
        self.health = Some(health);
    }

    /// The connection string, password hidden.
    pub fn url(&self) -> String {
        self.url.redacted()
    }

    /// Times the connection was made again after a loss.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// Runs `work` once without retrying (for checks at start: a table that does not fit is
    /// an error, not an outage).
    pub fn once<T>(
        &mut self,
        what: &'static str,
        work: impl FnOnce(&mut Session<'_>) -> Result<T, postgres::Error>,
    ) -> Result<T, PostgresError> {
        let mut session = self.session()?;
        work(&mut session).map_err(|error| PostgresError::Query {
            what,
            message: describe(&error),
        })
    }

    /// The connection (made again when it was lost) and its statements.
    fn session(&mut self) -> Result<Session<'_>, PostgresError> {
        if self.client.is_none() {
            let client = tls::connect(&self.url).map_err(|message| PostgresError::Connect {
                url: self.url.redacted(),
                message,
            })?;
            self.statements.clear();
            self.client = Some(client);
        }
        let Self {
            client, statements, ..
        } = self;
        Ok(Session {
            client: client.as_mut().expect("connected above"),
            statements,
        })
    }

    /// Runs `work`, connecting again and retrying it with backoff while the connection is
    /// lost, for at most `retry_timeout`; `redo` is called before each retry with the error
    /// (e.g. to find out whether a commit whose answer was lost went through: it returns
    /// `Some` to stop retrying with that value). Errors the server reports about the work
    /// itself are returned at once.
    pub fn run<T>(
        &mut self,
        what: &'static str,
        mut work: impl FnMut(&mut Session<'_>) -> Result<T, postgres::Error>,
        mut redo: impl FnMut(&mut Session<'_>) -> Result<Option<T>, postgres::Error>,
    ) -> Result<T, PostgresError> {
        let started = Instant::now();
        let mut delay = FIRST_DELAY;
        let mut attempt = 0u32;
        loop {
            let outcome = match self.session() {
                Ok(mut session) => {
                    let result = if attempt == 0 {
                        work(&mut session)
                    } else {
                        match redo(&mut session) {
                            Ok(Some(done)) => Ok(done),
                            Ok(None) => work(&mut session),
                            Err(error) => Err(error),
                        }
                    };
                    result.map_err(|error| (is_lost(&error), describe(&error)))
                }
                Err(error) => Err((true, error.to_string())),
            };
            let message = match outcome {
                Ok(value) => {
                    if attempt > 0 {
                        self.reconnects += 1;
                        tracing::info!(
                            url = %self.url,
                            attempts = attempt,
                            took = ?started.elapsed(),
                            "PostgreSQL reachable again: {what} done"
                        );
                    }
                    return Ok(value);
                }
                Err((false, message)) => return Err(PostgresError::Query { what, message }),
                Err((true, message)) => message,
            };
            self.client = None;
            self.statements.clear();
            if started.elapsed() >= self.retry_timeout {
                return Err(PostgresError::Unreachable {
                    url: self.url.redacted(),
                    what,
                    seconds: started.elapsed().as_secs(),
                    message,
                });
            }
            attempt += 1;
            let reason = format!(
                "PostgreSQL unreachable at {} while {what} (retry {attempt}, waiting {delay:?}; input stopped): {message}",
                self.url
            );
            tracing::warn!("{reason}");
            if let Some(health) = &self.health {
                // The loop is waiting on purpose: the reason is the outage, not a stall.
                health.set_unready(reason);
                health.beat();
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(MAX_DELAY);
        }
    }
}
