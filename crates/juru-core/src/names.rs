//! Names that people give objects (datasets, models, workspaces, users).

use crate::CoreError;

/// The longest name Juru accepts.
pub const MAX_NAME_LEN: usize = 100;

/// Checks a display name: 1 to 100 characters, no control characters, no leading or trailing
/// whitespace.
pub fn validate_name(what: &'static str, name: &str) -> Result<(), CoreError> {
    let reason = if name.is_empty() {
        Some("must not be empty".to_string())
    } else if name.chars().count() > MAX_NAME_LEN {
        Some(format!("must be at most {MAX_NAME_LEN} characters"))
    } else if name.chars().any(char::is_control) {
        Some("must not contain control characters".to_string())
    } else if name.trim() != name {
        Some("must not start or end with whitespace".to_string())
    } else {
        None
    };
    match reason {
        Some(reason) => Err(CoreError::Invalid { what, value: name.chars().take(60).collect(), reason }),
        None => Ok(()),
    }
}

/// Checks a slug-like name used in URLs and on the command line (users, workspaces, aliases):
/// lowercase letters, digits, `-`, `_` and `.`, starting with a letter or digit.
pub fn validate_slug(what: &'static str, name: &str) -> Result<(), CoreError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(CoreError::Invalid {
            what,
            value: name.chars().take(60).collect(),
            reason: "use 1 to 64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit"
                .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(validate_name("dataset", "Ulasan pelanggan 2026").is_ok());
        assert!(validate_name("dataset", "").is_err());
        assert!(validate_name("dataset", " x").is_err());
        assert!(validate_name("dataset", "a\nb").is_err());
        assert!(validate_name("dataset", &"x".repeat(101)).is_err());
        assert!(validate_slug("user", "admin").is_ok());
        assert!(validate_slug("user", "Admin").is_err());
        assert!(validate_slug("user", "-x").is_err());
    }
}
