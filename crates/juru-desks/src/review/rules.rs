//! Routing rules: which traces a queue takes. A rule's conditions all have to hold (model, trace
//! name, status, confidence below a threshold, flagged by a detector, negative user feedback,
//! metadata values), and then a share of the matching traces is sampled by a hash of the rule's
//! name and the trace id, so the same trace always gets the same answer: a backtest over past
//! traces says exactly what the rule would have sent.

use std::collections::{BTreeMap, HashSet};

use juru_core::timefmt::format_ms;
use juru_core::{Action, Area};
use juru_store::audit::NewAudit;
use juru_store::review::{NewReviewItem, ReviewRule};
use juru_store::traces::{Trace, TraceFilter};
use juru_store::{WriteTx, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::REVIEW;
use crate::{Actor, DeskError, Desks, PageRequest, Result};

/// What a trace must be for a rule to send it. Absent conditions hold for every trace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// The trace's model name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The trace's name (`llm.generate`, `classifier.predict`, or what the client logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `ok` or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The model's confidence (metadata `confidence`, or the output's `probability`, `score` or
    /// `confidence`) is below this. Traces without one do not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence_below: Option<f64>,
    /// A detector flagged the trace (metadata `flagged: true`, or a non-empty `flags` list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged: Option<bool>,
    /// A user gave negative feedback: a score named `feedback` with a value of 0 or less, or the
    /// label `negative`, `thumbs_down` or `bad`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_feedback: Option<bool>,
    /// Metadata values: each key must hold one of the listed values (`{"tier": ["gold"]}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, Vec<String>>,
    /// The share of matching traces sent, 0 to 100 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_percent: Option<f64>,
}

impl Conditions {
    fn check(&self) -> Result<()> {
        if let Some(c) = self.confidence_below
            && !(c.is_finite() && (0.0..=1.0).contains(&c))
        {
            return Err(DeskError::invalid(format!("confidence_below must be between 0 and 1, got {c}")));
        }
        if let Some(p) = self.sample_percent
            && !(p.is_finite() && (0.0..=100.0).contains(&p))
        {
            return Err(DeskError::invalid(format!("sample_percent must be between 0 and 100, got {p}")));
        }
        if let Some(s) = &self.status
            && s != "ok"
            && s != "error"
        {
            return Err(DeskError::invalid(format!("status must be ok or error, got {s:?}")));
        }
        if let Some((key, _)) = self.metadata.iter().find(|(_, values)| values.is_empty()) {
            return Err(DeskError::invalid(format!("metadata.{key} lists no values")));
        }
        Ok(())
    }

    /// Whether the rule named `rule` sends `trace`; `negative` holds the ids of traces with
    /// negative feedback (consulted only when the rule asks).
    pub fn sends(&self, rule: &str, trace: &Trace, negative: &HashSet<String>) -> bool {
        if self.model.as_ref().is_some_and(|m| m != &trace.model)
            || self.name.as_ref().is_some_and(|n| n != &trace.name)
            || self.status.as_ref().is_some_and(|s| s != &trace.status)
        {
            return false;
        }
        let meta: Value = serde_json::from_str(&trace.metadata).unwrap_or(Value::Null);
        if let Some(limit) = self.confidence_below {
            match confidence_of(trace, &meta) {
                Some(c) if c < limit => {}
                _ => return false,
            }
        }
        if let Some(want) = self.flagged
            && is_flagged(&meta) != want
        {
            return false;
        }
        if let Some(want) = self.negative_feedback
            && negative.contains(&trace.id) != want
        {
            return false;
        }
        for (key, values) in &self.metadata {
            let v = match &meta[key] {
                Value::String(s) => s.clone(),
                Value::Null => return false,
                other => other.to_string(),
            };
            if !values.contains(&v) {
                return false;
            }
        }
        match self.sample_percent {
            Some(p) if p < 100.0 => sample_point(rule, &trace.id) < p / 100.0,
            _ => true,
        }
    }
}

/// The model's confidence in a trace's output, if it logged one.
pub fn confidence_of(trace: &Trace, meta: &Value) -> Option<f64> {
    if let Some(c) = meta["confidence"].as_f64() {
        return Some(c);
    }
    let out: Value = serde_json::from_str(&trace.output).ok()?;
    ["probability", "score", "confidence"].iter().find_map(|k| out[*k].as_f64())
}

fn is_flagged(meta: &Value) -> bool {
    meta["flagged"].as_bool() == Some(true) || meta["flags"].as_array().is_some_and(|f| !f.is_empty())
}

