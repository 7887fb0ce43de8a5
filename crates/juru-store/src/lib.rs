//! Juru's storage: one schema on SQLite (the embedded default) and PostgreSQL, reached through
//! sqlx's `Any` driver with `$N` placeholders that both understand. This is the only crate with
//! SQL. Every write happens in a [`WriteTx`], which refuses to commit without an audit entry
//! unless the caller says why the write is operational (sessions, job progress, leases).

pub mod ai_systems;
pub mod audit;
pub mod bias;
pub mod datasets;
mod db;
pub mod error;
pub mod evals;
pub mod external;
pub mod hot;
pub mod jobs;
pub mod labeling;
mod migrations;
pub mod models;
pub mod page;
pub mod prompts;
pub mod review;
pub mod scores;
pub mod traces;
pub mod users;
pub mod workspaces;

pub use db::{Backend, Store, WriteTx, now_ms};
pub use error::StoreError;
pub use page::{Page, PageRequest};
#[cfg(feature = "testing")]
pub mod testing;
