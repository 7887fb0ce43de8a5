//! Gating: an application hands Juru an AI output before it reaches a customer and gets a
//! ticket back. The output is held in a review queue until reviewers settle it (approve, edit,
//! reject) or the queue's SLA runs out and its timeout action applies (release the output,
//! block it, or send the fallback text). The caller polls the ticket (optionally waiting) or is
//! called back: the webhook is a job queued in the transaction that settles the item, so it
//! survives a crash and is retried.

use std::collections::HashSet;
use std::time::Duration;

use juru_core::Action;
use juru_core::timefmt::format_ms;
use juru_store::audit::NewAudit;
use juru_store::now_ms;
use juru_store::review::{NewReviewItem, ReviewItem, ReviewQueue};
use juru_store::traces::Trace;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::settings_of;
use crate::{Actor, DeskError, Desks, Result};

/// The job kind that delivers a settled item's webhook.
pub const REVIEW_WEBHOOK: &str = "review.webhook";
/// The longest a ticket poll may wait.
pub const MAX_WAIT_SECONDS: u64 = 60;
/// Attempts per webhook delivery, with 0.5 s, 1 s, 2 s … between them.
pub const WEBHOOK_ATTEMPTS: u32 = 4;

/// An output to hold until a person decides.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GateRequest {
    #[schema(value_type = Object)]
    pub input: Value,
    #[schema(value_type = Object)]
    pub output: Value,
    #[serde(default)]
    pub model: String,
    pub model_version_id: Option<String>,
    pub prompt_version_id: Option<String>,
    pub confidence: Option<f64>,
    #[schema(value_type = Object)]
    pub metadata: Option<serde_json::Map<String, Value>>,
    /// The trace this output was logged as; without one, the call is logged as a new trace.
    pub trace_id: Option<String>,
    /// Called with the settled ticket (overrides the queue's webhook).
    pub callback_url: Option<String>,
    /// `always` (default) holds every output; `rules` holds it only when one of the queue's
    /// switched-on rules would send it, and otherwise releases it at once.
    pub hold: Option<String>,
}

/// Where a held output stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketView {
    pub ticket: String,
    pub queue: String,
    pub trace_id: Option<String>,
    /// `pending`; `approved`, `edited` or `rejected` by reviewers; `released`, `blocked` or
    /// `fallback` by the SLA timer; `released` at once when no rule held it.
    pub status: String,
    pub settled: bool,
    /// Whether the caller may send `output` to its customer.
    pub deliver: bool,
    /// What to send once settled: the original, the edit, or the fallback text.
    #[schema(value_type = Object)]
    pub output: Option<Value>,
    pub reason: String,
    /// `reviewers`, `sla` or `rules` (released without holding).
    pub settled_by: Option<String>,
    pub deadline: Option<String>,
    pub decided_at: Option<String>,
}

