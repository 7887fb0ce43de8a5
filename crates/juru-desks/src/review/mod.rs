//! The Review desk: queues of AI outputs that people approve, edit or reject before (gating) or
//! after they reach a customer. Items arrive from routing rules over traces (`rules`), from a
//! gated call that waits on a ticket (`gate`), or by hand (including honeypots with a known
//! decision). Each item needs N decisions from the queue's M reviewers; the server holds an item
//! for a reviewer while they work on it and refuses decisions beyond N. Reviewer quality and the
//! feedback loop into datasets live in `quality`.

pub mod gate;
pub mod quality;
pub mod rules;

use std::collections::HashMap;

use juru_core::timefmt::format_ms;
use juru_core::{Action, Area, roles::Desk};
use juru_store::audit::NewAudit;
use juru_store::review::{
    DecisionWrite, NewReviewItem, QueueCounts, ReviewDecision, ReviewItem, ReviewQueue,
};
use juru_store::{WriteTx, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::views::Listing;
use crate::{Actor, DeskError, Desks, PageRequest, Result};

pub(crate) const REVIEW: Area = Area::Desk(Desk::Review);
/// The most reviewers one item may need.
pub const MAX_REVIEWERS_PER_ITEM: i64 = 10;
/// Reason codes a queue starts with when none are given.
pub const DEFAULT_REASON_CODES: &[&str] =
    &["factual_error", "wrong_label", "tone", "policy", "privacy", "other"];
/// The actions a reviewer may take, in the order a tie is broken (the most cautious wins).
pub const ACTIONS: [&str; 3] = ["reject", "edit", "approve"];

/// A new queue.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateQueue {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Markdown shown beside every item.
    #[serde(default)]
    pub instructions: String,
    /// Decisions each item needs (N; default 1).
    pub reviewers_per_item: Option<i64>,
    /// Usernames who may review (M); empty: every reviewer of the workspace.
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// Codes an edit or a rejection must give (default: factual_error, wrong_label, tone, policy,
    /// privacy, other).
    pub reason_codes: Option<Vec<String>>,
    /// How long an item stays held for a reviewer who opened it (default 10).
    pub reservation_minutes: Option<i64>,
    /// Gated items settle by themselves after this many seconds without enough decisions.
    pub sla_seconds: Option<i64>,
    /// What a timed-out gated item does: `release` the output, `block` it (default), or send
    /// the `fallback_text` instead.
    pub sla_action: Option<String>,
    pub fallback_text: Option<String>,
    /// Called with a JSON body whenever an item settles.
    pub webhook_url: Option<String>,
}

/// Changes to a queue; absent fields stay.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateQueue {
    /// `open` or `closed`.
    pub status: Option<String>,
    pub instructions: Option<String>,
    pub reviewers: Option<Vec<String>>,
    pub sla_seconds: Option<i64>,
    pub sla_action: Option<String>,
    pub fallback_text: Option<String>,
    /// An empty string removes the webhook.
    pub webhook_url: Option<String>,
}

/// Settings kept as JSON on the queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Settings {
    #[serde(default)]
    pub reviewers: Vec<String>,
    #[serde(default)]
    pub reason_codes: Vec<String>,
    #[serde(default = "default_reservation")]
    pub reservation_minutes: i64,
    #[serde(default)]
    pub sla_seconds: Option<i64>,
    #[serde(default = "default_sla_action")]
    pub sla_action: String,
    #[serde(default)]
    pub fallback_text: String,
    #[serde(default)]
    pub webhook_url: Option<String>,
}

fn default_reservation() -> i64 {
    10
}

fn default_sla_action() -> String {
    "block".into()
}

pub(crate) fn settings_of(q: &ReviewQueue) -> Settings {
    serde_json::from_str(&q.settings).unwrap_or_else(|_| serde_json::from_str("{}").expect("defaults"))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub instructions: String,
    pub reviewers_per_item: i64,
    pub reviewers: Vec<String>,
    pub reason_codes: Vec<String>,
    pub reservation_minutes: i64,
    pub sla_seconds: Option<i64>,
    pub sla_action: String,
    pub fallback_text: String,
    pub webhook_url: Option<String>,
    pub status: String,
    #[schema(value_type = Object)]
    pub counts: QueueCounts,
    pub rules: Vec<rules::RuleView>,
    pub created_by: String,
    pub created_at: String,
}