/// Where a trace falls in [0, 1) for a rule's sample: the first 8 bytes of SHA-256 over the
/// rule name and the trace id.
fn sample_point(rule: &str, trace_id: &str) -> f64 {
    let h = Sha256::new()
        .chain_update(rule.as_bytes())
        .chain_update([0])
        .chain_update(trace_id.as_bytes())
        .finalize();
    let x = u64::from_be_bytes(h[..8].try_into().expect("8 bytes"));
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleView {
    pub id: String,
    pub name: String,
    pub conditions: Conditions,
    pub enabled: bool,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<ReviewRule> for RuleView {
    fn from(r: ReviewRule) -> Self {
        RuleView {
            id: r.id,
            name: r.name,
            conditions: serde_json::from_str(&r.conditions).unwrap_or_default(),
            enabled: r.enabled != 0,
            created_by: r.created_by,
            created_at: format_ms(r.created_at),
            updated_at: format_ms(r.updated_at),
        }
    }
}

/// A new rule; it starts switched off unless `enabled` says otherwise, so it can be
/// backtested first.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRule {
    pub name: String,
    pub conditions: Conditions,
    #[serde(default)]
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRule {
    pub enabled: Option<bool>,
    pub conditions: Option<Conditions>,
}

/// A backtest: conditions (or a saved rule) run over past traces without sending anything.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    /// Conditions to try; absent when backtesting a saved rule.
    pub conditions: Option<Conditions>,
    /// The name the sample is drawn under (a saved rule's name gives the same sample it will
    /// draw live; default `backtest`).
    pub name: Option<String>,
    /// Only traces from this time on (RFC 3339; default: 30 days ago).
    pub since: Option<String>,
    pub until: Option<String>,
    /// Scan at most this many of the newest traces (default 100000).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BacktestReport {
    pub scanned: u64,
    /// How many traces the rule would have sent.
    pub would_send: u64,
    /// Of those, how many the queue already holds.
    pub already_queued: u64,
    pub share: f64,
    /// Traces sent per day (UTC date → count).
    #[schema(value_type = Object)]
    pub per_day: BTreeMap<String, u64>,
    /// Up to 20 of the traces it would have sent, newest first.
    pub examples: Vec<String>,
}

/// The switched-on rules of a workspace with their conditions and the decisions their queue's
/// items need.
pub(crate) type Routing = Vec<(ReviewRule, Conditions, i64)>;

/// The most traces a backtest scans.
pub const MAX_BACKTEST: i64 = 1_000_000;

impl Desks {
    pub async fn create_review_rule(&self, actor: &Actor, queue: &str, req: &CreateRule) -> Result<RuleView> {
        actor.require(REVIEW, Action::Write)?;
        juru_core::names::validate_name("rule name", &req.name)?;
        req.conditions.check()?;
        let q = self.store.review_queue(&actor.workspace_id, queue).await?;
        let now = now_ms();
        let rule = ReviewRule {
            id: juru_core::ids::new_id(),
            workspace_id: actor.workspace_id.clone(),
            queue_id: q.id.clone(),
            name: req.name.clone(),
            conditions: serde_json::to_string(&req.conditions).map_err(DeskError::internal)?,
            enabled: i64::from(req.enabled),
            created_by: actor.audit_name(),
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store.write().await?;
        tx.insert_review_rule(&rule).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "review.rule.create",
            object_kind: "review_rule",
            object_id: &rule.id,
            summary: json!({"queue": q.name, "after": {"name": rule.name, "conditions": req.conditions,
                                                        "enabled": req.enabled}}),
        })
        .await?;
        tx.commit().await?;
        Ok(rule.into())
    }

    /// Switches a rule on or off, or changes its conditions.
    pub async fn update_review_rule(
        &self,
        actor: &Actor,
        queue: &str,
        rule: &str,
        req: &UpdateRule,
    ) -> Result<RuleView> {
        actor.require(REVIEW, Action::Write)?;
        if let Some(c) = &req.conditions {
            c.check()?;
        }
        let q = self.store.review_queue(&actor.workspace_id, queue).await?;
        let before = self.store.review_rule(&actor.workspace_id, &q.id, rule).await?;
        let conditions =
            req.conditions.as_ref().map(serde_json::to_string).transpose().map_err(DeskError::internal)?;
        let mut tx = self.store.write().await?;
        let after = tx.update_review_rule(&before.id, req.enabled, conditions.as_deref()).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "review.rule.update",
            object_kind: "review_rule",
            object_id: &before.id,
            summary: json!({"queue": q.name, "rule": before.name,
                            "before": {"enabled": before.enabled != 0, "conditions": RuleView::from(before.clone()).conditions},
                            "after": {"enabled": after.enabled != 0, "conditions": RuleView::from(after.clone()).conditions}}),
        })
        .await?;
        tx.commit().await?;
        Ok(after.into())
    }

    /// What a rule (saved, or conditions given) would have sent from past traces; nothing is
    /// queued.
    pub async fn backtest_review_rule(
        &self,
        actor: &Actor,
        queue: &str,
        rule: Option<&str>,
        req: &BacktestRequest,
    ) -> Result<BacktestReport> {
        actor.require(REVIEW, Action::Read)?;
        actor.require(Area::Traces, Action::Read)?;
        let q = self.store.review_queue(&actor.workspace_id, queue).await?;
        let (name, conditions) = match (rule, &req.conditions) {
            (Some(r), None) => {
                let saved = self.store.review_rule(&actor.workspace_id, &q.id, r).await?;
                let view = RuleView::from(saved);
                (view.name, view.conditions)
            }
            (None, Some(c)) => (req.name.clone().unwrap_or_else(|| "backtest".into()), c.clone()),
            (Some(_), Some(_)) => {
                return Err(DeskError::invalid("give conditions or a saved rule, not both"));
            }
            (None, None) => return Err(DeskError::invalid("give the conditions to backtest")),
        };
        conditions.check()?;
        let time = |field: &str, v: &Option<String>| -> Result<Option<i64>> {
            v.as_ref()
                .map(|t| {
                    juru_core::timefmt::parse_rfc3339_ms(t)
                        .ok_or_else(|| DeskError::invalid(format!("{field} {t:?} is not an RFC 3339 time")))
                })
                .transpose()
        };
        let since = time("since", &req.since)?.unwrap_or_else(|| now_ms() - 30 * 24 * 3600 * 1000);
        let until = time("until", &req.until)?;
        let limit = req.limit.unwrap_or(100_000);
        if !(1..=MAX_BACKTEST).contains(&limit) {
            return Err(DeskError::invalid(format!("limit must be 1 to {MAX_BACKTEST}")));
        }
        let negative = if conditions.negative_feedback.is_some() {
            self.store.negative_feedback_traces(&actor.workspace_id).await?
        } else {
            HashSet::new()
        };
        let queued = self.store.review_trace_ids(&q.id).await?;
        let filter = TraceFilter {
            model: conditions.model.clone(),
            name: conditions.name.clone(),
            status: conditions.status.clone(),
            since_ms: Some(since),
            until_ms: until,
            ..Default::default()
        };
        let mut report = BacktestReport {
            scanned: 0,
            would_send: 0,
            already_queued: 0,
            share: 0.0,
            per_day: BTreeMap::new(),
            examples: Vec::new(),
        };
        let mut page = PageRequest { limit: Some(1000), cursor: None };
        'pages: loop {
            let traces = self.store.traces(&actor.workspace_id, &filter, &page).await?;
            for t in &traces.items {
                if report.scanned as i64 >= limit {
                    break 'pages;
                }
                report.scanned += 1;
                if conditions.sends(&name, t, &negative) {
                    report.would_send += 1;
                    if queued.contains(&t.id) {
                        report.already_queued += 1;
                    }
                    *report.per_day.entry(format_ms(t.created_at)[..10].to_owned()).or_default() += 1;
                    if report.examples.len() < 20 {
                        report.examples.push(t.id.clone());
                    }
                }
            }
            match traces.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => break,
            }
        }
        report.share =
            if report.scanned > 0 { report.would_send as f64 / report.scanned as f64 } else { 0.0 };
        Ok(report)
    }

    /// The workspace's switched-on rules, to route traces with as they are written.
    pub(crate) async fn routing_rules(&self, workspace_id: &str) -> Result<Routing> {
        let rules = self.store.review_rules(workspace_id, None).await?;
        let mut out = Vec::with_capacity(rules.len());
        for r in rules {
            let q = self.store.review_queue(workspace_id, &r.queue_id).await?;
            let c: Conditions = serde_json::from_str(&r.conditions).map_err(DeskError::internal)?;
            out.push((r, c, q.reviewers_per_item));
        }
        Ok(out)
    }

    /// Sends the traces that switched-on rules match to their queues, in the transaction that
    /// writes the traces (or the feedback that made them match). Returns how many items were
    /// added; a trace a queue already holds is not added twice.
    pub(crate) async fn route_traces(
        &self,
        tx: &mut WriteTx,
        rules: &[(ReviewRule, Conditions, i64)],
        traces: &[Trace],
        negative: &HashSet<String>,
    ) -> Result<u64> {
        let mut added = 0;
        for (rule, c, needed) in rules {
            for t in traces.iter().filter(|t| c.sends(&rule.name, t, negative)) {
                let meta: Value = serde_json::from_str(&t.metadata).unwrap_or(Value::Null);
                let item = NewReviewItem {
                    trace_id: Some(t.id.clone()),
                    source: format!("rule:{}", rule.name),
                    input: t.input.clone(),
                    output: t.output.clone(),
                    model: t.model.clone(),
                    model_version_id: t.model_version_id.clone(),
                    prompt_version_id: t.prompt_version_id.clone(),
                    confidence: confidence_of(t, &meta),
                    metadata: t.metadata.clone(),
                    needed: *needed,
                    ..Default::default()
                };
                if tx.insert_review_item(&t.workspace_id, &rule.queue_id, &item).await?.is_some() {
                    added += 1;
                }
            }
        }
        Ok(added)
    }

    /// What routing a new `feedback` score on a trace needs: the rules (when any asks about
    /// feedback), the trace, and the traces with negative feedback counting this score.
    pub(crate) async fn feedback_routing(
        &self,
        actor: &Actor,
        score: &juru_store::scores::Score,
    ) -> Result<Option<(Routing, Trace, HashSet<String>)>> {
        let rules = self.routing_rules(&actor.workspace_id).await?;
        if !rules.iter().any(|(_, c, _)| c.negative_feedback.is_some()) {
            return Ok(None);
        }
        let trace = self.store.trace(&actor.workspace_id, &score.target_id).await?;
        let mut negative = self.store.negative_feedback_traces(&actor.workspace_id).await?;
        let is_negative = score.value.is_some_and(|v| v <= 0.0)
            || score.label.as_deref().is_some_and(|l| matches!(l, "negative" | "thumbs_down" | "bad"));
        if is_negative {
            negative.insert(score.target_id.clone());
        }
        Ok(Some((rules, trace, negative)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(id: &str, model: &str, output: Value, meta: Value) -> Trace {
        Trace {
            workspace_id: "w".into(),
            id: id.into(),
            name: "classifier.predict".into(),
            input: "\"teks\"".into(),
            output: output.to_string(),
            model: model.into(),
            model_version_id: None,
            prompt: String::new(),
            prompt_version_id: None,
            latency_ms: None,
            input_tokens: None,
            output_tokens: None,
            cost: None,
            status: "ok".into(),
            metadata: meta.to_string(),
            created_at: 0,
        }
    }

    #[test]
    fn conditions_all_have_to_hold() {
        let none = HashSet::new();
        let low = trace(
            "t1",
            "sentimen",
            json!({"label": "negatif", "probability": 0.55}),
            json!({"tier": "gold"}),
        );
        let high = trace(
            "t2",
            "sentimen",
            json!({"label": "positif", "probability": 0.97}),
            json!({"tier": "gold"}),
        );
        let c = Conditions { confidence_below: Some(0.6), ..Default::default() };
        assert!(c.sends("r", &low, &none));
        assert!(!c.sends("r", &high, &none));
        let c = Conditions { confidence_below: Some(0.6), model: Some("lain".into()), ..Default::default() };
        assert!(!c.sends("r", &low, &none), "another model");
        let mut meta = BTreeMap::new();
        meta.insert("tier".to_string(), vec!["silver".to_string()]);
        let c = Conditions { metadata: meta, ..Default::default() };
        assert!(!c.sends("r", &low, &none), "another tier");
        let flagged = trace("t3", "llm", json!("jawaban"), json!({"flags": ["pii"]}));
        let c = Conditions { flagged: Some(true), ..Default::default() };
        assert!(c.sends("r", &flagged, &none));
        assert!(!c.sends("r", &low, &none));
        let c = Conditions { negative_feedback: Some(true), ..Default::default() };
        assert!(!c.sends("r", &low, &none));
        assert!(c.sends("r", &low, &HashSet::from(["t1".to_string()])));
        // A trace with no confidence logged does not match a confidence rule.
        let c = Conditions { confidence_below: Some(0.99), ..Default::default() };
        assert!(!c.sends("r", &flagged, &none));
    }

    #[test]
    fn a_sample_is_the_same_every_time_and_about_the_share_asked() {
        let none = HashSet::new();
        let c = Conditions { sample_percent: Some(10.0), ..Default::default() };
        let traces: Vec<Trace> =
            (0..20_000).map(|i| trace(&format!("trace-{i}"), "m", json!("x"), json!({}))).collect();
        let first: Vec<bool> = traces.iter().map(|t| c.sends("audit", t, &none)).collect();
        let again: Vec<bool> = traces.iter().map(|t| c.sends("audit", t, &none)).collect();
        assert_eq!(first, again);
        let share = first.iter().filter(|&&s| s).count() as f64 / traces.len() as f64;
        assert!((share - 0.10).abs() < 0.01, "share {share}");
        let other: Vec<bool> = traces.iter().map(|t| c.sends("another", t, &none)).collect();
        assert_ne!(first, other, "each rule draws its own sample");
    }

    #[test]
    fn bad_conditions_name_the_field() {
        let e = Conditions { confidence_below: Some(1.5), ..Default::default() }.check().unwrap_err();
        assert!(e.to_string().contains("confidence_below"), "{e}");
        let e = Conditions { sample_percent: Some(-1.0), ..Default::default() }.check().unwrap_err();
        assert!(e.to_string().contains("sample_percent"), "{e}");
    }
}
