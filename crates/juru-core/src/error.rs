//! The error type of `juru-core`.

/// What can go wrong while parsing or validating domain values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CoreError {
    #[error("{what} {value:?} is not valid: {reason}")]
    Invalid { what: &'static str, value: String, reason: String },
    #[error("unknown role {0:?} (known roles: {known})", known = crate::roles::Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "))]
    UnknownRole(String),
}