/// An item as a reviewer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemView {
    pub id: String,
    pub queue: String,
    pub trace_id: Option<String>,
    /// `rule:<name>`, `gate` or `manual` (honeypots show as `manual` to reviewers).
    pub source: String,
    #[schema(value_type = Object)]
    pub input: Value,
    /// The output as the model gave it.
    #[schema(value_type = Object)]
    pub output: Value,
    pub model: String,
    pub model_version_id: Option<String>,
    pub prompt_version_id: Option<String>,
    pub confidence: Option<f64>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub needed: i64,
    pub submitted: i64,
    pub status: String,
    /// The output the caller may use once the item is settled (null: none).
    #[schema(value_type = Object)]
    pub final_output: Option<Value>,
    pub outcome_reason: String,
    pub gated: bool,
    pub deadline: Option<String>,
    pub decided_at: Option<String>,
    pub created_at: String,
    /// Shown to administrators, and to reviewers once the item is settled; otherwise only the
    /// caller's own decision (reviewers work blind).
    pub decisions: Vec<DecisionView>,
    /// The known decision of a honeypot (administrators only).
    #[schema(value_type = Object)]
    pub expected: Option<Value>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecisionView {
    pub id: String,
    pub item: String,
    pub reviewer: String,
    pub status: String,
    pub action: Option<String>,
    #[schema(value_type = Object)]
    pub output: Option<Value>,
    /// The edit as runs of kept, removed and added text: `[{"op":"keep","text":…}, …]`.
    #[schema(value_type = Object)]
    pub diff: Option<Value>,
    pub reason: String,
    pub comment: String,
    pub seconds: Option<f64>,
    pub updated_at: String,
}

/// A reviewer's decision on an item.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// `approve`, `edit`, `reject` or `skip`.
    pub action: String,
    /// The corrected output (edit only).
    #[schema(value_type = Object)]
    pub output: Option<Value>,
    /// One of the queue's reason codes (required for edit and reject).
    pub reason: Option<String>,
    #[serde(default)]
    pub comment: String,
    /// Seconds the reviewer spent on the item.
    pub seconds: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionOutcome {
    pub decision: DecisionView,
    pub item: ItemView,
}

/// Items added by hand, such as honeypots or outputs from another system.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItems {
    pub items: Vec<NewItem>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    #[schema(value_type = Object)]
    pub input: Value,
    #[schema(value_type = Object)]
    pub output: Value,
    #[serde(default)]
    pub model: String,
    pub model_version_id: Option<String>,
    pub prompt_version_id: Option<String>,
    pub trace_id: Option<String>,
    pub confidence: Option<f64>,
    #[schema(value_type = Object)]
    pub metadata: Option<serde_json::Map<String, Value>>,
    /// Makes the item a honeypot: `{"action": "approve" | "edit" | "reject"}`, served to every
    /// reviewer once and scored against their decision.
    #[schema(value_type = Object)]
    pub expected: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddedItems {
    pub added: u64,
    pub ids: Vec<String>,
}

