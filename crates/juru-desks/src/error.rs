//! The error type of `juru-desks`: what went wrong, in terms a caller can act on.

use juru_core::dataset::RowError;
use juru_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("the role{plural} {roles} may not {action} {area}", plural = if roles.contains(',') { "s" } else { "" })]
    Forbidden { roles: String, action: &'static str, area: String },
    #[error("{kind} {key:?} not found")]
    NotFound { kind: &'static str, key: String },
    #[error("{kind} {key:?} already exists")]
    Conflict { kind: &'static str, key: String },
    #[error("{0}")]
    Invalid(String),
    /// Well formed, but the object's state forbids it (a closed project, an item with all the
    /// answers it takes): 409.
    #[error("{0}")]
    Refused(String),
    /// A file with bad rows: nothing was imported.
    #[error("{count} row(s) could not be read, nothing was imported: {summary}")]
    BadRows { count: u64, summary: String, errors: Vec<RowError> },
    /// Something Juru depends on (an external model provider) did not answer as it should.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A statistic that cannot be computed on the data given says why: the caller's data.
impl From<juru_stats::StatsError> for DeskError {
    fn from(e: juru_stats::StatsError) -> Self {
        DeskError::Invalid(e.to_string())
    }
}

impl From<StoreError> for DeskError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { kind, key } => DeskError::NotFound { kind, key },
            StoreError::Conflict { kind, key } => DeskError::Conflict { kind, key },
            StoreError::Invalid(msg) => DeskError::Invalid(msg),
            StoreError::Refused(msg) => DeskError::Refused(msg),
            other => DeskError::Internal(Box::new(other)),
        }
    }
}

impl From<juru_core::CoreError> for DeskError {
    fn from(e: juru_core::CoreError) -> Self {
        DeskError::Invalid(e.to_string())
    }
}

impl DeskError {
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        DeskError::Internal(Box::new(e))
    }

    /// An internal error described in words (a broken invariant, not the caller's mistake).
    pub fn bug(msg: impl Into<String>) -> Self {
        DeskError::Internal(msg.into().into())
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        DeskError::Invalid(msg.into())
    }
}
