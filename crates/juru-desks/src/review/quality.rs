//! How well a queue's reviewers work (throughput, time per item, agreement with each other,
//! accuracy on honeypots), how often people agree with each model version, and the feedback
//! loop: settled items written into a dataset version with their provenance.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use juru_core::timefmt::format_ms;
use juru_core::{Action, Area};
use juru_stats::agreement::{Level, annotator_agreement, krippendorff_alpha, percent_agreement};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{ACTIONS, REVIEW, display_text};
use crate::datasets::{ImportOutcome, ImportRequest, Progress};
use crate::labeling::agreement::median;
use crate::{Actor, DeskError, Desks, Result};

#[derive(Debug, Serialize, ToSchema)]
pub struct QualityReport {
    pub queue: String,
    pub decisions: u64,
    /// Items (not honeypots) with two or more decisions, which agreement is measured on.
    pub items_with_several: u64,
    /// Share of agreeing pairs of decisions on the same item (approve, edit, reject).
    pub percent_agreement: Option<f64>,
    /// Krippendorff's alpha (nominal) over the actions.
    pub alpha: Option<f64>,
    pub reviewers: Vec<ReviewerQuality>,
    pub models: Vec<ModelAgreement>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewerQuality {
    pub reviewer: String,
    pub decisions: u64,
    pub approved: u64,
    pub edited: u64,
    pub rejected: u64,
    pub median_seconds: Option<f64>,
    /// 3600 ÷ the median seconds per item.
    pub items_per_hour: Option<f64>,
    /// Items where the other reviewers' majority was clear.
    pub with_others: u64,
    /// Share of those where this reviewer chose the majority's action.
    pub agreement: Option<f64>,
    pub honeypots: u64,
    pub honeypot_accuracy: Option<f64>,
}

/// How often people let a model version's output through unchanged.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelAgreement {
    pub model: String,
    pub model_version_id: Option<String>,
    /// Items settled by reviewers.
    pub settled: u64,
    pub approved: u64,
    pub edited: u64,
    pub rejected: u64,
    /// approved ÷ settled: the share where people agreed with the model.
    pub agreement: Option<f64>,
}

/// Settled items into a dataset.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackToDataset {
    /// The dataset to write; a new version when it exists.
    pub name: String,
    /// `corrected` (edited items, default), `decided` (approved and edited) or `all` (rejected
    /// too, with a null output).
    pub include: Option<String>,
}

impl Desks {
    pub async fn review_quality(&self, actor: &Actor, queue: &str) -> Result<QualityReport> {
        actor.require(REVIEW, Action::Read)?;
        let q = self.store.review_queue(&actor.workspace_id, queue).await?;
        let rows = self.store.review_decisions_in(&q.id).await?;
        let code = |a: &Option<String>| a.as_deref().and_then(|a| ACTIONS.iter().position(|x| *x == a));
        // Units are items, coders are reviewers.
        let mut unit_of: HashMap<String, usize> = HashMap::new();
        let mut coder_of: HashMap<String, usize> = HashMap::new();
        let mut gold: Vec<Option<usize>> = Vec::new();
        let mut cells = Vec::new();
        for (d, ctx) in &rows {
            let Some(c) = code(&d.action) else { continue };
            let n_units = unit_of.len();
            let u = *unit_of.entry(d.item_id.clone()).or_insert(n_units);
            if u == gold.len() {
                gold.push(ctx.expected.as_deref().and_then(|e| {
                    let v: Value = serde_json::from_str(e).ok()?;
                    ACTIONS.iter().position(|x| Some(*x) == v["action"].as_str())
                }));
            }
            let n_coders = coder_of.len();
            let r = *coder_of.entry(d.reviewer.clone()).or_insert(n_coders);
            cells.push((r, u, c));
        }
        let (units, coders) = (unit_of.len(), coder_of.len());
        let mut matrix = vec![vec![None; units]; coders];
        for &(r, u, c) in &cells {
            matrix[r][u] = Some(c);
        }
        // Agreement between people on real items only; honeypots are scored against gold.
        let real: Vec<bool> = gold.iter().map(Option::is_none).collect();
        let as_f64: Vec<Vec<Option<f64>>> = matrix
            .iter()
            .map(|row| {
                row.iter().zip(&real).map(|(v, &r)| if r { v.map(|c| c as f64) } else { None }).collect()
            })
            .collect();
        let items_with_several = (0..units)
            .filter(|&u| real[u] && matrix.iter().filter(|row| row[u].is_some()).count() >= 2)
            .count();
        let per_coder = annotator_agreement(
            &matrix
                .iter()
                .map(|row| row.iter().zip(&real).map(|(v, &r)| if r { *v } else { None }).collect())
                .collect::<Vec<_>>(),
            ACTIONS.len(),
            None,
        );
        let names = self.usernames(coder_of.keys().cloned().collect()).await?;
        let mut reviewers = Vec::new();
        for (id, &r) in &coder_of {
            let mine: Vec<_> = rows.iter().filter(|(d, _)| &d.reviewer == id && d.action.is_some()).collect();
            let count = |a: &str| mine.iter().filter(|(d, _)| d.action.as_deref() == Some(a)).count() as u64;
            let mut seconds: Vec<f64> = mine.iter().filter_map(|(d, _)| d.seconds).collect();
            let median_seconds = median(&mut seconds);
            let honey: Vec<bool> = (0..units)
                .filter_map(|u| match (gold[u], matrix[r][u]) {
                    (Some(g), Some(c)) => Some(g == c),
                    _ => None,
                })
                .collect();
            let a = &per_coder[r];
            reviewers.push(ReviewerQuality {
                reviewer: names.get(id).cloned().unwrap_or_else(|| id.clone()),
                decisions: mine.len() as u64,
                approved: count("approve"),
                edited: count("edit"),
                rejected: count("reject"),
                median_seconds,
                items_per_hour: median_seconds.filter(|s| *s > 0.0).map(|s| 3600.0 / s),
                with_others: a.with_consensus as u64,
                agreement: a.consensus_accuracy,
                honeypots: honey.len() as u64,
                honeypot_accuracy: (!honey.is_empty())
                    .then(|| honey.iter().filter(|&&ok| ok).count() as f64 / honey.len() as f64),
            });
        }
        reviewers.sort_by(|a, b| a.reviewer.cmp(&b.reviewer));
        let mut models: BTreeMap<(String, Option<String>), ModelAgreement> = BTreeMap::new();
        for (model, version, status, n) in self.store.review_outcomes_by_model(&q.id).await? {
            let m = models.entry((model.clone(), version.clone())).or_insert(ModelAgreement {
                model,
                model_version_id: version,
                settled: 0,
                approved: 0,
                edited: 0,
                rejected: 0,
                agreement: None,
            });
            let n = n as u64;
            match status.as_str() {
                "approved" => m.approved += n,
                "edited" => m.edited += n,
                "rejected" => m.rejected += n,
                _ => continue,
            }
            m.settled += n;
        }
        let models = models
            .into_values()
            .filter(|m| m.settled > 0)
            .map(|mut m| {
                m.agreement = Some(m.approved as f64 / m.settled as f64);
                m
            })
            .collect();
        Ok(QualityReport {
            queue: q.name,
            decisions: cells.len() as u64,
            items_with_several: items_with_several as u64,
            percent_agreement: percent_agreement(&as_f64).ok(),
            alpha: krippendorff_alpha(&as_f64, Level::Nominal).ok().filter(|a| a.is_finite()),
            reviewers,
            models,
        })
    }

