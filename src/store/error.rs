//! `StoreError`: what went wrong talking to PostgreSQL, classified by SQLSTATE so the
//! HTTP layer can answer 409, 503 or 500 without looking at SQL.

use tokio_postgres::error::SqlState;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A unique key already holds this value (23505).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Serialisation failure or deadlock (40001, 40P01): safe to retry.
    #[error("retryable: {0}")]
    Retryable(String),
    /// The database is unreachable or the pool could not hand out a connection.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A text value the database cannot store or compare (22021: a NUL character, the
    /// one a UTF-8 string may hold and PostgreSQL text may not). Only a caller's input
    /// can carry one, so it is the caller's error.
    #[error("{0}")]
    Unrepresentable(String),
    /// The database refused the statement for lack of privilege (42501), e.g. an
    /// UPDATE of the append-only log.
    #[error("refused by the database: {0}")]
    Refused(String),
    /// Data in the database that the code cannot read back: a bug or tampering.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Other(String),
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let Some(db) = e.as_db_error() else {
            // No SQLSTATE: the connection broke or was closed.
            return Self::Unavailable(e.to_string());
        };
        let msg = db.message().to_owned();
        match *db.code() {
            SqlState::UNIQUE_VIOLATION => Self::Conflict(msg),
            SqlState::T_R_SERIALIZATION_FAILURE | SqlState::T_R_DEADLOCK_DETECTED => {
                Self::Retryable(msg)
            }
            SqlState::INSUFFICIENT_PRIVILEGE => Self::Refused(msg),
            SqlState::CHARACTER_NOT_IN_REPERTOIRE => Self::Unrepresentable(format!(
                "a text in the request holds a character that cannot be stored (NUL): {msg}"
            )),
            SqlState::ADMIN_SHUTDOWN
            | SqlState::CRASH_SHUTDOWN
            | SqlState::CANNOT_CONNECT_NOW
            | SqlState::TOO_MANY_CONNECTIONS => Self::Unavailable(msg),
            _ => Self::Other(format!("{} ({})", msg, db.code().code())),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => Self::Unavailable(other.to_string()),
        }
    }
}
