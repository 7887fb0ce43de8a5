//! The Prompt desk's prompts: text and chat templates with declared variables and model
//! settings, saved as immutable numbered versions with a content hash; labels (`production`,
//! `staging`, any name) that point at versions, every move and removal recorded, audited and
//! revertible; strict rendering; includes of other prompts by reference; diffs between versions.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;

use juru_core::prompt::{Problem, PromptSpec, Rendered, Template};
use juru_core::textdiff::{Run, diff_words};
use juru_core::timefmt::format_ms;
use juru_core::{Action, roles::Desk};
use juru_store::audit::NewAudit;
use juru_store::prompts::{NewPromptVersion, Promotion, Prompt, PromptVersion};
use juru_store::{WriteTx, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::views::Listing;
use crate::{Actor, DeskError, Desks, PageRequest, Result};

const PROMPTS: juru_core::Area = juru_core::Area::Desk(Desk::Prompts);
/// The label a fetch without one resolves to, when it is set.
pub const DEFAULT_LABEL: &str = "production";
/// Always the newest version; it cannot be moved.
pub const LATEST: &str = "latest";
/// Prompt versions kept in memory for delivery.
const VERSION_CACHE: usize = 4096;
/// How deep includes may nest.
const MAX_INCLUDE_DEPTH: usize = 5;

/// How often label moves are read back from the database for listeners.
const RELAY_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// How far back the relay looks: a move is written before its transaction commits, so it may
/// become visible a little after the time it carries.
const RELAY_WINDOW_MS: i64 = 10_000;

/// A new prompt and its first version.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePrompt {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// A string (text prompt) or a list of `{role, content}` messages (chat prompt).
    pub template: Template,
    #[schema(value_type = Object)]
    pub variables: Option<Value>,
    #[schema(value_type = Object)]
    pub config: Option<Value>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub labels: Vec<String>,
}

/// A new version of a prompt; absent variables and config are taken from the latest version.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVersion {
    /// A string (text prompt) or a list of `{role, content}` messages (chat prompt).
    pub template: Template,
    /// JSON Schema of the variables: `{"type": "object", "properties": {"nama": {"type":
    /// "string"}}, "required": ["nama"]}`.
    #[schema(value_type = Object)]
    pub variables: Option<Value>,
    /// Model settings: `model`, `temperature`, `max_tokens`, `top_p`, `stop`, …
    #[schema(value_type = Object)]
    pub config: Option<Value>,
    /// What changed.
    #[serde(default)]
    pub message: String,
    /// Labels to point at the new version.
    #[serde(default)]
    pub labels: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PromptView {
    pub id: String,
    pub name: String,
    /// `text` or `chat`.
    pub kind: String,
    pub description: String,
    pub latest: i64,
    /// Label → version.
    pub labels: BTreeMap<String, i64>,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionView {
    pub prompt: String,
    pub kind: String,
    pub version: i64,
    pub content_hash: String,
    pub template: Template,
    #[schema(value_type = Object)]
    pub variables: Value,
    #[schema(value_type = Object)]
    pub config: Value,
    pub includes: Vec<String>,
    /// The labels pointing at this version.
    pub labels: Vec<String>,
    pub author: String,
    pub message: String,
    pub created_at: String,
}

impl VersionView {
    /// A strong validator for HTTP caching: changes whenever the version a reference resolves
    /// to changes.
    pub fn etag(&self) -> String {
        format!("\"{}-v{}\"", &self.content_hash[..16], self.version)
    }
}

/// Moving a label.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveLabel {
    pub version: i64,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LabelMoveView {
    pub label: String,
    pub from_version: Option<i64>,
    /// None: the label was removed.
    pub to_version: Option<i64>,
    pub moved_by: String,
    pub reason: String,
    pub at: String,
}

/// What a label change did: moved it, or (for a protected label) asked a second person to.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabelChange {
    pub prompt: PromptView,
    /// The request waiting for approval, when the label is protected.
    pub request: Option<PromotionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionView {
    pub id: String,
    pub prompt: String,
    pub label: String,
    pub from_version: Option<i64>,
    /// None: remove the label.
    pub to_version: Option<i64>,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub requester: String,
    pub reason: String,
    pub decided_by: Option<String>,
    pub decision_note: String,
    pub decided_at: Option<String>,
    pub created_at: String,
    /// The eval run that must pass before approval, when the label names a suite.
    pub eval_run_id: Option<String>,
}

fn promotion_view(prompt: &str, p: Promotion) -> PromotionView {
    PromotionView {
        id: p.id,
        prompt: prompt.to_owned(),
        label: p.label,
        from_version: p.from_version,
        to_version: p.to_version,
        status: p.status,
        requester: p.requester,
        reason: p.reason,
        decided_by: p.decided_by,
        decision_note: p.decision_note,
        decided_at: p.decided_at.map(format_ms),
        created_at: format_ms(p.created_at),
        eval_run_id: p.eval_run_id,
    }
}

/// A label now points somewhere else (or nowhere): what listening clients are told.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PromptEvent {
    #[serde(skip)]
    pub workspace_id: String,
    pub prompt: String,
    pub label: String,
    /// None: the label was removed.
    pub version: Option<i64>,
    pub at: String,
}

