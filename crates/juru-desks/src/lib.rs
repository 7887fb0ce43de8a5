//! Juru's desks and the shared services they stand on. Every public method takes the acting
//! [`Actor`], checks its permission, validates input, and writes through `juru-store` with an
//! audit entry in the same transaction. The server and the CLI are thin callers of this crate.

pub mod actor;
pub mod ai_systems;
pub mod audit;
pub mod auth;
pub mod benchmarks;
pub mod bias;
pub mod bias_mitigation;
pub mod classifiers;
pub mod datasets;
pub mod demo;
pub mod error;
pub mod eval;
pub mod imports;
pub mod jobs;
pub mod labeling;
pub mod members;
pub mod packs;
pub mod probes;
pub mod prompts;
pub mod providers;
pub mod registry;
pub mod review;
pub mod scores;
pub mod secrets;
pub mod serving;
pub mod traces;
pub mod views;

use std::path::PathBuf;

pub use actor::Actor;
pub use error::DeskError;
pub use juru_store::{Page, PageRequest, Store};

/// Loaded models by registry version id.
type Cache = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, serving::Engine>>>;

/// The desks and services over one store. Cheap to clone.
#[derive(Clone)]
pub struct Desks {
    pub store: Store,
    /// Where uploads are spooled and model files live.
    pub data_dir: PathBuf,
    pub(crate) job_wakeup: std::sync::Arc<tokio::sync::Notify>,
    pub(crate) engines: Cache,
    /// Seals provider API keys; the key is read from the data directory on first use.
    pub(crate) sealer: std::sync::Arc<std::sync::OnceLock<secrets::Sealer>>,
    /// One generation at a time: llama.cpp already uses every core.
    pub(crate) generation_turn: std::sync::Arc<tokio::sync::Semaphore>,
    /// Woken whenever a review item settles, for ticket polls that wait.
    pub(crate) review_settled: std::sync::Arc<tokio::sync::Notify>,
    /// Label moves, for clients that listen (server-sent events).
    pub(crate) prompt_events: tokio::sync::broadcast::Sender<prompts::PromptEvent>,
    /// Whether a task is relaying label moves from the database to `prompt_events`.
    pub(crate) relaying: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Prompt versions by (prompt id, number): immutable, so cached for delivery.
    pub(crate) prompt_versions: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<(String, i64), juru_store::prompts::PromptVersion>>,
    >,
}

impl Desks {
    pub fn new(store: Store, data_dir: PathBuf) -> Desks {
        Desks {
            store,
            data_dir,
            job_wakeup: Default::default(),
            engines: Default::default(),
            sealer: Default::default(),
            generation_turn: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
            review_settled: Default::default(),
            prompt_events: tokio::sync::broadcast::channel(256).0,
            relaying: Default::default(),
            prompt_versions: Default::default(),
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
