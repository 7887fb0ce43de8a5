//! Juru's domain: ids, roles and permissions, the audit chain's hashing, dataset parsing and
//! schema inference, and validation of names. Pure code: no database, socket or async runtime.

pub mod audit;
pub mod bbq;
pub mod dataset;
pub mod error;
pub mod eval;
pub mod ids;
pub mod labels;
pub mod names;
pub mod offensive;
pub mod prompt;
pub mod refusal;
pub mod roles;
pub mod swaps;
pub mod textdiff;
pub mod timefmt;

pub use error::CoreError;
pub use roles::{Action, Area, Role};