/// Rendering a prompt version with values for its variables.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderRequest {
    pub label: Option<String>,
    pub version: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RenderView {
    pub prompt: String,
    pub version: i64,
    pub rendered: Rendered,
    #[schema(value_type = Object)]
    pub config: Value,
}

/// What changed between two versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct PromptDiff {
    pub prompt: String,
    pub from: i64,
    pub to: i64,
    /// Per template part (`template`, `messages[0].content`, `messages[2].role`): word runs
    /// `[{"op": "keep" | "remove" | "add", "text"}]`.
    #[schema(value_type = Object)]
    pub template: BTreeMap<String, Vec<Run>>,
    pub variables_changed: bool,
    pub config_changed: bool,
    #[schema(value_type = Object)]
    pub variables: (Value, Value),
    #[schema(value_type = Object)]
    pub config: (Value, Value),
}

/// Writes a checked version and points the labels asked for at it, in `tx`.
async fn write_version(
    tx: &mut WriteTx,
    actor: &Actor,
    prompt: &Prompt,
    new: &NewPromptVersion,
    labels: &[String],
) -> Result<PromptVersion> {
    let v = tx.insert_prompt_version(&prompt.id, new).await?;
    for label in labels {
        tx.move_prompt_label(
            &prompt.id,
            label,
            Some(v.version),
            &actor.audit_name(),
            "saved with the version",
        )
        .await?;
    }
    Ok(v)
}

/// Job kind that POSTs a label move to a prompt webhook (with retries).
pub const PROMPT_WEBHOOK: &str = "prompt.webhook";

/// Queues a delivery to every prompt webhook, in the transaction that moves the label, so that
/// a crash loses neither the move nor its notice.
async fn queue_label_webhooks(
    tx: &mut WriteTx,
    workspace_id: &str,
    prompt: &str,
    label: &str,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<()> {
    for url in tx.prompt_webhook_urls(workspace_id).await? {
        let payload = json!({"event": "prompt.label.moved", "prompt": prompt, "label": label,
                             "from_version": from, "version": to, "at": format_ms(now_ms())});
        let params = json!({"url": url, "event": "prompt.label.moved", "payload": payload});
        tx.insert_job(workspace_id, PROMPT_WEBHOOK, &params.to_string(), "system").await?;
    }
    Ok(())
}

pub(crate) fn problems(list: &[Problem]) -> DeskError {
    let text = list.iter().map(Problem::to_string).collect::<Vec<_>>().join("; ");
    DeskError::invalid(format!("{} problem(s): {text}", list.len()))
}

fn kind_of(t: &Template) -> &'static str {
    match t {
        Template::Text(_) => "text",
        Template::Chat(_) => "chat",
    }
}

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

/// The template parts of a version as (where, text) for diffs.
fn part_texts(t: &Template) -> BTreeMap<String, String> {
    match t {
        Template::Text(s) => BTreeMap::from([("template".to_string(), s.clone())]),
        Template::Chat(m) => m
            .iter()
            .enumerate()
            .flat_map(|(i, m)| {
                [
                    (format!("messages[{i}].role"), m.role.clone()),
                    (format!("messages[{i}].content"), m.content.clone()),
                ]
            })
            .collect(),
    }
}