impl Desks {
    pub async fn create_review_queue(&self, actor: &Actor, req: &CreateQueue) -> Result<QueueView> {
        actor.require(REVIEW, Action::Write)?;
        juru_core::names::validate_name("queue name", &req.name)?;
        let n = req.reviewers_per_item.unwrap_or(1);
        if !(1..=MAX_REVIEWERS_PER_ITEM).contains(&n) {
            return Err(DeskError::invalid(format!(
                "reviewers_per_item must be 1 to {MAX_REVIEWERS_PER_ITEM}, got {n}"
            )));
        }
        if !req.reviewers.is_empty() && n > req.reviewers.len() as i64 {
            return Err(DeskError::invalid(format!(
                "reviewers_per_item ({n}) cannot exceed the {} reviewer(s) named",
                req.reviewers.len()
            )));
        }
        for name in &req.reviewers {
            self.store.user_by_name(name).await?;
        }
        let reason_codes = match &req.reason_codes {
            Some(codes) => codes.clone(),
            None => DEFAULT_REASON_CODES.iter().map(|c| c.to_string()).collect(),
        };
        if reason_codes.is_empty() || reason_codes.len() > 9 {
            return Err(DeskError::invalid("a queue needs 1 to 9 reason codes (keys 1–9 pick them)"));
        }
        for code in &reason_codes {
            juru_core::names::validate_name("reason code", code)?;
        }
        let reservation_minutes = req.reservation_minutes.unwrap_or(10);
        if !(1..=24 * 60).contains(&reservation_minutes) {
            return Err(DeskError::invalid("reservation_minutes must be 1 to 1440"));
        }
        let settings = Settings {
            reviewers: req.reviewers.clone(),
            reason_codes,
            reservation_minutes,
            sla_seconds: req.sla_seconds,
            sla_action: req.sla_action.clone().unwrap_or_else(default_sla_action),
            fallback_text: req.fallback_text.clone().unwrap_or_default(),
            webhook_url: req.webhook_url.clone().filter(|u| !u.is_empty()),
        };
        check_sla(&settings)?;
        let now = now_ms();
        let queue = ReviewQueue {
            id: juru_core::ids::new_id(),
            workspace_id: actor.workspace_id.clone(),
            name: req.name.clone(),
            description: req.description.clone(),
            instructions: req.instructions.clone(),
            reviewers_per_item: n,
            status: "open".into(),
            settings: serde_json::to_string(&settings).map_err(DeskError::internal)?,
            created_by: actor.audit_name(),
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store.write().await?;
        tx.insert_review_queue(&queue).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "review.queue.create",
            object_kind: "review_queue",
            object_id: &queue.id,
            summary: json!({"after": {"name": queue.name, "reviewers_per_item": n, "reviewers": settings.reviewers,
                                      "sla_seconds": settings.sla_seconds, "sla_action": settings.sla_action}}),
        })
        .await?;
        tx.commit().await?;
        self.queue_view(queue).await
    }

    pub async fn review_queues(&self, actor: &Actor, page: &PageRequest) -> Result<Listing<QueueView>> {
        actor.require(REVIEW, Action::Read)?;
        let page = self.store.review_queues(&actor.workspace_id, page).await?;
        let mut items = Vec::new();
        for q in page.items {
            items.push(self.queue_view(q).await?);
        }
        Ok(Listing { items, next_cursor: page.next_cursor })
    }

    pub async fn review_queue(&self, actor: &Actor, queue: &str) -> Result<QueueView> {
        actor.require(REVIEW, Action::Read)?;
        let q = self.store.review_queue(&actor.workspace_id, queue).await?;
        self.queue_view(q).await
    }

    pub async fn update_review_queue(
        &self,
        actor: &Actor,
        queue: &str,
        req: &UpdateQueue,
    ) -> Result<QueueView> {
        actor.require(REVIEW, Action::Write)?;
        let q = self.store.review_queue(&actor.workspace_id, queue).await?;
        if let Some(s) = &req.status
            && !matches!(s.as_str(), "open" | "closed")
        {
            return Err(DeskError::invalid(format!("status must be open or closed, got {s:?}")));
        }
        let before = settings_of(&q);
        let mut settings = before.clone();
        if let Some(names) = &req.reviewers {
            if !names.is_empty() && q.reviewers_per_item > names.len() as i64 {
                return Err(DeskError::invalid(format!(
                    "the queue needs {} decision(s) per item, more than the {} reviewer(s) named",
                    q.reviewers_per_item,
                    names.len()
                )));
            }
            for name in names {
                self.store.user_by_name(name).await?;
            }
            settings.reviewers = names.clone();
        }
        if let Some(s) = req.sla_seconds {
            settings.sla_seconds = Some(s);
        }
        if let Some(a) = &req.sla_action {
            settings.sla_action = a.clone();
        }
        if let Some(t) = &req.fallback_text {
            settings.fallback_text = t.clone();
        }
        if let Some(u) = &req.webhook_url {
            settings.webhook_url = Some(u.clone()).filter(|u| !u.is_empty());
        }
        check_sla(&settings)?;
        let text = serde_json::to_string(&settings).map_err(DeskError::internal)?;
        let mut tx = self.store.write().await?;
        let after = tx
            .update_review_queue(&q.id, req.status.as_deref(), req.instructions.as_deref(), Some(&text))
            .await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "review.queue.update",
            object_kind: "review_queue",
            object_id: &q.id,
            summary: json!({"before": {"status": q.status, "settings": before},
                            "after": {"status": after.status, "settings": settings,
                                      "instructions_changed": req.instructions.is_some()}}),
        })
        .await?;
        tx.commit().await?;
        self.queue_view(after).await
    }

    /// Adds items by hand (all or none): outputs from elsewhere, or honeypots with a known
    /// decision.
    pub async fn add_review_items(&self, actor: &Actor, queue: &str, req: &AddItems) -> Result<AddedItems> {
        actor.require(REVIEW, Action::Write)?;
        let q = self.store.review_queue(&actor.workspace_id, queue).await?;
        if req.items.is_empty() || req.items.len() > 10_000 {
            return Err(DeskError::invalid("send 1 to 10000 items"));
        }
        let mut rows = Vec::with_capacity(req.items.len());
        for (i, it) in req.items.iter().enumerate() {
            let expected = match &it.expected {
                None => None,
                Some(e) => {
                    let action = e["action"].as_str().unwrap_or_default();
                    if !ACTIONS.contains(&action) {
                        return Err(DeskError::invalid(format!(
                            "items[{i}].expected.action must be approve, edit or reject, got {}",
                            e["action"]
                        )));
                    }
                    Some(e.to_string())
                }
            };
            if it.confidence.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
                return Err(DeskError::invalid(format!("items[{i}].confidence must be between 0 and 1")));
            }
            rows.push(NewReviewItem {
                trace_id: it.trace_id.clone(),
                source: if expected.is_some() { "honeypot".into() } else { "manual".into() },
                input: it.input.to_string(),
                output: it.output.to_string(),
                model: it.model.clone(),
                model_version_id: it.model_version_id.clone(),
                prompt_version_id: it.prompt_version_id.clone(),
                confidence: it.confidence,
                metadata: Value::Object(it.metadata.clone().unwrap_or_default()).to_string(),
                needed: q.reviewers_per_item,
                expected,
                ..Default::default()
            });
        }
        let mut tx = self.store.write().await?;
        let mut ids = Vec::new();
        for row in &rows {
            if let Some(item) = tx.insert_review_item(&actor.workspace_id, &q.id, row).await? {
                ids.push(item.id);
            }
        }
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "review.items.add",
            object_kind: "review_queue",
            object_id: &q.id,
            summary: json!({"received": rows.len(), "added": ids.len(),
                            "honeypots": rows.iter().filter(|r| r.expected.is_some()).count()}),
        })
        .await?;
        tx.commit().await?;
        Ok(AddedItems { added: ids.len() as u64, ids })
    }

    pub async fn review_items(
        &self,
        actor: &Actor,
        queue: &str,
        status: Option<&str>,
        page: &PageRequest,
    ) -> Result<Listing<ItemView>> {
        actor.require(REVIEW, Action::Read)?;
        let q = self.store.review_queue(&actor.workspace_id, queue).await?;
        let page = self.store.review_items(&q.id, status, page).await?;
        let mut items = Vec::new();
        for it in page.items {
            items.push(self.item_view(actor, &q, it, false).await?);
        }
        Ok(Listing { items, next_cursor: page.next_cursor })
    }

    pub async fn review_item(&self, actor: &Actor, id: &str) -> Result<ItemView> {
        actor.require(REVIEW, Action::Read)?;
        let item = self.store.review_item(&actor.workspace_id, id).await?;
        let q = self.store.review_queue(&actor.workspace_id, &item.queue_id).await?;
        self.item_view(actor, &q, item, true).await
    }

    /// The queue as a reviewer may work in it: open, and naming them if it names anyone.
    async fn workable_queue(&self, actor: &Actor, queue: &str) -> Result<ReviewQueue> {
        actor.require(REVIEW, Action::Write)?;
        let q = self.store.review_queue(&actor.workspace_id, queue).await?;
        let settings = settings_of(&q);
        if !settings.reviewers.is_empty() && !settings.reviewers.contains(&actor.username) && !actor.is_admin
        {
            let roles = actor.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
            return Err(DeskError::Forbidden {
                roles,
                action: "review in",
                area: format!("queue {}, which is open to {} only", q.name, settings.reviewers.join(", ")),
            });
        }
        if q.status != "open" {
            return Err(DeskError::Refused(format!("queue {} is closed", q.name)));
        }
        Ok(q)
    }

    /// The next item for this reviewer, held for them for the queue's reservation time; `None`
    /// when nothing is left for them.
    pub async fn next_review_item(&self, actor: &Actor, queue: &str) -> Result<Option<ItemView>> {
        let q = self.workable_queue(actor, queue).await?;
        let minutes = settings_of(&q).reservation_minutes;
        // Reservations are operational: they hold an item, they decide nothing.
        let mut tx = self.store.write_operational().await?;
        let item = tx.reserve_review_item(&q.id, &actor.user_id, minutes * 60_000).await?;
        tx.commit().await?;
        match item {
            Some(item) => Ok(Some(self.item_view(actor, &q, item, false).await?)),
            None => Ok(None),
        }
    }

    /// Records a reviewer's decision. The last of the N decisions an item needs settles it
    /// (majority of actions, the most cautious on a tie), in the same transaction, and queues
    /// the webhook if the queue or the gated call asked for one.
    pub async fn decide_review_item(
        &self,
        actor: &Actor,
        id: &str,
        req: &DecisionRequest,
    ) -> Result<DecisionOutcome> {
        let item = self.store.review_item(&actor.workspace_id, id).await?;
        let q = self.workable_queue(actor, &item.queue_id).await?;
        let settings = settings_of(&q);
        let original: Value = serde_json::from_str(&item.output).unwrap_or(Value::Null);
        let reason = req.reason.clone().unwrap_or_default();
        let needs_reason = |what: &str| -> Result<()> {
            if !settings.reason_codes.contains(&reason) {
                return Err(DeskError::invalid(format!(
                    "{what} needs a reason, one of {}; got {reason:?}",
                    settings.reason_codes.join(", ")
                )));
            }
            Ok(())
        };
        if let Some(s) = req.seconds
            && !(s.is_finite() && s >= 0.0)
        {
            return Err(DeskError::invalid("seconds must be a non-negative number"));
        }
        let (status, action, output, diff) = match req.action.as_str() {
            "approve" => {
                if req.output.is_some() {
                    return Err(DeskError::invalid("approve keeps the output as it is; to change it, edit"));
                }
                ("submitted", Some("approve"), None, None)
            }
            "reject" => {
                needs_reason("a rejection")?;
                ("submitted", Some("reject"), None, None)
            }
            "edit" => {
                needs_reason("an edit")?;
                let Some(corrected) = &req.output else {
                    return Err(DeskError::invalid("an edit needs the corrected output"));
                };
                if corrected == &original {
                    return Err(DeskError::invalid(
                        "the edited output is the same as the original; approve it instead",
                    ));
                }
                let diff =
                    juru_core::textdiff::diff_words(&display_text(&original), &display_text(corrected));
                let diff = serde_json::to_string(&diff).map_err(DeskError::internal)?;
                ("submitted", Some("edit"), Some(corrected.to_string()), Some(diff))
            }
            "skip" => ("skipped", None, None, None),
            other => {
                return Err(DeskError::invalid(format!(
                    "action must be approve, edit, reject or skip, got {other:?}"
                )));
            }
        };
        let mut tx = self.store.write().await?;
        let (decision, submitted) = tx
            .write_review_decision(&DecisionWrite {
                item: &item,
                reviewer: &actor.user_id,
                status,
                action,
                output,
                diff,
                reason: if action.is_some_and(|a| a != "approve") { &reason } else { "" },
                comment: &req.comment,
                seconds: req.seconds,
            })
            .await?;
        let mut settled = None;
        if action.is_some() && item.expected.is_none() && submitted >= item.needed {
            let decisions = tx.submitted_review_decisions(&item.id).await?;
            let (outcome, final_output, why) = outcome_of(&item, &decisions);
            settled = tx.settle_review_item(&item.id, outcome, final_output, &why).await?;
            if let Some(done) = &settled {
                self.queue_settled_webhook(&mut tx, &q, done, "reviewers").await?;
            }
        }
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "review.decide",
            object_kind: "review_item",
            object_id: &item.id,
            summary: json!({"queue": q.name, "action": req.action, "reason": decision.reason,
                            "trace": item.trace_id, "settled": settled.as_ref().map(|s| &s.status)}),
        })
        .await?;
        tx.commit().await?;
        if settled.is_some() {
            self.review_settled.notify_waiters();
            self.job_wakeup.notify_one();
        }
        let item = self.store.review_item(&actor.workspace_id, &item.id).await?;
        let names = self.usernames(vec![decision.reviewer.clone()]).await?;
        Ok(DecisionOutcome {
            decision: decision_view(decision, &names),
            item: self.item_view(actor, &q, item, true).await?,
        })
    }

    /// Lets go of the items this reviewer holds in a queue (closing the screen, a break).
    pub async fn release_review_items(&self, actor: &Actor, queue: &str) -> Result<u64> {
        let q = self.workable_queue(actor, queue).await?;
        let mut tx = self.store.write_operational().await?;
        let n = tx.release_review_reservations(&q.id, &actor.user_id).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn queue_view(&self, q: ReviewQueue) -> Result<QueueView> {
        let s = settings_of(&q);
        let counts = self.store.review_queue_counts(&q.id).await?;
        let rules = self.store.review_rules(&q.workspace_id, Some(&q.id)).await?;
        Ok(QueueView {
            id: q.id,
            name: q.name,
            description: q.description,
            instructions: q.instructions,
            reviewers_per_item: q.reviewers_per_item,
            reviewers: s.reviewers,
            reason_codes: s.reason_codes,
            reservation_minutes: s.reservation_minutes,
            sla_seconds: s.sla_seconds,
            sla_action: s.sla_action,
            fallback_text: s.fallback_text,
            webhook_url: s.webhook_url,
            status: q.status,
            counts,
            rules: rules.into_iter().map(rules::RuleView::from).collect(),
            created_by: q.created_by,
            created_at: format_ms(q.created_at),
        })
    }

    pub(crate) async fn item_view(
        &self,
        actor: &Actor,
        q: &ReviewQueue,
        item: ReviewItem,
        with_decisions: bool,
    ) -> Result<ItemView> {
        let sees_all = actor.is_admin || actor.roles.contains(&juru_core::Role::Admin);
        let decisions = if with_decisions {
            let all = self.store.review_decisions_of(&item.id).await?;
            let visible: Vec<ReviewDecision> = all
                .into_iter()
                .filter(|d| d.status != "reserved")
                .filter(|d| sees_all || item.status != "pending" || d.reviewer == actor.user_id)
                .collect();
            let names = self.usernames(visible.iter().map(|d| d.reviewer.clone()).collect()).await?;
            visible.into_iter().map(|d| decision_view(d, &names)).collect()
        } else {
            Vec::new()
        };
        let parse = |s: &str| serde_json::from_str(s).unwrap_or(Value::Null);
        let honeypot = item.expected.is_some();
        Ok(ItemView {
            id: item.id,
            queue: q.name.clone(),
            trace_id: item.trace_id,
            source: if honeypot && !sees_all { "manual".into() } else { item.source },
            input: parse(&item.input),
            output: parse(&item.output),
            model: item.model,
            model_version_id: item.model_version_id,
            prompt_version_id: item.prompt_version_id,
            confidence: item.confidence,
            metadata: parse(&item.metadata),
            needed: item.needed,
            submitted: item.submitted,
            status: item.status,
            final_output: item.final_output.as_deref().map(parse),
            outcome_reason: item.outcome_reason,
            gated: item.gated != 0,
            deadline: item.deadline.map(format_ms),
            decided_at: item.decided_at.map(format_ms),
            created_at: format_ms(item.created_at),
            decisions,
            expected: if sees_all { item.expected.as_deref().map(parse) } else { None },
        })
    }

    /// Queues the webhook of a settled item (the gated call's `callback_url`, else the queue's
    /// `webhook_url`) as a job in the transaction that settled it, so a crash loses neither.
    pub(crate) async fn queue_settled_webhook(
        &self,
        tx: &mut WriteTx,
        q: &ReviewQueue,
        item: &ReviewItem,
        by: &str,
    ) -> Result<()> {
        let Some(url) = item.callback_url.clone().or_else(|| settings_of(q).webhook_url) else {
            return Ok(());
        };
        let payload = gate::ticket_payload(q, item, by);
        let params = json!({"url": url, "event": "review.settled", "payload": payload});
        tx.insert_job(&q.workspace_id, gate::REVIEW_WEBHOOK, &params.to_string(), "system").await?;
        Ok(())
    }
}

