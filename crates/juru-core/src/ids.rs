//! Identifiers: UUIDv7 strings, sortable by creation time, so that keyset pagination over `id`
//! returns objects in the order they were made.

use serde::{Deserialize, Serialize};

/// A new time-ordered identifier.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// True when `s` is a UUID in its canonical hyphenated form.
pub fn is_id(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh identifier.
            pub fn generate() -> Self {
                Self(new_id())
            }
            /// Wraps a value read back from storage, trusted to be well formed.
            pub fn from_trusted(s: String) -> Self {
                Self(s)
            }
            /// Parses an identifier that came from outside.
            pub fn parse(s: &str) -> Result<Self, crate::CoreError> {
                if is_id(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(crate::CoreError::Invalid {
                        what: stringify!($name),
                        value: s.chars().take(60).collect(),
                        reason: "expected a UUID".into(),
                    })
                }
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

id_type! {
    /// A workspace (tenant).
    WorkspaceId;
    /// A user account.
    UserId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_creation_time() {
        let a = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id();
        assert!(a < b, "{a} should sort before {b}");
        assert!(is_id(&a));
        assert!(!is_id("not-an-id"));
        assert!(WorkspaceId::parse("x").is_err());
    }
}
