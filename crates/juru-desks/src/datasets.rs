//! Datasets: import from CSV and JSONL (two passes, all-or-nothing), browse, export, change.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use juru_core::dataset::{self, FileError, Format, Schema};
use juru_core::{Action, Area};
use juru_store::audit::NewAudit;
use juru_store::datasets::{ImportSlot, ImportSummary};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::views::{DatasetVersionView, DatasetView, ItemView, Listing, UpdateDataset};
use crate::{Actor, DeskError, Desks, PageRequest, Result};

/// How long an import may go without writing a chunk before it counts as dead and is removed.
/// A chunk takes milliseconds, so this is generous, yet short enough that a crashed import frees
/// its dataset name soon after a restart.
pub const IMPORT_LEASE_MS: i64 = 15_000;
/// Rows per write transaction during an import.
const ROWS_PER_CHUNK: usize = 5_000;

/// What to import, and as what.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub name: String,
    pub description: String,
    /// Taken from `source`'s extension when absent.
    pub format: Option<Format>,
    /// Add a version to an existing dataset instead of making a new one.
    pub new_version: bool,
    /// Where the data came from (a file name), kept on the version.
    pub source: String,
    pub message: String,
}

/// A finished import.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ImportOutcome {
    pub dataset: DatasetView,
    pub version: DatasetVersionView,
}

/// Progress of a long import, shared with whoever shows it.
#[derive(Debug, Default)]
pub struct Progress {
    /// Thousandths of the work done.
    permille: AtomicU64,
    rows: AtomicU64,
    cancelled: std::sync::atomic::AtomicBool,
}

impl Progress {
    pub fn fraction(&self) -> f64 {
        self.permille.load(Ordering::Relaxed) as f64 / 1000.0
    }
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }
    /// Asks the work to stop at its next chunk.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
    /// Records how many rows (or cases) are done.
    pub fn set_rows(&self, rows: u64) {
        self.rows.store(rows, Ordering::Relaxed);
    }
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
    /// Records how much of the work is done, from 0 to 1.
    pub fn set_fraction(&self, fraction: f64) {
        self.set(fraction);
    }
    fn set(&self, fraction: f64) {
        self.permille.store((fraction.clamp(0.0, 1.0) * 1000.0) as u64, Ordering::Relaxed);
    }
}

/// The share of an import's time that the checking pass takes.
const CHECK_SHARE: f64 = 0.3;

/// Counts bytes as they are read, for progress.
struct Counting<R> {
    inner: R,
    read: u64,
    total: u64,
    progress: Arc<Progress>,
    offset: f64,
    share: f64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.total > 0 {
            self.progress.set(self.offset + self.share * self.read as f64 / self.total as f64);
        }
        Ok(n)
    }
}

impl From<FileError> for DeskError {
    fn from(e: FileError) -> Self {
        DeskError::Invalid(e.to_string())
    }
}

fn open_counting(
    path: &Path,
    progress: &Arc<Progress>,
    offset: f64,
    share: f64,
) -> Result<Counting<std::fs::File>> {
    let file = std::fs::File::open(path)
        .map_err(|e| DeskError::invalid(format!("opening {}: {e}", path.display())))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok(Counting { inner: file, read: 0, total, progress: progress.clone(), offset, share })
}