/// The text a person reads for an output: a string as it is, anything else as pretty JSON.
pub(crate) fn display_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

fn check_sla(s: &Settings) -> Result<()> {
    if let Some(secs) = s.sla_seconds
        && !(1..=7 * 24 * 3600).contains(&secs)
    {
        return Err(DeskError::invalid("sla_seconds must be 1 to 604800 (7 days)"));
    }
    if !matches!(s.sla_action.as_str(), "release" | "block" | "fallback") {
        return Err(DeskError::invalid(format!(
            "sla_action must be release, block or fallback, got {:?}",
            s.sla_action
        )));
    }
    if s.sla_action == "fallback" && s.fallback_text.trim().is_empty() {
        return Err(DeskError::invalid("sla_action fallback needs a fallback_text"));
    }
    if let Some(u) = &s.webhook_url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        return Err(DeskError::invalid(format!("webhook_url must be an http:// or https:// URL, got {u:?}")));
    }
    Ok(())
}

/// How the submitted decisions settle an item: the action most reviewers chose (a tie goes to
/// the most cautious: reject, then edit), the output the caller may use (the original when
/// approved, the first edit when edited, none when rejected), and the reasons given.
pub(crate) fn outcome_of(
    item: &ReviewItem,
    decisions: &[ReviewDecision],
) -> (&'static str, Option<String>, String) {
    let count = |a: &str| decisions.iter().filter(|d| d.action.as_deref() == Some(a)).count();
    let best = ACTIONS
        .iter()
        .copied()
        .max_by_key(|a| (count(a), std::cmp::Reverse(ACTIONS.iter().position(|x| x == a))));
    let action = best.unwrap_or("reject");
    let agreeing: Vec<&ReviewDecision> =
        decisions.iter().filter(|d| d.action.as_deref() == Some(action)).collect();
    let mut reasons: Vec<&str> =
        agreeing.iter().map(|d| d.reason.as_str()).filter(|r| !r.is_empty()).collect();
    reasons.dedup();
    let why = reasons.join(", ");
    match action {
        "approve" => ("approved", Some(item.output.clone()), why),
        "edit" => ("edited", agreeing.first().and_then(|d| d.output.clone()), why),
        _ => ("rejected", None, why),
    }
}

fn decision_view(d: ReviewDecision, names: &HashMap<String, String>) -> DecisionView {
    let parse = |s: &str| serde_json::from_str(s).unwrap_or(Value::Null);
    DecisionView {
        id: d.id,
        item: d.item_id,
        reviewer: names.get(&d.reviewer).cloned().unwrap_or(d.reviewer),
        status: d.status,
        action: d.action,
        output: d.output.as_deref().map(parse),
        diff: d.diff.as_deref().map(parse),
        reason: d.reason,
        comment: d.comment,
        seconds: d.seconds,
        updated_at: format_ms(d.updated_at),
    }
}
