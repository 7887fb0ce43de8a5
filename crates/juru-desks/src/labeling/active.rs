//! The model in the loop: a registry classifier's predictions shown as suggestions with scores
//! (pre-annotation), and active learning: every K answers a job retrains the built-in
//! classifier on the labels so far, scores every item's uncertainty (entropy of its predicted
//! class probabilities) so the queue serves the most uncertain first, and adds a point to the
//! project's learning curve (labels → held-out accuracy).

use juru_core::labels::LabelKind;
use juru_core::{Action, Area, roles::Desk};
use juru_runtime::classifier::{Classifier, Examples, TrainConfig};
use juru_store::audit::NewAudit;
use juru_store::labeling::LabelProject;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{parse_json, settings_of, text_of};
use crate::{Actor, DeskError, Desks, Result};

const LABELING: Area = Area::Desk(Desk::Labeling);
pub const LABELING_RETRAIN: &str = "labeling.retrain";
/// Held-out items below which no accuracy is recorded (one fifth of the labels is held out).
const MIN_HELD_OUT: usize = 2;

/// What suggesting or retraining did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestOutcome {
    pub model: String,
    pub items: usize,
    /// Labelled items trained on (retraining only).
    pub trained_on: Option<usize>,
    /// Held-out accuracy (retraining only, when enough labels exist).
    pub accuracy: Option<f64>,
}

/// Parameters of a `labeling.retrain` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RetrainParams {
    pub user_id: String,
    pub project: String,
}

/// Entropy of a probability vector, in nats.
fn entropy(p: &[f32]) -> f64 {
    p.iter().filter(|&&x| x > 0.0).map(|&x| -(f64::from(x)) * f64::from(x).ln()).sum()
}

impl Desks {
    /// Reads every item's text, in order.
    async fn project_texts(&self, p: &LabelProject) -> Result<Vec<(i64, String)>> {
        let mut out = Vec::with_capacity(p.item_count as usize);
        let mut from = 0;
        loop {
            let items = self.store.items(&p.dataset_version_id, from, 5000).await?;
            let Some(last) = items.last().map(|i| i.idx) else { break };
            out.extend(items.into_iter().map(|i| (i.idx, text_of(&parse_json(&i.data), &p.text_field))));
            from = last + 1;
        }
        Ok(out)
    }