impl Desks {
    /// Imports a CSV or JSONL file as a new dataset (or a new version of one). Every row is
    /// checked first; a file with any bad row imports nothing and every bad row is reported.
    pub async fn import_file(
        &self,
        actor: &Actor,
        path: &Path,
        req: &ImportRequest,
        progress: Arc<Progress>,
    ) -> Result<ImportOutcome> {
        actor.require(Area::Datasets, Action::Write)?;
        juru_core::names::validate_name("dataset name", &req.name)?;
        let format = req.format.or_else(|| Format::from_file_name(&req.source)).ok_or_else(|| {
            DeskError::invalid(format!("cannot tell the format of {:?}: name it (csv or jsonl)", req.source))
        })?;
        let existing = if req.new_version {
            Some(self.store.dataset(&actor.workspace_id, &req.name).await?)
        } else {
            None
        };

        let check_path = path.to_owned();
        let p = progress.clone();
        let inspection = tokio::task::spawn_blocking(move || {
            dataset::inspect(format, open_counting(&check_path, &p, 0.0, CHECK_SHARE)?)
                .map_err(DeskError::from)
        })
        .await
        .map_err(DeskError::internal)??;
        if inspection.error_count > 0 {
            return Err(DeskError::BadRows {
                count: inspection.error_count,
                summary: inspection.error_summary(),
                errors: inspection.errors,
            });
        }
        if inspection.rows == 0 {
            return Err(DeskError::invalid(format!("{} has no rows", req.source)));
        }

        let mut tx = self.store.write_operational().await?;
        let slot = match &existing {
            Some(ds) => tx.begin_import_version(ds, &actor.audit_name(), IMPORT_LEASE_MS).await?,
            None => {
                tx.begin_import_new(
                    &actor.workspace_id,
                    &req.name,
                    &req.description,
                    &actor.audit_name(),
                    IMPORT_LEASE_MS,
                )
                .await?
            }
        };
        tx.commit().await?;
        match self
            .write_rows(actor, path, format, &inspection.schema, inspection.rows, &slot, req, progress)
            .await
        {
            Ok(outcome) => Ok(outcome),
            Err(e) => {
                if let Ok(mut tx) = self.store.write_operational().await {
                    let _ = tx.abort_import(&slot).await;
                    let _ = tx.commit().await;
                }
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_rows(
        &self,
        actor: &Actor,
        path: &Path,
        format: Format,
        schema: &Schema,
        total_rows: u64,
        slot: &ImportSlot,
        req: &ImportRequest,
        progress: Arc<Progress>,
    ) -> Result<ImportOutcome> {
        let (send, mut recv) = tokio::sync::mpsc::channel::<Vec<String>>(4);
        let (read_path, read_schema) = (path.to_owned(), schema.clone());
        let reader = tokio::task::spawn_blocking(move || -> Result<()> {
            let file = std::fs::File::open(&read_path).map_err(|e| DeskError::invalid(e.to_string()))?;
            let mut chunk = Vec::with_capacity(ROWS_PER_CHUNK);
            dataset::for_each_row::<DeskError>(format, file, &read_schema, |row| {
                chunk.push(row);
                if chunk.len() == ROWS_PER_CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(ROWS_PER_CHUNK));
                    send.blocking_send(full).map_err(|_| DeskError::invalid("import stopped"))?;
                }
                Ok(())
            })?;
            if !chunk.is_empty() {
                send.blocking_send(chunk).map_err(|_| DeskError::invalid("import stopped"))?;
            }
            Ok(())
        });
        let mut hasher = Sha256::new();
        let mut written: i64 = 0;
        while let Some(chunk) = recv.recv().await {
            if progress.cancelled.load(Ordering::Relaxed) {
                return Err(DeskError::invalid("the import was cancelled"));
            }
            for row in &chunk {
                hasher.update(row.as_bytes());
                hasher.update(b"\n");
            }
            let mut tx = self.store.write_operational().await?;
            tx.insert_items(slot, written, &chunk, IMPORT_LEASE_MS).await?;
            tx.commit().await?;
            written += chunk.len() as i64;
            progress.rows.store(written as u64, Ordering::Relaxed);
            progress.set(CHECK_SHARE + (1.0 - CHECK_SHARE) * written as f64 / total_rows.max(1) as f64);
        }
        reader.await.map_err(DeskError::internal)??;
        if written as u64 != total_rows {
            return Err(DeskError::invalid(format!(
                "{} changed while it was imported: {total_rows} rows checked, {written} read",
                req.source
            )));
        }
        let content_hash = hex::encode(hasher.finalize());
        let schema_json = serde_json::to_string(schema).map_err(DeskError::internal)?;
        let mut tx = self.store.write().await?;
        let version = tx
            .finish_import(
                slot,
                &ImportSummary {
                    schema: &schema_json,
                    row_count: written,
                    content_hash: &content_hash,
                    source: &req.source,
                    message: &req.message,
                },
            )
            .await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: if slot.new_dataset { "dataset.create" } else { "dataset.version.create" },
            object_kind: "dataset",
            object_id: &slot.dataset_id,
            summary: json!({"after": {
                "name": req.name, "version": version.version, "rows": written,
                "content_hash": content_hash, "source": req.source,
            }}),
        })
        .await?;
        tx.commit().await?;
        progress.set(1.0);
        let dataset = self.store.dataset(&actor.workspace_id, &slot.dataset_id).await?;
        Ok(ImportOutcome { dataset: dataset.into(), version: version.into() })
    }

    pub async fn datasets(
        &self,
        actor: &Actor,
        query: Option<&str>,
        page: &PageRequest,
    ) -> Result<Listing<DatasetView>> {
        actor.require(Area::Datasets, Action::Read)?;
        Ok(Listing::from_page(self.store.datasets(&actor.workspace_id, query, page).await?, Into::into))
    }

    pub async fn dataset(
        &self,
        actor: &Actor,
        id_or_name: &str,
    ) -> Result<(DatasetView, Vec<DatasetVersionView>)> {
        actor.require(Area::Datasets, Action::Read)?;
        let ds = self.store.dataset(&actor.workspace_id, id_or_name).await?;
        let versions = self.store.dataset_versions(&ds.id).await?;
        Ok((ds.into(), versions.into_iter().map(Into::into).collect()))
    }

    /// A version by number (`None`: the latest).
    pub async fn dataset_version(
        &self,
        actor: &Actor,
        dataset: &str,
        version: Option<i64>,
    ) -> Result<DatasetVersionView> {
        actor.require(Area::Datasets, Action::Read)?;
        let ds = self.store.dataset(&actor.workspace_id, dataset).await?;
        Ok(self.store.dataset_version(&ds, version).await?.into())
    }

    /// Items of a version, from `from`, with the index of the next page.
    pub async fn items(
        &self,
        actor: &Actor,
        dataset: &str,
        version: Option<i64>,
        from: i64,
        limit: i64,
    ) -> Result<(Vec<ItemView>, Option<i64>)> {
        actor.require(Area::Datasets, Action::Read)?;
        let ds = self.store.dataset(&actor.workspace_id, dataset).await?;
        let v = self.store.dataset_version(&ds, version).await?;
        let limit = limit.clamp(1, 1000);
        let items = self.store.items(&v.id, from.max(0), limit + 1).await?;
        let next = (items.len() as i64 > limit).then(|| items[limit as usize].idx);
        Ok((items.into_iter().take(limit as usize).map(Into::into).collect(), next))
    }

    pub async fn update_dataset(
        &self,
        actor: &Actor,
        id_or_name: &str,
        req: &UpdateDataset,
    ) -> Result<DatasetView> {
        actor.require(Area::Datasets, Action::Write)?;
        if let Some(name) = &req.name {
            juru_core::names::validate_name("dataset name", name)?;
        }
        let before = self.store.dataset(&actor.workspace_id, id_or_name).await?;
        let mut tx = self.store.write().await?;
        let after = tx
            .update_dataset(&actor.workspace_id, &before.id, req.name.as_deref(), req.description.as_deref())
            .await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "dataset.update",
            object_kind: "dataset",
            object_id: &before.id,
            summary: json!({"before": {"name": before.name, "description": before.description},
                            "after": {"name": after.name, "description": after.description}}),
        })
        .await?;
        tx.commit().await?;
        Ok(after.into())
    }

    pub async fn delete_dataset(&self, actor: &Actor, id_or_name: &str) -> Result<()> {
        actor.require(Area::Datasets, Action::Write)?;
        let before = self.store.dataset(&actor.workspace_id, id_or_name).await?;
        let mut tx = self.store.write().await?;
        tx.delete_dataset(&actor.workspace_id, &before.id).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "dataset.delete",
            object_kind: "dataset",
            object_id: &before.id,
            summary: json!({"before": {"name": before.name, "latest_version": before.latest_version}}),
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One page of an export, as bytes in `format`: the CSV header comes with `from == 0`.
    /// Returns the bytes and where the next page starts (`None` at the end).
    pub async fn export_page(
        &self,
        actor: &Actor,
        version: &DatasetVersionView,
        format: Format,
        from: i64,
        limit: i64,
    ) -> Result<(Vec<u8>, Option<i64>)> {
        actor.require(Area::Datasets, Action::Read)?;
        let items = self.store.items(&version.id, from, limit + 1).await?;
        let next = (items.len() as i64 > limit).then(|| items[limit as usize].idx);
        let items = &items[..items.len().min(limit as usize)];
        let mut out = Vec::with_capacity(items.len() * 128);
        match format {
            Format::Jsonl => {
                for item in items {
                    out.extend_from_slice(item.data.as_bytes());
                    out.push(b'\n');
                }
            }
            Format::Csv => {
                let schema: Schema = serde_json::from_value(version.schema.clone()).unwrap_or_default();
                let mut w = csv::WriterBuilder::new().from_writer(&mut out);
                if from == 0 {
                    w.write_record(schema.fields.iter().map(|f| f.name.as_str()))
                        .map_err(DeskError::internal)?;
                }
                let mut record: Vec<String> = Vec::with_capacity(schema.fields.len());
                for item in items {
                    let row: serde_json::Map<String, Value> =
                        serde_json::from_str(&item.data).map_err(DeskError::internal)?;
                    record.clear();
                    record.extend(schema.fields.iter().map(|f| csv_cell(row.get(&f.name))));
                    w.write_record(&record).map_err(DeskError::internal)?;
                }
                w.flush().map_err(DeskError::internal)?;
            }
        }
        Ok((out, next))
    }
}

/// A JSON value as a table cell: strings as they are, null as empty, others as JSON.
pub(crate) fn csv_cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}
