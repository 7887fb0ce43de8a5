//! Juru's desks and the shared services they stand on. Every public method takes the acting
//! [`Actor`], checks its permission, validates input, and writes through `juru-store` with an
//! audit entry in the same transaction. The server and the CLI are thin callers of this crate.

pub mod actor;
pub mod ai_systems;
pub mod audit;
pub mod auth;
pub mod classifiers;
pub mod datasets;
pub mod demo;
pub mod error;
pub mod jobs;
pub mod members;
pub mod packs;
pub mod registry;
pub mod scores;
pub mod serving;
pub mod traces;
pub mod views;

use std::path::PathBuf;

pub use actor::Actor;
pub use error::DeskError;
pub use juru_store::{Page, PageRequest, Store};

/// Loaded models by registry version id.
type Cache<T> = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<T>>>>;

/// The desks and services over one store. Cheap to clone.
#[derive(Clone)]
pub struct Desks {
    pub store: Store,
    /// Where uploads are spooled and model files live.
    pub data_dir: PathBuf,
    pub(crate) job_wakeup: std::sync::Arc<tokio::sync::Notify>,
    pub(crate) classifiers: Cache<juru_runtime::classifier::Classifier>,
    pub(crate) llms: Cache<juru_runtime::llm::Llm>,
    /// One generation at a time: llama.cpp already uses every core.
    pub(crate) generation_turn: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Desks {
    pub fn new(store: Store, data_dir: PathBuf) -> Desks {
        Desks {
            store,
            data_dir,
            job_wakeup: Default::default(),
            classifiers: Default::default(),
            llms: Default::default(),
            generation_turn: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    /// A directory for files being uploaded, inside the data directory so that a rename into
    /// place never crosses file systems.
    pub fn spool_dir(&self) -> PathBuf {
        self.data_dir.join("spool")
    }
}

/// The result type of desk services.
pub type Result<T, E = DeskError> = std::result::Result<T, E>;