impl Desks {
    pub async fn create_prompt(&self, actor: &Actor, req: &CreatePrompt) -> Result<VersionView> {
        actor.require(PROMPTS, Action::Write)?;
        let first = NewVersion {
            template: req.template.clone(),
            variables: req.variables.clone(),
            config: req.config.clone(),
            message: req.message.clone(),
            labels: req.labels.clone(),
        };
        let req_version = &first;
        juru_core::names::validate_name("prompt name", &req.name)?;
        if req.name == "events" {
            return Err(DeskError::invalid("events is reserved: /prompts/events streams label moves"));
        }
        let prompt = Prompt {
            id: juru_core::ids::new_id(),
            workspace_id: actor.workspace_id.clone(),
            name: req.name.clone(),
            kind: kind_of(&req_version.template).into(),
            description: req.description.clone(),
            latest: 0,
            created_by: actor.audit_name(),
            created_at: now_ms(),
        };
        let spec = PromptSpec {
            template: req_version.template.clone(),
            variables: req_version
                .variables
                .clone()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            config: req_version.config.clone().unwrap_or_else(|| json!({})),
        };
        let new = self.checked_version(actor, &prompt, &spec, req_version).await?;
        let mut tx = self.store.write().await?;
        tx.insert_prompt(&prompt).await?;
        let v = write_version(&mut tx, actor, &prompt, &new, &req_version.labels).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "prompt.create",
            object_kind: "prompt",
            object_id: &prompt.id,
            summary: json!({"after": {"name": prompt.name, "kind": prompt.kind, "version": 1,
                                      "content_hash": v.content_hash, "labels": req_version.labels}}),
        })
        .await?;
        tx.commit().await?;
        self.version_view(&prompt, v).await
    }

    /// Saves a new immutable version. A version identical to the latest is refused.
    pub async fn add_prompt_version(
        &self,
        actor: &Actor,
        name: &str,
        req: &NewVersion,
    ) -> Result<VersionView> {
        actor.require(PROMPTS, Action::Write)?;
        let prompt = self.store.prompt(&actor.workspace_id, name).await?;
        if kind_of(&req.template) != prompt.kind {
            return Err(DeskError::invalid(format!(
                "prompt {} is a {} prompt; a version cannot change it to {}",
                prompt.name,
                prompt.kind,
                kind_of(&req.template)
            )));
        }
        let latest = self.store.prompt_version(&prompt.id, prompt.latest).await?;
        let spec = PromptSpec {
            template: req.template.clone(),
            variables: req.variables.clone().unwrap_or_else(|| parse(&latest.variables)),
            config: req.config.clone().unwrap_or_else(|| parse(&latest.config)),
        };
        let new = self.checked_version(actor, &prompt, &spec, req).await?;
        if new.content_hash == latest.content_hash {
            return Err(DeskError::Conflict {
                kind: "identical prompt version",
                key: format!("{}@{}", prompt.name, latest.version),
            });
        }
        let mut tx = self.store.write().await?;
        let v = write_version(&mut tx, actor, &prompt, &new, &req.labels).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "prompt.version.create",
            object_kind: "prompt",
            object_id: &prompt.id,
            summary: json!({"prompt": prompt.name, "after": {"version": v.version, "content_hash": v.content_hash,
                            "message": v.message, "labels": req.labels}}),
        })
        .await?;
        tx.commit().await?;
        self.version_view(&prompt, v).await
    }

    /// Checks a version before it is saved: every problem of the template, variables and
    /// settings at once, label names, and that every include names an existing text prompt.
    async fn checked_version(
        &self,
        actor: &Actor,
        prompt: &Prompt,
        spec: &PromptSpec,
        req: &NewVersion,
    ) -> Result<NewPromptVersion> {
        let mut found = spec.check();
        let protected = self.store.protected_labels(&actor.workspace_id).await?;
        for label in &req.labels {
            if protected.contains(label) {
                found.push(Problem {
                    at: "labels".into(),
                    line: None,
                    column: None,
                    message: format!("{label} is protected: save the version, then ask for the move"),
                });
            } else if label == LATEST {
                found.push(Problem {
                    at: "labels".into(),
                    line: None,
                    column: None,
                    message: "latest is set by Juru itself".into(),
                });
            } else if let Err(e) = juru_core::names::validate_name("label", label) {
                found.push(Problem { at: "labels".into(), line: None, column: None, message: e.to_string() });
            }
        }
        for r in spec.includes() {
            let (name, _) = r.split_once('@').unwrap_or((&r, ""));
            if name == prompt.name {
                found.push(Problem {
                    at: "template".into(),
                    line: None,
                    column: None,
                    message: format!("includes itself ({r:?})"),
                });
                continue;
            }
            if let Err(e) = self.resolve_prompt(actor, &r).await {
                found.push(Problem {
                    at: "template".into(),
                    line: None,
                    column: None,
                    message: format!("include {r:?}: {e}"),
                });
            }
        }
        if !found.is_empty() {
            return Err(problems(&found));
        }
        let to_text = |v: &Value| v.to_string();
        Ok(NewPromptVersion {
            content_hash: spec.content_hash(),
            template: serde_json::to_string(&spec.template).map_err(DeskError::internal)?,
            variables: to_text(&spec.variables),
            config: to_text(&spec.config),
            includes: to_text(&json!(spec.includes())),
            author: actor.audit_name(),
            message: req.message.clone(),
        })
    }

    /// Resolves `name`, `name@3`, `name@label` (plain `name`: `production` if set, else the
    /// newest).
    pub(crate) async fn resolve_prompt(
        &self,
        actor: &Actor,
        reference: &str,
    ) -> Result<(Prompt, PromptVersion)> {
        let (p, v, _) = self.resolve_with_labels(actor, reference).await?;
        Ok((p, v))
    }

    /// Resolves a reference, also returning the prompt's labels (read once: delivery is hot).
    async fn resolve_with_labels(
        &self,
        actor: &Actor,
        reference: &str,
    ) -> Result<(Prompt, PromptVersion, Vec<juru_store::prompts::PromptLabel>)> {
        let (name, at) = match reference.split_once('@') {
            Some((n, a)) => (n, Some(a)),
            None => (reference, None),
        };
        let (prompt, labels) = self.store.prompt_with_labels(&actor.workspace_id, name).await?;
        let labelled = |l: &str| labels.iter().find(|x| x.label == l).map(|x| x.version);
        let version = match at {
            Some(a) if a.parse::<i64>().is_ok() => a.parse::<i64>().unwrap_or_default(),
            Some(LATEST) => prompt.latest,
            Some(label) => labelled(label).ok_or_else(|| DeskError::NotFound {
                kind: "prompt label",
                key: format!("{name}@{label}"),
            })?,
            None => labelled(DEFAULT_LABEL).unwrap_or(prompt.latest),
        };
        let v = self.cached_prompt_version(&prompt.id, version).await?;
        Ok((prompt, v, labels))
    }

    /// A version from the in-process cache (versions never change), else from the store.
    async fn cached_prompt_version(&self, prompt_id: &str, version: i64) -> Result<PromptVersion> {
        let key = (prompt_id.to_owned(), version);
        if let Some(v) = self.prompt_versions.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(v);
        }
        let v = self.store.prompt_version(prompt_id, version).await?;
        if let Ok(mut cache) = self.prompt_versions.lock() {
            if cache.len() >= VERSION_CACHE {
                cache.clear();
            }
            cache.insert(key, v.clone());
        }
        Ok(v)
    }

    /// A prompt version by label or number (neither: `production` when set, else the newest).
    pub async fn fetch_prompt(
        &self,
        actor: &Actor,
        name: &str,
        label: Option<&str>,
        version: Option<i64>,
    ) -> Result<VersionView> {
        actor.require(PROMPTS, Action::Read)?;
        let reference = match (label, version) {
            (Some(_), Some(_)) => return Err(DeskError::invalid("give a label or a version, not both")),
            (Some(l), None) => format!("{name}@{l}"),
            (None, Some(v)) => format!("{name}@{v}"),
            (None, None) => name.to_owned(),
        };
        let (p, v, labels) = self.resolve_with_labels(actor, &reference).await?;
        version_view_with(&p, v, labels)
    }

    pub async fn prompts(&self, actor: &Actor, page: &PageRequest) -> Result<Listing<PromptView>> {
        actor.require(PROMPTS, Action::Read)?;
        let page = self.store.prompts(&actor.workspace_id, page).await?;
        let mut items = Vec::new();
        for p in page.items {
            items.push(self.prompt_view(p).await?);
        }
        Ok(Listing { items, next_cursor: page.next_cursor })
    }

    pub async fn prompt_versions(&self, actor: &Actor, name: &str) -> Result<Vec<VersionView>> {
        actor.require(PROMPTS, Action::Read)?;
        let p = self.store.prompt(&actor.workspace_id, name).await?;
        let mut out = Vec::new();
        for v in self.store.prompt_versions(&p.id).await? {
            out.push(self.version_view(&p, v).await?);
        }
        Ok(out)
    }

    /// Points a label at a version; audited, and kept in the label's history.
    pub async fn move_prompt_label(
        &self,
        actor: &Actor,
        name: &str,
        label: &str,
        req: &MoveLabel,
    ) -> Result<LabelChange> {
        actor.require(PROMPTS, Action::Write)?;
        if label == LATEST {
            return Err(DeskError::invalid("latest always points at the newest version; it cannot be moved"));
        }
        juru_core::names::validate_name("label", label)?;
        let p = self.store.prompt(&actor.workspace_id, name).await?;
        self.store.prompt_version(&p.id, req.version).await?;
        self.change_label(actor, &p, label, Some(req.version), &req.reason, "prompt.label.move").await
    }

    /// Removes a label; audited and revertible like a move.
    pub async fn remove_prompt_label(
        &self,
        actor: &Actor,
        name: &str,
        label: &str,
        reason: &str,
    ) -> Result<LabelChange> {
        actor.require(PROMPTS, Action::Write)?;
        let p = self.store.prompt(&actor.workspace_id, name).await?;
        if !self.store.prompt_labels(&p.id).await?.iter().any(|l| l.label == label) {
            return Err(DeskError::NotFound { kind: "prompt label", key: format!("{name}@{label}") });
        }
        self.change_label(actor, &p, label, None, reason, "prompt.label.remove").await
    }

    /// Undoes a label's last move (a removal included): it points where it pointed before.
    pub async fn revert_prompt_label(
        &self,
        actor: &Actor,
        name: &str,
        label: &str,
        reason: &str,
    ) -> Result<LabelChange> {
        actor.require(PROMPTS, Action::Write)?;
        let p = self.store.prompt(&actor.workspace_id, name).await?;
        let moves = self.store.prompt_label_moves(&p.id, label).await?;
        let Some(last) = moves.first() else {
            return Err(DeskError::NotFound { kind: "prompt label", key: format!("{name}@{label}") });
        };
        let reason = if reason.is_empty() {
            format!("revert of the move to {:?}", last.to_version)
        } else {
            reason.to_owned()
        };
        self.change_label(actor, &p, label, last.from_version, &reason, "prompt.label.revert").await
    }

    /// Moves a label, or, when the workspace protects it, records a request that a second
    /// person must approve.
    async fn change_label(
        &self,
        actor: &Actor,
        p: &Prompt,
        label: &str,
        to: Option<i64>,
        reason: &str,
        action: &str,
    ) -> Result<LabelChange> {
        if !self.store.protected_labels(&actor.workspace_id).await?.iter().any(|l| l == label) {
            let prompt = self.record_label_move(actor, p, label, to, reason, action).await?;
            return Ok(LabelChange { prompt, request: None });
        }
        let from =
            self.store.prompt_labels(&p.id).await?.into_iter().find(|l| l.label == label).map(|l| l.version);
        let request = Promotion {
            id: juru_core::ids::new_id(),
            prompt_id: p.id.clone(),
            label: label.to_owned(),
            from_version: from,
            to_version: to,
            status: "pending".into(),
            requested_by: actor.user_id.clone(),
            requester: actor.audit_name(),
            reason: reason.to_owned(),
            decided_by: None,
            decision_note: String::new(),
            decided_at: None,
            created_at: now_ms(),
            eval_run_id: None,
        };
        let mut tx = self.store.write().await?;
        tx.insert_promotion(&request).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "prompt.label.request",
            object_kind: "prompt",
            object_id: &p.id,
            summary: json!({"prompt": p.name, "label": label, "before": {"version": from}, "after": {"version": to},
                            "request": request.id, "reason": reason, "for": action}),
        })
        .await?;
        tx.commit().await?;
        let request = match (to, self.gate_suite(actor, &p.name, label).await?) {
            (Some(version), Some(suite)) => {
                match self
                    .create_eval_run(actor, &suite, Some((&p.name, version)), None, Some(&request.id), true)
                    .await
                {
                    Ok(_) => self.store.promotion(&p.id, &request.id).await?,
                    Err(e) => {
                        // A suite that cannot run cannot pass: the request ends here, saying why.
                        let note = format!("suite {:?} could not start: {e}", suite.name);
                        let mut tx = self.store.write().await?;
                        tx.decide_promotion(&request.id, "rejected", "juru", &note).await?;
                        tx.audit(NewAudit {
                            workspace_id: Some(&actor.workspace_id),
                            actor: "juru",
                            action: "prompt.label.reject",
                            object_kind: "prompt",
                            object_id: &p.id,
                            summary: json!({"prompt": p.name, "label": label, "request": request.id, "note": note}),
                        })
                        .await?;
                        tx.commit().await?;
                        return Err(e);
                    }
                }
            }
            _ => request,
        };
        Ok(LabelChange {
            prompt: self.prompt_view(self.store.prompt(&actor.workspace_id, &p.id).await?).await?,
            request: Some(promotion_view(&p.name, request)),
        })
    }

    /// The suite a move of `prompt` to `label` must pass, when the label names one that tests
    /// the prompt.
    async fn gate_suite(
        &self,
        actor: &Actor,
        prompt: &str,
        label: &str,
    ) -> Result<Option<juru_core::eval::Suite>> {
        let Some(name) = self
            .store
            .protected_label_suites(&actor.workspace_id)
            .await?
            .into_iter()
            .find(|l| l.label == label)
            .and_then(|l| l.suite)
        else {
            return Ok(None);
        };
        let suite =
            crate::eval::parse_suite(&self.store.eval_suite(&actor.workspace_id, &name).await?.definition)?;
        let tests_it =
            suite.prompts.iter().any(|r| r.split_once('@').map_or(r.as_str(), |(n, _)| n) == prompt);
        Ok(tests_it.then_some(suite))
    }

    /// A second person approves (or anyone with the right rejects, the requester withdraws) a
    /// protected label's move. Approval moves the label if it still points where it did when
    /// the request was made.
    pub async fn decide_prompt_promotion(
        &self,
        actor: &Actor,
        name: &str,
        id: &str,
        approve: bool,
        note: &str,
    ) -> Result<LabelChange> {
        actor.require(PROMPTS, Action::Write)?;
        let p = self.store.prompt(&actor.workspace_id, name).await?;
        let request = self.store.promotion(&p.id, id).await?;
        if approve && request.requested_by == actor.user_id {
            let roles = actor.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
            return Err(DeskError::Forbidden {
                roles,
                action: "approve",
                area: "their own request: a second person must".into(),
            });
        }
        let now_at = self
            .store
            .prompt_labels(&p.id)
            .await?
            .into_iter()
            .find(|l| l.label == request.label)
            .map(|l| l.version);
        if approve && now_at != request.from_version {
            return Err(DeskError::Refused(format!(
                "{}@{} has moved since the request (it was {:?}, it is {:?}); ask again",
                p.name, request.label, request.from_version, now_at
            )));
        }
        if approve && let Some(run_id) = &request.eval_run_id {
            let run = self.store.eval_run(&actor.workspace_id, run_id).await?;
            let at = request.to_version.map(|v| format!("v{v}")).unwrap_or_default();
            match run.status.as_str() {
                "passed" => {}
                "queued" | "running" => {
                    return Err(DeskError::Refused(format!(
                        "suite {:?} is still running on {}@{at} ({} of {} done, run {}); approve when it has passed",
                        run.suite_name, p.name, run.done, run.cells, run.id
                    )));
                }
                other => {
                    return Err(DeskError::Refused(format!(
                        "suite {:?} {other} on {}@{at} (run {}): {}; the move cannot be approved",
                        run.suite_name, p.name, run.id, run.message
                    )));
                }
            }
        }
        let status = if approve { "approved" } else { "rejected" };
        let mut tx = self.store.write().await?;
        let Some(decided) = tx.decide_promotion(&request.id, status, &actor.audit_name(), note).await? else {
            return Err(DeskError::Refused(format!("the request is already {}", request.status)));
        };
        if approve {
            let why = format!(
                "approved by {}, asked by {}: {}",
                actor.audit_name(),
                request.requester,
                request.reason
            );
            tx.move_prompt_label(&p.id, &request.label, request.to_version, &actor.audit_name(), &why)
                .await?;
            queue_label_webhooks(
                &mut tx,
                &actor.workspace_id,
                &p.name,
                &request.label,
                now_at,
                request.to_version,
            )
            .await?;
        }
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: if approve { "prompt.label.approve" } else { "prompt.label.reject" },
            object_kind: "prompt",
            object_id: &p.id,
            summary: json!({"prompt": p.name, "label": request.label, "request": request.id, "requester": request.requester,
                            "before": {"version": request.from_version}, "after": {"version": request.to_version},
                            "note": note}),
        })
        .await?;
        tx.commit().await?;
        if approve {
            self.job_wakeup.notify_one();
        }
        Ok(LabelChange {
            prompt: self.prompt_view(self.store.prompt(&actor.workspace_id, &p.id).await?).await?,
            request: Some(promotion_view(&p.name, decided)),
        })
    }

    pub async fn prompt_promotions(&self, actor: &Actor, name: &str) -> Result<Vec<PromotionView>> {
        actor.require(PROMPTS, Action::Read)?;
        let p = self.store.prompt(&actor.workspace_id, name).await?;
        Ok(self.store.promotions(&p.id).await?.into_iter().map(|r| promotion_view(&p.name, r)).collect())
    }

    /// The workspace's protected labels: moving one takes a second person's approval.
    pub async fn protected_prompt_labels(&self, actor: &Actor) -> Result<Vec<String>> {
        actor.require(PROMPTS, Action::Read)?;
        Ok(self.store.protected_labels(&actor.workspace_id).await?)
    }

    /// Protects a label or lifts the protection (workspace administrators).
    /// With `suite`, a move of a prompt that the suite tests also needs the suite to pass on
    /// the candidate version: the request starts a run, and approval waits for it.
    pub async fn protect_prompt_label(
        &self,
        actor: &Actor,
        label: &str,
        protect: bool,
        suite: Option<&str>,
    ) -> Result<Vec<String>> {
        actor.require(juru_core::Area::Members, Action::Write)?;
        juru_core::names::validate_name("label", label)?;
        if label == LATEST {
            return Err(DeskError::invalid(
                "latest cannot be protected: it always points at the newest version",
            ));
        }
        if let Some(name) = suite {
            self.store.eval_suite(&actor.workspace_id, name).await?;
        }
        let mut tx = self.store.write().await?;
        let changed =
            tx.set_protected_label(&actor.workspace_id, label, protect, suite, &actor.audit_name()).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: if protect { "prompt.label.protect" } else { "prompt.label.unprotect" },
            object_kind: "prompt_label",
            object_id: label,
            summary: json!({"label": label, "changed": changed, "suite": suite}),
        })
        .await?;
        tx.commit().await?;
        Ok(self.store.protected_labels(&actor.workspace_id).await?)
    }

    async fn record_label_move(
        &self,
        actor: &Actor,
        p: &Prompt,
        label: &str,
        to: Option<i64>,
        reason: &str,
        action: &str,
    ) -> Result<PromptView> {
        let mut tx = self.store.write().await?;
        let from = tx.move_prompt_label(&p.id, label, to, &actor.audit_name(), reason).await?;
        queue_label_webhooks(&mut tx, &actor.workspace_id, &p.name, label, from, to).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action,
            object_kind: "prompt",
            object_id: &p.id,
            summary: json!({"prompt": p.name, "label": label, "before": {"version": from}, "after": {"version": to},
                            "reason": reason}),
        })
        .await?;
        tx.commit().await?;
        self.job_wakeup.notify_one();
        self.prompt_view(self.store.prompt(&actor.workspace_id, &p.id).await?).await
    }

    /// The workspace's prompt webhooks: every label move is POSTed to each.
    pub async fn prompt_webhooks(&self, actor: &Actor) -> Result<Vec<String>> {
        actor.require(PROMPTS, Action::Read)?;
        Ok(self.store.prompt_webhooks(&actor.workspace_id).await?)
    }

    /// Adds or removes a prompt webhook (workspace administrators).
    pub async fn set_prompt_webhook(&self, actor: &Actor, url: &str, on: bool) -> Result<Vec<String>> {
        actor.require(juru_core::Area::Members, Action::Write)?;
        let parsed =
            reqwest::Url::parse(url).map_err(|e| DeskError::invalid(format!("webhook url {url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(DeskError::invalid(format!("webhook url {url:?} must be http or https")));
        }
        let mut tx = self.store.write().await?;
        let changed = tx.set_prompt_webhook(&actor.workspace_id, url, on, &actor.audit_name()).await?;
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: if on { "prompt.webhook.add" } else { "prompt.webhook.remove" },
            object_kind: "prompt_webhook",
            object_id: url,
            summary: json!({"url": url, "changed": changed}),
        })
        .await?;
        tx.commit().await?;
        Ok(self.store.prompt_webhooks(&actor.workspace_id).await?)
    }

    /// Tells listening clients that a label moved.
    /// Label moves in the actor's workspace as they happen (for server-sent events), whichever
    /// process made them: while anyone listens, a task reads the recent moves from the database
    /// every [`RELAY_EVERY`] and sends each new one once.
    pub fn prompt_events(&self, actor: &Actor) -> Result<tokio::sync::broadcast::Receiver<PromptEvent>> {
        actor.require(PROMPTS, Action::Read)?;
        let rx = self.prompt_events.subscribe();
        if !self.relaying.swap(true, Ordering::AcqRel) {
            tokio::spawn(self.clone().relay_label_moves(now_ms()));
        }
        Ok(rx)
    }

    /// Sends label moves to `prompt_events` until nobody listens, but not those written before
    /// `from` that are already there when it starts.
    async fn relay_label_moves(self, from: i64) {
        // Moves already relayed (or older than the first listener), by id, with when they were
        // written.
        let mut sent: HashMap<String, i64> = HashMap::new();
        let mut first = true;
        loop {
            let since = now_ms() - RELAY_WINDOW_MS;
            match self.store.label_moves_since(since).await {
                Ok(moves) => {
                    for m in moves {
                        if sent.insert(m.id, m.created_at).is_some() {
                            continue;
                        }
                        // Only the first reading can hold moves from before anyone listened;
                        // later ones are new whatever time the writer's clock gave them.
                        if first && m.created_at < from {
                            continue;
                        }
                        // Nobody listening is not an error.
                        let _ = self.prompt_events.send(PromptEvent {
                            workspace_id: m.workspace_id,
                            prompt: m.prompt,
                            label: m.label,
                            version: m.to_version,
                            at: format_ms(m.created_at),
                        });
                    }
                    first = false;
                }
                Err(e) => tracing::warn!(error = %e, "reading label moves to relay"),
            }
            sent.retain(|_, at| *at >= now_ms() - RELAY_WINDOW_MS);
            if self.prompt_events.receiver_count() == 0 {
                self.relaying.store(false, Ordering::Release);
                // Someone may have subscribed between the count and the store, seen the flag
                // still set and started nothing: keep going for them unless another task has.
                if self.prompt_events.receiver_count() == 0 || self.relaying.swap(true, Ordering::AcqRel) {
                    return;
                }
            }
            tokio::time::sleep(RELAY_EVERY).await;
        }
    }

    pub async fn prompt_label_history(
        &self,
        actor: &Actor,
        name: &str,
        label: &str,
    ) -> Result<Vec<LabelMoveView>> {
        actor.require(PROMPTS, Action::Read)?;
        let p = self.store.prompt(&actor.workspace_id, name).await?;
        Ok(self
            .store
            .prompt_label_moves(&p.id, label)
            .await?
            .into_iter()
            .map(|m| LabelMoveView {
                label: m.label,
                from_version: m.from_version,
                to_version: m.to_version,
                moved_by: m.moved_by,
                reason: m.reason,
                at: format_ms(m.created_at),
            })
            .collect())
    }

    /// Renders a version strictly with the given values, its includes resolved.
    pub async fn render_prompt(&self, actor: &Actor, name: &str, req: &RenderRequest) -> Result<RenderView> {
        let v = self.fetch_prompt(actor, name, req.label.as_deref(), req.version).await?;
        let (_, _, spec, included) = self.prompt_material(actor, &format!("{name}@{}", v.version)).await?;
        let rendered = spec.render(&req.variables, &included).map_err(|p| problems(&p))?;
        Ok(RenderView { prompt: v.prompt, version: v.version, rendered, config: v.config })
    }

    /// A version's content and the text of every prompt it includes, nested includes too.
    pub(crate) async fn prompt_material(
        &self,
        actor: &Actor,
        reference: &str,
    ) -> Result<(Prompt, PromptVersion, PromptSpec, HashMap<String, String>)> {
        actor.require(PROMPTS, Action::Read)?;
        let (p, v) = self.resolve_prompt(actor, reference).await?;
        let spec = PromptSpec {
            template: serde_json::from_str(&v.template).map_err(DeskError::internal)?,
            variables: parse(&v.variables),
            config: parse(&v.config),
        };
        let mut included = HashMap::new();
        let mut pending: Vec<(String, usize)> = serde_json::from_str::<Vec<String>>(&v.includes)
            .unwrap_or_default()
            .into_iter()
            .map(|r| (r, 1))
            .collect();
        while let Some((r, depth)) = pending.pop() {
            if included.contains_key(&r) {
                continue;
            }
            if depth > MAX_INCLUDE_DEPTH {
                return Err(DeskError::invalid(format!(
                    "includes nest deeper than {MAX_INCLUDE_DEPTH} (at {r:?})"
                )));
            }
            let (ip, iv) = self.resolve_prompt(actor, &r).await?;
            let Ok(Template::Text(text)) = serde_json::from_str::<Template>(&iv.template) else {
                return Err(DeskError::invalid(format!(
                    "include {r:?}: {} is a chat prompt; only text prompts can be included",
                    ip.name
                )));
            };
            for inner in serde_json::from_str::<Vec<String>>(&iv.includes).unwrap_or_default() {
                pending.push((inner, depth + 1));
            }
            included.insert(r, text);
        }
        Ok((p, v, spec, included))
    }

    /// Word differences between two versions, per template part, and whether the variables or
    /// settings changed.
    pub async fn diff_prompt_versions(
        &self,
        actor: &Actor,
        name: &str,
        from: i64,
        to: i64,
    ) -> Result<PromptDiff> {
        actor.require(PROMPTS, Action::Read)?;
        let p = self.store.prompt(&actor.workspace_id, name).await?;
        let (a, b) =
            (self.store.prompt_version(&p.id, from).await?, self.store.prompt_version(&p.id, to).await?);
        let ta: Template = serde_json::from_str(&a.template).map_err(DeskError::internal)?;
        let tb: Template = serde_json::from_str(&b.template).map_err(DeskError::internal)?;
        let (pa, pb) = (part_texts(&ta), part_texts(&tb));
        let mut template = BTreeMap::new();
        for key in pa.keys().chain(pb.keys()) {
            let (x, y) = (
                pa.get(key).map(String::as_str).unwrap_or(""),
                pb.get(key).map(String::as_str).unwrap_or(""),
            );
            template.entry(key.clone()).or_insert_with(|| diff_words(x, y));
        }
        let (va, vb) = (parse(&a.variables), parse(&b.variables));
        let (ca, cb) = (parse(&a.config), parse(&b.config));
        Ok(PromptDiff {
            prompt: p.name,
            from,
            to,
            template,
            variables_changed: va != vb,
            config_changed: ca != cb,
            variables: (va, vb),
            config: (ca, cb),
        })
    }

    async fn prompt_view(&self, p: Prompt) -> Result<PromptView> {
        let labels =
            self.store.prompt_labels(&p.id).await?.into_iter().map(|l| (l.label, l.version)).collect();
        Ok(PromptView {
            id: p.id,
            name: p.name,
            kind: p.kind,
            description: p.description,
            latest: p.latest,
            labels,
            created_by: p.created_by,
            created_at: format_ms(p.created_at),
        })
    }

    async fn version_view(&self, p: &Prompt, v: PromptVersion) -> Result<VersionView> {
        version_view_with(p, v, self.store.prompt_labels(&p.id).await?)
    }
}

/// A version as the API shows it, with the labels that point at it (`labels`: all of the
/// prompt's).
fn version_view_with(
    p: &Prompt,
    v: PromptVersion,
    labels: Vec<juru_store::prompts::PromptLabel>,
) -> Result<VersionView> {
    let mut labels: Vec<String> =
        labels.into_iter().filter(|l| l.version == v.version).map(|l| l.label).collect();
    // `p` may have been read before `v` was added: the newest is whichever is higher.
    if v.version == p.latest.max(v.version) {
        labels.push(LATEST.into());
    }
    Ok(VersionView {
        prompt: p.name.clone(),
        kind: p.kind.clone(),
        version: v.version,
        content_hash: v.content_hash,
        template: serde_json::from_str(&v.template).map_err(DeskError::internal)?,
        variables: parse(&v.variables),
        config: parse(&v.config),
        includes: serde_json::from_str(&v.includes).unwrap_or_default(),
        labels,
        author: v.author,
        message: v.message,
        created_at: format_ms(v.created_at),
    })
}
