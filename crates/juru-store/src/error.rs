//! The error type of `juru-store`.

/// What can go wrong in storage. `Db` carries the driver's error for logs; it is never shown to
/// API clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} {key:?} not found")]
    NotFound { kind: &'static str, key: String },
    #[error("{kind} {key:?} already exists")]
    Conflict { kind: &'static str, key: String },
    #[error("{0}")]
    Invalid(String),
    /// The request is well formed but the object's state forbids it (a full or closed queue).
    #[error("{0}")]
    Refused(String),
    #[error("write committed without an audit entry")]
    Unaudited,
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn not_found(kind: &'static str, key: impl Into<String>) -> Self {
        StoreError::NotFound { kind, key: key.into() }
    }

    /// Turns a unique-constraint violation into `Conflict`, leaving other errors alone.
    pub fn conflict_on_unique(
        kind: &'static str,
        key: impl Into<String>,
    ) -> impl FnOnce(sqlx::Error) -> Self {
        let key = key.into();
        move |e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict { kind, key },
            _ => StoreError::Db(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
