//! The built-in text classifier as a service: train from a labelled dataset version (inline or
//! as a job), evaluate on a held-out stratified split, store the model file in the data
//! directory and register it as a model version with its lineage and metrics; predict with any
//! registered version.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use juru_core::{Action, Area};
use juru_runtime::classifier::{ClassWeights, Classifier, Examples, FeatureConfig, TrainConfig};
use juru_stats::classification::{classification_report, expected_calibration_error};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::datasets::Progress;
use crate::serving::{Engine, Task};
use crate::views::{CreateModel, ModelVersionRequest};
use crate::{Actor, DeskError, Desks, Result};

/// The registry format name of built-in classifier files.
pub const FORMAT: &str = "juru-classifier/1";

/// What to train.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    /// Dataset name or id.
    pub dataset: String,
    /// Dataset version number; the latest when absent.
    pub version: Option<i64>,
    pub text_field: String,
    pub label_field: String,
    /// A numeric field with each example's weight.
    pub weight_field: Option<String>,
    /// The model's name in the registry (created when missing).
    pub name: String,
    pub epochs: Option<usize>,
    pub seed: Option<u64>,
    /// Weigh classes inversely to their frequency.
    #[serde(default)]
    pub balanced: bool,
    /// Share of each class held out for evaluation (default 0.2).
    pub test_fraction: Option<f64>,
    /// Feature buckets are 2^hash_bits (default 18).
    pub hash_bits: Option<u32>,
    /// Move this alias (e.g. `staging`) to the new version.
    pub alias: Option<String>,
}

/// A trained, registered classifier.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrainOutcome {
    pub model: String,
    pub version: i64,
    pub version_id: String,
    pub train_examples: usize,
    pub test_examples: usize,
    pub seconds: f64,
    /// accuracy, macro_f1, per-class scores, confusion matrix, ece on the held-out split.
    pub metrics: Value,
}

/// One text's prediction.
#[derive(Debug, Serialize, ToSchema)]
pub struct Prediction {
    pub label: String,
    pub probability: f32,
    /// Every class's probability.
    pub probabilities: BTreeMap<String, f32>,
}

