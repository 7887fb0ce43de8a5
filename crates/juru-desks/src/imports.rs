//! `juru model import PATH`: a user's own model file registered as a version. GGUF files (local
//! LLMs), BERT-family safetensors with their `tokenizer.json` and `config.json` (embedders),
//! and built-in classifier files are loaded once to prove they work (a damaged file is refused
//! with the loader's reason, and nothing is registered), copied into the data directory, and
//! registered with their SHA-256, size and origin.

use std::path::{Path, PathBuf};

use juru_runtime::classifier::Classifier;
use juru_runtime::embed::Embedder;
use juru_runtime::llm::Llm;
use sha2::{Digest, Sha256};

use crate::serving::format;
use crate::views::{CreateModel, ModelVersionRequest, ModelVersionView};
use crate::{Actor, DeskError, Desks, Result};

/// A model on disk, recognised.
struct Found {
    format: &'static str,
    task: &'static str,
    /// The main artifact first.
    files: Vec<PathBuf>,
}

fn recognise(path: &Path) -> Result<Found> {
    let missing = |p: &Path| DeskError::invalid(format!("{}: no such file or folder", p.display()));
    if !path.exists() {
        return Err(missing(path));
    }
    // A folder, or the tokenizer.json / config.json of one, means the safetensors model in it.
    let dir_model = |dir: &Path| -> Result<Found> {
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(DeskError::invalid(format!(
                "{}: no model.safetensors in it (a folder must hold model.safetensors, config.json and tokenizer.json)",
                dir.display()
            )));
        }
        safetensors_model(&weights)
    };
    if path.is_dir() {
        return dir_model(path);
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    match ext.as_str() {
        "gguf" => Ok(Found { format: format::GGUF, task: "chat", files: vec![path.to_owned()] }),
        "safetensors" => safetensors_model(path),
        "juruclf" => {
            Ok(Found { format: format::CLASSIFIER, task: "classification", files: vec![path.to_owned()] })
        }
        "json" if name == "tokenizer.json" || name == "config.json" => {
            dir_model(path.parent().unwrap_or(Path::new(".")))
        }
        _ => Err(DeskError::invalid(format!(
            "{}: Juru imports .gguf files, .safetensors files (with config.json and tokenizer.json beside them), \
             folders holding those, and .juruclf classifiers",
            path.display()
        ))),
    }
}

fn safetensors_model(weights: &Path) -> Result<Found> {
    let dir = weights.parent().unwrap_or(Path::new("."));
    let mut files = vec![weights.to_owned()];
    for side in ["config.json", "tokenizer.json"] {
        let p = dir.join(side);
        if !p.is_file() {
            return Err(DeskError::invalid(format!(
                "{}: {side} is missing beside it (an embedding model needs config.json and tokenizer.json)",
                weights.display()
            )));
        }
        files.push(p);
    }
    Ok(Found { format: format::SAFETENSORS, task: "embedding", files })
}

/// Copies `files` into `dest` (made fresh), hashing the first; returns its SHA-256 and size.
fn copy_in(files: &[PathBuf], dest: &Path) -> Result<(String, u64)> {
    let io = |p: &Path, e: std::io::Error| DeskError::invalid(format!("{}: {e}", p.display()));
    std::fs::create_dir_all(dest).map_err(|e| io(dest, e))?;
    let mut first = None;
    for (i, src) in files.iter().enumerate() {
        let target = dest.join(src.file_name().unwrap_or_default());
        let mut from = std::fs::File::open(src).map_err(|e| io(src, e))?;
        let mut to = std::fs::File::create(&target).map_err(|e| io(&target, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            use std::io::{Read, Write};
            let n = from.read(&mut buf).map_err(|e| io(src, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            to.write_all(&buf[..n]).map_err(|e| io(&target, e))?;
            size += n as u64;
        }
        to.sync_all().map_err(|e| io(&target, e))?;
        if i == 0 {
            first = Some((hex::encode(hasher.finalize()), size));
        }
    }
    first.ok_or_else(|| DeskError::invalid("nothing to import"))
}

fn ensure_dir(dir: PathBuf) -> Result<PathBuf> {
    std::fs::create_dir_all(&dir).map_err(|e| DeskError::invalid(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}

/// Loads the model once; the loader's error (which names the file) when it fails.
fn check_loads(format: &str, main: &Path) -> Result<()> {
    match format {
        format::GGUF => Llm::load(main).map(drop)?,
        format::SAFETENSORS => Embedder::load(main).map(drop)?,
        _ => Classifier::load(main).map(drop)?,
    }
    Ok(())
}

impl Desks {
    /// Imports a model file (or folder) as a new version of `name`, made when missing; moves
    /// `alias` to it when given.
    pub async fn import_model(
        &self,
        actor: &Actor,
        path: &Path,
        name: &str,
        alias: Option<&str>,
    ) -> Result<ModelVersionView> {
        actor.require(juru_core::Area::Models, juru_core::Action::Write)?;
        juru_core::names::validate_name("model name", name)?;
        let found = recognise(path)?;
        let staging = tempfile::Builder::new()
            .prefix(".import-")
            .tempdir_in(ensure_dir(self.data_dir.join("models"))?)
            .map_err(DeskError::internal)?;
        let files = found.files.clone();
        let stage = staging.path().to_owned();
        let fmt = found.format;
        // Loaded where it is, so that errors name the user's file; then copied.
        let (sha256, size) = tokio::task::spawn_blocking(move || -> Result<(String, u64)> {
            check_loads(fmt, &files[0])?;
            copy_in(&files, &stage)
        })
        .await
        .map_err(DeskError::internal)??;
        // Content-addressed: the same file imported twice lands in the same place.
        let rel = PathBuf::from("models").join(name).join(&sha256[..16]);
        let dest = self.data_dir.join(&rel);
        if !dest.exists() {
            std::fs::create_dir_all(dest.parent().unwrap_or(&self.data_dir)).map_err(DeskError::internal)?;
            std::fs::rename(staging.keep(), &dest).map_err(DeskError::internal)?;
        }
        let rel_files: Vec<String> = found
            .files
            .iter()
            .map(|f| rel.join(f.file_name().unwrap_or_default()).display().to_string())
            .collect();
        match self
            .create_model(
                actor,
                &CreateModel {
                    name: name.into(),
                    task: Some(found.task.into()),
                    description: Some(format!("imported from {}", path.display())),
                },
            )
            .await
        {
            Ok(_) | Err(DeskError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
        let version = self
            .create_model_version(
                actor,
                name,
                &ModelVersionRequest {
                    format: found.format.into(),
                    artifact_uri: Some(format!("file:{}", rel_files[0])),
                    sha256: Some(sha256),
                    size_bytes: Some(size as i64),
                    source: Some(format!("import:{}", path.display())),
                    lineage:
                        serde_json::json!({"files": rel_files, "imported_from": path.display().to_string()})
                            .as_object()
                            .cloned(),
                    metrics: None,
                },
            )
            .await?;
        if let Some(alias) = alias {
            self.set_model_alias(actor, name, alias, Some(version.version)).await?;
        }
        Ok(version)
    }
}