    /// Stores a classifier's prediction for every item as a suggestion with its score, and the
    /// entropy as the item's uncertainty.
    async fn store_suggestions(
        &self,
        actor: &Actor,
        p: &LabelProject,
        model: &Classifier,
        name: &str,
        texts: &[(i64, String)],
    ) -> Result<usize> {
        let schema = self.current_schema(p).await?;
        let mut rows = Vec::with_capacity(texts.len());
        for (idx, text) in texts {
            let probs = model.predict_proba(text);
            let (best, score) = probs
                .iter()
                .copied()
                .enumerate()
                .fold((0, f32::MIN), |b, (c, v)| if v > b.1 { (c, v) } else { b });
            let label = &model.labels[best];
            // A label the schema does not have is still shown, but cannot be taken as is.
            let fits = schema.labels.contains(label);
            let suggestion = json!({"value": label, "score": score, "model": name, "fits_schema": fits});
            rows.push((*idx, suggestion.to_string(), entropy(&probs)));
        }
        let mut tx = self.store.write().await?;
        for chunk in rows.chunks(2000) {
            tx.set_label_suggestions(&p.id, chunk).await?;
        }
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "labeling.suggest",
            object_kind: "label_project",
            object_id: &p.id,
            summary: json!({"project": p.name, "model": name, "items": rows.len()}),
        })
        .await?;
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Pre-annotates a single-label project with a registry classifier (`name`, `name@3`,
    /// `name@alias`).
    pub async fn suggest_labels(&self, actor: &Actor, project: &str, model: &str) -> Result<SuggestOutcome> {
        actor.require(LABELING, Action::Write)?;
        let p = self.store.label_project(&actor.workspace_id, project).await?;
        let schema = self.current_schema(&p).await?;
        if schema.kind != LabelKind::Single {
            return Err(DeskError::invalid("suggestions from a classifier need a single-label project"));
        }
        let (classifier, version_id) = self.classifier(actor, model).await?;
        let texts = self.project_texts(&p).await?;
        let items = self.store_suggestions(actor, &p, &classifier, model, &texts).await?;
        let mut settings = settings_of(&p);
        settings.suggestion_model = Some(format!("{model} ({version_id})"));
        self.save_settings(&p.id, &settings).await?;
        Ok(SuggestOutcome { model: model.into(), items, trained_on: None, accuracy: None })
    }

    /// Queues a retraining when the project asks for one every K answers and K more came in.
    pub(crate) async fn maybe_retrain(&self, actor: &Actor, p: &LabelProject) -> Result<()> {
        let every = settings_of(p).retrain_every;
        if every <= 0 {
            return Ok(());
        }
        let answers = self.store.label_project_counts(p).await?.answers;
        if answers > 0 && answers % every == 0 {
            let params = RetrainParams { user_id: actor.user_id.clone(), project: p.id.clone() };
            self.enqueue_labeling_retrain(
                actor,
                &params,
                json!({"kind": LABELING_RETRAIN, "project": p.name, "answers": answers}),
            )
            .await?;
        }
        Ok(())
    }

    /// Trains the built-in classifier on the project's labels so far, measures it on a held-out
    /// fifth, and scores every item's uncertainty with it.
    pub async fn retrain_label_model(&self, actor: &Actor, project: &str) -> Result<SuggestOutcome> {
        actor.require(LABELING, Action::Write)?;
        let p = self.store.label_project(&actor.workspace_id, project).await?;
        let schema = self.current_schema(&p).await?;
        if schema.kind != LabelKind::Single {
            return Err(DeskError::invalid("active learning needs a single-label project"));
        }
        let texts = self.project_texts(&p).await?;
        let labelled = self.project_labels(&p).await?;
        let labels = schema.labels.clone();
        let examples: Vec<(usize, usize)> = labelled
            .iter()
            .filter_map(|(idx, v)| {
                let k = labels.iter().position(|l| Some(l.as_str()) == v.as_str())?;
                Some((*idx as usize, k))
            })
            .collect();
        let classes_seen = {
            let mut seen = vec![false; labels.len()];
            examples.iter().for_each(|(_, k)| seen[*k] = true);
            seen.iter().filter(|s| **s).count()
        };
        if classes_seen < 2 {
            return Err(DeskError::invalid(format!(
                "project {} needs labelled items of two or more labels to train on ({} labelled so far)",
                p.name,
                examples.len()
            )));
        }
        // Every fifth labelled item is held out, so the curve's points are comparable.
        let (test, train): (Vec<_>, Vec<_>) = examples.iter().enumerate().partition(|(n, _)| n % 5 == 4);
        let pick = |set: &[(usize, &(usize, usize))]| -> (Vec<String>, Vec<usize>) {
            set.iter().map(|(_, (i, k))| (texts[*i].1.clone(), *k)).unzip()
        };
        let (train_texts, train_targets) = pick(&train);
        let (test_texts, test_targets) = pick(&test);
        let config = TrainConfig { epochs: 10, ..TrainConfig::default() };
        let labels_for_job = labels.clone();
        let (model, accuracy) = tokio::task::spawn_blocking(move || -> Result<(Classifier, Option<f64>)> {
            let ex = Examples {
                texts: &train_texts,
                targets: &train_targets,
                labels: &labels_for_job,
                sample_weights: None,
            };
            let model =
                Classifier::train(&ex, &config, |_, _| {}).map_err(|e| DeskError::invalid(e.to_string()))?;
            let accuracy = (test_texts.len() >= MIN_HELD_OUT).then(|| {
                let pred = model.predict_batch(&test_texts);
                pred.iter().zip(&test_targets).filter(|(p, t)| p.0 == **t).count() as f64
                    / test_texts.len() as f64
            });
            Ok((model, accuracy))
        })
        .await
        .map_err(DeskError::internal)??;
        let name = format!("active learning ({} labels)", examples.len());
        let items = self.store_suggestions(actor, &p, &model, &name, &texts).await?;
        let p = self.store.label_project(&actor.workspace_id, &p.id).await?;
        let mut settings = settings_of(&p);
        if let Some(acc) = accuracy {
            settings.learning_curve.push((examples.len() as i64, acc));
        }
        self.save_settings(&p.id, &settings).await?;
        Ok(SuggestOutcome { model: name, items, trained_on: Some(train.len()), accuracy })
    }

    /// Each labelled item's label: resolved, else its answers' most common value.
    async fn project_labels(&self, p: &LabelProject) -> Result<Vec<(i64, serde_json::Value)>> {
        let resolved: std::collections::HashMap<i64, serde_json::Value> = self
            .store
            .label_resolutions(&p.id, 0, i64::MAX)
            .await?
            .into_iter()
            .map(|r| (r.idx, parse_json(&r.value)))
            .collect();
        let mut votes: std::collections::BTreeMap<i64, Vec<serde_json::Value>> = Default::default();
        for a in self.store.label_answers_all(&p.id, "submitted").await? {
            if let Some(v) = a.value.as_deref() {
                votes.entry(a.idx).or_default().push(parse_json(v));
            }
        }
        for idx in resolved.keys() {
            votes.entry(*idx).or_default();
        }
        Ok(votes
            .into_iter()
            .filter_map(|(idx, vs)| {
                if let Some(r) = resolved.get(&idx) {
                    return Some((idx, r.clone()));
                }
                let best = vs.iter().max_by_key(|v| vs.iter().filter(|w| w == v).count())?;
                Some((idx, best.clone()))
            })
            .collect())
    }
}