impl Desks {
    /// Holds an output for review and returns its ticket (settled at once when `hold: rules`
    /// and no rule matches).
    pub async fn gate_output(&self, actor: &Actor, queue: &str, req: &GateRequest) -> Result<TicketView> {
        actor.require(juru_core::Area::Traces, Action::Write)?;
        let q = self.store.review_queue(&actor.workspace_id, queue).await?;
        if q.status != "open" {
            return Err(DeskError::Refused(format!("queue {} is closed", q.name)));
        }
        let settings = settings_of(&q);
        let hold = req.hold.as_deref().unwrap_or("always");
        if !matches!(hold, "always" | "rules") {
            return Err(DeskError::invalid(format!("hold must be always or rules, got {hold:?}")));
        }
        if req.confidence.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
            return Err(DeskError::invalid("confidence must be between 0 and 1"));
        }
        if let Some(u) = &req.callback_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(DeskError::invalid(format!(
                "callback_url must be an http:// or https:// URL, got {u:?}"
            )));
        }
        let mut meta = req.metadata.clone().unwrap_or_default();
        if let Some(c) = req.confidence {
            meta.insert("confidence".into(), json!(c));
        }
        let now = now_ms();
        let (trace, new_trace) = match &req.trace_id {
            Some(id) => (self.store.trace(&actor.workspace_id, id).await?, false),
            None => (
                Trace {
                    workspace_id: actor.workspace_id.clone(),
                    id: juru_core::ids::new_id(),
                    name: "review.gate".into(),
                    input: req.input.to_string(),
                    output: req.output.to_string(),
                    model: req.model.clone(),
                    model_version_id: req.model_version_id.clone(),
                    prompt: String::new(),
                    prompt_version_id: req.prompt_version_id.clone(),
                    latency_ms: None,
                    input_tokens: None,
                    output_tokens: None,
                    cost: None,
                    status: "ok".into(),
                    metadata: Value::Object(meta.clone()).to_string(),
                    created_at: now,
                },
                true,
            ),
        };
        if hold == "rules" {
            let rules = self.store.review_rules(&actor.workspace_id, Some(&q.id)).await?;
            let negative = HashSet::new();
            let held = rules.iter().filter(|r| r.enabled != 0).any(|r| {
                let c: super::rules::Conditions = serde_json::from_str(&r.conditions).unwrap_or_default();
                c.sends(&r.name, &trace, &negative)
            });
            if !held {
                if new_trace {
                    let mut tx = self.store.write().await?;
                    tx.insert_traces(std::slice::from_ref(&trace)).await?;
                    tx.audit(NewAudit {
                        workspace_id: Some(&actor.workspace_id),
                        actor: &actor.audit_name(),
                        action: "trace.ingest",
                        object_kind: "trace",
                        object_id: &trace.id,
                        summary: json!({"received": 1, "inserted": 1, "gate": q.name, "held": false}),
                    })
                    .await?;
                    tx.commit().await?;
                }
                return Ok(TicketView {
                    ticket: String::new(),
                    queue: q.name,
                    trace_id: Some(trace.id),
                    status: "released".into(),
                    settled: true,
                    deliver: true,
                    output: Some(req.output.clone()),
                    reason: "no rule held it".into(),
                    settled_by: Some("rules".into()),
                    deadline: None,
                    decided_at: Some(format_ms(now)),
                });
            }
        }
        let item = NewReviewItem {
            trace_id: Some(trace.id.clone()),
            source: "gate".into(),
            input: req.input.to_string(),
            output: req.output.to_string(),
            model: req.model.clone(),
            model_version_id: req.model_version_id.clone(),
            prompt_version_id: req.prompt_version_id.clone(),
            confidence: req.confidence,
            metadata: Value::Object(meta).to_string(),
            needed: q.reviewers_per_item,
            expected: None,
            gated: true,
            callback_url: req.callback_url.clone(),
            deadline: settings.sla_seconds.map(|s| now + s * 1000),
        };
        let mut tx = self.store.write().await?;
        if new_trace {
            tx.insert_traces(std::slice::from_ref(&trace)).await?;
        }
        let Some(held) = tx.insert_review_item(&actor.workspace_id, &q.id, &item).await? else {
            return Err(DeskError::Conflict { kind: "review item for trace", key: trace.id });
        };
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "review.gate",
            object_kind: "review_item",
            object_id: &held.id,
            summary: json!({"queue": q.name, "trace": trace.id, "new_trace": new_trace,
                            "deadline": held.deadline.map(format_ms)}),
        })
        .await?;
        tx.commit().await?;
        Ok(ticket_view(&q, &held))
    }

    /// A ticket's state. With `wait_seconds`, waits (up to a minute) for it to settle; an
    /// overdue ticket is settled by its SLA action on the spot.
    pub async fn review_ticket(
        &self,
        actor: &Actor,
        id: &str,
        wait_seconds: Option<u64>,
    ) -> Result<TicketView> {
        actor.require(juru_core::Area::Traces, Action::Read)?;
        let wait = wait_seconds.unwrap_or(0);
        if wait > MAX_WAIT_SECONDS {
            return Err(DeskError::invalid(format!("wait must be at most {MAX_WAIT_SECONDS} seconds")));
        }
        let until = std::time::Instant::now() + Duration::from_secs(wait);
        loop {
            // Listen before looking, so a settlement in between is not missed.
            let settled = self.review_settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            let mut item = self.store.review_item(&actor.workspace_id, id).await?;
            if item.gated == 0 {
                return Err(DeskError::NotFound { kind: "ticket", key: id.to_owned() });
            }
            let q = self.store.review_queue(&actor.workspace_id, &item.queue_id).await?;
            if item.status == "pending" && item.deadline.is_some_and(|d| d <= now_ms()) {
                if let Some(done) = self.settle_by_sla(&q, &item).await? {
                    item = done;
                } else {
                    item = self.store.review_item(&actor.workspace_id, id).await?;
                }
            }
            let left = until.saturating_duration_since(std::time::Instant::now());
            if item.status != "pending" || left.is_zero() {
                return Ok(ticket_view(&q, &item));
            }
            let to_deadline = item
                .deadline
                .map(|d| Duration::from_millis((d - now_ms()).max(0) as u64 + 5))
                .unwrap_or(left);
            tokio::select! {
                _ = &mut settled => {}
                _ = tokio::time::sleep(left.min(to_deadline)) => {}
            }
        }
    }

    /// Settles every overdue gated item by its queue's SLA action (run by workers between
    /// jobs). Returns how many it settled.
    pub async fn settle_overdue_reviews(&self) -> Result<u64> {
        let mut n = 0;
        for item in self.store.overdue_review_items(now_ms(), 500).await? {
            let q = self.store.review_queue(&item.workspace_id, &item.queue_id).await?;
            if self.settle_by_sla(&q, &item).await?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Applies the queue's timeout action to an overdue item; `None` when someone settled it
    /// first.
    async fn settle_by_sla(&self, q: &ReviewQueue, item: &ReviewItem) -> Result<Option<ReviewItem>> {
        let s = settings_of(q);
        let (status, output) = match s.sla_action.as_str() {
            "release" => ("released", Some(item.output.clone())),
            "fallback" => ("fallback", Some(Value::String(s.fallback_text.clone()).to_string())),
            _ => ("blocked", None),
        };
        let why = format!("no decision within {} s", s.sla_seconds.unwrap_or_default());
        let mut tx = self.store.write().await?;
        let Some(done) = tx.settle_review_item(&item.id, status, output, &why).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        self.queue_settled_webhook(&mut tx, q, &done, "sla").await?;
        tx.audit(NewAudit {
            workspace_id: Some(&q.workspace_id),
            actor: "system",
            action: "review.sla",
            object_kind: "review_item",
            object_id: &item.id,
            summary: json!({"queue": q.name, "action": s.sla_action, "status": status, "trace": item.trace_id}),
        })
        .await?;
        tx.commit().await?;
        self.review_settled.notify_waiters();
        self.job_wakeup.notify_one();
        Ok(Some(done))
    }

    /// Delivers a webhook job (`review.webhook`, `prompt.webhook`): POSTs the payload, retrying with backoff on errors and
    /// non-2xx answers. The job fails (and says why) when every attempt failed.
    pub(crate) async fn deliver_webhook(&self, job_id: &str, params: &str) -> Result<Value> {
        let p: Value = serde_json::from_str(params).map_err(DeskError::internal)?;
        let url = p["url"].as_str().unwrap_or_default().to_owned();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(DeskError::internal)?;
        let mut last = String::new();
        for attempt in 1..=WEBHOOK_ATTEMPTS {
            let sent = client
                .post(&url)
                .header("x-juru-event", p["event"].as_str().unwrap_or_default())
                .header("x-juru-delivery", job_id)
                .json(&p["payload"])
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    return Ok(json!({"url": url, "status": r.status().as_u16(), "attempts": attempt}));
                }
                Ok(r) => last = format!("answered {}", r.status()),
                Err(e) => last = format!("could not be reached: {e}"),
            }
            if attempt < WEBHOOK_ATTEMPTS {
                tokio::time::sleep(Duration::from_millis(500 << (attempt - 1))).await;
            }
        }
        Err(DeskError::Unavailable(format!("webhook {url} {last} ({WEBHOOK_ATTEMPTS} attempts)")))
    }
}

fn ticket_view(q: &ReviewQueue, item: &ReviewItem) -> TicketView {
    let output = item.final_output.as_deref().and_then(|s| serde_json::from_str(s).ok());
    let settled = item.status != "pending";
    let settled_by = match item.status.as_str() {
        "pending" => None,
        "released" | "blocked" | "fallback" => Some("sla".to_string()),
        _ => Some("reviewers".to_string()),
    };
    TicketView {
        ticket: item.id.clone(),
        queue: q.name.clone(),
        trace_id: item.trace_id.clone(),
        status: item.status.clone(),
        settled,
        deliver: settled && output.is_some(),
        output,
        reason: item.outcome_reason.clone(),
        settled_by,
        deadline: item.deadline.map(format_ms),
        decided_at: item.decided_at.map(format_ms),
    }
}

/// The body of a settled item's webhook: the ticket as a poll would show it.
pub(crate) fn ticket_payload(q: &ReviewQueue, item: &ReviewItem, by: &str) -> Value {
    let mut v = serde_json::to_value(ticket_view(q, item)).unwrap_or(Value::Null);
    v["settled_by"] = json!(by);
    v["event"] = json!("review.settled");
    v
}