    /// Writes a queue's settled items into a dataset (a new one, or a new version), one row per
    /// item: the input, the output to learn from (the correction, or the approved original),
    /// the original, the outcome and its reason, and where it came from (trace, model version,
    /// prompt version). Ready for retraining or as prompt test cases.
    pub async fn review_feedback_to_dataset(
        &self,
        actor: &Actor,
        queue: &str,
        req: &FeedbackToDataset,
    ) -> Result<ImportOutcome> {
        actor.require(REVIEW, Action::Read)?;
        actor.require(Area::Datasets, Action::Write)?;
        let q = self.store.review_queue(&actor.workspace_id, queue).await?;
        let include = req.include.as_deref().unwrap_or("corrected");
        let keep: &[&str] = match include {
            "corrected" => &["edited"],
            "decided" => &["approved", "edited"],
            "all" => &["approved", "edited", "rejected", "released", "blocked", "fallback"],
            other => {
                return Err(DeskError::invalid(format!(
                    "include must be corrected, decided or all, got {other:?}"
                )));
            }
        };
        let spool = self.spool_dir();
        std::fs::create_dir_all(&spool).map_err(DeskError::internal)?;
        let dir = tempfile::tempdir_in(spool).map_err(DeskError::internal)?;
        let path = dir.path().join("feedback.jsonl");
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).map_err(DeskError::internal)?);
        let (mut after, mut written) = (String::new(), 0u64);
        loop {
            let items = self.store.settled_review_items(&q.id, &after, 1000).await?;
            let Some(last) = items.last().map(|i| i.id.clone()) else { break };
            for it in items.iter().filter(|i| keep.contains(&i.status.as_str())) {
                let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
                let output = it.final_output.as_deref().map(parse).unwrap_or(Value::Null);
                let row = json!({
                    "input": display_text(&parse(&it.input)),
                    "output": if output.is_null() { Value::Null } else { json!(display_text(&output)) },
                    "original_output": display_text(&parse(&it.output)),
                    "outcome": it.status,
                    "reason": it.outcome_reason,
                    "trace_id": it.trace_id,
                    "model": it.model,
                    "model_version_id": it.model_version_id,
                    "prompt_version_id": it.prompt_version_id,
                    "review_item": it.id,
                    "decided_at": it.decided_at.map(format_ms),
                });
                std::io::Write::write_all(&mut file, format!("{row}\n").as_bytes())
                    .map_err(DeskError::internal)?;
                written += 1;
            }
            after = last;
        }
        std::io::Write::flush(&mut file).map_err(DeskError::internal)?;
        drop(file);
        if written == 0 {
            return Err(DeskError::invalid(format!("queue {} has no {include} items yet", q.name)));
        }
        let exists = self.store.dataset(&actor.workspace_id, &req.name).await.is_ok();
        let import = ImportRequest {
            name: req.name.clone(),
            description: format!("review feedback from queue {}", q.name),
            format: Some(juru_core::dataset::Format::Jsonl),
            new_version: exists,
            source: format!("review:{}", q.name),
            message: format!("{written} {include} item(s) from review queue {}", q.name),
        };
        self.import_file(actor, &path, &import, Arc::new(Progress::default())).await
    }
}