/// The examples read out of a dataset version.
struct LabelledData {
    texts: Vec<String>,
    targets: Vec<usize>,
    weights: Option<Vec<f32>>,
    labels: Vec<String>,
    skipped: usize,
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Splits each class's examples with a seeded shuffle: `fraction` of them (at least one when the
/// class has two or more) go to the test side.
fn stratified_split(targets: &[usize], classes: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, &t) in targets.iter().enumerate() {
        by_class[t].push(i);
    }
    let mut state = seed ^ 0x5eed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for mut idx in by_class {
        for i in (1..idx.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            idx.swap(i, j);
        }
        let n_test = if idx.len() >= 2 {
            ((idx.len() as f64 * fraction).round() as usize).clamp(1, idx.len() - 1)
        } else {
            0
        };
        test.extend_from_slice(&idx[..n_test]);
        train.extend_from_slice(&idx[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

impl Desks {
    async fn labelled_data(&self, actor: &Actor, req: &TrainRequest) -> Result<(LabelledData, Value)> {
        let version = self.dataset_version(actor, &req.dataset, req.version).await?;
        let fields: Vec<String> = version.schema["fields"]
            .as_array()
            .map(|fs| fs.iter().filter_map(|f| f["name"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        for f in
            [Some(&req.text_field), Some(&req.label_field), req.weight_field.as_ref()].into_iter().flatten()
        {
            if !fields.contains(f) {
                return Err(DeskError::invalid(format!(
                    "dataset {} version {} has no field {f:?} (fields: {})",
                    req.dataset,
                    version.version,
                    fields.join(", ")
                )));
            }
        }
        let (mut texts, mut raw_labels, mut weights, mut skipped) =
            (Vec::new(), Vec::new(), Vec::new(), 0usize);
        let mut from = 0;
        loop {
            let items = self.store.items(&version.id, from, 5000).await?;
            let Some(last) = items.last() else { break };
            from = last.idx + 1;
            for item in items {
                let row: Value = serde_json::from_str(&item.data).map_err(DeskError::internal)?;
                let (Some(text), Some(label)) =
                    (value_text(&row[&req.text_field]), value_text(&row[&req.label_field]))
                else {
                    skipped += 1;
                    continue;
                };
                if let Some(wf) = &req.weight_field {
                    match row[wf].as_f64() {
                        Some(w) if w.is_finite() && w >= 0.0 => weights.push(w as f32),
                        _ => {
                            return Err(DeskError::invalid(format!(
                                "item {}: weight field {wf:?} must be a non-negative number",
                                item.idx
                            )));
                        }
                    }
                }
                texts.push(text);
                raw_labels.push(label);
            }
        }
        let labels: Vec<String> = {
            let mut l = raw_labels.clone();
            l.sort();
            l.dedup();
            l
        };
        if labels.len() < 2 {
            return Err(DeskError::invalid(format!(
                "field {:?} needs at least two distinct labels to train on, found {}",
                req.label_field,
                labels.len()
            )));
        }
        let index: HashMap<&str, usize> = labels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
        let targets = raw_labels.iter().map(|l| index[l.as_str()]).collect();
        let lineage = json!({
            "dataset": req.dataset, "dataset_id": version.dataset_id, "dataset_version": version.version,
            "dataset_version_id": version.id, "content_hash": version.content_hash,
            "text_field": req.text_field, "label_field": req.label_field, "weight_field": req.weight_field,
        });
        let weights = req.weight_field.as_ref().map(|_| weights);
        Ok((LabelledData { texts, targets, weights, labels, skipped }, lineage))
    }

    /// Trains a classifier on a dataset version, evaluates it on a held-out split, and
    /// registers it as a new model version.
    pub async fn train_classifier(
        &self,
        actor: &Actor,
        req: &TrainRequest,
        progress: Arc<Progress>,
    ) -> Result<TrainOutcome> {
        actor.require(Area::Models, Action::Write)?;
        actor.require(Area::Datasets, Action::Read)?;
        juru_core::names::validate_name("model name", &req.name)?;
        let fraction = req.test_fraction.unwrap_or(0.2);
        if !(0.0..0.9).contains(&fraction) || fraction == 0.0 {
            return Err(DeskError::invalid(format!(
                "test_fraction must be above 0 and below 0.9, got {fraction}"
            )));
        }
        let (data, lineage) = self.labelled_data(actor, req).await?;
        let config = TrainConfig {
            features: FeatureConfig { hash_bits: req.hash_bits.unwrap_or(18), ..FeatureConfig::default() },
            epochs: req.epochs.unwrap_or(TrainConfig::default().epochs).clamp(1, 200),
            class_weights: if req.balanced { ClassWeights::Balanced } else { ClassWeights::None },
            seed: req.seed.unwrap_or(42),
            ..TrainConfig::default()
        };
        let (train_idx, test_idx) = stratified_split(&data.targets, data.labels.len(), fraction, config.seed);
        if test_idx.is_empty() {
            return Err(DeskError::invalid(
                "too few examples to hold out a test split: every class needs at least two",
            ));
        }
        let started = Instant::now();
        let p = progress.clone();
        let cfg = config.clone();
        let (model, metrics) = tokio::task::spawn_blocking(move || -> Result<(Classifier, Value)> {
            let pick =
                |idx: &[usize]| -> Vec<String> { idx.iter().map(|&i| data.texts[i].clone()).collect() };
            let train_texts = pick(&train_idx);
            let train_targets: Vec<usize> = train_idx.iter().map(|&i| data.targets[i]).collect();
            let train_weights: Option<Vec<f32>> =
                data.weights.as_ref().map(|w| train_idx.iter().map(|&i| w[i]).collect());
            let examples = Examples {
                texts: &train_texts,
                targets: &train_targets,
                labels: &data.labels,
                sample_weights: train_weights.as_deref(),
            };
            let model =
                Classifier::train(&examples, &cfg, |e, n| p.set_fraction(0.05 + 0.85 * e as f64 / n as f64))
                    .map_err(|e| DeskError::invalid(e.to_string()))?;
            let test_texts = pick(&test_idx);
            let y_true: Vec<usize> = test_idx.iter().map(|&i| data.targets[i]).collect();
            let predicted = model.predict_batch(&test_texts);
            let y_pred: Vec<usize> = predicted.iter().map(|p| p.0).collect();
            let confidence: Vec<f64> = predicted.iter().map(|p| f64::from(p.1)).collect();
            let correct: Vec<bool> = y_true.iter().zip(&y_pred).map(|(a, b)| a == b).collect();
            let report = classification_report(&y_true, &y_pred, &data.labels)
                .map_err(|e| DeskError::invalid(e.to_string()))?;
            let ece = expected_calibration_error(&confidence, &correct, 15)
                .map_err(|e| DeskError::invalid(e.to_string()))?;
            let mut metrics = serde_json::to_value(&report).map_err(DeskError::internal)?;
            metrics["ece"] = json!(ece);
            metrics["train_examples"] = json!(train_idx.len());
            metrics["test_examples"] = json!(test_idx.len());
            metrics["skipped_items"] = json!(data.skipped);
            Ok((model, metrics))
        })
        .await
        .map_err(DeskError::internal)??;
        let seconds = started.elapsed().as_secs_f64();

        let dir = self.data_dir.join("models");
        std::fs::create_dir_all(&dir).map_err(DeskError::internal)?;
        let file = format!("{}.juruclf", juru_core::ids::new_id());
        let mut model = model;
        model.info["lineage"] = lineage.clone();
        let (sha256, size) = model.save(&dir.join(&file)).map_err(|e| DeskError::invalid(e.to_string()))?;

        if self.store.model(&actor.workspace_id, &req.name).await.is_err() {
            let create = CreateModel {
                name: req.name.clone(),
                task: Some("text-classification".into()),
                description: Some(format!(
                    "built-in classifier of {:?} from {:?}",
                    req.label_field, req.text_field
                )),
            };
            match self.create_model(actor, &create).await {
                Ok(_) | Err(DeskError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let mut lineage = lineage;
        lineage["recipe"] = serde_json::to_value(&config).map_err(DeskError::internal)?;
        let mut metrics = metrics;
        metrics["train_seconds"] = json!(seconds);
        let version = self
            .create_model_version(
                actor,
                &req.name,
                &ModelVersionRequest {
                    format: FORMAT.into(),
                    artifact_uri: Some(format!("file:models/{file}")),
                    sha256: Some(sha256),
                    size_bytes: Some(size as i64),
                    source: Some("trained in Juru".into()),
                    lineage: lineage.as_object().cloned(),
                    metrics: metrics.as_object().cloned(),
                },
            )
            .await?;
        if let Some(alias) = &req.alias {
            self.set_model_alias(actor, &req.name, alias, Some(version.version)).await?;
        }
        progress.set_fraction(1.0);
        Ok(TrainOutcome {
            model: req.name.clone(),
            version: version.version,
            version_id: version.id,
            train_examples: metrics["train_examples"].as_u64().unwrap_or_default() as usize,
            test_examples: metrics["test_examples"].as_u64().unwrap_or_default() as usize,
            seconds,
            metrics,
        })
    }

    /// Resolves `name`, `name@3` or `name@alias` (plain `name`: the `production` alias when
    /// set, else the latest version) and loads the classifier, cached by version.
    pub async fn classifier(&self, actor: &Actor, reference: &str) -> Result<(Arc<Classifier>, String)> {
        let m = self.serve_for(actor, reference, Task::Classify).await?;
        match m.engine {
            Engine::Classifier(c) => Ok((c, m.version_id)),
            _ => Err(DeskError::invalid(format!("{reference} is not a built-in classifier"))),
        }
    }

    /// Predicts the label of each text.
    pub async fn predict(&self, actor: &Actor, reference: &str, texts: &[String]) -> Result<Vec<Prediction>> {
        let m = self.serve_for(actor, reference, Task::Classify).await?;
        self.classify(actor, &m, texts).await
    }
}

/// The most likely label of `text`, with every label's probability.
pub(crate) fn predict_one(model: &Classifier, text: &str) -> Prediction {
    let p = model.predict_proba(text);
    let best =
        p.iter().copied().enumerate().fold((0, f32::MIN), |b, (c, v)| if v > b.1 { (c, v) } else { b });
    Prediction {
        label: model.labels[best.0].clone(),
        probability: best.1,
        probabilities: model.labels.iter().cloned().zip(p).collect(),
    }
}
